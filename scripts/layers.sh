#!/bin/sh
# layers.sh — the folder-to-folder include graph of libketen and the CLI,
# held against the layers written in docs/architecture.md.
#
#   sh scripts/layers.sh [--check]
#
# Prints one line per pair "from -> to  N" (N: #include lines), then every
# include that breaks a layer rule.  --check exits 1 when there is one.
#
# The layers, lowest first.  A folder may include its own headers, the
# public headers (keten/) and the folders listed after it here; nothing
# else.  proto/ is the code protoc-c generates from proto/*.proto.
set -u
cd "$(dirname "$0")/.." || exit 70
allowed() { # folder -> the folders it may include
	case "$1" in
	base)    echo "" ;;
	formats) echo "base" ;;
	crypto)  echo "base proto" ;;
	store)   echo "base crypto" ;;
	state)   echo "base crypto store proto" ;;
	rules)   echo "base crypto store state proto" ;;
	core)    echo "base crypto store state rules proto" ;;
	compose) echo "base crypto store state rules core formats proto" ;;
	sync)    echo "base crypto store state rules core proto" ;;
	query)   echo "base crypto store state rules core sync formats proto" ;;
	io)      echo "base crypto store state rules core sync query formats proto" ;;
	cli)     echo "" ;;
	*)       echo "?" ;;
	esac
}
check=0
[ "${1:-}" = "--check" ] && check=1
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for f in $(find ledger cli -name '*.[ch]' | sort); do
	case "$f" in
	ledger/*) from=$(echo "$f" | cut -d/ -f2) ;;
	cli/*) from=cli ;;
	esac
	grep -hoE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]+"' "$f" | sed -E 's/.*"([^"]+)"/\1/' |
	while read -r inc; do
		case "$inc" in
		*/*) to=$(echo "$inc" | cut -d/ -f1) ;;
		*) to="$from" ;;            # a header beside the file (cli.h)
		esac
		printf '%s %s %s %s\n' "$from" "$to" "$f" "$inc"
	done
done > "$tmp"
echo "include graph (from -> to: #include lines):"
awk '$1 != $2 {print $1 " -> " $2}' "$tmp" | sort | uniq -c | awk '{printf "  %-8s -> %-8s %4d\n", $2, $4, $1}'
bad=0
while read -r from to file inc; do
	[ "$from" = "$to" ] && continue
	[ "$to" = keten ] && continue
	ok=0
	for a in $(allowed "$from"); do [ "$a" = "$to" ] && ok=1; done
	if [ "$ok" -eq 0 ]; then
		echo "layer: $file includes \"$inc\": $from may not include $to"
		bad=$((bad + 1))
	fi
done < "$tmp"
echo "layers: $bad includes break a layer rule"
[ "$check" -eq 0 ] || [ "$bad" -eq 0 ] || exit 1
exit 0
