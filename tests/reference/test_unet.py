"""genc's diffusion U-Net against a PyTorch U-Net written here from the description in
include/genc/unet.h (DDPM's layout: conv_in; per level residual blocks and a stride-2 3x3 conv;
middle residual block, multi-head self-attention over the lowest-resolution positions, residual
block; up path of res_blocks + 1 residual blocks per level on [features, skip] concatenations,
nearest 2x upsampling + 3x3 conv; GroupNorm, SiLU, conv_out. Residual block: GN, SiLU, conv3x3,
+ Linear(SiLU(temb)) per channel, GN, SiLU, dropout, conv3x3, + (1x1 conv of) the input. Time
embedding: [sin(t f_i), cos(t f_i)], f_i = exp(-ln(10000) i / (half - 1)), Linear, SiLU, Linear,
+ class embedding).

PyTorch loads genc's checkpoint and computes in float64 with autograd; genc computes in float32.
Compared: the output and the gradients of L = sum(out * R) (R fixed random) with respect to the
input and every parameter, each to rtol 1e-4 of the tensor's largest magnitude plus atol 1e-4
(float32 through ~30 layers). Configs (dropout 0): a class-conditional one with attention
(2 levels on 8x8, 2 channels, with labels including the null label), the same with labels
omitted (every row gets the null label), and an unconditional 3-level 12x12 one without
attention, whose odd 3x3 lowest resolution exercises the stride-2 conv on odd sizes.
Usage: test_unet.py <genc binary> <build dir>"""
import json, math, os, subprocess, sys, tempfile

import numpy as np
import torch
import torch.nn.functional as F
from st_io import st_read, st_write


