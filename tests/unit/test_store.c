/*
 * test_store.c — unit tests for ledger/store.c, the LMDB environment:
 * open and create; writes that commit and writes that roll back; entries
 * through kt_store_put_entry and the log, heads, by_type, timeline
 * and status (id index) tables it fills, and the entries and feeds views; stubs and their bodies; id prefix resolution
 * (unique, ambiguous, odd digit counts, not found, not hex, too short);
 * the map growing from 256 KiB while 20 MB are written, also while
 * readers on four threads read what is there (the map gate: readers run
 * at once, the growth waits for them alone), and a growth refused to a
 * thread that holds a read transaction itself; and prefix scans forward
 * and in reverse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keten/keten.h"
#include "proto/keten.pb-c.h"
#include "test_util.h"
#include "store/kv.h"

struct fx {
	char dir[64];
	char ledger[96];
	keten_store *s;
	keten_keypair kp;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f || sodium_init() < 0)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/keten-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->ledger, sizeof f->ledger, "%s/ledger", f->dir);
	f->kp.sk = sodium_malloc(64);
	if (!f->kp.sk)
		return -1;
	crypto_sign_keypair(f->kp.pk, f->kp.sk);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	kt_store_close(f->s);
	keten_keypair_release(&f->kp);
	test_rm_rf(f->dir);
	free(f);
	return 0;
}

static void open_store(struct fx *f, size_t map)
{
	keten_error err = {0};
	assert_int_equal(kt_store_open(f->ledger, true, map, &f->s, &err), KETEN_OK);
	assert_non_null(f->s);
}

/* Sign entry seq of kp's feed after prev (NULL at seq 1). */
static void make_entry(struct fx *f, uint64_t seq, const uint8_t *prev, uint32_t type, int64_t ts, const uint8_t *body,
                       size_t blen, keten_entry *out)
{
	keten_entry_draft d = {
		.seq = seq, .prev = prev, .timestamp_ms = ts, .body_type = type, .body = body, .body_len = blen};
	assert_int_equal(keten_entry_sign(&f->kp, &d, out, NULL), KETEN_OK);
}

/* --- open ------------------------------------------------------------- */

static void test_open(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_store *s = NULL;
	keten_txn *t;
	const void *v;
	size_t n;

	assert_int_equal(kt_store_open(f->ledger, false, 0, &s, &err), KETEN_ENOTFOUND);
	assert_null(s);
	assert_int_equal(err.code, KETEN_ENOTFOUND);
	assert_int_not_equal(access(f->ledger, F_OK), 0); /* nothing created */
	open_store(f, 1 << 20);
	assert_int_equal(kt_store_mapsize(f->s), 1 << 20);
	assert_int_equal(access(f->ledger, F_OK), 0);
	/* the schema version is recorded */
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_ptr_equal(keten_txn_store(t), f->s);
	assert_int_equal(kt_kv_get(t, KT_META, "schema", 6, &v, &n, &err), KETEN_OK);
	assert_int_equal(n, 4);
	assert_int_equal(kt_get_be32(v), KT_SCHEMA_VERSION);
	for (int tab = 0; tab < KT_COUNT; tab++)
		assert_int_equal(kt_kv_count(t, tab), tab == KT_META ? 1 : 0);
	keten_txn_end(t);
	keten_txn_end(NULL);
	kt_store_close(f->s);
	f->s = NULL;
	kt_store_close(NULL);
	/* reopen without create */
	assert_int_equal(kt_store_open(f->ledger, false, 1 << 20, &f->s, &err), KETEN_OK);
}

static int put_bad_schema(keten_txn *t, void *ctx __attribute__((unused)), keten_error *err)
{
	return kt_kv_put(t, KT_META, "schema", 6, "\0\0\0\x09", 4, err);
}

static void test_schema_mismatch(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_store *s = NULL;
	open_store(f, 0);
	assert_int_equal(kt_store_write(f->s, put_bad_schema, NULL, &err), KETEN_OK);
	kt_store_close(f->s);
	f->s = NULL;
	assert_int_equal(kt_store_open(f->ledger, false, 0, &s, &err), KETEN_ESTORE);
	assert_null(s);
	assert_non_null(strstr(err.msg, "schema"));
}

static void test_mapsize_env(void **state)
{
	struct fx *f = *state;
	setenv("KETEN_MAPSIZE", "262144", 1);
	open_store(f, 0);
	unsetenv("KETEN_MAPSIZE");
	assert_int_equal(kt_store_mapsize(f->s), 262144);
	kt_store_close(f->s);
	f->s = NULL;
	/* not a number, or too small: the 1 GiB default */
	setenv("KETEN_MAPSIZE", "12abc", 1);
	open_store(f, 0);
	assert_int_equal(kt_store_mapsize(f->s), (size_t)1 << 30);
	kt_store_close(f->s);
	f->s = NULL;
	setenv("KETEN_MAPSIZE", "4096", 1);
	open_store(f, 0);
	unsetenv("KETEN_MAPSIZE");
	assert_int_equal(kt_store_mapsize(f->s), (size_t)1 << 30);
}

/* --- write and read --------------------------------------------------- */

struct kvs {
	int n;
	int fail_at; /* return an error after this many puts; -1: never */
	int calls;
};

