/*
 * bank.c — an ISO 20022 camt.053 bank statement matched to the payments
 * this home made or received (keten_recon_bank, keten/reconcile.h), and
 * the findings that follow from the comparison (bank-only, ledger-only,
 * bank-amount-differs, bank-duplicate, bank-balance-mismatch), which
 * keten_reconcile adds to its own when it is given a statement.
 *
 * The payments are read from derived state (by the party index when it
 * is there); a payment's bank reference lives only in its body, so that
 * is read from its entry.  Matching goes by reference first, then by
 * amount and direction within the date window, closest date first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/recon.h"
#include "base/base.h"

/* Matching ------------------------------------------------------------------ */

const char *keten_bank_status_name(keten_bank_status s)
{
	switch (s) {
	case KETEN_BANK_MATCHED: return "matched";
	case KETEN_BANK_AMOUNT_DIFFERS: return "amount-differs";
	case KETEN_BANK_DUPLICATE: return "duplicate";
	case KETEN_BANK_ONLY: return "bank-only";
	case KETEN_LEDGER_ONLY: return "ledger-only";
	default: return "";
	}
}

struct bpay {
	uint8_t id[32], payer[32], payee[32];
	int64_t cents; /* signed from my side */
	uint32_t date;
	char ref[64];
	bool matched;
};

struct bank_ctx {
	keten_txn *t;
	const uint8_t *me;
	const keten_camt_statement *s;
	uint32_t lo, hi; /* the payments read: the statement's dates, widened by the window */
	struct bpay *p;
	size_t n, cap;
	keten_bank_result *out;
	size_t cap_lines;
	keten_error *err;
};

static int bank_pay_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
	struct bank_ctx *b = arg;
	Keten__State__PaymentState *ps;
	bool out_, in_;
	if (kl != 33)
		return 0;
	ps = keten__state__payment_state__unpack(NULL, vl, v);
	if (!ps)
		return 0;
	out_ = key_is(&ps->author, b->me);
	in_ = key_is(&ps->payee, b->me);
	if (!ps->voided && (out_ || in_) && (!b->lo || ps->date >= b->lo) && (!b->hi || ps->date <= b->hi)) {
		if (kt_grow((void **)&b->p, &b->cap, b->n, sizeof *b->p)) {
			kt_state_free(ps);
			return -1;
		}
		struct bpay *p = &b->p[b->n++];
		memset(p, 0, sizeof *p);
		memcpy(p->id, k + 1, 32);
		copy_key(p->payer, &ps->author);
		copy_key(p->payee, &ps->payee);
		p->cents = in_ ? ps->amount_cents : -ps->amount_cents;
		p->date = ps->date;
		{
			keten_entry e;
			if (keten_store_get_entry(b->t, k + 1, &e, NULL) == 0) {
				Keten__Payment *pb = e.has_body ? keten__payment__unpack(NULL, e.body_len, e.body)
								: NULL;
				if (pb && pb->reference)
					snprintf(p->ref, sizeof p->ref, "%s", pb->reference);
				if (pb)
					keten__payment__free_unpacked(pb, NULL);
				keten_entry_release(&e);
			}
		}
	}
	kt_state_free(ps);
	return 0;
}

static bool ref_hit(const struct bpay *p, const keten_camt_tx *tx, const char **how)
{
	if (!p->ref[0] || !tx)
		return false;
	if (tx->end_to_end_id && strcmp(tx->end_to_end_id, p->ref) == 0) {
		*how = "end-to-end";
		return true;
	}
	if (tx->structured_ref && strcmp(tx->structured_ref, p->ref) == 0) {
		*how = "remittance";
		return true;
	}
	if (tx->remittance && strlen(p->ref) >= 6 && strstr(tx->remittance, p->ref)) {
		*how = "remittance";
		return true;
	}
	return false;
}

/* The dates the statement covers: its bookings, opening and closing. */
static void statement_span(const keten_camt_statement *s, uint32_t *lo, uint32_t *hi)
{
	*lo = *hi = 0;
	for (size_t i = 0; i < s->n_entries; i++) {
		uint32_t d = s->entries[i].booking_date ? s->entries[i].booking_date : s->entries[i].value_date;
		if (d && (!*lo || d < *lo))
			*lo = d;
		if (d > *hi)
			*hi = d;
	}
	if (s->opening_date && (!*lo || s->opening_date < *lo))
		*lo = s->opening_date;
	if (s->closing_date > *hi)
		*hi = s->closing_date;
}

