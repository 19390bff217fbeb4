/*
 * ijw.c — the iJw / iWmo 3.2 message reader (see keten/ijw.h): screening
 * the bytes, building the tree, the header, the value types every
 * message shares, the client pseudonym and the message digest.  The
 * bodies of the four message kinds are read by ijw_body.c.
 *
 * Screening comes before libxml2 sees anything: the size, NUL bytes, a
 * leading '<', the declared encoding (UTF-8 only), no DOCTYPE and no
 * entity declaration anywhere, and one pass over the markup that counts
 * nesting depth, attributes per element and elements against the limits
 * of keten/limits.h (formats/xml.c, shared with the camt.053 reader), so
 * that a hostile file is refused before a tree of it is built.  libxml2 then parses
 * without network access and without substituting entities (with no
 * DTD, a reference to any entity but the five predefined ones is a
 * well-formedness error).  The tree is checked element by element
 * against the children the 3.2 schema allows (kt_ijw_children), since
 * the published schemas import a basisschema that is not published with
 * them and cannot be used to validate.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <sodium.h>

#include "formats/ijw.h"
#include "formats/xml.h"
#include "base/base.h"

#define NS_IJW  "http://www.istandaarden.nl/ijw/3_2/"
#define NS_IWMO "http://www.istandaarden.nl/iwmo/3_2/"
#define NS_XSI  "http://www.w3.org/2001/XMLSchema-instance"

static const struct {
	const char *ns, *name, *domain;
	keten_ijw_kind kind;
	uint32_t code;
} kinds[] = {
	{NS_IJW "jw301/schema", "JW301", "jeugd", KETEN_IJW_ALLOCATION, 436},
	{NS_IJW "jw305/schema", "JW305", "jeugd", KETEN_IJW_START, 438},
	{NS_IJW "jw307/schema", "JW307", "jeugd", KETEN_IJW_STOP, 440},
	{NS_IJW "jw323/schema", "JW323", "jeugd", KETEN_IJW_CLAIM, 490},
	{NS_IWMO "wmo301/schema", "WMO301", "wmo", KETEN_IJW_ALLOCATION, 414},
	{NS_IWMO "wmo305/schema", "WMO305", "wmo", KETEN_IJW_START, 418},
	{NS_IWMO "wmo307/schema", "WMO307", "wmo", KETEN_IJW_STOP, 420},
	{NS_IWMO "wmo323/schema", "WMO323", "wmo", KETEN_IJW_CLAIM, 484},
};

const char *keten_ijw_name(keten_ijw_kind kind, const char *domain)
{
	for (size_t i = 0; domain && i < KT_COUNT(kinds); i++)
		if (kinds[i].kind == kind && strcmp(kinds[i].domain, domain) == 0)
			return kinds[i].name;
	return "";
}

/* Messages ------------------------------------------------------------------- */

int kt_ijw_oom(kt_ijw *x)
{
	return keten_fail(x->err, KETEN_ENOMEM, "out of memory reading an iJw message");
}

int kt_ijw_bad(kt_ijw *x, const xmlNode *n, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n && xmlGetLineNo(n) > 0)
		return keten_fail(x->err, KETEN_EMALFORMED, "%s: %s (line %ld)", x->part, msg, xmlGetLineNo(n));
	return keten_fail(x->err, KETEN_EMALFORMED, "%s: %s", x->part, msg);
}

