/* bench_lm_train: training throughput (tokens/s) of genc on a DeepSeek-V3-architecture
 * language model (MLA, dense or DeepSeekMoE FFNs, MTP), the C half of the genc-vs-PyTorch
 * comparison (bench/lm_train.py is the same model in PyTorch; bench/lm_train.sh runs both).
 *
 * The model is a preset (genc_lm_preset: tiny, small, base, large) with KEY=VALUE overrides
 * (the names below, e.g. experts=0 for an all-dense model). Its initial weights (N(0,
 * init_std), as `genc lm train`) go to PREFIX.safetensors through genc_checkpoint_save (the
 * Hugging Face tensor names plus the config JSON, which bench/lm_train.py reads), and the
 * fixed random token batch [B, T + 1] (int32, little-endian, row-major) to PREFIX.tokens.
 *
 * A step is what genc_train_run does (without its logging): zero_grad,
 * genc_lm_forward_train, backward, global gradient-norm clip 1.0, AdamW (constant lr 1e-3,
 * betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on matrices), the aux-loss-free bias update
 * and the step-arena reset. The same batch is used at every step.
 *
 * Timing: --warmup steps untimed (at least 3: the losses of steps 0, 1 and 2 are printed as
 * "LOSS step total main" lines and written to PREFIX.losses, for lm_train.py to check), then
 * --blocks blocks of --steps steps; prints the median block's tokens/s with min and max (the
 * machine may be shared: noisy) and "RESULT genc threads=N params=P tokens_per_s=X cpu_share=S peak_rss_mib=R base_rss_mib=R0" (R0:
 * resident memory before the first step).
 * Then --profile steps (default 3) run under the step profiler (in process CPU time, so a
 * shared machine's descheduling does not count) and print per-phase CPU times
 * (PROFILE lines, bench/lm_profile.h: the linear-layer GEMMs' GFLOP/s against the FMA peak
 * measured here, the share of the step outside them), per-op times (OP), forward
 * activations per layer (LAYER) and the step arena after forward and backward (MEMORY).
 * Peak RSS is the process's (getrusage), after all steps. Intermediate gradients are recycled
 * during backward (genc_set_recycle_grads), as in genc_lm_train; GENC_KEEP_GRADS=1 keeps them.
 *
 * usage: bench_lm_train [--preset tiny] [--batch 16] [--seq 128] [--threads 2] [--warmup 3]
 *                       [--steps 5] [--blocks 5] [--init-std 0.02] [--seed 1] [--out PREFIX]
 *                       [--profile 3] [--params-only] [KEY=VALUE ...]
 * KEYs: vocab dim layers heads q_lora kv_lora nope rope v dense_layers dense_inter experts
 *       shared active moe_inter groups topk_groups mtp max_seq */
#include "bench_util.h"
#include "fma_peak.h"
#include "lm_profile.h"
#include "genc/genc.h"
#include "genc/lm.h"
#include "genc/train.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* KEY=VALUE override of an integer config field; 0 on success. */
static int set_field(genc_lm_config *c, const char *kv) {
    static const struct { const char *key; size_t off; } F[] = {
        {"vocab", offsetof(genc_lm_config, vocab_size)}, {"dim", offsetof(genc_lm_config, dim)},
        {"layers", offsetof(genc_lm_config, n_layers)}, {"heads", offsetof(genc_lm_config, n_heads)},
        {"q_lora", offsetof(genc_lm_config, q_lora_rank)}, {"kv_lora", offsetof(genc_lm_config, kv_lora_rank)},
        {"nope", offsetof(genc_lm_config, qk_nope_dim)}, {"rope", offsetof(genc_lm_config, qk_rope_dim)},
        {"v", offsetof(genc_lm_config, v_dim)}, {"dense_layers", offsetof(genc_lm_config, n_dense_layers)},
        {"dense_inter", offsetof(genc_lm_config, dense_inter)}, {"experts", offsetof(genc_lm_config, n_routed)},
        {"shared", offsetof(genc_lm_config, n_shared)}, {"active", offsetof(genc_lm_config, n_active)},
        {"moe_inter", offsetof(genc_lm_config, moe_inter)}, {"groups", offsetof(genc_lm_config, n_groups)},
        {"topk_groups", offsetof(genc_lm_config, topk_groups)}, {"mtp", offsetof(genc_lm_config, mtp_depth)},
        {"max_seq", offsetof(genc_lm_config, max_seq)},
    };
    const char *eq = strchr(kv, '=');
    if (!eq) return -1;
    for (size_t i = 0; i < sizeof F / sizeof *F; i++)
        if (strlen(F[i].key) == (size_t)(eq - kv) && !strncmp(kv, F[i].key, (size_t)(eq - kv))) {
            *(int *)((char *)c + F[i].off) = atoi(eq + 1);
            return 0;
        }
    return -1;
}

