"""Times knseg's KNConv2d beside the same layer in PyTorch with box-sum statistics.

Usage: /usr/bin/python3 scripts/bench_knconv.py [--reps N] [--rounds R] [--threads T]
           [--p P] [--bench build/release/tests/bench_knconv]

Shape: input 2x256x64x128, KNConv 2x2 pad (1,1,1,1), 256 outputs, bias, training mode
with statistics dropout p (default 0.05). The PyTorch layer is the efficient
formulation: F.pad, conv2d of the padded input, dropout of the padded input, per-pixel
channel sums of Xd and Xd^2, avg_pool2d box sums, y = (A - mu SW) / s + b; backward to
input, weight and bias through autograd. Each round runs the C benchmark
(tests/bench_knconv.c) and then PyTorch, so both see the same machine load; the figures
printed are medians over the rounds of the per-round medians.
"""
import argparse
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F

N, CIN, H, W, COUT, K = 2, 256, 64, 128, 256, 2
PAD = (1, 1, 1, 1)
EPS = 1e-5


def knconv_boxsum(x, weight, bias, p):
    xp = F.pad(x, PAD)
    a = F.conv2d(xp, weight)
    xd = F.dropout(xp, p, True) if p > 0 else xp
    s1 = xd.sum(1, keepdim=True)
    s2 = (xd * xd).sum(1, keepdim=True)
    mu = F.avg_pool2d(s1, K, 1) / CIN
    var = (F.avg_pool2d(s2, K, 1) / CIN - mu * mu).clamp_min(0)
    sw = weight.sum(dim=(1, 2, 3)).view(1, -1, 1, 1)
    return (a - mu * sw) / torch.sqrt(var + EPS) + bias.view(1, -1, 1, 1)


def run_c(bench, reps, threads, p):
    args = [bench, str(reps), str(threads), str(p)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    times = {}
    for line in out.splitlines():
        if line and not line.startswith("#"):
            name, ms = line.split()
            times[name] = float(ms)
    return times


def run_torch(reps, p):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(N, CIN, H, W, generator=gen).requires_grad_()
    weight = (torch.rand(COUT, CIN, K, K, generator=gen) * 0.12 - 0.06).requires_grad_()
    bias = (torch.rand(COUT, generator=gen) * 0.2 - 0.1).requires_grad_()
    fwd, bwd = [], []
    for _ in range(reps + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        y = knconv_boxsum(x, weight, bias, p)
        t1 = time.perf_counter()
        y.backward(torch.ones_like(y))
        t2 = time.perf_counter()
        fwd.append((t1 - t0) * 1e3)
        bwd.append((t2 - t1) * 1e3)
        x.grad = weight.grad = bias.grad = None
    return statistics.median(fwd[1:]), statistics.median(bwd[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--p", type=float, default=0.05)
    ap.add_argument("--bench", default="build/release/tests/bench_knconv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = {}
    for _ in range(args.rounds):
        c = run_c(args.bench, args.reps, args.threads, args.p)
        tf, tb = run_torch(args.reps, args.p)
        for name, ms in list(c.items()) + [("torch_forward", tf), ("torch_backward", tb)]:
            rows.setdefault(name, []).append(ms)
    print("# KNConv %dx%dx%dx%d -> %d, %dx%d pad %s, p %g, training mode, %d threads, torch %s"
          % (N, CIN, H, W, COUT, K, K, PAD, args.p, args.threads, torch.__version__))
    med = {name: statistics.median(v) for name, v in rows.items()}
    for name, ms in med.items():
        print("%-16s %8.2f ms" % (name, ms))
    print("forward speed-up over torch:  %.2fx"
          % (med["torch_forward"] / med["knconv_forward"]))
    print("backward speed-up over torch: %.2fx"
          % (med["torch_backward"] / med["knconv_backward"]))
    print("KN overhead over the plain conv: forward %.2f ms, backward %.2f ms"
          % (med["knconv_forward"] - med["conv_forward"],
             med["knconv_backward"] - med["conv_backward"]))


if __name__ == "__main__":
    main()
