/* Gradient checks (double precision) and forward values for the broadcasting binary ops
 * (add, sub, mul, div) and the tensor-scalar ops (scale, add_scalar): same shapes,
 * broadcasts with size-1 dims in the middle and fewer dims on one side, [1] scalars,
 * transposed (non-contiguous) inputs, an input used twice, a large case that takes the
 * parallel and multi-span paths, and the shape errors. */
#include "gradcheck.h"

typedef genc_tensor *(*bin_fn)(genc_ctx *, genc_tensor *, genc_tensor *);
typedef struct {
    bin_fn f;
    char op; /* '+', '-', '*', '/' for the reference */
} bin_case;

static const bin_case ADD = {genc_add, '+'}, SUB = {genc_sub, '-'}, MUL = {genc_mul, '*'}, DIV = {genc_div, '/'};
static const bin_case *const ALL[4] = {&ADD, &SUB, &MUL, &DIV};

static genc_tensor *f_bin(genc_ctx *c, genc_tensor **in, void *u) { return ((const bin_case *)u)->f(c, in[0], in[1]); }
static genc_tensor *f_bin_same(genc_ctx *c, genc_tensor **in, void *u) { return ((const bin_case *)u)->f(c, in[0], in[0]); }
/* a^T (op) b: a is stored [5, 3], used as a [3, 5] view. */
static genc_tensor *f_bin_ta(genc_ctx *c, genc_tensor **in, void *u) {
    return ((const bin_case *)u)->f(c, genc_transpose(c, in[0], 0, 1), in[1]);
}
static genc_tensor *f_scale(genc_ctx *c, genc_tensor **in, void *u) { return genc_scale(c, in[0], -2.5); }
static genc_tensor *f_add_scalar(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_add_scalar(c, genc_transpose(c, in[0], 0, 2), 3.25);
}

static double ref(char op, double a, double b) {
    return op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
}

/* Element of t at the output index idx (ondim dims), broadcasting t's size-1 dims. */
static double bget(const genc_tensor *t, const int64_t *idx, int ondim) {
    int64_t ti[4];
    for (int d = 0; d < t->ndim; d++) {
        int64_t i = idx[ondim - t->ndim + d];
        ti[d] = t->shape[d] == 1 ? 0 : i;
    }
    return genc_get(t, ti);
}

/* Forward values of a (op) b against the reference, element by element. */
static void check_forward(genc_ctx *ctx, const bin_case *bc, genc_tensor *a, genc_tensor *b, const char *name) {
    genc_step_reset(ctx);
    genc_tensor *y = bc->f(ctx, a, b);
    CHECK_MSG(y != NULL, "%s %c: %s", name, bc->op, genc_last_error(ctx));
    if (!y) return;
    int64_t n = genc_numel(y), idx[4];
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i;
        for (int d = y->ndim - 1; d >= 0; d--) idx[d] = r % y->shape[d], r /= y->shape[d];
        double want = ref(bc->op, bget(a, idx, y->ndim), bget(b, idx, y->ndim));
        bad += !(fabs(genc_get(y, idx) - want) <= 1e-12 * (1 + fabs(want)));
    }
    CHECK_MSG(bad == 0, "%s %c: %d wrong values", name, bc->op, bad);
}

/* Every op on a [sa] (op) b [sb]: forward values, then the gradient check. b is kept away
 * from 0 so that division is well conditioned. */
static void check_all_ops(genc_ctx *ctx, const char *name, int na, const int64_t *sa, int nb, const int64_t *sb) {
    genc_tensor *in[2] = {gc_input(ctx, na, sa, 21), gc_input(ctx, nb, sb, 22)};
    int64_t m = genc_numel(in[1]);
    for (int64_t i = 0; i < m; i++) in[1]->data[i] = in[1]->data[i] >= 0 ? in[1]->data[i] + 0.5 : in[1]->data[i] - 0.5;
    for (int k = 0; k < 4; k++) {
        char label[96];
        snprintf(label, sizeof label, "%s %c", name, ALL[k]->op);
        check_forward(ctx, ALL[k], in[0], in[1], name);
        gradcheck(ctx, label, f_bin, in, 2, (void *)ALL[k], 1e-6, 1e-8);
    }
    genc_tensor_free(in[0]), genc_tensor_free(in[1]);
}