typedef struct {
    genc_lm *m;
    genc_optim *opt;
    const int32_t *tokens;
    int64_t B, T;
    double lr;
    size_t arena_fwd, arena_bwd; /* step-arena bytes after the forward and after the backward */
} step_args;

/* One training step (what genc_train_run does); marks name the phases outside the ops. */
static genc_status train_step(genc_ctx *ctx, step_args *a, double loss[2]) {
    genc_zero_grad(&a->m->params);
    genc_profile_mark(ctx, "zero_grad");
    genc_lm_losses L;
    if (genc_lm_forward_train(ctx, a->m, a->tokens, a->B, a->T, &L)) return genc_ctx_status(ctx);
    a->arena_fwd = genc_arena_used(ctx);
    if (genc_backward(ctx, L.total)) return genc_ctx_status(ctx);
    a->arena_bwd = genc_arena_used(ctx);
    loss[0] = L.total->data[0], loss[1] = L.main->data[0];
    genc_profile_mark(ctx, "backward_end");
    genc_clip_grad_norm(&a->m->params, 1.0);
    genc_profile_mark(ctx, "clip");
    genc_optim_step(a->opt, a->lr);
    genc_profile_mark(ctx, "optimizer");
    genc_lm_update_bias(a->m);
    genc_step_reset(ctx);
    genc_profile_mark(ctx, "step_reset");
    return GENC_OK;
}

