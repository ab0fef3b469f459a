/* genc GRPO: reinforcement learning of a language model with rule-based rewards, the
 * DeepSeek-R1-Zero recipe (shared/reference/r1-grpo.md). Each step samples G rollouts per
 * prompt with the current policy, scores them, normalises rewards within each group into
 * advantages, and minimises the clipped-ratio objective with a k3 KL to a frozen reference
 * (genc_grpo_loss in ops.h). */
#ifndef GENC_GRPO_H
#define GENC_GRPO_H

#include "lm.h"
#include "lm_infer.h"
#include "ops.h"
#include "tasks.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Prompt templates: GENC_TEMPLATE_R1 is the R1-Zero paper's; GENC_TEMPLATE_SHORT keeps its
 * <think>/<answer> instruction in a few tokens, for models with short contexts. */
typedef enum { GENC_TEMPLATE_SHORT, GENC_TEMPLATE_R1 } genc_template;

typedef struct genc_grpo_config {
    int64_t prompts;     /* prompts per rollout batch */
    int64_t group;       /* G rollouts per prompt */
    int64_t max_new;     /* response length limit */
    int64_t mu;          /* policy updates per rollout batch */
    genc_sampler sampler;
    double eps_low, eps_high, beta;
    double adv_eps;      /* A = (r - mean) / (std + adv_eps) */
    bool scale_std;      /* false: A = r - mean (Dr. GRPO) */
    bool skip_equal;     /* drop groups whose rewards are all equal (no signal) */
    genc_grpo_agg agg;
    genc_reward_cfg reward;
    bool score_only;     /* rollouts and rewards only: no training rows or log-probs */
    genc_template template_kind;
} genc_grpo_config;
void genc_grpo_config_default(genc_grpo_config *c);

char *genc_grpo_prompt(genc_template t, const char *question); /* malloc'd text */
/* The template's token ids (specials as single tokens); caller frees *ids. */
genc_status genc_grpo_encode_prompt(genc_ctx *ctx, genc_tokenizer *tok, genc_template t, const char *question,
                                    int32_t **ids, size_t *n);

/* One rollout batch, ready for the policy loss. Rows are prompt + response, right-padded,
 * so the training forward needs no attention mask; position t's action is token t + 1. */
typedef struct genc_grpo_rollouts {
    int64_t rows, T;
    int32_t *tokens;                  /* [rows, T] */
    int32_t *actions;                 /* [rows * T] */
    genc_real *mask, *weight, *adv;   /* [rows * T] */
    genc_real *old_logp, *ref_logp;   /* [rows * T] (ref_logp NULL when beta == 0) */
    /* every rollout of the batch, before groups are skipped */
    int64_t n_all, kept_groups;
    double mean_reward, accuracy, format_rate, mean_len;
    double *reward;                   /* [n_all] */
    char **text;                      /* [n_all] responses (for --show) */
} genc_grpo_rollouts;

/* Sample cfg->group rollouts for each of cfg->prompts problems, score them, compute
 * advantages and the old/reference log-probs. Uses (and resets) the step arena. */
genc_status genc_grpo_rollout(genc_ctx *ctx, genc_lm *policy, genc_lm *ref, genc_tokenizer *tok,
                              const genc_task_problem *problems, const genc_grpo_config *cfg, genc_grpo_rollouts *out);
void genc_grpo_rollouts_free(genc_grpo_rollouts *r);
/* The GRPO loss of the current policy on a rollout batch (records the graph). */
genc_tensor *genc_grpo_policy_loss(genc_ctx *ctx, genc_lm *policy, const genc_grpo_rollouts *r,
                                   const genc_grpo_config *cfg, genc_grpo_stats *stats);

/* Held-out evaluation at fixed sampling settings: k samples per problem; pass@1 is the
 * mean accuracy over all samples, cons@k the accuracy of the majority answer. */
typedef struct genc_task_eval {
    int64_t problems, k;
    double pass1, consk, format_rate, mean_len;
} genc_task_eval;
typedef genc_status (*genc_task_eval_show_fn)(void *user, const genc_task_problem *p, const char *response,
                                              const genc_reward *r);
genc_status genc_task_evaluate(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_task_set *set, int64_t k,
                               const genc_sampler *s, int64_t max_new, const genc_reward_cfg *rc,
                               genc_task_eval_show_fn show, void *user, genc_task_eval *out);

#ifdef __cplusplus
}
#endif
#endif
