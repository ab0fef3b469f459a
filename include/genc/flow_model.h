/* genc image flows as one family: NICE (flow.h) or Glow (glow.h) behind one model type, loaded
 * from either kind of checkpoint, and the recipe: log-likelihood of dequantised images,
 * sampling, encoding and inverting, and maximum-likelihood training through the one training
 * loop (validation nll and bits/dim, best checkpoint, the test log-likelihood at the end). */
#ifndef GENC_FLOW_MODEL_H
#define GENC_FLOW_MODEL_H

#include "data.h"
#include "flow.h"
#include "glow.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GENC_FLOW_EVAL_SEED 0x6e696365ULL /* fixed dequantisation noise for validation and test */

typedef struct genc_flow_model {
    bool glow; /* which of the two is built */
    genc_nice nice;
    genc_glow g;
    int dim, rows, cols;
} genc_flow_model;

/* Load either flow: the checkpoint's config names the model. */
genc_status genc_flow_model_load(genc_ctx *ctx, const char *path, genc_flow_model *f);
void genc_flow_model_free(genc_flow_model *f);
genc_params *genc_flow_params(genc_flow_model *f);
const char *genc_flow_name(const genc_flow_model *f); /* "NICE" or "Glow" */
genc_tensor *genc_flow_model_log_prob(genc_ctx *ctx, genc_flow_model *f, genc_tensor *x); /* [N, D] -> [N] nats */
genc_tensor *genc_flow_model_encode(genc_ctx *ctx, genc_flow_model *f, genc_tensor *x);   /* x -> the latent h */
genc_tensor *genc_flow_model_inverse(genc_ctx *ctx, genc_flow_model *f, genc_tensor *h);
/* n samples at temperature t from noise of `seed`, [n, D] in [0, 1]. */
genc_status genc_flow_model_sample(genc_ctx *ctx, genc_flow_model *f, int64_t n, double t, uint64_t seed, float *out);
/* Dequantised images idx[0..n) of d as an [n, D] step tensor (pix: n * D scratch floats);
 * the noise draws offset.. of seed. */
genc_tensor *genc_flow_batch_input(genc_ctx *ctx, const genc_dataset *d, const int64_t *idx, int64_t n, float *pix,
                                   uint64_t seed, uint64_t offset);
/* Mean log p(x) (nats) over a data set, with the dequantisation noise of `seed`, no gradients. */
genc_status genc_flow_mean_log_prob(genc_ctx *ctx, genc_flow_model *m, const genc_dataset *d, uint64_t seed, double *out);

/* ---- training ---- */
typedef struct genc_flow_train_info {
    const genc_flow_model *model;
    int64_t n_train, n_val, steps;
} genc_flow_train_info;

typedef struct genc_flow_train_config {
    const char *model, *data, *mnist_dir, *prior, *schedule, *scale_init; /* nice|glow, ..., data|zero */
    int64_t epochs, steps, stop_at, batch, hidden, layers, couplings, levels, flow_steps, perm_seed, val, limit, seed,
        warmup, eval_every, save_every;
    double lr, min_lr, beta1, beta2, eps, wd, clip;
    bool resume;
    const char *checkpoint, *best_checkpoint, *metrics;
    volatile int *stop;  /* set non-zero to stop after a step (with a checkpoint) */
    void (*on_start)(void *user, const genc_flow_train_info *info); /* optional, before the loop */
    void *user;
} genc_flow_train_config;
/* NICE on Fashion-MNIST: 10 epochs of 200, Adam 1e-3 (beta2 0.99, eps 1e-4), constant. */
genc_flow_train_config genc_flow_train_defaults(void);

typedef struct genc_flow_train_result {
    int64_t steps, steps_done;
    bool tested;        /* ran to the end: the best checkpoint was scored on the test set */
    double test_ll, test_bpd;
    int64_t test_images;
    double best_val_nll; /* the best validation NLL in nats (best_checkpoint's), INFINITY: none ran */
} genc_flow_train_result;
genc_status genc_flow_train(genc_ctx *ctx, const genc_flow_train_config *c, genc_flow_train_result *r);

#ifdef __cplusplus
}
#endif
#endif
