/*
 * correction.c — body rules and derived state of corrections: an author
 * voids one of its own entries (a claim, payment, receipt, delivery,
 * subcontract offer, allocation or clawback) with a reason.  The original
 * stays in the ledger; voiding takes its amounts out of every count it
 * moved — the target's counters, the pair's balances, the allocation's
 * subcontracted and clawed-back totals — by exactly what it put in.
 * Locally, an entry others have built on (a paid claim, a claimed
 * subcontract, a repaid clawback) is refused until those are voided
 * first.  Part of the money flow (rules/flow.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rules/change.h"
#include "rules/flow.h"
#include "base/base.h"

static int void_claim(kt_apply *a, const uint8_t id[32], keten_error *err)
{
	Keten__State__ClaimState *ks = NULL;
	int rc = kt_load_claim(a->txn, id, &ks, err);
	if (rc)
		return rc;
	if (ks->voided)
		rc = keten_refuse(err, "already-void", "the claim is already void");
	else if (ks->paid_cents > 0 && a->local)
		rc = keten_refuse(err, "claim-has-payments", "the claim was paid: the payer voids the payment first");
	if (rc)
		goto out;
	KETEN_ASSERT(ks->amount_cents > 0);
	ks->voided = ks->has_voided = 1;
	if ((rc = kt_state_put(a->txn, DK_CLAIM, id, ks, err)) ||
	    (rc = kt_adjust_target(a->txn, ks->target.data, -ks->amount_cents, 0, 0, err)) ||
	    (rc = kt_balance_add(a->txn, ks->payer.data, ks->author.data, ks->date, BAL_CLAIMED, -ks->amount_cents,
	                         err)))
		goto out;
	/* its factuurnummer is free again (claim.c) */
	if (ks->number &&
	    (rc = kt_index_del(a->txn, DX_INVOICE, ks->author.data, 32, ks->number, strlen(ks->number), err)))
		goto out;
	if (strcmp(ks->installment, "units") != 0)
		rc = kt_index_del(a->txn, DX_INSTALLMENT, ks->target.data, 32, ks->installment, strlen(ks->installment),
		                  err);
out:
	kt_state_free(ks);
	return rc;
}

/* Take one part of a voided payment off its claim, target and balance. */
static int unpay_claim(kt_apply *a, const Keten__State__PaymentState *ps, const Keten__State__ClaimPart *part,
                       keten_error *err)
{
	Keten__State__ClaimState *ks = NULL;
	int64_t amount = part->amount_cents;
	int rc;

	KETEN_ASSERT(amount > 0);
	if ((rc = kt_load_claim(a->txn, part->claim.data, &ks, err)))
		return rc;
	ks->paid_cents -= amount;
	/* the payment booked this part on the claim when it applied */
	KETEN_ASSERT(ks->paid_cents >= 0);
	if ((rc = kt_state_put(a->txn, DK_CLAIM, ks->id.data, ks, err)) == 0)
		rc = kt_adjust_target(a->txn, ks->target.data, 0, -amount, -kt_upfront_part(ks, amount), err);
	kt_state_free(ks);
	if (rc)
		return rc;
	return kt_balance_add(a->txn, ps->author.data, ps->payee.data, ps->date, BAL_PAID, -amount, err);
}

/* Take one part of a voided repayment off its debt and balance. */
static int unpay_clawback(kt_apply *a, const Keten__State__PaymentState *ps, const Keten__State__ClaimPart *part,
                          keten_error *err)
{
	Keten__State__ClawbackState *cb = NULL;
	int rc;

	if ((rc = kt_load_clawback(a->txn, part->claim.data, &cb, err)))
		return rc;
	/* the repayment booked this part on the author's debts (kt_debt_repay) */
	KETEN_ASSERT(kt_debt_of(cb, ps->author.data) != NULL && part->amount_cents > 0);
	kt_debt_unrepay(cb, ps->author.data, part->amount_cents);
	rc = kt_state_put(a->txn, DK_CLAWBACK, cb->id.data, cb, err);
	kt_state_free(cb);
	if (rc)
		return rc;
	return kt_balance_add(a->txn, ps->payee.data, ps->author.data, ps->date, BAL_REPAID, -part->amount_cents, err);
}

/* A voided payment's live receipt leaves the received balance with it. */
static int unreceive(kt_apply *a, const Keten__State__PaymentState *ps, keten_error *err)
{
	Keten__State__ReceiptState *rs = NULL;
	int rc = KETEN_OK;

	KETEN_ASSERT(!ps->voided);
	if (ps->repayment || !kt_payment_has_receipt(ps, NULL))
		return KETEN_OK;
	if (kt_state_get(a->txn, DK_RECEIPT, ps->receipt.data, &keten__state__receipt_state__descriptor, (void **)&rs,
	                 NULL) == 0 &&
	    !rs->voided)
		rc = kt_balance_add(a->txn, ps->author.data, ps->payee.data, rs->date, BAL_RECEIVED, -rs->amount_cents,
		                    err);
	kt_state_free(rs);
	return rc;
}

