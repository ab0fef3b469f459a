/* FP8 (E4M3, E5M2) and BF16 conversion for DeepSeek-V3's FP8 mixed precision (report section
 * 3.3.1-3.3.2: E4M3 on every GEMM input; section 3.3.3: E5M2 named as the alternative format).
 * Scalar: the codecs of src/io/dtype.c (genc_f8e4m3_from_f32, ...), genc's one implementation,
 * shared with the safetensors reader and writer. AVX2 (compile-time, as the build's -march=native
 * decides): the same rounding from float bits, round to nearest even by the integer carry
 * trick for normal values and by an FP add of a magic constant for subnormal ones. */
#include "genc/fp8.h"
#include "genc/safetensors.h"

#include <math.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

typedef struct {
    int mbits, emin;  /* mantissa bits; exponent of the smallest normal binade */
    float max;        /* largest finite value */
    uint8_t maxcode;  /* its code */
    bool ieee;        /* E5M2's infinities and NaNs; E4M3 has one NaN per sign */
    uint8_t (*encode)(float);  /* the scalar codec (src/io/dtype.c) */
    float (*decode)(uint8_t);
} fp8_format;

static const fp8_format E4M3 = {3, -6, GENC_E4M3_MAX, 0x7E, false, genc_f8e4m3_from_f32, genc_f32_from_f8e4m3};
static const fp8_format E5M2 = {2, -14, GENC_E5M2_MAX, 0x7B, true, genc_f8e5m2_from_f32, genc_f32_from_f8e5m2};

uint8_t genc_e4m3_encode(float x) { return genc_f8e4m3_from_f32(x); }
float genc_e4m3_decode(uint8_t code) { return genc_f32_from_f8e4m3(code); }
uint8_t genc_e5m2_encode(float x) { return genc_f8e5m2_from_f32(x); }
float genc_e5m2_decode(uint8_t code) { return genc_f32_from_f8e5m2(code); }

static uint32_t bits_of(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float float_of(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

uint16_t genc_bf16_encode(float x) { return genc_bf16_from_f32(x); }
float genc_bf16_decode(uint16_t code) { return genc_f32_from_bf16(code); }

float genc_round_significand(float x, int bits) {
    int drop = 24 - bits;
    if (drop <= 0 || !isfinite(x)) return x;
    uint32_t u = bits_of(x);
    u += ((1u << (drop - 1)) - 1) + ((u >> drop) & 1);
    return float_of(u & ~((1u << drop) - 1));
}

float genc_chop_significand(float x, int bits) {
    int drop = 24 - bits;
    if (drop <= 0 || !isfinite(x)) return x;
    return float_of(bits_of(x) & (~0u << drop));
}

void genc_e4m3_encode_n_scalar(const float *x, float scale, uint8_t *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = genc_f8e4m3_from_f32(x[i] / scale);
}

void genc_e5m2_encode_n_scalar(const float *x, float scale, uint8_t *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = genc_f8e5m2_from_f32(x[i] / scale);
}

#ifdef __AVX2__
/* 8 floats (already divided by the scale) -> 8 codes in the low byte of each lane. */
static __m256i encode8(__m256 x, const fp8_format *f) {
    const int shift = 23 - f->mbits, rebias = (127 - 1 + f->emin) << f->mbits;
    __m256i u = _mm256_castps_si256(x);
    __m256i sign = _mm256_and_si256(_mm256_srli_epi32(u, 24), _mm256_set1_epi32(0x80));
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256i ua = _mm256_castps_si256(a);
    /* normal: round the float's mantissa to mbits (ties to even), then rebias the exponent */
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(ua, shift), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(ua, _mm256_add_epi32(_mm256_set1_epi32((1 << (shift - 1)) - 1), odd));
    __m256i normal = _mm256_sub_epi32(_mm256_srli_epi32(r, shift), _mm256_set1_epi32(rebias));
    /* subnormal: a + 2^(emin - mbits + 23) rounds a to a multiple of the subnormal quantum */
    __m256 magic = _mm256_set1_ps(ldexpf(1.0f, f->emin - f->mbits + 23));
    __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(a, magic)), _mm256_castps_si256(magic));
    __m256 is_sub = _mm256_cmp_ps(a, _mm256_set1_ps(ldexpf(1.0f, f->emin)), _CMP_LT_OQ);
    __m256i code = _mm256_blendv_epi8(normal, sub, _mm256_castps_si256(is_sub));
    __m256 sat = _mm256_cmp_ps(a, _mm256_set1_ps(f->max), _CMP_GE_OQ);
    code = _mm256_blendv_epi8(code, _mm256_set1_epi32(f->maxcode), _mm256_castps_si256(sat));
    __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    code = _mm256_blendv_epi8(code, _mm256_set1_epi32(0x7F), _mm256_castps_si256(nan));
    return _mm256_or_si256(code, sign);
}

