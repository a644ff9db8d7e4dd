"""Converts a PyTorch KNResNet state_dict into a knseg backbone file.

Usage:
  /usr/bin/python3 scripts/import_torch.py --arch knresnet18 MODEL.pt OUT.safetensors

MODEL.pt holds a state_dict with the reference parameter names (block0.0.weight,
res_block1.conv1.weight, trans_block3.conv.weight, ...), as saved by
torch.save(model.state_dict(), path), or a dict with the state_dict under "state_dict"
or "model" (training checkpoints); a "module." prefix from DataParallel is removed.
The classification head (max_pool_f, conv_block_f, kn_f, fc) is dropped; every other
tensor is written as "backbone.<name>" in float32, with the metadata knseg checks:
format, kind = backbone, arch, width. The result is what
`knseg train --init-backbone OUT.safetensors` loads.

Every backbone parameter of the chosen architecture must be present with the reference
shape (at width 1.0 unless --width says otherwise); the script fails naming what is missing, extra or misshaped.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knseg_torch  # noqa: E402
import safetensors_io  # noqa: E402


def load_state_dict(path):
    obj = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        sys.exit("import_torch: '%s' does not hold a state_dict" % path)
    out = {}
    for name, t in obj.items():
        if name.startswith("module."):
            name = name[len("module."):]
        out[name] = t
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", required=True, choices=sorted(knseg_torch.ARCHS))
    ap.add_argument("--width", type=float, default=1.0,
                    help="channel multiplier of the source model (default 1.0)")
    ap.add_argument("input")
    ap.add_argument("output")
    args = ap.parse_args()

    sd = load_state_dict(args.input)
    expected = knseg_torch.Backbone(args.arch, args.width, imagenet_pads=True).state_dict()
    backbone = {k: v for k, v in sd.items()
                if not k.startswith(knseg_torch.CLASSIFIER_PREFIXES)}
    missing = sorted(set(expected) - set(backbone))
    extra = sorted(set(backbone) - set(expected))
    if missing or extra:
        sys.exit("import_torch: '%s' does not match %s: missing %s; unexpected %s"
                 % (args.input, args.arch, missing[:5] or "none", extra[:5] or "none"))
    for name, t in expected.items():
        if tuple(backbone[name].shape) != tuple(t.shape):
            sys.exit("import_torch: %s has shape %s, %s needs %s"
                     % (name, tuple(backbone[name].shape), args.arch, tuple(t.shape)))
    tensors = {"backbone." + k: v.detach().float().numpy() for k, v in backbone.items()}
    meta = {"format": "knseg-1", "kind": "backbone", "arch": args.arch,
            "width": repr(args.width)}
    safetensors_io.save(args.output, tensors, meta)
    print("import_torch: wrote %d tensors to %s" % (len(tensors), args.output))


if __name__ == "__main__":
    main()
