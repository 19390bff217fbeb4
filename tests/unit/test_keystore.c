/*
 * test_keystore.c — unit tests for ledger/keystore.c: create and open,
 * wrong passphrases, file mode, refusal of every damaged or truncated
 * file, unprotected stores, peek and release; no core dump once a key is
 * made or opened (dumpable off, core size 0 soft and hard, as
 * /proc/self/limits and prctl say).
 *
 * main sets KETEN_PWHASH_FAST=1 so Argon2id runs at its minimum limits;
 * one test creates a store with the real interactive limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "keten/keten.h"
#include "keten/keystore.h"

#define FILE_LEN  178u /* the version-1 file size */
#define OFF_FLAGS 9u
#define OFF_PK    10u
#define OFF_OPS   58u
#define OFF_MEM   66u
#define OFF_CT    98u

#define PASS "correct horse battery staple"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/keten-ks-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof f->path, "%s/key", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	if (d) {
		struct dirent *e;
		char p[sizeof f->dir + sizeof e->d_name + 2];
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void sibling(const struct fixture *f, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", f->dir, name);
}

static size_t read_all(const char *path, uint8_t *buf, size_t cap)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	size_t n = fread(buf, 1, cap, fp);
	fclose(fp);
	return n;
}

static void write_all(const char *path, const uint8_t *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	if (len)
		assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void assert_signs_for(const keten_keypair *kp, const uint8_t pk[32])
{
	static const uint8_t msg[] = "declaratie 2024-03 zorgaanbieder 42";
	uint8_t sig[64];

	assert_int_equal(keten_keypair_sign(kp, sig, msg, sizeof msg), KETEN_OK);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, pk), 0);
	/* A changed message must not verify. */
	uint8_t other[sizeof msg];
	memcpy(other, msg, sizeof msg);
	other[0] ^= 1;
	assert_int_not_equal(crypto_sign_verify_detached(sig, other, sizeof other, pk), 0);
}

static void assert_open_fails(const char *path, const char *pass)
{
	keten_keypair kp;
	keten_error err;
	memset(&kp, 0xa5, sizeof kp); /* must be cleared */
	keten_error_clear(&err);

	int rc = keten_keystore_open(path, pass, &kp, &err);
	if (rc != KETEN_EPASS && rc != KETEN_EMALFORMED)
		fail_msg("open returned %d (%s)", rc, err.msg);
	assert_int_equal(err.code, rc);
	assert_true(err.msg[0] != '\0');
	assert_true(all_zero(&kp, sizeof kp));
}

static void test_roundtrip(void **state)
{
	struct fixture *f = *state;
	keten_keypair made = {0}, opened = {0};
	keten_error err;
	keten_error_clear(&err);

	assert_int_equal(keten_keystore_create(f->path, PASS, &made, &err), KETEN_OK);
	assert_non_null(made.sk);
	assert_false(made.unprotected);
	assert_false(all_zero(made.pk, sizeof made.pk));
	assert_signs_for(&made, made.pk);

	assert_int_equal(keten_keystore_open(f->path, PASS, &opened, &err), KETEN_OK);
	assert_memory_equal(opened.pk, made.pk, 32);
	assert_false(opened.unprotected);
	assert_signs_for(&opened, made.pk);

	/* Ed25519 is deterministic: both copies sign identically. */
	uint8_t s1[64], s2[64];
	assert_int_equal(keten_keypair_sign(&made, s1, (const uint8_t *)"x", 1), 0);
	assert_int_equal(keten_keypair_sign(&opened, s2, (const uint8_t *)"x", 1), 0);
	assert_memory_equal(s1, s2, 64);

	/* An empty message signs too. */
	assert_int_equal(keten_keypair_sign(&opened, s1, NULL, 0), 0);
	assert_int_equal(crypto_sign_verify_detached(s1, NULL, 0, made.pk), 0);

	keten_keypair_release(&made);
	keten_keypair_release(&opened);
}

