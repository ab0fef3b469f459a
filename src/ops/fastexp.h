/* A vectorisable exponential for the float build's hot loops (softmax, cross-entropy,
 * attention, SiLU/sigmoid). glibc's expf is a scalar call the compiler cannot vectorise
 * without -ffast-math; this one is branch-free C that GCC turns into AVX2 code.
 * e^x = 2^n e^r with n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two parts, Cody &
 * Waite), e^r from a degree-6 minimax polynomial on |r| <= ln(2)/2 (the Cephes expf
 * coefficients); relative error < 1e-7 over [-87, 88]; 0 below, e^88 above, NaN kept. It
 * vectorises with -fno-trapping-math (CMakeLists.txt). The double
 * build (gradient checks) uses libm's exp. */
#ifndef GENC_FASTEXP_H
#define GENC_FASTEXP_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef GENC_DOUBLE
#define fastexp(x) exp(x)
#else
static inline float fastexp(float x) {
    float xc = x > -87.0f ? x : -87.0f; /* NaN becomes -87 here (no UB in the int conversion) */
    xc = xc < 88.0f ? xc : 88.0f;
    const float shifter = 12582912.0f;  /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (xc * 1.44269504088896341f + shifter) - shifter;
    float r = fmaf(n, -0.693359375f, xc);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    union { int32_t i; float f; } scale = {.i = ((int32_t)n + 127) << 23}; /* 2^n */
    float v = p * scale.f;
    v = x >= -87.0f ? v : 0.0f; /* below FLT_MIN, and -inf: 0 */
    return x == x ? v : x;      /* NaN stays NaN */
}
#endif
#endif
