#!/bin/sh
# t_ijw.sh — iJw / iWmo 3.2 messages through `keten ijw import` and
# `keten ijw export --claims`, with a municipality (Hoorn, 0405, the trust
# anchor) and a lead provider (AGB 12345678) that exchange entries by
# export/import.  Every message is synthetic: test BSNs (they pass the
# 11-test and belong to nobody), invented names, birth dates, addresses.
#   1. JW301: a herstel trajectory at its tariff, a component in hours, a
#      Budget that is not the tariff (maatwerk "iJw budget"); the client
#      pseudonym is the same for one BSN and differs for another;
#      re-import (also relaid and renumbered) adds nothing and says so;
#      a duplicate ToewijzingNummer, a foreign Afzender, an unknown
#      Ontvanger and an unmapped product are refused, nothing stored;
#   2. WMO301 in hours per week (the allocation's volume), WMO307 stop
#      code 20 (a pause) and WMO305 (the resume), WMO323 a month;
#   3. JW305 (nothing to record), JW323 debit lines (upfront, units),
#      a credit line that voids a claim and its corrected debit, rule 9346,
#      re-import; JW307 closes with its stop code;
#   4. a change (RedenWijziging 05) replaces the allocation with that
#      number and later messages reach the replacement; 13 voids one;
#   5. hostile and malformed XML refused with exit 65 and nothing stored;
#   6. the privacy test: no BSN, name, birth date, address or comment in
#      any table (mdb_dump) or any byte of either home, in any of the
#      encodings tried;
#   7. export --claims as CSV and JSON, --period, a voided claim as D + C;
#   8. the committed examples (examples/ijw/) in the demo's order: an
#      allocation, its start and up-front claim, a change sent as the old
#      number ended with RedenWijziging 12 and a new number from the day
#      after (the replacement, with what was paid carried over), the stop
#      and the final claim of the replacement.
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
X=$T/msg
mkdir -p "$X"
n=0
failed=0

ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else nok "$d"; fi; }
run() { h=$1; shift; "$K" --home "$h" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
logcount() { "$K" --home "$1" log | wc -l | tr -d ' '; }
# imported DESC HOME FILE...: exit 0; the output in $T/out
imported() {
	d=$1; h=$2; shift 2
	run "$h" ijw import "$@"
	if [ "$rc" -eq 0 ]; then ok "$d"; else nok "$d (exit $rc)"; sed 's/^/# /' "$T/err"; fi
}
# refused DESC HOME NEEDLE FILE: exit 65, NEEDLE on stderr, the log unchanged
refused() {
	d=$1; h=$2; needle=$3; shift 3
	before=$(logcount "$h")
	run "$h" ijw import "$@"
	after=$(logcount "$h")
	if [ "$rc" -eq 65 ] && grep -qF -- "$needle" "$T/err" && grep -q "nothing stored" "$T/err" && [ "$before" = "$after" ]; then
		ok "refused: $d"
	else
		nok "refused: $d: exit $rc, log $before -> $after"; sed 's/^/# /' "$T/err"
	fi
}
sync() {
	from=$1; shift
	"$K" --home "$from" export -o "$T/x.ndjson" || nok "export from $from"
	for to in "$@"; do "$K" --home "$to" import "$T/x.ndjson" >/dev/null 2>"$T/imperr" || { nok "import into $to"; sed 's/^/# /' "$T/imperr"; }; done
}
# field HOME ID JQ: a field of show --json
field() { "$K" --home "$1" --json show "$2" | jq -r "$3"; }
# the id of the entry imported for PART (from the last import's --json output)
idof() { jq -r --arg p "$1" '[.[].entries[] | select(.part == $p) | .id][0]' "$T/out"; }

# --- messages ------------------------------------------------------------------
# The standard's namespaces, by prefix: jw301 ... jw323, wmo301 ... wmo323.
ns() { case $1 in jw*) echo "http://www.istandaarden.nl/ijw/3_2/$1/schema" ;; *) echo "http://www.istandaarden.nl/iwmo/3_2/$1/schema" ;; esac; }
base() { case $1 in jw*) echo "http://www.istandaarden.nl/ijw/3_2/basisschema/schema" ;; *) echo "http://www.istandaarden.nl/iwmo/3_2/basisschema/schema" ;; esac; }
code() { case $1 in jw301) echo 436 ;; jw305) echo 438 ;; jw307) echo 440 ;; jw323) echo 490 ;; wmo301) echo 414 ;; wmo305) echo 418 ;; wmo307) echo 420 ;; wmo323) echo 484 ;; esac; }
# header P FROM TO ID DATE
header() {
	cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<$1:Bericht xmlns:b="$(base "$1")" xmlns:$1="$(ns "$1")">
<$1:Header><$1:BerichtCode>$(code "$1")</$1:BerichtCode><$1:BerichtVersie>3</$1:BerichtVersie><$1:BerichtSubversie>2</$1:BerichtSubversie>
<$1:Afzender>$2</$1:Afzender><$1:Ontvanger>$3</$1:Ontvanger>
<$1:BerichtIdentificatie><b:Identificatie>$4</b:Identificatie><b:Dagtekening>$5</b:Dagtekening></$1:BerichtIdentificatie>
<$1:XsdVersie><b:BasisschemaXsdVersie>1.0.0</b:BasisschemaXsdVersie><b:BerichtXsdVersie>1.0.0</b:BerichtXsdVersie></$1:XsdVersie></$1:Header>
EOF
}
# person P BSN SURNAME FIRST BIRTH: the client's personal data as the schema wants it
person() {
	cat <<EOF
<$1:Bsn>$2</$1:Bsn><$1:Geboortedatum><b:Datum>$5</b:Datum></$1:Geboortedatum><$1:Geslacht>1</$1:Geslacht>
<$1:Naam><b:Geslachtsnaam><b:Achternaam>$3</b:Achternaam></b:Geslachtsnaam><b:Voornamen>$4</b:Voornamen></$1:Naam>
EOF
}
# msg301 P FROM TO ID BSN SURNAME FIRST BIRTH STREET POSTCODE PRODUCTS...
msg301() {
	p=$1; header "$p" "$2" "$3" "$4" 2026-01-02; echo "<$p:Client>"; person "$p" "$5" "$6" "$7" "$8"
	cat <<EOF
<$p:Commentaar>Contact via de moeder, liever na 16 uur.</$p:Commentaar>
<$p:Contactgegevens><$p:Contact><$p:Soort>01</$p:Soort><$p:Adres><b:Straatnaam>$9</b:Straatnaam><b:Huisnummer>17</b:Huisnummer>
<b:Postcode>${10}</b:Postcode><b:Plaatsnaam>Hoorn</b:Plaatsnaam></$p:Adres></$p:Contact></$p:Contactgegevens>
<$p:ToegewezenProducten>
EOF
	shift 10; for prod in "$@"; do echo "$prod"; done
	echo "</$p:ToegewezenProducten></$p:Client></$p:Bericht>"
}
# prod P NUMBER CAT CODE START END INNER: one ToegewezenProduct (INNER after Einddatum)
prod() {
	echo "<$1:ToegewezenProduct><$1:ToewijzingNummer>$2</$1:ToewijzingNummer><$1:Product><b:Categorie>$3</b:Categorie><b:Code>$4</b:Code></$1:Product>"
	echo "<$1:Toewijzingsdatum>2026-01-02</$1:Toewijzingsdatum><$1:Toewijzingstijd>10:00:00</$1:Toewijzingstijd><$1:Ingangsdatum>$5</$1:Ingangsdatum><$1:Einddatum>$6</$1:Einddatum>$7"
	echo "<$1:Commentaar>Vrije tekst over de hulpvraag.</$1:Commentaar></$1:ToegewezenProduct>"
}
omvang() { echo "<$1:Omvang><b:Volume>$2</b:Volume><b:Eenheid>$3</b:Eenheid><b:Frequentie>$4</b:Frequentie></$1:Omvang>"; }
# msg30x P ID BSN SURNAME FIRST BIRTH PRODUCTS...
msg30x() {
	p=$1; header "$p" 12345678 0405 "$2" 2026-06-01; echo "<$p:Client>"; person "$p" "$3" "$4" "$5" "$6"
	case $p in *305) l=StartProducten ;; *) l=StopProducten ;; esac
	echo "<$p:$l>"; shift 6; for prod in "$@"; do echo "$prod"; done; echo "</$p:$l></$p:Client></$p:Bericht>"
}
# start P NUMBER BEGIN / stop P NUMBER BEGIN CODE END
start() { echo "<$1:StartProduct><$1:ToewijzingNummer>$2</$1:ToewijzingNummer><$1:Begindatum>$3</$1:Begindatum><$1:StatusAanlevering>1</$1:StatusAanlevering></$1:StartProduct>"; }
stop() { echo "<$1:StopProduct><$1:ToewijzingNummer>$2</$1:ToewijzingNummer><$1:Begindatum>$3</$1:Begindatum><$1:RedenBeeindiging>$4</$1:RedenBeeindiging><$1:Einddatum>$5</$1:Einddatum><$1:StatusAanlevering>1</$1:StatusAanlevering></$1:StopProduct>"; }
# msg323 P ID NUMBER FROM UNTIL DATE TOTAL DC CLIENTS...
msg323() {
	p=$1; header "$p" 12345678 0405 "$2" "$6"
	echo "<$p:Declaratie><$p:DeclaratieNummer>$3</$p:DeclaratieNummer><$p:DeclaratiePeriode><b:Begindatum>$4</b:Begindatum><b:Einddatum>$5</b:Einddatum></$p:DeclaratiePeriode>"
	echo "<$p:DeclaratieDagtekening>$6</$p:DeclaratieDagtekening><$p:TotaalIngediendBedrag><b:TotaalBedrag>$7</b:TotaalBedrag><b:DebetCredit>$8</b:DebetCredit></$p:TotaalIngediendBedrag><$p:Clienten>"
	shift 8; for c in "$@"; do echo "$c"; done; echo "</$p:Clienten></$p:Declaratie></$p:Bericht>"
}
# client P BSN PRESTATIES...
client() { p=$1; echo "<$p:Client><$p:Bsn>$2</$p:Bsn><$p:Prestaties>"; shift 2; for x in "$@"; do echo "$x"; done; echo "</$p:Prestaties></$p:Client>"; }
# prestatie P REF PREV NUMBER CAT CODE FROM UNTIL VOLUME UNIT TARIFF AMOUNT DC
prestatie() {
	prev=""; [ -n "$3" ] && prev="<b:VorigReferentieNummer>$3</b:VorigReferentieNummer>"
	echo "<$1:Prestatie><$1:ProductReferentie><b:ReferentieNummer>$2</b:ReferentieNummer>$prev</$1:ProductReferentie><$1:ToewijzingNummer>$4</$1:ToewijzingNummer>"
	echo "<$1:ProductCategorie>$5</$1:ProductCategorie><$1:ProductCode>$6</$1:ProductCode><$1:ProductPeriode><b:Begindatum>$7</b:Begindatum><b:Einddatum>$8</b:Einddatum></$1:ProductPeriode>"
	echo "<$1:GeleverdVolume>$9</$1:GeleverdVolume><$1:Eenheid>${10}</$1:Eenheid><$1:ProductTarief>${11}</$1:ProductTarief><$1:IngediendBedrag><b:Bedrag>${12}</b:Bedrag><b:DebetCredit>${13}</b:DebetCredit></$1:IngediendBedrag></$1:Prestatie>"
}

