/*
 * heads.c — the feed heads a node holds and what is built on them: the
 * heads digest (a server's Heads reply, a client's shortcut for an
 * unchanged server, an Announce), the FeedHead list shared by Heads
 * replies and checkpoint bodies, and checkpoints: building one, appending
 * one, and checking those of other nodes against this node's feeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync.h"
#include "base/base.h"
#include "store/kv.h"

/* Heads ------------------------------------------------------------------------ */

static int heads_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct kt_heads *hd = p;
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
	hd->h[hd->n].seq = kt_get_be64(v);
	memcpy(hd->h[hd->n].id, (const uint8_t *)v + 8, 32);
	hd->n++;
	return 0;
}

int kt_read_heads(keten_txn *t, struct kt_heads *hd, uint8_t digest[32], keten_error *err)
{
	int rc;
	crypto_generichash_init(&hd->hs, NULL, 0, 32);
	rc = kt_kv_scan(t, KT_HEADS, NULL, 0, heads_cb, hd, err);
	if (rc == KETEN_EINVAL && !(err && err->msg[0]))
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
	crypto_generichash_final(&hd->hs, digest, 32);
	return rc;
}

int keten_sync_heads_digest(keten_txn *t, uint8_t out[32], size_t *n_feeds, keten_error *err)
{
	struct kt_heads hd = {.collect = true};
	int rc = kt_read_heads(t, &hd, out, err);
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
int kt_feed_heads(const struct kt_heads *hd, Keten__FeedHead **fh, Keten__FeedHead ***fp)
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

/* More feeds than this: the root alone (as with heads that would make the
 * body larger than a signed body may be, KETEN_MAX_ENTRY_BYTES / 2). */
#define CHECKPOINT_MAX_HEADS 2500

int keten_sync_checkpoint_body(keten_txn *t, uint8_t **out, size_t *len, uint8_t digest[32], keten_error *err)
{
	Keten__Checkpoint cp = KETEN__CHECKPOINT__INIT;
	Keten__FeedHead *fh = NULL, **fp = NULL;
	struct kt_heads hd = {.collect = true};
	int rc = kt_read_heads(t, &hd, digest, err);

	*out = NULL;
	*len = 0;
	if (rc) {
		free(hd.h);
		return rc;
	}
	if (hd.n <= CHECKPOINT_MAX_HEADS && hd.n) {
		if (kt_feed_heads(&hd, &fh, &fp)) {
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
	if (*len > KETEN_MAX_ENTRY_BYTES / 2) {
		/* heads too many to sign as one body (long seqs): the root alone */
		cp.n_heads = 0;
		*len = keten__checkpoint__get_packed_size(&cp);
	}
	KETEN_ASSERT(*len <= KETEN_MAX_ENTRY_BYTES / 2);
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
		kt_be64(rec + 32, h->seq);
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

int kt_checkpoint_append(keten_ledger *L, uint8_t last[32], bool have_last, uint8_t id_out[32], size_t *feeds,
                         keten_error *err)
{
	keten_append a = {.body_type = KETEN__BODY_TYPE__CHECKPOINT};
	uint8_t digest[32], *body = NULL, ids[1][32];
	size_t len = 0;
	keten_txn *t;
	int rc;

	memset(id_out, 0, 32);
	if (!keten_ledger_unlocked(L))
		return keten_fail(err, KETEN_EINVAL, "the home's key is not unlocked");
	if ((rc = keten_store_read(keten_ledger_store(L), &t, err)))
		return rc;
	rc = keten_sync_checkpoint_body(t, &body, &len, digest, err);
	if (rc == 0 && feeds)
		keten_sync_heads_digest(t, digest, feeds, NULL);
	keten_txn_end(t);
	if (rc)
		return rc;
	if (have_last && memcmp(last, digest, 32) == 0) {
		free(body);
		return KETEN_OK;
	}
	KETEN_ASSERT(len > 0 && len <= KETEN_MAX_ENTRY_BYTES / 2); /* keten_sync_checkpoint_body keeps it so */
	a.body = body;
	a.body_len = len;
	rc = keten_ledger_append(L, &a, 1, ids, err);
	free(body);
	if (rc)
		return rc;
	memcpy(id_out, ids[0], 32);
	if ((rc = keten_store_read(keten_ledger_store(L), &t, err)))
		return rc;
	rc = keten_sync_heads_digest(t, last, NULL, err);
	keten_txn_end(t);
	return rc;
}

int keten_checkpoint_append(keten_ledger *L, uint8_t id[32], size_t *feeds, keten_error *err)
{
	uint8_t last[32];
	if (feeds)
		*feeds = 0;
	return kt_checkpoint_append(L, last, false, id, feeds, err);
}

struct cp_scan {
	keten_txn *t;
	const uint8_t *self;
	keten_checkpoint_fn fn;
	void *ctx;
};

static int cp_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct cp_scan *x = p;
	keten_checkpoint_seen seen = {0};
	keten_error err = {0};
	keten_entry e;
	int stop;

	/* by_type: type || timestamp || id */
	if (kl < 44 || keten_store_get_entry(x->t, k + 12, &e, NULL))
		return 0;
	if (!e.has_body || memcmp(e.author, x->self, 32) == 0) {
		keten_entry_release(&e); /* a stub says nothing to compare; our own name our feeds */
		return 0;
	}
	memcpy(seen.id, e.id, 32);
	memcpy(seen.author, e.author, 32);
	seen.rc = keten_sync_checkpoint_check(x->t, &e, &seen.check, &err);
	if (seen.rc)
		snprintf(seen.problem, sizeof seen.problem, "%s", err.msg);
	keten_entry_release(&e);
	stop = x->fn(x->ctx, &seen);
	return stop ? 1 : 0;
}

int keten_checkpoints_check(keten_txn *t, const uint8_t self[32], keten_checkpoint_fn fn, void *ctx, keten_error *err)
{
	struct cp_scan x = {t, self, fn, ctx};
	uint8_t prefix[4];
	KETEN_ASSERT(t && self && fn);
	kt_be32(prefix, KETEN__BODY_TYPE__CHECKPOINT);
	return kt_kv_scan(t, KT_BY_TYPE, prefix, 4, cp_cb, &x, err);
}
