/* genc training: optimisers (AdamW, SGD with momentum) with parameter groups, learning-rate
 * schedules, the progress line, JSON-lines metrics, checkpoints (safetensors carrying the
 * model config, the optimiser moments and the training state) and the one training loop
 * every model family uses. */
#ifndef GENC_TRAIN_H
#define GENC_TRAIN_H

#include <stdio.h>

#include "autograd.h"
#include "dist.h"
#include "safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- optimisers (optim.c) ---- */
typedef enum { GENC_OPT_ADAMW, GENC_OPT_SGD } genc_opt_kind;

typedef struct genc_optim_config {
    genc_opt_kind kind;
    double lr;
    double beta1, beta2, eps;  /* AdamW */
    double momentum;           /* SGD (0 = plain SGD) */
    double weight_decay;       /* AdamW: decoupled; SGD: L2 added to the gradient */
    bool moments_bf16;         /* AdamW: moments kept at BF16 precision (rounded to nearest even after
                                  every update; DeepSeek-V3 section 3.3.3) and checkpointed as BF16 */
} genc_optim_config;

/* PyTorch's defaults: AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
genc_optim_config genc_optim_defaults(genc_opt_kind kind);

typedef struct genc_optim {
    genc_optim_config cfg;
    const genc_params *params; /* borrowed */
    int64_t step;              /* updates done */
    genc_real **m, **v;        /* per parameter: AdamW moments / SGD momentum buffer (m) */
    bool *decay;               /* per parameter: weight decay applies */
} genc_optim;

/* Two parameter groups by default: weight decay on matrices and filters (ndim >= 2), none
 * on vectors (norm weights, biases). genc_optim_set_decay overrides one parameter. */
genc_status genc_optim_init(genc_ctx *ctx, genc_optim *o, const genc_params *p, const genc_optim_config *cfg);
void genc_optim_set_decay(genc_optim *o, int index, bool decay);
void genc_optim_step(genc_optim *o, double lr); /* one update from the current gradients */
void genc_optim_free(genc_optim *o);

/* ---- learning-rate schedules (schedule.c) ---- */
typedef enum { GENC_LR_CONSTANT, GENC_LR_COSINE } genc_lr_kind;
/* The shape of the learning rate over a run; its peak is the optimiser's lr (genc_optim_config),
 * the one place a run's learning rate is stored. */
typedef struct genc_schedule {
    genc_lr_kind kind;
    double min_lr;         /* floor */
    int64_t warmup, total; /* linear warm-up steps; total steps (cosine reaches min_lr there) */
} genc_schedule;
double genc_schedule_lr(const genc_schedule *s, double peak, int64_t step); /* step counts from 0 */
genc_status genc_schedule_parse(genc_ctx *ctx, const char *name, genc_lr_kind *out);

/* ---- progress line and metrics (progress.c) ---- */
typedef struct genc_progress {
    const char *label;
    int64_t total;
    double t0, last_draw;
    int64_t first_step;  /* the step the run (or resume) started at, for the rate */
    bool tty;
    FILE *out;
} genc_progress;
/* Draws only when `out` is a terminal: "label  step/total  loss  items/s  ETA". */
void genc_progress_init(genc_progress *p, const char *label, int64_t first_step, int64_t total, FILE *out);
void genc_progress_update(genc_progress *p, int64_t step, double loss, double items_per_step, const char *extra);
void genc_progress_done(genc_progress *p);
double genc_now(void); /* monotonic seconds */

typedef struct genc_metrics genc_metrics;
/* Append JSON lines to `path` (created with its parent directory if missing). */
genc_metrics *genc_metrics_open(genc_ctx *ctx, const char *path, bool append);
/* One line built with jansson's json_pack format, e.g. ("{s:I, s:f}", "step", 3, "loss", 0.5). */
genc_status genc_metrics_log(genc_metrics *m, const char *fmt, ...);
/* A field appended after a line's formatted ones: an array of n numbers, or (values NULL)
 * the one number `value`. */
