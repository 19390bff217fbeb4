/*
 * ledger.h — a node's ledger: its home, its key, and the one path by which
 * entries enter the store.
 *
 * Local entries are built, signed and validated in one write transaction;
 * a hard rule refuses them and nothing is stored.  Entries from elsewhere
 * (import, sync) pass two gates: authenticity (framing, body hash, chain
 * links, one signature per run of an author's entries) decides whether
 * they are stored at all; business rules decide whether they are applied
 * to derived state or kept marked "rejected: rule".  An entry whose
 * references (or whose author's certificate) have not arrived waits as
 * pending and is applied when they do.
 */
#ifndef KETEN_LEDGER_H
#define KETEN_LEDGER_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_store;
struct keten_keypair;

typedef struct keten_ledger keten_ledger;

/* A home: HOME/key (keystore), HOME/ledger/ (LMDB). */
typedef struct keten_home_info {
	char name[128];
	char role[64]; /* comma-separated role names */
	char agb[16];
	char municipality[16];
	uint8_t key[32];
	bool unprotected;
} keten_home_info;

/*
 * Create a new home in dir (which must not hold one): keystore and ledger.
 * Errors: KETEN_EEXIST, KETEN_EIO, KETEN_EINVAL (bad role), ...
 */
KETEN_API int keten_home_create(const char *dir, const char *passphrase, const keten_home_info *info,
                                struct keten_error *err);

/* Open the ledger of a home.  The key is not unlocked. */
KETEN_API int keten_ledger_open(const char *dir, keten_ledger **out, struct keten_error *err);
KETEN_API void keten_ledger_close(keten_ledger *L);
KETEN_API struct keten_store *keten_ledger_store(keten_ledger *L);
KETEN_API const keten_home_info *keten_ledger_info(keten_ledger *L);
KETEN_API const char *keten_ledger_dir(keten_ledger *L);

/* Unlock the home's key for signing.  Errors: KETEN_EPASS, ... */
KETEN_API int keten_ledger_unlock(keten_ledger *L, const char *passphrase, struct keten_error *err);
KETEN_API bool keten_ledger_unlocked(keten_ledger *L);
/* The unlocked key pair (NULL before keten_ledger_unlock). */
KETEN_API const struct keten_keypair *keten_ledger_keypair(keten_ledger *L);

/* One body to append. */
typedef struct keten_append {
	uint32_t body_type;
	const uint8_t *body;
	size_t body_len;
	const uint8_t (*audience)[32];
	size_t n_audience;
	int64_t timestamp_ms; /* 0: now */
} keten_append;

/*
 * Sign and append n entries by this home's key, in order, in one write
 * transaction: all or none.  ids (may be NULL) receives each new id.
 * A hard rule refuses the batch: KETEN_ERULE with err->rule set.  When
 * one entry fails (refused, or not signed) err->item is its 1-based index
 * in a, so that a caller can name the row; 0 for a failure of the whole.
 */
KETEN_API int keten_ledger_append(keten_ledger *L, const keten_append *a, size_t n, uint8_t (*ids)[32],
                                  struct keten_error *err);

/* Entries received from elsewhere: encoded Entry bytes. */
typedef struct keten_blob {
	const uint8_t *data;
	size_t len;
} keten_blob;

typedef struct keten_ingest_stats {
	size_t received, added, bodies_added, known, stubs, applied, pending, rejected, forks;
} keten_ingest_stats;

/*
 * Verify and store entries from elsewhere in one write transaction.  With
 * all_or_nothing, any entry that fails authenticity aborts everything
 * (import); otherwise the runs that fail are dropped and the rest kept
 * (sync), and err reports the first failure.  Authenticity: each author's
 * entries continue its stored feed link by link and the last one's
 * signature holds (KETEN_ECHAIN, KETEN_EFORK, KETEN_ESIG); the author of a
 * feed this home has not seen yet must be a valid key (keten_key_valid;
 * KETEN_EMALFORMED); each body must match its header's body_hash, a
 * format version 2 body with its salt (KETEN_EHASH; nothing of it is
 * stored, and a stub held here stays a stub).
 */
KETEN_API int keten_ledger_ingest(keten_ledger *L, const keten_blob *b, size_t n, bool all_or_nothing,
                                  keten_ingest_stats *st, struct keten_error *err);

/* Trust anchors (this node's own configuration): key is trusted under
 * name, and what waited for it is applied.  Errors: KETEN_EINVAL when key
 * is not a valid Ed25519 public key (keten_key_valid), store errors. */
KETEN_API int keten_ledger_trust_add(keten_ledger *L, const uint8_t key[32], const char *name, struct keten_error *err);

/*
 * Each trust anchor of this node, in key order: fn(key, name, ctx) with
 * name NUL-terminated (cut at 255 bytes), both valid during the call
 * only.  A non-zero return from fn stops the scan and is returned.
 * t is a read transaction (keten_store_read).  Errors: the store's.
 */
struct keten_txn;
typedef int (*keten_trust_fn)(const uint8_t key[32], const char *name, void *ctx);
KETEN_API int keten_trust_each(struct keten_txn *t, keten_trust_fn fn, void *ctx, struct keten_error *err);

#endif
