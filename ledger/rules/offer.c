/*
 * offer.c — body rules and derived state of subcontract offers, their
 * acceptance or refusal, and deliveries (prestaties).  Only the holder of
 * an allocation subcontracts it (a subcontractor passes work on only when
 * the contract allows sub-subcontracting); only the offered party answers,
 * once; deliveries fall inside the agreed period.  An offer that names a
 * service is judged against the contract's subcontract tariff table:
 * under rule fixed an offer off the table is refused
 * (not-subcontract-tariff), under max a price above it is a finding
 * (above-subcontract-tariff).  Prices above or beside the framework tariff
 * of the same work, over-allocation and margins above the contract's
 * maximum are recorded as findings on the offer, never refused.
 *
 * A rule that depends on another party's later entry (a voided allocation
 * or offer) refuses only local appends: entries received from elsewhere
 * apply whatever order their feeds arrive in, so that every node that
 * holds the same entries derives the same state.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/flow.h"
#include "rules/terms.h"
#include "rules/volume.h"
#include "base/base.h"

#define KT_OFFER_FINDINGS 5 /* the most findings one offer carries */

struct offer_ctx {
	Keten__SubcontractOffer *o;
	Keten__State__AllocationState *as; /* root allocation */
	Keten__State__OfferState *parent;  /* when sub-subcontracting */
	Keten__State__ContractState *cs;
	Keten__FrameworkContract *fc;
	int64_t total;    /* fixed, monthly, or units x tariff */
	bool stub;        /* what is subcontracted is withheld from this node */
	bool above_table; /* under rule max, priced above the subcontract tariff */
};

/* What is subcontracted: an allocation its lead provider holds, or an
 * accepted offer passed on by its subcontractor; x->stub when this node
 * holds only its signed header (or not the root allocation). */
static int offer_target(kt_apply *a, struct offer_ctx *x, keten_error *err)
{
	Keten__SubcontractOffer *o = x->o;
	uint32_t type;
	int rc;

	if ((rc = kt_ref_stub(a, o->allocation.data, o->allocation.len, KT_ALLOC_BIT | KT_OFFER_BIT, &type, &x->stub,
	                      err)))
		return rc;
	if (x->stub) {
		/* The subcontractor's node: the allocation (or the offer passed on)
		 * is not ours to read, so its holder, period and contract are taken
		 * on the author's word; everything in the offer itself is checked. */
		return KETEN_OK;
	}
	if (type != KETEN__BODY_TYPE__SUBCONTRACT_OFFER) {
		if ((rc = kt_load_allocation(a->txn, o->allocation.data, &x->as, err)))
			return rc;
		if (memcmp(x->as->provider.data, a->e->author, 32) != 0)
			return keten_refuse(err, "not-allocation-holder",
			                    "only the allocation's lead provider subcontracts it");
		return KETEN_OK;
	}
	if ((rc = kt_load_offer(a->txn, o->allocation.data, &x->parent, err)))
		return rc;
	if (memcmp(x->parent->subcontractor.data, a->e->author, 32) != 0)
		return keten_refuse(err, "not-allocation-holder",
		                    "only the subcontractor of that offer may pass work on");
	if (!x->parent->accepted || (x->parent->voided && a->local))
		return keten_refuse(err, "offer-not-accepted", "the subcontract passed on is not accepted");
	/* the root allocation is withheld from a subcontractor's node: what
	 * depends on it (the contract's consent, its period) is checked by
	 * the nodes that can read it, the municipality's among them */
	rc = kt_load_allocation(a->txn, x->parent->allocation.data, &x->as, NULL);
	if (rc == KETEN_ENOTFOUND)
		x->stub = true;
	else if (rc)
		return keten_fail(err, rc, "cannot read the allocation of the subcontract passed on");
	return KETEN_OK;
}

