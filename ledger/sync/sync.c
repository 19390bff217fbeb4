/*
 * sync.c — the sync protocol as pure functions over message bytes: the
 * server's answer to each request (handshake, heads, fetch with
 * need-to-know stubs) and the client's round (handshake, heads, fetch per
 * feed, ingest).  No sockets here: ledger/net.c moves the bytes over nng
 * and tests/unit/test_sync.c over a simulated lossy network.
 *
 * Every message is size-checked before it is decoded, and decoded with a
 * capped allocator (protobuf-c allocates many times its input); every
 * field is checked before use.  Received entries enter the ledger only
 * through keten_ledger_ingest, the replies that continue a feed several
 * to a call (sync.h: Batches).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "rules/rules.h"
#include "sync/sync.h"
#include "proto/keten.pb-c.h"
#include "proto/sync.pb-c.h"
#include "base/base.h"

#define REQUEST_ALLOC_CAP  (8u * 1024u * 1024u)
#define REPLY_ALLOC_CAP    (64u * 1024u * 1024u)
#define MAX_RESTARTS       2
#define MAX_BACKOFFS       4
#define WANTS_MAX_AGE      20
#define MAX_ROUND_REQUESTS 200000 /* a server that never lets a round end */

/* A protobuf-c allocator with a budget: decoding fails instead of
 * allocating without bound. */
struct capped {
	size_t used, cap;
};

#define CAP_HDR 16u

static void *capped_alloc(void *data, size_t size)
{
	struct capped *c = data;
	uint8_t *p;
	if (size > c->cap - c->used)
		return NULL;
	p = malloc(size + CAP_HDR);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof size);
	c->used += size;
	return p + CAP_HDR;
}

static void capped_free(void *data, void *ptr)
{
	struct capped *c = data;
	size_t size;
	uint8_t *p = ptr;
	if (!p)
		return;
	p -= CAP_HDR;
	memcpy(&size, p, sizeof size);
	c->used -= size;
	free(p);
}

void keten_sync_limits_default(keten_sync_limits *lim)
{
	lim->max_entries = KETEN_SYNC_MAX_ENTRIES;
	lim->max_bytes = KETEN_SYNC_REPLY_BYTES;
	lim->rate_per_s = 500;
	lim->burst = 1000;
}

void keten_sync_session_init(keten_sync_session *s, const keten_sync_limits *lim, int64_t now_ms)
{
	memset(s, 0, sizeof *s);
	s->tokens = lim->burst;
	s->last_ms = now_ms;
}

/* Messages ------------------------------------------------------------------ */

static int pack_reply(const Keten__Sync__Reply *r, uint8_t **out, size_t *len)
{
	size_t n = keten__sync__reply__get_packed_size(r);
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		return KETEN_ENOMEM;
	keten__sync__reply__pack(r, b);
	*out = b;
	*len = n;
	return KETEN_OK;
}

static int pack_request(const Keten__Sync__Request *r, uint8_t **out, size_t *len)
{
	size_t n = keten__sync__request__get_packed_size(r);
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		return KETEN_ENOMEM;
	keten__sync__request__pack(r, b);
	*out = b;
	*len = n;
	return KETEN_OK;
}

static const char *code_name(int code)
{
	switch (code) {
	case KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED: return "unauthenticated";
	case KETEN__SYNC__ERROR_CODE__MALFORMED: return "malformed";
	case KETEN__SYNC__ERROR_CODE__TOO_LARGE: return "too-large";
	case KETEN__SYNC__ERROR_CODE__RATE_LIMITED: return "rate-limited";
	case KETEN__SYNC__ERROR_CODE__UNKNOWN_TYPE: return "unknown-type";
	case KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED: return "not-certified";
	case KETEN__SYNC__ERROR_CODE__BAD_SIGNATURE: return "bad-signature";
	case KETEN__SYNC__ERROR_CODE__INTERNAL: return "internal";
	default: return "unknown-error";
	}
}

/* Send an Error reply, note why, and return `ret`. */
static int error_reply(Keten__Sync__ErrorCode code, const char *text, int ret, uint8_t **out, size_t *len,
                       keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__Error e = KETEN__SYNC__ERROR__INIT;
	e.code = code;
	e.text = (char *)text;
	r.msg_case = KETEN__SYNC__REPLY__MSG_ERROR;
	r.error = &e;
	if (pack_reply(&r, out, len))
		return keten_fail(note, KETEN_ENOMEM, NULL);
	keten_fail(note, ret, "%s: %s", code_name(code), text);
	return ret;
}

/* Copy printable ASCII of a peer's text, for logs. */
static void clean_text(char *dst, size_t n, const char *src)
{
	size_t j = 0;
	for (size_t i = 0; src && src[i] && j + 1 < n; i++)
		dst[j++] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[j] = 0;
}

int keten_sync_describe_reply(const uint8_t *reply, size_t len, int *error_code, char *buf, size_t buflen)
{
	struct capped cap = {0, REPLY_ALLOC_CAP};
	ProtobufCAllocator a = {capped_alloc, capped_free, &cap};
	Keten__Sync__Reply *r;
	int kind;
	char text[200];

	*error_code = 0;
	if (len > KETEN_SYNC_MAX_REPLY || !(r = keten__sync__reply__unpack(&a, len, reply))) {
		snprintf(buf, buflen, "undecodable reply (%zu bytes)", len);
		return 0;
	}
	kind = (int)r->msg_case;
	switch (r->msg_case) {
	case KETEN__SYNC__REPLY__MSG_CHALLENGE: snprintf(buf, buflen, "challenge"); break;
	case KETEN__SYNC__REPLY__MSG_AUTH_OK: snprintf(buf, buflen, "auth-ok"); break;
	case KETEN__SYNC__REPLY__MSG_ACK: snprintf(buf, buflen, "ack"); break;
	case KETEN__SYNC__REPLY__MSG_HEADS: snprintf(buf, buflen, "heads (%zu feeds)", r->heads->n_heads); break;
	case KETEN__SYNC__REPLY__MSG_ENTRIES: snprintf(buf, buflen, "entries (%zu)", r->entries->n_entry); break;
	case KETEN__SYNC__REPLY__MSG_ERROR:
		*error_code = (int)r->error->code;
		clean_text(text, sizeof text, r->error->text);
		snprintf(buf, buflen, "error %s: %s", code_name(r->error->code), text);
		break;
	default:
		snprintf(buf, buflen, "empty reply");
		kind = 0;
		break;
	}
	keten__sync__reply__free_unpacked(r, &a);
	return kind;
}

/* Need-to-know -------------------------------------------------------------- */

#define READER_MAX_MUN 16

/* Who is asking, with an auditor's municipalities loaded once. */
struct reader {
	const uint8_t *key;
	bool loaded, auditor;
	size_t n_mun;
	char mun[READER_MAX_MUN][8];
};

