#!/bin/sh
# t_limits.sh — the readers' limits and a full disk, through the program.
#   - camt.053: 32 MiB of <a/> refused with exit 65 naming the element
#     limit, its peak RSS (/usr/bin/time) far below the 1.1 GB a tree of
#     it took; 80,000 attributes on one element refused in under a second;
#     deep nesting refused naming the limit; libxml2 is called in one place,
#     never with XML_PARSE_HUGE.
#   - import: an 80 MB line refused by its number and the limit, peak RSS
#     far below the 292 MB of reading it whole.
#   - a full file system (a small tmpfs, as root): import, batch and one
#     append each exit 74 saying "no space left on device", batch says no
#     row was refused, and the home verifies with the entries it had.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARIFFS=$ROOT/examples/tarieven-voorbeeld-2026.csv
T=$(mktemp -d) || exit 70
MNT=$T/full
cleanup() { mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"; rm -rf "$T"; }
trap cleanup EXIT
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
n=0
failed=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
# timed DESC MAXKIB WANT_RC NEEDLE CMD...: exit WANT_RC, NEEDLE on stderr, peak RSS under MAXKIB
timed() {
	d=$1 max=$2 want=$3 needle=$4; shift 4
	/usr/bin/time -f '%M %e' -o "$T/time" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	read -r kib secs <<-EOF || kib=999999999
	$(tail -1 "$T/time")
	EOF
	echo "# $d: exit $rc, peak RSS $kib KiB, $secs s: $(head -c 200 "$T/err")"
	if [ "$rc" -eq "$want" ] && grep -q -- "$needle" "$T/err" && [ "$kib" -lt "$max" ]; then ok "$d"; else
		nok "$d (exit $rc, want $want and '$needle' under $max KiB)"; fi
}
sync() {
	src=$1; shift
	"$K" --home "$src" export -o "$T/x.ndjson" || return 1
	for dst in "$@"; do "$K" --home "$dst" import "$T/x.ndjson" >/dev/null || return 1; done
}

# --- XML readers ------------------------------------------------------------------
"$K" --home "$T/r" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase >/dev/null
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
h = '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
n = (32 * 1024 * 1024 - 200) // 4
open(t + '/a32.xml', 'w').write(h + '<a/>' * n + '</Document>')
open(t + '/attrs.xml', 'w').write(h + '<a' + ''.join(" a%d='1'" % i for i in range(80000)) + '/></Document>')
open(t + '/deep.xml', 'w').write(h + '<a>' * 1000 + '</a>' * 1000 + '</Document>')
PY
timed "camt.053: 32 MiB of <a/> refused at the element limit without a tree" 131072 65 \
	"more than the limit of 1000000 elements (element 1000001 is at line 1)" "$K" --home "$T/r" reconcile --bank "$T/a32.xml"
timed "camt.053: 80000 attributes on one element refused" 131072 65 \
	"an element with 80000 attributes at line 1, more than the limit of 16" "$K" --home "$T/r" reconcile --bank "$T/attrs.xml"
check "camt.053: ... in under a second" sh -c "tail -1 '$T/time' | awk '{ exit !(\$2 < 1.0) }'"
timed "camt.053: 1000 levels of nesting refused at level 25" 131072 65 \
	"elements nest 25 levels deep at line 1 of the camt.053 file, deeper than the limit of 24" \
	"$K" --home "$T/r" reconcile --bank "$T/deep.xml"
check "libxml2 is called in formats/xml.c alone" sh -c "! grep -rln 'xmlCtxtRead\|xmlReadMemory\|xmlParseMemory\|xmlReadFile' '$ROOT/ledger' | grep -v 'formats/xml.c'"
check "XML_PARSE_HUGE appears only in formats/xml.[ch], where it is asserted absent" sh -c \
	"! grep -rl XML_PARSE_HUGE '$ROOT/ledger' '$ROOT/cli' '$ROOT/include' | grep -v 'formats/xml\.[ch]\$'"

# --- import: a line over the limit --------------------------------------------------
"$K" --home "$T/r" export -o "$T/r.ndjson"
python3 -c "import sys; sys.stdout.write('\\n{\"header\":\"' + 'A' * (80 * 1000 * 1000) + '\"}\n')" >"$T/long.ndjson"
timed "import: an 80 MB line refused by its number and the limit" 65536 65 \
	"line 2: the line is longer than the limit of 4194304 bytes" "$K" --home "$T/r" import "$T/long.ndjson"

# --- a full file system ---------------------------------------------------------------
if [ "$(id -u)" -ne 0 ] || ! { mkdir -p "$MNT" && mount -t tmpfs -o size=2m tmpfs "$MNT"; } 2>/dev/null; then
	for what in import batch append; do ok "# SKIP disk full: $what (needs root to mount a small tmpfs)"; done
	[ "$failed" -eq 0 ]
	exit
fi
M="$K --home $MNT/m"
L="$K --home $MNT/l"
S="$K --home $MNT/s"
MK=$($M init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase) &&
LK=$($L init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase) &&
SK=$($S init --name "Hulp Onder VOF" --role subcontractor --agb 87654321 --no-passphrase) &&
for h in m l s; do "$K" --home "$MNT/$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null || exit 1; done &&
$M party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405 >/dev/null &&
$M party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 >/dev/null &&
$M party certify "$SK" --name "Hulp Onder VOF" --role subcontractor --agb 87654321 >/dev/null &&
$M contract add --ref RC-J --domain jeugd --municipality 0405 --from 2026-01-01 --until 2028-12-31 \
	--tariffs "$TARIFFS" >/dev/null &&
A1=$($M allocate --contract RC-J --client HRN-1 --provider "Zorg Hoofd BV" --profile J03 --intensity 4 \
	--kind herstel --from 2026-01-01 --until 2026-12-31) &&
sync "$MNT/m" "$MNT/l" "$MNT/s" &&
O1=$($L subcontract "$A1" --to "Hulp Onder VOF" --amount 3000 --from 2026-02-01) &&
sync "$MNT/l" "$MNT/s" "$MNT/m" && $S accept "$O1" >/dev/null && sync "$MNT/s" "$MNT/l" "$MNT/m" || {
	nok "setup on the tmpfs"; exit 1; }
{
	echo "type,subcontract,period,units,unit,note"
	i=0
	while [ $i -lt 3000 ]; do i=$((i + 1)); echo "delivery,$O1,2026-03,1,hour,sessie $i met een notitie die ruimte neemt"; done
} >"$T/rows.csv"
# the same rows from a copy of the subcontractor's home on the real disk: entries for the import
cp -r "$MNT/s" "$T/s2" && "$K" --home "$T/s2" batch "$T/rows.csv" >/dev/null && "$K" --home "$T/s2" export -o "$T/many.ndjson" ||
	{ nok "3000 deliveries on the real disk"; exit 1; }
verified() { "$K" --home "$1" verify 2>&1 | sed -n 's/^verified \([0-9]*\) entries.*0 bad.*/\1/p'; }
before_m=$(verified "$MNT/m")
before_s=$(verified "$MNT/s")
# leave 64 KiB free on the tmpfs
avail=$(df -k --output=avail "$MNT" | tail -1)
dd if=/dev/zero of="$MNT/filler" bs=1024 count=$((avail - 64)) 2>/dev/null
echo "# tmpfs: $(df -k --output=avail "$MNT" | tail -1) KiB free; m holds $before_m entries, s $before_s"

fullmsg() { # DESC RC: exit 74, "no space left on device", nothing about refused rows
	if [ "$2" -eq 74 ] && grep -q "no space left on device" "$T/err" && ! grep -qi "refused" "$T/err"; then ok "$1"; else
		nok "$1 (exit $2: $(head -c 300 "$T/err"))"; fi
	sed 's/^/# /' "$T/err"
}
# no room at all: one append of a contract with its tariff table
dd if=/dev/zero of="$MNT/filler2" bs=4096 2>/dev/null
$M contract add --ref RC-K --domain jeugd --municipality 0405 --from 2026-01-01 --until 2028-12-31 \
	--tariffs "$TARIFFS" >"$T/out" 2>"$T/err"
fullmsg "disk full: one append exits 74, no space left on device" $?
check "disk full: the append stored nothing; the home verifies with its $before_m entries" [ "$(verified "$MNT/m")" = "$before_m" ]
# 64 KiB free again: an import and a batch that need far more
rm -f "$MNT/filler2"
$M import "$T/many.ndjson" >"$T/out" 2>"$T/err"
fullmsg "disk full: import exits 74, no space left on device" $?
check "disk full: import stored nothing; the home verifies with its $before_m entries" [ "$(verified "$MNT/m")" = "$before_m" ]
$S batch "$T/rows.csv" >"$T/out" 2>"$T/err"
fullmsg "disk full: batch of 3000 rows exits 74, no space left on device, no row called refused" $?
check "disk full: batch says none of the 3000 rows was stored" grep -q "none of the 3000 rows was stored" "$T/err"
check "disk full: batch stored nothing; the home verifies with its $before_s entries" [ "$(verified "$MNT/s")" = "$before_s" ]
rm -f "$MNT/filler"
$M contract add --ref RC-K --domain jeugd --municipality 0405 --from 2026-01-01 --until 2028-12-31 \
	--tariffs "$TARIFFS" >/dev/null 2>"$T/err"
check "space again: the same append is taken" [ "$(verified "$MNT/m")" = "$((before_m + 1))" ]
[ "$failed" -eq 0 ]