static void store8(__m256i code, uint8_t *out) {
    __m256i p = _mm256_packus_epi16(_mm256_packus_epi32(code, code), _mm256_setzero_si256());
    uint32_t lo = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(p));
    uint32_t hi = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(p, 1));
    memcpy(out, &lo, 4), memcpy(out + 4, &hi, 4);
}

static void encode_n(const float *x, float scale, uint8_t *out, int64_t n, const fp8_format *f) {
    __m256 s = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) store8(encode8(_mm256_div_ps(_mm256_loadu_ps(x + i), s), f), out + i);
    for (; i < n; i++) out[i] = f->encode(x[i] / scale);
}

/* 8 codes -> 8 floats times scale. */
static __m256 decode8(const uint8_t *code, float scale, const fp8_format *f) {
    int64_t raw;
    memcpy(&raw, code, 8);
    __m256i c = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(raw));
    __m256i v = _mm256_and_si256(c, _mm256_set1_epi32(0x7F));
    __m256i sign = _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x80)), 24);
    const int rebias = (127 - 1 + f->emin) << 23;
    __m256i normal = _mm256_add_epi32(_mm256_slli_epi32(v, 23 - f->mbits), _mm256_set1_epi32(rebias));
    __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(ldexpf(1.0f, f->emin - f->mbits)));
    __m256i is_sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(1 << f->mbits), v);
    __m256 a = _mm256_blendv_ps(_mm256_castsi256_ps(normal), sub, _mm256_castsi256_ps(is_sub));
    if (f->ieee) {
        __m256i top = _mm256_cmpgt_epi32(v, _mm256_set1_epi32(0x7C));
        __m256i inf = _mm256_cmpeq_epi32(v, _mm256_set1_epi32(0x7C));
        a = _mm256_blendv_ps(a, _mm256_set1_ps(INFINITY), _mm256_castsi256_ps(inf));
        a = _mm256_blendv_ps(a, _mm256_set1_ps(NAN), _mm256_castsi256_ps(top));
    } else {
        __m256i nan = _mm256_cmpeq_epi32(v, _mm256_set1_epi32(0x7F));
        a = _mm256_blendv_ps(a, _mm256_set1_ps(NAN), _mm256_castsi256_ps(nan));
    }
    return _mm256_mul_ps(_mm256_or_ps(a, _mm256_castsi256_ps(sign)), _mm256_set1_ps(scale));
}

static void decode_n(const uint8_t *code, float scale, float *out, int64_t n, const fp8_format *f) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, decode8(code + i, scale, f));
    for (; i < n; i++) out[i] = f->decode(code[i]) * scale;
}
#else
static void encode_n(const float *x, float scale, uint8_t *out, int64_t n, const fp8_format *f) {
    for (int64_t i = 0; i < n; i++) out[i] = f->encode(x[i] / scale);
}

static void decode_n(const uint8_t *code, float scale, float *out, int64_t n, const fp8_format *f) {
    for (int64_t i = 0; i < n; i++) out[i] = f->decode(code[i]) * scale;
}
#endif

void genc_e4m3_encode_n(const float *x, float scale, uint8_t *out, int64_t n) { encode_n(x, scale, out, n, &E4M3); }
void genc_e5m2_encode_n(const float *x, float scale, uint8_t *out, int64_t n) { encode_n(x, scale, out, n, &E5M2); }

/* BF16 round trip: keep the top 16 bits of a float, rounded to nearest even by the carry
 * trick (u + 0x7FFF + lsb; a carry into the exponent is correct, infinities stay), NaN
 * quieted as genc_bf16_from_f32 does. */
void genc_bf16_round_n_scalar(const float *x, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = genc_f32_from_bf16(genc_bf16_from_f32(x[i]));
}

#ifdef __AVX2__
void genc_bf16_round_n(const float *x, float *out, int64_t n) {
    const __m256i top = _mm256_set1_epi32((int)0xFFFF0000u), bias = _mm256_set1_epi32(0x7FFF);
    const __m256i one = _mm256_set1_epi32(1), abs = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i inf = _mm256_set1_epi32(0x7F800000), quiet = _mm256_set1_epi32(0x00400000);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i));
        __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
        __m256i r = _mm256_and_si256(_mm256_add_epi32(u, _mm256_add_epi32(bias, lsb)), top);
        __m256i q = _mm256_or_si256(_mm256_and_si256(u, top), quiet);
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs), inf);
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_blendv_epi8(r, q, nan)));
    }
    genc_bf16_round_n_scalar(x + i, out + i, n - i);
}
#else
void genc_bf16_round_n(const float *x, float *out, int64_t n) { genc_bf16_round_n_scalar(x, out, n); }
#endif

void genc_e4m3_decode_n(const uint8_t *code, float scale, float *out, int64_t n) {
    decode_n(code, scale, out, n, &E4M3);
}

void genc_e5m2_decode_n(const uint8_t *code, float scale, float *out, int64_t n) {
    decode_n(code, scale, out, n, &E5M2);
}
