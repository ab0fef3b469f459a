"""genc's NICE against a PyTorch NICE written here from shared/reference/image-models.md
(permutation, additive couplings y_b = x_b + m(x_a) alternating halves, ReLU MLPs, h = exp(s) * y,
log p(x) = sum_d log p_H(h_d) + sum_d s_d; logistic log p_H(h) = -softplus(h) - softplus(-h),
Gaussian -h^2/2 - log(2 pi)/2). PyTorch loads genc's checkpoint (weights, config, the stored
permutation) and computes in float64; genc computes in float32.

Checks, per example: log p(x) to 1e-5 relative + 1e-2 nats (fp32 sums of ~800 terms of size ~1);
h to 1e-4 absolute + 1e-5 relative; the gradient of the training loss -mean log p(x) for
every parameter to 1e-7 + 1e-5 max|ref grad| per tensor (measured: <= 0.03 of that); genc's inverse of h against PyTorch's to 1e-4, and against x.
Networks: 28x28 with 4 couplings of 2 x 64 ReLU (logistic prior), and 4x4 with 3 couplings of
3 x 16 (Gaussian prior).
Usage: test_nice.py <genc binary> <build dir>"""
import json, os, subprocess, sys, tempfile

import numpy as np
import torch
from st_io import st_read


# Gradients (genc float32 vs float64): |d| <= GRAD_ATOL + GRAD_RTOL * max|ref| per tensor, as
# the LM reference test (lm_fixture.cmp_scaled): float32 sums over examples and units carry
# rounding on the scale of the tensor's largest entries, not of each (possibly cancelled) entry.
GRAD_RTOL, GRAD_ATOL = 1e-5, 1e-7


class Nice:
    """The reference network, float64, from genc's checkpoint."""

    def __init__(self, path):
        t, meta = st_read(path)
        self.cfg = json.loads(meta["config"])
        self.perm = torch.from_numpy(t["extra.permutation"].astype(np.int64))
        self.D = self.cfg["rows"] * self.cfg["cols"]
        self.half = self.D // 2
        nl = self.cfg["layers"] + 1
        self.mlps = [[(torch.from_numpy(t[f"coupling.{k}.mlp.{l}.weight"].astype(np.float64)),
                       torch.from_numpy(t[f"coupling.{k}.mlp.{l}.bias"].astype(np.float64))) for l in range(nl)]
                     for k in range(self.cfg["couplings"])]
        self.s = torch.from_numpy(t["scale.s"].astype(np.float64))

    def names(self):
        """Parameter names in genc's checkpoint order (coupling-major, weight then bias; scale.s)."""
        return [f"coupling.{k}.mlp.{l}.{w}" for k in range(len(self.mlps)) for l in range(len(self.mlps[k]))
                for w in ("weight", "bias")] + ["scale.s"]

    def params(self):
        return [t for mlp in self.mlps for wb in mlp for t in wb] + [self.s]

    def m(self, k, a):
        for i, (w, b) in enumerate(self.mlps[k]):
            a = torch.nn.functional.linear(a, w, b)
            if i < len(self.mlps[k]) - 1:
                a = torch.relu(a)
        return a

    def forward(self, x):
        xp = x[:, self.perm]
        a, b = xp[:, :self.half], xp[:, self.half:]
        for k in range(len(self.mlps)):
            if k % 2 == 0:
                b = b + self.m(k, a)
            else:
                a = a + self.m(k, b)
        h = torch.cat([a, b], 1) * torch.exp(self.s)
        if self.cfg["prior"] == "gaussian":
            lp = (-0.5 * h * h - 0.5 * np.log(2 * np.pi)).sum(1)
        else:
            lp = -(torch.nn.functional.softplus(h) + torch.nn.functional.softplus(-h)).sum(1)
        return lp + self.s.sum(), h

    def inverse(self, h):
        y = h * torch.exp(-self.s)
        a, b = y[:, :self.half], y[:, self.half:]
        for k in reversed(range(len(self.mlps))):
            if k % 2 == 0:
                b = b - self.m(k, a)
            else:
                a = a - self.m(k, b)
        x = torch.empty_like(y)
        x[:, self.perm] = torch.cat([a, b], 1)
        return x


