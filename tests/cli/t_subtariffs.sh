#!/bin/sh
# t_subtariffs.sh — subcontract tariffs (onderaannemerstarieven) in the
# framework contract, through the keten binary, with a municipality (the
# trust anchor), a lead provider and two subcontractors exchanging entries
# by export/import:
#   1. contract add --sub-tariffs signs examples/subtarieven-voorbeeld-2026.csv
#      in the contract; contract show (and --json) shows it; bad tables are
#      refused by the reader (exit 65, nothing stored);
#   2. subcontract --service prices an offer from the table: units x the
#      service's tariff (95.5 minutes x 1.87 = 178.585 -> 178.59), a share of
#      a herstel trajectory (66.67 % of 14.366,00 = 9.577,8122 -> 9.577,81), of a
#      duurzaam month (66.67 % of 1.596,00 = 1.064,0532 -> 1.064,05); a
#      contract's indexation leaves the table as signed (0.75 h x 98.50 =
#      73.875 -> 73.88 in 2027 after +2.5 %);
#   3. under --subcontract fixed every offer off the table is refused (rule
#      not-subcontract-tariff, exit 65, nothing stored); under max a price
#      above it is accepted with the finding above-subcontract-tariff; under
#      free nothing is judged;
#   4. --max-margin judged for share-priced offers (margin = 100 % - share),
#      on herstel and duurzaam alike;
#   5. the old judgement is gone: a fixed 4.800,00 and 30 h x 100,00 on a
#      14.366,00 trajectory are no longer tariff-differs-from-framework (nor
#      above-framework-tariff under max); a month against a month still is;
#   6. reconcile lists the findings with their evidence in table, CSV and
#      JSON, the same from the lead provider's and the subcontractors' side
#      (one of them fed only what it may read);
#   7. claims on share-priced offers to the cent (2/3 + 1/3, a month pro rata).
# KEEP=1 keeps the temporary homes.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARIFFS=$ROOT/examples/tarieven-voorbeeld-2026.csv
SUBT=$ROOT/examples/subtarieven-voorbeeld-2026.csv
T=$(mktemp -d) || exit 70
[ -n "${KEEP:-}" ] && echo "# homes in $T"
trap "[ -n \"${KEEP:-}\" ] || rm -rf \"$T\"" EXIT
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
M=$T/municipality
L=$T/lead
S=$T/sub
S2=$T/sub2
n=0
failed=0
# reconcile as of the end of 2027 (or later when run later), so that the offers from 2027 count
AS_OF=2027-12-31
[ "$(date +%Y%m%d)" -lt 20271101 ] || AS_OF=$(date -d "+60 days" +%F)

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
# refused RULE DESC HOME ARGS...: exit 65, "refused by rule 'RULE'" on stderr, nothing stored
refused() {
	rule=$1; d=$2; h=$3; shift 3
	before=$(logcount "$h")
	run "$h" "$@"
	after=$(logcount "$h")
	if [ "$rc" -eq 65 ] && grep -q "refused by rule '$rule'" "$T/err" && [ "$before" = "$after" ]; then
		ok "refused: $d ($rule)"; else
		nok "refused: $d ($rule): exit $rc, log $before -> $after"; sed 's/^/# /' "$T/err"; fi
}
# badtable DESC MESSAGE CSV: contract add with that --sub-tariffs file exits 65 naming MESSAGE; nothing stored
badtable() {
	d=$1; msg=$2; printf '%s' "$3" >"$T/bad.csv"
	before=$(logcount "$M")
	run "$M" contract add --ref RC-BAD --domain jeugd --municipality 0405 --from 2026-01-01 --until 2028-12-31 \
		--tariffs "$TARIFFS" --subcontract fixed --sub-tariffs "$T/bad.csv"
	after=$(logcount "$M")
	if [ "$rc" -eq 65 ] && grep -q "$msg" "$T/err" && [ "$before" = "$after" ]; then ok "bad table: $d"; else
		nok "bad table: $d: exit $rc, log $before -> $after"; sed 's/^/# /' "$T/err"; fi
}
sync() {
	from=$1; shift
	"$K" --home "$from" export -o "$T/x.ndjson" || nok "export from $from"
	for to in "$@"; do
		"$K" --home "$to" import "$T/x.ndjson" >/dev/null 2>"$T/imperr" || { nok "import into $to"; sed 's/^/# /' "$T/imperr"; }
	done
}
# feed FROM: what FROM holds, imported into S2 with bodies only where S2 may read them (as sync sends them)
feed() {
	"$K" --home "$1" export -o "$T/x.ndjson"
	jq -c --arg k "$S2K" 'if (.audience | length) > 0 and .author != $k and ((.audience | index($k)) == null)
		then .body = null | .fields = null | del(.salt) else . end' "$T/x.ndjson" >"$T/x2.ndjson"
	"$K" --home "$S2" import "$T/x2.ndjson" >/dev/null 2>"$T/imperr" || { nok "need-to-know import"; sed 's/^/# /' "$T/imperr"; }
}
# body ID FILTER: jq FILTER over the offer's signed fields at the lead provider
body() { "$K" --home "$L" --json show "$1" | jq -e ".fields | $2" >/dev/null; }
# agreed ID CENTS: reconcile at the lead provider shows the subcontract line with that agreed amount
agreed() { "$K" --home "$L" --json reconcile --as-of "$AS_OF" | jq -e --arg s "$1" --argjson c "$2" \
	'[.lines[] | select(.subject == $s) | .agreed_cents] == [$c]' >/dev/null; }
