#!/bin/sh
# demo.sh — keten end to end on one machine.  Three parties (Gemeente
# Hoorn, a lead provider and a subcontractor) each keep a home and run a
# node on 127.0.0.1; every entry travels between them by `keten sync`.
# The tariffs come from examples/tarieven-voorbeeld-2026.csv, which is
# SYNTHETIC: invented amounts, no published tariffs.
set -eu
cd "$(dirname "$0")/.."
K=$(pwd)/build/keten
TARIFFS=$(pwd)/examples/tarieven-voorbeeld-2026.csv
SUBTARIFFS=$(pwd)/examples/subtarieven-voorbeeld-2026.csv
if [ ! -f "$TARIFFS" ]; then
	echo "demo: the example tariff table '$TARIFFS' is missing (part of the checkout)" >&2
	exit 66
fi
D=$(mktemp -d /tmp/keten-demo.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$D"
}
trap cleanup EXIT INT TERM
export KETEN_PWHASH_FAST=1
bold() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
# k WHO ARGS: run keten in WHO's home, echoing the command
k() { who=$1; shift; printf '%s$ keten %s\n' "$who" "$*" >&2; "$K" --home "$D/$who" "$@"; }
q() { who=$1; shift; "$K" --home "$D/$who" "$@"; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
jget() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
cents() { python3 -c 'import sys; print("%d.%02d" % divmod(int(sys.argv[1]), 100))' "$1"; }

bold "three parties make their homes; the municipality anchors itself"
MUNI=$(q hoorn init --name "Gemeente Hoorn" --role municipality --municipality 0405 --anchor --no-passphrase)
LEAD=$(q lead init --name "Jeugdhulp Westfriesland" --role lead-provider --agb 12345678 --no-passphrase)
SUB=$(q sub init --name "Praktijk De Linde" --role subcontractor --agb 87654321 --no-passphrase)
echo "hoorn  $MUNI"; echo "lead   $LEAD"; echo "sub    $SUB"

bold "the municipality certifies the providers"
k hoorn party certify "$LEAD" --name "Jeugdhulp Westfriesland" --role lead-provider --agb 12345678 >/dev/null
k hoorn party certify "$SUB" --name "Praktijk De Linde" --role subcontractor --agb 87654321 >/dev/null
k hoorn party list

bold "each party runs a node on loopback"
for who in hoorn lead sub; do
	p=$(port)
	eval "URL_$who=tcp://127.0.0.1:$p"
	"$K" --home "$D/$who" node --listen "tcp://127.0.0.1:$p" --interval 3600 2>"$D/$who.node.log" &
	PIDS="$PIDS $!"
done
sleep 0.5
echo "hoorn $URL_hoorn   lead $URL_lead   sub $URL_sub"
sync() { who=$1; from=$2; eval "u=\$URL_$from"; k "$who" sync "$u"; }

bold "the providers trust the municipality and sync its certificates"
for who in lead sub; do
	q "$who" trust add "$MUNI" --name "Gemeente Hoorn"
	sync "$who" hoorn
done

bold "framework contract (synthetic tariffs and subcontract tariffs) and an allocation: J03 intensity 4, herstel"
k hoorn contract add --ref WF-JEUGD-2026 --domain jeugd --municipality 0405,0498 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --sub-tariffs "$SUBTARIFFS" --payment-term 30 \
	--subcontract max --max-margin 10 --early-stop 32=50:sub >/dev/null
ALLOC=$(k hoorn --json allocate --contract WF-JEUGD-2026 --client HRN-2026-0042 --provider "Jeugdhulp Westfriesland" \
	--profile J03 --intensity 4 --kind herstel --from 2026-01-05 --until 2026-09-30 --number 2026000042 | jget id)
sync lead hoorn

bold "the lead provider claims the up-front 2/3 (invoice of 2026-01-15); the municipality pays; the lead confirms"
UP=$(k lead --json claim "$ALLOC" --installment upfront --number JWF-2026-0001 --date 2026-01-15)
echo "$UP"
UPID=$(echo "$UP" | jget id); UPAMT=$(echo "$UP" | jget amount_cents)
sync hoorn lead
PAY1=$(k hoorn pay "$UPID" --amount "$(cents "$UPAMT")" --date 2026-01-20 --reference E2E-HRN-0042-1)
sync lead hoorn
k lead receipt "$PAY1" --date 2026-01-21 >/dev/null

bold "in February the care is scaled up: J03/5 replaces J03/4 (JZ002 reason 12, a change the provider asked for)"
NEW=$(k hoorn --json allocate --contract WF-JEUGD-2026 --client HRN-2026-0042 --provider "Jeugdhulp Westfriesland" \
	--profile J03 --intensity 5 --kind herstel --from 2026-02-09 --until 2026-09-30 --number 2026000043 \
	--replaces "$ALLOC" --reason 12 | jget id)
sync lead hoorn
echo "the old allocation is closed with stop code 37; what was paid up front under it counts towards the new 2/3:"
q lead --json show "$NEW" | python3 -c 'import json,sys; s=json.load(sys.stdin)["state"]; print("  carried over:", s.get("carried_cents"), "cents; still due up front:", s.get("upfront_due_cents"), "cents")'
UP2=$(k lead --json claim "$NEW" --installment upfront --number JWF-2026-0007 --date 2026-02-12)
echo "$UP2"
UP2ID=$(echo "$UP2" | jget id); UP2AMT=$(echo "$UP2" | jget amount_cents)
sync hoorn lead
PAY2=$(k hoorn pay "$UP2ID" --amount "$(cents "$UP2AMT")" --date 2026-02-20 --reference E2E-HRN-0043-1)
sync lead hoorn
k lead receipt "$PAY2" --date 2026-02-21 >/dev/null

bold "a subcontract priced from the subcontract tariffs: Praktijk De Linde does family sessions (gezinsbegeleiding) per hour"
OFFER=$(k lead --json subcontract "$NEW" --to "Praktijk De Linde" --service gezinsbegeleiding --units 40 \
	--from 2026-04-01 --until 2026-06-30 --scope "gezinsbegeleiding thuis, wekelijks")
echo "$OFFER"
OFFER=$(echo "$OFFER" | jget id)
sync sub lead
k sub accept "$OFFER" >/dev/null
D1=$(k sub deliver "$OFFER" --period 2026-04 --units 8 --unit hour --note "vier gesprekken")
D2=$(k sub deliver "$OFFER" --period 2026-05 --units 9.5 --unit hour)
C1=$(k sub --json claim "$OFFER" --installment units --deliveries "$D1" --number PDL-2026-011 --date 2026-05-01)
C2=$(k sub --json claim "$OFFER" --installment units --deliveries "$D2" --number PDL-2026-012 --date 2026-06-01)
echo "$C1"; echo "$C2"
C1AMT=$(echo "$C1" | jget amount_cents); C1=$(echo "$C1" | jget id)
C2AMT=$(echo "$C2" | jget amount_cents); C2=$(echo "$C2" | jget id)
sync lead sub

bold "April is paid; May is not, and the subcontractor disputes it"
P2=$(k lead pay "$C1" --amount "$(cents "$C1AMT")" --date 2026-05-12 --reference E2E-LINDE-04)
sync sub lead
k sub receipt "$P2" --date 2026-05-13 >/dev/null
DISP=$(k sub dispute open "$C2" --reason "May not paid, two reminders sent" --amount "$(cents "$C2AMT")")
sync lead sub
k lead dispute respond "$DISP" --text "Held back: the May report was missing; it has arrived now" >/dev/null
sync hoorn sub; sync hoorn lead
k hoorn dispute rule "$DISP" --decision "The lead provider pays May within 14 days" \
	--owes "Jeugdhulp Westfriesland:Praktijk De Linde:$(cents "$C2AMT")" >/dev/null
sync lead hoorn; sync sub hoorn
P3=$(k lead pay "$C2" --amount "$(cents "$C2AMT")" --date 2026-06-24 --reference E2E-LINDE-05)
sync sub lead
k sub receipt "$P3" --date 2026-06-25 >/dev/null
sync lead sub; sync hoorn sub
k hoorn dispute show "$DISP"

bold "results achieved: the lead provider closes and claims the final 1/3"
k lead close "$NEW" --outcome achieved --stop-code 31 --date 2026-09-30 >/dev/null
FIN=$(k lead --json claim "$NEW" --installment final --number JWF-2026-0031 --date 2026-10-01)
echo "$FIN"
sync hoorn lead
FINID=$(echo "$FIN" | jget id); FINAMT=$(echo "$FIN" | jget amount_cents)
PF=$(k hoorn pay "$FINID" --amount "$(cents "$FINAMT")" --date 2026-10-05 --reference E2E-HRN-0043-2)
sync lead hoorn; sync sub lead
echo "(the lead provider has not yet confirmed this last payment)"

bold "balances"
k lead balance
k sub balance

bold "reconciliation from the lead provider's side: figures and findings with their evidence"
k lead reconcile --as-of 2026-11-30 || true
bold "the same from the municipality's side, as a script would ask it"
if k hoorn reconcile --as-of 2026-11-30 --check >/dev/null; then echo "no findings"; else echo "reconcile --check: findings present (exit 1)"; fi

bold "every node verifies every signature, link and certificate"
for who in hoorn lead sub; do k "$who" verify; done
bold "need-to-know: what the subcontractor's node holds of the municipality's allocation"
q sub --json show "$NEW" | python3 -c 'import json,sys; e=json.load(sys.stdin); print("type:", e["type"], "| body held:", e["body"] is not None, "|", e.get("withheld", ""))'
