/* lm_ref_dump CONFIG_JSON_FILE OUT_DIR: builds a genc DeepSeek-V3 model from a config with
 * random weights (and random balancing biases), runs one training forward and backward on a
 * random batch, and writes model.safetensors, batch.safetensors and genc.safetensors
 * (logits, losses, every gradient) for tests/reference/test_lm_reference.py to check
 * against an independent PyTorch implementation. */
#include "genc/genc.h"
#include "genc/lm.h"
#include "genc/safetensors.h"
#include "genc/train.h"

#include "tool_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static genc_status add_scalar(genc_st_writer *w, const char *name, const genc_tensor *t) {
    int64_t one = 1;
    float v = t ? t->data[0] : 0.0f;
    return genc_st_writer_add_f32(w, name, GENC_DT_F32, 1, &one, &v);
}

static genc_status write_results(genc_ctx *ctx, genc_lm *m, const genc_lm_losses *L, int64_t B, int64_t T,
                                 const char *path) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    if (!w) return genc_ctx_status(ctx);
    int D = m->cfg.mtp_depth;
    genc_status s = genc_st_writer_add_f32(w, "logits", GENC_DT_F32, 3, (int64_t[]){B, T, m->cfg.vocab_size},
                                           L->logits->data);
    if (!s) s = add_scalar(w, "loss", L->total);
    if (!s) s = add_scalar(w, "loss_main", L->main);
    if (!s) s = add_scalar(w, "loss_bal", L->balance);
    float mtp[8] = {0};
    for (int k = 0; k < D; k++) mtp[k] = L->mtp[k]->data[0];
    if (!s && D) s = genc_st_writer_add_f32(w, "loss_mtp", GENC_DT_F32, 1, (int64_t[]){D}, mtp);
    char name[160];
    for (int k = 1; !s && k <= D; k++) {
        snprintf(name, sizeof name, "mtp_logits.%d", k);
        s = genc_st_writer_add_f32(w, name, GENC_DT_F32, 3, (int64_t[]){B, T - k, m->cfg.vocab_size},
                                   L->mtp_logits[k - 1]->data);
    }
    for (int i = 0; !s && i < m->params.n; i++) {
        genc_tensor *t = m->params.t[i];
        if (!t->requires_grad) continue;
        snprintf(name, sizeof name, "grad.%s", t->name);
        s = genc_st_writer_add_f32(w, name, GENC_DT_F32, t->ndim, t->shape, t->grad);
    }
    if (!s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    return s;
}

static int run(genc_ctx *ctx, const char *cfg_path, const char *dir) {
    char *json = tool_read_text(cfg_path), path[1024];
    genc_lm_config c;
    genc_lm m = {0};
    if (!json) return fprintf(stderr, "lm_ref_dump: cannot read %s\n", cfg_path), 1;
    genc_status s = genc_lm_config_parse(ctx, json, cfg_path, &c);
    if (!s) s = genc_lm_init(ctx, &m, &c, 0.08);
    for (int i = 0; !s && i < c.n_layers + c.mtp_depth; i++)
        if (m.blocks[i].router_bias) genc_fill_normal(ctx, m.blocks[i].router_bias, 0, 0.05);
    int64_t B = 2, T = c.max_seq - 1 < 11 ? c.max_seq - 1 : 11;
    int32_t *tokens = malloc((size_t)(B * (T + 1)) * sizeof *tokens);
    for (int64_t i = 0; tokens && i < B * (T + 1); i++) tokens[i] = (int32_t)(genc_rand_uniform(ctx) * c.vocab_size);
    genc_lm_losses L;
    if (!s) s = genc_lm_forward_train(ctx, &m, tokens, B, T, &L);
    if (!s) s = genc_backward(ctx, L.total);
    char *cfg_json = genc_lm_config_json(&c);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!s) s = genc_checkpoint_save(ctx, path, &m.params, NULL, cfg_json, NULL, NULL, NULL);
    genc_st_writer *w = s ? NULL : genc_st_writer_new(ctx);
    snprintf(path, sizeof path, "%s/batch.safetensors", dir);
    if (w) s = genc_st_writer_add(w, "tokens", GENC_DT_I32, 2, (int64_t[]){B, T + 1}, tokens);
    if (w && !s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    snprintf(path, sizeof path, "%s/genc.safetensors", dir);
    if (!s) s = write_results(ctx, &m, &L, B, T, path);
    if (s) fprintf(stderr, "lm_ref_dump: %s\n", genc_last_error(ctx));
    free(cfg_json), free(json), free(tokens);
    genc_lm_free(&m);
    return s ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: lm_ref_dump CONFIG_JSON_FILE OUT_DIR\n"), 2;
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    genc_rng_seed(ctx, 1234);
    int r = run(ctx, argv[1], argv[2]);
    genc_ctx_free(ctx);
    return r;
}
