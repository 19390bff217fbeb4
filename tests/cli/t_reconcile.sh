#!/bin/sh
# t_reconcile.sh — keten reconcile, report and batch across three homes: a
# municipality that is its own trust anchor, a lead provider and a
# subcontractor, exchanging entries by export/import.
#
# The scenario makes every finding kind happen at least once, then checks:
#   - reconcile --format csv from three points of view against golden files
#     in tests/golden/ (ids and keys left out: record, kind, names, what and
#     the amounts are compared, sorted, so the random keys do not matter);
#   - --check exit codes (1 with findings, 0 without), --with, --as-of;
#   - --bank with tests/data/camt/recon-lead-2026-03.xml: matched by
#     end-to-end reference and by amount and date, a partial payment, a
#     duplicate, bank-only and ledger-only lines, the balance check; and a
#     malformed statement (a clear error, exit 65);
#   - report --by municipality|provider|arrangement|month;
#   - batch: a good CSV and NDJSON file append every row; a file with one
#     bad row (or one row a rule refuses) appends nothing;
#   - --with and the party index against the whole view, running totals;
#   - a payment confirmed as of its receipt's date, unconfirmed again when
#     the receipt is voided, and the receipt that replaces it.
# Claims are dated by their entry (today), so the dates that matter are
# computed from today: AS_OF is today + 60 days, LATE today + 45.
#
# One line per check: "ok N - ..." or "not ok N - ...".  Exit 1 on failure.
set -u
K=${KETEN:-build/keten}
HERE=$(cd "$(dirname "$0")" && pwd)
GOLDEN=$HERE/../golden
CAMT=$HERE/../data/camt
TARIFFS=$HERE/../../examples/tarieven-voorbeeld-2026.csv
T=$(mktemp -d) || exit 70
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
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
run() { h=$1; shift; "$K" --home "$h" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# new DESC HOME ARGS...: a creating command; its id in $ID
new() {
	d=$1; shift
	run "$@"
	ID=$(head -1 "$T/out")
	case $ID in "{"*) ID=$(jq -r .id "$T/out") ;; esac
	if [ "$rc" -eq 0 ] && printf '%s\n' "$ID" | grep -Eq '^[0-9a-f]{64}$'; then ok "$d"; else
		nok "$d (exit $rc)"; sed 's/^/# /' "$T/err"; fi
}
logcount() { "$K" --home "$1" log | wc -l | tr -d ' '; }
sync() {
	from=$1; shift
	"$K" --home "$from" export -o "$T/x.ndjson" || nok "export from $from"
	for to in "$@"; do
		"$K" --home "$to" import "$T/x.ndjson" >/dev/null 2>"$T/imperr" || { nok "import into $to"; sed 's/^/# /' "$T/imperr"; }
	done
}
# golden NAME FILE [raw]: the normalised (or raw) CSV equals tests/golden/NAME;
# KETEN_GOLDEN_UPDATE=1 rewrites the golden file instead
normalise() { # record,kind,payer_name,payee_name,what,agreed..overdue,amount_cents; sorted
	jq -Rr 'split(",") | [.[0], .[1], .[4], .[6], .[7], .[8], .[9], .[10], .[11], .[12], .[13], .[14], .[15]] | join(",")' "$1" |
		awk 'NR == 1 { print; next } { print | "LC_ALL=C sort" }'
}
golden() {
	if [ "${3:-}" = raw ]; then cp "$2" "$T/norm.csv"; else normalise "$2" >"$T/norm.csv"; fi
	if [ "${KETEN_GOLDEN_UPDATE:-0}" = 1 ]; then cp "$T/norm.csv" "$GOLDEN/$1"; fi
	if diff -u "$GOLDEN/$1" "$T/norm.csv" >"$T/diff" 2>&1; then ok "golden $1"; else
		nok "golden $1"; sed 's/^/# /' "$T/diff" | head -40; fi
}
# kinds FILE: the finding kinds of a reconcile csv, one per line, sorted, unique
kinds() { awk -F, '$1 == "finding" { print $2 }' "$1" | LC_ALL=C sort -u; }

TODAY=$(date +%F)
LATE=$(date -d "$TODAY +45 days" +%F)
AS_OF=$(date -d "$TODAY +60 days" +%F)

