/*
 * http.c — the read-only audit dashboard (include/keten/http.h): nng's
 * HTTP server with one handler for every path, which answers GET only
 * (405 otherwise), serves the embedded files of web/ (and nothing else:
 * no directory listing, no file system), and answers the JSON API:
 *
 *   /api/whoami                       this home: name, role, key
 *   /api/balance?with=&as_of=         as `keten balance --json`
 *   /api/reconcile?with=&as_of=&period=  as `keten reconcile --json`, each
 *                                     finding with its kind's meaning
 *   /api/report?by=&period=           as `keten report --json`
 *   /api/disputes?open=1              as `keten dispute list --json`
 *   /api/disputes/ID                  as `keten dispute show --json`
 *   /api/log?limit=N&type=            the newest entries, summarised
 *
 * The JSON has the same fields as the commands' --json output, so scripts
 * and the page read one format.  Each request takes the process's ledger
 * lock, opens one read transaction, builds its answer, and ends the
 * transaction before the answer leaves; a bad parameter is 400 and an
 * unknown party, dispute or path 404, both as {"error": "..."}.
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
#include <nng/supplemental/http/http.h>

#include "keten/keten.h"
#include "keten/http.h"
#include "keten/net.h"
#include "keten/reconcile.h"
#include "keten/report.h"
#include "dispute.h"
#include "keten.pb-c.h"
#include "rules.h"

#define LOG_LIMIT_DEFAULT 50
#define LOG_LIMIT_MAX     500
#define MAX_QUERY         2048
#define MAX_BODY          (64u * 1024u)

static const char csp[] = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct keten_http_server {
	keten_ledger *L;
	keten_http_opts o;
	nng_url *url;
	nng_http_server *srv;
	char addr[300];
	bool loopback;
};

/* What a request is answered with. */
struct reply {
	uint16_t status;
	const char *type;
	const void *data;       /* static (an embedded file) ... */
	size_t len;
	char *owned;            /* ... or owned (JSON text) */
	bool api;
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
			return -1;      /* a bare IPv6 address needs brackets */
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
	uint16_t status;        /* set with msg on failure */
	char msg[300];
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

static const uint8_t zero32[32];

/* The certified name of a party, else its trust-anchor name, else "". */
static const char *name_of(keten_txn *t, const uint8_t key[32], char *buf, size_t len)
{
	Keten__State__PartyState *ps = NULL;
	const void *v;
	size_t n;
	buf[0] = 0;
	if (keten_party_load(t, key, &ps, NULL) == 0 && ps->name)
		snprintf(buf, len, "%s", ps->name);
	else if (keten_kv_get(t, KT_TRUST, key, 32, &v, &n, NULL) == 0)
		snprintf(buf, len, "%.*s", (int)strnlen(v, n), (const char *)v);
	keten__state__party_state__free_unpacked(ps, NULL);
	return buf;
}

/* As name_of, falling back to the first 16 hex digits (as reconcile and report print). */
static json_t *label_json(keten_txn *t, const uint8_t key[32])
{
	char buf[128];
	if (memcmp(key, zero32, 32) == 0)
		return json_string("");
	if (!name_of(t, key, buf, sizeof buf)[0])
		keten_hex(buf, key, 8);
	return json_string(buf);
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
	char hex[65];
	keten_hex(hex, b, n);
	return json_string(hex);
}

static json_t *key_or_null(const uint8_t key[32])
{
	return memcmp(key, zero32, 32) == 0 ? json_null() : hex_json(key, 32);
}

static json_t *date_json(uint32_t ymd)
{
	char d[16];
	keten_format_date(d, sizeof d, ymd);
	return json_string(d);
}

/* field and field_name, as the dispute commands print a party. */
static void set_party(keten_txn *t, json_t *o, const char *field, const uint8_t key[32])
{
	char name[128], nfield[64];
	json_object_set_new(o, field, hex_json(key, 32));
	snprintf(nfield, sizeof nfield, "%s_name", field);
	json_object_set_new(o, nfield, json_string(name_of(t, key, name, sizeof name)));
}

struct party_find {
	const char *what;
	size_t len;
	bool by_name;
	int found;
	uint8_t key[32];
};

static int party_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct party_find *f = p;
	Keten__State__PartyState *ps;
	char hex[65];
	bool hit;
	if (kl != 32 || !(ps = keten__state__party_state__unpack(NULL, vl, v)))
		return 0;
	keten_hex(hex, k, 32);
	hit = f->by_name ? (ps->name && strcasecmp(ps->name, f->what) == 0) : strncasecmp(hex, f->what, f->len) == 0;
	if (hit && f->found++ == 0)
		memcpy(f->key, k, 32);
	keten__state__party_state__free_unpacked(ps, NULL);
	return 0;
}

