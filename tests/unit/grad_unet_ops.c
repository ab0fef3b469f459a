/* Gradient checks (double precision) for the U-Net's ops: group_norm and the fused group_norm_silu
 * (each with and without the affine weight and bias, 1 group, one group per channel, a middle
 * count, a 3-d input, a non-contiguous input view) and upsample_nearest2x (square, non-square, a
 * view); plus a small residual block built the way src/image/unet.c builds it (group norm, SiLU,
 * conv, a [N, C, 1, 1] broadcast add of a linear time projection, a channel concat), so the
 * composition of existing ops the network relies on is checked too. Forward values are compared
 * with direct formulas, on one input large enough for the parallel paths; the error paths name
 * what was expected.
 *
 * Tolerances: group norm is smooth, so the central difference with h = 1e-6 has truncation error
 * ~h^2 and rounding ~1e-16 |L| / h ~ 1e-9 here: rtol 1e-6, atol 1e-8. Upsampling is linear: only
 * rounding, atol 1e-9. */
#include "gradcheck.h"

typedef struct {
    int groups;
    bool affine, view, silu;
} gn_case;

static genc_tensor *f_gn(genc_ctx *c, genc_tensor **in, void *u) {
    gn_case *k = u;
    genc_tensor *x = k->view ? genc_transpose(c, in[0], 2, 3) : in[0];
    genc_tensor *w = k->affine ? in[1] : NULL, *b = k->affine ? in[2] : NULL;
    return k->silu ? genc_group_norm_silu(c, x, k->groups, w, b, 1e-5) : genc_group_norm(c, x, k->groups, w, b, 1e-5);
}
static genc_tensor *f_up(genc_ctx *c, genc_tensor **in, void *u) { return genc_upsample_nearest2x(c, in[0]); }
static genc_tensor *f_up_view(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_upsample_nearest2x(c, genc_transpose(c, in[0], 2, 3));
}

/* Direct group norm of x [N, C, S] (contiguous) at every element; count of values off by more than 1e-9. */
static int gn_forward_errors(const genc_tensor *x, const genc_tensor *y, int G, const genc_real *w, const genc_real *b,
                             bool silu) {
    int64_t N = x->shape[0], C = x->shape[1], S = genc_numel(x) / (N * C), Cg = C / G;
    int bad = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            const genc_real *xb = x->data + (n * C + g * Cg) * S;
            double mu = 0, var = 0;
            for (int64_t i = 0; i < Cg * S; i++) mu += xb[i];
            mu /= (double)(Cg * S);
            for (int64_t i = 0; i < Cg * S; i++) var += (xb[i] - mu) * (xb[i] - mu);
            double r = 1 / sqrt(var / (double)(Cg * S) + 1e-5);
            for (int64_t i = 0; i < Cg * S; i++) {
                int64_t c = g * Cg + i / S;
                double want = (xb[i] - mu) * r * (w ? w[c] : 1) + (b ? b[c] : 0);
                if (silu) want = want / (1 + exp(-want));
                bad += fabs(y->data[(n * C + g * Cg) * S + i] - want) > 1e-9 * (1 + fabs(want));
            }
        }
    return bad;
}

static void check_gn(genc_ctx *ctx, int ndim, const int64_t *shape, gn_case k) {
    int64_t sc[1] = {shape[1]};
    genc_tensor *in[3] = {gc_input(ctx, ndim, shape, 51), gc_input(ctx, 1, sc, 52), gc_input(ctx, 1, sc, 53)};
    char name[128];
    snprintf(name, sizeof name, "group_norm%s %dd C%lld G%d%s%s", k.silu ? "_silu" : "", ndim, (long long)shape[1],
             k.groups, k.affine ? " affine" : "", k.view ? " view" : "");
    gradcheck(ctx, name, f_gn, in, k.affine ? 3 : 1, &k, 1e-6, 1e-8);
    if (!k.view) {
        genc_step_reset(ctx);
        genc_tensor *y = f_gn(ctx, in, &k);
        CHECK_MSG(y && gn_forward_errors(in[0], y, k.groups, k.affine ? in[1]->data : NULL,
                                         k.affine ? in[2]->data : NULL, k.silu) == 0, "%s: forward values", name);
    }
    for (int i = 0; i < 3; i++) genc_tensor_free(in[i]);
}

