/* Group normalisation (Wu and He, arXiv 1803.08494, eq. 1-4) of NCHW tensors, with PyTorch's
 * GroupNorm semantics: the C channels split into G groups of C/G consecutive channels; per
 * image n and group g, over the S = (C/G) H W elements of the group (one contiguous block
 * in NCHW),
 *     mu = mean x,  var = mean (x - mu)^2 (biased),  r = 1 / sqrt(var + eps),
 *     xh = (x - mu) r,  y[c] = xh w[c] + b[c]          (w, b per channel, optional).
 * Backward, per (n, g) with gh = g w[c] (g = dL/dy):
 *     dx = r (gh - mean(gh) - xh mean(gh xh)),
 *     dw[c] += sum_{n, hw} g xh,  db[c] += sum_{n, hw} g.
 * genc_group_norm_silu fuses the SiLU that follows every group norm in the U-Net,
 * out = z sigmoid(z) with z = y above; backward recomputes z from the saved statistics and
 * turns the incoming gradient into dL/dz = g s (1 + z (1 - s)), s = sigmoid(z), first.
 * The (n, g) blocks run in parallel; the per-channel parameter sums are first kept per image
 * ([N, C] in the arena) and then added over n in order, so results do not depend on threads. */
#include "genc/genc.h"
#include "ops/fastexp.h"

#include <string.h>
#include <tgmath.h>

typedef struct {
    int64_t N, C, G, HW, Cg; /* Cg = C / G channels per group */
    genc_real *mu, *r;       /* [N G] saved statistics */
} gn_plan;

/* Mean and 1/sqrt(var + eps) of one group's block of S elements (double sums). */
static void group_stats(const genc_real *x, int64_t S, double eps, genc_real *mu, genc_real *r) {
    double s = 0, q = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < S; i++) s += x[i];
    double m = s / (double)S;
#pragma omp simd reduction(+ : q)
    for (int64_t i = 0; i < S; i++) q += ((double)x[i] - m) * ((double)x[i] - m);
    *mu = (genc_real)m;
    *r = (genc_real)(1.0 / sqrt(q / (double)S + eps));
}

/* y = xh w + b (then y sigmoid(y) with silu) for one group block; channel c0.. of the group. */
static void group_apply(const gn_plan *p, const genc_real *x, const genc_real *w, const genc_real *b, int64_t c0,
                        genc_real mu, genc_real r, bool silu, genc_real *y) {
    for (int64_t c = 0; c < p->Cg; c++) {
        genc_real sc = r * (w ? w[c0 + c] : 1), sh = (b ? b[c0 + c] : 0) - mu * sc;
        const genc_real *xc = x + c * p->HW;
        genc_real *yc = y + c * p->HW;
        if (silu) {
#pragma omp simd
            for (int64_t i = 0; i < p->HW; i++) {
                genc_real z = xc[i] * sc + sh;
                yc[i] = z / (1 + fastexp(-z));
            }
        } else {
#pragma omp simd
            for (int64_t i = 0; i < p->HW; i++) yc[i] = xc[i] * sc + sh;
        }
    }
}

/* dz = g silu'(z) for one group block, z = xh w + b recomputed: silu'(z) = s (1 + z (1 - s)). */
static void group_silu_grad(const gn_plan *p, const genc_real *x, const genc_real *w, const genc_real *b, int64_t c0,
                            genc_real mu, genc_real r, const genc_real *g, genc_real *dz) {
    for (int64_t c = 0; c < p->Cg; c++) {
        genc_real sc = r * (w ? w[c0 + c] : 1), sh = (b ? b[c0 + c] : 0) - mu * sc;
        const genc_real *xc = x + c * p->HW, *gc = g + c * p->HW;
        genc_real *dc = dz + c * p->HW;
#pragma omp simd
        for (int64_t i = 0; i < p->HW; i++) {
            genc_real z = xc[i] * sc + sh, sg = 1 / (1 + fastexp(-z));
            dc[i] = gc[i] * sg * (1 + z * (1 - sg));
        }
    }
}

