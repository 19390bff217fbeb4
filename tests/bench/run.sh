#!/bin/sh
# run.sh — `make bench`: run every built benchmark binary and print its
# figures.  It builds nothing (the Makefile has already built build/keten
# and build/bench/bench_*) and asserts nothing: goals that are missed are
# reported in the table, and the exit status is 0 unless a binary is
# missing or crashes.  The machine is described first so that a table can
# be pasted into docs/performance.md as it is.
#
# Environment: BUILD (build directory, default build); KETEN_BENCH_N,
# KETEN_BENCH_REPS, KETEN_BENCH_DIR are passed on to the binaries.
set -u
cd "$(dirname "$0")/../.." || exit 70
B=${BUILD:-build}
KETEN_BENCH_KETEN=${KETEN_BENCH_KETEN:-$B/keten}
export KETEN_BENCH_KETEN

if [ ! -x "$KETEN_BENCH_KETEN" ]; then
	echo "bench: no $KETEN_BENCH_KETEN (run 'make bench')" >&2
	exit 69
fi
set -- "$B"/bench/bench_*
if [ ! -x "$1" ]; then
	echo "bench: no benchmark binaries in $B/bench (run 'make bench')" >&2
	exit 69
fi

echo "== keten bench  $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes figures noisy)"

# Hypercore, for bench_sync's comparison: npm installs the version pinned in
# tests/bench/hypercore/package.json there (node_modules is not committed).
# When that fails and no such version is installed already, bench_sync is
# told why (KETEN_BENCH_HYPERCORE_SKIP) and prints the reason instead of
# the Hypercore rows.
if [ -x "$B/bench/bench_sync" ] && [ -z "${KETEN_BENCH_HYPERCORE_SKIP:-}" ]; then
	hc=tests/bench/hypercore
	hc_want=$(sed -n 's/.*"hypercore": *"\([^"]*\)".*/\1/p' "$hc/package.json")
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		KETEN_BENCH_HYPERCORE_SKIP="node or npm is not installed"
	elif hc_out=$(cd "$hc" && npm install --no-audit --no-fund 2>&1); then
		echo "hypercore: $(echo "$hc_out" | grep -v '^$' | tail -n 1) (npm install in $hc)"
	elif [ "$(cd "$hc" && node -p "require('hypercore/package.json').version" 2>/dev/null)" = "$hc_want" ]; then
		echo "hypercore: npm install failed; using the hypercore $hc_want installed before"
	else
		# npm's error code and its first message line, without the stack and hints
		hc_why=$(echo "$hc_out" | grep -v '^npm error  \|^npm error *$\|^npm error \(syscall\|errno\) \|proxy\|complete log' |
			head -n 2 | tr '\n' ' ')
		KETEN_BENCH_HYPERCORE_SKIP="npm install in $hc failed: ${hc_why:-no message}"
	fi
	if [ -n "${KETEN_BENCH_HYPERCORE_SKIP:-}" ]; then
		echo "hypercore: skipped: $KETEN_BENCH_HYPERCORE_SKIP"
		export KETEN_BENCH_HYPERCORE_SKIP
	fi
fi

rc=0
for bin in "$@"; do
	[ -x "$bin" ] || continue
	echo
	echo "== $(basename "$bin")"
	"$bin" || { echo "bench: $(basename "$bin") exited $?" >&2; rc=1; }
	# Append again in calls of 10,000 entries, as a provider's batch import
	# makes them: each commit then copies far fewer pages of the id index
	# per entry (see docs/performance.md).
	if [ "$(basename "$bin")" = bench_core ] && [ -z "${KETEN_BENCH_BATCH:-}" ]; then
		echo
		echo "== bench_core, append in calls of 10000"
		KETEN_BENCH_ONLY=append KETEN_BENCH_BATCH=10000 "$bin" ||
			{ echo "bench: bench_core (10000 per call) exited $?" >&2; rc=1; }
	fi
done
exit $rc
