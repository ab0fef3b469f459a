/* The "qwen2" pre-tokenizer, genc's default: hand-checked splits of each alternative of
 * Qwen2's regex (contractions in either case, a letter run led by one non-letter, single
 * digits, punctuation with its newlines, whitespace up to its last newline), Unicode classes
 * and invalid UTF-8 (the regex reference test covers valid text at scale), the 64-byte cap,
 * and the default: training without a mode gives qwen2 with no merge across digits, the
 * mode survives save and load, and a genc-v1 tokenizer file still loads as genc-v1. */
#include "genc/tokenizer.h"
#include "lm/tok_internal.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The chunks of s[0..n) in qwen2 mode joined with '|'. */
static void chunks(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = genc_tok_chunk(GENC_PRETOK_QWEN2, (const uint8_t *)s + i, n - i);
        if (i) out[o++] = '|';
        memcpy(out + o, s + i, k), o += k, i += k;
    }
    out[o] = 0;
}
#define SPLITS(s, want) do { char got_[512]; chunks(s, sizeof s - 1, got_); \
    CHECK_MSG(!strcmp(got_, want), "%s -> %s, want %s", s, got_, want); } while (0)

static void test_ascii(void) {
    SPLITS("Hello world", "Hello| world");
    SPLITS("In 2024 we", "In| |2|0|2|4| we");                  /* every digit alone, a space before digits alone */
    SPLITS("x1y2 12,345.6", "x|1|y|2| |1|2|,|3|4|5|.|6");
    SPLITS("don't I'M 'RE 'x", "don|'t| I|'M| '|RE| '|x");      /* contractions in either case */
    SPLITS("we'LL've 'd", "we|'LL|'ve| '|d");
    SPLITS("(word) \tword\n", "(word|)| |\tword|\n");          /* one non-letter leads a letter run */
    SPLITS("end.\n\nNext", "end|.\n\n|Next");                  /* punctuation keeps its newlines */
    SPLITS("a \n  b", "a| \n| | b");                           /* whitespace up to its last newline */
    SPLITS("x\r\n\r\ny", "x|\r\n\r\n|y");
    SPLITS("a  b   c", "a| | b|  | c");
    SPLITS("a  (", "a| | (");
    SPLITS("x   ", "x|   ");                                   /* a trailing run stays whole */
    SPLITS("?!... ---", "?!...| ---");
    SPLITS("'", "'");
}

static void test_unicode(void) {
    SPLITS("\xd9\xa1\xd9\xa2 \xc2\xb2", "\xd9\xa1|\xd9\xa2| |\xc2\xb2"); /* Arabic-Indic digits, superscript 2 */
    SPLITS("\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x8e\x89!", "\xe6\x9d\xb1\xe4\xba\xac| \xf0\x9f\x8e\x89!"); /* CJK, emoji */
    SPLITS("e\xcc\x81t\xc3\xa9", "e|\xcc\x81t\xc3\xa9"); /* a combining mark is no letter: it leads the next run */
    SPLITS("a\xc2\xa0" "b \xe3\x80\x80" "c", "a|\xc2\xa0" "b| |\xe3\x80\x80" "c"); /* NBSP, ideographic space */
}

static void test_invalid_utf8(void) {
    SPLITS("ab\xff\xfe" "cd", "ab|\xff\xfe|cd");                /* invalid bytes: no class, runs like punctuation */
    SPLITS("\xffword", "\xffword");                            /* and lead a letter run, as U+FFFD does */
    SPLITS("\xc3(", "\xc3(");                                  /* a lead byte without its continuation */
    SPLITS("1\xed\xa0\x80" "2", "1|\xed\xa0\x80|2");            /* a surrogate */
    SPLITS("x\xf0\x9f", "x|\xf0\x9f");                         /* a 4-byte character cut short */
    /* U+FFFD, which llama.cpp reads each invalid byte as, splits the same way */
    SPLITS("ab\xef\xbf\xbd\xef\xbf\xbd" "cd", "ab|\xef\xbf\xbd\xef\xbf\xbd|cd");
    SPLITS("\xef\xbf\xbdword", "\xef\xbf\xbdword");
}

