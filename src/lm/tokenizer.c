/* The byte-level BPE tokenizer: pre-tokenisation, building and validating a vocabulary
 * from merges, encoding (merges by rank, chunk cache), decoding and accessors. Training
 * is in bpe_train.c, files in tokenizer_io.c, the hash maps in tok_maps.c. */
#include "lm/tok_internal.h"

#include <stdlib.h>
#include <string.h>

const char *const genc_tokenizer_special_names[GENC_TOK_N_SPECIAL] = {
    "<|bos|>", "<|eos|>", "<|pad|>", "<think>", "</think>", "<answer>", "</answer>"};

/* ---- pre-tokenisation ---- */

enum { C_LETTER, C_DIGIT, C_SPACE, C_PUNCT };

static int byte_class(uint8_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return C_LETTER;
    if (c >= '0' && c <= '9') return C_DIGIT;
    if (c == ' ' || (c >= '\t' && c <= '\r')) return C_SPACE;
    return C_PUNCT;
}

/* The end of a run of class cls from i, looking no further than one byte past the chunk
 * cap: a longer run is cut at the cap anyway, and bounding the scan keeps pre-tokenising
 * a long run linear rather than quadratic. */
static size_t run_end(const uint8_t *s, size_t n, size_t i, int cls) {
    size_t stop = n < GENC_TOK_MAX_CHUNK + 1 ? n : GENC_TOK_MAX_CHUNK + 1;
    while (i < stop && byte_class(s[i]) == cls) i++;
    return i;
}

size_t genc_tok_chunk_len(const uint8_t *s, size_t n) {
    size_t len;
    int c0 = byte_class(s[0]), c1 = n > 1 ? byte_class(s[1]) : C_SPACE;
    if (s[0] == ' ' && (c1 == C_LETTER || c1 == C_PUNCT)) {
        len = run_end(s, n, 2, c1);
    } else if (c0 == C_DIGIT) {
        len = 1;
    } else if (c0 != C_SPACE) {
        len = run_end(s, n, 1, c0);
    } else {
        len = run_end(s, n, 1, C_SPACE);
        if (len < n && s[len - 1] == ' ' && byte_class(s[len]) != C_DIGIT) len--; /* space joins the next chunk */
    }
    return len < GENC_TOK_MAX_CHUNK ? len : GENC_TOK_MAX_CHUNK;
}

size_t genc_tok_chunk(genc_pretokenizer p, const uint8_t *s, size_t n) {
    return p == GENC_PRETOK_QWEN2 ? genc_tok_chunk_len_qwen2(s, n)
         : p == GENC_PRETOK_GPT2  ? genc_tok_chunk_len_gpt2(s, n)
                                  : genc_tok_chunk_len(s, n);
}

const char *genc_pretokenizer_name(genc_pretokenizer p) {
    return p == GENC_PRETOK_QWEN2 ? "qwen2" : p == GENC_PRETOK_GPT2 ? "gpt2" : GENC_TOK_PRETOKENIZER;
}

bool genc_pretokenizer_parse(const char *name, genc_pretokenizer *out) {
    for (int p = GENC_PRETOK_GENC_V1; name && p <= GENC_PRETOK_QWEN2; p++)
        if (!strcmp(name, genc_pretokenizer_name((genc_pretokenizer)p))) {
            *out = (genc_pretokenizer)p;
            return true;
        }
    return false;
}

size_t genc_tok_next_special(const uint8_t *s, size_t n, genc_tags tags, int *which) {
    int n_special = tags == GENC_TAGS_TEXT ? GENC_TOK_N_CONTROL : GENC_TOK_N_SPECIAL;
    for (const uint8_t *p = s; (p = memchr(p, '<', n - (size_t)(p - s))) != NULL; p++) {
        size_t left = n - (size_t)(p - s);
        for (int k = 0; k < n_special; k++) {
            size_t len = strlen(genc_tokenizer_special_names[k]);
            if (len <= left && !memcmp(p, genc_tokenizer_special_names[k], len)) {
                *which = k;
                return (size_t)(p - s);
            }
        }
    }
    return n;
}

