#!/bin/sh
# `make bench`: knseg against the same network in PyTorch, and OpenBLAS sgemm as the
# ceiling, all in one run on this machine.
#
# Usage: scripts/bench.sh PATH_TO_KNSEG [WORKLOADS_FILE]
#
# A workload line: arch head batch WxH threads [reference [iterations]]
#   reference   boxsum (default) or unfold: the PyTorch KN statistics compared against
#   iterations  timed repetitions of this line's runs (default: BENCH_ITERS, and for an
#               unfold reference BENCH_UNFOLD_ITERS, as the unfold layers are slow)
# '#' starts a comment line. Without a file, the default workloads below run (about 14
# minutes on this 2-core machine). knseg is measured once per arch, head, batch, size,
# threads and round, so two references of one workload share its knseg figures.
#
# Environment: BENCH_ITERS (default 5), BENCH_UNFOLD_ITERS (default 3), BENCH_ROUNDS
# (default 3: every workload runs once per round, and each side counts with its fastest
# round, as load from elsewhere only ever adds time), BENCH_TIMEOUT
# (seconds per program run, default 1800), BENCH_RESULTS (a file to keep the JSON lines
# in). Each run has one untimed warm-up.
#
# Prints each command (with the load average) before running it, then the report of
# scripts/bench_table.py: times are medians, ratios are PyTorch time / knseg time (above
# 1: knseg is faster). A failed or timed-out run leaves n/a in its cells; the report is
# printed anyway and the script then exits 1.
#
# Run it on a quiet machine. PyTorch keeps its OpenMP runtime's default waiting (its
# threads spin: faster alone, but a 2-thread training step took 8.9 s instead of about
# 1 s while another job held a core), knseg spins briefly then sleeps (app/main.c); the
# report warns when its own figures show that the cores were shared.
set -eu
knseg=$1
workloads=${2:-}
iters=${BENCH_ITERS:-5}
rounds=${BENCH_ROUNDS:-3}
case $rounds in
'' | *[!0-9]* | 0)
	echo "bench: BENCH_ROUNDS=$rounds is not a positive count" >&2
	exit 2
	;;
esac
unfold_iters=${BENCH_UNFOLD_ITERS:-3}
limit=${BENCH_TIMEOUT:-1800}
py=/usr/bin/python3
sgemm=$(dirname "$knseg")/tests/bench_sgemm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/results.jsonl
failed=0

default_workloads() {
	cat <<'EOF'
# arch     head batch size     threads reference
knresnet18 fcn  2     512x256  2       boxsum
knresnet18 fcn  2     512x256  2       unfold
knresnet18 fpn  2     512x256  2       boxsum
knresnet50 fcn  2     512x256  2       boxsum
knresnet50 fpn  2     512x256  2       boxsum
knresnet18 fcn  2     512x256  1       boxsum
knresnet18 fcn  2     1024x512 2       boxsum
EOF
}

# Runs one program that prints a JSON line last and appends that line to the results.
# The load average beside each command tells which runs shared the cores.
measure() {
	echo "+ $*  # load $(cut -d ' ' -f 1 /proc/loadavg)"
	if timeout "$limit" "$@" </dev/null >"$tmp/one"; then
		tail -n 1 "$tmp/one" >>"$out"
	else
		echo "bench: failed with status $?: $*" >&2
		failed=1
	fi
}

is_count() {
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	*) [ "$1" -gt 0 ] ;;
	esac
}

# Prints a workload line's fields with the defaults filled in (arch head batch WxH threads
# reference timed-iterations-of-knseg timed-iterations-of-PyTorch), or fails.
parse_workload() {
	[ $# -ge 5 ] && [ $# -le 7 ] || return 1
	ref=${6:-boxsum} kn_n=${7:-$iters} n=${7:-$iters}
	[ "$ref" = unfold ] && [ -z "${7:-}" ] && n=$unfold_iters
	case $ref in
	boxsum | unfold) ;;
	*) return 1 ;;
	esac
	is_count "$3" && is_count "${4%x*}" && is_count "${4#*x}" && is_count "$5" &&
		is_count "$kn_n" && is_count "$n" || return 1
	echo "$1 $2 $3 $4 $5 $ref $kn_n $n"
}

run_workload() {
	arch=$1 head=$2 batch=$3 size=$4 threads=$5 ref=$6 kn_n=$7 n=$8
	printf '{"tool": "workload", "arch": "%s", "head": "%s", "batch": %d, ' \
		"$arch" "$head" "$batch" >>"$out"
	printf '"width_px": %d, "height_px": %d, "threads": %d, "reference": "%s"}\n' \
		"${size%x*}" "${size#*x}" "$threads" "$ref" >>"$out"
	shape="--arch $arch --head $head --batch $batch --size $size --threads $threads"
	key="$arch $head $batch $size $threads"
	if ! grep -qxF "$key" "$tmp/knseg_done"; then
		echo "$key" >>"$tmp/knseg_done"
		# shellcheck disable=SC2086
		measure "$knseg" bench $shape --iters "$kn_n" --json -
		ort_forward "$arch" "$head" "$batch" "$size" "$threads" "$kn_n"
	fi
	# shellcheck disable=SC2086
	measure "$py" scripts/bench_torch.py $shape --iters "$n" --stats "$ref" --json
}

