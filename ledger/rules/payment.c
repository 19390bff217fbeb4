/*
 * payment.c — body rules and derived state of payments.  A payment
 * settles 1 to 256 claims addressed to its author, or repays the
 * clawbacks its author owes, all to one payee; it may not exceed what is
 * still open on them.  The amount is handed out over the claims in the
 * order the payment names them, each taking what is open on it until the
 * amount is used up, so the parts add up to the payment.  Each part moves
 * its claim's paid amount, its target's paid counters and the pair's
 * paid balance (or a debt's repaid amount and the pair's repaid balance).
 * A payment after a claim's payment term is marked "overdue".  Part of the
 * money flow (rules/flow.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rules/change.h"
#include "rules/flow.h"
#include "base/base.h"

#define MAX_SETTLED 256

/* A payment being checked and booked; arrays of p->n_claims. */
struct pay_ctx {
	kt_apply *a;
	Keten__Payment *p;
	void **loaded;   /* ClaimState or ClawbackState per claim */
	uint32_t *types; /* body type per claim */
	int64_t *remain; /* what is open on it (may be negative) */
	Keten__State__ClaimPart *parts, **pp;
	uint8_t payee[32], muni[32];
	bool have_payee, overdue, have_muni;
	int64_t total; /* what is open on all of them */
};

/* What the payment says of itself, before any claim is looked up. */
static int pay_body_checks(const Keten__Payment *p, keten_error *err)
{
	if (p->n_claims == 0 || p->n_claims > MAX_SETTLED)
		return keten_refuse(err, "malformed-body", "a payment settles 1 to 256 claims");
	if (p->amount_cents <= 0)
		return keten_refuse(err, "invalid-amount", "a payment amount must be above zero");
	if (p->amount_cents > KETEN_MAX_CENTS)
		return keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
	if (!keten_date_valid(p->date))
		return keten_refuse(err, "invalid-date", "payment date is not a date");
	return kt_text("reference", p->reference, err);
}

static int pay_alloc(struct pay_ctx *x, keten_error *err)
{
	size_t n = x->p->n_claims;

	KETEN_ASSERT(n >= 1 && n <= MAX_SETTLED);
	x->loaded = calloc(n, sizeof *x->loaded);
	x->types = calloc(n, sizeof *x->types);
	x->remain = calloc(n, sizeof *x->remain);
	x->parts = calloc(n, sizeof *x->parts);
	x->pp = calloc(n, sizeof *x->pp);
	if (!x->loaded || !x->types || !x->remain || !x->parts || !x->pp)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	return KETEN_OK;
}

static void pay_free(struct pay_ctx *x)
{
	if (x->loaded)
		for (size_t i = 0; i < x->p->n_claims; i++)
			kt_state_free(x->loaded[i]);
	free(x->loaded);
	free(x->types);
	free(x->remain);
	free(x->parts);
	free(x->pp);
}

/* Claim i: addressed to the author and live; sets *to (its payee). */
static int pay_load_claim(struct pay_ctx *x, size_t i, const uint8_t **to, keten_error *err)
{
	kt_apply *a = x->a;
	Keten__State__ClaimState *ks = NULL;
	int rc;

	KETEN_ASSERT(i < x->p->n_claims && x->loaded[i] == NULL);
	if ((rc = kt_load_claim(a->txn, x->p->claims[i].data, &ks, err)))
		return rc;
	x->loaded[i] = ks;
	if (memcmp(ks->payer.data, a->e->author, 32) != 0)
		return keten_refuse(err, "not-payer", "only the party a claim is addressed to pays it");
	if (ks->voided && a->local)
		return keten_refuse(err, "entry-void", "a claim paid was voided");
	/* the payer made the change earlier in its own feed: received payments are judged alike */
	if (kt_upfront_replaced(a->txn, ks))
		return keten_refuse(err, "allocation-replaced",
		                    "the claim's allocation was replaced: its up-front part carried over to the "
		                    "replacement (the payee voids this claim)");
	*to = ks->author.data;
	x->remain[i] = ks->amount_cents - ks->paid_cents;
	if (ks->has_municipality_key && ks->municipality_key.len == 32) {
		memcpy(x->muni, ks->municipality_key.data, 32);
		x->have_muni = true;
	}
	if (x->p->date > keten_date_add_days(ks->date, (int32_t)ks->payment_term_days))
		x->overdue = true;
	return KETEN_OK;
}

