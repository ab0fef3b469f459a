/* Internal pieces of GRPO shared by the one-process rollouts (grpo.c), the rollouts split over
 * data-parallel ranks (grpo_split.c) and the trainer's side of data parallelism (grpo_dist.c). */
#ifndef GENC_GRPO_INTERNAL_H
#define GENC_GRPO_INTERNAL_H
#include "genc/grpo_train.h"

/* The temperature the ratio and KL use: the sampling one (greedy sampling: 1). */
double genc_grpo_temp(const genc_grpo_config *c);
/* out[t] = the log-prob of model m's action at every masked position of r, at temperature temp
 * (no grad); 0 elsewhere. */
genc_status genc_grpo_logp_of(genc_ctx *ctx, genc_lm *m, const genc_grpo_rollouts *r, double temp, genc_real *out);
/* Score the o->n_all rollouts of res (rollout i answers pr[i / group]): rewards, think tokens,
 * texts and the batch means; per (NULL: none) gets [n_all, 4]: each rollout's accuracy, format,
 * think and length. */
genc_status genc_grpo_score(genc_ctx *ctx, genc_grpo_rollouts *o, const genc_gen_result *res,
                            const genc_task_problem *pr, const genc_grpo_config *cfg, const genc_tokenizer *tok,
                            double *per);

/* ---- data parallelism (grpo_dist.c); every call is a no-op with one rank ---- */
/* Refuse a run whose prompts do not split over the ranks, or ranks started differently (flags,
 * model weights, problem sets, genc version). */
genc_status genc_grpo_dist_start(genc_ctx *ctx, const genc_lm *policy, const genc_grpo_train_config *c,
                                 const char *cfg_json);
/* After a step: the objective's statistics (means over this rank's response tokens) become the
 * means over the whole batch's. */
genc_status genc_grpo_dist_stats(genc_ctx *ctx, genc_dist *d, const genc_grpo_rollouts *r, int64_t step,
                                 genc_grpo_stats *st);
/* The loss of a rank whose part of the batch has no training rows (every one of its groups was
 * dropped): 0, with a zero gradient, so that it still joins the step's gradient exchange. */
genc_tensor *genc_grpo_empty_loss(genc_ctx *ctx, const genc_params *p);
#endif
