/* The one-process side of distributed training (what runs without a launcher): a rank's shard
 * of the data windows is the matching rows of the global batch for any rank count; joining
 * without a launcher gives rank 0 of 1 and no-op exchanges; ZeRO-1 on one rank (views over the
 * whole model) updates the parameters bit for bit as the plain optimiser, weight-decay groups
 * included. */
#include "genc/genc.h"
#include "genc/lm.h"
#include "genc/train.h"
#include "test.h"

static void test_window_shards(void) {
    int32_t tokens[500];
    for (int i = 0; i < 500; i++) tokens[i] = (i * 37) % 101;
    genc_lm_corpus c = {.tokens = tokens, .n = 500, .n_train = 450};
    enum { B = 12, T = 9 };
    int32_t whole[B * (T + 1)], part[B * (T + 1)];
    for (int64_t step = 0; step < 3; step++) {
        genc_lm_windows(&c, 7, step, B, T, whole);
        for (int R = 1; R <= 4; R++) {
            for (int r = 0; r < R; r++) genc_lm_windows_rows(&c, 7, step, B, r * B / R, B / R, T, part + r * (B / R) * (T + 1));
            CHECK_MSG(!memcmp(whole, part, sizeof whole), "step %lld, %d ranks", (long long)step, R);
        }
    }
}

static void test_one_rank(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_dist *d = NULL;
    CHECK(!genc_dist_open(ctx, 0, &d) && d);
    CHECK(genc_dist_rank(d) == 0 && genc_dist_size(d) == 1 && genc_dist_timeout(d) > 0);
    double v[2] = {1.5, -2};
    CHECK(!genc_dist_sum_f64(ctx, d, v, 2, "a test") && v[0] == 1.5 && v[1] == -2);
    CHECK(!genc_dist_check_same(ctx, d, "config", "abc", 3));
    CHECK(genc_dist_bytes_sent(d) == 0 && !genc_dist_broken(d));
    genc_dist_close(d, false);
    genc_ctx_free(ctx);
}

/* Two copies of a small model: one stepped by the optimiser, one by ZeRO-1 on one rank. */
static void test_zero_one_rank(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_params a = {0}, b = {0};
    int64_t shapes[3][2] = {{4, 6}, {6, 1}, {3, 5}};
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", i);
        int nd = shapes[i][1] == 1 ? 1 : 2; /* a vector: no weight decay */
        genc_tensor *ta = genc_params_new(ctx, &a, name, nd, shapes[i]);
        genc_tensor *tb = genc_params_new(ctx, &b, name, nd, shapes[i]);
        for (int64_t j = 0; ta && tb && j < genc_numel(ta); j++) ta->data[j] = tb->data[j] = (genc_real)(0.1 * (double)(j % 7) - 0.3);
    }
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.weight_decay = 0.5;
    genc_optim o;
    genc_zero z;
    CHECK(!genc_optim_init(ctx, &o, &a, &oc) && !genc_zero_init(ctx, &z, NULL, &b, &oc));
    CHECK(genc_zero_state_bytes(&z) == genc_params_numel(&b) * 2 * (int64_t)sizeof(genc_real));
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < a.n; i++)
            for (int64_t j = 0; j < genc_numel(a.t[i]); j++)
                genc_grad(ctx, a.t[i])[j] = genc_grad(ctx, b.t[i])[j] = (genc_real)(0.01 * (double)((j * 3 + step) % 5) - 0.02);
        genc_optim_step(&o, 1e-2);
        CHECK(!genc_zero_step(ctx, &z, 1e-2, step));
    }
    for (int i = 0; i < a.n; i++)
        CHECK_MSG(!memcmp(a.t[i]->data, b.t[i]->data, (size_t)genc_numel(a.t[i]) * sizeof(genc_real)), "%s", a.t[i]->name);
    genc_optim_free(&o), genc_zero_free(&z);
    genc_params_free_all(&a), genc_params_free_all(&b);
    genc_ctx_free(ctx);
}

int main(void) {
    test_window_shards();
    test_one_rank();
    test_zero_one_rank();
    return test_report("test_dist");
}
