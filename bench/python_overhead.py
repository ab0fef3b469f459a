"""The cost of driving genc from Python: one language-model training step written as a Python
loop (loss, backward, clip, AdamW, balancing: each a call into genc._genc) against the same
step inside the CLI's C loop (`genc lm train`), same model (tiny preset, vocab 512), batch
16 x 128 tokens, same threads. Rounds alternate the two sides so machine load hits both;
each round gives a ratio Python / CLI of its median step times, and the result is the
median of those ratios (a shared machine's load changes between rounds, less within one).

    /usr/bin/python3 bench/python_overhead.py BUILD_DIR [--steps 20] [--threads 1] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--steps", type=int, default=20)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--rounds", type=int, default=3)
args = ap.parse_args()
sys.path.insert(0, os.path.join(args.build, "python"))
import genc  # noqa: E402

CORPUS = "/usr/share/games/fortunes/fortunes"
B, T, WARM = 16, 128, 3


def cli_step_seconds(tmp):
    """Median step time of `genc lm train`, from the tokens/s its metrics log per step."""
    out = os.path.join(tmp, "cli")
    subprocess.run([os.path.join(args.build, "genc"), "lm", "train", "--data", CORPUS, "--steps", str(args.steps),
                    "--batch", str(B), "--seq", str(T), "--eval-every", "0", "--eval-tokens", "2000",
                    "--tok-vocab", "512", "--threads", str(args.threads), "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    rates = [json.loads(line).get("tokens_per_s") for line in open(os.path.join(out, "metrics.jsonl"))]
    rates = [r for r in rates if r][WARM:]
    return statistics.median(B * T / r for r in rates)


def python_step_seconds(ids, tok_vocab):
    lm = genc.LanguageModel("tiny", vocab_size=tok_vocab)
    opt = genc.AdamW(lm.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    params = list(lm.parameters())
    rng = np.random.default_rng(1)
    times = []
    for step in range(args.steps):
        starts = rng.integers(0, len(ids) - T - 1, size=B)
        batch = np.stack([ids[s:s + T + 1] for s in starts])
        t0 = time.perf_counter()
        opt.zero_grad()
        loss, _ = lm.loss(batch)
        loss.backward()
        genc.clip_grad_norm(params, 1.0)
        opt.step()
        lm.update_bias()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[WARM:])


def main():
    genc.set_threads(args.threads)
    text = open(CORPUS, encoding="latin-1").read()
    tok = genc.Tokenizer.train(text, 512)
    ids = np.array(tok.encode(text), dtype=np.int32)
    py, cli = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            cli.append(cli_step_seconds(tmp))
            py.append(python_step_seconds(ids, tok.vocab_size))
            print(f"round {r}: CLI {cli[-1] * 1e3:.1f} ms/step, Python {py[-1] * 1e3:.1f} ms/step, "
                  f"ratio {py[-1] / cli[-1]:.3f}", flush=True)
    c, p = statistics.median(cli), statistics.median(py)
    ratio = statistics.median(a / b for a, b in zip(py, cli))
    print(f"tiny LM, batch {B} x {T}, {args.threads} thread(s), {args.rounds} rounds of {args.steps} steps (medians):")
    print(f"  CLI (C loop)     {c * 1e3:8.1f} ms/step")
    print(f"  Python loop      {p * 1e3:8.1f} ms/step")
    print(f"  ratio Python/CLI {ratio:8.3f} (median over rounds; min {min(a / b for a, b in zip(py, cli)):.3f})")


main()
