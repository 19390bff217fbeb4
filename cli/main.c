/*
 * main.c — the keten program: global options and the command table.
 * Each command group lives in its own file and registers one line here.
 * `keten --commands` prints the table (name, tab, summary): the build
 * makes the man pages and the bash completion from it (scripts/man.sh,
 * scripts/completion.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The Makefile passes its VERSION; a compiler run by hand gets this. */
#ifndef KETEN_VERSION
#define KETEN_VERSION "0.1"
#endif

static const cli_command commands[] = {
	{"init", cmd_init, "create a home: key and ledger"},
	{"whoami", cmd_whoami, "this home's name, role and key"},
	{"trust", cmd_trust, "trust add KEY --name NAME: a certifying authority"},
	{"party", cmd_party, "party certify|revoke|list"},
	{"invite", cmd_invite, "certify a party and write its join file: invite --key KEY ... -o FILE"},
	{"join", cmd_join, "join a region with the join file an authority made: join FILE"},
	{"log", cmd_log, "list entries"},
	{"show", cmd_show, "show one entry"},
	{"verify", cmd_verify, "check every signature, hash, chain link and certificate"},
	{"export", cmd_export, "write entries as NDJSON or CSV"},
	{"import", cmd_import, "append signed entries exported by another home"},
	{"node", cmd_node, "serve this ledger over nng and pull from peers"},
	{"sync", cmd_sync, "pull once from a node: sync URL"},
	{"peer", cmd_peer, "peer add|remove|list|tls: the nodes to pull from, TLS files"},
	{"checkpoint", cmd_checkpoint, "record the heads seen here; --check others' checkpoints"},
	{"contract", cmd_contract, "contract add|index|show|list: framework contracts and tariffs"},
	{"allocate", cmd_allocate, "allocate an arrangement to a lead provider"},
	{"subcontract", cmd_subcontract, "offer part of an allocation to a subcontractor"},
	{"accept", cmd_accept, "accept a subcontract offer"},
	{"refuse", cmd_refuse, "refuse a subcontract offer"},
	{"deliver", cmd_deliver, "record care delivered in a month"},
	{"claim", cmd_claim, "claim an installment, month or units"},
	{"pay", cmd_pay, "record a payment of a claim"},
	{"receipt", cmd_receipt, "confirm what arrived of a payment"},
	{"close", cmd_close, "record the result or stop of an allocation"},
	{"resume", cmd_resume, "resume an allocation paused with stop code 20"},
	{"clawback", cmd_clawback, "reclaim money after an early stop"},
	{"correct", cmd_correct, "void one of this home's own entries"},
	{"balance", cmd_balance, "claimed, paid, received and outstanding per counterparty"},
	{"dispute", cmd_dispute, "dispute open|respond|rule|list|show"},
	{"reconcile", cmd_reconcile, "agreed, claimed, paid, received, overdue and findings per agreement"},
	{"report", cmd_report, "the regional monitor: costs, clients, stops, rijgen, payment delay"},
	{"ijw", cmd_ijw, "ijw import FILE...: iJw/iWmo 3.2 messages in; ijw export --claims: JW323 lines out"},
	{"batch", cmd_batch, "append deliveries, claims, payments, receipts from CSV/NDJSON: all or none"},
	{"serve", cmd_serve, "the read-only audit dashboard in a browser: serve [--http ADDR]"},
};

static int usage(FILE *f)
{
	fprintf(f, "usage: keten [--home DIR] [--json] [--quiet] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'keten COMMAND --help' tells more.  The home is --home, else $KETEN_HOME, else ~/.keten.\n");
	return f == stdout ? 0 : EX_USAGE_;
}

/* Run the command named by rest[0]. */
static int dispatch(cli *c, int n, char **rest)
{
	if (n == 0)
		return usage(stderr);
	if (strcmp(rest[0], "--help") == 0 || strcmp(rest[0], "-h") == 0 || strcmp(rest[0], "help") == 0)
		return usage(stdout);
	if (strcmp(rest[0], "--version") == 0) {
		printf("keten " KETEN_VERSION "\n");
		return 0;
	}
	if (strcmp(rest[0], "--commands") == 0) {
		for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
			printf("%s\t%s\n", commands[i].name, commands[i].summary);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (strcmp(commands[i].name, rest[0]) == 0)
			return commands[i].fn(c, n, rest);
	fprintf(stderr, "keten: '%s' is not a keten command (see 'keten --help')\n", rest[0]);
	return EX_USAGE_;
}

int main(int argc, char **argv)
{
	static char home_buf[4096];
	cli c = {0};
	char **rest = calloc((size_t)argc + 1, sizeof *rest);
	int n = 0, rc;

	if (!rest)
		return EX_SOFTWARE_;
	/* Global options may stand anywhere: take them out before dispatch. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--home") == 0) {
			if (i + 1 >= argc) {
				free(rest);
				return cli_usage_error("keten", "option '--home' needs a directory");
			}
			c.home = argv[++i];
		} else if (strncmp(argv[i], "--home=", 7) == 0) {
			c.home = argv[i] + 7;
		} else if (strcmp(argv[i], "--json") == 0) {
			c.json = true;
		} else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
			c.quiet = true;
		} else if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				rest[n++] = argv[i++];
		} else {
			rest[n++] = argv[i];
		}
	}
	if (!c.home || !*c.home)
		c.home = getenv("KETEN_HOME");
	if (!c.home || !*c.home) {
		const char *h = getenv("HOME");
		snprintf(home_buf, sizeof home_buf, "%s/.keten", h ? h : ".");
		c.home = home_buf;
	}
	rc = dispatch(&c, n, rest);
	cli_close(&c);
	free(rest);
	return rc;
}
