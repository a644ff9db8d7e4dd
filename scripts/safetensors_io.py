"""Minimal safetensors reading and writing for the scripts (F32 only).

The format: an 8-byte little-endian header length, a JSON header mapping each tensor
name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data buffer
that follows) plus an optional "__metadata__" of string pairs, then the raw
little-endian data. Tensors are laid out in name order and the header is padded with
spaces to a multiple of 8 bytes, as the reference library does.
"""
import json
import struct

import numpy as np


def save(path, tensors, metadata=None):
    """tensors: dict name -> array-like (stored as float32)."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        # np.ascontiguousarray would turn a 0-d array into shape [1]; copy keeps ().
        a = np.array(tensors[name], dtype="<f4", order="C", copy=True)
        data = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> float32 array, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError("%s: dtype %s is not F32" % (name, info["dtype"]))
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(raw[base + b:base + e], dtype="<f4").reshape(info["shape"])
    return out, meta
