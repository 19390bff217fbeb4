/*
 * batch.c — the rows of a batch file (formats/batch.c parses them) as
 * drafts: each row's ids are resolved with keten_ref_resolve, as the
 * single commands resolve theirs, and the draft is composed by the same
 * functions as a single command's, in one composer context, so that a row
 * sees the rows before it.  A row that cannot be composed gets one
 * message, as `keten batch` prints it after "FILE:LINE: "; the rows are
 * appended only when every row composes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "base/base.h"

#define MAX_IDS 64 /* ids one row may list (deliveries, claims) */

/* One row as a draft, with the ids it refers to. */
struct row_draft {
	keten_draft d;
	uint8_t ids[MAX_IDS][32];
	size_t n_ids;
};

static int row_fail(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int row_fail(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Resolve an id (full or unique prefix); a message on failure. */
static int resolve(keten_txn *t, const char *what, const char *hex, uint8_t id[32], char *msg, size_t len)
{
	keten_error err = {0};
	if (keten_ref_resolve(t, hex, id, &err) == KETEN_OK)
		return 0;
	return row_fail(msg, len, "%s '%s': %s", what, hex, err.msg[0] ? err.msg : keten_strerror(err.code));
}

/* A list of ids separated by spaces, ',' or ';'. */
static int resolve_list(keten_txn *t, const char *what, const char *list, struct row_draft *r, char *msg, size_t len)
{
	char buf[KETEN_BATCH_MAX_FIELD + 1], *save, *tok;
	r->n_ids = 0;
	snprintf(buf, sizeof buf, "%s", list);
	for (tok = strtok_r(buf, " ,;", &save); tok; tok = strtok_r(NULL, " ,;", &save)) {
		if (r->n_ids == MAX_IDS)
			return row_fail(msg, len, "%s: more than %d ids", what, MAX_IDS);
		if (resolve(t, what, tok, r->ids[r->n_ids], msg, len))
			return -1;
		r->n_ids++;
	}
	return 0;
}

static bool clean(const char *s)
{
	return !s || (keten_text_ok(s, strlen(s)) && !keten_text_has_bsn(s));
}

static int delivery_row(keten_txn *t, const keten_batch_row *row, struct row_draft *r, char *msg, size_t len)
{
	keten_draft_delivery *d = &r->d.delivery;
	r->d.kind = KETEN_DRAFT_DELIVERY;
	if (resolve(t, row->subcontract ? "subcontract" : "allocation",
	            row->subcontract ? row->subcontract : row->allocation, d->target, msg, len))
		return -1;
	if (!clean(row->note))
		return row_fail(msg, len, "note is not clean text or holds a BSN");
	d->period = row->period;
	d->units = row->units_hundredths;
	d->unit = row->unit;
	d->note = row->note;
	return 0;
}

static int claim_row(keten_txn *t, const keten_batch_row *row, struct row_draft *r, char *msg, size_t len)
{
	keten_draft_claim *d = &r->d.claim;
	r->d.kind = KETEN_DRAFT_CLAIM;
	if (resolve(t, row->subcontract ? "subcontract" : "allocation",
	            row->subcontract ? row->subcontract : row->allocation, d->target, msg, len))
		return -1;
	if (row->deliveries && resolve_list(t, "deliveries", row->deliveries, r, msg, len))
		return -1;
	d->deliveries = (const uint8_t(*)[32])r->ids;
	d->n_deliveries = r->n_ids;
	d->installment = row->installment;
	d->has_amount = row->amount != NULL;
	d->amount_cents = row->amount_cents;
	/* number, date and period as `keten claim` --number, --date, --period */
	d->number = row->number;
	d->date = row->date ? row->date_ymd : 0;
	d->period_from = row->period ? row->period_from : 0;
	d->period_until = row->period ? row->period_until : 0;
	return 0;
}

static int payment_row(keten_txn *t, const keten_batch_row *row, struct row_draft *r, char *msg, size_t len)
{
	keten_draft_payment *d = &r->d.payment;
	r->d.kind = KETEN_DRAFT_PAYMENT;
	if (resolve_list(t, "claim", row->claim ? row->claim : "", r, msg, len))
		return -1;
	if (!r->n_ids)
		return row_fail(msg, len, "a payment names a claim");
	if (!clean(row->reference))
		return row_fail(msg, len, "reference is not clean text or holds a BSN");
	d->claims = (const uint8_t(*)[32])r->ids;
	d->n_claims = r->n_ids;
	d->amount_cents = row->amount_cents;
	d->date = row->date_ymd;
	d->reference = row->reference;
	return 0;
}

static int receipt_row(keten_txn *t, const keten_batch_row *row, struct row_draft *r, char *msg, size_t len)
{
	keten_draft_receipt *d = &r->d.receipt;
	r->d.kind = KETEN_DRAFT_RECEIPT;
	if (resolve(t, "payment", row->payment ? row->payment : "", d->payment, msg, len))
		return -1;
	d->has_amount = row->amount != NULL;
	d->amount_cents = row->amount_cents;
	d->date = row->date ? row->date_ymd : 0;
	return 0;
}

/* Compose one row into c; a message (and -1) when it cannot be composed. */
static int compose_row(kt_compose *x, const keten_batch_row *row, keten_composed *c, char *msg, size_t len)
{
	struct row_draft r;
	keten_draft_need need = KETEN_NEED_NONE;
	keten_error err = {0};
	int rc;

	memset(&r, 0, sizeof r);
	switch (row->type) {
	case KETEN_BATCH_DELIVERY: rc = delivery_row(x->t, row, &r, msg, len); break;
	case KETEN_BATCH_CLAIM: rc = claim_row(x->t, row, &r, msg, len); break;
	case KETEN_BATCH_PAYMENT: rc = payment_row(x->t, row, &r, msg, len); break;
	case KETEN_BATCH_RECEIPT: rc = receipt_row(x->t, row, &r, msg, len); break;
	default: return row_fail(msg, len, "unknown row type");
	}
	if (rc)
		return -1;
	if (kt_compose_one(x, &r.d, c, &need, &err) == KETEN_OK)
		return 0;
	if (need == KETEN_NEED_INSTALLMENT)
		return row_fail(msg, len, "give an installment (upfront, final or YYYY-MM)");
	if (need == KETEN_NEED_AMOUNT && row->type == KETEN_BATCH_RECEIPT)
		return row_fail(msg, len, "payment '%s' is not held here: give an amount", row->payment);
	if (need == KETEN_NEED_AMOUNT)
		return row_fail(msg, len, "cannot compute the amount: %s; give an amount", err.msg);
	return row_fail(msg, len, "%s", err.msg[0] ? err.msg : keten_strerror(err.code));
}

/* Add a row error to b (the batch owns the message). */
static int add_error(keten_batch *b, size_t line, const char *msg)
{
	keten_batch_error *e = realloc(b->errors, (b->n_errors + 1) * sizeof *e);
	if (!e)
		return -1;
	b->errors = e;
	e[b->n_errors].line = line;
	if (!(e[b->n_errors].msg = strdup(msg)))
		return -1;
	b->n_errors++;
	return 0;
}

/* Compose every row in one read transaction; row errors into b. */
static int compose_rows(keten_ledger *L, keten_batch *b, keten_composed *entries, keten_error *err)
{
	keten_txn *t;
	kt_compose x;
	int rc;

	if ((rc = keten_store_read(keten_ledger_store(L), &t, err)))
		return rc;
	kt_compose_begin(&x, t, keten_ledger_info(L));
	for (size_t i = 0; i < b->n_rows && rc == KETEN_OK; i++) {
		char msg[300];
		if (compose_row(&x, &b->rows[i], &entries[i], msg, sizeof msg) == 0)
			continue;
		if (add_error(b, b->rows[i].line, msg))
			rc = keten_fail(err, KETEN_ENOMEM, "out of memory composing a batch");
	}
	kt_compose_end(&x);
	keten_txn_end(t);
	if (rc == KETEN_OK && b->n_errors)
		rc = keten_fail(err, KETEN_EMALFORMED, "%zu of %zu rows cannot be composed; first: line %zu: %s",
		                b->n_errors, b->n_rows, b->errors[0].line, b->errors[0].msg);
	return rc;
}

int keten_batch_compose(keten_ledger *L, keten_batch *b, keten_composition *out, keten_error *err)
{
	keten_composed *entries;
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "no composition to fill");
	memset(out, 0, sizeof *out);
	if (!L || !b)
		return keten_fail(err, KETEN_EINVAL, "no ledger or no batch");
	if (b->n_errors)
		return keten_fail(err, KETEN_EINVAL, "the batch holds errors: it did not parse");
	if (!(entries = calloc(b->n_rows ? b->n_rows : 1, sizeof *entries)))
		return keten_fail(err, KETEN_ENOMEM, "out of memory composing a batch");
	if ((rc = compose_rows(L, b, entries, err))) {
		for (size_t i = 0; i < b->n_rows; i++)
			free(entries[i].body);
		free(entries);
		return rc;
	}
	out->n = b->n_rows;
	out->entries = entries;
	return KETEN_OK;
}

int keten_batch_record(keten_ledger *L, keten_batch *b, keten_recorded *out, keten_error *err)
{
	keten_composition c;
	int rc;

	if (out && b && b->n_rows)
		memset(out, 0, b->n_rows * sizeof *out);
	if ((rc = keten_batch_compose(L, b, &c, err)))
		return rc;
	rc = kt_compose_append(L, &c, out, err); /* err->item: the row (one entry per row) */
	keten_composition_release(&c);
	if (rc && out && b->n_rows)
		memset(out, 0, b->n_rows * sizeof *out);
	return rc;
}