static int put_some(keten_txn *t, void *p, keten_error *err)
{
	struct kvs *c = p;
	c->calls++;
	for (int i = 0; i < c->n; i++) {
		char k[16], v[32];
		int rc;
		if (i == c->fail_at)
			return keten_fail(err, KETEN_ERULE, "stop at %d", i);
		snprintf(k, sizeof k, "key%03d", i);
		snprintf(v, sizeof v, "value of %d", i);
		if ((rc = kt_kv_put(t, KT_STATE, k, strlen(k), v, strlen(v) + 1, err)))
			return rc;
	}
	/* a write sees its own puts */
	if (c->n) {
		const void *v;
		size_t n;
		int rc = kt_kv_get(t, KT_STATE, "key000", 6, &v, &n, err);
		if (rc)
			return rc;
		if (strcmp(v, "value of 0") != 0)
			return keten_fail(err, KETEN_EINVAL, "own write not visible");
	}
	return 0;
}

static void test_write_read(void **state)
{
	struct fx *f = *state;
	struct kvs c = {.n = 50, .fail_at = -1};
	keten_error err = {0};
	keten_txn *t;
	const void *v;
	size_t n;

	open_store(f, 0);
	assert_int_equal(kt_store_write(f->s, put_some, &c, &err), KETEN_OK);
	assert_int_equal(c.calls, 1);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_STATE), 50);
	for (int i = 0; i < 50; i++) {
		char k[16], want[32];
		snprintf(k, sizeof k, "key%03d", i);
		snprintf(want, sizeof want, "value of %d", i);
		assert_int_equal(kt_kv_get(t, KT_STATE, k, strlen(k), &v, &n, &err), KETEN_OK);
		assert_int_equal(n, strlen(want) + 1);
		assert_string_equal(v, want);
	}
	assert_int_equal(kt_kv_get(t, KT_STATE, "key050", 6, &v, &n, &err), KETEN_ENOTFOUND);
	/* another table does not see these keys */
	assert_int_equal(kt_kv_get(t, KT_INDEX, "key000", 6, &v, &n, &err), KETEN_ENOTFOUND);
	keten_txn_end(t);

	/* a snapshot does not see a later write */
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	c.n = 60;
	assert_int_equal(kt_store_write(f->s, put_some, &c, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_STATE), 50);
	assert_int_equal(kt_kv_get(t, KT_STATE, "key055", 6, &v, &n, &err), KETEN_ENOTFOUND);
	keten_txn_end(t);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_STATE), 60);
	keten_txn_end(t);
}

static int del_and_fail(keten_txn *t, void *p, keten_error *err)
{
	int rc = kt_kv_del(t, KT_STATE, "key001", 6, err);
	if (rc)
		return rc;
	/* deleting an absent key is not an error */
	if ((rc = kt_kv_del(t, KT_STATE, "absent", 6, err)))
		return rc;
	return *(int *)p ? keten_fail(err, KETEN_EPERM, "no") : 0;
}

static void test_write_error_rolls_back(void **state)
{
	struct fx *f = *state;
	struct kvs c = {.n = 20, .fail_at = 10};
	keten_error err = {0};
	keten_txn *t;
	int fail = 1;

	open_store(f, 0);
	assert_int_equal(kt_store_write(f->s, put_some, &c, &err), KETEN_ERULE);
	assert_int_equal(err.code, KETEN_ERULE);
	assert_string_equal(err.msg, "stop at 10");
	assert_int_equal(c.calls, 1); /* an error is not retried */
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_STATE), 0); /* the ten puts are gone */
	keten_txn_end(t);

	c.fail_at = -1;
	assert_int_equal(kt_store_write(f->s, put_some, &c, &err), KETEN_OK);
	assert_int_equal(kt_store_write(f->s, del_and_fail, &fail, &err), KETEN_EPERM);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_STATE), 20); /* the delete rolled back */
	assert_int_equal(kt_kv_get(t, KT_STATE, "key001", 6, NULL, NULL, &err), KETEN_OK);
	keten_txn_end(t);
	fail = 0;
	assert_int_equal(kt_store_write(f->s, del_and_fail, &fail, &err), KETEN_OK);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_STATE), 19);
	assert_int_equal(kt_kv_get(t, KT_STATE, "key001", 6, NULL, NULL, &err), KETEN_ENOTFOUND);
	keten_txn_end(t);
}

/* --- entries ---------------------------------------------------------- */

struct put_ctx {
	keten_entry *e;
	size_t n;
	keten_status st;
	const char *rule;
};

static int put_entries(keten_txn *t, void *p, keten_error *err)
{
	struct put_ctx *c = p;
	for (size_t i = 0; i < c->n; i++) {
		int rc = kt_store_put_entry(t, &c->e[i], c->st, c->rule, err);
		if (rc)
			return rc;
	}
	return 0;
}

struct status_ctx {
	const uint8_t *id;
	keten_status st;
	const char *rule;
};

static int set_status_fn(keten_txn *t, void *p, keten_error *err)
{
	struct status_ctx *c = p;
	return kt_store_set_status(t, c->id, c->st, c->rule, err);
}

static int by_type_count(const uint8_t *k __attribute__((unused)), size_t kl __attribute__((unused)),
                         const uint8_t *v __attribute__((unused)), size_t vl __attribute__((unused)), void *p)
{
	(*(int *)p)++;
	return 0;
}

