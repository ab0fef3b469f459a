/* Rectified flow (Liu, Gong, Liu, arXiv 2209.03003) arithmetic: the training pair on the
 * straight interpolation, Euler and Heun samplers of dZt/dt = v(Zt, t) from t = 0 (noise) to
 * t = 1 (data), and the straightness S(Z) = int_0^1 E ||(Z1 - Z0) - dZt/dt||^2 dt measured on
 * the Euler path. docs/diffusion_math.md. */
#include "genc/diffusion.h"
#include "genc/genc.h" /* GENC_PAR_MIN */

#include <math.h>
#include <stdlib.h>

/* x_t = t x1 + (1 - t) z, v = x1 - z (the paper's linear interpolation, the reference code's t). */
void genc_rflow_training_pair(const float *x1, const float *z, const float *t, int64_t n, int64_t dim, float *xt,
                              float *v_target) {
#pragma omp parallel for if (n * dim > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double ti = t[i];
        for (int64_t j = i * dim; j < (i + 1) * dim; j++) {
            xt[j] = (float)(ti * x1[j] + (1.0 - ti) * z[j]);
            v_target[j] = (float)((double)x1[j] - z[j]);
        }
    }
}

static genc_status check(genc_ctx *ctx, const char *who, genc_denoiser net, int64_t n, int64_t dim, int steps,
                         const void *x) {
    if (!net || !x) return genc_error(ctx, GENC_EINVAL, "%s: missing network or x", who);
    if (n < 1 || dim < 1) return genc_error(ctx, GENC_EINVAL, "%s: need n >= 1 and dim >= 1", who);
    if (steps < 1 || steps > 1000000) return genc_error(ctx, GENC_EINVAL, "%s: steps must be in 1..1000000, got %d", who, steps);
    return GENC_OK;
}

/* v = net(x, t) for every sample at the same t. */
static genc_status velocity(genc_ctx *ctx, genc_denoiser net, void *user, const float *x, double t, int64_t n,
                            int64_t dim, float *tbuf, float *v) {
    for (int64_t i = 0; i < n; i++) tbuf[i] = (float)t;
    genc_status st = net(ctx, user, x, tbuf, n, dim, v);
    return st ? st : genc_ctx_status(ctx);
}

/* One step from t to t + dt. Euler: x += dt v(x, t). Heun: x' = x + dt v1, v2 = v(x', t + dt),
 * x += dt (v1 + v2) / 2 (trapezoid corrector). */
static genc_status ode_step(genc_ctx *ctx, genc_denoiser net, void *user, genc_ode_method m, double t, double dt,
                            int64_t n, int64_t dim, float *x, float *tbuf, float *v1, float *v2, float *xp) {
    int64_t count = n * dim;
    genc_status st = velocity(ctx, net, user, x, t, n, dim, tbuf, v1);
    if (st) return st;
    if (m == GENC_ODE_EULER) {
#pragma omp parallel for if (count > GENC_PAR_MIN) schedule(static)
        for (int64_t j = 0; j < count; j++) x[j] = (float)(x[j] + dt * v1[j]);
        return GENC_OK;
    }
#pragma omp parallel for if (count > GENC_PAR_MIN) schedule(static)
    for (int64_t j = 0; j < count; j++) xp[j] = (float)(x[j] + dt * v1[j]);
    if ((st = velocity(ctx, net, user, xp, t + dt, n, dim, tbuf, v2))) return st;
#pragma omp parallel for if (count > GENC_PAR_MIN) schedule(static)
    for (int64_t j = 0; j < count; j++) x[j] = (float)(x[j] + 0.5 * dt * ((double)v1[j] + v2[j]));
    return GENC_OK;
}

genc_status genc_rflow_sample(genc_ctx *ctx, genc_denoiser net, void *user, int64_t n, int64_t dim, int steps,
                              genc_ode_method m, const genc_sampler_opts *o, float *x) {
    genc_status st = check(ctx, "rectified flow", net, n, dim, steps, x);
    if (st) return st;
    if ((unsigned)m > GENC_ODE_HEUN) return genc_error(ctx, GENC_EINVAL, "rectified flow: unknown ODE method %d", (int)m);
    bool heun = m == GENC_ODE_HEUN;
    float *tbuf = malloc((size_t)n * sizeof *tbuf), *v1 = malloc((size_t)(n * dim) * sizeof *v1);
    float *v2 = heun ? malloc((size_t)(n * dim) * sizeof *v2) : NULL, *xp = heun ? malloc((size_t)(n * dim) * sizeof *xp) : NULL;
    if (!tbuf || !v1 || (heun && (!v2 || !xp))) st = genc_error(ctx, GENC_ENOMEM, "rectified flow: out of memory");
    if (!st && o && o->observe) st = o->observe(ctx, o->observe_user, 0, steps, 0.0, x, n, dim);
    for (int k = 0; k < steps && !st; k++) {
        double t = (double)k / steps, dt = (double)(k + 1) / steps - t;
        st = ode_step(ctx, net, user, m, t, dt, n, dim, x, tbuf, v1, v2, xp);
        if (!st && o && o->observe) st = o->observe(ctx, o->observe_user, k + 1, steps, (double)(k + 1) / steps, x, n, dim);
    }
    free(tbuf), free(v1), free(v2), free(xp);
    return st;
}

/* On the Euler path Z_{k+1} = Z_k + dt v_k with sum_k dt = 1, Z1 - Z0 = sum_k dt v_k = D, so
 * sum_k dt ||D - v_k||^2 = sum_k dt ||v_k||^2 - ||D||^2: one pass, D accumulated in double. */
genc_status genc_rflow_straightness_ex(genc_ctx *ctx, genc_denoiser net, void *user, int64_t n, int64_t dim,
                                       int steps, const float *z, float *x1, double *straightness) {
    genc_status st = check(ctx, "straightness", net, n, dim, steps, z);
    if (st) return st;
    int64_t count = n * dim;
    float *x = malloc((size_t)count * sizeof *x), *v = malloc((size_t)count * sizeof *v), *tbuf = malloc((size_t)n * sizeof *tbuf);
    double *d = calloc((size_t)count, sizeof *d);
    if (!x || !v || !tbuf || !d) st = genc_error(ctx, GENC_ENOMEM, "straightness: out of memory");
    for (int64_t j = 0; !st && j < count; j++) x[j] = z[j];
    double sum_v2 = 0.0;
    for (int k = 0; k < steps && !st; k++) {
        double t = (double)k / steps, dt = (double)(k + 1) / steps - t, acc = 0.0;
        if ((st = velocity(ctx, net, user, x, t, n, dim, tbuf, v))) break;
#pragma omp parallel for if (count > GENC_PAR_MIN) schedule(static) reduction(+ : acc)
        for (int64_t j = 0; j < count; j++) {
            acc += dt * (double)v[j] * v[j];
            d[j] += dt * v[j];
            x[j] = (float)(x[j] + dt * v[j]);
        }
        sum_v2 += acc;
    }
    if (!st) {
        double d2 = 0.0;
        for (int64_t j = 0; j < count; j++) d2 += d[j] * d[j];
        *straightness = (sum_v2 - d2) / (double)n;
        for (int64_t j = 0; x1 && j < count; j++) x1[j] = x[j];
    }
    free(x), free(v), free(tbuf), free(d);
    return st;
}

genc_status genc_rflow_straightness(genc_ctx *ctx, genc_denoiser net, void *user, int64_t n, int64_t dim, int steps,
                                    const float *z, double *straightness) {
    return genc_rflow_straightness_ex(ctx, net, user, n, dim, steps, z, NULL, straightness);
}
