#!/bin/sh
# t_change.sh — the change of a running arrangement, allocation numbers and
# eligibility on allocations, through the keten binary, with homes that
# exchange entries by export/import (the municipality of Hoorn is the trust
# anchor; a second municipality, two lead providers):
#   1. eligibility: a lead provider not eligible under the contract is
#      refused (party-not-eligible), an eligible one allocated;
#   2. numbers: unique per municipality and domain (duplicate-allocation-
#      number), also for a replacement, another domain free; the region's
#      allocation with the same number received is kept and listed;
#   3. scaling down (reason 05): J03/4 paid 9577.33 up front, replaced by
#      J03/2 (2/3 = 3986.00): the old one closed with 36 the day before,
#      nothing more up front, 5591.33 owed back in the balance and repaid,
#      the final part 1993.00, its old parts refused (allocation-replaced);
#   4. scaling up (reason 12, stop 37): J03/3 paid 6178.66 up front,
#      replaced by J03/5 (2/3 = 14845.33): 8666.67 up front, 7422.67 final,
#      22268.00 in all; replaced 50 days after the start, outside the
#      contract's 45-day window (replacement-outside-window), a heavy
#      intensity inside its 90 days;
#   5. an allocation right after a close without --replaces
#      (allocation-after-close), rijgen unchanged;
#   6. a claim left open on the replaced allocation: its payment refused,
#      claim-after-replacement from both sides alike;
#   7. refusals: obsolete (01), unknown and non-replacing reasons, another
#      client, a closed allocation, another municipality's allocation;
#   8. voiding a replacement opens the old one again and takes the debt off.
# Findings are checked in table, CSV and JSON with their evidence ids.
# KEEP=1 keeps the temporary homes.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARIFFS=$ROOT/examples/tarieven-voorbeeld-2026.csv
T=$(mktemp -d) || exit 70
trap "[ -n \"${KEEP:-}\" ] || rm -rf \"$T\"" EXIT
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
M=$T/municipality
M2=$T/municipality2
R=$T/region
L=$T/lead
L2=$T/lead2
n=0
failed=0

ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@" >/dev/null; then ok "$d"; else nok "$d"; fi; }
run() { h=$1; shift; "$K" --home "$h" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
new() {
	d=$1; shift
	run "$@"
	ID=$(cat "$T/out")
	case $ID in "{"*) ID=$(jq -r .id "$T/out") ;; esac
	if [ "$rc" -eq 0 ] && printf '%s\n' "$ID" | grep -Eq '^[0-9a-f]{64}$'; then ok "$d"; else
		nok "$d (exit $rc)"; sed 's/^/# /' "$T/err"; fi
}
logcount() { "$K" --home "$1" log | wc -l | tr -d ' '; }
refused() {
	rule=$1; d=$2; h=$3; shift 3
	before=$(logcount "$h")
	run "$h" "$@"
	after=$(logcount "$h")
	if [ "$rc" -eq 65 ] && grep -q "refused by rule '$rule'" "$T/err" && [ "$before" = "$after" ]; then ok "refused: $d ($rule)"; else
		nok "refused: $d ($rule): exit $rc, log $before -> $after"; sed 's/^/# /' "$T/err"; fi
}
sync() {
	from=$1; shift
	"$K" --home "$from" export -o "$T/x.ndjson" || nok "export from $from"
	for to in "$@"; do
		"$K" --home "$to" import "$T/x.ndjson" >/dev/null 2>"$T/imperr" || { nok "import into $to"; sed 's/^/# /' "$T/imperr"; }
	done
}
jget() { jq -r "$2" "$1"; }
# state HOME ID FILTER: a jq filter on keten show's derived state
state() { "$K" --home "$1" --json show "$2" | jq -r ".state | $3"; }
# bal HOME PARTY FIELD
bal() { "$K" --home "$1" --json balance | jq -r --arg p "$2" "[.[] | select(.party == \$p) | .$3] | add // 0"; }
# finding HOME KIND ID...: reconcile lists KIND with every ID as evidence in
# table (the 8-digit prefixes), CSV and JSON
finding() {
	h=$1; kind=$2; shift 2
	"$K" --home "$h" reconcile >"$T/rt" 2>/dev/null
	"$K" --home "$h" reconcile --format csv >"$T/rc" 2>/dev/null
	"$K" --home "$h" --json reconcile >"$T/rj" 2>/dev/null
	good=1
	grep -q "^$kind " "$T/rt" || good=0
	for id in "$@"; do
		awk -F, -v k="$kind" -v id="$id" '$1 == "finding" && $2 == k && index($17, id) { f = 1 } END { exit !f }' "$T/rc" || good=0
		jq -e --arg k "$kind" --arg id "$id" '[.findings[] | select(.kind == $k) | .evidence[] | select(. == $id or .id == $id)] | length > 0' "$T/rj" >/dev/null || good=0
		grep -A2 "^$kind " "$T/rt" | grep -q "$(printf %.8s "$id")" || good=0
	done
	[ $good -eq 1 ]
}
nofinding() { "$K" --home "$1" reconcile --format csv 2>/dev/null | awk -F, -v k="$2" -v id="$3" '$1 == "finding" && $2 == k && index($17, id) { f = 1 } END { exit f }'; }

