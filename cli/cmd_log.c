/*
 * cmd_log.c — keten log and keten show: read entries, newest first.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keten/json.h"
#include "proto/keten.pb-c.h"
#include "rules/rules.h"

/*
 * Voided entries.  A correction is applied only when it voided its entry
 * (kt_rule_correction refuses a second one as "already-void"), so the applied
 * corrections held here say which entries are void and by which entry:
 * derived from the ledger, as the domain state is, without rewriting the
 * voided entry's status record.  One scan of the corrections, sorted by
 * the entry they void, looked up per entry shown.
 */
struct voids {
	uint8_t (*pairs)[64]; /* voided id || correcting id */
	size_t n, cap;
	keten_txn *t;
};

static int voids_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct voids *vs = p;
	keten_entry e;
	keten_status st = 0;
	Keten__Correction *c;

	(void)v;
	(void)vl;
	if (kl < 44 || keten_store_status(vs->t, k + 12, &st, NULL, 0, NULL) || st != KS_APPLIED)
		return 0;
	if (keten_store_get_entry(vs->t, k + 12, &e, NULL))
		return 0;
	c = e.has_body ? keten__correction__unpack(NULL, e.body_len, e.body) : NULL;
	if (c && c->entry.len == 32) {
		if (vs->n == vs->cap) {
			size_t cap = vs->cap ? vs->cap * 2 : 64;
			void *np = realloc(vs->pairs, cap * sizeof *vs->pairs);
			if (!np) {
				keten__correction__free_unpacked(c, NULL);
				keten_entry_release(&e);
				return 0; /* fewer marks, never a wrong one */
			}
			vs->pairs = np;
			vs->cap = cap;
		}
		memcpy(vs->pairs[vs->n], c->entry.data, 32);
		memcpy(vs->pairs[vs->n] + 32, e.id, 32);
		vs->n++;
	}
	if (c)
		keten__correction__free_unpacked(c, NULL);
	keten_entry_release(&e);
	return 0;
}

static int void_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static void voids_load(struct voids *vs, keten_txn *t)
{
	uint8_t prefix[4];
	vs->t = t;
	keten_be32(prefix, KETEN__BODY_TYPE__CORRECTION);
	keten_kv_scan(t, KT_BY_TYPE, prefix, 4, voids_cb, vs, NULL);
	if (vs->n)
		qsort(vs->pairs, vs->n, sizeof *vs->pairs, void_cmp);
}

/* The id of the correction that voided `id`, or NULL. */
static const uint8_t *voided_by(const struct voids *vs, const uint8_t id[32])
{
	const uint8_t *hit = vs->n ? bsearch(id, vs->pairs, vs->n, sizeof *vs->pairs, void_cmp) : NULL;
	return hit ? hit + 32 : NULL;
}

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
	keten_txn *t;
	uint8_t author[32];
	bool by_author;
	long limit, shown;
	size_t keyoff; /* where the id starts in the scanned key */
	json_t *arr;
	struct voids voids;
};

static int log_cb(const uint8_t *k, size_t kl, const uint8_t *v CLI_UNUSED, size_t vl CLI_UNUSED, void *p)
{
	struct log_ctx *l = p;
	keten_entry e;
	keten_status st = 0;
	char hex[65], rule[48] = "", name[128], when[32];
	int64_t ms;

	if (kl < l->keyoff + 32)
		return 0;
	if (keten_store_get_entry(l->t, k + l->keyoff, &e, NULL))
		return 0;
	if (l->by_author && memcmp(e.author, l->author, 32) != 0) {
		keten_entry_release(&e);
		return 0;
	}
	keten_store_status(l->t, e.id, &st, rule, sizeof rule, NULL);
	if (l->arr) {
		json_t *o = keten_json_entry(&e);
		const uint8_t *by = st == KS_APPLIED ? voided_by(&l->voids, e.id) : NULL;
		json_object_set_new(o, "status", json_string(by ? "void" : keten_json_status_name(st)));
		if (by) {
			keten_hex(hex, by, 32);
			json_object_set_new(o, "voided_by", json_string(hex));
		}
		if (rule[0])
			json_object_set_new(o, "rule", json_string(rule));
		json_array_append_new(l->arr, o);
	} else {
		keten_hex(hex, e.id, 32);
		ms = e.timestamp_ms;
		keten_format_date(when, sizeof when, keten_date_of_ms(ms));
		cli_party_name(l->c, e.author, name, sizeof name);
		printf("%.16s  %s  %-12s %-24s %s%s%s\n", hex, when, keten_body_type_name(e.body_type),
		       name[0] ? name : "?",
		       st == KS_APPLIED && voided_by(&l->voids, e.id) ? "void" : keten_json_status_name(st),
		       rule[0] ? ": " : "", rule);
	}
	keten_entry_release(&e);
	return ++l->shown >= l->limit && l->limit > 0 ? 1 : 0;
}

