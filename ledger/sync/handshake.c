/*
 * handshake.c — the server's side of the sync handshake (keten/sync/v2,
 * proto/sync.proto) and of the Sealed requests after it: a Hello signed
 * by the client's key (checked before this server signs anything) and
 * answered with a Challenge signed over the transcript; an Auth that
 * completes the session key; Present requests that bring a first
 * contact's certificate; and every later request opened, put in order,
 * checked against the peer's certificate and revocation as they stand
 * now, answered by server.c and sealed back.  Strikes count on the
 * session and, once the key is proven, on the guard's record of the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync.h"
#include "base/base.h"
#include "store/kv.h"

#define PRESENT_MAX_ENTRIES 1000u /* per Present request */

/* A strike on the session, and on its key once the key is proven. */
static void strike(keten_sync_session *s, int64_t now)
{
	s->strikes++;
	if (s->key_proven)
		kt_guard_strike(s->guard, s->peer, now);
}

static void drop_keys(keten_sync_session *s)
{
	sodium_memzero(s->server_eph_sk, sizeof s->server_eph_sk);
	sodium_memzero(s->k_rx, sizeof s->k_rx);
	sodium_memzero(s->k_tx, sizeof s->k_tx);
	s->state = KETEN_SYNC_NEW;
	s->first_contact = false;
}

void keten_sync_session_bind(keten_sync_session *s, const char *transport)
{
	kt_sync_binding(transport && strcmp(transport, "tls") == 0 ? "tls" : "plain", s->binding);
}

void keten_sync_session_end(keten_sync_session *s)
{
	drop_keys(s);
	sodium_memzero(s->transcript, sizeof s->transcript);
}

/* The transcript's inputs as this session holds them. */
static void session_hs(keten_ledger *L, const keten_sync_session *s, struct kt_hs *h)
{
	memset(h, 0, sizeof *h);
	memcpy(h->client, s->peer, 32);
	memcpy(h->client_nonce, s->client_nonce, 32);
	memcpy(h->client_eph, s->client_eph, 32);
	memcpy(h->expect, s->expect, 32);
	memcpy(h->c_certifier, s->peer_certifier, 32);
	h->c_seq = s->peer_cert_seq;
	memcpy(h->binding, s->binding, 32);
	memcpy(h->server, keten_ledger_info(L)->key, 32);
	memcpy(h->server_nonce, s->server_nonce, 32);
	memcpy(h->server_eph, s->server_eph, 32);
	memcpy(h->s_certifier, s->own_certifier, 32);
	h->s_seq = s->own_cert_seq;
}

static int challenge_reply(keten_ledger *L, const keten_sync_session *s, uint8_t **out, size_t *len, keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__Challenge c = KETEN__SYNC__CHALLENGE__INIT;
	Keten__Sync__Credential cr = KETEN__SYNC__CREDENTIAL__INIT;
	c.key.data = (uint8_t *)keten_ledger_info(L)->key;
	c.key.len = 32;
	c.nonce.data = (uint8_t *)s->server_nonce;
	c.nonce.len = 32;
	c.signature.data = (uint8_t *)s->challenge_sig;
	c.signature.len = 64;
	c.has_version = 1;
	c.version = KETEN_SYNC_VERSION;
	c.has_ephemeral = 1;
	c.ephemeral.data = (uint8_t *)s->server_eph;
	c.ephemeral.len = 32;
	if (s->own_cert_seq) {
		cr.certifier.data = (uint8_t *)s->own_certifier;
		cr.certifier.len = 32;
		cr.seq = s->own_cert_seq;
		c.credential = &cr;
	}
	r.msg_case = KETEN__SYNC__REPLY__MSG_CHALLENGE;
	r.challenge = &c;
	return kt_sync_pack_reply(&r, out, len) ? keten_fail(note, KETEN_ENOMEM, NULL) : KETEN_OK;
}

