/*
 * money.c — body rules and derived state of the money flow: claims
 * (declaraties), payments, receipts, results and stops, clawbacks
 * (terugvorderingen) and corrections.  Every amount moves the balance of
 * its pair of parties (payer, payee) on its day; a correction voids its
 * author's own entry and takes it out of every count, the original stays.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/terms.h"
#include "base/base.h"

#define ALLOC_BIT TYPE_BIT(KETEN__BODY_TYPE__ALLOCATION)
#define OFFER_BIT TYPE_BIT(KETEN__BODY_TYPE__SUBCONTRACT_OFFER)

static int load_as(keten_txn *t, const uint8_t id[32], Keten__State__AllocationState **as, keten_error *err)
{
	return kt_state_get(t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, (void **)as, err);
}

static int load_os(keten_txn *t, const uint8_t id[32], Keten__State__OfferState **os, keten_error *err)
{
	return kt_state_get(t, DK_OFFER, id, &keten__state__offer_state__descriptor, (void **)os, err);
}

static int load_ks(keten_txn *t, const uint8_t id[32], Keten__State__ClaimState **ks, keten_error *err)
{
	return kt_state_get(t, DK_CLAIM, id, &keten__state__claim_state__descriptor, (void **)ks, err);
}

/* Move the claimed / paid counters of a claim's target (allocation or offer). */
static int adjust_target(keten_txn *t, const uint8_t target[32], int64_t claimed, int64_t paid, int64_t upfront,
                         keten_error *err)
{
	Keten__State__AllocationState *as = NULL;
	Keten__State__OfferState *os = NULL;
	int rc;

	if (load_as(t, target, &as, NULL) == 0) {
		if (!keten_add_cents(as->claimed_cents, claimed, &as->claimed_cents) ||
		    !keten_add_cents(as->paid_cents, paid, &as->paid_cents) ||
		    !keten_add_cents(as->upfront_paid_cents, upfront, &as->upfront_paid_cents))
			rc = keten_refuse(err, "amount-overflow", "the allocation's totals would overflow");
		else {
			as->has_claimed_cents = as->has_paid_cents = as->has_upfront_paid_cents = 1;
			rc = kt_state_put(t, DK_ALLOCATION, target, as, err);
		}
		kt_state_free(as);
		return rc;
	}
	if ((rc = load_os(t, target, &os, err)))
		return rc;
	if (!keten_add_cents(os->claimed_cents, claimed, &os->claimed_cents) ||
	    !keten_add_cents(os->paid_cents, paid, &os->paid_cents))
		rc = keten_refuse(err, "amount-overflow", "the subcontract's totals would overflow");
	else {
		os->has_claimed_cents = os->has_paid_cents = 1;
		rc = kt_state_put(t, DK_OFFER, target, os, err);
	}
	kt_state_free(os);
	return rc;
}

static bool is_month(const char *s)
{
	uint32_t ym;
	return keten_parse_period(s, &ym) == 0;
}

/* Claims ------------------------------------------------------------------ */

