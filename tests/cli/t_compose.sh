#!/bin/sh
# t_compose.sh — a batch row and the single command with the same input
# give the same entry: the same body bytes and the same audience, because
# both are composed by the library's one composer (keten/record.h).
#
# Three homes (a municipality that is its own trust anchor, a lead provider
# and a subcontractor) exchange entries by export/import.  For each batch
# row type the entry is first recorded by the single command, voided with
# `keten correct`, then recorded anew from a batch file, and the two are
# compared through `keten --json show` (body in base64, audience):
#   - delivery on a subcontract (audience: payer, payee and municipality),
#     the target named by an id prefix in both; an empty note is none;
#   - claim on a herstel allocation without an installment: `keten claim`
#     twice gives "upfront" then "final", and so do two rows of one batch;
#   - claim of a duurzaam month with the amount computed;
#   - claim with an invoice number, a date and a period (two dates, or a
#     month), as the number, date and period columns of a batch row;
#   - claim on a fixed-amount subcontract without an installment;
#   - payment of a claim, with an end-to-end reference;
#   - receipt of a payment with the payment's amount by default;
# and a claim without a default installment is refused by both.
# One line per check: "ok N - ..." or "not ok N - ...".  Exit 1 on failure.
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
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else nok "$d"; fi; }
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
# batch DESC HOME FILE: keten batch; the ids of its rows in $B1, $B2, ...
batch() {
	d=$1; shift
	run "$@"
	B1=$(sed -n 1p "$T/out"); B2=$(sed -n 2p "$T/out")
	if [ "$rc" -eq 0 ] && printf '%s\n' "$B1" | grep -Eq '^[0-9a-f]{64}$'; then ok "$d"; else
		nok "$d (exit $rc)"; sed 's/^/# /' "$T/err"; fi
}
# sync FROM TO...: export FROM, import into each TO
sync() {
	from=$1; shift
	"$K" --home "$from" export -o "$T/x.ndjson" || nok "export from $from"
	for to in "$@"; do
		"$K" --home "$to" import "$T/x.ndjson" >/dev/null 2>"$T/imperr" || { nok "import into $to"; sed 's/^/# /' "$T/imperr"; }
	done
}
# shown HOME ID: what the comparison looks at: type, body bytes (base64), audience
shown() { "$K" --home "$1" --json show "$2" | jq -c '[.type, .body, .audience]'; }
# same DESC HOME ID1 ID2: the two entries have the same type, body and audience
same() {
	a=$(shown "$2" "$3"); b=$(shown "$2" "$4")
	if [ -n "$a" ] && [ "$a" != '[null,null,null]' ] && [ "$a" = "$b" ]; then ok "$1"; else
		nok "$1"; echo "# single: $a"; echo "# batch:  $b"; fi
}
field() { "$K" --home "$1" --json show "$2" | jq -r ".fields.$3"; }
audn() { "$K" --home "$1" --json show "$2" | jq '.audience | length'; }
void() { "$K" --home "$1" correct "$2" --reason "$3" >/dev/null 2>"$T/err" || { nok "correct $2"; sed 's/^/# /' "$T/err"; }; }

# --- three homes ---------------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S" init --name "Hulp Onder VOF" --role subcontractor --agb 87654321 --no-passphrase; SK=$(cat "$T/out")
for h in "$M" "$L" "$S"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
new "municipality certifies itself" "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405
new "municipality certifies the lead provider" "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678
new "municipality certifies the subcontractor" "$M" party certify "$SK" --name "Hulp Onder VOF" --role subcontractor --agb 87654321
new "jeugd contract from the example tariffs (its first line a comment)" "$M" contract add --ref RC-J --domain jeugd \
	--municipality 0405 --from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS"
new "wmo contract" "$M" contract add --ref RC-W --domain wmo --municipality 0405 --from 2026-01-01 --until 2028-12-31 \
	--tariffs "$TARIFFS"
new "A1: J03/4 herstel" "$M" allocate --contract RC-J --client HRN-1 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-01-01 --until 2026-12-31; A1=$ID
new "A2: W02/B duurzaam" "$M" allocate --contract RC-W --client HRN-2 --provider "Zorg Hoofd BV" \
	--profile W02 --intensity B --kind duurzaam --from 2026-01-01 --until 2026-06-30 --volume 200 --unit hour --frequency total; A2=$ID