/* The Hello's fields are the right sizes, and its version ours. */
static int hello_shape(keten_sync_session *s, const Keten__Sync__Hello *h, int64_t now, uint8_t **out, size_t *len,
                       keten_error *note)
{
	if (!h->has_version || h->version != KETEN_SYNC_VERSION) {
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__VERSION,
		                           h->has_version ? "this node speaks keten/sync/v2: upgrade keten"
		                                          : "this node speaks keten/sync/v2, the hello is "
		                                            "keten/sync/v1: upgrade keten",
		                           KETEN_EPROTO, out, len, note);
	}
	if (h->key.len != 32 || h->nonce.len != KETEN_SYNC_NONCE_BYTES || !keten_key_valid(h->key.data) ||
	    !h->has_ephemeral || h->ephemeral.len != 32 || !h->has_signature || h->signature.len != 64 ||
	    (h->has_server && h->server.len != 32) ||
	    (h->credential &&
	     (h->credential->certifier.len != 32 || h->credential->seq == 0 ||
	      h->credential->seq > (UINT64_C(1) << 62)))) {
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED,
		                           "hello needs a valid 32-byte Ed25519 key, a 32-byte nonce and "
		                           "ephemeral key, and a 64-byte signature",
		                           KETEN_EPROTO, out, len, note);
	}
	return KETEN_OK;
}

/* Does the Hello's signature hold (the client holds its key)?  Fills the
 * session's view of the client's part. */
static bool hello_signed(keten_sync_session *s, const Keten__Sync__Hello *h)
{
	struct kt_hs hs = {0};
	uint8_t hash[32], msg[KT_HS_MSG_MAX];
	memcpy(hs.client, h->key.data, 32);
	memcpy(hs.client_nonce, h->nonce.data, 32);
	memcpy(hs.client_eph, h->ephemeral.data, 32);
	if (h->has_server)
		memcpy(hs.expect, h->server.data, 32);
	if (h->credential) {
		memcpy(hs.c_certifier, h->credential->certifier.data, 32);
		hs.c_seq = h->credential->seq;
	}
	memcpy(hs.binding, s->binding, 32);
	kt_hs_hello_hash(&hs, hash);
	return keten_sig_verify(h->signature.data, msg, kt_hs_sigmsg(KETEN_SYNC_CTX_HELLO, hash, msg), h->key.data) ==
		KETEN_OK;
}

/* A key not known here whose certificate may come with the session: its
 * certifier is a trust anchor here, the certificate's seq lies beyond
 * what we hold of that feed, and first contacts are not coming too fast. */
static bool first_contact_ok(keten_ledger *L, keten_sync_session *s, const Keten__Sync__Hello *h, int64_t now)
{
	keten_txn *t;
	uint64_t head = 0;
	bool ok;
	if (!h->credential || !kt_sync_is_anchor(L, h->credential->certifier.data))
		return false;
	if (keten_store_read(keten_ledger_store(L), &t, NULL) != KETEN_OK)
		return false;
	ok = keten_store_head(t, h->credential->certifier.data, &head, NULL, NULL) == KETEN_OK &&
		h->credential->seq > head;
	keten_txn_end(t);
	return ok && kt_guard_first_contact(s->guard, now);
}

/* Whether this key may go on to a Challenge: known here (or a first
 * contact), and not over its limits. */
static int hello_admit(keten_ledger *L, keten_sync_session *s, const Keten__Sync__Hello *h, int64_t now, uint8_t **out,
                       size_t *len, keten_error *note)
{
	keten_error perr = {0};
	int g = kt_guard_take(s->guard, h->key.data, now), rc;

	if (g)
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__RATE_LIMITED,
		                           g == 2 ? "too many bad requests from this key: wait"
		                                  : "too many requests from this key: slow down",
		                           KETEN_EPROTO, out, len, note);
	rc = kt_sync_peer_allowed(L, h->key.data, NULL, 0, &perr);
	s->first_contact = false;
	if (rc == KETEN_EAUTHOR && first_contact_ok(L, s, h, now)) {
		s->first_contact = true;
		return KETEN_OK;
	}
	if (rc == KETEN_EAUTHOR || rc == KETEN_ERULE) {
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED,
		                           rc == KETEN_ERULE ? "this key is revoked or its certificate is not valid now"
		                                             : "this key is not a certified party or trust anchor here",
		                           KETEN_EAUTHOR, out, len, note);
	}
	if (rc)
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot read its ledger", rc,
		                           out, len, note);
	return KETEN_OK;
}

