/*
 * test_ledger.c — unit tests for ledger/core/, the one path by which
 * entries enter a home: creating and opening homes, unlocking, local
 * appends (hash-chained seq 1, 2, 3; all-or-nothing batches; hard rules
 * refusing and storing nothing; an uncertified author refused), and
 * ingest of entries from another home: all-or-nothing import, tampered
 * entries dropping everything, pending entries applied once their author
 * is trusted, idempotent re-ingest, sync mode keeping the good runs, and
 * forks (two entries by one author at one seq) recorded with both headers;
 * batches signed on a second thread ahead of the store (the same bytes,
 * all or nothing); an author's authority remembered per date in an ingest.
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
#include <unistd.h>

#include <sodium.h>

#include "keten/keten.h"
#include "proto/keten.pb-c.h"
#include "rules/rules.h"
#include "test_util.h"

#define PASS "a passphrase for home a"

struct fx {
	char base[64];
	char a[96], b[96], c[96];
	keten_ledger *A, *B, *C;
	uint8_t ids[3][32]; /* A's first three entries */
};

static void make_home(const char *dir, const char *name, const char *role, const char *pass, keten_ledger **out)
{
	keten_home_info in = {0};
	keten_error err = {0};
	snprintf(in.name, sizeof in.name, "%s", name);
	snprintf(in.role, sizeof in.role, "%s", role);
	assert_int_equal(keten_home_create(dir, pass, &in, &err), KETEN_OK);
	assert_int_equal(keten_ledger_open(dir, out, &err), KETEN_OK);
	assert_int_equal(keten_ledger_unlock(*out, pass, &err), KETEN_OK);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->base, sizeof f->base, "/tmp/keten-ledger-XXXXXX");
	if (!mkdtemp(f->base))
		return -1;
	snprintf(f->a, sizeof f->a, "%s/a", f->base);
	snprintf(f->b, sizeof f->b, "%s/b", f->base);
	snprintf(f->c, sizeof f->c, "%s/c", f->base);
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

/* A packed PartyCertificate for key (malloc'd). */
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

