/*
 * ledger.c — a node's home and the single path by which entries enter
 * the store: local appends (sign, check, apply, store — or refuse and
 * store nothing) and received entries (authenticate runs by their hash
 * chain and one signature, store, then apply or park as pending).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "rules/rules.h"
#include "proto/keten.pb-c.h"
#include "base/base.h"

struct pipeline;

struct keten_ledger {
	char dir[PATH_MAX];
	keten_store *store;
	keten_keypair kp;
	bool unlocked;
	keten_home_info info;
	struct pipeline *pipe; /* the signer's ring, kept between appends */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Home info lives in the meta table as one record of NUL-separated fields. */
static int save_info(keten_txn *t, const keten_home_info *in, keten_error *err)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "%s%c%s%c%s%c%s", in->name, 0, in->role, 0, in->agb, 0, in->municipality);
	int rc = keten_kv_put(t, KT_META, "self.info", 9, buf, (size_t)n + 1, err);
	return rc ? rc : keten_kv_put(t, KT_META, "self.key", 8, in->key, 32, err);
}

static int load_info(keten_txn *t, keten_home_info *out, keten_error *err)
{
	const void *v;
	size_t n;
	const char *f[4] = {0};
	int rc = keten_kv_get(t, KT_META, "self.info", 9, &v, &n, err);
	if (rc)
		return rc == KETEN_ENOTFOUND ? keten_fail(err, KETEN_ESTORE, "home has no identity record")
					     : (keten_err)rc;
	const char *p = v, *end = p + n;
	for (int i = 0; i < 4 && p < end; i++) {
		f[i] = p;
		p += strnlen(p, (size_t)(end - p)) + 1;
	}
	if (!f[3])
		return keten_fail(err, KETEN_ESTORE, "home identity record is damaged");
	snprintf(out->name, sizeof out->name, "%s", f[0]);
	snprintf(out->role, sizeof out->role, "%s", f[1]);
	snprintf(out->agb, sizeof out->agb, "%s", f[2]);
	snprintf(out->municipality, sizeof out->municipality, "%s", f[3]);
	rc = keten_kv_get(t, KT_META, "self.key", 8, &v, &n, err);
	if (rc || n != 32)
		return keten_fail(err, KETEN_ESTORE, "home key record is damaged");
	memcpy(out->key, v, 32);
	return KETEN_OK;
}

/* mkdir -p: the home and any missing parents (0700). */
static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int info_fn(keten_txn *t, void *ctx, keten_error *err)
{
	return save_info(t, ctx, err);
}

int keten_home_create(const char *dir, const char *passphrase, const keten_home_info *info, keten_error *err)
{
	char path[PATH_MAX];
	keten_home_info in = *info;
	keten_keypair kp = {0};
	keten_store *s = NULL;
	struct stat st;
	int rc;

	if ((rc = keten_init_crypto()))
		return keten_fail(err, rc, NULL);
	snprintf(path, sizeof path, "%s/key", dir);
	if (stat(path, &st) == 0)
		return keten_fail(err, KETEN_EEXIST, "'%s' already holds a keten home", dir);
	if (mkdir_p(dir) != 0) {
		rc = keten_fail(err, KETEN_EIO, "cannot create '%s': %s", dir, strerror(errno));
		if (err)
			err->sys = errno;
		return rc;
	}
	if ((rc = keten_keystore_create(path, passphrase, &kp, err)))
		return rc;
	memcpy(in.key, kp.pk, 32);
	keten_keypair_release(&kp);
	snprintf(path, sizeof path, "%s/ledger", dir);
	if ((rc = keten_store_open(path, true, 0, &s, err)))
		return rc;
	rc = keten_store_write(s, info_fn, &in, err);
	keten_store_close(s);
	return rc;
}