/* The contract of the root allocation allows the offer, and the allocation is open. */
static int offer_contract(kt_apply *a, struct offer_ctx *x, keten_error *err)
{
	Keten__SubcontractOffer *o = x->o;
	int rc;

	KETEN_ASSERT(x->as != NULL);
	if ((rc = kt_state_get(a->txn, DK_CONTRACT, x->as->contract.data, &keten__state__contract_state__descriptor,
	                       (void **)&x->cs, err)) ||
	    (rc = kt_contract_body(a->txn, x->as->contract.data, &x->fc, err)))
		return rc;
	if (o->has_contract && (o->contract.len != 32 || memcmp(o->contract.data, x->as->contract.data, 32) != 0))
		return keten_refuse(err, "contract-mismatch", "the offer names another contract than its allocation's");
	if (x->parent && !x->cs->sub_subcontracting)
		return keten_refuse(err, "sub-subcontracting-forbidden",
		                    "contract '%s' does not allow sub-subcontracting", x->cs->ref);
	if (x->as->voided && a->local)
		return keten_refuse(err, "entry-void", "the allocation was voided");
	if (x->as->closed &&
	    (a->local || (x->as->closed_by.len == 32 && memcmp(x->as->closed_by.data, a->e->author, 32) == 0)))
		return keten_refuse(err, "allocation-closed", "the allocation is closed");
	return KETEN_OK;
}

/* On a stub: the contract named by the offer (or by the offer passed on), when held here. */
static int offer_stub_contract(kt_apply *a, struct offer_ctx *x, keten_error *err)
{
	const Keten__SubcontractOffer *o = x->o;
	const ProtobufCBinaryData *cid = x->parent && x->parent->has_contract ? &x->parent->contract
		: o->has_contract                                             ? &o->contract
									      : NULL;

	KETEN_ASSERT(x->stub);
	if (cid && cid->len == 32 &&
	    kt_state_get(a->txn, DK_CONTRACT, cid->data, &keten__state__contract_state__descriptor, (void **)&x->cs,
	                 NULL) == 0 &&
	    x->parent && !x->cs->sub_subcontracting)
		return keten_refuse(err, "sub-subcontracting-forbidden",
		                    "contract '%s' does not allow sub-subcontracting", x->cs->ref);
	return KETEN_OK;
}

/* The subcontractor: another party, certified here, eligible under the contract. */
static int offer_party(kt_apply *a, struct offer_ctx *x, keten_error *err)
{
	Keten__SubcontractOffer *o = x->o;
	Keten__State__PartyState *ps = NULL;
	int rc;

	if (o->subcontractor.len != 32)
		return keten_refuse(err, "malformed-body", "subcontractor is not a 32-byte key");
	if (memcmp(o->subcontractor.data, a->e->author, 32) == 0)
		return keten_refuse(err, "self-subcontract", "a party cannot subcontract to itself");
	rc = kt_party_load(a->txn, o->subcontractor.data, &ps, NULL);
	if (rc == KETEN_ENOTFOUND) {
		memcpy(a->missing, o->subcontractor.data, 32);
		return KETEN_EPENDING;
	}
	if (rc)
		return keten_fail(err, rc, "cannot read the subcontractor's certificate");
	keten__state__party_state__free_unpacked(ps, NULL);
	if ((rc = kt_party_valid_at(a->txn, o->subcontractor.data, a->e->timestamp_ms, "subcontractor", err)))
		return rc;
	if (x->fc && x->fc->n_eligible) {
		bool found = false;
		for (size_t i = 0; i < x->fc->n_eligible; i++)
			if (memcmp(x->fc->eligible[i].data, o->subcontractor.data, 32) == 0)
				found = true;
		if (!found)
			return keten_refuse(err, "party-not-eligible",
			                    "the subcontractor is not eligible under contract '%s'", x->fc->ref);
	}
	return KETEN_OK;
}

