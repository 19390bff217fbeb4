/*
 * test_salt.c — salted body commitments (entry format version 2): a stub
 * of a small body, made the version 1 way, gives the body away to
 * whoever enumerates the few bodies it could be, and the same enumeration
 * finds nothing in a version 2 stub; version 1 entries (signed here by
 * hand, as keten signed them before) still verify, ingest and go through
 * export and import next to version 2 ones, in one feed; a body with an
 * altered salt, or without its salt, is refused and nothing is stored;
 * and neither a stub nor its exported line carries the salt.
 *
 * main sets KETEN_PWHASH_FAST=1 so the keystore's Argon2id is quick.
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
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "keten/keten.h"
#include "keten/json.h"
#include "keten/verify.h"
#include "proto/keten.pb-c.h"
#include "rules/rules.h"
#include "test_util.h"

/* --- entries of either version ---------------------------------------------- */

/* Version 1 Entry bytes, as keten signed them before version 2: no version
 * field, body_hash = BLAKE2b-256(body), no salt.  *out is malloc'd. */
static void sign_v1(const keten_keypair *kp, uint64_t seq, const uint8_t *prev, int64_t ts, uint32_t type,
                    const uint8_t *body, size_t blen, uint8_t **out, size_t *out_len)
{
	Keten__Header h = KETEN__HEADER__INIT;
	uint8_t bh[32], sig[64], *m;
	size_t hl;

	keten_hash(bh, body, blen);
	h.author.data = (uint8_t *)kp->pk;
	h.author.len = 32;
	h.seq = seq;
	if (prev) {
		h.has_prev = 1;
		h.prev.data = (uint8_t *)prev;
		h.prev.len = 32;
	}
	h.timestamp_ms = ts;
	h.body_type = type;
	h.body_hash.data = bh;
	h.body_hash.len = 32;
	hl = keten__header__get_packed_size(&h);
	m = malloc(KETEN_SIG_CONTEXT_LEN + hl);
	assert_non_null(m);
	memcpy(m, KETEN_SIG_CONTEXT, KETEN_SIG_CONTEXT_LEN);
	keten__header__pack(&h, m + KETEN_SIG_CONTEXT_LEN);
	assert_int_equal(keten_keypair_sign(kp, sig, m, KETEN_SIG_CONTEXT_LEN + hl), 0);
	assert_int_equal(keten_entry_frame(m + KETEN_SIG_CONTEXT_LEN, hl, sig, body, blen, true, NULL, out, out_len),
	                 KETEN_OK);
	free(m);
}

/* The same draft signed the way every new entry is: version 2. */
static void sign_v2(const keten_keypair *kp, uint32_t type, const uint8_t *body, size_t blen, keten_entry *out)
{
	keten_entry_draft d = {
		.seq = 1, .timestamp_ms = 1767225600000, .body_type = type, .body = body, .body_len = blen};
	assert_int_equal(keten_entry_sign(kp, &d, out, NULL), KETEN_OK);
	assert_int_equal(out->version, 2);
}

/* What a certified party that is not in the audience receives: the stub,
 * parsed. */
static void stub_of(const uint8_t *raw, size_t len, keten_entry *stub)
{
	keten_entry e;
	uint8_t *sb;
	size_t sl;
	assert_int_equal(keten_entry_parse(raw, len, &e, NULL), KETEN_OK);
	assert_int_equal(keten_entry_stub_bytes(&e, &sb, &sl), KETEN_OK);
	assert_int_equal(keten_entry_parse(sb, sl, stub, NULL), KETEN_OK);
	assert_false(stub->has_body);
	assert_null(stub->salt);
	free(sb);
	keten_entry_release(&e);
}

/* --- guessing bodies from stubs ------------------------------------------- */

static uint8_t *pack_answer(const uint8_t offer[32], bool accept, size_t *len)
{
	Keten__OfferAnswer a = KETEN__OFFER_ANSWER__INIT;
	uint8_t *b;
	a.offer.data = (uint8_t *)offer;
	a.offer.len = 32;
	a.accept = accept;
	*len = keten__offer_answer__get_packed_size(&a);
	b = malloc(*len);
	assert_non_null(b);
	keten__offer_answer__pack(&a, b);
	return b;
}