# Test clients: BSNs that pass the 11-test, invented names, birth dates, addresses.
BSN1=222333443; SUR1=Hoogendijk-Vermeer; FIRST1=Roosmarijn; BIRTH1=2012-04-17; STREET1="Lindenhofpad"; PC1=1622ZK
BSN2=333444553; SUR2=Terpstra-Oudejans; FIRST2=Wubbo; BIRTH2=2010-11-03; STREET2="Kolkwegje"; PC2=1623BW
BSN3=908070603; SUR3=Brandsma-Idema; FIRST3=Geertruida; BIRTH3=1958-09-28; STREET3="Achter de Vest"; PC3=1621RT

# --- homes, contracts ----------------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Jeugdhulp Westfriesland" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
"$K" --home "$M" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
"$K" --home "$L" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
"$K" --home "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405 >/dev/null
"$K" --home "$M" party certify "$LK" --name "Jeugdhulp Westfriesland" --role lead-provider --agb 12345678 >/dev/null
run "$M" contract add --ref RGW-J-2026 --domain jeugd --municipality 0405,0498 --from 2026-01-01 --until 2028-12-31 \
	--tariffs "$TARIFFS" --payment-term 30
check "jeugd contract with the mapping columns" test "$rc" -eq 0
run "$M" contract add --ref RGW-W-2026 --domain wmo --municipality 0405 --from 2026-01-01 --until 2028-12-31 \
	--tariffs "$TARIFFS" --payment-term 30
