/*
 * sync.h — (internal) what the files of the sync protocol share; the
 * protocol's API is include/keten/sync.h.
 *
 *   message.c  decoding with a capped allocator, packing, Error replies,
 *              the handshake's signed messages, describing replies
 *   know.c     need-to-know (who may read a body) and who may sync
 *   heads.c    heads, their digest, checkpoints
 *   server.c   the server's answer to each request
 *   client.c   the client's round (client.h: its state)
 *   batch.c    the client's batches of replies and their ingest
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

/* Messages (message.c) ------------------------------------------------------ */

/* Allocation budgets for decoding one request and one reply. */
#define KT_SYNC_REQUEST_CAP (8u * 1024u * 1024u)
#define KT_SYNC_REPLY_CAP   (64u * 1024u * 1024u)

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

/* The messages the handshake signs: context || nonce || key || nonce. */
#define KT_SYNC_SERVER_MSG_LEN (sizeof KETEN_SYNC_CTX_SERVER - 1 + 96)
#define KT_SYNC_CLIENT_MSG_LEN (sizeof KETEN_SYNC_CTX_CLIENT - 1 + 96)
void kt_sync_server_message(uint8_t *msg, const uint8_t client_nonce[32], const uint8_t client[32],
                            const uint8_t server_nonce[32]);
void kt_sync_client_message(uint8_t *msg, const uint8_t server_nonce[32], const uint8_t server[32],
                            const uint8_t client[32]);

/* Need-to-know (know.c) ----------------------------------------------------- */

#define KT_READER_MAX_MUN 16

/* Who is asking, with an auditor's municipalities loaded once (set key,
 * zero the rest). */
struct kt_reader {
	const uint8_t *key;
	bool loaded, auditor;
	size_t n_mun;
	char mun[KT_READER_MAX_MUN][8];
};

/* May r read the body of e (keten_sync_may_read, with r kept between
 * entries)? */
bool kt_reader_may(keten_txn *t, struct kt_reader *r, const keten_entry *e);

/* May this key sync with L: a trust anchor, or certified and not revoked
 * (KETEN_EAUTHOR or KETEN_ERULE when not).  name (may be NULL): the
 * party's name, or the anchor's. */
int kt_sync_peer_allowed(keten_ledger *L, const uint8_t key[32], char *name, size_t nlen, keten_error *err);

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
