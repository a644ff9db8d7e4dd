"""Fixtures for tests/test_safetensors.c: safetensors files made by hand with struct and
json, following the layout the Python safetensors library writes:

- tensors sorted by dtype (widest alignment first, in the library's dtype order) then by
  name, packed with no gaps from offset 0;
- header = compact JSON (separators ',' ':', non-ASCII kept as UTF-8) with
  "__metadata__" first when present, then the tensors in data order, each as
  {"dtype", "shape", "data_offsets"}; padded with spaces to a multiple of 8 bytes;
- 8-byte little-endian header length first.

check(path) applies the library's reading rules to any file (used to check files written
by knseg): `python3 scripts/ref_safetensors.py check FILE...`.
"""
import json
import os
import struct
import sys

import numpy as np

# The library's dtype order (increasing alignment) and element sizes.
DTYPES = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
          "I32", "U32", "F32", "F64", "I64", "U64"]
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
         "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def serialize(tensors, metadata=None):
    """tensors: {name: (dtype, shape, little-endian bytes)}; returns the file bytes."""
    order = sorted(tensors, key=lambda n: (-DTYPES.index(tensors[n][0]), n.encode()))
    header, data, offset = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in order:
        dtype, shape, raw = tensors[name]
        assert len(raw) == int(np.prod(shape, dtype=np.int64)) * SIZES[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def check(path):
    """Raises ValueError unless the file obeys the library's reading rules."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("header too small")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > 100_000_000 or 8 + n > len(buf):
        raise ValueError("invalid header length")
    text = buf[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        raise ValueError("header does not start with '{'")
    pairs = json.loads(text, object_pairs_hook=lambda p: p)
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("duplicate keys")
    entries, metadata = [], {}
    for k, v in pairs:
        if k == "__metadata__":
            metadata = dict(v)
            if not all(isinstance(x, str) for x in metadata.values()):
                raise ValueError("metadata values must be strings")
            continue
        v = dict(v)
        b, e = v["data_offsets"]
        size = int(np.prod(v["shape"], dtype=np.int64)) * SIZES[v["dtype"]]
        entries.append((b, e, k, size))
    pos = 0
    for b, e, k, size in sorted(entries):
        if b != pos or e < b or e - b != size:
            raise ValueError("invalid offsets for " + k)
        pos = e
    if 8 + n + pos != len(buf):
        raise ValueError("metadata incomplete buffer")
    return [k for _, _, k, _ in sorted(entries)], metadata


def f32(values):
    return np.asarray(values, dtype="<f4").tobytes()


def reference():
    """F32 tensors (a matrix, a vector, an empty one, a scalar) and metadata that needs
    escaping; test_safetensors.c writes the same content and expects these bytes."""
    tensors = {
        "conv.weight": ("F32", (2, 3), f32([0.5 * i - 1 for i in range(6)])),
        "bias": ("F32", (3,), f32([1, 2, 3])),
        "empty": ("F32", (0, 4), b""),
        "scalar": ("F32", (), f32([42])),
    }
    metadata = {"arch": "knresnet18", "note": "tab\there \"q\" \\ caf\u00e9 \u0001"}
    return serialize(tensors, metadata)


def dtypes():
    """One tensor of each of several dtypes, laid out in the library's dtype order."""
    tensors = {
        "i64": ("I64", (2,), np.asarray([-1, 2 ** 40], dtype="<i8").tobytes()),
        "d64": ("F64", (3,), np.asarray([0.1, -2.5, 1e300], dtype="<f8").tobytes()),
        "f32": ("F32", (1,), f32([0.25])),
        "b16": ("BF16", (3,), np.asarray([0x3fc0, 0xc000, 0x0001], dtype="<u2").tobytes()),
        "h16": ("F16", (5,), np.asarray([1.0, -0.0, 2.0 ** -24, 65504.0, np.inf],
                                       dtype="<f2").tobytes()),
        "u8": ("U8", (2, 2), bytes([0, 1, 2, 255])),
    }
    return serialize(tensors)


def generate(outdir):
    for name, content in [("safetensors_reference", reference()),
                          ("safetensors_dtypes", dtypes())]:
        path = os.path.join(outdir, name + ".safetensors")
        with open(path, "wb") as f:
            f.write(content)
        check(path)


if __name__ == "__main__":
    if sys.argv[1:2] == ["check"]:
        for p in sys.argv[2:]:
            print(p, check(p))
    else:
        generate(os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
