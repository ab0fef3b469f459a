/* FID unit tests (src/image/fid.c): the symmetric eigen-solver (A v = lambda v, orthonormal
 * vectors), mean and unbiased covariance against the textbook sums, FID(a, a) = 0, a pure
 * mean shift gives ||shift||^2, and commuting covariances Q diag(a) Q^T, Q diag(b) Q^T give
 * the closed form sum (sqrt a_i - sqrt b_i)^2, plus the errors a caller can cause.
 *
 * Tolerances: everything after the features is double; FIDs of order 1..100 built from
 * eigenvalues with ~1e-15 relative error agree to 1e-8 absolute, except where a covariance is
 * singular (the square root of a rounded zero eigenvalue, see test_closed_form). */
#include "genc/fid.h"
#include "test.h"

#include <stdlib.h>

/* A random orthogonal d x d matrix (rows) by Gram-Schmidt on Gaussian rows. */
static void random_orthogonal(double *q, int d, uint64_t seed) {
    for (int i = 0; i < d * d; i++) q[i] = genc_philox_normal(seed, (uint64_t)i);
    for (int r = 0; r < d; r++) {
        for (int p = 0; p < r; p++) {
            double dot = 0;
            for (int j = 0; j < d; j++) dot += q[r * d + j] * q[p * d + j];
            for (int j = 0; j < d; j++) q[r * d + j] -= dot * q[p * d + j];
        }
        double nrm = 0;
        for (int j = 0; j < d; j++) nrm += q[r * d + j] * q[r * d + j];
        for (int j = 0; j < d; j++) q[r * d + j] /= sqrt(nrm);
    }
}

/* c = Q^T diag(lambda) Q. */
static void compose(double *c, const double *q, const double *lambda, int d) {
    for (int r = 0; r < d; r++)
        for (int s = 0; s < d; s++) {
            double v = 0;
            for (int k = 0; k < d; k++) v += q[k * d + r] * lambda[k] * q[k * d + s];
            c[r * d + s] = v;
        }
}

static void test_eigen(genc_ctx *ctx) {
    enum { D = 7 };
    double a[D * D], v[D * D], w[D];
    for (int r = 0; r < D; r++)
        for (int s = 0; s <= r; s++) a[r * D + s] = a[s * D + r] = genc_philox_normal(5, (uint64_t)(r * D + s));
    memcpy(v, a, sizeof a);
    CHECK(genc_sym_eig(ctx, v, D, w, true) == GENC_OK);
    for (int k = 1; k < D; k++) CHECK(w[k - 1] <= w[k]);
    for (int k = 0; k < D; k++) {
        double err = 0, nrm = 0;
        for (int r = 0; r < D; r++) {
            double av = 0;
            for (int s = 0; s < D; s++) av += a[r * D + s] * v[k * D + s];
            err = fmax(err, fabs(av - w[k] * v[k * D + r]));
            nrm += v[k * D + r] * v[k * D + r];
        }
        CHECK_CLOSE(err, 0, 0, 1e-12);
        CHECK_CLOSE(nrm, 1, 0, 1e-12);
    }
}

static void test_stats(genc_ctx *ctx) {
    enum { N = 50, D = 4 };
    float f[N * D];
    for (int i = 0; i < N * D; i++) f[i] = (float)genc_philox_normal(11, (uint64_t)i) * (1 + i % D);
    genc_fid_stats s;
    CHECK(genc_fid_stats_compute(ctx, f, N, D, &s) == GENC_OK);
    for (int j = 0; j < D; j++) {
        double m = 0;
        for (int i = 0; i < N; i++) m += f[i * D + j];
        m /= N;
        CHECK_CLOSE(s.mean[j], m, 1e-12, 1e-12);
        for (int k = 0; k < D; k++) {
            double mk = 0, c = 0;
            for (int i = 0; i < N; i++) mk += f[i * D + k];
            mk /= N;
            for (int i = 0; i < N; i++) c += (f[i * D + j] - m) * (f[i * D + k] - mk);
            CHECK_CLOSE(s.cov[j * D + k], c / (N - 1), 1e-10, 1e-12);
        }
    }
    genc_fid_stats_free(&s);
}

static void test_identity_and_shift(genc_ctx *ctx) {
    enum { N = 400, D = 16 };
    float *a = malloc(sizeof(float) * N * D), *b = malloc(sizeof(float) * N * D);
    double shift2 = 0, shift[D];
    for (int j = 0; j < D; j++) shift[j] = 0.25 * (j - 5), shift2 += shift[j] * shift[j];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) {
            /* correlated features: a running sum of Gaussians */
            a[i * D + j] = (float)genc_philox_normal(3, (uint64_t)(i * D + j)) + (j ? a[i * D + j - 1] * 0.5f : 0);
            b[i * D + j] = a[i * D + j] + (float)shift[j];
        }
    genc_fid_stats sa, sb;
    CHECK(genc_fid_stats_compute(ctx, a, N, D, &sa) == GENC_OK);
    CHECK(genc_fid_stats_compute(ctx, b, N, D, &sb) == GENC_OK);
    double fid = -1;
    CHECK(genc_fid_frechet(ctx, &sa, &sa, &fid) == GENC_OK);
    CHECK_CLOSE(fid, 0, 0, 1e-9);
    CHECK(genc_fid_frechet(ctx, &sa, &sb, &fid) == GENC_OK);
    /* b's float rounding perturbs its covariance by ~1e-7 relative: FID = shift^2 + O(1e-7) */
    CHECK_CLOSE(fid, shift2, 1e-5, 1e-5);
    genc_fid_stats_free(&sa), genc_fid_stats_free(&sb);
    free(a), free(b);
}