# ONNX Runtime on the same network (knseg export of an untrained one), inference forward
# at the same threads: one result line keyed like the workload. Skipped, with a line in
# the report, when onnxruntime-node is missing (scripts/deps.sh onnx installs it).
ort_forward() {
	arch=$1 head=$2 batch=$3 size=$4 threads=$5 n=$6
	[ "$ort" = yes ] || return 0
	model=$tmp/${arch}_$head.onnx input=$tmp/input_${batch}_$size.npy
	[ -f "$model" ] || "$knseg" export --arch "$arch" --head "$head" --onnx "$model" >/dev/null
	[ -f "$input" ] || "$py" -c 'import numpy, sys
b, w, h = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
x = numpy.random.default_rng(1).uniform(0, 255, (b, 3, h, w)).astype(numpy.float32)
numpy.save(sys.argv[4], x)' "$batch" "${size%x*}" "${size#*x}" "$input"
	echo "+ node scripts/onnx_run.js $model ... --threads $threads --time $n" \
		" # load $(cut -d ' ' -f 1 /proc/loadavg)"
	if timeout "$limit" node scripts/onnx_run.js "$model" "$input" "$tmp/ort_out.npy" \
		--threads "$threads" --time "$n" </dev/null >"$tmp/one"; then
		printf '{"tool": "onnxruntime", "arch": "%s", "head": "%s", "batch": %d, ' \
			"$arch" "$head" "$batch" >>"$out"
		printf '"width_px": %d, "height_px": %d, "threads": %d, "run": %s}\n' \
			"${size%x*}" "${size#*x}" "$threads" "$(tail -n 1 "$tmp/one")" >>"$out"
	else
		echo "bench: onnxruntime failed with status $?: $model" >&2
		failed=1
	fi
}

start=$(date +%s)
if [ -n "$workloads" ]; then
	cat "$workloads" >"$tmp/lines"
else
	default_workloads >"$tmp/lines"
fi
: >"$out"
: >"$tmp/knseg_done"
: >"$tmp/workloads"
set -f
while read -r line; do
	case $line in '' | '#'*) continue ;; esac
	# shellcheck disable=SC2086
	if ! parse_workload $line >>"$tmp/workloads"; then
		echo "bench: bad workload line '$line'" \
			"(want: arch head batch WxH threads [boxsum|unfold [iterations]])" >&2
		failed=1
	fi
done <"$tmp/lines"
set +f

echo "knseg make bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "machine: $(uname -srm), $(nproc) cores, $cpu"
echo "load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"
echo "commit: $(git describe --always --dirty 2>/dev/null || echo unknown)"
blas=$(pkg-config --modversion openblas 2>/dev/null || echo '?')
torch=$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo '?')
if node scripts/onnx_run.js --probe >"$tmp/ort_version" 2>/dev/null; then
	ort=yes
else
	ort=no
	echo "onnxruntime-node is not installed: no ONNX Runtime column (scripts/deps.sh onnx)" \
		>"$tmp/ort_version"
fi
echo "OpenBLAS $blas, PyTorch $torch, $(cat "$tmp/ort_version")"
echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}" \
	"(knseg and bench_sgemm: 30000 spins when both are unset; PyTorch: its runtime's default)"
echo "iterations: $iters timed after 1 warm-up (PyTorch with unfold statistics:" \
	"$unfold_iters); $rounds rounds; timeout $limit s per run"
echo "workloads from ${workloads:-the defaults in scripts/bench.sh}"
echo "(arch head batch WxH threads reference; timed iterations of knseg, of PyTorch):"
sed 's/^/  /' "$tmp/workloads"
echo

# The sgemm ceiling at every thread count the workloads use, before and after them: the
# table takes the better, and a difference between the two shows a busy machine.
awk '{print $5}' "$tmp/workloads" | sort -un >"$tmp/threads"
sgemm_all() {
	while read -r t; do
		if [ -n "${GOMP_SPINCOUNT:-}${OMP_WAIT_POLICY:-}" ]; then
			measure "$sgemm" --threads "$t" --json
		else
			measure env GOMP_SPINCOUNT=30000 "$sgemm" --threads "$t" --json
		fi
	done <"$tmp/threads"
}
sgemm_all
# Rounds: every workload once per round, so that a burst of load from elsewhere hits one
# round's runs rather than all of one workload's; the table takes each side's fastest.
for round in $(seq "$rounds"); do
	echo "round $round of $rounds"
	: >"$tmp/knseg_done"
	while read -r a h b s t r kn_n n; do
		run_workload "$a" "$h" "$b" "$s" "$t" "$r" "$kn_n" "$n"
	done <"$tmp/workloads"
done
sgemm_all

echo
"$py" scripts/bench_table.py "$out" || failed=1
if [ -n "${BENCH_RESULTS:-}" ]; then
	cp "$out" "$BENCH_RESULTS"
fi
echo
echo "wall time: $(($(date +%s) - start)) s, load average at the end:" \
	"$(cut -d ' ' -f 1-3 /proc/loadavg)"
if [ "$failed" != 0 ]; then
	echo "bench: some runs failed (n/a in the table)" >&2
	exit 1
fi
