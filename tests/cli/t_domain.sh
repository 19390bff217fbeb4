#!/bin/sh
# t_domain.sh — the settlement domain through the keten binary, with three
# homes that exchange entries by export/import (the municipality of Hoorn
# is the trust anchor and certifies a lead provider and a subcontractor):
#   1. herstel J03/4: allocation, 2/3 claimed and paid, a fixed-amount
#      subcontract, deliveries, claims, payments, receipts, result
#      achieved, final 1/3 paid; every balance zero at the end;
#   2. duurzaam W02/B over 14 months across a year boundary with a 2.5%
#      indexation: the computed month amounts, pro rata at both ends;
#   3. early stop (code 32) after the up-front part: clawback --auto from
#      the contract rule, the subcontractor's share pro rata;
#   4. a correction voids a claim; a receipt of another amount is recorded;
#   5. every hard rule refused with exit 65, its rule name on stderr and
#      nothing stored (log count unchanged);
#   6. need to know: a subcontractor fed only what it may read (other
#      bodies arrive as stubs, as sync sends them) accepts, delivers, claims,
#      confirms and records its clawback share, and the contract named in
#      the offer still forbids passing the work on;
#   7. entries that arrive before what they refer to wait and then apply;
#      two nodes importing everything in opposite orders agree on every
#      entry's status; --help of every command.
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
L=$T/lead
S=$T/sub
n=0
failed=0

ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@" >/dev/null; then ok "$d"; else nok "$d"; fi; }
# run HOME ARGS...: keten in HOME; stdout in $T/out, stderr in $T/err, exit in $rc
run() { h=$1; shift; "$K" --home "$h" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# new DESC HOME ARGS...: a creating command; its id in $ID
new() {
	d=$1; shift
	run "$@"
	ID=$(cat "$T/out")
	case $ID in "{"*) ID=$(jq -r .id "$T/out") ;; esac
	if [ "$rc" -eq 0 ] && printf '%s\n' "$ID" | grep -Eq '^[0-9a-f]{64}$'; then ok "$d"; else
		nok "$d (exit $rc)"; sed 's/^/# /' "$T/err"; fi
}
logcount() { "$K" --home "$1" log | wc -l | tr -d ' '; }
# refused RULE DESC HOME ARGS...: exit 65, rule named on stderr, nothing stored
refused() {
	rule=$1; d=$2; h=$3; shift 3
	before=$(logcount "$h")
	run "$h" "$@"
	after=$(logcount "$h")
	if [ "$rc" -eq 65 ] && grep -q "$rule" "$T/err" && [ "$before" = "$after" ]; then ok "refused: $d ($rule)"; else
		nok "refused: $d ($rule): exit $rc, log $before -> $after"; sed 's/^/# /' "$T/err"; fi
}
# sync FROM TO...: export FROM, import into each TO
sync() {
	from=$1; shift
	"$K" --home "$from" export -o "$T/x.ndjson" || nok "export from $from"
	for to in "$@"; do
		"$K" --home "$to" import "$T/x.ndjson" >/dev/null 2>"$T/imperr" || { nok "import into $to"; sed 's/^/# /' "$T/imperr"; }
	done
}
# jget FILE JQ-FILTER
jget() { jq -r "$2" "$1"; }
# bal HOME PARTYKEY FIELD: a field of balance --json for that counterparty (summed over roles)
bal() { "$K" --home "$1" --json balance | jq -r --arg p "$2" "[.[] | select(.party == \$p) | .$3] | add // 0"; }
# allzero HOME: every outstanding_cents of balance --json is 0, and there is at least one row
allzero() { "$K" --home "$1" --json balance | jq -e 'length > 0 and all(.[]; .outstanding_cents == 0)' >/dev/null; }

# --- three homes ---------------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S" init --name "Hulp Onder VOF" --role subcontractor --agb 87654321 --no-passphrase; SK=$(cat "$T/out")
"$K" --home "$M" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
"$K" --home "$L" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
"$K" --home "$S" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
new "municipality certifies itself" "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405
new "municipality certifies the lead provider" "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678
new "municipality certifies the subcontractor" "$M" party certify "$SK" --name "Hulp Onder VOF" --role subcontractor --agb 87654321

new "contract add (jeugd, fixed, early stop 32 = 50% shared)" "$M" contract add --ref RGW-J-2026 --domain jeugd \
	--municipality 0405,0498 --from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --payment-term 30 \
	--subcontract fixed --max-margin 10 --early-stop 32=50:sub,33=100,34=25
CJ=$ID
run "$M" --json contract show RGW-J-2026
check "contract show: J03/4 herstel is 1436600 cents, components read" \
	jq -e '([.tariffs[] | select(.profile == "J03" and .intensity == "4" and .kind == "herstel") | .cents] == [1436600])
	       and (.components | length == 3) and (.early_stop | length == 3) and .payment_term_days == 30' "$T/out"
