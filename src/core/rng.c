/* Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel
 * random numbers: as easy as 1, 2, 3", SC'11). The value at counter i under key `seed`
 * is a pure function of (seed, i), so a parallel loop that draws number i for element i
 * gets the same stream whatever the thread count. */
#include "core/internal.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* One Philox4x32 block: 4 outputs for a 128-bit counter and a 64-bit key, 10 rounds. */
static void philox4x32(const uint32_t ctr_in[4], uint64_t key64, uint32_t out[4]) {
    uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
    uint32_t k0 = (uint32_t)key64, k1 = (uint32_t)(key64 >> 32);
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* Counter i selects block i/4 and lane i%4 (the block is recomputed: simple and cheap). */
uint32_t genc_philox_u32(uint64_t seed, uint64_t i) {
    uint64_t blk = i >> 2;
    uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), 0, 0}, out[4];
    philox4x32(ctr, seed, out);
    return out[i & 3];
}

/* 53-bit uniform in [0,1) from one block's two lanes: draw i uses lanes (0,1) of block i
 * with the third counter word set to 1, a stream disjoint from genc_philox_u32's. */
double genc_philox_uniform(uint64_t seed, uint64_t i) {
    uint32_t ctr[4] = {(uint32_t)i, (uint32_t)(i >> 32), 1, 0}, out[4];
    philox4x32(ctr, seed, out);
    uint64_t bits = ((uint64_t)out[0] << 21) ^ (out[1] >> 11);
    return (double)(bits & ((1ull << 53) - 1)) * 0x1.0p-53;
}

/* Box-Muller on two uniforms of counter i (stream 2), cosine branch. */
double genc_philox_normal(uint64_t seed, uint64_t i) {
    uint32_t ctr[4] = {(uint32_t)i, (uint32_t)(i >> 32), 2, 0}, out[4];
    philox4x32(ctr, seed, out);
    double u1 = ((double)((((uint64_t)out[0] << 21) ^ (out[1] >> 11)) & ((1ull << 53) - 1)) + 1.0) * 0x1.0p-53;
    double u2 = (double)((((uint64_t)out[2] << 21) ^ (out[3] >> 11)) & ((1ull << 53) - 1)) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void genc_rng_seed(genc_ctx *ctx, uint64_t seed) {
    ctx->rng_seed = seed;
    ctx->rng_offset = 0;
}
uint64_t genc_rng_get_seed(const genc_ctx *ctx) { return ctx->rng_seed; }
uint64_t genc_rng_offset(const genc_ctx *ctx) { return ctx->rng_offset; }
void genc_rng_set_offset(genc_ctx *ctx, uint64_t offset) { ctx->rng_offset = offset; }

uint64_t genc_rng_take(genc_ctx *ctx, uint64_t n) {
    uint64_t first = ctx->rng_offset;
    ctx->rng_offset += n;
    return first;
}

double genc_rand_uniform(genc_ctx *ctx) { return genc_philox_uniform(ctx->rng_seed, genc_rng_take(ctx, 1)); }
double genc_rand_normal(genc_ctx *ctx) { return genc_philox_normal(ctx->rng_seed, genc_rng_take(ctx, 1)); }

int64_t genc_rand_categorical(genc_ctx *ctx, const genc_real *p, int64_t n) {
    double total = 0;
    for (int64_t i = 0; i < n; i++) total += p[i] > 0 ? p[i] : 0;
    double u = genc_rand_uniform(ctx) * total;
    if (total <= 0) return -1;
    int64_t last = -1;
    for (int64_t i = 0; i < n; i++) {
        if (p[i] <= 0) continue;
        last = i;
        u -= p[i];
        if (u < 0) return i;
    }
    return last; /* rounding left a sliver: the last positive entry */
}