# findings ID: the finding kinds on subject ID in $T/rec.json, sorted, comma-separated
findings() { jq -r --arg s "$1" '[.findings[] | select(.subject == $s) | .kind] | sort | join(",")' "$T/rec.json"; }
# has ID KINDS: the finding kinds on ID are exactly KINDS ("" for none)
has() { [ "$(findings "$1")" = "$2" ]; }

# --- homes and parties -----------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S" init --name "Hulp Onder VOF" --role subcontractor --agb 87654321 --no-passphrase; SK=$(cat "$T/out")
run "$S2" init --name "Praktijk Twee" --role subcontractor --no-passphrase; S2K=$(cat "$T/out")
for h in "$M" "$L" "$S" "$S2"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
new "municipality certifies itself" "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405
new "municipality certifies the lead provider" "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678
new "municipality certifies the subcontractor" "$M" party certify "$SK" --name "Hulp Onder VOF" --role subcontractor --agb 87654321
new "municipality certifies a second subcontractor" "$M" party certify "$S2K" --name "Praktijk Twee" --role subcontractor

# --- 1. the table in the contract ----------------------------------------------------
check "the example table starts with a SYNTHETIC line" sh -c "head -1 '$SUBT' | grep -q '^# SYNTHETIC'"
C="--domain jeugd --municipality 0405 --from 2026-01-01 --until 2028-12-31 --tariffs $TARIFFS"
new "RC-F: fixed, max margin 10%, with subcontract tariffs" "$M" contract add --ref RC-F $C --subcontract fixed \
	--max-margin 10 --sub-tariffs "$SUBT"
new "RC-M: max, max margin 10%, with subcontract tariffs" "$M" contract add --ref RC-M $C --subcontract max \
	--max-margin 10 --sub-tariffs "$SUBT"
new "RC-V: free, with subcontract tariffs" "$M" contract add --ref RC-V $C --subcontract free --sub-tariffs "$SUBT"
new "RC-0: fixed, no subcontract tariffs" "$M" contract add --ref RC-0 $C --subcontract fixed
new "RC-W: wmo, max, max margin 10%, with subcontract tariffs" "$M" contract add --ref RC-W --domain wmo \
	--municipality 0405 --from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --subcontract max --max-margin 10 \
	--sub-tariffs "$SUBT"
new "RC-M indexed by 2.5% from 2027" "$M" contract index RC-M --year 2027 --pct 2.5
run "$M" --json contract show RC-F
cp "$T/out" "$T/show.json"
check "contract show --json: the ten lines of the table, in order" \
	jq -e '[.sub_tariffs[].service] == ["gezinsbegeleiding","individuele-begeleiding","behandeling","logeeropvang",
	  "dagbesteding","vervoer","huiswerkbegeleiding","persoonlijke-kosten","traject-deel","traject-groot"]' "$T/show.json"
