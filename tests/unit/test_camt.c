/*
 * test_camt.c — unit tests for ledger/camt.c: the camt.053 files in
 * tests/data/camt/ (two good statements, one whose balances disagree, and
 * one malformed file for each refusal) are parsed and every value is
 * checked exactly; small inline documents cover the remaining refusals
 * (DOCTYPE, no or two Stmt, bad dates, the size cap).  Then a statement
 * given to keten_reconcile: its comparison and findings are in the result
 * (and in its JSON), after the ledger's own.  Paths are relative to the
 * repository root, where tests/run.sh runs.
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
#include "keten/camt.h"
#include "keten/json.h"
#include "keten/reconcile.h"
#include "test_util.h"

#define DATA "tests/data/camt/"

static int parse_file(const char *name, keten_camt_statement *s, keten_error *err)
{
	size_t len;
	uint8_t *buf = test_load(DATA, name, &len);
	int rc = keten_camt_parse(buf, len, s, err);
	free(buf);
	return rc;
}

static int parse_text(const char *xml, keten_camt_statement *s, keten_error *err)
{
	return keten_camt_parse((const uint8_t *)xml, strlen(xml), s, err);
}

static void assert_cleared(const keten_camt_statement *s)
{
	assert_null(s->iban);
	assert_null(s->id);
	assert_null(s->entries);
	assert_int_equal(s->n_entries, 0);
	assert_false(s->has_opening);
	assert_false(s->has_closing);
}

/* A malformed file: KETEN_EMALFORMED, the statement cleared, and a message
 * holding `needle`. */
static void expect_malformed(const char *name, const char *needle)
{
	keten_camt_statement s;
	keten_error err = {0};

	assert_int_equal(parse_file(name, &s, &err), KETEN_EMALFORMED);
	assert_int_equal(err.code, KETEN_EMALFORMED);
	if (!strstr(err.msg, needle))
		fail_msg("%s: message '%s' lacks '%s'", name, err.msg, needle);
	assert_cleared(&s);
	keten_camt_release(&s);
}

/* Good files ------------------------------------------------------------- */

static void test_ok_simple(void **state)
{
	keten_camt_statement s;
	keten_error err = {0};
	const keten_camt_entry *e;
	int64_t sum = 0;

	(void)state;
	assert_int_equal(parse_file("ok-simple.xml", &s, &err), 0);
	assert_string_equal(s.ns, "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02");
	assert_string_equal(s.id, "KETEN-0001-2026-03-31");
	assert_string_equal(s.iban, "NL91ABNA0417164300");
	assert_true(s.has_opening);
	assert_true(s.opening_cents == 1000000);
	assert_int_equal(s.opening_date, 20260330);
	assert_true(s.has_closing);
	assert_true(s.closing_cents == 1290002);
	assert_int_equal(s.closing_date, 20260331);
	assert_int_equal(s.n_entries, 3);

	e = &s.entries[0];
	assert_true(e->amount_cents == 125000);
	assert_true(e->credit);
	assert_false(e->reversal);
	assert_int_equal(e->booking_date, 20260331);
	assert_int_equal(e->value_date, 20260331);
	assert_string_equal(e->status, "BOOK");
	assert_null(e->entry_ref);
	assert_string_equal(e->info, "SEPA overboeking van Gemeente Voorbeeldstad");
	assert_int_equal(e->line, 55);
	assert_int_equal(e->n_tx, 1);
	assert_string_equal(e->tx[0].end_to_end_id, "KETEN-PAY-0001");
	assert_string_equal(e->tx[0].remittance, "Jeugdhulp maart 2026 toewijzing T-0042");
	assert_null(e->tx[0].structured_ref);
	assert_string_equal(e->tx[0].counterparty_name, "Gemeente Voorbeeldstad");
	assert_string_equal(e->tx[0].counterparty_iban, "NL20INGB0001234567");
	assert_true(e->tx[0].amount_cents == 125000);

	e = &s.entries[1];
	assert_true(e->amount_cents == 34999);
	assert_false(e->credit);
	assert_string_equal(e->status, "BOOK");
	assert_null(e->info);
	assert_int_equal(e->n_tx, 1);
	assert_null(e->tx[0].end_to_end_id); /* NOTPROVIDED */
	assert_null(e->tx[0].remittance);
	assert_string_equal(e->tx[0].structured_ref, "1234567890123456");
	assert_string_equal(e->tx[0].counterparty_name, "Zorgaanbieder De Linde B.V.");
	assert_string_equal(e->tx[0].counterparty_iban, "NL02RABO0123456789");
	assert_true(e->tx[0].amount_cents == -1);

	e = &s.entries[2];
	assert_true(e->amount_cents == 200001);
	assert_true(e->credit);
	assert_string_equal(e->tx[0].end_to_end_id, "KETEN-PAY-0002");
	assert_string_equal(e->tx[0].remittance, "Onderaanneming februari 2026 factuur 2026-017");
	assert_string_equal(e->tx[0].counterparty_name, "Hoofdaannemer Jeugd Noord");
	assert_string_equal(e->tx[0].counterparty_iban, "NL39RABO0300065264");

	assert_int_equal(keten_camt_check_balance(&s, &sum, &err), 0);
	assert_true(sum == 1290002);
	keten_camt_release(&s);
	assert_cleared(&s);
	keten_camt_release(&s); /* twice is harmless */
}

