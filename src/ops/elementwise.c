/* Elementwise binary ops with NumPy broadcasting (add, sub, mul, div) and the two
 * tensor-scalar ops (scale, add_scalar), forward and backward.
 *
 * A broadcast is planned once from the shapes: the output's dims of size 1 are dropped
 * and neighbouring dims that both operands step through in the same way are merged, so a
 * same-shape op becomes one flat dim and a bias add ([..., C] + [C]) becomes [rows, C]
 * with both inner strides 1. The work is then cut into spans (a piece of the innermost
 * dim, at most SPAN elements), in which each operand's stride is 0 (broadcast) or 1.
 *
 * Backward: d(a + b) = (g, g), d(a - b) = (g, -g), d(a b) = (g b, g a),
 * d(a / b) = (g / b, -g a / b^2 = -g y / b); each summed over the dims that operand was
 * broadcast along. */
#include "genc/genc.h"

#include <omp.h>
#include <string.h>

#define SPAN 4096

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV } binop;
static const char *const binop_name[] = {"add", "sub", "mul", "div"};

typedef struct {
    int k;                /* merged dims, 1..4 */
    int64_t shape[4];     /* merged output shape; shape[k-1] is the innermost */
    int64_t sa[4], sb[4]; /* element strides of a and b in it (0 where broadcast) */
    int64_t n;            /* output elements */
    int64_t nchunk;       /* spans per innermost row */
} bplan;

typedef struct {
    int64_t o, a, b;      /* offsets of the span's first element in y, a, b */
    int64_t sa, sb, len;  /* inner strides (0 or 1) and length */
} bspan;

/* Contiguous strides of t's shape padded to 4 dims, 0 where the dim is 1. */
static void bcast_strides(const genc_tensor *t, int64_t shape[4], int64_t st[4]) {
    genc_pad4(t, shape, st);
    genc_contig_strides4(shape, st);
    for (int i = 0; i < 4; i++)
        if (shape[i] == 1) st[i] = 0;
}

/* Plan y = a (op) b; false if the shapes do not broadcast. */
static bool plan_broadcast(const genc_tensor *a, const genc_tensor *b, bplan *p, int *ondim, int64_t oshape[4]) {
    int64_t ash[4], ast[4], bsh[4], bst[4], osh[4];
    bcast_strides(a, ash, ast), bcast_strides(b, bsh, bst);
    *ondim = a->ndim > b->ndim ? a->ndim : b->ndim;
    p->k = 0, p->n = 1;
    for (int i = 0; i < 4; i++) {
        if (ash[i] != bsh[i] && ash[i] != 1 && bsh[i] != 1) return false;
        osh[i] = ash[i] > bsh[i] ? ash[i] : bsh[i];
        p->n *= osh[i];
        if (i >= 4 - *ondim) oshape[i - (4 - *ondim)] = osh[i];
        if (osh[i] == 1) continue;
        int k = p->k - 1; /* merge into the previous kept dim when both operands allow */
        if (k >= 0 && p->sa[k] == ast[i] * osh[i] && p->sb[k] == bst[i] * osh[i])
            p->shape[k] *= osh[i], p->sa[k] = ast[i], p->sb[k] = bst[i];
        else
            p->shape[p->k] = osh[i], p->sa[p->k] = ast[i], p->sb[p->k] = bst[i], p->k++;
    }
    if (p->k == 0) p->k = 1, p->shape[0] = 1, p->sa[0] = p->sb[0] = 0;
    p->nchunk = (p->shape[p->k - 1] + SPAN - 1) / SPAN;
    return true;
}

static int64_t n_spans(const bplan *p) { return p->n / p->shape[p->k - 1] * p->nchunk; }

/* Span s: row s / nchunk of the merged outer dims, piece s % nchunk of it. No division
 * at all in the common cases (one piece per row, at most two merged dims). */
static bspan span_at(const bplan *p, int64_t s) {
    int64_t len = p->shape[p->k - 1], row = s, j0 = 0;
    if (p->nchunk > 1) row = s / p->nchunk, j0 = (s % p->nchunk) * SPAN;
    bspan sp = {row * len + j0, 0, 0, p->sa[p->k - 1], p->sb[p->k - 1], 0};
    sp.len = len - j0 < SPAN ? len - j0 : SPAN;
    for (int d = p->k - 2; d > 0; d--) {
        int64_t i = row % p->shape[d];
        row /= p->shape[d];
        sp.a += i * p->sa[d], sp.b += i * p->sb[d];
    }
    if (p->k > 1) sp.a += row * p->sa[0], sp.b += row * p->sb[0];
    sp.a += j0 * sp.sa, sp.b += j0 * sp.sb;
    return sp;
}

