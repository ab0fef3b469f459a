/* Unit tests of the byte-level BPE tokenizer: pre-tokenisation rules, exact round trips on
 * random bytes (invalid UTF-8, NULs, long runs, special strings), special tokens, decode
 * errors, deterministic training, compression, save/load and rejection of bad files. */
#include "genc/lm.h"
#include "genc/tokenizer.h"
#include "lm/tok_internal.h"
#include "test.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char ENGLISH[] =
    "The lighthouse keeper of the northern island kept a small notebook in which he wrote down the weather "
    "every morning and every evening. On most days the entries were short: wind from the west, light rain, "
    "the sea calm in the harbour and rough beyond the rocks. On other days he wrote longer notes about the "
    "ships that passed, the birds that rested on the railing of the tower, and the letters that arrived with "
    "the supply boat once a fortnight. He had kept the light for eleven years, and in all that time the lamp "
    "had never once failed to turn.\n\n"
    "When the supply boat came in the spring, it brought a young woman who had been sent by the harbour office "
    "to learn the work. She was quiet at first and watched everything he did: how he trimmed the wicks, how he "
    "cleaned the great lens with a soft cloth, how he wound the clockwork that turned the light through the "
    "night. After a week she began to ask questions, and after a month she was doing most of the work herself "
    "while he sat by the window and wrote in his notebook.\n\n"
    "In the summer the weather was fine and the evenings were long. They would sit outside the tower after "
    "the lamp was lit and watch the light sweep across the water, and he would tell her stories about the "
    "storms of past winters, about the night the fishing boats were caught by the gale and the morning the "
    "whole harbour was frozen. She listened to every story and wrote some of them down in a notebook of her "
    "own, because she thought that one day somebody should read them.\n\n"
    "In the autumn the storms returned. The wind came from the north and the waves broke over the rocks and "
    "ran up the path to the door of the tower. For three nights they did not sleep, taking turns to climb the "
    "stairs and check the lamp, the wicks and the clockwork. On the fourth morning the wind dropped and the "
    "sun came out, and they walked down to the harbour to see what the sea had left on the shore: planks of "
    "wood, a broken oar, a glass float from a fishing net, and a bottle with a letter inside that nobody "
    "could read because the water had washed the ink away.\n\n"
    "The keeper grew older, and his hands became slow and stiff in the cold. In the winter he wrote to the "
    "harbour office and told them that the young woman was ready to keep the light on her own. The reply "
    "came with the next supply boat. It thanked him for his years of service and asked him to stay until "
    "the spring, so that the work could pass from one keeper to the next in good weather. He stayed, and in "
    "the spring he left on the boat with his notebooks in a wooden box, and she stood at the top of the tower "
    "and watched the boat until it was gone behind the rocks.\n\n"
    "Years later, when the light was turned by an electric motor and nobody lived on the island any more, a "
    "teacher from the town found the notebooks in a library and read them to the children in her class. The "
    "children liked the stories about the storms best, and they asked whether the lamp had really never "
    "failed. The teacher said that it had never failed, not once, in all the years that the two keepers had "
    "looked after it, and that this was the most important thing in all of the notebooks.\n";

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static genc_tokenizer *train(genc_ctx *ctx, int vocab) {
    genc_tokenizer *t = NULL;
    genc_status s = genc_tokenizer_train_memory(ctx, (const uint8_t *)ENGLISH, sizeof ENGLISH - 1, vocab, &t);
    CHECK_MSG(s == GENC_OK && t, "%s", genc_last_error(ctx));
    return t;
}

/* The chunks of a string joined with '|'. */
static void chunks_of(const char *s, char *out) {
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = genc_tok_chunk_len((const uint8_t *)s + i, n - i);
        if (i) out[o++] = '|';
        memcpy(out + o, s + i, len);
        o += len, i += len;
    }
    out[o] = 0;
}