static void test_put_entry(void **state)
{
	struct fx *f = *state;
	keten_entry e[3], got;
	keten_error err = {0};
	keten_txn *t;
	uint64_t seq;
	uint8_t id[32], zero[32] = {0};
	char rule[48];
	keten_status st;
	static const uint8_t b[3][8] = {"body one", "body two", "body 333"};

	open_store(f, 0);
	make_entry(f, 1, NULL, KETEN__BODY_TYPE__CLAIM, 1000, b[0], 8, &e[0]);
	make_entry(f, 2, e[0].id, KETEN__BODY_TYPE__PAYMENT, 3000, b[1], 8, &e[1]);
	make_entry(f, 3, e[1].id, KETEN__BODY_TYPE__CLAIM, 2000, b[2], 8, &e[2]);

	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(keten_store_head(t, f->kp.pk, &seq, id, &err), KETEN_OK);
	assert_int_equal(seq, 0);
	assert_memory_equal(id, zero, 32);
	assert_false(keten_store_has_entry(t, e[0].id));
	assert_int_equal(keten_store_get_entry(t, e[0].id, &got, &err), KETEN_ENOTFOUND);
	assert_int_equal(keten_store_feed_id(t, f->kp.pk, 1, id, &err), KETEN_ENOTFOUND);
	assert_int_equal(keten_store_status(t, e[0].id, &st, NULL, 0, &err), KETEN_ENOTFOUND);
	keten_txn_end(t);

	struct put_ctx c = {e, 3, KS_REJECTED, "some-rule"};
	assert_int_equal(kt_store_write(f->s, put_entries, &c, &err), KETEN_OK);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(keten_store_head(t, f->kp.pk, &seq, id, &err), KETEN_OK);
	assert_int_equal(seq, 3);
	assert_memory_equal(id, e[2].id, 32);
	for (int i = 0; i < 3; i++) {
		assert_true(keten_store_has_entry(t, e[i].id));
		assert_int_equal(keten_store_feed_id(t, f->kp.pk, (uint64_t)i + 1, id, &err), KETEN_OK);
		assert_memory_equal(id, e[i].id, 32);
		assert_int_equal(keten_store_get_entry(t, e[i].id, &got, &err), KETEN_OK);
		assert_int_equal(got.raw_len, e[i].raw_len);
		assert_memory_equal(got.raw, e[i].raw, got.raw_len);
		assert_true(got.has_body);
		assert_int_equal(got.seq, (uint64_t)i + 1);
		keten_entry_release(&got);
		assert_int_equal(keten_store_status(t, e[i].id, &st, rule, sizeof rule, &err), KETEN_OK);
		assert_int_equal(st, KS_REJECTED);
		assert_string_equal(rule, "some-rule");
	}
	assert_int_equal(kt_kv_count(t, KT_ENTRIES), 3);
	assert_int_equal(kt_kv_count(t, KT_FEEDS), 3);
	assert_int_equal(kt_kv_count(t, KT_HEADS), 1);
	assert_int_equal(kt_kv_count(t, KT_BY_TYPE), 3);
	assert_int_equal(kt_kv_count(t, KT_TIMELINE), 3);
	/* by_type: type (4 BE) || ts (8 BE) || id; two claims, in time order */
	{
		uint8_t pre[4];
		int n = 0;
		kt_be32(pre, KETEN__BODY_TYPE__CLAIM);
		assert_int_equal(kt_kv_scan(t, KT_BY_TYPE, pre, 4, by_type_count, &n, &err), KETEN_OK);
		assert_int_equal(n, 2);
		uint8_t key[44];
		memcpy(key, pre, 4);
		kt_be64(key + 4, 2000);
		memcpy(key + 12, e[2].id, 32);
		assert_int_equal(kt_kv_get(t, KT_BY_TYPE, key, 44, NULL, NULL, &err), KETEN_OK);
		/* timeline: ts || id */
		assert_int_equal(kt_kv_get(t, KT_TIMELINE, key + 4, 40, NULL, NULL, &err), KETEN_OK);
	}
	/* the layout: log holds author || seq -> id || Entry bytes; the id
	 * index (status) holds status || author || seq || rule; the views
	 * read through them and refuse writes */
	{
		uint8_t key[40];
		const uint8_t *v;
		size_t vl;
		memcpy(key, f->kp.pk, 32);
		kt_be64(key + 32, 2);
		assert_int_equal(kt_kv_get(t, KT_LOG, key, 40, (const void **)&v, &vl, &err), KETEN_OK);
		assert_int_equal(vl, 32 + e[1].raw_len);
		assert_memory_equal(v, e[1].id, 32);
		assert_memory_equal(v + 32, e[1].raw, e[1].raw_len);
		assert_int_equal(kt_kv_get(t, KT_FEEDS, key, 40, (const void **)&v, &vl, &err), KETEN_OK);
		assert_int_equal(vl, 32);
		assert_memory_equal(v, e[1].id, 32);
		assert_int_equal(kt_kv_get(t, KT_ENTRIES, e[1].id, 32, (const void **)&v, &vl, &err), KETEN_OK);
		assert_int_equal(vl, e[1].raw_len);
		assert_memory_equal(v, e[1].raw, vl);
		assert_int_equal(kt_kv_get(t, KT_STATUS, e[1].id, 32, (const void **)&v, &vl, &err), KETEN_OK);
		assert_int_equal(vl, KT_STATUS_RULE + strlen("some-rule"));
		assert_int_equal(v[0], KS_REJECTED);
		assert_memory_equal(v + KT_STATUS_AUTHOR, f->kp.pk, 32);
		assert_int_equal(kt_get_be64(v + KT_STATUS_SEQ), 2);
		assert_memory_equal(v + KT_STATUS_RULE, "some-rule", vl - KT_STATUS_RULE);
		assert_int_equal(kt_kv_count(t, KT_LOG), 3);
		assert_int_equal(kt_kv_count(t, KT_STATUS), 3);
		assert_int_equal(kt_kv_put(t, KT_ENTRIES, e[1].id, 32, "x", 1, &err), KETEN_EINVAL);
		assert_int_equal(kt_kv_del(t, KT_FEEDS, key, 40, &err), KETEN_EINVAL);
	}
	/* a status rule longer than the caller's buffer is cut, NUL-terminated */
	{
		char small[5];
		assert_int_equal(keten_store_status(t, e[0].id, &st, small, sizeof small, &err), KETEN_OK);
		assert_string_equal(small, "some");
	}
	keten_txn_end(t);

	/* the status of a stored entry changes in its record; one that is not
	 * stored has none to change */
	{
		struct status_ctx sc = {e[2].id, KS_APPLIED, NULL};
		assert_int_equal(kt_store_write(f->s, set_status_fn, &sc, &err), KETEN_OK);
		assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
		assert_int_equal(keten_store_status(t, e[2].id, &st, rule, sizeof rule, &err), KETEN_OK);
		assert_int_equal(st, KS_APPLIED);
		assert_string_equal(rule, "");
		assert_int_equal(keten_store_feed_id(t, f->kp.pk, 3, id, &err), KETEN_OK);
		assert_memory_equal(id, e[2].id, 32);
		keten_txn_end(t);
		uint8_t nobody[32] = {1};
		sc.id = nobody;
		assert_int_equal(kt_store_write(f->s, set_status_fn, &sc, &err), KETEN_ENOTFOUND);
		sc = (struct status_ctx){e[2].id, KS_REJECTED, "some-rule"};
		assert_int_equal(kt_store_write(f->s, set_status_fn, &sc, &err), KETEN_OK);
	}

	/* storing an entry again changes nothing (status stays) */
	c.st = KS_APPLIED;
	c.rule = NULL;
	assert_int_equal(kt_store_write(f->s, put_entries, &c, &err), KETEN_OK);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(keten_store_status(t, e[1].id, &st, rule, sizeof rule, &err), KETEN_OK);
	assert_int_equal(st, KS_REJECTED);
	assert_int_equal(kt_kv_count(t, KT_ENTRIES), 3);
	assert_int_equal(kt_kv_count(t, KT_BY_TYPE), 3);
	keten_txn_end(t);
	for (int i = 0; i < 3; i++)
		keten_entry_release(&e[i]);
}