static void test_cap(void) {
    char s[200];
    memset(s, 'a', 100), s[100] = 0;
    CHECK(genc_tok_chunk(GENC_PRETOK_QWEN2, (const uint8_t *)s, 100) == GENC_TOK_MAX_CHUNK);
    memset(s, ' ', 150), s[150] = 'x';
    CHECK(genc_tok_chunk(GENC_PRETOK_QWEN2, (const uint8_t *)s, 151) == GENC_TOK_MAX_CHUNK);
    memset(s, ' ', 40), s[20] = '\n'; /* a newline inside a short run ends the chunk */
    CHECK(genc_tok_chunk(GENC_PRETOK_QWEN2, (const uint8_t *)s, 40) == 21);
}

static bool has_digit_merge(const genc_tokenizer *t) {
    for (int id = GENC_TOK_FIRST_MERGE; id < genc_tokenizer_vocab_size(t); id++) {
        size_t n;
        const uint8_t *b = genc_tokenizer_token_bytes(t, id, &n);
        for (size_t i = 0; i < n; i++)
            if (b[i] >= '0' && b[i] <= '9') return true;
    }
    return false;
}

static const char TEXT[] =
    "In 2024 we counted 365 days, and in 2025 another 365. It's what we'll do; don't we?\n"
    "The 12 boats left at 0600 and came back at 1800 with 2024 fish (365 crabs) and 12 eels.\n\n"
    "They'd said they'd be back by 1800, and they were: 1800 sharp, 12 boats, 2024 fish.\n\n";

/* save then load; the loaded tokenizer's ids for s must equal t's. */
static genc_tokenizer *round_trip(genc_ctx *ctx, genc_tokenizer *t, const char *s) {
    char path[] = "/tmp/genc_tok_qwen2_XXXXXX";
    close(mkstemp(path));
    genc_tokenizer *u = NULL;
    CHECK(genc_tokenizer_save(t, ctx, path) == GENC_OK && genc_tokenizer_load(ctx, path, &u) == GENC_OK);
    unlink(path);
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK(u && genc_tokenizer_encode(t, ctx, (const uint8_t *)s, strlen(s), true, &a, &na) == GENC_OK &&
          genc_tokenizer_encode(u, ctx, (const uint8_t *)s, strlen(s), true, &b, &nb) == GENC_OK && na == nb &&
          !memcmp(a, b, na * sizeof *a));
    free(a), free(b);
    return u;
}

static void test_default(genc_ctx *ctx) {
    genc_tokenizer *q = NULL, *v = NULL;
    CHECK(genc_tokenizer_train_memory(ctx, (const uint8_t *)TEXT, sizeof TEXT - 1, 400, &q) == GENC_OK);
    CHECK(genc_tokenizer_train_memory_with(ctx, (const uint8_t *)TEXT, sizeof TEXT - 1, 400, GENC_PRETOK_GENC_V1,
                                           GENC_TAGS_SPECIAL, &v) == GENC_OK);
    if (!q || !v) return;
    CHECK(GENC_PRETOK_DEFAULT == GENC_PRETOK_QWEN2 && genc_tokenizer_pretokenizer(q) == GENC_PRETOK_QWEN2);
    CHECK(!has_digit_merge(q) && genc_tokenizer_n_merges(q) > 40);
    const char *s = "They'd count 2024 boats.\n\nIt's (12) fish!";
    genc_tokenizer *q2 = round_trip(ctx, q, s), *v2 = round_trip(ctx, v, s);
    CHECK(q2 && genc_tokenizer_pretokenizer(q2) == GENC_PRETOK_QWEN2);
    CHECK(v2 && genc_tokenizer_pretokenizer(v2) == GENC_PRETOK_GENC_V1); /* an old file keeps its mode */
    genc_pretokenizer p;
    CHECK(genc_pretokenizer_parse("qwen2", &p) && p == GENC_PRETOK_QWEN2 && !strcmp(genc_pretokenizer_name(p), "qwen2"));
    CHECK(!genc_pretokenizer_parse("Qwen2", &p) && !genc_pretokenizer_parse("qwen", &p));
    genc_tokenizer_free(q), genc_tokenizer_free(v), genc_tokenizer_free(q2), genc_tokenizer_free(v2);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    test_ascii();
    test_unicode();
    test_invalid_utf8();
    test_cap();
    test_default(ctx);
    genc_ctx_free(ctx);
    return test_report("test_tok_qwen2");
}
