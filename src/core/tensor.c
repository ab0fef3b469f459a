/* Tensors: creation (persistent or step-arena), shape checks, strided copies and the
 * three views (reshape, transpose, slice) with their backward passes. */
#include "core/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NUMEL ((int64_t)1 << 40)

static genc_status check_shape(genc_ctx *ctx, int ndim, const int64_t *shape) {
    if (ndim < 1 || ndim > GENC_MAX_DIMS)
        return genc_error(ctx, GENC_EINVAL, "tensor: expected 1 to %d dims, found %d", GENC_MAX_DIMS, ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || shape[i] > MAX_NUMEL / n)
            return genc_error(ctx, GENC_EINVAL, "tensor: dim %d is %lld (expected 1 .. %lld elements in all)", i,
                              (long long)shape[i], (long long)MAX_NUMEL);
        n *= shape[i];
    }
    return GENC_OK;
}

static void set_shape(genc_tensor *t, int ndim, const int64_t *shape) {
    t->ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t->shape[i] = shape[i];
        t->stride[i] = s;
        s *= shape[i];
    }
    for (int i = ndim; i < GENC_MAX_DIMS; i++) t->shape[i] = 1, t->stride[i] = s;
}

int64_t genc_numel(const genc_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

bool genc_is_contiguous(const genc_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

bool genc_same_shape(const genc_tensor *a, const genc_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

const char *genc_shape_str(const genc_tensor *t, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

genc_tensor *genc_tensor_new(genc_ctx *ctx, int ndim, const int64_t *shape) {
    if (check_shape(ctx, ndim, shape)) return NULL;
    genc_tensor *t = calloc(1, sizeof *t);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    size_t bytes = ((size_t)n * sizeof(genc_real) + 63) & ~(size_t)63;
    genc_real *data = t ? aligned_alloc(64, bytes) : NULL;
    if (!data) {
        free(t);
        genc_error(ctx, GENC_ENOMEM, "tensor: out of memory for %lld elements", (long long)n);
        return NULL;
    }
    memset(data, 0, bytes);
    set_shape(t, ndim, shape);
    t->data = data;
    t->persistent = t->owns_data = true;
    return t;
}

genc_tensor *genc_tensor_new1(genc_ctx *ctx, int64_t d0) { return genc_tensor_new(ctx, 1, &d0); }
genc_tensor *genc_tensor_new2(genc_ctx *ctx, int64_t d0, int64_t d1) {
    int64_t s[2] = {d0, d1};
    return genc_tensor_new(ctx, 2, s);
}
genc_tensor *genc_tensor_new4(genc_ctx *ctx, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t s[4] = {d0, d1, d2, d3};
    return genc_tensor_new(ctx, 4, s);
}

void genc_tensor_free(genc_tensor *t) {
    if (!t || !t->persistent) return;
    if (t->owns_data) free(t->data);
    free(t->grad);
    free(t);
}

genc_tensor *genc_param_new(genc_ctx *ctx, const char *name, int ndim, const int64_t *shape) {
    genc_tensor *t = genc_tensor_new(ctx, ndim, shape);
    if (!t) return NULL;
    t->requires_grad = true;
    snprintf(t->name, sizeof t->name, "%s", name);
    if (!genc_grad(ctx, t)) {
        genc_tensor_free(t);
        return NULL;
    }
    return t;
}

genc_tensor *genc_tensor_wrap(genc_ctx *ctx, genc_real *data, int ndim, const int64_t *shape) {
    if (check_shape(ctx, ndim, shape)) return NULL;
    genc_tensor *t = genc_arena_calloc(ctx, sizeof *t);
    if (!t) return NULL;
    set_shape(t, ndim, shape);
    t->data = data;
    return t;
}

genc_tensor *genc_tensor_empty(genc_ctx *ctx, int ndim, const int64_t *shape) {
    if (check_shape(ctx, ndim, shape)) return NULL;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    genc_real *data = genc_arena_alloc(ctx, (size_t)n * sizeof(genc_real));
    return data ? genc_tensor_wrap(ctx, data, ndim, shape) : NULL;
}

genc_tensor *genc_tensor_zeros(genc_ctx *ctx, int ndim, const int64_t *shape) {
    genc_tensor *t = genc_tensor_empty(ctx, ndim, shape);
    if (t) memset(t->data, 0, (size_t)genc_numel(t) * sizeof(genc_real));
    return t;
}

genc_real genc_get(const genc_tensor *t, const int64_t *idx) {
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) off += idx[i] * t->stride[i];
    return t->data[off];
}

void genc_fill(genc_tensor *t, genc_real v) {
    GENC_ASSERT(genc_is_contiguous(t));
    int64_t n = genc_numel(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = v;
}

void genc_fill_normal(genc_ctx *ctx, genc_tensor *t, double mean, double std) {
    GENC_ASSERT(genc_is_contiguous(t));
    int64_t n = genc_numel(t);
    uint64_t first = genc_rng_take(ctx, (uint64_t)n), seed = genc_rng_get_seed(ctx);
    for (int64_t i = 0; i < n; i++) t->data[i] = (genc_real)(mean + std * genc_philox_normal(seed, first + i));
}

void genc_fill_uniform(genc_ctx *ctx, genc_tensor *t, double lo, double hi) {
    GENC_ASSERT(genc_is_contiguous(t));
    int64_t n = genc_numel(t);
    uint64_t first = genc_rng_take(ctx, (uint64_t)n), seed = genc_rng_get_seed(ctx);
    for (int64_t i = 0; i < n; i++) t->data[i] = (genc_real)(lo + (hi - lo) * genc_philox_uniform(seed, first + i));
}

/* dst[i] (+)= src[i] over a 4-d index space with independent strides. */
void genc_strided_apply(const int64_t shape[4], genc_real *dst, const int64_t dst_stride[4],
                        const genc_real *src, const int64_t src_stride[4], bool accumulate) {
    for (int64_t i0 = 0; i0 < shape[0]; i0++)
        for (int64_t i1 = 0; i1 < shape[1]; i1++)
            for (int64_t i2 = 0; i2 < shape[2]; i2++) {
                genc_real *d = dst + i0 * dst_stride[0] + i1 * dst_stride[1] + i2 * dst_stride[2];
                const genc_real *s = src + i0 * src_stride[0] + i1 * src_stride[1] + i2 * src_stride[2];
                if (accumulate)
                    for (int64_t i3 = 0; i3 < shape[3]; i3++) d[i3 * dst_stride[3]] += s[i3 * src_stride[3]];
                else
                    for (int64_t i3 = 0; i3 < shape[3]; i3++) d[i3 * dst_stride[3]] = s[i3 * src_stride[3]];
            }
}

/* Pad a tensor's shape/strides to 4 dims (leading 1s) for genc_strided_apply. */
void genc_pad4(const genc_tensor *t, int64_t shape[4], int64_t stride[4]) {
    int pad = 4 - t->ndim;
    for (int i = 0; i < 4; i++) {
        shape[i] = i < pad ? 1 : t->shape[i - pad];
        stride[i] = i < pad ? 0 : t->stride[i - pad];
    }
}

/* Contiguous row-major strides of a 4-d shape. */
void genc_contig_strides4(const int64_t shape[4], int64_t stride[4]) {
    int64_t s = 1;
    for (int i = 3; i >= 0; i--) stride[i] = s, s *= shape[i];
}

genc_status genc_copy(genc_ctx *ctx, genc_tensor *dst, const genc_tensor *src) {
    char a[64], b[64];
    if (!genc_same_shape(dst, src))
        return genc_error(ctx, GENC_EINVAL, "copy: shapes differ: %s vs %s", genc_shape_str(dst, a, 64),
                          genc_shape_str(src, b, 64));
    int64_t shape[4], ds[4], ss[4];
    genc_pad4(dst, shape, ds);
    genc_pad4(src, shape, ss);
    genc_strided_apply(shape, dst->data, ds, src->data, ss, false);
    return GENC_OK;
}

/* ---- views ---- */

static genc_tensor *view_of(genc_ctx *ctx, genc_tensor *a) {
    if (a->w8) { /* its numbers are E4M3 codes elsewhere: only genc_linear reads them */
        genc_error(ctx, GENC_EINVAL, "view of \"%s\": the weight is held in FP8 (inference through linear only)",
                   a->name);
        return NULL;
    }
    genc_tensor *t = genc_arena_calloc(ctx, sizeof *t);
    if (!t) return NULL;
    *t = *a;
    t->grad = NULL;
    t->node = NULL;
    t->requires_grad = false;
    t->persistent = t->owns_data = false;
    return t;
}

/* out.grad and in.grad are both contiguous buffers of equal numel, in the same order. */
static void flat_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *gi = genc_grad(ctx, n->in[0]);
    const genc_real *go = n->out->grad;
    if (!gi) return;
    int64_t m = genc_numel(n->out);
    for (int64_t i = 0; i < m; i++) gi[i] += go[i];
}

genc_tensor *genc_contiguous(genc_ctx *ctx, genc_tensor *a) {
    if (!a) return NULL;
    if (genc_is_contiguous(a)) return a;
    genc_tensor *out = genc_tensor_empty(ctx, a->ndim, a->shape);
    if (!out || genc_copy(ctx, out, a)) return NULL;
    genc_record(ctx, "contiguous", flat_backward, out, 1, &a);
    return genc_ctx_status(ctx) ? NULL : out;
}

genc_tensor *genc_reshape(genc_ctx *ctx, genc_tensor *a, int ndim, const int64_t *shape) {
    if (!a) return NULL;
    int64_t s[GENC_MAX_DIMS], known = 1, n = genc_numel(a);
    int infer = -1;
    if (ndim < 1 || ndim > GENC_MAX_DIMS) {
        genc_error(ctx, GENC_EINVAL, "reshape: expected 1 to %d dims, found %d", GENC_MAX_DIMS, ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) infer = i;
        else known *= s[i];
    }
    if (infer >= 0 && known > 0 && n % known == 0) s[infer] = n / known;
    int64_t m = 1;
    for (int i = 0; i < ndim; i++) m *= s[i];
    if (m != n || known <= 0) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "reshape: cannot view %s (%lld elements) as %d dims of %lld elements",
                   genc_shape_str(a, b, 64), (long long)n, ndim, (long long)m);
        return NULL;
    }
    a = genc_contiguous(ctx, a);
    genc_tensor *out = a ? view_of(ctx, a) : NULL;
    if (!out) return NULL;
    set_shape(out, ndim, s);
    genc_record(ctx, "reshape", flat_backward, out, 1, &a);
    return genc_ctx_status(ctx) ? NULL : out;
}

/* in.grad (contiguous, in's shape) += out.grad seen through the inverse permutation. */
static void transpose_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *in = n->in[0], *out = n->out;
    genc_real *gi = genc_grad(ctx, in);
    if (!gi) return;
    int pad = 4 - in->ndim, d0 = (int)n->iarg[0] + pad, d1 = (int)n->iarg[1] + pad;
    int64_t shape[4], st[4], os[4], ost[4];
    genc_pad4(in, shape, st);
    genc_contig_strides4(shape, st);
    genc_pad4(out, os, ost);
    genc_contig_strides4(os, ost);
    int64_t tmp = ost[d0];
    ost[d0] = ost[d1], ost[d1] = tmp;
    genc_strided_apply(shape, gi, st, out->grad, ost, true);
}

