/*
 * claim.c — body rules and derived state of claims (declaraties).  Only
 * the payee of an allocation (its lead provider) or of an accepted
 * subcontract (its subcontractor) claims on it; the installment must fit
 * the target's kind or pricing and fall inside the agreed period; an
 * installment other than "units" is claimed once.  A claim above what the
 * agreement says is recorded as a finding, never refused.  A claim moves
 * its target's claimed counter and the pair's claimed balance by its
 * amount.  Part of the money flow (rules/flow.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rules/change.h"
#include "rules/flow.h"
#include "base/base.h"

/* A claim being checked, and what its target says. */
struct claim_ctx {
	kt_apply *a;
	Keten__Claim *c;
	Keten__State__AllocationState *as; /* the target, when an allocation */
	Keten__State__OfferState *os;      /* the target, when a subcontract */
	Keten__State__ContractState *cs;   /* an allocation's contract */
	const uint8_t *payer, *payee, *muni;
	uint32_t start, end, term;
	int64_t agreed, claimed; /* the target's agreed amount (0: none) and claims so far */
	bool upfront_final, month, units;
	bool replaced; /* received: an up-front or final part of a replaced allocation */
};

static bool is_month(const char *s)
{
	uint32_t ym;
	return keten_parse_period(s, &ym) == 0;
}

static const char *kind_installments(uint32_t kind)
{
	return kind == KETEN__KIND__HERSTEL     ? "herstel (upfront, final)"
		: kind == KETEN__KIND__DUURZAAM ? "duurzaam (YYYY-MM)"
						: "component (units, YYYY-MM)";
}

static int claim_on_allocation(struct claim_ctx *x, keten_error *err)
{
	kt_apply *a = x->a;
	Keten__State__AllocationState *as;
	int rc;

	if ((rc = kt_load_allocation(a->txn, x->c->target.data, &x->as, err)))
		return rc;
	as = x->as;
	KETEN_ASSERT(as != NULL && x->os == NULL);
	x->payee = as->provider.data;
	x->payer = x->muni = as->author.data;
	if (as->voided && a->local)
		return keten_refuse(err, "entry-void", "the allocation was voided");
	x->start = as->start;
	x->end = as->end;
	if ((rc = kt_state_get(a->txn, DK_CONTRACT, as->contract.data, &keten__state__contract_state__descriptor,
	                       (void **)&x->cs, err)))
		return rc;
	x->term = x->cs->payment_term_days;
	x->agreed = as->amount_cents;
	x->claimed = as->claimed_cents;
	if ((as->kind == KETEN__KIND__HERSTEL && !x->upfront_final) ||
	    (as->kind == KETEN__KIND__DUURZAAM && !x->month) ||
	    (as->kind == KETEN__KIND__COMPONENT && !x->units && !x->month))
		return keten_refuse(err, "invalid-installment", "installment '%s' does not fit a %s allocation",
		                    x->c->installment, kind_installments(as->kind));
	/* a change carried the up-front part over and ended the final part:
	 * the provider's claim depends on the municipality's entry, so only
	 * local claims are refused (a received one is marked) */
	if (kt_replaced(as) && x->upfront_final) {
		if (a->local)
			return keten_refuse(
				err, "allocation-replaced",
				"the allocation was replaced (reason %s): its %s part is no longer claimable, "
				"claim on the replacement",
				as->change_reason ? as->change_reason : "-", x->c->installment);
		x->replaced = true;
	}
	return KETEN_OK;
}