static void test_two_stores_differ(void **state)
{
	struct fixture *f = *state;
	char other[160];
	keten_keypair a = {0}, b = {0};
	sibling(f, "other", other, sizeof other);

	assert_int_equal(keten_keystore_create(f->path, PASS, &a, NULL), KETEN_OK);
	assert_int_equal(keten_keystore_create(other, PASS, &b, NULL), KETEN_OK);
	assert_memory_not_equal(a.pk, b.pk, 32);

	/* Same passphrase, but salt and nonce differ: the files differ. */
	uint8_t fa[FILE_LEN + 1], fb[FILE_LEN + 1];
	assert_int_equal(read_all(f->path, fa, sizeof fa), FILE_LEN);
	assert_int_equal(read_all(other, fb, sizeof fb), FILE_LEN);
	assert_memory_not_equal(fa + OFF_PK + 32, fb + OFF_PK + 32, 16);

	/* Swapping in the other store's public key is caught. */
	memcpy(fa + OFF_PK, fb + OFF_PK, 32);
	write_all(f->path, fa, FILE_LEN);
	assert_open_fails(f->path, PASS);

	keten_keypair_release(&a);
	keten_keypair_release(&b);
}

static void test_wrong_passphrase(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp = {0};
	keten_error err;

	assert_int_equal(keten_keystore_create(f->path, PASS, &kp, NULL), KETEN_OK);
	keten_keypair_release(&kp);

	memset(&kp, 0xa5, sizeof kp);
	keten_error_clear(&err);
	assert_int_equal(keten_keystore_open(f->path, PASS "!", &kp, &err), KETEN_EPASS);
	assert_int_equal(err.code, KETEN_EPASS);
	assert_non_null(strstr(err.msg, "wrong passphrase"));
	assert_non_null(strstr(err.msg, f->path));
	assert_true(all_zero(&kp, sizeof kp));

	/* No passphrase for a protected store is a wrong one. */
	assert_int_equal(keten_keystore_open(f->path, NULL, &kp, &err), KETEN_EPASS);
	assert_true(all_zero(&kp, sizeof kp));
	assert_int_equal(keten_keystore_open(f->path, "", &kp, &err), KETEN_EPASS);
	assert_true(all_zero(&kp, sizeof kp));

	/* A null error record is allowed. */
	assert_int_equal(keten_keystore_open(f->path, "nope", &kp, NULL), KETEN_EPASS);

	/* The right one still works afterwards. */
	assert_int_equal(keten_keystore_open(f->path, PASS, &kp, &err), KETEN_OK);
	keten_keypair_release(&kp);
}

static void test_mode_0600(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp = {0};
	struct stat st;

	mode_t old = umask(0); /* even a permissive umask gives 0600 */
	int rc = keten_keystore_create(f->path, PASS, &kp, NULL);
	umask(old);
	assert_int_equal(rc, KETEN_OK);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, FILE_LEN);
	keten_keypair_release(&kp);
}

static void test_eexist(void **state)
{
	struct fixture *f = *state;
	keten_keypair a = {0}, b;
	keten_error err;
	uint8_t before[FILE_LEN + 1], after[FILE_LEN + 1];

	assert_int_equal(keten_keystore_create(f->path, PASS, &a, NULL), KETEN_OK);
	assert_int_equal(read_all(f->path, before, sizeof before), FILE_LEN);

	memset(&b, 0xa5, sizeof b);
	keten_error_clear(&err);
	assert_int_equal(keten_keystore_create(f->path, "other", &b, &err), KETEN_EEXIST);
	assert_int_equal(err.code, KETEN_EEXIST);
	assert_non_null(strstr(err.msg, f->path));
	assert_true(all_zero(&b, sizeof b));
	assert_int_equal(keten_keystore_create(f->path, NULL, &b, &err), KETEN_EEXIST);

	/* The existing file is untouched. */
	assert_int_equal(read_all(f->path, after, sizeof after), FILE_LEN);
	assert_memory_equal(before, after, FILE_LEN);
	keten_keypair_release(&a);
}

static void test_missing(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp;
	keten_error err;
	uint8_t pk[32];
	bool unprot = true;
	char nodir[200];

	memset(&kp, 0xa5, sizeof kp);
	assert_int_equal(keten_keystore_open(f->path, PASS, &kp, &err), KETEN_ENOTFOUND);
	assert_int_equal(err.code, KETEN_ENOTFOUND);
	assert_true(all_zero(&kp, sizeof kp));
	memset(pk, 0xa5, sizeof pk);
	assert_int_equal(keten_keystore_peek(f->path, pk, &unprot, &err), KETEN_ENOTFOUND);
	assert_true(all_zero(pk, sizeof pk));
	assert_false(unprot);

	/* Create does not make directories. */
	snprintf(nodir, sizeof nodir, "%s/no/such/dir/key", f->dir);
	keten_error_clear(&err);
	assert_int_equal(keten_keystore_create(nodir, PASS, &kp, &err), KETEN_EIO);
	assert_int_not_equal(err.sys, 0);
	assert_true(all_zero(&kp, sizeof kp));
}

