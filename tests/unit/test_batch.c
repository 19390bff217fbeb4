/*
 * test_batch.c — unit tests for ledger/batch.c: good CSV with ',' and ';'
 * (quoted fields holding delimiters, quotes and newlines, a byte order
 * mark, CRLF, Dutch decimals) and NDJSON are read into exact rows; bad
 * files report every bad row with its line number and return no rows;
 * quote errors, bad headers and the limits stop reading with a clear
 * message.  The files are in tests/data/batch/, relative to the repository
 * root, where tests/run.sh runs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keten.h"
#include "keten/batch.h"
#include "test_util.h"

#define DATA "tests/data/batch/"

static int parse_file(const char *name, keten_batch *b, keten_error *err)
{
	size_t len;
	uint8_t *buf = test_load(DATA, name, &len);
	int rc = keten_batch_parse(buf, len, b, err);
	free(buf);
	return rc;
}

static int parse_text(const char *s, keten_batch *b, keten_error *err)
{
	return keten_batch_parse((const uint8_t *)s, strlen(s), b, err);
}

/* Error i of b is at `line` with exactly `msg`. */
static void assert_error(const keten_batch *b, size_t i, size_t line, const char *msg)
{
	assert_true(i < b->n_errors);
	if (b->errors[i].line != line || strcmp(b->errors[i].msg, msg) != 0)
		fail_msg("error %zu: got line %zu '%s', want line %zu '%s'", i, b->errors[i].line, b->errors[i].msg,
		         line, msg);
}

/* A text that must fail with one error at `line` holding `needle`. */
static void expect_one_error(const char *text, size_t line, const char *needle)
{
	keten_batch b;
	keten_error err = {0};

	assert_int_equal(parse_text(text, &b, &err), KETEN_EMALFORMED);
	assert_int_equal(b.n_rows, 0);
	assert_null(b.rows);
	if (b.n_errors != 1 || b.errors[0].line != line || !strstr(b.errors[0].msg, needle))
		fail_msg("'%s': got %zu errors, first line %zu '%s'; want line %zu '%s'", text, b.n_errors,
		         b.n_errors ? b.errors[0].line : 0, b.n_errors ? b.errors[0].msg : "", line, needle);
	keten_batch_release(&b);
}

/* Good files ------------------------------------------------------------- */

static void test_good_comma(void **state)
{
	keten_batch b;
	keten_error err = {0};
	const keten_batch_row *r;

	(void)state;
	assert_int_equal(parse_file("good-comma.csv", &b, &err), 0);
	assert_int_equal(b.format, KETEN_BATCH_CSV);
	assert_int_equal(b.delimiter, ',');
	assert_int_equal(b.n_errors, 0);
	assert_int_equal(b.n_rows, 6);

	r = &b.rows[0];
	assert_int_equal(r->line, 2);
	assert_int_equal(r->type, KETEN_BATCH_DELIVERY);
	assert_string_equal(r->subcontract, "5b1e0c9a4d2f");
	assert_null(r->allocation);
	assert_string_equal(r->period, "2026-03");
	assert_int_equal(r->period_ym, 202603);
	assert_string_equal(r->units, "12.5");
	assert_true(r->units_hundredths == 1250);
	assert_string_equal(r->unit, "hour");
	assert_null(r->amount);
	assert_string_equal(r->note, "Begeleiding, individueel");

	r = &b.rows[1];
	assert_int_equal(r->line, 3);
	assert_string_equal(r->allocation, "a7c3e91f0b24");
	assert_true(r->units_hundredths == 300);
	assert_string_equal(r->note, "two lines:\nfirst week only");

	r = &b.rows[2];
	assert_int_equal(r->line, 5);
	assert_int_equal(r->type, KETEN_BATCH_CLAIM);
	assert_true(r->amount_cents == 123456);
	assert_string_equal(r->installment, "2026-03");
	assert_null(r->note);

	r = &b.rows[3];
	assert_int_equal(r->line, 6);
	assert_string_equal(r->installment, "upfront");
	assert_null(r->amount);

	r = &b.rows[4];
	assert_int_equal(r->line, 7);
	assert_int_equal(r->type, KETEN_BATCH_PAYMENT);
	assert_string_equal(r->claim, "c0ffee12ab34");
	assert_true(r->amount_cents == 123456);
	assert_int_equal(r->date_ymd, 20260415);
	assert_string_equal(r->reference, "KETEN-PAY-0001");

	r = &b.rows[5];
	assert_int_equal(r->line, 8);
	assert_int_equal(r->type, KETEN_BATCH_RECEIPT);
	assert_string_equal(r->payment, "d00d1e55aa01");
	assert_int_equal(r->date_ymd, 20260416);
	assert_string_equal(r->note, "said \"received\", thanks");
	assert_string_equal(keten_batch_type_name(r->type), "receipt");

	keten_batch_release(&b);
	assert_int_equal(b.n_rows, 0);
	assert_null(b.rows);
	keten_batch_release(&b);
}

