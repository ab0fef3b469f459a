/* DeepSeekMoE (V3 report eqs. 12-16 and section 2.1.2): shared experts plus routed SwiGLU
 * experts chosen per token by affinity + balancing bias (group-limited), weighted by the
 * unbiased affinities renormalised over the chosen experts. Tokens are sorted by expert so
 * each expert runs one GEMM per projection; no token is ever dropped. Also the dense FFN,
 * the sequence-wise / batch-wise balance loss (eqs. 17-20), the bias update and MaxVio. */
#include "lm/lm_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_EXPERTS 4096

genc_tensor *genc_lm_swiglu_mlp(genc_ctx *ctx, const genc_qmode *q, genc_tensor *u, genc_tensor *gate, genc_tensor *up,
                                genc_tensor *down) {
    bool held = (gate && gate->w8) || (up && up->w8); /* weights held in FP8: genc_linear decodes them */
    if ((!q || q->prec == GENC_PREC_FP32) && held)
        return genc_linear(ctx, genc_swiglu(ctx, genc_linear(ctx, u, gate, NULL), genc_linear(ctx, u, up, NULL)), down, NULL);
    if (!q || q->prec == GENC_PREC_FP32) /* gate and up as one GEMM */
        return genc_linear(ctx, genc_swiglu_linear(ctx, u, gate, up), down, NULL);
    return genc_linear_q(ctx, genc_swiglu(ctx, genc_linear_q(ctx, u, gate, q), genc_linear_q(ctx, u, up, q)), down, q);
}

/* Index of the largest value among the unmasked, ties to the lowest index. */
static int argmax_free(const genc_real *v, const bool *taken, int n) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (!taken[i] && (best < 0 || v[i] > v[best])) best = i;
    return best;
}

/* Choose K experts for one token from sel = s + b: keep the topk_groups groups with the
 * largest sum of their two best sel, then the K best experts inside them. */
static void route_token(const genc_lm_config *c, const genc_real *s, const genc_real *bias, int32_t *out) {
    genc_real sel[MAX_EXPERTS];
    bool masked[MAX_EXPERTS];
    int E = c->n_routed, G = c->n_groups, per = E / G;
    for (int e = 0; e < E; e++) sel[e] = s[e] + bias[e], masked[e] = false;
    if (G > 1) {
        genc_real gscore[MAX_EXPERTS];
        bool gtaken[MAX_EXPERTS] = {false}, keep[MAX_EXPERTS] = {false};
        for (int g = 0; g < G; g++) {
            const genc_real *v = sel + g * per;
            int a = 0, b2 = -1;
            for (int i = 1; i < per; i++) a = v[i] > v[a] ? i : a;
            for (int i = 0; i < per; i++)
                if (i != a && (b2 < 0 || v[i] > v[b2])) b2 = i;
            gscore[g] = v[a] + v[b2];
        }
        for (int r = 0; r < c->topk_groups; r++) {
            int g = argmax_free(gscore, gtaken, G);
            gtaken[g] = keep[g] = true;
        }
        for (int e = 0; e < E; e++) masked[e] = !keep[e / per];
    }
    for (int j = 0; j < c->n_active; j++) {
        int e = argmax_free(sel, masked, E);
        out[j] = e;
        masked[e] = true;
    }
}

typedef struct {
    int32_t *idx;       /* [N, K] chosen experts */
    int32_t *perm_tok;  /* [N*K] token of each routed slot, grouped by expert */
    int32_t *perm_slot; /* [N*K] its (token, k) slot */
    int64_t *offset;    /* [E + 1] start of each expert's group */
} routing;