/* Flip every byte of a file (two ways) and require open to refuse it. */
static void flip_every_byte(const char *path, const char *pass)
{
	uint8_t orig[FILE_LEN + 1], bad[FILE_LEN];
	static const uint8_t masks[] = {0x01, 0x80, 0xff};

	assert_int_equal(read_all(path, orig, sizeof orig), FILE_LEN);
	for (size_t off = 0; off < FILE_LEN; off++) {
		for (size_t m = 0; m < sizeof masks; m++) {
			memcpy(bad, orig, FILE_LEN);
			bad[off] ^= masks[m];
			write_all(path, bad, FILE_LEN);
			assert_open_fails(path, pass);
		}
	}
	write_all(path, orig, FILE_LEN);
}

static void test_flip_every_byte(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp = {0};

	assert_int_equal(keten_keystore_create(f->path, PASS, &kp, NULL), KETEN_OK);
	keten_keypair_release(&kp);
	flip_every_byte(f->path, PASS);
	/* Restored, it opens again. */
	assert_int_equal(keten_keystore_open(f->path, PASS, &kp, NULL), KETEN_OK);
	keten_keypair_release(&kp);
}

static void test_flip_every_byte_unprotected(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp = {0};

	assert_int_equal(keten_keystore_create(f->path, NULL, &kp, NULL), KETEN_OK);
	keten_keypair_release(&kp);
	flip_every_byte(f->path, "anything");
	assert_int_equal(keten_keystore_open(f->path, "anything", &kp, NULL), KETEN_OK);
	assert_true(kp.unprotected);
	keten_keypair_release(&kp);
}

static void test_truncated_and_garbage(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp = {0};
	keten_error err;
	uint8_t orig[FILE_LEN + 1], longer[FILE_LEN + 1], pk[32];
	bool unprot;

	assert_int_equal(keten_keystore_create(f->path, PASS, &kp, NULL), KETEN_OK);
	keten_keypair_release(&kp);
	assert_int_equal(read_all(f->path, orig, sizeof orig), FILE_LEN);

	for (size_t len = 0; len < FILE_LEN; len++) {
		write_all(f->path, orig, len);
		keten_error_clear(&err);
		memset(&kp, 0xa5, sizeof kp);
		assert_int_equal(keten_keystore_open(f->path, PASS, &kp, &err), KETEN_EMALFORMED);
		assert_non_null(strstr(err.msg, "is not a keten keystore"));
		assert_true(all_zero(&kp, sizeof kp));
		assert_int_equal(keten_keystore_peek(f->path, pk, &unprot, &err), KETEN_EMALFORMED);
	}

	/* One byte too many. */
	memcpy(longer, orig, FILE_LEN);
	longer[FILE_LEN] = 0;
	write_all(f->path, longer, FILE_LEN + 1);
	assert_open_fails(f->path, PASS);
	assert_int_equal(keten_keystore_open(f->path, PASS, &kp, NULL), KETEN_EMALFORMED);

	/* Random bytes of the right size. */
	uint8_t junk[FILE_LEN];
	randombytes_buf(junk, sizeof junk);
	write_all(f->path, junk, sizeof junk);
	assert_int_equal(keten_keystore_open(f->path, PASS, &kp, NULL), KETEN_EMALFORMED);
	assert_int_equal(keten_keystore_peek(f->path, pk, &unprot, NULL), KETEN_EMALFORMED);

	/* A directory is not a keystore either. */
	assert_int_not_equal(keten_keystore_open(f->dir, PASS, &kp, NULL), KETEN_OK);
	assert_true(all_zero(&kp, sizeof kp));
}