/* The payments of this home dated within [b->lo, b->hi]. */
static int load_payments(struct bank_ctx *b)
{
	uint8_t kind = DK_PAYMENT;
	/* the payments this home made or received are indexed under it */
	if (kt_state_indexed(b->t))
		return kt_scan_party(b->t, b->me, DK_PAYMENT, bank_pay_cb, b, b->err);
	return kt_kv_scan(b->t, KT_STATE, &kind, 1, bank_pay_cb, b, b->err);
}

static keten_bank_line *new_line(struct bank_ctx *b)
{
	keten_bank_result *out = b->out;
	keten_bank_line *l;
	if (kt_grow((void **)&out->lines, &b->cap_lines, out->n_lines, sizeof *out->lines)) {
		keten_fail(b->err, KETEN_ENOMEM, NULL);
		return NULL;
	}
	l = &out->lines[out->n_lines++];
	memset(l, 0, sizeof *l);
	l->how = "";
	return l;
}

/* The bank lines: one per transaction detail, or per entry without details;
 * booked entries only. */
static int bank_lines(struct bank_ctx *b)
{
	const keten_camt_statement *s = b->s;
	for (size_t i = 0; i < s->n_entries; i++) {
		const keten_camt_entry *e = &s->entries[i];
		size_t ntx = e->n_tx ? e->n_tx : 1;
		if (strcmp(e->status, "BOOK") != 0 && e->status[0])
			continue;
		for (size_t j = 0; j < ntx; j++) {
			const keten_camt_tx *tx = e->n_tx ? &e->tx[j] : NULL;
			int64_t amt = tx && tx->amount_cents >= 0 ? tx->amount_cents : e->amount_cents;
			keten_bank_line *l = new_line(b);
			if (!l)
				return KETEN_ENOMEM;
			l->entry = i;
			l->tx = e->n_tx ? j : SIZE_MAX;
			l->file_line = e->line;
			l->bank_cents = e->credit ? amt : -amt;
			l->bank_date = e->booking_date ? e->booking_date : e->value_date;
			if (tx && tx->end_to_end_id)
				snprintf(l->bank_ref, sizeof l->bank_ref, "%s", tx->end_to_end_id);
			else if (tx && tx->structured_ref)
				snprintf(l->bank_ref, sizeof l->bank_ref, "%s", tx->structured_ref);
			else if (tx && tx->remittance)
				snprintf(l->bank_ref, sizeof l->bank_ref, "%s", tx->remittance);
			else if (e->info)
				snprintf(l->bank_ref, sizeof l->bank_ref, "%s", e->info);
		}
	}
	return 0;
}

/* Line l stands for payment p. */
static void set_payment(keten_bank_line *l, const struct bpay *p)
{
	l->has_payment = true;
	memcpy(l->payment, p->id, 32);
	memcpy(l->payer, p->payer, 32);
	memcpy(l->payee, p->payee, 32);
	l->ledger_cents = p->cents;
	l->ledger_date = p->date;
	memcpy(l->ledger_ref, p->ref, sizeof l->ledger_ref);
}

/* Pass 1: by reference (an unmatched payment first, else a duplicate). */
static void match_by_ref(struct bank_ctx *b)
{
	keten_bank_result *out = b->out;
	for (size_t i = 0; i < out->n_lines; i++) {
		keten_bank_line *l = &out->lines[i];
		const keten_camt_entry *e = &b->s->entries[l->entry];
		const keten_camt_tx *tx = l->tx != SIZE_MAX ? &e->tx[l->tx] : NULL;
		struct bpay *hit = NULL, *dup = NULL;
		const char *how = "";
		for (size_t k = 0; k < b->n && !hit; k++) {
			const char *h;
			if ((b->p[k].cents > 0) != (l->bank_cents > 0) || !ref_hit(&b->p[k], tx, &h))
				continue;
			if (!b->p[k].matched) {
				hit = &b->p[k];
				how = h;
			} else if (!dup) {
				dup = &b->p[k];
				how = h;
			}
		}
		if (!hit && !dup)
			continue;
		if (!hit) {
			hit = dup;
			l->status = KETEN_BANK_DUPLICATE;
		} else {
			hit->matched = true;
			l->status = hit->cents == l->bank_cents ? KETEN_BANK_MATCHED : KETEN_BANK_AMOUNT_DIFFERS;
		}
		l->how = how;
		set_payment(l, hit);
	}
}

