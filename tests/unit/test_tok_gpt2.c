/* The GPT-2 side of the tokenizer: the byte-level text map (GPT-2's bytes_to_unicode) both
 * ways, the "gpt2" pre-tokenizer on invalid UTF-8 (the regex reference test covers valid
 * text), training in gpt2 mode (digit runs merge, unlike genc-v1), the mode surviving save and
 * load, encode/decode round trips, and switching a tokenizer's mode. */
#include "genc/lm_export.h"
#include "genc/tokenizer.h"
#include "lm/tok_internal.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char TEXT[] =
    "In 2024 we counted 365 days, and in 2025 another 365. It's what we'll do; don't we? "
    "The 12 boats left at 0600 and came back at 1800 with 2024 fish, 365 crabs and 12 eels. "
    "They'd said they'd be back by 1800, and they were: 1800 sharp, 12 boats, 2024 fish.\n\n";

/* The code point of the byte-level text of byte b. */
static unsigned cp_of(uint8_t b) {
    char s[4];
    size_t n = genc_byte_level_encode(&b, 1, s);
    return n == 1 ? (unsigned)(uint8_t)s[0] : n == 2 ? ((unsigned)(s[0] & 0x1f) << 6 | (s[1] & 0x3f)) : 0;
}

static void test_byte_map(void) {
    static bool seen[0x200];
    int distinct = 0;
    for (int b = 0; b < 256; b++) {
        unsigned cp = cp_of((uint8_t)b);
        bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        CHECK_MSG(printable ? cp == (unsigned)b : cp >= 0x100 && cp < 0x144, "byte 0x%02x -> U+%04X", b, cp);
        if (cp < 0x200 && !seen[cp]) seen[cp] = true, distinct++;
    }
    CHECK(distinct == 256);
    /* GPT-2's well-known spellings: space G-dot, newline C-dot, NUL U+0100, DEL, NBSP, soft hyphen */
    CHECK(cp_of(' ') == 0x120 && cp_of('\n') == 0x10a && cp_of(0) == 0x100 && cp_of(0x7f) == 0x121);
    CHECK(cp_of(0xa0) == 0x142 && cp_of(0xad) == 0x143);
    uint8_t all[256], back[256];
    char text[513];
    for (int b = 0; b < 256; b++) all[b] = (uint8_t)(255 - b);
    size_t n = genc_byte_level_encode(all, 256, text), m = 0;
    CHECK(genc_byte_level_decode(text, n, back, &m) && m == 256 && !memcmp(all, back, 256));
    CHECK(!genc_byte_level_decode("a\xc8\x80", 3, back, &m));  /* U+0200: not mapped */
    CHECK(!genc_byte_level_decode("\xc4", 1, back, &m));       /* truncated */
    CHECK(!genc_byte_level_decode(" ", 1, back, &m));          /* a raw space is not byte-level text */
    CHECK(!genc_byte_level_decode("\xe4\xb8\xad", 3, back, &m)); /* CJK: outside the map */
}

/* The chunks of s[0..n) in gpt2 mode joined with '|'. */
static void chunks(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = genc_tok_chunk_len_gpt2((const uint8_t *)s + i, n - i);
        if (i) out[o++] = '|';
        memcpy(out + o, s + i, k), o += k, i += k;
    }
    out[o] = 0;
}
#define SPLITS(s, want) do { char got_[256]; chunks(s, sizeof s - 1, got_); \
    CHECK_MSG(!strcmp(got_, want), "%s -> %s, want %s", s, got_, want); } while (0)

static void test_invalid_utf8(void) {
    SPLITS("ab\xff\xfe" "cd", "ab|\xff\xfe|cd");     /* invalid bytes: no class, runs like punctuation */
    SPLITS(" \xff!x", " \xff!|x");                    /* with the optional leading space */
    SPLITS("\xc3(", "\xc3(");                         /* a lead byte without its continuation */
    SPLITS("x\xf0\x9f", "x|\xf0\x9f");                /* a 4-byte character cut short */
    SPLITS("\xc0\xaf" "a", "\xc0\xaf|a");             /* an overlong '/' */
    SPLITS("\xed\xa0\x80" "1", "\xed\xa0\x80|1");     /* a surrogate */
    SPLITS("\xc3\xa9t\xc3\xa9 42", "\xc3\xa9t\xc3\xa9| 42"); /* and valid text around them */
}

