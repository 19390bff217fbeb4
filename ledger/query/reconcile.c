/*
 * reconcile.c — reconciliation from derived state (see keten/reconcile.h
 * and, for how the work is shared between files, recon.h): the finding
 * kinds and periods, the lines of the agreements and their sums per pair
 * of parties, and keten_reconcile, which runs the steps in order:
 *
 *   1. who this home is, and whether to read one party's records only;
 *   2. the allocations and offers in view, each made a line;
 *   3. deliveries, claims, payments and clawbacks on them;
 *   4. per claim and per payment their sums and findings;
 *   5. per subject its findings, and the lines wanted;
 *   6. open disputes; sorting; the sums per pair;
 *   7. with a bank statement, its comparison and findings.
 *
 * Nothing walks the entries themselves except to read a payment's bank
 * reference for a statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/recon.h"
#include "base/base.h"

/* Kinds ------------------------------------------------------------------ */

static const char *const kinds[] = {
	"payment-unconfirmed",
	"receipt-mismatch",
	"overdue",
	"paid-late",
	"claim-above-agreed",
	"claim-above-delivered",
	"over-allocation",
	"above-framework-tariff",
	"tariff-differs-from-framework",
	"margin-above-maximum",
	"above-subcontract-tariff",
	"final-without-result",
	"final-after-stop",
	"stop-without-clawback",
	"rijgen",
	"allocation-after-close",
	"replacement-outside-window",
	"claim-after-replacement",
	"duplicate-allocation-number",
	"delivered-above-volume",
	"delivered-below-volume",
	"open-dispute",
	"bank-only",
	"ledger-only",
	"bank-amount-differs",
	"bank-duplicate",
	"bank-balance-mismatch",
};

static const char *const meanings[] = {
	"a payment was recorded by the payer but the payee has not confirmed receipt",
	"the payee confirmed a different amount than the payer paid, or that nothing arrived",
	"a claim is (partly) unpaid past its payment term",
	"a claim was paid after its payment term",
	"a claim asks more than the allocation or subcontract agreed",
	"a claim per unit asks more than the deliveries it names are worth at the unit price",
	"the subcontracted total exceeds the allocation amount",
	"a subcontract price is above the framework tariff (contract rule: maximum)",
	"a subcontract price differs from the framework tariff (contract rule: fixed)",
	"the lead provider keeps a larger share than the contract's maximum margin",
	"a subcontract price is above the contract's subcontract tariff for its service (contract rule: maximum)",
	"the final part was paid but no result entry closes the allocation",
	"more of the final part was paid than the contract keeps due after the allocation's stop code",
	"a trajectory stopped early after the up-front part was paid, without a clawback",
	"the same herstel arrangement was allocated to the same client back to back",
	"an allocation of the same profile for a client right after one was closed, not as a change (--replaces)",
	"an allocation was replaced later after its start than the contract's change window",
	"an up-front part left unpaid, or a final part, claimed on an allocation a change replaced: no longer due",
	"an allocation number another author of the municipality had used (received)",
	"the units delivered in a month, or in all, exceed the allocation's volume",
	"a claimed duurzaam month in hours delivered less than the contract's share of its volume",
	"a dispute over entries is not yet ruled",
	"a bank statement line has no payment entry",
	"a payment entry has no line on the bank statement",
	"a bank line matched a payment by reference but the amounts differ (partial payment)",
	"a payment appears twice on the bank statement",
	"the statement's opening balance plus its bookings does not give its closing balance",
};

/* one meaning per kind, in the same order */
_Static_assert(sizeof kinds / sizeof *kinds == sizeof meanings / sizeof *meanings, "a meaning for every kind");

const char *const *keten_recon_kinds(size_t *n)
{
	if (n)
		*n = sizeof kinds / sizeof *kinds;
	return kinds;
}

const char *keten_recon_kind_meaning(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof kinds / sizeof *kinds; i++)
		if (strcmp(kinds[i], kind) == 0)
			return meanings[i];
	return "";
}

size_t kt_recon_kind_rank(const char *kind)
{
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (strcmp(kinds[i], kind) == 0)
			return i;
	return sizeof kinds / sizeof *kinds;
}

/* Periods ---------------------------------------------------------------- */

