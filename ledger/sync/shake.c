/*
 * shake.c — the client's side of the sync handshake (keten/sync/v2,
 * proto/sync.proto) and its Sealed frames: a Hello signed by our key with
 * a fresh ephemeral key, the server key we expect and where our
 * certificate is; the Challenge checked (the version, the key we expect,
 * a key our ledger knows or one whose certificate comes from an anchor of
 * ours, the signature over the transcript) and answered with Auth; the
 * sealed AuthOk, and Present requests that bring our certificate to a
 * server that lacks it; and every reply after the handshake opened in
 * order.  The round itself is client.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/client.h"
#include "base/base.h"
#include "store/kv.h"

#define PRESENT_BYTES   (KETEN_SYNC_MAX_REQUEST - 1024u) /* entry bytes per Present */
#define PRESENT_ENTRIES 1000u

void keten_sync_client_expect(keten_sync_client *c, const uint8_t key[32])
{
	c->has_expect = key != NULL;
	if (key)
		memcpy(c->expect_key, key, 32);
	else
		memset(c->expect_key, 0, 32);
}

void keten_sync_client_bind(keten_sync_client *c, const char *transport)
{
	kt_sync_binding(transport && strcmp(transport, "tls") == 0 ? "tls" : "plain", c->binding);
}

bool keten_sync_client_authed(const keten_sync_client *c)
{
	return c->authed && !c->provisional_server;
}

void kt_client_forget(keten_sync_client *c)
{
	c->authed = false;
	c->sealed = false;
	c->tx_ctr = c->rx_ctr = 0;
	sodium_memzero(c->eph_sk, sizeof c->eph_sk);
	sodium_memzero(c->k_tx, sizeof c->k_tx);
	sodium_memzero(c->k_rx, sizeof c->k_rx);
}

int kt_client_server_known(keten_sync_client *c, const uint8_t key[32], keten_error *err)
{
	keten_error perr = {0};
	char hex[65];
	int rc = kt_sync_peer_allowed(c->L, key, NULL, 0, &perr);
	if (rc == KETEN_OK)
		return KETEN_OK;
	if (rc != KETEN_EAUTHOR && rc != KETEN_ERULE)
		return rc;
	keten_hex(hex, key, 32);
	return keten_fail(err, KETEN_EAUTHOR, "the server's key '%.16s' is not a certified party or trust anchor here",
	                  hex);
}

/* The client's part of the transcript as this client says it. */
static void client_hs(const keten_sync_client *c, struct kt_hs *h)
{
	memset(h, 0, sizeof *h);
	memcpy(h->client, keten_ledger_info(c->L)->key, 32);
	memcpy(h->client_nonce, c->nonce, 32);
	memcpy(h->client_eph, c->eph_pk, 32);
	if (c->has_expect)
		memcpy(h->expect, c->expect_key, 32);
	if (c->cred) {
		memcpy(h->c_certifier, c->cred_certifier, 32);
		h->c_seq = c->cred_seq;
	}
	memcpy(h->binding, c->binding, 32);
}

