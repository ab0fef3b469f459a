#!/usr/bin/python3
"""Golden tests of genc's ops against PyTorch (float32).

For every case this script draws random inputs with torch (a fixed seed per case), computes
the expected forward outputs and gradients (backward seeded with a random dy, or from a
scalar loss) with torch, writes the inputs to a safetensors file, runs the genc side
(`<build>/golden_tool CASE IN OUT`, tests/reference/golden_tool.c) and compares every output
at float32 tolerances. Cases: matmul (batched, broadcast, transposed operands), linear,
softmax, log-softmax, cross-entropy with an ignored row, RMSNorm (by hand: torch 1.13 has
none), LayerNorm, conv2d (stride 2, padding 1, bias) and 10 AdamW steps of a small MLP
checked against torch.optim.AdamW with two parameter groups.

    /usr/bin/python3 tests/reference/test_golden.py <genc binary> <build dir> [--regen]

--regen also (re)writes tests/reference/golden/<case>.golden: inputs ("in.*") and expected
outputs ("out.*") with per-output tolerances in the metadata, which tests/unit/test_golden.c
checks without torch. Without --regen, committed golden files are checked to still agree
with torch (when this torch draws the same inputs).

Prints "N passed, N failed" last and exits non-zero on any failure. Without torch it fails,
unless GENC_ALLOW_NO_TORCH=1, when it prints a skip message and exits 77 (CTest: skipped).
A golden file this torch cannot re-check (it draws other inputs from the seed) is counted
as skipped, and with no failure the run exits 77 too, so it never shows as passed.
"""
import os
import subprocess
import sys
import tempfile
from st_io import st_read, st_write

try:
    import numpy as np
except ImportError:  # reported in main(), like a missing torch
    np = None

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN_DIR = os.path.join(ROOT, "tests", "reference", "golden")

# Default float32 tolerance: |got - want| <= ATOL + RTOL * |want|.
RTOL, ATOL = 1e-4, 1e-5


# ---- a small safetensors reader and writer (no dependency on the safetensors package) ----


# ---- the cases: each returns (inputs, expected, tolerances) as numpy / {name: (rtol, atol)} ----
def _np(t):
    return t.detach().cpu().numpy().astype(np.float32)


