#!/bin/sh
# t_nodeconf.sh — a node run from its config file (keten node --config):
# on free loopback ports, a lead provider's node pulls from the
# municipality named in [peer URL] of its file; `keten peer add --config`
# adds a second peer to the file keeping its comments; SIGHUP makes the
# next round pull from it (in the log line and in the entry that arrives);
# a broken file on SIGHUP is refused and the old one kept; a broken file at
# start exits 78 with its line; options given override the file; under the
# journal (JOURNAL_STREAM) the lines carry no time of their own.  Nodes are
# killed in an EXIT trap; every command runs under timeout.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
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
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE JOURNAL_STREAM
M=$T/municipality
A=$T/lead
B=$T/sub
n=0
failed=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else nok "$d"; fi; }
run() { h=$1; shift; timeout 30 "$K" --home "$h" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
ports() {
	python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}
node() { # node NAME HOME ARGS...: keten node in the background, log in $T/NAME.log
	name=$1; h=$2; shift 2
	"$K" --home "$h" node "$@" 2>"$T/$name.log" &  # no timeout(1) between: SIGHUP goes to the node itself
	eval "PID_$name=$!"
	PIDS="$PIDS $!"
}
stop() {
	eval "p=\$PID_$1"
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	src=$?
	PIDS=$(printf '%s\n' $PIDS | grep -v "^$p\$" | tr '\n' ' ')
}
# until SECONDS FILE PATTERN: wait until a line of FILE matches PATTERN (grep -E)
until_log() {
	i=0
	while [ $i -lt $(($1 * 10)) ]; do grep -Eq -- "$3" "$2" && return 0; sleep 0.1; i=$((i + 1)); done
	return 1
}
wait_listen() {
	i=0
	while [ "$i" -lt 50 ]; do
		python3 -c "import socket,sys;s=socket.socket();s.settimeout(0.2);sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# --- three homes: the municipality certifies the others ----------------------------
run "$M" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase; MK=$(cat "$T/out")
run "$A" init --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --no-passphrase; AK=$(cat "$T/out")
run "$B" init --name "Hulp Een VOF" --role subcontractor --agb 87654321 --no-passphrase; BK=$(cat "$T/out")
for h in "$M" "$A" "$B"; do "$K" --home "$h" trust add "$MK" --name "Gemeente Hoorn" >/dev/null; done
"$K" --home "$M" party certify "$MK" --name "Gemeente Hoorn" --role municipality --municipality 0405 >/dev/null
"$K" --home "$M" party certify "$AK" --name "Zorg Hoofd BV" --role lead-provider --agb 12345678 --municipality 0405 >/dev/null
"$K" --home "$M" party certify "$BK" --name "Hulp Een VOF" --role subcontractor --agb 87654321 --municipality 0405 >/dev/null
set -- $(ports 4)
PM=$1; PA=$2; PB=$3; PX=$4
UM=tcp://127.0.0.1:$PM; UA=tcp://127.0.0.1:$PA; UB=tcp://127.0.0.1:$PB; UX=tcp://127.0.0.1:$PX
node m "$M" --listen "$UM" --interval 60
wait_listen "$PM"
run "$B" sync "$UM"
check "the subcontractor fetches the certificates from the municipality's node" test "$rc" -eq 0
node b "$B" --listen "$UB" --interval 60
wait_listen "$PB"

# --- the lead provider's node from its config file ----------------------------------
CONF=$T/lead.conf
cat >"$CONF" <<CONF
# The node of Zorg Hoofd BV.
[node]
listen = $UA   # where the others pull from us
interval = 0.5

# the municipality, pinned
[peer $UM]
key = $MK
CONF
cp "$CONF" "$T/lead.conf.orig"
node a "$A" --config "$CONF"
check "keten node --config serves on the listen URL of the file" wait_listen "$PA"
if until_log 15 "$T/a.log" "round [0-9]+: $UM: [1-9][0-9]* entries.*; ok=1 failed=0 entries=[1-9][0-9]* stubs=0 forks=0 pending=[0-9]+ ms=[0-9]+$"; then
	ok "it pulls from the peer named in [peer URL]: one line per round, totals as key=value"; else
	nok "no round pulled from $UM"; sed 's/^/# /' "$T/a.log"; fi
sed -n '/round 1:/p' "$T/a.log" | sed 's/^/# /'
check "... and the certificates arrived (the subcontractor is known at the lead provider)" \
	sh -c "'$K' --home '$A' party list | grep -q 'Hulp Een VOF'"
run "$A" peer list
check "... with the municipality's key pinned from the file" grep -q "^$UM  $(printf '%.16s' "$MK")  pinned" "$T/out"

# --- peer add --config rewrites the file, comments kept --------------------------------
run "$B" checkpoint
CP=$(cat "$T/out")
check "the subcontractor appends a checkpoint of its own (an entry only its node has)" test -n "$CP"
run "$A" peer add "$UB" --key "$BK" --config "$CONF"
check "keten peer add URL --key KEY --config FILE: exit 0" test "$rc" -eq 0
check "... keeps every line of the file, comments too, and appends the peer's section" sh -c \
	"head -n $(wc -l <"$T/lead.conf.orig") '$CONF' | cmp -s - '$T/lead.conf.orig' &&
	 tail -n 2 '$CONF' | tr '\n' '|' | grep -qx '\[peer $UB\]|key = $BK|'"
sed 's/^/# /' "$CONF"
run "$A" peer add "$UB" --key "$BK" --config "$CONF"
check "... adding it again changes nothing" sh -c "[ $rc -eq 0 ] && [ \$(grep -c '^\[peer' '$CONF') -eq 2 ]"
check "... and the node does not pull from it before SIGHUP" sh -c "sleep 1; ! grep -q '$UB' '$T/a.log'"

# --- SIGHUP: the next round pulls from it ------------------------------------------
eval "kill -HUP \$PID_a"
if until_log 10 "$T/a.log" "reloaded $CONF: pulling from 2 peers \(1 new, 0 gone\), every 0.5 s"; then
	ok "SIGHUP rereads the file: the log says so, with the new peer"; else
	nok "no reload line"; sed 's/^/# /' "$T/a.log"; fi
if until_log 10 "$T/a.log" "round [0-9]+: $UM: .*; $UB: 1 entries \(0 stubs\).*; ok=2 failed=0 entries=1 "; then
	ok "the next round pulls from the new peer: its one entry arrives (log line)"; else
	nok "no round pulled from $UB"; tail -5 "$T/a.log" | sed 's/^/# /'; fi
check "... and the subcontractor's checkpoint is held by the lead provider" "$K" --home "$A" show "$CP"
eval "check 'the node kept running through the reload' kill -0 \$PID_a"

# --- a broken file on SIGHUP: refused, the one in use kept ----------------------------
cp "$CONF" "$T/lead.conf.good"
printf 'timeout soon\n' >>"$CONF"
BADLINE=$(wc -l <"$CONF")
eval "kill -HUP \$PID_a"
if until_log 10 "$T/a.log" "reload refused: $CONF:$BADLINE: expected 'key = value', a \[section\] or a # comment; the configuration in use is kept"; then
	ok "a broken file on SIGHUP is refused, naming FILE:LINE, and the old config kept"; else
	nok "no refusal"; grep reload "$T/a.log" | sed 's/^/# /'; fi
before=$(grep -c "round " "$T/a.log")
sleep 1.5
check "... and the rounds go on with both peers" sh -c \
	"[ \$(grep -c 'round ' '$T/a.log') -gt $before ] && tail -n 1 '$T/a.log' | grep -q '$UB: .*ok=2 failed=0'"
stop a
check "the node stops cleanly on SIGTERM (exit 0)" test "$src" -eq 0

# --- at start: a broken file exits 78 with its line; a missing one 66 ------------------
run "$A" node --config "$CONF"
if [ "$rc" -eq 78 ] && grep -q "$CONF:$BADLINE: expected 'key = value'" "$T/err"; then
	ok "a broken config at start: exit 78, FILE:LINE in the message"; else
	nok "broken config at start (exit $rc)"; sed 's/^/# /' "$T/err"; fi
printf '[node]\nlisten = tcp://127.0.0.1:1\n[peer tcp://127.0.0.1:2]\nkey = %s\n' "$(printf '%064d' 0 | tr 0 f)" >"$T/badkey.conf"
run "$A" node --config "$T/badkey.conf"
check "a pinned key that is no Ed25519 key: exit 78, its line" sh -c "[ $rc -eq 78 ] && grep -q 'badkey.conf:3: the key' '$T/err'"
run "$A" node --config "$T/missing.conf"
check "a missing config file: exit 66" test "$rc" -eq 66
run "$A" peer add "$UX" --config "$CONF"
check "peer add --config on a broken file: exit 78, the file left as it was" sh -c \
	"[ $rc -eq 78 ] && grep -q ':$BADLINE:' '$T/err' && [ \$(grep -c '^\[peer' '$CONF') -eq 2 ]"

# --- options given override the file ----------------------------------------------
cp "$T/lead.conf.good" "$CONF"
run "$A" node --config "$CONF" --listen "$UX" --rounds 1 --interval 0.2
check "--listen and --rounds override the file: it serves on the option's URL and stops" sh -c \
	"[ $rc -eq 0 ] && grep -q 'serving as Zorg Hoofd BV on $UX;' '$T/err' && ! grep -q 'on $UA' '$T/err'"

# --- peer remove --config -------------------------------------------------------------
run "$A" peer remove "$UB" --config "$CONF"
check "peer remove --config takes the section out, the rest as it was" sh -c \
	"[ $rc -eq 0 ] && cmp -s '$CONF' '$T/lead.conf.orig'"

# --- under the journal ------------------------------------------------------------------
: >"$T/j.log"
JS=$(stat -c '%d:%i' "$T/j.log")
JOURNAL_STREAM=$JS timeout 30 "$K" --home "$A" node --config "$CONF" --rounds 1 2>>"$T/j.log"
check "with JOURNAL_STREAM naming stderr, the lines carry no time of their own" sh -c \
	"grep -q '^round 1: $UM: ' '$T/j.log' && ! grep -q '^keten node ' '$T/j.log'"
timeout 30 "$K" --home "$A" node --config "$CONF" --rounds 1 2>"$T/nj.log"
check "... and without it they do" grep -Eq "^keten node [0-9]{2}:[0-9]{2}:[0-9]{2} round 1: " "$T/nj.log"

stop m; stop b
echo "# $n tests, $failed failed"
[ "$failed" -eq 0 ]
