/* Unit tests for KID (src/image/kid.c), precision/recall/density/coverage (src/image/prdc.c),
 * the t interval helper and the feature network's hash:
 * - KID and every block estimate against a direct double-loop computation of the unbiased
 *   MMD^2 (cubic kernel), to 1e-10 relative;
 * - unbiasedness: over 400 draws of two small samples of the same distribution the mean KID is
 *   within 3 standard errors of 0 (the biased V-statistic is not);
 * - a shifted distribution gives an interval above 0, the same one an interval around 0;
 * - precision, recall, density and coverage on integer points on lines, where each is known
 *   by hand (distances are exact in double);
 * - the hash: equal for equal weights, different after a one-ulp change. */
#include "genc/fid.h"
#include "test.h"

#include <stdlib.h>

static double kern(const float *x, const float *y, int d) {
    double dot = 0;
    for (int j = 0; j < d; j++) dot += (double)x[j] * y[j];
    dot = dot / d + 1;
    return dot * dot * dot;
}

/* The unbiased MMD^2 of rows [a0, a1) of x and [b0, b1) of y, by the definition. */
static double mmd_direct(const float *x, int64_t a0, int64_t a1, const float *y, int64_t b0, int64_t b1, int d) {
    double sxx = 0, syy = 0, sxy = 0;
    int64_t m = a1 - a0, n = b1 - b0;
    for (int64_t i = a0; i < a1; i++)
        for (int64_t j = a0; j < a1; j++)
            if (i != j) sxx += kern(x + i * d, x + j * d, d);
    for (int64_t i = b0; i < b1; i++)
        for (int64_t j = b0; j < b1; j++)
            if (i != j) syy += kern(y + i * d, y + j * d, d);
    for (int64_t i = a0; i < a1; i++)
        for (int64_t j = b0; j < b1; j++) sxy += kern(x + i * d, y + j * d, d);
    return sxx / ((double)m * (m - 1)) + syy / ((double)n * (n - 1)) - 2 * sxy / ((double)m * n);
}

static void gaussian(float *x, int64_t n, int d, uint64_t seed, double shift) {
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)(genc_philox_normal(seed, (uint64_t)i) + (i % d == 0 ? shift : 0));
}

static void test_kid_direct(genc_ctx *ctx) {
    enum { NA = 43, NB = 31, D = 6, B = 4 };
    float x[NA * D], y[NB * D];
    gaussian(x, NA, D, 11, 0), gaussian(y, NB, D, 12, 0.7);
    genc_kid_result r;
    CHECK(genc_kid(ctx, x, NA, y, NB, D, B, &r) == GENC_OK);
    CHECK_CLOSE(r.kid, mmd_direct(x, 0, NA, y, 0, NB, D), 1e-10, 1e-14);
    double est[B], mean, sd, half;
    for (int b = 0; b < B; b++)
        est[b] = mmd_direct(x, (int64_t)b * NA / B, (int64_t)(b + 1) * NA / B, y, (int64_t)b * NB / B,
                            (int64_t)(b + 1) * NB / B, D);
    genc_mean_interval(est, B, &mean, &sd, &half);
    CHECK_CLOSE(r.block_sd, sd, 1e-9, 1e-14);
    CHECK_CLOSE(r.hi - r.kid, 3.182 * sd / 2, 1e-9, 1e-14); /* t_{3, 0.975} = 3.182 */
    CHECK_CLOSE(r.kid - r.lo, r.hi - r.kid, 1e-12, 1e-15);
    CHECK(r.blocks == B);
}

/* The biased V-statistic: every pair, the diagonal included. */
static double mmd_biased(const float *x, const float *y, int n, int d) {
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            sxx += kern(x + i * d, x + j * d, d), syy += kern(y + i * d, y + j * d, d), sxy += kern(x + i * d, y + j * d, d);
    return (sxx + syy - 2 * sxy) / ((double)n * n);
}

static void test_kid_unbiased(genc_ctx *ctx) {
    enum { N = 12, D = 3, DRAWS = 400 };
    float x[N * D], y[N * D];
    double v[DRAWS], w[DRAWS];
    for (int t = 0; t < DRAWS; t++) {
        gaussian(x, N, D, 1000 + 2 * (uint64_t)t, 0), gaussian(y, N, D, 1001 + 2 * (uint64_t)t, 0);
        genc_kid_result r;
        CHECK(genc_kid(ctx, x, N, y, N, D, 2, &r) == GENC_OK);
        v[t] = r.kid, w[t] = mmd_biased(x, y, N, D);
    }
    double mean, sd, bmean, bsd;
    genc_mean_interval(v, DRAWS, &mean, &sd, NULL);
    genc_mean_interval(w, DRAWS, &bmean, &bsd, NULL);
    double se = sd / sqrt((double)DRAWS), bse = bsd / sqrt((double)DRAWS);
    printf("same distribution, %d draws: KID mean %.5f (se %.5f); biased V-statistic %.5f (se %.5f)\n", DRAWS, mean, se,
           bmean, bse);
    CHECK_MSG(fabs(mean) < 3 * se, "mean %.5f, se %.5f", mean, se);
    CHECK_MSG(bmean > 3 * bse, "the test cannot tell: biased mean %.5f, se %.5f", bmean, bse);
}

