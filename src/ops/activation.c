/* Unary elementwise ops and activations: exp, log, tanh, sigmoid, relu, silu, gelu (exact
 * erf form), softplus, square, sqrt. Each is a pair of span kernels (forward y = f(x),
 * backward dx += g f'(x), written with x or y, whichever is cheaper) run in parallel over
 * contiguous spans of the flattened tensor. */
#include "genc/genc.h"
#include "ops/fastexp.h"

#include <tgmath.h>

#define SPAN 4096

typedef void (*fwd_fn)(const genc_real *x, genc_real *y, int64_t n);
typedef void (*bwd_fn)(const genc_real *x, const genc_real *y, const genc_real *g, genc_real *gx, int64_t n);
typedef struct {
    const char *name;
    fwd_fn fwd;
    bwd_fn bwd;
} unary_kind;

/* Kernels: FWD(name, expr of x) and BWD(name, expr of x, y, g), both vectorisable loops. */
#define FWD(NAME, EXPR)                                                             \
    static void NAME##_fwd(const genc_real *xs, genc_real *ys, int64_t n) {         \
        for (int64_t i = 0; i < n; i++) {                                           \
            genc_real x = xs[i];                                                    \
            ys[i] = (EXPR);                                                         \
        }                                                                           \
    }
#define BWD(NAME, EXPR)                                                             \
    static void NAME##_bwd(const genc_real *xs, const genc_real *ys, const genc_real *gs, genc_real *gx, \
                           int64_t n) {                                             \
        for (int64_t i = 0; i < n; i++) {                                           \
            genc_real x = xs[i], y = ys[i], g = gs[i];                              \
            (void)x, (void)y;                                                       \
            gx[i] += (EXPR);                                                        \
        }                                                                           \
    }

static const genc_real ONE = 1, HALF = (genc_real)0.5, ZERO = 0;
static const genc_real INV_SQRT2 = (genc_real)0.70710678118654752440;   /* 1/sqrt(2) */
static const genc_real INV_SQRT2PI = (genc_real)0.39894228040143267794; /* 1/sqrt(2 pi) */

/* exp: y = e^x, dy = y */
FWD(exp, exp(x))
BWD(exp, g * y)
/* log: y = ln x, dy = 1/x */
FWD(log, log(x))
BWD(log, g / x)
/* tanh: dy = 1 - y^2 */
FWD(tanh, tanh(x))
BWD(tanh, g * (ONE - y * y))
/* sigmoid: y = 1 / (1 + e^-x) (e^-x -> inf gives 0, never NaN), dy = y (1 - y) */
FWD(sigmoid, ONE / (ONE + fastexp(-x)))
BWD(sigmoid, g * y * (ONE - y))
/* relu: dy = [x > 0] */
FWD(relu, x > ZERO ? x : ZERO)
BWD(relu, x > ZERO ? g : ZERO)
/* silu: y = x s(x), dy = s (1 + x (1 - s)), s = sigmoid(x) (one exp: libm calls are not
 * merged by the compiler, since they may set errno) */
static inline genc_real silu_grad(genc_real x) {
    genc_real s = ONE / (ONE + fastexp(-x));
    return s * (ONE + x * (ONE - s));
}
FWD(silu, x / (ONE + fastexp(-x)))
BWD(silu, g * silu_grad(x))
/* gelu: y = x Phi(x) = x/2 (1 + erf(x / sqrt 2)), dy = Phi(x) + x phi(x),
 * phi(x) = e^(-x^2/2) / sqrt(2 pi) */
FWD(gelu, HALF * x * (ONE + erf(x * INV_SQRT2)))
BWD(gelu, g * (HALF * (ONE + erf(x * INV_SQRT2)) + x * INV_SQRT2PI * exp(-HALF * x * x)))
/* softplus: y = max(x, 0) + log1p(e^-|x|) (stable), dy = sigmoid(x) */
FWD(softplus, (x > ZERO ? x : ZERO) + log1p(exp(-fabs(x))))
BWD(softplus, g / (ONE + exp(-x)))
/* square: dy = 2x */
FWD(square, x * x)
BWD(square, g * 2 * x)
/* sqrt: dy = 1 / (2 y) */
FWD(sqrt, sqrt(x))
BWD(sqrt, g * HALF / y)

static void unary_backward(genc_ctx *ctx, genc_node *n) {
    const unary_kind *k = n->saved;
    genc_real *gx = genc_grad(ctx, n->in[0]);
    if (!gx) return;
    const genc_real *x = n->in[0]->data, *y = n->out->data, *g = n->out->grad;
    int64_t m = genc_numel(n->out), ns = (m + SPAN - 1) / SPAN;
#pragma omp parallel for if (m > GENC_PAR_MIN) schedule(static)
    for (int64_t s = 0; s < ns; s++) {
        int64_t lo = s * SPAN, len = m - lo < SPAN ? m - lo : SPAN;
        k->bwd(x + lo, y + lo, g + lo, gx + lo, len);
    }
}

static genc_tensor *unary(genc_ctx *ctx, const unary_kind *k, genc_tensor *a) {
    a = genc_contiguous(ctx, a);
    genc_tensor *y = a ? genc_tensor_empty(ctx, a->ndim, a->shape) : NULL;
    if (!y) return NULL;
    int64_t m = genc_numel(a), ns = (m + SPAN - 1) / SPAN;
#pragma omp parallel for if (m > GENC_PAR_MIN) schedule(static)
    for (int64_t s = 0; s < ns; s++) {
        int64_t lo = s * SPAN, len = m - lo < SPAN ? m - lo : SPAN;
        k->fwd(a->data + lo, y->data + lo, len);
    }
    genc_node *n = genc_record(ctx, k->name, unary_backward, y, 1, &a);
    if (n) n->saved = (void *)k;
    return genc_ctx_status(ctx) ? NULL : y;
}

#define UNARY_OP(NAME)                                                              \
    genc_tensor *genc_##NAME(genc_ctx *ctx, genc_tensor *a) {                       \
        static const unary_kind k = {#NAME, NAME##_fwd, NAME##_bwd};                \
        return unary(ctx, &k, a);                                                   \
    }
UNARY_OP(exp)
UNARY_OP(log)
UNARY_OP(tanh)
UNARY_OP(sigmoid)
UNARY_OP(relu)
UNARY_OP(silu)
UNARY_OP(gelu)
UNARY_OP(softplus)
UNARY_OP(square)
UNARY_OP(sqrt)
