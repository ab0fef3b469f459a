/* bench_grpo: GRPO throughput of genc on the demo model (`make demo`, scripts/demo_grpo.sh),
 * the C half of the genc-vs-PyTorch comparison (bench/grpo.py is the same work in PyTorch;
 * bench/grpo.sh runs both). Two phases of a GRPO step (shared/reference/r1-grpo.md):
 *
 *  rollout: P prompts x G samples, batched, with the MLA latent KV cache (genc_lm_generate:
 *    one prefill of the P*G prompts, then one sampled token per row per step at temperature
 *    1, keeping each token's log-probability). No eos and no stop string, so every row
 *    generates exactly --max-new tokens and both sides do the same work.
 *  update: the clipped GRPO objective (DeepSeekMath eq. 3, beta 0, eps 0.2, "grpo"
 *    aggregation 1 / (rows |o_i|)) over the rollout batch: forward, backward, global
 *    gradient-norm clip 1.0, AdamW (betas (0.9, 0.99), eps 1e-8, no weight decay, as
 *    `genc lm grpo`; lr --lr), step-arena reset. Old log-probs are the sampled ones,
 *    advantages come from 0/1 rewards drawn per rollout and normalised within each group.
 *
 * Both rates count the generated tokens (rows x max_new) per second of the phase.
 *
 * The model is --checkpoint (a `genc lm train` checkpoint, e.g. the demo's base model) or a
 * --preset with --vocab and N(0, 0.02) weights. It goes to PREFIX.safetensors (config JSON
 * in the metadata), the prompts [P, Lp] to PREFIX.prompts (int32), the last timed rollout
 * batch to PREFIX.rollout (int32 tokens [rows, T], then float32 old_logp, adv and weight
 * [rows, T] each; T = Lp + max_new, position t's action is token t + 1), and the
 * untimed first three updates' losses and step-0 gradient norm to PREFIX.losses, for
 * bench/grpo.py to check that it computes the same function.
 *
 * Timing: one untimed rollout, then --rounds timed rollouts; three untimed updates, then
 * --rounds blocks of --steps updates. Prints the median with min and max (the machine may be
 * shared) and "RESULT genc threads=N rollout_tokens_per_s=X update_tokens_per_s=Y".
 *
 * usage: bench_grpo [--checkpoint F | --preset tiny --vocab 400] [--prompts 8] [--group 8]
 *                   [--prompt-len 24] [--max-new 64] [--threads 2] [--rounds 5] [--steps 2]
 *                   [--lr 1e-3] [--seed 1] [--out PREFIX] */
#include "bench_util.h"
#include "genc/genc.h"
#include "genc/grpo.h"
#include "genc/lm.h"
#include "genc/lm_infer.h"
#include "genc/safetensors.h"
#include "genc/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *checkpoint, *preset, *out;
    int64_t vocab, P, G, Lp, max_new;
    int threads, rounds, steps;
    double lr;
    unsigned long long seed;
} bench_args;

static int fail(genc_ctx *ctx) {
    fprintf(stderr, "bench_grpo: %s\n", genc_last_error(ctx));
    return 1;
}

/* The model: a checkpoint's weights, or a preset with the demo's vocabulary. */
static genc_status make_model(genc_ctx *ctx, const bench_args *a, genc_lm *m) {
    genc_lm_config c;
    if (!a->checkpoint) {
        genc_status s = genc_lm_preset(ctx, a->preset, &c);
        if (!s) c.vocab_size = (int)a->vocab, s = genc_lm_config_check(ctx, &c);
        return s ? s : genc_lm_init(ctx, m, &c, 0.02);
    }
    genc_st *f;
    genc_status s = genc_st_open(ctx, a->checkpoint, &f);
    if (s) return s;
    s = genc_lm_config_parse(ctx, genc_st_meta(f, "config"), a->checkpoint, &c);
    if (!s) s = genc_lm_init(ctx, m, &c, 0.0);
    if (!s) s = genc_checkpoint_load(ctx, f, &m->params, NULL, NULL);
    genc_st_close(f);
    return s;
}

/* Median, min and max of n samples (sorted in place). */
static void summary(double *x, int n, double *med, double *lo, double *hi) {
    qsort(x, (size_t)n, sizeof *x, bench_cmp_double);
    *med = x[n / 2], *lo = x[0], *hi = x[n - 1];
}