int keten_ledger_open(const char *dir, keten_ledger **out, keten_error *err)
{
	keten_ledger *L;
	keten_txn *t = NULL;
	char path[PATH_MAX];
	int rc;

	*out = NULL;
	if ((rc = keten_init_crypto()))
		return keten_fail(err, rc, NULL);
	L = calloc(1, sizeof *L);
	if (!L)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	snprintf(L->dir, sizeof L->dir, "%s", dir);
	snprintf(path, sizeof path, "%s/ledger", dir);
	rc = keten_store_open(path, false, 0, &L->store, err);
	if (rc == KETEN_ENOTFOUND)
		keten_fail(err, rc, "no keten home in '%s' (run 'keten init')", dir);
	if (rc)
		goto fail;
	if ((rc = keten_store_read(L->store, &t, err)))
		goto fail;
	rc = load_info(t, &L->info, err);
	keten_txn_end(t);
	if (rc)
		goto fail;
	snprintf(path, sizeof path, "%s/key", dir);
	{
		uint8_t pk[32];
		if (keten_keystore_peek(path, pk, &L->info.unprotected, NULL) == 0 &&
		    memcmp(pk, L->info.key, 32) != 0) {
			rc = keten_fail(err, KETEN_ESTORE, "key file of '%s' does not match its ledger", dir);
			goto fail;
		}
	}
	*out = L;
	return KETEN_OK;
fail:
	keten_store_close(L->store);
	free(L);
	return rc;
}

void keten_ledger_close(keten_ledger *L)
{
	if (!L)
		return;
	keten_keypair_release(&L->kp);
	keten_store_close(L->store);
	free(L->pipe);
	free(L);
}

keten_store *keten_ledger_store(keten_ledger *L)
{
	return L->store;
}
const keten_home_info *keten_ledger_info(keten_ledger *L)
{
	return &L->info;
}
const char *keten_ledger_dir(keten_ledger *L)
{
	return L->dir;
}
bool keten_ledger_unlocked(keten_ledger *L)
{
	return L->unlocked;
}
const keten_keypair *keten_ledger_keypair(keten_ledger *L)
{
	return L->unlocked ? &L->kp : NULL;
}

int keten_ledger_unlock(keten_ledger *L, const char *passphrase, keten_error *err)
{
	char path[PATH_MAX];
	int rc;
	if (L->unlocked)
		return KETEN_OK;
	snprintf(path, sizeof path, "%s/key", L->dir);
	rc = keten_keystore_open(path, passphrase, &L->kp, err);
	if (rc)
		return rc;
	L->unlocked = true;
	return KETEN_OK;
}

/* Applying ------------------------------------------------------------------ */

/*
 * Record an entry's status.  A local entry is not stored yet when its
 * rules run: its status is handed back through *defer and written once,
 * with the entry, by keten_store_put_entry.
 */
static int set_status(keten_txn *t, const uint8_t id[32], keten_status st, const char *rule, keten_status *defer,
                      keten_error *err)
{
	if (defer) {
		*defer = st;
		return KETEN_OK;
	}
	return keten_store_set_status(t, id, st, rule, err);
}

static int park(keten_txn *t, const uint8_t on[32], const uint8_t id[32], keten_status *defer, keten_error *err)
{
	uint8_t k[64];
	memcpy(k, on, 32);
	memcpy(k + 32, id, 32);
	int rc = keten_kv_put(t, KT_PENDING, k, 64, "", 0, err);
	return rc ? rc : set_status(t, id, KS_PENDING, NULL, defer, err);
}

/*
 * An author's authority, remembered across the entries of one ingest.
 * kt_party_authorized costs a trust lookup, a party lookup and a
 * protobuf decode per entry; its answer only changes when a certificate
 * or revocation is applied (try_apply then forgets it) or, for a
 * certified non-anchor, with the entry's date (kept with the answer).
 * A revoked party's answer turns at a millisecond and is never kept.
 */
struct authz {
	bool valid;
	bool any_day; /* anchor, or nothing certifies it: the date does not matter */
	uint8_t author[32];
	uint32_t day;
	int rc; /* KETEN_OK or KETEN_EAUTHOR */
	uint32_t roles;
	bool anchor;
	keten_error err; /* for KETEN_EAUTHOR */
};

