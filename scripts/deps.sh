#!/bin/sh
# deps.sh — make sure the Debian packages keten builds and tests with are
# installed.  As root it installs what is missing with apt-get; otherwise it
# prints the exact command to run and fails.
set -u
# chromium and fonts-liberation: tests/cli/t_serve.sh renders the dashboard
# of `keten serve` in headless Chromium and takes screenshots of it.
# sqlite3 and libsqlite3-dev: `make bench` (tests/bench/bench_reconcile.c)
# asks SQLite the same question as keten, by its command line and its C API.
# help2man: the manual pages are made from the --help texts (scripts/man.sh).
# debhelper, dpkg-dev, fakeroot, lintian: `make deb` and the package test
# (tests/cli/t_install.sh); man-db and bash-completion: that test reads the
# installed pages with man and loads the completion in bash.  curl:
# tests/cli/t_serve_https.sh asks the https dashboard with tokens and
# client certificates.  python3-cryptography: tests/cli/t_join.sh signs a
# forged join file with a key of its own (Ed25519).  The build
# packages of debian/control are the first lines here.
PKGS="build-essential pkg-config liblmdb-dev libsodium-dev libprotobuf-c-dev
protobuf-c-compiler libnng-dev libjansson-dev libcsv-dev libxml2-dev help2man
clang clang-format libclang-rt-14-dev lmdb-utils protobuf-compiler nng-utils
libcmocka-dev libxml2-utils sqlite3 libsqlite3-dev python3 jq openssl curl
chromium fonts-liberation debhelper dpkg-dev fakeroot lintian man-db
bash-completion python3-cryptography"
missing=""
for p in $PKGS; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
	case "$s" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $missing >&2 && exit 0
	echo "deps: apt-get failed; install by hand: apt-get install$missing" >&2
	exit 69
fi
echo "deps: missing Debian packages; run as root:" >&2
echo "  sudo apt-get install$missing" >&2
exit 69
