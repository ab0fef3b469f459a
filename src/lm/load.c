/* Language-model files: the one loader of a checkpoint the CLI verbs, GRPO, prefix-tuning and
 * Python share, with one vocabulary rule for the tokenizer that travels inside the file; the
 * save without optimiser state; the logits dump compared against a reference. */
#include "genc/lm.h"
#include "genc/lm_import.h"
#include "genc/tokenizer.h"
#include "genc/train.h"

#include <stdlib.h>

genc_status genc_lm_load(genc_ctx *ctx, const char *path, bool need_tokenizer, genc_lm *m, genc_tokenizer **tok) {
    if (genc_lm_is_hf_dir(path)) return genc_lm_load_hf(ctx, path, m, tok); /* a Hugging Face folder */
    genc_st *f;
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    genc_lm_config c;
    *tok = NULL;
    s = genc_lm_config_parse(ctx, genc_st_meta(f, "config"), path, &c);
    if (!s) genc_checkpoint_param_budget(ctx, f);
    if (!s) s = genc_lm_init(ctx, m, &c, 0.0);
    genc_param_budget(ctx, -1, NULL);
    if (!s) s = genc_checkpoint_load(ctx, f, &m->params, NULL, NULL);
    if (!s && (need_tokenizer || genc_st_meta(f, "tokenizer"))) s = genc_tokenizer_from_st(ctx, f, tok);
    if (!s && *tok && genc_tokenizer_vocab_size(*tok) > c.vocab_size)
        s = genc_error(ctx, GENC_EFORMAT, "%s: the tokenizer has %d tokens but the model only %d", path,
                       genc_tokenizer_vocab_size(*tok), c.vocab_size);
    genc_st_close(f);
    if (s) {
        genc_tokenizer_free(*tok);
        *tok = NULL;
        genc_lm_free(m); /* safe on a model that was never built */
    }
    return s;
}

static genc_status save_tokenizer(genc_ctx *ctx, void *user, genc_st_writer *w) {
    return genc_tokenizer_add_to(user, ctx, w);
}

genc_status genc_lm_save(genc_ctx *ctx, const char *path, const genc_lm *m, const genc_tokenizer *tok,
                         const genc_train_state *st) {
    char *cfg = genc_lm_config_json(&m->cfg);
    if (!cfg) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_status s = genc_checkpoint_save(ctx, path, &m->params, NULL, cfg, st, tok ? save_tokenizer : NULL, (void *)tok);
    free(cfg);
    return s;
}

genc_status genc_lm_dump_logits(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t n, const char *path,
                                int64_t *T_out) {
    int64_t T = n < m->cfg.max_seq ? n : m->cfg.max_seq;
    *T_out = T;
    bool old = genc_set_grad_enabled(ctx, false);
    genc_tensor *logits = genc_lm_logits(ctx, m, tokens, 1, T);
    genc_set_grad_enabled(ctx, old);
    if (!logits) return genc_ctx_status(ctx);
    genc_st_writer *w = genc_st_writer_new(ctx);
    genc_status s = w ? genc_st_writer_add(w, "tokens", GENC_DT_I32, 1, &T, tokens) : genc_ctx_status(ctx);
    if (!s) s = genc_st_writer_add_f32(w, "logits", GENC_DT_F32, 2, (int64_t[]){T, m->cfg.vocab_size}, logits->data);
    if (!s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    return s;
}
