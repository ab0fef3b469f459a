/* Softmax, log-softmax and the fused cross-entropy loss, all over the last axis and all
 * max-subtracted, so logits of any size stay finite. Rows run in parallel. */
#include "genc/genc.h"
#include "ops/fastexp.h"

#include <string.h>
#include <tgmath.h>

static genc_real row_max(const genc_real *x, int64_t V) {
    genc_real m = x[0];
#pragma omp simd reduction(max : m)
    for (int64_t j = 1; j < V; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* log sum_j e^x_j = m + log sum_j e^(x_j - m), m = max_j x_j. */
genc_real genc_row_logsumexp(const genc_real *x, int64_t V) {
    genc_real m = row_max(x, V), s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < V; j++) s += fastexp(x[j] - m);
    return m + log(s);
}

/* Flattened [rows, V] view of a tensor's last axis. */
static int64_t last_dim(const genc_tensor *t) { return t->shape[t->ndim - 1]; }

/* ---- softmax: y_j = e^(x_j - m) / sum_k e^(x_k - m); dx_j = y_j (g_j - sum_k g_k y_k) ---- */

static void softmax_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *gx = genc_grad(ctx, n->in[0]);
    if (!gx) return;
    const genc_real *y = n->out->data, *g = n->out->grad;
    int64_t V = last_dim(n->out), rows = genc_numel(n->out) / V;
#pragma omp parallel for if (rows * V > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const genc_real *yr = y + r * V, *gr = g + r * V;
        genc_real dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < V; j++) dot += gr[j] * yr[j];
        genc_real *dx = gx + r * V;
        for (int64_t j = 0; j < V; j++) dx[j] += yr[j] * (gr[j] - dot);
    }
}

genc_tensor *genc_softmax(genc_ctx *ctx, genc_tensor *a) {
    a = genc_contiguous(ctx, a);
    genc_tensor *y = a ? genc_tensor_empty(ctx, a->ndim, a->shape) : NULL;
    if (!y) return NULL;
    int64_t V = last_dim(a), rows = genc_numel(a) / V;
#pragma omp parallel for if (rows * V > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const genc_real *x = a->data + r * V;
        genc_real *yr = y->data + r * V, m = row_max(x, V), s = 0;
        for (int64_t j = 0; j < V; j++) yr[j] = fastexp(x[j] - m);
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < V; j++) s += yr[j];
        genc_real inv = 1 / s;
        for (int64_t j = 0; j < V; j++) yr[j] *= inv;
    }
    genc_record(ctx, "softmax", softmax_backward, y, 1, &a);
    return genc_ctx_status(ctx) ? NULL : y;
}

/* ---- log-softmax: y_j = x_j - logsumexp(x); dx_j = g_j - e^(y_j) sum_k g_k ---- */

static void log_softmax_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *gx = genc_grad(ctx, n->in[0]);
    if (!gx) return;
    const genc_real *y = n->out->data, *g = n->out->grad;
    int64_t V = last_dim(n->out), rows = genc_numel(n->out) / V;
#pragma omp parallel for if (rows * V > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const genc_real *yr = y + r * V, *gr = g + r * V;
        genc_real gs = 0;
#pragma omp simd reduction(+ : gs)
        for (int64_t j = 0; j < V; j++) gs += gr[j];
        genc_real *dx = gx + r * V;
        for (int64_t j = 0; j < V; j++) dx[j] += gr[j] - fastexp(yr[j]) * gs;
    }
}

genc_tensor *genc_log_softmax(genc_ctx *ctx, genc_tensor *a) {
    a = genc_contiguous(ctx, a);
    genc_tensor *y = a ? genc_tensor_empty(ctx, a->ndim, a->shape) : NULL;
    if (!y) return NULL;
    int64_t V = last_dim(a), rows = genc_numel(a) / V;
#pragma omp parallel for if (rows * V > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const genc_real *x = a->data + r * V;
        genc_real *yr = y->data + r * V, lse = genc_row_logsumexp(x, V);
        for (int64_t j = 0; j < V; j++) yr[j] = x[j] - lse;
    }
    genc_record(ctx, "log_softmax", log_softmax_backward, y, 1, &a);
    return genc_ctx_status(ctx) ? NULL : y;
}

