"""The `knseg bench` workload in PyTorch, for side-by-side ratios.

Usage: /usr/bin/python3 scripts/bench_torch.py [--arch A] [--head H] [--width W]
       [--batch N] [--size WxH] [--classes K] [--threads N] [--iters N] [--warmup N]
       [--stats boxsum|unfold] [--only train|eval] [--json]

The same network as knseg (scripts/knseg_torch.py, statistics dropout p = 0.05), random
input and labels, SGD with momentum 0.9 and weight decay 5e-4. The forward pass runs in
eval mode under torch.no_grad() (expected-mode statistics, as knseg's default); the
training step is forward, cross-entropy, backward and the optimizer step. Prints medians
and the peak resident memory of the process (ru_maxrss): before the model is built (what
the libraries alone hold, peak_rss_start_kb), after the forward timings
(peak_rss_eval_kb) and after the training timings (peak_rss_kb). One process runs both
passes, inference first, as `knseg bench` does.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import knseg_torch  # noqa: E402


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def timed(fn, warmup, iters):
    times = []
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="knresnet18")
    ap.add_argument("--head", default="fcn")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", default="512x256")
    ap.add_argument("--classes", type=int, default=19)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--stats", default="boxsum", choices=["boxsum", "unfold"])
    ap.add_argument("--only", choices=["train", "eval"])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    try:
        w, h = (int(v) for v in a.size.lower().split("x"))
    except ValueError:
        ap.error("--size %s is not WxH" % a.size)
    start_kb = peak_rss_kb()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = knseg_torch.SegNet(a.arch, a.head, a.classes, a.width, p=0.05, stats=a.stats)
    x = torch.randn(a.batch, 3, h, w)
    y = torch.randint(0, a.classes, (a.batch, h, w))
    res = {"tool": "pytorch-" + a.stats, "torch": torch.__version__, "arch": a.arch,
           "head": a.head, "width": a.width, "batch": a.batch, "width_px": w,
           "height_px": h, "threads": a.threads, "forward_s": 0.0, "train_step_s": 0.0,
           "peak_rss_start_kb": start_kb}

    if a.only != "train":
        model.eval()

        def forward():
            with torch.no_grad():
                model(x)
        res["forward_s"] = timed(forward, a.warmup, a.iters)
        res["peak_rss_eval_kb"] = peak_rss_kb()
    if a.only != "eval":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def step():
            opt.zero_grad(set_to_none=False)
            loss = F.cross_entropy(model(x), y, ignore_index=255)
            loss.backward()
            opt.step()
        res["train_step_s"] = timed(step, a.warmup, a.iters)
    res["peak_rss_kb"] = peak_rss_kb()
    if a.json:
        print(json.dumps(res))
    else:
        print("%s %s+%s batch %d %dx%d threads %d: forward %.4f s, train step %.4f s, "
              "peak RSS %.0f MB" % (res["tool"], a.arch, a.head, a.batch, w, h, a.threads,
                                    res["forward_s"], res["train_step_s"],
                                    res["peak_rss_kb"] / 1024))


if __name__ == "__main__":
    main()