static const uint8_t *key_of(keten_ledger *L)
{
	return keten_ledger_info(L)->key;
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

static uint64_t head_seq(keten_ledger *L, const uint8_t author[32])
{
	keten_txn *t;
	uint64_t seq;
	assert_int_equal(keten_store_read(keten_ledger_store(L), &t, NULL), KETEN_OK);
	assert_int_equal(keten_store_head(t, author, &seq, NULL, NULL), KETEN_OK);
	keten_txn_end(t);
	return seq;
}

static keten_status status_of(keten_ledger *L, const uint8_t id[32], char *rule)
{
	keten_txn *t;
	keten_status st = 0;
	char r[48];
	assert_int_equal(keten_store_read(keten_ledger_store(L), &t, NULL), KETEN_OK);
	assert_int_equal(keten_store_status(t, id, &st, r, sizeof r, NULL), KETEN_OK);
	keten_txn_end(t);
	if (rule)
		strcpy(rule, r);
	return st;
}

/* Append one certificate by L for key. */
static int certify(keten_ledger *L, const uint8_t key[32], const char *name, uint32_t role, uint8_t id[32],
                   keten_error *err)
{
	size_t len;
	uint8_t *body = cert_body(key, name, role, &len), ids[1][32];
	keten_append a = {.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE, .body = body, .body_len = len};
	int rc = keten_ledger_append(L, &a, 1, ids, err);
	if (rc == 0 && id)
		memcpy(id, ids[0], 32);
	free(body);
	return rc;
}

/*
 * Home A (municipality, anchor of itself) with three entries: certificates
 * of A, of B (lead provider) and of C (subcontractor).  B and C exist.
 */
static void three_homes(struct fx *f)
{
	keten_error err = {0};
	make_home(f->a, "Gemeente Zaanstad", "municipality", PASS, &f->A);
	make_home(f->b, "Zorg BV", "lead-provider", NULL, &f->B);
	make_home(f->c, "Hulp VOF", "subcontractor", NULL, &f->C);
	assert_int_equal(keten_ledger_trust_add(f->A, key_of(f->A), "Gemeente Zaanstad", &err), KETEN_OK);
	assert_int_equal(certify(f->A, key_of(f->A), "Gemeente Zaanstad", KETEN__ROLE__MUNICIPALITY, f->ids[0], &err),
	                 KETEN_OK);
	assert_int_equal(certify(f->A, key_of(f->B), "Zorg BV", KETEN__ROLE__LEAD_PROVIDER, f->ids[1], &err), KETEN_OK);
	assert_int_equal(certify(f->A, key_of(f->C), "Hulp VOF", KETEN__ROLE__SUBCONTRACTOR, f->ids[2], &err),
	                 KETEN_OK);
}

/* Every entry of L's store, in feed order, as blobs (data malloc'd). */
struct blobs {
	keten_blob b[64];
	size_t n;
	keten_txn *t;
};

/* Through the feeds view (author || seq -> id) and the entries view (id ->
 * Entry bytes), as code written for schema 1 reads them. */
static int export_cb(const uint8_t *k __attribute__((unused)), size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct blobs *x = p;
	const void *raw;
	size_t n;
	assert_int_equal(kl, 40);
	assert_int_equal(vl, 32);
	assert_int_equal(kt_kv_get(x->t, KT_ENTRIES, v, 32, &raw, &n, NULL), KETEN_OK);
	assert_true(x->n < 64);
	uint8_t *copy = malloc(n);
	assert_non_null(copy);
	memcpy(copy, raw, n);
	x->b[x->n].data = copy;
	x->b[x->n].len = n;
	x->n++;
	return 0;
}

static void export_all(keten_ledger *L, struct blobs *x)
{
	memset(x, 0, sizeof *x);
	assert_int_equal(keten_store_read(keten_ledger_store(L), &x->t, NULL), KETEN_OK);
	assert_int_equal(kt_kv_scan(x->t, KT_FEEDS, NULL, 0, export_cb, x, NULL), KETEN_OK);
	keten_txn_end(x->t);
}

static void free_blobs(struct blobs *x)
{
	for (size_t i = 0; i < x->n; i++)
		free((void *)x->b[i].data);
	x->n = 0;
}

/* --- homes ---------------------------------------------------------------- */

static void test_home(void **state)
{
	struct fx *f = *state;
	keten_home_info in = {0};
	keten_error err = {0};
	keten_ledger *L = NULL;
	size_t len;
	uint8_t *body;

	snprintf(in.name, sizeof in.name, "Gemeente Zaanstad");
	snprintf(in.role, sizeof in.role, "municipality");
	snprintf(in.municipality, sizeof in.municipality, "0479");
	assert_int_equal(keten_ledger_open(f->a, &L, &err), KETEN_ENOTFOUND);
	assert_null(L);
	assert_int_equal(keten_home_create(f->a, PASS, &in, &err), KETEN_OK);
	assert_int_equal(keten_home_create(f->a, PASS, &in, &err), KETEN_EEXIST);
	assert_int_equal(keten_ledger_open(f->a, &f->A, &err), KETEN_OK);
	const keten_home_info *i = keten_ledger_info(f->A);
	assert_string_equal(i->name, "Gemeente Zaanstad");
	assert_string_equal(i->role, "municipality");
	assert_string_equal(i->municipality, "0479");
	assert_false(i->unprotected);
	assert_string_equal(keten_ledger_dir(f->A), f->a);
	assert_false(keten_ledger_unlocked(f->A));
	assert_null(keten_ledger_keypair(f->A));

	/* nothing is appended with a locked key */
	body = cert_body(i->key, "x", KETEN__ROLE__MUNICIPALITY, &len);
	keten_append a = {.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE, .body = body, .body_len = len};
	assert_int_equal(keten_ledger_append(f->A, &a, 1, NULL, &err), KETEN_EINVAL);
	free(body);
	assert_int_equal(keten_ledger_unlock(f->A, "wrong", &err), KETEN_EPASS);
	assert_false(keten_ledger_unlocked(f->A));
	assert_int_equal(keten_ledger_unlock(f->A, PASS, &err), KETEN_OK);
	assert_true(keten_ledger_unlocked(f->A));
	assert_memory_equal(keten_ledger_keypair(f->A)->pk, i->key, 32);
	/* the key really signs for this home's key */
	{
		uint8_t sig[64];
		assert_int_equal(keten_keypair_sign(keten_ledger_keypair(f->A), sig, (const uint8_t *)"m", 1), 0);
		assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"m", 1, i->key), 0);
	}
	/* an unprotected home */
	make_home(f->b, "Zorg BV", "lead-provider", NULL, &f->B);
	assert_true(keten_ledger_info(f->B)->unprotected);
	assert_memory_not_equal(key_of(f->A), key_of(f->B), 32);
	/* trust anchors must be valid points */
	{
		uint8_t bad[32] = {0};
		assert_int_equal(keten_ledger_trust_add(f->A, bad, "zero", &err), KETEN_EINVAL);
	}
}

