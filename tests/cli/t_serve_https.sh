#!/bin/sh
# t_serve_https.sh — a dashboard someone else can open safely: keten serve
# --https with a throwaway CA made by openssl, and the two ways to tell
# viewers apart.
#   - tokens (--tokens FILE): a request without a valid "Authorization:
#     Bearer TOKEN" or the cookie of the login page is answered 401; the
#     login page (POST /login) sets the cookie; driven by real headless
#     Chromium over https: "/" shows the login page, a link
#     /login#token=TOKEN opens the dashboard (app.js renders the home's
#     name), a wrong token is told so;
#   - client certificates (--client-ca FILE): a viewer certificate signed
#     by the CA gets the dashboard, no certificate or one of another CA is
#     refused in the TLS handshake (curl, and Chromium without one);
#   - without one of them a non-loopback address is still refused, and
#     the options are checked;
#   - the bounded server's limits hold over TLS too: a connection that
#     never starts its handshake is closed at the request deadline, a head
#     over 16 KiB is 431, a body over 64 KiB 413, and a login whose body
#     comes after its head, in pieces, still signs in.
# Screenshots: build/serve-login.png, build/serve-https.png.
#
# One line per check: "ok N - ..." or "not ok N - ...".  Exit 1 on failure.
set -u
K=${KETEN:-build/keten}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d) || exit 70
SRV=
cleanup() {
	for p in $SRV; do kill "$p" 2>/dev/null; done
	for p in $SRV; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export KETEN_PWHASH_FAST=1
unset KETEN_HOME KETEN_PASSPHRASE

n=0
failed=0
ok()     { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check()  { d=$1; shift; if "$@" >"$T/out" 2>&1; then ok "$d"; else not_ok "$d: $(head -c 300 "$T/out")"; fi; }
# exits DESC WANT CMD...: CMD exits WANT; its stderr is in $T/err
exits() {
	d=$1 want=$2; shift 2
	timeout 20 "$@" >/dev/null 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$d"; else not_ok "$d (exit $rc, want $want: $(head -c 300 "$T/err"))"; fi
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
# up URL CURL-ARGS...: wait until the server answers the TLS handshake
up() {
	u=$1; shift
	for i in $(seq 1 100); do
		curl -s -o /dev/null --max-time 2 "$@" "$u" && return 0
		sleep 0.1
	done
	return 1
}
# status FILE: the status code of a response saved with curl -i
status() { sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$1"; }

# --- a home and a throwaway CA ------------------------------------------------------
KM=$("$K" --home "$T/m" init --name "Gemeente Hoorn" --role municipality --municipality 0405 --anchor --no-passphrase)
C=$T/tls
mkdir -p "$C"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key "$C/ca.key" && key "$C/srv.key" && key "$C/viewer.key" && key "$C/other.key" &&
openssl req -x509 -new -key "$C/ca.key" -out "$C/ca.pem" -days 2 -subj "/CN=keten test viewers CA" 2>/dev/null &&
openssl req -new -key "$C/srv.key" -out "$C/srv.csr" -subj "/CN=127.0.0.1" 2>/dev/null &&
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$C/srv.ext" &&
openssl x509 -req -in "$C/srv.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
	-extfile "$C/srv.ext" -out "$C/srv.pem" 2>/dev/null &&
openssl req -new -key "$C/viewer.key" -out "$C/viewer.csr" -subj "/CN=viewer" 2>/dev/null &&
printf 'extendedKeyUsage=clientAuth\n' >"$C/viewer.ext" &&
openssl x509 -req -in "$C/viewer.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
	-extfile "$C/viewer.ext" -out "$C/viewer.pem" 2>/dev/null &&
openssl req -x509 -new -key "$C/other.key" -out "$C/other.pem" -days 2 -subj "/CN=not a viewer" 2>/dev/null
if [ $? -eq 0 ] && [ -n "$KM" ]; then ok "a home, and a CA with a server and a viewer certificate (openssl)"; else
	not_ok "setup"; echo "Bail out!"; exit 1; fi
TOK=$(openssl rand -base64 24)
TOK2=second-token-$(openssl rand -hex 8)
printf '# viewers of the dashboard\n%s\n\n  %s  \n' "$TOK" "$TOK2" >"$C/tokens"
S="$K --home $T/m serve"
CURL="curl -s --max-time 10 --cacert $C/ca.pem"

# --- options and the loopback rule --------------------------------------------------
P=$(port)
exits "--https without --cert and --key is a usage error" 64 $S --https "127.0.0.1:$P"
exits "--cert without --https is a usage error" 64 $S --cert "$C/srv.pem" --key "$C/srv.key"
exits "--http and --https together are a usage error" 64 \
	$S --http "127.0.0.1:$P" --https "127.0.0.1:$P" --cert "$C/srv.pem" --key "$C/srv.key"
printf 'short\n' >"$C/short"
exits "a token shorter than 16 characters is refused" 64 $S --tokens "$C/short"
check "... saying what a token is" grep -q "16 to 256 characters" "$T/err"
printf '# nothing\n\n' >"$C/none"
exits "a token file without tokens is a usage error" 64 $S --tokens "$C/none"
exits "HTTPS on a non-loopback address without client certificates or tokens is refused" 77 \
	$S --https "0.0.0.0:$P" --cert "$C/srv.pem" --key "$C/srv.key"
check "... saying what would serve it" sh -c 'grep -q -- "--client-ca" "$1" && grep -q -- "--tokens" "$1" && grep -q -- "--public" "$1"' _ "$T/err"
exits "tokens over plain HTTP on a non-loopback address are refused" 77 $S --http "0.0.0.0:$P" --tokens "$C/tokens"
exits "an unreadable key file is exit 74, said clearly" 74 \
	$S --https "127.0.0.1:$P" --cert "$C/srv.pem" --key "$C/no-such.key" --tokens "$C/tokens"
check "... naming the files" grep -q "no-such.key" "$T/err"

# --- tokens ------------------------------------------------------------------------------
P=$(port)
B=https://127.0.0.1:$P
timeout 300 $S --https "127.0.0.1:$P" --cert "$C/srv.pem" --key "$C/srv.key" --tokens "$C/tokens" 2>"$T/tok.log" &
TS=$!
SRV="$SRV $TS"
if up "$B/login" --cacert "$C/ca.pem"; then ok "serve --https --tokens answers on $B"; else
	not_ok "serve --https --tokens does not answer: $(cat "$T/tok.log")"; fi
check "it says the https:// address" grep -q "at $B/ (read-only" "$T/tok.log"
# raw.py PORT MODE [TOKEN]: one request over TLS written by hand (the
# server's certificate is not checked: this is about the server's bounds)
cat >"$T/raw.py" <<'EOF'
import socket, ssl, sys, time, urllib.parse
port, mode = int(sys.argv[1]), sys.argv[2]
tok = sys.argv[3] if len(sys.argv) > 3 else ""
if mode == "silent":  # TCP only: the TLS handshake never starts
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(30)
    try:
        got = s.recv(100)
    except OSError:
        got = b""
    print("%d %.1f" % (len(got), time.time() - t0))
    sys.exit(0)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=15))
try:
    if mode == "late-body":
        body = urllib.parse.urlencode({"token": tok}).encode()
        t.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), 7):
            time.sleep(0.1)
            t.sendall(body[i:i + 7])
    elif mode == "big-body":
        t.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 70000\r\n\r\n")
    elif mode == "big-head":
        t.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
