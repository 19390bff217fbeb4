/*
 * test_entry.c — unit tests for ledger/entry.c, the signed envelope:
 * sign, parse and verify; the id and body hash recomputed by hand; every
 * header and signature byte flipped; bodies swapped; stubs; strict outer
 * framing (trailing bytes, every truncation, duplicate fields, wrong tags,
 * oversize); header range checks (seq and prev, sizes, body type, format
 * version) on entries built by hand; format version 2's salt (the body
 * hash keyed by it, never in a stub, refused when missing, altered or
 * misplaced) next to version 1 entries built by hand; and
 * keten_entry_frame round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/keten.h"
#include "proto/keten.pb-c.h"

struct fx {
	keten_keypair kp;
	uint8_t other_pk[32];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	uint8_t sk2[64];
	if (!f || sodium_init() < 0)
		return -1;
	f->kp.sk = sodium_malloc(64);
	if (!f->kp.sk)
		return -1;
	crypto_sign_keypair(f->kp.pk, f->kp.sk);
	crypto_sign_keypair(f->other_pk, sk2);
	sodium_memzero(sk2, sizeof sk2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	keten_keypair_release(&f->kp);
	free(f);
	return 0;
}

static const uint8_t BODY[] = "a certificate body, for the envelope only";
static const uint8_t BODY2[] = "a certificate body, for the envelope onlY";

/* Sign seq 1 (or seq 2 after a fixed prev) with an audience of n keys. */
static void sign_one(struct fx *f, uint64_t seq, size_t n_aud, const uint8_t *body, size_t blen, keten_entry *out)
{
	static uint8_t aud[KETEN_MAX_AUDIENCE][32];
	static const uint8_t prev[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	keten_error err = {0};
	/* aud[0] is other_pk; the rest differ from it in the last byte (parse
	 * checks only the size of audience keys) */
	for (size_t i = 0; i < n_aud; i++) {
		memcpy(aud[i], f->other_pk, 32);
		aud[i][31] ^= (uint8_t)i;
	}
	keten_entry_draft d = {
		.seq = seq,
		.prev = seq > 1 ? prev : NULL,
		.timestamp_ms = 1767225600000 + (int64_t)seq,
		.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE,
		.body = body,
		.body_len = blen,
		.audience = (const uint8_t(*)[32])aud,
		.n_audience = n_aud,
	};
	int rc = keten_entry_sign(&f->kp, &d, out, &err);
	assert_int_equal(rc, KETEN_OK);
}

/* The parsed view of e's raw bytes must equal the view keten_entry_sign built. */
static void assert_same_view(const keten_entry *a, const keten_entry *b)
{
	assert_int_equal(a->raw_len, b->raw_len);
	assert_memory_equal(a->raw, b->raw, a->raw_len);
	assert_int_equal(a->header - a->raw, b->header - b->raw);
	assert_int_equal(a->header_len, b->header_len);
	assert_int_equal(a->sig - a->raw, b->sig - b->raw);
	assert_int_equal(a->has_body, b->has_body);
	assert_int_equal(a->body_len, b->body_len);
	if (a->has_body)
		assert_int_equal(a->body - a->raw, b->body - b->raw);
	assert_memory_equal(a->id, b->id, 32);
	assert_memory_equal(a->author, b->author, 32);
	assert_int_equal(a->seq, b->seq);
	assert_memory_equal(a->prev, b->prev, 32);
	assert_int_equal(a->timestamp_ms, b->timestamp_ms);
	assert_int_equal(a->body_type, b->body_type);
	assert_memory_equal(a->body_hash, b->body_hash, 32);
	assert_int_equal(a->n_audience, b->n_audience);
	if (a->n_audience)
		assert_memory_equal(a->audience, b->audience, a->n_audience * 32);
}

static void test_sign_parse_verify(void **state)
{
	struct fx *f = *state;
	/* no audience (1-byte header length), 3 keys, and 64 keys (2-byte length) */
	static const size_t auds[] = {0, 1, 3, KETEN_MAX_AUDIENCE};
	for (size_t a = 0; a < sizeof auds / sizeof *auds; a++) {
		keten_entry s, p;
		keten_error err = {0};
		uint8_t id[32], h[32], sig[64];
		crypto_generichash_state st;

		sign_one(f, 1 + a % 2, auds[a], BODY, sizeof BODY, &s);
		assert_int_equal(keten_entry_verify(&s), KETEN_OK);
		assert_int_equal(keten_entry_parse(s.raw, s.raw_len, &p, &err), KETEN_OK);
		assert_int_equal(err.code, KETEN_OK);
		assert_ptr_not_equal(p.raw, s.raw); /* parse copies */
		assert_same_view(&s, &p);
		assert_int_equal(keten_entry_verify(&p), KETEN_OK);
		assert_true(p.has_body);
		assert_int_equal(p.body_len, sizeof BODY);
		assert_memory_equal(p.body, BODY, sizeof BODY);
		assert_memory_equal(p.author, f->kp.pk, 32);
		assert_int_equal(p.seq, 1 + a % 2);
		if (p.seq == 1) {
			static const uint8_t zero[32];
			assert_memory_equal(p.prev, zero, 32);
		}
		assert_int_equal(p.body_type, KETEN__BODY_TYPE__PARTY_CERTIFICATE);
		assert_int_equal(p.n_audience, auds[a]);
		if (auds[a]) {
			assert_true(keten_entry_has_audience(&p, f->other_pk));
			assert_false(keten_entry_has_audience(&p, f->kp.pk));
		} else {
			assert_false(keten_entry_has_audience(&p, f->other_pk));
		}

		/* id = BLAKE2b-256(header || signature), by hand */
		crypto_generichash_init(&st, NULL, 0, 32);
		crypto_generichash_update(&st, p.header, p.header_len);
		crypto_generichash_update(&st, p.sig, 64);
		crypto_generichash_final(&st, id, 32);
		assert_memory_equal(p.id, id, 32);
		/* format version 2: body_hash = BLAKE2b-256 keyed by the salt, the
		 * salt the last 16 bytes of the entry (field 4) */
		assert_int_equal(p.version, 2);
		assert_non_null(p.salt);
		assert_ptr_equal(p.salt, p.raw + p.raw_len - KETEN_SALT_BYTES);
		assert_int_equal(p.salt[-2], 0x22);
		assert_int_equal(p.salt[-1], KETEN_SALT_BYTES);
		crypto_generichash(h, 32, BODY, sizeof BODY, p.salt, KETEN_SALT_BYTES);
		assert_memory_equal(p.body_hash, h, 32);
		keten_body_hash(h, p.salt, BODY, sizeof BODY);
		assert_memory_equal(p.body_hash, h, 32);
		/* not the unsalted hash of version 1 */
		keten_hash(h, BODY, sizeof BODY);
		assert_memory_not_equal(p.body_hash, h, 32);
		/* the signature is Ed25519 over "keten/entry/v1" || header, by hand */
		{
			size_t n = KETEN_SIG_CONTEXT_LEN + p.header_len;
			uint8_t *m = malloc(n);
			assert_non_null(m);
			memcpy(m, "keten/entry/v1", 14);
			memcpy(m + 14, p.header, p.header_len);
			assert_int_equal(crypto_sign_verify_detached(p.sig, m, n, f->kp.pk), 0);
			/* and not over the bare header */
			assert_int_not_equal(crypto_sign_verify_detached(p.sig, p.header, p.header_len, f->kp.pk), 0);
			/* deterministic: signing the same message again gives the same signature */
			assert_int_equal(keten_keypair_sign(&f->kp, sig, m, n), 0);
			assert_memory_equal(sig, p.sig, 64);
			free(m);
		}
		/* the header decodes with protobuf-c to the same fields */
		{
			Keten__Header *hd = keten__header__unpack(NULL, p.header_len, p.header);
			assert_non_null(hd);
			assert_int_equal(hd->author.len, 32);
			assert_memory_equal(hd->author.data, f->kp.pk, 32);
			assert_int_equal(hd->seq, p.seq);
			assert_int_equal(hd->has_prev, p.seq > 1);
			assert_int_equal(hd->timestamp_ms, p.timestamp_ms);
			assert_int_equal(hd->n_audience, auds[a]);
			assert_true(hd->has_version);
			assert_int_equal(hd->version, KETEN_ENTRY_VERSION);
			keten__header__free_unpacked(hd, NULL);
		}
		keten_entry_release(&p);
		keten_entry_release(&s);
		assert_null(s.raw);
		keten_entry_release(&s); /* twice is safe */
	}
}

static void test_large_body_view(void **state)
{
	struct fx *f = *state;
	size_t n = 40000; /* a 3-byte length varint for the body */
	uint8_t *body = malloc(n);
	keten_entry s, p;
	assert_non_null(body);
	for (size_t i = 0; i < n; i++)
		body[i] = (uint8_t)(i * 7);
	sign_one(f, 2, 5, body, n, &s);
	assert_int_equal(keten_entry_parse(s.raw, s.raw_len, &p, NULL), KETEN_OK);
	assert_same_view(&s, &p);
	assert_memory_equal(p.body, body, n);
	assert_int_equal(keten_entry_verify(&p), KETEN_OK);
	keten_entry_release(&p);
	keten_entry_release(&s);
	free(body);
}

static void test_every_header_byte_flipped(void **state)
{
	struct fx *f = *state;
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	keten_entry s;
	sign_one(f, 2, 2, BODY, sizeof BODY, &s);
	size_t off = (size_t)(s.header - s.raw);
	uint8_t *buf = malloc(s.raw_len);
	assert_non_null(buf);
	for (size_t i = off; i < off + s.header_len; i++) {
		for (size_t m = 0; m < sizeof masks; m++) {
			keten_entry p;
			memcpy(buf, s.raw, s.raw_len);
			buf[i] ^= masks[m];
			int rc = keten_entry_parse(buf, s.raw_len, &p, NULL);
			if (rc == KETEN_OK) {
				if (keten_entry_verify(&p) == KETEN_OK)
					fail_msg("header byte %zu ^ 0x%02x still verifies", i - off, masks[m]);
				assert_memory_not_equal(p.id, s.id, 32);
				keten_entry_release(&p);
			} else {
				assert_true(rc == KETEN_EMALFORMED || rc == KETEN_EHASH);
				assert_null(p.raw); /* output cleared on failure */
			}
		}
	}
	free(buf);
	keten_entry_release(&s);
}

static void test_every_sig_byte_flipped(void **state)
{
	struct fx *f = *state;
	keten_entry s;
	sign_one(f, 1, 1, BODY, sizeof BODY, &s);
	size_t off = (size_t)(s.sig - s.raw);
	uint8_t *buf = malloc(s.raw_len);
	assert_non_null(buf);
	for (size_t i = off; i < off + 64; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			keten_entry p;
			memcpy(buf, s.raw, s.raw_len);
			buf[i] ^= (uint8_t)(1u << bit);
			/* the signature is not checked by parse, only by verify */
			assert_int_equal(keten_entry_parse(buf, s.raw_len, &p, NULL), KETEN_OK);
			assert_int_equal(keten_entry_verify(&p), KETEN_ESIG);
			assert_memory_not_equal(p.id, s.id, 32); /* the id covers the signature */
			keten_entry_release(&p);
		}
	}
	free(buf);
	keten_entry_release(&s);
}