def run(tool, *args):
    r = subprocess.run([tool, "nice"] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: flow_tool nice {' '.join(map(str, args))}: {r.stderr.strip()}")


def check_case(tool, tmp, rows, cols, hidden, layers, couplings, prior, seed):
    ckpt = os.path.join(tmp, f"nice_{prior}.safetensors")
    run(tool, "init", ckpt, rows, cols, hidden, layers, couplings, prior, seed)
    ref = Nice(ckpt)
    D, N = ref.D, 12
    rng = np.random.default_rng(seed)
    levels = np.where(rng.random((N, D)) < 0.6, 0, rng.integers(0, 256, (N, D)))  # digit-like: mostly 0
    x = ((levels + rng.random((N, D))) / 256).astype(np.float32)
    xin, out = os.path.join(tmp, "x.f32"), os.path.join(tmp, "out.f32")
    x.tofile(xin)
    run(tool, "logp", ckpt, N, xin, out)
    got = np.fromfile(out, dtype=np.float32)
    g_lp, g_h = got[:N].astype(np.float64), got[N:].reshape(N, D).astype(np.float64)
    lp, h = ref.forward(torch.from_numpy(x.astype(np.float64)))
    lp, h = lp.numpy(), h.numpy()
    err_lp = np.abs(g_lp - lp) - (1e-5 * np.abs(lp) + 1e-2)
    err_h = np.abs(g_h - h) - (1e-5 * np.abs(h) + 1e-4)
    label = f"{rows}x{cols} {prior}"
    print(f"{label}: log p per example genc {g_lp[:3]} vs torch {lp[:3]}; max |dlogp| {np.abs(g_lp - lp).max():.3g}, "
          f"max |dh| {np.abs(g_h - h).max():.3g}")
    fails = []
    if err_lp.max() > 0:
        fails.append(f"{label}: log p differs by {np.abs(g_lp - lp).max()}")
    if err_h.max() > 0:
        fails.append(f"{label}: h differs by {np.abs(g_h - h).max()}")
    # the training gradient: d(-mean log p(x)) / d theta for every parameter, in checkpoint order
    gout = os.path.join(tmp, "grad.f32")
    run(tool, "grad", ckpt, N, xin, gout)
    g_all = np.fromfile(gout, dtype=np.float32).astype(np.float64)
    params = ref.params()
    for t in params:
        t.requires_grad_(True)
    (-ref.forward(torch.from_numpy(x.astype(np.float64)))[0].mean()).backward()
    off, worst, worst_name = 0, 0.0, ""
    if g_all.size != sum(t.numel() for t in params):
        fails.append(f"{label}: {g_all.size} gradient values, expected {sum(t.numel() for t in params)}")
    else:
        for name, t in zip(ref.names(), params):
            want = t.grad.numpy().ravel()
            got = g_all[off:off + want.size]
            off += want.size
            ratio = np.abs(got - want).max() / (GRAD_ATOL + GRAD_RTOL * np.abs(want).max())
            if ratio > worst:
                worst, worst_name = ratio, name
            if ratio > 1:
                fails.append(f"{label}: gradient of {name} differs by {np.abs(got - want).max():.3g} "
                             f"(max |ref| {np.abs(want).max():.3g}, {ratio:.3g} x tolerance)")
    print(f"{label}: gradients of {len(params)} tensors, worst {worst:.3g} x tolerance ({worst_name})")
    for t in params:
        t.requires_grad_(False)
    hin = os.path.join(tmp, "h.f32")
    h.astype(np.float32).tofile(hin)
    run(tool, "inverse", ckpt, N, hin, out)
    g_x = np.fromfile(out, dtype=np.float32).reshape(N, D)
    t_x = ref.inverse(torch.from_numpy(h.astype(np.float32).astype(np.float64))).numpy()
    print(f"{label}: inverse max |genc - torch| {np.abs(g_x - t_x).max():.3g}, max |genc - x| {np.abs(g_x - x).max():.3g}")
    if np.abs(g_x - t_x).max() > 1e-4 or np.abs(g_x - x).max() > 1e-4:
        fails.append(f"{label}: inverse differs")
    return fails


def main():
    build = sys.argv[2]
    tool = os.path.join(build, "flow_tool")
    with tempfile.TemporaryDirectory() as tmp:
        fails = check_case(tool, tmp, 28, 28, 64, 2, 4, "logistic", 11)
        fails += check_case(tool, tmp, 4, 4, 16, 3, 3, "gaussian", 12)
    for f in fails:
        print("FAIL:", f)
    print("test_nice:", "FAILED" if fails else "all passed")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
