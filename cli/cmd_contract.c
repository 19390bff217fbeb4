/*
 * cmd_contract.c — keten contract add|index|show|list (framework contracts
 * and their tariff tables, read from CSV with libcsv) and keten allocate
 * (a municipality allocates an arrangement or component to a lead
 * provider, at the contract's indexed tariff unless marked maatwerk).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "cli.h"
#include "rules/terms.h"

static int open_read(cli *c, keten_txn **t)
{
	keten_error err = {0};
	int rc = cli_open(c, false);
	if (rc)
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), t, &err))
		return cli_error(&err);
	return 0;
}

/* A contract named by its reference, or by an id prefix. */
static int resolve_contract(cli *c, const char *what, uint8_t id[32])
{
	keten_txn *t;
	int rc = open_read(c, &t);
	if (rc)
		return rc;
	rc = kt_contract_by_ref(t, what, id, NULL);
	keten_txn_end(t);
	if (rc == 0)
		return 0;
	if (strlen(what) >= KETEN_MIN_PREFIX) {
		keten_error err = {0};
		if (keten_store_read(keten_ledger_store(c->L), &t, &err) == 0) {
			rc = keten_store_resolve(t, what, id, &err);
			keten_txn_end(t);
			if (rc == 0)
				return 0;
		}
	}
	fprintf(stderr, "keten: no framework contract '%s' is known here\n", what);
	return EX_NOINPUT_;
}

/* Tariff CSV ------------------------------------------------------------------ */

enum { COL_DOMAIN, COL_PROFILE, COL_NAME, COL_INTENSITY, COL_KIND, COL_CENTS, COL_PER, NCOL };
static const char *const col_names[NCOL] = {"domain", "profile",      "profile_name", "intensity",
                                            "kind",   "tariff_cents", "per"};

struct csv_ctx {
	const char *domain;
	int col[NCOL];
	char *field[16];
	size_t nfield;
	size_t row;
	int bad;
	char msg[200];
	Keten__Tariff **tariffs;
	size_t n_tariffs;
	Keten__Component **components;
	size_t n_components;
};

static void csv_field(void *s, size_t len, void *p)
{
	struct csv_ctx *x = p;
	if (x->nfield < 16) {
		char *f = malloc(len + 1);
		if (f) {
			memcpy(f, s, len);
			f[len] = 0;
		}
		x->field[x->nfield] = f;
	}
	x->nfield++;
}

