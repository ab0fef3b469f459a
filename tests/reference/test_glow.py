"""genc's Glow against a PyTorch Glow written here from the Glow paper (Kingma and Dhariwal,
arXiv 1807.03039) and include/genc/glow.h's description, not from genc's code: per level a 2x2
squeeze (openai/glow's channel order), flow steps of actnorm y = (x + b) exp(logs), invertible
1x1 convolution with W = P L (U + diag(sign exp(log_s))), affine coupling
y_b = (x_b + shift) sigmoid(raw + 2) with (shift, raw) = NN(x_a); between levels a split whose
conv3x3 of z1 gives (mean, logs) and eps = (z2 - mean) exp(-logs). PyTorch loads genc's
checkpoint (weights, config, the stored P and signs) and computes in float64; genc in float32.

Checks, per example: log p(x) to 1e-5 relative + 2e-2 nats; h to 1e-4 absolute + 1e-4
relative; genc's inverse of h against PyTorch's and against x to 1e-4. Networks: 28x28 with
2 levels of 2 steps, hidden 16; 8x8 with 3 levels of 1 step, hidden 8.
Usage: test_glow.py <genc binary> <build dir>"""
import json, os, subprocess, sys, tempfile

import numpy as np
import torch
import torch.nn.functional as F
from st_io import st_read


def squeeze(x):
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def unsqueeze(x):
    n, c, h, w = x.shape
    x = x.reshape(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, h * 2, w * 2)


