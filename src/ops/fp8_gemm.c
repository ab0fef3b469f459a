/* Fine-grained FP8 quantisation and the emulated FP8 GEMM of DeepSeek-V3 (report section
 * 3.3.2, figure 7): max-abs scales per 1x128 activation tile and per 128x128 weight block
 * (scale = amax / 448, shared/reference/deepseek-v3.md), and "increasing accumulation
 * precision": the tensor cores keep about 14 significant bits while summing products, so
 * every N_C = 128 products the partial sum is promoted to an FP32 accumulator.
 *
 * Emulation choice (documented in docs/fp8.md): the limited accumulator is an FP32 value
 * truncated (rounded toward zero, as measurements of NVIDIA tensor cores find their aligned
 * additions do) to acc_bits (14) significant bits after every fused multiply-add,
 * on products of the dequantised inputs (E4M3 value times its group's scale). Applying the
 * scales before the sum instead of at promotion changes only the rounding of the scale
 * product; it also gives the no-promotion ablation a meaning when scales change along K. */
#include "genc/fp8.h"

#include <math.h>
#include <omp.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

bool genc_precision_parse(const char *s, genc_precision *out) {
    if (!strcmp(s, "fp32")) *out = GENC_PREC_FP32;
    else if (!strcmp(s, "bf16")) *out = GENC_PREC_BF16;
    else if (!strcmp(s, "fp8")) *out = GENC_PREC_FP8;
    else return false;
    return true;
}

