/*
 * seal.c — the cryptography of the sync protocol's sessions
 * (proto/sync.proto, docs/sync-protocol.md): the transcript hash both
 * handshake signatures cover, the messages they sign, the session keys
 * (crypto_kx over the ephemeral X25519 keys, bound to the transcript) and
 * the Sealed frames every request and reply travels in after the
 * handshake (XChaCha20-Poly1305, a counter per direction).  The server's
 * handshake (handshake.c) and the client's (client.c) both build on
 * these; nothing here touches a ledger.
 */
#include <stdlib.h>
#include <string.h>

#include "sync/sync.h"
#include "base/base.h"

#define SEAL_AD_CTX "keten/sync/v2/sealed"
#define BIND_CTX    "keten/sync/v2/binding"

static void be32(uint8_t b[4], uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void be64(uint8_t b[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* The client's part: everything the Hello says, and the binding. */
static void client_part(crypto_generichash_state *st, const struct kt_hs *h)
{
	uint8_t v[8];
	crypto_generichash_update(st, (const uint8_t *)"keten/sync/v2", 13);
	be32(v, KETEN_SYNC_VERSION);
	crypto_generichash_update(st, v, 4);
	crypto_generichash_update(st, h->client, 32);
	crypto_generichash_update(st, h->client_nonce, 32);
	crypto_generichash_update(st, h->client_eph, 32);
	crypto_generichash_update(st, h->expect, 32);
	crypto_generichash_update(st, h->c_certifier, 32);
	be64(v, h->c_seq);
	crypto_generichash_update(st, v, 8);
	crypto_generichash_update(st, h->binding, 32);
}

void kt_hs_hello_hash(const struct kt_hs *h, uint8_t out[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	client_part(&st, h);
	crypto_generichash_final(&st, out, 32);
}

void kt_hs_transcript(const struct kt_hs *h, uint8_t out[32])
{
	crypto_generichash_state st;
	uint8_t v[8];
	crypto_generichash_init(&st, NULL, 0, 32);
	client_part(&st, h);
	crypto_generichash_update(&st, h->server, 32);
	crypto_generichash_update(&st, h->server_nonce, 32);
	crypto_generichash_update(&st, h->server_eph, 32);
	crypto_generichash_update(&st, h->s_certifier, 32);
	be64(v, h->s_seq);
	crypto_generichash_update(&st, v, 8);
	crypto_generichash_final(&st, out, 32);
}

size_t kt_hs_sigmsg(const char *ctx, const uint8_t hash[32], uint8_t msg[KT_HS_MSG_MAX])
{
	size_t k = strlen(ctx);
	KETEN_ASSERT(k + 32 <= KT_HS_MSG_MAX);
	memcpy(msg, ctx, k);
	memcpy(msg + k, hash, 32);
	return k + 32;
}

int kt_hs_keys(bool client, const uint8_t my_pk[32], const uint8_t my_sk[32], const uint8_t peer_pk[32],
               const uint8_t th[32], uint8_t k_tx[32], uint8_t k_rx[32])
{
	/* the shared secrets in guarded, locked memory, not on the stack */
	uint8_t *sec = sodium_malloc(4 * 32), *rx, *tx, *c2s, *s2c;
	uint8_t msg[3 + 32];
	int rc;

	_Static_assert(crypto_kx_SESSIONKEYBYTES == 32, "kx session key size");
	if (!sec)
		return KETEN_ENOMEM;
	rx = sec;
	tx = sec + 32;
	c2s = sec + 64;
	s2c = sec + 96;
	rc = client ? crypto_kx_client_session_keys(rx, tx, my_pk, my_sk, peer_pk)
		    : crypto_kx_server_session_keys(rx, tx, my_pk, my_sk, peer_pk);
	if (rc != 0) {
		sodium_free(sec);
		return KETEN_ECRYPTO; /* the peer's ephemeral key is a low-order point */
	}
	/* the client's tx is the server's rx: name each by its direction, and
	 * bind both to everything the handshake said */
	memcpy(msg, "c2s", 3);
	memcpy(msg + 3, th, 32);
	crypto_generichash(c2s, 32, msg, sizeof msg, client ? tx : rx, 32);
	memcpy(msg, "s2c", 3);
	crypto_generichash(s2c, 32, msg, sizeof msg, client ? rx : tx, 32);
	memcpy(k_tx, client ? c2s : s2c, 32);
	memcpy(k_rx, client ? s2c : c2s, 32);
	sodium_free(sec); /* wipes */
	return rc;
}

void kt_sync_binding(const char *transport, uint8_t out[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)BIND_CTX, strlen(BIND_CTX));
	if (transport)
		crypto_generichash_update(&st, (const uint8_t *)transport, strlen(transport));
	crypto_generichash_final(&st, out, 32);
}

/* nonce = counter BE64 || 16 zero bytes; ad = context || dir || counter || reply_to */
static void seal_params(char dir, uint64_t ctr, uint64_t reply_to, uint8_t nonce[24], uint8_t *ad, size_t *adlen)
{
	size_t k = sizeof SEAL_AD_CTX - 1;
	memset(nonce, 0, 24);
	be64(nonce, ctr);
	memcpy(ad, SEAL_AD_CTX, k);
	ad[k] = (uint8_t)dir;
	be64(ad + k + 1, ctr);
	be64(ad + k + 9, reply_to);
	*adlen = k + 17;
}

int kt_seal(const uint8_t key[32], char dir, uint64_t ctr, uint64_t reply_to, const uint8_t *m, size_t mlen,
            uint8_t **box, size_t *blen)
{
	uint8_t nonce[24], ad[sizeof SEAL_AD_CTX + 17];
	size_t adlen;
	unsigned long long cl = 0;

	KETEN_ASSERT(ctr >= 1 && (dir == 'c' || dir == 's'));
	*box = malloc(mlen + crypto_aead_xchacha20poly1305_ietf_ABYTES);
	if (!*box)
		return KETEN_ENOMEM;
	seal_params(dir, ctr, reply_to, nonce, ad, &adlen);
	crypto_aead_xchacha20poly1305_ietf_encrypt(*box, &cl, m, mlen, ad, adlen, NULL, nonce, key);
	*blen = (size_t)cl;
	return KETEN_OK;
}

int kt_open(const uint8_t key[32], char dir, uint64_t ctr, uint64_t reply_to, const uint8_t *box, size_t blen,
            uint8_t **m, size_t *mlen)
{
	uint8_t nonce[24], ad[sizeof SEAL_AD_CTX + 17];
	size_t adlen;
	unsigned long long ml = 0;

	*m = NULL;
	*mlen = 0;
	if (blen < crypto_aead_xchacha20poly1305_ietf_ABYTES || ctr == 0)
		return KETEN_ECRYPTO;
	if (!(*m = malloc(blen)))
		return KETEN_ENOMEM;
	seal_params(dir, ctr, reply_to, nonce, ad, &adlen);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(*m, &ml, NULL, box, blen, ad, adlen, nonce, key) != 0) {
		free(*m);
		*m = NULL;
		return KETEN_ECRYPTO;
	}
	*mlen = (size_t)ml;
	return KETEN_OK;
}

/* Sealed frames as whole messages ------------------------------------------------ */

int kt_seal_request(const uint8_t key[32], uint64_t ctr, const Keten__Sync__Request *inner, uint8_t **out, size_t *len)
{
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Sealed sl = KETEN__SYNC__SEALED__INIT;
	uint8_t *m = NULL, *box = NULL;
	size_t ml = 0, bl = 0;
	int rc;

	if (kt_sync_pack_request(inner, &m, &ml))
		return KETEN_ENOMEM;
	rc = kt_seal(key, 'c', ctr, 0, m, ml, &box, &bl);
	free(m);
	if (rc)
		return rc;
	sl.counter = ctr;
	sl.box.data = box;
	sl.box.len = bl;
	r.msg_case = KETEN__SYNC__REQUEST__MSG_SEALED;
	r.sealed = &sl;
	rc = kt_sync_pack_request(&r, out, len);
	free(box);
	return rc;
}

int kt_seal_reply(const uint8_t key[32], uint64_t ctr, uint64_t reply_to, const uint8_t *inner, size_t inner_len,
                  uint8_t **out, size_t *len)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__Sealed sl = KETEN__SYNC__SEALED__INIT;
	uint8_t *box = NULL;
	size_t bl = 0;
	int rc = kt_seal(key, 's', ctr, reply_to, inner, inner_len, &box, &bl);

	if (rc)
		return rc;
	sl.counter = ctr;
	sl.has_reply_to = 1;
	sl.reply_to = reply_to;
	sl.box.data = box;
	sl.box.len = bl;
	r.msg_case = KETEN__SYNC__REPLY__MSG_SEALED;
	r.sealed = &sl;
	rc = kt_sync_pack_reply(&r, out, len);
	free(box);
	return rc;
}
