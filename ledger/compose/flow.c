/*
 * flow.c — composing the entries of the money flow: subcontract offers
 * and their answers, deliveries, claims, payments, receipts, results,
 * resumes, clawbacks and corrections (see keten/record.h for the audiences and
 * defaults).  The default installment of a claim is decided here and
 * nowhere else; the amounts follow from the agreement through
 * rules/terms.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "base/base.h"
#include "rules/change.h"
#include "rules/terms.h"

static Keten__State__AllocationState *alloc_state(const kt_compose *x, const uint8_t id[32])
{
	void *m = NULL;
	kt_state_get(x->t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, &m, NULL);
	return m;
}

static Keten__State__OfferState *offer_state(const kt_compose *x, const uint8_t id[32])
{
	void *m = NULL;
	kt_state_get(x->t, DK_OFFER, id, &keten__state__offer_state__descriptor, &m, NULL);
	return m;
}

/* An optional text: "" is none, as an empty column of a batch row is. */
static char *opt_text(const char *s)
{
	return s && *s ? (char *)s : NULL;
}

/* subcontract ----------------------------------------------------------------------- */

/* An offer without a price of its own, priced from the service's line in
 * the contract's subcontract tariffs: units x its tariff as signed, in
 * its unit; or its share of what is subcontracted (the
 * allocation as, or the subcontract os passed on), per month on monthly
 * work, else a fixed amount (terms.h: kt_share_of). */
static int table_price(const kt_compose *x, const keten_draft_subcontract *d, const uint8_t contract[32],
                       const Keten__State__AllocationState *as, const Keten__State__OfferState *os,
                       Keten__SubcontractOffer *o, keten_error *err)
{
	Keten__State__ContractState *cs = NULL;
	Keten__FrameworkContract *fc = NULL;
	const Keten__SubTariff *l;
	bool monthly;
	int rc = KETEN_OK;

	if ((!as && !os) ||
	    kt_state_get(x->t, DK_CONTRACT, contract, &keten__state__contract_state__descriptor, (void **)&cs, NULL) ||
	    kt_contract_body(x->t, contract, &fc, NULL)) {
		kt_state_free(cs);
		return keten_fail(err, KETEN_ENOTFOUND, "the contract of what is subcontracted is not held here");
	}
	if (!(l = kt_sub_tariff(fc, d->service))) /* nothing to price it by, whatever the rule */
		rc = keten_refuse(err, "not-subcontract-tariff",
		                  "service '%s' is not in the subcontract tariffs of contract '%s'", d->service,
		                  cs->ref);
	else if (l->has_share_bp && d->units)
		rc = keten_fail(err, KETEN_EINVAL, "service '%s' is priced as a share of the arrangement: no units",
		                d->service);
	else if (!l->has_share_bp && d->units <= 0)
		rc = keten_fail(err, KETEN_EINVAL, "service '%s' is priced per %s: give the units", d->service,
		                l->unit);
	else if (l->has_share_bp && !kt_share_of(as, os, l->share_bp, &o->amount_cents, &monthly))
		rc = keten_fail(err, KETEN_EINVAL, "the share of what is subcontracted rounds to nothing");
	if (rc == KETEN_OK && l->has_share_bp) {
		o->pricing = monthly ? KETEN__PRICING__MONTHLY : KETEN__PRICING__FIXED_AMOUNT;
		o->has_amount_cents = o->has_share_bp = 1;
		o->share_bp = l->share_bp;
	} else if (rc == KETEN_OK) {
		o->pricing = KETEN__PRICING__PER_UNIT;
		o->has_units = o->has_unit_tariff_cents = 1;
		o->units = d->units;
		o->unit_tariff_cents = l->cents;        /* as signed: see table_unit in rules/offer.c */
		o->unit = (char *)kt_sub_unit(l->unit); /* static: l is freed below */
	}
	kt_state_free(cs);
	keten__framework_contract__free_unpacked(fc, NULL);
	return rc;
}

