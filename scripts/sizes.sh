#!/bin/sh
# sizes.sh — the size figures a reader cares about, for ledger/ and cli/:
# source files over a line limit and functions over a body limit.
#
#   sh scripts/sizes.sh [--check] [--file-max N] [--func-max N] [DIR...]
#
# A function is counted from its opening brace in column 0 to its closing
# brace in column 0 (the style every file follows: function braces on a
# line of their own), both included.  Prints one line per file or function
# over the limit and a summary; --check exits 1 when there is any.
set -u
file_max=1000
func_max=100
check=0
dirs=""
while [ $# -gt 0 ]; do
	case "$1" in
	--check) check=1 ;;
	--file-max) file_max=$2; shift ;;
	--func-max) func_max=$2; shift ;;
	*) dirs="$dirs $1" ;;
	esac
	shift
done
[ -n "$dirs" ] || dirs="ledger cli"
files=$(find $dirs -name '*.[ch]' | sort)
nf=0
nfn=0
total=0
for f in $files; do
	n=$(wc -l < "$f")
	total=$((total + n))
	if [ "$n" -gt "$file_max" ]; then
		echo "file $f $n lines"
		nf=$((nf + 1))
	fi
done
over=$(awk -v max="$func_max" '
	FNR == 1 { prev = ""; start = 0 }
	/^\{/ { start = FNR; name = prev; sub(/\(.*/, "", name); n = split(name, w, /[ *]+/); name = w[n]; next }
	/^\}/ { if (start) { len = FNR - start + 1; if (len > max) printf "function %s:%d %s %d lines\n", FILENAME, start, name, len; start = 0 } next }
	/^[A-Za-z_].*\(/ { prev = $0 }
' $files)
if [ -n "$over" ]; then
	printf '%s\n' "$over"
	nfn=$(printf '%s\n' "$over" | wc -l)
fi
longest=$(awk '
	FNR == 1 { start = 0 }
	/^\{/ { start = FNR; next }
	/^\}/ { if (start) { len = FNR - start + 1; if (len > m) m = len; start = 0 } next }
	END { print m + 0 }
' $files)
echo "sizes: $total lines in $(printf '%s\n' $files | wc -l) files; $nf files over $file_max lines; $nfn functions over $func_max lines; longest function $longest lines"
if [ "$check" -eq 1 ] && [ $((nf + nfn)) -gt 0 ]; then
	exit 1
fi
exit 0
