#!/bin/sh
# t_stops.sh — what a stop does to the final part, and pause and resume,
# through the keten binary with three homes that exchange entries by
# export/import (the municipality of Hoorn is the trust anchor):
#   1. the contract's final part per stop code (--stop-final) and the
#      defaults, as contract show lists them; bad lines refused;
#   2. after stop code 32 nothing of the final 1/3 is due: a final claim is
#      refused (final-not-due) whatever its amount, the clawback --auto
#      still works; after code 34 at 50% the default claim is what is due,
#      239434 of 478867 (half away from zero), a cent more refused;
#   3. a final part paid before a later stop, and a final claim the lead
#      provider made before it knew of the municipality's stop (accepted
#      when it arrives): reconcile lists final-after-stop with its
#      evidence in table, CSV and JSON, the same from both sides;
#   4. duurzaam: a month after the close date refused (month-after-close),
#      the month of the close pro rata (Wmo 31, a move);
#   5. stop code 20 pauses: a month wholly paused refused (month-paused),
#      months cut by a pause or resume pro rata over the days not paused
#      (one rounding per month: 27/31 of 159600 = 139006, where two
#      separately rounded pieces would give 139007), several pauses,
#      resume by the municipality, countersigned pause, closing a paused
#      allocation with 31; the refusals of pause and resume;
#   6. a pause is no early stop: no stop-without-clawback, no clawback
#      --auto; after resume and close 31 the whole final part is due;
#   7. a monthly subcontract under a closed allocation: the subcontractor's
#      node holds the allocation as a stub and cannot know, the lead
#      provider's node measures its claims against the cut months;
#   8. two nodes importing everything in opposite orders agree on every
#      entry's status; --help of close, resume and contract.
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
AS_OF=2028-01-31
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
# claimed DESC CENTS HOME ARGS...: a claim --json whose amount is CENTS; its id in $ID
claimed() {
	d=$1; want=$2; shift 2
	run "$@"
	ID=$(jq -r .id "$T/out" 2>/dev/null)
	got=$(jq -r .amount_cents "$T/out" 2>/dev/null)
	if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then ok "$d: $want"; else
		nok "$d: want $want, got '$got' (exit $rc)"; sed 's/^/# /' "$T/err"; fi
}
logcount() { "$K" --home "$1" log | wc -l | tr -d ' '; }
refused() {
	rule=$1; d=$2; h=$3; shift 3
	before=$(logcount "$h")
	run "$h" "$@"
	after=$(logcount "$h")
	if [ "$rc" -eq 65 ] && grep -q "refused by rule '$rule'" "$T/err" && [ "$before" = "$after" ]; then
		ok "refused: $d ($rule)"; else
		nok "refused: $d ($rule): exit $rc, log $before -> $after"; sed 's/^/# /' "$T/err"; fi
}
sync() {
	from=$1; shift
	"$K" --home "$from" export -o "$T/x.ndjson" || nok "export from $from"
	for to in "$@"; do
		"$K" --home "$to" import "$T/x.ndjson" >/dev/null 2>"$T/imperr" || { nok "import into $to"; sed 's/^/# /' "$T/imperr"; }
	done
}
# sync_s FROM: what FROM holds into the subcontractor, bodies only where it may read
# them (as sync sends them: other bodies arrive as stubs)
sync_s() {
	"$K" --home "$1" export -o "$T/x.ndjson"
	jq -c --arg k "$SK" 'if (.audience | length) > 0 and .author != $k and ((.audience | index($k)) == null)
		then .body = null | .fields = null | del(.salt) else . end' "$T/x.ndjson" >"$T/xs.ndjson"
	"$K" --home "$S" import "$T/xs.ndjson" >/dev/null 2>"$T/imperr" || { nok "need-to-know import"; sed 's/^/# /' "$T/imperr"; }
}
# finding HOME KIND SUBJECT: the JSON of reconcile's findings of KIND on SUBJECT in $T/f.json
finding() {
	"$K" --home "$1" reconcile --as-of "$AS_OF" --format json |
		jq --arg k "$2" --arg s "$3" '[.findings[] | select(.kind == $k and .subject == $s)]' >"$T/f.json"
}

