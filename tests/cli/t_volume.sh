#!/bin/sh
# t_volume.sh — volumes (omvang) on allocations and the WJ756 units,
# through the keten binary, with a municipality, a lead provider and a
# subcontractor exchanging entries by export/import:
#   1. a Wmo arrangement needs a volume (wmo-needs-volume); a Jeugd one not;
#   2. WJ756 words only: piece (with its hint), day, week, month refused
#      (invalid-unit), an unknown frequency (invalid-frequency); the
#      example tariff table's components read as piece-effort and hour,
#      a bare 'stuk' refused;
#   3. monthly hours: a month above the volume (delivered-above-volume), a
#      claimed month under 80% (delivered-below-volume), exactly 80% and
#      an unclaimed month not judged, a claimed month with nothing
#      delivered; the contract's own threshold (50%);
#   4. weekly hours: per month volume x days / 7, to the hundredth;
#   5. a total: all deliveries against it;
#   6. a Wmo transport component per ride: delivered in rides (the old
#      rule refused it), hours refused (unit-not-allocated), above its
#      units in total; deliveries in minutes on hours (wmo-needs-hours);
#   7. the same findings from the lead provider's side.
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
state() { "$K" --home "$1" --json show "$2" | jq -r ".state | $3"; }
# finding HOME KIND DETAIL-PATTERN ID...: KIND with a detail matching the
# pattern and every ID as evidence, in table, CSV and JSON
finding() {
	h=$1; kind=$2; pat=$3; shift 3
	"$K" --home "$h" reconcile >"$T/rt" 2>/dev/null
	"$K" --home "$h" reconcile --format csv >"$T/rc" 2>/dev/null
	"$K" --home "$h" --json reconcile >"$T/rj" 2>/dev/null
	good=1
	jq -e --arg k "$kind" --arg p "$pat" '[.findings[] | select(.kind == $k and (.detail | test($p)))] | length == 1' "$T/rj" >/dev/null || good=0
	grep -q "^finding,$kind,.*$pat" "$T/rc" || good=0
	grep -A1 "^$kind " "$T/rt" | grep -q "$pat" || good=0
	for id in "$@"; do
		jq -e --arg k "$kind" --arg p "$pat" --arg id "$id" \
			'[.findings[] | select(.kind == $k and (.detail | test($p))) | .evidence[] | select(.id == $id)] | length == 1' "$T/rj" >/dev/null || good=0
		grep "^finding,$kind,.*$pat" "$T/rc" | grep -q "$id" || good=0
		grep -A1 "^$kind " "$T/rt" | grep -B1 "$pat" | grep -q "$(printf %.8s "$id")" || good=0
	done
	[ $good -eq 1 ]
}
# count HOME KIND SUBJECT: findings of KIND about SUBJECT (JSON)
count() { "$K" --home "$1" --json reconcile | jq --arg k "$2" --arg s "$3" '[.findings[] | select(.kind == $k and .subject == $s)] | length'; }

# --- homes, contracts ------------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S" init --name "Hulp Onder VOF" --role subcontractor --agb 87654321 --no-passphrase; SK=$(cat "$T/out")
for h in "$M" "$L" "$S"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
new "municipality certifies itself" "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405
new "it certifies the lead provider" "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678
new "it certifies the subcontractor" "$M" party certify "$SK" --name "Hulp Onder VOF" --role subcontractor --agb 87654321
new "wmo contract (delivered below: the default 80%)" "$M" contract add --ref RV-W --domain wmo --municipality 0405 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS"
new "wmo contract, delivered below 50%" "$M" contract add --ref RV-W50 --domain wmo --municipality 0405 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --delivered-below 50
new "jeugd contract" "$M" contract add --ref RV-J --domain jeugd --municipality 0405 --from 2026-01-01 --until 2028-12-31 \
	--tariffs "$TARIFFS"
run "$M" --json contract show RV-W
check "the example table's components: rides and consults piece-effort, diagnostics hour" \
	jq -e '[.components[] | "\(.code)=\(.unit)"] | sort == ["C-DIAG=hour", "C-MEDC=piece-effort", "C-VERV=piece-effort"]' "$T/out"
