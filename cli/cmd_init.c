/*
 * cmd_init.c — keten init and keten whoami.  init --anchor also makes the
 * new home an authority in one step: its own trust anchor, and its
 * self-certificate in its roles (the roles every role rule reads).
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static const char init_usage[] =
	"usage: keten init --name NAME --role ROLE[,ROLE] [--agb CODE] [--municipality CBS[,CBS]]\n"
	"                  [--anchor] [--no-passphrase]\n"
	"\n"
	"Create a home (--home, $KETEN_HOME or ~/.keten): an Ed25519 key in an\n"
	"encrypted keystore (passphrase from KETEN_PASSPHRASE, else asked) and an\n"
	"empty ledger.  Roles: region, municipality, lead-provider, subcontractor,\n"
	"auditor.  --no-passphrase makes a throwaway home whose key is not protected.\n"
	"\n"
	"--anchor (role municipality or region) makes the home its own trust anchor\n"
	"and appends its self-certificate with its roles, AGB and CBS codes: the\n"
	"same as 'keten trust add KEY --name NAME' and 'keten party certify KEY\n"
	"--name NAME --role ROLE --municipality CBS'.  A municipality needs\n"
	"--municipality with it.  Prints the key; --json also the certificate id.\n";

static int roles_ok(const char *roles)
{
	char buf[64], *save, *tok;
	snprintf(buf, sizeof buf, "%s", roles);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!keten_role_from_name(tok))
			return 0;
	return 1;
}

/* Anchor the new home in itself and certify it in its roles: its trust
 * anchor, then its certificate (keten_record).  id receives the
 * certificate's id.  Returns the exit code. */
static int self_anchor(keten_ledger *L, const keten_home_info *in, const char *pass, uint8_t id[32])
{
	keten_draft d = {.kind = KETEN_DRAFT_CERTIFICATE};
	keten_draft_certificate *pc = &d.certificate;
	char roles_s[sizeof in->role], mun_s[sizeof in->municipality], *save, *tok;
	const char *ml[8];
	uint32_t roles[8];
	keten_draft_need need = KETEN_NEED_NONE;
	keten_recorded r;
	keten_error err = {0};

	memcpy(pc->key, keten_ledger_info(L)->key, 32);
	pc->name = in->name;
	pc->agb = in->agb[0] ? in->agb : NULL;
	snprintf(roles_s, sizeof roles_s, "%s", in->role);
	for (tok = strtok_r(roles_s, ",", &save); tok && pc->n_roles < 8; tok = strtok_r(NULL, ",", &save))
		roles[pc->n_roles++] = keten_role_from_name(tok);
	pc->roles = roles;
	snprintf(mun_s, sizeof mun_s, "%s", in->municipality);
	for (tok = strtok_r(mun_s, ",", &save); tok && pc->n_municipalities < 8; tok = strtok_r(NULL, ",", &save))
		ml[pc->n_municipalities++] = tok;
	pc->municipalities = ml;
	if (keten_ledger_unlock(L, pass, &err) || keten_ledger_trust_add(L, pc->key, in->name, &err) ||
	    keten_record(L, &d, 1, &r, &need, &err)) {
		int rc = cli_error(&err);
		fprintf(stderr,
		        "keten: the home was made, but not anchored: run 'keten trust add' and "
		        "'keten party certify' with its key\n");
		return rc;
	}
	memcpy(id, r.id, 32);
	return 0;
}

static bool has_role(const char *roles, const char *role)
{
	char buf[64], *save, *tok;
	snprintf(buf, sizeof buf, "%s", roles);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, role) == 0)
			return true;
	return false;
}

/* What --anchor needs: an authority's role, and a municipality's CBS code. */
static int anchor_ok(const keten_home_info *in)
{
	if (!has_role(in->role, "municipality") && !has_role(in->role, "region"))
		return cli_usage_error("init", "--anchor is for an authority: role municipality or region");
	if (has_role(in->role, "municipality") && !in->municipality[0])
		return cli_usage_error("init", "--anchor with role municipality needs --municipality CBS");
	return 0;
}

