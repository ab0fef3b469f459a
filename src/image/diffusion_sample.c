/* DDPM ancestral sampling (Ho, Jain, Abbeel 2020, Algorithm 2 with eq. 7 posterior), DDIM
 * with eta (Song, Meng, Ermon, arXiv 2010.02502, eq. 12 and 16) and deterministic DDIM
 * inversion, for any network given as a genc_denoiser callback. Coefficients in double,
 * state in float. Conventions and the noise keying: include/genc/diffusion.h and
 * docs/diffusion_math.md. */
#include "genc/diffusion.h"
#include "genc/genc.h" /* GENC_PAR_MIN */

#include <math.h>
#include <stdlib.h>

/* Work buffers of one sampler run: the timestep labels, the network output, the step noise. */
typedef struct {
    float *t, *out, *noise;
} sampler_bufs;

static genc_status bufs_alloc(genc_ctx *ctx, sampler_bufs *b, int64_t n, int64_t dim, bool noise) {
    b->t = malloc((size_t)n * sizeof *b->t);
    b->out = malloc((size_t)(n * dim) * sizeof *b->out);
    b->noise = noise ? malloc((size_t)(n * dim) * sizeof *b->noise) : NULL;
    if (b->t && b->out && (b->noise || !noise)) return GENC_OK;
    free(b->t), free(b->out), free(b->noise);
    return genc_error(ctx, GENC_ENOMEM, "sampler: out of memory for %lld x %lld", (long long)n, (long long)dim);
}

static void bufs_free(sampler_bufs *b) { free(b->t), free(b->out), free(b->noise); }

static genc_status check_args(genc_ctx *ctx, const char *who, const genc_ddpm_schedule *s, genc_denoiser net,
                              int64_t n, int64_t dim, const genc_sampler_opts *o, const float *x) {
    if (!s || !s->alpha_bar || s->T < 1) return genc_error(ctx, GENC_EINVAL, "%s: no schedule", who);
    if (!net || !o || !x) return genc_error(ctx, GENC_EINVAL, "%s: missing network, options or x", who);
    if (n < 1 || dim < 1) return genc_error(ctx, GENC_EINVAL, "%s: need n >= 1 and dim >= 1, got %lld, %lld", who,
                                            (long long)n, (long long)dim);
    if ((unsigned)o->pred > GENC_PRED_X0) return genc_error(ctx, GENC_EINVAL, "%s: unknown prediction %d", who, (int)o->pred);
    return GENC_OK;
}

static genc_status check_steps(genc_ctx *ctx, const char *who, int T, const int32_t *steps, int S) {
    if (!steps || S < 1 || S > T) return genc_error(ctx, GENC_EINVAL, "%s: steps must be in 1..T = %d, got %d", who, T, S);
    for (int k = 0; k < S; k++) {
        if (steps[k] < 0 || steps[k] >= T)
            return genc_error(ctx, GENC_EINVAL, "%s: timestep %d at position %d is outside 0..%d", who, steps[k], k, T - 1);
        if (k && steps[k] > steps[k - 1])
            return genc_error(ctx, GENC_EINVAL, "%s: timesteps must not increase (%d then %d at position %d)", who,
                              steps[k - 1], steps[k], k);
    }
    return GENC_OK;
}

/* Evaluate the network at timestep label t (the same for every sample). */
static genc_status call_net(genc_ctx *ctx, genc_denoiser net, void *user, const float *x, double t, int64_t n,
                            int64_t dim, sampler_bufs *b) {
    for (int64_t i = 0; i < n; i++) b->t[i] = (float)t;
    genc_status st = net(ctx, user, x, b->t, n, dim, b->out);
    if (!st && genc_ctx_status(ctx)) st = genc_ctx_status(ctx);
    return st ? st : GENC_OK;
}

static genc_status observe(genc_ctx *ctx, const genc_sampler_opts *o, int step, int n_steps, double t,
                           const float *x, int64_t n, int64_t dim) {
    return o->observe ? o->observe(ctx, o->observe_user, step, n_steps, t, x, n, dim) : GENC_OK;
}

