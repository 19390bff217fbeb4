/*
 * cmd_party.c — keten trust add|list, keten party certify|revoke|list.
 * certify and revoke record a draft (keten_record); list prints
 * keten_party_each's plain view of every party certified here.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static const char trust_usage[] = "usage: keten trust add KEY --name NAME\n"
				  "       keten trust list\n"
				  "\n"
				  "Make KEY (64 hex) a trust anchor of this node: a certifying authority\n"
				  "whose certificates make other keys count.  An anchor is valid for itself.\n";

struct trust_list {
	json_t *arr;
	cli *c;
};

static int trust_cb(const uint8_t k[32], const char *name, void *p)
{
	struct trust_list *t = p;
	char hex[65];
	keten_hex(hex, k, 32);
	if (t->arr) {
		json_t *o = json_object();
		json_object_set_new(o, "key", json_string(hex));
		json_object_set_new(o, "name", json_string(name));
		json_array_append_new(t->arr, o);
	} else {
		printf("%s  %s\n", hex, name);
	}
	return 0;
}

int cmd_trust(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"name", 1, 0, 'n'}, {"help", 0, 0, 'h'}, {0}};
	const char *name = NULL;
	uint8_t key[32];
	keten_error err = {0};
	int o, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0)
		return argc < 2 ? cli_usage_error("trust", "needs 'add' or 'list'") : cli_help(trust_usage);
	if (strcmp(argv[1], "list") == 0) {
		struct trust_list tl = {c->json ? json_array() : NULL, c};
		keten_txn *t;
		if ((rc = cli_open(c, false)))
			return rc;
		if (keten_store_read(keten_ledger_store(c->L), &t, &err))
			return cli_error(&err);
		rc = keten_trust_each(t, trust_cb, &tl, &err);
		keten_txn_end(t);
		if (tl.arr)
			cli_print_json(tl.arr);
		return rc ? cli_error(&err) : 0;
	}
	if (strcmp(argv[1], "add") != 0)
		return cli_usage_error("trust", "'%s' is not a trust command", argv[1]);
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': name = optarg; break;
		case 'h': return cli_help(trust_usage);
		default: return cli_usage_error("trust", "unknown option");
		}
	}
	if (optind != argc - 1 || !name)
		return cli_usage_error("trust", "add takes one KEY and --name NAME");
	if (keten_unhex(key, 32, argv[optind]) != 0)
		return cli_usage_error("trust", "KEY '%s' is not 64 hex digits", argv[optind]);
	if ((rc = cli_check_text("--name", name)))
		return rc;
	if ((rc = cli_open(c, false)))
		return rc;
	if (keten_ledger_trust_add(c->L, key, name, &err))
		return cli_error(&err);
	return 0;
}

static const char party_usage[] =
	"usage: keten party certify KEY --name NAME --role ROLE[,ROLE] [--agb CODE] [--kvk CODE]\n"
	"                           [--municipality CBS[,CBS]] [--from DATE] [--until DATE]\n"
	"       keten party revoke KEY --reason TEXT [--at DATE]\n"
	"       keten party list\n"
	"\n"
	"certify and revoke append a certificate or revocation entry; only a\n"
	"trust anchor may certify, and only the certifier may revoke.  list shows\n"
	"every party known here with its roles and status.\n";

static int split_list(char *s, char **out, int max)
{
	int n = 0;
	char *save, *tok;
	for (tok = strtok_r(s, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		out[n++] = tok;
	return n;
}

static int certify(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"name", 1, 0, 'n'},  {"role", 1, 0, 'r'},         {"agb", 1, 0, 'a'},
	                                     {"kvk", 1, 0, 'k'},   {"municipality", 1, 0, 'm'}, {"from", 1, 0, 'f'},
	                                     {"until", 1, 0, 'u'}, {"help", 0, 0, 'h'},         {0}};
	keten_draft d = {.kind = KETEN_DRAFT_CERTIFICATE};
	keten_draft_certificate *pc = &d.certificate;
	char *roles_s = NULL, *mun_s = NULL, *rl[8], *ml[16];
	uint32_t roles[8];
	int o, rc, nr;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': pc->name = optarg; break;
		case 'r': roles_s = optarg; break;
		case 'a': pc->agb = optarg; break;
		case 'k': pc->kvk = optarg; break;
		case 'm': mun_s = optarg; break;
		case 'f':
			if ((rc = cli_parse_date("--from", optarg, &pc->valid_from)))
				return rc;
			break;
		case 'u':
			if ((rc = cli_parse_date("--until", optarg, &pc->valid_until)))
				return rc;
			break;
		case 'h': return cli_help(party_usage);
		default: return cli_usage_error("party", "unknown option");
		}
	}
	if (optind != argc - 1 || !pc->name || !roles_s)
		return cli_usage_error("party", "certify takes one KEY, --name and --role");
	if (keten_unhex(pc->key, 32, argv[optind]) != 0)
		return cli_usage_error("party", "KEY '%s' is not 64 hex digits", argv[optind]);
	if ((rc = cli_check_text("--name", pc->name)))
		return rc;
	nr = split_list(roles_s, rl, 8);
	for (int i = 0; i < nr; i++)
		if (!(roles[i] = keten_role_from_name(rl[i])))
			return cli_usage_error("party",
			                       "role '%s' is not one of region, municipality, "
			                       "lead-provider, subcontractor, auditor",
			                       rl[i]);
	pc->roles = roles;
	pc->n_roles = (size_t)nr;
	if (mun_s)
		pc->n_municipalities = (size_t)split_list(mun_s, ml, 16);
	pc->municipalities = (const char *const *)ml;
	return cli_record(c, &d, NULL, NULL);
}

static int revoke(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"reason", 1, 0, 'r'}, {"at", 1, 0, 'a'}, {"help", 0, 0, 'h'}, {0}};
	keten_draft d = {.kind = KETEN_DRAFT_REVOCATION};
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': d.revocation.reason = optarg; break;
		case 'a':
			if ((rc = cli_parse_date("--at", optarg, &d.revocation.at)))
				return rc;
			break;
		case 'h': return cli_help(party_usage);
		default: return cli_usage_error("party", "unknown option");
		}
	}
	if (optind != argc - 1 || !d.revocation.reason)
		return cli_usage_error("party", "revoke takes one KEY and --reason TEXT");
	if ((rc = cli_check_text("--reason", d.revocation.reason)))
		return rc;
	if ((rc = cli_open(c, false)) || (rc = cli_resolve_party(c, argv[optind], d.revocation.key)))
		return rc;
	return cli_record(c, &d, NULL, NULL);
}

static int list_cb(const keten_party_view *p, void *ctx)
{
	json_t *arr = ctx;
	char hex[65], from[11], until[11];

	keten_hex(hex, p->key, 32);
	keten_format_date(from, sizeof from, p->valid_from);
	keten_format_date(until, sizeof until, p->valid_until);
	if (arr) {
		json_t *o = json_object();
		json_object_set_new(o, "key", json_string(hex));
		json_object_set_new(o, "name", json_string(p->name));
		json_object_set_new(o, "roles", json_string(p->roles));
		json_object_set_new(o, "status", json_string(p->status));
		json_object_set_new(o, "anchor", json_boolean(p->anchor));
		if (p->agb)
			json_object_set_new(o, "agb", json_string(p->agb));
		if (p->municipality)
			json_object_set_new(o, "municipality", json_string(p->municipality));
		json_object_set_new(o, "valid_from", json_string(from));
		json_object_set_new(o, "valid_until", json_string(until));
		json_array_append_new(arr, o);
	} else {
		printf("%.16s  %-28s %-26s %-8s %s..%s%s\n", hex, p->name, p->roles, p->status, from, until,
		       p->anchor ? "  (trust anchor)" : "");
	}
	return 0;
}

static int party_list(cli *c)
{
	keten_error err = {0};
	json_t *arr = c->json ? json_array() : NULL;
	keten_txn *t;
	int rc = cli_open(c, false);
	if (rc)
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_party_each(t, list_cb, arr, &err);
	keten_txn_end(t);
	if (arr)
		cli_print_json(arr);
	return rc ? cli_error(&err) : 0;
}

int cmd_party(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("party", "needs certify, revoke or list");
	if (strcmp(argv[1], "--help") == 0)
		return cli_help(party_usage);
	if (strcmp(argv[1], "certify") == 0)
		return certify(c, argc, argv);
	if (strcmp(argv[1], "revoke") == 0)
		return revoke(c, argc, argv);
	if (strcmp(argv[1], "list") == 0)
		return party_list(c);
	return cli_usage_error("party", "'%s' is not a party command", argv[1]);
}
