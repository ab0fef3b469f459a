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
/* Every prompt ends with the assistant's opening think tag; responses are scored (and
 * shown) with it in front. */
#define GENC_GRPO_PREFILL "<think>"
#define GENC_GRPO_PREFILL_EMPTY "<think></think>"

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
    int64_t keep_groups; /* > 0: DAPO's dynamic sampling: of the prompts given (over-sampled by the
                            caller), train on the first keep_groups groups that carry a signal */
    bool overlong_filter;/* DAPO: responses cut at max_new carry no loss (they are neither right nor wrong) */
    genc_grpo_agg agg;
    genc_reward_cfg reward;
    bool score_only;     /* rollouts and rewards only: no training rows or log-probs */
    genc_template template_kind;
    bool empty_think;    /* the prompt ends "<think></think>" (the no-thinking ablation) */
} genc_grpo_config;
void genc_grpo_config_default(genc_grpo_config *c);

/* "r1" or "short" (an error naming --template otherwise). */
genc_status genc_grpo_template_parse(genc_ctx *ctx, const char *name, genc_template *out);
/* The prompt text, ending with the prefill (GENC_GRPO_PREFILL, or GENC_GRPO_PREFILL_EMPTY
 * when empty_think); malloc'd. */
char *genc_grpo_prompt(genc_template t, bool empty_think, const char *question);
/* The template's token ids (specials as single tokens); caller frees *ids. */
genc_status genc_grpo_encode_prompt(genc_ctx *ctx, genc_tokenizer *tok, genc_template t, bool empty_think,
                                    const char *question, int32_t **ids, size_t *n);

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
    double think_rate, think_len;     /* non-blank think blocks; mean tokens before </think> */
    double *reward;                   /* [n_all] */
    int64_t *think_tokens;            /* [n_all] tokens inside the think block (0 when none) */
    char **text;                      /* [n_all] responses (for --show) */
} genc_grpo_rollouts;

/* The pieces of genc_grpo_rollout, public for tests. Advantages of P groups of G rewards:
 * A = (r - mean) / (std + adv_eps) with the sample std (G - 1), or r - mean without
 * scale_std; keep[p] says which groups train (all; or those whose rewards differ with
 * skip_equal; or the first keep_groups of those). Returns the groups whose rewards differ. */
int64_t genc_grpo_advantages(const double *r, int64_t P, int64_t G, const genc_grpo_config *c, double *adv, bool *keep);
/* o->n_all rollouts (prompt p's ids pids[p] of plen[p] tokens, rollout i's response in res)
 * laid out as right-padded rows of the kept groups: tokens, actions[k] = tokens[k + 1],
 * mask 1 at positions P-1 .. P+L-2 (those that predict a response token; none for a
 * response cut at max_new under overlong_filter) and each row's advantage. */
genc_status genc_grpo_build_rows(genc_ctx *ctx, genc_grpo_rollouts *o, const int32_t *const *pids,
                                 const int64_t *plen, const genc_gen_result *res, const double *adv, const bool *keep,
                                 int64_t G, int32_t pad, bool overlong_filter);
/* Sample cfg->group rollouts for each of cfg->prompts problems, score them, compute
 * advantages and the old/reference log-probs. Uses (and resets) the step arena. */
genc_status genc_grpo_rollout(genc_ctx *ctx, genc_lm *policy, genc_lm *ref, genc_tokenizer *tok,
                              const genc_task_problem *problems, const genc_grpo_config *cfg, genc_grpo_rollouts *out);
/* The same batch split over the ranks of d (NULL or one rank: all of it here): rank r generates
 * groups [r P / R, (r + 1) P / R) (P = cfg->prompts, a multiple of R), one group per generate
 * call, rollout i of the batch drawing its k-th token from draw base + i max_new + k of the
 * context's stream (base: a block every rank reserves alike), so its tokens do not depend on
 * the rank count. Rewards and statistics are exchanged: n_all, reward, think_tokens, the means,
 * kept_groups and the advantages are the whole batch's on every rank (text only for this rank's
 * rollouts, NULL elsewhere); rows, tokens and the rest hold this rank's kept groups (rows may
 * be 0), weighted for the whole batch and multiplied by R, since the ranks' gradients are
 * averaged. Not bit-identical to genc_grpo_rollout: that one draws from one shared stream. */
genc_status genc_grpo_rollout_split(genc_ctx *ctx, genc_lm *policy, genc_lm *ref, genc_tokenizer *tok,
                                    const genc_task_problem *problems, const genc_grpo_config *cfg, genc_dist *d,
                                    genc_grpo_rollouts *out);
void genc_grpo_rollouts_free(genc_grpo_rollouts *r);
/* The GRPO loss of the current policy on a rollout batch (records the graph). */
genc_tensor *genc_grpo_policy_loss(genc_ctx *ctx, genc_lm *policy, const genc_grpo_rollouts *r,
                                   const genc_grpo_config *cfg, genc_grpo_stats *stats);

/* Held-out evaluation at fixed sampling settings: k samples per problem; pass@1 is the
 * mean accuracy over all samples, cons@k the accuracy of the majority answer (votes go to
 * the canonical answers of well-formed responses only, under the same rule as pass@1). */
typedef struct genc_task_eval {
    int64_t problems, k;
    double pass1, consk, format_rate, mean_len;
    double think_rate;    /* well-formed with a non-blank think block */
    double think_len;     /* mean tokens inside the think block, over all samples */
    double correct_think; /* share of the correct samples whose think block is not blank */
} genc_task_eval;
typedef genc_status (*genc_task_eval_show_fn)(void *user, const genc_task_problem *p, const char *response,
                                              const genc_reward *r);
typedef struct genc_task_eval_opts {
    int64_t k, max_new;
    genc_sampler sampler;
    genc_reward_cfg reward;
    genc_template template_kind;
    bool empty_think;            /* the ablation: prompts end "<think></think>", no thinking possible */
    genc_task_eval_show_fn show; /* NULL: none; called on every sample */
    void *user;
} genc_task_eval_opts;
/* cons@k's vote: the index of the response whose canonical answer most responses share
 * (the first such on a tie), counting only responses that could score under rc (well-formed
 * ones when accuracy needs the format; unparseable ones never vote); -1 when none votes.
 * Integers vote by value ("007" = "7", "-0" = "0"), Countdown solutions all vote alike. */
int64_t genc_task_majority(const genc_task_problem *p, const char *const *resp, int64_t k, const genc_reward_cfg *rc);
/* k 4, max_new 64, temperature 1, the default reward and template. */
void genc_task_eval_opts_default(genc_task_eval_opts *o);
genc_status genc_task_evaluate(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_task_set *set,
                               const genc_task_eval_opts *o, genc_task_eval *out);

#ifdef __cplusplus
}
#endif
#endif