static void test_body_swapped_and_flipped(void **state)
{
	struct fx *f = *state;
	keten_entry s, p;
	keten_error err = {0};
	uint8_t *raw;
	size_t len;

	sign_one(f, 1, 0, BODY, sizeof BODY, &s);
	/* another body under the same header, signature and salt */
	assert_int_equal(
		keten_entry_frame(s.header, s.header_len, s.sig, BODY2, sizeof BODY2, true, s.salt, &raw, &len),
		KETEN_OK);
	assert_int_equal(len, s.raw_len);
	assert_int_equal(keten_entry_parse(raw, len, &p, &err), KETEN_EHASH);
	assert_int_equal(err.code, KETEN_EHASH);
	assert_null(p.raw);
	free(raw);
	/* an empty body is a present body, and it does not match either */
	assert_int_equal(keten_entry_frame(s.header, s.header_len, s.sig, NULL, 0, true, s.salt, &raw, &len), KETEN_OK);
	assert_int_equal(keten_entry_parse(raw, len, &p, NULL), KETEN_EHASH);
	free(raw);
	/* the right body without its salt: refused, and the error says why */
	assert_int_equal(keten_entry_frame(s.header, s.header_len, s.sig, BODY, sizeof BODY, true, NULL, &raw, &len),
	                 KETEN_OK);
	memset(&err, 0, sizeof err);
	assert_int_equal(keten_entry_parse(raw, len, &p, &err), KETEN_EHASH);
	assert_non_null(strstr(err.msg, "without its salt"));
	assert_null(p.raw);
	free(raw);
	/* every body byte and every salt byte flipped */
	raw = malloc(s.raw_len);
	assert_non_null(raw);
	for (size_t i = (size_t)(s.body - s.raw); i < s.raw_len; i++) {
		if (i == (size_t)(s.salt - s.raw) - 2)
			i += 2; /* the salt's tag and length: framing (test_framing) */
		memcpy(raw, s.raw, s.raw_len);
		raw[i] ^= 0x20;
		memset(&err, 0, sizeof err);
		assert_int_equal(keten_entry_parse(raw, s.raw_len, &p, &err), KETEN_EHASH);
		assert_string_equal(err.msg, "entry body does not match its hash");
	}
	free(raw);
	keten_entry_release(&s);
}

