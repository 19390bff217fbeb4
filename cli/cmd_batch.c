/*
 * cmd_batch.c — keten batch: many deliveries, claims, payments and
 * receipts from a CSV or NDJSON file, appended in one transaction: all or
 * none.  batch builds each body exactly as the single commands do
 * (cli/cmd_flow.c), with the same audience: this home plus the payer,
 * payee and municipality of the agreement concerned.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rules/terms.h"
#include "keten/batch.h"
#include "keten/json.h"

/* batch --------------------------------------------------------------------------------- */

static const char batch_usage[] = "usage: keten batch FILE\n"
				  "\n"
				  "Append many deliveries, claims, payments and receipts at once, from CSV\n"
				  "(a header row; ',' or ';') or NDJSON (one object per line), as a\n"
				  "provider's own administration exports them.  Every row has a 'type'\n"
				  "(delivery, claim, payment, receipt); the other columns are named after the\n"
				  "flags of the matching command: subcontract or allocation, period, units,\n"
				  "unit, note (delivery); installment, amount, deliveries (claim); claim,\n"
				  "amount, date, reference (payment); payment, amount, date (receipt).\n"
				  "Ids may be unique prefixes.  Every row is checked first and every bad row\n"
				  "reported with its line number; then all rows are appended in one\n"
				  "transaction, or none when a rule refuses one of them.  Prints one id per\n"
				  "row (--json: an array of {line, type, id}).  FILE '-' reads stdin.\n";

struct brow {
	keten_append a;
	uint8_t *body;
	size_t len;
	uint8_t aud[KETEN_MAX_AUDIENCE][32];
	size_t n_aud;
};

static void aud_add(struct brow *b, const ProtobufCBinaryData *k)
{
	if (!k || k->len != 32 || b->n_aud >= KETEN_MAX_AUDIENCE)
		return;
	for (size_t i = 0; i < b->n_aud; i++)
		if (memcmp(b->aud[i], k->data, 32) == 0)
			return;
	memcpy(b->aud[b->n_aud++], k->data, 32);
}

/* Audience of an agreement (allocation or offer): payer, payee, municipality. */
static void aud_target(keten_txn *t, struct brow *b, const uint8_t id[32])
{
	Keten__State__AllocationState *as = NULL;
	Keten__State__OfferState *os = NULL;
	if (kt_state_get(t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, (void **)&as, NULL) == 0) {
		aud_add(b, &as->author);
		aud_add(b, &as->provider);
	} else if (kt_state_get(t, DK_OFFER, id, &keten__state__offer_state__descriptor, (void **)&os, NULL) == 0) {
		aud_add(b, &os->author);
		aud_add(b, &os->subcontractor);
		aud_add(b, &os->municipality_key);
	}
	kt_state_free(as);
	kt_state_free(os);
}

/* Resolve an id (full or unique prefix) in t; message into msg on failure. */
static int resolve(keten_txn *t, const char *what, const char *hex, uint8_t id[32], char *msg, size_t len)
{
	keten_error err = {0};
	if (strlen(hex) == 64 && keten_unhex(id, 32, hex) == 0)
		return 0;
	if (keten_store_resolve(t, hex, id, &err) == 0)
		return 0;
	snprintf(msg, len, "%s '%s': %s", what, hex, err.msg[0] ? err.msg : keten_strerror(err.code));
	return -1;
}

/* Split a list of ids separated by spaces, ',' or ';'. */
static int resolve_list(keten_txn *t, const char *what, const char *list, uint8_t (*ids)[32], size_t max, size_t *n,
                        char *msg, size_t len)
{
	char buf[KETEN_BATCH_MAX_FIELD + 1], *save, *tok;
	*n = 0;
	snprintf(buf, sizeof buf, "%s", list);
	for (tok = strtok_r(buf, " ,;", &save); tok; tok = strtok_r(NULL, " ,;", &save)) {
		if (*n == max) {
			snprintf(msg, len, "%s: more than %zu ids", what, max);
			return -1;
		}
		if (resolve(t, what, tok, ids[*n], msg, len))
			return -1;
		(*n)++;
	}
	return 0;
}

