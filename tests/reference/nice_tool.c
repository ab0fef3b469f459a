/* nice_tool: a small driver of genc's NICE for tests/reference/test_nice.py (PyTorch reference).
 *   nice_tool init CKPT ROWS COLS HIDDEN LAYERS COUPLINGS PRIOR SEED
 *       a freshly initialised NICE (s drawn uniform in [-0.5, 0.5] so the scaling matters),
 *       saved as a checkpoint with its config and extra.permutation
 *   nice_tool logp CKPT N IN.f32 OUT.f32    x [N, D] -> log p(x) [N] then h [N, D] (raw float32)
 *   nice_tool inverse CKPT N IN.f32 OUT.f32 h [N, D] -> x [N, D]
 * Exit status 0 on success; on failure one "nice_tool: error: ..." line and status 1. */
#include "genc/flow.h"
#include "genc/ops.h"
#include "genc/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(genc_ctx *ctx, const char *what) {
    fprintf(stderr, "nice_tool: error: %s\n", what ? what : genc_last_error(ctx));
    return 1;
}

static int do_init(genc_ctx *ctx, char **av) {
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

static genc_tensor *read_input(genc_ctx *ctx, const char *path, int64_t n, int64_t d) {
    int64_t shape[2] = {n, d};
    genc_tensor *t = genc_tensor_empty(ctx, 2, shape);
    FILE *f = fopen(path, "rb");
    float *buf = malloc((size_t)(n * d) * sizeof *buf);
    size_t got = f && buf ? fread(buf, sizeof *buf, (size_t)(n * d), f) : 0;
    if (f) fclose(f);
    if (t && got == (size_t)(n * d))
        for (int64_t i = 0; i < n * d; i++) t->data[i] = buf[i];
    free(buf);
    return got == (size_t)(n * d) ? t : NULL;
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

static int do_apply(genc_ctx *ctx, bool inverse, char **av) {
    genc_nice m;
    if (genc_nice_load(ctx, av[0], &m)) return fail(ctx, NULL);
    int64_t n = atoll(av[1]);
    genc_tensor *in = n > 0 ? read_input(ctx, av[2], n, m.dim) : NULL, *h = NULL, *out;
    if (!in) {
        genc_nice_free(&m);
        return fail(ctx, "cannot read the input file");
    }
    genc_set_grad_enabled(ctx, false);
    out = inverse ? genc_nice_inverse(ctx, &m, in) : genc_nice_log_prob(ctx, &m, in, &h);
    int bad = !out || write_out(av[3], out, h);
    genc_nice_free(&m);
    return bad ? fail(ctx, out ? "cannot write the output" : NULL) : 0;
}

int main(int argc, char **argv) {
    genc_ctx *ctx = genc_ctx_new();
    if (!ctx) return 1;
    int code = 2;
    if (argc == 10 && !strcmp(argv[1], "init")) code = do_init(ctx, argv + 2);
    else if (argc == 6 && !strcmp(argv[1], "logp")) code = do_apply(ctx, false, argv + 2);
    else if (argc == 6 && !strcmp(argv[1], "inverse")) code = do_apply(ctx, true, argv + 2);
    else fprintf(stderr, "usage: nice_tool init|logp|inverse ... (see the file comment)\n");
    genc_ctx_free(ctx);
    return code;
}
