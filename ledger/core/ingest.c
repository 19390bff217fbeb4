/*
 * ingest.c — received entries (sync, import): parsed, sorted by author
 * and seq, and taken one author's run at a time: what is known is skipped
 * (a body for a stub is added), a different entry at a known seq is kept
 * as a fork, the rest must continue the stored feed link by link and its
 * last signature must verify (it commits to every earlier one through the
 * prev links).  Stored runs are then applied in feed order, or parked as
 * pending (pending.c).  See core/core.h for the other files of the core.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "proto/keten.pb-c.h"
#include "base/base.h"

/* Entries of c->e just stored, in the order they are to be applied.  They
 * are applied from these parsed copies, which hold exactly the bytes just
 * stored: reading each back from the store and parsing it again cost about
 * a fifth of an import's CPU time (tests/bench). */
struct reflist {
	const keten_entry **v;
	size_t n, cap;
};

static int reflist_push(struct reflist *l, const keten_entry *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *p = realloc(l->v, cap * sizeof *l->v);
		if (!p)
			return -1;
		l->v = p;
		l->cap = cap;
	}
	KETEN_ASSERT(l->n < l->cap);
	l->v[l->n++] = e;
	return 0;
}

struct ingest_ctx {
	keten_entry *e; /* parsed, sorted by author then seq */
	size_t n;
	bool aon;
	keten_ingest_stats st;
	keten_error first; /* the first dropped run, in sync mode */
};

static int cmp_entry(const void *x, const void *y)
{
	const keten_entry *a = x, *b = y;
	int c = memcmp(a->author, b->author, 32);
	if (c)
		return c;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	/* same seq: bodies first, so a stub and its full entry keep the body */
	return (int)b->has_body - (int)a->has_body;
}

/* Keep both signed headers of an equivocation, and mark the author. */
static int record_fork(keten_txn *t, const keten_entry *mine_or_theirs, keten_error *err)
{
	uint8_t k[72];
	uint8_t *v;
	size_t n = mine_or_theirs->header_len + 64;
	Keten__State__PartyState *p = NULL;
	int rc;

	KETEN_ASSERT(mine_or_theirs->header_len > 0 && mine_or_theirs->sig != NULL);
	memcpy(k, mine_or_theirs->author, 32);
	kt_be64(k + 32, mine_or_theirs->seq);
	memcpy(k + 40, mine_or_theirs->id, 32);
	v = malloc(n);
	if (!v)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	memcpy(v, mine_or_theirs->header, mine_or_theirs->header_len);
	memcpy(v + mine_or_theirs->header_len, mine_or_theirs->sig, 64);
	rc = kt_kv_put(t, KT_FORKS, k, 72, v, n, err);
	free(v);
	if (rc)
		return rc;
	rc = kt_party_load(t, mine_or_theirs->author, &p, err);
	if (rc == KETEN_ENOTFOUND) {
		keten_error_clear(err);
		return KETEN_OK;
	}
	if (rc)
		return rc;
	p->has_forked = p->forked = 1;
	rc = kt_party_save(t, p, err);
	keten__state__party_state__free_unpacked(p, NULL);
	return rc;
}

static int fork_pair(keten_txn *t, const keten_entry *theirs, keten_error *err)
{
	keten_entry mine;
	uint8_t id[32];
	int rc = keten_store_feed_id(t, theirs->author, theirs->seq, id, err);
	if (rc)
		return rc;
	if ((rc = keten_store_get_entry(t, id, &mine, err)))
		return rc;
	/* two entries of one feed at one seq */
	KETEN_ASSERT(mine.seq == theirs->seq && memcmp(mine.author, theirs->author, 32) == 0 &&
	             memcmp(mine.id, theirs->id, 32) != 0);
	rc = record_fork(t, &mine, err);
	if (rc == 0)
		rc = record_fork(t, theirs, err);
	keten_entry_release(&mine);
	return rc;
}

/*
 * The entries of run [i, j) at seqs the store holds, from i on: the same
 * id is a duplicate (maybe bringing the body of a stub held here), another
 * id a fork.  *k receives the first entry past the stored head.
 */
