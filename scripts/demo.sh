#!/bin/sh
# The built-in end-to-end run behind `make demo`. Usage: scripts/demo.sh PATH_TO_KNSEG
set -eu
knseg=$1
"$knseg" version
echo "demo: knseg is built at $knseg."
echo "demo: the end-to-end run (synthetic data, train, eval, predict) needs the"
echo "demo: synth, train, eval and predict commands, which are not there yet."
