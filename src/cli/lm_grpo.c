/* genc lm grpo: improve a base language model's reasoning with GRPO and rule-based rewards
 * alone (the DeepSeek-R1-Zero recipe): rollouts from the policy, group-normalised
 * advantages, the clipped objective with an optional KL to the frozen base, periodic
 * held-out pass@1, checkpoints and resume. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "cli/task_flags.h"
#include "genc/grpo_train.h"
#include "genc/png.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the flags fill besides grpo_args: the objective's config and the evaluation size. */
typedef struct {
    genc_grpo_config cfg;
    uint64_t seed;
    int64_t eval_k, eval_max_new;
} grpo_job;

/* The callbacks' user: this rank's job, and the step the run started from. */
typedef struct {
    genc_dist *dist;
    int64_t first_step;
} rank_info;

static void on_start(void *user, int64_t first_step) {
    ((rank_info *)user)->first_step = first_step;
    genc_cli_polling = 1;
}

static void on_eval(void *user, int64_t step, const genc_task_eval *e) {
    if (genc_dist_rank(((rank_info *)user)->dist) != 0) return; /* every rank evaluates alike; rank 0 reports */
    fprintf(stderr, "\nstep %lld: held-out pass@1 %.1f%%, cons@%lld %.1f%%, format %.1f%%, think %.1f%%, length %.1f\n",
            (long long)step, 100 * e->pass1, (long long)e->k, 100 * e->consk, 100 * e->format_rate,
            100 * e->think_rate, e->mean_len);
}

typedef struct {
    const char *base, *out, *agg, *tmpl, *streams;
    int64_t steps, seed, threads, eval_every, save_every, stop_at, eval_problems;
    double lr, wd, clip, warmup_frac, dist_timeout;
    bool resume, no_std;
    genc_task_flags tf;
} grpo_args;

typedef struct {
    grpo_args *a;
    grpo_job *j;
} run_args;

/* Rank 0's closing lines: the bytes per step, and the plots of the metrics. */
static genc_status report(genc_ctx *ctx, const char *out, const char *mpath, genc_dist *dist, int64_t groups,
                          int64_t steps) {
    if (genc_dist_rank(dist) != 0) return GENC_OK;
    if (genc_dist_size(dist) > 1 && steps > 0)
        printf("dist: %d ranks x %lld groups; %.0f bytes sent per step per rank (gradient all-reduce as ring volume, "
               "plus exchanges)\n", genc_dist_size(dist), (long long)(groups / genc_dist_size(dist)),
               (double)genc_dist_bytes_sent(dist) / (double)steps);
    char png[1024];
    snprintf(png, sizeof png, "%s/reward.png", out);
    genc_status s = genc_plot_jsonl_labelled(ctx, mpath, png, "lm grpo: mean reward, accuracy and format rate of the "
                                             "rollouts", "policy update (step)", "reward; fraction of rollouts", "step",
                                             (const char *[]){"reward", "accuracy", "format"}, 3, false);
    snprintf(png, sizeof png, "%s/length.png", out);
    if (!s) s = genc_plot_jsonl_labelled(ctx, mpath, png, "lm grpo: response length and think-block length",
                                         "policy update (step)", "tokens per rollout (mean)", "step",
                                         (const char *[]){"length", "think_tokens"}, 2, false);
    snprintf(png, sizeof png, "%s/think.png", out);
    if (!s) s = genc_plot_jsonl_labelled(ctx, mpath, png, "lm grpo: rollouts with a non-blank think block, and accuracy",
                                         "policy update (step)", "fraction of rollouts", "step",
                                         (const char *[]){"think", "accuracy"}, 2, false);
    return s;
}