static void test_pretokenizer(void) {
    static const char *cases[][2] = {
        {"Hello world", "Hello| world"},
        {"a  b", "a| | b"},
        {"x = 123;", "x| =| |1|2|3|;"},
        {"end.\n\nNew", "end|.|\n\n|New"},
        {"\n  indented", "\n | indented"},
        {"caf\xc3\xa9 na\xefve", "caf\xc3\xa9| na\xefve"},
        {"(a+b)*c", "(|a|+|b|)*|c"},
        {" 42", " |4|2"},
        {"tab\tend", "tab|\t|end"},
    };
    char got[256];
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        chunks_of(cases[k][0], got);
        CHECK_MSG(!strcmp(got, cases[k][1]), "case %zu: got \"%s\", want \"%s\"", k, got, cases[k][1]);
    }
    char long_word[300];
    memset(long_word, 'a', 299), long_word[299] = 0;
    CHECK(genc_tok_chunk_len((const uint8_t *)long_word, 299) == GENC_TOK_MAX_CHUNK);
}

/* Random input of one of several kinds: bytes, text-like, NULs, long runs, specials. */
static size_t random_input(uint8_t *buf, size_t cap) {
    static const char *pieces[] = {"the", " ", "  ", "\n", "<|eos|>", "<think>", "</answer>", "<|", "<", "\xff",
                                   "\xc3", "\xe2\x82", "\xf0\x9f\x98\x80", "\0", "123", ".", " lighthouse", "\r\n"};
    size_t n = rnd() % (cap / 2), kind = rnd() % 4, o = 0;
    if (kind == 0) {
        for (; o < n; o++) buf[o] = (uint8_t)rnd();
    } else if (kind == 1) {
        memset(buf, "a \0\xff"[rnd() % 4], n);
        o = n;
    } else {
        while (o < n) {
            const char *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
            size_t len = p[0] ? strlen(p) : 1;
            if (kind == 3 && rnd() % 2) p = ENGLISH + rnd() % 3000, len = rnd() % 40;
            if (o + len > cap) break;
            memcpy(buf + o, p, len);
            o += len;
        }
    }
    return o;
}

static bool round_trip(genc_tokenizer *t, genc_ctx *ctx, const uint8_t *x, size_t n, bool special) {
    int32_t *ids;
    size_t n_ids, n_out;
    uint8_t *y;
    if (genc_tokenizer_encode(t, ctx, x, n, special, &ids, &n_ids)) return false;
    bool ok = n_ids <= n && !genc_tokenizer_decode(t, ctx, ids, n_ids, &y, &n_out);
    ok = ok && n_out == n && !memcmp(x, y, n);
    for (size_t i = 0; ok && !special && i < n_ids; i++) ok = ids[i] < 256 || ids[i] >= GENC_TOK_FIRST_MERGE;
    if (ok) free(y);
    free(ids);
    return ok;
}

static void test_round_trip(genc_ctx *ctx, genc_tokenizer *t) {
    static uint8_t buf[4096];
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        size_t n = random_input(buf, sizeof buf);
        if (!round_trip(t, ctx, buf, n, false) || !round_trip(t, ctx, buf, n, true)) bad++;
    }
    CHECK_MSG(bad == 0, "%d of 2000 random inputs failed to round-trip (%s)", bad, genc_last_error(ctx));
    int32_t *ids;
    size_t n_ids;
    CHECK(genc_tokenizer_encode(t, ctx, (const uint8_t *)"", 0, true, &ids, &n_ids) == GENC_OK && ids && n_ids == 0);
    free(ids);
}

