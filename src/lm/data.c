/* Language-model data: text files to one token stream with a validation tail, resumable
 * random training windows, and held-out loss over consecutive windows. */
#include "lm/lm_internal.h"
#include "genc/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text is bounded: a regular file of at most GENC_TEXT_MAX_BYTES (never /dev/zero or a FIFO). */
static genc_status read_file(genc_ctx *ctx, const char *path, uint8_t **buf, size_t *n) {
    return genc_file_read_all(ctx, path, GENC_TEXT_MAX_BYTES, buf, n);
}

/* Append ids to the stream, growing it. */
static genc_status append(genc_ctx *ctx, genc_lm_corpus *c, int64_t *cap, const int32_t *ids, size_t n) {
    if (c->n + (int64_t)n > *cap) {
        int64_t nc = (*cap + (int64_t)n) * 2;
        int32_t *t = realloc(c->tokens, (size_t)nc * sizeof *t);
        if (!t) return genc_error(ctx, GENC_ENOMEM, "out of memory for the token stream");
        c->tokens = t, *cap = nc;
    }
    memcpy(c->tokens + c->n, ids, n * sizeof *ids);
    c->n += (int64_t)n;
    return GENC_OK;
}

/* Append the tokens of one document and an <|eos|>. Special-token text ("<think>",
 * "</answer>", ...) becomes the special token, as Hugging Face tokenizers do by default, so
 * the tags a task corpus writes are the same single tokens the GRPO prompts and rewards use. */
static genc_status append_doc(genc_ctx *ctx, genc_tokenizer *tok, const uint8_t *text, size_t len, int32_t eos,
                              genc_lm_corpus *out, int64_t *cap) {
    int32_t *ids = NULL;
    size_t n_ids = 0;
    genc_status s = genc_tokenizer_encode(tok, ctx, text, len, true, &ids, &n_ids);
    if (!s) s = append(ctx, out, cap, ids, n_ids);
    if (!s) s = append(ctx, out, cap, &eos, 1);
    free(ids);
    return s;
}

/* A file's documents: the whole text, or the non-empty pieces between separators. */
static genc_status append_file(genc_ctx *ctx, genc_tokenizer *tok, const uint8_t *text, size_t len,
                               const char *doc_sep, int32_t eos, genc_lm_corpus *out, int64_t *cap) {
    size_t k = doc_sep ? strlen(doc_sep) : 0;
    if (!k) return append_doc(ctx, tok, text, len, eos, out, cap);
    genc_status s = GENC_OK;
    size_t start = 0;
    for (size_t i = 0; !s && i <= len; i++) {
        bool cut = i == len || (i + k <= len && !memcmp(text + i, doc_sep, k));
        if (!cut) continue;
        if (i > start) s = append_doc(ctx, tok, text + start, i - start, eos, out, cap);
        start = i + k, i += k ? k - 1 : 0;
    }
    return s;
}

genc_status genc_lm_corpus_from_files(genc_ctx *ctx, struct genc_tokenizer *tok, const char *const *files, int n_files,
                                      double val_frac, const char *doc_sep, genc_lm_corpus *out) {
    memset(out, 0, sizeof *out);
    if (!(val_frac > 0 && val_frac < 1))
        return genc_error(ctx, GENC_EINVAL, "--val-frac: expected a fraction in (0, 1), found %g", val_frac);
    int64_t cap = 0;
    int32_t eos = genc_tokenizer_special(tok, "<|eos|>");
    genc_status s = GENC_OK;
    for (int i = 0; !s && i < n_files; i++) {
        uint8_t *text = NULL;
        size_t len = 0;
        if ((s = read_file(ctx, files[i], &text, &len))) break;
        s = append_file(ctx, tok, text, len, doc_sep, eos, out, &cap);
        free(text);
    }
    if (!s) {
        out->n_train = (int64_t)((double)out->n * (1 - val_frac));
        if (out->n_train < 16 || out->n - out->n_train < 16)
            s = genc_error(ctx, GENC_EINVAL, "the text gives only %lld tokens: too few for a training and a validation part",
                           (long long)out->n);
    }
    if (s) genc_lm_corpus_free(out);
    return s;
}

void genc_lm_corpus_free(genc_lm_corpus *c) {
    free(c->tokens);
    memset(c, 0, sizeof *c);
}

void genc_lm_windows(const genc_lm_corpus *c, uint64_t seed, int64_t step, int64_t B, int64_t T, int32_t *out) {
    genc_lm_windows_rows(c, seed, step, B, 0, B, T, out);
}

void genc_lm_windows_rows(const genc_lm_corpus *c, uint64_t seed, int64_t step, int64_t B, int64_t first, int64_t count,
                          int64_t T, int32_t *out) {
    int64_t span = c->n_train - (T + 1) + 1;
    for (int64_t b = first; b < first + count; b++) {
        uint64_t draw = (uint64_t)(step * B + b);
        int64_t off = span > 1 ? (int64_t)(genc_philox_uniform(seed, draw) * (double)span) : 0;
        if (span < 1) off = 0; /* a stream shorter than a window: the caller checks T first */
        memcpy(out + (b - first) * (T + 1), c->tokens + off, (size_t)(T + 1) * sizeof *out);
    }
}

genc_status genc_lm_eval_loss(genc_ctx *ctx, genc_lm *m, const int32_t *tokens, int64_t n, int64_t T, int64_t B,
                              double *loss, int64_t *count) {
    if (n < 2) return genc_error(ctx, GENC_EINVAL, "evaluation needs at least 2 tokens, found %lld", (long long)n);
    if (T > n - 1) T = n - 1;
    int64_t windows = (n - 1) / T; /* tokens past the last full window are not scored */
    int32_t *buf = malloc((size_t)(B * (T + 1)) * sizeof *buf);
    if (!buf) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    double total = 0;
    bool old = genc_set_grad_enabled(ctx, false);
    for (int64_t w = 0; w < windows && !genc_ctx_status(ctx); w += B) {
        int64_t nb = windows - w < B ? windows - w : B;
        for (int64_t b = 0; b < nb; b++) memcpy(buf + b * (T + 1), tokens + (w + b) * T, (size_t)(T + 1) * sizeof *buf);
        int32_t *in = genc_arena_alloc(ctx, (size_t)(nb * T) * sizeof *in), *tg = genc_arena_alloc(ctx, (size_t)(nb * T) * sizeof *tg);
        for (int64_t b = 0; in && tg && b < nb; b++)
            for (int64_t t = 0; t < T; t++) in[b * T + t] = buf[b * (T + 1) + t], tg[b * T + t] = buf[b * (T + 1) + t + 1];
        genc_tensor *l = genc_cross_entropy(ctx, genc_lm_logits(ctx, m, in, nb, T), tg, -1);
        if (l) total += l->data[0] * (double)(nb * T);
        genc_step_reset(ctx);
    }
    genc_set_grad_enabled(ctx, old);
    free(buf);
    *count = windows * T;
    *loss = total / (double)(windows * T);
    return genc_ctx_status(ctx);
}