check "contract show --json: gezinsbegeleiding 9850 cents per hour, named" \
	jq -e '.sub_tariffs[0] == {"service":"gezinsbegeleiding","name":"Gezinsbegeleiding thuis","unit":"hour","cents":9850}' "$T/show.json"
check "contract show --json: every WJ756 unit word is kept" \
	jq -e '[.sub_tariffs[] | .unit // empty] == ["hour","hour","minute","etmaal","dagdeel","piece-output","piece-effort","euro"]' "$T/show.json"
check "contract show --json: share-priced lines have share_bp (66.67% = 6667, 92.5% = 9250) and no unit" \
	jq -e '[.sub_tariffs[8,9] | [.share_bp, has("unit"), has("cents")]] == [[6667,false,false],[9250,false,false]]' "$T/show.json"
run "$M" contract show RC-F
check "contract show (table form) lists the subcontract tariffs" sh -c "grep -q '\"sub_tariffs\"' '$T/out' && grep -q 'piece-effort' '$T/out'"
run "$M" --json contract show RC-0
check "a contract without subcontract tariffs shows an empty table" jq -e '.sub_tariffs == []' "$T/out"
run "$M" --json contract show RC-M
check "an indexed contract shows its subcontract tariffs as signed" \
	jq -e '.sub_tariffs[0].cents == 9850 and .sub_tariffs[8].share_bp == 6667 and .indexations == [{"year": 2027, "bp": 250}]' "$T/out"
run "$M" --json show "$(jq -r .id "$T/show.json")"
check "the table is signed in the contract body (field sub_tariffs)" jq -e '.fields.sub_tariffs | length == 10' "$T/out"

H='service,unit,tariff_cents,share_pct'
badtable "a service twice" "row 3: service 'a' appears twice" "$H
a,hour,100,
a,minute,5,
"
badtable "unit piece is not WJ756" "row 2: unit 'piece' is not a WJ756 unit" "$H
a,piece,100,
"
badtable "unit day is not WJ756" "unit 'day' is not a WJ756 unit" "$H
a,day,100,
"
badtable "tariff_cents 0" "tariff_cents '0' is not a whole number of cents above zero" "$H
a,hour,0,
"
badtable "tariff_cents in euros" "tariff_cents '98.50' is not a whole number" "$H
a,hour,98.50,
"
badtable "share 0%" "share_pct '0' is not a percentage above 0 and at most 100" "$H
a,,,0
"
badtable "share above 100%" "share_pct '100.01' is not a percentage" "$H
a,,,100.01
"
badtable "a share with a unit" "service 'a' is priced as a share: its unit and tariff_cents stay empty" "$H
a,hour,,50
"
badtable "no unit column" "the header has no column 'unit'" 'service,tariff_cents
a,100
'
badtable "only comments" "no subcontract tariff lines" "# nothing here
$H
# nor here
"
badtable "an empty service" "service '' is not a name" "$H
,hour,100,
"
before=$(logcount "$M")
run "$M" contract add --ref RC-BAD $C --sub-tariffs "$T/none.csv"
check "a missing table file: exit 66, nothing stored" sh -c "[ $rc -eq 66 ] && grep -q 'cannot read' '$T/err' && [ $before = $(logcount "$M") ]"
printf '# SYNTHETIC\nservice,unit,tariff_cents\n# a comment between records\nx,hour,1\n' >"$T/ok.csv"
new "a table with comments between its records and no share column" "$M" contract add --ref RC-C $C --sub-tariffs "$T/ok.csv"
run "$M" --json contract show RC-C
check "it holds its one line" jq -e '.sub_tariffs == [{"service":"x","name":"","unit":"hour","cents":1}]' "$T/out"
sync "$M" "$L" "$S"

