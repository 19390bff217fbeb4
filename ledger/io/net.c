/*
 * net.c — nng transport for the sync protocol: a rep0 server with a pool
 * of contexts, one protocol session per nng pipe (bound to the pipe's
 * transport, sharing one keten_sync_guard of per-key limits), a cap on
 * connections (a pipe over it is closed as it arrives) and a reaper that
 * closes pipes that do not authenticate in time or stay idle; and a req0
 * peer connection that drives a keten_sync_client round by round, with
 * the server key pinned for its URL (node.c keeps the pins) or recorded
 * on first use.  Nothing here decides what to send: ledger/sync/ does.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <sodium.h>

#include "keten/keten.h"
#include "keten/net.h"
#include "keten/node.h"
#include "sync/sync.h"
#include "base/base.h"

#define WORKERS         8
#define SERVER_RECVMAX  (1024u * 1024u)
#define CLIENT_RECVMAX  (KETEN_SYNC_MAX_REPLY + 64u * 1024u)
#define LOG_PER_SESSION 4   /* bad requests logged per session before going quiet */
#define REAP_MS         200 /* how often the reaper looks at the pipes */
#define REAP_MAX        64  /* pipes closed per look */

/* keten_sync_client_lock's hook: the client takes its peer's mutex
 * around its own use of the ledger, which lets it store a full batch on
 * a thread of its own while this one fetches the next replies.  LMDB's
 * map growth needs no lock here: the store's gate keeps it safe. */