static int pack(struct brow *b, uint32_t type, const ProtobufCMessage *m)
{
	b->len = protobuf_c_message_get_packed_size(m);
	if (!(b->body = malloc(b->len ? b->len : 1)))
		return -1;
	protobuf_c_message_pack(m, b->body);
	b->a.body_type = type;
	b->a.body = b->body;
	b->a.body_len = b->len;
	return 0;
}

/* Build one row's body; a message in msg (and -1) when the row is bad. */
static int build_row(keten_txn *t, const uint8_t me[32], const keten_batch_row *row, struct brow *b, char *msg,
                     size_t len, int64_t *amount)
{
	ProtobufCBinaryData self = {32, (uint8_t *)me};
	uint8_t target[32], ids[64][32];
	ProtobufCBinaryData bins[64];
	size_t n = 0;

	*amount = -1;
	b->n_aud = 0;
	aud_add(b, &self);
	switch (row->type) {
	case KETEN_BATCH_DELIVERY: {
		Keten__Delivery d = KETEN__DELIVERY__INIT;
		const char *tg = row->subcontract ? row->subcontract : row->allocation;
		if (resolve(t, row->subcontract ? "subcontract" : "allocation", tg, target, msg, len))
			return -1;
		if (row->note && (!keten_text_ok(row->note, strlen(row->note)) || keten_text_has_bsn(row->note))) {
			snprintf(msg, len, "note is not clean text or holds a BSN");
			return -1;
		}
		aud_target(t, b, target);
		d.target.data = target;
		d.target.len = 32;
		d.period = row->period;
		d.units = row->units_hundredths;
		d.unit = row->unit;
		d.note = row->note;
		return pack(b, KETEN__BODY_TYPE__DELIVERY, &d.base);
	}
	case KETEN_BATCH_CLAIM: {
		Keten__Claim k = KETEN__CLAIM__INIT;
		const char *tg = row->subcontract ? row->subcontract : row->allocation;
		keten_error err = {0};
		if (resolve(t, row->subcontract ? "subcontract" : "allocation", tg, target, msg, len))
			return -1;
		if (row->deliveries && resolve_list(t, "deliveries", row->deliveries, ids, 64, &n, msg, len))
			return -1;
		for (size_t i = 0; i < n; i++) {
			bins[i].data = ids[i];
			bins[i].len = 32;
		}
		k.deliveries = bins;
		k.n_deliveries = n;
		k.installment = row->installment;
		if (!k.installment) {
			Keten__State__OfferState *os = NULL;
			Keten__State__AllocationState *as = NULL;
			kt_state_get(t, DK_OFFER, target, &keten__state__offer_state__descriptor, (void **)&os, NULL);
			kt_state_get(t, DK_ALLOCATION, target, &keten__state__allocation_state__descriptor,
			             (void **)&as, NULL);
			if ((os && os->pricing == KETEN__PRICING__PER_UNIT) ||
			    (as && as->kind == KETEN__KIND__COMPONENT))
				k.installment = "units";
			kt_state_free(os);
			kt_state_free(as);
			if (!k.installment) {
				snprintf(msg, len, "give an installment (upfront, final or YYYY-MM)");
				return -1;
			}
		}
		if (row->amount) {
			k.amount_cents = row->amount_cents;
		} else if (kt_expected_claim(t, target, k.installment, (const uint8_t(*)[32])ids, n, &k.amount_cents,
		                             &err)) {
			snprintf(msg, len, "cannot compute the amount: %s; give an amount", err.msg);
			return -1;
		}
		*amount = k.amount_cents;
		aud_target(t, b, target);
		k.target.data = target;
		k.target.len = 32;
		return pack(b, KETEN__BODY_TYPE__CLAIM, &k.base);
	}
	case KETEN_BATCH_PAYMENT: {
		Keten__Payment p = KETEN__PAYMENT__INIT;
		if (resolve_list(t, "claim", row->claim, ids, 64, &n, msg, len))
			return -1;
		if (!n) {
			snprintf(msg, len, "a payment names a claim");
			return -1;
		}
		if (row->reference &&
		    (!keten_text_ok(row->reference, strlen(row->reference)) || keten_text_has_bsn(row->reference))) {
			snprintf(msg, len, "reference is not clean text or holds a BSN");
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			Keten__State__ClaimState *ks = NULL;
			Keten__State__ClawbackState *cb = NULL;
			bins[i].data = ids[i];
			bins[i].len = 32;
			if (kt_state_get(t, DK_CLAIM, ids[i], &keten__state__claim_state__descriptor, (void **)&ks,
			                 NULL) == 0) {
				aud_add(b, &ks->author);
				aud_add(b, &ks->municipality_key);
			} else if (kt_state_get(t, DK_CLAWBACK, ids[i], &keten__state__clawback_state__descriptor,
			                        (void **)&cb, NULL) == 0) {
				aud_add(b, &cb->author);
				for (size_t j = 0; j < cb->n_debts; j++)
					if (cb->debts[j]->debtor.len == 32 &&
					    memcmp(cb->debts[j]->debtor.data, me, 32) == 0)
						aud_add(b, &cb->debts[j]->creditor);
			}
			kt_state_free(ks);
			kt_state_free(cb);
		}
		p.claims = bins;
		p.n_claims = n;
		p.amount_cents = row->amount_cents;
		p.date = row->date_ymd;
		p.reference = row->reference;
		*amount = p.amount_cents;
		return pack(b, KETEN__BODY_TYPE__PAYMENT, &p.base);
	}
	case KETEN_BATCH_RECEIPT: {
		Keten__Receipt r = KETEN__RECEIPT__INIT;
		Keten__State__PaymentState *ps = NULL;
		if (resolve(t, "payment", row->payment, target, msg, len))
			return -1;
		if (kt_state_get(t, DK_PAYMENT, target, &keten__state__payment_state__descriptor, (void **)&ps, NULL) ==
		    0) {
			aud_add(b, &ps->author);
			aud_add(b, &ps->municipality_key);
			r.amount_cents = row->amount ? row->amount_cents : ps->amount_cents;
			kt_state_free(ps);
		} else if (row->amount) {
			r.amount_cents = row->amount_cents;
		} else {
			snprintf(msg, len, "payment '%s' is not held here: give an amount", row->payment);
			return -1;
		}
		r.received = true;
		if (row->date) {
			r.has_date = 1;
			r.date = row->date_ymd;
		}
		r.payment.data = target;
		r.payment.len = 32;
		*amount = r.amount_cents;
		return pack(b, KETEN__BODY_TYPE__RECEIPT, &r.base);
	}
	default: snprintf(msg, len, "unknown row type"); return -1;
	}
}