static void test_local_chain(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_txn *t;

	three_homes(f);
	assert_int_equal(head_seq(f->A, key_of(f->A)), 3);
	assert_int_equal(count(f->A, KT_ENTRIES), 3);
	assert_int_equal(count(f->A, KT_PARTIES), 3);
	assert_int_equal(keten_store_read(keten_ledger_store(f->A), &t, &err), KETEN_OK);
	for (int i = 0; i < 3; i++) {
		keten_entry e;
		uint8_t id[32];
		keten_status st;
		assert_int_equal(keten_store_feed_id(t, key_of(f->A), (uint64_t)i + 1, id, &err), KETEN_OK);
		assert_memory_equal(id, f->ids[i], 32);
		assert_int_equal(keten_store_get_entry(t, f->ids[i], &e, &err), KETEN_OK);
		assert_int_equal(e.seq, (uint64_t)i + 1);
		assert_memory_equal(e.author, key_of(f->A), 32);
		assert_int_equal(e.body_type, KETEN__BODY_TYPE__PARTY_CERTIFICATE);
		if (i == 0) {
			static const uint8_t zero[32];
			assert_memory_equal(e.prev, zero, 32);
		} else {
			assert_memory_equal(e.prev, f->ids[i - 1], 32);
		}
		assert_int_equal(keten_entry_verify(&e), KETEN_OK);
		assert_true(e.timestamp_ms > 1700000000000);
		keten_entry_release(&e);
		assert_int_equal(keten_store_status(t, f->ids[i], &st, NULL, 0, &err), KETEN_OK);
		assert_int_equal(st, KS_APPLIED);
	}
	/* the certificates made party state */
	{
		Keten__State__PartyState *p = NULL;
		assert_int_equal(kt_party_load(t, key_of(f->B), &p, &err), KETEN_OK);
		assert_string_equal(p->name, "Zorg BV");
		assert_int_equal(p->n_roles, 1);
		assert_int_equal(p->roles[0], KETEN__ROLE__LEAD_PROVIDER);
		assert_int_equal(p->certificate.len, 32);
		assert_memory_equal(p->certificate.data, f->ids[1], 32);
		assert_memory_equal(p->certified_by.data, key_of(f->A), 32);
		keten__state__party_state__free_unpacked(p, NULL);
	}
	keten_txn_end(t);

	/* a batch is all or none: a good certificate and one with an empty name */
	{
		size_t l1, l2;
		uint8_t k[32], sk[64], ids[2][32];
		crypto_sign_keypair(k, sk);
		uint8_t *b1 = cert_body(k, "Nieuw BV", KETEN__ROLE__SUBCONTRACTOR, &l1);
		uint8_t *b2 = cert_body(k, "", KETEN__ROLE__SUBCONTRACTOR, &l2);
		keten_append a[2] = {
			{.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE, .body = b1, .body_len = l1},
			{.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE, .body = b2, .body_len = l2},
		};
		memset(&err, 0, sizeof err);
		assert_int_equal(keten_ledger_append(f->A, a, 2, ids, &err), KETEN_ERULE);
		assert_string_equal(err.rule, "invalid-name");
		assert_int_equal(err.item, 2); /* the plain path names the failed entry too */
		assert_int_equal(head_seq(f->A, key_of(f->A)), 3);
		assert_int_equal(count(f->A, KT_ENTRIES), 3);
		assert_int_equal(count(f->A, KT_PARTIES), 3);
		/* a body that does not decode */
		a[1].body = (const uint8_t *)"\xff\xff\xff";
		a[1].body_len = 3;
		assert_int_equal(keten_ledger_append(f->A, a, 2, ids, &err), KETEN_ERULE);
		assert_string_equal(err.rule, "malformed-body");
		assert_int_equal(count(f->A, KT_ENTRIES), 3);
		/* both good: seq 4 and 5, chained */
		a[1] = a[0];
		assert_int_equal(keten_ledger_append(f->A, a, 2, ids, &err), KETEN_OK);
		assert_int_equal(head_seq(f->A, key_of(f->A)), 5);
		assert_int_equal(keten_store_read(keten_ledger_store(f->A), &t, &err), KETEN_OK);
		keten_entry e;
		assert_int_equal(keten_store_get_entry(t, ids[1], &e, &err), KETEN_OK);
		assert_int_equal(e.seq, 5);
		assert_memory_equal(e.prev, ids[0], 32);
		keten_entry_release(&e);
		keten_txn_end(t);
		free(b1);
		free(b2);
		sodium_memzero(sk, sizeof sk);
	}
}

