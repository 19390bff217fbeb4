/*
 * sync.h — (internal) what the files of the sync protocol share; the
 * protocol's API is include/keten/sync.h.
 *
 *   message.c   decoding with a capped allocator, packing, Error replies,
 *               describing replies
 *   seal.c      the transcript, the signed messages, the session keys and
 *               Sealed frames
 *   guard.c     per-key limits shared by a server's sessions
 *   know.c      need-to-know (who may read a body), who may sync, where a
 *               key's certificate is
 *   heads.c     heads, their digest, checkpoints
 *   handshake.c the server's handshake: Hello, Auth, Present, and the
 *               Sealed requests after it
 *   server.c    the server's answer to each request
 *   client.c    the client's round (client.h: its state)
 *   shake.c     the client's handshake and its Sealed frames
 *   batch.c     the client's batches of replies and their ingest
 */
#ifndef KETEN_SYNC_SYNC_H
#define KETEN_SYNC_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "keten/keten.h"
#include "keten/sync.h"
#include "proto/keten.pb-c.h"
#include "proto/sync.pb-c.h"
#include "rules/rules.h"

/* Messages (message.c) ------------------------------------------------------ */

/* Allocation budgets for decoding one request and one reply. */
#define KT_SYNC_REQUEST_CAP (8u * 1024u * 1024u)
#define KT_SYNC_REPLY_CAP   (64u * 1024u * 1024u)
/* What a Sealed frame adds to the reply inside it, at most. */
#define KT_SYNC_FRAME_SLACK 256u

/* A protobuf-c allocator with a budget: decoding fails instead of
 * allocating without bound.  Use as
 *   struct kt_capped cap = {0, KT_SYNC_REPLY_CAP};
 *   ProtobufCAllocator a = {kt_capped_alloc, kt_capped_free, &cap}; */
struct kt_capped {
	size_t used, cap;
};
void *kt_capped_alloc(void *data, size_t size);
void kt_capped_free(void *data, void *ptr);

/* Pack into *out (malloc'd): KETEN_ENOMEM or KETEN_OK. */
int kt_sync_pack_reply(const Keten__Sync__Reply *r, uint8_t **out, size_t *len);
int kt_sync_pack_request(const Keten__Sync__Request *r, uint8_t **out, size_t *len);
/* The name of an Error code ("rate-limited"). */
const char *kt_sync_code_name(int code);
/* Send an Error reply into *out, note why (code name: text), and return
 * `ret` (KETEN_ENOMEM when it cannot be packed). */
int kt_sync_error_reply(Keten__Sync__ErrorCode code, const char *text, int ret, uint8_t **out, size_t *len,
                        keten_error *note);
/* Copy the printable ASCII of a peer's text into dst (n bytes), for logs. */
void kt_sync_clean_text(char *dst, size_t n, const char *src);

/* Sessions (seal.c) ------------------------------------------------------------ */

/* What the transcript covers (proto/sync.proto); zero bytes where a side
 * says nothing (no expected server key, no certificate). */
struct kt_hs {
	uint8_t client[32], client_nonce[32], client_eph[32], expect[32];
	uint8_t c_certifier[32];
	uint64_t c_seq;
	uint8_t binding[32];
	uint8_t server[32], server_nonce[32], server_eph[32];
	uint8_t s_certifier[32];
	uint64_t s_seq;
};

/* The hash the Hello signature covers (the client's part), and the
 * transcript hash both handshake signatures cover. */
void kt_hs_hello_hash(const struct kt_hs *h, uint8_t out[32]);
void kt_hs_transcript(const struct kt_hs *h, uint8_t out[32]);
/* ctx || hash into msg; its length. */
#define KT_HS_MSG_MAX 64
size_t kt_hs_sigmsg(const char *ctx, const uint8_t hash[32], uint8_t msg[KT_HS_MSG_MAX]);
/* The session keys of one side (client or server) from its ephemeral
 * key pair and the peer's public one, bound to transcript th.
 * KETEN_ECRYPTO when the peer's key is unusable. */
int kt_hs_keys(bool client, const uint8_t my_pk[32], const uint8_t my_sk[32], const uint8_t peer_pk[32],
               const uint8_t th[32], uint8_t k_tx[32], uint8_t k_rx[32]);
/* The binding of a transport ("tls", anything else plain). */
void kt_sync_binding(const char *transport, uint8_t out[32]);
/* Seal m (dir 'c': client to server, 's': back) at counter ctr (>= 1),
 * answering reply_to; *box malloc'd.  Open the same: KETEN_ECRYPTO when
 * it does not open, KETEN_ENOMEM. */
int kt_seal(const uint8_t key[32], char dir, uint64_t ctr, uint64_t reply_to, const uint8_t *m, size_t mlen,
            uint8_t **box, size_t *blen);
int kt_open(const uint8_t key[32], char dir, uint64_t ctr, uint64_t reply_to, const uint8_t *box, size_t blen,
            uint8_t **m, size_t *mlen);