static void test_kid_interval(genc_ctx *ctx) {
    enum { N = 400, D = 8 };
    float *x = malloc(sizeof(float) * N * D), *y = malloc(sizeof(float) * N * D), *z = malloc(sizeof(float) * N * D);
    gaussian(x, N, D, 21, 0), gaussian(y, N, D, 22, 0), gaussian(z, N, D, 23, 0.5);
    genc_kid_result same, shifted;
    CHECK(genc_kid(ctx, x, N, y, N, D, 10, &same) == GENC_OK);
    CHECK(genc_kid(ctx, x, N, z, N, D, 10, &shifted) == GENC_OK);
    printf("KID same %.5f [%.5f, %.5f], shifted %.5f [%.5f, %.5f]\n", same.kid, same.lo, same.hi, shifted.kid, shifted.lo,
           shifted.hi);
    CHECK(same.lo < 0 && same.hi > 0);
    CHECK(shifted.lo > 0 && shifted.kid > same.hi);
    genc_kid_result bad;
    CHECK(genc_kid(ctx, x, 3, y, N, D, 2, &bad) == GENC_EINVAL);
    genc_clear_error(ctx);
    free(x), free(y), free(z);
}

/* Real: 100 points (p, 0), p = 0..99. Generated: (p, 0) and (p, 1000) for p = 0..49. k = 3:
 * a real ball reaches 2 (3 at the ends p = 0, 99); a generated one on y = 0 reaches 2 (3 at
 * p = 0 and 49). Precision: the 50 on the line are in real balls, the far 50 not: 0.5.
 * Recall: reals 0..49 are generated points, 50..52 lie within 3 of generated 49: 53/100.
 * Coverage: real balls 0..49 hold their twin, 50 and 51 hold 49 (distance <= 2), 52 not:
 * 52/100. Density: generated p lies in the real balls of |r - p| <= 2, plus ball 0 (radius
 * 3) for p = 3 and minus the balls r < 0: p = 0, 1, 2, 3 -> 3, 4, 5, 6; 4..49 -> 5 each:
 * 248 / (3 * 100). */
static void test_prdc_known(genc_ctx *ctx) {
    enum { NR = 100, NF = 100, D = 2 };
    float real[NR * D], fake[NF * D];
    for (int p = 0; p < NR; p++) real[p * D] = (float)p, real[p * D + 1] = 0;
    for (int p = 0; p < 50; p++) {
        fake[p * D] = (float)p, fake[p * D + 1] = 0;
        fake[(50 + p) * D] = (float)p, fake[(50 + p) * D + 1] = 1000;
    }
    genc_prdc_result r;
    CHECK(genc_prdc(ctx, real, NR, fake, NF, D, 3, &r) == GENC_OK);
    printf("precision %.4f recall %.4f density %.4f coverage %.4f\n", r.precision, r.recall, r.density, r.coverage);
    CHECK_CLOSE(r.precision, 0.5, 0, 1e-12);
    CHECK_CLOSE(r.recall, 0.53, 0, 1e-12);
    CHECK_CLOSE(r.coverage, 0.52, 0, 1e-12);
    CHECK_CLOSE(r.density, 248.0 / 300.0, 0, 1e-12);
    CHECK(r.k == 3);
    /* The same set twice: every point is in its own ball. */
    CHECK(genc_prdc(ctx, real, NR, real, NR, D, 3, &r) == GENC_OK);
    CHECK(r.precision == 1 && r.recall == 1 && r.coverage == 1);
    CHECK(genc_prdc(ctx, real, 3, fake, NF, D, 3, &r) == GENC_EINVAL);
    genc_clear_error(ctx);
}

static void test_interval(void) {
    double v[3] = {1, 2, 3}, mean, sd, half;
    genc_mean_interval(v, 3, &mean, &sd, &half);
    CHECK_CLOSE(mean, 2, 0, 1e-15);
    CHECK_CLOSE(sd, 1, 0, 1e-15);
    CHECK_CLOSE(half, 4.303 / sqrt(3.0), 1e-12, 0);
    CHECK_CLOSE(genc_t_quantile_975(9), 2.262, 0, 1e-12);
    CHECK(fabs(genc_t_quantile_975(1000) - 1.962) < 0.002);
}

static void test_hash(genc_ctx *ctx) {
    genc_classifier a, b;
    genc_classifier_config c = genc_classifier_defaults();
    c.channels[0] = 2, c.channels[1] = 3, c.hidden = 8;
    genc_rng_seed(ctx, 5);
    CHECK(genc_classifier_init(ctx, &a, &c) == GENC_OK);
    genc_rng_seed(ctx, 5);
    CHECK(genc_classifier_init(ctx, &b, &c) == GENC_OK);
    CHECK(genc_classifier_hash(&a) == genc_classifier_hash(&b));
    float v = (float)b.fc1_w->data[7];
    b.fc1_w->data[7] = nextafterf(v, 1.0f);
    CHECK(genc_classifier_hash(&a) != genc_classifier_hash(&b));
    genc_classifier_free(&a), genc_classifier_free(&b);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 1);
    test_kid_direct(ctx);
    test_kid_unbiased(ctx);
    test_kid_interval(ctx);
    test_prdc_known(ctx);
    test_interval();
    test_hash(ctx);
    genc_ctx_free(ctx);
    return test_report("test_kid");
}