check "wmo contract with the mapping columns" test "$rc" -eq 0
run "$M" --json contract show RGW-J-2026
check "contract show: J03/4 herstel maps 45/45C4H" \
	jq -e '[.tariffs[] | select(.profile == "J03" and .intensity == "4" and .kind == "herstel")][0] | .ijw_category == "45" and .ijw_code == "45C4H"' "$T/out"
sync "$M" "$L"

# --- 1. JW301 ------------------------------------------------------------------------
msg301 jw301 0405 12345678 HRN26A0001 $BSN1 "$SUR1" "$FIRST1" $BIRTH1 "$STREET1" $PC1 \
	"$(prod jw301 2026100001 45 45C4H 2026-03-01 2026-12-31 "$(omvang jw301 14366 83 6)")" \
	"$(prod jw301 2026100002 45 45X01 2026-03-01 2026-06-30 "$(omvang jw301 6 04 6)")" \
	"$(prod jw301 2026100003 45 45C3H 2026-03-01 2026-12-31 "<jw301:Budget>900001</jw301:Budget>")" >"$X/jw301-a.xml"
before=$(logcount "$M")
run "$M" --json ijw import "$X/jw301-a.xml"
check "JW301 with three products: exit 0, three allocations" jq -e '.[0].message == "JW301" and .[0].already == false and (.[0].entries | length) == 3' "$T/out"
A1=$(idof "ToegewezenProduct 1"); A2=$(idof "ToegewezenProduct 2"); A3=$(idof "ToegewezenProduct 3")
check "three entries more in the log" test "$(logcount "$M")" -eq $((before + 3))
check "ToegewezenProduct 1: J03/4 herstel at the tariff 1436600, ToewijzingNummer as number" \
	test "$(field "$M" "$A1" '[.fields.profile, .fields.intensity, .fields.kind, .fields.amount_cents, .fields.number, .fields.start, .fields.end] | join(" ")')" = "J03 4 1 1436600 2026100001 2026-03-01 2026-12-31"