static void test_stub(void **state)
{
	struct fx *f = *state;
	keten_entry s, p, full;
	uint8_t *stub, *raw;
	size_t stub_len, len;

	sign_one(f, 2, 3, BODY, sizeof BODY, &s);
	assert_int_equal(keten_entry_stub_bytes(&s, &stub, &stub_len), KETEN_OK);
	assert_true(stub_len < s.raw_len);
	/* the stub is the entry's bytes up to the body field: no salt */
	assert_int_equal(stub_len, (size_t)(s.sig - s.raw) + 64);
	assert_memory_equal(stub, s.raw, stub_len);
	assert_non_null(s.salt);
	assert_null(memmem(stub, stub_len, s.salt, KETEN_SALT_BYTES));
	assert_int_equal(keten_entry_parse(stub, stub_len, &p, NULL), KETEN_OK);
	assert_false(p.has_body);
	assert_null(p.body);
	assert_null(p.salt);
	assert_int_equal(p.version, 2);
	assert_int_equal(p.body_len, 0);
	assert_memory_equal(p.id, s.id, 32);
	assert_memory_equal(p.body_hash, s.body_hash, 32);
	assert_int_equal(p.n_audience, 3);
	assert_int_equal(keten_entry_verify(&p), KETEN_OK);
	/* the stub of a stub is the same bytes */
	assert_int_equal(keten_entry_stub_bytes(&p, &raw, &len), KETEN_OK);
	assert_int_equal(len, stub_len);
	assert_memory_equal(raw, stub, len);
	free(raw);
	/* the body and its salt framed back onto the stub give the full entry,
	 * byte for byte */
	assert_int_equal(keten_entry_frame(p.header, p.header_len, p.sig, BODY, sizeof BODY, true, s.salt, &raw, &len),
	                 KETEN_OK);
	assert_int_equal(len, s.raw_len);
	assert_memory_equal(raw, s.raw, len);
	assert_int_equal(keten_entry_parse(raw, len, &full, NULL), KETEN_OK);
	assert_true(full.has_body);
	assert_memory_equal(full.id, s.id, 32);
	keten_entry_release(&full);
	free(raw);
	/* a stub with a flipped signature byte parses but does not verify */
	stub[stub_len - 1] ^= 1;
	assert_int_equal(keten_entry_parse(stub, stub_len, &full, NULL), KETEN_OK);
	assert_int_equal(keten_entry_verify(&full), KETEN_ESIG);
	keten_entry_release(&full);
	free(stub);
	keten_entry_release(&p);
	keten_entry_release(&s);
}

