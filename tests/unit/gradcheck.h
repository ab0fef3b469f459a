/* Finite-difference gradient checks for genc ops, compiled against the double-precision
 * build (libgenc_f64), so central differences are accurate to ~1e-8 and the comparison
 * can be tight.
 *
 * A check builds y = f(inputs), takes the scalar L = sum(y * R) for a fixed random R (so
 * every output element matters with its own weight), gets dL/dx by genc_backward_with(y, R)
 * and compares it with (L(x + h) - L(x - h)) / 2h for every element of every input.
 *
 * Backward must accumulate into an input's gradient, never overwrite it: before backward
 * each input's gradient is pre-filled with a known G0 (N(0, 1) draws), and the analytic
 * gradient is read as grad - G0, so an op that writes `dx = ...` instead of `dx += ...`
 * loses G0 and fails the comparison. */
#ifndef GENC_GRADCHECK_H
#define GENC_GRADCHECK_H
#include "genc/genc.h"
#include "test.h"
#include <stdlib.h>

/* The gradient G0 an input i holds before backward (element j). */
static genc_real gc_g0(int i, int64_t j) { return (genc_real)genc_philox_normal(9001 + (uint64_t)i, (uint64_t)j); }

typedef genc_tensor *(*gc_fn)(genc_ctx *ctx, genc_tensor **in, void *user);

static double gc_eval(genc_ctx *ctx, gc_fn f, genc_tensor **in, void *user, const genc_real *R) {
    genc_step_reset(ctx);
    bool old = genc_set_grad_enabled(ctx, false);
    genc_tensor *y = f(ctx, in, user);
    genc_set_grad_enabled(ctx, old);
    if (!y) return NAN;
    double L = 0;
    int64_t n = genc_numel(y), idx[4] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i; /* unravel i over y's shape (y may be a view) */
        for (int d = y->ndim - 1; d >= 0; d--) idx[d] = r % y->shape[d], r /= y->shape[d];
        L += genc_get(y, idx) * R[i];
    }
    return L;
}

/* Returns the number of mismatching elements (also counted into the test totals). */
static int gradcheck(genc_ctx *ctx, const char *name, gc_fn f, genc_tensor **in, int n_in, void *user,
                     double rtol, double atol) {
    genc_step_reset(ctx);
    for (int i = 0; i < n_in; i++)
        if (in[i]->grad)
            for (int64_t j = 0, n = genc_numel(in[i]); j < n; j++) in[i]->grad[j] = gc_g0(i, j);
    genc_tensor *y = f(ctx, in, user);
    if (!y) {
        fprintf(stderr, "%s: forward failed: %s\n", name, genc_last_error(ctx));
        genc_clear_error(ctx);
        test_failed++;
        return 1;
    }
    int64_t ny = genc_numel(y);
    genc_real *R = malloc((size_t)ny * sizeof *R);
    for (int64_t i = 0; i < ny; i++) R[i] = (genc_real)genc_philox_normal(777, (uint64_t)i);
    if (genc_backward_with(ctx, y, R)) {
        fprintf(stderr, "%s: backward failed: %s\n", name, genc_last_error(ctx));
        genc_clear_error(ctx);
        free(R);
        test_failed++;
        return 1;
    }
    /* Keep the analytic gradients before the numeric passes reset the arena. */
    genc_real *analytic[8];
    for (int i = 0; i < n_in; i++) {
        int64_t n = genc_numel(in[i]);
        analytic[i] = malloc((size_t)n * sizeof(genc_real));
        for (int64_t j = 0; j < n; j++) analytic[i][j] = in[i]->grad ? in[i]->grad[j] - gc_g0(i, j) : 0;
    }
    int bad = 0;
    const double h = 1e-6;
    for (int i = 0; i < n_in; i++) {
        if (!in[i]->requires_grad) continue;
        int64_t n = genc_numel(in[i]);
        for (int64_t j = 0; j < n; j++) {
            genc_real keep = in[i]->data[j];
            in[i]->data[j] = keep + h;
            double lp = gc_eval(ctx, f, in, user, R);
            in[i]->data[j] = keep - h;
            double lm = gc_eval(ctx, f, in, user, R);
            in[i]->data[j] = keep;
            double num = (lp - lm) / (2 * h), ana = analytic[i][j];
            if (!(fabs(num - ana) <= atol + rtol * fabs(num))) {
                if (bad < 5)
                    fprintf(stderr, "%s: input %d element %lld: analytic %.10g numeric %.10g\n", name, i,
                            (long long)j, ana, num);
                bad++;
            }
        }
    }
    for (int i = 0; i < n_in; i++) free(analytic[i]);
    free(R);
    CHECK_MSG(bad == 0, "%s: %d gradient elements differ", name, bad);
    return bad;
}

/* A persistent input with requires_grad and values from N(0, 1) under `seed`. */
static inline genc_tensor *gc_input(genc_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed) {
    genc_tensor *t = genc_param_new(ctx, "x", ndim, shape);
    int64_t n = genc_numel(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = (genc_real)genc_philox_normal(seed, (uint64_t)i);
    return t;
}
#endif
