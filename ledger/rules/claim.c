/*
 * claim.c — body rules and derived state of claims (declaraties).  Only
 * the payee of an allocation (its lead provider) or of an accepted
 * subcontract (its subcontractor) claims on it; the installment must fit
 * the target's kind or pricing and fall inside the agreed period; an
 * installment other than "units" is claimed once.  After a stop the
 * final part is claimed only as far as the contract keeps it due
 * ("final-not-due"), a month that starts after the close date is refused
 * ("month-after-close") and so is a month wholly paused ("month-paused");
 * a month cut by either is claimed pro rata (rules/terms.h).  A claim
 * above what the agreement says is otherwise recorded as a finding,
 * never refused.
 *
 * Those three depend on a stop or pause that another party may sign.  A
 * claim received from elsewhere is rejected by the first two only when
 * its author signed the stop itself (closed it, or countersigned it):
 * that stop precedes the claim in the author's own feed, so every node
 * applies it first.  Otherwise, and for "month-paused" always (a resume
 * may still arrive), a received claim applies whatever the order of the
 * feeds, and reconcile measures it against what is due
 * (claim-above-agreed, final-after-stop).  A claim moves
 * its target's claimed counter and the pair's claimed balance by its
 * amount, on its date.  Part of the money flow (rules/flow.h).
 *
 * Dates and numbers (claim_dated).  A claim's date (declaratiedatum) is
 * the one its body gives, else its entry's date; it is what --as-of, the
 * payment term and the balance records count by.  It must be a date, not
 * after the day the claim was signed (its entry's timestamp, signed with
 * it: every node judges it alike, whenever the entry arrives).  It may lie
 * before the agreement starts, as a claim recorded then always could: an
 * up-front part is invoiced when the care is agreed, before it begins.
 * Its period (productperiode) is two dates inside the agreement, and
 * inside the month it claims for a month.  Its
 * number (factuurnummer) is unique among the payee's live claims: only
 * the payee claims, so two claims with one number are both in the payee's
 * own feed, which every node applies in feed order, and the later one is
 * refused (rejected when received) on every node that holds both;
 * voiding a claim frees its number.
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
	uint32_t date, recorded; /* the claim's date, and its entry's */
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
	/* unset when the node holds neither the allocation nor a municipality in the offer's audience */
	x->muni = os->has_municipality_key && os->municipality_key.len == 32 ? os->municipality_key.data : NULL;
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

/* Did the claim's author sign the stop of allocation as itself (closed
 * it, or countersigned the other side's close)?  The author is the lead
 * provider (the payee, checked first), so a countersigned close that the
 * municipality made was countersigned by it. */
static bool own_stop(const kt_apply *a, const Keten__State__AllocationState *as)
{
	bool by_author = as->closed_by.len == 32 && memcmp(as->closed_by.data, a->e->author, 32) == 0;
	return by_author || (as->countersigned && as->closed_by.len == 32);
}

/* The final part of a stopped herstel allocation above what is due. */
static int claim_final_due(const struct claim_ctx *x, keten_error *err)
{
	const Keten__State__AllocationState *as = x->as;
	int64_t up, fin, due;
	uint32_t bp;

	if (!as || as->kind != KETEN__KIND__HERSTEL || strcmp(x->c->installment, "final") != 0 || !as->closed ||
	    kt_stop_is_pause(as->stop_code) || !(x->a->local || own_stop(x->a, as)))
		return KETEN_OK;
	if (!kt_final_due(x->a->txn, as, NULL, &due, &bp))
		return keten_refuse(err, "amount-overflow", "the final part due overflows");
	if (due > 0 && x->c->amount_cents <= due)
		return KETEN_OK; /* with nothing due, any final claim is refused (an empty one too) */
	keten_split_herstel(as->amount_cents, &up, &fin);
	if (due == 0)
		return keten_refuse(err, "final-not-due",
		                    "nothing of the final part (%lld cents) is due after stop code %s", (long long)fin,
		                    as->stop_code);
	return keten_refuse(err, "final-not-due",
	                    "after stop code %s the final part due is %lld cents (%u.%02u%% of %lld), not %lld",
	                    as->stop_code, (long long)due, bp / 100, bp % 100, (long long)fin,
	                    (long long)x->c->amount_cents);
}