JROWS=$(grep -c '^jeugd,' "$TARIFFS")
check "contract show: every jeugd line ($JROWS) and no wmo line" jq -e --argjson n "$JROWS" '(.tariffs | length) == $n and all(.tariffs[]; .profile | startswith("J"))' "$T/out"
run "$M" contract list
check "contract list names it" grep -q RGW-J-2026 "$T/out"
sync "$M" "$L" "$S"

# --- scenario 1: herstel J03/4 -------------------------------------------------
new "allocate J03/4 herstel" "$M" --json allocate --contract RGW-J-2026 --client HRN-2026-0001 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30 --number 2026000123
A1=$(jget "$T/out" .id)
check "allocation --json has type and amount 1436600" jq -e '.type == "allocation" and .amount_cents == 1436600' "$T/out"
[ -n "$A1" ] && ok "allocation id" || nok "allocation id"
sync "$M" "$L"
run "$L" --json claim "$A1" --installment upfront
K1=$(jget "$T/out" .id)
check "lead claims upfront: 2/3 floor = 957733" jq -e '.amount_cents == 957733' "$T/out"
sync "$L" "$M"
new "municipality pays the upfront claim" "$M" pay "$K1" --amount 9577.33 --date 2026-12-05 --reference E2E-HRN-1
P1=$ID
sync "$M" "$L"
new "lead confirms receipt of the upfront payment" "$L" receipt "$P1"
new "lead subcontracts a fixed 4800.00" "$L" subcontract "$A1" --to "Hulp Onder VOF" --amount 4800,00 --from 2026-12-01 --scope "gezinsbegeleiding thuis"
O1=$ID
sync "$L" "$S" "$M"
run "$L" --json show "$O1"
check "offer goes to lead, subcontractor and municipality" \
	jq -e --arg m "$MK" --arg l "$LK" --arg s "$SK" '(.audience | sort) == ([$m, $l, $s] | sort)' "$T/out"
new "subcontractor accepts" "$S" accept "$O1"
new "delivery 2026-12" "$S" deliver "$O1" --period 2026-12 --units 12 --unit hour --note "wekelijks gesprek"
D1=$ID
new "delivery 2027-01" "$S" deliver "$O1" --period 2027-01 --units 10.5 --unit hour
D2=$ID
new "subcontractor claims 2026-12 with its delivery" "$S" claim "$O1" --installment 2026-12 --amount 2400 --deliveries "$D1"
K2=$ID
new "subcontractor claims 2027-01" "$S" claim "$O1" --installment 2027-01 --amount 2400 --deliveries "$D2"
K3=$ID
sync "$S" "$L" "$M"
new "lead pays 2026-12" "$L" pay "$K2" --amount 2400 --date 2027-01-10 --reference E2E-SUB-1
P2=$ID
new "lead pays 2027-01" "$L" pay "$K3" --amount 2400.00 --date 2027-02-10 --reference E2E-SUB-2
P3=$ID
sync "$L" "$S" "$M"
new "subcontractor confirms payment 1" "$S" receipt "$P2" --date 2027-01-11
new "subcontractor confirms payment 2" "$S" receipt "$P3"
sync "$S" "$L" "$M"
new "lead closes: achieved, stop code 31" "$L" close "$A1" --outcome achieved --stop-code 31 --date 2027-06-30
run "$L" --json claim "$A1"
K4=$(jget "$T/out" .id)
check "claim without --installment after the up-front part is the final part" jq -e '.amount_cents == 478867' "$T/out"
check "final claim is the rest: 478867 (odd cent to the final part)" jq -e '.amount_cents == 478867' "$T/out"
sync "$L" "$M"
new "municipality pays the final 1/3" "$M" pay "$K4" --amount 4788.67 --date 2027-07-15
P4=$ID
sync "$M" "$L"
new "lead confirms the final payment" "$L" receipt "$P4"
sync "$L" "$M" "$S"
check "municipality: all balances zero" allzero "$M"
check "lead provider: all balances zero" allzero "$L"
check "subcontractor: all balances zero" allzero "$S"
check "municipality sees 1436600 claimed, paid and received from the lead" \
	test "$(bal "$M" "$LK" claimed_cents)" = 1436600 -a "$(bal "$M" "$LK" paid_cents)" = 1436600 -a "$(bal "$M" "$LK" received_cents)" = 1436600
check "lead sees 480000 claimed, paid and received with the subcontractor" \
	test "$(bal "$L" "$SK" claimed_cents)" = 480000 -a "$(bal "$L" "$SK" paid_cents)" = 480000 -a "$(bal "$L" "$SK" received_cents)" = 480000
