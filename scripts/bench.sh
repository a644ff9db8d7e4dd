#!/bin/sh
# `make bench`: knseg against the same network in PyTorch, in one run on this machine.
# Usage: scripts/bench.sh PATH_TO_KNSEG [WORKLOADS_FILE]
# Each workload line: arch head batch WxH threads (default: the reference workload of
# the design, KNResNet-18 + fcn, batch 2, 512x256, 2 threads). Prints a table of medians,
# ratios (PyTorch time / knseg time: above 1 means knseg is faster), GFLOP/s and peak
# memory. Set BENCH_ITERS to change the timed repetitions (default 5).
set -eu
knseg=$1
workloads=${2:-}
iters=${BENCH_ITERS:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() {
	arch=$1 head=$2 batch=$3 size=$4 threads=$5
	common="--arch $arch --head $head --batch $batch --size $size --threads $threads --iters $iters --json"
	"$knseg" bench $common >>"$out"
	/usr/bin/python3 scripts/bench_torch.py $common --stats boxsum >>"$out"
}

if [ -n "$workloads" ]; then
	grep -v '^#' "$workloads" | while read -r a h b s t; do
		[ -n "$a" ] && run "$a" "$h" "$b" "$s" "$t"
	done
else
	run knresnet18 fcn 2 512x256 2
fi
/usr/bin/python3 scripts/bench_table.py "$out"