static void test_stub_then_body(void **state)
{
	struct fx *f = *state;
	keten_entry full, stub, got;
	keten_error err = {0};
	keten_txn *t;
	keten_status st;
	uint8_t *sb;
	size_t sl;

	open_store(f, 0);
	make_entry(f, 1, NULL, KETEN__BODY_TYPE__DELIVERY, 5, (const uint8_t *)"the body", 8, &full);
	assert_int_equal(keten_entry_stub_bytes(&full, &sb, &sl), KETEN_OK);
	assert_int_equal(keten_entry_parse(sb, sl, &stub, NULL), KETEN_OK);
	free(sb);

	struct put_ctx c = {&stub, 1, KS_STUB, NULL};
	assert_int_equal(kt_store_write(f->s, put_entries, &c, &err), KETEN_OK);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(keten_store_get_entry(t, full.id, &got, &err), KETEN_OK);
	assert_false(got.has_body);
	keten_entry_release(&got);
	keten_txn_end(t);
	/* the body arrives: same id, now with the body, new status */
	c.e = &full;
	c.st = KS_APPLIED;
	assert_int_equal(kt_store_write(f->s, put_entries, &c, &err), KETEN_OK);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(keten_store_get_entry(t, full.id, &got, &err), KETEN_OK);
	assert_true(got.has_body);
	assert_memory_equal(got.body, "the body", 8);
	keten_entry_release(&got);
	assert_int_equal(keten_store_status(t, full.id, &st, NULL, 0, &err), KETEN_OK);
	assert_int_equal(st, KS_APPLIED);
	assert_int_equal(kt_kv_count(t, KT_FEEDS), 1);
	assert_int_equal(kt_kv_count(t, KT_BY_TYPE), 1);
	keten_txn_end(t);
	/* a stub never replaces a body */
	c.e = &stub;
	c.st = KS_STUB;
	assert_int_equal(kt_store_write(f->s, put_entries, &c, &err), KETEN_OK);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(keten_store_get_entry(t, full.id, &got, &err), KETEN_OK);
	assert_true(got.has_body);
	keten_entry_release(&got);
	assert_int_equal(keten_store_status(t, full.id, &st, NULL, 0, &err), KETEN_OK);
	assert_int_equal(st, KS_APPLIED);
	keten_txn_end(t);
	keten_entry_release(&full);
	keten_entry_release(&stub);
}

/* --- resolve ----------------------------------------------------------- */

struct raw_keys {
	uint8_t (*k)[32];
	size_t n;
};

