/*
 * nodeconf.c — the node's config file (keten/node.h, docs/service.md):
 * lines of "[section]", "key = value" and "# comment", read into a
 * keten_node_conf with the line of every error; and the edit that adds or
 * removes a [peer URL] section, leaving every other line as it was.
 *
 *     [node]                      listen (repeated), interval, timeout, checkpoint
 *     [tls]                       cert, key, ca
 *     [peer URL]                  key (64 hex), one section per peer
 *     [dashboard]                 listen, cert, key, client-ca, tokens, public
 *
 * A value runs to the end of its line; a '#' after a space or tab starts a
 * comment there.  Space around '=' and at either end of a line is dropped.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keten.h"
#include "keten/node.h"
#include "base/base.h"
#include "formats/nodeconf.h"

#define LINE_MAX_ 1024u
#define BAD_URL   "bad URL '%.200s' (tcp://HOST:PORT, tls+tcp://HOST:PORT or ipc:///PATH)"

bool keten_node_url_ok(const char *u)
{
	return u &&
		(strncmp(u, "tcp://", 6) == 0 || strncmp(u, "ipc://", 6) == 0 || strncmp(u, "tls+tcp://", 10) == 0) &&
		strlen(u) < KETEN_NODE_URL_MAX;
}

bool kt_nodeconf_url_ok(const char *u)
{
	if (!keten_node_url_ok(u) || !strstr(u, "://")[3])
		return false;
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* Lines ------------------------------------------------------------------------ */

enum sect { S_NONE, S_NODE, S_TLS, S_PEER, S_DASH };

/* One line, its ends and comments trimmed: [b, e). */
struct span {
	const char *b, *e;
};

static struct span trim(const char *b, const char *e)
{
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	return (struct span){b, e};
}

/* Without a comment that starts after a space or tab. */
static struct span uncomment(struct span s)
{
	for (const char *p = s.b + 1; p < s.e; p++)
		if (*p == '#' && (p[-1] == ' ' || p[-1] == '\t'))
			return trim(s.b, p);
	return s;
}

static bool is_blank_or_comment(struct span s)
{
	return s.b == s.e || *s.b == '#' || *s.b == ';';
}

/* The URL of a "[peer URL]" header, into url (cap bytes); false when s is
 * not such a header. */
static bool peer_header(struct span s, char *url, size_t cap)
{
	struct span in;
	if (s.e - s.b < 2 || *s.b != '[')
		return false;
	s = uncomment(s);
	if (s.e[-1] != ']')
		return false;
	in = trim(s.b + 1, s.e - 1);
	if (in.e - in.b < 5 || strncmp(in.b, "peer", 4) != 0 || (in.b[4] != ' ' && in.b[4] != '\t'))
		return false;
	in = trim(in.b + 4, in.e);
	if ((size_t)(in.e - in.b) >= cap)
		return false;
	memcpy(url, in.b, (size_t)(in.e - in.b));
	url[in.e - in.b] = 0;
	return true;
}

/* The parser ------------------------------------------------------------------- */

enum kind { K_URLS, K_SECONDS, K_PATH, K_ADDR, K_KEY, K_BOOL };

struct key_spec {
	enum sect sect;
	const char *name;
	enum kind kind;
	size_t off; /* into keten_node_conf */
	size_t size;
};

#define F(field) offsetof(keten_node_conf, field), sizeof(((keten_node_conf *)0)->field)

static const struct key_spec keys[] = {
	{S_NODE, "listen", K_URLS, 0, 0},
	{S_NODE, "interval", K_SECONDS, F(interval_s)},
	{S_NODE, "timeout", K_SECONDS, F(timeout_s)},
	{S_NODE, "checkpoint", K_SECONDS, F(checkpoint_s)},
	{S_TLS, "cert", K_PATH, F(tls_cert)},
	{S_TLS, "key", K_PATH, F(tls_key)},
	{S_TLS, "ca", K_PATH, F(tls_ca)},
	{S_PEER, "key", K_KEY, 0, 0},
	{S_DASH, "listen", K_ADDR, F(dashboard.listen)},
	{S_DASH, "cert", K_PATH, F(dashboard.cert)},
	{S_DASH, "key", K_PATH, F(dashboard.key)},
	{S_DASH, "client-ca", K_PATH, F(dashboard.client_ca)},
	{S_DASH, "tokens", K_PATH, F(dashboard.tokens)},
	{S_DASH, "public", K_BOOL, F(dashboard.public_)},
};

static const char *const sect_names[] = {"", "node", "tls", "peer", "dashboard"};