/* The price the draft gives: a fixed or monthly amount, or units x unit tariff. */
static void own_price(const keten_draft_subcontract *d, Keten__SubcontractOffer *o)
{
	o->pricing = (uint32_t)d->pricing;
	if (d->pricing == KETEN_PRICING_PER_UNIT) {
		o->has_units = o->has_unit_tariff_cents = 1;
		o->units = d->units;
		o->unit_tariff_cents = d->unit_tariff_cents;
	} else {
		o->has_amount_cents = 1;
		o->amount_cents = d->amount_cents;
	}
	o->unit = (char *)d->unit;
}

int kt_compose_subcontract(kt_compose *x, const keten_draft_subcontract *d, keten_composed *c, keten_error *err)
{
	Keten__SubcontractOffer o = KETEN__SUBCONTRACT_OFFER__INIT;
	Keten__State__AllocationState *as = alloc_state(x, d->target);
	Keten__State__OfferState *os = as ? NULL : offer_state(x, d->target);
	uint8_t contract[32] = {0};
	int rc = KETEN_OK;

	own_price(d, &o);
	o.service = opt_text(d->service);
	o.start = d->start;
	o.has_end = d->end != 0;
	o.end = d->end;
	o.scope = (char *)d->scope;
	o.has_payment_term_days = d->payment_term_days != 0;
	o.payment_term_days = d->payment_term_days;
	kt_aud_self(x, c);
	kt_aud_add(c, d->subcontractor, 32);
	if (as) {
		kt_aud_add(c, as->author.data, as->author.len);
		if (as->contract.len == 32) {
			memcpy(contract, as->contract.data, 32);
			o.has_contract = 1;
		}
		if (!o.has_end && as->end) {
			o.has_end = 1;
			o.end = as->end;
		}
	} else if (os) {
		kt_aud_add(c, os->municipality_key.data, os->municipality_key.len);
		kt_aud_add(c, os->author.data, os->author.len);
		if (os->has_contract && os->contract.len == 32) {
			memcpy(contract, os->contract.data, 32);
			o.has_contract = 1;
		}
		if (!o.has_end && os->end) {
			o.has_end = 1;
			o.end = os->end;
		}
	}
	if (o.service && d->pricing == KETEN_PRICING_NONE)
		rc = table_price(x, d, contract, as, os, &o, err);
	kt_state_free(as);
	kt_state_free(os);
	if (rc)
		return rc;
	o.allocation = kt_bin32(d->target);
	o.subcontractor = kt_bin32(d->subcontractor);
	o.contract = kt_bin32(contract);
	rc = kt_compose_pack(c, KETEN__BODY_TYPE__SUBCONTRACT_OFFER, &o.base, err);
	c->amount_cents = o.pricing == KETEN__PRICING__PER_UNIT ? -1 : o.amount_cents;
	return rc;
}

/* answer, delivery, close, resume, correction ------------------------------------------- */

int kt_compose_answer(kt_compose *x, const keten_draft_answer *d, keten_composed *c, keten_error *err)
{
	Keten__OfferAnswer an = KETEN__OFFER_ANSWER__INIT;
	kt_aud_self(x, c);
	kt_aud_target(x, c, d->offer);
	an.offer = kt_bin32(d->offer);
	an.accept = d->accept;
	an.reason = (char *)d->reason;
	return kt_compose_pack(c, KETEN__BODY_TYPE__OFFER_ANSWER, &an.base, err);
}

int kt_compose_delivery(kt_compose *x, const keten_draft_delivery *d, keten_composed *c, keten_error *err)
{
	Keten__Delivery dl = KETEN__DELIVERY__INIT;
	kt_aud_self(x, c);
	kt_aud_target(x, c, d->target);
	dl.target = kt_bin32(d->target);
	dl.period = (char *)(d->period ? d->period : "");
	dl.units = d->units;
	dl.unit = (char *)(d->unit ? d->unit : "");
	dl.note = opt_text(d->note);
	return kt_compose_pack(c, KETEN__BODY_TYPE__DELIVERY, &dl.base, err);
}

