/*
 * xml.c — what the XML readers share (see formats/xml.h): one pass over
 * the bytes that refuses the first excess of a limit before libxml2
 * builds anything, and the one call into libxml2.
 *
 * The pass finds markup by '<': in well-formed XML a '<' outside a
 * comment, a CDATA section or a processing instruction (all skipped
 * whole) starts a tag, and inside a tag each '=' outside a quoted value
 * belongs to one attribute.  A document the pass misreads is not
 * well-formed, and libxml2 then stops at its first error.  The pass is
 * linear in the bytes; the line of a refusal is counted only then.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "formats/xml.h"
#include "base/base.h"

static size_t line_at(const char *s, const char *p)
{
	size_t line = 1;
	for (const char *q = s; (q = memchr(q, '\n', (size_t)(p - q))); q++)
		line++;
	return line;
}

/* The end of the markup at s that closes with `close`, or NULL. */
static const char *skip_to(const char *s, const char *end, const char *close)
{
	const char *p = memmem(s, (size_t)(end - s), close, strlen(close));
	return p ? p + strlen(close) : NULL;
}

/*
 * One element tag at p ('<' then a name): its attributes (each '='
 * outside a quoted value counts one, namespace declarations included)
 * and whether it closes itself.  Returns the byte after '>', or NULL
 * when the tag does not end (libxml2 then reports it).
 */
static const char *scan_tag(const char *p, const char *end, size_t *attrs, bool *empty)
{
	char quote = 0;

	*attrs = 0;
	for (p++; p < end; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '=') {
			(*attrs)++;
		} else if (*p == '>') {
			*empty = p[-1] == '/';
			return p + 1;
		}
	}
	return NULL;
}

/* One start tag at p, counted against the limits; the byte after it. */
static int start_tag(const char *s, const char **pp, const char *end, size_t *depth, size_t *elements,
                     const kt_xml_limits *lim, keten_error *err)
{
	const char *p = *pp;
	size_t attrs;
	bool empty = false;

	if (++*elements > lim->max_elements)
		return keten_fail(err, KETEN_EMALFORMED,
		                  "the %s has more than the limit of %zu elements (element %zu is at line %zu)",
		                  lim->what, lim->max_elements, *elements, line_at(s, p));
	*pp = scan_tag(p, end, &attrs, &empty);
	if (attrs > lim->max_attrs)
		return keten_fail(err, KETEN_EMALFORMED,
		                  "the %s has an element with %zu attributes at line %zu, more than the limit of %zu",
		                  lim->what, attrs, line_at(s, p), lim->max_attrs);
	if (*pp && !empty && ++*depth > lim->max_depth)
		return keten_fail(err, KETEN_EMALFORMED,
		                  "elements nest %zu levels deep at line %zu of the %s, deeper than the limit of %zu",
		                  *depth, line_at(s, p), lim->what, lim->max_depth);
	return KETEN_OK;
}

int kt_xml_scan(const uint8_t *xml, size_t len, const kt_xml_limits *lim, keten_error *err)
{
	const char *s = (const char *)xml, *p = s, *end = s + len;
	size_t depth = 0, elements = 0;
	int rc;

	KETEN_ASSERT(lim && lim->what && (xml || len == 0));
	if (len > lim->max_bytes)
		return keten_fail(err, KETEN_EMALFORMED, "the %s of %zu bytes is larger than the limit of %zu bytes",
		                  lim->what, len, lim->max_bytes);
	while (p && (p = memchr(p, '<', (size_t)(end - p)))) {
		if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			p = skip_to(p + 4, end, "-->");
		} else if (end - p >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
			p = skip_to(p + 9, end, "]]>");
		} else if (end - p >= 2 && p[1] == '?') {
			p = skip_to(p + 2, end, "?>");
		} else if (end - p >= 2 && p[1] == '!') {
			return keten_fail(err, KETEN_EMALFORMED,
			                  "a DOCTYPE or other markup declaration is not allowed in the %s (line %zu)",
			                  lim->what, line_at(s, p));
		} else if (end - p >= 2 && p[1] == '/') {
			depth -= depth > 0;
			p = skip_to(p + 2, end, ">");
		} else if ((rc = start_tag(s, &p, end, &depth, &elements, lim, err))) {
			return rc;
		}
	}
	return KETEN_OK;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* libxml2's message, trimmed and made printable, into buf. */
static void error_text(const xmlError *e, char *buf, size_t cap)
{
	size_t k;

	snprintf(buf, cap, "%s", e && e->message ? e->message : "unreadable");
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\'')
			*c = '?';
	k = strlen(buf);
	if (k + 1 == cap) /* cut short: not inside a UTF-8 sequence */
		while (k && ((unsigned char)buf[k - 1] & 0x80))
			buf[--k] = '\0';
	while (k && (is_space(buf[k - 1]) || buf[k - 1] == '?'))
		buf[--k] = '\0';
}

int kt_xml_read(const uint8_t *xml, size_t len, const char *encoding, const char *what, xmlDocPtr *doc,
                keten_error *err)
{
	xmlParserCtxtPtr pc;
	char msg[160];
	int rc = KETEN_OK;

	/* checked here, where the options meet libxml2: never HUGE, never
	 * entities substituted, never a DTD or anything from the network */
	_Static_assert((KT_XML_OPTIONS &
	                (XML_PARSE_HUGE | XML_PARSE_NOENT | XML_PARSE_DTDLOAD | XML_PARSE_DTDATTR | XML_PARSE_DTDVALID |
	                 XML_PARSE_XINCLUDE)) == 0,
	               "forbidden libxml2 option");
	_Static_assert((KT_XML_OPTIONS & XML_PARSE_NONET) != 0, "XML_PARSE_NONET missing");
	KETEN_ASSERT(xml && doc && what && len <= (size_t)INT32_MAX);
	*doc = NULL;
	if (!(pc = xmlNewParserCtxt()))
		return keten_fail(err, KETEN_ENOMEM, "out of memory reading the %s", what);
	*doc = xmlCtxtReadMemory(pc, (const char *)xml, (int)len, NULL, encoding, KT_XML_OPTIONS);
	if (!*doc) {
		error_text(&pc->lastError, msg, sizeof msg);
		rc = keten_fail(err, KETEN_EMALFORMED, "not well-formed XML at line %d: %s", pc->lastError.line, msg);
	} else if ((*doc)->intSubset || (*doc)->extSubset) {
		rc = keten_fail(err, KETEN_EMALFORMED, "a DOCTYPE is not allowed in the %s", what);
		xmlFreeDoc(*doc);
		*doc = NULL;
	}
	xmlFreeParserCtxt(pc);
	return rc;
}