static const char *unit_of(const char *per)
{
	static const struct {
		const char *nl, *unit;
	} map[] = {
		{"rit", "piece"},     {"consult", "piece"}, {"stuk", "piece"}, {"stuks", "piece"},
		{"piece", "piece"},   {"uur", "hour"},      {"hour", "hour"},  {"minuut", "minute"},
		{"minute", "minute"}, {"dag", "day"},       {"day", "day"},    {"dagdeel", "dagdeel"},
		{"etmaal", "etmaal"}, {"week", "week"},
	};
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (strcmp(map[i].nl, per) == 0)
			return map[i].unit;
	return NULL;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static void csv_row(int term, void *p)
{
	struct csv_ctx *x = p;
	const char *f[NCOL];
	size_t n = x->nfield;

	x->row++;
	if (x->bad || n == 0)
		goto done;
	if (x->row == 1) {
		for (int k = 0; k < NCOL; k++) {
			x->col[k] = -1;
			for (size_t i = 0; i < n && i < 16; i++)
				if (x->field[i] && strcmp(x->field[i], col_names[k]) == 0)
					x->col[k] = (int)i;
			if (x->col[k] < 0 && k != COL_NAME) {
				x->bad = 1;
				snprintf(x->msg, sizeof x->msg, "the header has no column '%s'", col_names[k]);
			}
		}
		goto done;
	}
	for (int k = 0; k < NCOL; k++)
		f[k] = x->col[k] >= 0 && (size_t)x->col[k] < n && x->col[k] < 16 && x->field[x->col[k]]
			? x->field[x->col[k]]
			: "";
	if (!all_digits(f[COL_CENTS]) || strlen(f[COL_CENTS]) > 13) {
		x->bad = 1;
		snprintf(x->msg, sizeof x->msg, "row %zu: tariff_cents '%s' is not a whole number of cents", x->row,
		         f[COL_CENTS]);
		goto done;
	}
	if (strcmp(f[COL_DOMAIN], "component") == 0) {
		Keten__Component *k = calloc(1, sizeof *k);
		const char *unit = unit_of(f[COL_PER]);
		void *arr = realloc(x->components, (x->n_components + 1) * sizeof *x->components);
		if (!k || !arr || !unit) {
			free(k);
			if (arr)
				x->components = arr;
			x->bad = 1;
			snprintf(x->msg, sizeof x->msg, "row %zu: unit '%s' is not known", x->row, f[COL_PER]);
			goto done;
		}
		x->components = arr;
		keten__component__init(k);
		k->code = strdup(f[COL_PROFILE]);
		k->name = strdup(f[COL_NAME]);
		k->cents_per_unit = strtoll(f[COL_CENTS], NULL, 10);
		k->unit = (char *)unit;
		x->components[x->n_components++] = k;
	} else if (strcmp(f[COL_DOMAIN], x->domain) == 0) {
		Keten__Tariff *t = calloc(1, sizeof *t);
		uint32_t kind = strcmp(f[COL_KIND], "herstel") == 0 ? KETEN__KIND__HERSTEL
			: strcmp(f[COL_KIND], "duurzaam") == 0      ? KETEN__KIND__DUURZAAM
								    : 0;
		const char *want = kind == KETEN__KIND__HERSTEL ? "traject" : "maand";
		void *arr = realloc(x->tariffs, (x->n_tariffs + 1) * sizeof *x->tariffs);
		if (!t || !arr || !kind || strcmp(f[COL_PER], want) != 0) {
			free(t);
			if (arr)
				x->tariffs = arr;
			x->bad = 1;
			snprintf(x->msg, sizeof x->msg,
			         "row %zu: kind '%s' per '%s' is not herstel/traject or duurzaam/maand", x->row,
			         f[COL_KIND], f[COL_PER]);
			goto done;
		}
		x->tariffs = arr;
		keten__tariff__init(t);
		t->domain = (char *)x->domain;
		t->profile = strdup(f[COL_PROFILE]);
		t->name = strdup(f[COL_NAME]);
		t->intensity = strdup(f[COL_INTENSITY]);
		t->kind = kind;
		t->cents = strtoll(f[COL_CENTS], NULL, 10);
		t->per = kind == KETEN__KIND__HERSTEL ? "traject" : "maand";
		x->tariffs[x->n_tariffs++] = t;
	}
done:
	for (size_t i = 0; i < n && i < 16; i++)
		free(x->field[i]);
	x->nfield = 0;
	(void)term;
}

static int read_tariffs(const char *path, struct csv_ctx *x)
{
	struct csv_parser p;
	char buf[4096];
	size_t got;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "keten: cannot read '%s': %s\n", path, strerror(errno));
		return EX_NOINPUT_;
	}
	if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL) != 0) {
		fclose(f);
		return EX_SOFTWARE_;
	}
	while ((got = fread(buf, 1, sizeof buf, f)) > 0)
		if (csv_parse(&p, buf, got, csv_field, csv_row, x) != got) {
			x->bad = 1;
			snprintf(x->msg, sizeof x->msg, "%s", csv_strerror(csv_error(&p)));
			break;
		}
	if (!x->bad)
		csv_fini(&p, csv_field, csv_row, x);
	csv_free(&p);
	fclose(f);
	if (!x->bad && x->n_tariffs + x->n_components == 0) {
		x->bad = 1;
		snprintf(x->msg, sizeof x->msg, "no tariff lines for domain %s", x->domain);
	}
	if (x->bad) {
		fprintf(stderr, "keten: tariff file '%s': %s\n", path, x->msg);
		return EX_DATAERR_;
	}
	return 0;
}

