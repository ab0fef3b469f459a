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
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import compare_images, genc_results  # noqa: E402

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
    r = genc_results(os.path.join(a.build, "bench_nice"),
                     ["--threads", a.threads, "--steps", a.steps, "--blocks", a.blocks, "--warmup", a.warmup,
                      "--hidden", a.hidden, "--layers", a.layers], a.threads)
    return r["train_images_per_s"], r["sample_images_per_s"]


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
    compare_images(a.rounds, lambda: genc_run(a), lambda: torch_run(a),
                   lambda t0: f"NICE {a.layers} x {a.hidden}, batch {BATCH}, {a.threads} threads (images/s; best round, median)")


if __name__ == "__main__":
    main()