int kt_rule_claim(kt_apply *a, keten_error *err)
{
	Keten__Claim *c = keten__claim__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__AllocationState *as = NULL;
	Keten__State__OfferState *os = NULL;
	Keten__State__ContractState *cs = NULL;
	Keten__State__ClaimState st = KETEN__STATE__CLAIM_STATE__INIT;
	const uint8_t *payer, *payee, *muni;
	uint32_t type, start, end, term;
	char *findings[4];
	size_t nf = 0;
	int64_t agreed, claimed;
	bool upfront_final, month, units;
	int rc;

	if (!c)
		return keten_refuse(err, "malformed-body", "claim body does not decode");
	if ((rc = kt_ref(a, c->target.data, c->target.len, ALLOC_BIT | OFFER_BIT, &type, err)))
		goto out;
	upfront_final = strcmp(c->installment, "upfront") == 0 || strcmp(c->installment, "final") == 0;
	month = is_month(c->installment);
	units = strcmp(c->installment, "units") == 0;
	if (type == KETEN__BODY_TYPE__ALLOCATION) {
		if ((rc = load_as(a->txn, c->target.data, &as, err)))
			goto out;
		payee = as->provider.data;
		payer = muni = as->author.data;
		if (as->voided && a->local) {
			rc = keten_refuse(err, "entry-void", "the allocation was voided");
			goto out;
		}
		start = as->start;
		end = as->end;
		if ((rc = kt_state_get(a->txn, DK_CONTRACT, as->contract.data,
		                       &keten__state__contract_state__descriptor, (void **)&cs, err)))
			goto out;
		term = cs->payment_term_days;
		agreed = as->amount_cents;
		claimed = as->claimed_cents;
		if ((as->kind == KETEN__KIND__HERSTEL && !upfront_final) ||
		    (as->kind == KETEN__KIND__DUURZAAM && !month) ||
		    (as->kind == KETEN__KIND__COMPONENT && !units && !month)) {
			rc = keten_refuse(err, "invalid-installment", "installment '%s' does not fit a %s allocation",
			                  c->installment,
			                  as->kind == KETEN__KIND__HERSTEL            ? "herstel (upfront, final)"
			                          : as->kind == KETEN__KIND__DUURZAAM ? "duurzaam (YYYY-MM)"
			                                                              : "component (units, YYYY-MM)");
			goto out;
		}
	} else {
		if ((rc = load_os(a->txn, c->target.data, &os, err)))
			goto out;
		payee = os->subcontractor.data;
		payer = os->author.data;
		muni = os->municipality_key.data;
		if (!os->accepted || (os->voided && a->local)) {
			rc = keten_refuse(err, os->accepted ? "entry-void" : "offer-not-accepted",
			                  "the subcontract is not accepted");
			goto out;
		}
		start = os->start;
		end = os->end;
		term = os->payment_term_days;
		agreed = os->pricing == KETEN__PRICING__MONTHLY ? 0 : os->amount_cents;
		claimed = os->claimed_cents;
		if ((os->pricing == KETEN__PRICING__MONTHLY && !month) || (!upfront_final && !month && !units) ||
		    (os->pricing == KETEN__PRICING__PER_UNIT && upfront_final)) {
			rc = keten_refuse(err, "invalid-installment", "installment '%s' does not fit this subcontract",
			                  c->installment);
			goto out;
		}
	}
	if (memcmp(payee, a->e->author, 32) != 0) {
		rc = keten_refuse(err, "not-payee", "only the payee (the %s) claims on it",
		                  os ? "subcontractor" : "allocation's lead provider");
		goto out;
	}
	if (c->amount_cents <= 0) {
		rc = keten_refuse(err, "invalid-amount", "a claim amount must be above zero");
		goto out;
	}
	if (c->amount_cents > KETEN_MAX_CENTS) {
		rc = keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
		goto out;
	}
	if (month) {
		uint32_t ym;
		keten_parse_period(c->installment, &ym);
		if (!kt_month_in(ym, start, end)) {
			rc = keten_refuse(err, "date-outside-validity", "month %s is outside the agreed period",
			                  c->installment);
			goto out;
		}
	}
	if (!units &&
	    kt_index_has(a->txn, DX_INSTALLMENT, c->target.data, 32, c->installment, strlen(c->installment))) {
		rc = keten_refuse(err, "installment-claimed",
		                  "installment '%s' is already claimed (void that claim first)", c->installment);
		goto out;
	}
	for (size_t i = 0; i < c->n_deliveries; i++) {
		Keten__State__DeliveryState *ds = NULL;
		if ((rc = kt_ref(a, c->deliveries[i].data, c->deliveries[i].len, TYPE_BIT(KETEN__BODY_TYPE__DELIVERY),
		                 &type, err)))
			goto out;
		if ((rc = kt_state_get(a->txn, DK_DELIVERY, c->deliveries[i].data,
		                       &keten__state__delivery_state__descriptor, (void **)&ds, err)))
			goto out;
		if (memcmp(ds->target.data, c->target.data, 32) != 0 || (ds->voided && a->local)) {
			rc = keten_refuse(err, ds->voided ? "entry-void" : "delivery-other-target",
			                  "a referenced delivery is %s",
			                  ds->voided ? "void" : "for another subcontract or allocation");
			kt_state_free(ds);
			goto out;
		}
		kt_state_free(ds);
	}
	{
		int64_t expect, total;
		if (kt_expected_claim(a->txn, c->target.data, c->installment, (const uint8_t(*)[32])NULL, 0, &expect,
		                      NULL) == 0 &&
		    !(units && c->n_deliveries) && c->amount_cents > expect)
			findings[nf++] = "claim-above-agreed";
		if (agreed > 0 && keten_add_cents(claimed, c->amount_cents, &total) && total > agreed)
			findings[nf++] = "claims-above-agreed";
		if (as && as->kind == KETEN__KIND__HERSTEL && strcmp(c->installment, "final") == 0 && !as->closed)
			findings[nf++] = "final-without-result";
	}
	st.id.data = (uint8_t *)a->e->id;
	st.id.len = 32;
	st.author.data = (uint8_t *)a->e->author;
	st.author.len = 32;
	st.payer.data = (uint8_t *)payer;
	st.payer.len = 32;
	st.target = c->target;
	st.has_allocation = st.has_municipality_key = 1;
	st.allocation = as ? as->id : os->allocation;
	st.municipality_key.data = (uint8_t *)muni;
	st.municipality_key.len = 32;
	st.installment = c->installment;
	st.has_amount_cents = st.has_date = st.has_payment_term_days = 1;
	st.amount_cents = c->amount_cents;
	st.date = kt_entry_date(a);
	st.payment_term_days = term;
	st.findings = findings;
	st.n_findings = nf;
	if ((rc = kt_state_put(a->txn, DK_CLAIM, a->e->id, &st, err)) ||
	    (rc = adjust_target(a->txn, c->target.data, c->amount_cents, 0, 0, err)) ||
	    (rc = kt_balance_add(a->txn, payer, payee, st.date, BAL_CLAIMED, c->amount_cents, err)))
		goto out;
	if (!units)
		rc = kt_index_put(a->txn, DX_INSTALLMENT, c->target.data, 32, c->installment, strlen(c->installment),
		                  err);
out:
	kt_state_free(as);
	kt_state_free(os);
	kt_state_free(cs);
	keten__claim__free_unpacked(c, NULL);
	return rc;
}

/* Payments ---------------------------------------------------------------- */