/* Pass 2: by amount and direction within the date window, closest first;
 * a line still without a payment is bank-only. */
static void match_by_amount(struct bank_ctx *b)
{
	keten_bank_result *out = b->out;
	for (size_t i = 0; i < out->n_lines; i++) {
		keten_bank_line *l = &out->lines[i];
		struct bpay *best = NULL;
		int64_t best_d = 0;
		if (l->status)
			continue;
		for (size_t k = 0; k < b->n; k++) {
			int64_t d;
			if (b->p[k].matched || b->p[k].cents != l->bank_cents)
				continue;
			d = keten_date_days(b->p[k].date) - keten_date_days(l->bank_date);
			if (d < 0)
				d = -d;
			if (d <= KETEN_BANK_DATE_WINDOW && (!best || d < best_d)) {
				best = &b->p[k];
				best_d = d;
			}
		}
		if (!best) {
			l->status = KETEN_BANK_ONLY;
			continue;
		}
		best->matched = true;
		l->status = KETEN_BANK_MATCHED;
		l->how = "amount-date";
		set_payment(l, best);
	}
}

/* Ledger-only: payments within the statement's own dates [lo, hi] that no
 * line matched. */
static int ledger_only(struct bank_ctx *b, uint32_t lo, uint32_t hi)
{
	for (size_t k = 0; k < b->n; k++) {
		keten_bank_line *l;
		if (b->p[k].matched || (lo && b->p[k].date < lo) || (hi && b->p[k].date > hi))
			continue;
		if (!(l = new_line(b)))
			return KETEN_ENOMEM;
		l->status = KETEN_LEDGER_ONLY;
		l->entry = l->tx = SIZE_MAX;
		set_payment(l, &b->p[k]);
	}
	return 0;
}

/* The counts per status, and the balance check. */
static void summarise(keten_bank_result *out, const keten_camt_statement *s)
{
	for (size_t i = 0; i < out->n_lines; i++) {
		const keten_bank_line *l = &out->lines[i];
		/* both passes leave no line without a status, and a line has a
		 * payment exactly when it is not bank-only; ledger-only lines have
		 * no bank entry */
		KETEN_ASSERT(l->status >= KETEN_BANK_MATCHED && l->status <= KETEN_LEDGER_ONLY);
		KETEN_ASSERT(l->has_payment == (l->status != KETEN_BANK_ONLY));
		KETEN_ASSERT((l->entry == SIZE_MAX) == (l->status == KETEN_LEDGER_ONLY));
		switch (l->status) {
		case KETEN_BANK_MATCHED: out->matched++; break;
		case KETEN_BANK_AMOUNT_DIFFERS: out->amount_differs++; break;
		case KETEN_BANK_DUPLICATE: out->duplicates++; break;
		case KETEN_BANK_ONLY: out->bank_only++; break;
		default: out->ledger_only++; break;
		}
	}
	KETEN_ASSERT(out->matched + out->amount_differs + out->duplicates + out->bank_only + out->ledger_only ==
	             out->n_lines);
	out->has_balances = s->has_opening && s->has_closing;
	out->opening_cents = s->opening_cents;
	out->closing_cents = s->closing_cents;
	if (out->has_balances)
		out->balance_ok = keten_camt_check_balance(s, &out->computed_cents, NULL) == 0;
}

int keten_recon_bank(keten_txn *t, const uint8_t me[32], const keten_camt_statement *s, keten_bank_result *out,
                     keten_error *err)
{
	struct bank_ctx b = {.t = t, .me = me, .s = s, .out = out, .err = err};
	uint32_t lo, hi;
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "bank: no result");
	memset(out, 0, sizeof *out);
	if (!t || !me || !s)
		return keten_fail(err, KETEN_EINVAL, "bank: no statement");
	statement_span(s, &lo, &hi);
	out->from = lo;
	out->until = hi;
	b.lo = lo ? keten_date_add_days(lo, -KETEN_BANK_DATE_WINDOW) : 0;
	b.hi = hi ? keten_date_add_days(hi, KETEN_BANK_DATE_WINDOW) : 0;
	if ((rc = load_payments(&b)) || (rc = bank_lines(&b)))
		goto fail;
	match_by_ref(&b);
	match_by_amount(&b);
	if ((rc = ledger_only(&b, lo, hi)))
		goto fail;
	summarise(out, s);
	free(b.p);
	return 0;