/* The network output m at x with alpha_bar a, as (x0, eps):
 * eps: x0 = (x - sqrt(1-a) m) / sqrt(a);  v: x0 = sqrt(a) x - sqrt(1-a) m, eps = sqrt(a) m + sqrt(1-a) x;
 * x0: eps = (x - sqrt(a) m) / sqrt(1-a). */
static void split_output(genc_prediction pred, double a, double x, double m, double *x0, double *eps) {
    double sa = sqrt(a), sb = sqrt(1.0 - a);
    if (pred == GENC_PRED_EPS) *eps = m, *x0 = (x - sb * m) / sa;
    else if (pred == GENC_PRED_V) *x0 = sa * x - sb * m, *eps = sa * m + sb * x;
    else *x0 = m, *eps = (x - sa * m) / sb;
}

static double clip1(double v) { return v < -1 ? -1 : v > 1 ? 1 : v; }

/* One ancestral step at timestep t: x <- mu(x0_hat, x_t) + sigma z, with the posterior mean
 * mu = sqrt(a_prev) beta_t / (1 - a_t) x0 + sqrt(1 - beta_t) (1 - a_prev) / (1 - a_t) x_t (Ho eq. 7). */
static void ddpm_update(const genc_ddpm_schedule *s, int t, const genc_sampler_opts *o, const float *out,
                        const float *z, int64_t count, float *x) {
    double a = s->alpha_bar[t], a_prev = t > 0 ? s->alpha_bar[t - 1] : 1.0, beta = s->beta[t];
    double c_x0 = sqrt(a_prev) * beta / (1.0 - a), c_xt = sqrt(1.0 - beta) * (1.0 - a_prev) / (1.0 - a);
    double var = o->variance == GENC_VAR_FIXED_LARGE ? beta : beta * (1.0 - a_prev) / (1.0 - a);
    double sigma = t > 0 ? sqrt(var) : 0.0;
#pragma omp parallel for if (count > GENC_PAR_MIN) schedule(static)
    for (int64_t j = 0; j < count; j++) {
        double x0, eps;
        split_output(o->pred, a, x[j], out[j], &x0, &eps);
        if (o->clip_x0) x0 = clip1(x0);
        x[j] = (float)(c_x0 * x0 + c_xt * x[j] + (sigma > 0 ? sigma * z[j] : 0.0));
    }
}

genc_status genc_ddpm_sample(genc_ctx *ctx, const genc_ddpm_schedule *s, genc_denoiser net, void *user, int64_t n,
                             int64_t dim, const genc_sampler_opts *o, float *x) {
    genc_status st = check_args(ctx, "DDPM", s, net, n, dim, o, x);
    if (st) return st;
    if ((unsigned)o->variance > GENC_VAR_FIXED_LARGE)
        return genc_error(ctx, GENC_EINVAL, "DDPM: unknown variance %d", (int)o->variance);
    sampler_bufs b;
    if ((st = bufs_alloc(ctx, &b, n, dim, true))) return st;
    int T = s->T;
    st = observe(ctx, o, 0, T, T - 1, x, n, dim);
    for (int k = 0; k < T && !st; k++) {
        int t = T - 1 - k;
        if ((st = call_net(ctx, net, user, x, t, n, dim, &b))) break;
        if (t > 0) genc_step_noise(o->seed, k, o->first_index, n, dim, b.noise);
        ddpm_update(s, t, o, b.out, b.noise, n * dim, x);
        st = observe(ctx, o, k + 1, T, t - 1, x, n, dim);
    }
    bufs_free(&b);
    return st;
}

/* One generalised DDIM step from alpha_bar a to a_prev (Song et al. eq. 12, sigma eq. 16):
 * x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) eps + sigma z. eps is the network's
 * (before any clip of x0), as diffusers' default use_clipped_model_output = False. */
static void ddim_update(double a, double a_prev, const genc_sampler_opts *o, const float *out, const float *z,
                        int64_t count, float *x) {
    double sigma = o->eta * sqrt((1.0 - a_prev) / (1.0 - a)) * sqrt(fmax(1.0 - a / a_prev, 0.0));
    double c_dir = sqrt(fmax(1.0 - a_prev - sigma * sigma, 0.0)), c_x0 = sqrt(a_prev);
#pragma omp parallel for if (count > GENC_PAR_MIN) schedule(static)
    for (int64_t j = 0; j < count; j++) {
        double x0, eps;
        split_output(o->pred, a, x[j], out[j], &x0, &eps);
        if (o->clip_x0) x0 = clip1(x0);
        x[j] = (float)(c_x0 * x0 + c_dir * eps + (sigma > 0 ? sigma * z[j] : 0.0));
    }
}

