"""Reference fixtures for nets/optim.c: five steps of torch.optim.SGD and AdamW.

A parameter vector of N values is optimized in float64 with a fixed gradient per step
(the gradient is assigned, not computed, so every step's input is known exactly). Saved
as float32 optim_<case>_<tensor>.npy:

  p0      (N,)    initial parameters
  grads   (5, N)  the gradient given at each step
  params  (5, N)  the parameters after each step

Cases: sgd (lr 0.01, momentum 0.9, wd 5e-4), sgdnesterov (the same with Nesterov),
adamw (lr 1e-3, wd 1e-2, default betas and eps), and the *mask variants, where the
second half of the vector is a parameter group with weight_decay 0 (the C side passes a
decay mask), with the weight decay raised so that the mask visibly matters.
"""
import torch

from fixture_util import randn, save

N = 24
STEPS = 5

CASES = {
    "sgd": ("sgd", dict(lr=0.01, momentum=0.9, weight_decay=5e-4), False),
    "sgdnesterov": ("sgd", dict(lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=True),
                    False),
    "sgdmask": ("sgd", dict(lr=0.01, momentum=0.9, weight_decay=0.5), True),
    "adamw": ("adamw", dict(lr=1e-3, weight_decay=1e-2), False),
    "adamwmask": ("adamw", dict(lr=1e-3, weight_decay=5.0), True),
}


def run(kind, options, masked, seed):
    p0 = randn(seed, N)
    grads = randn(seed + 1, STEPS, N)
    # Gradients of very different sizes per element, as real layers have.
    grads = grads * torch.logspace(-3, 1, N)
    halves = [p0[: N // 2].double().clone().requires_grad_(),
              p0[N // 2:].double().clone().requires_grad_()]
    if masked:
        wd = options.pop("weight_decay")
        groups = [{"params": [halves[0]], "weight_decay": wd},
                  {"params": [halves[1]], "weight_decay": 0.0}]
    else:
        groups = [{"params": halves}]
    opt = (torch.optim.SGD if kind == "sgd" else torch.optim.AdamW)(groups, **options)
    after = []
    for step in range(STEPS):
        g = grads[step].double()
        halves[0].grad = g[: N // 2].clone()
        halves[1].grad = g[N // 2:].clone()
        opt.step()
        after.append(torch.cat([h.detach() for h in halves]))
    return {"p0": p0, "grads": grads, "params": torch.stack(after)}


def generate(outdir):
    for i, (name, (kind, options, masked)) in enumerate(sorted(CASES.items())):
        for tensor, value in run(kind, dict(options), masked, 3000 + 10 * i).items():
            save(outdir, "optim_%s_%s" % (name, tensor), value)