struct parse {
	const char *name;
	keten_node_conf *c;
	keten_error *err;
	unsigned line;
	enum sect sect;
	keten_node_conf_peer *peer;
	unsigned sect_line[5];             /* where [node], [tls], [dashboard] were */
	unsigned key_line[KT_COUNT(keys)]; /* where each key was set (in this [peer]) */
};

static int bad(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct parse *p, const char *fmt, ...)
{
	char why[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	p->c->line = p->line;
	return keten_fail(p->err, KETEN_EMALFORMED, "%s:%u: %s", p->name, p->line, why);
}

static int section(struct parse *p, struct span s)
{
	char url[KETEN_NODE_URL_MAX + 64];
	struct span in = uncomment(s);

	if (in.e[-1] != ']')
		return bad(p, "a section header ends with ']'");
	if (peer_header(s, url, sizeof url)) {
		if (!kt_nodeconf_url_ok(url))
			return bad(p, BAD_URL, url);
		for (size_t i = 0; i < p->c->n_peers; i++)
			if (strcmp(p->c->peers[i].url, url) == 0)
				return bad(p, "duplicate section [peer %s] (first on line %u)", url,
				           p->c->peers[i].line);
		if (p->c->n_peers == KETEN_NODE_MAX_URLS)
			return bad(p, "more than %u peers", KETEN_NODE_MAX_URLS);
		p->peer = &p->c->peers[p->c->n_peers++];
		snprintf(p->peer->url, sizeof p->peer->url, "%s", url);
		p->peer->line = p->line;
		p->sect = S_PEER;
		for (size_t i = 0; i < KT_COUNT(keys); i++)
			if (keys[i].sect == S_PEER)
				p->key_line[i] = 0;
		return KETEN_OK;
	}
	in = trim(in.b + 1, in.e - 1);
	if (in.e - in.b >= 4 && strncmp(in.b, "peer", 4) == 0 && trim(in.b + 4, in.e).b == in.e)
		return bad(p, "[peer URL] needs the peer's URL");
	for (enum sect k = S_NODE; k <= S_DASH; k++) {
		if (k == S_PEER || strlen(sect_names[k]) != (size_t)(in.e - in.b) ||
		    memcmp(in.b, sect_names[k], (size_t)(in.e - in.b)) != 0)
			continue;
		if (p->sect_line[k])
			return bad(p, "duplicate section [%s] (first on line %u)", sect_names[k], p->sect_line[k]);
		p->sect_line[k] = p->line;
		p->sect = k;
		return KETEN_OK;
	}
	return bad(p, "unknown section '[%.*s]' (node, tls, peer URL, dashboard)",
	           (int)(in.e - in.b > 60 ? 60 : in.e - in.b), in.b);
}

static int seconds(struct parse *p, const char *key, const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end || !isfinite(d) || d <= 0 || d > 86400)
		return bad(p, "bad number of seconds '%.60s' for '%s' (more than 0, at most 86400)", v, key);
	*out = d;
	return KETEN_OK;
}

static int boolean(struct parse *p, const char *key, const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < KT_COUNT(yes); i++) {
		if (strcmp(v, yes[i]) == 0)
			return *out = true, KETEN_OK;
		if (strcmp(v, no[i]) == 0)
			return *out = false, KETEN_OK;
	}
	return bad(p, "bad value '%.60s' for '%s' (yes or no)", v, key);
}

static int listen_url(struct parse *p, const char *v)
{
	keten_node_conf *c = p->c;
	if (!kt_nodeconf_url_ok(v))
		return bad(p, BAD_URL, v);
	for (size_t i = 0; i < c->n_listen; i++)
		if (strcmp(c->listen[i], v) == 0)
			return bad(p, "duplicate listen '%.200s'", v);
	if (c->n_listen == KETEN_NODE_MAX_URLS)
		return bad(p, "more than %u listen URLs", KETEN_NODE_MAX_URLS);
	snprintf(c->listen[c->n_listen++], KETEN_NODE_URL_MAX, "%s", v);
	return KETEN_OK;
}