static void test_ok_batch(void **state)
{
	keten_camt_statement s;
	keten_error err = {0};
	const keten_camt_entry *e;
	int64_t sum = 0;

	(void)state;
	assert_int_equal(parse_file("ok-batch.xml", &s, &err), 0);
	assert_string_equal(s.ns, "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08");
	assert_string_equal(s.id, "KETEN-0002-2026-04-15");
	assert_string_equal(s.iban, "NL39RABO0300065264");
	assert_true(s.opening_cents == -50000);
	assert_true(s.closing_cents == -350000);
	assert_int_equal(s.n_entries, 2);

	e = &s.entries[0];
	assert_true(e->amount_cents == 300000);
	assert_false(e->credit);
	assert_string_equal(e->status, "BOOK");
	assert_int_equal(e->booking_date, 20260415); /* from DtTm */
	assert_string_equal(e->entry_ref, "BATCH-77");
	assert_int_equal(e->n_tx, 3);
	assert_string_equal(e->tx[0].end_to_end_id, "KETEN-PAY-0003");
	assert_true(e->tx[0].amount_cents == 100000);
	assert_string_equal(e->tx[0].counterparty_name, "Stichting Onderaannemer Zuid");
	assert_string_equal(e->tx[0].counterparty_iban, "NL02RABO0123456789");
	assert_string_equal(e->tx[0].remittance, "Onderaanneming maart 2026");
	assert_string_equal(e->tx[1].end_to_end_id, "KETEN-PAY-0004");
	assert_true(e->tx[1].amount_cents == 150050);
	assert_string_equal(e->tx[1].counterparty_name, "Praktijk & Co");
	assert_null(e->tx[1].remittance);
	assert_null(e->tx[2].end_to_end_id);
	assert_true(e->tx[2].amount_cents == 49950);
	assert_string_equal(e->tx[2].remittance, "Restant");
	assert_null(e->tx[2].counterparty_name);
	assert_null(e->tx[2].counterparty_iban);

	e = &s.entries[1];
	assert_string_equal(e->status, "PDNG");
	assert_true(e->credit);
	assert_int_equal(e->booking_date, 0);
	assert_int_equal(e->n_tx, 0);
	assert_null(e->tx);

	/* the pending credit does not count */
	assert_int_equal(keten_camt_check_balance(&s, &sum, &err), 0);
	assert_true(sum == -350000);
	keten_camt_release(&s);
}

