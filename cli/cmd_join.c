/*
 * cmd_join.c — keten invite (keten_join_invite: an authority certifies a
 * key and writes its join file) and keten join FILE (keten_join_apply:
 * check the file, then trust its anchor, take the certificates and keep
 * the authority's nodes and TLS CA).  Each parses, calls the library once
 * and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char invite_usage[] =
	"usage: keten invite --key KEY --name NAME --role ROLE[,ROLE] [--agb CODE] [--kvk CODE]\n"
	"                    [--municipality CBS[,CBS]] [--from DATE] [--until DATE]\n"
	"                    [--node URL]... [--tls-ca FILE] -o FILE\n"
	"\n"
	"By an authority (a municipality or region home that is its own trust\n"
	"anchor, 'keten init --anchor'): certify KEY (64 hex, the key the party's\n"
	"'keten init' printed) as 'keten party certify' does, and write its join\n"
	"file to FILE ('-': standard output).  The file holds this home's key and\n"
	"name, its feed up to the new certificate (stubs, but certificates in\n"
	"full), each --node URL with this home's key to pin there, and the TLS CA\n"
	"(--tls-ca, default the home's, 'keten peer tls'), all signed by this\n"
	"home's key.  Hand it to the party, which runs 'keten join FILE'.\n"
	"Refused by rule 'invite-not-authority' in any other home (exit 65).\n";

static int split_list(char *s, const char **out, int max)
{
	int n = 0;
	char *save, *tok;
	for (tok = strtok_r(s, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		out[n++] = tok;
	return n;
}

static int write_out(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
	bool ok;
	if (!f) {
		fprintf(stderr, "keten: cannot write '%s': %s\n", path, strerror(errno));
		return EX_CANTCREAT_;
	}
	ok = fwrite(b, 1, n, f) == n;
	ok = (f == stdout ? fflush(f) : fclose(f)) == 0 && ok;
	if (!ok) {
		fprintf(stderr, "keten: cannot write '%s'\n", path);
		return EX_IOERR_;
	}
	return 0;
}

static void print_invited(cli *c, const keten_join_info *in, const char *path)
{
	char key[65], cert[65];
	keten_hex(key, in->key, 32);
	keten_hex(cert, in->certificate, 32);
	if (c->json) {
		json_t *j = json_object(), *nodes = json_array();
		for (size_t i = 0; i < in->n_nodes; i++)
			json_array_append_new(nodes, json_string(in->nodes[i]));
		json_object_set_new(j, "key", json_string(key));
		json_object_set_new(j, "name", json_string(in->name));
		json_object_set_new(j, "roles", json_string(in->roles));
		json_object_set_new(j, "certificate", json_string(cert));
		json_object_set_new(j, "entries", json_integer((json_int_t)in->n_entries));
		json_object_set_new(j, "nodes", nodes);
		json_object_set_new(j, "tls_ca", json_boolean(in->has_ca));
		json_object_set_new(j, "file", json_string(path));
		cli_print_json(j);
	} else if (strcmp(path, "-") != 0) {
		printf("certified %s (%.16s) as %s: certificate %.16s\n", in->name, key, in->roles, cert);
		printf("join file %s: %zu entries, %zu nodes%s\n", path, in->n_entries, in->n_nodes,
		       in->has_ca ? ", the TLS CA" : "");
	}
}

/* The certificate options, as 'keten party certify' takes them. */
static int cert_option(int o, char *arg, keten_draft_certificate *pc, char **roles, char **mun)
{
	switch (o) {
	case 'k':
		if (keten_unhex(pc->key, 32, arg) != 0)
			return cli_usage_error("invite", "--key '%s' is not 64 hex digits", arg);
		return 0;
	case 'n': pc->name = arg; return cli_check_text("--name", arg);
	case 'r': *roles = arg; return 0;
	case 'a': pc->agb = arg; return 0;
	case 'K': pc->kvk = arg; return 0;
	case 'm': *mun = arg; return 0;
	case 'f': return cli_parse_date("--from", arg, &pc->valid_from);
	case 'u': return cli_parse_date("--until", arg, &pc->valid_until);
	default: return cli_usage_error("invite", "unknown option");
	}
}

