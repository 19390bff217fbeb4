/*
 * recon_find.c — the findings of reconciliation (see recon.h), computed
 * from the records the scans read: each kind of record (allocation,
 * subcontract offer, claim, payment, dispute) has its function.  The
 * soft-rule marks that the body handlers leave on the records (offers,
 * allocations, claims, payments) are read too and mapped onto the stable
 * kinds, so a finding is reported once whichever side spotted it.  Each
 * finding names the entries that prove it; one with none is not made.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/recon.h"
#include "rules/dispute.h"
#include "base/base.h"

/* Findings ------------------------------------------------------------------ */

/* The stable kind of a mark left on a state record by a body handler;
 * NULL when reconcile computes that kind itself (so it is not doubled). */
static const char *mark_kind(const char *mark)
{
	static const struct {
		const char *mark, *kind;
	} alias[] = {
		{"over-allocation", "over-allocation"},
		{"above-framework-tariff", "above-framework-tariff"},
		{"differs-from-framework-tariff", "tariff-differs-from-framework"},
		{"tariff-differs-from-framework", "tariff-differs-from-framework"},
		{"margin-above-max", "margin-above-maximum"},
		{"margin-above-maximum", "margin-above-maximum"},
		{"above-subcontract-tariff", "above-subcontract-tariff"},
	};
	static const char *const computed[] = {
		"rijgen",
		"claim-above-agreed",
		"claims-above-agreed",
		"above-agreed",
		"overdue",
		"paid-late",
		"late-payment",
		"payment-late",
		"receipt-mismatch",
		"payment-unconfirmed",
		"payment-without-receipt",
		"final-without-result",
		"final-after-stop",
		"stop-without-clawback",
		"allocation-after-close",
		"replacement-outside-window",
		"claim-after-replacement",
		"duplicate-allocation-number",
	};
	for (size_t i = 0; i < sizeof alias / sizeof *alias; i++)
		if (strcmp(alias[i].mark, mark) == 0)
			return alias[i].kind;
	for (size_t i = 0; i < sizeof computed / sizeof *computed; i++)
		if (strcmp(computed[i], mark) == 0)
			return NULL;
	return mark;
}

static uint8_t zero_key[32];

/* Add a finding; ids is n ids (NULL entries skipped).  Deduplicated by
 * kind and first id. */
static int add_finding(struct recon_ctx *x, const char *kind, const uint8_t *subject, const uint8_t *payer,
                       const uint8_t *payee, int64_t amount, const uint8_t *const *ids, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

static int add_finding(struct recon_ctx *x, const char *kind, const uint8_t *subject, const uint8_t *payer,
                       const uint8_t *payee, int64_t amount, const uint8_t *const *ids, size_t n, const char *fmt, ...)
{
	keten_recon *r = x->r;
	keten_recon_finding *f;
	uint8_t key[32];
	va_list ap;
	size_t m = 0;

	if (x->o->with && !x->all_parties && !(payer && memcmp(payer, x->o->with, 32) == 0) &&
	    !(payee && memcmp(payee, x->o->with, 32) == 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ids[i])
			m++;
	if (!m)
		return 0;
	/* dedup key: the first id, mixed with the kind's rank */
	for (size_t i = 0; i < n; i++)
		if (ids[i]) {
			memcpy(key, ids[i], 32);
			break;
		}
	{
		size_t rank = kt_recon_kind_rank(kind);
		uint64_t h = kt_id_hash(key) ^ ((uint64_t)(rank + 1) * 0x9E3779B97F4A7C15ull);
		memcpy(key, &h, 8);
		key[31] ^= (uint8_t)rank;
		for (size_t i = 0; i < strlen(kind); i++)
			key[8 + i % 23] ^= (uint8_t)kind[i];
	}
	if (kt_idmap_get(&x->f_seen, key) != SIZE_MAX)
		return 0;
	if (kt_idmap_put(&x->f_seen, key, 1) ||
	    kt_grow((void **)&r->findings, &x->cap_f, r->n_findings, sizeof *r->findings))
		return keten_fail(x->err, KETEN_ENOMEM, NULL);
	f = &r->findings[r->n_findings];
	memset(f, 0, sizeof *f);
	f->ids = malloc(m * sizeof *f->ids);
	if (!f->ids)
		return keten_fail(x->err, KETEN_ENOMEM, NULL);
	r->n_findings++;
	f->kind = kind;
	memcpy(f->subject, subject ? subject : zero_key, 32);
	memcpy(f->payer, payer ? payer : zero_key, 32);
	memcpy(f->payee, payee ? payee : zero_key, 32);
	f->amount_cents = amount;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		if (!ids[i])
			continue;
		for (size_t j = 0; j < f->n_ids && !dup; j++)
			dup = memcmp(f->ids[j], ids[i], 32) == 0;
		if (!dup)
			memcpy(f->ids[f->n_ids++], ids[i], 32);
	}
	/* the evidence: at least the entry the finding is about, each id once */
	KETEN_ASSERT(f->n_ids >= 1 && f->n_ids <= m);
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof f->detail, fmt, ap);
	va_end(ap);
	return 0;
}

