/*
 * entry.c — the entry envelope: parse, sign, verify, stub.
 *
 * Parsing decodes the outer Entry and then the Header from the very bytes
 * that were signed; both decodes are bounded by KETEN_MAX_ENTRY_BYTES
 * before protobuf-c sees them.  The id and hashes are always computed over
 * the stored bytes, never over a re-encoding.  Two format versions
 * (include/keten/entry.h): 1, the body hashed alone; 2, every entry signed
 * now, the body hashed under a random salt kept beside the body.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/keten.h"
#include "proto/keten.pb-c.h"
#include "base/base.h"

/* In the sanitizer builds the tests run (and with -DKETEN_CHECK_SIGNED),
 * every entry keten_entry_sign makes is verified before it is handed out:
 * about twice the cost of signing, too much for the normal build. */
#if !defined(KETEN_CHECK_SIGNED) && defined(__SANITIZE_ADDRESS__)
#define KETEN_CHECK_SIGNED 1
#endif
#if !defined(KETEN_CHECK_SIGNED) && defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KETEN_CHECK_SIGNED 1
#endif
#endif

static const char *const type_names[] = {
	[KETEN__BODY_TYPE__PARTY_CERTIFICATE] = "certificate",
	[KETEN__BODY_TYPE__REVOCATION] = "revocation",
	[KETEN__BODY_TYPE__FRAMEWORK_CONTRACT] = "contract",
	[KETEN__BODY_TYPE__INDEXATION] = "indexation",
	[KETEN__BODY_TYPE__ALLOCATION] = "allocation",
	[KETEN__BODY_TYPE__SUBCONTRACT_OFFER] = "subcontract",
	[KETEN__BODY_TYPE__OFFER_ANSWER] = "answer",
	[KETEN__BODY_TYPE__DELIVERY] = "delivery",
	[KETEN__BODY_TYPE__CLAIM] = "claim",
	[KETEN__BODY_TYPE__PAYMENT] = "payment",
	[KETEN__BODY_TYPE__RECEIPT] = "receipt",
	[KETEN__BODY_TYPE__RESULT] = "result",
	[KETEN__BODY_TYPE__CLAWBACK] = "clawback",
	[KETEN__BODY_TYPE__DISPUTE] = "dispute",
	[KETEN__BODY_TYPE__RESPONSE] = "response",
	[KETEN__BODY_TYPE__RULING] = "ruling",
	[KETEN__BODY_TYPE__CORRECTION] = "correction",
	[KETEN__BODY_TYPE__CHECKPOINT] = "checkpoint",
	[KETEN__BODY_TYPE__RESUME] = "resume",
};
#define N_TYPES (sizeof type_names / sizeof type_names[0])

const char *keten_body_type_name(uint32_t t)
{
	return t < N_TYPES ? type_names[t] : NULL;
}

uint32_t keten_body_type_from_name(const char *name)
{
	for (uint32_t t = 1; t < N_TYPES; t++)
		if (type_names[t] && strcmp(type_names[t], name) == 0)
			return t;
	return 0;
}

void keten_hash(uint8_t out[32], const uint8_t *in, size_t len)
{
	crypto_generichash(out, 32, in, len, NULL, 0);
}

void keten_body_hash(uint8_t out[32], const uint8_t *salt, const uint8_t *body, size_t len)
{
	_Static_assert(KETEN_SALT_BYTES >= crypto_generichash_KEYBYTES_MIN, "the salt is a BLAKE2b key");
	crypto_generichash(out, 32, body, len, salt, salt ? KETEN_SALT_BYTES : 0);
}

/*
 * Clear a view, all but the audience slots: they are 2 KB of the 2.3 KB
 * struct and nothing reads them past n_audience (which is cleared).
 * Clearing the whole struct on every parse, sign and release was most of
 * keten_entry_release's cost in an import, and made a 100,000-entry
 * ingest touch 230 MB of entry structs instead of about 30 MB.
 */
static void clear_view(keten_entry *e)
{
	memset(e, 0, offsetof(keten_entry, audience));
}