/* Commuting covariances: FID = ||dmu||^2 + sum_i (sqrt a_i - sqrt b_i)^2. */
static void test_closed_form(genc_ctx *ctx) {
    enum { D = 12 };
    double q[D * D], la[D], lb[D], ca[D * D], cb[D * D], ma[D], mb[D], expect = 0;
    random_orthogonal(q, D, 17);
    for (int i = 0; i < D; i++) {
        la[i] = 0.5 + i, lb[i] = i % 3 == 0 ? 0 : 4.0 / (1 + i); /* b is singular (PSD, rank < D) */
        ma[i] = 0.1 * i, mb[i] = -0.2 * i;
        expect += (sqrt(la[i]) - sqrt(lb[i])) * (sqrt(la[i]) - sqrt(lb[i])) + (ma[i] - mb[i]) * (ma[i] - mb[i]);
    }
    compose(ca, q, la, D), compose(cb, q, lb, D);
    genc_fid_stats a = {.dim = D, .n = 100, .mean = ma, .cov = ca}, b = {.dim = D, .n = 100, .mean = mb, .cov = cb};
    double fab = -1, fba = -1;
    CHECK(genc_fid_frechet(ctx, &a, &b, &fab) == GENC_OK);
    CHECK(genc_fid_frechet(ctx, &b, &a, &fba) == GENC_OK);
    /* b is singular: its zero eigenvalues come out of dsyev as +-eps ||M|| (~1e-14 here), and
     * sqrt turns that into ~1e-7 each; 2 D sqrt(eps ||M||) = 2 * 12 * sqrt(2.2e-16 * 60) bounds it. */
    CHECK_CLOSE(fab, expect, 0, 3e-6);
    CHECK_CLOSE(fba, expect, 0, 3e-6); /* symmetric although the computation is not */
}

/* Non-commuting covariances: the 1-D case generalises as tr(C_a C_b)^(1/2) for 2x2 SPD
 * matrices = sqrt(tr(C_a C_b) + 2 sqrt(det(C_a C_b))). */
static void test_two_by_two(genc_ctx *ctx) {
    double ca[4] = {2, 0.7, 0.7, 1}, cb[4] = {0.5, -0.3, -0.3, 3}, m0[2] = {0, 0};
    double p00 = ca[0] * cb[0] + ca[1] * cb[2], p11 = ca[2] * cb[1] + ca[3] * cb[3];
    double det = (ca[0] * ca[3] - ca[1] * ca[2]) * (cb[0] * cb[3] - cb[1] * cb[2]);
    double tr_sqrt = sqrt(p00 + p11 + 2 * sqrt(det));
    double expect = ca[0] + ca[3] + cb[0] + cb[3] - 2 * tr_sqrt, fid = -1;
    genc_fid_stats a = {.dim = 2, .n = 10, .mean = m0, .cov = ca}, b = {.dim = 2, .n = 10, .mean = m0, .cov = cb};
    CHECK(genc_fid_frechet(ctx, &a, &b, &fid) == GENC_OK);
    CHECK_CLOSE(fid, expect, 0, 1e-12);
}

static void test_errors(genc_ctx *ctx) {
    float f[4] = {1, 2, 3, 4};
    genc_fid_stats s;
    CHECK(genc_fid_stats_compute(ctx, f, 1, 4, &s) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "at least 2 images") != NULL);
    genc_clear_error(ctx);
    double m[2] = {0}, c1[1] = {1}, c2[4] = {1, 0, 0, 1}, fid;
    genc_fid_stats a = {.dim = 1, .n = 2, .mean = m, .cov = c1}, b = {.dim = 2, .n = 2, .mean = m, .cov = c2};
    CHECK(genc_fid_frechet(ctx, &a, &b, &fid) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "feature widths differ (1 and 2)") != NULL);
    genc_clear_error(ctx);
}

/* Features of a real (randomly initialised) classifier: deterministic, batch-independent. */
static void test_features(genc_ctx *ctx) {
    genc_classifier m;
    genc_classifier_config c = genc_classifier_defaults();
    c.rows = c.cols = 28, c.classes = 10, c.channels[0] = 4, c.channels[1] = 8, c.hidden = 16;
    CHECK(genc_classifier_init(ctx, &m, &c) == GENC_OK);
    enum { N = 600 }; /* more than one feature batch */
    float *img = malloc(sizeof(float) * N * 784), *f1 = malloc(sizeof(float) * N * 16), *f2 = malloc(sizeof(float) * 16);
    for (int i = 0; i < N * 784; i++) img[i] = (float)genc_philox_uniform(8, (uint64_t)i);
    CHECK(genc_fid_features(ctx, &m, img, N, f1) == GENC_OK);
    CHECK(genc_fid_features(ctx, &m, img + 555 * 784, 1, f2) == GENC_OK);
    double err = 0;
    for (int j = 0; j < 16; j++) err = fmax(err, fabs(f1[555 * 16 + j] - f2[j]));
    CHECK_CLOSE(err, 0, 0, 1e-5);
    genc_fid_stats s;
    CHECK(genc_fid_image_stats(ctx, &m, img, N, &s) == GENC_OK);
    CHECK(s.dim == 16 && s.n == N);
    double fid = -1;
    CHECK(genc_fid_frechet(ctx, &s, &s, &fid) == GENC_OK);
    CHECK_CLOSE(fid, 0, 0, 1e-9);
    genc_fid_stats_free(&s);
    genc_classifier_free(&m);
    free(img), free(f1), free(f2);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 1);
    test_eigen(ctx);
    test_stats(ctx);
    test_identity_and_shift(ctx);
    test_closed_form(ctx);
    test_two_by_two(ctx);
    test_errors(ctx);
    test_features(ctx);
    genc_ctx_free(ctx);
    return test_report("test_fid");
}
