#!/usr/bin/python3
"""Checks genc's safetensors files against an independent reader and writer written here
from the format description (struct + json + numpy, no safetensors package).

Usage: test_safetensors_reader.py <genc-binary> <build-dir>; drives <build-dir>/st_roundtrip.
1. st_roundtrip writes a file; this script parses it and checks layout and every value
   (bf16 by bit shifts, f8 e4m3fn decoded by formula, rounding by brute force).
2. This script writes a file (odd header length, data in reverse order, all dtypes);
   st_roundtrip reads it back and checks it.
3. Hostile files written here must be rejected with a one-line message naming the file.
Prints "N passed, N failed" last; exits non-zero on any failure."""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

PASSED = 0
FAILED = 0


def check(cond, what):
    global PASSED, FAILED
    if cond:
        PASSED += 1
    else:
        FAILED += 1
        print("FAIL:", what)


# ---- independent decoding helpers ----

def f32_bits(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)


def bf16_round(x):
    """float32 -> bf16 bits, round to nearest even (NaN not expected here)."""
    b = f32_bits(x)
    lsb = (b >> np.uint64(16)) & np.uint64(1)
    return ((b + np.uint64(0x7FFF) + lsb) >> np.uint64(16)).astype(np.uint16)


def bf16_decode(bits):
    return (np.asarray(bits, dtype=np.uint32) << np.uint32(16)).view(np.float32)


def f8_decode(code):
    """OCP float8 e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa; S.1111.111 is NaN."""
    s = -1.0 if code & 0x80 else 1.0
    e = (code >> 3) & 0xF
    m = code & 0x7
    if e == 15 and m == 7:
        return float("nan")
    if e == 0:
        return s * m / 8.0 * 2.0 ** -6
    return s * (1.0 + m / 8.0) * 2.0 ** (e - 7)


def f8_nearest(x):
    """The code nearest to x (ties to even mantissa), saturating to +-448."""
    x = float(np.float32(x))
    best, best_d = 0, None
    for c in range(0x7F):  # non-negative finite codes
        d = abs(f8_decode(c) - abs(x))
        if best_d is None or d < best_d or (d == best_d and c % 2 == 0):
            best, best_d = c, d
    if abs(x) > 448:
        best = 0x7E
    return best | (0x80 if np.signbit(x) else 0)


