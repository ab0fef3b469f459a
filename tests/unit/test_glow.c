/* Glow in the float build (include/genc/glow.h): x -> h -> x reproduces x to 1e-5 on a 28x28
 * model with every parameter randomised; actnorm's data initialisation gives each channel
 * zero mean and unit variance; log p(x) is the Gaussian prior of h plus the summed layer
 * log-dets; sampling is deterministic for a seed, differs across seeds and does not depend on
 * chunking or threads; configs round-trip and bad ones are refused; a checkpoint reloads to
 * the same log p(x) and one whose fixed 1x1-convolution permutation is not a permutation is
 * refused. (Log-dets against numerical Jacobians and gradients: grad_glow_ops.c, in double.) */
#include "genc/genc.h"
#include "genc/flow.h"
#include "genc/glow.h"
#include "genc/train.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static void tiny_model(genc_ctx *ctx, genc_glow *m, int rows, int cols, int levels, int steps, double noise) {
    genc_glow_config c = {.rows = rows, .cols = cols, .levels = levels, .steps = steps, .hidden = 8};
    CHECK(genc_glow_init(ctx, m, &c) == GENC_OK);
    for (int i = 0; i < m->params.n; i++) /* no identity layers: perturb even the zero convs */
        for (int64_t j = 0; j < genc_numel(m->params.t[i]); j++)
            m->params.t[i]->data[j] += (genc_real)(noise * genc_rand_normal(ctx));
}

/* n dequantised-looking images in [0, 1). */
static genc_tensor *random_x(genc_ctx *ctx, int64_t n, int64_t d, uint64_t seed) {
    int64_t shape[2] = {n, d};
    genc_tensor *x = genc_tensor_empty(ctx, 2, shape);
    for (int64_t i = 0; i < n * d; i++) {
        double u = genc_philox_uniform(seed, (uint64_t)i);
        x->data[i] = (genc_real)(u < 0.6 ? u / 256 : u); /* mostly "background", like digits */
    }
    return x;
}

static void test_inversion(genc_ctx *ctx) {
    genc_glow m;
    tiny_model(ctx, &m, 28, 28, 2, 3, 0.05);
    CHECK(genc_glow_data_init(ctx, &m, random_x(ctx, 32, m.dim, 5)) == GENC_OK);
    genc_tensor *x = random_x(ctx, 16, m.dim, 6);
    genc_tensor *h = genc_glow_forward(ctx, &m, x, NULL), *back = genc_glow_inverse(ctx, &m, h);
    CHECK(h && back && h->shape[1] == 784 && back->shape[1] == 784);
    double err = back ? 0 : INFINITY;
    for (int64_t i = 0; back && i < 16 * 784; i++) err = fmax(err, fabs((double)back->data[i] - x->data[i]));
    CHECK_MSG(err < 1e-5, "28x28 inversion error %.3g", err);
    genc_step_reset(ctx);
    genc_glow_free(&m);
}

/* After data init, the first actnorm's output has per-channel mean 0 and variance 1 on the
 * initialisation batch. */
static void test_data_init(genc_ctx *ctx) {
    genc_glow m;
    tiny_model(ctx, &m, 8, 8, 2, 2, 0.0);
    genc_tensor *x = random_x(ctx, 64, m.dim, 9);
    CHECK(genc_glow_data_init(ctx, &m, x) == GENC_OK);
    x = random_x(ctx, 64, m.dim, 9);
    genc_tensor *ld, *y = genc_glow_layer_forward(ctx, &m, 0, 0, GENC_GLOW_ACTNORM,
                                                 genc_squeeze2x2(ctx, genc_reshape(ctx, x, 4, (int64_t[]){64, 1, 8, 8})),
                                                 &ld);
    CHECK(y != NULL);
    for (int c = 0; y && c < 4; c++) {
        double s = 0, q = 0;
        for (int n = 0; n < 64; n++)
            for (int p = 0; p < 16; p++) s += y->data[(n * 4 + c) * 16 + p], q += y->data[(n * 4 + c) * 16 + p] * y->data[(n * 4 + c) * 16 + p];
        s /= 1024, q = q / 1024 - s * s;
        CHECK_MSG(fabs(s) < 1e-4 && fabs(q - 1) < 1e-3, "channel %d: mean %g variance %g", c, s, q);
    }
    genc_step_reset(ctx);
    genc_glow_free(&m);
}

static void test_log_prob_formula(genc_ctx *ctx) {
    genc_glow m;
    tiny_model(ctx, &m, 4, 4, 2, 2, 0.1);
    genc_tensor *x = random_x(ctx, 3, m.dim, 11), *h = NULL, *ld = NULL;
    genc_tensor *lp = genc_glow_log_prob(ctx, &m, x, &h), *h2 = genc_glow_forward(ctx, &m, x, &ld);
    for (int n = 0; lp && ld && n < 3; n++) {
        double want = ld->data[n];
        for (int d = 0; d < 16; d++) want += -0.5 * h->data[n * 16 + d] * h->data[n * 16 + d] - 0.5 * log(2 * M_PI);
        CHECK_CLOSE(lp->data[n], want, 1e-5, 1e-4);
        CHECK(h2->data[n * 16 + 5] == h->data[n * 16 + 5]);
    }
    genc_step_reset(ctx);
    genc_glow_free(&m);
}

