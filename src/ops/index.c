/* Indexing ops: embedding lookup, row gather and row scatter-add (the MoE dispatch and
 * combine), concatenation along any axis and its inverse, split.
 *
 * Backward passes: gather (and embedding, which is a gather from the table) scatter-adds the
 * output gradient into the source rows, so repeated indices accumulate; scatter-add gathers
 * the output gradient back to its source rows. concat adds each region of the output
 * gradient into its input. split returns views (genc_slice), each recorded with its own
 * backward that adds into its region of the input's gradient.
 *
 * Index arrays are validated before anything is computed and copied into the step arena, so
 * the caller may reuse its buffer before backward runs. */
#include "genc/genc.h"

#include <string.h>

/* Column block of the scatter loop: each thread owns whole columns, so rows that collide
 * never race and the summation order (row order) is the same for any thread count. */
#define SCATTER_COLS 64

/* dst[i, :] (+)= src[idx[i], :] for i < m; rows of C elements, contiguous. */
static void gather_k(genc_real *dst, const genc_real *src, const int32_t *idx, int64_t m, int64_t C, bool acc) {
#pragma omp parallel for if (m * C > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < m; i++) {
        genc_real *d = dst + i * C;
        const genc_real *s = src + (int64_t)idx[i] * C;
        if (acc)
            for (int64_t c = 0; c < C; c++) d[c] += s[c];
        else
            memcpy(d, s, (size_t)C * sizeof *d);
    }
}

/* dst[idx[i], :] += src[i, :] for i < m (indices may repeat). */
static void scatter_add_k(genc_real *dst, const genc_real *src, const int32_t *idx, int64_t m, int64_t C) {
    int64_t nblk = (C + SCATTER_COLS - 1) / SCATTER_COLS;
#pragma omp parallel for if (m * C > GENC_PAR_MIN && nblk > 1) schedule(static)
    for (int64_t b = 0; b < nblk; b++) {
        int64_t c0 = b * SCATTER_COLS, c1 = c0 + SCATTER_COLS < C ? c0 + SCATTER_COLS : C;
        for (int64_t i = 0; i < m; i++) {
            genc_real *d = dst + (int64_t)idx[i] * C;
            const genc_real *s = src + i * C;
            for (int64_t c = c0; c < c1; c++) d[c] += s[c];
        }
    }
}

/* Every idx[i] in [0, bound), else GENC_EINVAL naming the position, the index and the bound. */
static bool check_index(genc_ctx *ctx, const char *op, const char *what, const int32_t *idx, int64_t m,
                        const char *bound_name, int64_t bound) {
    if (m < 1 || !idx) {
        genc_error(ctx, GENC_EINVAL, "%s: expected at least one %s, found %lld%s", op, what, (long long)m,
                   idx ? "" : " (NULL array)");
        return false;
    }
    for (int64_t i = 0; i < m; i++)
        if (idx[i] < 0 || idx[i] >= bound) {
            genc_error(ctx, GENC_EINVAL, "%s: %s[%lld] = %d is outside [0, %s = %lld)", op, what, (long long)i,
                       (int)idx[i], bound_name, (long long)bound);
            return false;
        }
    return true;
}

static int32_t *arena_copy_idx(genc_ctx *ctx, const int32_t *idx, int64_t m) {
    int32_t *c = genc_arena_alloc(ctx, (size_t)m * sizeof *c);
    if (c) memcpy(c, idx, (size_t)m * sizeof *c);
    return c;
}

static bool check_2d(genc_ctx *ctx, const char *op, const char *name, const genc_tensor *t) {
    if (t->ndim == 2) return true;
    char b[64];
    genc_error(ctx, GENC_EINVAL, "%s: %s must be 2-d [rows, C], found %s", op, name, genc_shape_str(t, b, 64));
    return false;
}

/* ---- gather (embedding, gather_rows) ---- */

static void take_rows_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *x = n->in[0];
    if (!x->requires_grad) return;
    genc_real *gx = genc_grad(ctx, x);
    if (gx) scatter_add_k(gx, n->out->grad, n->saved, n->iarg[0], x->shape[1]);
}

