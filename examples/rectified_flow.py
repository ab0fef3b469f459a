"""Rectified flow (Liu et al. 2022) on MNIST digits with genc's U-Net: regress the velocity
x1 - z along straight paths, then integrate the ODE with a sampler generator that yields
every Euler step.

    PYTHONPATH=build/python /usr/bin/python3 examples/rectified_flow.py [steps]
"""
import sys

import genc

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
unet = genc.UNet(base=16, levels=2, mult=[1, 2], res_blocks=1, groups=4, attn_heads=0, dropout=0.0)
opt = genc.AdamW(unet.parameters(), lr=3e-4, weight_decay=0.0)
loader = genc.DataLoader("mnist", batch_size=32, seed=2)
step = 0
while step < steps:
    for x, _ in loader:
        t = genc.rand(32)
        xt, v = genc.rflow_training_pair(x * 2 - 1, genc.randn(32, 784), t)
        opt.zero_grad()
        loss = genc.mse_loss(unet(xt, (t * 1000).tolist()), v)     # the U-Net's time units
        loss.backward()
        opt.step()
        if step % 50 == 0:
            print(f"step {step}: loss {loss.item():.4f}")
        step += 1
        if step == steps:
            break
for k, t, x in unet.sample(4, "rflow", steps=8, seed=3, ode="euler"):
    print(f"Euler step {k}: t = {t:.3f}, mean pixel {sum(x.tolist()[0]) / 784:+.3f}")
