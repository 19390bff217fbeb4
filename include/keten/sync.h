/*
 * sync.h — the sync protocol between keten nodes (proto/sync.proto,
 * keten/sync/v2; docs/sync-protocol.md) as functions over message bytes,
 * with no sockets: keten/net.h carries the bytes over nng, and a program
 * that embeds the protocol in a transport of its own (or a test that
 * simulates a network) calls these directly.
 *
 * Server side: one keten_sync_session per connection.  keten_sync_serve()
 * takes one request's bytes and always produces one reply: Challenge,
 * a Sealed reply (AuthOk, HeadsReply, Entries, Ack or Error inside) or a
 * plain Error.  Nothing but Hello and Auth is answered on a session that
 * has not authenticated, and nothing but Sealed requests after it.
 *
 * The handshake yields a session key: each side's ephemeral X25519 key,
 * authenticated by both ledger keys over the whole transcript (both
 * nonces, both ledger keys, both ephemeral keys, the version, the server
 * key the client expects, where each side's certificate is, and the
 * transport binding), and every later request and reply is sealed with it
 * (XChaCha20-Poly1305, a counter per direction): a relay or anyone on the
 * path of a connection can neither read nor inject.  The client names the
 * server key it expects (keten_sync_client_expect) and the server refuses
 * a Hello meant for another key.  The Hello is signed by the client's key
 * before the server signs anything.
 *
 * Both sides accept only keys their own ledger knows: a trust anchor, or a
 * party certified by one and not revoked; a server checks this again on
 * every request, so a key revoked (or a certificate expired) while its
 * session is open gets an error on its next request.  A key not known yet
 * says where its certificate is (its certifier and the seq in that feed):
 * when the certifier is a trust anchor here, the session goes on and the
 * certificate comes with it, ingested through keten_ledger_ingest: the
 * client Presents its certifier's feed up to its certificate to a server
 * that lacks it, and a client that does not know the server fetches its
 * own anchors' feeds from it first.
 *
 * Client side: a keten_sync_client pulls from one server in rounds.
 * keten_sync_client_begin() gives the first request of a round; each
 * reply goes to keten_sync_client_reply(), which ingests what arrived
 * (through keten_ledger_ingest, the one path for received entries) and
 * gives the next request, or none when the round is over.  The client
 * stays authenticated across rounds, so an in-sync round is one Heads
 * request carrying the last digest and one short reply.
 *
 * Batches: the Entries replies that continue one feed are gathered and
 * ingested together, up to KETEN_SYNC_BATCH_ENTRIES entries or
 * KETEN_SYNC_BATCH_BYTES bytes per keten_ledger_ingest call, because each
 * call is one write transaction with its commit and fdatasync.  A full
 * batch is ingested while the replies that follow it arrive (on a thread
 * of the client's own when keten_sync_client_lock gave it a lock), and
 * its outcome is taken at the next decision that depends on it: when the
 * batch after it is full, or when the feed, the round or the request
 * changes.  If a batch does not leave our head where the server's replies
 * claimed, its replies are ingested again one at a time and the round goes
 * on exactly as it would have after the first one that fell short; what
 * was fetched after it is dropped.  Nothing the server holds is lost by a
 * crash in between: the next round fetches again from the stored head.
 * What happens depends only on the order of the messages, not on the
 * thread's timing.  A round:
 *
 *   Hello -> Challenge, Auth -> AuthOk      (when not yet authenticated)
 *   Present -> AuthOk                       (first contact: the client's
 *            certificate, when the server lacks it)
 *   Heads -> HeadsReply                     (digest only when unchanged)
 *   Fetch -> Entries, per feed that is new, per stub whose body this node
 *            may read and the server may hold, and to compare a head that
 *            differs from ours (an equivocation is then recorded)
 *   Forks -> Entries (stubs)                (when the server's count of
 *            fork proofs changed: equivocations spread to every node)
 *
 * Announce -> Ack is the optional push between rounds.
 *
 * Need-to-know (keten_sync_may_read): a key may read an entry's body when
 * the audience is empty (certificates, revocations), the key is the author
 * or in the audience, or the key is an auditor certified for the entry's
 * own municipality: an allocation's CBS code, a framework contract's
 * scope, for an offer, answer, delivery, claim, payment, receipt, result,
 * resume, clawback or correction the municipality of the allocation it
 * belongs to, for a dispute that of the entries it is about (not the
 * municipalities its parties work in).  Everyone else gets the stub: the
 * signed header without the body.
 *
 * Checkpoints: a node records the heads it has seen as a checkpoint entry
 * (every feed head here, in author order, and their root: the heads
 * digest; with more than 2500 feeds, or heads too long to sign, the root
 * alone), and compares those
 * of other nodes with its own feeds: a head naming another entry at a seq
 * than this node's feed holds is an equivocation on one side.
 */
