#!/bin/sh
# Data-parallel training on this machine, and what it predicts for several machines.
#
# Usage: scripts/bench_mpi.sh BUILD_DIR   (holding knseg and knseg-mpi; make bench-mpi)
#
# 1. Local runs, each BENCH_ROUNDS times (default 3) in turns, the fastest round kept
#    (load from elsewhere only adds time): the training step of the reference workload
#    (KNResNet-18 + FCN, 512x256) as one process with 2 threads against 2 processes of
#    1 thread sharing the same global batch, with the gradients sent in buckets during
#    the backward pass (--bucket-mb 8, the default) and in one sum after it
#    (--bucket-mb 0); then 4 processes of 1 thread (batch 4) on the 2 cores, against one
#    process of 2 threads. Also the time of one sum of all the gradients over 2 processes.
# 2. A model of P machines, each computing the reference step on its own images (the
#    global batch grows with P), joined by a network of B Gb/s with a ring allreduce:
#    every machine sends and receives 2 (P - 1) / P of the gradient bytes G, in
#    2 (P - 1) messages of latency LAT (20 us), so
#        t_sum = 2 (P - 1) / P * G * 8 / B + 2 (P - 1) * LAT
#    without overlap the step takes T + t_sum (T the measured one-machine step); with
#    buckets only what the backward pass cannot hide waits after it:
#        max(t_sum * bucket / G, t_sum - T_backward)
#    with T_backward = T - T_forward (the measured forward pass). Efficiency = T / step.
set -eu
[ $# -eq 1 ] || { echo "usage: scripts/bench_mpi.sh BUILD_DIR" >&2; exit 2; }
b=$1
rounds=${BENCH_ROUNDS:-3}
[ -x "$b/knseg" ] && [ -x "$b/knseg-mpi" ] || {
	echo "bench_mpi: $b/knseg and $b/knseg-mpi are needed (make build with Open MPI)" >&2
	exit 1
}
# mpirun refuses root unless told; a job of more processes than cores needs
# --oversubscribe. These are for this measurement only.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work="--arch knresnet18 --head fcn --size 512x256 --iters 5 --warmup 1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One JSON line per run into $tmp/NAME.
run() {
	name=$1
	shift
	"$@" --json - >>"$tmp/$name"
}

i=0
while [ $i -lt "$rounds" ]; do
	i=$((i + 1))
	echo "round $i of $rounds" >&2
	run p1t2_b2 "$b/knseg" bench $work --batch 2 --threads 2
	run p2t1_b2_overlap mpirun --oversubscribe -np 2 "$b/knseg-mpi" bench $work --batch 2 \
		--threads 1 --only train --bucket-mb 8
	run p2t1_b2_after mpirun --oversubscribe -np 2 "$b/knseg-mpi" bench $work --batch 2 \
		--threads 1 --only train --bucket-mb 0
	run p1t2_b4 "$b/knseg" bench $work --batch 4 --threads 2 --only train
	run p4t1_b4_overlap mpirun --oversubscribe -np 4 "$b/knseg-mpi" bench $work --batch 4 \
		--threads 1 --only train --bucket-mb 8
	run p4t1_b4_after mpirun --oversubscribe -np 4 "$b/knseg-mpi" bench $work --batch 4 \
		--threads 1 --only train --bucket-mb 0
done

# The fastest round's value of a key ("train_step_s", ...) in $tmp/NAME.
best() {
	sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" "$tmp/$1" | sort -g | head -1
}

ref=$(best p1t2_b2 train_step_s)
fwd=$(best p1t2_b2 forward_s)
gbytes=$(best p2t1_b2_overlap grad_bytes)
sum2=$(best p2t1_b2_after grad_sum_s)
echo
echo "Training step, KNResNet-18 + FCN, 512x256 (fastest of $rounds rounds, medians of 5):"
printf '| run | batch | step | vs 1 process, 2 threads | gradients waited for |\n'
printf '|---|---:|---:|---:|---:|\n'
for spec in "p1t2_b2:1 process, 2 threads:2:p1t2_b2" \
	"p2t1_b2_overlap:2 processes, 1 thread, buckets of 8 MB:2:p1t2_b2" \
	"p2t1_b2_after:2 processes, 1 thread, one sum after backward:2:p1t2_b2" \
	"p1t2_b4:1 process, 2 threads:4:p1t2_b4" \
	"p4t1_b4_overlap:4 processes, 1 thread, buckets of 8 MB:4:p1t2_b4" \
	"p4t1_b4_after:4 processes, 1 thread, one sum after backward:4:p1t2_b4"; do
	name=${spec%%:*}
	rest=${spec#*:}
	label=${rest%%:*}
	rest=${rest#*:}
	batch=${rest%%:*}
	base=${rest#*:}
	s=$(best "$name" train_step_s)
	w=$(best "$name" grad_wait_s)
	r=$(best "$base" train_step_s)
	awk -v l="$label" -v n="$batch" -v s="$s" -v r="$r" -v w="$w" -v one="$name" 'BEGIN {
		printf "| %s | %d | %.3f s | %.2f | %s |\n", l, n, s, r / s,
			one ~ /^p1/ ? "-" : sprintf("%.1f ms", w * 1000) }'
done
awk -v g="$gbytes" -v t="$sum2" 'BEGIN {
	printf "\nOne sum of the %.1f MB of gradients over 2 local processes: %.1f ms\n",
		g / 1048576, t * 1000 }'

echo
echo "Model of P machines (step T = $ref s, forward $fwd s, gradients $gbytes bytes, ring"
echo "allreduce, 20 us per message, buckets of 8 MB); step time and efficiency T / step:"
awk -v T="$ref" -v F="$fwd" -v G="$gbytes" 'BEGIN {
	lat = 20e-6
	bucket = 8 * 1048576
	tb = T - F
	printf "| machines | Gb/s | allreduce | step, no overlap | eff. | step, overlap | eff. |\n"
	printf "|---:|---:|---:|---:|---:|---:|---:|\n"
	split("2 4 8 16 32 64", ps, " ")
	split("10 25 100", bw, " ")
	for (i = 1; i <= 6; i++) {
		p = ps[i]
		for (j = 1; j <= 3; j++) {
			t = 2 * (p - 1) / p * G * 8 / (bw[j] * 1e9) + 2 * (p - 1) * lat
			exposed = t * (bucket < G ? bucket / G : 1)
			if (t - tb > exposed)
				exposed = t - tb
			printf "| %d | %d | %.1f ms | %.3f s | %.0f %% | %.3f s | %.0f %% |\n", p, bw[j],
				t * 1000, T + t, 100 * T / (T + t), T + exposed, 100 * T / (T + exposed)
		}
	}
}'
