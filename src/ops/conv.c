/* Convolution and pooling in NCHW layout: conv2d by im2col + GEMM, and 2x2 max / average
 * pooling with stride 2.
 *
 * conv2d (im2col; Chellapilla, Puri and Simard 2006). For one image x [Cin, H, W], unfold
 *     col[(c kh + i) kw + j, oy Wo + ox] = x[c, oy s + i - pad, ox s + j - pad]   (0 outside)
 * into a [K = Cin kh kw, P = Ho Wo] matrix; with W viewed as [Cout, K] the convolution is
 *     y[co, p] = sum_k W[co, k] col[k, p] + b[co]          (one GEMM: y = W col)
 * and backward is dW += dy col^T, db += sum_p dy, dcol = W^T dy, dx = col2im(dcol), where
 * col2im adds each dcol element back to the x position im2col read it from.
 *
 * Batching: an OpenMP loop over the images, each thread unfolding into its own arena col
 * buffer and calling a single-threaded GEMM per image (OpenBLAS runs serially inside a
 * parallel region). Measured against one whole-batch GEMM (im2col of the batch into
 * [K, N P], GEMM, transpose back to NCHW) on the Fashion-MNIST convnet (batch 128, conv
 * 1->32 5x5 on 28x28 and 32->64 5x5 on 14x14, 2 threads, forward + backward): 198 vs 426 ms
 * at best on a busy machine. The whole-batch GEMM won only on the 1-channel layer (K = 25),
 * in some runs, and it needs a col buffer for the whole batch (80 MB here) where this needs
 * one per thread. The weight gradient goes into per-thread partial sums, reduced in thread
 * order, so it is deterministic for a given thread count. A batch of one image runs the
 * loop serially with a threaded GEMM instead.
 *
 * Stride 1 skips the unfolded matrix ("shifted GEMMs"). With the image padded to
 * xp [C, Hp, Wp] (Hp = H + 2 pad, Wp = W + 2 pad) and the output computed on a wide grid
 * yw [Co, Ho, Wp] whose last Wp - Wo columns are dropped,
 *     yw[:, q] = sum_{i,j} W_ij xp[:, q + i Wp + j]           (W_ij = W[:, :, i, j], [Co, C])
 * is kh kw GEMMs whose B operand is xp shifted by i Wp + j with leading dimension Hp Wp. A
 * dropped column may read up to kw - 1 reals past its plane (the next plane, or kw spare
 * zeros after the last). Backward, with dyw the output gradient on the wide grid (zeros in
 * the dropped columns): dxp[:, q + i Wp + j] += W_ij^T dyw[:, q] and dW_ij += dyw xp_ij^T.
 * At 28x28 with 32-64 channels the unfolded matrix (9 C 784 reals an image) falls out of
 * cache and building it cost about as much as the product (bench/README.md). */
#include "genc/genc.h"

#include <omp.h>
#include <string.h>

typedef struct {
    int64_t N, C, H, W;    /* input */
    int64_t Co, kh, kw;    /* weight */
    int64_t Ho, Wo, s, pad;
    int64_t K, P;          /* col matrix: K = C kh kw rows, P = Ho Wo columns */
    bool identity;         /* 1x1, stride 1, no padding: col is the image itself */
    bool shifted;          /* stride 1 otherwise: shifted GEMMs on the padded image */
    int64_t Hp, Wp, xpsz;  /* shifted: padded image, and its buffer (C Hp Wp + kw reals) */
} conv_geom;

/* Output columns [lo, hi) whose input column ox s + j - pad lies inside [0, W). */
static void col_range(const conv_geom *g, int64_t j, int64_t *lo, int64_t *hi) {
    int64_t first = g->pad - j, last = g->W - 1 + g->pad - j;
    *lo = first <= 0 ? 0 : (first + g->s - 1) / g->s;
    *hi = last < 0 ? 0 : last / g->s + 1;
    if (*hi > g->Wo) *hi = g->Wo;
    if (*lo > *hi) *lo = *hi;
}