static void client_lock_fn(void *ctx, bool on)
{
	if (on)
		pthread_mutex_lock(ctx);
	else
		pthread_mutex_unlock(ctx);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Server ------------------------------------------------------------------- */

struct session {
	uint32_t pipe;
	nng_pipe p;
	pthread_mutex_t mu;
	keten_sync_session s;
	unsigned logged;
	int64_t opened_ms, last_ms; /* for the reaper (under the node's mu) */
	bool closing;
	struct session *next;
};

struct worker {
	keten_node *node;
	nng_aio *aio;
	nng_ctx ctx;
	bool sending;
};

struct keten_node {
	keten_ledger *L;
	nng_socket sock;
	bool open;
	keten_sync_limits lim;
	keten_log_fn log;
	void *log_ctx;
	pthread_mutex_t mu; /* sessions list and counters */
	struct session *sessions;
	size_t n_sessions;
	struct worker w[WORKERS];
	uint64_t requests, dropped, refused, reaped;
	keten_sync_guard *guard;
	nng_aio *reap;
	uint8_t (*announced)[32]; /* keys that announced a change, not yet taken */
	size_t n_announced;
	volatile bool stopping;
};

#define MAX_ANNOUNCED 64

static void node_log(keten_node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void node_log(keten_node *n, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	if (!n->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	n->log(n->log_ctx, line);
}

/* A new session for pipe p (the node's mu held). */
static struct session *session_new(keten_node *n, nng_pipe p)
{
	struct session *s = calloc(1, sizeof *s);
	bool verified;
	if (!s)
		return NULL;
	s->pipe = (uint32_t)nng_pipe_id(p);
	s->p = p;
	pthread_mutex_init(&s->mu, NULL);
	s->opened_ms = s->last_ms = mono_ms();
	keten_sync_session_init(&s->s, &n->lim, s->opened_ms);
	s->s.guard = n->guard;
	/* a pipe that answers the TLS option came over TLS */
	keten_sync_session_bind(&s->s, nng_pipe_get_bool(p, NNG_OPT_TLS_VERIFIED, &verified) == 0 ? "tls" : NULL);
	s->next = n->sessions;
	n->sessions = s;
	n->n_sessions++;
	return s;
}

/* Find (or make) the session of a pipe; returned locked. */
static struct session *session_get(keten_node *n, nng_pipe p)
{
	uint32_t pipe = (uint32_t)nng_pipe_id(p);
	struct session *s;
	pthread_mutex_lock(&n->mu);
	for (s = n->sessions; s && s->pipe != pipe; s = s->next)
		;
	if (!s)
		s = session_new(n, p);
	if (s)
		s->last_ms = mono_ms();
	if (s)
		pthread_mutex_lock(&s->mu);
	pthread_mutex_unlock(&n->mu);
	return s;
}

static void session_free(struct session *s)
{
	keten_sync_session_end(&s->s);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* A pipe arrives: over the cap it is closed at once, else it gets its
 * session (and its clock for the reaper). */
static void pipe_added(nng_pipe p, nng_pipe_ev ev KT_UNUSED, void *arg)
{
	keten_node *n = arg;
	bool over;
	pthread_mutex_lock(&n->mu);
	over = n->n_sessions >= n->lim.max_conns || !session_new(n, p);
	if (over)
		n->refused++;
	pthread_mutex_unlock(&n->mu);
	if (over)
		nng_pipe_close(p);
}

static void pipe_gone(nng_pipe p, nng_pipe_ev ev KT_UNUSED, void *arg)
{
	keten_node *n = arg;
	uint32_t id = (uint32_t)nng_pipe_id(p);
	struct session **pp, *s = NULL;
	pthread_mutex_lock(&n->mu);
	for (pp = &n->sessions; *pp; pp = &(*pp)->next)
		if ((*pp)->pipe == id) {
			s = *pp;
			*pp = s->next;
			n->n_sessions--;
			break;
		}
	if (s) {
		/* wait for a worker still serving it */
		pthread_mutex_lock(&s->mu);
		pthread_mutex_unlock(&s->mu);
		session_free(s);
	}
	pthread_mutex_unlock(&n->mu);
}

/* Close the pipes that did not authenticate in time or stay idle. */
static void reap_cb(void *arg)
{
	keten_node *n = arg;
	nng_pipe close[REAP_MAX];
	int64_t now = mono_ms();
	size_t k = 0;

	if (n->stopping || nng_aio_result(n->reap) == NNG_ECANCELED)
		return;
	pthread_mutex_lock(&n->mu);
	for (struct session *s = n->sessions; s && k < REAP_MAX; s = s->next) {
		/* the session's state is read without its lock: a stale view
		 * only closes a pipe one look later or sooner */
		bool authed = s->s.state == KETEN_SYNC_AUTHED;
		if (s->closing ||
		    ((authed || now - s->opened_ms <= n->lim.handshake_ms) && now - s->last_ms <= n->lim.idle_ms))
			continue;
		s->closing = true;
		close[k++] = s->p;
	}
	n->reaped += k;
	pthread_mutex_unlock(&n->mu);
	for (size_t i = 0; i < k; i++)
		nng_pipe_close(close[i]);
	if (k)
		node_log(n, "closed %zu connections that did not authenticate within %u ms or were idle %u ms", k,
		         n->lim.handshake_ms, n->lim.idle_ms);
	if (!n->stopping)
		nng_sleep_aio(REAP_MS, n->reap);
}

static void worker_recv(struct worker *w)
{
	w->sending = false;
	if (!w->node->stopping)
		nng_ctx_recv(w->ctx, w->aio);
}

/* The session's peer announced a change: keep its key for
 * keten_node_take_announced (once, and at most MAX_ANNOUNCED). */
static void note_announced(keten_node *n, struct session *s)
{
	bool seen = false;
	if (!s->s.announced)
		return;
	s->s.announced = false;
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < n->n_announced; i++)
		seen = seen || memcmp(n->announced[i], s->s.peer, 32) == 0;
	if (!seen && n->n_announced < MAX_ANNOUNCED)
		memcpy(n->announced[n->n_announced++], s->s.peer, 32);
	pthread_mutex_unlock(&n->mu);
}

/* Answer one request on its session (returned unlocked); the reply into
 * msg, false when there is none to send (msg freed). */
static bool serve_msg(keten_node *n, struct session *s, nng_msg *msg, nng_pipe pipe)
{
	keten_error note = {0};
	uint8_t *reply = NULL;
	size_t rlen = 0;
	char who[20], hex[65];
	int rc = keten_sync_serve(n->L, &s->s, &n->lim, mono_ms(), nng_msg_body(msg), nng_msg_len(msg), &reply, &rlen,
	                          &note);

	note_announced(n, s);
	if (rc != KETEN_OK && s->logged < LOG_PER_SESSION) {
		s->logged++;
		keten_hex(hex, s->s.peer, 32);
		snprintf(who, sizeof who, "%.16s", s->s.peer[0] || s->s.peer[1] ? hex : "?");
		node_log(n, "pipe %d (key %s): %s", nng_pipe_id(pipe), who, note.msg);
	}
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_lock(&n->mu);
	n->requests++;
	pthread_mutex_unlock(&n->mu);
	nng_msg_clear(msg);
	if (!reply || nng_msg_append(msg, reply, rlen) != 0) {
		free(reply);
		nng_msg_free(msg);
		return false;
	}
	free(reply);
	return true;
}

static void worker_cb(void *arg)
{
	struct worker *w = arg;
	keten_node *n = w->node;
	nng_msg *msg;
	nng_pipe pipe;
	struct session *s;
	int rc;

	if (w->sending) {
		if (nng_aio_result(w->aio) != 0)
			nng_msg_free(nng_aio_get_msg(w->aio));
		worker_recv(w);
		return;
	}
	rc = nng_aio_result(w->aio);
	if (rc != 0) {
		if (rc != NNG_ECLOSED && rc != NNG_ECANCELED)
			worker_recv(w);
		return;
	}
	msg = nng_aio_get_msg(w->aio);
	pipe = nng_msg_get_pipe(msg);
	s = session_get(n, pipe);
	if (s && s->s.strikes >= KETEN_SYNC_MAX_STRIKES) {
		/* A peer that keeps misbehaving: no more answers, drop the connection. */
		pthread_mutex_unlock(&s->mu);
		pthread_mutex_lock(&n->mu);
		n->dropped++;
		pthread_mutex_unlock(&n->mu);
		node_log(n, "dropped pipe %d after %u bad requests", nng_pipe_id(pipe), KETEN_SYNC_MAX_STRIKES);
		nng_pipe_close(pipe);
		s = NULL;
	}
	if (!s) {
		nng_msg_free(msg);
		worker_recv(w);
		return;
	}
	if (!serve_msg(n, s, msg, pipe)) {
		worker_recv(w);
		return;
	}
	nng_aio_set_msg(w->aio, msg);
	w->sending = true;
	nng_ctx_send(w->ctx, w->aio);
}

static int net_fail(keten_error *err, int nrc, const char *what, const char *url)
{
	return keten_fail(err, nrc == NNG_EADDRINVAL || nrc == NNG_ENOTSUP ? KETEN_EINVAL : KETEN_EIO, "%s '%s': %s",
	                  what, url, nng_strerror(nrc));
}

static void tls_free(nng_tls_config *cfg)
{
	if (cfg)
		nng_tls_config_free(cfg);
}

static bool is_tls(const char *url)
{
	return strncmp(url, "tls+tcp://", 10) == 0;
}

/* The host of tls+tcp://HOST:PORT, for the client's certificate check. */
static void url_host(const char *url, char *host, size_t len)
{
	const char *h = strstr(url, "://"), *end;
	h = h ? h + 3 : url;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = strrchr(h, ':');
	}
	if (!end)
		end = h + strlen(h);
	snprintf(host, len, "%.*s", (int)(end - h), h);
}

/* A whole PEM file as a string (at most 1 MiB), or NULL. */
static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	if (!f)
		return NULL;
	buf = malloc(1024 * 1024 + 1);
	if (buf)
		n = fread(buf, 1, 1024 * 1024, f);
	if (buf && (ferror(f) || n == 1024 * 1024)) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = 0;
	fclose(f);
	return buf;
}

/* A TLS configuration for one endpoint; *out NULL when the URL is not TLS. */
static int tls_config(const char *url, bool server, const keten_tls_files *tls, nng_tls_config **out, keten_error *err)
{
	nng_tls_config *cfg = NULL;
	char host[256];
	int rc;

	*out = NULL;
	if (!is_tls(url))
		return KETEN_OK;
	if (server && (!tls || !tls->cert || !tls->key))
		return keten_fail(err, KETEN_EINVAL, "listening on '%s' needs a TLS certificate and key", url);
	if (!server && (!tls || !tls->ca))
		return keten_fail(err, KETEN_EINVAL, "dialling '%s' needs the CA file that signed its certificate",
		                  url);
	if ((rc = nng_tls_config_alloc(&cfg, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT)))
		return net_fail(err, rc, "cannot set up TLS for", url);
	if (tls->cert && tls->key) {
		char *cert = read_pem(tls->cert), *key = read_pem(tls->key);
		rc = cert && key ? nng_tls_config_own_cert(cfg, cert, key, NULL) : NNG_ENOENT;
		if (key)
			sodium_memzero(key, strlen(key));
		free(cert);
		free(key);
		if (rc)
			goto fail;
	}
	if (tls->ca) {
		if ((rc = nng_tls_config_ca_file(cfg, tls->ca)) ||
		    (rc = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)))
			goto fail;
	}
	if (!server) {
		url_host(url, host, sizeof host);
		if ((rc = nng_tls_config_server_name(cfg, host)))
			goto fail;
	}
	*out = cfg;
	return KETEN_OK;
fail:
	tls_free(cfg);
	return keten_fail(err, KETEN_EIO, "TLS files for '%s' (%s%s%s%s%s): %s", url, tls->cert ? tls->cert : "",
	                  tls->key ? ", " : "", tls->key ? tls->key : "", tls->ca ? ", " : "", tls->ca ? tls->ca : "",
	                  nng_strerror(rc));
}