static genc_status route_all(genc_ctx *ctx, genc_lm_block *k, const genc_lm_config *c, const genc_tensor *s,
                             int64_t N, routing *r) {
    int E = c->n_routed, K = c->n_active;
    r->idx = genc_arena_alloc(ctx, (size_t)(N * K) * sizeof(int32_t));
    r->perm_tok = genc_arena_alloc(ctx, (size_t)(N * K) * sizeof(int32_t));
    r->perm_slot = genc_arena_alloc(ctx, (size_t)(N * K) * sizeof(int32_t));
    r->offset = genc_arena_calloc(ctx, (size_t)(E + 1) * sizeof(int64_t));
    if (!r->idx || !r->perm_tok || !r->perm_slot || !r->offset) return genc_ctx_status(ctx);
    const genc_real *bias = k->router_bias->data;
#pragma omp parallel for if (N * E > 4096) schedule(static)
    for (int64_t n = 0; n < N; n++) route_token(c, s->data + n * E, bias, r->idx + n * K);
    for (int64_t i = 0; i < N * K; i++) r->offset[r->idx[i] + 1]++;
    for (int e = 0; e < E; e++) k->load[e] = r->offset[e + 1], r->offset[e + 1] += r->offset[e];
    k->load_tokens = N;
    int64_t *fill = genc_arena_alloc(ctx, (size_t)E * sizeof(int64_t));
    if (!fill) return genc_ctx_status(ctx);
    memcpy(fill, r->offset, (size_t)E * sizeof(int64_t));
    for (int64_t i = 0; i < N * K; i++) { /* stable: tokens ascending within an expert */
        int64_t p = fill[r->idx[i]]++;
        r->perm_tok[p] = (int32_t)(i / K), r->perm_slot[p] = (int32_t)i;
    }
    return GENC_OK;
}

/* Routed experts on u [N, dim]: gather rows by expert, one SwiGLU MLP per expert on its
 * contiguous group, weight by g, scatter-add back to tokens. */
static genc_tensor *routed_experts(genc_ctx *ctx, const genc_lm_config *c, const genc_qmode *q, genc_lm_block *k,
                                   genc_tensor *u, genc_tensor *g, const routing *r, int64_t N, genc_dist *ep) {
    int E = c->n_routed;
    int64_t NK = N * c->n_active;
    genc_tensor *xs = genc_gather_rows(ctx, u, r->perm_tok, NK);
    genc_tensor *gs = genc_gather_rows(ctx, genc_reshape(ctx, g, 2, (int64_t[]){NK, 1}), r->perm_slot, NK);
    genc_tensor **outs = genc_arena_alloc(ctx, (size_t)E * sizeof *outs);
    if (!outs || !xs || !gs) return NULL;
    if (ep) /* expert parallelism: the experts' ranks compute them (ep.c) */
        return genc_scatter_add_rows(ctx, genc_mul(ctx, genc_lm_ep_experts(ctx, c, q, k, ep, xs, r->offset), gs),
                                     r->perm_tok, N);
    int n_out = 0;
    for (int e = 0; e < E; e++) {
        int64_t cnt = r->offset[e + 1] - r->offset[e];
        if (cnt == 0) continue;
        genc_tensor *xe = genc_slice(ctx, xs, 0, r->offset[e], cnt);
        outs[n_out++] = genc_lm_swiglu_mlp(ctx, q, xe, k->e_gate[e], k->e_up[e], k->e_down[e]);
    }
    genc_tensor *ys = n_out == 1 ? outs[0] : genc_concat(ctx, outs, n_out, 0);
    return genc_scatter_add_rows(ctx, genc_mul(ctx, ys, gs), r->perm_tok, N);
}

/* L_bal = alpha * sum_i f_i P_i (eqs. 17-20): per sequence of length T (seq_aux, averaged
 * over the B sequences) or over the whole batch. f_i = E / (K T) * tokens routed to i (no
 * gradient); P_i = mean over tokens of s_i / sum_j s_j. */
