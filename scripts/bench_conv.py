"""Times knseg's convolution beside PyTorch's F.conv2d on the same shape, in one run.

Usage: /usr/bin/python3 scripts/bench_conv.py [--reps N] [--rounds R] [--threads T]
           [--bench build/release/tests/bench_conv]

Default shape: the heaviest KNResNet convolution, input 2x256x64x128, 2x2 kernel, pad
(1,1,1,1), 256 outputs, bias. Each round runs the C benchmark (tests/bench_conv.c) and
then PyTorch, forward and backward to input, weight and bias, twice: F.conv2d with its
own padding (torch_*) and F.pad then F.conv2d (torch_pad_*, as the reference KN code
pads), so all see the same machine load; the figures printed are medians over rounds.
"""
import argparse
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F

SHAPE = (2, 256, 64, 128, 256, 2, 1)  # n cin h w cout k pad


def run_c(bench, reps, threads):
    args = [bench, str(reps), str(threads)] + [str(s) for s in SHAPE]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    times = {}
    for line in out.splitlines():
        if line and not line.startswith("#"):
            name, ms, _ = line.split()
            times[name] = float(ms)
    return times


def run_torch(reps, explicit_pad):
    """Median forward and backward ms of F.conv2d, padding inside conv2d or by F.pad."""
    n, cin, h, w, cout, k, pad = SHAPE
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, cin, h, w, generator=gen).sub_(0.5).requires_grad_()
    weight = torch.rand(cout, cin, k, k, generator=gen).sub_(0.5).requires_grad_()
    bias = torch.rand(cout, generator=gen).requires_grad_()
    fwd, bwd = [], []
    for _ in range(reps + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        if explicit_pad:
            y = F.conv2d(F.pad(x, (pad, pad, pad, pad)), weight, bias)
        else:
            y = F.conv2d(x, weight, bias, padding=pad)
        t1 = time.perf_counter()
        y.backward(torch.ones_like(y))
        t2 = time.perf_counter()
        fwd.append((t1 - t0) * 1e3)
        bwd.append((t2 - t1) * 1e3)
        x.grad = weight.grad = bias.grad = None
    return statistics.median(fwd[1:]), statistics.median(bwd[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bench", default="build/release/tests/bench_conv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n, cin, h, w, cout, k, pad = SHAPE
    gflop = 2.0 * n * cout * (h + 2 * pad - k + 1) * (w + 2 * pad - k + 1) * cin * k * k / 1e9
    names = ["knseg_forward", "knseg_backward", "sgemm_forward", "torch_forward",
             "torch_backward", "torch_pad_forward", "torch_pad_backward"]
    rows = {name: [] for name in names}
    for _ in range(args.rounds):
        c = run_c(args.bench, args.reps, args.threads)
        rows["knseg_forward"].append(c["conv_forward"])
        rows["knseg_backward"].append(c["conv_backward"])
        rows["sgemm_forward"].append(c["sgemm_forward"])
        for prefix, explicit in (("torch_", False), ("torch_pad_", True)):
            tf, tb = run_torch(args.reps, explicit)
            rows[prefix + "forward"].append(tf)
            rows[prefix + "backward"].append(tb)
    print("# %dx%dx%dx%d -> %d, %dx%d pad %d, %d threads, torch %s, %.2f GFLOP forward"
          % (n, cin, h, w, cout, k, k, pad, args.threads, torch.__version__, gflop))
    med = {name: statistics.median(v) for name, v in rows.items()}
    for name, ms in med.items():
        work = gflop * (2 if name.endswith("backward") else 1)
        print("%-18s %8.2f ms %7.1f GFLOP/s" % (name, ms, work / ms * 1e3))
    for pass_ in ("forward", "backward"):
        mine = med["knseg_" + pass_]
        print("%s speed-up: %.2fx over torch, %.2fx over torch with F.pad"
              % (pass_, med["torch_" + pass_] / mine, med["torch_pad_" + pass_] / mine))


if __name__ == "__main__":
    main()
