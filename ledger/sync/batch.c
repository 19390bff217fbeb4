/*
 * batch.c — the client's batches: the Entries replies that continue one
 * feed, copied and ingested together (one keten_ledger_ingest call, one
 * write transaction) while the next replies arrive, and the outcome of
 * each taken at the next decision that depends on it (keten/sync.h:
 * Batches).  A batch that falls short is ingested again reply by reply,
 * so the round goes on as if each had been ingested alone.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sync/client.h"
#include "base/base.h"
#include "store/kv.h"

static void ingest_items(keten_ledger *L, const uint8_t author[32], const keten_blob *b, size_t n, struct ingested *r)
{
	size_t before, after;
	keten_txn *t;

	memset(r, 0, sizeof *r);
	r->n = n;
	if ((r->rc = keten_store_read(keten_ledger_store(L), &t, &r->err)))
		return;
	before = kt_kv_count(t, KT_FORKS);
	keten_txn_end(t);
	/* Whatever does not verify is dropped by ingest and shows as our head
	 * falling short of what the replies claimed; its message stays here. */
	if (n && (r->rc = keten_ledger_ingest(L, b, n, false, &r->ist, &r->err)))
		return;
	keten_error_clear(&r->err);
	if ((r->rc = keten_store_read(keten_ledger_store(L), &t, &r->err)))
		return;
	r->rc = keten_store_head(t, author, &r->head, NULL, &r->err);
	after = kt_kv_count(t, KT_FORKS);
	keten_txn_end(t);
	r->new_forks = after != before;
}

static void batch_clear(struct batch *b)
{
	b->n_bytes = b->n_items = b->n_parts = 0;
	b->handed = false;
}

static void batch_free(struct batch *b)
{
	free(b->bytes);
	free(b->items);
	free(b->blobs);
	free(b->parts);
	memset(b, 0, sizeof *b);
}

/* p with room for `need` elements of `size` (doubling), or NULL with p
 * left as it was. */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t cap2 = *cap ? *cap : 16;
	void *q;
	if (need <= *cap)
		return p;
	while (cap2 < need)
		cap2 *= 2;
	if (!(q = realloc(p, cap2 * size)))
		return NULL;
	*cap = cap2;
	return q;
}

/* Copy one Entries reply of job j into b (the decoded reply is freed
 * before the batch is ingested). */
