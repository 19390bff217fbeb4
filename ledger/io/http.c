/*
 * http.c — the read-only audit dashboard (include/keten/http.h): one
 * answer for every path, served by the bounded HTTP/1.1 server of
 * httpd.c (a connection cap, a deadline for each request) over HTTP or
 * HTTPS, which answers GET only (405 otherwise; with tokens, POST /login
 * too), serves the embedded files of web/ (and
 * nothing else: no directory listing, no file system), and answers the
 * JSON API:
 *
 *   /api/whoami                       this home: name, role, key
 *   /api/balance?with=&as_of=         as `keten balance --json`
 *   /api/reconcile?with=&as_of=&period=  as `keten reconcile --json`, each
 *                                     finding with its kind's meaning;
 *                                     with the statement opts->bank, as
 *                                     `keten reconcile --bank FILE --json`
 *   /api/report?by=&period=&as_of=    as `keten report --json`
 *   /api/disputes?open=1              as `keten dispute list --json`
 *   /api/disputes/ID                  as `keten dispute show --json`
 *   /api/log?limit=N&type=            the newest entries, summarised
 *
 * The JSON is built by the same functions as the commands' --json output
 * (ledger/query/json.c), so scripts and the page read one format.  Each
 * request opens one read transaction, builds its answer, and ends the
 * transaction before the answer leaves; a bad parameter is 400 and an
 * unknown party, dispute or path 404, both as {"error": "..."}.  Who may
 * ask at all (HTTPS, client certificates, tokens and the login page) is
 * io/http_auth.c's: its check comes before everything else.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "keten/keten.h"
#include "keten/entries.h"
#include "keten/http.h"
#include "keten/json.h"
#include "keten/net.h"
#include "keten/reconcile.h"
#include "keten/report.h"
#include "io/io.h"
#include "rules/rules.h"
#include "io/http_auth.h"
#include "base/base.h"

#define LOG_LIMIT_DEFAULT 50
#define LOG_LIMIT_MAX     500
#define MAX_QUERY         2048

static const char csp[] = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct keten_http_server {
	keten_ledger *L;
	keten_http_opts o;
	struct kt_httpd *d;
	char addr[300];
	bool loopback;
	kt_http_auth *auth; /* NULL: no tokens asked */
};

/* Addresses --------------------------------------------------------------- */

static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/* Split "HOST:PORT" or "[V6]:PORT" (the port may be absent when !need_port). */
static int split_host(const char *s, char *host, size_t hlen, const char **port, bool need_port)
{
	const char *end;
	size_t n;
	*port = NULL;
	if (*s == '[') {
		if (!(end = strchr(s, ']')))
			return -1;
		n = (size_t)(end - s - 1);
		if (n == 0 || n >= hlen)
			return -1;
		memcpy(host, s + 1, n);
		host[n] = 0;
		end++;
		if (*end == ':')
			*port = end + 1;
		else if (*end)
			return -1;
	} else {
		end = strrchr(s, ':');
		if (end && strchr(s, ':') != end)
			return -1; /* a bare IPv6 address needs brackets */
		n = end ? (size_t)(end - s) : strlen(s);
		if (n >= hlen)
			return -1;
		memcpy(host, s, n);
		host[n] = 0;
		if (end)
			*port = end + 1;
	}
	return need_port && !*port ? -1 : 0;
}

int keten_http_parse_addr(const char *addr, char *url, size_t len, bool *loopback, keten_error *err)
{
	char host[256];
	const char *port, *s = addr ? addr : KETEN_HTTP_DEFAULT_ADDR;
	char *end;
	long p;

	if (strncasecmp(s, "http://", 7) == 0)
		s += 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		s += 8;
	if (split_host(s, host, sizeof host, &port, true) != 0)
		return keten_fail(err, KETEN_EINVAL, "address '%s' is not HOST:PORT (IPv6: [ADDR]:PORT)", addr);
	p = strtol(port, &end, 10);
	if (!*port || *end || p < 1 || p > 65535)
		return keten_fail(err, KETEN_EINVAL, "address '%s': '%s' is not a port (1-65535)", addr, port);
	if (!host[0])
		snprintf(host, sizeof host, "127.0.0.1");
	for (const char *c = host; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr(".-:", *c))
			return keten_fail(err, KETEN_EINVAL, "address '%s': '%s' is not a host", addr, host);
	*loopback = host_is_loopback(host);
	if (len < 300)
		return keten_fail(err, KETEN_EINVAL, "URL buffer too small");
	snprintf(url, len, strchr(host, ':') ? "http://[%s]:%ld" : "http://%s:%ld", host, p);
	return KETEN_OK;
}