static void test_kdf_limits_checked(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp = {0};
	keten_error err;
	uint8_t orig[FILE_LEN + 1], bad[FILE_LEN];
	const struct {
		size_t off;
		uint64_t v;
	} cases[] = {
		{OFF_OPS, 0},
		{OFF_OPS, crypto_pwhash_OPSLIMIT_SENSITIVE + 1ull},
		{OFF_OPS, UINT64_MAX},
		{OFF_MEM, crypto_pwhash_MEMLIMIT_MIN - 1ull},
		{OFF_MEM, crypto_pwhash_MEMLIMIT_SENSITIVE + 1ull},
		{OFF_MEM, UINT64_MAX},
	};

	assert_int_equal(keten_keystore_create(f->path, PASS, &kp, NULL), KETEN_OK);
	keten_keypair_release(&kp);
	assert_int_equal(read_all(f->path, orig, sizeof orig), FILE_LEN);
	/* The fast limits were written. */
	assert_int_equal(get_u64(orig + OFF_OPS), crypto_pwhash_OPSLIMIT_MIN);
	assert_int_equal(get_u64(orig + OFF_MEM), crypto_pwhash_MEMLIMIT_MIN);

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(bad, orig, FILE_LEN);
		put_u64(bad + cases[i].off, cases[i].v);
		write_all(f->path, bad, FILE_LEN);
		keten_error_clear(&err);
		assert_int_equal(keten_keystore_open(f->path, PASS, &kp, &err), KETEN_EMALFORMED);
		assert_int_equal(err.code, KETEN_EMALFORMED);
	}

	/* Unknown flag bits and versions are refused. */
	memcpy(bad, orig, FILE_LEN);
	bad[OFF_FLAGS] |= 0x02;
	write_all(f->path, bad, FILE_LEN);
	assert_int_equal(keten_keystore_open(f->path, PASS, &kp, NULL), KETEN_EMALFORMED);
	memcpy(bad, orig, FILE_LEN);
	bad[8] = 2;
	write_all(f->path, bad, FILE_LEN);
	assert_int_equal(keten_keystore_open(f->path, PASS, &kp, NULL), KETEN_EMALFORMED);

	/* Marking a protected store unprotected does not unseal it. */
	memcpy(bad, orig, FILE_LEN);
	bad[OFF_FLAGS] |= 0x01;
	write_all(f->path, bad, FILE_LEN);
	assert_int_equal(keten_keystore_open(f->path, NULL, &kp, NULL), KETEN_EPASS);
	assert_true(all_zero(&kp, sizeof kp));
}

static void test_unprotected(void **state)
{
	struct fixture *f = *state;
	keten_keypair made = {0}, kp = {0};
	char empty[160];
	const char *passes[] = {NULL, "", "anything", PASS};
	uint8_t buf[FILE_LEN + 1];

	assert_int_equal(keten_keystore_create(f->path, NULL, &made, NULL), KETEN_OK);
	assert_true(made.unprotected);
	assert_int_equal(read_all(f->path, buf, sizeof buf), FILE_LEN);
	assert_int_equal(buf[OFF_FLAGS], 0x01);

	for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
		assert_int_equal(keten_keystore_open(f->path, passes[i], &kp, NULL), KETEN_OK);
		assert_true(kp.unprotected);
		assert_memory_equal(kp.pk, made.pk, 32);
		assert_signs_for(&kp, made.pk);
		keten_keypair_release(&kp);
	}
	keten_keypair_release(&made);

	/* "" means no passphrase, like NULL. */
	sibling(f, "empty", empty, sizeof empty);
	assert_int_equal(keten_keystore_create(empty, "", &made, NULL), KETEN_OK);
	assert_true(made.unprotected);
	assert_int_equal(keten_keystore_open(empty, "whatever", &kp, NULL), KETEN_OK);
	assert_true(kp.unprotected);
	keten_keypair_release(&kp);
	keten_keypair_release(&made);
}

static void test_peek(void **state)
{
	struct fixture *f = *state;
	keten_keypair a = {0}, b = {0};
	char other[160];
	uint8_t pk[32];
	bool unprot = true;

	assert_int_equal(keten_keystore_create(f->path, PASS, &a, NULL), KETEN_OK);
	assert_int_equal(keten_keystore_peek(f->path, pk, &unprot, NULL), KETEN_OK);
	assert_memory_equal(pk, a.pk, 32);
	assert_false(unprot);

	sibling(f, "open", other, sizeof other);
	assert_int_equal(keten_keystore_create(other, NULL, &b, NULL), KETEN_OK);
	assert_int_equal(keten_keystore_peek(other, pk, &unprot, NULL), KETEN_OK);
	assert_memory_equal(pk, b.pk, 32);
	assert_true(unprot);

	keten_keypair_release(&a);
	keten_keypair_release(&b);
}

