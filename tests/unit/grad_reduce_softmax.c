/* Gradient checks (double precision) and forward values for the reductions (sum, mean
 * over each axis with and without keepdim, sum_all, mean_all) and for softmax,
 * log_softmax and the fused cross-entropy: transposed inputs, large logits, ignore_index
 * rows, all rows ignored, and the error paths. */
#include "gradcheck.h"

typedef struct {
    int axis;
    bool keepdim, mean;
} red_case;

typedef struct {
    const int32_t *targets;
    int32_t ignore;
    bool transpose;
} ce_case;

static genc_tensor *f_reduce(genc_ctx *c, genc_tensor **in, void *u) {
    const red_case *r = u;
    return r->mean ? genc_mean(c, in[0], r->axis, r->keepdim) : genc_sum(c, in[0], r->axis, r->keepdim);
}
static genc_tensor *f_mean_t(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_mean(c, genc_transpose(c, in[0], 0, 2), 1, false);
}
static genc_tensor *f_sum_all(genc_ctx *c, genc_tensor **in, void *u) { return genc_sum_all(c, in[0]); }
static genc_tensor *f_mean_all_t(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_mean_all(c, genc_transpose(c, in[0], 0, 1));
}
static genc_tensor *f_softmax(genc_ctx *c, genc_tensor **in, void *u) { return genc_softmax(c, in[0]); }
static genc_tensor *f_log_softmax(genc_ctx *c, genc_tensor **in, void *u) { return genc_log_softmax(c, in[0]); }
static genc_tensor *f_softmax_t(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_softmax(c, genc_transpose(c, in[0], 0, 1));
}
static genc_tensor *f_log_softmax_t(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_log_softmax(c, genc_transpose(c, in[0], 0, 1));
}
/* One input feeding several ops of one graph: each op's backward must add its share to
 * the same gradient (softmax then tanh, softmax times its own input, log_softmax plus x). */
static genc_tensor *f_twice_add(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_add(c, genc_softmax(c, in[0]), genc_tanh(c, in[0]));
}
static genc_tensor *f_twice_mul(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_mul(c, genc_softmax(c, in[0]), in[0]);
}
static genc_tensor *f_twice_log(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_sub(c, genc_log_softmax(c, in[0]), genc_softmax(c, in[0]));
}
static genc_tensor *f_ce(genc_ctx *c, genc_tensor **in, void *u) {
    const ce_case *cc = u;
    genc_tensor *x = cc->transpose ? genc_transpose(c, in[0], 0, 1) : in[0];
    return genc_cross_entropy(c, x, cc->targets, cc->ignore);
}
/* Two losses on one op's output: the first backward takes its buffer over as the logits'
 * gradient, the second adds into it. */
static genc_tensor *f_ce_shared(genc_ctx *c, genc_tensor **in, void *u) {
    const ce_case *cc = u;
    genc_tensor *x = genc_scale(c, in[0], 1.5);
    return genc_add(c, genc_cross_entropy(c, x, cc->targets, cc->ignore),
                    genc_scale(c, genc_cross_entropy(c, x, cc->targets + 1, cc->ignore), 0.25));
}