class RefUNet:
    """The reference network; parameters are float64 leaves named as genc names them."""

    def __init__(self, path):
        t, meta = st_read(path)
        self.cfg = json.loads(meta["config"])
        self.p = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in t.items()}

    def gn(self, name, h):
        return F.group_norm(h, self.cfg["groups"], self.p[name + ".weight"], self.p[name + ".bias"], 1e-5)

    def conv(self, name, h, stride=1, pad=1):
        return F.conv2d(h, self.p[name + ".weight"], self.p[name + ".bias"], stride=stride, padding=pad)

    def lin(self, name, h):
        return F.linear(h, self.p[name + ".weight"], self.p[name + ".bias"])

    def res(self, name, h, st):
        a = self.conv(name + ".conv1", F.silu(self.gn(name + ".norm1", h)))
        a = a + self.lin(name + ".temb", st)[:, :, None, None]
        a = self.conv(name + ".conv2", F.silu(self.gn(name + ".norm2", a)))
        skip = self.conv(name + ".skip", h, pad=0) if name + ".skip.weight" in self.p else h
        return skip + a

    def attn(self, h):
        N, C, H, W = h.shape
        heads = self.cfg["attn_heads"]
        a = self.gn("mid.attn.norm", h).reshape(N, C, H * W).transpose(1, 2)  # [N, P, C]
        q, k, v = (self.lin("mid.attn." + s, a).reshape(N, H * W, heads, C // heads).transpose(1, 2)
                   for s in "qkv")  # [N, heads, P, dh]
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // heads), dim=-1)
        o = (w @ v).transpose(1, 2).reshape(N, H * W, C)
        o = self.lin("mid.attn.proj", o).transpose(1, 2).reshape(N, C, H, W)
        return h + o

    def temb(self, t, labels):
        half = self.cfg["base"] // 2
        f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / (half - 1))
        a = t[:, None] * f[None, :]
        e = self.lin("time.2", F.silu(self.lin("time.0", torch.cat([torch.sin(a), torch.cos(a)], 1))))
        if self.cfg["classes"]:
            e = e + self.p["class_emb.weight"][labels]
        return F.silu(e)

    def forward(self, x, t, labels):
        c = self.cfg
        st = self.temb(t, labels)
        h = self.conv("conv_in", x.reshape(-1, c["channels"], c["rows"], c["cols"]))
        hs = [h]
        for l in range(c["levels"]):
            for r in range(c["res_blocks"]):
                h = self.res(f"down.{l}.res.{r}", h, st)
                hs.append(h)
            if l < c["levels"] - 1:
                h = self.conv(f"down.{l}.down", h, stride=2)
                hs.append(h)
        h = self.res("mid.res.0", h, st)
        if c["attn_heads"]:
            h = self.attn(h)
        h = self.res("mid.res.1", h, st)
        for l in reversed(range(c["levels"])):
            for r in range(c["res_blocks"] + 1):
                h = self.res(f"up.{l}.res.{r}", torch.cat([h, hs.pop()], 1), st)
            if l > 0:
                h = self.conv(f"up.{l}.up", F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.conv("conv_out", F.silu(self.gn("norm_out", h)))
        return h.reshape(x.shape[0], -1)


def run(tool, *args):
    r = subprocess.run([tool] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: unet_tool {' '.join(map(str, args))}: {r.stderr.strip()}")


def close(label, got, want, fails):
    err = np.abs(got - want).max()
    scale = np.abs(want).max()
    ok = err <= 1e-4 * scale + 1e-4 and got.shape == want.shape
    if not ok:
        fails.append(f"{label}: max |genc - torch| {err:.3g} (largest |torch| {scale:.3g})")
    return err, scale


def check_case(tool, tmp, name, cfg, N, with_labels, seed):
    ckpt = os.path.join(tmp, f"unet_{name}.safetensors")
    run(tool, "init", ckpt, json.dumps(cfg), seed)
    ref = RefUNet(ckpt)
    D = cfg["channels"] * cfg["rows"] * cfg["cols"]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)).astype(np.float32)
    t = rng.uniform(0, 999, N).astype(np.float32)
    R = rng.standard_normal((N, D)).astype(np.float32)
    inputs = {"x": x, "t": t, "R": R}
    labels = None
    if with_labels:
        labels = rng.integers(0, cfg["classes"] + 1, N).astype(np.int32)
        labels[0] = cfg["classes"]  # the null label at least once
        inputs["labels"] = labels
    fin, fout = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
    st_write(fin, inputs)
    run(tool, "grad", ckpt, N, fin, fout)
    got, _ = st_read(fout)

    xt = torch.tensor(x.astype(np.float64), requires_grad=True)
    lab = torch.from_numpy(labels.astype(np.int64)) if labels is not None else \
        torch.full((N,), cfg["classes"], dtype=torch.int64)
    out = ref.forward(xt, torch.from_numpy(t.astype(np.float64)), lab)
    (out * torch.from_numpy(R.astype(np.float64))).sum().backward()

    fails = []
    e, s = close(f"{name}: out", got["out"].astype(np.float64), out.detach().numpy(), fails)
    print(f"{name}: {len(ref.p)} parameter tensors; out max |diff| {e:.3g} (scale {s:.3g})")
    close(f"{name}: grad.x", got["grad.x"].astype(np.float64), xt.grad.numpy(), fails)
    worst = (0, "")
    for k, v in ref.p.items():
        if "grad." + k not in got:
            fails.append(f"{name}: genc has no gradient for {k}")
            continue
        e, s = close(f"{name}: grad.{k}", got["grad." + k].astype(np.float64), v.grad.numpy(), fails)
        if s > 1e-6 and e / s > worst[0]:  # (k.bias has an exactly-zero gradient: softmax ignores it)
            worst = (e / s, k)
    extra = set(k[5:] for k in got if k.startswith("grad.") and k != "grad.x") - set(ref.p)
    if extra:
        fails.append(f"{name}: genc parameters the reference does not know: {sorted(extra)}")
    print(f"{name}: worst relative parameter-gradient error {worst[0]:.3g} ({worst[1]})")
    return fails


def main():
    tool = os.path.join(sys.argv[2], "unet_tool")
    cond = {"model": "unet", "rows": 8, "cols": 8, "channels": 2, "base": 8, "levels": 2, "mult": [1, 2],
            "res_blocks": 1, "groups": 4, "attn_heads": 2, "classes": 3, "dropout": 0.0}
    uncond = {"model": "unet", "rows": 12, "cols": 12, "channels": 1, "base": 8, "levels": 3, "mult": [1, 1, 2],
              "res_blocks": 2, "groups": 2, "attn_heads": 0, "classes": 0, "dropout": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        fails = check_case(tool, tmp, "conditional+attention", cond, 3, True, 21)
        fails += check_case(tool, tmp, "conditional, no labels", cond, 2, False, 22)
        fails += check_case(tool, tmp, "unconditional 12x12", uncond, 2, False, 23)
    for f in fails:
        print("FAIL:", f)
    print("test_unet:", "FAILED" if fails else "all passed")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
