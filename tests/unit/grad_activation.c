/* Gradient checks (double precision) and forward values for the unary ops: exp, log,
 * tanh, sigmoid, relu, silu, gelu, softplus, square, sqrt, on odd shapes, batch 1 and
 * transposed (non-contiguous) inputs, with log and sqrt on positive inputs and relu kept
 * away from its kink; plus extreme inputs that must stay finite. */
#include "gradcheck.h"

typedef genc_tensor *(*un_fn)(genc_ctx *, genc_tensor *);
typedef struct {
    const char *name;
    un_fn f;
    double (*ref)(double);
    bool positive; /* domain x > 0 */
} un_case;

static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_relu(double x) { return x > 0 ? x : 0; }
static double r_silu(double x) { return x / (1 + exp(-x)); }
static double r_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double r_softplus(double x) { return log1p(exp(x)); }
static double r_square(double x) { return x * x; }

static const un_case CASES[] = {
    {"exp", genc_exp, exp, false},          {"log", genc_log, log, true},
    {"tanh", genc_tanh, tanh, false},       {"sigmoid", genc_sigmoid, r_sigmoid, false},
    {"relu", genc_relu, r_relu, false},     {"silu", genc_silu, r_silu, false},
    {"gelu", genc_gelu, r_gelu, false},     {"softplus", genc_softplus, r_softplus, false},
    {"square", genc_square, r_square, false}, {"sqrt", genc_sqrt, sqrt, true},
};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])

static genc_tensor *f_un(genc_ctx *c, genc_tensor **in, void *u) { return ((const un_case *)u)->f(c, in[0]); }
static genc_tensor *f_un_t(genc_ctx *c, genc_tensor **in, void *u) {
    return ((const un_case *)u)->f(c, genc_transpose(c, in[0], 0, 2));
}

/* Values for the case's domain: |x| + 0.3 when it must be positive, else x pushed at
 * least 0.1 away from 0 (the relu kink; harmless for the others). */
static genc_tensor *input_for(genc_ctx *ctx, const un_case *uc, int ndim, const int64_t *shape, uint64_t seed) {
    genc_tensor *t = gc_input(ctx, ndim, shape, seed);
    int64_t n = genc_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = t->data[i];
        t->data[i] = uc->positive ? fabs(v) + 0.3 : v >= 0 ? v + 0.1 : v - 0.1;
    }
    return t;
}

static void check_values(genc_ctx *ctx, const un_case *uc, genc_tensor *x) {
    genc_step_reset(ctx);
    genc_tensor *y = uc->f(ctx, x);
    CHECK_MSG(y != NULL, "%s: %s", uc->name, genc_last_error(ctx));
    int64_t n = y ? genc_numel(y) : 0;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double want = uc->ref(x->data[i]);
        bad += !(fabs(y->data[i] - want) <= 1e-13 * (1 + fabs(want)));
    }
    CHECK_MSG(bad == 0, "%s: %d values differ from libm", uc->name, bad);
}

static void test_case(genc_ctx *ctx, const un_case *uc) {
    int64_t s357[3] = {3, 5, 7}, s1x13[2] = {1, 13}, s17[1] = {17};
    char label[64];
    genc_tensor *x = input_for(ctx, uc, 3, s357, 51), *b = input_for(ctx, uc, 2, s1x13, 52);
    genc_tensor *v = input_for(ctx, uc, 1, s17, 53);
    check_values(ctx, uc, x);
    snprintf(label, sizeof label, "%s [3,5,7]", uc->name);
    gradcheck(ctx, label, f_un, &x, 1, (void *)uc, 1e-6, 1e-8);
    snprintf(label, sizeof label, "%s transposed", uc->name);
    gradcheck(ctx, label, f_un_t, &x, 1, (void *)uc, 1e-6, 1e-8);
    snprintf(label, sizeof label, "%s [1,13]", uc->name);
    gradcheck(ctx, label, f_un, &b, 1, (void *)uc, 1e-6, 1e-8);
    snprintf(label, sizeof label, "%s [17]", uc->name);
    gradcheck(ctx, label, f_un, &v, 1, (void *)uc, 1e-6, 1e-8);
    genc_tensor_free(x), genc_tensor_free(b), genc_tensor_free(v);
}

/* Large |x|: sigmoid, silu, softplus, gelu, tanh stay finite and exact in their limits. */
static void test_extremes(genc_ctx *ctx) {
    int64_t s4[1] = {4};
    genc_tensor *x = gc_input(ctx, 1, s4, 1);
    x->data[0] = -1000, x->data[1] = 1000, x->data[2] = -40, x->data[3] = 40;
    genc_step_reset(ctx);
    genc_tensor *sp = genc_softplus(ctx, x), *sg = genc_sigmoid(ctx, x), *si = genc_silu(ctx, x);
    genc_tensor *ge = genc_gelu(ctx, x), *th = genc_tanh(ctx, x);
    CHECK(sp && sg && si && ge && th);
    if (!sp || !sg || !si || !ge || !th) return;
    CHECK(sp->data[0] == 0 && sp->data[1] == 1000 && fabs(sp->data[2] - exp(-40.0)) < 1e-30);
    CHECK(sg->data[0] == 0 && sg->data[1] == 1 && si->data[0] == 0 && si->data[1] == 1000);
    CHECK(ge->data[0] == 0 && ge->data[1] == 1000 && th->data[0] == -1 && th->data[1] == 1);
    genc_real *ones = malloc(4 * sizeof *ones);
    for (int i = 0; i < 4; i++) ones[i] = 1;
    genc_tensor *sum = genc_add(ctx, genc_add(ctx, sp, sg), genc_add(ctx, si, ge));
    CHECK(sum && genc_backward_with(ctx, sum, ones) == GENC_OK);
    for (int i = 0; i < 4; i++) CHECK(isfinite(x->grad[i]));
    free(ones);
    genc_tensor_free(x);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    for (int i = 0; i < N_CASES; i++) test_case(ctx, &CASES[i]);
    test_extremes(ctx);
    genc_step_reset(ctx);
    CHECK(genc_exp(ctx, NULL) == NULL && genc_gelu(ctx, NULL) == NULL && genc_ctx_status(ctx) == GENC_OK);
    genc_ctx_free(ctx);
    return test_report("grad_activation");
}
