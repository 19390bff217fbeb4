/*
 * core.h — (internal) what the files of the ledger core share.
 *
 * The core is the one path by which entries enter the store:
 *
 *   home.c     a node's home: create, open, unlock, the identity record
 *   pending.c  applying a stored or signed entry (kt_try_apply: authority,
 *              body rules, status) and re-trying what waited on it
 *              (kt_drain); trust anchors, which wake what waited on them
 *   append.c   local appends: sign (pipelined for long batches), check,
 *              apply and store each entry, or refuse and store nothing
 *   ingest.c   received entries: authenticate runs by their hash chain and
 *              one signature, store, then apply or park as pending
 *
 * Everything here is used inside one write transaction of the store.
 */
#ifndef KETEN_CORE_CORE_H
#define KETEN_CORE_CORE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "rules/rules.h"

struct kt_pipeline;

struct keten_ledger {
	char dir[PATH_MAX];
	keten_store *store;
	keten_keypair kp;
	bool unlocked;
	keten_home_info info;
	struct kt_pipeline *pipe; /* the signer's ring, kept between appends (append.c) */
};

/* Free the signer's ring (NULL is fine). */
void kt_pipeline_free(struct kt_pipeline *p);

/* A growing list of 32-byte ids: the keys whose waiting entries are to be
 * re-tried, or the ids parked on one key. */
struct kt_idlist {
	uint8_t (*ids)[32];
	size_t n, cap;
};

/* Append id; -1 without memory. */
int kt_idlist_push(struct kt_idlist *l, const uint8_t id[32]);

/*
 * An author's authority, remembered across the entries of one ingest.
 * kt_party_authorized costs a trust lookup, a party lookup and a
 * protobuf decode per entry; its answer only changes when a certificate
 * or revocation is applied (kt_try_apply then forgets it) or, for a
 * certified non-anchor, with the entry's date (kept with the answer).
 * A revoked party's answer turns at a millisecond and is never kept.
 */
struct kt_authz {
	bool valid;
	bool any_day; /* anchor, or nothing certifies it: the date does not matter */
	uint8_t author[32];
	uint32_t day;
	int rc; /* KETEN_OK or KETEN_EAUTHOR */
	uint32_t roles;
	bool anchor;
	keten_error err; /* for KETEN_EAUTHOR */
};

/*
 * Try to apply one entry.  Outcome: applied, rejected (with rule), stub,
 * or parked as pending on what it waits for.  Entries of one author apply
 * in feed order: an entry waits while its predecessor is pending.  A local
 * entry (local: made here now) is refused instead of rejected or parked on
 * a missing reference, and is not stored yet: its status is handed back
 * in *defer (NULL for a stored entry) and written with it.  stats and z
 * may be NULL.  What applied, was rejected or is a stub goes on wake.
 */
int kt_try_apply(keten_txn *t, const keten_entry *e, bool local, keten_ingest_stats *stats, struct kt_idlist *wake,
                 struct kt_authz *z, keten_status *defer, keten_error *err);

/*
 * keten_ledger_append, and then also(t, ctx, err) in the same write
 * transaction once every entry is stored and applied (ids, which must
 * then not be NULL, hold their ids): all of it or none.  also NULL is
 * keten_ledger_append.  also may run more than once (kt_store_write
 * runs the transaction again after the map grows): it must do all its
 * work through t.
 */
int kt_ledger_append_also(keten_ledger *L, const keten_append *a, size_t n, uint8_t (*ids)[32], kt_write_fn also,
                          void *ctx, keten_error *err);

/* Re-try everything parked on the keys in wake, until nothing moves. */
int kt_drain(keten_txn *t, struct kt_idlist *wake, keten_ingest_stats *stats, struct kt_authz *z, keten_error *err);

#endif