/* Large enough (> GENC_PAR_MIN elements) for the parallel loops: forward values, and the
 * gradients at 2 threads equal those at 1. */
static void check_gn_parallel(genc_ctx *ctx, bool silu) {
    int64_t s[4] = {4, 16, 24, 24}, sc[1] = {16};
    genc_tensor *x = gc_input(ctx, 4, s, 61), *w = gc_input(ctx, 1, sc, 62), *b = gc_input(ctx, 1, sc, 63);
    int64_t n = genc_numel(x);
    genc_real *seed = malloc((size_t)n * sizeof *seed), *g1 = malloc((size_t)(n + 32) * sizeof *g1);
    for (int64_t i = 0; i < n; i++) seed[i] = (genc_real)genc_philox_normal(64, (uint64_t)i);
    for (int threads = 1; threads <= 2; threads++) {
        genc_set_threads(ctx, threads);
        genc_step_reset(ctx);
        genc_zero_grad(&(genc_params){.t = (genc_tensor *[]){x, w, b}, .n = 3});
        genc_tensor *y = silu ? genc_group_norm_silu(ctx, x, 4, w, b, 1e-5) : genc_group_norm(ctx, x, 4, w, b, 1e-5);
        CHECK(y && genc_backward_with(ctx, y, seed) == GENC_OK);
        if (!y) break;
        CHECK_MSG(gn_forward_errors(x, y, 4, w->data, b->data, silu) == 0, "group_norm %d threads: forward values", threads);
        if (threads == 1) {
            memcpy(g1, x->grad, (size_t)n * sizeof *g1);
            memcpy(g1 + n, w->grad, 16 * sizeof *g1), memcpy(g1 + n + 16, b->grad, 16 * sizeof *g1);
            continue;
        }
        int bad = 0;
        for (int64_t i = 0; i < n; i++) bad += fabs(x->grad[i] - g1[i]) > 1e-12 * (1 + fabs(g1[i]));
        for (int64_t i = 0; i < 16; i++)
            bad += fabs(w->grad[i] - g1[n + i]) > 1e-12 * (1 + fabs(g1[n + i])) ||
                   fabs(b->grad[i] - g1[n + 16 + i]) > 1e-12 * (1 + fabs(g1[n + 16 + i]));
        CHECK_MSG(bad == 0, "group_norm: %d gradients differ between 1 and 2 threads", bad);
    }
    free(seed), free(g1);
    genc_tensor_free(x), genc_tensor_free(w), genc_tensor_free(b);
}

static void check_upsample(genc_ctx *ctx) {
    int64_t s[4] = {2, 3, 3, 5}, sv[4] = {1, 2, 4, 3};
    genc_tensor *x = gc_input(ctx, 4, s, 71), *xv = gc_input(ctx, 4, sv, 72);
    gradcheck(ctx, "upsample_nearest2x", f_up, &x, 1, NULL, 1e-7, 1e-9);
    gradcheck(ctx, "upsample_nearest2x of a view", f_up_view, &xv, 1, NULL, 1e-7, 1e-9);
    genc_step_reset(ctx);
    genc_tensor *y = genc_upsample_nearest2x(ctx, x);
    CHECK(y && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 6 && y->shape[3] == 10);
    int bad = 0;
    for (int64_t pl = 0; y && pl < 6; pl++)
        for (int64_t i = 0; i < 6; i++)
            for (int64_t j = 0; j < 10; j++) bad += y->data[(pl * 6 + i) * 10 + j] != x->data[(pl * 3 + i / 2) * 5 + j / 2];
    CHECK_MSG(bad == 0, "upsample_nearest2x: %d forward values differ", bad);
    genc_tensor_free(x), genc_tensor_free(xv);
}

/* in: x [2, 4, 5, 5], skip [2, 2, 5, 5], conv w [4, 6, 3, 3], conv b [4], temb s [2, 3],
 * temb W [4, 3], GN w [6], GN b [6]: silu(GN(cat(x, skip))) -> conv -> + reshape(s W^T) -> silu. */
static genc_tensor *f_block(genc_ctx *c, genc_tensor **in, void *u) {
    genc_tensor *h = genc_concat(c, (genc_tensor *[]){in[0], in[1]}, 2, 1);
    h = genc_conv2d(c, genc_silu(c, genc_group_norm(c, h, 3, in[6], in[7], 1e-5)), in[2], in[3], 1, 1);
    int64_t ts[4] = {2, 4, 1, 1};
    return genc_silu(c, genc_add(c, h, genc_reshape(c, genc_linear(c, in[4], in[5], NULL), 4, ts)));
}

