#!/usr/bin/python3
"""Checks genc's FP8 numerics (include/genc/fp8.h; DeepSeek-V3 report section 3.3) against an
emulation written here from first principles in numpy (torch 1.13 has no float8):
1. the 256 E4M3 and E5M2 codes decode to a table built from the bit formula;
2. encoding (the AVX2 path) equals brute-force nearest-value search with ties to the even code,
   saturation to +-448 / +-57344 and NaN to S.1111111, on boundary values and random floats;
3. fine-grained quantise-dequantise (1x128, 128x1, 128x128 groups, ragged edges) equals the
   emulation (scale = amax / 448 per group);
4. the emulated FP8 GEMM equals the documented accumulation rule: per run of N_C products
   p = chop14(fma(a, b, p)) in float32, then acc += p (promote 128 and none).
Usage: test_fp8.py <genc-binary> <build-dir>; drives <build-dir>/fp8_tool."""
import os
import subprocess
import sys
import tempfile

import numpy as np

PASSED = 0
FAILED = 0


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL:", what)


def table(ebits, mbits, ieee):
    """Value of every code from sign/exponent/mantissa fields."""
    bias = 2 ** (ebits - 1) - 1
    vals = np.zeros(256, dtype=np.float64)
    for c in range(256):
        s = -1.0 if c & 0x80 else 1.0
        e = (c >> mbits) & (2 ** ebits - 1)
        m = c & (2 ** mbits - 1)
        if ieee and e == 2 ** ebits - 1:
            vals[c] = s * np.inf if m == 0 else np.nan
        elif not ieee and e == 2 ** ebits - 1 and m == 2 ** mbits - 1:
            vals[c] = np.nan
        elif e == 0:
            vals[c] = s * m * 2.0 ** (1 - bias - mbits)
        else:
            vals[c] = s * (1 + m / 2 ** mbits) * 2.0 ** (e - bias)
    return vals


E4M3 = table(4, 3, False)
E5M2 = table(5, 2, True)


def encode_ref(x, tab, vmax):
    """Nearest finite code by search; ties to the even code; saturate; NaN -> sign|0x7F."""
    finite = [c for c in range(128) if np.isfinite(tab[c])]
    pos = np.array([tab[c] for c in finite])
    out = np.zeros(len(x), dtype=np.uint8)
    for i, v in enumerate(x.astype(np.float64)):
        sign = 0x80 if np.signbit(v) else 0
        if np.isnan(v):
            out[i] = sign | 0x7F
            continue
        a = min(abs(v), vmax)
        d = np.abs(pos - a)
        best = np.flatnonzero(d == d.min())
        c = finite[best[0]] if len(best) == 1 else [finite[b] for b in best if finite[b] % 2 == 0][0]
        out[i] = sign | c
    return out


def chop(x, bits):
    u = np.asarray(x, dtype=np.float32).view(np.uint32)
    return (u & np.uint32((0xFFFFFFFF << (24 - bits)) & 0xFFFFFFFF)).view(np.float32)


def run(tool, *args):
    r = subprocess.run([tool] + [str(a) for a in args], capture_output=True, text=True)
    check(r.returncode == 0, "fp8_tool %s: %s" % (args[0], r.stderr.strip()))


def test_decode(tool, d):
    for name, tab in (("decode4", E4M3), ("decode5", E5M2)):
        run(tool, name, d + "/dec")
        got = np.fromfile(d + "/dec", dtype=np.float32).astype(np.float64)
        same = (got == tab) | (np.isnan(got) & np.isnan(tab))
        check(same.all(), "%s: codes %s differ" % (name, np.flatnonzero(~same)[:8]))


def boundary_values(tab, vmax):
    vals = tab[np.isfinite(tab)]
    mids = (np.sort(vals)[1:] + np.sort(vals)[:-1]) / 2  # every tie
    extra = [vmax, vmax * 1.03, vmax * 1.0625, vmax * 2, 1e30, np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0]
    return np.concatenate([vals, mids, np.nextafter(mids.astype(np.float32), np.float32(np.inf)),
                           np.nextafter(mids.astype(np.float32), np.float32(-np.inf)), extra]).astype(np.float32)