int kt_compose_close(kt_compose *x, const keten_draft_close *d, keten_composed *c, keten_error *err)
{
	Keten__Result r = KETEN__RESULT__INIT;
	kt_aud_self(x, c);
	kt_aud_target(x, c, d->allocation);
	r.allocation = kt_bin32(d->allocation);
	r.outcome = (uint32_t)d->outcome;
	r.stop_code = (char *)d->stop_code;
	r.date = d->date;
	return kt_compose_pack(c, KETEN__BODY_TYPE__RESULT, &r.base, err);
}

int kt_compose_resume(kt_compose *x, const keten_draft_resume *d, keten_composed *c, keten_error *err)
{
	Keten__Resume r = KETEN__RESUME__INIT;
	kt_aud_self(x, c);
	kt_aud_target(x, c, d->allocation);
	r.allocation = kt_bin32(d->allocation);
	r.date = d->date;
	return kt_compose_pack(c, KETEN__BODY_TYPE__RESUME, &r.base, err);
}

int kt_compose_correction(kt_compose *x, const keten_draft_correction *d, keten_composed *c, keten_error *err)
{
	Keten__Correction k = KETEN__CORRECTION__INIT;
	keten_entry e;

	kt_aud_self(x, c);
	if (keten_store_get_entry(x->t, d->entry, &e, NULL) == KETEN_OK) {
		for (size_t i = 0; i < e.n_audience; i++)
			kt_aud_add(c, e.audience[i], 32);
		keten_entry_release(&e);
	}
	k.entry = kt_bin32(d->entry);
	k.reason = (char *)(d->reason ? d->reason : "");
	return kt_compose_pack(c, KETEN__BODY_TYPE__CORRECTION, &k.base, err);
}

/* claim ---------------------------------------------------------------------------- */

/*
 * The installment a claim on target claims when none is given: "units"
 * for per-unit work; "upfront" on herstel and a fixed-amount
 * subcontract, "final" once a live claim for upfront exists or an
 * earlier draft of this call claims it; NULL when there is no default.
 */
static const char *default_installment(const kt_compose *x, const uint8_t target[32])
{
	Keten__State__OfferState *os = offer_state(x, target);
	Keten__State__AllocationState *as = os ? NULL : alloc_state(x, target);
	const char *inst = NULL;

	if ((os && os->pricing == KETEN__PRICING__PER_UNIT) || (as && as->kind == KETEN__KIND__COMPONENT)) {
		inst = "units";
	} else if ((os && os->pricing == KETEN__PRICING__FIXED_AMOUNT) || (as && as->kind == KETEN__KIND__HERSTEL)) {
		/* the up-front part first, then the final part */
		inst = "upfront";
		if (kt_index_has(x->t, DX_INSTALLMENT, target, 32, "upfront", 7) ||
		    kt_compose_claimed(x, target, "upfront") ||
		    (as && kt_upfront_due(as->amount_cents, as->carried_cents) == 0))
			inst = "final"; /* (a change may have carried the whole up-front part over) */
	}
	kt_state_free(os);
	kt_state_free(as);
	return inst;
}

