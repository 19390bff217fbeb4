/*
 * verify.c — the auditor's full check (include/keten/verify.h): every log
 * record re-parsed and its id and signature checked on several threads,
 * then feed by feed the chain links, the id index and the author's
 * certificate; the fork proofs held; and the other nodes' checkpoints
 * against this node's feeds (the sync layer's keten_checkpoints_check).
 * One read transaction throughout: the workers read the entries' bytes in
 * the map while it is open.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keten/verify.h"
#include "rules/rules.h"
#include "base/base.h"

/* One log record, with what the workers find in it. */
typedef struct item {
	const uint8_t *key; /* id stored with it in its log record (in the map) */
	const uint8_t *raw;
	size_t len;
	/* filled by workers */
	uint8_t id[32], author[32], prev[32];
	uint64_t seq;
	int64_t ts;
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
	static const uint8_t none[32];
	struct collect *c = p;
	item *it;
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
	it = &c->v[c->n++];
	memset(it, 0, sizeof *it);
	it->key = v;
	/* Author and seq come from the feed key, so a damaged entry is still
	 * reported at its place in its feed. */
	memcpy(it->author, k, 32);
	it->seq = kt_get_be64(k + 32);
	if (vl < 32) {
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

/* Bytes, id, place and signature of every nw-th item from w on. */
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

/* Run the workers on jobs threads, this one among them (a thread that
 * cannot be started leaves its share to this one). */
static void check_signatures(struct collect *col, unsigned jobs)
{
	pthread_t th[KETEN_VERIFY_MAX_JOBS];
	struct work w[KETEN_VERIFY_MAX_JOBS];
	bool started[KETEN_VERIFY_MAX_JOBS] = {false};

	KETEN_ASSERT(jobs >= 1 && jobs <= KETEN_VERIFY_MAX_JOBS);
	for (unsigned i = 0; i < jobs; i++) {
		w[i] = (struct work){col->v, col->n, i, jobs};
		started[i] = i > 0 && pthread_create(&th[i], NULL, worker, &w[i]) == 0;
	}
	for (unsigned i = 0; i < jobs; i++)
		if (!started[i])
			worker(&w[i]);
	for (unsigned i = 1; i < jobs; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}

/* What is wrong with it in its feed after prev (NULL: its feed's first):
 * the chain link, the id index, the author's certificate. */
static const char *link_problem(keten_txn *t, const item *it, const item *prev)
{
	const uint8_t *sv;
	size_t sl;
	uint32_t roles;
	bool anchor;
	keten_error aerr = {0};

	/* links are checked against the id the feed names, so one damaged
	 * entry does not make its successor look broken too */
	if (!prev ? it->seq != 1 : (it->seq != prev->seq + 1 || memcmp(it->prev, prev->key, 32) != 0))
		return "does not continue its author's feed";
	/* the id index (status byte || author || seq || rule) must lead back here */
	if (kt_kv_get(t, KT_STATUS, it->id, 32, (const void **)&sv, &sl, NULL) != 0 || sl < KT_STATUS_RULE ||
	    memcmp(sv + KT_STATUS_AUTHOR, it->author, 32) != 0 || kt_get_be64(sv + KT_STATUS_SEQ) != it->seq)
		return "the id index does not lead to this entry";
	if (sv[0] != KS_PENDING && kt_party_authorized(t, it->author, it->ts, &roles, &anchor, &aerr) == KETEN_EAUTHOR)
		return "author holds no certificate from a trust anchor";
	return NULL;
}

/* Chain links and certificates, feed by feed (col->v is in author, seq
 * order), then every bad entry into the report. */
static int check_feeds(keten_txn *t, struct collect *col, keten_verify_report *out, keten_error *err)
{
	size_t bad = 0;
	for (size_t i = 0; i < col->n; i++) {
		item *it = &col->v[i];
		bool first = i == 0 || memcmp(col->v[i - 1].author, it->author, 32) != 0;
		out->feeds += first;
		if (it->bad)
			continue;
		out->signatures++;
		it->bad = link_problem(t, it, first ? NULL : &col->v[i - 1]);
	}
	for (size_t i = 0; i < col->n; i++)
		bad += col->v[i].bad != NULL;
	if (bad && !(out->bad = calloc(bad, sizeof *out->bad)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	for (size_t i = 0; i < col->n; i++) {
		const item *it = &col->v[i];
		keten_verify_bad *b;
		if (!it->bad)
			continue;
		b = &out->bad[out->n_bad++];
		memcpy(b->id, it->key, 32);
		memcpy(b->author, it->author, 32);
		b->seq = it->seq;
		b->problem = it->bad;
	}
	KETEN_ASSERT(out->n_bad == bad && out->signatures <= col->n && out->feeds <= col->n);
	return KETEN_OK;
}

/* Append one element of size `size` to *v (n, cap), zeroed; NULL: no memory. */
static void *push(void **v, size_t *n, size_t *cap, size_t size)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		void *q = realloc(*v, c * size);
		if (!q)
			return NULL;
		*v = q;
		*cap = c;
	}
	return memset((uint8_t *)*v + (*n)++ * size, 0, size);
}

struct fork_list {
	keten_verify_report *out;
	size_t cap;
};

static int fork_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct fork_list *f = p;
	keten_verify_fork *fk;
	if (kl != 72)
		return 0;
	if (!(fk = push((void **)&f->out->forks, &f->out->n_forks, &f->cap, sizeof *fk)))
		return -1;
	memcpy(fk->author, k, 32);
	fk->seq = kt_get_be64(k + 32);
	memcpy(fk->id, k + 40, 32);
	return 0;
}

struct cp_list {
	keten_verify_report *out;
	size_t cap;
	bool nomem;
};

/* Other nodes' checkpoints: those that do not check, or name another
 * entry than our feed holds, are conflicts. */
static int cp_cb(void *ctx, const keten_checkpoint_seen *cp)
{
	struct cp_list *x = ctx;
	keten_verify_conflict *c;
	x->out->checkpoints++;
	if (cp->rc == 0 && !cp->check.differ)
		return 0;
	if (!(c = push((void **)&x->out->conflicts, &x->out->n_conflicts, &x->cap, sizeof *c))) {
		x->nomem = true;
		return 1;
	}
	memcpy(c->id, cp->id, 32);
	memcpy(c->author, cp->author, 32);
	c->malformed = cp->rc != 0;
	if (c->malformed) {
		memcpy(c->problem, cp->problem, sizeof c->problem);
		return 0;
	}
	c->differ = cp->check.differ;
	memcpy(c->feed, cp->check.first_differ, 32);
	c->seq = cp->check.first_differ_seq;
	strcpy(c->problem, "a head names another entry than this node's feed holds");
	return 0;
}

/* The fork proofs and the checkpoints of others into out. */
static int check_forks_checkpoints(keten_ledger *L, keten_txn *t, keten_verify_report *out, keten_error *err)
{
	struct fork_list fl = {out, 0};
	struct cp_list cl = {out, 0, false};
	int rc = kt_kv_scan(t, KT_FORKS, NULL, 0, fork_cb, &fl, err);
	if (rc)
		return rc == KETEN_EINVAL && !(err && err->msg[0]) ? keten_fail(err, KETEN_ENOMEM, NULL)
								   : (keten_err)rc;
	rc = keten_checkpoints_check(t, keten_ledger_info(L)->key, cp_cb, &cl, err);
	if (rc == 0 && cl.nomem)
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
	return rc;
}

int keten_ledger_verify(keten_ledger *L, const keten_verify_opts *opts, keten_verify_report *out, keten_error *err)
{
	static const keten_verify_opts defaults = {0};
	struct collect col = {0};
	unsigned jobs;
	keten_txn *t;
	int rc;

	KETEN_ASSERT(L && out);
	memset(out, 0, sizeof *out);
	if (!opts)
		opts = &defaults;
	if (opts->jobs > KETEN_VERIFY_MAX_JOBS)
		return keten_fail(err, KETEN_EINVAL, "%u jobs: at most %u", opts->jobs, KETEN_VERIFY_MAX_JOBS);
	jobs = opts->jobs;
	if (!jobs) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = n < 1 ? 1 : n > (long)KETEN_VERIFY_MAX_JOBS ? KETEN_VERIFY_MAX_JOBS : (unsigned)n;
	}
	if ((rc = keten_store_read(keten_ledger_store(L), &t, err)))
		return rc;
	rc = kt_kv_scan(t, KT_LOG, NULL, 0, collect_cb, &col, err);
	if (rc == KETEN_EINVAL && !(err && err->msg[0]))
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
	if (rc == 0) {
		out->entries = col.n;
		if (opts->progress)
			opts->progress(opts->progress_ctx, col.n, jobs);
		check_signatures(&col, jobs);
		rc = check_feeds(t, &col, out, err);
	}
	if (rc == 0)
		rc = check_forks_checkpoints(L, t, out, err);
	keten_txn_end(t);
	free(col.v);
	if (rc)
		keten_verify_report_release(out);
	return rc;
}

void keten_verify_report_release(keten_verify_report *r)
{
	if (!r)
		return;
	free(r->bad);
	free(r->forks);
	free(r->conflicts);
	memset(r, 0, sizeof *r);
}
