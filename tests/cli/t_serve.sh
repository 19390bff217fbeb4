#!/bin/sh
# t_serve.sh — keten serve: the read-only audit dashboard.
#
# Three homes (a municipality that is its own trust anchor, a lead
# provider, a subcontractor) exchange entries by export/import: a framework
# contract, an allocation, a subcontract, two monthly claims, one payment
# (not confirmed), a dispute over the unpaid month with a response and a
# ruling.  Then the lead provider's home is served on a free loopback port
# and checked:
#   - every JSON endpoint against the matching command's --json output
#     (whoami, balance, reconcile with and without ?with=&as_of=, report
#     by month and provider, dispute list and show, log);
#   - errors as JSON {error} with 400/404; POST, PUT, DELETE and HEAD 405;
#     no path outside the embedded files; security and content-type
#     headers; a Host that is not loopback is refused (DNS rebinding);
#   - no transaction is held between requests: an entry appended while
#     the server runs shows on the next request, and nothing served
#     changes the ledger (verify passes, the entry count is unchanged);
#   - a non-loopback --http is refused without --public and warned with it;
#   - serve --bank FILE: /api/reconcile has the statement matched in, as
#     reconcile --bank --json, its bank findings with their meaning;
#   - real headless Chromium renders the page (--dump-dom): the DOM holds
#     what only app.js could have put there (the party name from
#     /api/whoami, a balance formatted "€ …", a finding kind, the dispute
#     reason and its ruling); screenshots go to build/serve.png (as it
#     opens), build/serve-findings.png, build/serve-dispute.png and
#     build/serve-monitor.png.  Chromium is installed by scripts/deps.sh
#     when missing; when it cannot be had, that is a "not ok".
#
# One line per check: "ok N - ..." or "not ok N - ...".  Exit 1 on failure.
set -u
K=${KETEN:-build/keten}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TARIFFS=$ROOT/examples/tarieven-voorbeeld-2026.csv
[ -f "$TARIFFS" ] || TARIFFS=$ROOT/tests/data/tarieven-voorbeeld-2026.csv
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
check()  { d=$1; shift; if "$@" >"$T/check.out" 2>&1; then ok "$d"; else
	not_ok "$d"; sed 's/^/# /' "$T/check.out" | head -20; fi; }
