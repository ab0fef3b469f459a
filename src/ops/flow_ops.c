/* Flow-specific ops: the 2x2 space-to-channel squeeze of RealNVP/Glow (Dinh et al. 2017,
 * sec. 3.6; Kingma and Dhariwal 2018, sec. 3) and its inverse.
 *
 *   squeeze:   x [N, C, H, W] -> y [N, 4C, H/2, W/2],  y[n, 4c + 2i + j, oy, ox] = x[n, c, 2oy + i, 2ox + j]
 *   unsqueeze: the inverse map, y -> x.
 *
 * The channel order (c, i, j) is openai/glow's squeeze2d (reshape [.., H/2, 2, W/2, 2, C],
 * move the two 2s after C), written for NCHW. Both maps are permutations of the elements, so
 * each one's backward is the other applied to the output gradient (and its log-det is 0). */
#include "genc/genc.h"
#include "genc/ops.h"

/* Offsets of element (n, c, y, x) of the unsqueezed tensor and of its squeezed position. */
static void squeeze_index(int64_t C, int64_t H, int64_t W, int64_t n, int64_t c, int64_t y, int64_t x, int64_t *big,
                          int64_t *small) {
    int64_t Ho = H / 2, Wo = W / 2, cs = 4 * c + 2 * (y % 2) + x % 2;
    *big = ((n * C + c) * H + y) * W + x;
    *small = ((n * 4 * C + cs) * Ho + y / 2) * Wo + x / 2;
}

/* to_small: dst (squeezed) = src (unsqueezed) permuted, or the reverse; accumulate adds. */
static void squeeze_move(const int64_t *big_shape, const genc_real *src, genc_real *dst, bool to_small,
                         bool accumulate) {
    int64_t N = big_shape[0], C = big_shape[1], H = big_shape[2], W = big_shape[3];
#pragma omp parallel for if (N * C * H * W > GENC_PAR_MIN) schedule(static)
    for (int64_t nc = 0; nc < N * C; nc++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                int64_t b, s;
                squeeze_index(C, H, W, nc / C, nc % C, y, x, &b, &s);
                int64_t from = to_small ? b : s, to = to_small ? s : b;
                dst[to] = accumulate ? dst[to] + src[from] : src[from];
            }
}

static void squeeze_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *gx = genc_grad(ctx, n->in[0]);
    if (gx) squeeze_move(n->in[0]->shape, n->out->grad, gx, false, true);
}

static void unsqueeze_backward(genc_ctx *ctx, genc_node *n) {
    genc_real *gx = genc_grad(ctx, n->in[0]);
    if (gx) squeeze_move(n->out->shape, n->out->grad, gx, true, true);
}

genc_tensor *genc_squeeze2x2(genc_ctx *ctx, genc_tensor *x) {
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[2] % 2 || x->shape[3] % 2) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "squeeze2x2: expected [N, C, H, W] with even H and W, found %s",
                   genc_shape_str(x, b, 64));
        return NULL;
    }
    x = genc_contiguous(ctx, x);
    if (!x) return NULL;
    int64_t shape[4] = {x->shape[0], 4 * x->shape[1], x->shape[2] / 2, x->shape[3] / 2};
    genc_tensor *y = genc_tensor_empty(ctx, 4, shape);
    if (!y) return NULL;
    squeeze_move(x->shape, x->data, y->data, true, false);
    genc_record(ctx, "squeeze2x2", squeeze_backward, y, 1, &x);
    return genc_ctx_status(ctx) ? NULL : y;
}

genc_tensor *genc_unsqueeze2x2(genc_ctx *ctx, genc_tensor *y) {
    if (!y) return NULL;
    if (y->ndim != 4 || y->shape[1] % 4) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "unsqueeze2x2: expected [N, 4C, H, W], found %s", genc_shape_str(y, b, 64));
        return NULL;
    }
    y = genc_contiguous(ctx, y);
    if (!y) return NULL;
    int64_t shape[4] = {y->shape[0], y->shape[1] / 4, y->shape[2] * 2, y->shape[3] * 2};
    genc_tensor *x = genc_tensor_empty(ctx, 4, shape);
    if (!x) return NULL;
    squeeze_move(shape, y->data, x->data, false, false);
    genc_record(ctx, "unsqueeze2x2", unsqueeze_backward, x, 1, &y);
    return genc_ctx_status(ctx) ? NULL : x;
}