static void reader_load(keten_txn *t, struct reader *r)
{
	Keten__State__PartyState *p = NULL;
	r->loaded = true;
	if (kt_party_load(t, r->key, &p, NULL) != KETEN_OK)
		return;
	for (size_t i = 0; i < p->n_roles; i++)
		if (p->roles[i] == KETEN__ROLE__AUDITOR)
			r->auditor = true;
	if (p->revoked_ms)
		r->auditor = false;
	for (size_t i = 0; i < p->n_municipality && r->n_mun < READER_MAX_MUN; i++)
		if (p->municipality[i] && strlen(p->municipality[i]) < sizeof r->mun[0])
			snprintf(r->mun[r->n_mun++], sizeof r->mun[0], "%s", p->municipality[i]);
	keten__state__party_state__free_unpacked(p, NULL);
}

/* Is some municipality of party `key` one of the auditor's? */
static bool shares_municipality(keten_txn *t, const struct reader *r, const uint8_t key[32])
{
	Keten__State__PartyState *p = NULL;
	bool hit = false;
	if (kt_party_load(t, key, &p, NULL) != KETEN_OK)
		return false;
	for (size_t i = 0; i < p->n_municipality && !hit; i++)
		for (size_t j = 0; j < r->n_mun && !hit; j++)
			hit = p->municipality[i] && strcmp(p->municipality[i], r->mun[j]) == 0;
	keten__state__party_state__free_unpacked(p, NULL);
	return hit;
}

static bool reader_may(keten_txn *t, struct reader *r, const keten_entry *e)
{
	if (e->n_audience == 0 || memcmp(e->author, r->key, 32) == 0 || keten_entry_has_audience(e, r->key))
		return true;
	if (!r->loaded)
		reader_load(t, r);
	if (!r->auditor)
		return false;
	for (size_t i = 0; i < e->n_audience; i++)
		if (shares_municipality(t, r, e->audience[i]))
			return true;
	return false;
}

bool keten_sync_may_read(keten_txn *t, const keten_entry *e, const uint8_t key[32])
{
	struct reader r = {.key = key};
	return reader_may(t, &r, e);
}

/* Heads ------------------------------------------------------------------------ */

struct head {
	uint8_t author[32];
	uint64_t seq;
	uint8_t id[32];
};

struct heads {
	struct head *h;
	size_t n, cap;
	crypto_generichash_state hs;
	bool collect;
};

static int heads_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct heads *hd = p;
	uint8_t rec[72];
	if (kl != 32 || vl != 40)
		return 0;
	memcpy(rec, k, 32);
	memcpy(rec + 32, v, 40);
	crypto_generichash_update(&hd->hs, rec, sizeof rec);
	if (!hd->collect)
		return 0;
	if (hd->n == hd->cap) {
		size_t cap = hd->cap ? hd->cap * 2 : 64;
		void *q = realloc(hd->h, cap * sizeof *hd->h);
		if (!q)
			return -1;
		hd->h = q;
		hd->cap = cap;
	}
	memcpy(hd->h[hd->n].author, k, 32);
	hd->h[hd->n].seq = keten_get_be64(v);
	memcpy(hd->h[hd->n].id, (const uint8_t *)v + 8, 32);
	hd->n++;
	return 0;
}

static int read_heads(keten_txn *t, struct heads *hd, uint8_t digest[32], keten_error *err)
{
	int rc;
	crypto_generichash_init(&hd->hs, NULL, 0, 32);
	rc = keten_kv_scan(t, KT_HEADS, NULL, 0, heads_cb, hd, err);
	if (rc == KETEN_EINVAL && !(err && err->msg[0]))
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
	crypto_generichash_final(&hd->hs, digest, 32);
	return rc;
}

int keten_sync_heads_digest(keten_txn *t, uint8_t out[32], size_t *n_feeds, keten_error *err)
{
	struct heads hd = {.collect = true};
	int rc = read_heads(t, &hd, out, err);
	if (n_feeds)
		*n_feeds = hd.n;
	free(hd.h);
	return rc;
}

/*
 * The collected heads as FeedHead messages (checkpoint bodies and Heads
 * replies use the same message): *fh holds them, *fp points at each; the
 * bytes point into hd.  Both are freed by the caller, also on failure.
 */
static int feed_heads(const struct heads *hd, Keten__FeedHead **fh, Keten__FeedHead ***fp)
{
	*fh = calloc(hd->n, sizeof **fh);
	*fp = calloc(hd->n, sizeof **fp);
	if (!*fh || !*fp) {
		free(*fh);
		free(*fp);
		*fh = NULL;
		*fp = NULL;
		return -1;
	}
	for (size_t i = 0; i < hd->n; i++) {
		keten__feed_head__init(&(*fh)[i]);
		(*fh)[i].author.data = hd->h[i].author;
		(*fh)[i].author.len = 32;
		(*fh)[i].seq = hd->h[i].seq;
		(*fh)[i].id.data = hd->h[i].id;
		(*fh)[i].id.len = 32;
		(*fp)[i] = &(*fh)[i];
	}
	return 0;
}

/* Checkpoints ------------------------------------------------------------------ */

#define CHECKPOINT_MAX_HEADS 2500 /* keeps the body far below KETEN_MAX_ENTRY_BYTES */

int keten_sync_checkpoint_body(keten_txn *t, uint8_t **out, size_t *len, uint8_t digest[32], keten_error *err)
{
	Keten__Checkpoint cp = KETEN__CHECKPOINT__INIT;
	Keten__FeedHead *fh = NULL, **fp = NULL;
	struct heads hd = {.collect = true};
	int rc = read_heads(t, &hd, digest, err);

	*out = NULL;
	*len = 0;
	if (rc) {
		free(hd.h);
		return rc;
	}
	if (hd.n <= CHECKPOINT_MAX_HEADS && hd.n) {
		if (feed_heads(&hd, &fh, &fp)) {
			rc = keten_fail(err, KETEN_ENOMEM, NULL);
			goto out;
		}
		cp.n_heads = hd.n;
		cp.heads = fp;
	}
	cp.has_root = 1;
	cp.root.data = digest;
	cp.root.len = 32;
	*len = keten__checkpoint__get_packed_size(&cp);
	if (!(*out = malloc(*len ? *len : 1))) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	keten__checkpoint__pack(&cp, *out);
out:
	free(fh);
	free(fp);
	free(hd.h);
	return rc;
}