static genc_tensor *balance_loss(genc_ctx *ctx, const genc_lm_config *c, genc_tensor *s, const routing *r, int64_t B,
                                 int64_t T) {
    int E = c->n_routed, K = c->n_active;
    int64_t seqs = c->seq_aux ? B : 1, len = c->seq_aux ? T : B * T;
    genc_tensor *f = genc_tensor_zeros(ctx, 2, (int64_t[]){seqs, E});
    if (!f) return NULL;
    for (int64_t i = 0; i < B * T * K; i++) f->data[(i / K) / len * E + r->idx[i]] += (genc_real)E / (genc_real)(K * len);
    genc_tensor *sn = genc_div(ctx, s, genc_sum(ctx, s, -1, true));
    genc_tensor *P = genc_mean(ctx, genc_reshape(ctx, sn, 3, (int64_t[]){seqs, len, E}), 1, false);
    return genc_scale(ctx, genc_sum_all(ctx, genc_mul(ctx, P, f)), c->aux_alpha / (double)seqs);
}

static genc_tensor *moe(genc_ctx *ctx, const genc_lm_config *c, const genc_qmode *q, genc_lm_block *k,
                        genc_tensor *u, int64_t B, int64_t T, genc_tensor **bal, genc_dist *ep) {
    int64_t N = u->shape[0];
    genc_tensor *logits = genc_linear(ctx, u, k->router, NULL);
    genc_tensor *s = c->score == GENC_SCORE_SOFTMAX ? genc_softmax(ctx, logits) : genc_sigmoid(ctx, logits);
    routing r;
    if (!s || route_all(ctx, k, c, s, N, &r)) return NULL;
    genc_profile_mark(ctx, "routing");
    genc_tensor *g = genc_take_along(ctx, s, r.idx, c->n_active);
    if (c->score == GENC_SCORE_SIGMOID || c->norm_topk) g = genc_div(ctx, g, genc_sum(ctx, g, -1, true));
    g = genc_scale(ctx, g, c->route_scale);
    genc_tensor *out = routed_experts(ctx, c, q, k, u, g, &r, N, ep);
    if (k->s_gate) out = genc_add(ctx, out, genc_lm_swiglu_mlp(ctx, q, u, k->s_gate, k->s_up, k->s_down));
    if (bal) *bal = c->aux_alpha > 0 ? balance_loss(ctx, c, s, &r, B, T) : NULL;
    return out;
}

genc_tensor *genc_lm_ffn(genc_ctx *ctx, genc_lm *m, genc_lm_block *k, genc_tensor *u, int64_t B, int64_t T,
                         genc_tensor **bal_loss) {
    if (bal_loss) *bal_loss = NULL;
    if (!u) return NULL;
    if (k->w_gate) return genc_lm_swiglu_mlp(ctx, &m->qmode, u, k->w_gate, k->w_up, k->w_down);
    return moe(ctx, &m->cfg, &m->qmode, k, u, B, T, bal_loss, m->ep);
}

void genc_lm_update_bias(genc_lm *m) {
    const genc_lm_config *c = &m->cfg;
    if (c->balance != GENC_BAL_AUX_FREE || c->bias_gamma == 0) return;
    for (int i = 0; i < c->n_layers + c->mtp_depth; i++) {
        genc_lm_block *k = &m->blocks[i];
        if (!k->router || k->load_tokens == 0) continue;
        double mean = (double)k->load_tokens * c->n_active / c->n_routed;
        for (int e = 0; e < c->n_routed; e++) {
            double d = mean - (double)k->load[e];
            k->router_bias->data[e] += (genc_real)(c->bias_gamma * (d > 0 ? 1 : d < 0 ? -1 : 0));
        }
    }
}

double genc_lm_maxvio(const genc_lm *m, int block) {
    const genc_lm_block *k = &m->blocks[block];
    if (!k->router || k->load_tokens == 0) return 0;
    double mean = (double)k->load_tokens * m->cfg.n_active / m->cfg.n_routed, mx = 0;
    for (int e = 0; e < m->cfg.n_routed; e++) mx = (double)k->load[e] > mx ? (double)k->load[e] : mx;
    return (mx - mean) / mean;
}
