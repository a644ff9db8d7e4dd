"""Prints the `make bench` report from the JSON lines that scripts/bench.sh collects.

Usage: /usr/bin/python3 scripts/bench_table.py RESULTS.jsonl

Input: one JSON object per line, in any order:
  {"tool": "workload", "arch", "head", "batch", "width_px", "height_px", "threads",
   "reference": "boxsum"|"unfold"}    one per table row, written by bench.sh before
                                      it runs the row;
  {"tool": "knseg", ...}              `knseg bench --json -`;
  {"tool": "pytorch-boxsum"|"pytorch-unfold", ...}   scripts/bench_torch.py --json;
  {"tool": "sgemm", "threads", "gflops", "shapes"}   tests/bench_sgemm --json;
  {"tool": "onnxruntime", arch..threads, "run": {...}}   scripts/onnx_run.js --time on
                                      the network knseg exports, keyed like the workload.
Results join rows by arch, head, width, batch, size and threads. A measurement that is
missing (its run failed) prints n/a; the exit status is then 1. Without workload lines
(an older results file), every PyTorch line makes a row.

A tool measured several times on one workload (bench.sh's rounds) counts with its
fastest time and its largest memory (see combine).

Prints the sgemm peaks, the table (times are medians of a run's iterations, the fastest
run of the rounds; ratios are reference time / knseg time, above 1 meaning knseg is
faster), knseg's throughput and memory per workload, the
scaling with input size and with threads, and knseg's targets for the reference
workload (README, Performance).
"""
import json
import sys

# knseg's reference workload and its targets (training step, forward pass).
REFERENCE = ("knresnet18", "fcn", 1.0, 2, 512, 256, 2)
TARGET_TRAIN, TARGET_FORWARD = 1.5, 1.2


def num(row, field):
    """The number in row[field], or None when the row or the field is missing."""
    v = row.get(field) if row else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def key(row):
    """(arch, head, width, batch, width_px, height_px, threads) of a result or workload."""
    width = num(row, "width")
    fields = [row.get(f) for f in ("arch", "head", "batch", "width_px", "height_px", "threads")]
    # Anything but a plain value (a malformed line) becomes text, so the key stays hashable.
    fields = [v if isinstance(v, (str, int, float, type(None))) else str(v) for v in fields]
    return tuple(fields[:2]) + (1.0 if width is None else width,) + tuple(fields[2:])


def label(k):
    arch, head, width, batch, w, h, threads = k
    name = "%s %s b%s %sx%s t%s" % (str(arch).replace("knresnet", "r"), head, batch, w, h,
                                    threads)
    return name if width == 1.0 else name + " w%g" % width


def ratio(a, b):
    return a / b if a is not None and b else None


def pct(a, b):
    r = ratio(a, b)
    return None if r is None else 100 * r


def fmt(v, spec):
    return "n/a" if v is None else spec % v


def mb(row, field):
    kb = num(row, field)
    return None if kb is None else kb / 1024


def pair(a, b, spec="%.0f"):
    return "n/a" if a is None and b is None else "%s/%s" % (fmt(a, spec), fmt(b, spec))


