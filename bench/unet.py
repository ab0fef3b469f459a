#!/usr/bin/python3
"""bench/unet.py: diffusion U-Net training and sampling images/s, genc (build/bench_unet, bench/unet.c)
vs PyTorch running the same network here, at the same thread count, and the ratio genc / PyTorch.

Network (both sides): genc_unet_defaults() with 10 classes: 28x28x1, conv_in to 32 channels; levels
of 32, 64, 64 channels at 28, 14, 7 with 2 residual blocks each (GN(8)-SiLU-conv3x3, + Linear of the
time embedding, GN-SiLU-dropout 0.1-conv3x3, 1x1 skip when widths change) and stride-2 3x3 convs;
middle residual block, 4-head self-attention over the 49 positions, residual block; up path of
3 blocks per level on [features, skip] concatenations with nearest 2x upsampling + conv3x3; GN,
SiLU, conv_out. Time embedding: sinusoid(32) -> Linear(32, 128) -> SiLU -> Linear(128, 128),
plus a class embedding; 1.54M parameters (--base and --res-blocks change the width and depth on
both sides). Train step: batch --batch (64) of fixed random images,
times and labels, loss = mean((out - eps)^2), backward, AdamW (lr 2e-4, weight decay 0.01),
float32. Sampling: one network evaluation of --sample-batch (256) under torch.no_grad() (images/s
per network evaluation). --rounds rounds alternate genc and PyTorch; the table shows each side's
best round (the least disturbed on a shared machine) and the median; each side also prints its CPU
seconds per step (process time over all threads), which a loaded machine disturbs less.

    /usr/bin/python3 bench/unet.py [--build build] [--threads 2] [--steps 3] [--blocks 3] [--rounds 2]
                                   [--batch 64] [--sample-batch 256] [--classes 10] [--base 32] [--res-blocks 2]
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from side_by_side import compare_images, genc_results  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F

D = 784


class Res(nn.Module):
    def __init__(self, cin, cout, temb, groups=8, dropout=0.1):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(temb, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, h, st):
        a = self.conv1(F.silu(self.norm1(h))) + self.temb(st)[:, :, None, None]
        a = self.conv2(self.drop(F.silu(self.norm2(a))))
        return self.skip(h) + a


class Attn(nn.Module):
    def __init__(self, ch, heads, groups=8):
        super().__init__()
        self.heads, self.norm = heads, nn.GroupNorm(groups, ch)
        self.q, self.k, self.v, self.proj = (nn.Linear(ch, ch) for _ in range(4))

    def forward(self, h):
        N, C, H, W = h.shape
        a = self.norm(h).reshape(N, C, H * W).transpose(1, 2)
        q, k, v = (f(a).reshape(N, H * W, self.heads, C // self.heads).transpose(1, 2) for f in (self.q, self.k, self.v))
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // self.heads), dim=-1)
        o = self.proj((w @ v).transpose(1, 2).reshape(N, H * W, C))
        return h + o.transpose(1, 2).reshape(N, C, H, W)


class UNet(nn.Module):
    def __init__(self, base=32, mult=(1, 2, 2), res_blocks=2, heads=4, classes=10):
        super().__init__()
        temb, self.base, self.levels, self.rb = 4 * base, base, len(mult), res_blocks
        self.time = nn.Sequential(nn.Linear(base, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.class_emb = nn.Embedding(classes + 1, temb) if classes else None
        self.conv_in = nn.Conv2d(1, base, 3, padding=1)
        self.down, skips, ch = nn.ModuleList(), [base], base
        for l, m in enumerate(mult):
            for _ in range(res_blocks):
                self.down.append(Res(ch, base * m, temb))
                ch = base * m
                skips.append(ch)
            if l < len(mult) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = nn.ModuleList([Res(ch, ch, temb), Attn(ch, heads), Res(ch, ch, temb)])
        self.up = nn.ModuleList()
        for l in reversed(range(len(mult))):
            for _ in range(res_blocks + 1):
                self.up.append(Res(ch + skips.pop(), base * mult[l], temb))
                ch = base * mult[l]
            if l > 0:
                self.up.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.norm_out, self.conv_out = nn.GroupNorm(8, ch), nn.Conv2d(ch, 1, 3, padding=1)

    def forward(self, x, t, labels):
        half = self.base // 2
        f = torch.exp(-math.log(10000.0) * torch.arange(half) / (half - 1))
        a = t[:, None] * f[None]
        e = self.time(torch.cat([torch.sin(a), torch.cos(a)], 1))
        if self.class_emb is not None:
            e = e + self.class_emb(labels)
        st = F.silu(e)
        h = self.conv_in(x.reshape(-1, 1, 28, 28))
        hs = [h]
        for mod in self.down:
            h = mod(h, st) if isinstance(mod, Res) else mod(h)
            hs.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, st)), st)
        for mod in self.up:
            if isinstance(mod, Res):
                h = mod(torch.cat([h, hs.pop()], 1), st)
            else:
                h = mod(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h))).reshape(x.shape[0], -1)


def torch_run(a):
    torch.manual_seed(1234)
    model = UNet(base=a.base, res_blocks=a.res_blocks, classes=a.classes)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4)
    nb = max(a.batch, a.sample_batch)
    x, eps = torch.randn(nb, D), torch.randn(nb, D)
    t, labels = torch.randint(0, 1000, (nb,)).float(), torch.randint(0, a.classes + 1, (nb,))

    def train(n):
        model.train()
        t0 = time.perf_counter()
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = (model(x[:a.batch], t[:a.batch], labels[:a.batch]) - eps[:a.batch]).square().mean()
            loss.backward()
            opt.step()
        return n * a.batch / (time.perf_counter() - t0)

    @torch.no_grad()
    def sample(n):
        model.eval()
        t0 = time.perf_counter()
        for _ in range(n):
            model(x[:a.sample_batch], t[:a.sample_batch], labels[:a.sample_batch])
        return n * a.sample_batch / (time.perf_counter() - t0)

    train(a.warmup), sample(a.warmup)
    c0 = time.process_time()
    tr = statistics.median([train(a.steps) for _ in range(a.blocks)])
    c1 = time.process_time()
    sa = statistics.median([sample(a.steps) for _ in range(a.blocks)])
    c2 = time.process_time()
    n = a.steps * a.blocks
    print(f"torch: {(c1 - c0) / n:.2f} CPU-s per training step, {(c2 - c1) / n:.2f} CPU-s per network evaluation "
          f"(batch {a.sample_batch})", flush=True)
    return tr, sa, sum(p.numel() for p in model.parameters())


def genc_run(a):
    r = genc_results(os.path.join(a.build, "bench_unet"),
                     ["--threads", a.threads, "--steps", a.steps, "--blocks", a.blocks, "--warmup", a.warmup,
                      "--batch", a.batch, "--sample-batch", a.sample_batch, "--classes", a.classes, "--base", a.base,
                      "--res-blocks", a.res_blocks], a.threads, echo=("training step", "sampling"))
    return r["train_images_per_s"], r["sample_images_per_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--sample-batch", type=int, default=256)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--base", type=int, default=32)
    ap.add_argument("--res-blocks", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    compare_images(a.rounds, lambda: genc_run(a), lambda: torch_run(a),
                   lambda t0: f"U-Net ({t0[2]} parameters), train batch {a.batch}, sample batch {a.sample_batch}, "
                   f"{a.threads} threads (images/s; best round, median)")


if __name__ == "__main__":
    main()
