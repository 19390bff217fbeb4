/*
 * json.h — the stable --json shapes: balance, reconcile, report, dispute,
 * entry (and back, for import), ingest counts.  One builder per shape, used by the `keten` commands for their
 * --json output and by the dashboard's JSON API (ledger/http.c), so the
 * two print the same objects, field for field and in the same order.
 *
 * Every builder reads through a read transaction the caller holds (party
 * names, entries, dispute state) and returns a new jansson value: the
 * caller owns that reference and releases it with json_decref (or hands
 * it on with a *_new jansson call).  Builders do not print; the CLI dumps
 * with JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER and so does
 * the API.  Party labels follow one convention throughout: the certified
 * name, else the trust-anchor name, else "" (balance, dispute parties) or
 * the first 16 hex digits of the key (reconcile, report, dispute opener).
 */
#ifndef KETEN_JSON_H
#define KETEN_JSON_H

#include "keten/export.h"
#include "keten/limits.h"

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "keten/entries.h"
#include "keten/keten.h"
#include "keten/reconcile.h"
#include "keten/report.h"

/* Building blocks ----------------------------------------------------------- */

/*
 * The name of party `key` as read through t: its certified name, else its
 * trust-anchor name, else "".  Written to buf (len >= 128 holds any name)
 * and returned.
 */
KETEN_API const char *keten_json_party_name(keten_txn *t, const uint8_t key[32], char *buf, size_t len);

/*
 * A cache of party labels for one transaction, so a long listing looks
 * each party up once.  Start it as {.t = t}; free it with
 * keten_json_labels_release.  A label is the party's name, else the first
 * 16 hex digits of its key; the all-zero key is "".
 */
typedef struct keten_json_labels {
	keten_txn *t;
	struct keten_json_label **v;
	size_t n;
} keten_json_labels;

/* The label of key; valid until keten_json_labels_release ("" when out of memory). */
KETEN_API const char *keten_json_label(keten_json_labels *lb, const uint8_t key[32]);

/* Free the cache and clear it (t is kept). */
KETEN_API void keten_json_labels_release(keten_json_labels *lb);

/* "applied", "pending", "rejected", "stub" or "unknown": a static string. */
KETEN_API const char *keten_json_status_name(keten_status st);

/* The body type name of entry id held in t ("entry" when it is not held): a static string. */
KETEN_API const char *keten_json_entry_type(keten_txn *t, const uint8_t id[32]);

/* n bytes as a JSON string of 2n hex digits (n <= 32).  New reference. */
KETEN_API json_t *keten_json_hex(const uint8_t *b, size_t n);

/* A YYYYMMDD date as a JSON string "YYYY-MM-DD".  New reference. */
KETEN_API json_t *keten_json_date(uint32_t ymd);

/*
 * Set o[field] to the hex key and o[field "_name"] to the party's name
 * (keten_json_party_name), as every shape prints a party.  o keeps both
 * new values.
 */
KETEN_API void keten_json_set_party(keten_txn *t, json_t *o, const char *field, const uint8_t key[32]);

/* Entries --------------------------------------------------------------------- */

/*
 * An entry body of body_type decoded into a JSON object, field by field
 * from protobuf-c's descriptors: 32-byte fields (keys, ids, hashes) as
 * hex, dates (uint32 fields named date, start, end or valid_*) as
 * YYYY-MM-DD, enums by their name.  JSON null for an unknown type or a
 * body that does not decode.  New reference.
 */
KETEN_API json_t *keten_json_body(uint32_t body_type, const uint8_t *body, size_t len);

/*
 * The whole entry e as `keten export` and `keten show --json` print it:
 * id, author, seq, prev (null for seq 1), timestamp_ms, type, version
 * (the entry format, 1 or 2), audience, header, signature and body
 * (base64; body null when withheld), salt (base64, only beside the body
 * of a version 2 entry: never in a stub), fields (keten_json_body, null
 * when withheld).  New reference; the caller may add
 * fields (status, rule) after these.
 */
KETEN_API json_t *keten_json_entry(const keten_entry *e);

/*
 * An entry with its status, as `keten log --json` lists it and `keten show`
 * prints it: keten_json_entry(e), then "status" ("void" when st says a
 * correction voided it, else keten_json_status_name), "voided_by" (the
 * correction's id, only when void) and "rule" (only when st has one).
 * With withheld_note, a stub also carries "withheld": why its body is not
 * here.  New reference.
 */
KETEN_API json_t *keten_json_entry_status(const keten_entry *e, const keten_entry_status *st, bool withheld_note);