static void free_tariffs(struct csv_ctx *x)
{
	for (size_t i = 0; i < x->n_tariffs; i++) {
		free(x->tariffs[i]->profile);
		free(x->tariffs[i]->name);
		free(x->tariffs[i]->intensity);
		free(x->tariffs[i]);
	}
	for (size_t i = 0; i < x->n_components; i++) {
		free(x->components[i]->code);
		free(x->components[i]->name);
		free(x->components[i]);
	}
	free(x->tariffs);
	free(x->components);
}

/* contract add --------------------------------------------------------------- */

static const char contract_usage[] =
	"usage: keten contract add --ref REF --domain jeugd|wmo --municipality CBS[,CBS...]\n"
	"                          --from DATE --until DATE --tariffs FILE.csv [--payment-term DAYS]\n"
	"                          [--subcontract fixed|max|free] [--max-margin PCT]\n"
	"                          [--early-stop CODE=SHARE[:sub][,CODE=SHARE...]] [--eligible PARTY,...]\n"
	"                          [--sub-subcontracting] [--quality TEXT] [--dispute-route TEXT]\n"
	"       keten contract index REF --year YYYY --pct P\n"
	"       keten contract show REF\n"
	"       keten contract list\n"
	"\n"
	"A framework contract (raamcontract) of a municipality or region: tariffs,\n"
	"payment term (default 30 days), the subcontract rule (fixed: subcontract\n"
	"price equals the tariff; max: at most the tariff; free) and maximum margin,\n"
	"and per stop code the share of the up-front 2/3 reclaimed after an early\n"
	"stop (SHARE a percentage; ':sub' passes it on to subcontractors pro rata).\n"
	"The tariff CSV has columns domain,profile,profile_name,intensity,kind,\n"
	"tariff_cents,per: rows of the contract's domain per traject (herstel) or\n"
	"maand (duurzaam) become tariff lines; rows of domain 'component' become\n"
	"P x Q components.  'index' raises every tariff by P percent from 1 January\n"
	"of YYYY (basis points, half away from zero, compounding year over year).\n"
	"Prints the new entry's id.\n";

