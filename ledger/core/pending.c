/*
 * pending.c — applying an entry and re-trying what waited on it.
 *
 * kt_try_apply is the one place an entry's status is decided: a stub
 * (body withheld), pending (its predecessor, author's certificate or a
 * referenced entry is not here yet: parked on that key in the pending
 * table), applied (its author may write and its body rules accepted it)
 * or rejected (a rule refused it; a local entry is refused instead).
 * kt_drain re-tries what was parked on the keys an apply made available.
 * Trust anchors live here too: adding one wakes what waited for it.  See
 * core/core.h for the other files of the core.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "proto/keten.pb-c.h"
#include "base/base.h"

/*
 * Record an entry's status.  A local entry is not stored yet when its
 * rules run: its status is handed back through *defer and written once,
 * with the entry, by kt_store_put_entry.
 */
static int set_status(keten_txn *t, const uint8_t id[32], keten_status st, const char *rule, keten_status *defer,
                      keten_error *err)
{
	KETEN_ASSERT(st == KS_APPLIED || st == KS_REJECTED || st == KS_PENDING || st == KS_STUB);
	KETEN_ASSERT(rule == NULL || st == KS_REJECTED);
	if (defer) {
		*defer = st;
		return KETEN_OK;
	}
	return kt_store_set_status(t, id, st, rule, err);
}

/* Park entry id on key `on` (its predecessor, author or a reference). */
static int park(keten_txn *t, const uint8_t on[32], const uint8_t id[32], keten_status *defer, keten_error *err)
{
	uint8_t k[64];
	int rc;

	/* an entry's id hashes its header, which names what it waits on */
	KETEN_ASSERT(memcmp(on, id, 32) != 0);
	memcpy(k, on, 32);
	memcpy(k + 32, id, 32);
	rc = kt_kv_put(t, KT_PENDING, k, 64, "", 0, err);
	return rc ? rc : set_status(t, id, KS_PENDING, NULL, defer, err);
}

/* Remember an answer of kt_party_authorized for author e->author, when it
 * holds for more than this entry (see struct kt_authz). */
static void authz_keep(keten_txn *t, struct kt_authz *z, const keten_entry *e, uint32_t day, int rc, uint32_t roles,
                       bool anchor, const keten_error *err)
{
	z->valid = false;
	if (rc == KETEN_EAUTHOR || (rc == KETEN_OK && anchor)) {
		z->any_day = true;
	} else if (rc == KETEN_OK) {
		Keten__State__PartyState *p = NULL;
		bool revoked;
		if (kt_party_load(t, e->author, &p, NULL) != KETEN_OK)
			return;
		revoked = p->revoked_ms != 0;
		keten__state__party_state__free_unpacked(p, NULL);
		if (revoked)
			return;
		z->any_day = false;
		z->day = day ? day : keten_date_of_ms(e->timestamp_ms);
	} else {
		return;
	}
	KETEN_ASSERT(rc == KETEN_OK || rc == KETEN_EAUTHOR);
	memcpy(z->author, e->author, 32);
	z->rc = rc;
	z->roles = roles;
	z->anchor = anchor;
	if (rc && err)
		z->err = *err;
	z->valid = true;
}

static int authorized(keten_txn *t, struct kt_authz *z, const keten_entry *e, uint32_t *roles, bool *anchor,
                      keten_error *err)
{
	uint32_t day = 0;
	int rc;

	if (z && z->valid && memcmp(z->author, e->author, 32) == 0 &&
	    (z->any_day || z->day == (day = keten_date_of_ms(e->timestamp_ms)))) {
		KETEN_ASSERT(z->rc == KETEN_OK || z->rc == KETEN_EAUTHOR);
		*roles = z->roles;
		*anchor = z->anchor;
		if (z->rc && err)
			*err = z->err;
		return z->rc;
	}
	rc = kt_party_authorized(t, e->author, e->timestamp_ms, roles, anchor, err);
	if (z)
		authz_keep(t, z, e, day, rc, *roles, *anchor, err);
	return rc;
}

int kt_idlist_push(struct kt_idlist *l, const uint8_t id[32])
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *p = realloc(l->ids, cap * 32);
		if (!p)
			return -1;
		l->ids = p;
		l->cap = cap;
	}
	KETEN_ASSERT(l->n < l->cap);
	memcpy(l->ids[l->n++], id, 32);
	return 0;
}

static int collect_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *ctx)
{
	return kl == 64 && kt_idlist_push(ctx, k + 32) ? -1 : 0;
}

static int wake_on(struct kt_idlist *wake, const uint8_t id[32], keten_error *err)
{
	return kt_idlist_push(wake, id) ? keten_fail(err, KETEN_ENOMEM, NULL) : KETEN_OK;
}

/* What the rules said of entry e (rc, with rerr and a's missing and wake),
 * recorded: applied, rejected or parked, or refused when it is local. */
static int outcome(keten_txn *t, const keten_entry *e, bool local, const kt_apply *a, int rc, const keten_error *rerr,
                   keten_ingest_stats *stats, struct kt_idlist *wake, keten_status *defer, keten_error *err)
{
	switch (rc) {
	case KETEN_OK:
		if (stats)
			stats->applied++;
		if ((rc = set_status(t, e->id, KS_APPLIED, NULL, defer, err)))
			return rc;
		if ((rc = wake_on(wake, e->id, err)) || !a->has_wake)
			return rc;
		return wake_on(wake, a->wake, err);
	case KETEN_ERULE:
		if (local) {
			*err = *rerr;
			return KETEN_ERULE;
		}
		if (stats)
			stats->rejected++;
		if ((rc = set_status(t, e->id, KS_REJECTED, rerr->rule, defer, err)))
			return rc;
		return wake_on(wake, e->id, err);
	case KETEN_EPENDING:
		if (local) {
			char hex[65];
			keten_hex(hex, a->missing, 32);
			return keten_refuse(err, "unknown-reference", "refers to '%.16s', which is not in this ledger",
			                    hex);
		}
		if (stats)
			stats->pending++;
		return park(t, a->missing, e->id, defer, err);
	default:
		KETEN_ASSERT(rc != KETEN_OK);
		if (err)
			*err = *rerr;
		return rc;
	}
}