/* col [K, P] = unfold(x) for one image x [C, H, W]. */
static void im2col(const conv_geom *g, const genc_real *x, genc_real *col) {
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++) {
                genc_real *row = col + ((c * g->kh + i) * g->kw + j) * g->P;
                int64_t lo, hi;
                col_range(g, j, &lo, &hi);
                for (int64_t oy = 0; oy < g->Ho; oy++) {
                    genc_real *r = row + oy * g->Wo;
                    int64_t iy = oy * g->s + i - g->pad, ox = 0;
                    if (iy < 0 || iy >= g->H) {
                        memset(r, 0, (size_t)g->Wo * sizeof *r);
                        continue;
                    }
                    const genc_real *xr = x + (c * g->H + iy) * g->W + j - g->pad;
                    for (; ox < lo; ox++) r[ox] = 0;
                    for (; ox < hi; ox++) r[ox] = xr[ox * g->s];
                    for (; ox < g->Wo; ox++) r[ox] = 0;
                }
            }
}

/* dx [C, H, W] += fold(dcol) for one image: the adjoint of im2col. */
static void col2im(const conv_geom *g, const genc_real *dcol, genc_real *dx) {
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++) {
                const genc_real *row = dcol + ((c * g->kh + i) * g->kw + j) * g->P;
                int64_t lo, hi;
                col_range(g, j, &lo, &hi);
                for (int64_t oy = 0; oy < g->Ho; oy++) {
                    int64_t iy = oy * g->s + i - g->pad;
                    if (iy < 0 || iy >= g->H) continue;
                    const genc_real *r = row + oy * g->Wo;
                    genc_real *xr = dx + (c * g->H + iy) * g->W + j - g->pad;
                    for (int64_t ox = lo; ox < hi; ox++) xr[ox * g->s] += r[ox];
                }
            }
}

/* Parallel over images when there are several; the per-thread buffer count to match. */
static bool batch_parallel(const conv_geom *g) { return g->N > 1 && omp_get_max_threads() > 1; }
static int64_t n_buffers(const conv_geom *g) { return batch_parallel(g) ? omp_get_max_threads() : 1; }

/* y [N, Co, P] = W col(x_n) + b for every image; cols: n_buffers(g) buffers of K P. */
static void conv_forward(const conv_geom *g, const genc_real *x, const genc_real *w, const genc_real *b,
                         genc_real *y, genc_real *cols) {
    int64_t K = g->K, P = g->P, Co = g->Co, xsz = g->C * g->H * g->W;
#pragma omp parallel for if (batch_parallel(g)) schedule(static)
    for (int64_t n = 0; n < g->N; n++) {
        const genc_real *col = x + n * xsz;
        if (!g->identity) {
            genc_real *buf = cols + omp_get_thread_num() * K * P;
            im2col(g, x + n * xsz, buf);
            col = buf;
        }
        genc_real *yn = y + n * Co * P;
        if (b)
            for (int64_t co = 0; co < Co; co++)
                for (int64_t p = 0; p < P; p++) yn[co * P + p] = b[co];
        genc_gemm(false, false, Co, P, K, 1, w, K, col, P, b ? 1 : 0, yn, P);
    }
}

/* db[co] += sum over images and positions of dy. */
static void conv_bias_backward(const conv_geom *g, const genc_real *dy, genc_real *db) {
#pragma omp parallel for if (g->N * g->Co * g->P > GENC_PAR_MIN) schedule(static)
    for (int64_t co = 0; co < g->Co; co++) {
        genc_real s = 0;
        for (int64_t n = 0; n < g->N; n++) {
            const genc_real *d = dy + (n * g->Co + co) * g->P;
            for (int64_t p = 0; p < g->P; p++) s += d[p];
        }
        db[co] += s;
    }
}

/* dw_part[t] += sum of dy_n col_n^T over thread t's images; dx_n += col2im(W^T dy_n).
 * dw_part and dx may be NULL (no gradient wanted); cols holds 2 K P reals per buffer. */
static void conv_data_backward(const conv_geom *g, const genc_real *x, const genc_real *w, const genc_real *dy,
                               genc_real *dx, genc_real *dw_part, genc_real *cols) {
    int64_t K = g->K, P = g->P, Co = g->Co, xsz = g->C * g->H * g->W;
#pragma omp parallel for if (batch_parallel(g)) schedule(static)
    for (int64_t n = 0; n < g->N; n++) {
        int t = omp_get_thread_num();
        genc_real *col = cols + 2 * t * K * P, *dcol = col + K * P;
        const genc_real *dyn = dy + n * Co * P;
        if (dw_part) {
            const genc_real *cn = x + n * xsz;
            if (!g->identity) im2col(g, cn, col), cn = col;
            genc_gemm(false, true, Co, K, P, 1, dyn, P, cn, P, 1, dw_part + t * Co * K, K);
        }
        if (!dx) continue;
        if (g->identity) { /* dcol is dx_n itself */
            genc_gemm(true, false, K, P, Co, 1, w, K, dyn, P, 1, dx + n * xsz, P);
            continue;
        }
        genc_gemm(true, false, K, P, Co, 1, w, K, dyn, P, 0, dcol, P);
        col2im(g, dcol, dx + n * xsz);
    }
}

