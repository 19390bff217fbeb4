#!/bin/sh
# t_crash.sh — a short crash campaign (tests/crash/crash.py, `make crash`
# runs 200 trials): 20 trials of keten killed with SIGKILL during a batch,
# an import, a loop of single appends, and both sides of a sync over
# tcp://127.0.0.1.  One test per kind: every id acknowledged before the
# kill is present, batch and import files are there whole or not at all,
# `keten verify` passes and the home takes a new append (and, after a
# sync, syncs to the end); one test that most kills landed during the
# work, and one that the campaign exits 0.  SEED=... repeats a run.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d) || exit 70
trap 'rm -rf "$T"' EXIT
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
n=0
failed=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
TRIALS=20

N=$TRIALS KETEN=$K timeout 300 python3 "$ROOT/tests/crash/crash.py" >"$T/out" 2>"$T/err"
rc=$?
sed 's/^/# /' "$T/out" "$T/err"
# field LINE WORDS: the number just before WORDS in LINE
field() { printf '%s\n' "$1" | sed -n "s/.* \([0-9][0-9]*\) $2.*/\1/p"; }
for kind in batch import appends sync-client sync-node; do
	l=$(grep "^$kind  *[0-9]" "$T/out")
	trials=$(printf '%s\n' "$l" | awk '{print $2}')
	bad=0
	for w in lost torn 'verify failures' 'recovery failures'; do
		v=$(field "$l" "$w")
		[ "$v" = 0 ] || bad=1
	done
	if [ -n "$l" ] && [ "$trials" = $((TRIALS / 5)) ] && [ "$bad" = 0 ]; then
		ok "$kind: $(printf '%s\n' "$l" | sed "s/^$kind  *//")"
	else
		nok "$kind: ${l:-no line} (exit $rc)"
	fi
done
l=$(grep '^total ' "$T/out")
killed=$(field "$l" 'killed mid-work')
if [ -n "$killed" ] && [ "$killed" -ge $((TRIALS / 2)) ]; then
	ok "the kills landed during the work: $killed of $TRIALS trials killed mid-work"
else
	nok "the kills landed during the work: ${killed:-?} of $TRIALS trials killed mid-work"
fi
if [ "$rc" -eq 0 ] && printf '%s\n' "$l" | grep -q ': ok$'; then ok "the campaign exits 0: $(head -1 "$T/out")"; else
	nok "the campaign exits 0 (exit $rc: ${l:-no total line})"; fi
[ "$failed" -eq 0 ]