printf 'domain,profile,profile_name,intensity,kind,tariff_cents,per\nwmo,W02,x,A,herstel,100,traject\ncomponent,C-X,x,-,pxq,100,stuk\n' >"$T/stuk.csv"
run "$M" contract add --ref RV-STUK --domain wmo --municipality 0405 --from 2026-01-01 --until 2026-12-31 --tariffs "$T/stuk.csv"
check "a tariff table with 'stuk' (no WJ756 unit: 82 or 84) is refused (65)" sh -c '[ "$1" -eq 65 ] && grep -q "unit .stuk. is not known" "$2"' _ "$rc" "$T/err"
sync "$M" "$L" "$S"

# --- 1, 2. volume required for Wmo, WJ756 words ---------------------------------------
refused wmo-needs-volume "a Wmo allocation without a volume" "$M" allocate --contract RV-W --client HRN-V1 \
	--provider "Zorg Hoofd BV" --profile W02 --intensity B --kind duurzaam --from 2026-01-01 --until 2026-06-30
refused invalid-unit "unit piece" "$M" allocate --volume 8 --unit piece --frequency month --contract RV-W --client HRN-V1 \
	--provider "Zorg Hoofd BV" --profile W02 --intensity B --kind duurzaam --from 2026-01-01 --until 2026-06-30
grep -q "piece-output (WJ756 82) or piece-effort (84)" "$T/err" && ok "its hint: piece-output or piece-effort" || nok "piece hint"
for u in day week month; do
	refused invalid-unit "unit $u (no WJ756 code)" "$M" allocate --volume 8 --unit "$u" --frequency month --contract RV-W \
		--client HRN-V1 --provider "Zorg Hoofd BV" --profile W02 --intensity B --kind duurzaam --from 2026-01-01
done
refused invalid-frequency "frequency fortnight" "$M" allocate --volume 8 --unit hour --frequency fortnight --contract RV-W \
	--client HRN-V1 --provider "Zorg Hoofd BV" --profile W02 --intensity B --kind duurzaam --from 2026-01-01
run "$M" allocate --volume 8 --unit hour --contract RV-W --client HRN-V1 --provider "Zorg Hoofd BV" --profile W02 \
	--intensity B --kind duurzaam --from 2026-01-01
check "a volume without a frequency: a usage error (64)" test "$rc" -eq 64
new "a Jeugd allocation needs no volume" "$M" allocate --contract RV-J --client HRN-J1 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 3 --kind duurzaam --from 2026-01-01 --until 2026-06-30
J1=$ID
new "V1: W02/B duurzaam, 8 hours a month, 2026-01 .. 2026-06" "$M" allocate --contract RV-W --client HRN-V1 \
	--provider "Zorg Hoofd BV" --profile W02 --intensity B --kind duurzaam --from 2026-01-01 --until 2026-06-30 \
	--volume 8 --unit hour --frequency month
V1=$ID
check "show V1: volume 800 hundredths of an hour a month" test "$(state "$M" "$V1" '[.volume, .volume_unit, .frequency] | join(" ")')" = "800 hour month"
sync "$M" "$L"

# --- 3. monthly hours ------------------------------------------------------------------------
new "2026-01: 10.50 hours (above 8)" "$L" deliver "$V1" --period 2026-01 --units 10.5 --unit hour; DJ=$ID
new "2026-02: 7 hours" "$L" deliver "$V1" --period 2026-02 --units 7 --unit hour
new "2026-03: 5.99 hours" "$L" deliver "$V1" --period 2026-03 --units 5.99 --unit hour; DM=$ID
new "2026-04: 6.40 hours (exactly 80%)" "$L" deliver "$V1" --period 2026-04 --units 6.4 --unit hour
new "2026-06: 1 hour, never claimed" "$L" deliver "$V1" --period 2026-06 --units 1 --unit hour
refused wmo-needs-hours "a delivery in minutes on an allocation in hours" "$L" deliver "$V1" --period 2026-02 --units 60 --unit minute
refused wmo-needs-hours "a delivery in rides on an allocation in hours" "$L" deliver "$V1" --period 2026-02 --units 1 --unit piece-effort
for m in 2026-01 2026-02 2026-03 2026-04 2026-05; do
	run "$L" --json claim "$V1" --installment "$m"
	[ "$rc" -eq 0 ] && eval "C_$(echo "$m" | tr -d -)=$(jq -r .id "$T/out")"