# --- homes, contracts -------------------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S" init --name "Hulp Onder VOF" --role subcontractor --agb 87654321 --no-passphrase; SK=$(cat "$T/out")
for h in "$M" "$L" "$S"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
new "municipality certifies itself" "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405
new "municipality certifies the lead provider" "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678
new "municipality certifies the subcontractor" "$M" party certify "$SK" --name "Hulp Onder VOF" --role subcontractor --agb 87654321

# --- 1. the final part per stop code -----------------------------------------------------
new "contract add --stop-final 34=50,36=100 (and an early-stop rule for 20 that a pause must not trigger)" \
	"$M" contract add --ref STOP-J --domain jeugd --municipality 0405 --from 2026-01-01 --until 2028-12-31 \
	--tariffs "$TARIFFS" --early-stop 32=50:sub,33=100,20=100 --stop-final 34=50,36=100
new "wmo contract with the defaults" "$M" contract add --ref STOP-W --domain wmo --municipality 0405 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS"
run "$M" --json contract show STOP-J
check "contract show: 34 at 50% and 36 at 100% signed, 31 100% and 32, 33, 02, 35, 37, 38, 39 0% by default, no line for 20" \
	jq -e '[.stop_final[] | "\(.stop_code)=\(.final_bp):\(.from_contract)"] ==
	["02=0:false","31=10000:false","32=0:false","33=0:false","34=5000:true","35=0:false","36=10000:true","37=0:false","38=0:false","39=0:false"]' "$T/out"
run "$M" --json contract show STOP-W
check "wmo defaults: 19 (according to plan) 100%; 31 (a move), 21, 22, 23 and the rest 0%" \
	jq -e '[.stop_final[] | "\(.stop_code)=\(.final_bp)"] ==
	["02=0","19=10000","21=0","22=0","23=0","31=0","36=0","37=0","38=0","39=0"]' "$T/out"
refused unknown-stop-code "a final share for a code not in the list" "$M" contract add --ref X1 --domain jeugd \
	--municipality 0405 --from 2026-01-01 --until 2026-12-31 --tariffs "$TARIFFS" --stop-final 99=50
refused unknown-stop-code "a Wmo-only code in a jeugd contract" "$M" contract add --ref X2 --domain jeugd \
	--municipality 0405 --from 2026-01-01 --until 2026-12-31 --tariffs "$TARIFFS" --stop-final 19=100
refused invalid-stop-final "a final share for 20 (a pause ends nothing)" "$M" contract add --ref X3 --domain jeugd \
	--municipality 0405 --from 2026-01-01 --until 2026-12-31 --tariffs "$TARIFFS" --stop-final 20=50
refused invalid-stop-final "two shares for one code" "$M" contract add --ref X4 --domain jeugd \
	--municipality 0405 --from 2026-01-01 --until 2026-12-31 --tariffs "$TARIFFS" --stop-final 34=50,34=60
run "$M" contract add --ref X5 --domain jeugd --municipality 0405 --from 2026-01-01 --until 2026-12-31 \
	--tariffs "$TARIFFS" --stop-final 34=150
check "a share above 100% is a usage error (64)" [ "$rc" -eq 64 ]
sync "$M" "$L"
sync_s "$M"

alloc_h() { # client: a J03/4 herstel of 1436600 in 2027
	new "allocate J03/4 herstel for $1" "$M" allocate --contract STOP-J --client "$1" --provider "Zorg Hoofd BV" \
		--profile J03 --intensity 4 --kind herstel --from 2027-01-01 --until 2027-12-31
}