/* Query strings ------------------------------------------------------------- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode %XX and '+' in place; false on a bad escape or a NUL byte. */
static bool url_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%') {
			int h = hexval((unsigned char)s[1]), l = h < 0 ? -1 : hexval((unsigned char)s[2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return false;
			*o++ = (char)(h * 16 + l);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
	return true;
}

struct query {
	char buf[MAX_QUERY];
	size_t n;
	const char *key[16], *val[16];
};

static bool query_parse(struct query *q, const char *s)
{
	char *save, *tok;
	q->n = 0;
	if (strlen(s) >= sizeof q->buf)
		return false;
	snprintf(q->buf, sizeof q->buf, "%s", s);
	for (tok = strtok_r(q->buf, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');
		if (q->n == 16)
			return false;
		if (eq)
			*eq++ = 0;
		if (!url_decode(tok) || (eq && !url_decode(eq)))
			return false;
		q->key[q->n] = tok;
		q->val[q->n++] = eq ? eq : "";
	}
	return true;
}

/* The value of a parameter; NULL when absent or empty. */
static const char *qget(const struct query *q, const char *key)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->key[i], key) == 0)
			return q->val[i][0] ? q->val[i] : NULL;
	return NULL;
}

/* One API call -------------------------------------------------------------- */

struct call {
	keten_http_server *s;
	keten_txn *t;
	const struct query *q;
	uint16_t status; /* set with msg on failure */
	char msg[300];
	json_t *log; /* /api/log: the entries so far */
};

static json_t *fail(struct call *c, uint16_t status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *fail(struct call *c, uint16_t status, const char *fmt, ...)
{
	va_list ap;
	c->status = status;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof c->msg, fmt, ap);
	va_end(ap);
	return NULL;
}

static json_t *store_fail(struct call *c, const keten_error *err)
{
	if (err->code == KETEN_ENOTFOUND)
		return fail(c, 404, "%s", err->msg[0] ? err->msg : keten_strerror(err->code));
	if (err->code == KETEN_EINVAL || err->code == KETEN_EAMBIGUOUS)
		return fail(c, 400, "%s", err->msg[0] ? err->msg : keten_strerror(err->code));
	return fail(c, 500, "%s", err->msg[0] ? err->msg : keten_strerror(err->code));
}

/* A party by key, key prefix (>= 8 hex) or certified name, as the CLI resolves one. */
static bool resolve_party(struct call *c, const char *what, uint8_t key[32])
{
	keten_error err = {0};
	int found;
	if (keten_party_find(c->t, what, keten_ledger_info(c->s->L)->key, key, &found, NULL, 0, &err)) {
		store_fail(c, &err);
		return false;
	}
	if (found != 1) {
		fail(c, found ? 400 : 404, found ? "party '%s' is ambiguous" : "no party '%s' is known here", what);
		return false;
	}
	return true;
}

static bool date_param(struct call *c, const char *name, uint32_t *ymd)
{
	const char *v = qget(c->q, name);
	*ymd = 0;
	if (v && keten_parse_date(v, ymd) != 0) {
		fail(c, 400, "%s '%s' is not a date (YYYY-MM-DD)", name, v);
		return false;
	}
	return true;
}

static bool period_param(struct call *c, uint32_t *from, uint32_t *until)
{
	const char *v = qget(c->q, "period");
	*from = *until = 0;
	if (v && keten_recon_period(v, from, until) != 0) {
		fail(c, 400, "period '%s' is not YYYY-MM, YYYY-Qn or YYYY", v);
		return false;
	}
	return true;
}