static genc_status run_rank(genc_ctx *ctx, void *args, genc_dist *dist) {
    grpo_args *a = ((run_args *)args)->a;
    grpo_job *j = ((run_args *)args)->j;
    genc_lm policy = {0}, ref = {0};
    genc_tokenizer *tok = NULL, *tok2 = NULL;
    genc_task_set heldout = {0}, user_train = {0}, eval_set;
    char ckpt[1024], best[1024], mpath[1024];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", a->out);
    snprintf(best, sizeof best, "%s/best.safetensors", a->out);
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", a->out);
    rank_info info = {dist, 0};
    genc_grpo_train_config c = {.seed = j->seed, .steps = a->steps, .eval_every = a->eval_every,
                                .save_every = a->save_every, .stop_at = a->stop_at, .eval_k = j->eval_k,
                                .eval_max_new = j->eval_max_new, .lr = a->lr, .weight_decay = a->wd, .clip = a->clip,
                                .warmup_frac = a->warmup_frac, .resume = a->resume, .checkpoint = ckpt,
                                .best_checkpoint = best, .metrics = mpath, .stop = &genc_cli_stop, .on_start = on_start,
                                .on_eval = on_eval, .user = &info, .dist = dist,
                                .row_streams = !strcmp(a->streams, "rollout") ||
                                               (!strcmp(a->streams, "auto") && genc_dist_size(dist) > 1)};
    genc_train_state st = {0};
    genc_status s = genc_dist_rank(dist) == 0 ? genc_cli_out_dir(ctx, a->out) : GENC_OK; /* rank 0 writes */
    if (!s && c.row_streams == false && genc_dist_size(dist) > 1)
        s = genc_error(ctx, GENC_EINVAL, "--rollout-streams shared: one stream cannot be split over %d ranks; use auto "
                       "or rollout", genc_dist_size(dist));
    if (!s) s = genc_task_flags_apply(ctx, &a->tf, &c.task, &j->cfg.reward);
    if (!s) s = genc_grpo_agg_parse(ctx, a->agg, &j->cfg.agg);
    if (!s) s = genc_grpo_template_parse(ctx, a->tmpl, &j->cfg.template_kind);
    if (!s) s = genc_sampler_check(ctx, &j->cfg.sampler);
    if (!s) s = genc_lm_load(ctx, a->base, true, &policy, &tok);
    if (!s && j->cfg.beta > 0) s = genc_lm_load(ctx, a->base, true, &ref, &tok2);
    genc_task_flags tf_gen = a->tf;
    tf_gen.problems = NULL; /* --problems are training prompts here; held-out ones are generated */
    if (!s) s = genc_task_flags_heldout(ctx, &tf_gen, &c.task, &heldout);
    if (!s && a->tf.problems) s = genc_task_set_load_jsonl(ctx, a->tf.problems, &user_train);
    eval_set = heldout;
    if (!s && a->eval_problems > 0 && a->eval_problems < heldout.n) eval_set.n = a->eval_problems;
    if (!s) {
        c.grpo = j->cfg, c.eval_set = &eval_set, c.train_set = a->tf.problems ? &user_train : NULL;
        printf("grpo: %s task, %lld held-out problems (%lld evaluated), %lld steps of %lld prompts x %lld rollouts%s\n",
               a->tf.task, (long long)heldout.n, (long long)eval_set.n, (long long)a->steps,
               (long long)(j->cfg.keep_groups ? j->cfg.keep_groups : j->cfg.prompts), (long long)j->cfg.group,
               j->cfg.keep_groups ? " (dynamic sampling)" : "");
        genc_task_baselines_print(stdout, &eval_set);
        fflush(stdout);
        s = genc_grpo_train(ctx, &policy, j->cfg.beta > 0 ? &ref : NULL, tok, &c, &st);
        genc_cli_polling = 0;
        char what[64];
        snprintf(what, sizeof what, "held-out pass@1 %.1f%%", -100 * st.best_metric);
        if (!s && st.step < a->steps)
            printf("stopped at step %lld of %lld; continue with --resume\n", (long long)st.step, (long long)a->steps);
        else if (!s) genc_cli_print_saved(a->out, st.step, isfinite(st.best_metric) ? what : NULL);
    }
    if (!s) s = report(ctx, a->out, mpath, dist, j->cfg.prompts, st.step - info.first_step);
    genc_lm_free(&policy), genc_lm_free(&ref);
    genc_tokenizer_free(tok), genc_tokenizer_free(tok2);
    genc_task_set_free(&heldout), genc_task_set_free(&user_train);
    return s;
}

static genc_status run(genc_ctx *ctx, void *args) {
    return genc_cli_dist_run(ctx, ((run_args *)args)->a->dist_timeout, run_rank, args);
}