/* A party by key, key prefix (>= 8 hex) or certified name, as the CLI resolves one. */
static bool resolve_party(struct call *c, const char *what, uint8_t key[32])
{
	struct party_find f = {.what = what, .len = strlen(what)};
	keten_error err = {0};
	bool hex = f.len >= KETEN_MIN_PREFIX;
	for (size_t i = 0; i < f.len && hex; i++)
		hex = isxdigit((unsigned char)what[i]);
	if (f.len == 64 && keten_unhex(key, 32, what) == 0)
		return true;
	f.by_name = !hex;
	if (keten_kv_scan(c->t, KT_PARTIES, NULL, 0, party_cb, &f, &err)) {
		store_fail(c, &err);
		return false;
	}
	if (!f.found && hex) {
		char me[65];
		keten_hex(me, keten_ledger_info(c->s->L)->key, 32);
		if (strncasecmp(me, what, f.len) == 0) {
			memcpy(f.key, keten_ledger_info(c->s->L)->key, 32);
			f.found = 1;
		}
	}
	if (f.found != 1) {
		fail(c, f.found ? 400 : 404, f.found ? "party '%s' is ambiguous" : "no party '%s' is known here", what);
		return false;
	}
	memcpy(key, f.key, 32);
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

static const char *status_word(keten_status st)
{
	switch (st) {
	case KS_APPLIED: return "applied";
	case KS_PENDING: return "pending";
	case KS_REJECTED: return "rejected";
	case KS_STUB: return "stub";
	default: return "unknown";
	}
}

static const char *entry_type(keten_txn *t, const uint8_t id[32])
{
	keten_entry e;
	const char *name = NULL;
	if (keten_store_get_entry(t, id, &e, NULL) == 0) {
		name = keten_body_type_name(e.body_type);
		keten_entry_release(&e);
	}
	return name ? name : "entry";
}

static json_t *fields_json(struct call *c, const keten_entry *e)
{
	json_t *f;
	if (!e->has_body || !c->s->o.body_json || !(f = c->s->o.body_json(e->body_type, e->body, e->body_len)))
		return json_null();
	return f;
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
	json_object_set_new(j, "key", hex_json(in->key, 32));
	if (in->agb[0])
		json_object_set_new(j, "agb", json_string(in->agb));
	if (in->municipality[0])
		json_object_set_new(j, "municipality", json_string(in->municipality));
	json_object_set_new(j, "protected", json_boolean(!in->unprotected));
	json_object_set_new(j, "today", date_json(keten_today()));
	json_object_set_new(j, "entries", json_integer((json_int_t)keten_kv_count(c->t, KT_ENTRIES)));
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
	arr = json_array();
	for (size_t i = 0; i < b.n_rows; i++) {
		const keten_balance_row *r = &b.rows[i];
		int64_t out = r->claimed_cents - r->paid_cents - r->clawback_cents + r->repaid_cents;
		char name[128];
		json_t *j = json_object();
		json_object_set_new(j, "party", hex_json(r->party, 32));
		json_object_set_new(j, "name", json_string(name_of(c->t, r->party, name, sizeof name)));
		json_object_set_new(j, "role", json_string(r->payee ? "payee" : "payer"));
		json_object_set_new(j, "claimed_cents", json_integer(r->claimed_cents));
		json_object_set_new(j, "paid_cents", json_integer(r->paid_cents));
		json_object_set_new(j, "received_cents", json_integer(r->received_cents));
		json_object_set_new(j, "clawback_cents", json_integer(r->clawback_cents));
		json_object_set_new(j, "repaid_cents", json_integer(r->repaid_cents));
		json_object_set_new(j, "outstanding_cents", json_integer(out));
		json_object_set_new(j, "net_cents", json_integer(r->payee ? out : -out));
		json_array_append_new(arr, j);
	}
	keten_balance_release(&b);
	return arr;
}

/* /api/reconcile ---------------------------------------------------------------- */

static json_t *amounts_json(json_t *o, int64_t agreed, int64_t delivered, int64_t claimed, int64_t paid,
                            int64_t received, int64_t outstanding, int64_t overdue)
{
	json_object_set_new(o, "agreed_cents", json_integer(agreed));
	json_object_set_new(o, "delivered_units", delivered % 100 ? json_real((double)delivered / 100.0)
	                                                          : json_integer(delivered / 100));
	json_object_set_new(o, "claimed_cents", json_integer(claimed));
	json_object_set_new(o, "paid_cents", json_integer(paid));
	json_object_set_new(o, "received_cents", json_integer(received));
	json_object_set_new(o, "outstanding_cents", json_integer(outstanding));
	json_object_set_new(o, "overdue_cents", json_integer(overdue));
	return o;
}

static void pair_names(keten_txn *t, json_t *o, const uint8_t payer[32], const uint8_t payee[32])
{
	json_object_set_new(o, "payer", key_or_null(payer));
	json_object_set_new(o, "payer_name", label_json(t, payer));
	json_object_set_new(o, "payee", key_or_null(payee));
	json_object_set_new(o, "payee_name", label_json(t, payee));
}

static json_t *api_reconcile(struct call *c)
{
	static const char *const ok[] = {"with", "as_of", "period", NULL};
	const char *with = qget(c->q, "with");
	keten_recon_opts ro = {.me = keten_ledger_info(c->s->L)->key};
	keten_recon r = {0};
	keten_error err = {0};
	uint8_t wkey[32];
	json_t *root, *lines, *pairs, *fs;

	if (!only_params(c, ok) || !date_param(c, "as_of", &ro.as_of) || !period_param(c, &ro.from, &ro.until) ||
	    (with && !resolve_party(c, with, wkey)))
		return NULL;
	if (with)
		ro.with = wkey;
	if (keten_reconcile(c->t, &ro, &r, &err))
		return store_fail(c, &err);
	root = json_object();
	lines = json_array();
	pairs = json_array();
	fs = json_array();
	json_object_set_new(root, "as_of", date_json(r.as_of));
	for (size_t i = 0; i < r.n_lines; i++) {
		const keten_recon_line *l = &r.lines[i];
		json_t *o = json_object();
		json_object_set_new(o, "subject", key_or_null(l->subject));
		json_object_set_new(o, "kind", json_string(l->subcontract ? "subcontract" : "allocation"));
		pair_names(c->t, o, l->payer, l->payee);
		json_object_set_new(o, "what", json_string(l->what));
		json_object_set_new(o, "start", date_json(l->start));
		json_object_set_new(o, "end", l->end ? date_json(l->end) : json_null());
		json_object_set_new(o, "claims", json_integer((json_int_t)l->n_claims));
		json_array_append_new(lines, amounts_json(o, l->agreed_cents, l->delivered_units, l->claimed_cents,
		                                          l->paid_cents, l->received_cents, l->outstanding_cents,
		                                          l->overdue_cents));
	}
	for (size_t i = 0; i < r.n_pairs; i++) {
		const keten_recon_pair *p = &r.pairs[i];
		json_t *o = json_object();
		pair_names(c->t, o, p->payer, p->payee);
		json_object_set_new(o, "lines", json_integer((json_int_t)p->n_lines));
		json_array_append_new(pairs, amounts_json(o, p->agreed_cents, p->delivered_units, p->claimed_cents,
		                                          p->paid_cents, p->received_cents, p->outstanding_cents,
		                                          p->overdue_cents));
	}
	for (size_t i = 0; i < r.n_findings; i++) {
		const keten_recon_finding *f = &r.findings[i];
		json_t *o = json_object(), *ev = json_array();
		json_object_set_new(o, "kind", json_string(f->kind));
		json_object_set_new(o, "meaning", json_string(keten_recon_kind_meaning(f->kind)));
		json_object_set_new(o, "subject", key_or_null(f->subject));
		pair_names(c->t, o, f->payer, f->payee);
		json_object_set_new(o, "amount_cents", json_integer(f->amount_cents));
		for (size_t j = 0; j < f->n_ids; j++) {
			json_t *e = json_object();
			json_object_set_new(e, "id", hex_json(f->ids[j], 32));
			json_object_set_new(e, "type", json_string(entry_type(c->t, f->ids[j])));
			json_array_append_new(ev, e);
		}
		json_object_set_new(o, "evidence", ev);
		json_object_set_new(o, "detail", json_string(f->detail));
		json_array_append_new(fs, o);
	}
	json_object_set_new(root, "lines", lines);
	json_object_set_new(root, "pairs", pairs);
	json_object_set_new(root, "findings", fs);
	keten_recon_release(&r);
	return root;
}

/* /api/report ------------------------------------------------------------------- */

static json_t *api_report(struct call *c)
{
	static const char *const ok[] = {"by", "period", NULL};
	const char *by = qget(c->q, "by");
	keten_report_opts ro = {.by = KETEN_REPORT_MUNICIPALITY};
	keten_report rep = {0};
	keten_error err = {0};
	json_t *root, *rows;

	if (!only_params(c, ok) || !period_param(c, &ro.from, &ro.until))
		return NULL;
	if (by && !(ro.by = keten_report_by_from_name(by)))
		return fail(c, 400, "by is municipality, provider, arrangement or month, not '%.60s'", by);
	if (keten_report_build(c->t, &ro, &rep, &err))
		return store_fail(c, &err);
	root = json_object();
	rows = json_array();
	json_object_set_new(root, "by", json_string(keten_report_by_name(ro.by)));
	for (size_t i = 0; i <= rep.n_rows; i++) {
		const keten_report_row *row = i < rep.n_rows ? &rep.rows[i] : &rep.total;
		json_t *o = json_object(), *stops = json_object();
		uint8_t k[32];
		json_object_set_new(o, "group", json_string(row->key));
		if (ro.by == KETEN_REPORT_PROVIDER && strlen(row->key) == 64 && keten_unhex(k, 32, row->key) == 0)
			json_object_set_new(o, "label", label_json(c->t, k));
		else
			json_object_set_new(o, "label", json_string(row->key));
		json_object_set_new(o, "allocations", json_integer((json_int_t)row->allocations));
		json_object_set_new(o, "clients", json_integer((json_int_t)row->clients));
		json_object_set_new(o, "allocated_cents", json_integer(row->allocated_cents));
		json_object_set_new(o, "paid_cents", json_integer(row->paid_cents));
		json_object_set_new(o, "subcontracted_cents", json_integer(row->subcontracted_cents));
		json_object_set_new(o, "subcontract_paid_cents", json_integer(row->sub_paid_cents));
		json_object_set_new(o, "subcontracted_bp", json_integer(row->subcontracted_bp));
		json_object_set_new(o, "closed_herstel", json_integer((json_int_t)row->closed_herstel));
		json_object_set_new(o, "avg_trajectory_days", json_integer(row->avg_trajectory_days));
		json_object_set_new(o, "early_stops", json_integer((json_int_t)row->early_stops));
		for (size_t s = 0; s < row->n_stops; s++)
			json_object_set_new(stops, row->stops[s].code, json_integer((json_int_t)row->stops[s].n));
		json_object_set_new(o, "early_stops_by_code", stops);
		json_object_set_new(o, "rijgen", json_integer((json_int_t)row->rijgen));
		json_object_set_new(o, "payments", json_integer((json_int_t)row->payments));
		json_object_set_new(o, "delay_median_days", json_integer(row->delay_median_days));
		json_object_set_new(o, "delay_p90_days", json_integer(row->delay_p90_days));
		if (i < rep.n_rows)
			json_array_append_new(rows, o);
		else
			json_object_set_new(root, "total", o);
	}
	json_object_set_new(root, "rows", rows);
	keten_report_release(&rep);
	return root;
}

/* /api/disputes ----------------------------------------------------------------- */

struct list_ctx {
	struct call *c;
	json_t *arr;
};

static int list_cb(keten_txn *t, const Keten__State__DisputeState *d, void *p)
{
	struct list_ctx *l = p;
	json_t *o = json_object(), *ents = json_array();
	char name[128];
	bool ruled = keten_dispute_ruled(d);

	json_object_set_new(o, "id", hex_json(d->id.data, 32));
	json_object_set_new(o, "status", json_string(ruled ? "ruled" : "open"));
	json_object_set_new(o, "opener", hex_json(d->opener.data, 32));
	if (!name_of(t, d->opener.data, name, sizeof name)[0])
		keten_hex(name, d->opener.data, 8);
	json_object_set_new(o, "opener_name", json_string(name));
	json_object_set_new(o, "opened", date_json(keten_date_of_ms(d->opened_ms)));
	json_object_set_new(o, "opened_ms", json_integer(d->opened_ms));
	for (size_t i = 0; i < d->n_entries; i++)
		json_array_append_new(ents, hex_json(d->entries[i].data, 32));
	json_object_set_new(o, "entries", ents);
	if (d->amount_cents > 0)
		json_object_set_new(o, "amount_cents", json_integer(d->amount_cents));
	json_object_set_new(o, "text", json_string(d->text ? d->text : ""));
	json_object_set_new(o, "responses", json_integer((json_int_t)d->n_responses));
	if (ruled)
		json_object_set_new(o, "ruling", hex_json(d->ruling.data, 32));
	json_array_append_new(l->arr, o);
	return 0;
}

static json_t *api_disputes(struct call *c)
{
	static const char *const ok[] = {"open", NULL};
	const char *open = qget(c->q, "open");
	struct list_ctx l = {.c = c};
	keten_error err = {0};

	if (!only_params(c, ok))
		return NULL;
	if (open && strcmp(open, "1") != 0 && strcmp(open, "0") != 0)
		return fail(c, 400, "open is 1 or 0");
	l.arr = json_array();
	if (keten_dispute_each(c->t, open && *open == '1', list_cb, &l, &err)) {
		json_decref(l.arr);
		return store_fail(c, &err);
	}
	return l.arr;
}

static json_t *evidence_json(struct call *c, const uint8_t id[32])
{
	json_t *o = json_object();
	keten_entry e;
	keten_status st = 0;
	char rule[48] = "";

	json_object_set_new(o, "id", hex_json(id, 32));
	if (keten_store_get_entry(c->t, id, &e, NULL)) {
		json_object_set_new(o, "status", json_string("missing"));
		return o;
	}
	keten_store_status(c->t, id, &st, rule, sizeof rule, NULL);
	json_object_set_new(o, "type", json_string(keten_body_type_name(e.body_type)));
	set_party(c->t, o, "author", e.author);
	json_object_set_new(o, "seq", json_integer((json_int_t)e.seq));
	json_object_set_new(o, "timestamp_ms", json_integer(e.timestamp_ms));
	json_object_set_new(o, "status", json_string(status_word(st)));
	if (rule[0])
		json_object_set_new(o, "rule", json_string(rule));
	json_object_set_new(o, "signature_ok", json_boolean(keten_entry_verify(&e) == KETEN_OK));
	json_object_set_new(o, "under_open_dispute", json_boolean(keten_entry_under_open_dispute(c->t, id)));
	json_object_set_new(o, "fields", fields_json(c, &e));
	if (!e.has_body)
		json_object_set_new(o, "withheld", json_true());
	keten_entry_release(&e);
	return o;
}

struct timed {
	int64_t ms;
	json_t *o;
};

static int cmp_timed(const void *x, const void *y)
{
	const struct timed *a = x, *b = y;
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	return strcmp(json_string_value(json_object_get(a->o, "id")), json_string_value(json_object_get(b->o, "id")));
}

static json_t *response_json(struct call *c, const uint8_t id[32], int64_t *ms)
{
	json_t *o = json_object();
	keten_entry e;

	json_object_set_new(o, "id", hex_json(id, 32));
	*ms = 0;
	if (keten_store_get_entry(c->t, id, &e, NULL))
		return o;
	*ms = e.timestamp_ms;
	set_party(c->t, o, "author", e.author);
	json_object_set_new(o, "timestamp_ms", json_integer(e.timestamp_ms));
	json_object_set_new(o, "signature_ok", json_boolean(keten_entry_verify(&e) == KETEN_OK));
	if (e.has_body) {
		Keten__Response *r = keten__response__unpack(NULL, e.body_len, e.body);
		if (r) {
			json_t *ents = json_array();
			json_object_set_new(o, "text", json_string(r->text ? r->text : ""));
			for (size_t i = 0; i < r->n_entries; i++)
				if (r->entries[i].len == 32)
					json_array_append_new(ents, hex_json(r->entries[i].data, 32));
			json_object_set_new(o, "entries", ents);
			keten__response__free_unpacked(r, NULL);
		}
	}
	keten_entry_release(&e);
	return o;
}

static json_t *ruling_json(struct call *c, const Keten__State__DisputeState *d)
{
	json_t *o = json_object(), *adj = json_array();
	keten_entry e;

	json_object_set_new(o, "id", hex_json(d->ruling.data, 32));
	if (d->has_ruler && d->ruler.len == 32)
		set_party(c->t, o, "ruler", d->ruler.data);
	json_object_set_new(o, "timestamp_ms", json_integer(d->ruled_ms));
	if (keten_store_get_entry(c->t, d->ruling.data, &e, NULL) == 0) {
		json_object_set_new(o, "signature_ok", json_boolean(keten_entry_verify(&e) == KETEN_OK));
		if (e.has_body) {
			Keten__Ruling *r = keten__ruling__unpack(NULL, e.body_len, e.body);
			if (r) {
				json_object_set_new(o, "decision", json_string(r->decision ? r->decision : ""));
				keten__ruling__free_unpacked(r, NULL);
			}
		}
		keten_entry_release(&e);
	}
	for (size_t i = 0; i < d->n_adjustments; i++) {
		const Keten__State__DisputeAdjustment *x = d->adjustments[i];
		json_t *a = json_object();
		set_party(c->t, a, "debtor", x->debtor.data);
		set_party(c->t, a, "creditor", x->creditor.data);
		json_object_set_new(a, "amount_cents", json_integer(x->amount_cents));
		json_array_append_new(adj, a);
	}
	json_object_set_new(o, "adjustments", adj);
	return o;
}

static json_t *api_dispute(struct call *c, const char *idhex)
{
	static const char *const ok[] = {NULL};
	Keten__State__DisputeState *d = NULL;
	keten_error err = {0};
	keten_entry e;
	uint8_t id[32];
	json_t *o, *ev, *resp, *aud;
	struct timed *tr;
	int rc;

	if (!only_params(c, ok))
		return NULL;
	if (strlen(idhex) < KETEN_MIN_PREFIX || strlen(idhex) > 64 || strspn(idhex, "0123456789abcdefABCDEF") != strlen(idhex))
		return fail(c, 400, "'%.70s' is not an entry id (at least %u hex digits)", idhex, KETEN_MIN_PREFIX);
	if (keten_store_resolve(c->t, idhex, id, &err))
		return store_fail(c, &err);
	if ((rc = keten_dispute_load(c->t, id, &d, &err)))
		return rc == KETEN_ENOTFOUND ? fail(c, 404, "'%s' is not a dispute applied here", idhex) : store_fail(c, &err);
	if (!(tr = calloc(d->n_responses ? d->n_responses : 1, sizeof *tr))) {
		keten__state__dispute_state__free_unpacked(d, NULL);
		return fail(c, 500, "out of memory");
	}
	o = json_object();
	ev = json_array();
	resp = json_array();
	aud = json_array();
	json_object_set_new(o, "id", hex_json(d->id.data, 32));
	json_object_set_new(o, "status", json_string(keten_dispute_ruled(d) ? "ruled" : "open"));
	set_party(c->t, o, "opener", d->opener.data);
	json_object_set_new(o, "opened", date_json(keten_date_of_ms(d->opened_ms)));
	json_object_set_new(o, "opened_ms", json_integer(d->opened_ms));
	json_object_set_new(o, "text", json_string(d->text ? d->text : ""));
	if (d->amount_cents > 0)
		json_object_set_new(o, "amount_cents", json_integer(d->amount_cents));
	if (keten_store_get_entry(c->t, d->id.data, &e, NULL) == 0) {
		json_object_set_new(o, "signature_ok", json_boolean(keten_entry_verify(&e) == KETEN_OK));
		for (size_t i = 0; i < e.n_audience; i++)
			json_array_append_new(aud, hex_json(e.audience[i], 32));
		keten_entry_release(&e);
	}
	json_object_set_new(o, "audience", aud);
	for (size_t i = 0; i < d->n_entries; i++)
		json_array_append_new(ev, evidence_json(c, d->entries[i].data));
	json_object_set_new(o, "evidence", ev);
	for (size_t i = 0; i < d->n_responses; i++)
		tr[i].o = response_json(c, d->responses[i].data, &tr[i].ms);
	qsort(tr, d->n_responses, sizeof *tr, cmp_timed);
	for (size_t i = 0; i < d->n_responses; i++)
		json_array_append_new(resp, tr[i].o);
	free(tr);
	json_object_set_new(o, "responses", resp);
	json_object_set_new(o, "ruling", keten_dispute_ruled(d) ? ruling_json(c, d) : json_null());
	keten__state__dispute_state__free_unpacked(d, NULL);
	return o;
}

/* /api/log ---------------------------------------------------------------------- */

struct log_ctx {
	struct call *c;
	size_t keyoff;          /* where the id starts in the scanned key */
	long limit, shown;
	json_t *arr;
};

static int log_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct log_ctx *l = p;
	keten_txn *t = l->c->t;
	keten_entry e;
	keten_status st = 0;
	char rule[48] = "";
	json_t *o;

	if (kl < l->keyoff + 32 || keten_store_get_entry(t, k + l->keyoff, &e, NULL))
		return 0;
	keten_store_status(t, e.id, &st, rule, sizeof rule, NULL);
	o = json_object();
	json_object_set_new(o, "id", hex_json(e.id, 32));
	set_party(t, o, "author", e.author);
	json_object_set_new(o, "seq", json_integer((json_int_t)e.seq));
	json_object_set_new(o, "timestamp_ms", json_integer(e.timestamp_ms));
	json_object_set_new(o, "date", date_json(keten_date_of_ms(e.timestamp_ms)));
	json_object_set_new(o, "type", json_string(keten_body_type_name(e.body_type)));
	json_object_set_new(o, "status", json_string(status_word(st)));
	if (rule[0])
		json_object_set_new(o, "rule", json_string(rule));
	json_object_set_new(o, "fields", fields_json(l->c, &e));
	if (!e.has_body)
		json_object_set_new(o, "withheld", json_true());
	json_array_append_new(l->arr, o);
	keten_entry_release(&e);
	return ++l->shown >= l->limit ? 1 : 0;
}

