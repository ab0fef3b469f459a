#!/usr/bin/python3
"""genc's prefix-tuning forward against the independent float64 PyTorch reference.

    /usr/bin/python3 tests/reference/test_prefix.py <genc binary> <build dir>

For a MoE config with a low-rank query and a dense config with a plain query (MTP off), runs
`<build dir>/prefix_tool CONFIG_JSON OUT_DIR` (genc: random weights, a random prefix of L = 4
latent slots per layer, a random batch), loads the checkpoint into deepseek_ref.Model and
the prefix file (tensor "prefix" [n_layers, L, kv_lora_rank + qk_rope_dim]: c_kv, then k_pe)
as deepseek_ref.Model.prefix, with which its attention prepends, per layer, the prefix's c_kv (through kv_b_proj: per
head k_nope and v) and k_pe (not roped, shared by the heads) to the keys and values; queries
and real-token positions (0..T-1) are unchanged and every query sees every prefix slot.
Compares genc's training-forward logits and latent-cache decode logits with the reference
(|d| <= 1e-5 + 1e-4 |ref|), the loss, and d loss / d prefix (|d| <= 1e-5 + 1e-3 max|ref|).
Also checks the prefix file's metadata (format, base_config equals the model's config).
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    if os.environ.get("GENC_ALLOW_NO_TORCH") == "1":
        print("skipped: %s (GENC_ALLOW_NO_TORCH=1)" % e)
        sys.exit(77)
    print("error: this test needs torch and numpy (%s)" % e)
    sys.exit(1)

import deepseek_ref as R  # noqa: E402
import lm_fixture as FX  # noqa: E402

torch.set_default_dtype(torch.float64)



def configs():
    moe = dict(FX.TEST_CONFIGS["qlora_sigmoid_groups_mtp2"], num_nextn_predict_layers=0)
    dense = dict(FX.TEST_CONFIGS["dense_nomtp"])
    return {"moe_qlora": moe, "dense": dense}


def close(got, want, rtol, atol):
    d = np.abs(got - want)
    return bool(np.all(d <= atol + rtol * np.abs(want))), float(d.max())


def check_one(name, cfg_dict, tool, res):
    with tempfile.TemporaryDirectory() as d:
        cp = os.path.join(d, "config.json")
        with open(cp, "w") as f:
            json.dump(cfg_dict, f)
        r = subprocess.run([tool, cp, d], capture_output=True, text=True)
        if r.returncode != 0:
            res.append((name + ": prefix_tool", False, r.stderr.strip()))
            return
        cfg, model = R.load_checkpoint(os.path.join(d, "model.safetensors"), FX.st_read)
        pm = R.Model(cfg, model.params)
        arrays, meta = FX.st_read(os.path.join(d, "prefix.safetensors"))
        _, mmeta = FX.st_read(os.path.join(d, "model.safetensors"))
        res.append((name + ": prefix metadata", meta.get("format") == "genc-prefix-1" and
                    meta.get("base_config") == mmeta.get("config") and len(meta.get("base_hash", "")) == 16, str(meta.keys())))
        P = torch.tensor(arrays["prefix"], dtype=torch.float64, requires_grad=True)
        r_ = cfg.kv_lora
        pm.prefix = [(P[l, :, :r_], P[l, :, r_:]) for l in range(cfg.n_layers)]
        tokens = torch.as_tensor(FX.st_read(os.path.join(d, "batch.safetensors"))[0]["tokens"], dtype=torch.long)
        out = pm.forward(tokens)
        out["loss_main"].backward()
        g, _ = FX.st_read(os.path.join(d, "genc.safetensors"))
        want = out["logits"].detach().numpy()
        ok, err = close(g["logits"], want, 1e-4, 1e-5)
        res.append((name + ": training-forward logits with prefix", ok, "max |d| %.3g" % err))
        ok, err = close(g["logits_decode"], want, 1e-4, 1e-5)
        res.append((name + ": decode logits with prefix in the cache", ok, "max |d| %.3g" % err))
        ok, err = close(g["loss"], out["loss_main"].detach().numpy().reshape(1), 1e-5, 1e-6)
        res.append((name + ": loss", ok, "|d| %.3g" % err))
        gw = P.grad.numpy()
        ok, err = close(g["grad.prefix"], gw, 0, 1e-5 + 1e-3 * float(np.abs(gw).max()))
        res.append((name + ": d loss / d prefix", ok, "max |d| %.3g (max |g| %.3g)" % (err, np.abs(gw).max())))


def main():
    build = sys.argv[2] if len(sys.argv) > 2 else "build"
    tool = os.path.join(build, "prefix_tool")
    if not os.path.exists(tool):
        print("error: %s is missing (build the prefix_tool target)" % tool)
        return 1
    res = []
    for name, c in configs().items():
        check_one(name, c, tool, res)
    for n, ok, why in res:
        if not ok:
            print("FAIL %s: %s" % (n, why))
        elif os.environ.get("GENC_LM_REF_VERBOSE") == "1":
            print("ok   %s: %s" % (n, why))
    failed = sum(1 for _, ok, _ in res if not ok)
    print("%d passed, %d failed" % (len(res) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
