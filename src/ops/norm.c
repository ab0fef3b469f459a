/* Normalisation over the last axis: RMSNorm and LayerNorm, fused forward and backward.
 * Rows run in parallel; the weight and bias gradients (sums over rows) go through
 * per-thread partial sums in the arena, added up after the parallel loop. */
#include "genc/genc.h"

#include <omp.h>
#include <tgmath.h>

/* Checks x [..., C] against w [C] and bias [C] (or NULL); false with the error set. */
static bool check_norm(genc_ctx *ctx, const char *name, const genc_tensor *x, const genc_tensor *w,
                       const genc_tensor *bias) {
    int64_t C = x->shape[x->ndim - 1];
    bool ok = w->ndim == 1 && w->shape[0] == C && (!bias || (bias->ndim == 1 && bias->shape[0] == C));
    if (!ok) {
        char s1[64], s2[64], s3[64];
        genc_error(ctx, GENC_EINVAL, "%s: input %s needs weight%s [%lld], found weight %s%s%s", name,
                   genc_shape_str(x, s1, 64), bias ? " and bias" : "", (long long)C, genc_shape_str(w, s2, 64), bias ? ", bias " : "",
                   bias ? genc_shape_str(bias, s3, 64) : "");
    }
    return ok;
}

/* Parameter gradients are summed over rows in per-thread slices of 2C reals (weight, then
 * bias), zeroed in the arena: this many slices, one per thread of the row loop. */
static int partial_threads(int64_t work) { return work > GENC_PAR_MIN ? omp_get_max_threads() : 1; }

/* dst[j] += the slices' sums of their part at `offset` (0: weight, width: bias). */
static void add_partials(genc_real *dst, const genc_real *part, int nt, int64_t width, int64_t offset) {
    for (int t = 0; t < nt; t++)
        for (int64_t j = 0; j < width; j++) dst[j] += part[t * 2 * width + offset + j];
}

/* ---- RMSNorm: r = 1 / sqrt(mean_j x_j^2 + eps), y_j = x_j r w_j.
 * With xh_j = x_j r: dw_j += sum_rows g_j xh_j,
 * dx_j += r (g_j w_j - xh_j * (1/C) sum_k g_k w_k xh_k). */

static void rms_row_backward(const genc_real *x, const genc_real *w, const genc_real *g, genc_real r, genc_real *gx,
                             genc_real *pw, int64_t C) {
    if (pw)
        for (int64_t j = 0; j < C; j++) pw[j] += g[j] * x[j] * r;
    if (!gx) return;
    genc_real dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < C; j++) dot += g[j] * w[j] * x[j];
    dot *= r / (genc_real)C; /* (1/C) sum g w xh, with one factor r still to apply below */
    for (int64_t j = 0; j < C; j++) gx[j] += r * (g[j] * w[j] - x[j] * r * dot);
}

static void rmsnorm_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *x = n->in[0], *w = n->in[1];
    int64_t N = n->iarg[0], C = n->iarg[1];
    const genc_real *rs = n->saved, *g = n->out->grad;
    genc_real *gx = x->requires_grad ? genc_grad(ctx, x) : NULL;
    genc_real *gw = w->requires_grad ? genc_grad(ctx, w) : NULL;
    int nt = partial_threads(N * C);
    genc_real *part = gw ? genc_arena_calloc(ctx, (size_t)(nt * 2 * C) * sizeof(genc_real)) : NULL;
    if ((x->requires_grad && !gx) || (gw && !part)) return;
#pragma omp parallel if (nt > 1) num_threads(nt)
    {
        genc_real *pw = part ? part + omp_get_thread_num() * 2 * C : NULL;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < N; r++)
            rms_row_backward(x->data + r * C, w->data, g + r * C, rs[r], gx ? gx + r * C : NULL, pw, C);
    }
    if (gw) add_partials(gw, part, nt, C, 0);
}

genc_tensor *genc_rmsnorm(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, double eps) {
    if (!x || !w || !check_norm(ctx, "rmsnorm", x, w, NULL)) return NULL;
    x = genc_contiguous(ctx, x);
    w = genc_contiguous(ctx, w);
    if (!x || !w) return NULL;
    genc_tensor *y = genc_tensor_empty(ctx, x->ndim, x->shape);
    int64_t C = w->shape[0], N = genc_numel(x) / C;
    genc_real *rs = y ? genc_arena_alloc(ctx, (size_t)N * sizeof(genc_real)) : NULL;
    if (!rs) return NULL;
#pragma omp parallel for if (N * C > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < N; r++) {
        const genc_real *xr = x->data + r * C;
        genc_real *yr = y->data + r * C, ss = 0;
#pragma omp simd reduction(+ : ss)
        for (int64_t j = 0; j < C; j++) ss += xr[j] * xr[j];
        genc_real inv = 1 / sqrt(ss / (genc_real)C + (genc_real)eps);
        rs[r] = inv;
        for (int64_t j = 0; j < C; j++) yr[j] = xr[j] * inv * w->data[j];
    }
    genc_tensor *in[2] = {x, w};
    genc_node *n = genc_record(ctx, "rmsnorm", rmsnorm_backward, y, 2, in);
    if (n) n->saved = rs, n->iarg[0] = N, n->iarg[1] = C;
    return genc_ctx_status(ctx) ? NULL : y;
}

