/*
 * cmd_dispute.c — keten dispute open|respond|rule|list|show.
 *
 * open, respond and rule record a draft (keten_record composes the body
 * and its audience; the rules are the ledger's); list and show print the
 * dispute shapes of keten/json.h.  show lays out the whole
 * evidence chain an auditor needs: each disputed entry with its type,
 * author, status, decoded fields and whether its signature verifies, the
 * responses in time order, and the ruling with its adjustments.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keten/json.h"

static const char dispute_usage[] =
	"usage: keten dispute open ENTRY[,ENTRY...] --reason TEXT [--amount EUR]\n"
	"       keten dispute respond DISPUTE --text TEXT [--entries ENTRY[,ENTRY...]]\n"
	"       keten dispute rule DISPUTE --decision TEXT [--owes DEBTOR:CREDITOR:EUR]...\n"
	"       keten dispute list [--open]\n"
	"       keten dispute show DISPUTE\n"
	"\n"
	"open     contest entries (any certified party); --amount is the sum in\n"
	"         dispute.  The dispute goes to its opener, the authors and\n"
	"         recipients of the disputed entries, and their municipality.\n"
	"respond  add your side (only a party to the dispute: its opener, an\n"
	"         author or a recipient of a disputed entry), with optional\n"
	"         further entries as evidence.\n"
	"rule     decide (only a municipality or region; once per dispute).\n"
	"         Each --owes says DEBTOR pays CREDITOR an amount; parties by\n"
	"         name or key prefix.\n"
	"list     every dispute, or only those not yet ruled.\n"
	"show     the dispute with its evidence (signatures checked), the\n"
	"         responses and the ruling.\n"
	"\n"
	"Entries are named by id or a unique prefix of at least 8 hex digits.\n"
	"Amounts: 1234.56 or 1234,56 euro, more than zero.  --json for machine output.\n";

/* Resolve a comma-separated list of entry ids, dropping repeats. */
static int resolve_list(cli *c, const char *opt, char *list, uint8_t (*ids)[32], size_t *n)
{
	char *save, *tok;
	int rc;

	*n = 0;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint8_t id[32];
		bool seen = false;
		if (!*tok)
			continue;
		if ((rc = cli_resolve_id(c, tok, id)))
			return rc;
		for (size_t i = 0; i < *n && !seen; i++)
			seen = memcmp(ids[i], id, 32) == 0;
		if (seen)
			continue;
		if (*n == KETEN_DRAFT_MAX_DISPUTED)
			return cli_usage_error("dispute", "%s names more than %u entries", opt,
			                       KETEN_DRAFT_MAX_DISPUTED);
		memcpy(ids[(*n)++], id, 32);
	}
	if (*n == 0)
		return cli_usage_error("dispute", "%s names no entry", opt);
	return 0;
}

/* An amount typed by a person; signs are let through so that the ledger's
 * rule 'amount-not-positive' names the refusal. */
static int parse_amount(const char *opt, const char *s, int64_t *cents)
{
	if (keten_parse_cents(s, true, cents) != 0)
		return cli_usage_error("dispute", "%s '%s' is not an amount in euro (1234.56 or 1234,56)", opt, s);
	return 0;
}

/* open ----------------------------------------------------------------------- */

static int dispute_open(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"reason", 1, 0, 'r'}, {"amount", 1, 0, 'a'}, {"help", 0, 0, 'h'}, {0}};
	keten_draft d = {.kind = KETEN_DRAFT_DISPUTE};
	uint8_t ids[KETEN_DRAFT_MAX_DISPUTED][32];
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': d.dispute.text = optarg; break;
		case 'a':
			if ((rc = parse_amount("--amount", optarg, &d.dispute.amount_cents)))
				return rc;
			d.dispute.has_amount = true;
			break;
		case 'h': return cli_help(dispute_usage);
		default: return cli_usage_error("dispute", "unknown option");
		}
	}
	if (optind != argc - 1 || !d.dispute.text)
		return cli_usage_error("dispute", "open takes ENTRY[,ENTRY...] and --reason TEXT");
	if ((rc = cli_check_text("--reason", d.dispute.text)))
		return rc;
	if ((rc = cli_open(c, false)) || (rc = resolve_list(c, "ENTRY", argv[optind], ids, &d.dispute.n_entries)))
		return rc;
	d.dispute.entries = (const uint8_t(*)[32])ids;
	return cli_record(c, &d, NULL, NULL);
}

/* respond -------------------------------------------------------------------- */

