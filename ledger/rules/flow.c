/*
 * flow.c — the helpers the money-flow rules share (rules/flow.h): loading
 * the records a flow entry refers to, moving the claimed and paid
 * counters of an allocation or subcontract, and the facts about claims,
 * clawbacks and payments that two rules must read the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/flow.h"
#include "base/base.h"

int kt_load_allocation(keten_txn *t, const uint8_t id[32], Keten__State__AllocationState **as, keten_error *err)
{
	return kt_state_get(t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, (void **)as, err);
}

int kt_load_offer(keten_txn *t, const uint8_t id[32], Keten__State__OfferState **os, keten_error *err)
{
	return kt_state_get(t, DK_OFFER, id, &keten__state__offer_state__descriptor, (void **)os, err);
}

int kt_load_claim(keten_txn *t, const uint8_t id[32], Keten__State__ClaimState **ks, keten_error *err)
{
	return kt_state_get(t, DK_CLAIM, id, &keten__state__claim_state__descriptor, (void **)ks, err);
}

int kt_load_clawback(keten_txn *t, const uint8_t id[32], Keten__State__ClawbackState **cb, keten_error *err)
{
	return kt_state_get(t, DK_CLAWBACK, id, &keten__state__clawback_state__descriptor, (void **)cb, err);
}

static int adjust_allocation(keten_txn *t, Keten__State__AllocationState *as, int64_t claimed, int64_t paid,
                             int64_t upfront, keten_error *err)
{
	int64_t was = as->claimed_cents;

	if (!keten_add_cents(as->claimed_cents, claimed, &as->claimed_cents) ||
	    !keten_add_cents(as->paid_cents, paid, &as->paid_cents) ||
	    !keten_add_cents(as->upfront_paid_cents, upfront, &as->upfront_paid_cents))
		return keten_refuse(err, "amount-overflow", "the allocation's totals would overflow");
	KETEN_ASSERT(as->claimed_cents - claimed == was);
	as->has_claimed_cents = as->has_paid_cents = as->has_upfront_paid_cents = 1;
	return kt_state_put(t, DK_ALLOCATION, as->id.data, as, err);
}

static int adjust_offer(keten_txn *t, Keten__State__OfferState *os, int64_t claimed, int64_t paid, keten_error *err)
{
	int64_t was = os->paid_cents;

	if (!keten_add_cents(os->claimed_cents, claimed, &os->claimed_cents) ||
	    !keten_add_cents(os->paid_cents, paid, &os->paid_cents))
		return keten_refuse(err, "amount-overflow", "the subcontract's totals would overflow");
	KETEN_ASSERT(os->paid_cents - paid == was);
	os->has_claimed_cents = os->has_paid_cents = 1;
	return kt_state_put(t, DK_OFFER, os->id.data, os, err);
}

int kt_adjust_target(keten_txn *t, const uint8_t target[32], int64_t claimed, int64_t paid, int64_t upfront,
                     keten_error *err)
{
	Keten__State__AllocationState *as = NULL;
	Keten__State__OfferState *os = NULL;
	int rc;

	KETEN_ASSERT(target != NULL);
	/* only an allocation counts what is paid up front */
	if (kt_load_allocation(t, target, &as, NULL) == 0) {
		KETEN_ASSERT(memcmp(as->id.data, target, 32) == 0);
		rc = adjust_allocation(t, as, claimed, paid, upfront, err);
		kt_state_free(as);
		return rc;
	}
	KETEN_ASSERT(upfront == 0);
	if ((rc = kt_load_offer(t, target, &os, err)))
		return rc;
	KETEN_ASSERT(memcmp(os->id.data, target, 32) == 0);
	rc = adjust_offer(t, os, claimed, paid, err);
	kt_state_free(os);
	return rc;
}

int64_t kt_upfront_part(const Keten__State__ClaimState *ks, int64_t amount)
{
	KETEN_ASSERT(ks->target.len == 32 && ks->allocation.len == 32);
	return strcmp(ks->installment, "upfront") == 0 && memcmp(ks->target.data, ks->allocation.data, 32) == 0 ? amount
														: 0;
}

Keten__State__Debt *kt_debt_of(const Keten__State__ClawbackState *cb, const uint8_t key[32])
{
	for (size_t k = 0; k < cb->n_debts; k++)
		if (memcmp(cb->debts[k]->debtor.data, key, 32) == 0)
			return cb->debts[k];
	return NULL;
}

int64_t kt_debt_open(const Keten__State__ClawbackState *cb, const uint8_t key[32])
{
	int64_t open = 0;
	for (size_t k = 0; k < cb->n_debts; k++)
		if (memcmp(cb->debts[k]->debtor.data, key, 32) == 0)
			open += cb->debts[k]->amount_cents - cb->debts[k]->repaid_cents;
	return open;
}

void kt_debt_repay(Keten__State__ClawbackState *cb, const uint8_t key[32], int64_t part)
{
	for (size_t k = 0; k < cb->n_debts && part > 0; k++) {
		Keten__State__Debt *d = cb->debts[k];
		int64_t open = d->amount_cents - d->repaid_cents, here;
		if (memcmp(d->debtor.data, key, 32) != 0 || open <= 0)
			continue;
		here = open < part ? open : part;
		d->repaid_cents += here;
		d->has_repaid_cents = 1;
		part -= here;
	}
	/* the payment was held to kt_debt_open */
	KETEN_ASSERT(part == 0);
}

void kt_debt_unrepay(Keten__State__ClawbackState *cb, const uint8_t key[32], int64_t part)
{
	for (size_t k = cb->n_debts; k-- > 0 && part > 0;) {
		Keten__State__Debt *d = cb->debts[k];
		int64_t here;
		if (memcmp(d->debtor.data, key, 32) != 0 || d->repaid_cents <= 0)
			continue;
		here = d->repaid_cents < part ? d->repaid_cents : part;
		d->repaid_cents -= here;
		part -= here;
	}
	/* the repayment booked this much on key's debts */
	KETEN_ASSERT(part == 0);
}

int kt_receipt_mismatch(Keten__State__PaymentState *ps, bool on)
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
	KETEN_ASSERT(!kt_strs_has(ps->findings, ps->n_findings, "receipt-mismatch"));
	return 0;
}

bool kt_payment_has_receipt(const Keten__State__PaymentState *ps, const uint8_t *id)
{
	if (!ps->has_receipt || ps->receipt.len != 32)
		return false;
	return !id || memcmp(ps->receipt.data, id, 32) == 0;
}
