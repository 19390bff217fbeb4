/*
 * dispute.c — disputes, responses and rulings (product.md §3): the hard
 * rules each body must pass, the derived DisputeState kept under
 * 'D' || dispute id, the index 'd' || entry || dispute, and the queries
 * reconciliation uses (open disputes, "is this entry disputed").
 *
 * Order of arrival differs between nodes, so the rules look only at what
 * an entry refers to: a dispute needs its entries stored (any status, a
 * stub included); a response or ruling needs its dispute applied, and
 * waits (KETEN_EPENDING on the dispute's id) while it is not.  Responses
 * are accepted before and after the ruling; only the first ruling counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/dispute.h"
#include "proto/keten.pb-c.h"
#include "base/base.h"

/* Keys ---------------------------------------------------------------------- */

static void state_key(uint8_t k[33], const uint8_t id[32])
{
	k[0] = KETEN_STATE_DISPUTE;
	memcpy(k + 1, id, 32);
}

static void index_key(uint8_t k[65], const uint8_t entry[32], const uint8_t dispute[32])
{
	k[0] = KETEN_INDEX_DISPUTED;
	memcpy(k + 1, entry, 32);
	memcpy(k + 33, dispute, 32);
}

int kt_dispute_load(keten_txn *t, const uint8_t id[32], Keten__State__DisputeState **out, keten_error *err)
{
	uint8_t k[33];
	const void *v;
	size_t n;
	int rc;

	*out = NULL;
	state_key(k, id);
	if ((rc = kt_kv_get(t, KT_STATE, k, sizeof k, &v, &n, err)))
		return rc;
	*out = keten__state__dispute_state__unpack(NULL, n, v);
	return *out ? KETEN_OK : keten_fail(err, KETEN_ESTORE, "ledger store: damaged dispute record");
}

static int dispute_save(keten_txn *t, const Keten__State__DisputeState *d, keten_error *err)
{
	uint8_t k[33];
	size_t n = keten__state__dispute_state__get_packed_size(d);
	uint8_t *buf = malloc(n ? n : 1);
	int rc;

	KETEN_ASSERT(d->id.len == 32);
	if (!buf)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	keten__state__dispute_state__pack(d, buf);
	state_key(k, d->id.data);
	rc = kt_kv_put(t, KT_STATE, k, sizeof k, buf, n, err);
	free(buf);
	return rc;
}

bool kt_dispute_ruled(const Keten__State__DisputeState *d)
{
	return d->has_ruling && d->ruling.len == 32;
}

/* Shared checks --------------------------------------------------------------- */

static int text_rule(const char *what, const char *s, keten_error *err)
{
	if (!s || !*s)
		return keten_refuse(err, "empty-text", "%s is empty", what);
	if (!keten_text_ok(s, strlen(s)))
		return keten_refuse(err, "invalid-text", "%s is not clean UTF-8 text", what);
	if (keten_text_has_bsn(s))
		return keten_refuse(err, "bsn-in-text",
		                    "%s holds a number that passes the BSN 11-test; "
		                    "keten never stores a BSN",
		                    what);
	return KETEN_OK;
}

static int amount_rule(const char *what, int64_t cents, keten_error *err)
{
	if (cents <= 0)
		return keten_refuse(err, "amount-not-positive", "%s must be more than zero", what);
	if (cents > KETEN_MAX_CENTS)
		return keten_refuse(err, "amount-too-large", "%s is above the largest amount keten accepts", what);
	return KETEN_OK;
}

/*
 * Entries named as evidence: 32-byte ids, no repeats, each stored here
 * (else the entry waits for it).
 */
static int refs_rule(kt_apply *a, const char *what, const ProtobufCBinaryData *ids, size_t n, keten_error *err)
{
	if (n > KETEN_MAX_DISPUTED)
		return keten_refuse(err, "too-many-entries", "%s names %zu entries; at most %u", what, n,
		                    KETEN_MAX_DISPUTED);
	for (size_t i = 0; i < n; i++) {
		if (ids[i].len != 32)
			return keten_refuse(err, "malformed-body", "%s names an entry id that is not 32 bytes", what);
		if (memcmp(ids[i].data, a->e->id, 32) == 0)
			return keten_refuse(err, "self-reference", "%s names itself", what);
		for (size_t j = 0; j < i; j++)
			if (memcmp(ids[i].data, ids[j].data, 32) == 0)
				return keten_refuse(err, "duplicate-reference", "%s names one entry twice", what);
	}
	for (size_t i = 0; i < n; i++)
		if (!keten_store_has_entry(a->txn, ids[i].data)) {
			memcpy(a->missing, ids[i].data, 32);
			return KETEN_EPENDING;
		}
	return KETEN_OK;
}

