/* libFuzzer target for genc's tokenizer. The first byte picks a mode:
 *   0  the input is a tokenizer file: it is rejected with one line naming the file, or it
 *      loads and round-trips text exactly;
 *   1  the input is a metadata JSON string and raw merges, wrapped into a well-formed
 *      safetensors file (or, with a template JSON, only the merges are fuzzed);
 *   2  encode/decode with a fixed tokenizer: decode(encode(x)) == x with and without
 *      special tokens, and the input read as ids decodes or fails cleanly;
 *   3  train on the input, then round-trip it and rebuild the tokenizer from its merges.
 * Crashes, sanitizer reports and broken invariants all abort. */
#include "genc/core.h"
#include "genc/tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static const char TEXT[] =
    "When the boat came in the spring it brought letters, flour, oil for the lamp and a new keeper. "
    "<think>The keeper counted 12 crates and 3 barrels.</think><answer>15</answer><|eos|> She watched the "
    "light turn through the night, and in the morning she wrote the weather down: wind from the west.\n";

static void require_one_line_error(genc_ctx *ctx, const char *label) {
    const char *m = genc_last_error(ctx);
    REQUIRE(m[0] && !strchr(m, '\n') && (!label || strstr(m, label)));
    genc_clear_error(ctx);
}

static void round_trip(genc_tokenizer *t, genc_ctx *ctx, const uint8_t *x, size_t n, bool special) {
    int32_t *ids;
    size_t n_ids, n_out;
    uint8_t *y;
    REQUIRE(genc_tokenizer_encode(t, ctx, x, n, special, &ids, &n_ids) == GENC_OK && n_ids <= n);
    for (size_t i = 0; i < n_ids; i++) {
        REQUIRE(ids[i] >= 0 && ids[i] < genc_tokenizer_vocab_size(t));
        REQUIRE(special || ids[i] < 256 || ids[i] >= GENC_TOK_FIRST_MERGE);
    }
    REQUIRE(genc_tokenizer_decode(t, ctx, ids, n_ids, &y, &n_out) == GENC_OK);
    REQUIRE(n_out == n && !memcmp(x, y, n));
    free(ids), free(y);
}

static void check_loaded(genc_ctx *ctx, const uint8_t *file, size_t size, const uint8_t *text, size_t n) {
    genc_st *st = NULL;
    genc_tokenizer *t = NULL;
    if (genc_st_open_memory(ctx, file, size, "fuzz", &st) != GENC_OK) {
        require_one_line_error(ctx, "fuzz");
        return;
    }
    if (genc_tokenizer_from_st(ctx, st, &t) != GENC_OK) {
        REQUIRE(!t);
        require_one_line_error(ctx, "fuzz");
    } else {
        round_trip(t, ctx, (const uint8_t *)TEXT, sizeof TEXT - 1, true);
        round_trip(t, ctx, text, n, false);
        genc_tokenizer_free(t);
    }
    genc_st_close(st);
}