is_id() { printf '%s\n' "$1" | grep -Eq '^[0-9a-f]{64}$'; }
sync() {
	src=$1; shift
	timeout 60 "$K" --home "$T/$src" export -o "$T/x-$src.ndjson" || return 1
	for dst in "$@"; do
		timeout 60 "$K" --home "$T/$dst" import "$T/x-$src.ndjson" >/dev/null || return 1
	done
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

M="timeout 60 $K --home $T/m"
A="timeout 60 $K --home $T/a"
B="timeout 60 $K --home $T/b"

# --- three homes and a little history ----------------------------------------------
KM=$($M init --name "Gemeente Hoorn" --role municipality --municipality 0405 --no-passphrase) &&
KA=$($A init --name "Zorg Hoofd" --role lead-provider --no-passphrase) &&
KB=$($B init --name "Zorg Onder" --role subcontractor --no-passphrase) &&
$M trust add "$KM" --name "Gemeente Hoorn" &&
$M party certify "$KM" --name "Gemeente Hoorn" --role municipality --municipality 0405 >/dev/null &&
$M party certify "$KA" --name "Zorg Hoofd" --role lead-provider --municipality 0405 >/dev/null &&
$M party certify "$KB" --name "Zorg Onder" --role subcontractor --municipality 0405 >/dev/null &&
$A trust add "$KM" --name "Gemeente Hoorn" && $B trust add "$KM" --name "Gemeente Hoorn" &&
sync m a b &&
$M contract add --ref RC-2026-01 --domain wmo --municipality 0405 --from 2026-01-01 \
	--until 2026-12-31 --tariffs "$TARIFFS" >/dev/null 2>"$T/err" &&
sync m a b &&
AL=$($M allocate --contract RC-2026-01 --client HRN-0001 --provider "Zorg Hoofd" --profile W02 \
	--intensity B --kind duurzaam --from 2026-01-01 --until 2026-12-31 --volume 200 --unit hour --frequency total 2>"$T/err") &&
sync m a b &&
SC=$($A subcontract "$AL" --to "Zorg Onder" --monthly 400 --from 2026-01-01 --until 2026-12-31 2>"$T/err") &&
sync a b m &&
$B accept "$SC" >/dev/null 2>"$T/err" &&
C1=$($B claim "$SC" --installment 2026-01 2>"$T/err") &&
C2=$($B claim "$SC" --installment 2026-02 2>"$T/err") &&
sync b a m &&
P1=$($A pay "$C1" --amount 400 --date 2026-03-02 --reference E2E-2026-01 2>"$T/err") &&
sync a b m &&
D=$($B dispute open "$C2" --reason "February not paid, two reminders sent" --amount 400,00 2>"$T/err") &&
sync b a m &&
R=$($A dispute respond "$D" --text "The February report was missing; it has arrived now" 2>"$T/err") &&
sync a b m &&
RU=$($M dispute rule "$D" --decision "The lead provider pays February within 14 days" \
	--owes "Zorg Hoofd:Zorg Onder:400,00" 2>"$T/err") &&
sync m a b &&
CJ=$($A --json claim "$AL" --installment 2026-01 2>"$T/err") &&
CL=$(printf '%s' "$CJ" | jq -r .id) && CA=$(printf '%s' "$CJ" | jq -r .amount_cents) &&
sync a m &&
PM=$($M pay "$CL" --amount "$((CA / 100)),$(printf '%02d' $((CA % 100)))" --date 2026-02-10 \
	--reference HRN-2026-01 2>"$T/err") &&
sync m a b
if [ $? -eq 0 ] && is_id "$C2" && is_id "$P1" && is_id "$D" && is_id "$R" && is_id "$RU" && is_id "$PM"; then
	ok "three homes: contract, allocation, subcontract, claims, payments, a ruled dispute"
else
	not_ok "building the ledger: $(head -c 300 "$T/err")"; echo "Bail out!"; exit 1
fi

# What the commands say, to compare the API with.
$A --json whoami >"$T/whoami.json" &&
$A --json balance >"$T/balance.json" &&
$A --json reconcile >"$T/reconcile.json" &&
$A --json reconcile --with "Zorg Onder" --as-of 2026-06-30 >"$T/reconcile-with.json" &&
$A --json report --by month >"$T/report-month.json" &&
$A --json report --by provider >"$T/report-provider.json" &&
$A --json dispute list >"$T/disputes.json" &&
$A --json dispute show "$D" >"$T/dispute.json" &&
$A --json log --limit 5 >"$T/log5.json" &&
$A --json log >"$T/log-all.json"
check "the commands' --json output, to compare with" test $? -eq 0
check "the lead provider has a balance, a finding and the dispute" python3 -c '
import json, sys
b = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2])); d = json.load(open(sys.argv[3]))
assert any(x["paid_cents"] == 40000 for x in b), b
assert r["findings"], r
assert d and d[0]["text"].startswith("February not paid"), d
' "$T/balance.json" "$T/reconcile.json" "$T/disputes.json"

# --- start the server ----------------------------------------------------------------
PORT=$(port)
BASE=http://127.0.0.1:$PORT
timeout 600 "$K" --home "$T/a" serve --http "127.0.0.1:$PORT" 2>"$T/serve.log" &
MAIN=$!
SRV="$SRV $MAIN"
up=no
for i in $(seq 1 100); do
	if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$BASE/api/whoami" 2>/dev/null; then
		up=yes; break
	fi
	sleep 0.1
done
if [ "$up" = yes ]; then ok "keten serve answers on $BASE"; else
	not_ok "keten serve does not answer on $BASE"; sed 's/^/# /' "$T/serve.log"; echo "Bail out!"; exit 1; fi
check "serve says where, on stderr" grep -q "at $BASE/ (read-only" "$T/serve.log"

