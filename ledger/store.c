/*
 * store.c — the LMDB environment: tables, transactions, feeds and the
 * map that grows when full.  The only file that includes <lmdb.h>.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "keten/keten.h"

static const char *const table_names[KT_COUNT] = {
	[KT_ENTRIES] = "entries", [KT_FEEDS] = "feeds",     [KT_HEADS] = "heads",
	[KT_BY_TYPE] = "by_type", [KT_TIMELINE] = "timeline", [KT_REFS] = "refs",
	[KT_STATUS] = "status",   [KT_PENDING] = "pending", [KT_FORKS] = "forks",
	[KT_TRUST] = "trust",     [KT_META] = "meta",       [KT_PARTIES] = "parties",
	[KT_STATE] = "state",     [KT_INDEX] = "index",
};

struct keten_store {
	MDB_env *env;
	MDB_dbi dbi[KT_COUNT];
	size_t mapsize;
};

struct keten_txn {
	keten_store *s;
	MDB_txn *txn;
	int map_full;      /* a put hit MDB_MAP_FULL: the txn must be redone */
};

void keten_be64(uint8_t o[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		o[i] = (uint8_t)v;
}

uint64_t keten_get_be64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

void keten_be32(uint8_t o[4], uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		o[i] = (uint8_t)v;
}

uint32_t keten_get_be32(const uint8_t in[4])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

static keten_err lmdb_fail(keten_error *err, int rc, const char *what)
{
	keten_fail(err, KETEN_ESTORE, "ledger store: %s: %s", what, mdb_strerror(rc));
	if (err)
		err->sys = rc;
	return KETEN_ESTORE;
}

static size_t default_mapsize(void)
{
	const char *e = getenv("KETEN_MAPSIZE");
	if (e && *e) {
		char *end;
		unsigned long long v = strtoull(e, &end, 10);
		if (*end == 0 && v >= 65536)
			return (size_t)v;
	}
	return (size_t)1 << 30;
}

int keten_store_open(const char *dir, bool create, size_t map_bytes, keten_store **out,
                     keten_error *err)
{
	keten_store *s;
	MDB_txn *txn = NULL;
	char path[PATH_MAX];
	struct stat st;
	int rc, dead;

	*out = NULL;
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	if (!create && stat(path, &st) != 0)
		return keten_fail(err, KETEN_ENOTFOUND, "no ledger in '%s'", dir);
	if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
		keten_fail(err, KETEN_EIO, "cannot create '%s': %s", dir, strerror(errno));
		if (err)
			err->sys = errno;
		return KETEN_EIO;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	s->mapsize = map_bytes ? map_bytes : default_mapsize();
	if ((rc = mdb_env_create(&s->env)) ||
	    (rc = mdb_env_set_maxdbs(s->env, KT_COUNT + 2)) ||
	    (rc = mdb_env_set_maxreaders(s->env, 254)) ||
	    (rc = mdb_env_set_mapsize(s->env, s->mapsize))) {
		lmdb_fail(err, rc, "setting up");
		goto fail;
	}
	/* MDB_NOTLS: read transactions are not tied to threads (verify's
	 * workers each hold one). */
	if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600))) {
		lmdb_fail(err, rc, "opening");
		goto fail;
	}
	/* Clear reader slots left by processes that died. */
	mdb_reader_check(s->env, &dead);
	{
		MDB_envinfo info;
		if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > s->mapsize)
			s->mapsize = info.me_mapsize;
	}
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn))) {
		lmdb_fail(err, rc, "starting");
		goto fail;
	}
	for (int i = 0; i < KT_COUNT; i++) {
		if ((rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &s->dbi[i]))) {
			lmdb_fail(err, rc, table_names[i]);
			goto fail;
		}
	}
	{
		MDB_val k = {6, "schema"}, v;
		uint8_t ver[4];
		rc = mdb_get(txn, s->dbi[KT_META], &k, &v);
		if (rc == MDB_NOTFOUND) {
			keten_be32(ver, KETEN_SCHEMA_VERSION);
			v.mv_data = ver;
			v.mv_size = 4;
			rc = mdb_put(txn, s->dbi[KT_META], &k, &v, 0);
		} else if (rc == 0 && (v.mv_size != 4 || keten_get_be32(v.mv_data) != KETEN_SCHEMA_VERSION)) {
			keten_fail(err, KETEN_ESTORE, "ledger in '%s' has an unknown schema version", dir);
			goto fail;
		}
		if (rc) {
			lmdb_fail(err, rc, "schema");
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn))) {
		txn = NULL;
		lmdb_fail(err, rc, "committing");
		goto fail;
	}
	*out = s;
	return KETEN_OK;
fail:
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(s->env);
	free(s);
	return err ? err->code : KETEN_ESTORE;
}