static void test_good_semicolon_bom_crlf(void **state)
{
	keten_batch b;
	keten_error err = {0};
	const keten_batch_row *r;

	(void)state;
	assert_int_equal(parse_file("good-semicolon.csv", &b, &err), 0);
	assert_int_equal(b.delimiter, ';');
	assert_int_equal(b.n_rows, 3);

	r = &b.rows[0];
	assert_int_equal(r->line, 2);
	assert_int_equal(r->type, KETEN_BATCH_DELIVERY);
	assert_true(r->units_hundredths == 150); /* "1,5" */
	assert_string_equal(r->unit, "uur");
	assert_string_equal(r->note, "a; b");

	r = &b.rows[1];
	assert_int_equal(r->line, 4); /* after an empty line */
	assert_int_equal(r->type, KETEN_BATCH_PAYMENT);
	assert_true(r->amount_cents == 123456); /* "1.234,56" */
	assert_string_equal(r->claim, "c0ffee12ab34 c0ffee12ab35");
	assert_string_equal(r->reference, "KETEN;PAY");
	assert_string_equal(r->note, "regel een\nregel twee"); /* CRLF inside becomes LF */

	r = &b.rows[2];
	assert_int_equal(r->line, 6);
	assert_int_equal(r->type, KETEN_BATCH_CLAIM);
	assert_true(r->amount_cents == 9990);
	keten_batch_release(&b);
}

static void test_good_ndjson(void **state)
{
	keten_batch b;
	keten_error err = {0};
	const keten_batch_row *r;

	(void)state;
	assert_int_equal(parse_file("good.ndjson", &b, &err), 0);
	assert_int_equal(b.format, KETEN_BATCH_NDJSON);
	assert_int_equal(b.delimiter, 0);
	assert_int_equal(b.n_rows, 5);

	r = &b.rows[0];
	assert_int_equal(r->line, 1);
	assert_int_equal(r->type, KETEN_BATCH_DELIVERY);
	assert_string_equal(r->units, "2.25"); /* a JSON real, exactly */
	assert_true(r->units_hundredths == 225);
	assert_string_equal(r->note, "Zo\xc3\xab's groep");

	r = &b.rows[1];
	assert_int_equal(r->line, 3);
	assert_string_equal(r->installment, "final");
	assert_string_equal(r->deliveries, "e1e1e1e1e1 e2e2e2e2e2");

	r = &b.rows[2];
	assert_int_equal(r->line, 4);
	assert_true(r->amount_cents == 123456);
	assert_null(r->reference); /* null is absent */

	r = &b.rows[3];
	assert_string_equal(r->amount, "100"); /* a JSON integer */
	assert_true(r->amount_cents == 10000);
	assert_int_equal(r->date_ymd, 20260202);

	r = &b.rows[4];
	assert_int_equal(r->line, 6);
	assert_int_equal(r->type, KETEN_BATCH_RECEIPT);
	keten_batch_release(&b);
}

/* Bad rows -------------------------------------------------------------- */