static void test_uncertified_refused(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	uint8_t id[32];

	make_home(f->a, "Gemeente", "municipality", PASS, &f->A);
	make_home(f->b, "Zorg BV", "lead-provider", NULL, &f->B);
	/* B trusts nobody and holds no certificate: its own entries are refused */
	assert_int_equal(certify(f->B, key_of(f->A), "Gemeente", KETEN__ROLE__MUNICIPALITY, id, &err), KETEN_ERULE);
	assert_int_equal(err.code, KETEN_ERULE);
	assert_string_equal(err.rule, "author-not-certified");
	assert_int_equal(head_seq(f->B, key_of(f->B)), 0);
	assert_int_equal(count(f->B, KT_ENTRIES), 0);
	assert_int_equal(count(f->B, KT_STATUS), 0);
	/* an anchor that is not this home: still not certified */
	assert_int_equal(keten_ledger_trust_add(f->B, key_of(f->A), "Gemeente", &err), KETEN_OK);
	memset(&err, 0, sizeof err);
	assert_int_equal(certify(f->B, key_of(f->B), "Zorg BV", KETEN__ROLE__LEAD_PROVIDER, id, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "author-not-certified");
	assert_int_equal(count(f->B, KT_ENTRIES), 0);
}

/* --- ingest ------------------------------------------------------------------ */

static void test_ingest(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_ingest_stats st;
	struct blobs x;
	uint8_t *bad;

	three_homes(f);
	export_all(f->A, &x);
	assert_int_equal(x.n, 3);

	assert_int_equal(keten_ledger_trust_add(f->B, key_of(f->A), "Gemeente", &err), KETEN_OK);
	/* a flipped byte in the last entry's signature: the whole import fails */
	bad = malloc(x.b[2].len);
	assert_non_null(bad);
	memcpy(bad, x.b[2].data, x.b[2].len);
	{
		keten_entry e;
		assert_int_equal(keten_entry_parse(bad, x.b[2].len, &e, NULL), KETEN_OK);
		bad[(size_t)(e.sig - e.raw) + 10] ^= 0x01;
		keten_entry_release(&e);
	}
	{
		keten_blob t[3] = {x.b[0], x.b[1], {bad, x.b[2].len}};
		memset(&err, 0, sizeof err);
		assert_int_equal(keten_ledger_ingest(f->B, t, 3, true, &st, &err), KETEN_ESIG);
		assert_int_equal(err.code, KETEN_ESIG);
		assert_int_equal(count(f->B, KT_ENTRIES), 0);
		assert_int_equal(count(f->B, KT_FEEDS), 0);
		assert_int_equal(count(f->B, KT_STATUS), 0);
		assert_int_equal(count(f->B, KT_PARTIES), 0);
		assert_int_equal(head_seq(f->B, key_of(f->A)), 0);
		/* the same entry first in the file (order does not matter) */
		keten_blob u[3] = {{bad, x.b[2].len}, x.b[0], x.b[1]};
		assert_int_equal(keten_ledger_ingest(f->B, u, 3, true, &st, &err), KETEN_ESIG);
		assert_int_equal(count(f->B, KT_ENTRIES), 0);
	}
	/* a flipped signature byte in the middle breaks the next entry's prev link */
	{
		keten_entry e;
		uint8_t *mid = malloc(x.b[1].len);
		assert_non_null(mid);
		memcpy(mid, x.b[1].data, x.b[1].len);
		assert_int_equal(keten_entry_parse(mid, x.b[1].len, &e, NULL), KETEN_OK);
		mid[(size_t)(e.sig - e.raw)] ^= 0x80;
		keten_entry_release(&e);
		keten_blob t[3] = {x.b[0], {mid, x.b[1].len}, x.b[2]};
		assert_int_equal(keten_ledger_ingest(f->B, t, 3, true, &st, &err), KETEN_ECHAIN);
		assert_int_equal(count(f->B, KT_ENTRIES), 0);
		free(mid);
	}
	/* a flipped body byte: the hash does not match */
	{
		uint8_t *b = malloc(x.b[0].len);
		assert_non_null(b);
		memcpy(b, x.b[0].data, x.b[0].len);
		b[x.b[0].len - 3] ^= 0x04;
		keten_blob t[3] = {{b, x.b[0].len}, x.b[1], x.b[2]};
		assert_int_equal(keten_ledger_ingest(f->B, t, 3, true, &st, &err), KETEN_EHASH);
		assert_int_equal(count(f->B, KT_ENTRIES), 0);
		free(b);
	}
	/* a gap: seq 1 and 3 without 2 */
	{
		keten_blob t[2] = {x.b[0], x.b[2]};
		assert_int_equal(keten_ledger_ingest(f->B, t, 2, true, &st, &err), KETEN_ECHAIN);
		assert_int_equal(count(f->B, KT_ENTRIES), 0);
	}

	/* the genuine entries, shuffled: all three added and applied */
	{
		keten_blob t[3] = {x.b[2], x.b[0], x.b[1]};
		memset(&err, 0, sizeof err);
		assert_int_equal(keten_ledger_ingest(f->B, t, 3, true, &st, &err), KETEN_OK);
		assert_int_equal(err.code, KETEN_OK);
	}
	assert_int_equal(st.received, 3);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.applied, 3);
	assert_int_equal(st.known, 0);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.rejected, 0);
	assert_int_equal(st.forks, 0);
	assert_int_equal(count(f->B, KT_ENTRIES), 3);
	assert_int_equal(count(f->B, KT_PARTIES), 3);
	assert_int_equal(head_seq(f->B, key_of(f->A)), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(status_of(f->B, f->ids[i], NULL), KS_APPLIED);
	/* the stored bytes are the exported bytes */
	{
		struct blobs y;
		export_all(f->B, &y);
		assert_int_equal(y.n, 3);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(y.b[i].len, x.b[i].len);
			assert_memory_equal(y.b[i].data, x.b[i].data, x.b[i].len);
		}
		free_blobs(&y);
	}

	/* twice is harmless */
	assert_int_equal(keten_ledger_ingest(f->B, x.b, 3, true, &st, &err), KETEN_OK);
	assert_int_equal(st.received, 3);
	assert_int_equal(st.known, 3);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.applied, 0);
	assert_int_equal(count(f->B, KT_ENTRIES), 3);
	assert_int_equal(count(f->B, KT_STATUS), 3);

	/* B is now certified (by A's second entry) and may write its own feed */
	{
		uint8_t id[32];
		uint8_t k[32], sk[64];
		crypto_sign_keypair(k, sk);
		memset(&err, 0, sizeof err);
		/* but B is no anchor: it may not certify */
		assert_int_equal(certify(f->B, k, "Iemand", KETEN__ROLE__SUBCONTRACTOR, id, &err), KETEN_ERULE);
		assert_string_equal(err.rule, "certifier-not-anchor");
		assert_int_equal(head_seq(f->B, key_of(f->B)), 0);
	}

	/* C trusts nobody yet: the entries are authentic, so stored, but pending */
	assert_int_equal(keten_ledger_ingest(f->C, x.b, 3, true, &st, &err), KETEN_OK);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.pending, 3);
	assert_int_equal(st.applied, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(status_of(f->C, f->ids[i], NULL), KS_PENDING);
	assert_int_equal(count(f->C, KT_PARTIES), 0);
	assert_true(count(f->C, KT_PENDING) >= 1);
	/* trusting A applies the whole feed, in order */
	assert_int_equal(keten_ledger_trust_add(f->C, key_of(f->A), "Gemeente", &err), KETEN_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(status_of(f->C, f->ids[i], NULL), KS_APPLIED);
	assert_int_equal(count(f->C, KT_PARTIES), 3);
	assert_int_equal(count(f->C, KT_PENDING), 0);

	free(bad);
	free_blobs(&x);
}

/* Sync mode keeps the good runs and reports the first bad one. */
static void test_ingest_sync_mode(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_ingest_stats st;
	struct blobs x, y;
	char d[128];
	keten_ledger *D;
	uint8_t *bad;

	three_homes(f);
	export_all(f->A, &x);
	/* a second author: C, anchor of itself, with two entries */
	assert_int_equal(keten_ledger_trust_add(f->C, key_of(f->C), "self", &err), KETEN_OK);
	assert_int_equal(certify(f->C, key_of(f->C), "Hulp VOF", KETEN__ROLE__SUBCONTRACTOR, NULL, &err), KETEN_OK);
	assert_int_equal(certify(f->C, key_of(f->B), "Zorg BV", KETEN__ROLE__LEAD_PROVIDER, NULL, &err), KETEN_OK);
	export_all(f->C, &y);
	assert_int_equal(y.n, 2);
	/* C's last entry with a flipped signature byte */
	bad = malloc(y.b[1].len);
	assert_non_null(bad);
	memcpy(bad, y.b[1].data, y.b[1].len);
	{
		keten_entry e;
		assert_int_equal(keten_entry_parse(bad, y.b[1].len, &e, NULL), KETEN_OK);
		bad[(size_t)(e.sig - e.raw) + 63] ^= 0x10;
		keten_entry_release(&e);
	}
	keten_blob t[6] = {y.b[0], {bad, y.b[1].len}, x.b[0], x.b[1], x.b[2], {(const uint8_t *)"\x0a\x01", 2}};
	snprintf(d, sizeof d, "%s/d", f->base);
	make_home(d, "Auditor", "auditor", NULL, &D);
	assert_int_equal(keten_ledger_trust_add(D, key_of(f->A), "Gemeente", &err), KETEN_OK);
	assert_int_equal(keten_ledger_trust_add(D, key_of(f->C), "Hulp", &err), KETEN_OK);

	/* import: all or nothing */
	assert_int_equal(keten_ledger_ingest(D, t, 5, true, &st, &err), KETEN_ESIG);
	assert_int_equal(count(D, KT_ENTRIES), 0);
	assert_int_equal(keten_ledger_ingest(D, t, 6, true, &st, &err), KETEN_EMALFORMED);
	assert_int_equal(count(D, KT_ENTRIES), 0);
	/* sync: C's run is dropped whole (its good first entry too), A's is kept */
	memset(&err, 0, sizeof err);
	assert_int_equal(keten_ledger_ingest(D, t, 5, false, &st, &err), KETEN_OK);
	assert_int_equal(err.code, KETEN_ESIG);
	assert_int_equal(st.received, 5);
	assert_int_equal(st.added, 3);
	assert_int_equal(st.applied, 3);
	assert_int_equal(head_seq(D, key_of(f->A)), 3);
	assert_int_equal(head_seq(D, key_of(f->C)), 0);
	assert_int_equal(count(D, KT_ENTRIES), 3);
	/* an undecodable blob in sync mode is reported, the good C run kept */
	{
		keten_blob u[3] = {t[5], y.b[0], y.b[1]};
		memset(&err, 0, sizeof err);
		assert_int_equal(keten_ledger_ingest(D, u, 3, false, &st, &err), KETEN_OK);
		assert_int_equal(err.code, KETEN_EMALFORMED);
		assert_int_equal(st.added, 2);
		assert_int_equal(head_seq(D, key_of(f->C)), 2);
		assert_int_equal(count(D, KT_ENTRIES), 5);
	}
	keten_ledger_close(D);
	free(bad);
	free_blobs(&x);
	free_blobs(&y);
}

/* --- forks -------------------------------------------------------------------- */

struct fork_seen {
	int n;
	uint8_t ids[4][32];
	uint8_t vals[4][512];
	size_t vlen[4];
};

static int fork_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct fork_seen *s = p;
	assert_int_equal(kl, 72);
	assert_true(s->n < 4 && vl <= 512);
	memcpy(s->ids[s->n], k + 40, 32);
	memcpy(s->vals[s->n], v, vl);
	s->vlen[s->n] = vl;
	s->n++;
	return 0;
}

