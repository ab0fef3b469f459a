/* RoPE frequencies and the attention scale of a model config: plain RoPE, or YaRN
 * (Peng et al. 2023, "YaRN: Efficient Context Window Extension of Large Language Models")
 * with the parameters DeepSeek-V3's config carries (rope_scaling: factor s,
 * original_max_position_embeddings L, beta_fast (the paper's beta), beta_slow (its alpha),
 * mscale, mscale_all_dim):
 *   theta_i = base^(-2i/d)                      the original frequencies (i < d/2)
 *   r(rot)  = the dimension index whose wavelength 2 pi / theta_i fits rot turns into L:
 *             d ln(L / (2 pi rot)) / (2 ln base)
 *   low = max(floor(r(beta_fast)), 0), high = min(ceil(r(beta_slow)), d - 1)
 *   gamma_i = clamp((i - low) / (high - low), 0, 1)
 *   freq_i  = theta_i / s * gamma_i + theta_i * (1 - gamma_i)
 *   m(s, k) = 0.1 k ln s + 1 (s > 1), else 1
 * The paper's "NTK-by-parts" interpolation (pairs turning more than beta_fast times in L
 * keep their frequency, fewer than beta_slow are interpolated by s, a ramp between) with the ramp taken
 * linearly over the pair index, as the YaRN authors' code, DeepSeek-V3's and llama.cpp's do;
 * m is the paper's attention temperature sqrt(1/t) = 0.1 ln s + 1 with DeepSeek's multipliers.
 * cos and sin are scaled by m(s, mscale) / m(s, mscale_all_dim), and the softmax scale
 * 1/sqrt(d_qk) by m(s, mscale_all_dim)^2 when mscale_all_dim is non-zero: DeepSeek-V3's
 * split of the paper's attention temperature sqrt(1/t) = m between the two. */
#include "lm/lm_internal.h"

#include <math.h>

static double yarn_m(double s, double k) { return s <= 1 ? 1.0 : 0.1 * k * log(s) + 1.0; }

/* The (fractional) dimension index at which a frequency makes `rot` turns in L positions. */
static double corr_dim(double rot, int d, double base, double L) {
    return (double)d * log(L / (rot * 2 * M_PI)) / (2 * log(base));
}

void genc_lm_rope_freqs(const genc_lm_config *c, double *freq, double *mag) {
    int d = c->qk_rope_dim, half = d / 2;
    for (int i = 0; i < half; i++) freq[i] = pow(c->rope_theta, -(double)(2 * i) / (double)d);
    *mag = 1.0;
    if (!(c->yarn_factor > 0)) return;
    double s = c->yarn_factor, L = (double)c->yarn_orig_max_pos;
    double low = fmax(floor(corr_dim(c->yarn_beta_fast, d, c->rope_theta, L)), 0.0);
    double high = fmin(ceil(corr_dim(c->yarn_beta_slow, d, c->rope_theta, L)), (double)(d - 1));
    if (low == high) high += 0.001; /* no division by zero (DeepSeek-V3's code does the same) */
    for (int i = 0; i < half; i++) {
        double g = fmin(fmax(((double)i - low) / (high - low), 0.0), 1.0);
        freq[i] = freq[i] / s * g + freq[i] * (1 - g);
    }
    *mag = yarn_m(s, c->yarn_mscale) / yarn_m(s, c->yarn_mscale_all_dim);
}

double genc_lm_attn_scale(const genc_lm_config *c) {
    double scale = 1.0 / sqrt((double)(c->qk_nope_dim + c->qk_rope_dim));
    if (c->yarn_factor > 0 && c->yarn_mscale_all_dim != 0) {
        double m = yarn_m(c->yarn_factor, c->yarn_mscale_all_dim);
        scale *= m * m;
    }
    return scale;
}
