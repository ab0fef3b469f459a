/* Inference forward of the DeepSeek-V3 model with a latent KV cache: Multi-head Latent
 * Attention in its absorbed form (V3 report eqs. 1-11 and the reference sheet's "Decode
 * path (absorb)"). Per block, row and slot the cache holds only
 *   c_kv = rmsnorm([W_kva x]_{:r})              (eqs. 1, 3; r = kv_lora_rank)
 *   k_pe = RoPE([W_kva x]_{r:}, pos)            (eq. 4, shared by every head)
 * and a new token's attention, per head h, is
 *   q_nope'_h = W_kvb_k[h]^T q_nope_h           (W_kvb_k[h]: the nope rows of kv_b, [nope, r])
 *   score_s   = (q_nope'_h . c_kv_s + q_pe_h . k_pe_s) / sqrt(nope + rope)   (YaRN: times mscale^2)
 *   p         = softmax over the visible slots, o_lat_h = sum_s p_s c_kv_s
 *   o_h       = W_kvb_v[h] o_lat_h              (W_kvb_v[h]: the v rows of kv_b, [v, r])
 * then W_o [o_1; ...; o_H]. Since q_nope . (W_k c) = (W_k^T q_nope) . c and
 * sum_s p_s W_v c_s = W_v sum_s p_s c_s, this equals the training path (mla.c) exactly in
 * real arithmetic. The FFN (dense or MoE) is the training code's, with gradients off.
 * Everything runs on the cache's private context, reset after every call. */
#include "genc/lm_infer.h"
#include "lm/lm_internal.h"

#include <stdlib.h>
#include <string.h>

static genc_real *ckv_at(const genc_lm_cache *c, int blk, int64_t b, int64_t slot) {
    return c->ckv + ((blk * c->batch + b) * c->max_len + slot) * c->rank;
}
static genc_real *kpe_at(const genc_lm_cache *c, int blk, int64_t b, int64_t slot) {
    return c->kpe + ((blk * c->batch + b) * c->max_len + slot) * c->rope;
}

genc_status genc_lm_cache_new(genc_ctx *ctx, const genc_lm *m, int64_t batch, int64_t max_len, bool with_mtp,
                              genc_lm_cache **out) {
    const genc_lm_config *cf = &m->cfg;
    *out = NULL;
    if (batch < 1 || max_len < 1 || max_len > cf->max_seq)
        return genc_error(ctx, GENC_EINVAL, "lm cache: batch %lld and length %lld must be >= 1 and the length <= %d",
                          (long long)batch, (long long)max_len, cf->max_seq);
    genc_lm_cache *c = calloc(1, sizeof *c);
    if (!c) return genc_error(ctx, GENC_ENOMEM, "out of memory for the lm cache");
    c->n_layers = cf->n_layers, c->n_blocks = cf->n_layers + (with_mtp ? cf->mtp_depth : 0);
    c->batch = batch, c->max_len = max_len, c->rank = cf->kv_lora_rank, c->rope = cf->qk_rope_dim;
    size_t slots = (size_t)c->n_blocks * (size_t)batch * (size_t)max_len;
    c->ckv = malloc(slots * (size_t)c->rank * sizeof(genc_real));
    c->kpe = malloc(slots * (size_t)c->rope * sizeof(genc_real));
    c->len = calloc((size_t)c->n_blocks, sizeof *c->len);
    c->start = calloc((size_t)batch, sizeof *c->start);
    c->npre = calloc((size_t)batch, sizeof *c->npre);
    c->work = genc_ctx_new();
    if (!c->ckv || !c->kpe || !c->len || !c->start || !c->npre || !c->work) {
        genc_lm_cache_free(c);
        return genc_error(ctx, GENC_ENOMEM, "out of memory for an lm cache of %lld x %lld slots", (long long)batch,
                          (long long)max_len);
    }
    genc_set_grad_enabled(c->work, false);
    *out = c;
    return GENC_OK;
}

void genc_lm_cache_free(genc_lm_cache *c) {
    if (!c) return;
    free(c->ckv), free(c->kpe), free(c->len), free(c->start), free(c->npre);
    if (c->work) genc_ctx_free(c->work);
    free(c);
}

