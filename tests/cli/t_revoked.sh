#!/bin/sh
# t_revoked.sh — a revoked or expired party is not a party to new
# business: an offer to it (party-revoked, party-not-valid), a payment to
# it as payee, and a ruling that makes it debtor or creditor are refused
# by name, while the same entries for a valid party are taken.  Homes
# exchange entries by export and import; dates are those of the entries.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARIFFS=$ROOT/examples/tarieven-voorbeeld-2026.csv
T=$(mktemp -d) || exit 70
trap 'rm -rf "$T"' EXIT
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
n=0
failed=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
# refused DESC RULE CMD...: CMD exits 65 and names RULE on stderr
refused() {
	d=$1 rule=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq 65 ] && grep -q "'$rule'" "$T/err"; then ok "$d"; else
		nok "$d (exit $rc, want 65 and '$rule': $(head -c 300 "$T/err"))"; fi
}
is_id() { printf '%s\n' "$1" | grep -Eq '^[0-9a-f]{64}$'; }
sync() {
	src=$1; shift
	"$K" --home "$T/$src" export -o "$T/x-$src.ndjson" || return 1
	for dst in "$@"; do "$K" --home "$T/$dst" import "$T/x-$src.ndjson" >/dev/null || return 1; done
}
M="$K --home $T/m"
A="$K --home $T/a"
B="$K --home $T/b"
C="$K --home $T/c"
D="$K --home $T/d"

KM=$($M init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase) &&
KA=$($A init --name "Zorg Hoofd" --role lead-provider --no-passphrase) &&
KB=$($B init --name "Zorg Onder" --role subcontractor --no-passphrase) &&
KC=$($C init --name "Zorg Weg" --role subcontractor --no-passphrase) &&
KD=$($D init --name "Zorg Oud" --role subcontractor --no-passphrase) &&
for h in m a b c d; do "$K" --home "$T/$h" trust add "$KM" --name "Gemeente Hoorn" >/dev/null || exit 1; done &&
$M party certify "$KM" --name "Gemeente Hoorn" --role municipality --municipality 0405 >/dev/null &&
$M party certify "$KA" --name "Zorg Hoofd" --role lead-provider --municipality 0405 >/dev/null &&
$M party certify "$KB" --name "Zorg Onder" --role subcontractor --municipality 0405 >/dev/null &&
$M party certify "$KC" --name "Zorg Weg" --role subcontractor --municipality 0405 >/dev/null &&
$M party certify "$KD" --name "Zorg Oud" --role subcontractor --municipality 0405 --from 2024-01-01 \
	--until 2025-01-01 >/dev/null &&
$M contract add --ref RC-2026-01 --domain wmo --municipality 0405 --from 2026-01-01 --until 2026-12-31 \
	--tariffs "$TARIFFS" >/dev/null &&
AL=$($M allocate --contract RC-2026-01 --client HRN-0001 --provider "Zorg Hoofd" --profile W02 --intensity B \
	--kind duurzaam --from 2026-01-01 --until 2026-12-31 --volume 8 --unit hour --frequency week) &&
sync m a b c d &&
SC=$($A subcontract "$AL" --to "Zorg Onder" --monthly 400 --from 2026-01-01 --until 2026-12-31) &&
sync a b m && $B accept "$SC" >/dev/null &&
C1=$($B claim "$SC" --installment 2026-01) &&
sync b a m && DI=$($B dispute open "$C1" --reason "not paid" --amount 400) && sync b a m
if [ $? -eq 0 ] && is_id "$C1" && is_id "$DI"; then ok "an offer accepted, a claim made, a dispute opened"; else
	nok "setting up"; echo "# $n tests, $failed failed"; exit 1; fi

# --- offers -----------------------------------------------------------------------------
$M party revoke "$KC" --reason "contract ended" >/dev/null && sync m a
refused "an offer to a revoked subcontractor: party-revoked" party-revoked \
	$A subcontract "$AL" --to "Zorg Weg" --monthly 100 --from 2026-01-01 --until 2026-12-31
refused "an offer to a subcontractor whose certificate has expired: party-not-valid" party-not-valid \
	$A subcontract "$AL" --to "Zorg Oud" --monthly 100 --from 2026-01-01 --until 2026-12-31

# --- payments and rulings: the subcontractor revoked after its claim --------------------
$M party revoke "$KB" --reason "fraud found" >/dev/null && sync m a
refused "a payment to a revoked payee: party-revoked" party-revoked \
	$A pay "$C1" --amount 400 --date 2026-02-10
refused "a ruling that makes a revoked party creditor: party-revoked" party-revoked \
	$M dispute rule "$DI" --decision "the lead provider pays" --owes "Zorg Hoofd:Zorg Onder:400"
RU=$($M dispute rule "$DI" --decision "nothing is owed to a revoked party" 2>"$T/err")
if is_id "$RU"; then ok "a ruling without adjustments on the revoked party is taken"; else
	nok "ruling without adjustments: $(head -c 300 "$T/err")"; fi
# entries made before the revocation stay as they were
"$K" --home "$T/a" --json show "$SC" >"$T/sc.json"
if grep -q '"status":"applied"' "$T/sc.json" || grep -q '"status": "applied"' "$T/sc.json"; then
	ok "the offer made before the revocation stays applied"; else nok "the earlier offer: $(head -c 200 "$T/sc.json")"; fi

echo "# $n tests, $failed failed"
[ "$failed" -eq 0 ]
