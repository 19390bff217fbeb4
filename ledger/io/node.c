/*
 * node.c — a keten node as one call (include/keten/node.h): the loop that
 * serves a ledger (net.c's server) and pulls from its peers (net.c's peer
 * connections) in rounds, announces this home's own new entries and
 * appends checkpoints; and the node's configuration in the home's meta
 * table: its peers ("peer.<url>" -> empty), the server key expected at
 * each URL ("pin.<url>" -> how (1 pinned, 2 first use) || key) and TLS
 * files ("tls.cert", "tls.key", "tls.ca" -> absolute path,
 * NUL-terminated).  The protocol is
 * the sync layer's; this file only schedules it.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/keten.h"
#include "keten/node.h"
#include "sync/sync.h"
#include "base/base.h"
#include "store/kv.h"

/* keten_node_opts.stop points at the volatile sig_atomic_t of a handler. */
_Static_assert(_Generic((sig_atomic_t)0, int : 1, default : 0), "sig_atomic_t is int");

#define PEER_PREFIX "peer."
#define PIN_PREFIX  "pin."
#define MAX_URLS    KETEN_NODE_MAX_URLS
#define TICK_NS     (50 * 1000 * 1000) /* how often the loop looks at the clock and *stop */

static const char *const tls_names[3] = {"tls.cert", "tls.key", "tls.ca"};

bool keten_node_url_ok(const char *u)
{
	return u &&
		(strncmp(u, "tcp://", 6) == 0 || strncmp(u, "ipc://", 6) == 0 || strncmp(u, "tls+tcp://", 10) == 0) &&
		strlen(u) < KETEN_NODE_URL_MAX;
}

/* Configuration in the meta table --------------------------------------------- */

/* Records to put (value not NULL: vlen bytes) or delete, in one write. */
struct meta_put {
	const char *name[3];
	const void *value[3];
	size_t vlen[3];
	size_t n;
};

static int meta_put_fn(keten_txn *t, void *ctx, keten_error *err)
{
	struct meta_put *m = ctx;
	int rc = KETEN_OK;
	KETEN_ASSERT(m->n >= 1 && m->n <= KT_COUNT(m->name));
	for (size_t i = 0; rc == 0 && i < m->n; i++) {
		size_t kl = strlen(m->name[i]);
		if (!m->value[i])
			rc = kt_kv_del(t, KT_META, m->name[i], kl, err);
		else
			rc = kt_kv_put(t, KT_META, m->name[i], kl, m->value[i], m->vlen[i], err);
	}
	return rc;
}

static int peer_put(keten_ledger *L, const char *url, bool keep, keten_error *err)
{
	char key[sizeof PEER_PREFIX + KETEN_NODE_URL_MAX], pin[sizeof PIN_PREFIX + KETEN_NODE_URL_MAX];
	struct meta_put m = {.name = {key, pin}, .value = {keep ? "" : NULL, NULL}, .vlen = {0}, .n = keep ? 1 : 2};

	if (!keten_node_url_ok(url))
		return keten_fail(err, KETEN_EINVAL, "'%s' is not a tcp://, tls+tcp:// or ipc:// URL", url ? url : "");
	snprintf(key, sizeof key, PEER_PREFIX "%s", url);
	snprintf(pin, sizeof pin, PIN_PREFIX "%s", url);
	return kt_store_write(keten_ledger_store(L), meta_put_fn, &m, err);
}

/* Pins ------------------------------------------------------------------------ */

struct pin_put {
	const char *name;
	uint8_t v[33];
	bool first_use;
};

static int pin_put_fn(keten_txn *t, void *ctx, keten_error *err)
{
	struct pin_put *p = ctx;
	size_t kl = strlen(p->name);
	if (p->first_use && kt_kv_get(t, KT_META, p->name, kl, NULL, NULL, NULL) == KETEN_OK)
		return KETEN_OK; /* a key is kept already: first use is over */
	return kt_kv_put(t, KT_META, p->name, kl, p->v, sizeof p->v, err);
}