int cmd_log(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"author", 1, 0, 'a'}, {"type", 1, 0, 't'}, {"limit", 1, 0, 'n'}, {"help", 0, 0, 'h'}, {0}};
	struct log_ctx l = {.c = c, .limit = 0};
	const char *author = NULL, *type = NULL;
	keten_error err = {0};
	uint32_t bt = 0;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': author = optarg; break;
		case 't': type = optarg; break;
		case 'n': {
			char *end;
			l.limit = strtol(optarg, &end, 10);
			if (*end || l.limit < 1)
				return cli_usage_error("log", "--limit '%s' is not a positive number", optarg);
			break;
		}
		case 'h': return cli_help(log_usage);
		default: return cli_usage_error("log", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("log", "unexpected argument '%s'", argv[optind]);
	if (type && !(bt = keten_body_type_from_name(type)))
		return cli_usage_error("log", "'%s' is not an entry type", type);
	if ((rc = cli_open(c, false)))
		return rc;
	if (author) {
		if ((rc = cli_resolve_party(c, author, l.author)))
			return rc;
		l.by_author = true;
	}
	if (keten_store_read(keten_ledger_store(c->L), &l.t, &err))
		return cli_error(&err);
	l.arr = c->json ? json_array() : NULL;
	voids_load(&l.voids, l.t);
	if (bt) {
		uint8_t prefix[4];
		keten_be32(prefix, bt);
		l.keyoff = 12;
		rc = keten_kv_scan_reverse(l.t, KT_BY_TYPE, prefix, 4, log_cb, &l, &err);
	} else {
		l.keyoff = 8;
		rc = keten_kv_scan_reverse(l.t, KT_TIMELINE, NULL, 0, log_cb, &l, &err);
	}
	keten_txn_end(l.t);
	free(l.voids.pairs);
	if (l.arr)
		cli_print_json(l.arr);
	return rc ? cli_error(&err) : 0;
}

static const char show_usage[] = "usage: keten show ID [--raw]\n"
				 "\n"
				 "Show one entry (ID: full id or a unique prefix of at least 8 hex digits):\n"
				 "its header, status and decoded body.  --raw prints the stored bytes in hex.\n"
				 "A stub says that its body is withheld from this node and why.\n";

int cmd_show(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"raw", 0, 0, 'r'}, {"help", 0, 0, 'h'}, {0}};
	keten_error err = {0};
	keten_entry e;
	keten_txn *t;
	keten_status st = 0;
	struct voids vs = {0};
	uint8_t id[32], by[32];
	char rule[48] = "";
	bool raw = false, voided = false;
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
	if (rc == 0)
		keten_store_status(t, id, &st, rule, sizeof rule, NULL);
	if (rc == 0 && st == KS_APPLIED) {
		const uint8_t *b;
		voids_load(&vs, t);
		if ((b = voided_by(&vs, id))) {
			memcpy(by, b, 32);
			voided = true;
		}
		free(vs.pairs);
	}
	keten_txn_end(t);
	if (rc)
		return cli_error(&err);
	if (raw) {
		char *hex = malloc(e.raw_len * 2 + 1);
		if (hex) {
			keten_hex(hex, e.raw, e.raw_len);
			puts(hex);
			free(hex);
		}
	} else {
		json_t *j = keten_json_entry(&e);
		json_object_set_new(j, "status", json_string(voided ? "void" : keten_json_status_name(st)));
		if (voided) {
			char hex[65];
			keten_hex(hex, by, 32);
			json_object_set_new(j, "voided_by", json_string(hex));
		}
		if (rule[0])
			json_object_set_new(j, "rule", json_string(rule));
		if (!e.has_body)
			json_object_set_new(
				j, "withheld",
				json_string(
					"this node holds only the signed header: the body goes only to the entry's audience "
					"and to auditors of its municipality"));
		if (c->json) {
			cli_print_json(j);
		} else {
			char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			if (s) {
				puts(s);
				free(s);
			}
			json_decref(j);
		}
	}
	keten_entry_release(&e);
	return 0;
}
