/* bench_mlp_train: training-step throughput of genc on a plain MLP, the C half of the
 * genc-vs-PyTorch comparison (bench/mlp_train.py is the same model in PyTorch; bench/run.sh
 * runs both).
 *
 * Model: 784-1000-1000-1000-784, ReLU between layers, batch 128, MSE against the input
 * (an autoencoder), AdamW (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on the
 * matrices, none on the biases). Data: 8 fixed batches of uniform random pixels, or the
 * first 1024 Fashion-MNIST training images with --data fashion. A step is
 * zero_grad, forward, loss, backward, optimiser step, step-arena reset; after the first
 * step the arena allocates nothing, and nothing else allocates per step.
 *
 * Timing: --warmup steps untimed, then --blocks blocks of --steps steps each; prints the
 * median block's steps/s (and min/max: the machine may be shared, so it is noisy) and a
 * final line "RESULT genc threads=T steps_per_s=X" for bench/run.sh.
 *
 * usage: bench_mlp_train [--threads 2] [--steps 10] [--blocks 5] [--warmup 3] [--data random|fashion] */
#include "bench_util.h"
#include "genc/data.h"
#include "genc/genc.h"
#include "genc/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 128
#define N_BATCHES 8
#define N_LAYERS 4
static const int64_t DIMS[N_LAYERS + 1] = {784, 1000, 1000, 1000, 784};

int main(int argc, char **argv) {
    int threads = 2, steps = 10, blocks = 5, warmup = 3;
    const char *data = "random";
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--steps")) steps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--blocks")) blocks = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--warmup")) warmup = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--data")) data = argv[++i];
        else {
            fprintf(stderr, "usage: bench_mlp_train [--threads 2] [--steps 10] [--blocks 5] [--warmup 3] "
                            "[--data random|fashion]\n");
            return 2;
        }
    }
    if (threads < 1 || steps < 1 || blocks < 1 || blocks > 100 || warmup < 0) return fprintf(stderr, "bad arguments\n"), 2;

    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) return 1;
    genc_set_threads(ctx, threads);
    genc_rng_seed(ctx, 1234);

    /* Data: N_BATCHES batches of [BATCH, 784], loaded once. */
    float *xs = malloc(sizeof(float) * N_BATCHES * BATCH * 784);
    if (!xs) return 1;
    if (!strcmp(data, "fashion")) {
        genc_dataset ds;
        if (genc_data_load_fashion_mnist(ctx, NULL, true, &ds) || ds.rows * ds.cols != 784 ||
            ds.n < N_BATCHES * BATCH) {
            fprintf(stderr, "bench_mlp_train: %s\n", genc_last_error(ctx));
            return 1;
        }
        memcpy(xs, ds.images, sizeof(float) * N_BATCHES * BATCH * 784);
        genc_dataset_free(&ds);
    } else if (!strcmp(data, "random")) {
        for (int64_t i = 0; i < (int64_t)N_BATCHES * BATCH * 784; i++) xs[i] = (float)genc_philox_uniform(99, (uint64_t)i);
    } else {
        fprintf(stderr, "bench_mlp_train: --data random or fashion\n");
        return 2;
    }

    /* Parameters: PyTorch's nn.Linear initialisation, U(-1/sqrt(in), 1/sqrt(in)). */
    genc_params p = {0};
    genc_tensor *w[N_LAYERS], *b[N_LAYERS];
    for (int l = 0; l < N_LAYERS; l++) {
        char name[32];
        int64_t ws[2] = {DIMS[l + 1], DIMS[l]}, bs[1] = {DIMS[l + 1]};
        double k = 1.0 / sqrt((double)DIMS[l]);
        snprintf(name, sizeof name, "fc%d.weight", l);
        w[l] = genc_param_new(ctx, name, 2, ws);
        snprintf(name, sizeof name, "fc%d.bias", l);
        b[l] = genc_param_new(ctx, name, 1, bs);
        if (!w[l] || !b[l] || genc_params_add(ctx, &p, w[l]) || genc_params_add(ctx, &p, b[l])) {
            fprintf(stderr, "bench_mlp_train: %s\n", genc_last_error(ctx));
            return 1;
        }
        genc_fill_uniform(ctx, w[l], -k, k);
        genc_fill_uniform(ctx, b[l], -k, k);
    }
    genc_optim_config cfg = genc_optim_defaults(GENC_OPT_ADAMW);
    cfg.lr = 1e-3, cfg.weight_decay = 0.01;
    genc_optim opt;
    if (genc_optim_init(ctx, &opt, &p, &cfg)) return fprintf(stderr, "bench_mlp_train: %s\n", genc_last_error(ctx)), 1;

    int64_t xshape[2] = {BATCH, 784};
    double loss_v = 0;
    size_t arena = 0;
    int64_t step = 0;
    double rate[100], cpu0 = 0, wall0 = 0;
    for (int blk = -1; blk < blocks; blk++) {
        int n = blk < 0 ? warmup : steps;
        double t0 = genc_now();
        if (blk == 0) cpu0 = bench_cpu_now(), wall0 = t0;
        for (int s = 0; s < n; s++, step++) {
            genc_zero_grad(&p);
            genc_tensor *x = genc_tensor_wrap(ctx, xs + (step % N_BATCHES) * BATCH * 784, 2, xshape);
            genc_tensor *h = x;
            for (int l = 0; l < N_LAYERS; l++) {
                h = genc_linear(ctx, h, w[l], b[l]);
                if (l < N_LAYERS - 1) h = genc_relu(ctx, h);
            }
            genc_tensor *loss = genc_mean_all(ctx, genc_square(ctx, genc_sub(ctx, h, x)));
            if (!loss || genc_backward(ctx, loss)) {
                fprintf(stderr, "bench_mlp_train: %s\n", genc_last_error(ctx));
                return 1;
            }
            loss_v = loss->data[0];
            arena = genc_arena_used(ctx);
            genc_optim_step(&opt, cfg.lr);
            genc_step_reset(ctx);
        }
        if (blk >= 0) rate[blk] = n / (genc_now() - t0);
    }
    /* CPU share of the timed part: < 100% means other processes took the cores. */
    double share = (bench_cpu_now() - cpu0) / ((genc_now() - wall0) * threads);
    double sorted[100];
    memcpy(sorted, rate, sizeof(double) * (size_t)blocks);
    qsort(sorted, (size_t)blocks, sizeof(double), bench_cmp_double);
    double flops = 0; /* forward 2*B*in*out per layer; backward 2x that, minus dx of layer 0 */
    for (int l = 0; l < N_LAYERS; l++) flops += 2.0 * BATCH * DIMS[l] * DIMS[l + 1] * (l == 0 ? 2 : 3);
    printf("genc    threads=%d  %.2f steps/s (median of %d blocks of %d steps; min %.2f, max %.2f)  "
           "%.1f GFLOP/s in GEMMs  cpu %.0f%%  arena %.1f MiB  final loss %.5f\n",
           threads, sorted[blocks / 2], blocks, steps, sorted[0], sorted[blocks - 1], flops * sorted[blocks / 2] * 1e-9,
           100 * share, (double)arena / (1 << 20), loss_v);
    printf("RESULT genc threads=%d steps_per_s=%.4f\n", threads, sorted[blocks / 2]);
    genc_optim_free(&opt);
    genc_params_free_all(&p);
    free(xs);
    genc_ctx_free(ctx);
    return 0;
}