int cmd_invite(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"key", 1, 0, 'k'},
	                                     {"name", 1, 0, 'n'},
	                                     {"role", 1, 0, 'r'},
	                                     {"agb", 1, 0, 'a'},
	                                     {"kvk", 1, 0, 'K'},
	                                     {"municipality", 1, 0, 'm'},
	                                     {"from", 1, 0, 'f'},
	                                     {"until", 1, 0, 'u'},
	                                     {"node", 1, 0, 'N'},
	                                     {"tls-ca", 1, 0, 'C'},
	                                     {"output", 1, 0, 'o'},
	                                     {"help", 0, 0, 'h'},
	                                     {0}};
	keten_invite in = {0};
	const char *nodes[KETEN_JOIN_MAX_NODES], *rl[8], *ml[16], *path = NULL;
	char *roles_s = NULL, *mun_s = NULL;
	uint32_t roles[8];
	bool have_key = false;
	keten_join_info info;
	keten_error err = {0};
	uint8_t *file;
	size_t len;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (o == 'h')
			return cli_help(invite_usage);
		if (o == 'o') {
			path = optarg;
		} else if (o == 'C') {
			in.tls_ca = optarg;
		} else if (o == 'N') {
			if (in.n_nodes == KETEN_JOIN_MAX_NODES)
				return cli_usage_error("invite", "at most %u --node URLs", KETEN_JOIN_MAX_NODES);
			nodes[in.n_nodes++] = optarg;
		} else if ((rc = cert_option(o, optarg, &in.cert, &roles_s, &mun_s))) {
			return rc;
		}
		have_key |= o == 'k';
	}
	if (optind != argc || !have_key || !in.cert.name || !roles_s || !path)
		return cli_usage_error("invite", "needs --key, --name, --role and -o FILE");
	in.cert.n_roles = (size_t)split_list(roles_s, rl, 8);
	for (size_t i = 0; i < in.cert.n_roles; i++)
		if (!(roles[i] = keten_role_from_name(rl[i])))
			return cli_usage_error("invite",
			                       "role '%s' is not one of region, municipality, lead-provider, "
			                       "subcontractor, auditor",
			                       rl[i]);
	in.cert.roles = roles;
	in.cert.n_municipalities = mun_s ? (size_t)split_list(mun_s, ml, 16) : 0;
	in.cert.municipalities = ml;
	in.nodes = nodes;
	if ((rc = cli_open(c, true)))
		return rc;
	if (keten_join_invite(c->L, &in, &file, &len, &info, &err))
		return cli_error(&err);
	rc = write_out(path, file, len);
	free(file);
	if (rc == 0)
		print_invited(c, &info, path);
	return rc;
}

static const char join_usage[] = "usage: keten join FILE [--anchor KEY]\n"
				 "\n"
				 "Join the region of the authority that made FILE with 'keten invite'.\n"
				 "FILE is checked first: its signature by the anchor it names, every\n"
				 "entry in it, and a certificate by that anchor for this home's key.  A\n"
				 "file that fails (changed, damaged, for another key, or, with --anchor,\n"
				 "by another anchor than KEY: 64 hex, as the authority told it) is\n"
				 "refused with the rule's name and exit 65, and nothing in the home\n"
				 "changes.  Then the anchor is trusted, the certificates are stored, the\n"
				 "authority's nodes are kept as peers with their keys pinned ('keten peer\n"
				 "list') and its TLS CA is kept in the home (HOME/tls/ca.pem).\n";

static void print_joined(cli *c, const keten_join_info *in)
{
	char anchor[65], cert[65], key[65];
	keten_hex(anchor, in->anchor, 32);
	keten_hex(cert, in->certificate, 32);
	if (c->json) {
		json_t *j = json_object(), *peers = json_array();
		for (size_t i = 0; i < in->n_nodes; i++) {
			json_t *p = json_object();
			keten_hex(key, in->node_keys[i], 32);
			json_object_set_new(p, "url", json_string(in->nodes[i]));
			json_object_set_new(p, "key", json_string(key));
			json_array_append_new(peers, p);
		}
		json_object_set_new(j, "anchor", json_string(anchor));
		json_object_set_new(j, "anchor_name", json_string(in->anchor_name));
		json_object_set_new(j, "name", json_string(in->name));
		json_object_set_new(j, "roles", json_string(in->roles));
		json_object_set_new(j, "certificate", json_string(cert));
		json_object_set_new(j, "entries", json_integer((json_int_t)in->n_entries));
		json_object_set_new(j, "added", json_integer((json_int_t)in->added));
		json_object_set_new(j, "peers", peers);
		if (in->ca_path[0])
			json_object_set_new(j, "tls_ca", json_string(in->ca_path));
		cli_print_json(j);
		return;
	}
	printf("anchor: %s (%s)%s\n", in->anchor_name, anchor,
	       in->anchor_was_known ? ", trusted already" : ", trusted");
	printf("certified: %s as %s (certificate %.16s; %zu entries, %zu new)\n", in->name, in->roles, cert,
	       in->n_entries, in->added);
	for (size_t i = 0; i < in->n_nodes; i++) {
		keten_hex(key, in->node_keys[i], 32);
		printf("peer added: %s (key %.16s pinned)\n", in->nodes[i], key);
	}
	if (in->ca_path[0])
		printf("TLS CA kept: %s\n", in->ca_path);
}

int cmd_join(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"anchor", 1, 0, 'a'}, {"help", 0, 0, 'h'}, {0}};
	uint8_t want[32], *data;
	bool expect = false;
	keten_join_info info;
	keten_error err = {0};
	size_t len;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			if (keten_unhex(want, 32, optarg) != 0)
				return cli_usage_error("join", "--anchor '%s' is not 64 hex digits", optarg);
			expect = true;
			break;
		case 'h': return cli_help(join_usage);
		default: return cli_usage_error("join", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("join", "takes one FILE");
	if ((rc = cli_read_file(argv[optind], KETEN_JOIN_MAX_BYTES, &data, &len)))
		return rc;
	if ((rc = cli_open(c, false)) == 0) {
		if (keten_join_apply(c->L, data, len, expect ? want : NULL, &info, &err))
			rc = cli_error(&err);
		else
			print_joined(c, &info);
	}
	free(data);
	return rc;
}
