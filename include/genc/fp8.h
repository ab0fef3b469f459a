/* genc low-precision numerics after DeepSeek-V3's FP8 training framework (report section 3.3,
 * shared/reference/deepseek-v3.md): the FP8 formats E4M3 and E5M2 and BF16 (encode with round
 * to nearest even and saturation, decode), fine-grained max-abs quantisation (1x128 tiles of
 * activations, 128x128 blocks of weights), and a GEMM that emulates FP8 tensor cores: products
 * of quantised inputs summed in a limited-precision accumulator (about 14 significant bits)
 * and promoted to an FP32 accumulator every N_C elements (section 3.3.2). */
#ifndef GENC_FP8_H
#define GENC_FP8_H

#include <stdbool.h>
#include <stdint.h>

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- formats (fp8.c) ---- */
/* E4M3 ("e4m3fn" of the OCP FP8 spec): bias 7, no infinities, NaN = S.1111.111, largest
 * finite +-448, smallest subnormal 2^-9. E5M2: bias 15, IEEE-like (infinities 0x7C/0xFC,
 * NaNs 0x7D-0x7F/0xFD-0xFF), largest finite +-57344, smallest subnormal 2^-16.
 * Encoding rounds to nearest even and saturates (like PTX cvt.satfinite): a finite value or
 * an infinity beyond the largest finite value becomes that value with its sign; NaN becomes
 * S.1111111 (0x7F or 0xFF, both formats), as genc_f8e4m3_from_f32 (safetensors.h) does.
 * BF16 keeps float's top 16 bits, rounded to nearest even (NaN stays NaN, quieted). */
#define GENC_E4M3_MAX 448.0f
#define GENC_E5M2_MAX 57344.0f
uint8_t genc_e4m3_encode(float x);
float genc_e4m3_decode(uint8_t code);
uint8_t genc_e5m2_encode(float x);
float genc_e5m2_decode(uint8_t code);
uint16_t genc_bf16_encode(float x);
float genc_bf16_decode(uint16_t code);
/* x rounded to `bits` significant bits (implicit one included, 1..24), nearest even. */
float genc_round_significand(float x, int bits);
/* x truncated (toward zero) to `bits` significant bits: the limited accumulator's rounding. */
float genc_chop_significand(float x, int bits);

/* Vector conversions (AVX2 when the build targets it, the scalar code otherwise; the two
 * give identical bytes). encode: out[i] = E4M3(x[i] / scale); decode: out[i] = value * scale. */
void genc_e4m3_encode_n(const float *x, float scale, uint8_t *out, int64_t n);
void genc_e4m3_decode_n(const uint8_t *code, float scale, float *out, int64_t n);
void genc_e5m2_encode_n(const float *x, float scale, uint8_t *out, int64_t n);
void genc_e5m2_decode_n(const uint8_t *code, float scale, float *out, int64_t n);
/* out[i] = x[i] through BF16 and back (nearest even, NaN quieted); out may equal x. */
void genc_bf16_round_n(const float *x, float *out, int64_t n);
/* The scalar loops behind the vector ones (for tests and benchmarks). */
void genc_bf16_round_n_scalar(const float *x, float *out, int64_t n);
void genc_e4m3_encode_n_scalar(const float *x, float scale, uint8_t *out, int64_t n);
void genc_e5m2_encode_n_scalar(const float *x, float scale, uint8_t *out, int64_t n);

/* ---- fine-grained quantisation and the emulated GEMM (fp8_gemm.c) ---- */
typedef enum { GENC_PREC_FP32 = 0, GENC_PREC_BF16, GENC_PREC_FP8 } genc_precision;

/* How the linear layers' GEMMs run. Zero-initialised it is plain FP32. */
typedef struct genc_qmode {
    genc_precision prec;
    int promote;  /* FP8: N_C, products summed in the limited accumulator before promotion to
                     FP32 (DeepSeek-V3: 128); 0 = never promoted (the ablation) */
    int acc_bits; /* FP8: significant bits of the limited accumulator (0: GENC_FP8_ACC_BITS) */
} genc_qmode;
#define GENC_FP8_ACC_BITS 14
#define GENC_FP8_TILE 128