/* ---- stride 1: shifted GEMMs (see the top of the file) ---- */

/* Reals of per-thread scratch: the padded image, the wide output (or its gradient) and,
 * backward, the padded input gradient. */
static int64_t shifted_scratch(const conv_geom *g, bool backward) {
    return g->xpsz * (backward ? 2 : 1) + g->Co * g->Ho * g->Wp;
}

/* xp = x_n zero-padded, [C, Hp, Wp] plus kw spare zeros. */
static void pad_image(const conv_geom *g, const genc_real *xn, genc_real *xp) {
    memset(xp, 0, (size_t)g->xpsz * sizeof *xp);
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t iy = 0; iy < g->H; iy++)
            memcpy(xp + (c * g->Hp + iy + g->pad) * g->Wp + g->pad, xn + (c * g->H + iy) * g->W,
                   (size_t)g->W * sizeof *xp);
}

/* wt[tap][co][c] = w[co][c][tap] (tap = i kw + j): each W_ij a contiguous [Co, C] matrix. */
static void weights_by_tap(const conv_geom *g, const genc_real *w, genc_real *wt) {
    int64_t taps = g->kh * g->kw;
    for (int64_t co = 0; co < g->Co; co++)
        for (int64_t c = 0; c < g->C; c++)
            for (int64_t t = 0; t < taps; t++) wt[(t * g->Co + co) * g->C + c] = w[(co * g->C + c) * taps + t];
}

static int64_t tap_shift(const conv_geom *g, int64_t t) { return t / g->kw * g->Wp + t % g->kw; }

static void shifted_forward(const conv_geom *g, const genc_real *x, const genc_real *wt, const genc_real *b,
                            genc_real *y, genc_real *scratch) {
    int64_t Q = g->Ho * g->Wp, P = g->P, Co = g->Co, C = g->C, xsz = C * g->H * g->W;
#pragma omp parallel for if (batch_parallel(g)) schedule(static)
    for (int64_t n = 0; n < g->N; n++) {
        genc_real *xp = scratch + omp_get_thread_num() * shifted_scratch(g, false), *yw = xp + g->xpsz;
        pad_image(g, x + n * xsz, xp);
        for (int64_t t = 0; t < g->kh * g->kw; t++)
            genc_gemm(false, false, Co, Q, C, 1, wt + t * Co * C, C, xp + tap_shift(g, t), g->Hp * g->Wp, t ? 1 : 0,
                      yw, Q);
        genc_real *yn = y + n * Co * P;
        for (int64_t co = 0; co < Co; co++)
            for (int64_t oy = 0; oy < g->Ho; oy++)
                for (int64_t ox = 0; ox < g->Wo; ox++)
                    yn[(co * g->Ho + oy) * g->Wo + ox] = yw[co * Q + oy * g->Wp + ox] + (b ? b[co] : 0);
    }
}

