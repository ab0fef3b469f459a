"""NICE (Dinh et al. 2014) on MNIST digits: maximum likelihood with additive couplings, from
a Python loop over genc's DataLoader; reports bits per dimension and samples.

    PYTHONPATH=build/python /usr/bin/python3 examples/nice.py [steps]
"""
import math
import sys

import genc

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
flow = genc.NICE(hidden=256, layers=3, couplings=4)
print(flow)
# The NICE paper's Adam "beta2 = 0.01" means 1 - beta2: beta2 = 0.99, as `genc image train`
# uses. Taken literally (0.01) the second moment follows each batch's noise and training
# diverges (bits/dim 10 -> 25 -> NaN within 100 steps).
opt = genc.AdamW(flow.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-4, weight_decay=0.0)
loader = genc.DataLoader("mnist", batch_size=64, seed=1)
step = 0
while step < steps:
    for x, _ in loader:                                   # one shuffled epoch per pass
        x = (x * 255 + genc.rand(*x.shape)) / 256         # dequantise
        opt.zero_grad()
        nll = -flow(x).mean()
        if not math.isfinite(nll.item()):
            sys.exit(f"nice.py: the loss is {nll.item()} at step {step}: training diverged")
        nll.backward()
        opt.step()
        if step % 100 == 0:
            bpd = (nll.item() + 784 * math.log(256)) / (784 * math.log(2))
            print(f"step {step}: {bpd:.3f} bits/dim")
        step += 1
        if step == steps:
            break
samples = flow.sample(16, temperature=0.7, seed=1)       # [16, 784]
print("samples", samples)
if not all(math.isfinite(v) for row in samples.tolist() for v in row):
    sys.exit("nice.py: non-finite samples")
