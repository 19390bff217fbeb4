/*
 * cmd_ijw.c — keten ijw: the region's iJw / iWmo 3.2 messages.
 * `ijw import FILE...` reads each message and records the entries it
 * means (keten_ijw_import: one transaction per file, all of it or none,
 * nothing personal kept); `ijw export --claims` writes this home's
 * claims as JW323-shaped prestatie lines (keten_ijw_claims), CSV or
 * JSON, so that a provider's administration can check them against what
 * it sent.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keten/ijw.h"

static const char ijw_usage[] = "usage: keten ijw import FILE...\n"
				"       keten ijw export --claims [--period YYYY-MM] [--format csv|json]\n"
				"\n"
				"import reads iJw / iWmo release 3.2 messages: JW301 / WMO301 (toewijzing, by\n"
				"the municipality whose CBS code is its Afzender, to a certified lead\n"
				"provider), JW305 / WMO305 and JW307 / WMO307 (start and stop of care) and\n"
				"JW323 / WMO323 (declaratie, by the lead provider whose AGB code is its\n"
				"Afzender).  Each file is checked as a whole and its entries are appended in\n"
				"one transaction, or none when any part is refused; every refused part is\n"
				"named.  The files are read in order and the first bad one stops the rest.\n"
				"A message imported before adds nothing and says so.  No BSN, name, birth\n"
				"date, address or free text is kept: the BSN becomes a pseudonym keyed by\n"
				"this home's keystore (docs/ijw.md).  Prints per file the entries recorded\n"
				"(--json: an array of {file, message, already, entries, notes}).\n"
				"\n"
				"export --claims writes the claims this home made on allocations as JW323\n"
				"prestatie lines, with the standard's field names and no client data; a\n"
				"voided claim gives its debit and a credit line.  --period YYYY-MM keeps the\n"
				"claims whose product period (else the month claimed, else the claim date)\n"
				"lies in that month.  --format csv (the default; RFC 4180, CRLF) or json.\n";

/* import ------------------------------------------------------------------------------------- */

static void print_text(const char *file, const keten_ijw_result *r)
{
	printf("%s: %s %s: %zu entr%s%s\n", file, r->name, r->already ? "already imported, nothing added" : "imported",
	       r->n_entries, r->n_entries == 1 ? "y" : "ies", r->already ? " recorded then" : "");
	for (size_t i = 0; i < r->n_entries; i++) {
		const keten_ijw_entry *e = &r->entries[i];
		char hex[65], amt[32] = "";
		keten_hex(hex, e->id, 32);
		if (e->amount_cents >= 0)
			keten_format_cents(amt, sizeof amt, e->amount_cents);
		printf("  %s%s%s %s%s%s%s%s\n", e->part, e->part[0] ? ": " : "", keten_body_type_name(e->body_type),
		       hex, amt[0] ? " " : "", amt, e->installment[0] ? " " : "", e->installment);
	}
	for (size_t i = 0; i < r->n_notes; i++)
		printf("  %s: %s\n", r->notes[i].part, r->notes[i].text);
}

static json_t *result_json(const char *file, const keten_ijw_result *r)
{
	json_t *o = json_object(), *es = json_array(), *ns = json_array();

	json_object_set_new(o, "file", json_string(file));
	json_object_set_new(o, "message", json_string(r->name));
	json_object_set_new(o, "already", json_boolean(r->already));
	for (size_t i = 0; i < r->n_entries; i++) {
		const keten_ijw_entry *e = &r->entries[i];
		json_t *j = json_object();
		char hex[65];
		keten_hex(hex, e->id, 32);
		json_object_set_new(j, "part", json_string(e->part));
		json_object_set_new(j, "type", json_string(keten_body_type_name(e->body_type)));
		json_object_set_new(j, "id", json_string(hex));
		if (e->amount_cents >= 0)
			json_object_set_new(j, "amount_cents", json_integer(e->amount_cents));
		if (e->installment[0])
			json_object_set_new(j, "installment", json_string(e->installment));
		json_array_append_new(es, j);
	}
	for (size_t i = 0; i < r->n_notes; i++) {
		json_t *j = json_object();
		json_object_set_new(j, "part", json_string(r->notes[i].part));
		json_object_set_new(j, "text", json_string(r->notes[i].text));
		json_array_append_new(ns, j);
	}
	json_object_set_new(o, "entries", es);
	json_object_set_new(o, "notes", ns);
	return o;
}

/* Every refused part of a file; the exit code. */
static int print_faults(const char *file, const keten_ijw_result *r, const keten_error *err)
{
	size_t n = r->n_faults ? r->n_faults : 1;

	for (size_t i = 0; i < n; i++) {
		const keten_error *e = r->n_faults ? &r->faults[i] : err;
		if (e->code == KETEN_ERULE && e->rule[0])
			fprintf(stderr, "keten: %s: %s (refused by rule '%s')\n", file, e->msg, e->rule);
		else
			fprintf(stderr, "keten: %s: %s\n", file, e->msg[0] ? e->msg : keten_strerror(e->code));
	}
	fprintf(stderr, "keten: %s: nothing stored\n", file);
	return cli_exit_code(err->code ? err->code : KETEN_EMALFORMED);
}

