/*
 * cmd_batch.c — keten batch: many deliveries, claims, payments and
 * receipts from a CSV or NDJSON file, appended in one transaction: all or
 * none.  The file is parsed by keten_batch_parse and its rows recorded by
 * keten_batch_record, which composes each row exactly as the single
 * commands compose theirs (cli/cmd_flow.c): the same body, audience and
 * defaults for the same input.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
				  "unit, note (delivery); installment, amount, deliveries, number, date,\n"
				  "period (claim: as keten claim --number, --date, --period); claim,\n"
				  "amount, date, reference (payment); payment, amount, date (receipt).\n"
				  "Ids may be unique prefixes.  Every row is checked first and every bad row\n"
				  "reported with its line number; then all rows are appended in one\n"
				  "transaction, or none when a rule refuses one of them.  Prints one id per\n"
				  "row (--json: an array of {line, type, id}).  FILE '-' reads stdin.\n";

/* Print the problems of a batch that did not parse; the exit code. */
static int parse_failed(const char *path, const keten_batch *bt, const keten_error *err)
{
	for (size_t i = 0; i < bt->n_errors; i++) {
		if (bt->errors[i].line)
			fprintf(stderr, "keten batch: %s:%zu: %s\n", path, bt->errors[i].line, bt->errors[i].msg);
		else
			fprintf(stderr, "keten batch: %s: %s\n", path, bt->errors[i].msg);
	}
	if (!bt->n_errors)
		fprintf(stderr, "keten batch: %s: %s\n", path, err->msg);
	fprintf(stderr, "keten: nothing appended: %zu bad row%s\n", bt->n_errors, bt->n_errors == 1 ? "" : "s");
	return cli_exit_code(err->code ? err->code : KETEN_EMALFORMED);
}

/* Print why the rows were not recorded; the exit code. */
static int record_failed(const char *path, const keten_batch *bt, const keten_error *err)
{
	int rc;

	if (err->code == KETEN_EMALFORMED && bt->n_errors) {
		/* rows that cannot be composed: every one with its line */
		for (size_t i = 0; i < bt->n_errors; i++)
			fprintf(stderr, "keten batch: %s:%zu: %s\n", path, bt->errors[i].line, bt->errors[i].msg);
		fprintf(stderr, "keten: nothing appended: %zu bad row%s of %zu\n", bt->n_errors,
		        bt->n_errors == 1 ? "" : "s", bt->n_rows);
		return EX_DATAERR_;
	}
	if (err->code == KETEN_ESTORE || err->code == KETEN_EIO || err->code == KETEN_ENOMEM) {
		/* the store could not take the rows: no row was refused */
		rc = cli_error(err);
		fprintf(stderr, "keten: nothing appended: none of the %zu rows was stored\n", bt->n_rows);
		return rc;
	}
	if (err->item >= 1 && err->item <= bt->n_rows) {
		/* the append path names the entry that failed: its row's line */
		size_t line = bt->rows[err->item - 1].line;
		if (err->code == KETEN_ERULE && err->rule[0])
			fprintf(stderr, "keten batch: %s:%zu: refused by rule '%s': %s\n", path, line, err->rule,
			        err->msg);
		else
			fprintf(stderr, "keten batch: %s:%zu: %s\n", path, line,
			        err->msg[0] ? err->msg : keten_strerror(err->code));
		fprintf(stderr,
		        "keten: nothing appended: the row on line %zu of %zu rows was refused (all rows or "
		        "none)\n",
		        line, bt->n_rows);
		return cli_exit_code(err->code);
	}
	rc = cli_error(err);
	fprintf(stderr,
	        "keten: nothing appended: one of the %zu rows was refused (the rows are appended in file "
	        "order; the first refused one stops the batch)\n",
	        bt->n_rows);
	return rc;
}

static void print_rows(const cli *c, const keten_batch *bt, const keten_recorded *rec)
{
	json_t *arr = c->json ? json_array() : NULL;
	for (size_t i = 0; i < bt->n_rows; i++) {
		char hex[65];
		keten_hex(hex, rec[i].id, 32);
		if (!arr) {
			puts(hex);
			continue;
		}
		json_t *j = json_object();
		json_object_set_new(j, "line", json_integer((json_int_t)bt->rows[i].line));
		json_object_set_new(j, "type", json_string(keten_batch_type_name(bt->rows[i].type)));
		json_object_set_new(j, "id", json_string(hex));
		if (rec[i].amount_cents >= 0)
			json_object_set_new(j, "amount_cents", json_integer(rec[i].amount_cents));
		json_array_append_new(arr, j);
	}
	if (arr)
		cli_print_json(arr);
}

int cmd_batch(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"help", 0, 0, 'h'}, {0}};
	keten_batch bt = {0};
	keten_error err = {0};
	keten_recorded *rec = NULL;
	uint8_t *buf = NULL;
	size_t len;
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
		rc = parse_failed(argv[optind], &bt, &err);
		keten_batch_release(&bt);
		return rc;
	}
	if ((rc = cli_open(c, true)))
		goto out;
	if (!(rec = calloc(bt.n_rows ? bt.n_rows : 1, sizeof *rec))) {
		rc = EX_SOFTWARE_;
		goto out;
	}
	if (keten_batch_record(c->L, &bt, rec, &err)) {
		rc = record_failed(argv[optind], &bt, &err);
		goto out;
	}
	print_rows(c, &bt, rec);
	rc = 0;
out:
	free(rec);
	keten_batch_release(&bt);
	return rc;
}
