/* Gradient checks (double precision) and forward values for RMSNorm and LayerNorm (with
 * and without bias): odd widths, 3-d inputs, batch 1, transposed inputs, a frozen weight,
 * a large case over the parallel path with per-thread weight-gradient partials, and the
 * shape errors. */
#include "gradcheck.h"

typedef struct {
    double eps;
    bool transpose;
} norm_case;

static genc_tensor *maybe_t(genc_ctx *c, genc_tensor *x, const norm_case *nc) {
    return nc->transpose ? genc_transpose(c, x, 0, 1) : x;
}
static genc_tensor *f_rms(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_rmsnorm(c, maybe_t(c, in[0], u), in[1], ((const norm_case *)u)->eps);
}
static genc_tensor *f_ln(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_layernorm(c, maybe_t(c, in[0], u), in[1], in[2], ((const norm_case *)u)->eps);
}
static genc_tensor *f_ln_nobias(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_layernorm(c, maybe_t(c, in[0], u), in[1], NULL, ((const norm_case *)u)->eps);
}

/* Reference row r of a contiguous x [N, C]: rms (ln = false) or layer norm. */
static double norm_ref(const genc_tensor *x, const genc_tensor *w, const genc_tensor *b, bool ln, double eps,
                       int64_t C, int64_t r, int64_t j) {
    const genc_real *xr = x->data + r * C;
    double mu = 0, var = 0;
    for (int64_t k = 0; ln && k < C; k++) mu += xr[k] / C;
    for (int64_t k = 0; k < C; k++) var += (xr[k] - mu) * (xr[k] - mu) / C;
    return (xr[j] - mu) / sqrt(var + eps) * w->data[j] + (b ? b->data[j] : 0);
}

static void check_values(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, genc_tensor *b, int64_t C) {
    genc_step_reset(ctx);
    genc_tensor *r = genc_rmsnorm(ctx, x, w, 1e-5), *l = genc_layernorm(ctx, x, w, b, 1e-5);
    CHECK(r && l);
    int64_t n = genc_numel(x);
    int bad = 0;
    for (int64_t i = 0; r && l && i < n; i++) {
        bad += fabs(r->data[i] - norm_ref(x, w, NULL, false, 1e-5, C, i / C, i % C)) > 1e-12;
        bad += fabs(l->data[i] - norm_ref(x, w, b, true, 1e-5, C, i / C, i % C)) > 1e-12;
    }
    CHECK_MSG(bad == 0, "norm values: %d differ", bad);
}

static void test_shapes(genc_ctx *ctx) {
    int64_t s37[2] = {3, 7}, s2313[3] = {2, 3, 13}, s1x5[2] = {1, 5}, s7[1] = {7}, s13[1] = {13}, s5[1] = {5};
    int64_t s73[2] = {7, 3};
    const int64_t *xs[4] = {s37, s2313, s1x5, s73}, *ws[4] = {s7, s13, s5, s7};
    const int nd[4] = {2, 3, 2, 2};
    const char *names[4] = {"[3,7]", "[2,3,13]", "[1,5]", "transposed [7,3]"};
    for (int k = 0; k < 4; k++) {
        genc_tensor *in[3] = {gc_input(ctx, nd[k], xs[k], 90 + k), gc_input(ctx, 1, ws[k], 95 + k),
                              gc_input(ctx, 1, ws[k], 99 + k)};
        norm_case nc = {1e-5, k == 3};
        char label[80];
        snprintf(label, sizeof label, "rmsnorm %s", names[k]);
        gradcheck(ctx, label, f_rms, in, 2, &nc, 1e-6, 1e-8);
        snprintf(label, sizeof label, "layernorm %s", names[k]);
        gradcheck(ctx, label, f_ln, in, 3, &nc, 1e-6, 1e-8);
        snprintf(label, sizeof label, "layernorm no bias %s", names[k]);
        gradcheck(ctx, label, f_ln_nobias, in, 2, &nc, 1e-6, 1e-8);
        if (k != 3) check_values(ctx, in[0], in[1], in[2], ws[k][0]);
        in[1]->requires_grad = false; /* frozen weight: only x (and the bias) get gradients */
        snprintf(label, sizeof label, "layernorm frozen weight %s", names[k]);
        gradcheck(ctx, label, f_ln, in, 3, &nc, 1e-6, 1e-8);
        in[0]->requires_grad = false, in[1]->requires_grad = true; /* weight only */
        snprintf(label, sizeof label, "rmsnorm weight only %s", names[k]);
        gradcheck(ctx, label, f_rms, in, 2, &nc, 1e-6, 1e-8);
        for (int i = 0; i < 3; i++) genc_tensor_free(in[i]);
    }
}

