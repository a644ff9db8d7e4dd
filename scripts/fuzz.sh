#!/bin/sh
# Runs each libFuzzer target for a bounded time on a corpus seeded from
# tests/fuzz/seeds/<target>/ (when present) and prints the executions reached.
# Usage: scripts/fuzz.sh SECONDS TARGET...
set -eu
secs=$1
shift
status=0
for t in "$@"; do
	name=$(basename "$t")
	corpus="build/fuzz/corpus/$name"
	mkdir -p "$corpus"
	seeds="tests/fuzz/seeds/$name"
	[ -d "$seeds" ] || seeds=""
	log="build/fuzz/$name.log"
	if "$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
		-print_final_stats=1 "$corpus" $seeds >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz: $name ok, $execs executions in ${secs}s"
	else
		echo "fuzz: $name FAILED, see $log"
		tail -n 40 "$log"
		status=1
	fi
done
exit $status
