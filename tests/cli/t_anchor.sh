#!/bin/sh
# t_anchor.sh — a self-anchored authority: keten init --anchor makes a
# municipality (or region) its own trust anchor and certifies it in its
# roles in one step, so that every role rule (publish, allocate, claw
# back, rule on a dispute) treats it alike; an anchor without a
# certificate is refused with the certificate it lacks and the command
# that makes it, and that command works.
#
# One line per check: "ok N - ..." or "not ok N - ...".  Exit 1 on failure.
set -u
K=${KETEN:-build/keten}
T=$(mktemp -d) || exit 70
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE
TARIFFS=$(cd "$(dirname "$0")/../.." && pwd)/examples/tarieven-voorbeeld-2026.csv

n=0
failed=0
ok()     { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check()  { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else not_ok "$d"; fi; }
# refused DESC EXIT RULE CMD...: CMD exits EXIT and names RULE on stderr
refused() {
	d=$1 want=$2 rule=$3; shift 3
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$want" ] && { [ -z "$rule" ] || grep -q "$rule" "$T/err"; }; then
		ok "$d"
	else
		not_ok "$d (exit $rc, want $want${rule:+ and '$rule'}: $(head -c 300 "$T/err"))"
	fi
}
is_id() { printf '%s\n' "$1" | grep -Eq '^[0-9a-f]{64}$'; }
sync() { # SRC DST...: everything SRC holds, imported by each DST
	src=$1; shift
	"$K" --home "$T/$src" export -o "$T/x-$src.ndjson" || return 1
	for dst in "$@"; do "$K" --home "$T/$dst" import "$T/x-$src.ndjson" >/dev/null || return 1; done
}
contract() { # HOME REF
	"$K" --home "$T/$1" contract add --ref "$2" --domain wmo --municipality 0405 --from 2026-01-01 \
		--until 2026-12-31 --tariffs "$TARIFFS"
}

# --- init --anchor ------------------------------------------------------------------
"$K" --home "$T/m" --json init --name "Gemeente Hoorn" --role municipality --municipality 0405 \
	--anchor --no-passphrase >"$T/init.json" 2>"$T/err"
KM=$(jq -r .key "$T/init.json" 2>/dev/null)
CERT=$(jq -r .certificate "$T/init.json" 2>/dev/null)
check "init --anchor --json gives the key, anchor true and the certificate id" \
	sh -c 'is() { printf "%s\n" "$1" | grep -Eq "^[0-9a-f]{64}$"; }; is "$1" && is "$2" && jq -e ".anchor == true" "$3"' \
	_ "$KM" "$CERT" "$T/init.json"
"$K" --home "$T/m" trust list >"$T/trust.txt"
check "the home is its own trust anchor" grep -q "^$KM  Gemeente Hoorn$" "$T/trust.txt"
"$K" --home "$T/m" --json party list >"$T/parties.json"
check "... and certified in its role with its CBS code" jq -e --arg k "$KM" \
	'length == 1 and .[0].key == $k and .[0].roles == "municipality" and .[0].status == "valid" and .[0].anchor' \
	"$T/parties.json"
"$K" --home "$T/m" --json show "$CERT" >"$T/cert.json"
check "the certificate is its first entry, signed by itself" jq -e --arg k "$KM" \
	'.seq == 1 and .author == $k and .fields.municipality == ["0405"]' "$T/cert.json"
check "plain init --anchor prints the key alone" sh -c \
	'"$1" --home "$2/r" init --name "Regio West" --role region --anchor --no-passphrase | grep -Eqx "[0-9a-f]{64}"' \
	_ "$K" "$T"
check "--anchor works for a region: certified as region" sh -c \
	'"$1" --home "$2/r" --json party list | jq -e ".[0].roles == \"region\""' _ "$K" "$T"
refused "--anchor for a lead provider is a usage error" 64 "for an authority" \
	"$K" --home "$T/x" init --name X --role lead-provider --anchor --no-passphrase
check "... and creates nothing" test ! -e "$T/x/key"
refused "--anchor for a municipality without --municipality is a usage error" 64 "needs --municipality" \
	"$K" --home "$T/x" init --name X --role municipality --anchor --no-passphrase

# --- the self-anchored municipality in every role rule ------------------------------
KL=$("$K" --home "$T/l" init --name "Zorg Hoofd" --role lead-provider --no-passphrase) &&
KS=$("$K" --home "$T/s" init --name "Zorg Onder" --role subcontractor --no-passphrase) &&
"$K" --home "$T/m" party certify "$KL" --name "Zorg Hoofd" --role lead-provider --municipality 0405 >/dev/null &&
"$K" --home "$T/m" party certify "$KS" --name "Zorg Onder" --role subcontractor --municipality 0405 >/dev/null &&
"$K" --home "$T/l" trust add "$KM" --name "Gemeente Hoorn" && "$K" --home "$T/s" trust add "$KM" --name "Gemeente Hoorn" &&
contract m RC-1 >/dev/null && sync m l s
check "a self-anchored municipality publishes a contract that the others apply" sh -c \
	'"$1" --home "$2/l" contract list | grep -q RC-1' _ "$K" "$T"
AL=$("$K" --home "$T/m" allocate --contract RC-1 --client HRN-0001 --provider "Zorg Hoofd" --profile W02 \
	--intensity B --kind duurzaam --from 2026-01-01 --until 2026-12-31 --volume 8 --unit hour --frequency week 2>"$T/err")
if is_id "$AL"; then ok "... allocates"; else not_ok "... allocates ($(cat "$T/err"))"; fi
sync m l s
SC=$("$K" --home "$T/l" subcontract "$AL" --to "Zorg Onder" --monthly 400 --from 2026-01-01 --until 2026-12-31) &&
sync l s m && "$K" --home "$T/s" accept "$SC" >/dev/null &&
C1=$("$K" --home "$T/s" claim "$SC" --installment 2026-01) && sync s l m &&
D=$("$K" --home "$T/s" dispute open "$C1" --reason "Not paid for January" --amount 400 2>"$T/err") && sync s l m
if is_id "${D:-}"; then ok "a subcontractor opens a dispute that reaches the municipality"; else
	not_ok "dispute open ($(cat "$T/err"))"; fi
RU=$("$K" --home "$T/m" dispute rule "$D" --decision "The lead provider pays January" 2>"$T/err")
if is_id "$RU"; then ok "... and the self-anchored municipality rules on it"; else
	not_ok "the self-anchored municipality rules ($(cat "$T/err"))"; fi

# --- an anchor without a certificate ---------------------------------------------------
KU=$("$K" --home "$T/u" init --name "Gemeente Urk" --role municipality --municipality 0184 --no-passphrase) &&
"$K" --home "$T/u" trust add "$KU" --name "Gemeente Urk" &&
KV=$("$K" --home "$T/v" init --name "Zorg Urk" --role subcontractor --no-passphrase) &&
"$K" --home "$T/v" trust add "$KU" --name "Gemeente Urk" &&
CV=$("$K" --home "$T/u" party certify "$KV" --name "Zorg Urk" --role subcontractor --municipality 0184) &&
sync u v && DU=$("$K" --home "$T/v" dispute open "$CV" --reason "Our name is misspelt") && sync v u
if is_id "${DU:-}"; then ok "an anchor without a certificate certifies a party, who opens a dispute"; else
	not_ok "certify and dispute open under an uncertified anchor"; fi
refused "the anchor without a certificate may not rule (the issue's case)" 65 ruler-not-municipality \
	"$K" --home "$T/u" dispute rule "$DU" --decision "We correct it"
check "... told which certificate it lacks and the command" \
	grep -q "has no certificate; it needs one with role municipality: run 'keten party certify $KU " "$T/err"
refused "an anchor without a certificate may not publish a contract" 65 wrong-role contract u RC-U
check "... told which certificate it lacks" grep -q "has no certificate; it needs one with role municipality" "$T/err"
check "... and the command that makes it, with its own key" \
	grep -q "run 'keten party certify $KU --name NAME --role municipality --municipality CBS'" "$T/err"
# run the command the message gives, with the name and code filled in
cmd=$(sed -n "s/.*run 'keten \(party certify [^']*\)'.*/\1/p" "$T/err" | sed 's/NAME/"Gemeente Urk"/; s/CBS/0184/')
check "the command in the message certifies the anchor" sh -c "\"\$1\" --home \"\$2/u\" $cmd" _ "$K" "$T"
check "... after which it publishes" contract u RC-U
check "... and rules" "$K" --home "$T/u" dispute rule "$DU" --decision "We correct it"
# the ruling rule reads the same roles as publishing: a certified
# lead provider that rules is refused without the certificate hint
refused "a lead provider that rules is refused" 65 ruler-not-municipality \
	"$K" --home "$T/l" dispute rule "$D" --decision "I decide"
check "... without a hint to certify itself (it has a certificate)" sh -c '! grep -q "has no certificate" "$1"' _ "$T/err"

# --- a key no anchor certified ---------------------------------------------------------
KN=$("$K" --home "$T/n" init --name "Nieuw" --role lead-provider --no-passphrase)
refused "an uncertified key's own entry is refused" 65 author-not-certified \
	"$K" --home "$T/n" party certify "$KL" --name X --role subcontractor
check "... told the certificate it needs and the command an anchor runs" \
	grep -q "needs a certificate with its role, made by an anchor with 'keten party certify $KN --name NAME --role ROLE'" "$T/err"

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