def parse(path):
    """Independent reader: returns (header dict in order, data bytes, header length)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    pairs = json.loads(raw[8:8 + n].decode("utf-8"), object_pairs_hook=lambda p: p)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "duplicate keys"
    return dict(pairs), keys, raw[8 + n:], n


def tensor(header, data, name, np_dtype):
    ent = dict(header[name])
    b, e = ent["data_offsets"]
    return np.frombuffer(data[b:e], dtype=np_dtype).reshape(ent["shape"])


# ---- part 1: genc writes, Python reads ----

VAL_A = np.array([((i * 37) % 101 - 50) for i in range(12)], dtype=np.float32) / np.float32(16)
VAL_B = np.array([((i * 53) % 97 - 48) for i in range(10)], dtype=np.float32) * np.float32(0.3)
F8_IN = np.array([0.0, 1.0, -1.5, 17.0, 19.0, 1000.0, -500.0, 448.0, 464.0, 0.0009765625,
                  0.0029296875, 0.3, -0.01, 240.0, 0.015625, -3.3], dtype=np.float32)
BT_IN = np.array([1.00390625, 1.01171875, -1.00390625, 3.40282347e38], dtype=np.float32)


def check_layout(header, keys, data, n):
    check(n % 8 == 0, "header length %d is a multiple of 8" % n)
    names = [k for k in keys if k != "__metadata__"]
    check(names == ["model.a", "model.b", "model.b_ties", "model.h", "model.f8", "step.i64"],
          "tensor order %s" % names)
    off = 0
    for k in names:
        ent = dict(header[k])
        check(sorted(ent) == ["data_offsets", "dtype", "shape"], "%s keys %s" % (k, sorted(ent)))
        check(ent["data_offsets"][0] == off, "%s starts at %d" % (k, off))
        off = ent["data_offsets"][1]
    check(off == len(data), "data section is %d bytes, tensors end at %d" % (len(data), off))
    meta = dict(header["__metadata__"])
    check(meta == {"format": "pt", "config": '{"hidden_size": 8}', "note": "h\u00e9llo \u2603"},
          "metadata %r" % meta)


def check_values(header, data):
    check(np.array_equal(tensor(header, data, "model.a", "<f4").ravel(), VAL_A), "F32 values")
    bits = tensor(header, data, "model.b", "<u2").ravel()
    check(np.array_equal(bits, bf16_round(VAL_B)), "BF16 bits %s" % bits)
    check(np.array_equal(bf16_decode(bits), bf16_decode(bf16_round(VAL_B))), "BF16 values")
    ties = tensor(header, data, "model.b_ties", "<u2").ravel()
    check(list(ties) == [0x3F80, 0x3F82, 0xBF80, 0x7F80], "BF16 ties/overflow %s" % ties)
    try:
        import torch
        want = torch.tensor(VAL_B).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
        check(np.array_equal(bits, want), "BF16 matches torch")
    except ImportError:
        print("note: torch not available, skipping the torch bf16 cross-check")
    h = tensor(header, data, "model.h", "<f2").ravel()
    check(np.array_equal(h, VAL_B.astype(np.float16)), "F16 matches numpy %s" % h)
    codes = tensor(header, data, "model.f8", "u1").ravel()
    want = [f8_nearest(x) for x in F8_IN]
    check(list(codes) == want, "F8 codes %s want %s" % (list(codes), want))
    check(f8_decode(int(codes[5])) == 448.0 and f8_decode(int(codes[6])) == -448.0, "F8 saturates")
    ints = tensor(header, data, "step.i64", "<i8").ravel()
    check(list(ints) == [-1, 1 << 40, -(1 << 63), 7], "I64 values %s" % ints)
    sh = {k: dict(header[k])["shape"] for k in ("model.a", "model.b", "model.f8", "step.i64")}
    check(sh == {"model.a": [3, 4], "model.b": [2, 5], "model.f8": [16], "step.i64": [2, 2]},
          "shapes %s" % sh)
    names = ("model.a", "model.b", "model.h", "model.f8", "step.i64")
    dt = [dict(header[k])["dtype"] for k in names]
    check(dt == ["F32", "BF16", "F16", "F8_E4M3", "I64"], "dtypes %s" % dt)


def part_genc_writes(tool, tmp):
    path = os.path.join(tmp, "c.safetensors")
    r = subprocess.run([tool, "write", path], capture_output=True, text=True)
    check(r.returncode == 0, "st_roundtrip write: %s" % r.stderr)
    if r.returncode:
        return
    header, keys, data, n = parse(path)
    check_layout(header, keys, data, n)
    check_values(header, data)
    check(not [f for f in os.listdir(tmp) if ".tmp." in f], "no temporary files left")


# ---- part 2: Python writes, genc reads ----

def write_file(path, tensors, meta, reverse=True, pad=False):
    """tensors: list of (name, dtype, shape, bytes). Data is laid out in reverse order."""
    header, blobs, off = {}, [], 0
    order = list(reversed(tensors)) if reverse else tensors
    for name, dtype, shape, blob in order:
        blobs.append(blob)
        header[name] = (dtype, shape, [off, off + len(blob)])
        off += len(blob)
    obj = {name: {"data_offsets": header[name][2], "shape": header[name][1],
                  "dtype": header[name][0]} for name, _, _, _ in tensors}
    if meta is not None:
        obj["__metadata__"] = meta
    text = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    if pad:
        text += b" " * (-len(text) % 8)
    elif len(text) % 8 == 0:
        text += b"\n"  # keep the data section unaligned: readers must not rely on it
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return len(text)


def python_tensors():
    bf = np.array([1.0, -2.0, 0.5, 3.140625, -0.0078125, 256.0], dtype=np.float32)
    return [
        ("a", "F32", [3, 4], VAL_A.astype("<f4").tobytes()),
        ("h", "F16", [5], np.array([1, -2.5, 65504, 2.0 ** -24, 0.1], dtype="<f2").tobytes()),
        ("b", "BF16", [2, 3], (bf.view(np.uint32) >> 16).astype("<u2").tobytes()),
        ("d", "F64", [2, 2], np.array([0.1, -1e300, 2.5, 0], dtype="<f8").tobytes()),
        ("i", "I32", [3], np.array([-5, 0, 2147483647], dtype="<i4").tobytes()),
        ("u", "U8", [4], bytes([0, 1, 127, 255])),
        ("f8", "F8_E4M3", [4], bytes([0x38, 0xFE, 0x01, 0x7F])),
        ("l", "I64", [2], np.array([-9007199254740993, 5], dtype="<i8").tobytes()),
        ("e", "F32", [0, 2], b""),
        ("s", "F64", [], np.array([3.5], dtype="<f8").tobytes()),
    ]


def part_python_writes(tool, tmp):
    path = os.path.join(tmp, "p.safetensors")
    n = write_file(path, python_tensors(), {"format": "pt", "note": "\u2603 snow"})
    check(n % 8 != 0, "python header length %d is unpadded (odd on purpose)" % n)
    r = subprocess.run([tool, "check", path], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.strip() == "ok", "st_roundtrip check: %s" % r.stderr)


# ---- part 3: hostile files ----

def expect_rejected(tool, path, needle):
    r = subprocess.run([tool, "open", path], capture_output=True, text=True)
    msg = r.stderr.strip()
    check(r.returncode == 2 and msg.startswith(path) and "\n" not in msg and needle in msg,
          "%s: rc %d, message %r, wanted %r" % (os.path.basename(path), r.returncode, msg, needle))


def part_hostile(tool, tmp):
    p = os.path.join(tmp, "bad_size.st")
    write_file(p, [("w", "F32", [2, 2], b"\0" * 12)], None)
    expect_rejected(tool, p,
                    'tensor "w": data_offsets [0, 12] give 12 bytes but F32 [2, 2] needs 16')
    p = os.path.join(tmp, "bad_meta.st")
    with open(p, "wb") as f:
        text = b'{"__metadata__": {"epoch": 3}}'
        f.write(struct.pack("<Q", len(text)) + text)
    expect_rejected(tool, p, 'metadata "epoch" must be a string')
    p = os.path.join(tmp, "cut.st")
    write_file(os.path.join(tmp, "whole.st"), python_tensors(), None)
    raw = open(os.path.join(tmp, "whole.st"), "rb").read()
    with open(p, "wb") as f:
        f.write(raw[:-3])
    expect_rejected(tool, p, "reach past")
    p = os.path.join(tmp, "huge.st")
    with open(p, "wb") as f:
        f.write(struct.pack("<Q", 1 << 40) + b"{}")
    expect_rejected(tool, p, "exceeds the limit")
    p = os.path.join(tmp, "dup.st")
    with open(p, "wb") as f:
        text = b'{"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, ' \
               b'"x": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}'
        f.write(struct.pack("<Q", len(text)) + text + b"\0\0")
    expect_rejected(tool, p, "duplicate")


def main():
    if len(sys.argv) != 3:
        print("usage: test_safetensors_reader.py <genc-binary> <build-dir>")
        return 2
    tool = os.path.join(sys.argv[2], "st_roundtrip")
    check(os.access(tool, os.X_OK), "%s exists" % tool)
    if os.access(tool, os.X_OK):
        with tempfile.TemporaryDirectory(prefix="genc_st_ref_") as tmp:
            part_genc_writes(tool, tmp)
            part_python_writes(tool, tmp)
            part_hostile(tool, tmp)
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
