/* The sampling flags shared by the diffusion / rectified-flow verbs (src/cli/image_diffusion.c)
 * and `genc image fid` (src/cli/image_fid.c); the model and its sampling are the diffusion
 * family's (include/genc/diffusion_model.h). */
#ifndef GENC_CLI_DIFFUSION_H
#define GENC_CLI_DIFFUSION_H

#include "cli/cli.h"
#include "genc/diffusion_model.h"

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

#endif