class Glow:
    """The reference network, float64, from genc's checkpoint."""

    def __init__(self, path):
        t, meta = st_read(path)
        self.cfg = json.loads(meta["config"])
        g = lambda name: torch.from_numpy(t[name].astype(np.float64))
        self.levels = []
        for l in range(self.cfg["levels"]):
            steps = []
            for k in range(self.cfg["steps"]):
                p = f"level.{l}.step.{k}."
                s = {n: g(p + n) for n in ["actnorm.bias", "actnorm.logs", "invconv.lower", "invconv.upper",
                                           "invconv.log_s", "coupling.conv1.weight", "coupling.conv1.bias",
                                           "coupling.conv2.weight", "coupling.conv2.bias", "coupling.conv3.weight",
                                           "coupling.conv3.bias"]}
                s["perm"] = torch.from_numpy(t[f"extra.{p}invconv.perm"].astype(np.int64))
                s["sign"] = torch.from_numpy(t[f"extra.{p}invconv.sign"].astype(np.float64))
                steps.append(s)
            split = None
            if l < self.cfg["levels"] - 1:
                split = (g(f"level.{l}.split.weight"), g(f"level.{l}.split.bias"))
            self.levels.append((steps, split))

    @staticmethod
    def weight(s):
        C = s["invconv.log_s"].shape[0]
        L = torch.tril(s["invconv.lower"], -1) + torch.eye(C, dtype=torch.float64)
        U = torch.triu(s["invconv.upper"], 1) + torch.diag(s["sign"] * torch.exp(s["invconv.log_s"]))
        P = torch.zeros(C, C, dtype=torch.float64)
        P[s["perm"], torch.arange(C)] = 1.0  # row perm[i] of P M is row i of M
        return P @ L @ U

    @staticmethod
    def nn(s, xa):
        h = F.relu(F.conv2d(xa, s["coupling.conv1.weight"], s["coupling.conv1.bias"], padding=1))
        h = F.relu(F.conv2d(h, s["coupling.conv2.weight"], s["coupling.conv2.bias"]))
        h = F.conv2d(h, s["coupling.conv3.weight"], s["coupling.conv3.bias"], padding=1)
        c = h.shape[1] // 2
        return h[:, :c], h[:, c:] + 2.0

    def forward(self, x):
        n = x.shape[0]
        z = x.reshape(n, 1, self.cfg["rows"], self.cfg["cols"])
        logdet = torch.zeros(n, dtype=torch.float64)
        outs = []
        for steps, split in self.levels:
            z = squeeze(z)
            hw = z.shape[2] * z.shape[3]
            for s in steps:
                z = (z + s["actnorm.bias"]) * torch.exp(s["actnorm.logs"])
                logdet = logdet + hw * s["actnorm.logs"].sum()
                z = F.conv2d(z, self.weight(s)[:, :, None, None])
                logdet = logdet + hw * s["invconv.log_s"].sum()
                c = z.shape[1] // 2
                xa, xb = z[:, :c], z[:, c:]
                shift, raw = self.nn(s, xa)
                z = torch.cat([xa, (xb + shift) * torch.sigmoid(raw)], 1)
                logdet = logdet + F.logsigmoid(raw).reshape(n, -1).sum(1)
            if split is not None:
                c = z.shape[1] // 2
                z1, z2 = z[:, :c], z[:, c:]
                h = F.conv2d(z1, split[0], split[1], padding=1)
                mean, logs = h[:, :c], h[:, c:]
                outs.append(((z2 - mean) * torch.exp(-logs)).reshape(n, -1))
                logdet = logdet - logs.reshape(n, -1).sum(1)
                z = z1
        outs.append(z.reshape(n, -1))
        h = torch.cat(outs, 1)
        lp = (-0.5 * h * h - 0.5 * np.log(2 * np.pi)).sum(1) + logdet
        return lp, h

    def inverse(self, h):
        n = h.shape[0]
        shapes, C, H, W = [], 1, self.cfg["rows"], self.cfg["cols"]
        for steps, split in self.levels:
            C, H, W = C * 4, H // 2, W // 2
            shapes.append((C, H, W))
            if split is not None:
                C //= 2
        sizes = [(c - c // 2) * hh * ww if sp is not None else c * hh * ww
                 for (c, hh, ww), (_, sp) in zip(shapes, self.levels)]
        parts = torch.split(h, sizes, 1)
        z = None
        for l in reversed(range(len(self.levels))):
            steps, split = self.levels[l]
            c, hh, ww = shapes[l]
            if split is None:
                z = parts[l].reshape(n, c, hh, ww)
            else:
                eps = parts[l].reshape(n, c - c // 2, hh, ww)
                hs = F.conv2d(z, split[0], split[1], padding=1)
                mean, logs = hs[:, :c // 2], hs[:, c // 2:]
                z = torch.cat([z, eps * torch.exp(logs) + mean], 1)
            for s in reversed(steps):
                half = c // 2
                ya, yb = z[:, :half], z[:, half:]
                shift, raw = self.nn(s, ya)
                z = torch.cat([ya, yb / torch.sigmoid(raw) - shift], 1)
                z = F.conv2d(z, torch.inverse(self.weight(s))[:, :, None, None])
                z = z * torch.exp(-s["actnorm.logs"]) - s["actnorm.bias"]
            z = unsqueeze(z)
        return z.reshape(n, -1)


def run(tool, *args):
    r = subprocess.run([tool, "glow"] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: flow_tool glow {' '.join(map(str, args))}: {r.stderr.strip()}")


def check_case(tool, tmp, rows, cols, levels, steps, hidden, seed):
    ckpt = os.path.join(tmp, f"glow_{rows}.safetensors")
    run(tool, "init", ckpt, rows, cols, levels, steps, hidden, seed)
    ref = Glow(ckpt)
    D, N = rows * cols, 10
    rng = np.random.default_rng(seed)
    lv = np.where(rng.random((N, D)) < 0.6, 0, rng.integers(0, 256, (N, D)))  # digit-like: mostly 0
    x = ((lv + rng.random((N, D))) / 256).astype(np.float32)
    xin, out = os.path.join(tmp, "x.f32"), os.path.join(tmp, "out.f32")
    x.tofile(xin)
    run(tool, "logp", ckpt, N, xin, out)
    got = np.fromfile(out, dtype=np.float32)
    g_lp, g_h = got[:N].astype(np.float64), got[N:].reshape(N, D).astype(np.float64)
    with torch.no_grad():
        lp, h = ref.forward(torch.from_numpy(x.astype(np.float64)))
    lp, h = lp.numpy(), h.numpy()
    label = f"{rows}x{cols} levels {levels} steps {steps}"
    print(f"{label}: log p genc {g_lp[:3]} vs torch {lp[:3]}; max |dlogp| {np.abs(g_lp - lp).max():.3g}, "
          f"max |dh| {np.abs(g_h - h).max():.3g}")
    fails = []
    if (np.abs(g_lp - lp) - (1e-5 * np.abs(lp) + 2e-2)).max() > 0:
        fails.append(f"{label}: log p differs by {np.abs(g_lp - lp).max()}")
    if (np.abs(g_h - h) - (1e-4 * np.abs(h) + 1e-4)).max() > 0:
        fails.append(f"{label}: h differs by {np.abs(g_h - h).max()}")
    hin = os.path.join(tmp, "h.f32")
    h.astype(np.float32).tofile(hin)
    run(tool, "inverse", ckpt, N, hin, out)
    g_x = np.fromfile(out, dtype=np.float32).reshape(N, D)
    with torch.no_grad():
        t_x = ref.inverse(torch.from_numpy(h.astype(np.float32).astype(np.float64))).numpy()
    print(f"{label}: inverse max |genc - torch| {np.abs(g_x - t_x).max():.3g}, "
          f"torch max |inverse - x| {np.abs(t_x - x).max():.3g}, genc max |inverse - x| {np.abs(g_x - x).max():.3g}")
    if np.abs(g_x - t_x).max() > 1e-4 or np.abs(g_x - x).max() > 1e-4:
        fails.append(f"{label}: inverse differs")
    return fails


def main():
    build = sys.argv[2]
    tool = os.path.join(build, "flow_tool")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        fails = check_case(tool, tmp, 28, 28, 2, 2, 16, 21)
        fails += check_case(tool, tmp, 8, 8, 3, 1, 8, 22)
    for f in fails:
        print("FAIL:", f)
    print("test_glow:", "FAILED" if fails else "all passed")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
