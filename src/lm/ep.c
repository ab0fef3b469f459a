/* Expert parallelism for DeepSeekMoE (DeepSeek-V3 section 3.4: routed experts spread over
 * devices, tokens dispatched to them and combined back with all-to-all): with m->ep set, rank r
 * of R computes routed experts [r E/R, (r+1) E/R) only. Every rank routes its own tokens; the
 * rows each expert needs travel to the expert's rank (dispatch), its outputs travel back
 * (combine), both as an autograd op whose backward is the reverse all-to-all, so an expert's
 * gradient gathers every rank's tokens. Shared experts, attention and the router stay
 * replicated. The expert weights are still stored on every rank (the data-parallel all-reduce
 * keeps them equal: the owner holds the sum over ranks, the others zeros). */
#include "lm/lm_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    genc_dist *d;
    int64_t *scount, *rcount; /* [R] rows sent to / received from each rank in the forward */
} a2a_saved;

static void a2a_backward(genc_ctx *ctx, genc_node *n) {
    a2a_saved *sv = n->saved;
    genc_tensor *x = n->in[0];
    int64_t W = x->shape[1], rows = 0;
    for (int r = 0; r < genc_dist_size(sv->d); r++) rows += sv->scount[r];
    genc_real *back = genc_arena_calloc(ctx, (size_t)((rows + 1) * W) * sizeof *back);
    if (!back) return;
    /* every rank runs this exchange, whether or not its input needs the gradient */
    if (genc_dist_alltoall_rows(ctx, sv->d, n->out->grad, sv->rcount, back, sv->scount, W, "an expert backward"))
        return;
    genc_real *gx = x->requires_grad ? genc_grad(ctx, x) : NULL;
    for (int64_t i = 0; gx && i < rows * W; i++) gx[i] += back[i];
}

/* x [>= sum scount, W] -> [sum rcount + 1, W]: rows x[...] for rank r go there; the last row is
 * zero (a tensor has at least one row, and a rank may receive none). */
static genc_tensor *all_to_all(genc_ctx *ctx, genc_dist *d, genc_tensor *x, const int64_t *scount,
                               const int64_t *rcount, const char *at) {
    int R = genc_dist_size(d);
    int64_t rows = 1, W = x ? x->shape[1] : 0;
    if (!(x = genc_contiguous(ctx, x))) return NULL;
    for (int r = 0; r < R; r++) rows += rcount[r];
    genc_tensor *out = genc_tensor_zeros(ctx, 2, (int64_t[]){rows, W});
    if (!out || genc_dist_alltoall_rows(ctx, d, x->data, scount, out->data, rcount, W, at)) return NULL;
    genc_node *n = genc_record(ctx, "all_to_all", a2a_backward, out, 1, &x);
    a2a_saved *sv = n ? genc_arena_alloc(ctx, sizeof *sv) : NULL;
    int64_t *counts = sv ? genc_arena_alloc(ctx, 2 * (size_t)R * sizeof *counts) : NULL;
    if (n && !counts) return NULL;
    if (n) {
        memcpy(counts, scount, (size_t)R * sizeof *counts), memcpy(counts + R, rcount, (size_t)R * sizeof *counts);
        *sv = (a2a_saved){d, counts, counts + R}, n->saved = sv;
    }
    return out;
}

/* Every rank's rows per expert: cnt[s * E + e], from the local offsets. */
static double *all_counts(genc_ctx *ctx, genc_dist *d, const int64_t *offset, int E) {
    int R = genc_dist_size(d), me = genc_dist_rank(d);
    double *cnt = genc_arena_calloc(ctx, (size_t)R * (size_t)E * sizeof *cnt);
    if (!cnt) return NULL;
    for (int e = 0; e < E; e++) cnt[me * E + e] = (double)(offset[e + 1] - offset[e]);
    return genc_dist_sum_f64(ctx, d, cnt, R * E, "an expert dispatch (counts)") ? NULL : cnt;
}