except OSError:
    pass
got = b""
try:
    while True:
        b = t.recv(65536)
        if not b:
            break
        got += b
except OSError:
    pass
sys.stdout.write(got.decode("latin-1").replace("\r", ""))
EOF
python3 "$T/raw.py" "$P" silent >"$T/silent" 2>&1 &
SIL=$!
check "... with no warning" sh -c '! grep -q WARNING "$1"' _ "$T/tok.log"
check "plain HTTP on that port gets no dashboard" sh -c '! curl -s --max-time 5 "http://127.0.0.1:$1/api/whoami" | grep -q Hoorn' _ "$P"
$CURL -i "$B/api/whoami" | tr -d "\r" >"$T/r"
check "/api/whoami without a token: 401, JSON, WWW-Authenticate: Bearer" sh -c \
	'[ "$(sed -n "1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p" "$1")" = 401 ] && grep -qi "^WWW-Authenticate: Bearer" "$1" &&
	 grep -q "\"error\"" "$1" && ! grep -q Hoorn "$1"' _ "$T/r"
$CURL -i -H "Authorization: Bearer $TOK" "$B/api/whoami" | tr -d "\r" >"$T/r"
check "with Authorization: Bearer TOKEN: 200 and the home" sh -c \
	'[ "$(sed -n "1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p" "$1")" = 200 ] && grep -q "\"name\":\"Gemeente Hoorn\"" "$1"' _ "$T/r"
