/*
 * party.c — composing party certificates and revocations, and the plain
 * listing of the parties certified here (keten/party.h) that `keten party
 * list` prints.  Who may certify and revoke is the ledger's rule
 * (rules/party.c); certificates and revocations are public entries.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "compose/compose.h"
#include "base/base.h"
#include "rules/rules.h"

#define SAME(a, b) ((int)(a) == (int)(b)) /* one value in two enums */

_Static_assert(SAME(KETEN_ROLE_REGION, KETEN__ROLE__REGION) &&
                       SAME(KETEN_ROLE_MUNICIPALITY, KETEN__ROLE__MUNICIPALITY) &&
                       SAME(KETEN_ROLE_LEAD_PROVIDER, KETEN__ROLE__LEAD_PROVIDER) &&
                       SAME(KETEN_ROLE_SUBCONTRACTOR, KETEN__ROLE__SUBCONTRACTOR) &&
                       SAME(KETEN_ROLE_AUDITOR, KETEN__ROLE__AUDITOR),
               "keten_role follows the ledger's Role");

int kt_compose_certificate(kt_compose *x KT_UNUSED, const keten_draft_certificate *d, keten_composed *c,
                           keten_error *err)
{
	Keten__PartyCertificate pc = KETEN__PARTY_CERTIFICATE__INIT;
	pc.key = kt_bin32(d->key);
	pc.name = (char *)(d->name ? d->name : "");
	pc.n_roles = d->n_roles;
	pc.roles = (uint32_t *)d->roles;
	pc.agb = (char *)d->agb;
	pc.kvk = (char *)d->kvk;
	pc.n_municipality = d->n_municipalities;
	pc.municipality = (char **)d->municipalities;
	pc.has_valid_from = d->valid_from != 0;
	pc.valid_from = d->valid_from;
	pc.has_valid_until = d->valid_until != 0;
	pc.valid_until = d->valid_until;
	/* certificates are public: every party may read who is who */
	return kt_compose_pack(c, KETEN__BODY_TYPE__PARTY_CERTIFICATE, &pc.base, err);
}

int kt_compose_revocation(kt_compose *x KT_UNUSED, const keten_draft_revocation *d, keten_composed *c, keten_error *err)
{
	Keten__Revocation r = KETEN__REVOCATION__INIT;
	r.key = kt_bin32(d->key);
	r.reason = (char *)(d->reason ? d->reason : "");
	if (d->at) {
		/* midnight Amsterdam time, taken as 23:00 UTC the day before (CET) */
		r.effective_ms = (keten_date_days(d->at) * 86400 - 3600) * 1000;
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r.effective_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	return kt_compose_pack(c, KETEN__BODY_TYPE__REVOCATION, &r.base, err);
}

/* Listing ------------------------------------------------------------------------------ */

struct each_ctx {
	keten_txn *t;
	keten_party_fn fn;
	void *ctx;
	bool stopped;
};

static int each_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct each_ctx *e = p;
	Keten__State__PartyState *ps;
	keten_party_view pv;
	int r;

	if (kl != 32 || !(ps = keten__state__party_state__unpack(NULL, vl, v)))
		return 0;
	memset(&pv, 0, sizeof pv);
	memcpy(pv.key, k, 32);
	pv.name = ps->name ? ps->name : "";
	for (size_t i = 0; i < ps->n_roles; i++) {
		const char *rn = keten_role_name(ps->roles[i]);
		size_t u = strlen(pv.roles);
		snprintf(pv.roles + u, sizeof pv.roles - u, "%s%s", u ? "," : "", rn ? rn : "?");
	}
	pv.status = ps->forked ? "forked" : ps->revoked_ms ? "revoked" : "valid";
	if (!ps->forked && !ps->revoked_ms && ps->valid_until && ps->valid_until < keten_today())
		pv.status = "expired";
	pv.anchor = kt_is_anchor(e->t, k);
	pv.agb = ps->agb;
	pv.municipality = ps->n_municipality ? ps->municipality[0] : NULL;
	pv.valid_from = ps->valid_from;
	pv.valid_until = ps->valid_until;
	r = e->fn(&pv, e->ctx);
	keten__state__party_state__free_unpacked(ps, NULL);
	e->stopped = r < 0;
	return r;
}

int keten_party_each(keten_txn *t, keten_party_fn fn, void *ctx, keten_error *err)
{
	struct each_ctx e = {.t = t, .fn = fn, .ctx = ctx};
	int rc;

	if (!t || !fn)
		return keten_fail(err, KETEN_EINVAL, "no transaction or callback");
	rc = kt_kv_scan(t, KT_PARTIES, NULL, 0, each_cb, &e, err);
	if (e.stopped)
		return keten_fail(err, KETEN_EINVAL, "the party walk was stopped");
	return rc;
}