run "$S" --json balance --with "Zorg Hoofd BV"
check "subcontractor's balance --with the lead" jq -e 'length == 1 and .[0].name == "Zorg Hoofd BV" and .[0].paid_cents == 480000' "$T/out"
run "$M" --json balance --as-of 2027-06-30
check "as-of 2027-06-30 the final 1/3 is not yet paid" jq -e --arg l "$LK" '[.[] | select(.party == $l)][0].paid_cents == 957733' "$T/out"
run "$L" balance
check "balance table names the counterparties" grep -q "Hulp Onder VOF" "$T/out"

# --- scenario 3: early stop 32 after the up-front part; clawback --auto ---------------
new "allocate a second J03/4 herstel" "$M" allocate --contract RGW-J-2026 --client HRN-2026-0003 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30
A3=$ID
sync "$M" "$L"
new "lead claims its upfront part" "$L" claim "$A3" --installment upfront
K5=$ID
new "lead subcontracts 4800.00 of it" "$L" subcontract "$A3" --to "Hulp Onder VOF" --amount 4800 --from 2026-12-01
O3=$ID
sync "$L" "$M" "$S"
new "subcontractor accepts" "$S" accept "$O3"
new "municipality pays the upfront part" "$M" pay "$K5" --amount 9577.33 --date 2026-12-10
sync "$S" "$L" "$M"
sync "$M" "$L"
new "lead closes: stopped early by the client, code 32" "$L" close "$A3" --outcome stopped --stop-code 32 --date 2027-02-15
sync "$L" "$M"
run "$M" --json clawback "$A3" --auto --reason "voortijdig beeindigd door client"
CB=$(jget "$T/out" .id)
check "clawback --auto: 50% of 957733 paid up front = 478867 (half away from zero)" jq -e '.amount_cents == 478867' "$T/out"
run "$M" --json show "$CB"
check "subcontractor's share: 478867 x 480000 / 1436600 = 160000 (largest remainder)" \
	jq -e --arg s "$SK" '.fields.passed_on == [{"party": $s, "amount_cents": 160000}]' "$T/out"
check "clawback rule text names the stop code" jq -e '.fields.rule | test("early-stop 32: 50.00% of up-front paid 9577.33")' "$T/out"
refused clawback-exists "a second clawback --auto on the same allocation (it would double)" "$M" clawback "$A3" --auto
sync "$M" "$L" "$S"
run "$L" --json balance --with "Gemeente Hoorn"
check "lead owes the municipality the clawback: outstanding -478867" jq -e '.[0].outstanding_cents == -478867 and .[0].clawback_cents == 478867' "$T/out"
run "$S" --json balance
check "subcontractor owes the lead its share: outstanding -160000" jq -e '[.[] | select(.clawback_cents == 160000 and .outstanding_cents == -160000)] | length == 1' "$T/out"
new "lead repays the clawback" "$L" pay "$CB" --amount 4788.67 --date 2027-03-01
new "subcontractor repays its share" "$S" pay "$CB" --amount 1600 --date 2027-03-02
sync "$L" "$M" "$S"
sync "$S" "$L" "$M"
run "$M" --json balance --with "Zorg Hoofd BV"
check "after repayment the municipality's balance with the lead is zero" jq -e 'all(.[]; .outstanding_cents == 0)' "$T/out"
refused clawback-exceeds-paid "a second clawback beyond what was paid" "$M" clawback "$A3" --amount 5000
refused allocation-closed "a closed allocation reopened" "$L" close "$A3" --outcome achieved --stop-code 31 --date 2027-03-01

# a monthly subcontract weighs in a clawback's split with its total over its period
new "allocate a J03/4 herstel for a monthly subcontract" "$M" allocate --contract RGW-J-2026 --client HRN-2026-0005 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30
A5=$ID
sync "$M" "$L"
new "lead claims its upfront part" "$L" claim "$A5" --installment upfront
K9=$ID
new "lead subcontracts 600.00 a month for six months" "$L" subcontract "$A5" --to "Hulp Onder VOF" --monthly 600 \
	--from 2027-01-01 --until 2027-06-30
O9=$ID
sync "$L" "$M" "$S"
new "subcontractor accepts the monthly subcontract" "$S" accept "$O9"
new "municipality pays the upfront part" "$M" pay "$K9" --amount 9577.33 --date 2026-12-10
sync "$S" "$L" "$M"
new "lead closes: code 32" "$L" close "$A5" --outcome stopped --stop-code 32 --date 2027-02-15
sync "$L" "$M"
run "$M" --json clawback "$A5" --auto
CB5=$(jget "$T/out" .id)
run "$M" --json show "$CB5"
check "monthly share: 478867 x 360000 (6 x 60000) / 1436600 = 120000, not the share of one month (20000)" \
	jq -e --arg s "$SK" '.fields.passed_on == [{"party": $s, "amount_cents": 120000}]' "$T/out"