static void test_specials(genc_ctx *ctx, genc_tokenizer *t) {
    int32_t *ids;
    size_t n;
    const char *eos = "<|eos|>";
    CHECK(genc_tokenizer_special(t, "<|bos|>") == 256 && genc_tokenizer_special(t, "</answer>") == 262);
    CHECK(genc_tokenizer_special(t, "<|eos|>") == 257 && genc_tokenizer_special(t, "<|unk|>") == -1);
    CHECK(genc_tokenizer_encode(t, ctx, (const uint8_t *)eos, strlen(eos), true, &ids, &n) == GENC_OK);
    CHECK(n == 1 && ids[0] == 257);
    free(ids);
    CHECK(genc_tokenizer_encode(t, ctx, (const uint8_t *)eos, strlen(eos), false, &ids, &n) == GENC_OK);
    CHECK(n > 1);
    for (size_t i = 0; i < n; i++) CHECK(ids[i] < 256 || ids[i] >= GENC_TOK_FIRST_MERGE);
    free(ids);
    const char *qa = "<think>the sea</think><answer>calm</answer><|eos|>";
    CHECK(genc_tokenizer_encode(t, ctx, (const uint8_t *)qa, strlen(qa), true, &ids, &n) == GENC_OK);
    CHECK(n >= 6 && ids[0] == 259 && ids[n - 1] == 257 && ids[n - 2] == 262);
    size_t len;
    const uint8_t *b = genc_tokenizer_token_bytes(t, 259, &len);
    CHECK(b && len == 7 && !memcmp(b, "<think>", 7));
    CHECK(genc_tokenizer_token_bytes(t, genc_tokenizer_vocab_size(t), &len) == NULL && len == 0);
    free(ids);
}

static void test_decode_errors(genc_ctx *ctx, genc_tokenizer *t) {
    int32_t ids[3] = {65, genc_tokenizer_vocab_size(t), 66};
    uint8_t *out;
    size_t n;
    CHECK(genc_tokenizer_decode(t, ctx, ids, 3, &out, &n) == GENC_EINVAL && out == NULL);
    const char *m = genc_last_error(ctx);
    char want[64];
    snprintf(want, sizeof want, "token 1 is id %d", ids[1]);
    CHECK_MSG(strstr(m, want) != NULL, "message: %s", m);
    genc_clear_error(ctx);
    ids[1] = -5;
    CHECK(genc_tokenizer_decode(t, ctx, ids, 3, &out, &n) == GENC_EINVAL && strstr(genc_last_error(ctx), "-5"));
    genc_clear_error(ctx);
}

static bool same_merges(const genc_tokenizer *a, const genc_tokenizer *b) {
    if (genc_tokenizer_vocab_size(a) != genc_tokenizer_vocab_size(b)) return false;
    for (int32_t id = GENC_TOK_FIRST_MERGE; id < genc_tokenizer_vocab_size(a); id++) {
        int32_t x0, x1, y0, y1;
        if (!genc_tokenizer_merge(a, id, &x0, &x1) || !genc_tokenizer_merge(b, id, &y0, &y1)) return false;
        if (x0 != y0 || x1 != y1) return false;
    }
    return true;
}

static void test_training(genc_ctx *ctx, genc_tokenizer *t) {
    CHECK(genc_tokenizer_vocab_size(t) == 512 && genc_tokenizer_n_merges(t) == 512 - 263);
    genc_tokenizer *u = train(ctx, 512);
    CHECK(u && same_merges(t, u));
    genc_tokenizer_free(u);
    char path[] = "/tmp/genc_tok_text_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, ENGLISH, sizeof ENGLISH - 1) == (ssize_t)(sizeof ENGLISH - 1));
    close(fd);
    const char *files[1] = {path};
    CHECK(genc_tokenizer_train(ctx, files, 1, 512, &u) == GENC_OK && same_merges(t, u));
    genc_tokenizer_free(u);
    unlink(path);
    const char *missing[1] = {"/nonexistent/genc.txt"};
    CHECK(genc_tokenizer_train(ctx, missing, 1, 512, &u) == GENC_EIO && !u);
    CHECK(strstr(genc_last_error(ctx), "/nonexistent/genc.txt") != NULL);
    genc_clear_error(ctx);
    CHECK(genc_tokenizer_train_memory(ctx, (const uint8_t *)"ab", 2, 262, &u) == GENC_EINVAL && !u);
    CHECK(strstr(genc_last_error(ctx), "262") != NULL);
    genc_clear_error(ctx);
    /* A tiny text runs out of pairs: a smaller vocabulary, still exact. */
    CHECK(genc_tokenizer_train_memory(ctx, (const uint8_t *)"abab abab", 9, 1000, &u) == GENC_OK);
    CHECK(u && genc_tokenizer_vocab_size(u) < 1000 && round_trip(u, ctx, (const uint8_t *)"abab abab", 9, false));
    genc_tokenizer_free(u);
    /* The merges reproduce a word in one token when it is frequent. */
    int32_t *ids;
    size_t n;
    CHECK(genc_tokenizer_encode(t, ctx, (const uint8_t *)" the", 4, false, &ids, &n) == GENC_OK && n == 1);
    free(ids);
}

