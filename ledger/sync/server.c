/*
 * server.c — the server's side of the sync protocol: one answer for each
 * request of a session, with a rate limit per session (before anything
 * is decoded), the handshake and the Sealed requests handed to
 * handshake.c, and the answers to what an open session asks (Heads,
 * Fetch, Forks, Announce) within the limits on entries and bytes per
 * reply, with need-to-know stubs (know.c) for bodies the peer may not
 * read.  The transport (keten/net.h, or a caller's own) keeps one session
 * per connection and sends whatever reply comes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync.h"
#include "base/base.h"
#include "store/kv.h"

void keten_sync_limits_default(keten_sync_limits *lim)
{
	lim->max_entries = KETEN_SYNC_MAX_ENTRIES;
	lim->max_bytes = KETEN_SYNC_REPLY_BYTES;
	lim->rate_per_s = 500;
	lim->burst = 1000;
	lim->max_conns = 256;
	lim->handshake_ms = 10000;
	lim->idle_ms = 300000;
}

void keten_sync_session_init(keten_sync_session *s, const keten_sync_limits *lim, int64_t now_ms)
{
	memset(s, 0, sizeof *s);
	s->tokens = lim->burst;
	s->last_ms = now_ms;
	keten_sync_session_bind(s, NULL);
}

static int serve_heads(keten_ledger *L, const Keten__Sync__Heads *q, uint8_t **out, size_t *len, keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__HeadsReply hr = KETEN__SYNC__HEADS_REPLY__INIT;
	Keten__FeedHead *fh = NULL, **fp = NULL;
	struct kt_heads hd = {.collect = true};
	uint8_t digest[32];
	keten_error err = {0};
	keten_txn *t;
	int rc = keten_store_read(keten_ledger_store(L), &t, &err);

	if (rc == 0) {
		rc = kt_read_heads(t, &hd, digest, &err);
		hr.has_forks = 1;
		hr.forks = (uint32_t)kt_kv_count(t, KT_FORKS);
		keten_txn_end(t);
	}
	if (rc) {
		free(hd.h);
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot read its ledger", rc,
		                           out, len, note);
	}
	hr.digest.data = digest;
	hr.digest.len = 32;
	if (q->has_digest && q->digest.len == 32 && sodium_memcmp(q->digest.data, digest, 32) == 0) {
		hr.has_same = hr.same = 1;
	} else if (hd.n) {
		if (kt_feed_heads(&hd, &fh, &fp)) {
			free(hd.h);
			return keten_fail(note, KETEN_ENOMEM, NULL);
		}
		hr.n_heads = hd.n;
		hr.heads = fp;
	}
	r.msg_case = KETEN__SYNC__REPLY__MSG_HEADS;
	r.heads = &hr;
	if (keten__sync__reply__get_packed_size(&r) > KETEN_SYNC_MAX_REPLY)
		rc = kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "too many feeds for one reply",
		                         KETEN_EINVAL, out, len, note);
	else if (kt_sync_pack_reply(&r, out, len))
		rc = keten_fail(note, KETEN_ENOMEM, NULL);
	free(fh);
	free(fp);
	free(hd.h);
	return rc;
}

/* The most entries and bytes one Entries reply of this server holds. */
static uint32_t cap_entries(const keten_sync_limits *lim)
{
	return lim->max_entries && lim->max_entries < KETEN_SYNC_MAX_ENTRIES ? lim->max_entries
									     : KETEN_SYNC_MAX_ENTRIES;
}

static uint32_t cap_bytes(const keten_sync_limits *lim)
{
	return lim->max_bytes && lim->max_bytes < KETEN_SYNC_REPLY_BYTES ? lim->max_bytes : KETEN_SYNC_REPLY_BYTES;
}

/* Entries for one reply: at most max entries, and at most max_bytes
 * bytes unless a single entry is larger (one always goes). */
struct items {
	ProtobufCBinaryData *v;
	size_t n, bytes, max, max_bytes;
	bool more;
};

/* Take b (bl bytes) into the reply; false (b freed) when it is full. */
static bool items_take(struct items *it, uint8_t *b, size_t bl)
{
	if (it->n == it->max || (it->n > 0 && it->bytes + bl > it->max_bytes)) {
		free(b);
		it->more = true;
		return false;
	}
	it->v[it->n].data = b;
	it->v[it->n].len = bl;
	it->bytes += bl;
	it->n++;
	return true;
}

static void items_free(struct items *it)
{
	for (size_t i = 0; it->v && i < it->n; i++)
		free(it->v[i].data);
	free(it->v);
}

