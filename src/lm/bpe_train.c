/* BPE training: count pre-tokenised chunks, then merge the most frequent adjacent pair
 * again and again. Pair counts are updated only around each merge's occurrences, found
 * through per-pair lists of the words holding the pair; a max-heap with lazy re-insertion
 * picks the next pair (counts of existing pairs only ever fall, so a popped entry whose
 * count is current is the true maximum). Ties go to the lowest (first id, second id). */
#include "lm/tok_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t count;
    int32_t a, b;
    int32_t head; /* first node of the list of words that hold (or held) the pair; -1: none */
} pair_stat;

typedef struct {
    int32_t word, next;
} word_node;

typedef struct {
    int64_t count;
    int32_t pair;
} heap_entry;

typedef struct {
    genc_ctx *ctx;
    /* words: the distinct chunks of two or more bytes, as token sequences */
    int32_t *sym;
    size_t *woff;
    int32_t *wlen, *stamp;
    int64_t *wfreq;
    int n_words;
    /* pairs */
    genc_tok_pairmap index; /* (a, b) -> index into pairs */
    pair_stat *pairs;
    int n_pairs;
    size_t cap_pairs;
    word_node *nodes;
    size_t n_nodes, cap_nodes;
    heap_entry *heap;
    size_t n_heap, cap_heap;
    int32_t *fresh; /* pairs created by the current merge, to push afterwards */
    int n_fresh;
    size_t cap_fresh;
    bool oom;
} trainer;

/* p grown to hold need elements (doubling); on failure p unchanged and tr->oom set. */
static void *grow(trainer *tr, void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(p, c * elem);
    if (!q) {
        tr->oom = true;
        return p;
    }
    *cap = c;
    return q;
}
#define GROW(tr, arr, cap, need) ((arr) = grow((tr), (arr), &(cap), (need), sizeof *(arr)), !(tr)->oom)

/* ---- heap ---- */

static bool heap_before(const trainer *tr, heap_entry x, heap_entry y) {
    if (x.count != y.count) return x.count > y.count;
    const pair_stat *p = &tr->pairs[x.pair], *q = &tr->pairs[y.pair];
    return p->a != q->a ? p->a < q->a : p->b < q->b;
}