check "ToegewezenProduct 1: no maatwerk (the euro Omvang is the tariff)" test "$(field "$M" "$A1" '.fields.maatwerk // ""')" = ""
check "ToegewezenProduct 2: component C-DIAG, 6 hours x 11800 = 70800" \
	test "$(field "$M" "$A2" '[.fields.component, .fields.units, .fields.amount_cents] | join(" ")')" = "C-DIAG 600 70800"
check "ToegewezenProduct 3: a Budget of 900001 cents is maatwerk 'iJw budget'" \
	test "$(field "$M" "$A3" '[.fields.amount_cents, .fields.maatwerk] | join(" ")')" = "900001 iJw budget"
REF1=$(field "$M" "$A1" .fields.client_ref)
check "the client reference is a pseudonym ijw- and 24 letters" sh -c "printf '%s' '$REF1' | grep -Eq '^ijw-[a-p]{24}$'"
check "one client, one reference in every allocation" test "$(field "$M" "$A2" .fields.client_ref)" = "$REF1"

before=$(logcount "$M")
run "$M" ijw import "$X/jw301-a.xml"
check "re-import: exit 0 and says 'already imported, nothing added'" sh -c "[ $rc -eq 0 ] && grep -q 'JW301 already imported, nothing added: 3 entries recorded then' '$T/out'"
sed -e 's/HRN26A0001/HRN26A0999/' -e 's/></>\n  </g' "$X/jw301-a.xml" >"$X/jw301-relaid.xml"
run "$M" ijw import "$X/jw301-relaid.xml"
check "the same message relaid and renumbered: already imported" grep -q "already imported" "$T/out"
check "re-imports add nothing to the log" test "$(logcount "$M")" -eq "$before"

msg301 jw301 0405 12345678 HRN26A0002 $BSN1 "$SUR1" "$FIRST1" $BIRTH1 "$STREET1" $PC1 \
	"$(prod jw301 2026100009 45 45C4D 2026-03-01 2026-12-31 "")" \
	"$(prod jw301 2026100001 45 45C4H 2026-03-01 2026-12-31 "")" >"$X/jw301-dup.xml"
refused "a ToewijzingNummer already allocated (the good product is not stored either)" "$M" \
	"jw301-dup.xml: ToegewezenProduct 2: ToewijzingNummer '2026100001' already allocated (refused by rule 'duplicate-allocation-number')" "$X/jw301-dup.xml"
sed 's/<jw301:Afzender>0405/<jw301:Afzender>0498/' "$X/jw301-a.xml" >"$X/jw301-other.xml"
refused "an Afzender that is not this home's CBS code" "$M" "Header: Afzender 0498 is not this home's CBS code (0405)" "$X/jw301-other.xml"
sed 's/<jw301:Ontvanger>12345678/<jw301:Ontvanger>99999999/' "$X/jw301-a.xml" >"$X/jw301-agb.xml"
refused "an Ontvanger that is no certified lead provider" "$M" "AGB code 99999999 is the code of no certified lead provider known here (refused by rule 'ijw-receiver')" "$X/jw301-agb.xml"
msg301 jw301 0405 12345678 HRN26A0003 $BSN1 "$SUR1" "$FIRST1" $BIRTH1 "$STREET1" $PC1 \
	"$(prod jw301 2026100010 45 45Z9H 2026-03-01 2026-12-31 "")" >"$X/jw301-unmapped.xml"
refused "a product no contract maps" "$M" "ToegewezenProduct 1: Product 45/45Z9H maps to no arrangement" "$X/jw301-unmapped.xml"
refused "a JW301 imported by the lead provider" "$L" "Afzender 0405 is not this home's CBS code (none)" "$X/jw301-a.xml"

msg301 jw301 0405 12345678 HRN26A0004 $BSN2 "$SUR2" "$FIRST2" $BIRTH2 "$STREET2" $PC2 \
	"$(prod jw301 2026100020 45 45C4H 2026-02-01 2026-12-31 "")" \
	"$(prod jw301 2026100021 45 45C2H 2026-02-01 2026-12-31 "")" >"$X/jw301-b.xml"
run "$M" --json ijw import "$X/jw301-b.xml"
B1=$(idof "ToegewezenProduct 1"); B2=$(idof "ToegewezenProduct 2")
check "another client: another reference" sh -c "[ $rc -eq 0 ] && [ '$(field "$M" "$B1" .fields.client_ref)' != '$REF1' ]"
msg301 jw301 0405 12345678 HRN26A0005 $BSN1 "$SUR1" "$FIRST1" $BIRTH1 "$STREET1" $PC1 \
	"$(prod jw301 2026100030 45 45C4D 2026-04-01 2026-12-31 "")" >"$X/jw301-c.xml"
run "$M" --json ijw import "$X/jw301-c.xml"
check "the first client in a later message: the same reference" test "$(field "$M" "$(idof "ToegewezenProduct 1")" .fields.client_ref)" = "$REF1"

# --- 2. Wmo --------------------------------------------------------------------------
msg301 wmo301 0405 12345678 HRN26W0001 $BSN3 "$SUR3" "$FIRST3" $BIRTH3 "$STREET3" $PC3 \
	"$(prod wmo301 2026200001 02 02B2D 2026-02-01 2026-12-31 "$(omvang wmo301 3 04 2)")" >"$X/wmo301.xml"
