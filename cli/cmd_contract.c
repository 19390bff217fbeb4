/*
 * cmd_contract.c — keten contract add|index|show|list (framework
 * contracts and their tariff tables) and keten allocate (a municipality
 * allocates an arrangement or component to a lead provider).  The tariff
 * CSV is read by keten_tariffs_read and the subcontract tariffs
 * (--sub-tariffs) by keten_sub_tariffs_read, the bodies are composed by
 * keten_record (the allocation's amount is the contract's indexed tariff
 * unless marked maatwerk), and show and list print keten_contract_get's
 * plain view.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A contract named by its reference, or by an id prefix. */
static int resolve_contract(cli *c, const char *what, uint8_t id[32])
{
	keten_error err = {0};
	keten_txn *t;
	int rc = cli_open(c, false);
	if (rc)
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_contract_find(t, what, id, &err);
	keten_txn_end(t);
	return rc ? cli_error(&err) : 0;
}

/* contract add --------------------------------------------------------------- */

static const char contract_usage[] =
	"usage: keten contract add --ref REF --domain jeugd|wmo --municipality CBS[,CBS...]\n"
	"                          --from DATE --until DATE --tariffs FILE.csv [--payment-term DAYS]\n"
	"                          [--subcontract fixed|max|free] [--max-margin PCT]\n"
	"                          [--early-stop CODE=SHARE[:sub][,CODE=SHARE...]] [--stop-final CODE=PCT,...]\n"
	"                          [--eligible PARTY,...]\n"
	"                          [--sub-subcontracting] [--quality TEXT] [--dispute-route TEXT]\n"
	"                          [--sub-tariffs FILE.csv]\n"
	"                          [--change-window DAYS] [--heavy-window DAYS] [--heavy-intensities I,...]\n"
	"                          [--delivered-below PCT]\n"
	"       keten contract index REF --year YYYY --pct P\n"
	"       keten contract show REF\n"
	"       keten contract list\n"
	"\n"
	"A framework contract (raamcontract) of a municipality or region: tariffs,\n"
	"payment term (default 30 days), the subcontract rule (fixed: subcontract\n"
	"price equals the tariff; max: at most the tariff; free) and maximum margin,\n"
	"and per stop code the share of the up-front 2/3 reclaimed after an early\n"
	"stop (SHARE a percentage; ':sub' passes it on to subcontractors pro rata)\n"
	"and the percentage of the final 1/3 still due after a stop with that code\n"
	"(--stop-final; a code not named keeps the default: 100 after a stop\n"
	"according to plan, jeugd 31 and wmo 19, and 0 after every other stop;\n"
	"code 20 pauses and is not given one; 'contract show' lists them all).\n"
	"The tariff CSV has columns domain,profile,profile_name,intensity,kind,\n"
	"tariff_cents,per: rows of the contract's domain per traject (herstel) or\n"
	"maand (duurzaam) become tariff lines; rows of domain 'component' become\n"
	"P x Q components (per rit, consult, uur, ...: WJ756 units).  A change of an\n"
	"allocation (allocate --replaces) within --change-window days of its start\n"
	"(default 42) is normal, for --heavy-intensities within --heavy-window days\n"
	"(default 84); later it is flagged.  A duurzaam month in hours delivering less\n"
	"than --delivered-below percent of its volume (default 80) is flagged once\n"
	"claimed.  'index' raises every tariff by P percent from 1 January\n"
	"of YYYY (basis points, half away from zero, compounding year over year).\n"
	"--sub-tariffs signs the subcontract tariffs (onderaannemerstarieven: what a\n"
	"lead provider pays a subcontractor) in the contract: a CSV with columns\n"
	"service,unit,tariff_cents and optionally name and share_pct; unit is a\n"
	"WJ756 word (minute, hour, etmaal, dagdeel, piece-output, piece-effort,\n"
	"euro), or share_pct (1 to 100) prices the service as a share of the\n"
	"arrangement with unit and tariff_cents empty.  The --subcontract rule\n"
	"judges an offer that names a service against its line (keten subcontract\n"
	"--service).\n"
	"Prints the new entry's id.\n";