/* x [rows, C] (already validated), idx m entries -> [m, C]. */
static genc_tensor *take_rows(genc_ctx *ctx, const char *op, genc_tensor *x, const int32_t *idx, int64_t m) {
    x = genc_contiguous(ctx, x);
    if (!x) return NULL;
    int64_t shape[2] = {m, x->shape[1]};
    genc_tensor *out = genc_tensor_empty(ctx, 2, shape);
    if (!out) return NULL;
    gather_k(out->data, x->data, idx, m, shape[1], false);
    genc_node *n = genc_record(ctx, op, take_rows_backward, out, 1, &x);
    if (n) n->saved = arena_copy_idx(ctx, idx, m), n->iarg[0] = m;
    return genc_ctx_status(ctx) ? NULL : out;
}

genc_tensor *genc_embedding(genc_ctx *ctx, genc_tensor *table, const int32_t *ids, int64_t n) {
    if (!table) return NULL;
    if (!check_2d(ctx, "embedding", "the table", table) ||
        !check_index(ctx, "embedding", "ids", ids, n, "V", table->shape[0]))
        return NULL;
    return take_rows(ctx, "embedding", table, ids, n);
}

genc_tensor *genc_gather_rows(genc_ctx *ctx, genc_tensor *x, const int32_t *idx, int64_t m) {
    if (!x) return NULL;
    if (!check_2d(ctx, "gather_rows", "x", x) || !check_index(ctx, "gather_rows", "idx", idx, m, "N", x->shape[0]))
        return NULL;
    return take_rows(ctx, "gather_rows", x, idx, m);
}

/* ---- scatter-add ---- */

static void scatter_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *src = n->in[0];
    if (!src->requires_grad) return;
    genc_real *gs = genc_grad(ctx, src);
    if (gs) gather_k(gs, n->out->grad, n->saved, src->shape[0], src->shape[1], true);
}

genc_tensor *genc_scatter_add_rows(genc_ctx *ctx, genc_tensor *src, const int32_t *idx, int64_t n_rows) {
    if (!src) return NULL;
    if (!check_2d(ctx, "scatter_add_rows", "src", src)) return NULL;
    if (n_rows < 1) {
        genc_error(ctx, GENC_EINVAL, "scatter_add_rows: n_rows is %lld (expected >= 1)", (long long)n_rows);
        return NULL;
    }
    int64_t m = src->shape[0];
    if (!check_index(ctx, "scatter_add_rows", "idx", idx, m, "n_rows", n_rows)) return NULL;
    src = genc_contiguous(ctx, src);
    if (!src) return NULL;
    int64_t shape[2] = {n_rows, src->shape[1]};
    genc_tensor *out = genc_tensor_zeros(ctx, 2, shape);
    if (!out) return NULL;
    scatter_add_k(out->data, src->data, idx, m, shape[1]);
    genc_node *n = genc_record(ctx, "scatter_add_rows", scatter_backward, out, 1, &src);
    if (n) n->saved = arena_copy_idx(ctx, idx, m);
    return genc_ctx_status(ctx) ? NULL : out;
}

/* ---- concat / split ---- */

/* Each input's gradient += its region of the (contiguous) output gradient. */
static void concat_backward(genc_ctx *ctx, genc_node *n) {
    int64_t osh[4], ost[4], off = 0;
    genc_pad4(n->out, osh, ost);
    int ax = (int)n->iarg[0] + 4 - n->out->ndim;
    for (int k = 0; k < n->n_in; k++) {
        genc_tensor *t = n->in[k];
        int64_t sh[4], st[4];
        genc_pad4(t, sh, st);
        genc_contig_strides4(sh, st);
        if (t->requires_grad) {
            genc_real *g = genc_grad(ctx, t);
            if (!g) return;
            genc_strided_apply(sh, g, st, n->out->grad + off * ost[ax], ost, true);
        }
        off += sh[ax];
    }
}