static int claim_on_offer(struct claim_ctx *x, keten_error *err)
{
	kt_apply *a = x->a;
	Keten__State__OfferState *os;
	int rc;

	if ((rc = kt_load_offer(a->txn, x->c->target.data, &x->os, err)))
		return rc;
	os = x->os;
	KETEN_ASSERT(os != NULL && x->as == NULL);
	x->payee = os->subcontractor.data;
	x->payer = os->author.data;
	x->muni = os->municipality_key.data;
	if (!os->accepted || (os->voided && a->local))
		return keten_refuse(err, os->accepted ? "entry-void" : "offer-not-accepted",
		                    "the subcontract is not accepted");
	x->start = os->start;
	x->end = os->end;
	x->term = os->payment_term_days;
	x->agreed = os->pricing == KETEN__PRICING__MONTHLY ? 0 : os->amount_cents;
	x->claimed = os->claimed_cents;
	if ((os->pricing == KETEN__PRICING__MONTHLY && !x->month) || (!x->upfront_final && !x->month && !x->units) ||
	    (os->pricing == KETEN__PRICING__PER_UNIT && x->upfront_final))
		return keten_refuse(err, "invalid-installment", "installment '%s' does not fit this subcontract",
		                    x->c->installment);
	return KETEN_OK;
}

/* Who claims, how much, for which month, and whether it was claimed before. */
static int claim_checks(struct claim_ctx *x, keten_error *err)
{
	const Keten__Claim *c = x->c;

	KETEN_ASSERT(x->payee != NULL && c->target.len == 32);
	if (memcmp(x->payee, x->a->e->author, 32) != 0)
		return keten_refuse(err, "not-payee", "only the payee (the %s) claims on it",
		                    x->os ? "subcontractor" : "allocation's lead provider");
	if (c->amount_cents <= 0)
		return keten_refuse(err, "invalid-amount", "a claim amount must be above zero");
	if (c->amount_cents > KETEN_MAX_CENTS)
		return keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
	if (x->month) {
		uint32_t ym;
		keten_parse_period(c->installment, &ym);
		if (!kt_month_in(ym, x->start, x->end))
			return keten_refuse(err, "date-outside-validity", "month %s is outside the agreed period",
			                    c->installment);
	}
	if (!x->units &&
	    kt_index_has(x->a->txn, DX_INSTALLMENT, c->target.data, 32, c->installment, strlen(c->installment)))
		return keten_refuse(err, "installment-claimed",
		                    "installment '%s' is already claimed (void that claim first)", c->installment);
	return KETEN_OK;
}

/* Every delivery the claim names is a live delivery on the same target. */
static int claim_deliveries(struct claim_ctx *x, keten_error *err)
{
	const Keten__Claim *c = x->c;
	uint32_t type;
	int rc;

	KETEN_ASSERT(c->target.len == 32);
	for (size_t i = 0; i < c->n_deliveries; i++) {
		Keten__State__DeliveryState *ds = NULL;
		bool other;
		if ((rc = kt_ref(x->a, c->deliveries[i].data, c->deliveries[i].len,
		                 TYPE_BIT(KETEN__BODY_TYPE__DELIVERY), &type, err)))
			return rc;
		if ((rc = kt_state_get(x->a->txn, DK_DELIVERY, c->deliveries[i].data,
		                       &keten__state__delivery_state__descriptor, (void **)&ds, err)))
			return rc;
		other = memcmp(ds->target.data, c->target.data, 32) != 0;
		if (other || (ds->voided && x->a->local))
			rc = keten_refuse(err, ds->voided ? "entry-void" : "delivery-other-target",
			                  "a referenced delivery is %s",
			                  ds->voided ? "void" : "for another subcontract or allocation");
		kt_state_free(ds);
		if (rc)
			return rc;
	}
	return KETEN_OK;
}

