"""Reference fixtures for nets/conv.c: forward and gradients of a padded 2-D convolution.

Each case pads the input with torch.nn.functional.pad (order left, right, top, bottom,
as in conv.h) and convolves with F.conv2d, in float64 with autograd; the upstream
gradient g is a fixed random tensor and the gradients are those of sum(g * out).
Saved as float32: conv_<case>_{in,weight,bias,out,dout,din,dweight,dbias}.npy
(bias and dbias only for cases with a bias), and conv_<case>_geom.npy, the case's
geometry (n, cin, h, w, cout, kh, kw, stride, pad left, right, top, bottom, has bias),
which the C test reads instead of repeating this table.
"""
import numpy as np
import torch
import torch.nn.functional as F

from fixture_util import randn, save

# name: (n, cin, h, w, cout, kh, kw, stride, pad (left, right, top, bottom), bias)
CASES = {
    "odd3x3": (2, 3, 7, 9, 4, 3, 3, 1, (1, 1, 1, 1), True),
    "k2pad1010": (1, 5, 6, 8, 6, 2, 2, 1, (1, 0, 1, 0), True),
    "k2pad0101": (2, 4, 5, 7, 3, 2, 2, 1, (0, 1, 0, 1), False),
    "k2pad2121": (1, 3, 6, 5, 4, 2, 2, 1, (2, 1, 2, 1), True),
    "k2pad1111": (2, 8, 6, 6, 5, 2, 2, 1, (1, 1, 1, 1), True),
    "k2pad0": (1, 6, 7, 5, 8, 2, 2, 1, (0, 0, 0, 0), False),
    "k3s2": (2, 4, 9, 8, 5, 3, 3, 2, (1, 1, 1, 1), True),
    "k1": (2, 7, 5, 6, 9, 1, 1, 1, (0, 0, 0, 0), True),
    "k1s2": (1, 4, 7, 6, 3, 1, 1, 2, (0, 0, 0, 0), False),
    "k7s2": (1, 3, 15, 13, 8, 7, 7, 2, (3, 3, 3, 3), True),
    "k3x2asym": (1, 2, 6, 7, 3, 3, 2, 1, (0, 2, 1, 0), True),
    "wide": (1, 32, 6, 6, 16, 3, 3, 1, (1, 1, 1, 1), True),
}


def reference(n, cin, h, w, cout, kh, kw, stride, pad, has_bias, seed):
    x = randn(seed, n, cin, h, w)
    weight = randn(seed + 1, cout, cin, kh, kw) * (1.0 / (cin * kh * kw) ** 0.5)
    bias = randn(seed + 2, cout) if has_bias else None
    xd = x.double().requires_grad_()
    wd = weight.double().requires_grad_()
    bd = bias.double().requires_grad_() if has_bias else None
    out = F.conv2d(F.pad(xd, pad), wd, bd, stride=stride)
    dout = randn(seed + 3, *out.shape)
    (out * dout.double()).sum().backward()
    tensors = {"in": x, "weight": weight, "out": out, "dout": dout, "din": xd.grad,
               "dweight": wd.grad}
    if has_bias:
        tensors["bias"] = bias
        tensors["dbias"] = bd.grad
    return tensors


def generate(outdir):
    for i, (name, case) in enumerate(sorted(CASES.items())):
        for tensor, value in reference(*case, seed=1000 + 10 * i).items():
            save(outdir, "conv_%s_%s" % (name, tensor), value)
        n, cin, h, w, cout, kh, kw, stride, pad, has_bias = case
        geom = [n, cin, h, w, cout, kh, kw, stride, *pad, int(has_bias)]
        save(outdir, "conv_%s_geom" % name, np.array(geom, dtype=np.float32))