int keten_node_pin_set(keten_ledger *L, const char *url, const uint8_t key[32], bool first_use, keten_error *err)
{
	char name[sizeof PIN_PREFIX + KETEN_NODE_URL_MAX];
	struct pin_put p = {.name = name, .first_use = first_use};

	if (!keten_node_url_ok(url))
		return keten_fail(err, KETEN_EINVAL, "'%s' is not a tcp://, tls+tcp:// or ipc:// URL", url ? url : "");
	if (!key || !keten_key_valid(key))
		return keten_fail(err, KETEN_EINVAL, "not a valid Ed25519 public key");
	snprintf(name, sizeof name, PIN_PREFIX "%s", url);
	p.v[0] = first_use ? KETEN_PIN_FIRST_USE : KETEN_PIN_SET;
	memcpy(p.v + 1, key, 32);
	return kt_store_write(keten_ledger_store(L), pin_put_fn, &p, err);
}

int keten_node_pin_get(keten_ledger *L, const char *url, uint8_t key[32], keten_pin_kind *kind, keten_error *err)
{
	char name[sizeof PIN_PREFIX + KETEN_NODE_URL_MAX];
	const uint8_t *v;
	size_t n;
	keten_txn *t;
	int rc;

	*kind = KETEN_PIN_NONE;
	memset(key, 0, 32);
	if (!url || strlen(url) >= KETEN_NODE_URL_MAX)
		return keten_fail(err, KETEN_ENOTFOUND, "no key kept for that URL");
	snprintf(name, sizeof name, PIN_PREFIX "%s", url);
	if ((rc = keten_store_read(keten_ledger_store(L), &t, err)))
		return rc;
	rc = kt_kv_get(t, KT_META, name, strlen(name), (const void **)&v, &n, err);
	if (rc == KETEN_OK && (n != 33 || (v[0] != KETEN_PIN_SET && v[0] != KETEN_PIN_FIRST_USE)))
		rc = keten_fail(err, KETEN_ENOTFOUND, "no key kept for '%s'", url);
	if (rc == KETEN_OK) {
		*kind = (keten_pin_kind)v[0];
		memcpy(key, v + 1, 32);
	}
	keten_txn_end(t);
	return rc;
}

int keten_node_peer_add(keten_ledger *L, const char *url, keten_error *err)
{
	return peer_put(L, url, true, err);
}

int keten_node_peer_remove(keten_ledger *L, const char *url, keten_error *err)
{
	return peer_put(L, url, false, err);
}

struct peer_list {
	char **urls;
	size_t n, pre;
};

static int peer_list_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *ctx)
{
	struct peer_list *pl = ctx;
	size_t pre = pl->pre;
	if (kl <= pre || pl->n >= MAX_URLS)
		return 0;
	if (!(pl->urls[pl->n] = strndup((const char *)k + pre, kl - pre)))
		return -1;
	pl->n++;
	return 0;
}

/* The URLs under meta prefix pre ("peer." or "pin."), in URL order. */
static int url_list(keten_ledger *L, const char *pre, char ***urls, size_t *n, keten_error *err)
{
	struct peer_list pl = {calloc(MAX_URLS, sizeof(char *)), 0, strlen(pre)};
	keten_txn *t;
	int rc;

	*urls = NULL;
	*n = 0;
	if (!pl.urls)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	rc = keten_store_read(keten_ledger_store(L), &t, err);
	if (rc == 0) {
		rc = kt_kv_scan(t, KT_META, pre, pl.pre, peer_list_cb, &pl, err);
		keten_txn_end(t);
	}
	if (rc) {
		keten_node_peers_free(pl.urls, pl.n);
		return rc == KETEN_EINVAL ? keten_fail(err, KETEN_ENOMEM, NULL) : (keten_err)rc;
	}
	*urls = pl.urls;
	*n = pl.n;
	return KETEN_OK;
}

int keten_node_peers(keten_ledger *L, char ***urls, size_t *n, keten_error *err)
{
	return url_list(L, PEER_PREFIX, urls, n, err);
}

int keten_node_pinned(keten_ledger *L, char ***urls, size_t *n, keten_error *err)
{
	return url_list(L, PIN_PREFIX, urls, n, err);
}