int kt_recon_add(struct recon_ctx *x, const char *kind, const uint8_t *subject, const uint8_t *payer,
                 const uint8_t *payee, int64_t amount, const uint8_t *const *ids, size_t n, const char *detail)
{
	return add_finding(x, kind, subject, payer, payee, amount, ids, n, "%s", detail);
}

/* A kind named by a mark that reconcile does not compute itself: kept as
 * given, owned by the result. */
static const char *intern_kind(struct recon_ctx *x, const char *mark)
{
	keten_recon *r = x->r;
	size_t n, rank = kt_recon_kind_rank(mark);
	const char *const *kinds = keten_recon_kinds(&n);
	if (rank < n)
		return kinds[rank];
	for (size_t i = 0; i < r->n_extra_kinds; i++)
		if (strcmp(r->extra_kinds[i], mark) == 0)
			return r->extra_kinds[i];
	if (kt_grow((void **)&r->extra_kinds, &x->cap_k, r->n_extra_kinds, sizeof *r->extra_kinds))
		return NULL;
	if (!(r->extra_kinds[r->n_extra_kinds] = strdup(mark)))
		return NULL;
	return r->extra_kinds[r->n_extra_kinds++];
}

/* Findings from each kind of record ---------------------------------------------- */

/* The allocations of the same client that this one follows back to back. */
struct rijgen_find {
	struct recon_ctx *x;
	const Keten__State__AllocationState *as;
	size_t plen;
	uint8_t ids[8][32];
	size_t n;
};

static int rijgen_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct rijgen_find *f = p;
	Keten__State__AllocationState *o = NULL;
	if (kl != f->plen + 32 || f->n == 8 || memcmp(k + f->plen, f->as->id.data, 32) == 0)
		return 0;
	if (kt_state_get(f->x->t, DK_ALLOCATION, k + f->plen, &keten__state__allocation_state__descriptor, (void **)&o,
	                 NULL))
		return 0;
	if (!o->voided && o->kind == KETEN__KIND__HERSTEL && o->profile && o->intensity && f->as->profile &&
	    f->as->intensity && strcmp(o->profile, f->as->profile) == 0 &&
	    strcmp(o->intensity, f->as->intensity) == 0) {
		uint32_t ended = o->close_date ? o->close_date : o->end;
		if (ended && ended <= f->as->start && keten_date_days(f->as->start) - keten_date_days(ended) <= 31)
			memcpy(f->ids[f->n++], k + f->plen, 32);
	}
	kt_state_free(o);
	return 0;
}