# A small HTTP client: hclient.py METHOD PATH [HOST] prints "STATUS\n<headers as JSON>\n<body>".
cat >"$T/hclient.py" <<'EOF'
import http.client, json, sys
base, method, path = sys.argv[1], sys.argv[2], sys.argv[3]
host, port = base.split("//")[1].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), timeout=10)
c.putrequest(method, path, skip_host=len(sys.argv) > 4)
if len(sys.argv) > 4:
    c.putheader("Host", sys.argv[4])
body = b"x=1" if method in ("POST", "PUT") else None
if body:
    c.putheader("Content-Length", str(len(body)))
c.endheaders(body)
r = c.getresponse()
print(r.status)
print(json.dumps({k.lower(): v for k, v in r.getheaders()}))
sys.stdout.write(r.read().decode("utf-8", "replace"))
EOF
# get PATH [METHOD] [HOST]: response in $T/r (status line 1, headers line 2, body after)
get() { timeout 20 python3 "$T/hclient.py" "$BASE" "${2:-GET}" "$1" ${3:+"$3"} >"$T/r" 2>"$T/r.err"; }
status() { head -1 "$T/r"; }
header() { sed -n 2p "$T/r" | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }
body() { sed -n '3,$p' "$T/r"; }
# same PATH FILE [PY-FILTER]: the API's JSON equals the command's (both through the filter over j)
same() {
	get "$1"
	body >"$T/api.json"
	python3 - "$T/api.json" "$2" "${3:-j}" <<'EOF'
import json, sys
def load(p, f):
    j = json.load(open(p))
    return eval(f, {"j": j, "strip": strip})
def strip(j, key):
    if isinstance(j, dict):
        return {k: strip(v, key) for k, v in j.items() if k != key}
    if isinstance(j, list):
        return [strip(v, key) for v in j]
    return j
a, b = load(sys.argv[1], sys.argv[3]), load(sys.argv[2], sys.argv[3])
if a != b:
    print("api:", json.dumps(a)[:600]); print("cli:", json.dumps(b)[:600]); sys.exit(1)
EOF
}

# --- the JSON API ------------------------------------------------------------------
check "/api/whoami: name, role and key as keten whoami" same /api/whoami "$T/whoami.json" \
	'{k: v for k, v in j.items() if k not in ("today", "entries")}'
get /api/whoami
check "/api/whoami: JSON content type" test "$(header content-type)" = "application/json; charset=utf-8"
check "/api/balance equals keten balance --json" same /api/balance "$T/balance.json"
check "/api/reconcile equals keten reconcile --json (plus each kind's meaning)" \
	same /api/reconcile "$T/reconcile.json" 'strip(j, "meaning")'
check "/api/reconcile?with=Zorg+Onder&as_of=2026-06-30 equals reconcile --with --as-of" \
	same "/api/reconcile?with=Zorg+Onder&as_of=2026-06-30" "$T/reconcile-with.json" 'strip(j, "meaning")'
check "/api/reconcile findings carry their meaning" python3 -c '
import json, sys; j = json.load(open(sys.argv[1])); assert all(f["meaning"] for f in j["findings"]), j' "$T/api.json"
check "/api/report?by=month equals keten report --by month" same "/api/report?by=month" "$T/report-month.json"
check "/api/report?by=provider equals keten report --by provider" same "/api/report?by=provider" "$T/report-provider.json"
check "/api/disputes equals keten dispute list --json" same /api/disputes "$T/disputes.json"
check "/api/disputes/ID equals keten dispute show --json (evidence, responses, ruling)" \
	same "/api/disputes/$D" "$T/dispute.json"
check "/api/disputes/ID: every signature checked and ok" python3 -c '
import json, sys; j = json.load(open(sys.argv[1]))
assert j["signature_ok"] and all(e["signature_ok"] for e in j["evidence"]) and j["ruling"]["signature_ok"], j
assert j["evidence"][0]["fields"]["installment"] == "2026-02", j["evidence"][0]
assert j["ruling"]["adjustments"][0]["amount_cents"] == 40000' "$T/api.json"
check "/api/disputes/PREFIX (16 hex digits) finds it too" same "/api/disputes/$(printf %.16s "$D")" "$T/dispute.json"
check "/api/log?limit=5: the same entries, newest first, as keten log --limit 5" \
	same "/api/log?limit=5" "$T/log5.json" '[(e["id"], e["type"], e["status"], e["seq"]) for e in j]'
