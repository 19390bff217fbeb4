#!/bin/sh
# t_relay.sh — the sync protocol against a relay, over real tcp:// on
# loopback.  A municipality certifies a lead provider and two
# subcontractors; the lead provider offers subcontractor one a
# subcontract whose scope only the two of them may read, and serves its
# ledger.  tests/cli/relay.py sits between subcontractor one (the victim)
# and the lead provider's node and records every byte it forwards:
#
#   1. on the path of a connection to the right node: the victim's sync
#      succeeds and the bodies arrive (they are in its ledger file), but
#      the capture holds none of their bytes in clear;
#   2. a relay the victim believes is the other subcontractor (its key
#      pinned with `peer add --key`): the lead provider refuses the
#      forwarded Hello as meant for another key; the relay gets that
#      error and nothing else, the victim exits 77;
#   3. a relay that forwards the victim's handshake and then speaks on the
#      victim's session itself (the attack of a relayed login): a plain
#      Fetch, a sealed frame it altered and a replayed one get errors,
#      every other reply is sealed, no Entries reply ever passes in clear.
#
# Replies are decoded with protoc; nodes and relays are killed in an EXIT
# trap; every command runs under timeout.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROTO=$ROOT/proto
RELAY=$ROOT/tests/cli/relay.py
TARIFFS=$ROOT/examples/tarieven-voorbeeld-2026.csv
T=$(mktemp -d) || exit 70
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	if [ -n "${KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
M=$T/municipality
L=$T/lead
S1=$T/sub1
S2=$T/sub2
n=0
failed=0

ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else nok "$d"; fi; }
run() { h=$1; shift; timeout 30 "$K" --home "$h" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
ports() {
	python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
wait_listen() {
	i=0
	while [ "$i" -lt 50 ]; do
		python3 -c "import socket,sys;s=socket.socket();s.settimeout(0.2);sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# relay NAME LISTEN TARGET [ARGS...]: start relay.py, wait until it listens
relay() {
	name=$1; lp=$2; tp=$3; shift 3
	python3 "$RELAY" "$lp" "$tp" "$T/$name" "$@" >"$T/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	i=0; while [ $i -lt 50 ] && [ ! -f "$T/$name/ready" ]; do sleep 0.1; i=$((i + 1)); done
}
# holds FILE: does the file hold any of the bodies' words in clear?
BODY_WORDS="gezinsbegeleiding|huiswerkbegeleiding|Hulp Een VOF|Zorg Hoofd BV|87654321|12345678|RGW-J-2026"
holds() { grep -aEq "$BODY_WORDS" "$1"; }
# reply FILE: a recorded reply as protoc reads it
reply() { protoc --decode=keten.sync.Reply -I"$PROTO" "$PROTO/sync.proto" <"$1" 2>&1; }

# --- four homes, certificates, a subcontract ------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S1" init --name "Hulp Een VOF" --role subcontractor --agb 87654321 --no-passphrase; S1K=$(cat "$T/out")
run "$S2" init --name "Hulp Twee BV" --role subcontractor --agb 11223344 --no-passphrase; S2K=$(cat "$T/out")
for h in "$M" "$L" "$S1" "$S2"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
"$K" --home "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405 >/dev/null
"$K" --home "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --municipality 0405 >/dev/null
"$K" --home "$M" party certify "$S1K" --name "Hulp Een VOF" --role subcontractor --agb 87654321 --municipality 0405 >/dev/null
"$K" --home "$M" party certify "$S2K" --name "Hulp Twee BV" --role subcontractor --agb 11223344 --municipality 0405 >/dev/null
"$K" --home "$M" contract add --ref RGW-J-2026 --domain jeugd --municipality 0405 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --subcontract max >/dev/null
A1=$("$K" --home "$M" allocate --contract RGW-J-2026 --client HRN-2026-0001 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30)
set -- $(ports 5)
PM=$1; PL=$2; PR1=$3; PR2=$4; PR3=$5
UM=tcp://127.0.0.1:$PM; UL=tcp://127.0.0.1:$PL
timeout 120 "$K" --home "$M" node --listen "$UM" 2>"$T/m.log" &
PIDS="$PIDS $!"
wait_listen "$PM"
run "$L" sync "$UM"
check "the lead provider syncs the certificates, contract and allocation" test "$rc" -eq 0
O1=$(timeout 30 "$K" --home "$L" subcontract "$A1" --to "Hulp Een VOF" --amount 4800 --from 2026-12-01 \
	--scope "gezinsbegeleiding thuis")
check "the lead provider subcontracts to subcontractor one" test -n "$O1"
timeout 120 "$K" --home "$L" node --listen "$UL" 2>"$T/l.log" &
PIDS="$PIDS $!"
wait_listen "$PL"

# --- 1. on the path: every byte forwarded and recorded ---------------------------------
relay path "$PR1" "$PL"
run "$S1" sync "tcp://127.0.0.1:$PR1"
if [ "$rc" -eq 0 ] && grep -q "entries" "$T/out"; then ok "through the relay: the victim's sync succeeds ($(cat "$T/out"))"; else
	nok "sync through the relay (exit $rc)"; sed 's/^/# /' "$T/err"; fi
run "$S1" --json show "$O1"
check "the victim holds the offer with its body" jq -e '.body != null and .fields != null' "$T/out"
check "the bodies' words are in the victim's ledger file" holds "$S1/ledger/data.mdb"
size=$(wc -c <"$T/path/capture.bin")
check "the relay recorded the whole sync ($size bytes)" test "$size" -gt 3000
if holds "$T/path/capture.bin"; then nok "the capture holds a body's bytes in clear"; else
	ok "the capture of the tcp:// sync holds no body byte in clear (scope, names, AGB codes, contract ref)"; fi
"$K" --home "$S1" export | jq -r --arg id "$O1" 'select(.id == $id) | .body' | base64 -d >"$T/body.bin"
check "... nor the offer's signed body as bytes ($(wc -c <"$T/body.bin") bytes, as exported)" \
	python3 -c 'import sys; b = open(sys.argv[2], "rb").read(); sys.exit(0 if len(b) > 16 and b not in open(sys.argv[1], "rb").read() else 1)' \
	"$T/path/capture.bin" "$T/body.bin"
replies=$(for f in "$T"/path/s2c.*.bin; do reply "$f" | head -1; done | sort | uniq -c | tr -s ' ' | tr '\n' ';')
check "after the challenge every reply on the wire is sealed ($replies)" \
	sh -c "for f in \"$T\"/path/s2c.*.bin; do protoc --decode=keten.sync.Reply -I\"$PROTO\" \"$PROTO/sync.proto\" <\"\$f\" | head -1; done | sort -u | tr '\n' ' ' | grep -qx 'challenge { sealed { '"

# --- 2. a relay the victim takes for another party ---------------------------------------
relay pinned "$PR2" "$PL"
run "$S1" peer add "tcp://127.0.0.1:$PR2" --key "Hulp Twee BV"
run "$S1" sync "tcp://127.0.0.1:$PR2" --timeout 5
if [ "$rc" -eq 77 ] && grep -q "does not hold the key expected" "$T/err"; then
	ok "a relay posing as subcontractor two: the victim's sync is refused (exit 77)"; else
	nok "relay posing as another party (exit $rc)"; sed 's/^/# /' "$T/err"; fi
check "the lead provider refused the forwarded hello as meant for another key" \
	sh -c "protoc --decode=keten.sync.Reply -I'$PROTO' '$PROTO/sync.proto' <'$T/pinned/s2c.1.bin' | grep -q 'code: WRONG_SERVER'"
check "... and the relay got nothing else: one reply, no challenge" \
	sh -c "[ ! -f '$T/pinned/s2c.2.bin' ] && ! grep -aq challenge '$T/pinned/s2c.1.bin'"
if holds "$T/pinned/capture.bin"; then nok "the pinned relay's capture holds a body"; else ok "the pinned relay's capture holds no body"; fi

# --- 3. a relay that speaks on the victim's session -------------------------------------
O2=$(timeout 30 "$K" --home "$L" subcontract "$A1" --to "Hulp Een VOF" --amount 1200 --from 2026-12-01 \
	--scope "huiswerkbegeleiding op woensdag")
check "the lead provider makes a second offer to subcontractor one" test -n "$O2"
relay hijack "$PR3" "$PL" --hijack "$LK" --once
run "$S1" sync "tcp://127.0.0.1:$PR3" --timeout 3
check "the hijacked sync fails for the victim (exit $rc)" test "$rc" -ne 0
check "... and the victim does not hold the second offer" sh -c "! timeout 10 '$K' --home '$S1' show '$O2' >/dev/null 2>&1"
for i in 1 2 3 4; do reply "$T/hijack/own.$i.bin" >"$T/own.$i.txt"; done
check "the relay's own plain Fetch on the victim's session: error UNAUTHENTICATED" grep -q 'code: UNAUTHENTICATED' "$T/own.1.txt"
check "the victim's sealed request altered by the relay: error BAD_SIGNATURE (does not open)" \
	grep -q 'code: BAD_SIGNATURE' "$T/own.2.txt"
check "the victim's request passed on as it was: answered, sealed (the relay cannot read it)" grep -q '^sealed {' "$T/own.3.txt"
check "the victim's earlier sealed request replayed: error MALFORMED (out of order)" \
	sh -c "grep -q 'code: MALFORMED' '$T/own.4.txt' && grep -q 'out of order' '$T/own.4.txt'"
check "no Entries reply passed the relay in clear" \
	sh -c "for f in \"$T\"/hijack/s2c.*.bin \"$T\"/hijack/own.*.bin; do protoc --decode=keten.sync.Reply -I\"$PROTO\" \"$PROTO/sync.proto\" <\"\$f\"; done | grep -q '^entries' && exit 1 || exit 0"
if holds "$T/hijack/capture.bin"; then nok "the hijacking relay's capture holds a body"; else ok "the hijacking relay's capture holds no body"; fi
check "the lead provider's node logged the relay's bad requests" grep -q "does not open\|out of order" "$T/l.log"

echo "# $n tests, $failed failed"
[ "$failed" -eq 0 ]