static int split(char *s, char **out, int max)
{
	int n = 0;
	char *save, *tok;
	for (tok = strtok_r(s, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		out[n++] = tok;
	return n;
}

static int contract_add(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"ref", 1, 0, 'r'},          {"domain", 1, 0, 'd'},
	                                     {"municipality", 1, 0, 'm'}, {"from", 1, 0, 'f'},
	                                     {"until", 1, 0, 'u'},        {"tariffs", 1, 0, 't'},
	                                     {"payment-term", 1, 0, 'p'}, {"subcontract", 1, 0, 's'},
	                                     {"max-margin", 1, 0, 'M'},   {"early-stop", 1, 0, 'e'},
	                                     {"eligible", 1, 0, 'E'},     {"sub-subcontracting", 0, 0, 'S'},
	                                     {"quality", 1, 0, 'q'},      {"dispute-route", 1, 0, 'D'},
	                                     {"help", 0, 0, 'h'},         {0}};
	Keten__FrameworkContract fc = KETEN__FRAMEWORK_CONTRACT__INIT;
	Keten__EarlyStopRule rules[32], *rp[32];
	ProtobufCBinaryData elig[32];
	uint8_t keys[32][32];
	char *mun_s = NULL, *early_s = NULL, *elig_s = NULL, *tariffs = NULL, *ml[32], *el[32];
	struct csv_ctx x = {0};
	uint8_t *buf;
	size_t len;
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': fc.ref = optarg; break;
		case 'd': fc.domain = optarg; break;
		case 'm': mun_s = optarg; break;
		case 'f':
			if ((rc = cli_parse_date("--from", optarg, &fc.valid_from)))
				return rc;
			break;
		case 'u':
			if ((rc = cli_parse_date("--until", optarg, &fc.valid_until)))
				return rc;
			break;
		case 't': tariffs = optarg; break;
		case 'p': {
			char *end;
			long d = strtol(optarg, &end, 10);
			if (*end || d < 1 || d > 365)
				return cli_usage_error("contract", "--payment-term '%s' is not 1 to 365 days", optarg);
			fc.has_payment_term_days = 1;
			fc.payment_term_days = (uint32_t)d;
			break;
		}
		case 's':
			fc.has_subcontract_rule = 1;
			if (strcmp(optarg, "fixed") == 0)
				fc.subcontract_rule = KETEN__SUBCONTRACT_RULE__SUB_FIXED;
			else if (strcmp(optarg, "max") == 0)
				fc.subcontract_rule = KETEN__SUBCONTRACT_RULE__SUB_MAX;
			else if (strcmp(optarg, "free") == 0)
				fc.subcontract_rule = KETEN__SUBCONTRACT_RULE__SUB_FREE;
			else
				return cli_usage_error("contract", "--subcontract is fixed, max or free");
			break;
		case 'M': {
			int32_t bp;
			if (keten_parse_pct_bp(optarg, &bp) != 0 || bp > 10000)
				return cli_usage_error("contract", "--max-margin '%s' is not a percentage", optarg);
			fc.has_max_margin_bp = 1;
			fc.max_margin_bp = (uint32_t)bp;
			break;
		}
		case 'e': early_s = optarg; break;
		case 'E': elig_s = optarg; break;
		case 'S': fc.has_sub_subcontracting = fc.sub_subcontracting = 1; break;
		case 'q': fc.quality = optarg; break;
		case 'D': fc.dispute_route = optarg; break;
		case 'h': return cli_help(contract_usage);
		default: return cli_usage_error("contract", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("contract", "unexpected argument '%s'", argv[optind]);
	if (!fc.ref || !fc.domain || !mun_s || !fc.valid_from || !fc.valid_until || !tariffs)
		return cli_usage_error("contract",
		                       "add needs --ref, --domain, --municipality, --from, --until and --tariffs");
	if (strcmp(fc.domain, "jeugd") != 0 && strcmp(fc.domain, "wmo") != 0)
		return cli_usage_error("contract", "--domain is jeugd or wmo");
	if ((rc = cli_check_text("--ref", fc.ref)) || (rc = cli_check_text("--quality", fc.quality)) ||
	    (rc = cli_check_text("--dispute-route", fc.dispute_route)))
		return rc;
	fc.n_municipalities = (size_t)split(mun_s, ml, 32);
	fc.municipalities = ml;
	if (early_s) {
		int n = split(early_s, el, 32);
		for (int i = 0; i < n; i++) {
			char *eq = strchr(el[i], '='), *sub;
			int32_t bp;
			keten__early_stop_rule__init(&rules[i]);
			if (!eq)
				return cli_usage_error("contract", "--early-stop '%s' is not CODE=SHARE", el[i]);
			*eq = 0;
			sub = strchr(eq + 1, ':');
			if (sub) {
				*sub++ = 0;
				if (strcmp(sub, "sub") != 0)
					return cli_usage_error("contract", "--early-stop suffix ':%s' is not ':sub'",
					                       sub);
				rules[i].has_subcontractor_shares = rules[i].subcontractor_shares = 1;
			}
			if (keten_parse_pct_bp(eq + 1, &bp) != 0 || bp > 10000)
				return cli_usage_error("contract", "--early-stop share '%s' is not a percentage",
				                       eq + 1);
			rules[i].stop_code = el[i];
			rules[i].reclaim_bp = (uint32_t)bp;
			rp[i] = &rules[i];
		}
		fc.n_early_stop = (size_t)n;
		fc.early_stop = rp;
	}
	if ((rc = cli_open(c, false)))
		return rc;
	if (elig_s) {
		int n = split(elig_s, el, 32);
		for (int i = 0; i < n; i++) {
			if ((rc = cli_resolve_party(c, el[i], keys[i])))
				return rc;
			elig[i].data = keys[i];
			elig[i].len = 32;
		}
		fc.n_eligible = (size_t)n;
		fc.eligible = elig;
	}
	x.domain = fc.domain;
	if ((rc = read_tariffs(tariffs, &x))) {
		free_tariffs(&x);
		return rc;
	}
	fc.tariffs = x.tariffs;
	fc.n_tariffs = x.n_tariffs;
	fc.components = x.components;
	fc.n_components = x.n_components;
	len = keten__framework_contract__get_packed_size(&fc);
	buf = malloc(len);
	if (!buf) {
		free_tariffs(&x);
		return EX_SOFTWARE_;
	}
	keten__framework_contract__pack(&fc, buf);
	/* A framework contract is published: no audience restriction. */
	rc = cli_append(c, KETEN__BODY_TYPE__FRAMEWORK_CONTRACT, buf, len, NULL, 0, -1);
	free(buf);
	free_tariffs(&x);
	return rc;
}

static int contract_index(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"year", 1, 0, 'y'}, {"pct", 1, 0, 'p'}, {"help", 0, 0, 'h'}, {0}};
	Keten__Indexation ix = KETEN__INDEXATION__INIT;
	const char *pct = NULL;
	uint8_t id[32], buf[128];
	int32_t bp;
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'y': {
			char *end;
			long y = strtol(optarg, &end, 10);
			if (*end || y < 1900 || y > 2999)
				return cli_usage_error("contract", "--year '%s' is not a year", optarg);
			ix.year = (uint32_t)y;
			break;
		}
		case 'p': pct = optarg; break;
		case 'h': return cli_help(contract_usage);
		default: return cli_usage_error("contract", "unknown option");
		}
	}
	if (optind != argc - 1 || !ix.year || !pct)
		return cli_usage_error("contract", "index takes one REF, --year and --pct");
	if (keten_parse_pct_bp(pct[0] == '-' ? pct + 1 : pct, &bp) != 0)
		return cli_usage_error("contract", "--pct '%s' is not a percentage", pct);
	ix.bp = pct[0] == '-' ? -bp : bp;
	if ((rc = resolve_contract(c, argv[optind], id)))
		return rc;
	ix.contract.data = id;
	ix.contract.len = 32;
	keten__indexation__pack(&ix, buf);
	return cli_append(c, KETEN__BODY_TYPE__INDEXATION, buf, keten__indexation__get_packed_size(&ix), NULL, 0, -1);
}

