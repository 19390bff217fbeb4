#!/bin/sh
# t_region.sh — docs/guide-region-setup.md as it is written: every ```sh
# block of the guide, in order, in one shell, in a temporary folder, with
# the nodes on localhost at free ports over tls+tcp://.  Then: the four
# nodes served over TLS and synced (each party holds the entries it
# needs, with their bodies where it is in the audience and without where
# it is not), every ledger verifies, and a join file with one byte
# changed is refused (exit 65) and changes nothing in the home.  The
# nodes are stopped by the guide's last block, or by their process ids
# in the EXIT trap.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GUIDE=$ROOT/docs/guide-region-setup.md
T=$(mktemp -d) || exit 70
cleanup() {
	for f in "$T"/w/*.pid; do
		[ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
	done
	sleep 0.3
	for f in "$T"/w/*.pid; do
		[ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
n=0
failed=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else nok "$d"; fi; }

if ! command -v openssl >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
	echo "# openssl or jq missing: the region guide is not run"
	echo "1..0"
	exit 0
fi

# The guide's environment: keten on PATH, hosts, free ports, passphrase.
mkdir -p "$T/bin" "$T/w"
ln -s "$K" "$T/bin/keten"
set -- $(python3 -c 'import socket
ss=[socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
export PATH="$T/bin:$PATH" EXAMPLES="$ROOT/examples"
export HOST_M=localhost HOST_L=localhost HOST_S1=localhost HOST_S2=localhost
export PORT_M=$1 PORT_L=$2 PORT_S1=$3 PORT_S2=$4
export KETEN_PASSPHRASE="region guide passphrase" KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_MAPSIZE

# The sh blocks, in order; the ids the guide made are kept for the checks.
awk '/^```sh$/ { on = 1; b++; print "# --- block " b; next } /^```/ { on = 0; next } on' "$GUIDE" >"$T/guide.sh"
BLOCKS=$(grep -c '^# --- block ' "$T/guide.sh")
cat >>"$T/guide.sh" <<'EOF'
for v in KEY_M KEY_L KEY_S1 KEY_S2 CONTRACT ALLOC OFFER1 OFFER2 ACCEPT DELIVERY CLAIM PAYMENT RECEIPT; do
	eval "printf '%s=%s\n' $v \"\$$v\""
done >ids.env
EOF
START=$(date +%s)
(cd "$T/w" && timeout 150 sh -eu "$T/guide.sh" >"$T/guide.out" 2>"$T/guide.err")
rc=$?
SECS=$(($(date +%s) - START))
if [ "$rc" -eq 0 ] && [ "$BLOCKS" -ge 8 ]; then ok "the guide's $BLOCKS sh blocks ran in order, exit 0 (${SECS}s)"; else
	nok "the guide's sh blocks (exit $rc after ${SECS}s)"; tail -15 "$T/guide.err" | sed 's/^/# /'; fi
. "$T/w/ids.env" 2>/dev/null || true
W=$T/w
# The guide's last block sent SIGTERM; wait (at most 15 s) until each node is gone.
for f in "$W"/*.pid; do
	i=0
	while [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && [ "$i" -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
done
k() { h=$1; shift; timeout 30 "$K" --home "$W/$h" "$@"; }

for h in veenoord noorderzand linde hetven; do
	check "$h's node served on tls+tcp:// and stopped cleanly" sh -c \
		"grep -q 'serving as .* on tls+tcp://localhost:' '$W/$h.log' && grep -q '^.*stopped' '$W/$h.log'"
done
check "the lead provider's node synced over TLS with both subcontractors' nodes" sh -c \
	"grep 'round' '$W/noorderzand.log' | grep -v error | grep -q 'tls+tcp://localhost:$PORT_S1' &&
	 grep 'round' '$W/noorderzand.log' | grep -v error | grep -q 'tls+tcp://localhost:$PORT_S2'"
for h in noorderzand linde hetven; do
	k "$h" peer list >"$T/peers" 2>&1
	check "$h keeps the municipality's node from its join file, its key pinned" \
		grep -q "^tls+tcp://localhost:$PORT_M  ${KEY_M%"${KEY_M#????????????????}"}  pinned" "$T/peers"
	check "$h keeps the region's CA from its join file" cmp -s "$W/$h/tls/ca.pem" "$W/tls/region-ca.pem"
done
for h in veenoord noorderzand linde hetven; do
	k "$h" --json party list >"$T/parties" 2>&1
	check "$h knows all four parties as valid" test "$(jq '[.[] | select(.status == "valid")] | length' "$T/parties")" -eq 4
done

# body HOME ID: "full", "stub" or "none" (not held)
body() {
	if k "$1" --json show "$2" >"$T/show" 2>/dev/null; then
		if jq -e '.body != null' "$T/show" >/dev/null; then echo full; else echo stub; fi
	else echo none; fi
}
held() { # DESC HOME ID WANT...: the entry is held as one of WANT
	d=$1 h=$2 id=$3; shift 3
	got=$(body "$h" "$id")
	for w in "$@"; do [ "$got" = "$w" ] && { ok "$d ($got)"; return; }; done
	nok "$d (got $got, want $*)"
}
held "the allocation reached the lead provider with its body" noorderzand "$ALLOC" full
held "the offer to Praktijk De Linde reached it with its body" linde "$OFFER1" full
held "the offer to Zorgboerderij Het Ven reached it with its body" hetven "$OFFER2" full
held "Het Ven does not hold the body of the offer to De Linde" hetven "$OFFER1" stub none
held "the acceptance, delivery and claim reached the lead provider: the claim" noorderzand "$CLAIM" full
held "... the delivery" noorderzand "$DELIVERY" full
held "the payment reached De Linde with its body" linde "$PAYMENT" full
held "De Linde's receipt reached the lead provider" noorderzand "$RECEIPT" full
held "the municipality holds its contract" veenoord "$CONTRACT" full
held "the municipality holds the subcontract chain under its allocation: the offer to De Linde" veenoord "$OFFER1" full
held "... and De Linde's claim" veenoord "$CLAIM" full
held "Het Ven holds the allocation without its body" hetven "$ALLOC" stub
held "Het Ven holds De Linde's claim and the payment to it without their bodies: the claim" hetven "$CLAIM" stub none
held "... the payment" hetven "$PAYMENT" stub none
k noorderzand balance >"$T/balance" 2>&1
check "the lead provider's balance shows the payment to De Linde" grep -q "Praktijk De Linde" "$T/balance"
for h in veenoord noorderzand linde hetven; do
	check "$h's ledger verifies" k "$h" verify
done

# A join file with one byte changed: refused, and the home as it was.
state() { { k hetven trust list; k hetven peer list; k hetven export; } 2>&1; }
state >"$T/before"
python3 -c 'import sys
b=bytearray(open(sys.argv[1],"rb").read()); b[len(b)//2]^=0x01; open(sys.argv[2],"wb").write(b)' \
	"$W/hetven.join" "$T/tampered.join"
k hetven join "$T/tampered.join" --anchor "$KEY_M" >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 65 ] && grep -q "refused by rule 'join-" "$T/err"; then ok "a join file with one byte changed is refused, exit 65 ($(cat "$T/err"))"; else
	nok "tampered join file (exit $rc: $(cat "$T/err"))"; fi
state >"$T/after"
check "... and Het Ven's trust list, peers and entries are as before" cmp -s "$T/before" "$T/after"

echo "1..$n"
[ "$failed" -eq 0 ]