static int ijw_import(cli *c, int n, char **files)
{
	json_t *all = c->json ? json_array() : NULL;
	int rc = 0;

	if ((rc = cli_open(c, true)))
		return rc;
	for (int i = 0; i < n && rc == 0; i++) {
		keten_ijw_result r;
		keten_error err = {0};
		uint8_t *buf;
		size_t len;
		if ((rc = cli_read_file(files[i], KETEN_IJW_MAX_BYTES, &buf, &len)))
			break;
		if (keten_ijw_import(c->L, buf, len, &r, &err))
			rc = print_faults(files[i], &r, &err);
		else if (all)
			json_array_append_new(all, result_json(files[i], &r));
		else
			print_text(files[i], &r);
		keten_ijw_result_release(&r);
		free(buf);
		if (rc && i + 1 < n)
			fprintf(stderr, "keten: %d later file%s not read\n", n - i - 1, n - i - 1 == 1 ? "" : "s");
	}
	if (all && rc == 0)
		cli_print_json(all);
	else if (all)
		json_decref(all);
	return rc;
}

/* export ------------------------------------------------------------------------------------- */

static const char *const csv_header[] = {
	"DeclaratieNummer",
	"ReferentieNummer",
	"ToewijzingNummer",
	"Ontvanger",
	"ProductCategorie",
	"ProductCode",
	"ProductPeriode.Begindatum",
	"ProductPeriode.Einddatum",
	"DeclaratieDagtekening",
	"GeleverdVolume",
	"Eenheid",
	"ProductTarief",
	"IngediendBedrag.Bedrag",
	"IngediendBedrag.DebetCredit",
	"keten_claim",
	"keten_installment",
};

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
	fputs(last ? "\r\n" : ",", stdout);
}

/* The fields of one line, as the CSV header names them (buffers in f). */
static void line_fields(const keten_ijw_line *l, char f[16][72])
{
	keten_hex(f[14], l->claim, 32);
	snprintf(f[0], 72, "%s", l->declaratie);
	snprintf(f[1], 72, "%s", l->referentie);
	snprintf(f[2], 72, "%s", l->toewijzing);
	snprintf(f[3], 72, "%s", l->municipality);
	snprintf(f[4], 72, "%s", l->category);
	snprintf(f[5], 72, "%s", l->code);
	keten_format_date(f[6], 72, l->period_from);
	keten_format_date(f[7], 72, l->period_until);
	keten_format_date(f[8], 72, l->date);
	f[9][0] = f[10][0] = f[11][0] = '\0';
	if (l->has_volume) {
		snprintf(f[9], 72, "%lld", (long long)l->volume);
		snprintf(f[10], 72, "%s", l->unit);
		snprintf(f[11], 72, "%lld", (long long)l->tariff_cents);
	}
	snprintf(f[12], 72, "%lld", (long long)l->amount_cents);
	snprintf(f[13], 72, "%s", l->credit ? "C" : "D");
	snprintf(f[15], 72, "%s", l->installment);
}

static void print_lines(const keten_ijw_line *lines, size_t n, bool json)
{
	json_t *arr = json ? json_array() : NULL;
	char f[16][72];

	for (size_t k = 0; !json && k < (sizeof csv_header / sizeof *csv_header); k++)
		csv_field(csv_header[k], k + 1 == (sizeof csv_header / sizeof *csv_header));
	for (size_t i = 0; i < n; i++) {
		line_fields(&lines[i], f);
		if (!json) {
			for (size_t k = 0; k < 16; k++)
				csv_field(f[k], k == 15);
			continue;
		}
		json_t *o = json_object();
		for (size_t k = 0; k < 16; k++) {
			bool number = (k == 9 || k == 11 || k == 12) && f[k][0];
			json_object_set_new(o, csv_header[k],
			                    number            ? json_integer(strtoll(f[k], NULL, 10))
			                            : f[k][0] ? json_string(f[k])
			                                      : json_null());
		}
		json_array_append_new(arr, o);
	}
	if (arr)
		cli_print_json(arr);
}

static int ijw_export(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"claims", 0, 0, 'c'}, {"period", 1, 0, 'p'}, {"format", 1, 0, 'f'}, {"help", 0, 0, 'h'}, {0}};
	const char *period = NULL, *format = "csv";
	bool claims = false;
	keten_ijw_line *lines = NULL;
	keten_error err = {0};
	keten_txn *t;
	size_t n = 0;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': claims = true; break;
		case 'p': period = optarg; break;
		case 'f': format = optarg; break;
		case 'h': return cli_help(ijw_usage);
		default: return cli_usage_error("ijw export", "unknown option");
		}
	}
	if (!claims || optind != argc)
		return cli_usage_error("ijw export", "takes --claims (and --period, --format)");
	if (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
		return cli_usage_error("ijw export", "--format is csv or json");
	if ((rc = cli_open(c, false)))
		return rc;
	if ((rc = keten_store_read(keten_ledger_store(c->L), &t, &err)))
		return cli_error(&err);
	rc = keten_ijw_claims(t, keten_ledger_info(c->L)->key, period, &lines, &n, &err);
	keten_txn_end(t);
	if (rc)
		return rc == KETEN_EINVAL ? cli_usage_error("ijw export", "%s", err.msg) : cli_error(&err);
	print_lines(lines, n, strcmp(format, "json") == 0 || c->json);
	free(lines);
	return 0;
}

int cmd_ijw(cli *c, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return argc < 2 ? cli_usage_error("ijw", "takes import FILE... or export --claims")
				: cli_help(ijw_usage);
	if (strcmp(argv[1], "import") == 0) {
		for (int i = 2; i < argc; i++)
			if (strcmp(argv[i], "--help") == 0)
				return cli_help(ijw_usage);
		if (argc < 3)
			return cli_usage_error("ijw import", "takes one FILE or more");
		return ijw_import(c, argc - 2, argv + 2);
	}
	if (strcmp(argv[1], "export") == 0)
		return ijw_export(c, argc - 1, argv + 1);
	return cli_usage_error("ijw", "'%s' is not import or export", argv[1]);
}
