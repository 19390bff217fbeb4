#!/bin/sh
# t_structure.sh — the structure checks of make test can fail: each script
# (layers, sizes, exports) passes on the tree as it is and fails on a
# scratch copy with one planted violation.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/keten-structure.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0
failed=0
check() { # description command...
	n=$((n + 1))
	d=$1; shift
	if "$@" > "$T/out" 2>&1; then echo "ok $n - $d"; else echo "not ok $n - $d"; sed 's/^/# /' "$T/out" | tail -5; failed=$((failed + 1)); fi
}
fails() { ! "$@"; }
copy() { rm -rf "$T/tree"; mkdir -p "$T/tree"; cp -r "$ROOT/scripts" "$ROOT/ledger" "$ROOT/cli" "$ROOT/include" "$T/tree/"; }

check "layers: the tree keeps its layers" sh "$ROOT/scripts/layers.sh" --check
copy
printf '#include "io/net.h"\n' >> "$T/tree/ledger/base/money.c"
check "layers: base including io is caught" fails sh "$T/tree/scripts/layers.sh" --check
grep -q 'ledger/base/money.c includes "io/net.h": base may not include io' "$T/out" &&
	check "layers: the message names the file and the rule" true || check "layers: the message names the file and the rule" false
copy
printf '#include "sync/sync.h"\n' >> "$T/tree/ledger/compose/flow.c"
check "layers: compose including its sibling sync is caught" fails sh "$T/tree/scripts/layers.sh" --check
copy
printf '#include "rules/rules.h"\n' >> "$T/tree/cli/main.c"
check "layers: the CLI including an internal header is caught" fails sh "$T/tree/scripts/layers.sh" --check

check "sizes: no file or function over its limit" sh "$ROOT/scripts/sizes.sh" --check "$ROOT/ledger" "$ROOT/cli"
mkdir -p "$T/big"
awk 'BEGIN { for (i = 0; i < 1001; i++) print "/* line */" }' > "$T/big/long.c"
check "sizes: a file of 1001 lines is caught" fails sh "$ROOT/scripts/sizes.sh" --check "$T/big"
rm "$T/big/long.c"
{ echo "int f(void)"; echo "{"; awk 'BEGIN { for (i = 0; i < 99; i++) print "\tx();" }'; echo "}"; } > "$T/big/fn.c"
check "sizes: a function of 101 lines is caught" fails sh "$ROOT/scripts/sizes.sh" --check "$T/big"
grep -q 'function .*fn.c:2 f 101 lines' "$T/out" && check "sizes: the message names the function" true || check "sizes: the message names the function" false

if [ -f "$ROOT/build/libketen.a" ]; then
	check "exports: the built libraries export only what the headers declare" sh "$ROOT/scripts/exports.sh" --check "$ROOT/build/libketen.a" "$ROOT/build/libketen.so.0"
	printf 'int kt_planted_internal(void) { return 1; }\n' > "$T/x.c"
	cc -c -o "$T/x.o" "$T/x.c" && cp "$ROOT/build/libketen.a" "$T/lib.a" && ar r "$T/lib.a" "$T/x.o" 2>/dev/null
	check "exports: an exported symbol no header declares is caught" fails sh "$ROOT/scripts/exports.sh" --check "$T/lib.a"
	grep -q 'undeclared lib.a: kt_planted_internal' "$T/out" && check "exports: the message names the symbol" true || check "exports: the message names the symbol" false
	nm -g --defined-only "$ROOT/build/libketen.a" | awk '$2 == "T" {print $3}' | grep -c '^kt_' > "$T/n"
	check "exports: no kt_ function is exported from libketen.a" test "$(cat "$T/n")" -eq 0
fi
echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
