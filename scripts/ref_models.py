"""Whole-network parity fixtures: every arch x head at a small width and size.

For each combination, a PyTorch model of the network (scripts/knseg_torch.py, written
from nets/README.md 2, reference parameter names) gets random weights and random
biases, runs in float64 on a fixed input with p = 0 (so training and every inference
mode agree), and the fixtures hold:

  models_<arch>_<head>_weights.safetensors   the weights under knseg's names, with
                                             knseg checkpoint metadata
  models_<arch>_<head>_input.npy             (2, 3, 32, 64)
  models_<arch>_<head>_logits.npy            (2, 5, 32, 64)
the backbone of knresnet18 as scripts/import_torch.py converts a reference state_dict
(reference names, a classification head included, which the import drops):
  models_knresnet18_backbone.safetensors
and, for the three combinations that cover every block type (knresnet18 with both
heads, knresnet50 with fpn), the loss against fixed labels and every parameter gradient:
  models_<arch>_<head>_labels.npy            (2, 32, 64), 255 = ignore
  models_<arch>_<head>_loss.npy              (1,)
  models_<arch>_<head>_grads.safetensors     the gradients under the parameter names
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knseg_torch  # noqa: E402
import safetensors_io  # noqa: E402
from fixture_util import save  # noqa: E402

WIDTH = 0.02
CLASSES = 5
N, H, W = 2, 32, 64
WITH_GRADS = {("knresnet18", "fcn"), ("knresnet18", "fpn"), ("knresnet50", "fpn")}


def metadata(arch, head):
    return {"format": "knseg-1", "kind": "model", "arch": arch, "width": repr(WIDTH),
            "head": head, "num_classes": str(CLASSES), "classes": "a,b,c,d,e",
            "mean": "0.485,0.456,0.406", "std": "0.229,0.224,0.225", "kn_eval": "expected",
            "kn_p": "0"}


def generate_one(outdir, arch, head, seed):
    torch.manual_seed(seed)
    model = knseg_torch.SegNet(arch, head, CLASSES, width=WIDTH, p=0.0).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif name.startswith("head.cls"):
                p.copy_(0.3 * torch.randn_like(p))
    x = torch.randn(N, 3, H, W, dtype=torch.float64)
    tag = "models_%s_%s" % (arch, head)
    weights = {k: v.float().numpy() for k, v in model.state_dict().items()}
    safetensors_io.save(os.path.join(outdir, tag + "_weights.safetensors"), weights,
                        metadata(arch, head))
    save(outdir, tag + "_input", x)
    model.train()
    logits = model(x)
    save(outdir, tag + "_logits", logits)
    if (arch, head) not in WITH_GRADS:
        return
    g = torch.Generator().manual_seed(seed + 1)
    labels = torch.randint(0, CLASSES, (N, H, W), generator=g)
    labels[:, :4, :] = 255
    loss = F.cross_entropy(logits, labels, ignore_index=255)
    loss.backward()
    save(outdir, tag + "_labels", labels.double())
    save(outdir, tag + "_loss", loss.reshape(1))
    grads = {k: p.grad.float().numpy() for k, p in model.named_parameters()}
    safetensors_io.save(os.path.join(outdir, tag + "_grads.safetensors"), grads)


def generate_import(outdir):
    """Runs scripts/import_torch.py on the knresnet18 fcn fixture's backbone."""
    weights, _ = safetensors_io.load(os.path.join(outdir, "models_knresnet18_fcn_weights.safetensors"))
    sd = {k[len("backbone."):]: torch.from_numpy(v.copy()) for k, v in weights.items()
          if k.startswith("backbone.")}
    sd["conv_block_f.conv.weight"] = torch.zeros(8, 8, 2, 2)
    sd["fc.weight"] = torch.zeros(10, 8)
    sd["fc.bias"] = torch.zeros(10)
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "model.pt")
        torch.save({"state_dict": sd}, src)
        subprocess.run([sys.executable, os.path.join(here, "import_torch.py"), "--arch",
                        "knresnet18", "--width", repr(WIDTH), src,
                        os.path.join(outdir, "models_knresnet18_backbone.safetensors")],
                       check=True)


def generate(outdir):
    seed = 100
    for arch in ("knresnet18", "knresnet34", "knresnet50"):
        for head in ("fcn", "fpn"):
            generate_one(outdir, arch, head, seed)
            seed += 10
    generate_import(outdir)


if __name__ == "__main__":
    generate(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
