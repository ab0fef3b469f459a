/* The fused SwiGLU projection y = silu(x Wg^T) * (x Wu^T) (Shazeer 2020, "GLU Variants
 * Improve Transformer", eq. 6 without the down projection): the gate and up projections
 * become one GEMM against the stacked weight [Wg ; Wu] into H = [A | B] [M, 2I], and the
 * gate is applied as H is read, so neither A nor B is a tensor of its own.
 *
 * Backward, with s = sigmoid(A): dA = dy B s (1 + A (1 - s)), dB = dy A s, dH = [dA | dB];
 * dx += dB Wu, then dx += dA Wg, dWg += dA^T x, dWu += dB^T x (dA and dB read in place from
 * dH, leading dimension 2I): two GEMMs for dx, not one with K = 2I, so the sums round as
 * those of two separate linear layers did. */
#include "genc/genc.h"
#include "ops/fastexp.h"

#include <string.h>

typedef struct {
    genc_real *wcat; /* [2I, D] = [Wg ; Wu] as used forward */
    genc_real *h;    /* [M, 2I] = [A | B] */
    int64_t M, I, D;
} sgl_saved;

/* dH from dy and H, row by row. */
static void sgl_dh(const sgl_saved *sv, const genc_real *dy, genc_real *dh) {
    int64_t M = sv->M, I = sv->I;
#pragma omp parallel for if (M * I > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < M; r++) {
        const genc_real *a = sv->h + r * 2 * I, *b = a + I, *g = dy + r * I;
        genc_real *da = dh + r * 2 * I, *db = da + I;
#pragma omp simd
        for (int64_t j = 0; j < I; j++) {
            genc_real s = 1 / (1 + fastexp(-a[j]));
            da[j] = g[j] * b[j] * s * (1 + a[j] * (1 - s));
            db[j] = g[j] * a[j] * s;
        }
    }
}

static void sgl_backward(genc_ctx *ctx, genc_node *n) {
    const sgl_saved *sv = n->saved;
    genc_tensor *x = n->in[0], *wg = n->in[1], *wu = n->in[2];
    int64_t M = sv->M, I = sv->I, D = sv->D;
    genc_real *dh = genc_arena_alloc(ctx, (size_t)(M * 2 * I) * sizeof(genc_real));
    if (!dh) return;
    sgl_dh(sv, n->out->grad, dh);
    double flops = 2.0 * (double)M * (double)I * (double)D;
    genc_real *dx = x->requires_grad ? genc_grad(ctx, x) : NULL;
    for (int k = 1; dx && k >= 0; k--) /* up, then gate: the order of two separate linears' backwards */
        genc_gemm(false, false, M, D, I, 1, dh + k * I, 2 * I, sv->wcat + k * I * D, D, 1, dx, D), genc_profile_flops(ctx, flops);
    genc_tensor *w[2] = {wg, wu};
    for (int k = 0; k < 2; k++) {
        genc_real *dw = w[k]->requires_grad ? genc_grad(ctx, w[k]) : NULL;
        if (dw) genc_gemm(true, false, I, D, M, 1, dh + k * I, 2 * I, x->data, D, 1, dw, D), genc_profile_flops(ctx, flops);
    }
}

static bool sgl_check(genc_ctx *ctx, const genc_tensor *x, const genc_tensor *wg, const genc_tensor *wu) {
    if (wg->ndim == 2 && genc_same_shape(wg, wu) && wg->shape[1] == x->shape[x->ndim - 1]) return true;
    char s1[64], s2[64], s3[64];
    genc_error(ctx, GENC_EINVAL, "swiglu_linear: input %s does not fit gate weight %s and up weight %s",
               genc_shape_str(x, s1, 64), genc_shape_str(wg, s2, 64), genc_shape_str(wu, s3, 64));
    return false;
}

genc_tensor *genc_swiglu_linear(genc_ctx *ctx, genc_tensor *x, genc_tensor *wg, genc_tensor *wu) {
    if (!x || !wg || !wu || !sgl_check(ctx, x, wg, wu)) return NULL;
    if (wg->w8 || wu->w8)
        return genc_error(ctx, GENC_EINVAL, "swiglu_linear: weight \"%s\" is held in FP8; use genc_linear",
                          wg->w8 ? wg->name : wu->name), NULL;
    x = genc_contiguous(ctx, x);
    sgl_saved *sv = x ? genc_arena_alloc(ctx, sizeof *sv) : NULL;
    if (!sv) return NULL;
    GENC_ASSERT(genc_is_contiguous(wg) && genc_is_contiguous(wu));
    int64_t I = wg->shape[0], D = wg->shape[1], M = genc_numel(x) / D, oshape[GENC_MAX_DIMS];
    *sv = (sgl_saved){genc_arena_alloc(ctx, (size_t)(2 * I * D) * sizeof(genc_real)),
                      genc_arena_alloc(ctx, (size_t)(M * 2 * I) * sizeof(genc_real)), M, I, D};
    for (int i = 0; i < x->ndim; i++) oshape[i] = x->shape[i];
    oshape[x->ndim - 1] = I;
    genc_tensor *y = sv->wcat && sv->h ? genc_tensor_empty(ctx, x->ndim, oshape) : NULL;
    if (!y) return NULL;
    memcpy(sv->wcat, wg->data, (size_t)(I * D) * sizeof(genc_real));
    memcpy(sv->wcat + I * D, wu->data, (size_t)(I * D) * sizeof(genc_real));
    genc_gemm(false, true, M, 2 * I, D, 1, x->data, D, sv->wcat, D, 0, sv->h, 2 * I);
    genc_profile_flops(ctx, 4.0 * (double)M * (double)I * (double)D);
#pragma omp parallel for if (M * I > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < M; r++) {
        const genc_real *a = sv->h + r * 2 * I, *b = a + I;
        genc_real *yr = y->data + r * I;
#pragma omp simd
        for (int64_t j = 0; j < I; j++) yr[j] = a[j] / (1 + fastexp(-a[j])) * b[j];
    }
    genc_tensor *in[3] = {x, wg, wu};
    genc_node *n = genc_record(ctx, "swiglu_linear", sgl_backward, y, 3, in);
    if (n) n->saved = sv;
    return genc_ctx_status(ctx) ? NULL : y;
}