int keten_sync_checkpoint_check(keten_txn *t, const keten_entry *e, keten_checkpoint_check *out, keten_error *err)
{
	Keten__Checkpoint *cp;
	crypto_generichash_state hs;
	uint8_t root[32];
	int rc = KETEN_OK;

	memset(out, 0, sizeof *out);
	if (e->body_type != KETEN__BODY_TYPE__CHECKPOINT || !e->has_body)
		return keten_fail(err, KETEN_EINVAL, "not a checkpoint with its body");
	if (!(cp = keten__checkpoint__unpack(NULL, e->body_len, e->body)))
		return keten_fail(err, KETEN_EMALFORMED, "checkpoint body does not decode");
	crypto_generichash_init(&hs, NULL, 0, 32);
	for (size_t i = 0; i < cp->n_heads; i++) {
		const Keten__FeedHead *h = cp->heads[i];
		uint8_t rec[72], id[32];
		uint64_t mine;
		if (h->author.len != 32 || h->id.len != 32 || h->seq == 0 ||
		    (i && memcmp(cp->heads[i - 1]->author.data, h->author.data, 32) >= 0)) {
			rc = keten_fail(err, KETEN_EMALFORMED, "checkpoint head %zu is malformed or out of order",
			                i + 1);
			break;
		}
		memcpy(rec, h->author.data, 32);
		keten_be64(rec + 32, h->seq);
		memcpy(rec + 40, h->id.data, 32);
		crypto_generichash_update(&hs, rec, sizeof rec);
		out->heads++;
		if ((rc = keten_store_head(t, h->author.data, &mine, NULL, err)))
			break;
		if (mine < h->seq) {
			out->behind++;
		} else if (keten_store_feed_id(t, h->author.data, h->seq, id, NULL) == KETEN_OK &&
		           memcmp(id, h->id.data, 32) == 0) {
			out->agree++;
		} else {
			out->differ++;
			if (!out->first_differ_set) {
				memcpy(out->first_differ, h->author.data, 32);
				out->first_differ_seq = h->seq;
				out->first_differ_set = true;
			}
		}
	}
	crypto_generichash_final(&hs, root, 32);
	if (rc == 0 && cp->n_heads && (!cp->has_root || cp->root.len != 32 || memcmp(root, cp->root.data, 32) != 0))
		rc = keten_fail(err, KETEN_EMALFORMED, "checkpoint root does not match its heads");
	keten__checkpoint__free_unpacked(cp, NULL);
	return rc;
}

/* Server ---------------------------------------------------------------------- */

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* May this key sync with us: a trust anchor, or certified and not revoked. */
static int peer_allowed(keten_ledger *L, const uint8_t key[32], char *name, size_t nlen, keten_error *err)
{
	keten_txn *t;
	uint32_t roles;
	bool anchor;
	Keten__State__PartyState *p = NULL;
	int rc = keten_store_read(keten_ledger_store(L), &t, err);
	if (rc)
		return rc;
	rc = kt_party_authorized(t, key, wall_ms(), &roles, &anchor, err);
	if (name && nlen) {
		const void *v;
		size_t n;
		name[0] = 0;
		if (kt_party_load(t, key, &p, NULL) == KETEN_OK && p->name)
			snprintf(name, nlen, "%s", p->name);
		else if (keten_kv_get(t, KT_TRUST, key, 32, &v, &n, NULL) == KETEN_OK)
			snprintf(name, nlen, "%.*s", (int)strnlen(v, n), (const char *)v);
		keten__state__party_state__free_unpacked(p, NULL);
	}
	keten_txn_end(t);
	return rc;
}

static void server_message(uint8_t *msg, const uint8_t client_nonce[32], const uint8_t client[32],
                           const uint8_t server_nonce[32])
{
	size_t k = sizeof KETEN_SYNC_CTX_SERVER - 1;
	memcpy(msg, KETEN_SYNC_CTX_SERVER, k);
	memcpy(msg + k, client_nonce, 32);
	memcpy(msg + k + 32, client, 32);
	memcpy(msg + k + 64, server_nonce, 32);
}

static void client_message(uint8_t *msg, const uint8_t server_nonce[32], const uint8_t server[32],
                           const uint8_t client[32])
{
	size_t k = sizeof KETEN_SYNC_CTX_CLIENT - 1;
	memcpy(msg, KETEN_SYNC_CTX_CLIENT, k);
	memcpy(msg + k, server_nonce, 32);
	memcpy(msg + k + 32, server, 32);
	memcpy(msg + k + 64, client, 32);
}

#define SERVER_MSG_LEN (sizeof KETEN_SYNC_CTX_SERVER - 1 + 96)
#define CLIENT_MSG_LEN (sizeof KETEN_SYNC_CTX_CLIENT - 1 + 96)

static int challenge_reply(keten_ledger *L, const keten_sync_session *s, uint8_t **out, size_t *len)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__Challenge c = KETEN__SYNC__CHALLENGE__INIT;
	c.key.data = (uint8_t *)keten_ledger_info(L)->key;
	c.key.len = 32;
	c.nonce.data = (uint8_t *)s->server_nonce;
	c.nonce.len = 32;
	c.signature.data = (uint8_t *)s->challenge_sig;
	c.signature.len = 64;
	r.msg_case = KETEN__SYNC__REPLY__MSG_CHALLENGE;
	r.challenge = &c;
	return pack_reply(&r, out, len);
}

static int serve_hello(keten_ledger *L, keten_sync_session *s, const Keten__Sync__Hello *h, uint8_t **out, size_t *len,
                       keten_error *note)
{
	const keten_keypair *kp = keten_ledger_keypair(L);
	uint8_t msg[SERVER_MSG_LEN];
	keten_error perr = {0};
	int rc;

	if (h->key.len != 32 || h->nonce.len != KETEN_SYNC_NONCE_BYTES ||
	    !crypto_core_ed25519_is_valid_point(h->key.data)) {
		s->strikes++;
		return error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED,
		                   "hello needs a valid 32-byte Ed25519 key and a 32-byte nonce", KETEN_EPROTO, out,
		                   len, note);
	}
	/* The same Hello again (a resent request): the same Challenge. */
	if (s->state != KETEN_SYNC_NEW && memcmp(s->peer, h->key.data, 32) == 0 &&
	    memcmp(s->client_nonce, h->nonce.data, 32) == 0)
		return challenge_reply(L, s, out, len) ? keten_fail(note, KETEN_ENOMEM, NULL) : KETEN_OK;
	s->state = KETEN_SYNC_NEW;
	rc = peer_allowed(L, h->key.data, NULL, 0, &perr);
	if (rc == KETEN_EAUTHOR || rc == KETEN_ERULE)
		return error_reply(KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED,
		                   "this key is not a certified party or trust anchor here", KETEN_EAUTHOR, out, len,
		                   note);
	if (rc || !kp)
		return error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot sign now",
		                   rc ? rc : KETEN_EINVAL, out, len, note);
	memcpy(s->peer, h->key.data, 32);
	memcpy(s->client_nonce, h->nonce.data, 32);
	randombytes_buf(s->server_nonce, sizeof s->server_nonce);
	server_message(msg, s->client_nonce, s->peer, s->server_nonce);
	if (keten_keypair_sign(kp, s->challenge_sig, msg, sizeof msg) != 0)
		return error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot sign now", KETEN_ECRYPTO, out,
		                   len, note);
	s->state = KETEN_SYNC_CHALLENGED;
	return challenge_reply(L, s, out, len) ? keten_fail(note, KETEN_ENOMEM, NULL) : KETEN_OK;
}