# --- allocations -----------------------------------------------------------------------
alloc() { # DESC VAR CONTRACT PROFILE INTENSITY KIND FROM UNTIL
	new "$1" "$M" allocate --contract "$3" --client "HRN-$2" --provider "Zorg Hoofd BV" --profile "$4" \
		--intensity "$5" --kind "$6" --from "$7" --until "$8" \
		$(case "$4" in W*) echo --volume 200 --unit hour --frequency total ;; esac)
	eval "$2=\$ID"
}
alloc "AF1: RC-F J03/4 herstel (1436600)" AF1 RC-F J03 4 herstel 2026-01-01 2026-12-31
alloc "AF2: RC-F J03/4 herstel" AF2 RC-F J03 4 herstel 2026-01-01 2026-12-31
alloc "AF3: RC-F J03/4 duurzaam (159600 a month)" AF3 RC-F J03 4 duurzaam 2026-01-01 2026-06-30
alloc "AF4: RC-F J03/4 herstel, for offers without a service" AF4 RC-F J03 4 herstel 2026-01-01 2026-12-31
alloc "AF5: RC-F J03/4 duurzaam, for a monthly offer without a service" AF5 RC-F J03 4 duurzaam 2026-01-01 2026-06-30
alloc "AM1: RC-M J03/4 herstel" AM1 RC-M J03 4 herstel 2026-01-01 2026-12-31
alloc "AM2: RC-M J03/4 herstel from 2027 (indexed)" AM2 RC-M J03 4 herstel 2027-01-01 2027-12-31
alloc "AM3: RC-M J03/4 herstel, for an offer above the trajectory" AM3 RC-M J03 4 herstel 2026-01-01 2026-12-31
alloc "AM4: RC-M J03/4 herstel, offered to a subcontractor that cannot read it" AM4 RC-M J03 4 herstel 2026-01-01 2026-12-31
alloc "AV1: RC-V J03/4 herstel" AV1 RC-V J03 4 herstel 2026-01-01 2026-12-31
alloc "A01: RC-0 J03/4 herstel" A01 RC-0 J03 4 herstel 2026-01-01 2026-12-31
alloc "AW1: RC-W W02/B duurzaam (45200 a month)" AW1 RC-W W02 B duurzaam 2026-01-01 2026-06-30
sync "$M" "$L"

# --- 2. priced from the table (fixed) ------------------------------------------------------------
new "AF1: gezinsbegeleiding, 12.5 hours from the table" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 12.5 --from 2026-01-01; OF1=$ID
check "its body: per unit, 1250 hundredths of an hour at 9850, the service named" \
	body "$OF1" '.pricing == 2 and .units == 1250 and .unit == "hour" and .unit_tariff_cents == 9850 and .service == "gezinsbegeleiding" and (has("share_bp") | not)'
new "AF1: behandeling, 95.5 minutes from the table" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service behandeling --units 95.5 --from 2026-01-01; OF2=$ID
run "$L" --json subcontract "$AF1" --to "Hulp Onder VOF" --service traject-deel --from 2026-01-01
OF3=$(jq -r .id "$T/out")
check "AF1: traject-deel, 66.67% of the trajectory 1436600 = 957781.22 -> 957781, a fixed amount" \
	jq -e '.amount_cents == 957781' "$T/out"
check "its body: fixed, share_bp 6667, the service named" \
	body "$OF3" '.pricing == 1 and .amount_cents == 957781 and .share_bp == 6667 and .service == "traject-deel"'
new "AF2: traject-groot, 92.5% of the trajectory" "$L" subcontract "$AF2" --to "Hulp Onder VOF" --service traject-groot \
	--from 2026-01-01; OF4=$ID
run "$L" --json subcontract "$AF3" --to "Hulp Onder VOF" --service traject-deel --from 2026-01-01
OF5=$(jq -r .id "$T/out")
check "AF3: traject-deel on duurzaam, 66.67% of 159600 = 106405.32 -> 106405 a month" \
	body "$OF5" '.pricing == 3 and .amount_cents == 106405 and .share_bp == 6667'
new "AF1: gezinsbegeleiding with its own price, the table's (98.50 an hour)" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 2 --unit-tariff 98,50 --unit hour --from 2026-01-01; OF6=$ID