run "$M" --json ijw import "$X/wmo301.xml"
W1=$(idof "ToegewezenProduct 1")
check "WMO301: W02/B duurzaam, 45200 a month" test "$(field "$M" "$W1" '[.fields.domain, .fields.profile, .fields.intensity, .fields.kind, .fields.amount_cents] | join(" ")')" = "wmo W02 B 2 45200"
check "WMO301: the Omvang is the allocation's volume, 3 hours a week" test "$(field "$M" "$W1" '[.fields.volume, .fields.volume_unit, .fields.frequency] | join(" ")')" = "300 hour week"
msg301 wmo301 0405 12345678 HRN26W0002 $BSN3 "$SUR3" "$FIRST3" $BIRTH3 "$STREET3" $PC3 \
	"$(prod wmo301 2026200002 02 02B2D 2026-02-01 2026-12-31 "$(omvang wmo301 3 04 1)")" >"$X/wmo301-day.xml"
refused "a frequency per day" "$M" "Omvang Frequentie 1 (per dag) has no keten frequency" "$X/wmo301-day.xml"
sync "$M" "$L"
msg30x wmo307 HRN26W0007 $BSN3 "$SUR3" "$FIRST3" $BIRTH3 "$(stop wmo307 2026200001 2026-02-03 20 2026-04-10)" >"$X/wmo307-pause.xml"
run "$L" --json ijw import "$X/wmo307-pause.xml"
P1=$(idof "StopProduct 1")
check "WMO307 stop code 20: a pause (close, stop code 20, outcome partial)" test "$(field "$L" "$P1" '[.type, .fields.stop_code, .fields.date, .fields.outcome] | join(" ")')" = "result 20 2026-04-10 2"
msg30x wmo305 HRN26W0005 $BSN3 "$SUR3" "$FIRST3" $BIRTH3 "$(start wmo305 2026200001 2026-05-04)" >"$X/wmo305.xml"
run "$L" --json ijw import "$X/wmo305.xml"
check "WMO305 after the pause: a resume on its Begindatum" test "$(field "$L" "$(idof "StartProduct 1")" '[.type, .fields.date] | join(" ")')" = "resume 2026-05-04"
msg323 wmo323 HRN26W0323 W2026030001 2026-03-01 2026-03-31 2026-04-02 45200 D \
	"$(client wmo323 $BSN3 "$(prestatie wmo323 WR0001 "" 2026200001 02 02B2D 2026-03-01 2026-03-31 1 82 45200 45200 D)")" >"$X/wmo323.xml"
run "$L" --json ijw import "$X/wmo323.xml"
check "WMO323: the month 2026-03 claimed, 45200" jq -e '.[0].entries[0].installment == "2026-03" and .[0].entries[0].amount_cents == 45200' "$T/out"

# --- 3. JW305, JW323, JW307 ------------------------------------------------------------
msg30x jw305 HRN26S0001 $BSN1 "$SUR1" "$FIRST1" $BIRTH1 "$(start jw305 2026100001 2026-03-02)" >"$X/jw305.xml"
before=$(logcount "$L")
run "$L" ijw import "$X/jw305.xml"
check "JW305: care starts, nothing to record" sh -c "[ $rc -eq 0 ] && grep -q 'StartProduct 1: care starts on 2026-03-02: nothing to record' '$T/out' && [ $(logcount "$L") -eq $before ]"
run "$L" ijw import "$X/jw305.xml"
check "JW305 again: already imported" grep -q "already imported" "$T/out"
msg30x jw305 HRN26S0002 $BSN1 "$SUR1" "$FIRST1" $BIRTH1 "$(start jw305 2026109999 2026-03-02)" >"$X/jw305-unknown.xml"
refused "a JW305 naming no allocation" "$L" "StartProduct 1: ToewijzingNummer '2026109999' names no live allocation this home holds of municipality 0405" "$X/jw305-unknown.xml"

msg323 jw323 HRN26D0001 D202603A 2026-03-01 2026-03-31 2026-04-02 981333 D \
	"$(client jw323 $BSN1 "$(prestatie jw323 R0001 "" 2026100001 45 45C4H 2026-03-01 2026-03-31 1 82 957733 957733 D)" \
	                      "$(prestatie jw323 R0002 "" 2026100002 45 45X01 2026-03-01 2026-03-31 2 04 11800 23600 D)")" >"$X/jw323-a.xml"
run "$L" --json ijw import "$X/jw323-a.xml"
C1=$(idof "Prestatie 1"); C2=$(idof "Prestatie 2")
check "JW323: the herstel prestatie is the upfront claim, 957733" jq -e '.[0].entries[0].installment == "upfront" and .[0].entries[0].amount_cents == 957733' "$T/out"
check "JW323: number DeclaratieNummer/ReferentieNummer, date, product period" \
	test "$(field "$L" "$C1" '[.fields.number, .fields.date, .fields.period_from, .fields.period_until] | join(" ")')" = "D202603A/R0001 2026-04-02 2026-03-01 2026-03-31"