static int split(char *s, char **out, int max)
{
	int n = 0;
	char *save, *tok;
	for (tok = strtok_r(s, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		out[n++] = tok;
	return n;
}

/* What contract add reads before the draft is filled. */
struct add_args {
	char *mun, *early, *eligible, *final, *heavy;
	const char *tariffs, *sub_tariffs;
};

/* --change-window / --heavy-window DAYS. */
static int parse_window(const char *flag, const char *s, uint32_t *days)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 3650)
		return cli_usage_error("contract", "%s '%s' is not 1 to 3650 days", flag, s);
	*days = (uint32_t)v;
	return 0;
}

/* The options of a change and of volumes. */
static int add_change_opt(int o, struct add_args *a, keten_draft_contract *d)
{
	int32_t bp;
	switch (o) {
	case 'w': return parse_window("--change-window", optarg, &d->change_window_days);
	case 'W': return parse_window("--heavy-window", optarg, &d->heavy_window_days);
	case 'H': a->heavy = optarg; return 0;
	default:
		if (keten_parse_pct_bp(optarg, &bp) != 0 || bp > 10000)
			return cli_usage_error("contract", "--delivered-below '%s' is not a percentage", optarg);
		d->has_delivered_below = true;
		d->delivered_below_bp = (uint32_t)bp;
		return 0;
	}
}

static int parse_rule(const char *s, keten_draft_contract *d)
{
	d->has_subcontract_rule = true;
	if (strcmp(s, "fixed") == 0)
		d->subcontract_rule = KETEN_SUB_FIXED;
	else if (strcmp(s, "max") == 0)
		d->subcontract_rule = KETEN_SUB_MAX;
	else if (strcmp(s, "free") == 0)
		d->subcontract_rule = KETEN_SUB_FREE;
	else
		return cli_usage_error("contract", "--subcontract is fixed, max or free");
	return 0;
}

static int add_opts(int argc, char **argv, struct add_args *a, keten_draft_contract *d)
{
	static const struct option opts[] = {{"ref", 1, 0, 'r'},
	                                     {"domain", 1, 0, 'd'},
	                                     {"municipality", 1, 0, 'm'},
	                                     {"from", 1, 0, 'f'},
	                                     {"until", 1, 0, 'u'},
	                                     {"tariffs", 1, 0, 't'},
	                                     {"payment-term", 1, 0, 'p'},
	                                     {"subcontract", 1, 0, 's'},
	                                     {"max-margin", 1, 0, 'M'},
	                                     {"early-stop", 1, 0, 'e'},
	                                     {"eligible", 1, 0, 'E'},
	                                     {"sub-subcontracting", 0, 0, 'S'},
	                                     {"quality", 1, 0, 'q'},
	                                     {"dispute-route", 1, 0, 'D'},
	                                     {"change-window", 1, 0, 'w'},
	                                     {"heavy-window", 1, 0, 'W'},
	                                     {"heavy-intensities", 1, 0, 'H'},
	                                     {"delivered-below", 1, 0, 'B'},
	                                     {"stop-final", 1, 0, 'F'},
	                                     {"sub-tariffs", 1, 0, 'T'},
	                                     {"help", 0, 0, 'h'},
	                                     {0}};
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': d->ref = optarg; break;
		case 'd': d->domain = optarg; break;
		case 'm': a->mun = optarg; break;
		case 'f':
			if ((rc = cli_parse_date("--from", optarg, &d->valid_from)))
				return rc;
			break;
		case 'u':
			if ((rc = cli_parse_date("--until", optarg, &d->valid_until)))
				return rc;
			break;
		case 't': a->tariffs = optarg; break;
		case 'T': a->sub_tariffs = optarg; break;
		case 'p': {
			char *end;
			long days = strtol(optarg, &end, 10);
			if (*end || days < 1 || days > 365)
				return cli_usage_error("contract", "--payment-term '%s' is not 1 to 365 days", optarg);
			d->payment_term_days = (uint32_t)days;
			break;
		}
		case 's':
			if ((rc = parse_rule(optarg, d)))
				return rc;
			break;
		case 'M': {
			int32_t bp;
			if (keten_parse_pct_bp(optarg, &bp) != 0 || bp > 10000)
				return cli_usage_error("contract", "--max-margin '%s' is not a percentage", optarg);
			d->has_max_margin = true;
			d->max_margin_bp = (uint32_t)bp;
			break;
		}
		case 'e': a->early = optarg; break;
		case 'F': a->final = optarg; break;
		case 'E': a->eligible = optarg; break;
		case 'S': d->sub_subcontracting = true; break;
		case 'q': d->quality = optarg; break;
		case 'D': d->dispute_route = optarg; break;
		case 'w':
		case 'W':
		case 'H':
		case 'B':
			if ((rc = add_change_opt(o, a, d)))
				return rc;
			break;
		case 'h': return -1;
		default: return cli_usage_error("contract", "unknown option");
		}
	}
	return 0;
}