static void entry_id(keten_entry *e)
{
	crypto_generichash_state st;

	KETEN_ASSERT(e->header != NULL && e->sig != NULL);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, e->header, e->header_len);
	crypto_generichash_update(&st, e->sig, KETEN_SIG_BYTES);
	crypto_generichash_final(&st, e->id, 32);
}

/* Decode the header fields into e; the Header bytes are already bounded. */
static int parse_header(keten_entry *e, keten_error *err)
{
	Keten__Header *h = keten__header__unpack(NULL, e->header_len, e->header);
	int rc = KETEN_EMALFORMED;

	if (!h)
		return keten_fail(err, rc, "entry header does not decode");
	if (h->author.len != 32) {
		keten_fail(err, rc, "entry author is not a 32-byte key");
		goto out;
	}
	if (h->seq < 1 || h->seq > (UINT64_C(1) << 62)) {
		keten_fail(err, rc, "entry seq %llu is out of range", (unsigned long long)h->seq);
		goto out;
	}
	if (h->seq == 1 ? h->has_prev : (!h->has_prev || h->prev.len != 32)) {
		keten_fail(err, rc, "entry prev does not fit seq %llu", (unsigned long long)h->seq);
		goto out;
	}
	if (!keten_body_type_name(h->body_type)) {
		keten_fail(err, rc, "entry body type %u is unknown", h->body_type);
		goto out;
	}
	if (h->body_hash.len != 32) {
		keten_fail(err, rc, "entry body hash has %zu bytes, not 32", h->body_hash.len);
		goto out;
	}
	if (h->has_version && h->version != KETEN_ENTRY_VERSION) {
		keten_fail(err, rc, "entry format version %u is unknown (1 has no version field, 2 is the newest)",
		           h->version);
		goto out;
	}
	if (h->n_audience > KETEN_MAX_AUDIENCE) {
		keten_fail(err, rc, "entry audience of %zu keys is above %u", h->n_audience, KETEN_MAX_AUDIENCE);
		goto out;
	}
	for (size_t i = 0; i < h->n_audience; i++) {
		if (h->audience[i].len != 32) {
			keten_fail(err, rc, "entry audience key %zu is not 32 bytes", i);
			goto out;
		}
		memcpy(e->audience[i], h->audience[i].data, 32);
	}
	KETEN_ASSERT(h->n_audience <= KETEN_MAX_AUDIENCE);
	e->n_audience = h->n_audience;
	memcpy(e->author, h->author.data, 32);
	e->seq = h->seq;
	if (h->has_prev)
		memcpy(e->prev, h->prev.data, 32);
	e->timestamp_ms = h->timestamp_ms;
	e->body_type = h->body_type;
	e->version = h->has_version ? h->version : 1;
	memcpy(e->body_hash, h->body_hash.data, 32);
	rc = KETEN_OK;
out:
	keten__header__free_unpacked(h, NULL);
	return rc;
}

/* Read a varint at *p (< end) into *v; false when truncated, > 10 bytes,
 * above 64 bits, or not minimal (a final zero byte after the first): the
 * framing is canonical, so one entry has exactly one encoding. */
static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if ((b == 0 && shift > 0) || (shift == 63 && b > 1))
				return false;
			*v = x;
			return true;
		}
	}
	return false;
}

/* One length-delimited field with the given tag byte, or false. */
static bool get_field(const uint8_t **p, const uint8_t *end, uint8_t tag, const uint8_t **data, size_t *len)
{
	uint64_t n;
	if (*p >= end || **p != tag)
		return false;
	(*p)++;
	if (!get_varint(p, end, &n) || n > (uint64_t)(end - *p))
		return false;
	*data = *p;
	*len = (size_t)n;
	*p += n;
	return true;
}

/* A parsed entry's body against its header: a version 2 body comes with
 * its salt and a version 1 body without; either matches body_hash. */
