"""Times knseg's convolution beside PyTorch's F.conv2d on the same shape, in one run.

Usage: /usr/bin/python3 scripts/bench_conv.py [--reps N] [--rounds R] [--threads T]
           [--bench build/release/tests/bench_conv]

Default shape: the heaviest KNResNet convolution, input 2x256x64x128, 2x2 kernel, pad
(1,1,1,1), 256 outputs, bias. Each round runs the C benchmark (tests/bench_conv.c) and
then PyTorch (F.pad then F.conv2d, forward, and backward to input, weight and bias), so
both see the same machine load; the figures printed are medians over the rounds.
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


def run_torch(reps):
    n, cin, h, w, cout, k, pad = SHAPE
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, cin, h, w, generator=gen).sub_(0.5).requires_grad_()
    weight = torch.rand(cout, cin, k, k, generator=gen).sub_(0.5).requires_grad_()
    bias = torch.rand(cout, generator=gen).requires_grad_()
    fwd, bwd = [], []
    for _ in range(reps + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        y = F.conv2d(F.pad(x, (pad, pad, pad, pad)), weight, bias)
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
    rows = {"knseg_forward": [], "knseg_backward": [], "sgemm_forward": [],
            "torch_forward": [], "torch_backward": []}
    for _ in range(args.rounds):
        c = run_c(args.bench, args.reps, args.threads)
        tf, tb = run_torch(args.reps)
        rows["knseg_forward"].append(c["conv_forward"])
        rows["knseg_backward"].append(c["conv_backward"])
        rows["sgemm_forward"].append(c["sgemm_forward"])
        rows["torch_forward"].append(tf)
        rows["torch_backward"].append(tb)
    print("# %dx%dx%dx%d -> %d, %dx%d pad %d, %d threads, torch %s, %.2f GFLOP forward"
          % (n, cin, h, w, cout, k, k, pad, args.threads, torch.__version__, gflop))
    med = {name: statistics.median(v) for name, v in rows.items()}
    for name, ms in med.items():
        work = gflop * (2 if name.endswith("backward") else 1)
        print("%-15s %8.2f ms %7.1f GFLOP/s" % (name, ms, work / ms * 1e3))
    print("forward speed-up over torch:  %.2fx" % (med["torch_forward"] / med["knseg_forward"]))
    print("backward speed-up over torch: %.2fx" % (med["torch_backward"] / med["knseg_backward"]))


if __name__ == "__main__":
    main()