static size_t pack_delivery(const uint8_t offer[32], int month, int64_t units, uint8_t *buf, size_t cap)
{
	Keten__Delivery d = KETEN__DELIVERY__INIT;
	char period[8];
	snprintf(period, sizeof period, "2026-%02d", month);
	d.target.data = (uint8_t *)offer;
	d.target.len = 32;
	d.period = period;
	d.units = units;
	d.unit = "hour";
	assert_true(keten__delivery__get_packed_size(&d) <= cap);
	return keten__delivery__pack(&d, buf);
}

/* Does body hash to what the stub commits to, the version 1 way? */
static bool matches(const keten_entry *stub, const uint8_t *body, size_t len)
{
	uint8_t h[32];
	keten_body_hash(h, NULL, body, len);
	return memcmp(h, stub->body_hash, 32) == 0;
}

/* Try every answer to every offer the stubs showed: the try that matched
 * (1-based), 0 when none did. */
static size_t guess_answer(const keten_entry *stub, const uint8_t (*offers)[32], size_t n_offers, size_t *tries,
                           bool *accept)
{
	size_t found = 0;
	*tries = 0;
	for (size_t o = 0; o < n_offers; o++)
		for (int a = 1; a >= 0; a--) {
			size_t len;
			uint8_t *b = pack_answer(offers[o], a, &len);
			++*tries;
			if (!found && matches(stub, b, len)) {
				found = *tries;
				*accept = a;
			}
			free(b);
		}
	return found;
}

/* Every offer, every month of 2026, 0 to 200 hours in quarter hours. */
static size_t guess_delivery(const keten_entry *stub, const uint8_t (*offers)[32], size_t n_offers, size_t *tries,
                             int *month, int64_t *units)
{
	uint8_t b[128];
	size_t found = 0;
	*tries = 0;
	for (size_t o = 0; o < n_offers; o++)
		for (int m = 1; m <= 12; m++)
			for (int64_t u = 0; u <= 20000; u += 25) {
				size_t len = pack_delivery(offers[o], m, u, b, sizeof b);
				++*tries;
				if (!found && matches(stub, b, len)) {
					found = *tries;
					*month = m;
					*units = u;
				}
			}
	return found;
}

static void test_guess_from_stub(void **state)
{
	keten_keypair kp = {0};
	uint8_t offers[3][32], *raw, body[128], *ans;
	size_t len, alen, blen, tries, hit;
	keten_entry v2, stub;
	bool accept = false;
	int month = 0;
	int64_t units = -1;
	(void)state;

	kp.sk = sodium_malloc(64);
	assert_non_null(kp.sk);
	crypto_sign_keypair(kp.pk, kp.sk);
	for (int i = 0; i < 3; i++)
		randombytes_buf(offers[i], 32); /* the offer ids: the stubs of the offers show them */

	/* a refusal of the second offer */
	ans = pack_answer(offers[1], false, &alen);
	sign_v1(&kp, 1, NULL, 1767225600000, KETEN__BODY_TYPE__OFFER_ANSWER, ans, alen, &raw, &len);
	stub_of(raw, len, &stub);
	assert_int_equal(stub.version, 1);
	hit = guess_answer(&stub, (const uint8_t(*)[32])offers, 2, &tries, &accept);
	print_message("version 1 stub of an answer: the body recovered at try %zu of %zu (%s of offer 2)\n", hit, tries,
	              accept ? "acceptance" : "refusal");
	assert_int_equal(tries, 4);
	assert_int_equal(hit, 4);
	assert_false(accept);
	keten_entry_release(&stub);
	free(raw);
	sign_v2(&kp, KETEN__BODY_TYPE__OFFER_ANSWER, ans, alen, &v2);
	stub_of(v2.raw, v2.raw_len, &stub);
	assert_int_equal(stub.version, 2);
	hit = guess_answer(&stub, (const uint8_t(*)[32])offers, 2, &tries, &accept);
	print_message("version 2 stub of the same answer: %zu of %zu tries match\n", hit ? (size_t)1 : 0, tries);
	assert_int_equal(tries, 4);
	assert_int_equal(hit, 0);
	keten_entry_release(&stub);
	keten_entry_release(&v2);
	free(ans);

	/* 12.50 hours in March under the third offer */
	blen = pack_delivery(offers[2], 3, 1250, body, sizeof body);
	sign_v1(&kp, 1, NULL, 1767225600000, KETEN__BODY_TYPE__DELIVERY, body, blen, &raw, &len);
	stub_of(raw, len, &stub);
	hit = guess_delivery(&stub, (const uint8_t(*)[32])offers, 3, &tries, &month, &units);
	print_message("version 1 stub of a delivery: the body recovered at try %zu of %zu (%lld.%02lld hours in "
	              "2026-%02d)\n",
	              hit, tries, (long long)(units / 100), (long long)(units % 100), month);
	assert_int_equal(tries, 3 * 12 * 801);
	assert_int_not_equal(hit, 0);
	assert_int_equal(month, 3);
	assert_int_equal(units, 1250);
	keten_entry_release(&stub);
	free(raw);
	sign_v2(&kp, KETEN__BODY_TYPE__DELIVERY, body, blen, &v2);
	stub_of(v2.raw, v2.raw_len, &stub);
	hit = guess_delivery(&stub, (const uint8_t(*)[32])offers, 3, &tries, &month, &units);
	print_message("version 2 stub of the same delivery: %zu of %zu tries match\n", hit ? (size_t)1 : 0, tries);
	assert_int_equal(hit, 0);
	/* the body's holder checks it under the salt that came with it */
	{
		uint8_t h[32];
		keten_body_hash(h, v2.salt, body, blen);
		assert_memory_equal(h, stub.body_hash, 32);
	}
	keten_entry_release(&stub);
	keten_entry_release(&v2);
	keten_keypair_release(&kp);
}

