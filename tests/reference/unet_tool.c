/* unet_tool: a small driver of genc's U-Net for tests/reference/test_unet.py (PyTorch reference).
 *   unet_tool init CKPT CONFIG_JSON SEED
 *       a freshly initialised U-Net saved as a checkpoint with its config; the zero-initialised
 *       conv_out and the GroupNorm scales and shifts are redrawn (uniform, +-0.3 around their
 *       init) so that every parameter gets a gradient and a wrong GN affine would show
 *   unet_tool grad CKPT N IN.safetensors OUT.safetensors
 *       IN holds x [N, D], t [N], R [N, D] (F32) and optionally labels [N] (I32); OUT gets
 *       out = unet(x, t, labels) [N, D] and, for L = sum(out * R), grad.x and grad.<param>
 *       for every parameter (F32). Grad mode on, so dropout must be 0 in the config.
 * Exit status 0 on success; on failure one "unet_tool: error: ..." line and status 1. */
#include "genc/genc.h"
#include "genc/ops.h"
#include "genc/safetensors.h"
#include "genc/train.h"
#include "genc/unet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(genc_ctx *ctx, const char *what) {
    fprintf(stderr, "unet_tool: error: %s\n", what ? what : genc_last_error(ctx));
    return 1;
}

static int do_init(genc_ctx *ctx, char **av) {
    genc_unet_config c;
    genc_rng_seed(ctx, (uint64_t)atoll(av[2]));
    genc_unet m;
    if (genc_unet_config_parse(ctx, av[1], "argument", &c) || genc_unet_init(ctx, &m, &c)) return fail(ctx, NULL);
    for (int i = 0; i < m.params.n; i++) {
        genc_tensor *p = m.params.t[i];
        if (strstr(p->name, "norm") && strstr(p->name, ".weight")) genc_fill_uniform(ctx, p, 0.7, 1.3);
        else if (strstr(p->name, "norm") && strstr(p->name, ".bias")) genc_fill_uniform(ctx, p, -0.3, 0.3);
        else if (strstr(p->name, "conv_out")) genc_fill_uniform(ctx, p, -0.1, 0.1);
    }
    char *json = genc_unet_config_json(&c);
    genc_status s = genc_checkpoint_save(ctx, av[0], &m.params, NULL, json, NULL, NULL, NULL);
    free(json);
    genc_unet_free(&m);
    return s ? fail(ctx, NULL) : 0;
}

/* Adds a float32 copy of n reals under `name`. */
static genc_status add_f32(genc_ctx *ctx, genc_st_writer *w, const char *name, const genc_real *v, int ndim,
                           const int64_t *shape, int64_t n) {
    float *buf = malloc((size_t)n * sizeof *buf);
    if (!buf) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) buf[i] = (float)v[i];
    genc_status s = genc_st_writer_add_f32(w, name, GENC_DT_F32, ndim, shape, buf);
    free(buf);
    return s;
}

/* Reads the inputs into x (a persistent leaf that requires grad), t, R and labels (NULL if absent). */
static genc_status read_inputs(genc_ctx *ctx, const char *path, int64_t N, int64_t D, genc_tensor *x, float *t,
                               double *R, int32_t **labels) {
    genc_st *f;
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    int64_t sx[2] = {N, D}, st[1] = {N};
    double *buf = malloc((size_t)(N * D) * sizeof *buf);
    int64_t *lab = malloc((size_t)N * sizeof *lab);
    if (!buf || !lab) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = genc_st_read_f64(ctx, f, "x", buf, 2, sx);
    for (int64_t i = 0; !s && i < N * D; i++) x->data[i] = (genc_real)buf[i];
    if (!s) s = genc_st_read_f64(ctx, f, "t", buf, 1, st);
    for (int64_t i = 0; !s && i < N; i++) t[i] = (float)buf[i];
    if (!s) s = genc_st_read_f64(ctx, f, "R", R, 2, sx);
    *labels = NULL;
    if (!s && genc_st_read_i64(ctx, f, "labels", lab, 1, st) == GENC_OK) {
        *labels = malloc((size_t)N * sizeof **labels);
        for (int64_t i = 0; *labels && i < N; i++) (*labels)[i] = (int32_t)lab[i];
    }
    if (!s) genc_clear_error(ctx); /* a missing "labels" is fine */
    free(buf), free(lab);
    genc_st_close(f);
    return s;
}

static int do_grad(genc_ctx *ctx, char **av) {
    genc_unet m;
    if (genc_unet_load(ctx, av[0], &m)) return fail(ctx, NULL);
    int64_t N = atoll(av[1]), D = (int64_t)m.cfg.channels * m.cfg.rows * m.cfg.cols, sx[2] = {N, D};
    genc_tensor *x = N > 0 ? genc_param_new(ctx, "x", 2, sx) : NULL;
    float *t = malloc((size_t)(N > 0 ? N : 1) * sizeof *t);
    double *R = malloc((size_t)(N > 0 ? N * D : 1) * sizeof *R);
    int32_t *labels = NULL;
    genc_status s = x && t && R ? read_inputs(ctx, av[2], N, D, x, t, R, &labels) : GENC_EINVAL;
    genc_tensor *y = s ? NULL : genc_unet_forward(ctx, &m, x, t, labels);
    genc_real *seed = y ? genc_arena_alloc(ctx, (size_t)(N * D) * sizeof *seed) : NULL;
    for (int64_t i = 0; seed && i < N * D; i++) seed[i] = (genc_real)R[i];
    genc_st_writer *w = seed && !genc_backward_with(ctx, y, seed) ? genc_st_writer_new(ctx) : NULL;
    s = w ? add_f32(ctx, w, "out", y->data, 2, sx, N * D) : GENC_EINVAL;
    if (!s) s = add_f32(ctx, w, "grad.x", x->grad, 2, sx, N * D);
    for (int i = 0; !s && i < m.params.n; i++) {
        genc_tensor *p = m.params.t[i];
        char name[128];
        snprintf(name, sizeof name, "grad.%s", p->name);
        s = add_f32(ctx, w, name, p->grad, p->ndim, p->shape, genc_numel(p));
    }
    if (!s) s = genc_st_writer_save(w, av[3]);
    int code = s ? fail(ctx, genc_ctx_status(ctx) ? NULL : "bad input") : 0;
    genc_st_writer_free(w);
    genc_tensor_free(x);
    free(t), free(R), free(labels);
    genc_unet_free(&m);
    return code;
}

int main(int argc, char **argv) {
    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) return 1;
    int code = 2;
    if (argc == 5 && !strcmp(argv[1], "init")) code = do_init(ctx, argv + 2);
    else if (argc == 6 && !strcmp(argv[1], "grad")) code = do_grad(ctx, argv + 2);
    else fprintf(stderr, "usage: unet_tool init|grad ... (see the file comment)\n");
    genc_ctx_free(ctx);
    return code;
}