/*
 * What this node derived of allocation `id`, as `keten show` prints it
 * under "state": "closed", and when closed "stop_code", "close_date",
 * "outcome" (absent when a change closed it); a change's "replaces" or
 * "replaced_by" with "change_reason", and on a replacement
 * "carried_cents" (paid up front under what it replaces),
 * "owed_back_cents" and "upfront_due_cents"; "volume" (hundredths),
 * "volume_unit" and "frequency" when it has a volume; "claimed_cents",
 * "paid_cents", "upfront_paid_cents"; "findings" (the marks the rules
 * left).  t: a read transaction.  NULL when id is not an allocation held
 * here (a stub, another type, unknown).  New reference.
 */
KETEN_API json_t *keten_json_allocation_state(keten_txn *t, const uint8_t id[32]);

/*
 * The inverse of keten_json_entry, for `keten import`: one line of `keten
 * export` (len bytes of JSON text) made Entry bytes again from its
 * header, signature, body and salt (base64; a body null or absent is a
 * stub's; a salt only with a body), framed by keten_entry_frame.  Nothing is verified here:
 * keten_ledger_ingest does that.  On success *out is malloc'd (the caller
 * frees it) and *out_len its length; both cleared on failure.
 * Errors: KETEN_EMALFORMED (the text is not a JSON object; err->msg is
 * the parser's message), KETEN_EINVAL (header, signature, body or salt
 * is missing or not base64; a salt not of 16 bytes or without a body).
 */
KETEN_API int keten_json_entry_parse(const char *text, size_t len, uint8_t **out, size_t *out_len, keten_error *err);

/*
 * One line of in into *buf (grown as needed, *cap its size; the caller
 * frees it), *len its bytes with the newline; at most max bytes besides
 * the newline are ever read or held (KETEN_IMPORT_MAX_LINE for `keten
 * import`).  Returns 0 with a line, 1 at the end of input, or
 * KETEN_EMALFORMED as soon as the line passes max ("the line is longer
 * than the limit of N bytes"), KETEN_EIO, KETEN_ENOMEM.  The line is NUL-terminated
 * (and may hold NUL bytes itself).
 */
KETEN_API int keten_json_read_line(FILE *in, size_t max, char **buf, size_t *cap, size_t *len, keten_error *err);

/*
 * `keten import --json`: {received, added, known, applied, pending,
 * rejected, stubs, forks}.  New reference.
 */
KETEN_API json_t *keten_json_ingest(const keten_ingest_stats *st);

/* Balance, reconcile, report ------------------------------------------------ */

/*
 * `keten balance --json`: an array of {party, name, role, claimed_cents,
 * paid_cents, received_cents, clawback_cents, repaid_cents,
 * outstanding_cents, net_cents}, one per row of b, names read through t.
 * New reference; b stays the caller's.
 */
KETEN_API json_t *keten_json_balance(keten_txn *t, const keten_balance *b);

/*
 * `keten reconcile --json`: {as_of, lines, pairs, findings}, and "bank"
 * (keten_json_bank) when r holds a statement's comparison; party labels
 * and evidence types read through t.  With meanings, each finding also
 * carries "meaning" (keten_recon_kind_meaning), as the dashboard shows it.
 * New reference; r stays the caller's.
 */
KETEN_API json_t *keten_json_reconcile(keten_txn *t, const keten_recon *r, bool meanings);

/*
 * The "bank" member of `keten reconcile --bank FILE --json`: {from, until,
 * matched, amount_differs, duplicates, bank_only, ledger_only, balances,
 * opening_cents, closing_cents, computed_cents, lines}.  New reference.
 */
KETEN_API json_t *keten_json_bank(const keten_bank_result *b);

/*
 * `keten report --json`: {by, total, rows}, grouped by `by` (the grouping
 * rep was built with); provider groups are labelled through t.  New
 * reference; rep stays the caller's.
 */
KETEN_API json_t *keten_json_report(keten_txn *t, const keten_report *rep, keten_report_by by);

/* Disputes -------------------------------------------------------------------- */

/*
 * `keten dispute list --json`: an array with one summary per dispute
 * applied here (only the open ones when open_only), in id order.  On
 * success *out is a new reference.  Errors: those of the store.
 */
KETEN_API int keten_json_disputes(keten_txn *t, bool open_only, json_t **out, keten_error *err);

/*
 * `keten dispute show --json`: dispute id with its audience, each disputed
 * entry as evidence (type, author, status, decoded fields, whether its
 * signature verifies), the responses in time order and the ruling with its
 * adjustments (null while open).  On success *out is a new reference.
 * Errors: KETEN_ENOTFOUND (no dispute with that id is applied here),
 * KETEN_ENOMEM, those of the store.
 */
KETEN_API int keten_json_dispute(keten_txn *t, const uint8_t id[32], json_t **out, keten_error *err);

#endif