/* A whole Request{sealed} of inner at ctr, and a Reply{sealed} of the
 * encoded inner reply, packed into *out (malloc'd). */
int kt_seal_request(const uint8_t key[32], uint64_t ctr, const Keten__Sync__Request *inner, uint8_t **out, size_t *len);
int kt_seal_reply(const uint8_t key[32], uint64_t ctr, uint64_t reply_to, const uint8_t *inner, size_t inner_len,
                  uint8_t **out, size_t *len);

/* Per-key limits (guard.c): take a request of key (0; 1: rate limited;
 * 2: too many strikes), count a strike, take a first contact.  A NULL
 * guard allows everything. */
int kt_guard_take(keten_sync_guard *g, const uint8_t key[32], int64_t now);
void kt_guard_strike(keten_sync_guard *g, const uint8_t key[32], int64_t now);
bool kt_guard_first_contact(keten_sync_guard *g, int64_t now);

/* The server (handshake.c, server.c) ------------------------------------------- */

/* Hello, Auth and a Sealed request of session s, answered into *out (as
 * keten_sync_serve); kt_serve_inner answers the inner request of an open
 * session (Heads, Fetch, Forks, Announce) into *out, to be sealed. */
int kt_serve_hello(keten_ledger *L, keten_sync_session *s, int64_t now, const Keten__Sync__Hello *h, uint8_t **out,
                   size_t *len, keten_error *note);
int kt_serve_auth(keten_ledger *L, keten_sync_session *s, int64_t now, const Keten__Sync__Auth *a, uint8_t **out,
                  size_t *len, keten_error *note);
int kt_serve_sealed(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim, int64_t now,
                    const Keten__Sync__Sealed *sl, uint8_t **out, size_t *len, keten_error *note);
int kt_serve_inner(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim, int64_t now,
                   const Keten__Sync__Request *q, uint8_t **out, size_t *len, keten_error *note);

/* Need-to-know (know.c) ----------------------------------------------------- */

/* Who is asking, with an auditor's municipalities loaded once (set key,
 * zero the rest). */
struct kt_reader {
	const uint8_t *key;
	bool loaded, auditor;
	kt_municipalities mun;
};

/* May r read the body of e (keten_sync_may_read, with r kept between
 * entries)?  An auditor reads the bodies of its municipalities' entries
 * (kt_entry_municipalities): t must trace e's, so a server decides this
 * with the body at hand. */
bool kt_reader_may(keten_txn *t, struct kt_reader *r, const keten_entry *e);

/* Might r be let read the body of e, which may be a stub here (the
 * stubs a client asks the bodies of)?  As kt_reader_may for a body; for
 * a stub of which r is no party, true for an auditor certified for a
 * municipality some party of its audience is certified for: the entry's
 * own municipality is in the body, and the server, which holds it,
 * decides. */
bool kt_reader_might(keten_txn *t, struct kt_reader *r, const keten_entry *e);

/* May this key sync with L: a trust anchor, or certified and not revoked
 * (KETEN_EAUTHOR or KETEN_ERULE when not).  name (may be NULL): the
 * party's name, or the anchor's. */
int kt_sync_peer_allowed(keten_ledger *L, const uint8_t key[32], char *name, size_t nlen, keten_error *err);

/* Where key's certificate is in t: its certifier and the seq in that feed
 * (false when t holds none, or key is an anchor here).  top (may be
 * NULL): the highest seq of that feed a peer needs to see it as it
 * stands here (the certificate, or a later revocation of key). */
bool kt_sync_credential(keten_txn *t, const uint8_t key[32], uint8_t certifier[32], uint64_t *seq, uint64_t *top);

/* Is key a trust anchor of L? */
bool kt_sync_is_anchor(keten_ledger *L, const uint8_t key[32]);

/* Heads (heads.c) ----------------------------------------------------------- */

struct kt_head {
	uint8_t author[32];
	uint64_t seq;
	uint8_t id[32];
};

/* Every head in author order (h, n when collect), hashed into the digest. */
struct kt_heads {
	struct kt_head *h;
	size_t n, cap;
	crypto_generichash_state hs;
	bool collect;
};

/* Read every head of t into hd (free hd->h after, also on failure) and
 * their digest. */
int kt_read_heads(keten_txn *t, struct kt_heads *hd, uint8_t digest[32], keten_error *err);
/* The collected heads as FeedHead messages: *fh holds them, *fp points at
 * each; the bytes point into hd.  Both freed by the caller; -1: no memory. */
int kt_feed_heads(const struct kt_heads *hd, Keten__FeedHead **fh, Keten__FeedHead ***fp);

/*
 * Append a checkpoint of L's heads unless they are those of `last` (when
 * have_last; *id_out then stays zero); last becomes the heads digest
 * after it.  feeds (may be NULL): the feeds it covers.
 */
int kt_checkpoint_append(keten_ledger *L, uint8_t last[32], bool have_last, uint8_t id_out[32], size_t *feeds,
                         keten_error *err);

#endif