/* The limits of lim (NULL: the defaults); zero fields of the
 * transport's take their defaults too. */
static void node_limits(keten_node *n, const keten_sync_limits *lim)
{
	keten_sync_limits d;
	keten_sync_limits_default(&d);
	n->lim = lim ? *lim : d;
	if (!n->lim.max_conns)
		n->lim.max_conns = d.max_conns;
	if (!n->lim.handshake_ms)
		n->lim.handshake_ms = d.handshake_ms;
	if (!n->lim.idle_ms)
		n->lim.idle_ms = d.idle_ms;
}

/* A listener on each URL (with its TLS configuration). */
static int node_listen(keten_node *n, const char *const *urls, size_t n_urls, const keten_tls_files *tls,
                       keten_error *err)
{
	for (size_t i = 0; i < n_urls; i++) {
		nng_listener l;
		nng_tls_config *cfg;
		int rc;
		if ((rc = tls_config(urls[i], true, tls, &cfg, err)))
			return rc;
		if ((rc = nng_listener_create(&l, n->sock, urls[i])) ||
		    (cfg && (rc = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg))) ||
		    (rc = nng_listener_start(l, 0))) {
			tls_free(cfg);
			return net_fail(err, rc, "cannot listen on", urls[i]);
		}
		tls_free(cfg); /* the listener holds its own reference */
	}
	return KETEN_OK;
}

