/*
 * http_auth.h — (internal) who may open the dashboard of keten serve
 * (include/keten/http.h): HTTPS with this server's certificate, client
 * certificates checked in the TLS handshake, and tokens checked on every
 * request.  http.c calls kt_http_auth_tls once before the server
 * (io/httpd.c) starts, for its listener, and kt_http_auth_check first
 * thing for every request the server has parsed.
 */
#ifndef KETEN_IO_HTTP_AUTH_H
#define KETEN_IO_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keten/keten.h"
#include "keten/http.h"
#include "io/io.h"

typedef struct kt_http_auth kt_http_auth;

/* What kt_http_auth_check answers instead of the dashboard. */
typedef struct kt_http_answer {
	uint16_t status;
	const char *type;
	const void *body; /* static */
	size_t len;
	const char *csp;      /* this answer's own Content-Security-Policy, else NULL */
	const char *location; /* a redirect's Location, else NULL */
	char cookie[400];     /* a Set-Cookie value, else "" */
	bool challenge;       /* send WWW-Authenticate: Bearer */
} kt_http_answer;

/*
 * The token check of o (o->tokens; none: every request passes).  tls:
 * the server speaks HTTPS (its cookie is Secure).  Keeps hashes of the
 * tokens alone.  Errors: KETEN_EINVAL (a token of the wrong length or
 * characters; the message gives its number), KETEN_ENOMEM.
 */
int kt_http_auth_new(const keten_http_opts *o, bool tls, kt_http_auth **out, keten_error *err);
void kt_http_auth_free(kt_http_auth *a);

/*
 * The server's TLS configuration of o into *out, for a listener not yet
 * listening (NNG_OPT_TLS_CONFIG): own certificate and key, and with
 * o->client_ca the CA whose client certificates it requires
 * (NNG_TLS_AUTH_MODE_REQUIRED).  The caller frees it with
 * nng_tls_config_free once the listener holds it.  Errors: KETEN_EIO (a
 * file cannot be read or is not PEM of the right kind; the message names
 * the files), KETEN_ENOMEM.
 */
int kt_http_auth_tls(const keten_http_opts *o, struct nng_tls_config **out, keten_error *err);

/*
 * May req go on to the dashboard?  false: yes (a is NULL or asks no
 * tokens, or req carries a valid token, or asks for a page of the login:
 * /login.js, /style.css).  true: ans holds the answer: the login page
 * (GET /login; 401 for any other page), 401 JSON for /api/, or for
 * POST /login a redirect with the cookie (a valid token) or back to
 * /login?failed.
 */
bool kt_http_auth_check(const kt_http_auth *a, const struct kt_http_req *req, kt_http_answer *ans);

#endif
