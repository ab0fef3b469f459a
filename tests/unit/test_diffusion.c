/* Unit tests of the diffusion / rectified-flow samplers (include/genc/diffusion.h) on fake
 * networks: the exact denoiser of Gaussian data x0 ~ N(mu, s^2 I), for which
 *   E[x0 | x_t] = mu + sqrt(a) s^2 (x_t - sqrt(a) mu) / (a s^2 + 1 - a),  eps = (x_t - sqrt(a) E[x0|x_t]) / sqrt(1 - a),
 * and simple velocity fields with known solutions. Checked: DDIM inversion round trip and its
 * first-order convergence in S, eta = 0 determinism, DDIM eta = 1 with S = T against DDPM
 * fixed-small (same noise: same trajectory; other noise: same per-step statistics), chunked ==
 * whole-batch sampling, the observer, Euler/Heun orders, straightness of known paths, schedule
 * shapes, and errors (not crashes) for bad arguments. Tolerances are justified where asserted. */
#include "genc/diffusion.h"
#include "test.h"

#include <stdlib.h>

typedef struct {
    const genc_ddpm_schedule *s;
    double mu[4], s2; /* data mean per coordinate (cycled), data variance */
    double scale;     /* eps multiplied by this (0: 1, the exact denoiser) */
} gauss_net;

static genc_status gauss_eps(genc_ctx *ctx, void *user, const float *x, const float *t, int64_t n, int64_t dim,
                             float *out) {
    (void)ctx;
    const gauss_net *g = user;
    double scale = g->scale ? g->scale : 1.0, sa = 0, sb = 1, gain = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i == 0 || t[i] != t[i - 1]) { /* coefficients of this timestep */
            double a = g->s->alpha_bar[(int)t[i]];
            sa = sqrt(a), sb = sqrt(1 - a), gain = sa * g->s2 / (a * g->s2 + 1 - a);
        }
        for (int64_t j = 0; j < dim; j++) {
            double mu = g->mu[j % 4], xt = x[i * dim + j];
            double x0 = mu + gain * (xt - sa * mu);
            out[i * dim + j] = (float)(scale * (xt - sa * x0) / sb);
        }
    }
    return GENC_OK;
}

/* eps depending on t only: DDIM inversion is then exact (the same eps forwards and back). */
static genc_status time_only_eps(genc_ctx *ctx, void *user, const float *x, const float *t, int64_t n, int64_t dim,
                                 float *out) {
    (void)ctx, (void)user, (void)x;
    for (int64_t i = 0; i < n * dim; i++) out[i] = (float)(0.5 * sin(0.01 * t[i / dim] + (double)(i % dim)));
    return GENC_OK;
}

static genc_status velocity_x(genc_ctx *ctx, void *user, const float *x, const float *t, int64_t n, int64_t dim,
                              float *out) { /* v = x: Z_t = Z_0 e^t */
    (void)ctx, (void)user, (void)t;
    for (int64_t i = 0; i < n * dim; i++) out[i] = x[i];
    return GENC_OK;
}

static genc_status velocity_const(genc_ctx *ctx, void *user, const float *x, const float *t, int64_t n, int64_t dim,
                                  float *out) { /* a straight field */
    (void)ctx, (void)user, (void)x, (void)t;
    for (int64_t i = 0; i < n * dim; i++) out[i] = (float)(1.0 + 0.25 * (double)(i % dim));
    return GENC_OK;
}

static genc_ddpm_schedule linear_schedule(genc_ctx *ctx, int T) {
    genc_ddpm_schedule s;
    CHECK(genc_ddpm_schedule_init(ctx, &s, GENC_BETA_LINEAR, T, 1e-4, 0.02) == GENC_OK);
    return s;
}

