/* genc diffusion and rectified-flow arithmetic, independent of any network: noise schedules,
 * training pairs, and the samplers DDPM ancestral (Ho et al. 2020), DDIM with eta and DDIM
 * inversion (Song et al., arXiv 2010.02502), rectified flow Euler/Heun and straightness (Liu et al.,
 * arXiv 2209.03003). The network is a callback (genc_denoiser). docs/diffusion_math.md has the
 * formulas and conventions; the summary:
 *
 *   DDPM/DDIM: timesteps t = 0..T-1, a_t = alpha_bar_t = prod_{s<=t} (1 - beta_s),
 *     x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps. The network gets t as a float integer.
 *     Predictions: eps; v = sqrt(a_t) eps - sqrt(1 - a_t) x0; x0 ("sample").
 *   Rectified flow: t = 0 is noise z, t = 1 is data x, x_t = t x + (1 - t) z, v = x - z
 *     (the reference code's convention; diffusers' flow schedulers use sigma = 1 - t).
 *
 * Classifier-free guidance is the caller's: its genc_denoiser returns
 * uncond + w (cond - uncond) (w = 1: plain conditional), in whatever prediction type it uses.
 *
 * Noise (all samplers): genc_philox_normal(key, counter) with counter = (first_index + i) * dim + j
 * for element j of sample i; the initial noise x_T (genc_gaussian_noise) uses key = seed; the
 * noise added at sampler step k (k = 0 for the first update) uses key = genc_step_noise_key(seed, k).
 * So a sample's images never depend on n, on batching or on the thread count. */
#ifndef GENC_DIFFUSION_H
#define GENC_DIFFUSION_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GENC_BETA_LINEAR, GENC_BETA_SCALED_LINEAR, GENC_BETA_COSINE } genc_beta_schedule;
typedef enum { GENC_PRED_EPS, GENC_PRED_V, GENC_PRED_X0 } genc_prediction;
typedef enum { GENC_VAR_FIXED_SMALL, GENC_VAR_FIXED_LARGE } genc_ddpm_variance;
typedef enum {
    GENC_SPACING_UNIFORM,  /* diffusers "leading": k * (T / S) (integer division), k = S-1..0 */
    GENC_SPACING_TRAILING, /* round(T - k T / S) - 1, k = 0..S-1 */
    GENC_SPACING_LINSPACE, /* round(linspace(0, T - 1, S)) descending (round half to even) */
    GENC_SPACING_QUADRATIC /* int(linspace(0, sqrt(0.8 T), S)^2) descending (DDIM paper code) */
} genc_spacing;

/* beta[t] and alpha_bar[t], t = 0..T-1, in double. */
typedef struct genc_ddpm_schedule {
    int T;
    double *beta, *alpha_bar;
} genc_ddpm_schedule;

/* linear: beta = linspace(beta_start, beta_end, T) (Ho et al.: 1e-4, 0.02);
 * scaled_linear: linspace(sqrt(beta_start), sqrt(beta_end), T)^2 (Stable Diffusion);
 * cosine: Nichol & Dhariwal eq. 17, f(u) = cos((u + 0.008) / 1.008 * pi / 2)^2,
 *   beta_t = min(1 - f((t+1)/T) / f(t/T), 0.999) (beta_start/beta_end are ignored). */
genc_status genc_ddpm_schedule_init(genc_ctx *ctx, genc_ddpm_schedule *s, genc_beta_schedule kind, int T,
                                    double beta_start, double beta_end);
/* The checks genc_ddpm_schedule_init makes (T in 1..100000; 0 < beta_start <= beta_end < 1
 * unless cosine), without building the schedule: GENC_EINVAL naming what is wrong. */
genc_status genc_ddpm_schedule_check(genc_ctx *ctx, genc_beta_schedule kind, int T, double beta_start,
                                     double beta_end);
void genc_ddpm_schedule_free(genc_ddpm_schedule *s);

genc_status genc_beta_schedule_parse(genc_ctx *ctx, const char *name, genc_beta_schedule *out); /* "linear", "scaled_linear", "cosine" (also "squaredcos_cap_v2") */
genc_status genc_prediction_parse(genc_ctx *ctx, const char *name, genc_prediction *out);       /* "epsilon" ("eps"), "v" ("v_prediction"), "sample" ("x0") */
genc_status genc_spacing_parse(genc_ctx *ctx, const char *name, genc_spacing *out);             /* "uniform"/"leading", "trailing", "linspace", "quadratic" */
genc_status genc_variance_parse(genc_ctx *ctx, const char *name, genc_ddpm_variance *out);      /* "fixed_small", "fixed_large" */
const char *genc_beta_schedule_name(genc_beta_schedule k);
const char *genc_prediction_name(genc_prediction p);
const char *genc_spacing_name(genc_spacing s);

/* Network callback: out[n*dim] = net(x[n*dim], t[n]) where t is in the sampler's units:
 * DDPM/DDIM the integer timestep as a float (0..T-1); rectified flow t in [0, 1]. */
typedef genc_status (*genc_denoiser)(genc_ctx *ctx, void *user, const float *x, const float *t, int64_t n,
                                     int64_t dim, float *out);
/* Optional observer, called n_steps + 1 times: step 0 with the initial x, step k after the k-th
 * update. t is the time of the state x: DDPM/DDIM the timestep (-1 for the final clean x0; for
 * inversion the start is -1); rectified flow t in [0, 1]. */
typedef genc_status (*genc_sample_observer)(genc_ctx *ctx, void *user, int step, int n_steps, double t,
                                            const float *x, int64_t n, int64_t dim);