/* The price: a fixed or monthly amount, or units x unit tariff; sets x->total. */
static int offer_price(const kt_apply *a, struct offer_ctx *x, keten_error *err)
{
	Keten__SubcontractOffer *o = x->o;
	int rc;

	switch (o->pricing) {
	case KETEN__PRICING__FIXED_AMOUNT:
	case KETEN__PRICING__MONTHLY:
		if (!o->has_amount_cents || o->amount_cents <= 0)
			return keten_refuse(err, "invalid-amount", "a subcontract amount must be above zero");
		if (o->amount_cents > KETEN_MAX_CENTS)
			return keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
		x->total = o->amount_cents;
		break;
	case KETEN__PRICING__PER_UNIT:
		if (o->units <= 0 || o->unit_tariff_cents <= 0)
			return keten_refuse(err, "invalid-amount", "units and unit tariff must be above zero");
		if ((rc = kt_unit_check(a, "unit", o->unit, x->as ? x->as->volume_unit : NULL, err)))
			return rc;
		if (o->units > KETEN_MAX_CENTS / 100 || o->unit_tariff_cents > KETEN_MAX_CENTS ||
		    !keten_apply_bp(o->unit_tariff_cents, o->units * 100, &x->total) || x->total > KETEN_MAX_CENTS)
			return keten_refuse(err, "amount-overflow", "units x unit tariff overflows");
		break;
	default: return keten_refuse(err, "invalid-pricing", "pricing must be a fixed amount, per unit or monthly");
	}
	KETEN_ASSERT(x->total > 0 && x->total <= KETEN_MAX_CENTS);
	return KETEN_OK;
}

/* The period, inside what is subcontracted (when held here), and the payment term. */
static int offer_period(const struct offer_ctx *x, keten_error *err)
{
	const Keten__SubcontractOffer *o = x->o;

	if (!keten_date_valid(o->start) || (o->end && (!keten_date_valid(o->end) || o->end < o->start)))
		return keten_refuse(err, "invalid-date", "subcontract period is not a valid period");
	if (!x->stub) {
		uint32_t from = x->parent ? x->parent->start : x->as->start;
		uint32_t until = x->parent ? x->parent->end : x->as->end;
		if (o->start < from || (until && (o->start > until || o->end > until || !o->end)))
			return keten_refuse(err, "date-outside-validity",
			                    "subcontract period is outside the allocation's period");
	}
	if (o->has_payment_term_days && (o->payment_term_days == 0 || o->payment_term_days > 365))
		return keten_refuse(err, "invalid-payment-term", "payment term must be 1 to 365 days");
	return KETEN_OK;
}

/* subcontract tariffs ----------------------------------------------------------------- */

/* A share-priced offer is a fixed or monthly amount that is its share of
 * what it subcontracts (checked where that is held), whatever the rule. */
static int offer_share(const struct offer_ctx *x, keten_error *err)
{
	const Keten__SubcontractOffer *o = x->o;
	int64_t want;
	bool monthly;

	if (!o->has_share_bp)
		return KETEN_OK;
	if (o->share_bp < 1 || o->share_bp > 10000)
		return keten_refuse(err, "invalid-share", "a subcontract's share is not 1 to 100%%");
	if (o->pricing == KETEN__PRICING__PER_UNIT)
		return keten_refuse(err, "invalid-pricing", "a share-priced subcontract is a fixed or monthly amount");
	if (!x->as && !x->parent)
		return KETEN_OK; /* withheld here: taken on the author's word */
	if (!kt_share_of(x->as, x->parent, o->share_bp, &want, &monthly))
		return keten_refuse(err, "invalid-amount", "the share of what is subcontracted rounds to nothing");
	if (monthly != (o->pricing == KETEN__PRICING__MONTHLY) || want != x->total)
		return keten_refuse(err, "share-amount-mismatch",
		                    "the offer is not its share (%u bp) of what it subcontracts: %lld cents%s",
		                    o->share_bp, (long long)want, monthly ? " a month" : "");
	return KETEN_OK;
}

