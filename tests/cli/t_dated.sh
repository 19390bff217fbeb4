#!/bin/sh
# t_dated.sh — dated, numbered claims, --as-of by the dates the parties
# asserted, and the regional report, through the keten binary.  Three homes
# (the municipality of Hoorn is the trust anchor and certifies a lead
# provider and a subcontractor) exchange entries by export/import.  All
# claims are recorded today, dated in 2026 by --date (or a batch's date
# column):
#   1. claim --number --date --period: stored in the body, shown by show;
#      the same invoice number twice by one payee refused
#      (duplicate-invoice-number), by another payee accepted; a voided
#      claim frees its number; a date after today (date-in-future), a period
#      outside the agreement (date-outside-validity) or outside the month
#      claimed (invalid-period), a number too long (invalid-number) or one
#      that passes the BSN 11-test (bsn-in-text) refused with exit 65 and
#      nothing stored; a date or period that does not parse is a usage error;
#   2. --as-of counts claims by their date: balance, reconcile (lines and
#      pairs, from both sides alike) and report; a claim dated after the
#      as-of does not count; overdue runs from the claim's date plus the
#      payment term (one day late the day after), paid-late likewise; each
#      finding listed with its evidence in table, CSV and JSON;
#   3. a provider's historic batch (number, date, period columns) imported
#      today shows at earlier as-ofs by its claim dates; a batch row with a
#      number already used is refused with nothing stored;
#   4. the report: outcomes by kind, dropout (jeugd 32, wmo 21) apart from
#      the other early stops, maatwerk, cost per client, delivered volume
#      per unit, duurzaam paid months without delivery and hours per paid
#      month, payment delays from the claims' dates; the whole CSV against
#      tests/golden/report-dated.csv; report --as-of;
#   5. the dashboard's /api/report, /api/balance and /api/reconcile pass
#      as_of through and count the same way.
# One line per check: "ok N - ..." or "not ok N - ...", and a final
# "# N checks, N failed".  Exit 1 on failure.  KEEP=1 keeps the temporary
# homes; KETEN_GOLDEN_UPDATE=1 rewrites the golden file.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARIFFS=$ROOT/examples/tarieven-voorbeeld-2026.csv
GOLDEN=$ROOT/tests/golden
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
logcount() { "$K" --home "$1" log | wc -l | tr -d ' '; }
# refused RULE DESC HOME ARGS...: exit 65, rule named on stderr, nothing stored
refused() {
	rule=$1; d=$2; h=$3; shift 3
	before=$(logcount "$h")
	run "$h" "$@"
	after=$(logcount "$h")
	if [ "$rc" -eq 65 ] && grep -q "refused by rule '$rule'" "$T/err" && [ "$before" = "$after" ]; then
		ok "refused: $d ($rule)"; else
		nok "refused: $d ($rule): exit $rc, log $before -> $after"; sed 's/^/# /' "$T/err"; fi
}
# usage DESC HOME ARGS...: exit 64, nothing stored
usage() {
	d=$1; h=$2; shift 2
	before=$(logcount "$h")
	run "$h" "$@"
	after=$(logcount "$h")
	if [ "$rc" -eq 64 ] && [ "$before" = "$after" ]; then ok "usage error: $d"; else
		nok "usage error: $d: exit $rc, log $before -> $after"; sed 's/^/# /' "$T/err"; fi
}
# sync FROM TO...: export FROM, import into each TO
sync() {
	from=$1; shift
	"$K" --home "$from" export -o "$T/x.ndjson" || nok "export from $from"
	for to in "$@"; do
		"$K" --home "$to" import "$T/x.ndjson" >/dev/null 2>"$T/imperr" || { nok "import into $to"; sed 's/^/# /' "$T/imperr"; }
	done
}
# field HOME ID NAME: a field of show --json
field() { "$K" --home "$1" --json show "$2" | jq -r ".fields.$3"; }
# claimed HOME PARTY AS_OF: balance --json claimed_cents with PARTY at AS_OF
claimed() { "$K" --home "$1" --json balance --with "$2" --as-of "$3" | jq -r '[.[].claimed_cents] | add // 0'; }
# line HOME AS_OF SUBJECT FIELD: a field of the reconcile --json line of SUBJECT
line() { "$K" --home "$1" --json reconcile --as-of "$2" | jq -r --arg s "$3" "[.lines[] | select(.subject == \$s) | .$4] | first // \"none\""; }
# pair HOME AS_OF FIELD: the pair Gemeente Hoorn -> Zorg Hoofd BV of reconcile --json
pair() { "$K" --home "$1" --json reconcile --as-of "$2" | jq -r "[.pairs[] | select(.payer_name == \"Gemeente Hoorn\" and .payee_name == \"Zorg Hoofd BV\") | .$3] | first // \"none\""; }