def test_encode(tool, d, rng):
    for name, tab, vmax in (("encode4", E4M3, 448.0, ), ("encode5", E5M2, 57344.0)):
        x = np.concatenate([boundary_values(tab, vmax),
                            (rng.standard_normal(3000) * np.exp2(rng.integers(-20, 18, 3000))).astype(np.float32)])
        x.tofile(d + "/x")
        run(tool, name, d + "/x", len(x), d + "/codes")
        got = np.fromfile(d + "/codes", dtype=np.uint8)
        want = encode_ref(x, tab, vmax)
        bad = np.flatnonzero(got != want)
        check(len(bad) == 0, "%s: %d of %d differ, e.g. %s -> %s, want %s" %
              (name, len(bad), len(x), x[bad[:3]], got[bad[:3]], want[bad[:3]]))


def qdq_ref(x, gr, gc):
    R, C = x.shape
    y = np.zeros_like(x)
    scales = []
    for r0 in range(0, R, gr):
        for c0 in range(0, C, gc):
            g = x[r0:r0 + gr, c0:c0 + gc]
            amax = np.float32(np.abs(g).max())
            s = np.float32(amax / np.float32(448.0)) if amax > 0 else np.float32(1.0)
            codes = encode_ref((g / s).astype(np.float32).ravel(), E4M3, 448.0)
            y[r0:r0 + gr, c0:c0 + gc] = (E4M3[codes].astype(np.float32) * s).reshape(g.shape)
            scales.append(s)
    return y, np.array(scales, dtype=np.float32)


def test_qdq(tool, d, rng):
    R, C = 133, 261
    x = (rng.standard_normal((R, C)) * np.exp2(rng.integers(-6, 6, (R, C)))).astype(np.float32)
    x[:, 7] *= 50  # an outlier channel
    x.tofile(d + "/x")
    for gr, gc in ((1, 128), (128, 1), (128, 128)):
        run(tool, "qdq", d + "/x", R, C, gr, gc, d + "/y", d + "/s")
        y = np.fromfile(d + "/y", dtype=np.float32).reshape(R, C)
        s = np.fromfile(d + "/s", dtype=np.float32)
        yr, sr = qdq_ref(x, gr, gc)
        check(s.shape == sr.shape and (s == sr).all(), "qdq %dx%d: scales differ" % (gr, gc))
        check((y == yr).all(), "qdq %dx%d: %d values differ" % (gr, gc, int((y != yr).sum())))


def gemm_ref(A, B, promote):
    M, K = A.shape
    N = B.shape[1]
    run_len = promote if promote > 0 else K
    acc = np.zeros((M, N), dtype=np.float32)
    for k0 in range(0, K, run_len):
        p = np.zeros((M, N), dtype=np.float32)
        for k in range(k0, min(k0 + run_len, K)):
            # fma in float32: the float64 product of two float32 is exact; one rounding to float32
            exact = A[:, k:k + 1].astype(np.float64) * B[k:k + 1, :].astype(np.float64) + p.astype(np.float64)
            p = chop(exact.astype(np.float32), 14)
        acc = (acc + p).astype(np.float32)
    return acc


def test_gemm(tool, d, rng):
    M, N, K = 5, 70, 300
    A, _ = qdq_ref((rng.standard_normal((M, K)) + 0.5).astype(np.float32), 1, 128)
    B, _ = qdq_ref((rng.standard_normal((K, N)) * 0.1 + 0.05).astype(np.float32), 128, 128)
    A.tofile(d + "/a")
    B.tofile(d + "/b")
    exact = A.astype(np.float64) @ B.astype(np.float64)
    err = {}
    for promote in (128, 0):
        run(tool, "gemm", d + "/a", d + "/b", M, N, K, promote, d + "/c")
        c = np.fromfile(d + "/c", dtype=np.float32).reshape(M, N)
        want = gemm_ref(A, B, promote)
        check((c == want).all(), "gemm promote %d: %d of %d differ (max %.3g)" %
              (promote, int((c != want).sum()), M * N, float(np.abs(c - want).max())))
        err[promote] = float(np.abs(c - exact).max() / np.abs(exact).max())
    print("gemm K=300: max relative error %.2e promoting every 128, %.2e without" % (err[128], err[0]))
    check(err[128] < err[0], "promotion should reduce the error")


def main():
    tool = os.path.join(sys.argv[2], "fp8_tool")
    if not os.path.exists(tool):
        print("SKIP: %s not built" % tool)
        sys.exit(77)
    rng = np.random.default_rng(22)
    with tempfile.TemporaryDirectory() as d:
        test_decode(tool, d)
        test_encode(tool, d, rng)
        test_qdq(tool, d, rng)
        test_gemm(tool, d, rng)
    print("%d passed, %d failed" % (PASSED, FAILED))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
