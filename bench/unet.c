/* bench_unet: diffusion U-Net training and sampling throughput in genc, the C half of the
 * genc-vs-PyTorch comparison (bench/unet.py runs this and the same network in PyTorch, and prints
 * the ratio).
 *
 * Model: genc_unet_defaults() (28x28x1, base 32, mult 1-2-2, 2 residual blocks per level,
 * attention with 4 heads at 7x7, dropout 0.1) with 10 classes unless --classes, --base or
 * --res-blocks say otherwise.
 * Training step on a batch of --batch (64) fixed random images, times and labels: zero_grad,
 * forward, loss = mean((out - eps)^2), backward, AdamW (lr 2e-4), step-arena reset. Sampling: one
 * network evaluation of a batch of --sample-batch (256) without gradients (one step of any
 * sampler; images/s per network evaluation).
 *
 * Timing: --warmup steps untimed, then --blocks blocks of --steps steps; prints the mean forward
 * and backward time of a training step, the median block and lines "RESULT genc train_images_per_s=X" and "RESULT genc sample_images_per_s=Y".
 *
 * usage: bench_unet [--threads 2] [--steps 3] [--blocks 3] [--warmup 1] [--batch 64]
 *                   [--sample-batch 256] [--classes 10] [--base 32] [--res-blocks 2] */
#include "bench_util.h"
#include "genc/genc.h"
#include "genc/ops.h"
#include "genc/train.h"
#include "genc/unet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int threads, steps, blocks, warmup, batch, sample_batch, classes, base, res_blocks;
} bench_args;

static double fwd_s, bwd_s; /* training-step time in forward and in backward + optimiser, summed */

typedef struct {
    genc_real *x, *eps;
    float *t;
    int32_t *labels;
} bench_data;

static double train_block(genc_ctx *ctx, genc_unet *m, genc_optim *o, const bench_data *d, int B, int n) {
    int64_t D = (int64_t)m->cfg.channels * m->cfg.rows * m->cfg.cols, shape[2] = {B, D};
    double t0 = genc_now();
    for (int s = 0; s < n; s++) {
        double t1 = genc_now();
        genc_zero_grad(&m->params);
        genc_tensor *y = genc_unet_forward(ctx, m, genc_tensor_wrap(ctx, d->x, 2, shape), d->t,
                                           m->cfg.classes ? d->labels : NULL);
        genc_tensor *loss = genc_mean_all(ctx, genc_square(ctx, genc_sub(ctx, y, genc_tensor_wrap(ctx, d->eps, 2, shape))));
        double t2 = genc_now();
        if (!loss || genc_backward(ctx, loss)) return -1;
        genc_optim_step(o, 2e-4);
        genc_step_reset(ctx);
        fwd_s += t2 - t1, bwd_s += genc_now() - t2;
    }
    return (double)n * B / (genc_now() - t0);
}

static double sample_block(genc_ctx *ctx, genc_unet *m, const bench_data *d, int B, int n) {
    int64_t D = (int64_t)m->cfg.channels * m->cfg.rows * m->cfg.cols, shape[2] = {B, D};
    bool old = genc_set_grad_enabled(ctx, false);
    double t0 = genc_now();
    for (int s = 0; s < n; s++) {
        genc_tensor *y = genc_unet_forward(ctx, m, genc_tensor_wrap(ctx, d->x, 2, shape), d->t,
                                           m->cfg.classes ? d->labels : NULL);
        if (!y) return -1;
        genc_step_reset(ctx);
    }
    genc_set_grad_enabled(ctx, old);
    return (double)n * B / (genc_now() - t0);
}

static int parse(int argc, char **argv, bench_args *a) {
    *a = (bench_args){.threads = 2, .steps = 3, .blocks = 3, .warmup = 1, .batch = 64, .sample_batch = 256,
                      .classes = 10, .base = 32, .res_blocks = 2};
    for (int i = 1; i < argc; i++) {
        int *dst = NULL;
        if (i + 1 < argc && !strcmp(argv[i], "--threads")) dst = &a->threads;
        else if (i + 1 < argc && !strcmp(argv[i], "--steps")) dst = &a->steps;
        else if (i + 1 < argc && !strcmp(argv[i], "--blocks")) dst = &a->blocks;
        else if (i + 1 < argc && !strcmp(argv[i], "--warmup")) dst = &a->warmup;
        else if (i + 1 < argc && !strcmp(argv[i], "--batch")) dst = &a->batch;
        else if (i + 1 < argc && !strcmp(argv[i], "--sample-batch")) dst = &a->sample_batch;
        else if (i + 1 < argc && !strcmp(argv[i], "--classes")) dst = &a->classes;
        else if (i + 1 < argc && !strcmp(argv[i], "--base")) dst = &a->base;
        else if (i + 1 < argc && !strcmp(argv[i], "--res-blocks")) dst = &a->res_blocks;
        if (!dst) return 0;
        *dst = atoi(argv[++i]);
    }
    return a->threads >= 1 && a->steps >= 1 && a->blocks >= 1 && a->blocks <= 100 && a->warmup >= 0 && a->batch >= 1 &&
           a->sample_batch >= 1 && a->classes >= 0;
}