int keten_recon_period(const char *s, uint32_t *from, uint32_t *until)
{
	unsigned y = 0, m = 0, q = 0;
	char tail;

	if (!s)
		return -1;
	if (strlen(s) == 4 && sscanf(s, "%4u%c", &y, &tail) == 1 && y >= 1900 && y <= 2999) {
		*from = y * 10000 + 101;
		*until = y * 10000 + 1231;
		return 0;
	}
	if (strlen(s) == 7 && (s[5] == 'Q' || s[5] == 'q') && s[4] == '-' &&
	    sscanf(s, "%4u-%*c%1u%c", &y, &q, &tail) == 2 && y >= 1900 && y <= 2999 && q >= 1 && q <= 4) {
		*from = y * 10000 + (q * 3 - 2) * 100 + 1;
		*until = y * 10000 + q * 3 * 100 + (uint32_t)keten_days_in_month((int)y, (int)q * 3);
		return 0;
	}
	{
		uint32_t ym;
		if (keten_parse_period(s, &ym) == 0) {
			y = ym / 100;
			m = ym % 100;
			*from = ym * 100 + 1;
			*until = ym * 100 + (uint32_t)keten_days_in_month((int)y, (int)m);
			return 0;
		}
	}
	return -1;
}

/* Lines ----------------------------------------------------------------------- */

static const char *kind_name(uint32_t k)
{
	switch (k) {
	case KETEN__KIND__HERSTEL: return "herstel";
	case KETEN__KIND__DUURZAAM: return "duurzaam";
	case KETEN__KIND__COMPONENT: return "component";
	default: return "";
	}
}

/* The months of [start, end] that fall in the period and up to as_of, each
 * priced by price(ym), summed. */
static int64_t monthly_total(const struct recon_ctx *x, uint32_t start, uint32_t end,
                             int64_t (*price)(const struct recon_ctx *, const void *, uint32_t), const void *arg)
{
	uint32_t lo = start, hi = end ? end : x->as_of;
	int64_t sum = 0;
	if (x->o->from && lo < x->o->from)
		lo = x->o->from;
	if (x->o->until && hi > x->o->until)
		hi = x->o->until;
	if (hi > x->as_of)
		hi = x->as_of;
	if (!lo || hi < lo)
		return 0;
	for (uint32_t ym = lo / 100; ym <= hi / 100; ym = (ym % 100 == 12) ? ym + 89 : ym + 1)
		if (!keten_add_cents(sum, price(x, arg, ym), &sum))
			break;
	return sum;
}

struct alloc_price {
	const Keten__State__AllocationState *as;
	const Keten__State__ContractState *cs;
};

static int64_t alloc_month(const struct recon_ctx *x KT_UNUSED, const void *arg, uint32_t ym)
{
	const struct alloc_price *ap = arg;
	int64_t v;
	return kt_alloc_month(ap->as, ap->cs, ym, &v) ? v : 0;
}

/* A month of a monthly subcontract, cut by its root allocation's close and
 * pauses when that allocation is in view here (kt_month_value). */
static int64_t offer_month(const struct recon_ctx *x, const void *arg, uint32_t ym)
{
	const Keten__State__OfferState *os = arg;
	size_t i = os->allocation.len == 32 ? kt_idmap_get(&x->s_map, os->allocation.data) : SIZE_MAX;
	return kt_month_value(os->amount_cents, ym, os->start, os->end, i != SIZE_MAX ? x->s[i].as : NULL);
}

static bool overlaps(const struct recon_ctx *x, uint32_t start, uint32_t end)
{
	if (start > x->as_of)
		return false;
	if (x->o->until && start > x->o->until)
		return false;
	if (x->o->from && end && end < x->o->from)
		return false;
	return true;
}

/* A change (rules/change.c): a replaced herstel allocation is worth what
 * was paid up front under it (its final part is no longer claimable; what
 * of it lies above the replacement's 2/3 is owed back, a clawback in the
 * balance), the replacement its amount less what it took over. */
static void change_line(const Keten__State__AllocationState *as, keten_recon_line *l)
{
	if (as->replaced_by.len == 32) {
		size_t n = strlen(l->what);
		snprintf(l->what + n, sizeof l->what - n, ", replaced (%s)", as->stop_code ? as->stop_code : "-");
		if (as->kind == KETEN__KIND__HERSTEL)
			l->agreed_cents = as->upfront_paid_cents;
	}
	if (as->replaces.len == 32 && as->kind == KETEN__KIND__HERSTEL)
		l->agreed_cents = as->amount_cents - (as->carried_cents - as->owed_back_cents);
}