/* The value v of keys[i]. */
static int value(struct parse *p, size_t i, const char *v)
{
	const struct key_spec *k = &keys[i];
	char *dst = (char *)p->c + k->off;

	if (k->kind != K_URLS && p->key_line[i])
		return bad(p, "duplicate key '%s' (first on line %u)", k->name, p->key_line[i]);
	p->key_line[i] = p->line;
	switch (k->kind) {
	case K_URLS: return listen_url(p, v);
	case K_SECONDS: return seconds(p, k->name, v, (double *)(void *)dst);
	case K_BOOL: return boolean(p, k->name, v, (bool *)(void *)dst);
	case K_KEY:
		if (strlen(v) != 64 || keten_unhex(p->peer->key, 32, v) != KETEN_OK)
			return bad(p, "bad key '%.80s': 64 hex digits", v);
		p->peer->has_key = true;
		return KETEN_OK;
	case K_ADDR:
		for (const char *q = v; *q; q++)
			if ((unsigned char)*q <= ' ')
				return bad(p, "bad address '%.80s' for '%s' (HOST:PORT)", v, k->name);
		/* fall through */
	case K_PATH:
		if (strlen(v) >= k->size)
			return bad(p, "'%s' is too long (at most %zu bytes)", k->name, k->size - 1);
		snprintf(dst, k->size, "%s", v);
		return KETEN_OK;
	}
	KETEN_ASSERT(!"a kind of key");
	return KETEN_OK;
}

static int key_value(struct parse *p, struct span s)
{
	const char *eq = memchr(s.b, '=', (size_t)(s.e - s.b));
	struct span k, v;
	char key[32], val[LINE_MAX_];

	if (!eq)
		return bad(p, "expected 'key = value', a [section] or a # comment");
	k = trim(s.b, eq);
	v = uncomment(trim(eq + 1, s.e));
	if (v.b < v.e && *v.b == '#')
		v.e = v.b;
	if (k.b == k.e)
		return bad(p, "a key is missing before '='");
	if ((size_t)(k.e - k.b) >= sizeof key)
		return bad(p, "unknown key '%.31s...'", k.b);
	memcpy(key, k.b, (size_t)(k.e - k.b));
	key[k.e - k.b] = 0;
	if (p->sect == S_NONE)
		return bad(p, "key '%s' outside a section (begin with [node])", key);
	if (v.b == v.e)
		return bad(p, "missing value for '%s'", key);
	memcpy(val, v.b, (size_t)(v.e - v.b));
	val[v.e - v.b] = 0;
	for (size_t i = 0; i < KT_COUNT(keys); i++)
		if (keys[i].sect == p->sect && strcmp(keys[i].name, key) == 0)
			return value(p, i, val);
	return bad(p, "unknown key '%s' in [%s]", key, sect_names[p->sect]);
}

static int line(struct parse *p, const char *b, const char *e)
{
	struct span s;
	if ((size_t)(e - b) >= LINE_MAX_)
		return bad(p, "line too long (at most %u bytes)", LINE_MAX_ - 1);
	if (memchr(b, 0, (size_t)(e - b)))
		return bad(p, "a NUL byte: not a text file");
	s = trim(b, e);
	if (is_blank_or_comment(s))
		return KETEN_OK;
	return *s.b == '[' ? section(p, s) : key_value(p, s);
}

/* What the lines cannot say alone. */
static int whole(struct parse *p)
{
	const keten_node_conf *c = p->c;
	p->line = p->sect_line[S_DASH];
	if (!p->line)
		return KETEN_OK;
	if (!c->dashboard.listen[0])
		return bad(p, "[dashboard] needs 'listen = HOST:PORT'");
	if (!c->dashboard.cert[0] != !c->dashboard.key[0])
		return bad(p, "[dashboard] needs both 'cert' and 'key' for HTTPS");
	if (!c->dashboard.cert[0] && (c->dashboard.client_ca[0] || c->dashboard.tokens[0]))
		return bad(p, "[dashboard] 'client-ca' and 'tokens' go with HTTPS ('cert' and 'key')");
	return KETEN_OK;
}

int keten_node_conf_parse(const char *text, size_t len, const char *name, keten_node_conf *out, keten_error *err)
{
	struct parse p = {.name = name ? name : "config", .c = out, .err = err};
	const char *b = text, *end = text + len;
	int rc = KETEN_OK;

	KETEN_ASSERT(out && (text || !len));
	memset(out, 0, sizeof *out);
	while (rc == KETEN_OK && b < end) {
		const char *e = memchr(b, '\n', (size_t)(end - b));
		if (!e)
			e = end;
		p.line++;
		rc = line(&p, b, e);
		b = e + (e < end);
	}
	if (rc == KETEN_OK)
		rc = whole(&p);
	if (rc) {
		unsigned at = out->line;
		memset(out, 0, sizeof *out);
		out->line = at;
	}
	return rc;
}

/* The edit --------------------------------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
	bool fail;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->fail)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->fail = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Is the line [b, e) "key = ..." (in a [peer] section)? */