# --- 2. after stop code 32 nothing of the final part is due; 34 keeps 50% ----------------
alloc_h HRN-S1; A1=$ID
alloc_h HRN-S2; A2=$ID
sync "$M" "$L"
claimed "A1 upfront" 957733 "$L" --json claim "$A1"; K1=$ID
claimed "A2 upfront" 957733 "$L" --json claim "$A2"; K2=$ID
sync "$L" "$M"
new "municipality pays A1 upfront" "$M" pay "$K1" --amount 9577.33 --date 2027-01-20
new "municipality pays A2 upfront" "$M" pay "$K2" --amount 9577.33 --date 2027-01-20
sync "$M" "$L"
new "lead closes A1: stopped early by the client (32)" "$L" close "$A1" --outcome stopped --stop-code 32 --date 2027-05-31
new "lead closes A2: stopped early in agreement (34)" "$L" close "$A2" --outcome stopped --stop-code 34 --date 2027-05-31
refused final-not-due "A1: the default final claim after 32" "$L" claim "$A1"
refused final-not-due "A1: a final claim of 1 cent after 32" "$L" claim "$A1" --installment final --amount 0.01
grep -q "nothing of the final part (478867 cents) is due after stop code 32" "$T/err" &&
	ok "the refusal names the final part and the stop code" || nok "the refusal names the final part and the stop code"
refused final-not-due "A2: one cent above the 50% due (2394.35)" "$L" claim "$A2" --installment final --amount 2394.35
grep -q "final part due is 239434 cents (50.00% of 478867)" "$T/err" &&
	ok "the refusal says what is due" || nok "the refusal says what is due"
claimed "A2: the default final claim is 50% of 478867, half away from zero" 239434 "$L" --json claim "$A2"; K2F=$ID
sync "$L" "$M"
run "$M" --json clawback "$A1" --auto
check "clawback --auto after 32 still works: 50% of 957733 = 478867" jq -e '.amount_cents == 478867' "$T/out"
new "municipality pays A2's final part due" "$M" pay "$K2F" --amount 2394.34 --date 2027-06-10
finding "$M" final-after-stop "$A2"
check "paying what is due is no final-after-stop" jq -e 'length == 0' "$T/f.json"

# --- 3. final-after-stop -------------------------------------------------------------------
alloc_h HRN-S3; A3=$ID
alloc_h HRN-S4; A4=$ID
sync "$M" "$L"
claimed "A3 final claimed before any result" 478867 "$L" --json claim "$A3" --installment final; K3=$ID
sync "$L" "$M"
new "municipality pays A3's final part" "$M" pay "$K3" --amount 4788.67 --date 2027-02-01; P3=$ID
sync "$M" "$L"
new "lead then closes A3 with 33 (stopped early by the provider)" "$L" close "$A3" --outcome stopped --stop-code 33 --date 2027-03-15
R3=$ID
sync "$L" "$M"
for h in "$M" "$L"; do
	finding "$h" final-after-stop "$A3"
	check "final-after-stop at $(basename "$h"): 478867 paid, none due" jq -e 'length == 1 and .[0].amount_cents == 478867' "$T/f.json"
	check "... evidence: the claim, its payment, the allocation and the result" jq -e --arg k "$K3" --arg p "$P3" \
		--arg a "$A3" --arg r "$R3" '[.[0].evidence[].id] == [$k, $p, $a, $r]' "$T/f.json"
	jq -c '.[0] | [.amount_cents, [.evidence[].id]]' "$T/f.json" >"$h.fas"
done
check "the same figures and evidence from both sides" cmp -s "$M.fas" "$L.fas"
run "$M" reconcile --as-of "$AS_OF" --format csv
check "CSV: a final-after-stop row with amount and evidence" \
	sh -c "grep '^finding,final-after-stop,$A3,' '$T/out' | awk -F, '\$16 == 478867 && \$17 == \"$K3 $P3 $A3 $R3\"' | grep -q ."
run "$M" reconcile --as-of "$AS_OF"
check "table: final-after-stop with its detail" sh -c "grep -q '^final-after-stop .*€ 4.788,67' '$T/out' && grep -q '0 due after stop code 33 (0.00%)' '$T/out'"
run "$M" reconcile --as-of "$AS_OF" --check
check "reconcile --check exits 1" [ "$rc" -eq 1 ]
run "$M" reconcile --as-of 2027-03-14 --format csv
check "as of the day before the stop there is no final-after-stop" sh -c "! grep -q '^finding,final-after-stop,$A3,' '$T/out'"

# a final claim made where the municipality's stop was not known yet
new "municipality closes A4 with 36 (initiated by the municipality; contract: 100%)" "$M" close "$A4" --outcome stopped \
	--stop-code 36 --date 2027-04-30