#ifndef KETEN_SYNC_H
#define KETEN_SYNC_H

#include "keten/keten.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KETEN_SYNC_NONCE_BYTES   32u
#define KETEN_SYNC_MAX_REQUEST   (64u * 1024u)        /* larger requests: Error TOO_LARGE */
#define KETEN_SYNC_MAX_REPLY     (4u * 1024u * 1024u) /* the most a client takes (its RECVMAXSZ) */
#define KETEN_SYNC_MAX_ENTRIES   1000u                /* entries per Entries reply */
#define KETEN_SYNC_REPLY_BYTES   (3u * 1024u * 1024u) /* entry bytes per Entries reply */
#define KETEN_SYNC_MAX_STRIKES   8u                   /* bad requests before a pipe is dropped */
#define KETEN_SYNC_BATCH_ENTRIES 10000u               /* entries per ingest by a client */
#define KETEN_SYNC_BATCH_BYTES   (8u * 1024u * 1024u) /* entry bytes per ingest by a client */
#define KETEN_SYNC_MAX_PRESENT   20000u               /* entries a first contact may present */
#define KETEN_SYNC_VERSION       2u
#define KETEN_SYNC_CTX_HELLO     "keten/sync/v2/hello"
#define KETEN_SYNC_CTX_SERVER    "keten/sync/v2/server"
#define KETEN_SYNC_CTX_CLIENT    "keten/sync/v2/client"

/* The kinds of reply (the field numbers of Reply's oneof on the wire). */
typedef enum keten_sync_reply_kind {
	KETEN_SYNC_REPLY_NONE = 0, /* does not decode, or empty */
	KETEN_SYNC_REPLY_CHALLENGE = 1,
	KETEN_SYNC_REPLY_AUTH_OK = 2,
	KETEN_SYNC_REPLY_HEADS = 3,
	KETEN_SYNC_REPLY_ENTRIES = 4,
	KETEN_SYNC_REPLY_ERROR = 5,
	KETEN_SYNC_REPLY_ACK = 6,
	KETEN_SYNC_REPLY_SEALED = 7, /* under the session key: not opened by describe */
} keten_sync_reply_kind;

/* The codes of an Error reply (keten.sync.ErrorCode on the wire). */
typedef enum keten_sync_error_code {
	KETEN_SYNC_ERROR_NONE = 0,
	KETEN_SYNC_ERROR_UNAUTHENTICATED = 1,
	KETEN_SYNC_ERROR_MALFORMED = 2,
	KETEN_SYNC_ERROR_TOO_LARGE = 3,
	KETEN_SYNC_ERROR_RATE_LIMITED = 4,
	KETEN_SYNC_ERROR_UNKNOWN_TYPE = 5,
	KETEN_SYNC_ERROR_NOT_CERTIFIED = 6,
	KETEN_SYNC_ERROR_BAD_SIGNATURE = 7,
	KETEN_SYNC_ERROR_INTERNAL = 8,
	KETEN_SYNC_ERROR_VERSION = 9,       /* the other node speaks another version */
	KETEN_SYNC_ERROR_WRONG_SERVER = 10, /* the Hello names another server key */
} keten_sync_error_code;

/* Server ------------------------------------------------------------------ */

/* What a server allows each session (and, with a keten_sync_guard, each
 * key); the last three are the transport's (keten_node_start). */
