/* genc lm grpo: improve a base language model's reasoning with GRPO and rule-based rewards
 * alone (the DeepSeek-R1-Zero recipe): rollouts from the policy, group-normalised
 * advantages, the clipped objective with an optional KL to the frozen base, periodic
 * held-out pass@1, checkpoints and resume. */
#include "cli/cli.h"
#include "cli/lm_common.h"
#include "cli/task_flags.h"
#include "genc/grpo.h"
#include "genc/png.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    genc_lm *policy, *ref;
    genc_tokenizer *tok;
    genc_grpo_config cfg;
    genc_task_cfg task;
    const genc_task_set *heldout, *train_set; /* train_set: user problems (NULL: generated) */
    uint64_t seed;
    genc_task_problem *problems;
    genc_grpo_rollouts roll;
    genc_grpo_stats stats;
    genc_metrics *log;
    int64_t eval_k, eval_max_new;
} grpo_job;

/* The next cfg.prompts training problems; the stream position lives in st->pos. */
static genc_status draw_problems(genc_ctx *ctx, grpo_job *j, genc_train_state *st) {
    for (int64_t p = 0; p < j->cfg.prompts; p++) {
        genc_task_problem_free(&j->problems[p]);
        if (j->train_set) {
            const genc_task_problem *src = &j->train_set->problems[st->pos++ % j->train_set->n];
            j->problems[p] = *src;
            j->problems[p].prompt = strdup(src->prompt), j->problems[p].answer = strdup(src->answer);
            if (!j->problems[p].prompt || !j->problems[p].answer) return genc_error(ctx, GENC_ENOMEM, "out of memory");
            continue;
        }
        uint64_t index = (uint64_t)st->pos;
        genc_status s = genc_task_next_train(ctx, &j->task, j->heldout, j->seed, &index, &j->problems[p]);
        if (s) return s;
        st->pos = (int64_t)index;
    }
    return GENC_OK;
}

static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    grpo_job *j = user;
    if (st->step % j->cfg.mu == 0 || !j->roll.rows) {
        genc_grpo_rollouts_free(&j->roll);
        if (draw_problems(ctx, j, st) || genc_grpo_rollout(ctx, j->policy, j->ref, j->tok, j->problems, &j->cfg, &j->roll))
            return NULL;
    }
    *items = (double)j->roll.n_all;
    return genc_grpo_policy_loss(ctx, j->policy, &j->roll, &j->cfg, &j->stats);
}

static genc_status after_step(genc_ctx *ctx, void *user, genc_train_state *st) {
    grpo_job *j = user;
    const genc_grpo_rollouts *r = &j->roll;
    /* The balancing bias stays as pre-training left it: moving it would re-route the base
     * model's tokens under the policy (seen: accuracy 45% -> 0% in ten steps). */
    genc_metric_field rw = {"rewards", r->reward, r->n_all};
    return genc_metrics_log_fields(j->log, &rw, 1, "{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I}",
                                   "event", "grpo", "step", (json_int_t)st->step, "reward", r->mean_reward, "accuracy",
                                   r->accuracy, "format", r->format_rate, "think", r->think_rate, "think_tokens",
                                   r->think_len, "length", r->mean_len, "kl", j->stats.kl, "clip_frac",
                                   j->stats.clip_frac, "entropy", j->stats.entropy, "ratio", j->stats.ratio,
                                   "groups_with_signal", (json_int_t)r->kept_groups);
}