static void test_reduce(genc_ctx *ctx) {
    int64_t s[3] = {3, 5, 7}, s13[1] = {13}, s2[2] = {5, 3};
    genc_tensor *x = gc_input(ctx, 3, s, 61), *v = gc_input(ctx, 1, s13, 62), *m = gc_input(ctx, 2, s2, 63);
    for (int axis = -3; axis < 3; axis++)
        for (int k = 0; k < 4; k++) {
            red_case rc = {axis, k & 1, k & 2};
            char label[64];
            snprintf(label, sizeof label, "%s axis %d%s", rc.mean ? "mean" : "sum", axis, rc.keepdim ? " keepdim" : "");
            gradcheck(ctx, label, f_reduce, &x, 1, &rc, 1e-6, 1e-8);
        }
    red_case last = {0, false, true};
    gradcheck(ctx, "mean of 1-d -> [1]", f_reduce, &v, 1, &last, 1e-6, 1e-8);
    gradcheck(ctx, "mean of a transposed view", f_mean_t, &x, 1, NULL, 1e-6, 1e-8);
    gradcheck(ctx, "sum_all", f_sum_all, &x, 1, NULL, 1e-6, 1e-8);
    gradcheck(ctx, "mean_all transposed", f_mean_all_t, &m, 1, NULL, 1e-6, 1e-8);
    /* values and shapes */
    genc_step_reset(ctx);
    genc_tensor *a = genc_sum(ctx, x, 1, true), *b = genc_mean(ctx, x, -1, false), *c = genc_mean(ctx, v, 0, false);
    genc_tensor *d = genc_sum_all(ctx, x), *e = genc_mean_all(ctx, genc_transpose(ctx, m, 0, 1));
    CHECK(a && a->ndim == 3 && a->shape[1] == 1 && b && b->ndim == 2 && b->shape[1] == 5 && c && c->ndim == 1);
    double want_a = 0, want_b = 0, want_c = 0, want_d = 0, want_e = 0;
    for (int j = 0; j < 5; j++) want_a += x->data[2 * 35 + j * 7 + 4];
    for (int j = 0; j < 7; j++) want_b += x->data[1 * 35 + 3 * 7 + j] / 7;
    for (int j = 0; j < 13; j++) want_c += v->data[j] / 13;
    for (int j = 0; j < 105; j++) want_d += x->data[j];
    for (int j = 0; j < 15; j++) want_e += m->data[j] / 15;
    CHECK_CLOSE(a->data[2 * 7 + 4], want_a, 1e-12, 1e-12);
    CHECK_CLOSE(b->data[1 * 5 + 3], want_b, 1e-12, 1e-12);
    CHECK_CLOSE(c->data[0], want_c, 1e-12, 1e-12);
    CHECK_CLOSE(d->data[0], want_d, 1e-12, 1e-12);
    CHECK_CLOSE(e->data[0], want_e, 1e-12, 1e-12);
    CHECK(genc_sum(ctx, x, 3, false) == NULL && strstr(genc_last_error(ctx), "[3, 5, 7]"));
    genc_clear_error(ctx);
    CHECK(genc_mean(ctx, x, -4, true) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    genc_clear_error(ctx);
    CHECK(genc_sum(ctx, NULL, 0, false) == NULL && genc_sum_all(ctx, NULL) == NULL && genc_ctx_status(ctx) == GENC_OK);
    genc_tensor_free(x), genc_tensor_free(v), genc_tensor_free(m);
}

static void test_softmax(genc_ctx *ctx) {
    int64_t s37[2] = {3, 7}, s235[3] = {2, 3, 5}, s1x13[2] = {1, 13}, s5x3[2] = {5, 3};
    genc_tensor *a = gc_input(ctx, 2, s37, 71), *b = gc_input(ctx, 3, s235, 72), *c = gc_input(ctx, 2, s1x13, 73);
    genc_tensor *t = gc_input(ctx, 2, s5x3, 74);
    genc_tensor *ins[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        gradcheck(ctx, "softmax", f_softmax, &ins[i], 1, NULL, 1e-6, 1e-8);
        gradcheck(ctx, "log_softmax", f_log_softmax, &ins[i], 1, NULL, 1e-6, 1e-8);
    }
    gradcheck(ctx, "softmax transposed", f_softmax_t, &t, 1, NULL, 1e-6, 1e-8);
    gradcheck(ctx, "log_softmax transposed", f_log_softmax_t, &t, 1, NULL, 1e-6, 1e-8);
    gradcheck(ctx, "input used twice: softmax(x) + tanh(x)", f_twice_add, &a, 1, NULL, 1e-6, 1e-8);
    gradcheck(ctx, "input used twice: softmax(x) * x", f_twice_mul, &b, 1, NULL, 1e-6, 1e-8);
    gradcheck(ctx, "input used twice: log_softmax(x) - softmax(x)", f_twice_log, &c, 1, NULL, 1e-6, 1e-8);
    /* values: rows of softmax sum to 1, log_softmax = log(softmax) */
    genc_step_reset(ctx);
    genc_tensor *p = genc_softmax(ctx, b), *lp = genc_log_softmax(ctx, b);
    CHECK(p && lp);
    for (int r = 0; p && lp && r < 6; r++) {
        double s = 0, z = 0;
        for (int j = 0; j < 5; j++) s += p->data[r * 5 + j], z += exp(b->data[r * 5 + j]);
        CHECK_CLOSE(s, 1.0, 1e-12, 1e-12);
        CHECK_CLOSE(p->data[r * 5 + 2], exp(b->data[r * 5 + 2]) / z, 1e-12, 1e-15);
        CHECK_CLOSE(lp->data[r * 5 + 2], b->data[r * 5 + 2] - log(z), 1e-12, 1e-12);
    }
    /* large logits stay finite */
    a->data[0] = 1000, a->data[1] = 999, a->data[2] = -1000, a->data[7] = -1000;
    genc_step_reset(ctx);
    genc_tensor *q = genc_softmax(ctx, a), *lq = genc_log_softmax(ctx, a);
    CHECK(q && lq);
    for (int j = 0; q && lq && j < 21; j++) CHECK(isfinite(q->data[j]) && isfinite(lq->data[j]));
    if (q) CHECK_CLOSE(q->data[0], 1 / (1 + exp(-1.0)), 1e-9, 0);
    if (lq) CHECK_CLOSE(lq->data[1], -1 - log1p(exp(-1.0)), 1e-9, 1e-9);
    genc_tensor_free(a), genc_tensor_free(b), genc_tensor_free(c), genc_tensor_free(t);
}

/* Reference mean cross-entropy over the counted rows of a contiguous [N, V]. */
static double ce_ref(const genc_tensor *x, const int32_t *t, int32_t ignore, int64_t N, int64_t V) {
    double loss = 0;
    int count = 0;
    for (int64_t r = 0; r < N; r++) {
        if (t[r] == ignore) continue;
        double z = 0;
        for (int64_t j = 0; j < V; j++) z += exp(x->data[r * V + j]);
        loss += log(z) - x->data[r * V + t[r]];
        count++;
    }
    return count ? loss / count : 0;
}

static void test_cross_entropy(genc_ctx *ctx) {
    int64_t s57[2] = {5, 7}, s235[3] = {2, 3, 5}, s75[2] = {7, 5};
    genc_tensor *a = gc_input(ctx, 2, s57, 81), *b = gc_input(ctx, 3, s235, 82), *t = gc_input(ctx, 2, s75, 83);
    const int32_t ta[5] = {0, 6, -100, 3, 6}, tb[6] = {4, 0, 2, 2, 1, 3}, none[5] = {-1, -1, -1, -1, -1};
    ce_case ca = {ta, -100, false}, cb = {tb, -100, false}, ct = {ta, -100, true}, cn = {none, -1, false};
    gradcheck(ctx, "cross_entropy with an ignored row", f_ce, &a, 1, &ca, 1e-6, 1e-8);
    gradcheck(ctx, "cross_entropy [2,3,5]", f_ce, &b, 1, &cb, 1e-6, 1e-8);
    gradcheck(ctx, "cross_entropy transposed logits", f_ce, &t, 1, &ct, 1e-6, 1e-8);
    gradcheck(ctx, "cross_entropy all ignored", f_ce, &a, 1, &cn, 1e-6, 1e-8);
    const int32_t tab[6] = {1, 0, 6, -100, 3, 6};
    ce_case cs = {tab, -100, false};
    gradcheck(ctx, "cross_entropy twice on one op output", f_ce_shared, &a, 1, &cs, 1e-6, 1e-8);
    /* backward twice over one tape: as for any op, the second pass sees the loss's seed
     * accumulated (2) and the logits' gradient kept from the first (dx), so the logits hold
     * dx + 2 dx and a gets 1.5 (dx + 3 dx) = 4 x one pass (the second recomputes the rows) */
    genc_step_reset(ctx);
    memset(a->grad, 0, 35 * sizeof(genc_real));
    genc_tensor *l2 = genc_cross_entropy(ctx, genc_scale(ctx, a, 1.5), ta, -100);
    CHECK(l2 && genc_backward(ctx, l2) == GENC_OK);
    genc_real once[35];
    memcpy(once, a->grad, sizeof once);
    CHECK(l2 && genc_backward(ctx, l2) == GENC_OK);
    int off = 0;
    for (int i = 0; i < 35; i++) off += fabs(a->grad[i] - 4 * once[i]) > 1e-12 * (1 + fabs(once[i]));
    CHECK_MSG(off == 0 && once[0] != 0, "%d gradients differ from 4 x one backward's", off);
    genc_step_reset(ctx);
    genc_tensor *la = genc_cross_entropy(ctx, a, ta, -100), *lb = genc_cross_entropy(ctx, b, tb, -100);
    CHECK(la && lb);
    if (la) CHECK_CLOSE(la->data[0], ce_ref(a, ta, -100, 5, 7), 1e-12, 1e-12);
    if (lb) CHECK_CLOSE(lb->data[0], ce_ref(b, tb, -100, 6, 5), 1e-12, 1e-12);
    /* all ignored: loss 0, gradient exactly 0 */
    genc_step_reset(ctx);
    memset(a->grad, 0, 35 * sizeof(genc_real));
    genc_tensor *ln = genc_cross_entropy(ctx, a, none, -1);
    CHECK(ln && ln->data[0] == 0 && genc_backward(ctx, ln) == GENC_OK);
    int nonzero = 0;
    for (int i = 0; i < 35; i++) nonzero += a->grad[i] != 0;
    CHECK(nonzero == 0);
    /* large logits: finite loss, exact value */
    a->data[0] = 1000, a->data[1] = -1000, a->data[7 + 6] = 1000;
    genc_step_reset(ctx);
    genc_tensor *big = genc_cross_entropy(ctx, a, ta, -100);
    CHECK(big && isfinite(big->data[0]) && genc_backward(ctx, big) == GENC_OK);
    for (int i = 0; big && i < 35; i++) CHECK(isfinite(a->grad[i]));
    /* a target out of range names the row, the target and V */
    const int32_t bad[5] = {0, 1, 7, 2, 3};
    genc_step_reset(ctx);
    CHECK(genc_cross_entropy(ctx, a, bad, -100) == NULL && genc_ctx_status(ctx) == GENC_EINVAL);
    const char *msg = genc_last_error(ctx);
    CHECK_MSG(strstr(msg, "row 2") && strstr(msg, "target 7") && strstr(msg, "7)"), "message: %s", msg);
    genc_clear_error(ctx);
    const int32_t neg[5] = {0, 1, 2, -3, 3};
    CHECK(genc_cross_entropy(ctx, a, neg, -100) == NULL && strstr(genc_last_error(ctx), "row 3"));
    genc_clear_error(ctx);
    CHECK(genc_cross_entropy(ctx, NULL, ta, -100) == NULL && genc_ctx_status(ctx) == GENC_OK);
    genc_tensor_free(a), genc_tensor_free(b), genc_tensor_free(t);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    test_reduce(ctx);
    test_softmax(ctx);
    test_cross_entropy(ctx);
    genc_ctx_free(ctx);
    return test_report("grad_reduce_softmax");
}
