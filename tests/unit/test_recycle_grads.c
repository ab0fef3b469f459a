/* Gradient recycling (genc_set_recycle_grads): with it on, a chain of same-size ops gives
 * the parameters bit-identical gradients to a run without it, intermediate tensors end with
 * no gradient while leaves and the root keep theirs, and the step arena grows less (each
 * released buffer is reused, zero-filled, by the next gradient of its size). */
#include "genc/genc.h"
#include "test.h"

#include <string.h>

#define DEPTH 8

/* loss = sum(tanh(... tanh(x W^T) ... W^T)); *mid gets the first intermediate. */
static genc_tensor *chain(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, genc_tensor **mid) {
    genc_tensor *h = x;
    for (int i = 0; i < DEPTH; i++) {
        h = genc_tanh(ctx, genc_linear(ctx, h, w, NULL));
        if (i == 0) *mid = h;
    }
    return genc_sum_all(ctx, h);
}

/* One step; the arena bytes the backward added go to *grew, w's gradient to g. */
static void run(genc_ctx *ctx, bool recycle, genc_tensor *x, genc_tensor *w, genc_real *g, size_t *grew,
                bool *mid_has_grad, bool *root_has_grad) {
    genc_set_recycle_grads(ctx, recycle);
    memset(w->grad, 0, (size_t)genc_numel(w) * sizeof(genc_real));
    genc_tensor *mid = NULL, *loss = chain(ctx, x, w, &mid);
    size_t before = genc_arena_used(ctx);
    CHECK(loss && genc_backward(ctx, loss) == GENC_OK);
    *grew = genc_arena_used(ctx) - before;
    *mid_has_grad = mid && mid->grad, *root_has_grad = loss && loss->grad;
    memcpy(g, w->grad, (size_t)genc_numel(w) * sizeof(genc_real));
    genc_step_reset(ctx);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    const int64_t M = 16, D = 12;
    genc_tensor *x = genc_param_new(ctx, "x", 2, (int64_t[]){M, D}), *w = genc_param_new(ctx, "w", 2, (int64_t[]){D, D});
    for (int64_t i = 0; i < M * D; i++) x->data[i] = (genc_real)genc_philox_normal(5, (uint64_t)i);
    for (int64_t i = 0; i < D * D; i++) w->data[i] = (genc_real)(0.3 * genc_philox_normal(6, (uint64_t)i));
    genc_real g_keep[144], g_recycle[144];
    size_t grew_keep, grew_recycle;
    bool mid_keep, mid_recycle, root_keep, root_recycle;
    CHECK(!genc_set_recycle_grads(ctx, false)); /* off by default */
    run(ctx, false, x, w, g_keep, &grew_keep, &mid_keep, &root_keep);
    run(ctx, true, x, w, g_recycle, &grew_recycle, &mid_recycle, &root_recycle);
    CHECK_MSG(!memcmp(g_keep, g_recycle, sizeof g_keep), "parameter gradients differ with recycling");
    CHECK(mid_keep && !mid_recycle && root_keep && root_recycle && x->grad);
    CHECK_MSG(grew_recycle * 2 < grew_keep, "backward grew the arena by %zu bytes recycling, %zu not", grew_recycle,
              grew_keep);
    run(ctx, true, x, w, g_recycle, &grew_recycle, &mid_recycle, &root_recycle); /* after a step reset */
    CHECK(!memcmp(g_keep, g_recycle, sizeof g_keep));
    genc_tensor_free(x), genc_tensor_free(w);
    genc_ctx_free(ctx);
    return test_report("test_recycle_grads");
}