/* ---- building from merges ---- */

/* Checks merge i = (a, b) against the tokens before it; the message names label and i. */
static genc_status check_merge(genc_ctx *ctx, const genc_tokenizer *t, int i, int32_t a, int32_t b,
                               const char *label) {
    int32_t id = GENC_TOK_FIRST_MERGE + i;
    for (int k = 0; k < 2; k++) {
        int32_t x = k ? b : a;
        if (x < 0 || x >= id)
            return genc_error(ctx, GENC_EFORMAT, "%s: merge %d (token %d) = (%d, %d): expected ids of bytes or earlier "
                              "merges (0..%d), found %d", label, i, id, a, b, id - 1, x);
        if (x >= GENC_TOK_N_BYTES && x < GENC_TOK_FIRST_MERGE)
            return genc_error(ctx, GENC_EFORMAT, "%s: merge %d (token %d) = (%d, %d): id %d is the special token %s, "
                              "which merges never use", label, i, id, a, b, x,
                              genc_tokenizer_special_names[x - GENC_TOK_N_BYTES]);
    }
    size_t len = (size_t)(t->off[a + 1] - t->off[a]) + (t->off[b + 1] - t->off[b]);
    if (len > GENC_TOK_MAX_CHUNK)
        return genc_error(ctx, GENC_EFORMAT, "%s: merge %d (token %d) = (%d, %d) makes a %zu-byte token; "
                          "chunks, so tokens, have at most %d bytes", label, i, id, a, b, len, GENC_TOK_MAX_CHUNK);
    int32_t prev = genc_tok_pairmap_get(&t->ranks, GENC_TOK_PAIR(a, b));
    if (prev >= 0)
        return genc_error(ctx, GENC_EFORMAT, "%s: merge %d (token %d) = (%d, %d) repeats merge %d", label, i, id, a,
                          b, prev);
    return GENC_OK;
}

static bool grow_bytes(genc_tokenizer *t, size_t need) {
    if (need <= t->bytes_cap) return true;
    size_t cap = t->bytes_cap * 2 > need ? t->bytes_cap * 2 : need;
    uint8_t *b = realloc(t->bytes, cap);
    if (!b) return false;
    t->bytes = b, t->bytes_cap = cap;
    return true;
}

static genc_status alloc_vocab(genc_ctx *ctx, genc_tokenizer *t, int n) {
    t->n_merges = n, t->vocab = GENC_TOK_FIRST_MERGE + n;
    t->merges = malloc(2 * (size_t)n * sizeof *t->merges + 1);
    t->off = malloc(((size_t)t->vocab + 1) * sizeof *t->off);
    t->bytes_cap = 4096;
    t->bytes = malloc(t->bytes_cap);
    if (!t->merges || !t->off || !t->bytes) return genc_error(ctx, GENC_ENOMEM, "tokenizer: out of memory");
    uint32_t o = 0;
    for (int i = 0; i < GENC_TOK_N_BYTES; i++) t->off[i] = o, t->bytes[o++] = (uint8_t)i;
    for (int k = 0; k < GENC_TOK_N_SPECIAL; k++) {
        size_t len = strlen(genc_tokenizer_special_names[k]);
        t->off[GENC_TOK_N_BYTES + k] = o;
        memcpy(t->bytes + o, genc_tokenizer_special_names[k], len);
        o += (uint32_t)len;
    }
    t->off[GENC_TOK_FIRST_MERGE] = o;
    return GENC_OK;
}