typedef struct genc_metric_field {
    const char *key;
    const double *values;
    int64_t n;
    double value;
} genc_metric_field;
/* One line: the fields of `fmt` (as genc_metrics_log), then `fields` in order. */
genc_status genc_metrics_log_fields(genc_metrics *m, const genc_metric_field *fields, int n_fields, const char *fmt,
                                    ...);
/* Drop the lines past `step` (a resumed run replays them) and a torn last line. */
genc_status genc_metrics_rewind(genc_metrics *m, int64_t step);
void genc_metrics_close(genc_metrics *m);

/* ---- checkpoints (checkpoint.c) ---- */
typedef struct genc_train_state {
    int64_t step;       /* optimiser steps done */
    int64_t epoch, pos; /* data position: batcher epoch and index within it */
    uint64_t data_seed;
    uint64_t rng_seed, rng_offset;
    double best_metric; /* best validation metric so far (for "best" checkpoints) */
} genc_train_state;

/* Parameters as F32 under their names; optimiser moments as "optim.m.<name>" /
 * "optim.v.<name>" (F32, or BF16 with moments_bf16: either way resume is bit-exact); metadata "config" (the model's JSON),
 * "optim" and "train_state" (JSON), "format" = "genc-1". Atomic (temp, fsync, rename).
 * `optim` and `state` may be NULL (an inference-only file). */
/* A family's side-car tensors and metadata (e.g. the tokenizer), written into the same file.
 * Side-car tensor names start with "tokenizer." or "extra." so loading can tell them from
 * parameters. */
typedef genc_status (*genc_ckpt_extra_fn)(genc_ctx *ctx, void *user, genc_st_writer *w);
genc_status genc_checkpoint_save(genc_ctx *ctx, const char *path, const genc_params *p, const genc_optim *optim,
                                 const char *config_json, const genc_train_state *state, genc_ckpt_extra_fn extra,
                                 void *extra_user);
/* Load into already-built parameters (every name and shape must match; extra or missing
 * tensors are errors naming them). `optim`/`state` NULL skips them; if given, the file
 * must carry them. */
genc_status genc_checkpoint_load(genc_ctx *ctx, const genc_st *st, const genc_params *p, genc_optim *optim,
                                 genc_train_state *state);

/* Bound the model a loader is about to build from `st`'s config by the parameter values the
 * file holds (every tensor but optimiser moments and side-cars; see genc_param_budget), so a
 * config that claims more fails before the model is allocated. Lift it with
 * genc_param_budget(ctx, -1, NULL) once the model is built. */
void genc_checkpoint_param_budget(genc_ctx *ctx, const genc_st *st);

/* Resume a run: open `path`, require its "config" metadata to equal config_json (the model
 * the flags describe; the message shows both when they differ), then load parameters,
 * optimiser moments and training state. */
genc_status genc_checkpoint_resume(genc_ctx *ctx, const char *path, const char *config_json, const genc_params *p,
                                   genc_optim *optim, genc_train_state *state);

/* ---- ZeRO-1: the optimiser state sharded over data-parallel ranks (zero.c) ---- */
typedef struct genc_zero {
    genc_dist *dist;
    const genc_params *params; /* the whole model (borrowed) */
    genc_params views;         /* 1-D views over this rank's slice of each parameter */
    int *part;                 /* views.t[k] is a slice of params->t[part[k]] ... */
    int64_t *offset;           /* ... starting at this element */
    int64_t *lo;               /* [ranks + 1]: rank r owns flat elements [lo[r], lo[r+1]) */
    genc_real *flat;           /* every parameter, flat, for the all-gather */
    genc_optim o;              /* the optimiser over the views: this rank's moments only */
} genc_zero;
/* Shard: rank r owns about 1/R of the flat parameter vector and its moments. */
genc_status genc_zero_init(genc_ctx *ctx, genc_zero *z, genc_dist *d, const genc_params *p, const genc_optim_config *cfg);
/* Resume from a whole checkpoint (written with any rank count): the parameters and state whole,
 * this rank's slice of the moments (a whole optimiser lives for the duration of the call). */
