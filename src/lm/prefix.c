/* Prefix-tuning for the MLA language models (see include/genc/prefix.h for the design): the
 * prefix as per-layer latents (c_kv, k_pe), its file format with the base model's identity,
 * initialisation from real words, the training forward with a prefix, the trainable
 * parameters (direct or through the reparameterisation MLP), and writing a prefix into the
 * latent decode cache (generation with one prefix per row is generate.c's). */
#include "genc/prefix.h"
#include "genc/train.h"
#include "lm/lm_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t genc_lm_param_hash(const genc_lm *m) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < m->params.n; i++) {
        const genc_tensor *t = m->params.t[i];
        int64_t n = genc_numel(t);
        for (int64_t j = 0; j < n; j++) {
            float f = (float)t->data[j];
            uint8_t b[4];
            memcpy(b, &f, 4);
            for (int k = 0; k < 4; k++) h = (h ^ b[k]) * 0x100000001b3ULL;
        }
    }
    return h;
}

static int64_t width(const genc_lm_prefix *p) { return p->rank + p->rope; }

static genc_status prefix_alloc(genc_ctx *ctx, const genc_lm *m, int64_t len, uint64_t hash, genc_lm_prefix *out) {
    const genc_lm_config *c = &m->cfg;
    memset(out, 0, sizeof *out);
    if (len < 1 || len >= c->max_seq)
        return genc_error(ctx, GENC_EINVAL, "prefix: length %lld outside [1, %d)", (long long)len, c->max_seq);
    out->n_layers = c->n_layers, out->len = len, out->rank = c->kv_lora_rank, out->rope = c->qk_rope_dim;
    out->base_hash = hash;
    out->data = calloc((size_t)(c->n_layers * len * width(out)), sizeof(genc_real));
    return out->data ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory for a prefix of %lld slots", (long long)len);
}

genc_status genc_lm_prefix_new(genc_ctx *ctx, const genc_lm *m, int64_t len, genc_lm_prefix *out) {
    return prefix_alloc(ctx, m, len, genc_lm_param_hash(m), out);
}