genc_status genc_tok_build(genc_ctx *ctx, const int32_t *merges, int n, const char *label, genc_tokenizer **out) {
    *out = NULL;
    if (n < 0 || n > GENC_TOK_MAX_VOCAB - GENC_TOK_FIRST_MERGE)
        return genc_error(ctx, GENC_EFORMAT, "%s: expected 0..%d merges, found %d", label,
                          GENC_TOK_MAX_VOCAB - GENC_TOK_FIRST_MERGE, n);
    genc_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return genc_error(ctx, GENC_ENOMEM, "tokenizer: out of memory");
    genc_status s = alloc_vocab(ctx, t, n);
    for (int i = 0; i < n && !s; i++) {
        int32_t a = merges[2 * i], b = merges[2 * i + 1], id = GENC_TOK_FIRST_MERGE + i;
        s = check_merge(ctx, t, i, a, b, label);
        int32_t *slot = s ? NULL : genc_tok_pairmap_put(&t->ranks, GENC_TOK_PAIR(a, b));
        if (!s && !slot) s = genc_error(ctx, GENC_ENOMEM, "tokenizer: out of memory");
        if (s) break;
        *slot = i;
        t->merges[2 * i] = a, t->merges[2 * i + 1] = b;
        uint32_t o = t->off[id], la = t->off[a + 1] - t->off[a], lb = t->off[b + 1] - t->off[b];
        if (!grow_bytes(t, (size_t)o + la + lb)) {
            s = genc_error(ctx, GENC_ENOMEM, "tokenizer: out of memory");
            break;
        }
        memcpy(t->bytes + o, t->bytes + t->off[a], la);
        memcpy(t->bytes + o + la, t->bytes + t->off[b], lb);
        t->off[id + 1] = o + la + lb;
    }
    if (s) {
        genc_tokenizer_free(t);
        return s;
    }
    *out = t;
    return GENC_OK;
}

genc_status genc_tokenizer_from_merges(genc_ctx *ctx, const int64_t *merges, int n_merges, const char *label,
                                       genc_tokenizer **out) {
    *out = NULL;
    if (n_merges < 0 || n_merges > GENC_TOK_MAX_VOCAB - GENC_TOK_FIRST_MERGE)
        return genc_error(ctx, GENC_EFORMAT, "%s: expected 0..%d merges, found %d", label,
                          GENC_TOK_MAX_VOCAB - GENC_TOK_FIRST_MERGE, n_merges);
    int32_t *m = malloc(2 * (size_t)n_merges * sizeof *m + 1);
    if (!m) return genc_error(ctx, GENC_ENOMEM, "tokenizer: out of memory");
    for (int i = 0; i < 2 * n_merges; i++) {
        int64_t v = merges[i];
        m[i] = (int32_t)v;
        if (v < 0 || v >= GENC_TOK_FIRST_MERGE + i / 2) {
            free(m);
            return genc_error(ctx, GENC_EFORMAT, "%s: merge %d (token %d): expected ids 0..%d, found %lld", label,
                              i / 2, GENC_TOK_FIRST_MERGE + i / 2, GENC_TOK_FIRST_MERGE + i / 2 - 1, (long long)v);
        }
    }
    genc_status s = genc_tok_build(ctx, m, n_merges, label, out);
    free(m);
    return s;
}

void genc_tokenizer_free(genc_tokenizer *t) {
    if (!t) return;
    free(t->merges), free(t->off), free(t->bytes), free(t->cache_ids);
    genc_tok_pairmap_free(&t->ranks);
    genc_tok_strmap_free(&t->cache);
    free(t);
}

/* ---- encoding ---- */

#define NO_RANK INT32_MAX
#define CACHE_MAX_IDS ((size_t)1 << 20) /* the chunk cache starts over beyond this */

static int32_t rank_of(const genc_tokenizer *t, int32_t a, int32_t b) {
    int32_t r = genc_tok_pairmap_get(&t->ranks, GENC_TOK_PAIR(a, b));
    return r < 0 ? NO_RANK : r;
}