def _leaf(torch, shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_(True)


def _single(torch, leaves, y, seed_dy=True):
    """Backpropagate a random dy (or from a scalar) and collect y and the leaves' gradients."""
    inputs, exp = {}, {}
    if seed_dy:
        dy = torch.randn(*y.shape)
        y.backward(dy)
        inputs["dy"] = _np(dy)
    else:
        y.backward()
    exp["y"] = _np(y).reshape(-1) if y.dim() == 0 else _np(y)
    for name, t in leaves.items():
        inputs[name] = _np(t)
        exp["grad." + name] = _np(t.grad)
    return inputs, exp, {}


def case_matmul_batched(torch, F):
    a, b = _leaf(torch, (3, 4, 5)), _leaf(torch, (3, 5, 6))
    return _single(torch, {"a": a, "b": b}, a @ b)


def case_matmul_bcast(torch, F):  # a 2-d b shared by every batch
    a, b = _leaf(torch, (2, 3, 4, 5)), _leaf(torch, (5, 6))
    return _single(torch, {"a": a, "b": b}, a @ b)


def case_matmul_tb(torch, F):  # a @ b^T: b a transposed view
    a, b = _leaf(torch, (7, 5)), _leaf(torch, (6, 5))
    return _single(torch, {"a": a, "b": b}, a @ b.t())


def case_matmul_batched_tb(torch, F):
    a, b = _leaf(torch, (3, 4, 5)), _leaf(torch, (3, 6, 5))
    return _single(torch, {"a": a, "b": b}, a @ b.transpose(1, 2))


def case_matmul_ta(torch, F):  # a^T @ b: a a transposed view
    a, b = _leaf(torch, (5, 7)), _leaf(torch, (5, 6))
    return _single(torch, {"a": a, "b": b}, a.t() @ b)


def case_linear(torch, F):
    x, w, b = _leaf(torch, (2, 3, 9)), _leaf(torch, (4, 9), 0.3), _leaf(torch, (4,))
    return _single(torch, {"x": x, "w": w, "b": b}, F.linear(x, w, b))


def case_softmax(torch, F):
    x = _leaf(torch, (3, 4, 10), 2.0)
    return _single(torch, {"x": x}, torch.softmax(x, -1))


def case_log_softmax(torch, F):
    x = _leaf(torch, (6, 33), 2.0)
    return _single(torch, {"x": x}, torch.log_softmax(x, -1))


def case_cross_entropy(torch, F):
    logits = _leaf(torch, (8, 12), 2.0)
    targets = torch.randint(0, 12, (8,))
    targets[3] = -100  # ignore_index: this row must not count in the loss or the mean
    loss = F.cross_entropy(logits, targets, ignore_index=-100)
    inputs, exp, tol = _single(torch, {"logits": logits}, loss, seed_dy=False)
    inputs["targets"] = targets.numpy().astype(np.int32)
    return inputs, exp, tol


def case_rmsnorm(torch, F):
    x, w = _leaf(torch, (4, 5, 32)), (1 + 0.1 * torch.randn(32)).requires_grad_(True)
    eps = 1e-6
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w
    return _single(torch, {"x": x, "w": w}, y)


def case_layernorm(torch, F):
    x = (torch.randn(6, 48) * 3 + 1).requires_grad_(True)
    w, b = (1 + 0.1 * torch.randn(48)).requires_grad_(True), _leaf(torch, (48,), 0.1)
    return _single(torch, {"x": x, "w": w, "b": b}, F.layer_norm(x, (48,), w, b, eps=1e-5))


def case_conv2d(torch, F):
    x, w, b = _leaf(torch, (2, 3, 9, 9)), _leaf(torch, (4, 3, 3, 3), 0.3), _leaf(torch, (4,), 0.1)
    return _single(torch, {"x": x, "w": w, "b": b}, F.conv2d(x, w, b, stride=2, padding=1))


def case_mlp_adamw(torch, F):
    """13-17-11 MLP, ReLU, biases, batch 5, MSE; 10 torch.optim.AdamW steps, lr 1e-2, betas
    (0.9, 0.999), eps 1e-8, weight decay 0.1 on the matrices, 0 on the biases."""
    x = torch.randn(5, 13).requires_grad_(True)
    target = torch.randn(5, 11)
    l1, l2 = torch.nn.Linear(13, 17), torch.nn.Linear(17, 11)
    params = {"w1": l1.weight, "b1": l1.bias, "w2": l2.weight, "b2": l2.bias}
    inputs = {"x": _np(x), "target": _np(target)}
    inputs.update({k: _np(v) for k, v in params.items()})
    opt = torch.optim.AdamW([{"params": [l1.weight, l2.weight], "weight_decay": 0.1},
                             {"params": [l1.bias, l2.bias], "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    exp, losses = {}, []
    for step in range(10):
        opt.zero_grad()
        y = l2(torch.relu(l1(x)))
        loss = ((y - target) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        if step == 0:
            exp["y"] = _np(y)
            exp["grad.x"] = _np(x.grad)
            for k, v in params.items():
                exp["grad." + k] = _np(v.grad)
        opt.step()
    exp["loss"] = np.array(losses, dtype=np.float32)
    for k, v in params.items():
        exp["param." + k] = _np(v)
    # Default tolerances hold: the measured worst parameter error after 10 steps is ~1e-6.
    tol = {}
    return inputs, exp, tol


CASES = [
    ("matmul_batched", case_matmul_batched, 101),
    ("matmul_bcast", case_matmul_bcast, 102),
    ("matmul_tb", case_matmul_tb, 103),
    ("matmul_batched_tb", case_matmul_batched_tb, 104),
    ("matmul_ta", case_matmul_ta, 105),
    ("linear", case_linear, 106),
    ("softmax", case_softmax, 107),
    ("log_softmax", case_log_softmax, 108),
    ("cross_entropy", case_cross_entropy, 109),
    ("rmsnorm", case_rmsnorm, 110),
    ("layernorm", case_layernorm, 111),
    ("conv2d", case_conv2d, 112),
    ("mlp_adamw", case_mlp_adamw, 113),
]


def compare(name, got, want, rtol, atol):
    """(ok, message)"""
    if got is None:
        return False, "missing from the output"
    if tuple(got.shape) != tuple(want.shape):
        return False, "shape %s, want %s" % (list(got.shape), list(want.shape))
    if not np.all(np.isfinite(got)):
        return False, "non-finite values"
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    bad = err > atol + rtol * np.abs(want.astype(np.float64))
    if bad.any():
        i = np.unravel_index(np.argmax(err - rtol * np.abs(want)), want.shape)
        return False, "%d of %d elements off (worst at %s: %.9g vs %.9g; rtol %g atol %g)" % (
            bad.sum(), bad.size, list(i), got[i], want[i], rtol, atol)
    return True, "max abs err %.2e" % err.max()


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    regen = "--regen" in argv
    if len(args) < 2:
        print("usage: test_golden.py <genc binary> <build dir> [--regen]", file=sys.stderr)
        return 2
    build = args[1]
    try:
        if np is None:
            raise ImportError("numpy is missing")
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        if os.environ.get("GENC_ALLOW_NO_TORCH") == "1":
            print("SKIP: PyTorch (or numpy) is not importable (%s); golden tests skipped because "
                  "GENC_ALLOW_NO_TORCH=1 (tests/unit/test_golden.c still checks the committed "
                  "golden files)" % e)
            print("0 passed, 0 failed, 1 skipped")
            return 77
        print("FAIL: PyTorch (or numpy) is not importable (%s); install python3-torch and python3-numpy for /usr/bin/python3 "
              "or set GENC_ALLOW_NO_TORCH=1 to skip" % e)
        print("0 passed, 1 failed")
        return 1
    tool = os.path.join(build, "golden_tool")
    if not os.access(tool, os.X_OK):
        print("FAIL: %s not found (build the golden_tool target)" % tool)
        print("0 passed, 1 failed")
        return 1
    torch.set_num_threads(1)
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory(prefix="genc_golden_") as tmp:
        for name, fn, seed in CASES:
            torch.manual_seed(seed)
            inputs, exp, tol = fn(torch, F)
            exp = {k: v.astype(np.float32) for k, v in exp.items()}
            tols = {k: tol.get(k, (RTOL, ATOL)) for k in exp}
            fin, fout = os.path.join(tmp, name + ".in"), os.path.join(tmp, name + ".out")
            st_write(fin, {"in." + k: v for k, v in inputs.items()})
            r = subprocess.run([tool, name, fin, fout], capture_output=True, text=True)
            if r.returncode != 0:
                failed += 1
                print("FAIL %s: golden_tool exited %d: %s" % (name, r.returncode, r.stderr.strip()))
                continue
            got, _ = st_read(fout)
            for k, want in exp.items():
                ok, msg = compare(k, got.get("out." + k), want, *tols[k])
                passed, failed = passed + ok, failed + (not ok)
                print("%s %s.%s: %s" % ("ok  " if ok else "FAIL", name, k, msg))
            extra = sorted(set(got) - {"out." + k for k in exp})
            if extra:
                failed += 1
                print("FAIL %s: unexpected outputs %s" % (name, extra))
            gpath = os.path.join(GOLDEN_DIR, name + ".golden")
            meta = {"case": name, "generator": "tests/reference/test_golden.py",
                    "torch": torch.__version__}
            meta.update({"tol." + k: "%g %g" % tols[k] for k in exp})
            if regen:
                os.makedirs(GOLDEN_DIR, exist_ok=True)
                tensors = {"in." + k: v for k, v in inputs.items()}
                tensors.update({"out." + k: v for k, v in exp.items()})
                st_write(gpath, tensors, meta)
            elif os.path.exists(gpath):
                # The committed file must still be what torch computes (when this torch
                # draws the same inputs from the seed; other versions may not).
                gold, _ = st_read(gpath)
                same_in = all(("in." + k) in gold and np.array_equal(gold["in." + k], v)
                              for k, v in inputs.items())
                if not same_in:
                    skipped += 1
                    print("SKIP %s: this torch draws other inputs than golden/%s.golden; "
                          "file not re-checked" % (name, name))
                else:
                    bad = [k for k in exp if not compare(k, gold.get("out." + k), exp[k], *tols[k])[0]]
                    ok = not bad and len(gold) == len(inputs) + len(exp)
                    passed, failed = passed + ok, failed + (not ok)
                    print("%s %s: golden file agrees with torch%s" % (
                        "ok  " if ok else "FAIL", name, "" if ok else " (stale: %s; rerun with --regen)" % bad))
            else:
                failed += 1
                print("FAIL %s: tests/reference/golden/%s.golden missing (rerun with --regen)" % (name, name))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 77 if skipped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
