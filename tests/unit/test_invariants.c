/*
 * test_invariants.c — unit tests for the library's two guards that no input
 * may get around: KETEN_ASSERT (ledger/base/base.h), which stops the
 * process on a broken invariant with "keten: assertion failed: COND
 * (FILE:LINE, FUNCTION)" and SIGABRT, and keten_key_valid, the one
 * Ed25519 key check, which refuses the identity, every small-order point,
 * non-canonical encodings and points outside the prime-order group.
 * Every place that takes a key is tested with those weak keys: trust
 * anchors, party certificates, the parties of a ruling's adjustments and
 * the author of a feed received for the first time (the keystore's key is
 * tested in test_keystore.c).
 *
 * main sets KETEN_PWHASH_FAST=1 so the keystore's Argon2id is quick.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "keten/keten.h"
#include "proto/keten.pb-c.h"
#include "state/state.h"
#include "base/base.h"
#include "test_util.h"

/* --- KETEN_ASSERT ----------------------------------------------------------- */

/* Run fn(arg) in a child with stderr on a pipe; *sig receives the signal
 * that ended it (0 when it exited) and the return value is what it wrote
 * on stderr (malloc'd). */
static char *in_child(void (*fn)(void *), void *arg, int *sig)
{
	int fd[2], status = 0;
	char *out = calloc(1, 4096);
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	assert_non_null(out);
	assert_int_equal(pipe(fd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 2);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	while (got < 4095 && (n = read(fd[0], out + got, 4095 - got)) > 0)
		got += (size_t)n;
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	*sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	return out;
}

static void fail_in_test(void *arg)
{
	int two = *(int *)arg;
	KETEN_ASSERT(two + two == 5);
}
static const int fail_line = __LINE__ - 2; /* the line of the KETEN_ASSERT above */

static void hold_in_test(void *arg)
{
	int two = *(int *)arg;
	KETEN_ASSERT(two + two == 4);
}

/* The macro itself: the message names the condition, file, line and
 * function, and the process dies of SIGABRT; a condition that holds costs
 * nothing and says nothing. */
static void test_assert_message(void **state)
{
	int two = 2, sig;
	char want[512], *got;

	(void)state;
	got = in_child(fail_in_test, &two, &sig);
	assert_int_equal(sig, SIGABRT);
	snprintf(want, sizeof want, "keten: assertion failed: two + two == 5 (%s:%d, fail_in_test)\n", __FILE__,
	         fail_line);
	assert_string_equal(got, want);
	free(got);

	got = in_child(hold_in_test, &two, &sig);
	assert_int_equal(sig, 0);
	assert_string_equal(got, "");
	free(got);
}

static void kt_fail_direct(void *arg)
{
	(void)arg;
	kt_assert_fail("x > 0", "ledger/some/file.c", 42, "some_function");
}

/* kt_assert_fail prints exactly one line in that form and aborts. */
static void test_assert_fail_format(void **state)
{
	int sig;
	char *got = in_child(kt_fail_direct, NULL, &sig);

	(void)state;
	assert_int_equal(sig, SIGABRT);
	assert_string_equal(got, "keten: assertion failed: x > 0 (ledger/some/file.c:42, some_function)\n");
	free(got);
}

/* A caller bug inside the library: a claim record put under the payment kind. */
static void put_under_wrong_kind(void *arg)
{
	Keten__State__ClaimState ks = KETEN__STATE__CLAIM_STATE__INIT;
	uint8_t id[32] = {7};
	(void)arg;
	ks.id.data = id;
	ks.id.len = 32;
	/* the check comes before the transaction is touched */
	kt_state_put(NULL, DK_PAYMENT, id, &ks, NULL);
}

/* A record put under an id that is not its own. */
static void put_under_wrong_id(void *arg)
{
	Keten__State__ClaimState ks = KETEN__STATE__CLAIM_STATE__INIT;
	uint8_t id[32] = {7}, other[32] = {8};
	(void)arg;
	ks.id.data = id;
	ks.id.len = 32;
	kt_state_put(NULL, DK_CLAIM, other, &ks, NULL);
}

/* "keten: assertion failed: COND (ledger/state/state.c:N, kt_state_put)\n" with N > 0. */
static void expect_state_put_assert(const char *got, const char *cond)
{
	char prefix[256];
	const char *tail = ", kt_state_put)\n", *p;
	size_t lg = strlen(got), lt = strlen(tail);
	long line;
	char *end;

	snprintf(prefix, sizeof prefix, "keten: assertion failed: %s (ledger/state/state.c:", cond);
	assert_true(strncmp(got, prefix, strlen(prefix)) == 0);
	p = got + strlen(prefix);
	line = strtol(p, &end, 10);
	assert_true(line > 0 && end > p);
	assert_true(lg > lt && strcmp(got + lg - lt, tail) == 0);
	assert_ptr_equal(end, got + lg - lt);
}

static void test_library_assert_aborts(void **state)
{
	int sig;
	char *got;

	(void)state;
	got = in_child(put_under_wrong_kind, NULL, &sig);
	assert_int_equal(sig, SIGABRT);
	expect_state_put_assert(got, "record_descriptor(kind) != NULL && record_descriptor(kind) == m->descriptor");
	free(got);
	got = in_child(put_under_wrong_id, NULL, &sig);
	assert_int_equal(sig, SIGABRT);
	expect_state_put_assert(got, "record_id_ok(m, id)");
	free(got);
}

/* --- keten_key_valid ------------------------------------------------------- */

/* The eight points of small order (libsodium's blocklist), encodings that
 * are not canonical, and a y with no point on the curve. */
static const char *const weak_hex[] = {
	"0100000000000000000000000000000000000000000000000000000000000000", /* identity, order 1 */
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* order 2 */
	"0000000000000000000000000000000000000000000000000000000000000000", /* order 4 */
	"0000000000000000000000000000000000000000000000000000000000000080", /* order 4 */
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", /* order 8 */
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", /* order 8 */
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", /* order 8 */
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", /* order 8 */
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* y = p: not canonical */
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* y = p + 1: not canonical */
	"0200000000000000000000000000000000000000000000000000000000000000", /* y = 2: not on the curve */
};
#define N_WEAK (sizeof weak_hex / sizeof *weak_hex)
#define N_KEYS (N_WEAK + 1)

/* weak[0..N_WEAK) from weak_hex, and weak[N_WEAK]: a valid key plus a point
 * of order 8, on the curve but outside the prime-order group. */
static void weak_keys(uint8_t weak[N_KEYS][32])
{
	uint8_t pk[32], sk[64];

	for (size_t i = 0; i < N_WEAK; i++)
		assert_int_equal(keten_unhex(weak[i], 32, weak_hex[i]), KETEN_OK);
	assert_int_equal(crypto_sign_keypair(pk, sk), 0);
	assert_int_equal(crypto_core_ed25519_add(weak[N_WEAK], pk, weak[4]), 0);
	assert_true(crypto_core_ed25519_is_valid_point(weak[N_WEAK]) == 0);
}

static void test_key_valid(void **state)
{
	uint8_t weak[N_KEYS][32], pk[32], sk[64];

	(void)state;
	weak_keys(weak);
	for (size_t i = 0; i < N_KEYS; i++)
		if (keten_key_valid(weak[i]))
			fail_msg("weak key %zu accepted", i);
	assert_false(keten_key_valid(NULL));
	for (int i = 0; i < 16; i++) {
		assert_int_equal(crypto_sign_keypair(pk, sk), 0);
		assert_true(keten_key_valid(pk));
	}
}

/* --- every place that takes a key ----------------------------------------- */

struct fx {
	char base[64], a[96], b[96];
	keten_ledger *A, *B;
	uint8_t weak[N_KEYS][32];
};

static void make_home(const char *dir, const char *name, const char *role, keten_ledger **out)
{
	keten_home_info in = {0};
	keten_error err = {0};
	snprintf(in.name, sizeof in.name, "%s", name);
	snprintf(in.role, sizeof in.role, "%s", role);
	assert_int_equal(keten_home_create(dir, NULL, &in, &err), KETEN_OK);
	assert_int_equal(keten_ledger_open(dir, out, &err), KETEN_OK);
	assert_int_equal(keten_ledger_unlock(*out, NULL, &err), KETEN_OK);
}

static const uint8_t *key_of(keten_ledger *L)
{
	return keten_ledger_info(L)->key;
}

static int append_one(keten_ledger *L, uint32_t type, const ProtobufCMessage *m, keten_error *err)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *body = malloc(len ? len : 1);
	keten_append a = {.body_type = type, .body = body, .body_len = len};
	int rc;

	assert_non_null(body);
	protobuf_c_message_pack(m, body);
	rc = keten_ledger_append(L, &a, 1, NULL, err);
	free(body);
	return rc;
}