void keten_store_close(keten_store *s)
{
	if (!s)
		return;
	mdb_env_close(s->env);
	free(s);
}

size_t keten_store_mapsize(keten_store *s)
{
	return s->mapsize;
}

/* Begin a transaction, adopting a map that another process grew. */
static int begin(keten_store *s, unsigned flags, MDB_txn **txn, keten_error *err)
{
	int rc = mdb_txn_begin(s->env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED) {
		MDB_envinfo info;
		mdb_env_set_mapsize(s->env, 0);
		if (mdb_env_info(s->env, &info) == 0)
			s->mapsize = info.me_mapsize;
		rc = mdb_txn_begin(s->env, NULL, flags, txn);
	}
	return rc ? lmdb_fail(err, rc, "starting a transaction") : KETEN_OK;
}

int keten_store_write(keten_store *s, keten_write_fn fn, void *ctx, keten_error *err)
{
	for (int attempt = 0; attempt < 24; attempt++) {
		keten_txn t = {.s = s};
		int rc = begin(s, 0, &t.txn, err);
		if (rc)
			return rc;
		rc = fn(&t, ctx, err);
		if (rc == 0 && !t.map_full) {
			rc = mdb_txn_commit(t.txn);
			if (rc == 0)
				return KETEN_OK;
			if (rc != MDB_MAP_FULL)
				return lmdb_fail(err, rc, "committing");
		} else {
			mdb_txn_abort(t.txn);
			if (!t.map_full)
				return rc;
		}
		/* Map full: no transaction of ours is open now; double and redo. */
		if (s->mapsize > SIZE_MAX / 2)
			return lmdb_fail(err, MDB_MAP_FULL, "growing the map");
		rc = mdb_env_set_mapsize(s->env, s->mapsize * 2);
		if (rc)
			return lmdb_fail(err, rc, "growing the map");
		s->mapsize *= 2;
		keten_error_clear(err);
	}
	return lmdb_fail(err, MDB_MAP_FULL, "growing the map");
}

int keten_store_read(keten_store *s, keten_txn **out, keten_error *err)
{
	keten_txn *t = calloc(1, sizeof *t);
	int rc;

	*out = NULL;
	if (!t)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	t->s = s;
	rc = begin(s, MDB_RDONLY, &t->txn, err);
	if (rc) {
		free(t);
		return rc;
	}
	*out = t;
	return KETEN_OK;
}

void keten_txn_end(keten_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

keten_store *keten_txn_store(keten_txn *t)
{
	return t->s;
}

int keten_kv_get(keten_txn *t, keten_table tab, const void *key, size_t klen,
                 const void **val, size_t *vlen, keten_error *err)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(t->txn, t->s->dbi[tab], &k, &v);
	if (rc == MDB_NOTFOUND)
		return KETEN_ENOTFOUND;
	if (rc)
		return lmdb_fail(err, rc, table_names[tab]);
	if (val)
		*val = v.mv_data;
	if (vlen)
		*vlen = v.mv_size;
	return KETEN_OK;
}

int keten_kv_put(keten_txn *t, keten_table tab, const void *key, size_t klen,
                 const void *val, size_t vlen, keten_error *err)
{
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	int rc = mdb_put(t->txn, t->s->dbi[tab], &k, &v, 0);
	if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
		t->map_full = 1;
	return rc ? lmdb_fail(err, rc, table_names[tab]) : KETEN_OK;
}

int keten_kv_del(keten_txn *t, keten_table tab, const void *key, size_t klen, keten_error *err)
{
	MDB_val k = {klen, (void *)key};
	int rc = mdb_del(t->txn, t->s->dbi[tab], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return KETEN_OK;
	if (rc == MDB_MAP_FULL)
		t->map_full = 1;
	return rc ? lmdb_fail(err, rc, table_names[tab]) : KETEN_OK;
}

static int scan(keten_txn *t, keten_table tab, const void *prefix, size_t plen,
                keten_scan_fn fn, void *ctx, bool reverse, keten_error *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->s->dbi[tab], &c);
	int res = 0;

	if (rc)
		return lmdb_fail(err, rc, table_names[tab]);
	if (!reverse) {
		k.mv_size = plen;
		k.mv_data = (void *)prefix;
		rc = plen ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &v, MDB_FIRST);
	} else if (plen == 0) {
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	} else {
		/* Position just before the first key above the prefix range: the
		 * prefix's successor (trailing 0xff bytes dropped, last byte + 1).
		 * Padding the prefix with 0xff bytes instead would miss longer keys. */
		uint8_t hi[512];
		size_t hl = plen;
		if (plen > sizeof hi) {
			mdb_cursor_close(c);
			return keten_fail(err, KETEN_EINVAL, "scan prefix too long");
		}
		memcpy(hi, prefix, plen);
		while (hl > 0 && hi[hl - 1] == 0xff)
			hl--;
		if (hl == 0) {
			rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
		} else {
			hi[hl - 1]++;
			k.mv_size = hl;
			k.mv_data = hi;
			rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
			if (rc == MDB_NOTFOUND)
				rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
			else if (rc == 0)
				rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
		}
	}
	while (rc == 0) {
		/* forward it starts at the first key >= prefix, reverse at the last
		 * key below the successor: the first key without the prefix ends it */
		if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		res = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, ctx);
		if (res)
			break;
		rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return lmdb_fail(err, rc, table_names[tab]);
	if (res < 0)
		return (err && err->code) ? err->code : keten_fail(err, KETEN_EINVAL, "scan stopped");
	return KETEN_OK;
}