static void test_compression(genc_ctx *ctx, genc_tokenizer *t) {
    int32_t *ids;
    size_t n;
    CHECK(genc_tokenizer_encode(t, ctx, (const uint8_t *)ENGLISH, sizeof ENGLISH - 1, false, &ids, &n) == GENC_OK);
    double ratio = (double)(sizeof ENGLISH - 1) / (double)n;
    printf("compression on %zu training bytes, vocab 512: %.2f bytes/token\n", sizeof ENGLISH - 1, ratio);
    CHECK_MSG(ratio > 2.0, "%.3f bytes/token", ratio);
    /* Streaming decode with token_bytes gives the text back. */
    size_t o = 0;
    bool same = true;
    for (size_t i = 0; i < n && same; i++) {
        size_t len;
        const uint8_t *b = genc_tokenizer_token_bytes(t, ids[i], &len);
        same = b && o + len <= sizeof ENGLISH - 1 && !memcmp(ENGLISH + o, b, len);
        o += len;
    }
    CHECK(same && o == sizeof ENGLISH - 1);
    free(ids);
}

static void test_save_load(genc_ctx *ctx, genc_tokenizer *t) {
    char path[] = "/tmp/genc_tok_XXXXXX";
    close(mkstemp(path));
    genc_tokenizer *u = NULL;
    CHECK(genc_tokenizer_save(t, ctx, path) == GENC_OK);
    CHECK_MSG(genc_tokenizer_load(ctx, path, &u) == GENC_OK && u && same_merges(t, u), "%s", genc_last_error(ctx));
    CHECK(u && round_trip(u, ctx, (const uint8_t *)ENGLISH, 500, true));
    genc_tokenizer_free(u);
    /* Inside a checkpoint, beside other tensors. */
    genc_st_writer *w = genc_st_writer_new(ctx);
    float x[3] = {1, 2, 3};
    int64_t shape[1] = {3};
    CHECK(genc_st_writer_add_f32(w, "model.w", GENC_DT_F32, 1, shape, x) == GENC_OK);
    CHECK(genc_tokenizer_add_to(t, ctx, w) == GENC_OK && genc_st_writer_meta(w, "config", "{}") == GENC_OK);
    CHECK(genc_st_writer_save(w, path) == GENC_OK);
    genc_st_writer_free(w);
    genc_st *st = NULL;
    CHECK(genc_st_open(ctx, path, &st) == GENC_OK);
    CHECK(genc_tokenizer_from_st(ctx, st, &u) == GENC_OK && same_merges(t, u));
    genc_tokenizer_free(u);
    genc_st_close(st);
    unlink(path);
    CHECK(genc_tokenizer_load(ctx, "/tmp/genc_no_such_tokenizer", &u) == GENC_EIO && !u);
    CHECK(strstr(genc_last_error(ctx), "/tmp/genc_no_such_tokenizer") != NULL);
    genc_clear_error(ctx);
}

/* Write a file with the given metadata (NULL: none) and merges tensor (n < 0: none). */
static void write_file(genc_ctx *ctx, const char *path, const char *meta, genc_dtype dt, int64_t n, int64_t cols,
                       const int32_t *m) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    int64_t shape[2] = {n, cols};
    float f[64] = {0};
    if (n >= 0) genc_st_writer_add(w, "tokenizer.merges", dt, 2, shape, dt == GENC_DT_I32 ? (const void *)m : f);
    if (meta) genc_st_writer_meta(w, "tokenizer", meta);
    CHECK(genc_st_writer_save(w, path) == GENC_OK);
    genc_st_writer_free(w);
}

