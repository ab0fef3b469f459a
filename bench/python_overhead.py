"""The cost of driving genc from Python: one language-model training step written as a Python
loop (loss, backward, clip, AdamW, balancing: each a call into genc._genc) against the same
step inside the CLI's C loop (`genc lm train`), same model (tiny preset, vocab 512), batch
16 x 128 tokens, one thread.

Steps are measured in CPU time, which a busy shared machine disturbs far less than wall
time (with one thread, CPU time is the step's work): the CLI's per-step time is the CPU
time of a run of WARM + STEPS steps minus that of a run of WARM steps (same tokenizer
training, same setup), divided by STEPS; the Python loop's is the process CPU time of each
step after WARM. Rounds alternate the sides; the result is the median of the per-round
ratios. A third column runs the C loop inside the Python process (LanguageModel.fit).

    /usr/bin/python3 bench/python_overhead.py BUILD_DIR [--steps 20] [--rounds 3]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--steps", type=int, default=20)
ap.add_argument("--rounds", type=int, default=3)
args = ap.parse_args()
sys.path.insert(0, os.path.join(args.build, "python"))
import genc  # noqa: E402

CORPUS = "/usr/share/games/fortunes/fortunes"
B, T, WARM = 16, 128, 3


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cli_run_cpu(tmp, steps):
    before = child_cpu()
    subprocess.run([os.path.join(args.build, "genc"), "lm", "train", "--data", CORPUS, "--steps", str(steps),
                    "--batch", str(B), "--seq", str(T), "--eval-every", "0", "--eval-tokens", "256",
                    "--tok-vocab", "512", "--threads", "1", "--out", os.path.join(tmp, f"cli{steps}")],
                   check=True, stdout=subprocess.DEVNULL)
    return child_cpu() - before


def cli_step_seconds(tmp):
    return (cli_run_cpu(tmp, WARM + args.steps) - cli_run_cpu(tmp, WARM)) / args.steps


def python_step_seconds(ids, tok_vocab):
    lm = genc.LanguageModel("tiny", vocab_size=tok_vocab)
    opt = genc.AdamW(lm.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    params = list(lm.parameters())
    rng = np.random.default_rng(1)
    times = []
    for step in range(WARM + args.steps):
        starts = rng.integers(0, len(ids) - T - 1, size=B)
        batch = np.stack([ids[s:s + T + 1] for s in starts])
        t0 = time.process_time()
        opt.zero_grad()
        loss, _ = lm.loss(batch)
        loss.backward()
        genc.clip_grad_norm(params, 1.0)
        opt.step()
        lm.update_bias()
        times.append(time.process_time() - t0)
    return statistics.mean(times[WARM:])


def fit_step_seconds(ids, tok_vocab):
    """genc's C training loop run from Python (LanguageModel.fit), CPU time per step."""
    lm = genc.LanguageModel("tiny", vocab_size=tok_vocab)
    stamps = []
    lm.fit(ids, steps=WARM + args.steps, batch=B, seq=T, threads=1,
           callback=lambda s, l: stamps.append(time.process_time()))
    return (stamps[-1] - stamps[WARM - 1]) / args.steps


def main():
    genc.set_threads(1)
    text = open(CORPUS, encoding="latin-1").read()
    tok = genc.Tokenizer.train(text, 512)
    ids = np.array(tok.encode(text), dtype=np.int32)
    py, cli, fit = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            cli.append(cli_step_seconds(tmp))
            py.append(python_step_seconds(ids, tok.vocab_size))
            fit.append(fit_step_seconds(ids, tok.vocab_size))
            print(f"round {r}: CPU ms/step: CLI {cli[-1] * 1e3:.1f}, Python loop {py[-1] * 1e3:.1f}, "
                  f"fit {fit[-1] * 1e3:.1f}; Python/CLI {py[-1] / cli[-1]:.3f}, Python/fit {py[-1] / fit[-1]:.3f}",
                  flush=True)
    ratio = statistics.median(a / b for a, b in zip(py, cli))
    rfit = statistics.median(a / b for a, b in zip(py, fit))
    print(f"tiny LM, batch {B} x {T}, 1 thread, {args.rounds} rounds of {args.steps} steps, CPU time (medians):")
    print(f"  CLI (genc lm train)          {statistics.median(cli) * 1e3:8.1f} ms/step")
    print(f"  C loop in Python (fit)       {statistics.median(fit) * 1e3:8.1f} ms/step")
    print(f"  Python loop                  {statistics.median(py) * 1e3:8.1f} ms/step")
    print(f"  ratio Python/CLI {ratio:.3f} (range {min(a / b for a, b in zip(py, cli)):.3f}-"
          f"{max(a / b for a, b in zip(py, cli)):.3f}), Python/fit {rfit:.3f}")


main()
