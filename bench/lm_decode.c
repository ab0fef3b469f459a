/* Decode speed of the latent-cache (absorbed MLA) decoder against naive recomputation of
 * the whole sequence at every step (genc_lm_logits), greedy, for a preset model with
 * random weights; the KV-cache bytes per token (latent c_kv + k_pe against multi-head K
 * and V); and the cost of a (D + 1)-token verification forward relative to a one-token
 * step, which bounds what self-speculative decoding can gain.
 *   usage: bench_lm_decode [preset (small)] [new tokens (128)] [threads (0: all)] */
#include "genc/lm_infer.h"
#include "genc/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PROMPT = 16 };

static int32_t argmax(const genc_real *l, int64_t V) {
    int64_t b = 0;
    for (int64_t i = 1; i < V; i++) b = l[i] > l[b] ? i : b;
    return (int32_t)b;
}

/* Greedy with the cache: prefill, then one token per step. Returns seconds of the steps. */
static double cached(genc_ctx *ctx, genc_lm *m, int32_t *seq, int64_t n_new) {
    int64_t V = m->cfg.vocab_size;
    genc_real *lg = malloc((size_t)V * sizeof *lg);
    genc_lm_cache *c;
    if (genc_lm_cache_new(ctx, m, 1, PROMPT + n_new, false, &c) || genc_lm_decode(ctx, m, c, seq, PROMPT, lg, false, NULL))
        return -1;
    double t0 = genc_now();
    for (int64_t i = 0; i < n_new; i++) {
        seq[PROMPT + i] = argmax(lg, V);
        if (i + 1 < n_new && genc_lm_decode(ctx, m, c, seq + PROMPT + i, 1, lg, false, NULL)) return -1;
    }
    double dt = genc_now() - t0;
    genc_lm_cache_free(c);
    free(lg);
    return dt;
}

/* Greedy by recomputing the whole sequence each step. */
static double naive(genc_ctx *ctx, genc_lm *m, int32_t *seq, int64_t n_new) {
    int64_t V = m->cfg.vocab_size;
    double t0 = genc_now();
    for (int64_t i = 0; i < n_new; i++) {
        genc_tensor *y = genc_lm_logits(ctx, m, seq, 1, PROMPT + i);
        if (!y) return -1;
        seq[PROMPT + i] = argmax(y->data + (PROMPT + i - 1) * V, V);
        genc_step_reset(ctx);
    }
    return genc_now() - t0;
}

/* Seconds per call of a k-token chunk after a 64-token context: the best of 5 batches of
 * reps calls, after a warm-up batch (the machine may be shared). */
static double chunk_cost(genc_ctx *ctx, genc_lm *m, const int32_t *seq, int64_t k, int reps) {
    genc_lm_cache *c;
    if (genc_lm_cache_new(ctx, m, 1, 64 + k, false, &c) || genc_lm_decode(ctx, m, c, seq, 64, NULL, false, NULL)) return -1;
    genc_real *lg = malloc((size_t)(k * m->cfg.vocab_size) * sizeof *lg);
    double dt = 1e30;
    for (int batch = 0; batch < 6; batch++) {
        double t0 = genc_now();
        for (int r = 0; r < reps; r++) {
            genc_lm_cache_truncate(c, 0, 64);
            genc_lm_decode(ctx, m, c, seq + 64, k, lg, true, NULL);
        }
        double t = (genc_now() - t0) / reps;
        dt = batch > 0 && t < dt ? t : dt;
    }
    genc_lm_cache_free(c);
    free(lg);
    return dt;
}

int main(int argc, char **argv) {
    const char *preset = argc > 1 ? argv[1] : "small";
    int64_t n_new = argc > 2 ? atoll(argv[2]) : 128;
    genc_ctx *ctx = genc_ctx_new();
    genc_lm m;
    genc_lm_config cfg;
    genc_set_threads(ctx, argc > 3 ? atoi(argv[3]) : 0);
    genc_set_grad_enabled(ctx, false);
    if (n_new < 1 || genc_lm_preset(ctx, preset, &cfg) || (PROMPT + n_new + 8 > cfg.max_seq && (n_new = cfg.max_seq - PROMPT - 8) < 1) ||
        genc_lm_init(ctx, &m, &cfg, 0.05)) {
        fprintf(stderr, "bench_lm_decode: %s\n", genc_last_error(ctx));
        return 1;
    }
    int64_t n_ids = PROMPT + n_new + 72; /* chunk_cost reads 68 */
    int32_t *a = malloc((size_t)n_ids * sizeof *a), *b = malloc((size_t)n_ids * sizeof *b);
    for (int64_t i = 0; i < n_ids; i++) a[i] = b[i] = (int32_t)(genc_philox_u32(9, (uint64_t)i) % (uint32_t)cfg.vocab_size);
    double tc = cached(ctx, &m, a, n_new), tn = naive(ctx, &m, b, n_new);
    int same = !memcmp(a, b, (size_t)(PROMPT + n_new) * sizeof *a);
    printf("preset %s: %lld parameters, %d threads, prompt %d + %lld greedy tokens\n", preset,
           (long long)genc_params_numel(&m.params), genc_get_threads(ctx), PROMPT, (long long)n_new);
    printf("latent cache:  %8.1f tokens/s\n", (double)n_new / tc);
    printf("recompute all: %8.1f tokens/s   (cache speed-up %.1fx; same tokens: %s)\n", (double)n_new / tn, tn / tc,
           same ? "yes" : "NO");
    int64_t lat = genc_lm_cache_bytes_per_token(&m), mha = genc_lm_mha_cache_bytes_per_token(&m);
    printf("cache bytes per token: latent %lld vs multi-head K/V %lld (%.1fx smaller)\n", (long long)lat, (long long)mha,
           (double)mha / (double)lat);
    if (64 + 8 <= cfg.max_seq) {
        double c1 = chunk_cost(ctx, &m, a, 1, 20), c2 = chunk_cost(ctx, &m, a, 2, 20), c4 = chunk_cost(ctx, &m, a, 4, 20);
        printf("forward of k tokens vs 1 (speculative verification cost): k=2 %.2fx, k=4 %.2fx\n", c2 / c1, c4 / c1);
    }
    genc_lm_free(&m);
    free(a), free(b);
    genc_ctx_free(ctx);
    return same ? 0 : 1;
}