check "JW323: the component prestatie claims units, 2 x 11800 = 23600" test "$(field "$L" "$C2" '[.fields.installment, .fields.amount_cents] | join(" ")')" = "units 23600"
before=$(logcount "$L")
run "$L" ijw import "$X/jw323-a.xml"
check "JW323 again: already imported, nothing added" sh -c "[ $rc -eq 0 ] && grep -q 'already imported' '$T/out' && [ $(logcount "$L") -eq $before ]"
msg323 jw323 HRN26D0002 D202603B 2026-03-01 2026-03-31 2026-04-03 11800 D \
	"$(client jw323 $BSN1 "$(prestatie jw323 R0003 R0002 2026100002 45 45X01 2026-03-01 2026-03-31 2 04 11800 23600 C)" \
	                      "$(prestatie jw323 R0004 "" 2026100002 45 45X01 2026-03-01 2026-03-31 3 04 11800 35400 D)")" >"$X/jw323-credit.xml"
run "$L" --json ijw import "$X/jw323-credit.xml"
check "a credit line voids the claim it names, its debit claims anew" \
	jq -e '(.[0].entries | map(.type)) == ["correction", "claim"] and .[0].entries[1].amount_cents == 35400' "$T/out"
check "the credited claim is void" test "$(field "$L" "$C2" .status)" = "void"
msg323 jw323 HRN26D0003 D202603C 2026-03-01 2026-03-31 2026-04-03 11800 D \
	"$(client jw323 $BSN1 "$(prestatie jw323 R0005 "" 2026100002 45 45X01 2026-03-01 2026-03-31 1 04 11801 11800 D)")" >"$X/jw323-9346.xml"
refused "GeleverdVolume x ProductTarief is not IngediendBedrag (rule 9346)" "$L" "Prestatie 1: GeleverdVolume 1 x ProductTarief 11801 is not IngediendBedrag 11800 (rule 9346)" "$X/jw323-9346.xml"
msg323 jw323 HRN26D0004 D202603D 2026-03-01 2026-03-31 2026-04-03 23600 C \
	"$(client jw323 $BSN1 "$(prestatie jw323 R0006 R9999 2026100002 45 45X01 2026-03-01 2026-03-31 2 04 11800 23600 C)")" >"$X/jw323-nocredit.xml"
refused "a credit naming no live claim" "$L" "no live claim of this home carries ReferentieNummer 'R9999' (refused by rule 'ijw-claim')" "$X/jw323-nocredit.xml"
refused "a JW323 imported by the municipality" "$M" "Afzender 12345678 is not this home's AGB code (none)" "$X/jw323-a.xml"
msg30x jw307 HRN26E0001 $BSN2 "$SUR2" "$FIRST2" $BIRTH2 "$(stop jw307 2026100020 2026-02-02 32 2026-05-15)" >"$X/jw307.xml"
run "$L" --json ijw import "$X/jw307.xml"
check "JW307 stop code 32: a close, outcome stopped, on the Einddatum" test "$(field "$L" "$(idof "StopProduct 1")" '[.type, .fields.stop_code, .fields.date, .fields.outcome] | join(" ")')" = "result 32 2026-05-15 4"
msg30x jw307 HRN26E0002 $BSN2 "$SUR2" "$FIRST2" $BIRTH2 "$(stop jw307 2026100021 2026-02-02 77 2026-05-15)" >"$X/jw307-code.xml"
refused "a RedenBeeindiging not in JZ588" "$L" "StopProduct 1: RedenBeeindiging '77' is not in the jeugd list (refused by rule 'unknown-stop-code')" "$X/jw307-code.xml"

# --- 4. changes ------------------------------------------------------------------------------
msg301 jw301 0405 12345678 HRN26A0006 $BSN2 "$SUR2" "$FIRST2" $BIRTH2 "$STREET2" $PC2 \
	"$(prod jw301 2026100021 45 45C2H 2026-04-01 2026-12-31 "<jw301:RedenWijziging>05</jw301:RedenWijziging>")" >"$X/jw301-change.xml"
run "$M" --json ijw import "$X/jw301-change.xml"
R1=$(idof "ToegewezenProduct 1")
check "RedenWijziging 05: a replacement of the allocation with that number" test "$(field "$M" "$R1" '[.fields.replaces, .fields.change_reason] | join(" ")')" = "$B2 05"
check "the replaced allocation is closed with stop code 36" test "$(field "$M" "$B2" '.state.stop_code')" = "36"
sync "$M" "$L"
msg30x jw307 HRN26E0003 $BSN2 "$SUR2" "$FIRST2" $BIRTH2 "$(stop jw307 2026100021 2026-04-02 31 2026-11-30)" >"$X/jw307-after.xml"
run "$L" --json ijw import "$X/jw307-after.xml"
check "a later JW307 with the number closes the replacement" test "$(field "$L" "$(idof "StopProduct 1")" .fields.allocation)" = "$R1"
msg301 jw301 0405 12345678 HRN26A0007 $BSN1 "$SUR1" "$FIRST1" $BIRTH1 "$STREET1" $PC1 \
	"$(prod jw301 2026100003 45 45C3H 2026-03-01 2026-03-01 "<jw301:RedenWijziging>13</jw301:RedenWijziging>")" >"$X/jw301-removed.xml"
