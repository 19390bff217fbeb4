/*
 * cmd_verify.c — keten verify: the auditor's full check.  Every stored
 * entry is re-parsed from its bytes (framing, body hash), its id recomputed
 * and compared with the id stored beside it (and the id index leading
 * back to it), its signature checked —
 * on all cores — and then, feed by feed, every chain link and the author's
 * certificate at the entry's time.  Forks found earlier are listed, and
 * every other node's checkpoint held here is compared with this node's
 * feeds (as 'keten checkpoint --check' does): a head that names another
 * entry at a seq than this node's feed holds is an equivocation on one
 * side, a problem as a fork proof is.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "proto/keten.pb-c.h"
#include "rules/rules.h"
#include "sync/sync.h"

typedef struct item {
	const uint8_t *key; /* id stored with it in its log record (in the map) */
	const uint8_t *raw;
	size_t len;
	/* filled by workers */
	uint8_t id[32], author[32], prev[32];
	uint64_t seq;
	int64_t ts;
	bool has_body;
	const char *bad; /* NULL when good */
} item;

struct collect {
	item *v;
	size_t n, cap;
};

/* One log record: author || seq -> id || Entry bytes.  The feed order is
 * the key order, so the scan hands over every entry in place. */
static int collect_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct collect *c = p;
	if (kl != 40)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		item *nv = realloc(c->v, cap * sizeof *nv);
		if (!nv)
			return -1;
		c->v = nv;
		c->cap = cap;
	}
	item *it = &c->v[c->n++];
	memset(it, 0, sizeof *it);
	it->key = v;
	/* Author and seq come from the feed key, so a damaged entry is still
	 * reported at its place in its feed. */
	memcpy(it->author, k, 32);
	it->seq = keten_get_be64(k + 32);
	if (vl < 32) {
		static const uint8_t none[32];
		it->key = none;
		it->bad = "log record is too short to hold an entry";
		return 0;
	}
	it->raw = v + 32;
	it->len = vl - 32;
	return 0;
}

struct work {
	item *v;
	size_t n;
	unsigned w, nw;
};

static void *worker(void *p)
{
	struct work *w = p;
	for (size_t i = w->w; i < w->n; i += w->nw) {
		item *it = &w->v[i];
		keten_entry e;
		if (it->bad)
			continue;
		if (keten_entry_parse(it->raw, it->len, &e, NULL) != 0) {
			it->bad = "bytes do not parse or body does not match its hash";
			continue;
		}
		memcpy(it->id, e.id, 32);
		memcpy(it->prev, e.prev, 32);
		it->ts = e.timestamp_ms;
		it->has_body = e.has_body;
		if (memcmp(e.id, it->key, 32) != 0)
			it->bad = "id does not match the stored bytes";
		else if (memcmp(e.author, it->author, 32) != 0 || e.seq != it->seq)
			it->bad = "author or seq differ from the feed it is stored in";
		else if (keten_entry_verify(&e) != 0)
			it->bad = "signature does not verify";
		keten_entry_release(&e);
	}
	return NULL;
}

static const char verify_usage[] = "usage: keten verify [--jobs N]\n"
				   "\n"
				   "Re-check every stored entry: framing, body hash, id, signature (on N\n"
				   "threads, default: all cores), chain links and the author's certificate,\n"
				   "and compare other nodes' checkpoints held here with this node's feeds.\n"
				   "Names each bad entry and each checkpoint whose head conflicts with a\n"
				   "feed held here; exits 1 if any.\n";

struct fork_list {
	json_t *arr;
	size_t n;
};