/* A month after the close date, or wholly paused, of the allocation (or a
 * monthly subcontract's root allocation, when held here). */
static int claim_month_stop(const struct claim_ctx *x, uint32_t ym, keten_error *err)
{
	Keten__State__AllocationState *root = x->as;
	bool after, paused;

	if (!root && x->os->allocation.len == 32 &&
	    kt_load_allocation(x->a->txn, x->os->allocation.data, &root, NULL) != KETEN_OK)
		root = NULL; /* not ours to see: the subcontractor's node */
	after = kt_month_after_close(root, ym) && (x->a->local || (x->as && own_stop(x->a, root)));
	paused = !after && x->a->local && kt_month_paused(root, ym, x->start, x->end);
	if (root != x->as)
		kt_state_free(root);
	if (after)
		return keten_refuse(err, "month-after-close", "month %s starts after the allocation was closed",
		                    x->c->installment);
	if (paused)
		return keten_refuse(err, "month-paused", "the allocation is paused for all of month %s",
		                    x->c->installment);
	return KETEN_OK;
}

/* Who claims, how much, for which month, and whether it was claimed before. */
static int claim_checks(struct claim_ctx *x, keten_error *err)
{
	const Keten__Claim *c = x->c;
	int rc;

	KETEN_ASSERT(x->payee != NULL && c->target.len == 32);
	if (memcmp(x->payee, x->a->e->author, 32) != 0)
		return keten_refuse(err, "not-payee", "only the payee (the %s) claims on it",
		                    x->os ? "subcontractor" : "allocation's lead provider");
	if ((rc = claim_final_due(x, err)))
		return rc;
	if (x->month) {
		/* a month after the close or in a pause is refused whatever its amount */
		uint32_t ym;
		keten_parse_period(c->installment, &ym);
		if (kt_month_in(ym, x->start, x->end) && (rc = claim_month_stop(x, ym, err)))
			return rc;
	}
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

/* The longest factuurnummer keten keeps. */
#define NUMBER_MAX 64

/* The claim's period: two dates, inside the agreement (and its month). */
static int claim_period(const struct claim_ctx *x, keten_error *err)
{
	const Keten__Claim *c = x->c;
	char f[16], u[16];
	uint32_t ym;

	if (!c->has_period_from && !c->has_period_until)
		return KETEN_OK;
	if (!c->has_period_from || !c->has_period_until || !keten_date_valid(c->period_from) ||
	    !keten_date_valid(c->period_until) || c->period_from > c->period_until)
		return keten_refuse(err, "invalid-period",
		                    "a claim's period is two dates, the first not after the second");
	keten_format_date(f, sizeof f, c->period_from);
	keten_format_date(u, sizeof u, c->period_until);
	if (c->period_from < x->start || (x->end && c->period_until > x->end))
		return keten_refuse(err, "date-outside-validity", "period %s..%s lies outside the agreed period", f, u);
	if (x->month && keten_parse_period(c->installment, &ym) == 0 &&
	    (c->period_from / 100 != ym || c->period_until / 100 != ym))
		return keten_refuse(err, "invalid-period", "period %s..%s is not inside month %s", f, u,
		                    c->installment);
	return KETEN_OK;
}

/* The claim's date, period and number (see the top of this file). */
static int claim_dated(struct claim_ctx *x, keten_error *err)
{
	const Keten__Claim *c = x->c;
	char d[16];
	int rc;

	x->recorded = kt_entry_date(x->a);
	x->date = c->has_date && c->date ? c->date : x->recorded;
	if (!keten_date_valid(x->date))
		return keten_refuse(err, "invalid-date", "claim date is not a date");
	keten_format_date(d, sizeof d, x->date);
	if (x->date > x->recorded)
		return keten_refuse(err, "date-in-future", "claim date %s lies after the day the claim is signed", d);
	if ((rc = claim_period(x, err)))
		return rc;
	if (!c->number)
		return KETEN_OK;
	if ((rc = kt_text("number", c->number, err)))
		return rc;
	if (!c->number[0] || strlen(c->number) > NUMBER_MAX)
		return keten_refuse(err, "invalid-number", "an invoice number is 1 to %d bytes", NUMBER_MAX);
	KETEN_ASSERT(x->payee != NULL);
	if (kt_index_has(x->a->txn, DX_INVOICE, x->payee, 32, c->number, strlen(c->number)))
		return keten_refuse(err, "duplicate-invoice-number",
		                    "invoice number '%s' is already on a live claim of this payee (void that claim "
		                    "first)",
		                    c->number);
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

/* A claim per unit asks more than the live deliveries it names are worth
 * at the unit price (false when they cannot be counted). */
static bool claim_above_delivered(const struct claim_ctx *x)
{
	const Keten__Claim *c = x->c;
	uint8_t(*d)[32] = calloc(c->n_deliveries, sizeof *d);
	int64_t worth;
	bool above;

	if (!d)
		return false;
	for (size_t i = 0; i < c->n_deliveries; i++) {
		KETEN_ASSERT(c->deliveries[i].len == 32); /* claim_deliveries held each */
		memcpy(d[i], c->deliveries[i].data, 32);
	}
	above = kt_expected_claim(x->a->txn, c->target.data, c->installment, (const uint8_t(*)[32])d, c->n_deliveries,
	                          &worth, NULL) == 0 &&
		c->amount_cents > worth;
	free(d);
	return above;
}

/* The soft findings of a claim, into findings[0..4); returns their count. */
static size_t claim_findings(const struct claim_ctx *x, char *findings[4])
{
	const Keten__Claim *c = x->c;
	int64_t expect, total;
	size_t nf = 0;

	if (x->units && c->n_deliveries) {
		/* a claim per unit that names its deliveries: held against their units at the unit price */
		if (claim_above_delivered(x))
			findings[nf++] = "claim-above-delivered";
	} else if (kt_expected_claim(x->a->txn, c->target.data, c->installment, (const uint8_t(*)[32])NULL, 0, &expect,
	                             NULL) == 0 &&
	           c->amount_cents > expect)
		findings[nf++] = "claim-above-agreed";
	/* The whole agreed total bounds the sum of the claims, except on a
	 * duurzaam allocation, whose amount is a month's: each month is held
	 * against what is due for it above, and a month is claimed once. */
	if (x->agreed > 0 && !(x->as && x->as->kind == KETEN__KIND__DUURZAAM) &&
	    keten_add_cents(x->claimed, c->amount_cents, &total) && total > x->agreed)
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
	st.has_allocation = 1;
	st.allocation = x->as ? x->as->id : x->os->allocation;
	if (x->muni) {
		st.has_municipality_key = 1;
		st.municipality_key.data = (uint8_t *)x->muni;
		st.municipality_key.len = 32;
	}
	st.installment = c->installment;
	st.has_amount_cents = st.has_date = st.has_payment_term_days = 1;
	st.amount_cents = c->amount_cents;
	st.date = x->date;
	st.payment_term_days = x->term;
	st.has_recorded = 1;
	st.recorded = x->recorded;
	st.number = c->number;
	st.has_period_from = c->has_period_from;
	st.period_from = c->period_from;
	st.has_period_until = c->has_period_until;
	st.period_until = c->period_until;
	st.findings = findings;
	st.n_findings = nf;
	if ((rc = kt_state_put(a->txn, DK_CLAIM, a->e->id, &st, err)) ||
	    (rc = kt_adjust_target(a->txn, c->target.data, c->amount_cents, 0, 0, err)) ||
	    (rc = kt_balance_add(a->txn, x->payer, x->payee, st.date, BAL_CLAIMED, c->amount_cents, err)))
		return rc;
	if (c->number && (rc = kt_index_put(a->txn, DX_INVOICE, x->payee, 32, c->number, strlen(c->number), err)))
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
	if ((rc = claim_checks(&x, err)) || (rc = claim_dated(&x, err)) || (rc = claim_deliveries(&x, err)))
		goto out;
	rc = claim_record(&x, findings, claim_findings(&x, findings), err);
out:
	kt_state_free(x.as);
	kt_state_free(x.os);
	kt_state_free(x.cs);
	keten__claim__free_unpacked(x.c, NULL);
	return rc;
}
