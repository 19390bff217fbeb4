/*
 * clawback.c — body rules and derived state of clawbacks
 * (terugvorderingen).  Only the allocating municipality claws back, from
 * the allocation's lead provider, at most what was paid on it (on a
 * herstel allocation: what was paid up front); the lead provider may pass
 * shares of it on to others (its subcontractors), together at most the
 * clawback.  Each debt (provider to municipality, each share to the
 * provider) moves its pair's clawback balance by its amount; repayments
 * are payments (payment.c).  On a node that holds the allocation only as
 * a stub (a subcontractor's) the debts of the parties known here are
 * recorded.  Part of the money flow (rules/flow.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rules/flow.h"
#include "base/base.h"

/* Debts a stub node records at most: the lead provider's and every share. */
#define STUB_DEBTS (KT_CLAWBACK_MAX_SHARES + 1)

struct provider_find {
	keten_txn *t;
	uint8_t provider[32];
	bool found;
};

static int provider_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct provider_find *f = p;
	Keten__State__OfferState *os = NULL;
	if (kl != 65 || kt_load_offer(f->t, k + 33, &os, NULL))
		return 0;
	if (!os->voided) {
		memcpy(f->provider, os->author.data, 32);
		f->found = true;
	}
	kt_state_free(os);
	return f->found ? 1 : 0;
}

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
		KETEN_ASSERT(debts[i].amount_cents > 0 && debts[i].amount_cents <= c->amount_cents);
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

static void set_debt(Keten__State__Debt *d, const ProtobufCBinaryData *debtor, const ProtobufCBinaryData *creditor,
                     int64_t amount)
{
	keten__state__debt__init(d);
	d->debtor = *debtor;
	d->creditor = *creditor;
	d->amount_cents = amount;
	d->has_repaid_cents = 1;
}

/*
 * A clawback on an allocation this node holds only as a stub (a
 * subcontractor's node): the lead provider is the author of the offers
 * held here under it; the debts of the parties known here are recorded.
 */
static int clawback_stub(kt_apply *a, const Keten__Clawback *c, keten_error *err)
{
	Keten__State__Debt debts[STUB_DEBTS], *dp[STUB_DEBTS];
	struct provider_find pf = {.t = a->txn};
	ProtobufCBinaryData provider = {32, pf.provider}, author = {32, (uint8_t *)a->e->author};
	uint8_t pre[33];
	int64_t shared = 0;
	size_t n = 0;
	int rc;

	pre[0] = DX_OFFERS;
	memcpy(pre + 1, c->allocation.data, 32);
	if ((rc = kt_kv_scan(a->txn, KT_INDEX, pre, 33, provider_cb, &pf, err)))
		return rc;
	if (c->n_passed_on > KT_CLAWBACK_MAX_SHARES)
		return keten_refuse(err, "invalid-share", "a clawback passes on at most %d shares, this one %zu",
		                    KT_CLAWBACK_MAX_SHARES, c->n_passed_on);
	if (pf.found)
		set_debt(&debts[n++], &provider, &author, c->amount_cents);
	for (size_t i = 0; i < c->n_passed_on; i++) {
		const Keten__Share *s = c->passed_on[i];
		if (s->party.len != 32 || s->amount_cents <= 0 || !keten_add_cents(shared, s->amount_cents, &shared) ||
		    shared > c->amount_cents)
			return keten_refuse(err, "invalid-share",
			                    "passed-on shares are positive and add up to at most the clawback");
		if (!pf.found)
			continue;
		set_debt(&debts[n++], &s->party, &provider, s->amount_cents);
	}
	KETEN_ASSERT(n <= STUB_DEBTS && shared <= c->amount_cents);
	return record_clawback(a, c, debts, dp, n, kt_entry_date(a), err);
}

/* The allocation's side: who claws back, how much, and within what was paid. */
static int clawback_checks(const kt_apply *a, const Keten__Clawback *c, const Keten__State__AllocationState *as,
                           int64_t *total, keten_error *err)
{
	int64_t limit;

	if (memcmp(as->author.data, a->e->author, 32) != 0)
		return keten_refuse(err, "wrong-role", "only the allocating municipality claws back");
	if (as->voided)
		return keten_refuse(err, "entry-void", "the allocation was voided");
	if (c->amount_cents <= 0)
		return keten_refuse(err, "invalid-amount", "a clawback amount must be above zero");
	if (c->amount_cents > KETEN_MAX_CENTS || !keten_add_cents(as->clawback_cents, c->amount_cents, total))
		return keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
	/* An automatic clawback takes what the early-stop rule asks; a second
	 * one on top would double it.  Only local appends are refused: the
	 * clawbacks already standing depend on corrections made before. */
	if (a->local && as->clawback_cents > 0 && c->rule &&
	    strncmp(c->rule, KT_CLAWBACK_AUTO_PREFIX, strlen(KT_CLAWBACK_AUTO_PREFIX)) == 0)
		return keten_refuse(err, "clawback-exists",
		                    "the allocation already has clawbacks of %lld cents; an automatic "
		                    "clawback is made once (void the earlier one first)",
		                    (long long)as->clawback_cents);
	/* A herstel allocation is clawed back from its up-front part (what an
	 * early stop leaves unearned), so all clawbacks together stay within
	 * the up-front part paid; other kinds within everything paid. */
	limit = as->kind == KETEN__KIND__HERSTEL ? as->upfront_paid_cents : as->paid_cents;
	if (*total > limit)
		return keten_refuse(err, "clawback-exceeds-paid",
		                    "clawbacks (%lld) would exceed what was paid%s (%lld)", (long long)*total,
		                    as->kind == KETEN__KIND__HERSTEL ? " up front" : "", (long long)limit);
	KETEN_ASSERT(c->amount_cents > 0 && *total <= limit);
	return kt_text("rule", c->rule, err);
}

