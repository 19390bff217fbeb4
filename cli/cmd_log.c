/*
 * cmd_log.c — keten log and keten show: read entries, newest first, with
 * their status (keten_entries_each, keten_entry_status_get; a correction
 * that voided an entry makes it "void"), as a table or JSON.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keten/entries.h"
#include "keten/json.h"

static const char log_usage[] = "usage: keten log [--author PARTY] [--type TYPE] [--limit N]\n"
				"\n"
				"List entries, newest first: id prefix, time, type, author, status\n"
				"(applied, void: applied and later voided by a correction, pending,\n"
				"rejected, stub).\n"
				"Types: certificate revocation contract indexation allocation subcontract\n"
				"answer delivery claim payment receipt result clawback dispute response\n"
				"ruling correction checkpoint.\n";

struct log_ctx {
	cli *c;
	json_t *arr;
};

static int log_cb(const keten_entry *e, const keten_entry_status *st, void *p)
{
	struct log_ctx *l = p;
	char hex[65], name[128], when[32];

	if (l->arr) {
		json_array_append_new(l->arr, keten_json_entry_status(e, st, false));
		return 0;
	}
	keten_hex(hex, e->id, 32);
	keten_format_date(when, sizeof when, keten_date_of_ms(e->timestamp_ms));
	cli_party_name(l->c, e->author, name, sizeof name);
	printf("%.16s  %s  %-12s %-24s %s%s%s\n", hex, when, keten_body_type_name(e->body_type), name[0] ? name : "?",
	       st->voided ? "void" : keten_json_status_name(st->status), st->rule[0] ? ": " : "", st->rule);
	return 0;
}

int cmd_log(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"author", 1, 0, 'a'}, {"type", 1, 0, 't'}, {"limit", 1, 0, 'n'}, {"help", 0, 0, 'h'}, {0}};
	struct log_ctx l = {.c = c};
	keten_entry_filter f = {.order = KETEN_NEWEST_FIRST, .status = true};
	const char *author = NULL, *type = NULL;
	keten_error err = {0};
	keten_txn *t;
	uint8_t akey[32];
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': author = optarg; break;
		case 't': type = optarg; break;
		case 'n': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1)
				return cli_usage_error("log", "--limit '%s' is not a positive number", optarg);
			f.limit = (size_t)n;
			break;
		}
		case 'h': return cli_help(log_usage);
		default: return cli_usage_error("log", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("log", "unexpected argument '%s'", argv[optind]);
	if (type && !(f.body_type = keten_body_type_from_name(type)))
		return cli_usage_error("log", "'%s' is not an entry type", type);
	if ((rc = cli_open(c, false)))
		return rc;
	if (author) {
		if ((rc = cli_resolve_party(c, author, akey)))
			return rc;
		f.author = akey;
	}
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	l.arr = c->json ? json_array() : NULL;
	rc = keten_entries_each(t, &f, log_cb, &l, &err);
	keten_txn_end(t);
	if (l.arr)
		cli_print_json(l.arr);
	return rc ? cli_error(&err) : 0;
}

static const char show_usage[] = "usage: keten show ID [--raw]\n"
				 "\n"
				 "Show one entry (ID: full id or a unique prefix of at least 8 hex digits):\n"
				 "its header, status and decoded body; for an allocation also \"state\", what\n"
				 "this node derived of it (closed, stop code, a change, volume, marks).\n"
				 "--raw prints the stored bytes in hex.\n"
				 "A stub says that its body is withheld from this node and why.\n";

static void print_entry(cli *c, const keten_entry *e, const keten_entry_status *st, json_t *state, bool raw)
{
	if (raw) {
		char *hex = malloc(e->raw_len * 2 + 1);
		if (hex) {
			keten_hex(hex, e->raw, e->raw_len);
			puts(hex);
			free(hex);
		}
	} else if (c->json) {
		json_t *j = keten_json_entry_status(e, st, true);
		if (state)
			json_object_set(j, "state", state);
		cli_print_json(j);
	} else {
		json_t *j = keten_json_entry_status(e, st, true);
		if (state)
			json_object_set(j, "state", state);
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s) {
			puts(s);
			free(s);
		}
		json_decref(j);
	}
}

int cmd_show(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"raw", 0, 0, 'r'}, {"help", 0, 0, 'h'}, {0}};
	keten_error err = {0};
	keten_entry e;
	keten_entry_status st = {0};
	keten_txn *t;
	json_t *state = NULL;
	uint8_t id[32];
	bool raw = false;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': raw = true; break;
		case 'h': return cli_help(show_usage);
		default: return cli_usage_error("show", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("show", "takes one ID");
	if ((rc = cli_open(c, false)) || (rc = cli_resolve_id(c, argv[optind], id)))
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_store_get_entry(t, id, &e, &err);
	if (rc == 0) {
		keten_entry_status_get(t, id, &st, NULL);
		state = keten_json_allocation_state(t, id); /* what the rules made of an allocation */
	}
	keten_txn_end(t);
	if (rc)
		return cli_error(&err);
	print_entry(c, &e, &st, state, raw);
	json_decref(state);
	keten_entry_release(&e);
	return 0;
}
