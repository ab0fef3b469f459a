#!/usr/bin/python3
"""YaRN in the GGUF export against a real llama.cpp (node-llama-cpp 3.21.1's prebuilt CPU
build, tests/reference/llama_eval.mjs).

    /usr/bin/python3 tests/reference/test_llama_cpp_yarn.py <genc binary> <build dir>

An HF folder written with numpy (test_hf.numpy_folder: BF16, MoE with q LoRA and MTP) with
DeepSeek-V3's rope_scaling (yarn, factor 40, original context 4096, beta 32/1, mscale =
mscale_all_dim = 1) is exported with `genc lm export --format gguf` (f32); llama.cpp's
next-token probabilities at every position (F32 KV cache) must equal genc's within 1e-4, the
f32 tolerance of test_llama_cpp.py. The same weights without rope_scaling, evaluated by
llama.cpp, must differ from genc's YaRN probabilities by more than 1e-3 (else the check could
not see YaRN). Exit 77 (skipped) when node or node-llama-cpp is missing, unless
GENC_REQUIRE_DEPS=1.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
YARN = {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1,
        "mscale": 1.0, "mscale_all_dim": 1.0}
TEXT = b"The cafe in Tokyo opens at 9; party! Then the rain came."


def skip_or_fail(why):
    if os.environ.get("GENC_REQUIRE_DEPS") == "1":
        print("test_llama_cpp_yarn: FAIL: %s (a required dependency: make deps)" % why)
        sys.exit(1)
    print("test_llama_cpp_yarn: SKIP (%s)" % why)
    sys.exit(77)


def llama_probs(nlc, gguf, ids, tmp):
    job, res = os.path.join(tmp, "job.json"), os.path.join(tmp, "res.json")
    with open(job, "w") as f:
        json.dump({"sequences": [ids], "n_vocab": 384, "greedy": 0, "threads": 1, "kv_f32": True}, f)
    subprocess.run(["node", os.path.join(HERE, "llama_eval.mjs"), nlc, gguf, job, res], check=True,
                   capture_output=True)
    with open(res) as f:
        return json.load(f)["results"][0]["probs"]


def main():
    genc_bin, build = sys.argv[1], sys.argv[2]
    nlc = os.path.join(build, "data", "node-llama-cpp")
    if not shutil.which("node"):
        skip_or_fail("no node on PATH")
    if not os.path.exists(os.path.join(nlc, "node_modules", "node-llama-cpp", "dist", "index.js")):
        skip_or_fail("node-llama-cpp is not installed in %s (scripts/fetch_llama_cpp.sh)" % nlc)
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(build, "python"))
    import numpy as np
    import torch
    import deepseek_ref as R
    import lm_fixture as FX
    import test_hf as H
    import genc

    cd = dict(FX.TEST_CONFIGS["qlora_sigmoid_groups_mtp2"], vocab_size=300, hidden_size=144, intermediate_size=272,
              moe_intermediate_size=136)
    params = FX.init_params(torch, R.Config.from_dict(cd), R.param_shapes(R.Config.from_dict(cd)), seed=7)
    tmp = tempfile.mkdtemp(prefix="genc_llama_yarn_")
    probs = {}
    for tag, rs in (("yarn", YARN), ("plain", None)):
        d, gguf = os.path.join(tmp, tag), os.path.join(tmp, tag + ".gguf")
        H.numpy_folder(d, dict(cd, rope_scaling=rs), params, False)
        subprocess.run([genc_bin, "lm", "export", "--checkpoint", d, "--format", "gguf", "--out", gguf], check=True,
                       capture_output=True)
        lm = genc.LanguageModel.load(d)
        ids = list(lm.tokenizer.encode(TEXT))
        with genc.no_grad():
            lg = np.asarray(lm(np.array([ids], dtype=np.int32)))[0].astype(np.float64)
        p = np.exp(lg - lg.max(1, keepdims=True))
        probs[tag] = (p / p.sum(1, keepdims=True), np.array(llama_probs(nlc, gguf, ids, tmp))[:, :lg.shape[1]])
    diff = float(np.abs(probs["yarn"][0] - probs["yarn"][1]).max())
    control = float(np.abs(probs["yarn"][0] - probs["plain"][1]).max())
    failed = (diff > 1e-4) + (control <= 1e-3)
    print("%s llama.cpp vs genc, YaRN GGUF: max prob diff %.2e (tol 1e-4), %d positions" % (
        "ok  " if diff <= 1e-4 else "FAIL", diff, len(ids)))
    print("%s llama.cpp without rope_scaling vs genc's YaRN: %.2e (must exceed 1e-3)" % (
        "ok  " if control > 1e-3 else "FAIL", control))
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
