#!/bin/sh
# Runs the test suite once under every OpenBLAS kernel this CPU can execute, forced with
# OPENBLAS_CORETYPE, so that what users of other machines run is tested here: results
# must be the same bits at any thread count with each kernel, and close to the PyTorch
# fixtures with each.
#
# Usage: scripts/test_kernels.sh TEST_PROGRAM...   (`make test-kernels` passes them all)
#
# A kernel is run when /proc/cpuinfo shows every instruction set it uses (decided from
# the flags, never from the CPU's name), and counted only when OpenBLAS then reports
# that kernel as the one in use (a name this OpenBLAS does not build is said and left
# out). Exits non-zero when any kernel's run fails or when no kernel could be run.
set -u
gemm_test=""
for t in "$@"; do
	case $t in */test_gemm) gemm_test=$t ;; esac
done
if [ -z "$gemm_test" ]; then
	echo "test-kernels: test_gemm must be among the programs (it reports the kernel)" >&2
	exit 2
fi

flags=$(sed -n 's/^flags[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
has() {
	for f in "$@"; do
		case " $flags " in *" $f "*) ;; *) return 1 ;; esac
	done
}

# kernel: the instruction sets its code uses (cpuinfo names; pni is SSE3).
kernels=""
add() {
	name=$1
	shift
	if has "$@"; then
		kernels="$kernels $name"
	else
		echo "test-kernels: $name skipped: the CPU lacks one of: $*"
	fi
}
add Prescott sse2 pni
add Core2 sse2 pni ssse3
add Nehalem sse2 pni ssse3 sse4_1 sse4_2
add Barcelona sse2 pni sse4a
add Sandybridge sse4_2 avx
add Bulldozer avx fma4 xop
add Piledriver avx fma fma4 xop
add Steamroller avx fma fma4 xop
add Excavator avx avx2 fma fma4 xop
add Haswell avx avx2 fma
add Zen avx avx2 fma
add SkylakeX avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl
add Cooperlake avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl avx512_bf16
add SapphireRapids avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl avx512_bf16 \
	avx512_fp16 amx_tile amx_bf16

ran="" failed="" absent=""
for k in $kernels; do
	got=$(OPENBLAS_CORETYPE=$k "$gemm_test" 2>/dev/null | sed -n 's/^OpenBLAS kernel: //p')
	if [ "$got" != "$k" ]; then
		echo "test-kernels: $k is not built into this OpenBLAS (it runs ${got:-nothing} instead)"
		absent="$absent $k"
		continue
	fi
	echo "test-kernels: == OPENBLAS_CORETYPE=$k"
	if OPENBLAS_CORETYPE=$k scripts/run_tests.sh "$@" >"${TMPDIR:-/tmp}/knseg-kernel-$$.log" 2>&1; then
		ran="$ran $k"
	else
		failed="$failed $k"
		cat "${TMPDIR:-/tmp}/knseg-kernel-$$.log"
	fi
	tail -n 1 "${TMPDIR:-/tmp}/knseg-kernel-$$.log"
	rm -f "${TMPDIR:-/tmp}/knseg-kernel-$$.log"
done
echo "test-kernels: passed under:${ran:- none}"
[ -n "$absent" ] && echo "test-kernels: not in this OpenBLAS:$absent"
if [ -n "$failed" ]; then
	echo "test-kernels: FAILED under:$failed"
	exit 1
fi
[ -n "$ran" ]
