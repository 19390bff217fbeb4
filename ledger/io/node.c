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
#include "keten/entry.h"
#include "keten/http.h"
#include "keten/node.h"
#include "sync/sync.h"
#include "base/base.h"
#include "io/io.h"
#include "store/kv.h"

/* keten_node_opts.stop points at the volatile sig_atomic_t of a handler. */
_Static_assert(_Generic((sig_atomic_t)0, int : 1, default : 0), "sig_atomic_t is int");

#define PEER_PREFIX "peer."
#define PIN_PREFIX  "pin."
#define MAX_URLS    KETEN_NODE_MAX_URLS
#define TICK_NS     (50 * 1000 * 1000) /* how often the loop looks at the clock and *stop */

static const char *const tls_names[3] = {"tls.cert", "tls.key", "tls.ca"};

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
	keten_node_conf *conf;     /* the config in use (NULL: none) */
	keten_node_conf *conf0;    /* the one read at start: what is served comes from it */
	const char *const *listen; /* what is served: o's, else the config's at start */
	const char *listen_v[MAX_URLS];
	size_t n_listen;
	keten_tls_config tls, srv_tls; /* the TLS files in use, and those the server took */
	keten_node *srv;
	keten_http_server *dash;
	char *tokbuf;
	const char **tokens;
	char *urls[MAX_URLS];
	size_t n_urls;
	keten_peer *peers[MAX_URLS];
	size_t n_peers;
	double interval, timeout, checkpoint_s;
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