/* A service priced as a share of the arrangement (rule fixed or max). */
static int table_share(struct offer_ctx *x, const Keten__SubTariff *l, bool fixed, keten_error *err)
{
	const Keten__SubcontractOffer *o = x->o;
	int64_t want;
	bool monthly;

	if (o->pricing == KETEN__PRICING__PER_UNIT)
		return keten_refuse(err, "not-subcontract-tariff",
		                    "service '%s' is priced as a share of the arrangement, not per unit", l->service);
	if (o->has_share_bp && o->share_bp != l->share_bp) {
		if (fixed)
			return keten_refuse(err, "not-subcontract-tariff",
			                    "service '%s' is a share of %u bp, the offer %u bp", l->service,
			                    l->share_bp, o->share_bp);
		x->above_table = x->above_table || o->share_bp > l->share_bp;
	}
	if (!x->as && !x->parent)
		return KETEN_OK; /* withheld here: the amount is taken on the author's word */
	if (!kt_share_of(x->as, x->parent, l->share_bp, &want, &monthly))
		return keten_refuse(err, "invalid-amount", "the share of what is subcontracted rounds to nothing");
	if (monthly != (o->pricing == KETEN__PRICING__MONTHLY))
		return keten_refuse(err, "not-subcontract-tariff", "service '%s' is a share of %s", l->service,
		                    monthly ? "each month (offer it --monthly)" : "the whole (a fixed amount)");
	if (x->total != want && fixed)
		return keten_refuse(err, "not-subcontract-tariff",
		                    "service '%s' is %u bp of what is subcontracted: %lld cents, the offer %lld",
		                    l->service, l->share_bp, (long long)want, (long long)x->total);
	x->above_table = x->above_table || x->total > want;
	return KETEN_OK;
}

/* A service priced per unit (rule fixed or max): the table's tariff as
 * signed.  Not indexed: an indexation is the municipality's later entry,
 * and an offer judged by it would stand or fall by which of the two a
 * node received first. */
static int table_unit(struct offer_ctx *x, const Keten__SubTariff *l, bool fixed, keten_error *err)
{
	const Keten__SubcontractOffer *o = x->o;
	int64_t want = l->cents;

	if (o->pricing != KETEN__PRICING__PER_UNIT || !o->unit || strcmp(o->unit, l->unit) != 0)
		return keten_refuse(err, "not-subcontract-tariff", "service '%s' is priced per %s", l->service,
		                    l->unit);
	if (o->unit_tariff_cents != want && fixed)
		return keten_refuse(err, "not-subcontract-tariff",
		                    "service '%s' costs %lld cents per %s, the offer %lld", l->service, (long long)want,
		                    l->unit, (long long)o->unit_tariff_cents);
	x->above_table = o->unit_tariff_cents > want;
	return KETEN_OK;
}

/* An offer that names a service, against the contract's subcontract
 * tariffs: under fixed it is the table's or refused, under max above it
 * is a finding, under free it is not judged.  Where the contract is not
 * held (a stub that names none) the offer is taken on the author's word. */
static int offer_table(kt_apply *a, struct offer_ctx *x, keten_error *err)
{
	const Keten__SubcontractOffer *o = x->o;
	const Keten__SubTariff *l;
	int rc;

	if ((rc = offer_share(x, err)) || !o->service)
		return rc;
	if (!o->service[0] || strlen(o->service) > 64)
		return keten_refuse(err, "invalid-tariff", "a service is named by 1 to 64 characters");
	if ((rc = kt_text("service", o->service, err)))
		return rc;
	if (x->cs && !x->fc && x->cs->id.len == 32)
		kt_contract_body(a->txn, x->cs->id.data, &x->fc, NULL);
	if (!x->cs || !x->fc || x->cs->subcontract_rule == KETEN__SUBCONTRACT_RULE__SUB_FREE)
		return KETEN_OK;
	if (!(l = kt_sub_tariff(x->fc, o->service)))
		return keten_refuse(err, "not-subcontract-tariff",
		                    "service '%s' is not in the subcontract tariffs of contract '%s'", o->service,
		                    x->cs->ref);
	return l->has_share_bp ? table_share(x, l, x->cs->subcontract_rule == KETEN__SUBCONTRACT_RULE__SUB_FIXED, err)
			       : table_unit(x, l, x->cs->subcontract_rule == KETEN__SUBCONTRACT_RULE__SUB_FIXED, err);
}

static int check_offer(kt_apply *a, struct offer_ctx *x, keten_error *err)
{
	int rc;

	if ((rc = offer_target(a, x, err)))
		return rc;
	rc = x->stub ? offer_stub_contract(a, x, err) : offer_contract(a, x, err);
	if (rc || (rc = offer_party(a, x, err)))
		return rc;
	if ((rc = kt_text("scope", x->o->scope, err)) || (rc = kt_text("unit", x->o->unit, err)))
		return rc;
	if ((rc = offer_price(a, x, err)) || (rc = offer_table(a, x, err)))
		return rc;
	return offer_period(x, err);
}

