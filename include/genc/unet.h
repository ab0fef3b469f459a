/* genc's U-Net for diffusion (DDPM, Ho et al. 2020) and rectified-flow models on small images:
 * the network eps_theta(x_t, t[, y]) / v_theta(x_t, t[, y]) that src/image/unet.c builds from
 * genc ops (so training gets its gradients from autograd).
 *
 * Layout (DDPM's, scaled down): conv_in 3x3 -> per level `res_blocks` residual blocks (then a
 * stride-2 3x3 conv, except at the last level) -> middle: residual block, self-attention (if
 * attn_heads > 0), residual block -> per level, from the lowest, res_blocks + 1 residual blocks,
 * each on the concatenation of the running features and one skip connection (every
 * down-path output is a skip, DDPM-style), then nearest 2x upsampling and a 3x3 conv (except at
 * the top) -> GroupNorm, SiLU, conv_out 3x3 (zero-initialised).
 * Residual block: GN -> SiLU -> conv3x3 -> + Linear(SiLU(temb)) per channel -> GN -> SiLU ->
 * dropout -> conv3x3, plus the input (through a 1x1 conv when the channel count changes).
 * Time embedding: sinusoidal of dim base (half sin, half cos, frequency
 * exp(-ln(10000) i / (half - 1)), i = 0..half-1, as DDPM's get_timestep_embedding), then
 * Linear(base, 4 base) -> SiLU -> Linear(4 base, 4 base); with classes, a learned class embedding
 * is added to it. Parameter names follow PyTorch module paths ("down.0.res.1.conv1.weight"). */
#ifndef GENC_UNET_H
#define GENC_UNET_H

#include "autograd.h"
#include "diffusion.h"
#include "safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GENC_UNET_MAX_LEVELS 4

typedef struct genc_unet_config {
    int rows, cols, channels;   /* image: 28, 28, 1 */
    int base;                   /* channels at full resolution (default 32) */
    int levels;                 /* resolutions (default 3: 28, 14, 7) */
    int mult[GENC_UNET_MAX_LEVELS]; /* channel multiplier per level (default {1, 2, 2}) */
    int res_blocks;             /* residual blocks per level on the way down (default 2); the up
                                   path has res_blocks + 1 per level, one per skip connection */
    int groups;                 /* group-norm groups (default 8) */
    int attn_heads;             /* self-attention heads at the lowest resolution (0: none; default 4) */
    int classes;                /* 0: unconditional; else class embedding of classes + 1 rows, the last
                                   row the "null" label used for classifier-free guidance */
    double dropout;             /* in residual blocks, training only (default 0.1) */
} genc_unet_config;

genc_unet_config genc_unet_defaults(void);
/* JSON text of the config (caller frees), and its inverse with every field checked. */
char *genc_unet_config_json(const genc_unet_config *c);
genc_status genc_unet_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_unet_config *c);

/* One residual block's parameters (skip_w/skip_b NULL when cin == cout). */
typedef struct genc_unet_res {
    int cin, cout;
    genc_tensor *norm1_w, *norm1_b, *conv1_w, *conv1_b, *temb_w, *temb_b;
    genc_tensor *norm2_w, *norm2_b, *conv2_w, *conv2_b, *skip_w, *skip_b;
} genc_unet_res;

typedef struct genc_unet {
    genc_unet_config cfg;
    genc_params params;
    genc_tensor *time_w[2], *time_b[2]; /* "time.0", "time.2" */
    genc_tensor *class_emb;             /* [classes + 1, 4 base] or NULL */
    genc_tensor *conv_in_w, *conv_in_b, *norm_out_w, *norm_out_b, *conv_out_w, *conv_out_b;
    genc_unet_res *res;                 /* forward order: down, mid (2), up */
    int n_res;
    genc_tensor *down_w[GENC_UNET_MAX_LEVELS], *down_b[GENC_UNET_MAX_LEVELS]; /* stride-2 convs */
    genc_tensor *up_w[GENC_UNET_MAX_LEVELS], *up_b[GENC_UNET_MAX_LEVELS];     /* after upsampling */
    /* middle attention: GroupNorm, q, k, v and output projections (Linear over channels) */
    genc_tensor *attn_norm_w, *attn_norm_b, *attn_w[4], *attn_b[4];
} genc_unet;