/* Unknown parameters are refused, so a typo does not silently show everything. */
static bool only_params(struct call *c, const char *const *allowed)
{
	for (size_t i = 0; i < c->q->n; i++) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = strcmp(*a, c->q->key[i]) == 0;
		if (!ok) {
			fail(c, 400, "unknown parameter '%.60s'", c->q->key[i]);
			return false;
		}
	}
	return true;
}

/* /api/whoami ------------------------------------------------------------------- */

static json_t *api_whoami(struct call *c)
{
	static const char *const ok[] = {NULL};
	const keten_home_info *in = keten_ledger_info(c->s->L);
	json_t *j;
	if (!only_params(c, ok))
		return NULL;
	j = json_object();
	json_object_set_new(j, "name", json_string(in->name));
	json_object_set_new(j, "role", json_string(in->role));
	json_object_set_new(j, "key", keten_json_hex(in->key, 32));
	if (in->agb[0])
		json_object_set_new(j, "agb", json_string(in->agb));
	if (in->municipality[0])
		json_object_set_new(j, "municipality", json_string(in->municipality));
	json_object_set_new(j, "protected", json_boolean(!in->unprotected));
	json_object_set_new(j, "today", keten_json_date(keten_today()));
	json_object_set_new(j, "entries", json_integer((json_int_t)kt_kv_count(c->t, KT_ENTRIES)));
	return j;
}

/* /api/balance ------------------------------------------------------------------ */

static json_t *api_balance(struct call *c)
{
	static const char *const ok[] = {"with", "as_of", NULL};
	const uint8_t *me = keten_ledger_info(c->s->L)->key;
	const char *with = qget(c->q, "with");
	keten_balance b = {0};
	keten_error err = {0};
	uint8_t wkey[32];
	uint32_t as_of;
	json_t *arr;

	if (!only_params(c, ok) || !date_param(c, "as_of", &as_of) || (with && !resolve_party(c, with, wkey)))
		return NULL;
	if (keten_recon_balance(c->t, me, with ? wkey : NULL, as_of, &b, &err))
		return store_fail(c, &err);
	if (b.overflow) {
		keten_balance_release(&b);
		return fail(c, 500, "a balance overflows");
	}
	arr = keten_json_balance(c->t, &b);
	keten_balance_release(&b);
	return arr;
}

/* /api/reconcile ---------------------------------------------------------------- */

static json_t *api_reconcile(struct call *c)
{
	static const char *const ok[] = {"with", "as_of", "period", NULL};
	const char *with = qget(c->q, "with");
	keten_recon_opts ro = {.me = keten_ledger_info(c->s->L)->key};
	keten_recon r = {0};
	keten_error err = {0};
	uint8_t wkey[32];
	json_t *root;

	if (!only_params(c, ok) || !date_param(c, "as_of", &ro.as_of) || !period_param(c, &ro.from, &ro.until) ||
	    (with && !resolve_party(c, with, wkey)))
		return NULL;
	if (with)
		ro.with = wkey;
	ro.bank = c->s->o.bank;
	if (keten_reconcile(c->t, &ro, &r, &err))
		return store_fail(c, &err);
	root = keten_json_reconcile(c->t, &r, true);
	keten_recon_release(&r);
	return root;
}

/* /api/report ------------------------------------------------------------------- */

static json_t *api_report(struct call *c)
{
	static const char *const ok[] = {"by", "period", "as_of", NULL};
	const char *by = qget(c->q, "by");
	keten_report_opts ro = {.by = KETEN_REPORT_MUNICIPALITY};
	keten_report rep = {0};
	keten_error err = {0};
	json_t *root;

	if (!only_params(c, ok) || !period_param(c, &ro.from, &ro.until) || !date_param(c, "as_of", &ro.as_of))
		return NULL;
	if (by && !(ro.by = keten_report_by_from_name(by)))
		return fail(c, 400, "by is municipality, provider, arrangement or month, not '%.60s'", by);
	if (keten_report_build(c->t, &ro, &rep, &err))
		return store_fail(c, &err);
	root = keten_json_report(c->t, &rep, ro.by);
	keten_report_release(&rep);
	return root;
}

/* /api/disputes ----------------------------------------------------------------- */