check "/api/log entries name their author" python3 -c '
import json, sys; j = json.load(open(sys.argv[1])); assert all(e["author_name"] for e in j) and len(j) == 5, j' "$T/api.json"
get "/api/log?type=dispute"
check "/api/log?type=dispute lists the dispute" sh -c "sed -n '3,\$p' '$T/r' | grep -q '$D'"

# --- errors ----------------------------------------------------------------------------
# err PATH STATUS [METHOD] [HOST]: that status, a JSON {error} body
err() {
	get "$1" "${3:-GET}" "${4:-}"
	s=$(status)
	e=$(body | python3 -c 'import json,sys; print(json.load(sys.stdin)["error"])' 2>/dev/null)
	[ "${3:-}" = HEAD ] && e="(no body in a HEAD answer)"
	if [ "$s" = "$2" ] && [ -n "$e" ]; then ok "${3:-GET} $1${4:+ (Host: $4)}: $2 {error: $e}"; else
		not_ok "${3:-GET} $1: want $2 with a JSON error, got $s: $(body | head -c 200)"; fi
}
err "/api/disputes/deadbeefdeadbeef" 404
err "/api/disputes/$C1" 404
err "/api/disputes/xyz" 400
err "/api/balance?as_of=yesterday" 400
err "/api/reconcile?with=Nobody" 404
err "/api/reconcile?period=2026-13" 400
err "/api/report?by=colour" 400
err "/api/log?limit=0" 400
err "/api/log?limit=abc" 400
err "/api/log?type=novel" 400
err "/api/balance?wiht=Zorg" 400
err "/api/balance?as_of=%zz" 400
err "/api/nothing" 404
err "/api/balance" 405 POST
err "/api/disputes/$D" 405 PUT
err "/" 405 DELETE
err "/api/whoami" 405 HEAD
get /api/balance POST
check "405 says Allow: GET" test "$(header allow)" = GET
err "/web/" 404
err "/../Makefile" 404
err "/etc/passwd" 404
err "/index.html/" 404
err "/api/whoami" 403 GET "evil.example:$PORT"
get /api/whoami GET "localhost:$PORT"
check "Host: localhost is served" test "$(status)" = 200

# --- headers and the page ---------------------------------------------------------------
get /
check "/ is the page, text/html" sh -c "[ \"$(status)\" = 200 ] && [ \"$(header content-type)\" = 'text/html; charset=utf-8' ]"
check "Content-Security-Policy: default-src 'self'" sh -c "printf '%s' \"\$1\" | grep -q \"^default-src 'self'\"" _ "$(header content-security-policy)"
check "X-Content-Type-Options: nosniff" test "$(header x-content-type-options)" = nosniff
get /app.js
check "/app.js is JavaScript, nosniff, with the CSP" sh -c "[ \"$(status)\" = 200 ] && [ \"$(header content-type)\" = 'text/javascript; charset=utf-8' ] && [ \"$(header x-content-type-options)\" = nosniff ] && [ -n \"$(header content-security-policy)\" ]"
get /style.css
check "/style.css is CSS" test "$(header content-type)" = "text/css; charset=utf-8"
get /api/nothing
check "an API error carries the same headers" sh -c "[ \"$(header x-content-type-options)\" = nosniff ] && [ \"$(header content-type)\" = 'application/json; charset=utf-8' ]"
get /
body >"$T/served.html"
check "the page loads nothing from elsewhere" sh -c "! grep -Eiq '(src|href|action)=\"(https?:)?//' '$T/served.html'"
check "the page has labelled tabs and table headers" sh -c "sed -n '3,\$p' '$T/r' | grep -q 'role=\"tablist\"' && sed -n '3,\$p' '$T/r' | grep -q '<th scope=\"col\"' && sed -n '3,\$p' '$T/r' | grep -q '<label for=\"report-by\"'"

