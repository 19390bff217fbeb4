#!/bin/sh
# t_install.sh — keten installed the way Debian software is: `make install
# DESTDIR=... PREFIX=/usr` lays out the program, the libraries with their
# headers and pkg-config file, a manual page per command, the bash
# completion, the keten-node@ unit and the .proto files; `make deb` builds
# the packages, which unpack into a scratch root and run there, and which
# lintian passes without errors.
#
# One line per check: "ok N - ..." or "not ok N - ...".  Exit 1 on failure.
# The package build takes about half a minute at parallelism 2 (DEB_JOBS).
set -u
cd "$(dirname "$0")/../.." || exit 70
T=$(mktemp -d) || exit 70
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
R=$T/root
LIBDIR=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

n=0
failed=0
ok()     { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check()  { d=$1; shift; if "$@" >"$T/out" 2>&1; then ok "$d"; else not_ok "$d: $(head -c 400 "$T/out")"; fi; }

# --- make install -----------------------------------------------------------------
if make -s install DESTDIR="$R" PREFIX=/usr LIBDIR="$LIBDIR" >"$T/install.log" 2>&1; then
	ok "make install DESTDIR=... PREFIX=/usr"
else
	not_ok "make install: $(tail -5 "$T/install.log")"; echo "Bail out!"; exit 1
fi
UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
(cd "$R" && find . ! -type d | sort) > "$T/tree"
sed 's/^/# /' "$T/tree"
check "the program runs from the tree" sh -c '[ "$("$1/usr/bin/keten" --version)" = "keten 0.1" ]' _ "$R"
check "the shared library is installed under its soname, with the link" sh -c \
	'readelf -d "$1$2/libketen.so.0" | grep -q "SONAME.*\[libketen.so.0\]" &&
	 [ "$(readlink "$1$2/libketen.so")" = libketen.so.0 ] && [ -f "$1$2/libketen.a" ]' _ "$R" "$LIBDIR"
check "every public header is installed" sh -c \
	'for h in include/keten/*.h; do cmp -s "$h" "$1/usr/include/keten/${h##*/}" || exit 1; done' _ "$R"
check "the .proto files are in share/keten/proto" sh -c \
	'for p in proto/*.proto; do cmp -s "$p" "$1/usr/share/keten/proto/${p##*/}" || exit 1; done' _ "$R"
# a program built against the installed tree alone, through its pkg-config file
cat > "$T/use.c" <<'C'
#include <stdio.h>
#include <keten/keten.h>
int main(void)
{
	char hex[5];
	const uint8_t b[2] = {0xbe, 0xef};
	keten_hex(hex, b, 2);
	printf("%s %s\n", hex, keten_strerror(KETEN_EAUTHOR));
	return 0;
}
C
PC="pkg-config --define-variable=prefix=$R/usr --with-path=$R$LIBDIR/pkgconfig"
check "a program builds against the installed headers and library with pkg-config" sh -c \
	'cc -o "$1/use" "$1/use.c" $($2 --cflags keten) $($2 --libs keten) &&
	 LD_LIBRARY_PATH="$3" "$1/use" | grep -q "^beef [a-z]"' \
	_ "$T" "$PC" "$R$LIBDIR"
check "... and links statically too (pkg-config --static)" sh -c \
	'cc -o "$1/use-static" "$1/use.c" $($2 --cflags keten) "$3/libketen.a" $($2 --libs-only-l --static keten | sed "s/-lketen//") &&
	 "$1/use-static" | grep -q "^beef "' _ "$T" "$PC" "$R$LIBDIR"

# --- manual pages ------------------------------------------------------------------
M=$R/usr/share/man
build/keten --commands | cut -f1 > "$T/cmds"
check "the command table lists every command (keten --commands)" sh -c \
	'[ "$(wc -l < "$1")" -ge 30 ] && grep -qx claim "$1" && grep -qx serve "$1"' _ "$T/cmds"
missing=""
while read -r c; do
	summary=$(build/keten --commands | awk -F'\t' -v c="$c" '$1 == c { print $2 }')
	MANWIDTH=1000 man -l "$M/man1/keten-$c.1" 2>/dev/null | tr -s ' \n' ' ' > "$T/page"
	grep -qF "keten-$c - $(printf %s "$summary" | tr -s ' ')" "$T/page" &&
		sed 's/.*SYNOPSIS//; s/DESCRIPTION.*//' "$T/page" | grep -q "keten $c" || missing="$missing $c"
done < "$T/cmds"
if [ -z "$missing" ]; then ok "a page per command: NAME is the table's summary, SYNOPSIS its usage (man -l)"; else
	not_ok "pages missing or wrong:$missing"; fi
MANPATH=$M man -P cat keten-claim > "$T/claim.txt" 2>&1
sed 's/^/# /' "$T/claim.txt"
check "man keten-claim works from the installed tree" sh -c \
	'grep -q "^KETEN-CLAIM(1)" "$1" && grep -q "keten-claim - claim an installment" "$1" && grep -q "Prints the claim" "$1"' _ "$T/claim.txt"
check "keten(1) lists the commands, the environment and every page" sh -c \
	'MANPATH="$1" man -P cat keten | tr -s " \n" " " > "$2/keten.txt" &&
	 grep -q "KETEN_PASSPHRASE" "$2/keten.txt" && grep -q "keten-claim(1)" "$2/keten.txt" && grep -q "keten-whoami(1)" "$2/keten.txt"' _ "$M" "$T"
check "an option list becomes man options (keten-serve --http)" sh -c \
	'grep -A1 "^\.TP" "$1/man1/keten-serve.1" | grep -q "http"' _ "$M"

# --- bash completion ---------------------------------------------------------------
CF=$R/usr/share/bash-completion/completions/keten
complete_for() { # WORDS...: what the completion offers for the last word, on one line
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_keten; printf "%s\n" "${COMPREPLY[@]}"' _ "$CF" "$@" | sort | tr '\n' ' '
}
offers() { # DESC WANT WORDS...: the completion of WORDS offers WANT (words, sorted) or, with +WORD, offers WORD among others
	d=$1 want=$2; shift 2
	got=$(complete_for "$@")
	case $want in
	+*) case " $got" in *" ${want#+} "*) ok "$d" ;; *) not_ok "$d: offered '$got'" ;; esac ;;
	*) if [ "$got" = "$want " ]; then ok "$d"; else not_ok "$d: offered '$got', want '$want'"; fi ;;
	esac
}
check "the completion file loads in bash and registers for keten" sh -c \
	'bash -c "source \"\$1\" && complete -p keten" _ "$1" | grep -qx "complete -F _keten keten"' _ "$CF"
