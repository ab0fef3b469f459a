/* genc Glow (Kingma and Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions",
 * arXiv 1807.03039) for rows x cols grey images, in the NICE framework of flow.h (the same
 * dequantisation, bits/dim and data). NCHW tensors throughout.
 *
 *   x [N, 1, rows, cols] in [0,1) (dequantised as NICE: (level + u) / 256)
 *   for level l = 0 .. levels-1:
 *       squeeze 2x2                                  [N, C, H, W] -> [N, 4C, H/2, W/2]
 *       `steps` flow steps, each:
 *           actnorm     y = (x + b) * exp(logs)       per channel, data-initialised;
 *                                                     log-det H W sum(logs)            (Glow eq. / table 1)
 *           invconv     y = W x per pixel, W = P L (U + diag(sign * exp(log_s)))
 *                                                     (LU form; P, sign fixed); log-det H W sum(log_s)
 *           coupling    x = (x_a, x_b) halves of the channels; (shift, raw) = NN(x_a),
 *                       scale = sigmoid(raw + 2), y_b = (x_b + shift) * scale, y_a = x_a;
 *                       log-det sum log(scale); NN = conv3x3 -> ReLU -> conv1x1 -> ReLU ->
 *                       conv3x3 whose weights and bias start at zero (the step starts near identity)
 *       if not the last level: split the channels into z1 (kept) and z2; a zero-initialised
 *           conv3x3 of z1 gives (mean, logs) and eps = (z2 - mean) * exp(-logs) is emitted
 *           (log-det -sum(logs)): a learned conditional Gaussian prior on z2, written as a
 *           bijection so that every emitted latent has a standard normal prior
 *   top: the last level's output, also emitted.
 * h [N, D] = (eps of level 0, eps of level 1, ..., top), each flattened in NCHW order;
 * log p(x) = sum_d log N(h_d; 0, 1) + sum of every layer's log-det.
 *
 * Differences from openai/glow, all documented in docs/flows.md: x is not centred (the first
 * actnorm does it), the coupling NN has biases instead of actnorm, the zero convs have no
 * exp(3 logs) output scale, the halves of NN(x_a) and of the split conv are the first and second
 * channel halves (openai interleaves them), and the top prior is a fixed standard normal. */
#ifndef GENC_GLOW_H
#define GENC_GLOW_H

#include "autograd.h"
#include "ops.h"
#include "safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The squeeze and unsqueeze ops (genc_squeeze2x2, genc_unsqueeze2x2) are in ops.h. */

/* ---- the model (src/image/glow.c; configs and checkpoints in src/image/glow_io.c) ---- */
typedef struct genc_glow_config {
    int rows, cols;   /* image size; both divisible by 2^levels */
    int levels;       /* squeeze (and split, except after the last) levels */
    int steps;        /* flow steps per level */
    int hidden;       /* channels of the coupling NN's hidden layers */
} genc_glow_config;

/* 28x28, 2 levels of 8 steps, hidden 128. */
genc_glow_config genc_glow_defaults(void);
/* Sides divisible by 2^levels, levels 1..6, steps 1..64, hidden 1..4096. */
bool genc_glow_config_ok(const genc_glow_config *c);
char *genc_glow_config_json(const genc_glow_config *c); /* caller frees */
genc_status genc_glow_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_glow_config *c);

typedef struct genc_glow_step {
    int C;                          /* channels */
    genc_tensor *an_bias, *an_logs; /* actnorm [C, 1, 1] */
    genc_tensor *lower, *upper;     /* invconv [C, C]: the strictly lower / upper parts count */
    genc_tensor *log_s;             /* invconv [C]: log |diag of U| */
    int32_t *perm;                  /* [C] row perm[i] of W is row i of L U' (W = P L U'), fixed */
    int32_t *sign;                  /* [C] sign of the diagonal of U, fixed */
    genc_tensor *w1, *b1, *w2, *b2, *w3, *b3; /* coupling NN */
} genc_glow_step;

typedef struct genc_glow_level {
    int C, H, W;            /* shape inside the level's steps (after its squeeze) */
    genc_glow_step *steps;  /* [cfg.steps] */
    genc_tensor *split_w, *split_b; /* [C, C/2, 3, 3], [C]; NULL in the last level */
} genc_glow_level;

typedef struct genc_glow {
    genc_glow_config cfg;
    int dim;                /* D = rows * cols */
    genc_params params;
    genc_glow_level *lev;   /* [cfg.levels] */
} genc_glow;

/* Weights from the context's random stream: actnorm b = 0, logs = 0; invconv from the LU
 * decomposition (partial pivoting) of a random orthogonal matrix; coupling convs uniform
 * +-1/sqrt(fan_in) as PyTorch's Conv2d, the last one and the split convs zero. */
genc_status genc_glow_init(genc_ctx *ctx, genc_glow *m, const genc_glow_config *cfg);
void genc_glow_free(genc_glow *m);

/* One layer, for tests and tools: x [N, C, H, W] of the level's shape -> y (same shape);
 * *logdet gets that layer's log |det J| per example ([N], or [1] when it is the same for all).
 * SPLIT maps x = (z1, z2) to (z1, eps). */
typedef enum { GENC_GLOW_ACTNORM, GENC_GLOW_INVCONV, GENC_GLOW_COUPLING, GENC_GLOW_SPLIT } genc_glow_layer;
genc_tensor *genc_glow_layer_forward(genc_ctx *ctx, genc_glow *m, int level, int step, genc_glow_layer kind,
                                     genc_tensor *x, genc_tensor **logdet);
genc_tensor *genc_glow_layer_inverse(genc_ctx *ctx, genc_glow *m, int level, int step, genc_glow_layer kind,
                                     genc_tensor *y);

/* x [N, D] -> h [N, D]; *logdet (may be NULL) gets the total log-det [N]. Autograd reaches
 * the parameters. */
genc_tensor *genc_glow_forward(genc_ctx *ctx, genc_glow *m, genc_tensor *x, genc_tensor **logdet);
/* log p(x) per example [N] (nats); *h (may be NULL) gets the latent. */
genc_tensor *genc_glow_log_prob(genc_ctx *ctx, genc_glow *m, genc_tensor *x, genc_tensor **h);
/* Actnorm data-dependent initialisation (Glow sec. 3.1): one pass over the batch x [N, D],
 * each actnorm in order set so that its output has zero mean and unit variance per channel.
 * Resets the step arena. */
genc_status genc_glow_data_init(genc_ctx *ctx, genc_glow *m, genc_tensor *x);
/* h [N, D] -> x [N, D], without gradients. */
genc_tensor *genc_glow_inverse(genc_ctx *ctx, genc_glow *m, genc_tensor *h);
/* n samples h = temperature * z, z ~ N(0, I) (draw i of key `seed`), inverted: out [n, D].
 * Resets the step arena. */
genc_status genc_glow_sample(genc_ctx *ctx, genc_glow *m, int64_t n, double temperature, uint64_t seed, float *out);

/* Checkpoint side-car: extra.level.L.step.K.invconv.perm / .sign (I32 [C]). */
genc_status genc_glow_ckpt_extra(genc_ctx *ctx, void *glow, genc_st_writer *w);
/* Build from a checkpoint's config, load the parameters and the fixed P and signs. */
genc_status genc_glow_load(genc_ctx *ctx, const char *path, genc_glow *m);
/* The "model" field of a checkpoint's config ("nice", "glow"); NULL if unreadable. Caller frees. */
char *genc_flow_checkpoint_model(genc_ctx *ctx, const char *path);

#ifdef __cplusplus
}
#endif
#endif