const char *kt_ijw_quote(char buf[KT_IJW_QUOTE], const char *s)
{
	size_t i = 0;

	if (!s)
		s = "";
	for (; *s && i + 4 < KT_IJW_QUOTE; s++)
		buf[i++] = ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\'') ? '?' : *s;
	if (*s) {
		while (i > 0 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80)
			i--;
		if (i > 0 && (unsigned char)buf[i - 1] >= 0xc0)
			i--;
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* Screening ------------------------------------------------------------------ */

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* An XML declaration may name UTF-8 only (the 3.2 messages are UTF-8). */
static bool encoding_ok(const char *s, size_t len)
{
	const char *end, *p;

	if (len < 5 || memcmp(s, "<?xml", 5) != 0)
		return true;
	if (!(end = memmem(s, len, "?>", 2)))
		return true; /* not well-formed: libxml2 says so */
	if (!(p = memmem(s, (size_t)(end - s), "encoding", 8)))
		return true;
	p += 8;
	while (p < end && (is_space(*p) || *p == '='))
		p++;
	if (p < end && (*p == '"' || *p == '\''))
		p++;
	return end - p >= 5 && strncasecmp(p, "utf-8", 5) == 0 && (p[5] == '"' || p[5] == '\'');
}

static const kt_xml_limits ijw_limits = {
	.what = "message",
	.max_bytes = KETEN_IJW_MAX_BYTES,
	.max_depth = KETEN_IJW_MAX_DEPTH,
	.max_attrs = KETEN_IJW_MAX_ATTRS,
	.max_elements = KETEN_IJW_MAX_ELEMENTS,
};

static int screen(const uint8_t *xml, size_t len, keten_error *err)
{
	size_t i = 0;

	if (len > KETEN_IJW_MAX_BYTES)
		return kt_xml_scan(xml, len, &ijw_limits, err); /* refuses the size */
	if (memchr(xml, 0, len))
		return keten_fail(err, KETEN_EMALFORMED, "not XML in UTF-8: the message holds NUL bytes");
	if (len >= 3 && xml[0] == 0xef && xml[1] == 0xbb && xml[2] == 0xbf)
		i = 3;
	while (i < len && is_space(xml[i]))
		i++;
	if (i == len || xml[i] != '<')
		return keten_fail(err, KETEN_EMALFORMED, "not XML: the message does not start with '<'");
	if (!encoding_ok((const char *)xml + i, len - i))
		return keten_fail(err, KETEN_EMALFORMED, "the message declares an encoding other than UTF-8");
	if (memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8) || memmem(xml, len, "<!doctype", 9))
		return keten_fail(err, KETEN_EMALFORMED,
		                  "a DOCTYPE or entity declaration is not allowed in an iJw message");
	return kt_xml_scan(xml, len, &ijw_limits, err);
}

/* Tree helpers ----------------------------------------------------------------- */

bool kt_ijw_is(const kt_ijw *x, const xmlNode *n, const char *name, int ns)
{
	return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0 && n->ns && n->ns->href &&
		strcmp((const char *)n->ns->href, x->ns[ns]) == 0;
}

/* Non-element children: white space, comments and processing instructions only. */
static int no_text(kt_ijw *x, const xmlNode *parent, const xmlNode *c)
{
	if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
		return KETEN_OK;
	if (c->type == XML_TEXT_NODE && c->content) {
		for (const xmlChar *p = c->content; *p; p++)
			if (!is_space(*p))
				return kt_ijw_bad(x, c, "text inside %s, which holds elements only",
				                  (const char *)parent->name);
		return KETEN_OK;
	}
	return kt_ijw_bad(x, c, "unexpected content inside %s", (const char *)parent->name);
}

/* The spec index child c matches, or -1 (and *wrong_ns when only its namespace differs). */
static int spec_of(const kt_ijw *x, const xmlNode *c, const kt_ijw_spec *s, size_t n, bool *wrong_ns)
{
	*wrong_ns = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp((const char *)c->name, s[i].name) != 0)
			continue;
		if (kt_ijw_is(x, c, s[i].name, s[i].ns))
			return (int)i;
		*wrong_ns = true;
	}
	return -1;
}

static int missing(kt_ijw *x, const xmlNode *at, const xmlNode *parent, const kt_ijw_spec *s)
{
	return kt_ijw_bad(x, at, "%s lacks its required element %s", (const char *)parent->name, s->name);
}