# --- homes --------------------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$M2" init --name "Gemeente Enkhuizen" --role municipality --municipality 0498 --no-passphrase; M2K=$(cat "$T/out")
run "$R" init --name "Regio Westfriesland" --role region --municipality 0405 --no-passphrase; RK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$L2" init --name "Ander Zorg BV" --role lead-provider --agb 12345679 --no-passphrase; L2K=$(cat "$T/out")
for h in "$M" "$M2" "$R" "$L" "$L2"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
new "municipality certifies itself" "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405
new "it certifies a second municipality" "$M" party certify "$M2K" --name "Gemeente Enkhuizen" --role municipality --municipality 0498
new "it certifies the region (for 0405 too)" "$M" party certify "$RK" --name "Regio Westfriesland" --role region --municipality 0405
new "it certifies the lead provider" "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678
new "it certifies another lead provider" "$M" party certify "$L2K" --name "Ander Zorg BV" --role lead-provider --agb 12345679
new "contract: change window 45, heavy 6,7 within 90, delivered below 75%, only Zorg Hoofd eligible" "$M" contract add \
	--ref RC-CHG --domain jeugd --municipality 0405,0498 --from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" \
	--change-window 45 --heavy-window 90 --heavy-intensities 6,7 --delivered-below 75 --eligible "Zorg Hoofd BV"
run "$M" --json contract show RC-CHG
check "contract show: the change terms" jq -e '.change_window_days == 45 and .heavy_window_days == 90 and .heavy_intensities == ["6","7"] and .delivered_below_bp == 7500' "$T/out"
new "a wmo contract for the numbers" "$M" contract add --ref RC-CHG-W --domain wmo --municipality 0405 --from 2026-01-01 \
	--until 2028-12-31 --tariffs "$TARIFFS"
run "$M" --json contract show RC-CHG-W
check "contract show: the defaults (42, 84, 80%)" jq -e '.change_window_days == 42 and .heavy_window_days == 84 and .heavy_intensities == [] and .delivered_below_bp == 8000' "$T/out"
sync "$M" "$M2" "$R" "$L" "$L2"

# --- 1. eligibility -------------------------------------------------------------
refused party-not-eligible "an allocation to a lead provider the contract does not name" "$M" allocate --contract RC-CHG \
	--client HRN-E1 --provider "Ander Zorg BV" --profile J03 --intensity 4 --kind herstel --from 2026-03-01
new "an allocation to the eligible lead provider" "$M" allocate --contract RC-CHG --client HRN-E1 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 1 --kind herstel --from 2026-03-01 --number HRN-E1-1

