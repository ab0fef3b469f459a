/* Gradient checks (double precision) for the core views and the matrix products:
 * reshape, transpose, slice, contiguous, matmul (batched, broadcast, transposed views)
 * and linear. */
#include "gradcheck.h"

static genc_tensor *f_matmul(genc_ctx *c, genc_tensor **in, void *u) { return genc_matmul(c, in[0], in[1]); }
static genc_tensor *f_matmul_bt(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_matmul(c, in[0], genc_transpose(c, in[1], -1, -2));
}
static genc_tensor *f_matmul_at(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_matmul(c, genc_transpose(c, in[0], -1, -2), in[1]);
}
static genc_tensor *f_linear(genc_ctx *c, genc_tensor **in, void *u) { return genc_linear(c, in[0], in[1], in[2]); }
static genc_tensor *f_linear_nobias(genc_ctx *c, genc_tensor **in, void *u) { return genc_linear(c, in[0], in[1], NULL); }
static genc_tensor *f_views(genc_ctx *c, genc_tensor **in, void *u) {
    /* [2,3,5] -> slice dim 2 [1,4) -> transpose(0,2) -> contiguous -> reshape [3, -1] */
    genc_tensor *s = genc_slice(c, in[0], 2, 1, 3);
    genc_tensor *t = genc_transpose(c, s, 0, 2);
    int64_t shp[2] = {3, -1};
    return genc_reshape(c, t, 2, shp);
}
static genc_tensor *f_slice_rows(genc_ctx *c, genc_tensor **in, void *u) { return genc_slice(c, in[0], 0, 1, 2); }

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    { /* plain 2-d, sizes not multiples of the SIMD width */
        int64_t sa[2] = {3, 7}, sb[2] = {7, 5};
        genc_tensor *in[2] = {gc_input(ctx, 2, sa, 1), gc_input(ctx, 2, sb, 2)};
        gradcheck(ctx, "matmul 2d", f_matmul, in, 2, NULL, 1e-6, 1e-8);
        genc_tensor_free(in[0]), genc_tensor_free(in[1]);
    }
    { /* batched with a 2-d right operand shared by the batch */
        int64_t sa[3] = {2, 3, 4}, sb[2] = {4, 5};
        genc_tensor *in[2] = {gc_input(ctx, 3, sa, 3), gc_input(ctx, 2, sb, 4)};
        gradcheck(ctx, "matmul broadcast b", f_matmul, in, 2, NULL, 1e-6, 1e-8);
        genc_tensor_free(in[0]), genc_tensor_free(in[1]);
    }
    { /* 4-d batch with broadcasting in the first dim, batch 1 edge */
        int64_t sa[4] = {2, 3, 1, 4}, sb[4] = {1, 3, 4, 2};
        genc_tensor *in[2] = {gc_input(ctx, 4, sa, 5), gc_input(ctx, 4, sb, 6)};
        gradcheck(ctx, "matmul 4d broadcast", f_matmul, in, 2, NULL, 1e-6, 1e-8);
        genc_tensor_free(in[0]), genc_tensor_free(in[1]);
    }
    { /* transposed views passed as GEMM flags */
        int64_t sa[3] = {2, 3, 4}, sb[3] = {2, 5, 4};
        genc_tensor *in[2] = {gc_input(ctx, 3, sa, 7), gc_input(ctx, 3, sb, 8)};
        gradcheck(ctx, "matmul b transposed", f_matmul_bt, in, 2, NULL, 1e-6, 1e-8);
        genc_tensor_free(in[0]), genc_tensor_free(in[1]);
        int64_t sc[3] = {2, 4, 3}, sd[3] = {2, 4, 5};
        genc_tensor *in2[2] = {gc_input(ctx, 3, sc, 9), gc_input(ctx, 3, sd, 10)};
        gradcheck(ctx, "matmul a transposed", f_matmul_at, in2, 2, NULL, 1e-6, 1e-8);
        genc_tensor_free(in2[0]), genc_tensor_free(in2[1]);
    }
    { /* linear with and without bias, 3-d input */
        int64_t sx[3] = {2, 3, 5}, sw[2] = {7, 5}, sbias[1] = {7};
        genc_tensor *in[3] = {gc_input(ctx, 3, sx, 11), gc_input(ctx, 2, sw, 12), gc_input(ctx, 1, sbias, 13)};
        gradcheck(ctx, "linear", f_linear, in, 3, NULL, 1e-6, 1e-8);
        gradcheck(ctx, "linear no bias", f_linear_nobias, in, 2, NULL, 1e-6, 1e-8);
        for (int i = 0; i < 3; i++) genc_tensor_free(in[i]);
    }
    { /* views */
        int64_t s[3] = {2, 3, 5};
        genc_tensor *in[1] = {gc_input(ctx, 3, s, 14)};
        gradcheck(ctx, "slice/transpose/reshape", f_views, in, 1, NULL, 1e-6, 1e-8);
        genc_tensor_free(in[0]);
        int64_t s2[2] = {4, 3};
        genc_tensor *in2[1] = {gc_input(ctx, 2, s2, 15)};
        gradcheck(ctx, "slice rows", f_slice_rows, in2, 1, NULL, 1e-6, 1e-8);
        genc_tensor_free(in2[0]);
    }
    { /* errors, not crashes, on impossible shapes */
        int64_t sa[2] = {3, 4}, sb[2] = {5, 6};
        genc_tensor *a = gc_input(ctx, 2, sa, 1), *b = gc_input(ctx, 2, sb, 2);
        genc_step_reset(ctx);
        CHECK(genc_matmul(ctx, a, b) == NULL);
        CHECK(genc_ctx_status(ctx) == GENC_EINVAL);
        CHECK(strstr(genc_last_error(ctx), "[3, 4]") != NULL);
        genc_clear_error(ctx);
        CHECK(genc_slice(ctx, a, 1, 2, 5) == NULL);
        genc_clear_error(ctx);
        int64_t bad[2] = {5, -1};
        CHECK(genc_reshape(ctx, a, 2, bad) == NULL);
        genc_clear_error(ctx);
        CHECK(genc_matmul(ctx, NULL, b) == NULL); /* NULL propagates */
        genc_tensor_free(a), genc_tensor_free(b);
    }
    genc_ctx_free(ctx);
    return test_report("grad_core");
}