int kt_ijw_children(kt_ijw *x, const xmlNode *parent, const kt_ijw_spec *s, size_t n, const xmlNode **found)
{
	size_t at = 0, count[32] = {0};
	char q[KT_IJW_QUOTE];
	int rc;

	KETEN_ASSERT(n <= KT_COUNT(count));
	for (size_t i = 0; i < n; i++)
		found[i] = NULL;
	if (parent->properties)
		return kt_ijw_bad(x, parent, "%s carries an attribute; iJw elements have none",
		                  (const char *)parent->name);
	for (const xmlNode *c = parent->children; c; c = c->next) {
		bool wrong_ns;
		int j;
		if (c->type != XML_ELEMENT_NODE) {
			if ((rc = no_text(x, parent, c)))
				return rc;
			continue;
		}
		if ((j = spec_of(x, c, s, n, &wrong_ns)) < 0)
			return kt_ijw_bad(x, c,
			                  wrong_ns ? "element '%s' is in the wrong namespace"
			                           : "unknown element '%s' in %s",
			                  kt_ijw_quote(q, (const char *)c->name), (const char *)parent->name);
		if ((size_t)j < at)
			return kt_ijw_bad(x, c, "element %s is out of order in %s", s[j].name,
			                  (const char *)parent->name);
		for (; at < (size_t)j; at++)
			if (count[at] < s[at].min)
				return missing(x, c, parent, &s[at]);
		if (s[j].max && count[j] >= s[j].max)
			return kt_ijw_bad(x, c, "element %s appears more than %u times in %s", s[j].name, s[j].max,
			                  (const char *)parent->name);
		if (!count[j]++)
			found[j] = c;
	}
	for (; at < n; at++)
		if (count[at] < s[at].min)
			return missing(x, parent, parent, &s[at]);
	return KETEN_OK;
}

int kt_ijw_text(kt_ijw *x, const xmlNode *n, const char *what, char *buf, size_t cap)
{
	size_t len = 0;
	const char *p;

	buf[0] = '\0';
	if (!n)
		return KETEN_OK;
	if (n->properties)
		return kt_ijw_bad(x, n, "%s carries an attribute; iJw elements have none", what);
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
			continue;
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			return kt_ijw_bad(x, n, "%s holds elements; it is a plain value", what);
		for (p = (const char *)c->content; p && *p; p++) {
			if (len + 1 >= cap)
				return kt_ijw_bad(x, n, "%s is longer than %zu characters", what, cap - 1);
			buf[len++] = *p;
		}
	}
	buf[len] = '\0';
	for (p = buf; is_space(*p); p++)
		;
	len = strlen(p);
	memmove(buf, p, len + 1);
	while (len && is_space(buf[len - 1]))
		buf[--len] = '\0';
	if (!len)
		return kt_ijw_bad(x, n, "%s is empty", what);
	return KETEN_OK;
}

/* Value types ------------------------------------------------------------------ */

int kt_ijw_date(kt_ijw *x, const xmlNode *n, const char *what, uint32_t *out)
{
	char buf[16], q[KT_IJW_QUOTE];
	int rc;

	*out = 0;
	if ((rc = kt_ijw_text(x, n, what, buf, sizeof buf)))
		return rc;
	if (keten_parse_date(buf, out))
		return kt_ijw_bad(x, n, "%s '%s' is not a date (YYYY-MM-DD)", what, kt_ijw_quote(q, buf));
	return KETEN_OK;
}

static bool digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int kt_ijw_digits(kt_ijw *x, const xmlNode *n, const char *what, size_t maxlen, bool exact, char *buf, size_t cap)
{
	char q[KT_IJW_QUOTE];
	int rc;

	KETEN_ASSERT(maxlen < cap);
	if ((rc = kt_ijw_text(x, n, what, buf, cap)))
		return rc;
	if (!digits(buf) || strlen(buf) > maxlen || (exact && strlen(buf) != maxlen))
		return kt_ijw_bad(x, n, "%s '%s' is not %s%zu digits", what, kt_ijw_quote(q, buf), exact ? "" : "1 to ",
		                  maxlen);
	return KETEN_OK;
}

int kt_ijw_count(kt_ijw *x, const xmlNode *n, const char *what, size_t maxdigits, int64_t *out)
{
	char buf[24];
	int rc;

	KETEN_ASSERT(maxdigits <= 15);
	*out = 0;
	if ((rc = kt_ijw_digits(x, n, what, maxdigits, false, buf, sizeof buf)))
		return rc;
	*out = strtoll(buf, NULL, 10);
	return KETEN_OK;
}

