/*
 * ijw_claim.c — the prestaties of a JW323 / WMO323 declaration as
 * drafts (see compose/ijw.h, docs/ijw.md): a debit line is a claim on
 * the allocation its ToewijzingNummer names (on the day its
 * ProductPeriode begins, along any changes), with the DeclaratieNummer
 * and ReferentieNummer as its number, the ProductPeriode as its period,
 * the DeclaratieDagtekening as its date and the IngediendBedrag as its
 * amount; a credit line voids the live claim whose ReferentieNummer its
 * VorigReferentieNummer names (keten voids whole claims, so the credit
 * is for the claim's whole amount).  Credits are drafted before debits,
 * so that a corrected line sent as credit and debit in one message
 * claims what the credit freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/ijw.h"
#include "base/base.h"
#include "rules/terms.h"

/* What the message's own lines free or take, per allocation and installment. */
struct taken {
	uint8_t target[32];
	char installment[16];
	bool freed; /* credited here; else claimed here */
};

struct claims {
	struct taken *t;
	size_t n;
};

static int take(struct claims *c, const uint8_t target[32], const char *installment, bool freed)
{
	struct taken *t = realloc(c->t, (c->n + 1) * sizeof *t);
	if (!t)
		return KETEN_ENOMEM;
	c->t = t;
	memcpy(t[c->n].target, target, 32);
	snprintf(t[c->n].installment, sizeof t[c->n].installment, "%s", installment ? installment : "");
	t[c->n++].freed = freed;
	return KETEN_OK;
}

/* Is the installment claimed on target, by a live claim not credited here or a line of this message? */
static bool claimed(kt_ijw_job *j, const struct claims *c, const uint8_t target[32], const char *installment)
{
	bool live = kt_index_has(j->t, DX_INSTALLMENT, target, 32, installment, strlen(installment));

	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->t[i].target, target, 32) == 0 && strcmp(c->t[i].installment, installment) == 0)
			live = !c->t[i].freed;
	return live;
}

static bool credited_here(const struct claims *c, const uint8_t target[32])
{
	for (size_t i = 0; i < c->n; i++)
		if (c->t[i].freed && memcmp(c->t[i].target, target, 32) == 0)
			return true;
	return false;
}

static int map_credit(kt_ijw_job *j, const char *part, const keten_ijw_prestatie *p, struct claims *c)
{
	Keten__State__ClaimState *ks = NULL;
	keten_error e = {0};
	uint8_t id[32];
	int64_t amount;
	keten_draft *d;
	char reason[80];
	int rc;

	if (!p->previous[0])
		return kt_ijw_refuse(j, part, "ijw-claim",
		                     "a credit line names the line it credits in VorigReferentieNummer");
	if (kt_ijw_claim_by_reference(j, p->previous, id, &amount, &e))
		return kt_ijw_fault(j, part, "ijw-claim", &e);
	if (amount != p->amount_cents)
		return kt_ijw_refuse(
			j, part, "ijw-claim",
			"a credit of %lld cents does not void the claim of ReferentieNummer '%s' (%lld cents): "
			"keten voids whole claims",
			(long long)p->amount_cents, p->previous, (long long)amount);
	if (kt_state_get(j->t, DK_CLAIM, id, &keten__state__claim_state__descriptor, (void **)&ks, NULL) == KETEN_OK &&
	    ks->target.len == 32)
		rc = take(c, ks->target.data, ks->installment, true);
	else
		rc = KETEN_OK;
	kt_state_free(ks);
	if (rc)
		return rc;
	snprintf(reason, sizeof reason, "iJw credit %s/%s of %s", j->m->claim_number, p->reference, p->previous);
	if (!(d = kt_ijw_draft(j, part, KETEN_DRAFT_CORRECTION)))
		return KETEN_ENOMEM;
	memcpy(d->correction.entry, id, 32);
	d->correction.reason = kt_ijw_keep(j, strdup(reason));
	return d->correction.reason ? KETEN_OK : KETEN_ENOMEM;
}

