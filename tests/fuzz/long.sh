#!/bin/sh
# long.sh RUNS TARGET... — `make fuzz-long`: each libFuzzer target for
# RUNS executions over its committed corpus (new inputs go to
# build/fuzz/long-NAME/, the log to build/fuzz/long-NAME.log), one line
# per target: executions, seconds and the result.  Exit 1 if any failed.
set -u
cd "$(dirname "$0")/../.." || exit 70
runs=$1
shift
failed=0
for t in "$@"; do
	bin=build/fuzz/fuzz_$t
	work=build/fuzz/long-$t
	log=build/fuzz/long-$t.log
	mkdir -p "$work"
	start=$(date +%s)
	"$bin" -runs="$runs" -rss_limit_mb=2048 -print_final_stats=1 "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then result=ok; else result="FAILED (exit $rc, see $log)"; failed=1; fi
	echo "fuzz_$t: ${execs:-?} executions in $secs s: $result"
done
exit "$failed"
