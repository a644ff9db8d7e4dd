"""Reference fixtures of kernel normalization (nets/README.md 1): group "kn".

Written from the formulas of nets/README.md 1 in float64 with autograd, saved as float32:

  KernelNorm (general): zero-pad (left, right, top, bottom), unfold every window across
      all channels into a unit, mean and biased variance per unit, normalize, tile the
      units side by side: output (N, C, Ho*kh, Wo*kw).
  KernelNorm 1x1: each pixel across channels.
  KNConv2d, twice: (a) KernelNorm through unfold, then a convolution with kernel and
      stride equal to the window; (b) the box-sum form y = (A - mu SW)/s + b with
      A = conv(Xp, W), mu and var from per-pixel channel sums box-summed over windows.
      The script asserts that (a) and (b) agree, outputs and gradients.

Statistics dropout is off (p = 0) in the training-mode cases: PyTorch's dropout
generator cannot be matched. The `expected` inference mode (no sampling; var_e = var +
p/(1-p) * (1 - 1/M) * mean(x^2) over the unit, padded zeros included) is covered for
p = 0.05 and 0.25.

Per case <c>, files kn_<c>_<tensor>.npy: in, dout (the fixed upstream gradient), out,
din, mu, var (per unit, (N, Ho, Wo)) and for KNConv weight, bias, dweight, dbias.
"""
import torch
import torch.nn.functional as F

from fixture_util import randn, save

EPS = 1e-5

# name: (n, c, h, w, kh, kw, sh, sw, pad (l, r, t, b))
KN_CASES = {
    "g2x2p1": (2, 3, 5, 6, 2, 2, 1, 1, (1, 1, 1, 1)),
    "g3x2s21": (1, 4, 7, 5, 3, 2, 2, 1, (0, 1, 0, 1)),
    "g2x3s23": (2, 2, 6, 7, 2, 3, 2, 3, (2, 1, 2, 1)),
    "g2x2p0210": (1, 3, 4, 5, 2, 2, 1, 1, (0, 2, 1, 0)),
}

# name: (n, cin, h, w, cout, k, s, pad (l, r, t, b))
KNCONV_CASES = {
    "stem": (2, 3, 13, 11, 4, 7, 2, (3, 3, 3, 3)),
    "p1111": (2, 5, 7, 9, 6, 2, 1, (1, 1, 1, 1)),
    "p0": (2, 6, 7, 5, 5, 2, 1, (0, 0, 0, 0)),
    "p1010": (1, 4, 9, 6, 7, 2, 1, (1, 0, 1, 0)),
    "p0101": (2, 4, 6, 9, 3, 2, 1, (0, 1, 0, 1)),
    "p2121": (1, 3, 5, 7, 4, 2, 1, (2, 1, 2, 1)),
    "k3": (2, 8, 5, 6, 8, 3, 1, (1, 1, 1, 1)),
    "k1": (2, 9, 4, 5, 3, 1, 1, (0, 0, 0, 0)),
    "wide": (1, 32, 5, 4, 16, 2, 1, (1, 1, 1, 1)),
    "p0210": (2, 3, 5, 6, 4, 2, 1, (0, 2, 1, 0)),
}

EXPECTED_PS = {"e05": 0.05, "e25": 0.25}


def expected_factor(p, m):
    return p / (1 - p) * (1 - 1 / m) if p > 0 else 0.0


def units(x, kh, kw, sh, sw, pad):
    """The normalization units: (N, C*kh*kw, Ho*Wo), element order (c, a, b)."""
    return F.unfold(F.pad(x, pad), (kh, kw), stride=(sh, sw))


def kernelnorm(x, kh, kw, sh, sw, pad, p=0.0):
    """General KernelNorm in the `expected` mode for p (p = 0: plain statistics)."""
    n, c = x.shape[:2]
    hp = x.shape[2] + pad[2] + pad[3]
    wp = x.shape[3] + pad[0] + pad[1]
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    u = units(x, kh, kw, sh, sw, pad)
    m = u.shape[1]
    mu = u.mean(1, keepdim=True)
    var = u.var(1, unbiased=False, keepdim=True)
    var = var + expected_factor(p, m) * (u * u).mean(1, keepdim=True)
    un = (u - mu) / torch.sqrt(var + EPS)
    tiled = un.reshape(n, c, kh, kw, ho, wo).permute(0, 1, 4, 2, 5, 3)
    out = tiled.reshape(n, c, ho * kh, wo * kw)
    return out, mu.reshape(n, ho, wo), var.reshape(n, ho, wo)