static int fork_cb(const uint8_t *k, size_t kl, const uint8_t *v CLI_UNUSED, size_t vl CLI_UNUSED, void *p)
{
	struct fork_list *f = p;
	char a[65], id[65];
	if (kl != 72)
		return 0;
	keten_hex(a, k, 32);
	keten_hex(id, k + 40, 32);
	f->n++;
	if (f->arr) {
		json_t *o = json_object();
		json_object_set_new(o, "author", json_string(a));
		json_object_set_new(o, "seq", json_integer((json_int_t)keten_get_be64(k + 32)));
		json_object_set_new(o, "id", json_string(id));
		json_array_append_new(f->arr, o);
	} else {
		printf("fork: author %.16s seq %llu signed %s\n", a, (unsigned long long)keten_get_be64(k + 32), id);
	}
	return 0;
}

/* Other nodes' checkpoints (with their bodies) against this node's feeds. */
struct cp_list {
	keten_txn *t;
	const uint8_t *self;
	json_t *arr;
	size_t checked, conflicts;
};

static int cp_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct cp_list *x = p;
	keten_checkpoint_check ck;
	keten_error err = {0};
	keten_entry e;
	char id[65], ah[65], fh[65] = "";
	int rc;

	(void)v;
	(void)vl;
	if (kl < 44 || keten_store_get_entry(x->t, k + 12, &e, NULL))
		return 0;
	if (!e.has_body || memcmp(e.author, x->self, 32) == 0) {
		keten_entry_release(&e); /* a stub says nothing to compare; our own name our feeds */
		return 0;
	}
	rc = keten_sync_checkpoint_check(x->t, &e, &ck, &err);
	x->checked++;
	if (rc == 0 && !ck.differ) {
		keten_entry_release(&e);
		return 0;
	}
	x->conflicts++;
	keten_hex(id, e.id, 32);
	keten_hex(ah, e.author, 32);
	if (rc == 0)
		keten_hex(fh, ck.first_differ, 32);
	if (x->arr) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(id));
		json_object_set_new(o, "author", json_string(ah));
		if (rc) {
			json_object_set_new(o, "problem", json_string(err.msg));
		} else {
			json_object_set_new(o, "differ", json_integer((json_int_t)ck.differ));
			json_object_set_new(o, "feed", json_string(fh));
			json_object_set_new(o, "seq", json_integer((json_int_t)ck.first_differ_seq));
			json_object_set_new(o, "problem",
			                    json_string("a head names another entry than this node's feed holds"));
		}
		json_array_append_new(x->arr, o);
	} else if (rc) {
		printf("checkpoint: %s (author %.16s): %s\n", id, ah, err.msg);
	} else {
		printf("checkpoint: %s (author %.16s): %zu heads differ from this node's feeds (first: feed %.16s seq %llu)\n",
		       id, ah, ck.differ, fh, (unsigned long long)ck.first_differ_seq);
	}
	keten_entry_release(&e);
	return 0;
}

