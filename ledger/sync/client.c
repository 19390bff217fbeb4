/*
 * client.c — the client's side of the sync protocol: a round of requests
 * to one server (handshake, heads, a fetch per feed that is new or
 * differs, the stubs whose bodies this node may read, fork proofs) and
 * the decision after each reply.  Replies that continue a feed go to the
 * batches (batch.c), which ingest them through keten_ledger_ingest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "sync/client.h"
#include "base/base.h"
#include "store/kv.h"

#define MAX_RESTARTS       2
#define MAX_BACKOFFS       4
#define WANTS_MAX_AGE      20
#define MAX_ROUND_REQUESTS 200000 /* a server that never lets a round end */

int keten_sync_client_new(keten_ledger *L, keten_sync_client **out, keten_error *err)
{
	keten_sync_client *c;
	*out = NULL;
	if (!keten_ledger_keypair(L))
		return keten_fail(err, KETEN_EINVAL, "the home's key is not unlocked");
	c = calloc(1, sizeof *c);
	if (!c)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	c->L = L;
	keten_sync_client_bind(c, NULL);
	*out = c;
	return KETEN_OK;
}

void keten_sync_client_free(keten_sync_client *c)
{
	if (!c)
		return;
	kt_batches_drop(c);
	free(c->jobs);
	free(c->wants);
	free(c->last);
	kt_client_forget(c);
	free(c);
}

void keten_sync_client_limits(keten_sync_client *c, uint32_t max_entries, uint32_t max_bytes)
{
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
}

void keten_sync_client_batch(keten_sync_client *c, uint32_t max_entries, uint32_t max_bytes)
{
	c->batch_entries = max_entries;
	c->batch_bytes = max_bytes;
}

void keten_sync_client_lock(keten_sync_client *c, keten_sync_lock_fn fn, void *ctx)
{
	kt_batches_drop(c);
	c->lock_fn = fn;
	c->lock_ctx = ctx;
}

const keten_sync_stats *keten_sync_client_stats(const keten_sync_client *c)
{
	return &c->st;
}

uint32_t keten_sync_client_wait_ms(const keten_sync_client *c)
{
	return c->wait_ms;
}

bool keten_sync_client_server(const keten_sync_client *c, uint8_t key[32])
{
	if (c->have_server)
		memcpy(key, c->server, 32);
	return c->have_server;
}

void keten_sync_client_reset(keten_sync_client *c)
{
	/* What was fetched but not ingested is fetched again next round. */
	kt_batches_drop(c);
	kt_client_forget(c);
	c->have_digest = false;
	c->have_forks = false;
	c->expect = X_NONE;
}

int kt_client_send(keten_sync_client *c, const Keten__Sync__Request *r, enum expect x, uint8_t **req, size_t *len,
                   keten_error *err)
{
	int rc = c->sealed ? kt_seal_request(c->k_tx, c->tx_ctr + 1, r, req, len) : kt_sync_pack_request(r, req, len);
	if (rc)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if (c->sealed)
		c->tx_ctr++;
	/* kept to send again after a rate-limited reply */
	free(c->last);
	c->last = malloc(*len ? *len : 1);
	if (!c->last) {
		free(*req);
		*req = NULL;
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	memcpy(c->last, *req, *len);
	c->last_len = *len;
	c->wait_ms = 0;
	c->expect = x;
	c->st.requests++;
	c->st.bytes_out += *len;
	return KETEN_OK;
}

struct stub_scan {
	uint8_t (*ids)[32];
	size_t n, cap;
	bool collect;
	crypto_generichash_state hs;
};

static int stub_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct stub_scan *s = p;
	if (kl != 32 || vl < 1 || v[0] != KS_STUB)
		return 0;
	if (!s->collect) {
		crypto_generichash_update(&s->hs, k, 32);
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		void *q = realloc(s->ids, cap * 32);
		if (!q)
			return -1;
		s->ids = q;
		s->cap = cap;
	}
	memcpy(s->ids[s->n++], k, 32);
	return 0;
}

