#!/bin/sh
# Checks that two knseg programs behave the same, bit for bit, on a fixed job: a
# synthetic dataset, a 20-iteration training run with validation, eval of its best
# checkpoint (whole image, and sliding windows with flip) and predict of the validation
# images in every output format. Used before and after a change that must not change
# behaviour (a refactoring, a move of code between files).
#
# Usage: scripts/same_results.sh OLD_KNSEG NEW_KNSEG
#   e.g. git worktree add /tmp/old HEAD~1 && make -C /tmp/old build &&
#        scripts/same_results.sh /tmp/old/build/release/knseg build/release/knseg
# Prints one line per output compared and exits 0 when every one is identical.
set -eu
[ $# -eq 2 ] || { echo "usage: scripts/same_results.sh OLD_KNSEG NEW_KNSEG" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs the job with program $1 in folder $2; timings and paths stay out of the outputs
# compared.
job() {
	k=$1 d=$2
	mkdir -p "$d"
	"$k" synth --out "$d/data" --train 8 --val 3 --size 256x128 --seed 7 >/dev/null
	"$k" train --root "$d/data" --out "$d/run" --arch knresnet18 --head fpn --width 0.125 \
		--crop 128x128 --batch 2 --iters 20 --val-every 10 --log-every 5 --seed 3 \
		--threads 2 >/dev/null
	"$k" eval --checkpoint "$d/run/best.safetensors" --root "$d/data" --split val \
		--csv "$d/eval.csv" >/dev/null
	"$k" eval --checkpoint "$d/run/best.safetensors" --root "$d/data" --split val \
		--mode slide --crop 128x64 --stride 96x48 --flip --csv "$d/eval_slide.csv" >/dev/null
	"$k" predict --checkpoint "$d/run/last.safetensors" --out "$d/masks" \
		--format trainid,labelid,color,overlay --save-logits "$d/data/leftImg8bit/val" >/dev/null
}

# The same folder for both runs: a training checkpoint records where its dataset was.
job "$1" "$tmp/work" && mv "$tmp/work" "$tmp/old"
job "$2" "$tmp/work" && mv "$tmp/work" "$tmp/new"

status=0
for f in run/last.safetensors run/best.safetensors eval.csv eval_slide.csv; do
	if cmp -s "$tmp/old/$f" "$tmp/new/$f"; then
		echo "same:    $f"
	else
		echo "DIFFERS: $f"
		status=1
	fi
done
if diff -r "$tmp/old/masks" "$tmp/new/masks" >/dev/null; then
	echo "same:    masks/ ($(find "$tmp/new/masks" -type f | wc -l) files)"
else
	echo "DIFFERS: masks/"
	status=1
fi
exit $status
