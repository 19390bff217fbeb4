/*
 * dispute.c — composing disputes, responses and rulings.  A dispute goes
 * to the audience rules/dispute.h computes (its opener, the authors and
 * readers of the disputed entries, their municipalities); a response or
 * ruling goes to the dispute's own audience.  Who may respond or rule is
 * the ledger's rule.
 */
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "rules/dispute.h"

_Static_assert(KETEN_DRAFT_MAX_DISPUTED == KETEN_MAX_DISPUTED && KETEN_DRAFT_MAX_OWES == KETEN_MAX_ADJUSTMENTS,
               "the public limits are the ledger's");

/* The audience of an existing dispute: its entry's audience. */
static int dispute_audience(kt_compose *x, const uint8_t id[32], keten_composed *c, keten_error *err)
{
	keten_entry e;
	int rc = keten_store_get_entry(x->t, id, &e, err);
	if (rc)
		return rc;
	c->n_audience = 0;
	for (size_t i = 0; i < e.n_audience; i++)
		memcpy(c->audience[c->n_audience++], e.audience[i], 32);
	keten_entry_release(&e);
	return KETEN_OK;
}

int kt_compose_dispute(kt_compose *x, const keten_draft_dispute *d, keten_composed *c, keten_error *err)
{
	Keten__Dispute k = KETEN__DISPUTE__INIT;
	int rc;

	if (d->n_entries == 0 || d->n_entries > KETEN_MAX_DISPUTED)
		return keten_fail(err, KETEN_EINVAL, "a dispute names 1 to %u entries", KETEN_MAX_DISPUTED);
	if ((rc = kt_dispute_audience(x->t, x->info->key, d->entries, d->n_entries, c->audience, &c->n_audience, err)))
		return rc;
	k.text = (char *)(d->text ? d->text : "");
	k.has_amount_cents = d->has_amount;
	k.amount_cents = d->amount_cents;
	k.n_entries = d->n_entries;
	if (!(k.entries = kt_bins(d->entries, d->n_entries)))
		return keten_fail(err, KETEN_ENOMEM, "out of memory composing a dispute");
	rc = kt_compose_pack(c, KETEN__BODY_TYPE__DISPUTE, &k.base, err);
	free(k.entries);
	c->amount_cents = d->has_amount ? d->amount_cents : -1;
	return rc;
}

int kt_compose_response(kt_compose *x, const keten_draft_response *d, keten_composed *c, keten_error *err)
{
	Keten__Response r = KETEN__RESPONSE__INIT;
	int rc;

	if (d->n_entries > KETEN_MAX_DISPUTED)
		return keten_fail(err, KETEN_EINVAL, "a response names at most %u entries", KETEN_MAX_DISPUTED);
	if ((rc = dispute_audience(x, d->dispute, c, err)))
		return rc;
	r.dispute = kt_bin32(d->dispute);
	r.text = (char *)(d->text ? d->text : "");
	r.n_entries = d->n_entries;
	if (!(r.entries = kt_bins(d->entries, d->n_entries)))
		return keten_fail(err, KETEN_ENOMEM, "out of memory composing a response");
	rc = kt_compose_pack(c, KETEN__BODY_TYPE__RESPONSE, &r.base, err);
	free(r.entries);
	return rc;
}

int kt_compose_ruling(kt_compose *x, const keten_draft_ruling *d, keten_composed *c, keten_error *err)
{
	Keten__Ruling r = KETEN__RULING__INIT;
	Keten__Adjustment adj[KETEN_MAX_ADJUSTMENTS], *ptrs[KETEN_MAX_ADJUSTMENTS];
	int rc;

	if (d->n_owes > KETEN_MAX_ADJUSTMENTS)
		return keten_fail(err, KETEN_EINVAL, "a ruling carries at most %u adjustments", KETEN_MAX_ADJUSTMENTS);
	if ((rc = dispute_audience(x, d->dispute, c, err)))
		return rc;
	for (size_t i = 0; i < d->n_owes; i++) {
		keten__adjustment__init(&adj[i]);
		adj[i].debtor = kt_bin32(d->owes[i].debtor);
		adj[i].creditor = kt_bin32(d->owes[i].creditor);
		adj[i].amount_cents = d->owes[i].amount_cents;
		ptrs[i] = &adj[i];
	}
	r.dispute = kt_bin32(d->dispute);
	r.decision = (char *)(d->decision ? d->decision : "");
	r.n_adjustments = d->n_owes;
	r.adjustments = ptrs;
	return kt_compose_pack(c, KETEN__BODY_TYPE__RULING, &r.base, err);
}