int kt_serve_hello(keten_ledger *L, keten_sync_session *s, int64_t now, const Keten__Sync__Hello *h, uint8_t **out,
                   size_t *len, keten_error *note)
{
	const keten_keypair *kp = keten_ledger_keypair(L);
	uint8_t msg[KT_HS_MSG_MAX];
	struct kt_hs hs;
	keten_txn *t;
	int rc;

	if ((rc = hello_shape(s, h, now, out, len, note)))
		return rc;
	/* The same Hello again (a resent or repeated request): the same
	 * Challenge, and the session as it is. */
	if (s->state != KETEN_SYNC_NEW && memcmp(s->peer, h->key.data, 32) == 0 &&
	    memcmp(s->client_nonce, h->nonce.data, 32) == 0 && memcmp(s->client_eph, h->ephemeral.data, 32) == 0)
		return challenge_reply(L, s, out, len, note);
	drop_keys(s);
	s->key_proven = false;
	if (h->has_server && memcmp(h->server.data, keten_ledger_info(L)->key, 32) != 0) {
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__WRONG_SERVER,
		                           "the hello names another node's key than this one's", KETEN_EAUTHOR, out,
		                           len, note);
	}
	if (!hello_signed(s, h)) {
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__BAD_SIGNATURE,
		                           "the hello's signature does not verify", KETEN_ESIG, out, len, note);
	}
	memcpy(s->peer, h->key.data, 32);
	s->key_proven = true;
	memset(s->peer_certifier, 0, 32);
	s->peer_cert_seq = 0;
	if (h->credential) {
		memcpy(s->peer_certifier, h->credential->certifier.data, 32);
		s->peer_cert_seq = h->credential->seq;
	}
	if ((rc = hello_admit(L, s, h, now, out, len, note)) || *out)
		return rc;
	if (!kp)
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot sign now",
		                           KETEN_EINVAL, out, len, note);
	memcpy(s->client_nonce, h->nonce.data, 32);
	memcpy(s->client_eph, h->ephemeral.data, 32);
	memset(s->expect, 0, 32);
	if (h->has_server)
		memcpy(s->expect, h->server.data, 32);
	s->own_cert_seq = 0;
	memset(s->own_certifier, 0, 32);
	if (keten_store_read(keten_ledger_store(L), &t, NULL) == KETEN_OK) {
		kt_sync_credential(t, keten_ledger_info(L)->key, s->own_certifier, &s->own_cert_seq, NULL);
		keten_txn_end(t);
	}
	randombytes_buf(s->server_nonce, sizeof s->server_nonce);
	crypto_kx_keypair(s->server_eph, s->server_eph_sk);
	session_hs(L, s, &hs);
	kt_hs_transcript(&hs, s->transcript);
	if (keten_keypair_sign(kp, s->challenge_sig, msg, kt_hs_sigmsg(KETEN_SYNC_CTX_SERVER, s->transcript, msg)))
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot sign now",
		                           KETEN_ECRYPTO, out, len, note);
	s->state = KETEN_SYNC_CHALLENGED;
	return challenge_reply(L, s, out, len, note);
}

