#!/usr/bin/python3
"""bench/llama_cpp_decode.py: greedy decode tokens/s of genc and llama.cpp on the same model.

    /usr/bin/python3 bench/llama_cpp_decode.py [--build build] [--presets tiny,small,base]
                                               [--threads 1] [--tokens 200] [--rounds 3]

For each preset: genc trains it for one step on fortunes text (decode speed does not depend
on the weights), exports it with `genc lm export --format gguf --type f32`, then decodes the
same prompt ids greedily with `genc lm sample --temperature 0` (its latent KV cache) and with
llama.cpp (bench/llama_decode.mjs, node-llama-cpp 3.21.1's prebuilt CPU build), same thread
count, alternating rounds; each side's best round is reported. genc's rate is the one it
prints (generated tokens over the generation time, prefill excluded); llama.cpp's counts the
tokens after the first over the time after the first.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--presets", default="tiny,small,base")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    genc = os.path.join(a.build, "genc")
    nlc = os.path.join(a.build, "data", "node-llama-cpp")
    sys.path.insert(0, os.path.join(a.build, "python"))
    import genc as G
    tmp = tempfile.mkdtemp(prefix="genc_decode_")
    corpus = os.path.join(tmp, "corpus.txt")
    with open("/usr/share/games/fortunes/fortunes", "rb") as f, open(corpus, "wb") as g:
        g.write(f.read()[:400000])
    print("| preset | parameters | threads | genc tok/s | llama.cpp tok/s | genc / llama.cpp |")
    print("|---|---|---|---|---|---|")
    for preset in a.presets.split(","):
        out = os.path.join(tmp, preset)
        subprocess.run([genc, "lm", "train", "--data", corpus, "--preset", preset, "--steps", "1", "--batch", "1",
                        "--seq", "32", "--eval-every", "0", "--threads", str(a.threads), "--out", out],
                       check=True, capture_output=True)
        ck = os.path.join(out, "checkpoint.safetensors")
        gguf = os.path.join(tmp, preset + ".gguf")
        subprocess.run([genc, "lm", "export", "--checkpoint", ck, "--format", "gguf", "--out", gguf], check=True,
                       capture_output=True)
        lm = G.LanguageModel.load(ck)
        prompt = "The secret of life is"
        ids = lm.tokenizer.encode(prompt)
        params = sum(int(p.numel()) if hasattr(p, "numel") else 0 for p in lm.parameters())
        g_best = l_best = 0.0
        for _ in range(a.rounds):
            r = subprocess.run([genc, "lm", "sample", "--checkpoint", ck, "--prompt", prompt, "--max-tokens",
                                str(a.tokens), "--temperature", "0", "--threads", str(a.threads)],
                               check=True, capture_output=True)
            text = (r.stdout + r.stderr).decode("utf-8", "replace")
            g_best = max(g_best, float(re.search(r"([0-9.]+) tokens/s", text).group(1)))
            r = subprocess.run(["node", os.path.join(ROOT, "bench", "llama_decode.mjs"), nlc, gguf, str(a.threads),
                                str(a.tokens), ",".join(map(str, ids))], check=True, capture_output=True, text=True)
            j = json.loads(r.stdout.strip().splitlines()[-1])
            l_best = max(l_best, j["tokens"] / j["seconds"])
        print("| %s | %s | %d | %.0f | %.0f | %.2f |" % (preset, "{:,}".format(params), a.threads, g_best, l_best,
                                                          g_best / l_best))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