int kt_rule_payment(kt_apply *a, keten_error *err)
{
	Keten__Payment *p = keten__payment__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__PaymentState st = KETEN__STATE__PAYMENT_STATE__INIT;
	Keten__State__ClaimPart *parts = NULL, **pp = NULL;
	void **loaded = NULL;
	uint32_t *types = NULL;
	int64_t *remain = NULL, total = 0, left;
	uint8_t payee[32], muni[32];
	bool have_payee = false, overdue = false;
	char *finding = "overdue";
	int rc = KETEN_OK;

	if (!p)
		return keten_refuse(err, "malformed-body", "payment body does not decode");
	memset(muni, 0, 32);
	if (p->n_claims == 0 || p->n_claims > 256) {
		rc = keten_refuse(err, "malformed-body", "a payment settles 1 to 256 claims");
		goto out;
	}
	if (p->amount_cents <= 0) {
		rc = keten_refuse(err, "invalid-amount", "a payment amount must be above zero");
		goto out;
	}
	if (p->amount_cents > KETEN_MAX_CENTS) {
		rc = keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
		goto out;
	}
	if (!keten_date_valid(p->date)) {
		rc = keten_refuse(err, "invalid-date", "payment date is not a date");
		goto out;
	}
	if ((rc = kt_text("reference", p->reference, err)))
		goto out;
	loaded = calloc(p->n_claims, sizeof *loaded);
	types = calloc(p->n_claims, sizeof *types);
	remain = calloc(p->n_claims, sizeof *remain);
	parts = calloc(p->n_claims, sizeof *parts);
	pp = calloc(p->n_claims, sizeof *pp);
	if (!loaded || !types || !remain || !parts || !pp) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	for (size_t i = 0; i < p->n_claims; i++) {
		const uint8_t *to;
		for (size_t j = 0; j < i; j++)
			if (p->claims[j].len == p->claims[i].len && p->claims[i].len == 32 &&
			    memcmp(p->claims[j].data, p->claims[i].data, 32) == 0) {
				rc = keten_refuse(err, "malformed-body", "a payment names a claim twice");
				goto out;
			}
		if ((rc = kt_ref(a, p->claims[i].data, p->claims[i].len,
		                 TYPE_BIT(KETEN__BODY_TYPE__CLAIM) | TYPE_BIT(KETEN__BODY_TYPE__CLAWBACK), &types[i],
		                 err)))
			goto out;
		if (i > 0 && types[i] != types[0]) {
			rc = keten_refuse(err, "malformed-body", "one payment settles claims or clawbacks, not both");
			goto out;
		}
		if (types[i] == KETEN__BODY_TYPE__CLAIM) {
			Keten__State__ClaimState *ks = NULL;
			if ((rc = load_ks(a->txn, p->claims[i].data, &ks, err)))
				goto out;
			loaded[i] = ks;
			if (memcmp(ks->payer.data, a->e->author, 32) != 0) {
				rc = keten_refuse(err, "not-payer", "only the party a claim is addressed to pays it");
				goto out;
			}
			if (ks->voided && a->local) {
				rc = keten_refuse(err, "entry-void", "a claim paid was voided");
				goto out;
			}
			to = ks->author.data;
			remain[i] = ks->amount_cents - ks->paid_cents;
			memcpy(muni, ks->municipality_key.data, 32);
			if (p->date > keten_date_add_days(ks->date, (int32_t)ks->payment_term_days))
				overdue = true;
		} else {
			Keten__State__ClawbackState *cb = NULL;
			Keten__State__Debt *d = NULL;
			if ((rc = kt_state_get(a->txn, DK_CLAWBACK, p->claims[i].data,
			                       &keten__state__clawback_state__descriptor, (void **)&cb, err)))
				goto out;
			loaded[i] = cb;
			for (size_t k = 0; k < cb->n_debts; k++)
				if (memcmp(cb->debts[k]->debtor.data, a->e->author, 32) == 0)
					d = cb->debts[k];
			if (!d) {
				rc = keten_refuse(err, "not-payer", "only a debtor of the clawback repays it");
				goto out;
			}
			if (cb->voided && a->local) {
				rc = keten_refuse(err, "entry-void", "the clawback was voided");
				goto out;
			}
			to = d->creditor.data;
			remain[i] = d->amount_cents - d->repaid_cents;
			memcpy(muni, cb->author.data, 32);
		}
		if (have_payee && memcmp(payee, to, 32) != 0) {
			rc = keten_refuse(err, "mixed-payees", "one payment goes to one payee");
			goto out;
		}
		memcpy(payee, to, 32);
		have_payee = true;
		if (!keten_add_cents(total, remain[i] > 0 ? remain[i] : 0, &total)) {
			rc = keten_refuse(err, "amount-overflow", "claims total overflows");
			goto out;
		}
	}
	if (p->amount_cents > total) {
		rc = keten_refuse(err, "overpayment", "payment %lld exceeds what is still open on its claims (%lld)",
		                  (long long)p->amount_cents, (long long)total);
		goto out;
	}
	left = p->amount_cents;
	for (size_t i = 0; i < p->n_claims; i++) {
		int64_t part = remain[i] < left ? remain[i] : left;
		if (part < 0)
			part = 0;
		left -= part;
		keten__state__claim_part__init(&parts[i]);
		parts[i].claim = p->claims[i];
		parts[i].amount_cents = part;
		pp[i] = &parts[i];
		if (part == 0)
			continue;
		if (types[i] == KETEN__BODY_TYPE__CLAIM) {
			Keten__State__ClaimState *ks = loaded[i];
			ks->paid_cents += part;
			ks->has_paid_cents = 1;
			if ((rc = kt_state_put(a->txn, DK_CLAIM, ks->id.data, ks, err)) ||
			    (rc = adjust_target(a->txn, ks->target.data, 0, part,
			                        strcmp(ks->installment, "upfront") == 0 &&
			                                        memcmp(ks->target.data, ks->allocation.data, 32) == 0
			                                ? part
			                                : 0,
			                        err)) ||
			    (rc = kt_balance_add(a->txn, a->e->author, payee, p->date, BAL_PAID, part, err)))
				goto out;
		} else {
			Keten__State__ClawbackState *cb = loaded[i];
			for (size_t k = 0; k < cb->n_debts; k++)
				if (memcmp(cb->debts[k]->debtor.data, a->e->author, 32) == 0) {
					cb->debts[k]->repaid_cents += part;
					cb->debts[k]->has_repaid_cents = 1;
					break;
				}
			if ((rc = kt_state_put(a->txn, DK_CLAWBACK, cb->id.data, cb, err)) ||
			    (rc = kt_balance_add(a->txn, payee, a->e->author, p->date, BAL_REPAID, part, err)))
				goto out;
		}
	}
	st.id.data = (uint8_t *)a->e->id;
	st.id.len = 32;
	st.author.data = (uint8_t *)a->e->author;
	st.author.len = 32;
	st.payee.data = payee;
	st.payee.len = 32;
	st.has_amount_cents = st.has_date = st.has_municipality_key = st.has_repayment = 1;
	st.amount_cents = p->amount_cents;
	st.date = p->date;
	st.parts = pp;
	st.n_parts = p->n_claims;
	st.municipality_key.data = muni;
	st.municipality_key.len = 32;
	st.repayment = types[0] == KETEN__BODY_TYPE__CLAWBACK;
	if (overdue) {
		st.findings = &finding;
		st.n_findings = 1;
	}
	rc = kt_state_put(a->txn, DK_PAYMENT, a->e->id, &st, err);
out:
	if (loaded)
		for (size_t i = 0; i < p->n_claims; i++)
			kt_state_free(loaded[i]);
	free(loaded);
	free(types);
	free(remain);
	free(parts);
	free(pp);
	keten__payment__free_unpacked(p, NULL);
	return rc;
}

