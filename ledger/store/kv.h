/*
 * kv.h — (internal) the store's tables and raw access to them, for the
 * layers of the library above the store.  Nothing outside the library
 * writes a table: entries enter by the append and ingest paths of core/.
 *
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
 * kt_kv_get, kt_kv_scan and kt_kv_count (put and del refuse them;
 * they are not LMDB tables, so mdb_dump does not list them):
 *
 *   entries  id -> Entry bytes (status, then log; scanned in id order)
 *   feeds    author || seq -> id (the first 32 bytes of log's value)
 *
 * Only this module calls LMDB.  Every write happens inside
 * kt_store_write(), which runs a caller's function in one write
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
#ifndef KETEN_STORE_KV_H
#define KETEN_STORE_KV_H

#include "keten/store.h"

#define KT_SCHEMA_VERSION 2u

typedef enum kt_table {
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
} kt_table;

/* Offsets in a `status` value: status byte, author, seq, then the rule. */
#define KT_STATUS_AUTHOR 1u
#define KT_STATUS_SEQ    33u
#define KT_STATUS_RULE   41u

/*
 * Open (create when `create`) the environment in directory `dir`.
 * map_bytes 0 uses the default (KETEN_MAPSIZE env var, else 1 GiB); the
 * map grows by doubling when full.  Errors: KETEN_ENOTFOUND (no ledger in
 * dir and !create), KETEN_ESTORE, KETEN_EIO, KETEN_ENOMEM.
 */
int kt_store_open(const char *dir, bool create, size_t map_bytes, keten_store **out, struct keten_error *err);
/* Close; NULL does nothing.  No transaction may be open. */
void kt_store_close(keten_store *s);
/* The current map size in bytes (grows on MDB_MAP_FULL). */
size_t kt_store_mapsize(keten_store *s);

/*
 * Run fn(txn, ctx, err) in one write transaction and commit it when fn
 * returns 0; abort otherwise and return fn's error.  On MDB_MAP_FULL
 * the map is doubled (alone, see Threads above) and fn runs again from
 * the start; KETEN_ESTORE when this thread holds a read transaction of
 * the store then.
 */
typedef int (*kt_write_fn)(keten_txn *txn, void *ctx, struct keten_error *err);
int kt_store_write(keten_store *s, kt_write_fn fn, void *ctx, struct keten_error *err);

/*
 * Key-value access to one table.  kt_kv_get's *val points into the
 * map and is valid until the transaction ends or the next write through
 * it.  get returns KETEN_ENOTFOUND when absent; del of an absent key is
 * not an error.
 */
int kt_kv_get(keten_txn *t, kt_table tab, const void *key, size_t klen, const void **val, size_t *vlen,
              struct keten_error *err);
int kt_kv_put(keten_txn *t, kt_table tab, const void *key, size_t klen, const void *val, size_t vlen,
              struct keten_error *err);
int kt_kv_del(keten_txn *t, kt_table tab, const void *key, size_t klen, struct keten_error *err);

/*
 * Call fn for every key starting with prefix (plen 0: all), in key order.
 * fn returns 0 to go on, > 0 to stop (scan then returns 0), < 0 to stop
 * with an error (scan returns KETEN_EINVAL unless fn set err).  Key and
 * value views are valid only during the call.  Do not write to the same
 * table from fn.
 */
typedef int (*kt_scan_fn)(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, void *ctx);
int kt_kv_scan(keten_txn *t, kt_table tab, const void *prefix, size_t plen, kt_scan_fn fn, void *ctx,
               struct keten_error *err);
/* As kt_kv_scan but from the last key with the prefix to the first. */
int kt_kv_scan_reverse(keten_txn *t, kt_table tab, const void *prefix, size_t plen, kt_scan_fn fn, void *ctx,
                       struct keten_error *err);
/* Number of records in a table. */
size_t kt_kv_count(keten_txn *t, kt_table tab);

/* Entries -------------------------------------------------------------- */

/*
 * Append e to its author's feed: log, heads, by_type, timeline, and its
 * status record (status st, rule).  The caller has checked that e
 * continues the feed.  When the id is already stored with a body and e is
 * a stub, nothing changes; when it is stored as a stub and e has the
 * body, the body is added and the status set to st.
 */
int kt_store_put_entry(keten_txn *t, const struct keten_entry *e, keten_status st, const char *rule,
                       struct keten_error *err);

/* Record that `from` refers to `to`. */
int kt_store_put_ref(keten_txn *t, const uint8_t to[32], const uint8_t from[32], struct keten_error *err);

/* Change the status of a stored entry (KETEN_ENOTFOUND when the id is
 * not stored: the status record is also the entry's place in its feed). */
int kt_store_set_status(keten_txn *t, const uint8_t id[32], keten_status st, const char *rule, struct keten_error *err);

/* Big-endian helpers for keys. */
void kt_be64(uint8_t out[8], uint64_t v);
uint64_t kt_get_be64(const uint8_t in[8]);
void kt_be32(uint8_t out[4], uint32_t v);
uint32_t kt_get_be32(const uint8_t in[4]);

#endif