static void test_frame_roundtrip(void **state)
{
	struct fx *f = *state;
	keten_entry s;
	uint8_t *raw;
	size_t len;

	sign_one(f, 2, KETEN_MAX_AUDIENCE, BODY, sizeof BODY, &s);
	assert_true(s.header_len > 127); /* a two-byte length */
	assert_int_equal(keten_entry_frame(s.header, s.header_len, s.sig, s.body, s.body_len, true, s.salt, &raw, &len),
	                 KETEN_OK);
	assert_int_equal(len, s.raw_len);
	assert_memory_equal(raw, s.raw, len);
	free(raw);
	/* has_body false ignores the body pointer */
	assert_int_equal(keten_entry_frame(s.header, s.header_len, s.sig, s.body, s.body_len, false, NULL, &raw, &len),
	                 KETEN_OK);
	assert_int_equal(len, (size_t)(s.sig - s.raw) + 64);
	assert_memory_equal(raw, s.raw, len);
	free(raw);
	/* ... but a stub is never framed with a salt */
	raw = NULL;
	assert_int_equal(
		keten_entry_frame(s.header, s.header_len, s.sig, s.body, s.body_len, false, s.salt, &raw, &len),
		KETEN_EINVAL);
	assert_null(raw);
	keten_entry_release(&s);
}

static int parse_rc(const uint8_t *b, size_t n)
{
	keten_entry p;
	keten_error err = {0};
	int rc = keten_entry_parse(b, n, &p, &err);
	if (rc == KETEN_OK)
		keten_entry_release(&p);
	else
		assert_int_equal(err.code, rc);
	assert_null(p.raw);
	return rc;
}