static int ingest_known(keten_txn *t, struct ingest_ctx *c, size_t i, size_t j, uint64_t head, struct reflist *fresh,
                        size_t *k, const char *hex, keten_error *err)
{
	int rc;

	for (*k = i; *k < j && c->e[*k].seq <= head; (*k)++) {
		const keten_entry *e = &c->e[*k];
		uint8_t id[32];
		keten_status st;
		KETEN_ASSERT(memcmp(e->author, c->e[i].author, 32) == 0);
		if ((rc = keten_store_feed_id(t, e->author, e->seq, id, err)))
			return rc;
		if (memcmp(id, e->id, 32) != 0) {
			/* A different entry at a stored seq: authentic only if its own signature holds. */
			if (keten_entry_verify(e) != KETEN_OK)
				return keten_fail(err, KETEN_ESIG, "entry %llu of '%.16s' has a bad signature",
				                  (unsigned long long)e->seq, hex);
			if ((rc = fork_pair(t, e, err)))
				return rc;
			c->st.forks++;
			continue;
		}
		c->st.known++;
		if (!e->has_body || keten_store_status(t, id, &st, NULL, 0, NULL) != 0 || st != KS_STUB)
			continue;
		/* The body of a stub we held: authentic by its hash. */
		if ((rc = kt_store_put_entry(t, e, KS_PENDING, NULL, err)))
			return rc;
		c->st.bodies_added++;
		if (reflist_push(fresh, e))
			return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	return KETEN_OK;
}

/* Entries [k, j) continue the stored head link by link (duplicates in the
 * input aside); stop at the first that does not. */
static int ingest_links(const struct ingest_ctx *c, size_t k, size_t j, uint64_t head, const uint8_t head_id[32],
                        const char *hex, keten_error *err)
{
	KETEN_ASSERT(k < j);
	for (size_t last = k; last < j; last++) {
		const keten_entry *e = &c->e[last];
		const uint8_t *want_prev = last == k ? head_id : c->e[last - 1].id;
		uint64_t want_seq = last == k ? head + 1 : c->e[last - 1].seq + 1;
		if (last > k && e->seq == c->e[last - 1].seq) {
			if (memcmp(e->id, c->e[last - 1].id, 32) == 0)
				continue; /* duplicate in the input */
			return keten_fail(err, KETEN_EFORK, "two entries at seq %llu of '%.16s' in one batch",
			                  (unsigned long long)e->seq, hex);
		}
		if (e->seq != want_seq || (want_seq > 1 && memcmp(e->prev, want_prev, 32) != 0))
			return keten_fail(err, KETEN_ECHAIN,
			                  "entry %llu of '%.16s' does not continue its feed (have %llu)",
			                  (unsigned long long)e->seq, hex, (unsigned long long)(want_seq - 1));
	}
	return KETEN_OK;
}

/* Store entries [k, j), which ingest_links found to continue the head, as pending. */
static int ingest_store(keten_txn *t, struct ingest_ctx *c, size_t k, size_t j, uint64_t head, struct reflist *fresh,
                        keten_error *err)
{
	uint64_t seq = head;
	int rc;

	for (size_t m = k; m < j; m++) {
		if (m > k && c->e[m].seq == c->e[m - 1].seq)
			continue;
		/* each stored entry is the next of its feed */
		KETEN_ASSERT(c->e[m].seq == seq + 1);
		KETEN_ASSERT(m == k || memcmp(c->e[m].prev, c->e[m - 1].id, 32) == 0);
		if ((rc = kt_store_put_entry(t, &c->e[m], KS_PENDING, NULL, err)))
			return rc;
		seq = c->e[m].seq;
		c->st.added++;
		if (reflist_push(fresh, &c->e[m]))
			return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	return KETEN_OK;
}

/*
 * One author's run [i, j): skip what is known, catch forks, check that the
 * rest continues the stored head link by link, verify the signature of the
 * run's last entry (which commits to every earlier header and signature
 * through the prev links), then store the run.
 */
static int ingest_run(keten_txn *t, struct ingest_ctx *c, size_t i, size_t j, struct reflist *fresh, keten_error *err)
{
	uint64_t head;
	uint8_t head_id[32];
	size_t k;
	char hex[65];
	int rc;

	KETEN_ASSERT(i < j && memcmp(c->e[i].author, c->e[j - 1].author, 32) == 0);
	if ((rc = keten_store_head(t, c->e[i].author, &head, head_id, err)))
		return rc;
	keten_hex(hex, c->e[i].author, 32);
	if ((rc = ingest_known(t, c, i, j, head, fresh, &k, hex, err)))
		return rc;
	if (k == j)
		return KETEN_OK;
	if (head == 0 && !keten_key_valid(c->e[k].author))
		return keten_fail(err, KETEN_EMALFORMED, "author '%.16s' is not a valid Ed25519 key", hex);
	if ((rc = ingest_links(c, k, j, head, head_id, hex, err)))
		return rc;
	if (keten_entry_verify(&c->e[j - 1]) != KETEN_OK)
		return keten_fail(err, KETEN_ESIG, "entry %llu of '%.16s' has a bad signature",
		                  (unsigned long long)c->e[j - 1].seq, hex);
	return ingest_store(t, c, k, j, head, fresh, err);
}

static int ingest_fn(keten_txn *t, void *p, keten_error *err)
{
	struct ingest_ctx *c = p;
	struct reflist fresh = {0};
	struct kt_idlist wake = {0};
	struct kt_authz z = {0};
	int rc = KETEN_OK;

	memset(&c->st, 0, sizeof c->st);
	c->st.received = c->n;
	keten_error_clear(&c->first);
	for (size_t i = 0, j; i < c->n && rc == 0; i = j) {
		size_t mark = fresh.n;
		for (j = i + 1; j < c->n && memcmp(c->e[j].author, c->e[i].author, 32) == 0; j++)
			;
		KETEN_ASSERT(j > i && j <= c->n);
		rc = ingest_run(t, c, i, j, &fresh, err);
		if (rc && !c->aon && rc != KETEN_ESTORE && rc != KETEN_ENOMEM) {
			/* sync: drop this author's run, keep the others */
			if (!c->first.code)
				c->first = *err;
			fresh.n = mark;
			rc = KETEN_OK;
		}
	}
	/*
	 * Apply in feed order; a later entry of an author waits for its
	 * predecessor.  Each fresh entry is still pending here, with no
	 * lookup: only its own try_apply can park it, so no drain can have
	 * applied it before its turn.
	 */
	KETEN_ASSERT(fresh.n <= c->n);
	for (size_t i = 0; rc == 0 && i < fresh.n; i++) {
		rc = kt_try_apply(t, fresh.v[i], false, &c->st, &wake, &z, NULL, err);
		if (rc == 0)
			rc = kt_drain(t, &wake, &c->st, &z, err);
		wake.n = 0;
	}
	free(fresh.v);
	free(wake.ids);
	return rc;
}

int keten_ledger_ingest(keten_ledger *L, const keten_blob *b, size_t n, bool aon, keten_ingest_stats *st,
                        keten_error *err)
{
	struct ingest_ctx c = {.aon = aon};
	int rc = KETEN_OK;

	if (st)
		memset(st, 0, sizeof *st);
	c.e = calloc(n ? n : 1, sizeof *c.e);
	if (!c.e)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	for (size_t i = 0; i < n; i++) {
		keten_error perr = {0};
		rc = keten_entry_parse(b[i].data, b[i].len, &c.e[c.n], &perr);
		if (rc) {
			if (aon) {
				keten_fail(err, rc, "entry %zu: %s", i + 1, perr.msg);
				goto out;
			}
			if (!c.first.code)
				c.first = perr;
			rc = KETEN_OK;
			continue;
		}
		c.n++;
	}
	KETEN_ASSERT(c.n <= n);
	qsort(c.e, c.n, sizeof *c.e, cmp_entry);
	{
		keten_error first_parse = c.first;
		rc = kt_store_write(L->store, ingest_fn, &c, err);
		if (rc == 0 && !c.first.code && first_parse.code)
			c.first = first_parse;
	}
	if (st) {
		*st = c.st;
		st->received = n;
	}
	if (rc == 0 && c.first.code && err)
		*err = c.first; /* reported, but what was good is kept */
out:
	for (size_t i = 0; i < c.n; i++)
		keten_entry_release(&c.e[i]);
	free(c.e);
	return rc;
}
