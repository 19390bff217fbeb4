#!/bin/sh
# t_sync.sh — nodes that sync over real nng on tcp://127.0.0.1 (free ports
# picked by python3).  Four homes: a municipality (its own trust anchor,
# certifying the others), a lead provider and two subcontractors, each
# trusting the municipality.  The others first fetch the certificates with
# `keten sync` from the municipality's node; then the municipality makes a
# framework contract and an allocation, the lead provider subcontracts to
# the first subcontractor, and the nodes run in a star, then in a chain.
# After each: every home holds the same entries (ids, signed headers and
# signatures from `keten export`), bodies byte for byte where both hold
# them, and the second subcontractor holds the subcontract offer only as a
# stub, without its salt — checked in the LMDB file itself, not only via
# `keten show`.  In
# the chain a body cannot pass a node outside its audience: it arrives
# when its reader pulls from the author.
# Also: an independent client (protoc --encode/--decode and nngcat)
# getting "unauthenticated"; garbage answered with an error while the node
# keeps serving; an uncertified home refused (exit 77), an unreachable
# node (exit 69); tls+tcp:// with a throwaway CA made by openssl (right CA,
# none, wrong one); the municipality's node appending checkpoints that the
# others receive and check; peer add/list/remove; the push (a node
# announcing its own new entry, the peer pulling at once); an equivocation
# (the lead provider's home copied, both copies signing at one seq: a
# subcontractor syncing from both reports the fork, `party list` and
# `verify` show it, and a node that saw neither entry learns it from the
# signed proofs); ipc://; --help; clean stops on SIGTERM.  Nodes are
# killed in an EXIT trap; every command runs under timeout.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PROTO=$ROOT/proto
TARIFFS=$ROOT/examples/tarieven-voorbeeld-2026.csv
T=$(mktemp -d) || exit 70
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
M=$T/municipality
L=$T/lead
S1=$T/sub1
S2=$T/sub2
n=0
failed=0

ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else nok "$d"; fi; }
# run HOME ARGS...: keten in HOME under timeout; stdout $T/out, stderr $T/err, exit $rc
run() { h=$1; shift; timeout 30 "$K" --home "$h" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
new() {
	d=$1; shift
	run "$@"
	ID=$(cat "$T/out")
	if [ "$rc" -eq 0 ] && printf '%s\n' "$ID" | grep -Eq '^[0-9a-f]{64}$'; then ok "$d"; else
		ID=""; nok "$d (exit $rc)"; sed 's/^/# /' "$T/err"; fi
}
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# ports N: N distinct free ports (all bound at once while picked)
ports() {
	python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
# node NAME HOME ARGS...: start keten node in the background, log in $T/NAME.log
node() {
	name=$1; h=$2; shift 2
	timeout 300 "$K" --home "$h" node "$@" 2>"$T/$name.log" &
	eval "PID_$name=$!"
	PIDS="$PIDS $!"
}
stop() { # stop NAME: SIGTERM, wait for it
	eval "p=\$PID_$1"
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	src=$?
	PIDS=$(printf '%s\n' $PIDS | grep -v "^$p\$" | tr '\n' ' ')
	return $src
}
# ids HOME: the entries a home holds, as sorted "id header signature"
ids() { timeout 30 "$K" --home "$1" export | jq -r '[.id, .header, .signature] | join(" ")' | sort; }
bodies() { timeout 30 "$K" --home "$1" export | jq -r 'select(.body != null) | [.id, .body] | join(" ")' | sort; }
# same HOME...: all hold the same entries
same() {
	ids "$1" >"$T/ids.first"
	for h in "$@"; do
		ids "$h" >"$T/ids.other"
		cmp -s "$T/ids.first" "$T/ids.other" || return 1
	done
	[ -s "$T/ids.first" ]
}
# converge SECONDS HOME...: wait until all hold the same entries
converge() {
	secs=$1; shift
	i=0
	while [ "$i" -lt $((secs * 5)) ]; do
		same "$@" && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}
# bodies_agree HOME...: every body held by two homes is the same bytes
bodies_agree() {
	for h in "$@"; do bodies "$h"; done | sort -u | awk '{print $1}' | uniq -d | grep -q . && return 1
	return 0
}
# wait_listen PORT: until something accepts on the port
wait_listen() {
	i=0
	while [ "$i" -lt 50 ]; do
		python3 -c "import socket,sys;s=socket.socket();s.settimeout(0.2);sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# --- four homes -------------------------------------------------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$L" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; LK=$(cat "$T/out")
run "$S1" init --name "Hulp Een VOF" --role subcontractor --agb 87654321 --no-passphrase; S1K=$(cat "$T/out")
run "$S2" init --name "Hulp Twee BV" --role subcontractor --agb 11223344 --no-passphrase; S2K=$(cat "$T/out")
for h in "$M" "$L" "$S1" "$S2"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
new "municipality certifies itself" "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405
new "municipality certifies the lead provider" "$M" party certify "$LK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --municipality 0405
new "municipality certifies subcontractor one" "$M" party certify "$S1K" --name "Hulp Een VOF" --role subcontractor --agb 87654321 --municipality 0405
new "municipality certifies subcontractor two" "$M" party certify "$S2K" --name "Hulp Twee BV" --role subcontractor --agb 11223344 --municipality 0405

set -- $(ports 6)
PM=$1; PL=$2; P1=$3; P2=$4; PT=$5; P5=$6
UM=tcp://127.0.0.1:$PM; UL=tcp://127.0.0.1:$PL; U1=tcp://127.0.0.1:$P1; U2=tcp://127.0.0.1:$P2

# --- the independent client and bad input, before anyone syncs ----------------------
node m "$M" --listen "$UM"
check "municipality node listens on $UM" wait_listen "$PM"
printf 'heads {}\n' | protoc --encode=keten.sync.Request -I"$PROTO" "$PROTO/sync.proto" >"$T/heads.bin"
timeout 10 nngcat --req0 --dial "$UM" --file "$T/heads.bin" --raw >"$T/reply.bin" 2>"$T/err"
protoc --decode=keten.sync.Reply -I"$PROTO" "$PROTO/sync.proto" <"$T/reply.bin" >"$T/reply.txt" 2>&1
if grep -q 'code: UNAUTHENTICATED' "$T/reply.txt"; then ok "nngcat + protoc: unauthenticated Heads gets error UNAUTHENTICATED"; else
	nok "nngcat + protoc: unauthenticated error"; sed 's/^/# /' "$T/reply.txt"; fi
head -c 300 /dev/urandom >"$T/garbage.bin"
timeout 10 nngcat --req0 --dial "$UM" --file "$T/garbage.bin" --raw >"$T/reply.bin" 2>/dev/null
protoc --decode=keten.sync.Reply -I"$PROTO" "$PROTO/sync.proto" <"$T/reply.bin" >"$T/reply.txt" 2>&1
check "nngcat: garbage gets an error reply" grep -q 'code:' "$T/reply.txt"
printf 'hello { key: "0123456789abcdef0123456789abcdef" nonce: "0123456789abcdef0123456789abcdef" }\n' |
	protoc --encode=keten.sync.Request -I"$PROTO" "$PROTO/sync.proto" >"$T/hello.bin"
timeout 10 nngcat --req0 --dial "$UM" --file "$T/hello.bin" --raw >"$T/reply.bin" 2>/dev/null
protoc --decode=keten.sync.Reply -I"$PROTO" "$PROTO/sync.proto" <"$T/reply.bin" >"$T/reply.txt" 2>&1
check "nngcat: a keten/sync/v1 hello gets error VERSION, saying which version this node speaks" \
	sh -c "grep -q 'code: VERSION' '$T/reply.txt' && grep -q 'keten/sync/v2' '$T/reply.txt'"
printf 'hello { key: "0123456789abcdef0123456789abcdef" nonce: "0123456789abcdef0123456789abcdef" version: 2 ephemeral: "0123456789abcdef0123456789abcdef" signature: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }\n' |
	protoc --encode=keten.sync.Request -I"$PROTO" "$PROTO/sync.proto" >"$T/hello2.bin"
timeout 10 nngcat --req0 --dial "$UM" --file "$T/hello2.bin" --raw >"$T/reply.bin" 2>/dev/null
protoc --decode=keten.sync.Reply -I"$PROTO" "$PROTO/sync.proto" <"$T/reply.bin" >"$T/reply.txt" 2>&1
check "nngcat: a v2 hello whose signature does not hold gets an error, and no challenge" \
	sh -c "grep -Eq 'code: (MALFORMED|BAD_SIGNATURE)' '$T/reply.txt' && ! grep -q challenge '$T/reply.txt'"
check "the node logged the bad requests" grep -q unauthenticated "$T/m.log"

# --- certificates first: keten sync from the municipality ---------------------------
for h in "$L" "$S1" "$S2"; do
	run "$h" sync "$UM"
	if [ "$rc" -eq 0 ] && grep -Eq "^synced from $UM: 4 entries \(0 stubs\), 0 forks, 0 pending" "$T/out"; then
		ok "keten sync: $(basename "$h") gets the 4 certificates"; else
		nok "keten sync into $(basename "$h") (exit $rc): $(cat "$T/out")"; sed 's/^/# /' "$T/err"; fi
done
run "$L" --json sync "$UM"
check "a second sync brings nothing new and names the peer" \
	jq -e '.in_sync == false and .entries == 0 and .peer_name == "Gemeente Hoorn"' "$T/out"
run "$L" party list
check "the lead provider knows all four parties" test "$(grep -c valid "$T/out")" -eq 4
X=$T/outsider
run "$X" init --name "Niemand" --role lead-provider --no-passphrase
run "$X" sync "$UM"
check "an uncertified home is refused (exit 77)" test "$rc" -eq 77
run "$L" sync "tcp://127.0.0.1:$(port)" --timeout 2
check "an unreachable node: exit 69" test "$rc" -eq 69
run "$L" sync "http://x"
check "a bad URL: exit 64" test "$rc" -eq 64

# --- entries with audiences ---------------------------------------------------------
new "contract add" "$M" contract add --ref RGW-J-2026 --domain jeugd --municipality 0405 \
	--from 2026-01-01 --until 2028-12-31 --tariffs "$TARIFFS" --subcontract max
new "allocate J03/4 herstel to the lead provider" "$M" allocate --contract RGW-J-2026 --client HRN-2026-0001 \
	--provider "Zorg Hoofd BV" --profile J03 --intensity 4 --kind herstel --from 2026-12-01 --until 2027-06-30
A1=$ID
run "$L" sync "$UM"
check "the lead provider pulls the contract and allocation" grep -q "^synced from $UM: 2 entries" "$T/out"
new "lead subcontracts to subcontractor one" "$L" subcontract "$A1" --to "Hulp Een VOF" --amount 4800 \
	--from 2026-12-01 --scope "gezinsbegeleiding thuis"
O1=$ID
run "$L" --json show "$O1"
check "the offer's audience leaves out subcontractor two" \
	jq -e --arg s2 "$S2K" --arg s1 "$S1K" '(.audience | index($s2) == null) and (.audience | index($s1) != null)' "$T/out"

# --- star: every node pulls from the municipality, the municipality from all --------
stop m; check "municipality node stops on SIGTERM with exit 0" test "$src" -eq 0
check "its log says it stopped" grep -q stopped "$T/m.log"
node m "$M" --listen "$UM" --peer "$UL" --peer "$U1" --peer "$U2" --interval 0.3
node l "$L" --listen "$UL" --peer "$UM" --interval 0.3
node s1 "$S1" --listen "$U1" --peer "$UM" --interval 0.3
node s2 "$S2" --listen "$U2" --peer "$UM" --interval 0.3
if converge 40 "$M" "$L" "$S1" "$S2"; then ok "star: all four hold the same entries, headers and signatures"; else
	nok "star: not converged"; for h in m l s1 s2; do tail -3 "$T/$h.log" | sed "s/^/# $h: /"; done; fi
# the body of the offer may reach subcontractor one only from the lead
# provider itself or the municipality (which is in its audience)
i=0; while [ $i -lt 50 ] && ! timeout 10 "$K" --home "$S1" --json show "$O1" 2>/dev/null | jq -e '.body != null' >/dev/null; do sleep 0.2; i=$((i + 1)); done
run "$S1" --json show "$O1"
check "subcontractor one holds the offer with its body" jq -e '.body != null and .fields != null' "$T/out"
run "$S2" --json show "$O1"
check "subcontractor two holds the offer as a stub, body withheld" \
	jq -e '.body == null and .status == "stub" and (.withheld | length > 0)' "$T/out"
# the offer is entry format 2: its salt travels with the body, never in the stub
"$K" --home "$S1" export | jq -c --arg id "$O1" 'select(.id == $id)' >"$T/o1.full"
"$K" --home "$S2" export | jq -c --arg id "$O1" 'select(.id == $id)' >"$T/o1.stub"
SALT=$(jq -r '.salt // empty' "$T/o1.full")
check "subcontractor one's export of the offer: version 2, its 16-byte salt beside the body" \
	sh -c "jq -e '.version == 2 and .body != null' '$T/o1.full' && [ \$(printf %s '$SALT' | base64 -d | wc -c) -eq 16 ]"
check "subcontractor two's export of the stub: version 2, no body, no salt" \
	jq -e '.version == 2 and .body == null and (has("salt") | not)' "$T/o1.stub"
hasbytes() { python3 -c 'import base64,sys; sys.exit(0 if base64.b64decode(sys.argv[1]) in open(sys.argv[2],"rb").read() else 1)' "$@"; }
check "stored data: the salt is in subcontractor one's LMDB file" hasbytes "$SALT" "$S1/ledger/data.mdb"
if hasbytes "$SALT" "$S2/ledger/data.mdb"; then nok "stored data: subcontractor two's LMDB file holds the offer's salt"; else
	ok "stored data: subcontractor two's LMDB file does not hold the offer's salt (the stub came without it)"; fi
check "stored data: the scope text is in subcontractor one's LMDB file" grep -aq "gezinsbegeleiding thuis" "$S1/ledger/data.mdb"
if grep -aq "gezinsbegeleiding thuis" "$S2/ledger/data.mdb"; then nok "stored data: subcontractor two's LMDB file holds the body"; else
	ok "stored data: subcontractor two's LMDB file does not hold the offer's body"; fi
check "stored data: mdb_dump of subcontractor two's id index marks the offer a stub (status 04)" \
	sh -c "mdb_dump -s status '$S2/ledger' | grep -A1 '^ $O1' | tail -1 | grep -q '^ 04'"
check "bodies held by two homes are the same bytes" bodies_agree "$M" "$L" "$S1" "$S2"
check "the node logs one line per round" grep -q "round [0-9]*: $UM: " "$T/l.log"

# --- first contact: a new subcontractor syncs first from its lead provider -------------
S3=$T/sub3
run "$S3" init --name "Hulp Drie BV" --role subcontractor --agb 55667788 --no-passphrase; S3K=$(cat "$T/out")
"$K" --home "$S3" trust add "$MK" --name "Gemeente Hoorn" >/dev/null
run "$S3" checkpoint
check "a home the municipality has not certified yet cannot act (exit 65, author-not-certified)" \
	sh -c "[ $rc -eq 65 ] && grep -q author-not-certified '$T/err'"
new "the municipality certifies subcontractor three" "$M" party certify "$S3K" --name "Hulp Drie BV" \
	--role subcontractor --agb 55667788 --municipality 0405
i=0; while [ $i -lt 100 ] && ! timeout 10 "$K" --home "$L" party list 2>/dev/null | grep -q "Hulp Drie BV"; do sleep 0.1; i=$((i + 1)); done
run "$S3" sync "$UL"
if [ "$rc" -eq 0 ]; then ok "subcontractor three syncs first from the lead provider, never from the municipality ($(cat "$T/out"))"; else
	nok "first contact with the lead provider (exit $rc)"; sed 's/^/# /' "$T/err"; fi
run "$S3" party list
check "... and received its own certificate and the lead provider's" \
	sh -c "grep -q 'Hulp Drie BV.*valid' '$T/out' && grep -q 'Zorg Hoofd BV.*valid' '$T/out'"
new "... and can then act (its checkpoint is taken)" "$S3" checkpoint
sleep 1
check "in-sync rounds say so" grep -q "(in sync)" "$T/s2.log"
run "$S2" verify
check "subcontractor two verifies every signature and chain it holds" test "$rc" -eq 0

# --- keten sync against a running node, and garbage while others sync --------------
timeout 10 nngcat --req0 --dial "$UL" --file "$T/garbage.bin" --raw >/dev/null 2>&1
run "$S2" sync "$UL"
check "after garbage on its socket, the lead's node still serves (keten sync exit 0)" test "$rc" -eq 0

# --- chain: M <-> L <-> S1 <-> S2 ---------------------------------------------------
for nm in m l s1 s2; do stop $nm; done
node m "$M" --listen "$UM" --peer "$UL" --interval 0.3 --checkpoint 0.5
node l "$L" --listen "$UL" --peer "$UM" --peer "$U1" --interval 0.3
node s1 "$S1" --listen "$U1" --peer "$UL" --peer "$U2" --interval 0.3
node s2 "$S2" --listen "$U2" --peer "$U1" --interval 0.3
new "lead subcontracts to subcontractor two" "$L" subcontract "$A1" --to "Hulp Twee BV" --amount 1200 \
	--from 2026-12-01 --scope "huiswerkbegeleiding op woensdag"
O2=$ID
new "the municipality indexes the contract" "$M" contract index RGW-J-2026 --year 2027 --pct 2.5
IX=$ID
if converge 40 "$M" "$L" "$S1" "$S2"; then ok "chain: all four hold the same entries"; else
	nok "chain: not converged"; for h in m l s1 s2; do tail -3 "$T/$h.log" | sed "s/^/# $h: /"; done; fi
check "chain: bodies held by two homes are the same bytes" bodies_agree "$M" "$L" "$S1" "$S2"
check "the municipality's node logged a checkpoint" grep -q "checkpoint [0-9a-f]* over [0-9]* feeds" "$T/m.log"
run "$S2" --json log --type checkpoint
check "subcontractor two holds the municipality's checkpoints" jq -e 'length >= 1 and all(.[]; .body != null)' "$T/out"
run "$S2" checkpoint --check
if [ "$rc" -eq 0 ] && grep -q "differ" "$T/out" && ! grep -q "[1-9][0-9]* differ" "$T/out"; then
	ok "checkpoint --check: no head differs from subcontractor two's feeds"; else
	nok "checkpoint --check (exit $rc)"; sed 's/^/# /' "$T/out" "$T/err"; fi
run "$S2" --json show "$IX"
check "chain: the municipality's indexation reached subcontractor two through two hops" jq -e '.type == "indexation"' "$T/out"
# subcontractor one may not read the offer to two, so it relays only its stub
run "$S2" --json show "$O2"
check "chain: subcontractor two got the offer to it only as a stub through subcontractor one" \
	jq -e '.body == null and .status == "stub"' "$T/out"
run "$S2" --json sync "$UL"
check "chain: pulling from the lead provider itself brings the body" jq -e '.bodies == 1' "$T/out"
run "$S2" --json show "$O2"
check "subcontractor two now holds the offer to it with its body" jq -e '.body != null' "$T/out"
if grep -aq "huiswerkbegeleiding op woensdag" "$S1/ledger/data.mdb"; then nok "stored data: subcontractor one's file holds the offer to two"; else
	ok "stored data: subcontractor one's file does not hold the offer to two"; fi

# --- tls+tcp:// with a test CA ----------------------------------------------------
if command -v openssl >/dev/null 2>&1; then
	mkdir -p "$T/tls"
	(cd "$T/tls" &&
	 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
		-days 2 -subj /CN=keten-test-ca &&
	 openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout m.key -out m.csr -subj /CN=localhost &&
	 printf 'subjectAltName=DNS:localhost\n' >ext.cnf &&
	 openssl x509 -req -in m.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out m.pem -days 2 -extfile ext.cnf) \
		>/dev/null 2>&1
	UT=tls+tcp://localhost:$PT
	run "$M" peer tls --cert "$T/tls/m.pem" --key "$T/tls/m.key"
	check "peer tls keeps the certificate files in the home" grep -q "m.pem" "$T/out"
	node mt "$M" --listen "$UT"
	check "the municipality listens on $UT" wait_listen "$PT"
	run "$S2" sync "$UT" --tls-ca "$T/tls/ca.pem"
	check "keten sync over tls+tcp with the CA: exit 0" test "$rc" -eq 0
	run "$S2" sync "$UT"
	check "tls+tcp without a CA: usage error 64" test "$rc" -eq 64
	run "$S2" sync "$UT" --tls-ca "$T/tls/m.pem" --timeout 2
	check "tls+tcp with the wrong CA: the handshake fails, exit 69" test "$rc" -eq 69
	stop mt
else
	echo "# openssl missing: tls+tcp not tested"
fi

# --- peers kept in the home ---------------------------------------------------------
run "$S2" peer add "$U1"
check "peer add" test "$rc" -eq 0
run "$S2" peer add "$UM"
run "$S2" --json peer list
check "peer list --json shows both" jq -e --arg a "$U1" --arg b "$UM" '(map(.url) | index($a) != null) and (map(.url) | index($b) != null)' "$T/out"
check "peer list --json: the key that answered at U1 was recorded on first use" \
	jq -e --arg a "$U1" --arg k "$S1K" '.[] | select(.url == $a) | .key == $k and .kept == "first use" and .name == "Hulp Een VOF"' "$T/out"
run "$S2" peer add "$UM" --key "$LK"
run "$S2" sync "$UM"
if [ "$rc" -eq 77 ] && grep -q "does not hold the key expected" "$T/err"; then
	ok "a URL pinned to another key (peer add --key): the node there is refused (exit 77)"; else
	nok "pinned to another key (exit $rc)"; sed 's/^/# /' "$T/err"; fi
run "$S2" peer add "$UM" --key "Gemeente Hoorn"
run "$S2" sync "$UM"
check "pinned to the right key (by name): keten sync exit 0" test "$rc" -eq 0
run "$S2" peer list
check "peer list shows the key and that it is pinned" grep -q "^$UM  $(printf '%.16s' "$MK")  pinned (Gemeente Hoorn)$" "$T/out"
run "$S2" peer add "$UM" --key "nobody-known"
check "peer add --key with a party not known here: exit 66" test "$rc" -eq 66
run "$S2" peer remove "$UM"
run "$S2" peer list
check "peer remove" test "$(grep -v 'not a peer$' "$T/out" | awk '{print $1}')" = "$U1"
check "... and its key is forgotten with it" sh -c "! grep -q '^$UM ' '$T/out'"
check "peer list also shows a URL synced from once, with the key recorded there" \
	grep -q "^$UL  $(printf '%.16s' "$LK")  first use (Zorg Hoofd BV), not a peer$" "$T/out"
run "$S2" peer add "ftp://x"
check "peer add of a bad URL: exit 64" test "$rc" -eq 64
for nm in m l s1 s2; do
	stop $nm
	if [ "$src" -eq 0 ]; then ok "node $nm stops cleanly"; else nok "node $nm stop (exit $src)"; fi
done

# --- push: a node announces its own new entries to its peers -------------------------
node m "$M" --listen "$UM" --peer "$UL" --interval 120
node l "$L" --listen "$UL" --peer "$UM" --interval 120
i=0; while [ $i -lt 100 ] && ! { grep -q "round 1" "$T/m.log" && grep -q "round 1" "$T/l.log"; }; do sleep 0.1; i=$((i + 1)); done
new "the lead provider offers 50.00 while both nodes wait two minutes between rounds" "$L" \
	subcontract "$A1" --to "Hulp Een VOF" --amount 50 --from 2026-12-01
i=0; while [ $i -lt 100 ] && ! timeout 10 "$K" --home "$M" show "$ID" >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
check "announce: the municipality holds it within seconds" "$K" --home "$M" show "$ID"
check "the lead's node logged the announce" grep -q "announced seq" "$T/l.log"
check "the municipality's node ran a round on it" grep -q "round 2" "$T/m.log"
stop m; stop l

# --- the key recorded on first use: another node at that URL is refused -------------
node s1x "$S1" --listen "$UM"
wait_listen "$PM"
run "$L" sync "$UM" --timeout 5
if [ "$rc" -eq 77 ] && grep -q "does not hold the key expected" "$T/err"; then
	ok "another key at the municipality's URL (recorded on first use): refused, exit 77"; else
	nok "another key at a first-use URL (exit $rc)"; sed 's/^/# /' "$T/err"; fi
check "... the node there said the hello was meant for another key" grep -q "wrong-server" "$T/err"
stop s1x

# --- equivocation: the lead provider's home copied and both copies write on -----------
L2=$T/lead-copy
cp -a "$L" "$L2"
new "the lead provider offers 100.00 to one" "$L" subcontract "$A1" --to "Hulp Een VOF" --amount 100 --from 2026-12-01
O3=$ID
new "its copy offers 200.00 at the same seq" "$L2" subcontract "$A1" --to "Hulp Een VOF" --amount 200 --from 2026-12-01
U5=tcp://127.0.0.1:$P5
node l "$L" --listen "$UL"
node l2 "$L2" --listen "$U5"
wait_listen "$PL"; wait_listen "$P5"
run "$S1" sync "$UL"
check "subcontractor one takes the first offer" "$K" --home "$S1" show "$O3"
run "$S1" sync "$U5"
check "syncing from the copy reports the fork" grep -q " 1 forks" "$T/out"
run "$S1" party list
check "party list shows the lead provider as forked" grep -q "Zorg Hoofd BV.*forked" "$T/out"
run "$S1" verify
check "verify lists both signed headers as fork proofs" grep -q "2 fork proofs" "$T/out"
node s1 "$S1" --listen "$U1"
wait_listen "$P1"
run "$S2" sync "$U1" --timeout 5
check "subcontractor two, which saw neither offer, gets the proofs from subcontractor one" grep -q " 1 forks" "$T/out"
run "$S2" party list
check "and flags the lead provider too" grep -q "Zorg Hoofd BV.*forked" "$T/out"
stop l; stop l2; stop s1

# --- verify compares other nodes' checkpoints with this node's feeds ------------------
run "$L" verify
check "verify at the lead provider: the municipality's checkpoints agree (exit 0, counted)" \
	sh -c "[ $rc -eq 0 ] && grep -Eq ', [1-9][0-9]* checkpoints checked: 0 conflicting$' '$T/out'"
# the municipality learns only the copy's offer at that seq and checkpoints it
"$K" --home "$L2" export | jq -c --arg a "$LK" 'select(.author == $a)' >"$T/l2feed.ndjson"
"$K" --home "$M" import "$T/l2feed.ndjson" >/dev/null 2>&1
new "the municipality checkpoints the heads it holds (the copy's offer)" "$M" checkpoint
"$K" --home "$M" export | jq -c --arg a "$MK" 'select(.author == $a)' >"$T/mfeed.ndjson"
"$K" --home "$L" import "$T/mfeed.ndjson" >/dev/null 2>&1
run "$L" verify
check "verify at the lead provider: a checkpoint naming another entry at its seq is a problem (exit 1)" \
	sh -c "[ $rc -eq 1 ] && grep -q '^checkpoint: .* heads differ' '$T/out' && grep -q '0 fork proofs, [1-9][0-9]* checkpoints checked: 1 conflicting' '$T/out'"
run "$L" --json verify
check "verify --json lists the conflicting checkpoint" jq -e '.checkpoint_conflicts | length == 1' "$T/out"

# --- --rounds without peers: a serving node counts its rounds and stops ---------------
before=$("$K" --home "$L" log --type checkpoint | wc -l)
timeout 20 "$K" --home "$L" node --listen "ipc://$T/rounds.ipc" --checkpoint 3600 --rounds 1 --interval 1 2>"$T/rounds.log"
check "node --rounds 1 with no peers stops by itself (exit 0, not killed by timeout)" test $? -eq 0
check "and appended its checkpoint before stopping" test "$("$K" --home "$L" log --type checkpoint | wc -l)" -eq $((before + 1))

# --- ipc:// and --help ----------------------------------------------------------------
node li "$L" --listen "ipc://$T/lead.ipc"
i=0; while [ $i -lt 50 ] && [ ! -S "$T/lead.ipc" ]; do sleep 0.1; i=$((i + 1)); done
run "$S2" sync "ipc://$T/lead.ipc"
check "keten sync over ipc://" test "$rc" -eq 0
stop li
for cmd in node sync peer checkpoint; do
	run "$S2" $cmd --help
	check "$cmd --help" test "$rc" -eq 0
done

# --- the node's log and configuration as the library keeps them -----------------------
check "a node that ran its rounds logs why it stopped" grep -q "stopping (done)" "$T/rounds.log"
check "... and that it stopped" grep -q "stopped$" "$T/rounds.log"
node ls "$S2" --listen "ipc://$T/sub2.ipc" --interval 0.2
i=0; while [ $i -lt 50 ] && ! grep -q "round 1:" "$T/ls.log"; do sleep 0.1; i=$((i + 1)); done
p=$PID_ls; kill -INT "$p"; wait "$p" 2>/dev/null; src=$?
PIDS=$(printf '%s\n' $PIDS | grep -v "^$p\$" | tr '\n' ' ')
check "a node stopped by SIGINT exits 0" test "$src" -eq 0
check "... and names the signal in its log" grep -q "stopping (SIGINT)" "$T/ls.log"
check "... after pulling from the peer kept in its home" grep -q "round 1: $U1: " "$T/ls.log"
run "$S2" peer tls --ca "$T/no-such-ca.pem"
check "peer tls with a file that does not exist: exit 66" test "$rc" -eq 66
run "$S2" --json peer tls
check "... and nothing is kept" jq -e '.ca == null' "$T/out"
run "$S2" node --listen "http://x"
check "node --listen with a bad URL: exit 64" test "$rc" -eq 64
run "$X" node
check "node with nothing to serve or pull from: exit 64" test "$rc" -eq 64

echo "# $n tests, $failed failed"
[ "$failed" -eq 0 ]
