#!/bin/sh
# t_core.sh — the ledger core through the keten binary: three homes (a
# municipality that is its own trust anchor, a lead provider with a
# passphrase, a subcontractor without one); init, whoami, passphrases,
# trust, certificates, party list, log, show by prefix, verify, NDJSON
# export (ids recomputed with BLAKE2b in python3), import and re-import,
# a tampered import refused whole, rules refusing a non-anchor, exit codes
# and --help; finally one entry's bytes changed inside LMDB (mdb_dump /
# mdb_load in hex mode) and verify naming it.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
T=$(mktemp -d) || exit 70
trap 'rm -rf "$T"' EXIT
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
M=$T/municipality
L=$T/lead
S=$T/sub
n=0
failed=0

ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# check DESC COMMAND...: ok when the command succeeds
check() { d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
# code CMD...: run, stdout in $T/out, stderr in $T/err, exit code in $rc
code() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# expect_rc WANT DESC CMD...
expect_rc() {
	want=$1; d=$2; shift 2
	code "$@"
	if [ "$rc" -eq "$want" ]; then ok "$d"; else nok "$d (exit $rc, want $want)"; sed 's/^/# /' "$T/err"; fi
}
is_hex64() { printf '%s\n' "$1" | grep -Eq '^[0-9a-f]{64}$'; }
lines() { wc -l <"$1" | tr -d ' '; }
logcount() { "$K" --home "$1" log | wc -l | tr -d ' '; }

# --- init and whoami ---------------------------------------------------------
code "$K" --home "$M" init --name "Gemeente Zaanstad" --role municipality --municipality 0479 --no-passphrase
MK=$(cat "$T/out")
check "init of the municipality exits 0 and prints a 64-hex key" \
	test "$rc" -eq 0 -a "$(lines "$T/out")" -eq 1
check "the municipality key is 64 hex digits" is_hex64 "$MK"
code env KETEN_PASSPHRASE=lead-geheim "$K" --home "$L" init --name "Zorg BV" --role lead-provider
LK=$(cat "$T/out")
check "init of the lead provider with KETEN_PASSPHRASE prints a 64-hex key" \
	test "$rc" -eq 0 -a "$(lines "$T/out")" -eq 1
check "lead provider key is hex" is_hex64 "$LK"
code "$K" --home "$S" init --name "Hulp VOF" --role subcontractor --no-passphrase
SK=$(cat "$T/out")
check "init of the subcontractor with --no-passphrase prints a 64-hex key" is_hex64 "$SK"
check "three different keys" test "$MK" != "$LK" -a "$LK" != "$SK" -a "$MK" != "$SK"
check "the home holds a key file and an LMDB ledger" test -f "$L/key" -a -f "$L/ledger/data.mdb"

code "$K" --home "$M" --json whoami
check "whoami --json has name, role and key" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["name"] == "Gemeente Zaanstad", j
assert j["role"] == "municipality", j
assert j["key"] == sys.argv[2], j
assert j["protected"] is False, j
' "$T/out" "$MK"
code "$K" --home "$L" whoami --json
check "whoami --json (after the command) of the protected home" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert (j["name"], j["role"], j["key"], j["protected"]) == ("Zorg BV", "lead-provider", sys.argv[2], True), j
' "$T/out" "$LK"
code "$K" --home "$S" whoami
check "whoami in text names the key and says it is unprotected" \
	grep -q "key:  $SK" "$T/out"
check "... and that it has no passphrase" grep -q "no-passphrase" "$T/out"

expect_rc 73 "init into an existing home exits 73" \
	"$K" --home "$S" init --name "Ander" --role subcontractor --no-passphrase
check "... and leaves the key as it was" test "$("$K" --home "$S" --json whoami | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')" = "$SK"
expect_rc 66 "a command in a directory without a home exits 66" "$K" --home "$T/nohome" log
expect_rc 64 "init with an unknown role exits 64" \
	"$K" --home "$T/x" init --name X --role king --no-passphrase
check "... and creates nothing" test ! -e "$T/x/key"

# --- trust and certificates ---------------------------------------------------
expect_rc 0 "municipality: trust add own key" "$K" --home "$M" trust add "$MK" --name "Gemeente Zaanstad"
expect_rc 64 "trust add with a key that is not 64 hex exits 64" "$K" --home "$M" trust add abcd --name X
ids=""
for who in "$MK:Gemeente Zaanstad:municipality" "$LK:Zorg BV:lead-provider" "$SK:Hulp VOF:subcontractor"; do
	key=${who%%:*}; rest=${who#*:}; name=${rest%%:*}; role=${rest#*:}
	code "$K" --home "$M" party certify "$key" --name "$name" --role "$role"
	id=$(cat "$T/out")
	if [ "$rc" -eq 0 ] && is_hex64 "$id"; then ok "certify $name prints the entry id"; else nok "certify $name (exit $rc)"; fi
	ids="$ids $id"
done
set -- $ids
ID1=$1 ID2=$2 ID3=$3

code "$K" --home "$M" party list
check "party list shows 3 parties" test "$(lines "$T/out")" -eq 3
check "party list names each, the anchor marked" sh -c \
	'grep -q "Zorg BV" "$1" && grep -q "Hulp VOF" "$1" && grep "Gemeente Zaanstad" "$1" | grep -q "trust anchor"' _ "$T/out"
code "$K" --home "$M" --json party list
check "party list --json: roles by name" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
roles = {p["name"]: p["roles"] for p in j}
assert roles == {"Gemeente Zaanstad": "municipality", "Zorg BV": "lead-provider", "Hulp VOF": "subcontractor"}, roles
assert all(p["status"] == "valid" for p in j), j
' "$T/out"

code "$K" --home "$M" log
check "log shows the 3 entries" test "$rc" -eq 0 -a "$(lines "$T/out")" -eq 3
check "log lists them as applied certificates with the signer" \
	test "$(grep -c 'certificate  *Gemeente Zaanstad  *applied' "$T/out")" -eq 3
for id in $ID1 $ID2 $ID3; do
	p16=$(printf %.16s "$id")
	check "log shows id prefix $p16" grep -q "^$p16" "$T/out"
done
code "$K" --home "$M" log --limit 2
check "log --limit 2 shows 2" test "$(lines "$T/out")" -eq 2
check "log is newest first" sh -c 'head -1 "$1" | grep -q "^$(printf %.16s "$2")"' _ "$T/out" "$ID3"

# --- show ----------------------------------------------------------------------
P8=$(printf %.8s "$ID2")
code "$K" --home "$M" --json show "$P8"
check "show by an 8-hex prefix finds the entry" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["id"] == sys.argv[2] and j["seq"] == 2 and j["prev"] == sys.argv[3], j
assert j["fields"]["name"] == "Zorg BV" and j["status"] == "applied", j
' "$T/out" "$ID2" "$ID1"
code "$K" --home "$M" show "$(printf %s "$P8" | tr a-f A-F)"
check "show accepts upper-case hex" grep -q "\"id\": \"$ID2\"" "$T/out"
code "$K" --home "$M" show --raw "$ID2"
RAW=$(cat "$T/out")
check "show --raw prints the stored bytes as hex" sh -c 'printf %s "$1" | grep -Eq "^0a[0-9a-f]+$"' _ "$RAW"
unknown=00000000
for id in $ID1 $ID2 $ID3; do case $id in 00000000*) unknown=ffffffff ;; esac; done
expect_rc 66 "show of an unknown prefix exits 66" "$K" --home "$M" show "$unknown"
expect_rc 64 "show of a 7-digit prefix exits 64" "$K" --home "$M" show "$(printf %.7s "$ID1")"
expect_rc 64 "show of a non-hex id exits 64" "$K" --home "$M" show "zzzzzzzz"

# --- verify and export -------------------------------------------------------------
code "$K" --home "$M" verify
check "verify exits 0" test "$rc" -eq 0
check "verify counts 3 entries, 0 bad" grep -q "verified 3 entries in 1 feeds: 0 bad, 0 fork proofs" "$T/out"

code "$K" --home "$M" export --format ndjson -o "$T/m.ndjson"
check "export --format ndjson -o FILE exits 0" test "$rc" -eq 0
"$K" --home "$M" export >"$T/m2.ndjson"
check "export to stdout gives the same lines" cmp -s "$T/m.ndjson" "$T/m2.ndjson"
check "export lines have every field, and ids are BLAKE2b(header||signature)" python3 -c '
import base64, hashlib, json, sys
need = ["id", "author", "prev", "seq", "timestamp_ms", "type", "version", "audience", "header", "signature", "body",
        "salt", "fields"]
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 3, len(lines)
prev = None
for i, line in enumerate(lines):
    o = json.loads(line)
    assert set(need) <= set(o), sorted(o)
    assert o["seq"] == i + 1 and o["prev"] == prev, o
    assert o["author"] == sys.argv[2] and o["type"] == "certificate" and o["audience"] == []
    h = base64.b64decode(o["header"], validate=True)
    s = base64.b64decode(o["signature"], validate=True)
    b = base64.b64decode(o["body"], validate=True)
    assert len(s) == 64
    assert hashlib.blake2b(h + s, digest_size=32).hexdigest() == o["id"], "id"
    salt = base64.b64decode(o["salt"], validate=True)
    assert o["version"] == 2 and len(salt) == 16, "format version 2, a 16-byte salt"
    assert hashlib.blake2b(b, digest_size=32, key=salt).digest() in h, "body hash (keyed by the salt) in header"
    assert hashlib.blake2b(b, digest_size=32).digest() not in h, "not the unsalted hash"
    assert o["id"] == sys.argv[3 + i]
    assert isinstance(o["timestamp_ms"], int) and o["timestamp_ms"] > 1700000000000
    prev = o["id"]
' "$T/m.ndjson" "$MK" "$ID1" "$ID2" "$ID3"
check "show --raw equals the exported header, signature, body and salt, framed" python3 -c '
import base64, json, sys
o = json.loads(open(sys.argv[1]).read().splitlines()[1])
def field(tag, b):
    n, out = len(b), bytearray([tag])
    while True:
        if n < 0x80:
            out.append(n); break
        out.append(n & 0x7f | 0x80); n >>= 7
    return bytes(out) + b
raw = field(0x0a, base64.b64decode(o["header"])) + field(0x12, base64.b64decode(o["signature"])) \
    + field(0x1a, base64.b64decode(o["body"])) + field(0x22, base64.b64decode(o["salt"]))
assert raw.hex() == sys.argv[2], (raw.hex(), sys.argv[2])
' "$T/m.ndjson" "$RAW"
expect_rc 64 "export in an unknown format exits 64" "$K" --home "$M" export --format xml

# --- the lead provider: passphrase, rules, import ------------------------------------
expect_rc 77 "a wrong passphrase exits 77" \
	env KETEN_PASSPHRASE=wrong "$K" --home "$L" party certify "$SK" --name X --role subcontractor
expect_rc 65 "an uncertified lead provider is refused: 65" \
	env KETEN_PASSPHRASE=lead-geheim "$K" --home "$L" party certify "$SK" --name X --role subcontractor
check "... by rule author-not-certified" grep -q "author-not-certified" "$T/err"
check "... and nothing is stored" test "$(logcount "$L")" -eq 0
expect_rc 0 "lead provider: trust add the municipality" "$K" --home "$L" trust add "$MK" --name Gemeente
expect_rc 0 "lead provider: import succeeds" "$K" --home "$L" import "$T/m.ndjson"
check "... 3 new" grep -q "imported 3 entries: 3 new, 0 already held, 3 applied" "$T/out"
check "... and log shows 3" test "$(logcount "$L")" -eq 3
expect_rc 0 "second import succeeds" "$K" --home "$L" import "$T/m.ndjson"
check "... and says 0 new" grep -q "imported 3 entries: 0 new, 3 already held" "$T/out"
check "... log still 3" test "$(logcount "$L")" -eq 3
code "$K" --home "$L" verify
check "verify of the lead provider's copy exits 0" test "$rc" -eq 0
expect_rc 65 "a certified non-anchor certifying is refused: 65" \
	env KETEN_PASSPHRASE=lead-geheim "$K" --home "$L" party certify "$SK" --name X --role subcontractor
check "... with rule certifier-not-anchor on stderr" grep -q "certifier-not-anchor" "$T/err"
check "... and nothing is stored" test "$(logcount "$L")" -eq 3

# --- the subcontractor: a tampered import is refused whole ---------------------------
expect_rc 0 "subcontractor: trust add the municipality" "$K" --home "$S" trust add "$MK" --name Gemeente
python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
o = json.loads(lines[-1])
s = o["signature"]
i = 20                                     # one base64 character in the middle
o["signature"] = s[:i] + ("B" if s[i] != "B" else "C") + s[i + 1:]
lines[-1] = json.dumps(o, separators=(",", ":"))
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
' "$T/m.ndjson" "$T/bad.ndjson"
check "the tampered file differs in one character" \
	test "$(cmp -l "$T/m.ndjson" "$T/bad.ndjson" | wc -l | tr -d ' ')" -eq 1
expect_rc 65 "import of a file with a flipped signature character exits 65" "$K" --home "$S" import "$T/bad.ndjson"
check "... saying the signature is bad" grep -q "signature" "$T/err"
check "... and stores nothing (log count unchanged: 0)" test "$(logcount "$S")" -eq 0
printf '{"header": 1}\n' >"$T/junk.ndjson"
expect_rc 65 "import of a line without base64 fields exits 65" "$K" --home "$S" import "$T/junk.ndjson"
expect_rc 66 "import of a missing file exits 66" "$K" --home "$S" import "$T/none.ndjson"
expect_rc 0 "the genuine file then imports" "$K" --home "$S" import - <"$T/m.ndjson"
check "... 3 new" test "$(logcount "$S")" -eq 3

# --- usage and help -------------------------------------------------------------------
expect_rc 64 "an unknown command exits 64" "$K" --home "$M" frobnicate
check "... and says so" grep -q "not a keten command" "$T/err"
expect_rc 64 "no command at all exits 64" "$K" --home "$M"
expect_rc 0 "keten --help exits 0" "$K" --help
for cmd in init whoami trust party log show verify export import; do
	code "$K" --home "$M" "$cmd" --help
	if [ "$rc" -eq 0 ] && grep -q "^usage: keten $cmd" "$T/out"; then ok "$cmd --help exits 0 with usage"
	else nok "$cmd --help (exit $rc)"; fi
done

# --- LMDB by hand: an ambiguous prefix, then a tampered entry --------------------------
# A copy of the municipality's home gets one more key in its id index (the
# status table) sharing ID1's first 8 hex digits: the prefix is then ambiguous.
if command -v mdb_dump >/dev/null && command -v mdb_load >/dev/null; then
	cp -r "$M" "$T/copy"
	{
		mdb_dump -s status "$T/copy/ledger" | sed '/^HEADER=END$/q' | grep -v '^db_pagesize='
		printf ' %.8s%s\n 00\nDATA=END\n' "$ID1" "00000000000000000000000000000000000000000000000000000000"
	} >"$T/inject.txt"
	if mdb_load -s status -f "$T/inject.txt" "$T/copy/ledger"; then ok "a key was added with mdb_load"
	else nok "mdb_load of one extra key"; fi
	expect_rc 64 "show of a prefix two ids share exits 64" "$K" --home "$T/copy" show "$(printf %.8s "$ID1")"
	check "... calling it ambiguous" grep -q "ambiguous" "$T/err"
	expect_rc 0 "a longer prefix is unique again" "$K" --home "$T/copy" show "$(printf %.20s "$ID1")"

	# Tamper: one hex digit of ID2's log record (the municipality's seq 2:
	# its id, then its Entry bytes) changed, the rest reloaded as is.
	mdb_dump -s log "$M/ledger" | grep -v '^db_pagesize=' >"$T/dump.txt"
	awk -v id="${MK}0000000000000002" '
		hit == 1 { c = substr($0, 201, 1); $0 = substr($0, 1, 200) (c == "0" ? "1" : "0") substr($0, 202); hit = 2 }
		$0 == " " id { hit = 1 }
		{ print }' "$T/dump.txt" >"$T/tampered.txt"
	check "the dump differs in one line" test "$(diff "$T/dump.txt" "$T/tampered.txt" | grep -c '^>')" -eq 1
	if mdb_load -s log -f "$T/tampered.txt" "$M/ledger"; then ok "the tampered value was loaded"
	else nok "mdb_load of the tampered dump"; fi
	code "$K" --home "$M" verify
	check "verify exits 1 after the tampering" test "$rc" -eq 1
	check "... naming the tampered entry's id" grep -q "^bad: $ID2 " "$T/out"
	check "... and not the first entry" sh -c '! grep -q "$1" "$2"' _ "$ID1" "$T/out"
	code "$K" --home "$M" --json verify
	check "verify --json lists the id as bad" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert sys.argv[2] in [b["id"] for b in j["bad"]], j
assert j["entries"] == 3, j
' "$T/out" "$ID2"
else
	nok "mdb_dump and mdb_load (lmdb-utils) are needed for the LMDB tests"
fi

[ "$failed" -eq 0 ]