/*
 * The margin is what the lead provider keeps of the price of the same work,
 * so it is a comparison of prices per unit of that work: the offer's price
 * against the price of what it subcontracts, per month (a monthly offer on
 * a duurzaam allocation or on a monthly offer) or per unit of the same unit
 * (a per-unit offer on a component allocation or on a per-unit offer).  A
 * fixed amount, or another unit, is (as far as amounts tell) a part of the
 * work: 30 hours of a trajectory say nothing about the margin on the whole,
 * so then there is no pair of prices and the margin is not judged.
 * Sets *mine (the offer's price) and *ref (the subcontracted work's price).
 */
static bool margin_prices(const struct offer_ctx *x, int64_t *mine, int64_t *ref)
{
	const Keten__SubcontractOffer *o = x->o;

	KETEN_ASSERT(x->parent != NULL || x->as != NULL);
	if (x->parent) {
		if (o->pricing == KETEN__PRICING__MONTHLY && x->parent->pricing == KETEN__PRICING__MONTHLY) {
			*mine = x->total;
			*ref = x->parent->amount_cents;
			return true;
		}
		if (o->pricing == KETEN__PRICING__PER_UNIT && x->parent->pricing == KETEN__PRICING__PER_UNIT &&
		    o->unit && x->parent->unit && strcmp(o->unit, x->parent->unit) == 0) {
			*mine = o->unit_tariff_cents;
			*ref = x->parent->unit_tariff_cents;
			return true;
		}
		return false;
	}
	if (o->pricing == KETEN__PRICING__MONTHLY && x->as->kind == KETEN__KIND__DUURZAAM) {
		*mine = x->total;
		*ref = x->as->amount_cents; /* a duurzaam allocation's amount is per month */
		return true;
	}
	if (o->pricing == KETEN__PRICING__PER_UNIT && x->as->kind == KETEN__KIND__COMPONENT && x->fc &&
	    x->as->units > 0) {
		const Keten__Component *k = kt_component(x->fc, x->as->component);
		if (!k || !o->unit || strcmp(k->unit, o->unit) != 0)
			return false;
		/* the allocation's own price per unit (maatwerk included); units are hundredths */
		*mine = o->unit_tariff_cents;
		*ref = (int64_t)((__int128)x->as->amount_cents * 100 / x->as->units);
		return true;
	}
	return false;
}

/*
 * Soft findings of an offer.  Where what it subcontracts is held here:
 * over-allocation; the framework tariff, only where the offer prices the
 * same work as the arrangement (margin_prices: a month against a month, a
 * unit against the same unit; a fixed amount or 30 hours of a trajectory
 * are a part of the care, whose price the arrangement's does not tell),
 * and not when it names a subcontract tariff (judged against that table
 * instead); the margin of the same work.  Wherever the contract is held:
 * a price above the subcontract tariff (rule max), and the margin of a
 * share-priced offer, 100% - its share.
 */
static int offer_findings(struct offer_ctx *x, Keten__State__OfferState *st, char **buf)
{
	const Keten__SubcontractOffer *o = x->o;
	int64_t mine = 0, mref = 0, sub;
	size_t n = 0;

	if (!x->stub) {
		bool by_table = o->service || o->has_share_bp, same = margin_prices(x, &mine, &mref);
		/* over-allocation counts what adds up to the allocation's amount: a month on a month, else totals */
		if (!x->parent && (o->pricing == KETEN__PRICING__MONTHLY) == (x->as->kind == KETEN__KIND__DUURZAAM) &&
		    keten_add_cents(x->as->subcontracted_cents, x->total, &sub) && sub > x->as->amount_cents)
			buf[n++] = "over-allocation";
		if (same && !by_table && x->cs->subcontract_rule == KETEN__SUBCONTRACT_RULE__SUB_MAX && mine > mref)
			buf[n++] = "above-framework-tariff";
		if (same && !by_table && x->cs->subcontract_rule == KETEN__SUBCONTRACT_RULE__SUB_FIXED && mine != mref)
			buf[n++] = "differs-from-framework-tariff";
		if (!o->has_share_bp && x->cs->max_margin_bp && same && mref > 0 && mine < mref &&
		    (__int128)(mref - mine) * 10000 > (__int128)x->cs->max_margin_bp * mref)
			buf[n++] = "margin-above-max";
	}
	if (x->above_table)
		buf[n++] = "above-subcontract-tariff";
	if (o->has_share_bp && x->cs && x->cs->max_margin_bp && 10000 - o->share_bp > x->cs->max_margin_bp)
		buf[n++] = "margin-above-max";
	KETEN_ASSERT(n <= KT_OFFER_FINDINGS);
	st->findings = buf;
	st->n_findings = n;
	return 0;
}