static void test_bad_balance(void **state)
{
	keten_camt_statement s;
	keten_error err = {0};
	int64_t sum = 0;

	(void)state;
	assert_int_equal(parse_file("bad-balance.xml", &s, &err), 0);
	assert_true(s.closing_cents == 1290020);
	assert_int_equal(keten_camt_check_balance(&s, &sum, &err), KETEN_EMALFORMED);
	assert_true(sum == 1290002);
	assert_string_equal(err.msg,
	                    "closing balance 12900.20 differs from opening 10000.00 + "
	                    "credits 3250.01 - debits 349.99 = 12900.02");
	keten_camt_release(&s);
}

/* Malformed files --------------------------------------------------------- */

static void test_malformed_files(void **state)
{
	(void)state;
	expect_malformed("not-xml.txt", "not XML");
	expect_malformed("wrong-root.xml",
	                 "not a camt.053 statement: namespace "
	                 "'urn:iso:std:iso:20022:tech:xsd:pain.001.001.03'");
	expect_malformed("bad-amount.xml", "bad amount '12.345' in Ntry: more than two decimals");
	expect_malformed("missing-amount.xml", "missing Amt in Ntry");
	expect_malformed("usd.xml", "amount in Ntry is in 'USD'; keten reads EUR statements only");
	expect_malformed("truncated.xml", "not well-formed XML");
}

static void test_malformed_lines(void **state)
{
	keten_camt_statement s;
	keten_error err = {0};

	(void)state;
	assert_int_equal(parse_file("bad-amount.xml", &s, &err), KETEN_EMALFORMED);
	assert_non_null(strstr(err.msg, "camt.053 line 105:"));
	assert_int_equal(parse_file("missing-amount.xml", &s, &err), KETEN_EMALFORMED);
	assert_non_null(strstr(err.msg, "camt.053 line 145:"));
}

/* Inline documents ---------------------------------------------------------- */

#define NS   "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
#define HEAD "<?xml version=\"1.0\"?><Document xmlns=\"" NS "\"><BkToCstmrStmt>"
#define TAIL "</BkToCstmrStmt></Document>"
#define ACCT "<Id>S1</Id><Acct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></Acct>"
#define NTRY(amt, ind, sts, date)                                                              \
	"<Ntry><Amt Ccy=\"EUR\">" amt "</Amt><CdtDbtInd>" ind "</CdtDbtInd><Sts>" sts "</Sts>" \
	"<BookgDt><Dt>" date "</Dt></BookgDt></Ntry>"

