/* Fused scaled-dot-product attention for the language models (MLA's per-head attention
 * once q, k and v are formed): softmax(scale q.k + mask) v over [B, T, H, d] tensors,
 * with a causal mask that allows a cache or prefix of S - T keys, and per-row left padding
 * (key_start). Each (batch, head) pair is independent: pairs run in parallel, and inside a
 * pair every product is a GEMM reading the [B, T, H, d] layout in place (leading dimension
 * H d), so q, k and v are never transposed or copied.
 *
 * Causal attention goes in blocks of ATTN_QBLK query rows; a block only computes the keys
 * its last row can see, which skips most of the masked upper triangle. Masked scores get
 * probability exactly 0, so a query that sees no key at all outputs zeros, and the masked
 * entries give zero gradient without being looked at again.
 *
 * Forward, per pair (Q [T, dk], K [S, dk], V [S, dv]):
 *   S_ts = scale Q_t . K_s,  P = softmax over the visible keys of each row,  O = P V.
 * Backward (P saved): dV += P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)),
 *   dQ += scale dS K, dK += scale dS^T Q. */
#include "genc/genc.h"
#include "ops/fastexp.h"

#include <omp.h>
#include <string.h>
#include <tgmath.h>

#define ATTN_QBLK 64

typedef struct {
    int64_t B, T, S, H, dk, dv, blk; /* blk: query rows per block */
    genc_real scale;
    bool causal;
    int32_t *key_start; /* arena copy, or NULL */
    genc_real *P;       /* [B, H, T, S] probabilities, or NULL when not recording */
} attn_plan;

/* Pointers into whole tensors; head_ptrs moves them to one (b, h) pair. g*: gradients or
 * NULL; o: the output (forward) or its gradient (backward). */
typedef struct {
    const genc_real *q, *k, *v;
    genc_real *o, *gq, *gk, *gv;
} attn_ptrs;

static attn_ptrs head_ptrs(const attn_plan *p, const attn_ptrs *all, int64_t bh) {
    int64_t b = bh / p->H, h = bh % p->H;
    int64_t qo = (b * p->T * p->H + h) * p->dk, ko = (b * p->S * p->H + h) * p->dk;
    int64_t vo = (b * p->S * p->H + h) * p->dv, oo = (b * p->T * p->H + h) * p->dv;
    attn_ptrs r = {all->q + qo, all->k + ko, all->v + vo, all->o + oo, all->gq ? all->gq + qo : NULL,
                   all->gk ? all->gk + ko : NULL, all->gv ? all->gv + vo : NULL};
    return r;
}

/* Visible keys of query row t in batch b: [key_lo, key_hi). Causal: s <= t + S - T. */
static int64_t key_lo(const attn_plan *p, int64_t b) { return p->key_start ? p->key_start[b] : 0; }
static int64_t key_hi(const attn_plan *p, int64_t t) {
    int64_t hi = p->causal ? t + p->S - p->T + 1 : p->S;
    return hi < 0 ? 0 : hi;
}

/* Row of scores z[0..S) -> probabilities: p_s = e^(z_s - m) / sum_{lo<=j<hi} e^(z_j - m) for
 * lo <= s < hi (m the max over that range), 0 outside it; all 0 if the range is empty. */
static void softmax_row(genc_real *z, int64_t S, int64_t lo, int64_t hi) {
    if (hi <= lo) {
        memset(z, 0, (size_t)S * sizeof *z);
        return;
    }
    memset(z, 0, (size_t)lo * sizeof *z);
    memset(z + hi, 0, (size_t)(S - hi) * sizeof *z);
    genc_real m = z[lo], sum = 0;
    for (int64_t s = lo + 1; s < hi; s++) m = z[s] > m ? z[s] : m;
    for (int64_t s = lo; s < hi; s++) z[s] = fastexp(z[s] - m);
#pragma omp simd reduction(+ : sum)
    for (int64_t s = lo; s < hi; s++) sum += z[s];
    genc_real inv = 1 / sum;
    for (int64_t s = lo; s < hi; s++) z[s] *= inv;
}