static void build_line(struct recon_ctx *x, struct subj *s, const uint8_t id[32])
{
	keten_recon_line *l = &s->l;
	Keten__State__ContractState *cs = NULL;
	Keten__FrameworkContract *fc = NULL;

	memcpy(l->subject, id, 32);
	if (s->as) {
		const Keten__State__AllocationState *as = s->as;
		copy_key(l->payer, &as->author);
		copy_key(l->payee, &as->provider);
		l->start = as->start;
		l->end = as->end;
		kt_recon_contract(x, &as->contract, &cs, &fc);
		s->term = cs && cs->payment_term_days ? cs->payment_term_days : 30;
		if (as->kind == KETEN__KIND__COMPONENT)
			snprintf(l->what, sizeof l->what, "%s component", as->component ? as->component : "-");
		else
			snprintf(l->what, sizeof l->what, "%s/%s %s", as->profile ? as->profile : "-",
			         as->intensity ? as->intensity : "-", kind_name(as->kind));
		if (as->kind == KETEN__KIND__DUURZAAM) {
			struct alloc_price ap = {as, cs};
			l->agreed_cents = monthly_total(x, as->start, as->end, alloc_month, &ap);
		} else {
			l->agreed_cents = as->amount_cents;
		}
		change_line(as, l);
		s->line = overlaps(x, as->start, as->end);
	} else {
		const Keten__State__OfferState *os = s->os;
		l->subcontract = true;
		copy_key(l->payer, &os->author);
		copy_key(l->payee, &os->subcontractor);
		l->start = os->start;
		l->end = os->end;
		s->term = os->payment_term_days ? os->payment_term_days : 30;
		switch (os->pricing) {
		case KETEN__PRICING__MONTHLY:
			snprintf(l->what, sizeof l->what, "monthly");
			l->agreed_cents = monthly_total(x, os->start, os->end, offer_month, os);
			break;
		case KETEN__PRICING__PER_UNIT:
			snprintf(l->what, sizeof l->what, "per %s", os->unit ? os->unit : "unit");
			l->agreed_cents = os->amount_cents;
			break;
		default:
			snprintf(l->what, sizeof l->what, "fixed");
			l->agreed_cents = os->amount_cents;
			break;
		}
		s->line = os->accepted && overlaps(x, os->start, os->end);
	}
}

static bool line_wanted(const struct recon_ctx *x, const keten_recon_line *l)
{
	return !x->o->with || memcmp(l->payer, x->o->with, 32) == 0 || memcmp(l->payee, x->o->with, 32) == 0;
}

/* Sorting --------------------------------------------------------------------- */

static int cmp_line(const void *a, const void *b)
{
	const keten_recon_line *x = a, *y = b;
	int c = memcmp(x->payer, y->payer, 32);
	if (!c)
		c = memcmp(x->payee, y->payee, 32);
	if (!c)
		c = (x->start > y->start) - (x->start < y->start);
	if (!c)
		c = memcmp(x->subject, y->subject, 32);
	return c;
}

static int cmp_finding(const void *a, const void *b)
{
	const keten_recon_finding *x = a, *y = b;
	size_t rx = kt_recon_kind_rank(x->kind), ry = kt_recon_kind_rank(y->kind);
	KETEN_ASSERT(x->n_ids && y->n_ids); /* add_finding makes none without evidence */
	int c = (rx > ry) - (rx < ry);
	if (!c)
		c = strcmp(x->kind, y->kind);
	if (!c)
		c = memcmp(x->ids[0], y->ids[0], 32);
	return c;
}

/* Reconcile ------------------------------------------------------------------- */

