#!/bin/sh
# exports.sh — the symbols a built libketen exports, held against what the
# public headers (include/keten/*.h) declare.
#
#   sh scripts/exports.sh [--check] LIBRARY...
#
# LIBRARY is libketen.a or libketen.so.  Every exported symbol (global and
# defined: nm -g --defined-only; for a shared object its dynamic table)
# must be named in a public header.  Prints each one that is not and a
# summary; --check exits 1 when there is any.
set -u
check=0
[ "${1:-}" = "--check" ] && { check=1; shift; }
top=$(cd "$(dirname "$0")/.." && pwd)
declared=$(cat "$top"/include/keten/*.h | sed 's,/\*.*\*/,,g' | grep -oE '\b[A-Za-z_][A-Za-z0-9_]*\b' | sort -u)
bad=0
for lib in "$@"; do
	case "$lib" in
	*.so*) syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}') ;;
	*) syms=$(nm -g --defined-only "$lib" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[TDBRVWC]$/ {print $3}') ;;
	esac
	syms=$(printf '%s\n' "$syms" | sort -u | grep -v '^$')
	n=$(printf '%s\n' "$syms" | grep -c . )
	undeclared=$(printf '%s\n' "$syms" | grep -vxF "$declared" | grep -v '^_')
	u=$(printf '%s\n' "$undeclared" | grep -c .)
	[ "$u" -gt 0 ] && printf '%s\n' "$undeclared" | sed "s|^|undeclared $(basename "$lib"): |"
	echo "exports: $(basename "$lib"): $n exported symbols, $u not declared in include/keten/"
	bad=$((bad + u))
done
[ "$check" -eq 0 ] || [ "$bad" -eq 0 ] || exit 1
exit 0
