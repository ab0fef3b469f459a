/* FP8 weights in DeepSeek-V3's release layout (report section 3.3; include/genc/fp8_weights.h):
 * F8_E4M3 [out, in] plus F32 `_scale_inv` per 128x128 block, written from and read into the
 * FP32 parameters every checkpoint reader fills. */
#include "genc/fp8.h"
#include "genc/fp8_weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUFFIX "_scale_inv"

static int64_t blocks(int64_t n) { return (n + GENC_FP8_BLOCK - 1) / GENC_FP8_BLOCK; }

bool genc_fp8_scale_of(const char *name, char *base, size_t cap) {
    size_t n = strlen(name), k = strlen(SUFFIX);
    if (n <= k || strcmp(name + n - k, SUFFIX) || n - k >= cap) return false;
    memcpy(base, name, n - k);
    base[n - k] = 0;
    return true;
}

genc_status genc_fp8_weights_add(genc_ctx *ctx, genc_st_writer *w, const char *name, int64_t rows, int64_t cols,
                                 const float *x) {
    int64_t br = blocks(rows), bc = blocks(cols);
    uint8_t *codes = malloc((size_t)(rows * cols));
    float *scales = malloc((size_t)(br * bc) * sizeof(float));
    char sname[512];
    genc_status s = GENC_OK;
    if (!codes || !scales) s = genc_error(ctx, GENC_ENOMEM, "out of memory quantising \"%s\"", name);
    else if (snprintf(sname, sizeof sname, "%s%s", name, SUFFIX) >= (int)sizeof sname)
        s = genc_error(ctx, GENC_EINVAL, "tensor name \"%s\" is too long", name);
    if (!s) {
        genc_fp8_quantize(x, rows, cols, GENC_FP8_BLOCK, GENC_FP8_BLOCK, codes, scales);
        s = genc_st_writer_add(w, name, GENC_DT_F8_E4M3, 2, (int64_t[]){rows, cols}, codes);
    }
    if (!s) s = genc_st_writer_add_f32(w, sname, GENC_DT_F32, 2, (int64_t[]){br, bc}, scales);
    free(codes), free(scales);
    return s;
}

/* The block scales of `name`, checked: F32, [ceil(rows/128), ceil(cols/128)], positive, finite. */
static genc_status read_scales(genc_ctx *ctx, const genc_st *st, const char *name, int64_t rows, int64_t cols,
                               float *scales) {
    char sname[512];
    snprintf(sname, sizeof sname, "%s%s", name, SUFFIX);
    const genc_st_entry *e = genc_st_find(st, sname);
    const char *label = genc_st_label(st);
    if (!e) return genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\" is F8_E4M3 but \"%s\" is missing", label, name, sname);
    if (e->dtype != GENC_DT_F32)
        return genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\" must be F32, found %s", label, sname,
                          genc_dtype_name(e->dtype));
    genc_status s = genc_st_read_f32(ctx, st, sname, scales, 2, (int64_t[]){blocks(rows), blocks(cols)});
    for (int64_t i = 0; !s && i < blocks(rows) * blocks(cols); i++)
        if (!(scales[i] > 0) || !isfinite(scales[i]))
            s = genc_error(ctx, GENC_EFORMAT, "%s: tensor \"%s\" holds %g at index %lld: block scales must be positive "
                           "and finite", label, sname, (double)scales[i], (long long)i);
    return s;
}

genc_status genc_fp8_weights_read(genc_ctx *ctx, const genc_st *st, const char *name, float *dst, int ndim,
                                  const int64_t *shape) {
    const genc_st_entry *e = genc_st_find(st, name);
    if (!e || e->dtype != GENC_DT_F8_E4M3) return genc_st_read_f32(ctx, st, name, dst, ndim, shape);
    if (ndim != 2 || e->ndim != 2 || e->shape[0] != shape[0] || e->shape[1] != shape[1])
        return genc_error(ctx, GENC_EFORMAT, "%s: F8_E4M3 tensor \"%s\" must be a matrix of the parameter's shape",
                          genc_st_label(st), name);
    int64_t rows = shape[0], cols = shape[1];
    float *scales = malloc((size_t)(blocks(rows) * blocks(cols)) * sizeof(float));
    if (!scales) return genc_error(ctx, GENC_ENOMEM, "out of memory reading \"%s\"", name);
    genc_status s = read_scales(ctx, st, name, rows, cols, scales);
    if (!s) genc_fp8_dequantize(genc_st_data(st, e), rows, cols, GENC_FP8_BLOCK, GENC_FP8_BLOCK, scales, dst);
    free(scales);
    return s;
}
