/* genc GRPO training: the R1-Zero recipe around the GRPO objective (grpo.h) and the one
 * training loop: training problems drawn from the task generator or a user set, rollouts
 * refreshed every mu updates, per-step reward/format/think/KL metrics, held-out pass@1 as the
 * validation metric (maximised), checkpoints with the tokenizer, resume. */
#ifndef GENC_GRPO_TRAIN_H
#define GENC_GRPO_TRAIN_H

#include "grpo.h"
#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct genc_grpo_train_config {
    genc_grpo_config grpo;        /* the objective, rollouts, sampler, reward, template */
    genc_task_cfg task;           /* the generator of training problems */
    const genc_task_set *eval_set; /* held-out problems scored at each evaluation; generated
                                      training problems skip them */
    const genc_task_set *train_set; /* user training problems, cycled (NULL: generated) */
    int64_t steps, eval_every, save_every, stop_at, eval_k, eval_max_new;
    uint64_t seed;                /* training problems */
    double lr, weight_decay, clip, warmup_frac; /* AdamW (beta2 0.99), constant after warm-up */
    bool resume;                  /* continue from `checkpoint` */
    const char *checkpoint, *metrics;
    const char *best_checkpoint;  /* the best held-out pass@1 so far, NULL: none */
    volatile int *stop;           /* set non-zero to stop after a step (with a checkpoint) */
    /* Data parallelism across MPI ranks (NULL: one process): every rank rolls out its share of
     * the groups (genc_grpo_rollout_split), the gradients are averaged and rank 0 writes. With
     * several ranks row_streams must be true. */
    genc_dist *dist;
    /* Each rollout from its own random stream, one group per generate call: the same batch for
     * any rank count (one process with it reproduces a several-rank run); false: one shared
     * stream, as before. */
    bool row_streams;
    /* Optional: right before the loop starts. */
    void (*on_start)(void *user, int64_t first_step);
    /* Optional: after each held-out evaluation. */
    void (*on_eval)(void *user, int64_t step, const genc_task_eval *e);
    void *user;
} genc_grpo_train_config;

/* Train `policy` (ref: the frozen base for the KL term, NULL when beta is 0) with its
 * tokenizer: optimiser -> resume -> metrics -> the training loop. *st receives the final
 * training state (best_metric = minus the best held-out pass@1). */
genc_status genc_grpo_train(genc_ctx *ctx, genc_lm *policy, genc_lm *ref, genc_tokenizer *tok,
                            const genc_grpo_train_config *c, genc_train_state *st);

#ifdef __cplusplus
}
#endif
#endif