int kt_ijw_alnum(kt_ijw *x, const xmlNode *n, const char *what, size_t maxlen, char *buf, size_t cap)
{
	char q[KT_IJW_QUOTE];
	int rc;

	KETEN_ASSERT(maxlen < cap);
	if ((rc = kt_ijw_text(x, n, what, buf, cap)))
		return rc;
	for (const char *p = buf; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return kt_ijw_bad(x, n, "%s '%s' holds characters other than letters and digits", what,
			                  kt_ijw_quote(q, buf));
	if (strlen(buf) > maxlen)
		return kt_ijw_bad(x, n, "%s '%s' is longer than %zu characters", what, kt_ijw_quote(q, buf), maxlen);
	return KETEN_OK;
}

int kt_ijw_code(kt_ijw *x, const xmlNode *n, const char *what, const char *const *codes, size_t ncodes, char *buf,
                size_t cap)
{
	char q[KT_IJW_QUOTE];
	int rc;

	if ((rc = kt_ijw_text(x, n, what, buf, cap)))
		return rc;
	for (size_t i = 0; i < ncodes; i++)
		if (strcmp(codes[i], buf) == 0)
			return KETEN_OK;
	return kt_ijw_bad(x, n, "%s '%s' is not in its code list", what, kt_ijw_quote(q, buf));
}

int kt_ijw_period(kt_ijw *x, const xmlNode *n, const char *what, bool open, uint32_t *from, uint32_t *until)
{
	static const kt_ijw_spec req[] = {{"Begindatum", KT_IJW_BASE, 1, 1}, {"Einddatum", KT_IJW_BASE, 1, 1}};
	static const kt_ijw_spec opt[] = {{"Begindatum", KT_IJW_BASE, 1, 1}, {"Einddatum", KT_IJW_BASE, 0, 1}};
	const xmlNode *f[2];
	int rc;

	*from = *until = 0;
	if ((rc = kt_ijw_children(x, n, open ? opt : req, 2, f)) || (rc = kt_ijw_date(x, f[0], "Begindatum", from)) ||
	    (f[1] && (rc = kt_ijw_date(x, f[1], "Einddatum", until))))
		return rc;
	if (*until && *until < *from)
		return kt_ijw_bad(x, n, "%s ends before it begins", what);
	return KETEN_OK;
}

int kt_ijw_amount_dc(kt_ijw *x, const xmlNode *n, const char *amount_name, int64_t *cents, bool *credit)
{
	kt_ijw_spec s[] = {{amount_name, KT_IJW_BASE, 1, 1}, {"DebetCredit", KT_IJW_BASE, 1, 1}};
	static const char *const dc[] = {"D", "C"};
	const xmlNode *f[2];
	char d[4];
	int rc;

	if ((rc = kt_ijw_children(x, n, s, 2, f)) || (rc = kt_ijw_count(x, f[0], amount_name, 12, cents)) ||
	    (rc = kt_ijw_code(x, f[1], "DebetCredit", dc, 2, d, sizeof d)))
		return rc;
	*credit = d[0] == 'C';
	return KETEN_OK;
}

int kt_ijw_product(kt_ijw *x, const xmlNode *n, char category[4], char code[8])
{
	static const kt_ijw_spec s[] = {{"Categorie", KT_IJW_BASE, 1, 1}, {"Code", KT_IJW_BASE, 0, 1}};
	const xmlNode *f[2];
	int rc;

	category[0] = code[0] = '\0';
	if ((rc = kt_ijw_children(x, n, s, 2, f)) ||
	    (rc = kt_ijw_digits(x, f[0], "Product Categorie", 2, true, category, 4)))
		return rc;
	if (f[1] && (rc = kt_ijw_alnum(x, f[1], "Product Code", 5, code, 8)))
		return rc;
	if (f[1] && strlen(code) != 5)
		return kt_ijw_bad(x, f[1], "Product Code '%s' is not 5 characters", code);
	return KETEN_OK;
}

/* The pseudonym ------------------------------------------------------------------ */

void keten_ijw_pseudonym(const uint8_t key[32], const char *bsn, char out[KETEN_IJW_REF_LEN + 1])
{
	static const char tag[] = "keten/ijw/client/v1";
	crypto_generichash_state st;
	uint8_t h[32];

	crypto_generichash_init(&st, key, 32, sizeof h);
	crypto_generichash_update(&st, (const uint8_t *)tag, sizeof tag - 1);
	crypto_generichash_update(&st, (const uint8_t *)bsn, strlen(bsn));
	crypto_generichash_final(&st, h, sizeof h);
	memcpy(out, "ijw-", 4);
	for (size_t i = 0; i < 12; i++) {
		out[4 + 2 * i] = (char)('a' + (h[i] >> 4));
		out[5 + 2 * i] = (char)('a' + (h[i] & 15));
	}
	out[KETEN_IJW_REF_LEN] = '\0';
	sodium_memzero(h, sizeof h);
	sodium_memzero(&st, sizeof st);
}

int kt_ijw_bsn(kt_ijw *x, const xmlNode *n, char ref[KETEN_IJW_REF_LEN + 1])
{
	char bsn[16];
	int rc;

	ref[0] = '\0';
	/* the digits are never quoted in a message */
	rc = kt_ijw_text(x, n, "Bsn", bsn, sizeof bsn);
	if (rc == KETEN_OK && (strlen(bsn) != 9 || !digits(bsn) || !keten_is_bsn(bsn)))
		rc = kt_ijw_bad(x, n, "Bsn is not nine digits passing the 11-test");
	if (rc == KETEN_OK && x->key)
		keten_ijw_pseudonym(x->key, bsn, ref);
	sodium_memzero(bsn, sizeof bsn);
	return rc;
}

/* The header ------------------------------------------------------------------------ */

static int read_header(kt_ijw *x, const xmlNode *h, keten_ijw_message *m, uint32_t code)
{
	static const kt_ijw_spec s[] = {
		{"BerichtCode", KT_IJW_MSG, 1, 1},      {"BerichtVersie", KT_IJW_MSG, 1, 1},
		{"BerichtSubversie", KT_IJW_MSG, 1, 1}, {"Afzender", KT_IJW_MSG, 1, 1},
		{"Ontvanger", KT_IJW_MSG, 1, 1},        {"BerichtIdentificatie", KT_IJW_MSG, 1, 1},
		{"XsdVersie", KT_IJW_MSG, 1, 1},
	};
	static const kt_ijw_spec id[] = {{"Identificatie", KT_IJW_BASE, 1, 1}, {"Dagtekening", KT_IJW_BASE, 1, 1}};
	static const kt_ijw_spec xsd[] = {{"BasisschemaXsdVersie", KT_IJW_BASE, 1, 1},
	                                  {"BerichtXsdVersie", KT_IJW_BASE, 1, 1}};
	const xmlNode *f[7], *g[2], *v[2];
	bool muni_sends = m->kind == KETEN_IJW_ALLOCATION;
	char buf[16];
	int rc;

	snprintf(x->part, sizeof x->part, "Header");
	if ((rc = kt_ijw_children(x, h, s, KT_COUNT(s), f)) ||
	    (rc = kt_ijw_digits(x, f[0], "BerichtCode", 3, true, buf, sizeof buf)))
		return rc;
	if ((uint32_t)atoi(buf) != code)
		return kt_ijw_bad(x, f[0], "BerichtCode %s is not %u, the code of a %s", buf, code, m->name);
	m->code = code;
	if ((rc = kt_ijw_digits(x, f[1], "BerichtVersie", 2, false, buf, sizeof buf)))
		return rc;
	if (strcmp(buf, "3") != 0)
		return kt_ijw_bad(x, f[1], "BerichtVersie %s is not 3 (release 3.2)", buf);
	if ((rc = kt_ijw_digits(x, f[2], "BerichtSubversie", 2, false, buf, sizeof buf)))
		return rc;
	if (strcmp(buf, "2") != 0)
		return kt_ijw_bad(x, f[2], "BerichtSubversie %s is not 2 (release 3.2)", buf);
	if ((rc = kt_ijw_digits(x, f[3], muni_sends ? "Afzender (CBS code)" : "Afzender (AGB code)", muni_sends ? 4 : 8,
	                        true, m->sender, sizeof m->sender)) ||
	    (rc = kt_ijw_digits(x, f[4], muni_sends ? "Ontvanger (AGB code)" : "Ontvanger (CBS code)",
	                        muni_sends ? 8 : 4, true, m->receiver, sizeof m->receiver)))
		return rc;
	if ((rc = kt_ijw_children(x, f[5], id, 2, g)) ||
	    (rc = kt_ijw_alnum(x, g[0], "Identificatie", 20, m->identification, sizeof m->identification)) ||
	    (rc = kt_ijw_date(x, g[1], "Dagtekening", &m->dated)) || (rc = kt_ijw_children(x, f[6], xsd, 2, v)))
		return rc;
	for (int i = 0; i < 2; i++) {
		char q[KT_IJW_QUOTE];
		unsigned a, b, c;
		char tail;
		if ((rc = kt_ijw_text(x, v[i], v[i] ? (const char *)v[i]->name : "XsdVersie", buf, sizeof buf)))
			return rc;
		if (sscanf(buf, "%u.%u.%u%c", &a, &b, &c, &tail) != 3)
			return kt_ijw_bad(x, v[i], "%s '%s' is not a version (1.0.0)", (const char *)v[i]->name,
			                  kt_ijw_quote(q, buf));
	}
	return KETEN_OK;
}

/* The digest -------------------------------------------------------------------------- */

static void put_str(crypto_generichash_state *st, const char *s)
{
	size_t len = strlen(s);
	uint8_t n[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
	crypto_generichash_update(st, n, 4);
	crypto_generichash_update(st, (const uint8_t *)s, len);
}

static void put_int(crypto_generichash_state *st, int64_t v)
{
	char buf[24];
	snprintf(buf, sizeof buf, "%lld", (long long)v);
	put_str(st, buf);
}

static void digest_of(keten_ijw_message *m)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, sizeof m->digest);
	put_str(&st, "keten/ijw/message/v1");
	put_str(&st, m->name);
	put_str(&st, m->sender);
	put_str(&st, m->receiver);
	put_str(&st, m->client_ref);
	put_str(&st, m->claim_number);
	put_int(&st, m->claim_from);
	put_int(&st, m->claim_until);
	put_int(&st, m->claim_date);
	put_int(&st, m->total_cents);
	put_int(&st, (int64_t)m->n_products);
	for (size_t i = 0; i < m->n_products; i++) {
		const keten_ijw_product *p = &m->products[i];
		const char *s[] = {p->number, p->category,  p->code,      p->change_reason,
		                   p->unit,   p->frequency, p->stop_code, p->status};
		const int64_t v[] = {p->start,  p->end,        p->allocation_start, p->has_volume,
		                     p->volume, p->has_budget, p->budget_cents};
		for (size_t k = 0; k < KT_COUNT(s); k++)
			put_str(&st, s[k]);
		for (size_t k = 0; k < KT_COUNT(v); k++)
			put_int(&st, v[k]);
	}
	put_int(&st, (int64_t)m->n_prestaties);
	for (size_t i = 0; i < m->n_prestaties; i++) {
		const keten_ijw_prestatie *p = &m->prestaties[i];
		const char *s[] = {p->client_ref, p->reference, p->previous, p->number, p->category, p->code, p->unit};
		const int64_t v[] = {(int64_t)p->client, p->period_from,  p->period_until, p->volume,
		                     p->has_tariff,      p->tariff_cents, p->amount_cents, p->credit};
		for (size_t k = 0; k < KT_COUNT(s); k++)
			put_str(&st, s[k]);
		for (size_t k = 0; k < KT_COUNT(v); k++)
			put_int(&st, v[k]);
	}
	crypto_generichash_final(&st, m->digest, sizeof m->digest);
}

