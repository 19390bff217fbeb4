/*
 * store.h — reading a node home's store: read snapshots and the entries
 * in them.
 *
 * A home keeps its entries in one LMDB environment (HOME/ledger/); the
 * tables and how they are written are the library's own business
 * (docs/architecture.md, "Storage").  From outside, entries enter only by
 * keten_ledger_append and keten_ledger_ingest (keten/ledger.h); this
 * header reads them.
 *
 * Threads: any number of threads may read one store at once with no lock
 * of their own, also while others append.  A read transaction is a
 * snapshot: it sees what was committed when it began.  End it on the
 * thread that began it, and keep it short (a snapshot held open keeps
 * old pages alive).
 */
#ifndef KETEN_STORE_H
#define KETEN_STORE_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_entry;

/* Status of a stored entry (first byte of its `status` value). */
typedef enum keten_status {
	KS_APPLIED = 1,  /* in derived state */
	KS_PENDING = 2,  /* waits for referenced entries or its author's certificate */
	KS_REJECTED = 3, /* authentic, but a rule refused it here; the rule follows */
	KS_STUB = 4,     /* only the header is held here: the body is not ours to see */
} keten_status;

typedef struct keten_store keten_store;
typedef struct keten_txn keten_txn;

/* A read-only snapshot; end it with keten_txn_end (safe on NULL), on the
 * thread that began it.  It holds the map gate shared until it ends. */
KETEN_API int keten_store_read(keten_store *s, keten_txn **out, struct keten_error *err);
KETEN_API void keten_txn_end(keten_txn *txn);
KETEN_API keten_store *keten_txn_store(keten_txn *txn);

/* Entries -------------------------------------------------------------- */

/* The stored entry with this id, parsed (a copy, owned by *out). */
KETEN_API int keten_store_get_entry(keten_txn *t, const uint8_t id[32], struct keten_entry *out,
                                    struct keten_error *err);
KETEN_API bool keten_store_has_entry(keten_txn *t, const uint8_t id[32]);

/* The author's head: seq 0 and a zero id when the author has no feed here. */
KETEN_API int keten_store_head(keten_txn *t, const uint8_t author[32], uint64_t *seq, uint8_t id[32],
                               struct keten_error *err);
/* Id of the author's entry at seq; KETEN_ENOTFOUND when absent. */
KETEN_API int keten_store_feed_id(keten_txn *t, const uint8_t author[32], uint64_t seq, uint8_t id[32],
                                  struct keten_error *err);

/* Status of an entry, and the rule when rejected (rule may be NULL;
 * rule_len at least 48).  KETEN_ENOTFOUND when absent. */
KETEN_API int keten_store_status(keten_txn *t, const uint8_t id[32], keten_status *st, char *rule, size_t rule_len,
                                 struct keten_error *err);

/*
 * Resolve a hex id prefix of at least KETEN_MIN_PREFIX digits (or a full
 * id).  KETEN_EAMBIGUOUS lists up to 8 candidates in err->msg;
 * KETEN_ENOTFOUND when none; KETEN_EINVAL when not hex or too short.
 */
KETEN_API int keten_store_resolve(keten_txn *t, const char *hex, uint8_t id[32], struct keten_error *err);

#endif
