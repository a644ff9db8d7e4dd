#!/bin/sh
# The libraries and tools knseg needs. Usage: scripts/deps.sh [build|fuzz|bench|onnx|check]
#   build (default): installs the missing Debian packages: compiler, pkg-config, libpng,
#                    TurboJPEG, OpenBLAS (its OpenMP build), cmocka, Open MPI (for
#                    knseg-mpi and its tests); nothing when all are present.
#   fuzz:            the above plus clang and its runtime, for the libFuzzer targets.
#   bench:           the above plus python3-torch, for the PyTorch comparisons and for
#                    regenerating test fixtures.
#   onnx:            build's packages plus python3-onnx, Node.js and npm, then the
#                    onnxruntime-node pinned in scripts/npm (into build/npm/node_modules),
#                    for the ONNX export tests and scripts/onnx_run.js.
#   check:           installs nothing: says in one line per library which one pkg-config
#                    cannot find (on any distribution), and fails if any is missing.
# Installing needs root (make deps, make test, make demo call it); plain make only checks.
set -eu
mode=${1:-build}

# pkg-config module, and the Debian package that provides it.
libs="openblas:libopenblas-openmp-dev libpng:libpng-dev libturbojpeg:libturbojpeg0-dev \
cmocka:libcmocka-dev"

if [ "$mode" = check ]; then
	if ! command -v pkg-config >/dev/null 2>&1; then
		echo "knseg: pkg-config is not installed (Debian: pkg-config; or run make deps as root)" >&2
		exit 1
	fi
	bad=0
	for l in $libs; do
		mod=${l%%:*}
		if ! pkg-config --exists "$mod"; then
			echo "knseg: library not found by pkg-config: $mod (Debian: ${l#*:}; or run make deps as root)" >&2
			bad=1
		fi
	done
	exit $bad
fi

pkgs="gcc make pkg-config libpng-dev libturbojpeg0-dev libjpeg62-turbo-dev \
libopenblas-openmp-dev libcmocka-dev libopenmpi-dev openmpi-bin"
case $mode in
build) ;;
fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
bench) pkgs="$pkgs python3-torch python3-numpy" ;;
onnx)
	pkgs="$pkgs python3-onnx python3-numpy"
	# A Node.js from outside Debian may bundle npm (and conflict with Debian's npm):
	# Debian's two are installed only when there is no npm at all.
	command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
	;;
*)
	echo "deps: unknown mode '$mode' (build, fuzz, bench, onnx or check)" >&2
	exit 2
	;;
esac

missing=""
for p in $pkgs; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages:$missing" >&2
		echo "deps: run as root, or: sudo apt-get install$missing" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# onnxruntime-node as locked in scripts/npm, installed again when the lock changes.
# ONNXRUNTIME_NODE_INSTALL=skip: no GPU download; the package ships the CPU library.
npm_dir=build/npm
if [ "$mode" = onnx ] && { [ ! -d "$npm_dir/node_modules/onnxruntime-node" ] ||
	! cmp -s scripts/npm/package-lock.json "$npm_dir/package-lock.json"; }; then
	echo "deps: installing onnxruntime-node into $npm_dir"
	mkdir -p "$npm_dir"
	cp scripts/npm/package.json scripts/npm/package-lock.json "$npm_dir/"
	ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error \
		--prefix "$npm_dir"
fi