/* --early-stop CODE=SHARE[:sub],... into rules (at most 32). */
static int parse_early_stop(char *s, keten_draft_stop_rule *rules, size_t *n)
{
	char *el[32];
	int k = split(s, el, 32);
	for (int i = 0; i < k; i++) {
		char *eq = strchr(el[i], '='), *sub;
		int32_t bp;
		memset(&rules[i], 0, sizeof rules[i]);
		if (!eq)
			return cli_usage_error("contract", "--early-stop '%s' is not CODE=SHARE", el[i]);
		*eq = 0;
		sub = strchr(eq + 1, ':');
		if (sub) {
			*sub++ = 0;
			if (strcmp(sub, "sub") != 0)
				return cli_usage_error("contract", "--early-stop suffix ':%s' is not ':sub'", sub);
			rules[i].subcontractor_shares = true;
		}
		if (keten_parse_pct_bp(eq + 1, &bp) != 0 || bp > 10000)
			return cli_usage_error("contract", "--early-stop share '%s' is not a percentage", eq + 1);
		rules[i].stop_code = el[i];
		rules[i].reclaim_bp = (uint32_t)bp;
	}
	*n = (size_t)k;
	return 0;
}

/* --stop-final CODE=PCT,... into finals (at most 32). */
static int parse_stop_final(char *s, keten_draft_stop_final *finals, size_t *n)
{
	char *el[32];
	int k = split(s, el, 32);
	for (int i = 0; i < k; i++) {
		char *eq = strchr(el[i], '=');
		int32_t bp;
		if (!eq)
			return cli_usage_error("contract", "--stop-final '%s' is not CODE=PCT", el[i]);
		*eq = 0;
		if (keten_parse_pct_bp(eq + 1, &bp) != 0 || bp > 10000)
			return cli_usage_error("contract", "--stop-final share '%s' is not a percentage (0 to 100)",
			                       eq + 1);
		finals[i].stop_code = el[i];
		finals[i].final_bp = (uint32_t)bp;
	}
	*n = (size_t)k;
	return 0;
}

/* The tariff table of the file, for the contract's domain. */
static int read_tariffs(const char *path, const char *domain, keten_tariffs *tt)
{
	keten_error err = {0};
	int rc = keten_tariffs_read(path, domain, tt, &err);
	if (rc == KETEN_ENOTFOUND) {
		fprintf(stderr, "keten: %s\n", err.msg);
		return EX_NOINPUT_;
	}
	if (rc == KETEN_EMALFORMED) {
		fprintf(stderr, "keten: tariff file '%s': %s\n", path, err.msg);
		return EX_DATAERR_;
	}
	return rc ? cli_error(&err) : 0;
}

