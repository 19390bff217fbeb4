#!/bin/sh
# t_audience.sh — who beyond an entry's audience reads it is decided by the
# entry's own municipality, over real nodes on tcp://127.0.0.1 (free
# ports).  Two municipalities, Hoorn (0405) and Drechterland (0498), each
# with its framework contract, allocate care to one lead provider that
# works in both; the lead provider subcontracts both to one subcontractor
# (also in both), which delivers and claims on each.  An auditor certified
# for 0498 syncs from the lead provider's node: it receives the bodies of
# the 0498 allocation, offer, delivery and claim, and only the signed
# stubs of the 0405 ones (no 0405 client reference or scope in its ledger
# file), though every party in their audience also works in 0498.  A
# dispute over the 0405 delivery is addressed to Hoorn and not to
# Drechterland; one over the 0498 delivery the other way round.  Nodes are
# killed in an EXIT trap; every command runs under timeout.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
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
M=$T/hoorn
D=$T/drechterland
L=$T/lead
S=$T/sub
X=$T/auditor
n=0
failed=0

ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else nok "$d"; fi; }
run() { h=$1; shift; timeout 30 "$K" --home "$h" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# id HOME ARGS...: an entry made by a command, its id (empty on failure)
id() { run "$@"; if [ "$rc" -eq 0 ]; then cat "$T/out"; else sed 's/^/# /' "$T/err" >&2; fi; }
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
node() { h=$1; p=$2; timeout 120 "$K" --home "$h" node --listen "tcp://127.0.0.1:$p" --interval 3600 2>"$h.log" &
	PIDS="$PIDS $!"; wait_listen "$p"; }
sync() { run "$1" sync "tcp://127.0.0.1:$2"; [ "$rc" -eq 0 ] || { echo "# sync $1 from $2: exit $rc"; sed 's/^/# /' "$T/err"; }; }

# --- homes and certificates ---------------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$D" init --name "Gemeente Drechterland" --role municipality --municipality 0498 --no-passphrase; DK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S" init --name "Hulp Onder VOF" --role subcontractor --agb 87654321 --no-passphrase; SK=$(cat "$T/out")
run "$X" init --name "Accountant Drechterland" --role auditor --municipality 0498 --no-passphrase; XK=$(cat "$T/out")
for h in "$M" "$D" "$L" "$S" "$X"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
"$K" --home "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405 >/dev/null
"$K" --home "$M" party certify "$DK" --name "Gemeente Drechterland" --role municipality --municipality 0498 >/dev/null
"$K" --home "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 \
	--municipality 0405,0498 >/dev/null
"$K" --home "$M" party certify "$SK" --name "Hulp Onder VOF" --role subcontractor --agb 87654321 \
	--municipality 0405,0498 >/dev/null
"$K" --home "$M" party certify "$XK" --name "Accountant Drechterland" --role auditor --municipality 0498 >/dev/null
"$K" --home "$M" contract add --ref HRN-J-2026 --domain jeugd --municipality 0405 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --subcontract max >/dev/null
set -- $(ports 4)
PM=$1; PD=$2; PL=$3; PS=$4
node "$M" "$PM"
for h in "$D" "$L" "$S" "$X"; do sync "$h" "$PM"; done
"$K" --home "$D" contract add --ref DRL-J-2026 --domain jeugd --municipality 0498 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --subcontract max >/dev/null
node "$D" "$PD"

# --- one lead provider, two municipalities ----------------------------------------------
A5=$(id "$M" allocate --contract HRN-J-2026 --client HRN-2026-0405 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30)
A8=$(id "$D" allocate --contract DRL-J-2026 --client DRL-2026-0498 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30)
sync "$L" "$PM"
sync "$L" "$PD"
O5=$(id "$L" subcontract "$A5" --to "Hulp Onder VOF" --amount 4800 --from 2026-12-01 --scope "begeleiding Hoorn-oost")
O8=$(id "$L" subcontract "$A8" --to "Hulp Onder VOF" --amount 4800 --from 2026-12-01 --scope "begeleiding Hoogkarspel")
node "$L" "$PL"
sync "$S" "$PL"
run "$S" accept "$O5"
run "$S" accept "$O8"
D5=$(id "$S" deliver "$O5" --period 2026-12 --units 12 --unit hour --note "Hoorn-oost gesprek")
D8=$(id "$S" deliver "$O8" --period 2026-12 --units 12 --unit hour --note "Hoogkarspel gesprek")
K5=$(id "$S" claim "$O5" --installment 2026-12 --amount 2400 --deliveries "$D5")
K8=$(id "$S" claim "$O8" --installment 2026-12 --amount 2400 --deliveries "$D8")
node "$S" "$PS"
sync "$L" "$PS"
if [ -n "$A5" ] && [ -n "$A8" ] && [ -n "$O5" ] && [ -n "$O8" ] && [ -n "$D5" ] && [ -n "$D8" ] && [ -n "$K5" ] &&
	[ -n "$K8" ]; then ok "allocation, offer, delivery and claim in 0405 and in 0498, all at the lead provider"; else
	nok "the entries were not all made"; fi
run "$L" --json show "$A5"
check "the 0405 allocation is for 14.366,00 (client HRN-2026-0405)" \
	jq -e '.fields.amount_cents == 1436600 and .fields.client_ref == "HRN-2026-0405"' "$T/out"

# --- the auditor of 0498 syncs from the lead provider ----------------------------------
sync "$X" "$PL"
if [ "$rc" -eq 0 ]; then ok "the auditor of 0498 syncs from the lead provider ($(cat "$T/out"))"; else
	nok "auditor sync (exit $rc)"; fi
body() { run "$X" --json show "$1" && jq -e '.body != null and .fields != null' "$T/out"; }
stub() { run "$X" --json show "$1" && jq -e '.body == null and .fields == null' "$T/out"; }
for w in "allocation A8" "offer O8" "delivery D8" "claim K8"; do
	v=${w#* }; eval "i=\$$v"
	check "the auditor of 0498 holds the 0498 ${w% *} in full" body "$i"
done
for w in "allocation A5" "offer O5" "delivery D5" "claim K5"; do
	v=${w#* }; eval "i=\$$v"
	check "the auditor of 0498 holds the 0405 ${w% *} as a stub only" stub "$i"
done
check "its ledger file holds the 0498 client reference and scope" \
	sh -c "grep -aq DRL-2026-0498 '$X/ledger/data.mdb' && grep -aq Hoogkarspel '$X/ledger/data.mdb'"
if grep -aqE "HRN-2026-0405|Hoorn-oost" "$X/ledger/data.mdb"; then
	nok "the auditor's ledger file holds the 0405 client reference or scope"; else
	ok "... and neither the 0405 client reference nor its scope"; fi

# --- disputes go to the municipality of what they are about ---------------------------
to() { run "$S" --json show "$1" && jq -e --arg y "$2" --arg n "$3" \
	'(.audience | index($y)) != null and (.audience | index($n)) == null' "$T/out"; }
P5=$(id "$S" dispute open "$D5" --reason "uren december Hoorn-oost")
check "a dispute over the 0405 delivery is addressed to Hoorn, not Drechterland" to "$P5" "$MK" "$DK"
P8=$(id "$S" dispute open "$D8" --reason "uren december Hoogkarspel")
check "a dispute over the 0498 delivery is addressed to Drechterland, not Hoorn" to "$P8" "$DK" "$MK"
sync "$L" "$PS"
run "$L" --json show "$P5"
check "... the same at the lead provider after sync" jq -e --arg n "$DK" '(.audience | index($n)) == null' "$T/out"

# --- one payment over claims of both municipalities: its receipt goes to both ------------
printf 'type,claim,amount,date,reference\npayment,%s %s,4800,2026-12-20,E2E-DEC-BOTH\n' "$K5" "$K8" >"$T/pay.csv"
run "$L" --json batch "$T/pay.csv"
PB=$(jq -r '.[0].id // empty' "$T/out" 2>/dev/null)
run "$L" --json show "$PB"
check "the lead provider pays both claims in one payment (batch), addressed to both municipalities" \
	jq -e --arg a "$MK" --arg b "$DK" '(.audience | index($a)) != null and (.audience | index($b)) != null' "$T/out"
sync "$S" "$PL"
RB=$(id "$S" receipt "$PB" --date 2026-12-21)
run "$S" --json show "$RB"
check "the subcontractor's receipt of it goes to Hoorn and to Drechterland" \
	jq -e --arg a "$MK" --arg b "$DK" '(.audience | index($a)) != null and (.audience | index($b)) != null' "$T/out"

echo "1..$n"
echo "# $n tests, $failed failed"
[ "$failed" -eq 0 ]
