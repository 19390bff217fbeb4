/*
 * http_auth.c — who may open the dashboard (io/http_auth.h): the TLS
 * configuration of keten serve --https (certificate, key, and the CA of
 * the viewers' client certificates), and the token check of --tokens.
 *
 * A viewer with a token either sends it on every request as
 * "Authorization: Bearer TOKEN" (scripts, curl), or signs in once on the
 * login page: POST /login with token=TOKEN sets the cookie keten_token
 * (HttpOnly, SameSite=Strict, Secure over HTTPS, 12 hours) and redirects
 * to the dashboard.  A link /login#token=TOKEN signs in at once
 * (web/login.js): the fragment never reaches the server or its log.
 * Only BLAKE2b hashes of the tokens are kept, compared in constant time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nng/nng.h>
#include <sodium.h>
#include <nng/supplemental/tls/tls.h>

#include "io/http_auth.h"
#include "base/base.h"

#define COOKIE       "keten_token"
#define COOKIE_MAX_S 43200
#define MAX_TOKENS   4096

struct kt_http_auth {
	uint8_t (*hash)[32];
	size_t n;
	bool tls;
};

static const char login_csp[] = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
static const char api_401[] = "{\"error\":\"this dashboard needs a token: Authorization: Bearer TOKEN\"}";

/* Tokens ------------------------------------------------------------------ */

static bool token_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._~+/=-", c);
}

static bool token_ok(const char *t, size_t len)
{
	if (len < KETEN_HTTP_TOKEN_MIN || len > KETEN_HTTP_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!t[i] || !token_char((unsigned char)t[i]))
			return false;
	return true;
}

int kt_http_auth_new(const keten_http_opts *o, bool tls, kt_http_auth **out, keten_error *err)
{
	kt_http_auth *a;

	*out = NULL;
	if (!o || o->n_tokens == 0)
		return KETEN_OK;
	if (!o->tokens || o->n_tokens > MAX_TOKENS)
		return keten_fail(err, KETEN_EINVAL, "at most %u tokens", MAX_TOKENS);
	for (size_t i = 0; i < o->n_tokens; i++)
		if (!o->tokens[i] || !token_ok(o->tokens[i], strlen(o->tokens[i])))
			return keten_fail(err, KETEN_EINVAL,
			                  "token %zu is not %u to %u characters of A-Z a-z 0-9 . _ ~ + / = -", i + 1,
			                  KETEN_HTTP_TOKEN_MIN, KETEN_HTTP_TOKEN_MAX);
	if (keten_init_crypto() != 0)
		return keten_fail(err, KETEN_ECRYPTO, NULL);
	if (!(a = calloc(1, sizeof *a)) || !(a->hash = calloc(o->n_tokens, sizeof *a->hash))) {
		free(a);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	for (size_t i = 0; i < o->n_tokens; i++)
		crypto_generichash(a->hash[i], 32, (const uint8_t *)o->tokens[i], strlen(o->tokens[i]), NULL, 0);
	a->n = o->n_tokens;
	a->tls = tls;
	*out = a;
	return KETEN_OK;
}

void kt_http_auth_free(kt_http_auth *a)
{
	if (!a)
		return;
	free(a->hash);
	free(a);
}

/* Is t (len bytes, not NUL-terminated) one of the tokens?  Every hash is
 * compared, so the time does not say which. */
static bool token_valid(const kt_http_auth *a, const char *t, size_t len)
{
	uint8_t h[32];
	bool hit = false;

	if (!token_ok(t, len))
		return false;
	crypto_generichash(h, 32, (const uint8_t *)t, len, NULL, 0);
	for (size_t i = 0; i < a->n; i++)
		hit |= sodium_memcmp(h, a->hash[i], 32) == 0;
	return hit;
}

/* The request's token: its Authorization: Bearer header, else its cookie. */
static bool presented(const kt_http_auth *a, const struct kt_http_req *req)
{
	const char *h = req->authorization, *c;

	if (h && strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		while (*h == ' ')
			h++;
		return token_valid(a, h, strlen(h));
	}
	for (c = req->cookie; c && *c;) {
		while (*c == ' ' || *c == ';')
			c++;
		size_t n = strcspn(c, ";");
		if (strncmp(c, COOKIE "=", sizeof COOKIE) == 0)
			return token_valid(a, c + sizeof COOKIE, n - sizeof COOKIE);
		c += n;
	}
	return false;
}

/* The login ------------------------------------------------------------------ */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The field token= of a form body (application/x-www-form-urlencoded),
 * decoded into out (size len); false when absent or malformed. */
static bool form_token(const char *body, size_t blen, char *out, size_t len)
{
	const char *p = body, *end = body + blen;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *fe = amp ? amp : end;
		if ((size_t)(fe - p) > 6 && memcmp(p, "token=", 6) == 0) {
			size_t o = 0;
			for (p += 6; p < fe && o + 1 < len; p++) {
				int h, l;
				if (*p != '%') {
					out[o++] = *p == '+' ? ' ' : *p;
					continue;
				}
				if (fe - p < 3 || (h = hexval((unsigned char)p[1])) < 0 ||
				    (l = hexval((unsigned char)p[2])) < 0)
					return false;
				out[o++] = (char)(h * 16 + l);
				p += 2;
			}
			out[o] = 0;
			return p == fe;
		}
		p = amp ? amp + 1 : end;
	}
	return false;
}