int kt_compose_claim(kt_compose *x, const keten_draft_claim *d, keten_composed *c, keten_draft_need *need,
                     keten_error *err)
{
	Keten__Claim k = KETEN__CLAIM__INIT;
	const char *inst = d->installment ? d->installment : default_installment(x, d->target);
	int rc;

	if (!inst) {
		*need = KETEN_NEED_INSTALLMENT;
		return keten_fail(err, KETEN_EINVAL,
		                  "the claim's target has no default installment: give one (YYYY-MM, upfront, final or "
		                  "units)");
	}
	if (d->n_deliveries > 64)
		return keten_fail(err, KETEN_EINVAL, "a claim names at most 64 deliveries");
	k.amount_cents = d->amount_cents;
	if (!d->has_amount &&
	    (rc = kt_expected_claim(x->t, d->target, inst, d->deliveries, d->n_deliveries, &k.amount_cents, err))) {
		*need = KETEN_NEED_AMOUNT;
		return rc;
	}
	kt_aud_self(x, c);
	kt_aud_target(x, c, d->target);
	k.target = kt_bin32(d->target);
	k.installment = (char *)inst;
	k.number = opt_text(d->number);
	k.has_date = d->date != 0;
	k.date = d->date;
	k.has_period_from = d->period_from != 0;
	k.period_from = d->period_from;
	k.has_period_until = d->period_until != 0;
	k.period_until = d->period_until;
	k.n_deliveries = d->n_deliveries;
	if (!(k.deliveries = kt_bins(d->deliveries, d->n_deliveries)))
		return keten_fail(err, KETEN_ENOMEM, "out of memory composing a claim");
	rc = kt_compose_pack(c, KETEN__BODY_TYPE__CLAIM, &k.base, err);
	free(k.deliveries);
	c->amount_cents = k.amount_cents;
	snprintf(c->installment, sizeof c->installment, "%s", inst);
	return rc;
}

/* payment, receipt ------------------------------------------------------------------- */

/* The parties of what a payment pays: a claim's author and municipality;
 * a clawback's author and the creditors of this home's debts in it. */
static void aud_paid(const kt_compose *x, keten_composed *c, const uint8_t id[32])
{
	Keten__State__ClaimState *ks = NULL;
	Keten__State__ClawbackState *cb = NULL;

	if (kt_state_get(x->t, DK_CLAIM, id, &keten__state__claim_state__descriptor, (void **)&ks, NULL) == 0) {
		kt_aud_add(c, ks->author.data, ks->author.len);
		kt_aud_add(c, ks->municipality_key.data, ks->municipality_key.len);
	} else if (kt_state_get(x->t, DK_CLAWBACK, id, &keten__state__clawback_state__descriptor, (void **)&cb, NULL) ==
	           0) {
		kt_aud_add(c, cb->author.data, cb->author.len);
		for (size_t j = 0; j < cb->n_debts; j++)
			if (cb->debts[j]->debtor.len == 32 && memcmp(cb->debts[j]->debtor.data, x->info->key, 32) == 0)
				kt_aud_add(c, cb->debts[j]->creditor.data, cb->debts[j]->creditor.len);
	}
	kt_state_free(ks);
	kt_state_free(cb);
}

/* The municipality of a claim held here, into c's audience. */
static void aud_claim_municipality(const kt_compose *x, keten_composed *c, const uint8_t *id, size_t len)
{
	Keten__State__ClaimState *ks = NULL;
	if (len == 32 &&
	    kt_state_get(x->t, DK_CLAIM, id, &keten__state__claim_state__descriptor, (void **)&ks, NULL) == 0)
		kt_aud_add(c, ks->municipality_key.data, ks->municipality_key.len);
	kt_state_free(ks);
}

int kt_compose_payment(kt_compose *x, const keten_draft_payment *d, keten_composed *c, keten_error *err)
{
	Keten__Payment p = KETEN__PAYMENT__INIT;
	int rc;

	if (d->n_claims == 0 || d->n_claims > 64)
		return keten_fail(err, KETEN_EINVAL, "a payment names 1 to 64 claims");
	kt_aud_self(x, c);
	for (size_t i = 0; i < d->n_claims; i++)
		aud_paid(x, c, d->claims[i]);
	if (!(p.claims = kt_bins(d->claims, d->n_claims)))
		return keten_fail(err, KETEN_ENOMEM, "out of memory composing a payment");
	p.n_claims = d->n_claims;
	p.amount_cents = d->amount_cents;
	p.date = d->date;
	p.reference = opt_text(d->reference);
	rc = kt_compose_pack(c, KETEN__BODY_TYPE__PAYMENT, &p.base, err);
	free(p.claims);
	c->amount_cents = d->amount_cents;
	return rc;
}