static int check_body(const keten_entry *e, keten_error *err)
{
	uint8_t h[32];
	KETEN_ASSERT(e->has_body && (e->version == 1 || e->version == 2));
	if (e->version == 1 && e->salt)
		return keten_fail(err, KETEN_EMALFORMED, "entry of format version 1 carries a salt");
	if (e->version == 2 && !e->salt)
		return keten_fail(err, KETEN_EHASH, "entry body comes without its salt (format version 2)");
	keten_body_hash(h, e->salt, e->body, e->body_len);
	if (sodium_memcmp(h, e->body_hash, 32) != 0)
		return keten_fail(err, KETEN_EHASH, "entry body does not match its hash");
	return KETEN_OK;
}

/*
 * The outer Entry is read by hand, strictly: header (field 1), signature
 * (field 2), optional body (field 3) and, only after a body, optional salt
 * (field 4, KETEN_SALT_BYTES), in that order, once each, nothing after.
 * keten always writes it that way, so one byte string has exactly one
 * reading and the views can point straight into the stored bytes.
 */
int keten_entry_parse(const uint8_t *bytes, size_t len, keten_entry *out, keten_error *err)
{
	const uint8_t *p = bytes, *end = bytes + len, *hdr, *sig, *body = NULL, *salt = NULL;
	size_t hdr_len, sig_len, body_len = 0, salt_len = 0;
	int rc;

	clear_view(out);
	if (len == 0 || len > KETEN_MAX_ENTRY_BYTES)
		return keten_fail(err, KETEN_EMALFORMED, "entry of %zu bytes is out of bounds", len);
	if (!get_field(&p, end, 0x0a, &hdr, &hdr_len) || hdr_len == 0 || !get_field(&p, end, 0x12, &sig, &sig_len) ||
	    sig_len != KETEN_SIG_BYTES)
		return keten_fail(err, KETEN_EMALFORMED, "entry framing is malformed");
	if (p < end && !get_field(&p, end, 0x1a, &body, &body_len))
		return keten_fail(err, KETEN_EMALFORMED, "entry framing is malformed");
	if (p < end && (!get_field(&p, end, 0x22, &salt, &salt_len) || salt_len != KETEN_SALT_BYTES))
		return keten_fail(err, KETEN_EMALFORMED, "entry salt is malformed (16 bytes, after the body)");
	if (p != end)
		return keten_fail(err, KETEN_EMALFORMED, "entry has trailing bytes");

	out->raw = malloc(len);
	if (!out->raw)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	memcpy(out->raw, bytes, len);
	out->raw_len = len;
	out->header = out->raw + (hdr - bytes);
	out->header_len = hdr_len;
	out->sig = out->raw + (sig - bytes);
	/* the views lie inside the copy */
	KETEN_ASSERT(out->header + hdr_len <= out->raw + len && out->sig + KETEN_SIG_BYTES <= out->raw + len);
	if (body) {
		out->body = out->raw + (body - bytes);
		out->body_len = body_len;
		out->has_body = true;
	}
	if (salt)
		out->salt = out->raw + (salt - bytes);
	rc = parse_header(out, err);
	if (rc)
		goto fail;
	entry_id(out);
	if (out->has_body && (rc = check_body(out, err)))
		goto fail;
	return KETEN_OK;
fail:
	keten_entry_release(out);
	return rc;
}

int keten_entry_verify(const keten_entry *e)
{
	uint8_t stackbuf[1024];
	uint8_t *m = stackbuf;
	size_t n = KETEN_SIG_CONTEXT_LEN + e->header_len;
	int ok;

	KETEN_ASSERT(e->header != NULL && e->sig != NULL);
	if (n > sizeof stackbuf && !(m = malloc(n)))
		return KETEN_ENOMEM;
	memcpy(m, KETEN_SIG_CONTEXT, KETEN_SIG_CONTEXT_LEN);
	memcpy(m + KETEN_SIG_CONTEXT_LEN, e->header, e->header_len);
	ok = crypto_sign_verify_detached(e->sig, m, n, e->author) == 0;
	if (m != stackbuf)
		free(m);
	return ok ? KETEN_OK : KETEN_ESIG;
}