void genc_lm_prefix_free(genc_lm_prefix *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

genc_status genc_lm_prefix_save(genc_ctx *ctx, const genc_lm *m, const genc_lm_prefix *p, const char *path) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    char *cfg = genc_lm_config_json(&m->cfg), hash[24], len[24];
    int64_t n = p->n_layers * p->len * width(p), shape[3] = {p->n_layers, p->len, width(p)};
    float *f = malloc((size_t)n * sizeof *f);
    genc_status s = !w || !cfg || !f ? genc_error(ctx, GENC_ENOMEM, "out of memory saving %s", path) : GENC_OK;
    for (int64_t i = 0; !s && i < n; i++) f[i] = (float)p->data[i];
    snprintf(hash, sizeof hash, "%016" PRIx64, p->base_hash);
    snprintf(len, sizeof len, "%lld", (long long)p->len);
    if (!s) s = genc_st_writer_add_f32(w, "prefix", GENC_DT_F32, 3, shape, f);
    if (!s) s = genc_st_writer_meta(w, "format", "genc-prefix-1");
    if (!s) s = genc_st_writer_meta(w, "base_hash", hash);
    if (!s) s = genc_st_writer_meta(w, "base_config", cfg);
    if (!s) s = genc_st_writer_meta(w, "prefix_len", len);
    if (!s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    free(cfg), free(f);
    return s;
}

/* The file's identity against m: format and base hash. */
static genc_status check_identity(genc_ctx *ctx, const genc_st *f, const char *path, const genc_lm *m, uint64_t *hash) {
    const char *fmt = genc_st_meta(f, "format"), *h = genc_st_meta(f, "base_hash");
    if (!fmt || strcmp(fmt, "genc-prefix-1"))
        return genc_error(ctx, GENC_EFORMAT, "%s: expected metadata format \"genc-prefix-1\", found %s%s%s", path,
                          fmt ? "\"" : "", fmt ? fmt : "none", fmt ? "\"" : "");
    char *end = NULL;
    uint64_t have = h ? strtoull(h, &end, 16) : 0, want = genc_lm_param_hash(m);
    if (!h || !end || *end || strlen(h) != 16)
        return genc_error(ctx, GENC_EFORMAT, "%s: expected a 16-hex-digit base_hash, found %s", path, h ? h : "none");
    if (have != want)
        return genc_error(ctx, GENC_EINVAL, "%s: prefix made for base model %016" PRIx64 ", but this base model is %016" PRIx64,
                          path, have, want);
    *hash = have;
    return GENC_OK;
}

genc_status genc_lm_prefix_load(genc_ctx *ctx, const char *path, const genc_lm *m, genc_lm_prefix *out) {
    genc_st *f = NULL;
    uint64_t hash = 0;
    memset(out, 0, sizeof *out);
    genc_status s = genc_st_open(ctx, path, &f);
    if (!s) s = check_identity(ctx, f, path, m, &hash);
    const genc_st_entry *e = s ? NULL : genc_st_find(f, "prefix");
    int64_t want_w = (int64_t)m->cfg.kv_lora_rank + m->cfg.qk_rope_dim;
    if (!s && (!e || e->ndim != 3 || e->shape[0] != m->cfg.n_layers || e->shape[2] != want_w)) /* before allocating */
        s = genc_error(ctx, GENC_EFORMAT, "%s: expected a tensor \"prefix\" of shape [%d, len, %lld] (this base model), "
                       "found %s", path, m->cfg.n_layers, (long long)want_w, e ? "another shape" : "none");
    if (!s && prefix_alloc(ctx, m, e->shape[1], hash, out)) s = genc_error_prefix(ctx, true, "%s", path);
    int64_t shape[3] = {out->n_layers, out->len, width(out)}, n = shape[0] * shape[1] * shape[2];
    float *buf = s ? NULL : malloc((size_t)n * sizeof *buf);
    if (!s && !buf) s = genc_error(ctx, GENC_ENOMEM, "out of memory loading %s", path);
    if (!s) s = genc_st_read_f32(ctx, f, "prefix", buf, 3, shape);
    for (int64_t i = 0; !s && i < n; i++) out->data[i] = (genc_real)buf[i];
    free(buf);
    genc_st_close(f);
    if (s) genc_lm_prefix_free(out);
    return s;
}

/* Offsets into the cache (decode.c's layout): [n_blocks, batch, max_len, rank|rope]. */
static genc_real *cache_ckv(const genc_lm_cache *c, int l, int64_t b, int64_t s) {
    return c->ckv + ((l * c->batch + b) * c->max_len + s) * c->rank;
}
static genc_real *cache_kpe(const genc_lm_cache *c, int l, int64_t b, int64_t s) {
    return c->kpe + ((l * c->batch + b) * c->max_len + s) * c->rope;
}

genc_status genc_lm_prefix_from_tokens(genc_ctx *ctx, genc_lm *m, const int32_t *ids, int64_t n, genc_lm_prefix *p) {
    if (n < p->len)
        return genc_error(ctx, GENC_EINVAL, "--init-words: expected at least %lld tokens (the prefix length), found %lld",
                          (long long)p->len, (long long)n);
    genc_lm_cache *c = NULL;
    genc_status s = genc_lm_cache_new(ctx, m, 1, n, false, &c);
    if (!s) s = genc_lm_decode(ctx, m, c, ids, n, NULL, false, NULL);
    for (int l = 0; !s && l < p->n_layers; l++)
        for (int64_t i = 0; i < p->len; i++) {
            genc_real *row = p->data + (l * p->len + i) * width(p);
            memcpy(row, cache_ckv(c, l, 0, n - p->len + i), (size_t)p->rank * sizeof(genc_real));
            memcpy(row + p->rank, cache_kpe(c, l, 0, n - p->len + i), (size_t)p->rope * sizeof(genc_real));
        }
    genc_lm_cache_free(c);
    return s;
}

genc_status genc_lm_cache_set_prefix(genc_ctx *ctx, genc_lm_cache *c, int64_t b, const genc_lm_prefix *p) {
    if (!p) return GENC_OK;
    if (b < 0 || b >= c->batch || p->len > c->start[b] || p->rank != c->rank || p->rope != c->rope ||
        p->n_layers != c->n_layers)
        return genc_error(ctx, GENC_EINVAL, "prefix: row %lld: expected %d layers x rank %lld + rope %lld in %d slots, "
                          "found %d x %lld + %lld in %lld", (long long)b, c->n_layers, (long long)c->rank,
                          (long long)c->rope, b >= 0 && b < c->batch ? c->start[b] : 0, p->n_layers,
                          (long long)p->rank, (long long)p->rope, (long long)p->len);
    for (int l = 0; l < c->n_layers; l++)
        for (int64_t i = 0; i < p->len; i++) {
            const genc_real *row = p->data + (l * p->len + i) * width(p);
            int64_t s = c->start[b] - p->len + i;
            memcpy(cache_ckv(c, l, b, s), row, (size_t)p->rank * sizeof(genc_real));
            memcpy(cache_kpe(c, l, b, s), row + p->rank, (size_t)p->rope * sizeof(genc_real));
        }
    c->npre[b] = (int32_t)p->len;
    return GENC_OK;
}

/* ---- training forward ---- */

/* x + MLA(norm(x)) with the layer's prefix, then + FFN(norm(.)) (forward.c's block). */
static genc_tensor *prefix_block(genc_ctx *ctx, genc_lm *m, genc_lm_block *k, genc_tensor *x, const int32_t *pos,
                                 genc_tensor *ckv, genc_tensor *kpe) {
    if (!x) return NULL;
    const genc_lm_config *c = &m->cfg;
    int64_t B = x->shape[0], T = x->shape[1];
    genc_tensor *a = genc_rmsnorm(ctx, x, k->attn_norm, c->norm_eps);
    genc_tensor *h = genc_add(ctx, x, genc_lm_mla_prefix(ctx, m, k, a, pos, ckv, kpe));
    genc_tensor *u = genc_reshape(ctx, genc_rmsnorm(ctx, h, k->ffn_norm, c->norm_eps), 2, (int64_t[]){B * T, c->dim});
    genc_tensor *f = genc_lm_ffn(ctx, m, k, u, B, T, NULL);
    return genc_add(ctx, h, genc_reshape(ctx, f, 3, (int64_t[]){B, T, c->dim}));
}

genc_tensor *genc_lm_prefix_logits(genc_ctx *ctx, genc_lm *m, genc_tensor *const *ckv, genc_tensor *const *kpe,
                                   const int32_t *tokens, int64_t B, int64_t T) {
    const genc_lm_config *c = &m->cfg;
    int64_t L = ckv && ckv[0] ? ckv[0]->shape[1] : 0;
    if (T < 1 || L + T > c->max_seq) {
        genc_error(ctx, GENC_EINVAL, "lm: prefix %lld + sequence %lld outside [1, %d]", (long long)L, (long long)T,
                   c->max_seq);
        return NULL;
    }
    int32_t *pos = genc_arena_alloc(ctx, (size_t)T * sizeof *pos);
    for (int64_t t = 0; pos && t < T; t++) pos[t] = (int32_t)t; /* real tokens start at 0 */
    genc_tensor *x = genc_reshape(ctx, genc_embedding(ctx, m->embed, tokens, B * T), 3, (int64_t[]){B, T, c->dim});
    for (int l = 0; pos && l < c->n_layers; l++)
        x = prefix_block(ctx, m, &m->blocks[l], x, pos, ckv ? ckv[l] : NULL, kpe ? kpe[l] : NULL);
    return genc_linear(ctx, genc_rmsnorm(ctx, x, m->final_norm, c->norm_eps), m->lm_head, NULL);
}

genc_status genc_lm_prefix_views(genc_ctx *ctx, const genc_lm_prefix *p, genc_tensor **ckv, genc_tensor **kpe) {
    genc_tensor *all = genc_tensor_wrap(ctx, p->data, 3, (int64_t[]){p->n_layers, p->len, width(p)});
    for (int l = 0; all && l < p->n_layers; l++) {
        genc_tensor *parts[2];
        if (genc_split(ctx, genc_slice(ctx, all, 0, l, 1), 2, (int64_t[]){p->rank, p->rope}, 2, parts)) break;
        ckv[l] = genc_contiguous(ctx, parts[0]), kpe[l] = genc_contiguous(ctx, parts[1]);
    }
    return genc_ctx_status(ctx);
}

/* ---- trainable prefix ---- */

static genc_tensor *param(genc_ctx *ctx, genc_lm_prefix_train *t, const char *name, int ndim, const int64_t *shape,
                          double std) {
    genc_tensor *p = genc_params_new(ctx, &t->params, name, ndim, shape);
    if (!p) return NULL;
    if (std > 0) genc_fill_normal(ctx, p, 0, std);
    else genc_fill(p, 0);
    return p;
}

/* LAPACK's Cholesky solve (Fortran calling convention; OpenBLAS ships it, as for fid.c's dsyev). */
extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
                   const int *ldb, int *info);