/* Receipts ---------------------------------------------------------------- */

static int set_mismatch(Keten__State__PaymentState *ps, bool on)
{
	size_t j = 0;
	if (on)
		return kt_strs_has(ps->findings, ps->n_findings, "receipt-mismatch")
			? 0
			: kt_strs_add(&ps->findings, &ps->n_findings, "receipt-mismatch");
	for (size_t i = 0; i < ps->n_findings; i++) {
		if (strcmp(ps->findings[i], "receipt-mismatch") == 0)
			free(ps->findings[i]);
		else
			ps->findings[j++] = ps->findings[i];
	}
	ps->n_findings = j;
	return 0;
}

int kt_rule_receipt(kt_apply *a, keten_error *err)
{
	Keten__Receipt *r = keten__receipt__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__PaymentState *ps = NULL;
	Keten__State__ReceiptState st = KETEN__STATE__RECEIPT_STATE__INIT, *old = NULL;
	uint32_t type, date;
	int rc;

	if (!r)
		return keten_refuse(err, "malformed-body", "receipt body does not decode");
	if ((rc = kt_ref(a, r->payment.data, r->payment.len, TYPE_BIT(KETEN__BODY_TYPE__PAYMENT), &type, err)))
		goto out;
	if ((rc = kt_state_get(a->txn, DK_PAYMENT, r->payment.data, &keten__state__payment_state__descriptor,
	                       (void **)&ps, err)))
		goto out;
	if (memcmp(ps->payee.data, a->e->author, 32) != 0) {
		rc = keten_refuse(err, "not-payee", "only the payee confirms the receipt of a payment");
		goto out;
	}
	if (ps->voided && a->local) {
		rc = keten_refuse(err, "entry-void", "the payment was voided");
		goto out;
	}
	/* One receipt per payment: a second would silently replace what the
	 * payee confirmed.  The payee voids its receipt (keten correct) to
	 * confirm anew.  Refused locally only; a second receipt that arrives
	 * from elsewhere still replaces the first, as before, so nodes that
	 * hold the same entries agree. */
	if (a->local && ps->has_receipt && ps->receipt.len == 32) {
		rc = keten_refuse(err, "receipt-exists",
		                  "the payment already has a receipt: void it (keten correct) to "
		                  "confirm another amount");
		goto out;
	}
	if (r->received ? (r->amount_cents <= 0) : (r->amount_cents != 0)) {
		rc = keten_refuse(err, "invalid-amount",
		                  "a receipt amount is above zero (or zero with 'not received')");
		goto out;
	}
	if (r->amount_cents > KETEN_MAX_CENTS) {
		rc = keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
		goto out;
	}
	if (r->date && !keten_date_valid(r->date)) {
		rc = keten_refuse(err, "invalid-date", "receipt date is not a date");
		goto out;
	}
	date = r->date ? r->date : kt_entry_date(a);
	if (ps->has_receipt && ps->receipt.len == 32 &&
	    kt_state_get(a->txn, DK_RECEIPT, ps->receipt.data, &keten__state__receipt_state__descriptor, (void **)&old,
	                 NULL) == 0 &&
	    !old->voided && !ps->repayment &&
	    (rc = kt_balance_add(a->txn, ps->author.data, ps->payee.data, old->date, BAL_RECEIVED, -old->amount_cents,
	                         err)))
		goto out;
	if (!ps->repayment &&
	    (rc = kt_balance_add(a->txn, ps->author.data, ps->payee.data, date, BAL_RECEIVED, r->amount_cents, err)))
		goto out;
	ps->received_cents = r->amount_cents;
	ps->has_received_cents = ps->has_receipt = 1;
	/* reconcile --as-of reads the receipt's date and flag here rather
	 * than looking up the receipt record of every payment it shows */
	ps->receipt_date = date;
	ps->receipt_received = r->received;
	ps->has_receipt_date = ps->has_receipt_received = 1;
	if (kt_set_bytes(&ps->receipt, a->e->id, 32) || set_mismatch(ps, r->amount_cents != ps->amount_cents)) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	if ((rc = kt_state_put(a->txn, DK_PAYMENT, ps->id.data, ps, err)))
		goto out;
	st.id.data = (uint8_t *)a->e->id;
	st.id.len = 32;
	st.payment = r->payment;
	st.author.data = (uint8_t *)a->e->author;
	st.author.len = 32;
	st.has_amount_cents = st.has_received = st.has_date = 1;
	st.amount_cents = r->amount_cents;
	st.received = r->received;
	st.date = date;
	rc = kt_state_put(a->txn, DK_RECEIPT, a->e->id, &st, err);
out:
	kt_state_free(old);
	kt_state_free(ps);
	keten__receipt__free_unpacked(r, NULL);
	return rc;
}

/* Results and stops --------------------------------------------------------- */