static void heap_push(trainer *tr, int32_t pair) {
    if (tr->pairs[pair].count <= 0 || !GROW(tr, tr->heap, tr->cap_heap, tr->n_heap + 1)) return;
    size_t i = tr->n_heap++;
    heap_entry e = {tr->pairs[pair].count, pair};
    while (i > 0 && heap_before(tr, e, tr->heap[(i - 1) / 2])) {
        tr->heap[i] = tr->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    tr->heap[i] = e;
}

static heap_entry heap_pop(trainer *tr) {
    heap_entry top = tr->heap[0], last = tr->heap[--tr->n_heap];
    size_t i = 0, n = tr->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(tr, tr->heap[c + 1], tr->heap[c])) c++;
        if (!heap_before(tr, tr->heap[c], last)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (n) tr->heap[i] = last;
    return top;
}

/* The most frequent live pair, or -1 when none is left. */
static int32_t best_pair(trainer *tr) {
    while (tr->n_heap) {
        heap_entry e = heap_pop(tr);
        int64_t now = tr->pairs[e.pair].count;
        if (now == e.count && now > 0) return e.pair;
        heap_push(tr, e.pair); /* stale: counts only fall, so re-queue with the current one */
    }
    return -1;
}

/* ---- pair counts ---- */

/* Index of pair (a, b), created with count 0 (and noted in fresh) when absent; -1 when out
 * of memory. */
static int32_t pair_at(trainer *tr, int32_t a, int32_t b) {
    int32_t *slot = genc_tok_pairmap_put(&tr->index, GENC_TOK_PAIR(a, b));
    if (!slot) tr->oom = true;
    if (!slot || *slot >= 0) return slot ? *slot : -1;
    if (!GROW(tr, tr->pairs, tr->cap_pairs, (size_t)tr->n_pairs + 1) ||
        !GROW(tr, tr->fresh, tr->cap_fresh, (size_t)tr->n_fresh + 1))
        return -1;
    tr->pairs[tr->n_pairs] = (pair_stat){.count = 0, .a = a, .b = b, .head = -1};
    tr->fresh[tr->n_fresh++] = tr->n_pairs;
    *slot = tr->n_pairs;
    return tr->n_pairs++;
}

/* count(a, b) += delta; a rise also lists word w under the pair. */
static void add_pair(trainer *tr, int32_t a, int32_t b, int32_t w, int64_t delta) {
    int32_t p = pair_at(tr, a, b);
    if (p < 0) return;
    tr->pairs[p].count += delta;
    int32_t head = tr->pairs[p].head;
    if (delta <= 0 || (head >= 0 && tr->nodes[head].word == w)) return;
    if (!GROW(tr, tr->nodes, tr->cap_nodes, tr->n_nodes + 1)) return;
    tr->nodes[tr->n_nodes] = (word_node){.word = w, .next = head};
    tr->pairs[p].head = (int32_t)tr->n_nodes++;
}

static void push_fresh(trainer *tr) {
    for (int i = 0; i < tr->n_fresh; i++) heap_push(tr, tr->fresh[i]);
    tr->n_fresh = 0;
}

/* Replace every (a, b) in word w, left to right, by id, moving the counts of the pairs
 * around each occurrence: the left neighbour is read from the output (it may be an id
 * just made), the right one from the input. */
static void merge_word(trainer *tr, int32_t w, int32_t a, int32_t b, int32_t id) {
    int32_t *t = tr->sym + tr->woff[w];
    int n = tr->wlen[w], j = 0;
    int64_t f = tr->wfreq[w];
    for (int i = 0; i < n;) {
        if (i + 1 < n && t[i] == a && t[i + 1] == b) {
            if (j > 0) add_pair(tr, t[j - 1], a, w, -f), add_pair(tr, t[j - 1], id, w, f);
            if (i + 2 < n) add_pair(tr, b, t[i + 2], w, -f), add_pair(tr, id, t[i + 2], w, f);
            t[j++] = id;
            i += 2;
        } else {
            t[j++] = t[i++];
        }
    }
    tr->wlen[w] = j;
}

/* Merge number m: pair p becomes token 263 + m in every word that holds it. */
static void apply_merge(trainer *tr, int32_t p, int m) {
    int32_t a = tr->pairs[p].a, b = tr->pairs[p].b;
    for (int32_t nd = tr->pairs[p].head; nd >= 0 && !tr->oom; nd = tr->nodes[nd].next) {
        int32_t w = tr->nodes[nd].word;
        if (tr->stamp[w] == m + 1) continue; /* listed twice */
        tr->stamp[w] = m + 1;
        merge_word(tr, w, a, b, GENC_TOK_FIRST_MERGE + m);
    }
    tr->pairs[p].count = 0, tr->pairs[p].head = -1;
    push_fresh(tr);
}

/* ---- chunks, words and the merge loop ---- */

/* Count the chunks of s[0..n); special token strings are boundaries. False when out of memory. */
static bool count_chunks(genc_tok_strmap *m, genc_pretokenizer p, genc_tags tags, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int which = -1;
        size_t end = i + genc_tok_next_special(s + i, n - i, tags, &which);
        while (i < end) {
            size_t len = genc_tok_chunk(p, s + i, end - i);
            bool added;
            genc_tok_strslot *e = genc_tok_strmap_put(m, s + i, len, genc_tok_hash(s + i, len), &added);
            if (!e) return false;
            e->val++;
            i += len;
        }
        if (which >= 0) i += strlen(genc_tokenizer_special_names[which]);
    }
    return true;
}

/* Words from the distinct chunks of two or more bytes, and their pair counts. */
static bool setup_words(trainer *tr, const genc_tok_strmap *m) {
    tr->sym = malloc((m->arena_n + 1) * sizeof *tr->sym);
    tr->woff = malloc((m->n + 1) * sizeof *tr->woff);
    tr->wlen = malloc((m->n + 1) * sizeof *tr->wlen);
    tr->wfreq = malloc((m->n + 1) * sizeof *tr->wfreq);
    tr->stamp = calloc(m->n + 1, sizeof *tr->stamp);
    if (!tr->sym || !tr->woff || !tr->wlen || !tr->wfreq || !tr->stamp) return false;
    size_t o = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const genc_tok_strslot *e = &m->slots[i];
        if (e->len < 2) continue;
        int w = tr->n_words++;
        tr->woff[w] = o, tr->wlen[w] = (int32_t)e->len, tr->wfreq[w] = e->val;
        for (uint32_t k = 0; k < e->len; k++) tr->sym[o + k] = m->arena[e->off + k];
        for (uint32_t k = 0; k + 1 < e->len; k++) add_pair(tr, tr->sym[o + k], tr->sym[o + k + 1], w, e->val);
        o += e->len;
    }
    push_fresh(tr);
    return !tr->oom;
}

static void trainer_free(trainer *tr) {
    free(tr->sym), free(tr->woff), free(tr->wlen), free(tr->wfreq), free(tr->stamp);
    free(tr->pairs), free(tr->nodes), free(tr->heap), free(tr->fresh);
    genc_tok_pairmap_free(&tr->index);
}