static void test_bad_rows_csv(void **state)
{
	keten_batch b;
	keten_error err = {0};

	(void)state;
	assert_int_equal(parse_file("bad-rows.csv", &b, &err), KETEN_EMALFORMED);
	assert_int_equal(b.n_rows, 0);
	assert_null(b.rows);
	assert_int_equal(b.n_errors, 7);
	assert_error(&b, 0, 2,
	             "bad units '1.234' (like 1.5 or 1,5: at most two decimals, not negative); "
	             "bad period '2026-13' (YYYY-MM)");
	assert_error(&b, 1, 3, "unknown type 'transfer' (delivery, claim, payment or receipt)");
	assert_error(&b, 2, 4, "a claim needs amount or installment; give subcontract or allocation, not both");
	assert_error(&b, 3, 6,
	             "bad amount '-5' (like 1234.56 or 1234,56: at most two decimals, not negative); "
	             "bad date '2026-02-30' (YYYY-MM-DD)");
	assert_error(&b, 4, 8,
	             "a receipt needs payment; note holds a number that passes the BSN 11-test; "
	             "keten never stores a BSN");
	assert_error(&b, 5, 9,
	             "bad amount '12.345' (like 1234.56 or 1234,56: at most two decimals, not negative); "
	             "bad installment 'later' (upfront, final, units or YYYY-MM)");
	assert_error(&b, 6, 11, "the row has 6 fields, the header 12");
	assert_string_equal(err.msg,
	                    "batch refused: 7 bad rows; first: line 2: bad units '1.234' (like 1.5 or "
	                    "1,5: at most two decimals, not negative); bad period '2026-13' (YYYY-MM)");
	/* the BSN is never repeated */
	for (size_t i = 0; i < b.n_errors; i++)
		assert_null(strstr(b.errors[i].msg, "111222333"));
	keten_batch_release(&b);
	assert_int_equal(b.n_errors, 0);
	assert_null(b.errors);
}

static void test_bad_rows_ndjson(void **state)
{
	keten_batch b;
	keten_error err = {0};

	(void)state;
	assert_int_equal(parse_file("bad-rows.ndjson", &b, &err), KETEN_EMALFORMED);
	assert_int_equal(b.n_rows, 0);
	assert_int_equal(b.n_errors, 6);
	assert_error(&b, 0, 1, "bad units '1.234' (like 1.5 or 1,5: at most two decimals, not negative)");
	assert_int_equal(b.errors[1].line, 3);
	assert_non_null(strstr(b.errors[1].msg, "not JSON: "));
	assert_error(&b, 2, 4, "not a JSON object");
	assert_error(&b, 3, 5, "unknown key 'colour'");
	assert_error(&b, 4, 6, "payment must be a string or a number; a receipt needs payment");
	assert_error(&b, 5, 7, "missing type (delivery, claim, payment or receipt)");
	keten_batch_release(&b);
}

static void test_quote_errors(void **state)
{
	keten_batch b;
	keten_error err = {0};

	(void)state;
	assert_int_equal(parse_file("bad-quote.csv", &b, &err), KETEN_EMALFORMED);
	assert_int_equal(b.n_errors, 1);
	assert_error(&b, 0, 2,
	             "CSV quoting is broken: a quote inside an unquoted field, "
	             "or text after a closing quote");
	keten_batch_release(&b);

	assert_int_equal(parse_file("bad-unclosed.csv", &b, &err), KETEN_EMALFORMED);
	assert_int_equal(b.n_errors, 1);
	assert_error(&b, 0, 2, "a quoted field that starts here is never closed");
	keten_batch_release(&b);

	/* bad rows before the quote error are all kept, the stop comes last */
	assert_int_equal(parse_text("type,amount\nfoo,1\nclaim,1\npayment,\"1\"x\n", &b, &err), KETEN_EMALFORMED);
	assert_int_equal(b.n_errors, 3);
	assert_int_equal(b.errors[0].line, 2);
	assert_int_equal(b.errors[1].line, 3);
	assert_int_equal(b.errors[2].line, 4);
	assert_non_null(strstr(b.errors[2].msg, "CSV quoting is broken"));
	keten_batch_release(&b);
}