/* --- homes ------------------------------------------------------------------ */

struct fx {
	char base[64];
	char a[96], b[96], c[96];
	keten_ledger *A, *B, *C;
};

static void make_home(const char *dir, const char *name, const char *role, keten_ledger **out)
{
	keten_home_info in = {0};
	keten_error err = {0};
	snprintf(in.name, sizeof in.name, "%s", name);
	snprintf(in.role, sizeof in.role, "%s", role);
	assert_int_equal(keten_home_create(dir, NULL, &in, &err), KETEN_OK);
	assert_int_equal(keten_ledger_open(dir, out, &err), KETEN_OK);
	assert_int_equal(keten_ledger_unlock(*out, NULL, &err), KETEN_OK);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->base, sizeof f->base, "/tmp/keten-salt-XXXXXX");
	if (!mkdtemp(f->base))
		return -1;
	snprintf(f->a, sizeof f->a, "%s/a", f->base);
	snprintf(f->b, sizeof f->b, "%s/b", f->base);
	snprintf(f->c, sizeof f->c, "%s/c", f->base);
	make_home(f->a, "Gemeente Zaanstad", "municipality", &f->A);
	make_home(f->b, "Zorg BV", "lead-provider", &f->B);
	make_home(f->c, "Hulp VOF", "subcontractor", &f->C);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	keten_ledger_close(f->A);
	keten_ledger_close(f->B);
	keten_ledger_close(f->C);
	test_rm_rf(f->base);
	free(f);
	return 0;
}

static const uint8_t *key_of(keten_ledger *L)
{
	return keten_ledger_info(L)->key;
}

static uint8_t *cert_body(const uint8_t key[32], const char *name, uint32_t role, size_t *len)
{
	Keten__PartyCertificate pc = KETEN__PARTY_CERTIFICATE__INIT;
	uint32_t roles[1] = {role};
	uint8_t *buf;
	pc.key.data = (uint8_t *)key;
	pc.key.len = 32;
	pc.name = (char *)name;
	pc.n_roles = 1;
	pc.roles = roles;
	*len = keten__party_certificate__get_packed_size(&pc);
	buf = malloc(*len);
	assert_non_null(buf);
	keten__party_certificate__pack(&pc, buf);
	return buf;
}

static size_t count(keten_ledger *L, kt_table tab)
{
	keten_txn *t;
	size_t n;
	assert_int_equal(keten_store_read(keten_ledger_store(L), &t, NULL), KETEN_OK);
	n = kt_kv_count(t, tab);
	keten_txn_end(t);
	return n;
}

/* The entry L holds under id (the caller releases it). */
static void held(keten_ledger *L, const uint8_t id[32], keten_entry *e, keten_status *st)
{
	keten_txn *t;
	assert_int_equal(keten_store_read(keten_ledger_store(L), &t, NULL), KETEN_OK);
	assert_int_equal(keten_store_get_entry(t, id, e, NULL), KETEN_OK);
	if (st)
		assert_int_equal(keten_store_status(t, id, st, NULL, 0, NULL), KETEN_OK);
	keten_txn_end(t);
}