static void test_fork(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_ingest_stats st;
	struct blobs x;
	keten_entry e4a, e4b;
	size_t la, lb;
	uint8_t ka[32], kb[32], sk[64];

	three_homes(f);
	export_all(f->A, &x);
	assert_int_equal(keten_ledger_trust_add(f->B, key_of(f->A), "Gemeente", &err), KETEN_OK);
	assert_int_equal(keten_ledger_ingest(f->B, x.b, 3, true, &st, &err), KETEN_OK);

	/* A signs two different entries at seq 4, both after its third */
	crypto_sign_keypair(ka, sk);
	crypto_sign_keypair(kb, sk);
	sodium_memzero(sk, sizeof sk);
	uint8_t *ba = cert_body(ka, "Eerste BV", KETEN__ROLE__SUBCONTRACTOR, &la);
	uint8_t *bb = cert_body(kb, "Tweede BV", KETEN__ROLE__SUBCONTRACTOR, &lb);
	keten_entry_draft da = {.seq = 4,
	                        .prev = f->ids[2],
	                        .timestamp_ms = 1767225600000,
	                        .body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE,
	                        .body = ba,
	                        .body_len = la};
	keten_entry_draft db = da;
	db.body = bb;
	db.body_len = lb;
	assert_int_equal(keten_entry_sign(keten_ledger_keypair(f->A), &da, &e4a, &err), KETEN_OK);
	assert_int_equal(keten_entry_sign(keten_ledger_keypair(f->A), &db, &e4b, &err), KETEN_OK);
	assert_memory_not_equal(e4a.id, e4b.id, 32);

	/* both in one batch: refused as a fork, nothing stored */
	{
		keten_blob t[2] = {{e4a.raw, e4a.raw_len}, {e4b.raw, e4b.raw_len}};
		assert_int_equal(keten_ledger_ingest(f->B, t, 2, true, &st, &err), KETEN_EFORK);
		assert_int_equal(count(f->B, KT_ENTRIES), 3);
		assert_int_equal(count(f->B, KT_FORKS), 0);
	}
	/* one, then the other */
	{
		keten_blob t = {e4a.raw, e4a.raw_len};
		assert_int_equal(keten_ledger_ingest(f->B, &t, 1, true, &st, &err), KETEN_OK);
		assert_int_equal(st.added, 1);
		assert_int_equal(st.applied, 1);
		assert_int_equal(st.forks, 0);
	}
	{
		keten_blob t = {e4b.raw, e4b.raw_len};
		memset(&err, 0, sizeof err);
		assert_int_equal(keten_ledger_ingest(f->B, &t, 1, true, &st, &err), KETEN_OK);
		assert_int_equal(st.forks, 1);
		assert_int_equal(st.added, 0);
		assert_int_equal(st.known, 0);
	}
	/* the first stays in the feed; the forks table holds both signed headers */
	assert_int_equal(head_seq(f->B, key_of(f->A)), 4);
	assert_int_equal(count(f->B, KT_ENTRIES), 4);
	{
		keten_txn *t;
		uint8_t pre[40], id[32];
		struct fork_seen s = {0};
		Keten__State__PartyState *p = NULL;
		assert_int_equal(keten_store_read(keten_ledger_store(f->B), &t, &err), KETEN_OK);
		assert_int_equal(keten_store_feed_id(t, key_of(f->A), 4, id, &err), KETEN_OK);
		assert_memory_equal(id, e4a.id, 32);
		assert_false(keten_store_has_entry(t, e4b.id));
		memcpy(pre, key_of(f->A), 32);
		kt_be64(pre + 32, 4);
		assert_int_equal(kt_kv_scan(t, KT_FORKS, pre, 40, fork_cb, &s, &err), KETEN_OK);
		assert_int_equal(s.n, 2);
		assert_int_equal(kt_kv_count(t, KT_FORKS), 2);
		for (int i = 0; i < 2; i++) {
			const keten_entry *e = memcmp(s.ids[i], e4a.id, 32) == 0 ? &e4a : &e4b;
			assert_memory_equal(s.ids[i], e->id, 32);
			assert_int_equal(s.vlen[i], e->header_len + 64);
			assert_memory_equal(s.vals[i], e->header, e->header_len);
			assert_memory_equal(s.vals[i] + e->header_len, e->sig, 64);
		}
		assert_memory_not_equal(s.ids[0], s.ids[1], 32);
		/* each stored proof verifies on its own: the author signed both */
		for (int i = 0; i < 2; i++) {
			uint8_t *raw;
			size_t len;
			keten_entry pe;
			size_t hl = s.vlen[i] - 64;
			assert_int_equal(
				keten_entry_frame(s.vals[i], hl, s.vals[i] + hl, NULL, 0, false, NULL, &raw, &len),
				KETEN_OK);
			assert_int_equal(keten_entry_parse(raw, len, &pe, NULL), KETEN_OK);
			assert_int_equal(keten_entry_verify(&pe), KETEN_OK);
			assert_int_equal(pe.seq, 4);
			assert_memory_equal(pe.id, s.ids[i], 32);
			keten_entry_release(&pe);
			free(raw);
		}
		/* and the author is marked */
		assert_int_equal(kt_party_load(t, key_of(f->A), &p, &err), KETEN_OK);
		assert_true(p->forked);
		keten__state__party_state__free_unpacked(p, NULL);
		keten_txn_end(t);
	}
	/* seeing the fork again adds no proof; the first entry again is known */
	{
		keten_blob t[1] = {{e4b.raw, e4b.raw_len}};
		assert_int_equal(keten_ledger_ingest(f->B, t, 1, true, &st, &err), KETEN_OK);
		assert_int_equal(count(f->B, KT_FORKS), 2);
		t[0].data = e4a.raw;
		t[0].len = e4a.raw_len;
		assert_int_equal(keten_ledger_ingest(f->B, t, 1, true, &st, &err), KETEN_OK);
		assert_int_equal(st.known, 1);
		assert_int_equal(st.forks, 0);
	}
	/* a forged "fork" (bad signature at a stored seq) is refused, not recorded */
	{
		uint8_t *forged = malloc(e4b.raw_len);
		assert_non_null(forged);
		memcpy(forged, e4b.raw, e4b.raw_len);
		forged[(size_t)(e4b.sig - e4b.raw) + 5] ^= 1;
		keten_blob t = {forged, e4b.raw_len};
		assert_int_equal(keten_ledger_ingest(f->B, &t, 1, true, &st, &err), KETEN_ESIG);
		assert_int_equal(count(f->B, KT_FORKS), 2);
		free(forged);
	}
	keten_entry_release(&e4a);
	keten_entry_release(&e4b);
	free(ba);
	free(bb);
	free_blobs(&x);
}

