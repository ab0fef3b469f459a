/* bench_nice: NICE training and sampling throughput in genc, the C half of the genc-vs-PyTorch
 * comparison (bench/nice.py runs this and the same network in PyTorch, and prints the ratio).
 *
 * Model: the paper's MNIST NICE (784 pixels, 4 additive couplings of 5 x 1000 ReLU, diagonal
 * scaling, logistic prior; 19.2M parameters) unless --hidden/--layers say otherwise. Training
 * step on a batch of 200 fixed dequantised random images: zero_grad, log p(x), loss = -mean,
 * backward, Adam (lr 1e-3, betas 0.9/0.99, eps 1e-4, no weight decay), step-arena reset.
 * Sampling: 200 latents from the logistic prior, inverted (no gradients).
 *
 * Timing: --warmup steps untimed, then --blocks blocks of --steps steps; prints the median
 * block and lines "RESULT genc train_images_per_s=X" and "RESULT genc sample_images_per_s=Y".
 *
 * usage: bench_nice [--threads 2] [--steps 5] [--blocks 3] [--warmup 2] [--hidden 1000] [--layers 5] */
#include "bench_util.h"
#include "genc/flow.h"
#include "genc/genc.h"
#include "genc/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 200

static double train_block(genc_ctx *ctx, genc_nice *m, genc_optim *o, genc_real *xs, int n) {
    int64_t shape[2] = {BATCH, m->dim};
    double t0 = genc_now();
    for (int s = 0; s < n; s++) {
        genc_zero_grad(&m->params);
        genc_tensor *lp = genc_nice_log_prob(ctx, m, genc_tensor_wrap(ctx, xs, 2, shape), NULL);
        genc_tensor *loss = genc_scale(ctx, genc_mean_all(ctx, lp), -1.0);
        if (!loss || genc_backward(ctx, loss)) return -1;
        genc_optim_step(o, 1e-3);
        genc_step_reset(ctx);
    }
    return (double)n * BATCH / (genc_now() - t0);
}

static double sample_block(genc_ctx *ctx, genc_nice *m, float *out, int n) {
    double t0 = genc_now();
    for (int s = 0; s < n; s++)
        if (genc_nice_sample(ctx, m, BATCH, 1.0, (uint64_t)s, out)) return -1;
    return (double)n * BATCH / (genc_now() - t0);
}

int main(int argc, char **argv) {
    int threads = 2, steps = 5, blocks = 3, warmup = 2, hidden = 1000, layers = 5;
    for (int i = 1; i < argc; i++) {
        int *dst = NULL;
        if (i + 1 < argc && !strcmp(argv[i], "--threads")) dst = &threads;
        else if (i + 1 < argc && !strcmp(argv[i], "--steps")) dst = &steps;
        else if (i + 1 < argc && !strcmp(argv[i], "--blocks")) dst = &blocks;
        else if (i + 1 < argc && !strcmp(argv[i], "--warmup")) dst = &warmup;
        else if (i + 1 < argc && !strcmp(argv[i], "--hidden")) dst = &hidden;
        else if (i + 1 < argc && !strcmp(argv[i], "--layers")) dst = &layers;
        if (!dst) return fprintf(stderr, "usage: bench_nice [--threads 2] [--steps 5] [--blocks 3] [--warmup 2] "
                                         "[--hidden 1000] [--layers 5]\n"), 2;
        *dst = atoi(argv[++i]);
    }
    if (threads < 1 || steps < 1 || blocks < 1 || blocks > 100 || warmup < 0 || hidden < 1 || layers < 0)
        return fprintf(stderr, "bench_nice: bad arguments\n"), 2;
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, threads);
    genc_rng_seed(ctx, 1234);
    genc_nice_config c = genc_nice_defaults();
    c.hidden = hidden, c.layers = layers;
    genc_nice m;
    genc_optim o;
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.beta2 = 0.99, oc.eps = 1e-4, oc.weight_decay = 0;
    if (genc_nice_init(ctx, &m, &c) || genc_optim_init(ctx, &o, &m.params, &oc))
        return fprintf(stderr, "bench_nice: %s\n", genc_last_error(ctx)), 1;
    genc_real *xs = malloc(sizeof *xs * BATCH * 784);
    float *out = malloc(sizeof *out * BATCH * 784);
    for (int i = 0; i < BATCH * 784; i++) xs[i] = (genc_real)genc_philox_uniform(99, (uint64_t)i);
    double tr[100], sa[100];
    if (train_block(ctx, &m, &o, xs, warmup) < 0 || sample_block(ctx, &m, out, warmup) < 0)
        return fprintf(stderr, "bench_nice: %s\n", genc_last_error(ctx)), 1;
    for (int b = 0; b < blocks; b++) tr[b] = train_block(ctx, &m, &o, xs, steps);
    for (int b = 0; b < blocks; b++) sa[b] = sample_block(ctx, &m, out, steps);
    printf("genc NICE (%lld parameters), threads %d, batch %d\n", (long long)genc_params_numel(&m.params), threads,
           BATCH);
    double mt = bench_median(tr, blocks), ms = bench_median(sa, blocks);
    printf("RESULT genc train_images_per_s=%.1f\nRESULT genc sample_images_per_s=%.1f\n", mt, ms);
    free(xs), free(out);
    genc_optim_free(&o);
    genc_nice_free(&m);
    genc_ctx_free(ctx);
    return 0;
}
