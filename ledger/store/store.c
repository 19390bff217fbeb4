/*
 * store.c — the LMDB environment: tables, transactions, feeds and the
 * map that grows when full.  The only file that includes <lmdb.h>.
 *
 * The map gate.  LMDB lets mdb_env_set_mapsize run only while no
 * transaction of this process is open on the environment (it remaps the
 * file under every reader's pointers).  Every transaction, read or write,
 * therefore holds the store's gate shared for as long as it is open, so
 * readers on any number of threads run at once; growing the map (a full
 * map here, or one another process grew) holds it alone.  A thread that
 * waits to grow keeps new transactions out until it is done, except on
 * threads that already hold one (a read opened inside another), so the
 * growth cannot starve and nesting cannot deadlock.  No caller of the
 * store needs a lock of its own for this.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <lmdb.h>

#include "keten/keten.h"
#include "base/base.h"
#include "store/kv.h"

static const char *const table_names[KT_COUNT] = {
	[KT_ENTRIES] = "entries",   [KT_FEEDS] = "feeds", [KT_HEADS] = "heads",   [KT_BY_TYPE] = "by_type",
	[KT_TIMELINE] = "timeline", [KT_REFS] = "refs",   [KT_STATUS] = "status", [KT_PENDING] = "pending",
	[KT_FORKS] = "forks",       [KT_TRUST] = "trust", [KT_META] = "meta",     [KT_PARTIES] = "parties",
	[KT_STATE] = "state",       [KT_INDEX] = "index", [KT_LOG] = "log",
};

/* The views: no LMDB table of their own (see store.h). */
static bool is_view(kt_table tab)
{
	return tab == KT_ENTRIES || tab == KT_FEEDS;
}

/* A status record: status byte || author (32) || seq (8 BE) || rule. */
#define ST_AUTHOR KT_STATUS_AUTHOR
#define ST_RULE   KT_STATUS_RULE
#define RULE_MAX  62u
#define MAX_KEY   511u /* LMDB's key size limit (mdb_env_get_maxkeysize) */

struct keten_store {
	MDB_env *env;
	MDB_dbi dbi[KT_COUNT];
	size_t mapsize; /* under mu */
	/* the map gate (above) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned open;    /* transactions open, read and write */
	unsigned growers; /* threads waiting to grow the map */
	bool growing;
};

struct keten_txn {
	keten_store *s;
	MDB_txn *txn;
	bool write;
	int map_full; /* a put hit MDB_MAP_FULL: the txn must be redone */
};

/* A valid table of an open transaction (of the write kind for writes). */
#define TXN_OK(t, tab)    ((t) && (t)->txn && (unsigned)(tab) < KT_COUNT)
#define WRITE_OK(t, tab)  (TXN_OK(t, tab) && (t)->write)
#define KEY_OK(key, klen) ((key) && (klen) >= 1 && (klen) <= MAX_KEY)