/* The line `keten export` writes for e, and the bytes `keten import` makes
 * of it again (malloc'd). */
static char *export_line(const keten_entry *e)
{
	json_t *j = keten_json_entry(e);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	json_decref(j);
	return s;
}

static keten_blob import_line(const char *line)
{
	keten_blob b;
	uint8_t *raw;
	size_t len;
	assert_int_equal(keten_json_entry_parse(line, strlen(line), &raw, &len, NULL), KETEN_OK);
	b.data = raw;
	b.len = len;
	return b;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A's feed as it is after the change: seq 1 and 2 signed before it
 * (version 1, by hand), seq 3 appended now (version 2).  A takes its own
 * old entries back (as from a backup) and continues the feed.
 */
static void mixed_feed(struct fx *f, uint8_t ids[3][32])
{
	const keten_keypair *kp = keten_ledger_keypair(f->A);
	keten_error err = {0};
	keten_ingest_stats st;
	uint8_t *b1, *b2, *b3, *r1, *r2, ids3[1][32];
	size_t l1, l2, l3, rl1, rl2;
	keten_entry e1;
	int64_t t0 = now_ms() - 3600000;

	assert_int_equal(keten_ledger_trust_add(f->A, key_of(f->A), "Gemeente Zaanstad", &err), KETEN_OK);
	b1 = cert_body(key_of(f->A), "Gemeente Zaanstad", KETEN__ROLE__MUNICIPALITY, &l1);
	b2 = cert_body(key_of(f->B), "Zorg BV", KETEN__ROLE__LEAD_PROVIDER, &l2);
	sign_v1(kp, 1, NULL, t0, KETEN__BODY_TYPE__PARTY_CERTIFICATE, b1, l1, &r1, &rl1);
	assert_int_equal(keten_entry_parse(r1, rl1, &e1, NULL), KETEN_OK);
	memcpy(ids[0], e1.id, 32);
	sign_v1(kp, 2, e1.id, t0 + 1000, KETEN__BODY_TYPE__PARTY_CERTIFICATE, b2, l2, &r2, &rl2);
	keten_entry_release(&e1);
	{
		keten_blob v1[2] = {{r1, rl1}, {r2, rl2}};
		assert_int_equal(keten_ledger_ingest(f->A, v1, 2, true, &st, &err), KETEN_OK);
		assert_int_equal(st.added, 2);
		assert_int_equal(st.applied, 2);
	}
	assert_int_equal(keten_entry_parse(r2, rl2, &e1, NULL), KETEN_OK);
	memcpy(ids[1], e1.id, 32);
	keten_entry_release(&e1);
	b3 = cert_body(key_of(f->C), "Hulp VOF", KETEN__ROLE__SUBCONTRACTOR, &l3);
	{
		keten_append a = {.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE, .body = b3, .body_len = l3};
		assert_int_equal(keten_ledger_append(f->A, &a, 1, ids3, &err), KETEN_OK);
	}
	memcpy(ids[2], ids3[0], 32);
	free(b1);
	free(b2);
	free(b3);
	free(r1);
	free(r2);
}

static void test_v1_next_to_v2(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_ingest_stats st;
	keten_verify_report rep;
	uint8_t ids[3][32];
	keten_blob in[3];
	char *lines[3];

	mixed_feed(f, ids);
	/* A's feed: two version 1 entries, then a version 2 one linked to them */
	for (int i = 0; i < 3; i++) {
		keten_entry e;
		held(f->A, ids[i], &e, NULL);
		assert_int_equal(e.version, i < 2 ? 1 : 2);
		assert_true(i < 2 ? e.salt == NULL : e.salt != NULL);
		if (i == 2)
			assert_memory_equal(e.prev, ids[1], 32);
		assert_int_equal(keten_entry_verify(&e), KETEN_OK);
		lines[i] = export_line(&e);
		/* the line says the version; a salt only for version 2 */
		assert_non_null(strstr(lines[i], i < 2 ? "\"version\":1" : "\"version\":2"));
		assert_true(i < 2 ? strstr(lines[i], "\"salt\"") == NULL : strstr(lines[i], "\"salt\"") != NULL);
		keten_entry_release(&e);
	}
	/* exported and imported into B, in a shuffled order: all three verify */
	assert_int_equal(keten_ledger_trust_add(f->B, key_of(f->A), "Gemeente Zaanstad", &err), KETEN_OK);
	in[0] = import_line(lines[2]);
	in[1] = import_line(lines[0]);
	in[2] = import_line(lines[1]);
	assert_int_equal(keten_ledger_ingest(f->B, in, 3, true, &st, &err), KETEN_OK);
	print_message("version 1 and 2 entries of one feed imported: %zu added, %zu applied, %zu rejected\n", st.added,
	              st.applied, st.rejected);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.applied, 3);
	for (int i = 0; i < 3; i++) {
		keten_entry e;
		char *again;
		held(f->B, ids[i], &e, NULL);
		assert_int_equal(e.version, i < 2 ? 1 : 2);
		assert_true(e.has_body);
		again = export_line(&e);
		assert_string_equal(again, lines[i]); /* the same bytes as A holds */
		free(again);
		keten_entry_release(&e);
	}
	memset(&rep, 0, sizeof rep);
	assert_int_equal(keten_ledger_verify(f->B, NULL, &rep, &err), KETEN_OK);
	print_message("keten verify on the importing node: %zu entries, %zu signatures, %zu bad\n", rep.entries,
	              rep.signatures, rep.n_bad);
	assert_int_equal(rep.entries, 3);
	assert_int_equal(rep.signatures, 3);
	assert_int_equal(rep.n_bad, 0);
	keten_verify_report_release(&rep);
	for (int i = 0; i < 3; i++) {
		free((void *)in[i].data);
		free(lines[i]);
	}
}

