/*
 * httpd.c — a small bounded HTTP/1.1 server on nng's streams, for the
 * dashboard (http.c answers each request), over TCP or, with a TLS
 * configuration on the listener, TLS (tls+tcp://).  nng's own HTTP server
 * has neither a connection cap nor a time limit on a request, so a client
 * could hold as many connections as it liked, each sending a header a
 * byte a minute.  Here: at most max_conns connections (one more is closed
 * as it arrives); the TLS handshake, the request head (at most 16 KiB)
 * and any body (at most 64 KiB: a POST's is kept and handed over with the
 * request, for the login form; any other is read and dropped) must have
 * arrived header_ms after the connection opened, and the answer must be
 * taken within write_ms, or the connection is closed; one request per
 * connection (Connection: close), so no connection idles between
 * requests.  Over TLS a sent answer may still sit in the TLS layer's
 * buffer when the send completes, so the connection waits (reading and
 * dropping, at most LINGER_MS) for the client to close it first.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <nng/nng.h>

#include "io/io.h"
#include "base/base.h"

#define MAX_HEAD  (16u * 1024u)
#define MAX_BODY  KT_HTTPD_MAX_BODY
#define LINGER_MS 5000u

struct conn {
	struct kt_httpd *d;
	nng_stream *s;
	nng_aio *aio;
	int64_t deadline;
	bool writing, lingering, head_only;
	size_t n, body_left;
	char head[MAX_HEAD + 1];
	char drop[4096];  /* body bytes, read and dropped */
	const char *body; /* a POST's body: in head, or body_own */
	size_t body_len;
	char *body_own; /* malloc'd when it did not come with the head */
	char *out;
	size_t out_len, out_done;
	struct conn *next;
};

struct kt_httpd {
	nng_stream_listener *l;
	nng_aio *acc;
	struct kt_httpd_limits lim;
	kt_httpd_fn fn;
	void *ctx;
	bool tls;
	pthread_mutex_t mu;
	pthread_cond_t gone;
	struct conn *conns;
	size_t n_conns;
	uint64_t refused;
	bool stopping;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_free(struct conn *c)
{
	struct kt_httpd *d = c->d;
	struct conn **pp;
	pthread_mutex_lock(&d->mu);
	for (pp = &d->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			d->n_conns--;
			break;
		}
	pthread_cond_broadcast(&d->gone);
	pthread_mutex_unlock(&d->mu);
	nng_stream_close(c->s);
	nng_stream_free(c->s);
	nng_aio_reap(c->aio); /* from its own callback: freed in the background */
	free(c->out);
	free(c->body_own);
	free(c);
}

static void conn_recv(struct conn *c, char *into, size_t room)
{
	nng_iov iov = {into, room};
	int64_t left = c->deadline - mono_ms();
	nng_aio_set_iov(c->aio, 1, &iov);
	nng_aio_set_timeout(c->aio, left > 0 ? (nng_duration)left : 1);
	nng_stream_recv(c->s, c->aio);
}

static void conn_send(struct conn *c)
{
	nng_iov iov = {c->out + c->out_done, c->out_len - c->out_done};
	nng_aio_set_iov(c->aio, 1, &iov);
	nng_aio_set_timeout(c->aio, (nng_duration)c->d->lim.write_ms);
	nng_stream_send(c->s, c->aio);
}

static const char *reason(unsigned status)
{
	switch (status) {
	case 200: return "OK";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default: return status >= 500 ? "Internal Server Error" : "Error";
	}
}

/* The answer r as bytes to send; false when there is no memory. */
static bool conn_answer(struct conn *c, struct kt_http_reply *r)
{
	const void *body = r->owned ? r->owned : r->data;
	size_t blen = r->len, hl;
	char head[2048];

	hl = (size_t)snprintf(
		head, sizeof head,
		"HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
		(unsigned)r->status, reason(r->status), r->type ? r->type : "text/plain; charset=utf-8", blen,
		r->headers);
	KETEN_ASSERT(hl < sizeof head);
	if (c->head_only)
		blen = 0;
	c->out = malloc(hl + blen + 1);
	if (c->out) {
		memcpy(c->out, head, hl);
		if (blen)
			memcpy(c->out + hl, body, blen);
		c->out_len = hl + blen;
	}
	free(r->owned);
	r->owned = NULL;
	return c->out != NULL;
}

/* A bare answer of the server's own (a head that cannot be parsed, or
 * too large). */
static bool conn_status(struct conn *c, uint16_t status)
{
	struct kt_http_reply r = {.status = status, .type = "text/plain; charset=utf-8"};
	r.data = reason(status);
	r.len = strlen(r.data);
	return conn_answer(c, &r);
}

/* The value of header name in the head (lines after the first), without
 * the blanks around it, and its length into *vlen; NULL when absent. */
static char *header(char *head, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	for (char *p = strstr(head, "\r\n"); p && p[2] && !(p[2] == '\r' && p[3] == '\n'); p = strstr(p + 2, "\r\n")) {
		char *v = p + 2, *e;
		if (strncasecmp(v, name, nl) != 0 || v[nl] != ':')
			continue;
		v += nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!(e = strstr(v, "\r\n")))
			e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*vlen = (size_t)(e - v);
		return v;
	}
	return NULL;
}