# --- three homes, two contracts, five allocations ---------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S" init --name "Hulp Onder VOF" --role subcontractor --agb 87654321 --no-passphrase; SK=$(cat "$T/out")
for h in "$M" "$L" "$S"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
new "municipality certifies itself" "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405
new "municipality certifies the lead provider" "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678
new "municipality certifies the subcontractor" "$M" party certify "$SK" --name "Hulp Onder VOF" --role subcontractor --agb 87654321
new "jeugd contract, payment term 30 days" "$M" contract add --ref RD-J --domain jeugd --municipality 0405 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --payment-term 30
new "wmo contract, payment term 14 days" "$M" contract add --ref RD-W --domain wmo --municipality 0405 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --payment-term 14
new "A1: J03/4 herstel 2026-01-05..2026-09-30" "$M" allocate --contract RD-J --client HRN-1 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-01-05 --until 2026-09-30 --number 2026000001; A1=$ID
new "A2: W02/B duurzaam 2026-01-10..2026-06-30" "$M" allocate --contract RD-W --client HRN-2 --provider "Zorg Hoofd BV" \
	--profile W02 --intensity B --kind duurzaam --from 2026-01-10 --until 2026-06-30 --volume 200 --unit hour --frequency total; A2=$ID
new "A3: J03/4 herstel, maatwerk 12345.67" "$M" allocate --contract RD-J --client HRN-3 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-02-01 --until 2026-12-31 --amount 12345.67 \
	--maatwerk "extra begeleiding"; A3=$ID
new "A4: W01/A herstel from 2026-03-01" "$M" allocate --contract RD-W --client HRN-4 --provider "Zorg Hoofd BV" \
	--profile W01 --intensity A --kind herstel --from 2026-03-01 --until 2026-08-31 --volume 200 --unit hour --frequency total; A4=$ID
new "A5: W01/A herstel from 2026-03-15" "$M" allocate --contract RD-W --client HRN-5 --provider "Zorg Hoofd BV" \
	--profile W01 --intensity A --kind herstel --from 2026-03-15 --until 2026-09-30 --volume 200 --unit hour --frequency total; A5=$ID
sync "$M" "$L" "$S"

# --- 1. number, date, period ------------------------------------------------------------
new "K1: claim A1 upfront --number INV-2026-001 --date 2026-01-15 --period 2026-01-05..2026-09-30" \
	"$L" --json claim "$A1" --installment upfront --number INV-2026-001 --date 2026-01-15 \
	--period 2026-01-05..2026-09-30; K1=$ID
check "K1 is 2/3 of 14366.00 (floor): 957733" jq -e '.amount_cents == 957733' "$T/out"
check "show: the number, date and period are in the body" sh -c "
	'$K' --home '$L' --json show '$K1' | jq -e '.fields.number == \"INV-2026-001\" and .fields.date == \"2026-01-15\"
		and .fields.period_from == \"2026-01-05\" and .fields.period_until == \"2026-09-30\"'"
refused duplicate-invoice-number "the same number on another claim of this payee" "$L" claim "$A1" \
	--installment final --number INV-2026-001
refused date-in-future "a claim dated after today" "$L" claim "$A1" --installment final \
	--date "$(date -d '+2 days' +%F)"
refused date-outside-validity "a period starting before the allocation" "$L" claim "$A1" --installment final \
	--period 2025-12-01..2026-01-31
refused date-outside-validity "a period ending after the allocation" "$L" claim "$A1" --installment final \
	--period 2026-09-01..2026-10-31
refused invalid-number "an invoice number of 65 bytes" "$L" claim "$A1" --installment final \
	--number "$(printf 'F%064d' 1)"