/*
 * The dispute a response or ruling refers to, applied here.  Waits while
 * the dispute is missing, pending or held only as a stub; refuses a
 * reference to another type or to a rejected dispute.
 */
static int dispute_ref(kt_apply *a, const ProtobufCBinaryData *ref, Keten__State__DisputeState **out, keten_error *err)
{
	keten_entry e;
	keten_status st = 0;
	char hex[65], rule[48] = "";
	uint32_t type;
	int rc;

	*out = NULL;
	if (ref->len != 32)
		return keten_refuse(err, "malformed-body", "dispute id is not 32 bytes");
	rc = kt_dispute_load(a->txn, ref->data, out, err);
	if (rc != KETEN_ENOTFOUND)
		return rc;
	keten_error_clear(err);
	if (keten_store_get_entry(a->txn, ref->data, &e, NULL) != KETEN_OK) {
		memcpy(a->missing, ref->data, 32);
		return KETEN_EPENDING;
	}
	type = e.body_type;
	keten_entry_release(&e);
	keten_hex(hex, ref->data, 32);
	if (type != KETEN__BODY_TYPE__DISPUTE) {
		const char *name = keten_body_type_name(type);
		return keten_refuse(err, "wrong-reference-type", "'%.16s' is a %s entry, not a dispute", hex,
		                    name ? name : "unknown");
	}
	keten_store_status(a->txn, ref->data, &st, rule, sizeof rule, NULL);
	if (st == KS_REJECTED)
		return keten_refuse(err, "dispute-rejected", "dispute '%.16s' was rejected here (%s)", hex, rule);
	memcpy(a->missing, ref->data, 32);
	return KETEN_EPENDING;
}

static int put_refs(keten_txn *t, const ProtobufCBinaryData *to, size_t n, const uint8_t from[32], keten_error *err)
{
	int rc = KETEN_OK;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = kt_store_put_ref(t, to[i].data, from, err);
	return rc;
}

/* Dispute ---------------------------------------------------------------------- */

static int apply_dispute(kt_apply *a, keten_error *err)
{
	Keten__Dispute *d = keten__dispute__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__DisputeState s = KETEN__STATE__DISPUTE_STATE__INIT;
	int rc;

	if (!d)
		return keten_refuse(err, "malformed-body", "dispute body does not decode");
	if (d->n_entries == 0) {
		rc = keten_refuse(err, "dispute-without-entries", "a dispute names at least one entry");
		goto out;
	}
	if ((rc = text_rule("dispute text", d->text, err)))
		goto out;
	if (d->has_amount_cents && (rc = amount_rule("amount in dispute", d->amount_cents, err)))
		goto out;
	if ((rc = refs_rule(a, "dispute", d->entries, d->n_entries, err)))
		goto out;

	s.id.data = (uint8_t *)a->e->id;
	s.id.len = 32;
	s.opener.data = (uint8_t *)a->e->author;
	s.opener.len = 32;
	s.n_entries = d->n_entries;
	s.entries = d->entries;
	s.text = d->text;
	s.has_amount_cents = 1;
	s.amount_cents = d->has_amount_cents ? d->amount_cents : 0;
	s.has_opened_ms = 1;
	s.opened_ms = a->e->timestamp_ms;
	if ((rc = dispute_save(a->txn, &s, err)))
		goto out;
	for (size_t i = 0; i < d->n_entries && rc == 0; i++) {
		uint8_t k[65];
		index_key(k, d->entries[i].data, a->e->id);
		rc = kt_kv_put(a->txn, KT_INDEX, k, sizeof k, "", 0, err);
	}
	if (rc == 0)
		rc = put_refs(a->txn, d->entries, d->n_entries, a->e->id, err);
out:
	keten__dispute__free_unpacked(d, NULL);
	return rc;
}

/* Parties --------------------------------------------------------------------- */

bool kt_dispute_is_party(keten_txn *t, const Keten__State__DisputeState *d, const uint8_t key[32])
{
	if (d->opener.len == 32 && memcmp(d->opener.data, key, 32) == 0)
		return true;
	for (size_t i = 0; i < d->n_entries; i++) {
		keten_entry e;
		bool hit;
		if (d->entries[i].len != 32 || keten_store_get_entry(t, d->entries[i].data, &e, NULL))
			continue;
		hit = memcmp(e.author, key, 32) == 0 || keten_entry_has_audience(&e, key);
		keten_entry_release(&e);
		if (hit)
			return true;
	}
	return false;
}

