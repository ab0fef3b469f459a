/* flow_tool: a small driver of genc's normalising flows for the PyTorch reference tests
 * (tests/reference/test_nice.py, test_glow.py). MODEL is nice or glow.
 *   flow_tool nice init CKPT ROWS COLS HIDDEN LAYERS COUPLINGS PRIOR SEED
 *       a freshly initialised NICE (s drawn uniform in [-0.5, 0.5] so the scaling matters),
 *       saved as a checkpoint with its config and extra.permutation
 *   flow_tool glow init CKPT ROWS COLS LEVELS STEPS HIDDEN SEED
 *       a freshly initialised Glow with every parameter then perturbed by N(0, 0.1^2) (so the
 *       zero-initialised convs and actnorms matter), saved with its config and the fixed P and
 *       signs of each 1x1 convolution
 *   flow_tool MODEL logp CKPT N IN.f32 OUT.f32    x [N, D] -> log p(x) [N] then h [N, D] (raw float32)
 *   flow_tool MODEL inverse CKPT N IN.f32 OUT.f32 h [N, D] -> x [N, D]
 *   flow_tool nice grad CKPT N IN.f32 OUT.f32     x [N, D] -> the gradient of the training
 *       loss -mean_n log p(x_n) for every parameter, in checkpoint order, concatenated (raw float32)
 * Exit status 0 on success; on failure one "flow_tool: error: ..." line and status 1. */
#include "genc/flow.h"
#include "genc/glow.h"
#include "genc/ops.h"
#include "genc/train.h"

#include "tool_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(genc_ctx *ctx, const char *what) {
    fprintf(stderr, "flow_tool: error: %s\n", what ? what : genc_last_error(ctx));
    return 1;
}

static int init_nice(genc_ctx *ctx, char **av) {
    genc_nice_config c = genc_nice_defaults();
    c.rows = atoi(av[1]), c.cols = atoi(av[2]), c.hidden = atoi(av[3]), c.layers = atoi(av[4]);
    c.couplings = atoi(av[5]), c.perm_seed = (uint64_t)atoll(av[7]);
    genc_rng_seed(ctx, (uint64_t)atoll(av[7]));
    genc_nice m;
    if (genc_nice_prior_parse(ctx, av[6], &c.prior) || genc_nice_init(ctx, &m, &c)) return fail(ctx, NULL);
    genc_fill_uniform(ctx, m.s, -0.5, 0.5);
    char *json = genc_nice_config_json(&c);
    genc_status s = genc_checkpoint_save(ctx, av[0], &m.params, NULL, json, NULL, genc_nice_ckpt_extra, &m);
    free(json);
    genc_nice_free(&m);
    return s ? fail(ctx, NULL) : 0;
}

static int init_glow(genc_ctx *ctx, char **av) {
    genc_glow_config c = {.rows = atoi(av[1]), .cols = atoi(av[2]), .levels = atoi(av[3]), .steps = atoi(av[4]),
                          .hidden = atoi(av[5])};
    genc_rng_seed(ctx, (uint64_t)atoll(av[6]));
    genc_glow m;
    if (genc_glow_init(ctx, &m, &c)) return fail(ctx, NULL);
    for (int i = 0; i < m.params.n; i++)
        for (int64_t j = 0; j < genc_numel(m.params.t[i]); j++)
            m.params.t[i]->data[j] += (genc_real)(0.1 * genc_rand_normal(ctx));
    char *json = genc_glow_config_json(&c);
    genc_status s = genc_checkpoint_save(ctx, av[0], &m.params, NULL, json, NULL, genc_glow_ckpt_extra, &m);
    free(json);
    genc_glow_free(&m);
    return s ? fail(ctx, NULL) : 0;
}

static genc_tensor *read_input(genc_ctx *ctx, const char *path, int64_t n, int64_t d) {
    int64_t shape[2] = {n, d};
    genc_tensor *t = genc_tensor_empty(ctx, 2, shape);
    float *buf = tool_read_bytes(path, (size_t)(n * d) * sizeof *buf);
    bool ok = buf != NULL;
    for (int64_t i = 0; t && ok && i < n * d; i++) t->data[i] = buf[i];
    free(buf);
    return ok ? t : NULL;
}