static int certify(keten_ledger *L, const uint8_t key[32], uint32_t role, keten_error *err)
{
	Keten__PartyCertificate pc = KETEN__PARTY_CERTIFICATE__INIT;
	uint32_t roles[1] = {role};
	pc.key.data = (uint8_t *)key;
	pc.key.len = 32;
	pc.name = "Partij";
	pc.n_roles = 1;
	pc.roles = roles;
	return append_one(L, KETEN__BODY_TYPE__PARTY_CERTIFICATE, &pc.base, err);
}

/* Home A: a municipality, its own trust anchor and certified as such. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	keten_error err = {0};

	if (!f)
		return -1;
	snprintf(f->base, sizeof f->base, "/tmp/keten-inv-XXXXXX");
	if (!mkdtemp(f->base))
		return -1;
	snprintf(f->a, sizeof f->a, "%s/a", f->base);
	snprintf(f->b, sizeof f->b, "%s/b", f->base);
	make_home(f->a, "Gemeente", "municipality", &f->A);
	make_home(f->b, "Zorg BV", "lead-provider", &f->B);
	if (keten_ledger_trust_add(f->A, key_of(f->A), "Gemeente", &err) ||
	    certify(f->A, key_of(f->A), KETEN__ROLE__MUNICIPALITY, &err))
		return -1;
	weak_keys(f->weak);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	keten_ledger_close(f->A);
	keten_ledger_close(f->B);
	test_rm_rf(f->base);
	free(f);
	return 0;
}

static void test_trust_refuses_weak_keys(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};

	for (size_t i = 0; i < N_KEYS; i++) {
		keten_error_clear(&err);
		if (keten_ledger_trust_add(f->A, f->weak[i], "zwak", &err) != KETEN_EINVAL)
			fail_msg("weak key %zu trusted", i);
		assert_non_null(strstr(err.msg, "not a valid Ed25519 public key"));
	}
	assert_int_equal(keten_ledger_trust_add(f->A, key_of(f->B), "Zorg BV", &err), KETEN_OK);
}

static void test_certificate_refuses_weak_keys(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};

	for (size_t i = 0; i < N_KEYS; i++) {
		keten_error_clear(&err);
		if (certify(f->A, f->weak[i], KETEN__ROLE__LEAD_PROVIDER, &err) != KETEN_ERULE)
			fail_msg("weak key %zu certified", i);
		assert_string_equal(err.rule, "invalid-key");
	}
	assert_int_equal(certify(f->A, key_of(f->B), KETEN__ROLE__LEAD_PROVIDER, &err), KETEN_OK);
}

static int rule_with(keten_ledger *L, const uint8_t debtor[32], const uint8_t creditor[32], keten_error *err)
{
	Keten__Ruling r = KETEN__RULING__INIT;
	Keten__Adjustment x = KETEN__ADJUSTMENT__INIT, *xs[1] = {&x};
	uint8_t dispute[32] = {0x44};

	r.dispute.data = dispute;
	r.dispute.len = 32;
	r.decision = "toegewezen";
	x.debtor.data = (uint8_t *)debtor;
	x.debtor.len = 32;
	x.creditor.data = (uint8_t *)creditor;
	x.creditor.len = 32;
	x.amount_cents = 10000;
	r.n_adjustments = 1;
	r.adjustments = xs;
	return append_one(L, KETEN__BODY_TYPE__RULING, &r.base, err);
}

/* The parties of a ruling's adjustments are checked before the dispute is looked up. */
static void test_ruling_refuses_weak_keys(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};

	for (size_t i = 0; i < N_KEYS; i++) {
		keten_error_clear(&err);
		assert_int_equal(rule_with(f->A, f->weak[i], key_of(f->B), &err), KETEN_ERULE);
		assert_string_equal(err.rule, "invalid-key");
		keten_error_clear(&err);
		assert_int_equal(rule_with(f->A, key_of(f->B), f->weak[i], &err), KETEN_ERULE);
		assert_string_equal(err.rule, "invalid-key");
	}
	/* with valid keys the ruling gets as far as its dispute, which is not here */
	assert_int_equal(rule_with(f->A, key_of(f->B), key_of(f->A), &err), KETEN_ERULE);
	assert_string_equal(err.rule, "unknown-reference");
}

