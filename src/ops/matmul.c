/* Matrix products: batched matmul with broadcasting and transposed views, and the fused
 * linear layer y = x W^T + b. Both sides of every product go through genc_gemm.
 *
 * matmul backward (per batch): dA += dC op(B)^T, dB += op(A)^T dC.
 * linear backward: dx += dy W, dW += dy^T x, db += sum_rows dy. */
#include "genc/fp8.h"
#include "genc/genc.h"

#include <omp.h>

/* How one operand's last two dims sit in memory: a row-major matrix (trans = false) with
 * leading dim ld, or the transpose of one (trans = true). */
typedef struct {
    bool trans;
    int64_t ld;
} mat_layout;

static bool layout_of(const genc_tensor *t, mat_layout *l) {
    int r = t->ndim - 2, c = t->ndim - 1;
    int64_t rows = t->shape[r], cols = t->shape[c];
    if (t->stride[c] == 1 || cols == 1) {
        l->trans = false;
        l->ld = rows == 1 ? cols : t->stride[r];
        return l->ld >= cols;
    }
    if (t->stride[r] == 1 || rows == 1) {
        l->trans = true;
        l->ld = cols == 1 ? rows : t->stride[c];
        return l->ld >= rows;
    }
    return false;
}

typedef struct {
    int64_t bshape[2];           /* output batch dims (padded to 2) */
    int64_t astr[2], bstr[2];    /* batch strides of a and b (0 where broadcast) */
    int64_t M, N, K;
    mat_layout la, lb;
} mm_plan;

static int64_t batch_offset(const int64_t str[2], int64_t i, const int64_t bshape[2]) {
    return (i / bshape[1]) * str[0] + (i % bshape[1]) * str[1];
}

static void mm_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *a = n->in[0], *b = n->in[1];
    const mm_plan *p = n->saved;
    const genc_real *dc = n->out->grad;
    int64_t nb = p->bshape[0] * p->bshape[1], M = p->M, N = p->N, K = p->K;
    int64_t sa[4], sb[4], ash[4], bsh[4];
    genc_pad4(a, ash, sa), genc_pad4(b, bsh, sb);
    genc_contig_strides4(ash, sa), genc_contig_strides4(bsh, sb);
    int64_t gastr[2] = {ash[0] > 1 ? sa[0] : 0, ash[1] > 1 ? sa[1] : 0};
    int64_t gbstr[2] = {bsh[0] > 1 ? sb[0] : 0, bsh[1] > 1 ? sb[1] : 0};
    genc_profile_flops(ctx, 2.0 * (double)(nb * M) * (double)(N * K) * (a->requires_grad + b->requires_grad));
    if (a->requires_grad) {
        genc_real *da = genc_grad(ctx, a);
        if (!da) return;
        bool par = genc_numel(a) == nb * M * K && nb > 1;
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < nb; i++)
            genc_gemm(false, !p->lb.trans, M, K, N, 1, dc + i * M * N, N, b->data + batch_offset(p->bstr, i, p->bshape),
                      p->lb.ld, 1, da + batch_offset(gastr, i, p->bshape), K);
    }
    if (b->requires_grad) {
        genc_real *db = genc_grad(ctx, b);
        if (!db) return;
        bool par = genc_numel(b) == nb * K * N && nb > 1;
#pragma omp parallel for if (par) schedule(static)
        for (int64_t i = 0; i < nb; i++)
            genc_gemm(!p->la.trans, false, K, N, M, 1, a->data + batch_offset(p->astr, i, p->bshape), p->la.ld,
                      dc + i * M * N, N, 1, db + batch_offset(gbstr, i, p->bshape), N);
    }
}

/* Batch dims of a and b broadcast against each other; fill plan and output shape. */
static bool plan_batch(const genc_tensor *a, const genc_tensor *b, mm_plan *p, int *ondim, int64_t oshape[4]) {
    int64_t ash[4], ast[4], bsh[4], bst[4];
    genc_pad4(a, ash, ast), genc_pad4(b, bsh, bst);
    for (int i = 0; i < 2; i++) {
        if (ash[i] != bsh[i] && ash[i] != 1 && bsh[i] != 1) return false;
        p->bshape[i] = ash[i] > bsh[i] ? ash[i] : bsh[i];
        p->astr[i] = ash[i] == 1 ? 0 : ast[i];
        p->bstr[i] = bsh[i] == 1 ? 0 : bst[i];
    }
    *ondim = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < *ondim; i++) oshape[i] = i < *ondim - 2 ? p->bshape[2 - (*ondim - 2) + i] : 0;
    oshape[*ondim - 2] = p->M, oshape[*ondim - 1] = p->N;
    return true;
}