# --- three homes ---------------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S" init --name "Hulp Onder VOF" --role subcontractor --agb 87654321 --no-passphrase; SK=$(cat "$T/out")
for h in "$M" "$L" "$S"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
new "municipality certifies itself" "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405
new "municipality certifies the lead provider" "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678
new "municipality certifies the subcontractor" "$M" party certify "$SK" --name "Hulp Onder VOF" --role subcontractor --agb 87654321
new "jeugd contract: fixed subcontract tariff, max margin 10%, early stop 32" "$M" contract add --ref RC-J --domain jeugd \
	--municipality 0405 --from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --payment-term 30 \
	--subcontract fixed --max-margin 10 --early-stop 32=50:sub,34=25
new "wmo contract: maximum subcontract tariff, payment term 14 days" "$M" contract add --ref RC-W --domain wmo \
	--municipality 0405 --from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --payment-term 14 --subcontract max
sync "$M" "$L" "$S"

# --- reconcile on an empty ledger ------------------------------------------------
run "$L" reconcile --check --format csv
check "reconcile --check with no findings exits 0" [ "$rc" -eq 0 ]
check "an empty reconcile csv is only its header" [ "$(wc -l <"$T/out")" -eq 1 ]

# --- allocations --------------------------------------------------------------------
new "A1: J03/4 herstel for HRN-1, first half of 2026" "$M" allocate --contract RC-J --client HRN-1 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-01-01 --until 2026-06-30; A1=$ID
new "A2: the same arrangement for HRN-1 right after (rijgen)" "$M" allocate --contract RC-J --client HRN-1 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-07-01 --until 2027-06-30; A2=$ID
new "A3: J03/4 herstel for HRN-3" "$M" allocate --contract RC-J --client HRN-3 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind herstel --from 2026-02-01 --until 2026-12-31; A3=$ID
new "A4: W02/B duurzaam for HRN-4, six months" "$M" allocate --contract RC-W --client HRN-4 --provider "Zorg Hoofd BV" \
	--profile W02 --intensity B --kind duurzaam --from 2026-01-01 --until 2026-06-30 --volume 200 --unit hour --frequency total; A4=$ID
sync "$M" "$L" "$S"

# --- the lead provider and the municipality ---------------------------------------------
new "A1 upfront claimed" "$L" claim "$A1" --installment upfront; K1=$ID
new "A1 final claimed above the agreed third (claim-above-agreed)" "$L" claim "$A1" --installment final --amount 5000; K2=$ID
new "A2 upfront claimed, never paid (overdue)" "$L" claim "$A2" --installment upfront; K3=$ID
new "A3 upfront claimed" "$L" claim "$A3" --installment upfront; K4=$ID
sync "$L" "$M"
new "municipality pays A1 upfront (E2E-A1-UP)" "$M" pay "$K1" --amount 9577.33 --date 2026-03-02 --reference E2E-A1-UP; P1=$ID
new "municipality pays A1 final late, no result yet (final-without-result, paid-late)" "$M" pay "$K2" --amount 5000 --date "$LATE"; P2=$ID
new "municipality pays A3 upfront (E2E-A3-UP)" "$M" pay "$K4" --amount 9577.33 --date 2026-03-05 --reference E2E-A3-UP; P3=$ID
sync "$M" "$L"
new "lead confirms A1 upfront" "$L" receipt "$P1"
new "lead confirms A3 upfront" "$L" receipt "$P3"
new "lead closes A3: stopped early, code 32, no clawback follows (stop-without-clawback)" "$L" close "$A3" \
	--outcome stopped --stop-code 32 --date 2026-04-01

# --- subcontracts -------------------------------------------------------------------------
new "O1: 4800.00 fixed on A1, a part of the trajectory: not held against its whole price" "$L" subcontract "$A1" \
	--to "Hulp Onder VOF" --amount 4800 --from 2026-01-01 --until 2026-06-30; O1=$ID
new "O2: 12000.00 more on A1 (over-allocation)" "$L" subcontract "$A1" --to "Hulp Onder VOF" --amount 12000 \
	--from 2026-01-01 --until 2026-06-30; O2=$ID
new "O3: 500.00 a month on A4, above the W02/B tariff 452.00 (above-framework-tariff)" "$L" subcontract "$A4" \
	--to "Hulp Onder VOF" --monthly 500 --from 2026-01-01 --until 2026-06-30; O3=$ID