fail:
	free(b.p);
	keten_bank_release(out);
	return rc;
}

void keten_bank_release(keten_bank_result *r)
{
	if (!r)
		return;
	free(r->lines);
	memset(r, 0, sizeof *r);
}

/* Findings ------------------------------------------------------------------ */

/* The finding kind of a bank line's status; NULL for a matched line. */
static const char *line_kind(keten_bank_status st)
{
	switch (st) {
	case KETEN_BANK_ONLY: return "bank-only";
	case KETEN_LEDGER_ONLY: return "ledger-only";
	case KETEN_BANK_AMOUNT_DIFFERS: return "bank-amount-differs";
	case KETEN_BANK_DUPLICATE: return "bank-duplicate";
	default: return NULL;
	}
}

/* The finding of one line that is not matched: the amount at stake, the
 * payment as evidence (a bank-only line has none) and what the line says. */
static int line_finding(keten_recon_finding *f, const keten_bank_line *l)
{
	char bd[11], ld[11];

	f->amount_cents = l->status == KETEN_LEDGER_ONLY ? l->ledger_cents
		: l->status == KETEN_BANK_AMOUNT_DIFFERS ? l->bank_cents - l->ledger_cents
							 : l->bank_cents;
	memcpy(f->payer, l->payer, 32);
	memcpy(f->payee, l->payee, 32);
	if (l->has_payment) {
		if (!(f->ids = malloc(32)))
			return KETEN_ENOMEM;
		memcpy(f->ids[0], l->payment, 32);
		f->n_ids = 1;
	}
	keten_format_date(bd, sizeof bd, l->bank_date);
	keten_format_date(ld, sizeof ld, l->ledger_date);
	if (l->status == KETEN_LEDGER_ONLY)
		snprintf(f->detail, sizeof f->detail, "payment of %lld cents on %s (ref '%s') is not on the statement",
		         (long long)l->ledger_cents, ld, l->ledger_ref);
	else if (l->status == KETEN_BANK_AMOUNT_DIFFERS)
		snprintf(f->detail, sizeof f->detail,
		         "statement line %zu: %lld cents on %s, ref '%s'; the payment says %lld", l->file_line,
		         (long long)l->bank_cents, bd, l->bank_ref, (long long)l->ledger_cents);
	else
		snprintf(f->detail, sizeof f->detail, "statement line %zu: %lld cents on %s, ref '%s'%s", l->file_line,
		         (long long)l->bank_cents, bd, l->bank_ref,
		         l->status == KETEN_BANK_DUPLICATE ? "; the payment is already matched to another line" : "");
	return 0;
}

static keten_recon_finding *new_finding(keten_recon *r, const char *kind)
{
	keten_recon_finding *f;
	void *p = realloc(r->findings, (r->n_findings + 1) * sizeof *r->findings);
	if (!p)
		return NULL;
	r->findings = p;
	f = &r->findings[r->n_findings++];
	memset(f, 0, sizeof *f);
	f->kind = kind;
	return f;
}

int kt_recon_bank_findings(keten_recon *r, const keten_bank_result *b, keten_error *err)
{
	keten_recon_finding *f;

	for (size_t i = 0; i < b->n_lines; i++) {
		const keten_bank_line *l = &b->lines[i];
		const char *kind = line_kind(l->status);
		if (!kind)
			continue;
		if (!(f = new_finding(r, kind)) || line_finding(f, l))
			return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	if (b->has_balances && !b->balance_ok) {
		if (!(f = new_finding(r, "bank-balance-mismatch")))
			return keten_fail(err, KETEN_ENOMEM, NULL);
		f->amount_cents = b->closing_cents - b->computed_cents;
		snprintf(f->detail, sizeof f->detail, "opening %lld + bookings = %lld, closing says %lld",
		         (long long)b->opening_cents, (long long)b->computed_cents, (long long)b->closing_cents);
	}
	return 0;
}
