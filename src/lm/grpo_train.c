/* GRPO training (include/genc/grpo_train.h): the R1-Zero recipe's hooks of the one training
 * loop (problems, rollouts every mu updates, the policy loss, per-step metrics, held-out
 * pass@1) and its set-up (optimiser -> resume -> metrics -> loop). */
#include "genc/grpo_train.h"
#include "lm/grpo_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const genc_grpo_train_config *c;
    genc_lm *policy, *ref;
    genc_tokenizer *tok;
    genc_task_problem *problems;
    genc_grpo_rollouts roll;
    genc_grpo_stats stats;
    genc_metrics *log;
} grpo_job;

/* The next cfg.prompts training problems; the stream position lives in st->pos. */
static genc_status draw_problems(genc_ctx *ctx, grpo_job *j, genc_train_state *st) {
    for (int64_t p = 0; p < j->c->grpo.prompts; p++) {
        genc_task_problem_free(&j->problems[p]);
        if (j->c->train_set) {
            const genc_task_problem *src = &j->c->train_set->problems[st->pos++ % j->c->train_set->n];
            j->problems[p] = *src;
            j->problems[p].prompt = strdup(src->prompt), j->problems[p].answer = strdup(src->answer);
            if (!j->problems[p].prompt || !j->problems[p].answer) return genc_error(ctx, GENC_ENOMEM, "out of memory");
            continue;
        }
        uint64_t index = (uint64_t)st->pos;
        genc_status s = genc_task_next_train(ctx, &j->c->task, j->c->eval_set, j->c->seed, &index, &j->problems[p]);
        if (s) return s;
        st->pos = (int64_t)index;
    }
    return GENC_OK;
}

static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    grpo_job *j = user;
    const genc_grpo_train_config *c = j->c;
    /* n_all, not rows: with several ranks a rank's part may have no rows, and every rank must
     * roll out at the same steps (in one process n_all is 0 exactly when rows is). */
    if (st->step % c->grpo.mu == 0 || !j->roll.n_all) {
        genc_grpo_rollouts_free(&j->roll);
        if (draw_problems(ctx, j, st)) return NULL;
        genc_status s = c->row_streams ? genc_grpo_rollout_split(ctx, j->policy, j->ref, j->tok, j->problems, &c->grpo,
                                                                 c->dist, &j->roll)
                                       : genc_grpo_rollout(ctx, j->policy, j->ref, j->tok, j->problems, &c->grpo, &j->roll);
        if (s) return NULL;
    }
    *items = (double)j->roll.n_all;
    if (!j->roll.rows) { /* every group of this rank's part was dropped */
        j->stats = (genc_grpo_stats){0};
        return genc_grpo_empty_loss(ctx, &j->policy->params);
    }
    return genc_grpo_policy_loss(ctx, j->policy, &j->roll, &c->grpo, &j->stats);
}

static genc_status after_step(genc_ctx *ctx, void *user, genc_train_state *st) {
    grpo_job *j = user;
    const genc_grpo_rollouts *r = &j->roll;
    /* The balancing bias stays as pre-training left it: moving it would re-route the base
     * model's tokens under the policy (seen: accuracy 45% -> 0% in ten steps). */
    genc_metric_field rw = {"rewards", r->reward, r->n_all};
    genc_status s = genc_grpo_dist_stats(ctx, j->c->dist, r, st->step, &j->stats);
    if (s) return s;
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
    o.k = j->c->eval_k, o.max_new = j->c->eval_max_new, o.sampler = j->c->grpo.sampler, o.reward = j->c->grpo.reward;
    o.template_kind = j->c->grpo.template_kind;
    genc_status s = genc_task_evaluate(ctx, j->policy, j->tok, j->c->eval_set, &o, &e);
    if (s) return s;
    *metric = -e.pass1;
    if (j->c->on_eval) j->c->on_eval(j->c->user, st->step, &e);
    return genc_metrics_log(log, "{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "event", "eval", "step",
                            (json_int_t)st->step, "pass1", e.pass1, "consk", e.consk, "format", e.format_rate,
                            "think", e.think_rate, "think_tokens", e.think_len, "correct_think", e.correct_think,
                            "length", e.mean_len, "k", (json_int_t)e.k, "problems", (json_int_t)e.problems);
}

static genc_status save_tokenizer(genc_ctx *ctx, void *user, genc_st_writer *w) {
    return genc_tokenizer_add_to(user, ctx, w);
}

static genc_status run(genc_ctx *ctx, grpo_job *j, genc_optim *o, const char *cfg_json, genc_train_state *st) {
    const genc_grpo_train_config *c = j->c;
    genc_train_config tc = {.steps = c->steps, .eval_every = c->eval_every, .save_every = c->save_every,
                            .clip = c->clip, .checkpoint = c->checkpoint,
                            .best_checkpoint = c->best_checkpoint, .config_json = cfg_json, .label = "grpo",
                            .metrics = j->log, .stop = c->stop, .stop_at = c->stop_at, .dist = c->dist,
                            .ckpt_extra = save_tokenizer, .ckpt_extra_user = j->tok,
                            .schedule = {.kind = GENC_LR_CONSTANT,
                                         .warmup = (int64_t)(c->warmup_frac * (double)c->steps)}};
    genc_train_hooks h = {.user = j, .step_loss = step_loss, .evaluate = evaluate, .after_step = after_step};
    if (c->on_start) c->on_start(c->user, st->step);
    return genc_train_run(ctx, &tc, &j->policy->params, o, &h, st);
}

genc_status genc_grpo_train(genc_ctx *ctx, genc_lm *policy, genc_lm *ref, genc_tokenizer *tok,
                            const genc_grpo_train_config *c, genc_train_state *st) {
    *st = (genc_train_state){.data_seed = c->seed, .best_metric = INFINITY};
    grpo_job j = {.c = c, .policy = policy, .ref = ref, .tok = tok};
    genc_optim o = {0};
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = c->lr, oc.weight_decay = c->weight_decay, oc.beta2 = 0.99;
    genc_status s = genc_optim_init(ctx, &o, &policy->params, &oc);
    char *cfg_json = s ? NULL : genc_lm_config_json(&policy->cfg);
    if (!s && !cfg_json) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && c->resume) s = genc_checkpoint_resume(ctx, c->checkpoint, cfg_json, &policy->params, &o, st);
    if (!s) genc_rng_set_offset(ctx, st->rng_offset);
    if (!s && genc_dist_size(c->dist) > 1 && !c->row_streams)
        s = genc_error(ctx, GENC_EINVAL, "grpo over %d ranks needs per-rollout random streams (row_streams)",
                       genc_dist_size(c->dist));
    if (!s) s = genc_grpo_dist_start(ctx, policy, c, cfg_json);
    j.problems = calloc((size_t)c->grpo.prompts, sizeof *j.problems);
    if (!s && !j.problems) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    bool writer = genc_dist_rank(c->dist) == 0; /* rank 0 alone writes the metrics */
    if (!s && writer && c->metrics && !(j.log = genc_metrics_open(ctx, c->metrics, c->resume))) s = genc_ctx_status(ctx);
    if (!s) s = run(ctx, &j, &o, cfg_json, st);
    for (int64_t p = 0; j.problems && p < c->grpo.prompts; p++) genc_task_problem_free(&j.problems[p]);
    free(j.problems), free(cfg_json);
    genc_grpo_rollouts_free(&j.roll);
    genc_metrics_close(j.log);
    genc_optim_free(&o);
    return s;
}