static void test_framing(void **state)
{
	struct fx *f = *state;
	keten_entry s;
	uint8_t *buf;
	size_t stub_len, n;

	sign_one(f, 1, 1, BODY, sizeof BODY, &s);
	stub_len = (size_t)(s.sig - s.raw) + 64;
	buf = malloc(s.raw_len * 3 + 16);
	assert_non_null(buf);

	/* trailing bytes: one zero, one tag, a whole second body */
	memcpy(buf, s.raw, s.raw_len);
	buf[s.raw_len] = 0;
	assert_int_equal(parse_rc(buf, s.raw_len + 1), KETEN_EMALFORMED);
	buf[s.raw_len] = 0x1a;
	assert_int_equal(parse_rc(buf, s.raw_len + 1), KETEN_EMALFORMED);
	/* duplicate body field */
	memcpy(buf + s.raw_len, s.body - 2, s.body_len + 2);
	assert_int_equal(buf[s.raw_len], 0x1a);
	assert_int_equal(parse_rc(buf, s.raw_len + s.body_len + 2), KETEN_EMALFORMED);
	/* duplicate signature field (header, sig, sig) */
	memcpy(buf, s.raw, stub_len);
	memcpy(buf + stub_len, s.sig - 2, 66);
	assert_int_equal(parse_rc(buf, stub_len + 66), KETEN_EMALFORMED);
	/* duplicate header field (header, header, sig) */
	n = (size_t)(s.sig - 2 - s.raw);
	memcpy(buf, s.raw, n);
	memcpy(buf + n, s.raw, n);
	memcpy(buf + 2 * n, s.sig - 2, 66);
	assert_int_equal(parse_rc(buf, 2 * n + 66), KETEN_EMALFORMED);
	/* fields out of order: signature first */
	memcpy(buf, s.sig - 2, 66);
	memcpy(buf + 66, s.raw, n);
	assert_int_equal(parse_rc(buf, 66 + n), KETEN_EMALFORMED);
	/* body before signature */
	{
		size_t k = 0;
		memcpy(buf, s.raw, n);
		k = n;
		memcpy(buf + k, s.body - 2, s.body_len + 2);
		k += s.body_len + 2;
		memcpy(buf + k, s.sig - 2, 66);
		k += 66;
		assert_int_equal(parse_rc(buf, k), KETEN_EMALFORMED);
	}
	/* wrong tags: every other value of each of the four tag bytes */
	{
		size_t tag_at[4] = {0, (size_t)(s.sig - 2 - s.raw), (size_t)(s.body - 2 - s.raw),
		                    (size_t)(s.salt - 2 - s.raw)};
		assert_int_equal(s.raw[tag_at[0]], 0x0a);
		assert_int_equal(s.raw[tag_at[1]], 0x12);
		assert_int_equal(s.raw[tag_at[2]], 0x1a);
		assert_int_equal(s.raw[tag_at[3]], 0x22);
		for (int t = 0; t < 4; t++)
			for (int v = 0; v < 256; v++) {
				if (v == s.raw[tag_at[t]])
					continue;
				memcpy(buf, s.raw, s.raw_len);
				buf[tag_at[t]] = (uint8_t)v;
				assert_int_equal(parse_rc(buf, s.raw_len), KETEN_EMALFORMED);
			}
	}
	/* signature of 63 and 65 bytes */
	{
		uint8_t sig65[65];
		memcpy(sig65, s.sig, 64);
		sig65[64] = 0;
		memcpy(buf, s.raw, n);
		buf[n] = 0x12;
		buf[n + 1] = 63;
		memcpy(buf + n + 2, sig65, 63);
		assert_int_equal(parse_rc(buf, n + 65), KETEN_EMALFORMED);
		buf[n + 1] = 65;
		memcpy(buf + n + 2, sig65, 65);
		assert_int_equal(parse_rc(buf, n + 67), KETEN_EMALFORMED);
	}
	/* an empty header */
	buf[0] = 0x0a;
	buf[1] = 0;
	buf[2] = 0x12;
	buf[3] = 64;
	memcpy(buf + 4, s.sig, 64);
	assert_int_equal(parse_rc(buf, 68), KETEN_EMALFORMED);
	/* a length varint that never ends, and one far past the end */
	memset(buf, 0xff, 20);
	buf[0] = 0x0a;
	assert_int_equal(parse_rc(buf, 20), KETEN_EMALFORMED);
	buf[0] = 0x0a;
	buf[1] = 0xff;
	buf[2] = 0xff;
	buf[3] = 0xff;
	buf[4] = 0x0f;
	assert_int_equal(parse_rc(buf, 20), KETEN_EMALFORMED);
	/* a non-minimal length varint (0x80 | n, 0x00): one entry, one encoding */
	{
		size_t k = 0;
		assert_true(s.header_len < 128);
		buf[k++] = 0x0a;
		buf[k++] = (uint8_t)(0x80 | s.header_len);
		buf[k++] = 0x00;
		memcpy(buf + k, s.header, s.header_len);
		k += s.header_len;
		memcpy(buf + k, s.sig - 2, 66);
		k += 66;
		assert_int_equal(parse_rc(buf, k), KETEN_EMALFORMED);
		/* the same, minimal, is the stub */
		assert_int_equal(parse_rc(buf + 1, k - 1), KETEN_EMALFORMED);
		buf[1] = 0x0a;
		buf[2] = (uint8_t)s.header_len;
		assert_int_equal(parse_rc(buf + 1, k - 1), KETEN_OK);
		/* padded signature length and padded body length */
		memcpy(buf, s.raw, n);
		buf[n] = 0x12;
		buf[n + 1] = 0xc0;
		buf[n + 2] = 0x00;
		memcpy(buf + n + 3, s.sig, 64);
		assert_int_equal(parse_rc(buf, n + 67), KETEN_EMALFORMED);
		memcpy(buf, s.raw, stub_len);
		buf[stub_len] = 0x1a;
		buf[stub_len + 1] = (uint8_t)(0x80 | s.body_len);
		buf[stub_len + 2] = 0x80;
		buf[stub_len + 3] = 0x00;
		memcpy(buf + stub_len + 4, s.body, s.body_len);
		assert_int_equal(parse_rc(buf, stub_len + 4 + s.body_len), KETEN_EMALFORMED);
		/* a ten-byte varint whose bits beyond 64 would wrap it to a zero length */
		memcpy(buf, s.raw, stub_len);
		buf[stub_len] = 0x1a;
		memset(buf + stub_len + 1, 0x80, 9);
		buf[stub_len + 10] = 0x02;
		assert_int_equal(parse_rc(buf, stub_len + 11), KETEN_EMALFORMED);
	}
	/* the salt of 15 and of 17 bytes; a salt after the signature, no body */
	{
		size_t at = (size_t)(s.salt - s.raw);
		memcpy(buf, s.raw, s.raw_len);
		buf[at - 1] = KETEN_SALT_BYTES - 1;
		assert_int_equal(parse_rc(buf, s.raw_len - 1), KETEN_EMALFORMED);
		buf[at - 1] = KETEN_SALT_BYTES + 1;
		buf[s.raw_len] = 0;
		assert_int_equal(parse_rc(buf, s.raw_len + 1), KETEN_EMALFORMED);
		memcpy(buf, s.raw, stub_len);
		memcpy(buf + stub_len, s.salt - 2, KETEN_SALT_BYTES + 2);
		assert_int_equal(parse_rc(buf, stub_len + KETEN_SALT_BYTES + 2), KETEN_EMALFORMED);
	}
	/* truncated at every length: malformed, except exactly at the stub, and
	 * right after the body (a version 2 body without its salt) */
	for (size_t len = 0; len < s.raw_len; len++) {
		uint8_t *t = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
		assert_non_null(t);
		memcpy(t, s.raw, len);
		int rc = parse_rc(t, len);
		if (len == stub_len)
			assert_int_equal(rc, KETEN_OK);
		else if (len == (size_t)(s.salt - 2 - s.raw))
			assert_int_equal(rc, KETEN_EHASH);
		else
			assert_int_equal(rc, KETEN_EMALFORMED);
		free(t);
	}
	/* a NULL-ish empty input */
	assert_int_equal(parse_rc(s.raw, 0), KETEN_EMALFORMED);
	free(buf);
	keten_entry_release(&s);
}

