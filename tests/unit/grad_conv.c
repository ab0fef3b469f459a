/* Gradient checks (double precision) for conv2d, maxpool2x2 and avgpool2x2, plus forward
 * values against a direct convolution and the error paths. conv2d covers kernels 1, 3, 5
 * and a non-square one, stride 1 and 2, padding 0, 1, 2, Cin 1 and 3, a non-square 7x6
 * input, batches 1, 2 and 3 (the batch-parallel path with an uneven split over 2 threads),
 * with and without bias, and a non-contiguous input view. conv and avgpool are linear and
 * maxpool is linear near inputs without ties, so the only error in the numeric gradient is
 * rounding: about eps |L| / h, where L = sum(y R) reaches ~50 for the 5x5 kernels (75-term
 * dot products), i.e. ~3e-8. conv therefore uses atol 5e-8 (rtol 1e-6); the pools 1e-9. */
#include "gradcheck.h"

typedef struct {
    int64_t N, C, H, W, Co, kh, kw;
    int stride, pad;
    bool bias, view; /* view: x is stored [N, C, W, H] and transposed before the conv */
} conv_case;

static genc_tensor *f_conv(genc_ctx *c, genc_tensor **in, void *u) {
    conv_case *k = u;
    genc_tensor *x = k->view ? genc_transpose(c, in[0], 2, 3) : in[0];
    return genc_conv2d(c, x, in[1], k->bias ? in[2] : NULL, k->stride, k->pad);
}
static genc_tensor *f_maxpool(genc_ctx *c, genc_tensor **in, void *u) { return genc_maxpool2x2(c, in[0]); }
static genc_tensor *f_avgpool(genc_ctx *c, genc_tensor **in, void *u) { return genc_avgpool2x2(c, in[0]); }
static genc_tensor *f_avgpool_view(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_avgpool2x2(c, genc_transpose(c, in[0], 2, 3));
}

/* Direct convolution of the case's inputs at output (n, co, oy, ox). */
static double direct_conv(const conv_case *k, genc_tensor **in, int64_t n, int64_t co, int64_t oy, int64_t ox) {
    double s = k->bias ? in[2]->data[co] : 0;
    for (int64_t c = 0; c < k->C; c++)
        for (int64_t i = 0; i < k->kh; i++)
            for (int64_t j = 0; j < k->kw; j++) {
                int64_t iy = oy * k->stride + i - k->pad, ix = ox * k->stride + j - k->pad;
                if (iy < 0 || iy >= k->H || ix < 0 || ix >= k->W) continue;
                s += in[0]->data[((n * k->C + c) * k->H + iy) * k->W + ix] *
                     in[1]->data[((co * k->C + c) * k->kh + i) * k->kw + j];
            }
    return s;
}

static void check_conv_forward(genc_ctx *ctx, const conv_case *k, genc_tensor **in, const char *name) {
    genc_step_reset(ctx);
    genc_tensor *y = genc_conv2d(ctx, in[0], in[1], k->bias ? in[2] : NULL, k->stride, k->pad);
    CHECK_MSG(y != NULL, "%s: %s", name, genc_last_error(ctx));
    if (!y) return;
    int bad = 0;
    int64_t Ho = y->shape[2], Wo = y->shape[3];
    CHECK(Ho == (k->H + 2 * k->pad - k->kh) / k->stride + 1 && Wo == (k->W + 2 * k->pad - k->kw) / k->stride + 1);
    for (int64_t n = 0; n < k->N; n++)
        for (int64_t co = 0; co < k->Co; co++)
            for (int64_t oy = 0; oy < Ho; oy++)
                for (int64_t ox = 0; ox < Wo; ox++) {
                    double want = direct_conv(k, in, n, co, oy, ox);
                    bad += fabs(y->data[((n * k->Co + co) * Ho + oy) * Wo + ox] - want) > 1e-12 * (1 + fabs(want));
                }
    CHECK_MSG(bad == 0, "%s: %d forward values differ from the direct convolution", name, bad);
}

static void check_conv(genc_ctx *ctx, conv_case k) {
    int64_t sx[4] = {k.N, k.C, k.view ? k.W : k.H, k.view ? k.H : k.W}, sw[4] = {k.Co, k.C, k.kh, k.kw};
    int64_t sb[1] = {k.Co};
    genc_tensor *in[3] = {gc_input(ctx, 4, sx, 31), gc_input(ctx, 4, sw, 32), gc_input(ctx, 1, sb, 33)};
    char name[128];
    snprintf(name, sizeof name, "conv2d N%lld C%lld %lldx%lld -> %lld k%lldx%lld s%d p%d%s%s", (long long)k.N,
             (long long)k.C, (long long)k.H, (long long)k.W, (long long)k.Co, (long long)k.kh, (long long)k.kw,
             k.stride, k.pad, k.bias ? " bias" : "", k.view ? " view" : "");
    gradcheck(ctx, name, f_conv, in, k.bias ? 3 : 2, &k, 1e-6, 5e-8);
    if (!k.view) check_conv_forward(ctx, &k, in, name);
    for (int i = 0; i < 3; i++) genc_tensor_free(in[i]);
}