/* The training rows of a fixed-length rollout: prompt + response, actions, the response
 * mask, old log-probs (the sampled ones), group-normalised advantages of 0/1 rewards
 * (sample std + 1e-4, as genc lm grpo) and the "grpo" aggregation weights. */
static genc_status build_batch(genc_ctx *ctx, const bench_args *a, const int32_t *prompts, const genc_gen_result *res,
                               genc_grpo_rollouts *r) {
    int64_t rows = a->P * a->G, T = a->Lp + a->max_new, n = rows * T;
    memset(r, 0, sizeof *r);
    r->rows = rows, r->T = T, r->n_all = rows;
    r->tokens = malloc((size_t)n * sizeof(int32_t)), r->actions = malloc((size_t)n * sizeof(int32_t));
    r->mask = calloc((size_t)n, sizeof(genc_real)), r->weight = calloc((size_t)n, sizeof(genc_real));
    r->adv = calloc((size_t)n, sizeof(genc_real)), r->old_logp = calloc((size_t)n, sizeof(genc_real));
    if (!r->tokens || !r->actions || !r->mask || !r->weight || !r->adv || !r->old_logp)
        return genc_error(ctx, GENC_ENOMEM, "out of memory for the rollout batch");
    for (int64_t p = 0; p < a->P; p++) {
        double rew[1024], mean = 0, var = 0;
        for (int64_t g = 0; g < a->G; g++) rew[g] = genc_philox_uniform(a->seed + 99, (uint64_t)(p * a->G + g)) < 0.5;
        for (int64_t g = 0; g < a->G; g++) mean += rew[g] / (double)a->G;
        for (int64_t g = 0; g < a->G; g++) var += (rew[g] - mean) * (rew[g] - mean) / (double)(a->G - 1);
        for (int64_t g = 0; g < a->G; g++) {
            int64_t row = p * a->G + g;
            int32_t *t = r->tokens + row * T;
            memcpy(t, prompts + p * a->Lp, (size_t)a->Lp * sizeof *t);
            memcpy(t + a->Lp, res->tokens + row * res->max_new, (size_t)a->max_new * sizeof *t);
            for (int64_t k = 0; k < T; k++) {
                int64_t at = row * T + k;
                r->actions[at] = k + 1 < T ? t[k + 1] : 0;
                if (k < a->Lp - 1 || k > T - 2) continue;
                r->mask[at] = 1;
                r->old_logp[at] = (genc_real)res->logprobs[row * res->max_new + (k - (a->Lp - 1))];
                r->adv[at] = (genc_real)((rew[g] - mean) / (sqrt(var) + 1e-4));
            }
        }
    }
    genc_grpo_weights(GENC_GRPO_AGG_SEQ, r->mask, rows, T, a->max_new, r->weight);
    return GENC_OK;
}

static genc_status write_files(genc_ctx *ctx, const bench_args *a, const genc_lm *m, const int32_t *prompts,
                               const genc_grpo_rollouts *r) {
    char path[1024];
    char *cfg_json = genc_lm_config_json(&m->cfg);
    snprintf(path, sizeof path, "%s.safetensors", a->out);
    genc_status s = cfg_json ? genc_checkpoint_save(ctx, path, &m->params, NULL, cfg_json, NULL, NULL, NULL)
                             : genc_error(ctx, GENC_ENOMEM, "out of memory");
    free(cfg_json);
    if (s) return s;
    snprintf(path, sizeof path, "%s.prompts", a->out);
    FILE *f = fopen(path, "wb");
    size_t np = (size_t)(a->P * a->Lp), n = (size_t)(r->rows * r->T);
    int ok = f && fwrite(prompts, sizeof *prompts, np, f) == np;
    if (f && fclose(f)) ok = 0;
    snprintf(path, sizeof path, "%s.rollout", a->out);
    f = ok ? fopen(path, "wb") : NULL;
    ok = f && fwrite(r->tokens, sizeof(int32_t), n, f) == n;
    const genc_real *arrays[3] = {r->old_logp, r->adv, r->weight};
    for (int k = 0; ok && k < 3; k++)
        for (size_t i = 0; ok && i < n; i++) {
            float v = (float)arrays[k][i];
            ok = fwrite(&v, sizeof v, 1, f) == 1;
        }
    if (f && fclose(f)) ok = 0;
    return ok ? GENC_OK : genc_error(ctx, GENC_EIO, "cannot write %s", path);
}