static void check_block(genc_ctx *ctx) {
    int64_t sx[4] = {2, 4, 5, 5}, ss[4] = {2, 2, 5, 5}, sw[4] = {4, 6, 3, 3}, sb[1] = {4}, st[2] = {2, 3},
            stw[2] = {4, 3}, sg[1] = {6};
    genc_tensor *in[8] = {gc_input(ctx, 4, sx, 81), gc_input(ctx, 4, ss, 82), gc_input(ctx, 4, sw, 83),
                          gc_input(ctx, 1, sb, 84), gc_input(ctx, 2, st, 85), gc_input(ctx, 2, stw, 86),
                          gc_input(ctx, 1, sg, 87), gc_input(ctx, 1, sg, 88)};
    gradcheck(ctx, "residual-block composition", f_block, in, 8, NULL, 1e-6, 1e-8);
    for (int i = 0; i < 8; i++) genc_tensor_free(in[i]);
}

static void check_errors(genc_ctx *ctx) {
    int64_t s[4] = {1, 6, 2, 2}, sc[1] = {4}, s3[3] = {1, 6, 4};
    genc_tensor *x = gc_input(ctx, 4, s, 1), *w = gc_input(ctx, 1, sc, 2), *x3 = gc_input(ctx, 3, s3, 3);
    genc_step_reset(ctx);
    CHECK(genc_group_norm(ctx, x, 4, NULL, NULL, 1e-5) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    CHECK_MSG(strstr(genc_last_error(ctx), "4 groups do not divide the 6 channels") != NULL, "%s", genc_last_error(ctx));
    genc_clear_error(ctx);
    CHECK(genc_group_norm(ctx, x, 0, NULL, NULL, 1e-5) == NULL);
    genc_clear_error(ctx);
    CHECK(genc_group_norm_silu(ctx, x, 4, NULL, NULL, 1e-5) == NULL && strstr(genc_last_error(ctx), "4 groups"));
    genc_clear_error(ctx);
    CHECK(genc_group_norm(ctx, x, 3, w, NULL, 1e-5) == NULL && strstr(genc_last_error(ctx), "[6], found [4]"));
    genc_clear_error(ctx);
    CHECK(genc_group_norm(ctx, x, 3, NULL, w, 1e-5) == NULL && strstr(genc_last_error(ctx), "[6], found [4]"));
    genc_clear_error(ctx);
    CHECK(genc_group_norm(ctx, w, 1, NULL, NULL, 1e-5) == NULL && strstr(genc_last_error(ctx), "[N, C, ...]"));
    genc_clear_error(ctx);
    CHECK(genc_upsample_nearest2x(ctx, x3) == NULL && strstr(genc_last_error(ctx), "[1, 6, 4]"));
    genc_clear_error(ctx);
    CHECK(genc_group_norm(ctx, NULL, 1, NULL, NULL, 1e-5) == NULL && genc_upsample_nearest2x(ctx, NULL) == NULL &&
          genc_ctx_status(ctx) == GENC_OK);
    genc_tensor_free(x), genc_tensor_free(w), genc_tensor_free(x3);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    int64_t s4[4] = {2, 6, 3, 4}, s3[3] = {3, 4, 5}, sv[4] = {2, 4, 4, 3};
    for (int silu = 0; silu <= 1; silu++) {
        check_gn(ctx, 4, s4, (gn_case){3, true, false, silu});
        check_gn(ctx, 4, s4, (gn_case){1, true, false, silu});
        check_gn(ctx, 4, s4, (gn_case){6, false, false, silu});
        check_gn(ctx, 4, s4, (gn_case){2, false, false, silu});
        check_gn(ctx, 3, s3, (gn_case){2, true, false, silu});
        check_gn(ctx, 4, sv, (gn_case){2, true, true, silu});
        check_gn_parallel(ctx, silu);
    }
    genc_set_threads(ctx, 2);
    check_upsample(ctx);
    check_block(ctx);
    check_errors(ctx);
    genc_ctx_free(ctx);
    return test_report("grad_unet_ops");
}