# --- one short read transaction per request ---------------------------------------------
N0=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/log-all.json")
C3=$($B claim "$SC" --installment 2026-03 2>"$T/err") && sync b a
get "/api/log?limit=1"
check "an entry imported while serving shows on the next request" sh -c "sed -n '3,\$p' '$T/r' | grep -q '$C3'"
N1=$(timeout 60 "$K" --home "$T/a" --json log | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "nothing served added an entry (only the one imported: $N0 + 1 = $N1)" test "$N1" -eq $((N0 + 1))
check "keten verify passes while the server runs" $A verify

# --- addresses ------------------------------------------------------------------------------
P2=$(port)
timeout 20 "$K" --home "$T/a" serve --http "0.0.0.0:$P2" >/dev/null 2>"$T/pub.err"
rc=$?
if [ "$rc" -eq 77 ] && grep -q -- "--public" "$T/pub.err"; then ok "a non-loopback --http is refused without --public (exit 77)"; else
	not_ok "non-loopback without --public: exit $rc, $(head -c 200 "$T/pub.err")"; fi
timeout 20 "$K" --home "$T/a" serve --http "example:$P2" >/dev/null 2>"$T/pub.err"
check "a host name other than localhost counts as not loopback" test $? -eq 77
timeout 20 "$K" --home "$T/a" serve --http "127.0.0.1:99999" >/dev/null 2>"$T/pub.err"
check "a bad port is a usage error (64)" test $? -eq 64
timeout 20 "$K" --home "$T/a" serve --http "127.0.0.1:$PORT" >/dev/null 2>"$T/pub.err"
rc=$?
check "a port in use is an I/O error (74), said clearly" sh -c "[ $rc -eq 74 ] && grep -q 'cannot serve on' '$T/pub.err'"
timeout 60 "$K" --home "$T/a" --quiet serve --http "0.0.0.0:$P2" --public 2>"$T/pub.err" &
PUB=$!
SRV="$SRV $PUB"
for i in $(seq 1 50); do grep -q 'dashboard of' "$T/pub.err" && break; sleep 0.1; done
check "--public serves a non-loopback address with a WARNING" sh -c "grep -q 'WARNING' '$T/pub.err' && grep -q 'no' '$T/pub.err' && grep -q 'dashboard of' '$T/pub.err'"
kill "$PUB" 2>/dev/null; wait "$PUB" 2>/dev/null
check "SIGTERM stops keten serve with exit 0" test $? -eq 0

# --- a bank statement (serve --bank) -----------------------------------------------------------
# The lead provider's payment of January (400.00, E2E-2026-01, 2026-03-02)
# and a bank cost that no payment explains; the balances add up.
cat >"$T/stmt.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>T-SERVE-1</MsgId><CreDtTm>2026-03-31T06:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>T-SERVE-2026-03</Id>
      <Acct><Id><IBAN>NL91ABNA0417164300</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-01</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">587.50</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-31</Dt></Dt></Bal>
      <Ntry><Amt Ccy="EUR">400.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-03-02</Dt></BookgDt>
        <NtryDtls><TxDtls><Refs><EndToEndId>E2E-2026-01</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>
      <Ntry><Amt Ccy="EUR">12.50</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-03-31</Dt></BookgDt><AddtlNtryInf>Kosten betalingsverkeer</AddtlNtryInf></Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
EOF
$A --json reconcile --bank "$T/stmt.xml" >"$T/reconcile-bank.json"
check "reconcile --bank: the payment matched, the bank cost a bank-only finding" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["bank"]["matched"] == 1 and j["bank"]["bank_only"] == 1 and j["bank"]["balances"] == "agree", j["bank"]
assert [f["kind"] for f in j["findings"]][-1] == "bank-only", j["findings"]
assert j["findings"][-1]["amount_cents"] == -1250, j["findings"][-1]' "$T/reconcile-bank.json"
P3=$(port)
timeout 60 "$K" --home "$T/a" serve --http "127.0.0.1:$P3" --bank "$T/stmt.xml" 2>"$T/bank.err" &
BANKSRV=$!
SRV="$SRV $BANKSRV"
for i in $(seq 1 50); do grep -q 'dashboard of' "$T/bank.err" && break; sleep 0.1; done
SAVED=$BASE
BASE=http://127.0.0.1:$P3
check "serve --bank: /api/reconcile equals reconcile --bank --json (plus meanings)" \
	same /api/reconcile "$T/reconcile-bank.json" 'strip(j, "meaning")'
check "serve --bank: the bank finding carries its meaning" python3 -c '
import json, sys
j = json.load(open(sys.argv[1])); f = j["findings"][-1]
assert f["kind"] == "bank-only" and f["meaning"] == "a bank statement line has no payment entry", f' "$T/api.json"
BASE=$SAVED
kill "$BANKSRV" 2>/dev/null; wait "$BANKSRV" 2>/dev/null
check "serve --bank: SIGTERM stops it with exit 0" test $? -eq 0
printf 'not a statement\n' >"$T/bad.xml"
timeout 20 "$K" --home "$T/a" serve --http "127.0.0.1:$P3" --bank "$T/bad.xml" >/dev/null 2>"$T/bank.err"
rc=$?
check "serve --bank with a malformed statement does not serve (65, said clearly)" \
	sh -c "[ $rc -eq 65 ] && grep -q 'bank statement' '$T/bank.err'"
timeout 20 "$K" --home "$T/a" serve --http "127.0.0.1:$P3" --bank "$T/no-such.xml" >/dev/null 2>"$T/bank.err"
check "serve --bank with a missing file is exit 66" test $? -eq 66

# --- a real browser ---------------------------------------------------------------------------
CHROME=
for c in chromium chromium-browser; do command -v "$c" >/dev/null 2>&1 && CHROME=$(command -v "$c") && break; done
if [ -z "$CHROME" ]; then
	echo "# chromium is missing: installing it with scripts/deps.sh"
	timeout 900 sh "$ROOT/scripts/deps.sh" >"$T/deps.log" 2>&1
	for c in chromium chromium-browser; do command -v "$c" >/dev/null 2>&1 && CHROME=$(command -v "$c") && break; done
fi
# browse OUT ARGS...: headless Chromium with a fresh profile, nothing from outside
browse() {
	out=$1; shift
	prof=$(mktemp -d "$T/profile.XXXXXX")
	timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-dev-shm-usage --user-data-dir="$prof" --virtual-time-budget=5000 "$@" >"$out" 2>"$T/chrome.err"
}
if [ -z "$CHROME" ]; then
	not_ok "chromium: not installed and scripts/deps.sh could not install it: $(tail -3 "$T/deps.log" | tr '\n' ' ')"
else
	browse "$T/dom.html" --dump-dom "$BASE/"
	if [ -s "$T/dom.html" ]; then ok "Chromium renders the page ($("$CHROME" --version 2>/dev/null | head -1))"; else
		not_ok "Chromium rendered nothing: $(tail -5 "$T/chrome.err" | tr '\n' ' ')"; fi
	# dom TEXT DESC: the rendered DOM holds TEXT (which the HTML as served does not)
	get /
	body >"$T/served.html"
	dom() {
		if grep -qF -- "$1" "$T/dom.html" && ! grep -qF -- "$1" "$T/served.html"; then ok "DOM: $2"; else
			not_ok "DOM: $2 ('$1' missing)"; fi
	}
	dom "Zorg Hoofd" "the party's name, from /api/whoami"
	dom "lead-provider" "its role"
	dom "€ 400,00" "a balance amount as € 400,00"
	KIND=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["findings"][0]["kind"])' "$T/reconcile.json")
	dom ">$KIND<" "the finding kind '$KIND'"
	dom "February not paid, two reminders sent" "the dispute's reason"
	dom "Gemeente Hoorn" "a counterparty's name in the tables"
	dom 'aria-labelledby="chart-title"' "the monitor's SVG chart"
	# the monitor's totals row as keten report --by month has it: cost per client, goals
	COST=$(python3 -c 'import json,sys
t = json.load(open(sys.argv[1]))["total"]
c = t["cost_per_client_cents"]
e = "{:,}".format(c // 100).replace(",", ".")
o = t["outcomes"]
print("€ %s,%02d|%d / %d / %d|%d" % (e, c % 100, o["achieved"], o["partial"], o["not_achieved"], t["dropouts"]))' "$T/report-month.json")
	jq -c '.total | {allocations, clients, paid_cents, cost_per_client_cents, maatwerk, outcomes, dropouts}' \
		"$T/report-month.json" | sed 's/^/# keten report --by month, total: /'
	TOT=$(python3 -c 'import re,sys
h = open(sys.argv[1]).read()
m = re.search(r"<tr class=\"total\">(.*?)</tr>", h, re.S)
print("|".join(re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", m.group(1), re.S)) if m else "")' "$T/dom.html")
	check "the monitor's total row shows the cost per client, goals and dropouts of keten report ($COST)" \
		sh -c 'c=${1%%|*}; r=${1#*|}; g=${r%%|*}; d=${r#*|}; printf "%s\n" "$2" | grep -qF "|$c|" &&
			printf "%s\n" "$2" | grep -qF "|$g|" && printf "%s\n" "$2" | grep -qF "|$d|"' _ "$COST" "$TOT"
	dom 'data-ready="yes"' "app.js ran to the end"
	check "the page shows no error" sh -c "! grep -q 'class=\"status error\"' '$T/dom.html'"
	browse "$T/dom2.html" --dump-dom "$BASE/#disputes/$D"
	dom2() { if grep -qF -- "$1" "$T/dom2.html"; then ok "dispute detail: $2"; else not_ok "dispute detail: $2 ('$1' missing)"; fi; }
	dom2 "signature verified" "evidence with its signature checked"
	dom2 "The February report was missing" "the response"
	dom2 "The lead provider pays February within 14 days" "the ruling"
	dom2 "owes" "the ruling's adjustment"
	mkdir -p "$ROOT/build"
	rm -f "$ROOT/build/serve.png" "$ROOT/build/serve-dispute.png"
	browse "$T/shot.log" --hide-scrollbars --window-size=1280,800 --screenshot="$ROOT/build/serve.png" "$BASE/"
	check "a screenshot of the page as it opens (balances): build/serve.png" test -s "$ROOT/build/serve.png"
	rm -f "$ROOT/build/serve-findings.png"
	browse "$T/shot1.log" --hide-scrollbars --window-size=1280,900 --screenshot="$ROOT/build/serve-findings.png" "$BASE/#reconcile"
	check "a screenshot of the findings: build/serve-findings.png" test -s "$ROOT/build/serve-findings.png"
	browse "$T/shot2.log" --hide-scrollbars --window-size=1280,1400 --screenshot="$ROOT/build/serve-dispute.png" "$BASE/#disputes/$D"
	check "a screenshot of the dispute: build/serve-dispute.png" test -s "$ROOT/build/serve-dispute.png"
	rm -f "$ROOT/build/serve-monitor.png"
	browse "$T/shot3.log" --hide-scrollbars --window-size=1280,900 --screenshot="$ROOT/build/serve-monitor.png" "$BASE/#monitor"
	check "a screenshot of the monitor's chart: build/serve-monitor.png" test -s "$ROOT/build/serve-monitor.png"
fi
check "the server logged each request" grep -q "GET /api/balance 200" "$T/serve.log"
kill "$MAIN" 2>/dev/null; wait "$MAIN" 2>/dev/null
rc=$?
if [ "$rc" -eq 0 ] && ! grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' "$T/serve.log"; then
	ok "after all that, SIGTERM stops the server cleanly (exit 0, no sanitizer report)"
else
	not_ok "the server's stop: exit $rc"; grep -E -A5 'Sanitizer|runtime error' "$T/serve.log" | sed 's/^/# /' | head -30
fi

echo "1..$n"
[ "$failed" -eq 0 ]
