/*
 * cmd_verify.c — keten verify: the auditor's full check
 * (keten_ledger_verify, keten/verify.h) and its report: each bad entry,
 * each fork proof, each other node's checkpoint whose heads conflict with
 * this node's feeds, and one summary line (or one JSON object).  Exits 1
 * when there is any of them.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keten/verify.h"

static const char verify_usage[] = "usage: keten verify [--jobs N]\n"
				   "\n"
				   "Re-check every stored entry: framing, body hash, id, signature (on N\n"
				   "threads, default: all cores), chain links and the author's certificate,\n"
				   "and compare other nodes' checkpoints held here with this node's feeds.\n"
				   "Names each bad entry and each checkpoint whose head conflicts with a\n"
				   "feed held here; exits 1 if any.\n";

static void progress(void *ctx, size_t entries, unsigned jobs)
{
	if (cli_progress(ctx))
		fprintf(stderr, "verifying %zu entries on %u threads...\n", entries, jobs);
}

static void print_text(const keten_verify_report *r)
{
	char a[65], id[65], fh[65];
	for (size_t i = 0; i < r->n_bad; i++) {
		const keten_verify_bad *b = &r->bad[i];
		keten_hex(id, b->id, 32);
		keten_hex(a, b->author, 32);
		printf("bad: %s (author %.16s seq %llu): %s\n", id, a, (unsigned long long)b->seq, b->problem);
	}
	for (size_t i = 0; i < r->n_forks; i++) {
		const keten_verify_fork *f = &r->forks[i];
		keten_hex(a, f->author, 32);
		keten_hex(id, f->id, 32);
		printf("fork: author %.16s seq %llu signed %s\n", a, (unsigned long long)f->seq, id);
	}
	for (size_t i = 0; i < r->n_conflicts; i++) {
		const keten_verify_conflict *c = &r->conflicts[i];
		keten_hex(id, c->id, 32);
		keten_hex(a, c->author, 32);
		keten_hex(fh, c->feed, 32);
		if (c->malformed)
			printf("checkpoint: %s (author %.16s): %s\n", id, a, c->problem);
		else
			printf("checkpoint: %s (author %.16s): %zu heads differ from this node's feeds (first: feed %.16s seq %llu)\n",
			       id, a, c->differ, fh, (unsigned long long)c->seq);
	}
	printf("verified %zu entries in %zu feeds: %zu bad, %zu fork proofs, %zu checkpoints checked: %zu conflicting\n",
	       r->entries, r->feeds, r->n_bad, r->n_forks, r->checkpoints, r->n_conflicts);
}

static json_t *bad_json(const keten_verify_report *r)
{
	json_t *arr = json_array();
	char hex[65], ah[65];
	for (size_t i = 0; i < r->n_bad; i++) {
		const keten_verify_bad *b = &r->bad[i];
		json_t *o = json_object();
		keten_hex(hex, b->id, 32);
		keten_hex(ah, b->author, 32);
		json_object_set_new(o, "id", json_string(hex));
		json_object_set_new(o, "author", json_string(ah));
		json_object_set_new(o, "seq", json_integer((json_int_t)b->seq));
		json_object_set_new(o, "problem", json_string(b->problem));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *forks_json(const keten_verify_report *r)
{
	json_t *arr = json_array();
	char a[65], id[65];
	for (size_t i = 0; i < r->n_forks; i++) {
		const keten_verify_fork *f = &r->forks[i];
		json_t *o = json_object();
		keten_hex(a, f->author, 32);
		keten_hex(id, f->id, 32);
		json_object_set_new(o, "author", json_string(a));
		json_object_set_new(o, "seq", json_integer((json_int_t)f->seq));
		json_object_set_new(o, "id", json_string(id));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *conflicts_json(const keten_verify_report *r)
{
	json_t *arr = json_array();
	char id[65], ah[65], fh[65];
	for (size_t i = 0; i < r->n_conflicts; i++) {
		const keten_verify_conflict *c = &r->conflicts[i];
		json_t *o = json_object();
		keten_hex(id, c->id, 32);
		keten_hex(ah, c->author, 32);
		json_object_set_new(o, "id", json_string(id));
		json_object_set_new(o, "author", json_string(ah));
		if (!c->malformed) {
			keten_hex(fh, c->feed, 32);
			json_object_set_new(o, "differ", json_integer((json_int_t)c->differ));
			json_object_set_new(o, "feed", json_string(fh));
			json_object_set_new(o, "seq", json_integer((json_int_t)c->seq));
		}
		json_object_set_new(o, "problem", json_string(c->problem));
		json_array_append_new(arr, o);
	}
	return arr;
}

static void print_json(const keten_verify_report *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "entries", json_integer((json_int_t)r->entries));
	json_object_set_new(o, "feeds", json_integer((json_int_t)r->feeds));
	json_object_set_new(o, "signatures_checked", json_integer((json_int_t)r->signatures));
	json_object_set_new(o, "bad", bad_json(r));
	json_object_set_new(o, "forks", forks_json(r));
	json_object_set_new(o, "checkpoints_checked", json_integer((json_int_t)r->checkpoints));
	json_object_set_new(o, "checkpoint_conflicts", conflicts_json(r));
	cli_print_json(o);
}

int cmd_verify(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"jobs", 1, 0, 'j'}, {"help", 0, 0, 'h'}, {0}};
	keten_verify_opts vo = {.progress = progress, .progress_ctx = c};
	keten_verify_report r;
	keten_error err = {0};
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'j': {
			char *end;
			long jobs = strtol(optarg, &end, 10);
			if (*end || jobs < 1 || jobs > (long)KETEN_VERIFY_MAX_JOBS)
				return cli_usage_error("verify", "--jobs '%s' is not 1..256", optarg);
			vo.jobs = (unsigned)jobs;
			break;
		}
		case 'h': return cli_help(verify_usage);
		default: return cli_usage_error("verify", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("verify", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open(c, false)))
		return rc;
	if (keten_ledger_verify(c->L, &vo, &r, &err))
		return cli_error(&err);
	if (c->json)
		print_json(&r);
	else
		print_text(&r);
	rc = r.n_bad || r.n_forks || r.n_conflicts ? EX_FINDING : 0;
	keten_verify_report_release(&r);
	return rc;
}