#define SPECIALS "\"specials\":[\"<|bos|>\",\"<|eos|>\",\"<|pad|>\",\"<think>\",\"</think>\",\"<answer>\",\"</answer>\"]"
#define META(v, n, extra) "{\"version\":1,\"type\":\"byte_bpe\",\"pretokenizer\":\"genc-v1\",\"vocab_size\":" #v \
                          ",\"n_merges\":" #n "," SPECIALS extra "}"

static void expect_reject(genc_ctx *ctx, const char *path, const char *want, int line) {
    genc_tokenizer *u = (genc_tokenizer *)1;
    genc_status s = genc_tokenizer_load(ctx, path, &u);
    const char *m = genc_last_error(ctx);
    if (s == GENC_EFORMAT && !u && strstr(m, want) && strstr(m, path) && !strchr(m, '\n')) test_passed++;
    else test_failed++, fprintf(stderr, "line %d: want EFORMAT with \"%s\", got %s: %s\n", line, want,
                                genc_status_name(s), m);
    genc_clear_error(ctx);
}
#define REJECT(want) expect_reject(ctx, path, want, __LINE__)

/* GENC_TAGS_TEXT: the four tags are text (never ids 259..262), <|eos|> stays special,
 * training sees the tags as text, and the mode survives a save and a load. */
static void test_text_tags(genc_ctx *ctx) {
    char path[] = "/tmp/genc_tok_tags_XXXXXX";
    int fd = mkstemp(path);
    const char *text = "<kori> so the sea was calm </kori> <answer>4</answer> <think> a </think>\n";
    for (int i = 0; i < 200; i++) CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    const char *files[1] = {path};
    genc_tokenizer *t = NULL, *u = NULL;
    CHECK(genc_tokenizer_train_with(ctx, files, 1, 300, GENC_PRETOK_GENC_V1, GENC_TAGS_TEXT, &t) == GENC_OK);
    CHECK(genc_tokenizer_tags(t) == GENC_TAGS_TEXT && genc_tokenizer_tags(NULL) == GENC_TAGS_SPECIAL);
    const char *qa = "<think>the sea</think><answer>calm</answer><|eos|>";
    int32_t *ids;
    size_t n;
    CHECK(genc_tokenizer_encode(t, ctx, (const uint8_t *)qa, strlen(qa), true, &ids, &n) == GENC_OK);
    bool tag_id = false;
    for (size_t i = 0; i < n; i++) tag_id = tag_id || (ids[i] >= 259 && ids[i] <= 262);
    CHECK(!tag_id && n > 6 && ids[n - 1] == 257);
    uint8_t *back;
    size_t nb;
    CHECK(genc_tokenizer_decode(t, ctx, ids, n, &back, &nb) == GENC_OK && nb == strlen(qa) && !memcmp(back, qa, nb));
    free(back), free(ids);
    /* Trained as text, "answer" is a merge: the tag is a few tokens, not its 10 bytes. */
    const char *ans = "<answer>";
    CHECK(genc_tokenizer_encode(t, ctx, (const uint8_t *)ans, strlen(ans), true, &ids, &n) == GENC_OK && n <= 3);
    free(ids);
    CHECK(genc_tokenizer_save(t, ctx, path) == GENC_OK && genc_tokenizer_load(ctx, path, &u) == GENC_OK);
    CHECK(genc_tokenizer_tags(u) == GENC_TAGS_TEXT);
    genc_tokenizer_set_tags(u, GENC_TAGS_SPECIAL);
    CHECK(genc_tokenizer_encode(u, ctx, (const uint8_t *)qa, strlen(qa), true, &ids, &n) == GENC_OK && ids[0] == 259);
    free(ids);
    genc_tokenizer_free(u);
    genc_tokenizer_free(t);
    unlink(path);
}

