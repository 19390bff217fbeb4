#!/bin/sh
# run.sh — every test suite of keten, one after another, and one closing
# line over all of them: "N passed, N failed".  Exit 1 on any failure.
#
# Suites:  unit (cmocka, normal build), unit-san (the same under
# address,undefined sanitizers), cli (shell tests driving the real binary),
# fuzz (each libFuzzer target briefly over its committed corpus).
# Each test is one line "ok NAME" or "FAIL NAME" in the log.
set -u
cd "$(dirname "$0")/.." || exit 70
JOBS=${JOBS:-2}
LOG=build/test-log.txt
mkdir -p build
: > "$LOG"
pass=0
fail=0
export KETEN_PWHASH_FAST=1

note() { printf '%s\n' "$*" | tee -a "$LOG"; }
ok()   { pass=$((pass + 1)); note "ok   $1"; }
bad()  { fail=$((fail + 1)); note "FAIL $1"; }

# cmocka reports in TAP (CMOCKA_MESSAGE_OUTPUT=TAP): one "ok N - name" or
# "not ok N - name" line per test, counted here.
run_cmocka() { # suite binary
	out=$(CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$2" 2>&1)
	rc=$?
	printf '%s\n' "$out" >> "$LOG"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f))
	note "$1 $(basename "$2"): $p passed, $f failed"
	[ "$f" -eq 0 ] || printf '%s\n' "$out" | grep -E '^not ok|^#' | head -20
}

echo "== build"
if ! make -s -j"$JOBS" DEV=1 all unit >> "$LOG" 2>&1; then
	tail -30 "$LOG"; bad build; echo "$pass passed, $fail failed"; exit 1
fi
echo "== structure"
# The library exports what its public headers declare, the folders keep
# their layers, no file or function outgrows its limit, and the code
# follows .clang-format.
structure() { # name command...
	name=$1; shift
	if out=$("$@" 2>&1); then ok "structure $name"; else bad "structure $name"; printf '%s\n' "$out" | tail -20; fi
	printf '%s\n' "$out" >> "$LOG"
}
structure exports sh scripts/exports.sh --check build/libketen.a build/libketen.so.0
structure layers sh scripts/layers.sh --check
structure sizes sh scripts/sizes.sh --check
structure format sh -c 'clang-format --dry-run -Werror $(find ledger cli include tests/unit tests/bench tests/fuzz -name "*.[ch]")'
structure cli-public sh -c '! grep -rn "#include \"" cli | grep -v "\"keten/\|\"cli.h\""'

echo "== unit"
for t in build/tests/test_*; do [ -x "$t" ] && run_cmocka unit "$t"; done

echo "== unit under address,undefined sanitizers"
if make -s -j"$JOBS" DEV=1 SANITIZE=address,undefined unit >> "$LOG" 2>&1; then
	for t in build/san/tests/test_*; do
		[ -x "$t" ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_cmocka unit-san "$t"
	done
else
	bad sanitizer-build
fi

echo "== cli"
for t in tests/cli/t_*.sh; do
	[ -f "$t" ] || continue
	out=$(KETEN=$(pwd)/build/keten timeout 600 sh "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" >> "$LOG"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	pass=$((pass + p)); fail=$((fail + f))
	note "cli $(basename "$t"): $p passed, $f failed"
	[ "$f" -eq 0 ] || printf '%s\n' "$out" | grep -E '^not ok|^#' | head -20
done

echo "== fuzz (brief, committed corpora)"
if [ -n "$(ls tests/fuzz/fuzz_*.c 2>/dev/null)" ]; then
	if make -s -j"$JOBS" fuzz >> "$LOG" 2>&1; then
		# $JOBS targets at a time, 10 s each over its corpus.
		i=0
		for f in build/fuzz/fuzz_*; do
			name=$(basename "$f")
			corpus=tests/fuzz/corpus/${name#fuzz_}
			mkdir -p "build/fuzz/work-$name"
			rm -f "build/fuzz/work-$name.rc"
			(timeout 120 "$f" -max_total_time=10 -rss_limit_mb=2048 -artifact_prefix="build/fuzz/work-$name-" \
				"build/fuzz/work-$name" "$corpus" \
				> "build/fuzz/work-$name.log" 2>&1; echo $? > "build/fuzz/work-$name.rc") &
			i=$((i + 1))
			[ $((i % JOBS)) -ne 0 ] || wait
		done
		wait
		for f in build/fuzz/fuzz_*; do
			name=$(basename "$f")
			cat "build/fuzz/work-$name.log" >> "$LOG"
			if [ "$(cat "build/fuzz/work-$name.rc" 2>/dev/null)" = 0 ]; then
				ok "fuzz $name"
			else
				bad "fuzz $name"
			fi
		done
	else
		bad fuzz-build
	fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