static void check_pools(genc_ctx *ctx) {
    int64_t s[4] = {2, 3, 4, 6}, sv[4] = {1, 2, 6, 4};
    genc_tensor *x = gc_input(ctx, 4, s, 41), *xv = gc_input(ctx, 4, sv, 42);
    gradcheck(ctx, "maxpool2x2", f_maxpool, &x, 1, NULL, 1e-7, 1e-9);
    gradcheck(ctx, "avgpool2x2", f_avgpool, &x, 1, NULL, 1e-7, 1e-9);
    gradcheck(ctx, "avgpool2x2 of a view", f_avgpool_view, &xv, 1, NULL, 1e-7, 1e-9);
    genc_step_reset(ctx); /* ties route to the first element of the window */
    genc_fill(x, 1);
    genc_tensor *y = genc_maxpool2x2(ctx, x);
    genc_real *seed = calloc((size_t)genc_numel(y), sizeof *seed);
    for (int64_t i = 0; i < genc_numel(y); i++) seed[i] = 1;
    memset(x->grad, 0, 144 * sizeof(genc_real));
    CHECK(genc_backward_with(ctx, y, seed) == GENC_OK);
    CHECK(x->grad[0] == 1 && x->grad[1] == 0 && x->grad[6] == 0 && x->grad[7] == 0 && x->grad[2] == 1);
    free(seed);
    genc_tensor_free(x), genc_tensor_free(xv);
}

static void check_errors(genc_ctx *ctx) {
    int64_t sx[4] = {1, 1, 3, 3}, sw[4] = {1, 1, 5, 5}, sodd[4] = {1, 1, 3, 4}, sb[1] = {2};
    genc_tensor *x = gc_input(ctx, 4, sx, 1), *w = gc_input(ctx, 4, sw, 2), *odd = gc_input(ctx, 4, sodd, 3);
    genc_tensor *b = gc_input(ctx, 1, sb, 4);
    genc_step_reset(ctx);
    CHECK(genc_conv2d(ctx, x, w, NULL, 1, 0) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    CHECK_MSG(strstr(genc_last_error(ctx), "larger than the padded input 3x3") != NULL, "%s", genc_last_error(ctx));
    genc_clear_error(ctx);
    CHECK(genc_conv2d(ctx, x, w, NULL, 1, 1) != NULL); /* 5x5 fits 3x3 padded by 1 */
    CHECK(genc_conv2d(ctx, x, w, b, 1, 1) == NULL && strstr(genc_last_error(ctx), "bias"));
    genc_clear_error(ctx);
    CHECK(genc_conv2d(ctx, x, w, NULL, 0, 1) == NULL && strstr(genc_last_error(ctx), "stride 0"));
    genc_clear_error(ctx);
    CHECK(genc_conv2d(ctx, odd, b, NULL, 1, 0) == NULL); /* 1-d weight */
    genc_clear_error(ctx);
    int64_t sw3[4] = {2, 3, 1, 1};
    genc_tensor *w3 = gc_input(ctx, 4, sw3, 5);
    CHECK(genc_conv2d(ctx, x, w3, NULL, 1, 0) == NULL && strstr(genc_last_error(ctx), "[2, 3, 1, 1]"));
    genc_clear_error(ctx);
    CHECK(genc_maxpool2x2(ctx, odd) == NULL && strstr(genc_last_error(ctx), "[1, 1, 3, 4]"));
    genc_clear_error(ctx);
    CHECK(genc_avgpool2x2(ctx, b) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    genc_clear_error(ctx);
    CHECK(genc_conv2d(ctx, NULL, w, NULL, 1, 0) == NULL && genc_ctx_status(ctx) == GENC_OK);
    CHECK(genc_maxpool2x2(ctx, NULL) == NULL && genc_avgpool2x2(ctx, NULL) == NULL);
    genc_tensor_free(x), genc_tensor_free(w), genc_tensor_free(odd), genc_tensor_free(b), genc_tensor_free(w3);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2); /* batches > 1 take the batch-parallel path with per-thread partials */
    conv_case cases[] = {
        /* N  C  H  W  Co kh kw  s  p  bias   view */
        {2, 3, 7, 6, 2, 3, 3, 1, 1, true, false},
        {1, 1, 7, 6, 3, 5, 5, 2, 2, true, false},
        {2, 3, 7, 6, 2, 1, 1, 1, 0, false, false}, /* 1x1: col is the image itself */
        {2, 1, 7, 6, 2, 3, 3, 2, 0, false, false},
        {1, 3, 7, 6, 2, 5, 5, 1, 0, false, false},
        {3, 3, 7, 6, 2, 1, 1, 2, 1, true, false},
        {2, 1, 7, 6, 2, 3, 3, 2, 2, true, false},
        {2, 3, 7, 6, 2, 5, 5, 2, 1, false, false},
        {3, 1, 7, 6, 4, 3, 2, 1, 1, true, false}, /* non-square kernel */
        {2, 3, 7, 6, 2, 3, 3, 1, 1, true, true},  /* non-contiguous input */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_conv(ctx, cases[i]);
    genc_set_threads(ctx, 1); /* the serial path */
    check_conv(ctx, cases[0]);
    genc_set_threads(ctx, 2);
    check_pools(ctx);
    check_errors(ctx);
    genc_ctx_free(ctx);
    return test_report("grad_conv");
}