done
check "the claims of 2026-01 .. 2026-05 recorded" test -n "${C_202605:-}"
sync "$L" "$M"
check "delivered-above-volume: 2026-01, 10.50 hours of 8.00 (V1 and the delivery)" \
	finding "$M" delivered-above-volume "2026-01: 10.50 hour delivered, the volume allows 8.00" "$V1" "$DJ"
check "delivered-below-volume: 2026-03 claimed, 5.99 of 8.00 (V1, the delivery, the claim)" \
	finding "$M" delivered-below-volume "2026-03 claimed: 5.99 hours delivered of 8.00" "$V1" "$DM" "$C_202603"
check "delivered-below-volume: 2026-05 claimed with nothing delivered" \
	finding "$M" delivered-below-volume "2026-05 claimed: 0.00 hours delivered of 8.00" "$V1" "$C_202605"
check "three volume findings on V1: 2026-02 (87.5%), 2026-04 (80.0%) and the unclaimed 2026-06 are not" test \
	"$(count "$M" delivered-above-volume "$V1")/$(count "$M" delivered-below-volume "$V1")" = "1/2"
sync "$M" "$L"
check "the lead provider finds the same (below, 2026-03)" \
	finding "$L" delivered-below-volume "2026-03 claimed: 5.99 hours delivered of 8.00" "$V1" "$DM" "$C_202603"
check "and the same counts" test "$(count "$L" delivered-above-volume "$V1")/$(count "$L" delivered-below-volume "$V1")" = "1/2"
new "V3: the same under the 50% contract" "$M" allocate --contract RV-W50 --client HRN-V3 --provider "Zorg Hoofd BV" \
	--profile W02 --intensity B --kind duurzaam --from 2026-01-01 --until 2026-06-30 --volume 8 --unit hour --frequency month
V3=$ID
sync "$M" "$L"
new "V3 2026-03: 5.99 hours" "$L" deliver "$V3" --period 2026-03 --units 5.99 --unit hour
new "V3 2026-03 claimed" "$L" claim "$V3" --installment 2026-03
sync "$L" "$M"
check "74.9% is not under the contract's 50%" test "$(count "$M" delivered-below-volume "$V3")" = 0

# --- 4. weekly -----------------------------------------------------------------------------
new "V2: W01/A duurzaam, 2 hours a week" "$M" allocate --contract RV-W --client HRN-V2 --provider "Zorg Hoofd BV" \
	--profile W01 --intensity A --kind duurzaam --from 2026-01-01 --until 2026-12-31 --volume 2 --unit hour --frequency week
V2=$ID
sync "$M" "$L"
new "2026-04 (30 days: 2 x 30 / 7 = 8.571): 8.57 hours" "$L" deliver "$V2" --period 2026-04 --units 8.57 --unit hour
new "2026-06 (30 days): 8.58 hours" "$L" deliver "$V2" --period 2026-06 --units 8.58 --unit hour; DW=$ID
sync "$L" "$M"
check "delivered-above-volume: 2026-06, 8.58 of 8.57 (week)" finding "$M" delivered-above-volume \
	"2026-06: 8.58 hour delivered, the volume allows 8.57 .week." "$V2" "$DW"
check "2026-04's 8.57 is within it" test "$(count "$M" delivered-above-volume "$V2")" = 1

# --- 5. total ------------------------------------------------------------------------------
new "V4: W01/A herstel, 20 hours in total" "$M" allocate --contract RV-W --client HRN-V4 --provider "Zorg Hoofd BV" \
	--profile W01 --intensity A --kind herstel --from 2026-01-01 --until 2026-12-31 --volume 20 --unit hour --frequency total
