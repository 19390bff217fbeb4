/*
 * receipt.c — body rules and derived state of receipts: the payee's word
 * that a payment arrived (with the amount it saw) or did not.  Only the
 * payee confirms, once per payment (locally; a second receipt received
 * from elsewhere replaces the first, so that nodes holding the same
 * entries agree).  The receipt moves the pair's received balance by its
 * amount (a repayment's receipt moves nothing), and a receipt whose
 * amount differs from the payment's marks the payment "receipt-mismatch".
 * Part of the money flow (rules/flow.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rules/flow.h"
#include "base/base.h"

/* What the receipt says of itself and of the payment it confirms. */
static int receipt_checks(const kt_apply *a, const Keten__Receipt *r, const Keten__State__PaymentState *ps,
                          keten_error *err)
{
	KETEN_ASSERT(ps->payee.len == 32 && r->payment.len == 32);
	if (memcmp(ps->payee.data, a->e->author, 32) != 0)
		return keten_refuse(err, "not-payee", "only the payee confirms the receipt of a payment");
	if (ps->voided && a->local)
		return keten_refuse(err, "entry-void", "the payment was voided");
	/* One receipt per payment: a second would silently replace what the
	 * payee confirmed.  The payee voids its receipt (keten correct) to
	 * confirm anew.  Refused locally only; a second receipt that arrives
	 * from elsewhere still replaces the first, as before, so nodes that
	 * hold the same entries agree. */
	if (a->local && kt_payment_has_receipt(ps, NULL))
		return keten_refuse(err, "receipt-exists",
		                    "the payment already has a receipt: void it (keten correct) to "
		                    "confirm another amount");
	if (r->received ? (r->amount_cents <= 0) : (r->amount_cents != 0))
		return keten_refuse(err, "invalid-amount",
		                    "a receipt amount is above zero (or zero with 'not received')");
	if (r->amount_cents > KETEN_MAX_CENTS)
		return keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
	if (r->date && !keten_date_valid(r->date))
		return keten_refuse(err, "invalid-date", "receipt date is not a date");
	return KETEN_OK;
}

/* Move the received balance: off by the receipt replaced (if live), on by this one. */
static int receipt_balance(const kt_apply *a, const Keten__State__PaymentState *ps, int64_t amount, uint32_t date,
                           keten_error *err)
{
	Keten__State__ReceiptState *old = NULL;
	int rc = KETEN_OK;

	KETEN_ASSERT(amount >= 0);
	if (kt_payment_has_receipt(ps, NULL) &&
	    kt_state_get(a->txn, DK_RECEIPT, ps->receipt.data, &keten__state__receipt_state__descriptor, (void **)&old,
	                 NULL) == 0 &&
	    !old->voided && !ps->repayment)
		rc = kt_balance_add(a->txn, ps->author.data, ps->payee.data, old->date, BAL_RECEIVED,
		                    -old->amount_cents, err);
	kt_state_free(old);
	if (rc || ps->repayment)
		return rc;
	return kt_balance_add(a->txn, ps->author.data, ps->payee.data, date, BAL_RECEIVED, amount, err);
}

/* The payment record names this receipt as its live one, with its date and flag. */
static int receipt_on_payment(const kt_apply *a, const Keten__Receipt *r, Keten__State__PaymentState *ps, uint32_t date,
                              keten_error *err)
{
	ps->received_cents = r->amount_cents;
	ps->has_received_cents = ps->has_receipt = 1;
	/* reconcile --as-of reads the receipt's date and flag here rather
	 * than looking up the receipt record of every payment it shows */
	ps->receipt_date = date;
	ps->receipt_received = r->received;
	ps->has_receipt_date = ps->has_receipt_received = 1;
	if (kt_set_bytes(&ps->receipt, a->e->id, 32) || kt_receipt_mismatch(ps, r->amount_cents != ps->amount_cents))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	KETEN_ASSERT(kt_payment_has_receipt(ps, a->e->id));
	return kt_state_put(a->txn, DK_PAYMENT, ps->id.data, ps, err);
}

static int receipt_record(const kt_apply *a, const Keten__Receipt *r, uint32_t date, keten_error *err)
{
	Keten__State__ReceiptState st = KETEN__STATE__RECEIPT_STATE__INIT;

	KETEN_ASSERT(date != 0);
	st.id.data = (uint8_t *)a->e->id;
	st.id.len = 32;
	st.payment = r->payment;
	st.author.data = (uint8_t *)a->e->author;
	st.author.len = 32;
	st.has_amount_cents = st.has_received = st.has_date = 1;
	st.amount_cents = r->amount_cents;
	st.received = r->received;
	st.date = date;
	return kt_state_put(a->txn, DK_RECEIPT, a->e->id, &st, err);
}

int kt_rule_receipt(kt_apply *a, keten_error *err)
{
	Keten__Receipt *r = keten__receipt__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__PaymentState *ps = NULL;
	uint32_t type, date;
	int rc;

	if (!r)
		return keten_refuse(err, "malformed-body", "receipt body does not decode");
	if ((rc = kt_ref(a, r->payment.data, r->payment.len, TYPE_BIT(KETEN__BODY_TYPE__PAYMENT), &type, err)))
		goto out;
	if ((rc = kt_state_get(a->txn, DK_PAYMENT, r->payment.data, &keten__state__payment_state__descriptor,
	                       (void **)&ps, err)))
		goto out;
	if ((rc = receipt_checks(a, r, ps, err)))
		goto out;
	date = r->date ? r->date : kt_entry_date(a);
	KETEN_ASSERT(r->amount_cents >= 0 && r->amount_cents <= KETEN_MAX_CENTS);
	if ((rc = receipt_balance(a, ps, r->amount_cents, date, err)) || (rc = receipt_on_payment(a, r, ps, date, err)))
		goto out;
	rc = receipt_record(a, r, date, err);
out:
	kt_state_free(ps);
	keten__receipt__free_unpacked(r, NULL);
	return rc;
}