# --- scenario 2: duurzaam W02/B over 14 months, indexation 2.5% from 2027 -----------
new "wmo contract" "$M" contract add --ref RGW-W-2026 --domain wmo --municipality 0405 --from 2026-01-01 \
	--until 2028-12-31 --tariffs "$TARIFFS"
new "indexation 2.5% from 2027" "$M" contract index RGW-W-2026 --year 2027 --pct 2.5
run "$M" --json contract show RGW-W-2026
check "contract show lists the indexation" jq -e '.indexations == [{"year": 2027, "bp": 250}]' "$T/out"
new "allocate W02/B duurzaam 2026-11-16 .. 2028-01-15" "$M" --json allocate --contract RGW-W-2026 --client HRN-W-0002 \
	--provider "Zorg Hoofd BV" --profile W02 --intensity B --kind duurzaam --from 2026-11-16 --until 2028-01-15 --volume 200 --unit hour --frequency total
A2=$(jget "$T/out" .id)
check "monthly amount at the 2026 tariff: 45200" jq -e '.amount_cents == 45200' "$T/out"
sync "$M" "$L"
months="2026-11 2026-12 2027-01 2027-02 2027-03 2027-04 2027-05 2027-06 2027-07 2027-08 2027-09 2027-10 2027-11 2027-12 2028-01"
got=""
for m in $months; do
	run "$L" --json claim "$A2" --installment "$m"
	got="$got $(jget "$T/out" .amount_cents)"
done
want=" 22600 45200 46330 46330 46330 46330 46330 46330 46330 46330 46330 46330 46330 46330 22418"
check "month amounts: 15/30 of 45200, 45200, 12 x 46330 (indexed), 15/31 of 46330" test "$got" = "$want"
[ "$got" = "$want" ] || echo "# got:$got"
refused date-outside-validity "a month after the allocation ends" "$L" claim "$A2" --installment 2028-02 --amount 100
refused installment-claimed "the same month twice" "$L" claim "$A2" --installment 2027-03
refused invalid-installment "upfront on a duurzaam allocation" "$L" claim "$A2" --installment upfront --amount 10
new "a Wmo delivery in hours" "$L" deliver "$A2" --period 2027-02 --units 8 --unit hour
refused wmo-needs-hours "a Wmo delivery in minutes" "$L" deliver "$A2" --period 2027-02 --units 480 --unit minute

# --- scenario 4: correction, receipt mismatch ----------------------------------------
new "lead delivers on the allocation itself" "$L" deliver "$A1" --period 2027-02 --units 3 --unit hour
refused final-not-due "the final part after an early stop by the client (32: none of it due)" "$L" claim "$A3" --installment final
new "allocate a J03/4 herstel for the correction test" "$M" allocate --contract RGW-J-2026 --client HRN-2026-0006 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30
A6=$ID
sync "$M" "$L"
new "lead claims a final part by mistake" "$L" --json claim "$A6" --installment final
KX=$(jget "$T/out" .id)
before=$(bal "$L" "$MK" claimed_cents)
new "lead voids its own claim" "$L" correct "$KX" --reason "final part claimed by mistake before the result"
after=$(bal "$L" "$MK" claimed_cents)
check "a voided claim no longer counts (claimed $before -> $after)" test $((before - after)) -eq 478867
CX=$ID
run "$L" --json show "$KX"
check "show marks the voided claim void and names its correction" \
	jq -e --arg c "$CX" '.status == "void" and .voided_by == $c' "$T/out"
run "$L" log --type claim
check "log marks the voided claim void" grep -q "^$(printf %.16s "$KX") .* void$" "$T/out"
run "$L" --json show "$CX"
check "the correction itself stays applied" jq -e '.status == "applied" and (has("voided_by") | not)' "$T/out"
refused already-void "the same claim voided twice" "$L" correct "$KX" --reason "again"
sync "$L" "$M"
refused entry-void "paying a voided claim" "$M" pay "$KX" --amount 1 --date 2027-03-01
refused not-original-author "voiding another party's entry" "$M" correct "$K1" --reason "not mine"
refused claim-has-payments "voiding a paid claim before its payment" "$L" correct "$K1" --reason "paid already"
new "a new fixed subcontract for the mismatch test" "$L" subcontract "$A2" --to "Hulp Onder VOF" --amount 100 --from 2027-01-01
O4=$ID
sync "$L" "$S"
new "subcontractor accepts it" "$S" accept "$O4"
new "subcontractor claims upfront (computed 2/3 of 100.00 = 66.66)" "$S" --json claim "$O4" --installment upfront
K6=$(jget "$T/out" .id)
check "fixed-amount subcontract upfront is 6666" jq -e '.amount_cents == 6666' "$T/out"
sync "$S" "$L"
new "lead pays 66.66" "$L" pay "$K6" --amount 66.66 --date 2027-02-01
P6=$ID
sync "$L" "$S"
new "subcontractor records receiving only 60.00 (soft finding, accepted)" "$S" receipt "$P6" --amount 60
R6=$ID
refused receipt-exists "a second receipt for the same payment" "$S" receipt "$P6" --amount 66.66
run "$S" --json balance --with "Zorg Hoofd BV"
check "the received amount is what the subcontractor confirmed" jq -e '.[0].received_cents == 480000 + 6000' "$T/out"
new "subcontractor voids its receipt" "$S" correct "$R6" --reason "the rest arrived after all"
new "after the correction a new receipt is accepted" "$S" receipt "$P6" --amount 66.66
run "$S" --json balance --with "Zorg Hoofd BV"
check "the received amount is the new receipt's" jq -e '.[0].received_cents == 480000 + 6666' "$T/out"

