/* Double-precision checks of Glow (src/image/glow.c is compiled into this test against the
 * double engine): the squeeze ops (gradients by finite differences, values against the index
 * formula, squeeze then unsqueeze is the identity); every layer's log-det against the
 * log |det| of its numerically computed Jacobian (central differences, LU in double); each
 * layer's inverse; the whole flow's inverse and total log-det; and the autograd gradient of
 * log p(x) with respect to parameters of every kind. The tiny model: 4x4 images, 2 levels of
 * 2 steps, hidden 5, with every parameter randomised (zero-initialised convs too), so no layer
 * is the identity. */
#include "gradcheck.h"
#include "genc/glow.h"

#include "image/glow.c"

static genc_tensor *f_squeeze(genc_ctx *c, genc_tensor **in, void *u) { return genc_squeeze2x2(c, in[0]); }
static genc_tensor *f_unsqueeze(genc_ctx *c, genc_tensor **in, void *u) { return genc_unsqueeze2x2(c, in[0]); }
static genc_tensor *f_squeeze_view(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_squeeze2x2(c, genc_transpose(c, in[0], 2, 3));
}

static void check_squeeze(genc_ctx *ctx) {
    int64_t s[4] = {2, 3, 4, 6}, su[4] = {2, 8, 2, 3};
    genc_tensor *x = gc_input(ctx, 4, s, 51), *y = gc_input(ctx, 4, su, 52);
    gradcheck(ctx, "squeeze2x2", f_squeeze, &x, 1, NULL, 1e-7, 1e-9);
    gradcheck(ctx, "unsqueeze2x2", f_unsqueeze, &y, 1, NULL, 1e-7, 1e-9);
    gradcheck(ctx, "squeeze2x2 of a view", f_squeeze_view, &x, 1, NULL, 1e-7, 1e-9);
    genc_step_reset(ctx);
    genc_tensor *q = genc_squeeze2x2(ctx, x), *back = genc_unsqueeze2x2(ctx, q);
    CHECK(q && q->shape[1] == 12 && q->shape[2] == 2 && q->shape[3] == 3);
    int bad = 0;
    for (int64_t n = 0; q && n < 2; n++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t i = 0; i < 4; i++)
                for (int64_t j = 0; j < 6; j++) {
                    double want = x->data[((n * 3 + c) * 4 + i) * 6 + j];
                    bad += q->data[((n * 12 + 4 * c + 2 * (i % 2) + j % 2) * 2 + i / 2) * 3 + j / 2] != want;
                }
    CHECK_MSG(bad == 0, "squeeze: %d values off the formula y[n, 4c + 2i + j, oy, ox] = x[n, c, 2oy + i, 2ox + j]", bad);
    bad = 0;
    for (int64_t i = 0; back && i < genc_numel(x); i++) bad += back->data[i] != x->data[i];
    CHECK_MSG(back && bad == 0, "unsqueeze(squeeze(x)) != x at %d places", bad);
    CHECK(genc_squeeze2x2(ctx, genc_tensor_zeros(ctx, 4, (int64_t[]){1, 1, 3, 4})) == NULL);
    genc_clear_error(ctx);
    CHECK(genc_unsqueeze2x2(ctx, genc_tensor_zeros(ctx, 4, (int64_t[]){1, 3, 2, 2})) == NULL);
    genc_clear_error(ctx);
    genc_step_reset(ctx);
    genc_tensor_free(x), genc_tensor_free(y);
}

/* log |det A| of a row-major n x n matrix, LU with partial pivoting in double. */
static double log_abs_det(int n, double *a) {
    double ld = 0;
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[p * n + k])) p = i;
        for (int j = 0; p != k && j < n; j++) {
            double t = a[k * n + j];
            a[k * n + j] = a[p * n + j], a[p * n + j] = t;
        }
        ld += log(fabs(a[k * n + k]));
        for (int i = k + 1; i < n; i++) {
            double f = a[i * n + k] / a[k * n + k];
            for (int j = k; j < n; j++) a[i * n + j] -= f * a[k * n + j];
        }
    }
    return ld;
}

typedef struct {
    genc_glow *m;
    int level, step;
    genc_glow_layer kind;
    bool whole; /* the whole flow x [1, D] -> h */
} layer_case;

/* y = the layer (or the flow) at x (a single example), flattened into out; returns its log-det. */
static double apply(genc_ctx *ctx, const layer_case *k, const double *x, int64_t n, double *out) {
    genc_step_reset(ctx);
    genc_glow_level *L = &k->m->lev[k->level];
    int64_t shape[4] = {1, L->C, L->H, L->W}, flat[2] = {1, n};
    genc_tensor *in = k->whole ? genc_tensor_empty(ctx, 2, flat) : genc_tensor_empty(ctx, 4, shape), *ld = NULL;
    for (int64_t i = 0; i < n; i++) in->data[i] = x[i];
    genc_tensor *y = k->whole ? genc_glow_forward(ctx, k->m, in, &ld)
                              : genc_glow_layer_forward(ctx, k->m, k->level, k->step, k->kind, in, &ld);
    y = genc_contiguous(ctx, y);
    if (!y || !ld || genc_numel(y) != n) return NAN;
    for (int64_t i = 0; i < n; i++) out[i] = y->data[i];
    return ld->data[0];
}

/* The layer's log-det against log |det J| with J by central differences (step 1e-5), and its
 * inverse: inverse(forward(x)) == x. */