/* Seal the packed inner reply (freed) as the answer to request reply_to. */
static int seal_back(keten_sync_session *s, uint64_t reply_to, uint8_t *inner, size_t inner_len, uint8_t **out,
                     size_t *len, keten_error *note)
{
	int rc;
	KETEN_ASSERT(reply_to <= s->rx_ctr);
	rc = kt_seal_reply(s->k_tx, ++s->tx_ctr, reply_to, inner, inner_len, out, len);
	free(inner);
	return rc ? keten_fail(note, KETEN_ENOMEM, NULL) : KETEN_OK;
}

/* AuthOk, packed into *inner: the peer's name, or where the presentation
 * of its certificate stands. */
static int auth_ok(keten_ledger *L, const keten_sync_session *s, uint8_t **inner, size_t *inner_len)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__AuthOk ok = KETEN__SYNC__AUTH_OK__INIT;
	char name[128] = "";
	keten_txn *t;

	if (s->state == KETEN_SYNC_PROVISIONAL) {
		ok.has_provisional = ok.provisional = 1;
		ok.has_certifier_head = 1;
		if (keten_store_read(keten_ledger_store(L), &t, NULL) == KETEN_OK) {
			keten_store_head(t, s->peer_certifier, &ok.certifier_head, NULL, NULL);
			keten_txn_end(t);
		}
	} else {
		kt_sync_peer_allowed(L, s->peer, name, sizeof name, NULL);
		ok.name = name[0] ? name : NULL;
	}
	r.msg_case = KETEN__SYNC__REPLY__MSG_AUTH_OK;
	r.auth_ok = &ok;
	return kt_sync_pack_reply(&r, inner, inner_len);
}

int kt_serve_auth(keten_ledger *L, keten_sync_session *s, int64_t now, const Keten__Sync__Auth *a, uint8_t **out,
                  size_t *len, keten_error *note)
{
	uint8_t msg[KT_HS_MSG_MAX], *inner;
	size_t inner_len;
	keten_error perr = {0};

	if (a->signature.len != 64) {
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED, "auth needs a 64-byte signature",
		                           KETEN_EPROTO, out, len, note);
	}
	if ((s->state == KETEN_SYNC_AUTHED || s->state == KETEN_SYNC_PROVISIONAL) &&
	    sodium_memcmp(s->auth_sig, a->signature.data, 64) == 0)
		return auth_ok(L, s, &inner, &inner_len) ? (int)keten_fail(note, KETEN_ENOMEM, NULL)
							 : seal_back(s, 0, inner, inner_len, out, len, note);
	if (s->state != KETEN_SYNC_CHALLENGED) {
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED,
		                           "auth without a fresh challenge: send hello first", KETEN_EPROTO, out, len,
		                           note);
	}
	/* The challenge is spent whether or not the answer holds. */
	s->state = KETEN_SYNC_NEW;
	if (keten_sig_verify(a->signature.data, msg, kt_hs_sigmsg(KETEN_SYNC_CTX_CLIENT, s->transcript, msg),
	                     s->peer) != KETEN_OK) {
		drop_keys(s);
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__BAD_SIGNATURE,
		                           "the auth signature does not verify: send hello again", KETEN_ESIG, out, len,
		                           note);
	}
	if (kt_hs_keys(false, s->server_eph, s->server_eph_sk, s->client_eph, s->transcript, s->k_tx, s->k_rx)) {
		drop_keys(s);
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED, "the hello's ephemeral key is unusable",
		                           KETEN_EPROTO, out, len, note);
	}
	sodium_memzero(s->server_eph_sk, sizeof s->server_eph_sk);
	if (!s->first_contact && kt_sync_peer_allowed(L, s->peer, NULL, 0, &perr) != KETEN_OK) {
		drop_keys(s);
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED,
		                           "this key is not a certified party or trust anchor here", KETEN_EAUTHOR, out,
		                           len, note);
	}
	memcpy(s->auth_sig, a->signature.data, 64);
	s->state = s->first_contact ? KETEN_SYNC_PROVISIONAL : KETEN_SYNC_AUTHED;
	s->rx_ctr = s->tx_ctr = 0;
	s->presented = 0;
	if (auth_ok(L, s, &inner, &inner_len))
		return keten_fail(note, KETEN_ENOMEM, NULL);
	return seal_back(s, 0, inner, inner_len, out, len, note);
}