# --- an automatic clawback shared by 17 subcontracts: every one bears its part -----------
new "allocate a third J03/4 herstel" "$M" allocate --contract RGW-J-2026 --client HRN-2026-0017 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30
A17=$ID
sync "$M" "$L"
new "lead claims its upfront part" "$L" claim "$A17" --installment upfront
K17=$ID
subs=0 accepted=0
for i in 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17; do
	run "$L" subcontract "$A17" --to "Hulp Onder VOF" --amount 100 --from 2026-12-01 --scope "sessie $i"
	[ "$rc" -eq 0 ] && subs=$((subs + 1)) && echo "$(cat "$T/out")" >>"$T/o17"
done
sync "$L" "$M" "$S"
while read -r o; do run "$S" accept "$o"; [ "$rc" -eq 0 ] && accepted=$((accepted + 1)); done <"$T/o17"
check "17 subcontracts of 100.00 under it, all accepted" test "$subs.$accepted" = 17.17
new "municipality pays the upfront part" "$M" pay "$K17" --amount 9577.33 --date 2026-12-10
sync "$S" "$L" "$M"
sync "$M" "$L"
new "lead closes it: code 32" "$L" close "$A17" --outcome stopped --stop-code 32 --date 2027-02-15
sync "$L" "$M"
CB0=$(bal "$S" "$LK" clawback_cents)
run "$M" --json clawback "$A17" --auto
CB17=$(jget "$T/out" .id)
run "$M" --json show "$CB17"
# 478867 over the weights 1266600 (the lead's own part) and 17 x 10000:
# 422200 and 17 parts of 3333 or 3334, 56667 together (largest remainder)
check "clawback --auto of 478867 passes on 17 shares of 3333 or 3334, 56667 together" \
	jq -e '(.fields.passed_on | length) == 17 and ([.fields.passed_on[].amount_cents] | add) == 56667
	       and all(.fields.passed_on[]; .amount_cents == 3333 or .amount_cents == 3334)' "$T/out"
sync "$M" "$L" "$S"
check "the subcontractor, which holds the allocation as a stub, owes all 17 shares: 56667 more clawed back" \
	test "$(bal "$S" "$LK" clawback_cents)" = $((CB0 + 56667))
R0=$(bal "$S" "$LK" repaid_cents)
new "the subcontractor repays its 17 shares in one payment of 566.67" "$S" pay "$CB17" --amount 566.67 --date 2027-03-02
RP17=$ID
refused overpayment "a cent more than its 17 shares" "$S" pay "$CB17" --amount 0.01 --date 2027-03-03
check "... repaid on its side: 56667 more" test "$(bal "$S" "$LK" repaid_cents)" = $((R0 + 56667))
sync "$S" "$L"
check "... and at the lead provider, which holds the 17 debts: repaid 56667 more" \
	test "$(bal "$L" "$SK" repaid_cents)" = $((R0 + 56667))
new "the subcontractor voids the repayment" "$S" correct "$RP17" --reason "paid from the wrong account"
check "... its repaid is as before" test "$(bal "$S" "$LK" repaid_cents)" = "$R0"
new "... and pays 200.00 of it again" "$S" pay "$CB17" --amount 200 --date 2027-03-04
check "... repaid 20000 more than before" test "$(bal "$S" "$LK" repaid_cents)" = $((R0 + 20000))

# 65 subcontracts under one allocation: more than a clawback passes on, refused whole
new "allocate a fourth J03/4 herstel" "$M" allocate --contract RGW-J-2026 --client HRN-2026-0065 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30
A65=$ID
sync "$M" "$L"
new "lead claims its upfront part" "$L" claim "$A65" --installment upfront
K65=$ID
: >"$T/o65"
i=0
while [ "$i" -lt 65 ]; do
	i=$((i + 1))
	"$K" --home "$L" subcontract "$A65" --to "Hulp Onder VOF" --amount 1 --from 2026-12-01 >>"$T/o65" 2>/dev/null
