#!/bin/sh
# demo.sh — keten end to end on one machine: a municipality, a lead
# provider and a subcontractor, each with its own home.
set -eu
cd "$(dirname "$0")/.."
K=$(pwd)/build/keten
D=$(mktemp -d /tmp/keten-demo.XXXXXX)
trap 'rm -rf "$D"' EXIT
export KETEN_PWHASH_FAST=1
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ keten %s\n' "$*"; "$K" "$@"; }

step "three parties make their homes"
MUNI=$("$K" --home "$D/hoorn" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase)
LEAD=$("$K" --home "$D/lead" init --name "Jeugdhulp Westfriesland" --role lead-provider --agb 12345678 --no-passphrase)
SUB=$("$K" --home "$D/sub" init --name "Praktijk De Linde" --role subcontractor --agb 87654321 --no-passphrase)
echo "municipality $MUNI"; echo "lead provider $LEAD"; echo "subcontractor $SUB"

step "the municipality is the trust anchor and certifies everyone"
export KETEN_HOME="$D/hoorn"
run trust add "$MUNI" --name "Gemeente Hoorn"
run party certify "$MUNI" --name "Gemeente Hoorn" --role municipality --municipality 0405 >/dev/null
run party certify "$LEAD" --name "Jeugdhulp Westfriesland" --role lead-provider --agb 12345678 >/dev/null
run party certify "$SUB" --name "Praktijk De Linde" --role subcontractor --agb 87654321 >/dev/null
run party list

step "the providers trust the municipality and take its certificates"
"$K" --home "$D/hoorn" export -o "$D/hoorn.ndjson"
for h in lead sub; do
	"$K" --home "$D/$h" trust add "$MUNI" --name "Gemeente Hoorn"
	printf '$ keten --home %s import hoorn.ndjson\n' "$h"
	"$K" --home "$D/$h" import "$D/hoorn.ndjson"
done

step "every signature, link and certificate checks out"
run verify
run log