int kt_client_hello(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
{
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Hello h = KETEN__SYNC__HELLO__INIT;
	Keten__Sync__Credential cr = KETEN__SYNC__CREDENTIAL__INIT;
	uint8_t hash[32], msg[KT_HS_MSG_MAX], sig[64];
	struct kt_hs hs;
	keten_txn *t;

	kt_client_forget(c);
	c->provisional_server = false;
	c->cred = false;
	if (keten_store_read(keten_ledger_store(c->L), &t, NULL) == KETEN_OK) {
		c->cred = kt_sync_credential(t, keten_ledger_info(c->L)->key, c->cred_certifier, &c->cred_seq,
		                             &c->cred_top);
		keten_txn_end(t);
	}
	randombytes_buf(c->nonce, sizeof c->nonce);
	crypto_kx_keypair(c->eph_pk, c->eph_sk);
	client_hs(c, &hs);
	kt_hs_hello_hash(&hs, hash);
	if (keten_keypair_sign(keten_ledger_keypair(c->L), sig, msg, kt_hs_sigmsg(KETEN_SYNC_CTX_HELLO, hash, msg)))
		return keten_fail(err, KETEN_ECRYPTO, "cannot sign the hello");
	h.key.data = (uint8_t *)keten_ledger_info(c->L)->key;
	h.key.len = 32;
	h.nonce.data = c->nonce;
	h.nonce.len = sizeof c->nonce;
	h.has_version = 1;
	h.version = KETEN_SYNC_VERSION;
	h.has_ephemeral = 1;
	h.ephemeral.data = c->eph_pk;
	h.ephemeral.len = 32;
	if (c->has_expect) {
		h.has_server = 1;
		h.server.data = c->expect_key;
		h.server.len = 32;
	}
	if (c->cred) {
		cr.certifier.data = c->cred_certifier;
		cr.certifier.len = 32;
		cr.seq = c->cred_seq;
		h.credential = &cr;
	}
	h.has_signature = 1;
	h.signature.data = sig;
	h.signature.len = 64;
	r.msg_case = KETEN__SYNC__REQUEST__MSG_HELLO;
	r.hello = &h;
	return kt_client_send(c, &r, X_CHALLENGE, req, len, err);
}

/* The Challenge's key: the one we expect, and one our ledger knows, or
 * one whose certificate its certifier (a trust anchor here) will bring. */
static int challenge_key(keten_sync_client *c, const Keten__Sync__Challenge *ch, keten_error *err)
{
	char hex[65], want[65];
	int rc;
	if (c->has_expect && memcmp(ch->key.data, c->expect_key, 32) != 0) {
		keten_hex(hex, ch->key.data, 32);
		keten_hex(want, c->expect_key, 32);
		return keten_fail(err, KETEN_EAUTHOR,
		                  "the server answered as key '%.16s', not the key '%.16s' expected", hex, want);
	}
	rc = kt_client_server_known(c, ch->key.data, err);
	if (rc == KETEN_EAUTHOR && ch->credential && ch->credential->certifier.len == 32 && ch->credential->seq >= 1 &&
	    kt_sync_is_anchor(c->L, ch->credential->certifier.data) &&
	    kt_sync_peer_allowed(c->L, ch->key.data, NULL, 0, NULL) == KETEN_EAUTHOR) {
		/* first contact: its certifier's feed comes first this round */
		keten_error_clear(err);
		c->provisional_server = true;
		return KETEN_OK;
	}
	return rc;
}

int kt_client_challenge(keten_sync_client *c, const Keten__Sync__Reply *r, uint8_t **req, size_t *len, keten_error *err)
{
	const Keten__Sync__Challenge *ch = r->challenge;
	Keten__Sync__Request q = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Auth au = KETEN__SYNC__AUTH__INIT;
	uint8_t msg[KT_HS_MSG_MAX], sig[64];
	struct kt_hs hs;
	int rc;

	if (r->msg_case != KETEN__SYNC__REPLY__MSG_CHALLENGE)
		return keten_fail(err, KETEN_EPROTO, "the server did not answer hello with a challenge");
	if (!ch->has_version || ch->version != KETEN_SYNC_VERSION)
		return keten_fail(err, KETEN_EPROTO,
		                  "the server speaks keten/sync/v%u, this node keten/sync/v2: upgrade the older one",
		                  ch->has_version ? ch->version : 1u);
	if (ch->key.len != 32 || ch->nonce.len != 32 || ch->signature.len != 64 || !keten_key_valid(ch->key.data) ||
	    !ch->has_ephemeral || ch->ephemeral.len != 32 ||
	    (ch->credential && (ch->credential->certifier.len != 32 || ch->credential->seq == 0)))
		return keten_fail(err, KETEN_EPROTO, "the server's challenge is malformed");
	client_hs(c, &hs);
	memcpy(hs.server, ch->key.data, 32);
	memcpy(hs.server_nonce, ch->nonce.data, 32);
	memcpy(hs.server_eph, ch->ephemeral.data, 32);
	if (ch->credential) {
		memcpy(hs.s_certifier, ch->credential->certifier.data, 32);
		hs.s_seq = ch->credential->seq;
	}
	kt_hs_transcript(&hs, c->transcript);
	if (keten_sig_verify(ch->signature.data, msg, kt_hs_sigmsg(KETEN_SYNC_CTX_SERVER, c->transcript, msg),
	                     ch->key.data) != KETEN_OK)
		return keten_fail(err, KETEN_ESIG, "the server's challenge signature does not verify");
	if ((rc = challenge_key(c, ch, err)))
		return rc;
	if (kt_hs_keys(true, c->eph_pk, c->eph_sk, ch->ephemeral.data, c->transcript, c->k_tx, c->k_rx))
		return keten_fail(err, KETEN_EPROTO, "the server's ephemeral key is unusable");
	sodium_memzero(c->eph_sk, sizeof c->eph_sk);
	if (c->have_server && memcmp(c->server, ch->key.data, 32) != 0)
		c->have_digest = false; /* another node answers at this address */
	memcpy(c->server, ch->key.data, 32);
	c->have_server = true;
	if (keten_keypair_sign(keten_ledger_keypair(c->L), sig, msg,
	                       kt_hs_sigmsg(KETEN_SYNC_CTX_CLIENT, c->transcript, msg)) != 0)
		return keten_fail(err, KETEN_ECRYPTO, "cannot sign the auth");
	au.signature.data = sig;
	au.signature.len = 64;
	q.msg_case = KETEN__SYNC__REQUEST__MSG_AUTH;
	q.auth = &au;
	rc = kt_client_send(c, &q, X_AUTH_OK, req, len, err);
	c->sealed = rc == KETEN_OK; /* the answer, and all after it, under the keys */
	c->tx_ctr = c->rx_ctr = 0;
	return rc;
}

/* One Present: entries of the certifier's feed from c->present_from, as
 * stubs but for certificates and revocations, up to our certificate (or
 * a later revocation of our key). */
static int send_present(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
{
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Present p = KETEN__SYNC__PRESENT__INIT;
	ProtobufCBinaryData *v = calloc(PRESENT_ENTRIES, sizeof *v);
	size_t bytes = 0;
	keten_txn *t;
	int rc;

	if (!v)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if ((rc = keten_store_read(keten_ledger_store(c->L), &t, err))) {
		free(v);
		return rc;
	}
	for (uint64_t seq = c->present_from; seq <= c->cred_top && p.n_entry < PRESENT_ENTRIES; seq++) {
		uint8_t id[32], *b = NULL;
		size_t bl = 0;
		keten_entry e;
		bool full;
		if (keten_store_feed_id(t, c->cred_certifier, seq, id, NULL) || keten_store_get_entry(t, id, &e, NULL))
			break;
		full = e.has_body &&
			(e.body_type == KETEN__BODY_TYPE__PARTY_CERTIFICATE ||
		         e.body_type == KETEN__BODY_TYPE__REVOCATION);
		if (full && (b = malloc(e.raw_len))) {
			memcpy(b, e.raw, e.raw_len);
			bl = e.raw_len;
		} else if (!full) {
			keten_entry_stub_bytes(&e, &b, &bl);
		}
		keten_entry_release(&e);
		if (!b || (p.n_entry && bytes + bl > PRESENT_BYTES)) {
			free(b);
			break;
		}
		v[p.n_entry].data = b;
		v[p.n_entry++].len = bl;
		bytes += bl;
	}
	keten_txn_end(t);
	if (!p.n_entry) {
		free(v);
		return keten_fail(err, KETEN_EAUTHOR,
		                  "the server lacks our certificate and this home cannot present it");
	}
	c->present_from += p.n_entry;
	p.entry = v;
	r.msg_case = KETEN__SYNC__REQUEST__MSG_PRESENT;
	r.present = &p;
	rc = kt_client_send(c, &r, X_PRESENT, req, len, err);
	for (size_t i = 0; i < p.n_entry; i++)
		free(v[i].data);
	free(v);
	return rc;
}

int kt_client_auth_ok(keten_sync_client *c, const Keten__Sync__Reply *r, uint8_t **req, size_t *len, keten_error *err)
{
	const Keten__Sync__AuthOk *ok = r->auth_ok;
	if (r->msg_case != KETEN__SYNC__REPLY__MSG_AUTH_OK)
		return keten_fail(err, KETEN_EPROTO, "the server did not answer auth with auth-ok");
	if (ok->has_provisional && ok->provisional) {
		/* first contact: the server lacks our certificate; bring it */
		if (!c->cred || ok->certifier_head >= c->cred_top)
			return keten_fail(err, KETEN_EAUTHOR, "the server does not know this home's key");
		c->present_from = ok->certifier_head + 1;
		return send_present(c, req, len, err);
	}
	c->authed = true;
	return kt_client_heads(c, req, len, err);
}

int kt_client_unseal(keten_sync_client *c, const Keten__Sync__Reply *r, Keten__Sync__Reply **inner,
                     ProtobufCAllocator *a, keten_error *err)
{
	const Keten__Sync__Sealed *sl = r->sealed;
	uint8_t *m = NULL;
	size_t ml = 0;
	int rc;

	*inner = NULL;
	if (r->msg_case != KETEN__SYNC__REPLY__MSG_SEALED) {
		if (c->sealed && r->msg_case != KETEN__SYNC__REPLY__MSG_ERROR)
			return keten_fail(err, KETEN_EPROTO, "the server's reply is not sealed");
		return KETEN_OK;
	}
	if (!c->sealed)
		return keten_fail(err, KETEN_EPROTO, "a sealed reply before the handshake");
	if (!sl->has_reply_to || sl->reply_to != c->tx_ctr || sl->counter <= c->rx_ctr)
		return keten_fail(err, KETEN_EPROTO, "a sealed reply out of order");
	if ((rc = kt_open(c->k_rx, 's', sl->counter, sl->reply_to, sl->box.data, sl->box.len, &m, &ml)))
		return rc == KETEN_ENOMEM ? keten_fail(err, KETEN_ENOMEM, NULL)
					  : keten_fail(err, KETEN_ESIG,
		                                       "the server's reply does not open under the "
		                                       "session key");
	c->rx_ctr = sl->counter;
	*inner = keten__sync__reply__unpack(a, ml, m);
	free(m);
	if (!*inner || (*inner)->msg_case == KETEN__SYNC__REPLY__MSG_SEALED ||
	    (*inner)->msg_case == KETEN__SYNC__REPLY__MSG_CHALLENGE) {
		if (*inner)
			keten__sync__reply__free_unpacked(*inner, a);
		*inner = NULL;
		return keten_fail(err, KETEN_EPROTO, "the server's sealed reply does not decode");
	}
	return KETEN_OK;
}
