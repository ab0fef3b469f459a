/* The step profiler (include/genc/profile.h): off, it gathers nothing; on, a linear layer's
 * forward and backward land on the "linear" entry with their GEMM FLOPs (2 M N K forward,
 * twice that backward with both gradients), each op once per call, a mark takes the time
 * since the last record, and the arena bytes of ops run under a layer add up to that layer. */
#include "genc/genc.h"
#include "test.h"

#include <string.h>

static const genc_profile_entry *find(const genc_ctx *ctx, const char *name) {
    int n;
    const genc_profile_entry *e = genc_profile_entries(ctx, &n);
    for (int i = 0; i < n; i++)
        if (!strcmp(e[i].name, name)) return &e[i];
    return NULL;
}

/* loss = sum(linear(x, w)) with x [M, K], w [N, K]; layer 3 current while it is built. */
static void step(genc_ctx *ctx, genc_tensor *x, genc_tensor *w) {
    genc_profile_layer(ctx, 3);
    genc_tensor *y = genc_linear(ctx, x, w, NULL);
    genc_profile_layer(ctx, -1);
    genc_backward(ctx, genc_sum_all(ctx, y));
    genc_profile_mark(ctx, "after");
    genc_step_reset(ctx);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 1);
    const int64_t M = 6, N = 5, K = 4;
    genc_tensor *x = genc_param_new(ctx, "x", 2, (int64_t[]){M, K}), *w = genc_param_new(ctx, "w", 2, (int64_t[]){N, K});
    for (int64_t i = 0; i < M * K; i++) x->data[i] = (genc_real)(0.1 * (double)i);
    for (int64_t i = 0; i < N * K; i++) w->data[i] = (genc_real)(0.2 - 0.05 * (double)i);
    int n = -1;
    step(ctx, x, w);
    CHECK(!genc_profile_on(ctx) && genc_profile_entries(ctx, &n) == NULL && n == 0);

    CHECK(genc_profile_start(ctx, GENC_PROFILE_WALL) == GENC_OK && genc_profile_on(ctx));
    step(ctx, x, w);
    step(ctx, x, w);
    genc_profile_stop(ctx);
    step(ctx, x, w); /* stopped: not counted */
    const genc_profile_entry *lin = find(ctx, "linear"), *sum = find(ctx, "sum_all"), *mark = find(ctx, "after");
    CHECK(lin && lin->fwd_calls == 2 && lin->bwd_calls == 2);
    CHECK(lin && lin->fwd_flops == 2 * 2.0 * M * N * K && lin->bwd_flops == 2 * 4.0 * M * N * K);
    CHECK(lin && lin->fwd_s >= 0 && lin->bwd_s >= 0 && lin->fwd_bytes >= 2.0 * M * N * sizeof(genc_real));
    CHECK(sum && sum->fwd_calls == 2 && sum->fwd_flops == 0);
    CHECK(mark && mark->fwd_calls == 2 && mark->bwd_calls == 0);
    CHECK(lin && genc_profile_layer_bytes(ctx, 3) == lin->fwd_bytes && genc_profile_layer_bytes(ctx, 2) == 0);

    CHECK(genc_profile_start(ctx, GENC_PROFILE_CPU) == GENC_OK); /* restarting clears */
    CHECK(genc_profile_entries(ctx, &n) != NULL && n == 0);
    genc_tensor_free(x), genc_tensor_free(w);
    genc_ctx_free(ctx);
    return test_report("test_profile");
}