genc_status genc_zero_resume(genc_ctx *ctx, genc_zero *z, const char *path, const char *config_json,
                             genc_train_state *st);
/* One update from the all-reduced gradients: this rank's slice, then the all-gather. */
genc_status genc_zero_step(genc_ctx *ctx, genc_zero *z, double lr, int64_t step);
/* Collective: rank 0 gets the whole optimiser state in *full (initialised here; the caller frees
 * it with genc_optim_free), the others nothing (*full zeroed). */
genc_status genc_zero_gather(genc_ctx *ctx, genc_zero *z, genc_optim *full);
/* Bytes of optimiser state this rank holds. */
int64_t genc_zero_state_bytes(const genc_zero *z);
void genc_zero_free(genc_zero *z);

/* ---- the training loop (loop.c) ---- */
typedef struct genc_train_hooks {
    void *user;
    /* Build the forward graph of one training step on the next batch and return the scalar
     * loss (NULL on error). *items = examples or tokens in the batch (for the rate). */
    genc_tensor *(*step_loss)(genc_ctx *ctx, void *user, genc_train_state *st, double *items);
    /* Optional: validation. Returns the metric to minimise (loss) in *metric and may log
     * extra fields into the metrics file. */
    genc_status (*evaluate)(genc_ctx *ctx, void *user, const genc_train_state *st, double *metric, genc_metrics *log);
    /* Optional: called after every optimiser step (e.g. MoE bias update). */
    genc_status (*after_step)(genc_ctx *ctx, void *user, genc_train_state *st);
    /* Optional: the loss the progress line shows (default: `loss`, the one optimised) and
     * text after it in `extra`: for an objective of weighted terms, the term validation
     * measures, so the two numbers compare, and the others by name. */
    double (*shown_loss)(void *user, double loss, char *extra, size_t n);
} genc_train_hooks;

typedef struct genc_train_config {
    int64_t steps;                  /* total optimiser steps */
    int64_t eval_every, save_every; /* 0 = only at the end */
    double clip;                    /* global gradient-norm clip, 0 = off */
    genc_schedule schedule;
    const char *checkpoint;         /* path of the rolling checkpoint (NULL: none) */
    const char *best_checkpoint;    /* path of the best-validation checkpoint (NULL: none) */
    const char *config_json;        /* the model config stored in checkpoints */
    const char *label;              /* progress-line label */
    genc_metrics *metrics;          /* may be NULL */
    volatile int *stop;             /* set non-zero (e.g. by SIGINT) to stop after a step */
    int64_t stop_at;                /* > 0: stop cleanly (with a checkpoint) after this step */
    FILE *progress_out;             /* NULL = stderr */
    genc_ckpt_extra_fn ckpt_extra;  /* may be NULL */
    void *ckpt_extra_user;
    genc_zero *zero;                /* ZeRO-1 (NULL: off): `o` must be zero->o; updates and saves go
                                       through it */
    genc_dist *dist;                /* data parallelism across MPI ranks (NULL: one process): each rank's
                                       step_loss is its equal shard of the global batch; gradients, the
                                       loss and the stop flag are averaged / OR-ed across ranks before the
                                       clip; only rank 0 writes checkpoints and draws progress */
    bool overlap;                   /* with several ranks: the all-reduce overlapped with the backward
                                       pass (genc_dist_backward_overlap) */
} genc_train_config;

/* Runs from st->step to cfg->steps: zero grads, step_loss, backward, clip, optimiser step,
 * after_step, step reset, progress, metrics; evaluation and checkpoints on schedule and
 * at the end (and when stopped). */
genc_status genc_train_run(genc_ctx *ctx, const genc_train_config *cfg, const genc_params *p, genc_optim *o,
                           const genc_train_hooks *hooks, genc_train_state *st);

#ifdef __cplusplus
}
#endif
#endif