/* One (n, g) block's backward: dx (if gx) and the per-image channel sums sgx[c] = sum g xh,
 * sg[c] = sum g (if not NULL). */
static void group_backward(const gn_plan *p, const genc_real *x, const genc_real *w, const genc_real *g, int64_t c0,
                           genc_real mu, genc_real r, genc_real *gx, genc_real *sgx, genc_real *sg) {
    double a = 0, bsum = 0; /* sum gh, sum gh xh over the group */
    for (int64_t c = 0; c < p->Cg; c++) {
        const genc_real *xc = x + c * p->HW, *gc = g + c * p->HW;
        double s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
        for (int64_t i = 0; i < p->HW; i++) s1 += gc[i], s2 += gc[i] * (xc[i] - mu);
        s2 *= r;
        if (sg) sg[c0 + c] = (genc_real)s1, sgx[c0 + c] = (genc_real)s2;
        genc_real wc = w ? w[c0 + c] : 1;
        a += wc * s1, bsum += wc * s2;
    }
    if (!gx) return;
    double S = (double)(p->Cg * p->HW);
    genc_real ma = (genc_real)(a / S), mb = (genc_real)(bsum / S);
    for (int64_t c = 0; c < p->Cg; c++) {
        const genc_real *xc = x + c * p->HW, *gc = g + c * p->HW;
        genc_real *dc = gx + c * p->HW, wc = w ? w[c0 + c] : 1;
#pragma omp simd
        for (int64_t i = 0; i < p->HW; i++) {
            genc_real xh = (xc[i] - mu) * r;
            dc[i] += r * (gc[i] * wc - ma - xh * mb);
        }
    }
}

static void group_norm_backward(genc_ctx *ctx, genc_node *nd) {
    genc_tensor *x = nd->in[0], *w = nd->iarg[0] ? nd->in[1] : NULL, *b = nd->iarg[1] ? nd->in[nd->n_in - 1] : NULL;
    const gn_plan *p = nd->saved;
    const genc_real *g = nd->out->grad;
    genc_real *gx = x->requires_grad ? genc_grad(ctx, x) : NULL;
    genc_real *gw = w && w->requires_grad ? genc_grad(ctx, w) : NULL;
    genc_real *gb = b && b->requires_grad ? genc_grad(ctx, b) : NULL;
    bool sums = gw || gb;
    int64_t NC = p->N * p->C, blocks = p->N * p->G, S = p->Cg * p->HW;
    genc_real *sgx = sums ? genc_arena_alloc(ctx, (size_t)(2 * NC) * sizeof(genc_real)) : NULL;
    if ((x->requires_grad && !gx) || (w && w->requires_grad && !gw) || (b && b->requires_grad && !gb) ||
        (sums && !sgx))
        return;
    genc_real *sg = sums ? sgx + NC : NULL, *dz = NULL;
    if (nd->iarg[2] && !(dz = genc_arena_alloc(ctx, (size_t)(blocks * S) * sizeof(genc_real)))) return;
#pragma omp parallel for if (blocks * S > GENC_PAR_MIN) schedule(static)
    for (int64_t k = 0; k < blocks; k++) {
        int64_t n = k / p->G, c0 = (k % p->G) * p->Cg;
        const genc_real *gk = g + k * S;
        if (dz) {
            group_silu_grad(p, x->data + k * S, w ? w->data : NULL, b ? b->data : NULL, c0, p->mu[k], p->r[k], gk,
                            dz + k * S);
            gk = dz + k * S;
        }
        group_backward(p, x->data + k * S, w ? w->data : NULL, gk, c0, p->mu[k], p->r[k],
                       gx ? gx + k * S : NULL, sums ? sgx + n * p->C : NULL, sums ? sg + n * p->C : NULL);
    }
    for (int64_t n = 0; sums && n < p->N; n++)
        for (int64_t c = 0; c < p->C; c++) {
            if (gw) gw[c] += sgx[n * p->C + c];
            if (gb) gb[c] += sg[n * p->C + c];
        }
}