/* Set W2 so that MLP(P') reproduces a given prefix exactly at the start (b2 = 0): with
 * H = tanh(P' W1^T + b1) [L, k] (full row rank for L <= k) and Y [L, NW] the target rows
 * (position i: every layer's c_kv, k_pe), the minimum-norm solution of H W2^T = Y is
 * W2^T = H^T (H H^T)^-1 Y; the L x L system is solved in double by dposv. */
static genc_status fit_mlp_to(genc_ctx *ctx, const genc_lm_config *c, genc_lm_prefix_train *t,
                              const genc_lm_prefix *init) {
    int64_t L = t->len, k = t->hidden, D = c->dim, W = c->kv_lora_rank + c->qk_rope_dim, NW = c->n_layers * W;
    double *H = malloc((size_t)(L * k) * sizeof *H), *G = malloc((size_t)(L * L) * sizeof *G);
    double *A = malloc((size_t)(L * NW) * sizeof *A); /* column-major [L, NW]: Y, then (H H^T)^-1 Y */
    genc_status s = H && G && A ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory fitting the prefix MLP");
    for (int64_t i = 0; !s && i < L; i++)
        for (int64_t h = 0; h < k; h++) {
            double z = t->b1->data[h];
            for (int64_t d = 0; d < D; d++) z += (double)t->embed->data[i * D + d] * t->w1->data[h * D + d];
            H[i * k + h] = tanh(z);
        }
    for (int64_t i = 0; !s && i < L; i++)
        for (int64_t j = 0; j < L; j++) {
            double g = 0;
            for (int64_t h = 0; h < k; h++) g += H[i * k + h] * H[j * k + h];
            G[i * L + j] = g;
        }
    for (int64_t i = 0; !s && i < L; i++) /* Y[i, l W + w] = init[l, i, w] */
        for (int64_t l = 0; l < c->n_layers; l++)
            for (int64_t w = 0; w < W; w++) A[(l * W + w) * L + i] = init->data[(l * L + i) * W + w];
    int n = (int)L, nrhs = (int)NW, info = 0;
    if (!s) dposv_("L", &n, &nrhs, G, &n, A, &n, &info);
    if (!s && info)
        s = genc_error(ctx, GENC_EINVAL, "prefix: cannot fit the MLP to --init-words (H H^T not positive definite, "
                       "dposv info %d; L %lld, k %lld); try a larger --reparam or --reparam 0", info, (long long)L,
                       (long long)k);
    for (int64_t j = 0; !s && j < NW; j++) { /* W2[j, h] = sum_i A[i, j] H[i, h]; b2 = 0 */
        for (int64_t h = 0; h < k; h++) {
            double v = 0;
            for (int64_t i = 0; i < L; i++) v += A[j * L + i] * H[i * k + h];
            t->w2->data[j * k + h] = (genc_real)v;
        }
        t->b2->data[j] = 0;
    }
    free(H), free(G), free(A);
    return s;
}