refused bsn-in-text "an invoice number that passes the BSN 11-test" "$L" claim "$A1" --installment final --number 123456782
usage "a date that is no date (2026-02-30)" "$L" claim "$A1" --installment final --date 2026-02-30
usage "a period that is no period (2026-13)" "$L" claim "$A1" --installment final --period 2026-13
usage "a period whose end comes before its start" "$L" claim "$A1" --installment final --period 2026-03-01..2026-02-01
refused date-outside-validity "period 2026-01 on an allocation that starts 2026-01-10" "$L" claim "$A2" \
	--installment 2026-01 --period 2026-01
new "K2: claim A2 2026-01 dated 2026-02-03, period 2026-01-10..2026-01-31" "$L" --json claim "$A2" --installment 2026-01 \
	--number INV-2026-002 --date 2026-02-03 --period 2026-01-10..2026-01-31; K2=$ID
check "K2: 452.00 pro rata for 22 of 31 days: 32077" jq -e '.amount_cents == 32077' "$T/out"
refused invalid-period "a period outside the month claimed" "$L" claim "$A2" --installment 2026-02 --period 2026-03
new "K3: claim A2 2026-02 dated 2026-03-02" "$L" claim "$A2" --installment 2026-02 --number INV-2026-003 \
	--date 2026-03-02 --period 2026-02-01..2026-02-28; K3=$ID
new "a claim on A3 with a number, voided" "$L" claim "$A3" --installment upfront --number INV-2026-009 --date 2026-02-05; KV=$ID
run "$L" correct "$KV" --reason "verkeerde maand"
check "the lead voids it" [ "$rc" -eq 0 ]
new "K4: the voided claim's number is free again" "$L" --json claim "$A3" --installment upfront --number INV-2026-009 \
	--date 2026-02-06; K4=$ID
check "K4: 2/3 of the maatwerk 12345.67 (floor): 823044" jq -e '.amount_cents == 823044' "$T/out"
sync "$L" "$M" "$S"

new "O1: a fixed 3000.01 subcontract on A1" "$L" subcontract "$A1" --to "Hulp Onder VOF" --amount 3000.01 --from 2026-02-01; O1=$ID
sync "$L" "$S" "$M"
new "the subcontractor accepts" "$S" accept "$O1"
new "KS: the subcontractor's claim may carry the lead's number (another payee)" "$S" --json claim "$O1" \
	--installment upfront --number INV-2026-001 --date 2026-02-10; KS=$ID
check "KS: 2/3 of 3000.01 (floor): 200000" jq -e '.amount_cents == 200000' "$T/out"
sync "$S" "$L" "$M"

# --- 2. --as-of by the claims' dates ----------------------------------------------------
check "balance --as-of 2026-01-14: nothing claimed yet" [ "$(claimed "$L" "$MK" 2026-01-14)" = 0 ]
check "balance --as-of 2026-01-15: K1 (recorded today, dated 2026-01-15)" [ "$(claimed "$L" "$MK" 2026-01-15)" = 957733 ]
check "balance --as-of 2026-02-03: K1 + K2" [ "$(claimed "$L" "$MK" 2026-02-03)" = 989810 ]
check "balance --as-of 2026-02-06: K1 + K2 + K4 (the voided claim does not count)" [ "$(claimed "$L" "$MK" 2026-02-06)" = 1812854 ]
check "balance --as-of 2026-03-02: and K3" [ "$(claimed "$L" "$MK" 2026-03-02)" = 1858054 ]
check "the municipality's balance agrees at 2026-02-03" [ "$(claimed "$M" "$LK" 2026-02-03)" = 989810 ]
check "reconcile --as-of 2026-01-31: A1's line claims K1" [ "$(line "$L" 2026-01-31 "$A1" claimed_cents)" = 957733 ]
check "reconcile --as-of 2026-01-31: A2's line claims nothing (K2 is dated 2026-02-03)" \
	[ "$(line "$L" 2026-01-31 "$A2" claimed_cents)" = 0 ]
check "reconcile --as-of 2026-02-03: A2's line claims K2" [ "$(line "$L" 2026-02-03 "$A2" claimed_cents)" = 32077 ]
check "the pair at 2026-02-28, the lead's side: 1812854 claimed" [ "$(pair "$L" 2026-02-28 claimed_cents)" = 1812854 ]
check "the pair at 2026-02-28, the municipality's side: the same" [ "$(pair "$M" 2026-02-28 claimed_cents)" = 1812854 ]