int genc_cli_lm_grpo(int argc, char **argv) {
    grpo_args a = {.base = "runs/lm/checkpoint.safetensors", /* lm train's default --out */ .out = "runs/grpo", .agg = "grpo", .tmpl = "r1", .streams = "auto", .steps = 100,
                   .seed = 1, .eval_every = 25, .eval_problems = 100, .lr = 1e-3, .wd = 0.0, .clip = 1.0,
                   .warmup_frac = 0.05, .tf = GENC_TASK_FLAGS_DEFAULT};
    grpo_job j = {.eval_k = 4, .eval_max_new = 48};
    genc_grpo_config_default(&j.cfg);
    j.cfg.max_new = 48;
    int64_t prompts = j.cfg.prompts, group = j.cfg.group, max_new = j.cfg.max_new, mu = 1, oversample = 1;
    bool skip_equal = false;
    genc_flag flags[] = {
        {"base", FLAG_STRING, &a.base, "the base model checkpoint (from genc lm train)"},
        GENC_TASK_FLAG_ENTRIES(a.tf),
        {"steps", FLAG_INT, &a.steps, "policy updates", 1, 1e9},
        {"prompts", FLAG_INT, &prompts, "prompts per rollout batch", 1, 4096},
        {"group", FLAG_INT, &group, "G: rollouts per prompt", 2, 1024},
        {"max-new", FLAG_INT, &max_new, "response length limit (tokens)", 1, 1 << 20},
        {"mu", FLAG_INT, &mu,
         "policy updates per rollout batch (with 1 the ratio is exactly 1 and the clip never acts)", 1, 64},
        {"dynamic-sampling", FLAG_INT, &oversample,
         "DAPO: roll out N x --prompts problems and train on the first --prompts groups with a signal (1: off)", 1, 64},
        {"overlong-filter", FLAG_BOOL, &j.cfg.overlong_filter, "DAPO: responses cut at --max-new carry no loss"},
        {"temperature", FLAG_DOUBLE, &j.cfg.sampler.temperature, "rollout temperature", 0, 100},
        {"top-p", FLAG_DOUBLE, &j.cfg.sampler.top_p, "rollout nucleus mass", 0, 1},
        {"eps-low", FLAG_DOUBLE, &j.cfg.eps_low, "ratio clip below 1", 0, 1},
        {"eps-high", FLAG_DOUBLE, &j.cfg.eps_high, "ratio clip above 1 (DAPO: 0.28)", 0, 10},
        {"beta", FLAG_DOUBLE, &j.cfg.beta, "KL weight to the frozen base (0: no reference model)", 0, 100},
        {"template", FLAG_STRING, &a.tmpl, "prompt template: r1 (the R1-Zero paper's) or short", .choices = "r1|short"},
        {"loss-agg", FLAG_STRING, &a.agg, "loss aggregation: grpo (per-sequence mean), dr_grpo (constant) or dapo (per token)", .choices = "grpo|dr_grpo|dapo"},
        {"no-std", FLAG_BOOL, &a.no_std, "advantages without the std division (Dr. GRPO)"},
        {"skip-equal", FLAG_BOOL, &skip_equal, "drop groups whose rewards are all equal"},
        {"lr", FLAG_DOUBLE, &a.lr, "learning rate (AdamW, constant after warm-up)", 0, 10},
        {"weight-decay", FLAG_DOUBLE, &a.wd, "AdamW weight decay", 0, 10},
        {"clip", FLAG_DOUBLE, &a.clip, "global gradient-norm clip (0: off)", 0, 1e9},
        {"eval-every", FLAG_INT, &a.eval_every, "held-out pass@1 every N steps (0: at the end)", 0, 1e9},
        {"eval-problems", FLAG_INT, &a.eval_problems, "held-out problems scored at each evaluation (0: all)", 0, 1e9},
        {"eval-k", FLAG_INT, &j.eval_k, "samples per held-out problem", 1, 1024},
        GENC_CKPT_FLAG_ENTRIES(a),
        {"out", FLAG_STRING, &a.out, "output folder"},
        {"seed", FLAG_INT, &a.seed, "random seed (training problems, rollouts)", 0, 9.2e18},
        {"rollout-streams", FLAG_STRING, &a.streams, "rollout sampling: shared (one random stream, one process), rollout "
         "(a stream per rollout, a generate call per group: the same batch for any rank count) or auto (shared in one "
         "process, rollout under mpirun)", .choices = "auto|shared|rollout"},
        GENC_DIST_FLAG_ENTRY(a),
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int n_flags = (int)(sizeof flags / sizeof *flags);
    int r = genc_flags_parse("lm grpo", "Reinforcement learning with GRPO and rule-based rewards (R1-Zero).", flags,
                             n_flags, argc, argv);
    if (!r) r = genc_task_flags_refuse("lm grpo", flags, n_flags, &a.tf);
    if (r) return r == 1 ? 0 : 2;
    j.cfg.prompts = prompts * oversample, j.cfg.group = group, j.cfg.max_new = max_new, j.cfg.mu = mu;
    j.cfg.keep_groups = oversample > 1 ? prompts : 0;
    j.cfg.scale_std = !a.no_std, j.cfg.skip_equal = skip_equal, j.seed = (uint64_t)a.seed;
    j.eval_max_new = max_new;
    return genc_cli_run(a.threads, a.seed, run, &(run_args){&a, &j});
}
