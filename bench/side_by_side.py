"""bench/side_by_side.py: what the image-model benchmarks (bench/nice.py, bench/unet.py) share:
running a genc bench binary and reading its "RESULT genc key=value" lines, and the rounds that
alternate genc and PyTorch, printed as each side's best round (the least disturbed on a shared
machine), the median, and the ratio genc / PyTorch."""
import os
import statistics
import subprocess
import sys


def genc_results(exe, args, threads, echo=()):
    """Run exe with args at `threads` OpenMP threads; echo its lines starting with one of `echo`;
    return the RESULT values as floats."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([exe] + [str(x) for x in args], capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"{os.path.basename(exe)} failed: {out.stderr.strip()}")
    for line in out.stdout.splitlines():
        if line.startswith(tuple(echo)):
            print("genc:", line, flush=True)
    vals = dict(line.split()[2].split("=") for line in out.stdout.splitlines() if line.startswith("RESULT"))
    return {k: float(v) for k, v in vals.items()}


def compare_images(rounds, genc_fn, torch_fn, title):
    """genc_fn() and torch_fn() -> (train images/s, sample images/s, ...); `title(torch_results)`
    heads the table."""
    g, t = [], []
    for r in range(rounds):
        g.append(genc_fn())
        t.append(torch_fn())
        print(f"round {r + 1}: genc train {g[-1][0]:.1f} sample {g[-1][1]:.1f} images/s; "
              f"torch train {t[-1][0]:.1f} sample {t[-1][1]:.1f} images/s", flush=True)
    print("\n" + title(t[0]))
    for i, what in enumerate(["train", "sample"]):
        gb, tb = max(x[i] for x in g), max(x[i] for x in t)
        gm, tm = statistics.median(x[i] for x in g), statistics.median(x[i] for x in t)
        print(f"  {what:6s} genc {gb:8.1f} ({gm:8.1f})   torch {tb:8.1f} ({tm:8.1f})   genc/torch {gb / tb:.2f}")