# --- 3. off the table under fixed: refused ---------------------------------------------------------
refused not-subcontract-tariff "a service not in the table, priced by its own" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service onbekend --units 3 --unit-tariff 98.50 --unit hour --from 2026-01-01
refused not-subcontract-tariff "a service not in the table, priced from it" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service onbekend --units 3 --from 2026-01-01
refused not-subcontract-tariff "a unit other than the service's (minutes of gezinsbegeleiding)" "$L" subcontract "$AF1" \
	--to "Hulp Onder VOF" --service gezinsbegeleiding --units 3 --unit-tariff 98.50 --unit minute --from 2026-01-01
check "the message names the service's unit" grep -q "service 'gezinsbegeleiding' is priced per hour" "$T/err"
refused not-subcontract-tariff "a price other than the table's (100.00 an hour)" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 3 --unit-tariff 100 --unit hour --from 2026-01-01
check "the message names both prices" grep -q "costs 9850 cents per hour, the offer 10000" "$T/err"
refused not-subcontract-tariff "a price below the table's (98.49 an hour)" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 3 --unit-tariff 98.49 --unit hour --from 2026-01-01
refused not-subcontract-tariff "a fixed amount for a service priced per hour" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --amount 295.50 --from 2026-01-01
refused not-subcontract-tariff "another amount than the share of the trajectory" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service traject-deel --amount 9577.82 --from 2026-01-01
check "the message names the share's amount" grep -q "6667 bp of what is subcontracted: 957781 cents, the offer 957782" "$T/err"
refused not-subcontract-tariff "a fixed amount for a share of each month" "$L" subcontract "$AF3" --to "Hulp Onder VOF" \
	--service traject-deel --amount 1064.05 --from 2026-01-01
refused not-subcontract-tariff "units for a share-priced service" "$L" subcontract "$AF1" --to "Hulp Onder VOF" \
	--service traject-deel --units 2 --unit-tariff 10 --unit hour --from 2026-01-01
refused not-subcontract-tariff "a service on a fixed contract without subcontract tariffs" "$L" subcontract "$A01" \
	--to "Hulp Onder VOF" --service gezinsbegeleiding --units 3 --unit-tariff 98.50 --unit hour --from 2026-01-01
run "$L" subcontract "$AF1" --to "Hulp Onder VOF" --service traject-deel --units 2 --from 2026-01-01
check "a share-priced service from the table takes no units (usage, exit 64)" sh -c "[ $rc -eq 64 ] && grep -q 'priced as a share' '$T/err'"
run "$L" subcontract "$AF1" --to "Hulp Onder VOF" --service gezinsbegeleiding --from 2026-01-01
check "a per-unit service from the table needs its units (usage, exit 64)" sh -c "[ $rc -eq 64 ] && grep -q 'give the units' '$T/err'"

# --- 5. the old judgement: a part of the care is not the whole arrangement ---------------------------
new "AF4: a fixed 4800.00, no service" "$L" subcontract "$AF4" --to "Hulp Onder VOF" --amount 4800 --from 2026-01-01; OO1=$ID
new "AF4: 30 h x 100.00, no service" "$L" subcontract "$AF4" --to "Hulp Onder VOF" --units 30 --unit-tariff 100 --unit hour \
	--from 2026-01-01; OO2=$ID
new "AF5: 1000.00 a month on a 1596.00 month, no service" "$L" subcontract "$AF5" --to "Hulp Onder VOF" --monthly 1000 \
	--from 2026-01-01; OO3=$ID
new "AM3: 15000.00 fixed on a 14366.00 trajectory under max, no service" "$L" subcontract "$AM3" --to "Hulp Onder VOF" \
	--amount 15000 --from 2026-01-01; OO4=$ID