static int want_push(keten_sync_client *c, const uint8_t author[32], uint64_t seq)
{
	for (size_t i = 0; i < c->n_wants; i++)
		if (memcmp(c->wants[i].author, author, 32) == 0) {
			if (seq < c->wants[i].seq)
				c->wants[i].seq = seq;
			return 0;
		}
	if (c->n_wants == c->cap_wants) {
		size_t cap = c->cap_wants ? c->cap_wants * 2 : 16;
		void *q = realloc(c->wants, cap * sizeof *c->wants);
		if (!q)
			return -1;
		c->wants = q;
		c->cap_wants = cap;
	}
	memcpy(c->wants[c->n_wants].author, author, 32);
	c->wants[c->n_wants++].seq = seq;
	return 0;
}

/* The stubs held here that this node might read and this server may hold
 * (it wrote them or is in their audience): the lowest seq per feed.
 * Parsing every stub each round would cost a node that holds many of
 * them dearly, so the answer is kept while the set of stubs, the number
 * of parties known here, the server and its heads stay the same (and for
 * at most WANTS_MAX_AGE rounds, for certificates that change in place).
 * An auditor cannot tell from a stub whose municipality it is about; the
 * server decides, and stubs it asked for that the server left stubs
 * (the round ended, the set is the same) are not asked for again until
 * one of those changes. */
static int find_wants(keten_sync_client *c, keten_error *err)
{
	struct stub_scan ss = {0};
	struct kt_reader me = {.key = keten_ledger_info(c->L)->key};
	uint8_t key[32 + 32 + 8 + 32];
	keten_txn *t;
	int rc = keten_store_read(keten_ledger_store(c->L), &t, err);

	if (rc)
		return rc;
	crypto_generichash_init(&ss.hs, NULL, 0, 32);
	rc = kt_kv_scan(t, KT_STATUS, NULL, 0, stub_cb, &ss, err);
	crypto_generichash_final(&ss.hs, key, 32);
	memcpy(key + 32, c->server, 32);
	kt_be64(key + 64, (uint64_t)kt_kv_count(t, KT_PARTIES));
	memset(key + 72, 0, 32);
	if (c->have_digest)
		memcpy(key + 72, c->digest, 32);
	if (rc == 0 && c->wants_valid && c->wants_age < WANTS_MAX_AGE && memcmp(key, c->wants_key, sizeof key) == 0) {
		c->wants_age++;
		if (c->wants_spent)
			c->n_wants = 0; /* asked last round: the server keeps them stubs */
		keten_txn_end(t);
		return KETEN_OK;
	}
	c->n_wants = 0;
	c->wants_valid = c->wants_spent = false;
	ss.collect = true;
	if (rc == 0)
		rc = kt_kv_scan(t, KT_STATUS, NULL, 0, stub_cb, &ss, err);
	for (size_t i = 0; rc == 0 && i < ss.n; i++) {
		keten_entry e;
		if (keten_store_get_entry(t, ss.ids[i], &e, NULL))
			continue;
		if ((memcmp(e.author, c->server, 32) == 0 || keten_entry_has_audience(&e, c->server)) &&
		    kt_reader_might(t, &me, &e) && want_push(c, e.author, e.seq))
			rc = keten_fail(err, KETEN_ENOMEM, NULL);
		keten_entry_release(&e);
	}
	keten_txn_end(t);
	free(ss.ids);
	if (rc == 0) {
		memcpy(c->wants_key, key, sizeof key);
		c->wants_valid = true;
		c->wants_age = 0;
	}
	return rc;
}

