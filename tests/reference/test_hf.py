#!/usr/bin/python3
"""Hugging Face folders out of and into genc.

    /usr/bin/python3 tests/reference/test_hf.py <genc binary> <build dir>

1. genc -> HF -> genc: a tiny model (MoE + MTP) trained a few steps, exported with
   `genc lm export --format hf`: config.json has the DeepSeek-V3 keys, architectures,
   model_type, torch_dtype and bos/eos ids; model.safetensors says {"format": "pt"}, holds
   the parameters and DeepSeek's MTP copies and no optimiser moment, tokenizer or state;
   tokenizer.json is a BPE in the HF schema. `genc lm eval --dump-logits` on the folder
   gives bit-identical logits to the checkpoint, and the folder exported again from the
   folder has a byte-identical model.safetensors. BF16 export loads and stays close.
   `genc lm train --init FOLDER` starts from its weights (one step at lr 0 keeps them).
2. An HF folder written here with numpy from the published layout (safetensors bytes by
   hand with json + struct, not genc's writer), in BF16 and in DeepSeek's FP8 release layout
   (F8_E4M3 weights with weight_scale_inv per 128x128 block, quantization_config fp8), with
   MTP copies and a byte-level tokenizer.json: genc's logits equal the float64 PyTorch
   reference (tests/reference/deepseek_ref.py) on the dequantised weights; the same in BF16
   with DeepSeek-V3's YaRN rope_scaling (factor 40, original context 4096, mscale 1,
   mscale_all_dim 0.7), which plain RoPE must not match, written back by the HF export and
   refused by the GGUF export (llama.cpp cannot hold that mscale ratio).
3. Malformed folders each fail with one line: unknown config key, a non-YaRN rope_scaling,
   norm_topk_prob false with sigmoid, a missing shard, a truncated file, a wrong shape, an
   FP8 scale of the wrong shape, an unsupported dtype, an MTP copy that differs.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print("test_hf: FAIL: needs torch and numpy (%s)" % e)
    sys.exit(1)

import deepseek_ref as R  # noqa: E402
import lm_fixture as FX  # noqa: E402
from st_io import st_read  # noqa: E402

torch.set_default_dtype(torch.float64)
CORPUS = "/usr/share/games/fortunes/fortunes"
failed = 0


def check(name, ok, detail=""):
    global failed
    print("%s %s %s" % ("ok  " if ok else "FAIL", name, detail))
    failed += not ok


def run(cmd, expect_ok=True):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if expect_ok and out.returncode:
        sys.exit("test_hf: %s failed: %s" % (" ".join(cmd[:3]), out.stderr.strip()))
    return out


# ---- safetensors by hand (raw little-endian bytes, any dtype name) ----
def write_st(path, tensors, meta):
    """tensors: list of (name, dtype name, shape, raw bytes)."""
    header, off = {"__metadata__": meta}, 0
    for name, dt, shape, raw in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    hj = json.dumps(header).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj)
        for t in tensors:
            f.write(t[3])


def bf16(a):
    """float64 -> (BF16 bytes, the float64 values they hold); round to nearest even."""
    u = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    back = (r.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return r.astype("<u2").tobytes(), back


def e4m3(x):
    """float64 in [-448, 448] -> (E4M3FN bytes, their values); round to nearest even."""
    s = np.signbit(x)
    a = np.abs(x)
    e = np.floor(np.log2(np.maximum(a, 2.0 ** -9)))
    e = np.clip(e, -6, 8)
    step = 2.0 ** (e - 3)
    q = np.round(a / step) * step  # numpy rounds half to even
    q = np.minimum(q, 448.0)
    e2 = np.clip(np.floor(np.log2(np.maximum(q, 2.0 ** -9))), -6, 8)
    normal = q >= 2.0 ** -6
    mant = np.where(normal, q / 2.0 ** e2 * 8 - 8, q / 2.0 ** -9)
    exp = np.where(normal, e2 + 7, 0)
    bits = (s.astype(np.uint8) << 7) | (exp.astype(np.uint8) << 3) | np.round(mant).astype(np.uint8)
    return bits.astype(np.uint8).tobytes(), np.where(s, -q, q)


def fp8_blocks(w):
    """[out, in] -> (E4M3 bytes, scale_inv [ceil(out/128), ceil(in/128)] F32, dequantised)."""
    o, i = w.shape
    bo, bi = -(-o // 128), -(-i // 128)
    scale = np.zeros((bo, bi), np.float32)
    deq = np.zeros_like(w)
    codes = np.zeros(w.shape, np.uint8)
    for r in range(bo):
        for c in range(bi):
            blk = w[r * 128:(r + 1) * 128, c * 128:(c + 1) * 128]
            sc = np.float32(max(np.abs(blk).max(), 1e-12) / 448.0)
            raw, val = e4m3(blk / float(sc))
            codes[r * 128:(r + 1) * 128, c * 128:(c + 1) * 128] = np.frombuffer(raw, np.uint8).reshape(blk.shape)
            deq[r * 128:(r + 1) * 128, c * 128:(c + 1) * 128] = (val.astype(np.float32) * sc).astype(np.float32)
            scale[r, c] = sc
    return codes.tobytes(), scale, deq


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def write_tokenizer_json(path):
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    specials = ["<|bos|>", "<|eos|>", "<|pad|>", "<think>", "</think>", "<answer>", "</answer>"]
    for k, s in enumerate(specials):
        vocab[s] = 256 + k
    tj = {"version": "1.0", "added_tokens": [{"id": 256 + k, "content": s, "special": True}
                                             for k, s in enumerate(specials)],
          "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
          "decoder": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": vocab, "merges": []}}
    with open(path, "w") as f:
        json.dump(tj, f)


QUANTISED = ("q_a_proj", "q_b_proj", "q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "gate_proj", "up_proj",
             "down_proj")


def numpy_folder(d, cd, params, fp8, mtp_copies=True):
    """Writes an HF folder; returns the float64 weights the file really holds."""
    os.makedirs(d, exist_ok=True)
    cfg = {k: v for k, v in cd.items() if not k.startswith("genc_") and k not in ("aux_loss_alpha", "seq_aux")}
    cfg.update({"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "torch_dtype": "bfloat16",
                "bos_token_id": 256, "eos_token_id": 257, "tie_word_embeddings": False, "hidden_act": "silu",
                "rope_scaling": cd.get("rope_scaling"), "topk_method": "noaux_tc", "attention_bias": False})
    if fp8:
        cfg["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                      "weight_block_size": [128, 128]}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    held, tensors = {}, []
    for name, t in params.items():
        w = t.numpy()
        if w.ndim == 1:
            tensors.append((name, "F32", w.shape, w.astype("<f4").tobytes()))
            held[name] = w.astype(np.float32).astype(np.float64)
        elif fp8 and any(("." + q + ".") in name for q in QUANTISED):
            raw, scale, deq = fp8_blocks(w)
            tensors.append((name, "F8_E4M3", w.shape, raw))
            tensors.append((name + "_scale_inv", "F32", scale.shape, scale.astype("<f4").tobytes()))
            held[name] = deq.astype(np.float64)
        else:
            raw, back = bf16(w)
            tensors.append((name, "BF16", w.shape, raw))
            held[name] = back
    n = cd["num_hidden_layers"]
    for k in range(cd["num_nextn_predict_layers"] if mtp_copies else 0):
        p = "model.layers.%d." % (n + k)
        for src, dst in (("model.embed_tokens.weight", "embed_tokens.weight"),
                         ("model.norm.weight", "shared_head.norm.weight"), ("lm_head.weight", "shared_head.head.weight")):
            e = [t for t in tensors if t[0] == src][0]
            tensors.append((p + dst, e[1], e[2], e[3]))
    # two shards and an index, as large releases come
    half = len(tensors) // 2
    write_st(os.path.join(d, "model-00001-of-00002.safetensors"), tensors[:half], {"format": "pt"})
    write_st(os.path.join(d, "model-00002-of-00002.safetensors"), tensors[half:], {"format": "pt"})
    wm = {t[0]: "model-00001-of-00002.safetensors" for t in tensors[:half]}
    wm.update({t[0]: "model-00002-of-00002.safetensors" for t in tensors[half:]})
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f)
    write_tokenizer_json(os.path.join(d, "tokenizer.json"))
    return held


def genc_logits(genc, ckpt, text_path, out):
    run([genc, "lm", "eval", "--checkpoint", ckpt, "--data", text_path, "--dump-logits", out, "--threads", "1", "--seq", "32"])
    a, _ = st_read(out)
    return a["tokens"], a["logits"].astype(np.float64)


def part_roundtrip(genc, tmp, text):
    ck_dir = os.path.join(tmp, "run")
    with open(CORPUS, "rb") as f, open(os.path.join(tmp, "corpus.txt"), "wb") as g:
        g.write(f.read()[:200000])
    run([genc, "lm", "train", "--data", os.path.join(tmp, "corpus.txt"), "--preset", "tiny", "--tok-vocab", "384",
         "--steps", "20", "--batch", "4", "--seq", "64", "--threads", "1", "--out", ck_dir])
    ck = os.path.join(ck_dir, "checkpoint.safetensors")
    hf, hf2, hfb = (os.path.join(tmp, n) for n in ("hf", "hf2", "hf_bf16"))
    run([genc, "lm", "export", "--checkpoint", ck, "--format", "hf", "--out", hf])
    cfg = json.load(open(os.path.join(hf, "config.json")))
    want = {"architectures", "model_type", "torch_dtype", "bos_token_id", "eos_token_id", "vocab_size", "hidden_size",
            "intermediate_size", "moe_intermediate_size", "num_hidden_layers", "num_attention_heads",
            "n_shared_experts", "n_routed_experts", "num_experts_per_tok", "n_group", "topk_group",
            "routed_scaling_factor", "scoring_func", "norm_topk_prob", "first_k_dense_replace", "q_lora_rank",
            "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "rope_theta", "rms_norm_eps",
            "max_position_embeddings", "num_nextn_predict_layers", "rope_scaling", "tie_word_embeddings", "topk_method"}
    check("hf.config_keys", want <= set(cfg) and cfg["architectures"] == ["DeepseekV3ForCausalLM"]
          and cfg["model_type"] == "deepseek_v3" and cfg["torch_dtype"] == "float32", str(sorted(want - set(cfg))))
    arrs, meta = st_read(os.path.join(hf, "model.safetensors"))
    ck_arrs, _ = st_read(ck)
    params = {k for k in ck_arrs if not k.startswith(("optim.", "tokenizer."))}
    n = cfg["num_hidden_layers"]
    copies = {"model.layers.%d.%s" % (n, s) for s in ("embed_tokens.weight", "shared_head.norm.weight",
                                                       "shared_head.head.weight")}
    check("hf.weights_only", meta == {"format": "pt"} and set(arrs) == params | copies,
          "meta %s, extra %s" % (meta, sorted(set(arrs) ^ (params | copies))[:5]))
    check("hf.mtp_copies", np.array_equal(arrs["model.layers.%d.shared_head.head.weight" % n], arrs["lm_head.weight"]))
    tj = json.load(open(os.path.join(hf, "tokenizer.json")))
    tc = json.load(open(os.path.join(hf, "tokenizer_config.json")))
    check("hf.tokenizer_schema", tj["model"]["type"] == "BPE" and len(tj["model"]["merges"]) == 384 - 263
          and tj["decoder"]["type"] == "ByteLevel" and tc["eos_token"] == "<|eos|>"
          and os.path.exists(os.path.join(hf, "generation_config.json")))
    t_ck, l_ck = genc_logits(genc, ck, text, os.path.join(tmp, "l_ck.st"))
    t_hf, l_hf = genc_logits(genc, hf, text, os.path.join(tmp, "l_hf.st"))
    check("hf.roundtrip_logits_bit_exact", np.array_equal(t_ck, t_hf) and np.array_equal(l_ck, l_hf))
    run([genc, "lm", "export", "--checkpoint", hf, "--format", "hf", "--out", hf2])
    same = open(os.path.join(hf, "model.safetensors"), "rb").read() == open(os.path.join(hf2, "model.safetensors"),
                                                                             "rb").read()
    check("hf.roundtrip_weights_byte_identical", same)
    run([genc, "lm", "export", "--checkpoint", ck, "--format", "hf", "--type", "bf16", "--out", hfb])
    _, l_b = genc_logits(genc, hfb, text, os.path.join(tmp, "l_b.st"))
    check("hf.bf16_close", np.abs(l_b - l_ck).max() < 0.05, "max logit diff %.3g" % np.abs(l_b - l_ck).max())
    # lm train --init HF folder: a step at learning rate 0 keeps every weight (the bias moves by its own rule)
    ft = os.path.join(tmp, "finetune")
    run([genc, "lm", "train", "--init", hf, "--data", os.path.join(tmp, "corpus.txt"), "--steps", "1", "--lr", "0",
         "--min-lr", "0", "--batch", "2", "--seq", "32", "--threads", "1", "--out", ft])
    ft_arrs, ft_meta = st_read(os.path.join(ft, "checkpoint.safetensors"))
    same = all(np.array_equal(ft_arrs[k], arrs[k]) for k in params if not k.endswith("e_score_correction_bias"))
    check("hf.train_init_loads_weights", same and "optim" in ft_meta)
    out = run([genc, "lm", "train", "--init", hf, "--data", os.path.join(tmp, "corpus.txt"), "--dim", "32", "--out",
               ft + "2"], expect_ok=False)
    check("hf.train_init_refuses_model_flags", out.returncode != 0 and len(out.stderr.strip().splitlines()) == 1)
    return hf


def part_numpy(genc, tmp, text):
    cd = dict(FX.TEST_CONFIGS["qlora_sigmoid_groups_mtp2"], vocab_size=300, hidden_size=144, intermediate_size=272,
              moe_intermediate_size=136)
    cfg = R.Config.from_dict(cd)
    params = FX.init_params(torch, cfg, R.param_shapes(cfg), seed=7)
    # YaRN as DeepSeek-V3's config.json has it (factor 40, original context 4096), with mscale
    # and mscale_all_dim apart so that both the rotary magnitude and the softmax scale move;
    # positions 0..31 with qk_rope_head_dim 4 fall on both sides of the ramp.
    yarn = {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1,
            "mscale": 1.0, "mscale_all_dim": 0.7}
    for fp8, rs in ((False, None), (True, None), (False, yarn)):
        tag = ("fp8" if fp8 else "bf16") + ("_yarn" if rs else "")
        d = os.path.join(tmp, "np_" + tag)
        held = numpy_folder(d, dict(cd, rope_scaling=rs), params, fp8)
        toks, lg = genc_logits(genc, d, text, os.path.join(tmp, "np_%s.st" % tag))
        model = R.Model(R.Config.from_dict(dict(cd, rope_scaling=rs)), {k: torch.tensor(v) for k, v in held.items()},
                        requires_grad=False)
        seq = torch.tensor(np.append(toks, 0)[None, :].astype(np.int64))
        with torch.no_grad():
            ref = model.forward(seq)["logits"][0].numpy()
        ok, err, ratio = FX.cmp_elementwise(lg, ref, 1e-4, 1e-5)
        check("numpy_folder.%s_logits_vs_pytorch" % tag, ok, "max abs err %.3g (%d tokens)" % (err, len(toks)))
        if rs:  # the plain-RoPE reference must disagree, or the check could not see YaRN
            plain = R.Model(cfg, {k: torch.tensor(v) for k, v in held.items()}, requires_grad=False)
            with torch.no_grad():
                off = float(np.abs(plain.forward(seq)["logits"][0].numpy() - lg).max())
            check("numpy_folder.yarn_changes_logits", off > 1e-3, "plain RoPE differs by %.3g" % off)
            hf = os.path.join(tmp, "np_yarn_out")
            run([genc, "lm", "export", "--checkpoint", d, "--format", "hf", "--out", hf])
            back = json.load(open(os.path.join(hf, "config.json")))["rope_scaling"]
            check("numpy_folder.yarn_exported", back == yarn, str(back))
            gg = os.path.join(tmp, "np_yarn.gguf")
            out = run([genc, "lm", "export", "--checkpoint", d, "--format", "gguf", "--out", gg], expect_ok=False)
            check("numpy_folder.yarn_gguf_refuses_mscale_ratio", out.returncode != 0 and "mscale" in out.stderr)
    return d, cd, params


def part_malformed(genc, tmp, text, hf, cd, params):
    def refuse(name, d):
        out = run([genc, "lm", "eval", "--checkpoint", d, "--data", text, "--seq", "32"], expect_ok=False)
        lines = out.stderr.strip().splitlines()
        check("malformed." + name, out.returncode != 0 and len(lines) == 1 and lines[0].startswith("genc: error:"),
              lines[0] if lines else "(no message)")

    def variant(name, edit):
        d = os.path.join(tmp, "bad_" + name)
        shutil.copytree(hf, d)
        edit(d)
        refuse(name, d)

    def cfg_edit(**kw):
        def f(d):
            p = os.path.join(d, "config.json")
            c = json.load(open(p))
            c.update(kw)
            json.dump(c, open(p, "w"))
        return f

    variant("unknown_key", cfg_edit(sliding_window=4096))
    variant("rope_linear", cfg_edit(rope_scaling={"type": "linear", "factor": 4}))
    variant("yarn_unknown_key", cfg_edit(rope_scaling={"type": "yarn", "factor": 4, "original_max_position_embeddings": 16,
                                                       "attn_factor": 2}))
    variant("sigmoid_no_norm", cfg_edit(norm_topk_prob=False))
    variant("truncated", lambda d: open(os.path.join(d, "model.safetensors"), "r+b").truncate(5000))
    variant("missing_tokenizer", lambda d: os.remove(os.path.join(d, "tokenizer.json")))

    def split_regex(rx):  # the qwen2 Split's regex replaced: genc cannot promise that split
        def f(d):
            p = os.path.join(d, "tokenizer.json")
            t = json.load(open(p))
            t["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = rx
            json.dump(t, open(p, "w"))
        return f
    variant("split_regex_unicode_case", split_regex(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                                                    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"))
    variant("split_regex_digit_runs", split_regex(r"\p{N}+|[^\p{N}]+"))
    variant("wrong_shape", cfg_edit(hidden_size=48))
    # the numpy FP8 folder: a missing shard, a scale of the wrong shape, an unknown dtype, a bad MTP copy
    fp = os.path.join(tmp, "np_fp8")

    def np_variant(name, edit):
        d = os.path.join(tmp, "badnp_" + name)
        shutil.copytree(fp, d)
        edit(d)
        refuse(name, d)

    np_variant("missing_shard", lambda d: os.remove(os.path.join(d, "model-00002-of-00002.safetensors")))

    def retype(d, pick, dtype=None, shape=None):
        for fn in os.listdir(d):
            if not fn.endswith(".safetensors"):
                continue
            p = os.path.join(d, fn)
            data = open(p, "rb").read()
            (n,) = struct.unpack("<Q", data[:8])
            h = json.loads(data[8:8 + n])
            for k, e in h.items():
                if k != "__metadata__" and pick(k):
                    if dtype:
                        e["dtype"] = dtype
                    if shape:
                        e["shape"] = shape(e["shape"])
            hj = json.dumps(h).encode()
            hj += b" " * (-len(hj) % 8)
            open(p, "wb").write(struct.pack("<Q", len(hj)) + hj + data[8 + n:])

    np_variant("scale_shape", lambda d: retype(d, lambda k: k == "model.layers.0.mlp.up_proj.weight_scale_inv",
                                               shape=lambda s: [s[1], s[0]]))
    np_variant("unknown_dtype", lambda d: retype(d, lambda k: k == "model.layers.0.input_layernorm.weight",
                                                 dtype="I32"))
    n = cd["num_hidden_layers"]
    d = os.path.join(tmp, "badnp_mtp_norm")
    shutil.copytree(fp, d)
    for fn in os.listdir(d):  # a shared_head.norm that is not model.norm (DeepSeek's release has its own)
        if fn.endswith(".safetensors"):
            p = os.path.join(d, fn)
            data = bytearray(open(p, "rb").read())
            (hn,) = struct.unpack("<Q", data[:8])
            h = json.loads(bytes(data[8:8 + hn]))
            name = "model.layers.%d.shared_head.norm.weight" % n
            if name in h:
                b = 8 + hn + h[name]["data_offsets"][0]
                data[b:b + 4] = struct.pack("<f", 3.0)
                open(p, "wb").write(bytes(data))
    refuse("mtp_norm_differs", d)


def main():
    genc = sys.argv[1]
    if not os.path.exists(CORPUS):
        print("test_hf: FAIL: no %s (Debian package fortunes, installed by make deps)" % CORPUS)
        return 1
    tmp = tempfile.mkdtemp(prefix="genc_hf_")
    text = os.path.join(tmp, "text.txt")
    with open(text, "wb") as f:
        f.write("The caf\u00e9 in \u6771\u4eac opens at 9; \U0001f389 party!\n".encode() + b"bytes \xff\xfe end.")
    hf = part_roundtrip(genc, tmp, text)
    _, cd, params = part_numpy(genc, tmp, text)
    part_malformed(genc, tmp, text, hf, cd, params)
    shutil.rmtree(tmp, ignore_errors=True)
    print("test_hf: %d failed" % failed if failed else "test_hf: all passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