/* The soft findings of a claim, into findings[0..4); returns their count. */
static size_t claim_findings(const struct claim_ctx *x, char *findings[4])
{
	const Keten__Claim *c = x->c;
	int64_t expect, total;
	size_t nf = 0;

	if (kt_expected_claim(x->a->txn, c->target.data, c->installment, (const uint8_t(*)[32])NULL, 0, &expect,
	                      NULL) == 0 &&
	    !(x->units && c->n_deliveries) && c->amount_cents > expect)
		findings[nf++] = "claim-above-agreed";
	if (x->agreed > 0 && keten_add_cents(x->claimed, c->amount_cents, &total) && total > x->agreed)
		findings[nf++] = "claims-above-agreed";
	if (x->as && x->as->kind == KETEN__KIND__HERSTEL && strcmp(c->installment, "final") == 0 && !x->as->closed)
		findings[nf++] = "final-without-result";
	if (x->replaced)
		findings[nf++] = "claim-after-replacement";
	KETEN_ASSERT(nf <= 4);
	return nf;
}

/* Store the claim's record and move its target and balance by its amount. */
static int claim_record(const struct claim_ctx *x, char **findings, size_t nf, keten_error *err)
{
	const kt_apply *a = x->a;
	const Keten__Claim *c = x->c;
	Keten__State__ClaimState st = KETEN__STATE__CLAIM_STATE__INIT;
	int rc;

	KETEN_ASSERT(c->amount_cents > 0 && c->amount_cents <= KETEN_MAX_CENTS);
	st.id.data = (uint8_t *)a->e->id;
	st.id.len = 32;
	st.author.data = (uint8_t *)a->e->author;
	st.author.len = 32;
	st.payer.data = (uint8_t *)x->payer;
	st.payer.len = 32;
	st.target = c->target;
	st.has_allocation = st.has_municipality_key = 1;
	st.allocation = x->as ? x->as->id : x->os->allocation;
	st.municipality_key.data = (uint8_t *)x->muni;
	st.municipality_key.len = 32;
	st.installment = c->installment;
	st.has_amount_cents = st.has_date = st.has_payment_term_days = 1;
	st.amount_cents = c->amount_cents;
	st.date = kt_entry_date(a);
	st.payment_term_days = x->term;
	st.findings = findings;
	st.n_findings = nf;
	if ((rc = kt_state_put(a->txn, DK_CLAIM, a->e->id, &st, err)) ||
	    (rc = kt_adjust_target(a->txn, c->target.data, c->amount_cents, 0, 0, err)) ||
	    (rc = kt_balance_add(a->txn, x->payer, x->payee, st.date, BAL_CLAIMED, c->amount_cents, err)))
		return rc;
	if (x->units)
		return KETEN_OK;
	return kt_index_put(a->txn, DX_INSTALLMENT, c->target.data, 32, c->installment, strlen(c->installment), err);
}

int kt_rule_claim(kt_apply *a, keten_error *err)
{
	struct claim_ctx x = {.a = a};
	char *findings[4];
	uint32_t type;
	int rc;

	x.c = keten__claim__unpack(NULL, a->e->body_len, a->e->body);
	if (!x.c)
		return keten_refuse(err, "malformed-body", "claim body does not decode");
	if ((rc = kt_ref(a, x.c->target.data, x.c->target.len, KT_ALLOC_BIT | KT_OFFER_BIT, &type, err)))
		goto out;
	x.upfront_final = strcmp(x.c->installment, "upfront") == 0 || strcmp(x.c->installment, "final") == 0;
	x.month = is_month(x.c->installment);
	x.units = strcmp(x.c->installment, "units") == 0;
	KETEN_ASSERT(x.upfront_final + x.month + x.units <= 1);
	rc = type == KETEN__BODY_TYPE__ALLOCATION ? claim_on_allocation(&x, err) : claim_on_offer(&x, err);
	if (rc)
		goto out;
	KETEN_ASSERT((x.as != NULL) != (x.os != NULL));
	KETEN_ASSERT(x.payer && x.payee);
	if ((rc = claim_checks(&x, err)) || (rc = claim_deliveries(&x, err)))
		goto out;
	rc = claim_record(&x, findings, claim_findings(&x, findings), err);
out:
	kt_state_free(x.as);
	kt_state_free(x.os);
	kt_state_free(x.cs);
	keten__claim__free_unpacked(x.c, NULL);
	return rc;
}
