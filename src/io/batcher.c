/* genc batcher: shuffled mini-batch indices, reproducible and resumable. Epoch e's order is
 * a Philox permutation keyed only by (seed, e), so (epoch, pos) is the whole state. */
#include "genc/data.h"

#include <stdlib.h>
#include <string.h>

/* SplitMix64 finaliser: spreads (seed, epoch) over the whole 64-bit key space. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t epoch_key(uint64_t seed, int64_t epoch) {
    return mix64(seed + 0x9e3779b97f4a7c15ULL * ((uint64_t)epoch + 1));
}

/* True when no further batch can start at b->pos in this epoch. */
static bool exhausted(const genc_batcher *b) {
    int64_t left = b->n - b->pos;
    return left <= 0 || (b->drop_last && left < b->batch);
}

static void enter_epoch(genc_batcher *b, int64_t epoch) {
    b->epoch = epoch;
    b->pos = 0;
    genc_data_permutation(b->perm, b->n, epoch_key(b->seed, epoch));
}

genc_status genc_batcher_init(genc_ctx *ctx, genc_batcher *b, int64_t n, int64_t batch,
                              uint64_t seed, bool drop_last) {
    memset(b, 0, sizeof *b);
    if (n <= 0 || batch <= 0 || (drop_last && batch > n))
        return genc_error(ctx, GENC_EINVAL, "batcher: expected n >= 1 and 1 <= batch%s, got "
                          "n=%lld, batch=%lld", drop_last ? " <= n (drop_last)" : "",
                          (long long)n, (long long)batch);
    b->perm = malloc((size_t)n * sizeof *b->perm);
    if (!b->perm)
        return genc_error(ctx, GENC_ENOMEM, "batcher: out of memory for %lld indices",
                          (long long)n);
    b->n = n;
    b->batch = batch;
    b->seed = seed;
    b->drop_last = drop_last;
    enter_epoch(b, 0);
    return GENC_OK;
}

int64_t genc_batcher_next(genc_batcher *b, int64_t *idx) {
    int64_t count = b->n - b->pos < b->batch ? b->n - b->pos : b->batch;
    memcpy(idx, b->perm + b->pos, (size_t)count * sizeof *idx);
    b->pos += count;
    if (exhausted(b))
        enter_epoch(b, b->epoch + 1);
    return count;
}

genc_status genc_batcher_seek(genc_ctx *ctx, genc_batcher *b, int64_t epoch, int64_t pos) {
    if (!b->perm || epoch < 0 || pos < 0 || pos > b->n)
        return genc_error(ctx, GENC_EINVAL, "batcher seek: expected an initialised batcher, "
                          "epoch >= 0 and 0 <= pos <= %lld, got epoch=%lld, pos=%lld",
                          (long long)b->n, (long long)epoch, (long long)pos);
    if (epoch != b->epoch) /* b->perm always holds b->epoch's order */
        enter_epoch(b, epoch);
    b->pos = pos;
    if (exhausted(b))
        enter_epoch(b, epoch + 1);
    return GENC_OK;
}

void genc_batcher_free(genc_batcher *b) {
    if (!b)
        return;
    free(b->perm);
    memset(b, 0, sizeof *b);
}