$CURL -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK2" "$B/api/balance" >"$T/r"
check "the second token of the file (after a comment, a blank line, spaces) works too" test "$(cat "$T/r")" = 200
$CURL -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOK}x" "$B/api/whoami" >"$T/r"
check "a token with a character more: 401" test "$(cat "$T/r")" = 401
$CURL -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(printf %s "$TOK" | cut -c2-)" "$B/api/whoami" >"$T/r"
check "a token with a character less: 401" test "$(cat "$T/r")" = 401
$CURL -i "$B/" | tr -d "\r" >"$T/r"
check "the page without a token: 401 with the login form, whose policy allows the form" sh -c \
	'[ "$(sed -n "1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p" "$1")" = 401 ] && grep -q "id=\"login\"" "$1" &&
	 grep -qi "^Content-Security-Policy:.*form-action .self." "$1" && ! grep -q "app.js" "$1"' _ "$T/r"
for f in /login /login.js /style.css; do
	$CURL -o /dev/null -w '%{http_code}' "$B$f" >"$T/r"
	check "$f opens without a token (the login needs it)" test "$(cat "$T/r")" = 200
done
$CURL -o /dev/null -w '%{http_code}' "$B/app.js" >"$T/r"
check "/app.js does not" test "$(cat "$T/r")" = 401
$CURL -i --data-urlencode "token=$TOK" "$B/login" | tr -d "\r" >"$T/r"
check "POST /login with the token: 303 to / with the cookie (HttpOnly, Secure, SameSite=Strict)" sh -c \
	'[ "$(sed -n "1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p" "$1")" = 303 ] && grep -qix "Location: /" "$1" &&
	 grep -i "^Set-Cookie: keten_token=" "$1" | grep -i HttpOnly | grep -i Secure | grep -qi "SameSite=Strict"' _ "$T/r"
COOKIE=$(sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\);.*/\1/p' "$T/r")
$CURL -o /dev/null -w '%{http_code}' -H "Cookie: other=1; $COOKIE" "$B/api/whoami" >"$T/r"
check "the cookie opens the API" test "$(cat "$T/r")" = 200
$CURL -i --data-urlencode "token=not-the-token-at-all" "$B/login" | tr -d "\r" >"$T/r"
check "POST /login with a wrong token: back to /login?failed, no cookie" sh -c \
	'grep -qi "^Location: /login?failed" "$1" && ! grep -qi "^Set-Cookie" "$1"' _ "$T/r"
$CURL -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOK" "$B/api/whoami" >"$T/r"
check "with a token the dashboard is still read-only (POST: 405)" test "$(cat "$T/r")" = 405
check "the server's log never holds a token" sh -c '! grep -qF "$2" "$1" && ! grep -qF "$3" "$1" && grep -q "POST /login 303" "$1"' \
	_ "$T/tok.log" "$TOK" "$TOK2"
timeout 30 python3 "$T/raw.py" "$P" late-body "$TOK" >"$T/r" 2>&1
check "POST /login whose body comes after its head, in pieces: 303 with the cookie" sh -c \
	'head -1 "$1" | grep -q "^HTTP/1.1 303 " && grep -qx "Location: /" "$1" && grep -q "^Set-Cookie: keten_token=" "$1"' _ "$T/r"
timeout 30 python3 "$T/raw.py" "$P" big-body >"$T/r" 2>&1
check "over https a body over 64 KiB is 413" sh -c 'head -1 "$1" | grep -q "^HTTP/1.1 413 "' _ "$T/r"
timeout 30 python3 "$T/raw.py" "$P" big-head >"$T/r" 2>&1
check "over https a head over 16 KiB is 431" sh -c 'head -1 "$1" | grep -q "^HTTP/1.1 431 "' _ "$T/r"

# --- Chromium over https ------------------------------------------------------------------
CHROME=
for c in chromium chromium-browser; do command -v "$c" >/dev/null 2>&1 && CHROME=$(command -v "$c") && break; done
[ -n "$CHROME" ] || { timeout 900 sh "$ROOT/scripts/deps.sh" >"$T/deps.log" 2>&1;
	for c in chromium chromium-browser; do command -v "$c" >/dev/null 2>&1 && CHROME=$(command -v "$c") && break; done; }
