/* prefix_tool CONFIG_JSON_FILE OUT_DIR: a genc model with random weights and a random prefix
 * (L = 4 slots per layer), for tests/reference/test_prefix.py. Writes model.safetensors,
 * prefix.safetensors (genc_lm_prefix_save), batch.safetensors ("tokens" I32 [2, T + 1]) and
 * genc.safetensors: "logits" [2, T, V] of the training forward with the prefix,
 * "logits_decode" [2, T, V] of the latent-cache decode with the prefix prefilled, "loss"
 * (mean next-token cross-entropy) and "grad.prefix" [n_layers, L, rank + rope] (d loss /
 * d prefix). */
#include "genc/genc.h"
#include "genc/prefix.h"
#include "genc/train.h"

#include "tool_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, T = 9, L = 4 };

/* Decode logits of both rows with the prefix in the cache: [B, T, V]. */
static genc_status decode_logits(genc_ctx *ctx, genc_lm *m, const genc_lm_prefix *p, const int32_t *tok, float *out) {
    genc_lm_cache *c = NULL;
    int32_t start[B] = {L, L}, ids[B * (L + T)];
    int64_t V = m->cfg.vocab_size;
    genc_real *all = malloc((size_t)(B * (L + T) * V) * sizeof *all);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L + T; i++) ids[b * (L + T) + i] = i < L ? 0 : tok[b * (T + 1) + i - L];
    genc_status s = all ? genc_lm_cache_new(ctx, m, B, L + T, false, &c) : GENC_ENOMEM;
    if (!s) s = genc_lm_cache_reset(ctx, c, start);
    for (int b = 0; !s && b < B; b++) s = genc_lm_cache_set_prefix(ctx, c, b, p);
    if (!s) s = genc_lm_decode(ctx, m, c, ids, L + T, all, true, NULL);
    for (int b = 0; !s && b < B; b++)
        for (int64_t i = 0; i < T * V; i++) out[b * T * V + i] = (float)all[(b * (L + T) + L) * V + i];
    genc_lm_cache_free(c);
    free(all);
    return s;
}

static genc_status write_out(genc_ctx *ctx, genc_lm *m, const genc_lm_prefix_train *t, genc_tensor *logits,
                             genc_tensor *loss, const float *dec, const char *path) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    int64_t V = m->cfg.vocab_size, one = 1;
    float l = (float)loss->data[0];
    genc_status s = w ? genc_st_writer_add_f32(w, "logits", GENC_DT_F32, 3, (int64_t[]){B, T, V}, logits->data) : 1;
    if (!s) s = genc_st_writer_add_f32(w, "logits_decode", GENC_DT_F32, 3, (int64_t[]){B, T, V}, dec);
    if (!s) s = genc_st_writer_add_f32(w, "loss", GENC_DT_F32, 1, &one, &l);
    if (!s) s = genc_st_writer_add_f32(w, "grad.prefix", GENC_DT_F32, 3, t->direct->shape, t->direct->grad);
    if (!s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    return s;
}

static genc_status run(genc_ctx *ctx, genc_lm *m, const char *dir) {
    char path[1024], *cfg = genc_lm_config_json(&m->cfg);
    genc_lm_prefix p = {0};
    genc_lm_prefix_train t = {0};
    genc_tensor *ckv[64], *kpe[64];
    int32_t tok[B * (T + 1)], in[B * T], tgt[B * T];
    float *dec = malloc((size_t)(B * T * m->cfg.vocab_size) * sizeof *dec);
    for (int i = 0; i < B * (T + 1); i++) tok[i] = (int32_t)(genc_rand_uniform(ctx) * m->cfg.vocab_size);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++) in[b * T + i] = tok[b * (T + 1) + i], tgt[b * T + i] = tok[b * (T + 1) + i + 1];
    genc_status s = genc_lm_prefix_new(ctx, m, L, &p);
    for (int64_t i = 0; !s && i < m->cfg.n_layers * L * (p.rank + p.rope); i++) p.data[i] = (genc_real)genc_rand_normal(ctx);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!s) s = genc_checkpoint_save(ctx, path, &m->params, NULL, cfg, NULL, NULL, NULL);
    snprintf(path, sizeof path, "%s/prefix.safetensors", dir);
    if (!s) s = genc_lm_prefix_save(ctx, m, &p, path);
    genc_st_writer *w = s ? NULL : genc_st_writer_new(ctx);
    snprintf(path, sizeof path, "%s/batch.safetensors", dir);
    if (w) s = genc_st_writer_add(w, "tokens", GENC_DT_I32, 2, (int64_t[]){B, T + 1}, tok);
    if (w && !s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    if (!s) s = decode_logits(ctx, m, &p, tok, dec);
    if (!s) s = genc_lm_prefix_train_init(ctx, m, L, 0, 0, &p, &t);
    if (!s) s = genc_lm_prefix_train_latents(ctx, m, &t, ckv, kpe);
    genc_tensor *y = s ? NULL : genc_lm_prefix_logits(ctx, m, ckv, kpe, in, B, T);
    genc_tensor *loss = genc_cross_entropy(ctx, y, tgt, -1);
    if (!s && loss) s = genc_backward(ctx, loss);
    snprintf(path, sizeof path, "%s/genc.safetensors", dir);
    if (!s && loss) s = write_out(ctx, m, &t, y, loss, dec, path);
    if (!s && !loss) s = genc_ctx_status(ctx);
    genc_lm_prefix_train_free(&t);
    genc_lm_prefix_free(&p);
    free(cfg), free(dec);
    return s;
}

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: prefix_tool CONFIG_JSON_FILE OUT_DIR\n"), 2;
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    genc_rng_seed(ctx, 4321);
    char *json = tool_read_text(argv[1]);
    genc_lm_config c;
    genc_lm m = {0};
    genc_status s = json ? genc_lm_config_parse(ctx, json, argv[1], &c) : GENC_EIO;
    if (!s) s = genc_lm_init(ctx, &m, &c, 0.08);
    if (!s) s = run(ctx, &m, argv[2]);
    if (s) fprintf(stderr, "prefix_tool: %s\n", json ? genc_last_error(ctx) : "cannot read the config");
    genc_lm_free(&m);
    free(json);
    genc_ctx_free(ctx);
    return s ? 1 : 0;
}
