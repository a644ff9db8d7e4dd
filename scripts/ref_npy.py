"""Fixtures for tests/test_npy.c: .npy files written by NumPy itself.

Good files (float32, C order) cover a 2-d array, a 0-d scalar, an empty dimension and a
version 2.0 header; the rest are files the reader must refuse: float64, big-endian
float32 and Fortran order. Values are fixed so the C test can check them exactly.
"""
import os

import numpy as np


def _save(outdir, name, a, version=None):
    path = os.path.join(outdir, name + ".npy")
    with open(path, "wb") as f:
        np.lib.format.write_array(f, a, version=version, allow_pickle=False)


def generate(outdir):
    x = (np.arange(6, dtype=np.float32) - 2.5).reshape(2, 3)
    _save(outdir, "npy_c2x3_x", x)
    _save(outdir, "npy_scalar_x", np.array(7.25, dtype=np.float32))
    _save(outdir, "npy_empty_x", np.zeros((0, 3), dtype=np.float32))
    _save(outdir, "npy_v2_x", np.arange(4, dtype=np.float32).reshape(1, 2, 1, 2),
          version=(2, 0))
    _save(outdir, "npy_f8_x", x.astype("<f8"))
    _save(outdir, "npy_bigendian_x", x.astype(">f4"))
    _save(outdir, "npy_fortran_x", np.asfortranarray(x))


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