const char *genc_precision_name(genc_precision p) {
    return p == GENC_PREC_FP8 ? "fp8" : p == GENC_PREC_BF16 ? "bf16" : "fp32";
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* max(amax, |x[0..n)|), NaNs skipped as fmaxf skips them (max_ps returns its second operand
 * when the first is NaN); an infinity wins. */
static float row_amax(const float *x, int64_t n, float amax) {
    int64_t i = 0;
#ifdef __AVX2__
    if (n >= 8) {
        const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
        __m256 m = _mm256_set1_ps(amax);
        for (; i + 8 <= n; i += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs), m);
        float v[8];
        _mm256_storeu_ps(v, m);
        for (int k = 0; k < 8; k++) amax = v[k] > amax ? v[k] : amax;
    }
#endif
    for (; i < n; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    return amax;
}

/* The max-abs scale of the group [r0, r0 + nr) x [c0, c0 + nc): amax / 448, 1 for zeros. */
static float group_scale(const float *x, int64_t ld, int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    float amax = 0;
    for (int64_t r = r0; r < r0 + nr; r++) amax = row_amax(x + r * ld + c0, nc, amax);
    return amax > 0 && isfinite(amax) ? amax / GENC_E4M3_MAX : 1.0f;
}

/* One group of x through E4M3 at its max-abs scale. */
static float qdq_group(const float *x, int64_t ld, int64_t r0, int64_t nr, int64_t c0, int64_t nc, float *out,
                       int64_t ldo) {
    float col[GENC_FP8_TILE] = {0}, s = group_scale(x, ld, r0, nr, c0, nc);
    uint8_t code[GENC_FP8_TILE];
    if (nc > 1 || nr == 1) { /* along rows, in runs of at most 128 */
        for (int64_t r = r0; r < r0 + nr; r++)
            for (int64_t c = c0; c < c0 + nc; c += GENC_FP8_TILE) {
                int64_t n = min64(GENC_FP8_TILE, c0 + nc - c);
                genc_e4m3_encode_n(x + r * ld + c, s, code, n);
                genc_e4m3_decode_n(code, s, out + r * ldo + c, n);
            }
        return s;
    }
    for (int64_t i = 0; i < nr; i++) col[i] = x[(r0 + i) * ld + c0]; /* a 128 x 1 tile: down a column */
    genc_e4m3_encode_n(col, s, code, nr);
    genc_e4m3_decode_n(code, s, col, nr);
    for (int64_t i = 0; i < nr; i++) out[(r0 + i) * ldo + c0] = col[i];
    return s;
}

void genc_fp8_qdq(const float *x, int64_t rows, int64_t cols, int64_t ld, int64_t gr, int64_t gc, float *out,
                  int64_t ldo, float *scales) {
    int64_t br = (rows + gr - 1) / gr, bc = (cols + gc - 1) / gc;
#pragma omp parallel for if (rows * cols > 65536) schedule(static)
    for (int64_t b = 0; b < br * bc; b++) {
        int64_t i = b / bc, j = b % bc;
        float s = qdq_group(x, ld, i * gr, min64(gr, rows - i * gr), j * gc, min64(gc, cols - j * gc), out, ldo);
        if (scales) scales[b] = s;
    }
}

void genc_fp8_quantize(const float *x, int64_t rows, int64_t cols, int64_t gr, int64_t gc, uint8_t *codes,
                       float *scales) {
    int64_t br = (rows + gr - 1) / gr, bc = (cols + gc - 1) / gc;
    for (int64_t b = 0; b < br * bc; b++) {
        int64_t r0 = b / bc * gr, c0 = b % bc * gc, nr = min64(gr, rows - r0), nc = min64(gc, cols - c0);
        float s = scales[b] = group_scale(x, cols, r0, nr, c0, nc);
        for (int64_t r = r0; r < r0 + nr; r++) genc_e4m3_encode_n(x + r * cols + c0, s, codes + r * cols + c0, nc);
    }
}

void genc_fp8_dequantize(const uint8_t *codes, int64_t rows, int64_t cols, int64_t gr, int64_t gc, const float *scales,
                         float *out) {
    int64_t br = (rows + gr - 1) / gr, bc = (cols + gc - 1) / gc;
    for (int64_t b = 0; b < br * bc; b++) {
        int64_t r0 = b / bc * gr, c0 = b % bc * gc, nr = min64(gr, rows - r0), nc = min64(gc, cols - c0);
        for (int64_t r = r0; r < r0 + nr; r++) genc_e4m3_decode_n(codes + r * cols + c0, scales[b], out + r * cols + c0, nc);
    }
}

void genc_bf16_qdq(const float *x, int64_t rows, int64_t cols, int64_t ld, float *out, int64_t ldo) {
#pragma omp parallel for if (rows * cols > 65536) schedule(static)
    for (int64_t r = 0; r < rows; r++) genc_bf16_round_n(x + r * ld, out + r * ldo, cols);
}

/* One output element with the scalar arithmetic of the vector path. */
static float dot_acc(const float *a, const float *B, int64_t ldb, int64_t K, int64_t run, int bits) {
    float acc = 0;
    for (int64_t k0 = 0; k0 < K; k0 += run) {
        float p = 0;
        for (int64_t k = k0; k < min64(k0 + run, K); k++) p = genc_chop_significand(fmaf(a[k], B[k * ldb], p), bits);
        acc += p;
    }
    return acc;
}

#ifdef __AVX2__
static __m256 chop8(__m256 v, __m256 mask) { return _mm256_and_ps(v, mask); }

/* C[j .. j+32) of one row: four independent 8-wide accumulators hide the fma latency. */
static void row32(const float *a, const float *B, int64_t ldb, int64_t K, int64_t run, int drop, float *acc_out) {
    __m256 mask = _mm256_castsi256_ps(_mm256_set1_epi32((int)(~0u << drop)));
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t k0 = 0; k0 < K; k0 += run) {
        __m256 p[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        int64_t k1 = min64(k0 + run, K);
        for (int64_t k = k0; k < k1; k++) {
            __m256 av = _mm256_set1_ps(a[k]);
            const float *b = B + k * ldb;
            for (int q = 0; q < 4; q++) p[q] = chop8(_mm256_fmadd_ps(av, _mm256_loadu_ps(b + 8 * q), p[q]), mask);
        }
        for (int q = 0; q < 4; q++) acc[q] = _mm256_add_ps(acc[q], p[q]);
    }
    for (int q = 0; q < 4; q++) _mm256_storeu_ps(acc_out + 8 * q, acc[q]);
}
#endif

static void gemm_row(const float *a, const float *B, int64_t ldb, int64_t N, int64_t K, int64_t run, int bits,
                     float beta, float *c) {
    int64_t j = 0;
#ifdef __AVX2__
    if (bits < 24) {
        float t[32];
        for (; j + 32 <= N; j += 32) {
            row32(a, B + j, ldb, K, run, 24 - bits, t);
            for (int q = 0; q < 32; q++) c[j + q] = (beta != 0 ? beta * c[j + q] : 0) + t[q];
        }
    }
#endif
    for (; j < N; j++) {
        float v = dot_acc(a, B + j, ldb, K, run, bits);
        c[j] = (beta != 0 ? beta * c[j] : 0) + v;
    }
}

void genc_fp8_gemm_acc(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                       float beta, float *C, int64_t ldc, int promote, int acc_bits) {
    int64_t run = promote > 0 ? promote : (K > 0 ? K : 1);
    int bits = acc_bits > 0 && acc_bits < 24 ? acc_bits : 24;
#pragma omp parallel for if (M * N * K > (1 << 18)) schedule(static)
    for (int64_t i = 0; i < M; i++) gemm_row(A + i * lda, B, ldb, N, K, run, bits, beta, C + i * ldc);
}