static void test_headers_and_shapes(void **state)
{
	(void)state;
	expect_one_error("type,amout\nclaim,1\n", 1, "unknown column 'amout'");
	expect_one_error("type,amount,Amount\nclaim,1,2\n", 1, "column 'amount' appears twice");
	expect_one_error("amount,date\n1,2026-01-01\n", 1, "the header has no 'type' column");
	expect_one_error("type,amount;date\n", 1, "cannot tell the delimiter");
	expect_one_error("", 0, "the batch is empty");
	expect_one_error(" \r\n\n", 0, "the batch is empty");
	expect_one_error("type,amount\n", 0, "the batch holds no rows");
	expect_one_error("type,amount\n,\n", 0, "the batch holds no rows");
	expect_one_error("type,,amount\nclaim,x,1\n", 2, "a value in column 2, which has no name");
	expect_one_error("type,note\nreceipt,\"x\xff\"\n", 2, "note is not clean UTF-8 text");
	expect_one_error("type,note\nreceipt,\"a\x01\"\n", 2, "note is not clean UTF-8 text");
	expect_one_error("type,payment\nreceipt,111222333\n", 2, "payment holds a number that passes the BSN");
	expect_one_error("type,payment\nreceipt,1112 22 333\n", 2, "payment holds a number that passes the BSN");
	expect_one_error("{\"type\":\"receipt\",\"payment\":\"ab\",\"payment\":\"cd\"}\n", 1, "not JSON");
	expect_one_error("{\"type\":\"claim\",\"allocation\":\"ab\",\"amount\":12.345}\n", 1, "bad amount '12.345'");
	expect_one_error("{\"type\":\"claim\",\"allocation\":\"ab\",\"amount\":\"12.34\",\"installment\":[1]}\n", 1,
	                 "installment must be a string or a number");
	expect_one_error("\n\n{\"type\":\"receipt\",\"payment\":\"p\",\"note\":\"\\u0000\"}\n", 3, "not JSON");
	expect_one_error("{\"type\":\"DELIVERY\",\"subcontract\":\"s\",\"period\":\"2026-1\",\"units\":\"1\","
	                 "\"unit\":\"uur\"}",
	                 1, "bad period '2026-1'");
}

static void test_good_edges(void **state)
{
	keten_batch b;
	keten_error err = {0};
	char id[65];
	char text[256];

	(void)state;
	/* a lone type column; case-insensitive names and types; no final newline */
	assert_int_equal(parse_text("\xef\xbb\xbf\n\nTYPE , Payment\n Receipt , p1 ", &b, &err), 0);
	assert_int_equal(b.n_rows, 1);
	assert_int_equal(b.rows[0].line, 4);
	assert_int_equal(b.rows[0].type, KETEN_BATCH_RECEIPT);
	assert_string_equal(b.rows[0].payment, "p1");
	keten_batch_release(&b);

	/* a 64-digit id with a nine-digit run that passes the 11-test is an id, not a BSN */
	memset(id, 'a', 64);
	memcpy(id + 10, "111222333", 9);
	id[64] = '\0';
	snprintf(text, sizeof text, "type,payment\nreceipt,%s\n", id);
	assert_int_equal(parse_text(text, &b, &err), 0);
	assert_string_equal(b.rows[0].payment, id);
	keten_batch_release(&b);

	/* a row spanning lines is numbered by its first line; the next by its own */
	assert_int_equal(parse_text("type,payment,note\nreceipt,p1,\"a\n\nb\"\nreceipt,p2,\n", &b, &err), 0);
	assert_int_equal(b.n_rows, 2);
	assert_int_equal(b.rows[0].line, 2);
	assert_string_equal(b.rows[0].note, "a\n\nb");
	assert_int_equal(b.rows[1].line, 5);
	keten_batch_release(&b);
}