static void expect_text(const char *xml, int code, const char *needle)
{
	keten_camt_statement s;
	keten_error err = {0};

	assert_int_equal(parse_text(xml, &s, &err), code);
	if (!strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
	assert_cleared(&s);
}

static void test_inline_refusals(void **state)
{
	(void)state;
	expect_text("", KETEN_EMALFORMED, "empty");
	expect_text("<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	            "<Document xmlns=\"" NS "\">&x;</Document>",
	            KETEN_EMALFORMED, "DOCTYPE");
	expect_text("<Document/>", KETEN_EMALFORMED, "namespace ''");
	expect_text("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.\"/>", KETEN_EMALFORMED,
	            "not a camt.053 statement");
	expect_text("<Stmt xmlns=\"" NS "\"/>", KETEN_EMALFORMED, "root element is 'Stmt'");
	expect_text("<Document xmlns=\"" NS "\"/>", KETEN_EMALFORMED, "no BkToCstmrStmt");
	expect_text(HEAD TAIL, KETEN_EMALFORMED, "no Stmt");
	expect_text(HEAD "<Stmt>" ACCT "</Stmt><Stmt>" ACCT "</Stmt>" TAIL, KETEN_EMALFORMED, "more than one Stmt");
	expect_text(HEAD "<Stmt><Acct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></Acct></Stmt>" TAIL, KETEN_EMALFORMED,
	            "missing Id in Stmt");
	expect_text(HEAD "<Stmt><Id>S1</Id><Acct><Id><Othr><Id>1</Id></Othr></Id></Acct></Stmt>" TAIL, KETEN_EMALFORMED,
	            "missing Acct/Id/IBAN");
	expect_text(HEAD "<Stmt>" ACCT NTRY("1.00", "CRDT", "BOOK", "2026-02-30") "</Stmt>" TAIL, KETEN_EMALFORMED,
	            "bad date '2026-02-30' in BookgDt");
	expect_text(HEAD "<Stmt>" ACCT NTRY("1.00", "CRDT", "BOOK", "31-03-2026") "</Stmt>" TAIL, KETEN_EMALFORMED,
	            "bad date '31-03-2026'");
	expect_text(HEAD "<Stmt>" ACCT NTRY("1.00", "CREDIT", "BOOK", "2026-03-31") "</Stmt>" TAIL, KETEN_EMALFORMED,
	            "bad CdtDbtInd 'CREDIT'");
	expect_text(HEAD "<Stmt>" ACCT NTRY("-1.00", "CRDT", "BOOK", "2026-03-31") "</Stmt>" TAIL, KETEN_EMALFORMED,
	            "bad amount '-1.00'");
	expect_text(HEAD "<Stmt>" ACCT NTRY("1,00", "CRDT", "BOOK", "2026-03-31") "</Stmt>" TAIL, KETEN_EMALFORMED,
	            "bad amount '1,00'");
	expect_text(HEAD "<Stmt>" ACCT NTRY("1.", "CRDT", "BOOK", "2026-03-31") "</Stmt>" TAIL, KETEN_EMALFORMED,
	            "bad amount '1.'");
	expect_text(HEAD "<Stmt>" ACCT NTRY("", "CRDT", "BOOK", "2026-03-31") "</Stmt>" TAIL, KETEN_EMALFORMED,
	            "Amt in Ntry is empty");
	expect_text(HEAD "<Stmt>" ACCT NTRY("99999999999999.00", "CRDT", "BOOK", "2026-03-31") "</Stmt>" TAIL,
	            KETEN_EMALFORMED, "too large");
	expect_text(HEAD "<Stmt>" ACCT NTRY("1.00", "CRDT", "booked", "2026-03-31") "</Stmt>" TAIL, KETEN_EMALFORMED,
	            "bad Sts 'booked'");
	expect_text(HEAD "<Stmt>" ACCT "<Ntry><Amt>1.00</Amt></Ntry></Stmt>" TAIL, KETEN_EMALFORMED,
	            "Amt in Ntry has no Ccy");
	expect_text(HEAD "<Stmt>" ACCT "<Ntry><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
	                 "<Sts>BOOK</Sts></Ntry></Stmt>" TAIL,
	            KETEN_EMALFORMED, "missing BookgDt in a booked Ntry");
	expect_text(HEAD "<Stmt><Id>S1</Id><Acct><Id><IBAN>X</IBAN></Id><Ccy>GBP</Ccy></Acct></Stmt>" TAIL,
	            KETEN_EMALFORMED, "account currency is 'GBP'");
	expect_text(HEAD "<Stmt>" ACCT "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">1</Amt>"
	                 "<CdtDbtInd>CRDT</CdtDbtInd></Bal>"
	                 "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">1</Amt>"
	                 "<CdtDbtInd>CRDT</CdtDbtInd></Bal></Stmt>" TAIL,
	            KETEN_EMALFORMED, "balance CLBD is given twice");
	expect_text(HEAD "<Stmt>" ACCT NTRY("1.00", "CRDT", "BOOK", "2026-03-31"), KETEN_EMALFORMED,
	            "not well-formed XML");
	expect_text("\xef\xbb\xbf  plain text", KETEN_EMALFORMED, "does not start with '<'");
	expect_text("<?xml version=\"1.0\" encoding=\"IBM037\"?>\x4c\x5a", KETEN_EMALFORMED,
	            "declares an encoding keten does not read");
	expect_text("<?xml version=\"1.0\" encoding='UTF-16'?><a/>", KETEN_EMALFORMED,
	            "declares an encoding keten does not read");
}

static void test_minimal_and_balances(void **state)
{
	keten_camt_statement s;
	keten_error err = {0};
	int64_t sum = 7;

	(void)state;
	/* a BOM, amounts without decimals, one decimal */
	assert_int_equal(
		parse_text("\xef\xbb\xbf" HEAD "<Stmt>" ACCT
	                   "<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">5</Amt>"
	                   "<CdtDbtInd>CRDT</CdtDbtInd></Bal>"
	                   "<Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">9</Amt>"
	                   "<CdtDbtInd>CRDT</CdtDbtInd></Bal>" NTRY("0.5", "DBIT", "BOOK", "2026-01-02") "</Stmt>" TAIL,
	                   &s, &err),
		0);
	assert_true(s.opening_cents == 500); /* OPBD wins over PRCD */
	assert_int_equal(s.n_entries, 1);
	assert_true(s.entries[0].amount_cents == 50);
	assert_false(s.has_closing);
	assert_int_equal(keten_camt_check_balance(&s, &sum, &err), KETEN_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no closing balance"));
	assert_true(sum == 7);
	keten_camt_release(&s);

	/* an ISO-8859-1 declaration is read, and its text arrives as UTF-8 */
	assert_int_equal(parse_text("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
	                            "<Document xmlns=\"" NS "\"><BkToCstmrStmt><Stmt><Id>Caf\xe9</Id>"
	                            "<Acct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></Acct></Stmt>" TAIL,
	                            &s, &err),
	                 0);
	assert_string_equal(s.id, "Caf\xc3\xa9");
	keten_camt_release(&s);

	/* statement without entries or balances */
	assert_int_equal(parse_text(HEAD "<Stmt>" ACCT "</Stmt>" TAIL, &s, &err), 0);
	assert_int_equal(s.n_entries, 0);
	assert_int_equal(keten_camt_check_balance(&s, NULL, &err), KETEN_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no opening balance"));
	keten_camt_release(&s);

	/* the largest amounts do not overflow silently */
	assert_int_equal(parse_text(HEAD "<Stmt>" ACCT "<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>"
	                                 "<Amt Ccy=\"EUR\">100000000000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>"
	                                 "<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>"
	                                 "<Amt Ccy=\"EUR\">0</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>" NTRY(
						 "100000000000.00", "CRDT", "BOOK", "2026-01-02") "</Stmt>" TAIL,
	                            &s, &err),
	                 0);
	assert_int_equal(keten_camt_check_balance(&s, &sum, &err), KETEN_EMALFORMED);
	assert_true(sum == 20000000000000LL);
	keten_camt_release(&s);
}

static void test_arguments_and_cap(void **state)
{
	keten_camt_statement s;
	keten_error err = {0};
	uint8_t *big;

	(void)state;
	assert_int_equal(keten_camt_parse(NULL, 5, &s, &err), KETEN_EINVAL);
	assert_int_equal(keten_camt_parse((const uint8_t *)"<a/>", 4, NULL, &err), KETEN_EINVAL);
	assert_int_equal(keten_camt_check_balance(NULL, NULL, &err), KETEN_EINVAL);
	keten_camt_release(NULL);

	big = malloc(KETEN_CAMT_MAX_BYTES + 1u);
	assert_non_null(big);
	memset(big, ' ', KETEN_CAMT_MAX_BYTES + 1u);
	big[0] = '<';
	assert_int_equal(keten_camt_parse(big, KETEN_CAMT_MAX_BYTES + 1u, &s, &err), KETEN_EMALFORMED);
	assert_non_null(strstr(err.msg, "larger than the limit"));
	free(big);

	assert_int_equal(keten_camt_parse((const uint8_t *)"<a>\0</a>", 8, &s, &err), KETEN_EMALFORMED);
	assert_non_null(strstr(err.msg, "NUL"));
	/* no error record is fine */
	assert_int_equal(parse_text("nope", &s, NULL), KETEN_EMALFORMED);
}

/* Reconcile with a statement ------------------------------------------------ */

/* keten_reconcile of a fresh home (no payments) with opts.bank. */
static void reconcile_with(keten_ledger *L, const keten_camt_statement *st, keten_recon *r)
{
	keten_recon_opts o = {.me = keten_ledger_info(L)->key, .as_of = 20260401, .bank = st};
	keten_error err = {0};
	keten_txn *t;

	assert_int_equal(keten_store_read(keten_ledger_store(L), &t, &err), 0);
	assert_int_equal(keten_reconcile(t, &o, r, &err), 0);
	keten_txn_end(t);
}

static void test_reconcile_bank(void **state)
{
	char dir[64] = "/tmp/keten-camt-XXXXXX", home[80];
	keten_home_info info = {0};
	keten_camt_statement st;
	keten_error err = {0};
	keten_ledger *L = NULL;
	keten_recon r;
	keten_txn *t;
	json_t *j;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(home, sizeof home, "%s/h", dir);
	snprintf(info.name, sizeof info.name, "Gemeente Hoorn");
	snprintf(info.role, sizeof info.role, "municipality");
	assert_int_equal(keten_home_create(home, NULL, &info, &err), 0);
	assert_int_equal(keten_ledger_open(home, &L, &err), 0);

	/* three booked lines, no payment for any: three bank-only findings in
	 * the order of the lines, then the balance that does not add up */
	assert_int_equal(parse_file("bad-balance.xml", &st, &err), 0);
	reconcile_with(L, &st, &r);
	assert_non_null(r.bank);
	assert_int_equal(r.bank->n_lines, 3);
	assert_int_equal(r.bank->bank_only, 3);
	assert_false(r.bank->balance_ok);
	assert_int_equal(r.n_findings, 4);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(r.findings[i].kind, "bank-only");
		assert_int_equal(r.bank->lines[i].status, KETEN_BANK_ONLY);
		assert_true(r.findings[i].amount_cents == r.bank->lines[i].bank_cents);
		assert_int_equal(r.findings[i].n_ids, 0); /* no payment to name */
	}
	assert_true(r.findings[1].amount_cents == -34999);
	assert_string_equal(r.findings[0].detail,
	                    "statement line 56: 125000 cents on 2026-03-31, ref 'KETEN-PAY-0001'");
	assert_string_equal(r.findings[3].kind, "bank-balance-mismatch");
	assert_true(r.findings[3].amount_cents == 18);
	assert_string_equal(r.findings[3].detail, "opening 1000000 + bookings = 1290002, closing says 1290020");

	/* the JSON has the findings and the "bank" member */
	assert_int_equal(keten_store_read(keten_ledger_store(L), &t, &err), 0);
	j = keten_json_reconcile(t, &r, true);
	keten_txn_end(t);
	assert_int_equal(json_array_size(json_object_get(j, "findings")), 4);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(j, "findings"), 3), "meaning")),
		keten_recon_kind_meaning("bank-balance-mismatch"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "bank"), "bank_only")), 3);
	json_decref(j);
	keten_recon_release(&r);
	assert_null(r.bank);
	keten_camt_release(&st);

	/* without a statement there is no bank, and no finding */
	reconcile_with(L, NULL, &r);
	assert_null(r.bank);
	assert_int_equal(r.n_findings, 0);
	assert_int_equal(keten_store_read(keten_ledger_store(L), &t, &err), 0);
	j = keten_json_reconcile(t, &r, false);
	keten_txn_end(t);
	assert_null(json_object_get(j, "bank"));
	json_decref(j);
	keten_recon_release(&r);

	keten_ledger_close(L);
	test_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_simple),
		cmocka_unit_test(test_ok_batch),
		cmocka_unit_test(test_bad_balance),
		cmocka_unit_test(test_malformed_files),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_inline_refusals),
		cmocka_unit_test(test_minimal_and_balances),
		cmocka_unit_test(test_arguments_and_cap),
		cmocka_unit_test(test_reconcile_bank),
	};

	/* cmocka writes progress to stdout and the summary to stderr; line
	 * buffering keeps each summary line whole when both go to one pipe */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