static int put_raw_keys(keten_txn *t, void *p, keten_error *err)
{
	struct raw_keys *r = p;
	for (size_t i = 0; i < r->n; i++) {
		int rc = kt_kv_put(t, KT_STATUS, r->k[i], 32, "x", 1, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void test_resolve(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_txn *t;
	uint8_t id[32], keys[14][32];
	char hex[65];
	struct raw_keys r = {keys, 14};

	open_store(f, 0);
	/*
	 * Keys set directly in the entries table (resolve looks only at keys):
	 *   0: aabbccdd 00 ..     1: aabbccdd 11 ..     2: aabbccdd 1f ..
	 *   3: aabbccde 00 ..     4..13: 01020304 0i ..  (ten sharing a prefix)
	 */
	memset(keys, 0x5a, sizeof keys);
	static const uint8_t ab[4] = {0xaa, 0xbb, 0xcc, 0xdd};
	memcpy(keys[0], ab, 4);
	keys[0][4] = 0x00;
	memcpy(keys[1], ab, 4);
	keys[1][4] = 0x11;
	memcpy(keys[2], ab, 4);
	keys[2][4] = 0x1f;
	memcpy(keys[3], ab, 4);
	keys[3][3] = 0xde;
	keys[3][4] = 0x00;
	for (int i = 4; i < 14; i++) {
		keys[i][0] = 1;
		keys[i][1] = 2;
		keys[i][2] = 3;
		keys[i][3] = 4;
		keys[i][4] = (uint8_t)i;
	}
	assert_int_equal(kt_store_write(f->s, put_raw_keys, &r, &err), KETEN_OK);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);

	/* unique: full id, and prefixes of 8..64 digits, any case */
	keten_hex(hex, keys[3], 32);
	assert_int_equal(keten_store_resolve(t, hex, id, &err), KETEN_OK);
	assert_memory_equal(id, keys[3], 32);
	assert_int_equal(keten_store_resolve(t, "aabbccde", id, &err), KETEN_OK);
	assert_memory_equal(id, keys[3], 32);
	assert_int_equal(keten_store_resolve(t, "AABBCCDE00", id, &err), KETEN_OK);
	assert_memory_equal(id, keys[3], 32);
	assert_int_equal(keten_store_resolve(t, "aabbccdd00", id, &err), KETEN_OK);
	assert_memory_equal(id, keys[0], 32);
	/* an odd number of digits: the last digit must count too */
	assert_int_equal(keten_store_resolve(t, "aabbccdd0", id, &err), KETEN_OK);
	assert_memory_equal(id, keys[0], 32);
	assert_int_equal(keten_store_resolve(t, "aabbccdd11", id, &err), KETEN_OK);
	assert_memory_equal(id, keys[1], 32);
	assert_int_equal(keten_store_resolve(t, "aabbccdd1f5", id, &err), KETEN_OK);
	assert_memory_equal(id, keys[2], 32);

	/* ambiguous: three share aabbccdd; two share aabbccdd1 */
	memset(&err, 0, sizeof err);
	assert_int_equal(keten_store_resolve(t, "aabbccdd", id, &err), KETEN_EAMBIGUOUS);
	assert_int_equal(err.code, KETEN_EAMBIGUOUS);
	assert_non_null(strstr(err.msg, "aabbccdd00"));
	assert_non_null(strstr(err.msg, "aabbccdd11"));
	assert_non_null(strstr(err.msg, "aabbccdd1f"));
	assert_null(strstr(err.msg, "aabbccde"));
	assert_int_equal(keten_store_resolve(t, "aabbccdd1", id, &err), KETEN_EAMBIGUOUS);
	assert_non_null(strstr(err.msg, "aabbccdd11"));
	assert_non_null(strstr(err.msg, "aabbccdd1f"));
	assert_null(strstr(err.msg, "aabbccdd00"));
	/* ten candidates: eight listed and an ellipsis */
	assert_int_equal(keten_store_resolve(t, "01020304", id, &err), KETEN_EAMBIGUOUS);
	assert_non_null(strstr(err.msg, "0102030404"));
	assert_non_null(strstr(err.msg, "010203040b"));
	assert_null(strstr(err.msg, "010203040c"));
	assert_non_null(strstr(err.msg, "..."));
	assert_int_equal(keten_store_resolve(t, "010203040d", id, &err), KETEN_OK);
	assert_memory_equal(id, keys[13], 32);

	/* not found: before, between and after the stored keys, odd and even */
	assert_int_equal(keten_store_resolve(t, "00000000", id, &err), KETEN_ENOTFOUND);
	assert_int_equal(err.code, KETEN_ENOTFOUND);
	assert_int_equal(keten_store_resolve(t, "aabbccdd2", id, &err), KETEN_ENOTFOUND);
	assert_int_equal(keten_store_resolve(t, "aabbccdd01", id, &err), KETEN_ENOTFOUND);
	assert_int_equal(keten_store_resolve(t, "ffffffff", id, &err), KETEN_ENOTFOUND);
	keten_hex(hex, keys[3], 32);
	hex[63] = hex[63] == '0' ? '1' : '0';
	assert_int_equal(keten_store_resolve(t, hex, id, &err), KETEN_ENOTFOUND);

	/* not hex, too short, too long, NULL */
	assert_int_equal(keten_store_resolve(t, "aabbccdg", id, &err), KETEN_EINVAL);
	assert_int_equal(err.code, KETEN_EINVAL);
	assert_int_equal(keten_store_resolve(t, "aabb ccdd", id, &err), KETEN_EINVAL);
	assert_int_equal(keten_store_resolve(t, "-abbccdd", id, &err), KETEN_EINVAL);
	assert_int_equal(keten_store_resolve(t, "aabbccd", id, &err), KETEN_EINVAL);
	assert_int_equal(keten_store_resolve(t, "", id, &err), KETEN_EINVAL);
	assert_int_equal(keten_store_resolve(t, NULL, id, &err), KETEN_EINVAL);
	{
		char longer[66];
		keten_hex(longer, keys[3], 32);
		longer[64] = '0';
		longer[65] = 0;
		assert_int_equal(keten_store_resolve(t, longer, id, &err), KETEN_EINVAL);
	}
	keten_txn_end(t);
}

/* Real entries: an 8-digit prefix of each resolves to it. */
static void test_resolve_entries(void **state)
{
	struct fx *f = *state;
	keten_entry e[40];
	keten_error err = {0};
	keten_txn *t;
	uint8_t id[32];
	char hex[65];

	open_store(f, 0);
	for (int i = 0; i < 40; i++)
		make_entry(f, (uint64_t)i + 1, i ? e[i - 1].id : NULL, KETEN__BODY_TYPE__CLAIM, i, (const uint8_t *)&i,
		           sizeof i, &e[i]);
	struct put_ctx c = {e, 40, KS_APPLIED, NULL};
	assert_int_equal(kt_store_write(f->s, put_entries, &c, &err), KETEN_OK);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	for (int i = 0; i < 40; i++) {
		keten_hex(hex, e[i].id, 32);
		hex[8 + i % 5] = 0; /* 8 to 12 digits */
		assert_int_equal(keten_store_resolve(t, hex, id, &err), KETEN_OK);
		assert_memory_equal(id, e[i].id, 32);
	}
	keten_txn_end(t);
	for (int i = 0; i < 40; i++)
		keten_entry_release(&e[i]);
}

/* --- map growth -------------------------------------------------------- */

struct grow_ctx {
	keten_entry *e;
	size_t from, to;
	int calls;
};

static int put_range(keten_txn *t, void *p, keten_error *err)
{
	struct grow_ctx *c = p;
	c->calls++;
	for (size_t i = c->from; i < c->to; i++) {
		int rc = kt_store_put_entry(t, &c->e[i], KS_APPLIED, NULL, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void test_map_growth(void **state)
{
	struct fx *f = *state;
	enum { N = 3000, BODY = 8000, BATCH = 400 }; /* about 22 MB of entries */
	keten_entry *e = calloc(N, sizeof *e);
	uint8_t *body = malloc(BODY);
	keten_error err = {0};
	keten_txn *t;
	size_t total = 0;
	int calls = 0, batches = 0;

	assert_non_null(e);
	assert_non_null(body);
	for (size_t i = 0; i < N; i++) {
		size_t bl = i % 10 == 0 ? 40 : BODY; /* some small ones among them */
		for (size_t j = 0; j < bl; j++)
			body[j] = (uint8_t)(i * 31 + j);
		make_entry(f, i + 1, i ? e[i - 1].id : NULL, KETEN__BODY_TYPE__DELIVERY, (int64_t)i, body, bl, &e[i]);
		total += e[i].raw_len;
	}
	assert_true(total > 20u * 1000 * 1000);

	open_store(f, 256 * 1024);
	assert_int_equal(kt_store_mapsize(f->s), 256 * 1024);
	for (size_t from = 0; from < N; from += BATCH) {
		struct grow_ctx c = {e, from, from + BATCH < N ? from + BATCH : N, 0};
		assert_int_equal(kt_store_write(f->s, put_range, &c, &err), KETEN_OK);
		calls += c.calls;
		batches++;
	}
	/* it grew, by doubling, and the work was redone on the way */
	size_t map = kt_store_mapsize(f->s);
	assert_true(map >= total);
	assert_true(map > 256 * 1024);
	assert_int_equal(map % (256 * 1024), 0);
	assert_int_equal(map & (map - 1), 0);
	assert_true(calls > batches);

	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_ENTRIES), N);
	for (size_t i = 0; i < N; i++) {
		keten_entry got;
		uint8_t id[32];
		assert_int_equal(keten_store_get_entry(t, e[i].id, &got, &err), KETEN_OK);
		assert_int_equal(got.raw_len, e[i].raw_len);
		assert_memory_equal(got.raw, e[i].raw, got.raw_len);
		keten_entry_release(&got);
		assert_int_equal(keten_store_feed_id(t, f->kp.pk, i + 1, id, &err), KETEN_OK);
		assert_memory_equal(id, e[i].id, 32);
	}
	{
		uint64_t seq;
		assert_int_equal(keten_store_head(t, f->kp.pk, &seq, NULL, &err), KETEN_OK);
		assert_int_equal(seq, N);
	}
	keten_txn_end(t);

	/* reopened with a small map, the store adopts the size the file has */
	kt_store_close(f->s);
	f->s = NULL;
	open_store(f, 256 * 1024);
	assert_true(kt_store_mapsize(f->s) >= total);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_ENTRIES), N);
	keten_txn_end(t);

	for (size_t i = 0; i < N; i++)
		keten_entry_release(&e[i]);
	free(e);
	free(body);
}

/* One transaction bigger than the initial map also commits. */
static void test_map_growth_one_txn(void **state)
{
	struct fx *f = *state;
	enum { N = 300, BODY = 10000 };
	keten_entry *e = calloc(N, sizeof *e);
	uint8_t *body = calloc(1, BODY);
	keten_error err = {0};
	keten_txn *t;

	assert_non_null(e);
	assert_non_null(body);
	for (size_t i = 0; i < N; i++) {
		memcpy(body, &i, sizeof i);
		make_entry(f, i + 1, i ? e[i - 1].id : NULL, KETEN__BODY_TYPE__DELIVERY, 1, body, BODY, &e[i]);
	}
	open_store(f, 256 * 1024);
	struct grow_ctx c = {e, 0, N, 0};
	assert_int_equal(kt_store_write(f->s, put_range, &c, &err), KETEN_OK);
	assert_true(c.calls > 1);
	assert_true(kt_store_mapsize(f->s) >= (size_t)N * BODY);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_ENTRIES), N);
	assert_int_equal(kt_kv_count(t, KT_FEEDS), N);
	keten_txn_end(t);
	for (size_t i = 0; i < N; i++)
		keten_entry_release(&e[i]);
	free(e);
	free(body);
}