V4=$ID
sync "$M" "$L"
new "12 hours in 2026-02" "$L" deliver "$V4" --period 2026-02 --units 12 --unit hour; DT1=$ID
new "8.01 hours in 2026-05" "$L" deliver "$V4" --period 2026-05 --units 8.01 --unit hour; DT2=$ID
sync "$L" "$M"
check "delivered-above-volume: 20.01 hours in all of 20.00" finding "$M" delivered-above-volume \
	"20.01 hour delivered in all, the volume is 20.00 in total" "$V4" "$DT1" "$DT2"

# --- 6. a Wmo transport component --------------------------------------------------------------
refused invalid-unit "a component volume in another unit than the component's" "$M" allocate --contract RV-W --client HRN-T \
	--provider "Zorg Hoofd BV" --component C-VERV --units 10 --from 2026-01-01 --volume 10 --unit hour --frequency total
new "T1: C-VERV, 10 rides (its units are its volume)" "$M" allocate --contract RV-W --client HRN-T --provider "Zorg Hoofd BV" \
	--component C-VERV --units 10 --from 2026-01-01 --until 2026-12-31
T1=$ID
check "show T1: volume 10 rides in total" test "$(state "$M" "$T1" '[.volume, .volume_unit, .frequency] | join(" ")')" = "1000 piece-effort total"
sync "$M" "$L"
new "4 rides delivered in rides (WJ756 84): no longer refused" "$L" deliver "$T1" --period 2026-03 --units 4 --unit piece-effort
DR1=$ID
refused unit-not-allocated "rides delivered in hours" "$L" deliver "$T1" --period 2026-03 --units 4 --unit hour
new "7 more rides" "$L" deliver "$T1" --period 2026-04 --units 7 --unit piece-effort; DR2=$ID
sync "$L" "$M"
check "delivered-above-volume: 11 rides of 10" finding "$M" delivered-above-volume \
	"11.00 piece-effort delivered in all, the volume is 10.00 in total" "$T1" "$DR1" "$DR2"
new "a subcontract per ride" "$L" subcontract "$T1" --to "Hulp Onder VOF" --units 10 --unit-tariff 10 --unit piece-effort \
	--from 2026-01-01
SR=$ID
sync "$L" "$S"
new "the subcontractor accepts it" "$S" accept "$SR"
new "3 rides delivered on it" "$S" deliver "$SR" --period 2026-05 --units 3 --unit piece-effort; DS1=$ID
new "a claim of 30.00 for them (3 x 10.00)" "$S" claim "$SR" --installment units --deliveries "$DS1" --amount 30
KS1=$ID
new "2 rides more" "$S" deliver "$SR" --period 2026-06 --units 2 --unit piece-effort; DS2=$ID
new "a claim of 50.00 for those 2 rides" "$S" claim "$SR" --installment units --deliveries "$DS2" --amount 50
KS2=$ID
sync "$S" "$L"
check "claim-above-delivered: the 50.00 claimed for 2 rides of 10.00" finding "$L" claim-above-delivered \
	"a claim per unit of 5000 cents, more than the deliveries" "$KS2"
check "... and not the 30.00 claimed for 3 rides" test "$(count "$L" claim-above-delivered "$SR")" = 1
check "... the same on the subcontractor's node" finding "$S" claim-above-delivered "of 5000 cents" "$KS2"
refused invalid-unit "a subcontract per 'piece'" "$L" subcontract "$T1" --to "Hulp Onder VOF" --units 10 --unit-tariff 10 \
	--unit piece --from 2026-01-01

# --- Jeugd with and without a volume --------------------------------------------------------------
sync "$M" "$L"
new "a Jeugd allocation without a volume takes any WJ756 unit" "$L" deliver "$J1" --period 2026-02 --units 90 --unit minute
new "J2: J03/3 duurzaam with 6 hours a month" "$M" allocate --contract RV-J --client HRN-J2 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 3 --kind duurzaam --from 2026-01-01 --until 2026-06-30 --volume 6 --unit hour --frequency month
J2=$ID
sync "$M" "$L"
refused unit-not-allocated "minutes on a Jeugd allocation in hours" "$L" deliver "$J2" --period 2026-02 --units 90 --unit minute
new "hours on it" "$L" deliver "$J2" --period 2026-02 --units 1.5 --unit hour

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