done
sync "$L" "$M" "$S"
accepted=0
while read -r o; do "$K" --home "$S" accept "$o" >/dev/null 2>&1 && accepted=$((accepted + 1)); done <"$T/o65"
check "65 subcontracts of 1.00 under it, all accepted" test "$(wc -l <"$T/o65" | tr -d ' ').$accepted" = 65.65
new "municipality pays the upfront part" "$M" pay "$K65" --amount 9577.33 --date 2026-12-10
sync "$S" "$L" "$M"
sync "$M" "$L"
new "lead closes it: code 32" "$L" close "$A65" --outcome stopped --stop-code 32 --date 2027-02-15
sync "$L" "$M"
refused too-many-shares "clawback --auto shared by 65 subcontracts (at most 64 shares)" "$M" clawback "$A65" --auto
check "... saying so and what to do" grep -q "more than 64 accepted subcontracts .* record it with --amount" "$T/err"

# --- hard rules ------------------------------------------------------------------------
refused wrong-role "a lead provider publishes a contract" "$L" contract add --ref X-1 --domain jeugd --municipality 0405 \
	--from 2026-01-01 --until 2026-12-31 --tariffs "$TARIFFS"
refused wrong-role "a lead provider allocates" "$L" allocate --contract RGW-J-2026 --client HRN-X --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01
refused wrong-role "a lead provider indexes the contract" "$L" contract index RGW-J-2026 --year 2027 --pct 3
refused not-allocation-holder "the subcontractor subcontracts the allocation" "$S" subcontract "$A1" --to "Zorg Hoofd BV" --amount 10 --from 2026-12-01
refused not-offered-party "the lead accepts its own offer" "$L" accept "$O1"
refused not-payee "the lead confirms a payment to the subcontractor" "$L" receipt "$P2"
refused not-payee "the subcontractor claims on the allocation" "$S" claim "$A1" --installment upfront --amount 10
refused not-payer "the subcontractor pays a claim addressed to the lead" "$S" pay "$K2" --amount 1 --date 2027-01-01
refused wrong-role "a lead provider claws back" "$L" clawback "$A3" --amount 10
refused clawback-exceeds-paid "a manual clawback of a herstel allocation above its up-front part paid (9577.33 of 14366.00 paid)" \
	"$M" clawback "$A1" --amount 10000
refused unknown-reference "accepting an offer that is not here" "$S" accept 0101010101010101010101010101010101010101010101010101010101010101
refused wrong-reference-type "accepting an allocation" "$S" accept "$A1"
refused wrong-reference-type "paying an offer" "$M" pay "$A1" --amount 1 --date 2027-01-01
refused not-in-tariff-table "an intensity not in the table" "$M" allocate --contract RGW-J-2026 --client HRN-X --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 7 --kind herstel --from 2026-12-01
refused not-in-tariff-table "a component not in the table" "$M" allocate --contract RGW-J-2026 --client HRN-X --provider "Zorg Hoofd BV" \
	--component C-XXXX --units 3 --from 2026-12-01
new "a component in the table: C-VERV 4 rides" "$M" --json allocate --contract RGW-J-2026 --client HRN-X --provider "Zorg Hoofd BV" \
	--component C-VERV --units 4 --from 2026-12-01
check "component amount 4 x 1250 = 5000" jq -e '.amount_cents == 5000' "$T/out"
refused date-outside-validity "an allocation after the contract ends" "$M" allocate --contract RGW-J-2026 --client HRN-X \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 4 --kind herstel --from 2029-01-01
refused date-outside-validity "a delivery outside the subcontract period" "$S" deliver "$O1" --period 2025-01 --units 1 --unit hour
refused amount-not-tariff "a maatwerk amount without a reason is caught in the ledger too" "$M" allocate --contract RGW-J-2026 \
	--client HRN-X --provider "Zorg Hoofd BV" --profile J03 --intensity 4 --kind herstel --from 2026-12-01 --amount 100 --maatwerk " "
new "a maatwerk allocation with a reason" "$M" allocate --contract RGW-J-2026 --client HRN-Y --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01 --amount 15000 --maatwerk "extra begeleiding op school"
refused invalid-amount "a payment of 0" "$M" pay "$K4" --amount 0 --date 2027-07-15
refused invalid-amount "a claim of 0" "$S" claim "$O1" --installment 2027-02 --amount 0
refused amount-overflow "units x unit tariff overflowing" "$L" subcontract "$A2" --to "Hulp Onder VOF" --units 99999999999 \
	--unit-tariff 99999999999 --unit hour --from 2026-12-01