int keten_kv_scan(keten_txn *t, keten_table tab, const void *prefix, size_t plen,
                  keten_scan_fn fn, void *ctx, keten_error *err)
{
	return scan(t, tab, prefix, plen, fn, ctx, false, err);
}

int keten_kv_scan_reverse(keten_txn *t, keten_table tab, const void *prefix, size_t plen,
                          keten_scan_fn fn, void *ctx, keten_error *err)
{
	return scan(t, tab, prefix, plen, fn, ctx, true, err);
}

size_t keten_kv_count(keten_txn *t, keten_table tab)
{
	MDB_stat st;
	return mdb_stat(t->txn, t->s->dbi[tab], &st) == 0 ? st.ms_entries : 0;
}

/* Entries --------------------------------------------------------------- */

int keten_store_put_entry(keten_txn *t, const keten_entry *e, keten_status st,
                          const char *rule, keten_error *err)
{
	uint8_t key[48], head[40];
	const void *old;
	size_t old_len;
	int rc;

	rc = keten_kv_get(t, KT_ENTRIES, e->id, 32, &old, &old_len, err);
	if (rc == KETEN_OK) {
		keten_entry prev;
		bool had_body;
		if (keten_entry_parse(old, old_len, &prev, NULL) != KETEN_OK)
			return keten_fail(err, KETEN_ESTORE, "stored entry is damaged");
		had_body = prev.has_body;
		keten_entry_release(&prev);
		if (had_body || !e->has_body)
			return KETEN_OK;
		/* A stub gets its body: same id, same header. */
		if ((rc = keten_kv_put(t, KT_ENTRIES, e->id, 32, e->raw, e->raw_len, err)))
			return rc;
		return keten_store_set_status(t, e->id, st, rule, err);
	}
	if (rc != KETEN_ENOTFOUND)
		return rc;
	if ((rc = keten_kv_put(t, KT_ENTRIES, e->id, 32, e->raw, e->raw_len, err)))
		return rc;
	memcpy(key, e->author, 32);
	keten_be64(key + 32, e->seq);
	if ((rc = keten_kv_put(t, KT_FEEDS, key, 40, e->id, 32, err)))
		return rc;
	keten_be64(head, e->seq);
	memcpy(head + 8, e->id, 32);
	if ((rc = keten_kv_put(t, KT_HEADS, e->author, 32, head, 40, err)))
		return rc;
	keten_be32(key, e->body_type);
	keten_be64(key + 4, (uint64_t)e->timestamp_ms);
	memcpy(key + 12, e->id, 32);
	if ((rc = keten_kv_put(t, KT_BY_TYPE, key, 44, "", 0, err)))
		return rc;
	if ((rc = keten_kv_put(t, KT_TIMELINE, key + 4, 40, "", 0, err)))
		return rc;
	return keten_store_set_status(t, e->id, st, rule, err);
}

int keten_store_put_ref(keten_txn *t, const uint8_t to[32], const uint8_t from[32],
                        keten_error *err)
{
	uint8_t key[64];
	memcpy(key, to, 32);
	memcpy(key + 32, from, 32);
	return keten_kv_put(t, KT_REFS, key, 64, "", 0, err);
}

int keten_store_get_entry(keten_txn *t, const uint8_t id[32], keten_entry *out, keten_error *err)
{
	const void *v;
	size_t n;
	int rc = keten_kv_get(t, KT_ENTRIES, id, 32, &v, &n, err);
	memset(out, 0, sizeof *out);
	if (rc == KETEN_ENOTFOUND) {
		char hex[65];
		keten_hex(hex, id, 32);
		return keten_fail(err, rc, "no entry '%s'", hex);
	}
	if (rc)
		return rc;
	return keten_entry_parse(v, n, out, err);
}

bool keten_store_has_entry(keten_txn *t, const uint8_t id[32])
{
	return keten_kv_get(t, KT_ENTRIES, id, 32, NULL, NULL, NULL) == KETEN_OK;
}