static int auth_ok_reply(const char *name, uint8_t **out, size_t *len, keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__AuthOk ok = KETEN__SYNC__AUTH_OK__INIT;
	ok.name = name && name[0] ? (char *)name : NULL;
	r.msg_case = KETEN__SYNC__REPLY__MSG_AUTH_OK;
	r.auth_ok = &ok;
	return pack_reply(&r, out, len) ? keten_fail(note, KETEN_ENOMEM, NULL) : KETEN_OK;
}

static int serve_auth(keten_ledger *L, keten_sync_session *s, const Keten__Sync__Auth *a, uint8_t **out, size_t *len,
                      keten_error *note)
{
	uint8_t msg[CLIENT_MSG_LEN];
	char name[128];
	keten_error perr = {0};
	int rc;

	if (a->signature.len != 64) {
		s->strikes++;
		return error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED, "auth needs a 64-byte signature", KETEN_EPROTO,
		                   out, len, note);
	}
	if (s->state == KETEN_SYNC_AUTHED && sodium_memcmp(s->auth_sig, a->signature.data, 64) == 0) {
		peer_allowed(L, s->peer, name, sizeof name, NULL);
		return auth_ok_reply(name, out, len, note);
	}
	if (s->state != KETEN_SYNC_CHALLENGED) {
		s->strikes++;
		return error_reply(KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED,
		                   "auth without a fresh challenge: send hello first", KETEN_EPROTO, out, len, note);
	}
	client_message(msg, s->server_nonce, keten_ledger_info(L)->key, s->peer);
	/* The challenge is spent whether or not the answer holds. */
	sodium_memzero(s->server_nonce, sizeof s->server_nonce);
	s->state = KETEN_SYNC_NEW;
	if (keten_sig_verify(a->signature.data, msg, sizeof msg, s->peer) != KETEN_OK) {
		s->strikes++;
		return error_reply(KETEN__SYNC__ERROR_CODE__BAD_SIGNATURE,
		                   "the auth signature does not verify: send hello again", KETEN_ESIG, out, len, note);
	}
	rc = peer_allowed(L, s->peer, name, sizeof name, &perr);
	if (rc)
		return error_reply(KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED,
		                   "this key is not a certified party or trust anchor here", KETEN_EAUTHOR, out, len,
		                   note);
	memcpy(s->auth_sig, a->signature.data, 64);
	s->state = KETEN_SYNC_AUTHED;
	return auth_ok_reply(name, out, len, note);
}

static int serve_heads(keten_ledger *L, const Keten__Sync__Heads *q, uint8_t **out, size_t *len, keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__HeadsReply hr = KETEN__SYNC__HEADS_REPLY__INIT;
	Keten__FeedHead *fh = NULL, **fp = NULL;
	struct heads hd = {.collect = true};
	uint8_t digest[32];
	keten_error err = {0};
	keten_txn *t;
	int rc = keten_store_read(keten_ledger_store(L), &t, &err);

	if (rc == 0) {
		rc = read_heads(t, &hd, digest, &err);
		hr.has_forks = 1;
		hr.forks = (uint32_t)keten_kv_count(t, KT_FORKS);
		keten_txn_end(t);
	}
	if (rc) {
		free(hd.h);
		return error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot read its ledger", rc, out, len,
		                   note);
	}
	hr.digest.data = digest;
	hr.digest.len = 32;
	if (q->has_digest && q->digest.len == 32 && sodium_memcmp(q->digest.data, digest, 32) == 0) {
		hr.has_same = hr.same = 1;
	} else if (hd.n) {
		if (feed_heads(&hd, &fh, &fp)) {
			free(hd.h);
			return keten_fail(note, KETEN_ENOMEM, NULL);
		}
		hr.n_heads = hd.n;
		hr.heads = fp;
	}
	r.msg_case = KETEN__SYNC__REPLY__MSG_HEADS;
	r.heads = &hr;
	if (keten__sync__reply__get_packed_size(&r) > KETEN_SYNC_MAX_REPLY)
		rc = error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "too many feeds for one reply", KETEN_EINVAL, out,
		                 len, note);
	else if (pack_reply(&r, out, len))
		rc = keten_fail(note, KETEN_ENOMEM, NULL);
	free(fh);
	free(fp);
	free(hd.h);
	return rc;
}

static int serve_fetch(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim,
                       const Keten__Sync__Fetch *f, uint8_t **out, size_t *len, keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__Entries en = KETEN__SYNC__ENTRIES__INIT;
	ProtobufCBinaryData *items = NULL;
	struct reader rd = {.key = s->peer};
	uint32_t max_e = lim->max_entries && lim->max_entries < KETEN_SYNC_MAX_ENTRIES ? lim->max_entries
										       : KETEN_SYNC_MAX_ENTRIES;
	uint32_t max_b = lim->max_bytes && lim->max_bytes < KETEN_SYNC_REPLY_BYTES ? lim->max_bytes
										   : KETEN_SYNC_REPLY_BYTES;
	uint64_t head, seq;
	size_t n = 0, bytes = 0;
	keten_error err = {0};
	keten_txn *t;
	int rc;

	if (f->author.len != 32 || f->from_seq == 0 || f->from_seq > (UINT64_C(1) << 62)) {
		s->strikes++;
		return error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED,
		                   "fetch needs a 32-byte author and a from_seq of at least 1", KETEN_EPROTO, out, len,
		                   note);
	}
	if (f->has_max_entries && f->max_entries && f->max_entries < max_e)
		max_e = f->max_entries;
	if (f->has_max_bytes && f->max_bytes && f->max_bytes < max_b)
		max_b = f->max_bytes;
	items = calloc(max_e, sizeof *items);
	if (!items)
		return keten_fail(note, KETEN_ENOMEM, NULL);
	if ((rc = keten_store_read(keten_ledger_store(L), &t, &err))) {
		free(items);
		return error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot read its ledger", rc, out, len,
		                   note);
	}
	rc = keten_store_head(t, f->author.data, &head, NULL, &err);
	for (seq = f->from_seq; rc == 0 && seq <= head && n < max_e; seq++) {
		uint8_t id[32];
		keten_entry e;
		uint8_t *b = NULL;
		size_t bl = 0;
		if (keten_store_feed_id(t, f->author.data, seq, id, NULL) || keten_store_get_entry(t, id, &e, NULL))
			break;
		if (e.has_body && !reader_may(t, &rd, &e)) {
			if (keten_entry_stub_bytes(&e, &b, &bl))
				rc = KETEN_ENOMEM;
		} else if ((b = malloc(e.raw_len))) {
			memcpy(b, e.raw, e.raw_len);
			bl = e.raw_len;
		} else {
			rc = KETEN_ENOMEM;
		}
		keten_entry_release(&e);
		if (rc)
			break;
		if (n > 0 && bytes + bl > max_b) {
			free(b);
			break;
		}
		items[n].data = b;
		items[n].len = bl;
		bytes += bl;
		n++;
	}
	keten_txn_end(t);
	if (rc == 0) {
		en.n_entry = n;
		en.entry = items;
		en.has_more = 1;
		en.more = seq <= head;
		r.msg_case = KETEN__SYNC__REPLY__MSG_ENTRIES;
		r.entries = &en;
		if (pack_reply(&r, out, len))
			rc = keten_fail(note, KETEN_ENOMEM, NULL);
	} else {
		rc = error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot read its ledger", rc, out, len,
		                 note);
	}
	for (size_t i = 0; i < n; i++)
		free(items[i].data);
	free(items);
	return rc;
}