/* Passed-on shares go to others than the lead provider, are positive and
 * add up to at most the clawback. */
static int clawback_shares(const Keten__Clawback *c, const Keten__State__AllocationState *as, keten_error *err)
{
	int64_t shared = 0;

	if (c->n_passed_on > KT_CLAWBACK_MAX_SHARES)
		return keten_refuse(err, "invalid-share", "a clawback passes on at most %d shares, this one %zu",
		                    KT_CLAWBACK_MAX_SHARES, c->n_passed_on);
	for (size_t i = 0; i < c->n_passed_on; i++) {
		const Keten__Share *s = c->passed_on[i];
		if (s->party.len != 32 || s->amount_cents <= 0 || !keten_add_cents(shared, s->amount_cents, &shared) ||
		    shared > c->amount_cents || memcmp(s->party.data, as->provider.data, 32) == 0)
			return keten_refuse(err, "invalid-share",
			                    "passed-on shares go to others than the lead provider, are positive "
			                    "and add up to at most the clawback");
	}
	KETEN_ASSERT(shared >= 0 && shared <= c->amount_cents);
	return KETEN_OK;
}

/* The lead provider owes the whole to the municipality; each share's party
 * owes its share to the lead provider. */
static int clawback_book(kt_apply *a, const Keten__Clawback *c, const Keten__State__AllocationState *as,
                         keten_error *err)
{
	size_t n = c->n_passed_on + 1;
	Keten__State__Debt *debts = calloc(n, sizeof *debts), **dp = calloc(n, sizeof *dp);
	int64_t shared = 0;
	int rc;

	if (!debts || !dp) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	set_debt(&debts[0], &as->provider, &as->author, c->amount_cents);
	for (size_t i = 1; i < n; i++) {
		set_debt(&debts[i], &c->passed_on[i - 1]->party, &as->provider, c->passed_on[i - 1]->amount_cents);
		shared += debts[i].amount_cents;
	}
	/* clawback_shares held the shares to the whole */
	KETEN_ASSERT(shared >= 0 && shared <= debts[0].amount_cents);
	rc = record_clawback(a, c, debts, dp, n, kt_entry_date(a), err);
out:
	free(debts);
	free(dp);
	return rc;
}

static int clawback_on_allocation(kt_apply *a, const Keten__Clawback *c, keten_error *err)
{
	Keten__State__AllocationState *as = NULL;
	int64_t total = 0;
	int rc;

	if ((rc = kt_load_allocation(a->txn, c->allocation.data, &as, err)))
		return rc;
	if ((rc = clawback_checks(a, c, as, &total, err)) || (rc = clawback_shares(c, as, err)) ||
	    (rc = clawback_book(a, c, as, err)))
		goto out;
	KETEN_ASSERT(total - as->clawback_cents == c->amount_cents);
	as->clawback_cents = total;
	as->has_clawback_cents = 1;
	rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
out:
	kt_state_free(as);
	return rc;
}

int kt_rule_clawback(kt_apply *a, keten_error *err)
{
	Keten__Clawback *c = keten__clawback__unpack(NULL, a->e->body_len, a->e->body);
	uint32_t type;
	bool stub;
	int rc;

	if (!c)
		return keten_refuse(err, "malformed-body", "clawback body does not decode");
	if (!(kt_roles(a) & ROLE_BIT(KETEN__ROLE__MUNICIPALITY)) && !(kt_roles(a) & ROLE_BIT(KETEN__ROLE__REGION))) {
		rc = kt_refuse_role(a, "wrong-role", "municipality", "only a municipality claws back", err);
		goto out;
	}
	if ((rc = kt_ref_stub(a, c->allocation.data, c->allocation.len, KT_ALLOC_BIT, &type, &stub, err)))
		goto out;
	KETEN_ASSERT(type == KETEN__BODY_TYPE__ALLOCATION && c->allocation.len == 32);
	if (!stub)
		rc = clawback_on_allocation(a, c, err);
	else if (c->amount_cents <= 0 || c->amount_cents > KETEN_MAX_CENTS)
		rc = keten_refuse(err, "invalid-amount", "a clawback amount must be above zero");
	else if ((rc = kt_text("rule", c->rule, err)) == 0)
		rc = clawback_stub(a, c, err);
out:
	keten__clawback__free_unpacked(c, NULL);
	return rc;
}
