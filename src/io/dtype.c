/* genc element types: safetensors names and sizes, and the float conversions between
 * f32 and bf16 / f16 / f8 e4m3fn / f8 e5m2 (round-to-nearest-even when narrowing, exact when
 * widening). Everything works on bit patterns, so results never depend on the FPU mode.
 * These are genc's only scalar codecs: the FP8 training numerics (src/ops/fp8.c) call them
 * and add vector (AVX2) loops that must give the same bytes. */
#include "genc/safetensors.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [GENC_DT_F32] = {"F32", 4},     [GENC_DT_F16] = {"F16", 2}, [GENC_DT_BF16] = {"BF16", 2},
    [GENC_DT_F8_E4M3] = {"F8_E4M3", 1}, [GENC_DT_F64] = {"F64", 8}, [GENC_DT_I64] = {"I64", 8},
    [GENC_DT_I32] = {"I32", 4},     [GENC_DT_U8] = {"U8", 1},
};
#define N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

const char *genc_dtype_name(genc_dtype dt) {
    return ((int)dt >= 0 && (int)dt < N_DTYPES) ? dtype_info[dt].name : "?";
}

size_t genc_dtype_size(genc_dtype dt) {
    return ((int)dt >= 0 && (int)dt < N_DTYPES) ? dtype_info[dt].size : 0;
}

bool genc_dtype_parse(const char *name, genc_dtype *out) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (genc_dtype)i;
            return true;
        }
    return false;
}

static uint32_t f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float f32_from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Shift the 24-bit significand m right by s (1..31) and round to nearest, ties to even. */
static uint32_t shift_round(uint32_t m, int s) {
    if (s > 31) return 0;
    uint32_t q = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return q;
}

uint16_t genc_bf16_from_f32(float x) {
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    return (uint16_t)(shift_round(u, 16)); /* a carry rolls into the exponent: correct */
}

float genc_f32_from_bf16(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

/* Narrow |x| (bits u without sign, finite, non-zero exponent) to a format with `mbits`
 * mantissa bits and exponent bias `bias`; returns the unsigned code, which may have
 * rounded past the largest finite exponent (callers clamp). Subnormals included. */
static uint32_t narrow(uint32_t u, int mbits, int bias) {
    int e = (int)(u >> 23) - 127 + bias;      /* biased exponent in the target */
    uint32_t m = (u & 0x7fffffu) | 0x800000u; /* 24-bit significand */
    if (e >= 1) return ((uint32_t)e << mbits) + shift_round(m, 23 - mbits) - (1u << mbits);
    return shift_round(m, 23 - mbits + 1 - e); /* subnormal: unit 2^(1 - bias - mbits) */
}

uint16_t genc_f16_from_f32(float x) {
    uint32_t u = f32_bits(x), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x1ffu));
    if (a >= 0x7f800000u || (a >> 23) >= 127 + 16) return (uint16_t)(sign | 0x7c00u);
    if ((a >> 23) == 0) return (uint16_t)sign; /* f32 subnormals are far below f16's */
    uint32_t h = narrow(a, 10, 15);
    return (uint16_t)(sign | (h >= 0x7c00u ? 0x7c00u : h));
}

float genc_f32_from_f16(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 31) return f32_from_bits(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        float v = (float)m * (1.0f / 16777216.0f); /* m * 2^-24, exact */
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((e + 112) << 23) | (m << 13));
}

uint8_t genc_f8e4m3_from_f32(float x) {
    uint32_t u = f32_bits(x), sign = (u >> 24) & 0x80u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint8_t)(sign | 0x7fu);
    if (a >= 0x7f800000u || (a >> 23) >= 127 + 9) return (uint8_t)(sign | 0x7eu); /* saturate */
    if ((a >> 23) == 0) return (uint8_t)sign;
    uint32_t b = narrow(a, 3, 7);
    return (uint8_t)(sign | (b > 0x7eu ? 0x7eu : b));
}

uint8_t genc_f8e5m2_from_f32(float x) {
    uint32_t u = f32_bits(x), sign = (u >> 24) & 0x80u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint8_t)(sign | 0x7fu);
    if (a >= 0x7f800000u || (a >> 23) >= 127 + 16) return (uint8_t)(sign | 0x7bu); /* saturate */
    if ((a >> 23) == 0) return (uint8_t)sign;
    uint32_t b = narrow(a, 2, 15);
    return (uint8_t)(sign | (b > 0x7bu ? 0x7bu : b));
}

float genc_f32_from_f8e5m2(uint8_t b) {
    int e = (b >> 2) & 0x1f, m = b & 3;
    float v;
    if (e == 31) v = f32_from_bits(m ? 0x7fc00000u : 0x7f800000u);
    else if (e == 0) v = (float)m * (1.0f / 65536.0f); /* m * 2^-16 */
    else v = f32_from_bits((uint32_t)(e + 112) << 23 | (uint32_t)m << 21);
    return (b & 0x80) ? -v : v;
}

float genc_f32_from_f8e4m3(uint8_t b) {
    int e = (b >> 3) & 0xf, m = b & 7;
    float v;
    if (e == 15 && m == 7) v = f32_from_bits(0x7fc00000u);
    else if (e == 0) v = (float)m * (1.0f / 512.0f); /* m * 2^-9 */
    else v = f32_from_bits((uint32_t)(e + 120) << 23 | (uint32_t)m << 20);
    return (b & 0x80) ? -v : v;
}
