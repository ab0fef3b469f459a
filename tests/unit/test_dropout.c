/* Dropout (float build): the mask is the same with 1 and 2 threads and follows the Philox
 * stream (element i kept iff philox_uniform(seed, first + i) >= p), the keep fraction is near
 * 1 - p on 100k elements, kept values are scaled by 1 / (1 - p), backward uses the same mask,
 * and the op is the identity when p == 0 or grad mode is off; p outside [0, 1) is an error. */
#include "genc/genc.h"
#include "test.h"

#include <omp.h>
#include <stdlib.h>

#define NEL 100000

/* y = dropout(x) from stream offset 0 with n threads, copied into out. */
static void run(genc_ctx *ctx, genc_tensor *x, double p, int threads, genc_real *out) {
    genc_set_threads(ctx, threads);
    genc_step_reset(ctx);
    genc_rng_set_offset(ctx, 0);
    genc_tensor *y = genc_dropout(ctx, x, p);
    CHECK(y != NULL && y != x);
    if (y) memcpy(out, y->data, NEL * sizeof *out);
}

static void check_mask(genc_ctx *ctx, genc_tensor *x, double p) {
    genc_real *y1 = malloc(NEL * sizeof *y1), *y2 = malloc(NEL * sizeof *y2);
    run(ctx, x, p, 1, y1);
    run(ctx, x, p, 2, y2);
    CHECK(memcmp(y1, y2, NEL * sizeof *y1) == 0);
    CHECK(genc_rng_offset(ctx) == NEL); /* reserved exactly numel draws */
    int64_t kept = 0, bad_scale = 0, bad_stream = 0;
    uint64_t seed = genc_rng_get_seed(ctx);
    for (int64_t i = 0; i < NEL; i++) {
        bool keep = y1[i] != 0;
        kept += keep;
        if (keep && fabs(y1[i] - x->data[i] / (1 - p)) > 1e-6 * fabs(x->data[i] / (1 - p))) bad_scale++;
        if (keep != (genc_philox_uniform(seed, (uint64_t)i) >= p)) bad_stream++;
    }
    double frac = (double)kept / NEL, sd = sqrt(p * (1 - p) / NEL);
    CHECK_MSG(fabs(frac - (1 - p)) < 5 * sd, "p = %g: kept %.4f, expected %.4f", p, frac, 1 - p);
    CHECK(bad_scale == 0);
    CHECK(bad_stream == 0);
    free(y1), free(y2);
}

static void check_backward(genc_ctx *ctx, genc_tensor *x, double p) {
    genc_step_reset(ctx);
    memset(x->grad, 0, NEL * sizeof(genc_real));
    genc_tensor *y = genc_dropout(ctx, x, p);
    genc_real *seed = malloc(NEL * sizeof *seed);
    for (int64_t i = 0; i < NEL; i++) seed[i] = (genc_real)(1 + i % 7);
    CHECK(y && genc_backward_with(ctx, y, seed) == GENC_OK);
    int64_t bad = 0;
    for (int64_t i = 0; y && i < NEL; i++) {
        genc_real want = y->data[i] != 0 ? seed[i] / (genc_real)(1 - p) : 0;
        bad += fabs(x->grad[i] - want) > 1e-6 * fabs(want);
    }
    CHECK_MSG(bad == 0, "%lld gradient elements do not follow the forward mask", (long long)bad);
    free(seed);
}

static void check_identity_and_errors(genc_ctx *ctx, genc_tensor *x) {
    genc_step_reset(ctx);
    uint64_t off = genc_rng_offset(ctx);
    CHECK(genc_dropout(ctx, x, 0) == x);
    bool old = genc_set_grad_enabled(ctx, false);
    CHECK(genc_dropout(ctx, x, 0.5) == x);
    genc_set_grad_enabled(ctx, old);
    CHECK(genc_rng_offset(ctx) == off); /* the identity draws nothing */
    CHECK(genc_dropout(ctx, x, 1.0) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "dropout") != NULL);
    genc_clear_error(ctx);
    CHECK(genc_dropout(ctx, x, -0.1) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    genc_clear_error(ctx);
    CHECK(genc_dropout(ctx, NULL, 0.5) == NULL && genc_ctx_status(ctx) == GENC_OK);
    /* consecutive calls draw fresh masks */
    genc_tensor *a = genc_dropout(ctx, x, 0.5), *b = genc_dropout(ctx, x, 0.5);
    CHECK(a && b && memcmp(a->data, b->data, NEL * sizeof(genc_real)) != 0);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_rng_seed(ctx, 1234);
    int64_t shape[2] = {250, 400};
    genc_tensor *x = genc_param_new(ctx, "x", 2, shape);
    for (int64_t i = 0; i < NEL; i++) x->data[i] = (genc_real)(0.5 + genc_philox_uniform(99, (uint64_t)i));
    check_mask(ctx, x, 0.1);
    check_mask(ctx, x, 0.5);
    check_mask(ctx, x, 0.9);
    genc_set_threads(ctx, 2);
    check_backward(ctx, x, 0.3);
    check_identity_and_errors(ctx, x);
    genc_tensor_free(x);
    genc_ctx_free(ctx);
    return test_report("test_dropout");
}
