"""genc.UNet(path=...) on a checkpoint of `genc image train --model rflow` (config nested under
"unet", EMA weights as extra.ema.*): ema=True loads exactly the file's EMA tensors, ema=False
its raw ones (read here by a small safetensors parser, independently of genc); the forward
equals the velocity the CLI's own loading gives (a one-step Euler sample's x - z, with and
without --ema); a flat UNet.save checkpoint still loads; foreign or broken configs raise
ValueError naming the file. Needs the genc binary (GENC_BIN, set by CTest)."""
import json
import os
import struct
import subprocess

import numpy as np
import pytest

import genc

GENC_BIN = os.environ.get("GENC_BIN", "")


def read_safetensors(path):
    """(metadata dict, {name: float32 array}) of a safetensors file with F32 tensors."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        assert h["dtype"] == "F32", name
        a, b = h["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype="<f4").reshape(h["shape"])
    return meta, out


def write_safetensors(path, meta, tensors):
    header, body = {"__metadata__": meta}, b""
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [len(body), len(body) + len(raw)]}
        body += raw
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + body)


def run_genc(*args, cwd):
    r = subprocess.run([GENC_BIN, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"genc {' '.join(args)}: {r.stdout}{r.stderr}"


@pytest.fixture(scope="module")
def cli_ckpt(tmp_path_factory):
    """A tiny rectified-flow checkpoint (3 steps at lr 1e-2, so EMA and raw weights differ) and
    one-step Euler (z, x) pairs the CLI sampled from it with the EMA and the raw weights."""
    if not GENC_BIN or not os.access(GENC_BIN, os.X_OK):
        pytest.skip("needs the genc binary (GENC_BIN)")
    d = tmp_path_factory.mktemp("unet_ckpt")
    run_genc("image", "train", "--model", "rflow", "--steps", "3", "--base", "8", "--levels", "2", "--mult", "1,2",
             "--groups", "4", "--res-blocks", "1", "--attn-heads", "2", "--limit", "64", "--val", "16", "--batch", "8",
             "--eval-every", "0", "--lr", "1e-2", "--warmup", "0", "--threads", "1", "--seed", "3", "--out", str(d / "run"),
             cwd=d)
    ck = str(d / "run" / "checkpoint.safetensors")
    for ema in ("true", "false"):
        run_genc("image", "sample", "--checkpoint", ck, "--sampler", "euler", "--steps", "1", "--count", "3", "--seed", "5",
                 "--threads", "1", f"--ema={ema}", "--out", str(d / f"s_{ema}.png"), "--pairs", str(d / f"pairs_{ema}.st"),
                 cwd=d)
    return d, ck


def params_of(u):
    return {name: np.asarray(p) for name, p in u.named_parameters()}


def test_cli_checkpoint_loads_ema_and_raw_weights(cli_ckpt):
    _, ck = cli_ckpt
    meta, tensors = read_safetensors(ck)
    raw = {k: v for k, v in tensors.items() if not k.startswith(("extra.", "optim."))}
    ema = {k[len("extra.ema."):]: v for k, v in tensors.items() if k.startswith("extra.ema.")}
    assert set(ema) == set(raw) and len(raw) > 10
    assert any(not np.array_equal(ema[k], raw[k]) for k in raw)  # else the checks below could not tell them apart

    u = genc.UNet(path=ck)  # ema=True is the default
    assert u.ema_loaded
    got = params_of(u)
    assert set(got) == set(raw)
    for k, v in got.items():
        assert np.array_equal(v.reshape(ema[k].shape), ema[k]), k

    r = genc.UNet(path=ck, ema=False)
    assert not r.ema_loaded
    for k, v in params_of(r).items():
        assert np.array_equal(v.reshape(raw[k].shape), raw[k]), k

    cfg = json.loads(meta["config"])
    assert u.diffusion_config == cfg and cfg["model"] == "rflow"
    assert u.config == cfg["unet"] and u.config["base"] == 8 and u.config["mult"] == [1, 2]


def test_forward_matches_the_cli_model(cli_ckpt):
    d, ck = cli_ckpt
    outs = {}
    for ema in (True, False):
        _, pairs = read_safetensors(str(d / f"pairs_{str(ema).lower()}.st"))
        z, x = pairs["z"], pairs["x"]
        u = genc.UNet(path=ck, ema=ema)
        with genc.no_grad():  # (dropout is off without grad mode, as in the CLI's sampler)
            v = np.asarray(u(genc.tensor(z), [0.0] * len(z)))  # rflow: network time 1000 t, t = 0
        # one Euler step from t = 0 to 1: x = z + v in float32
        assert np.allclose(v, x.astype(np.float64) - z, rtol=0, atol=1e-5), ema
        outs[ema] = v
    assert np.abs(outs[True] - outs[False]).max() > 1e-3  # the two weight sets give different velocities


def test_flat_checkpoint_still_loads(tmp_path):
    u = genc.UNet(rows=8, cols=8, base=8, levels=2, mult=[1, 2], res_blocks=1, groups=4, attn_heads=0)
    path = str(tmp_path / "flat.safetensors")
    u.save(path)
    for ema in (True, False):
        v = genc.UNet(path=path, ema=ema)
        assert not v.ema_loaded and v.diffusion_config is None and v.config == u.config
        want = params_of(u)
        assert all(np.array_equal(a, want[k]) for k, a in params_of(v).items())


@pytest.mark.parametrize("config, message", [
    ({"family": "lm", "model": "deepseek"}, "is neither a U-Net config"),
    ({"family": "diffusion", "model": "ddpm"}, "diffusion checkpoint config has no \"unet\" object"),
    ({"family": "diffusion", "unet": {"model": "unet", "rows": 8}}, "is not a valid U-Net config"),
])
def test_foreign_config_is_a_clear_error(tmp_path, config, message):
    path = str(tmp_path / "bad.safetensors")
    write_safetensors(path, {"format": "genc-1", "config": json.dumps(config)}, {"w": np.zeros(2, np.float32)})
    with pytest.raises(ValueError) as e:
        genc.UNet(path=path)
    assert path in str(e.value) and message in str(e.value) and "\n" not in str(e.value)


def test_missing_file_and_config_with_path(tmp_path):
    with pytest.raises((OSError, ValueError)) as e:
        genc.UNet(path=str(tmp_path / "none.safetensors"))
    assert "none.safetensors" in str(e.value)
    with pytest.raises(ValueError, match="has its own config"):
        genc.UNet(path=str(tmp_path / "none.safetensors"), base=8)
