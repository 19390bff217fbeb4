/*
 * append.c — local appends: each entry of a call is signed by the home's
 * key as the next of its feed, checked by the body rules and stored with
 * the status they decide, all in one write transaction; a refusal stores
 * nothing of the call.  Long batches sign in a second thread that runs
 * ahead of the rules (the signing pipeline below).  See core/core.h for
 * the other files of the core.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "base/base.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The home's feed as far as this call has stored it. */
struct feed_head {
	uint64_t seq; /* 0: no entry yet */
	uint8_t id[32];
};

struct append_ctx {
	keten_ledger *L;
	const keten_append *a;
	size_t n;
	uint8_t (*ids)[32];
	int64_t ts;
	struct kt_idlist wake;
	kt_write_fn also; /* kt_ledger_append_also: run after the entries, in their transaction */
	void *also_ctx;
};

/* The draft of the call's i-th entry after seq/prev. */
static keten_entry_draft draft_of(const struct append_ctx *c, size_t i, uint64_t seq, const uint8_t *prev)
{
	const keten_append *a = &c->a[i];

	KETEN_ASSERT(i < c->n);
	return (keten_entry_draft){
		.seq = seq + 1,
		.prev = seq ? prev : NULL,
		.timestamp_ms = a->timestamp_ms ? a->timestamp_ms : c->ts,
		.body_type = a->body_type,
		.body = a->body,
		.body_len = a->body_len,
		.audience = a->audience,
		.n_audience = a->n_audience,
	};
}

/*
 * The call's i-th entry e, just signed: rules, then store with the status
 * they decided (one status write), and it is the new head.  err->item
 * names the entry when it is refused.
 */
static int take(keten_txn *t, struct append_ctx *c, size_t i, const keten_entry *e, struct feed_head *head,
                keten_error *err)
{
	keten_status st = KS_APPLIED;
	int rc;

	/* every new entry continues the home's feed: the head's seq + 1, prev the head's id */
	KETEN_ASSERT(e->seq == head->seq + 1);
	KETEN_ASSERT(head->seq == 0 || memcmp(e->prev, head->id, 32) == 0);
	KETEN_ASSERT(memcmp(e->author, c->L->kp.pk, 32) == 0);
	rc = kt_try_apply(t, e, true, NULL, &c->wake, NULL, &st, err);
	/* a local entry the rules refuse is not stored: applied, or waiting on its own predecessor */
	KETEN_ASSERT(rc != 0 || st == KS_APPLIED || st == KS_PENDING);
	if (rc == 0)
		rc = kt_store_put_entry(t, e, st, NULL, err);
	if (rc) {
		if (err)
			err->item = i + 1; /* which of the call's entries failed */
		return rc;
	}
	head->seq = e->seq;
	memcpy(head->id, e->id, 32);
	if (c->ids)
		memcpy(c->ids[i], e->id, 32);
	return KETEN_OK;
}

static int append_plain(keten_txn *t, struct append_ctx *c, struct feed_head *head, keten_error *err)
{
	uint64_t first = head->seq;
	int rc = KETEN_OK;

	for (size_t i = 0; rc == 0 && i < c->n; i++) {
		keten_entry_draft d = draft_of(c, i, head->seq, head->id);
		keten_entry e;
		if ((rc = keten_entry_sign(&c->L->kp, &d, &e, err))) {
			if (err)
				err->item = i + 1;
			break;
		}
		rc = take(t, c, i, &e, head, err);
		keten_entry_release(&e);
	}
	KETEN_ASSERT(rc != 0 || head->seq == first + c->n);
	return rc;
}