static void check_layer(genc_ctx *ctx, const layer_case *k, const char *name) {
    genc_glow_level *L = &k->m->lev[k->level];
    int64_t n = k->whole ? k->m->dim : (int64_t)L->C * L->H * L->W;
    double *x = malloc((size_t)n * sizeof *x), *yp = malloc((size_t)n * sizeof *yp), *ym = malloc((size_t)n * sizeof *ym);
    double *J = malloc((size_t)(n * n) * sizeof *J), *y0 = malloc((size_t)n * sizeof *y0);
    for (int64_t i = 0; i < n; i++) x[i] = genc_philox_normal(900 + (uint64_t)k->kind, (uint64_t)i) * 0.5 + 0.25;
    double ld = apply(ctx, k, x, n, y0), h = 1e-5;
    CHECK_MSG(isfinite(ld), "%s: forward failed", name);
    for (int64_t j = 0; j < n; j++) {
        double keep = x[j];
        x[j] = keep + h, apply(ctx, k, x, n, yp);
        x[j] = keep - h, apply(ctx, k, x, n, ym);
        x[j] = keep;
        for (int64_t i = 0; i < n; i++) J[i * n + j] = (yp[i] - ym[i]) / (2 * h);
    }
    double num = log_abs_det((int)n, J);
    CHECK_MSG(fabs(ld - num) < 1e-6 * (1 + fabs(num)), "%s: log-det %.10f, numerical Jacobian %.10f", name, ld, num);
    /* inverse */
    genc_step_reset(ctx);
    int64_t shape[4] = {1, L->C, L->H, L->W}, flat[2] = {1, n};
    genc_tensor *yt = k->whole ? genc_tensor_empty(ctx, 2, flat) : genc_tensor_empty(ctx, 4, shape);
    for (int64_t i = 0; i < n; i++) yt->data[i] = y0[i];
    genc_tensor *xb = k->whole ? genc_glow_inverse(ctx, k->m, yt)
                               : genc_glow_layer_inverse(ctx, k->m, k->level, k->step, k->kind, yt);
    double err = xb ? 0 : INFINITY;
    for (int64_t i = 0; xb && i < n; i++) err = fmax(err, fabs(xb->data[i] - x[i]));
    CHECK_MSG(err < 1e-10, "%s: inverse(forward(x)) differs from x by %.3g", name, err);
    free(x), free(yp), free(ym), free(J), free(y0);
}

static void randomise(genc_ctx *ctx, genc_glow *m) {
    for (int i = 0; i < m->params.n; i++) {
        genc_tensor *t = m->params.t[i];
        double sd = strstr(t->name, "logs") || strstr(t->name, "log_s") ? 0.1 : 0.2;
        for (int64_t j = 0; j < genc_numel(t); j++) t->data[j] += (genc_real)(sd * genc_rand_normal(ctx));
    }
}

typedef struct {
    genc_glow *m;
    genc_tensor *x;
} lp_case;

static genc_tensor *f_log_prob(genc_ctx *c, genc_tensor **in, void *u) {
    lp_case *k = u;
    return genc_glow_log_prob(c, k->m, k->x, NULL);
}

static void check_model(genc_ctx *ctx) {
    genc_glow_config cfg = {.rows = 4, .cols = 4, .levels = 2, .steps = 2, .hidden = 5};
    genc_glow m;
    CHECK(genc_glow_init(ctx, &m, &cfg) == GENC_OK);
    if (genc_ctx_status(ctx)) return;
    CHECK(m.lev[0].C == 4 && m.lev[0].H == 2 && m.lev[1].C == 8 && m.lev[1].H == 1 && !m.lev[1].split_w);
    randomise(ctx, &m);
    static const char *kinds[] = {"actnorm", "invconv", "coupling", "split"};
    char name[96];
    for (int l = 0; l < 2; l++)
        for (int s = 0; s < 2; s++)
            for (int kind = 0; kind < 4; kind++) {
                if (kind == GENC_GLOW_SPLIT && (s > 0 || l == 1)) continue;
                layer_case k = {.m = &m, .level = l, .step = s, .kind = (genc_glow_layer)kind};
                snprintf(name, sizeof name, "level %d step %d %s", l, s, kinds[kind]);
                check_layer(ctx, &k, name);
            }
    layer_case whole = {.m = &m, .whole = true};
    check_layer(ctx, &whole, "the whole flow (16 -> 16)");

    /* log p(x) by autograd against finite differences, parameters of every kind */
    int64_t xs[2] = {3, 16};
    genc_tensor *x = gc_input(ctx, 2, xs, 61);
    x->requires_grad = false;
    for (int i = 0; i < 48; i++) x->data[i] = (genc_real)genc_philox_uniform(61, (uint64_t)i); /* like data */
    lp_case lc = {.m = &m, .x = x};
    genc_glow_step *s0 = &m.lev[0].steps[1], *s1 = &m.lev[1].steps[0];
    genc_tensor *ps[8] = {s0->an_bias, s0->an_logs, s0->lower, s0->upper, s0->log_s, s0->w1, s1->w3, m.lev[0].split_w};
    gradcheck(ctx, "glow log p(x) wrt parameters", f_log_prob, ps, 8, &lc, 1e-6, 1e-7);
    genc_tensor *ps2[4] = {s1->b1, s1->w2, s1->b3, m.lev[0].split_b};
    gradcheck(ctx, "glow log p(x) wrt biases", f_log_prob, ps2, 4, &lc, 1e-6, 1e-7);
    genc_tensor_free(x);
    genc_glow_free(&m);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    genc_rng_seed(ctx, 7);
    check_squeeze(ctx);
    check_model(ctx);
    genc_ctx_free(ctx);
    return test_report("grad_glow_ops");
}
