/*
 * httpd.c — a small bounded HTTP/1.1 server on nng's streams, for the
 * dashboard (http.c answers each request).  nng's own HTTP server has
 * neither a connection cap nor a time limit on a request, so a client
 * could hold as many connections as it liked, each sending a header a
 * byte a minute.  Here: at most max_conns connections (one more is closed
 * as it arrives); the request head (at most 16 KiB) and any body (at most
 * 64 KiB, read and dropped: the dashboard answers GET alone) must have
 * arrived header_ms after the connection opened, and the answer must be
 * taken within write_ms, or the connection is closed; one request per
 * connection (Connection: close), so no connection idles between
 * requests.
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

#define MAX_HEAD (16u * 1024u)
#define MAX_BODY (64u * 1024u)

struct conn {
	struct kt_httpd *d;
	nng_stream *s;
	nng_aio *aio;
	int64_t deadline;
	bool writing, head_only;
	size_t n, body_left;
	char head[MAX_HEAD + 1];
	char drop[4096]; /* body bytes, read and dropped */
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
	case 400: return "Bad Request";
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
	char head[1024];

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

/* The value of header name in the head (lines after the first), cut at
 * CR, into v; false when absent. */
static bool header(const char *head, const char *name, char *v, size_t vlen)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p && p[2] && !(p[2] == '\r' && p[3] == '\n');
	     p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *e;
		if (strncasecmp(line, name, nl) != 0 || line[nl] != ':')
			continue;
		line += nl + 1;
		while (*line == ' ' || *line == '\t')
			line++;
		e = strstr(line, "\r\n");
		snprintf(v, vlen, "%.*s", (int)(e ? e - line : (ptrdiff_t)strlen(line)), line);
		return true;
	}
	return false;
}

/* The head is complete (at its blank line): parse it and answer. */
static bool conn_request(struct conn *c)
{
	struct kt_http_reply r = {0};
	char method[16], uri[4096], version[16] = "", host[256];
	bool has_host;

	if (sscanf(c->head, "%15s %4095s %15s", method, uri, version) != 3 || strncmp(version, "HTTP/1.", 7) != 0)
		return conn_status(c, strncmp(version, "HTTP/", 5) == 0 ? 505 : 400);
	has_host = header(c->head, "Host", host, sizeof host);
	if (!has_host && strcmp(version, "HTTP/1.1") == 0)
		return conn_status(c, 400);
	c->head_only = strcmp(method, "HEAD") == 0;
	c->d->fn(c->d->ctx, method, uri, has_host ? host : NULL, &r);
	KETEN_ASSERT(r.status >= 100 && r.status < 600);
	return conn_answer(c, &r);
}

/* How much body follows the head (Content-Length); SIZE_MAX when too much
 * or not a number. */
static size_t body_length(const char *head)
{
	char cl[32], *end;
	unsigned long long n;
	if (!header(head, "Content-Length", cl, sizeof cl))
		return 0;
	n = strtoull(cl, &end, 10);
	return *end || n > MAX_BODY ? SIZE_MAX : (size_t)n;
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
		size_t have = c->n - (size_t)(end + 4 - c->head), want = body_length(c->head);
		end[2] = 0; /* the head alone, ending in one CRLF */
		if (want == SIZE_MAX) {
			ok = conn_status(c, 413);
		} else if (want > have) {
			c->body_left = want - have;
			conn_recv(c, c->drop, c->body_left < sizeof c->drop ? c->body_left : sizeof c->drop);
			return;
		} else {
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
	if (c->writing) {
		c->out_done += got;
		if (c->out_done < c->out_len)
			conn_send(c);
		else
			conn_free(c);
		return;
	}
	if (c->body_left) {
		/* the body: read and dropped; the head keeps its bytes */
		c->body_left -= got < c->body_left ? got : c->body_left;
		if (c->body_left) {
			conn_recv(c, c->drop, c->body_left < sizeof c->drop ? c->body_left : sizeof c->drop);
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

int kt_httpd_start(const char *url, const struct kt_httpd_limits *lim, kt_httpd_fn fn, void *ctx, struct kt_httpd **out,
                   keten_error *err)
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
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->gone, NULL);
	if ((rv = nng_aio_alloc(&d->acc, accept_cb, d)) || (rv = nng_stream_listener_alloc(&d->l, url)) ||
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
