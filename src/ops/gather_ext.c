/* Two small shape ops the language models need: take_along (pick K entries per row of
 * [N, E], the MoE gate's chosen expert scores) and expand (repeat a size-1 dim, e.g. the
 * one RoPE key shared by every head in MLA).
 *
 * Backward passes: take_along scatter-adds each output gradient into the entry it came
 * from (repeated indices accumulate; each row is owned by one thread, so no races);
 * expand sums the output gradient over the repeated dim. */
#include "genc/genc.h"

#include <string.h>

/* ---- take_along: out[n, j] = x[n, idx[n K + j]]; dx[n, idx[n K + j]] += dy[n, j] ---- */

typedef struct {
    int32_t *idx; /* arena copy, N * K */
    int64_t N, E, K;
} take_saved;

static void take_along_backward(genc_ctx *ctx, genc_node *n) {
    const take_saved *sv = n->saved;
    genc_real *gx = genc_grad(ctx, n->in[0]);
    if (!gx) return;
    const genc_real *g = n->out->grad;
    int64_t K = sv->K;
#pragma omp parallel for if (sv->N * K > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < sv->N; r++)
        for (int64_t j = 0; j < K; j++) gx[r * sv->E + sv->idx[r * K + j]] += g[r * K + j];
}

/* Copies idx into the arena after checking every entry is in [0, E); NULL with the error set. */
static int32_t *take_indices(genc_ctx *ctx, const int32_t *idx, int64_t m, int64_t E) {
    for (int64_t i = 0; i < m; i++)
        if (idx[i] < 0 || idx[i] >= E) {
            genc_error(ctx, GENC_EINVAL, "take_along: idx[%lld] = %d is outside [0, E = %lld)", (long long)i,
                       (int)idx[i], (long long)E);
            return NULL;
        }
    int32_t *c = genc_arena_alloc(ctx, (size_t)m * sizeof *c);
    if (c) memcpy(c, idx, (size_t)m * sizeof *c);
    return c;
}

genc_tensor *genc_take_along(genc_ctx *ctx, genc_tensor *x, const int32_t *idx, int64_t K) {
    if (!x) return NULL;
    if (x->ndim != 2 || K < 1 || !idx) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "take_along: expected x [N, E], K >= 1 and an index array; found x %s, K %lld%s",
                   genc_shape_str(x, b, 64), (long long)K, idx ? "" : ", no indices");
        return NULL;
    }
    x = genc_contiguous(ctx, x);
    take_saved *sv = x ? genc_arena_alloc(ctx, sizeof *sv) : NULL;
    if (!sv) return NULL;
    sv->N = x->shape[0], sv->E = x->shape[1], sv->K = K;
    if (!(sv->idx = take_indices(ctx, idx, sv->N * K, sv->E))) return NULL;
    int64_t shape[2] = {sv->N, K};
    genc_tensor *y = genc_tensor_empty(ctx, 2, shape);
    if (!y) return NULL;
    for (int64_t r = 0; r < sv->N; r++)
        for (int64_t j = 0; j < K; j++) y->data[r * K + j] = x->data[r * sv->E + sv->idx[r * K + j]];
    genc_node *n = genc_record(ctx, "take_along", take_along_backward, y, 1, &x);
    if (n) n->saved = sv;
    return genc_ctx_status(ctx) ? NULL : y;
}

/* ---- expand: out[.., i, ..] = x[.., 0, ..] for i < n; dx[.., 0, ..] += sum_i dy[.., i, ..] ---- */

/* Padded 4-d shape of the output and contiguous strides for the output (ost) and for x
 * seen as the output's shape with stride 0 on the repeated dim (xst). */
static void expand_strides(const genc_tensor *out, int ax4, int64_t osh[4], int64_t ost[4], int64_t xst[4]) {
    genc_pad4(out, osh, ost);
    genc_contig_strides4(osh, ost);
    int64_t xsh[4];
    memcpy(xsh, osh, sizeof xsh);
    xsh[ax4] = 1;
    genc_contig_strides4(xsh, xst);
    xst[ax4] = 0;
}

static void expand_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *gx = genc_grad(ctx, n->in[0]);
    if (!gx) return;
    int64_t osh[4], ost[4], xst[4];
    expand_strides(n->out, (int)n->iarg[0], osh, ost, xst);
    genc_strided_apply(osh, gx, xst, n->out->grad, ost, true); /* serial: stride-0 destination */
}

genc_tensor *genc_expand(genc_ctx *ctx, genc_tensor *x, int axis, int64_t n) {
    if (!x) return NULL;
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a < 0 || a >= x->ndim || x->shape[a] != 1 || n < 1) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "expand: axis %d of x %s must exist and have size 1, and n (%lld) must be >= 1",
                   axis, genc_shape_str(x, b, 64), (long long)n);
        return NULL;
    }
    if (!(x = genc_contiguous(ctx, x))) return NULL;
    int64_t shape[4];
    memcpy(shape, x->shape, sizeof shape);
    shape[a] = n;
    genc_tensor *y = genc_tensor_empty(ctx, x->ndim, shape);
    if (!y) return NULL;
    int ax4 = a + 4 - x->ndim;
    int64_t osh[4], ost[4], xst[4];
    expand_strides(y, ax4, osh, ost, xst);
    genc_strided_apply(osh, y->data, ost, x->data, xst, false);
    genc_node *nd = genc_record(ctx, "expand", expand_backward, y, 1, &x);
    if (nd) nd->iarg[0] = ax4;
    return genc_ctx_status(ctx) ? NULL : y;
}