/* The Entries reply of `it`, within the limits of a reply. */
static int entries_reply(const struct items *it, uint8_t **out, size_t *len, keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__Entries en = KETEN__SYNC__ENTRIES__INIT;

	KETEN_ASSERT(it->n <= it->max && it->max <= KETEN_SYNC_MAX_ENTRIES);
	KETEN_ASSERT(it->n <= 1 || it->bytes <= it->max_bytes);
	KETEN_ASSERT(it->bytes <= (size_t)KETEN_SYNC_REPLY_BYTES + KETEN_MAX_ENTRY_BYTES);
	en.n_entry = it->n;
	en.entry = it->v;
	en.has_more = 1;
	en.more = it->more;
	r.msg_case = KETEN__SYNC__REPLY__MSG_ENTRIES;
	r.entries = &en;
	if (kt_sync_pack_reply(&r, out, len))
		return keten_fail(note, KETEN_ENOMEM, NULL);
	KETEN_ASSERT(*len <= KETEN_SYNC_MAX_REPLY);
	return KETEN_OK;
}

/* Entry seq of author's feed as the peer may see it (the stub when it may
 * not read the body) into *b; 1 when it is not held, KETEN_ENOMEM. */
static int fetch_one(keten_txn *t, struct kt_reader *rd, const uint8_t author[32], uint64_t seq, uint8_t **b,
                     size_t *bl)
{
	uint8_t id[32];
	keten_entry e;
	int rc = KETEN_OK;

	if (keten_store_feed_id(t, author, seq, id, NULL) || keten_store_get_entry(t, id, &e, NULL))
		return 1;
	*b = NULL;
	*bl = 0;
	if (e.has_body && !kt_reader_may(t, rd, &e)) {
		if (keten_entry_stub_bytes(&e, b, bl))
			rc = KETEN_ENOMEM;
	} else if ((*b = malloc(e.raw_len))) {
		memcpy(*b, e.raw, e.raw_len);
		*bl = e.raw_len;
	} else {
		rc = KETEN_ENOMEM;
	}
	keten_entry_release(&e);
	return rc;
}

/* The entries of the feed from f->from_seq on, as many as fit. */
static int fetch_collect(keten_ledger *L, const keten_sync_session *s, const Keten__Sync__Fetch *f, struct items *it,
                         keten_error *err)
{
	struct kt_reader rd = {.key = s->peer};
	uint64_t head, seq;
	keten_txn *t;
	int rc = keten_store_read(keten_ledger_store(L), &t, err);

	if (rc)
		return rc;
	rc = keten_store_head(t, f->author.data, &head, NULL, err);
	for (seq = f->from_seq; rc == 0 && seq <= head && it->n < it->max; seq++) {
		uint8_t *b;
		size_t bl;
		int got = fetch_one(t, &rd, f->author.data, seq, &b, &bl);
		if (got == 1)
			break;
		if (got)
			rc = got;
		else if (!items_take(it, b, bl))
			break;
	}
	keten_txn_end(t);
	it->more = seq <= head;
	return rc;
}

static int serve_fetch(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim,
                       const Keten__Sync__Fetch *f, uint8_t **out, size_t *len, keten_error *note)
{
	struct items it = {.max = cap_entries(lim), .max_bytes = cap_bytes(lim)};
	keten_error err = {0};
	int rc;

	if (f->author.len != 32 || f->from_seq == 0 || f->from_seq > (UINT64_C(1) << 62)) {
		s->strikes++;
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED,
		                           "fetch needs a 32-byte author and a from_seq of at least 1", KETEN_EPROTO,
		                           out, len, note);
	}
	if (f->has_max_entries && f->max_entries && f->max_entries < it.max)
		it.max = f->max_entries;
	if (f->has_max_bytes && f->max_bytes && f->max_bytes < it.max_bytes)
		it.max_bytes = f->max_bytes;
	if (!(it.v = calloc(it.max, sizeof *it.v)))
		return keten_fail(note, KETEN_ENOMEM, NULL);
	rc = fetch_collect(L, s, f, &it, &err);
	if (rc == 0)
		rc = entries_reply(&it, out, len, note);
	else
		rc = kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot read its ledger", rc,
		                         out, len, note);
	items_free(&it);
	return rc;
}

struct fork_scan {
	struct items it;
	bool nomem;
};

static int fork_cb(const uint8_t *k KT_UNUSED, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct fork_scan *f = p;
	uint8_t *b;
	size_t bl;
	if (kl != 72 || vl <= 64)
		return 0;
	if (f->it.n == f->it.max) {
		f->it.more = true;
		return 1;
	}
	if (keten_entry_frame(v, vl - 64, v + vl - 64, NULL, 0, false, NULL, &b, &bl)) {
		f->nomem = true;
		return 1;
	}
	return items_take(&f->it, b, bl) ? 0 : 1;
}