genc_status genc_lm_cache_reset(genc_ctx *ctx, genc_lm_cache *c, const int32_t *start) {
    for (int64_t b = 0; start && b < c->batch; b++)
        if (start[b] < 0 || start[b] >= c->max_len)
            return genc_error(ctx, GENC_EINVAL, "lm cache: start[%lld] = %d outside [0, %lld)", (long long)b,
                              (int)start[b], (long long)c->max_len);
    for (int64_t b = 0; b < c->batch; b++) c->start[b] = start ? start[b] : 0, c->npre[b] = 0;
    memset(c->len, 0, (size_t)c->n_blocks * sizeof *c->len);
    return GENC_OK;
}

int64_t genc_lm_cache_len(const genc_lm_cache *c) { return c->len[0]; }

void genc_lm_cache_truncate(genc_lm_cache *c, int mtp_k, int64_t n) {
    int lo = mtp_k > 0 ? c->n_layers + mtp_k - 1 : 0, hi = mtp_k > 0 ? lo + 1 : c->n_layers;
    for (int i = lo; i < hi && i < c->n_blocks; i++)
        if (n >= 0 && n < c->len[i]) c->len[i] = n;
}

int64_t genc_lm_cache_bytes_per_token(const genc_lm *m) {
    const genc_lm_config *c = &m->cfg;
    return (int64_t)c->n_layers * (c->kv_lora_rank + c->qk_rope_dim) * (int64_t)sizeof(genc_real);
}

int64_t genc_lm_mha_cache_bytes_per_token(const genc_lm *m) {
    const genc_lm_config *c = &m->cfg;
    return (int64_t)c->n_layers * c->n_heads * ((int64_t)c->qk_nope_dim + c->qk_rope_dim + c->v_dim) *
           (int64_t)sizeof(genc_real);
}

/* RoPE of one vector, as ops/rope.c computes it: pair (x[2i], x[2i+1]) rotated by angle a_i,
 * cs[i] = mag cos a_i, sn[i] = mag sin a_i (a_i = pos * freq[i], genc_lm_rope_freqs):
 * y[2i] = x[2i] cs - x[2i+1] sn, y[2i+1] = x[2i] sn + x[2i+1] cs. */