sync "$M" "$L" "$S"
new "O1: the lead subcontracts A1 for a fixed amount" "$L" subcontract "$A1" --to "Hulp Onder VOF" --amount 3000 \
	--from 2026-02-01; O1=$ID
sync "$L" "$S" "$M"
new "the subcontractor accepts O1" "$S" accept "$O1"
sync "$S" "$L" "$M"
O1P=$(printf '%s' "$O1" | cut -c1-12)

# --- delivery --------------------------------------------------------------------
new "deliver on O1 (by a prefix)" "$S" deliver "$O1P" --period 2026-03 --units 2.5 --unit hour --note "groepssessie"; D1=$ID
check "a delivery on a subcontract goes to payer, payee and municipality" [ "$(audn "$S" "$D1")" -eq 3 ]
void "$S" "$D1" "dubbel"
cat >"$T/delivery.csv" <<CSV
type,subcontract,period,units,unit,note
delivery,$O1P,2026-03,"2,5",hour,groepssessie
CSV
batch "batch: the same delivery" "$S" batch "$T/delivery.csv"
same "delivery: batch and deliver give the same body and audience" "$S" "$D1" "$B1"
new "deliver with an empty note" "$S" deliver "$O1" --period 2026-04 --units 1 --unit hour --note ""; D2=$ID
void "$S" "$D2" "dubbel"
printf 'type,subcontract,period,units,unit,note\ndelivery,%s,2026-04,1,hour,\n' "$O1" >"$T/delivery2.csv"
batch "batch: the same delivery, its note column empty" "$S" batch "$T/delivery2.csv"
same "an empty note is no note, in both" "$S" "$D2" "$B1"

# --- claims: the herstel default, upfront then final ---------------------------------
new "claim A1 without --installment" "$L" claim "$A1" --amount 9577.33; C1=$ID
new "claim A1 again without --installment" "$L" claim "$A1" --amount 4788.67; C2=$ID
check "keten claim chose upfront" [ "$(field "$L" "$C1" installment)" = upfront ]
check "keten claim then chose final" [ "$(field "$L" "$C2" installment)" = final ]
void "$L" "$C2" "opnieuw"
void "$L" "$C1" "opnieuw"
cat >"$T/claims.csv" <<CSV
type,allocation,amount
claim,$A1,9577.33
claim,$A1,"4788,67"
CSV
batch "batch: two claim rows on A1 without an installment" "$L" batch "$T/claims.csv"
check "the first row claims upfront" [ "$(field "$L" "$B1" installment)" = upfront ]
check "the second row, seeing the first, claims final" [ "$(field "$L" "$B2" installment)" = final ]
same "upfront: batch and claim give the same body and audience" "$L" "$C1" "$B1"
same "final: batch and claim give the same body and audience" "$L" "$C2" "$B2"
K1=$B1

# --- a computed month --------------------------------------------------------------
new "claim A2 2026-01, amount computed" "$L" --json claim "$A2" --installment 2026-01; C3=$ID
AMOUNT=$(jq -r .amount_cents "$T/out")
void "$L" "$C3" "opnieuw"
printf '{"type":"claim","allocation":"%s","installment":"2026-01"}\n' "$A2" >"$T/month.ndjson"
run "$L" --json batch "$T/month.ndjson"
B1=$(jq -r '.[0].id' "$T/out")
check "batch --json gives the same computed amount" [ "$(jq -r '.[0].amount_cents' "$T/out")" = "$AMOUNT" ]
same "month: batch and claim give the same body and audience" "$L" "$C3" "$B1"

# --- number, date and period -------------------------------------------------------
new "claim A2 2026-02 --number --date --period FROM..UNTIL" "$L" claim "$A2" --installment 2026-02 --number F-2026-17 \
	--date 2026-03-02 --period 2026-02-01..2026-02-28; C5=$ID