static void test_oversize(void **state)
{
	struct fx *f = *state;
	keten_entry s, p;
	keten_error err = {0};
	uint8_t *big, *raw;
	size_t len;

	sign_one(f, 1, 0, BODY, sizeof BODY, &s);
	big = calloc(1, KETEN_MAX_ENTRY_BYTES + 1);
	assert_non_null(big);
	/* a well-framed entry one byte over the limit is refused before decoding */
	size_t blen = KETEN_MAX_ENTRY_BYTES + 1 - s.header_len - 64 - 2 - 2 - 4;
	assert_int_equal(keten_entry_frame(s.header, s.header_len, s.sig, big, blen, true, NULL, &raw, &len), KETEN_OK);
	assert_int_equal(len, KETEN_MAX_ENTRY_BYTES + 1);
	assert_int_equal(keten_entry_parse(raw, len, &p, &err), KETEN_EMALFORMED);
	assert_int_equal(err.code, KETEN_EMALFORMED);
	assert_null(p.raw);
	/* cut by one byte: the body's length runs past the end */
	assert_int_equal(keten_entry_parse(raw, len - 1, &p, NULL), KETEN_EMALFORMED);
	free(raw);
	/* exactly at the limit it gets past the size check (and fails on the hash) */
	assert_int_equal(keten_entry_frame(s.header, s.header_len, s.sig, big, blen - 1, true, NULL, &raw, &len),
	                 KETEN_OK);
	assert_int_equal(len, KETEN_MAX_ENTRY_BYTES);
	assert_int_equal(keten_entry_parse(raw, len, &p, NULL), KETEN_EHASH);
	free(raw);
	/* signing refuses bodies above half the limit */
	{
		keten_entry_draft d = {
			.seq = 1, .body_type = 1, .body = big, .body_len = KETEN_MAX_ENTRY_BYTES / 2 + 1};
		assert_int_equal(keten_entry_sign(&f->kp, &d, &p, &err), KETEN_EINVAL);
		assert_null(p.raw);
		d.body_len = KETEN_MAX_ENTRY_BYTES / 2;
		assert_int_equal(keten_entry_sign(&f->kp, &d, &p, &err), KETEN_OK);
		keten_entry_release(&p);
	}
	free(big);
	keten_entry_release(&s);
}

static void test_draft_checks(void **state)
{
	struct fx *f = *state;
	uint8_t prev[32] = {9};
	keten_entry p;
	keten_error err = {0};
	keten_entry_draft ok = {.seq = 1, .timestamp_ms = 1, .body_type = 9, .body = BODY, .body_len = 3};
	keten_entry_draft d;

	assert_int_equal(keten_entry_sign(&f->kp, &ok, &p, &err), KETEN_OK);
	keten_entry_release(&p);
	d = ok;
	d.prev = prev; /* seq 1 with prev */
	assert_int_equal(keten_entry_sign(&f->kp, &d, &p, &err), KETEN_EINVAL);
	assert_int_equal(err.code, KETEN_EINVAL);
	d = ok;
	d.seq = 2; /* seq 2 without prev */
	assert_int_equal(keten_entry_sign(&f->kp, &d, &p, &err), KETEN_EINVAL);
	d = ok;
	d.seq = 0;
	assert_int_equal(keten_entry_sign(&f->kp, &d, &p, &err), KETEN_EINVAL);
	d = ok;
	d.body_type = 0;
	assert_int_equal(keten_entry_sign(&f->kp, &d, &p, &err), KETEN_EINVAL);
	d = ok;
	d.body_type = 20;
	assert_int_equal(keten_entry_sign(&f->kp, &d, &p, &err), KETEN_EINVAL);
	d = ok;
	d.n_audience = KETEN_MAX_AUDIENCE + 1;
	assert_int_equal(keten_entry_sign(&f->kp, &d, &p, &err), KETEN_EINVAL);
	assert_null(p.raw);
	d = ok;
	d.seq = 2;
	d.prev = prev;
	assert_int_equal(keten_entry_sign(&f->kp, &d, &p, &err), KETEN_OK);
	assert_memory_equal(p.prev, prev, 32);
	keten_entry_release(&p);
}

