/*
 * io.h — (internal) what the files of ledger/io/ share: the bounded
 * HTTP/1.1 server the dashboard (http.c) answers through (httpd.c), over
 * TCP or TLS; and the token file a node's dashboard reads (nodeconf.c).
 */
#ifndef KETEN_IO_IO_H
#define KETEN_IO_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keten/keten.h"

struct nng_tls_config;

/* The largest body a request may carry; only a POST's is kept. */
#define KT_HTTPD_MAX_BODY (64u * 1024u)

/* One request as httpd.c parsed it; every pointer is valid during the
 * call alone. */
struct kt_http_req {
	const char *method;        /* "GET" */
	const char *uri;           /* the raw request target */
	const char *host;          /* the Host header, or NULL */
	const char *authorization; /* the Authorization header, or NULL */
	const char *cookie;        /* the Cookie header, or NULL */
	const char *body;          /* a POST's body (not NUL-terminated), or NULL */
	size_t body_len;           /* at most KT_HTTPD_MAX_BODY */
};

/* What a request is answered with. */
struct kt_http_reply {
	uint16_t status;
	const char *type;
	const void *data; /* static (an embedded file) ... */
	size_t len;
	char *owned; /* ... or owned (malloc'd, freed by the server) */
	bool api;
	char headers[1024]; /* more header lines, each ending in CRLF */
};

/* Answer one request into *r; called from nng's threads, several at once. */
typedef void (*kt_httpd_fn)(void *ctx, const struct kt_http_req *req, struct kt_http_reply *r);

/* The server's bounds (0: the defaults in brackets). */
struct kt_httpd_limits {
	unsigned max_conns; /* connections at once; one more is closed as it arrives [64] */
	unsigned header_ms; /* the request (with the TLS handshake, if any) must
	                       have arrived this long after the connection
	                       opened, or it is closed [10 s] */
	unsigned write_ms;  /* the answer must be taken within this [30 s] */
};

struct kt_httpd;

/* Serve url ("tcp://HOST:PORT", or "tls+tcp://HOST:PORT" with tls, the
 * server's TLS configuration, which the listener holds a reference of
 * from here on; NULL for tcp://) with fn.  Errors: KETEN_EIO (cannot
 * listen: the message names url), KETEN_ENOMEM. */
int kt_httpd_start(const char *url, struct nng_tls_config *tls, const struct kt_httpd_limits *lim, kt_httpd_fn fn,
                   void *ctx, struct kt_httpd **out, keten_error *err);
/* Connections refused over the cap or closed for being slow so far. */
uint64_t kt_httpd_refused(const struct kt_httpd *d);
/* Stop, close every connection and free (NULL does nothing). */
void kt_httpd_stop(struct kt_httpd *d);

/* The tokens of the file at path, one a line (blank lines and # comments
 * skipped, space at either end dropped), as pointers (*list, *n of them;
 * the caller frees *list and *buf, which they point into, also on
 * failure).  Errors: KETEN_ENOTFOUND, KETEN_EIO, KETEN_EMALFORMED (a NUL;
 * no token), KETEN_ENOMEM.  (nodeconf.c) */
int kt_tokens_read(const char *path, char **buf, const char ***list, size_t *n, keten_error *err);

#endif
