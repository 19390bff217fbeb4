/*
 * change.c — the change of a running arrangement (rules/change.h).  A
 * municipality changes an allocation it made by allocating anew with
 * `replaces` and a JZ002 reason: in the same transaction the replaced
 * allocation is closed with the stop code the reason pairs with (37 for a
 * change the provider asked for, 36 for one the municipality initiated),
 * and what was paid up front under it carries over, so that no second 2/3
 * is paid: the replacement's up-front part is its 2/3 minus that, and
 * what was paid above its 2/3 is owed back by the lead provider (a debt
 * booked on the pair's clawback balance, kept as a clawback record under
 * the replacement's id).  The close is state the replacement sets, not a
 * result entry: one signed entry says both, so no node can hold one
 * without the other.  Every rule here depends only on the municipality's
 * own entries (the replaced allocation, its payments), which precede the
 * replacement in its feed, so received replacements are judged alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/change.h"
#include "rules/flow.h"
#include "base/base.h"

/* JZ002 Reden wijziging toewijzing (iJw 3.2; iWmo WMO002 has the same
 * codes): the reasons that end an allocation to replace it, with the stop
 * code (JZ588) it then ends with; NULL for the others. */
static const struct {
	const char *code, *stop;
	bool obsolete;
} jz002[] = {
	{"01", NULL, true},  /* administrative correction, obsolete */
	{"02", NULL, false}, /* the client died: close with 02 */
	{"03", "36", false}, /* a change of contract */
	{"04", NULL, false}, /* reassessment: extended (the allocation continues) */
	{"05", "36", false}, /* reassessment: shortened, another product or volume */
	{"06", NULL, false}, /* outflow to another domain: close with 39 */
	{"07", NULL, false}, /* moved to another municipality: close with 35 */
	{"08", "36", false}, /* another form of delivery */
	{"09", NULL, false}, /* to another provider: close with 38 */
	{"10", "36", false}, /* another funding scheme */
	{"11", "36", false}, /* municipal reorganisation */
	{"12", "37", false}, /* initiated by the provider (a request for change) */
	{"13", NULL, false}, /* removed: void the allocation instead */
	{"14", NULL, false}, /* administrative correction: void and allocate anew */
};

const char *kt_change_stop(const char *reason, bool *known, bool *obsolete)
{
	*known = *obsolete = false;
	for (size_t i = 0; reason && i < KT_COUNT(jz002); i++)
		if (strcmp(jz002[i].code, reason) == 0) {
			*known = true;
			*obsolete = jz002[i].obsolete;
			return jz002[i].stop;
		}
	return NULL;
}

uint32_t kt_change_window(const Keten__FrameworkContract *fc, const char *intensity)
{
	for (size_t i = 0; fc && intensity && i < fc->n_heavy_intensities; i++)
		if (strcmp(fc->heavy_intensities[i], intensity) == 0)
			return fc->heavy_window_days ? fc->heavy_window_days : KT_HEAVY_WINDOW_DAYS;
	return fc && fc->change_window_days ? fc->change_window_days : KT_CHANGE_WINDOW_DAYS;
}

bool kt_replaced(const Keten__State__AllocationState *as)
{
	return as->replaced_by.len == 32;
}

bool kt_upfront_replaced(keten_txn *t, const Keten__State__ClaimState *ks)
{
	Keten__State__AllocationState *as = NULL;
	bool replaced;

	if (!ks->installment || strcmp(ks->installment, "upfront") != 0 || ks->target.len != 32 ||
	    kt_load_allocation(t, ks->target.data, &as, NULL) != 0)
		return false;
	replaced = kt_replaced(as);
	kt_state_free(as);
	return replaced;
}

int64_t kt_upfront_due(int64_t amount, int64_t carried)
{
	int64_t up, fin;
	keten_split_herstel(amount, &up, &fin);
	return carried <= 0 ? up : carried >= up ? 0 : up - carried;
}

void kt_change_free(kt_change *ch)
{
	kt_state_free(ch->old);
	memset(ch, 0, sizeof *ch);
}

/* The reason: in JZ002, not obsolete, one that replaces; sets ch->stop. */
static int change_reason(const Keten__Allocation *al, kt_change *ch, keten_error *err)
{
	bool known, obsolete;

	if (!al->has_replaces || !al->change_reason || !al->change_reason[0])
		return keten_refuse(err, "change-reason-required",
		                    "a replacement names its reason (JZ002), and a reason the allocation it replaces");
	ch->stop = kt_change_stop(al->change_reason, &known, &obsolete);
	if (!known)
		return keten_refuse(err, "unknown-change-reason",
		                    "change reason '%s' is not in JZ002 (reden wijziging toewijzing)",
		                    al->change_reason);
	if (obsolete)
		return keten_refuse(err, "obsolete-change-reason",
		                    "change reason '%s' is obsolete in JZ002: use 14 (administrative correction: void "
		                    "the allocation and allocate anew) or the reason of the change",
		                    al->change_reason);
	if (!ch->stop)
		return keten_refuse(err, "not-a-replacement-reason",
		                    "change reason '%s' ends or corrects an allocation without replacing it: close it "
		                    "(keten close) or void it (keten correct)",
		                    al->change_reason);
	return KETEN_OK;
}