/* Shape checks; false with the error set. */
static bool gn_check(genc_ctx *ctx, const genc_tensor *x, int groups, const genc_tensor *w, const genc_tensor *b) {
    char s1[64], s2[64];
    if (x->ndim < 2) {
        genc_error(ctx, GENC_EINVAL, "group_norm: expected input [N, C, ...], found %s", genc_shape_str(x, s1, 64));
        return false;
    }
    int64_t C = x->shape[1];
    if (groups < 1 || C % groups) {
        genc_error(ctx, GENC_EINVAL, "group_norm: %d groups do not divide the %lld channels of %s", groups,
                   (long long)C, genc_shape_str(x, s1, 64));
        return false;
    }
    const genc_tensor *bad = w && (w->ndim != 1 || w->shape[0] != C) ? w : b && (b->ndim != 1 || b->shape[0] != C) ? b : NULL;
    if (bad) {
        genc_error(ctx, GENC_EINVAL, "group_norm: input %s needs weight and bias [%lld], found %s",
                   genc_shape_str(x, s1, 64), (long long)C, genc_shape_str(bad, s2, 64));
        return false;
    }
    return true;
}

static genc_tensor *group_norm(genc_ctx *ctx, genc_tensor *x, int groups, genc_tensor *w, genc_tensor *b, double eps,
                               bool silu) {
    if (!x || !gn_check(ctx, x, groups, w, b)) return NULL;
    x = genc_contiguous(ctx, x);
    if (w) w = genc_contiguous(ctx, w);
    if (b) b = genc_contiguous(ctx, b);
    gn_plan *p = genc_arena_alloc(ctx, sizeof *p);
    if (!x || !p || genc_ctx_status(ctx)) return NULL;
    *p = (gn_plan){.N = x->shape[0], .C = x->shape[1], .G = groups};
    p->HW = genc_numel(x) / (p->N * p->C), p->Cg = p->C / groups;
    int64_t blocks = p->N * p->G, S = p->Cg * p->HW;
    p->mu = genc_arena_alloc(ctx, (size_t)(2 * blocks) * sizeof(genc_real));
    genc_tensor *y = p->mu ? genc_tensor_empty(ctx, x->ndim, x->shape) : NULL;
    if (!y) return NULL;
    p->r = p->mu + blocks;
#pragma omp parallel for if (blocks * S > GENC_PAR_MIN) schedule(static)
    for (int64_t k = 0; k < blocks; k++) {
        group_stats(x->data + k * S, S, eps, &p->mu[k], &p->r[k]);
        group_apply(p, x->data + k * S, w ? w->data : NULL, b ? b->data : NULL, (k % p->G) * p->Cg, p->mu[k],
                    p->r[k], silu, y->data + k * S);
    }
    genc_tensor *in[3] = {x, NULL, NULL};
    int n_in = 1;
    if (w) in[n_in++] = w;
    if (b) in[n_in++] = b;
    genc_node *n = genc_record(ctx, silu ? "group_norm_silu" : "group_norm", group_norm_backward, y, n_in, in);
    if (n) n->saved = p, n->iarg[0] = w != NULL, n->iarg[1] = b != NULL, n->iarg[2] = silu;
    return genc_ctx_status(ctx) ? NULL : y;
}

genc_tensor *genc_group_norm(genc_ctx *ctx, genc_tensor *x, int groups, genc_tensor *w, genc_tensor *b, double eps) {
    return group_norm(ctx, x, groups, w, b, eps, false);
}

genc_tensor *genc_group_norm_silu(genc_ctx *ctx, genc_tensor *x, int groups, genc_tensor *w, genc_tensor *b,
                                  double eps) {
    return group_norm(ctx, x, groups, w, b, eps, true);
}
