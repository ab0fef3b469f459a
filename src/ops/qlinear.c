/* The linear layer y = x W^T with its three GEMMs in low precision, as DeepSeek-V3 trains
 * (report section 3.3.1, figure 6): Fprop y = x W^T, Dgrad dx = dy W and Wgrad dW = dy^T x
 * each take quantised inputs. FP8: E4M3 with max-abs scales per 1x128 tile along the inner
 * dimension for activations and output gradients (per token for Fprop/Dgrad, 128x1 down the
 * token axis for Wgrad, section 3.3.2) and per 128x128 block for the weight; products summed
 * by genc_fp8_gemm_acc (14-bit accumulator, FP32 promotion every N_C). BF16: inputs rounded
 * to BF16, FP32 accumulation through genc_gemm. Master weights and gradients stay FP32.
 *   x [..., in], w [out, in] -> y [..., out] */
#include "genc/genc.h"
#include "genc/fp8.h"

#include <string.h>

#ifndef GENC_DOUBLE
/* dst [cols, rows] = src [rows, cols]^T */
static void transpose(const float *src, int64_t rows, int64_t cols, float *dst) {
#pragma omp parallel for if (rows * cols > 65536) schedule(static)
    for (int64_t c = 0; c < cols; c++)
        for (int64_t r = 0; r < rows; r++) dst[c * rows + r] = src[r * cols + c];
}

/* In place: a [rows, cols] through the mode's format; FP8 with gr x gc groups. */
static void quantise(const genc_qmode *q, float *a, int64_t rows, int64_t cols, int64_t gr, int64_t gc) {
    if (q->prec == GENC_PREC_FP8) genc_fp8_qdq(a, rows, cols, cols, gr, gc, a, cols, NULL);
    else genc_bf16_qdq(a, rows, cols, cols, a, cols);
}

/* C [M, N] = beta C + A B on quantised A [M, K] and B [K, N] (contiguous). */
static void product(const genc_qmode *q, int64_t M, int64_t N, int64_t K, const float *A, const float *B, float beta,
                    float *C) {
    if (q->prec == GENC_PREC_FP8)
        genc_fp8_gemm_acc(M, N, K, A, K, B, N, beta, C, N, q->promote, q->acc_bits ? q->acc_bits : GENC_FP8_ACC_BITS);
    else genc_gemm(false, false, M, N, K, 1, A, K, B, N, beta, C, N);
}

static float *copy_of(genc_ctx *ctx, const float *src, int64_t n) {
    float *d = genc_arena_alloc(ctx, (size_t)n * sizeof(float));
    if (d) memcpy(d, src, (size_t)n * sizeof(float));
    return d;
}

static void qlinear_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *x = n->in[0], *w = n->in[1];
    const genc_qmode *q = n->saved;
    int64_t M = n->iarg[0], in = w->shape[1], out = w->shape[0], T = GENC_FP8_TILE;
    const float *dy = n->out->grad;
    if (x->requires_grad) { /* Dgrad: dx [M, in] += dy [M, out] W [out, in]; K = out */
        float *dx = genc_grad(ctx, x), *a = copy_of(ctx, dy, M * out), *b = copy_of(ctx, w->data, out * in);
        if (!dx || !a || !b) return;
        quantise(q, a, M, out, 1, T), quantise(q, b, out, in, T, T);
        product(q, M, in, out, a, b, 1, dx);
    }
    if (w->requires_grad) { /* Wgrad: dW [out, in] += dy^T [out, M] x [M, in]; K = M (tokens) */
        float *dw = genc_grad(ctx, w), *a = genc_arena_alloc(ctx, (size_t)(out * M) * sizeof(float));
        float *b = copy_of(ctx, x->data, M * in);
        if (!dw || !a || !b) return;
        transpose(dy, M, out, a);
        quantise(q, a, out, M, 1, T), quantise(q, b, M, in, T, 1);
        product(q, out, in, M, a, b, 1, dw);
    }
}

genc_tensor *genc_linear_q(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, const genc_qmode *q) {
    if (!x || !w) return NULL;
    if (!q || q->prec == GENC_PREC_FP32 || w->w8) return genc_linear(ctx, x, w, NULL); /* FP8-held: inference */
    char s1[64], s2[64];
    int64_t in = x->shape[x->ndim - 1];
    if (w->ndim != 2 || w->shape[1] != in) {
        genc_error(ctx, GENC_EINVAL, "linear: input %s does not fit weight %s", genc_shape_str(x, s1, 64),
                   genc_shape_str(w, s2, 64));
        return NULL;
    }
    x = genc_contiguous(ctx, x);
    if (!x) return NULL;
    GENC_ASSERT(genc_is_contiguous(w));
    int64_t M = genc_numel(x) / in, out = w->shape[0], oshape[GENC_MAX_DIMS], T = GENC_FP8_TILE;
    for (int i = 0; i < x->ndim; i++) oshape[i] = x->shape[i];
    oshape[x->ndim - 1] = out;
    genc_tensor *y = genc_tensor_empty(ctx, x->ndim, oshape);
    float *a = copy_of(ctx, x->data, M * in), *b = genc_arena_alloc(ctx, (size_t)(in * out) * sizeof(float));
    genc_qmode *saved = genc_arena_alloc(ctx, sizeof *saved);
    if (!y || !a || !b || !saved) return NULL;
    *saved = *q;
    transpose(w->data, out, in, b); /* Fprop: y [M, out] = x [M, in] W^T [in, out]; K = in */
    quantise(q, a, M, in, 1, T), quantise(q, b, in, out, T, T);
    product(q, M, out, in, a, b, 0, y->data);
    genc_tensor *ins[2] = {x, w};
    genc_node *n = genc_record(ctx, "linear_q", qlinear_backward, y, 2, ins);
    if (n) n->iarg[0] = M, n->saved = saved;
    return genc_ctx_status(ctx) ? NULL : y;
}
#else
genc_tensor *genc_linear_q(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, const genc_qmode *q) {
    if (!q || q->prec == GENC_PREC_FP32) return genc_linear(ctx, x, w, NULL);
    genc_error(ctx, GENC_EINVAL, "linear: %s GEMMs need the float build", genc_precision_name(q->prec));
    return NULL;
}
#endif