int keten_node_start(keten_ledger *L, const char *const *urls, size_t n_urls, const keten_sync_limits *lim,
                     const keten_tls_files *tls, keten_log_fn log, void *log_ctx, keten_node **out, keten_error *err)
{
	keten_node *n;
	int rc;

	*out = NULL;
	if (!keten_ledger_keypair(L))
		return keten_fail(err, KETEN_EINVAL, "the home's key is not unlocked");
	n = calloc(1, sizeof *n);
	if (!n)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	n->L = L;
	n->log = log;
	n->log_ctx = log_ctx;
	node_limits(n, lim);
	pthread_mutex_init(&n->mu, NULL);
	if (!(n->announced = calloc(MAX_ANNOUNCED, 32)) || nng_aio_alloc(&n->reap, reap_cb, n)) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto fail;
	}
	if ((rc = keten_sync_guard_new(&n->lim, 0, &n->guard, err)))
		goto fail;
	if ((rc = nng_rep0_open(&n->sock))) {
		rc = net_fail(err, rc, "cannot open a socket for", urls[0]);
		goto fail;
	}
	n->open = true;
	nng_socket_set_size(n->sock, NNG_OPT_RECVMAXSZ, SERVER_RECVMAX);
	nng_pipe_notify(n->sock, NNG_PIPE_EV_ADD_PRE, pipe_added, n);
	nng_pipe_notify(n->sock, NNG_PIPE_EV_REM_POST, pipe_gone, n);
	for (int i = 0; i < WORKERS; i++) {
		n->w[i].node = n;
		if ((rc = nng_aio_alloc(&n->w[i].aio, worker_cb, &n->w[i])) ||
		    (rc = nng_ctx_open(&n->w[i].ctx, n->sock))) {
			rc = net_fail(err, rc, "cannot make a context for", urls[0]);
			goto fail;
		}
	}
	if ((rc = node_listen(n, urls, n_urls, tls, err)))
		goto fail;
	for (int i = 0; i < WORKERS; i++)
		worker_recv(&n->w[i]);
	nng_sleep_aio(REAP_MS, n->reap);
	*out = n;
	return KETEN_OK;