int kt_try_apply(keten_txn *t, const keten_entry *e, bool local, keten_ingest_stats *stats, struct kt_idlist *wake,
                 struct kt_authz *z, keten_status *defer, keten_error *err)
{
	kt_apply a = {.txn = t, .e = e, .local = local};
	keten_error rerr = {0};
	keten_status st;
	bool ruled = false;
	int rc;

	/* a local entry was just signed here, with its body, and is not stored yet */
	KETEN_ASSERT(!local || (e->has_body && defer));
	if (!e->has_body) {
		if (stats)
			stats->stubs++;
		rc = set_status(t, e->id, KS_STUB, NULL, defer, err);
		return rc ? rc : wake_on(wake, e->id, err);
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
	if (rc == KETEN_OK) {
		rc = kt_rules_apply(&a, &rerr);
		ruled = true;
	}
	/* a certificate or revocation may change any party's authority */
	if (z && (e->body_type == KETEN__BODY_TYPE__PARTY_CERTIFICATE || e->body_type == KETEN__BODY_TYPE__REVOCATION))
		z->valid = false;
	/* an entry is applied only once its author's authority and its body rules passed */
	KETEN_ASSERT(rc != KETEN_OK || ruled);
	return outcome(t, e, local, &a, rc, &rerr, stats, wake, defer, err);
}

/* Take entry id off key on's waiting list and try it again. */
static int retry(keten_txn *t, const uint8_t on[32], const uint8_t id[32], struct kt_idlist *wake,
                 keten_ingest_stats *stats, struct kt_authz *z, keten_error *err)
{
	uint8_t k[64];
	keten_entry e;
	int rc;

	memcpy(k, on, 32);
	memcpy(k + 32, id, 32);
	if ((rc = kt_kv_del(t, KT_PENDING, k, 64, err)))
		return rc;
	if ((rc = keten_store_get_entry(t, id, &e, err)))
		return rc;
	KETEN_ASSERT(memcmp(e.id, id, 32) == 0);
	if (stats && stats->pending)
		stats->pending--;
	rc = kt_try_apply(t, &e, false, stats, wake, z, NULL, err);
	keten_entry_release(&e);
	return rc;
}

int kt_drain(keten_txn *t, struct kt_idlist *wake, keten_ingest_stats *stats, struct kt_authz *z, keten_error *err)
{
	int rc = KETEN_OK;
	for (size_t w = 0; w < wake->n && rc == 0; w++) {
		struct kt_idlist waiting = {0};
		uint8_t on[32];
		/* Nothing parked, nothing to wake: in a bulk import or append
		 * that saves a cursor search per entry.  (A try_apply below may
		 * park again, so the count is read each time; it costs no search.) */
		if (kt_kv_count(t, KT_PENDING) == 0)
			break;
		/* wake may grow (and move) while its entries are re-tried */
		memcpy(on, wake->ids[w], 32);
		rc = kt_kv_scan(t, KT_PENDING, on, 32, collect_cb, &waiting, err);
		KETEN_ASSERT(waiting.n <= waiting.cap);
		for (size_t i = 0; rc == 0 && i < waiting.n; i++)
			rc = retry(t, on, waiting.ids[i], wake, stats, z, err);
		free(waiting.ids);
	}
	return rc;
}

/* Trust anchors ---------------------------------------------------------------- */

struct trust_ctx {
	const uint8_t *key;
	const char *name;
};

static int trust_fn(keten_txn *t, void *p, keten_error *err)
{
	struct trust_ctx *c = p;
	struct kt_idlist wake = {0};
	int rc = kt_kv_put(t, KT_TRUST, c->key, 32, c->name, strlen(c->name) + 1, err);
	if (rc == 0)
		rc = wake_on(&wake, c->key, err);
	if (rc == 0)
		rc = kt_drain(t, &wake, NULL, NULL, err);
	free(wake.ids);
	return rc;
}

int keten_ledger_trust_add(keten_ledger *L, const uint8_t key[32], const char *name, keten_error *err)
{
	struct trust_ctx c = {key, name};
	if (!keten_key_valid(key))
		return keten_fail(err, KETEN_EINVAL, "trust anchor is not a valid Ed25519 public key");
	return kt_store_write(L->store, trust_fn, &c, err);
}

struct trust_each {
	keten_trust_fn fn;
	void *ctx;
};

static int trust_each_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct trust_each *x = p;
	char name[256];
	size_t n = strnlen((const char *)v, vl);
	KETEN_ASSERT(kl == 32);
	if (n >= sizeof name)
		n = sizeof name - 1;
	memcpy(name, v, n);
	name[n] = 0;
	return x->fn(k, name, x->ctx);
}

int keten_trust_each(keten_txn *t, keten_trust_fn fn, void *ctx, keten_error *err)
{
	struct trust_each x = {fn, ctx};
	KETEN_ASSERT(t && fn);
	return kt_kv_scan(t, KT_TRUST, NULL, 0, trust_each_cb, &x, err);
}
