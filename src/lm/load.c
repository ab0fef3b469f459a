/* Opening and saving a language-model checkpoint: the one loader the CLI verbs, GRPO,
 * prefix-tuning and Python share, with one vocabulary rule for the tokenizer that travels
 * inside the file, and the save without optimiser state. */
#include "genc/lm.h"
#include "genc/tokenizer.h"
#include "genc/train.h"

#include <stdlib.h>

genc_status genc_lm_load(genc_ctx *ctx, const char *path, bool need_tokenizer, genc_lm *m, genc_tokenizer **tok) {
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
