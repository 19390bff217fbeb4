/*
 * store.h — the LMDB environment of a node home, and nothing else.
 *
 * One environment per home (HOME/ledger/), named databases:
 *
 *   log      author || seq (8 bytes big-endian) -> id || Entry bytes,
 *            exactly as signed (stubs have no body)
 *   status   id -> status byte || author || seq (8 BE) || rule name: the id
 *            index (applied, pending, rejected, stub; the rule when rejected)
 *   heads    author -> seq (8 BE) || id
 *   by_type  type (4 BE) || timestamp (8 BE) || id -> ""
 *   timeline timestamp (8 BE) || id -> "" (every entry, by its time)
 *   refs     referenced id || referring id -> ""
 *   pending  missing id or author key (32) || waiting id -> ""
 *   forks    author || seq (8 BE) || id -> header || signature (each fork)
 *   trust    key -> name of a trust anchor (this node's own choice)
 *   meta     name -> value (schema version, own key, config)
 *   parties  key -> PartyState (derived)
 *   state    kind byte || key -> derived domain state
 *   index    kind byte || key -> "" secondary indices of derived state
 *
 * The Entry bytes are kept in feed order and the id index is small (about
 * 80 bytes a record) because ids are random: a batch of appends then adds
 * to the end of one author's key range in `log`, and only the id index
 * takes one random-key write per entry (schema 1 keyed the Entry bytes by
 * id, so every entry of a commit copied a leaf page of its own).
 *
 * Two read-only views keep the tables of schema 1 readable through
 * keten_kv_get, keten_kv_scan and keten_kv_count (put and del refuse them;
 * they are not LMDB tables, so mdb_dump does not list them):
 *
 *   entries  id -> Entry bytes (status, then log; scanned in id order)
 *   feeds    author || seq -> id (the first 32 bytes of log's value)
 *
 * Only this module calls LMDB.  Every write happens inside
 * keten_store_write(), which runs a caller's function in one write
 * transaction and, when the map is full, aborts, grows the map and runs
 * the function again from the start — so the function must do all its
 * work through the transaction it is given.  Read transactions are short.
 *
 * Threads: any number of threads may read and write one store at once
 * with no lock of their own.  LMDB may grow its map only while no
 * transaction of the process is open, so every transaction holds the
 * store's map gate shared while it is open and growing the map holds it
 * alone: readers run concurrently, and a growth waits for the open
 * transactions to end while new ones wait for it (a thread that already
 * holds one may open another).  A thread that holds a read transaction
 * and writes into a map that must grow gets KETEN_ESTORE instead of
 * waiting on itself.  A transaction is ended by the thread that began it;
 * other threads may use a read transaction while it is open.
 */
#ifndef KETEN_STORE_H
#define KETEN_STORE_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_entry;

#define KETEN_SCHEMA_VERSION 2u

typedef enum keten_table {
	KT_ENTRIES,
	KT_FEEDS,
	KT_HEADS,
	KT_BY_TYPE,
	KT_TIMELINE,
	KT_REFS,
	KT_STATUS,
	KT_PENDING,
	KT_FORKS,
	KT_TRUST,
	KT_META,
	KT_PARTIES,
	KT_STATE,
	KT_INDEX,
	KT_LOG,
	KT_COUNT
} keten_table;

/* Offsets in a `status` value: status byte, author, seq, then the rule. */
#define KETEN_STATUS_AUTHOR 1u
#define KETEN_STATUS_SEQ    33u
#define KETEN_STATUS_RULE   41u

/* Status of a stored entry (first byte of its `status` value). */
typedef enum keten_status {
	KS_APPLIED = 1,  /* in derived state */
	KS_PENDING = 2,  /* waits for referenced entries or its author's certificate */
	KS_REJECTED = 3, /* authentic, but a rule refused it here; the rule follows */
	KS_STUB = 4,     /* only the header is held here: the body is not ours to see */
} keten_status;

typedef struct keten_store keten_store;
typedef struct keten_txn keten_txn;

/*
 * Open (create when `create`) the environment in directory `dir`.
 * map_bytes 0 uses the default (KETEN_MAPSIZE env var, else 1 GiB); the
 * map grows by doubling when full.  Errors: KETEN_ENOTFOUND (no ledger in
 * dir and !create), KETEN_ESTORE, KETEN_EIO, KETEN_ENOMEM.
 */
KETEN_API int keten_store_open(const char *dir, bool create, size_t map_bytes, keten_store **out,
                               struct keten_error *err);
/* Close; NULL does nothing.  No transaction may be open. */
KETEN_API void keten_store_close(keten_store *s);
/* The current map size in bytes (grows on MDB_MAP_FULL). */
KETEN_API size_t keten_store_mapsize(keten_store *s);