static void test_interactive_limits(void **state)
{
	struct fixture *f = *state;
	keten_keypair made = {0}, kp = {0};
	uint8_t buf[FILE_LEN + 1];

	assert_int_equal(unsetenv("KETEN_PWHASH_FAST"), 0);
	int rc = keten_keystore_create(f->path, PASS, &made, NULL);
	assert_int_equal(setenv("KETEN_PWHASH_FAST", "1", 1), 0);
	assert_int_equal(rc, KETEN_OK);

	assert_int_equal(read_all(f->path, buf, sizeof buf), FILE_LEN);
	assert_int_equal(get_u64(buf + OFF_OPS), crypto_pwhash_OPSLIMIT_INTERACTIVE);
	assert_int_equal(get_u64(buf + OFF_MEM), crypto_pwhash_MEMLIMIT_INTERACTIVE);

	/* Opening uses the limits in the file, whatever the environment says. */
	assert_int_equal(keten_keystore_open(f->path, PASS, &kp, NULL), KETEN_OK);
	assert_memory_equal(kp.pk, made.pk, 32);
	assert_signs_for(&kp, made.pk);
	keten_keypair_release(&kp);
	keten_keypair_release(&made);
}

static void test_release_twice(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp = {0}, zero = {0};
	uint8_t sig[64];

	assert_int_equal(keten_keystore_create(f->path, PASS, &kp, NULL), KETEN_OK);
	keten_keypair_release(&kp);
	assert_null(kp.sk);
	assert_true(all_zero(&kp, sizeof kp));
	keten_keypair_release(&kp);
	assert_true(all_zero(&kp, sizeof kp));

	keten_keypair_release(&zero);
	keten_keypair_release(&zero);
	keten_keypair_release(NULL);

	/* A released pair cannot sign. */
	memset(sig, 0xa5, sizeof sig);
	assert_int_not_equal(keten_keypair_sign(&kp, sig, (const uint8_t *)"x", 1), 0);
	assert_true(all_zero(sig, sizeof sig));
	assert_int_not_equal(keten_keypair_sign(NULL, sig, (const uint8_t *)"x", 1), 0);
}

