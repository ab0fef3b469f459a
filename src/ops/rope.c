/* Rotary position embedding (RoFormer; DeepSeek-V3's decoupled RoPE key and query): each
 * interleaved pair (x[2i], x[2i+1]) of a head vector is rotated by an angle that grows
 * with the token's position, so q.k depends on the positions only through their
 * difference. The cos/sin table is computed once per call (in double) and saved for the
 * backward pass, which is the inverse rotation. genc_rope_freqs takes the frequencies and a
 * magnitude instead of theta (YaRN's interpolated frequencies and its cos/sin scale, Peng et
 * al. 2023, src/lm/yarn.c); the backward is then mag times the inverse rotation. */
#include "genc/genc.h"

#include <math.h>

typedef struct {
    genc_real *cs; /* [T, d/2] cos, then [T, d/2] sin */
    int64_t T, half;
} rope_table;

/* angle(t, i) = pos[t] * freq[i], for i < d/2; the table holds mag cos and mag sin. */
static bool rope_make_table(genc_ctx *ctx, rope_table *tb, const int32_t *pos, int64_t T, int64_t d,
                            const double *freq, double mag) {
    tb->T = T, tb->half = d / 2;
    tb->cs = genc_arena_alloc(ctx, (size_t)(T * d) * sizeof(genc_real));
    if (!tb->cs) return false;
    genc_real *c = tb->cs, *s = tb->cs + T * tb->half;
    for (int64_t i = 0; i < tb->half; i++) {
        for (int64_t t = 0; t < T; t++) {
            double a = (double)pos[t] * freq[i];
            c[t * tb->half + i] = (genc_real)(mag * cos(a)), s[t * tb->half + i] = (genc_real)(mag * sin(a));
        }
    }
    return true;
}

/* One head vector of d = 2 * half elements: with sgn = +1 the forward rotation
 * y[2i] = x[2i] c - x[2i+1] s, y[2i+1] = x[2i] s + x[2i+1] c (stored, acc = false);
 * with sgn = -1 the inverse rotation (the transpose), accumulated (acc = true). */
static void rotate(const genc_real *x, genc_real *y, const genc_real *c, const genc_real *s, int64_t half,
                   genc_real sgn, bool acc) {
    for (int64_t i = 0; i < half; i++) {
        genc_real x0 = x[2 * i], x1 = x[2 * i + 1], si = sgn * s[i];
        genc_real y0 = x0 * c[i] - x1 * si, y1 = x0 * si + x1 * c[i];
        if (acc)
            y[2 * i] += y0, y[2 * i + 1] += y1;
        else
            y[2 * i] = y0, y[2 * i + 1] = y1;
    }
}

/* Every (b, t, h) head vector of src [B, T, H, d] rotated into dst. */
static void rope_apply(const rope_table *tb, const genc_real *src, genc_real *dst, int64_t B, int64_t H,
                       genc_real sgn, bool acc) {
    int64_t T = tb->T, half = tb->half, d = 2 * half, rows = B * T;
    const genc_real *c = tb->cs, *s = tb->cs + T * half;
#pragma omp parallel for if (rows * H * d > GENC_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t t = r % T;
        for (int64_t h = 0; h < H; h++) {
            int64_t off = (r * H + h) * d;
            rotate(src + off, dst + off, c + t * half, s + t * half, half, sgn, acc);
        }
    }
}

/* dx += R(-angle) dy: the rotation is orthogonal, so its transpose is its inverse. */
static void rope_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *x = n->in[0];
    genc_real *gx = genc_grad(ctx, x);
    if (gx) rope_apply(n->saved, n->out->grad, gx, x->shape[0], x->shape[2], -1, true);
}

genc_tensor *genc_rope_freqs(genc_ctx *ctx, genc_tensor *x, const int32_t *pos, const double *freq, double mag) {
    if (!x) return NULL;
    char b[64];
    if (x->ndim != 4 || x->shape[3] % 2 != 0 || !pos || !freq || !isfinite(mag)) {
        genc_error(ctx, GENC_EINVAL, "rope: expected x [B, T, H, d] with d even, positions, frequencies and a finite "
                   "magnitude; found x %s, %s, %s, magnitude %g", genc_shape_str(x, b, 64),
                   pos ? "positions" : "no positions", freq ? "frequencies" : "no frequencies", mag);
        return NULL;
    }
    x = genc_contiguous(ctx, x);
    rope_table *tb = x ? genc_arena_alloc(ctx, sizeof *tb) : NULL;
    if (!tb || !rope_make_table(ctx, tb, pos, x->shape[1], x->shape[3], freq, mag)) return NULL;
    genc_tensor *y = genc_tensor_empty(ctx, 4, x->shape);
    if (!y) return NULL;
    rope_apply(tb, x->data, y->data, x->shape[0], x->shape[2], 1, false);
    genc_node *n = genc_record(ctx, "rope", rope_backward, y, 1, &x);
    if (n) n->saved = tb;
    return genc_ctx_status(ctx) ? NULL : y;
}

genc_tensor *genc_rope(genc_ctx *ctx, genc_tensor *x, const int32_t *pos, double theta) {
    if (!x) return NULL;
    char b[64];
    if (x->ndim != 4 || x->shape[3] % 2 != 0 || !pos || !(theta > 0)) {
        genc_error(ctx, GENC_EINVAL, "rope: expected x [B, T, H, d] with d even, positions and theta > 0; "
                   "found x %s, %s, theta %g", genc_shape_str(x, b, 64), pos ? "positions" : "no positions", theta);
        return NULL;
    }
    int64_t d = x->shape[3];
    double *freq = genc_arena_alloc(ctx, (size_t)(d / 2 + 1) * sizeof *freq);
    if (!freq) return NULL;
    for (int64_t i = 0; i < d / 2; i++) freq[i] = pow(theta, -(double)(2 * i) / (double)d);
    return genc_rope_freqs(ctx, x, pos, freq, 1.0);
}