static int serve_forks(keten_ledger *L, const keten_sync_limits *lim, const Keten__Sync__Forks *q, uint8_t **out,
                       size_t *len, keten_error *note)
{
	struct fork_scan f = {.it = {.max = cap_entries(lim), .max_bytes = cap_bytes(lim)}};
	keten_error err = {0};
	keten_txn *t;
	int rc;

	if (q->has_max_entries && q->max_entries && q->max_entries < f.it.max)
		f.it.max = q->max_entries;
	if (!(f.it.v = calloc(f.it.max, sizeof *f.it.v)))
		return keten_fail(note, KETEN_ENOMEM, NULL);
	rc = keten_store_read(keten_ledger_store(L), &t, &err);
	if (rc == 0) {
		rc = kt_kv_scan(t, KT_FORKS, NULL, 0, fork_cb, &f, &err);
		keten_txn_end(t);
	}
	if (rc == 0 && f.nomem)
		rc = keten_fail(note, KETEN_ENOMEM, NULL);
	else if (rc)
		rc = kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot read its ledger", rc,
		                         out, len, note);
	else
		rc = entries_reply(&f.it, out, len, note);
	items_free(&f.it);
	return rc;
}

int kt_serve_inner(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim, int64_t now KT_UNUSED,
                   const Keten__Sync__Request *q, uint8_t **out, size_t *len, keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__Ack ack = KETEN__SYNC__ACK__INIT;

	switch (q->msg_case) {
	case KETEN__SYNC__REQUEST__MSG_HEADS: return serve_heads(L, q->heads, out, len, note);
	case KETEN__SYNC__REQUEST__MSG_FETCH: return serve_fetch(L, s, lim, q->fetch, out, len, note);
	case KETEN__SYNC__REQUEST__MSG_FORKS: return serve_forks(L, lim, q->forks, out, len, note);
	case KETEN__SYNC__REQUEST__MSG_ANNOUNCE:
		s->announced = true;
		r.msg_case = KETEN__SYNC__REPLY__MSG_ACK;
		r.ack = &ack;
		return kt_sync_pack_reply(&r, out, len) ? keten_fail(note, KETEN_ENOMEM, NULL) : KETEN_OK;
	default:
		s->strikes++;
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__UNKNOWN_TYPE,
		                           "unknown request type (this server speaks keten/sync/v2)", KETEN_EPROTO, out,
		                           len, note);
	}
}

int keten_sync_serve(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim, int64_t now_ms,
                     const uint8_t *req, size_t len, uint8_t **reply, size_t *reply_len, keten_error *note)
{
	struct kt_capped cap = {0, KT_SYNC_REQUEST_CAP};
	ProtobufCAllocator a = {kt_capped_alloc, kt_capped_free, &cap};
	Keten__Sync__Request *q;
	int rc;

	*reply = NULL;
	*reply_len = 0;
	keten_error_clear(note);
	s->requests++;
	if (now_ms > s->last_ms) {
		s->tokens += (double)(now_ms - s->last_ms) * lim->rate_per_s / 1000.0;
		if (s->tokens > lim->burst)
			s->tokens = lim->burst;
		s->last_ms = now_ms;
	}
	if (s->tokens < 1.0)
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__RATE_LIMITED, "too many requests: slow down",
		                           KETEN_EPROTO, reply, reply_len, note);
	s->tokens -= 1.0;
	if (len > KETEN_SYNC_MAX_REQUEST) {
		s->strikes++;
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__TOO_LARGE, "request larger than 64 KiB",
		                           KETEN_EPROTO, reply, reply_len, note);
	}
	q = keten__sync__request__unpack(&a, len, req);
	if (!q) {
		s->strikes++;
		return kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED, "request does not decode", KETEN_EPROTO,
		                           reply, reply_len, note);
	}
	switch (q->msg_case) {
	case KETEN__SYNC__REQUEST__MSG_HELLO:
		rc = kt_serve_hello(L, s, now_ms, q->hello, reply, reply_len, note);
		break;
	case KETEN__SYNC__REQUEST__MSG_AUTH: rc = kt_serve_auth(L, s, now_ms, q->auth, reply, reply_len, note); break;
	case KETEN__SYNC__REQUEST__MSG_SEALED:
		rc = kt_serve_sealed(L, s, lim, now_ms, q->sealed, reply, reply_len, note);
		break;
	case KETEN__SYNC__REQUEST__MSG_HEADS:
	case KETEN__SYNC__REQUEST__MSG_FETCH:
	case KETEN__SYNC__REQUEST__MSG_FORKS:
	case KETEN__SYNC__REQUEST__MSG_ANNOUNCE:
	case KETEN__SYNC__REQUEST__MSG_PRESENT:
		s->strikes++;
		rc = kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED,
		                         "authenticate first: hello, then auth; requests after it are sealed",
		                         KETEN_EPROTO, reply, reply_len, note);
		break;
	default:
		s->strikes++;
		rc = kt_sync_error_reply(KETEN__SYNC__ERROR_CODE__UNKNOWN_TYPE,
		                         "unknown request type (this server speaks keten/sync/v2)", KETEN_EPROTO, reply,
		                         reply_len, note);
		break;
	}
	keten__sync__request__free_unpacked(q, &a);
	return rc;
}
