/*
 * cmd_balance.c — keten balance: what this home and each counterparty
 * claimed, paid, confirmed as received and clawed back, and what is still
 * outstanding, from the derived balance records (keten_recon_balance):
 * one running total per pair this home is in, or with --as-of the pair's
 * daily records up to the date; never by scanning the ledger.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keten/json.h"
#include "keten/reconcile.h"

static const char balance_usage[] = "usage: keten balance [--with PARTY] [--as-of DATE] [--json]\n"
				    "\n"
				    "Per counterparty (and direction: this home as payer or as payee): claimed,\n"
				    "paid, received (confirmed by the payee), clawed back and repaid, and\n"
				    "outstanding = claimed - paid - clawed back + repaid, what the payer still\n"
				    "owes the payee (negative: the payee owes money back).  Voided entries do\n"
				    "not count.  --as-of counts claims by their own date (declaratiedatum;\n"
				    "the day recorded when they give none), payments by their payment date,\n"
				    "receipts by their receipt date and clawbacks by the day recorded, up to\n"
				    "and including DATE.\n"
				    "--json: an array of {party, name, role, claimed_cents, paid_cents,\n"
				    "received_cents, clawback_cents, repaid_cents, outstanding_cents, net_cents}\n"
				    "where net_cents > 0 means the counterparty owes this home.\n";

/* The table: one line per counterparty and direction, names read through t. */
static void print_table(keten_txn *t, const keten_balance *b)
{
	printf("%-16s %-24s %-6s %14s %14s %14s %14s %14s\n", "party", "name", "role", "claimed", "paid", "received",
	       "clawed back", "outstanding");
	for (size_t i = 0; i < b->n_rows; i++) {
		const keten_balance_row *r = &b->rows[i];
		char hex[65], name[128], a1[40], a2[40], a3[40], a4[40], a5[40];
		keten_hex(hex, r->party, 32);
		keten_json_party_name(t, r->party, name, sizeof name);
		keten_format_cents_human(a1, sizeof a1, r->claimed_cents);
		keten_format_cents_human(a2, sizeof a2, r->paid_cents);
		keten_format_cents_human(a3, sizeof a3, r->received_cents);
		keten_format_cents_human(a4, sizeof a4, r->clawback_cents);
		keten_format_cents_human(a5, sizeof a5, r->outstanding_cents);
		printf("%.16s %-24.24s %-6s %14s %14s %14s %14s %14s\n", hex, name, r->payee ? "payee" : "payer", a1,
		       a2, a3, a4, a5);
	}
}

int cmd_balance(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"with", 1, 0, 'w'}, {"as-of", 1, 0, 'a'}, {"help", 0, 0, 'h'}, {0}};
	keten_balance b = {0};
	const char *with = NULL;
	keten_error err = {0};
	keten_txn *t;
	uint8_t self[32], wkey[32];
	uint32_t as_of = 0;
	json_t *arr = NULL;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'w': with = optarg; break;
		case 'a':
			if ((rc = cli_parse_date("--as-of", optarg, &as_of)))
				return rc;
			break;
		case 'h': return cli_help(balance_usage);
		default: return cli_usage_error("balance", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("balance", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open(c, false)))
		return rc;
	memcpy(self, keten_ledger_info(c->L)->key, 32);
	if (with && (rc = cli_resolve_party(c, with, wkey)))
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_recon_balance(t, self, with ? wkey : NULL, as_of, &b, &err);
	if (rc == 0 && !b.overflow && c->json)
		arr = keten_json_balance(t, &b);
	else if (rc == 0 && !b.overflow)
		print_table(t, &b);
	keten_txn_end(t);
	if (rc)
		return cli_error(&err);
	if (b.overflow) {
		keten_balance_release(&b);
		fprintf(stderr, "keten: a balance overflows\n");
		return EX_DATAERR_;
	}
	if (arr)
		cli_print_json(arr);
	keten_balance_release(&b);
	return 0;
}