/* o[j] = EXPR(x = a[j], y = b[j]), with a or b fixed when its stride is 0. */
#define FWD_SPAN(EXPR)                                                              \
    do {                                                                            \
        if (sa && sb)                                                               \
            for (int64_t j = 0; j < len; j++) { genc_real x = a[j], y = b[j]; o[j] = (EXPR); } \
        else if (sa) {                                                              \
            genc_real y = b[0];                                                     \
            for (int64_t j = 0; j < len; j++) { genc_real x = a[j]; o[j] = (EXPR); } \
        } else if (sb) {                                                            \
            genc_real x = a[0];                                                     \
            for (int64_t j = 0; j < len; j++) { genc_real y = b[j]; o[j] = (EXPR); } \
        } else {                                                                    \
            genc_real x = a[0], y = b[0];                                           \
            for (int64_t j = 0; j < len; j++) o[j] = (EXPR);                        \
        }                                                                           \
    } while (0)

static void fwd_span(binop op, genc_real *o, const genc_real *a, int64_t sa, const genc_real *b, int64_t sb,
                     int64_t len) {
    switch (op) {
    case OP_ADD: FWD_SPAN(x + y); break;
    case OP_SUB: FWD_SPAN(x - y); break;
    case OP_MUL: FWD_SPAN(x * y); break;
    case OP_DIV: FWD_SPAN(x / y); break;
    }
}

static void bin_forward(binop op, const bplan *p, const genc_real *A, const genc_real *B, genc_real *Y) {
    int64_t ns = n_spans(p);
#pragma omp parallel for if (p->n > GENC_PAR_MIN) schedule(static)
    for (int64_t s = 0; s < ns; s++) {
        bspan sp = span_at(p, s);
        fwd_span(op, Y + sp.o, A + sp.a, sp.sa, B + sp.b, sp.sb, sp.len);
    }
}

/* gx[j] += F(j in a, j in b) when the target has stride 1; else the span sums into gx[0]. */
#define GRAD_SPAN(F)                                                                \
    do {                                                                            \
        if (sx && sa && sb)                                                         \
            for (int64_t j = 0; j < len; j++) gx[j] += F(j, j);                     \
        else if (sx)                                                                \
            for (int64_t j = 0; j < len; j++) gx[j] += F(j * sa, j * sb);           \
        else {                                                                      \
            genc_real acc = 0;                                                      \
            for (int64_t j = 0; j < len; j++) acc += F(j * sa, j * sb);             \
            gx[0] += acc;                                                           \
        }                                                                           \
    } while (0)
#define D_PLUS(ia, ib) (g[j])
#define D_MINUS(ia, ib) (-g[j])
#define D_MUL_A(ia, ib) (g[j] * b[ib])
#define D_MUL_B(ia, ib) (g[j] * a[ia])
#define D_DIV_A(ia, ib) (g[j] / b[ib])
#define D_DIV_B(ia, ib) (-g[j] * y[j] / b[ib])

static void grad_span(binop op, int side, genc_real *gx, int64_t sx, const genc_real *g, const genc_real *a,
                      int64_t sa, const genc_real *b, int64_t sb, const genc_real *y, int64_t len) {
    switch (op * 2 + side) {
    case OP_ADD * 2: case OP_ADD * 2 + 1: case OP_SUB * 2: GRAD_SPAN(D_PLUS); break;
    case OP_SUB * 2 + 1: GRAD_SPAN(D_MINUS); break;
    case OP_MUL * 2: GRAD_SPAN(D_MUL_A); break;
    case OP_MUL * 2 + 1: GRAD_SPAN(D_MUL_B); break;
    case OP_DIV * 2: GRAD_SPAN(D_DIV_A); break;
    case OP_DIV * 2 + 1: GRAD_SPAN(D_DIV_B); break;
    }
}

/* Accumulate the gradient of one operand (side 0: a, 1: b). Spans run in parallel only
 * when that operand is not broadcast, so no two spans write the same element. */
