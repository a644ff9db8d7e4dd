"""Regenerates every PyTorch reference fixture: `make fixtures`.

Usage: /usr/bin/python3 scripts/make_fixtures.py tests/fixtures

Each scripts/ref_*.py module defines generate(outdir); they are run in name order.
The references are written from the formulas of nets/README.md and metrics/README.md, in double where
the module says so, and saved as float32.
"""
import glob
import importlib
import os
import sys

import torch


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    for path in sorted(glob.glob(os.path.join(here, "ref_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        print("fixtures:", name)
        importlib.import_module(name).generate(outdir)


if __name__ == "__main__":
    main()
