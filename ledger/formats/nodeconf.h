/*
 * nodeconf.h — (internal) the node's config file as text (nodeconf.c):
 * the checks a URL in it must pass, and the edit that adds or removes one
 * [peer URL] section while every other line stays as it was.  The parser
 * itself is public (keten_node_conf_parse, keten/node.h).
 */
#ifndef KETEN_FORMATS_NODECONF_H
#define KETEN_FORMATS_NODECONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keten/keten.h"

/* A URL a config may name: keten_node_url_ok, something after the
 * scheme, and no space or control character. */
bool kt_nodeconf_url_ok(const char *url);

/*
 * The text of a config (which parses) with url's [peer URL] section added
 * (add: key pinned when not NULL, kept otherwise) or removed, into *out
 * (malloc'd, NUL-terminated, *out_len bytes; the caller frees it) and
 * whether it differs from text into *changed.  Errors: KETEN_ENOMEM.
 */
int kt_nodeconf_edit(const char *text, size_t len, const char *url, const uint8_t *key, bool add, char **out,
                     size_t *out_len, bool *changed, keten_error *err);

#endif
