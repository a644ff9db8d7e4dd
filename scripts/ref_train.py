"""One training iteration in PyTorch, for the parity of `knseg train`.

The knresnet18 + fcn network of the model fixtures (width 0.02, 5 classes, p = 0) takes
one SGD step (lr 0.1, no momentum, no weight decay) on one 64x32 image with the
cross-entropy loss (255 ignored), the image normalized as knseg does:
(pixel / 255 - ImageNet mean) / ImageNet std. Written in float64 from nets/README.md.

  train_step_image.png, train_step_label.png, train_step.txt (list), train_step_classes.txt
  train_step_after.safetensors   the parameters after the step (knseg names)
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knseg_torch  # noqa: E402
import safetensors_io  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
LR = 0.1


def generate(outdir):
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, size=(32, 64, 3), dtype=np.uint8)
    label = rng.integers(0, 5, size=(32, 64), dtype=np.uint8)
    label[:3, :] = 255
    Image.fromarray(rgb, "RGB").save(os.path.join(outdir, "train_step_image.png"))
    Image.fromarray(label, "L").save(os.path.join(outdir, "train_step_label.png"))
    with open(os.path.join(outdir, "train_step.txt"), "w") as f:
        f.write("train_step_image.png train_step_label.png\n")
    with open(os.path.join(outdir, "train_step_classes.txt"), "w") as f:
        f.write("# the five classes of the model fixtures\n")
        for i, name in enumerate("abcde"):
            f.write("%s %d %d %d %d\n" % (name, 40 * i, 255 - 40 * i, 100, i))
        f.write("ignore 255\n")

    weights, _ = safetensors_io.load(os.path.join(outdir, "models_knresnet18_fcn_weights.safetensors"))
    model = knseg_torch.SegNet("knresnet18", "fcn", 5, width=0.02, p=0.0).double()
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in weights.items()})
    model.train()
    x = (rgb.astype(np.float64) / 255.0 - MEAN) / STD
    x = torch.from_numpy(x.transpose(2, 0, 1).copy()).unsqueeze(0)
    y = torch.from_numpy(label.astype(np.int64)).unsqueeze(0)
    loss = F.cross_entropy(model(x), y, ignore_index=255)
    loss.backward()
    with torch.no_grad():
        after = {k: (p - LR * p.grad).float().numpy() for k, p in model.named_parameters()}
    safetensors_io.save(os.path.join(outdir, "train_step_after.safetensors"), after)


if __name__ == "__main__":
    generate(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