static json_t *api_disputes(struct call *c)
{
	static const char *const ok[] = {"open", NULL};
	const char *open = qget(c->q, "open");
	keten_error err = {0};
	json_t *arr;

	if (!only_params(c, ok))
		return NULL;
	if (open && strcmp(open, "1") != 0 && strcmp(open, "0") != 0)
		return fail(c, 400, "open is 1 or 0");
	if (keten_json_disputes(c->t, open && *open == '1', &arr, &err))
		return store_fail(c, &err);
	return arr;
}

static json_t *api_dispute(struct call *c, const char *idhex)
{
	static const char *const ok[] = {NULL};
	keten_error err = {0};
	uint8_t id[32];
	json_t *o;
	int rc;

	if (!only_params(c, ok))
		return NULL;
	if (strlen(idhex) < KETEN_MIN_PREFIX || strlen(idhex) > 64 ||
	    strspn(idhex, "0123456789abcdefABCDEF") != strlen(idhex))
		return fail(c, 400, "'%.70s' is not an entry id (at least %u hex digits)", idhex, KETEN_MIN_PREFIX);
	if (keten_store_resolve(c->t, idhex, id, &err))
		return store_fail(c, &err);
	if ((rc = keten_json_dispute(c->t, id, &o, &err)))
		return rc == KETEN_ENOTFOUND ? fail(c, 404, "'%s' is not a dispute applied here", idhex)
					     : store_fail(c, &err);
	return o;
}

/* /api/log ---------------------------------------------------------------------- */

/* One entry of the newest, summarised: its header fields, status and body. */
static int log_cb(const keten_entry *e, const keten_entry_status *st, void *p)
{
	struct call *c = p;
	json_t *o = json_object();

	json_object_set_new(o, "id", keten_json_hex(e->id, 32));
	keten_json_set_party(c->t, o, "author", e->author);
	json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
	json_object_set_new(o, "timestamp_ms", json_integer(e->timestamp_ms));
	json_object_set_new(o, "date", keten_json_date(keten_date_of_ms(e->timestamp_ms)));
	json_object_set_new(o, "type", json_string(keten_body_type_name(e->body_type)));
	json_object_set_new(o, "status", json_string(keten_json_status_name(st->status)));
	if (st->rule[0])
		json_object_set_new(o, "rule", json_string(st->rule));
	json_object_set_new(o, "fields",
	                    e->has_body ? keten_json_body(e->body_type, e->body, e->body_len) : json_null());
	if (!e->has_body)
		json_object_set_new(o, "withheld", json_true());
	json_array_append_new(c->log, o);
	return 0;
}

static json_t *api_log(struct call *c)
{
	static const char *const ok[] = {"limit", "type", NULL};
	const char *limit = qget(c->q, "limit"), *type = qget(c->q, "type");
	keten_entry_filter f = {.order = KETEN_NEWEST_FIRST, .limit = LOG_LIMIT_DEFAULT, .status = true};
	keten_error err = {0};

	if (!only_params(c, ok))
		return NULL;
	if (limit) {
		char *end;
		long n = strtol(limit, &end, 10);
		if (*end || n < 1 || n > LOG_LIMIT_MAX)
			return fail(c, 400, "limit '%.30s' is not a number from 1 to %d", limit, LOG_LIMIT_MAX);
		f.limit = (size_t)n;
	}
	if (type && !(f.body_type = keten_body_type_from_name(type)))
		return fail(c, 400, "'%.60s' is not an entry type", type);
	c->log = json_array();
	if (keten_entries_each(c->t, &f, log_cb, c, &err)) {
		json_decref(c->log);
		return store_fail(c, &err);
	}
	return c->log;
}

/* Dispatch ---------------------------------------------------------------------- */

static char *error_text(const char *msg)
{
	json_t *j = json_object();
	char *s;
	json_object_set_new(j, "error", json_string(msg));
	s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	return s;
}

static void reply_error(struct kt_http_reply *r, uint16_t status, const char *msg)
{
	r->status = status;
	r->type = "application/json; charset=utf-8";
	r->api = true;
	r->owned = error_text(msg);
	r->len = r->owned ? strlen(r->owned) : 0;
}

