#!/bin/sh
# t_coredump.sh — a running `keten node` (its key unlocked, on a free
# loopback port) cannot be made to dump its memory.  Its /proc/PID/limits
# says "Max core file size 0 0" though it was started with core dumps
# allowed (ulimit -c unlimited), and it is not dumpable: proc(5) gives the
# files of /proc/PID of a process that is not dumpable to root, so the
# node runs as an ordinary user (nobody, when this runs as root) and
# /proc/PID/status, which names that user as its Uid, is owned by root.
# A process without a key (sleep) started the same way shows the contrast
# (its /proc/PID/status is its user's, its core limit unlimited).  When
# the kernel writes core files into the working directory (core_pattern
# without a pipe or path), both get SIGSEGV: sleep leaves a core file,
# the node none.  Processes are killed in an EXIT trap.
set -u
K=${KETEN:-build/keten}
case $K in /*) ;; *) K=$(pwd)/$K ;; esac
T=$(mktemp -d) || exit 70
PIDS=""
cleanup() {
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE KETEN_MAPSIZE
n=0
failed=0
ok()  { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - # skip $1"; }
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_listen() {
	i=0
	while [ "$i" -lt 50 ]; do
		python3 -c "import socket,sys;s=socket.socket();s.settimeout(0.2);sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# as CMD... &: run CMD in the background as the ordinary user, cores
# allowed, in $T/cwd (the background subshell becomes CMD: $! is its pid)
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 || { echo "1..0 # skip setpriv is needed to run as nobody"; exit 0; }
	AS_UID=$(id -u nobody)
	as() { cd "$T/cwd" && ulimit -c unlimited && exec setpriv --reuid="$AS_UID" --regid="$(id -g nobody)" \
		--clear-groups "$@"; }
else
	AS_UID=$(id -u)
	as() { cd "$T/cwd" && ulimit -c unlimited && exec "$@"; }
fi
mkdir "$T/cwd" && chmod 777 "$T/cwd" && chmod 755 "$T"
H=$T/cwd/home
timeout 30 "$K" --home "$H" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --anchor \
	--no-passphrase >/dev/null 2>"$T/err" || { nok "init ($(cat "$T/err"))"; }
[ "$(id -u)" -eq 0 ] && chown -R "$AS_UID" "$H"

# pid_uid PID: the real uid /proc/PID/status names; owner PID: who owns that file
pid_uid() { awk '/^Uid:/ {print $2}' "/proc/$1/status"; }
owner() { stat -c %u "/proc/$1/status"; }
core_limit() { awk '/^Max core file size/ {print $5, $6}' "/proc/$1/limits"; }

as sleep 60 &
SP=$!
PIDS="$PIDS $SP"
P=$(port)
as timeout 60 "$K" --home "$H" node --listen "tcp://127.0.0.1:$P" --interval 3600 2>"$T/node.log" &
TP=$!
PIDS="$PIDS $TP"
if wait_listen "$P"; then ok "the node listens on tcp://127.0.0.1:$P"; else nok "the node did not start ($(cat "$T/node.log"))"; fi
NP=$(pgrep -P "$TP" -x keten 2>/dev/null | head -1)
[ -n "$NP" ] || NP=$TP
sleep 0.2

l=$(core_limit "$SP")
if [ "$l" = "unlimited unlimited" ]; then ok "a process without a key started the same way may dump core (Max core file size $l)"; else
	nok "the control process's core limit is '$l'"; fi
l=$(core_limit "$NP")
if [ "$l" = "0 0" ]; then ok "the node's /proc/$NP/limits: Max core file size $l"; else
	nok "the node's core limit is '$l', not '0 0'"; fi
u=$(pid_uid "$SP"); o=$(owner "$SP")
if [ "$u" = "$AS_UID" ] && [ "$o" = "$AS_UID" ]; then ok "the control process runs as uid $u and owns its /proc/PID/status (dumpable)"; else
	nok "control: uid $u, /proc/PID/status owned by $o"; fi
u=$(pid_uid "$NP"); o=$(owner "$NP")
if [ "$u" = "$AS_UID" ] && [ "$o" = 0 ]; then ok "the node runs as uid $u, its /proc/$NP/status owned by root: not dumpable"; else
	nok "node: uid $u, /proc/PID/status owned by $o (dumpable)"; fi

case $(cat /proc/sys/kernel/core_pattern) in
'|'* | */*) skip "core_pattern '$(cat /proc/sys/kernel/core_pattern)' does not write into the working directory" ;;
*)
	rm -f "$T"/cwd/core*
	kill -SEGV "$SP"; wait "$SP" 2>/dev/null
	sleep 0.3
	c=$(ls "$T"/cwd | grep -c '^core')
	if [ "$c" -ge 1 ]; then ok "sleep killed by SIGSEGV leaves a core file"; else nok "sleep left no core file: the check below proves nothing"; fi
	rm -f "$T"/cwd/core*
	kill -SEGV "$NP"; wait "$TP" 2>/dev/null
	sleep 0.3
	c=$(ls "$T"/cwd | grep -c '^core')
	if [ "$c" -eq 0 ]; then ok "the node killed by SIGSEGV leaves none"; else nok "the node left a core file"; fi
	;;
esac

echo "1..$n"
echo "# $n tests, $failed failed"
[ "$failed" -eq 0 ]