/* The replaced allocation: the author's own, open, for the same client, provider, domain and kind. */
static int change_old(kt_apply *a, const Keten__Allocation *al, kt_change *ch, keten_error *err)
{
	const Keten__State__AllocationState *o = ch->old;

	if (memcmp(o->author.data, a->e->author, 32) != 0)
		return keten_refuse(err, "wrong-role", "only the allocating municipality replaces its allocation");
	if (o->voided && a->local)
		return keten_refuse(err, "entry-void", "the allocation replaced was voided");
	if (kt_replaced(o) || (o->closed && a->local))
		return keten_refuse(err, "allocation-closed",
		                    "the allocation replaced is already closed%s; it is not reopened",
		                    kt_replaced(o) ? " (replaced)" : "");
	if (!o->client_ref || strcmp(o->client_ref, al->client_ref) != 0 || o->provider.len != 32 ||
	    memcmp(o->provider.data, al->provider.data, 32) != 0 || !o->domain || strcmp(o->domain, al->domain) != 0 ||
	    o->kind != al->kind)
		return keten_refuse(err, "replacement-differs",
		                    "a replacement is for the same client, lead provider, domain and kind as the "
		                    "allocation it replaces");
	if (al->start < o->start)
		return keten_refuse(err, "invalid-date",
		                    "a replacement starts on or after the start of what it replaces");
	return KETEN_OK;
}

/* What was paid up front under the replaced allocation, net of what it
 * owed back and of clawbacks, and the window. */
static int change_amounts(kt_apply *a, const Keten__Allocation *al, kt_change *ch, keten_error *err)
{
	const Keten__State__AllocationState *o = ch->old;
	Keten__FrameworkContract *fc = NULL;
	int64_t credit = 0, up, fin;
	int rc;

	ch->close_date = keten_date_add_days(al->start, -1);
	if (ch->close_date < o->start)
		ch->close_date = o->start;
	if ((rc = kt_contract_body(a->txn, o->contract.data, &fc, err)))
		return rc;
	ch->outside_window = keten_date_days(al->start) - keten_date_days(o->start) >
		(int64_t)kt_change_window(fc, o->intensity);
	keten__framework_contract__free_unpacked(fc, NULL);
	if (al->kind != KETEN__KIND__HERSTEL)
		return KETEN_OK;
	/* credit = upfront paid + (carried - owed) - clawbacks, each a counter the rules keep in range */
	if (!keten_add_cents(o->upfront_paid_cents, o->carried_cents - o->owed_back_cents, &credit) ||
	    !keten_sub_cents(credit, o->clawback_cents, &credit))
		return keten_refuse(err, "amount-overflow", "the amount carried over overflows");
	ch->carried = credit > 0 ? credit : 0;
	keten_split_herstel(al->amount_cents, &up, &fin);
	ch->owed = ch->carried > up ? ch->carried - up : 0;
	KETEN_ASSERT(ch->owed >= 0 && ch->owed <= ch->carried);
	return KETEN_OK;
}

int kt_change_check(kt_apply *a, const Keten__Allocation *al, kt_change *ch, keten_error *err)
{
	uint32_t type;
	int rc;

	memset(ch, 0, sizeof *ch);
	if (!al->has_replaces && !al->change_reason)
		return KETEN_OK;
	if ((rc = change_reason(al, ch, err)))
		return rc;
	if ((rc = kt_ref(a, al->replaces.data, al->replaces.len, TYPE_BIT(KETEN__BODY_TYPE__ALLOCATION), &type, err)))
		return rc;
	if ((rc = kt_load_allocation(a->txn, al->replaces.data, &ch->old, err)))
		return rc;
	if ((rc = change_old(a, al, ch, err)) || (rc = change_amounts(a, al, ch, err)))
		return rc;
	KETEN_ASSERT(ch->stop && ch->old);
	return KETEN_OK;
}