/* One pair, forward: P [T, S] (ld S) = softmax(scale Q K^T), O = P V, block by block. */
static void attn_fwd_pair(const attn_plan *p, const attn_ptrs *a, genc_real *P, int64_t b) {
    int64_t T = p->T, S = p->S, ldk = p->H * p->dk, ldv = p->H * p->dv, lo = key_lo(p, b);
    for (int64_t t0 = 0; t0 < T; t0 += p->blk) {
        int64_t m = T - t0 < p->blk ? T - t0 : p->blk, n = key_hi(p, t0 + m - 1) - lo;
        genc_real *Pb = P + t0 * S + lo;
        if (n > 0) genc_gemm(false, true, m, n, p->dk, p->scale, a->q + t0 * ldk, ldk, a->k + lo * ldk, ldk, 0, Pb, S);
        for (int64_t t = t0; t < t0 + m; t++) softmax_row(P + t * S, S, lo, key_hi(p, t));
        if (n > 0)
            genc_gemm(false, false, m, p->dv, n, 1, Pb, S, a->v + lo * ldv, ldv, 0, a->o + t0 * ldv, ldv);
        else
            for (int64_t t = t0; t < t0 + m; t++) memset(a->o + t * ldv, 0, (size_t)p->dv * sizeof(genc_real));
    }
}

/* dS = P * (dP - sum_s dP_s P_s) over one row of n visible-range entries, in place in dp. */
static void ds_row(genc_real *dp, const genc_real *pr, int64_t n) {
    genc_real dot = 0;
    for (int64_t s = 0; s < n; s++) dot += dp[s] * pr[s];
    for (int64_t s = 0; s < n; s++) dp[s] = pr[s] * (dp[s] - dot);
}

/* One pair, backward (formulas at the top), block by block; W: scratch of blk * S reals. */
static void attn_bwd_pair(const attn_plan *p, const attn_ptrs *a, const genc_real *P, genc_real *W, int64_t b) {
    int64_t T = p->T, S = p->S, ldk = p->H * p->dk, ldv = p->H * p->dv, lo = key_lo(p, b);
    for (int64_t t0 = 0; t0 < T; t0 += p->blk) {
        int64_t m = T - t0 < p->blk ? T - t0 : p->blk, n = key_hi(p, t0 + m - 1) - lo;
        const genc_real *Pb = P + t0 * S + lo, *dO = a->o + t0 * ldv;
        if (n <= 0) continue;
        if (a->gv) genc_gemm(true, false, n, p->dv, m, 1, Pb, S, dO, ldv, 1, a->gv + lo * ldv, ldv);
        if (!a->gq && !a->gk) continue;
        genc_gemm(false, true, m, n, p->dv, 1, dO, ldv, a->v + lo * ldv, ldv, 0, W, n);
        for (int64_t r = 0; r < m; r++) ds_row(W + r * n, Pb + r * S, n);
        if (a->gq) genc_gemm(false, false, m, p->dk, n, p->scale, W, n, a->k + lo * ldk, ldk, 1, a->gq + t0 * ldk, ldk);
        if (a->gk) genc_gemm(true, false, n, p->dk, m, p->scale, W, n, a->q + t0 * ldk, ldk, 1, a->gk + lo * ldk, ldk);
    }
}

/* The GEMM FLOPs of all pairs, for the profiler: per block m x n scores, each costing
 * 2 (dk + dv) forward (S = Q K^T, O = P V) and 4 (dk + dv) backward (dV, dP, dQ, dK). */
static double attn_flops(const attn_plan *p, bool backward) {
    double f = 0;
    for (int64_t b = 0; b < p->B; b++)
        for (int64_t t0 = 0; t0 < p->T; t0 += p->blk) {
            int64_t m = p->T - t0 < p->blk ? p->T - t0 : p->blk, n = key_hi(p, t0 + m - 1) - key_lo(p, b);
            f += n > 0 ? (double)m * (double)n : 0;
        }
    return f * (double)p->H * (double)(p->dk + p->dv) * (backward ? 4 : 2);
}

/* Pairs run in parallel when there is enough work for it; one scratch slice per thread. */
static bool attn_parallel(const attn_plan *p) {
    return p->B * p->H > 1 && p->B * p->H * p->T * p->S * (p->dk + p->dv) > GENC_PAR_MIN;
}

static void attention_backward(genc_ctx *ctx, genc_node *n) {
    const attn_plan *p = n->saved;
    genc_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    attn_ptrs all = {q->data, k->data, v->data, n->out->grad, q->requires_grad ? genc_grad(ctx, q) : NULL,
                     k->requires_grad ? genc_grad(ctx, k) : NULL, v->requires_grad ? genc_grad(ctx, v) : NULL};
    int nt = omp_get_max_threads();
    genc_real *scratch = genc_arena_alloc(ctx, (size_t)(nt * p->blk * p->S) * sizeof(genc_real));
    if (genc_ctx_status(ctx) || !scratch) return;
    int64_t npair = p->B * p->H;
#pragma omp parallel for num_threads(nt) if (attn_parallel(p)) schedule(static)
    for (int64_t bh = 0; bh < npair; bh++) {
        attn_ptrs a = head_ptrs(p, &all, bh);
        attn_bwd_pair(p, &a, p->P + bh * p->T * p->S, scratch + omp_get_thread_num() * p->blk * p->S, bh / p->H);
    }
    if (genc_profile_on(ctx)) genc_profile_flops(ctx, attn_flops(p, true));
}