static void test_bad_files(genc_ctx *ctx) {
    char path[] = "/tmp/genc_tok_bad_XXXXXX";
    close(mkstemp(path));
    const int32_t ok2[4] = {97, 98, 263, 99}, later[4] = {97, 98, 264, 97}, special[2] = {256, 97};
    const int32_t twice[4] = {97, 98, 97, 98}, chain[14] = {97, 97, 263, 263, 264, 264, 265, 265, 266, 266, 267, 267,
                                                             268, 268};
    write_file(ctx, path, META(265, 2, ""), GENC_DT_I32, 2, 2, ok2);
    genc_tokenizer *u = NULL;
    CHECK_MSG(genc_tokenizer_load(ctx, path, &u) == GENC_OK && genc_tokenizer_vocab_size(u) == 265, "%s",
              genc_last_error(ctx));
    size_t len;
    const uint8_t *b = genc_tokenizer_token_bytes(u, 264, &len);
    CHECK(b && len == 3 && !memcmp(b, "abc", 3));
    genc_tokenizer_free(u);
    write_file(ctx, path, NULL, GENC_DT_I32, 2, 2, ok2), REJECT("metadata \"tokenizer\" is missing");
    write_file(ctx, path, META(265, 2, ""), GENC_DT_I32, -1, 2, ok2), REJECT("tensor \"tokenizer.merges\" is missing");
    write_file(ctx, path, "{", GENC_DT_I32, 2, 2, ok2), REJECT("invalid JSON");
    write_file(ctx, path, "[1]", GENC_DT_I32, 2, 2, ok2), REJECT("expected a JSON object");
    write_file(ctx, path, META(265, 2, ",\"extra\":1"), GENC_DT_I32, 2, 2, ok2), REJECT("unknown field \"extra\"");
    write_file(ctx, path, META(266, 2, ""), GENC_DT_I32, 2, 2, ok2), REJECT("vocab_size 266");
    write_file(ctx, path, META(264, 1, ""), GENC_DT_I32, 2, 2, ok2), REJECT("expected I32 [1, 2]");
    write_file(ctx, path, META(265, 2, ""), GENC_DT_F32, 2, 2, ok2), REJECT("found F32");
    write_file(ctx, path, META(265, 2, ""), GENC_DT_I32, 1, 4, ok2), REJECT("expected I32 [2, 2]");
    write_file(ctx, path, META(265, 2, ""), GENC_DT_I32, 2, 2, later), REJECT("merge 1 (token 264)");
    write_file(ctx, path, META(264, 1, ""), GENC_DT_I32, 1, 2, special), REJECT("special token <|bos|>");
    write_file(ctx, path, META(265, 2, ""), GENC_DT_I32, 2, 2, twice), REJECT("repeats merge 0");
    write_file(ctx, path, META(270, 7, ""), GENC_DT_I32, 7, 2, chain), REJECT("128-byte token");
    write_file(ctx, path, "{\"version\":2}", GENC_DT_I32, 2, 2, ok2), REJECT("\"version\"");
    write_file(ctx, path, "{\"version\":1,\"type\":\"byte_bpe\",\"pretokenizer\":\"gpt-9\"}", GENC_DT_I32, 2, 2, ok2);
    REJECT("\"pretokenizer\": \"qwen2\", \"genc-v1\" or \"gpt2\", found \"gpt-9\"");
    write_file(ctx, path, "{\"version\":1,\"a_very_long_field_name_that_goes_on_and_on_well_past_the_message_limit\":0}",
               GENC_DT_I32, 2, 2, ok2);
    REJECT("unknown field \"a_very_long_field_name_that_goes_on");
    write_file(ctx, path, "{\"version\":1,\"type\":\"byte_bpe\",\"pretokenizer\":\"genc-v1\",\"vocab_size\":265,"
               "\"n_merges\":2,\"specials\":[\"<|eos|>\"]}", GENC_DT_I32, 2, 2, ok2);
    REJECT("\"specials\"");
    write_file(ctx, path, META(265, 2, ",\"tags\":\"html\""), GENC_DT_I32, 2, 2, ok2);
    REJECT("expected \"tags\": \"special\" or \"text\", found \"html\"");
    write_file(ctx, path, META(265, 2, ",\"tags\":\"special\""), GENC_DT_I32, 2, 2, ok2);
    CHECK(genc_tokenizer_load(ctx, path, &u) == GENC_OK && genc_tokenizer_tags(u) == GENC_TAGS_SPECIAL);
    genc_tokenizer_free(u);
    /* A truncated file is the container's error, naming the file. */
    write_file(ctx, path, META(265, 2, ""), GENC_DT_I32, 2, 2, ok2);
    CHECK(truncate(path, 40) == 0);
    CHECK(genc_tokenizer_load(ctx, path, &u) == GENC_EFORMAT && !u && strstr(genc_last_error(ctx), path));
    genc_clear_error(ctx);
    unlink(path);
}