/* Output shape of a concat, or false with the error set. */
static bool concat_shape(genc_ctx *ctx, genc_tensor *const *ts, int n, int axis, int64_t shape[4]) {
    const genc_tensor *a = ts[0];
    char b1[64], b2[64];
    for (int d = 0; d < a->ndim; d++) shape[d] = d == axis ? 0 : a->shape[d];
    for (int k = 0; k < n; k++) {
        bool ok = ts[k]->ndim == a->ndim;
        for (int d = 0; ok && d < a->ndim; d++) ok = d == axis || ts[k]->shape[d] == a->shape[d];
        if (!ok) {
            genc_error(ctx, GENC_EINVAL, "concat: input %d has shape %s, which does not match input 0 %s "
                       "outside axis %d", k, genc_shape_str(ts[k], b1, 64), genc_shape_str(a, b2, 64), axis);
            return false;
        }
        shape[axis] += ts[k]->shape[axis];
    }
    return true;
}

genc_tensor *genc_concat(genc_ctx *ctx, genc_tensor *const *ts, int n, int axis) {
    if (!ts || n < 1) {
        genc_error(ctx, GENC_EINVAL, "concat: expected at least 1 tensor, found %d", ts ? n : 0);
        return NULL;
    }
    for (int k = 0; k < n; k++)
        if (!ts[k]) return NULL;
    int nd = ts[0]->ndim;
    if (axis < -nd || axis >= nd) {
        genc_error(ctx, GENC_EINVAL, "concat: axis %d out of range for %d-d tensors", axis, nd);
        return NULL;
    }
    if (axis < 0) axis += nd;
    int64_t shape[4], osh[4], ost[4], off = 0;
    if (!concat_shape(ctx, ts, n, axis, shape)) return NULL;
    genc_tensor *out = genc_tensor_empty(ctx, nd, shape);
    if (!out) return NULL;
    genc_pad4(out, osh, ost);
    int ax = axis + 4 - nd;
    for (int k = 0; k < n; k++) { /* inputs may be views: copy through their strides */
        int64_t sh[4], st[4];
        genc_pad4(ts[k], sh, st);
        genc_strided_apply(sh, out->data + off * ost[ax], ost, ts[k]->data, st, false);
        off += sh[ax];
    }
    genc_node *node = genc_record(ctx, "concat", concat_backward, out, n, ts);
    if (node) node->iarg[0] = axis;
    return genc_ctx_status(ctx) ? NULL : out;
}

/* The parts are views of `a` (genc_slice: no copy, sharing a's memory; contiguous only
 * when splitting the outermost non-trivial axis). Ops that need contiguous input copy. */
genc_status genc_split(genc_ctx *ctx, genc_tensor *a, int axis, const int64_t *sizes, int n, genc_tensor **out) {
    for (int k = 0; out && k < n; k++) out[k] = NULL;
    if (!a) return genc_ctx_status(ctx) ? genc_ctx_status(ctx) : genc_error(ctx, GENC_EINVAL, "split: no tensor");
    if (!out || !sizes || n < 1) return genc_error(ctx, GENC_EINVAL, "split: expected at least 1 part, found %d", n);
    if (axis < -a->ndim || axis >= a->ndim)
        return genc_error(ctx, GENC_EINVAL, "split: axis %d out of range for a %d-d tensor", axis, a->ndim);
    if (axis < 0) axis += a->ndim;
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        if (sizes[k] < 1)
            return genc_error(ctx, GENC_EINVAL, "split: part %d has size %lld (expected >= 1)", k, (long long)sizes[k]);
        total += sizes[k];
    }
    char b[64];
    if (total != a->shape[axis])
        return genc_error(ctx, GENC_EINVAL, "split: the %d sizes sum to %lld but dim %d of %s is %lld", n,
                          (long long)total, axis, genc_shape_str(a, b, 64), (long long)a->shape[axis]);
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
        out[k] = genc_slice(ctx, a, axis, start, sizes[k]);
        start += sizes[k];
    }
    if (!genc_ctx_status(ctx)) return GENC_OK;
    for (int k = 0; k < n; k++) out[k] = NULL;
    return genc_ctx_status(ctx);
}