refused already-answered "a second acceptance" "$S" accept "$O1"
refused already-answered "a refusal after acceptance" "$S" refuse "$O1" --reason "te laat"
refused overpayment "paying a claim beyond its amount" "$M" pay "$K1" --amount 0.01 --date 2026-12-06
refused allocation-closed "closing a closed allocation again" "$L" close "$A1" --outcome partial --stop-code 31 --date 2027-07-01
refused allocation-closed "subcontracting a closed allocation" "$L" subcontract "$A1" --to "Hulp Onder VOF" --amount 10 --from 2027-01-01
refused installment-claimed "the up-front part claimed twice" "$L" claim "$A1" --installment upfront
refused sub-subcontracting-forbidden "a subcontractor passing work on" "$S" subcontract "$O1" --to "Zorg Hoofd BV" --amount 10 --from 2026-12-01
refused unknown-stop-code "a stop code not in the jeugd list" "$L" close "$A2" --outcome stopped --stop-code 99 --date 2027-02-01
new "allocate a third J03/4 for stop-code checks" "$M" allocate --contract RGW-J-2026 --client HRN-2026-0004 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01
A4=$ID
sync "$M" "$L"
refused unknown-stop-code "a Wmo-only stop code (19) on a jeugd allocation" "$L" close "$A4" --outcome achieved --stop-code 19 --date 2027-02-01
refused unknown-stop-code "an early-stop rule for an unknown code" "$M" contract add --ref X-2 --domain jeugd --municipality 0405 \
	--from 2026-01-01 --until 2026-12-31 --tariffs "$TARIFFS" --early-stop 99=50
refused bsn-in-text "a client reference that is a BSN" "$M" allocate --contract RGW-J-2026 --client 111222333 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-12-01
refused bsn-in-text "a delivery note with a BSN" "$S" deliver "$O1" --period 2027-02 --units 1 --unit hour --note "client 1112.22.333"
refused bsn-in-text "a refusal reason with a BSN" "$S" refuse "$O4" --reason "bsn 111222333"
refused duplicate-reference "a second contract with the same reference" "$M" contract add --ref RGW-J-2026 --domain jeugd \
	--municipality 0405 --from 2026-01-01 --until 2026-12-31 --tariffs "$TARIFFS"
new "an offer on the third allocation" "$L" subcontract "$A4" --to "Hulp Onder VOF" --amount 10 --from 2026-12-01
O5=$ID
sync "$L" "$S"
refused offer-not-accepted "claiming on an offer not accepted" "$S" claim "$O5" --installment upfront

new "the subcontractor refuses the offer, with a reason" "$S" refuse "$O5" --reason "geen capaciteit in december"
refused already-answered "accepting a refused offer" "$S" accept "$O5"
refused duplicate-indexation "indexing the same year twice" "$M" contract index RGW-W-2026 --year 2027 --pct 1
new "a contract that names its eligible subcontractors" "$M" contract add --ref RGW-E --domain jeugd --municipality 0405 \
	--from 2026-01-01 --until 2026-12-31 --tariffs "$TARIFFS" --eligible "Zorg Hoofd BV"
new "an allocation under it" "$M" allocate --contract RGW-E --client HRN-E --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-06-01
AE=$ID
sync "$M" "$L"
refused party-not-eligible "subcontracting to a party the contract does not name" "$L" subcontract "$AE" --to "Hulp Onder VOF" \
	--amount 10 --from 2026-06-01

# entries received by import pass the same rules: a claim the lead refuses here is rejected there
run "$L" --json log --type claim --limit 1
check "log --type claim shows claims as applied" jq -e 'length == 1 and .[0].status == "applied"' "$T/out"

# --- need to know: a subcontractor that holds only what it may read -------------------
# The export to it is filtered as sync filters: an entry whose audience does
# not name it arrives as a stub (signed header, no body).
S2=$T/sub2
run "$S2" init --name "Praktijk Twee" --role subcontractor --no-passphrase; S2K=$(cat "$T/out")
"$K" --home "$S2" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
new "municipality certifies a second subcontractor" "$M" party certify "$S2K" --name "Praktijk Twee" --role subcontractor
sync "$M" "$L"
# feed FROM: what FROM holds, bodies only where S2 may read them, imported into S2
feed() {
	"$K" --home "$1" export -o "$T/x.ndjson"
	jq -c --arg k "$S2K" 'if (.audience | length) > 0 and .author != $k and ((.audience | index($k)) == null)
		then .body = null | .fields = null | del(.salt) else . end' "$T/x.ndjson" >"$T/x2.ndjson"
	"$K" --home "$S2" import "$T/x2.ndjson" >/dev/null 2>"$T/imperr" || { nok "need-to-know import"; sed 's/^/# /' "$T/imperr"; }
}
new "lead subcontracts 2000.00 of the third allocation to it" "$L" subcontract "$A4" --to "Praktijk Twee" --amount 2000 --from 2026-12-01
O6=$ID
feed "$L"
run "$S2" --json show "$A4"
check "the allocation is only a stub there" jq -e '.status == "stub" and .body == null' "$T/out"
new "it accepts the offer on an allocation it cannot read" "$S2" accept "$O6"
run "$S2" --json claim "$O6" --installment upfront
K7=$(jget "$T/out" .id)
check "and claims 2/3 of 2000.00 = 133333" jq -e '.amount_cents == 133333' "$T/out"
new "it delivers on it" "$S2" deliver "$O6" --period 2026-12 --units 5 --unit hour
refused sub-subcontracting-forbidden "passing it on, checked against the public contract the offer names" \
	"$S2" subcontract "$O6" --to "Hulp Onder VOF" --amount 10 --from 2026-12-01