/* ---- LayerNorm: mu = mean_j x_j, var = mean_j (x_j - mu)^2 (biased), s = 1/sqrt(var + eps),
 * xh_j = (x_j - mu) s, y_j = xh_j w_j + b_j. With gw_j = g_j w_j:
 * dx_j += s (gw_j - mean_k gw_k - xh_j mean_k gw_k xh_k), dw_j += sum_rows g_j xh_j,
 * db_j += sum_rows g_j. */

static void ln_row_backward(const genc_real *x, const genc_real *w, const genc_real *g, genc_real mu, genc_real s,
                            genc_real *gx, genc_real *pwb, int64_t C) {
    if (pwb)
        for (int64_t j = 0; j < C; j++) pwb[j] += g[j] * (x[j] - mu) * s, pwb[C + j] += g[j];
    if (!gx) return;
    genc_real m1 = 0, m2 = 0;
#pragma omp simd reduction(+ : m1, m2)
    for (int64_t j = 0; j < C; j++) m1 += g[j] * w[j], m2 += g[j] * w[j] * (x[j] - mu) * s;
    m1 /= (genc_real)C, m2 /= (genc_real)C;
    for (int64_t j = 0; j < C; j++) gx[j] += s * (g[j] * w[j] - m1 - (x[j] - mu) * s * m2);
}

static void layernorm_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in > 2 ? n->in[2] : NULL;
    int64_t N = n->iarg[0], C = n->iarg[1];
    const genc_real *stats = n->saved, *g = n->out->grad; /* mean[N], then 1/std[N] */
    genc_real *gx = x->requires_grad ? genc_grad(ctx, x) : NULL;
    genc_real *gw = w->requires_grad ? genc_grad(ctx, w) : NULL;
    genc_real *gb = b && b->requires_grad ? genc_grad(ctx, b) : NULL;
    int nt = partial_threads(N * C);
    genc_real *part = gw || gb ? genc_arena_calloc(ctx, (size_t)(nt * 2 * C) * sizeof(genc_real)) : NULL;
    if ((x->requires_grad && !gx) || (w->requires_grad && !gw) || (b && b->requires_grad && !gb) ||
        ((gw || gb) && !part))
        return;
#pragma omp parallel if (nt > 1) num_threads(nt)
    {
        genc_real *pwb = part ? part + omp_get_thread_num() * 2 * C : NULL;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < N; r++)
            ln_row_backward(x->data + r * C, w->data, g + r * C, stats[r], stats[N + r], gx ? gx + r * C : NULL,
                            pwb, C);
    }
    if (gw) add_partials(gw, part, nt, C, 0);
    if (gb) add_partials(gb, part, nt, C, C);
}

static void ln_row(const genc_real *x, const genc_real *w, const genc_real *b, genc_real *y, genc_real eps,
                   genc_real *mu_out, genc_real *s_out, int64_t C) {
    genc_real mu = 0, var = 0;
#pragma omp simd reduction(+ : mu)
    for (int64_t j = 0; j < C; j++) mu += x[j];
    mu /= (genc_real)C;
#pragma omp simd reduction(+ : var)
    for (int64_t j = 0; j < C; j++) var += (x[j] - mu) * (x[j] - mu);
    genc_real s = 1 / sqrt(var / (genc_real)C + eps);
    if (b)
        for (int64_t j = 0; j < C; j++) y[j] = (x[j] - mu) * s * w[j] + b[j];
    else
        for (int64_t j = 0; j < C; j++) y[j] = (x[j] - mu) * s * w[j];
    *mu_out = mu, *s_out = s;
}

genc_tensor *genc_layernorm(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, genc_tensor *bias, double eps) {
    if (!x || !w || !check_norm(ctx, "layernorm", x, w, bias)) return NULL;
    x = genc_contiguous(ctx, x);
    w = genc_contiguous(ctx, w);
    if (!x || !w || (bias && !(bias = genc_contiguous(ctx, bias)))) return NULL;
    genc_tensor *y = genc_tensor_empty(ctx, x->ndim, x->shape);
    int64_t C = w->shape[0], N = genc_numel(x) / C;
    genc_real *stats = y ? genc_arena_alloc(ctx, (size_t)(2 * N) * sizeof(genc_real)) : NULL;
    if (!stats) return NULL;
    const genc_real *bd = bias ? bias->data : NULL;
#pragma omp parallel for if (N * C > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < N; r++)
        ln_row(x->data + r * C, w->data, bd, y->data + r * C, (genc_real)eps, &stats[r], &stats[N + r], C);
    genc_tensor *in[3] = {x, w, bias};
    genc_node *n = genc_record(ctx, "layernorm", layernorm_backward, y, bias ? 3 : 2, in);
    if (n) n->saved = stats, n->iarg[0] = N, n->iarg[1] = C;
    return genc_ctx_status(ctx) ? NULL : y;
}
