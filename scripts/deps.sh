#!/bin/sh
# Installs the Debian packages knseg needs to build and test, and nothing when
# all of them are present. Usage: scripts/deps.sh [build|bench]
#   build (default): compiler, libpng, TurboJPEG, OpenBLAS (OpenMP build), cmocka,
#                    pkg-config, and clang with its runtime for the fuzz targets.
#   bench:           the above plus python3-torch, for the PyTorch comparisons and
#                    for regenerating test fixtures.
set -eu

pkgs="gcc make pkg-config libpng-dev libturbojpeg0-dev libjpeg62-turbo-dev \
libopenblas-openmp-dev libcmocka-dev clang libclang-rt-14-dev"
if [ "${1:-build}" = bench ]; then
	pkgs="$pkgs python3-torch python3-numpy"
fi

missing=""
for p in $pkgs; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

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