new "A5: J03/4 duurzaam for HRN-5 (1596.00 a month)" "$M" allocate --contract RC-J --client HRN-5 --provider "Zorg Hoofd BV" \
	--profile J03 --intensity 4 --kind duurzaam --from 2026-01-01 --until 2026-06-30; A5=$ID
sync "$M" "$L"
new "O4: 1000.00 a month on A5: the lead keeps 37% of the same month's price (margin-above-maximum, tariff-differs-from-framework)" "$L" subcontract "$A5" \
	--to "Hulp Onder VOF" --monthly 1000 --from 2026-01-01 --until 2026-06-30; O4=$ID
sync "$L" "$S" "$M"
new "subcontractor accepts O1" "$S" accept "$O1"
new "subcontractor accepts O3" "$S" accept "$O3"
new "subcontractor delivers 12 hours on O1 in 2026-02" "$S" deliver "$O1" --period 2026-02 --units 12 --unit hour
new "O1 upfront claimed" "$S" claim "$O1" --installment upfront; K5=$ID
new "O1 final claimed" "$S" claim "$O1" --installment final; K6=$ID
new "O3 2026-01 claimed, never paid" "$S" claim "$O3" --installment 2026-01; K7=$ID
new "O3 2026-02 claimed" "$S" claim "$O3" --installment 2026-02; K8=$ID
sync "$S" "$L" "$M"
new "lead pays O1 upfront (E2E-O1-UP)" "$L" pay "$K5" --amount 3200 --date 2026-03-10 --reference E2E-O1-UP; P5=$ID
new "lead pays O1 final (E2E-O1-FIN)" "$L" pay "$K6" --amount 1600 --date 2026-03-20 --reference E2E-O1-FIN; P6=$ID
new "lead pays O3 2026-02 (E2E-O3-02), not on the bank statement" "$L" pay "$K8" --amount 500 --date 2026-03-15 --reference E2E-O3-02; P8=$ID
sync "$L" "$S" "$M"
new "subcontractor confirms only 3100.00 of O1 upfront (receipt-mismatch)" "$S" receipt "$P5" --amount 3100
new "subcontractor confirms O1 final" "$S" receipt "$P6"
new "subcontractor confirms O3 2026-02" "$S" receipt "$P8"
new "subcontractor disputes the unpaid O3 2026-01 claim (open-dispute)" "$S" dispute open "$K7" --reason "januari niet betaald" --amount 500
sync "$S" "$L" "$M"
sync "$L" "$M"

# --- reconcile: three points of view ---------------------------------------------------------
run "$L" reconcile --as-of "$AS_OF" --format csv
cp "$T/out" "$T/lead.csv"
check "reconcile --format csv at the lead provider" [ "$rc" -eq 0 ]
run "$S" reconcile --as-of "$AS_OF" --format csv
cp "$T/out" "$T/sub.csv"
run "$M" reconcile --as-of "$AS_OF" --format csv
cp "$T/out" "$T/muni.csv"
golden reconcile-lead.csv "$T/lead.csv"
golden reconcile-sub.csv "$T/sub.csv"
golden reconcile-municipality.csv "$T/muni.csv"
for kind in payment-unconfirmed receipt-mismatch overdue paid-late claim-above-agreed over-allocation \
	above-framework-tariff tariff-differs-from-framework margin-above-maximum final-without-result \
	stop-without-clawback rijgen open-dispute; do
	check "finding $kind is reported to the lead provider" grep -q "^finding,$kind," "$T/lead.csv"
done
check "the subcontractor sees no allocation lines (only its subcontracts)" sh -c "! grep -q '^line,allocation,' '$T/sub.csv'"
check "the subcontractor does not see the municipality's overdue claim to the lead" \
	sh -c "! grep '^finding,overdue,' '$T/sub.csv' | grep -q 'Gemeente Hoorn'"
check "the municipality sees the subcontracts under its allocations" grep -q '^line,subcontract,' "$T/muni.csv"
check "every finding row names its evidence (64-hex ids)" \
	sh -c "awk -F, '\$1 == \"finding\" { print \$17 }' '$T/lead.csv' | grep -Evq '^[0-9a-f]{64}( [0-9a-f]{64})*\$' && exit 1 || exit 0"
check "rijgen evidence: the allocation and the one it follows" \
	sh -c "grep '^finding,rijgen,' '$T/lead.csv' | grep -q '$A2 $A1'"
