"""safetensors read/write for genc's Python reference tests (numpy arrays, metadata strings),
written from the format's description (8-byte little-endian header length, JSON header with
dtype/shape/data_offsets and __metadata__, raw little-endian data). test_safetensors_reader.py
keeps its own reader on purpose: it is the independent check of genc's format."""
import json
import struct

import numpy as np

_NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1",
       "I8": "i1", "I16": "<i2", "BOOL": "u1"}

_DT = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32",
       "uint8": "U8"}


def st_write(path, tensors, meta=None):
    """tensors: {name: numpy array} in the order to write; meta: {str: str}."""
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DT[arr.dtype.name], "shape": list(arr.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def st_read(path):
    """Returns ({name: numpy array in native byte order}, {metadata str: str})."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: shorter than the 8-byte header length" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("%s: header length %d beyond the file (%d bytes)" % (path, n, len(data)))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    base = 8 + n
    out = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        shape = [int(d) for d in e["shape"]]
        raw = data[base + b:base + en]
        if e["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        elif e["dtype"] in _NP:
            arr = np.frombuffer(raw, dtype=np.dtype(_NP[e["dtype"]]))
            arr = arr.astype(arr.dtype.newbyteorder("="))
        else:
            raise ValueError("%s: tensor %s: dtype %s not supported here" % (path, name, e["dtype"]))
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError("%s: tensor %s: %d bytes do not fit shape %s" % (path, name, len(raw), shape))
        out[name] = arr.reshape(shape)
    return out, meta
