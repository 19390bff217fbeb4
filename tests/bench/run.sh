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
rc=0
for bin in "$@"; do
	[ -x "$bin" ] || continue
	echo
	echo "== $(basename "$bin")"
	"$bin" || { echo "bench: $(basename "$bin") exited $?" >&2; rc=1; }
done
exit $rc
