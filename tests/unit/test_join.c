/*
 * test_join.c — the join file: a municipality invites a lead provider
 * (keten_join_invite) and the lead provider's home joins with the file
 * (keten_join_apply).  Every single byte changed, and every cut, is
 * refused by keten_join_read; a file re-signed by another key around the
 * municipality's certificates is refused (join-chain); a file for another
 * key is refused and changes nothing; a non-authority cannot invite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keten/keten.h"
#include "io/join.h"
#include "test_util.h"

struct home {
	char dir[256];
	keten_ledger *L;
	uint8_t key[32];
};

static struct fx {
	char root[128];
	struct home m, l, s, x;
	uint8_t *file;
	size_t len;
} * FX;

static void home_make(struct home *h, const char *sub, const char *name, const char *role)
{
	keten_home_info in = {0};
	keten_error err = {0};
	snprintf(h->dir, sizeof h->dir, "%s/%s", FX->root, sub);
	snprintf(in.name, sizeof in.name, "%s", name);
	snprintf(in.role, sizeof in.role, "%s", role);
	snprintf(in.municipality, sizeof in.municipality, "0405");
	if (keten_home_create(h->dir, NULL, &in, &err) || keten_ledger_open(h->dir, &h->L, &err) ||
	    keten_ledger_unlock(h->L, NULL, &err))
		fail_msg("home %s: %s", sub, err.msg);
	memcpy(h->key, keten_ledger_info(h->L)->key, 32);
}

/* An authority: its own anchor, certified in its role. */
static void self_anchor(struct home *h, const char *name)
{
	static const uint32_t role = KETEN_ROLE_MUNICIPALITY;
	const char *mun[1] = {"0405"};
	keten_draft d = {.kind = KETEN_DRAFT_CERTIFICATE};
	keten_error err = {0};
	memcpy(d.certificate.key, h->key, 32);
	d.certificate.name = name;
	d.certificate.roles = &role;
	d.certificate.n_roles = 1;
	d.certificate.municipalities = mun;
	d.certificate.n_municipalities = 1;
	if (keten_ledger_trust_add(h->L, h->key, name, &err) || keten_record(h->L, &d, 1, NULL, NULL, &err))
		fail_msg("anchor %s: %s", name, err.msg);
}

static int invite(struct home *by, const uint8_t key[32], uint8_t **out, size_t *len, keten_error *err)
{
	static const uint32_t role = KETEN_ROLE_LEAD_PROVIDER;
	const char *nodes[2] = {"tls+tcp://localhost:7400", "tcp://127.0.0.1:7401"};
	keten_invite in = {.nodes = nodes, .n_nodes = 2};
	memcpy(in.cert.key, key, 32);
	in.cert.name = "Zorg Hoofd";
	in.cert.roles = &role;
	in.cert.n_roles = 1;
	return keten_join_invite(by->L, &in, out, len, NULL, err);
}

static int setup(void **state)
{
	keten_error err = {0};
	(void)state;
	FX = calloc(1, sizeof *FX);
	snprintf(FX->root, sizeof FX->root, "/tmp/keten-test-join-%d", (int)getpid());
	test_rm_rf(FX->root);
	home_make(&FX->m, "m", "Gemeente Hoorn", "municipality");
	home_make(&FX->l, "l", "Zorg Hoofd", "lead-provider");
	home_make(&FX->s, "s", "Zorg Onder", "subcontractor");
	home_make(&FX->x, "x", "Gemeente Nergens", "municipality");
	self_anchor(&FX->m, "Gemeente Hoorn");
	self_anchor(&FX->x, "Gemeente Nergens");
	if (invite(&FX->m, FX->l.key, &FX->file, &FX->len, &err))
		fail_msg("invite: %s", err.msg);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	keten_ledger_close(FX->m.L);
	keten_ledger_close(FX->l.L);
	keten_ledger_close(FX->s.L);
	keten_ledger_close(FX->x.L);
	test_rm_rf(FX->root);
	free(FX->file);
	free(FX);
	return 0;
}

static void test_read(void **state)
{
	keten_join_info in;
	keten_error err = {0};
	(void)state;
	assert_int_equal(keten_join_read(FX->file, FX->len, &in, &err), KETEN_OK);
	assert_memory_equal(in.anchor, FX->m.key, 32);
	assert_memory_equal(in.key, FX->l.key, 32);
	assert_string_equal(in.anchor_name, "Gemeente Hoorn");
	assert_string_equal(in.roles, "lead-provider");
	assert_int_equal(in.n_entries, 2); /* its self-certificate and the new one */
	assert_int_equal(in.n_nodes, 2);
	assert_string_equal(in.nodes[0], "tls+tcp://localhost:7400");
	assert_memory_equal(in.node_keys[1], FX->m.key, 32);
}

/* Every byte, changed in one bit or in all, and every cut: refused. */
static void test_every_byte(void **state)
{
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	uint8_t *b = malloc(FX->len);
	keten_join_info in;
	keten_error err = {0};
	size_t refused = 0;
	(void)state;
	assert_non_null(b);
	for (size_t i = 0; i < FX->len; i++)
		for (size_t f = 0; f < sizeof flips; f++) {
			memcpy(b, FX->file, FX->len);
			b[i] ^= flips[f];
			if (keten_join_read(b, FX->len, &in, &err) == KETEN_ERULE && strncmp(err.rule, "join-", 5) == 0)
				refused++;
			else
				fail_msg("byte %zu ^ 0x%02x was taken", i, flips[f]);
		}
	for (size_t n = 0; n < FX->len; n++)
		assert_int_equal(keten_join_read(FX->file, n, &in, &err), KETEN_ERULE);
	assert_int_equal(refused, FX->len * sizeof flips);
	free(b);
}