check "stop-without-clawback evidence: allocation, stop and the up-front claim" \
	sh -c "grep '^finding,stop-without-clawback,' '$T/lead.csv' | grep -q '$A3 [0-9a-f]* $K4'"
check "stop-without-clawback amount is 50% of the up-front part paid (478867)" \
	sh -c "grep '^finding,stop-without-clawback,' '$T/lead.csv' | grep -q ',478867,'"
check "margin-above-maximum is raised for the monthly price of the same work (O4), not for parts of a trajectory (O1, O2)" \
	sh -c "[ \$(grep -c '^finding,margin-above-maximum,' '$T/lead.csv') -eq 1 ] && grep '^finding,margin-above-maximum,' '$T/lead.csv' | grep -q '$O4'"
check "tariff-differs-from-framework only for the monthly price of the same work (O4), not for fixed parts of a trajectory (O1, O2)" \
	sh -c "[ \$(grep -c '^finding,tariff-differs-from-framework,' '$T/lead.csv') -eq 1 ] && grep '^finding,tariff-differs-from-framework,' '$T/lead.csv' | grep -q '$O4'"
check "the overdue A2 upfront claim is 957733 at --as-of" \
	sh -c "grep '^finding,overdue,' '$T/lead.csv' | grep '$K3' | grep -q ',957733,'"

# --check, --with, --as-of
run "$L" reconcile --check --as-of "$AS_OF"
check "reconcile --check exits 1 when there are findings" [ "$rc" -eq 1 ]
check "the table uses human amounts" grep -q '€ 9.577,33' "$T/out"
run "$S" reconcile --check --as-of 2025-12-31
check "reconcile --check as of a day before any agreement exits 0" [ "$rc" -eq 0 ]
run "$S" reconcile --with "Gemeente Hoorn" --as-of "$AS_OF" --format csv
check "--with the municipality at the subcontractor: only the dispute it is a party to" \
	sh -c "[ \$(grep -c '^finding,' '$T/out') -eq 1 ] && grep -q '^finding,open-dispute,' '$T/out' && ! grep -q '^line,' '$T/out'"
run "$L" reconcile --with "Hulp Onder VOF" --format json --as-of "$AS_OF"
check "--with keeps only lines with that party" jq -e --arg s "$SK" \
	'(.lines | length == 2) and all(.lines[]; .payee == $s) and all(.findings[]; .kind == "open-dispute" or .payee == $s or .payer == $s)' "$T/out"
check "--format json findings carry typed evidence" jq -e \
	'any(.findings[]; .kind == "receipt-mismatch" and ([.evidence[].type] | index("receipt")) != null)' "$T/out"
run "$L" reconcile --as-of 2026-01-15 --format csv
check "--as-of before any claim: nothing claimed or paid, nothing overdue" \
	sh -c "awk -F, '\$1 == \"line\" && (\$11 != 0 || \$12 != 0) { bad = 1 } END { exit bad }' '$T/out' && ! grep -q '^finding,overdue,' '$T/out'"
run "$L" reconcile --period 2026-Q1 --format csv
check "--period YYYY-Qn is accepted" [ "$rc" -eq 0 ]
run "$L" reconcile --period 2026-13
check "--period 2026-13 is a usage error (64)" [ "$rc" -eq 64 ]
run "$L" reconcile --format xml
check "--format xml is a usage error (64)" [ "$rc" -eq 64 ]

