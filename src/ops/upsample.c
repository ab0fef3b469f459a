/* Nearest-neighbour 2x upsampling of NCHW tensors (the U-Net decoder's resize before its 3x3
 * convolution, as DDPM's Upsample):
 *     y[n, c, 2i + a, 2j + b] = x[n, c, i, j]      (a, b in {0, 1}),
 * and its adjoint, dx[n, c, i, j] += sum_{a, b} dy[n, c, 2i + a, 2j + b]. */
#include "genc/genc.h"

static void upsample_backward(genc_ctx *ctx, genc_node *nd) {
    genc_tensor *x = nd->in[0];
    genc_real *gx = genc_grad(ctx, x);
    if (!gx) return;
    const genc_real *gy = nd->out->grad;
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
#pragma omp parallel for if (4 * planes * H * W > GENC_PAR_MIN) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t i = 0; i < H; i++) {
            const genc_real *r0 = gy + (pl * 2 * H + 2 * i) * 2 * W, *r1 = r0 + 2 * W;
            genc_real *d = gx + (pl * H + i) * W;
            for (int64_t j = 0; j < W; j++) d[j] += r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1];
        }
}

genc_tensor *genc_upsample_nearest2x(genc_ctx *ctx, genc_tensor *x) {
    if (!x) return NULL;
    if (x->ndim != 4) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "upsample_nearest2x: expected [N, C, H, W], found %s", genc_shape_str(x, b, 64));
        return NULL;
    }
    x = genc_contiguous(ctx, x);
    if (!x) return NULL;
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    int64_t oshape[4] = {x->shape[0], x->shape[1], 2 * H, 2 * W};
    genc_tensor *y = genc_tensor_empty(ctx, 4, oshape);
    if (!y) return NULL;
#pragma omp parallel for if (4 * planes * H * W > GENC_PAR_MIN) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t i = 0; i < H; i++) {
            const genc_real *s = x->data + (pl * H + i) * W;
            genc_real *r0 = y->data + (pl * 2 * H + 2 * i) * 2 * W, *r1 = r0 + 2 * W;
            for (int64_t j = 0; j < W; j++) r0[2 * j] = r0[2 * j + 1] = r1[2 * j] = r1[2 * j + 1] = s[j];
        }
    genc_record(ctx, "upsample_nearest2x", upsample_backward, y, 1, &x);
    return genc_ctx_status(ctx) ? NULL : y;
}
