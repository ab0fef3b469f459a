/* The low-precision linear layer (src/ops/qlinear.c; DeepSeek-V3 report section 3.3.1, figure
 * 6): its Fprop, Dgrad and Wgrad equal the three quantised GEMMs written out here (the group
 * shape of every operand along each GEMM's inner dimension, the 14-bit accumulator with
 * promotion every 128), in FP8 and BF16; FP32 mode is genc_linear bit for bit. Sizes are not
 * multiples of 128, so every operand has ragged tiles and blocks. */
#include "genc/fp8.h"
#include "genc/ops.h"
#include "test.h"

#include <string.h>

enum { M = 150, IN = 200, OUT = 131 };

static void fill(float *p, int64_t n, float scale, int seed) {
    for (int64_t i = 0; i < n; i++) p[i] = scale * sinf(0.731f * (float)(i + 1) * (float)seed + 0.3f * (float)(i % 7));
}

static void transpose(const float *s, int64_t r, int64_t c, float *d) {
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) d[j * r + i] = s[i * c + j];
}

/* C [m, n] = A [m, k] B [k, n] with A in ga groups and B in gb groups, as the mode says. */
static void expect(const genc_qmode *q, const float *A, const float *B, int64_t m, int64_t n, int64_t k,
                   const int64_t ga[2], const int64_t gb[2], float *C) {
    float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(k * n));
    if (q->prec == GENC_PREC_FP8) {
        genc_fp8_qdq(A, m, k, k, ga[0], ga[1], a, k, NULL), genc_fp8_qdq(B, k, n, n, gb[0], gb[1], b, n, NULL);
        genc_fp8_gemm_acc(m, n, k, a, k, b, n, 0, C, n, q->promote, GENC_FP8_ACC_BITS);
    } else {
        genc_bf16_qdq(A, m, k, k, a, k), genc_bf16_qdq(B, k, n, n, b, n);
        genc_gemm(false, false, m, n, k, 1, a, k, b, n, 0, C, n);
    }
    free(a), free(b);
}

static int count_diff(const float *a, const float *b, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) bad += a[i] != b[i];
    return bad;
}

static void test_mode(genc_ctx *ctx, genc_qmode q) {
    genc_tensor *x = genc_param_new(ctx, "x", 2, (int64_t[]){M, IN}), *w = genc_param_new(ctx, "w", 2, (int64_t[]){OUT, IN});
    static float dy[M * OUT], wt[IN * OUT], dyt[OUT * M], want[M * IN > OUT * IN ? M * IN : OUT * IN];
    fill(x->data, M * IN, 2.0f, 1), fill(w->data, OUT * IN, 0.05f, 2), fill(dy, M * OUT, 1e-3f, 3);
    x->data[17] = 300.0f; /* an outlier in one tile */
    genc_tensor *y = genc_linear_q(ctx, x, w, &q);
    CHECK(y && genc_backward_with(ctx, y, dy) == GENC_OK);
    if (!y) return;
    const int64_t row[2] = {1, 128}, col[2] = {128, 1}, blk[2] = {128, 128};
    transpose(w->data, OUT, IN, wt);
    expect(&q, x->data, wt, M, OUT, IN, row, blk, want);
    CHECK_MSG(count_diff(y->data, want, M * OUT) == 0, "%s Fprop: %d differ", genc_precision_name(q.prec),
              count_diff(y->data, want, M * OUT));
    expect(&q, dy, w->data, M, IN, OUT, row, blk, want);
    CHECK_MSG(count_diff(x->grad, want, M * IN) == 0, "%s Dgrad: %d differ", genc_precision_name(q.prec),
              count_diff(x->grad, want, M * IN));
    transpose(dy, M, OUT, dyt);
    expect(&q, dyt, x->data, OUT, IN, M, row, col, want);
    CHECK_MSG(count_diff(w->grad, want, OUT * IN) == 0, "%s Wgrad: %d differ", genc_precision_name(q.prec),
              count_diff(w->grad, want, OUT * IN));
    genc_step_reset(ctx);
    genc_tensor_free(x), genc_tensor_free(w);
}

/* FP32 mode (here after the FP8 and BF16 runs) is genc_linear itself: output and both
 * gradients bit for bit, so the gradient checks of genc_linear hold with FP8 off. */
static void test_fp32(genc_ctx *ctx) {
    genc_tensor *x[2], *w[2];
    static float dy[M * OUT], y[2][M * OUT];
    fill(dy, M * OUT, 1e-3f, 3);
    genc_qmode q = {0};
    for (int i = 0; i < 2; i++) { /* one graph per step: backward walks the whole tape */
        x[i] = genc_param_new(ctx, "x", 2, (int64_t[]){M, IN}), w[i] = genc_param_new(ctx, "w", 2, (int64_t[]){OUT, IN});
        fill(x[i]->data, M * IN, 1.0f, 4), fill(w[i]->data, OUT * IN, 0.1f, 5);
        genc_tensor *out = i == 0 ? genc_linear_q(ctx, x[i], w[i], &q) : genc_linear(ctx, x[i], w[i], NULL);
        CHECK(out && genc_backward_with(ctx, out, dy) == GENC_OK);
        if (out) memcpy(y[i], out->data, sizeof y[i]);
        genc_step_reset(ctx);
    }
    CHECK(count_diff(y[0], y[1], M * OUT) == 0);
    CHECK_MSG(count_diff(x[0]->grad, x[1]->grad, M * IN) == 0, "fp32 Dgrad: %d differ",
              count_diff(x[0]->grad, x[1]->grad, M * IN));
    CHECK_MSG(count_diff(w[0]->grad, w[1]->grad, OUT * IN) == 0, "fp32 Wgrad: %d differ",
              count_diff(w[0]->grad, w[1]->grad, OUT * IN));
    for (int i = 0; i < 2; i++) genc_tensor_free(x[i]), genc_tensor_free(w[i]);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    test_mode(ctx, (genc_qmode){.prec = GENC_PREC_FP8, .promote = 128});
    test_mode(ctx, (genc_qmode){.prec = GENC_PREC_FP8, .promote = 0});
    test_mode(ctx, (genc_qmode){.prec = GENC_PREC_BF16});
    test_fp32(ctx);
    CHECK(genc_ctx_status(ctx) == GENC_OK);
    genc_ctx_free(ctx);
    return test_report("test_qlinear");
}
