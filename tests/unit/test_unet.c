/* U-Net unit tests (float build, src/image/unet.c): the defaults' size and parameter names,
 * config JSON round trip and rejection of bad configs, output shape and the zero output of the
 * zero-initialised conv_out, that labels and times change the output (class and time embeddings
 * reach it), that NULL labels equal the explicit null label, that rows do not mix (the output of
 * one image does not depend on the others in the batch, without dropout), that dropout is
 * inactive without grad mode, a checkpoint round trip through genc_unet_load, and error paths
 * (wrong input width, labels out of range). The network's values and gradients are checked
 * against PyTorch in tests/reference/test_unet.py. */
#include "genc/genc.h"
#include "genc/ops.h"
#include "genc/train.h"
#include "genc/unet.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static genc_unet_config tiny(void) {
    genc_unet_config c = genc_unet_defaults();
    c.rows = c.cols = 8, c.base = 8, c.levels = 2, c.mult[0] = 1, c.mult[1] = 2, c.res_blocks = 1, c.groups = 4;
    c.attn_heads = 2, c.classes = 3, c.dropout = 0;
    return c;
}

/* A tiny model with conv_out redrawn so the output is not identically zero. */
static void tiny_model(genc_ctx *ctx, genc_unet *m, const genc_unet_config *c) {
    CHECK(genc_unet_init(ctx, m, c) == GENC_OK);
    genc_fill_uniform(ctx, m->conv_out_w, -0.2, 0.2);
    genc_fill_uniform(ctx, m->conv_out_b, -0.2, 0.2);
}

static genc_tensor *input(genc_ctx *ctx, int64_t N, int64_t D, uint64_t seed) {
    int64_t s[2] = {N, D};
    genc_tensor *x = genc_tensor_empty(ctx, 2, s);
    for (int64_t i = 0; x && i < N * D; i++) x->data[i] = (genc_real)genc_philox_normal(seed, (uint64_t)i);
    return x;
}

static double max_diff(const genc_tensor *a, const genc_tensor *b, int64_t off_a, int64_t off_b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; a && b && i < n; i++) {
        double e = fabs((double)a->data[off_a + i] - (double)b->data[off_b + i]);
        d = e > d ? e : d;
    }
    return a && b ? d : INFINITY;
}

static void test_defaults(genc_ctx *ctx) {
    genc_unet_config c = genc_unet_defaults();
    genc_unet m;
    CHECK(genc_unet_init(ctx, &m, &c) == GENC_OK);
    /* unconditional; with 10 classes + 11 x 128 = 1540737, the count of bench/unet.py's PyTorch twin */
    CHECK_MSG(genc_params_numel(&m.params) == 1539329, "defaults: %lld parameters",
              (long long)genc_params_numel(&m.params));
    CHECK(genc_params_find(&m.params, "down.0.res.1.conv1.weight") != NULL);
    CHECK(genc_params_find(&m.params, "up.0.res.2.skip.weight") != NULL);
    CHECK(genc_params_find(&m.params, "mid.attn.proj.bias") != NULL);
    CHECK(genc_params_find(&m.params, "class_emb.weight") == NULL);
    CHECK(m.n_res == 3 * 2 + 2 + 3 * 3);
    genc_set_grad_enabled(ctx, false);
    float t[2] = {0, 999};
    genc_tensor *y = genc_unet_forward(ctx, &m, input(ctx, 2, 784, 1), t, NULL);
    CHECK(y && y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 784);
    double mx = 0;
    for (int64_t i = 0; y && i < 2 * 784; i++) mx = fabs(y->data[i]) > mx ? fabs(y->data[i]) : mx;
    CHECK_MSG(y && mx == 0, "zero-initialised conv_out: max |out| %g", mx);
    genc_set_grad_enabled(ctx, true);
    genc_step_reset(ctx);
    genc_unet_free(&m);
}

