/*
 * know.c — need-to-know: who may read an entry's body (the rule in
 * keten/sync.h; the server sends everyone else the stub, and the client
 * asks only for bodies it may read: for an auditor, those of its
 * municipalities, rules/whose.c), and who may sync at all (a trust
 * anchor, or a party certified by one and not revoked), for both ends of
 * the handshake.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rules/rules.h"
#include "sync/sync.h"
#include "base/base.h"

static void reader_load(keten_txn *t, struct kt_reader *r)
{
	Keten__State__PartyState *p = NULL;
	r->loaded = true;
	if (kt_party_load(t, r->key, &p, NULL) != KETEN_OK)
		return;
	for (size_t i = 0; i < p->n_roles; i++)
		if (p->roles[i] == KETEN__ROLE__AUDITOR)
			r->auditor = true;
	if (p->revoked_ms)
		r->auditor = false;
	for (size_t i = 0; i < p->n_municipality && r->mun.n < KT_MAX_MUNICIPALITIES; i++)
		if (p->municipality[i] && strlen(p->municipality[i]) < sizeof r->mun.code[0])
			snprintf(r->mun.code[r->mun.n++], sizeof r->mun.code[0], "%s", p->municipality[i]);
	keten__state__party_state__free_unpacked(p, NULL);
}

/* Is some municipality of party `key` one of the auditor's? */
static bool shares_municipality(keten_txn *t, const struct kt_reader *r, const uint8_t key[32])
{
	Keten__State__PartyState *p = NULL;
	bool hit = false;
	if (kt_party_load(t, key, &p, NULL) != KETEN_OK)
		return false;
	for (size_t i = 0; i < p->n_municipality && !hit; i++)
		hit = kt_municipalities_has(&r->mun, p->municipality[i]);
	keten__state__party_state__free_unpacked(p, NULL);
	return hit;
}

/* Author, audience, or published to all. */
static bool reader_named(const struct kt_reader *r, const keten_entry *e)
{
	return e->n_audience == 0 || memcmp(e->author, r->key, 32) == 0 || keten_entry_has_audience(e, r->key);
}

bool kt_reader_may(keten_txn *t, struct kt_reader *r, const keten_entry *e)
{
	kt_municipalities m;
	if (reader_named(r, e))
		return true;
	if (!r->loaded)
		reader_load(t, r);
	if (!r->auditor)
		return false;
	/* an auditor: the entry's own municipality, not its parties' */
	kt_entry_municipalities(t, e, &m);
	for (size_t i = 0; i < m.n; i++)
		if (kt_municipalities_has(&r->mun, m.code[i]))
			return true;
	return false;
}

bool kt_reader_might(keten_txn *t, struct kt_reader *r, const keten_entry *e)
{
	if (e->has_body || reader_named(r, e))
		return kt_reader_may(t, r, e);
	if (!r->loaded)
		reader_load(t, r);
	if (!r->auditor)
		return false;
	for (size_t i = 0; i < e->n_audience; i++)
		if (shares_municipality(t, r, e->audience[i]))
			return true;
	return false;
}

bool keten_sync_may_read(keten_txn *t, const keten_entry *e, const uint8_t key[32])
{
	struct kt_reader r = {.key = key};
	return kt_reader_may(t, &r, e);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* May this key sync with us: a trust anchor, or certified and not revoked. */
int kt_sync_peer_allowed(keten_ledger *L, const uint8_t key[32], char *name, size_t nlen, keten_error *err)
{
	keten_txn *t;
	uint32_t roles;
	bool anchor;
	Keten__State__PartyState *p = NULL;
	int rc = keten_store_read(keten_ledger_store(L), &t, err);
	if (rc)
		return rc;
	rc = kt_party_authorized(t, key, wall_ms(), &roles, &anchor, err);
	if (name && nlen) {
		const void *v;
		size_t n;
		name[0] = 0;
		if (kt_party_load(t, key, &p, NULL) == KETEN_OK && p->name)
			snprintf(name, nlen, "%s", p->name);
		else if (kt_kv_get(t, KT_TRUST, key, 32, &v, &n, NULL) == KETEN_OK)
			snprintf(name, nlen, "%.*s", (int)strnlen(v, n), (const char *)v);
		keten__state__party_state__free_unpacked(p, NULL);
	}
	keten_txn_end(t);
	return rc;
}

bool kt_sync_is_anchor(keten_ledger *L, const uint8_t key[32])
{
	keten_txn *t;
	bool yes;
	if (keten_store_read(keten_ledger_store(L), &t, NULL) != KETEN_OK)
		return false;
	yes = kt_is_anchor(t, key);
	keten_txn_end(t);
	return yes;
}

struct revocations {
	const uint8_t *key, *certifier;
	keten_txn *t;
	uint64_t top;
};

/* by_type: type || timestamp || id; a revocation of r->key by its certifier. */
static int revocation_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct revocations *r = p;
	Keten__Revocation *rv;
	keten_entry e;
	if (kl < 44 || keten_store_get_entry(r->t, k + 12, &e, NULL))
		return 0;
	if (e.has_body && memcmp(e.author, r->certifier, 32) == 0 &&
	    (rv = keten__revocation__unpack(NULL, e.body_len, e.body))) {
		if (rv->key.len == 32 && memcmp(rv->key.data, r->key, 32) == 0 && e.seq > r->top)
			r->top = e.seq;
		keten__revocation__free_unpacked(rv, NULL);
	}
	keten_entry_release(&e);
	return 0;
}

bool kt_sync_credential(keten_txn *t, const uint8_t key[32], uint8_t certifier[32], uint64_t *seq, uint64_t *top)
{
	Keten__State__PartyState *p = NULL;
	struct revocations r = {.key = key, .certifier = certifier, .t = t};
	keten_entry e;
	uint8_t prefix[4];
	bool ok = false;

	memset(certifier, 0, 32);
	*seq = 0;
	if (top)
		*top = 0;
	if (kt_is_anchor(t, key) || kt_party_load(t, key, &p, NULL) != KETEN_OK)
		return false;
	if (p->has_certificate && p->certificate.len == 32 &&
	    keten_store_get_entry(t, p->certificate.data, &e, NULL) == KETEN_OK) {
		memcpy(certifier, e.author, 32);
		*seq = e.seq;
		ok = e.has_body;
		keten_entry_release(&e);
	}
	keten__state__party_state__free_unpacked(p, NULL);
	if (ok && top) {
		r.top = *seq;
		kt_be32(prefix, KETEN__BODY_TYPE__REVOCATION);
		kt_kv_scan(t, KT_BY_TYPE, prefix, 4, revocation_cb, &r, NULL);
		*top = r.top;
	}
	return ok;
}