typedef struct keten_sync_limits {
	uint32_t max_entries;  /* per reply, at most KETEN_SYNC_MAX_ENTRIES (0: that) */
	uint32_t max_bytes;    /* per reply, at most KETEN_SYNC_REPLY_BYTES (0: that) */
	uint32_t rate_per_s;   /* requests per second per session, and per key */
	uint32_t burst;        /* requests allowed at once */
	uint32_t max_conns;    /* connections at once (0: 256) */
	uint32_t handshake_ms; /* a connection not authenticated this long after it
	                          opened is closed (0: 10 s) */
	uint32_t idle_ms;      /* a connection with no request this long is closed (0: 5 min) */
} keten_sync_limits;

/* Fill *lim (out) with the defaults: 1000 entries, 3 MiB, 500 requests/s,
 * bursts of 1000, 256 connections, 10 s to authenticate, 5 minutes idle. */
KETEN_API void keten_sync_limits_default(keten_sync_limits *lim);

typedef enum keten_sync_state {
	KETEN_SYNC_NEW = 0,     /* nothing yet, or a failed Auth */
	KETEN_SYNC_CHALLENGED,  /* Hello answered, waiting for Auth */
	KETEN_SYNC_AUTHED,      /* bound to `peer`, sealed */
	KETEN_SYNC_PROVISIONAL, /* sealed, the peer's certificate not here yet:
	                           Present only */
} keten_sync_state;

/* Per-key limits shared by the sessions of a server (guard.c). */
typedef struct keten_sync_guard keten_sync_guard;

/* A server's view of one connection (the caller keeps it, one per
 * connection, and serializes the calls on it).  Only state, peer,
 * strikes, requests, announced and guard are the caller's to read; the
 * rest is the handshake's and the session key's (cleared by
 * keten_sync_session_end). */
typedef struct keten_sync_session {
	keten_sync_state state;
	uint8_t peer[32]; /* from Hello; bound after Auth */
	uint8_t client_nonce[KETEN_SYNC_NONCE_BYTES];
	uint8_t server_nonce[KETEN_SYNC_NONCE_BYTES];
	uint8_t challenge_sig[64]; /* to answer a repeated Hello alike */
	uint8_t auth_sig[64];      /* to answer a repeated Auth alike */
	double tokens;             /* rate limit bucket of this connection */
	int64_t last_ms;
	uint32_t strikes; /* malformed, bad signature, unauthenticated, not
	                     certified: the caller drops a peer at
	                     KETEN_SYNC_MAX_STRIKES (and a guard its key) */
	uint64_t requests;
	bool announced;          /* the peer said its ledger changed: pull from it (the
	                             caller clears it) */
	keten_sync_guard *guard; /* per-key limits (NULL: none); the caller's */
	bool key_proven;         /* the Hello's signature verified */
	bool first_contact;      /* peer not known here: its certificate comes with the session */
	uint8_t peer_certifier[32];
	uint64_t peer_cert_seq;
	uint8_t own_certifier[32]; /* where the server's certificate is (zero: none) */
	uint64_t own_cert_seq;
	uint8_t client_eph[32];
	uint8_t server_eph[32];
	uint8_t server_eph_sk[32]; /* cleared once the keys are derived */
	uint8_t expect[32];        /* the server key the Hello named (zero: none) */
	uint8_t binding[32];       /* of the transport (keten_sync_session_bind) */
	uint8_t transcript[32];
	uint8_t k_rx[32], k_tx[32]; /* session keys: client to server, and back */
	uint64_t rx_ctr, tx_ctr;    /* the last counter taken, and sent */
	uint32_t presented;         /* entries a provisional peer presented */
} keten_sync_session;

/* Start session *s (out) of a new connection at now_ms (any monotonic
 * clock in milliseconds, the same for every call on s), with a full
 * bucket of lim->burst requests, no guard and the binding of no
 * transport. */
KETEN_API void keten_sync_session_init(keten_sync_session *s, const keten_sync_limits *lim, int64_t now_ms);
/* Bind session s to its transport: "tls" for a connection that came over
 * TLS, anything else (or NULL) names a plain one.  The client must name
 * the same (keten_sync_client_bind), or the handshake fails: a relay
 * cannot turn a TLS connection into a plain one unseen.  Call before the
 * Hello. */
KETEN_API void keten_sync_session_bind(keten_sync_session *s, const char *transport);
/* Clear the session's keys (the connection is gone); s may be reused
 * only after keten_sync_session_init. */
KETEN_API void keten_sync_session_end(keten_sync_session *s);