static void test_config(genc_ctx *ctx) {
    genc_unet_config c = tiny(), d;
    c.dropout = 0.25;
    char *j = genc_unet_config_json(&c);
    CHECK(j && genc_unet_config_parse(ctx, j, "x", &d) == GENC_OK);
    CHECK(d.rows == 8 && d.base == 8 && d.levels == 2 && d.mult[1] == 2 && d.res_blocks == 1 && d.groups == 4 &&
          d.attn_heads == 2 && d.classes == 3 && d.dropout == 0.25);
    free(j);
    const char *bad[] = {
        NULL,
        "{\"model\":\"nice\"}",
        "{\"model\":\"unet\",\"rows\":8,\"cols\":8,\"channels\":1,\"base\":8,\"levels\":2,\"mult\":[1],"
        "\"res_blocks\":1,\"groups\":4,\"attn_heads\":2,\"classes\":0,\"dropout\":0}", /* mult length */
        "{\"model\":\"unet\",\"rows\":8,\"cols\":8,\"channels\":1,\"base\":8,\"levels\":2,\"mult\":[1,2],"
        "\"res_blocks\":1,\"groups\":3,\"attn_heads\":2,\"classes\":0,\"dropout\":0}", /* groups */
        "{\"model\":\"unet\",\"rows\":7,\"cols\":8,\"channels\":1,\"base\":8,\"levels\":2,\"mult\":[1,2],"
        "\"res_blocks\":1,\"groups\":4,\"attn_heads\":2,\"classes\":0,\"dropout\":0}", /* 7 does not halve */
        "{\"model\":\"unet\",\"rows\":8,\"cols\":8,\"channels\":1,\"base\":8,\"levels\":2,\"mult\":[1,2],"
        "\"res_blocks\":1,\"groups\":4,\"attn_heads\":3,\"classes\":0,\"dropout\":0}", /* heads */
        "{\"model\":\"unet\",\"rows\":8,\"cols\":8,\"channels\":1,\"base\":8,\"levels\":2,\"mult\":[1,2],"
        "\"res_blocks\":1,\"groups\":4,\"attn_heads\":2,\"classes\":0,\"dropout\":1.5}", /* dropout */
        "{\"model\":\"unet\",\"rows\":8,\"cols\":8,\"channels\":1,\"base\":8,\"levels\":2,\"mult\":[1,2],"
        "\"res_blocks\":1,\"groups\":4,\"attn_heads\":2,\"classes\":0,\"dropout\":0,\"extra\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(genc_unet_config_parse(ctx, bad[i], "ckpt.safetensors", &d) == GENC_EFORMAT, "bad config %zu", i);
        CHECK(strstr(genc_last_error(ctx), "ckpt.safetensors") != NULL);
        genc_clear_error(ctx);
    }
    genc_unet m;
    c = tiny(), c.groups = 3; /* 3 does not divide 8 */
    CHECK(genc_unet_init(ctx, &m, &c) == GENC_EINVAL && strstr(genc_last_error(ctx), "mult"));
    genc_clear_error(ctx);
    c = tiny(), c.base = 4, c.groups = 4, c.mult[1] = 1; /* up block input 4 + 4: fine; 8 + 4 = 12: 4 divides */
    CHECK(genc_unet_init(ctx, &m, &c) == GENC_OK);
    genc_unet_free(&m);
}