/* The head is complete (at its blank line): parse it and answer. */
static bool conn_request(struct conn *c)
{
	static const char *const names[] = {"Host", "Authorization", "Cookie"};
	struct kt_http_reply r = {0};
	struct kt_http_req q = {.body = c->body, .body_len = c->body_len};
	char method[16], uri[4096], version[16] = "", *v[KT_COUNT(names)];
	size_t vlen[KT_COUNT(names)];

	if (sscanf(c->head, "%15s %4095s %15s", method, uri, version) != 3 || strncmp(version, "HTTP/1.", 7) != 0)
		return conn_status(c, strncmp(version, "HTTP/", 5) == 0 ? 505 : 400);
	for (size_t i = 0; i < KT_COUNT(names); i++)
		v[i] = header(c->head, names[i], &vlen[i]);
	for (size_t i = 0; i < KT_COUNT(names); i++)
		if (v[i])
			v[i][vlen[i]] = 0; /* cut in place, once all are found */
	if (!v[0] && strcmp(version, "HTTP/1.1") == 0)
		return conn_status(c, 400);
	q.method = method;
	q.uri = uri;
	q.host = v[0];
	q.authorization = v[1];
	q.cookie = v[2];
	c->head_only = strcmp(method, "HEAD") == 0;
	c->d->fn(c->d->ctx, &q, &r);
	KETEN_ASSERT(r.status >= 100 && r.status < 600);
	return conn_answer(c, &r);
}

/* How much body follows the head (Content-Length); SIZE_MAX when too much
 * or not a number. */
static size_t body_length(char *head)
{
	char cl[32], *v, *end;
	unsigned long long n;
	size_t vlen;
	if (!(v = header(head, "Content-Length", &vlen)))
		return 0;
	if (vlen >= sizeof cl)
		return SIZE_MAX;
	memcpy(cl, v, vlen);
	cl[vlen] = 0;
	n = strtoull(cl, &end, 10);
	return *end || n > MAX_BODY ? SIZE_MAX : (size_t)n;
}

/* On with the body: a POST's into body_own, any other into drop. */
static void body_recv(struct conn *c)
{
	if (c->body_own)
		conn_recv(c, c->body_own + (c->body_len - c->body_left), c->body_left);
	else
		conn_recv(c, c->drop, c->body_left < sizeof c->drop ? c->body_left : sizeof c->drop);
}

/* Bytes arrived while reading the head: on to the body, the answer, or more. */
static void conn_head(struct conn *c, size_t got)
{
	char *end;
	bool ok = true;
	c->n += got;
	c->head[c->n] = 0;
	if (!(end = strstr(c->head, "\r\n\r\n"))) {
		if (c->n == MAX_HEAD) {
			ok = conn_status(c, 431);
			c->writing = true;
		} else {
			conn_recv(c, c->head + c->n, MAX_HEAD - c->n);
			return;
		}
	} else {
		char *rest = end + 4;
		size_t have = c->n - (size_t)(rest - c->head), want = body_length(c->head);
		bool post = strncmp(c->head, "POST ", 5) == 0;
		end[2] = 0; /* the head alone, ending in one CRLF */
		if (want == SIZE_MAX) {
			ok = conn_status(c, 413);
		} else if (want > have) {
			c->body_left = want - have;
			if (post) {
				if (!(c->body_own = malloc(want))) {
					conn_free(c);
					return;
				}
				memcpy(c->body_own, rest, have);
				c->body = c->body_own;
				c->body_len = want;
			}
			body_recv(c);
			return;
		} else {
			if (post) {
				c->body = rest;
				c->body_len = want;
			}
			ok = conn_request(c);
		}
		c->writing = true;
	}
	if (ok)
		conn_send(c);
	else
		conn_free(c);
}