/* The subcontract tariff table of the file. */
static int read_sub_tariffs(const char *path, keten_sub_tariffs *st)
{
	keten_error err = {0};
	int rc = keten_sub_tariffs_read(path, st, &err);
	if (rc == KETEN_ENOTFOUND) {
		fprintf(stderr, "keten: %s\n", err.msg);
		return EX_NOINPUT_;
	}
	if (rc == KETEN_EMALFORMED) {
		fprintf(stderr, "keten: subcontract tariff file '%s': %s\n", path, err.msg);
		return EX_DATAERR_;
	}
	return rc ? cli_error(&err) : 0;
}

static int contract_add(cli *c, int argc, char **argv)
{
	keten_draft d = {.kind = KETEN_DRAFT_CONTRACT};
	keten_draft_contract *fc = &d.contract;
	keten_draft_stop_rule rules[32];
	keten_draft_stop_final finals[32];
	struct add_args a = {0};
	keten_tariffs tt = {0};
	keten_sub_tariffs st = {0};
	uint8_t keys[32][32];
	char *ml[32], *el[32], *hl[32];
	int rc;

	if ((rc = add_opts(argc, argv, &a, fc)))
		return rc < 0 ? cli_help(contract_usage) : rc;
	if (optind != argc)
		return cli_usage_error("contract", "unexpected argument '%s'", argv[optind]);
	if (!fc->ref || !fc->domain || !a.mun || !fc->valid_from || !fc->valid_until || !a.tariffs)
		return cli_usage_error("contract",
		                       "add needs --ref, --domain, --municipality, --from, --until and --tariffs");
	if (strcmp(fc->domain, "jeugd") != 0 && strcmp(fc->domain, "wmo") != 0)
		return cli_usage_error("contract", "--domain is jeugd or wmo");
	if ((rc = cli_check_text("--ref", fc->ref)) || (rc = cli_check_text("--quality", fc->quality)) ||
	    (rc = cli_check_text("--dispute-route", fc->dispute_route)))
		return rc;
	fc->n_municipalities = (size_t)split(a.mun, ml, 32);
	fc->municipalities = (const char *const *)ml;
	if (a.early && (rc = parse_early_stop(a.early, rules, &fc->n_early_stop)))
		return rc;
	if (a.heavy) {
		fc->n_heavy_intensities = (size_t)split(a.heavy, hl, 32);
		fc->heavy_intensities = (const char *const *)hl;
	}
	fc->early_stop = rules;
	if (a.final && (rc = parse_stop_final(a.final, finals, &fc->n_stop_final)))
		return rc;
	fc->stop_final = finals;
	if ((rc = cli_open(c, false)))
		return rc;
	if (a.eligible) {
		int n = split(a.eligible, el, 32);
		for (int i = 0; i < n; i++)
			if ((rc = cli_resolve_party(c, el[i], keys[i])))
				return rc;
		fc->n_eligible = (size_t)n;
		fc->eligible = (const uint8_t(*)[32])keys;
	}
	if (a.sub_tariffs && (rc = read_sub_tariffs(a.sub_tariffs, &st)))
		return rc;
	fc->sub_tariffs = a.sub_tariffs ? &st : NULL;
	if ((rc = read_tariffs(a.tariffs, fc->domain, &tt))) {
		keten_sub_tariffs_release(&st);
		return rc;
	}
	fc->tariffs = &tt;
	rc = cli_record(c, &d, NULL, NULL);
	keten_tariffs_release(&tt);
	keten_sub_tariffs_release(&st);
	return rc;
}