/* Response --------------------------------------------------------------------- */

static int apply_response(kt_apply *a, keten_error *err)
{
	Keten__Response *r = keten__response__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__DisputeState *d = NULL;
	ProtobufCBinaryData *old, *grown = NULL;
	size_t n_old;
	char hex[65];
	int rc;

	if (!r)
		return keten_refuse(err, "malformed-body", "response body does not decode");
	if ((rc = text_rule("response text", r->text, err)))
		goto out;
	if ((rc = dispute_ref(a, &r->dispute, &d, err)))
		goto out;
	if ((rc = refs_rule(a, "response", r->entries, r->n_entries, err)))
		goto out;
	if (!kt_dispute_is_party(a->txn, d, a->e->author)) {
		keten_hex(hex, d->id.data, 32);
		rc = keten_refuse(err, "not-a-party",
		                  "only a party to dispute '%.16s' (its opener, an author "
		                  "or a recipient of a disputed entry) may respond",
		                  hex);
		goto out;
	}
	old = d->responses;
	n_old = d->n_responses;
	grown = malloc((n_old + 1) * sizeof *grown);
	if (!grown) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	if (n_old)
		memcpy(grown, old, n_old * sizeof *grown);
	grown[n_old].data = (uint8_t *)a->e->id;
	grown[n_old].len = 32;
	d->responses = grown;
	d->n_responses = n_old + 1;
	rc = dispute_save(a->txn, d, err);
	d->responses = old;
	d->n_responses = n_old;
	if (rc == 0)
		rc = kt_store_put_ref(a->txn, r->dispute.data, a->e->id, err);
	if (rc == 0)
		rc = put_refs(a->txn, r->entries, r->n_entries, a->e->id, err);
out:
	free(grown);
	keten__state__dispute_state__free_unpacked(d, NULL);
	keten__response__free_unpacked(r, NULL);
	return rc;
}

/* Ruling ---------------------------------------------------------------------- */

/* Who rules, the decision, and each adjustment: two valid keys, not the same, an amount. */
static int ruling_checks(const kt_apply *a, const Keten__Ruling *r, keten_error *err)
{
	int rc;

	if (!(kt_roles(a) & ROLE_AUTHORITY))
		return kt_refuse_role(a, "ruler-not-municipality", "municipality",
		                      "only a municipality or region rules on a dispute", err);
	if ((rc = text_rule("decision", r->decision, err)))
		return rc;
	if (r->n_adjustments > KETEN_MAX_ADJUSTMENTS)
		return keten_refuse(err, "too-many-adjustments", "a ruling carries at most %u adjustments",
		                    KETEN_MAX_ADJUSTMENTS);
	for (size_t i = 0; i < r->n_adjustments; i++) {
		const Keten__Adjustment *x = r->adjustments[i];
		if (x->debtor.len != 32 || x->creditor.len != 32 || !keten_key_valid(x->debtor.data) ||
		    !keten_key_valid(x->creditor.data))
			return keten_refuse(err, "invalid-key", "adjustment %zu: debtor or creditor is not a valid key",
			                    i + 1);
		if (memcmp(x->debtor.data, x->creditor.data, 32) == 0)
			return keten_refuse(err, "debtor-is-creditor", "adjustment %zu: a party cannot owe itself",
			                    i + 1);
		if ((rc = amount_rule("adjustment amount", x->amount_cents, err)) ||
		    (rc = kt_party_valid_at(a->txn, x->debtor.data, a->e->timestamp_ms, "debtor", err)) ||
		    (rc = kt_party_valid_at(a->txn, x->creditor.data, a->e->timestamp_ms, "creditor", err)))
			return rc;
	}
	return KETEN_OK;
}