run "$M" --json ijw import "$X/jw301-removed.xml"
check "RedenWijziging 13 (verwijderd) voids the allocation" sh -c "[ \"\$(jq -r '.[0].entries[0].type' '$T/out')\" = correction ] && [ \"\$('$K' --home '$M' --json show '$A3' | jq -r .status)\" = void ]"

# --- 5. hostile and malformed XML -----------------------------------------------------------
printf '<?xml version="1.0"?>\n<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n<jw301:Bericht xmlns:jw301="%s">&c;</jw301:Bericht>\n' "$(ns jw301)" >"$X/billion.xml"
refused "entity expansion" "$M" "a DOCTYPE or entity declaration is not allowed" "$X/billion.xml"
printf '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<jw301:Bericht xmlns:jw301="%s">&x;</jw301:Bericht>\n' "$(ns jw301)" >"$X/xxe.xml"
refused "an external entity" "$M" "a DOCTYPE or entity declaration is not allowed" "$X/xxe.xml"
python3 -c "print('<jw301:Bericht xmlns:jw301=\"$(ns jw301)\">' + '<a>' * 100 + '</a>' * 100 + '</jw301:Bericht>')" >"$X/deep.xml"
refused "deep nesting" "$M" "deeper than the limit of 16" "$X/deep.xml"
python3 -c "import sys; sys.stdout.write('<a>' + ' ' * (9 * 1024 * 1024) + '</a>')" >"$X/big.xml"
refused "an oversize file" "$M" "larger than the limit" "$X/big.xml"
head -c 1200 "$X/jw301-a.xml" >"$X/truncated.xml"
refused "truncated XML" "$M" "not well-formed XML" "$X/truncated.xml"
sed 's/<jw301:Bsn>222333443/<jw301:Bsn>222333444/' "$X/jw301-a.xml" >"$X/badbsn.xml"
refused "a Bsn failing the 11-test (not quoted)" "$M" "Client: Bsn is not nine digits passing the 11-test" "$X/badbsn.xml"
check "the refused Bsn is not echoed" sh -c "! grep -q 222333444 '$T/err'"
run "$M" ijw import "$X/jw301-c.xml" "$X/billion.xml" "$X/jw301-a.xml"
check "the first bad file stops the rest and says how many were not read" sh -c "[ $rc -eq 65 ] && grep -q '1 later file not read' '$T/err' && grep -q 'already imported' '$T/out'"

# --- 6. privacy -----------------------------------------------------------------------------
sync "$L" "$M"
sync "$M" "$L"
# needles as hex of their bytes (one per line), in every encoding tried
python3 - "$T/needles" <<EOF
import base64, struct, sys
def varint(n):
    out = b""
    while True:
        b = n & 0x7f; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
items = []
for bsn in ["$BSN1", "$BSN2", "$BSN3"]:
    n = int(bsn)
    items += [bsn.encode(), bsn.encode("utf-16-le"), bsn.encode("utf-16-be"), struct.pack("<I", n), struct.pack(">I", n),
              varint(n), bsn.encode().hex().encode(), bsn[:3].encode() + b"." + bsn[3:5].encode() + b"." + bsn[5:].encode()]