/*
 * Per-key limits for the sessions of one server, into *out (free with
 * keten_sync_guard_free): a token bucket of lim's rate and burst (NULL:
 * the defaults) and a count of strikes for each key that proved it holds
 * its secret, kept across connections (at most max_keys keys, 0: 4096;
 * the one seen least recently makes room), and one bucket for first
 * contacts (keys not known here yet: 2 a second, in bursts of 16).  A key
 * with KETEN_SYNC_MAX_STRIKES strikes is refused until they decay (one
 * every 30 s).  Thread-safe.  Errors: KETEN_ENOMEM.
 */
KETEN_API int keten_sync_guard_new(const keten_sync_limits *lim, size_t max_keys, keten_sync_guard **out,
                                   keten_error *err);
/* Free g (NULL does nothing); no session may use it any more. */
KETEN_API void keten_sync_guard_free(keten_sync_guard *g);
/* The strikes held against key at now_ms (after decay). */
KETEN_API uint32_t keten_sync_guard_strikes(keten_sync_guard *g, const uint8_t key[32], int64_t now_ms);

/*
 * Answer one request of session s (in/out) at now_ms, under lim.  req,
 * len: the request's bytes (in).  *reply (out, malloc'd, the caller frees
 * it) always receives a reply unless the result is KETEN_ENOMEM; the
 * caller sends it whatever the result.  Returns KETEN_OK for a normal
 * reply, or the reason an Error reply was sent: KETEN_EPROTO (malformed,
 * unknown type, too large, rate limited, unauthenticated, another
 * version, out of order), KETEN_ESIG (bad Hello or Auth signature, a
 * sealed frame that does not open), KETEN_EAUTHOR (peer not certified
 * here, or no longer: revoked or expired; or the Hello names another
 * server), KETEN_ECRYPTO, or a store error; note (may be NULL) says what
 * happened, for the log.  L must be unlocked (Challenge is signed with
 * its key).  A Present request ingests entries into L.  Sessions of
 * different connections may be served from several threads at once.
 */
KETEN_API int keten_sync_serve(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim, int64_t now_ms,
                               const uint8_t *req, size_t len, uint8_t **reply, size_t *reply_len, keten_error *note);

/* May `key` read the body of e (the need-to-know rule above)?  t: a read
 * transaction of the ledger that holds e (party states, and for an
 * auditor what e refers to, are read in it: a municipality that cannot be
 * traced there, as of a stub, lets no auditor read). */
KETEN_API bool keten_sync_may_read(keten_txn *t, const keten_entry *e, const uint8_t key[32]);

/* Heads and checkpoints ----------------------------------------------------- */

/* BLAKE2b-256 over every head (author || seq BE64 || id) held in t, in
 * author order, into out; *n_feeds (may be NULL) the number of feeds.
 * Errors: store errors, KETEN_ENOMEM. */
KETEN_API int keten_sync_heads_digest(keten_txn *t, uint8_t out[32], size_t *n_feeds, keten_error *err);

/*
 * The body of a checkpoint of the heads held in t (keten.Checkpoint),
 * encoded: *out (malloc'd, the caller frees it), *len; digest receives
 * the heads digest it covers.  Outputs cleared on failure.  Errors: store
 * errors, KETEN_ENOMEM.
 */
KETEN_API int keten_sync_checkpoint_body(keten_txn *t, uint8_t **out, size_t *len, uint8_t digest[32],
                                         keten_error *err);

/* A checkpoint held here compared with this ledger's own feeds. */
typedef struct keten_checkpoint_check {
	size_t heads;  /* feeds it lists */
	size_t agree;  /* we hold the same entry at that seq */
	size_t behind; /* we have not seen that seq yet: not a finding */
	size_t differ; /* we hold another entry at that seq: an equivocation */
	bool first_differ_set;
	uint8_t first_differ[32]; /* the feed of the first that differs */
	uint64_t first_differ_seq;
} keten_checkpoint_check;

/* Check checkpoint entry e (with its body) against t's feeds into *out
 * (cleared first; the figures up to a malformed head stay).  Errors:
 * KETEN_EINVAL (not a checkpoint with its body), KETEN_EMALFORMED (does
 * not decode, heads out of order, or a root that does not match them),
 * store errors. */