static void login_page(kt_http_answer *ans, uint16_t status)
{
	ans->status = status;
	ans->type = "text/html; charset=utf-8";
	ans->csp = login_csp;
	ans->body = "";
	ans->len = 0;
	for (const keten_web_asset *w = keten_web_assets; w->path; w++)
		if (strcmp(w->path, "/login.html") == 0) {
			ans->body = w->data;
			ans->len = w->len;
		}
	ans->challenge = status == 401;
}

/* POST /login: a valid token sets the cookie and goes to the dashboard. */
static void login(const kt_http_auth *a, const struct kt_http_req *req, kt_http_answer *ans)
{
	char token[KETEN_HTTP_TOKEN_MAX + 2];

	ans->status = 303;
	ans->type = "text/plain; charset=utf-8";
	ans->body = "";
	if (!req->body || !form_token(req->body, req->body_len, token, sizeof token) ||
	    !token_valid(a, token, strlen(token))) {
		ans->location = "/login?failed";
	} else {
		ans->location = "/";
		snprintf(ans->cookie, sizeof ans->cookie, COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s",
		         token, COOKIE_MAX_S, a->tls ? "; Secure" : "");
	}
	sodium_memzero(token, sizeof token);
}

bool kt_http_auth_check(const kt_http_auth *a, const struct kt_http_req *req, kt_http_answer *ans)
{
	const char *method = req->method, *uri = req->uri;
	size_t n = strcspn(uri, "?");
	bool get = strcmp(method, "GET") == 0;

	memset(ans, 0, sizeof *ans);
	if (!a)
		return false;
	KETEN_ASSERT(a->n > 0);
	if (n == 6 && strncmp(uri, "/login", 6) == 0) {
		if (strcmp(method, "POST") == 0)
			login(a, req, ans);
		else
			login_page(ans, 200);
		return true;
	}
	/* what the login page itself needs, which holds nothing of the ledger */
	if (get && ((n == 9 && strncmp(uri, "/login.js", 9) == 0) || (n == 10 && strncmp(uri, "/style.css", 10) == 0)))
		return false;
	if (presented(a, req))
		return false;
	if (strncmp(uri, "/api/", 5) == 0) {
		ans->status = 401;
		ans->type = "application/json; charset=utf-8";
		ans->body = api_401;
		ans->len = sizeof api_401 - 1;
		ans->challenge = true;
	} else {
		login_page(ans, 401);
	}
	return true;
}

/* TLS ---------------------------------------------------------------------------- */

/* A whole PEM file as a string (at most 1 MiB), or NULL. */
static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	if ((buf = malloc(1024 * 1024 + 1)))
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

int kt_http_auth_tls(const keten_http_opts *o, struct nng_tls_config **out, keten_error *err)
{
	nng_tls_config *cfg = NULL;
	char *cert = NULL, *key = NULL;
	int rv;

	KETEN_ASSERT(o && o->tls_cert && o->tls_key);
	*out = NULL;
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)))
		goto out;
	cert = read_pem(o->tls_cert);
	key = read_pem(o->tls_key);
	if (!cert || !key) {
		rv = NNG_ENOENT;
		goto out;
	}
	if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)))
		goto out;
	if (o->client_ca) {
		if ((rv = nng_tls_config_ca_file(cfg, o->client_ca)) ||
		    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)))
			goto out;
	} else if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE))) {
		goto out;
	}
out:
	if (key)
		sodium_memzero(key, strlen(key));
	free(cert);
	free(key);
	if (rv == 0) {
		*out = cfg;
		return KETEN_OK;
	}
	if (cfg)
		nng_tls_config_free(cfg);
	return keten_fail(err, rv == NNG_ENOMEM ? KETEN_ENOMEM : KETEN_EIO, "TLS files (%s, %s%s%s): %s", o->tls_cert,
	                  o->tls_key, o->client_ca ? ", client CA " : "", o->client_ca ? o->client_ca : "",
	                  rv == NNG_ENOENT ? "cannot read the certificate or the key" : nng_strerror(rv));
}
