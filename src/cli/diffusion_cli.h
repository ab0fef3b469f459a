/* Shared pieces of the diffusion / rectified-flow verbs (src/cli/image_diffusion.c) and
 * `genc image fid` (src/cli/image_fid.c): loading a checkpoint (EMA weights by default; its
 * config is genc_diff_config, include/genc/unet.h) and generating images with any sampler. */
#ifndef GENC_CLI_DIFFUSION_H
#define GENC_CLI_DIFFUSION_H

#include "cli/cli.h"
#include "genc/diffusion.h"
#include "genc/unet.h"

/* True when `path` opens as safetensors whose config says family "diffusion". */
bool genc_cli_is_diffusion_checkpoint(const char *path);

typedef struct {
    genc_diff_config cfg;
    genc_unet net;
    genc_ddpm_schedule sched; /* ddpm only */
} genc_diff_model;

/* Build the network from the checkpoint's config and load its parameters, then, when `ema`
 * and the file has them, the EMA weights in their place. */
genc_status genc_diff_model_load(genc_ctx *ctx, const char *path, bool ema, genc_diff_model *m);
void genc_diff_model_free(genc_diff_model *m);

/* How to sample. */
typedef struct {
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

/* Generate `count` images (returned in [0, 1], [count, dim]) from noise of `seed`; z (may be
 * NULL) receives the starting noise in [-1, 1]-space units, x_raw (may be NULL) the final
 * samples before clamping. seconds[0] = wall time of the sampler alone, seconds[1] = the
 * process CPU time it used (on one thread, the time it would take on an idle core), *nfe =
 * network evaluations per sample. traj (may be NULL): [traj_cols, traj_rows, dim] states of the first
 * traj_rows samples at traj_cols evenly spaced sampler steps, in [0, 1]. */
genc_status genc_diff_generate(genc_ctx *ctx, genc_diff_model *m, const genc_diff_sampling *s, int64_t count,
                               uint64_t seed, float *images, float *z, float *x_raw, double *seconds, int *nfe,
                               float *traj, int traj_cols, int traj_rows);

/* The sampling flags' entries (s: a genc_diff_sampling) and their defaults, shared by
 * `image sample` and `image fid`. */
#define GENC_DIFF_SAMPLING_FLAG_ENTRIES(s)                                                                          \
    {"sampler", FLAG_STRING, &(s).sampler, "ddpm or ddim (DDPM checkpoints); euler or heun (rectified flow)", .unset = "ddpm on a DDPM checkpoint (the best measured), euler on rectified flow", .choices = "ddpm|ddim|euler|heun"},      \
    {"steps", FLAG_INT, &(s).steps, "ddim/euler/heun steps (ddpm always runs all T)", 1, 100000},                    \
    {"eta", FLAG_DOUBLE, &(s).eta, "ddim: 0 deterministic .. 1 DDPM-like noise", 0, 10},                              \
    {"spacing", FLAG_STRING, &(s).spacing, "ddim timesteps", .choices = "uniform|trailing|linspace|quadratic"},               \
    {"variance", FLAG_STRING, &(s).variance, "ddpm: posterior variance", .choices = "fixed_small|fixed_large"},                                     \
    {"clip-x0", FLAG_BOOL, &(s).clip, "ddpm/ddim: clamp the predicted x0 to [-1, 1] (--clip-x0=false: off)"},        \
    {"clip", FLAG_BOOL, &(s).clip, "", .alias_of = "clip-x0"},               \
    {"guidance", FLAG_DOUBLE, &(s).guidance, "conditional models: classifier-free guidance weight (1: none)", 0, 100}, \
    {"label", FLAG_INT, &(s).label, "conditional models: the class", -1, 1e6, .unset = "cycle through the classes"},        \
    {"batch", FLAG_INT, &(s).batch, "samples per network batch", 1, 4096},                                            \
    {"first", FLAG_INT, &(s).first, "index of the first sample (a run split into parts: same images)", 0, 1e12}
genc_diff_sampling genc_cli_diffusion_sampling_defaults(void);

#endif