static int contract_index(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"year", 1, 0, 'y'}, {"pct", 1, 0, 'p'}, {"help", 0, 0, 'h'}, {0}};
	keten_draft d = {.kind = KETEN_DRAFT_INDEXATION};
	const char *pct = NULL;
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
			d.indexation.year = (uint32_t)y;
			break;
		}
		case 'p': pct = optarg; break;
		case 'h': return cli_help(contract_usage);
		default: return cli_usage_error("contract", "unknown option");
		}
	}
	if (optind != argc - 1 || !d.indexation.year || !pct)
		return cli_usage_error("contract", "index takes one REF, --year and --pct");
	if (keten_parse_pct_bp(pct[0] == '-' ? pct + 1 : pct, &bp) != 0)
		return cli_usage_error("contract", "--pct '%s' is not a percentage", pct);
	d.indexation.bp = pct[0] == '-' ? -bp : bp;
	if ((rc = resolve_contract(c, argv[optind], d.indexation.contract)))
		return rc;
	return cli_record(c, &d, NULL, NULL);
}

/* contract show, list ---------------------------------------------------------- */

/* The subcontract tariffs: per unit (unit, cents) or a share (share_bp). */
static json_t *sub_tariffs_json(const keten_contract_view *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < v->n_sub_tariffs; i++) {
		const keten_contract_sub_tariff *s = &v->sub_tariffs[i];
		json_t *l = json_object();
		json_object_set_new(l, "service", json_string(s->service));
		json_object_set_new(l, "name", json_string(s->name));
		if (s->unit) {
			json_object_set_new(l, "unit", json_string(s->unit));
			json_object_set_new(l, "cents", json_integer(s->cents));
		} else {
			json_object_set_new(l, "share_bp", json_integer(s->share_bp));
		}
		json_array_append_new(a, l);
	}
	return a;
}

/* The terms of a change and of volumes. */
static void contract_change_json(json_t *o, const keten_contract_view *v)
{
	json_t *h = json_array();
	for (size_t i = 0; i < v->n_heavy_intensities; i++)
		json_array_append_new(h, json_string(v->heavy_intensities[i]));
	json_object_set_new(o, "change_window_days", json_integer(v->change_window_days));
	json_object_set_new(o, "heavy_window_days", json_integer(v->heavy_window_days));
	json_object_set_new(o, "heavy_intensities", h);
	json_object_set_new(o, "delivered_below_bp", json_integer(v->delivered_below_bp));
}