/* The installment a debit line claims on allocation as (id). */
static int installment_of(kt_ijw_job *j, const char *part, const keten_ijw_prestatie *p,
                          const Keten__State__AllocationState *as, const uint8_t id[32], const struct claims *c,
                          const char **inst)
{
	char buf[16];

	*inst = NULL;
	if (as->kind == KETEN__KIND__COMPONENT) {
		*inst = "units";
	} else if (as->kind == KETEN__KIND__DUURZAAM) {
		if (p->period_from / 100 != p->period_until / 100)
			return kt_ijw_refuse(
				j, part, "ijw-claim",
				"ProductPeriode spans more than one month: a duurzaam arrangement is claimed per "
				"month");
		snprintf(buf, sizeof buf, "%04u-%02u", p->period_from / 10000, p->period_from / 100 % 100);
		if (!(*inst = kt_ijw_keep(j, strdup(buf))))
			return KETEN_ENOMEM;
	} else if (credited_here(c, id) || claimed(j, c, id, "upfront")) {
		/* herstel: upfront, then final; the composer's default unless a credit here freed one */
		*inst = claimed(j, c, id, "upfront") ? "final" : "upfront";
	}
	return KETEN_OK;
}

static int map_debit(kt_ijw_job *j, const char *part, const keten_ijw_prestatie *p, struct claims *c)
{
	Keten__State__AllocationState *as = NULL;
	const char *inst = NULL;
	char number[64];
	uint8_t id[32];
	keten_draft *d;
	int rc;

	if ((rc = kt_ijw_named(j, part, j->m->receiver, p->number, false, id, &as)))
		return rc;
	kt_ijw_current_on(j, id, p->period_from, &as);
	if (!kt_ijw_maps_to(j, as, p->category, p->code))
		rc = kt_ijw_refuse(j, part, "ijw-product",
		                   "Product %s/%s is not the arrangement of ToewijzingNummer '%s'", p->category,
		                   p->code, p->number);
	if (rc == KETEN_OK)
		rc = installment_of(j, part, p, as, id, c, &inst);
	if (rc == KETEN_OK && as->kind == KETEN__KIND__HERSTEL)
		rc = take(c, id, inst ? inst : claimed(j, c, id, "upfront") ? "final" : "upfront", false);
	kt_state_free(as);
	if (rc)
		return rc;
	snprintf(number, sizeof number, "%s/%s", j->m->claim_number, p->reference);
	if (!(d = kt_ijw_draft(j, part, KETEN_DRAFT_CLAIM)))
		return KETEN_ENOMEM;
	memcpy(d->claim.target, id, 32);
	d->claim.installment = inst;
	d->claim.has_amount = true;
	d->claim.amount_cents = p->amount_cents;
	d->claim.number = kt_ijw_keep(j, strdup(number));
	d->claim.date = j->m->claim_date;
	d->claim.period_from = p->period_from;
	d->claim.period_until = p->period_until;
	return d->claim.number ? KETEN_OK : KETEN_ENOMEM;
}

int kt_ijw_map_claim(kt_ijw_job *j)
{
	const keten_ijw_message *m = j->m;
	struct claims c = {0};
	int rc;

	if ((rc = kt_ijw_lead_sends(j)))
		return rc;
	/* credits first: what they free, the debits may claim */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < m->n_prestaties; i++) {
			const keten_ijw_prestatie *p = &m->prestaties[i];
			char part[40];
			int r;
			if (p->credit != (pass == 0))
				continue;
			snprintf(part, sizeof part, "Prestatie %zu", i + 1);
			r = p->credit ? map_credit(j, part, p, &c) : map_debit(j, part, p, &c);
			if (r == KETEN_ENOMEM) {
				free(c.t);
				return r;
			}
			rc = rc ? rc : r;
		}
	free(c.t);
	return rc;
}
