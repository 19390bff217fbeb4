/*
 * camt.c — the camt.053 bank statement reader (see keten/camt.h).
 *
 * The bytes are screened first (size, NUL bytes, a leading '<', no
 * DOCTYPE) so that libxml2 never meets an entity declaration, and the
 * markup is counted against the limits of keten/limits.h (depth,
 * attributes per element, elements: formats/xml.c) before a tree is
 * built; libxml2 then parses without network access and without entity
 * substitution.  The
 * tree is walked by local element names under a Document whose namespace
 * is any camt.053.001.* version, so .001.02 and .001.08 files both read.
 * Amount texts are checked to be plain decimals with at most two decimals
 * and converted by keten_parse_cents, so no value passes through floating
 * point.  Every refusal is KETEN_EMALFORMED with the line and the element.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "keten/keten.h"
#include "keten/camt.h"
#include "formats/xml.h"

#define CAMT_NS_PREFIX "urn:iso:std:iso:20022:tech:xsd:camt.053.001."
#define QUOTE_MAX      96

/* Tree helpers ---------------------------------------------------------- */

static bool is_element(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The first element child of n with local name `name`, or NULL. */
static xmlNode *child(const xmlNode *n, const char *name)
{
	if (!n)
		return NULL;
	for (xmlNode *c = n->children; c; c = c->next)
		if (is_element(c, name))
			return c;
	return NULL;
}

/* Follow a path of local names separated by '/', e.g. "Acct/Id/IBAN". */
static xmlNode *path(const xmlNode *n, const char *p)
{
	char name[32];

	while (n && *p) {
		size_t k = strcspn(p, "/");
		if (k == 0 || k >= sizeof name)
			return NULL;
		memcpy(name, p, k);
		name[k] = '\0';
		n = child(n, name);
		p += k;
		if (*p == '/')
			p++;
	}
	return (xmlNode *)n;
}

static size_t count_children(const xmlNode *n, const char *name)
{
	size_t k = 0;

	if (n)
		for (xmlNode *c = n->children; c; c = c->next)
			k += is_element(c, name);
	return k;
}

static long line_of(const xmlNode *n)
{
	return n ? xmlGetLineNo(n) : 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The text of n, trimmed, as a malloc'd string; NULL when n is NULL or the
 * text is empty.  *oom is set when memory ran out.
 */
static char *text_of(const xmlNode *n, bool *oom)
{
	xmlChar *raw;
	const char *s, *e;
	char *out;

	if (!n)
		return NULL;
	raw = xmlNodeGetContent(n);
	if (!raw) {
		*oom = true;
		return NULL;
	}
	s = (const char *)raw;
	while (is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		e--;
	out = NULL;
	if (e > s) {
		out = malloc((size_t)(e - s) + 1);
		if (out) {
			memcpy(out, s, (size_t)(e - s));
			out[e - s] = '\0';
		} else {
			*oom = true;
		}
	}
	xmlFree(raw);
	return out;
}

/* A short printable rendering of untrusted text for messages. */
static const char *quote(char buf[QUOTE_MAX], const char *s)
{
	size_t i = 0;

	if (!s)
		s = "";
	for (; *s && i + 4 < QUOTE_MAX; s++)
		buf[i++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	if (*s) {
		/* do not cut a UTF-8 sequence in two */
		while (i > 0 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80)
			i--;
		if (i > 0 && (unsigned char)buf[i - 1] >= 0xc0)
			i--;
		buf[i++] = '.';
		buf[i++] = '.';
		buf[i++] = '.';
	}
	buf[i] = '\0';
	return buf;
}

/* The parse in progress --------------------------------------------------- */

typedef struct camt_ctx {
	keten_error *err;
	bool oom;
	size_t n_tx; /* transactions so far, against the limit */
} camt_ctx;

static int oom(camt_ctx *x)
{
	return keten_fail(x->err, KETEN_ENOMEM, "out of memory reading a camt.053 statement");
}

static int bad(camt_ctx *x, const xmlNode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fail with KETEN_EMALFORMED, naming the line of n. */
static int bad(camt_ctx *x, const xmlNode *n, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return keten_fail(x->err, KETEN_EMALFORMED, "camt.053 line %ld: %s", line_of(n), msg);
}

/* Strict xs:decimal for a EUR amount: digits, then optionally '.' and one
 * or two digits.  Returns 0, or 1 for too many decimals, or -1. */
static int amount_shape(const char *s)
{
	const char *p = s;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return -1;
	if (*p == '\0')
		return 0;
	if (*p != '.')
		return -1;
	s = ++p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p != '\0' || p == s)
		return -1;
	return p - s > 2 ? 1 : 0;
}

/*
 * Read the amount element `amt` (an Amt with a Ccy attribute) inside
 * `where` (named in messages).  A missing element is an error.
 */
static int read_amount(camt_ctx *x, const xmlNode *where, const xmlNode *amt, const char *what, int64_t *cents)
{
	char q[QUOTE_MAX], *s;
	xmlChar *ccy;
	int shape, rc = 0;

	if (!amt)
		return bad(x, where, "missing Amt in %s", what);
	ccy = xmlGetProp(amt, (const xmlChar *)"Ccy");
	if (!ccy)
		rc = bad(x, amt, "Amt in %s has no Ccy", what);
	else if (strcmp((const char *)ccy, "EUR") != 0)
		rc = bad(x, amt, "amount in %s is in '%s'; keten reads EUR statements only", what,
		         quote(q, (const char *)ccy));
	if (ccy)
		xmlFree(ccy);
	if (rc)
		return rc;
	s = text_of(amt, &x->oom);
	if (x->oom)
		return oom(x);
	if (!s)
		return bad(x, amt, "missing amount: Amt in %s is empty", what);
	shape = amount_shape(s);
	if (shape == 1)
		rc = bad(x, amt, "bad amount '%s' in %s: more than two decimals", quote(q, s), what);
	else if (shape < 0)
		rc = bad(x, amt, "bad amount '%s' in %s: not a decimal like 1234.56", quote(q, s), what);
	else if (keten_parse_cents(s, false, cents) != 0)
		rc = bad(x, amt, "bad amount '%s' in %s: too large", quote(q, s), what);
	free(s);
	return rc;
}

/* CdtDbtInd of n: true for CRDT, false for DBIT; an error otherwise. */
static int read_direction(camt_ctx *x, const xmlNode *n, const char *what, bool *credit)
{
	char q[QUOTE_MAX], *s;
	int rc = 0;

	s = text_of(child(n, "CdtDbtInd"), &x->oom);
	if (x->oom)
		return oom(x);
	if (!s)
		return bad(x, n, "missing CdtDbtInd in %s", what);
	if (strcmp(s, "CRDT") == 0)
		*credit = true;
	else if (strcmp(s, "DBIT") == 0)
		*credit = false;
	else
		rc = bad(x, n, "bad CdtDbtInd '%s' in %s (CRDT or DBIT)", quote(q, s), what);
	free(s);
	return rc;
}

/*
 * The date in a DateAndDateTimeChoice element d (Dt, or the date part of
 * DtTm).  *ymd stays 0 when d is NULL.
 */
static int read_date(camt_ctx *x, const xmlNode *d, const char *what, uint32_t *ymd)
{
	char q[QUOTE_MAX], *s;
	const xmlNode *dt, *dttm;
	int rc = 0;

	*ymd = 0;
	if (!d)
		return 0;
	dt = child(d, "Dt");
	dttm = child(d, "DtTm");
	if (!dt && !dttm)
		return bad(x, d, "bad date in %s: neither Dt nor DtTm", what);
	s = text_of(dt ? dt : dttm, &x->oom);
	if (x->oom)
		return oom(x);
	if (!s)
		return bad(x, d, "bad date in %s: empty", what);
	if (!dt && strlen(s) > 10 && s[10] == 'T')
		s[10] = '\0';
	if (keten_parse_date(s, ymd) != 0)
		rc = bad(x, d, "bad date '%s' in %s (YYYY-MM-DD)", quote(q, s), what);
	free(s);
	return rc;
}

/* The type code of a balance: Tp/CdOrPrtry/Cd (NULL when proprietary). */
static char *balance_code(camt_ctx *x, const xmlNode *bal)
{
	return text_of(path(bal, "Tp/CdOrPrtry/Cd"), &x->oom);
}

/* Balances ---------------------------------------------------------------- */

typedef struct balance {
	bool have;
	int64_t cents;
	uint32_t date;
} balance;

static int read_balance(camt_ctx *x, const xmlNode *bal, const char *code, balance *b)
{
	bool credit;
	int64_t c;
	int rc;

	if (b->have)
		return bad(x, bal, "balance %s is given twice", code);
	if ((rc = read_amount(x, bal, child(bal, "Amt"), "Bal", &c)) || (rc = read_direction(x, bal, "Bal", &credit)) ||
	    (rc = read_date(x, child(bal, "Dt"), "Bal", &b->date)))
		return rc;
	b->cents = credit ? c : -c;
	b->have = true;
	return 0;
}

static int read_balances(camt_ctx *x, const xmlNode *stmt, keten_camt_statement *out)
{
	balance opbd = {0}, prcd = {0}, clbd = {0};
	int rc = 0;

	for (xmlNode *n = stmt->children; n && !rc; n = n->next) {
		char *code;
		if (!is_element(n, "Bal"))
			continue;
		code = balance_code(x, n);
		if (x->oom)
			return oom(x);
		if (code && strcmp(code, "OPBD") == 0)
			rc = read_balance(x, n, code, &opbd);
		else if (code && strcmp(code, "PRCD") == 0)
			rc = read_balance(x, n, code, &prcd);
		else if (code && strcmp(code, "CLBD") == 0)
			rc = read_balance(x, n, code, &clbd);
		free(code);
	}
	if (rc)
		return rc;
	if (opbd.have || prcd.have) {
		balance *o = opbd.have ? &opbd : &prcd;
		out->has_opening = true;
		out->opening_cents = o->cents;
		out->opening_date = o->date;
	}
	if (clbd.have) {
		out->has_closing = true;
		out->closing_cents = clbd.cents;
		out->closing_date = clbd.date;
	}
	return 0;
}

/* Entries ----------------------------------------------------------------- */

/* RmtInf/Ustrd elements joined by one space; NULL when there are none. */
static char *read_ustrd(camt_ctx *x, const xmlNode *rmt)
{
	char *all = NULL;
	size_t len = 0, cap = 0;

	if (!rmt)
		return NULL;
	for (xmlNode *n = rmt->children; n; n = n->next) {
		char *s;
		size_t k;
		if (!is_element(n, "Ustrd"))
			continue;
		s = text_of(n, &x->oom);
		if (!s)
			continue;
		k = strlen(s);
		if (len + k + 2 > cap) {
			size_t want = (len + k + 2) * 2;
			char *grown = realloc(all, want);
			if (!grown) {
				free(s);
				x->oom = true;
				break;
			}
			all = grown;
			cap = want;
		}
		if (len)
			all[len++] = ' ';
		memcpy(all + len, s, k + 1);
		len += k;
		free(s);
	}
	if (x->oom) {
		free(all);
		return NULL;
	}
	return all;
}

/* A party's name: Nm, or Pty/Nm in camt.053.001.08 and later. */
static char *party_name(camt_ctx *x, const xmlNode *party)
{
	const xmlNode *nm = child(party, "Nm");

	if (!nm)
		nm = path(party, "Pty/Nm");
	return text_of(nm, &x->oom);
}

static int read_tx(camt_ctx *x, const xmlNode *txd, bool credit, keten_camt_tx *t)
{
	const xmlNode *amt, *rmt, *parties;
	int rc;

	t->amount_cents = -1;
	t->end_to_end_id = text_of(path(txd, "Refs/EndToEndId"), &x->oom);
	if (t->end_to_end_id && strcmp(t->end_to_end_id, "NOTPROVIDED") == 0) {
		free(t->end_to_end_id);
		t->end_to_end_id = NULL;
	}
	rmt = child(txd, "RmtInf");
	t->remittance = read_ustrd(x, rmt);
	t->structured_ref = text_of(path(rmt, "Strd/CdtrRefInf/Ref"), &x->oom);
	parties = child(txd, "RltdPties");
	t->counterparty_name = party_name(x, child(parties, credit ? "Dbtr" : "Cdtr"));
	t->counterparty_iban = text_of(path(child(parties, credit ? "DbtrAcct" : "CdtrAcct"), "Id/IBAN"), &x->oom);
	if (x->oom)
		return oom(x);
	amt = child(txd, "Amt");
	if (!amt)
		amt = path(txd, "AmtDtls/TxAmt/Amt");
	if (amt && (rc = read_amount(x, txd, amt, "TxDtls", &t->amount_cents)))
		return rc;
	return 0;
}

static int read_entry(camt_ctx *x, const xmlNode *ntry, keten_camt_entry *e)
{
	char q[QUOTE_MAX], *s;
	const xmlNode *sts;
	size_t n_tx = 0;
	int rc;

	e->line = (size_t)line_of(ntry);
	if ((rc = read_amount(x, ntry, child(ntry, "Amt"), "Ntry", &e->amount_cents)) ||
	    (rc = read_direction(x, ntry, "Ntry", &e->credit)) ||
	    (rc = read_date(x, child(ntry, "BookgDt"), "BookgDt", &e->booking_date)) ||
	    (rc = read_date(x, child(ntry, "ValDt"), "ValDt", &e->value_date)))
		return rc;

	s = text_of(child(ntry, "RvslInd"), &x->oom);
	e->reversal = s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
	free(s);

	sts = child(ntry, "Sts");
	s = text_of(child(sts, "Cd") ? child(sts, "Cd") : sts, &x->oom);
	if (x->oom)
		return oom(x);
	if (!s)
		return bad(x, ntry, "missing Sts in Ntry");
	if (strlen(s) != 4 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 4) {
		rc = bad(x, sts, "bad Sts '%s' in Ntry (BOOK, PDNG or INFO)", quote(q, s));
		free(s);
		return rc;
	}
	memcpy(e->status, s, 5);
	free(s);
	if (strcmp(e->status, "BOOK") == 0 && !e->booking_date)
		return bad(x, ntry, "missing BookgDt in a booked Ntry");

	e->entry_ref = text_of(child(ntry, "NtryRef"), &x->oom);
	e->info = text_of(child(ntry, "AddtlNtryInf"), &x->oom);
	if (x->oom)
		return oom(x);

	for (xmlNode *d = ntry->children; d; d = d->next)
		if (is_element(d, "NtryDtls"))
			n_tx += count_children(d, "TxDtls");
	if (n_tx > KETEN_CAMT_MAX_TX - x->n_tx)
		return bad(x, ntry, "more than %u transactions (TxDtls) in one statement", KETEN_CAMT_MAX_TX);
	x->n_tx += n_tx;
	if (n_tx == 0)
		return 0;
	e->tx = calloc(n_tx, sizeof *e->tx);
	if (!e->tx)
		return oom(x);
	for (xmlNode *d = ntry->children; d; d = d->next) {
		if (!is_element(d, "NtryDtls"))
			continue;
		for (xmlNode *t = d->children; t; t = t->next) {
			if (!is_element(t, "TxDtls"))
				continue;
			rc = read_tx(x, t, e->credit, &e->tx[e->n_tx]);
			e->n_tx++;
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The statement ----------------------------------------------------------- */

static int read_statement(camt_ctx *x, const xmlNode *root, keten_camt_statement *out)
{
	char q[QUOTE_MAX];
	const xmlNode *bk, *stmt, *acct;
	size_t n, k = 0;
	char *ccy;
	int rc;

	bk = child(root, "BkToCstmrStmt");
	if (!bk)
		return bad(x, root, "not a camt.053 statement: Document has no BkToCstmrStmt");
	n = count_children(bk, "Stmt");
	if (n == 0)
		return bad(x, bk, "no Stmt in BkToCstmrStmt");
	if (n > 1)
		return bad(x, bk, "more than one Stmt in BkToCstmrStmt; keten reads one statement per file");
	stmt = child(bk, "Stmt");

	out->id = text_of(child(stmt, "Id"), &x->oom);
	acct = child(stmt, "Acct");
	out->iban = text_of(path(acct, "Id/IBAN"), &x->oom);
	ccy = text_of(child(acct, "Ccy"), &x->oom);
	if (x->oom) {
		free(ccy);
		return oom(x);
	}
	rc = 0;
	if (ccy && strcmp(ccy, "EUR") != 0)
		rc = bad(x, acct, "account currency is '%s'; keten reads EUR statements only", quote(q, ccy));
	free(ccy);
	if (rc)
		return rc;
	if (!out->id)
		return bad(x, stmt, "missing Id in Stmt");
	if (!out->iban)
		return bad(x, stmt, "missing Acct/Id/IBAN in Stmt");

	if ((rc = read_balances(x, stmt, out)))
		return rc;

	n = count_children(stmt, "Ntry");
	if (n > KETEN_CAMT_MAX_ENTRIES)
		return bad(x, stmt, "more than %u entries (Ntry) in one statement", KETEN_CAMT_MAX_ENTRIES);
	if (n == 0)
		return 0;
	out->entries = calloc(n, sizeof *out->entries);
	if (!out->entries)
		return oom(x);
	for (xmlNode *e = stmt->children; e; e = e->next) {
		if (!is_element(e, "Ntry"))
			continue;
		rc = read_entry(x, e, &out->entries[k]);
		out->n_entries = ++k;
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * The encoding the XML declaration at s names must keep ASCII as ASCII,
 * so that the DOCTYPE screen below sees what libxml2 will see (an EBCDIC
 * or UTF-16 declaration could hide one).  No declaration means UTF-8.
 */
static bool encoding_ok(const char *s, size_t len)
{
	static const char *const allowed[] = {"UTF-8",       "US-ASCII",     "ASCII", "ISO-8859-1",
	                                      "ISO-8859-15", "WINDOWS-1252", "CP1252"};
	const char *end, *p, *v;
	size_t k;

	if (len < 5 || memcmp(s, "<?xml", 5) != 0)
		return true;
	end = memmem(s, len < 512 ? len : 512, "?>", 2);
	if (!end)
		return false;
	p = memmem(s, (size_t)(end - s), "encoding", 8);
	if (!p)
		return true;
	p += 8;
	while (p < end && (is_space(*p) || *p == '='))
		p++;
	if (p >= end || (*p != '"' && *p != '\''))
		return false;
	v = p + 1;
	k = 0;
	while (v + k < end && v[k] != *p)
		k++;
	for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
		if (strlen(allowed[i]) == k && strncasecmp(allowed[i], v, k) == 0)
			return true;
	return false;
}

static const kt_xml_limits camt_limits = {
	.what = "camt.053 file",
	.max_bytes = KETEN_CAMT_MAX_BYTES,
	.max_depth = KETEN_CAMT_MAX_DEPTH,
	.max_attrs = KETEN_CAMT_MAX_ATTRS,
	.max_elements = KETEN_CAMT_MAX_ELEMENTS,
};

/* Screen the raw bytes before libxml2 reads them. */
static int screen(const uint8_t *xml, size_t len, keten_error *err)
{
	size_t i = 0;

	if (len == 0)
		return keten_fail(err, KETEN_EMALFORMED, "not XML: the camt.053 file is empty");
	if (len > KETEN_CAMT_MAX_BYTES)
		return kt_xml_scan(xml, len, &camt_limits, err); /* refuses the size */
	if (memchr(xml, 0, len))
		return keten_fail(err, KETEN_EMALFORMED, "not XML in UTF-8: the camt.053 file holds NUL bytes");
	if (len >= 3 && xml[0] == 0xef && xml[1] == 0xbb && xml[2] == 0xbf)
		i = 3;
	while (i < len && is_space((char)xml[i]))
		i++;
	if (i == len || xml[i] != '<')
		return keten_fail(err, KETEN_EMALFORMED, "not XML: the camt.053 file does not start with '<'");
	if (!encoding_ok((const char *)xml + i, len - i))
		return keten_fail(err, KETEN_EMALFORMED,
		                  "the camt.053 file declares an encoding keten does not read (use UTF-8)");
	if (memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8))
		return keten_fail(err, KETEN_EMALFORMED,
		                  "a DOCTYPE or entity declaration is not allowed in a camt.053 statement");
	return kt_xml_scan(xml, len, &camt_limits, err);
}

int keten_camt_parse(const uint8_t *xml, size_t len, keten_camt_statement *out, keten_error *err)
{
	camt_ctx x = {.err = err};
	xmlDocPtr doc;
	xmlNode *root;
	const char *href;
	char q[QUOTE_MAX];
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!xml || !out)
		return keten_fail(err, KETEN_EINVAL, "keten_camt_parse needs bytes and a statement");
	if ((rc = screen(xml, len, err)))
		return rc;

	if ((rc = kt_xml_read(xml, len, NULL, "camt.053 statement", &doc, err)))
		return rc;

	root = xmlDocGetRootElement(doc);
	href = root && root->ns && root->ns->href ? (const char *)root->ns->href : "";
	if (!root || !is_element(root, "Document")) {
		rc = bad(&x, root, "not a camt.053 statement: the root element is '%s', not Document",
		         root ? quote(q, (const char *)root->name) : "");
	} else if (strncmp(href, CAMT_NS_PREFIX, strlen(CAMT_NS_PREFIX)) != 0 || href[strlen(CAMT_NS_PREFIX)] == '\0') {
		rc = bad(&x, root, "not a camt.053 statement: namespace '%s' is not " CAMT_NS_PREFIX "*",
		         quote(q, href));
	} else {
		out->ns = strdup(href);
		rc = out->ns ? read_statement(&x, root, out) : oom(&x);
	}
	xmlFreeDoc(doc);
	if (rc)
		keten_camt_release(out);
	return rc;
}

static void release_tx(keten_camt_tx *t)
{
	free(t->end_to_end_id);
	free(t->remittance);
	free(t->structured_ref);
	free(t->counterparty_name);
	free(t->counterparty_iban);
}

void keten_camt_release(keten_camt_statement *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_entries; i++) {
		keten_camt_entry *e = &s->entries[i];
		for (size_t j = 0; j < e->n_tx; j++)
			release_tx(&e->tx[j]);
		free(e->tx);
		free(e->entry_ref);
		free(e->info);
	}
	free(s->entries);
	free(s->ns);
	free(s->id);
	free(s->iban);
	memset(s, 0, sizeof *s);
}

int keten_camt_check_balance(const keten_camt_statement *s, int64_t *computed, keten_error *err)
{
	int64_t credits = 0, debits = 0, sum;
	char o[32], c[32], d[32], cl[32], r[32];

	if (!s)
		return keten_fail(err, KETEN_EINVAL, "keten_camt_check_balance needs a statement");
	if (!s->has_opening)
		return keten_fail(err, KETEN_ENOTFOUND, "statement has no opening balance (OPBD or PRCD)");
	if (!s->has_closing)
		return keten_fail(err, KETEN_ENOTFOUND, "statement has no closing balance (CLBD)");
	for (size_t i = 0; i < s->n_entries; i++) {
		const keten_camt_entry *e = &s->entries[i];
		if (strcmp(e->status, "BOOK") != 0)
			continue;
		if (!keten_add_cents(e->credit ? credits : debits, e->amount_cents, e->credit ? &credits : &debits))
			return keten_fail(err, KETEN_EMALFORMED, "statement entries overflow a sum of cents");
	}
	if (!keten_add_cents(s->opening_cents, credits, &sum) || !keten_sub_cents(sum, debits, &sum))
		return keten_fail(err, KETEN_EMALFORMED, "statement balances overflow a sum of cents");
	if (computed)
		*computed = sum;
	if (sum != s->closing_cents) {
		keten_format_cents(o, sizeof o, s->opening_cents);
		keten_format_cents(c, sizeof c, credits);
		keten_format_cents(d, sizeof d, debits);
		keten_format_cents(r, sizeof r, sum);
		keten_format_cents(cl, sizeof cl, s->closing_cents);
		return keten_fail(err, KETEN_EMALFORMED,
		                  "closing balance %s differs from opening %s + credits %s - debits %s = %s", cl, o, c,
		                  d, r);
	}
	return 0;
}
