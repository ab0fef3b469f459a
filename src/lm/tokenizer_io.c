/* The tokenizer in safetensors form: tensor "tokenizer.merges" (I32 [n_merges, 2]) and the
 * metadata JSON "tokenizer", written standalone or into a model checkpoint's writer, and
 * read back with every field and merge validated. */
#include "lm/tok_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MERGES_NAME "tokenizer.merges"
#define META_KEY "tokenizer"
#define TYPE_NAME "byte_bpe"

static char *meta_json(const genc_tokenizer *t) {
    json_t *specials = json_array();
    for (int k = 0; k < GENC_TOK_N_SPECIAL; k++) json_array_append_new(specials, json_string(genc_tokenizer_special_names[k]));
    json_t *o = json_pack("{s:i, s:s, s:s, s:i, s:i, s:o}", "version", GENC_TOK_FORMAT_VERSION, "type", TYPE_NAME,
                          "pretokenizer", genc_pretokenizer_name(t->pretok), "vocab_size", t->vocab, "n_merges", t->n_merges,
                          "specials", specials);
    if (o && t->tags == GENC_TAGS_TEXT) json_object_set_new(o, "tags", json_string("text"));
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return s;
}

genc_status genc_tokenizer_add_to(const genc_tokenizer *t, genc_ctx *ctx, genc_st_writer *w) {
    if (!t || !w) return genc_error(ctx, GENC_EINVAL, "genc_tokenizer_add_to: tokenizer or writer is NULL");
    size_t n = 2 * (size_t)t->n_merges;
    uint8_t *raw = malloc(4 * n + 1);
    char *meta = meta_json(t);
    genc_status s = raw && meta ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "tokenizer: out of memory saving");
    for (size_t i = 0; i < n && raw; i++) { /* little-endian whatever the host */
        uint32_t v = (uint32_t)t->merges[i];
        for (int k = 0; k < 4; k++) raw[4 * i + (size_t)k] = (uint8_t)(v >> (8 * k));
    }
    int64_t shape[2] = {t->n_merges, 2};
    if (!s) s = genc_st_writer_add(w, MERGES_NAME, GENC_DT_I32, 2, shape, raw);
    if (!s) s = genc_st_writer_meta(w, META_KEY, meta);
    free(raw);
    free(meta);
    return s;
}

genc_status genc_tokenizer_save(const genc_tokenizer *t, genc_ctx *ctx, const char *path) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    if (!w) return genc_ctx_status(ctx);
    genc_status s = genc_tokenizer_add_to(t, ctx, w);
    if (!s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    return s;
}

genc_status genc_tokenizer_load(genc_ctx *ctx, const char *path, genc_tokenizer **out) {
    *out = NULL;
    genc_st *st;
    genc_status s = genc_st_open(ctx, path, &st);
    if (s) return s;
    s = genc_tokenizer_from_st(ctx, st, out);
    genc_st_close(st);
    return s;
}

/* ---- loading ---- */

/* A JSON value as compact ASCII text, cut to fit buf (one line) for messages. */
static const char *describe(const json_t *x, char *buf, size_t cap) {
    if (!x) return "nothing";
    char *full = json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!full) return "(unprintable)";
    size_t n = strlen(full);
    if (n < cap) memcpy(buf, full, n + 1);
    else memcpy(buf, full, cap - 4), memcpy(buf + cap - 4, "...", 4);
    free(full);
    return buf;
}

static genc_status meta_int(genc_ctx *ctx, const char *label, const json_t *o, const char *key, json_int_t lo,
                            json_int_t hi, json_int_t *v) {
    const json_t *x = json_object_get(o, key);
    char buf[64];
    if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi)
        return genc_error(ctx, GENC_EFORMAT, "%s: tokenizer metadata: expected \"%s\" an integer in [%lld, %lld], "
                          "found %s", label, key, (long long)lo, (long long)hi, describe(x, buf, sizeof buf));
    *v = json_integer_value(x);
    return GENC_OK;
}

static genc_status meta_str(genc_ctx *ctx, const char *label, const json_t *o, const char *key, const char *want) {
    const json_t *x = json_object_get(o, key);
    char buf[64];
    if (!json_is_string(x) || strcmp(json_string_value(x), want))
        return genc_error(ctx, GENC_EFORMAT, "%s: tokenizer metadata: expected \"%s\": \"%s\", found %s", label, key,
                          want, describe(x, buf, sizeof buf));
    return GENC_OK;
}

static genc_status meta_specials(genc_ctx *ctx, const char *label, const json_t *o) {
    const json_t *x = json_object_get(o, "specials");
    bool ok = json_is_array(x) && json_array_size(x) == GENC_TOK_N_SPECIAL;
    for (size_t k = 0; ok && k < GENC_TOK_N_SPECIAL; k++) {
        const json_t *e = json_array_get(x, k);
        ok = json_is_string(e) && !strcmp(json_string_value(e), genc_tokenizer_special_names[k]);
    }
    char buf[96];
    if (!ok)
        return genc_error(ctx, GENC_EFORMAT, "%s: tokenizer metadata: expected \"specials\": [\"<|bos|>\", \"<|eos|>\", "
                          "\"<|pad|>\", \"<think>\", \"</think>\", \"<answer>\", \"</answer>\"], found %s", label,
                          describe(x, buf, sizeof buf));
    return GENC_OK;
}