/* Save the dispute d with ruling r and its adjustments (borrowed for the save). */
static int ruling_save(const kt_apply *a, const Keten__Ruling *r, Keten__State__DisputeState *d, keten_error *err)
{
	Keten__State__DisputeAdjustment *adj = NULL, **ptrs = NULL;
	ProtobufCBinaryData old_ruling, old_ruler;
	int rc;

	KETEN_ASSERT(r->n_adjustments <= KETEN_MAX_ADJUSTMENTS && !kt_dispute_ruled(d));
	if (r->n_adjustments) {
		adj = calloc(r->n_adjustments, sizeof *adj);
		ptrs = calloc(r->n_adjustments, sizeof *ptrs);
		if (!adj || !ptrs) {
			rc = keten_fail(err, KETEN_ENOMEM, NULL);
			goto out;
		}
	}
	for (size_t i = 0; i < r->n_adjustments; i++) {
		Keten__State__DisputeAdjustment init = KETEN__STATE__DISPUTE_ADJUSTMENT__INIT;
		adj[i] = init;
		adj[i].debtor = r->adjustments[i]->debtor;
		adj[i].creditor = r->adjustments[i]->creditor;
		adj[i].amount_cents = r->adjustments[i]->amount_cents;
		ptrs[i] = &adj[i];
	}
	/* Borrow the entry's bytes for the save; give the record back its own after. */
	old_ruling = d->ruling;
	old_ruler = d->ruler;
	d->has_ruling = d->has_ruler = d->has_ruled_ms = 1;
	d->ruling.data = (uint8_t *)a->e->id;
	d->ruling.len = 32;
	d->ruler.data = (uint8_t *)a->e->author;
	d->ruler.len = 32;
	d->ruled_ms = a->e->timestamp_ms;
	d->n_adjustments = r->n_adjustments;
	d->adjustments = ptrs;
	rc = dispute_save(a->txn, d, err);
	d->ruling = old_ruling;
	d->ruler = old_ruler;
	d->n_adjustments = 0;
	d->adjustments = NULL;
out:
	free(adj);
	free(ptrs);
	return rc;
}

static int apply_ruling(kt_apply *a, keten_error *err)
{
	Keten__Ruling *r = keten__ruling__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__DisputeState *d = NULL;
	char hex[65];
	int rc;

	if (!r)
		return keten_refuse(err, "malformed-body", "ruling body does not decode");
	if ((rc = ruling_checks(a, r, err)) || (rc = dispute_ref(a, &r->dispute, &d, err)))
		goto out;
	if (kt_dispute_ruled(d)) {
		keten_hex(hex, d->id.data, 32);
		rc = keten_refuse(err, "dispute-already-ruled", "dispute '%.16s' already has a ruling", hex);
		goto out;
	}
	if ((rc = ruling_save(a, r, d, err)) == 0)
		rc = kt_store_put_ref(a->txn, r->dispute.data, a->e->id, err);
out:
	keten__state__dispute_state__free_unpacked(d, NULL);
	keten__ruling__free_unpacked(r, NULL);
	return rc;
}

int kt_dispute_apply(kt_apply *a, keten_error *err)
{
	switch (a->e->body_type) {
	case KETEN__BODY_TYPE__DISPUTE: return apply_dispute(a, err);
	case KETEN__BODY_TYPE__RESPONSE: return apply_response(a, err);
	case KETEN__BODY_TYPE__RULING: return apply_ruling(a, err);
	default: return keten_fail(err, KETEN_EINVAL, "not a dispute body");
	}
}

/* Queries ----------------------------------------------------------------------- */

struct each_ctx {
	keten_txn *t;
	bool open_only;
	kt_dispute_fn fn;
	void *ctx;
};

static int each_cb(const uint8_t *k KT_UNUSED, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct each_ctx *c = p;
	Keten__State__DisputeState *d;
	int rc = 0;

	if (kl != 33)
		return 0;
	d = keten__state__dispute_state__unpack(NULL, vl, v);
	if (!d)
		return -1;
	if (!c->open_only || !kt_dispute_ruled(d))
		rc = c->fn(c->t, d, c->ctx);
	keten__state__dispute_state__free_unpacked(d, NULL);
	return rc;
}

int kt_dispute_each(keten_txn *t, bool open_only, kt_dispute_fn fn, void *ctx, keten_error *err)
{
	struct each_ctx c = {t, open_only, fn, ctx};
	uint8_t kind = KETEN_STATE_DISPUTE;
	return kt_kv_scan(t, KT_STATE, &kind, 1, each_cb, &c, err);
}

int kt_dispute_each_open(keten_txn *t, kt_dispute_fn fn, void *ctx, keten_error *err)
{
	return kt_dispute_each(t, true, fn, ctx, err);
}

struct open_find {
	keten_txn *t;
	bool found;
};

static int open_find_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct open_find *f = p;
	Keten__State__DisputeState *d = NULL;
	if (kl != 65 || kt_dispute_load(f->t, k + 33, &d, NULL))
		return 0;
	f->found = !kt_dispute_ruled(d);
	keten__state__dispute_state__free_unpacked(d, NULL);
	return f->found ? 1 : 0;
}

bool kt_entry_under_open_dispute(keten_txn *t, const uint8_t entry[32])
{
	struct open_find f = {t, false};
	uint8_t prefix[33];
	prefix[0] = KETEN_INDEX_DISPUTED;
	memcpy(prefix + 1, entry, 32);
	if (kt_kv_scan(t, KT_INDEX, prefix, sizeof prefix, open_find_cb, &f, NULL))
		return false;
	return f.found;
}