/* Long runs (one chunk class for megabytes) encode in linear time. */
/* genc_lm_corpus_from_files with doc_sep: each non-empty piece between separators is one
 * document followed by <|eos|>, the separators themselves dropped; without one the file is one
 * document. */
static void test_corpus_documents(genc_ctx *ctx, genc_tokenizer *t) {
    char path[] = "/tmp/genc_docs_XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "the lamp had never once failed to turn in the night\n\nshe listened to every story and wrote "
                        "some of them down\nin the autumn the storms returned from the north\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    int32_t eos = genc_tokenizer_special(t, "<|eos|>");
    const char *files[1] = {path}, *pieces[3] = {"the lamp had never once failed to turn in the night",
                                                  "she listened to every story and wrote some of them down",
                                                  "in the autumn the storms returned from the north"};
    genc_lm_corpus whole, lines;
    CHECK(genc_lm_corpus_from_files(ctx, t, files, 1, 0.5, NULL, &whole) == GENC_OK);
    CHECK(genc_lm_corpus_from_files(ctx, t, files, 1, 0.5, "\n", &lines) == GENC_OK);
    int64_t at = 0;
    for (int d = 0; d < 3; d++) { /* lines = enc(piece) eos, three times */
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK(genc_tokenizer_encode(t, ctx, (const uint8_t *)pieces[d], strlen(pieces[d]), false, &ids, &n) == GENC_OK);
        CHECK(at + (int64_t)n + 1 <= lines.n && !memcmp(lines.tokens + at, ids, n * sizeof *ids));
        at += (int64_t)n;
        CHECK(at < lines.n && lines.tokens[at] == eos);
        at++;
        free(ids);
    }
    CHECK(at == lines.n);
    int64_t n_eos = 0;
    for (int64_t i = 0; i < whole.n; i++) n_eos += whole.tokens[i] == eos;
    CHECK(n_eos == 1 && whole.tokens[whole.n - 1] == eos);
    genc_lm_corpus_free(&whole), genc_lm_corpus_free(&lines);
    unlink(path);
}

static void test_long_runs(genc_ctx *ctx, genc_tokenizer *t) {
    size_t n = (size_t)3 << 20;
    uint8_t *x = malloc(n);
    memset(x, 'a', n / 3), memset(x + n / 3, ' ', n / 3), memset(x + 2 * (n / 3), 0xe9, n / 3);
    clock_t c0 = clock();
    CHECK(round_trip(t, ctx, x, n, true));
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    CHECK_MSG(secs < 3.0, "3 MB of long runs took %.2f s to encode and decode", secs);
    free(x);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    test_pretokenizer();
    genc_tokenizer *t = train(ctx, 512);
    if (t) {
        test_round_trip(ctx, t);
        test_specials(ctx, t);
        test_decode_errors(ctx, t);
        test_training(ctx, t);
        test_compression(ctx, t);
        test_save_load(ctx, t);
        test_long_runs(ctx, t);
        test_corpus_documents(ctx, t);
    }
    test_bad_files(ctx);
    test_text_tags(ctx);
    genc_tokenizer_free(t);
    genc_ctx_free(ctx);
    return test_report("test_tokenizer");
}