/* Parse "fp32" | "bf16" | "fp8" and "128" | "none" (N_C) for flags; false if unknown. */
bool genc_precision_parse(const char *s, genc_precision *out);
const char *genc_precision_name(genc_precision p);

/* Quantise-dequantise x [rows, cols] (row stride ld) into out [rows, cols] (row stride ldo)
 * through E4M3 with one scale per group of gr x gc elements (1 x 128: activation tiles along
 * a row; 128 x 1: tiles down a column; 128 x 128: weight blocks); groups at the ragged right
 * and bottom edges are smaller. scale = amax / 448 of the group (1 where amax is 0), so the
 * group's largest magnitude maps to 448. scales (may be NULL) gets ceil(rows/gr) x
 * ceil(cols/gc) values row-major. out may equal x when ldo == ld. */
void genc_fp8_qdq(const float *x, int64_t rows, int64_t cols, int64_t ld, int64_t gr, int64_t gc, float *out,
                  int64_t ldo, float *scales);
/* Quantise x [rows, cols] (contiguous) to E4M3 codes with one scale per gr x gc group, the
 * scales as genc_fp8_qdq; and back: out = code value times its group's scale. */
void genc_fp8_quantize(const float *x, int64_t rows, int64_t cols, int64_t gr, int64_t gc, uint8_t *codes,
                       float *scales);
void genc_fp8_dequantize(const uint8_t *codes, int64_t rows, int64_t cols, int64_t gr, int64_t gc, const float *scales,
                         float *out);
/* The same through BF16 (no scales). */
void genc_bf16_qdq(const float *x, int64_t rows, int64_t cols, int64_t ld, float *out, int64_t ldo);

/* C [M, N] = beta C + A B with A [M, K] (row stride lda) and B [K, N] (row stride ldb), both
 * already quantised, summed as an FP8 tensor core with promotion does it: per output, each
 * run of `promote` products (the whole K when promote is 0) is accumulated as
 * p = chop(fma(a, b, p)) (FP32 fma, then truncated to acc_bits significant bits), and at
 * the end of the run the FP32 accumulator takes acc += p. */
void genc_fp8_gemm_acc(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                       float beta, float *C, int64_t ldc, int promote, int acc_bits);

/* ---- the low-precision linear layer (qlinear.c) ---- */
/* y = x W^T (no bias) with Fprop, Dgrad and Wgrad in the mode's precision: FP8 quantises
 * x and dy per 1x128 tile along each GEMM's inner dimension and W per 128x128 block; BF16
 * rounds the inputs. FP32 (or q NULL) is genc_linear. x [..., in], w [out, in] -> [..., out]. */
genc_tensor *genc_linear_q(genc_ctx *ctx, genc_tensor *x, genc_tensor *w, const genc_qmode *q);

/* ---- weights held in FP8 for inference (w8_gemm.c) ---- */
/* A weight [rows, cols] as E4M3 codes (row-major, 1 byte each) and one F32 scale per
 * 128x128 block ([ceil(rows/128), ceil(cols/128)]): DeepSeek-V3's release layout in memory. */
typedef struct genc_w8 {
    int64_t rows, cols;
    uint8_t *codes;
    float *scales;
} genc_w8;
/* Quantise w (genc_fp8_quantize, 128x128 blocks) into out (owned; genc_w8_free). */
genc_status genc_w8_from_f32(genc_ctx *ctx, const float *w, int64_t rows, int64_t cols, genc_w8 *out);
void genc_w8_free(genc_w8 *w);
int64_t genc_w8_bytes(const genc_w8 *w); /* codes + scales */
/* y [M, rows] (row stride ldy) = x [M, cols] (row stride ldx) W^T + beta y, W decoded 128
 * rows at a time into a per-thread float panel; false only when the panel cannot be
 * allocated. Equal to genc_gemm on genc_fp8_dequantize's W up to the BLAS summation order. */
bool genc_w8_matmul_nt(int64_t M, const genc_real *x, int64_t ldx, const genc_w8 *w, genc_real beta, genc_real *y,
                       int64_t ldy);

#ifdef __cplusplus
}
#endif
#endif