static int dispute_respond(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"text", 1, 0, 't'}, {"entries", 1, 0, 'e'}, {"help", 0, 0, 'h'}, {0}};
	keten_draft d = {.kind = KETEN_DRAFT_RESPONSE};
	uint8_t ids[KETEN_DRAFT_MAX_DISPUTED][32];
	char *entries = NULL;
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': d.response.text = optarg; break;
		case 'e': entries = optarg; break;
		case 'h': return cli_help(dispute_usage);
		default: return cli_usage_error("dispute", "unknown option");
		}
	}
	if (optind != argc - 1 || !d.response.text)
		return cli_usage_error("dispute", "respond takes one DISPUTE and --text TEXT");
	if ((rc = cli_check_text("--text", d.response.text)))
		return rc;
	if ((rc = cli_open(c, false)) || (rc = cli_resolve_id(c, argv[optind], d.response.dispute)))
		return rc;
	if (entries && (rc = resolve_list(c, "--entries", entries, ids, &d.response.n_entries)))
		return rc;
	d.response.entries = (const uint8_t(*)[32])ids;
	return cli_record(c, &d, NULL, NULL);
}

/* rule ----------------------------------------------------------------------- */

/* "DEBTOR:CREDITOR:EUR" into an adjustment. */
static int parse_owes(cli *c, const char *s, keten_draft_owes *x)
{
	char buf[512];
	char *first, *last;
	int rc;

	snprintf(buf, sizeof buf, "%s", s);
	first = strchr(buf, ':');
	last = strrchr(buf, ':');
	if (!first || first == last || first == buf || last == first + 1 || !last[1])
		return cli_usage_error("dispute", "--owes '%s' is not DEBTOR:CREDITOR:EUR", s);
	*first = *last = 0;
	if ((rc = parse_amount("--owes", last + 1, &x->amount_cents)))
		return rc;
	if ((rc = cli_resolve_party(c, buf, x->debtor)) || (rc = cli_resolve_party(c, first + 1, x->creditor)))
		return rc;
	return 0;
}

static int dispute_rule(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"decision", 1, 0, 'd'}, {"owes", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0}};
	keten_draft d = {.kind = KETEN_DRAFT_RULING};
	keten_draft_owes adj[KETEN_DRAFT_MAX_OWES];
	const char *owes[KETEN_DRAFT_MAX_OWES];
	size_t n_owes = 0;
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': d.ruling.decision = optarg; break;
		case 'o':
			if (n_owes == KETEN_DRAFT_MAX_OWES)
				return cli_usage_error("dispute", "at most %u --owes", KETEN_DRAFT_MAX_OWES);
			owes[n_owes++] = optarg;
			break;
		case 'h': return cli_help(dispute_usage);
		default: return cli_usage_error("dispute", "unknown option");
		}
	}
	if (optind != argc - 1 || !d.ruling.decision)
		return cli_usage_error("dispute", "rule takes one DISPUTE and --decision TEXT");
	if ((rc = cli_check_text("--decision", d.ruling.decision)))
		return rc;
	if ((rc = cli_open(c, false)) || (rc = cli_resolve_id(c, argv[optind], d.ruling.dispute)))
		return rc;
	for (size_t i = 0; i < n_owes; i++)
		if ((rc = parse_owes(c, owes[i], &adj[i])))
			return rc;
	d.ruling.owes = adj;
	d.ruling.n_owes = n_owes;
	return cli_record(c, &d, NULL, NULL);
}

/* list ----------------------------------------------------------------------- */

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* One line of `keten dispute list` per summary of keten_json_disputes. */
static void print_list(json_t *arr)
{
	size_t i;
	json_t *d;
	json_array_foreach(arr, i, d)
	{
		const char *text = json_string_value(json_object_get(d, "text"));
		size_t n_entries = json_array_size(json_object_get(d, "entries"));
		size_t n_responses = (size_t)json_integer_value(json_object_get(d, "responses"));
		char amount[40] = "";
		if (json_object_get(d, "amount_cents"))
			keten_format_cents_human(amount, sizeof amount,
			                         json_integer_value(json_object_get(d, "amount_cents")));
		printf("%.16s  %s  %-5s  %-24s %14s  %zu entr%s, %zu response%s  %.60s\n", jstr(d, "id"),
		       jstr(d, "opened"), jstr(d, "status"), jstr(d, "opener_name"), amount, n_entries,
		       n_entries == 1 ? "y" : "ies", n_responses, n_responses == 1 ? "" : "s", text ? text : "");
	}
}

static int dispute_list(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"open", 0, 0, 'o'}, {"help", 0, 0, 'h'}, {0}};
	keten_error err = {0};
	keten_txn *t;
	json_t *arr = NULL;
	bool open_only = false;
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'o': open_only = true; break;
		case 'h': return cli_help(dispute_usage);
		default: return cli_usage_error("dispute", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("dispute", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open(c, false)))
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_json_disputes(t, open_only, &arr, &err);
	keten_txn_end(t);
	if (rc)
		return cli_error(&err);
	if (c->json) {
		cli_print_json(arr);
	} else {
		print_list(arr);
		json_decref(arr);
	}
	return 0;
}