void kt_be64(uint8_t o[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		o[i] = (uint8_t)v;
}

uint64_t kt_get_be64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

void kt_be32(uint8_t o[4], uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		o[i] = (uint8_t)v;
}

uint32_t kt_get_be32(const uint8_t in[4])
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

/* Free bytes under which an EIO from a commit is taken for a full disk. */
#define LOW_SPACE (1u << 20)

/*
 * A commit (or a map that cannot grow) that failed.  A full file system
 * is said in words: ENOSPC or a quota, MDB_MAP_FULL, or EIO, which LMDB
 * returns for a short write, when the file system of the store has less
 * than LOW_SPACE left.  LMDB wrote no meta page, so the store is as it
 * was before the transaction.
 */
static keten_err commit_fail(keten_store *s, int rc, keten_error *err)
{
	const char *dir = NULL;
	struct statvfs fs;
	bool full = rc == ENOSPC || rc == EDQUOT || rc == EFBIG || rc == MDB_MAP_FULL;

	if (mdb_env_get_path(s->env, &dir) != 0 || !dir)
		dir = "";
	if (!full && rc == EIO && *dir && statvfs(dir, &fs) == 0)
		full = (unsigned long long)fs.f_bavail * fs.f_frsize < LOW_SPACE;
	if (!full)
		return lmdb_fail(err, rc, "committing");
	keten_fail(err, KETEN_ESTORE,
	           "ledger store in '%s': no space left on device (%s); nothing of this command was stored: "
	           "free space there or move the home to a larger file system, then run it again",
	           dir,
	           rc == MDB_MAP_FULL     ? "the map cannot grow"
	                   : rc == EIO    ? "a write fell short on a full file system"
	                   : rc == EDQUOT ? "the disk quota is used up"
	                   : rc == EFBIG  ? "the file is at its size limit"
	                                  : "the file system is full");
	if (err)
		err->sys = ENOSPC;
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

/* The map gate ------------------------------------------------------------ */

/* Transactions of each store this thread holds open, to let a thread
 * that holds one open another while a grower waits (a read inside a
 * read), and to refuse growing under one of its own.  A slot with n == 0
 * is free; a thread that uses more stores at once than there are slots
 * is never held back by a waiting grower on the others. */
#define HELD_SLOTS 8

static _Thread_local struct held {
	const keten_store *s;
	unsigned n;
} held[HELD_SLOTS];

static struct held *held_slot(const keten_store *s)
{
	struct held *free_slot = NULL;
	for (size_t i = 0; i < HELD_SLOTS; i++) {
		if (held[i].n && held[i].s == s)
			return &held[i];
		if (!held[i].n && !free_slot)
			free_slot = &held[i];
	}
	if (free_slot)
		free_slot->s = s;
	return free_slot;
}

/* Enter the gate shared, for one transaction. */
static void gate_enter(keten_store *s)
{
	struct held *h = held_slot(s);
	bool holds = !h || h->n > 0;
	pthread_mutex_lock(&s->mu);
	while (s->growing || (s->growers && !holds))
		pthread_cond_wait(&s->cv, &s->mu);
	KETEN_ASSERT(!s->growing && s->open < UINT_MAX);
	s->open++;
	pthread_mutex_unlock(&s->mu);
	if (h)
		h->n++;
}

static void gate_leave(keten_store *s)
{
	struct held *h = held_slot(s);
	pthread_mutex_lock(&s->mu);
	KETEN_ASSERT(s->open > 0 && !s->growing);
	if (--s->open == 0 && s->growers)
		pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (h && h->n)
		h->n--;
}

/*
 * Grow the map alone: to twice `seen` (the size the caller's full
 * transaction had; when another thread grew it since, nothing more), or
 * with seen 0 to the size another process gave the file.  The caller
 * holds no transaction of its own now; one of this thread still open
 * elsewhere would wait on itself, so that is refused.
 */
static int gate_grow(keten_store *s, size_t seen, keten_error *err)
{
	struct held *h = held_slot(s);
	int rc = 0;

	if (h && h->n)
		return keten_fail(
			err, KETEN_ESTORE,
			"ledger store: the map is full and cannot grow while this thread holds a transaction");
	pthread_mutex_lock(&s->mu);
	s->growers++;
	while (s->open || s->growing)
		pthread_cond_wait(&s->cv, &s->mu);
	KETEN_ASSERT(s->growers > 0 && s->open == 0);
	s->growers--;
	s->growing = true;
	pthread_mutex_unlock(&s->mu);
	/* Alone: no transaction of this process is open on the environment,
	 * and only this thread changes mapsize. */
	size_t size = s->mapsize;
	if (seen == 0) {
		MDB_envinfo info;
		rc = mdb_env_set_mapsize(s->env, 0);
		if (rc == 0 && mdb_env_info(s->env, &info) == 0)
			size = info.me_mapsize;
	} else if (s->mapsize == seen) {
		rc = seen > SIZE_MAX / 2 ? MDB_MAP_FULL : mdb_env_set_mapsize(s->env, seen * 2);
		if (rc == 0)
			size = seen * 2;
	}
	pthread_mutex_lock(&s->mu);
	s->mapsize = size;
	s->growing = false;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return rc ? lmdb_fail(err, rc, "growing the map") : KETEN_OK;
}

static size_t mapsize_now(keten_store *s)
{
	size_t n;
	pthread_mutex_lock(&s->mu);
	n = s->mapsize;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Open and schema ------------------------------------------------------------ */

/* The environment with its limits, opened on dir. */
static int open_env(keten_store *s, const char *dir, keten_error *err)
{
	MDB_envinfo info;
	int rc, dead;
	if ((rc = mdb_env_create(&s->env)))
		return lmdb_fail(err, rc, "setting up");
	if ((rc = mdb_env_set_maxdbs(s->env, KT_COUNT + 2)) || (rc = mdb_env_set_maxreaders(s->env, 254)) ||
	    (rc = mdb_env_set_mapsize(s->env, s->mapsize)))
		return lmdb_fail(err, rc, "setting up");
	KETEN_ASSERT(mdb_env_get_maxkeysize(s->env) >= (int)MAX_KEY);
	/* MDB_NOTLS: read transactions are not tied to threads (one may be
	 * used by worker threads while it is open). */
	if ((rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600)))
		return lmdb_fail(err, rc, "opening");
	/* Clear reader slots left by processes that died. */
	mdb_reader_check(s->env, &dead);
	if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > s->mapsize)
		s->mapsize = info.me_mapsize;
	return KETEN_OK;
}

/* Open every table, and record the schema version or check it. */
static int open_tables(keten_store *s, MDB_txn *txn, const char *dir, keten_error *err)
{
	MDB_val k = {6, "schema"}, v;
	uint8_t ver[4];
	int rc;

	KETEN_ASSERT(s->env && txn);
	for (int i = 0; i < KT_COUNT; i++) {
		if (is_view(i))
			continue;
		if ((rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &s->dbi[i])))
			return lmdb_fail(err, rc, table_names[i]);
	}
	/* feeds reads log's records; entries is served by entry_get/scan_entries */
	s->dbi[KT_FEEDS] = s->dbi[KT_ENTRIES] = s->dbi[KT_LOG];
	rc = mdb_get(txn, s->dbi[KT_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		kt_be32(ver, KT_SCHEMA_VERSION);
		v.mv_data = ver;
		v.mv_size = 4;
		rc = mdb_put(txn, s->dbi[KT_META], &k, &v, 0);
	} else if (rc == 0 && (v.mv_size != 4 || kt_get_be32(v.mv_data) != KT_SCHEMA_VERSION)) {
		return keten_fail(err, KETEN_ESTORE, "ledger in '%s' has an unknown schema version", dir);
	}
	return rc ? lmdb_fail(err, rc, "schema") : KETEN_OK;
}

int kt_store_open(const char *dir, bool create, size_t map_bytes, keten_store **out, keten_error *err)
{
	keten_store *s;
	MDB_txn *txn = NULL;
	char path[PATH_MAX];
	struct stat st;
	int rc;

	KETEN_ASSERT(dir && out);
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
	if (pthread_mutex_init(&s->mu, NULL) || pthread_cond_init(&s->cv, NULL)) {
		free(s);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	if ((rc = open_env(s, dir, err)))
		goto fail;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn))) {
		rc = lmdb_fail(err, rc, "starting");
		goto fail;
	}
	if ((rc = open_tables(s, txn, dir, err)))
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc) {
		rc = commit_fail(s, rc, err);
		goto fail;
	}
	*out = s;
	return KETEN_OK;
