/* The DeepSeek-V3 model forward for training and evaluation: pre-norm blocks (MLA, then a
 * dense or MoE FFN), the final norm and output head, the multi-token-prediction modules
 * (V3 report eqs. 21-25) and the combined loss. */
#include "lm/lm_internal.h"

#include <string.h>

/* x = x + MLA(norm(x)); x = x + FFN(norm(x)).   x [B, T, dim] -> [B, T, dim] */
static genc_tensor *block(genc_ctx *ctx, genc_lm *m, genc_lm_block *k, genc_tensor *x, const int32_t *pos,
                          genc_tensor **bal) {
    if (!x) return NULL;
    const genc_lm_config *c = &m->cfg;
    int64_t B = x->shape[0], T = x->shape[1];
    genc_tensor *h = genc_add(ctx, x, genc_lm_mla(ctx, m, k, genc_rmsnorm(ctx, x, k->attn_norm, c->norm_eps), pos));
    genc_tensor *u = genc_reshape(ctx, genc_rmsnorm(ctx, h, k->ffn_norm, c->norm_eps), 2, (int64_t[]){B * T, c->dim});
    genc_tensor *f = genc_lm_ffn(ctx, m, k, u, B, T, bal);
    return genc_add(ctx, h, genc_reshape(ctx, f, 3, (int64_t[]){B, T, c->dim}));
}

/* ids[b, i] = tokens[b, i + shift] for i < len, from rows of `stride` tokens. */
static int32_t *window(genc_ctx *ctx, const int32_t *tokens, int64_t B, int64_t stride, int64_t shift, int64_t len) {
    int32_t *ids = genc_arena_alloc(ctx, (size_t)(B * len) * sizeof(int32_t));
    for (int64_t b = 0; ids && b < B; b++) memcpy(ids + b * len, tokens + b * stride + shift, (size_t)len * sizeof(int32_t));
    return ids;
}

static genc_tensor *embed(genc_ctx *ctx, genc_lm *m, const int32_t *ids, int64_t B, int64_t T) {
    return genc_reshape(ctx, genc_embedding(ctx, m->embed, ids, B * T), 3, (int64_t[]){B, T, m->cfg.dim});
}

static genc_tensor *head(genc_ctx *ctx, genc_lm *m, genc_tensor *h) {
    return genc_linear(ctx, genc_rmsnorm(ctx, h, m->final_norm, m->cfg.norm_eps), m->lm_head, NULL);
}

static int32_t *positions(genc_ctx *ctx, int64_t T) {
    int32_t *pos = genc_arena_alloc(ctx, (size_t)T * sizeof(int32_t));
    for (int64_t t = 0; pos && t < T; t++) pos[t] = (int32_t)t;
    return pos;
}

/* The main model's blocks; *bal accumulates the balance losses. Returns h before the final norm. */
static genc_tensor *trunk(genc_ctx *ctx, genc_lm *m, const int32_t *ids, int64_t B, int64_t T, genc_tensor **bal) {
    const int32_t *pos = positions(ctx, T);
    genc_tensor *x = pos ? embed(ctx, m, ids, B, T) : NULL;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        genc_tensor *lb = NULL;
        genc_profile_layer(ctx, l);
        x = block(ctx, m, &m->blocks[l], x, pos, bal ? &lb : NULL);
        if (lb) *bal = *bal ? genc_add(ctx, *bal, lb) : lb;
    }
    genc_profile_layer(ctx, -1);
    return x;
}

/* MTP module k (1-based) on h_prev [B, T-k+1, dim]: h' = M_k [enorm(Emb(t_{i+k})) ; hnorm(h_i)],
 * then its block, for positions i = 0 .. T-1-k. */
static genc_tensor *mtp_module(genc_ctx *ctx, genc_lm *m, int k, genc_tensor *h_prev, const int32_t *tokens, int64_t B,
                               int64_t T) {
    genc_lm_block *blk = &m->blocks[m->cfg.n_layers + k - 1];
    int64_t len = T - k;
    double eps = m->cfg.norm_eps;
    genc_profile_layer(ctx, m->cfg.n_layers + k - 1);
    genc_tensor *h = genc_slice(ctx, h_prev, 1, 0, len);
    genc_tensor *e = embed(ctx, m, window(ctx, tokens, B, T + 1, k, len), B, len);
    genc_tensor *cat = genc_concat(ctx, (genc_tensor *[]){genc_rmsnorm(ctx, e, blk->enorm, eps),
                                                          genc_rmsnorm(ctx, h, blk->hnorm, eps)}, 2, 2);
    genc_tensor *out = block(ctx, m, blk, genc_lm_linear(ctx, m, cat, blk->eh_proj), positions(ctx, len), NULL);
    genc_profile_layer(ctx, -1);
    return out;
}

genc_status genc_lm_forward_train(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t B, int64_t T,
                                  genc_lm_losses *out) {
    const genc_lm_config *c = &m->cfg;
    memset(out, 0, sizeof *out);
    if (T < 1 + c->mtp_depth || T > c->max_seq)
        return genc_error(ctx, GENC_EINVAL, "lm: sequence length %lld outside [%d, %d]", (long long)T, 1 + c->mtp_depth,
                          c->max_seq);
    genc_tensor *h = trunk(ctx, m, window(ctx, tokens, B, T + 1, 0, T), B, T, &out->balance);
    out->logits = head(ctx, m, h);
    out->main = genc_cross_entropy(ctx, out->logits, window(ctx, tokens, B, T + 1, 1, T), -1);
    genc_tensor *total = out->main;
    for (int k = 1; k <= c->mtp_depth; k++) {
        h = mtp_module(ctx, m, k, h, tokens, B, T);
        out->mtp_logits[k - 1] = head(ctx, m, h);
        out->mtp[k - 1] = genc_cross_entropy(ctx, out->mtp_logits[k - 1], window(ctx, tokens, B, T + 1, k + 1, T - k), -1);
        total = genc_add(ctx, total, genc_scale(ctx, out->mtp[k - 1], c->mtp_lambda / c->mtp_depth));
    }
    if (out->balance) total = genc_add(ctx, total, out->balance);
    out->total = total;
    return total ? GENC_OK : genc_ctx_status(ctx);
}

genc_tensor *genc_lm_logits(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t B, int64_t T) {
    if (T < 1 || T > m->cfg.max_seq) {
        genc_error(ctx, GENC_EINVAL, "lm: sequence length %lld outside [1, %d]", (long long)T, m->cfg.max_seq);
        return NULL;
    }
    return head(ctx, m, trunk(ctx, m, tokens, B, T, NULL));
}