/* Entry bytes of seq 1 by author (any 32 bytes), with a signature that does not hold. */
static uint8_t *entry_by(const uint8_t author[32], size_t *len)
{
	static const uint8_t body[] = {0x0a, 0x01, 0x78};
	Keten__Header h = KETEN__HEADER__INIT;
	uint8_t bh[32], sig[64], *hb, *raw;
	size_t hl;

	memset(sig, 0, sizeof sig);
	sig[0] = 1;
	keten_hash(bh, body, sizeof body);
	h.author.data = (uint8_t *)author;
	h.author.len = 32;
	h.seq = 1;
	h.timestamp_ms = 1700000000000;
	h.body_type = KETEN__BODY_TYPE__DELIVERY;
	h.body_hash.data = bh;
	h.body_hash.len = 32;
	hl = keten__header__get_packed_size(&h);
	hb = malloc(hl);
	assert_non_null(hb);
	keten__header__pack(&h, hb);
	assert_int_equal(keten_entry_frame(hb, hl, sig, body, sizeof body, true, NULL, &raw, len), KETEN_OK);
	free(hb);
	return raw;
}

/* The first entry of a feed received here: its author's key is checked
 * before its signature (which libsodium would refuse too: ESIG, not this). */
static void test_ingest_refuses_weak_authors(void **state)
{
	struct fx *f = *state;
	keten_error err = {0};
	keten_ingest_stats st;
	keten_blob b;
	size_t len;

	for (size_t i = 0; i < N_KEYS; i++) {
		uint8_t *raw = entry_by(f->weak[i], &len);
		keten_entry e;
		int rc = keten_entry_parse(raw, len, &e, NULL);
		if (rc != KETEN_OK) {
			/* not even an entry (today every weak key parses) */
			free(raw);
			continue;
		}
		keten_entry_release(&e);
		b.data = raw;
		b.len = len;
		keten_error_clear(&err);
		rc = keten_ledger_ingest(f->A, &b, 1, true, &st, &err);
		if (rc != KETEN_EMALFORMED)
			fail_msg("weak author %zu: ingest gave %d (%s)", i, rc, err.msg);
		assert_non_null(strstr(err.msg, "is not a valid Ed25519 key"));
		free(raw);
	}
	/* a valid author with a bad signature gets as far as the signature */
	{
		uint8_t *raw = entry_by(key_of(f->B), &len);
		b.data = raw;
		b.len = len;
		assert_int_equal(keten_ledger_ingest(f->A, &b, 1, true, &st, &err), KETEN_ESIG);
		free(raw);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assert_message),
		cmocka_unit_test(test_assert_fail_format),
		cmocka_unit_test(test_library_assert_aborts),
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test_setup_teardown(test_trust_refuses_weak_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate_refuses_weak_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ruling_refuses_weak_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_refuses_weak_authors, setup, teardown),
	};
	setenv("KETEN_PWHASH_FAST", "1", 1);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