int kt_rule_result(kt_apply *a, keten_error *err)
{
	Keten__Result *r = keten__result__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__AllocationState *as = NULL;
	uint32_t type;
	bool muni;
	int rc;

	if (!r)
		return keten_refuse(err, "malformed-body", "result body does not decode");
	if ((rc = kt_ref(a, r->allocation.data, r->allocation.len, ALLOC_BIT, &type, err)))
		goto out;
	if ((rc = load_as(a->txn, r->allocation.data, &as, err)))
		goto out;
	muni = memcmp(as->author.data, a->e->author, 32) == 0;
	if (memcmp(as->provider.data, a->e->author, 32) != 0 && !muni) {
		rc = keten_refuse(err, "wrong-role",
		                  "only the lead provider (or the allocating municipality) closes an allocation");
		goto out;
	}
	if (as->voided && a->local) {
		rc = keten_refuse(err, "entry-void", "the allocation was voided");
		goto out;
	}
	if (r->outcome < KETEN__OUTCOME__ACHIEVED || r->outcome > KETEN__OUTCOME__STOPPED) {
		rc = keten_refuse(err, "invalid-outcome",
		                  "outcome %u is not achieved, partial, not-achieved or stopped", r->outcome);
		goto out;
	}
	if (!r->stop_code || !kt_stop_label(as->domain, r->stop_code)) {
		rc = keten_refuse(err, "unknown-stop-code", "stop code '%s' is not in the %s list (reden beeindiging)",
		                  r->stop_code ? r->stop_code : "", as->domain ? as->domain : "");
		goto out;
	}
	if (!keten_date_valid(r->date)) {
		rc = keten_refuse(err, "invalid-date", "result date is not a date");
		goto out;
	}
	if (r->date < as->start) {
		rc = keten_refuse(err, "date-outside-validity", "result date lies before the allocation starts");
		goto out;
	}
	if (as->closed) {
		/* The other side (lead provider or municipality, whichever closed
		 * it first) may countersign the same result once.  A different
		 * result from elsewhere is kept as a disagreement; here, refused. */
		bool same = as->outcome == r->outcome && as->stop_code && strcmp(as->stop_code, r->stop_code) == 0;
		bool other = as->closed_by.len == 32 && memcmp(as->closed_by.data, a->e->author, 32) != 0;
		if (same && other && !as->countersigned) {
			as->countersigned = as->has_countersigned = 1;
			rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
			goto out;
		}
		if (!a->local && !same && other) {
			if (!kt_strs_has(as->findings, as->n_findings, "result-disagrees") &&
			    kt_strs_add(&as->findings, &as->n_findings, "result-disagrees")) {
				rc = keten_fail(err, KETEN_ENOMEM, NULL);
				goto out;
			}
			rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
			goto out;
		}
		rc = keten_refuse(err, "allocation-closed", "the allocation is already closed; it is not reopened");
		goto out;
	}
	if (kt_set_bytes(&as->closed_by, a->e->author, 32)) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	as->has_closed_by = 1;
	as->closed = as->has_closed = 1;
	as->outcome = r->outcome;
	as->has_outcome = as->has_close_date = as->has_result = 1;
	free(as->stop_code);
	as->stop_code = strdup(r->stop_code);
	as->close_date = r->date;
	if (!as->stop_code || kt_set_bytes(&as->result, a->e->id, 32)) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
out:
	kt_state_free(as);
	keten__result__free_unpacked(r, NULL);
	return rc;
}

/* Clawbacks --------------------------------------------------------------- */

struct provider_find {
	keten_txn *t;
	uint8_t provider[32];
	bool found;
};

static int provider_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct provider_find *f = p;
	Keten__State__OfferState *os = NULL;
	if (kl != 65 || load_os(f->t, k + 33, &os, NULL))
		return 0;
	if (!os->voided) {
		memcpy(f->provider, os->author.data, 32);
		f->found = true;
	}
	kt_state_free(os);
	return f->found ? 1 : 0;
}

/*
 * A clawback on an allocation this node holds only as a stub (a
 * subcontractor's node): the lead provider is the author of the offers
 * held here under it; the debts of the parties known here are recorded.
 */
/*
 * Book a clawback's debts on the pairs' balances and store its record.
 * debts[0..n) are filled in; dp receives pointers to them for the record.
 */
static int record_clawback(kt_apply *a, const Keten__Clawback *c, Keten__State__Debt *debts, Keten__State__Debt **dp,
                           size_t n, uint32_t date, keten_error *err)
{
	Keten__State__ClawbackState st = KETEN__STATE__CLAWBACK_STATE__INIT;
	int rc;

	for (size_t i = 0; i < n; i++) {
		dp[i] = &debts[i];
		if ((rc = kt_balance_add(a->txn, debts[i].creditor.data, debts[i].debtor.data, date, BAL_CLAWBACK,
		                         debts[i].amount_cents, err)))
			return rc;
	}
	st.id.data = (uint8_t *)a->e->id;
	st.id.len = 32;
	st.allocation = c->allocation;
	st.author.data = (uint8_t *)a->e->author;
	st.author.len = 32;
	st.has_amount_cents = st.has_date = 1;
	st.amount_cents = c->amount_cents;
	st.date = date;
	st.debts = dp;
	st.n_debts = n;
	st.rule = c->rule;
	return kt_state_put(a->txn, DK_CLAWBACK, a->e->id, &st, err);
}