static void test_shapes(genc_ctx *ctx) {
    int64_t s37[2] = {3, 7}, s2315[4] = {2, 3, 1, 5}, s341[3] = {3, 4, 1}, s45[2] = {4, 5}, s5[1] = {5};
    int64_t s1[1] = {1}, s235[3] = {2, 3, 5}, s13x1[2] = {13, 1}, s13x17[2] = {13, 17}, s17[1] = {17};
    int64_t s1x7[2] = {1, 7}, s7[1] = {7}, s3x1x5[3] = {3, 1, 5}, s3x17x1[3] = {3, 17, 1};
    check_all_ops(ctx, "same [3,7]", 2, s37, 2, s37);
    check_all_ops(ctx, "[2,3,1,5] vs [3,4,1]", 4, s2315, 3, s341);
    check_all_ops(ctx, "[3,4,1] vs [2,3,1,5]", 3, s341, 4, s2315);
    check_all_ops(ctx, "[4,5] vs [5]", 2, s45, 1, s5);
    check_all_ops(ctx, "[5] vs [4,5]", 1, s5, 2, s45);
    check_all_ops(ctx, "[2,3,5] vs [1]", 3, s235, 1, s1);
    check_all_ops(ctx, "[1] vs [2,3,5]", 1, s1, 3, s235);
    check_all_ops(ctx, "[1] vs [1]", 1, s1, 1, s1);
    check_all_ops(ctx, "[13,1] vs [13,17]", 2, s13x1, 2, s13x17);
    check_all_ops(ctx, "[13,17] vs [17]", 2, s13x17, 1, s17);
    check_all_ops(ctx, "[1,7] vs [7]", 2, s1x7, 1, s7);
    check_all_ops(ctx, "[3,1,5] vs [3,17,1]", 3, s3x1x5, 3, s3x17x1);
}

static void test_views_and_scalars(genc_ctx *ctx) {
    int64_t s53[2] = {5, 3}, s35[2] = {3, 5}, s5[1] = {5}, s235[3] = {2, 3, 5};
    genc_tensor *in[2] = {gc_input(ctx, 2, s53, 31), gc_input(ctx, 2, s35, 32)};
    genc_tensor *bias[2] = {in[0], gc_input(ctx, 1, s5, 33)};
    for (int i = 0; i < 15; i++) in[1]->data[i] += in[1]->data[i] >= 0 ? 0.5 : -0.5;
    for (int i = 0; i < 5; i++) bias[1]->data[i] += bias[1]->data[i] >= 0 ? 0.5 : -0.5;
    for (int k = 0; k < 4; k++) {
        char label[64];
        snprintf(label, sizeof label, "transposed a %c", ALL[k]->op);
        gradcheck(ctx, label, f_bin_ta, in, 2, (void *)ALL[k], 1e-6, 1e-8);
        snprintf(label, sizeof label, "transposed a %c [5]", ALL[k]->op);
        gradcheck(ctx, label, f_bin_ta, bias, 2, (void *)ALL[k], 1e-6, 1e-8);
        snprintf(label, sizeof label, "a %c a", ALL[k]->op);
        gradcheck(ctx, label, f_bin_same, in + 1, 1, (void *)ALL[k], 1e-6, 1e-8);
    }
    /* b does not require a gradient: only a's is computed */
    in[1]->requires_grad = false;
    gradcheck(ctx, "a^T * constant", f_bin_ta, in, 2, (void *)&MUL, 1e-6, 1e-8);
    in[1]->requires_grad = true;
    genc_tensor *x = gc_input(ctx, 3, s235, 34);
    gradcheck(ctx, "scale", f_scale, &x, 1, NULL, 1e-6, 1e-8);
    gradcheck(ctx, "add_scalar of a transposed view", f_add_scalar, &x, 1, NULL, 1e-6, 1e-8);
    genc_step_reset(ctx);
    genc_tensor *y = genc_scale(ctx, x, -2.5), *z = genc_add_scalar(ctx, x, 3.25);
    CHECK(y && z && y->data[7] == -2.5 * x->data[7] && z->data[7] == x->data[7] + 3.25);
    genc_tensor_free(in[0]), genc_tensor_free(in[1]), genc_tensor_free(bias[1]), genc_tensor_free(x);
}

