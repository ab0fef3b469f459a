/* Shared helpers of the `genc lm` verbs (see lm_common.h). */
#include "cli/lm_common.h"
#include "genc/lm_import.h"
#include "genc/train.h"

#include <stdlib.h>
#include <string.h>

genc_status genc_cli_lm_load(genc_ctx *ctx, const char *path, genc_lm *m, genc_tokenizer **tok) {
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
    if (!s) s = genc_tokenizer_from_st(ctx, f, tok);
    if (!s && genc_tokenizer_vocab_size(*tok) > c.vocab_size)
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

char **genc_cli_split_list(const char *csv, int *n) {
    int cap = 1;
    for (const char *p = csv; *p; p++) cap += *p == ',';
    char **list = calloc((size_t)cap, sizeof *list);
    *n = 0;
    for (const char *p = csv; list && *p;) {
        size_t len = strcspn(p, ",");
        if (len > 0 && !(list[(*n)++] = strndup(p, len))) {
            genc_cli_free_list(list, *n);
            return NULL;
        }
        p += len + (p[len] == ',');
    }
    return list;
}

void genc_cli_free_list(char **list, int n) {
    for (int i = 0; list && i < n; i++) free(list[i]);
    free(list);
}