static json_t *contract_json(keten_txn *t, const Keten__State__ContractState *cs)
{
	json_t *o = json_object(), *ix = json_array();
	Keten__FrameworkContract *fc = NULL;
	char hex[65], d1[11], d2[11];

	keten_hex(hex, cs->id.data, 32);
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "ref", json_string(cs->ref));
	keten_hex(hex, cs->author.data, 32);
	json_object_set_new(o, "author", json_string(hex));
	json_object_set_new(o, "domain", json_string(cs->domain));
	keten_format_date(d1, sizeof d1, cs->valid_from);
	keten_format_date(d2, sizeof d2, cs->valid_until);
	json_object_set_new(o, "valid_from", json_string(d1));
	json_object_set_new(o, "valid_until", json_string(d2));
	json_object_set_new(o, "payment_term_days", json_integer(cs->payment_term_days));
	json_object_set_new(o, "subcontract_rule",
	                    json_string(cs->subcontract_rule == 1           ? "fixed"
	                                        : cs->subcontract_rule == 2 ? "max"
	                                                                    : "free"));
	json_object_set_new(o, "max_margin_bp", json_integer(cs->max_margin_bp));
	json_object_set_new(o, "sub_subcontracting", json_boolean(cs->sub_subcontracting));
	for (size_t i = 0; i < cs->n_indexations; i++) {
		json_t *s = json_object();
		json_object_set_new(s, "year", json_integer(cs->indexations[i]->year));
		json_object_set_new(s, "bp", json_integer(cs->indexations[i]->bp));
		json_array_append_new(ix, s);
	}
	json_object_set_new(o, "indexations", ix);
	if (kt_contract_body(t, cs->id.data, &fc, NULL) == 0) {
		json_t *tl = json_array(), *es = json_array(), *cl = json_array();
		json_object_set_new(o, "municipalities", json_array());
		for (size_t i = 0; i < fc->n_municipalities; i++)
			json_array_append_new(json_object_get(o, "municipalities"), json_string(fc->municipalities[i]));
		for (size_t i = 0; i < fc->n_tariffs; i++) {
			const Keten__Tariff *tf = fc->tariffs[i];
			json_t *l = json_object();
			int64_t now;
			json_object_set_new(l, "profile", json_string(tf->profile));
			json_object_set_new(l, "intensity", json_string(tf->intensity));
			json_object_set_new(l, "kind",
			                    json_string(tf->kind == KETEN__KIND__HERSTEL ? "herstel" : "duurzaam"));
			json_object_set_new(l, "cents", json_integer(tf->cents));
			if (kt_tariff_indexed(cs, tf->cents, 0, keten_today() / 10000, &now))
				json_object_set_new(l, "cents_now", json_integer(now));
			json_array_append_new(tl, l);
		}
		for (size_t i = 0; i < fc->n_components; i++) {
			json_t *l = json_object();
			json_object_set_new(l, "code", json_string(fc->components[i]->code));
			json_object_set_new(l, "cents_per_unit", json_integer(fc->components[i]->cents_per_unit));
			json_object_set_new(l, "unit", json_string(fc->components[i]->unit));
			json_array_append_new(cl, l);
		}
		for (size_t i = 0; i < fc->n_early_stop; i++) {
			json_t *l = json_object();
			json_object_set_new(l, "stop_code", json_string(fc->early_stop[i]->stop_code));
			json_object_set_new(l, "reclaim_bp", json_integer(fc->early_stop[i]->reclaim_bp));
			json_object_set_new(l, "subcontractor_shares",
			                    json_boolean(fc->early_stop[i]->subcontractor_shares));
			json_array_append_new(es, l);
		}
		json_object_set_new(o, "tariffs", tl);
		json_object_set_new(o, "components", cl);
		json_object_set_new(o, "early_stop", es);
		keten__framework_contract__free_unpacked(fc, NULL);
	}
	return o;
}

