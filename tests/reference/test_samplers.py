"""genc's diffusion and rectified-flow samplers (include/genc/diffusion.h) against a numpy
reference written here from shared/reference/image-models.md and the papers (DDPM Ho et al. 2020
eq. 4/7; DDIM Song et al. eq. 12/16; rectified flow Liu et al.; cosine schedule Nichol & Dhariwal
eq. 17; diffusers' DDIMScheduler.set_timesteps spacings with steps_offset 0).

The network is a fixed fake one, out = A x + b (t / tscale) (tscale = T for DDPM/DDIM, 1 for the
flow), run by tests/reference/sampler_tool.c, which dumps every state of the trajectory and the
exact Philox noise genc draws (x_T and the noise of every step), so the reference uses the same
noise. The reference computes in float64; genc keeps its state in float32.

Checks:
- beta / alpha_bar of linear, scaled_linear, cosine (T = 1000) against the formulas: 1e-12 rel.
- DDIM timestep lists for every spacing against numpy over many (T, S) (exact), and the sheet's
  T = 1000, S = 10 lists; noise is per-sample (chunked == whole) and the step noises differ.
- Training pairs (DDPM eps / v / x0, rectified flow): 1e-6 relative.
- Every sampler step by step (teacher forced: the reference takes genc's state k and computes
  state k+1): |genc - ref| <= 1e-5 (|ref| + rms(ref)) per element, rms over the step's states
  (the rms floor absorbs the float32 cancellation in x0 = (x - sqrt(1-a) eps) / sqrt(a)).
  Configurations: DDPM fixed small / large x clip on/off x eps / v (+ x0); DDIM eta 0 / 0.5 / 1
  x uniform / trailing / linspace / quadratic x clip on/off x eps / v (+ x0, cosine schedule);
  DDIM inversion (eps, v, x0); rectified flow Euler and Heun.
- The free-running trajectories (reference from genc's start, never corrected), to the same
  1e-5 (|ref| + rms(ref)): float32 rounding compounds over up to 1000 steps but stays ~1e-6 here.
- Straightness against sum_k dt ||(Z1 - Z0) - v_k||^2 on the reference's float64 Euler path: 1e-5 rel.
Usage: test_samplers.py <genc binary> <build dir>"""
import os, subprocess, sys, tempfile

import numpy as np

T_DEFAULT = 1000
N, D = 6, 5