def load(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                print("bench_table: %s:%d is not JSON, skipped" % (path, n), file=sys.stderr)
                continue
            if isinstance(row, dict) and isinstance(row.get("tool"), str):
                run = row.get("run")
                if row["tool"] == "onnxruntime" and isinstance(run, dict):
                    row["forward_s"] = run.get("median_s")
                rows.append(row)
    return rows


# Time fields: the fastest round counts (noise on a shared machine only ever adds time).
# Memory fields: the largest round counts (the conservative peak).
TIMES = ("forward_s", "train_step_s")
MEMORY = ("peak_rss_kb", "peak_rss_eval_kb", "peak_rss_start_kb", "eval_bytes", "train_bytes")


def combine(runs):
    """One row from the rounds of one tool on one workload (see TIMES and MEMORY)."""
    row = dict(runs[0])
    for field in TIMES:
        values = [num(r, field) for r in runs]
        values = [v for v in values if v is not None and v > 0]
        if values:
            row[field] = min(values)
    for field in MEMORY:
        values = [num(r, field) for r in runs if num(r, field) is not None]
        if values:
            row[field] = max(values)
    gflop = num(row, "gflop_forward")
    if gflop is not None:
        if num(row, "forward_s"):
            row["forward_gflops"] = gflop / row["forward_s"]
        if num(row, "train_step_s"):
            row["train_gflops"] = 3 * gflop / row["train_step_s"]
    row["rounds"] = len(runs)
    return row


class Results:
    def __init__(self, rows):
        self.by_tool = {}  # tool -> key -> the rounds' rows combined
        self.sgemm = {}  # threads -> rows, in the order measured
        self.workloads = []  # (key, reference tool)
        for r in rows:
            if r["tool"] == "workload":
                w = (key(r), "pytorch-" + str(r.get("reference", "boxsum")))
                if w not in self.workloads:
                    self.workloads.append(w)
            elif r["tool"] == "sgemm":
                self.sgemm.setdefault(r.get("threads"), []).append(r)
            else:
                self.by_tool.setdefault(r["tool"], {}).setdefault(key(r), []).append(r)
        for tool in self.by_tool:
            for k, runs in self.by_tool[tool].items():
                self.by_tool[tool][k] = combine(runs)
        if not any(r["tool"] == "workload" for r in rows):
            self.workloads = [(key(r), r["tool"]) for r in rows
                              if r["tool"].startswith("pytorch-")]
        self.missing = []

    def get(self, tool, k):
        return self.by_tool.get(tool, {}).get(k)

    def peak(self, threads):
        """The best sgemm figure measured at this thread count."""
        runs = [num(r, "gflops") for r in self.sgemm.get(threads, [])]
        return max((g for g in runs if g is not None), default=None)


def print_table(header, rows, left=2):
    """An aligned Markdown table; the first `left` columns align left."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) if i < left else "-" * (w + 1) + ":"
                         for i, w in enumerate(widths)) + "|")
    for r in rows:
        print(line(r))


def print_sgemm(res):
    print("OpenBLAS sgemm through nets/gemm.h (best run of the fastest shape; measured before\n"
          "and after the workloads, the better counts):")
    for t in sorted(res.sgemm, key=lambda v: v if isinstance(v, int) else 0):
        runs = res.sgemm[t]
        best = max(runs, key=lambda r: num(r, "gflops") or 0)
        listed = best.get("shapes") if isinstance(best.get("shapes"), list) else []
        print("  %s thread%s: %s GFLOP/s (runs %s; best run: %s)" % (
            t, "" if t == 1 else "s", fmt(res.peak(t), "%.1f"),
            ", ".join(fmt(num(r, "gflops"), "%.1f") for r in runs),
            ", ".join("%sx%sx%s %s" % (sh.get("m"), sh.get("n"), sh.get("k"),
                                       fmt(num(sh, "gflops"), "%.1f"))
                      for sh in listed if isinstance(sh, dict))))
    if not res.sgemm:
        print("  n/a")
    print()


def print_warnings(res):
    """Signs that other work shared the cores during the run."""
    warn = []
    one = res.peak(1)
    for t, runs in res.sgemm.items():
        got = [g for g in (num(r, "gflops") for r in runs) if g is not None]
        if len(got) > 1 and min(got) < 0.85 * max(got):
            warn.append("sgemm at %s threads ran at %.0f and %.0f GFLOP/s before and after"
                        % (t, got[0], got[-1]))
        if isinstance(t, int) and t > 1 and one and res.peak(t) < 0.75 * t * one:
            warn.append("sgemm at %d threads is only %.2fx its 1-thread speed"
                        % (t, res.peak(t) / one))
    for k, kn in res.by_tool.get("knseg", {}).items():
        if (pct(num(kn, "train_gflops"), res.peak(k[6])) or 0) > 100:
            warn.append("%s trains faster than the sgemm peak measured" % label(k))
    for a, b in scaling_pairs(list(res.by_tool.get("knseg", {})), (6,)):
        for tool, rows in sorted(res.by_tool.items()):
            if (ratio(num(rows.get(a), "train_step_s"), num(rows.get(b), "train_step_s"))
                    or 1) < 0.9:
                warn.append("%s trains slower at %s threads than at %s (%s)"
                            % (tool, b[6], a[6], label(a)))
    if warn:
        print("WARNING: the machine was busy during this run, its ratios are not to be "
              "trusted:")
        print("\n".join("  " + w for w in warn))
        print()


def print_main(res):
    header = ["workload", "reference", "fwd s knseg", "fwd s ref", "ratio",
              "step s knseg", "step s ref", "ratio", "GFLOP/s", "% sgemm",
              "train MB knseg/ref", "eval/train mem"]
    rows = []
    for k, tool in res.workloads:
        kn, ref = res.get("knseg", k), res.get(tool, k)
        if kn is None:
            res.missing.append("knseg %s" % label(k))
        if ref is None:
            res.missing.append("%s %s" % (tool, label(k)))
        gflops = num(kn, "train_gflops")
        if res.peak(k[6]) is None:
            res.missing.append("sgemm t%s" % k[6])
        rows.append([
            label(k), tool,
            fmt(num(kn, "forward_s"), "%.3f"), fmt(num(ref, "forward_s"), "%.3f"),
            fmt(ratio(num(ref, "forward_s"), num(kn, "forward_s")), "%.2f"),
            fmt(num(kn, "train_step_s"), "%.3f"), fmt(num(ref, "train_step_s"), "%.3f"),
            fmt(ratio(num(ref, "train_step_s"), num(kn, "train_step_s")), "%.2f"),
            fmt(gflops, "%.1f"), fmt(pct(gflops, res.peak(k[6])), "%.0f%%"),
            pair(mb(kn, "peak_rss_kb"), mb(ref, "peak_rss_kb")),
            fmt(ratio(num(kn, "peak_rss_eval_kb"), num(kn, "peak_rss_kb")), "%.2f")])
    print_table(header, rows)
    print("rN = KNResNet-N, bN = batch, WxH input, tN = threads. fwd: inference forward\n"
          "pass, step: training step, in seconds: the median of a run's iterations, the\n"
          "fastest of the rounds' runs. ratio: reference time / knseg\n"
          "time (above 1: knseg faster). GFLOP/s: knseg's training step counted as 3 forward\n"
          "passes; % sgemm: of the sgemm peak at the same threads. train MB: peak resident\n"
          "memory of the process that ran the training steps. eval/train mem: knseg's peak\n"
          "resident memory after the inference timings as a fraction of its peak after the\n"
          "training steps (one process runs both, inference first).")
    print()


def print_ort(res):
    """ONNX Runtime running the exported network against knseg's forward pass."""
    ort = res.by_tool.get("onnxruntime", {})
    if not ort:
        return
    header = ["workload", "fwd s knseg", "fwd s onnxruntime", "ratio"]
    rows = []
    for k in res.by_tool.get("knseg", {}):
        kn, o = res.get("knseg", k), ort.get(k)
        if o is None:
            res.missing.append("onnxruntime %s" % label(k))
        rows.append([label(k), fmt(num(kn, "forward_s"), "%.3f"), fmt(num(o, "forward_s"), "%.3f"),
                     fmt(ratio(num(o, "forward_s"), num(kn, "forward_s")), "%.2f")])
    print("ONNX Runtime on the same network (knseg export, untrained weights; its graph also\n"
          "normalizes, pads and crops, a few ms), inference forward at the same threads.\n"
          "ratio: onnxruntime time / knseg time (above 1: knseg faster):")
    print_table(header, rows, left=1)
    print()


def print_details(res):
    """Per knseg measurement: throughput of both passes and memory, planned and resident."""
    header = ["workload", "GFLOP/fwd", "fwd GFLOP/s", "% sgemm", "train GFLOP/s", "% sgemm",
              "model MB eval/train", "RSS MB eval/train", "boxsum RSS MB start/eval/train"]
    rows = []
    for k, kn in res.by_tool.get("knseg", {}).items():
        peak = res.peak(k[6])
        fwd, train = num(kn, "forward_gflops"), num(kn, "train_gflops")
        ref = res.get("pytorch-boxsum", k)
        rows.append([
            label(k), fmt(num(kn, "gflop_forward"), "%.2f"), fmt(fwd, "%.1f"),
            fmt(pct(fwd, peak), "%.0f%%"), fmt(train, "%.1f"),
            fmt(pct(train, peak), "%.0f%%"),
            pair(ratio(num(kn, "eval_bytes"), 1 << 20), ratio(num(kn, "train_bytes"), 1 << 20)),
            pair(mb(kn, "peak_rss_eval_kb"), mb(kn, "peak_rss_kb")),
            "n/a" if ref is None else "%s/%s" % (fmt(mb(ref, "peak_rss_start_kb"), "%.0f"),
                                                 pair(mb(ref, "peak_rss_eval_kb"),
                                                      mb(ref, "peak_rss_kb")))])
    if rows:
        print("knseg per workload (model MB: the buffers knseg plans, with the optimizer state\n"
              "for training; RSS: peak resident memory of the process; PyTorch's start: after\n"
              "loading its libraries, before building the model):")
        print_table(header, rows, left=1)
        print()


def growth(res, tool, a, b, invert=False):
    """Forward, training-step and training-memory growth from key a to key b.

    Resident memory includes what the libraries hold before any model; the figure in
    parentheses leaves it out: knseg's planned buffers, PyTorch's peak above its start.
    """
    ra, rb = res.get(tool, a), res.get(tool, b)
    f = (lambda x, y: ratio(x, y)) if invert else (lambda x, y: ratio(y, x))
    if tool == "knseg":
        net = ratio(num(rb, "train_bytes"), num(ra, "train_bytes"))
        what = "planned buffers"
    else:
        net = ratio(_above_start(rb), _above_start(ra))
        what = "above start"
    return "forward %s, train step %s, training memory %s (%s %s)" % (
        fmt(f(num(ra, "forward_s"), num(rb, "forward_s")), "%.2fx"),
        fmt(f(num(ra, "train_step_s"), num(rb, "train_step_s")), "%.2fx"),
        fmt(ratio(num(rb, "peak_rss_kb"), num(ra, "peak_rss_kb")), "%.2fx"), what,
        fmt(net, "%.2fx"))


def _above_start(row):
    peak, start = num(row, "peak_rss_kb"), num(row, "peak_rss_start_kb")
    return None if peak is None or start is None else peak - start


def scaling_pairs(keys, vary):
    """Pairs of keys equal but for the fields in vary, ordered by size of those fields."""
    groups = {}
    for k in keys:
        fixed = tuple(v for i, v in enumerate(k) if i not in vary)
        groups.setdefault(fixed, []).append(k)
    pairs = []
    for ks in groups.values():
        ks.sort(key=lambda k: _product(k[i] for i in vary))
        pairs += [(x, y) for x, y in zip(ks, ks[1:])]
    return pairs


def _product(values):
    p = 1
    for v in values:
        p *= v if isinstance(v, (int, float)) else 0
    return p


def print_scaling(res):
    tools = ["knseg"] + sorted(t for t in res.by_tool if t.startswith("pytorch-"))
    keys = list(res.by_tool.get("knseg", {}))
    lines = []
    for a, b in scaling_pairs(keys, (4, 5)):
        pixels = ratio(_product(b[4:6]), _product(a[4:6]))
        lines.append("%s -> %sx%s (%.2fx pixels): time and memory growth" % (
            label(a), b[4], b[5], pixels))
        lines += ["  %-15s %s" % (t, growth(res, t, a, b)) for t in tools
                  if res.get(t, a) and res.get(t, b)]
    for a, b in scaling_pairs(keys, (6,)):
        lines.append("%s -> %s threads: speed-up (ideal %.2fx)" % (
            label(a), b[6], ratio(b[6], a[6]) or 0))
        lines += ["  %-15s %s" % (t, growth(res, t, a, b, invert=True)) for t in tools
                  if res.get(t, a) and res.get(t, b)]
    if lines:
        print("Scaling (from the rows above; training memory is the peak resident memory):")
        print("\n".join(lines))
        print()


def print_targets(res):
    kn, ref = res.get("knseg", REFERENCE), res.get("pytorch-boxsum", REFERENCE)
    if kn is None and ref is None:
        return

    def line(what, value, target, ok):
        verdict = "n/a" if ok is None else ("met" if ok else "NOT met")
        print("  %-16s %s (target %s): %s" % (what, value, target, verdict))
    train = ratio(num(ref, "train_step_s"), num(kn, "train_step_s"))
    fwd = ratio(num(ref, "forward_s"), num(kn, "forward_s"))
    mk, mr = mb(kn, "peak_rss_kb"), mb(ref, "peak_rss_kb")
    print("Design targets, %s against pytorch-boxsum:" % label(REFERENCE))
    line("training step", fmt(train, "%.2fx"), "%.1fx" % TARGET_TRAIN,
         None if train is None else train >= TARGET_TRAIN)
    line("forward", fmt(fwd, "%.2fx"), "%.1fx" % TARGET_FORWARD,
         None if fwd is None else fwd >= TARGET_FORWARD)
    line("training memory", pair(mk, mr) + " MB", "below PyTorch's",
         None if mk is None or mr is None else mk < mr)
    print()


def main():
    if len(sys.argv) != 2:
        print("usage: bench_table.py RESULTS.jsonl", file=sys.stderr)
        return 2
    res = Results(load(sys.argv[1]))
    print_sgemm(res)
    print_warnings(res)
    print_main(res)
    print_ort(res)
    print_details(res)
    print_scaling(res)
    print_targets(res)
    if res.missing:
        print("missing (n/a above): " + "; ".join(sorted(set(res.missing))))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
