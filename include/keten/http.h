/*
 * http.h — the read-only audit dashboard of a home, over HTTP (a small
 * bounded HTTP/1.1 server on nng's streams): a JSON API, GET only, over
 * the derived state (balances,
 * reconciliation lines and findings, the regional report, disputes with
 * their evidence, recent entries), and a static page (web/: index.html,
 * app.js, style.css) embedded in the library at build time, so the binary
 * needs no files beside it.  The JSON objects are those of the commands'
 * --json output, built by the same functions (include/keten/json.h).
 *
 * Each request opens one short read transaction and ends it before the
 * answer is sent: none is held between requests, so a dashboard left open
 * never pins old pages of the map.  Requests need no lock of their own:
 * the store lets readers run alongside a node that pulls and writes in the
 * same process (keten/store.h, "Threads").
 *
 * By default only a loopback address is accepted (127.0.0.0/8, ::1,
 * localhost); anything else needs opts->allow_public, or HTTPS (tls_cert,
 * tls_key) with a way to tell viewers apart: client certificates signed by
 * client_ca (checked in the TLS handshake), or tokens (each request
 * carries "Authorization: Bearer TOKEN" or the cookie that the login page
 * /login sets; anything else is answered 401).  On a loopback
 * address the Host header of each request must name a loopback host too,
 * which keeps a web page elsewhere from reading the API through DNS
 * rebinding.  Every answer carries Content-Security-Policy default-src
 * 'self' and X-Content-Type-Options nosniff; see docs/dashboard.md.
 *
 * Bounded, over HTTP and HTTPS alike: at most opts->max_conns
 * connections at once, each request (the TLS handshake, a head of at most
 * 16 KiB, a body of at most 64 KiB: dropped, but for the login's POST) in
 * within opts->header_ms of its connection, its answer taken within 30 s,
 * one request per connection.
 */
#ifndef KETEN_HTTP_H
#define KETEN_HTTP_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_ledger;
struct keten_camt_statement;

#define KETEN_HTTP_DEFAULT_ADDR "127.0.0.1:8080"

/* One embedded file of the dashboard; the generated table ends with path NULL. */
typedef struct keten_web_asset {
	const char *path; /* "/index.html" */
	const char *type; /* "text/html; charset=utf-8" */
	const unsigned char *data;
	size_t len;
} keten_web_asset;

/* The dashboard's files, generated from web/ by the Makefile. */
extern KETEN_API const keten_web_asset keten_web_assets[];

typedef struct keten_http_opts {
	bool allow_public; /* accept an address that is not loopback */
	/* One line per request ("GET /api/balance 200"); NULL: quiet.  Called
	 * from nng's threads. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	/* A parsed camt.053 statement (keten_camt_parse) that /api/reconcile
	 * matches to this home's payments, as `keten reconcile --bank` does:
	 * its findings join the others and the answer carries "bank".  NULL:
	 * none.  The caller keeps it until keten_http_stop; requests only read
	 * it. */
	const struct keten_camt_statement *bank;
	/* Connections at once (0: 64); one more is closed as it arrives. */
	unsigned max_conns;
	/* A request (over HTTPS with its TLS handshake) must have arrived this
	 * long after its connection opened, or the connection is closed (0:
	 * 10000 ms). */
	unsigned header_ms;
	/* HTTPS: this server's certificate and private key, PEM files; NULL:
	 * plain HTTP.  Read once, at start. */
	const char *tls_cert, *tls_key;
	/* With tls_*: a PEM file of the CA (or CAs) whose client certificates
	 * may open the dashboard; a client without one is refused in the TLS
	 * handshake (NNG_TLS_AUTH_MODE_REQUIRED).  NULL: none asked. */
	const char *client_ca;
	/* Tokens a viewer may present (n_tokens of them, each
	 * KETEN_HTTP_TOKEN_MIN to KETEN_HTTP_TOKEN_MAX characters of
	 * A-Z a-z 0-9 . _ ~ + / = -); only hashes are kept.  0: no tokens asked. */
	const char *const *tokens;
	size_t n_tokens;
} keten_http_opts;

#define KETEN_HTTP_TOKEN_MIN 16
#define KETEN_HTTP_TOKEN_MAX 256

typedef struct keten_http_server keten_http_server;

/*
 * Parse ADDR ("HOST:PORT", "[V6]:PORT", ":PORT" for loopback, or the same
 * after "http://" or "https://") into an nng URL "http://HOST:PORT" (url
 * holds at least 300 bytes) and tell whether HOST is loopback.  Errors:
 * KETEN_EINVAL.
 */
KETEN_API int keten_http_parse_addr(const char *addr, char *url, size_t len, bool *loopback, struct keten_error *err);

/*
 * Serve the dashboard of L (which need not be unlocked) on addr (NULL:
 * KETEN_HTTP_DEFAULT_ADDR) until keten_http_stop, over HTTPS when
 * o->tls_cert is set.  o may be NULL.
 * Errors: KETEN_EINVAL (bad address; a token that is too short, too long
 * or holds another character; client_ca without tls_cert; tls_cert
 * without tls_key), KETEN_EPERM (not loopback, and neither
 * o->allow_public nor HTTPS with client_ca or tokens), KETEN_EIO (cannot
 * listen, or cannot read the TLS files: the message says why),
 * KETEN_ENOMEM.
 */
KETEN_API int keten_http_start(struct keten_ledger *L, const char *addr, const keten_http_opts *o,
                               keten_http_server **out, struct keten_error *err);

/* The URL served ("http://127.0.0.1:8080", "https://..." with TLS). */
KETEN_API const char *keten_http_url(const keten_http_server *s);

/* Is the address served a loopback one? */
KETEN_API bool keten_http_loopback(const keten_http_server *s);

/* Stop serving and free; NULL does nothing. */
KETEN_API void keten_http_stop(keten_http_server *s);

#endif