fail:
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(s->env);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return rc;
}

void kt_store_close(keten_store *s)
{
	if (!s)
		return;
	/* No transaction may be open (store.h); a read a caller left open on
	 * its way out is not worth an abort at exit, so this is not asserted. */
	mdb_env_close(s->env);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

size_t kt_store_mapsize(keten_store *s)
{
	return mapsize_now(s);
}

/* Transactions ------------------------------------------------------------ */

/*
 * Begin a transaction inside the gate (left again on failure); *seen is
 * the map size it runs with.  A map that another process grew is adopted
 * first, alone.
 */
static int begin(keten_store *s, bool write, MDB_txn **txn, size_t *seen, keten_error *err)
{
	int rc = MDB_MAP_RESIZED;
	KETEN_ASSERT(s && s->env && txn && seen);
	for (int attempt = 0; attempt < 4 && rc == MDB_MAP_RESIZED; attempt++) {
		gate_enter(s);
		*seen = mapsize_now(s);
		rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, txn);
		if (rc == 0)
			return KETEN_OK;
		gate_leave(s);
		if (rc == MDB_MAP_RESIZED && gate_grow(s, 0, err))
			return err ? err->code : KETEN_ESTORE;
	}
	return lmdb_fail(err, rc, "starting a transaction");
}