static void test_sk_readonly(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp = {0};
	int status;

	assert_int_equal(keten_keystore_create(f->path, PASS, &kp, NULL), KETEN_OK);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka catches SIGSEGV to fail a test and go on; here the
		 * fault must kill the child instead. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		volatile uint8_t *p = kp.sk;
		p[0] ^= 1; /* must fault */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_true(WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
	/* The parent's copy is intact. */
	assert_signs_for(&kp, kp.pk);
	keten_keypair_release(&kp);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	keten_keypair kp = {0};
	uint8_t pk[32];

	assert_int_equal(keten_keystore_create(NULL, PASS, &kp, NULL), KETEN_EINVAL);
	assert_int_equal(keten_keystore_create(f->path, PASS, NULL, NULL), KETEN_EINVAL);
	assert_int_equal(keten_keystore_open(NULL, PASS, &kp, NULL), KETEN_EINVAL);
	assert_int_equal(keten_keystore_open(f->path, PASS, NULL, NULL), KETEN_EINVAL);
	assert_int_equal(keten_keystore_peek(NULL, pk, NULL, NULL), KETEN_EINVAL);
	assert_int_equal(keten_keystore_peek(f->path, NULL, NULL, NULL), KETEN_EINVAL);
	/* Nothing was written. */
	assert_int_not_equal(access(f->path, F_OK), 0);
}

/*
 * A public key in the header that is not a valid Ed25519 key (the identity,
 * points of small order, a non-canonical encoding, a point outside the
 * prime-order group) makes the file not a keystore: peek and open refuse
 * it as malformed before any passphrase or seal is looked at (keten_key_valid).
 */
static void test_weak_public_key(void **state)
{
	static const char *const weak_hex[] = {
		"0100000000000000000000000000000000000000000000000000000000000000", /* identity */
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* order 2 */
		"0000000000000000000000000000000000000000000000000000000000000000", /* order 4 */
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", /* order 8 */
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", /* order 8 */
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* y = p: not canonical */
	};
	struct fixture *f = *state;
	keten_keypair kp = {0};
	uint8_t orig[FILE_LEN + 1], bad[FILE_LEN], weak[32], pk[32];
	bool unprotected;

	assert_int_equal(keten_keystore_create(f->path, NULL, &kp, NULL), KETEN_OK);
	keten_keypair_release(&kp);
	assert_int_equal(read_all(f->path, orig, sizeof orig), FILE_LEN);
	for (size_t i = 0; i <= sizeof weak_hex / sizeof *weak_hex; i++) {
		if (i < sizeof weak_hex / sizeof *weak_hex) {
			assert_int_equal(keten_unhex(weak, 32, weak_hex[i]), KETEN_OK);
		} else {
			/* the file's own key plus a point of order 8: on the curve, outside the group */
			uint8_t t8[32];
			assert_int_equal(keten_unhex(t8, 32, weak_hex[3]), KETEN_OK);
			assert_int_equal(crypto_core_ed25519_add(weak, orig + OFF_PK, t8), 0);
		}
		assert_false(keten_key_valid(weak));
		memcpy(bad, orig, FILE_LEN);
		memcpy(bad + OFF_PK, weak, 32);
		write_all(f->path, bad, FILE_LEN);
		if (keten_keystore_peek(f->path, pk, &unprotected, NULL) != KETEN_EMALFORMED)
			fail_msg("peek accepted weak key %zu", i);
		assert_true(all_zero(pk, 32));
		assert_int_equal(keten_keystore_open(f->path, NULL, &kp, NULL), KETEN_EMALFORMED);
		assert_true(all_zero(&kp, sizeof kp));
	}
	/* the file as written still opens */
	write_all(f->path, orig, FILE_LEN);
	assert_int_equal(keten_keystore_open(f->path, NULL, &kp, NULL), KETEN_OK);
	assert_true(keten_key_valid(kp.pk));
	keten_keypair_release(&kp);
}

/* The core size limits as /proc/self/limits gives them ("unlimited" as
 * -1); false when the line is not there. */
static bool core_limits(long long *soft, long long *hard)
{
	char line[256], a[32], b[32];
	bool found = false;
	FILE *f = fopen("/proc/self/limits", "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f))
		if (strncmp(line, "Max core file size", 18) == 0 && sscanf(line + 18, "%31s %31s", a, b) == 2) {
			*soft = strcmp(a, "unlimited") == 0 ? -1 : atoll(a);
			*hard = strcmp(b, "unlimited") == 0 ? -1 : atoll(b);
			found = true;
		}
	fclose(f);
	return found;
}

/* In a child that may dump core (dumpable on, soft limit raised to the
 * hard one): create (open = false) or open the store at path, then exit
 * 0 when it is non-dumpable with a core size of 0 soft and hard, 2 when
 * the child could not start dumpable, 3 on a failed keystore call, 1
 * otherwise. */
static int core_child(const char *path, bool open)
{
	pid_t pid = fork();
	int status;
	if (pid == 0) {
		struct rlimit rl;
		keten_keypair kp = {0};
		long long soft, hard;
		int rc;
		getrlimit(RLIMIT_CORE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_CORE, &rl);
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1 || !core_limits(&soft, &hard) || (soft == 0 && hard == 0))
			_exit(2);
		rc = open ? keten_keystore_open(path, PASS, &kp, NULL) : keten_keystore_create(path, PASS, &kp, NULL);
		if (rc != KETEN_OK)
			_exit(3);
		if (!core_limits(&soft, &hard))
			_exit(1);
		printf("after %s: PR_GET_DUMPABLE %d; /proc/self/limits: Max core file size %lld %lld\n",
		       open ? "keten_keystore_open" : "keten_keystore_create", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), soft,
		       hard);
		fflush(stdout);
		rc = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 && soft == 0 && hard == 0;
		keten_keypair_release(&kp);
		_exit(rc ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* First in the file: this process has not touched a key yet, so the
 * children start dumpable with the hard limit they inherit. */
static void test_no_core_dumps(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(core_child(f->path, false), 0);
	assert_int_equal(core_child(f->path, true), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_no_core_dumps),
		T(test_roundtrip),
		T(test_two_stores_differ),
		T(test_wrong_passphrase),
		T(test_mode_0600),
		T(test_eexist),
		T(test_missing),
		T(test_flip_every_byte),
		T(test_flip_every_byte_unprotected),
		T(test_truncated_and_garbage),
		T(test_kdf_limits_checked),
		T(test_unprotected),
		T(test_peek),
		T(test_interactive_limits),
		T(test_release_twice),
		T(test_sk_readonly),
		T(test_bad_arguments),
		T(test_weak_public_key),
	};

	setenv("KETEN_PWHASH_FAST", "1", 1);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