/* Parsing ----------------------------------------------------------------------------- */

/* The root: one of the eight messages, its namespace and code. */
static int read_root(kt_ijw *x, const xmlNode *root, keten_ijw_message *m)
{
	static const kt_ijw_spec client[] = {{"Header", KT_IJW_MSG, 1, 1}, {"Client", KT_IJW_MSG, 1, 1}};
	static const kt_ijw_spec claim[] = {{"Header", KT_IJW_MSG, 1, 1}, {"Declaratie", KT_IJW_MSG, 1, 1}};
	const char *href = root && root->ns && root->ns->href ? (const char *)root->ns->href : "";
	const xmlNode *f[2];
	size_t k = KT_COUNT(kinds);
	char q[KT_IJW_QUOTE];
	xmlNode copy;
	int rc;

	snprintf(x->part, sizeof x->part, "Bericht");
	for (size_t i = 0; i < KT_COUNT(kinds); i++)
		if (strcmp(href, kinds[i].ns) == 0)
			k = i;
	if (!root || strcmp((const char *)root->name, "Bericht") != 0 || k == KT_COUNT(kinds))
		return kt_ijw_bad(x, root, "not an iJw or iWmo 3.2 message: the root is '%s' in namespace '%s'",
		                  root ? kt_ijw_quote(q, (const char *)root->name) : "", href);
	m->kind = kinds[k].kind;
	m->domain = kinds[k].domain;
	snprintf(m->name, sizeof m->name, "%s", kinds[k].name);
	x->ns[KT_IJW_MSG] = kinds[k].ns;
	x->ns[KT_IJW_BASE] = m->domain[0] == 'j' ? NS_IJW "basisschema/schema" : NS_IWMO "basisschema/schema";
	/* the root may carry xsi attributes (a schemaLocation) and nothing else */
	for (const xmlAttr *a = root->properties; a; a = a->next)
		if (!a->ns || !a->ns->href || strcmp((const char *)a->ns->href, NS_XSI) != 0)
			return kt_ijw_bad(x, root, "Bericht carries attribute '%s'",
			                  kt_ijw_quote(q, (const char *)a->name));
	copy = *root;
	copy.properties = NULL;
	if ((rc = kt_ijw_children(x, &copy, m->kind == KETEN_IJW_CLAIM ? claim : client, 2, f)) ||
	    (rc = read_header(x, f[0], m, kinds[k].code)))
		return rc;
	if (m->kind == KETEN_IJW_ALLOCATION)
		return kt_ijw_read_allocation(x, f[1], m);
	if (m->kind == KETEN_IJW_CLAIM)
		return kt_ijw_read_claim(x, f[1], m);
	return kt_ijw_read_start_stop(x, f[1], m);
}

static int parse_tree(const uint8_t *xml, size_t len, xmlDocPtr *doc, keten_error *err)
{
	return kt_xml_read(xml, len, "UTF-8", "iJw message", doc, err);
}

int keten_ijw_parse(const uint8_t *xml, size_t len, const uint8_t key[32], keten_ijw_message *out, keten_error *err)
{
	kt_ijw x = {.err = err, .key = key};
	xmlDocPtr doc;
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!xml || !out)
		return keten_fail(err, KETEN_EINVAL, "keten_ijw_parse needs bytes and a message");
	if (sodium_init() < 0)
		return keten_fail(err, KETEN_ECRYPTO, "libsodium failed to initialise");
	if ((rc = screen(xml, len, err)) || (rc = parse_tree(xml, len, &doc, err)))
		return rc;
	rc = read_root(&x, xmlDocGetRootElement(doc), out);
	xmlFreeDoc(doc);
	if (rc == KETEN_OK)
		digest_of(out);
	else
		keten_ijw_release(out);
	return rc;
}

void keten_ijw_release(keten_ijw_message *m)
{
	if (!m)
		return;
	free(m->products);
	free(m->prestaties);
	sodium_memzero(m, sizeof *m);
}