static json_t *contract_json(const keten_contract_view *v, bool with_tables)
{
	static const char *const rules[] = {
		[KETEN_SUB_FREE] = "free", [KETEN_SUB_FIXED] = "fixed", [KETEN_SUB_MAX] = "max"};
	json_t *o = json_object(), *ix = json_array();
	char hex[65], d1[11], d2[11];

	keten_hex(hex, v->id, 32);
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "ref", json_string(v->ref));
	keten_hex(hex, v->author, 32);
	json_object_set_new(o, "author", json_string(hex));
	json_object_set_new(o, "domain", json_string(v->domain));
	keten_format_date(d1, sizeof d1, v->valid_from);
	keten_format_date(d2, sizeof d2, v->valid_until);
	json_object_set_new(o, "valid_from", json_string(d1));
	json_object_set_new(o, "valid_until", json_string(d2));
	json_object_set_new(o, "payment_term_days", json_integer(v->payment_term_days));
	json_object_set_new(o, "subcontract_rule", json_string(rules[v->subcontract_rule]));
	json_object_set_new(o, "max_margin_bp", json_integer(v->max_margin_bp));
	json_object_set_new(o, "sub_subcontracting", json_boolean(v->sub_subcontracting));
	for (size_t i = 0; i < v->n_indexations; i++) {
		json_t *s = json_object();
		json_object_set_new(s, "year", json_integer(v->indexations[i].year));
		json_object_set_new(s, "bp", json_integer(v->indexations[i].bp));
		json_array_append_new(ix, s);
	}
	json_object_set_new(o, "indexations", ix);
	if (v->has_body) {
		json_t *m = json_array(), *es = json_array();
		for (size_t i = 0; i < v->n_municipalities; i++)
			json_array_append_new(m, json_string(v->municipalities[i]));
		json_object_set_new(o, "municipalities", m);
		if (with_tables) {
			json_t *tl = json_array(), *cl = json_array();
			for (size_t i = 0; i < v->n_tariffs; i++) {
				const keten_contract_tariff *tf = &v->tariffs[i];
				json_t *l = json_object();
				json_object_set_new(l, "profile", json_string(tf->profile));
				json_object_set_new(l, "intensity", json_string(tf->intensity));
				json_object_set_new(
					l, "kind",
					json_string(tf->kind == KETEN_KIND_HERSTEL ? "herstel" : "duurzaam"));
				json_object_set_new(l, "cents", json_integer(tf->cents));
				if (tf->has_cents_now)
					json_object_set_new(l, "cents_now", json_integer(tf->cents_now));
				json_array_append_new(tl, l);
			}
			for (size_t i = 0; i < v->n_components; i++) {
				json_t *l = json_object();
				json_object_set_new(l, "code", json_string(v->components[i].code));
				json_object_set_new(l, "cents_per_unit", json_integer(v->components[i].cents_per_unit));
				json_object_set_new(l, "unit", json_string(v->components[i].unit));
				json_array_append_new(cl, l);
			}
			json_object_set_new(o, "tariffs", tl);
			json_object_set_new(o, "components", cl);
		}
		for (size_t i = 0; i < v->n_early_stop; i++) {
			json_t *l = json_object();
			json_object_set_new(l, "stop_code", json_string(v->early_stop[i].stop_code));
			json_object_set_new(l, "reclaim_bp", json_integer(v->early_stop[i].reclaim_bp));
			json_object_set_new(l, "subcontractor_shares",
			                    json_boolean(v->early_stop[i].subcontractor_shares));
			json_array_append_new(es, l);
		}
		json_object_set_new(o, "early_stop", es);
		es = json_array();
		for (size_t i = 0; i < v->n_stop_final; i++) {
			json_t *l = json_object();
			json_object_set_new(l, "stop_code", json_string(v->stop_final[i].stop_code));
			json_object_set_new(l, "label", json_string(v->stop_final[i].label));
			json_object_set_new(l, "final_bp", json_integer(v->stop_final[i].final_bp));
			json_object_set_new(l, "from_contract", json_boolean(v->stop_final[i].from_contract));
			json_array_append_new(es, l);
		}
		json_object_set_new(o, "stop_final", es);
		if (with_tables)
			json_object_set_new(o, "sub_tariffs", sub_tariffs_json(v));
		contract_change_json(o, v);
	}
	return o;
}