/* The received rows come source-major (rank 0's rows for this rank's experts, expert by expert,
 * then rank 1's, ...); perm[j] is where the j-th row in expert-major order sits, inv the reverse. */
static void expert_major(const double *cnt, int R, int E, int e0, int per, int32_t *perm, int32_t *inv) {
    int64_t j = 0;
    for (int e = e0; e < e0 + per; e++) {
        int64_t base = 0; /* where rank s's rows start */
        for (int s = 0; s < R; s++) {
            int64_t before = 0, rows_s = 0; /* rank s's rows of this rank's experts below e; all of them */
            for (int f = e0; f < e0 + per; f++) {
                rows_s += (int64_t)cnt[s * E + f];
                if (f < e) before += (int64_t)cnt[s * E + f];
            }
            for (int64_t t = 0; t < (int64_t)cnt[s * E + e]; t++, j++) {
                perm[j] = (int32_t)(base + before + t);
                inv[base + before + t] = (int32_t)j;
            }
            base += rows_s;
        }
    }
}

/* This rank's experts on the received rows (source-major) -> their outputs, source-major. */
static genc_tensor *local_experts(genc_ctx *ctx, const genc_lm_config *c, const genc_qmode *q, genc_lm_block *k,
                                  genc_dist *d, genc_tensor *x, const double *cnt, int64_t M) {
    int R = genc_dist_size(d), E = c->n_routed, per = E / R, e0 = genc_dist_rank(d) * per;
    int32_t *perm = genc_arena_alloc(ctx, (size_t)M * sizeof *perm);
    int32_t *inv = genc_arena_alloc(ctx, (size_t)M * sizeof *inv);
    genc_tensor **outs = genc_arena_alloc(ctx, (size_t)per * sizeof *outs);
    if (!perm || !inv || !outs) return NULL;
    expert_major(cnt, R, E, e0, per, perm, inv);
    genc_tensor *xs = genc_gather_rows(ctx, x, perm, M);
    int n_out = 0;
    for (int64_t e = e0, at = 0; xs && e < e0 + per; e++) {
        int64_t n = 0;
        for (int s = 0; s < R; s++) n += (int64_t)cnt[s * E + e];
        if (n) outs[n_out++] = genc_lm_swiglu_mlp(ctx, q, genc_slice(ctx, xs, 0, at, n), k->e_gate[e], k->e_up[e],
                                                  k->e_down[e]);
        at += n;
    }
    genc_tensor *ys = n_out == 1 ? outs[0] : genc_concat(ctx, outs, n_out, 0);
    return genc_gather_rows(ctx, ys, inv, M);
}

genc_tensor *genc_lm_ep_experts(genc_ctx *ctx, const genc_lm_config *c, const genc_qmode *q, genc_lm_block *k,
                                genc_dist *d, genc_tensor *xs, const int64_t *offset) {
    int R = genc_dist_size(d), me = genc_dist_rank(d), E = c->n_routed, per = E / R;
    int64_t NK = xs ? xs->shape[0] : 0, M = 0;
    double *cnt = xs ? all_counts(ctx, d, offset, E) : NULL;
    int64_t *sc = genc_arena_calloc(ctx, 2 * (size_t)R * sizeof *sc), *rc = sc ? sc + R : NULL;
    if (!cnt || !sc) return NULL;
    for (int r = 0; r < R; r++)
        for (int e = r * per; e < (r + 1) * per; e++) sc[r] += (int64_t)cnt[me * E + e];
    for (int s = 0; s < R; s++)
        for (int e = me * per; e < (me + 1) * per; e++) rc[s] += (int64_t)cnt[s * E + e];
    for (int s = 0; s < R; s++) M += rc[s];
    genc_tensor *x = all_to_all(ctx, d, xs, sc, rc, "an expert dispatch");
    genc_tensor *y = M && x ? local_experts(ctx, c, q, k, d, x, cnt, M) : x; /* none received: send none */
    genc_tensor *back = y ? all_to_all(ctx, d, y, rc, sc, "an expert combine") : NULL;
    return back ? genc_slice(ctx, back, 0, 0, NK) : NULL;
}