/* --- pipelined signing ------------------------------------------------------ */

/*
 * A batch of 600 (more than the signer's ring of 256) is signed on a second
 * thread ahead of the store: every entry must be what the plain path makes
 * (signing the same draft again gives the same header but for the body
 * hash, keyed by each entry's own salt), chained, stored once with status
 * applied, and its id index record must lead back to its place in the
 * feed.  A refusal deep in such a batch stores nothing.
 */
static void test_pipelined_append(void **state)
{
	struct fx *f = *state;
	enum { N = 600 };
	keten_error err = {0};
	keten_append *a = calloc(N, sizeof *a);
	uint8_t(*ids)[32] = calloc(N, 32);
	keten_txn *t;
	size_t l1, l2;
	uint8_t k[32], sk[64];

	assert_non_null(a);
	assert_non_null(ids);
	three_homes(f);
	for (int i = 0; i < N; i++)
		a[i] = (keten_append){
			.body_type = KETEN__BODY_TYPE__CHECKPOINT, .body = (const uint8_t *)"", .body_len = 0};
	/* a refusal at entry 400: nothing of the batch is stored */
	crypto_sign_keypair(k, sk);
	uint8_t *good = cert_body(k, "Nieuw BV", KETEN__ROLE__SUBCONTRACTOR, &l1);
	uint8_t *bad = cert_body(k, "", KETEN__ROLE__SUBCONTRACTOR, &l2);
	a[100] = (keten_append){.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE, .body = good, .body_len = l1};
	a[400] = (keten_append){.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE, .body = bad, .body_len = l2};
	assert_int_equal(keten_ledger_append(f->A, a, N, ids, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "invalid-name");
	assert_int_equal(err.item, 401); /* 1-based: the batch can name its row */
	assert_int_equal(head_seq(f->A, key_of(f->A)), 3);
	assert_int_equal(count(f->A, KT_ENTRIES), 3);
	assert_int_equal(count(f->A, KT_LOG), 3);
	assert_int_equal(count(f->A, KT_PARTIES), 3);
	/* a refusal in the first entry, before anything is stored */
	a[400] = a[100];
	a[0] = (keten_append){.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE, .body = bad, .body_len = l2};
	assert_int_equal(keten_ledger_append(f->A, a, N, ids, &err), KETEN_ERULE);
	assert_int_equal(err.item, 1);
	assert_int_equal(count(f->A, KT_LOG), 3);

	/* the whole batch: seq 4 .. 603 */
	a[0] = a[1];
	memset(&err, 0, sizeof err);
	assert_int_equal(keten_ledger_append(f->A, a, N, ids, &err), KETEN_OK);
	assert_int_equal(head_seq(f->A, key_of(f->A)), 3 + N);
	assert_int_equal(count(f->A, KT_ENTRIES), 3 + N);
	assert_int_equal(count(f->A, KT_STATUS), 3 + N);
	assert_int_equal(count(f->A, KT_PARTIES), 4);
	assert_int_equal(keten_store_read(keten_ledger_store(f->A), &t, &err), KETEN_OK);
	for (int i = 0; i < N; i++) {
		keten_entry e, again;
		uint8_t id[32];
		const uint8_t *v;
		size_t vl;
		uint64_t seq = (uint64_t)i + 4;
		assert_int_equal(keten_store_feed_id(t, key_of(f->A), seq, id, &err), KETEN_OK);
		assert_memory_equal(id, ids[i], 32);
		assert_int_equal(keten_store_get_entry(t, ids[i], &e, &err), KETEN_OK);
		assert_int_equal(e.seq, seq);
		if (i > 0)
			assert_memory_equal(e.prev, ids[i - 1], 32);
		else
			assert_memory_equal(e.prev, f->ids[2], 32);
		/* the plain path's entry: the same draft signed again gives the
		 * same header but for the body hash (each entry draws its own
		 * salt), the same body, and the same sizes */
		keten_entry_draft d = {.seq = seq,
		                       .prev = e.prev,
		                       .timestamp_ms = e.timestamp_ms,
		                       .body_type = a[i].body_type,
		                       .body = a[i].body,
		                       .body_len = a[i].body_len};
		assert_int_equal(keten_entry_sign(keten_ledger_keypair(f->A), &d, &again, &err), KETEN_OK);
		assert_int_equal(again.raw_len, e.raw_len);
		assert_int_equal(e.version, 2);
		assert_memory_not_equal(again.salt, e.salt, KETEN_SALT_BYTES);
		{
			uint8_t bh[32], *hb;
			Keten__Header *h = keten__header__unpack(NULL, again.header_len, again.header);
			assert_non_null(h);
			keten_body_hash(bh, e.salt, a[i].body, a[i].body_len);
			assert_memory_equal(bh, e.body_hash, 32);
			memcpy(h->body_hash.data, e.body_hash, 32);
			hb = malloc(e.header_len);
			assert_non_null(hb);
			assert_int_equal(keten__header__pack(h, hb), e.header_len);
			assert_memory_equal(hb, e.header, e.header_len);
			free(hb);
			keten__header__free_unpacked(h, NULL);
		}
		assert_int_equal(e.body_len, a[i].body_len);
		if (e.body_len)
			assert_memory_equal(e.body, a[i].body, e.body_len);
		assert_int_equal(keten_entry_verify(&e), KETEN_OK);
		keten_entry_release(&again);
		keten_entry_release(&e);
		/* status applied, and the id index leads to author || seq */
		assert_int_equal(kt_kv_get(t, KT_STATUS, ids[i], 32, (const void **)&v, &vl, &err), KETEN_OK);
		assert_int_equal(vl, KT_STATUS_RULE);
		assert_int_equal(v[0], KS_APPLIED);
		assert_memory_equal(v + KT_STATUS_AUTHOR, key_of(f->A), 32);
		assert_int_equal(kt_get_be64(v + KT_STATUS_SEQ), seq);
	}
	keten_txn_end(t);
	/* and a small batch after it takes the plain path from the new head */
	assert_int_equal(keten_ledger_append(f->A, a + 1, 2, ids, &err), KETEN_OK);
	assert_int_equal(head_seq(f->A, key_of(f->A)), 5 + N);
	free(good);
	free(bad);
	free(ids);
	free(a);
	sodium_memzero(sk, sizeof sk);
}

/* --- authority remembered across a run ---------------------------------------- */

/* A certificate for key, valid until `until` (YYYYMMDD, inclusive). */
static uint8_t *cert_until(const uint8_t key[32], const char *name, uint32_t role, uint32_t until, size_t *len)
{
	Keten__PartyCertificate pc = KETEN__PARTY_CERTIFICATE__INIT;
	uint32_t roles[1] = {role};
	uint8_t *buf;
	pc.key.data = (uint8_t *)key;
	pc.key.len = 32;
	pc.name = (char *)name;
	pc.n_roles = 1;
	pc.roles = roles;
	pc.has_valid_until = 1;
	pc.valid_until = until;
	*len = keten__party_certificate__get_packed_size(&pc);
	buf = malloc(*len);
	assert_non_null(buf);
	keten__party_certificate__pack(&pc, buf);
	return buf;
}

/*
 * One ingest holds A's certificate of B (valid until 1 February 2026) and
 * B's run of six entries, three dated in January and three in March.  The
 * ingest remembers B's authority per date: January applies, March is
 * rejected, whichever of the two runs is applied first (the runs go in key
 * order; when B's comes first it waits for the certificate).
 */
static void test_ingest_authority_by_date(void **state)
{
	struct fx *f = *state;
	static const int64_t ts[6] = {1768046400000, 1768132800000, 1768132800001,
	                              1773144000000, 1773144000001, 1773144000002};
	keten_error err = {0};
	keten_ingest_stats st;
	struct blobs xa, xb;
	keten_blob all[8];
	keten_append a[6];
	uint8_t ids[6][32];
	size_t len;
	char rule[48];
	uint8_t *body;

	make_home(f->a, "Gemeente", "municipality", PASS, &f->A);
	make_home(f->b, "Zorg BV", "lead-provider", NULL, &f->B);
	make_home(f->c, "Hulp VOF", "subcontractor", NULL, &f->C);
	assert_int_equal(keten_ledger_trust_add(f->A, key_of(f->A), "Gemeente", &err), KETEN_OK);
	body = cert_until(key_of(f->B), "Zorg BV", KETEN__ROLE__LEAD_PROVIDER, 20260201, &len);
	keten_append ca = {.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE, .body = body, .body_len = len};
	assert_int_equal(keten_ledger_append(f->A, &ca, 1, NULL, &err), KETEN_OK);
	free(body);
	/* B is its own anchor, so its own store lets it write at any date */
	assert_int_equal(keten_ledger_trust_add(f->B, key_of(f->B), "self", &err), KETEN_OK);
	for (int i = 0; i < 6; i++)
		a[i] = (keten_append){
			.body_type = KETEN__BODY_TYPE__CHECKPOINT, .body = (const uint8_t *)"", .timestamp_ms = ts[i]};
	assert_int_equal(keten_ledger_append(f->B, a, 6, ids, &err), KETEN_OK);

	/* C trusts A only, and receives everything in one call */
	assert_int_equal(keten_ledger_trust_add(f->C, key_of(f->A), "Gemeente", &err), KETEN_OK);
	export_all(f->A, &xa);
	export_all(f->B, &xb);
	assert_int_equal(xa.n, 1);
	assert_int_equal(xb.n, 6);
	all[0] = xa.b[0];
	for (int i = 0; i < 6; i++)
		all[1 + i] = xb.b[i];
	assert_int_equal(keten_ledger_ingest(f->C, all, 7, true, &st, &err), KETEN_OK);
	assert_int_equal(st.added, 7);
	assert_int_equal(st.applied, 4);
	assert_int_equal(st.rejected, 3);
	assert_int_equal(st.pending, 0);
	for (int i = 0; i < 6; i++) {
		keten_status s = status_of(f->C, ids[i], rule);
		if (i < 3) {
			assert_int_equal(s, KS_APPLIED);
		} else {
			assert_int_equal(s, KS_REJECTED);
			assert_string_equal(rule, "certificate-not-valid");
		}
	}
	free_blobs(&xa);
	free_blobs(&xb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_home, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncertified_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_sync_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_authority_by_date, setup, teardown),
	};
	setenv("KETEN_PWHASH_FAST", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
