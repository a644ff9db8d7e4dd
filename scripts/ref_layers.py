"""Reference fixtures for nets/activation.c, nets/pool.c, nets/upsample.c, nets/loss.c.

Everything is computed in float64 with autograd from float32 inputs and saved as float32
(layers_<case>_<tensor>.npy). Gradients are those of sum(dout * out) for a fixed random
dout; for the loss, of the loss itself.

  relu, add          in/a/b, out, dout, din/da/db (relu input has exact zeros)
  maxpool cases      in, out, idx (PyTorch's argmax inside the plane), dout, din;
                     "ties" cases draw inputs from a few integers so windows tie
  bilinear cases     in, out, dout, din; F.interpolate(size=..., mode="bilinear",
                     align_corners=False), up x2, x4, x32, arbitrary and down sizes
  loss cases         logits, labels (float, 255 = ignore), weights (when used),
                     loss (shape (1,)), dlogits; F.cross_entropy(ignore_index=255)
"""
import torch
import torch.nn.functional as F

from fixture_util import randn, save

# name: (n, c, h, w, kernel, stride, pad, ties)
POOL_CASES = {
    "pool3s2p1": (2, 3, 9, 11, 3, 2, 1, False),
    "pool3s2p1ties": (1, 4, 8, 7, 3, 2, 1, True),
    "pool2s2": (1, 3, 7, 9, 2, 2, 0, False),
    "pool2s2ties": (2, 2, 6, 5, 2, 2, 0, True),
}

# name: (n, c, h, w, ho, wo)
RESIZE_CASES = {
    "up2": (1, 2, 5, 6, 10, 12),
    "up4": (2, 1, 4, 5, 16, 20),
    "up32": (1, 1, 2, 2, 64, 64),
    "up7x5": (1, 2, 7, 5, 16, 23),
    "down17x13": (1, 2, 17, 13, 5, 4),
    "mixed": (1, 1, 6, 9, 13, 4),
}

CITYSCAPES_WEIGHTS = [0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786,
                      1.0023, 0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865,
                      1.1529, 1.0507]

# name: (n, k, h, w, weighted)
LOSS_CASES = {
    "ce19": (2, 19, 5, 7, False),
    "ce19w": (2, 19, 5, 7, True),
    "ce3": (1, 3, 6, 5, False),
    "ce3w": (1, 3, 6, 5, True),
}


def elementwise(outdir):
    x = randn(10, 2, 3, 4, 5)
    x[0, 0, 0, :3] = 0.0
    dout = randn(11, *x.shape)
    xd = x.double().requires_grad_()
    out = F.relu(xd)
    (out * dout.double()).sum().backward()
    for tensor, value in {"in": x, "out": out, "dout": dout, "din": xd.grad}.items():
        save(outdir, "layers_relu_" + tensor, value)

    a, b, dout = randn(12, 2, 3, 4, 5), randn(13, 2, 3, 4, 5), randn(14, 2, 3, 4, 5)
    ad, bd = a.double().requires_grad_(), b.double().requires_grad_()
    out = ad + bd
    (out * dout.double()).sum().backward()
    for tensor, value in {"a": a, "b": b, "out": out, "dout": dout, "da": ad.grad,
                          "db": bd.grad}.items():
        save(outdir, "layers_add_" + tensor, value)


def maxpool(outdir, name, n, c, h, w, k, s, p, ties, seed):
    if ties:
        g = torch.Generator().manual_seed(seed)
        x = torch.randint(-2, 3, (n, c, h, w), generator=g).float()
    else:
        x = randn(seed, n, c, h, w)
    xd = x.double().requires_grad_()
    out, idx = F.max_pool2d(xd, k, s, p, return_indices=True)
    dout = randn(seed + 1, *out.shape)
    (out * dout.double()).sum().backward()
    for tensor, value in {"in": x, "out": out, "idx": idx, "dout": dout,
                          "din": xd.grad}.items():
        save(outdir, "layers_%s_%s" % (name, tensor), value)


def resize(outdir, name, n, c, h, w, ho, wo, seed):
    x = randn(seed, n, c, h, w)
    xd = x.double().requires_grad_()
    out = F.interpolate(xd, size=(ho, wo), mode="bilinear", align_corners=False)
    dout = randn(seed + 1, *out.shape)
    (out * dout.double()).sum().backward()
    for tensor, value in {"in": x, "out": out, "dout": dout, "din": xd.grad}.items():
        save(outdir, "layers_%s_%s" % (name, tensor), value)


def loss(outdir, name, n, k, h, w, weighted, seed):
    logits = randn(seed, n, k, h, w) * 3
    g = torch.Generator().manual_seed(seed + 1)
    labels = torch.randint(0, k, (n, h, w), generator=g)
    labels[torch.rand(n, h, w, generator=g) < 0.25] = 255
    if weighted and k == 19:
        weights = torch.tensor(CITYSCAPES_WEIGHTS)
    elif weighted:
        weights = torch.tensor([0.5, 2.0, 1.25])
    else:
        weights = None
    ld = logits.double().requires_grad_()
    value = F.cross_entropy(ld, labels, weight=None if weights is None else weights.double(),
                            ignore_index=255)
    value.backward()
    tensors = {"logits": logits, "labels": labels, "loss": value.reshape(1),
               "dlogits": ld.grad}
    if weights is not None:
        tensors["weights"] = weights
    for tensor, t in tensors.items():
        save(outdir, "layers_%s_%s" % (name, tensor), t)


def generate(outdir):
    elementwise(outdir)
    for i, (name, case) in enumerate(sorted(POOL_CASES.items())):
        maxpool(outdir, name, *case, seed=2000 + 10 * i)
    for i, (name, case) in enumerate(sorted(RESIZE_CASES.items())):
        resize(outdir, name, *case, seed=2100 + 10 * i)
    for i, (name, case) in enumerate(sorted(LOSS_CASES.items())):
        loss(outdir, name, *case, seed=2200 + 10 * i)