static void rope_vec(genc_real *x, int64_t d, const genc_real *cs, const genc_real *sn) {
    for (int64_t i = 0; i < d / 2; i++) {
        genc_real x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * cs[i] - x1 * sn[i], x[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
    }
}

/* Position of slot s in row b: s - start[b] (padding slots, never attended, get 0). */
static int64_t slot_pos(const genc_lm_cache *c, int64_t b, int64_t s) {
    return s >= c->start[b] ? s - c->start[b] : 0;
}

/* Append the chunk's latents to block bi: c_kv (already normalised) and RoPE(k_pe). kv_pe:
 * [B, n, rope] raw decoupled keys. q_pe rows [B, n, H] of rope numbers (stride qs) are
 * roped in place at the same positions. */
static void cache_append(genc_lm_cache *c, int bi, const genc_real *ckv, const genc_real *kv_pe, genc_real *q_pe,
                         int64_t qs, int64_t H, int64_t n, const double *freq, double mag, genc_real *tab) {
    int64_t B = c->batch, r = c->rank, d = c->rope, len = c->len[bi];
#pragma omp parallel for if (B * n * H * d > 4096) schedule(static)
    for (int64_t bt = 0; bt < B * n; bt++) {
        int64_t b = bt / n, s = len + bt % n, pos = slot_pos(c, b, s);
        genc_real *cs = tab + bt * d, *sn = cs + d / 2; /* this slot's mag cos / mag sin, once for all heads */
        for (int64_t i = 0; i < d / 2; i++) {
            double a = (double)pos * freq[i];
            cs[i] = (genc_real)(mag * cos(a)), sn[i] = (genc_real)(mag * sin(a));
        }
        if (s >= c->start[b]) { /* padding slots are never read; they may hold a prefix */
            memcpy(ckv_at(c, bi, b, s), ckv + bt * r, (size_t)r * sizeof(genc_real));
            genc_real *k = kpe_at(c, bi, b, s);
            memcpy(k, kv_pe + bt * d, (size_t)d * sizeof(genc_real));
            rope_vec(k, d, cs, sn);
        }
        for (int64_t h = 0; h < H; h++) rope_vec(q_pe + (bt * H + h) * qs, d, cs, sn);
    }
}

/* Scores of one row (eq. 9 with the absorbed query), P [n*H, nk] over keys lo .. lo+nk-1:
 * P = scale (Qlat C^T + Qpe Kpe^T), softmax over slots lo .. len + t for query slot len + t. */
static void absorbed_softmax(genc_real *P, int64_t nH, int64_t H, int64_t nk, int64_t lo, int64_t len) {
    for (int64_t row = 0; row < nH; row++) {
        genc_real *z = P + row * nk;
        int64_t hi = len + row / H + 1 - lo; /* visible keys of this query */
        if (hi > nk) hi = nk;
        if (hi <= 0) {
            memset(z, 0, (size_t)nk * sizeof *z);
            continue;
        }
        genc_real mx = z[0], sum = 0;
        for (int64_t s = 1; s < hi; s++) mx = z[s] > mx ? z[s] : mx;
        for (int64_t s = 0; s < hi; s++) z[s] = expf(z[s] - mx), sum += z[s];
        for (int64_t s = 0; s < hi; s++) z[s] /= sum;
        memset(z + hi, 0, (size_t)(nk - hi) * sizeof *z);
    }
}

/* Attention of every query of the chunk over the cached latents of block bi (rows in
 * parallel): o_lat [B, n, H, r] = softmax(scale (q_lat . c_kv + q_pe . k_pe)) c_kv.
 * q_lat [B, n, H, r]; q_pe rows of rope numbers with stride qs; scratch: B * n*H*max_len. */
static void absorbed_attention(const genc_lm_cache *c, int bi, const genc_real *q_lat, const genc_real *q_pe,
                               int64_t qs, int64_t H, int64_t n, double scale, genc_real *o_lat, genc_real *scratch) {
    int64_t B = c->batch, r = c->rank, d = c->rope, len = c->len[bi], nH = n * H;
#pragma omp parallel for if (B > 1) schedule(static)
    for (int64_t b = 0; b < B; b++) {
        int64_t lo = c->start[b] - c->npre[b], nk = len + n - lo; /* the prefix, then real slots */
        genc_real *P = scratch + b * nH * c->max_len, *O = o_lat + b * nH * r;
        if (nk <= 0) {
            memset(O, 0, (size_t)(nH * r) * sizeof(genc_real));
            continue;
        }
        const genc_real *C = ckv_at(c, bi, b, lo), *K = kpe_at(c, bi, b, lo);
        genc_gemm(false, true, nH, nk, r, (genc_real)scale, q_lat + b * nH * r, r, C, r, 0, P, nk);
        genc_gemm(false, true, nH, nk, d, (genc_real)scale, q_pe + b * nH * qs, qs, K, d, 1, P, nk);
        absorbed_softmax(P, nH, H, nk, lo, len);
        genc_gemm(false, false, nH, r, nk, 1, P, nk, C, r, 0, O, r);
    }
}

/* Per head h: out[:, h] = in[:, h] W_h (trans: W_h^T), the absorption GEMMs.
 * in: M rows (stride ldi) holding head h's kin numbers at h * istep; W_h = w + h * wstep,
 * [kin, kout] (trans: [kout, kin]) with rows of r numbers; out: M rows of H blocks of kout. */
static void per_head_gemm(int64_t M, int64_t H, int64_t kin, int64_t kout, const genc_real *in, int64_t ldi,
                          int64_t istep, const genc_real *w, int64_t wstep, int64_t r, bool trans, genc_real *out) {
#pragma omp parallel for if (H > 1 && M * H * kin * kout > GENC_PAR_MIN) schedule(static)
    for (int64_t h = 0; h < H; h++)
        genc_gemm(false, trans, M, kout, kin, 1, in + h * istep, ldi, w + h * wstep, r, 0, out + h * kout, H * kout);
}

/* MLA, absorbed (formulas at the top), on a [B, n, dim] (normalised block input);
 * appends the chunk to block bi's cache. -> [B, n, dim] */
static genc_tensor *mla_absorbed(genc_ctx *w, const genc_lm *m, genc_lm_cache *c, int bi, genc_tensor *a, int64_t n) {
    const genc_lm_config *cf = &m->cfg;
    const genc_lm_block *k = &m->blocks[bi];
    int64_t B = c->batch, H = cf->n_heads, nope = cf->qk_nope_dim, rope = cf->qk_rope_dim, r = cf->kv_lora_rank;
    int64_t qs = nope + rope, vd = cf->v_dim, M = B * n;
    genc_tensor *q = cf->q_lora_rank > 0
        ? genc_linear(w, genc_rmsnorm(w, genc_linear(w, a, k->q_a, NULL), k->q_a_norm, cf->norm_eps), k->q_b, NULL)
        : genc_linear(w, a, k->q_proj, NULL);
    genc_tensor *kv = genc_linear(w, a, k->kv_a, NULL), *kvp[2];
    q = genc_contiguous(w, q);
    if (!q || !kv || genc_split(w, kv, 2, (int64_t[]){r, rope}, 2, kvp)) return NULL;
    genc_tensor *ckv = genc_contiguous(w, genc_rmsnorm(w, kvp[0], k->kv_a_norm, cf->norm_eps));
    genc_tensor *kpe = genc_contiguous(w, kvp[1]);
    genc_real *q_lat = genc_arena_alloc(w, (size_t)(M * H * r) * sizeof(genc_real));
    genc_real *o_lat = genc_arena_alloc(w, (size_t)(M * H * r) * sizeof(genc_real));
    genc_real *scratch = genc_arena_alloc(w, (size_t)(M * H * c->max_len) * sizeof(genc_real));
    genc_real *tab = genc_arena_alloc(w, (size_t)(M * rope) * sizeof(genc_real));
    double *freq = genc_arena_alloc(w, (size_t)(rope / 2 + 1) * sizeof *freq), mag = 1;
    genc_tensor *o = genc_tensor_empty(w, 3, (int64_t[]){B, n, H * vd});
    if (!ckv || !kpe || !q_lat || !o_lat || !scratch || !tab || !freq || !o) return NULL;
    genc_lm_rope_freqs(cf, freq, &mag);
    cache_append(c, bi, ckv->data, kpe->data, q->data + nope, qs, H, n, freq, mag, tab);
    /* q_nope'_h = q_nope_h W_kvb_k[h]   ([M, nope] x [nope, r]) */
    per_head_gemm(M, H, nope, r, q->data, H * qs, qs, k->kv_b->data, (nope + vd) * r, r, false, q_lat);
    absorbed_attention(c, bi, q_lat, q->data + nope, qs, H, n, genc_lm_attn_scale(cf), o_lat, scratch);
    /* o_h = o_lat_h W_kvb_v[h]^T   ([M, r] x [r, v]) */
    per_head_gemm(M, H, r, vd, o_lat, H * r, r, k->kv_b->data + nope * r, (nope + vd) * r, r, true, o->data);
    c->len[bi] += n;
    return genc_linear(w, o, k->o_proj, NULL);
}

/* x + MLA(norm(x)), then + FFN(norm(.)) (the training block, forward.c). x [B, n, dim]. */
static genc_tensor *block(genc_ctx *w, genc_lm *m, genc_lm_cache *c, int bi, genc_tensor *x, int64_t n) {
    if (!x) return NULL;
    const genc_lm_config *cf = &m->cfg;
    genc_lm_block *k = &m->blocks[bi];
    int64_t B = c->batch;
    genc_tensor *h = genc_add(w, x, mla_absorbed(w, m, c, bi, genc_rmsnorm(w, x, k->attn_norm, cf->norm_eps), n));
    genc_tensor *u = genc_reshape(w, genc_rmsnorm(w, h, k->ffn_norm, cf->norm_eps), 2, (int64_t[]){B * n, cf->dim});
    genc_tensor *f = genc_lm_ffn(w, m, k, u, B * n, 1, NULL);
    return genc_add(w, h, genc_reshape(w, f, 3, (int64_t[]){B, n, cf->dim}));
}

/* logits = lm_head(rmsnorm(h)) of every slot (all) or of the last one; copied out. */
static void head_out(genc_ctx *w, genc_lm *m, genc_tensor *h, bool all, genc_real *logits) {
    if (!h || !logits) return;
    int64_t B = h->shape[0], n = h->shape[1];
    if (!all && n > 1) h = genc_contiguous(w, genc_slice(w, h, 1, n - 1, 1));
    genc_tensor *y = genc_linear(w, genc_rmsnorm(w, h, m->final_norm, m->cfg.norm_eps), m->lm_head, NULL);
    if (y) memcpy(logits, y->data, (size_t)(B * (all ? n : 1) * m->cfg.vocab_size) * sizeof(genc_real));
}

/* Checks a chunk of n slots fits in block bi. */
static genc_status check_room(genc_ctx *ctx, const genc_lm_cache *c, int bi, int64_t n) {
    if (bi >= c->n_blocks) return genc_error(ctx, GENC_EINVAL, "lm cache: made without the MTP blocks");
    if (n < 1 || c->len[bi] + n > c->max_len)
        return genc_error(ctx, GENC_EINVAL, "lm cache: %lld new slots after %lld do not fit in %lld", (long long)n,
                          (long long)c->len[bi], (long long)c->max_len);
    return GENC_OK;
}

/* End of a call: copy a failure to the caller's context (restoring the block lengths
 * saved in len0 from block lo to hi), then reset the private arena. */
static genc_status finish(genc_ctx *ctx, genc_lm_cache *c, const int64_t *len0, int lo, int hi) {
    genc_status s = genc_ctx_status(c->work);
    if (s) {
        genc_error(ctx, s, "%s", genc_last_error(c->work));
        for (int i = lo; i < hi; i++) c->len[i] = len0[i - lo];
        genc_clear_error(c->work);
    }
    genc_step_reset(c->work);
    return s;
}

genc_status genc_lm_decode(genc_ctx *ctx, genc_lm *m, genc_lm_cache *c, const int32_t *tokens, int64_t n,
                           genc_real *logits, bool all_logits, genc_real *hidden) {
    genc_status s = check_room(ctx, c, 0, n);
    if (s) return s;
    genc_ctx *w = c->work;
    const genc_lm_config *cf = &m->cfg;
    int64_t len0[1024], B = c->batch;
    for (int i = 0; i < cf->n_layers && i < 1024; i++) len0[i] = c->len[i];
    genc_tensor *x = genc_reshape(w, genc_embedding(w, m->embed, tokens, B * n), 3, (int64_t[]){B, n, cf->dim});
    for (int l = 0; l < cf->n_layers; l++) x = block(w, m, c, l, x, n);
    if (x && hidden) memcpy(hidden, x->data, (size_t)(B * n * cf->dim) * sizeof(genc_real));
    head_out(w, m, x, all_logits, logits);
    return finish(ctx, c, len0, 0, cf->n_layers);
}

genc_status genc_lm_mtp_decode(genc_ctx *ctx, genc_lm *m, genc_lm_cache *c, int k, const genc_real *h_prev,
                               const int32_t *tokens, int64_t n, genc_real *logits, bool all_logits,
                               genc_real *h_out) {
    const genc_lm_config *cf = &m->cfg;
    if (k < 1 || k > cf->mtp_depth) return genc_error(ctx, GENC_EINVAL, "lm: MTP module %d of %d", k, cf->mtp_depth);
    int bi = cf->n_layers + k - 1;
    genc_status s = check_room(ctx, c, bi, n);
    if (s) return s;
    genc_ctx *w = c->work;
    genc_lm_block *blk = &m->blocks[bi];
    int64_t len0 = c->len[bi], B = c->batch;
    double eps = cf->norm_eps;
    genc_tensor *e = genc_embedding(w, m->embed, tokens, B * n);
    genc_tensor *hp = genc_tensor_wrap(w, (genc_real *)h_prev, 2, (int64_t[]){B * n, cf->dim});
    genc_tensor *cat = genc_concat(w, (genc_tensor *[]){genc_rmsnorm(w, e, blk->enorm, eps),
                                                        genc_rmsnorm(w, hp, blk->hnorm, eps)}, 2, 1);
    genc_tensor *x = genc_reshape(w, genc_linear(w, cat, blk->eh_proj, NULL), 3, (int64_t[]){B, n, cf->dim});
    x = block(w, m, c, bi, x, n);
    if (x && h_out) memcpy(h_out, x->data, (size_t)(B * n * cf->dim) * sizeof(genc_real));
    head_out(w, m, x, all_logits, logits);
    return finish(ctx, c, &len0, bi, bi + 1);
}