/* BPE on one chunk (n <= GENC_TOK_MAX_CHUNK): merge the lowest-ranked adjacent pair,
 * leftmost first, until no pair has a merge. rank[i] belongs to the pair (tok[i], tok[i+1]). */
static int bpe_chunk(const genc_tokenizer *t, const uint8_t *s, int n, int32_t *tok) {
    int32_t rank[GENC_TOK_MAX_CHUNK];
    for (int i = 0; i < n; i++) tok[i] = s[i];
    for (int i = 0; i + 1 < n; i++) rank[i] = rank_of(t, tok[i], tok[i + 1]);
    while (n > 1) {
        int best = 0;
        for (int i = 1; i + 1 < n; i++) best = rank[i] < rank[best] ? i : best;
        if (rank[best] == NO_RANK) break;
        tok[best] = GENC_TOK_FIRST_MERGE + rank[best];
        memmove(tok + best + 1, tok + best + 2, (size_t)(n - best - 2) * sizeof *tok);
        if (best + 2 < n - 1) memmove(rank + best + 1, rank + best + 2, (size_t)(n - best - 3) * sizeof *rank);
        n--;
        if (best > 0) rank[best - 1] = rank_of(t, tok[best - 1], tok[best]);
        if (best + 1 < n) rank[best] = rank_of(t, tok[best], tok[best + 1]);
    }
    return n;
}

static bool cache_reserve(genc_tokenizer *t, size_t k) {
    if (t->cache_n + k <= t->cache_cap) return true;
    size_t cap = t->cache_cap ? 2 * t->cache_cap : 4096;
    int32_t *p = realloc(t->cache_ids, (cap < CACHE_MAX_IDS ? cap : CACHE_MAX_IDS) * sizeof *p);
    if (!p) return false;
    t->cache_ids = p, t->cache_cap = cap < CACHE_MAX_IDS ? cap : CACHE_MAX_IDS;
    return true;
}

/* The ids of a chunk, from the cache or computed and cached; returns the count. */
static int encode_chunk(genc_tokenizer *t, const uint8_t *s, size_t n, int32_t *dst) {
    if (n == 1) {
        dst[0] = s[0];
        return 1;
    }
    uint64_t h = genc_tok_hash(s, n);
    genc_tok_strslot *e = genc_tok_strmap_get(&t->cache, s, n, h);
    if (e) {
        int k = (int)(e->val & 0xff);
        memcpy(dst, t->cache_ids + (e->val >> 8), (size_t)k * sizeof *dst);
        return k;
    }
    int k = bpe_chunk(t, s, (int)n, dst);
    if (t->cache_n + (size_t)k > CACHE_MAX_IDS) {
        genc_tok_strmap_clear(&t->cache);
        t->cache_n = 0;
    }
    if (!cache_reserve(t, (size_t)k)) return k; /* out of memory only costs speed */
    bool added;
    e = genc_tok_strmap_put(&t->cache, s, n, h, &added);
    if (!e) return k;
    memcpy(t->cache_ids + t->cache_n, dst, (size_t)k * sizeof *dst);
    e->val = (int64_t)t->cache_n << 8 | k;
    t->cache_n += (size_t)k;
    return k;
}

static size_t encode_plain(genc_tokenizer *t, const uint8_t *s, size_t n, int32_t *dst) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t len = genc_tok_chunk(t->pretok, s + i, n - i);
        k += (size_t)encode_chunk(t, s + i, len, dst + k);
        i += len;
    }
    return k;
}