new "the lead, not yet synced, claims A4's final part" "$L" claim "$A4" --installment final
K4=$ID
alloc_h HRN-S5; A5=$ID
sync "$M" "$L"
new "municipality closes A5 with 35 (external circumstances: 0% by default)" "$M" close "$A5" --outcome stopped \
	--stop-code 35 --date 2027-04-30
claimed "the lead, before it hears of the stop, claims A5's final part" 478867 "$L" --json claim "$A5" --installment final
K5=$ID
sync "$L" "$M"
run "$M" --json show "$K5"
check "at the municipality the claim signed before the lead knew of the stop is applied, not rejected" \
	jq -e '.status == "applied"' "$T/out"
run "$M" --json show "$K4"
check "A4's final claim after 36 (100% kept) is applied too" jq -e '.status == "applied"' "$T/out"
new "municipality pays A5's final claim by mistake" "$M" pay "$K5" --amount 4788.67 --date 2027-05-10; P5=$ID
finding "$M" final-after-stop "$A5"
check "final-after-stop for the claim accepted on the lead's node: 478867" jq -e --arg k "$K5" --arg p "$P5" \
	'length == 1 and .[0].amount_cents == 478867 and .[0].evidence[0].id == $k and .[0].evidence[1].id == $p' "$T/f.json"
finding "$M" claim-above-agreed "$A5"
check "and claim-above-agreed: the claim asks 478867, 0 agreed after 35" jq -e \
	'length == 1 and .[0].amount_cents == 478867 and (.[0].detail | test("agreed 0"))' "$T/f.json"
finding "$M" final-after-stop "$A4"
check "no final-after-stop where the contract keeps the final part (36 = 100%)" jq -e 'length == 0' "$T/f.json"

# --- 4. duurzaam after the close ------------------------------------------------------------
new "allocate W02/B duurzaam 2027 (45200 a month)" "$M" allocate --contract STOP-W --client HRN-W1 \
	--provider "Zorg Hoofd BV" --profile W02 --intensity B --kind duurzaam --from 2027-01-01 --until 2027-12-31 \
	--volume 200 --unit hour --frequency total
W1=$ID
sync "$M" "$L"
new "lead closes it with Wmo 31 (a move) on 2027-06-15" "$L" close "$W1" --outcome partial --stop-code 31 --date 2027-06-15
claimed "May is whole" 45200 "$L" --json claim "$W1" --installment 2027-05
claimed "June, cut by the close on the 15th: 15/30 of 45200" 22600 "$L" --json claim "$W1" --installment 2027-06
refused month-after-close "July, after the close" "$L" claim "$W1" --installment 2027-07
refused month-after-close "December, with an amount" "$L" claim "$W1" --installment 2027-12 --amount 1
refused date-outside-validity "a month after the allocation's end still says so" "$L" claim "$W1" --installment 2028-01 --amount 1

# --- 5. pause and resume -----------------------------------------------------------------------
new "allocate J03/4 duurzaam 2027 (159600 a month)" "$M" allocate --contract STOP-J --client HRN-D1 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 4 --kind duurzaam --from 2027-01-01 --until 2027-12-31
D1=$ID
sync "$M" "$L"
refused not-paused "resuming an allocation that is not paused" "$L" resume "$D1" --date 2027-02-01
new "lead pauses it: stop code 20 after 10 March" "$L" close "$D1" --outcome partial --stop-code 20 --date 2027-03-10
refused already-paused "pausing it again while paused" "$L" close "$D1" --outcome partial --stop-code 20 --date 2027-03-20
refused invalid-date "a resume on the pause's own date" "$L" resume "$D1" --date 2027-03-10
claimed "March, cut by the pause: 10/31 of 159600 (51483.87)" 51484 "$L" --json claim "$D1" --installment 2027-03
refused month-paused "April, wholly in the pause" "$L" claim "$D1" --installment 2027-04
refused month-paused "May, while the pause is open" "$L" claim "$D1" --installment 2027-05 --amount 1
sync "$L" "$M"
new "the municipality countersigns the same pause" "$M" close "$D1" --outcome partial --stop-code 20 --date 2027-03-10
new "the municipality resumes it on 21 May (hervatting)" "$M" resume "$D1" --date 2027-05-21
run "$M" --json show "$ID"
check "the resume entry is of type resume" jq -e '.type == "resume" and .fields.date == "2027-05-21"' "$T/out"
sync "$M" "$L"
refused month-paused "April is still wholly paused" "$L" claim "$D1" --installment 2027-04
claimed "May, cut by the resume: 11/31 of 159600 (56632.26)" 56632 "$L" --json claim "$D1" --installment 2027-05
claimed "June is whole again" 159600 "$L" --json claim "$D1" --installment 2027-06
new "a second pause after 5 August" "$L" close "$D1" --outcome partial --stop-code 20 --date 2027-08-05
new "resumed on 10 August" "$L" resume "$D1" --date 2027-08-10
claimed "August without 6-9: 27/31 of 159600 in one rounding (139006.45; pieces 1-5 and 10-31 apart would make 139007)" \
	139006 "$L" --json claim "$D1" --installment 2027-08
