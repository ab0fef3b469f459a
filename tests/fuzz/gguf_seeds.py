#!/usr/bin/env python3
"""Writes the GGUF fuzzer's seed files into DIR (run_fuzz_gguf.sh calls it): a bare header,
a file of key/value pairs only, and one with a value of every GGUF key type and a tensor of
each type genc writes (F32, F16, Q8_0), laid out by the GGUF v3 spec (little-endian; tensor
data aligned to general.alignment, 32). Written from the spec, not by genc's writer, so the
seeds do not share its mistakes. Usage: gguf_seeds.py DIR"""
import os
import struct
import sys

ALIGN = 32


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload):
    return gstr(key) + struct.pack("<I", vtype) + payload


def header(n_tensors, kvs):
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, len(kvs)) + b"".join(kvs)


def pad(b):
    return b + b"\0" * (-len(b) % ALIGN)


def every_kv():
    arr = struct.pack("<IQ", 4, 3) + struct.pack("<3I", 1, 2, 3)  # array of three uint32
    strs = struct.pack("<IQ", 8, 2) + gstr("a") + gstr("<|bos|>")  # array of two strings
    return [kv("general.architecture", 8, gstr("deepseek2")), kv("general.alignment", 4, struct.pack("<I", ALIGN)),
            kv("t.u8", 0, b"\x07"), kv("t.i8", 1, b"\xf9"), kv("t.u16", 2, struct.pack("<H", 7)),
            kv("t.i16", 3, struct.pack("<h", -7)), kv("t.i32", 5, struct.pack("<i", -7)),
            kv("t.f32", 6, struct.pack("<f", 0.5)), kv("t.bool", 7, b"\x01"), kv("t.u64", 10, struct.pack("<Q", 7)),
            kv("t.i64", 11, struct.pack("<q", -7)), kv("t.f64", 12, struct.pack("<d", 0.25)),
            kv("t.arr", 9, arr), kv("tokenizer.ggml.tokens", 9, strs)]


def every_type():
    # name, dims, ggml type, data: F32 [4], F16 [4], Q8_0 one block of 32 (f16 scale + 32 int8)
    tensors = [("a.f32", [4], 0, struct.pack("<4f", 1, -2, 0.5, 3)),
               ("b.f16", [4], 1, struct.pack("<4e", 1, -2, 0.5, 3)),
               ("c.q8_0", [32], 8, struct.pack("<e", 0.125) + bytes(range(32)))]
    infos, data = b"", b""
    for name, dims, t, d in tensors:
        infos += gstr(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        infos += struct.pack("<IQ", t, len(data))
        data = pad(data + d)
    return pad(header(len(tensors), every_kv()) + infos) + data


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {"empty.gguf": pad(header(0, [])), "kv_only.gguf": pad(header(0, every_kv()[:2])),
             "every_type.gguf": every_type()}
    for name, b in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
