/*
 * cmd_balance.c — keten balance: what this home and each counterparty
 * claimed, paid, confirmed as received and clawed back, and what is still
 * outstanding, summed from the derived per-pair, per-day balance records
 * (never by scanning the ledger); --as-of sums the days up to a date.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "domain.h"

static const char balance_usage[] =
	"usage: keten balance [--with PARTY] [--as-of DATE] [--json]\n"
	"\n"
	"Per counterparty (and direction: this home as payer or as payee): claimed,\n"
	"paid, received (confirmed by the payee), clawed back and repaid, and\n"
	"outstanding = claimed - paid - clawed back + repaid, what the payer still\n"
	"owes the payee (negative: the payee owes money back).  Voided entries do\n"
	"not count.  --as-of counts claims by their entry date, payments by their\n"
	"payment date and receipts by their date, up to and including DATE.\n"
	"--json: an array of {party, name, role, claimed_cents, paid_cents,\n"
	"received_cents, clawback_cents, repaid_cents, outstanding_cents, net_cents}\n"
	"where net_cents > 0 means the counterparty owes this home.\n";

struct row {
	uint8_t party[32];
	bool payee;          /* this home is the payee */
	int64_t claimed, paid, received, clawback, repaid;
};

struct bal_ctx {
	uint8_t self[32], with[32];
	bool by_with;
	uint32_t as_of;
	struct row *rows;
	size_t n, cap;
	bool overflow;
};

static int bal_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct bal_ctx *b = p;
	Keten__State__BalanceDay *d;
	const uint8_t *payer = k + 1, *payee = k + 33, *other;
	bool me_payee;
	struct row *r = NULL;

	if (kl != 69)
		return 0;
	if (memcmp(payer, b->self, 32) == 0) {
		me_payee = false;
		other = payee;
	} else if (memcmp(payee, b->self, 32) == 0) {
		me_payee = true;
		other = payer;
	} else {
		return 0;
	}
	if (b->by_with && memcmp(other, b->with, 32) != 0)
		return 0;
	if (b->as_of && keten_get_be32(k + 65) > b->as_of)
		return 0;
	if (!(d = keten__state__balance_day__unpack(NULL, vl, v)))
		return 0;
	for (size_t i = 0; i < b->n; i++)
		if (b->rows[i].payee == me_payee && memcmp(b->rows[i].party, other, 32) == 0)
			r = &b->rows[i];
	if (!r) {
		if (b->n == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 16;
			struct row *nr = realloc(b->rows, cap * sizeof *nr);
			if (!nr) {
				keten__state__balance_day__free_unpacked(d, NULL);
				return -1;
			}
			b->rows = nr;
			b->cap = cap;
		}
		r = &b->rows[b->n++];
		memset(r, 0, sizeof *r);
		memcpy(r->party, other, 32);
		r->payee = me_payee;
	}
	if (!keten_add_cents(r->claimed, d->claimed_cents, &r->claimed) ||
	    !keten_add_cents(r->paid, d->paid_cents, &r->paid) ||
	    !keten_add_cents(r->received, d->received_cents, &r->received) ||
	    !keten_add_cents(r->clawback, d->clawback_cents, &r->clawback) ||
	    !keten_add_cents(r->repaid, d->repaid_cents, &r->repaid))
		b->overflow = true;
	keten__state__balance_day__free_unpacked(d, NULL);
	return 0;
}

int cmd_balance(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"with", 1, 0, 'w'}, {"as-of", 1, 0, 'a'}, {"help", 0, 0, 'h'}, {0}};
	struct bal_ctx b = {0};
	const char *with = NULL;
	keten_error err = {0};
	keten_txn *t;
	uint8_t pre = DK_BALANCE;
	json_t *arr = NULL;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'w': with = optarg; break;
		case 'a': if ((rc = cli_parse_date("--as-of", optarg, &b.as_of))) return rc; break;
		case 'h': return cli_help(balance_usage);
		default: return cli_usage_error("balance", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("balance", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open(c, false)))
		return rc;
	memcpy(b.self, keten_ledger_info(c->L)->key, 32);
	if (with) {
		if ((rc = cli_resolve_party(c, with, b.with)))
			return rc;
		b.by_with = true;
	}
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_kv_scan(t, KT_STATE, &pre, 1, bal_cb, &b, &err);
	keten_txn_end(t);
	if (rc) {
		free(b.rows);
		return cli_error(&err);
	}
	if (b.overflow) {
		free(b.rows);
		fprintf(stderr, "keten: a balance overflows\n");
		return EX_DATAERR_;
	}
	if (c->json)
		arr = json_array();
	else
		printf("%-16s %-24s %-6s %14s %14s %14s %14s %14s\n", "party", "name", "role", "claimed", "paid",
		       "received", "clawed back", "outstanding");
	for (size_t i = 0; i < b.n; i++) {
		struct row *r = &b.rows[i];
		char hex[65], name[128];
		int64_t out = r->claimed - r->paid - r->clawback + r->repaid;
		keten_hex(hex, r->party, 32);
		cli_party_name(c, r->party, name, sizeof name);
		if (arr) {
			json_t *j = json_object();
			json_object_set_new(j, "party", json_string(hex));
			json_object_set_new(j, "name", json_string(name));
			json_object_set_new(j, "role", json_string(r->payee ? "payee" : "payer"));
			json_object_set_new(j, "claimed_cents", json_integer(r->claimed));
			json_object_set_new(j, "paid_cents", json_integer(r->paid));
			json_object_set_new(j, "received_cents", json_integer(r->received));
			json_object_set_new(j, "clawback_cents", json_integer(r->clawback));
			json_object_set_new(j, "repaid_cents", json_integer(r->repaid));
			json_object_set_new(j, "outstanding_cents", json_integer(out));
			json_object_set_new(j, "net_cents", json_integer(r->payee ? out : -out));
			json_array_append_new(arr, j);
		} else {
			char a1[40], a2[40], a3[40], a4[40], a5[40];
			keten_format_cents_human(a1, sizeof a1, r->claimed);
			keten_format_cents_human(a2, sizeof a2, r->paid);
			keten_format_cents_human(a3, sizeof a3, r->received);
			keten_format_cents_human(a4, sizeof a4, r->clawback);
			keten_format_cents_human(a5, sizeof a5, out);
			printf("%.16s %-24.24s %-6s %14s %14s %14s %14s %14s\n", hex, name, r->payee ? "payee" : "payer",
			       a1, a2, a3, a4, a5);
		}
	}
	if (arr)
		cli_print_json(arr);
	free(b.rows);
	return 0;
}