genc_tensor *genc_matmul(genc_ctx *ctx, genc_tensor *a, genc_tensor *b) {
    if (!a || !b) return NULL;
    char s1[64], s2[64];
    mm_plan *p = genc_arena_calloc(ctx, sizeof *p);
    if (!p) return NULL;
    int ondim;
    int64_t oshape[4];
    if (a->ndim < 2 || b->ndim < 2 || a->shape[a->ndim - 1] != b->shape[b->ndim - 2]) goto bad_shape;
    p->M = a->shape[a->ndim - 2], p->K = a->shape[a->ndim - 1], p->N = b->shape[b->ndim - 1];
    if (!layout_of(a, &p->la)) a = genc_contiguous(ctx, a), layout_of(a, &p->la);
    if (!layout_of(b, &p->lb)) b = genc_contiguous(ctx, b), layout_of(b, &p->lb);
    if (!a || !b) return NULL;
    if (!plan_batch(a, b, p, &ondim, oshape)) goto bad_shape;
    genc_tensor *out = genc_tensor_empty(ctx, ondim, oshape);
    if (!out) return NULL;
    int64_t nb = p->bshape[0] * p->bshape[1], MN = p->M * p->N;
#pragma omp parallel for if (nb > 1) schedule(static)
    for (int64_t i = 0; i < nb; i++)
        genc_gemm(p->la.trans, p->lb.trans, p->M, p->N, p->K, 1, a->data + batch_offset(p->astr, i, p->bshape),
                  p->la.ld, b->data + batch_offset(p->bstr, i, p->bshape), p->lb.ld, 0, out->data + i * MN, p->N);
    genc_profile_flops(ctx, 2.0 * (double)(nb * MN) * (double)p->K);
    genc_tensor *in[2] = {a, b};
    genc_node *n = genc_record(ctx, "matmul", mm_backward, out, 2, in);
    if (n) n->saved = p;
    return genc_ctx_status(ctx) ? NULL : out;
bad_shape:
    genc_error(ctx, GENC_EINVAL, "matmul: shapes %s and %s do not multiply", genc_shape_str(a, s1, 64),
               genc_shape_str(b, s2, 64));
    return NULL;
}

static void linear_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *x = n->in[0], *w = n->in[1], *bias = n->n_in > 2 ? n->in[2] : NULL;
    if (w->w8) {
        genc_error(ctx, GENC_EINVAL, "linear: weight \"%s\" is held in FP8 for inference: no gradients through it",
                   w->name);
        return;
    }
    int64_t M = n->iarg[0], in = w->shape[1], out = w->shape[0];
    const genc_real *dy = n->out->grad;
    double flops = 2.0 * (double)M * (double)in * (double)out;
    if (x->requires_grad) {
        genc_real *dx = genc_grad(ctx, x);
        if (dx) genc_gemm(false, false, M, in, out, 1, dy, out, w->data, in, 1, dx, in), genc_profile_flops(ctx, flops);
    }
    if (w->requires_grad) {
        genc_real *dw = genc_grad(ctx, w);
        if (dw) genc_gemm(true, false, out, in, M, 1, dy, out, x->data, in, 1, dw, in), genc_profile_flops(ctx, flops);
    }
    if (bias && bias->requires_grad) {
        genc_real *db = genc_grad(ctx, bias);
        if (!db) return;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < out; j++) db[j] += dy[i * out + j];
    }
}

genc_tensor *genc_linear(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, genc_tensor *bias) {
    if (!x || !w) return NULL;
    char s1[64], s2[64];
    int64_t in = x->shape[x->ndim - 1];
    if (w->ndim != 2 || w->shape[1] != in || (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0]))) {
        genc_error(ctx, GENC_EINVAL, "linear: input %s does not fit weight %s%s", genc_shape_str(x, s1, 64),
                   genc_shape_str(w, s2, 64), bias ? " and its bias" : "");
        return NULL;
    }
    x = genc_contiguous(ctx, x);
    if (!x) return NULL;
    GENC_ASSERT(w->w8 || genc_is_contiguous(w));
    int64_t M = genc_numel(x) / in, out_dim = w->shape[0], oshape[4];
    for (int i = 0; i < x->ndim; i++) oshape[i] = x->shape[i];
    oshape[x->ndim - 1] = out_dim;
    genc_tensor *y = genc_tensor_empty(ctx, x->ndim, oshape);
    if (!y) return NULL;
    if (bias)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < out_dim; j++) y->data[i * out_dim + j] = bias->data[j];
    if (!w->w8) genc_gemm(false, true, M, out_dim, in, 1, x->data, in, w->data, in, bias ? 1 : 0, y->data, out_dim);
    else if (!genc_w8_matmul_nt(M, x->data, in, w->w8, bias ? 1 : 0, y->data, out_dim))
        return genc_error(ctx, GENC_ENOMEM, "linear: out of memory decoding FP8 weight \"%s\"", w->name), NULL;
    genc_profile_flops(ctx, 2.0 * (double)M * (double)out_dim * (double)in);
    genc_tensor *ins[3] = {x, w, bias};
    genc_node *n = genc_record(ctx, "linear", linear_backward, y, bias ? 3 : 2, ins);
    if (n) n->iarg[0] = M;
    return genc_ctx_status(ctx) ? NULL : y;
}
