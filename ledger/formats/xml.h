/*
 * xml.h — (internal) what the XML readers share (camt.c, ijw.c): the
 * limits pass over the bytes and the one way libxml2 is called.
 *
 * kt_xml_scan counts, over the raw bytes and before any tree exists,
 * the elements, the attributes of each element (namespace declarations
 * included) and the nesting depth, and stops at the first excess with a
 * message naming the limit, the value and the line.  A markup
 * declaration (<!DOCTYPE, <!ENTITY, ...) is refused there too.
 * kt_xml_read then parses with KT_XML_OPTIONS only: no network, no
 * entity substitution, no DTD loading, and never XML_PARSE_HUGE, so
 * libxml2's own limits (names, text nodes, depth 256) stay on.
 */
#ifndef KETEN_FORMATS_XML_H
#define KETEN_FORMATS_XML_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/parser.h>

#include "keten/keten.h"

/* The only options any reader passes to libxml2. */
#define KT_XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

typedef struct kt_xml_limits {
	const char *what; /* "camt.053 file", "message": for messages */
	size_t max_bytes, max_depth, max_attrs, max_elements;
} kt_xml_limits;

/* The size, then depth, attributes and elements of xml; KETEN_EMALFORMED
 * naming the first limit exceeded. */
int kt_xml_scan(const uint8_t *xml, size_t len, const kt_xml_limits *lim, keten_error *err);

/* Parse xml (already screened and scanned) into *doc; encoding NULL to
 * follow the declaration.  KETEN_EMALFORMED with libxml2's first error
 * and its line, or when the document carries a DOCTYPE. */
int kt_xml_read(const uint8_t *xml, size_t len, const char *encoding, const char *what, xmlDocPtr *doc,
                keten_error *err);

#endif