/* dwt_part[t] (tap layout) += dyw xp_ij^T over thread t's images; dx_n += crop(dxp). */
static void shifted_backward(const conv_geom *g, const genc_real *x, const genc_real *wt, const genc_real *dy,
                             genc_real *dx, genc_real *dwt_part, genc_real *scratch) {
    int64_t Q = g->Ho * g->Wp, Co = g->Co, C = g->C, xsz = C * g->H * g->W, taps = g->kh * g->kw;
#pragma omp parallel for if (batch_parallel(g)) schedule(static)
    for (int64_t n = 0; n < g->N; n++) {
        int th = omp_get_thread_num();
        genc_real *xp = scratch + th * shifted_scratch(g, true), *dxp = xp + g->xpsz, *dyw = dxp + g->xpsz;
        const genc_real *dyn = dy + n * Co * g->P;
        for (int64_t co = 0; co < Co; co++)
            for (int64_t oy = 0; oy < g->Ho; oy++)
                for (int64_t ox = 0; ox < g->Wp; ox++)
                    dyw[co * Q + oy * g->Wp + ox] = ox < g->Wo ? dyn[(co * g->Ho + oy) * g->Wo + ox] : 0;
        if (dwt_part) {
            pad_image(g, x + n * xsz, xp);
            for (int64_t t = 0; t < taps; t++)
                genc_gemm(false, true, Co, C, Q, 1, dyw, Q, xp + tap_shift(g, t), g->Hp * g->Wp, 1,
                          dwt_part + (th * taps + t) * Co * C, C);
        }
        if (!dx) continue;
        memset(dxp, 0, (size_t)g->xpsz * sizeof *dxp);
        for (int64_t t = 0; t < taps; t++)
            genc_gemm(true, false, C, Q, Co, 1, wt + t * Co * C, C, dyw, Q, 1, dxp + tap_shift(g, t), g->Hp * g->Wp);
        genc_real *dxn = dx + n * xsz;
        for (int64_t c = 0; c < C; c++)
            for (int64_t iy = 0; iy < g->H; iy++)
                for (int64_t ix = 0; ix < g->W; ix++)
                    dxn[(c * g->H + iy) * g->W + ix] += dxp[(c * g->Hp + iy + g->pad) * g->Wp + ix + g->pad];
    }
}

/* The stride-1 backward: weights by tap, per-thread tap-layout partial dW reduced in thread
 * order into dw's [Co, C, kh, kw] layout. */
static void shifted_conv_backward(genc_ctx *ctx, const conv_geom *g, const genc_real *x, const genc_real *w,
                                  const genc_real *dy, genc_real *dx, genc_real *dw) {
    int64_t T = n_buffers(g), taps = g->kh * g->kw, CoK = g->Co * g->K;
    genc_real *wt = genc_arena_alloc(ctx, (size_t)CoK * sizeof(genc_real));
    genc_real *scratch = genc_arena_alloc(ctx, (size_t)(T * shifted_scratch(g, true)) * sizeof(genc_real));
    genc_real *part = dw ? genc_arena_calloc(ctx, (size_t)(T * CoK) * sizeof(genc_real)) : NULL;
    if (!wt || !scratch || (dw && !part)) return;
    weights_by_tap(g, w, wt);
    shifted_backward(g, x, wt, dy, dx, part, scratch);
    if (!dw) return;
    for (int64_t t = 0; t < T; t++) /* reduce in thread order: deterministic */
        for (int64_t k = 0; k < taps; k++)
            for (int64_t co = 0; co < g->Co; co++)
                for (int64_t c = 0; c < g->C; c++)
                    dw[(co * g->C + c) * taps + k] += part[((t * taps + k) * g->Co + co) * g->C + c];
}

static void conv_backward(genc_ctx *ctx, genc_node *nd) {
    genc_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->n_in > 2 ? nd->in[2] : NULL;
    const conv_geom *g = nd->saved;
    const genc_real *dy = nd->out->grad;
    if (b && b->requires_grad) {
        genc_real *db = genc_grad(ctx, b);
        if (!db) return;
        conv_bias_backward(g, dy, db);
    }
    genc_real *dx = x->requires_grad ? genc_grad(ctx, x) : NULL;
    genc_real *dw = w->requires_grad ? genc_grad(ctx, w) : NULL;
    if ((x->requires_grad && !dx) || (w->requires_grad && !dw) || (!dx && !dw)) return;
    if (g->shifted) {
        shifted_conv_backward(ctx, g, x->data, w->data, dy, dx, dw);
        return;
    }
    int64_t T = n_buffers(g), CoK = g->Co * g->K;
    genc_real *cols = genc_arena_alloc(ctx, (size_t)(2 * T * g->K * g->P) * sizeof(genc_real));
    genc_real *part = dw && T > 1 ? genc_arena_calloc(ctx, (size_t)(T * CoK) * sizeof(genc_real)) : dw;
    if (!cols || (dw && !part)) return;
    conv_data_backward(g, x->data, w->data, dy, dx, part, cols);
    if (part == dw) return;
    for (int64_t t = 0; t < T; t++) /* reduce in thread order: deterministic */
        for (int64_t i = 0; i < CoK; i++) dw[i] += part[t * CoK + i];
}