# --- 2 and 3. scaling down --------------------------------------------------------
new "A1: J03/4 herstel number 2026-0001" "$M" --json allocate --contract RC-CHG --client HRN-1 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-03-01 --number 2026-0001
A1=$ID
refused duplicate-allocation-number "the same number again in the municipality and domain" "$M" allocate --contract RC-CHG \
	--client HRN-9 --provider "Zorg Hoofd BV" --profile J03 --intensity 1 --kind herstel --from 2026-03-01 --number 2026-0001
grep -q "9332\|already used" "$T/err" && ok "the refusal names the number used" || nok "the refusal names the number used"
new "the same number in another domain (wmo)" "$M" allocate --contract RC-CHG-W --client HRN-9 --provider "Zorg Hoofd BV" \
	--profile W02 --intensity A --kind herstel --from 2026-03-01 --number 2026-0001 --volume 20 --unit hour --frequency total
new "the region, not yet fed Hoorn's entries, gives number 2026-0001 in 0405 too" "$R" allocate --contract RC-CHG \
	--client HRN-R1 --provider "Zorg Hoofd BV" --profile J03 --intensity 1 --kind herstel --from 2026-03-01 --number 2026-0001
AR=$ID
sync "$R" "$M"
check "received from another author, it is kept (applied)" test "$("$K" --home "$M" --json show "$AR" | jq -r .status)" = applied
check "duplicate-allocation-number: the region's allocation and A1 (table, CSV, JSON)" finding "$M" duplicate-allocation-number "$AR" "$A1"
sync "$M" "$L"
run "$L" --json claim "$A1" --installment upfront
K1=$(jget "$T/out" .id)
check "lead claims A1 up front: 9577.33" jq -e ".amount_cents == 957733" "$T/out"
sync "$L" "$M"
new "municipality pays it" "$M" pay "$K1" --amount 9577.33 --date 2026-03-10
refused duplicate-allocation-number "a replacement reusing the number of what it replaces" "$M" allocate --contract RC-CHG \
	--client HRN-1 --provider "Zorg Hoofd BV" --profile J03 --intensity 2 --kind herstel --from 2026-04-01 \
	--replaces "$A1" --reason 05 --number 2026-0001
grep -q "a number of its own" "$T/err" && ok "the refusal says a replacement has a number of its own" || nok "replacement number hint"
new "B1: J03/2 replaces A1 (reason 05: scaled down), from 2026-04-01" "$M" --json allocate --contract RC-CHG --client HRN-1 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 2 --kind herstel --from 2026-04-01 --replaces "$A1" --reason 05 \
	--number 2026-0002
B1=$ID
check "show A1: closed with stop code 36 on 2026-03-31, replaced by B1, reason 05" test \
	"$(state "$M" "$A1" '[.closed, .stop_code, .close_date, .replaced_by, .change_reason] | join(" ")')" = "true 36 2026-03-31 $B1 05"
check "show B1: 9577.33 carried, 5591.33 owed back (2/3 of 5979.00 is 3986.00), nothing up front due" test \
	"$(state "$M" "$B1" '[.replaces, .carried_cents, .owed_back_cents, .upfront_due_cents] | join(" ")')" = "$A1 957733 559133 0"