check "the claim's body has its number and date" sh -c "[ \"\$('$K' --home '$L' --json show '$C5' | jq -r '.fields.number + \" \" + .fields.date')\" = 'F-2026-17 2026-03-02' ]"
void "$L" "$C5" "opnieuw"
cat >"$T/dated.csv" <<CSV
type,allocation,installment,number,date,period
claim,$A2,2026-02,F-2026-17,2026-03-02,2026-02-01..2026-02-28
CSV
batch "batch: the same claim with number, date and period columns (the voided claim's number is free)" "$L" batch "$T/dated.csv"
same "dated claim: batch and claim give the same body and audience" "$L" "$C5" "$B1"
void "$L" "$B1" "opnieuw"
new "claim A2 2026-03 --period YYYY-MM" "$L" claim "$A2" --installment 2026-03 --number F-2026-18 --date 2026-04-01 \
	--period 2026-03; C6=$ID
void "$L" "$C6" "opnieuw"
printf '{"type":"claim","allocation":"%s","installment":"2026-03","number":"F-2026-18","date":"2026-04-01","period":"2026-03"}\n' \
	"$A2" >"$T/dated.ndjson"
batch "batch: the same as an NDJSON row, its period a month" "$L" batch "$T/dated.ndjson"
same "a month period: batch and claim give the same body and audience" "$L" "$C6" "$B1"

# --- a fixed-amount subcontract: upfront by default ----------------------------------
new "claim O1 without --installment" "$S" claim "$O1" --amount 2000; C4=$ID
void "$S" "$C4" "opnieuw"
printf 'type;subcontract;amount\nclaim;%s;2000\n' "$O1P" >"$T/sub.csv"
batch "batch: the same claim on O1 (semicolons, a prefix)" "$S" batch "$T/sub.csv"
check "both chose upfront" sh -c "[ \"\$('$K' --home '$S' --json show '$B1' | jq -r .fields.installment)\" = upfront ]"
same "subcontract claim: batch and claim give the same body and audience" "$S" "$C4" "$B1"

# --- no default: both refuse ---------------------------------------------------------
run "$L" claim "$A2" --amount 100
check "claim on duurzaam without --installment is a usage error (64)" [ "$rc" -eq 64 ]
printf 'type,allocation,amount\nclaim,%s,100\n' "$A2" >"$T/nodefault.csv"
run "$L" batch "$T/nodefault.csv"
check "the same row is refused with its line (65)" sh -c "[ $rc -eq 65 ] && grep -q 'nodefault.csv:2: give an installment' '$T/err'"

# --- payment --------------------------------------------------------------------------
sync "$L" "$M"
new "pay the upfront claim" "$M" pay "$K1" --amount 9577.33 --date 2026-03-02 --reference E2E-A1-UP; P1=$ID
check "a payment goes to payer, payee and municipality (here one)" [ "$(audn "$M" "$P1")" -eq 2 ]
void "$M" "$P1" "verkeerd"
printf 'type,claim,amount,date,reference\npayment,%s,9577.33,2026-03-02,E2E-A1-UP\n' "$K1" >"$T/pay.csv"
batch "batch: the same payment" "$M" batch "$T/pay.csv"
same "payment: batch and pay give the same body and audience" "$M" "$P1" "$B1"
PB=$B1

# --- receipt --------------------------------------------------------------------------
sync "$M" "$L"
new "receipt of the payment, its amount by default" "$L" --json receipt "$PB"; R1=$ID
check "the receipt carries the payment's amount" jq -e '.amount_cents == 957733' "$T/out"
void "$L" "$R1" "opnieuw"
printf '{"type":"receipt","payment":"%s"}\n' "$PB" >"$T/receipt.ndjson"
batch "batch: the same receipt" "$L" batch "$T/receipt.ndjson"
same "receipt: batch and receipt give the same body and audience" "$L" "$R1" "$B1"
void "$L" "$B1" "opnieuw"
new "receipt with a date" "$L" receipt "$PB" --date 2026-03-04 --amount 9577.33; R2=$ID
void "$L" "$R2" "opnieuw"
printf 'type,payment,amount,date\nreceipt,%s,9577.33,2026-03-04\n' "$PB" >"$T/receipt2.csv"
batch "batch: the same dated receipt" "$L" batch "$T/receipt2.csv"
same "dated receipt: batch and receipt give the same body and audience" "$L" "$R2" "$B1"

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