struct fork_scan {
	ProtobufCBinaryData *items;
	size_t n, max, bytes, max_bytes;
	bool more, nomem;
};

static int fork_cb(const uint8_t *k KT_UNUSED, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct fork_scan *f = p;
	uint8_t *b;
	size_t bl;
	if (kl != 72 || vl <= 64)
		return 0;
	if (f->n == f->max) {
		f->more = true;
		return 1;
	}
	if (keten_entry_frame(v, vl - 64, v + vl - 64, NULL, 0, false, &b, &bl)) {
		f->nomem = true;
		return 1;
	}
	if (f->n && f->bytes + bl > f->max_bytes) {
		free(b);
		f->more = true;
		return 1;
	}
	f->items[f->n].data = b;
	f->items[f->n].len = bl;
	f->bytes += bl;
	f->n++;
	return 0;
}

static int serve_forks(keten_ledger *L, const keten_sync_limits *lim, const Keten__Sync__Forks *q, uint8_t **out,
                       size_t *len, keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__Entries en = KETEN__SYNC__ENTRIES__INIT;
	struct fork_scan f = {0};
	keten_error err = {0};
	keten_txn *t;
	int rc;

	f.max = lim->max_entries && lim->max_entries < KETEN_SYNC_MAX_ENTRIES ? lim->max_entries
									      : KETEN_SYNC_MAX_ENTRIES;
	if (q->has_max_entries && q->max_entries && q->max_entries < f.max)
		f.max = q->max_entries;
	f.max_bytes = lim->max_bytes && lim->max_bytes < KETEN_SYNC_REPLY_BYTES ? lim->max_bytes
										: KETEN_SYNC_REPLY_BYTES;
	if (!(f.items = calloc(f.max, sizeof *f.items)))
		return keten_fail(note, KETEN_ENOMEM, NULL);
	rc = keten_store_read(keten_ledger_store(L), &t, &err);
	if (rc == 0) {
		rc = keten_kv_scan(t, KT_FORKS, NULL, 0, fork_cb, &f, &err);
		keten_txn_end(t);
	}
	if (rc == 0 && f.nomem)
		rc = keten_fail(note, KETEN_ENOMEM, NULL);
	else if (rc)
		rc = error_reply(KETEN__SYNC__ERROR_CODE__INTERNAL, "the server cannot read its ledger", rc, out, len,
		                 note);
	if (rc == 0) {
		en.n_entry = f.n;
		en.entry = f.items;
		en.has_more = 1;
		en.more = f.more;
		r.msg_case = KETEN__SYNC__REPLY__MSG_ENTRIES;
		r.entries = &en;
		if (pack_reply(&r, out, len))
			rc = keten_fail(note, KETEN_ENOMEM, NULL);
	}
	for (size_t i = 0; i < f.n; i++)
		free(f.items[i].data);
	free(f.items);
	return rc;
}

int keten_sync_serve(keten_ledger *L, keten_sync_session *s, const keten_sync_limits *lim, int64_t now_ms,
                     const uint8_t *req, size_t len, uint8_t **reply, size_t *reply_len, keten_error *note)
{
	struct capped cap = {0, REQUEST_ALLOC_CAP};
	ProtobufCAllocator a = {capped_alloc, capped_free, &cap};
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
		return error_reply(KETEN__SYNC__ERROR_CODE__RATE_LIMITED, "too many requests: slow down", KETEN_EPROTO,
		                   reply, reply_len, note);
	s->tokens -= 1.0;
	if (len > KETEN_SYNC_MAX_REQUEST) {
		s->strikes++;
		return error_reply(KETEN__SYNC__ERROR_CODE__TOO_LARGE, "request larger than 64 KiB", KETEN_EPROTO,
		                   reply, reply_len, note);
	}
	q = keten__sync__request__unpack(&a, len, req);
	if (!q) {
		s->strikes++;
		return error_reply(KETEN__SYNC__ERROR_CODE__MALFORMED, "request does not decode", KETEN_EPROTO, reply,
		                   reply_len, note);
	}
	switch (q->msg_case) {
	case KETEN__SYNC__REQUEST__MSG_HELLO: rc = serve_hello(L, s, q->hello, reply, reply_len, note); break;
	case KETEN__SYNC__REQUEST__MSG_AUTH: rc = serve_auth(L, s, q->auth, reply, reply_len, note); break;
	case KETEN__SYNC__REQUEST__MSG_HEADS:
	case KETEN__SYNC__REQUEST__MSG_FETCH:
	case KETEN__SYNC__REQUEST__MSG_FORKS:
	case KETEN__SYNC__REQUEST__MSG_ANNOUNCE:
		if (s->state != KETEN_SYNC_AUTHED) {
			s->strikes++;
			rc = error_reply(KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED,
			                 "authenticate first: hello, then auth", KETEN_EPROTO, reply, reply_len, note);
		} else if (q->msg_case == KETEN__SYNC__REQUEST__MSG_HEADS) {
			rc = serve_heads(L, q->heads, reply, reply_len, note);
		} else if (q->msg_case == KETEN__SYNC__REQUEST__MSG_FORKS) {
			rc = serve_forks(L, lim, q->forks, reply, reply_len, note);
		} else if (q->msg_case == KETEN__SYNC__REQUEST__MSG_ANNOUNCE) {
			Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
			Keten__Sync__Ack ack = KETEN__SYNC__ACK__INIT;
			s->announced = true;
			r.msg_case = KETEN__SYNC__REPLY__MSG_ACK;
			r.ack = &ack;
			rc = pack_reply(&r, reply, reply_len) ? keten_fail(note, KETEN_ENOMEM, NULL) : KETEN_OK;
		} else {
			rc = serve_fetch(L, s, lim, q->fetch, reply, reply_len, note);
		}
		break;
	default:
		s->strikes++;
		rc = error_reply(KETEN__SYNC__ERROR_CODE__UNKNOWN_TYPE,
		                 "unknown request type (this server speaks keten/sync/v1)", KETEN_EPROTO, reply,
		                 reply_len, note);
		break;
	}
	keten__sync__request__free_unpacked(q, &a);
	return rc;
}