void keten_node_peers_free(char **urls, size_t n)
{
	if (!urls)
		return;
	for (size_t i = 0; i < n; i++)
		free(urls[i]);
	free(urls);
}

int keten_node_tls_set(keten_ledger *L, const keten_tls_files *set, keten_error *err)
{
	const char *val[3] = {set->cert, set->key, set->ca};
	char abs[3][PATH_MAX];
	struct meta_put m = {.n = 0};

	for (int i = 0; i < 3; i++) {
		if (!val[i])
			continue;
		m.name[m.n] = tls_names[i];
		m.value[m.n] = NULL;
		if (val[i][0]) {
			if (!realpath(val[i], abs[i]))
				return keten_fail(err, KETEN_ENOTFOUND, "cannot read '%s': %s", val[i],
				                  strerror(errno));
			m.value[m.n] = abs[i];
			m.vlen[m.n] = strlen(abs[i]) + 1;
		}
		m.n++;
	}
	return m.n ? kt_store_write(keten_ledger_store(L), meta_put_fn, &m, err) : KETEN_OK;
}

/* dst: the given name when there is one, else the home's record. */
static int tls_pick(keten_txn *t, const char *name, const char *given, char *dst, size_t len, keten_error *err)
{
	const void *v;
	size_t n;
	dst[0] = 0;
	if (given && given[0]) {
		if (strlen(given) >= len)
			return keten_fail(err, KETEN_EINVAL, "the TLS file name '%.40s...' is too long", given);
		snprintf(dst, len, "%s", given);
	} else if (t && kt_kv_get(t, KT_META, name, strlen(name), &v, &n, NULL) == KETEN_OK) {
		snprintf(dst, len, "%.*s", (int)strnlen(v, n), (const char *)v);
	}
	return KETEN_OK;
}

int keten_node_tls(keten_ledger *L, const keten_tls_files *given, keten_tls_config *out, keten_error *err)
{
	const keten_tls_files none = {0};
	keten_txn *t = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if (!given)
		given = &none;
	if (keten_store_read(keten_ledger_store(L), &t, NULL) != KETEN_OK)
		t = NULL; /* no home config to be had: the given names alone */
	if ((rc = tls_pick(t, tls_names[0], given->cert, out->cert, sizeof out->cert, err)) == 0 &&
	    (rc = tls_pick(t, tls_names[1], given->key, out->key, sizeof out->key, err)) == 0)
		rc = tls_pick(t, tls_names[2], given->ca, out->ca, sizeof out->ca, err);
	keten_txn_end(t);
	if (rc) {
		memset(out, 0, sizeof *out);
		return rc;
	}
	out->files.cert = out->cert[0] ? out->cert : NULL;
	out->files.key = out->key[0] ? out->key : NULL;
	out->files.ca = out->ca[0] ? out->ca : NULL;
	return KETEN_OK;
}

/* The loop -------------------------------------------------------------------- */

struct run {
	keten_ledger *L;
	const keten_node_opts *o;
	keten_tls_config tls;
	keten_node *srv;
	char *urls[MAX_URLS];
	size_t n_urls;
	keten_peer *peers[MAX_URLS];
	size_t n_peers;
	double interval, timeout;
	uint64_t own_seq;
	uint8_t cp_last[32];
	bool cp_have;
	double cp_due, next_round;
	long round;
	bool done; /* the last of o->rounds ran: stop after this pass */
};