/* A payment of the up-front part of an allocation a change replaced
 * stays: what it paid was carried over to the replacement. */
static int void_payment_replaced(kt_apply *a, const Keten__State__PaymentState *ps, keten_error *err)
{
	for (size_t i = 0; !ps->repayment && i < ps->n_parts; i++) {
		Keten__State__ClaimState *ks = NULL;
		bool replaced = kt_load_claim(a->txn, ps->parts[i]->claim.data, &ks, NULL) == 0 &&
			ps->parts[i]->amount_cents > 0 && kt_upfront_replaced(a->txn, ks);
		kt_state_free(ks);
		if (replaced)
			return keten_refuse(
				err, "allocation-replaced",
				"the payment paid the up-front part of a replaced allocation, carried over to "
				"the replacement: void the replacement first");
	}
	return KETEN_OK;
}

static int void_payment(kt_apply *a, const uint8_t id[32], keten_error *err)
{
	Keten__State__PaymentState *ps = NULL;
	int64_t undone = 0;
	int rc = kt_state_get(a->txn, DK_PAYMENT, id, &keten__state__payment_state__descriptor, (void **)&ps, err);
	if (rc)
		return rc;
	if (ps->voided) {
		rc = keten_refuse(err, "already-void", "the payment is already void");
		goto out;
	}
	if ((rc = void_payment_replaced(a, ps, err)))
		goto out;
	for (size_t i = 0; i < ps->n_parts && rc == 0; i++) {
		const Keten__State__ClaimPart *part = ps->parts[i];
		if (part->amount_cents == 0)
			continue;
		undone += part->amount_cents;
		rc = ps->repayment ? unpay_clawback(a, ps, part, err) : unpay_claim(a, ps, part, err);
	}
	if (rc || (rc = unreceive(a, ps, err)))
		goto out;
	/* a payment's parts add up to it (kt_rule_payment): voiding takes off all of it */
	KETEN_ASSERT(undone == ps->amount_cents);
	ps->voided = ps->has_voided = 1;
	rc = kt_state_put(a->txn, DK_PAYMENT, id, ps, err);
out:
	kt_state_free(ps);
	return rc;
}

/* The payment of a voided receipt no longer names it, nor its date and flag. */
static int unconfirm(kt_apply *a, Keten__State__PaymentState *ps, const Keten__State__ReceiptState *rs,
                     keten_error *err)
{
	int rc;

	if (!ps->voided && !ps->repayment &&
	    (rc = kt_balance_add(a->txn, ps->author.data, ps->payee.data, rs->date, BAL_RECEIVED, -rs->amount_cents,
	                         err)))
		return rc;
	ps->received_cents = 0;
	ps->has_receipt = 0;
	/* the receipt's copy goes with it: a payment record names only a
	 * live receipt, so readers need no voided flag of their own */
	ps->receipt_date = 0;
	ps->receipt_received = 0;
	ps->has_receipt_date = ps->has_receipt_received = 0;
	kt_receipt_mismatch(ps, false);
	KETEN_ASSERT(!kt_payment_has_receipt(ps, NULL));
	return kt_state_put(a->txn, DK_PAYMENT, ps->id.data, ps, err);
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
	KETEN_ASSERT(rs->payment.len == 32);
	if ((rc = kt_state_get(a->txn, DK_PAYMENT, rs->payment.data, &keten__state__payment_state__descriptor,
	                       (void **)&ps, err)))
		goto out;
	/* a receipt replaced by a later one no longer counts anywhere */
	if (kt_payment_has_receipt(ps, id) && (rc = unconfirm(a, ps, rs, err)))
		goto out;
	rs->voided = rs->has_voided = 1;
	rc = kt_state_put(a->txn, DK_RECEIPT, id, rs, err);
out:
	kt_state_free(ps);
	kt_state_free(rs);
	return rc;
}

static int void_delivery(kt_apply *a, const uint8_t id[32], keten_error *err)
{
	Keten__State__DeliveryState *ds = NULL;
	int rc = kt_state_get(a->txn, DK_DELIVERY, id, &keten__state__delivery_state__descriptor, (void **)&ds, err);
	if (rc)
		return rc;
	KETEN_ASSERT(ds->target.len == 32);
	if (ds->voided)
		rc = keten_refuse(err, "already-void", "the delivery is already void");
	else {
		ds->voided = ds->has_voided = 1;
		rc = kt_state_put(a->txn, DK_DELIVERY, id, ds, err);
	}
	kt_state_free(ds);
	return rc;
}