/* One GRPO update; *loss and *gnorm (may be NULL) get the loss and the pre-clip norm. */
static genc_status update(genc_ctx *ctx, genc_lm *m, genc_optim *o, const genc_grpo_rollouts *r,
                          const genc_grpo_config *gc, double *loss, double *gnorm) {
    genc_zero_grad(&m->params);
    genc_tensor *L = genc_grpo_policy_loss(ctx, m, r, gc, NULL);
    if (!L || genc_backward(ctx, L)) return genc_ctx_status(ctx);
    if (loss) *loss = L->data[0];
    double norm = genc_clip_grad_norm(&m->params, 1.0);
    if (gnorm) *gnorm = norm;
    genc_optim_step(o, o->cfg.lr);
    genc_step_reset(ctx);
    return genc_ctx_status(ctx);
}

static int parse(int argc, char **argv, bench_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        i++;
        if (!strcmp(f, "--checkpoint")) a->checkpoint = v;
        else if (!strcmp(f, "--preset")) a->preset = v;
        else if (!strcmp(f, "--out")) a->out = v;
        else if (!strcmp(f, "--vocab")) a->vocab = atoll(v);
        else if (!strcmp(f, "--prompts")) a->P = atoll(v);
        else if (!strcmp(f, "--group")) a->G = atoll(v);
        else if (!strcmp(f, "--prompt-len")) a->Lp = atoll(v);
        else if (!strcmp(f, "--max-new")) a->max_new = atoll(v);
        else if (!strcmp(f, "--threads")) a->threads = atoi(v);
        else if (!strcmp(f, "--rounds")) a->rounds = atoi(v);
        else if (!strcmp(f, "--steps")) a->steps = atoi(v);
        else if (!strcmp(f, "--lr")) a->lr = atof(v);
        else if (!strcmp(f, "--seed")) a->seed = strtoull(v, NULL, 10);
        else return -1;
    }
    bool ok = a->vocab >= 2 && a->P >= 1 && a->G >= 2 && a->G <= 1024 && a->Lp >= 1 && a->max_new >= 1 &&
              a->threads >= 1 && a->rounds >= 1 && a->rounds <= 100 && a->steps >= 1 && a->lr >= 0;
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    bench_args a = {.preset = "tiny", .out = "/tmp/genc_bench_grpo", .vocab = 400, .P = 8, .G = 8, .Lp = 24,
                    .max_new = 64, .threads = 2, .rounds = 5, .steps = 2, .lr = 1e-3, .seed = 1};
    if (parse(argc, argv, &a))
        return fprintf(stderr, "usage: bench_grpo [--checkpoint F | --preset tiny --vocab 400] [--prompts 8] [--group 8]\n"
                               "       [--prompt-len 24] [--max-new 64] [--threads 2] [--rounds 5] [--steps 2]\n"
                               "       [--lr 1e-3] [--seed 1] [--out PREFIX]\n"), 2;
    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) return 1;
    genc_set_threads(ctx, a.threads);
    genc_rng_seed(ctx, a.seed);
    genc_lm m = {0};
    if (make_model(ctx, &a, &m)) return fail(ctx);
    if (a.Lp + a.max_new > m.cfg.max_seq) return fprintf(stderr, "bench_grpo: prompt + max-new exceed max_seq\n"), 2;
    int64_t rows = a.P * a.G, V = m.cfg.vocab_size;

    /* P random prompts, each repeated G times (token 0 is avoided: it pads). */
    int32_t *prompts = malloc((size_t)(a.P * a.Lp) * sizeof *prompts);
    const int32_t **row_prompt = malloc((size_t)rows * sizeof *row_prompt);
    int64_t *plen = malloc((size_t)rows * sizeof *plen);
    if (!prompts || !row_prompt || !plen) return 1;
    for (int64_t i = 0; i < a.P * a.Lp; i++)
        prompts[i] = 1 + (int32_t)(genc_philox_uniform(a.seed + 777, (uint64_t)i) * (double)(V - 1));
    for (int64_t r = 0; r < rows; r++) row_prompt[r] = prompts + (r / a.G) * a.Lp, plen[r] = a.Lp;
    genc_gen_config gen = {.max_new = a.max_new, .sampler = {.temperature = 1.0, .top_k = 0, .top_p = 1.0},
                           .eos_id = -1, .pad_id = 0};

    /* Rollouts: one warm-up, then the timed ones. */
    double roll_rate[100], cpu0 = bench_cpu_now(), wall0 = genc_now();
    genc_gen_result res = {0};
    for (int k = -1; k < a.rounds; k++) {
        genc_gen_result_free(&res);
        double t0 = genc_now();
        if (genc_lm_generate(ctx, &m, row_prompt, plen, rows, &gen, &res)) return fail(ctx);
        if (k >= 0) roll_rate[k] = (double)(rows * a.max_new) / (genc_now() - t0);
        for (int64_t r = 0; r < rows; r++)
            if (res.len[r] != a.max_new) return fprintf(stderr, "bench_grpo: row %lld stopped early\n", (long long)r), 1;
    }
    double roll_share = (bench_cpu_now() - cpu0) / ((genc_now() - wall0) * a.threads);

    genc_grpo_rollouts batch;
    if (build_batch(ctx, &a, prompts, &res, &batch) || write_files(ctx, &a, &m, prompts, &batch)) return fail(ctx);
    genc_grpo_config gc;
    genc_grpo_config_default(&gc);
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = a.lr, oc.beta2 = 0.99, oc.weight_decay = 0.0;
    genc_optim opt;
    if (genc_optim_init(ctx, &opt, &m.params, &oc)) return fail(ctx);

    /* Three untimed updates (their losses and the first gradient norm are the check), then blocks. */
    double loss[3], gnorm0 = 0, upd_rate[100];
    for (int s = 0; s < 3; s++)
        if (update(ctx, &m, &opt, &batch, &gc, &loss[s], s == 0 ? &gnorm0 : NULL)) return fail(ctx);
    cpu0 = bench_cpu_now(), wall0 = genc_now();
    for (int k = 0; k < a.rounds; k++) {
        double t0 = genc_now();
        for (int s = 0; s < a.steps; s++)
            if (update(ctx, &m, &opt, &batch, &gc, NULL, NULL)) return fail(ctx);
        upd_rate[k] = (double)(a.steps * rows * a.max_new) / (genc_now() - t0);
    }
    double upd_share = (bench_cpu_now() - cpu0) / ((genc_now() - wall0) * a.threads);

    char path[1024];
    snprintf(path, sizeof path, "%s.losses", a.out);
    FILE *f = fopen(path, "w");
    if (!f) return fprintf(stderr, "bench_grpo: cannot write %s\n", path), 1;
    fprintf(f, "gnorm0 %.9g\n", gnorm0);
    for (int s = 0; s < 3; s++) fprintf(f, "loss%d %.9g\n", s, loss[s]), printf("LOSS %d %.9g\n", s, loss[s]);
    fclose(f);
    double rm, rlo, rhi, um, ulo, uhi;
    summary(roll_rate, a.rounds, &rm, &rlo, &rhi);
    summary(upd_rate, a.rounds, &um, &ulo, &uhi);
    printf("genc   %lld params  %lld x %lld rollouts, prompt %lld + %lld new tokens, threads %d\n",
           (long long)genc_params_numel(&m.params), (long long)a.P, (long long)a.G, (long long)a.Lp,
           (long long)a.max_new, a.threads);
    printf("genc   rollout %.0f tokens/s (median of %d; min %.0f, max %.0f) cpu %.0f%%; update %.0f tokens/s "
           "(median of %d blocks of %d; min %.0f, max %.0f) cpu %.0f%%; step-0 grad norm %.6f\n",
           rm, a.rounds, rlo, rhi, 100 * roll_share, um, a.rounds, a.steps, ulo, uhi, 100 * upd_share, gnorm0);
    printf("RESULT genc threads=%d rollout_tokens_per_s=%.1f update_tokens_per_s=%.1f\n", a.threads, rm, um);
    genc_gen_result_free(&res);
    genc_grpo_rollouts_free(&batch);
    genc_optim_free(&opt);
    genc_lm_free(&m);
    free(prompts), free(row_prompt), free(plen);
    genc_ctx_free(ctx);
    return 0;
}