/* Clawback i: the author owes on it and it is live; sets *to (the creditor). */
static int pay_load_clawback(struct pay_ctx *x, size_t i, const uint8_t **to, keten_error *err)
{
	kt_apply *a = x->a;
	Keten__State__ClawbackState *cb = NULL;
	Keten__State__Debt *d = NULL;
	int rc;

	KETEN_ASSERT(i < x->p->n_claims && x->loaded[i] == NULL);
	if ((rc = kt_load_clawback(a->txn, x->p->claims[i].data, &cb, err)))
		return rc;
	x->loaded[i] = cb;
	/* every debt of the author counts (all to one creditor); booking fills them in order */
	d = kt_debt_of(cb, a->e->author);
	if (!d)
		return keten_refuse(err, "not-payer", "only a debtor of the clawback repays it");
	if (cb->voided && a->local)
		return keten_refuse(err, "entry-void", "the clawback was voided");
	*to = d->creditor.data;
	x->remain[i] = kt_debt_open(cb, a->e->author);
	memcpy(x->muni, cb->author.data, 32);
	x->have_muni = true;
	return KETEN_OK;
}

static bool named_before(const Keten__Payment *p, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (p->claims[j].len == p->claims[i].len && p->claims[i].len == 32 &&
		    memcmp(p->claims[j].data, p->claims[i].data, 32) == 0)
			return true;
	return false;
}

/* The i-th claim or clawback the payment settles: all of one kind, to one payee. */
static int pay_load_one(struct pay_ctx *x, size_t i, keten_error *err)
{
	const Keten__Payment *p = x->p;
	const uint8_t *to = NULL;
	int rc;

	if (named_before(p, i))
		return keten_refuse(err, "malformed-body", "a payment names a claim twice");
	if ((rc = kt_ref(x->a, p->claims[i].data, p->claims[i].len,
	                 TYPE_BIT(KETEN__BODY_TYPE__CLAIM) | TYPE_BIT(KETEN__BODY_TYPE__CLAWBACK) | KT_ALLOC_BIT,
	                 &x->types[i], err)))
		return rc;
	/* a replacement that left an amount owed back holds that debt as a
	 * clawback record under its own id (rules/change.c): repaid alike */
	if (x->types[i] == KETEN__BODY_TYPE__ALLOCATION) {
		Keten__State__ClawbackState *cb = NULL;
		if (kt_load_clawback(x->a->txn, p->claims[i].data, &cb, NULL) != 0) {
			kt_state_free(cb);
			return keten_refuse(err, "wrong-reference-type",
			                    "a payment settles claims, clawbacks or what a change left owed back");
		}
		kt_state_free(cb);
		x->types[i] = KETEN__BODY_TYPE__CLAWBACK;
	}
	if (i > 0 && x->types[i] != x->types[0])
		return keten_refuse(err, "malformed-body", "one payment settles claims or clawbacks, not both");
	rc = x->types[i] == KETEN__BODY_TYPE__CLAIM ? pay_load_claim(x, i, &to, err)
						    : pay_load_clawback(x, i, &to, err);
	if (rc)
		return rc;
	KETEN_ASSERT(to != NULL);
	if (x->have_payee && memcmp(x->payee, to, 32) != 0)
		return keten_refuse(err, "mixed-payees", "one payment goes to one payee");
	memcpy(x->payee, to, 32);
	x->have_payee = true;
	if (!keten_add_cents(x->total, x->remain[i] > 0 ? x->remain[i] : 0, &x->total))
		return keten_refuse(err, "amount-overflow", "claims total overflows");
	return KETEN_OK;
}

/* Book part (> 0) of the payment on claim ks. */
static int book_claim_part(struct pay_ctx *x, Keten__State__ClaimState *ks, int64_t part, keten_error *err)
{
	kt_apply *a = x->a;
	int rc;

	ks->paid_cents += part;
	ks->has_paid_cents = 1;
	/* part is at most what was open on the claim */
	KETEN_ASSERT(ks->paid_cents <= ks->amount_cents);
	if ((rc = kt_state_put(a->txn, DK_CLAIM, ks->id.data, ks, err)) ||
	    (rc = kt_adjust_target(a->txn, ks->target.data, 0, part, kt_upfront_part(ks, part), err)))
		return rc;
	return kt_balance_add(a->txn, a->e->author, x->payee, x->p->date, BAL_PAID, part, err);
}