def run(tool, *args):
    r = subprocess.run([tool] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: sampler_tool {' '.join(map(str, args))}: {r.stderr.strip()}")


# ---------------- schedules and timesteps (reference formulas) ----------------

def ref_schedule(kind, T, b0=1e-4, b1=0.02):
    if kind == "linear":
        beta = np.linspace(b0, b1, T)
    elif kind == "scaled_linear":
        beta = np.linspace(b0 ** 0.5, b1 ** 0.5, T) ** 2
    else:
        f = lambda u: np.cos((u + 0.008) / 1.008 * np.pi / 2) ** 2
        t = np.arange(T)
        beta = np.minimum(1 - f((t + 1) / T) / f(t / T), 0.999)
    return beta, np.cumprod(1 - beta)


def ref_timesteps(T, S, spacing):
    if spacing == "uniform":  # diffusers "leading"
        ts = (np.arange(0, S) * (T // S)).round()[::-1]
    elif spacing == "trailing":
        ts = (np.round(np.arange(T, 0, -T / S)) - 1)[:S]  # numpy can yield S+1 entries; genc keeps S
    elif spacing == "linspace":
        ts = np.linspace(0, T - 1, S).round()[::-1]
    else:
        ts = np.array([int(s) for s in np.linspace(0, np.sqrt(0.8 * T), S) ** 2])[::-1]
    return np.asarray(ts, dtype=np.int64)


def check_schedules(tool, tmp, fails):
    out = os.path.join(tmp, "sched.f64")
    for kind in ["linear", "scaled_linear", "cosine"]:
        run(tool, "schedule", kind, T_DEFAULT, 1e-4 if kind == "linear" else 8.5e-4, 0.02 if kind == "linear" else 0.012, out)
        g = np.fromfile(out, dtype=np.float64).reshape(2, T_DEFAULT)
        b, ab = ref_schedule(kind, T_DEFAULT, 1e-4 if kind == "linear" else 8.5e-4, 0.02 if kind == "linear" else 0.012)
        # beta = 1 - f(t+1)/f(t) cancels when beta is small (cosine: beta[1] ~ 5e-5), so one ulp of
        # the ratio (1.1e-16 absolute; numpy's vectorised cos and libm's may differ by one) is
        # ~2e-12 of beta there: betas are compared relative to max(beta, 1e-3), i.e. ~4.5 ulp of
        # 1.0 absolute for the small ones (a wrong formula or constant is off by far more); alpha_bar relative.
        err = max(np.max(np.abs(g[0] - b) / np.maximum(b, 1e-3)), np.max(np.abs(g[1] - ab) / ab))
        print(f"schedule {kind}: alpha_bar[0] {g[1][0]:.9g}, [999] {g[1][-1]:.6g}; max rel err {err:.3g}")
        if err > 1e-12:
            fails.append(f"schedule {kind}: rel err {err}")


def check_timesteps(tool, tmp, fails):
    out = os.path.join(tmp, "ts.i32")
    expect = {"uniform": list(range(900, -1, -100)), "trailing": list(range(999, 98, -100)),
              "linspace": [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]}
    count = 0
    for sp in ["uniform", "trailing", "linspace", "quadratic"]:
        for T in [1000, 999, 50, 7]:
            for S in sorted({1, 2, 3, 7, 10, 30, 50, 100, 333, T}):
                if S > T:
                    continue
                run(tool, "timesteps", T, S, sp, out)
                g = np.fromfile(out, dtype=np.int32)
                r = ref_timesteps(T, S, sp)
                count += 1
                if not np.array_equal(g, r):
                    fails.append(f"timesteps {sp} T={T} S={S}: genc {g[:8]}... numpy {r[:8]}...")
                if T == 1000 and S == 10 and sp in expect and list(g) != expect[sp]:
                    fails.append(f"timesteps {sp} T=1000 S=10: {list(g)}")
        run(tool, "timesteps", 1000, 10, sp, out)
        print(f"timesteps {sp} T=1000 S=10: {list(np.fromfile(out, dtype=np.int32))}")
    print(f"timesteps: {count} (T, S, spacing) lists compared with numpy")


def check_noise(tool, tmp, fails):
    a, b = os.path.join(tmp, "na.f32"), os.path.join(tmp, "nb.f32")
    run(tool, "noise", 42, 0, 10, D, 3, a)
    run(tool, "noise", 42, 3, 5, D, 3, b)
    whole = np.fromfile(a, dtype=np.float32).reshape(4, 10, D)
    part = np.fromfile(b, dtype=np.float32).reshape(4, 5, D)
    if not np.array_equal(whole[:, 3:8], part):
        fails.append("noise: chunk (first 3, n 5) differs from rows 3..7 of the whole batch")
    if any(np.array_equal(whole[i], whole[j]) for i in range(4) for j in range(i)):
        fails.append("noise: two steps drew the same noise")
    big = os.path.join(tmp, "nbig.f32")
    run(tool, "noise", 7, 0, 20000, 4, 0, big)
    z = np.fromfile(big, dtype=np.float32)
    print(f"noise: mean {z.mean():.4f} std {z.std():.4f} over {z.size} draws")
    if abs(z.mean()) > 0.01 or abs(z.std() - 1) > 0.01:  # 5 standard errors at 80,000 draws
        fails.append(f"noise: mean {z.mean()} std {z.std()}")


def check_pairs(tool, tmp, fails):
    rng = np.random.default_rng(3)
    x, e = rng.standard_normal((N, D)).astype(np.float32), rng.standard_normal((N, D)).astype(np.float32)
    xf, ef, tf, out = [os.path.join(tmp, n) for n in ("px.f32", "pe.f32", "pt.bin", "pout.f32")]
    x.tofile(xf), e.tofile(ef)
    t = rng.integers(0, T_DEFAULT, N).astype(np.int32)
    t.tofile(tf)
    _, ab = ref_schedule("cosine", T_DEFAULT)
    sa, sb = np.sqrt(ab[t])[:, None], np.sqrt(1 - ab[t])[:, None]
    xd, ed = x.astype(np.float64), e.astype(np.float64)
    for pred, target in [("epsilon", ed), ("v", sa * ed - sb * xd), ("sample", xd)]:
        run(tool, "pair", "ddpm", "cosine", T_DEFAULT, pred, N, D, xf, ef, tf, out)
        g = np.fromfile(out, dtype=np.float32).reshape(2, N, D)
        err = max(np.max(np.abs(g[0] - (sa * xd + sb * ed))), np.max(np.abs(g[1] - target)))
        if err > 1e-6 * 4:
            fails.append(f"ddpm pair {pred}: err {err}")
    tt = rng.random(N).astype(np.float32)
    tt.tofile(tf)
    run(tool, "pair", "rflow", "linear", T_DEFAULT, "epsilon", N, D, xf, ef, tf, out)
    g = np.fromfile(out, dtype=np.float32).reshape(2, N, D)
    td = tt.astype(np.float64)[:, None]
    err = max(np.max(np.abs(g[0] - (td * xd + (1 - td) * ed))), np.max(np.abs(g[1] - (xd - ed))))
    print(f"training pairs: rectified flow max err {err:.3g}")
    if err > 1e-6 * 4:
        fails.append(f"rflow pair: err {err}")


# ---------------- reference samplers ----------------

class FakeNet:
    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.A = 0.9 * np.eye(D) + 0.1 * rng.standard_normal((D, D)) / np.sqrt(D)
        self.b = 0.3 * rng.standard_normal(D)

    def __call__(self, x, t, tscale):
        return x @ self.A.T + self.b * (t / tscale)

    def save(self, path):
        np.concatenate([self.A.ravel(), self.b]).astype(np.float64).tofile(path)


def split(pred, a, x, m):
    """network output m -> (x0, eps) at alpha_bar a."""
    sa, sb = np.sqrt(a), np.sqrt(1 - a)
    if pred == "epsilon":
        return (x - sb * m) / sa, m
    if pred == "v":
        return sa * x - sb * m, sa * m + sb * x
    return m, (x - sa * m) / sb


def ddpm_step(net, sched, cfg, x, k, z):
    beta, ab = sched
    T = len(beta)
    t = T - 1 - k
    a, a_prev = ab[t], (ab[t - 1] if t > 0 else 1.0)
    x0, _ = split(cfg["pred"], a, x, net(x, t, T))
    if cfg["clip"]:
        x0 = np.clip(x0, -1, 1)
    mean = np.sqrt(a_prev) * beta[t] / (1 - a) * x0 + np.sqrt(1 - beta[t]) * (1 - a_prev) / (1 - a) * x
    var = beta[t] if cfg["variance"] == "fixed_large" else beta[t] * (1 - a_prev) / (1 - a)
    return mean + (np.sqrt(var) * z if t > 0 else 0)


def ddim_step(net, sched, cfg, x, k, z, ts):
    ab, T = sched[1], len(sched[1])
    t = ts[k]
    a, a_prev = ab[t], (ab[ts[k + 1]] if k + 1 < len(ts) else 1.0)
    x0, eps = split(cfg["pred"], a, x, net(x, t, T))
    if cfg["clip"]:
        x0 = np.clip(x0, -1, 1)
    sigma = cfg["eta"] * np.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
    return np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev - sigma ** 2) * eps + sigma * z


def invert_step(net, sched, cfg, x, k, z, ts):
    ab, T = sched[1], len(sched[1])
    up = ts[::-1]
    a_cur = ab[up[k - 1]] if k > 0 else 1.0
    a_next = ab[up[k]]
    _, eps = split(cfg["pred"], a_next, x, net(x, up[k], T))
    x0 = (x - np.sqrt(1 - a_cur) * eps) / np.sqrt(a_cur)
    return np.sqrt(a_next) * x0 + np.sqrt(1 - a_next) * eps


def rflow_step(net, cfg, x, k):
    n = cfg["steps"]
    t, dt = k / n, 1 / n
    v1 = net(x, t, 1.0)
    if cfg["method"] == "euler":
        return x + dt * v1
    v2 = net(x + dt * v1, t + dt, 1.0)
    return x + dt * (v1 + v2) / 2


def compare(label, g, r, tol, fails):
    scale = np.sqrt(np.mean(r ** 2)) + 1e-30
    bad = np.abs(g - r) - tol * (np.abs(r) + scale)
    dev = np.max(np.abs(g - r) / (np.abs(r) + scale))
    if bad.max() > 0:
        fails.append(f"{label}: max scaled deviation {dev:.3g} > {tol}")
    return dev


def check_sampler(tool, tmp, net, cfg, fails):
    kind = cfg["sampler"]
    netf, xf, out, noisef = [os.path.join(tmp, n) for n in ("net.f64", "x.f32", "traj.f32", "noise.f32")]
    sched = ref_schedule(cfg.get("schedule", "linear"), T_DEFAULT)
    ts = ref_timesteps(T_DEFAULT, cfg.get("S", 10), cfg.get("spacing", "uniform"))
    K = {"ddpm": T_DEFAULT, "rflow": cfg.get("steps", 10)}.get(kind, len(ts))
    run(tool, "noise", cfg["seed"], cfg.get("first", 0), N, D, K, noisef)
    noise = np.fromfile(noisef, dtype=np.float32).reshape(K + 1, N, D).astype(np.float64)
    x_start = noise[0].astype(np.float32)
    if kind == "invert":  # an "image" in [-1, 1]
        x_start = np.random.default_rng(cfg["seed"]).uniform(-1, 1, (N, D)).astype(np.float32)
    x_start.tofile(xf)
    args = [f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in cfg.items()]
    run(tool, "run", *args, N, D, netf, xf, out)
    traj = np.fromfile(out, dtype=np.float32).reshape(K + 1, N, D).astype(np.float64)

    def step(x, k):
        if kind == "ddpm":
            return ddpm_step(net, sched, cfg, x, k, noise[k + 1])
        if kind == "ddim":
            return ddim_step(net, sched, cfg, x, k, noise[k + 1], ts)
        if kind == "invert":
            return invert_step(net, sched, cfg, x, k, None, ts)
        return rflow_step(net, cfg, x, k)

    forced = np.stack([traj[0]] + [step(traj[k], k) for k in range(K)])
    free = [traj[0]]
    for k in range(K):
        free.append(step(free[-1], k))
    free = np.stack(free)
    label = " ".join(f"{k}={v}" for k, v in cfg.items() if k != "seed")
    d1 = compare(label + " (step by step)", traj, forced, 1e-5, fails)
    d2 = compare(label + " (free running)", traj, free, 1e-5, fails)
    return label, d1, d2, traj


def check_samplers(tool, tmp, fails):
    net = FakeNet(5)
    net.save(os.path.join(tmp, "net.f64"))
    cfgs = []
    for var in ["fixed_small", "fixed_large"]:
        for clip in [False, True]:
            for pred in ["epsilon", "v"]:
                cfgs.append(dict(sampler="ddpm", variance=var, clip=clip, pred=pred, seed=11))
    cfgs.append(dict(sampler="ddpm", variance="fixed_small", clip=True, pred="sample", seed=12, first=7))
    for eta in [0, 0.5, 1]:
        for sp in ["uniform", "trailing", "linspace", "quadratic"]:
            for clip in [False, True]:
                for pred in ["epsilon", "v"]:
                    cfgs.append(dict(sampler="ddim", eta=eta, spacing=sp, clip=clip, pred=pred, S=10, seed=21))
    cfgs.append(dict(sampler="ddim", eta=0.5, spacing="trailing", clip=False, pred="sample", S=25, seed=22))
    cfgs.append(dict(sampler="ddim", eta=1, spacing="linspace", clip=True, pred="epsilon", S=50, schedule="cosine", seed=23))
    for pred in ["epsilon", "v", "sample"]:
        cfgs.append(dict(sampler="invert", pred=pred, S=50, spacing="uniform", seed=31))
    for m in ["euler", "heun"]:
        cfgs.append(dict(sampler="rflow", method=m, steps=10, seed=41))
    worst1 = worst2 = 0
    for cfg in cfgs:
        label, d1, d2, _ = check_sampler(tool, tmp, net, cfg, fails)
        worst1, worst2 = max(worst1, d1), max(worst2, d2)
        if cfg.get("S", 10) == 10 and cfg.get("spacing") in (None, "uniform") or cfg["sampler"] != "ddim":
            print(f"{label}: step-by-step dev {d1:.2e}, free-running dev {d2:.2e}")
    print(f"samplers: {len(cfgs)} configurations; worst step-by-step dev {worst1:.2e} (tol 1e-5), "
          f"worst free-running dev {worst2:.2e} (tol 1e-5)")
    return net


def check_straightness(tool, tmp, net, fails):
    netf, xf, out = [os.path.join(tmp, n) for n in ("net.f64", "z.f32", "st.f32")]
    z = np.random.default_rng(9).standard_normal((N, D)).astype(np.float32)
    z.tofile(xf)
    steps = 20
    run(tool, "run", "sampler=straight", f"steps={steps}", N, D, netf, xf, out)
    g_x1 = np.fromfile(out, dtype=np.float32).reshape(N, D)
    g_s = np.fromfile(out + ".t", dtype=np.float64)[0]
    x, vs = z.astype(np.float64), []
    for k in range(steps):
        v = net(x, k / steps, 1.0)
        vs.append(v)
        x = x + v / steps
    dz = x - z.astype(np.float64)
    s = np.mean(sum(np.sum((dz - v) ** 2, axis=1) / steps for v in vs))
    err, xerr = abs(g_s - s) / s, np.max(np.abs(g_x1 - x) / (np.abs(x) + 1))
    print(f"straightness (Euler, {steps} steps): genc {g_s:.8g}, numpy {s:.8g}, rel err {err:.2e}; endpoint err {xerr:.2e}")
    if err > 1e-5 or xerr > 1e-5:
        fails.append(f"straightness: genc {g_s} numpy {s}; endpoint err {xerr}")


def main():
    tool = os.path.join(sys.argv[2], "sampler_tool")
    fails = []
    with tempfile.TemporaryDirectory() as tmp:
        check_schedules(tool, tmp, fails)
        check_timesteps(tool, tmp, fails)
        check_noise(tool, tmp, fails)
        check_pairs(tool, tmp, fails)
        net = check_samplers(tool, tmp, fails)
        check_straightness(tool, tmp, net, fails)
    for f in fails:
        print("FAIL:", f)
    print("test_samplers:", "FAILED" if fails else "all passed")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