KETEN_API int keten_sync_checkpoint_check(keten_txn *t, const keten_entry *e, keten_checkpoint_check *out,
                                          keten_error *err);

/*
 * Append a checkpoint of the heads L holds now, signed by its key (L
 * unlocked).  id (out) receives the new entry's id, *feeds (out, may be
 * NULL) the number of feeds it covers.  Errors: KETEN_EINVAL (not
 * unlocked), those of keten_ledger_append, store errors.
 */
KETEN_API int keten_checkpoint_append(keten_ledger *L, uint8_t id[32], size_t *feeds, keten_error *err);

/* One other node's checkpoint held here, checked against our feeds. */
typedef struct keten_checkpoint_seen {
	uint8_t id[32];
	uint8_t author[32];
	int rc;                       /* KETEN_OK, or why it does not check (as keten_sync_checkpoint_check) */
	char problem[400];            /* when rc: the message */
	keten_checkpoint_check check; /* the figures (when rc is KETEN_OK) */
} keten_checkpoint_seen;

/* Called once per checkpoint; return 0 to go on, nonzero to stop (then
 * keten_checkpoints_check returns 0).  cp is valid during the call. */
typedef int (*keten_checkpoint_fn)(void *ctx, const keten_checkpoint_seen *cp);

/*
 * Every checkpoint held in t with its body whose author is not `self`
 * (our own name our own feeds; a stub says nothing), in time order,
 * checked against t's feeds and handed to fn.  Errors: store errors.
 */
KETEN_API int keten_checkpoints_check(keten_txn *t, const uint8_t self[32], keten_checkpoint_fn fn, void *ctx,
                                      keten_error *err);

/* Client ------------------------------------------------------------------ */

/* What one client round did. */
typedef struct keten_sync_stats {
	size_t entries;  /* new entries stored */
	size_t stubs;    /* of which stubs */
	size_t bodies;   /* bodies added to stubs held before */
	size_t known;    /* received but already held */
	size_t forks;    /* equivocations found */
	size_t pending;  /* stored, waiting for references or a certificate */
	size_t rejected; /* stored, refused by a business rule here */
	size_t dropped;  /* failed authenticity, not stored */
	size_t requests; /* round trips */
	size_t bytes_out, bytes_in;
	size_t feeds; /* feeds the server listed */
	bool same;    /* the server's heads had not changed */
} keten_sync_stats;

/* "N entries (M stubs), F forks, P pending", then ", B bodies",
 * ", R rejected", ", D dropped" when not zero and " (in sync)" when the
 * server's heads had not changed: the line keten sync and keten node
 * print.  buf (out) holds len bytes, NUL-terminated (cut when short). */
KETEN_API void keten_sync_stats_text(const keten_sync_stats *st, char *buf, size_t len);

typedef struct keten_sync_client keten_sync_client;

/* A client pulling into L (unlocked: it signs Auth with L's key) into
 * *out (the caller frees it with keten_sync_client_free).  Errors:
 * KETEN_EINVAL (not unlocked), KETEN_ENOMEM. */
KETEN_API int keten_sync_client_new(keten_ledger *L, keten_sync_client **out, keten_error *err);
/* Free c (NULL does nothing), after waiting for its ingest thread. */
KETEN_API void keten_sync_client_free(keten_sync_client *c);

/* The server key this client expects (pinned): named in every Hello, and
 * a Challenge by another key is refused (KETEN_EAUTHOR).  key NULL: any
 * key the ledger knows (first use; keten_sync_client_server tells which
 * answered). */
KETEN_API void keten_sync_client_expect(keten_sync_client *c, const uint8_t key[32]);
/* The transport the client's connection runs over, as for
 * keten_sync_session_bind ("tls", or a plain one). */
KETEN_API void keten_sync_client_bind(keten_sync_client *c, const char *transport);
/* Has the handshake with the current server completed (a session key
 * that the server confirmed, and the server's key valid here)? */
KETEN_API bool keten_sync_client_authed(const keten_sync_client *c);

/* Ask for at most this many entries and bytes per Fetch (0: the server's
 * cap). */
KETEN_API void keten_sync_client_limits(keten_sync_client *c, uint32_t max_entries, uint32_t max_bytes);

