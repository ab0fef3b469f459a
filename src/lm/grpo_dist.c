/* The GRPO recipe's side of data parallelism (grpo_train.c calls these when the run has several
 * ranks): the start-up check that every rank was started alike (flags, task, reward, model
 * weights, problem sets, genc version) and that the prompts split; the objective's statistics
 * made global after each step; and the loss of a rank whose part of the batch has no rows. */
#include "lm/grpo_internal.h"
#include "lm/lm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* A hash of the policy's weights and of the problem sets' prompts and answers. */
static uint64_t hash_inputs(const genc_lm *policy, const genc_grpo_train_config *c) {
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < policy->params.n; i++) {
        const genc_tensor *t = policy->params.t[i];
        h = fnv(h, t->name, strlen(t->name)), h = fnv(h, t->data, (size_t)genc_numel(t) * sizeof *t->data);
    }
    const genc_task_set *sets[2] = {c->train_set, c->eval_set};
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; sets[k] && i < sets[k]->n; i++) {
            const genc_task_problem *p = &sets[k]->problems[i];
            h = fnv(h, p->prompt, strlen(p->prompt) + 1), h = fnv(h, p->answer, strlen(p->answer) + 1);
        }
    return h;
}

genc_status genc_grpo_dist_start(genc_ctx *ctx, const genc_lm *policy, const genc_grpo_train_config *c,
                                 const char *cfg_json) {
    int R = genc_dist_size(c->dist);
    if (R == 1) return GENC_OK;
    if (c->grpo.prompts % R)
        return genc_error(ctx, GENC_EINVAL, "grpo: %lld prompts per rollout batch do not split over %d ranks: expected "
                          "a multiple of %d", (long long)c->grpo.prompts, R, R);
    const genc_grpo_config *g = &c->grpo;
    const genc_task_cfg *t = &c->task;
    const genc_reward_cfg *w = &g->reward;
    size_t n = strlen(cfg_json) + 2048;
    char *desc = malloc(n);
    if (!desc) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    snprintf(desc, n, "genc %s\n%s\ngrpo %lld %lld %lld %lld %.17g %lld %.17g %.17g %.17g %.17g %.17g %d %d %lld %d %d %d "
             "%d %d\nreward %d %.17g %.17g %d %.17g %.17g\ntask %d %d %d %.4s %d %d %d %d %lld %lld\ntrain %lld %lld %lld "
             "%lld %lld %lld %llu %.17g %.17g %.17g %.17g %d %d\ninputs %016llx", GENC_VERSION, cfg_json,
             (long long)g->prompts, (long long)g->group, (long long)g->max_new, (long long)g->mu, g->sampler.temperature,
             (long long)g->sampler.top_k, g->sampler.top_p, g->eps_low, g->eps_high, g->beta, g->adv_eps, g->scale_std,
             g->skip_equal, (long long)g->keep_groups, g->overlong_filter, (int)g->agg, g->score_only,
             (int)g->template_kind, g->empty_think, (int)w->mode, w->w_acc, w->w_fmt, w->accuracy_needs_format,
             w->tz_format, w->tz_correct, (int)t->kind, t->a_digits, t->b_digits, t->ops, t->allow_negative, t->terms,
             t->n_numbers, t->max_number, (long long)t->target_min, (long long)t->target_max, (long long)c->steps,
             (long long)c->eval_every, (long long)c->save_every, (long long)c->stop_at, (long long)c->eval_k,
             (long long)c->eval_max_new, (unsigned long long)c->seed, c->lr, c->weight_decay, c->clip, c->warmup_frac,
             c->resume, c->row_streams, (unsigned long long)hash_inputs(policy, c));
    genc_status s = genc_dist_check_same(ctx, c->dist, "configuration (flags, model, problems)", desc, strlen(desc));
    free(desc);
    return s;
}

genc_status genc_grpo_dist_stats(genc_ctx *ctx, genc_dist *d, const genc_grpo_rollouts *r, int64_t step,
                                 genc_grpo_stats *st) {
    if (genc_dist_size(d) == 1) return GENC_OK;
    double counted = 0; /* the response tokens the loss counted here (genc_grpo_loss: weight != 0) */
    for (int64_t i = 0; r->weight && i < r->rows * r->T; i++) counted += r->weight[i] != 0;
    double v[5] = {st->kl * counted, st->clip_frac * counted, st->entropy * counted, st->ratio * counted, counted};
    char at[64];
    snprintf(at, sizeof at, "step %lld (GRPO statistics)", (long long)step);
    genc_status s = genc_dist_sum_f64(ctx, d, v, 5, at);
    double c = v[4] > 0 ? v[4] : 1;
    if (!s) st->kl = v[0] / c, st->clip_frac = v[1] / c, st->entropy = v[2] / c, st->ratio = v[3] / c;
    return s;
}

genc_tensor *genc_grpo_empty_loss(genc_ctx *ctx, const genc_params *p) {
    for (int i = 0; i < p->n; i++)
        if (p->t[i]->requires_grad) return genc_scale(ctx, genc_sum_all(ctx, p->t[i]), 0.0);
    genc_error(ctx, GENC_ESTATE, "grpo: the policy has no trainable parameter");
    return NULL;
}