static genc_tokenizer *train(genc_ctx *ctx, genc_pretokenizer p) {
    genc_tokenizer *t = NULL;
    CHECK_MSG(genc_tokenizer_train_memory_with(ctx, (const uint8_t *)TEXT, sizeof TEXT - 1, 400, p, GENC_TAGS_SPECIAL, &t) == GENC_OK,
              "%s", genc_last_error(ctx));
    return t;
}

/* True when some merge makes a token of two or more digits only. */
static bool merges_digits(const genc_tokenizer *t) {
    for (int id = GENC_TOK_FIRST_MERGE; id < genc_tokenizer_vocab_size(t); id++) {
        size_t n;
        const uint8_t *b = genc_tokenizer_token_bytes(t, id, &n);
        bool digits = n >= 2;
        for (size_t i = 0; i < n; i++) digits = digits && b[i] >= '0' && b[i] <= '9';
        if (digits) return true;
    }
    return false;
}

static bool ids_of(genc_tokenizer *t, genc_ctx *ctx, const char *s, int32_t **ids, size_t *n) {
    return genc_tokenizer_encode(t, ctx, (const uint8_t *)s, strlen(s), false, ids, n) == GENC_OK;
}

static void test_modes(genc_ctx *ctx) {
    genc_tokenizer *g = train(ctx, GENC_PRETOK_GPT2), *v = train(ctx, GENC_PRETOK_GENC_V1), *u = NULL;
    if (!g || !v) return;
    CHECK(genc_tokenizer_pretokenizer(g) == GENC_PRETOK_GPT2 && genc_tokenizer_pretokenizer(v) == GENC_PRETOK_GENC_V1);
    CHECK(merges_digits(g) && !merges_digits(v));
    char path[] = "/tmp/genc_tok_gpt2_XXXXXX";
    close(mkstemp(path));
    CHECK(genc_tokenizer_save(g, ctx, path) == GENC_OK && genc_tokenizer_load(ctx, path, &u) == GENC_OK);
    CHECK(u && genc_tokenizer_pretokenizer(u) == GENC_PRETOK_GPT2);
    unlink(path);
    uint8_t rnd[3000];
    srand(11);
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)(rand() % 4 ? TEXT[rand() % (sizeof TEXT - 1)] : rand());
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, nd = 0;
    uint8_t *d = NULL;
    CHECK(u && genc_tokenizer_encode(u, ctx, rnd, sizeof rnd, true, &a, &na) == GENC_OK);
    CHECK(genc_tokenizer_decode(u, ctx, a, na, &d, &nd) == GENC_OK && nd == sizeof rnd && !memcmp(d, rnd, nd));
    free(a), free(d);
    /* The same merges under the other mode: different ids for digit runs, the same after switching back. */
    const char *s = "In 2024 we'll count 1800 boats";
    CHECK(ids_of(g, ctx, s, &a, &na));
    genc_tokenizer_set_pretokenizer(g, GENC_PRETOK_GENC_V1);
    CHECK(ids_of(g, ctx, s, &b, &nb) && (na != nb || memcmp(a, b, na * sizeof *a)));
    free(b);
    genc_tokenizer_set_pretokenizer(g, GENC_PRETOK_GPT2);
    CHECK(ids_of(g, ctx, s, &b, &nb) && na == nb && !memcmp(a, b, na * sizeof *a));
    free(a), free(b);
    genc_pretokenizer p;
    CHECK(genc_pretokenizer_parse("gpt2", &p) && p == GENC_PRETOK_GPT2 && !genc_pretokenizer_parse("gpt-2", &p));
    genc_tokenizer_free(g), genc_tokenizer_free(v), genc_tokenizer_free(u);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    test_byte_map();
    test_invalid_utf8();
    test_modes(ctx);
    genc_ctx_free(ctx);
    return test_report("test_tok_gpt2");
}