/* e's bytes with a different salt byte, or its body without the salt. */
static keten_blob altered(const keten_entry *e, bool drop_salt)
{
	uint8_t *raw;
	size_t len;
	if (drop_salt) {
		assert_int_equal(keten_entry_frame(e->header, e->header_len, e->sig, e->body, e->body_len, true, NULL,
		                                   &raw, &len),
		                 KETEN_OK);
	} else {
		raw = malloc(e->raw_len);
		assert_non_null(raw);
		memcpy(raw, e->raw, e->raw_len);
		raw[(size_t)(e->salt - e->raw) + 5] ^= 0x01;
		len = e->raw_len;
	}
	return (keten_blob){raw, len};
}

static void test_salt_refused(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_ingest_stats st;
	uint8_t ids[3][32], *sb;
	size_t sl;
	keten_entry e[3], s;
	keten_status status;

	mixed_feed(f, ids);
	for (int i = 0; i < 3; i++)
		held(f->A, ids[i], &e[i], NULL);
	assert_int_equal(keten_ledger_trust_add(f->C, key_of(f->A), "Gemeente Zaanstad", &err), KETEN_OK);
	assert_int_equal(keten_ledger_trust_add(f->B, key_of(f->A), "Gemeente Zaanstad", &err), KETEN_OK);

	/* an import with the version 2 entry's salt altered, or its body sent
	 * without the salt: refused whole, nothing stored */
	for (int drop = 0; drop < 2; drop++) {
		keten_blob bad = altered(&e[2], drop);
		keten_blob in[3] = {{e[0].raw, e[0].raw_len}, {e[1].raw, e[1].raw_len}, bad};
		memset(&err, 0, sizeof err);
		assert_int_equal(keten_ledger_ingest(f->C, in, 3, true, &st, &err), KETEN_EHASH);
		print_message("%s: %s; %zu entries stored\n", drop ? "the body without its salt" : "the salt altered",
		              err.msg, count(f->C, KT_ENTRIES));
		assert_non_null(strstr(err.msg, drop ? "without its salt" : "does not match its hash"));
		assert_int_equal(count(f->C, KT_ENTRIES), 0);
		assert_int_equal(count(f->C, KT_STATUS), 0);
		free((void *)bad.data);
	}

	/* in sync mode the good entries are kept, the altered one is not */
	for (int drop = 0; drop < 2; drop++) {
		keten_blob bad = altered(&e[2], drop);
		keten_blob in[3] = {{e[0].raw, e[0].raw_len}, {e[1].raw, e[1].raw_len}, bad};
		keten_txn *t;
		memset(&err, 0, sizeof err);
		assert_int_equal(keten_ledger_ingest(f->C, in, 3, false, &st, &err), KETEN_OK);
		assert_int_equal(err.code, KETEN_EHASH);
		assert_int_equal(count(f->C, KT_ENTRIES), 2);
		assert_int_equal(keten_store_read(keten_ledger_store(f->C), &t, NULL), KETEN_OK);
		assert_false(keten_store_has_entry(t, ids[2]));
		keten_txn_end(t);
		free((void *)bad.data);
	}

	/* B holds entry 3 as a stub; its body comes without the salt, then
	 * with an altered salt: refused, the stub stays a stub */
	assert_int_equal(keten_entry_stub_bytes(&e[2], &sb, &sl), KETEN_OK);
	{
		keten_blob in[3] = {{e[0].raw, e[0].raw_len}, {e[1].raw, e[1].raw_len}, {sb, sl}};
		assert_int_equal(keten_ledger_ingest(f->B, in, 3, true, &st, &err), KETEN_OK);
		assert_int_equal(st.stubs, 1);
	}
	for (int drop = 0; drop < 2; drop++) {
		keten_blob bad = altered(&e[2], drop);
		memset(&err, 0, sizeof err);
		assert_int_equal(keten_ledger_ingest(f->B, &bad, 1, true, &st, &err), KETEN_EHASH);
		held(f->B, ids[2], &s, &status);
		assert_false(s.has_body);
		assert_int_equal(s.raw_len, sl);
		assert_int_equal(status, KS_STUB);
		keten_entry_release(&s);
		free((void *)bad.data);
	}
	/* the body with its own salt completes the stub */
	{
		keten_blob in = {e[2].raw, e[2].raw_len};
		assert_int_equal(keten_ledger_ingest(f->B, &in, 1, true, &st, &err), KETEN_OK);
		assert_int_equal(st.bodies_added, 1);
		held(f->B, ids[2], &s, &status);
		assert_true(s.has_body);
		assert_memory_equal(s.salt, e[2].salt, KETEN_SALT_BYTES);
		keten_entry_release(&s);
	}
	free(sb);
	for (int i = 0; i < 3; i++)
		keten_entry_release(&e[i]);
}