static void run_log(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void run_log(const struct run *r, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	if (!r->o->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	r->o->log(r->o->log_ctx, line);
}

static int stop_value(const struct run *r)
{
	return r->o->stop ? (int)*r->o->stop : 0;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The seq of this home's own feed head (0 when empty or unreadable). */
static uint64_t own_head(keten_ledger *L)
{
	keten_txn *t;
	uint64_t seq = 0;
	if (keten_store_read(keten_ledger_store(L), &t, NULL) == KETEN_OK) {
		keten_store_head(t, keten_ledger_info(L)->key, &seq, NULL, NULL);
		keten_txn_end(t);
	}
	return seq;
}

static bool have_url(const struct run *r, const char *u)
{
	for (size_t j = 0; j < r->n_urls; j++)
		if (strcmp(r->urls[j], u) == 0)
			return true;
	return false;
}

/* The peers to pull from: those given (bad URLs refused), then the home's. */
static int collect_urls(struct run *r, keten_error *err)
{
	char **kept = NULL;
	size_t n_kept = 0;

	if (r->o->n_peers > MAX_URLS)
		return keten_fail(err, KETEN_EINVAL, "more than %u peers", MAX_URLS);
	for (size_t i = 0; i < r->o->n_peers; i++) {
		if (!keten_node_url_ok(r->o->peers[i]))
			return keten_fail(err, KETEN_EINVAL, "'%s' is not a tcp://, tls+tcp:// or ipc:// URL",
			                  r->o->peers[i] ? r->o->peers[i] : "");
		if (!(r->urls[r->n_urls] = strdup(r->o->peers[i])))
			return keten_fail(err, KETEN_ENOMEM, NULL);
		r->n_urls++;
	}
	if (keten_node_peers(r->L, &kept, &n_kept, NULL) == KETEN_OK) {
		for (size_t i = 0; i < n_kept && r->n_urls < MAX_URLS; i++)
			if (!have_url(r, kept[i])) {
				r->urls[r->n_urls++] = kept[i];
				kept[i] = NULL;
			}
		keten_node_peers_free(kept, n_kept);
	}
	return KETEN_OK;
}

/* Serve, say so, and open a connection to every peer (one that cannot be
 * opened is logged and left out). */
static int open_all(struct run *r, keten_error *err)
{
	const keten_node_opts *o = r->o;
	char line[600];
	size_t u;
	int rc;

	if ((rc = keten_node_tls(r->L, &o->tls, &r->tls, err)))
		return rc;
	if (o->n_listen &&
	    (rc = keten_node_start(r->L, o->listen, o->n_listen, o->limits, &r->tls.files, o->log, o->log_ctx, &r->srv,
	                           err)))
		return rc;
	u = (size_t)snprintf(line, sizeof line, "%s as %s", o->n_listen ? "serving" : "not serving",
	                     keten_ledger_info(r->L)->name);
	for (size_t i = 0; i < o->n_listen; i++)
		u += (size_t)snprintf(line + u, u < sizeof line ? sizeof line - u : 0, "%s %s", i ? "," : " on",
		                      o->listen[i]);
	if (u < sizeof line)
		snprintf(line + u, sizeof line - u, "; pulling from %zu peers", r->n_urls);
	run_log(r, "%s", line);
	for (size_t i = 0; i < r->n_urls; i++) {
		keten_error e = {0};
		if (keten_peer_open(r->L, r->urls[i], false, (int)(r->timeout * 1000), &r->tls.files,
		                    &r->peers[r->n_peers], &e)) {
			run_log(r, "peer %s: %s", r->urls[i], e.msg);
			continue;
		}
		r->n_peers++;
	}
	return KETEN_OK;
}

/* A peer that announced a change: its round is due now. */
static void take_announced(struct run *r, double now)
{
	uint8_t keys[8][32];
	size_t k;
	if (!r->srv || !r->n_peers)
		return;
	k = keten_node_take_announced(r->srv, keys, 8);
	for (size_t i = 0; i < k; i++)
		for (size_t j = 0; j < r->n_peers; j++) {
			uint8_t pk[32];
			if (keten_peer_key(r->peers[j], pk) && memcmp(pk, keys[i], 32) == 0)
				r->next_round = now;
		}
}

/* One round with every peer, one log line for it.  A round falls due
 * every interval with or without peers: o->rounds counts them, so a node
 * that only serves (and checkpoints) stops too. */
static void do_round(struct run *r)
{
	char line[2048];
	size_t u = (size_t)snprintf(line, sizeof line, "round %ld:", r->round);

	for (size_t i = 0; i < r->n_peers && !stop_value(r); i++) {
		keten_sync_stats st = {0};
		keten_error e = {0};
		char what[256];
		if (keten_peer_sync(r->peers[i], &st, &e))
			snprintf(what, sizeof what, "error: %s", e.msg);
		else
			keten_sync_stats_text(&st, what, sizeof what);
		if (u < sizeof line)
			u += (size_t)snprintf(line + u, sizeof line - u, "%s %s: %s", i ? ";" : "",
			                      keten_peer_url(r->peers[i]), what);
	}
	if (r->n_peers)
		run_log(r, "%s", line);
	/* the last round still announces and checkpoints */
	if (r->o->rounds && r->round >= r->o->rounds)
		r->done = true;
	r->round++;
	r->next_round = mono_s() + r->interval;
}

/* Written here (by this node or a command on this home): tell the peers,
 * so those that pull from us need not wait. */
static void do_announce(struct run *r)
{
	size_t told = 0;
	if (!r->n_peers || own_head(r->L) == r->own_seq)
		return;
	r->own_seq = own_head(r->L);
	for (size_t i = 0; i < r->n_peers && !stop_value(r); i++) {
		keten_error e = {0};
		told += keten_peer_announce(r->peers[i], &e) == KETEN_OK;
	}
	run_log(r, "announced seq %llu to %zu of %zu peers", (unsigned long long)r->own_seq, told, r->n_peers);
}

static void do_checkpoint(struct run *r)
{
	uint8_t id[32], zero[32] = {0};
	keten_error e = {0};
	char hex[65];
	size_t feeds = 0;

	if (kt_checkpoint_append(r->L, r->cp_last, r->cp_have, id, &feeds, &e)) {
		run_log(r, "checkpoint failed: %s", e.msg);
	} else if (memcmp(id, zero, 32) != 0) {
		keten_hex(hex, id, 32);
		run_log(r, "checkpoint %.16s over %zu feeds", hex, feeds);
		r->cp_have = true;
	}
	r->cp_due = mono_s() + r->o->checkpoint_s;
}

static void free_urls(struct run *r)
{
	for (size_t i = 0; i < r->n_urls; i++)
		free(r->urls[i]);
	r->n_urls = 0;
}

static void close_all(struct run *r)
{
	int sig = stop_value(r);
	run_log(r, "stopping (%s)", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "done");
	if (r->o->stopping)
		r->o->stopping(r->o->stopping_ctx);
	for (size_t i = 0; i < r->n_peers; i++)
		keten_peer_close(r->peers[i]);
	keten_node_stop(r->srv);
	free_urls(r);
	run_log(r, "stopped");
}

int keten_node_run(keten_ledger *L, const keten_node_opts *o, keten_error *err)
{
	struct run r = {.L = L, .o = o, .round = 1};
	int rc;

	KETEN_ASSERT(L && o);
	r.interval = o->interval_s > 0 ? o->interval_s : 10;
	r.timeout = o->timeout_s > 0 ? o->timeout_s : 5;
	if (!keten_ledger_unlocked(L))
		return keten_fail(err, KETEN_EINVAL, "the home's key is not unlocked");
	if (o->n_listen > MAX_URLS)
		return keten_fail(err, KETEN_EINVAL, "more than %u URLs to listen on", MAX_URLS);
	if ((rc = collect_urls(&r, err)) ||
	    (!o->n_listen && !r.n_urls &&
	     (rc = keten_fail(err, KETEN_EINVAL, "needs a URL to listen on or a peer to pull from")))) {
		free_urls(&r);
		return rc;
	}
	if ((rc = open_all(&r, err))) {
		free_urls(&r);
		return rc;
	}
	/* One loop: a round every interval (or at once when a peer announces),
	 * an announce when this ledger's own feed grew, a checkpoint when due,
	 * and a stop seen within one tick. */
	r.own_seq = own_head(L);
	while (!stop_value(&r) && !r.done) {
		double now = mono_s();
		take_announced(&r, now);
		if (now >= r.next_round)
			do_round(&r);
		do_announce(&r);
		if (o->checkpoint_s > 0 && now >= r.cp_due)
			do_checkpoint(&r);
		if (!r.done) {
			struct timespec ts = {0, TICK_NS};
			nanosleep(&ts, NULL);
		}
	}
	close_all(&r);
	return KETEN_OK;
}
