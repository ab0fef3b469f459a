/* Input/output examples for prefix-tuning and fine-tuning (include/genc/prefix.h): JSON
 * lines {"input": ..., "output": ...} tokenised as input, output, <|eos|>, with the expected
 * output text kept for scoring generations. Errors name FILE:LINE. */
#include "genc/prefix.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void genc_lm_examples_free(genc_lm_examples *e) {
    for (int64_t i = 0; i < e->n; i++) free(e->ex[i].ids), free(e->ex[i].output);
    free(e->ex);
    memset(e, 0, sizeof *e);
}

/* One line: {"input": string, "output": string} tokenised into an example. */
static genc_status parse_line(genc_ctx *ctx, genc_tokenizer *tok, const char *path, long line, const char *text,
                              genc_lm_example *ex) {
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    const char *in = o ? json_string_value(json_object_get(o, "input")) : NULL;
    const char *out = o ? json_string_value(json_object_get(o, "output")) : NULL;
    genc_status s = !in || !out ? genc_error(ctx, GENC_EFORMAT, "%s:%ld: expected an object with \"input\" and "
                                             "\"output\" strings, found %s", path, line, o ? "other keys or types"
                                             : err.text) : GENC_OK;
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (!s) s = genc_tokenizer_encode(tok, ctx, (const uint8_t *)in, strlen(in), true, &a, &na);
    if (!s) s = genc_tokenizer_encode(tok, ctx, (const uint8_t *)out, strlen(out), true, &b, &nb);
    if (!s && na < 1) s = genc_error(ctx, GENC_EFORMAT, "%s:%ld: expected a non-empty \"input\", found \"\"", path, line);
    ex->ids = s ? NULL : malloc((na + nb + 1) * sizeof *ex->ids);
    ex->output = s ? NULL : strdup(out);
    if (!s && (!ex->ids || !ex->output)) {
        s = genc_error(ctx, GENC_ENOMEM, "out of memory reading %s", path);
        free(ex->ids), free(ex->output);
    }
    if (!s) {
        memcpy(ex->ids, a, na * sizeof *a), memcpy(ex->ids + na, b, nb * sizeof *b);
        ex->ids[na + nb] = genc_tokenizer_special(tok, "<|eos|>");
        ex->n = (int64_t)(na + nb + 1), ex->n_in = (int64_t)na;
    }
    free(a), free(b);
    json_decref(o);
    return s;
}

genc_status genc_lm_examples_load(genc_ctx *ctx, genc_tokenizer *tok, const char *path, int64_t limit,
                                  genc_lm_examples *e) {
    memset(e, 0, sizeof *e);
    int fd;
    int64_t size;
    if (genc_file_open(ctx, path, &fd, &size)) return genc_ctx_status(ctx);
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return genc_error(ctx, GENC_ENOMEM, "%s: out of memory opening the JSON-lines file", path);
    }
    char *line = NULL;
    size_t cap = 0, room = 0;
    genc_status s = GENC_OK;
    for (long no = 1; !s && getline(&line, &cap, f) > 0 && (limit <= 0 || e->n < limit); no++) {
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        if ((size_t)e->n == room) {
            genc_lm_example *x = realloc(e->ex, (room = room * 2 + 64) * sizeof *x);
            if (!x) s = genc_error(ctx, GENC_ENOMEM, "out of memory reading %s", path);
            else e->ex = x;
        }
        if (!s && !(s = parse_line(ctx, tok, path, no, line, &e->ex[e->n]))) e->n++;
    }
    free(line);
    fclose(f);
    if (!s && e->n == 0) s = genc_error(ctx, GENC_EFORMAT, "%s: expected at least one example, found none", path);
    if (s) genc_lm_examples_free(e);
    return s;
}