/* The municipality's certificates in a file made and signed by another
 * anchor: the signature holds, the chain does not. */
static void test_other_anchor(void **state)
{
	Keten__Join__JoinBody *b;
	Keten__Join__JoinFile f = KETEN__JOIN__JOIN_FILE__INIT;
	keten_join_info in;
	keten_error err = {0};
	uint8_t *body, *msg, *out, sig[64];
	size_t bl, ol;
	(void)state;
	assert_int_equal(kt_join_decode(FX->file, FX->len, &in, &b, &err), KETEN_OK);
	memcpy(b->anchor.data, FX->x.key, 32);
	bl = keten__join__join_body__get_packed_size(b);
	body = malloc(bl);
	msg = malloc(KT_JOIN_SIG_CONTEXT_LEN + bl);
	keten__join__join_body__pack(b, body);
	kt_join_sig_msg(body, bl, msg);
	assert_int_equal(keten_keypair_sign(keten_ledger_keypair(FX->x.L), sig, msg, KT_JOIN_SIG_CONTEXT_LEN + bl), 0);
	f.body.data = body;
	f.body.len = bl;
	f.signature.data = sig;
	f.signature.len = 64;
	ol = keten__join__join_file__get_packed_size(&f);
	out = malloc(ol);
	keten__join__join_file__pack(&f, out);
	assert_int_equal(keten_join_read(out, ol, &in, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "join-chain");
	assert_int_equal(keten_join_apply(FX->l.L, out, ol, NULL, &in, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "join-chain");
	keten__join__join_body__free_unpacked(b, NULL);
	free(body);
	free(msg);
	free(out);
}

static int count_cb(const uint8_t k[32], const char *name, void *ctx)
{
	(void)k;
	(void)name;
	(*(int *)ctx)++;
	return 0;
}

static int anchors(struct home *h)
{
	keten_txn *t;
	int n = 0;
	assert_int_equal(keten_store_read(keten_ledger_store(h->L), &t, NULL), KETEN_OK);
	keten_trust_each(t, count_cb, &n, NULL);
	keten_txn_end(t);
	return n;
}

/* The file for the lead provider, taken by the subcontractor: refused,
 * and the subcontractor's home holds no anchor, entry or peer after. */
static void test_other_key(void **state)
{
	keten_join_info in;
	keten_error err = {0};
	char **urls;
	size_t n;
	keten_txn *t;
	uint64_t seq = 0;
	(void)state;
	assert_int_equal(keten_join_apply(FX->s.L, FX->file, FX->len, NULL, &in, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "join-other-key");
	assert_int_equal(anchors(&FX->s), 0);
	assert_int_equal(keten_node_peers(FX->s.L, &urls, &n, &err), KETEN_OK);
	assert_int_equal(n, 0);
	keten_node_peers_free(urls, n);
	assert_int_equal(keten_store_read(keten_ledger_store(FX->s.L), &t, NULL), KETEN_OK);
	assert_int_not_equal(keten_store_head(t, FX->m.key, &seq, NULL, NULL) == KETEN_OK && seq > 0, true);
	keten_txn_end(t);
}

static void test_apply(void **state)
{
	keten_join_info in;
	keten_error err = {0};
	keten_status st;
	keten_pin_kind kind;
	uint8_t key[32], bad[32];
	keten_txn *t;
	(void)state;
	memcpy(bad, FX->x.key, 32);
	assert_int_equal(keten_join_apply(FX->l.L, FX->file, FX->len, bad, &in, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "join-anchor");
	assert_int_equal(anchors(&FX->l), 0);
	assert_int_equal(keten_join_apply(FX->l.L, FX->file, FX->len, FX->m.key, &in, &err), KETEN_OK);
	assert_int_equal(anchors(&FX->l), 1);
	assert_int_equal(in.added, 2);
	assert_int_equal(in.peers_added, 2);
	assert_int_equal(keten_node_pin_get(FX->l.L, "tls+tcp://localhost:7400", key, &kind, &err), KETEN_OK);
	assert_int_equal(kind, KETEN_PIN_SET);
	assert_memory_equal(key, FX->m.key, 32);
	assert_int_equal(keten_store_read(keten_ledger_store(FX->l.L), &t, NULL), KETEN_OK);
	assert_int_equal(keten_store_status(t, in.certificate, &st, NULL, 0, NULL), KETEN_OK);
	keten_txn_end(t);
	assert_int_equal(st, KS_APPLIED);
}

/* A lead provider is no authority, nor is a municipality not anchored in itself. */
static void test_not_authority(void **state)
{
	uint8_t *out = NULL;
	size_t len = 0;
	keten_error err = {0};
	(void)state;
	assert_int_equal(invite(&FX->l, FX->s.key, &out, &len, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "invite-not-authority");
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),         cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_other_anchor), cmocka_unit_test(test_other_key),
		cmocka_unit_test(test_apply),        cmocka_unit_test(test_not_authority),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
