/* Where the time of self-speculative decoding (src/lm/speculative.c, MTP depth D) goes, on a
 * trained checkpoint: the cost of each piece of one round against one plain decoding step,
 * after a 64-token context, thread CPU time, best of 10 batches of 300 calls (the machine may be
 * shared; run with one thread):
 *   plain step    genc_lm_decode of 1 token, last logits (what plain decoding runs per token)
 *   verify        genc_lm_decode of D + 1 tokens, every logit and the hidden states
 *   draft k, m    genc_lm_mtp_decode of module k on m slots (m = 1 after a full acceptance,
 *                 2 after a rejection), last logits
 *   probs         genc_sampler_probs over the vocabulary (one per draft and one per check)
 * and the speed-up these costs allow at acceptance a for D = 1: a round yields 1 + a tokens
 * for draft + probs + verify + (1 + a) probs, against plain + probs per plain token.
 *   usage: bench_spec_profile CHECKPOINT [threads (1)] */
#include "genc/lm_infer.h"
#include "genc/tokenizer.h"
#include "genc/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { CTX = 64, REPS = 300, BATCHES = 11 };

/* CPU seconds of this thread: with one thread the work runs here, and CPU time does not count
 * the time other processes on a shared machine take from it. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    genc_ctx *ctx;
    genc_lm *m;
    genc_lm_cache *c;
    int32_t *tok;
    genc_real *lg, *h, *h2, *p;
} bench;

/* Seconds per call of piece `what` (0 plain, 1 verify, 2 draft on 1 slot, 3 draft on 2 slots, 4 probs). */
static double piece(bench *b, int what) {
    double best = 1e30;
    int64_t D = b->m->cfg.mtp_depth;
    genc_sampler s = {.temperature = 1.0, .top_p = 1.0};
    for (int batch = 0; batch < BATCHES; batch++) {
        double t0 = cpu_now();
        for (int r = 0; r < REPS; r++) {
            genc_lm_cache_truncate(b->c, 0, CTX);
            genc_lm_cache_truncate(b->c, 1, CTX - 2);
            if (what == 0) genc_lm_decode(b->ctx, b->m, b->c, b->tok + CTX, 1, b->lg, false, NULL);
            if (what == 1) genc_lm_decode(b->ctx, b->m, b->c, b->tok + CTX, D + 1, b->lg, true, b->h2);
            if (what == 2 || what == 3)
                genc_lm_mtp_decode(b->ctx, b->m, b->c, 1, b->h + (CTX - 2) * b->m->cfg.dim, b->tok + CTX - 1, what - 1,
                                   b->lg, false, b->h2);
            if (what == 4) genc_sampler_probs(b->ctx, &s, b->lg, b->m->cfg.vocab_size, b->p);
            if (what == 5) genc_lm_decode(b->ctx, b->m, b->c, b->tok + CTX, D + 1, b->lg, false, NULL);
            if (what == 6) genc_lm_decode(b->ctx, b->m, b->c, b->tok + CTX, 1, b->lg, true, b->h2);
        }
        double t = (cpu_now() - t0) / REPS;
        best = batch > 0 && t < best ? t : best;
    }
    return best;
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: bench_spec_profile CHECKPOINT [threads]\n"), 2;
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, argc > 2 ? atoi(argv[2]) : 1);
    genc_set_grad_enabled(ctx, false);
    genc_lm m;
    bench b = {.ctx = ctx, .m = &m};
    struct genc_tokenizer *tok = NULL;
    if (genc_lm_load(ctx, argv[1], false, &m, &tok) || m.cfg.mtp_depth < 1 ||
        genc_lm_cache_new(ctx, &m, 1, CTX + 16, true, &b.c)) {
        fprintf(stderr, "bench_spec_profile: %s\n", m.cfg.mtp_depth < 1 ? "no MTP modules" : genc_last_error(ctx));
        return 1;
    }
    int64_t V = m.cfg.vocab_size, d = m.cfg.dim, D = m.cfg.mtp_depth;
    b.tok = malloc((CTX + 16) * sizeof *b.tok);
    b.lg = malloc((size_t)(D + 1) * V * sizeof *b.lg), b.p = malloc((size_t)V * sizeof *b.p);
    b.h = malloc((size_t)(CTX + 16) * d * sizeof *b.h), b.h2 = malloc((size_t)(CTX + 16) * d * sizeof *b.h2);
    for (int i = 0; i < CTX + 16; i++) b.tok[i] = (int32_t)(genc_philox_u32(3, (uint64_t)i) % (uint32_t)V);
    genc_lm_decode(ctx, &m, b.c, b.tok, CTX, NULL, false, b.h); /* the context, and its hidden states */
    genc_lm_mtp_decode(ctx, &m, b.c, 1, b.h, b.tok + 1, CTX - 2, NULL, false, b.h2);
    double plain = piece(&b, 0), verify = piece(&b, 1), d1 = piece(&b, 2), d2 = piece(&b, 3), probs = piece(&b, 4);
    printf("%lld parameters, dim %lld, vocab %lld, MTP depth %lld, %d thread(s), context %d\n",
           (long long)genc_params_numel(&m.params), (long long)d, (long long)V, (long long)D, genc_get_threads(ctx), CTX);
    printf("plain step %.1f us; verify %lld tokens %.1f us (%.2fx); draft on 1 / 2 slots %.1f / %.1f us (%.2fx / %.2fx); "
           "probs %.1f us (%.2fx)\n", 1e6 * plain, (long long)D + 1, 1e6 * verify, verify / plain, 1e6 * d1, 1e6 * d2,
           d1 / plain, d2 / plain, 1e6 * probs, probs / plain);
    printf("pieces: verify without all logits and hidden %.1f us; a plain step with them %.1f us\n", 1e6 * piece(&b, 5),
           1e6 * piece(&b, 6));
    /* Plain decoding pays a step and a softmax per token; a round pays the draft (1 or 2 slots), its
     * softmax, the verification and a softmax per checked position (1 + a on average). */
    double per_token = plain + probs;
    for (int a = 5; a <= 10; a++) {
        double acc = 0.1 * a, round = 0.5 * (d1 + d2) + verify + (2 + acc) * probs;
        printf("acceptance %3d%%: a round costs %.2f plain tokens for %.2f tokens: speed-up at most %.2fx\n", 10 * a,
               round / per_token, 1 + acc, (1 + acc) * per_token / round);
    }
    genc_lm_cache_free(b.c);
    genc_lm_free(&m);
    genc_tokenizer_free(tok);
    free(b.tok), free(b.lg), free(b.p), free(b.h), free(b.h2);
    genc_ctx_free(ctx);
    return 0;
}
