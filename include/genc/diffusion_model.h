/* genc diffusion family: a DDPM (Ho et al. 2020) or rectified-flow (Liu et al., arXiv
 * 2209.03003) U-Net with its config and noise schedule, and its whole recipe: loading a
 * checkpoint (EMA weights by default), generation with any sampler and classifier-free
 * guidance, straightness and DDIM inversion, and training (the losses, the EMA of the weights
 * stored as "extra.ema.<name>", reflow and one-step distillation on (z, x) pairs) through the
 * one training loop. The network is unet.h, the schedules and samplers diffusion.h. */
#ifndef GENC_DIFFUSION_MODEL_H
#define GENC_DIFFUSION_MODEL_H

#include "unet.h"
#include "dist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True when `path` opens as safetensors whose config says family "diffusion". */
bool genc_diff_is_checkpoint(const char *path);

typedef struct genc_diff_model {
    genc_diff_config cfg;
    genc_unet net;
    genc_ddpm_schedule sched; /* ddpm only */
} genc_diff_model;

/* Build the network from the checkpoint's config and load its parameters, then, when `ema`
 * and the file has them, the EMA weights in their place. */
genc_status genc_diff_model_load(genc_ctx *ctx, const char *path, bool ema, genc_diff_model *m);
void genc_diff_model_free(genc_diff_model *m);

/* How to sample. */
typedef struct genc_diff_sampling {
    const char *sampler;   /* ddpm, ddim, euler, heun ("" = the model's default: ddpm / euler) */
    const char *spacing;   /* ddim timestep spacing */
    const char *variance;  /* ddpm: fixed_small or fixed_large */
    int64_t steps;         /* ddim / euler / heun steps (ddpm always uses T) */
    double eta, guidance;  /* ddim eta; classifier-free guidance weight (1: plain conditional) */
    bool clip;             /* clamp predicted x0 to [-1, 1] (ddpm/ddim) */
    int64_t label;         /* conditional models: -1 cycles the classes over the samples */
    int64_t batch;         /* samples per network batch */
    int64_t first;         /* global index of the first sample: sample i's noise depends only on
                              (seed, first + i), so a run split into parts gives the same images */
} genc_diff_sampling;
/* ddpm on DDPM checkpoints (euler on rectified flow), 50 steps, DDIM eta 1, uniform spacing. */
genc_diff_sampling genc_diff_sampling_defaults(void);

/* Generate `count` images (returned in [0, 1], [count, dim]) from noise of `seed`; z (may be
 * NULL) receives the starting noise in [-1, 1]-space units, x_raw (may be NULL) the final
 * samples before clamping. seconds[0] = wall time of the sampler alone, seconds[1] = the
 * process CPU time it used (on one thread, the time it would take on an idle core), *nfe =
 * network evaluations per sample. traj (may be NULL): [traj_cols, traj_rows, dim] states of the first
 * traj_rows samples at traj_cols evenly spaced sampler steps, in [0, 1]. */
genc_status genc_diff_generate(genc_ctx *ctx, genc_diff_model *m, const genc_diff_sampling *s, int64_t count,
                               uint64_t seed, float *images, float *z, float *x_raw, double *seconds, int *nfe,
                               float *traj, int traj_cols, int traj_rows);

/* Straightness (Liu et al. 2022, S(Z)) of the Euler paths (`steps` steps) from the n noises z
 * [n, dim]: *total = the mean over paths of the per-path value summed over pixels. */
genc_status genc_diff_straightness(genc_ctx *ctx, genc_diff_model *m, int64_t n, int steps, const float *z,
                                   double *total);
/* DDIM inversion round trip (ddpm models): x [n, dim] in [-1, 1] is inverted to latents (copied
 * to `latents` when not NULL) by a deterministic DDIM run upwards, then sampled back into x. */
genc_status genc_diff_ddim_roundtrip(genc_ctx *ctx, genc_diff_model *m, int steps, const char *spacing, int64_t n,
                                     float *x, float *latents);
/* Write `path` with F32 tensors names[i] -> data[i] [n, dim] and metadata "source". */
genc_status genc_diff_save_samples(genc_ctx *ctx, const char *path, const char **names, float **data, int k, int64_t n,
                                   int64_t dim, const char *source);
/* Read up to `max` images of the "images" tensor [N, dim] of a samples file into out;
 * *n_read = min(N, max); a file with fewer than `need` images is an error. */
genc_status genc_diff_read_samples(genc_ctx *ctx, const char *path, int64_t dim, int64_t need, int64_t max,
                                   float *out, int64_t *n_read);

/* ---- training (diffusion_train.c) ---- */
typedef struct genc_diff_train_config {
    const char *model;       /* ddpm or rflow */
    const char *data, *mnist_dir;
    const char *schedule;    /* learning-rate schedule: constant or cosine */
    const char *beta, *pred; /* ddpm: beta schedule, prediction target */
    const char *mult;        /* channel multiplier per level, "1,2,2" */
    const char *pairs, *init; /* reflow / distillation: (z, x) pairs and the flow they came from ("" none) */
    int64_t steps, stop_at, batch, base, levels, res_blocks, groups, heads, T, val, limit, seed, warmup,
        eval_every, save_every;
    double lr, min_lr, wd, clip, dropout, cond_drop, ema, beta_start, beta_end;
    bool cond, distill, resume;
    const char *checkpoint, *best_checkpoint, *metrics; /* output files */
    volatile int *stop;      /* set non-zero to stop after a step (with a checkpoint) */
    /* Data parallelism across MPI ranks (NULL: one process): rank r trains rows [r n/R, (r+1) n/R)
     * of every batch with the noise, times and label drops one process would draw for them; the
     * gradients are averaged, rank 0 writes (the caller opens the metrics there only). */
    genc_dist *dist;
} genc_diff_train_config;
/* DDPM on Fashion-MNIST: 2,000 steps of 64, AdamW 2e-4 after 200 warm-up steps, EMA 0.999. */
genc_diff_train_config genc_diff_train_defaults(void);

/* What a training run is about to do (for the caller's opening line). */
typedef struct genc_diff_train_info {
    const genc_diff_model *model;
    int64_t n_train, n_val, n_params, first_step;
} genc_diff_train_info;
/* Called once everything is set up, right before the training loop starts. */
typedef void (*genc_diff_train_start_fn)(void *user, const genc_diff_train_info *info);

typedef struct genc_diff_train_result {
    int64_t steps_done;   /* the optimiser steps the checkpoint holds at the end */
    int64_t first_step;   /* the step the run started from (a resume's checkpoint step, else 0) */
    double best_val_loss; /* the best validation loss (best_checkpoint's), INFINITY: none ran */
} genc_diff_train_result;
/* Load the data (or the pairs), build or --init the model, the optimiser and the EMA, resume
 * when asked, then run the training loop to c->steps (or c->stop_at). */
genc_status genc_diff_train(genc_ctx *ctx, const genc_diff_train_config *c, genc_diff_train_start_fn on_start,
                            void *user, genc_diff_train_result *r);

#ifdef __cplusplus
}
#endif
#endif