static int authorized(keten_txn *t, struct authz *z, const keten_entry *e, uint32_t *roles, bool *anchor,
                      keten_error *err)
{
	uint32_t day = 0;
	int rc;

	if (z && z->valid && memcmp(z->author, e->author, 32) == 0 &&
	    (z->any_day || z->day == (day = keten_date_of_ms(e->timestamp_ms)))) {
		*roles = z->roles;
		*anchor = z->anchor;
		if (z->rc && err)
			*err = z->err;
		return z->rc;
	}
	rc = kt_party_authorized(t, e->author, e->timestamp_ms, roles, anchor, err);
	if (!z)
		return rc;
	z->valid = false;
	if (rc == KETEN_EAUTHOR || (rc == KETEN_OK && *anchor)) {
		z->any_day = true;
	} else if (rc == KETEN_OK) {
		Keten__State__PartyState *p = NULL;
		bool revoked;
		if (kt_party_load(t, e->author, &p, NULL) != KETEN_OK)
			return rc;
		revoked = p->revoked_ms != 0;
		keten__state__party_state__free_unpacked(p, NULL);
		if (revoked)
			return rc;
		z->any_day = false;
		z->day = day ? day : keten_date_of_ms(e->timestamp_ms);
	} else {
		return rc;
	}
	memcpy(z->author, e->author, 32);
	z->rc = rc;
	z->roles = *roles;
	z->anchor = *anchor;
	if (rc && err)
		z->err = *err;
	z->valid = true;
	return rc;
}

/* The ids parked on one key, collected before they are re-tried. */
struct idlist {
	uint8_t (*ids)[32];
	size_t n, cap;
};

static int idlist_push(struct idlist *l, const uint8_t id[32])
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *p = realloc(l->ids, cap * 32);
		if (!p)
			return -1;
		l->ids = p;
		l->cap = cap;
	}
	memcpy(l->ids[l->n++], id, 32);
	return 0;
}

static int collect_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *ctx)
{
	return kl == 64 && idlist_push(ctx, k + 32) ? -1 : 0;
}

/*
 * Try to apply one stored entry.  Outcome: applied, rejected (with rule),
 * stub, or parked as pending on what it waits for.  Entries of one author
 * apply in feed order: an entry waits while its predecessor is pending.
 * stats may be NULL.  A successful apply wakes what waited on it.
 */
static int try_apply(keten_txn *t, const keten_entry *e, bool local, keten_ingest_stats *stats, struct idlist *wake,
                     struct authz *z, keten_status *defer, keten_error *err)
{
	kt_apply a = {.txn = t, .e = e, .local = local};
	keten_error rerr = {0};
	keten_status st;
	int rc;

	if (!e->has_body) {
		if (stats)
			stats->stubs++;
		rc = set_status(t, e->id, KS_STUB, NULL, defer, err);
		return rc ? rc : idlist_push(wake, e->id) ? (int)keten_fail(err, KETEN_ENOMEM, NULL) : 0;
	}
	if (e->seq > 1 && keten_store_status(t, e->prev, &st, NULL, 0, NULL) == 0 && st == KS_PENDING) {
		if (stats)
			stats->pending++;
		return park(t, e->prev, e->id, defer, err);
	}
	rc = authorized(t, z, e, &a.roles, &a.anchor, &rerr);
	if (rc == KETEN_EAUTHOR) {
		if (local)
			return keten_refuse(err, "author-not-certified", "%s", rerr.msg);
		if (stats)
			stats->pending++;
		return park(t, e->author, e->id, defer, err);
	}
	if (rc == KETEN_OK)
		rc = kt_rules_apply(&a, &rerr);
	/* a certificate or revocation may change any party's authority */
	if (z && (e->body_type == KETEN__BODY_TYPE__PARTY_CERTIFICATE || e->body_type == KETEN__BODY_TYPE__REVOCATION))
		z->valid = false;
	switch (rc) {
	case KETEN_OK:
		if (stats)
			stats->applied++;
		if ((rc = set_status(t, e->id, KS_APPLIED, NULL, defer, err)))
			return rc;
		if (idlist_push(wake, e->id) || (a.has_wake && idlist_push(wake, a.wake)))
			return keten_fail(err, KETEN_ENOMEM, NULL);
		return KETEN_OK;
	case KETEN_ERULE:
		if (local) {
			*err = rerr;
			return KETEN_ERULE;
		}
		if (stats)
			stats->rejected++;
		if ((rc = set_status(t, e->id, KS_REJECTED, rerr.rule, defer, err)))
			return rc;
		return idlist_push(wake, e->id) ? keten_fail(err, KETEN_ENOMEM, NULL) : 0;
	case KETEN_EPENDING:
		if (local) {
			char hex[65];
			keten_hex(hex, a.missing, 32);
			return keten_refuse(err, "unknown-reference", "refers to '%.16s', which is not in this ledger",
			                    hex);
		}
		if (stats)
			stats->pending++;
		return park(t, a.missing, e->id, defer, err);
	default:
		if (err)
			*err = rerr;
		return rc;
	}
}

