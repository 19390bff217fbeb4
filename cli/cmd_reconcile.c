/*
 * cmd_reconcile.c — keten reconcile (per pair and per agreement: agreed,
 * delivered, claimed, paid, received, outstanding, overdue; the soft-rule
 * findings with their evidence; optionally a camt.053 bank statement
 * matched to the payments) and keten report (the regional monitor).
 *
 * Both read derived state in one read transaction (ledger/query/) and
 * print a table with human amounts, CSV or JSON with cents.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keten/batch.h"
#include "keten/camt.h"
#include "keten/json.h"
#include "keten/reconcile.h"
#include "keten/report.h"

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSON };

static int parse_format(const char *cmd, const char *s, enum fmt *f)
{
	if (strcmp(s, "table") == 0)
		*f = FMT_TABLE;
	else if (strcmp(s, "csv") == 0)
		*f = FMT_CSV;
	else if (strcmp(s, "json") == 0)
		*f = FMT_JSON;
	else
		return cli_usage_error(cmd, "--format is table, csv or json, not '%s'", s);
	return 0;
}

/* CSV field, quoted when needed; LF line ends. */
static void csv_field(const char *s, bool last)
{
	if (strpbrk(s, ",\"\r\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static void csv_row(const char *const *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		csv_field(f[i] ? f[i] : "", i + 1 == n);
}

static void hex_or_empty(char out[65], const uint8_t key[32])
{
	static const uint8_t zero[32];
	if (memcmp(key, zero, 32) == 0)
		out[0] = 0;
	else
		keten_hex(out, key, 32);
}

static char *i64(char *buf, int64_t v)
{
	sprintf(buf, "%lld", (long long)v);
	return buf;
}

static char *human(char *buf, size_t len, int64_t cents)
{
	keten_format_cents_human(buf, len, cents);
	return buf;
}

/* Units in hundredths as "12.5". */
static char *units(char *buf, int64_t u)
{
	if (u % 100 == 0)
		sprintf(buf, "%lld", (long long)(u / 100));
	else
		sprintf(buf, "%lld.%02lld", (long long)(u / 100), (long long)(u < 0 ? -u % 100 : u % 100));
	return buf;
}

/* reconcile ----------------------------------------------------------------------- */

static const char reconcile_usage[] =
	"usage: keten reconcile [--with PARTY] [--period YYYY-MM|YYYY-Qn|YYYY] [--as-of DATE]\n"
	"                       [--bank FILE] [--format table|csv|json] [--check]\n"
	"\n"
	"Sets side by side what the parties asserted, from this home's point of view\n"
	"(a subcontractor: what each lead provider owes it; a lead provider: both\n"
	"sides; a municipality: everything in its municipalities), per agreement\n"
	"(allocation or subcontract) and per pair of parties: agreed, delivered\n"
	"(units), claimed, paid, received (confirmed by the payee), outstanding\n"
	"(claimed - paid) and overdue (unpaid past the payment term at --as-of,\n"
	"default today).  Then every finding: a stable kind, the amount at stake,\n"
	"and the ids of the entries that prove it (see docs/reconciliation.md).\n"
	"\n"
	"--with     only what concerns this party (name, key or key prefix)\n"
	"--period   only claims dated, and deliveries and months of agreements, in it\n"
	"--as-of    what was known on that day: claims count by their own date\n"
	"           (declaratiedatum, else the day recorded), payments by their payment\n"
	"           date, receipts by their receipt date; overdue runs from a claim's\n"
	"           date plus the payment term\n"
	"--bank     match a camt.053 statement to this home's payments: by end-to-end\n"
	"           reference first, then by amount within 5 days; lists matched,\n"
	"           bank-only and ledger-only lines and checks the balances\n"
	"--format   table (human amounts, default), csv or json (cents)\n"
	"--check    exit 1 when there is any finding, 0 otherwise\n"
	"\n"
	"CSV columns: record (line, pair, finding, bank, balance), kind, subject,\n"
	"payer, payer_name, payee, payee_name, what, agreed_cents, delivered_units,\n"
	"claimed_cents, paid_cents, received_cents, outstanding_cents,\n"
	"overdue_cents, amount_cents, evidence (ids separated by spaces), detail.\n";

static void evidence_text(keten_txn *t, const keten_recon_finding *f, bool full, char *buf, size_t len)
{
	size_t u = 0;
	buf[0] = 0;
	for (size_t i = 0; i < f->n_ids && u + 1 < len; i++) {
		char hex[65];
		keten_hex(hex, f->ids[i], 32);
		if (full)
			u += (size_t)snprintf(buf + u, len - u, "%s%s", i ? " " : "", hex);
		else
			u += (size_t)snprintf(buf + u, len - u, "%s%s:%.8s", i ? ", " : "",
			                      keten_json_entry_type(t, f->ids[i]), hex);
	}
}

static void table_lines(keten_json_labels *nm, const keten_recon *r)
{
	char a[8][40], hex[65];
	printf("%-18s %-18s %-9s %-16s %14s %9s %14s %14s %14s %14s %14s\n", "payer", "payee", "subject", "what",
	       "agreed", "delivered", "claimed", "paid", "received", "outstanding", "overdue");
	for (size_t i = 0; i < r->n_lines; i++) {
		const keten_recon_line *l = &r->lines[i];
		keten_hex(hex, l->subject, 32);
		printf("%-18.18s %-18.18s %-9.8s %-16.16s %14s %9s %14s %14s %14s %14s %14s\n",
		       keten_json_label(nm, l->payer), keten_json_label(nm, l->payee), hex, l->what,
		       human(a[0], 40, l->agreed_cents), units(a[1], l->delivered_units),
		       human(a[2], 40, l->claimed_cents), human(a[3], 40, l->paid_cents),
		       human(a[4], 40, l->received_cents), human(a[5], 40, l->outstanding_cents),
		       human(a[6], 40, l->overdue_cents));
	}
	if (!r->n_lines)
		printf("(no agreements)\n");
	printf("\nper pair of parties:\n");
	printf("%-18s %-18s %5s %14s %9s %14s %14s %14s %14s %14s\n", "payer", "payee", "lines", "agreed", "delivered",
	       "claimed", "paid", "received", "outstanding", "overdue");
	for (size_t i = 0; i < r->n_pairs; i++) {
		const keten_recon_pair *p = &r->pairs[i];
		printf("%-18.18s %-18.18s %5zu %14s %9s %14s %14s %14s %14s %14s\n", keten_json_label(nm, p->payer),
		       keten_json_label(nm, p->payee), p->n_lines, human(a[0], 40, p->agreed_cents),
		       units(a[1], p->delivered_units), human(a[2], 40, p->claimed_cents),
		       human(a[3], 40, p->paid_cents), human(a[4], 40, p->received_cents),
		       human(a[5], 40, p->outstanding_cents), human(a[6], 40, p->overdue_cents));
	}
}

static void table_bank(const keten_bank_result *b)
{
	char d1[11], d2[11], a[3][40], hex[65];
	keten_format_date(d1, sizeof d1, b->from);
	keten_format_date(d2, sizeof d2, b->until);
	printf("\nbank statement %s to %s: %zu matched, %zu amount differs, %zu duplicate, %zu bank-only, %zu ledger-only\n",
	       d1, d2, b->matched, b->amount_differs, b->duplicates, b->bank_only, b->ledger_only);
	if (b->has_balances)
		printf("balances: opening %s, closing %s, opening + bookings %s: %s\n",
		       human(a[0], 40, b->opening_cents), human(a[1], 40, b->closing_cents),
		       human(a[2], 40, b->computed_cents), b->balance_ok ? "agree" : "DIFFER");
	else
		printf("balances: the statement lacks an opening or closing balance\n");
	printf("%-15s %-11s %5s %14s %-10s %-24s %-9s %14s %-10s\n", "status", "how", "line", "bank", "booked",
	       "bank reference", "payment", "ledger", "paid on");
	for (size_t i = 0; i < b->n_lines; i++) {
		const keten_bank_line *l = &b->lines[i];
		char bd[11], ld[11], ln[16];
		keten_format_date(bd, sizeof bd, l->bank_date);
		keten_format_date(ld, sizeof ld, l->ledger_date);
		if (l->has_payment)
			keten_hex(hex, l->payment, 32);
		else
			hex[0] = 0;
		snprintf(ln, sizeof ln, "%zu", l->file_line);
		printf("%-15s %-11s %5s %14s %-10s %-24.24s %-9.8s %14s %-10s\n", keten_bank_status_name(l->status),
		       l->how, l->file_line ? ln : "",
		       l->status == KETEN_LEDGER_ONLY ? "" : human(a[0], 40, l->bank_cents), bd, l->bank_ref, hex,
		       l->has_payment ? human(a[1], 40, l->ledger_cents) : "", ld);
	}
}

static void print_table(keten_txn *t, keten_json_labels *nm, const keten_recon *r, const char *who)
{
	char d[11], a[40];
	keten_format_date(d, sizeof d, r->as_of);
	printf("reconciliation as of %s, seen by %s\n\n", d, who);
	table_lines(nm, r);
	if (r->bank)
		table_bank(r->bank);
	printf("\nfindings: %zu\n", r->n_findings);
	if (r->n_findings)
		printf("%-30s %14s  %-18s %-18s %s\n", "kind", "amount", "payer", "payee", "evidence / detail");
	for (size_t i = 0; i < r->n_findings; i++) {
		const keten_recon_finding *f = &r->findings[i];
		char ev[1200];
		evidence_text(t, f, false, ev, sizeof ev);
		printf("%-30s %14s  %-18.18s %-18.18s %s\n%-30s %14s  %s\n", f->kind, human(a, 40, f->amount_cents),
		       keten_json_label(nm, f->payer), keten_json_label(nm, f->payee), ev[0] ? ev : "-", "", "",
		       f->detail);
	}
}

static const char *const csv_head[] = {"record",         "kind",
                                       "subject",        "payer",
                                       "payer_name",     "payee",
                                       "payee_name",     "what",
                                       "agreed_cents",   "delivered_units",
                                       "claimed_cents",  "paid_cents",
                                       "received_cents", "outstanding_cents",
                                       "overdue_cents",  "amount_cents",
                                       "evidence",       "detail"};
#define CSV_COLS 18

/* Columns 8 to 14 of a line or pair row: its amounts, written into n. */
static void csv_amounts(const char **f, char n[7][24], int64_t agreed, int64_t delivered, int64_t claimed, int64_t paid,
                        int64_t received, int64_t outstanding, int64_t overdue)
{
	f[8] = i64(n[0], agreed);
	f[9] = units(n[1], delivered);
	f[10] = i64(n[2], claimed);
	f[11] = i64(n[3], paid);
	f[12] = i64(n[4], received);
	f[13] = i64(n[5], outstanding);
	f[14] = i64(n[6], overdue);
}

static void csv_lines(keten_json_labels *nm, const keten_recon *r)
{
	char subj[65], payer[65], payee[65], n[7][24];
	for (size_t i = 0; i < r->n_lines; i++) {
		const keten_recon_line *l = &r->lines[i];
		const char *f[CSV_COLS] = {0};
		keten_hex(subj, l->subject, 32);
		keten_hex(payer, l->payer, 32);
		keten_hex(payee, l->payee, 32);
		f[0] = "line";
		f[1] = l->subcontract ? "subcontract" : "allocation";
		f[2] = subj;
		f[3] = payer;
		f[4] = keten_json_label(nm, l->payer);
		f[5] = payee;
		f[6] = keten_json_label(nm, l->payee);
		f[7] = l->what;
		csv_amounts(f, n, l->agreed_cents, l->delivered_units, l->claimed_cents, l->paid_cents,
		            l->received_cents, l->outstanding_cents, l->overdue_cents);
		f[16] = subj;
		csv_row(f, CSV_COLS);
	}
}

static void csv_pairs(keten_json_labels *nm, const keten_recon *r)
{
	char payer[65], payee[65], n[7][24], cnt[24];
	for (size_t i = 0; i < r->n_pairs; i++) {
		const keten_recon_pair *p = &r->pairs[i];
		const char *f[CSV_COLS] = {0};
		keten_hex(payer, p->payer, 32);
		keten_hex(payee, p->payee, 32);
		snprintf(cnt, sizeof cnt, "%zu lines", p->n_lines);
		f[0] = "pair";
		f[3] = payer;
		f[4] = keten_json_label(nm, p->payer);
		f[5] = payee;
		f[6] = keten_json_label(nm, p->payee);
		f[7] = cnt;
		csv_amounts(f, n, p->agreed_cents, p->delivered_units, p->claimed_cents, p->paid_cents,
		            p->received_cents, p->outstanding_cents, p->overdue_cents);
		csv_row(f, CSV_COLS);
	}
}

static void csv_findings(keten_json_labels *nm, const keten_recon *r)
{
	char subj[65], payer[65], payee[65], n[24], ev[70 * 80];
	for (size_t i = 0; i < r->n_findings; i++) {
		const keten_recon_finding *f = &r->findings[i];
		const char *row[CSV_COLS] = {0};
		evidence_text(NULL, f, true, ev, sizeof ev);
		hex_or_empty(subj, f->subject);
		hex_or_empty(payer, f->payer);
		hex_or_empty(payee, f->payee);
		row[0] = "finding";
		row[1] = f->kind;
		row[2] = subj;
		row[3] = payer;
		row[4] = keten_json_label(nm, f->payer);
		row[5] = payee;
		row[6] = keten_json_label(nm, f->payee);
		row[15] = i64(n, f->amount_cents);
		row[16] = ev;
		row[17] = f->detail;
		csv_row(row, CSV_COLS);
	}
}

static void csv_bank(keten_json_labels *nm, const keten_bank_result *b)
{
	char payer[65], payee[65], pay[65], n[24], det[200], bd[11], ld[11];
	const char *row[CSV_COLS] = {0};
	for (size_t i = 0; i < b->n_lines; i++) {
		const keten_bank_line *l = &b->lines[i];
		const char *f[CSV_COLS] = {0};
		if (l->has_payment)
			keten_hex(pay, l->payment, 32);
		else
			pay[0] = 0;
		hex_or_empty(payer, l->payer);
		hex_or_empty(payee, l->payee);
		keten_format_date(bd, sizeof bd, l->bank_date);
		keten_format_date(ld, sizeof ld, l->ledger_date);
		snprintf(det, sizeof det,
		         "how=%s line=%zu booked=%s bank_ref=%s ledger_cents=%lld paid_on=%s ledger_ref=%s", l->how,
		         l->file_line, bd, l->bank_ref, (long long)l->ledger_cents, ld, l->ledger_ref);
		f[0] = "bank";
		f[1] = keten_bank_status_name(l->status);
		f[2] = pay;
		f[3] = payer;
		f[4] = keten_json_label(nm, l->payer);
		f[5] = payee;
		f[6] = keten_json_label(nm, l->payee);
		f[15] = i64(n, l->status == KETEN_LEDGER_ONLY ? l->ledger_cents : l->bank_cents);
		f[16] = pay;
		f[17] = det;
		csv_row(f, CSV_COLS);
	}
	snprintf(det, sizeof det, "opening=%lld closing=%lld computed=%lld", (long long)b->opening_cents,
	         (long long)b->closing_cents, (long long)b->computed_cents);
	row[0] = "balance";
	row[1] = !b->has_balances ? "incomplete" : b->balance_ok ? "agree" : "differ";
	row[15] = i64(n, b->closing_cents);
	row[17] = det;
	csv_row(row, CSV_COLS);
}

static void print_csv(keten_json_labels *nm, const keten_recon *r)
{
	csv_row(csv_head, CSV_COLS);
	csv_lines(nm, r);
	csv_pairs(nm, r);
	csv_findings(nm, r);
	if (r->bank)
		csv_bank(nm, r->bank);
}

/* The options of reconcile; -1 when --help was answered. */
static int reconcile_args(int argc, char **argv, keten_recon_opts *ro, const char **with, const char **bank,
                          enum fmt *fmt, bool *check)
{
	static const struct option opts[] = {
		{"with", 1, 0, 'w'},   {"period", 1, 0, 'p'}, {"as-of", 1, 0, 'a'}, {"bank", 1, 0, 'b'},
		{"format", 1, 0, 'f'}, {"check", 0, 0, 'c'},  {"help", 0, 0, 'h'},  {0}};
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'w': *with = optarg; break;
		case 'p':
			if (keten_recon_period(optarg, &ro->from, &ro->until))
				return cli_usage_error("reconcile", "--period '%s' is not YYYY-MM, YYYY-Qn or YYYY",
				                       optarg);
			break;
		case 'a':
			if ((rc = cli_parse_date("--as-of", optarg, &ro->as_of)))
				return rc;
			break;
		case 'b': *bank = optarg; break;
		case 'f':
			if ((rc = parse_format("reconcile", optarg, fmt)))
				return rc;
			break;
		case 'c': *check = true; break;
		case 'h': cli_help(reconcile_usage); return -1;
		default: return cli_usage_error("reconcile", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("reconcile", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Read and parse the statement at path into *st. */
static int read_statement(const char *path, keten_camt_statement *st)
{
	keten_error err = {0};
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = cli_read_file(path, KETEN_CAMT_MAX_BYTES, &buf, &len)))
		return rc;
	rc = keten_camt_parse(buf, len, st, &err);
	free(buf);
	if (rc) {
		fprintf(stderr, "keten: bank statement '%s': %s\n", path, err.msg);
		return cli_exit_code(err.code);
	}
	return 0;
}

static void print_reconcile(keten_txn *t, const keten_recon *r, enum fmt fmt, const uint8_t *me, const uint8_t *with)
{
	keten_json_labels nm = {.t = t};
	char who[200];

	if (fmt == FMT_JSON) {
		cli_print_json(keten_json_reconcile(t, r, false));
	} else if (fmt == FMT_CSV) {
		print_csv(&nm, r);
	} else {
		snprintf(who, sizeof who, "%s", keten_json_label(&nm, me));
		if (with) {
			size_t u = strlen(who);
			snprintf(who + u, sizeof who - u, ", with %s", keten_json_label(&nm, with));
		}
		print_table(t, &nm, r, who);
	}
	keten_json_labels_release(&nm);
}

int cmd_reconcile(cli *c, int argc, char **argv)
{
	keten_recon_opts ro = {0};
	keten_recon r = {0};
	keten_camt_statement st = {0};
	const char *with = NULL, *bank = NULL;
	enum fmt fmt = c->json ? FMT_JSON : FMT_TABLE;
	bool check = false;
	uint8_t me[32], wkey[32];
	keten_error err = {0};
	keten_txn *t = NULL;
	int rc;

	if ((rc = reconcile_args(argc, argv, &ro, &with, &bank, &fmt, &check)))
		return rc < 0 ? 0 : rc;
	if ((bank && (rc = read_statement(bank, &st))) || (rc = cli_open(c, false)))
		goto out;
	memcpy(me, keten_ledger_info(c->L)->key, 32);
	ro.me = me;
	ro.bank = bank ? &st : NULL;
	if (with) {
		if ((rc = cli_resolve_party(c, with, wkey)))
			goto out;
		ro.with = wkey;
	}
	if (keten_store_read(keten_ledger_store(c->L), &t, &err) || keten_reconcile(t, &ro, &r, &err)) {
		rc = cli_error(&err);
		goto out;
	}
	print_reconcile(t, &r, fmt, me, ro.with);
	if (fflush(stdout) != 0)
		rc = EX_IOERR_;
	else
		rc = check && r.n_findings ? EX_FINDING : 0;
out:
	keten_txn_end(t);
	keten_recon_release(&r);
	keten_camt_release(&st);
	return rc;
}

/* report ------------------------------------------------------------------------------ */

static const char report_usage[] = "usage: keten report [--by municipality|provider|arrangement|month] [--period P]\n"
				   "                    [--as-of DATE] [--format table|csv|json]\n"
				   "\n"
				   "The regional monitor over what this home holds bodies of: per group, the\n"
				   "allocations and distinct clients, allocated and paid costs, the share\n"
				   "subcontracted (accepted subcontracts / allocated), the average length of\n"
				   "closed herstel trajectories (days), early stops by stop code (any code\n"
				   "other than 'according to plan': jeugd 31, wmo 19), rijgen, and payment\n"
				   "delay (median and 90th percentile days from a claim to each payment on\n"
				   "it).  --by month groups allocations by start month and money and delays\n"
				   "by payment month.  --period P (YYYY-MM, YYYY-Qn or YYYY): allocations\n"
				   "running in it, closes and payments dated in it.  Default --by municipality.\n"
				   "--as-of DATE: what was known that day: allocations and subcontracts\n"
				   "started by it, closes and payments dated by it, claims by their own date\n"
				   "(declaratiedatum; the day recorded when they give none).\n"
				   "\n"
				   "A second table (and the CSV and JSON) adds per group: the outcomes of the\n"
				   "allocations closed (achieved, partial, not achieved, stopped), dropout\n"
				   "(the client ended the care early: jeugd 32, wmo 21) apart from the other\n"
				   "early stops, maatwerk allocations and their amount, paid per client, the\n"
				   "care delivered per unit, and for duurzaam the months paid, of those the\n"
				   "months without any delivery, and the hours delivered per paid month.\n"
				   "Columns: docs/reconciliation.md (the regional monitor).\n";

static void stops_text(const keten_report_row *row, char *buf, size_t len)
{
	size_t u = 0;
	buf[0] = 0;
	for (size_t i = 0; i < row->n_stops && u + 1 < len; i++)
		u += (size_t)snprintf(buf + u, len - u, "%s%s:%zu", i ? " " : "", row->stops[i].code, row->stops[i].n);
}

static const char *group_label(keten_json_labels *nm, keten_report_by by, const char *key, char *buf, size_t len)
{
	uint8_t k[32];
	if (by == KETEN_REPORT_PROVIDER && strlen(key) == 64 && keten_unhex(k, 32, key) == 0)
		snprintf(buf, len, "%s", keten_json_label(nm, k));
	else
		snprintf(buf, len, "%s", key);
	return buf;
}

static char *pct(char *buf, uint32_t bp)
{
	sprintf(buf, "%u.%02u%%", bp / 100, bp % 100);
	return buf;
}

/* The 30 CSV columns: 17 of the first table, 13 of outcomes and care. */
#define REPORT_COLS 30

/* "hour:17.50 minute:90", by unit. */
static void volumes_text(const keten_report_row *row, char *buf, size_t len)
{
	size_t u = 0;
	char v[24];
	buf[0] = 0;
	for (size_t i = 0; i < row->n_volumes && u + 1 < len; i++)
		u += (size_t)snprintf(buf + u, len - u, "%s%s:%s", i ? " " : "", row->volumes[i].unit,
		                      units(v, row->volumes[i].units));
}

/* The outcomes-and-care columns of a row, into f[0..13). */
static void care_fields(const keten_report_row *row, const char **f, char n[14][24], char *vol, size_t len)
{
	const size_t counts[7] = {row->achieved, row->partial,     row->not_achieved, row->stopped,
	                          row->dropouts, row->other_stops, row->maatwerk};
	for (size_t i = 0; i < 7; i++) {
		sprintf(n[i], "%zu", counts[i]);
		f[i] = n[i];
	}
	f[7] = i64(n[7], row->maatwerk_cents);
	f[8] = i64(n[8], row->cost_per_client_cents);
	volumes_text(row, vol, len);
	f[9] = vol;
	sprintf(n[9], "%zu", row->duurzaam_paid_months);
	f[10] = n[9];
	sprintf(n[10], "%zu", row->duurzaam_unserved_months);
	f[11] = n[10];
	f[12] = units(n[11], row->duurzaam_hours_per_paid_month);
}

static void report_csv(keten_json_labels *nm, const keten_report *rep, keten_report_by by)
{
	static const char *const head[] = {"group",
	                                   "label",
	                                   "allocations",
	                                   "clients",
	                                   "allocated_cents",
	                                   "paid_cents",
	                                   "subcontracted_cents",
	                                   "subcontract_paid_cents",
	                                   "subcontracted_bp",
	                                   "closed_herstel",
	                                   "avg_trajectory_days",
	                                   "early_stops",
	                                   "early_stops_by_code",
	                                   "rijgen",
	                                   "payments",
	                                   "delay_median_days",
	                                   "delay_p90_days",
	                                   "achieved",
	                                   "partial",
	                                   "not_achieved",
	                                   "stopped",
	                                   "dropouts",
	                                   "other_stops",
	                                   "maatwerk",
	                                   "maatwerk_cents",
	                                   "cost_per_client_cents",
	                                   "delivered_by_unit",
	                                   "duurzaam_paid_months",
	                                   "duurzaam_unserved_months",
	                                   "duurzaam_hours_per_paid_month"};
	csv_row(head, REPORT_COLS);
	for (size_t i = 0; i <= rep->n_rows; i++) {
		const keten_report_row *row = i < rep->n_rows ? &rep->rows[i] : &rep->total;
		char n[14][24], label[140], stops[400], care[14][24], vol[600];
		const char *f[REPORT_COLS];
		stops_text(row, stops, sizeof stops);
		f[0] = row->key;
		f[1] = group_label(nm, by, row->key, label, sizeof label);
		sprintf(n[0], "%zu", row->allocations);
		f[2] = n[0];
		sprintf(n[1], "%zu", row->clients);
		f[3] = n[1];
		f[4] = i64(n[2], row->allocated_cents);
		f[5] = i64(n[3], row->paid_cents);
		f[6] = i64(n[4], row->subcontracted_cents);
		f[7] = i64(n[5], row->sub_paid_cents);
		sprintf(n[6], "%u", row->subcontracted_bp);
		f[8] = n[6];
		sprintf(n[7], "%zu", row->closed_herstel);
		f[9] = n[7];
		f[10] = i64(n[8], row->avg_trajectory_days);
		sprintf(n[9], "%zu", row->early_stops);
		f[11] = n[9];
		f[12] = stops;
		sprintf(n[10], "%zu", row->rijgen);
		f[13] = n[10];
		sprintf(n[11], "%zu", row->payments);
		f[14] = n[11];
		f[15] = i64(n[12], row->delay_median_days);
		f[16] = i64(n[13], row->delay_p90_days);
		care_fields(row, f + 17, care, vol, sizeof vol);
		csv_row(f, REPORT_COLS);
	}
}

static void report_table(keten_json_labels *nm, const keten_report *rep, keten_report_by by)
{
	char a[4][40], p[16], stops[400], label[140];
	printf("%-20s %6s %7s %14s %14s %14s %8s %6s %8s %6s %-16s %6s %7s %7s\n", keten_report_by_name(by), "alloc",
	       "clients", "allocated", "paid", "subcontracted", "share", "closed", "avg days", "early", "stops by code",
	       "rijgen", "delay50", "delay90");
	for (size_t i = 0; i <= rep->n_rows; i++) {
		const keten_report_row *row = i < rep->n_rows ? &rep->rows[i] : &rep->total;
		stops_text(row, stops, sizeof stops);
		printf("%-20.20s %6zu %7zu %14s %14s %14s %8s %6zu %8lld %6zu %-16s %6zu %7lld %7lld\n",
		       group_label(nm, by, row->key, label, sizeof label), row->allocations, row->clients,
		       human(a[0], 40, row->allocated_cents), human(a[1], 40, row->paid_cents),
		       human(a[2], 40, row->subcontracted_cents), pct(p, row->subcontracted_bp), row->closed_herstel,
		       (long long)row->avg_trajectory_days, row->early_stops, stops[0] ? stops : "-", row->rijgen,
		       (long long)row->delay_median_days, (long long)row->delay_p90_days);
	}
	/* the second table: outcomes, stops, maatwerk and care */
	printf("\n%-20s %8s %7s %7s %7s %7s %5s %8s %14s %14s %7s %9s %10s %s\n", keten_report_by_name(by), "achieved",
	       "partial", "not-ach", "stopped", "dropout", "other", "maatwerk", "maatwerk amt", "per client", "dz paid",
	       "dz no del", "dz h/month", "delivered");
	for (size_t i = 0; i <= rep->n_rows; i++) {
		const keten_report_row *row = i < rep->n_rows ? &rep->rows[i] : &rep->total;
		char vol[600], h[24];
		volumes_text(row, vol, sizeof vol);
		printf("%-20.20s %8zu %7zu %7zu %7zu %7zu %5zu %8zu %14s %14s %7zu %9zu %10s %s\n",
		       group_label(nm, by, row->key, label, sizeof label), row->achieved, row->partial,
		       row->not_achieved, row->stopped, row->dropouts, row->other_stops, row->maatwerk,
		       human(a[0], 40, row->maatwerk_cents), human(a[1], 40, row->cost_per_client_cents),
		       row->duurzaam_paid_months, row->duurzaam_unserved_months,
		       units(h, row->duurzaam_hours_per_paid_month), vol[0] ? vol : "-");
	}
}

int cmd_report(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"by", 1, 0, 'b'},     {"period", 1, 0, 'p'}, {"as-of", 1, 0, 'a'},
	                                     {"format", 1, 0, 'f'}, {"help", 0, 0, 'h'},   {0}};
	keten_report_opts ro = {.by = KETEN_REPORT_MUNICIPALITY};
	keten_report rep = {0};
	keten_json_labels nm = {0};
	enum fmt fmt = c->json ? FMT_JSON : FMT_TABLE;
	keten_error err = {0};
	keten_txn *t = NULL;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			if (!(ro.by = keten_report_by_from_name(optarg)))
				return cli_usage_error("report",
				                       "--by is municipality, provider, arrangement or month, not '%s'",
				                       optarg);
			break;
		case 'p':
			if (keten_recon_period(optarg, &ro.from, &ro.until))
				return cli_usage_error("report", "--period '%s' is not YYYY-MM, YYYY-Qn or YYYY",
				                       optarg);
			break;
		case 'a':
			if ((rc = cli_parse_date("--as-of", optarg, &ro.as_of)))
				return rc;
			break;
		case 'f':
			if ((rc = parse_format("report", optarg, &fmt)))
				return rc;
			break;
		case 'h': return cli_help(report_usage);
		default: return cli_usage_error("report", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open(c, false)))
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	nm.t = t;
	if (keten_report_build(t, &ro, &rep, &err)) {
		rc = cli_error(&err);
		goto out;
	}
	if (fmt == FMT_JSON)
		cli_print_json(keten_json_report(t, &rep, ro.by));
	else if (fmt == FMT_CSV)
		report_csv(&nm, &rep, ro.by);
	else
		report_table(&nm, &rep, ro.by);
	rc = fflush(stdout) ? EX_IOERR_ : 0;
out:
	keten_txn_end(t);
	keten_json_labels_release(&nm);
	keten_report_release(&rep);
	return rc;
}