static bool key_line(struct span s)
{
	const char *eq = s.b < s.e ? memchr(s.b, '=', (size_t)(s.e - s.b)) : NULL;
	struct span k;
	if (!eq || is_blank_or_comment(s))
		return false;
	k = trim(s.b, eq);
	return k.e - k.b == 3 && memcmp(k.b, "key", 3) == 0;
}

/* The lines of text, each [start, end of line including '\n'). */
struct lines {
	const char **at;
	size_t n;
};

static bool split(const char *text, size_t len, struct lines *L)
{
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	if (!(L->at = malloc((cap + 1) * sizeof *L->at)))
		return false;
	L->n = 0;
	for (const char *b = text, *end = text + len; b < end;) {
		const char *e = memchr(b, '\n', (size_t)(end - b));
		L->at[L->n++] = b;
		b = e ? e + 1 : end;
	}
	L->at[L->n] = text + len;
	return true;
}

static struct span line_span(const struct lines *L, size_t i)
{
	const char *e = L->at[i + 1];
	if (e > L->at[i] && e[-1] == '\n')
		e--;
	return trim(L->at[i], e);
}

/* The section of url: its header line *h and the end *e (the next header
 * or the end); false when there is none. */
static bool find_peer(const struct lines *L, const char *url, size_t *h, size_t *e)
{
	char u[KETEN_NODE_URL_MAX + 64];
	for (size_t i = 0; i < L->n; i++) {
		if (!peer_header(line_span(L, i), u, sizeof u) || strcmp(u, url) != 0)
			continue;
		*h = i;
		for (*e = i + 1; *e < L->n; (*e)++) {
			struct span s = line_span(L, *e);
			if (s.b < s.e && *s.b == '[')
				break;
		}
		return true;
	}
	return false;
}

static void put_lines(struct buf *b, const struct lines *L, size_t from, size_t to)
{
	if (from < to)
		put(b, L->at[from], (size_t)(L->at[to] - L->at[from]));
}

/* Add: the key line replaced or put after the header, or a new section. */
static void edit_add(struct buf *b, const struct lines *L, const char *text, size_t len, const char *url,
                     const char *keyl)
{
	size_t h, e, k;
	if (!find_peer(L, url, &h, &e)) {
		put_lines(b, L, 0, L->n);
		if (len && text[len - 1] != '\n')
			puts_(b, "\n");
		if (L->n && line_span(L, L->n - 1).b != line_span(L, L->n - 1).e)
			puts_(b, "\n");
		puts_(b, "[peer ");
		puts_(b, url);
		puts_(b, "]\n");
		if (keyl)
			puts_(b, keyl);
		return;
	}
	for (k = h + 1; k < e && !key_line(line_span(L, k)); k++)
		;
	if (!keyl) {
		put_lines(b, L, 0, L->n);
		return;
	}
	put_lines(b, L, 0, k < e ? k : h + 1);
	if (k == e && L->at[h + 1][-1] != '\n')
		puts_(b, "\n");
	puts_(b, keyl);
	put_lines(b, L, k < e ? k + 1 : h + 1, L->n);
}

/* Remove: the header and its key lines, with what lies between them, and a
 * blank line before the header. */
static void edit_remove(struct buf *b, const struct lines *L, const char *url)
{
	size_t h, e, last;
	struct span s;
	if (!find_peer(L, url, &h, &e)) {
		put_lines(b, L, 0, L->n);
		return;
	}
	last = h;
	for (size_t i = h + 1; i < e; i++)
		if (!is_blank_or_comment(line_span(L, i)))
			last = i;
	s = h ? line_span(L, h - 1) : (struct span){0};
	put_lines(b, L, 0, h && s.b == s.e ? h - 1 : h);
	put_lines(b, L, last + 1, L->n);
}

int kt_nodeconf_edit(const char *text, size_t len, const char *url, const uint8_t *key, bool add, char **out,
                     size_t *out_len, bool *changed, keten_error *err)
{
	struct buf b = {0};
	struct lines L;
	char keyl[80];

	*out = NULL;
	*out_len = 0;
	if (!split(text, len, &L))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if (key) {
		char hex[65];
		keten_hex(hex, key, 32);
		snprintf(keyl, sizeof keyl, "key = %s\n", hex);
	}
	put(&b, "", 0);
	if (add)
		edit_add(&b, &L, text, len, url, key ? keyl : NULL);
	else
		edit_remove(&b, &L, url);
	free(L.at);
	if (b.fail) {
		free(b.p);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	*changed = b.n != len || memcmp(b.p, text, len) != 0;
	*out = b.p;
	*out_len = b.n;
	return KETEN_OK;
}