static void api(keten_http_server *s, const char *path, const char *query, struct kt_http_reply *r)
{
	struct query q;
	struct call c = {.s = s, .q = &q};
	keten_error err = {0};
	json_t *j = NULL;

	if (!query_parse(&q, query)) {
		reply_error(r, 400, "the query string is malformed or too long");
		return;
	}
	if (keten_store_read(keten_ledger_store(s->L), &c.t, &err)) {
		reply_error(r, 500, err.msg[0] ? err.msg : keten_strerror(err.code));
		return;
	}
	if (strcmp(path, "whoami") == 0)
		j = api_whoami(&c);
	else if (strcmp(path, "balance") == 0)
		j = api_balance(&c);
	else if (strcmp(path, "reconcile") == 0)
		j = api_reconcile(&c);
	else if (strcmp(path, "report") == 0)
		j = api_report(&c);
	else if (strcmp(path, "disputes") == 0)
		j = api_disputes(&c);
	else if (strncmp(path, "disputes/", 9) == 0)
		j = api_dispute(&c, path + 9);
	else if (strcmp(path, "log") == 0)
		j = api_log(&c);
	else
		fail(&c, 404, "no such endpoint: /api/%.60s", path);
	keten_txn_end(c.t);
	if (!j) {
		reply_error(r, c.status ? c.status : 500, c.msg[0] ? c.msg : "internal error");
		return;
	}
	r->status = 200;
	r->type = "application/json; charset=utf-8";
	r->api = true;
	r->owned = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!r->owned)
		reply_error(r, 500, "out of memory");
	else
		r->len = strlen(r->owned);
}

/* The Host header names a loopback host (or is absent). */
static bool host_ok(const char *h)
{
	const char *port;
	char host[256];
	if (!h)
		return true;
	return split_host(h, host, sizeof host, &port, false) == 0 && host_is_loopback(host);
}

static void route(keten_http_server *s, const struct kt_http_req *req, struct kt_http_reply *r, kt_http_answer *auth)
{
	const char *qs, *uri = req->uri;
	char path[512];
	size_t n;

	if (s->loopback && !host_ok(req->host)) {
		reply_error(r, 403, "this dashboard answers only to a loopback host name (Host header)");
		return;
	}
	if (kt_http_auth_check(s->auth, req, auth)) {
		r->status = auth->status;
		r->type = auth->type;
		r->data = auth->body;
		r->len = auth->len;
		r->api = true; /* not to be cached */
		return;
	}
	if (strcmp(req->method, "GET") != 0) {
		reply_error(r, 405, "the dashboard is read-only: GET only");
		return;
	}
	qs = strchr(uri, '?');
	n = qs ? (size_t)(qs - uri) : strlen(uri);
	if (n >= sizeof path) {
		reply_error(r, 404, "no such path");
		return;
	}
	memcpy(path, uri, n);
	path[n] = 0;
	if (strncmp(path, "/api/", 5) == 0) {
		api(s, path + 5, qs ? qs + 1 : "", r);
		return;
	}
	if (strcmp(path, "/") == 0)
		snprintf(path, sizeof path, "/index.html");
	for (const keten_web_asset *a = keten_web_assets; a->path; a++) {
		if (strcmp(a->path, path) == 0) {
			r->status = 200;
			r->type = a->type;
			r->data = a->data;
			r->len = a->len;
			return;
		}
	}
	reply_error(r, 404, "no such path");
}

/* One request (kt_httpd_fn): routed, with the headers every answer
 * carries, and logged. */
static void answer(void *ctx, const struct kt_http_req *req, struct kt_http_reply *r)
{
	keten_http_server *s = ctx;
	kt_http_answer auth = {0};
	size_t n;

	route(s, req, r, &auth);
	n = (size_t)snprintf(
		r->headers, sizeof r->headers,
		"Content-Security-Policy: %s\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
		"Referrer-Policy: no-referrer\r\nCache-Control: %s\r\n%s",
		auth.csp ? auth.csp : csp, r->api ? "no-store" : "no-cache", r->status == 405 ? "Allow: GET\r\n" : "");
	if (auth.location)
		n += (size_t)snprintf(r->headers + n, sizeof r->headers - n, "Location: %s\r\n", auth.location);
	if (auth.cookie[0])
		n += (size_t)snprintf(r->headers + n, sizeof r->headers - n, "Set-Cookie: %s\r\n", auth.cookie);
	if (auth.challenge)
		n += (size_t)snprintf(r->headers + n, sizeof r->headers - n,
		                      "WWW-Authenticate: Bearer realm=\"keten\"\r\n");
	KETEN_ASSERT(n < sizeof r->headers);
	if (s->o.log) {
		char line[600];
		snprintf(line, sizeof line, "%s %.500s %u", req->method, req->uri, (unsigned)r->status);
		s->o.log(s->o.log_ctx, line);
	}
}