# --- 3. above the table under max: a finding; under free: no judgement --------------------------------
new "AM1: gezinsbegeleiding at 105.01 an hour, above the table's 98.50" "$L" subcontract "$AM1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 10 --unit-tariff 105.01 --unit hour --from 2026-01-01; OM1=$ID
new "AM1: gezinsbegeleiding at 90.00 an hour, below it" "$L" subcontract "$AM1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 10 --unit-tariff 90 --unit hour --from 2026-01-01; OM2=$ID
new "AM1: traject-deel as 10000.00, above 66.67% of the trajectory (9577.81)" "$L" subcontract "$AM1" --to "Hulp Onder VOF" \
	--service traject-deel --amount 10000 --from 2026-01-01; OM3=$ID
refused not-subcontract-tariff "under max too, a service not in the table" "$L" subcontract "$AM1" --to "Hulp Onder VOF" \
	--service onbekend --units 1 --unit-tariff 1 --unit hour --from 2026-01-01
refused not-subcontract-tariff "under max too, a unit other than the service's" "$L" subcontract "$AM1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 1 --unit-tariff 1 --unit minute --from 2026-01-01
new "AM2 (2027, the contract indexed): gezinsbegeleiding from the table" "$L" subcontract "$AM2" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 0.75 --from 2027-01-01; OM4=$ID
check "the table as signed, not indexed: 9850 an hour in 2027" body "$OM4" '.unit_tariff_cents == 9850 and .units == 75'
new "AM2 (2027): at the table's 98.50 an hour itself" "$L" subcontract "$AM2" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 1 --unit-tariff 98.50 --unit hour --from 2027-01-01; OM5=$ID
new "AM2 (2027): one cent above it" "$L" subcontract "$AM2" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 1 --unit-tariff 98.51 --unit hour --from 2027-01-01; OM6=$ID
new "AV1 (free): a service not in the table" "$L" subcontract "$AV1" --to "Hulp Onder VOF" --service onbekend --amount 100 \
	--from 2026-01-01; OV1=$ID
new "AV1 (free): gezinsbegeleiding at 500.00 an hour" "$L" subcontract "$AV1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 2 --unit-tariff 500 --unit hour --from 2026-01-01; OV2=$ID
new "AV1 (free): gezinsbegeleiding from the table" "$L" subcontract "$AV1" --to "Hulp Onder VOF" \
	--service gezinsbegeleiding --units 2 --from 2026-01-01; OV3=$ID

# --- 4. the margin of a share-priced offer on duurzaam (Wmo) ------------------------------------------
new "AW1: traject-deel on W02/B duurzaam from 16 January" "$L" subcontract "$AW1" --to "Hulp Onder VOF" \
	--service traject-deel --from 2026-01-16; OW1=$ID
check "66.67% of 45200 = 30134.84 -> 30135 a month" body "$OW1" '.pricing == 3 and .amount_cents == 30135'

# --- the subcontractor accepts; the agreed amounts to the cent ------------------------------------------
sync "$L" "$S"
for o in "$OF1" "$OF2" "$OF3" "$OF4" "$OM4" "$OV3" "$OW1"; do "$K" --home "$S" accept "$o" >/dev/null || nok "accept $o"; done
sync "$S" "$L" "$M"
check "agreed: 12.5 x 98.50 = 1231.25" agreed "$OF1" 123125
check "agreed: 95.5 x 1.87 = 178.585, half away from zero 178.59" agreed "$OF2" 17859
check "agreed: 1436600 x 92.5% = 1328855" agreed "$OF4" 1328855
check "agreed: 0.75 x 98.50 = 73.875, half away from zero 73.88" agreed "$OM4" 7388
check "agreed: 2 x 98.50 = 197.00" agreed "$OV3" 19700

# --- 6. reconcile -------------------------------------------------------------------------------------
run "$L" --json reconcile --as-of "$AS_OF"
cp "$T/out" "$T/rec.json"
check "from the table, at its price: no finding (OF1, OF2, OF6, OF4)" \
	sh -c "[ -z '$(findings "$OF1")$(findings "$OF2")$(findings "$OF6")$(findings "$OF4")' ]"