static void test_arguments_and_limits(void **state)
{
	keten_batch b;
	keten_error err = {0};
	char *big;
	size_t n;

	(void)state;
	assert_int_equal(keten_batch_parse(NULL, 3, &b, &err), KETEN_EINVAL);
	assert_int_equal(keten_batch_parse((const uint8_t *)"x", 1, NULL, &err), KETEN_EINVAL);
	keten_batch_release(NULL);
	assert_null(keten_batch_type_name(KETEN_BATCH_NONE));
	assert_null(keten_batch_type_name((keten_batch_type)9));

	/* one field over the limit */
	n = KETEN_BATCH_MAX_FIELD + 32;
	big = malloc(n + 1);
	assert_non_null(big);
	memcpy(big, "type,note\nreceipt,", 18);
	memset(big + 18, 'x', n - 18);
	big[n] = '\0';
	expect_one_error(big, 2, "note is longer than 4096 bytes");
	free(big);

	/* too many rows */
	n = 13 + (size_t)(KETEN_BATCH_MAX_ROWS + 1) * 12;
	big = malloc(n + 1);
	assert_non_null(big);
	memcpy(big, "type,payment\n", 13);
	for (size_t i = 0; i <= KETEN_BATCH_MAX_ROWS; i++)
		memcpy(big + 13 + i * 12, "receipt,p12\n", 12);
	big[n] = '\0';
	assert_int_equal(keten_batch_parse((const uint8_t *)big, n, &b, &err), KETEN_EMALFORMED);
	assert_int_equal(b.n_errors, 1);
	assert_int_equal(b.n_rows, 0);
	assert_int_equal(b.errors[0].line, KETEN_BATCH_MAX_ROWS + 2);
	assert_non_null(strstr(b.errors[0].msg, "more than 200000 rows"));
	keten_batch_release(&b);
	free(big);

	/* too many bytes: refused before reading */
	big = malloc(KETEN_BATCH_MAX_BYTES + 1u);
	assert_non_null(big);
	memset(big, ' ', KETEN_BATCH_MAX_BYTES + 1u);
	assert_int_equal(keten_batch_parse((const uint8_t *)big, KETEN_BATCH_MAX_BYTES + 1u, &b, &err),
	                 KETEN_EMALFORMED);
	assert_non_null(strstr(err.msg, "larger than the limit"));
	keten_batch_release(&b);
	free(big);

	/* a line longer than the limit, in CSV and in NDJSON, by its number */
	big = malloc(KETEN_BATCH_MAX_LINE + 200u);
	assert_non_null(big);
	{
		size_t k = (size_t)sprintf(big, "type,note\ndelivery,");
		size_t fill = KETEN_BATCH_MAX_LINE - strlen("delivery,") + 1;
		memset(big + k, 'a', fill);
		strcpy(big + k + fill, "\n");
		expect_one_error(big, 2, "line 2 is longer than the limit of 65536 bytes");
		k = (size_t)sprintf(big, "\n{\"note\":\"");
		fill = KETEN_BATCH_MAX_LINE - strlen("{\"note\":\"\"}") + 1;
		memset(big + k, 'a', fill);
		strcpy(big + k + fill, "\"}\n");
		expect_one_error(big, 2, "line 2 is longer than the limit of 65536 bytes");
		/* one byte less: the line is read (and its note refused) */
		strcpy(big + k + fill - 1, "\"}\n");
		expect_one_error(big, 2, "note is longer than");
	}
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_comma),           cmocka_unit_test(test_good_semicolon_bom_crlf),
		cmocka_unit_test(test_good_ndjson),          cmocka_unit_test(test_bad_rows_csv),
		cmocka_unit_test(test_bad_rows_ndjson),      cmocka_unit_test(test_quote_errors),
		cmocka_unit_test(test_headers_and_shapes),   cmocka_unit_test(test_good_edges),
		cmocka_unit_test(test_arguments_and_limits),
	};

	/* cmocka writes progress to stdout and the summary to stderr; line
	 * buffering keeps each summary line whole when both go to one pipe */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
