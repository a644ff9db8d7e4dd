#!/bin/sh
# `make demo`: the whole workflow on the built-in synthetic street scenes, in a few
# minutes on 2 cores. Everything goes under out/demo/ (replaced on every run):
#   data/       the generated dataset (Cityscapes layout)
#   run/        training: config.txt, log.csv, curve.svg, last/best checkpoints
#   report.*    validation scores (terminal table, .md, .json, .csv) and confusion.png
#   masks/      predictions for the validation images: class indices, Cityscapes
#               labelIds, colour masks and overlays
# Usage: scripts/demo.sh PATH_TO_KNSEG   (DEMO_ITERS overrides the iterations)
set -eu
knseg=$1
out=out/demo
iters=${DEMO_ITERS:-3500}

# out/demo belongs to the demo: results of an earlier run must not pass for this one's.
rm -rf "$out/run" "$out/masks" "$out"/report.* "$out/confusion.png"
mkdir -p "$out"
echo "demo: generating synthetic street scenes in $out/data"
"$knseg" synth --out "$out/data" --train 300 --val 50 --size 256x128 --seed 1 --force >/dev/null

echo "demo: training KNResNet-18 + fpn (width 0.25) for $iters iterations"
"$knseg" train --root "$out/data" --out "$out/run" --force --arch knresnet18 --head fpn \
	--width 0.25 --crop 256x128 --batch 4 --iters "$iters" --optim adamw --lr 0.002 \
	--class-weights median --scale-range 0.75,1.5 --val-every 500 --log-every 100 --seed 1 |
	tee "$out/train.log" | grep --line-buffered -E '^epoch|^val mIoU|^done' || true
[ -f "$out/run/best.safetensors" ] || { echo "demo: training failed" >&2; exit 1; }

echo "demo: evaluating the best checkpoint on the validation split"
"$knseg" eval --checkpoint "$out/run/best.safetensors" --root "$out/data" --split val \
	--json "$out/report.json" --md "$out/report.md" --csv "$out/report.csv" \
	--heatmap "$out/confusion.png" | tee "$out/report.txt"

echo "demo: writing masks and overlays for the validation images"
"$knseg" predict --checkpoint "$out/run/best.safetensors" --out "$out/masks" --force --quiet \
	--format trainid,labelid,color,overlay "$out/data/leftImg8bit/val"

miou=$(sed -n 's/^mIoU \([0-9.]*\).*/\1/p' "$out/report.txt" | head -n 1)
cat <<TXT

demo: done. Validation mIoU $miou (19 Cityscapes classes, those present in the data).
  scores          $out/report.txt, report.md, report.json, report.csv
  confusion       $out/confusion.png
  training curve  $out/run/curve.svg (log: $out/run/log.csv, output: $out/train.log)
  masks           $out/masks/synth/ (*_color.png, *_overlay.jpg, *_labelIds.png)
  checkpoint      $out/run/best.safetensors
TXT
