/*
 * fuzz_nodeconf.c — libFuzzer target for the node's config reader: any
 * bytes go to keten_node_conf_parse.  A failure must carry "NAME:LINE: "
 * with the line in out->line and keep nothing; a success must hold only
 * URLs a node can use, within the limits.  A text that parses is then
 * edited as `keten peer add|remove --config` does: a peer added (with a
 * key) must parse and be there with its key and every other setting as
 * before; removed again it must be gone.  Seeds: tests/fuzz/corpus/nodeconf/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keten.h"
#include "keten/node.h"
#include "formats/nodeconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = {0x33, 0xf4, 0x6b, 0xa7, 0x41, 0xde, 0x83, 0xa8, 0x78, 0x4f, 0x3f,
                                0x64, 0x9e, 0x23, 0x91, 0xda, 0xe5, 0xfd, 0xdc, 0xec, 0xe9, 0x0f,
                                0xd0, 0x9a, 0x39, 0x04, 0x95, 0x2f, 0xca, 0x88, 0xd6, 0x68};
#define URL "tcp://127.0.0.1:7999"

static void check_ok(const keten_node_conf *c)
{
	if (c->line || c->n_listen > KETEN_NODE_MAX_URLS || c->n_peers > KETEN_NODE_MAX_URLS)
		abort();
	for (size_t i = 0; i < c->n_listen; i++)
		if (!kt_nodeconf_url_ok(c->listen[i]))
			abort();
	for (size_t i = 0; i < c->n_peers; i++)
		if (!kt_nodeconf_url_ok(c->peers[i].url) || !c->peers[i].line)
			abort();
}

/* Edit c's text (data) for URL; the result parses into e. */
static char *edited(const char *text, size_t len, bool add, keten_node_conf *e, size_t *n)
{
	keten_error err;
	char *out;
	bool changed;
	if (kt_nodeconf_edit(text, len, URL, add ? key : NULL, add, &out, n, &changed, &err))
		abort(); /* out of memory alone */
	if (keten_node_conf_parse(out, *n, "e", e, &err))
		abort();
	return out;
}

static bool has_peer(const keten_node_conf *c, bool with_key)
{
	for (size_t i = 0; i < c->n_peers; i++)
		if (strcmp(c->peers[i].url, URL) == 0)
			return !with_key || (c->peers[i].has_key && memcmp(c->peers[i].key, key, 32) == 0);
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	keten_node_conf *c = malloc(sizeof *c), *e = malloc(sizeof *e);
	keten_error err;
	char *out, *back;
	size_t n, m;

	if (!c || !e)
		abort();
	if (keten_node_conf_parse((const char *)data, size, "f", c, &err)) {
		char at[32];
		snprintf(at, sizeof at, "f:%u: ", c->line);
		if (err.code != KETEN_EMALFORMED || !c->line || strncmp(err.msg, at, strlen(at)) != 0 || c->n_listen ||
		    c->n_peers)
			abort();
	} else if (c->n_peers < KETEN_NODE_MAX_URLS) {
		check_ok(c);
		out = edited((const char *)data, size, true, e, &n);
		if (!has_peer(e, true) || e->n_listen != c->n_listen || e->interval_s != c->interval_s ||
		    memcmp(&e->dashboard, &c->dashboard, sizeof c->dashboard) != 0 || strcmp(e->tls_ca, c->tls_ca) != 0)
			abort();
		back = edited(out, n, false, e, &m);
		if (has_peer(e, false) || e->n_listen != c->n_listen)
			abort();
		free(back);
		free(out);
	}
	free(c);
	free(e);
	return 0;
}