/* Readers on several threads while another thread's writes grow the map:
 * every snapshot a reader takes holds exactly the entries of the batches
 * committed before it, byte for byte, and readers overlap. */
enum { GR_N = 1200, GR_BODY = 8000, GR_BATCH = 100, GR_READERS = 4 };

struct grow_readers {
	struct fx *f;
	keten_entry *e;
	atomic_bool done;
	atomic_int open, most_open; /* read transactions open at once */
	atomic_long snapshots, during_growth;
	size_t map0;
};

static void *reader_thread(void *p)
{
	struct grow_readers *g = p;
	keten_error err = {0};
	unsigned k = 0;
	while (!atomic_load(&g->done)) {
		keten_txn *t;
		keten_entry got;
		size_t n;
		int now;
		if (keten_store_read(g->f->s, &t, &err) != KETEN_OK)
			fail_msg("read: %s", err.msg);
		now = atomic_fetch_add(&g->open, 1) + 1;
		for (int m = atomic_load(&g->most_open);
		     now > m && !atomic_compare_exchange_weak(&g->most_open, &m, now);)
			;
		n = kt_kv_count(t, KT_ENTRIES);
		if (n % GR_BATCH != 0 || n > GR_N)
			fail_msg("a snapshot holds %zu entries: not whole batches", n);
		/* the first, the last and one more entry of the snapshot, whole */
		for (size_t j = 0; n && j < 3; j++) {
			size_t i = j == 0 ? 0 : j == 1 ? n - 1 : (k++ * 7919u) % n;
			if (keten_store_get_entry(t, g->e[i].id, &got, &err) != KETEN_OK)
				fail_msg("entry %zu of %zu: %s", i, n, err.msg);
			if (got.raw_len != g->e[i].raw_len || memcmp(got.raw, g->e[i].raw, got.raw_len) != 0)
				fail_msg("entry %zu differs from what was written", i);
			keten_entry_release(&got);
		}
		if (kt_store_mapsize(g->f->s) > g->map0)
			atomic_fetch_add(&g->during_growth, 1);
		atomic_fetch_sub(&g->open, 1);
		keten_txn_end(t);
		atomic_fetch_add(&g->snapshots, 1);
	}
	return NULL;
}