/* Above GENC_PAR_MIN elements and with rows longer than one span: compare the gradients
 * with their closed forms (a gradient check would take too long here). */
static void test_large(genc_ctx *ctx) {
    int64_t sa[2] = {9, 4099}, sb[1] = {4099}, sc[2] = {9, 1};
    genc_tensor *a = gc_input(ctx, 2, sa, 41), *b = gc_input(ctx, 1, sb, 42), *c = gc_input(ctx, 2, sc, 43);
    genc_step_reset(ctx);
    genc_tensor *y = genc_mul(ctx, genc_mul(ctx, a, b), c); /* y[i, j] = a[i, j] b[j] c[i] */
    int64_t n = genc_numel(a);
    genc_real *R = malloc((size_t)n * sizeof *R);
    for (int64_t i = 0; i < n; i++) R[i] = (genc_real)genc_philox_normal(5, (uint64_t)i);
    CHECK(y && genc_backward_with(ctx, y, R) == GENC_OK);
    int bad = 0;
    for (int64_t j = 0; j < 4099; j++) {
        double gb = 0;
        for (int64_t i = 0; i < 9; i++) {
            int64_t k = i * 4099 + j;
            bad += fabs(y->data[k] - a->data[k] * b->data[j] * c->data[i]) > 1e-12;
            bad += fabs(a->grad[k] - R[k] * b->data[j] * c->data[i]) > 1e-12;
            gb += R[k] * a->data[k] * c->data[i];
        }
        bad += fabs(b->grad[j] - gb) > 1e-10;
    }
    for (int64_t i = 0; i < 9; i++) {
        double gc = 0;
        for (int64_t j = 0; j < 4099; j++) gc += R[i * 4099 + j] * a->data[i * 4099 + j] * b->data[j];
        bad += fabs(c->grad[i] - gc) > 1e-9;
    }
    CHECK_MSG(bad == 0, "large broadcast mul: %d wrong values or gradients", bad);
    free(R);
    genc_tensor_free(a), genc_tensor_free(b), genc_tensor_free(c);
}

static void test_errors(genc_ctx *ctx) {
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s2315[4] = {2, 3, 1, 5}, s451[3] = {4, 5, 1};
    genc_tensor *a = gc_input(ctx, 2, s23, 1), *b = gc_input(ctx, 1, s4, 2);
    genc_tensor *c = gc_input(ctx, 4, s2315, 3), *d = gc_input(ctx, 3, s451, 4);
    genc_step_reset(ctx);
    CHECK(genc_add(ctx, a, b) == NULL);
    CHECK(genc_ctx_status(ctx) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "add") && strstr(genc_last_error(ctx), "[2, 3]") &&
          strstr(genc_last_error(ctx), "[4]"));
    genc_clear_error(ctx);
    CHECK(genc_div(ctx, c, d) == NULL); /* 3 vs 4 in the second dim */
    CHECK(strstr(genc_last_error(ctx), "[2, 3, 1, 5]") && strstr(genc_last_error(ctx), "[4, 5, 1]"));
    genc_clear_error(ctx);
    CHECK(genc_mul(ctx, NULL, b) == NULL && genc_sub(ctx, a, NULL) == NULL);
    CHECK(genc_scale(ctx, NULL, 2) == NULL && genc_add_scalar(ctx, NULL, 2) == NULL);
    CHECK(genc_ctx_status(ctx) == GENC_OK); /* NULL propagates without a new error */
    genc_tensor_free(a), genc_tensor_free(b), genc_tensor_free(c), genc_tensor_free(d);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    test_shapes(ctx);
    test_views_and_scalars(ctx);
    test_large(ctx);
    test_errors(ctx);
    genc_ctx_free(ctx);
    return test_report("grad_elementwise");
}