/* The rijgen mark of allocation s: with the allocations it follows. */
static int rijgen_finding(struct recon_ctx *x, const struct subj *s)
{
	const Keten__State__AllocationState *as = s->as;
	struct rijgen_find f = {.x = x, .as = as};
	uint8_t pre[300];
	size_t n = strlen(as->client_ref);
	const uint8_t *ids[9];
	char d[11];

	if (n + 2 > sizeof pre)
		return 0;
	pre[0] = DX_CLIENT;
	memcpy(pre + 1, as->client_ref, n);
	pre[n + 1] = 0;
	f.plen = n + 2;
	kt_kv_scan(x->t, KT_INDEX, pre, f.plen, rijgen_cb, &f, NULL);
	ids[0] = as->id.data;
	for (size_t j = 0; j < f.n; j++)
		ids[j + 1] = f.ids[j];
	keten_format_date(d, sizeof d, as->start);
	return add_finding(x, "rijgen", as->id.data, s->l.payer, s->l.payee, as->amount_cents, ids, f.n + 1,
	                   "%s/%s herstel for client %s starts on %s, right after an earlier one ended",
	                   as->profile ? as->profile : "-", as->intensity ? as->intensity : "-", as->client_ref, d);
}

/* An early stop after the up-front part was paid, without a clawback. */
static int stop_finding(struct recon_ctx *x, const struct subj *s)
{
	const Keten__State__AllocationState *as = s->as;
	Keten__State__ContractState *cs;
	Keten__FrameworkContract *fc;
	bool early = as->outcome == KETEN__OUTCOME__STOPPED;
	uint32_t reclaim = 0;
	const uint8_t *ids[10] = {as->id.data, bin(&as->result)};
	size_t n = 2;
	int64_t due = 0;

	if (!(as->closed && as->close_date <= x->as_of && as->upfront_paid_cents > 0 && as->stop_code &&
	      kt_idmap_get(&x->clawed, as->id.data) == SIZE_MAX && as->clawback_cents == 0))
		return 0;
	kt_recon_contract(x, &as->contract, &cs, &fc);
	if (fc) {
		early = false;
		for (size_t i = 0; i < fc->n_early_stop; i++)
			if (strcmp(fc->early_stop[i]->stop_code, as->stop_code) == 0 &&
			    fc->early_stop[i]->reclaim_bp > 0) {
				early = true;
				reclaim = fc->early_stop[i]->reclaim_bp;
			}
	}
	if (!early)
		return 0;
	for (size_t ci = 0; ci < x->n_c && n < 10; ci++)
		if (x->c[ci].subj == (size_t)(s - x->s) && x->c[ci].cs->installment &&
		    strcmp(x->c[ci].cs->installment, "upfront") == 0)
			ids[n++] = x->c[ci].cs->id.data;
	if (reclaim)
		keten_apply_bp(as->upfront_paid_cents, reclaim, &due);
	return add_finding(x, "stop-without-clawback", as->id.data, s->l.payer, s->l.payee, due, ids, n,
	                   "stopped early (stop code %s) after %lld cents up front, no clawback", as->stop_code,
	                   (long long)as->upfront_paid_cents);
}

static int alloc_findings(struct recon_ctx *x, struct subj *s)
{
	const Keten__State__AllocationState *as = s->as;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < as->n_findings; i++) {
		const char *mark = as->findings[i];
		if (strcmp(mark, "rijgen") == 0 && as->client_ref && as->start <= x->as_of) {
			rc = rijgen_finding(x, s);
		} else if (kt_recon_change_mark(x, s, mark, &rc)) {
			continue;
		} else if (mark_kind(mark)) {
			const char *kind = intern_kind(x, mark_kind(mark));
			const uint8_t *ids[1] = {as->id.data};
			if (kind)
				rc = add_finding(x, kind, as->id.data, s->l.payer, s->l.payee, 0, ids, 1,
				                 "marked on the allocation");
		}
	}
	return rc ? rc : stop_finding(x, s);
}

struct offers_find {
	uint8_t ids[16][32];
	size_t n;
	keten_txn *t;
};

static int offers_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct offers_find *f = p;
	Keten__State__OfferState *os = NULL;
	if (kl != 65 || f->n == 16)
		return 0;
	if (kt_state_get(f->t, DK_OFFER, k + 33, &keten__state__offer_state__descriptor, (void **)&os, NULL))
		return 0;
	if (!os->voided && !(os->answered && !os->accepted))
		memcpy(f->ids[f->n++], k + 33, 32);
	kt_state_free(os);
	return 0;
}