static size_t varint_len(uint64_t n)
{
	size_t k = 1;
	while (n >= 0x80) {
		n >>= 7;
		k++;
	}
	return k;
}

/* Append a length-delimited field. */
static uint8_t *put_field(uint8_t *p, uint8_t tag, const uint8_t *data, size_t len)
{
	*p++ = tag;
	uint64_t n = len;
	do {
		uint8_t b = n & 0x7f;
		n >>= 7;
		*p++ = b | (n ? 0x80 : 0);
	} while (n);
	if (len)
		memcpy(p, data, len);
	return p + len;
}

static int frame(const uint8_t *hdr, size_t hdr_len, const uint8_t *sig, const uint8_t *body, size_t body_len,
                 bool has_body, const uint8_t *salt, uint8_t **out, size_t *out_len)
{
	size_t cap = hdr_len + KETEN_SIG_BYTES + body_len + KETEN_SALT_BYTES + 4 * 11;
	uint8_t *buf, *p;
	if (salt && !has_body)
		return KETEN_EINVAL; /* a stub carries no salt */
	if (!(buf = malloc(cap)))
		return KETEN_ENOMEM;
	p = put_field(buf, 0x0a, hdr, hdr_len);
	p = put_field(p, 0x12, sig, KETEN_SIG_BYTES);
	if (has_body)
		p = put_field(p, 0x1a, body, body_len);
	if (salt)
		p = put_field(p, 0x22, salt, KETEN_SALT_BYTES);
	KETEN_ASSERT((size_t)(p - buf) <= cap);
	*out = buf;
	*out_len = (size_t)(p - buf);
	return KETEN_OK;
}

/* The header a draft by kp says; h borrows from d, body_hash and aud. */
static void draft_header(const keten_keypair *kp, const keten_entry_draft *d, uint8_t body_hash[32],
                         ProtobufCBinaryData aud[KETEN_MAX_AUDIENCE], Keten__Header *h)
{
	KETEN_ASSERT(d->n_audience <= KETEN_MAX_AUDIENCE);
	h->author.data = (uint8_t *)kp->pk;
	h->author.len = 32;
	h->seq = d->seq;
	if (d->prev) {
		h->has_prev = 1;
		h->prev.data = (uint8_t *)d->prev;
		h->prev.len = 32;
	}
	h->timestamp_ms = d->timestamp_ms;
	h->body_type = d->body_type;
	h->body_hash.data = body_hash;
	h->body_hash.len = 32;
	h->has_version = 1;
	h->version = KETEN_ENTRY_VERSION;
	for (size_t i = 0; i < d->n_audience; i++) {
		aud[i].data = (uint8_t *)d->audience[i];
		aud[i].len = 32;
	}
	h->n_audience = d->n_audience;
	h->audience = aud;
}

/*
 * Fill the view of what frame() just wrote (raw, owned by out from here)
 * from the draft: no second decode.  frame() puts the header right after a
 * 1-byte tag and its varint, the signature after the header's tag and
 * length, then the body, and the salt last (after its tag and length 16).
 */
static void signed_view(keten_entry *out, uint8_t *raw, size_t raw_len, size_t hlen, const keten_keypair *kp,
                        const keten_entry_draft *d, const uint8_t body_hash[32])
{
	out->raw = raw;
	out->raw_len = raw_len;
	out->header_len = hlen;
	out->header = raw + 1 + varint_len(hlen);
	out->sig = out->header + hlen + 2;
	out->salt = raw + raw_len - KETEN_SALT_BYTES;
	out->body = out->salt - 2 - d->body_len;
	KETEN_ASSERT(out->sig + KETEN_SIG_BYTES <= out->body && out->salt[-2] == 0x22 &&
	             out->salt[-1] == KETEN_SALT_BYTES);
	out->body_len = d->body_len;
	out->has_body = true;
	out->version = KETEN_ENTRY_VERSION;
	memcpy(out->author, kp->pk, 32);
	out->seq = d->seq;
	if (d->prev)
		memcpy(out->prev, d->prev, 32);
	out->timestamp_ms = d->timestamp_ms;
	out->body_type = d->body_type;
	memcpy(out->body_hash, body_hash, 32);
	out->n_audience = d->n_audience;
	if (d->n_audience)
		memcpy(out->audience, d->audience, d->n_audience * 32);
	entry_id(out);
}