/* Training pair for DDPM (Ho et al. eq. 14 / Salimans & Ho for v):
 * xt = sqrt(a_t) x0 + sqrt(1 - a_t) eps; target eps, v = sqrt(a_t) eps - sqrt(1 - a_t) x0, or x0.
 * t[i] in 0..T-1 (the caller guarantees it). */
void genc_ddpm_training_pair(const genc_ddpm_schedule *s, genc_prediction pred, const float *x0, const float *eps,
                             const int32_t *t, int64_t n, int64_t dim, float *xt, float *target);

/* The S DDIM timesteps, descending (diffusers' set_timesteps with steps_offset 0 for
 * uniform/trailing/linspace). 1 <= S <= T. Quadratic repeats small timesteps when
 * S > sqrt(0.8 T) + 1 (as the DDIM code does); a repeated timestep is an identity step. */
genc_status genc_ddim_timesteps(genc_ctx *ctx, int T, int S, genc_spacing spacing, int32_t *out);

typedef struct genc_sampler_opts {
    genc_prediction pred;
    double eta;                  /* DDIM: 0 deterministic .. 1 DDPM posterior variance */
    bool clip_x0;                /* clamp the predicted x0 to [-1, 1] */
    genc_ddpm_variance variance; /* DDPM ancestral only */
    uint64_t seed;               /* step noise key (see the top of this file) */
    int64_t first_index;         /* global index of x's first sample */
    genc_sample_observer observe;
    void *observe_user;
} genc_sampler_opts;

genc_sampler_opts genc_sampler_defaults(void); /* eps, eta 0, no clip, fixed small, seed 0 */

/* Noise: sample i's values depend only on (seed, first_index + i). */
void genc_gaussian_noise(uint64_t seed, int64_t first_index, int64_t n, int64_t dim, float *out);
uint64_t genc_step_noise_key(uint64_t seed, int step);
/* The noise a sampler adds at step k: genc_gaussian_noise(genc_step_noise_key(seed, k), ...). */
void genc_step_noise(uint64_t seed, int step, int64_t first_index, int64_t n, int64_t dim, float *out);

/* DDPM ancestral sampling over t = T-1..0 (T network calls). x: in x_{T-1} noise, out x0.
 * No noise is added at the last step (t = 0), for either variance. */
genc_status genc_ddpm_sample(genc_ctx *ctx, const genc_ddpm_schedule *s, genc_denoiser net, void *user, int64_t n,
                             int64_t dim, const genc_sampler_opts *o, float *x);
/* DDIM on steps[0] > ... > steps[S-1] (non-increasing, in 0..T-1); the previous timestep of
 * steps[k] is steps[k+1] and a_prev = 1 after the last one. */
genc_status genc_ddim_sample(genc_ctx *ctx, const genc_ddpm_schedule *s, const int32_t *steps, int S,
                             genc_denoiser net, void *user, int64_t n, int64_t dim, const genc_sampler_opts *o,
                             float *x);
/* Deterministic DDIM inversion on the same list walked upwards: x0 (a = 1) -> steps[S-1] -> ...
 * -> steps[0]. Each update evaluates the network at the current x with the label of the
 * timestep it moves to (as diffusers' DDIMInverseScheduler). eta and clip_x0 are ignored. */
genc_status genc_ddim_invert(genc_ctx *ctx, const genc_ddpm_schedule *s, const int32_t *steps, int S,
                             genc_denoiser net, void *user, int64_t n, int64_t dim, const genc_sampler_opts *o,
                             float *x);

/* Rectified flow (t = 0 noise, t = 1 data): xt = t x1 + (1 - t) z, v_target = x1 - z; t[n]. */
void genc_rflow_training_pair(const float *x1, const float *z, const float *t, int64_t n, int64_t dim, float *xt,
                              float *v_target);

typedef enum { GENC_ODE_EULER, GENC_ODE_HEUN } genc_ode_method;
genc_status genc_ode_method_parse(genc_ctx *ctx, const char *name, genc_ode_method *out); /* "euler", "heun" */

/* Integrate dx/dt = v(x, t) from t = 0 to 1 on the grid t_k = k / steps. Euler: 1 call a step;
 * Heun (predictor Euler, corrector trapezoid) on every step including the last: 2 calls a step
 * (v is defined at t = 1, unlike EDM's denoiser at sigma = 0). Only o->observe is used. */
genc_status genc_rflow_sample(genc_ctx *ctx, genc_denoiser net, void *user, int64_t n, int64_t dim, int steps,
                              genc_ode_method m, const genc_sampler_opts *o, float *x);
/* Straightness S = int_0^1 E ||(Z1 - Z0) - dZt/dt||^2 dt (Liu et al.) on the Euler
 * path with `steps` steps from z: sum_k dt ||(Z1 - Z0) - v_k||^2, the squared norm summed over
 * the dim coordinates (divide by dim for a per-coordinate value), averaged over the n samples.
 * x1 (may be NULL) receives the Euler endpoints Z1. The double sum is reduced across threads
 * above GENC_PAR_MIN values, so its last bits may depend on the thread count. */
genc_status genc_rflow_straightness(genc_ctx *ctx, genc_denoiser net, void *user, int64_t n, int64_t dim, int steps,
                                    const float *z, double *straightness);
genc_status genc_rflow_straightness_ex(genc_ctx *ctx, genc_denoiser net, void *user, int64_t n, int64_t dim,
                                       int steps, const float *z, float *x1, double *straightness);

#ifdef __cplusplus
}
#endif
#endif