# overdue: K1 due 2026-02-14 (30 days), K2 due 2026-02-17 (14 days)
check "as of 2026-02-14 K1 is not overdue" [ "$(line "$L" 2026-02-14 "$A1" overdue_cents)" = 0 ]
check "as of 2026-02-15 K1 is overdue: 957733" [ "$(line "$L" 2026-02-15 "$A1" overdue_cents)" = 957733 ]
run "$L" reconcile --as-of 2026-02-18 --format csv
cp "$T/out" "$T/od.csv"
check "CSV: overdue K2, 32077 cents, due 2026-02-17, 1 days late, K2 as evidence" \
	sh -c "grep '^finding,overdue,$A2,' '$T/od.csv' | grep ',32077,$K2,' | grep -q 'due 2026-02-17 (14 days), 1 days late'"
check "CSV: overdue K1 as well, 4 days late" sh -c "grep '^finding,overdue,$A1,' '$T/od.csv' | grep -q ',957733,$K1,.*4 days late'"
run "$L" --json reconcile --as-of 2026-02-18
check "JSON: overdue K2 with its evidence" jq -e --arg k "$K2" \
	'[.findings[] | select(.kind == "overdue" and .evidence[0].id == $k and .amount_cents == 32077)] | length == 1' "$T/out"
run "$L" reconcile --as-of 2026-02-18
check "table: overdue listed with K2's id" sh -c "grep overdue '$T/out' | grep -q '$(printf %.8s "$K2")'"
run "$L" reconcile --as-of 2026-02-17 --format csv
check "as of 2026-02-17 K2 is not yet overdue" sh -c "! grep -q '^finding,overdue,$A2,' '$T/out'"

new "P1: the municipality pays K1 on 2026-02-20" "$M" pay "$K1" --amount 9577.33 --date 2026-02-20 --reference E2E-K1; P1=$ID
new "P2: K2 on 2026-03-05" "$M" pay "$K2" --amount 320.77 --date 2026-03-05 --reference E2E-K2; P2=$ID
new "P3: K3 on 2026-03-10" "$M" pay "$K3" --amount 452 --date 2026-03-10 --reference E2E-K3; P3=$ID
sync "$M" "$L"
new "PS: the lead pays the subcontractor on 2026-03-01" "$L" pay "$KS" --amount 2000 --date 2026-03-01 --reference E2E-KS; PS=$ID
sync "$L" "$S" "$M"
run "$M" reconcile --as-of 2026-03-31 --format csv
cp "$T/out" "$T/late.csv"
check "paid-late K1: 6 days after the term (due 2026-02-14), evidence K1 and P1" \
	sh -c "grep '^finding,paid-late,$A1,' '$T/late.csv' | grep ',957733,$K1 $P1,' | grep -q 'paid 6 days after the term (due 2026-02-14)'"
check "paid-late K2: 16 days after the term (due 2026-02-17)" \
	sh -c "grep '^finding,paid-late,$A2,' '$T/late.csv' | grep -q 'paid 16 days after the term (due 2026-02-17)'"
check "K3 paid within its term: no paid-late" sh -c "! grep '^finding,paid-late,' '$T/late.csv' | grep -q '$K3'"
run "$L" --json reconcile --as-of 2026-03-31
check "JSON from the lead's side: the same paid-late K1 with K1 and P1" jq -e --arg k "$K1" --arg p "$P1" \
	'[.findings[] | select(.kind == "paid-late" and ([.evidence[].id] == [$k, $p]))] | length == 1' "$T/out"

# --- 3. a historic batch imported today ----------------------------------------------------
cat >"$T/historic.csv" <<CSV
type,allocation,installment,number,date,period
claim,$A2,2026-03,INV-2026-004,2026-04-02,2026-03
claim,$A2,2026-04,INV-2026-005,2026-05-04,2026-04-01..2026-04-30
CSV
run "$L" batch "$T/historic.csv"
check "batch: two dated claims recorded today" [ "$rc" -eq 0 ]
KB1=$(sed -n 1p "$T/out"); KB2=$(sed -n 2p "$T/out")
check "the rows' date and number are in the bodies" sh -c "[ \"\$('$K' --home '$L' --json show '$KB1' | jq -r .fields.date)\" = 2026-04-02 ] && [ \"\$('$K' --home '$L' --json show '$KB2' | jq -r .fields.number)\" = INV-2026-005 ]"
check "reconcile --as-of 2026-04-30: A2 claims Jan, Feb and Mar (the batch's 2026-04 claim is dated 2026-05-04)" \
	[ "$(line "$L" 2026-04-30 "$A2" claimed_cents)" = 122477 ]