/* Over GENC_PAR_MIN elements: the row loop runs on every thread, and the weight and bias
 * gradients (sums of per-thread partials) must equal a sequential sum. */
static void test_large(genc_ctx *ctx) {
    int64_t sx[2] = {600, 67}, sw[1] = {67};
    genc_tensor *x = gc_input(ctx, 2, sx, 110), *w = gc_input(ctx, 1, sw, 111), *b = gc_input(ctx, 1, sw, 112);
    int64_t n = genc_numel(x);
    genc_real *R = malloc((size_t)n * sizeof *R);
    for (int64_t i = 0; i < n; i++) R[i] = (genc_real)genc_philox_normal(9, (uint64_t)i);
    genc_step_reset(ctx);
    genc_tensor *y = genc_layernorm(ctx, x, w, b, 1e-5);
    CHECK(y && genc_backward_with(ctx, y, R) == GENC_OK);
    int bad = 0;
    for (int64_t j = 0; j < 67; j++) {
        double gw = 0, gb = 0;
        for (int64_t r = 0; r < 600; r++) {
            double xh = (norm_ref(x, w, NULL, true, 1e-5, 67, r, j)) / w->data[j];
            gw += R[r * 67 + j] * xh, gb += R[r * 67 + j];
        }
        bad += fabs(w->grad[j] - gw) > 1e-9 || fabs(b->grad[j] - gb) > 1e-9;
    }
    CHECK_MSG(bad == 0, "large layernorm: %d weight/bias gradients differ", bad);
    /* the sum of dx over a row is 0 for layernorm (shifting x changes nothing) */
    double rowsum = 0;
    for (int64_t j = 0; j < 67; j++) rowsum += x->grad[123 * 67 + j];
    CHECK_CLOSE(rowsum, 0.0, 0, 1e-10);
    free(R);
    genc_tensor_free(x), genc_tensor_free(w), genc_tensor_free(b);
}

static void test_errors(genc_ctx *ctx) {
    int64_t sx[2] = {3, 7}, s5[1] = {5}, s7[1] = {7}, s17[2] = {1, 7};
    genc_tensor *x = gc_input(ctx, 2, sx, 1), *w5 = gc_input(ctx, 1, s5, 2), *w7 = gc_input(ctx, 1, s7, 3);
    genc_tensor *w17 = gc_input(ctx, 2, s17, 4);
    genc_step_reset(ctx);
    CHECK(genc_rmsnorm(ctx, x, w5, 1e-5) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    CHECK_MSG(strstr(genc_last_error(ctx), "rmsnorm") && strstr(genc_last_error(ctx), "[3, 7]") &&
                  strstr(genc_last_error(ctx), "[5]"),
              "message: %s", genc_last_error(ctx));
    genc_clear_error(ctx);
    CHECK(genc_layernorm(ctx, x, w7, w5, 1e-5) == NULL && strstr(genc_last_error(ctx), "bias [5]"));
    genc_clear_error(ctx);
    CHECK(genc_layernorm(ctx, x, w17, NULL, 1e-5) == NULL && strstr(genc_last_error(ctx), "[1, 7]"));
    genc_clear_error(ctx);
    CHECK(genc_rmsnorm(ctx, NULL, w7, 1e-5) == NULL && genc_layernorm(ctx, x, NULL, NULL, 1e-5) == NULL);
    CHECK(genc_ctx_status(ctx) == GENC_OK);
    genc_tensor_free(x), genc_tensor_free(w5), genc_tensor_free(w7), genc_tensor_free(w17);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    test_shapes(ctx);
    test_large(ctx);
    test_errors(ctx);
    genc_ctx_free(ctx);
    return test_report("grad_norm");
}