static genc_status evaluate(genc_ctx *ctx, void *user, const genc_train_state *st, double *metric, genc_metrics *log) {
    grpo_job *j = user;
    genc_task_eval e;
    genc_task_eval_opts o;
    genc_task_eval_opts_default(&o);
    o.k = j->eval_k, o.max_new = j->eval_max_new, o.sampler = j->cfg.sampler, o.reward = j->cfg.reward;
    o.template_kind = j->cfg.template_kind;
    genc_status s = genc_task_evaluate(ctx, j->policy, j->tok, j->heldout, &o, &e);
    if (s) return s;
    *metric = -e.pass1;
    fprintf(stderr, "\nstep %lld: held-out pass@1 %.1f%%, cons@%lld %.1f%%, format %.1f%%, think %.1f%%, length %.1f\n",
            (long long)st->step, 100 * e.pass1, (long long)e.k, 100 * e.consk, 100 * e.format_rate,
            100 * e.think_rate, e.mean_len);
    return genc_metrics_log(log, "{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "event", "eval", "step",
                            (json_int_t)st->step, "pass1", e.pass1, "consk", e.consk, "format", e.format_rate,
                            "think", e.think_rate, "think_tokens", e.think_len, "correct_think", e.correct_think,
                            "length", e.mean_len, "k", (json_int_t)e.k, "problems", (json_int_t)e.problems);
}

typedef struct {
    const char *base, *out, *agg, *tmpl;
    int64_t steps, seed, threads, eval_every, save_every, stop_at, eval_problems;
    double lr, wd, clip, warmup_frac;
    bool resume, no_std;
    genc_task_flags tf;
} grpo_args;

static genc_status save_tokenizer(genc_ctx *ctx, void *user, genc_st_writer *w) {
    return genc_tokenizer_add_to(user, ctx, w);
}

typedef struct {
    grpo_args *a;
    grpo_job *j;
} run_args;

