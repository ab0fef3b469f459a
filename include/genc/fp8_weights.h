/* FP8 weights in safetensors, the layout of DeepSeek-V3's own release (report section 3.3;
 * shared/reference/deepseek-v3.md, "FP8 release layout"): a quantised linear weight `W` is
 * F8_E4M3 [out, in] with a companion F32 `W_scale_inv` [ceil(out/128), ceil(in/128)]; the
 * dequantised weight is each E4M3 value times the scale of its 128x128 block. */
#ifndef GENC_FP8_WEIGHTS_H
#define GENC_FP8_WEIGHTS_H

#include "safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GENC_FP8_BLOCK 128

/* Add x [rows, cols] as `name` (F8_E4M3) and `name`_scale_inv (F32, amax / 448 per block). */
genc_status genc_fp8_weights_add(genc_ctx *ctx, genc_st_writer *w, const char *name, int64_t rows, int64_t cols,
                                 const float *x);
/* Read tensor `name` as float: an F8_E4M3 tensor is dequantised with its `_scale_inv`, which
 * must exist, be F32 of the block shape and hold positive finite scales (else GENC_EFORMAT,
 * one line naming file and tensor); any other dtype reads as genc_st_read_f32 does. */
genc_status genc_fp8_weights_read(genc_ctx *ctx, const genc_st *st, const char *name, float *dst, int ndim,
                                  const int64_t *shape);
/* Whether `name` is a block-scale companion ("..._scale_inv"); *base gets the weight's name. */
bool genc_fp8_scale_of(const char *name, char *base, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
