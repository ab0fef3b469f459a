/* SwiGLU gate, fused: y = silu(a) * b, the elementwise heart of the SwiGLU MLP
 * w2(silu(w1 x) * (w3 x)) of DeepSeek-V3's dense layers and experts. One pass forward and
 * one backward instead of three ops and two intermediate tensors. */
#include "genc/genc.h"
#include "ops/fastexp.h"

#include <tgmath.h>

/* y = a s(a) b with s = sigmoid. */
static void swiglu_fwd(const genc_real *a, const genc_real *b, genc_real *y, int64_t n) {
#pragma omp parallel for simd if (n > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] / (1 + fastexp(-a[i])) * b[i];
}

/* da += g b s (1 + a (1 - s)), db += g a s (either may be NULL). */
static void swiglu_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *ta = n->in[0], *tb = n->in[1];
    genc_real *ga = ta->requires_grad ? genc_grad(ctx, ta) : NULL;
    genc_real *gb = tb->requires_grad ? genc_grad(ctx, tb) : NULL;
    if ((ta->requires_grad && !ga) || (tb->requires_grad && !gb)) return;
    const genc_real *a = ta->data, *b = tb->data, *g = n->out->grad;
    int64_t m = genc_numel(n->out);
#pragma omp parallel for if (m > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < m; i++) {
        genc_real s = 1 / (1 + fastexp(-a[i]));
        if (ga) ga[i] += g[i] * b[i] * s * (1 + a[i] * (1 - s));
        if (gb) gb[i] += g[i] * a[i] * s;
    }
}

genc_tensor *genc_swiglu(genc_ctx *ctx, genc_tensor *a, genc_tensor *b) {
    if (!a || !b) return NULL;
    if (!genc_same_shape(a, b)) {
        char s1[64], s2[64];
        genc_error(ctx, GENC_EINVAL, "swiglu: a %s and b %s must have the same shape", genc_shape_str(a, s1, 64),
                   genc_shape_str(b, s2, 64));
        return NULL;
    }
    a = genc_contiguous(ctx, a);
    b = genc_contiguous(ctx, b);
    genc_tensor *y = a && b ? genc_tensor_empty(ctx, a->ndim, a->shape) : NULL;
    if (!y) return NULL;
    swiglu_fwd(a->data, b->data, y->data, genc_numel(y));
    genc_tensor *in[2] = {a, b};
    genc_record(ctx, "swiglu", swiglu_backward, y, 2, in);
    return genc_ctx_status(ctx) ? NULL : y;
}
