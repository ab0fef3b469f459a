"""A DDPM (Ho et al. 2020) on MNIST digits with genc's U-Net, trained from Python; DDIM
sampling is a generator that yields the images after every denoising step.

    PYTHONPATH=build/python /usr/bin/python3 examples/diffusion.py [steps]
"""
import sys

import genc

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
unet = genc.UNet(base=16, levels=2, mult=[1, 2], res_blocks=1, groups=4, attn_heads=0, dropout=0.0)
print(unet)
sched = genc.DDPMSchedule("linear", T=1000)
opt = genc.AdamW(unet.parameters(), lr=2e-4, weight_decay=0.0)
loader = genc.DataLoader("mnist", batch_size=32, seed=1)
step = 0
while step < steps:
    for x, _ in loader:
        x0 = x * 2 - 1                                          # pixels to [-1, 1]
        t = [int(v * 999.999) for v in genc.rand(32).tolist()]  # uniform timesteps
        xt, target = sched.training_pair(x0, genc.randn(32, 784), t)
        opt.zero_grad()
        loss = genc.mse_loss(unet(xt, [float(v) for v in t]), target)
        loss.backward()
        opt.step()
        if step % 50 == 0:
            print(f"step {step}: loss {loss.item():.4f}")
        step += 1
        if step == steps:
            break
for k, t, x in unet.sample(4, "ddim", steps=10, schedule=sched, seed=1):   # yielded as produced
    print(f"DDIM step {k}: t = {t:.0f}, pixel range [{min(x.tolist()[0]):.2f}, {max(x.tolist()[0]):.2f}]")