check "balance: the lead provider owes the municipality 5591.33 (clawed back)" test "$(bal "$M" "$LK" clawback_cents)" = 559133
check "balance: outstanding -5591.33 on the municipality's side" test "$(bal "$M" "$LK" outstanding_cents)" = -559133
sync "$M" "$L"
check "the lead provider's balance says the same" test "$(bal "$L" "$MK" clawback_cents)/$(bal "$L" "$MK" outstanding_cents)" = "559133/-559133"
check "the lead provider's show of A1 says closed 36" test "$(state "$L" "$A1" '.stop_code')" = 36
refused allocation-replaced "the final part of the replaced A1" "$L" claim "$A1" --installment final --amount 4788.67
refused invalid-amount "an up-front claim on B1 (nothing due)" "$L" claim "$B1" --installment upfront
run "$L" --json claim "$B1" --installment final
KB1=$(jget "$T/out" .id)
check "B1's final part is 1993.00" jq -e '.amount_cents == 199300' "$T/out"
new "the lead provider repays what is owed back (naming B1)" "$L" pay "$B1" --amount 5591.33 --date 2026-04-15 --reference E2E-REPAY
check "after the repayment the balance has 5591.33 repaid" test "$(bal "$L" "$MK" repaid_cents)" = 559133
sync "$L" "$M"
new "municipality pays B1's final part" "$M" pay "$KB1" --amount 1993.00 --date 2026-04-20
check "paid in all on the arrangement: 9577.33 + 1993.00 - 5591.33 = 5979.00, the J03/2 tariff" test \
	$(( $(bal "$M" "$LK" paid_cents) - $(bal "$M" "$LK" repaid_cents) )) -eq 597900
run "$M" reconcile --format csv
check "reconcile shows A1 replaced (36), agreed what was paid up front" grep -q "^line,allocation,$A1,.*,\"J03/4 herstel, replaced (36)\",957733," "$T/out"
check "reconcile: B1 agreed 5979.00 less the 3986.00 taken over" awk -F, -v b="$B1" '$1 == "line" && $3 == b && $9 == 199300 { f = 1 } END { exit !f }' "$T/out"

# --- 4. scaling up, windows -------------------------------------------------------
new "A3: J03/3 herstel from 2026-03-01" "$M" allocate --contract RC-CHG --client HRN-3 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 3 --kind herstel --from 2026-03-01
A3=$ID
sync "$M" "$L"
run "$L" --json claim "$A3" --installment upfront; K3=$(jget "$T/out" .id)
check "A3 up front: 6178.66" jq -e '.amount_cents == 617866' "$T/out"
sync "$L" "$M"
new "municipality pays it" "$M" pay "$K3" --amount 6178.66 --date 2026-03-10
new "B3: J03/5 replaces A3 (reason 12, asked by the provider), 50 days after its start" "$M" allocate --contract RC-CHG \
	--client HRN-3 --provider "Zorg Hoofd BV" --profile J03 --intensity 5 --kind herstel --from 2026-04-20 \
	--replaces "$A3" --reason 12
B3=$ID
check "A3 closed with stop code 37 on 2026-04-19" test "$(state "$M" "$A3" '[.stop_code, .close_date] | join(" ")')" = "37 2026-04-19"
check "B3: 14845.33 - 6178.66 = 8666.67 up front due" test "$(state "$M" "$B3" '.upfront_due_cents')" = 866667
sync "$M" "$L"
run "$L" --json claim "$B3" --installment upfront; KB3=$(jget "$T/out" .id)
check "the lead provider's up-front claim on B3 computes 8666.67" jq -e '.amount_cents == 866667' "$T/out"
new "B3 closed as planned" "$L" close "$B3" --outcome achieved --stop-code 31 --date 2026-10-01
run "$L" --json claim "$B3" --installment final; KB3F=$(jget "$T/out" .id)
check "B3 final: 7422.67" jq -e '.amount_cents == 742267' "$T/out"
sync "$L" "$M"
new "municipality pays B3 up front" "$M" pay "$KB3" --amount 8666.67 --date 2026-04-25
new "and its final part" "$M" pay "$KB3F" --amount 7422.67 --date 2026-10-10
check "6178.66 + 8666.67 + 7422.67 = 22268.00, the J03/5 tariff: no second 2/3" test $((617866 + 866667 + 742267)) -eq 2226800
check "claim-above-agreed is not found on B3" nofinding "$M" claim-above-agreed "$B3"
check "replacement-outside-window: B3 and A3 (table, CSV, JSON)" finding "$M" replacement-outside-window "$B3" "$A3"
grep -A1 "^replacement-outside-window " "$T/rt" | grep -q "replaced 50 days after.*the window is 45 days" && ok "its detail: 50 days, window 45" || nok "window detail"
sync "$M" "$L"
check "the lead provider finds it too" finding "$L" replacement-outside-window "$B3" "$A3"
check "B1 (31 days after) is inside the window" nofinding "$M" replacement-outside-window "$B1"
new "A6: J03/6 (heavy) from 2026-03-01" "$M" allocate --contract RC-CHG --client HRN-6 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 6 --kind herstel --from 2026-03-01
A6=$ID
new "B6: J03/5 replaces it 61 days after (reason 03)" "$M" allocate --contract RC-CHG --client HRN-6 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 5 --kind herstel --from 2026-05-01 --replaces "$A6" --reason 03
B6=$ID
check "a heavy intensity within its 90 days: no window finding" nofinding "$M" replacement-outside-window "$B6"
check "nothing was paid under A6: nothing carried, the whole 2/3 due" test "$(state "$M" "$B6" '[.carried_cents, .upfront_due_cents] | join(" ")')" = "0 1484533"

