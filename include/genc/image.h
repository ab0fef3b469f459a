/* genc image models. So far: the image classifier (a small convnet, or an MLP) trained by
 * `genc classify`; its penultimate features are the embedding genc's FID uses. */
#ifndef GENC_IMAGE_H
#define GENC_IMAGE_H

#include "autograd.h"

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

#ifdef __cplusplus
}
#endif
#endif
