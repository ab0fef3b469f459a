/* Reductions: sum and mean over one axis (keepdim or not) and over the whole tensor.
 *
 * An axis reduction views the contiguous input as [outer, D, inner] and writes
 * y[o, i] = s * sum_d x[o, d, i] (s = 1 for sum, 1/D for mean); backward broadcasts back:
 * dx[o, d, i] += s * g[o, i]. The whole-tensor forms accumulate in double. */
#include "genc/genc.h"

#define SPAN 4096

typedef struct {
    int64_t outer, D, inner;
} axis_view;

/* y[o, i0..i0+len) = s * sum_d x[o, d, i0..), one span of one outer row. */
static void sum_span(const genc_real *x, genc_real *y, const axis_view *v, genc_real s, int64_t len) {
    if (v->inner == 1) {
        genc_real acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t d = 0; d < v->D; d++) acc += x[d];
        y[0] = s * acc;
        return;
    }
    for (int64_t i = 0; i < len; i++) y[i] = x[i];
    for (int64_t d = 1; d < v->D; d++) {
        const genc_real *xd = x + d * v->inner;
        for (int64_t i = 0; i < len; i++) y[i] += xd[i];
    }
    for (int64_t i = 0; i < len; i++) y[i] *= s;
}

static void reduce_axis_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *gx = genc_grad(ctx, n->in[0]);
    if (!gx) return;
    const axis_view v = {n->iarg[0], n->iarg[1], n->iarg[2]};
    const genc_real *g = n->out->grad, s = (genc_real)n->farg[0];
#pragma omp parallel for if (v.outer > 1 && v.outer * v.D * v.inner > GENC_PAR_MIN) schedule(static)
    for (int64_t o = 0; o < v.outer; o++) {
        const genc_real *go = g + o * v.inner;
        genc_real *gr = gx + o * v.D * v.inner;
        if (v.inner == 1) {
            genc_real d = s * go[0];
            for (int64_t k = 0; k < v.D; k++) gr[k] += d;
        } else {
            for (int64_t k = 0; k < v.D; k++)
                for (int64_t i = 0; i < v.inner; i++) gr[k * v.inner + i] += s * go[i];
        }
    }
}

static genc_tensor *reduce_axis(genc_ctx *ctx, const char *name, genc_tensor *a, int axis, bool keepdim, bool mean) {
    if (!a) return NULL;
    int ax = axis < 0 ? axis + a->ndim : axis;
    if (ax < 0 || ax >= a->ndim) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "%s: axis %d out of range for %s", name, axis, genc_shape_str(a, b, 64));
        return NULL;
    }
    a = genc_contiguous(ctx, a);
    if (!a) return NULL;
    axis_view v = {1, a->shape[ax], 1};
    int64_t oshape[4];
    int ondim = 0;
    for (int i = 0; i < a->ndim; i++) {
        if (i < ax) v.outer *= a->shape[i];
        if (i > ax) v.inner *= a->shape[i];
        if (i != ax || keepdim) oshape[ondim++] = i == ax ? 1 : a->shape[i];
    }
    if (ondim == 0) oshape[ondim++] = 1; /* a 1-d input reduces to [1] */
    genc_tensor *y = genc_tensor_empty(ctx, ondim, oshape);
    if (!y) return NULL;
    genc_real s = mean ? (genc_real)1 / (genc_real)v.D : 1;
    int64_t nchunk = (v.inner + SPAN - 1) / SPAN, ns = v.outer * nchunk;
#pragma omp parallel for if (genc_numel(a) > GENC_PAR_MIN) schedule(static)
    for (int64_t sp = 0; sp < ns; sp++) {
        int64_t o = sp / nchunk, i0 = (sp % nchunk) * SPAN, len = v.inner - i0 < SPAN ? v.inner - i0 : SPAN;
        sum_span(a->data + o * v.D * v.inner + i0, y->data + o * v.inner + i0, &v, s, len);
    }
    genc_node *n = genc_record(ctx, name, reduce_axis_backward, y, 1, &a);
    if (n) n->iarg[0] = v.outer, n->iarg[1] = v.D, n->iarg[2] = v.inner, n->farg[0] = s;
    return genc_ctx_status(ctx) ? NULL : y;
}

genc_tensor *genc_sum(genc_ctx *ctx, genc_tensor *a, int axis, bool keepdim) {
    return reduce_axis(ctx, "sum", a, axis, keepdim, false);
}
genc_tensor *genc_mean(genc_ctx *ctx, genc_tensor *a, int axis, bool keepdim) {
    return reduce_axis(ctx, "mean", a, axis, keepdim, true);
}

/* ---- whole tensor -> [1] ---- */

static void reduce_all_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *gx = genc_grad(ctx, n->in[0]);
    if (!gx) return;
    genc_real d = (genc_real)n->farg[0] * n->out->grad[0];
    int64_t m = genc_numel(n->in[0]);
#pragma omp parallel for simd if (m > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < m; i++) gx[i] += d;
}

static genc_tensor *reduce_all(genc_ctx *ctx, const char *name, genc_tensor *a, bool mean) {
    a = genc_contiguous(ctx, a);
    int64_t one = 1;
    genc_tensor *y = a ? genc_tensor_empty(ctx, 1, &one) : NULL;
    if (!y) return NULL;
    const genc_real *x = a->data;
    int64_t m = genc_numel(a);
    double acc = 0, s = mean ? 1.0 / (double)m : 1.0;
#pragma omp parallel for simd reduction(+ : acc) if (m > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < m; i++) acc += (double)x[i];
    y->data[0] = (genc_real)(acc * s);
    genc_node *n = genc_record(ctx, name, reduce_all_backward, y, 1, &a);
    if (n) n->farg[0] = s;
    return genc_ctx_status(ctx) ? NULL : y;
}

genc_tensor *genc_sum_all(genc_ctx *ctx, genc_tensor *a) { return reduce_all(ctx, "sum_all", a, false); }
genc_tensor *genc_mean_all(genc_ctx *ctx, genc_tensor *a) { return reduce_all(ctx, "mean_all", a, true); }