static int offer_findings(struct recon_ctx *x, struct subj *s)
{
	const Keten__State__OfferState *os = s->os;
	const keten_recon_line *l = &s->l;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < os->n_findings; i++) {
		const char *kind = mark_kind(os->findings[i]);
		if (!kind)
			continue;
		kind = intern_kind(x, kind);
		if (!kind)
			return keten_fail(x->err, KETEN_ENOMEM, NULL);
		if (strcmp(kind, "over-allocation") == 0) {
			struct offers_find f = {.t = x->t};
			uint8_t pre[33];
			const uint8_t *ids[18] = {os->id.data, bin(&os->allocation)};
			pre[0] = DX_OFFERS;
			if (os->allocation.len == 32) {
				memcpy(pre + 1, os->allocation.data, 32);
				kt_kv_scan(x->t, KT_INDEX, pre, 33, offers_cb, &f, NULL);
			}
			for (size_t j = 0; j < f.n; j++)
				ids[j + 2] = f.ids[j];
			rc = add_finding(x, kind, os->id.data, l->payer, l->payee, os->amount_cents, ids, f.n + 2,
			                 "subcontracts on the allocation add up to more than its amount");
		} else {
			const uint8_t *ids[2] = {os->id.data, bin(&os->allocation)};
			const char *why = strcmp(kind, "above-framework-tariff") == 0
				? "price above the framework tariff"
				: strcmp(kind, "tariff-differs-from-framework") == 0
				? "price differs from the framework tariff"
				: strcmp(kind, "margin-above-maximum") == 0 ? "margin kept above the contract maximum"
				: strcmp(kind, "above-subcontract-tariff") == 0 ? "price above the subcontract tariff"
										: "marked on the subcontract";
			bool svc = os->service && strcmp(kind, "above-subcontract-tariff") == 0;
			rc = add_finding(x, kind, os->id.data, l->payer, l->payee, os->amount_cents, ids, 2,
			                 "%s%s%s%s (%s, %lld cents)", why, svc ? " of service '" : "",
			                 svc ? os->service : "", svc ? "'" : "", l->what, (long long)os->amount_cents);
		}
	}
	return rc;
}

/* The root allocation's result was there by as_of. */
static bool has_result(struct recon_ctx *x, const struct subj *s)
{
	const Keten__State__AllocationState *as = s->as;
	Keten__State__AllocationState *loaded = NULL;
	bool ok;
	if (!as) {
		size_t i = s->os->allocation.len == 32 ? kt_idmap_get(&x->s_map, s->os->allocation.data) : SIZE_MAX;
		if (i != SIZE_MAX && x->s[i].as)
			as = x->s[i].as;
		else if (s->os->allocation.len != 32 ||
		         kt_state_get(x->t, DK_ALLOCATION, s->os->allocation.data,
		                      &keten__state__allocation_state__descriptor, (void **)&loaded, NULL))
			return true; /* not ours to see: no finding */
		else
			as = loaded;
	}
	ok = as->closed && as->outcome != KETEN__OUTCOME__OUTCOME_NONE &&
		(!as->close_date || as->close_date <= x->as_of);
	kt_state_free(loaded);
	return ok;
}

/*
 * More of the final part paid than its stop leaves due: a final claim on
 * a herstel allocation closed by as_of (a pause is no close), paid above
 * kt_final_due.  It was paid before the stop, or the claim was accepted
 * where the stop was not known yet; the evidence is the claim, its
 * payments, the allocation and the result that stopped it.
 */
