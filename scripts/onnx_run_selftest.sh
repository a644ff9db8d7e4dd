#!/bin/sh
# Checks scripts/onnx_run.js end to end: builds a small ONNX model with the interface of
# `knseg export` (input "image" [N,3,H,W] 0..255, outputs "logits" and "labels"), runs
# it on two input sizes (.npy format 1.0 and 2.0), compares the outputs with numpy, and
# checks the --time JSON line and the refusal of bad input.
# Usage: scripts/onnx_run_selftest.sh
# Prints 'onnx_run selftest: ok'; exits 77 (skip) when python3-onnx, numpy or
# onnxruntime-node is missing (scripts/deps.sh onnx installs them).
set -eu
cd "$(dirname "$0")/.."
py=/usr/bin/python3
if ! command -v node >/dev/null 2>&1; then
	echo "onnx_run selftest: skipped: node is not installed (scripts/deps.sh onnx)"
	exit 77
fi
if ! "$py" -c 'import onnx, numpy' 2>/dev/null; then
	echo "onnx_run selftest: skipped: python3-onnx or numpy is missing (scripts/deps.sh onnx)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The model: normalization, a 1x1 convolution to 4 classes, ArgMax over classes. The
# reference weights go beside it for the numpy check.
"$py" - "$tmp" <<'EOF'
import sys, numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
d = sys.argv[1]
rng = np.random.default_rng(5)
w = rng.standard_normal((4, 3, 1, 1)).astype(np.float32)
b = rng.standard_normal(4).astype(np.float32)
mean = np.array([123.7, 116.3, 103.5], np.float32).reshape(1, 3, 1, 1)
std = np.array([58.4, 57.1, 57.4], np.float32).reshape(1, 3, 1, 1)
init = [numpy_helper.from_array(a, n) for a, n in
        ((w, "w"), (b, "b"), (mean, "mean"), (std, "std"))]
nodes = [helper.make_node("Sub", ["image", "mean"], ["c"]),
         helper.make_node("Div", ["c", "std"], ["x"]),
         helper.make_node("Conv", ["x", "w", "b"], ["logits"]),
         helper.make_node("ArgMax", ["logits"], ["labels"], axis=1, keepdims=0)]
g = helper.make_graph(
    nodes, "selftest",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4, "H", "W"]),
     helper.make_tensor_value_info("labels", TensorProto.INT64, ["N", "H", "W"])],
    init)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(m)
onnx.save(m, f"{d}/model.onnx")
np.savez(f"{d}/ref.npz", w=w, b=b, mean=mean, std=std)
for name, shape, version in (("a", (2, 3, 5, 7), (1, 0)), ("b", (1, 3, 4, 9), (2, 0))):
    x = rng.uniform(0, 255, shape).astype(np.float32)
    with open(f"{d}/{name}.npy", "wb") as f:
        np.lib.format.write_array(f, x, version=version)
np.save(f"{d}/f64.npy", np.zeros((1, 3, 2, 2)))
EOF

run() {
	st=0
	node scripts/onnx_run.js "$@" || st=$?
	if [ "$st" = 77 ]; then
		echo "onnx_run selftest: skipped: onnxruntime-node is missing (scripts/deps.sh onnx)" >&2
		exit 77
	fi
	return "$st"
}
run "$tmp/model.onnx" "$tmp/a.npy" "$tmp/a_logits.npy" "$tmp/a_labels.npy" \
	--threads 2 --time 3 >"$tmp/time.json"
run "$tmp/model.onnx" "$tmp/b.npy" "$tmp/b_logits.npy"

"$py" - "$tmp" <<'EOF'
import json, sys, numpy as np
d = sys.argv[1]
r = np.load(f"{d}/ref.npz")
for name in "ab":
    x = np.load(f"{d}/{name}.npy")
    want = np.einsum("kc,nchw->nkhw", r["w"][:, :, 0, 0], (x - r["mean"]) / r["std"])
    want += r["b"].reshape(1, -1, 1, 1)
    got = np.load(f"{d}/{name}_logits.npy")
    assert got.dtype == np.float32 and got.shape == want.shape, (got.dtype, got.shape)
    assert np.allclose(got, want, rtol=1e-5, atol=1e-4), np.abs(got - want).max()
labels = np.load(f"{d}/a_labels.npy")
assert labels.dtype == np.int64 and labels.shape == (2, 5, 7), (labels.dtype, labels.shape)
assert (labels == np.load(f"{d}/a_logits.npy").argmax(1)).all()
t = json.loads(open(f"{d}/time.json").read())
assert t["engine"] == "onnxruntime" and t["threads"] == 2 and t["iters"] == 3, t
assert len(t["times_s"]) == 3 and 0 < t["min_s"] <= t["median_s"], t
EOF

# Bad input: one line on stderr naming the file, exit 1.
for bad in f64.npy missing.npy; do
	st=0
	run "$tmp/model.onnx" "$tmp/$bad" "$tmp/x.npy" 2>"$tmp/err" || st=$?
	if [ "$st" != 1 ] || [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -q "$bad" "$tmp/err"; then
		echo "onnx_run selftest: $bad: expected exit 1 and one error line, got $st:" >&2
		cat "$tmp/err" >&2
		exit 1
	fi
done
echo "onnx_run selftest: ok"