/* The optional tag mode: "special" (also when absent) or "text". */
static genc_status meta_tags(genc_ctx *ctx, const char *label, const json_t *o, genc_tags *tags) {
    const json_t *x = json_object_get(o, "tags");
    char buf[64];
    *tags = GENC_TAGS_SPECIAL;
    if (!x || (json_is_string(x) && !strcmp(json_string_value(x), "special"))) return GENC_OK;
    if (json_is_string(x) && !strcmp(json_string_value(x), "text")) return *tags = GENC_TAGS_TEXT, GENC_OK;
    return genc_error(ctx, GENC_EFORMAT, "%s: tokenizer metadata: expected \"tags\": \"special\" or \"text\", found %s",
                      label, describe(x, buf, sizeof buf));
}

static genc_status meta_pretok(genc_ctx *ctx, const char *label, const json_t *o, genc_pretokenizer *p) {
    const json_t *x = json_object_get(o, "pretokenizer");
    char buf[64];
    if (!json_is_string(x) || !genc_pretokenizer_parse(json_string_value(x), p))
        return genc_error(ctx, GENC_EFORMAT, "%s: tokenizer metadata: expected \"pretokenizer\": \"qwen2\", "
                          "\"genc-v1\" or \"gpt2\", found %s", label, describe(x, buf, sizeof buf));
    return GENC_OK;
}

/* Parse and check the metadata JSON; *n_merges, *p and *tags from it. */
static genc_status check_meta(genc_ctx *ctx, const char *label, const char *text, json_int_t *n_merges,
                              genc_pretokenizer *p, genc_tags *tags) {
    if (!text) return genc_error(ctx, GENC_EFORMAT, "%s: no tokenizer: metadata \"%s\" is missing", label, META_KEY);
    json_error_t err;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(o)) {
        json_decref(o);
        return genc_error(ctx, GENC_EFORMAT, "%s: tokenizer metadata: expected a JSON object, found %s", label,
                          o ? "another JSON value" : "invalid JSON");
    }
    static const char *const known[] = {"version", "type", "pretokenizer", "vocab_size", "n_merges", "specials", "tags"};
    const char *key;
    json_t *v;
    genc_status s = GENC_OK;
    json_object_foreach(o, key, v) {
        bool found = false;
        for (size_t k = 0; k < sizeof known / sizeof *known; k++) found = found || !strcmp(key, known[k]);
        json_t *name = found || s ? NULL : json_string(key);
        char buf[64];
        if (name) s = genc_error(ctx, GENC_EFORMAT, "%s: tokenizer metadata: unknown field %s", label,
                                 describe(name, buf, sizeof buf));
        json_decref(name);
    }
    json_int_t version, vocab;
    if (!s) s = meta_int(ctx, label, o, "version", GENC_TOK_FORMAT_VERSION, GENC_TOK_FORMAT_VERSION, &version);
    if (!s) s = meta_str(ctx, label, o, "type", TYPE_NAME);
    if (!s) s = meta_pretok(ctx, label, o, p);
    if (!s) s = meta_int(ctx, label, o, "n_merges", 0, GENC_TOK_MAX_VOCAB - GENC_TOK_FIRST_MERGE, n_merges);
    if (!s) s = meta_int(ctx, label, o, "vocab_size", GENC_TOK_FIRST_MERGE, GENC_TOK_MAX_VOCAB, &vocab);
    if (!s && vocab != GENC_TOK_FIRST_MERGE + *n_merges)
        s = genc_error(ctx, GENC_EFORMAT, "%s: tokenizer metadata: vocab_size %lld should be 263 + n_merges = %lld",
                       label, (long long)vocab, (long long)(GENC_TOK_FIRST_MERGE + *n_merges));
    if (!s) s = meta_specials(ctx, label, o);
    if (!s) s = meta_tags(ctx, label, o, tags);
    json_decref(o);
    return s;
}

genc_status genc_tokenizer_from_st(genc_ctx *ctx, const genc_st *st, genc_tokenizer **out) {
    *out = NULL;
    if (!st) return genc_error(ctx, GENC_EINVAL, "genc_tokenizer_from_st: file is NULL");
    const char *label = genc_st_label(st);
    json_int_t n;
    genc_pretokenizer p;
    genc_tags tags;
    genc_status s = check_meta(ctx, label, genc_st_meta(st, META_KEY), &n, &p, &tags);
    if (s) return s;
    const genc_st_entry *e = genc_st_find(st, MERGES_NAME);
    if (!e) return genc_error(ctx, GENC_EFORMAT, "%s: no tokenizer: tensor \"%s\" is missing", label, MERGES_NAME);
    if (e->dtype != GENC_DT_I32 || e->ndim != 2 || e->shape[0] != n || e->shape[1] != 2)
        return genc_error(ctx, GENC_EFORMAT, "%s: %s: expected I32 [%lld, 2] (n_merges from the metadata), found %s "
                          "with %d dims [%lld, %lld%s]", label, MERGES_NAME, (long long)n, genc_dtype_name(e->dtype),
                          e->ndim, e->ndim > 0 ? (long long)e->shape[0] : 0LL, e->ndim > 1 ? (long long)e->shape[1] : 0LL,
                          e->ndim > 2 ? ", ..." : "");
    int64_t *m = malloc(2 * (size_t)n * sizeof *m + 1);
    if (!m) return genc_error(ctx, GENC_ENOMEM, "%s: out of memory reading %s", label, MERGES_NAME);
    int64_t shape[2] = {n, 2};
    s = genc_st_read_i64(ctx, st, MERGES_NAME, m, 2, shape);
    char where[1100];
    snprintf(where, sizeof where, "%s: %s", label, MERGES_NAME);
    if (!s) s = genc_tokenizer_from_merges(ctx, m, (int)n, where, out);
    if (!s) genc_tokenizer_set_pretokenizer(*out, p), genc_tokenizer_set_tags(*out, tags);
    free(m);
    return s;
}