/*
 * Run fn(txn, ctx, err) in one write transaction and commit it when fn
 * returns 0; abort otherwise and return fn's error.  On MDB_MAP_FULL
 * the map is doubled (alone, see Threads above) and fn runs again from
 * the start; KETEN_ESTORE when this thread holds a read transaction of
 * the store then.
 */
typedef int (*keten_write_fn)(keten_txn *txn, void *ctx, struct keten_error *err);
KETEN_API int keten_store_write(keten_store *s, keten_write_fn fn, void *ctx, struct keten_error *err);

/* A read-only snapshot; end it with keten_txn_end (safe on NULL), on the
 * thread that began it.  It holds the map gate shared until it ends. */
KETEN_API int keten_store_read(keten_store *s, keten_txn **out, struct keten_error *err);
KETEN_API void keten_txn_end(keten_txn *txn);
KETEN_API keten_store *keten_txn_store(keten_txn *txn);

/*
 * Key-value access to one table.  keten_kv_get's *val points into the
 * map and is valid until the transaction ends or the next write through
 * it.  get returns KETEN_ENOTFOUND when absent; del of an absent key is
 * not an error.
 */
KETEN_API int keten_kv_get(keten_txn *t, keten_table tab, const void *key, size_t klen, const void **val, size_t *vlen,
                           struct keten_error *err);
KETEN_API int keten_kv_put(keten_txn *t, keten_table tab, const void *key, size_t klen, const void *val, size_t vlen,
                           struct keten_error *err);
KETEN_API int keten_kv_del(keten_txn *t, keten_table tab, const void *key, size_t klen, struct keten_error *err);

/*
 * Call fn for every key starting with prefix (plen 0: all), in key order.
 * fn returns 0 to go on, > 0 to stop (scan then returns 0), < 0 to stop
 * with an error (scan returns KETEN_EINVAL unless fn set err).  Key and
 * value views are valid only during the call.  Do not write to the same
 * table from fn.
 */
typedef int (*keten_scan_fn)(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *ctx);
KETEN_API int keten_kv_scan(keten_txn *t, keten_table tab, const void *prefix, size_t plen, keten_scan_fn fn, void *ctx,
                            struct keten_error *err);
/* As keten_kv_scan but from the last key with the prefix to the first. */
KETEN_API int keten_kv_scan_reverse(keten_txn *t, keten_table tab, const void *prefix, size_t plen, keten_scan_fn fn,
                                    void *ctx, struct keten_error *err);
/* Number of records in a table. */
KETEN_API size_t keten_kv_count(keten_txn *t, keten_table tab);

/* Entries -------------------------------------------------------------- */

/*
 * Append e to its author's feed: log, heads, by_type, timeline, and its
 * status record (status st, rule).  The caller has checked that e
 * continues the feed.  When the id is already stored with a body and e is
 * a stub, nothing changes; when it is stored as a stub and e has the
 * body, the body is added and the status set to st.
 */
KETEN_API int keten_store_put_entry(keten_txn *t, const struct keten_entry *e, keten_status st, const char *rule,
                                    struct keten_error *err);

/* Record that `from` refers to `to`. */
KETEN_API int keten_store_put_ref(keten_txn *t, const uint8_t to[32], const uint8_t from[32], struct keten_error *err);

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
 * rule_len at least 48).  KETEN_ENOTFOUND when absent.  set_status
 * changes the status of a stored entry (KETEN_ENOTFOUND when the id is
 * not stored: the status record is also the entry's place in its feed). */
KETEN_API int keten_store_status(keten_txn *t, const uint8_t id[32], keten_status *st, char *rule, size_t rule_len,
                                 struct keten_error *err);
KETEN_API int keten_store_set_status(keten_txn *t, const uint8_t id[32], keten_status st, const char *rule,
                                     struct keten_error *err);

/*
 * Resolve a hex id prefix of at least KETEN_MIN_PREFIX digits (or a full
 * id).  KETEN_EAMBIGUOUS lists up to 8 candidates in err->msg;
 * KETEN_ENOTFOUND when none; KETEN_EINVAL when not hex or too short.
 */
KETEN_API int keten_store_resolve(keten_txn *t, const char *hex, uint8_t id[32], struct keten_error *err);

/* Big-endian helpers for keys. */
KETEN_API void keten_be64(uint8_t out[8], uint64_t v);
KETEN_API uint64_t keten_get_be64(const uint8_t in[8]);
KETEN_API void keten_be32(uint8_t out[4], uint32_t v);
KETEN_API uint32_t keten_get_be32(const uint8_t in[4]);

#endif