check "reconcile --as-of 2026-05-04: and April" [ "$(line "$L" 2026-05-04 "$A2" claimed_cents)" = 167677 ]
printf 'type,allocation,installment,number,date\nclaim,%s,2026-05,INV-2026-002,2026-06-01\n' "$A2" >"$T/dup.csv"
refused duplicate-invoice-number "a batch row with a number already used" "$L" batch "$T/dup.csv"
printf 'type,allocation,installment,period\nclaim,%s,2026-05,2026-05-31..2026-05-01\n' "$A2" >"$T/badperiod.csv"
run "$L" batch "$T/badperiod.csv"
check "a batch row with a reversed period: refused with its line, nothing stored" \
	sh -c "[ $rc -ne 0 ] && grep -q 'badperiod.csv:2: bad period' '$T/err'"
sync "$L" "$M"
new "P4: the municipality pays the March claim on 2026-04-10" "$M" pay "$KB1" --amount 452 --date 2026-04-10 --reference E2E-KB1; P4=$ID
check "as of 2026-05-18 the April claim is not overdue (due 2026-05-18)" [ "$(line "$M" 2026-05-18 "$A2" overdue_cents)" = 0 ]
check "as of 2026-05-19 it is: 45200" [ "$(line "$M" 2026-05-19 "$A2" overdue_cents)" = 45200 ]

# --- 4. deliveries, closes, the report ----------------------------------------------------
new "the subcontractor delivers 8.5 hours in 2026-02" "$S" deliver "$O1" --period 2026-02 --units 8.5 --unit hour
new "and 90 minutes in 2026-03" "$S" deliver "$O1" --period 2026-03 --units 90 --unit minute
new "the lead delivers 10 hours on A2 in 2026-01" "$L" deliver "$A2" --period 2026-01 --units 10 --unit hour
new "and 1.5 hours in 2026-03 (nothing in 2026-02)" "$L" deliver "$A2" --period 2026-03 --units 1.5 --unit hour
new "A3 stops early: the client ends it (32)" "$L" close "$A3" --outcome stopped --stop-code 32 --date 2026-04-15
new "A4 stops early: the client ends it (wmo 21)" "$L" close "$A4" --outcome stopped --stop-code 21 --date 2026-06-01
new "A5 stops early: the provider ends it (wmo 22)" "$L" close "$A5" --outcome not-achieved --stop-code 22 --date 2026-07-01
new "A2 ends according to plan (wmo 19), partly achieved" "$L" close "$A2" --outcome partial --stop-code 19 --date 2026-06-30
new "A1 ends according to plan (31), achieved" "$L" close "$A1" --outcome achieved --stop-code 31 --date 2026-09-30
sync "$L" "$M"
sync "$S" "$M"

run "$M" report --format csv
cp "$T/out" "$T/report.csv"
check "report --format csv" [ "$rc" -eq 0 ]
if [ "${KETEN_GOLDEN_UPDATE:-0}" = 1 ]; then cp "$T/report.csv" "$GOLDEN/report-dated.csv"; fi
if diff -u "$GOLDEN/report-dated.csv" "$T/report.csv" >"$T/diff" 2>&1; then ok "golden report-dated.csv"; else
	nok "golden report-dated.csv"; sed 's/^/# /' "$T/diff" | head -20; fi