check "share 66.67% on herstel: margin 33.33% above the 10% maximum (OF3)" has "$OF3" margin-above-maximum
check "share 66.67% on duurzaam: margin-above-maximum too (OF5)" has "$OF5" margin-above-maximum
check "share 66.67% on a Wmo duurzaam month: margin-above-maximum (OW1)" has "$OW1" margin-above-maximum
check "share 92.5%: a margin of 7.5% is within the maximum (OF4)" has "$OF4" ""
check "a fixed 4800.00 on a 14366.00 trajectory: no tariff-differs-from-framework (OO1)" has "$OO1" ""
check "30 h x 100.00 on a 14366.00 trajectory: no tariff-differs-from-framework (OO2)" has "$OO2" ""
check "a month against a month still differs from the framework, and keeps 37% (OO3)" \
	has "$OO3" margin-above-maximum,tariff-differs-from-framework
check "15000.00 on a 14366.00 trajectory under max: over-allocation, not above-framework-tariff (OO4)" has "$OO4" over-allocation
check "above the table under max: above-subcontract-tariff (OM1, OM3, OM6)" \
	sh -c "[ '$(findings "$OM1")/$(findings "$OM3")/$(findings "$OM6")' = 'above-subcontract-tariff/above-subcontract-tariff/above-subcontract-tariff' ]"
check "at or below the table under max: no finding (OM2, OM4, OM5)" sh -c "[ -z '$(findings "$OM2")$(findings "$OM4")$(findings "$OM5")' ]"
check "free: nothing judged (OV1, OV2, OV3)" sh -c "[ -z '$(findings "$OV1")$(findings "$OV2")$(findings "$OV3")' ]"
check "no above-framework-tariff anywhere" jq -e '[.findings[] | select(.kind == "above-framework-tariff")] == []' "$T/rec.json"
check "above-subcontract-tariff JSON: amount 105010, evidence the offer and its allocation" \
	jq -e --arg o "$OM1" --arg a "$AM1" '[.findings[] | select(.subject == $o)][0] |
	  .amount_cents == 105010 and .evidence == [{"id": $o, "type": "subcontract"}, {"id": $a, "type": "allocation"}]
	  and (.detail | test("subcontract tariff of service .gezinsbegeleiding."))' "$T/rec.json"
check "above-subcontract-tariff JSON: the share priced above, 1000000" \
	jq -e --arg o "$OM3" '[.findings[] | select(.subject == $o) | .amount_cents] == [1000000]' "$T/rec.json"
run "$L" reconcile --as-of "$AS_OF" --format csv
cp "$T/out" "$T/rec.csv"
check "above-subcontract-tariff CSV: 105010 with evidence offer and allocation" \
	sh -c "grep '^finding,above-subcontract-tariff,' '$T/rec.csv' | grep ',105010,' | grep -q '$OM1 $AM1'"
check "above-subcontract-tariff CSV: three rows (OM1, OM3, OM6)" \
	sh -c "[ \$(grep -c '^finding,above-subcontract-tariff,' '$T/rec.csv') -eq 3 ]"
check "margin-above-maximum CSV: the share-priced offers with their amounts" \
	sh -c "grep '^finding,margin-above-maximum,' '$T/rec.csv' | grep ',957781,' | grep -q '$OF3 $AF1' &&
	       grep '^finding,margin-above-maximum,' '$T/rec.csv' | grep ',106405,' | grep -q '$OF5 $AF3' &&
	       grep '^finding,margin-above-maximum,' '$T/rec.csv' | grep -q ',30135,.*$OW1 $AW1'"
run "$L" reconcile --as-of "$AS_OF"
cp "$T/out" "$T/rec.txt"
check "table: above-subcontract-tariff € 1.050,10 with its evidence and detail" \
	sh -c "grep 'above-subcontract-tariff' '$T/rec.txt' | grep -q '€ 1.050,10.*subcontract:$(echo "$OM1" | cut -c1-8), allocation:$(echo "$AM1" | cut -c1-8)' &&
	       grep -q \"price above the subcontract tariff of service 'gezinsbegeleiding' (per hour, 105010 cents)\" '$T/rec.txt'"
run "$L" reconcile --as-of "$AS_OF" --check
check "reconcile --check exits 1" [ "$rc" -eq 1 ]

