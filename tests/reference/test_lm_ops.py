#!/usr/bin/python3
"""Checks genc's rope and fused attention (outputs and input gradients, float32 build)
against PyTorch. RoPE follows the official DeepSeek-V3 code: pairs as complex numbers times
polar(1, pos * theta^(-2i/d)). Attention is written out in PyTorch with the mask rules of
genc_attention (causal: key s visible to query t iff s <= t + S - T; keys s < key_start[b]
masked; a row with no visible key outputs 0).

Usage: test_lm_ops.py <genc-binary> <build-dir>; drives <build-dir>/lm_ops_tool.
Prints "N passed, N failed" last; exits non-zero on any failure."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from st_io import st_read, st_write

PASSED = 0
FAILED = 0


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL:", what)


def rope_ref(x, pos, theta):
    d = x.shape[-1]
    freqs = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    ang = torch.outer(pos.double(), freqs)
    cis = torch.polar(torch.ones_like(ang), ang)[None, :, None, :]
    xc = torch.view_as_complex(x.double().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * cis).flatten(3)


def attn_ref(q, k, v, scale, causal, key_start):
    B, T, H, _ = q.shape
    S = k.shape[1]
    s = torch.einsum("bthd,bshd->bhts", q, k) * scale
    t_idx = torch.arange(T)[:, None]
    s_idx = torch.arange(S)[None, :]
    vis = torch.ones(B, 1, T, S, dtype=torch.bool)
    if causal:
        vis = vis & (s_idx <= t_idx + (S - T))
    if key_start is not None:
        vis = vis & (s_idx[None, None] >= torch.tensor(key_start)[:, None, None, None])
    s = s.masked_fill(~vis, float("-inf"))
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)  # rows with no visible key -> 0
    return torch.einsum("bhts,bshd->bthd", p, v)


def run_case(tool, tmp, name, B, T, S, H, dk, dv, d, causal, key_start, seed):
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    x, gy = rnd(B, T, H, d), rnd(B, T, H, d)
    q, k, v, go = rnd(B, T, H, dk), rnd(B, S, H, dk), rnd(B, S, H, dv), rnd(B, T, H, dv)
    pos = torch.tensor([(3 * t * t + 1) % 4000 for t in range(T)], dtype=torch.int32)
    theta, scale = 10000.0, dk ** -0.5
    f = lambda a: a.float().numpy()
    tensors = {"x": f(x), "gy": f(gy), "pos": pos.numpy(), "q": f(q), "k": f(k), "v": f(v), "go": f(go)}
    if key_start is not None:
        tensors["key_start"] = np.array(key_start, dtype=np.int32)
    src, dst = os.path.join(tmp, name + ".in"), os.path.join(tmp, name + ".out")
    st_write(src, tensors, {"theta": repr(theta), "scale": repr(scale), "causal": str(int(causal))})
    r = subprocess.run([tool, src, dst], capture_output=True, text=True)
    check(r.returncode == 0, f"{name}: tool failed: {r.stderr.strip()}")
    if r.returncode != 0:
        return
    out, _ = st_read(dst)
    # Inputs were rounded to float32 for genc; use the same values in double for the reference.
    x, gy, q, k, v, go = (torch.tensor(tensors[n], dtype=torch.float64, requires_grad=n in ("x", "q", "k", "v"))
                          for n in ("x", "gy", "q", "k", "v", "go"))
    y = rope_ref(x, pos, theta)
    y.backward(gy)
    o = attn_ref(q, k, v, scale, causal, key_start)
    o.backward(go)
    want = {"rope_y": y, "rope_gx": x.grad, "attn_o": o, "attn_gq": q.grad, "attn_gk": k.grad, "attn_gv": v.grad}
    for key, ref in want.items():
        ref = ref.detach().numpy()
        err = float(np.max(np.abs(out[key] - ref)))
        tol = 1e-4 * max(1.0, float(np.max(np.abs(ref))))  # float32 kernels, sums of <= 100 terms
        check(err <= tol, f"{name}: {key} max error {err:.3g} > {tol:.3g}")


def main():
    build = sys.argv[2]
    tool = os.path.join(build, "lm_ops_tool")
    cases = [  # name, B, T, S, H, dk, dv, rope d, causal, key_start
        ("causal", 2, 9, 9, 3, 8, 6, 8, True, None),
        ("causal_prefix", 2, 7, 12, 2, 6, 5, 6, True, [0, 4]),
        ("noncausal_padded", 2, 5, 7, 4, 16, 8, 16, False, [2, 7]),
        ("causal_blocks", 1, 100, 100, 2, 4, 4, 4, True, [10]),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for i, c in enumerate(cases):
            run_case(tool, tmp, *c, seed=i + 1)
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