int cmd_verify(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"jobs", 1, 0, 'j'}, {"help", 0, 0, 'h'}, {0}};
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	struct collect col = {0};
	keten_txn *t;
	struct fork_list forks = {0};
	struct cp_list cps = {0};
	keten_error err = {0};
	size_t bad = 0, feeds = 0, sigs = 0;
	json_t *badj = NULL;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'j': {
			char *end;
			jobs = strtol(optarg, &end, 10);
			if (*end || jobs < 1 || jobs > 256)
				return cli_usage_error("verify", "--jobs '%s' is not 1..256", optarg);
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
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	if (keten_kv_scan(t, KT_LOG, NULL, 0, collect_cb, &col, &err)) {
		keten_txn_end(t);
		return cli_error(&err);
	}
	if (cli_progress(c))
		fprintf(stderr, "verifying %zu entries on %ld threads...\n", col.n, jobs);
	{
		pthread_t th[256];
		struct work w[256];
		for (long i = 0; i < jobs; i++) {
			w[i] = (struct work){col.v, col.n, (unsigned)i, (unsigned)jobs};
			if (i > 0 && pthread_create(&th[i], NULL, worker, &w[i]) != 0)
				return EX_SOFTWARE_;
		}
		worker(&w[0]);
		for (long i = 1; i < jobs; i++)
			pthread_join(th[i], NULL);
	}
	/* Chain links and certificates, feed by feed (col.v is in author, seq order). */
	for (size_t i = 0; i < col.n; i++) {
		item *it = &col.v[i];
		bool first = i == 0 || memcmp(col.v[i - 1].author, it->author, 32) != 0;
		if (first)
			feeds++;
		if (it->bad)
			continue;
		sigs++;
		/* links are checked against the id the feed names, so one damaged
		 * entry does not make its successor look broken too */
		if (first ? (it->seq != 1)
		          : (it->seq != col.v[i - 1].seq + 1 || memcmp(it->prev, col.v[i - 1].key, 32) != 0))
			it->bad = "does not continue its author's feed";
		else {
			const uint8_t *sv;
			size_t sl;
			uint32_t roles;
			bool anchor;
			keten_error aerr = {0};
			/* the id index (status byte || author || seq || rule) must lead back here */
			if (keten_kv_get(t, KT_STATUS, it->id, 32, (const void **)&sv, &sl, NULL) != 0 ||
			    sl < KETEN_STATUS_RULE || memcmp(sv + KETEN_STATUS_AUTHOR, it->author, 32) != 0 ||
			    keten_get_be64(sv + KETEN_STATUS_SEQ) != it->seq)
				it->bad = "the id index does not lead to this entry";
			else if (sv[0] != KS_PENDING &&
			         kt_party_authorized(t, it->author, it->ts, &roles, &anchor, &aerr) == KETEN_EAUTHOR)
				it->bad = "author holds no certificate from a trust anchor";
		}
	}
	if (c->json)
		badj = json_array();
	for (size_t i = 0; i < col.n; i++) {
		item *it = &col.v[i];
		char hex[65], ah[65];
		if (!it->bad)
			continue;
		bad++;
		keten_hex(hex, it->key, 32);
		keten_hex(ah, it->author, 32);
		if (badj) {
			json_t *b = json_object();
			json_object_set_new(b, "id", json_string(hex));
			json_object_set_new(b, "author", json_string(ah));
			json_object_set_new(b, "seq", json_integer((json_int_t)it->seq));
			json_object_set_new(b, "problem", json_string(it->bad));
			json_array_append_new(badj, b);
		} else {
			printf("bad: %s (author %.16s seq %llu): %s\n", hex, ah, (unsigned long long)it->seq, it->bad);
		}
	}
	forks.arr = c->json ? json_array() : NULL;
	keten_kv_scan(t, KT_FORKS, NULL, 0, fork_cb, &forks, NULL);
	{
		uint8_t prefix[4];
		cps.t = t;
		cps.self = keten_ledger_info(c->L)->key;
		cps.arr = c->json ? json_array() : NULL;
		keten_be32(prefix, KETEN__BODY_TYPE__CHECKPOINT);
		keten_kv_scan(t, KT_BY_TYPE, prefix, 4, cp_cb, &cps, NULL);
	}
	keten_txn_end(t);
	if (c->json) {
		json_t *r = json_object();
		json_object_set_new(r, "entries", json_integer((json_int_t)col.n));
		json_object_set_new(r, "feeds", json_integer((json_int_t)feeds));
		json_object_set_new(r, "signatures_checked", json_integer((json_int_t)sigs));
		json_object_set_new(r, "bad", badj);
		json_object_set_new(r, "forks", forks.arr);
		json_object_set_new(r, "checkpoints_checked", json_integer((json_int_t)cps.checked));
		json_object_set_new(r, "checkpoint_conflicts", cps.arr);
		cli_print_json(r);
	} else {
		printf("verified %zu entries in %zu feeds: %zu bad, %zu fork proofs, %zu checkpoints checked: %zu conflicting\n",
		       col.n, feeds, bad, forks.n, cps.checked, cps.conflicts);
	}
	free(col.v);
	return bad || forks.n || cps.conflicts ? EX_FINDING : 0;
}