genc_status genc_tokenizer_encode(genc_tokenizer *t, genc_ctx *ctx, const uint8_t *bytes, size_t n,
                                  bool allow_special, int32_t **ids, size_t *n_ids) {
    *ids = NULL, *n_ids = 0;
    if (!t || (!bytes && n)) return genc_error(ctx, GENC_EINVAL, "genc_tokenizer_encode: tokenizer or bytes is NULL");
    int32_t *out = malloc((n ? n : 1) * sizeof *out); /* never more ids than bytes */
    if (!out) return genc_error(ctx, GENC_ENOMEM, "tokenizer: out of memory encoding %zu bytes", n);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int which = -1;
        size_t j = allow_special ? i + genc_tok_next_special(bytes + i, n - i, t->tags, &which) : n;
        k += encode_plain(t, bytes + i, j - i, out + k);
        i = j;
        if (which >= 0) {
            out[k++] = GENC_TOK_N_BYTES + which;
            i += strlen(genc_tokenizer_special_names[which]);
        }
    }
    int32_t *shrunk = realloc(out, (k ? k : 1) * sizeof *out);
    *ids = shrunk ? shrunk : out, *n_ids = k;
    return GENC_OK;
}

/* ---- decoding and accessors ---- */

genc_status genc_tokenizer_decode(const genc_tokenizer *t, genc_ctx *ctx, const int32_t *ids, size_t n,
                                  uint8_t **bytes, size_t *n_bytes) {
    *bytes = NULL, *n_bytes = 0;
    if (!t || (!ids && n)) return genc_error(ctx, GENC_EINVAL, "genc_tokenizer_decode: tokenizer or ids is NULL");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab)
            return genc_error(ctx, GENC_EINVAL, "decode: token %zu is id %d, expected 0..%d (the vocabulary size is %d)",
                              i, ids[i], t->vocab - 1, t->vocab);
        total += t->off[ids[i] + 1] - t->off[ids[i]];
    }
    uint8_t *out = malloc(total + 1);
    if (!out) return genc_error(ctx, GENC_ENOMEM, "tokenizer: out of memory decoding %zu tokens", n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = t->off[ids[i] + 1] - t->off[ids[i]];
        memcpy(out + o, t->bytes + t->off[ids[i]], len);
        o += len;
    }
    out[o] = 0;
    *bytes = out, *n_bytes = o;
    return GENC_OK;
}

const uint8_t *genc_tokenizer_token_bytes(const genc_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || id >= t->vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->off[id + 1] - t->off[id];
    return t->bytes + t->off[id];
}

int genc_tokenizer_vocab_size(const genc_tokenizer *t) { return t ? t->vocab : 0; }

genc_pretokenizer genc_tokenizer_pretokenizer(const genc_tokenizer *t) { return t ? t->pretok : GENC_PRETOK_GENC_V1; }

void genc_tokenizer_set_pretokenizer(genc_tokenizer *t, genc_pretokenizer p) {
    if (!t || t->pretok == p) return;
    t->pretok = p;
    genc_tok_strmap_clear(&t->cache);
    t->cache_n = 0;
}

int genc_tokenizer_n_merges(const genc_tokenizer *t) { return t ? t->n_merges : 0; }

bool genc_tokenizer_merge(const genc_tokenizer *t, int32_t id, int32_t *a, int32_t *b) {
    if (!t || id < GENC_TOK_FIRST_MERGE || id >= t->vocab) return false;
    *a = t->merges[2 * (id - GENC_TOK_FIRST_MERGE)], *b = t->merges[2 * (id - GENC_TOK_FIRST_MERGE) + 1];
    return true;
}

void genc_tokenizer_set_tags(genc_tokenizer *t, genc_tags tags) {
    if (t) t->tags = tags == GENC_TAGS_TEXT ? GENC_TAGS_TEXT : GENC_TAGS_SPECIAL;
}

genc_tags genc_tokenizer_tags(const genc_tokenizer *t) { return t ? t->tags : GENC_TAGS_SPECIAL; }

int32_t genc_tokenizer_special(const genc_tokenizer *t, const char *name) {
    for (int k = 0; t && name && k < GENC_TOK_N_SPECIAL; k++)
        if (!strcmp(name, genc_tokenizer_special_names[k])) return GENC_TOK_N_BYTES + k;
    return -1;
}