genc_status genc_ddim_sample(genc_ctx *ctx, const genc_ddpm_schedule *s, const int32_t *steps, int S,
                             genc_denoiser net, void *user, int64_t n, int64_t dim, const genc_sampler_opts *o,
                             float *x) {
    genc_status st = check_args(ctx, "DDIM", s, net, n, dim, o, x);
    if (!st) st = check_steps(ctx, "DDIM", s->T, steps, S);
    if (!st && !(o->eta >= 0 && o->eta <= 1)) st = genc_error(ctx, GENC_EINVAL, "DDIM: eta must be in [0, 1], got %g", o->eta);
    if (st) return st;
    sampler_bufs b;
    if ((st = bufs_alloc(ctx, &b, n, dim, o->eta > 0))) return st;
    st = observe(ctx, o, 0, S, steps[0], x, n, dim);
    for (int k = 0; k < S && !st; k++) {
        int t = steps[k], t_prev = k + 1 < S ? steps[k + 1] : -1;
        double a = s->alpha_bar[t], a_prev = t_prev >= 0 ? s->alpha_bar[t_prev] : 1.0;
        if ((st = call_net(ctx, net, user, x, t, n, dim, &b))) break;
        if (o->eta > 0) genc_step_noise(o->seed, k, o->first_index, n, dim, b.noise);
        ddim_update(a, a_prev, o, b.out, b.noise, n * dim, x);
        st = observe(ctx, o, k + 1, S, t_prev, x, n, dim);
    }
    bufs_free(&b);
    return st;
}

/* One inversion step from alpha_bar a_cur up to a_next: the network output m at the label
 * of the target timestep is read as eps with a_next, then x0 = (x - sqrt(1 - a_cur) eps) /
 * sqrt(a_cur), x_next = sqrt(a_next) x0 + sqrt(1 - a_next) eps: the exact inverse of the
 * eta = 0 step when eps is the same. */
static void ddim_invert_update(double a_cur, double a_next, genc_prediction pred, const float *out, int64_t count,
                               float *x) {
    double c_x0 = sqrt(a_next), c_eps = sqrt(1.0 - a_next);
#pragma omp parallel for if (count > GENC_PAR_MIN) schedule(static)
    for (int64_t j = 0; j < count; j++) {
        double x0_lbl, eps;
        split_output(pred, a_next, x[j], out[j], &x0_lbl, &eps);
        double x0 = (x[j] - sqrt(1.0 - a_cur) * eps) / sqrt(a_cur);
        x[j] = (float)(c_x0 * x0 + c_eps * eps);
    }
}

genc_status genc_ddim_invert(genc_ctx *ctx, const genc_ddpm_schedule *s, const int32_t *steps, int S,
                             genc_denoiser net, void *user, int64_t n, int64_t dim, const genc_sampler_opts *o,
                             float *x) {
    genc_status st = check_args(ctx, "DDIM inversion", s, net, n, dim, o, x);
    if (!st) st = check_steps(ctx, "DDIM inversion", s->T, steps, S);
    if (st) return st;
    sampler_bufs b;
    if ((st = bufs_alloc(ctx, &b, n, dim, false))) return st;
    st = observe(ctx, o, 0, S, -1, x, n, dim);
    for (int k = 0; k < S && !st; k++) {
        int t_cur = k ? steps[S - k] : -1, t_next = steps[S - 1 - k];
        double a_cur = t_cur >= 0 ? s->alpha_bar[t_cur] : 1.0, a_next = s->alpha_bar[t_next];
        if ((st = call_net(ctx, net, user, x, t_next, n, dim, &b))) break;
        ddim_invert_update(a_cur, a_next, o->pred, b.out, n * dim, x);
        st = observe(ctx, o, k + 1, S, t_next, x, n, dim);
    }
    bufs_free(&b);
    return st;
}