/* Build Entry bytes around a hand-made header, signed properly by kp: a
 * version 1 entry unless the header says otherwise (the salt is NULL). */
static void hand_entry(struct fx *f, const Keten__Header *h, const uint8_t *body, size_t blen, uint8_t **out,
                       size_t *out_len)
{
	size_t hl = keten__header__get_packed_size(h);
	uint8_t *m = malloc(14 + hl), sig[64];
	assert_non_null(m);
	memcpy(m, KETEN_SIG_CONTEXT, 14);
	keten__header__pack(h, m + 14);
	assert_int_equal(keten_keypair_sign(&f->kp, sig, m, 14 + hl), 0);
	assert_int_equal(keten_entry_frame(m + 14, hl, sig, body, blen, true, NULL, out, out_len), KETEN_OK);
	free(m);
}

static int hand_rc(struct fx *f, const Keten__Header *h)
{
	uint8_t *raw;
	size_t len;
	keten_entry p;
	int rc;
	hand_entry(f, h, BODY, sizeof BODY, &raw, &len);
	rc = keten_entry_parse(raw, len, &p, NULL);
	if (rc == KETEN_OK) {
		assert_int_equal(keten_entry_verify(&p), KETEN_OK);
		keten_entry_release(&p);
	}
	free(raw);
	return rc;
}

static void test_header_ranges(void **state)
{
	struct fx *f = *state;
	uint8_t bh[32], prev[32] = {7}, short_key[31] = {0};
	ProtobufCBinaryData aud[KETEN_MAX_AUDIENCE + 1];
	Keten__Header base = KETEN__HEADER__INIT, h;

	keten_hash(bh, BODY, sizeof BODY);
	base.author.data = f->kp.pk;
	base.author.len = 32;
	base.seq = 1;
	base.timestamp_ms = 1767225600000;
	base.body_type = KETEN__BODY_TYPE__CLAIM;
	base.body_hash.data = bh;
	base.body_hash.len = 32;
	for (size_t i = 0; i <= KETEN_MAX_AUDIENCE; i++) {
		aud[i].data = f->other_pk;
		aud[i].len = 32;
	}

	assert_int_equal(hand_rc(f, &base), KETEN_OK); /* the baseline (version 1) parses and verifies */
	h = base;
	h.has_version = 1;
	h.version = 2; /* version 2 over an unsalted hash, no salt */
	assert_int_equal(hand_rc(f, &h), KETEN_EHASH);
	h.version = 1; /* version 1 is written without the field */
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h.version = 3;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.has_prev = 1;
	h.prev.data = prev;
	h.prev.len = 32; /* seq 1 with prev */
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.seq = 2; /* seq 2 without prev */
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h.has_prev = 1;
	h.prev.data = prev;
	h.prev.len = 32; /* seq 2 with prev */
	assert_int_equal(hand_rc(f, &h), KETEN_OK);
	h.prev.len = 31; /* prev of 31 bytes */
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.seq = 0;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.seq = (UINT64_C(1) << 62) + 1;
	h.has_prev = 1;
	h.prev.data = prev;
	h.prev.len = 32;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.author.data = short_key;
	h.author.len = 31;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.body_type = 0;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.body_type = 20;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.body_type = 1000;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.body_hash.len = 31;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h = base;
	h.audience = aud;
	h.n_audience = KETEN_MAX_AUDIENCE;
	assert_int_equal(hand_rc(f, &h), KETEN_OK);
	h.n_audience = KETEN_MAX_AUDIENCE + 1;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	h.n_audience = 2;
	aud[1].len = 31;
	assert_int_equal(hand_rc(f, &h), KETEN_EMALFORMED);
	aud[1].len = 32;
	/* a version 1 entry with a salt beside its body */
	{
		uint8_t *raw, *more;
		size_t len;
		keten_entry p;
		hand_entry(f, &base, BODY, sizeof BODY, &raw, &len);
		assert_int_equal(keten_entry_parse(raw, len, &p, NULL), KETEN_OK);
		keten_entry_release(&p);
		more = realloc(raw, len + 2 + KETEN_SALT_BYTES);
		assert_non_null(more);
		more[len] = 0x22;
		more[len + 1] = KETEN_SALT_BYTES;
		memset(more + len + 2, 0x5a, KETEN_SALT_BYTES);
		assert_int_equal(keten_entry_parse(more, len + 2 + KETEN_SALT_BYTES, &p, NULL), KETEN_EMALFORMED);
		free(more);
	}
	/* a header that is not a protobuf message at all */
	{
		uint8_t junk[40], sig[64] = {0}, *raw;
		size_t len;
		keten_entry p;
		memset(junk, 0xff, sizeof junk);
		assert_int_equal(keten_entry_frame(junk, sizeof junk, sig, NULL, 0, false, NULL, &raw, &len), KETEN_OK);
		assert_int_equal(keten_entry_parse(raw, len, &p, NULL), KETEN_EMALFORMED);
		free(raw);
	}
}