/* Re-try everything parked on the keys in `wake`, until nothing moves. */
static int drain(keten_txn *t, struct idlist *wake, keten_ingest_stats *stats, struct authz *z, keten_error *err)
{
	int rc = KETEN_OK;
	for (size_t w = 0; w < wake->n && rc == 0; w++) {
		struct idlist waiting = {0};
		uint8_t on[32];
		/* Nothing parked, nothing to wake: in a bulk import or append
		 * that saves a cursor search per entry.  (A try_apply below may
		 * park again, so the count is read each time; it costs no search.) */
		if (keten_kv_count(t, KT_PENDING) == 0)
			break;
		memcpy(on, wake->ids[w], 32);
		rc = keten_kv_scan(t, KT_PENDING, on, 32, collect_cb, &waiting, err);
		for (size_t i = 0; rc == 0 && i < waiting.n; i++) {
			uint8_t k[64];
			keten_entry e;
			memcpy(k, on, 32);
			memcpy(k + 32, waiting.ids[i], 32);
			if ((rc = keten_kv_del(t, KT_PENDING, k, 64, err)))
				break;
			if ((rc = keten_store_get_entry(t, waiting.ids[i], &e, err)))
				break;
			if (stats && stats->pending)
				stats->pending--;
			rc = try_apply(t, &e, false, stats, wake, z, NULL, err);
			keten_entry_release(&e);
		}
		free(waiting.ids);
	}
	return rc;
}

/* Local appends ---------------------------------------------------------------- */

struct append_ctx {
	keten_ledger *L;
	const keten_append *a;
	size_t n;
	uint8_t (*ids)[32];
	int64_t ts;
};

/* The draft of the call's i-th entry after seq/prev. */
static keten_entry_draft draft_of(const struct append_ctx *c, size_t i, uint64_t seq, const uint8_t *prev)
{
	const keten_append *a = &c->a[i];
	return (keten_entry_draft){
		.seq = seq + 1,
		.prev = seq ? prev : NULL,
		.timestamp_ms = a->timestamp_ms ? a->timestamp_ms : c->ts,
		.body_type = a->body_type,
		.body = a->body,
		.body_len = a->body_len,
		.audience = a->audience,
		.n_audience = a->n_audience,
	};
}

/* Rules, then store with the status they decided: one status write. */
static int apply_local(keten_txn *t, const keten_entry *e, struct idlist *wake, keten_error *err)
{
	keten_status st = KS_APPLIED;
	int rc = try_apply(t, e, true, NULL, wake, NULL, &st, err);
	return rc ? rc : keten_store_put_entry(t, e, st, NULL, err);
}

static int append_plain(keten_txn *t, struct append_ctx *c, uint64_t seq, uint8_t prev[32], struct idlist *wake,
                        keten_error *err)
{
	int rc = KETEN_OK;
	for (size_t i = 0; rc == 0 && i < c->n; i++) {
		keten_entry_draft d = draft_of(c, i, seq, prev);
		keten_entry e;
		if ((rc = keten_entry_sign(&c->L->kp, &d, &e, err))) {
			if (err)
				err->item = i + 1; /* which of the call's entries failed */
			break;
		}
		rc = apply_local(t, &e, wake, err);
		if (rc && err)
			err->item = i + 1;
		if (rc == 0) {
			seq++;
			memcpy(prev, e.id, 32);
			if (c->ids)
				memcpy(c->ids[i], e.id, 32);
		}
		keten_entry_release(&e);
	}
	return rc;
}