static double max_abs_diff(const float *a, const float *b, int64_t count) {
    double m = 0;
    for (int64_t i = 0; i < count; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* x0 -> latent (inversion) -> x0 (DDIM eta 0) on `S` uniform steps; max |error|. */
static double round_trip(genc_ctx *ctx, const genc_ddpm_schedule *s, genc_denoiser net, void *user, int S, int64_t n,
                         int64_t dim, const float *x0) {
    int32_t *steps = malloc((size_t)S * sizeof *steps);
    float *x = malloc((size_t)(n * dim) * sizeof *x);
    genc_sampler_opts o = genc_sampler_defaults();
    for (int64_t i = 0; i < n * dim; i++) x[i] = x0[i];
    CHECK(genc_ddim_timesteps(ctx, s->T, S, GENC_SPACING_UNIFORM, steps) == GENC_OK);
    CHECK(genc_ddim_invert(ctx, s, steps, S, net, user, n, dim, &o, x) == GENC_OK);
    CHECK(genc_ddim_sample(ctx, s, steps, S, net, user, n, dim, &o, x) == GENC_OK);
    double err = max_abs_diff(x, x0, n * dim);
    free(steps), free(x);
    return err;
}

/* Inversion round trip. The sampler evaluates eps at x_{t_next}, the inversion at x_{t_cur}
 * with the same label: a first-order mismatch, error ~ C / S, so the error must halve when S
 * doubles (ratios in 1.6..2.5). For this denoiser (data std 0.5, |x0| <= 1) C ~ 4.2 in the max
 * over 256 values (measured at S = 50, 100, 200 alike), so S = 100 is held to 6 / S = 0.06.
 * With an x-independent eps the two use the same eps and the trip is exact to float32
 * rounding (1e-5 on values of size 1 after 2 x 100 steps). */
static void test_inversion(genc_ctx *ctx) {
    genc_ddpm_schedule s = linear_schedule(ctx, 1000);
    gauss_net g = {&s, {0.3, -0.2, 0.1, 0.0}, 0.25};
    enum { N = 64, D = 4 };
    float x0[N * D];
    for (int i = 0; i < N * D; i++) x0[i] = (float)(2 * genc_philox_uniform(5, (uint64_t)i) - 1);
    double e50 = round_trip(ctx, &s, gauss_eps, &g, 50, N, D, x0);
    double e100 = round_trip(ctx, &s, gauss_eps, &g, 100, N, D, x0);
    double e200 = round_trip(ctx, &s, gauss_eps, &g, 200, N, D, x0);
    printf("inversion round trip max |err| on data in [-1,1]: S=50 %.3g, S=100 %.3g, S=200 %.3g\n", e50, e100, e200);
    CHECK_MSG(e100 < 0.06, "S = 100 round trip error %g (bound 6 / S)", e100);
    CHECK_MSG(e100 / e200 > 1.6 && e100 / e200 < 2.5, "first order in S: err(100)/err(200) = %g", e100 / e200);
    CHECK_MSG(e50 / e100 > 1.6 && e50 / e100 < 2.5, "first order in S: err(50)/err(100) = %g", e50 / e100);
    double exact = round_trip(ctx, &s, time_only_eps, NULL, 100, N, D, x0);
    CHECK_MSG(exact < 1e-5, "x-independent eps: round trip %g", exact);
    genc_ddpm_schedule_free(&s);
}

/* Run DDIM (or DDPM when steps == NULL) from seed's noise; x receives the output. */
static void sample(genc_ctx *ctx, const genc_ddpm_schedule *s, const int32_t *steps, int S, genc_denoiser net, void *user,
                   const genc_sampler_opts *o, int64_t n, int64_t dim, uint64_t noise_seed, float *x) {
    genc_gaussian_noise(noise_seed, o->first_index, n, dim, x);
    genc_status st = steps ? genc_ddim_sample(ctx, s, steps, S, net, user, n, dim, o, x)
                           : genc_ddpm_sample(ctx, s, net, user, n, dim, o, x);
    CHECK(st == GENC_OK);
}

static void test_eta0_deterministic(genc_ctx *ctx) {
    genc_ddpm_schedule s = linear_schedule(ctx, 1000);
    gauss_net g = {&s, {0.3, -0.2, 0.1, 0.0}, 0.25};
    int32_t steps[20];
    CHECK(genc_ddim_timesteps(ctx, 1000, 20, GENC_SPACING_TRAILING, steps) == GENC_OK);
    float a[32 * 3], b[32 * 3], c[32 * 3];
    genc_sampler_opts o = genc_sampler_defaults();
    o.seed = 1;
    sample(ctx, &s, steps, 20, gauss_eps, &g, &o, 32, 3, 77, a);
    sample(ctx, &s, steps, 20, gauss_eps, &g, &o, 32, 3, 77, b);
    o.seed = 2; /* the step-noise key: unused at eta = 0 */
    sample(ctx, &s, steps, 20, gauss_eps, &g, &o, 32, 3, 77, c);
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(!memcmp(a, c, sizeof a));
    o.eta = 0.5; /* and used at eta > 0 */
    sample(ctx, &s, steps, 20, gauss_eps, &g, &o, 32, 3, 77, c);
    CHECK(max_abs_diff(a, c, 32 * 3) > 1e-3);
    genc_ddpm_schedule_free(&s);
}

/* Per-step mean and variance over every sample and coordinate (observer). */
typedef struct {
    int steps;
    double *mean, *var;
} step_stats;

static genc_status collect(genc_ctx *ctx, void *user, int step, int n_steps, double t, const float *x, int64_t n,
                           int64_t dim) {
    (void)ctx, (void)n_steps, (void)t;
    step_stats *st = user;
    double sum = 0, sum2 = 0;
    for (int64_t i = 0; i < n * dim; i++) sum += x[i], sum2 += (double)x[i] * x[i];
    st->mean[step] = sum / (double)(n * dim);
    st->var[step] = sum2 / (double)(n * dim) - st->mean[step] * st->mean[step];
    st->steps = step + 1;
    return GENC_OK;
}

/* Largest |difference| over steps in units of the difference's standard error, for means
 * (se^2 = va/N + vb/N) and variances (se^2 = 2 va^2/N + 2 vb^2/N, Gaussian fourth moment). */
static void stats_z(const step_stats *a, const step_stats *b, double count, double *zmean, double *zvar) {
    *zmean = *zvar = 0;
    for (int k = 0; k < a->steps; k++) {
        double se_m = sqrt((a->var[k] + b->var[k]) / count);
        double se_v = sqrt(2 * (a->var[k] * a->var[k] + b->var[k] * b->var[k]) / count);
        *zmean = fmax(*zmean, fabs(a->mean[k] - b->mean[k]) / se_m);
        *zvar = fmax(*zvar, fabs(a->var[k] - b->var[k]) / se_v);
    }
}

/* DDIM with eta = 1 on all T steps is DDPM's fixed-small ancestral step written another way
 * (docs/diffusion_math.md), so with the same noise the trajectories agree to float rounding,
 * and with other noise the per-step statistics agree within sampling error: every step's mean
 * and variance within 5 standard errors (pooled over coordinates with different mu; both
 * samplers pool identically). The network is the Gaussian denoiser with eps scaled by 0.8:
 * with the exact denoiser every eta would give nearly the same marginals (that is DDIM's
 * point), so the negative control, DDIM eta = 0.5, could not be told apart; with a
 * miscalibrated one it must be. (DDPM fixed-large is no control: its variance differs from
 * fixed-small only where beta ~ 1e-4, 2.6 se at this sample size.) */
static void test_eta1_equals_ddpm(genc_ctx *ctx) {
    enum { T = 1000, N = 2000, D = 2 };
    genc_ddpm_schedule s = linear_schedule(ctx, T);
    gauss_net g = {&s, {0.5, -0.5, 0, 0}, 0.09, 0.8};
    int32_t *steps = malloc(T * sizeof *steps);
    CHECK(genc_ddim_timesteps(ctx, T, T, GENC_SPACING_UNIFORM, steps) == GENC_OK);
    CHECK(steps[0] == T - 1 && steps[T - 1] == 0);
    float *a = malloc(N * D * sizeof *a), *b = malloc(N * D * sizeof *b);
    step_stats sa = {0, calloc(T + 1, 8), calloc(T + 1, 8)}, sb = {0, calloc(T + 1, 8), calloc(T + 1, 8)};
    genc_sampler_opts o = genc_sampler_defaults();
    o.seed = 3, o.eta = 1;
    sample(ctx, &s, steps, T, gauss_eps, &g, &o, 200, D, 9, a); /* same noise: same path */
    sample(ctx, &s, NULL, T, gauss_eps, &g, &o, 200, D, 9, b);
    double same = max_abs_diff(a, b, 200 * D);
    printf("DDIM eta=1 S=T vs DDPM fixed-small, same noise: max |diff| %.3g\n", same);
    CHECK_MSG(same < 1e-4, "same-noise trajectories differ by %g", same);

    o.seed = 100, o.observe = collect, o.observe_user = &sa;
    sample(ctx, &s, steps, T, gauss_eps, &g, &o, N, D, 101, a);
    o.seed = 200, o.observe_user = &sb;
    sample(ctx, &s, NULL, T, gauss_eps, &g, &o, N, D, 201, b);
    double zm, zv;
    stats_z(&sa, &sb, N * D, &zm, &zv);
    printf("DDIM eta=1 vs DDPM fixed-small, other noise, %d values: worst step |dmean| %.2f se, |dvar| %.2f se; "
           "final var %.4f vs %.4f\n", N * D, zm, zv, sa.var[T], sb.var[T]);
    CHECK_MSG(zm < 5 && zv < 5, "statistics differ: %g, %g standard errors", zm, zv);
    o.eta = 0.5;
    sample(ctx, &s, steps, T, gauss_eps, &g, &o, N, D, 201, b);
    stats_z(&sa, &sb, N * D, &zm, &zv);
    printf("negative control DDIM eta=0.5: worst |dvar| %.1f se; final var %.4f\n", zv, sb.var[T]);
    CHECK_MSG(zv > 5, "eta 0.5 not told apart (%g se)", zv);
    free(steps), free(a), free(b), free(sa.mean), free(sa.var), free(sb.mean), free(sb.var);
    genc_ddpm_schedule_free(&s);
}

/* Sampling 10 samples at once or as chunks of 3 and 7 (first_index 0 and 3) is bitwise equal. */
static void test_chunked(genc_ctx *ctx) {
    enum { N = 10, D = 3 };
    genc_ddpm_schedule s = linear_schedule(ctx, 100);
    gauss_net g = {&s, {0.3, -0.2, 0.1, 0.0}, 0.25};
    int32_t steps[10];
    CHECK(genc_ddim_timesteps(ctx, 100, 10, GENC_SPACING_LINSPACE, steps) == GENC_OK);
    for (int which = 0; which < 3; which++) {
        float whole[N * D], part[N * D];
        genc_sampler_opts o = genc_sampler_defaults();
        o.seed = 5, o.eta = 0.7, o.variance = GENC_VAR_FIXED_LARGE;
        const int32_t *st = which == 0 ? NULL : steps;
        if (which < 2) sample(ctx, &s, st, 10, gauss_eps, &g, &o, N, D, 6, whole);
        o.first_index = 0;
        if (which < 2) sample(ctx, &s, st, 10, gauss_eps, &g, &o, 3, D, 6, part);
        o.first_index = 3;
        if (which < 2) sample(ctx, &s, st, 10, gauss_eps, &g, &o, 7, D, 6, part + 3 * D);
        if (which == 2) { /* rectified flow */
            genc_gaussian_noise(6, 0, N, D, whole);
            memcpy(part, whole, sizeof whole);
            CHECK(genc_rflow_sample(ctx, velocity_x, NULL, N, D, 8, GENC_ODE_HEUN, &o, whole) == GENC_OK);
            CHECK(genc_rflow_sample(ctx, velocity_x, NULL, 3, D, 8, GENC_ODE_HEUN, &o, part) == GENC_OK);
            CHECK(genc_rflow_sample(ctx, velocity_x, NULL, 7, D, 8, GENC_ODE_HEUN, &o, part + 3 * D) == GENC_OK);
        }
        CHECK_MSG(!memcmp(whole, part, sizeof whole), "sampler %d: chunked != whole", which);
    }
    genc_ddpm_schedule_free(&s);
}

typedef struct {
    int calls, stop_at;
    double t[16];
} observer_log;

static genc_status log_times(genc_ctx *ctx, void *user, int step, int n_steps, double t, const float *x, int64_t n,
                             int64_t dim) {
    (void)x, (void)n, (void)dim, (void)n_steps;
    observer_log *l = user;
    if (step != l->calls) return genc_error(ctx, GENC_ESTATE, "observer: step %d out of order", step);
    if (step < 16) l->t[step] = t;
    l->calls++;
    return l->calls == l->stop_at ? genc_error(ctx, GENC_EINTR, "stop") : GENC_OK;
}

static void test_observer(genc_ctx *ctx) {
    genc_ddpm_schedule s = linear_schedule(ctx, 1000);
    int32_t steps[4];
    CHECK(genc_ddim_timesteps(ctx, 1000, 4, GENC_SPACING_UNIFORM, steps) == GENC_OK);
    observer_log l = {0, -1, {0}};
    genc_sampler_opts o = genc_sampler_defaults();
    o.observe = log_times, o.observe_user = &l;
    float x[2 * 2];
    sample(ctx, &s, steps, 4, time_only_eps, NULL, &o, 2, 2, 1, x);
    CHECK(l.calls == 5 && l.t[0] == 750 && l.t[1] == 500 && l.t[3] == 0 && l.t[4] == -1);
    l = (observer_log){0, -1, {0}};
    CHECK(genc_ddim_invert(ctx, &s, steps, 4, time_only_eps, NULL, 2, 2, &o, x) == GENC_OK);
    CHECK(l.calls == 5 && l.t[0] == -1 && l.t[1] == 0 && l.t[4] == 750);
    l = (observer_log){0, 3, {0}}; /* an observer error stops the sampler and is returned */
    CHECK(genc_ddim_sample(ctx, &s, steps, 4, time_only_eps, NULL, 2, 2, &o, x) == GENC_EINTR && l.calls == 3);
    genc_clear_error(ctx);
    l = (observer_log){0, -1, {0}};
    CHECK(genc_rflow_sample(ctx, velocity_x, NULL, 2, 2, 4, GENC_ODE_EULER, &o, x) == GENC_OK);
    CHECK(l.calls == 5 && l.t[0] == 0 && l.t[2] == 0.5 && l.t[4] == 1);
    genc_ddpm_schedule_free(&s);
}

/* dZ/dt = Z from Z0 = 1 gives e at t = 1. Euler's error is ~ e / (2N) (first order), Heun's
 * ~ e / (6N^2) (second order): doubling N must halve / quarter them (ratios within 10%). */
static double ode_error(genc_ode_method m, int steps, genc_ctx *ctx) {
    float x = 1.0f;
    genc_sampler_opts o = genc_sampler_defaults();
    CHECK(genc_rflow_sample(ctx, velocity_x, NULL, 1, 1, steps, m, &o, &x) == GENC_OK);
    return fabs(x - exp(1.0));
}

static void test_ode_orders(genc_ctx *ctx) {
    double e10 = ode_error(GENC_ODE_EULER, 10, ctx), e20 = ode_error(GENC_ODE_EULER, 20, ctx);
    double h10 = ode_error(GENC_ODE_HEUN, 10, ctx), h20 = ode_error(GENC_ODE_HEUN, 20, ctx);
    printf("dZ/dt = Z: Euler err N=10 %.3g N=20 %.3g; Heun err N=10 %.3g N=20 %.3g\n", e10, e20, h10, h20);
    CHECK_CLOSE(e10 / e20, 2.0, 0.1, 0);
    CHECK_CLOSE(h10 / h20, 4.0, 0.1, 0);
    CHECK(h10 < e10 / 10);
}

/* Straightness: 0 for a constant field; for dZ/dt = Z, Z_t = Z0 e^t and
 * S = E||Z0||^2 int_0^1 (e - 1 - e^t)^2 dt = E||Z0||^2 (e - 1)(3 - e) / 2; Euler with 2000 steps
 * is within O(1/N) ~ 0.1% of it (assert 0.5%). */
static void test_straightness(genc_ctx *ctx) {
    enum { N = 16, D = 3 };
    float z[N * D], x1[N * D];
    genc_gaussian_noise(12, 0, N, D, z);
    double sv = -1, z2 = 0;
    CHECK(genc_rflow_straightness(ctx, velocity_const, NULL, N, D, 50, z, &sv) == GENC_OK);
    CHECK_MSG(fabs(sv) < 1e-9, "straight field: S = %g", sv);
    for (int i = 0; i < N * D; i++) z2 += (double)z[i] * z[i];
    double expect = z2 / N * (exp(1) - 1) * (3 - exp(1)) / 2;
    CHECK(genc_rflow_straightness_ex(ctx, velocity_x, NULL, N, D, 2000, z, x1, &sv) == GENC_OK);
    printf("straightness of dZ/dt = Z: %.6f, exact %.6f\n", sv, expect);
    CHECK_CLOSE(sv, expect, 5e-3, 0);
    CHECK_CLOSE(x1[0], z[0] * exp(1), 1e-3, 1e-6);
}

static void test_schedules(genc_ctx *ctx) {
    genc_ddpm_schedule s;
    CHECK(genc_ddpm_schedule_init(ctx, &s, GENC_BETA_COSINE, 1000, 0, 0) == GENC_OK);
    bool decreasing = true;
    for (int t = 1; t < s.T; t++) decreasing &= s.alpha_bar[t] < s.alpha_bar[t - 1];
    CHECK(decreasing && s.beta[999] == 0.999 && s.alpha_bar[0] > 0.9999);
    genc_ddpm_schedule_free(&s);
    CHECK(genc_ddpm_schedule_init(ctx, &s, GENC_BETA_LINEAR, 1000, 1e-4, 0.02) == GENC_OK);
    CHECK_CLOSE(s.beta[999], 0.02, 1e-12, 0);
    CHECK_CLOSE(s.alpha_bar[999], 4.035829e-5, 1e-5, 0); /* prod(1 - linspace(1e-4, 0.02, 1000)) */
    genc_ddpm_schedule_free(&s);
    int32_t ts[10];
    CHECK(genc_ddim_timesteps(ctx, 1000, 10, GENC_SPACING_TRAILING, ts) == GENC_OK && ts[0] == 999 && ts[9] == 99);
}

#define CHECK_ERR(call) do { genc_clear_error(ctx); CHECK((call) == GENC_EINVAL); \
    CHECK(genc_last_error(ctx)[0] != '\0'); genc_clear_error(ctx); } while (0)

static void test_bad_args(genc_ctx *ctx) {
    genc_ddpm_schedule s = linear_schedule(ctx, 100), bad;
    int32_t steps[200];
    float x[4] = {0};
    genc_sampler_opts o = genc_sampler_defaults();
    genc_beta_schedule b;
    genc_prediction p;
    genc_spacing sp;
    genc_ode_method m;
    genc_ddpm_variance v;
    CHECK_ERR(genc_ddim_timesteps(ctx, 100, 101, GENC_SPACING_UNIFORM, steps));
    CHECK_ERR(genc_ddim_timesteps(ctx, 100, 0, GENC_SPACING_UNIFORM, steps));
    CHECK_ERR(genc_ddim_sample(ctx, &s, steps, 101, time_only_eps, NULL, 1, 4, &o, x));
    CHECK_ERR(genc_ddim_sample(ctx, &s, steps, 0, time_only_eps, NULL, 1, 4, &o, x));
    CHECK_ERR(genc_ddpm_schedule_init(ctx, &bad, GENC_BETA_LINEAR, 0, 1e-4, 0.02));
    CHECK_ERR(genc_ddpm_schedule_init(ctx, &bad, GENC_BETA_LINEAR, 10, 0.02, 1e-4));
    CHECK_ERR(genc_beta_schedule_parse(ctx, "quadratic", &b));
    CHECK_ERR(genc_prediction_parse(ctx, "noise", &p));
    CHECK_ERR(genc_prediction_parse(ctx, NULL, &p));
    CHECK_ERR(genc_spacing_parse(ctx, "karras", &sp));
    CHECK_ERR(genc_ode_method_parse(ctx, "rk4", &m));
    CHECK_ERR(genc_variance_parse(ctx, "learned", &v));
    steps[0] = 10, steps[1] = 50; /* increasing */
    CHECK_ERR(genc_ddim_sample(ctx, &s, steps, 2, time_only_eps, NULL, 1, 4, &o, x));
    steps[0] = 100; /* out of range */
    CHECK_ERR(genc_ddim_invert(ctx, &s, steps, 1, time_only_eps, NULL, 1, 4, &o, x));
    steps[0] = 5;
    o.eta = 1.5;
    CHECK_ERR(genc_ddim_sample(ctx, &s, steps, 1, time_only_eps, NULL, 1, 4, &o, x));
    o.eta = 0;
    CHECK_ERR(genc_ddpm_sample(ctx, &s, NULL, NULL, 1, 4, &o, x));
    CHECK_ERR(genc_ddpm_sample(ctx, &s, time_only_eps, NULL, 0, 4, &o, x));
    CHECK_ERR(genc_rflow_sample(ctx, velocity_x, NULL, 1, 4, 0, GENC_ODE_EULER, &o, x));
    double sv;
    CHECK_ERR(genc_rflow_straightness(ctx, velocity_x, NULL, 1, 4, 0, x, &sv));
    CHECK(genc_beta_schedule_parse(ctx, "squaredcos_cap_v2", &b) == GENC_OK && b == GENC_BETA_COSINE);
    CHECK(genc_spacing_parse(ctx, "leading", &sp) == GENC_OK && sp == GENC_SPACING_UNIFORM);
    CHECK(genc_prediction_parse(ctx, "v_prediction", &p) == GENC_OK && p == GENC_PRED_V);
    genc_ddpm_schedule_free(&s);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    test_schedules(ctx);
    test_bad_args(ctx);
    test_observer(ctx);
    test_chunked(ctx);
    test_eta0_deterministic(ctx);
    test_ode_orders(ctx);
    test_straightness(ctx);
    test_inversion(ctx);
    test_eta1_equals_ddpm(ctx);
    genc_ctx_free(ctx);
    return test_report("test_diffusion");
}