for name in ["$SUR1", "$FIRST1", "$SUR2", "$FIRST2", "$SUR3", "$FIRST3", "$STREET1", "$STREET2", "$STREET3", "$PC1", "$PC2", "$PC3",
             "Contact via de moeder", "Vrije tekst over de hulpvraag"]:
    b = name.encode()
    items += [b, b.lower(), b.upper(), name.encode("utf-16-le"), b.hex().encode(), b.hex().upper().encode()]
    for k in range(3):
        e = base64.b64encode(b[k:])[: (len(b) - k) // 3 * 4]
        if len(e) >= 8: items.append(e)
for d in ["$BIRTH1", "$BIRTH2", "$BIRTH3"]:
    y, m, dd = d.split("-"); ymd = int(y + m + dd)
    items += [d.encode(), (y + m + dd).encode(), (dd + "-" + m + "-" + y).encode(), (dd + m + y).encode(),
              varint(ymd), struct.pack("<I", ymd), struct.pack(">I", ymd)]
open(sys.argv[1], "w").write("\n".join(i.hex() for i in items) + "\n")
EOF
# found FILE...: the needles found in the files' bytes (their hex), one per line
found() { python3 -c "
import sys
needles = [bytes.fromhex(l) for l in open('$T/needles').read().split()]
for f in sys.argv[1:]:
    data = open(f, 'rb').read()
    for n in needles:
        if n in data: print(f, n.hex())
" "$@"; }
for h in "$M" "$L"; do
	who=$(basename "$h")
	mdb_dump -a -p "$h/ledger" >"$T/dump-$who.txt" 2>"$T/dumperr" || nok "mdb_dump of the $who home"
	tables=$(mdb_stat -a "$h/ledger" 2>/dev/null | grep -c '^Status of')
	check "mdb_dump read every table of the $who home ($tables)" test "$tables" -ge 10
	check "no personal data in mdb_dump of any table of the $who home" test -z "$(found "$T/dump-$who.txt")"
	check "no personal data in any byte of any file of the $who home" test -z "$(found $(find "$h" -type f))"
done
check "the privacy check finds what it looks for (a message file holds them)" test -n "$(found "$X/jw301-a.xml")"
check "every home verifies" sh -c "'$K' --home '$M' verify >/dev/null && '$K' --home '$L' verify >/dev/null"

# --- 7. export --claims ----------------------------------------------------------------------
run "$L" ijw export --claims
check "export CSV: the standard's field names" sh -c "head -1 '$T/out' | grep -q '^DeclaratieNummer,ReferentieNummer,ToewijzingNummer,Ontvanger,ProductCategorie,ProductCode'"
check "export CSV: the upfront line as sent" grep -q "^D202603A,R0001,2026100001,0405,45,45C4H,2026-03-01,2026-03-31,2026-04-02,1,82,957733,957733,D,$C1,upfront" "$T/out"
check "export CSV: the voided claim as debit and credit" sh -c "grep -c '^D202603A,R0002,2026100002,0405,45,45X01,2026-03-01,2026-03-31,2026-04-02,2,04,11800,23600,[DC],' '$T/out' | grep -qx 2"
check "export holds no BSN" sh -c "! grep -qE '$BSN1|$BSN2|$BSN3' '$T/out'"
run "$L" ijw export --claims --period 2026-03 --format json
check "export --period 2026-03 --format json: the March lines (5)" jq -e 'length == 5 and all(.[]; ."ProductPeriode.Begindatum" | startswith("2026-03"))' "$T/out"
run "$L" ijw export --claims --period 2026-13
check "export --period 2026-13: a usage error" test "$rc" -eq 64
run "$L" ijw --help
check "ijw --help" grep -q "keten ijw import FILE" "$T/out"

# --- 8. the examples, in the demo's order -------------------------------------------------
E=$ROOT/examples/ijw
M2=$T/hoorn2
L2=$T/lead2
run "$M2" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --anchor --no-passphrase; MK2=$(cat "$T/out")
run "$L2" init --name "Jeugdhulp Westfriesland" --role lead-provider --agb 12345678 --no-passphrase; LK2=$(cat "$T/out")
"$K" --home "$M2" party certify "$LK2" --name "Jeugdhulp Westfriesland" --role lead-provider --agb 12345678 >/dev/null
"$K" --home "$L2" trust add "$MK2" --name "Gemeente Hoorn" >/dev/null
"$K" --home "$M2" contract add --ref WF-JEUGD-2026 --domain jeugd --municipality 0405,0498 --from 2026-01-01 \
	--until 2028-12-31 --tariffs "$TARIFFS" --payment-term 30 >/dev/null
run "$M2" --json ijw import "$E/jw301.xml"
EA=$(idof "ToegewezenProduct 1")
check "examples: jw301.xml allocates J03/4 at 1436600" jq -e '.[0].entries[0].amount_cents == 1436600' "$T/out"
sync "$M2" "$L2"
run "$L2" --json ijw import "$E/jw305.xml" "$E/jw323-upfront.xml"
EU=$(idof "Prestatie 1")
check "examples: jw305.xml notes the start, jw323-upfront.xml claims 957733 up front" \
	jq -e '(.[0].notes | length) == 1 and .[1].entries[0].amount_cents == 957733 and .[1].entries[0].installment == "upfront"' "$T/out"
sync "$L2" "$M2"
P=$("$K" --home "$M2" pay "$EU" --amount 9577.33 --date 2026-01-20)
sync "$M2" "$L2"
run "$M2" --json ijw import "$E/jw301-change.xml"
EN=$(idof "ToegewezenProduct 1")
check "examples: jw301-change.xml: J03/5 with its own number replaces J03/4 (reason 12)" \
	test "$(field "$M2" "$EN" '[.fields.number, .fields.intensity, .fields.replaces, .fields.change_reason, .fields.amount_cents] | join(" ")')" = "2026000043 5 $EA 12 2226800"
check "examples: the old allocation is closed with stop code 37" test "$(field "$M2" "$EA" .state.stop_code)" = "37"
sync "$M2" "$L2"
run "$L2" --json ijw import "$E/jw323-change.xml" "$E/jw307.xml" "$E/jw323-final.xml"
check "examples: the replacement's up front is 1484533 less the 957733 paid: 526800" jq -e '.[0].entries[0].amount_cents == 526800' "$T/out"
check "examples: jw307.xml closes the replacement (31), jw323-final.xml claims its 1/3: 742267" \
	jq -e '.[1].entries[0].type == "result" and .[2].entries[0].amount_cents == 742267 and .[2].entries[0].installment == "final"' "$T/out"
check "examples: no finding on the claims (only the payment not yet confirmed, and what is unpaid)" sh -c "'$K' --home '$L2' --json reconcile | jq -e '[.findings[]? | select(.kind != \"overdue\" and .kind != \"payment-unconfirmed\")] | length == 0' >/dev/null"

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