fail:
	keten_node_stop(n);
	return rc;
}

void keten_node_stop(keten_node *n)
{
	struct session *s, *next;
	if (!n)
		return;
	n->stopping = true;
	if (n->reap)
		nng_aio_stop(n->reap);
	for (int i = 0; i < WORKERS; i++)
		if (n->w[i].aio)
			nng_aio_stop(n->w[i].aio);
	if (n->open)
		nng_close(n->sock);
	for (int i = 0; i < WORKERS; i++)
		nng_aio_free(n->w[i].aio);
	nng_aio_free(n->reap);
	for (s = n->sessions; s; s = next) {
		next = s->next;
		session_free(s);
	}
	keten_sync_guard_free(n->guard);
	pthread_mutex_destroy(&n->mu);
	free(n->announced);
	free(n);
}

uint64_t keten_node_requests(const keten_node *n)
{
	return n->requests;
}

uint64_t keten_node_dropped(const keten_node *n)
{
	return n->dropped;
}

uint64_t keten_node_refused(const keten_node *n)
{
	return n->refused + n->reaped;
}

size_t keten_node_take_announced(keten_node *n, uint8_t (*keys)[32], size_t max)
{
	size_t k;
	pthread_mutex_lock(&n->mu);
	k = n->n_announced < max ? n->n_announced : max;
	memcpy(keys, n->announced, k * 32);
	memmove(n->announced, n->announced + k, (n->n_announced - k) * 32);
	n->n_announced -= k;
	pthread_mutex_unlock(&n->mu);
	return k;
}

/* Peer ------------------------------------------------------------------------ */

struct keten_peer {
	keten_ledger *L;
	pthread_mutex_t mu; /* taken by the sync client itself (client_lock_fn) */
	nng_socket sock;
	char url[512];
	keten_sync_client *c;
	bool pinned; /* a key is expected at this URL (pinned, or first use recorded) */
};