static int batch_add(keten_sync_client *c, struct batch *b, const struct job *j, const Keten__Sync__Entries *en,
                     keten_error *err)
{
	struct part *p;
	size_t bytes = b->n_bytes, items = b->n_items;
	void *q;

	for (size_t i = 0; i < en->n_entry; i++)
		if (en->entry[i].len <= KETEN_MAX_ENTRY_BYTES) {
			bytes += en->entry[i].len;
			items++;
		}
	if (!(q = grow(b->bytes, &b->cap_bytes, bytes ? bytes : 1, 1)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	b->bytes = q;
	if (!(q = grow(b->items, &b->cap_items, items ? items : 1, sizeof *b->items)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	b->items = q;
	if (!(q = grow(b->blobs, &b->cap_blobs, items ? items : 1, sizeof *b->blobs)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	b->blobs = q;
	if (!(q = grow(b->parts, &b->cap_parts, b->n_parts + 1, sizeof *b->parts)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	b->parts = q;
	if (!b->n_parts)
		memcpy(b->author, j->author, 32);
	p = &b->parts[b->n_parts++];
	p->first = b->n_items;
	p->raw = en->n_entry;
	p->from = j->from;
	p->more = en->has_more && en->more;
	for (size_t i = 0; i < en->n_entry; i++) {
		if (en->entry[i].len > KETEN_MAX_ENTRY_BYTES) {
			c->st.dropped++;
			continue;
		}
		memcpy(b->bytes + b->n_bytes, en->entry[i].data, en->entry[i].len);
		b->items[b->n_items].off = b->n_bytes;
		b->items[b->n_items].len = en->entry[i].len;
		b->n_bytes += en->entry[i].len;
		b->n_items++;
	}
	p->n = b->n_items - p->first;
	KETEN_ASSERT(b->n_bytes <= b->cap_bytes && b->n_items <= b->cap_items && b->n_parts <= b->cap_parts);
	KETEN_ASSERT(p->n <= p->raw);
	return KETEN_OK;
}

/* Entries of parts [p0, p1) as blobs into b->blobs; their number. */
static size_t batch_blobs(struct batch *b, size_t p0, size_t p1)
{
	size_t first, n = 0;
	KETEN_ASSERT(p0 < p1 && p1 <= b->n_parts);
	first = b->parts[p0].first;
	for (size_t p = p0; p < p1; p++)
		n += b->parts[p].n;
	for (size_t i = 0; i < n; i++) {
		b->blobs[i].data = b->bytes + b->items[first + i].off;
		b->blobs[i].len = b->items[first + i].len;
	}
	return n;
}

static uint64_t part_top(const struct part *p)
{
	return p->raw ? p->from + p->raw - 1 : 0;
}

/* The highest seq the batch's replies claim (0: none). */
static uint64_t batch_top(const struct batch *b)
{
	uint64_t top = 0;
	for (size_t p = 0; p < b->n_parts; p++)
		if (part_top(&b->parts[p]) > top)
			top = part_top(&b->parts[p]);
	return top;
}

static void count(keten_sync_client *c, const struct ingested *r)
{
	size_t kept = r->ist.added + r->ist.known + r->ist.forks;
	if (!r->n)
		return;
	c->st.entries += r->ist.added;
	c->st.stubs += r->ist.stubs;
	c->st.bodies += r->ist.bodies_added;
	c->st.known += r->ist.known;
	/* An equivocation counts once, when its proof is first stored here. */
	c->st.forks += r->new_forks ? r->ist.forks : 0;
	c->st.pending += r->ist.pending;
	c->st.rejected += r->ist.rejected;
	c->st.dropped += r->n > kept ? r->n - kept : 0;
}

static bool batch_due(const keten_sync_client *c, const struct batch *b)
{
	uint32_t e = c->batch_entries ? c->batch_entries : KETEN_SYNC_BATCH_ENTRIES;
	uint32_t by = c->batch_bytes ? c->batch_bytes : KETEN_SYNC_BATCH_BYTES;
	return b->n_items >= e || b->n_bytes >= by;
}

void kt_client_lock(keten_sync_client *c)
{
	if (c->lock_fn && !c->locked) {
		c->lock_fn(c->lock_ctx, true);
		c->locked = true;
	}
}

void kt_client_unlock(keten_sync_client *c)
{
	if (c->locked) {
		c->lock_fn(c->lock_ctx, false);
		c->locked = false;
	}
}

static void *batch_thread(void *arg)
{
	struct batch *b = arg;
	b->lock_fn(b->lock_ctx, true);
	ingest_items(b->L, b->author, b->blobs, batch_blobs(b, 0, b->n_parts), &b->res);
	b->lock_fn(b->lock_ctx, false);
	return NULL;
}

/* Wait for the handed batch's thread, without holding the lock it takes. */
static void batch_wait(keten_sync_client *c)
{
	bool relock = c->locked;
	if (!c->hand.threaded)
		return;
	kt_client_unlock(c);
	pthread_join(c->hand.th, NULL);
	c->hand.threaded = false;
	if (relock)
		kt_client_lock(c);
}

/*
 * Move job j on after reply p, with our head of the feed at `head`, as
 * when each reply was ingested alone: a run that did not continue our
 * feed makes us compare our head with the server's (an equivocation is
 * then recorded), a run left short ends the job.  True when the reply
 * held: the job goes on after it, as the requests sent since assumed.
 */
static bool part_done(keten_sync_client *c, struct job *j, const struct part *p, uint64_t head)
{
	uint64_t top = part_top(p);
	bool held = false;

	if (top == 0) {
		j->from = j->to + 1; /* nothing more from this server */
	} else if (head < top && !j->probed && head >= 1) {
		c->incomplete = true;
		j->probe = j->probed = true;
		j->from = j->to = head;
	} else if (head < top || j->probe) {
		j->from = j->to + 1;
	} else {
		held = true;
		j->from = top + 1;
		if (!p->more)
			j->from = j->to + 1 > j->from ? j->to + 1 : j->from;
	}
	/* A feed left short of what the server listed (entries dropped, or
	 * not sent): the next round must not take the digest shortcut. */
	if (j->from > j->to && !j->probe && head < j->to)
		c->incomplete = true;
	return held;
}

/*
 * A batch that left our head short of its replies' claims: ingest its
 * replies again one at a time, as before batches, and stop after the
 * first that does not hold.  What the whole-batch ingest stored anyway
 * (bodies of stubs, fork proofs) counts from it.  *held: every reply held
 * alone after all.
 */
static int batch_redo(keten_sync_client *c, struct batch *b, const struct ingested *whole, bool *held, keten_error *err)
{
	struct job *j = &c->jobs[c->cur];
	struct ingested r;

	*held = true;
	c->st.bodies += whole->ist.bodies_added;
	c->st.forks += whole->new_forks ? whole->ist.forks : 0;
	for (size_t p = 0; p < b->n_parts && *held; p++) {
		size_t n = batch_blobs(b, p, p + 1);
		ingest_items(c->L, j->author, b->blobs, n, &r);
		if (r.rc) {
			if (err)
				*err = r.err;
			return r.rc;
		}
		count(c, &r);
		*held = part_done(c, j, &b->parts[p], r.head);
	}
	return KETEN_OK;
}

/*
 * Take the outcome of the handed batch (waiting for its thread).  When it
 * fell short, the job is moved on as the replies ingested alone say, and
 * the replies fetched after it (the batch being filled) are dropped:
 * *redirected.
 */
static int settle(keten_sync_client *c, bool *redirected, keten_error *err)
{
	struct batch *b = &c->hand;
	struct job *j;
	bool held;
	int rc;

	*redirected = false;
	if (!b->handed)
		return KETEN_OK;
	batch_wait(c);
	b->handed = false;
	if (b->res.rc) {
		if (err)
			*err = b->res.err;
		rc = b->res.rc;
		batch_clear(b);
		return rc;
	}
	if (b->res.head >= batch_top(b)) {
		/* It held: the job already goes on after it. */
		count(c, &b->res);
		batch_clear(b);
		return KETEN_OK;
	}
	j = &c->jobs[c->cur];
	{
		uint64_t from = j->from;
		kt_client_lock(c);
		rc = batch_redo(c, b, &b->res, &held, err);
		if (rc == 0 && held)
			j->from = from; /* each reply held alone: so do those after them */
	}
	batch_clear(b);
	if (rc)
		return rc;
	if (!held) {
		*redirected = true;
		batch_clear(&c->fill);
	}
	return KETEN_OK;
}

/* Ingest the batch being filled now; its last reply ends it. */
static int flush_fill(keten_sync_client *c, keten_error *err)
{
	struct batch *b = &c->fill;
	struct job *j = &c->jobs[c->cur];
	struct ingested r;
	bool held;
	int rc = KETEN_OK;

	if (!b->n_parts)
		return KETEN_OK;
	kt_client_lock(c);
	ingest_items(c->L, j->author, b->blobs, batch_blobs(b, 0, b->n_parts), &r);
	if (r.rc) {
		if (err)
			*err = r.err;
		rc = r.rc;
	} else if (r.head >= batch_top(b)) {
		count(c, &r);
		for (size_t p = 0; p < b->n_parts; p++)
			part_done(c, j, &b->parts[p], r.head);
	} else {
		rc = batch_redo(c, b, &r, &held, err);
	}
	batch_clear(b);
	return rc;
}

/* Hand the full batch being filled over to be ingested while the next
 * replies arrive: on the client's thread when it has a lock, else now. */
static void hand_off(keten_sync_client *c)
{
	struct batch tmp = c->hand;
	KETEN_ASSERT(!c->hand.handed && c->fill.n_parts > 0); /* settled before */
	c->hand = c->fill;
	c->fill = tmp;
	batch_clear(&c->fill);
	c->hand.handed = true;
	c->hand.L = c->L;
	c->hand.lock_fn = c->lock_fn;
	c->hand.lock_ctx = c->lock_ctx;
	if (c->lock_fn && pthread_create(&c->hand.th, NULL, batch_thread, &c->hand) == 0) {
		c->hand.threaded = true;
		return;
	}
	/* Inline (no lock, or no thread to be had): the outcome is still taken
	 * at the next decision, so the messages are the same either way. */
	kt_client_lock(c);
	ingest_items(c->L, c->hand.author, c->hand.blobs, batch_blobs(&c->hand, 0, c->hand.n_parts), &c->hand.res);
}

/* The round ends or starts over: take what has arrived into the ledger. */
int kt_batches_finish(keten_sync_client *c, keten_error *err)
{
	bool redirected;
	int rc = settle(c, &redirected, err);
	if (rc == 0 && c->fill.n_parts && c->cur < c->n_jobs)
		rc = flush_fill(c, err);
	batch_clear(&c->fill);
	return rc;
}

/* Drop both batches (the handed one is in the ledger already, or not),
 * and their memory: a node that stays up keeps none between rounds. */
void kt_batches_drop(keten_sync_client *c)
{
	batch_wait(c);
	if (c->hand.handed && c->hand.res.rc == 0)
		count(c, &c->hand.res);
	batch_free(&c->hand);
	batch_free(&c->fill);
}

/* One Entries reply for the current job. */
int kt_take_entries(keten_sync_client *c, const Keten__Sync__Entries *en, keten_error *err)
{
	struct job *j = &c->jobs[c->cur];
	uint64_t top = en->n_entry ? j->from + en->n_entry - 1 : 0;
	/* A reply that continues the feed: the next Fetch is known without
	 * ingesting it (from the seq after it), so ingesting can wait. */
	bool go_on = !j->probe && en->n_entry && en->has_more && en->more && top < j->to;
	bool redirected;
	int rc = batch_add(c, &c->fill, j, en, err);

	if (rc)
		return rc;
	if (go_on) {
		j->from = top + 1;
		if (!batch_due(c, &c->fill))
			return KETEN_OK;
	}
	if ((rc = settle(c, &redirected, err)) || redirected)
		return rc;
	if (!go_on)
		return flush_fill(c, err);
	hand_off(c);
	return KETEN_OK;
}

/* Ingest the server's fork proofs (stubs): one that differs from the entry
 * held here at that seq is recorded as an equivocation by ingest. */
int kt_take_forks(keten_sync_client *c, const Keten__Sync__Entries *en, keten_error *err)
{
	keten_blob *b = calloc(en->n_entry ? en->n_entry : 1, sizeof *b);
	keten_ingest_stats ist;
	keten_error ierr = {0};
	size_t n = 0, before, after;
	keten_txn *t;
	int rc;

	if (!b)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	for (size_t i = 0; i < en->n_entry; i++)
		if (en->entry[i].len <= KETEN_MAX_ENTRY_BYTES) {
			b[n].data = en->entry[i].data;
			b[n].len = en->entry[i].len;
			n++;
		}
	if ((rc = keten_store_read(keten_ledger_store(c->L), &t, err))) {
		free(b);
		return rc;
	}
	before = kt_kv_count(t, KT_FORKS);
	keten_txn_end(t);
	rc = n ? keten_ledger_ingest(c->L, b, n, false, &ist, &ierr) : KETEN_OK;
	free(b);
	if (rc) {
		if (err)
			*err = ierr;
		return rc;
	}
	if ((rc = keten_store_read(keten_ledger_store(c->L), &t, err)))
		return rc;
	after = kt_kv_count(t, KT_FORKS);
	keten_txn_end(t);
	if (n) {
		c->st.entries += ist.added;
		c->st.stubs += ist.stubs;
		c->st.known += ist.known;
	}
	if (after > before)
		c->st.forks += (after - before + 1) / 2;
	return KETEN_OK;
}