/* show ----------------------------------------------------------------------- */

static const char *who(json_t *o, const char *field, char *buf, size_t len)
{
	char nfield[64];
	snprintf(nfield, sizeof nfield, "%s_name", field);
	if (*jstr(o, nfield))
		snprintf(buf, len, "%s", jstr(o, nfield));
	else
		snprintf(buf, len, "%.16s", jstr(o, field));
	return buf;
}

static const char *day_of(json_t *o, char *buf, size_t len)
{
	keten_format_date(buf, len, keten_date_of_ms(json_integer_value(json_object_get(o, "timestamp_ms"))));
	return buf;
}

static void print_dispute(json_t *j)
{
	json_t *ruling = json_object_get(j, "ruling"), *v;
	char name[128], name2[128], when[16], amount[40];
	size_t i;

	printf("dispute %s  (%s)\n", jstr(j, "id"), jstr(j, "status"));
	printf("opened   %s by %s\n", jstr(j, "opened"), who(j, "opener", name, sizeof name));
	if (json_object_get(j, "amount_cents")) {
		keten_format_cents_human(amount, sizeof amount, json_integer_value(json_object_get(j, "amount_cents")));
		printf("amount   %s\n", amount);
	}
	printf("reason   %s\n", jstr(j, "text"));
	printf("\nevidence\n");
	json_array_foreach(json_object_get(j, "evidence"), i, v)
	{
		json_t *f = json_object_get(v, "fields");
		printf("  %.16s  %-12s by %-24s %-8s signature %s\n", jstr(v, "id"), jstr(v, "type"),
		       who(v, "author", name, sizeof name), jstr(v, "status"),
		       json_is_true(json_object_get(v, "signature_ok")) ? "ok" : "BAD");
		if (json_is_object(f)) {
			char *s = json_dumps(f, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (s)
				printf("      %s\n", s);
			free(s);
		} else {
			printf("      (body withheld from this node)\n");
		}
	}
	printf("\nresponses\n");
	if (json_array_size(json_object_get(j, "responses")) == 0)
		printf("  none\n");
	json_array_foreach(json_object_get(j, "responses"), i, v)
		printf("  %s  %.16s  %s: %s\n", day_of(v, when, sizeof when), jstr(v, "id"),
	               who(v, "author", name, sizeof name), jstr(v, "text"));
	printf("\nruling\n");
	if (!json_is_object(ruling)) {
		printf("  none yet\n");
		return;
	}
	printf("  %s  %.16s  %s: %s\n", day_of(ruling, when, sizeof when), jstr(ruling, "id"),
	       who(ruling, "ruler", name, sizeof name), jstr(ruling, "decision"));
	json_array_foreach(json_object_get(ruling, "adjustments"), i, v)
	{
		keten_format_cents_human(amount, sizeof amount, json_integer_value(json_object_get(v, "amount_cents")));
		printf("    %s owes %s %s\n", who(v, "debtor", name, sizeof name),
		       who(v, "creditor", name2, sizeof name2), amount);
	}
}

static int dispute_show(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"help", 0, 0, 'h'}, {0}};
	keten_error err = {0};
	keten_txn *t;
	uint8_t id[32];
	json_t *j;
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'h': return cli_help(dispute_usage);
		default: return cli_usage_error("dispute", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("dispute", "show takes one DISPUTE");
	if ((rc = cli_open(c, false)) || (rc = cli_resolve_id(c, argv[optind], id)))
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_json_dispute(t, id, &j, &err);
	keten_txn_end(t);
	if (rc == KETEN_ENOTFOUND) {
		fprintf(stderr, "keten: '%s' is not a dispute applied here\n", argv[optind]);
		return EX_NOINPUT_;
	}
	if (rc)
		return cli_error(&err);
	if (c->json) {
		cli_print_json(j);
	} else {
		print_dispute(j);
		json_decref(j);
	}
	return 0;
}

int cmd_dispute(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("dispute", "needs open, respond, rule, list or show");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help(dispute_usage);
	if (strcmp(argv[1], "open") == 0)
		return dispute_open(c, argc, argv);
	if (strcmp(argv[1], "respond") == 0)
		return dispute_respond(c, argc, argv);
	if (strcmp(argv[1], "rule") == 0)
		return dispute_rule(c, argc, argv);
	if (strcmp(argv[1], "list") == 0)
		return dispute_list(c, argc, argv);
	if (strcmp(argv[1], "show") == 0)
		return dispute_show(c, argc, argv);
	return cli_usage_error("dispute", "'%s' is not a dispute command", argv[1]);
}
