/* The tokenizer's hash maps: pair -> int32 (merge ranks, training pair indices) and byte
 * string -> int64 (training chunk counts, the encoder's chunk cache). Open addressing with
 * linear probing, power-of-two tables kept at most half full. */
#include "lm/tok_internal.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY_KEY UINT64_MAX
#define MIX 0x9E3779B97F4A7C15ull

static size_t pair_slot(uint64_t key, size_t cap) {
    uint64_t h = key * MIX;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

int32_t genc_tok_pairmap_get(const genc_tok_pairmap *m, uint64_t key) {
    if (!m->cap) return -1;
    for (size_t i = pair_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) return m->vals[i];
        if (m->keys[i] == EMPTY_KEY) return -1;
    }
}

static bool pairmap_grow(genc_tok_pairmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = malloc(cap * sizeof *keys);
    int32_t *vals = malloc(cap * sizeof *vals);
    if (!keys || !vals) {
        free(keys), free(vals);
        return false;
    }
    memset(keys, 0xff, cap * sizeof *keys);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == EMPTY_KEY) continue;
        size_t j = pair_slot(m->keys[i], cap);
        while (keys[j] != EMPTY_KEY) j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i], vals[j] = m->vals[i];
    }
    free(m->keys), free(m->vals);
    m->keys = keys, m->vals = vals, m->cap = cap;
    return true;
}

int32_t *genc_tok_pairmap_put(genc_tok_pairmap *m, uint64_t key) {
    if (2 * (m->n + 1) > m->cap && !pairmap_grow(m)) return NULL;
    size_t i = pair_slot(key, m->cap);
    while (m->keys[i] != key && m->keys[i] != EMPTY_KEY) i = (i + 1) & (m->cap - 1);
    if (m->keys[i] == EMPTY_KEY) {
        m->keys[i] = key, m->vals[i] = -1;
        m->n++;
    }
    return &m->vals[i];
}

void genc_tok_pairmap_free(genc_tok_pairmap *m) {
    free(m->keys), free(m->vals);
    memset(m, 0, sizeof *m);
}

/* 8 bytes at a time, multiply-xorshift; deterministic (no seed), which is fine for maps
 * whose iteration order never reaches an output. */
uint64_t genc_tok_hash(const uint8_t *s, size_t n) {
    uint64_t h = 0x243F6A8885A308D3ull ^ (n * MIX);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * MIX;
        h ^= h >> 31;
    }
    uint64_t w = 0;
    for (size_t k = 0; i + k < n; k++) w |= (uint64_t)s[i + k] << (8 * k);
    h = (h ^ w) * MIX;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

static bool slot_is(const genc_tok_strmap *m, const genc_tok_strslot *e, const uint8_t *s, size_t n, uint64_t h) {
    return e->hash == h && e->len == n && !memcmp(m->arena + e->off, s, n);
}

genc_tok_strslot *genc_tok_strmap_get(const genc_tok_strmap *m, const uint8_t *s, size_t n, uint64_t h) {
    if (!m->cap) return NULL;
    for (size_t i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        genc_tok_strslot *e = &m->slots[i];
        if (!e->len) return NULL;
        if (slot_is(m, e, s, n, h)) return e;
    }
}

static bool strmap_grow(genc_tok_strmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 4096;
    genc_tok_strslot *slots = calloc(cap, sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].len) continue;
        size_t j = (size_t)m->slots[i].hash & (cap - 1);
        while (slots[j].len) j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots, m->cap = cap;
    return true;
}

static bool arena_reserve(genc_tok_strmap *m, size_t n) {
    if (m->arena_n + n <= m->arena_cap) return true;
    size_t cap = m->arena_cap ? m->arena_cap : 1 << 16;
    while (cap < m->arena_n + n) cap *= 2;
    uint8_t *a = realloc(m->arena, cap);
    if (!a) return false;
    m->arena = a, m->arena_cap = cap;
    return true;
}

genc_tok_strslot *genc_tok_strmap_put(genc_tok_strmap *m, const uint8_t *s, size_t n, uint64_t h, bool *added) {
    *added = false;
    genc_tok_strslot *e = genc_tok_strmap_get(m, s, n, h);
    if (e) return e;
    if ((2 * (m->n + 1) > m->cap && !strmap_grow(m)) || !arena_reserve(m, n)) return NULL;
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slots[i].len) i = (i + 1) & (m->cap - 1);
    e = &m->slots[i];
    memcpy(m->arena + m->arena_n, s, n);
    *e = (genc_tok_strslot){.hash = h, .off = m->arena_n, .len = (uint32_t)n, .val = 0};
    m->arena_n += n;
    m->n++;
    *added = true;
    return e;
}

void genc_tok_strmap_clear(genc_tok_strmap *m) {
    if (m->slots) memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->n = 0, m->arena_n = 0;
}

void genc_tok_strmap_free(genc_tok_strmap *m) {
    free(m->slots), free(m->arena);
    memset(m, 0, sizeof *m);
}