static void test_map_growth_readers(void **state)
{
	struct fx *f = *state;
	struct grow_readers g = {.f = f};
	uint8_t *body = malloc(GR_BODY);
	pthread_t th[GR_READERS];
	keten_error err = {0};
	int calls = 0, batches = 0;

	g.e = calloc(GR_N, sizeof *g.e);
	assert_non_null(g.e);
	assert_non_null(body);
	for (size_t i = 0; i < GR_N; i++) {
		for (size_t j = 0; j < GR_BODY; j++)
			body[j] = (uint8_t)(i * 17 + j);
		make_entry(f, i + 1, i ? g.e[i - 1].id : NULL, KETEN__BODY_TYPE__DELIVERY, (int64_t)i, body, GR_BODY,
		           &g.e[i]);
	}
	open_store(f, 256 * 1024);
	g.map0 = kt_store_mapsize(f->s);
	for (int i = 0; i < GR_READERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &g), 0);
	for (size_t from = 0; from < GR_N; from += GR_BATCH) {
		struct grow_ctx c = {g.e, from, from + GR_BATCH, 0};
		assert_int_equal(kt_store_write(f->s, put_range, &c, &err), KETEN_OK);
		calls += c.calls;
		batches++;
		usleep(2000); /* let the readers take snapshots between batches */
	}
	atomic_store(&g.done, true);
	for (int i = 0; i < GR_READERS; i++)
		pthread_join(th[i], NULL);
	/* the map grew several times under the readers, which ran at once */
	assert_true(kt_store_mapsize(f->s) >= 8 * g.map0);
	assert_true(calls > batches);
	assert_true(atomic_load(&g.snapshots) > GR_N / GR_BATCH);
	assert_true(atomic_load(&g.during_growth) > 0);
	assert_true(atomic_load(&g.most_open) >= 2);
	for (size_t i = 0; i < GR_N; i++)
		keten_entry_release(&g.e[i]);
	free(g.e);
	free(body);
}

/* A thread that holds a read transaction cannot grow the map (it would
 * wait for itself): the write fails and leaves the store as it was. */
static void test_map_growth_refused_to_reader(void **state)
{
	struct fx *f = *state;
	enum { N = 60, BODY = 10000 };
	keten_entry e[N];
	uint8_t body[BODY] = {0};
	keten_error err = {0};
	keten_txn *t;

	for (size_t i = 0; i < N; i++) {
		memcpy(body, &i, sizeof i);
		make_entry(f, i + 1, i ? e[i - 1].id : NULL, KETEN__BODY_TYPE__DELIVERY, 1, body, BODY, &e[i]);
	}
	open_store(f, 256 * 1024);
	struct grow_ctx c = {e, 0, N, 0};
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_store_write(f->s, put_range, &c, &err), KETEN_ESTORE);
	assert_non_null(strstr(err.msg, "holds a transaction"));
	assert_int_equal(kt_store_mapsize(f->s), 256 * 1024);
	assert_int_equal(kt_kv_count(t, KT_ENTRIES), 0);
	keten_txn_end(t);
	/* without it, the same write grows the map and commits */
	assert_int_equal(kt_store_write(f->s, put_range, &c, &err), KETEN_OK);
	assert_true(kt_store_mapsize(f->s) > 256 * 1024);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_ENTRIES), N);
	keten_txn_end(t);
	for (size_t i = 0; i < N; i++)
		keten_entry_release(&e[i]);
}

/* --- scans ------------------------------------------------------------- */

struct seen {
	char keys[32][80];
	size_t klen[32];
	int n;
	int stop_after; /* 0: never */
	int ret;        /* returned when stopping */
};

static int seen_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct seen *s = p;
	assert_true(s->n < 32);
	assert_true(kl < 80);
	memcpy(s->keys[s->n], k, kl);
	s->klen[s->n] = kl;
	/* each value is its key followed by "=v" */
	assert_int_equal(vl, kl + 2);
	assert_memory_equal(v, k, kl);
	s->n++;
	return s->stop_after && s->n >= s->stop_after ? s->ret : 0;
}

/* The keys of the scan tests (with their lengths: one holds a zero byte). */
static const struct {
	const char *k;
	size_t n;
} scan_keys[] = {
	{"a", 1},         {"a\x01", 2}, {"ab", 2},  {"abc", 3}, {"abd", 3},  {"ac", 2},   {"a\xff", 2},
	{"a\xff\xff", 3}, {"b", 1},     {"b\0", 2}, {"ba", 2},  {"\x01", 1}, {"\xff", 1},
};