offers "it completes commands" "claim clawback" keten cla
offers "... subcommands" "certify list revoke" keten party ""
offers "... a command's long options" "--anchor" keten init --an
offers "... global options after the command" "--home" keten log --ho
offers "... the options of the command alone" "+--bank" keten serve --
case " $(complete_for keten serve --) " in *" --anchor "*) not_ok "... and not those of another command" ;;
*) ok "... and not those of another command" ;; esac
touch "$T/afschrift.xml"
offers "... file names after an option that takes a FILE" "$T/afschrift.xml" keten serve --bank "$T/afsch"

# --- the unit ------------------------------------------------------------------------
U=$R$UNITDIR/keten-node@.service
check "the unit keten-node@.service is installed" test -f "$U"
check "... runs the node of /var/lib/keten/INSTANCE as the user keten" sh -c \
	'grep -qx "ExecStart=/usr/bin/keten --home /var/lib/keten/%i node --config /etc/keten/%i.conf \$KETEN_NODE_ARGS" "$1" &&
	 grep -qx "ExecReload=/bin/kill -HUP \$MAINPID" "$1" && grep -qx "User=keten" "$1"' _ "$U"
check "... names the annotated example config, installed beside the docs" sh -c \
	'cmp -s dist/keten-node.conf.example "$1/usr/share/doc/keten/keten-node.conf.example" &&
	 ! grep -q "@DOCDIR@" "$2" && grep -q "/usr/share/doc/keten/keten-node.conf.example" "$2"' _ "$R" "$U"