/*
 * Pipelined signing.  Entry i+1's prev is entry i's id, which hashes entry
 * i's signature, so the signatures of a batch form a chain and one thread
 * must make them in order; but nothing in them depends on the rules or the
 * store.  A signer thread therefore runs ahead, one signature (about 14 µs)
 * after another, while this thread — which owns the write transaction —
 * runs the rules and stores each entry as soon as it is signed.  Every
 * draft (timestamp included) is fixed before the signer starts, and
 * Ed25519 is deterministic, so the entries are the bytes the plain path
 * would make; a refusal stops the signer and the transaction is aborted as
 * before, discarding what it signed ahead.
 *
 * Handing over costs the signer no system call while both threads are
 * busy: a waiting side polls the other's counter for up to PIPE_SPIN_NS,
 * yielding the core between polls (so a signer that shares the core with
 * it still runs), and only then sleeps on the condition variable; a side
 * wakes the other only when that one sleeps.
 */
#define PIPE_MIN     64u   /* shorter batches: the thread costs more than it saves */
#define PIPE_RING    256u  /* entries signed ahead at most */
#define PIPE_SPIN_NS 60000 /* several signatures' time */

struct pipeline {
	const keten_keypair *kp;
	const struct append_ctx *c;
	uint64_t seq; /* head before the batch */
	uint8_t prev[32];
	_Atomic size_t made; /* entries signed, by the signer */
	_Atomic size_t used; /* entries taken, by the store thread */
	_Atomic bool stop;   /* store thread: sign no more */
	_Atomic bool ended;  /* signer: no more will come */
	_Atomic int sleepers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int rc; /* the signer's error, when it ended early */
	keten_error err;
	keten_entry ring[PIPE_RING];
};

