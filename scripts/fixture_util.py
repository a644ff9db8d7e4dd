"""Helpers for the PyTorch reference fixtures: deterministic inputs and .npy output.

Every fixture is a float32 C-order .npy file under tests/fixtures/, named
<group>_<case>_<tensor>.npy, read by the C tests through io/npy.h.
"""
import os

import numpy as np
import torch


def save(outdir, name, t):
    """Writes tensor or array t as tests/fixtures/<name>.npy (float32)."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    a = np.ascontiguousarray(np.asarray(t, dtype=np.float32))
    np.save(os.path.join(outdir, name + ".npy"), a)


def randn(seed, *shape):
    """Standard normal float32 tensor from a fixed seed (reproducible across runs)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def uniform(seed, lo, hi, *shape):
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float32)