# --- 5. an allocation right after a close ----------------------------------------------
new "A5: J03/2 herstel for HRN-5" "$M" allocate --contract RC-CHG --client HRN-5 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 2 --kind herstel --from 2026-03-01
A5=$ID
sync "$M" "$L"
new "the lead provider stops it early (32)" "$L" close "$A5" --outcome stopped --stop-code 32 --date 2026-05-10
R5=$ID
sync "$L" "$M"
new "N5: J03/3 for HRN-5 ten days later, without --replaces" "$M" allocate --contract RC-CHG --client HRN-5 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-05-20
N5=$ID
check "allocation-after-close: N5, A5 and A5's result" finding "$M" allocation-after-close "$N5" "$A5" "$R5"
check "not rijgen (another intensity: rijgen is as it was)" nofinding "$M" rijgen "$N5"
sync "$M" "$L"
check "the lead provider finds the same" finding "$L" allocation-after-close "$N5" "$A5" "$R5"
new "R6: J03/3 for HRN-5 replacing N5 is no such finding" "$M" allocate --contract RC-CHG --client HRN-5 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 4 --kind herstel --from 2026-05-25 --replaces "$N5" --reason 05
check "a replacement is not allocation-after-close" nofinding "$M" allocation-after-close "$ID"

# --- 6. a claim left open on the replaced allocation ----------------------------------
new "A7: J03/4 for HRN-7" "$M" allocate --contract RC-CHG --client HRN-7 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-03-01
A7=$ID
sync "$M" "$L"
run "$L" --json claim "$A7" --installment upfront; K7=$(jget "$T/out" .id)
sync "$L" "$M"
new "B7 replaces A7 before its up-front claim was paid" "$M" allocate --contract RC-CHG --client HRN-7 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-04-01 --replaces "$A7" --reason 05
B7=$ID
check "nothing was paid: nothing carried, B7's whole 2/3 due" test "$(state "$M" "$B7" '[.carried_cents, .upfront_due_cents] | join(" ")')" = "0 617866"
refused allocation-replaced "paying A7's up-front claim after the change" "$M" pay "$K7" --amount 9577.33 --date 2026-04-02
check "claim-after-replacement: the claim, A7 and B7 (municipality)" finding "$M" claim-after-replacement "$K7" "$A7" "$B7"
sync "$M" "$L"
check "claim-after-replacement: the same from the lead provider's side" finding "$L" claim-after-replacement "$K7" "$A7" "$B7"
new "the lead provider voids the claim" "$L" correct "$K7" --reason "carried over to the replacement"
check "then the finding is gone" nofinding "$L" claim-after-replacement "$K7"

