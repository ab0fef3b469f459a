/* Diffusion noise schedules (linear, scaled linear, cosine), the DDIM timestep lists in
 * diffusers' spacings, the DDPM training pair, the name parsers and the sampler noise keys.
 * Everything is computed in double and applied to float buffers. docs/diffusion_math.md. */
#include "genc/diffusion.h"
#include "genc/genc.h" /* GENC_PAR_MIN */

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double cosine_f(double u) { /* Nichol & Dhariwal 2021, eq. 17 with s = 0.008 */
    double c = cos((u + 0.008) / 1.008 * M_PI / 2);
    return c * c;
}

static void fill_betas(genc_beta_schedule kind, int T, double b0, double b1, double *beta) {
    for (int t = 0; t < T; t++) {
        double u = T > 1 ? (double)t / (T - 1) : 0.0;
        if (kind == GENC_BETA_LINEAR) beta[t] = b0 + (b1 - b0) * u;
        else if (kind == GENC_BETA_SCALED_LINEAR) {
            double r = sqrt(b0) + (sqrt(b1) - sqrt(b0)) * u;
            beta[t] = r * r;
        } else {
            double b = 1.0 - cosine_f((double)(t + 1) / T) / cosine_f((double)t / T);
            beta[t] = b < 0.999 ? b : 0.999;
        }
    }
}

genc_status genc_ddpm_schedule_check(genc_ctx *ctx, genc_beta_schedule kind, int T, double beta_start,
                                     double beta_end) {
    if (T < 1 || T > 100000) return genc_error(ctx, GENC_EINVAL, "diffusion: T must be in 1..100000, got %d", T);
    if (kind != GENC_BETA_COSINE && !(beta_start > 0 && beta_end >= beta_start && beta_end < 1))
        return genc_error(ctx, GENC_EINVAL, "diffusion: betas must satisfy 0 < beta_start <= beta_end < 1, got %g, %g",
                          beta_start, beta_end);
    if ((unsigned)kind > GENC_BETA_COSINE) return genc_error(ctx, GENC_EINVAL, "diffusion: unknown beta schedule %d", (int)kind);
    return GENC_OK;
}

genc_status genc_ddpm_schedule_init(genc_ctx *ctx, genc_ddpm_schedule *s, genc_beta_schedule kind, int T,
                                    double beta_start, double beta_end) {
    memset(s, 0, sizeof *s);
    genc_status st = genc_ddpm_schedule_check(ctx, kind, T, beta_start, beta_end);
    if (st) return st;
    s->beta = malloc((size_t)T * sizeof *s->beta);
    s->alpha_bar = malloc((size_t)T * sizeof *s->alpha_bar);
    if (!s->beta || !s->alpha_bar) {
        genc_ddpm_schedule_free(s);
        return genc_error(ctx, GENC_ENOMEM, "diffusion: out of memory for a schedule of T = %d", T);
    }
    s->T = T;
    fill_betas(kind, T, beta_start, beta_end, s->beta);
    double prod = 1.0;
    for (int t = 0; t < T; t++) s->alpha_bar[t] = prod *= 1.0 - s->beta[t];
    return GENC_OK;
}

void genc_ddpm_schedule_free(genc_ddpm_schedule *s) {
    free(s->beta);
    free(s->alpha_bar);
    memset(s, 0, sizeof *s);
}