/*
 * Pipelined signing.  Entry i+1's prev is entry i's id, which hashes entry
 * i's signature, so the signatures of a batch form a chain and one thread
 * must make them in order; but nothing in them depends on the rules or the
 * store.  A signer thread therefore runs ahead, one signature (about 14 µs)
 * after another, while this thread — which owns the write transaction —
 * runs the rules and stores each entry as soon as it is signed.  Every
 * draft (timestamp included) is fixed before the signer starts, and
 * Ed25519 is deterministic, so the entries are the bytes the plain path
 * would make; a refusal stops the signer and the transaction is aborted as
 * before, discarding what it signed ahead.
 *
 * Handing over costs the signer no system call while both threads are
 * busy: a waiting side polls the other's counter for up to PIPE_SPIN_NS,
 * yielding the core between polls (so a signer that shares the core with
 * it still runs), and only then sleeps on the condition variable; a side
 * wakes the other only when that one sleeps.
 */
#define PIPE_MIN     64u   /* shorter batches: the thread costs more than it saves */
#define PIPE_RING    256u  /* entries signed ahead at most */
#define PIPE_SPIN_NS 60000 /* several signatures' time */

struct kt_pipeline {
	const keten_keypair *kp;
	const struct append_ctx *c;
	struct feed_head head; /* before the batch */
	_Atomic size_t made;   /* entries signed, by the signer */
	_Atomic size_t used;   /* entries taken, by the store thread */
	_Atomic bool stop;     /* store thread: sign no more */
	_Atomic bool ended;    /* signer: no more will come */
	_Atomic int sleepers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int rc; /* the signer's error, when it ended early */
	keten_error err;
	keten_entry ring[PIPE_RING];
};

void kt_pipeline_free(struct kt_pipeline *p)
{
	free(p);
}