int cmd_init(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"name", 1, 0, 'n'},          {"role", 1, 0, 'r'},   {"agb", 1, 0, 'a'},  {"municipality", 1, 0, 'm'},
		{"no-passphrase", 0, 0, 'P'}, {"anchor", 0, 0, 'A'}, {"help", 0, 0, 'h'}, {0}};
	keten_home_info info = {0};
	keten_error err = {0};
	const char *pass = NULL;
	bool nopass = false, anchor = false;
	uint8_t cert[32];
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': snprintf(info.name, sizeof info.name, "%s", optarg); break;
		case 'r': snprintf(info.role, sizeof info.role, "%s", optarg); break;
		case 'a': snprintf(info.agb, sizeof info.agb, "%s", optarg); break;
		case 'm': snprintf(info.municipality, sizeof info.municipality, "%s", optarg); break;
		case 'P': nopass = true; break;
		case 'A': anchor = true; break;
		case 'h': return cli_help(init_usage);
		default: return cli_usage_error("init", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
	if (!info.name[0] || !info.role[0])
		return cli_usage_error("init", "--name and --role are required");
	if (!roles_ok(info.role))
		return cli_usage_error("init",
		                       "role '%s' is not one of region, municipality, lead-provider, "
		                       "subcontractor, auditor",
		                       info.role);
	if (cli_check_text("--name", info.name))
		return EX_DATAERR_;
	if (anchor && (rc = anchor_ok(&info)))
		return rc;
	if (!nopass) {
		pass = cli_passphrase("new passphrase: ", true);
		if (!pass || !*pass) {
			fprintf(stderr,
			        "keten: a passphrase is needed: set KETEN_PASSPHRASE, run on a terminal, "
			        "or use --no-passphrase for a throwaway home\n");
			return EX_USAGE_;
		}
	}
	if (keten_home_create(c->home, pass, &info, &err))
		return cli_error(&err);
	{
		keten_ledger *L;
		char hex[65];
		if (keten_ledger_open(c->home, &L, &err))
			return cli_error(&err);
		keten_hex(hex, keten_ledger_info(L)->key, 32);
		rc = anchor ? self_anchor(L, &info, pass, cert) : 0;
		keten_ledger_close(L);
		if (rc)
			return rc;
		if (c->json) {
			json_t *j = json_object();
			json_object_set_new(j, "name", json_string(info.name));
			json_object_set_new(j, "role", json_string(info.role));
			json_object_set_new(j, "key", json_string(hex));
			json_object_set_new(j, "home", json_string(c->home));
			if (anchor) {
				char ch[65];
				keten_hex(ch, cert, 32);
				json_object_set_new(j, "anchor", json_true());
				json_object_set_new(j, "certificate", json_string(ch));
			}
			cli_print_json(j);
		} else {
			printf("%s\n", hex);
		}
	}
	return 0;
}

static const char whoami_usage[] =
	"usage: keten whoami [--json]\n\nPrint this home's name, role and public key (64 hex).\n";

int cmd_whoami(cli *c, int argc, char **argv)
{
	const keten_home_info *in;
	char hex[65];
	int rc;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cli_help(whoami_usage);
	if (argc > 1)
		return cli_usage_error("whoami", "unexpected argument '%s'", argv[1]);
	if ((rc = cli_open(c, false)))
		return rc;
	in = keten_ledger_info(c->L);
	keten_hex(hex, in->key, 32);
	if (c->json) {
		json_t *j = json_object();
		json_object_set_new(j, "name", json_string(in->name));
		json_object_set_new(j, "role", json_string(in->role));
		json_object_set_new(j, "key", json_string(hex));
		if (in->agb[0])
			json_object_set_new(j, "agb", json_string(in->agb));
		if (in->municipality[0])
			json_object_set_new(j, "municipality", json_string(in->municipality));
		json_object_set_new(j, "protected", json_boolean(!in->unprotected));
		cli_print_json(j);
	} else {
		printf("name: %s\nrole: %s\nkey:  %s\n", in->name, in->role, hex);
		if (in->agb[0])
			printf("agb:  %s\n", in->agb);
		if (in->municipality[0])
			printf("municipality: %s\n", in->municipality);
		if (in->unprotected)
			printf("key protection: none (made with --no-passphrase)\n");
	}
	return 0;
}