/* Shapes agree and every key_start is in [0, S]; false with the error set. */
static bool attn_check(genc_ctx *ctx, const genc_tensor *q, const genc_tensor *k, const genc_tensor *v,
                       const int32_t *key_start) {
    bool ok = q->ndim == 4 && k->ndim == 4 && v->ndim == 4 && k->shape[0] == q->shape[0] &&
              v->shape[0] == q->shape[0] && k->shape[1] == v->shape[1] && k->shape[2] == q->shape[2] &&
              v->shape[2] == q->shape[2] && k->shape[3] == q->shape[3];
    if (!ok) {
        char s1[64], s2[64], s3[64];
        genc_error(ctx, GENC_EINVAL, "attention: expected q [B, T, H, dk], k [B, S, H, dk], v [B, S, H, dv]; "
                   "found q %s, k %s, v %s", genc_shape_str(q, s1, 64), genc_shape_str(k, s2, 64),
                   genc_shape_str(v, s3, 64));
        return false;
    }
    for (int64_t b = 0; key_start && b < q->shape[0]; b++)
        if (key_start[b] < 0 || key_start[b] > k->shape[1]) {
            genc_error(ctx, GENC_EINVAL, "attention: key_start[%lld] = %d is outside [0, S = %lld]", (long long)b,
                       (int)key_start[b], (long long)k->shape[1]);
            return false;
        }
    return true;
}

/* The plan, with the key_start copy and (when recording) the probability buffer. */
static attn_plan *attn_plan_new(genc_ctx *ctx, const genc_tensor *q, const genc_tensor *k, const genc_tensor *v,
                                double scale, bool causal, const int32_t *key_start, bool save) {
    attn_plan *p = genc_arena_calloc(ctx, sizeof *p);
    if (!p) return NULL;
    *p = (attn_plan){q->shape[0], q->shape[1], k->shape[1], q->shape[2], q->shape[3], v->shape[3], q->shape[1],
                     (genc_real)scale, causal, NULL, NULL};
    if (causal && p->blk > ATTN_QBLK) p->blk = ATTN_QBLK;
    if (key_start && !(p->key_start = genc_arena_alloc(ctx, (size_t)p->B * sizeof(int32_t)))) return NULL;
    if (key_start) memcpy(p->key_start, key_start, (size_t)p->B * sizeof(int32_t));
    if (save && !(p->P = genc_arena_alloc(ctx, (size_t)(p->B * p->H * p->T * p->S) * sizeof(genc_real)))) return NULL;
    return p;
}

genc_tensor *genc_attention(genc_ctx *ctx, genc_tensor *q, genc_tensor *k, genc_tensor *v, double scale, bool causal,
                            const int32_t *key_start) {
    if (!q || !k || !v || !attn_check(ctx, q, k, v, key_start)) return NULL;
    q = genc_contiguous(ctx, q), k = genc_contiguous(ctx, k), v = genc_contiguous(ctx, v);
    if (!q || !k || !v) return NULL;
    bool save = genc_grad_enabled(ctx) && (q->requires_grad || k->requires_grad || v->requires_grad);
    attn_plan *p = attn_plan_new(ctx, q, k, v, scale, causal, key_start, save);
    int64_t oshape[4] = {p ? p->B : 0, p ? p->T : 0, p ? p->H : 0, p ? p->dv : 0};
    genc_tensor *out = p ? genc_tensor_empty(ctx, 4, oshape) : NULL;
    int nt = omp_get_max_threads();
    genc_real *scratch = out && !save ? genc_arena_alloc(ctx, (size_t)(nt * p->T * p->S) * sizeof(genc_real)) : NULL;
    if (!out || (!save && !scratch)) return NULL;
    attn_ptrs all = {q->data, k->data, v->data, out->data, NULL, NULL, NULL};
    int64_t npair = p->B * p->H;
#pragma omp parallel for num_threads(nt) if (attn_parallel(p)) schedule(static)
    for (int64_t bh = 0; bh < npair; bh++) {
        attn_ptrs a = head_ptrs(p, &all, bh);
        genc_real *P = save ? p->P + bh * p->T * p->S : scratch + omp_get_thread_num() * p->T * p->S;
        attn_fwd_pair(p, &a, P, bh / p->H);
    }
    if (genc_profile_on(ctx)) genc_profile_flops(ctx, attn_flops(p, false));
    genc_tensor *in[3] = {q, k, v};
    genc_node *n = genc_record(ctx, "attention", attention_backward, out, 3, in);
    if (n) n->saved = p;
    return genc_ctx_status(ctx) ? NULL : out;
}