static void pipe_wake(struct kt_pipeline *p)
{
	if (atomic_load(&p->sleepers)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wait until *ctr > at, or *give_up says it never will be. */
static void pipe_wait(struct kt_pipeline *p, _Atomic size_t *ctr, size_t at, _Atomic bool *give_up)
{
	int64_t until = 0;

	KETEN_ASSERT((ctr == &p->made && give_up == &p->ended) || (ctr == &p->used && give_up == &p->stop));
	for (;;) {
		if (atomic_load(ctr) > at || atomic_load(give_up))
			return;
		if (!until)
			until = mono_ns() + PIPE_SPIN_NS;
		else if (mono_ns() > until)
			break;
		sched_yield();
	}
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add(&p->sleepers, 1);
	while (atomic_load(ctr) <= at && !atomic_load(give_up))
		pthread_cond_wait(&p->cv, &p->mu);
	atomic_fetch_sub(&p->sleepers, 1);
	pthread_mutex_unlock(&p->mu);
}

static void *signer(void *arg)
{
	struct kt_pipeline *p = arg;
	struct feed_head h = p->head;

	for (size_t i = 0; i < p->c->n; i++) {
		keten_entry_draft d;
		keten_entry *e = &p->ring[i % PIPE_RING];
		if (i >= PIPE_RING)
			pipe_wait(p, &p->used, i - PIPE_RING, &p->stop);
		if (atomic_load(&p->stop))
			break;
		/* the slot is free: the store thread took what was signed into it */
		KETEN_ASSERT(i - atomic_load(&p->used) < PIPE_RING);
		d = draft_of(p->c, i, h.seq, h.id);
		if ((p->rc = keten_entry_sign(p->kp, &d, e, &p->err)))
			break;
		h.seq++;
		memcpy(h.id, e->id, 32);
		atomic_store(&p->made, i + 1);
		pipe_wake(p);
	}
	atomic_store(&p->ended, true);
	pipe_wake(p);
	return NULL;
}

/* Ready the ring for a batch after head; the signer's thread is not started. */
static int pipe_start(struct kt_pipeline *p, const struct append_ctx *c, const struct feed_head *head, keten_error *err)
{
	KETEN_ASSERT(c->L->unlocked && c->n >= PIPE_MIN);
	p->kp = &c->L->kp;
	p->c = c;
	p->head = *head;
	atomic_store(&p->made, 0);
	atomic_store(&p->used, 0);
	atomic_store(&p->stop, false);
	atomic_store(&p->ended, false);
	atomic_store(&p->sleepers, 0);
	p->rc = KETEN_OK;
	keten_error_clear(&p->err);
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	return KETEN_OK;
}

/* Stop the signer, wait for it, and drop what it signed ahead of a refusal. */
static void pipe_end(struct kt_pipeline *p, pthread_t th)
{
	atomic_store(&p->stop, true);
	pipe_wake(p);
	pthread_join(th, NULL);
	KETEN_ASSERT(atomic_load(&p->used) <= atomic_load(&p->made));
	for (size_t j = atomic_load(&p->used); j < atomic_load(&p->made); j++)
		keten_entry_release(&p->ring[j % PIPE_RING]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

static int append_pipelined(keten_txn *t, struct append_ctx *c, struct feed_head *head, keten_error *err)
{
	keten_ledger *L = c->L;
	struct kt_pipeline *p = L->pipe;
	pthread_t th;
	int rc;

	if (!p && !(p = L->pipe = calloc(1, sizeof *p)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if ((rc = pipe_start(p, c, head, err)))
		return rc;
	if (pthread_create(&th, NULL, signer, p) != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		return append_plain(t, c, head, err);
	}
	for (size_t i = 0; rc == 0 && i < c->n; i++) {
		keten_entry *e = &p->ring[i % PIPE_RING];
		pipe_wait(p, &p->made, i, &p->ended);
		if (atomic_load(&p->made) <= i) {
			/* the signer ended early: its error is the call's */
			rc = p->rc ? p->rc : KETEN_ECRYPTO;
			if (err) {
				*err = p->err;
				err->item = i + 1; /* as in append_plain: the entry that failed */
			}
			break;
		}
		/* the signer hands the entries over in order: take checks each continues the head */
		rc = take(t, c, i, e, head, err);
		keten_entry_release(e);
		atomic_store(&p->used, i + 1);
		pipe_wake(p);
	}
	pipe_end(p, th);
	KETEN_ASSERT(rc != 0 || head->seq == p->head.seq + c->n);
	return rc;
}

static int append_fn(keten_txn *t, void *p, keten_error *err)
{
	struct append_ctx *c = p;
	struct feed_head head, start;
	int rc = keten_store_head(t, c->L->kp.pk, &head.seq, head.id, err);

	c->wake.n = 0;
	start = head;
	if (rc == 0)
		rc = c->n >= PIPE_MIN ? append_pipelined(t, c, &head, err) : append_plain(t, c, &head, err);
	if (rc == 0) {
		struct feed_head stored;
		KETEN_ASSERT(head.seq == start.seq + c->n);
		/* what the store now holds as the feed's head is what was appended last */
		rc = keten_store_head(t, c->L->kp.pk, &stored.seq, stored.id, err);
		KETEN_ASSERT(rc != 0 ||
		             (stored.seq == head.seq && (head.seq == 0 || memcmp(stored.id, head.id, 32) == 0)));
	}
	if (rc == 0)
		rc = kt_drain(t, &c->wake, NULL, NULL, err);
	if (rc == 0 && c->also)
		rc = c->also(t, c->also_ctx, err);
	return rc;
}

int keten_ledger_append(keten_ledger *L, const keten_append *a, size_t n, uint8_t (*ids)[32], keten_error *err)
{
	return kt_ledger_append_also(L, a, n, ids, NULL, NULL, err);
}

int kt_ledger_append_also(keten_ledger *L, const keten_append *a, size_t n, uint8_t (*ids)[32], kt_write_fn also,
                          void *ctx, keten_error *err)
{
	struct append_ctx c = {.L = L, .a = a, .n = n, .ids = ids, .ts = now_ms(), .also = also, .also_ctx = ctx};
	int rc;

	if (!L->unlocked)
		return keten_fail(err, KETEN_EINVAL, "the home's key is not unlocked");
	rc = kt_store_write(L->store, append_fn, &c, err);
	free(c.wake.ids);
	return rc;
}