# the same from the subcontractors' side
sync "$L" "$S" "$M"
run "$S" reconcile --as-of "$AS_OF" --format csv
check "the subcontractor sees the same above-subcontract-tariff rows and amounts" \
	sh -c "[ \"\$(grep '^finding,above-subcontract-tariff,' '$T/rec.csv' | LC_ALL=C sort)\" = \"\$(grep '^finding,above-subcontract-tariff,' '$T/out' | LC_ALL=C sort)\" ]"
check "the subcontractor sees the same margin-above-maximum rows" \
	sh -c "[ \"\$(grep '^finding,margin-above-maximum,' '$T/rec.csv' | LC_ALL=C sort)\" = \"\$(grep '^finding,margin-above-maximum,' '$T/out' | LC_ALL=C sort)\" ]"
run "$M" reconcile --as-of "$AS_OF" --format csv
check "the municipality sees them too" \
	sh -c "[ \"\$(grep '^finding,above-subcontract-tariff,' '$T/rec.csv' | LC_ALL=C sort)\" = \"\$(grep '^finding,above-subcontract-tariff,' '$T/out' | LC_ALL=C sort)\" ]"

# a subcontractor that cannot read the allocation still judges the offer against the public table
sync "$M" "$L"
new "AM4: gezinsbegeleiding at 99.99 an hour to the second subcontractor" "$L" subcontract "$AM4" --to "Praktijk Twee" \
	--service gezinsbegeleiding --units 3 --unit-tariff 99.99 --unit hour --from 2026-01-01; ON1=$ID
new "AM4: traject-deel from the table to it" "$L" subcontract "$AM4" --to "Praktijk Twee" --service traject-deel \
	--from 2026-01-01; ON2=$ID
feed "$M"
feed "$L"
run "$S2" --json show "$AM4"
check "the allocation is only a stub there" jq -e '.status == "stub" and .body == null' "$T/out"
run "$S2" reconcile --as-of "$AS_OF" --format csv
cp "$T/out" "$T/s2.csv"
run "$L" reconcile --as-of "$AS_OF" --format csv
check "it sees above-subcontract-tariff as the lead provider does: 29997 (3 x 99.99), the same evidence" \
	sh -c "grep '^finding,above-subcontract-tariff,' '$T/s2.csv' | grep ',29997,' | grep -q '$ON1 $AM4' &&
	       [ \"\$(grep '^finding,above-subcontract-tariff,.*$ON1' '$T/s2.csv')\" = \"\$(grep '^finding,above-subcontract-tariff,.*$ON1' '$T/out')\" ]"
check "and the share-priced offer's margin-above-maximum, 957781" \
	sh -c "grep '^finding,margin-above-maximum,' '$T/s2.csv' | grep ',957781,' | grep -q '$ON2'"

# --- 7. claims on share-priced offers, to the cent -------------------------------------------------------
run "$S" --json claim "$OF3" --installment upfront
check "OF3 upfront: 2/3 of 957781 = 638520 (floor)" jq -e '.amount_cents == 638520' "$T/out"
run "$S" --json claim "$OF3" --installment final
check "OF3 final: the rest, 319261 (638520 + 319261 = 957781)" jq -e '.amount_cents == 319261' "$T/out"
run "$S" --json claim "$OW1" --installment 2026-01
check "OW1 January from the 16th: 30135 x 16/31 = 15553.55 -> 15554" jq -e '.amount_cents == 15554' "$T/out"
run "$S" --json claim "$OW1" --installment 2026-02
check "OW1 February: the whole month, 30135" jq -e '.amount_cents == 30135' "$T/out"

# --- help texts ---------------------------------------------------------------------------------------------
run "$L" subcontract --help
check "subcontract --help names --service and the rule" sh -c "grep -q -- '--service NAME' '$T/out' && grep -q 'not-subcontract-tariff' '$T/out' && grep -q 'above-subcontract-tariff' '$T/out'"
run "$M" contract --help
check "contract --help names --sub-tariffs and its columns" sh -c "grep -q -- '--sub-tariffs FILE' '$T/out' && grep -q 'share_pct' '$T/out'"

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