void kt_change_fill(const kt_apply *a KT_UNUSED, const Keten__Allocation *al, const kt_change *ch,
                    Keten__State__AllocationState *as)
{
	if (!ch->old)
		return;
	as->has_replaces = 1;
	as->replaces = al->replaces;
	as->change_reason = al->change_reason;
	as->has_carried_cents = as->has_owed_back_cents = 1;
	as->carried_cents = ch->carried;
	as->owed_back_cents = ch->owed;
}

/* The debt of what was paid up front above the replacement's 2/3. */
static int change_debt(kt_apply *a, const kt_change *ch, const Keten__State__AllocationState *as, keten_error *err)
{
	Keten__State__ClawbackState st = KETEN__STATE__CLAWBACK_STATE__INIT;
	Keten__State__Debt d = KETEN__STATE__DEBT__INIT, *dp = &d;
	uint32_t date = kt_entry_date(a);
	char rule[128], hex[17];
	int rc;

	KETEN_ASSERT(ch->owed > 0);
	keten_hex(hex, ch->old->id.data, 8);
	snprintf(rule, sizeof rule, "change: paid up front under %s above the new 2/3", hex);
	d.debtor = as->provider;
	d.creditor = as->author;
	d.amount_cents = ch->owed;
	d.has_repaid_cents = 1;
	if ((rc = kt_balance_add(a->txn, as->author.data, as->provider.data, date, BAL_CLAWBACK, ch->owed, err)))
		return rc;
	st.id = as->id;
	st.allocation = as->id;
	st.author = as->author;
	st.has_amount_cents = st.has_date = 1;
	st.amount_cents = ch->owed;
	st.date = date;
	st.debts = &dp;
	st.n_debts = 1;
	st.rule = rule;
	return kt_state_put(a->txn, DK_CLAWBACK, as->id.data, &st, err);
}

int kt_change_apply(kt_apply *a, const kt_change *ch, const Keten__State__AllocationState *as, keten_error *err)
{
	Keten__State__AllocationState *o = ch->old;
	int rc;

	if (!o)
		return KETEN_OK;
	if (kt_set_bytes(&o->replaced_by, a->e->id, 32))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	o->has_replaced_by = 1;
	free(o->change_reason);
	if (!(o->change_reason = strdup(as->change_reason)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if (!o->closed) {
		/* closed by the change, not by a result: no outcome */
		free(o->stop_code);
		if (!(o->stop_code = strdup(ch->stop)) || kt_set_bytes(&o->closed_by, a->e->author, 32))
			return keten_fail(err, KETEN_ENOMEM, NULL);
		o->closed = o->has_closed = o->has_closed_by = o->has_close_date = 1;
		o->close_date = ch->close_date;
	}
	if ((rc = kt_state_put(a->txn, DK_ALLOCATION, o->id.data, o, err)))
		return rc;
	return ch->owed > 0 ? change_debt(a, ch, as, err) : KETEN_OK;
}

int kt_change_void(kt_apply *a, const Keten__State__AllocationState *as, keten_error *err)
{
	Keten__State__AllocationState *o = NULL;
	Keten__State__ClawbackState *cb = NULL;
	int rc = KETEN_OK;

	if (as->replaces.len != 32)
		return KETEN_OK;
	if (as->owed_back_cents > 0 && kt_load_clawback(a->txn, as->id.data, &cb, NULL) == 0 && !cb->voided) {
		KETEN_ASSERT(cb->n_debts == 1);
		if (cb->debts[0]->repaid_cents > 0 && a->local)
			rc = keten_refuse(
				err, "clawback-has-repayments",
				"what the change left owed back was (partly) repaid: void the repayment first");
		else if ((rc = kt_balance_add(a->txn, cb->debts[0]->creditor.data, cb->debts[0]->debtor.data, cb->date,
		                              BAL_CLAWBACK, -cb->debts[0]->amount_cents, err)) == 0) {
			cb->voided = cb->has_voided = 1;
			rc = kt_state_put(a->txn, DK_CLAWBACK, cb->id.data, cb, err);
		}
	}
	kt_state_free(cb);
	if (rc || kt_load_allocation(a->txn, as->replaces.data, &o, NULL) != 0)
		return rc;
	if (o->replaced_by.len == 32 && memcmp(o->replaced_by.data, as->id.data, 32) == 0) {
		o->has_replaced_by = 0;
		o->replaced_by.len = 0;
		if (!o->has_result || o->result.len != 32) {
			/* the change closed it: open again */
			o->closed = 0;
			o->close_date = 0;
			o->closed_by.len = 0;
			o->has_closed_by = 0;
			free(o->stop_code);
			o->stop_code = NULL;
			free(o->change_reason);
			o->change_reason = NULL;
		}
		rc = kt_state_put(a->txn, DK_ALLOCATION, o->id.data, o, err);
	}
	kt_state_free(o);
	return rc;
}