/* Start and stop ------------------------------------------------------------------ */

/* Whom s may be served to: a loopback address, --public, or HTTPS with a
 * way to tell viewers apart (client certificates or tokens).  With HTTPS
 * the URL becomes https://. */
static int guard(keten_http_server *s, const char *addr, keten_error *err)
{
	const keten_http_opts *o = &s->o;

	if (o->client_ca && !o->tls_cert)
		return keten_fail(err, KETEN_EINVAL, "client certificates need HTTPS: a certificate and key");
	if (!o->tls_cert != !o->tls_key)
		return keten_fail(err, KETEN_EINVAL, "HTTPS needs both a certificate and its key");
	if (!s->loopback && !o->allow_public && !(o->tls_cert && (o->client_ca || o->n_tokens)))
		return keten_fail(err, KETEN_EPERM,
		                  "'%s' is not a loopback address: off loopback the dashboard is served over "
		                  "HTTPS with client certificates or tokens (--https with --client-ca or --tokens), "
		                  "or without a login with --public",
		                  addr ? addr : KETEN_HTTP_DEFAULT_ADDR);
	if (o->tls_cert) {
		KETEN_ASSERT(strncmp(s->addr, "http://", 7) == 0 && strlen(s->addr) + 1 < sizeof s->addr);
		memmove(s->addr + 5, s->addr + 4, strlen(s->addr + 4) + 1);
		s->addr[4] = 's';
	}
	return KETEN_OK;
}

int keten_http_start(keten_ledger *L, const char *addr, const keten_http_opts *o, keten_http_server **out,
                     keten_error *err)
{
	struct kt_httpd_limits lim = {0};
	struct nng_tls_config *tls = NULL;
	keten_error lerr = {0};
	keten_http_server *s;
	char url[320];
	int rv;

	*out = NULL;
	if (!(s = calloc(1, sizeof *s)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	s->L = L;
	if (o)
		s->o = *o;
	if ((rv = keten_http_parse_addr(addr, s->addr, sizeof s->addr, &s->loopback, err))) {
		free(s);
		return rv;
	}
	if ((rv = guard(s, addr, err)) || (rv = kt_http_auth_new(&s->o, s->o.tls_cert, &s->auth, err))) {
		free(s);
		return rv;
	}
	lim.max_conns = s->o.max_conns;
	lim.header_ms = s->o.header_ms;
	if (s->o.tls_cert && (rv = kt_http_auth_tls(&s->o, &tls, err))) {
		kt_http_auth_free(s->auth);
		free(s);
		return rv;
	}
	/* s->addr is "http://HOST:PORT" or "https://HOST:PORT" */
	snprintf(url, sizeof url, tls ? "tls+tcp://%s" : "tcp://%s", strstr(s->addr, "://") + 3);
	rv = kt_httpd_start(url, tls, &lim, answer, s, &s->d, &lerr);
	if (tls)
		nng_tls_config_free(tls); /* the listener holds its own reference */
	if (rv) {
		const char *why = strstr(lerr.msg, ": ");
		rv = keten_fail(err, (keten_err)rv, "cannot serve on %s: %s", s->addr, why ? why + 2 : lerr.msg);
		kt_http_auth_free(s->auth);
		free(s);
		return rv;
	}
	*out = s;
	return KETEN_OK;
}

const char *keten_http_url(const keten_http_server *s)
{
	return s->addr;
}

bool keten_http_loopback(const keten_http_server *s)
{
	return s->loopback;
}

void keten_http_stop(keten_http_server *s)
{
	if (!s)
		return;
	kt_httpd_stop(s->d);
	kt_http_auth_free(s->auth);
	free(s);
}