int cmd_batch(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"help", 0, 0, 'h'}, {0}};
	keten_batch bt = {0};
	keten_error err = {0};
	keten_txn *t = NULL;
	struct brow *rows = NULL;
	keten_append *app = NULL;
	uint8_t(*ids)[32] = NULL;
	int64_t *amounts = NULL;
	uint8_t *buf = NULL, me[32];
	size_t len, bad = 0;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'h')
			return cli_help(batch_usage);
		return cli_usage_error("batch", "unknown option");
	}
	if (optind != argc - 1)
		return cli_usage_error("batch", "takes one FILE");
	if ((rc = cli_read_file(argv[optind], KETEN_BATCH_MAX_BYTES, &buf, &len)))
		return rc;
	rc = keten_batch_parse(buf, len, &bt, &err);
	free(buf);
	if (rc) {
		for (size_t i = 0; i < bt.n_errors; i++) {
			if (bt.errors[i].line)
				fprintf(stderr, "keten batch: %s:%zu: %s\n", argv[optind], bt.errors[i].line,
				        bt.errors[i].msg);
			else
				fprintf(stderr, "keten batch: %s: %s\n", argv[optind], bt.errors[i].msg);
		}
		if (!bt.n_errors)
			fprintf(stderr, "keten batch: %s: %s\n", argv[optind], err.msg);
		fprintf(stderr, "keten: nothing appended: %zu bad row%s\n", bt.n_errors, bt.n_errors == 1 ? "" : "s");
		keten_batch_release(&bt);
		return cli_exit_code(err.code ? err.code : KETEN_EMALFORMED);
	}
	if ((rc = cli_open(c, true)))
		goto out;
	memcpy(me, keten_ledger_info(c->L)->key, 32);
	rows = calloc(bt.n_rows ? bt.n_rows : 1, sizeof *rows);
	app = calloc(bt.n_rows ? bt.n_rows : 1, sizeof *app);
	ids = calloc(bt.n_rows ? bt.n_rows : 1, sizeof *ids);
	amounts = calloc(bt.n_rows ? bt.n_rows : 1, sizeof *amounts);
	if (!rows || !app || !ids || !amounts) {
		rc = EX_SOFTWARE_;
		goto out;
	}
	if (keten_store_read(keten_ledger_store(c->L), &t, &err)) {
		rc = cli_error(&err);
		goto out;
	}
	for (size_t i = 0; i < bt.n_rows; i++) {
		char msg[300];
		if (build_row(t, me, &bt.rows[i], &rows[i], msg, sizeof msg, &amounts[i])) {
			fprintf(stderr, "keten batch: %s:%zu: %s\n", argv[optind], bt.rows[i].line, msg);
			bad++;
			continue;
		}
		rows[i].a.audience = (const uint8_t(*)[32])rows[i].aud;
		rows[i].a.n_audience = rows[i].n_aud;
		app[i] = rows[i].a;
	}
	keten_txn_end(t);
	t = NULL;
	if (bad) {
		fprintf(stderr, "keten: nothing appended: %zu bad row%s of %zu\n", bad, bad == 1 ? "" : "s", bt.n_rows);
		rc = EX_DATAERR_;
		goto out;
	}
	if (keten_ledger_append(c->L, app, bt.n_rows, ids, &err)) {
		if (err.item >= 1 && err.item <= bt.n_rows) {
			/* the append path names the entry that failed: its row's line */
			size_t line = bt.rows[err.item - 1].line;
			if (err.code == KETEN_ERULE && err.rule[0])
				fprintf(stderr, "keten batch: %s:%zu: refused by rule '%s': %s\n", argv[optind], line,
				        err.rule, err.msg);
			else
				fprintf(stderr, "keten batch: %s:%zu: %s\n", argv[optind], line,
				        err.msg[0] ? err.msg : keten_strerror(err.code));
			rc = cli_exit_code(err.code);
			fprintf(stderr,
			        "keten: nothing appended: the row on line %zu of %zu rows was refused (all rows or "
			        "none)\n",
			        line, bt.n_rows);
		} else {
			rc = cli_error(&err);
			fprintf(stderr,
			        "keten: nothing appended: one of the %zu rows was refused (the rows are appended in file "
			        "order; the first refused one stops the batch)\n",
			        bt.n_rows);
		}
		goto out;
	}
	if (c->json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < bt.n_rows; i++) {
			json_t *j = json_object();
			char hex[65];
			keten_hex(hex, ids[i], 32);
			json_object_set_new(j, "line", json_integer((json_int_t)bt.rows[i].line));
			json_object_set_new(j, "type", json_string(keten_batch_type_name(bt.rows[i].type)));
			json_object_set_new(j, "id", json_string(hex));
			if (amounts[i] >= 0)
				json_object_set_new(j, "amount_cents", json_integer(amounts[i]));
			json_array_append_new(arr, j);
		}
		cli_print_json(arr);
	} else {
		for (size_t i = 0; i < bt.n_rows; i++) {
			char hex[65];
			keten_hex(hex, ids[i], 32);
			puts(hex);
		}
	}
	rc = 0;
out:
	keten_txn_end(t);
	for (size_t i = 0; rows && i < bt.n_rows; i++)
		free(rows[i].body);
	free(rows);
	free(app);
	free(ids);
	free(amounts);
	keten_batch_release(&bt);
	return rc;
}