# --- bank statements ----------------------------------------------------------------------------
run "$L" reconcile --bank "$CAMT/recon-lead-2026-03.xml" --format csv
cp "$T/out" "$T/bank.csv"
bank() { awk -F, -v s="$1" -v p="$2" '$1 == "bank" && $2 == s && $3 == p' "$T/bank.csv" | grep -q .; }
check "bank: E2E-A1-UP matched by end-to-end reference" sh -c "grep '^bank,matched,$P1,' '$T/bank.csv' | grep -q how=end-to-end"
check "bank: the line without reference matched by amount and date" sh -c "grep '^bank,matched,$P3,' '$T/bank.csv' | grep -q how=amount-date"
check "bank: E2E-O1-UP matched" bank matched "$P5"
check "bank: E2E-O1-UP booked twice is a duplicate" bank duplicate "$P5"
check "bank: E2E-O1-FIN paid 1000.00 of 1600.00 is a partial payment" bank amount-differs "$P6"
check "bank: bank costs are bank-only" sh -c "grep -q '^bank,bank-only,.*-1250,' '$T/bank.csv'"
check "bank: E2E-O3-02 is ledger-only" bank ledger-only "$P8"
check "bank: the balances agree" grep -q '^balance,agree,' "$T/bank.csv"
check "bank findings are findings" sh -c "grep -q '^finding,bank-duplicate,' '$T/bank.csv' && grep -q '^finding,ledger-only,' '$T/bank.csv'"
golden reconcile-lead-bank.csv "$T/bank.csv"
run "$L" reconcile --bank "$CAMT/recon-lead-2026-03.xml"
check "bank table: counts and balance check" grep -q '3 matched, 1 amount differs, 1 duplicate, 1 bank-only, 1 ledger-only' "$T/out"
run "$L" reconcile --bank "$CAMT/bad-amount.xml"
check "a malformed statement is a clear error (exit 65)" sh -c "[ $rc -eq 65 ] && grep -q 'bank statement' '$T/err'"
run "$L" reconcile --bank "$T/no-such-file.xml"
check "a missing statement file is exit 66" [ "$rc" -eq 66 ]

# --- report -----------------------------------------------------------------------------------------
for by in municipality provider arrangement month; do
	run "$M" report --by "$by" --format csv
	cp "$T/out" "$T/report-$by.csv"
	check "report --by $by" [ "$rc" -eq 0 ]
done
# payment delays count from the claims' dates, here the day they were recorded
# (today): left out of the golden file; the outcomes and care columns after them are in
cut -d, -f1-14,18- "$T/report-municipality.csv" >"$T/report-stable.csv"
golden report-municipality.csv "$T/report-stable.csv" raw
check "report: 5 allocations, 4 clients, 1 rijgen, early stop 32:1, 60 days" \
	grep -q '^total,total,5,4,5538600,.*,1,60,1,32:1,1,' "$T/report-municipality.csv"
check "report: payments dated before their claim are left out of the delays (only the late one counts: 45 days)" \
	sh -c "grep '^total,total,' '$T/report-municipality.csv' | awk -F, '{ exit !(\$16 == 45 && \$17 == 45) }'"
check "report --by provider labels the provider by name" grep -q ',Zorg Hoofd BV,' "$T/report-provider.csv"
check "report --by arrangement separates J03/4 herstel and W02/B duurzaam" \
	sh -c "grep -q '^J03/4 herstel,' '$T/report-arrangement.csv' && grep -q '^W02/B duurzaam,' '$T/report-arrangement.csv'"
run "$M" report --by client
check "report --by client is a usage error" [ "$rc" -eq 64 ]
run "$M" --json report --by month
check "report --json has rows and a total" jq -e '(.rows | length) > 0 and .total.allocations == 5' "$T/out"