static int contract_show(cli *c, const char *what)
{
	keten_contract_view v;
	keten_error err = {0};
	keten_txn *t;
	uint8_t id[32];
	json_t *o;
	int rc;

	if ((rc = resolve_contract(c, what, id)))
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_contract_get(t, id, &v, &err);
	keten_txn_end(t);
	if (rc == KETEN_ENOTFOUND) {
		fprintf(stderr, "keten: '%s' is not a framework contract applied here\n", what);
		return EX_NOINPUT_;
	}
	if (rc)
		return cli_error(&err);
	o = contract_json(&v, true);
	keten_contract_view_release(&v);
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

static int list_cb(const keten_contract_view *v, void *p)
{
	json_t *arr = p;
	if (arr) {
		json_array_append_new(arr, contract_json(v, false));
	} else {
		char hex[65], d1[11], d2[11];
		keten_hex(hex, v->id, 32);
		keten_format_date(d1, sizeof d1, v->valid_from);
		keten_format_date(d2, sizeof d2, v->valid_until);
		printf("%.16s  %-20s %-6s %s..%s  %zu indexation(s)\n", hex, v->ref, v->domain, d1, d2,
		       v->n_indexations);
	}
	return 0;
}

static int contract_list(cli *c)
{
	json_t *arr = c->json ? json_array() : NULL;
	keten_error err = {0};
	keten_txn *t;
	int rc = cli_open(c, false);
	if (rc)
		return rc;
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_contract_each(t, list_cb, arr, &err);
	keten_txn_end(t);
	if (arr)
		cli_print_json(arr);
	return rc ? cli_error(&err) : 0;
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
		if (argc > 2 && strcmp(argv[2], "--help") == 0)
			return cli_help(contract_usage);
		if (strcmp(argv[1], "show") == 0)
			return argc != 3 ? cli_usage_error("contract", "show takes one REF")
					 : contract_show(c, argv[2]);
		return argc != 2 ? cli_usage_error("contract", "list takes no arguments") : contract_list(c);
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
	"       ... [--volume N --unit UNIT --frequency week|month|total]\n"
	"       ... --replaces ALLOCATION --reason CODE\n"
	"\n"
	"A municipality allocates (toewijzing) one arrangement (profile x intensity,\n"
	"herstel or duurzaam) or a P x Q component to a lead provider.  The amount\n"
	"is the contract's tariff, indexed to the start year: the whole trajectory\n"
	"(herstel), per month (duurzaam) or units x unit tariff (component); another\n"
	"amount needs --maatwerk with a reason.  CLIENTREF is a pseudonymous client\n"
	"reference: never a BSN.  --number (toewijzingnummer) is unique per\n"
	"municipality and domain.  --volume (omvang) is N units of UNIT (WJ756:\n"
	"minute, hour, etmaal, dagdeel, piece-output, euro, piece-effort) per week,\n"
	"per month or in total; a Wmo arrangement needs one, deliveries are then in\n"
	"that unit (a component's in the component's unit).  --replaces changes a\n"
	"running allocation (reason CODE from JZ002: 03, 05, 08, 10, 11 close it with\n"
	"stop code 36, 12 with 37): it is closed the day before this one starts, what\n"
	"was paid up front under it counts towards this one's 2/3 (above it: owed\n"
	"back, see balance), its final part is no longer claimable.  Prints the new\n"
	"allocation's id.\n";

/* A contract that is not applied here. */
static int allocate_needs(keten_draft_need need CLI_UNUSED, const keten_error *err CLI_UNUSED, void *ctx)
{
	fprintf(stderr, "keten: '%s' is not a framework contract applied here\n", (const char *)ctx);
	return EX_NOINPUT_;
}

struct alloc_args {
	const char *contract, *provider, *kind, *amount, *replaces;
};

/* --volume, --unit, --frequency, --reason. */
static int allocate_change_opt(int o, keten_draft_allocation *al)
{
	switch (o) {
	case 'v':
		if (keten_parse_cents(optarg, false, &al->volume) != 0 || al->volume <= 0)
			return cli_usage_error("allocate", "--volume '%s' is not a positive number (up to 2 decimals)",
			                       optarg);
		al->has_volume = true;
		return 0;
	case 'e': al->volume_unit = optarg; return 0;
	case 'F': al->frequency = optarg; return 0;
	default: al->change_reason = optarg; return 0;
	}
}

static int allocate_opts(int argc, char **argv, struct alloc_args *a, keten_draft_allocation *al)
{
	static const struct option opts[] = {
		{"contract", 1, 0, 'c'},  {"client", 1, 0, 'C'}, {"provider", 1, 0, 'p'}, {"profile", 1, 0, 'P'},
		{"intensity", 1, 0, 'i'}, {"kind", 1, 0, 'k'},   {"from", 1, 0, 'f'},     {"until", 1, 0, 'u'},
		{"number", 1, 0, 'n'},    {"amount", 1, 0, 'a'}, {"maatwerk", 1, 0, 'm'}, {"component", 1, 0, 'K'},
		{"units", 1, 0, 'U'},     {"volume", 1, 0, 'v'}, {"unit", 1, 0, 'e'},     {"frequency", 1, 0, 'F'},
		{"replaces", 1, 0, 'R'},  {"reason", 1, 0, 'r'}, {"help", 0, 0, 'h'},     {0}};
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': a->contract = optarg; break;
		case 'C': al->client_ref = optarg; break;
		case 'p': a->provider = optarg; break;
		case 'P': al->profile = optarg; break;
		case 'i': al->intensity = optarg; break;
		case 'k': a->kind = optarg; break;
		case 'f':
			if ((rc = cli_parse_date("--from", optarg, &al->start)))
				return rc;
			break;
		case 'u':
			if ((rc = cli_parse_date("--until", optarg, &al->end)))
				return rc;
			break;
		case 'n': al->number = optarg; break;
		case 'a': a->amount = optarg; break;
		case 'm': al->maatwerk = optarg; break;
		case 'K': al->component = optarg; break;
		case 'U':
			if (keten_parse_cents(optarg, false, &al->units) != 0)
				return cli_usage_error("allocate", "--units '%s' is not a number (up to 2 decimals)",
				                       optarg);
			al->has_units = true;
			break;
		case 'R': a->replaces = optarg; break;
		case 'v':
		case 'e':
		case 'F':
		case 'r':
			if ((rc = allocate_change_opt(o, al)))
				return rc;
			break;
		case 'h': return -1;
		default: return cli_usage_error("allocate", "unknown option");
		}
	}
	return 0;
}