static void pipe_wake(struct pipeline *p)
{
	if (atomic_load(&p->sleepers)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wait until *ctr > at, or *give_up says it never will be. */
static void pipe_wait(struct pipeline *p, _Atomic size_t *ctr, size_t at, _Atomic bool *give_up)
{
	int64_t until = 0;
	for (;;) {
		if (atomic_load(ctr) > at || atomic_load(give_up))
			return;
		if (!until)
			until = mono_ns() + PIPE_SPIN_NS;
		else if (mono_ns() > until)
			break;
		sched_yield();
	}
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add(&p->sleepers, 1);
	while (atomic_load(ctr) <= at && !atomic_load(give_up))
		pthread_cond_wait(&p->cv, &p->mu);
	atomic_fetch_sub(&p->sleepers, 1);
	pthread_mutex_unlock(&p->mu);
}

static void *signer(void *arg)
{
	struct pipeline *p = arg;
	uint64_t seq = p->seq;
	uint8_t prev[32];

	memcpy(prev, p->prev, 32);
	for (size_t i = 0; i < p->c->n; i++) {
		keten_entry_draft d;
		keten_entry *e = &p->ring[i % PIPE_RING];
		if (i >= PIPE_RING)
			pipe_wait(p, &p->used, i - PIPE_RING, &p->stop);
		if (atomic_load(&p->stop))
			break;
		d = draft_of(p->c, i, seq, prev);
		if ((p->rc = keten_entry_sign(p->kp, &d, e, &p->err)))
			break;
		seq++;
		memcpy(prev, e->id, 32);
		atomic_store(&p->made, i + 1);
		pipe_wake(p);
	}
	atomic_store(&p->ended, true);
	pipe_wake(p);
	return NULL;
}

static int append_pipelined(keten_txn *t, struct append_ctx *c, uint64_t seq, const uint8_t prev[32],
                            struct idlist *wake, keten_error *err)
{
	keten_ledger *L = c->L;
	struct pipeline *p = L->pipe;
	pthread_t th;
	size_t i;
	int rc = KETEN_OK;

	if (!p && !(p = L->pipe = calloc(1, sizeof *p)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	p->kp = &L->kp;
	p->c = c;
	p->seq = seq;
	memcpy(p->prev, prev, 32);
	atomic_store(&p->made, 0);
	atomic_store(&p->used, 0);
	atomic_store(&p->stop, false);
	atomic_store(&p->ended, false);
	atomic_store(&p->sleepers, 0);
	p->rc = KETEN_OK;
	keten_error_clear(&p->err);
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	if (pthread_create(&th, NULL, signer, p) != 0) {
		uint8_t head[32];
		memcpy(head, prev, 32);
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		return append_plain(t, c, seq, head, wake, err);
	}
	for (i = 0; rc == 0 && i < c->n; i++) {
		keten_entry *e = &p->ring[i % PIPE_RING];
		pipe_wait(p, &p->made, i, &p->ended);
		if (atomic_load(&p->made) <= i) {
			/* the signer ended early: its error is the call's */
			rc = p->rc ? p->rc : KETEN_ECRYPTO;
			if (err) {
				*err = p->err;
				err->item = i + 1; /* as in append_plain: the entry that failed */
			}
			break;
		}
		rc = apply_local(t, e, wake, err);
		if (rc && err)
			err->item = i + 1;
		if (rc == 0 && c->ids)
			memcpy(c->ids[i], e->id, 32);
		keten_entry_release(e);
		atomic_store(&p->used, i + 1);
		pipe_wake(p);
	}
	atomic_store(&p->stop, true);
	pipe_wake(p);
	pthread_join(th, NULL);
	/* what was signed ahead of a refusal */
	for (size_t j = atomic_load(&p->used); j < atomic_load(&p->made); j++)
		keten_entry_release(&p->ring[j % PIPE_RING]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	return rc;
}

static int append_fn(keten_txn *t, void *p, keten_error *err)
{
	struct append_ctx *c = p;
	struct idlist wake = {0};
	uint64_t seq;
	uint8_t prev[32];
	int rc = keten_store_head(t, c->L->kp.pk, &seq, prev, err);

	if (rc == 0)
		rc = c->n >= PIPE_MIN ? append_pipelined(t, c, seq, prev, &wake, err)
				      : append_plain(t, c, seq, prev, &wake, err);
	if (rc == 0)
		rc = drain(t, &wake, NULL, NULL, err);
	free(wake.ids);
	return rc;
}

int keten_ledger_append(keten_ledger *L, const keten_append *a, size_t n, uint8_t (*ids)[32], keten_error *err)
{
	struct append_ctx c = {.L = L, .a = a, .n = n, .ids = ids, .ts = now_ms()};
	if (!L->unlocked)
		return keten_fail(err, KETEN_EINVAL, "the home's key is not unlocked");
	return keten_store_write(L->store, append_fn, &c, err);
}

/* Received entries ------------------------------------------------------------- */

/* Entries of c->e just stored, in the order they are to be applied.  They
 * are applied from these parsed copies, which hold exactly the bytes just
 * stored: reading each back from the store and parsing it again cost about
 * a fifth of an import's CPU time (tests/bench). */
struct reflist {
	const keten_entry **v;
	size_t n, cap;
};

static int reflist_push(struct reflist *l, const keten_entry *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *p = realloc(l->v, cap * sizeof *l->v);
		if (!p)
			return -1;
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = e;
	return 0;
}

struct ingest_ctx {
	keten_entry *e; /* parsed, sorted by author then seq */
	size_t n;
	bool aon;
	keten_ingest_stats st;
	keten_error first; /* the first dropped run, in sync mode */
};

static int cmp_entry(const void *x, const void *y)
{
	const keten_entry *a = x, *b = y;
	int c = memcmp(a->author, b->author, 32);
	if (c)
		return c;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	/* same seq: bodies first, so a stub and its full entry keep the body */
	return (int)b->has_body - (int)a->has_body;
}

/* Keep both signed headers of an equivocation, and mark the author. */
static int record_fork(keten_txn *t, const keten_entry *mine_or_theirs, keten_error *err)
{
	uint8_t k[72];
	uint8_t *v;
	size_t n = mine_or_theirs->header_len + 64;
	Keten__State__PartyState *p = NULL;
	int rc;

	memcpy(k, mine_or_theirs->author, 32);
	keten_be64(k + 32, mine_or_theirs->seq);
	memcpy(k + 40, mine_or_theirs->id, 32);
	v = malloc(n);
	if (!v)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	memcpy(v, mine_or_theirs->header, mine_or_theirs->header_len);
	memcpy(v + mine_or_theirs->header_len, mine_or_theirs->sig, 64);
	rc = keten_kv_put(t, KT_FORKS, k, 72, v, n, err);
	free(v);
	if (rc)
		return rc;
	rc = kt_party_load(t, mine_or_theirs->author, &p, err);
	if (rc == KETEN_ENOTFOUND) {
		keten_error_clear(err);
		return KETEN_OK;
	}
	if (rc)
		return rc;
	p->has_forked = p->forked = 1;
	rc = kt_party_save(t, p, err);
	keten__state__party_state__free_unpacked(p, NULL);
	return rc;
}

static int fork_pair(keten_txn *t, const keten_entry *theirs, keten_error *err)
{
	keten_entry mine;
	uint8_t id[32];
	int rc = keten_store_feed_id(t, theirs->author, theirs->seq, id, err);
	if (rc)
		return rc;
	if ((rc = keten_store_get_entry(t, id, &mine, err)))
		return rc;
	rc = record_fork(t, &mine, err);
	if (rc == 0)
		rc = record_fork(t, theirs, err);
	keten_entry_release(&mine);
	return rc;
}

/*
 * One author's run [i, j): skip what is known, catch forks, check that the
 * rest continues the stored head link by link, verify the signature of the
 * run's last entry (which commits to every earlier header and signature
 * through the prev links), then store the run.
 */
static int ingest_run(keten_txn *t, struct ingest_ctx *c, size_t i, size_t j, struct reflist *fresh, keten_error *err)
{
	uint64_t head;
	uint8_t head_id[32];
	size_t k = i, last;
	int rc = keten_store_head(t, c->e[i].author, &head, head_id, err);
	char hex[65];

	if (rc)
		return rc;
	keten_hex(hex, c->e[i].author, 32);
	/* Known seqs: same id is a duplicate (maybe bringing a body); another id is a fork. */
	for (; k < j && c->e[k].seq <= head; k++) {
		uint8_t id[32];
		if ((rc = keten_store_feed_id(t, c->e[k].author, c->e[k].seq, id, err)))
			return rc;
		if (memcmp(id, c->e[k].id, 32) == 0) {
			c->st.known++;
			if (c->e[k].has_body) {
				keten_status st;
				if (keten_store_status(t, id, &st, NULL, 0, NULL) == 0 && st == KS_STUB) {
					/* The body of a stub we held: authentic by its hash. */
					if ((rc = keten_store_put_entry(t, &c->e[k], KS_PENDING, NULL, err)))
						return rc;
					c->st.bodies_added++;
					if (reflist_push(fresh, &c->e[k]))
						return keten_fail(err, KETEN_ENOMEM, NULL);
				}
			}
			continue;
		}
		/* A different entry at a stored seq: authentic only if its own signature holds. */
		if (keten_entry_verify(&c->e[k]) != KETEN_OK)
			return keten_fail(err, KETEN_ESIG, "entry %llu of '%.16s' has a bad signature",
			                  (unsigned long long)c->e[k].seq, hex);
		if ((rc = fork_pair(t, &c->e[k], err)))
			return rc;
		c->st.forks++;
	}
	if (k == j)
		return KETEN_OK;
	if (head == 0 && !crypto_core_ed25519_is_valid_point(c->e[k].author))
		return keten_fail(err, KETEN_EMALFORMED, "author '%.16s' is not a valid Ed25519 key", hex);
	/* Check links; stop at the first entry that does not continue. */
	for (last = k; last < j; last++) {
		const keten_entry *e = &c->e[last];
		const uint8_t *want_prev = last == k ? head_id : c->e[last - 1].id;
		uint64_t want_seq = last == k ? head + 1 : c->e[last - 1].seq + 1;
		if (last > k && e->seq == c->e[last - 1].seq) {
			if (memcmp(e->id, c->e[last - 1].id, 32) == 0)
				continue; /* duplicate in the input */
			return keten_fail(err, KETEN_EFORK, "two entries at seq %llu of '%.16s' in one batch",
			                  (unsigned long long)e->seq, hex);
		}
		if (e->seq != want_seq || (want_seq > 1 && memcmp(e->prev, want_prev, 32) != 0))
			return keten_fail(err, KETEN_ECHAIN,
			                  "entry %llu of '%.16s' does not continue its feed (have %llu)",
			                  (unsigned long long)e->seq, hex, (unsigned long long)(want_seq - 1));
	}
	if (keten_entry_verify(&c->e[j - 1]) != KETEN_OK)
		return keten_fail(err, KETEN_ESIG, "entry %llu of '%.16s' has a bad signature",
		                  (unsigned long long)c->e[j - 1].seq, hex);
	for (size_t m = k; m < j; m++) {
		if (m > k && c->e[m].seq == c->e[m - 1].seq)
			continue;
		if ((rc = keten_store_put_entry(t, &c->e[m], KS_PENDING, NULL, err)))
			return rc;
		c->st.added++;
		if (reflist_push(fresh, &c->e[m]))
			return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	return KETEN_OK;
}

static int ingest_fn(keten_txn *t, void *p, keten_error *err)
{
	struct ingest_ctx *c = p;
	struct reflist fresh = {0};
	struct idlist wake = {0};
	struct authz z = {0};
	int rc = KETEN_OK;

	memset(&c->st, 0, sizeof c->st);
	c->st.received = c->n;
	keten_error_clear(&c->first);
	for (size_t i = 0, j; i < c->n && rc == 0; i = j) {
		size_t mark = fresh.n;
		for (j = i + 1; j < c->n && memcmp(c->e[j].author, c->e[i].author, 32) == 0; j++)
			;
		rc = ingest_run(t, c, i, j, &fresh, err);
		if (rc && !c->aon && rc != KETEN_ESTORE && rc != KETEN_ENOMEM) {
			/* sync: drop this author's run, keep the others */
			if (!c->first.code)
				c->first = *err;
			fresh.n = mark;
			rc = KETEN_OK;
		}
	}
	/*
	 * Apply in feed order; a later entry of an author waits for its
	 * predecessor.  Each fresh entry is still pending here, with no
	 * lookup: only its own try_apply can park it, so no drain can have
	 * applied it before its turn.
	 */
	for (size_t i = 0; rc == 0 && i < fresh.n; i++) {
		rc = try_apply(t, fresh.v[i], false, &c->st, &wake, &z, NULL, err);
		if (rc == 0)
			rc = drain(t, &wake, &c->st, &z, err);
		wake.n = 0;
	}
	free(fresh.v);
	free(wake.ids);
	return rc;
}

int keten_ledger_ingest(keten_ledger *L, const keten_blob *b, size_t n, bool aon, keten_ingest_stats *st,
                        keten_error *err)
{
	struct ingest_ctx c = {.aon = aon};
	int rc = KETEN_OK;

	if (st)
		memset(st, 0, sizeof *st);
	c.e = calloc(n ? n : 1, sizeof *c.e);
	if (!c.e)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	for (size_t i = 0; i < n; i++) {
		keten_error perr = {0};
		rc = keten_entry_parse(b[i].data, b[i].len, &c.e[c.n], &perr);
		if (rc) {
			if (aon) {
				keten_fail(err, rc, "entry %zu: %s", i + 1, perr.msg);
				goto out;
			}
			if (!c.first.code)
				c.first = perr;
			rc = KETEN_OK;
			continue;
		}
		c.n++;
	}
	qsort(c.e, c.n, sizeof *c.e, cmp_entry);
	{
		keten_error first_parse = c.first;
		rc = keten_store_write(L->store, ingest_fn, &c, err);
		if (rc == 0 && !c.first.code && first_parse.code)
			c.first = first_parse;
	}
	if (st) {
		*st = c.st;
		st->received = n;
	}
	if (rc == 0 && c.first.code && err)
		*err = c.first; /* reported, but what was good is kept */
out:
	for (size_t i = 0; i < c.n; i++)
		keten_entry_release(&c.e[i]);
	free(c.e);
	return rc;
}

struct trust_ctx {
	const uint8_t *key;
	const char *name;
};

static int trust_fn(keten_txn *t, void *p, keten_error *err)
{
	struct trust_ctx *c = p;
	struct idlist wake = {0};
	int rc = keten_kv_put(t, KT_TRUST, c->key, 32, c->name, strlen(c->name) + 1, err);
	if (rc == 0 && idlist_push(&wake, c->key))
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
	if (rc == 0)
		rc = drain(t, &wake, NULL, NULL, err);
	free(wake.ids);
	return rc;
}

int keten_ledger_trust_add(keten_ledger *L, const uint8_t key[32], const char *name, keten_error *err)
{
	struct trust_ctx c = {key, name};
	if (!crypto_core_ed25519_is_valid_point(key))
		return keten_fail(err, KETEN_EINVAL, "trust anchor is not a valid Ed25519 public key");
	return keten_store_write(L->store, trust_fn, &c, err);
}