genc_status genc_lm_prefix_train_init(genc_ctx *ctx, const genc_lm *m, int64_t len, int64_t hidden, double std,
                                      const genc_lm_prefix *init, genc_lm_prefix_train *t) {
    const genc_lm_config *c = &m->cfg;
    int64_t W = c->kv_lora_rank + c->qk_rope_dim, NW = c->n_layers * W;
    memset(t, 0, sizeof *t);
    t->len = len, t->hidden = hidden;
    if (len < 1 || len >= c->max_seq || hidden < 0 || (init && (init->len != len || (hidden && hidden < len))))
        return genc_error(ctx, GENC_EINVAL, "prefix: expected length %lld in [1, %d), hidden %lld >= 0, and an initial "
                          "prefix of the same length (with an MLP hidden >= length)", (long long)len, c->max_seq,
                          (long long)hidden);
    if (hidden == 0) {
        t->direct = param(ctx, t, "prefix.direct", 3, (int64_t[]){c->n_layers, len, W}, std);
        if (t->direct && init) memcpy(t->direct->data, init->data, (size_t)(NW * len) * sizeof(genc_real));
        return genc_ctx_status(ctx);
    }
    t->embed = param(ctx, t, "prefix.embed", 2, (int64_t[]){len, c->dim}, 1.0);
    t->w1 = param(ctx, t, "prefix.mlp.0.weight", 2, (int64_t[]){hidden, c->dim}, 1.0 / sqrt((double)c->dim));
    t->b1 = param(ctx, t, "prefix.mlp.0.bias", 1, (int64_t[]){hidden}, 0);
    t->w2 = param(ctx, t, "prefix.mlp.2.weight", 2, (int64_t[]){NW, hidden}, std / sqrt((double)hidden));
    t->b2 = param(ctx, t, "prefix.mlp.2.bias", 1, (int64_t[]){NW}, 0);
    if (init && !genc_ctx_status(ctx)) return fit_mlp_to(ctx, c, t, init);
    return genc_ctx_status(ctx);
}