/* Resident memory now in MiB, from /proc/self/statm (0 where there is none). */
static double rss_now_mib(void) {
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long size = 0;
    if (fscanf(f, "%ld %ld", &size, &pages) != 2) pages = 0;
    fclose(f);
    return (double)pages * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static int fail(genc_ctx *ctx) {
    fprintf(stderr, "bench_lm_train: %s\n", genc_last_error(ctx));
    return 1;
}

int main(int argc, char **argv) {
    const char *preset = "tiny", *out = "/tmp/genc_bench_lm";
    int threads = 2, warmup = 3, steps = 5, blocks = 5, params_only = 0, profile = 3;
    int64_t B = 16, T = 128;
    double init_std = 0.02;
    unsigned long long seed = 1;
    char *overrides[64];
    int n_over = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && !strcmp(a, "--preset")) preset = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--batch")) B = atoll(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--seq")) T = atoll(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--threads")) threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--warmup")) warmup = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--steps")) steps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--blocks")) blocks = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--init-std")) init_std = atof(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--seed")) seed = strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(a, "--out")) out = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--profile")) profile = atoi(argv[++i]);
        else if (!strcmp(a, "--params-only")) params_only = 1;
        else if (strchr(a, '=') && a[0] != '-' && n_over < 64) overrides[n_over++] = argv[i];
        else {
            fprintf(stderr, "usage: bench_lm_train [--preset tiny] [--batch 16] [--seq 128] [--threads 2] [--warmup 3]\n"
                            "       [--steps 5] [--blocks 5] [--init-std 0.02] [--seed 1] [--out PREFIX] [--profile 3]\n"
                            "       [--params-only]\n"
                            "       [KEY=VALUE ...]\n");
            return 2;
        }
    }
    if (threads < 1 || warmup < 3 || steps < 1 || blocks < 1 || blocks > 100 || B < 1 || T < 2 || profile < 0)
        return fprintf(stderr, "bench_lm_train: bad arguments (warm-up must be >= 3)\n"), 2;

    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) return 1;
    genc_set_threads(ctx, threads);
    const char *keep = getenv("GENC_KEEP_GRADS");
    genc_set_recycle_grads(ctx, !keep || !*keep || !strcmp(keep, "0")); /* as genc_lm_train does */
    genc_rng_seed(ctx, seed);
    genc_lm_config c;
    if (genc_lm_preset(ctx, preset, &c)) return fail(ctx);
    for (int i = 0; i < n_over; i++)
        if (set_field(&c, overrides[i])) return fprintf(stderr, "bench_lm_train: unknown override %s\n", overrides[i]), 2;
    if (T > c.max_seq) c.max_seq = (int)T;
    if (c.n_routed == 0) c.n_groups = 1, c.topk_groups = 1; /* unused; keeps the config check quiet */
    if (genc_lm_config_check(ctx, &c)) return fail(ctx);
    genc_lm m = {0};
    if (genc_lm_init(ctx, &m, &c, init_std)) return fail(ctx);
    int64_t n_params = genc_params_numel(&m.params);
    if (params_only) {
        printf("RESULT params=%lld\n", (long long)n_params);
        genc_lm_free(&m);
        genc_ctx_free(ctx);
        return 0;
    }

    /* The initial weights and the batch, for bench/lm_train.py. */
    char path[1024];
    char *cfg_json = genc_lm_config_json(&c);
    snprintf(path, sizeof path, "%s.safetensors", out);
    if (!cfg_json || genc_checkpoint_save(ctx, path, &m.params, NULL, cfg_json, NULL, NULL, NULL)) return fail(ctx);
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)(B * (T + 1)));
    if (!tokens) return 1;
    for (int64_t i = 0; i < B * (T + 1); i++)
        tokens[i] = (int32_t)(genc_philox_uniform(seed + 777, (uint64_t)i) * c.vocab_size);
    snprintf(path, sizeof path, "%s.tokens", out);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(tokens, sizeof(int32_t), (size_t)(B * (T + 1)), f) != (size_t)(B * (T + 1)) || fclose(f))
        return fprintf(stderr, "bench_lm_train: cannot write %s\n", path), 1;

    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = 1e-3, oc.beta2 = 0.95, oc.eps = 1e-8, oc.weight_decay = 0.1;
    genc_optim opt;
    if (genc_optim_init(ctx, &opt, &m.params, &oc)) return fail(ctx);

    double rate[100], cpu0 = 0, wall0 = 0, loss0[3][2], base_rss = rss_now_mib();
    int64_t step = 0;
    step_args sa = {&m, &opt, tokens, B, T, oc.lr, 0, 0};
    for (int blk = -1; blk < blocks; blk++) {
        int n = blk < 0 ? warmup : steps;
        double t0 = genc_now(), loss[2];
        if (blk == 0) cpu0 = bench_cpu_now(), wall0 = t0;
        for (int s = 0; s < n; s++, step++) {
            if (train_step(ctx, &sa, loss)) return fail(ctx);
            if (step < 3) loss0[step][0] = loss[0], loss0[step][1] = loss[1];
        }
        if (blk >= 0) rate[blk] = (double)(n * B * T) / (genc_now() - t0);
    }
    double share = (bench_cpu_now() - cpu0) / ((genc_now() - wall0) * threads);
    snprintf(path, sizeof path, "%s.losses", out);
    f = fopen(path, "w");
    for (int s = 0; s < 3; s++) {
        printf("LOSS %d %.9g %.9g\n", s, loss0[s][0], loss0[s][1]);
        if (f) fprintf(f, "%d %.9g %.9g\n", s, loss0[s][0], loss0[s][1]);
    }
    if (f) fclose(f);
    double sorted[100];
    memcpy(sorted, rate, sizeof(double) * (size_t)blocks);
    qsort(sorted, (size_t)blocks, sizeof(double), bench_cmp_double);
    printf("genc   %s %lld params  B=%lld T=%lld threads=%d  %.0f tokens/s (median of %d blocks of %d steps; min %.0f, "
           "max %.0f)  cpu %.0f%%  step-0 loss %.6f\n",
           preset, (long long)n_params, (long long)B, (long long)T, threads, sorted[blocks / 2], blocks, steps, sorted[0],
           sorted[blocks - 1], 100 * share, loss0[0][0]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = (double)ru.ru_maxrss / 1024.0;
    printf("MEMORY peak RSS %.1f MiB (%.1f MiB before the first step); step arena %.1f MiB after forward, %.1f MiB after backward; parameters + "
           "gradients + AdamW moments %.1f MiB\n", rss, base_rss, sa.arena_fwd / 1048576.0, sa.arena_bwd / 1048576.0,
           4.0 * (double)n_params * sizeof(genc_real) / 1048576.0);
    if (profile > 0) {
        double peak = bench_fma_core_peak(5);
        if (genc_profile_start(ctx, GENC_PROFILE_CPU)) return fail(ctx);
        for (int s = 0; s < profile; s++) {
            double loss[2];
            if (train_step(ctx, &sa, loss)) return fail(ctx);
        }
        genc_profile_stop(ctx);
        prof_print(ctx, profile, threads, peak, c.n_layers + c.mtp_depth);
    }
    printf("RESULT genc threads=%d params=%lld tokens_per_s=%.1f cpu_share=%.3f peak_rss_mib=%.1f base_rss_mib=%.1f\n",
           threads, (long long)n_params, sorted[blocks / 2], share, rss, base_rss);
    free(cfg_json), free(tokens);
    genc_optim_free(&opt);
    genc_lm_free(&m);
    genc_ctx_free(ctx);
    return 0;
}