struct clist {
	keten_txn *t;
	json_t *arr;
};

static int clist_cb(const uint8_t *k CLI_UNUSED, size_t kl CLI_UNUSED, const uint8_t *v, size_t vl, void *p)
{
	struct clist *l = p;
	Keten__State__ContractState *cs = keten__state__contract_state__unpack(NULL, vl, v);
	if (!cs)
		return 0;
	if (l->arr) {
		json_t *o = contract_json(l->t, cs);
		json_object_del(o, "tariffs");
		json_object_del(o, "components");
		json_array_append_new(l->arr, o);
	} else {
		char hex[65], d1[11], d2[11];
		keten_hex(hex, cs->id.data, 32);
		keten_format_date(d1, sizeof d1, cs->valid_from);
		keten_format_date(d2, sizeof d2, cs->valid_until);
		printf("%.16s  %-20s %-6s %s..%s  %zu indexation(s)\n", hex, cs->ref, cs->domain, d1, d2,
		       cs->n_indexations);
	}
	keten__state__contract_state__free_unpacked(cs, NULL);
	return 0;
}

int cmd_contract(cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("contract", "needs add, index, show or list");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help(contract_usage);
	if (strcmp(argv[1], "add") == 0)
		return contract_add(c, argc, argv);
	if (strcmp(argv[1], "index") == 0)
		return contract_index(c, argc, argv);
	if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "show") == 0) {
		keten_txn *t;
		keten_error err = {0};
		int rc;
		if (argc > 2 && strcmp(argv[2], "--help") == 0)
			return cli_help(contract_usage);
		if (strcmp(argv[1], "show") == 0) {
			Keten__State__ContractState *cs = NULL;
			uint8_t id[32];
			json_t *o;
			if (argc != 3)
				return cli_usage_error("contract", "show takes one REF");
			if ((rc = resolve_contract(c, argv[2], id)) || (rc = open_read(c, &t)))
				return rc;
			rc = kt_state_get(t, DK_CONTRACT, id, &keten__state__contract_state__descriptor, (void **)&cs,
			                  &err);
			if (rc) {
				keten_txn_end(t);
				fprintf(stderr, "keten: '%s' is not a framework contract applied here\n", argv[2]);
				return EX_NOINPUT_;
			}
			o = contract_json(t, cs);
			kt_state_free(cs);
			keten_txn_end(t);
			if (c->json) {
				cli_print_json(o);
			} else {
				char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
				if (s)
					puts(s);
				free(s);
				json_decref(o);
			}
			return 0;
		}
		{
			struct clist l = {.arr = c->json ? json_array() : NULL};
			uint8_t pre = DK_CONTRACT;
			if (argc != 2)
				return cli_usage_error("contract", "list takes no arguments");
			if ((rc = open_read(c, &t)))
				return rc;
			l.t = t;
			rc = keten_kv_scan(t, KT_STATE, &pre, 1, clist_cb, &l, &err);
			keten_txn_end(t);
			if (l.arr)
				cli_print_json(l.arr);
			return rc ? cli_error(&err) : 0;
		}
	}
	return cli_usage_error("contract", "'%s' is not a contract command", argv[1]);
}

