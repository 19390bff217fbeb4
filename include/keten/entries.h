/*
 * entries.h — reading the entries a home holds, as `keten log`, `keten
 * show`, `keten export` and the dashboard's /api/log do: a listing with
 * filters (newest first, or feed by feed as export writes them), and one
 * entry's status — applied, pending, rejected (with the rule), stub — and
 * whether an applied correction voided it since.
 *
 * A correction is applied only when it voided its entry (a second one is
 * refused as "already-void"), so the applied corrections held here say
 * which entries are void and by which entry: derived from the ledger, as
 * the domain state is, without rewriting the voided entry's status record.
 * The JSON of an entry with its status is keten_json_entry_status
 * (keten/json.h).
 */
#ifndef KETEN_ENTRIES_H
#define KETEN_ENTRIES_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keten/entry.h"
#include "keten/store.h"

struct keten_error;

/* An entry's status, as `keten log` and `keten show` print it. */
typedef struct keten_entry_status {
	keten_status status;   /* as stored: applied, pending, rejected or stub */
	char rule[48];         /* the rule that rejected it; "" otherwise */
	bool voided;           /* applied, and voided since by an applied correction */
	uint8_t voided_by[32]; /* that correction's id (zero when not voided) */
} keten_entry_status;

/*
 * The status of entry id.
 *   t    a read transaction of the home's store.
 *   out  receives the status; cleared on failure.
 * Errors: KETEN_ENOTFOUND (no entry with that id is held), those of the store.
 */
KETEN_API int keten_entry_status_get(keten_txn *t, const uint8_t id[32], keten_entry_status *out,
                                     struct keten_error *err);

typedef enum keten_entry_order {
	KETEN_NEWEST_FIRST = 0, /* by timestamp, newest first (the timeline) */
	KETEN_BY_FEED,          /* author by author (in key order), each feed by seq: export's order */
} keten_entry_order;

/* Which entries a listing gives, and how; {0} lists every entry, newest first. */
typedef struct keten_entry_filter {
	keten_entry_order order;
	const uint8_t *author; /* only this author's entries; NULL: every author */
	uint32_t body_type;    /* only entries of this type (keten_body_type_from_name); 0: every type */
	size_t limit;          /* at most this many; 0: no limit */
	bool status;           /* hand each entry's status to the callback (it costs a lookup each) */
} keten_entry_filter;

/*
 * Called once per entry listed: e is valid during the call only; st is
 * its status with filter->status, else NULL.  Return 0 to go on, > 0 to
 * stop (the listing then returns 0), < 0 to stop with an error.
 */
typedef int (*keten_entry_fn)(const keten_entry *e, const keten_entry_status *st, void *ctx);

/*
 * List the entries held through t that pass filter f (NULL: all, newest
 * first), calling fn for each.  An entry whose bytes cannot be read is
 * left out.
 * Errors: those of the store; when fn returns < 0, the code fn set in err,
 * else KETEN_EINVAL.
 */
KETEN_API int keten_entries_each(keten_txn *t, const keten_entry_filter *f, keten_entry_fn fn, void *ctx,
                                 struct keten_error *err);

#endif