int main(int argc, char **argv) {
    bench_args a;
    if (!parse(argc, argv, &a))
        return fprintf(stderr, "usage: bench_unet [--threads 2] [--steps 3] [--blocks 3] [--warmup 1] [--batch 64] "
                               "[--sample-batch 256] [--classes 10] [--base 32] [--res-blocks 2]\n"), 2;
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, a.threads);
    genc_rng_seed(ctx, 1234);
    genc_unet_config c = genc_unet_defaults();
    c.classes = a.classes, c.base = a.base, c.res_blocks = a.res_blocks;
    genc_unet m;
    genc_optim o;
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    if (genc_unet_init(ctx, &m, &c) || genc_optim_init(ctx, &o, &m.params, &oc))
        return fprintf(stderr, "bench_unet: %s\n", genc_last_error(ctx)), 1;
    int nb = a.batch > a.sample_batch ? a.batch : a.sample_batch;
    int64_t D = (int64_t)c.channels * c.rows * c.cols;
    bench_data d = {malloc(sizeof *d.x * nb * D), malloc(sizeof *d.eps * nb * D), malloc(sizeof *d.t * nb),
                    malloc(sizeof *d.labels * nb)};
    for (int64_t i = 0; i < nb * D; i++) {
        d.x[i] = (genc_real)genc_philox_normal(99, (uint64_t)i);
        d.eps[i] = (genc_real)genc_philox_normal(98, (uint64_t)i);
    }
    for (int i = 0; i < nb; i++) d.t[i] = (float)(i * 37 % 1000), d.labels[i] = i % (c.classes + 1);
    double tr[100], sa[100];
    if (train_block(ctx, &m, &o, &d, a.batch, a.warmup) < 0 || sample_block(ctx, &m, &d, a.sample_batch, a.warmup) < 0)
        return fprintf(stderr, "bench_unet: %s\n", genc_last_error(ctx)), 1;
    fwd_s = bwd_s = 0;
    double c0 = bench_cpu_now(), w0 = genc_now();
    for (int b = 0; b < a.blocks; b++) tr[b] = train_block(ctx, &m, &o, &d, a.batch, a.steps);
    double steps = (double)a.blocks * a.steps, ctr = bench_cpu_now() - c0, wtr = genc_now() - w0;
    printf("training step (batch %d): forward %.0f ms, backward + AdamW %.0f ms (means); %.2f CPU-s per step, "
           "cpu %.0f%%\n", a.batch, 1e3 * fwd_s / steps, 1e3 * bwd_s / steps, ctr / steps, 100 * ctr / (wtr * a.threads));
    c0 = bench_cpu_now(), w0 = genc_now();
    for (int b = 0; b < a.blocks; b++) sa[b] = sample_block(ctx, &m, &d, a.sample_batch, a.steps);
    double csa = bench_cpu_now() - c0, wsa = genc_now() - w0;
    printf("sampling (batch %d): %.2f CPU-s per network evaluation, cpu %.0f%%\n", a.sample_batch, csa / steps,
           100 * csa / (wsa * a.threads));
    printf("genc U-Net (%lld parameters), threads %d, train batch %d, sample batch %d\n",
           (long long)genc_params_numel(&m.params), a.threads, a.batch, a.sample_batch);
    printf("RESULT genc train_images_per_s=%.1f\nRESULT genc sample_images_per_s=%.1f\n", bench_median(tr, a.blocks),
           bench_median(sa, a.blocks));
    free(d.x), free(d.eps), free(d.t), free(d.labels);
    genc_optim_free(&o);
    genc_unet_free(&m);
    genc_ctx_free(ctx);
    return 0;
}