static int final_after_stop(struct recon_ctx *x, const struct claim *c, const uint8_t **ids, size_t n)
{
	const Keten__State__ClaimState *cs = c->cs;
	const struct subj *s = &x->s[c->subj];
	const Keten__State__AllocationState *as = s->as;
	Keten__State__ContractState *ks = NULL;
	Keten__FrameworkContract *fc = NULL;
	int64_t due;
	uint32_t bp;

	if (!as || as->kind != KETEN__KIND__HERSTEL || c->paid <= 0 || !cs->installment ||
	    strcmp(cs->installment, "final") != 0 || !as->closed || kt_stop_is_pause(as->stop_code) || !as->stop_code ||
	    as->close_date > x->as_of)
		return 0;
	kt_recon_contract(x, &as->contract, &ks, &fc);
	if (!kt_final_due(x->t, as, fc, &due, &bp) || c->paid <= due)
		return 0;
	KETEN_ASSERT(n >= 1 && n <= 12);
	if (n < 12)
		ids[n++] = as->id.data;
	if (n < 12)
		ids[n++] = bin(&as->result);
	return add_finding(x, "final-after-stop", s->l.subject, s->l.payer, s->l.payee, c->paid - due, ids, n,
	                   "final part paid %lld cents; %lld due after stop code %s (%u.%02u%%)", (long long)c->paid,
	                   (long long)due, as->stop_code, bp / 100, bp % 100);
}

int kt_recon_claim_findings(struct recon_ctx *x, struct claim *c)
{
	const Keten__State__ClaimState *cs = c->cs;
	struct subj *s = &x->s[c->subj];
	const keten_recon_line *l = &s->l;
	uint32_t term = cs->has_payment_term_days && cs->payment_term_days ? cs->payment_term_days : s->term;
	int64_t unpaid = cs->amount_cents - c->paid;
	const uint8_t *ids[12];
	size_t n;
	int rc = 0;

	c->due = keten_date_add_days(cs->date, (int32_t)term);
	ids[0] = cs->id.data;
	n = 1;
	for (size_t j = 0; j < c->n_pay && n < 12; j++)
		ids[n++] = c->pay[j];
	if (unpaid > 0 && x->as_of > c->due) {
		char d[11];
		keten_format_date(d, sizeof d, c->due);
		rc = add_finding(x, "overdue", l->subject, l->payer, l->payee, unpaid, ids, n,
		                 "%lld cents unpaid, due %s (%u days), %lld days late", (long long)unpaid, d, term,
		                 (long long)(keten_date_days(x->as_of) - keten_date_days(c->due)));
	}
	if (rc == 0 && c->last_paid > c->due) {
		char d[11];
		keten_format_date(d, sizeof d, c->due);
		rc = add_finding(x, "paid-late", l->subject, l->payer, l->payee, cs->amount_cents, ids, n,
		                 "paid %lld days after the term (due %s)",
		                 (long long)(keten_date_days(c->last_paid) - keten_date_days(c->due)), d);
	}
	/* more than agreed for the installment */
	if (rc == 0 && cs->installment && strcmp(cs->installment, "units") != 0) {
		Keten__State__ContractState *ks = NULL;
		Keten__FrameworkContract *fc;
		int64_t expected;
		/* the target and its contract are in memory already */
		if (s->as)
			kt_recon_contract(x, &s->as->contract, &ks, &fc);
		if (kt_expected_for(x->t, s->as, s->os, ks, cs->installment, &expected, NULL) == 0 &&
		    cs->amount_cents > expected) {
			const uint8_t *ev[2] = {cs->id.data, l->subject};
			s->above = true;
			rc = add_finding(x, "claim-above-agreed", l->subject, l->payer, l->payee,
			                 cs->amount_cents - expected, ev, 2,
			                 "installment %s claims %lld cents, agreed %lld", cs->installment,
			                 (long long)cs->amount_cents, (long long)expected);
		}
	}
	/* an up-front part left unpaid, or a final part, of an allocation a
	 * change replaced: no longer due (read from state, so both sides
	 * find it whichever order the claim and the change arrived in) */
	if (rc == 0 && s->as && s->as->replaced_by.len == 32 && cs->installment &&
	    (strcmp(cs->installment, "final") == 0 || (strcmp(cs->installment, "upfront") == 0 && unpaid > 0))) {
		const uint8_t *rv[3] = {cs->id.data, s->as->id.data, s->as->replaced_by.data};
		rc = add_finding(x, "claim-after-replacement", l->subject, l->payer, l->payee, unpaid, rv, 3,
		                 "%s claimed on an allocation a change replaced (reason %s): %lld cents no longer due",
		                 cs->installment, s->as->change_reason ? s->as->change_reason : "-", (long long)unpaid);
	}
	/* the final part paid without a result */
	if (rc == 0 && c->paid > 0 && cs->installment && strcmp(cs->installment, "final") == 0 && !has_result(x, s)) {
		const uint8_t *root = s->as ? s->as->id.data : bin(&s->os->allocation);
		ids[n < 12 ? n++ : 11] = root;
		rc = add_finding(x, "final-without-result", l->subject, l->payer, l->payee, c->paid, ids, n,
		                 "final part paid (%lld cents) but the allocation has no result entry",
		                 (long long)c->paid);
	}
	if (rc == 0)
		rc = final_after_stop(x, c, ids, n);
	for (size_t i = 0; rc == 0 && i < cs->n_findings; i++) {
		const char *kind = mark_kind(cs->findings[i]);
		const uint8_t *ev[1] = {cs->id.data};
		if (kind && strcmp(kind, "claim-above-delivered") == 0)
			rc = add_finding(x, intern_kind(x, kind), l->subject, l->payer, l->payee, cs->amount_cents, ev,
			                 1,
			                 "a claim per unit of %lld cents, more than the deliveries it names are worth "
			                 "at the unit price",
			                 (long long)cs->amount_cents);
		else if (kind && (kind = intern_kind(x, kind)))
			rc = add_finding(x, kind, l->subject, l->payer, l->payee, cs->amount_cents, ev, 1,
			                 "marked on the claim");
	}
	return rc;
}