static void bin_grad_side(genc_ctx *ctx, genc_node *n, int side) {
    const bplan *p = n->saved;
    genc_tensor *x = n->in[side];
    genc_real *gx = genc_grad(ctx, x);
    if (!gx) return;
    binop op = (binop)n->iarg[0];
    const genc_real *A = n->in[0]->data, *B = n->in[1]->data, *Y = n->out->data, *G = n->out->grad;
    int64_t ns = n_spans(p);
    bool par = genc_numel(x) == p->n && p->n > GENC_PAR_MIN;
#pragma omp parallel for if (par) schedule(static)
    for (int64_t s = 0; s < ns; s++) {
        bspan sp = span_at(p, s);
        grad_span(op, side, gx + (side ? sp.b : sp.a), side ? sp.sb : sp.sa, G + sp.o, A + sp.a, sp.sa, B + sp.b,
                  sp.sb, Y + sp.o, sp.len);
    }
}

static void bin_backward(genc_ctx *ctx, genc_node *n) {
    if (n->in[0]->requires_grad) bin_grad_side(ctx, n, 0);
    if (n->in[1]->requires_grad) bin_grad_side(ctx, n, 1);
}

static genc_tensor *binary(genc_ctx *ctx, binop op, genc_tensor *a, genc_tensor *b) {
    if (!a || !b) return NULL;
    bplan plan;
    int ondim;
    int64_t oshape[4];
    if (!plan_broadcast(a, b, &plan, &ondim, oshape)) {
        char s1[64], s2[64];
        genc_error(ctx, GENC_EINVAL, "%s: shapes %s and %s do not broadcast", binop_name[op],
                   genc_shape_str(a, s1, 64), genc_shape_str(b, s2, 64));
        return NULL;
    }
    a = genc_contiguous(ctx, a);
    b = genc_contiguous(ctx, b);
    genc_tensor *y = a && b ? genc_tensor_empty(ctx, ondim, oshape) : NULL;
    if (!y) return NULL;
    bin_forward(op, &plan, a->data, b->data, y->data);
    genc_tensor *in[2] = {a, b};
    genc_node *n = genc_record(ctx, binop_name[op], bin_backward, y, 2, in);
    if (n) {
        n->saved = genc_arena_alloc(ctx, sizeof plan);
        if (n->saved) memcpy(n->saved, &plan, sizeof plan);
        n->iarg[0] = op;
    }
    return genc_ctx_status(ctx) ? NULL : y;
}

genc_tensor *genc_add(genc_ctx *ctx, genc_tensor *a, genc_tensor *b) { return binary(ctx, OP_ADD, a, b); }
genc_tensor *genc_sub(genc_ctx *ctx, genc_tensor *a, genc_tensor *b) { return binary(ctx, OP_SUB, a, b); }
genc_tensor *genc_mul(genc_ctx *ctx, genc_tensor *a, genc_tensor *b) { return binary(ctx, OP_MUL, a, b); }
genc_tensor *genc_div(genc_ctx *ctx, genc_tensor *a, genc_tensor *b) { return binary(ctx, OP_DIV, a, b); }

/* ---- tensor-scalar: y = mul * a + add; backward da += mul * g ---- */

static void affine_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *ga = genc_grad(ctx, n->in[0]);
    if (!ga) return;
    const genc_real *g = n->out->grad, s = (genc_real)n->farg[0];
    int64_t m = genc_numel(n->out);
#pragma omp parallel for simd if (m > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < m; i++) ga[i] += s * g[i];
}

static genc_tensor *affine(genc_ctx *ctx, const char *name, genc_tensor *a, double mul, double add) {
    a = genc_contiguous(ctx, a);
    genc_tensor *y = a ? genc_tensor_empty(ctx, a->ndim, a->shape) : NULL;
    if (!y) return NULL;
    const genc_real *x = a->data, s = (genc_real)mul, c = (genc_real)add;
    genc_real *o = y->data;
    int64_t m = genc_numel(a);
#pragma omp parallel for simd if (m > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < m; i++) o[i] = s * x[i] + c;
    genc_node *n = genc_record(ctx, name, affine_backward, y, 1, &a);
    if (n) n->farg[0] = mul;
    return genc_ctx_status(ctx) ? NULL : y;
}

genc_tensor *genc_scale(genc_ctx *ctx, genc_tensor *a, double s) { return affine(ctx, "scale", a, s, 0); }
genc_tensor *genc_add_scalar(genc_ctx *ctx, genc_tensor *a, double s) { return affine(ctx, "add_scalar", a, 1, s); }