/* The municipality of the offer's root allocation: its author when held
 * here, else the offer passed on's, else the one audience key that is
 * neither party (none: left unset). */
static void offer_municipality(const kt_apply *a, const struct offer_ctx *x, Keten__State__OfferState *st)
{
	if (!x->stub) {
		st->has_municipality_key = 1;
		st->municipality_key = x->as->author;
		return;
	}
	if (x->parent && x->parent->has_municipality_key) {
		st->has_municipality_key = 1;
		st->municipality_key = x->parent->municipality_key;
		return;
	}
	for (size_t i = 0; i < a->e->n_audience; i++)
		if (memcmp(a->e->audience[i], a->e->author, 32) != 0 &&
		    memcmp(a->e->audience[i], x->o->subcontractor.data, 32) != 0) {
			st->has_municipality_key = 1;
			st->municipality_key.data = (uint8_t *)a->e->audience[i];
			st->municipality_key.len = 32;
		}
}

int kt_rule_offer(kt_apply *a, keten_error *err)
{
	struct offer_ctx x = {0};
	Keten__State__OfferState st = KETEN__STATE__OFFER_STATE__INIT;
	char *findings[KT_OFFER_FINDINGS];
	int rc;

	x.o = keten__subcontract_offer__unpack(NULL, a->e->body_len, a->e->body);
	if (!x.o)
		return keten_refuse(err, "malformed-body", "subcontract offer body does not decode");
	if ((rc = check_offer(a, &x, err)))
		goto out;
	st.id.data = (uint8_t *)a->e->id;
	st.id.len = 32;
	st.author.data = (uint8_t *)a->e->author;
	st.author.len = 32;
	st.subcontractor = x.o->subcontractor;
	st.allocation = !x.stub ? x.as->id : x.parent ? x.parent->allocation : x.o->allocation;
	st.has_parent = 1;
	st.parent = x.o->allocation;
	offer_municipality(a, &x, &st);
	st.has_pricing = st.has_amount_cents = st.has_start = st.has_end = st.has_payment_term_days = 1;
	st.pricing = x.o->pricing;
	st.amount_cents = x.total;
	st.has_units = st.has_unit_tariff_cents = x.o->pricing == KETEN__PRICING__PER_UNIT;
	st.units = x.o->units;
	st.unit_tariff_cents = x.o->unit_tariff_cents;
	st.unit = x.o->unit;
	st.start = x.o->start;
	st.end = x.o->end;
	st.payment_term_days = x.o->has_payment_term_days ? x.o->payment_term_days
		: x.cs                                    ? x.cs->payment_term_days
							  : 30;
	if (x.cs) {
		st.has_contract = 1;
		st.contract = x.cs->id;
	}
	/* what is subcontracted, and its contract, are held here unless it is a stub */
	KETEN_ASSERT(x.stub || (x.as != NULL && x.cs != NULL));
	st.service = x.o->service;
	st.has_share_bp = x.o->has_share_bp;
	st.share_bp = x.o->share_bp;
	offer_findings(&x, &st, findings);
	if ((rc = kt_state_index_begin(a->txn, err)) || (rc = kt_state_put(a->txn, DK_OFFER, a->e->id, &st, err)))
		goto out;
	if ((rc = kt_index_put(a->txn, DX_OFFERS, st.allocation.data, 32, a->e->id, 32, err)))
		goto out;
	if (!x.parent && !x.stub) {
		if (!keten_add_cents(x.as->subcontracted_cents, x.total, &x.as->subcontracted_cents)) {
			rc = keten_refuse(err, "amount-overflow", "subcontracted total overflows");
			goto out;
		}
		x.as->has_subcontracted_cents = 1;
		rc = kt_state_put(a->txn, DK_ALLOCATION, x.as->id.data, x.as, err);
	}
out:
	kt_state_free(x.as);
	kt_state_free(x.parent);
	kt_state_free(x.cs);
	if (x.fc)
		keten__framework_contract__free_unpacked(x.fc, NULL);
	keten__subcontract_offer__free_unpacked(x.o, NULL);
	return rc;
}