/* Audience ---------------------------------------------------------------------- */

struct keyset {
	uint8_t (*k)[32];
	size_t n;
};

static void keyset_add(struct keyset *s, const uint8_t key[32])
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->k[i], key, 32) == 0)
			return;
	if (s->n < KETEN_MAX_AUDIENCE)
		memcpy(s->k[s->n++], key, 32);
}

static bool rules_over(const Keten__State__PartyState *p)
{
	for (size_t i = 0; i < p->n_roles; i++)
		if (p->roles[i] == KETEN__ROLE__MUNICIPALITY || p->roles[i] == KETEN__ROLE__REGION)
			return true;
	return false;
}

struct ruler_scan {
	struct keyset *out;
	const kt_municipalities *mun;
};

/* Is party p a municipality or region certified for one of m's codes? */
static bool rules_here(const Keten__State__PartyState *p, const kt_municipalities *m)
{
	bool hit = false;
	if (!rules_over(p) || p->revoked_ms)
		return false;
	for (size_t i = 0; i < p->n_municipality && !hit; i++)
		hit = kt_municipalities_has(m, p->municipality[i]);
	return hit;
}

static int ruler_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct ruler_scan *r = p;
	Keten__State__PartyState *ps;
	if (kl != 32)
		return 0;
	ps = keten__state__party_state__unpack(NULL, vl, v);
	if (!ps)
		return 0;
	if (rules_here(ps, r->mun))
		keyset_add(r->out, k);
	keten__state__party_state__free_unpacked(ps, NULL);
	return 0;
}

/* The disputed entries' own municipalities into *m, their authors and
 * audiences into s. */
static int dispute_parties(keten_txn *t, const uint8_t (*entries)[32], size_t n, struct keyset *s, kt_municipalities *m,
                           keten_error *err)
{
	m->n = 0;
	for (size_t i = 0; i < n; i++) {
		kt_municipalities one;
		keten_entry e;
		int rc = keten_store_get_entry(t, entries[i], &e, err);
		if (rc)
			return rc;
		keyset_add(s, e.author);
		for (size_t j = 0; j < e.n_audience; j++)
			keyset_add(s, e.audience[j]);
		kt_entry_municipalities(t, &e, &one);
		for (size_t j = 0; j < one.n && m->n < KT_MAX_MUNICIPALITIES; j++)
			if (!kt_municipalities_has(m, one.code[j]))
				snprintf(m->code[m->n++], sizeof m->code[0], "%s", one.code[j]);
		keten_entry_release(&e);
	}
	return KETEN_OK;
}

/* The certifier of party key when it is an authority over the dispute:
 * a municipality or region certified for one of m's codes, or, when the
 * disputed entries' municipality is not known here, one that is a trust
 * anchor or any municipality or region. */
static void add_certifier(keten_txn *t, const uint8_t key[32], const kt_municipalities *m, struct keyset *s)
{
	Keten__State__PartyState *p = NULL, *cert = NULL;
	bool rules = false;
	if (kt_party_load(t, key, &p, NULL) != KETEN_OK)
		return;
	if (p->has_certified_by && p->certified_by.len == 32) {
		bool loaded = kt_party_load(t, p->certified_by.data, &cert, NULL) == KETEN_OK;
		if (m->n)
			rules = loaded && rules_here(cert, m);
		else
			rules = kt_is_anchor(t, p->certified_by.data) || (loaded && rules_over(cert));
		if (rules)
			keyset_add(s, p->certified_by.data);
		keten__state__party_state__free_unpacked(cert, NULL);
	}
	keten__state__party_state__free_unpacked(p, NULL);
}

int kt_dispute_audience(keten_txn *t, const uint8_t opener[32], const uint8_t (*entries)[32], size_t n,
                        uint8_t (*out)[32], size_t *n_out, keten_error *err)
{
	struct keyset s = {out, 0};
	kt_municipalities m;
	size_t core;
	int rc;

	*n_out = 0;
	keyset_add(&s, opener);
	if ((rc = dispute_parties(t, entries, n, &s, &m, err)))
		return rc;
	core = s.n;
	for (size_t i = 0; i < core; i++)
		add_certifier(t, s.k[i], &m, &s);
	if (m.n) {
		struct ruler_scan r = {&s, &m};
		rc = kt_kv_scan(t, KT_PARTIES, NULL, 0, ruler_cb, &r, err);
	}
	if (rc == 0)
		*n_out = s.n;
	return rc;
}