/* One table per enum: names[i] are the accepted spellings of value i, the first canonical. */
static genc_status parse_name(genc_ctx *ctx, const char *what, const char *name, const char *const *names,
                              const int *values, int count, int *out) {
    for (int i = 0; name && i < count; i++)
        if (!strcmp(name, names[i])) return *out = values[i], GENC_OK;
    char list[256] = "";
    for (int i = 0; i < count; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    return genc_error(ctx, GENC_EINVAL, "unknown %s '%s' (expected one of: %s)", what, name ? name : "(null)", list);
}

genc_status genc_beta_schedule_parse(genc_ctx *ctx, const char *name, genc_beta_schedule *out) {
    static const char *const n[] = {"linear", "scaled_linear", "cosine", "squaredcos_cap_v2"};
    static const int v[] = {GENC_BETA_LINEAR, GENC_BETA_SCALED_LINEAR, GENC_BETA_COSINE, GENC_BETA_COSINE};
    int r = 0;
    genc_status st = parse_name(ctx, "beta schedule", name, n, v, 4, &r);
    if (!st) *out = (genc_beta_schedule)r;
    return st;
}

genc_status genc_prediction_parse(genc_ctx *ctx, const char *name, genc_prediction *out) {
    static const char *const n[] = {"epsilon", "eps", "v", "v_prediction", "sample", "x0"};
    static const int v[] = {GENC_PRED_EPS, GENC_PRED_EPS, GENC_PRED_V, GENC_PRED_V, GENC_PRED_X0, GENC_PRED_X0};
    int r = 0;
    genc_status st = parse_name(ctx, "prediction type", name, n, v, 6, &r);
    if (!st) *out = (genc_prediction)r;
    return st;
}

genc_status genc_spacing_parse(genc_ctx *ctx, const char *name, genc_spacing *out) {
    static const char *const n[] = {"uniform", "leading", "trailing", "linspace", "quadratic"};
    static const int v[] = {GENC_SPACING_UNIFORM, GENC_SPACING_UNIFORM, GENC_SPACING_TRAILING, GENC_SPACING_LINSPACE,
                            GENC_SPACING_QUADRATIC};
    int r = 0;
    genc_status st = parse_name(ctx, "timestep spacing", name, n, v, 5, &r);
    if (!st) *out = (genc_spacing)r;
    return st;
}

genc_status genc_variance_parse(genc_ctx *ctx, const char *name, genc_ddpm_variance *out) {
    static const char *const n[] = {"fixed_small", "fixed_large"};
    static const int v[] = {GENC_VAR_FIXED_SMALL, GENC_VAR_FIXED_LARGE};
    int r = 0;
    genc_status st = parse_name(ctx, "DDPM variance", name, n, v, 2, &r);
    if (!st) *out = (genc_ddpm_variance)r;
    return st;
}

genc_status genc_ode_method_parse(genc_ctx *ctx, const char *name, genc_ode_method *out) {
    static const char *const n[] = {"euler", "heun"};
    static const int v[] = {GENC_ODE_EULER, GENC_ODE_HEUN};
    int r = 0;
    genc_status st = parse_name(ctx, "ODE method", name, n, v, 2, &r);
    if (!st) *out = (genc_ode_method)r;
    return st;
}

const char *genc_beta_schedule_name(genc_beta_schedule k) {
    return k == GENC_BETA_LINEAR ? "linear" : k == GENC_BETA_SCALED_LINEAR ? "scaled_linear" : "cosine";
}
const char *genc_prediction_name(genc_prediction p) {
    return p == GENC_PRED_EPS ? "epsilon" : p == GENC_PRED_V ? "v" : "sample";
}
const char *genc_spacing_name(genc_spacing s) {
    static const char *const n[] = {"uniform", "trailing", "linspace", "quadratic"};
    return (unsigned)s <= GENC_SPACING_QUADRATIC ? n[s] : "?";
}

/* Timestep k of the S-step list, ascending order (k = 0 is the smallest), as diffusers'
 * DDIMScheduler.set_timesteps computes it with steps_offset = 0 (numpy arithmetic mirrored:
 * linspace is i * step with the last entry set to the stop; rint rounds half to even as
 * numpy.round does), and int(linspace(0, sqrt(0.8 T), S)^2) for the DDIM paper's quadratic. */
static int32_t ascending_timestep(int T, int S, genc_spacing sp, int k) {
    switch (sp) {
    case GENC_SPACING_UNIFORM: return (int32_t)k * (T / S);
    case GENC_SPACING_TRAILING: { /* numpy.arange(T, 0, -T/S) fills T + i * delta, delta = (T - T/S) - T */
        double delta = ((double)T - (double)T / S) - (double)T;
        return (int32_t)rint((double)T + (double)(S - 1 - k) * delta) - 1;
    }
    case GENC_SPACING_LINSPACE:
        if (S == 1) return 0;
        return k == S - 1 ? T - 1 : (int32_t)rint((double)k * ((double)(T - 1) / (S - 1)));
    case GENC_SPACING_QUADRATIC: {
        double stop = sqrt(0.8 * T), u = S == 1 ? 0.0 : (k == S - 1 ? stop : (double)k * (stop / (S - 1)));
        return (int32_t)(u * u);
    }
    }
    return 0;
}

genc_status genc_ddim_timesteps(genc_ctx *ctx, int T, int S, genc_spacing spacing, int32_t *out) {
    if (T < 1) return genc_error(ctx, GENC_EINVAL, "DDIM: T must be >= 1, got %d", T);
    if (S < 1 || S > T) return genc_error(ctx, GENC_EINVAL, "DDIM: steps must be in 1..T = %d, got %d", T, S);
    if ((unsigned)spacing > GENC_SPACING_QUADRATIC)
        return genc_error(ctx, GENC_EINVAL, "DDIM: unknown spacing %d", (int)spacing);
    for (int k = 0; k < S; k++) {
        int32_t t = ascending_timestep(T, S, spacing, k);
        out[S - 1 - k] = t < 0 ? 0 : t > T - 1 ? T - 1 : t;
    }
    return GENC_OK;
}

/* x_t = sqrt(a) x0 + sqrt(1 - a) eps (Ho et al. eq. 4); target per prediction type. */
void genc_ddpm_training_pair(const genc_ddpm_schedule *s, genc_prediction pred, const float *x0, const float *eps,
                             const int32_t *t, int64_t n, int64_t dim, float *xt, float *target) {
#pragma omp parallel for if (n * dim > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double a = s->alpha_bar[t[i]], sa = sqrt(a), sb = sqrt(1.0 - a);
        for (int64_t j = i * dim; j < (i + 1) * dim; j++) {
            xt[j] = (float)(sa * x0[j] + sb * eps[j]);
            target[j] = pred == GENC_PRED_EPS ? eps[j] : pred == GENC_PRED_X0 ? x0[j] : (float)(sa * eps[j] - sb * x0[j]);
        }
    }
}

/* splitmix64's finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mix. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t genc_step_noise_key(uint64_t seed, int step) {
    return mix64(seed + (uint64_t)(step + 1) * 0x9E3779B97F4A7C15ull);
}

void genc_gaussian_noise(uint64_t seed, int64_t first_index, int64_t n, int64_t dim, float *out) {
#pragma omp parallel for if (n * dim > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < dim; j++)
            out[i * dim + j] = (float)genc_philox_normal(seed, (uint64_t)((first_index + i) * dim + j));
}

void genc_step_noise(uint64_t seed, int step, int64_t first_index, int64_t n, int64_t dim, float *out) {
    genc_gaussian_noise(genc_step_noise_key(seed, step), first_index, n, dim, out);
}

genc_sampler_opts genc_sampler_defaults(void) {
    genc_sampler_opts o;
    memset(&o, 0, sizeof o);
    o.pred = GENC_PRED_EPS, o.variance = GENC_VAR_FIXED_SMALL;
    return o;
}