static int clawback_stub(kt_apply *a, const Keten__Clawback *c, keten_error *err)
{
	Keten__State__Debt debts[17], *dp[17];
	struct provider_find pf = {.t = a->txn};
	uint32_t date = kt_entry_date(a);
	uint8_t pre[33];
	int64_t shared = 0;
	size_t n = 0;
	int rc;

	pre[0] = DX_OFFERS;
	memcpy(pre + 1, c->allocation.data, 32);
	if ((rc = keten_kv_scan(a->txn, KT_INDEX, pre, 33, provider_cb, &pf, err)))
		return rc;
	if (pf.found) {
		keten__state__debt__init(&debts[n]);
		debts[n].debtor.data = pf.provider;
		debts[n].debtor.len = 32;
		debts[n].creditor.data = (uint8_t *)a->e->author;
		debts[n].creditor.len = 32;
		debts[n].amount_cents = c->amount_cents;
		n++;
	}
	for (size_t i = 0; i < c->n_passed_on; i++) {
		const Keten__Share *s = c->passed_on[i];
		if (s->party.len != 32 || s->amount_cents <= 0 || !keten_add_cents(shared, s->amount_cents, &shared) ||
		    shared > c->amount_cents)
			return keten_refuse(err, "invalid-share",
			                    "passed-on shares are positive and add up to at most the clawback");
		if (!pf.found || n >= 17)
			continue;
		keten__state__debt__init(&debts[n]);
		debts[n].debtor = s->party;
		debts[n].creditor.data = pf.provider;
		debts[n].creditor.len = 32;
		debts[n].amount_cents = s->amount_cents;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		debts[i].has_repaid_cents = 1;
	return record_clawback(a, c, debts, dp, n, date, err);
}

int kt_rule_clawback(kt_apply *a, keten_error *err)
{
	Keten__Clawback *c = keten__clawback__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__AllocationState *as = NULL;
	Keten__State__Debt *debts = NULL, **dp = NULL;
	int64_t total, limit, shared = 0;
	uint32_t type, date = kt_entry_date(a);
	bool stub;
	int rc;

	if (!c)
		return keten_refuse(err, "malformed-body", "clawback body does not decode");
	if (!(kt_roles(a) & ROLE_BIT(KETEN__ROLE__MUNICIPALITY)) && !(kt_roles(a) & ROLE_BIT(KETEN__ROLE__REGION))) {
		rc = keten_refuse(err, "wrong-role", "only a municipality claws back");
		goto out;
	}
	if ((rc = kt_ref_stub(a, c->allocation.data, c->allocation.len, ALLOC_BIT, &type, &stub, err)))
		goto out;
	if (stub) {
		if (c->amount_cents <= 0 || c->amount_cents > KETEN_MAX_CENTS)
			rc = keten_refuse(err, "invalid-amount", "a clawback amount must be above zero");
		else if ((rc = kt_text("rule", c->rule, err)) == 0)
			rc = clawback_stub(a, c, err);
		goto out;
	}
	if ((rc = load_as(a->txn, c->allocation.data, &as, err)))
		goto out;
	if (memcmp(as->author.data, a->e->author, 32) != 0) {
		rc = keten_refuse(err, "wrong-role", "only the allocating municipality claws back");
		goto out;
	}
	if (as->voided) {
		rc = keten_refuse(err, "entry-void", "the allocation was voided");
		goto out;
	}
	if (c->amount_cents <= 0) {
		rc = keten_refuse(err, "invalid-amount", "a clawback amount must be above zero");
		goto out;
	}
	if (c->amount_cents > KETEN_MAX_CENTS || !keten_add_cents(as->clawback_cents, c->amount_cents, &total)) {
		rc = keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
		goto out;
	}
	/* An automatic clawback takes what the early-stop rule asks; a second
	 * one on top would double it.  Only local appends are refused: the
	 * clawbacks already standing depend on corrections made before. */
	if (a->local && as->clawback_cents > 0 && c->rule &&
	    strncmp(c->rule, KT_CLAWBACK_AUTO_PREFIX, strlen(KT_CLAWBACK_AUTO_PREFIX)) == 0) {
		rc = keten_refuse(err, "clawback-exists",
		                  "the allocation already has clawbacks of %lld cents; an automatic "
		                  "clawback is made once (void the earlier one first)",
		                  (long long)as->clawback_cents);
		goto out;
	}
	/* A herstel allocation is clawed back from its up-front part (what an
	 * early stop leaves unearned), so all clawbacks together stay within
	 * the up-front part paid; other kinds within everything paid. */
	limit = as->kind == KETEN__KIND__HERSTEL ? as->upfront_paid_cents : as->paid_cents;
	if (total > limit) {
		rc = keten_refuse(err, "clawback-exceeds-paid", "clawbacks (%lld) would exceed what was paid%s (%lld)",
		                  (long long)total, as->kind == KETEN__KIND__HERSTEL ? " up front" : "",
		                  (long long)limit);
		goto out;
	}
	if ((rc = kt_text("rule", c->rule, err)))
		goto out;
	debts = calloc(c->n_passed_on + 1, sizeof *debts);
	dp = calloc(c->n_passed_on + 1, sizeof *dp);
	if (!debts || !dp) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	for (size_t i = 0; i < c->n_passed_on; i++) {
		const Keten__Share *s = c->passed_on[i];
		if (s->party.len != 32 || s->amount_cents <= 0 || !keten_add_cents(shared, s->amount_cents, &shared) ||
		    shared > c->amount_cents || memcmp(s->party.data, as->provider.data, 32) == 0) {
			rc = keten_refuse(err, "invalid-share",
			                  "passed-on shares go to others than the lead provider, are positive "
			                  "and add up to at most the clawback");
			goto out;
		}
	}
	for (size_t i = 0; i <= c->n_passed_on; i++) {
		keten__state__debt__init(&debts[i]);
		debts[i].has_repaid_cents = 1;
		if (i == 0) {
			debts[i].debtor = as->provider;
			debts[i].creditor = as->author;
			debts[i].amount_cents = c->amount_cents;
		} else {
			debts[i].debtor = c->passed_on[i - 1]->party;
			debts[i].creditor = as->provider;
			debts[i].amount_cents = c->passed_on[i - 1]->amount_cents;
		}
	}
	if ((rc = record_clawback(a, c, debts, dp, c->n_passed_on + 1, date, err)))
		goto out;
	as->clawback_cents = total;
	as->has_clawback_cents = 1;
	rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
out:
	free(debts);
	free(dp);
	kt_state_free(as);
	keten__clawback__free_unpacked(c, NULL);
	return rc;
}

/* Corrections --------------------------------------------------------------- */

static int void_claim(kt_apply *a, const uint8_t id[32], keten_error *err)
{
	Keten__State__ClaimState *ks = NULL;
	int rc = load_ks(a->txn, id, &ks, err);
	if (rc)
		return rc;
	if (ks->voided)
		rc = keten_refuse(err, "already-void", "the claim is already void");
	else if (ks->paid_cents > 0 && a->local)
		rc = keten_refuse(err, "claim-has-payments", "the claim was paid: the payer voids the payment first");
	if (rc)
		goto out;
	ks->voided = ks->has_voided = 1;
	if ((rc = kt_state_put(a->txn, DK_CLAIM, id, ks, err)) ||
	    (rc = adjust_target(a->txn, ks->target.data, -ks->amount_cents, 0, 0, err)) ||
	    (rc = kt_balance_add(a->txn, ks->payer.data, ks->author.data, ks->date, BAL_CLAIMED, -ks->amount_cents,
	                         err)))
		goto out;
	if (strcmp(ks->installment, "units") != 0)
		rc = kt_index_del(a->txn, DX_INSTALLMENT, ks->target.data, 32, ks->installment, strlen(ks->installment),
		                  err);
out:
	kt_state_free(ks);
	return rc;
}

static int void_payment(kt_apply *a, const uint8_t id[32], keten_error *err)
{
	Keten__State__PaymentState *ps = NULL;
	int rc = kt_state_get(a->txn, DK_PAYMENT, id, &keten__state__payment_state__descriptor, (void **)&ps, err);
	if (rc)
		return rc;
	if (ps->voided) {
		rc = keten_refuse(err, "already-void", "the payment is already void");
		goto out;
	}
	for (size_t i = 0; i < ps->n_parts && rc == 0; i++) {
		const Keten__State__ClaimPart *part = ps->parts[i];
		if (part->amount_cents == 0)
			continue;
		if (!ps->repayment) {
			Keten__State__ClaimState *ks = NULL;
			if ((rc = load_ks(a->txn, part->claim.data, &ks, err)))
				break;
			ks->paid_cents -= part->amount_cents;
			if ((rc = kt_state_put(a->txn, DK_CLAIM, ks->id.data, ks, err)) == 0)
				rc = adjust_target(a->txn, ks->target.data, 0, -part->amount_cents,
				                   strcmp(ks->installment, "upfront") == 0 &&
				                                   memcmp(ks->target.data, ks->allocation.data, 32) == 0
				                           ? -part->amount_cents
				                           : 0,
				                   err);
			kt_state_free(ks);
			if (rc == 0)
				rc = kt_balance_add(a->txn, ps->author.data, ps->payee.data, ps->date, BAL_PAID,
				                    -part->amount_cents, err);
		} else {
			Keten__State__ClawbackState *cb = NULL;
			if ((rc = kt_state_get(a->txn, DK_CLAWBACK, part->claim.data,
			                       &keten__state__clawback_state__descriptor, (void **)&cb, err)))
				break;
			for (size_t k = 0; k < cb->n_debts; k++)
				if (memcmp(cb->debts[k]->debtor.data, ps->author.data, 32) == 0) {
					cb->debts[k]->repaid_cents -= part->amount_cents;
					break;
				}
			rc = kt_state_put(a->txn, DK_CLAWBACK, cb->id.data, cb, err);
			kt_state_free(cb);
			if (rc == 0)
				rc = kt_balance_add(a->txn, ps->payee.data, ps->author.data, ps->date, BAL_REPAID,
				                    -part->amount_cents, err);
		}
	}
	if (rc)
		goto out;
	if (!ps->repayment && ps->has_receipt && ps->receipt.len == 32) {
		Keten__State__ReceiptState *rs = NULL;
		if (kt_state_get(a->txn, DK_RECEIPT, ps->receipt.data, &keten__state__receipt_state__descriptor,
		                 (void **)&rs, NULL) == 0 &&
		    !rs->voided)
			rc = kt_balance_add(a->txn, ps->author.data, ps->payee.data, rs->date, BAL_RECEIVED,
			                    -rs->amount_cents, err);
		kt_state_free(rs);
		if (rc)
			goto out;
	}
	ps->voided = ps->has_voided = 1;
	rc = kt_state_put(a->txn, DK_PAYMENT, id, ps, err);
out:
	kt_state_free(ps);
	return rc;
}

static int void_receipt(kt_apply *a, const uint8_t id[32], keten_error *err)
{
	Keten__State__ReceiptState *rs = NULL;
	Keten__State__PaymentState *ps = NULL;
	int rc = kt_state_get(a->txn, DK_RECEIPT, id, &keten__state__receipt_state__descriptor, (void **)&rs, err);
	if (rc)
		return rc;
	if (rs->voided) {
		rc = keten_refuse(err, "already-void", "the receipt is already void");
		goto out;
	}
	if ((rc = kt_state_get(a->txn, DK_PAYMENT, rs->payment.data, &keten__state__payment_state__descriptor,
	                       (void **)&ps, err)))
		goto out;
	if (ps->has_receipt && ps->receipt.len == 32 && memcmp(ps->receipt.data, id, 32) == 0) {
		if (!ps->voided && !ps->repayment &&
		    (rc = kt_balance_add(a->txn, ps->author.data, ps->payee.data, rs->date, BAL_RECEIVED,
		                         -rs->amount_cents, err)))
			goto out;
		ps->received_cents = 0;
		ps->has_receipt = 0;
		/* the receipt's copy goes with it: a payment record names only a
		 * live receipt, so readers need no voided flag of their own */
		ps->receipt_date = 0;
		ps->receipt_received = 0;
		ps->has_receipt_date = ps->has_receipt_received = 0;
		set_mismatch(ps, false);
		if ((rc = kt_state_put(a->txn, DK_PAYMENT, ps->id.data, ps, err)))
			goto out;
	}
	rs->voided = rs->has_voided = 1;
	rc = kt_state_put(a->txn, DK_RECEIPT, id, rs, err);
out:
	kt_state_free(ps);
	kt_state_free(rs);
	return rc;
}

static int void_simple(kt_apply *a, uint32_t type, const uint8_t id[32], keten_error *err)
{
	void *m = NULL;
	int rc;

	switch (type) {
	case KETEN__BODY_TYPE__DELIVERY: {
		Keten__State__DeliveryState *ds;
		if ((rc = kt_state_get(a->txn, DK_DELIVERY, id, &keten__state__delivery_state__descriptor, &m, err)))
			return rc;
		ds = m;
		if (ds->voided)
			rc = keten_refuse(err, "already-void", "the delivery is already void");
		else {
			ds->voided = ds->has_voided = 1;
			rc = kt_state_put(a->txn, DK_DELIVERY, id, ds, err);
		}
		break;
	}
	case KETEN__BODY_TYPE__SUBCONTRACT_OFFER: {
		Keten__State__OfferState *os;
		if ((rc = load_os(a->txn, id, (Keten__State__OfferState **)&m, err)))
			return rc;
		os = m;
		if (os->voided)
			rc = keten_refuse(err, "already-void", "the offer is already void");
		else if (os->claimed_cents > 0 && a->local)
			rc = keten_refuse(err, "offer-has-claims", "the subcontract has live claims: void them first");
		else {
			os->voided = os->has_voided = 1;
			rc = kt_state_put(a->txn, DK_OFFER, id, os, err);
			if (rc == 0 && !(os->answered && !os->accepted) && os->parent.len == 32 &&
			    memcmp(os->parent.data, os->allocation.data, 32) == 0) {
				Keten__State__AllocationState *as = NULL;
				/* absent when the allocation's body is withheld from this node */
				if (load_as(a->txn, os->allocation.data, &as, NULL) == 0) {
					as->subcontracted_cents -= os->amount_cents;
					rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
				}
				kt_state_free(as);
			}
		}
		break;
	}
	case KETEN__BODY_TYPE__ALLOCATION: {
		Keten__State__AllocationState *as;
		if ((rc = load_as(a->txn, id, (Keten__State__AllocationState **)&m, err)))
			return rc;
		as = m;
		if (as->voided)
			rc = keten_refuse(err, "already-void", "the allocation is already void");
		else if ((as->claimed_cents > 0 || as->subcontracted_cents > 0) && a->local)
			rc = keten_refuse(err, "allocation-in-use",
			                  "the allocation has live claims or subcontracts: void them first");
		else {
			as->voided = as->has_voided = 1;
			rc = kt_state_put(a->txn, DK_ALLOCATION, id, as, err);
		}
		break;
	}
	case KETEN__BODY_TYPE__CLAWBACK: {
		Keten__State__ClawbackState *cb;
		Keten__State__AllocationState *as = NULL;
		if ((rc = kt_state_get(a->txn, DK_CLAWBACK, id, &keten__state__clawback_state__descriptor, &m, err)))
			return rc;
		cb = m;
		if (cb->voided) {
			rc = keten_refuse(err, "already-void", "the clawback is already void");
			break;
		}
		for (size_t k = 0; k < cb->n_debts; k++)
			if (cb->debts[k]->repaid_cents > 0 && a->local) {
				rc = keten_refuse(err, "clawback-has-repayments",
				                  "the clawback was (partly) repaid: void the repayment first");
				break;
			}
		for (size_t k = 0; rc == 0 && k < cb->n_debts; k++)
			rc = kt_balance_add(a->txn, cb->debts[k]->creditor.data, cb->debts[k]->debtor.data, cb->date,
			                    BAL_CLAWBACK, -cb->debts[k]->amount_cents, err);
		if (rc)
			break;
		cb->voided = cb->has_voided = 1;
		/* the allocation is absent when its body is withheld from this node */
		if ((rc = kt_state_put(a->txn, DK_CLAWBACK, id, cb, err)) == 0 &&
		    load_as(a->txn, cb->allocation.data, &as, NULL) == 0) {
			as->clawback_cents -= cb->amount_cents;
			rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
		}
		kt_state_free(as);
		break;
	}
	default:
		return keten_refuse(err, "not-correctable", "a %s is not corrected by voiding it",
		                    keten_body_type_name(type) ? keten_body_type_name(type) : "entry");
	}
	kt_state_free(m);
	return rc;
}

int kt_rule_correction(kt_apply *a, keten_error *err)
{
	Keten__Correction *c = keten__correction__unpack(NULL, a->e->body_len, a->e->body);
	keten_entry orig;
	uint32_t type;
	int rc;

	if (!c)
		return keten_refuse(err, "malformed-body", "correction body does not decode");
	if ((rc = kt_ref(a, c->entry.data, c->entry.len, 0xffffffffu, &type, err)))
		goto out;
	if ((rc = keten_store_get_entry(a->txn, c->entry.data, &orig, err)))
		goto out;
	rc = memcmp(orig.author, a->e->author, 32) != 0;
	keten_entry_release(&orig);
	if (rc) {
		rc = keten_refuse(err, "not-original-author", "only the author of an entry corrects it");
		goto out;
	}
	if (!c->reason[0]) {
		rc = keten_refuse(err, "reason-required", "a correction gives a reason");
		goto out;
	}
	if ((rc = kt_text("reason", c->reason, err)))
		goto out;
	switch (type) {
	case KETEN__BODY_TYPE__CLAIM: rc = void_claim(a, c->entry.data, err); break;
	case KETEN__BODY_TYPE__PAYMENT: rc = void_payment(a, c->entry.data, err); break;
	case KETEN__BODY_TYPE__RECEIPT: rc = void_receipt(a, c->entry.data, err); break;
	default: rc = void_simple(a, type, c->entry.data, err); break;
	}
out:
	keten__correction__free_unpacked(c, NULL);
	return rc;
}
