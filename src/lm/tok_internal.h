/* Internals shared by the tokenizer's files (tokenizer.c, tok_maps.c, bpe_train.c,
 * tokenizer_io.c): the tokenizer struct, two open-addressing hash maps (pair -> int and
 * byte string -> int64) and the pre-tokeniser. Not part of the public API. */
#ifndef GENC_TOK_INTERNAL_H
#define GENC_TOK_INTERNAL_H

#include "genc/tokenizer.h"

/* (a, b) -> value; keys are a << 32 | b with a, b < 2^24, so ~0 marks an empty slot. */
typedef struct {
    uint64_t *keys;
    int32_t *vals;
    size_t cap, n; /* cap is 0 or a power of two */
} genc_tok_pairmap;

#define GENC_TOK_PAIR(a, b) (((uint64_t)(uint32_t)(a) << 32) | (uint32_t)(b))

int32_t genc_tok_pairmap_get(const genc_tok_pairmap *m, uint64_t key); /* -1 when absent */
/* The value slot of key, inserted with value -1 when absent; NULL when out of memory. */
int32_t *genc_tok_pairmap_put(genc_tok_pairmap *m, uint64_t key);
void genc_tok_pairmap_free(genc_tok_pairmap *m);

/* Byte string -> int64; keys are copied into an arena. */
typedef struct {
    uint64_t hash;
    size_t off;   /* key bytes at arena + off */
    uint32_t len; /* 0: empty slot (keys are never empty) */
    int64_t val;
} genc_tok_strslot;

typedef struct {
    genc_tok_strslot *slots;
    size_t cap, n;
    uint8_t *arena;
    size_t arena_n, arena_cap;
} genc_tok_strmap;

uint64_t genc_tok_hash(const uint8_t *s, size_t n);
/* The slot of key s[0..n) (n >= 1), NULL when absent. */
genc_tok_strslot *genc_tok_strmap_get(const genc_tok_strmap *m, const uint8_t *s, size_t n, uint64_t h);
/* The slot of key s, inserted with val 0 and *added set when absent; NULL when out of memory. */
genc_tok_strslot *genc_tok_strmap_put(genc_tok_strmap *m, const uint8_t *s, size_t n, uint64_t h, bool *added);
void genc_tok_strmap_clear(genc_tok_strmap *m); /* keeps the memory */
void genc_tok_strmap_free(genc_tok_strmap *m);

struct genc_tokenizer {
    int n_merges, vocab;
    genc_pretokenizer pretok;
    int32_t *merges;         /* 2 * n_merges ids */
    uint8_t *bytes;          /* every token's bytes, concatenated */
    size_t bytes_cap;
    uint32_t *off;           /* vocab + 1 offsets into bytes */
    genc_tok_pairmap ranks;  /* (a, b) -> merge index */
    genc_tok_strmap cache;   /* chunk -> (offset into cache_ids) << 8 | count */
    int32_t *cache_ids;
    size_t cache_n, cache_cap;
    genc_tags tags;          /* which special strings encoding matches (tokenizer.h) */
};

/* Length of the pre-tokenised chunk that starts s[0..n), n >= 1 (see tokenizer.h): genc-v1's,
 * GPT-2's (tok_gpt2.c), Qwen2's (tok_qwen2.c), or the one of the mode given. */
size_t genc_tok_chunk_len(const uint8_t *s, size_t n);
size_t genc_tok_chunk_len_gpt2(const uint8_t *s, size_t n);
size_t genc_tok_chunk_len_qwen2(const uint8_t *s, size_t n);
size_t genc_tok_chunk(genc_pretokenizer p, const uint8_t *s, size_t n);

/* Code point classes of the regex pre-tokenizers (tok_class.c): \p{L}, \p{N}, \s, anything
 * else (invalid UTF-8 bytes included, one byte each). */
enum { GENC_TOK_LETTER, GENC_TOK_NUMBER, GENC_TOK_SPACE, GENC_TOK_OTHER };
int genc_tok_cp_class(uint32_t cp);
/* The class of the code point at s[i] (i < n) and its byte length in *len. */
int genc_tok_class_at(const uint8_t *s, size_t n, size_t i, int *len);
/* The end of the run of class cls from i (bounded one code point past the chunk cap, which
 * keeps pre-tokenising a long run linear). */
size_t genc_tok_class_run(const uint8_t *s, size_t n, size_t i, int cls);
/* The sorted, disjoint ranges behind the classes (tok_unicode.c, generated). */
typedef struct {
    uint32_t lo, hi;
} genc_tok_cprange;
extern const genc_tok_cprange genc_tok_letters[], genc_tok_numbers[], genc_tok_spaces[];
extern const int genc_tok_letters_n, genc_tok_numbers_n, genc_tok_spaces_n;
/* Position of the first special token string in s[0..n) (its index in *which), or n;
 * with GENC_TAGS_TEXT only <|bos|> <|eos|> <|pad|> count, the tags are text. */
size_t genc_tok_next_special(const uint8_t *s, size_t n, genc_tags tags, int *which);
/* Validate merges (2 * n ids) and build the tokenizer; messages start with label. */
genc_status genc_tok_build(genc_ctx *ctx, const int32_t *merges, int n, const char *label, genc_tokenizer **out);

#endif
