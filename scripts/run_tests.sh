#!/bin/sh
# Runs each test program given, from the repository root, and sums cmocka's counts.
# Exits non-zero when any test fails or any program exits non-zero.
set -u
# OpenMP threads spin briefly before sleeping, as knseg runs them (see app/main.c): long
# spinning stalls on a shared machine.
if [ -z "${GOMP_SPINCOUNT:-}" ] && [ -z "${OMP_WAIT_POLICY:-}" ]; then
	export GOMP_SPINCOUNT=30000
fi
passed=0 failed=0 skipped=0 bad=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	"$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	if [ "$rc" -ne 0 ] && [ -z "$f" ]; then
		failed=$((failed + 1))
	fi
	[ "$rc" -ne 0 ] && bad="$bad $(basename "$t")"
done
[ -n "$bad" ] && echo "failing programs:$bad"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ -z "$bad" ] && [ "$failed" -eq 0 ]