static void test_forward(genc_ctx *ctx) {
    genc_unet_config c = tiny();
    genc_unet m;
    tiny_model(ctx, &m, &c);
    genc_set_grad_enabled(ctx, false);
    genc_tensor *x = input(ctx, 3, 64, 5);
    float t[3] = {10, 500, 900}, t2[3] = {11, 500, 900};
    int32_t lab[3] = {0, 1, 3}, lab2[3] = {2, 1, 3}, nul[3] = {3, 3, 3};
    genc_tensor *y = genc_unet_forward(ctx, &m, x, t, lab);
    genc_tensor *yt = genc_unet_forward(ctx, &m, x, t2, lab);
    genc_tensor *yl = genc_unet_forward(ctx, &m, x, t, lab2);
    CHECK(y && y->shape[0] == 3 && y->shape[1] == 64);
    CHECK_MSG(max_diff(y, yt, 0, 0, 64) > 1e-6, "time 10 vs 11 gives the same image 0");
    CHECK(max_diff(y, yt, 64, 64, 128) == 0); /* images 1 and 2 unchanged */
    CHECK_MSG(max_diff(y, yl, 0, 0, 64) > 1e-6, "label 0 vs 2 gives the same image 0");
    CHECK(max_diff(y, genc_unet_forward(ctx, &m, x, t, nul), 128, 128, 64) == 0); /* row 2 has the null label */
    CHECK(max_diff(genc_unet_forward(ctx, &m, x, t, NULL), genc_unet_forward(ctx, &m, x, t, nul), 0, 0, 192) == 0);
    /* rows are independent: image 1 alone equals image 1 of the batch (up to GEMM blocking) */
    int64_t s1[2] = {1, 64};
    genc_tensor *x1 = genc_tensor_wrap(ctx, x->data + 64, 2, s1);
    genc_tensor *y1 = genc_unet_forward(ctx, &m, x1, t + 1, lab + 1);
    CHECK_MSG(max_diff(y, y1, 64, 0, 64) < 1e-5, "batch of 1 vs 3: %g", max_diff(y, y1, 64, 0, 64));
    /* dropout is off without grad mode, on with it */
    m.cfg.dropout = 0.5;
    CHECK(max_diff(y, genc_unet_forward(ctx, &m, x, t, lab), 0, 0, 192) == 0);
    genc_set_grad_enabled(ctx, true);
    genc_tensor *yd = genc_unet_forward(ctx, &m, x, t, lab);
    CHECK_MSG(max_diff(y, yd, 0, 0, 192) > 1e-4, "dropout 0.5 in grad mode changed nothing");
    m.cfg.dropout = 0;
    /* errors */
    CHECK(genc_unet_forward(ctx, &m, input(ctx, 2, 63, 1), t, NULL) == NULL && strstr(genc_last_error(ctx), "[N, 64]"));
    genc_clear_error(ctx);
    int32_t out_of_range[3] = {0, 4, 1};
    CHECK(genc_unet_forward(ctx, &m, x, t, out_of_range) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    CHECK_MSG(strstr(genc_last_error(ctx), "label 4 of row 1 is outside 0..3"), "%s", genc_last_error(ctx));
    genc_clear_error(ctx);
    CHECK(genc_unet_forward(ctx, &m, x, NULL, lab) == NULL && strstr(genc_last_error(ctx), "no times"));
    genc_clear_error(ctx);
    CHECK(genc_unet_forward(ctx, &m, NULL, t, NULL) == NULL && genc_ctx_status(ctx) == GENC_OK);
    genc_step_reset(ctx);
    genc_unet_free(&m);
}

static void test_checkpoint(genc_ctx *ctx) {
    genc_unet_config c = tiny();
    genc_unet m, l;
    tiny_model(ctx, &m, &c);
    char path[64];
    snprintf(path, sizeof path, "/tmp/genc_test_unet_%d.safetensors", (int)getpid());
    char *j = genc_unet_config_json(&c);
    CHECK(genc_checkpoint_save(ctx, path, &m.params, NULL, j, NULL, NULL, NULL) == GENC_OK);
    free(j);
    CHECK(genc_unet_load(ctx, path, &l) == GENC_OK);
    genc_set_grad_enabled(ctx, false);
    genc_tensor *x = input(ctx, 2, 64, 9);
    float t[2] = {3, 700};
    int32_t lab[2] = {1, 3};
    CHECK(max_diff(genc_unet_forward(ctx, &m, x, t, lab), genc_unet_forward(ctx, &l, x, t, lab), 0, 0, 128) == 0);
    genc_set_grad_enabled(ctx, true);
    genc_step_reset(ctx);
    genc_unet_free(&l);
    CHECK(genc_unet_load(ctx, "/nonexistent/unet.safetensors", &l) != GENC_OK);
    genc_clear_error(ctx);
    unlink(path);
    genc_unet_free(&m);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    genc_rng_seed(ctx, 42);
    test_defaults(ctx);
    test_config(ctx);
    test_forward(ctx);
    test_checkpoint(ctx);
    genc_ctx_free(ctx);
    return test_report("test_unet");
}