/* Client ---------------------------------------------------------------------- */

/* One feed to pull this round: seqs from..to. */
struct job {
	uint8_t author[32];
	uint64_t from, to;
	bool probe; /* fetch one entry to compare (fork evidence) */
	bool probed;
};

/* A stub held here whose body this node may read and the server may hold. */
struct want {
	uint8_t author[32];
	uint64_t seq;
};

enum expect { X_NONE, X_CHALLENGE, X_AUTH_OK, X_HEADS, X_ENTRIES, X_FORKS, X_ACK };

/* What one keten_ledger_ingest call did, with our head of the job's feed
 * right after it. */
struct ingested {
	int rc;
	keten_error err;
	keten_ingest_stats ist;
	size_t n; /* entries passed in */
	uint64_t head;
	bool new_forks; /* the count of fork proofs here grew */
};

/* One Entries reply in a batch. */
struct part {
	size_t first, n; /* its entries in the batch's items */
	size_t raw;      /* entries in the reply, with those too large to take */
	uint64_t from;   /* the seq its Fetch asked from */
	bool more;       /* the server said it has more of the feed */
};

/* Replies of the current job, copied, for one keten_ledger_ingest call. */
struct batch {
	uint8_t *bytes;
	size_t n_bytes, cap_bytes;
	struct {
		size_t off, len;
	} * items;
	size_t n_items, cap_items;
	keten_blob *blobs;
	size_t cap_blobs;
	struct part *parts;
	size_t n_parts, cap_parts;
	uint8_t author[32];
	/* handed over to be ingested while the next replies arrive */
	bool handed, threaded;
	pthread_t th;
	keten_ledger *L;
	keten_sync_lock_fn lock_fn;
	void *lock_ctx;
	struct ingested res;
};

struct keten_sync_client {
	keten_ledger *L;
	bool authed;
	bool have_server;
	uint8_t server[32];
	uint8_t nonce[KETEN_SYNC_NONCE_BYTES];
	bool have_digest, sent_digest;
	bool incomplete; /* this round left a feed short of the server's head */
	bool have_forks, want_forks;
	uint32_t forks, round_forks; /* the server's count of fork proofs: last seen, this round */
	uint8_t digest[32], round_digest[32];
	enum expect expect;
	int restarts;
	struct job *jobs;
	size_t n_jobs, cap_jobs, cur;
	struct want *wants;
	size_t n_wants, cap_wants;
	bool wants_valid;      /* wants still answer for wants_key */
	uint8_t wants_key[72]; /* stub ids digest || server || number of parties */
	unsigned wants_age;
	uint32_t max_entries, max_bytes;
	uint8_t *last; /* the last request, to repeat after "rate-limited" */
	size_t last_len;
	uint32_t wait_ms; /* wait this long before sending the next request */
	int backoffs;
	keten_sync_stats st;
	uint32_t batch_entries, batch_bytes;
	struct batch fill; /* replies continuing the current job, not yet ingested */
	struct batch hand; /* the full batch before it, being ingested */
	keten_sync_lock_fn lock_fn;
	void *lock_ctx;
	bool locked; /* this thread holds lock_fn's lock now */
};

static void batches_drop(keten_sync_client *c);
static int batches_finish(keten_sync_client *c, keten_error *err);
static void client_lock(keten_sync_client *c);
static void client_unlock(keten_sync_client *c);

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
	*out = c;
	return KETEN_OK;
}

void keten_sync_client_free(keten_sync_client *c)
{
	if (!c)
		return;
	batches_drop(c);
	free(c->jobs);
	free(c->wants);
	free(c->last);
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
	batches_drop(c);
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
	batches_drop(c);
	c->authed = false;
	c->have_digest = false;
	c->have_forks = false;
	c->expect = X_NONE;
}