new "a third pause after 15 October" "$L" close "$D1" --outcome partial --stop-code 20 --date 2027-10-15
claimed "October, 15/31 (77225.81)" 77226 "$L" --json claim "$D1" --installment 2027-10
new "the paused allocation is closed with 31 (according to plan) on 30 November" "$L" close "$D1" --outcome achieved \
	--stop-code 31 --date 2027-11-30
refused month-paused "November: paused until the close" "$L" claim "$D1" --installment 2027-11
refused month-after-close "December: after the close" "$L" claim "$D1" --installment 2027-12
refused allocation-closed "resuming a closed allocation" "$L" resume "$D1" --date 2027-12-01
refused allocation-closed "pausing a closed allocation" "$L" close "$D1" --outcome partial --stop-code 20 --date 2027-12-05
refused allocation-closed "closing it again" "$L" close "$D1" --outcome achieved --stop-code 31 --date 2027-12-05
run "$L" reconcile --as-of "$AS_OF" --format csv
check "reconcile agrees the months not paused and not after the close: 5 x 159600 + 51484 + 56632 + 139006 + 77226 = 1122348" \
	sh -c "grep '^line,allocation,$D1,' '$T/out' | awk -F, '\$9 == 1122348' | grep -q ."
run "$L" reconcile --as-of "$AS_OF" --format csv
check "and the Wmo line closed on 15 June: 5 x 45200 + 22600 = 248600" \
	sh -c "grep '^line,allocation,$W1,' '$T/out' | awk -F, '\$9 == 248600' | grep -q ."

# --- 6. a pause is no early stop ----------------------------------------------------------------
alloc_h HRN-S6; A6=$ID
sync "$M" "$L"
claimed "A6 upfront" 957733 "$L" --json claim "$A6"; K6=$ID
sync "$L" "$M"
new "municipality pays A6 upfront" "$M" pay "$K6" --amount 9577.33 --date 2027-01-20
sync "$M" "$L"
new "lead pauses A6 (20, for which the contract has an early-stop rule)" "$L" close "$A6" --outcome partial --stop-code 20 --date 2027-04-01
sync "$L" "$M"
finding "$M" stop-without-clawback "$A6"
check "no stop-without-clawback for a pause" jq -e 'length == 0' "$T/f.json"
before=$(logcount "$M")
run "$M" clawback "$A6" --auto
check "clawback --auto refuses a paused allocation (no stop yet), nothing stored" \
	sh -c "[ $rc -ne 0 ] && grep -q 'no stop entry yet' '$T/err' && [ $before = \$(\"$K\" --home '$M' log | wc -l | tr -d ' ') ]"
new "lead resumes A6" "$L" resume "$A6" --date 2027-05-01
new "and closes it according to plan" "$L" close "$A6" --outcome achieved --stop-code 31 --date 2027-12-31
claimed "after a pause and 31 the whole final part is due" 478867 "$L" --json claim "$A6"
finding "$M" stop-without-clawback "$A1"
check "the early stop A1 is clawed back: no stop-without-clawback" jq -e 'length == 0' "$T/f.json"