/* Step 4: a claim's sums on its line, and its findings. */
static int claim_sums(struct recon_ctx *x)
{
	for (size_t ci = 0; ci < x->n_c; ci++) {
		struct claim *c = &x->c[ci];
		struct subj *s = &x->s[c->subj];
		keten_recon_line *l = &s->l;
		int rc;
		/* kt_rule_payment caps each part at what is still open on the
		 * claim, so the live parts never add up to more than it */
		KETEN_ASSERT(c->paid >= 0 && c->paid <= c->cs->amount_cents);
		l->n_claims++;
		if (!keten_add_cents(l->claimed_cents, c->cs->amount_cents, &l->claimed_cents) ||
		    !keten_add_cents(l->paid_cents, c->paid, &l->paid_cents))
			s->inexact = true;
		if ((rc = kt_recon_claim_findings(x, c)))
			return rc;
		if (c->cs->amount_cents > c->paid && x->as_of > c->due &&
		    !keten_add_cents(l->overdue_cents, c->cs->amount_cents - c->paid, &l->overdue_cents))
			s->inexact = true;
	}
	return 0;
}

/* Step 4: a payment's findings, and what of it the payee confirmed on the
 * lines of its claims (in proportion when less arrived than was paid). */
static int payment_sums(struct recon_ctx *x)
{
	for (size_t pi = 0; pi < x->n_p; pi++) {
		struct pay *p = &x->p[pi];
		int rc;
		if ((rc = kt_recon_payment_findings(x, p)))
			return rc;
		if (!p->receipt_known || !p->received)
			continue;
		for (size_t j = 0; j < p->ps->n_parts; j++) {
			const Keten__State__ClaimPart *cp = p->ps->parts[j];
			size_t ci = cp->claim.len == 32 ? kt_idmap_get(&x->c_map, cp->claim.data) : SIZE_MAX;
			struct subj *s;
			int64_t share;
			if (ci == SIZE_MAX)
				continue;
			s = &x->s[x->c[ci].subj];
			share = p->received_cents >= p->ps->amount_cents || p->ps->amount_cents <= 0
				? cp->amount_cents
				: (int64_t)((__int128)cp->amount_cents * p->received_cents / p->ps->amount_cents);
			/* confirmed is never more than the part paid (0 < received < paid here) */
			KETEN_ASSERT(share <= cp->amount_cents);
			if (!keten_add_cents(s->l.received_cents, share, &s->l.received_cents))
				s->inexact = true;
		}
	}
	return 0;
}

/* Step 5: each subject's findings, and its line when it is shown. */
static int subject_lines(struct recon_ctx *x)
{
	keten_recon *r = x->r;
	for (size_t i = 0; i < x->n_s; i++) {
		struct subj *s = &x->s[i];
		keten_recon_line *l = &s->l;
		int rc;
		l->outstanding_cents = l->claimed_cents - l->paid_cents;
		/* each claim's paid part is within it (claim_sums), what was
		 * confirmed within what was paid (payment_sums): so the line's */
		KETEN_ASSERT(s->inexact ||
		             (0 <= l->received_cents && l->received_cents <= l->paid_cents &&
		              l->paid_cents <= l->claimed_cents && 0 <= l->overdue_cents &&
		              l->overdue_cents <= l->outstanding_cents));
		if (overlaps(x, l->start, l->end) && (rc = kt_recon_subject_findings(x, s)))
			return rc;
		if (!s->line || !line_wanted(x, l))
			continue;
		if (kt_grow((void **)&r->lines, &x->cap_l, r->n_lines, sizeof *r->lines))
			return keten_fail(x->err, KETEN_ENOMEM, NULL);
		r->lines[r->n_lines++] = *l;
	}
	return 0;
}