/* The kind of arrangement an allocation names. */
static int allocate_kind(const struct alloc_args *a, keten_draft_allocation *al)
{
	if (al->component) {
		if (!al->has_units)
			return cli_usage_error("allocate", "a component needs --units");
		al->kind = KETEN_KIND_COMPONENT;
		return 0;
	}
	if (!al->profile || !al->intensity || !a->kind)
		return cli_usage_error("allocate",
		                       "needs --profile, --intensity and --kind (or --component and --units)");
	if (strcmp(a->kind, "herstel") == 0)
		al->kind = KETEN_KIND_HERSTEL;
	else if (strcmp(a->kind, "duurzaam") == 0)
		al->kind = KETEN_KIND_DUURZAAM;
	else
		return cli_usage_error("allocate", "--kind is herstel or duurzaam");
	return 0;
}

int cmd_allocate(cli *c, int argc, char **argv)
{
	keten_draft d = {.kind = KETEN_DRAFT_ALLOCATION};
	keten_draft_allocation *al = &d.allocation;
	struct alloc_args a = {0};
	int rc;

	if ((rc = allocate_opts(argc, argv, &a, al)))
		return rc < 0 ? cli_help(allocate_usage) : rc;
	if (optind != argc)
		return cli_usage_error("allocate", "unexpected argument '%s'", argv[optind]);
	if (!a.contract || !al->client_ref || !a.provider || !al->start)
		return cli_usage_error("allocate", "needs --contract, --client, --provider and --from");
	if ((rc = allocate_kind(&a, al)))
		return rc;
	if (a.amount && !al->maatwerk)
		return cli_usage_error("allocate", "--amount differs from the tariff only with --maatwerk REASON");
	if ((rc = cli_check_text("--client", al->client_ref)) || (rc = cli_check_text("--number", al->number)) ||
	    (rc = cli_check_text("--maatwerk", al->maatwerk)) || (rc = cli_check_text("--reason", al->change_reason)))
		return rc;
	if ((al->has_volume || al->volume_unit || al->frequency) &&
	    !(al->has_volume && al->volume_unit && al->frequency))
		return cli_usage_error("allocate", "a volume is --volume N --unit UNIT --frequency week|month|total");
	if (!a.replaces != !al->change_reason)
		return cli_usage_error("allocate", "--replaces and --reason go together");
	al->has_replaces = a.replaces != NULL;
	if (a.amount && (rc = cli_parse_amount("--amount", a.amount, &al->amount_cents)))
		return rc;
	al->has_amount = a.amount != NULL;
	if ((rc = resolve_contract(c, a.contract, al->contract)) ||
	    (rc = cli_resolve_party(c, a.provider, al->provider)) ||
	    (a.replaces && (rc = cli_resolve_id(c, a.replaces, al->replaces))))
		return rc;
	return cli_record(c, &d, allocate_needs, (void *)a.contract);
}