/* Present: entries of the certifier's feed, ingested as any received
 * entries are; then the key is valid here, or on its way, or refused. */
static int serve_present(keten_ledger *L, keten_sync_session *s, int64_t now, const Keten__Sync__Present *p,
                         uint8_t **inner, size_t *inner_len, keten_error *note)
{
	keten_blob *b = calloc(p->n_entry ? p->n_entry : 1, sizeof *b);
	uint64_t before = 0, after = 0;
	keten_ingest_stats ist;
	keten_error ierr = {0};
	size_t n = 0;
	keten_txn *t;
	int rc = KETEN_OK;

	if (!b)
		return keten_fail(note, KETEN_ENOMEM, NULL);
	for (size_t i = 0; i < p->n_entry && p->n_entry <= PRESENT_MAX_ENTRIES; i++)
		if (p->entry[i].len >= 32 && p->entry[i].len <= KETEN_MAX_ENTRY_BYTES) {
			b[n].data = p->entry[i].data;
			b[n++].len = p->entry[i].len;
		}
	s->presented += (uint32_t)p->n_entry;
	if (keten_store_read(keten_ledger_store(L), &t, NULL) == KETEN_OK) {
		keten_store_head(t, s->peer_certifier, &before, NULL, NULL);
		keten_txn_end(t);
	}
	/* Only the certifier's feed: what else came is not this request's to bring. */
	if (n && s->presented <= KETEN_SYNC_MAX_PRESENT && p->n_entry <= PRESENT_MAX_ENTRIES) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			keten_entry e;
			if (keten_entry_parse(b[i].data, b[i].len, &e, NULL) != KETEN_OK)
				continue;
			if (memcmp(e.author, s->peer_certifier, 32) == 0)
				b[k++] = b[i];
			keten_entry_release(&e);
		}
		rc = k ? keten_ledger_ingest(L, b, k, false, &ist, &ierr) : KETEN_OK;
	}
	free(b);
	if (rc)
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot store entries now", rc,
		                           inner, inner_len, note);
	if (keten_store_read(keten_ledger_store(L), &t, NULL) == KETEN_OK) {
		keten_store_head(t, s->peer_certifier, &after, NULL, NULL);
		keten_txn_end(t);
	}
	if (kt_sync_peer_allowed(L, s->peer, NULL, 0, NULL) == KETEN_OK) {
		s->state = KETEN_SYNC_AUTHED;
		s->first_contact = false;
	} else if (after <= before || after >= s->peer_cert_seq || s->presented > KETEN_SYNC_MAX_PRESENT) {
		s->state = KETEN_SYNC_NEW;
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED,
		                           "what was presented does not make this key valid here", KETEN_EAUTHOR, inner,
		                           inner_len, note);
	}
	return auth_ok(L, s, inner, inner_len) ? keten_fail(note, KETEN_ENOMEM, NULL) : KETEN_OK;
}