static int write_out(const char *path, const genc_tensor *a, const genc_tensor *b) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    const genc_tensor *ts[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; ts[k] && i < genc_numel(ts[k]); i++) {
            float v = (float)ts[k]->data[i];
            fwrite(&v, sizeof v, 1, f);
        }
    return fclose(f) != 0;
}

/* logp or inverse of either model: av = CKPT N IN OUT. */
static int apply(genc_ctx *ctx, bool glow, bool inverse, char **av) {
    genc_nice nice;
    genc_glow gl;
    if (glow ? genc_glow_load(ctx, av[0], &gl) : genc_nice_load(ctx, av[0], &nice)) return fail(ctx, NULL);
    int64_t n = atoll(av[1]), dim = glow ? gl.dim : nice.dim;
    genc_tensor *in = n > 0 ? read_input(ctx, av[2], n, dim) : NULL, *h = NULL, *out = NULL;
    genc_set_grad_enabled(ctx, false);
    if (in && glow) out = inverse ? genc_glow_inverse(ctx, &gl, in) : genc_glow_log_prob(ctx, &gl, in, &h);
    if (in && !glow) out = inverse ? genc_nice_inverse(ctx, &nice, in) : genc_nice_log_prob(ctx, &nice, in, &h);
    int bad = !out || write_out(av[3], out, h);
    if (glow) genc_glow_free(&gl);
    else genc_nice_free(&nice);
    if (!in) return fail(ctx, "cannot read the input file");
    return bad ? fail(ctx, out ? "cannot write the output" : NULL) : 0;
}

/* NICE's training-loss gradient: av = CKPT N IN OUT. */
static int grad_nice(genc_ctx *ctx, char **av) {
    genc_nice m;
    if (genc_nice_load(ctx, av[0], &m)) return fail(ctx, NULL);
    int64_t n = atoll(av[1]);
    genc_tensor *in = n > 0 ? read_input(ctx, av[2], n, m.dim) : NULL;
    genc_tensor *loss = in ? genc_scale(ctx, genc_mean_all(ctx, genc_nice_log_prob(ctx, &m, in, NULL)), -1.0) : NULL;
    genc_zero_grad(&m.params);
    int bad = !loss || genc_backward(ctx, loss) != GENC_OK;
    FILE *f = bad ? NULL : fopen(av[3], "wb");
    for (int i = 0; f && i < m.params.n; i++)
        for (int64_t j = 0; j < genc_numel(m.params.t[i]); j++) {
            float v = (float)m.params.t[i]->grad[j];
            fwrite(&v, sizeof v, 1, f);
        }
    bad |= !f || fclose(f) != 0;
    genc_nice_free(&m);
    if (!in) return fail(ctx, "cannot read the input file");
    return bad ? fail(ctx, loss ? "cannot compute or write the gradient" : NULL) : 0;
}

int main(int argc, char **argv) {
    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) return 1;
    int code = 2;
    bool glow = argc > 2 && !strcmp(argv[1], "glow"), nice = argc > 2 && !strcmp(argv[1], "nice");
    const char *verb = argc > 2 ? argv[2] : "";
    if (nice && argc == 11 && !strcmp(verb, "init")) code = init_nice(ctx, argv + 3);
    else if (glow && argc == 10 && !strcmp(verb, "init")) code = init_glow(ctx, argv + 3);
    else if ((nice || glow) && argc == 7 && !strcmp(verb, "logp")) code = apply(ctx, glow, false, argv + 3);
    else if ((nice || glow) && argc == 7 && !strcmp(verb, "inverse")) code = apply(ctx, glow, true, argv + 3);
    else if (nice && argc == 7 && !strcmp(verb, "grad")) code = grad_nice(ctx, argv + 3);
    else fprintf(stderr, "usage: flow_tool nice|glow init|logp|inverse|grad ... (see the file comment)\n");
    genc_ctx_free(ctx);
    return code;
}