int keten_store_head(keten_txn *t, const uint8_t author[32], uint64_t *seq, uint8_t id[32],
                     keten_error *err)
{
	const void *v;
	size_t n;
	int rc = keten_kv_get(t, KT_HEADS, author, 32, &v, &n, err);
	if (rc == KETEN_ENOTFOUND) {
		*seq = 0;
		if (id)
			memset(id, 0, 32);
		return KETEN_OK;
	}
	if (rc)
		return rc;
	if (n != 40)
		return keten_fail(err, KETEN_ESTORE, "ledger store: damaged head record");
	*seq = keten_get_be64(v);
	if (id)
		memcpy(id, (const uint8_t *)v + 8, 32);
	return KETEN_OK;
}

int keten_store_feed_id(keten_txn *t, const uint8_t author[32], uint64_t seq, uint8_t id[32],
                        keten_error *err)
{
	uint8_t key[40];
	const void *v;
	size_t n;
	int rc;
	memcpy(key, author, 32);
	keten_be64(key + 32, seq);
	rc = keten_kv_get(t, KT_FEEDS, key, 40, &v, &n, err);
	if (rc)
		return rc;
	if (n != 32)
		return keten_fail(err, KETEN_ESTORE, "ledger store: damaged feed record");
	memcpy(id, v, 32);
	return KETEN_OK;
}

int keten_store_status(keten_txn *t, const uint8_t id[32], keten_status *st, char *rule,
                       size_t rule_len, keten_error *err)
{
	const void *v;
	size_t n;
	int rc = keten_kv_get(t, KT_STATUS, id, 32, &v, &n, err);
	if (rc)
		return rc;
	if (n < 1)
		return keten_fail(err, KETEN_ESTORE, "ledger store: damaged status record");
	*st = ((const uint8_t *)v)[0];
	if (rule && rule_len) {
		size_t k = n - 1 < rule_len - 1 ? n - 1 : rule_len - 1;
		memcpy(rule, (const uint8_t *)v + 1, k);
		rule[k] = 0;
	}
	return KETEN_OK;
}

int keten_store_set_status(keten_txn *t, const uint8_t id[32], keten_status st,
                           const char *rule, keten_error *err)
{
	uint8_t v[64];
	size_t n = rule ? strlen(rule) : 0;
	if (n > sizeof v - 1)
		n = sizeof v - 1;
	v[0] = (uint8_t)st;
	if (n)
		memcpy(v + 1, rule, n);
	return keten_kv_put(t, KT_STATUS, id, 32, v, n + 1, err);
}

struct resolve_ctx {
	const char *hex;
	size_t len;
	int found;
	uint8_t id[32];
	char list[300];
};

static int resolve_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct resolve_ctx *c = p;
	char hex[65];
	if (kl != 32)
		return 0;
	keten_hex(hex, k, 32);
	/* With an odd digit count the scan's byte prefix is one digit short:
	 * keys below the last digit come first and are skipped, not an end. */
	int cmp = strncmp(hex, c->hex, c->len);
	if (cmp < 0)
		return 0;
	if (cmp > 0)
		return 1;
	if (c->found++ == 0)
		memcpy(c->id, k, 32);
	if (c->found <= 8) {
		size_t used = strlen(c->list);
		snprintf(c->list + used, sizeof c->list - used, "%s%.16s", used ? ", " : "", hex);
	}
	return 0;
}

int keten_store_resolve(keten_txn *t, const char *hex, uint8_t id[32], keten_error *err)
{
	struct resolve_ctx c = {0};
	uint8_t prefix[32];
	char low[65];
	size_t n = hex ? strlen(hex) : 0;
	int rc;

	if (n < KETEN_MIN_PREFIX || n > 64)
		return keten_fail(err, KETEN_EINVAL, "id '%s' needs %u to 64 hex digits", hex ? hex : "",
		                  KETEN_MIN_PREFIX);
	for (size_t i = 0; i < n; i++) {
		char ch = hex[i];
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return keten_fail(err, KETEN_EINVAL, "id '%s' is not hex", hex);
		low[i] = ch;
	}
	low[n] = 0;
	/* The byte prefix covers the even number of digits; the scan filters the rest. */
	for (size_t i = 0; i < n / 2; i++) {
		char b[3] = {low[2 * i], low[2 * i + 1], 0};
		prefix[i] = (uint8_t)strtoul(b, NULL, 16);
	}
	c.hex = low;
	c.len = n;
	rc = keten_kv_scan(t, KT_ENTRIES, prefix, n / 2, resolve_cb, &c, err);
	if (rc)
		return rc;
	if (c.found == 0)
		return keten_fail(err, KETEN_ENOTFOUND, "no entry with id '%s'", low);
	if (c.found > 1)
		return keten_fail(err, KETEN_EAMBIGUOUS, "id '%s' is ambiguous: %s%s", low, c.list,
		                  c.found > 8 ? ", ..." : "");
	memcpy(id, c.id, 32);
	return KETEN_OK;
}