/* One attempt of a write: 1 when the map was full (nothing committed). */
static int write_once(keten_store *s, kt_write_fn fn, void *ctx, size_t *seen, keten_error *err)
{
	keten_txn t = {.s = s, .write = true};
	int rc = begin(s, true, &t.txn, seen, err);
	if (rc)
		return rc;
	KETEN_ASSERT(t.txn && *seen > 0);
	rc = fn(&t, ctx, err);
	if (rc == 0 && !t.map_full) {
		rc = mdb_txn_commit(t.txn);
		gate_leave(s);
		if (rc == 0)
			return KETEN_OK;
		return rc == MDB_MAP_FULL ? -1 : (int)commit_fail(s, rc, err);
	}
	mdb_txn_abort(t.txn);
	gate_leave(s);
	return t.map_full ? -1 : rc;
}

int kt_store_write(keten_store *s, kt_write_fn fn, void *ctx, keten_error *err)
{
	KETEN_ASSERT(s && fn);
	for (int attempt = 0; attempt < 24; attempt++) {
		size_t seen = 0;
		int rc = write_once(s, fn, ctx, &seen, err);
		if (rc >= 0)
			return rc;
		/* Map full: no transaction of ours is open now; double and redo. */
		if ((rc = gate_grow(s, seen, err)))
			return rc;
		keten_error_clear(err);
	}
	return commit_fail(s, MDB_MAP_FULL, err);
}

int keten_store_read(keten_store *s, keten_txn **out, keten_error *err)
{
	keten_txn *t = calloc(1, sizeof *t);
	size_t seen;
	int rc;

	KETEN_ASSERT(s && out);
	*out = NULL;
	if (!t)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	t->s = s;
	rc = begin(s, false, &t->txn, &seen, err);
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
	KETEN_ASSERT(t->txn && !t->write); /* a write ends in kt_store_write */
	mdb_txn_abort(t->txn);
	gate_leave(t->s);
	free(t);
}

keten_store *keten_txn_store(keten_txn *t)
{
	KETEN_ASSERT(t);
	return t->s;
}

/* Tables ------------------------------------------------------------------ */

/* The log record (id || Entry bytes) of the entry with this id, through
 * its status record; MDB_NOTFOUND when either is missing or too short. */
static int log_of_id(keten_txn *t, const uint8_t id[32], MDB_val *rec)
{
	MDB_val k = {32, (void *)id}, v;
	int rc;
	KETEN_ASSERT(TXN_OK(t, KT_STATUS) && id);
	rc = mdb_get(t->txn, t->s->dbi[KT_STATUS], &k, &v);
	if (rc)
		return rc;
	if (v.mv_size < ST_RULE)
		return MDB_NOTFOUND;
	k.mv_size = 40;
	k.mv_data = (uint8_t *)v.mv_data + ST_AUTHOR;
	rc = mdb_get(t->txn, t->s->dbi[KT_LOG], &k, rec);
	if (rc == 0 && rec->mv_size < 32)
		rc = MDB_NOTFOUND;
	return rc;
}

