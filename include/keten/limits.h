/*
 * limits.h — the input limits of every reader, in one place.
 *
 * Each reader checks its limits on the bytes before it builds anything
 * of them (a tree, an object, a row) and refuses an excess as malformed
 * (KETEN_EMALFORMED, exit 65), naming the limit and the value found.
 * The XML readers (camt.053 and iJw/iWmo) share one pass over the
 * markup that counts nesting depth, attributes per element and
 * elements, and stops at the first excess (ledger/formats/xml.c).
 */
#ifndef KETEN_LIMITS_H
#define KETEN_LIMITS_H

/* camt.053 bank statements (keten/camt.h) */
#define KETEN_CAMT_MAX_BYTES    (32u * 1024u * 1024u)
#define KETEN_CAMT_MAX_DEPTH    24u      /* element nesting (the deepest camt.053 path needs 14) */
#define KETEN_CAMT_MAX_ATTRS    16u      /* attributes (namespace declarations included) on one element */
#define KETEN_CAMT_MAX_ELEMENTS 1000000u /* elements in one statement */
#define KETEN_CAMT_MAX_ENTRIES  100000u  /* Ntry per statement */
#define KETEN_CAMT_MAX_TX       200000u  /* TxDtls per statement, all entries */

/* iJw / iWmo 3.2 messages (keten/ijw.h) */
#define KETEN_IJW_MAX_BYTES    (8u * 1024u * 1024u)
#define KETEN_IJW_MAX_DEPTH    16u     /* element nesting (the 3.2 messages need 8) */
#define KETEN_IJW_MAX_ATTRS    8u      /* attributes (namespace declarations included) on one element */
#define KETEN_IJW_MAX_ELEMENTS 400000u /* elements in one message */
#define KETEN_IJW_MAX_ITEMS    20000u  /* products or prestaties in one message */

/* batch files, CSV or NDJSON (keten/batch.h) */
#define KETEN_BATCH_MAX_BYTES (64u * 1024u * 1024u)
#define KETEN_BATCH_MAX_ROWS  200000u
#define KETEN_BATCH_MAX_FIELD 4096u         /* bytes in one field */
#define KETEN_BATCH_MAX_LINE  (64u * 1024u) /* bytes in one line */

/* import: one NDJSON line is one exported entry (keten/json.h): an
 * entry of at most KETEN_MAX_ENTRY_BYTES (256 KiB) in base64 with its
 * decoded fields takes well under this. */
#define KETEN_IMPORT_MAX_LINE (4u * 1024u * 1024u)

#endif