int keten_peer_open(keten_ledger *L, const char *url, bool wait, int timeout_ms, const keten_tls_files *tls,
                    keten_peer **out, keten_error *err)
{
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	keten_peer *p;
	int rc;

	*out = NULL;
	if ((rc = tls_config(url, false, tls, &cfg, err)))
		return rc;
	p = calloc(1, sizeof *p);
	if (!p) {
		tls_free(cfg);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	p->L = L;
	snprintf(p->url, sizeof p->url, "%s", url);
	if ((rc = keten_sync_client_new(L, &p->c, err))) {
		tls_free(cfg);
		free(p);
		return rc;
	}
	pthread_mutex_init(&p->mu, NULL);
	keten_sync_client_lock(p->c, client_lock_fn, &p->mu);
	keten_sync_client_bind(p->c, is_tls(url) ? "tls" : NULL);
	{
		uint8_t key[32];
		keten_pin_kind kind;
		if (keten_node_pin_get(L, url, key, &kind, NULL) == KETEN_OK) {
			keten_sync_client_expect(p->c, key);
			p->pinned = true;
		}
	}
	if ((rc = nng_req0_open(&p->sock))) {
		tls_free(cfg);
		keten_sync_client_free(p->c);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return net_fail(err, rc, "cannot open a socket for", url);
	}
	nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, CLIENT_RECVMAX);
	nng_socket_set_ms(p->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(p->sock, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_socket_set_ms(p->sock, NNG_OPT_REQ_RESENDTIME, timeout_ms * 2);
	nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, 2000);
	if ((rc = nng_dialer_create(&d, p->sock, url)) ||
	    (cfg && (rc = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg))) ||
	    (rc = nng_dialer_start(d, wait ? 0 : NNG_FLAG_NONBLOCK))) {
		tls_free(cfg);
		nng_close(p->sock);
		keten_sync_client_free(p->c);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return net_fail(err, rc, "cannot connect to", url);
	}
	tls_free(cfg);
	*out = p;
	return KETEN_OK;
}

int keten_peer_sync(keten_peer *p, keten_sync_stats *st, keten_error *err)
{
	uint8_t *req = NULL;
	size_t len = 0;
	int rc;

	/* The client takes p->mu itself, only where it reads or writes L,
	 * so that its thread can store a batch while this one fetches. */
	rc = keten_sync_client_begin(p->c, &req, &len, err);
	while (rc == 0 && req) {
		void *buf = NULL;
		size_t blen = 0;
		int nrc;
		if (keten_sync_client_wait_ms(p->c)) {
			uint32_t ms = keten_sync_client_wait_ms(p->c);
			struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		nrc = nng_send(p->sock, req, len, 0);
		free(req);
		req = NULL;
		if (nrc == 0)
			nrc = nng_recv(p->sock, &buf, &blen, NNG_FLAG_ALLOC);
		if (nrc) {
			rc = keten_fail(err, KETEN_EIO, "no answer from '%s': %s", p->url, nng_strerror(nrc));
			keten_sync_client_reset(p->c);
			break;
		}
		rc = keten_sync_client_reply(p->c, buf, blen, &req, &len, err);
		nng_free(buf, blen);
		if (rc)
			keten_sync_client_reset(p->c);
	}
	free(req);
	if (st)
		*st = *keten_sync_client_stats(p->c);
	if (!p->pinned && keten_sync_client_authed(p->c)) {
		/* first use: the key that answered is the one expected from now on */
		uint8_t key[32];
		if (keten_sync_client_server(p->c, key) &&
		    keten_node_pin_set(p->L, p->url, key, true, NULL) == KETEN_OK) {
			keten_sync_client_expect(p->c, key);
			p->pinned = true;
		}
	}
	return rc;
}

int keten_peer_announce(keten_peer *p, keten_error *err)
{
	uint8_t *req = NULL;
	size_t len = 0;
	void *buf = NULL;
	size_t blen = 0;
	int rc, nrc;

	rc = keten_sync_client_announce(p->c, &req, &len, err);
	if (rc)
		return rc;
	nrc = nng_send(p->sock, req, len, 0);
	free(req);
	if (nrc == 0)
		nrc = nng_recv(p->sock, &buf, &blen, NNG_FLAG_ALLOC);
	if (nrc) {
		keten_sync_client_reset(p->c);
		return keten_fail(err, KETEN_EIO, "no answer from '%s': %s", p->url, nng_strerror(nrc));
	}
	rc = keten_sync_client_reply(p->c, buf, blen, &req, &len, err);
	free(req);
	nng_free(buf, blen);
	if (rc)
		keten_sync_client_reset(p->c);
	return rc;
}

const char *keten_peer_url(const keten_peer *p)
{
	return p->url;
}

bool keten_peer_key(const keten_peer *p, uint8_t key[32])
{
	return keten_sync_client_server(p->c, key);
}

void keten_peer_close(keten_peer *p)
{
	if (!p)
		return;
	nng_close(p->sock);
	keten_sync_client_free(p->c);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