int kt_kv_get(keten_txn *t, kt_table tab, const void *key, size_t klen, const void **val, size_t *vlen,
              keten_error *err)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc;
	KETEN_ASSERT(TXN_OK(t, tab) && KEY_OK(key, klen));
	if (tab == KT_ENTRIES) {
		rc = klen == 32 ? log_of_id(t, key, &v) : MDB_NOTFOUND;
		if (rc == 0) {
			v.mv_data = (uint8_t *)v.mv_data + 32;
			v.mv_size -= 32;
		}
	} else {
		rc = mdb_get(t->txn, t->s->dbi[tab], &k, &v);
		if (rc == 0 && tab == KT_FEEDS) {
			if (v.mv_size < 32)
				return keten_fail(err, KETEN_ESTORE, "ledger store: damaged log record");
			v.mv_size = 32;
		}
	}
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

static int put(keten_txn *t, kt_table tab, MDB_val *k, MDB_val *v, unsigned flags, keten_error *err)
{
	int rc;
	KETEN_ASSERT(WRITE_OK(t, tab) && !is_view(tab) && KEY_OK(k->mv_data, k->mv_size));
	rc = mdb_put(t->txn, t->s->dbi[tab], k, v, flags);
	if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
		t->map_full = 1;
	return rc ? lmdb_fail(err, rc, table_names[tab]) : KETEN_OK;
}

int kt_kv_put(keten_txn *t, kt_table tab, const void *key, size_t klen, const void *val, size_t vlen, keten_error *err)
{
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	KETEN_ASSERT(TXN_OK(t, tab) && KEY_OK(key, klen) && (val || vlen == 0));
	if (is_view(tab))
		return keten_fail(err, KETEN_EINVAL, "ledger store: '%s' is read-only", table_names[tab]);
	return put(t, tab, &k, &v, 0, err);
}