# The browser trusts this one server key (its SPKI hash), as a pinned certificate.
SPKI=$(openssl x509 -in "$C/srv.pem" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
browse() { # OUT ARGS...: headless Chromium with a fresh profile and an empty HOME
	out=$1; shift
	prof=$(mktemp -d "$T/profile.XXXXXX")
	HOME=$prof timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
		--user-data-dir="$prof" --ignore-certificate-errors-spki-list="$SPKI" --virtual-time-budget=5000 \
		"$@" >"$out" 2>"$T/chrome.err"
}
if [ -z "$CHROME" ]; then
	not_ok "chromium: not installed and scripts/deps.sh could not install it"
else
	browse "$T/d1.html" --dump-dom "$B/"
	check "Chromium: the dashboard without a token shows the login page, not the ledger" sh -c \
		'grep -q "id=\"login\"" "$1" && ! grep -q "data-ready" "$1" && ! grep -q "Gemeente Hoorn" "$1"' _ "$T/d1.html"
	browse "$T/d2.html" --dump-dom "$B/login#token=$TOK"
	check "Chromium: a link /login#token=TOKEN signs in and app.js renders the dashboard over https" sh -c \
		'grep -q "data-ready=\"yes\"" "$1" && grep -q "Gemeente Hoorn" "$1" && ! grep -q "class=\"status error\"" "$1"' _ "$T/d2.html"
	browse "$T/d3.html" --dump-dom "$B/login#token=not-the-token-at-all"
	check "Chromium: a wrong token is told so, and the ledger stays shut" sh -c \
		'grep -q "<p class=\"status error\" id=\"failed\">" "$1" && ! grep -q "Gemeente Hoorn" "$1"' _ "$T/d3.html"
	rm -f "$ROOT/build/serve-login.png" "$ROOT/build/serve-https.png"
	browse "$T/s1.log" --hide-scrollbars --window-size=900,500 --screenshot="$ROOT/build/serve-login.png" "$B/"
	check "a screenshot of the login page: build/serve-login.png" test -s "$ROOT/build/serve-login.png"
	browse "$T/s2.log" --hide-scrollbars --window-size=1280,800 --screenshot="$ROOT/build/serve-https.png" \
		"$B/login#token=$TOK"
	check "a screenshot of the dashboard after signing in: build/serve-https.png" test -s "$ROOT/build/serve-https.png"
	check "the server logged Chromium's sign-in and the API calls after it" sh -c \
		'grep -q "POST /login 303" "$1" && grep -q "GET /api/balance 200" "$1"' _ "$T/tok.log"
fi
wait "$SIL"
check "a connection that never starts its TLS handshake is closed, unanswered, at the deadline (10 s): $(cat "$T/silent")" \
	sh -c 'read -r n s <"$1" && [ "$n" = 0 ] && awk -v s="$s" "BEGIN { exit !(s >= 9 && s < 14) }"' _ "$T/silent"
kill "$TS"; wait "$TS"
check "SIGTERM stops it (exit 0)" test $? -eq 0

# --- client certificates ---------------------------------------------------------------
P=$(port)
B=https://127.0.0.1:$P
VIEWER="--cert $C/viewer.pem --key $C/viewer.key"
timeout 300 $S --https "0.0.0.0:$P" --cert "$C/srv.pem" --key "$C/srv.key" --client-ca "$C/ca.pem" 2>"$T/ca.log" &
CS=$!
SRV="$SRV $CS"
if up "$B/api/whoami" --cacert "$C/ca.pem" $VIEWER; then
	ok "serve --https on a non-loopback address with --client-ca answers a viewer"; else
	not_ok "serve --client-ca does not answer: $(cat "$T/ca.log")"; fi
check "... with no warning" sh -c '! grep -q WARNING "$1"' _ "$T/ca.log"
$CURL $VIEWER "$B/api/whoami" >"$T/r"
check "a viewer certificate signed by the CA gets the home" grep -q '"name":"Gemeente Hoorn"' "$T/r"
$CURL -o /dev/null -w '%{http_code}' $VIEWER "$B/" >"$T/r"
check "... and the page" test "$(cat "$T/r")" = 200
$CURL "$B/api/whoami" >"$T/r" 2>&1
rc=$?
check "without a client certificate the TLS handshake refuses (curl exit $rc)" sh -c '[ "$1" -ne 0 ] && ! grep -q Hoorn "$2"' _ "$rc" "$T/r"
$CURL --cert "$C/other.pem" --key "$C/other.key" "$B/api/whoami" >"$T/r" 2>&1
rc=$?
check "a certificate of another CA is refused too (curl exit $rc)" sh -c '[ "$1" -ne 0 ] && ! grep -q Hoorn "$2"' _ "$rc" "$T/r"
if [ -n "$CHROME" ]; then
	browse "$T/d4.html" --dump-dom "$B/"
	check "Chromium without a client certificate cannot open it" sh -c \
		'! grep -q "Gemeente Hoorn" "$1" && ! grep -q "data-ready" "$1"' _ "$T/d4.html"
fi
check "the server logged only the viewer's requests" sh -c \
	'[ "$(grep -c "GET /api/whoami" "$1")" -ge 1 ] && [ "$(grep -c " 200$" "$1")" -eq "$(grep -c "^keten serve: GET" "$1")" ]' _ "$T/ca.log"
kill "$CS"; wait "$CS"
check "SIGTERM stops it (exit 0)" test $? -eq 0

echo "# $n checks, $failed failed"
[ "$failed" -eq 0 ]