/* A voided offer that still counted (not refused) on its allocation leaves it. */
static int unsubcontract(kt_apply *a, const Keten__State__OfferState *os, keten_error *err)
{
	Keten__State__AllocationState *as = NULL;
	int rc = KETEN_OK;

	KETEN_ASSERT(os->voided);
	if ((os->answered && !os->accepted) || os->parent.len != 32 ||
	    memcmp(os->parent.data, os->allocation.data, 32) != 0)
		return KETEN_OK;
	/* absent when the allocation's body is withheld from this node */
	if (kt_load_allocation(a->txn, os->allocation.data, &as, NULL) == 0) {
		as->subcontracted_cents -= os->amount_cents;
		rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
	}
	kt_state_free(as);
	return rc;
}

static int void_offer(kt_apply *a, const uint8_t id[32], keten_error *err)
{
	Keten__State__OfferState *os = NULL;
	int rc = kt_load_offer(a->txn, id, &os, err);
	if (rc)
		return rc;
	if (os->voided)
		rc = keten_refuse(err, "already-void", "the offer is already void");
	else if (os->claimed_cents > 0 && a->local)
		rc = keten_refuse(err, "offer-has-claims", "the subcontract has live claims: void them first");
	else {
		os->voided = os->has_voided = 1;
		rc = kt_state_put(a->txn, DK_OFFER, id, os, err);
		if (rc == 0)
			rc = unsubcontract(a, os, err);
	}
	KETEN_ASSERT(rc != 0 || os->voided);
	kt_state_free(os);
	return rc;
}

static int void_allocation(kt_apply *a, const uint8_t id[32], keten_error *err)
{
	Keten__State__AllocationState *as = NULL;
	int rc = kt_load_allocation(a->txn, id, &as, err);
	if (rc)
		return rc;
	if (as->voided)
		rc = keten_refuse(err, "already-void", "the allocation is already void");
	else if ((as->claimed_cents > 0 || as->subcontracted_cents > 0) && a->local)
		rc = keten_refuse(err, "allocation-in-use",
		                  "the allocation has live claims or subcontracts: void them first");
	else if ((rc = kt_change_void(a, as, err)) == 0) {
		/* a replacement's change is undone with it (rules/change.c) */
		as->voided = as->has_voided = 1;
		rc = kt_state_put(a->txn, DK_ALLOCATION, id, as, err);
	}
	KETEN_ASSERT(rc != 0 || as->voided);
	kt_state_free(as);
	return rc;
}

/* Take a voided clawback's debts off the balances and its amount off the allocation. */
static int unclaw(kt_apply *a, const uint8_t id[32], Keten__State__ClawbackState *cb, keten_error *err)
{
	Keten__State__AllocationState *as = NULL;
	int rc = KETEN_OK;

	KETEN_ASSERT(!cb->voided);
	for (size_t k = 0; rc == 0 && k < cb->n_debts; k++)
		rc = kt_balance_add(a->txn, cb->debts[k]->creditor.data, cb->debts[k]->debtor.data, cb->date,
		                    BAL_CLAWBACK, -cb->debts[k]->amount_cents, err);
	if (rc)
		return rc;
	cb->voided = cb->has_voided = 1;
	/* the allocation is absent when its body is withheld from this node */
	if ((rc = kt_state_put(a->txn, DK_CLAWBACK, id, cb, err)) == 0 &&
	    kt_load_allocation(a->txn, cb->allocation.data, &as, NULL) == 0) {
		as->clawback_cents -= cb->amount_cents;
		rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
	}
	kt_state_free(as);
	return rc;
}

static int void_clawback(kt_apply *a, const uint8_t id[32], keten_error *err)
{
	Keten__State__ClawbackState *cb = NULL;
	int rc = kt_load_clawback(a->txn, id, &cb, err);
	if (rc)
		return rc;
	if (cb->voided) {
		rc = keten_refuse(err, "already-void", "the clawback is already void");
		goto out;
	}
	for (size_t k = 0; k < cb->n_debts; k++)
		if (cb->debts[k]->repaid_cents > 0 && a->local) {
			rc = keten_refuse(err, "clawback-has-repayments",
			                  "the clawback was (partly) repaid: void the repayment first");
			goto out;
		}
	rc = unclaw(a, id, cb, err);
	KETEN_ASSERT(rc != 0 || cb->voided);
out:
	kt_state_free(cb);
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
	KETEN_ASSERT(c->entry.len == 32);
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
	case KETEN__BODY_TYPE__DELIVERY: rc = void_delivery(a, c->entry.data, err); break;
	case KETEN__BODY_TYPE__SUBCONTRACT_OFFER: rc = void_offer(a, c->entry.data, err); break;
	case KETEN__BODY_TYPE__ALLOCATION: rc = void_allocation(a, c->entry.data, err); break;
	case KETEN__BODY_TYPE__CLAWBACK: rc = void_clawback(a, c->entry.data, err); break;
	default:
		rc = keten_refuse(err, "not-correctable", "a %s is not corrected by voiding it",
		                  keten_body_type_name(type) ? keten_body_type_name(type) : "entry");
		break;
	}
out:
	keten__correction__free_unpacked(c, NULL);
	return rc;
}
