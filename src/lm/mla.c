/* Multi-head Latent Attention, training path (V3 report eqs. 1-11): low-rank query, a
 * compressed latent c_kv (normalised) expanded per head into keys and values, and a
 * decoupled RoPE key k_pe shared by every head.
 *   x [B, T, dim] -> [B, T, dim]
 * With a prefix (prefix.h): per row L latents pre_ckv [B|1, L, r] (normalised) and keys
 * pre_kpe [B|1, L, rope] (not roped) are prepended to the sequence's keys and values, so
 * S = L + T keys, every one of the prefix's visible to every query. */
#include "lm/lm_internal.h"

genc_tensor *genc_lm_mla(genc_ctx *ctx, const genc_lm *m, const genc_lm_block *k, genc_tensor *x,
                         const int32_t *pos) {
    return genc_lm_mla_prefix(ctx, m, k, x, pos, NULL, NULL);
}

/* [pre (expanded to B rows) ; t] along the sequence axis 1. */
static genc_tensor *prepend(genc_ctx *ctx, genc_tensor *pre, genc_tensor *t, int64_t B) {
    if (!pre || !t) return t;
    if (pre->shape[0] == 1 && B > 1) pre = genc_expand(ctx, pre, 0, B);
    return genc_concat(ctx, (genc_tensor *[]){pre, t}, 2, 1);
}

genc_tensor *genc_lm_mla_prefix(genc_ctx *ctx, const genc_lm *m, const genc_lm_block *k, genc_tensor *x,
                                const int32_t *pos, genc_tensor *pre_ckv, genc_tensor *pre_kpe) {
    if (!x) return NULL;
    const genc_lm_config *c = &m->cfg;
    int64_t B = x->shape[0], T = x->shape[1], H = c->n_heads, nope = c->qk_nope_dim, rope = c->qk_rope_dim;
    /* query: q = W_qb rmsnorm(W_qa x) (eqs. 6-7) or q = W_q x; per head [q_nope ; q_pe] */
    genc_tensor *q = c->q_lora_rank > 0
        ? genc_lm_linear(ctx, m, genc_rmsnorm(ctx, genc_lm_linear(ctx, m, x, k->q_a), k->q_a_norm, c->norm_eps), k->q_b)
        : genc_lm_linear(ctx, m, x, k->q_proj);
    q = genc_reshape(ctx, q, 4, (int64_t[]){B, T, H, nope + rope});
    genc_tensor *qp[2];
    if (genc_split(ctx, q, 3, (int64_t[]){nope, rope}, 2, qp)) return NULL;
    double *freq = genc_arena_alloc(ctx, (size_t)(rope / 2 + 1) * sizeof *freq), mag = 1;
    if (!freq) return NULL;
    genc_lm_rope_freqs(c, freq, &mag);
    genc_tensor *q_pe = genc_rope_freqs(ctx, qp[1], pos, freq, mag);
    /* latent and decoupled key: [c_kv ; k_pe] = W_kva x, c_kv = rmsnorm(c_kv) (eqs. 1, 3) */
    genc_tensor *kv = genc_lm_linear(ctx, m, x, k->kv_a), *kvp[2];
    if (genc_split(ctx, kv, 2, (int64_t[]){c->kv_lora_rank, rope}, 2, kvp)) return NULL;
    genc_tensor *ckv = genc_rmsnorm(ctx, kvp[0], k->kv_a_norm, c->norm_eps);
    genc_tensor *k_pe = genc_rope_freqs(ctx, genc_reshape(ctx, kvp[1], 4, (int64_t[]){B, T, 1, rope}), pos, freq, mag);
    int64_t S = T + (pre_ckv ? pre_ckv->shape[1] : 0);
    if (pre_ckv) {
        ckv = prepend(ctx, pre_ckv, ckv, B);
        k_pe = prepend(ctx, genc_reshape(ctx, pre_kpe, 4, (int64_t[]){pre_kpe->shape[0], S - T, 1, rope}), k_pe, B);
    }
    /* per head [k_nope ; v] = W_kvb c_kv (eqs. 2, 5) */
    genc_tensor *kvb = genc_reshape(ctx, genc_lm_linear(ctx, m, ckv, k->kv_b), 4, (int64_t[]){B, S, H, nope + c->v_dim});
    genc_tensor *kvs[2];
    if (genc_split(ctx, kvb, 3, (int64_t[]){nope, c->v_dim}, 2, kvs)) return NULL;
    genc_tensor *qh = genc_concat(ctx, (genc_tensor *[]){qp[0], q_pe}, 2, 3);
    genc_tensor *kh = genc_concat(ctx, (genc_tensor *[]){kvs[0], genc_expand(ctx, k_pe, 2, H)}, 2, 3);
    /* softmax(q.k / sqrt(nope + rope)) v, causal (eqs. 8-10; YaRN: times mscale^2), then W_o (eq. 11) */
    genc_tensor *o = genc_attention(ctx, qh, kh, kvs[1], genc_lm_attn_scale(c), true, NULL);
    o = genc_reshape(ctx, o, 3, (int64_t[]){B, T, H * c->v_dim});
    return genc_lm_linear(ctx, m, o, k->o_proj);
}
