"""Prints the `make bench` table from the JSON lines of knseg bench and bench_torch.py.

Lines come in pairs (knseg, then PyTorch) for the same workload. Ratios are PyTorch
time / knseg time, so a ratio above 1 means knseg is faster; memory is the peak
resident memory of each process (training: after the training steps).
"""
import json
import sys


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    print("%-26s %-16s %9s %9s %7s %9s %9s %7s %8s %9s" % (
        "workload", "reference", "knseg fwd", "ref fwd", "ratio", "knseg step",
        "ref step", "ratio", "GFLOP/s", "mem MB k/r"))
    for k, r in zip(rows[0::2], rows[1::2]):
        name = "%s+%s b%d %dx%d t%d" % (k["arch"][8:], k["head"], k["batch"], k["width_px"],
                                        k["height_px"], k["threads"])
        fr = r["forward_s"] / k["forward_s"] if k["forward_s"] else 0
        tr = r["train_step_s"] / k["train_step_s"] if k["train_step_s"] else 0
        print("%-26s %-16s %9.3f %9.3f %7.2f %9.3f %9.3f %7.2f %8.1f %4.0f/%4.0f" % (
            name, r["tool"], k["forward_s"], r["forward_s"], fr, k["train_step_s"],
            r["train_step_s"], tr, k["train_gflops"], k["peak_rss_kb"] / 1024,
            r["peak_rss_kb"] / 1024))


if __name__ == "__main__":
    main()