int keten_entry_sign(const keten_keypair *kp, const keten_entry_draft *d, keten_entry *out, keten_error *err)
{
	Keten__Header h = KETEN__HEADER__INIT;
	ProtobufCBinaryData aud[KETEN_MAX_AUDIENCE];
	uint8_t body_hash[32], salt[KETEN_SALT_BYTES], sig[64], *msg = NULL, *raw = NULL;
	size_t hlen, raw_len;
	int rc;

	clear_view(out);
	if (d->seq < 1 || (d->seq > 1) != (d->prev != NULL) || d->n_audience > KETEN_MAX_AUDIENCE ||
	    !keten_body_type_name(d->body_type) || d->body_len > KETEN_MAX_ENTRY_BYTES / 2)
		return keten_fail(err, KETEN_EINVAL, "entry draft is invalid");
	randombytes_buf(salt, sizeof salt);
	keten_body_hash(body_hash, salt, d->body, d->body_len);
	draft_header(kp, d, body_hash, aud, &h);
	hlen = keten__header__get_packed_size(&h);
	KETEN_ASSERT(hlen > 0);
	msg = malloc(KETEN_SIG_CONTEXT_LEN + hlen);
	if (!msg)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	memcpy(msg, KETEN_SIG_CONTEXT, KETEN_SIG_CONTEXT_LEN);
	keten__header__pack(&h, msg + KETEN_SIG_CONTEXT_LEN);
	if (keten_keypair_sign(kp, sig, msg, KETEN_SIG_CONTEXT_LEN + hlen) != 0) {
		rc = keten_fail(err, KETEN_ECRYPTO, "signing failed");
		goto out;
	}
	rc = frame(msg + KETEN_SIG_CONTEXT_LEN, hlen, sig, d->body, d->body_len, true, salt, &raw, &raw_len);
	if (rc) {
		keten_fail(err, rc, NULL);
		goto out;
	}
	signed_view(out, raw, raw_len, hlen, kp, d, body_hash);
	/* the views point at the header signed and its signature */
	KETEN_ASSERT(memcmp(out->header, msg + KETEN_SIG_CONTEXT_LEN, hlen) == 0 && memcmp(out->sig, sig, 64) == 0 &&
	             memcmp(out->salt, salt, sizeof salt) == 0);
#ifdef KETEN_CHECK_SIGNED
	KETEN_ASSERT(keten_entry_verify(out) == KETEN_OK);
#endif
	raw = NULL;
out:
	free(raw);
	free(msg);
	return rc;
}

int keten_entry_stub_bytes(const keten_entry *e, uint8_t **out, size_t *out_len)
{
	return frame(e->header, e->header_len, e->sig, NULL, 0, false, NULL, out, out_len);
}

bool keten_entry_has_audience(const keten_entry *e, const uint8_t key[32])
{
	for (size_t i = 0; i < e->n_audience; i++)
		if (memcmp(e->audience[i], key, 32) == 0)
			return true;
	return false;
}

void keten_entry_release(keten_entry *e)
{
	if (!e)
		return;
	free(e->raw);
	clear_view(e);
}

int keten_entry_frame(const uint8_t *header, size_t header_len, const uint8_t sig[64], const uint8_t *body,
                      size_t body_len, bool has_body, const uint8_t *salt, uint8_t **out, size_t *out_len)
{
	return frame(header, header_len, sig, body, body_len, has_body, salt, out, out_len);
}

bool keten_key_valid(const uint8_t key[32])
{
	return key != NULL && crypto_core_ed25519_is_valid_point(key) == 1;
}

int keten_sig_verify(const uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t key[32])
{
	return crypto_sign_verify_detached(sig, msg, len, key) == 0 ? KETEN_OK : KETEN_ESIG;
}