/* Claims above the whole agreed total, for the installments not checked one by one. */
static int line_findings(struct recon_ctx *x, struct subj *s)
{
	const keten_recon_line *l = &s->l;
	bool monthly = (s->as && s->as->kind == KETEN__KIND__DUURZAAM) ||
		(s->os && s->os->pricing == KETEN__PRICING__MONTHLY);
	if (monthly || s->above || x->o->from || x->o->until || l->claimed_cents <= l->agreed_cents)
		return 0;
	{
		const uint8_t *ids[16] = {l->subject};
		size_t n = 1;
		for (size_t ci = 0; ci < x->n_c && n < 16; ci++)
			if (x->c[ci].subj == (size_t)(s - x->s))
				ids[n++] = x->c[ci].cs->id.data;
		return add_finding(x, "claim-above-agreed", l->subject, l->payer, l->payee,
		                   l->claimed_cents - l->agreed_cents, ids, n,
		                   "claims add up to %lld cents, agreed %lld", (long long)l->claimed_cents,
		                   (long long)l->agreed_cents);
	}
}

int kt_recon_payment_findings(struct recon_ctx *x, struct pay *p)
{
	const Keten__State__PaymentState *ps = p->ps;
	const uint8_t *ids[10] = {ps->id.data};
	size_t n = 1;
	const uint8_t *subject = NULL;
	int rc = 0;

	for (size_t j = 0; j < ps->n_parts && n < 9; j++) {
		size_t ci = ps->parts[j]->claim.len == 32 ? kt_idmap_get(&x->c_map, ps->parts[j]->claim.data)
							  : SIZE_MAX;
		if (ps->parts[j]->claim.len == 32)
			ids[n++] = ps->parts[j]->claim.data;
		if (ci != SIZE_MAX && !subject)
			subject = x->s[x->c[ci].subj].l.subject;
	}
	if (!x->as_of_given) {
		/* every live receipt counts, and the payment record names the
		 * current one (a voided receipt is taken off it) with its amount,
		 * above zero exactly when something arrived */
		if (ps->has_receipt && ps->receipt.len == 32) {
			p->receipt_known = true;
			p->received = ps->received_cents > 0;
			p->received_cents = ps->received_cents;
		}
	} else if (ps->receipt.len == 32 && ps->has_receipt_date) {
		/* kt_rule_receipt copies the receipt's date and flag into the
		 * payment record and a voided receipt is taken off it, so
		 * nothing needs looking up: scattered over the state table,
		 * that lookup per payment made about a third of the page
		 * faults of a fresh process */
		if (!ps->receipt_date || ps->receipt_date <= x->as_of) {
			p->receipt_known = true;
			p->received = ps->receipt_received;
			p->received_cents = ps->receipt_received ? ps->received_cents : 0;
		}
	} else if (ps->receipt.len == 32) {
		/* a record from before the copy (no receipt_date): look the
		 * receipt up, which also tells whether it was voided since */
		Keten__State__ReceiptState *rs = NULL;
		if (kt_state_get(x->t, DK_RECEIPT, ps->receipt.data, &keten__state__receipt_state__descriptor,
		                 (void **)&rs, NULL) == 0 &&
		    !rs->voided && (!rs->date || rs->date <= x->as_of || !x->as_of_given)) {
			p->receipt_known = true;
			p->received = rs->received;
			p->received_cents = rs->received ? rs->amount_cents : 0;
		}
		kt_state_free(rs);
	}
	if (!p->receipt_known) {
		char d[11];
		keten_format_date(d, sizeof d, ps->date);
		rc = add_finding(x, "payment-unconfirmed", subject, ps->author.data, ps->payee.data, ps->amount_cents,
		                 ids, n, "paid %lld cents on %s; no receipt from the payee",
		                 (long long)ps->amount_cents, d);
	} else if (!p->received || p->received_cents != ps->amount_cents) {
		ids[n++] = ps->receipt.data;
		rc = add_finding(x, "receipt-mismatch", subject, ps->author.data, ps->payee.data,
		                 ps->amount_cents - p->received_cents, ids, n,
		                 p->received ? "paid %lld cents, receipt confirms %lld"
		                             : "paid %lld cents, receipt says nothing arrived (%lld)",
		                 (long long)ps->amount_cents, (long long)p->received_cents);
	}
	for (size_t i = 0; rc == 0 && i < ps->n_findings; i++) {
		const char *kind = mark_kind(ps->findings[i]);
		if (kind && (kind = intern_kind(x, kind)))
			rc = add_finding(x, kind, subject, ps->author.data, ps->payee.data, ps->amount_cents, ids, 1,
			                 "marked on the payment");
	}
	return rc;
}

