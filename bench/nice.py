#!/usr/bin/python3
"""bench/nice.py: NICE training and sampling images/s, genc (build/bench_nice, bench/nice.c) vs
PyTorch running the same network here, at the same thread count, and the ratio genc / PyTorch.

Network (both sides): 784 pixels, a fixed permutation, 4 additive couplings alternating halves of
392, each a ReLU MLP of --layers x --hidden (default 5 x 1000, the paper's; 19.2M parameters),
diagonal scaling, logistic prior. Train step: batch 200 of fixed uniform inputs, loss = -mean
log p(x), backward, Adam (lr 1e-3, betas 0.9/0.99, eps 1e-4), float32. Sampling: 200 logistic
latents inverted under torch.no_grad(). --rounds rounds alternate genc and PyTorch, so drift in
the load of a shared machine hits both; the table shows each side's best round (the least
disturbed) and the median.

    /usr/bin/python3 bench/nice.py [--build build] [--threads 2] [--steps 5] [--blocks 3] [--rounds 2]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import torch

BATCH, D = 200, 784


class Nice(torch.nn.Module):
    def __init__(self, hidden, layers, couplings=4):
        super().__init__()
        self.register_buffer("perm", torch.randperm(D))
        half = D // 2

        def mlp():
            mods, width = [], half
            for _ in range(layers):
                mods += [torch.nn.Linear(width, hidden), torch.nn.ReLU()]
                width = hidden
            return torch.nn.Sequential(*mods, torch.nn.Linear(width, half))

        self.m = torch.nn.ModuleList([mlp() for _ in range(couplings)])
        self.s = torch.nn.Parameter(torch.zeros(D))

    def log_prob(self, x):
        xp = x[:, self.perm]
        a, b = xp[:, :D // 2], xp[:, D // 2:]
        for k, m in enumerate(self.m):
            if k % 2 == 0:
                b = b + m(a)
            else:
                a = a + m(b)
        h = torch.cat([a, b], 1) * torch.exp(self.s)
        lp = -(torch.nn.functional.softplus(h) + torch.nn.functional.softplus(-h)).sum(1)
        return lp + self.s.sum()

    @torch.no_grad()
    def sample(self, n):
        u = torch.rand(n, D).clamp_min(1e-12)
        y = (torch.log(u) - torch.log1p(-u)) * torch.exp(-self.s)
        a, b = y[:, :D // 2], y[:, D // 2:]
        for k in reversed(range(len(self.m))):
            if k % 2 == 0:
                b = b - self.m[k](a)
            else:
                a = a - self.m[k](b)
        x = torch.empty_like(y)
        x[:, self.perm] = torch.cat([a, b], 1)
        return x


def torch_run(a):
    torch.manual_seed(1234)
    model = Nice(a.hidden, a.layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-4)
    x = torch.rand(BATCH, D)

    def train(n):
        t0 = time.perf_counter()
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = -model.log_prob(x).mean()
            loss.backward()
            opt.step()
        return n * BATCH / (time.perf_counter() - t0)

    def sample(n):
        t0 = time.perf_counter()
        for _ in range(n):
            model.sample(BATCH)
        return n * BATCH / (time.perf_counter() - t0)

    train(a.warmup), sample(a.warmup)
    tr = statistics.median([train(a.steps) for _ in range(a.blocks)])
    sa = statistics.median([sample(a.steps) for _ in range(a.blocks)])
    return tr, sa


def genc_run(a):
    exe = os.path.join(a.build, "bench_nice")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    out = subprocess.run([exe, "--threads", str(a.threads), "--steps", str(a.steps), "--blocks", str(a.blocks),
                          "--warmup", str(a.warmup), "--hidden", str(a.hidden), "--layers", str(a.layers)],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"bench_nice failed: {out.stderr.strip()}")
    vals = dict(line.split()[2].split("=") for line in out.stdout.splitlines() if line.startswith("RESULT"))
    return float(vals["train_images_per_s"]), float(vals["sample_images_per_s"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=1000)
    ap.add_argument("--layers", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g, t = [], []
    for r in range(a.rounds):
        g.append(genc_run(a))
        t.append(torch_run(a))
        print(f"round {r + 1}: genc train {g[-1][0]:.1f} sample {g[-1][1]:.1f} images/s; "
              f"torch train {t[-1][0]:.1f} sample {t[-1][1]:.1f} images/s", flush=True)
    print(f"\nNICE {a.layers} x {a.hidden}, batch {BATCH}, {a.threads} threads (images/s; best round, median)")
    for i, what in enumerate(["train", "sample"]):
        gb, tb = max(x[i] for x in g), max(x[i] for x in t)
        gm, tm = statistics.median(x[i] for x in g), statistics.median(x[i] for x in t)
        print(f"  {what:6s} genc {gb:8.1f} ({gm:8.1f})   torch {tb:8.1f} ({tm:8.1f})   genc/torch {gb / tb:.2f}")


if __name__ == "__main__":
    main()
