/*
 * client.h — (internal) the state of a sync client (keten/sync.h), shared
 * by the round (client.c), its handshake and sealed frames (shake.c) and
 * its batches (batch.c).
 */
#ifndef KETEN_SYNC_CLIENT_H
#define KETEN_SYNC_CLIENT_H

#include <pthread.h>

#include "sync/sync.h"

/* One feed to pull this round: seqs from..to. */
struct job {
	uint8_t author[32];
	uint64_t from, to;
	bool probe; /* fetch one entry to compare (fork evidence) */
	bool probed;
};

/* A stub held here whose body this node may read and the server may hold. */
struct want {
	uint8_t author[32];
	uint64_t seq;
};

enum expect { X_NONE, X_CHALLENGE, X_AUTH_OK, X_PRESENT, X_HEADS, X_ENTRIES, X_FORKS, X_ACK };

/* What one keten_ledger_ingest call did, with our head of the job's feed
 * right after it. */
struct ingested {
	int rc;
	keten_error err;
	keten_ingest_stats ist;
	size_t n; /* entries passed in */
	uint64_t head;
	bool new_forks; /* the count of fork proofs here grew */
};

/* One Entries reply in a batch. */
struct part {
	size_t first, n; /* its entries in the batch's items */
	size_t raw;      /* entries in the reply, with those too large to take */
	uint64_t from;   /* the seq its Fetch asked from */
	bool more;       /* the server said it has more of the feed */
};

/* Replies of the current job, copied, for one keten_ledger_ingest call. */
struct batch {
	uint8_t *bytes;
	size_t n_bytes, cap_bytes;
	struct {
		size_t off, len;
	} * items;
	size_t n_items, cap_items;
	keten_blob *blobs;
	size_t cap_blobs;
	struct part *parts;
	size_t n_parts, cap_parts;
	uint8_t author[32];
	/* handed over to be ingested while the next replies arrive */
	bool handed, threaded;
	pthread_t th;
	keten_ledger *L;
	keten_sync_lock_fn lock_fn;
	void *lock_ctx;
	struct ingested res;
};

struct keten_sync_client {
	keten_ledger *L;
	bool authed;
	bool have_server;
	uint8_t server[32];
	uint8_t nonce[KETEN_SYNC_NONCE_BYTES];
	bool have_digest, sent_digest;
	bool incomplete; /* this round left a feed short of the server's head */
	bool have_forks, want_forks;
	uint32_t forks, round_forks; /* the server's count of fork proofs: last seen, this round */
	uint8_t digest[32], round_digest[32];
	enum expect expect;
	int restarts;
	struct job *jobs;
	size_t n_jobs, cap_jobs, cur;
	struct want *wants;
	size_t n_wants, cap_wants;
	bool wants_valid;       /* wants still answer for wants_key */
	bool wants_spent;       /* asked in the round that ended: left stubs */
	uint8_t wants_key[104]; /* stub ids digest || server || number of parties || server's digest */
	unsigned wants_age;
	uint32_t max_entries, max_bytes;
	uint8_t *last; /* the last request, to repeat after "rate-limited" */
	size_t last_len;
	uint32_t wait_ms; /* wait this long before sending the next request */
	int backoffs;
	keten_sync_stats st;
	uint32_t batch_entries, batch_bytes;
	struct batch fill; /* replies continuing the current job, not yet ingested */
	struct batch hand; /* the full batch before it, being ingested */
	keten_sync_lock_fn lock_fn;
	void *lock_ctx;
	bool locked; /* this thread holds lock_fn's lock now */
	/* the session (shake.c) */
	bool sealed;     /* keys derived: every request from the next on is sealed */
	bool has_expect; /* the server key this client expects (pinned) */
	uint8_t expect_key[32];
	uint8_t binding[32]; /* of the transport */
	uint8_t eph_pk[32], eph_sk[32];
	uint8_t transcript[32];
	uint8_t k_tx[32], k_rx[32];
	uint64_t tx_ctr, rx_ctr; /* the last counter sent, and taken */
	bool cred;               /* where our certificate is, as the Hello said */
	uint8_t cred_certifier[32];
	uint64_t cred_seq, cred_top;
	uint64_t present_from;   /* the next seq of the certifier's feed to Present */
	bool provisional_server; /* the server's certificate is not here yet: its
	                            certifier (an anchor here) is fetched first */
};

/* The round (client.c) ------------------------------------------------------ */

/* Send request r (sealed once the session has keys), expecting x. */
int kt_client_send(keten_sync_client *c, const Keten__Sync__Request *r, enum expect x, uint8_t **req, size_t *len,
                   keten_error *err);
/* The round's Heads request (after the handshake). */
int kt_client_heads(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err);

/* The handshake (shake.c) ----------------------------------------------------- */

/* Forget the session and its keys. */
void kt_client_forget(keten_sync_client *c);
/* A new Hello: a fresh nonce and ephemeral key. */
int kt_client_hello(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err);
/* The Challenge to our Hello: checked, the keys derived, Auth sent. */
int kt_client_challenge(keten_sync_client *c, const Keten__Sync__Reply *r, uint8_t **req, size_t *len,
                        keten_error *err);
/* AuthOk (to Auth or Present): on to Present more, or to Heads. */
int kt_client_auth_ok(keten_sync_client *c, const Keten__Sync__Reply *r, uint8_t **req, size_t *len, keten_error *err);
/* Open a Sealed reply into *inner (decoded with a, freed by the caller
 * with it); *inner NULL for a plain reply, which after the handshake
 * may only be an Error. */
int kt_client_unseal(keten_sync_client *c, const Keten__Sync__Reply *r, Keten__Sync__Reply **inner,
                     ProtobufCAllocator *a, keten_error *err);
/* Is key a node this ledger knows (KETEN_EAUTHOR when not)? */
int kt_client_server_known(keten_sync_client *c, const uint8_t key[32], keten_error *err);

/* Batches (batch.c) --------------------------------------------------------- */

/* Take or release the caller's lock (keten_sync_client_lock), once. */
void kt_client_lock(keten_sync_client *c);
void kt_client_unlock(keten_sync_client *c);
/* One Entries reply for the current job: gathered, and ingested when its
 * batch is full or the job ends. */
int kt_take_entries(keten_sync_client *c, const Keten__Sync__Entries *en, keten_error *err);
/* Ingest the server's fork proofs (stubs). */
int kt_take_forks(keten_sync_client *c, const Keten__Sync__Entries *en, keten_error *err);
/* The round ends or starts over: take what has arrived into the ledger. */
int kt_batches_finish(keten_sync_client *c, keten_error *err);
/* Drop both batches and their memory (waiting for the ingest thread). */
void kt_batches_drop(keten_sync_client *c);

#endif