/* allocate ---------------------------------------------------------------------- */

static const char allocate_usage[] =
	"usage: keten allocate --contract REF --client CLIENTREF --provider PARTY --profile P --intensity I\n"
	"                      --kind herstel|duurzaam --from DATE [--until DATE] [--number NR]\n"
	"                      [--amount EUR --maatwerk REASON]\n"
	"       keten allocate --contract REF --client CLIENTREF --provider PARTY\n"
	"                      --component CODE --units N --from DATE [--until DATE] [--number NR]\n"
	"\n"
	"A municipality allocates (toewijzing) one arrangement (profile x intensity,\n"
	"herstel or duurzaam) or a P x Q component to a lead provider.  The amount\n"
	"is the contract's tariff, indexed to the start year: the whole trajectory\n"
	"(herstel), per month (duurzaam) or units x unit tariff (component); another\n"
	"amount needs --maatwerk with a reason.  CLIENTREF is a pseudonymous client\n"
	"reference: never a BSN.  Prints the new allocation's id.\n";

int cmd_allocate(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"contract", 1, 0, 'c'}, {"client", 1, 0, 'C'},    {"provider", 1, 0, 'p'},
		{"profile", 1, 0, 'P'},  {"intensity", 1, 0, 'i'}, {"kind", 1, 0, 'k'},
		{"from", 1, 0, 'f'},     {"until", 1, 0, 'u'},     {"number", 1, 0, 'n'},
		{"amount", 1, 0, 'a'},   {"maatwerk", 1, 0, 'm'},  {"component", 1, 0, 'K'},
		{"units", 1, 0, 'U'},    {"help", 0, 0, 'h'},      {0}};
	Keten__Allocation al = KETEN__ALLOCATION__INIT;
	Keten__FrameworkContract *fc = NULL;
	Keten__State__ContractState *cs = NULL;
	const char *contract = NULL, *provider = NULL, *kind = NULL, *amount = NULL;
	uint8_t cid[32], pkey[32], aud[2][32], *buf;
	char mun[16] = "";
	keten_error err = {0};
	keten_txn *t;
	size_t len;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': contract = optarg; break;
		case 'C': al.client_ref = optarg; break;
		case 'p': provider = optarg; break;
		case 'P': al.profile = optarg; break;
		case 'i': al.intensity = optarg; break;
		case 'k': kind = optarg; break;
		case 'f':
			if ((rc = cli_parse_date("--from", optarg, &al.start)))
				return rc;
			break;
		case 'u':
			if ((rc = cli_parse_date("--until", optarg, &al.end)))
				return rc;
			al.has_end = 1;
			break;
		case 'n': al.number = optarg; break;
		case 'a': amount = optarg; break;
		case 'm': al.maatwerk = optarg; break;
		case 'K': al.component = optarg; break;
		case 'U': {
			int64_t u;
			if (keten_parse_cents(optarg, false, &u) != 0)
				return cli_usage_error("allocate", "--units '%s' is not a number (up to 2 decimals)",
				                       optarg);
			al.has_units = 1;
			al.units = u;
			break;
		}
		case 'h': return cli_help(allocate_usage);
		default: return cli_usage_error("allocate", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("allocate", "unexpected argument '%s'", argv[optind]);
	if (!contract || !al.client_ref || !provider || !al.start)
		return cli_usage_error("allocate", "needs --contract, --client, --provider and --from");
	if (al.component) {
		if (!al.has_units)
			return cli_usage_error("allocate", "a component needs --units");
		al.kind = KETEN__KIND__COMPONENT;
	} else {
		if (!al.profile || !al.intensity || !kind)
			return cli_usage_error("allocate",
			                       "needs --profile, --intensity and --kind (or --component and --units)");
		if (strcmp(kind, "herstel") == 0)
			al.kind = KETEN__KIND__HERSTEL;
		else if (strcmp(kind, "duurzaam") == 0)
			al.kind = KETEN__KIND__DUURZAAM;
		else
			return cli_usage_error("allocate", "--kind is herstel or duurzaam");
	}
	if (amount && !al.maatwerk)
		return cli_usage_error("allocate", "--amount differs from the tariff only with --maatwerk REASON");
	if ((rc = cli_check_text("--client", al.client_ref)) || (rc = cli_check_text("--number", al.number)) ||
	    (rc = cli_check_text("--maatwerk", al.maatwerk)))
		return rc;
	if (amount && (rc = cli_parse_amount("--amount", amount, &al.amount_cents)))
		return rc;
	if ((rc = resolve_contract(c, contract, cid)) || (rc = cli_resolve_party(c, provider, pkey)))
		return rc;
	if ((rc = open_read(c, &t)))
		return rc;
	if (kt_state_get(t, DK_CONTRACT, cid, &keten__state__contract_state__descriptor, (void **)&cs, &err) ||
	    kt_contract_body(t, cid, &fc, &err)) {
		keten_txn_end(t);
		kt_state_free(cs);
		fprintf(stderr, "keten: '%s' is not a framework contract applied here\n", contract);
		return EX_NOINPUT_;
	}
	keten_txn_end(t);
	/* the municipality: this home's CBS code when the contract covers it, else the contract's first */
	snprintf(mun, sizeof mun, "%s", fc->n_municipalities ? fc->municipalities[0] : "");
	for (size_t i = 0; i < fc->n_municipalities; i++)
		if (strcmp(fc->municipalities[i], keten_ledger_info(c->L)->municipality) == 0)
			snprintf(mun, sizeof mun, "%s", fc->municipalities[i]);
	if (!amount) {
		int64_t base = 0, per;
		if (al.kind == KETEN__KIND__COMPONENT) {
			const Keten__Component *k = kt_component(fc, al.component);
			if (k && kt_tariff_indexed(cs, k->cents_per_unit, 0, al.start / 10000, &per))
				keten_apply_bp(per, al.units * 100, &base);
		} else {
			const Keten__Tariff *tf = kt_tariff(fc, al.profile, al.intensity, al.kind);
			if (tf)
				kt_tariff_indexed(cs, tf->cents, 0, al.start / 10000, &base);
		}
		al.amount_cents = base; /* 0 when not in the table: the rule names it */
	}
	al.domain = fc->domain;
	al.municipality = mun;
	al.contract.data = cid;
	al.contract.len = 32;
	al.provider.data = pkey;
	al.provider.len = 32;
	memcpy(aud[0], keten_ledger_info(c->L)->key, 32);
	memcpy(aud[1], pkey, 32);
	len = keten__allocation__get_packed_size(&al);
	buf = malloc(len);
	if (!buf)
		rc = EX_SOFTWARE_;
	else {
		keten__allocation__pack(&al, buf);
		rc = cli_append(c, KETEN__BODY_TYPE__ALLOCATION, buf, len, (const uint8_t(*)[32])aud, 2,
		                al.amount_cents);
	}
	free(buf);
	kt_state_free(cs);
	keten__framework_contract__free_unpacked(fc, NULL);
	return rc;
}