/* ---- cross-entropy ----
 * Row r with target t_r counts unless t_r == ignore_index; with C counted rows,
 * L = (1/C) sum_r (logsumexp(x_r) - x_r[t_r]) (0 when C = 0), and
 * dx_r = (softmax(x_r) - onehot(t_r)) * dL / C for counted rows, 0 for the others.
 * When this is the logits' first gradient (genc_grad_fresh), the backward writes it in one
 * pass instead of zero-filling a buffer and adding into it (same values, bit for bit). */

typedef struct {
    int32_t *targets; /* copied into the arena: the caller's buffer may not outlive the step */
    genc_real *lse;   /* per row */
} ce_saved;

static void cross_entropy_backward(genc_ctx *ctx, genc_node *n) {
    const ce_saved *sv = n->saved;
    int64_t N = n->iarg[0], V = n->iarg[1], count = n->iarg[2];
    int32_t ignore = (int32_t)n->iarg[3];
    bool fresh;
    genc_real *gx = genc_grad_fresh(ctx, n->in[0], &fresh);
    if (!gx) return;
    if (count == 0) {
        if (fresh) memset(gx, 0, (size_t)(N * V) * sizeof *gx);
        return;
    }
    const genc_real *x = n->in[0]->data, d = n->out->grad[0] / (genc_real)count;
#pragma omp parallel for if (N * V > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < N; r++) {
        const genc_real *xr = x + r * V, lse = sv->lse[r];
        genc_real *dx = gx + r * V;
        if (sv->targets[r] == ignore) {
            if (fresh) memset(dx, 0, (size_t)V * sizeof *dx);
            continue;
        }
        if (fresh) {
#pragma omp simd
            for (int64_t j = 0; j < V; j++) dx[j] = d * fastexp(xr[j] - lse);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < V; j++) dx[j] += d * fastexp(xr[j] - lse);
        }
        dx[sv->targets[r]] -= d;
    }
}

/* Copy the targets and check them; the row count or -1 (error set). */
static int64_t ce_targets(genc_ctx *ctx, int32_t *dst, const int32_t *t, int64_t N, int64_t V, int32_t ignore) {
    int64_t count = 0;
    for (int64_t r = 0; r < N; r++) {
        dst[r] = t[r];
        if (t[r] == ignore) continue;
        if (t[r] < 0 || t[r] >= V) {
            genc_error(ctx, GENC_EINVAL, "cross_entropy: row %lld has target %d, outside [0, %lld) (ignore_index %d)",
                       (long long)r, (int)t[r], (long long)V, (int)ignore);
            return -1;
        }
        count++;
    }
    return count;
}

genc_tensor *genc_cross_entropy(genc_ctx *ctx, genc_tensor *logits, const int32_t *targets, int32_t ignore_index) {
    if (!logits) return NULL;
    if (!targets) {
        genc_error(ctx, GENC_EINVAL, "cross_entropy: no targets");
        return NULL;
    }
    genc_tensor *a = genc_contiguous(ctx, logits);
    int64_t one = 1, V = a ? last_dim(a) : 1, N = a ? genc_numel(a) / V : 0;
    ce_saved *sv = a ? genc_arena_calloc(ctx, sizeof *sv) : NULL;
    if (sv) sv->targets = genc_arena_alloc(ctx, (size_t)N * sizeof(int32_t));
    if (sv && sv->targets) sv->lse = genc_arena_alloc(ctx, (size_t)N * sizeof(genc_real));
    genc_tensor *y = sv && sv->lse ? genc_tensor_empty(ctx, 1, &one) : NULL;
    if (!y) return NULL;
    int64_t count = ce_targets(ctx, sv->targets, targets, N, V, ignore_index);
    if (count < 0) return NULL;
    double loss = 0;
#pragma omp parallel for reduction(+ : loss) if (N * V > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < N; r++) {
        const genc_real *x = a->data + r * V;
        sv->lse[r] = genc_row_logsumexp(x, V);
        if (sv->targets[r] != ignore_index) loss += (double)(sv->lse[r] - x[sv->targets[r]]);
    }
    y->data[0] = count ? (genc_real)(loss / (double)count) : 0;
    genc_node *n = genc_record(ctx, "cross_entropy", cross_entropy_backward, y, 1, &a);
    if (n) n->saved = sv, n->iarg[0] = N, n->iarg[1] = V, n->iarg[2] = count, n->iarg[3] = ignore_index;
    return genc_ctx_status(ctx) ? NULL : y;
}