/* The inner request of an open session, answered into *inner. */
static int serve_opened(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim, int64_t now,
                        const Keten__Sync__Request *q, uint8_t **inner, size_t *inner_len, keten_error *note)
{
	keten_error perr = {0};
	int g, rc;

	if (q->msg_case == KETEN__SYNC__REQUEST__MSG_PRESENT) {
		if (s->state == KETEN_SYNC_PROVISIONAL)
			return serve_present(L, s, now, q->present, inner, inner_len, note);
		return auth_ok(L, s, inner, inner_len) ? keten_fail(note, KETEN_ENOMEM, NULL) : KETEN_OK;
	}
	if (s->state == KETEN_SYNC_PROVISIONAL) {
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED,
		                           "present this key's certificate first", KETEN_EAUTHOR, inner, inner_len,
		                           note);
	}
	/* Revocation and expiry bite on every request, not only at login. */
	rc = kt_sync_peer_allowed(L, s->peer, NULL, 0, &perr);
	if (rc == KETEN_EAUTHOR || rc == KETEN_ERULE) {
		s->state = KETEN_SYNC_NEW;
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED,
		                           "this key is no longer a certified party here (revoked or expired)",
		                           KETEN_EAUTHOR, inner, inner_len, note);
	}
	if (rc)
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot read its ledger", rc,
		                           inner, inner_len, note);
	if ((g = kt_guard_take(s->guard, s->peer, now)))
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__RATE_LIMITED,
		                           g == 2 ? "too many bad requests from this key: wait"
		                                  : "too many requests from this key: slow down",
		                           KETEN_EPROTO, inner, inner_len, note);
	return kt_serve_inner(L, s, lim, now, q, inner, inner_len, note);
}

int kt_serve_sealed(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim, int64_t now,
                    const Keten__Sync__Sealed *sl, uint8_t **out, size_t *len, keten_error *note)
{
	struct kt_capped cap = {0, KT_SYNC_REQUEST_CAP};
	ProtobufCAllocator a = {kt_capped_alloc, kt_capped_free, &cap};
	Keten__Sync__Request *q;
	uint8_t *m = NULL, *inner = NULL;
	size_t ml = 0, inner_len = 0;
	int rc;

	if (s->state != KETEN_SYNC_AUTHED && s->state != KETEN_SYNC_PROVISIONAL) {
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED,
		                           "no session on this connection: hello, then auth", KETEN_EPROTO, out, len,
		                           note);
	}
	/* In order: the next counter, or the last again (a resend); an older
	 * one is a replay (or a stale copy: no strike). */
	if (!(sl->counter == s->rx_ctr + 1 || (s->rx_ctr && sl->counter == s->rx_ctr)) || sl->has_reply_to) {
		if (sl->counter > s->rx_ctr || sl->has_reply_to)
			strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED, "sealed request out of order",
		                           KETEN_EPROTO, out, len, note);
	}
	if ((rc = kt_open(s->k_rx, 'c', sl->counter, 0, sl->box.data, sl->box.len, &m, &ml))) {
		if (rc == KETEN_ENOMEM)
			return keten_fail(note, KETEN_ENOMEM, NULL);
		strike(s, now);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__BAD_SIGNATURE, "the sealed request does not open",
		                           KETEN_ESIG, out, len, note);
	}
	s->rx_ctr = sl->counter;
	q = keten__sync__request__unpack(&a, ml, m);
	if (!q || q->msg_case == KETEN__SYNC__REQUEST__MSG_HELLO || q->msg_case == KETEN__SYNC__REQUEST__MSG_AUTH ||
	    q->msg_case == KETEN__SYNC__REQUEST__MSG_SEALED || q->msg_case == KETEN__SYNC__REQUEST__MSG__NOT_SET) {
		strike(s, now);
		rc = kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED, "the sealed request is not one to seal",
		                         KETEN_EPROTO, &inner, &inner_len, note);
	} else {
		rc = serve_opened(L, s, lim, now, q, &inner, &inner_len, note);
	}
	if (q)
		keten__sync__request__free_unpacked(q, &a);
	sodium_memzero(m, ml);
	free(m);
	if (!inner)
		return rc ? rc : (int)keten_fail(note, KETEN_ENOMEM, NULL);
	if (s->state == KETEN_SYNC_NEW) {
		/* refused on the way: the answer is still sealed, then the keys go */
		int src = kt_seal_reply(s->k_tx, ++s->tx_ctr, sl->counter, inner, inner_len, out, len);
		free(inner);
		drop_keys(s);
		return src ? (int)keten_fail(note, KETEN_ENOMEM, NULL) : rc;
	}
	{
		int src = seal_back(s, sl->counter, inner, inner_len, out, len, note);
		return src ? src : rc;
	}
}