/* PyTorch default inits (uniform, bound 1/sqrt(fan_in); GroupNorm 1 and 0; the class embedding
 * N(0, 1)) from the context's random stream; conv_out zero. */
genc_status genc_unet_init(genc_ctx *ctx, genc_unet *m, const genc_unet_config *cfg);
void genc_unet_free(genc_unet *m);

/* Checkpoints hold the U-Net config in their "config" metadata in one of two forms: the flat
 * one genc_unet_config_json writes ("model":"unet"; genc.UNet.save), or a diffusion
 * checkpoint's (`genc image train --model ddpm|rflow`: "family":"diffusion" with the U-Net
 * config under "unet", the EMA of the weights as "extra.ema.<parameter name>" tensors).
 * config_from_meta parses either (*diffusion, may be NULL, says which); anything else is
 * GENC_EFORMAT with a one-line message naming `label`. */
genc_status genc_unet_config_from_meta(genc_ctx *ctx, const char *json, const char *label, genc_unet_config *c,
                                       bool *diffusion);
/* Everything a diffusion checkpoint's "config" metadata holds (family "diffusion";
 * src/image/diffusion_config.c). */
typedef struct genc_diff_config {
    char model[8];  /* "ddpm" (noise/v prediction over T steps) or "rflow" (velocity, t in [0, 1]) */
    char stage[8];  /* rflow: "base" (1-rectified), "reflow" (trained on generated pairs), "distill" */
    int reflow;     /* k of k-rectified flow (1 for base, 2 after one reflow...) */
    genc_unet_config unet;
    genc_beta_schedule beta;
    int T;          /* 1..100000 */
    double beta_start, beta_end;
    genc_prediction pred;
    double cond_drop; /* probability of the null label in training (classifier-free guidance) */
} genc_diff_config;

/* Its JSON text (caller frees; NULL when out of memory), and the inverse with every field
 * checked: an unknown or missing key, a wrong type or an out-of-range value is GENC_EFORMAT
 * with one line naming `label`. */
char *genc_diff_config_json(const genc_diff_config *c);
genc_status genc_diff_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_diff_config *c);
/* Read "extra.ema.<name>" of every parameter of p from an open checkpoint into dst[i] (numel
 * floats each) or, with dst NULL, into the parameters themselves. *found is false (and nothing
 * is read) when the file has no EMA tensors at all; a file with only some is an error. */
genc_status genc_unet_ema_read(genc_ctx *ctx, const genc_st *f, const genc_params *p, float **dst, bool *found);
/* Build the network from an open checkpoint's config (either form) and load its parameters;
 * with `ema`, the EMA weights in their place when the file has them (the raw weights when it
 * has none; *ema_loaded, may be NULL, says which). label names the file in messages. */
genc_status genc_unet_load_st(genc_ctx *ctx, const genc_st *f, const char *label, bool ema, genc_unet *m,
                              bool *ema_loaded);
/* The same from a path; genc_unet_load is genc_unet_load_ex without EMA (the raw weights). */
genc_status genc_unet_load_ex(genc_ctx *ctx, const char *path, bool ema, genc_unet *m);
genc_status genc_unet_load(genc_ctx *ctx, const char *path, genc_unet *m);
/* genc_unet_load_ex that also reports *ema_loaded and returns the file's "config" metadata in
 * *config (caller frees; NULL when the file has none). Nothing stays allocated on failure. */
genc_status genc_unet_open(genc_ctx *ctx, const char *path, bool ema, genc_unet *m, bool *ema_loaded, char **config);
/* A checkpoint of the flat U-Net config and the parameters (genc.UNet.save). */
genc_status genc_unet_save(genc_ctx *ctx, const char *path, const genc_unet *m);

/* x [N, channels*rows*cols] (flattened NCHW), t: N network times (floats; DDPM passes the integer
   step 0..999, rectified flow passes 1000*t), labels: N int32 in [0, classes] (classes = null) or
   NULL (the null label for every row of a conditional model) -> output [N, channels*rows*cols]
   (same layout). Autograd reaches the parameters. */
genc_tensor *genc_unet_forward(genc_ctx *ctx, genc_unet *m, genc_tensor *x, const float *t, const int32_t *labels);

#ifdef __cplusplus
}
#endif
#endif