static json_t *api_log(struct call *c)
{
	static const char *const ok[] = {"limit", "type", NULL};
	const char *limit = qget(c->q, "limit"), *type = qget(c->q, "type");
	struct log_ctx l = {.c = c, .limit = LOG_LIMIT_DEFAULT};
	keten_error err = {0};
	uint32_t bt = 0;
	int rc;

	if (!only_params(c, ok))
		return NULL;
	if (limit) {
		char *end;
		l.limit = strtol(limit, &end, 10);
		if (*end || l.limit < 1 || l.limit > LOG_LIMIT_MAX)
			return fail(c, 400, "limit '%.30s' is not a number from 1 to %d", limit, LOG_LIMIT_MAX);
	}
	if (type && !(bt = keten_body_type_from_name(type)))
		return fail(c, 400, "'%.60s' is not an entry type", type);
	l.arr = json_array();
	if (bt) {
		uint8_t prefix[4];
		keten_be32(prefix, bt);
		l.keyoff = 12;
		rc = keten_kv_scan_reverse(c->t, KT_BY_TYPE, prefix, 4, log_cb, &l, &err);
	} else {
		l.keyoff = 8;
		rc = keten_kv_scan_reverse(c->t, KT_TIMELINE, NULL, 0, log_cb, &l, &err);
	}
	if (rc) {
		json_decref(l.arr);
		return store_fail(c, &err);
	}
	return l.arr;
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

static void reply_error(struct reply *r, uint16_t status, const char *msg)
{
	r->status = status;
	r->type = "application/json; charset=utf-8";
	r->api = true;
	r->owned = error_text(msg);
	r->len = r->owned ? strlen(r->owned) : 0;
}

static void api(keten_http_server *s, const char *path, const char *query, struct reply *r)
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
static bool host_ok(nng_http_req *req)
{
	const char *h = nng_http_req_get_header(req, "Host"), *port;
	char host[256];
	if (!h)
		return true;
	return split_host(h, host, sizeof host, &port, false) == 0 && host_is_loopback(host);
}

static void route(keten_http_server *s, nng_http_req *req, struct reply *r)
{
	const char *method = nng_http_req_get_method(req), *uri = nng_http_req_get_uri(req), *qs;
	char path[512];
	size_t n;

	if (s->loopback && !host_ok(req)) {
		reply_error(r, 403, "this dashboard answers only to a loopback host name (Host header)");
		return;
	}
	if (strcmp(method, "GET") != 0) {
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
		keten_net_write_lock();
		api(s, path + 5, qs ? qs + 1 : "", r);
		keten_net_write_unlock();
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

static void handle(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	keten_http_server *s = nng_http_handler_get_data(h);
	struct reply r = {0};
	nng_http_res *res;
	int rv;

	route(s, req, &r);
	if ((rv = nng_http_res_alloc(&res)) != 0) {
		free(r.owned);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_http_res_set_status(res, r.status);
	nng_http_res_set_header(res, "Content-Type", r.type);
	nng_http_res_set_header(res, "Content-Security-Policy", csp);
	nng_http_res_set_header(res, "X-Content-Type-Options", "nosniff");
	nng_http_res_set_header(res, "X-Frame-Options", "DENY");
	nng_http_res_set_header(res, "Referrer-Policy", "no-referrer");
	nng_http_res_set_header(res, "Cache-Control", r.api ? "no-store" : "no-cache");
	if (r.status == 405)
		nng_http_res_set_header(res, "Allow", "GET");
	rv = r.owned ? nng_http_res_copy_data(res, r.owned, r.len) : nng_http_res_set_data(res, r.data, r.len);
	if (s->o.log) {
		char line[600];
		snprintf(line, sizeof line, "%s %.500s %u", nng_http_req_get_method(req), nng_http_req_get_uri(req),
		         (unsigned)r.status);
		s->o.log(s->o.log_ctx, line);
	}
	free(r.owned);
	if (rv != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* Start and stop ------------------------------------------------------------------ */

int keten_http_start(keten_ledger *L, const char *addr, const keten_http_opts *o, keten_http_server **out,
                     keten_error *err)
{
	keten_http_server *s;
	nng_http_handler *h = NULL;
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
	if (!s->loopback && !s->o.allow_public) {
		rv = keten_fail(err, KETEN_EPERM, "'%s' is not a loopback address: the dashboard has no login, so it "
		                "is served only on 127.0.0.1, ::1 or localhost unless --public is given",
		                addr ? addr : KETEN_HTTP_DEFAULT_ADDR);
		free(s);
		return rv;
	}
	if ((rv = nng_url_parse(&s->url, s->addr)) != 0) {
		free(s);
		return keten_fail(err, KETEN_EINVAL, "address '%s': %s", s->addr, nng_strerror(rv));
	}
	if ((rv = nng_http_server_hold(&s->srv, s->url)) != 0)
		goto fail;
	if ((rv = nng_http_handler_alloc(&h, "/", handle)) != 0 || (rv = nng_http_handler_set_method(h, NULL)) != 0 ||
	    (rv = nng_http_handler_set_tree(h)) != 0 || (rv = nng_http_handler_collect_body(h, true, MAX_BODY)) != 0 ||
	    (rv = nng_http_handler_set_data(h, s, NULL)) != 0 || (rv = nng_http_server_add_handler(s->srv, h)) != 0) {
		if (h)
			nng_http_handler_free(h);
		goto fail;
	}
	if ((rv = nng_http_server_start(s->srv)) != 0)
		goto fail;
	*out = s;
	return KETEN_OK;
fail:
	if (s->srv)
		nng_http_server_release(s->srv);
	nng_url_free(s->url);
	rv = keten_fail(err, rv == NNG_ENOMEM ? KETEN_ENOMEM : KETEN_EIO, "cannot serve on %s: %s", s->addr,
	                nng_strerror(rv));
	free(s);
	return rv;
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
	nng_http_server_stop(s->srv);
	nng_http_server_release(s->srv);
	nng_url_free(s->url);
	free(s);
}
