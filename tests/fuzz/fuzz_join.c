/*
 * fuzz_join.c — libFuzzer target for the join-file reader
 * (ledger/io/join_read.c).
 *
 * Any input goes through keten_join_read.  A failure must say why and
 * name a join rule (join-file, join-signature or join-chain) and leave
 * the output cleared; what is taken must be what a join file says: a
 * known version, a valid anchor and key, entries counted, nodes within
 * bounds and NUL-terminated.  Seeds: tests/fuzz/corpus/join/ (a real join
 * file, one with a TLS CA, and damaged ones).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keten.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[32];
	keten_join_info in;
	keten_error err = {0};

	if (keten_init_crypto() != KETEN_OK)
		abort();
	if (keten_join_read(data, size, &in, &err) != KETEN_OK) {
		if (err.code != KETEN_ERULE || strncmp(err.rule, "join-", 5) != 0 || !err.msg[0] || in.version != 0 ||
		    memcmp(in.anchor, zero, 32) != 0)
			abort();
		return 0;
	}
	if (in.version != KETEN_JOIN_VERSION || !keten_key_valid(in.anchor) || !keten_key_valid(in.key) ||
	    in.n_entries < 1 || in.n_nodes > KETEN_JOIN_MAX_NODES || !memchr(in.name, 0, sizeof in.name) ||
	    !memchr(in.anchor_name, 0, sizeof in.anchor_name))
		abort();
	for (size_t i = 0; i < in.n_nodes; i++)
		if (!keten_node_url_ok(in.nodes[i]) || !keten_key_valid(in.node_keys[i]))
			abort();
	return 0;
}