/* Learn up to vocab_size - 263 merges from the chunk counts. */
static genc_status learn(genc_ctx *ctx, const genc_tok_strmap *m, int vocab_size, genc_pretokenizer pretok,
                         genc_tokenizer **out) {
    trainer tr = {.ctx = ctx};
    int want = vocab_size - GENC_TOK_FIRST_MERGE, n = 0;
    int32_t *merges = malloc(2 * (size_t)want * sizeof *merges + 1);
    genc_status s = GENC_OK;
    if (!merges || !setup_words(&tr, m)) s = genc_error(ctx, GENC_ENOMEM, "tokenizer training: out of memory");
    for (; !s && n < want; n++) {
        int32_t p = best_pair(&tr);
        if (p < 0) break;
        merges[2 * n] = tr.pairs[p].a, merges[2 * n + 1] = tr.pairs[p].b;
        apply_merge(&tr, p, n);
        if (tr.oom) s = genc_error(ctx, GENC_ENOMEM, "tokenizer training: out of memory after %d merges", n);
    }
    trainer_free(&tr);
    if (!s) s = genc_tok_build(ctx, merges, n, "tokenizer training", out);
    if (!s) genc_tokenizer_set_pretokenizer(*out, pretok);
    free(merges);
    return s;
}

static genc_status check_vocab(genc_ctx *ctx, int vocab_size) {
    if (vocab_size < GENC_TOK_FIRST_MERGE || vocab_size > GENC_TOK_MAX_VOCAB)
        return genc_error(ctx, GENC_EINVAL, "tokenizer: vocab size must be in [%d, %d] (256 bytes + %d special tokens "
                          "+ merges), found %d", GENC_TOK_FIRST_MERGE, GENC_TOK_MAX_VOCAB, GENC_TOK_N_SPECIAL,
                          vocab_size);
    return GENC_OK;
}

genc_status genc_tokenizer_train_memory(genc_ctx *ctx, const uint8_t *text, size_t n, int vocab_size,
                                        genc_tokenizer **out) {
    return genc_tokenizer_train_memory_with(ctx, text, n, vocab_size, GENC_PRETOK_DEFAULT, GENC_TAGS_SPECIAL, out);
}

genc_status genc_tokenizer_train_memory_with(genc_ctx *ctx, const uint8_t *text, size_t n, int vocab_size,
                                             genc_pretokenizer pretok, genc_tags tags, genc_tokenizer **out) {
    *out = NULL;
    genc_status s = check_vocab(ctx, vocab_size);
    if (s) return s;
    if (!text && n) return genc_error(ctx, GENC_EINVAL, "genc_tokenizer_train_memory: text is NULL");
    genc_tok_strmap m = {0};
    if (!count_chunks(&m, pretok, tags, text, n)) s = genc_error(ctx, GENC_ENOMEM, "tokenizer training: out of memory");
    if (!s) s = learn(ctx, &m, vocab_size, pretok, out);
    if (!s) genc_tokenizer_set_tags(*out, tags);
    genc_tok_strmap_free(&m);
    return s;
}

/* Read a whole text file into *buf: a regular file of at most GENC_TEXT_MAX_BYTES. */
static genc_status read_all(genc_ctx *ctx, const char *path, uint8_t **buf, size_t *n) {
    return genc_file_read_all(ctx, path, GENC_TEXT_MAX_BYTES, buf, n);
}

genc_status genc_tokenizer_train(genc_ctx *ctx, const char *const *files, int n_files, int vocab_size,
                                 genc_tokenizer **out) {
    return genc_tokenizer_train_with(ctx, files, n_files, vocab_size, GENC_PRETOK_DEFAULT, GENC_TAGS_SPECIAL, out);
}

genc_status genc_tokenizer_train_with(genc_ctx *ctx, const char *const *files, int n_files, int vocab_size,
                                      genc_pretokenizer pretok, genc_tags tags, genc_tokenizer **out) {
    *out = NULL;
    genc_status s = check_vocab(ctx, vocab_size);
    if (s) return s;
    if (!files || n_files < 1) return genc_error(ctx, GENC_EINVAL, "tokenizer training: expected at least one file");
    genc_tok_strmap m = {0};
    for (int i = 0; i < n_files && !s; i++) {
        uint8_t *buf;
        size_t n;
        s = read_all(ctx, files[i], &buf, &n);
        if (!s && !count_chunks(&m, pretok, tags, buf, n))
            s = genc_error(ctx, GENC_ENOMEM, "%s: out of memory counting chunks", files[i]);
        free(buf);
    }
    if (!s) s = learn(ctx, &m, vocab_size, pretok, out);
    if (!s) genc_tokenizer_set_tags(*out, tags);
    genc_tok_strmap_free(&m);
    return s;
}
