#!/bin/sh
# t_export_csv.sh — keten export --format csv: one municipality home that
# is its own trust anchor certifies two parties (three certificate
# entries); the CSV export has the fixed header row, one row per entry,
# CRLF line ends and 8 fields a row (read back with python3's csv
# module, with ',' and with --separator ';'), the same ids in the same
# order as the NDJSON export, an empty prev at seq 1, --type filtering,
# -o FILE, and usage errors (exit 64) for a bad separator or format.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
T=$(mktemp -d) || exit 70
trap 'rm -rf "$T"' EXIT
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
M=$T/municipality
n=0

ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
code() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
expect_rc() {
	want=$1; d=$2; shift 2
	code "$@"
	if [ "$rc" -eq "$want" ]; then ok "$d"; else nok "$d (exit $rc, want $want)"; sed 's/^/# /' "$T/err"; fi
}

# --- a home with a few entries ---------------------------------------------
code "$K" --home "$M" init --name "Gemeente Voorbeeld" --role municipality --no-passphrase
MK=$(cat "$T/out")
check "init prints a key" test "$rc" -eq 0 -a -n "$MK"
expect_rc 0 "trust add own key" "$K" --home "$M" trust add "$MK" --name "Gemeente Voorbeeld"
keys=""
for who in a b; do
	code "$K" --home "$T/$who" init --name "Gemeente $who" --role municipality --no-passphrase
	keys="$keys $(cat "$T/out")"
done
set -- $keys
expect_rc 0 "certify a first party" "$K" --home "$M" party certify "$1" --name "Gemeente A" --role municipality
expect_rc 0 "certify a second party" "$K" --home "$M" party certify "$2" --name "Gemeente B" --role municipality
expect_rc 0 "certify the first party again" \
	"$K" --home "$M" party certify "$1" --name "Gemeente A; Noord" --role municipality
entries=$("$K" --home "$M" log | wc -l | tr -d ' ')
check "the home holds three entries" test "$entries" -eq 3

# --- CSV with ',' -------------------------------------------------------------
expect_rc 0 "export --format csv exits 0" "$K" --home "$M" export --format csv
cp "$T/out" "$T/comma.csv"
check "the header row is exact, with CRLF" \
	test "$(head -n 1 "$T/comma.csv")" = "$(printf 'id,author,seq,prev,timestamp_ms,type,audience_count,body_present\r')"
check "one row per entry after the header" test "$(wc -l <"$T/comma.csv" | tr -d ' ')" -eq $((entries + 1))
check "every line ends in CRLF" python3 -c '
import sys
data = open(sys.argv[1], "rb").read()
assert data.endswith(b"\r\n") and data.count(b"\r\n") == data.count(b"\n"), data[:200]
' "$T/comma.csv"

expect_rc 0 "export --format ndjson still works" "$K" --home "$M" export
cp "$T/out" "$T/all.ndjson"
check "CSV rows match the NDJSON export field by field" python3 -c '
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
objs = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
assert rows[0] == ["id", "author", "seq", "prev", "timestamp_ms", "type", "audience_count", "body_present"], rows[0]
assert len(rows) - 1 == len(objs), (len(rows), len(objs))
for r, o in zip(rows[1:], objs):
    assert len(r) == 8, r
    assert r[0] == o["id"] and r[1] == o["author"], (r, o)
    assert int(r[2]) == o["seq"] and int(r[4]) == o["timestamp_ms"], (r, o)
    assert r[3] == (o["prev"] or ""), (r, o)
    assert r[5] == o["type"] == "certificate", (r, o)
    assert int(r[6]) == len(o.get("audience") or []), (r, o)
    assert r[7] == ("true" if o.get("body") else "false"), (r, o)
    if r[2] == "1":
        assert r[3] == "", r
' "$T/comma.csv" "$T/all.ndjson"

# --- CSV with ';' and --type, to a file ------------------------------------
expect_rc 0 "export --format csv --separator ';' -o FILE exits 0" \
	"$K" --home "$M" export --format csv --separator ';' --type certificate -o "$T/semi.csv"
check "nothing on stdout with -o" test ! -s "$T/out"
check "the ';' header row" \
	test "$(head -n 1 "$T/semi.csv")" = "$(printf 'id;author;seq;prev;timestamp_ms;type;audience_count;body_present\r')"
check "the ';' file holds the same rows as the ',' file" python3 -c '
import csv, sys
a = list(csv.reader(open(sys.argv[1], newline=""), delimiter=","))
b = list(csv.reader(open(sys.argv[2], newline=""), delimiter=";"))
assert a == b, (a, b)
' "$T/comma.csv" "$T/semi.csv"
expect_rc 0 "export --format csv --type payment exits 0" "$K" --home "$M" export --format csv --type payment
check "--type with no such entries gives the header row alone" test "$(wc -l <"$T/out" | tr -d ' ')" -eq 1

# --- usage errors --------------------------------------------------------------
expect_rc 64 "a separator other than ',' or ';' exits 64" "$K" --home "$M" export --format csv --separator '|'
expect_rc 64 "--separator without --format csv exits 64" "$K" --home "$M" export --separator ';'
expect_rc 64 "an unknown format exits 64" "$K" --home "$M" export --format xlsx
expect_rc 64 "an unknown --type exits 64" "$K" --home "$M" export --format csv --type nothing
code "$K" export --help
check "export --help names the csv format and the separator" \
	sh -c 'grep -q -- "--format ndjson|csv" "$1" && grep -q -- "--separator" "$1"' sh "$T/out"