/* Check shapes and fill the geometry; false with the error set. */
static bool conv_plan(genc_ctx *ctx, const genc_tensor *x, const genc_tensor *w, const genc_tensor *b, int stride,
                      int pad, conv_geom *g) {
    char s1[64], s2[64];
    if (x->ndim != 4 || w->ndim != 4 || w->shape[1] != x->shape[1] ||
        (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))) {
        genc_error(ctx, GENC_EINVAL, "conv2d: input %s does not fit weight %s [Cout, Cin, kh, kw]%s",
                   genc_shape_str(x, s1, 64), genc_shape_str(w, s2, 64), b ? " and its bias [Cout]" : "");
        return false;
    }
    if (stride < 1 || pad < 0) {
        genc_error(ctx, GENC_EINVAL, "conv2d: stride %d and padding %d (expected stride >= 1, padding >= 0)",
                   stride, pad);
        return false;
    }
    *g = (conv_geom){.N = x->shape[0], .C = x->shape[1], .H = x->shape[2], .W = x->shape[3], .Co = w->shape[0],
                     .kh = w->shape[2], .kw = w->shape[3], .s = stride, .pad = pad};
    if (g->H + 2 * pad < g->kh || g->W + 2 * pad < g->kw) {
        genc_error(ctx, GENC_EINVAL, "conv2d: kernel %lldx%lld is larger than the padded input %lldx%lld "
                   "(input %s, padding %d)", (long long)g->kh, (long long)g->kw, (long long)(g->H + 2 * pad),
                   (long long)(g->W + 2 * pad), genc_shape_str(x, s1, 64), pad);
        return false;
    }
    g->Ho = (g->H + 2 * pad - g->kh) / stride + 1, g->Wo = (g->W + 2 * pad - g->kw) / stride + 1;
    g->K = g->C * g->kh * g->kw, g->P = g->Ho * g->Wo;
    g->identity = g->kh == 1 && g->kw == 1 && stride == 1 && pad == 0;
    g->shifted = stride == 1 && !g->identity;
    g->Hp = g->H + 2 * pad, g->Wp = g->W + 2 * pad, g->xpsz = g->C * g->Hp * g->Wp + g->kw;
    return true;
}

genc_tensor *genc_conv2d(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, genc_tensor *bias, int stride, int pad) {
    if (!x || !w) return NULL;
    conv_geom *g = genc_arena_alloc(ctx, sizeof *g);
    if (!g || !conv_plan(ctx, x, w, bias, stride, pad, g)) return NULL;
    x = genc_contiguous(ctx, x), w = genc_contiguous(ctx, w);
    if (bias) bias = genc_contiguous(ctx, bias);
    if (!x || !w || genc_ctx_status(ctx)) return NULL;
    int64_t oshape[4] = {g->N, g->Co, g->Ho, g->Wo};
    genc_tensor *y = genc_tensor_empty(ctx, 4, oshape);
    if (!y) return NULL;
    if (g->shifted) {
        genc_real *wt = genc_arena_alloc(ctx, (size_t)(g->Co * g->K) * sizeof(genc_real));
        genc_real *scratch = genc_arena_alloc(ctx, (size_t)(n_buffers(g) * shifted_scratch(g, false)) * sizeof(genc_real));
        if (!wt || !scratch) return NULL;
        weights_by_tap(g, w->data, wt);
        shifted_forward(g, x->data, wt, bias ? bias->data : NULL, y->data, scratch);
    } else {
        size_t col_bytes = (size_t)(n_buffers(g) * g->K * g->P) * sizeof(genc_real);
        genc_real *cols = g->identity ? NULL : genc_arena_alloc(ctx, col_bytes);
        if (!g->identity && !cols) return NULL;
        conv_forward(g, x->data, w->data, bias ? bias->data : NULL, y->data, cols);
    }
    genc_tensor *in[3] = {x, w, bias};
    genc_node *n = genc_record(ctx, "conv2d", conv_backward, y, bias ? 3 : 2, in);
    if (n) n->saved = g;
    return genc_ctx_status(ctx) ? NULL : y;
}

/* ---- 2x2 pooling, stride 2 ---- */