static int dispute_cb(keten_txn *t, const Keten__State__DisputeState *d, void *p)
{
	struct recon_ctx *x = p;
	const uint8_t *ids[KETEN_MAX_DISPUTED + 1];
	size_t n = 0;
	bool open = !d->ruling.len || (d->ruled_ms && keten_date_of_ms(d->ruled_ms) > x->as_of);

	if (!open || (d->opened_ms && keten_date_of_ms(d->opened_ms) > x->as_of))
		return 0;
	if (x->o->with) {
		if (!(key_is(&d->opener, x->o->with) || kt_dispute_is_party(t, d, x->o->with)))
			return 0;
	}
	ids[n++] = d->id.data;
	for (size_t i = 0; i < d->n_entries && n < KETEN_MAX_DISPUTED + 1; i++)
		if (d->entries[i].len == 32)
			ids[n++] = d->entries[i].data;
	x->all_parties = true;
	x->rc = add_finding(x, "open-dispute", NULL, bin(&d->opener), NULL, d->amount_cents, ids, n, "%.100s%s",
	                    d->text ? d->text : "", d->text && strlen(d->text) > 100 ? "..." : "");
	x->all_parties = false;
	return x->rc ? -1 : 0;
}

int kt_recon_subject_findings(struct recon_ctx *x, struct subj *s)
{
	int rc = s->as ? alloc_findings(x, s) : offer_findings(x, s);
	return rc ? rc : line_findings(x, s);
}

int kt_recon_dispute_findings(struct recon_ctx *x)
{
	return kt_dispute_each(x->t, false, dispute_cb, x, x->err);
}