# --- 7. a monthly subcontract under a closed allocation ---------------------------------------------
new "allocate J03/4 duurzaam for a subcontract" "$M" allocate --contract STOP-J --client HRN-D2 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 4 --kind duurzaam --from 2027-01-01 --until 2027-12-31
D2=$ID
sync "$M" "$L"
new "lead subcontracts 600.00 a month" "$L" subcontract "$D2" --to "Hulp Onder VOF" --monthly 600 --from 2027-01-01
O2=$ID
sync_s "$L"
new "subcontractor accepts" "$S" accept "$O2"
new "lead closes D2 with 31 on 15 April" "$L" close "$D2" --outcome achieved --stop-code 31 --date 2027-04-15
sync_s "$L"
run "$S" --json show "$D2"
check "the subcontractor holds the allocation as a stub (its body is not the subcontractor's to see)" \
	jq -e '.status == "stub"' "$T/out"
claimed "on its node the subcontractor cannot know of the close: April computed whole" 60000 "$S" --json claim "$O2" --installment 2027-04
KS4=$ID
claimed "and May is accepted there" 60000 "$S" --json claim "$O2" --installment 2027-05
KS5=$ID
sync "$S" "$L"
run "$L" --json show "$KS5"
check "at the lead provider the subcontractor's claims apply (the close is not the subcontractor's)" jq -e '.status == "applied"' "$T/out"
"$K" --home "$L" reconcile --as-of "$AS_OF" --format json |
	jq --arg o "$O2" '[.findings[] | select(.kind == "claim-above-agreed" and .subject == $o)] | sort_by(.amount_cents)' >"$T/f.json"
check "the lead provider sees April above the 15/30 agreed (30000) and May above 0" jq -e --arg a "$KS4" --arg b "$KS5" \
	'length == 2 and .[0].amount_cents == 30000 and .[0].evidence[0].id == $a and .[1].amount_cents == 60000 and .[1].evidence[0].id == $b' "$T/f.json"

run "$L" reconcile --as-of "$AS_OF" --format csv
check "the lead provider's subcontract line agrees 3 x 60000 + 15/30 of April = 210000" \
	sh -c "grep '^line,subcontract,$O2,' '$T/out' | awk -F, '\$9 == 210000' | grep -q ."

# --- 8. the same entries in another order ------------------------------------------------------------
for h in "$M" "$L" "$S"; do "$K" --home "$h" export -o "$h.ndjson"; done
for x in x1 x2; do
	run "$T/$x" init --name "Accountant $x" --role auditor --no-passphrase
	"$K" --home "$T/$x" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
done
for h in "$S" "$L" "$M"; do "$K" --home "$T/x1" import "$h.ndjson" >/dev/null; done
for h in "$M" "$L" "$S"; do "$K" --home "$T/x2" import "$h.ndjson" >/dev/null; done
status() { "$K" --home "$1" --json log | jq -c '[.[] | {id, status, rule}] | sort_by(.id)'; }
check "two nodes importing in opposite orders hold every entry with the same status" test "$(status "$T/x1")" = "$(status "$T/x2")"
check "and nothing there is rejected or pending" sh -c "'$K' --home '$T/x1' --json log | jq -e 'all(.[]; .status == \"applied\" or .status == \"void\")' >/dev/null"
amounts() { "$K" --home "$1" reconcile --as-of "$AS_OF" --format json | jq -c '[.findings[] | [.kind, .amount_cents, [.evidence[].id]]] | sort'; }
check "and the same findings to the cent" test "$(amounts "$T/x1")" = "$(amounts "$T/x2")"

for cmd in close resume contract; do
	run "$M" "$cmd" --help
	if [ "$rc" -eq 0 ] && grep -q "keten $cmd" "$T/out"; then ok "$cmd --help"; else nok "$cmd --help (exit $rc)"; fi
done
run "$M" close --help
check "close --help explains the pause and the final part" sh -c "grep -q 'Stop code 20' '$T/out' && grep -q 'final 1/3' '$T/out'"
run "$M" contract --help
check "contract --help names --stop-final" grep -q -- "--stop-final" "$T/out"

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