static void test_sampling(genc_ctx *ctx) {
    genc_glow m;
    tiny_model(ctx, &m, 4, 4, 2, 2, 0.1);
    static float a[300 * 16], b[300 * 16], c[300 * 16];
    CHECK(genc_glow_sample(ctx, &m, 300, 0.7, 42, a) == GENC_OK);
    CHECK(genc_glow_sample(ctx, &m, 300, 0.7, 42, b) == GENC_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    genc_set_threads(ctx, 1);
    CHECK(genc_glow_sample(ctx, &m, 3, 0.7, 42, c) == GENC_OK); /* a prefix, one chunk, one thread */
    genc_set_threads(ctx, 2);
    CHECK(memcmp(a, c, 3 * 16 * sizeof(float)) == 0);
    CHECK(genc_glow_sample(ctx, &m, 300, 0.7, 43, c) == GENC_OK);
    CHECK(memcmp(a, c, sizeof a) != 0);
    bool finite = true;
    for (int i = 0; i < 300 * 16; i++) finite = finite && isfinite(a[i]);
    CHECK(finite);
    genc_glow_free(&m);
}

static void test_config_and_checkpoint(genc_ctx *ctx) {
    genc_glow_config c = {.rows = 8, .cols = 4, .levels = 2, .steps = 3, .hidden = 6}, back;
    char *j = genc_glow_config_json(&c);
    CHECK(j && genc_glow_config_parse(ctx, j, "t", &back) == GENC_OK);
    CHECK(back.rows == 8 && back.cols == 4 && back.levels == 2 && back.steps == 3 && back.hidden == 6);
    free(j);
    const char *bad[] = {"{\"model\":\"glow\",\"rows\":6,\"cols\":4,\"levels\":2,\"steps\":1,\"hidden\":4}",
                         "{\"model\":\"nice\",\"rows\":8,\"cols\":4,\"levels\":2,\"steps\":1,\"hidden\":4}",
                         "{\"model\":\"glow\",\"rows\":8,\"cols\":4,\"levels\":2,\"steps\":0,\"hidden\":4}",
                         "{\"model\":\"glow\",\"rows\":8,\"cols\":4,\"levels\":2,\"steps\":1}", "not json"};
    for (int i = 0; i < 5; i++) {
        CHECK(genc_glow_config_parse(ctx, bad[i], "t", &back) == GENC_EFORMAT);
        genc_clear_error(ctx);
    }
    c.hidden = 0;
    genc_glow m, l;
    CHECK(genc_glow_init(ctx, &m, &c) == GENC_EINVAL);
    genc_clear_error(ctx);
    tiny_model(ctx, &m, 8, 4, 2, 2, 0.1);
    char path[] = "/tmp/genc_test_glow_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    j = genc_glow_config_json(&m.cfg);
    CHECK(genc_checkpoint_save(ctx, path, &m.params, NULL, j, NULL, genc_glow_ckpt_extra, &m) == GENC_OK);
    CHECK(genc_glow_load(ctx, path, &l) == GENC_OK);
    char *model = genc_flow_checkpoint_model(ctx, path);
    CHECK(model && !strcmp(model, "glow"));
    free(model);
    genc_tensor *x = random_x(ctx, 2, 32, 13);
    genc_tensor *a = genc_glow_log_prob(ctx, &m, x, NULL), *b = genc_glow_log_prob(ctx, &l, x, NULL);
    CHECK(a && b && a->data[0] == b->data[0] && a->data[1] == b->data[1]);
    genc_glow_free(&l);
    genc_step_reset(ctx);
    m.lev[1].steps[1].perm[0] = m.lev[1].steps[1].perm[1]; /* not a permutation any more */
    CHECK(genc_checkpoint_save(ctx, path, &m.params, NULL, j, NULL, genc_glow_ckpt_extra, &m) == GENC_OK);
    CHECK(genc_glow_load(ctx, path, &l) == GENC_EFORMAT);
    CHECK(strstr(genc_last_error(ctx), "extra.level.1.step.1.invconv.perm") != NULL);
    genc_clear_error(ctx);
    unlink(path);
    free(j);
    genc_glow_free(&m);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    genc_rng_seed(ctx, 3);
    test_inversion(ctx);
    test_data_init(ctx);
    test_log_prob_formula(ctx);
    test_sampling(ctx);
    test_config_and_checkpoint(ctx);
    genc_ctx_free(ctx);
    return test_report("test_glow");
}