int kt_kv_del(keten_txn *t, kt_table tab, const void *key, size_t klen, keten_error *err)
{
	MDB_val k = {klen, (void *)key};
	int rc;
	KETEN_ASSERT(TXN_OK(t, tab) && KEY_OK(key, klen));
	if (is_view(tab))
		return keten_fail(err, KETEN_EINVAL, "ledger store: '%s' is read-only", table_names[tab]);
	KETEN_ASSERT(t->write);
	rc = mdb_del(t->txn, t->s->dbi[tab], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return KETEN_OK;
	if (rc == MDB_MAP_FULL)
		t->map_full = 1;
	return rc ? lmdb_fail(err, rc, table_names[tab]) : KETEN_OK;
}

static int scan(keten_txn *t, kt_table tab, const void *prefix, size_t plen, kt_scan_fn fn, void *ctx, bool reverse,
                keten_error *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc, res = 0;

	KETEN_ASSERT(TXN_OK(t, tab) && fn && (prefix || plen == 0));
	/* entries is walked in id order through the status table */
	rc = mdb_cursor_open(t->txn, t->s->dbi[tab == KT_ENTRIES ? KT_STATUS : tab], &c);
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
		if (tab == KT_FEEDS && v.mv_size >= 32)
			v.mv_size = 32;
		if (tab == KT_ENTRIES) {
			MDB_val rec;
			/* a status record without its log record is no entry: skipped */
			if (k.mv_size == 32 && log_of_id(t, k.mv_data, &rec) == 0)
				res = fn(k.mv_data, 32, (uint8_t *)rec.mv_data + 32, rec.mv_size - 32, ctx);
		} else {
			res = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, ctx);
		}
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

int kt_kv_scan(keten_txn *t, kt_table tab, const void *prefix, size_t plen, kt_scan_fn fn, void *ctx, keten_error *err)
{
	return scan(t, tab, prefix, plen, fn, ctx, false, err);
}

int kt_kv_scan_reverse(keten_txn *t, kt_table tab, const void *prefix, size_t plen, kt_scan_fn fn, void *ctx,
                       keten_error *err)
{
	return scan(t, tab, prefix, plen, fn, ctx, true, err);
}

size_t kt_kv_count(keten_txn *t, kt_table tab)
{
	MDB_stat st;
	MDB_dbi dbi;
	KETEN_ASSERT(TXN_OK(t, tab));
	dbi = t->s->dbi[tab == KT_ENTRIES ? KT_STATUS : tab];
	return mdb_stat(t->txn, dbi, &st) == 0 ? st.ms_entries : 0;
}

/* Entries --------------------------------------------------------------- */

/* Length of e's stub: the Entry framing of its header and signature
 * alone (tag, varint length, bytes; tag, length 64, signature). */
static size_t stub_len(const keten_entry *e)
{
	size_t n = e->header_len, k = 1;
	KETEN_ASSERT(e->header_len > 0);
	while (n >= 0x80) {
		n >>= 7;
		k++;
	}
	return 1 + k + e->header_len + 2 + KETEN_SIG_BYTES;
}

/*
 * log: author || seq -> id || Entry bytes, written in place (MDB_RESERVE)
 * rather than assembled in a buffer first.  A new entry that sorts after
 * every stored key (the greatest author's next entry) is added with
 * MDB_APPEND, which fills pages instead of splitting them in half; any
 * other key is refused with MDB_KEYEXIST and inserted the usual way.
 */
static int put_log(keten_txn *t, const uint8_t loc[40], const keten_entry *e, bool fresh, keten_error *err)
{
	MDB_val k = {40, (void *)loc}, v = {32 + e->raw_len, NULL};
	int rc;
	KETEN_ASSERT(e->raw && e->raw_len > 0 && e->raw_len <= KETEN_MAX_ENTRY_BYTES);
	rc = fresh ? put(t, KT_LOG, &k, &v, MDB_RESERVE | MDB_APPEND, NULL) : KETEN_ESTORE;
	if (rc && !t->map_full)
		rc = put(t, KT_LOG, &k, &v, MDB_RESERVE, err);
	else if (rc)
		rc = lmdb_fail(err, MDB_MAP_FULL, table_names[KT_LOG]);
	if (rc)
		return rc;
	memcpy(v.mv_data, e->id, 32);
	memcpy((uint8_t *)v.mv_data + 32, e->raw, e->raw_len);
	return KETEN_OK;
}

/* status: id -> status byte || author || seq || rule. */
static int put_status(keten_txn *t, const uint8_t id[32], keten_status st, const uint8_t loc[40], const char *rule,
                      keten_error *err)
{
	uint8_t buf[ST_RULE + RULE_MAX];
	size_t n = rule ? strnlen(rule, RULE_MAX) : 0;
	MDB_val k = {32, (void *)id}, v = {ST_RULE + n, buf};
	KETEN_ASSERT(st >= KS_APPLIED && st <= KS_STUB);
	buf[0] = (uint8_t)st;
	memcpy(buf + ST_AUTHOR, loc, 40);
	if (n)
		memcpy(buf + ST_RULE, rule, n);
	return put(t, KT_STATUS, &k, &v, 0, err);
}

int kt_store_put_entry(keten_txn *t, const keten_entry *e, keten_status st, const char *rule, keten_error *err)
{
	MDB_val k = {32, (void *)e->id}, v;
	uint8_t loc[40], key[44], head[40];
	int rc;

	KETEN_ASSERT(WRITE_OK(t, KT_STATUS) && e && e->seq >= 1);
	rc = mdb_get(t->txn, t->s->dbi[KT_STATUS], &k, &v);
	if (rc == 0) {
		MDB_val lk, lv;
		if (v.mv_size < ST_RULE)
			return keten_fail(err, KETEN_ESTORE, "ledger store: damaged status record");
		if (!e->has_body)
			return KETEN_OK;
		memcpy(loc, (const uint8_t *)v.mv_data + ST_AUTHOR, 40);
		lk.mv_size = 40;
		lk.mv_data = loc;
		rc = mdb_get(t->txn, t->s->dbi[KT_LOG], &lk, &lv);
		if (rc == MDB_NOTFOUND || (rc == 0 && lv.mv_size < 32))
			return keten_fail(err, KETEN_ESTORE, "stored entry is damaged");
		if (rc)
			return lmdb_fail(err, rc, table_names[KT_LOG]);
		/* Same id, so the same header and signature: what is stored is
		 * a stub exactly when it is no longer than e's stub framing. */
		if (lv.mv_size - 32 > stub_len(e))
			return KETEN_OK;
		/* A stub gets its body. */
		if ((rc = put_log(t, loc, e, false, err)))
			return rc;
		return put_status(t, e->id, st, loc, rule, err);
	}
	if (rc != MDB_NOTFOUND)
		return lmdb_fail(err, rc, table_names[KT_STATUS]);
	memcpy(loc, e->author, 32);
	kt_be64(loc + 32, e->seq);
	if ((rc = put_log(t, loc, e, true, err)))
		return rc;
	kt_be64(head, e->seq);
	memcpy(head + 8, e->id, 32);
	if ((rc = kt_kv_put(t, KT_HEADS, e->author, 32, head, 40, err)))
		return rc;
	kt_be32(key, e->body_type);
	kt_be64(key + 4, (uint64_t)e->timestamp_ms);
	memcpy(key + 12, e->id, 32);
	if ((rc = kt_kv_put(t, KT_BY_TYPE, key, 44, "", 0, err)))
		return rc;
	if ((rc = kt_kv_put(t, KT_TIMELINE, key + 4, 40, "", 0, err)))
		return rc;
	return put_status(t, e->id, st, loc, rule, err);
}

int kt_store_put_ref(keten_txn *t, const uint8_t to[32], const uint8_t from[32], keten_error *err)
{
	uint8_t key[64];
	KETEN_ASSERT(WRITE_OK(t, KT_REFS) && to && from);
	memcpy(key, to, 32);
	memcpy(key + 32, from, 32);
	return kt_kv_put(t, KT_REFS, key, 64, "", 0, err);
}

int keten_store_get_entry(keten_txn *t, const uint8_t id[32], keten_entry *out, keten_error *err)
{
	MDB_val rec;
	int rc;
	KETEN_ASSERT(out);
	rc = log_of_id(t, id, &rec);
	memset(out, 0, offsetof(keten_entry, audience)); /* as keten_entry_parse clears it */
	if (rc == MDB_NOTFOUND) {
		char hex[65];
		keten_hex(hex, id, 32);
		return keten_fail(err, KETEN_ENOTFOUND, "no entry '%s'", hex);
	}
	if (rc)
		return lmdb_fail(err, rc, table_names[KT_LOG]);
	return keten_entry_parse((const uint8_t *)rec.mv_data + 32, rec.mv_size - 32, out, err);
}

bool keten_store_has_entry(keten_txn *t, const uint8_t id[32])
{
	return kt_kv_get(t, KT_STATUS, id, 32, NULL, NULL, NULL) == KETEN_OK;
}

int keten_store_head(keten_txn *t, const uint8_t author[32], uint64_t *seq, uint8_t id[32], keten_error *err)
{
	const void *v;
	size_t n;
	int rc;
	KETEN_ASSERT(seq);
	rc = kt_kv_get(t, KT_HEADS, author, 32, &v, &n, err);
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
	*seq = kt_get_be64(v);
	if (id)
		memcpy(id, (const uint8_t *)v + 8, 32);
	return KETEN_OK;
}

int keten_store_feed_id(keten_txn *t, const uint8_t author[32], uint64_t seq, uint8_t id[32], keten_error *err)
{
	uint8_t key[40];
	const void *v;
	size_t n;
	int rc;
	KETEN_ASSERT(author && id);
	memcpy(key, author, 32);
	kt_be64(key + 32, seq);
	rc = kt_kv_get(t, KT_LOG, key, 40, &v, &n, err);
	if (rc)
		return rc;
	if (n < 32)
		return keten_fail(err, KETEN_ESTORE, "ledger store: damaged log record");
	memcpy(id, v, 32);
	return KETEN_OK;
}

int keten_store_status(keten_txn *t, const uint8_t id[32], keten_status *st, char *rule, size_t rule_len,
                       keten_error *err)
{
	const void *v;
	size_t n;
	int rc;
	KETEN_ASSERT(st && id);
	rc = kt_kv_get(t, KT_STATUS, id, 32, &v, &n, err);
	if (rc)
		return rc;
	if (n < ST_RULE)
		return keten_fail(err, KETEN_ESTORE, "ledger store: damaged status record");
	*st = ((const uint8_t *)v)[0];
	if (rule && rule_len) {
		size_t k = n - ST_RULE < rule_len - 1 ? n - ST_RULE : rule_len - 1;
		memcpy(rule, (const uint8_t *)v + ST_RULE, k);
		rule[k] = 0;
	}
	return KETEN_OK;
}

/*
 * The record keeps its author and seq; only the status and rule change.
 * One cursor search, and LMDB overwrites in place when the size is
 * unchanged (a pending entry that is applied): the second status write of
 * a received entry costs no page of its own.
 */
int kt_store_set_status(keten_txn *t, const uint8_t id[32], keten_status st, const char *rule, keten_error *err)
{
	uint8_t buf[ST_RULE + RULE_MAX];
	size_t n = rule ? strnlen(rule, RULE_MAX) : 0;
	MDB_val k = {32, (void *)id}, v;
	MDB_cursor *c;
	int rc;

	KETEN_ASSERT(WRITE_OK(t, KT_STATUS) && id && st >= KS_APPLIED && st <= KS_STUB);
	rc = mdb_cursor_open(t->txn, t->s->dbi[KT_STATUS], &c);
	if (rc)
		return lmdb_fail(err, rc, table_names[KT_STATUS]);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
	if (rc == 0 && v.mv_size >= ST_RULE) {
		buf[0] = (uint8_t)st;
		memcpy(buf + ST_AUTHOR, (const uint8_t *)v.mv_data + ST_AUTHOR, 40);
		if (n)
			memcpy(buf + ST_RULE, rule, n);
		/* MDB_SET_KEY left k pointing into the page: use the caller's id.
		 * In place only at the same size; a record that changes size (a
		 * rule added or dropped) goes through mdb_put, which may split
		 * or merge the page. */
		k.mv_data = (void *)id;
		if (v.mv_size == ST_RULE + n) {
			v.mv_data = buf;
			rc = mdb_cursor_put(c, &k, &v, MDB_CURRENT);
			mdb_cursor_close(c);
		} else {
			mdb_cursor_close(c);
			v.mv_data = buf;
			v.mv_size = ST_RULE + n;
			rc = mdb_put(t->txn, t->s->dbi[KT_STATUS], &k, &v, 0);
		}
		if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
			t->map_full = 1;
		return rc ? lmdb_fail(err, rc, table_names[KT_STATUS]) : KETEN_OK;
	}
	mdb_cursor_close(c);
	if (rc == 0)
		return keten_fail(err, KETEN_ESTORE, "ledger store: damaged status record");
	if (rc == MDB_NOTFOUND) {
		char hex[65];
		keten_hex(hex, id, 32);
		return keten_fail(err, KETEN_ENOTFOUND, "no entry '%s' to set the status of", hex);
	}
	return lmdb_fail(err, rc, table_names[KT_STATUS]);
}

struct resolve_ctx {
	const char *hex;
	size_t len;
	int found;
	uint8_t id[32];
	char list[300];
};

static int resolve_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct resolve_ctx *c = p;
	char hex[65];
	KETEN_ASSERT(c->len >= KETEN_MIN_PREFIX && c->len <= 64);
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

	KETEN_ASSERT(id);
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
	rc = kt_kv_scan(t, KT_STATUS, prefix, n / 2, resolve_cb, &c, err);
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