# --- batch ---------------------------------------------------------------------------------------------
before=$(logcount "$L")
cat >"$T/good.csv" <<CSV
type,allocation,subcontract,period,units,unit,installment,amount,claim,payment,date,reference
delivery,$A2,,2026-08,10,hour,,,,,,
delivery,,$O1,2026-03,2.5,hour,,,,,,
claim,$A4,,,,,2026-01,,,,,
payment,,,,,,,500,$K7,,2026-04-01,E2E-O3-01
receipt,,,,,,,,,$P2,,
CSV
run "$L" batch "$T/good.csv"
check "batch: five good rows append five entries" sh -c "[ $rc -eq 0 ] && [ \$(grep -Ec '^[0-9a-f]{64}\$' '$T/out') -eq 5 ]"
check "batch: the log grew by five" [ "$(logcount "$L")" -eq $((before + 5)) ]
check "batch: the computed W02/B 2026-01 claim is 45200" sh -c "'$K' --home '$L' --json show \$(sed -n 3p '$T/out') | jq -e '.fields.amount_cents == 45200'"
before=$(logcount "$L")
cat >"$T/bad.csv" <<CSV
type,allocation,period,units,unit
delivery,$A2,2026-09,4,hour
delivery,$A2,2026-13,4,hour
delivery,$A2,2026-10,-1,hour
CSV
run "$L" batch "$T/bad.csv"
check "batch: a file with bad rows is refused (65)" [ "$rc" -eq 65 ]
check "batch: every bad row is reported with its line number" sh -c "grep -q 'bad.csv:3:' '$T/err' && grep -q 'bad.csv:4:' '$T/err'"
check "batch: nothing appended" [ "$(logcount "$L")" -eq "$before" ]
cat >"$T/refused.ndjson" <<JSON
{"type":"delivery","allocation":"$A2","period":"2026-09","units":4,"unit":"hour"}
{"type":"delivery","allocation":"$A2","period":"2030-01","units":4,"unit":"hour"}
JSON
run "$L" batch "$T/refused.ndjson"
check "batch: a row a rule refuses stops the whole batch (65, rule named)" sh -c "[ $rc -eq 65 ] && grep -q 'date-outside-validity' '$T/err'"
check "batch: the refused row is named by its line" grep -q "refused.ndjson:2: refused by rule 'date-outside-validity': " "$T/err"
check "batch: nothing appended after a refusal" [ "$(logcount "$L")" -eq "$before" ]
cat >"$T/unknown.csv" <<CSV
type,allocation,period,units,unit
delivery,deadbeefdeadbeef,2026-09,4,hour
CSV
run "$L" batch "$T/unknown.csv"
check "batch: an unknown id names its line" sh -c "[ $rc -eq 65 ] && grep -q 'unknown.csv:2:' '$T/err'"
cat >"$T/good.ndjson" <<JSON
{"type":"delivery","allocation":"$A2","period":"2026-09","units":"4","unit":"hour"}
{"type":"delivery","allocation":"$A2","period":"2026-10","units":6,"unit":"hour","note":"groepssessies"}
JSON
run "$L" --json batch "$T/good.ndjson"
check "batch: NDJSON rows append, --json lists line, type and id" jq -e 'length == 2 and .[1].line == 2 and .[0].type == "delivery"' "$T/out"
check "batch: the log grew by two" [ "$(logcount "$L")" -eq $((before + 2)) ]