/* The peers to pull from: those given (bad URLs refused), the config's,
 * then the home's. */
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
	for (size_t i = 0; r->conf && i < r->conf->n_peers && r->n_urls < MAX_URLS; i++)
		if (!have_url(r, r->conf->peers[i].url)) {
			if (!(r->urls[r->n_urls] = strdup(r->conf->peers[i].url)))
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

/* The config ------------------------------------------------------------------ */

/* Read o->config into *out (malloc'd; NULL without a config) and check the
 * keys it pins. */
static int conf_load(const struct run *r, keten_node_conf **out, keten_error *err)
{
	keten_node_conf *c;
	int rc;

	*out = NULL;
	if (!r->o->config)
		return KETEN_OK;
	if (!(c = malloc(sizeof *c)))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	rc = keten_node_conf_read(r->o->config, c, err);
	for (size_t i = 0; rc == 0 && i < c->n_peers; i++)
		if (c->peers[i].has_key && !keten_key_valid(c->peers[i].key))
			rc = keten_fail(err, KETEN_EMALFORMED,
			                "%s:%u: the key of [peer %s] is not an Ed25519 public key", r->o->config,
			                c->peers[i].line, c->peers[i].url);
	if (rc) {
		free(c);
		return rc;
	}
	*out = c;
	return KETEN_OK;
}

/* Pin the keys the config names (a key pinned another way is replaced). */
static int conf_pin(struct run *r, const keten_node_conf *c, keten_error *err)
{
	int rc = KETEN_OK;
	for (size_t i = 0; c && rc == 0 && i < c->n_peers; i++) {
		uint8_t key[32];
		keten_pin_kind kind;
		const keten_node_conf_peer *p = &c->peers[i];
		if (!p->has_key ||
		    (keten_node_pin_get(r->L, p->url, key, &kind, NULL) == KETEN_OK && kind == KETEN_PIN_SET &&
		     memcmp(key, p->key, 32) == 0))
			continue;
		rc = keten_node_pin_set(r->L, p->url, p->key, false, err);
	}
	return rc;
}

/* The intervals: the caller's, else the config's, else the defaults. */
static void settings(struct run *r)
{
	const keten_node_opts *o = r->o;
	const keten_node_conf *c = r->conf;
	r->interval = o->interval_s > 0 ? o->interval_s : c && c->interval_s > 0 ? c->interval_s : 10;
	r->timeout = o->timeout_s > 0 ? o->timeout_s : c && c->timeout_s > 0 ? c->timeout_s : 5;
	r->checkpoint_s = o->checkpoint_s > 0 ? o->checkpoint_s : c ? c->checkpoint_s : 0;
}

/* The TLS files: the caller's, else the config's, else the home's. */
static int tls_files(const struct run *r, const keten_node_conf *c, keten_tls_config *out, keten_error *err)
{
	const keten_tls_files *t = &r->o->tls;
	keten_tls_files g = {
		.cert = t->cert               ? t->cert
			: c && c->tls_cert[0] ? c->tls_cert
					      : NULL,
		.key = t->key                ? t->key
			: c && c->tls_key[0] ? c->tls_key
					     : NULL,
		.ca = t->ca                 ? t->ca
			: c && c->tls_ca[0] ? c->tls_ca
					    : NULL,
	};
	return keten_node_tls(r->L, &g, out, err);
}

/* The files view of t pointing into t itself (after a copy). */
static void tls_fix(keten_tls_config *t)
{
	t->files.cert = t->cert[0] ? t->cert : NULL;
	t->files.key = t->key[0] ? t->key : NULL;
	t->files.ca = t->ca[0] ? t->ca : NULL;
}

static bool same_tls(const keten_tls_config *a, const keten_tls_config *b, bool server)
{
	return strcmp(a->cert, b->cert) == 0 && strcmp(a->key, b->key) == 0 && (server || strcmp(a->ca, b->ca) == 0);
}

/* The dashboard of the config's [dashboard], beside the node. */
static int dash_start(struct run *r, keten_error *err)
{
	const keten_node_conf *c = r->conf;
	keten_http_opts ho = {0};
	size_t n = 0;
	int rc;

	if (!c || !c->dashboard.listen[0])
		return KETEN_OK;
	ho.allow_public = c->dashboard.public_;
	ho.tls_cert = c->dashboard.cert[0] ? c->dashboard.cert : NULL;
	ho.tls_key = c->dashboard.key[0] ? c->dashboard.key : NULL;
	ho.client_ca = c->dashboard.client_ca[0] ? c->dashboard.client_ca : NULL;
	if (c->dashboard.tokens[0] && (rc = kt_tokens_read(c->dashboard.tokens, &r->tokbuf, &r->tokens, &n, err)))
		return rc;
	ho.tokens = r->tokens;
	ho.n_tokens = n;
	if ((rc = keten_http_start(r->L, c->dashboard.listen, &ho, &r->dash, err)))
		return rc;
	run_log(r, "dashboard at %s/ (read-only)", keten_http_url(r->dash));
	return KETEN_OK;
}

static void dash_stop(struct run *r)
{
	keten_http_stop(r->dash);
	r->dash = NULL;
	if (r->tokbuf)
		memset(r->tokbuf, 0, strlen(r->tokbuf));
	free(r->tokbuf);
	free(r->tokens);
	r->tokbuf = NULL;
	r->tokens = NULL;
}

/* Open a connection to url into r->peers; false (logged) when it cannot be. */
static bool peer_open(struct run *r, const char *url)
{
	keten_error e = {0};
	if (keten_peer_open(r->L, url, false, (int)(r->timeout * 1000), &r->tls.files, &r->peers[r->n_peers], &e)) {
		run_log(r, "peer %s: %s", url, e.msg);
		return false;
	}
	r->n_peers++;
	return true;
}

/* Serve, say so, and open a connection to every peer (one that cannot be
 * opened is logged and left out). */
static int open_all(struct run *r, keten_error *err)
{
	char line[600];
	size_t u;
	int rc;

	if ((rc = tls_files(r, r->conf, &r->tls, err)))
		return rc;
	r->srv_tls = r->tls;
	tls_fix(&r->srv_tls);
	if (r->n_listen &&
	    (rc = keten_node_start(r->L, r->listen, r->n_listen, r->o->limits, &r->tls.files, r->o->log, r->o->log_ctx,
	                           &r->srv, err)))
		return rc;
	u = (size_t)snprintf(line, sizeof line, "%s as %s", r->n_listen ? "serving" : "not serving",
	                     keten_ledger_info(r->L)->name);
	for (size_t i = 0; i < r->n_listen; i++)
		u += (size_t)snprintf(line + u, u < sizeof line ? sizeof line - u : 0, "%s %s", i ? "," : " on",
		                      r->listen[i]);
	if (u < sizeof line)
		snprintf(line + u, sizeof line - u, "; pulling from %zu peers", r->n_urls);
	run_log(r, "%s", line);
	if ((rc = dash_start(r, err)))
		return rc;
	for (size_t i = 0; i < r->n_urls; i++)
		peer_open(r, r->urls[i]);
	return KETEN_OK;
}

/* Reload ------------------------------------------------------------------------ */

/* Connections to the peers now collected: those kept open when the TLS
 * files did not change, the others opened (a new one's round is due at
 * once), the ones gone closed.  *added and *gone count them. */
static void repeer(struct run *r, bool tls_changed, size_t *added, size_t *gone)
{
	keten_peer *old[MAX_URLS];
	size_t n_old = r->n_peers;

	memcpy(old, r->peers, n_old * sizeof *old);
	r->n_peers = 0;
	*added = *gone = 0;
	for (size_t i = 0; i < r->n_urls; i++) {
		keten_peer *p = NULL;
		for (size_t j = 0; j < n_old && !p && !tls_changed; j++)
			if (old[j] && strcmp(keten_peer_url(old[j]), r->urls[i]) == 0) {
				p = old[j];
				old[j] = NULL;
			}
		if (p) {
			r->peers[r->n_peers++] = p;
		} else if (peer_open(r, r->urls[i])) {
			(*added)++;
			r->next_round = mono_s();
		}
	}
	for (size_t j = 0; j < n_old; j++)
		if (old[j]) {
			keten_peer_close(old[j]);
			(*gone)++;
		}
}

/* Log what the reload cannot change until a restart. */
static void restart_notes(struct run *r, const keten_node_conf *c)
{
	const keten_node_conf *c0 = r->conf0;
	bool listen_changed = false, dash_changed;

	if (!r->o->n_listen) {
		listen_changed = (c ? c->n_listen : 0) != r->n_listen;
		for (size_t i = 0; !listen_changed && i < r->n_listen; i++)
			listen_changed = strcmp(c->listen[i], r->listen[i]) != 0;
	}
	if (listen_changed)
		run_log(r, "reload: the listen URLs changed: a restart serves them (serving as before meanwhile)");
	if (r->srv && !same_tls(&r->tls, &r->srv_tls, true))
		run_log(r, "reload: the server's TLS certificate or key changed: a restart takes them up");
	if (c && c0)
		dash_changed = memcmp(&c->dashboard, &c0->dashboard, sizeof c->dashboard) != 0;
	else
		dash_changed = (c && c->dashboard.listen[0]) || (c0 && c0->dashboard.listen[0]);
	if (dash_changed)
		run_log(r, "reload: the [dashboard] changed: a restart takes it up");
}

static void free_urls(struct run *r);

/* Reread the config and the home's peers and TLS files (o->reload). */
static void do_reload(struct run *r)
{
	keten_node_conf *c = NULL, *prev = r->conf;
	keten_tls_config tls;
	keten_error e = {0};
	size_t added, gone;
	bool tls_changed;

	*r->o->reload = 0;
	if (conf_load(r, &c, &e) || tls_files(r, c, &tls, &e) || conf_pin(r, c, &e)) {
		run_log(r, "reload refused: %s; the configuration in use is kept", e.msg);
		free(c);
		return;
	}
	tls_changed = !same_tls(&tls, &r->tls, false);
	r->conf = c;
	r->tls = tls;
	tls_fix(&r->tls);
	settings(r);
	free_urls(r);
	if (collect_urls(r, &e))
		run_log(r, "reload: %s", e.msg);
	repeer(r, tls_changed, &added, &gone);
	restart_notes(r, c);
	if (prev != r->conf0)
		free(prev);
	if (r->next_round > mono_s() + r->interval)
		r->next_round = mono_s() + r->interval;
	run_log(r, "reloaded %s: pulling from %zu peers (%zu new, %zu gone%s), every %g s",
	        r->o->config ? r->o->config : "the home's peers", r->n_peers, added, gone,
	        tls_changed ? ", TLS files changed" : "", r->interval);
}

/* Rounds ------------------------------------------------------------------------ */

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

/* One round with every peer, one log line for it: each peer's figures,
 * then the totals as key=value.  A round falls due every interval with or
 * without peers: o->rounds counts them, so a node that only serves (and
 * checkpoints) stops too. */
static void do_round(struct run *r)
{
	char line[2048];
	double t0 = mono_s();
	size_t u = (size_t)snprintf(line, sizeof line, "round %ld:", r->round), ok = 0, failed = 0;
	keten_sync_stats sum = {0};

	for (size_t i = 0; i < r->n_peers && !stop_value(r); i++) {
		keten_sync_stats st = {0};
		keten_error e = {0};
		char what[256];
		if (keten_peer_sync(r->peers[i], &st, &e)) {
			snprintf(what, sizeof what, "error: %s", e.msg);
			failed++;
		} else {
			keten_sync_stats_text(&st, what, sizeof what);
			ok++;
			sum.entries += st.entries;
			sum.stubs += st.stubs;
			sum.forks += st.forks;
			sum.pending += st.pending;
		}
		if (u < sizeof line)
			u += (size_t)snprintf(line + u, sizeof line - u, "%s %s: %s", i ? ";" : "",
			                      keten_peer_url(r->peers[i]), what);
	}
	if (r->n_peers)
		run_log(r, "%.1800s; ok=%zu failed=%zu entries=%zu stubs=%zu forks=%zu pending=%zu ms=%.0f", line, ok,
		        failed, sum.entries, sum.stubs, sum.forks, sum.pending, (mono_s() - t0) * 1000);
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
	r->cp_due = mono_s() + r->checkpoint_s;
}

static void free_urls(struct run *r)
{
	for (size_t i = 0; i < r->n_urls; i++)
		free(r->urls[i]);
	r->n_urls = 0;
}

static void free_conf(struct run *r)
{
	if (r->conf != r->conf0)
		free(r->conf);
	free(r->conf0);
	r->conf = r->conf0 = NULL;
}

static void close_all(struct run *r)
{
	int sig = stop_value(r);
	run_log(r, "stopping (%s)", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "done");
	if (r->o->stopping)
		r->o->stopping(r->o->stopping_ctx);
	dash_stop(r);
	for (size_t i = 0; i < r->n_peers; i++)
		keten_peer_close(r->peers[i]);
	keten_node_stop(r->srv);
	free_urls(r);
	run_log(r, "stopped");
}

/* Everything keten_node_run needs before its loop: the config, the
 * settings, the peers; a failure undoes what was done. */
static int run_start(struct run *r, keten_error *err)
{
	const keten_node_opts *o = r->o;
	int rc;

	if (!keten_ledger_unlocked(r->L))
		return keten_fail(err, KETEN_EINVAL, "the home's key is not unlocked");
	if (o->n_listen > MAX_URLS)
		return keten_fail(err, KETEN_EINVAL, "more than %u URLs to listen on", MAX_URLS);
	if ((rc = conf_load(r, &r->conf0, err)) || (rc = conf_pin(r, r->conf0, err)))
		return rc;
	r->conf = r->conf0;
	settings(r);
	r->listen = o->listen;
	r->n_listen = o->n_listen;
	if (!o->n_listen && r->conf) {
		for (size_t i = 0; i < r->conf->n_listen; i++)
			r->listen_v[i] = r->conf->listen[i];
		r->listen = r->listen_v;
		r->n_listen = r->conf->n_listen;
	}
	if ((rc = collect_urls(r, err)) ||
	    (!r->n_listen && !r->n_urls &&
	     (rc = keten_fail(err, KETEN_EINVAL, "needs a URL to listen on or a peer to pull from"))) ||
	    (rc = open_all(r, err))) {
		dash_stop(r);
		for (size_t i = 0; i < r->n_peers; i++)
			keten_peer_close(r->peers[i]);
		keten_node_stop(r->srv);
		free_urls(r);
		free_conf(r);
	}
	return rc;
}

int keten_node_run(keten_ledger *L, const keten_node_opts *o, keten_error *err)
{
	struct run r = {.L = L, .o = o, .round = 1};
	int rc;

	KETEN_ASSERT(L && o);
	if ((rc = run_start(&r, err)))
		return rc;
	/* One loop: a round every interval (or at once when a peer announces),
	 * an announce when this ledger's own feed grew, a checkpoint when due,
	 * a reload when asked, and a stop seen within one tick. */
	r.own_seq = own_head(L);
	while (!stop_value(&r) && !r.done) {
		double now = mono_s();
		if (o->reload && *o->reload)
			do_reload(&r);
		take_announced(&r, now);
		if (now >= r.next_round)
			do_round(&r);
		do_announce(&r);
		if (r.checkpoint_s > 0 && now >= r.cp_due)
			do_checkpoint(&r);
		if (!r.done) {
			struct timespec ts = {0, TICK_NS};
			nanosleep(&ts, NULL);
		}
	}
	close_all(&r);
	free_conf(&r);
	return KETEN_OK;
}
