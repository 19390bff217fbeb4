/*
 * ijw.h — (internal) what the two files of the iJw reader share (see
 * keten/ijw.h): ijw.c screens the bytes, builds the tree, reads the
 * header and the common value types; ijw_body.c reads the body of each
 * message kind.  Both check each element against a small table of the
 * children the 3.2 schema allows, in order (kt_ijw_children).
 */
#ifndef KETEN_FORMATS_IJW_H
#define KETEN_FORMATS_IJW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "keten/keten.h"
#include "keten/ijw.h"

/* The namespace an element of the schema lives in: the message's own
 * (jw301, wmo323, ...) or the release's basisschema (the complex data
 * types' children: Identificatie, Datum, Begindatum, Bedrag, ...). */
enum { KT_IJW_MSG = 0, KT_IJW_BASE = 1 };

/* One child a parent allows: at least min, at most max (0: unbounded). */
typedef struct kt_ijw_spec {
	const char *name;
	uint8_t ns;
	uint8_t min;
	uint16_t max;
} kt_ijw_spec;

/* A reading in progress. */
typedef struct kt_ijw {
	keten_error *err;
	const char *ns[2]; /* KT_IJW_MSG, KT_IJW_BASE */
	const uint8_t *key;
	char part[40]; /* the part being read, for messages: "Header", "ToegewezenProduct 2" */
} kt_ijw;

/* Fail with KETEN_EMALFORMED: "PART: MESSAGE (line N)". */
int kt_ijw_bad(kt_ijw *x, const xmlNode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int kt_ijw_oom(kt_ijw *x);

/* A short printable rendering of untrusted text for messages. */
#define KT_IJW_QUOTE 64
const char *kt_ijw_quote(char buf[KT_IJW_QUOTE], const char *s);

/*
 * Check the element children of parent against specs[0..n) in order:
 * every child known, in the right namespace and place, each at least min
 * and at most max times; no attributes, no text but white space.
 * found[i] receives the first child of specs[i] (NULL when absent).
 */
int kt_ijw_children(kt_ijw *x, const xmlNode *parent, const kt_ijw_spec *specs, size_t n, const xmlNode **found);

/* Does n have local name `name` in the namespace `ns` (KT_IJW_MSG / KT_IJW_BASE)? */
bool kt_ijw_is(const kt_ijw *x, const xmlNode *n, const char *name, int ns);

/*
 * The text of leaf element n (no element children, no attributes),
 * white space trimmed, into buf (cap bytes).  Too long or empty: a
 * refusal naming `what`.  n NULL: buf "" and 0 (an optional element).
 */
int kt_ijw_text(kt_ijw *x, const xmlNode *n, const char *what, char *buf, size_t cap);

/* Value types: each reads leaf n (which must be present) into out. */
int kt_ijw_date(kt_ijw *x, const xmlNode *n, const char *what, uint32_t *out);
/* 1..maxlen digits (exactly maxlen when exact). */
int kt_ijw_digits(kt_ijw *x, const xmlNode *n, const char *what, size_t maxlen, bool exact, char *buf, size_t cap);
/* A whole number of 1..maxdigits digits into *out. */
int kt_ijw_count(kt_ijw *x, const xmlNode *n, const char *what, size_t maxdigits, int64_t *out);
/* 1..maxlen letters and digits. */
int kt_ijw_alnum(kt_ijw *x, const xmlNode *n, const char *what, size_t maxlen, char *buf, size_t cap);
/* A code of the list codes[0..ncodes) (two digits, "04"). */
int kt_ijw_code(kt_ijw *x, const xmlNode *n, const char *what, const char *const *codes, size_t ncodes, char *buf,
                size_t cap);
/* A period element (Begindatum, Einddatum in the basisschema), the end not before the start;
 * with open, Einddatum may be absent (*until 0). */
int kt_ijw_period(kt_ijw *x, const xmlNode *n, const char *what, bool open, uint32_t *from, uint32_t *until);
/* An amount with DebetCredit (CDT_BedragMetDC, or the total's CDT_TotaalBedragMetDC
 * when amount_name is "TotaalBedrag"): *cents >= 0 and the direction. */
int kt_ijw_amount_dc(kt_ijw *x, const xmlNode *n, const char *amount_name, int64_t *cents, bool *credit);
/* A Product (Categorie, Code) of the basisschema; Code optional. */
int kt_ijw_product(kt_ijw *x, const xmlNode *n, char category[4], char code[8]);
/* The Client/Bsn: nine digits passing the 11-test, turned into the
 * pseudonym (x->key NULL: ""); the digits are wiped. */
int kt_ijw_bsn(kt_ijw *x, const xmlNode *n, char ref[KETEN_IJW_REF_LEN + 1]);

/* The code lists the messages check (ijw_body.c). */
extern const char *const kt_ijw_units[]; /* WJ756 */
extern const size_t kt_ijw_n_units;
/* The bodies (ijw_body.c): root is the Bericht element, its Header read. */
int kt_ijw_read_allocation(kt_ijw *x, const xmlNode *client, keten_ijw_message *m);
int kt_ijw_read_start_stop(kt_ijw *x, const xmlNode *client, keten_ijw_message *m);
int kt_ijw_read_claim(kt_ijw *x, const xmlNode *decl, keten_ijw_message *m);

#endif