/* x must be [N, C, H, W] with H and W even; returns the contiguous input and the output. */
static genc_tensor *pool_setup(genc_ctx *ctx, const char *op, genc_tensor **x) {
    genc_tensor *a = *x;
    if (a->ndim != 4 || a->shape[2] % 2 || a->shape[3] % 2) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "%s: expected [N, C, H, W] with even H and W, found %s", op,
                   genc_shape_str(a, b, 64));
        return NULL;
    }
    *x = a = genc_contiguous(ctx, a);
    if (!a) return NULL;
    int64_t oshape[4] = {a->shape[0], a->shape[1], a->shape[2] / 2, a->shape[3] / 2};
    return genc_tensor_empty(ctx, 4, oshape);
}

/* Offset, in x, of window element k (0..3: row-major in the window) of output (oy, ox). */
static int64_t win_at(int64_t W, int64_t oy, int64_t ox, int k) { return (2 * oy + k / 2) * W + 2 * ox + k % 2; }

static void maxpool_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *x = n->in[0];
    genc_real *gx = genc_grad(ctx, x);
    if (!gx) return;
    const uint8_t *arg = n->saved;
    const genc_real *gy = n->out->grad;
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3], Ho = H / 2, Wo = W / 2;
#pragma omp parallel for if (planes * H * W > GENC_PAR_MIN) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t oy = 0; oy < Ho; oy++)
            for (int64_t ox = 0; ox < Wo; ox++) {
                int64_t o = (pl * Ho + oy) * Wo + ox;
                gx[pl * H * W + win_at(W, oy, ox, arg[o])] += gy[o];
            }
}

genc_tensor *genc_maxpool2x2(genc_ctx *ctx, genc_tensor *x) {
    if (!x) return NULL;
    genc_tensor *y = pool_setup(ctx, "maxpool2x2", &x);
    uint8_t *arg = y ? genc_arena_alloc(ctx, (size_t)genc_numel(y)) : NULL;
    if (!arg) return NULL;
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3], Ho = H / 2, Wo = W / 2;
#pragma omp parallel for if (planes * H * W > GENC_PAR_MIN) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t oy = 0; oy < Ho; oy++)
            for (int64_t ox = 0; ox < Wo; ox++) {
                const genc_real *xp = x->data + pl * H * W;
                int best = 0;
                for (int k = 1; k < 4; k++) /* strict >: ties go to the first */
                    if (xp[win_at(W, oy, ox, k)] > xp[win_at(W, oy, ox, best)]) best = k;
                int64_t o = (pl * Ho + oy) * Wo + ox;
                arg[o] = (uint8_t)best;
                y->data[o] = xp[win_at(W, oy, ox, best)];
            }
    genc_node *n = genc_record(ctx, "maxpool2x2", maxpool_backward, y, 1, &x);
    if (n) n->saved = arg;
    return genc_ctx_status(ctx) ? NULL : y;
}

static void avgpool_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *x = n->in[0];
    genc_real *gx = genc_grad(ctx, x);
    if (!gx) return;
    const genc_real *gy = n->out->grad;
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3], Ho = H / 2, Wo = W / 2;
#pragma omp parallel for if (planes * H * W > GENC_PAR_MIN) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t oy = 0; oy < Ho; oy++)
            for (int64_t ox = 0; ox < Wo; ox++) {
                genc_real g = gy[(pl * Ho + oy) * Wo + ox] * (genc_real)0.25;
                for (int k = 0; k < 4; k++) gx[pl * H * W + win_at(W, oy, ox, k)] += g;
            }
}

genc_tensor *genc_avgpool2x2(genc_ctx *ctx, genc_tensor *x) {
    if (!x) return NULL;
    genc_tensor *y = pool_setup(ctx, "avgpool2x2", &x);
    if (!y) return NULL;
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3], Ho = H / 2, Wo = W / 2;
#pragma omp parallel for if (planes * H * W > GENC_PAR_MIN) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t oy = 0; oy < Ho; oy++)
            for (int64_t ox = 0; ox < Wo; ox++) {
                const genc_real *xp = x->data + pl * H * W;
                genc_real s = 0;
                for (int k = 0; k < 4; k++) s += xp[win_at(W, oy, ox, k)];
                y->data[(pl * Ho + oy) * Wo + ox] = s * (genc_real)0.25;
            }
    genc_record(ctx, "avgpool2x2", avgpool_backward, y, 1, &x);
    return genc_ctx_status(ctx) ? NULL : y;
}