genc_tensor *genc_transpose(genc_ctx *ctx, genc_tensor *a, int d0, int d1) {
    if (!a) return NULL;
    if (d0 < 0) d0 += a->ndim;
    if (d1 < 0) d1 += a->ndim;
    if (d0 < 0 || d1 < 0 || d0 >= a->ndim || d1 >= a->ndim) {
        genc_error(ctx, GENC_EINVAL, "transpose: dims (%d, %d) out of range for a %d-d tensor", d0, d1, a->ndim);
        return NULL;
    }
    genc_tensor *out = view_of(ctx, a);
    if (!out) return NULL;
    int64_t t = out->shape[d0];
    out->shape[d0] = out->shape[d1], out->shape[d1] = t;
    t = out->stride[d0];
    out->stride[d0] = out->stride[d1], out->stride[d1] = t;
    genc_node *nd = genc_record(ctx, "transpose", transpose_backward, out, 1, &a);
    if (nd) nd->iarg[0] = d0, nd->iarg[1] = d1;
    return genc_ctx_status(ctx) ? NULL : out;
}

static void slice_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *in = n->in[0], *out = n->out;
    genc_real *gi = genc_grad(ctx, in);
    if (!gi) return;
    int pad = 4 - in->ndim, dim = (int)n->iarg[0] + pad;
    int64_t ishape[4], ist[4], oshape[4], ost[4];
    genc_pad4(in, ishape, ist);
    genc_contig_strides4(ishape, ist);
    genc_pad4(out, oshape, ost);
    genc_contig_strides4(oshape, ost);
    genc_strided_apply(oshape, gi + n->iarg[1] * ist[dim], ist, out->grad, ost, true);
}

genc_tensor *genc_slice(genc_ctx *ctx, genc_tensor *a, int dim, int64_t start, int64_t len) {
    if (!a) return NULL;
    if (dim < 0) dim += a->ndim;
    if (dim < 0 || dim >= a->ndim || start < 0 || len < 1 || start + len > a->shape[dim]) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "slice: [%lld, %lld) of dim %d is outside %s", (long long)start,
                   (long long)(start + len), dim, genc_shape_str(a, b, 64));
        return NULL;
    }
    genc_tensor *out = view_of(ctx, a);
    if (!out) return NULL;
    out->shape[dim] = len;
    out->data = a->data + start * a->stride[dim];
    genc_node *nd = genc_record(ctx, "slice", slice_backward, out, 1, &a);
    if (nd) nd->iarg[0] = dim, nd->iarg[1] = start;
    return genc_ctx_status(ctx) ? NULL : out;
}