int kt_rule_answer(kt_apply *a, keten_error *err)
{
	Keten__OfferAnswer *ans = keten__offer_answer__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__OfferState *os = NULL;
	uint32_t type;
	int rc;

	if (!ans)
		return keten_refuse(err, "malformed-body", "offer answer body does not decode");
	if ((rc = kt_ref(a, ans->offer.data, ans->offer.len, TYPE_BIT(KETEN__BODY_TYPE__SUBCONTRACT_OFFER), &type,
	                 err)))
		goto out;
	if ((rc = kt_load_offer(a->txn, ans->offer.data, &os, err)))
		goto out;
	if (memcmp(os->subcontractor.data, a->e->author, 32) != 0) {
		rc = keten_refuse(err, "not-offered-party",
		                  "only the offered subcontractor accepts or refuses an offer");
		goto out;
	}
	if (os->voided && a->local) {
		rc = keten_refuse(err, "entry-void", "the offer was voided");
		goto out;
	}
	if (os->answered) {
		rc = keten_refuse(err, "already-answered", "the offer was already %s",
		                  os->accepted ? "accepted" : "refused");
		goto out;
	}
	if ((rc = kt_text("reason", ans->reason, err)))
		goto out;
	if (!ans->accept && (!ans->reason || !ans->reason[0])) {
		rc = keten_refuse(err, "reason-required", "a refusal gives a reason");
		goto out;
	}
	os->has_answered = os->has_accepted = 1;
	os->answered = 1;
	os->accepted = ans->accept;
	if (kt_set_bytes(&os->answer, a->e->id, 32)) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	os->has_answer = 1;
	KETEN_ASSERT(os->answered && !os->accepted == !ans->accept);
	if ((rc = kt_state_put(a->txn, DK_OFFER, os->id.data, os, err)))
		goto out;
	if (!ans->accept && !os->voided && os->parent.len == 32 &&
	    memcmp(os->parent.data, os->allocation.data, 32) == 0) {
		Keten__State__AllocationState *as = NULL;
		/* absent when the allocation's body is withheld from this node */
		if (kt_load_allocation(a->txn, os->allocation.data, &as, NULL) == 0) {
			as->subcontracted_cents -= os->amount_cents;
			rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
		}
		kt_state_free(as);
	}
out:
	kt_state_free(os);
	keten__offer_answer__free_unpacked(ans, NULL);
	return rc;
}

/* A delivery being checked, and its target. */
struct delivery_ctx {
	Keten__Delivery *d;
	Keten__State__AllocationState *as; /* the allocation (of the subcontract), when held here */
	Keten__State__OfferState *os;      /* the subcontract, when the target is one */
	uint32_t start, end;               /* the target's period */
};

/* A delivery on a subcontract: by one of its parties, once accepted. */
static int delivery_on_offer(kt_apply *a, struct delivery_ctx *x, keten_error *err)
{
	Keten__State__OfferState *os;
	int rc;

	if ((rc = kt_load_offer(a->txn, x->d->target.data, &x->os, err)))
		return rc;
	os = x->os;
	if (memcmp(os->subcontractor.data, a->e->author, 32) != 0 && memcmp(os->author.data, a->e->author, 32) != 0)
		return keten_refuse(err, "not-a-party", "only the parties to the subcontract record its deliveries");
	/* the subcontractor's own acceptance precedes its deliveries in its feed;
	 * the lead provider's deliveries do not wait for another party's entry */
	if ((!os->accepted && memcmp(os->subcontractor.data, a->e->author, 32) == 0) || (os->voided && a->local))
		return keten_refuse(err, "offer-not-accepted", "the subcontract is not accepted");
	/* absent when the allocation's body is withheld from this node */
	rc = kt_load_allocation(a->txn, os->allocation.data, &x->as, NULL);
	if (rc && rc != KETEN_ENOTFOUND)
		return keten_fail(err, rc, "cannot read the subcontract's allocation");
	x->start = os->start;
	x->end = os->end;
	return KETEN_OK;
}

