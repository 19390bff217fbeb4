/*
 * entries.c — the entries a home holds, listed and with their status
 * (keten/entries.h), for `keten log`, `show`, `export` and the dashboard.
 *
 * Newest first reads the timeline (timestamp || id) backwards, or with a
 * type the by_type table (type || timestamp || id); feed by feed reads the
 * feeds view (author || seq -> id), from one author's key range when the
 * listing is of one author.  Which entries are void is read once per
 * listing: one scan of the corrections, sorted by the entry they void,
 * looked up per entry.
 */
#include <stdlib.h>
#include <string.h>

#include "keten/entries.h"
#include "keten/keten.h"
#include "proto/keten.pb-c.h"
#include "base/base.h"
#include "store/kv.h"

/* Voided entries ------------------------------------------------------------- */

struct voids {
	uint8_t (*pairs)[64]; /* voided id || correcting id */
	size_t n, cap;
	keten_txn *t;
};

/* Remember what correction id voided; false when out of memory. */
static bool voids_add(struct voids *vs, const uint8_t voided[32], const uint8_t id[32])
{
	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? vs->cap * 2 : 64;
		void *np = realloc(vs->pairs, cap * sizeof *vs->pairs);
		if (!np)
			return false;
		vs->pairs = np;
		vs->cap = cap;
	}
	memcpy(vs->pairs[vs->n], voided, 32);
	memcpy(vs->pairs[vs->n] + 32, id, 32);
	vs->n++;
	return true;
}

/* A by_type key: type (4) || timestamp (8) || id of a correction. */
static int voids_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct voids *vs = p;
	keten_entry e;
	keten_status st = 0;
	Keten__Correction *c;

	if (kl < 44 || keten_store_status(vs->t, k + 12, &st, NULL, 0, NULL) || st != KS_APPLIED)
		return 0;
	if (keten_store_get_entry(vs->t, k + 12, &e, NULL))
		return 0;
	c = e.has_body ? keten__correction__unpack(NULL, e.body_len, e.body) : NULL;
	/* out of memory gives fewer marks, never a wrong one */
	if (c && c->entry.len == 32)
		voids_add(vs, c->entry.data, e.id);
	if (c)
		keten__correction__free_unpacked(c, NULL);
	keten_entry_release(&e);
	return 0;
}

static int void_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static void voids_load(struct voids *vs, keten_txn *t)
{
	uint8_t prefix[4];
	vs->t = t;
	kt_be32(prefix, KETEN__BODY_TYPE__CORRECTION);
	kt_kv_scan(t, KT_BY_TYPE, prefix, 4, voids_cb, vs, NULL);
	if (vs->n)
		qsort(vs->pairs, vs->n, sizeof *vs->pairs, void_cmp);
}

/* The id of the correction that voided `id`, or NULL. */
static const uint8_t *voided_by(const struct voids *vs, const uint8_t id[32])
{
	const uint8_t *hit = vs->n ? bsearch(id, vs->pairs, vs->n, sizeof *vs->pairs, void_cmp) : NULL;
	return hit ? hit + 32 : NULL;
}

/* The status of id with the voids known; KETEN_ENOTFOUND when not held. */
static int status_of(keten_txn *t, const struct voids *vs, const uint8_t id[32], keten_entry_status *out,
                     keten_error *err)
{
	const uint8_t *by;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = keten_store_status(t, id, &out->status, out->rule, sizeof out->rule, err))) {
		memset(out, 0, sizeof *out);
		return rc;
	}
	if (out->status == KS_APPLIED && (by = voided_by(vs, id))) {
		out->voided = true;
		memcpy(out->voided_by, by, 32);
	}
	return KETEN_OK;
}

int keten_entry_status_get(keten_txn *t, const uint8_t id[32], keten_entry_status *out, keten_error *err)
{
	struct voids vs = {0};
	keten_status st = 0;
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "entry status: no result");
	memset(out, 0, sizeof *out);
	if (!t || !id)
		return keten_fail(err, KETEN_EINVAL, "entry status: no entry");
	/* the corrections are read only for an entry they may have voided */
	if (keten_store_status(t, id, &st, NULL, 0, NULL) == 0 && st == KS_APPLIED)
		voids_load(&vs, t);
	rc = status_of(t, &vs, id, out, err);
	free(vs.pairs);
	return rc;
}

/* Listing -------------------------------------------------------------------- */

struct each {
	keten_txn *t;
	const keten_entry_filter *f;
	keten_entry_fn fn;
	void *ctx;
	size_t keyoff; /* where the id starts in a timeline or by_type key; 0: the value is the id */
	size_t shown;
	struct voids voids;
};

static int each_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct each *x = p;
	const keten_entry_filter *f = x->f;
	const uint8_t *id = x->keyoff ? k + x->keyoff : v;
	keten_entry_status st;
	keten_entry e;
	int rc;

	if ((x->keyoff ? kl < x->keyoff + 32 : vl != 32) || keten_store_get_entry(x->t, id, &e, NULL))
		return 0;
	if ((f->author && memcmp(e.author, f->author, 32) != 0) || (f->body_type && e.body_type != f->body_type)) {
		keten_entry_release(&e);
		return 0;
	}
	if (f->status)
		status_of(x->t, &x->voids, e.id, &st, NULL);
	rc = x->fn(&e, f->status ? &st : NULL, x->ctx);
	keten_entry_release(&e);
	if (rc)
		return rc;
	return f->limit && ++x->shown >= f->limit ? 1 : 0;
}

int keten_entries_each(keten_txn *t, const keten_entry_filter *f, keten_entry_fn fn, void *ctx, keten_error *err)
{
	static const keten_entry_filter all = {0};
	struct each x = {.t = t, .f = f ? f : &all, .fn = fn, .ctx = ctx};
	uint8_t prefix[32];
	int rc;

	if (!t || !fn)
		return keten_fail(err, KETEN_EINVAL, "entries: no transaction or callback");
	if (x.f->status)
		voids_load(&x.voids, t);
	if (x.f->order == KETEN_BY_FEED && x.f->author) {
		memcpy(prefix, x.f->author, 32);
		rc = kt_kv_scan(t, KT_FEEDS, prefix, 32, each_cb, &x, err);
	} else if (x.f->order == KETEN_BY_FEED) {
		rc = kt_kv_scan(t, KT_FEEDS, NULL, 0, each_cb, &x, err);
	} else if (x.f->body_type) {
		kt_be32(prefix, x.f->body_type);
		x.keyoff = 12;
		rc = kt_kv_scan_reverse(t, KT_BY_TYPE, prefix, 4, each_cb, &x, err);
	} else {
		x.keyoff = 8;
		rc = kt_kv_scan_reverse(t, KT_TIMELINE, NULL, 0, each_cb, &x, err);
	}
	free(x.voids.pairs);
	return rc;
}
