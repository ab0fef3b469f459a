#!/usr/bin/python3
"""bench/mlp_train.py: training-step throughput of PyTorch on the same MLP as
bench/mlp_train.c (the genc half of the comparison; bench/run.sh runs both).

Model: 784-1000-1000-1000-784, ReLU between layers, batch 128, MSE against the input (an
autoencoder), torch.optim.AdamW (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on
the matrices, none on the biases), float32 on the CPU. Data: 8 fixed batches of uniform random
pixels, or the first 1024 Fashion-MNIST training images with --data fashion. A step is
zero_grad(set_to_none=True), forward, loss, backward, optimiser step.

Timing: --warmup steps untimed, then --blocks blocks of --steps steps; prints the median
block's steps/s (min/max too: the machine may be shared, so it is noisy) and a final line
"RESULT torch threads=T steps_per_s=X". torch.set_num_threads(--threads); set OMP_NUM_THREADS
to the same in the environment (bench/run.sh does).

    /usr/bin/python3 bench/mlp_train.py [--threads 2] [--steps 10] [--blocks 5] [--warmup 3]
                                        [--data random|fashion]
"""
import argparse
import gzip
import os
import statistics
import sys
import time

import torch

FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
BATCH, N_BATCHES, DIMS = 128, 8, [784, 1000, 1000, 1000, 784]


def load_data(kind):
    if kind == "fashion":
        with gzip.open(FASHION, "rb") as f:
            raw = f.read()
        n = BATCH * N_BATCHES
        px = torch.frombuffer(bytearray(raw[16:16 + n * 784]), dtype=torch.uint8)
        return (px.float() / 255).reshape(N_BATCHES, BATCH, 784)
    g = torch.Generator().manual_seed(99)
    return torch.rand(N_BATCHES, BATCH, 784, generator=g)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--data", choices=["random", "fashion"], default="random")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    layers = []
    for i in range(len(DIMS) - 1):
        layers.append(torch.nn.Linear(DIMS[i], DIMS[i + 1]))
        if i < len(DIMS) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    mats = [p for p in model.parameters() if p.dim() >= 2]
    vecs = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": mats, "weight_decay": 0.01}, {"params": vecs, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    xs = load_data(a.data)
    step, rates, loss = 0, [], None
    for blk in range(-1, a.blocks):
        n = a.warmup if blk < 0 else a.steps
        t0 = time.perf_counter()
        if blk == 0:
            cpu0, wall0 = time.process_time(), t0
        for _ in range(n):
            x = xs[step % N_BATCHES]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(model(x), x)
            loss.backward()
            opt.step()
            step += 1
        if blk >= 0:
            rates.append(n / (time.perf_counter() - t0))
    # CPU share of the timed part: < 100% means other processes took the cores.
    share = (time.process_time() - cpu0) / ((time.perf_counter() - wall0) * a.threads)
    med = statistics.median(rates)
    flops = sum(2.0 * BATCH * DIMS[l] * DIMS[l + 1] * (2 if l == 0 else 3) for l in range(len(DIMS) - 1))
    print("torch   threads=%d  %.2f steps/s (median of %d blocks of %d steps; min %.2f, max %.2f)  "
          "%.1f GFLOP/s in GEMMs  cpu %.0f%%  OMP_NUM_THREADS=%s  torch %s  final loss %.5f" % (
              a.threads, med, a.blocks, a.steps, min(rates), max(rates), flops * med * 1e-9, 100 * share,
              os.environ.get("OMP_NUM_THREADS", "unset"), torch.__version__, loss.item()))
    print("RESULT torch threads=%d steps_per_s=%.4f" % (a.threads, med))
    return 0


if __name__ == "__main__":
    sys.exit(main())