/* A delivery on an allocation: by its lead provider, while it is live. */
static int delivery_on_allocation(kt_apply *a, struct delivery_ctx *x, keten_error *err)
{
	int rc;

	if ((rc = kt_load_allocation(a->txn, x->d->target.data, &x->as, err)))
		return rc;
	if (memcmp(x->as->provider.data, a->e->author, 32) != 0)
		return keten_refuse(err, "not-a-party", "only the lead provider records deliveries on an allocation");
	if (x->as->voided && a->local)
		return keten_refuse(err, "entry-void", "the allocation was voided");
	x->start = x->as->start;
	x->end = x->as->end;
	return KETEN_OK;
}

/* The month, units and unit of what was delivered: the unit of the
 * allocation's volume (or component) when the allocation is held here. */
static int delivery_checks(const kt_apply *a, const struct delivery_ctx *x, keten_error *err)
{
	const Keten__Delivery *d = x->d;
	uint32_t ym;
	int rc;

	if (keten_parse_period(d->period, &ym) != 0)
		return keten_refuse(err, "invalid-period", "period '%s' is not YYYY-MM", d->period);
	if (!kt_month_in(ym, x->start, x->end))
		return keten_refuse(err, "date-outside-validity", "period %s is outside the agreed period", d->period);
	if (d->units <= 0 || d->units > KETEN_MAX_CENTS)
		return keten_refuse(err, "invalid-amount", "delivered units must be above zero");
	if ((rc = kt_unit_check(a, "unit", d->unit, x->as ? x->as->volume_unit : NULL, err)) ||
	    (x->as && (rc = kt_delivery_unit(a, x->as, d->unit, err))))
		return rc;
	return kt_text("note", d->note, err);
}

static int delivery_record(const kt_apply *a, const struct delivery_ctx *x, keten_error *err)
{
	Keten__State__DeliveryState st = KETEN__STATE__DELIVERY_STATE__INIT;
	/* the parties of the target: the delivery counts on their lines,
	 * so it is indexed under each of them (kt_state_put) */
	ProtobufCBinaryData parties[3];
	size_t np = 0;

	if (x->os) {
		parties[np++] = x->os->author;
		parties[np++] = x->os->subcontractor;
		if (x->os->municipality_key.len == 32)
			parties[np++] = x->os->municipality_key;
	} else {
		parties[np++] = x->as->author;
		parties[np++] = x->as->provider;
	}
	KETEN_ASSERT(np >= 2 && np <= KT_COUNT(parties));
	st.id.data = (uint8_t *)a->e->id;
	st.id.len = 32;
	st.target = x->d->target;
	st.author.data = (uint8_t *)a->e->author;
	st.author.len = 32;
	st.period = x->d->period;
	st.has_units = 1;
	st.units = x->d->units;
	st.unit = x->d->unit;
	st.parties = parties;
	st.n_parties = np;
	return kt_state_put(a->txn, DK_DELIVERY, a->e->id, &st, err);
}

int kt_rule_delivery(kt_apply *a, keten_error *err)
{
	struct delivery_ctx x = {0};
	uint32_t type;
	int rc;

	x.d = keten__delivery__unpack(NULL, a->e->body_len, a->e->body);
	if (!x.d)
		return keten_refuse(err, "malformed-body", "delivery body does not decode");
	if ((rc = kt_ref(a, x.d->target.data, x.d->target.len, KT_ALLOC_BIT | KT_OFFER_BIT, &type, err)))
		goto out;
	rc = type == KETEN__BODY_TYPE__SUBCONTRACT_OFFER ? delivery_on_offer(a, &x, err)
							 : delivery_on_allocation(a, &x, err);
	if (rc || (rc = delivery_checks(a, &x, err)))
		goto out;
	rc = delivery_record(a, &x, err);
out:
	kt_state_free(x.as);
	kt_state_free(x.os);
	keten__delivery__free_unpacked(x.d, NULL);
	return rc;
}