void genc_lm_prefix_train_free(genc_lm_prefix_train *t) {
    genc_params_free_all(&t->params);
    memset(t, 0, sizeof *t);
}

genc_status genc_lm_prefix_train_latents(genc_ctx *ctx, const genc_lm *m, const genc_lm_prefix_train *t,
                                         genc_tensor **ckv, genc_tensor **kpe) {
    const genc_lm_config *c = &m->cfg;
    int64_t W = c->kv_lora_rank + c->qk_rope_dim, L = t->len;
    genc_tensor *all = t->direct;
    if (!all) { /* P = W2 tanh(W1 P' + b1) + b2: [L, n_layers W] -> [L, n_layers, W] -> [n_layers, L, W] */
        genc_tensor *h = genc_tanh(ctx, genc_linear(ctx, t->embed, t->w1, t->b1));
        genc_tensor *p = genc_reshape(ctx, genc_linear(ctx, h, t->w2, t->b2), 3, (int64_t[]){L, c->n_layers, W});
        all = genc_contiguous(ctx, genc_transpose(ctx, p, 0, 1));
    }
    for (int l = 0; all && l < c->n_layers; l++) {
        genc_tensor *parts[2];
        if (genc_split(ctx, genc_slice(ctx, all, 0, l, 1), 2, (int64_t[]){c->kv_lora_rank, c->qk_rope_dim}, 2, parts))
            break;
        ckv[l] = genc_contiguous(ctx, parts[0]), kpe[l] = genc_contiguous(ctx, parts[1]);
    }
    return genc_ctx_status(ctx);
}

genc_status genc_lm_prefix_train_export(genc_ctx *ctx, const genc_lm *m, const genc_lm_prefix_train *t,
                                        genc_lm_prefix *out) {
    int nl = m->cfg.n_layers;
    genc_tensor **ckv = calloc((size_t)nl * 2, sizeof *ckv), **kpe = ckv ? ckv + nl : NULL;
    bool old = genc_set_grad_enabled(ctx, false);
    genc_status s = ckv ? prefix_alloc(ctx, m, t->len, genc_lm_param_hash(m), out)
                        : genc_error(ctx, GENC_ENOMEM, "out of memory exporting a prefix");
    if (!s) s = genc_lm_prefix_train_latents(ctx, m, t, ckv, kpe);
    for (int l = 0; !s && l < nl; l++)
        for (int64_t i = 0; i < t->len; i++) {
            genc_real *row = out->data + (l * t->len + i) * width(out);
            memcpy(row, ckv[l]->data + i * out->rank, (size_t)out->rank * sizeof(genc_real));
            memcpy(row + out->rank, kpe[l]->data + i * out->rope, (size_t)out->rope * sizeof(genc_real));
        }
    genc_set_grad_enabled(ctx, old);
    free(ckv);
    if (s) genc_lm_prefix_free(out);
    return s;
}