# --- 7. refusals --------------------------------------------------------------------------
new "A8: J03/4 for HRN-8" "$M" allocate --contract RC-CHG --client HRN-8 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-03-01
A8=$ID
refused obsolete-change-reason "reason 01 (obsolete)" "$M" allocate --replaces "$A8" --reason 01 --contract RC-CHG --client HRN-8 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-04-01
refused unknown-change-reason "reason 99 (not in JZ002)" "$M" allocate --replaces "$A8" --reason 99 --contract RC-CHG --client HRN-8 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-04-01
refused not-a-replacement-reason "reason 02 (the client died: a close, not a change)" "$M" allocate --replaces "$A8" --reason 02 \
	--contract RC-CHG --client HRN-8 --provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-04-01
refused replacement-differs "a replacement for another client" "$M" allocate --replaces "$A8" --reason 05 --contract RC-CHG \
	--client HRN-OTHER --provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-04-01
refused replacement-differs "a replacement of another kind" "$M" allocate --replaces "$A8" --reason 05 --contract RC-CHG \
	--client HRN-8 --provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind duurzaam --from 2026-04-01
refused invalid-date "a replacement starting before what it replaces" "$M" allocate --replaces "$A8" --reason 05 --contract RC-CHG \
	--client HRN-8 --provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-02-01
refused allocation-closed "replacing an allocation replaced already" "$M" allocate --replaces "$A1" --reason 05 --contract RC-CHG \
	--client HRN-1 --provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-05-01
refused allocation-closed "replacing a closed allocation" "$M" allocate --replaces "$A5" --reason 05 --contract RC-CHG \
	--client HRN-5 --provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-06-01
sync "$M" "$M2"
refused wrong-role "another municipality replacing Hoorn's allocation" "$M2" allocate --replaces "$A8" --reason 05 \
	--contract RC-CHG --client HRN-8 --provider "Zorg Hoofd BV" --profile J03 --intensity 3 --kind herstel --from 2026-04-01
run "$M" allocate --reason 05 --contract RC-CHG --client HRN-8 --provider "Zorg Hoofd BV" --profile J03 --intensity 3 \
	--kind herstel --from 2026-04-01
check "--reason without --replaces: a usage error (64)" test "$rc" -eq 64

# --- 8. voiding a replacement ----------------------------------------------------------------
new "B8: J03/1 replaces A8" "$M" allocate --replaces "$A8" --reason 05 --contract RC-CHG --client HRN-8 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 1 --kind herstel --from 2026-04-01
B8=$ID
check "A8 closed by it" test "$(state "$M" "$A8" '.closed')" = true
new "the municipality voids B8" "$M" correct "$B8" --reason "wrong arrangement"
check "A8 is open again, no longer replaced" test "$(state "$M" "$A8" '[.closed, (.replaced_by // "-"), (.stop_code // "-")] | join(" ")')" = "false - -"
before=$(bal "$M" "$LK" clawback_cents)
new "B1's twin: a replacement leaving a debt, then voided" "$M" allocate --replaces "$A8" --reason 05 --contract RC-CHG \
	--client HRN-8 --provider "Zorg Hoofd BV" --profile J03 --intensity 1 --kind herstel --from 2026-04-01
check "nothing paid under A8: no debt" test "$(bal "$M" "$LK" clawback_cents)" = "$before"

# --- help ----------------------------------------------------------------------------------------
run "$M" allocate --help
check "allocate --help names --replaces, --reason and --volume" sh -c 'grep -q -- "--replaces" "$1" && grep -q -- "--reason" "$1" && grep -q -- "--volume" "$1"' _ "$T/out"
run "$M" contract --help
check "contract --help names the change window flags" sh -c 'grep -q -- "--change-window" "$1" && grep -q -- "--heavy-intensities" "$1" && grep -q -- "--delivered-below" "$1"' _ "$T/out"

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