int kt_compose_receipt(kt_compose *x, const keten_draft_receipt *d, keten_composed *c, keten_draft_need *need,
                       keten_error *err)
{
	Keten__Receipt r = KETEN__RECEIPT__INIT;
	Keten__State__PaymentState *ps = NULL;
	bool defaulted = !d->has_amount && !d->not_received;

	kt_aud_self(x, c);
	r.amount_cents = d->amount_cents;
	if (kt_state_get(x->t, DK_PAYMENT, d->payment, &keten__state__payment_state__descriptor, (void **)&ps, NULL) ==
	    0) {
		kt_aud_add(c, ps->author.data, ps->author.len);
		kt_aud_add(c, ps->municipality_key.data, ps->municipality_key.len);
		/* a payment over claims of two municipalities: each of them */
		for (size_t i = 0; i < ps->n_parts; i++)
			aud_claim_municipality(x, c, ps->parts[i]->claim.data, ps->parts[i]->claim.len);
		if (defaulted)
			r.amount_cents = ps->amount_cents;
		kt_state_free(ps);
	} else if (defaulted) {
		*need = KETEN_NEED_AMOUNT;
		return keten_fail(err, KETEN_ENOTFOUND, "the payment is not held here: its amount is not known");
	}
	r.received = !d->not_received;
	if (d->not_received)
		r.amount_cents = 0;
	r.has_date = d->date != 0;
	r.date = d->date;
	r.payment = kt_bin32(d->payment);
	c->amount_cents = r.amount_cents;
	return kt_compose_pack(c, KETEN__BODY_TYPE__RECEIPT, &r.base, err);
}

/* clawback ------------------------------------------------------------------------------ */

int kt_compose_clawback(kt_compose *x, const keten_draft_clawback *d, keten_composed *c, keten_draft_need *need,
                        keten_error *err)
{
	Keten__Clawback k = KETEN__CLAWBACK__INIT;
	Keten__Share shares[KT_CLAWBACK_MAX_SHARES], *sp[KT_CLAWBACK_MAX_SHARES];
	uint8_t parties[KT_CLAWBACK_MAX_SHARES][32];
	int64_t amounts[KT_CLAWBACK_MAX_SHARES];
	char rule[300] = "";
	size_t n = 0;
	int rc;

	k.amount_cents = d->amount_cents;
	if (d->automatic) {
		rc = kt_clawback_auto(x->t, d->allocation, &k.amount_cents, parties, amounts, KT_COUNT(parties), &n,
		                      rule, sizeof rule, err);
		if (rc) {
			/* a rule (clawback-exists) is the ledger's word; anything else: give the amount */
			*need = rc == KETEN_ERULE ? KETEN_NEED_NONE : KETEN_NEED_AMOUNT;
			return rc;
		}
		KETEN_ASSERT(n <= KT_COUNT(parties));
		for (size_t i = 0; i < n; i++) {
			keten__share__init(&shares[i]);
			shares[i].party = kt_bin32(parties[i]);
			shares[i].amount_cents = amounts[i];
			sp[i] = &shares[i];
		}
		k.n_passed_on = n;
		k.passed_on = sp;
	}
	if (d->reason) {
		size_t u = strlen(rule);
		snprintf(rule + u, sizeof rule - u, "%s%s", u ? "; " : "", d->reason);
	}
	k.rule = rule[0] ? rule : NULL;
	kt_aud_self(x, c);
	kt_aud_target(x, c, d->allocation);
	for (size_t i = 0; i < n; i++)
		kt_aud_add(c, parties[i], 32);
	k.allocation = kt_bin32(d->allocation);
	c->amount_cents = k.amount_cents;
	return kt_compose_pack(c, KETEN__BODY_TYPE__CLAWBACK, &k.base, err);
}