/* Ingest at most this many entries and bytes per batch (0: the defaults
 * KETEN_SYNC_BATCH_ENTRIES, KETEN_SYNC_BATCH_BYTES; 1 entry ingests each
 * reply alone).  A batch may exceed the bytes by one reply. */
KETEN_API void keten_sync_client_batch(keten_sync_client *c, uint32_t max_entries, uint32_t max_bytes);

/*
 * A lock around the client's use of L (fn(ctx, true): take it; false:
 * release it).  With one, the client takes it itself wherever it reads or
 * writes L, so the caller holds it around none of the client's calls, and
 * a full batch is ingested on a thread of the client's own (which takes
 * the lock too) while the caller carries the next requests.  Without one
 * (the default) batches are ingested inline, on the caller's thread.
 * LMDB needs no such lock (the store's map gate keeps concurrent reads
 * and writes safe): it is what turns the ingest thread on, and what a
 * caller that uses L from other threads too may share with them to keep
 * the client's use of L apart from theirs.  keten_sync_client_reset and
 * keten_sync_client_free wait for that thread.
 */
typedef void (*keten_sync_lock_fn)(void *ctx, bool on);
KETEN_API void keten_sync_client_lock(keten_sync_client *c, keten_sync_lock_fn fn, void *ctx);

/* Start a round: *req (out, malloc'd, the caller frees it), *req_len:
 * the first request (Hello when not authenticated, else Heads).  Errors:
 * store errors, KETEN_ENOMEM. */
KETEN_API int keten_sync_client_begin(keten_sync_client *c, uint8_t **req, size_t *req_len, keten_error *err);

/*
 * Take the reply (reply, len: its bytes) to the last request; *req (out,
 * malloc'd) receives the next request, or NULL when the round is over.
 * An Error reply, a bad Challenge or a reply that does not fit ends the
 * round with KETEN_EPROTO (or KETEN_ESIG, KETEN_EAUTHOR for a bad or
 * refused handshake, a server that is not the one expected, or one whose
 * key is no longer valid here); what arrived and verified before is kept.
 * A reply after the handshake that is not sealed under the session key,
 * or sealed out of order, ends the round with KETEN_ESIG or KETEN_EPROTO.
 * An Error UNAUTHENTICATED after the handshake (the connection was replaced) makes
 * the client authenticate again, at most twice per round; an Error
 * RATE_LIMITED gives the same request again, to send after
 * keten_sync_client_wait_ms() (at most four times per round).  Store
 * errors and KETEN_ENOMEM end the round too.
 */
KETEN_API int keten_sync_client_reply(keten_sync_client *c, const uint8_t *reply, size_t len, uint8_t **req,
                                      size_t *req_len, keten_error *err);

/* How long to wait before sending the request just returned (0: now). */
KETEN_API uint32_t keten_sync_client_wait_ms(const keten_sync_client *c);

/* The current round's figures (owned by c, valid until its next call). */
KETEN_API const keten_sync_stats *keten_sync_client_stats(const keten_sync_client *c);
/* The server's key into key (out), once a Challenge has verified; false
 * before. */
KETEN_API bool keten_sync_client_server(const keten_sync_client *c, uint8_t key[32]);
/* The connection was lost: authenticate again in the next round, and ask
 * for full heads.  What was fetched but not ingested is fetched again. */
KETEN_API void keten_sync_client_reset(keten_sync_client *c);

/* An Announce ("my ledger changed") for the server into *req (out,
 * malloc'd), on a client that is authenticated (KETEN_EINVAL otherwise);
 * its Ack goes to keten_sync_client_reply, which then ends with no next
 * request. */
KETEN_API int keten_sync_client_announce(keten_sync_client *c, uint8_t **req, size_t *req_len, keten_error *err);

/* Decode a Reply and say which kind it is ("error unauthenticated: ...",
 * "sealed (N bytes)") into buf (out, buflen bytes), for tests and logs.
 * Returns its keten_sync_reply_kind, KETEN_SYNC_REPLY_NONE when it does
 * not decode; *error_code (out) receives its keten_sync_error_code (0
 * when none).  A sealed reply is not opened. */
KETEN_API int keten_sync_describe_reply(const uint8_t *reply, size_t len, int *error_code, char *buf, size_t buflen);

#endif