static int put_scan_keys(keten_txn *t, void *p __attribute__((unused)), keten_error *err)
{
	uint8_t k[80], v[82];
	size_t n;
	int rc;
	for (size_t i = 0; i < sizeof scan_keys / sizeof *scan_keys; i++) {
		n = scan_keys[i].n;
		memcpy(k, scan_keys[i].k, n);
		memcpy(v, k, n);
		memcpy(v + n, "=v", 2);
		if ((rc = kt_kv_put(t, KT_INDEX, k, n, v, n + 2, err)))
			return rc;
	}
	/* "a" followed by seventy 0xff bytes: above any 64-byte 0xff padding */
	memset(k, 0xff, 71);
	k[0] = 'a';
	memcpy(v, k, 71);
	memcpy(v + 71, "=v", 2);
	if ((rc = kt_kv_put(t, KT_INDEX, k, 71, v, 73, err)))
		return rc;
	/* and a key in another table, which scans of this one must not see */
	return kt_kv_put(t, KT_STATE, "aa", 2, "aa=v", 4, err);
}

static void expect(const struct seen *s, int i, const void *key, size_t klen)
{
	assert_true(i < s->n);
	assert_int_equal(s->klen[i], klen);
	assert_memory_equal(s->keys[i], key, klen);
}

static void test_scan(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_txn *t;
	struct seen s;
	uint8_t a70[71];

	memset(a70, 0xff, sizeof a70);
	a70[0] = 'a';
	open_store(f, 0);
	assert_int_equal(kt_store_write(f->s, put_scan_keys, NULL, &err), KETEN_OK);
	assert_int_equal(keten_store_read(f->s, &t, &err), KETEN_OK);
	assert_int_equal(kt_kv_count(t, KT_INDEX), 14);

	/* prefix "a", forward: a, a\1, ab, abc, abd, ac, a\xff, a\xff\xff, a\xff*70 */
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan(t, KT_INDEX, "a", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 9);
	expect(&s, 0, "a", 1);
	expect(&s, 1, "a\x01", 2);
	expect(&s, 2, "ab", 2);
	expect(&s, 3, "abc", 3);
	expect(&s, 4, "abd", 3);
	expect(&s, 5, "ac", 2);
	expect(&s, 6, "a\xff", 2);
	expect(&s, 7, "a\xff\xff", 3);
	expect(&s, 8, a70, 71);

	/* the same, reverse */
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, "a", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 9);
	expect(&s, 0, a70, 71);
	expect(&s, 1, "a\xff\xff", 3);
	expect(&s, 2, "a\xff", 2);
	expect(&s, 3, "ac", 2);
	expect(&s, 4, "abd", 3);
	expect(&s, 5, "abc", 3);
	expect(&s, 6, "ab", 2);
	expect(&s, 7, "a\x01", 2);
	expect(&s, 8, "a", 1);

	/* prefix "ab", both ways */
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan(t, KT_INDEX, "ab", 2, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 3);
	expect(&s, 0, "ab", 2);
	expect(&s, 1, "abc", 3);
	expect(&s, 2, "abd", 3);
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, "ab", 2, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 3);
	expect(&s, 0, "abd", 3);
	expect(&s, 1, "abc", 3);
	expect(&s, 2, "ab", 2);

	/* prefix "b": b, b\0, ba — the last keys of the table */
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, "b", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 3);
	expect(&s, 0, "ba", 2);
	expect(&s, 1, "b\0", 2);
	expect(&s, 2, "b", 1);
	/* prefix 0xff: the very last key; and one longer than any key */
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, "\xff", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 1);
	expect(&s, 0, "\xff", 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan(t, KT_INDEX, "\xff", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 1);

	/* prefixes that match nothing: between keys, before all, after all */
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan(t, KT_INDEX, "aa", 2, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, "aa", 2, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(kt_kv_scan(t, KT_INDEX, "\x00", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, "\x00", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, "c", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(kt_kv_scan(t, KT_INDEX, "c", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, "abcd", 4, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 0);

	/* no prefix: all, first to last and last to first */
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan(t, KT_INDEX, NULL, 0, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 14);
	expect(&s, 0, "\x01", 1);
	expect(&s, 1, "a", 1);
	expect(&s, 13, "\xff", 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, NULL, 0, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 14);
	expect(&s, 0, "\xff", 1);
	expect(&s, 1, "ba", 2);
	expect(&s, 13, "\x01", 1);

	/* stopping: > 0 ends the scan with success, < 0 with an error */
	memset(&s, 0, sizeof s);
	s.stop_after = 2;
	s.ret = 1;
	assert_int_equal(kt_kv_scan(t, KT_INDEX, "a", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof s);
	s.stop_after = 3;
	s.ret = 1;
	assert_int_equal(kt_kv_scan_reverse(t, KT_INDEX, "a", 1, seen_cb, &s, &err), KETEN_OK);
	assert_int_equal(s.n, 3);
	expect(&s, 2, "a\xff", 2);
	memset(&s, 0, sizeof s);
	memset(&err, 0, sizeof err);
	s.stop_after = 1;
	s.ret = -1;
	assert_int_equal(kt_kv_scan(t, KT_INDEX, "a", 1, seen_cb, &s, &err), KETEN_EINVAL);
	assert_int_equal(s.n, 1);
	keten_txn_end(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mapsize_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stub_then_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_growth_one_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_growth_readers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_growth_refused_to_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
	};
	unsetenv("KETEN_MAPSIZE");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
