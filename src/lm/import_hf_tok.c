/* tokenizer.json (the HF tokenizers schema) back into genc's tokenizer: only genc's own
 * layout is accepted (see lm_import.h): the model a byte-level BPE whose byte tokens,
 * specials and merges sit at genc's ids, and qwen2's, genc-v1's or GPT-2's pre-tokenizer; anything
 * else is refused in one line rather than tokenised differently. */
#include "genc/lm_import.h"
#include "lm/export_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JSON ((int64_t)256 << 20)

typedef struct {
    genc_ctx *ctx;
    const char *path;
    json_t *vocab; /* text -> id */
} tokctx;

/* The id of the byte-level text of bytes b[0..n), or -1. */
static int64_t id_of_bytes(const tokctx *t, const uint8_t *b, size_t n) {
    char *txt = malloc(2 * n + 1);
    if (!txt) return -1;
    genc_byte_level_encode(b, n, txt);
    json_t *v = json_object_get(t->vocab, txt);
    free(txt);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static bool is_byte_level(json_t *o, bool use_regex) {
    const char *type = json_string_value(json_object_get(o, "type"));
    json_t *rx = json_object_get(o, "use_regex"), *prefix = json_object_get(o, "add_prefix_space");
    return type && !strcmp(type, "ByteLevel") && json_is_boolean(rx) && json_is_true(rx) == use_regex &&
           !json_is_true(prefix);
}

/* A Split pre-tokenizer with the regex rx that keeps the matches as chunks. */
static bool is_split(json_t *o, const char *rx) {
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *pat = json_string_value(json_object_get(json_object_get(o, "pattern"), "Regex"));
    const char *behavior = json_string_value(json_object_get(o, "behavior"));
    return type && !strcmp(type, "Split") && pat && !strcmp(pat, rx) && behavior && !strcmp(behavior, "Isolated") &&
           !json_is_true(json_object_get(o, "invert"));
}

/* qwen2 or genc-v1 (a Split with that mode's regex, then ByteLevel without a regex) or gpt2
 * (ByteLevel with its GPT-2 regex, alone or as a one-element Sequence, no prefix space). */
static genc_status read_pretokenizer(const tokctx *t, json_t *root, genc_pretokenizer *p) {
    json_t *pre = json_object_get(root, "pre_tokenizer");
    json_t *list = json_object_get(pre, "pretokenizers");
    json_t *split = json_array_get(list, 0), *bl = json_array_get(list, 1);
    bool two = json_array_size(list) == 2 && is_byte_level(bl, false);
    if (is_byte_level(pre, true) || (json_array_size(list) == 1 && is_byte_level(split, true))) *p = GENC_PRETOK_GPT2;
    else if (two && is_split(split, genc_hf_qwen2_regex)) *p = GENC_PRETOK_QWEN2;
    else if (two && is_split(split, genc_hf_pretok_regex)) *p = GENC_PRETOK_GENC_V1;
    else
        return genc_error(t->ctx, GENC_EFORMAT, "%s: pre_tokenizer is none of qwen2's or genc-v1's (a Split with "
                          "genc's regex of the mode, then ByteLevel) or GPT-2's (ByteLevel with use_regex, no prefix "
                          "space): genc cannot reproduce another tokenizer's splits", t->path);
    return GENC_OK;
}

/* Whether the vocabulary maps name to id. */
static bool has_id(const tokctx *t, const char *name, int id) {
    json_t *v = json_object_get(t->vocab, name);
    return json_is_integer(v) && json_integer_value(v) == id;
}

/* Bytes at ids 0..255 and specials at 256..262; the four tag ids may instead all be
 * "<|genc_unused_N|>", as genc exports a tokenizer whose tags are text (*tags). */
static genc_status check_fixed_ids(const tokctx *t, genc_tags *tags) {
    *tags = GENC_TAGS_TEXT;
    for (int k = GENC_TOK_N_CONTROL; k < GENC_TOK_N_SPECIAL; k++) {
        char unused[48];
        snprintf(unused, sizeof unused, "<|genc_unused_%d|>", GENC_TOK_N_BYTES + k);
        if (!has_id(t, unused, GENC_TOK_N_BYTES + k)) *tags = GENC_TAGS_SPECIAL;
    }
    for (int b = 0; b < GENC_TOK_N_BYTES; b++) {
        uint8_t byte = (uint8_t)b;
        if (id_of_bytes(t, &byte, 1) != b)
            return genc_error(t->ctx, GENC_EFORMAT, "%s: byte 0x%02x is not token %d: not a genc-layout byte-level "
                              "vocabulary", t->path, b, b);
    }
    for (int k = 0; k < (*tags == GENC_TAGS_TEXT ? GENC_TOK_N_CONTROL : GENC_TOK_N_SPECIAL); k++) {
        if (!has_id(t, genc_tokenizer_special_names[k], GENC_TOK_N_BYTES + k))
            return genc_error(t->ctx, GENC_EFORMAT, "%s: special token %s is not id %d", t->path,
                              genc_tokenizer_special_names[k], GENC_TOK_N_BYTES + k);
    }
    return GENC_OK;
}

/* Merge i "left right" (or ["left", "right"]) -> ids, and its result must be id 263 + i. */
static genc_status read_merge(const tokctx *t, json_t *e, int i, int64_t *out) {
    const char *l = NULL, *r = NULL;
    char *buf = NULL;
    if (json_is_string(e)) {
        buf = strdup(json_string_value(e));
        char *sp = buf ? strchr(buf, ' ') : NULL;
        if (sp) *sp = 0, l = buf, r = sp + 1;
    } else if (json_array_size(e) == 2) {
        l = json_string_value(json_array_get(e, 0)), r = json_string_value(json_array_get(e, 1));
    }
    json_t *a = l ? json_object_get(t->vocab, l) : NULL, *b = r ? json_object_get(t->vocab, r) : NULL;
    char *joined = l && r ? malloc(strlen(l) + strlen(r) + 1) : NULL;
    if (joined) strcpy(joined, l), strcat(joined, r);
    json_t *c = joined ? json_object_get(t->vocab, joined) : NULL;
    genc_status s = GENC_OK;
    if (!json_is_integer(a) || !json_is_integer(b) || !json_is_integer(c) ||
        json_integer_value(c) != GENC_TOK_FIRST_MERGE + i)
        s = genc_error(t->ctx, GENC_EFORMAT, "%s: merge %d: expected two vocabulary tokens whose join is id %d", t->path,
                       i, GENC_TOK_FIRST_MERGE + i);
    else
        out[0] = json_integer_value(a), out[1] = json_integer_value(b);
    free(buf), free(joined);
    return s;
}

genc_status genc_tokenizer_from_hf_json(genc_ctx *ctx, const char *text, size_t n, const char *path,
                                        genc_tokenizer **out) {
    *out = NULL;
    genc_status s = GENC_OK;
    json_error_t err;
    json_t *root = json_loadb(text, n, 0, &err);
    json_t *model = json_object_get(root, "model");
    tokctx t = {ctx, path, json_object_get(model, "vocab")};
    json_t *merges = json_object_get(model, "merges");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!root) s = genc_error(ctx, GENC_EFORMAT, "%s: invalid JSON: %s (line %d)", path, err.text, err.line);
    else if (!type || strcmp(type, "BPE") || !json_is_object(t.vocab) || !json_is_array(merges))
        s = genc_error(ctx, GENC_EFORMAT, "%s: expected model.type \"BPE\" with a vocab object and a merges array", path);
    size_t nm = s ? 0 : json_array_size(merges);
    genc_pretokenizer p = GENC_PRETOK_GENC_V1;
    if (!s && nm > 0) s = read_pretokenizer(&t, root, &p); /* without merges every byte is its own token anyway */
    genc_tags tags = GENC_TAGS_SPECIAL;
    if (!s) s = check_fixed_ids(&t, &tags);
    if (!s && nm > (size_t)(GENC_TOK_MAX_VOCAB - GENC_TOK_FIRST_MERGE))
        s = genc_error(ctx, GENC_EFORMAT, "%s: %zu merges, more than genc's vocabulary allows", path, nm);
    int64_t *m = s ? NULL : malloc(2 * nm * sizeof *m + 1);
    if (!s && !m) s = genc_error(ctx, GENC_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; !s && i < nm; i++) s = read_merge(&t, json_array_get(merges, i), (int)i, m + 2 * i);
    if (!s) s = genc_tokenizer_from_merges(ctx, m, (int)nm, path, out);
    if (!s) genc_tokenizer_set_pretokenizer(*out, p), genc_tokenizer_set_tags(*out, tags);
    free(m);
    json_decref(root);
    return s;
}

genc_status genc_tokenizer_load_hf(genc_ctx *ctx, const char *path, genc_tokenizer **out) {
    *out = NULL;
    uint8_t *b;
    size_t n;
    genc_status s = genc_file_read_all(ctx, path, MAX_JSON, &b, &n);
    if (s) return s;
    s = genc_tokenizer_from_hf_json(ctx, (const char *)b, n, path, out);
    free(b);
    return s;
}