static genc_status run(genc_ctx *ctx, void *args) {
    grpo_args *a = ((run_args *)args)->a;
    grpo_job *j = ((run_args *)args)->j;
    genc_lm policy = {0}, ref = {0};
    genc_tokenizer *tok = NULL, *tok2 = NULL;
    genc_task_set heldout = {0}, user_train = {0}, eval_set;
    genc_optim o = {0};
    char ckpt[1024], mpath[1024];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", a->out);
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", a->out);
    genc_train_state st = {.data_seed = (uint64_t)a->seed, .best_metric = INFINITY};
    genc_status s = genc_cli_out_dir(ctx, a->out);
    if (!s) s = genc_task_flags_apply(ctx, &a->tf, &j->task, &j->cfg.reward);
    if (!s) s = genc_grpo_agg_parse(ctx, a->agg, &j->cfg.agg);
    if (!s) s = genc_grpo_template_parse(ctx, a->tmpl, &j->cfg.template_kind);
    if (!s) s = genc_sampler_check(ctx, &j->cfg.sampler);
    if (!s) s = genc_lm_load(ctx, a->base, true, &policy, &tok);
    if (!s && j->cfg.beta > 0) s = genc_lm_load(ctx, a->base, true, &ref, &tok2);
    genc_task_flags tf_gen = a->tf;
    tf_gen.problems = NULL; /* --problems are training prompts here; held-out ones are generated */
    if (!s) s = genc_task_flags_heldout(ctx, &tf_gen, &j->task, &heldout);
    if (!s && a->tf.problems) s = genc_task_set_load_jsonl(ctx, a->tf.problems, &user_train);
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = a->lr, oc.weight_decay = a->wd, oc.beta2 = 0.99;
    if (!s) s = genc_optim_init(ctx, &o, &policy.params, &oc);
    char *cfg_json = s ? NULL : genc_lm_config_json(&policy.cfg);
    if (!s && a->resume) s = genc_checkpoint_resume(ctx, ckpt, cfg_json, &policy.params, &o, &st);
    if (!s) genc_rng_set_offset(ctx, st.rng_offset);
    j->problems = calloc((size_t)j->cfg.prompts, sizeof *j->problems);
    if (!s && !j->problems) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && !(j->log = genc_metrics_open(ctx, mpath, a->resume))) s = genc_ctx_status(ctx);
    eval_set = heldout;
    if (!s && a->eval_problems > 0 && a->eval_problems < heldout.n) eval_set.n = a->eval_problems;
    if (!s) {
        j->policy = &policy, j->ref = j->cfg.beta > 0 ? &ref : NULL, j->tok = tok, j->heldout = &heldout;
        j->train_set = a->tf.problems ? &user_train : NULL;
        printf("grpo: %s task, %lld held-out problems (%lld evaluated), %lld steps of %lld prompts x %lld rollouts%s\n",
               a->tf.task, (long long)heldout.n, (long long)eval_set.n, (long long)a->steps,
               (long long)(j->cfg.keep_groups ? j->cfg.keep_groups : j->cfg.prompts), (long long)j->cfg.group,
               j->cfg.keep_groups ? " (dynamic sampling)" : "");
        genc_task_baselines_print(stdout, &eval_set);
        fflush(stdout);
        genc_train_config tc = {.steps = a->steps, .eval_every = a->eval_every, .save_every = a->save_every,
                                .clip = a->clip, .checkpoint = ckpt, .config_json = cfg_json, .label = "grpo",
                                .metrics = j->log, .stop = &genc_cli_stop, .stop_at = a->stop_at,
                                .ckpt_extra = save_tokenizer, .ckpt_extra_user = tok,
                                .schedule = {.kind = GENC_LR_CONSTANT, .lr = a->lr,
                                             .warmup = (int64_t)(a->warmup_frac * (double)a->steps)}};
        j->heldout = &eval_set;
        genc_train_hooks h = {.user = j, .step_loss = step_loss, .evaluate = evaluate, .after_step = after_step};
        s = genc_cli_train_run(ctx, &tc, &policy.params, &o, &h, &st);
        if (!s) printf("best held-out pass@1 %.1f%% after %lld steps; wrote %s\n", -100 * st.best_metric,
                       (long long)st.step, ckpt);
    }
    char png[1024];
    snprintf(png, sizeof png, "%s/reward.png", a->out);
    if (!s) s = genc_plot_jsonl(ctx, mpath, png, "step", (const char *[]){"reward", "accuracy", "format"}, 3, false);
    snprintf(png, sizeof png, "%s/length.png", a->out);
    if (!s) s = genc_plot_jsonl(ctx, mpath, png, "step", (const char *[]){"length", "think_tokens"}, 2, false);
    snprintf(png, sizeof png, "%s/think.png", a->out);
    if (!s) s = genc_plot_jsonl(ctx, mpath, png, "step", (const char *[]){"think", "accuracy"}, 2, false);
    for (int64_t p = 0; j->problems && p < j->cfg.prompts; p++) genc_task_problem_free(&j->problems[p]);
    free(j->problems), free(cfg_json);
    genc_grpo_rollouts_free(&j->roll);
    genc_metrics_close(j->log);
    genc_optim_free(&o), genc_lm_free(&policy), genc_lm_free(&ref);
    genc_tokenizer_free(tok), genc_tokenizer_free(tok2);
    genc_task_set_free(&heldout), genc_task_set_free(&user_train);
    return s;
}

int genc_cli_lm_grpo(int argc, char **argv) {
    grpo_args a = {.base = "runs/lm/checkpoint.safetensors", /* lm train's default --out */ .out = "runs/grpo", .agg = "grpo", .tmpl = "r1", .steps = 100,
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
        {"template", FLAG_STRING, &a.tmpl, "prompt template, r1 (the R1-Zero paper's) or short"},
        {"loss-agg", FLAG_STRING, &a.agg, "grpo (per-sequence mean), dr_grpo (constant) or dapo (per token)"},
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
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("lm grpo", "Reinforcement learning with GRPO and rule-based rewards (R1-Zero).", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    j.cfg.prompts = prompts * oversample, j.cfg.group = group, j.cfg.max_new = max_new, j.cfg.mu = mu;
    j.cfg.keep_groups = oversample > 1 ? prompts : 0;
    j.cfg.scale_std = !a.no_std, j.cfg.skip_equal = skip_equal, j.seed = (uint64_t)a.seed;
    j.eval_max_new = max_new;
    return genc_cli_run(a.threads, a.seed, run, &(run_args){&a, &j});
}