int kt_client_heads(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
{
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Heads h = KETEN__SYNC__HEADS__INIT;
	int rc = find_wants(c, err);
	if (rc)
		return rc;
	c->sent_digest = c->have_digest && c->n_wants == 0;
	if (c->sent_digest) {
		h.has_digest = 1;
		h.digest.data = c->digest;
		h.digest.len = 32;
	}
	r.msg_case = KETEN__SYNC__REQUEST__MSG_HEADS;
	r.heads = &h;
	return kt_client_send(c, &r, X_HEADS, req, len, err);
}

static int send_fetch(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
{
	if (c->st.requests >= MAX_ROUND_REQUESTS)
		return keten_fail(err, KETEN_EPROTO, "the round took %u requests: ended", MAX_ROUND_REQUESTS);
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Fetch f = KETEN__SYNC__FETCH__INIT;
	struct job *j = &c->jobs[c->cur];
	KETEN_ASSERT(c->cur < c->n_jobs && j->from >= 1 && j->from <= j->to);
	f.author.data = j->author;
	f.author.len = 32;
	f.from_seq = j->from;
	if (j->probe) {
		f.has_max_entries = 1;
		f.max_entries = 1;
	} else if (c->max_entries) {
		f.has_max_entries = 1;
		f.max_entries = c->max_entries;
	}
	if (c->max_bytes) {
		f.has_max_bytes = 1;
		f.max_bytes = c->max_bytes;
	}
	r.msg_case = KETEN__SYNC__REQUEST__MSG_FETCH;
	r.fetch = &f;
	return kt_client_send(c, &r, X_ENTRIES, req, len, err);
}

static int send_forks(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
{
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Forks f = KETEN__SYNC__FORKS__INIT;
	c->want_forks = false;
	r.msg_case = KETEN__SYNC__REQUEST__MSG_FORKS;
	r.forks = &f;
	return kt_client_send(c, &r, X_FORKS, req, len, err);
}

/* The next job's Fetch, then the fork proofs if the server has new ones,
 * or the end of the round. */
static int next_fetch(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
{
	while (c->cur < c->n_jobs && c->jobs[c->cur].from > c->jobs[c->cur].to)
		c->cur++;
	if (c->cur < c->n_jobs)
		return send_fetch(c, req, len, err);
	if (c->want_forks)
		return send_forks(c, req, len, err);
	if (c->provisional_server) {
		/* first contact: what the server holds of our anchors' feeds is
		 * here now; its certificate must be among it */
		int rc = kt_client_server_known(c, c->server, err);
		if (rc)
			return rc;
		c->provisional_server = false;
		c->have_digest = false;
		return kt_client_heads(c, req, len, err);
	}
	c->expect = X_NONE;
	kt_batches_drop(c); /* both empty by now: their memory goes */
	/* Remember the server's digest only when we now hold what it listed;
	 * otherwise the next round asks for the full heads again. */
	memcpy(c->digest, c->round_digest, 32);
	c->have_digest = !c->incomplete;
	c->wants_spent = c->n_wants > 0;
	return KETEN_OK;
}

int keten_sync_client_announce(keten_sync_client *c, uint8_t **req, size_t *req_len, keten_error *err)
{
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Announce an = KETEN__SYNC__ANNOUNCE__INIT;
	uint8_t digest[32];
	keten_txn *t;
	int rc;

	*req = NULL;
	*req_len = 0;
	if (!c->authed)
		return keten_fail(err, KETEN_EINVAL, "not authenticated with this server yet");
	kt_client_lock(c);
	rc = keten_store_read(keten_ledger_store(c->L), &t, err);
	if (rc == 0) {
		rc = keten_sync_heads_digest(t, digest, NULL, err);
		keten_txn_end(t);
	}
	kt_client_unlock(c);
	if (rc)
		return rc;
	memset(&c->st, 0, sizeof c->st);
	c->restarts = MAX_RESTARTS; /* an announce is not worth a new handshake */
	c->backoffs = MAX_BACKOFFS;
	an.has_digest = 1;
	an.digest.data = digest;
	an.digest.len = 32;
	r.msg_case = KETEN__SYNC__REQUEST__MSG_ANNOUNCE;
	r.announce = &an;
	return kt_client_send(c, &r, X_ACK, req, req_len, err);
}

int keten_sync_client_begin(keten_sync_client *c, uint8_t **req, size_t *req_len, keten_error *err)
{
	int rc;
	*req = NULL;
	*req_len = 0;
	kt_batches_drop(c); /* a round the caller gave up without a reset */
	memset(&c->st, 0, sizeof c->st);
	c->restarts = 0;
	c->backoffs = 0;
	c->n_jobs = c->cur = 0;
	kt_client_lock(c);
	/* the server's key may have been revoked, or have expired, since */
	if (c->authed && (rc = kt_client_server_known(c, c->server, err)))
		kt_client_forget(c);
	else
		rc = c->authed ? kt_client_heads(c, req, req_len, err) : kt_client_hello(c, req, req_len, err);
	kt_client_unlock(c);
	return rc;
}

static int job_push(keten_sync_client *c, const uint8_t author[32], uint64_t from, uint64_t to, bool probe)
{
	if (c->n_jobs == c->cap_jobs) {
		size_t cap = c->cap_jobs ? c->cap_jobs * 2 : 32;
		void *q = realloc(c->jobs, cap * sizeof *c->jobs);
		if (!q)
			return -1;
		c->jobs = q;
		c->cap_jobs = cap;
	}
	memcpy(c->jobs[c->n_jobs].author, author, 32);
	c->jobs[c->n_jobs].from = from;
	c->jobs[c->n_jobs].to = to;
	c->jobs[c->n_jobs].probe = probe;
	c->jobs[c->n_jobs].probed = probe;
	c->n_jobs++;
	return 0;
}

static bool fork_known(keten_txn *t, const uint8_t author[32], uint64_t seq, const uint8_t id[32])
{
	uint8_t k[72];
	memcpy(k, author, 32);
	kt_be64(k + 32, seq);
	memcpy(k + 40, id, 32);
	return kt_kv_get(t, KT_FORKS, k, 72, NULL, NULL, NULL) == KETEN_OK;
}

/* Turn the server's heads into jobs: what is new, what to compare, and
 * the bodies of stubs this node may read. */
static int plan(keten_sync_client *c, const Keten__Sync__HeadsReply *h, keten_error *err)
{
	keten_txn *t;
	int rc = keten_store_read(keten_ledger_store(c->L), &t, err);
	if (rc)
		return rc;
	c->n_jobs = c->cur = 0;
	c->incomplete = false;
	c->st.feeds = h->n_heads;
	for (size_t i = 0; rc == 0 && i < h->n_heads; i++) {
		const Keten__FeedHead *f = h->heads[i];
		uint64_t mine, from = 0, to = 0;
		uint8_t id[32];
		bool probe = false;
		if (!f || f->author.len != 32 || f->id.len != 32 || f->seq == 0 || f->seq > (UINT64_C(1) << 62)) {
			rc = keten_fail(err, KETEN_EPROTO, "the server listed a malformed feed head");
			break;
		}
		if (c->provisional_server && !kt_is_anchor(t, f->author.data))
			continue; /* first contact: our anchors' feeds first */
		if ((rc = keten_store_head(t, f->author.data, &mine, NULL, err)))
			break;
		if (f->seq > mine) {
			from = mine + 1;
			to = f->seq;
		} else if (keten_store_feed_id(t, f->author.data, f->seq, id, NULL) == KETEN_OK &&
		           memcmp(id, f->id.data, 32) != 0 && !fork_known(t, f->author.data, f->seq, f->id.data)) {
			from = to = f->seq;
			probe = true;
		}
		for (size_t w = 0; w < c->n_wants; w++)
			if (memcmp(c->wants[w].author, f->author.data, 32) == 0 && c->wants[w].seq <= f->seq) {
				if (!from || c->wants[w].seq < from)
					from = c->wants[w].seq;
				if (to < f->seq)
					to = f->seq;
				probe = false;
			}
		if (from && job_push(c, f->author.data, from, to, probe))
			rc = keten_fail(err, KETEN_ENOMEM, NULL);
	}
	keten_txn_end(t);
	return rc;
}

/* An Error reply: the same request again later (rate-limited), the round
 * over again after a new handshake (unauthenticated: a new connection),
 * or the end of the round. */
static int take_error(keten_sync_client *c, const Keten__Sync__Error *e, enum expect x, uint8_t **req, size_t *len,
                      keten_error *err)
{
	char text[200];
	int code;

	kt_sync_clean_text(text, sizeof text, e->text);
	if (e->code == KETEN__SYNC__ERROR_CODE__RATE_LIMITED && c->last && c->backoffs < MAX_BACKOFFS) {
		/* Too fast for the server: the same request again, later. */
		c->backoffs++;
		if (!(*req = malloc(c->last_len ? c->last_len : 1)))
			return keten_fail(err, KETEN_ENOMEM, NULL);
		memcpy(*req, c->last, c->last_len);
		*len = c->last_len;
		c->expect = x;
		c->st.requests++;
		c->st.bytes_out += c->last_len;
		c->wait_ms = 250u << c->backoffs;
		return KETEN_OK;
	}
	if (e->code == KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED &&
	    (x == X_HEADS || x == X_ENTRIES || x == X_FORKS || x == X_PRESENT) && c->restarts < MAX_RESTARTS) {
		/* A new connection: authenticate again and start the round over,
		 * keeping what arrived so far. */
		int rc;
		c->restarts++;
		if ((rc = kt_batches_finish(c, err)))
			return rc;
		return kt_client_hello(c, req, len, err);
	}
	if (e->code == KETEN__SYNC__ERROR_CODE__WRONG_SERVER)
		return keten_fail(err, KETEN_EAUTHOR,
		                  "the node at this address does not hold the key expected for it ('keten peer list' "
		                  "shows it; the server says wrong-server: %s)",
		                  text);
	code = e->code == KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED    ? KETEN_EAUTHOR
		: e->code == KETEN__SYNC__ERROR_CODE__BAD_SIGNATURE ? KETEN_ESIG
								    : KETEN_EPROTO;
	return keten_fail(err, code, "the server says %s: %s", kt_sync_code_name(e->code), text);
}

/* The server's heads: the round ends when they are unchanged (but for
 * new fork proofs), else its jobs are planned and the first Fetch sent. */
static int take_heads(keten_sync_client *c, const Keten__Sync__Reply *r, uint8_t **req, size_t *len, keten_error *err)
{
	const Keten__Sync__HeadsReply *h = r->heads;
	int rc;

	if (r->msg_case != KETEN__SYNC__REPLY__MSG_HEADS || h->digest.len != 32)
		return keten_fail(err, KETEN_EPROTO, "the server did not answer heads with its heads");
	memcpy(c->round_digest, h->digest.data, 32);
	c->round_forks = h->has_forks ? h->forks : 0;
	c->want_forks = c->round_forks && (!c->have_forks || c->round_forks != c->forks);
	if (h->has_same && h->same) {
		if (!c->sent_digest || memcmp(h->digest.data, c->digest, 32) != 0)
			return keten_fail(err, KETEN_EPROTO, "the server claims a digest it was not sent");
		c->st.same = true;
		c->expect = X_NONE;
		return c->want_forks ? send_forks(c, req, len, err) : KETEN_OK;
	}
	if ((rc = plan(c, h, err)))
		return rc;
	return next_fetch(c, req, len, err);
}

/* The reply that was expected (x), unless it is an Error. */
static int take_reply(keten_sync_client *c, const Keten__Sync__Reply *r, enum expect x, uint8_t **req, size_t *len,
                      keten_error *err)
{
	int rc;
	bool entries = r->msg_case == KETEN__SYNC__REPLY__MSG_ENTRIES;

	switch (x) {
	case X_CHALLENGE: return kt_client_challenge(c, r, req, len, err);
	case X_AUTH_OK:
	case X_PRESENT: return kt_client_auth_ok(c, r, req, len, err);
	case X_HEADS: return take_heads(c, r, req, len, err);
	case X_ENTRIES:
		if (!entries || c->cur >= c->n_jobs)
			return keten_fail(err, KETEN_EPROTO, "the server did not answer fetch with entries");
		if ((rc = kt_take_entries(c, r->entries, err)))
			return rc;
		return next_fetch(c, req, len, err);
	case X_ACK:
		c->expect = X_NONE;
		if (r->msg_case != KETEN__SYNC__REPLY__MSG_ACK)
			return keten_fail(err, KETEN_EPROTO, "the server did not answer announce with ack");
		return KETEN_OK;
	case X_FORKS:
		if (!entries)
			return keten_fail(err, KETEN_EPROTO, "the server did not answer forks with entries");
		if ((rc = kt_take_forks(c, r->entries, err)))
			return rc;
		c->forks = c->round_forks;
		c->have_forks = true;
		c->expect = X_NONE;
		return KETEN_OK;
	default: return keten_fail(err, KETEN_EPROTO, "a reply came when none was expected");
	}
}

int keten_sync_client_reply(keten_sync_client *c, const uint8_t *reply, size_t len, uint8_t **req, size_t *req_len,
                            keten_error *err)
{
	struct kt_capped cap = {0, KT_SYNC_REPLY_CAP}, icap = {0, KT_SYNC_REPLY_CAP};
	ProtobufCAllocator a = {kt_capped_alloc, kt_capped_free, &cap};
	ProtobufCAllocator ia = {kt_capped_alloc, kt_capped_free, &icap};
	Keten__Sync__Reply *r = NULL, *inner = NULL, *outer = NULL;
	enum expect x = c->expect;
	int rc;

	*req = NULL;
	*req_len = 0;
	if (x == X_NONE)
		return keten_fail(err, KETEN_EPROTO, "a reply came when none was expected");
	c->expect = X_NONE;
	c->st.bytes_in += len;
	if (len > KETEN_SYNC_MAX_REPLY + KT_SYNC_FRAME_SLACK)
		rc = keten_fail(err, KETEN_EPROTO, "the server's reply is larger than 4 MiB");
	else if (!(outer = keten__sync__reply__unpack(&a, len, reply)))
		rc = keten_fail(err, KETEN_EPROTO, "the server's reply does not decode");
	else if ((rc = kt_client_unseal(c, outer, &inner, &ia, err)))
		;
	else {
		r = inner ? inner : outer;
		/* Only Entries that continue a feed may be taken without touching
		 * the ledger (kt_take_entries locks when it must). */
		if (x != X_ENTRIES || r->msg_case != KETEN__SYNC__REPLY__MSG_ENTRIES)
			kt_client_lock(c);
		if (r->msg_case == KETEN__SYNC__REPLY__MSG_ERROR)
			rc = take_error(c, r->error, x, req, req_len, err);
		else
			rc = take_reply(c, r, x, req, req_len, err);
	}
	if (inner)
		keten__sync__reply__free_unpacked(inner, &ia);
	if (outer)
		keten__sync__reply__free_unpacked(outer, &a);
	if (rc) {
		/* The round ends here: keep what arrived and verified.  The
		 * round's error is what the caller hears. */
		keten_error ferr = {0};
		kt_client_lock(c);
		kt_batches_finish(c, &ferr);
		kt_batches_drop(c);
		free(*req);
		*req = NULL;
		*req_len = 0;
		c->expect = X_NONE;
	}
	kt_client_unlock(c);
	KETEN_ASSERT(!*req || *req_len <= KETEN_SYNC_MAX_REQUEST);
	return rc;
}