def knconv_unfold(x, wt, b, s, pad, p=0.0):
    k = wt.shape[2]
    t, mu, var = kernelnorm(x, k, k, s, s, pad, p)
    return F.conv2d(t, wt, b, stride=k), mu, var


def knconv_boxsum(x, wt, b, s, pad, p=0.0):
    c, k = x.shape[1], wt.shape[2]
    m = c * k * k
    xp = F.pad(x, pad)
    a = F.conv2d(xp, wt, stride=s)
    ones = torch.ones(1, 1, k, k, dtype=x.dtype)
    b1 = F.conv2d(xp.sum(1, keepdim=True), ones, stride=s)
    b2 = F.conv2d((xp * xp).sum(1, keepdim=True), ones, stride=s)
    mu = b1 / m
    var = (b2 / m - mu * mu).clamp_min(0) + expected_factor(p, m) * b2 / m
    sw = wt.sum(dim=(1, 2, 3)).view(1, -1, 1, 1)
    y = (a - mu * sw) / torch.sqrt(var + EPS) + b.view(1, -1, 1, 1)
    return y, mu[:, 0], var[:, 0]


def grads(fn, dout, *leaves):
    """fn() -> (out, mu, var); returns them and d(sum(out * dout))/d leaves."""
    out, mu, var = fn()
    gs = torch.autograd.grad((out * dout).sum(), leaves)
    return out, mu, var, gs


def leaf(t):
    return t.double().requires_grad_(True)


def gen_kernelnorm(outdir, name, shape, seed, p=0.0):
    n, c, h, w, kh, kw, sh, sw, pad = shape
    x = leaf(randn(seed, n, c, h, w) + 0.5)
    out, mu, var = kernelnorm(x, kh, kw, sh, sw, pad, p)
    dout = randn(seed + 1, *out.shape).double()
    out, mu, var, (dx,) = grads(lambda: kernelnorm(x, kh, kw, sh, sw, pad, p), dout, x)
    for tag, t in (("in", x), ("dout", dout), ("out", out), ("din", dx), ("mu", mu),
                   ("var", var)):
        save(outdir, "kn_%s_%s" % (name, tag), t)


def gen_knconv(outdir, name, shape, seed, p=0.0):
    n, cin, h, w, cout, k, s, pad = shape
    x = leaf(randn(seed, n, cin, h, w) + 0.5)
    wt = leaf(randn(seed + 1, cout, cin, k, k) * (2.0 / (cout * k * k)) ** 0.5)
    b = leaf(randn(seed + 2, cout) * 0.1)
    ref, _, _ = knconv_unfold(x, wt, b, s, pad, p)
    dout = randn(seed + 3, *ref.shape).double()
    ou, mu, var, gu = grads(lambda: knconv_unfold(x, wt, b, s, pad, p), dout, x, wt, b)
    ob, mb, vb, gb = grads(lambda: knconv_boxsum(x, wt, b, s, pad, p), dout, x, wt, b)
    # The two formulations (nets/README.md 1.1 and 1.2) must agree (float64).
    for u, v in zip((ou, mu, var) + gu, (ob, mb, vb) + gb):
        assert torch.allclose(u, v, rtol=1e-9, atol=1e-9), name
    tensors = (("in", x), ("weight", wt), ("bias", b), ("dout", dout), ("out", ob),
               ("mu", mb), ("var", vb), ("din", gb[0]), ("dweight", gb[1]),
               ("dbias", gb[2]))
    for tag, t in tensors:
        save(outdir, "kn_%s_%s" % (name, tag), t)


def generate(outdir):
    torch.set_default_dtype(torch.float64)
    seed = 100
    for name, shape in KN_CASES.items():
        gen_kernelnorm(outdir, name, shape, seed)
        seed += 10
    gen_kernelnorm(outdir, "n1x1", (2, 7, 5, 3, 1, 1, 1, 1, (0, 0, 0, 0)), seed)
    seed += 10
    for name, shape in KNCONV_CASES.items():
        gen_knconv(outdir, "c" + name, shape, seed)
        seed += 10
    for tag, p in EXPECTED_PS.items():
        gen_kernelnorm(outdir, "n1x1" + tag, (2, 7, 5, 3, 1, 1, 1, 1, (0, 0, 0, 0)),
                       seed, p)
        gen_kernelnorm(outdir, "g2x2p1" + tag, KN_CASES["g2x2p1"], seed + 1, p)
        gen_knconv(outdir, "cp1111" + tag, KNCONV_CASES["p1111"], seed + 2, p)
        seed += 10
    torch.set_default_dtype(torch.float32)