sync "$S2" "$L" "$M"
new "lead pays it" "$L" pay "$K7" --amount 1333.33 --date 2027-01-05
P7=$ID
feed "$L"
new "it confirms the payment" "$S2" receipt "$P7"
sync "$S2" "$L" "$M"
run "$S2" --json balance
check "its balance with the lead: 133333 claimed, paid and received" \
	jq -e 'length == 1 and .[0].claimed_cents == 133333 and .[0].paid_cents == 133333 and .[0].received_cents == 133333 and .[0].outstanding_cents == 0' "$T/out"
new "lead offers it a second part" "$L" subcontract "$A4" --to "Praktijk Twee" --amount 50 --from 2026-12-01
O7=$ID
feed "$L"
new "it refuses that one" "$S2" refuse "$O7" --reason "geen plek"
new "lead claims the third allocation's upfront part" "$L" claim "$A4" --installment upfront
K8=$ID
sync "$L" "$M"
new "municipality pays it" "$M" pay "$K8" --amount 9577.33 --date 2027-01-10
sync "$M" "$L"
new "lead closes it: early stop 32" "$L" close "$A4" --outcome stopped --stop-code 32 --date 2027-02-01
sync "$L" "$M"
run "$M" --json clawback "$A4" --auto
CB2=$(jget "$T/out" .id)
check "clawback --auto 478867" jq -e '.amount_cents == 478867' "$T/out"
run "$M" --json show "$CB2"
check "only the accepted subcontract shares it: 66667 to the second subcontractor" \
	jq -e --arg s "$S2K" '.fields.passed_on == [{"party": $s, "amount_cents": 66667}]' "$T/out"
sync "$M" "$L"
feed "$L"
run "$S2" --json balance
check "the subcontractor that cannot read the allocation still records its share" \
	jq -e '.[0].clawback_cents == 66667 and .[0].outstanding_cents == -66667' "$T/out"
refused reference-withheld "closing an allocation whose body is withheld" "$S2" close "$A4" --outcome stopped --stop-code 32 --date 2027-02-01

# --- entries that arrive before what they refer to wait, then apply ----------------------
S3=$T/sub3
run "$S3" init --name "Derde" --role subcontractor --no-passphrase
"$K" --home "$S3" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
"$K" --home "$L" export --type claim -o "$T/claims.ndjson"
run "$S3" --json import "$T/claims.ndjson"
check "claims without their certificates and allocations wait as pending" jq -e '.pending > 0 and .applied == 0' "$T/out"
"$K" --home "$L" export -o "$T/all.ndjson"
run "$S3" --json import "$T/all.ndjson"
check "once the rest arrives nothing waits" jq -e '.pending == 0 and .rejected == 0' "$T/out"
check "and the balances there match the lead's own" test "$("$K" --home "$S3" --json log --type claim | jq '[.[] | select(.status == "applied")] | length')" = \
	"$("$K" --home "$L" --json log --type claim | jq '[.[] | select(.status == "applied")] | length')"

# --- the same entries in another order give the same outcome --------------------------------
for h in "$M" "$L" "$S" "$S2"; do "$K" --home "$h" export -o "$h.ndjson"; done
for x in x1 x2; do
	run "$T/$x" init --name "Accountant $x" --role auditor --no-passphrase
	"$K" --home "$T/$x" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
done
for h in "$S2" "$S" "$L" "$M"; do "$K" --home "$T/x1" import "$h.ndjson" >/dev/null; done
for h in "$M" "$L" "$S" "$S2"; do "$K" --home "$T/x2" import "$h.ndjson" >/dev/null; done
status() { "$K" --home "$1" --json log | jq -c '[.[] | {id, status, rule}] | sort_by(.id)'; }
check "two nodes importing in opposite orders hold every entry with the same status" test "$(status "$T/x1")" = "$(status "$T/x2")"
check "and nothing there is rejected or pending" sh -c "'$K' --home '$T/x1' --json log | jq -e 'all(.[]; .status == \"applied\" or .status == \"void\")' >/dev/null"

# --- --help for every command ----------------------------------------------------------
for cmd in contract allocate subcontract accept refuse deliver claim pay receipt close clawback correct balance; do
	run "$M" "$cmd" --help
	if [ "$rc" -eq 0 ] && grep -q "^ *\(usage: \)\{0,1\}keten $cmd" "$T/out"; then ok "$cmd --help"; else nok "$cmd --help (exit $rc)"; fi
done

echo "# $n tests, $failed failed"
[ "$failed" -eq 0 ]