/* Book part (> 0) of the payment as a repayment of the author's debt on cb. */
static int book_repayment_part(struct pay_ctx *x, Keten__State__ClawbackState *cb, int64_t part, keten_error *err)
{
	kt_apply *a = x->a;
	int rc;

	/* pay_load_clawback found the author's debts; part is at most what is open on them */
	KETEN_ASSERT(kt_debt_of(cb, a->e->author) != NULL && part <= kt_debt_open(cb, a->e->author));
	kt_debt_repay(cb, a->e->author, part);
	if ((rc = kt_state_put(a->txn, DK_CLAWBACK, cb->id.data, cb, err)))
		return rc;
	return kt_balance_add(a->txn, x->payee, a->e->author, x->p->date, BAL_REPAID, part, err);
}

/* Hand the amount out over the claims in order and book each part. */
static int pay_book(struct pay_ctx *x, keten_error *err)
{
	const Keten__Payment *p = x->p;
	int64_t left = p->amount_cents;
	int rc;

	KETEN_ASSERT(p->amount_cents <= x->total);
	for (size_t i = 0; i < p->n_claims; i++) {
		int64_t part = x->remain[i] < left ? x->remain[i] : left;
		if (part < 0)
			part = 0;
		left -= part;
		keten__state__claim_part__init(&x->parts[i]);
		x->parts[i].claim = p->claims[i];
		x->parts[i].amount_cents = part;
		x->pp[i] = &x->parts[i];
		if (part == 0)
			continue;
		rc = x->types[i] == KETEN__BODY_TYPE__CLAIM ? book_claim_part(x, x->loaded[i], part, err)
							    : book_repayment_part(x, x->loaded[i], part, err);
		if (rc)
			return rc;
	}
	/* the parts, and so the balances booked, add up to the payment */
	KETEN_ASSERT(left == 0);
	return KETEN_OK;
}

static int pay_record(const struct pay_ctx *x, keten_error *err)
{
	const kt_apply *a = x->a;
	Keten__State__PaymentState st = KETEN__STATE__PAYMENT_STATE__INIT;
	char *finding = "overdue";

	KETEN_ASSERT(x->have_payee && x->pp[0] != NULL);
	st.id.data = (uint8_t *)a->e->id;
	st.id.len = 32;
	st.author.data = (uint8_t *)a->e->author;
	st.author.len = 32;
	st.payee.data = (uint8_t *)x->payee;
	st.payee.len = 32;
	st.has_amount_cents = st.has_date = st.has_repayment = 1;
	st.has_municipality_key = x->have_muni;
	st.amount_cents = x->p->amount_cents;
	st.date = x->p->date;
	st.parts = x->pp;
	st.n_parts = x->p->n_claims;
	st.municipality_key.data = (uint8_t *)x->muni;
	st.municipality_key.len = 32;
	st.repayment = x->types[0] == KETEN__BODY_TYPE__CLAWBACK;
	if (x->overdue) {
		st.findings = &finding;
		st.n_findings = 1;
	}
	return kt_state_put(a->txn, DK_PAYMENT, a->e->id, &st, err);
}

int kt_rule_payment(kt_apply *a, keten_error *err)
{
	struct pay_ctx x = {.a = a};
	int rc;

	x.p = keten__payment__unpack(NULL, a->e->body_len, a->e->body);
	if (!x.p)
		return keten_refuse(err, "malformed-body", "payment body does not decode");
	if ((rc = pay_body_checks(x.p, err)) || (rc = pay_alloc(&x, err)))
		goto out;
	for (size_t i = 0; i < x.p->n_claims; i++)
		if ((rc = pay_load_one(&x, i, err)))
			goto out;
	KETEN_ASSERT(x.have_payee);
	if ((rc = kt_party_valid_at(a->txn, x.payee, a->e->timestamp_ms, "payee", err)))
		goto out;
	if (x.p->amount_cents > x.total) {
		rc = keten_refuse(err, "overpayment", "payment %lld exceeds what is still open on its claims (%lld)",
		                  (long long)x.p->amount_cents, (long long)x.total);
		goto out;
	}
	if ((rc = pay_book(&x, err)) == 0)
		rc = pay_record(&x, err);
out:
	pay_free(&x);
	keten__payment__free_unpacked(x.p, NULL);
	return rc;
}