static void test_wrong_author(void **state)
{
	struct fx *f = *state;
	keten_entry s, p;
	uint8_t *raw;
	size_t len;
	Keten__Header *h;
	/* the same header claiming another author, with the original signature */
	sign_one(f, 1, 0, BODY, sizeof BODY, &s);
	h = keten__header__unpack(NULL, s.header_len, s.header);
	assert_non_null(h);
	memcpy(h->author.data, f->other_pk, 32);
	{
		size_t hl = keten__header__get_packed_size(h);
		uint8_t *hb = malloc(hl);
		assert_non_null(hb);
		keten__header__pack(h, hb);
		assert_int_equal(keten_entry_frame(hb, hl, s.sig, BODY, sizeof BODY, true, s.salt, &raw, &len),
		                 KETEN_OK);
		free(hb);
	}
	keten__header__free_unpacked(h, NULL);
	assert_int_equal(keten_entry_parse(raw, len, &p, NULL), KETEN_OK);
	assert_memory_equal(p.author, f->other_pk, 32);
	assert_int_equal(keten_entry_verify(&p), KETEN_ESIG);
	keten_entry_release(&p);
	free(raw);
	keten_entry_release(&s);
}

/*
 * A small-order author key with the classic "R = identity, S = 0" forgery
 * that lax Ed25519 verifiers accept: it must never verify.  Parse checks
 * only the key's size (entry.h); keten_key_valid refuses the key, and the
 * ledger asks it before it stores a new feed (test_invariants.c).  Either
 * outcome of parse is accepted here.
 */
static void test_weak_key(void **state)
{
	struct fx *f = *state;
	uint8_t bh[32], weak[32] = {1}, sig[64] = {1}, *raw, *m;
	Keten__Header h = KETEN__HEADER__INIT;
	keten_entry p;
	size_t hl, len;
	(void)f;
	keten_hash(bh, BODY, sizeof BODY);
	h.author.data = weak; /* 01 00 .. 00: the identity point */
	h.author.len = 32;
	h.seq = 1;
	h.timestamp_ms = 1;
	h.body_type = KETEN__BODY_TYPE__CLAIM;
	h.body_hash.data = bh;
	h.body_hash.len = 32;
	hl = keten__header__get_packed_size(&h);
	m = malloc(hl);
	assert_non_null(m);
	keten__header__pack(&h, m);
	assert_false(keten_key_valid(weak));
	assert_int_equal(keten_entry_frame(m, hl, sig, BODY, sizeof BODY, true, NULL, &raw, &len), KETEN_OK);
	int rc = keten_entry_parse(raw, len, &p, NULL);
	if (rc == KETEN_OK) {
		assert_int_equal(keten_entry_verify(&p), KETEN_ESIG);
		keten_entry_release(&p);
	} else {
		assert_int_equal(rc, KETEN_EMALFORMED);
	}
	free(raw);
	free(m);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(keten_body_type_name(KETEN__BODY_TYPE__PARTY_CERTIFICATE), "certificate");
	assert_string_equal(keten_body_type_name(KETEN__BODY_TYPE__CHECKPOINT), "checkpoint");
	assert_null(keten_body_type_name(0));
	assert_string_equal(keten_body_type_name(KETEN__BODY_TYPE__RESUME), "resume");
	assert_null(keten_body_type_name(20));
	assert_null(keten_body_type_name(UINT32_MAX));
	for (uint32_t t = 1; t <= 19; t++) {
		const char *n = keten_body_type_name(t);
		assert_non_null(n);
		assert_int_equal(keten_body_type_from_name(n), t);
	}
	assert_int_equal(keten_body_type_from_name("nope"), 0);
	assert_int_equal(keten_body_type_from_name(""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sign_parse_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_body_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_header_byte_flipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_sig_byte_flipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_swapped_and_flipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stub, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_draft_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_author, setup, teardown),
		cmocka_unit_test_setup_teardown(test_weak_key, setup, teardown),
		cmocka_unit_test(test_type_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