/* Step 6: the sorted lines summed per pair of parties. */
static int pair_sums(keten_recon *r, keten_error *err)
{
	size_t counted = 0;
	bool exact = true, last;
	for (size_t i = 0; i < r->n_lines; i++) {
		const keten_recon_line *l = &r->lines[i];
		keten_recon_pair *pr;
		if (!r->n_pairs || memcmp(r->pairs[r->n_pairs - 1].payer, l->payer, 32) ||
		    memcmp(r->pairs[r->n_pairs - 1].payee, l->payee, 32)) {
			void *q = realloc(r->pairs, (r->n_pairs + 1) * sizeof *r->pairs);
			if (!q)
				return keten_fail(err, KETEN_ENOMEM, NULL);
			r->pairs = q;
			memset(&r->pairs[r->n_pairs], 0, sizeof *r->pairs);
			memcpy(r->pairs[r->n_pairs].payer, l->payer, 32);
			memcpy(r->pairs[r->n_pairs].payee, l->payee, 32);
			r->n_pairs++;
		}
		pr = &r->pairs[r->n_pairs - 1];
		pr->n_lines++;
		keten_add_cents(pr->agreed_cents, l->agreed_cents, &pr->agreed_cents);
		keten_add_cents(pr->delivered_units, l->delivered_units, &pr->delivered_units);
		if (!keten_add_cents(pr->claimed_cents, l->claimed_cents, &pr->claimed_cents))
			exact = false;
		if (!keten_add_cents(pr->paid_cents, l->paid_cents, &pr->paid_cents))
			exact = false;
		if (!keten_add_cents(pr->outstanding_cents, l->outstanding_cents, &pr->outstanding_cents))
			exact = false;
		keten_add_cents(pr->received_cents, l->received_cents, &pr->received_cents);
		keten_add_cents(pr->overdue_cents, l->overdue_cents, &pr->overdue_cents);
		/* the sums of the pair's lines keep each line's outstanding = claimed - paid */
		KETEN_ASSERT(!exact || pr->outstanding_cents == pr->claimed_cents - pr->paid_cents);
		last = i + 1 == r->n_lines || memcmp(r->lines[i + 1].payer, l->payer, 32) ||
			memcmp(r->lines[i + 1].payee, l->payee, 32);
		if (last)
			exact = true;
		counted += last ? pr->n_lines : 0;
	}
	/* sorted by payer and payee, every line is in exactly one pair */
	KETEN_ASSERT(counted == r->n_lines);
	return 0;
}

/* Steps 2 to 6. */
static int reconcile_steps(struct recon_ctx *x)
{
	keten_recon *r = x->r;
	int rc;

	if ((rc = kt_recon_scan_subjects(x)))
		return rc;
	for (size_t i = 0; i < x->n_s; i++) {
		struct subj *s = &x->s[i];
		build_line(x, s, s->as ? s->as->id.data : s->os->id.data);
	}
	if ((rc = kt_recon_scan_records(x)) || (rc = claim_sums(x)) || (rc = payment_sums(x)) ||
	    (rc = subject_lines(x)) || (rc = kt_recon_volume_findings(x)) || (rc = kt_recon_dispute_findings(x)))
		return rc;
	if (r->n_lines)
		qsort(r->lines, r->n_lines, sizeof *r->lines, cmp_line);
	if (r->n_findings)
		qsort(r->findings, r->n_findings, sizeof *r->findings, cmp_finding);
	return pair_sums(r, x->err);
}

/* Step 7: the statement's comparison, and its findings after the others. */
static int bank_step(keten_txn *t, const keten_recon_opts *o, keten_recon *r, keten_error *err)
{
	int rc;
	if (!(r->bank = calloc(1, sizeof *r->bank)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if ((rc = keten_recon_bank(t, o->me, o->bank, r->bank, err)))
		return rc;
	return kt_recon_bank_findings(r, r->bank, err);
}

int keten_reconcile(keten_txn *t, const keten_recon_opts *o, keten_recon *out, keten_error *err)
{
	struct recon_ctx x = {.t = t, .o = o, .err = err};
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "reconcile: no result");
	memset(out, 0, sizeof *out);
	if (!t || !o || !o->me)
		return keten_fail(err, KETEN_EINVAL, "reconcile: no home key");
	x.r = out;
	x.as_of_given = o->as_of != 0;
	x.as_of = o->as_of ? o->as_of : keten_today();
	out->as_of = x.as_of;
	kt_recon_whoami(&x);
	/* --with, and a provider's own view, concern one party: read only the
	 * records indexed under it.  A municipality's whole view is most of
	 * what it holds, so it scans. */
	if (kt_state_indexed(t))
		x.via = o->with ? o->with : !x.authority ? o->me : NULL;
	rc = reconcile_steps(&x);
	kt_recon_ctx_free(&x);
	if (rc == 0 && o->bank)
		rc = bank_step(t, o, out, err);
	if (rc)
		keten_recon_release(out);
	return rc;
}

void keten_recon_release(keten_recon *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_findings; i++)
		free(r->findings[i].ids);
	for (size_t i = 0; i < r->n_extra_kinds; i++)
		free(r->extra_kinds[i]);
	free(r->extra_kinds);
	free(r->findings);
	free(r->lines);
	free(r->pairs);
	keten_bank_release(r->bank);
	free(r->bank);
	memset(r, 0, sizeof *r);
}