static void test_stub_carries_no_salt(void **state)
{
	struct fx *f = *state;
	uint8_t ids[3][32], *sb, *raw;
	size_t sl, len;
	keten_entry e, s;
	char b64[64], *full, *line;
	json_t *j;

	mixed_feed(f, ids);
	held(f->A, ids[2], &e, NULL);
	assert_int_equal(keten_entry_stub_bytes(&e, &sb, &sl), KETEN_OK);
	assert_null(memmem(sb, sl, e.salt, KETEN_SALT_BYTES));
	assert_int_equal(keten_entry_parse(sb, sl, &s, NULL), KETEN_OK);
	sodium_bin2base64(b64, sizeof b64, e.salt, KETEN_SALT_BYTES, sodium_base64_VARIANT_ORIGINAL);
	full = export_line(&e);
	line = export_line(&s);
	print_message("exported version 2 entry: salt %s; its stub's line: %zu bytes, %s\n",
	              strstr(full, b64) ? "present" : "absent", strlen(line),
	              strstr(line, "\"salt\"") || strstr(line, b64) ? "with a salt" : "no salt");
	assert_non_null(strstr(full, b64));
	assert_null(strstr(line, "\"salt\""));
	assert_null(strstr(line, b64));
	/* a stub's line given a salt, and a salt of 15 bytes: not imported */
	j = json_loads(line, 0, NULL);
	assert_non_null(j);
	json_object_set_new(j, "salt", json_string(b64));
	free(line);
	line = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_int_equal(keten_json_entry_parse(line, strlen(line), &raw, &len, NULL), KETEN_EINVAL);
	assert_null(raw);
	j = json_loads(full, 0, NULL);
	assert_non_null(j);
	json_object_set_new(j, "salt", json_string("AAAAAAAAAAAAAAAAAAAA")); /* 15 bytes */
	{
		char *t = json_dumps(j, JSON_COMPACT);
		assert_int_equal(keten_json_entry_parse(t, strlen(t), &raw, &len, NULL), KETEN_EINVAL);
		free(t);
	}
	json_decref(j);
	free(full);
	free(line);
	free(sb);
	keten_entry_release(&s);
	keten_entry_release(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guess_from_stub),
		cmocka_unit_test_setup_teardown(test_v1_next_to_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_salt_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stub_carries_no_salt, setup, teardown),
	};
	setenv("KETEN_PWHASH_FAST", "1", 1);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
