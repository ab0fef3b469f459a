"""genc's FID (`genc image fid`) against an independent computation here: PyTorch float64
features of the same classifier checkpoint (conv 5x5 -> ReLU -> max-pool -> conv 5x5 -> ReLU ->
max-pool -> fc1 -> ReLU on 2x - 1, the penultimate layer), numpy mean and np.cov, and
tr (C_a C_b)^(1/2) from the eigenvalues of the non-symmetric product C_a C_b (np.linalg.eigvals),
a different route from genc's symmetric S C_b S with LAPACK dsyev.

Image sets: 400 Fashion-MNIST test images; the same images blurred and brightened; pure noise.
Checks: FID(a, a) = 0 to 1e-6; the others to 1e-5 relative + 2e-6 absolute (genc's features are
float32, ~1e-7 relative each, and genc prints 6 decimals; measured agreement ~3e-7 relative).
Usage: test_fid.py <genc binary> <build dir>"""
import gzip, json, os, re, subprocess, sys, tempfile

import numpy as np
import torch
import torch.nn.functional as F
from st_io import st_read, st_write

FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def load_test_images(n):
    with gzip.open(FASHION, "rb") as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8)
    return (raw[16:16 + n * 784].reshape(n, 784) / 255.0).astype(np.float32)


def features(ckpt, x):
    t, meta = st_read(ckpt)
    cfg = json.loads(meta["config"])
    g = lambda k: torch.from_numpy(t[k].astype(np.float64))
    h = torch.from_numpy(x.astype(np.float64)) * 2 - 1
    h = h.reshape(-1, 1, cfg["rows"], cfg["cols"])
    h = F.max_pool2d(F.relu(F.conv2d(h, g("conv1.weight"), g("conv1.bias"), padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, g("conv2.weight"), g("conv2.bias"), padding=2)), 2)
    return F.relu(F.linear(h.reshape(h.shape[0], -1), g("fc1.weight"), g("fc1.bias"))).numpy()


def fid(fa, fb):
    ma, mb = fa.mean(0), fb.mean(0)
    ca, cb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    ev = np.linalg.eigvals(ca @ cb)
    tr_sqrt = np.sqrt(np.clip(ev.real, 0, None)).sum()
    return float(((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * tr_sqrt)


def genc_fid(genc, cls, a, b, n):
    out = subprocess.run([genc, "image", "fid", "--classifier", cls, "--a", a, "--b", b, "--count", str(n),
                          "--threads", "2"], capture_output=True, text=True)
    if out.returncode:
        sys.exit("genc image fid failed: " + out.stderr)
    return float(re.search(r"FID (\S+)", out.stdout).group(1))


def main():
    genc = sys.argv[1]
    if not os.path.exists(FASHION):
        if os.environ.get("GENC_REQUIRE_DEPS") == "1":
            print("test_fid: FAIL: no Fashion-MNIST at %s (a required dependency: make deps)" % FASHION)
            return 1
        print("test_fid: SKIP (no Fashion-MNIST at %s)" % FASHION)
        return 77
    tmp = tempfile.mkdtemp()
    cls = os.path.join(tmp, "c")
    subprocess.run([genc, "classify", "train", "--c1", "4", "--c2", "8", "--hidden", "24", "--steps", "30", "--limit",
                    "2000", "--val", "100", "--eval-every", "0", "--threads", "2", "--out", cls],
                   check=True, capture_output=True)
    ckpt = os.path.join(cls, "checkpoint.safetensors")
    n = 400
    a = load_test_images(n)
    img = a.reshape(n, 28, 28)
    blurred = (img + np.roll(img, 1, 1) + np.roll(img, 1, 2) + np.roll(img, (1, 1), (1, 2))) / 4
    b = np.clip(blurred * 0.8 + 0.15, 0, 1).reshape(n, 784).astype(np.float32)
    noise = np.random.default_rng(0).random((n, 784)).astype(np.float32)
    paths = {}
    for name, arr in (("a", a), ("b", b), ("noise", noise)):
        paths[name] = os.path.join(tmp, name + ".safetensors")
        st_write(paths[name], {"images": arr})
    fa, fb, fn = (features(ckpt, x) for x in (a, b, noise))
    failed = 0
    for (x, y, ref) in (("a", "a", 0.0), ("a", "b", fid(fa, fb)), ("a", "noise", fid(fa, fn)),
                        ("noise", "b", fid(fn, fb))):
        got = genc_fid(genc, ckpt, paths[x], paths[y], n)
        tol = 1e-6 if ref == 0 else 1e-5 * abs(ref) + 2e-6
        ok = abs(got - ref) <= tol
        failed += not ok
        print("FID(%s, %s): genc %.8g, reference %.8g, |diff| %.3g (tol %.3g) %s" %
              (x, y, got, ref, abs(got - ref), tol, "ok" if ok else "FAIL"))
    print("test_fid: %d passed, %d failed" % (4 - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