/* Mode 1: d = flags, [2-byte metadata length, metadata,] raw I32 merges. */
static void fuzz_wrapped(genc_ctx *ctx, const uint8_t *d, size_t size) {
    if (size < 1) return;
    bool templ = d[0] & 1;
    size_t meta_len = 0, pos = 1;
    if (!templ) {
        if (size < 3) return;
        meta_len = ((size_t)d[1] | (size_t)d[2] << 8) % (size - 2);
        pos = 3 + meta_len;
    }
    json_int_t n = (json_int_t)((size - pos) / 8);
    char meta[512];
    if (templ)
        snprintf(meta, sizeof meta, "{\"version\":1,\"type\":\"byte_bpe\",\"pretokenizer\":\"genc-v1\",\"vocab_size\":%lld,"
                 "\"n_merges\":%lld,\"specials\":[\"<|bos|>\",\"<|eos|>\",\"<|pad|>\",\"<think>\",\"</think>\","
                 "\"<answer>\",\"</answer>\"]}", (long long)(GENC_TOK_FIRST_MERGE + n), (long long)n);
    json_t *h = json_pack("{s:{s:s%}, s:{s:s, s:[I,i], s:[i,I]}}", "__metadata__", "tokenizer",
                          templ ? meta : (const char *)d + 3, templ ? strlen(meta) : meta_len, "tokenizer.merges",
                          "dtype", "I32", "shape", n, 2, "data_offsets", 0, 8 * n);
    char *hs = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (!hs) return; /* metadata that is not UTF-8 cannot be stored */
    size_t hl = strlen(hs), total = 8 + hl + 8 * (size_t)n;
    uint8_t *file = malloc(total);
    REQUIRE(file);
    for (int k = 0; k < 8; k++) file[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    memcpy(file + 8, hs, hl);
    memcpy(file + 8 + hl, d + pos, 8 * (size_t)n);
    check_loaded(ctx, file, total, d, size);
    free(file), free(hs);
}

/* Mode 2: a fixed tokenizer on arbitrary bytes, and the bytes read as ids. */
static void fuzz_codec(genc_ctx *ctx, genc_tokenizer *t, const uint8_t *d, size_t size) {
    round_trip(t, ctx, d, size, false);
    round_trip(t, ctx, d, size, true);
    size_t n = size / 4, n_out;
    int32_t *ids = malloc(n * 4 + 1);
    REQUIRE(ids);
    memcpy(ids, d, n * 4);
    uint8_t *y;
    bool valid = true;
    for (size_t i = 0; i < n; i++) valid = valid && ids[i] >= 0 && ids[i] < genc_tokenizer_vocab_size(t);
    genc_status s = genc_tokenizer_decode(t, ctx, ids, n, &y, &n_out);
    REQUIRE((s == GENC_OK) == valid);
    if (s) require_one_line_error(ctx, "decode: token");
    else free(y);
    free(ids);
}

/* Mode 3: train on the input; the result round-trips it and rebuilds from its merges. */
static void fuzz_train(genc_ctx *ctx, const uint8_t *d, size_t size) {
    if (size < 1) return;
    genc_tokenizer *t = NULL, *u = NULL;
    REQUIRE(genc_tokenizer_train_memory(ctx, d + 1, size - 1, GENC_TOK_FIRST_MERGE + d[0] % 200, &t) == GENC_OK);
    round_trip(t, ctx, d + 1, size - 1, false);
    round_trip(t, ctx, d + 1, size - 1, true);
    int n = genc_tokenizer_n_merges(t);
    int64_t *m = malloc(2 * (size_t)n * sizeof *m + 1);
    REQUIRE(m);
    for (int i = 0; i < n; i++) {
        int32_t a, b;
        REQUIRE(genc_tokenizer_merge(t, GENC_TOK_FIRST_MERGE + i, &a, &b));
        m[2 * i] = a, m[2 * i + 1] = b;
    }
    REQUIRE(genc_tokenizer_from_merges(ctx, m, n, "fuzz", &u) == GENC_OK);
    REQUIRE(genc_tokenizer_vocab_size(u) == genc_tokenizer_vocab_size(t));
    free(m);
    genc_tokenizer_free(u), genc_tokenizer_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static genc_ctx *ctx;
    static genc_tokenizer *fixed;
    if (!ctx) {
        ctx = genc_ctx_new();
        REQUIRE(genc_tokenizer_train_memory(ctx, (const uint8_t *)TEXT, sizeof TEXT - 1, 400, &fixed) == GENC_OK);
    }
    if (size < 1) return 0;
    switch (data[0] % 4) {
    case 0: check_loaded(ctx, data + 1, size - 1, data + 1, size - 1); break;
    case 1: fuzz_wrapped(ctx, data + 1, size - 1); break;
    case 2: fuzz_codec(ctx, fixed, data + 1, size - 1); break;
    default: fuzz_train(ctx, data + 1, size - 1); break;
    }
    REQUIRE(genc_ctx_status(ctx) == GENC_OK);
    return 0;
}