# col FIELD: the total row's value of a report CSV column
col() { awk -F, -v f="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == f) c = i } $1 == "total" { print $c }' "$T/report.csv"; }
check "outcomes: 1 achieved, 1 partial, 1 not achieved, 2 stopped" \
	[ "$(col achieved),$(col partial),$(col not_achieved),$(col stopped)" = "1,1,1,2" ]
check "three early stops (21, 22, 32): two dropouts (32, 21), one other (22)" \
	[ "$(col early_stops),$(col early_stops_by_code),$(col dropouts),$(col other_stops)" = "3,21:1 22:1 32:1,2,1" ]
check "maatwerk: one allocation, 1234567 cents" [ "$(col maatwerk),$(col maatwerk_cents)" = "1,1234567" ]
check "paid to the lead 1080210 over 5 clients: 216042 per client" \
	[ "$(col paid_cents),$(col clients),$(col cost_per_client_cents)" = "1080210,5,216042" ]
check "delivered: 20 hours and 90 minutes" [ "$(col delivered_by_unit)" = "hour:20 minute:90" ]
check "duurzaam: 3 months paid, 1 without delivery, 3.83 hours per paid month (11.5 / 3)" \
	[ "$(col duurzaam_paid_months),$(col duurzaam_unserved_months),$(col duurzaam_hours_per_paid_month)" = "3,1,3.83" ]
check "delays from the claims' dates: 8 8 19 30 36 days: median 19, p90 36" \
	[ "$(col payments),$(col delay_median_days),$(col delay_p90_days)" = "5,19,36" ]
run "$M" --json report --by arrangement
check "report --json: outcomes, dropouts, delivered_by_unit, duurzaam per arrangement" jq -e '
	.total.outcomes == {"achieved": 1, "partial": 1, "not_achieved": 1, "stopped": 2}
	and .total.dropouts == 2 and .total.other_stops == 1 and .total.delivered_by_unit == {"hour": 20, "minute": 90}
	and ([.rows[] | select(.group == "W02/B duurzaam") | .duurzaam_paid_months, .duurzaam_unserved_months] == [3, 1])
	and ([.rows[] | select(.group == "J03/4 herstel") | .maatwerk_cents] == [1234567])' "$T/out"
run "$M" report
check "the table shows a second table with the outcomes and care" \
	sh -c "grep -q '^municipality.*achieved.*dropout' '$T/out' && grep '^total' '$T/out' | tail -1 | grep -q 'hour:20 minute:90'"
run "$M" report --as-of 2026-02-28 --format csv
cp "$T/out" "$T/report.csv"
check "report --as-of 2026-02-28: 3 allocations started, 957733 paid (P1), 3 clients, 319244 per client" \
	[ "$(col allocations),$(col paid_cents),$(col clients),$(col cost_per_client_cents)" = "3,957733,3,319244" ]
check "report --as-of 2026-02-28: nothing closed, no duurzaam month paid yet (P2 is dated 2026-03-05)" \
	[ "$(col achieved),$(col stopped),$(col early_stops),$(col duurzaam_paid_months)" = "0,0,0,0" ]
check "report --as-of 2026-02-28: A2 allocated Jan (pro rata) + Feb: 77277 of 1436600 + 1234567 + 77277" \
	[ "$(col allocated_cents)" = 2748444 ]
usage "report --as-of that is no date" "$M" report --as-of 2026-02-30

# --- the dashboard's API passes as_of through ---------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout 120 "$K" --home "$M" serve --http "127.0.0.1:$PORT" 2>"$T/serve.log" &
SERVE=$!
trap "kill $SERVE 2>/dev/null; [ -n \"${KEEP:-}\" ] || rm -rf \"$T\"" EXIT
get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://127.0.0.1:$PORT$1"; }
for i in $(seq 1 100); do get /api/whoami >/dev/null 2>&1 && break; sleep 0.1; done
"$K" --home "$M" --json report --as-of 2026-02-28 >"$T/rep-cli.json"
get "/api/report?as_of=2026-02-28" >"$T/rep-api.json" 2>"$T/err"
check "/api/report?as_of=2026-02-28 equals keten report --as-of 2026-02-28 --json" \
	sh -c "jq -S . '$T/rep-cli.json' >'$T/a.json' && jq -S . '$T/rep-api.json' >'$T/b.json' && cmp -s '$T/a.json' '$T/b.json' && jq -e '.total.paid_cents == 957733' '$T/b.json'"
get "/api/balance?as_of=2026-02-03" >"$T/bal-api.json" 2>"$T/err"
check "/api/balance?as_of=2026-02-03 counts K1 and K2 by their dates: 989810" \
	jq -e '[.[] | select(.name == "Zorg Hoofd BV") | .claimed_cents] | add == 989810' "$T/bal-api.json"
get "/api/reconcile?as_of=2026-01-31" >"$T/rec-api.json" 2>"$T/err"
check "/api/reconcile?as_of=2026-01-31: A2 claims nothing yet" \
	jq -e --arg s "$A2" '[.lines[] | select(.subject == $s) | .claimed_cents] == [0]' "$T/rec-api.json"
kill "$SERVE" 2>/dev/null
wait "$SERVE" 2>/dev/null

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