check "... confined: ProtectSystem=strict, NoNewPrivileges=yes, writes its home alone" sh -c \
	'grep -qx "ProtectSystem=strict" "$1" && grep -qx "NoNewPrivileges=yes" "$1" &&
	 grep -qx "ReadWritePaths=/var/lib/keten/%i" "$1"' _ "$U"
if command -v systemd-analyze >/dev/null; then
	# an instance of the unit, its program taken from the scratch tree
	sed "s|/usr/bin/keten|$R/usr/bin/keten|" "$U" > "$T/keten-node@hoorn.service"
	check "systemd-analyze verify passes an instance of it" \
		env MANPATH="$M" systemd-analyze verify "$T/keten-node@hoorn.service"
else
	echo "# systemd-analyze not available: the unit is not verified"
fi

# --- the Debian packages ----------------------------------------------------------
start=$(date +%s)
if make -s deb DEB_JOBS=2 >"$T/deb.log" 2>&1; then
	ok "make deb (dpkg-buildpackage -us -uc -b) in $(($(date +%s) - start)) s"
else
	not_ok "make deb: $(tail -20 "$T/deb.log")"; echo "# $n checks, $failed failed"; exit 1
fi
D=build/deb
for p in keten libketen0 libketen-dev; do
	check "package $p is built" sh -c 'ls "$1/$2"_*.deb' _ "$D" "$p"
done
X=$T/deb
for p in keten libketen0 libketen-dev; do dpkg-deb -x "$D/${p}_0.1_"*.deb "$X"; done
check "the unpacked keten runs: keten --version" sh -c '[ "$("$1/usr/bin/keten" --version)" = "keten 0.1" ]' _ "$X"
check "... and its pages read with man -l" sh -c \
	'man -l "$1/usr/share/man/man1/keten-claim.1.gz" | grep -q "keten-claim - claim an installment"' _ "$X"
check "the packages hold: the library under its multiarch soname, headers, pc file, unit, completion" sh -c \
	'test -f "$1$2/libketen.so.0" -a -L "$1$2/libketen.so" -a -f "$1$2/pkgconfig/keten.pc" \
	      -a -f "$1/usr/include/keten/keten.h" -a -f "$1$3/keten-node@.service" \
	      -a -f "$1/usr/share/bash-completion/completions/keten" -a -f "$1/usr/share/keten/proto/keten.proto" \
	      -a -f "$1/usr/share/doc/keten/keten-node.conf.example"' \
	_ "$X" "$LIBDIR" "$UNITDIR"
check "keten depends on adduser; its postinst makes the system user keten" sh -c \
	'dpkg-deb -f "$1"/keten_0.1_*.deb Depends | grep -q adduser &&
	 dpkg-deb -e "$1"/keten_0.1_*.deb "$2/ctl" && grep -q "adduser --system" "$2/ctl/postinst" && sh -n "$2/ctl/postinst"' _ "$D" "$T"
check "the copyright file grants no licence and says so" sh -c \
	'grep -q "All rights reserved" "$1/usr/share/doc/keten/copyright" && grep -q "No licence" "$1/usr/share/doc/keten/copyright"' _ "$X"
lintian --info "$D"/keten_0.1_*.changes > "$T/lintian.txt" 2>&1
grep -v "^running with root" "$T/lintian.txt" | grep -v "^N:" | sed 's/^/# lintian: /'
check "lintian reports no errors" sh -c '! grep -q "^E:" "$1"' _ "$T/lintian.txt"
check "... and no warnings" sh -c '! grep -q "^W:" "$1"' _ "$T/lintian.txt"

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