static int send_request(keten_sync_client *c, const Keten__Sync__Request *r, enum expect x, uint8_t **req, size_t *len,
                        keten_error *err)
{
	if (pack_request(r, req, len))
		return keten_fail(err, KETEN_ENOMEM, NULL);
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

static int send_hello(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
{
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Hello h = KETEN__SYNC__HELLO__INIT;
	randombytes_buf(c->nonce, sizeof c->nonce);
	h.key.data = (uint8_t *)keten_ledger_info(c->L)->key;
	h.key.len = 32;
	h.nonce.data = c->nonce;
	h.nonce.len = sizeof c->nonce;
	r.msg_case = KETEN__SYNC__REQUEST__MSG_HELLO;
	r.hello = &h;
	c->authed = false;
	return send_request(c, &r, X_CHALLENGE, req, len, err);
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

/* The stubs held here that this node may read and this server may hold
 * (it wrote them or is in their audience): the lowest seq per feed.
 * Parsing every stub each round would cost a node that holds many of
 * them dearly, so the answer is kept while the set of stubs, the number
 * of parties known here and the server stay the same (and for at most
 * WANTS_MAX_AGE rounds, for certificates that change in place). */
static int find_wants(keten_sync_client *c, keten_error *err)
{
	struct stub_scan ss = {0};
	struct reader me = {.key = keten_ledger_info(c->L)->key};
	uint8_t key[32 + 32 + 8];
	keten_txn *t;
	int rc = keten_store_read(keten_ledger_store(c->L), &t, err);

	if (rc)
		return rc;
	crypto_generichash_init(&ss.hs, NULL, 0, 32);
	rc = keten_kv_scan(t, KT_STATUS, NULL, 0, stub_cb, &ss, err);
	crypto_generichash_final(&ss.hs, key, 32);
	memcpy(key + 32, c->server, 32);
	keten_be64(key + 64, (uint64_t)keten_kv_count(t, KT_PARTIES));
	if (rc == 0 && c->wants_valid && c->wants_age < WANTS_MAX_AGE && memcmp(key, c->wants_key, sizeof key) == 0) {
		c->wants_age++;
		keten_txn_end(t);
		return KETEN_OK;
	}
	c->n_wants = 0;
	c->wants_valid = false;
	ss.collect = true;
	if (rc == 0)
		rc = keten_kv_scan(t, KT_STATUS, NULL, 0, stub_cb, &ss, err);
	for (size_t i = 0; rc == 0 && i < ss.n; i++) {
		keten_entry e;
		if (keten_store_get_entry(t, ss.ids[i], &e, NULL))
			continue;
		if ((memcmp(e.author, c->server, 32) == 0 || keten_entry_has_audience(&e, c->server)) &&
		    reader_may(t, &me, &e) && want_push(c, e.author, e.seq))
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

static int send_heads(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
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
	return send_request(c, &r, X_HEADS, req, len, err);
}

static int send_fetch(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
{
	if (c->st.requests >= MAX_ROUND_REQUESTS)
		return keten_fail(err, KETEN_EPROTO, "the round took %u requests: ended", MAX_ROUND_REQUESTS);
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Fetch f = KETEN__SYNC__FETCH__INIT;
	struct job *j = &c->jobs[c->cur];
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
	return send_request(c, &r, X_ENTRIES, req, len, err);
}

static int send_forks(keten_sync_client *c, uint8_t **req, size_t *len, keten_error *err)
{
	Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
	Keten__Sync__Forks f = KETEN__SYNC__FORKS__INIT;
	c->want_forks = false;
	r.msg_case = KETEN__SYNC__REQUEST__MSG_FORKS;
	r.forks = &f;
	return send_request(c, &r, X_FORKS, req, len, err);
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
	c->expect = X_NONE;
	batches_drop(c); /* both empty by now: their memory goes */
	/* Remember the server's digest only when we now hold what it listed;
	 * otherwise the next round asks for the full heads again. */
	memcpy(c->digest, c->round_digest, 32);
	c->have_digest = !c->incomplete;
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
	client_lock(c);
	rc = keten_store_read(keten_ledger_store(c->L), &t, err);
	if (rc == 0) {
		rc = keten_sync_heads_digest(t, digest, NULL, err);
		keten_txn_end(t);
	}
	client_unlock(c);
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
	return send_request(c, &r, X_ACK, req, req_len, err);
}

int keten_sync_client_begin(keten_sync_client *c, uint8_t **req, size_t *req_len, keten_error *err)
{
	int rc;
	*req = NULL;
	*req_len = 0;
	batches_drop(c); /* a round the caller gave up without a reset */
	memset(&c->st, 0, sizeof c->st);
	c->restarts = 0;
	c->backoffs = 0;
	c->n_jobs = c->cur = 0;
	client_lock(c);
	rc = c->authed ? send_heads(c, req, req_len, err) : send_hello(c, req, req_len, err);
	client_unlock(c);
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
	keten_be64(k + 32, seq);
	memcpy(k + 40, id, 32);
	return keten_kv_get(t, KT_FORKS, k, 72, NULL, NULL, NULL) == KETEN_OK;
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

/* Batches ---------------------------------------------------------------------- */

static void ingest_items(keten_ledger *L, const uint8_t author[32], const keten_blob *b, size_t n, struct ingested *r)
{
	size_t before, after;
	keten_txn *t;

	memset(r, 0, sizeof *r);
	r->n = n;
	if ((r->rc = keten_store_read(keten_ledger_store(L), &t, &r->err)))
		return;
	before = keten_kv_count(t, KT_FORKS);
	keten_txn_end(t);
	/* Whatever does not verify is dropped by ingest and shows as our head
	 * falling short of what the replies claimed; its message stays here. */
	if (n && (r->rc = keten_ledger_ingest(L, b, n, false, &r->ist, &r->err)))
		return;
	keten_error_clear(&r->err);
	if ((r->rc = keten_store_read(keten_ledger_store(L), &t, &r->err)))
		return;
	r->rc = keten_store_head(t, author, &r->head, NULL, &r->err);
	after = keten_kv_count(t, KT_FORKS);
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
	return KETEN_OK;
}

/* Entries of parts [p0, p1) as blobs into b->blobs; their number. */
static size_t batch_blobs(struct batch *b, size_t p0, size_t p1)
{
	size_t first = b->parts[p0].first, n = 0;
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

static void client_lock(keten_sync_client *c)
{
	if (c->lock_fn && !c->locked) {
		c->lock_fn(c->lock_ctx, true);
		c->locked = true;
	}
}

static void client_unlock(keten_sync_client *c)
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
	client_unlock(c);
	pthread_join(c->hand.th, NULL);
	c->hand.threaded = false;
	if (relock)
		client_lock(c);
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
		client_lock(c);
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
	client_lock(c);
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
	client_lock(c);
	ingest_items(c->L, c->hand.author, c->hand.blobs, batch_blobs(&c->hand, 0, c->hand.n_parts), &c->hand.res);
}

/* The round ends or starts over: take what has arrived into the ledger. */
static int batches_finish(keten_sync_client *c, keten_error *err)
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
static void batches_drop(keten_sync_client *c)
{
	batch_wait(c);
	if (c->hand.handed && c->hand.res.rc == 0)
		count(c, &c->hand.res);
	batch_free(&c->hand);
	batch_free(&c->fill);
}

/* One Entries reply for the current job. */
static int take_entries(keten_sync_client *c, const Keten__Sync__Entries *en, keten_error *err)
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
static int take_forks(keten_sync_client *c, const Keten__Sync__Entries *en, keten_error *err)
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
	before = keten_kv_count(t, KT_FORKS);
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
	after = keten_kv_count(t, KT_FORKS);
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

int keten_sync_client_reply(keten_sync_client *c, const uint8_t *reply, size_t len, uint8_t **req, size_t *req_len,
                            keten_error *err)
{
	struct capped cap = {0, REPLY_ALLOC_CAP};
	ProtobufCAllocator a = {capped_alloc, capped_free, &cap};
	Keten__Sync__Reply *r = NULL;
	enum expect x = c->expect;
	int rc = KETEN_OK;

	*req = NULL;
	*req_len = 0;
	if (x == X_NONE)
		return keten_fail(err, KETEN_EPROTO, "a reply came when none was expected");
	c->expect = X_NONE;
	c->st.bytes_in += len;
	if (len > KETEN_SYNC_MAX_REPLY) {
		rc = keten_fail(err, KETEN_EPROTO, "the server's reply is larger than 4 MiB");
		goto out;
	}
	if (!(r = keten__sync__reply__unpack(&a, len, reply))) {
		rc = keten_fail(err, KETEN_EPROTO, "the server's reply does not decode");
		goto out;
	}
	/* Only Entries that continue a feed may be taken without touching the
	 * ledger (take_entries locks when it must). */
	if (x != X_ENTRIES || r->msg_case != KETEN__SYNC__REPLY__MSG_ENTRIES)
		client_lock(c);

	if (r->msg_case == KETEN__SYNC__REPLY__MSG_ERROR) {
		char text[200];
		clean_text(text, sizeof text, r->error->text);
		if (r->error->code == KETEN__SYNC__ERROR_CODE__RATE_LIMITED && c->last && c->backoffs < MAX_BACKOFFS) {
			/* Too fast for the server: the same request again, later. */
			c->backoffs++;
			if (!(*req = malloc(c->last_len ? c->last_len : 1))) {
				rc = keten_fail(err, KETEN_ENOMEM, NULL);
			} else {
				memcpy(*req, c->last, c->last_len);
				*req_len = c->last_len;
				c->expect = x;
				c->st.requests++;
				c->st.bytes_out += c->last_len;
				c->wait_ms = 250u << c->backoffs;
			}
		} else if (r->error->code == KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED &&
		           (x == X_HEADS || x == X_ENTRIES || x == X_FORKS) && c->restarts < MAX_RESTARTS) {
			/* A new connection: authenticate again and start the round over,
			 * keeping what arrived so far. */
			c->restarts++;
			if ((rc = batches_finish(c, err)) == 0)
				rc = send_hello(c, req, req_len, err);
		} else {
			rc = keten_fail(err,
			                r->error->code == KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED ? KETEN_EAUTHOR
			                        : r->error->code == KETEN__SYNC__ERROR_CODE__BAD_SIGNATURE
			                        ? KETEN_ESIG
			                        : KETEN_EPROTO,
			                "the server says %s: %s", code_name(r->error->code), text);
		}
		goto out;
	}
	switch (x) {
	case X_CHALLENGE: {
		const Keten__Sync__Challenge *ch = r->challenge;
		uint8_t msg[SERVER_MSG_LEN > CLIENT_MSG_LEN ? SERVER_MSG_LEN : CLIENT_MSG_LEN];
		Keten__Sync__Request q = KETEN__SYNC__REQUEST__INIT;
		Keten__Sync__Auth au = KETEN__SYNC__AUTH__INIT;
		uint8_t sig[64];
		const uint8_t *me = keten_ledger_info(c->L)->key;
		if (r->msg_case != KETEN__SYNC__REPLY__MSG_CHALLENGE || ch->key.len != 32 || ch->nonce.len != 32 ||
		    ch->signature.len != 64 || !crypto_core_ed25519_is_valid_point(ch->key.data)) {
			rc = keten_fail(err, KETEN_EPROTO, "the server did not answer hello with a challenge");
			break;
		}
		server_message(msg, c->nonce, me, ch->nonce.data);
		if (keten_sig_verify(ch->signature.data, msg, SERVER_MSG_LEN, ch->key.data) != KETEN_OK) {
			rc = keten_fail(err, KETEN_ESIG, "the server's challenge signature does not verify");
			break;
		}
		{
			/* Mutual: we talk only to nodes our own ledger knows. */
			keten_error perr = {0};
			int prc = peer_allowed(c->L, ch->key.data, NULL, 0, &perr);
			if (prc) {
				char hex[65];
				keten_hex(hex, ch->key.data, 32);
				if (prc == KETEN_EAUTHOR || prc == KETEN_ERULE)
					rc = keten_fail(err, KETEN_EAUTHOR,
					                "the server's key '%.16s' is not a certified "
					                "party or trust anchor here",
					                hex);
				else
					rc = prc;
				break;
			}
		}
		if (c->have_server && memcmp(c->server, ch->key.data, 32) != 0)
			c->have_digest = false; /* another node answers at this address */
		memcpy(c->server, ch->key.data, 32);
		c->have_server = true;
		client_message(msg, ch->nonce.data, c->server, me);
		if (keten_keypair_sign(keten_ledger_keypair(c->L), sig, msg, CLIENT_MSG_LEN) != 0) {
			rc = keten_fail(err, KETEN_ECRYPTO, "cannot sign the auth");
			break;
		}
		au.signature.data = sig;
		au.signature.len = 64;
		q.msg_case = KETEN__SYNC__REQUEST__MSG_AUTH;
		q.auth = &au;
		rc = send_request(c, &q, X_AUTH_OK, req, req_len, err);
		break;
	}
	case X_AUTH_OK:
		if (r->msg_case != KETEN__SYNC__REPLY__MSG_AUTH_OK) {
			rc = keten_fail(err, KETEN_EPROTO, "the server did not answer auth with auth-ok");
			break;
		}
		c->authed = true;
		rc = send_heads(c, req, req_len, err);
		break;
	case X_HEADS: {
		const Keten__Sync__HeadsReply *h = r->heads;
		if (r->msg_case != KETEN__SYNC__REPLY__MSG_HEADS || h->digest.len != 32) {
			rc = keten_fail(err, KETEN_EPROTO, "the server did not answer heads with its heads");
			break;
		}
		memcpy(c->round_digest, h->digest.data, 32);
		c->round_forks = h->has_forks ? h->forks : 0;
		c->want_forks = c->round_forks && (!c->have_forks || c->round_forks != c->forks);
		if (h->has_same && h->same) {
			if (!c->sent_digest || memcmp(h->digest.data, c->digest, 32) != 0) {
				rc = keten_fail(err, KETEN_EPROTO, "the server claims a digest it was not sent");
				break;
			}
			c->st.same = true;
			c->expect = X_NONE;
			if (c->want_forks)
				rc = send_forks(c, req, req_len, err);
			break;
		}
		if ((rc = plan(c, h, err)))
			break;
		rc = next_fetch(c, req, req_len, err);
		break;
	}
	case X_ENTRIES:
		if (r->msg_case != KETEN__SYNC__REPLY__MSG_ENTRIES || c->cur >= c->n_jobs) {
			rc = keten_fail(err, KETEN_EPROTO, "the server did not answer fetch with entries");
			break;
		}
		if ((rc = take_entries(c, r->entries, err)))
			break;
		rc = next_fetch(c, req, req_len, err);
		break;
	case X_ACK:
		if (r->msg_case != KETEN__SYNC__REPLY__MSG_ACK)
			rc = keten_fail(err, KETEN_EPROTO, "the server did not answer announce with ack");
		c->expect = X_NONE;
		break;
	case X_FORKS:
		if (r->msg_case != KETEN__SYNC__REPLY__MSG_ENTRIES) {
			rc = keten_fail(err, KETEN_EPROTO, "the server did not answer forks with entries");
			break;
		}
		if ((rc = take_forks(c, r->entries, err)))
			break;
		c->forks = c->round_forks;
		c->have_forks = true;
		c->expect = X_NONE;
		break;
	default: rc = keten_fail(err, KETEN_EPROTO, "a reply came when none was expected"); break;
	}
out:
	if (r)
		keten__sync__reply__free_unpacked(r, &a);
	if (rc) {
		/* The round ends here: keep what arrived and verified.  The
		 * round's error is what the caller hears. */
		keten_error ferr = {0};
		client_lock(c);
		batches_finish(c, &ferr);
		batches_drop(c);
		free(*req);
		*req = NULL;
		*req_len = 0;
		c->expect = X_NONE;
	}
	client_unlock(c);
	return rc;
}