static void conn_cb(void *arg)
{
	struct conn *c = arg;
	size_t got = nng_aio_count(c->aio);

	if (nng_aio_result(c->aio) != 0 || c->d->stopping) {
		if (!c->writing && nng_aio_result(c->aio) == NNG_ETIMEDOUT) {
			pthread_mutex_lock(&c->d->mu);
			c->d->refused++;
			pthread_mutex_unlock(&c->d->mu);
		}
		conn_free(c);
		return;
	}
	if (c->lingering) {
		conn_recv(c, c->drop, sizeof c->drop); /* dropped, until the client closes */
		return;
	}
	if (c->writing) {
		c->out_done += got;
		if (c->out_done < c->out_len) {
			conn_send(c);
		} else if (c->d->tls) {
			c->lingering = true;
			c->deadline = mono_ms() + (c->d->lim.write_ms < LINGER_MS ? c->d->lim.write_ms : LINGER_MS);
			conn_recv(c, c->drop, sizeof c->drop);
		} else {
			conn_free(c);
		}
		return;
	}
	if (c->body_left) {
		/* the body: a POST's kept, any other dropped; the head keeps its bytes */
		c->body_left -= got < c->body_left ? got : c->body_left;
		if (c->body_left) {
			body_recv(c);
			return;
		}
		c->writing = true;
		if (conn_request(c))
			conn_send(c);
		else
			conn_free(c);
		return;
	}
	conn_head(c, got);
}

static void accept_cb(void *arg)
{
	struct kt_httpd *d = arg;
	nng_stream *s;
	struct conn *c = NULL;
	bool over;

	if (nng_aio_result(d->acc) != 0) {
		if (!d->stopping && nng_aio_result(d->acc) != NNG_ECLOSED)
			nng_stream_listener_accept(d->l, d->acc);
		return;
	}
	s = nng_aio_get_output(d->acc, 0);
	pthread_mutex_lock(&d->mu);
	over = d->stopping || d->n_conns >= d->lim.max_conns || !(c = calloc(1, sizeof *c)) ||
		nng_aio_alloc(&c->aio, conn_cb, c) != 0;
	if (over) {
		d->refused++;
		if (c)
			free(c);
	} else {
		c->d = d;
		c->s = s;
		c->deadline = mono_ms() + d->lim.header_ms;
		c->next = d->conns;
		d->conns = c;
		d->n_conns++;
	}
	pthread_mutex_unlock(&d->mu);
	if (over) {
		nng_stream_close(s);
		nng_stream_free(s);
	} else {
		conn_recv(c, c->head, MAX_HEAD);
	}
	if (!d->stopping)
		nng_stream_listener_accept(d->l, d->acc);
}

int kt_httpd_start(const char *url, struct nng_tls_config *tls, const struct kt_httpd_limits *lim, kt_httpd_fn fn,
                   void *ctx, struct kt_httpd **out, keten_error *err)
{
	struct kt_httpd *d = calloc(1, sizeof *d);
	int rv;

	*out = NULL;
	if (!d)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	d->lim.max_conns = lim && lim->max_conns ? lim->max_conns : 64;
	d->lim.header_ms = lim && lim->header_ms ? lim->header_ms : 10000;
	d->lim.write_ms = lim && lim->write_ms ? lim->write_ms : 30000;
	d->fn = fn;
	d->ctx = ctx;
	d->tls = tls != NULL;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->gone, NULL);
	if ((rv = nng_aio_alloc(&d->acc, accept_cb, d)) || (rv = nng_stream_listener_alloc(&d->l, url)) ||
	    (tls && (rv = nng_stream_listener_set_ptr(d->l, NNG_OPT_TLS_CONFIG, tls))) ||
	    (rv = nng_stream_listener_listen(d->l))) {
		kt_httpd_stop(d);
		return keten_fail(err, rv == NNG_ENOMEM ? KETEN_ENOMEM : KETEN_EIO, "cannot listen on %s: %s", url,
		                  nng_strerror(rv));
	}
	nng_stream_listener_accept(d->l, d->acc);
	*out = d;
	return KETEN_OK;
}

uint64_t kt_httpd_refused(const struct kt_httpd *d)
{
	return d->refused;
}

void kt_httpd_stop(struct kt_httpd *d)
{
	struct timespec until;
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stopping = true;
	pthread_mutex_unlock(&d->mu);
	if (d->l)
		nng_stream_listener_close(d->l);
	if (d->acc)
		nng_aio_stop(d->acc);
	/* every connection goes: its next callback frees it */
	pthread_mutex_lock(&d->mu);
	for (struct conn *c = d->conns; c; c = c->next)
		nng_stream_close(c->s);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	while (d->n_conns && pthread_cond_timedwait(&d->gone, &d->mu, &until) == 0)
		;
	pthread_mutex_unlock(&d->mu);
	nng_aio_free(d->acc);
	nng_stream_listener_free(d->l);
	if (!d->n_conns) {
		pthread_cond_destroy(&d->gone);
		pthread_mutex_destroy(&d->mu);
		free(d);
	} /* else a connection outlived the wait: leave it what it points at */
}