# Reading by party: --with (and a provider's own view) reads the records
# indexed under one party, balance reads one running total per pair.  Both
# must give what the whole state gives: the --with rows are the rows of
# the whole reconciliation that name that party, and the running totals
# are the sums of the daily records.
# rows HOME KEY [--with]: line, pair and finding rows (open-dispute aside,
# it is matched on its parties, not on payer and payee) naming KEY, sorted
rows() {
	if [ $# -eq 3 ]; then "$K" --home "$1" reconcile --with "$2" --as-of "$AS_OF" --format csv
	else "$K" --home "$1" reconcile --as-of "$AS_OF" --format csv; fi |
		awk -F, -v k="$2" '($1 == "line" || $1 == "pair" || $1 == "finding") && $2 != "open-dispute" && ($4 == k || $6 == k)' |
		LC_ALL=C sort
}
for view in "$M:$LK" "$M:$SK" "$L:$SK" "$L:$MK" "$S:$LK"; do
	h=${view%%:*} k=${view#*:}
	rows "$h" "$k" >"$T/all.rows"
	rows "$h" "$k" --with >"$T/with.rows"
	check "reconcile --with $(basename "$h")->${k%"${k#????????}"}: the rows of the whole view naming that party" \
		sh -c "[ -s '$T/all.rows' ] && cmp -s '$T/all.rows' '$T/with.rows'"
done
for h in "$M" "$L" "$S"; do
	"$K" --home "$h" --json balance >"$T/bal.now"
	"$K" --home "$h" --json balance --as-of 2099-12-31 >"$T/bal.days"
	check "balance of $(basename "$h"): running totals equal the sum of the days" \
		sh -c "jq -e 'length > 0' '$T/bal.now' && cmp -s '$T/bal.now' '$T/bal.days'"
	for k in "$MK" "$LK" "$SK"; do
		"$K" --home "$h" --json balance --with "$k" >"$T/bal.with" 2>/dev/null || continue
		check "balance of $(basename "$h") --with ${k%"${k#????????}"}: its rows of the whole balance" \
			sh -c "jq -S --arg k '$k' '[.[] | select(.party == \$k)]' '$T/bal.now' >'$T/a' && jq -S . '$T/bal.with' >'$T/b' && cmp -s '$T/a' '$T/b'"
	done
done

# Receipts as of a day: reconcile --as-of reads the receipt's date, amount
# and received flag from the payment's own record (copied there by the
# receipt, taken off by the correction that voids it), so a payment counts
# as confirmed from its receipt's date on, and no longer once the receipt
# is void.  Run at the lead (through its party index, with and without
# --with) and at the subcontractor.  The claim is dated today, so the
# days are counted from today: paid on D1, receipts dated D10, D20, D25.
# pay_finding HOME AS_OF PARTY: the kind and amount ("kind,cents") of P9's finding, or
# "none", from the whole view and with --with PARTY: one word when both agree
pay_finding() {
	for w in "" "--with"; do
		if [ -n "$w" ]; then "$K" --home "$1" reconcile --with "$3" --as-of "$2" --format csv
		else "$K" --home "$1" reconcile --as-of "$2" --format csv; fi |
			awk -F, -v p="$P9" '$1 == "finding" && index($17, p) == 1 { print $2 "," $16; f = 1 } END { if (!f) print "none" }'
	done | LC_ALL=C sort -u | paste -sd' ' -
}
D() { date -d "$TODAY +$1 days" +%F; }
D1=$(D 1) D9=$(D 9) D10=$(D 10) D19=$(D 19) D20=$(D 20) D25=$(D 25)
new "O3 2026-03 claimed" "$S" claim "$O3" --installment 2026-03; K9=$ID
sync "$S" "$L"
new "lead pays O3 2026-03 the next day" "$L" pay "$K9" --amount 500 --date "$D1" --reference E2E-O3-03; P9=$ID
sync "$L" "$S"
new "subcontractor confirms it, dated D10" "$S" receipt "$P9" --date "$D10"; R9=$ID
sync "$S" "$L"
for h in "$L:$SK" "$S:$LK"; do
	k=${h#*:} h=${h%%:*}
	check "$(basename "$h"): as of the day before the receipt, the payment is unconfirmed" \
		[ "$(pay_finding "$h" "$D9" "$k")" = "payment-unconfirmed,50000" ]
	check "$(basename "$h"): as of the receipt's date, it is confirmed in full" [ "$(pay_finding "$h" "$D10" "$k")" = none ]
done
run "$S" receipt "$P9" --amount 400
check "a second receipt is refused while the first stands" sh -c "[ $rc -ne 0 ] && grep -q receipt-exists '$T/err'"
new "subcontractor voids its receipt" "$S" correct "$R9" --reason "bedrag klopt niet"
sync "$S" "$L"
for h in "$L:$SK" "$S:$LK"; do
	k=${h#*:} h=${h%%:*}
	check "$(basename "$h"): the receipt voided, the payment is unconfirmed again" \
		[ "$(pay_finding "$h" 2099-12-31 "$k")" = "payment-unconfirmed,50000" ]
done
new "subcontractor confirms 400.00 of it, dated D20" "$S" receipt "$P9" --amount 400 --date "$D20"; R10=$ID
sync "$S" "$L"
for h in "$L:$SK" "$S:$LK"; do
	k=${h#*:} h=${h%%:*}
	check "$(basename "$h"): as of D19 the new receipt does not count yet" \
		[ "$(pay_finding "$h" "$D19" "$k")" = "payment-unconfirmed,50000" ]
	check "$(basename "$h"): as of D20 it is a receipt-mismatch of 100.00" \
		[ "$(pay_finding "$h" "$D20" "$k")" = "receipt-mismatch,10000" ]
done
check "the mismatch names the new receipt, not the voided one" sh -c \
	"'$K' --home '$L' reconcile --as-of $D20 --format csv | grep '^finding,receipt-mismatch,' | grep '$P9' | grep -q '$R10' &&
	! '$K' --home '$L' reconcile --as-of $D20 --format csv | grep -q '$R9'"
new "subcontractor voids that one too" "$S" correct "$R10" --reason "toch niets ontvangen"
new "subcontractor says nothing arrived, dated D25" "$S" receipt "$P9" --not-received --date "$D25"
sync "$S" "$L"
for h in "$L:$SK" "$S:$LK"; do
	k=${h#*:} h=${h%%:*}
	check "$(basename "$h"): as of D25 nothing arrived: a receipt-mismatch of the whole 500.00" \
		[ "$(pay_finding "$h" "$D25" "$k")" = "receipt-mismatch,50000" ]
done

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
