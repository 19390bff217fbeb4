/*
 * keystore.c — a party's Ed25519 key pair in a passphrase-sealed file.
 *
 * Every keten party signs its ledger entries with one Ed25519 key.  This
 * module makes that key, writes it to a small binary file (mode 0600)
 * with the secret half sealed under a key stretched from the passphrase,
 * and opens it again into sodium_malloc'd memory that is read-only while
 * held and wiped when released.
 *
 * File format, version 1 (178 bytes, integers big-endian):
 *
 *   offset  size  field
 *        0     8  magic "KETENKEY"
 *        8     1  version, 1
 *        9     1  flags; bit 0 = unprotected (sealed under an all-zero
 *                 key, passphrase ignored); other bits must be 0
 *       10    32  Ed25519 public key (in clear, so `peek` needs no passphrase)
 *       42    16  crypto_pwhash salt (crypto_pwhash_SALTBYTES)
 *       58     8  Argon2id opslimit used (u64)
 *       66     8  Argon2id memlimit used, in bytes (u64)
 *       74    24  XChaCha20-Poly1305 nonce
 *       98    80  ciphertext of the 64-byte libsodium secret key
 *                 (seed || public key) followed by the 16-byte tag
 *
 * The seal is crypto_aead_xchacha20poly1305_ietf with bytes 0..97 (all of
 * the header, nonce included) as associated data, so the flags, public
 * key and KDF parameters cannot be altered or swapped without the open
 * failing.  The sealing key is crypto_pwhash (Argon2id 1.3) of the
 * passphrase and salt with the limits recorded in the file; new files use
 * the INTERACTIVE limits, or the MIN limits when KETEN_PWHASH_FAST=1 is
 * set in the environment (tests and benchmarks only).  A file whose limits
 * lie outside MIN..SENSITIVE is refused as malformed, so a hostile file
 * cannot make us spend unbounded memory or time.  For an unprotected
 * store the salt and limits are still written (random salt, chosen
 * limits) but not used; the sealing key is 32 zero bytes.
 *
 * No secret in a core dump: before a secret key is made or opened, the
 * process is made non-dumpable (PR_SET_DUMPABLE 0: no core file, no
 * ptrace or /proc/PID/mem by other processes of the same user) and its
 * core size limit, soft and hard, set to 0, so every program that
 * unlocks a key through this library has both.  The seed, secret key and
 * sealing key live only in sodium_malloc'd (guarded, mlocked) memory and
 * are wiped with sodium_free; a new key's seed is drawn there too, not on
 * the stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keten/keten.h"
#include "keten/keystore.h"
#include "base/base.h"

#define KS_MAGIC       "KETENKEY"
#define KS_MAGIC_LEN   8u
#define KS_VERSION     1u
#define KS_FLAG_UNPROT 0x01u

#define KS_OFF_VERSION (KS_MAGIC_LEN)
#define KS_OFF_FLAGS   (KS_OFF_VERSION + 1u)
#define KS_OFF_PK      (KS_OFF_FLAGS + 1u)
#define KS_OFF_SALT    (KS_OFF_PK + crypto_sign_PUBLICKEYBYTES)
#define KS_OFF_OPS     (KS_OFF_SALT + crypto_pwhash_SALTBYTES)
#define KS_OFF_MEM     (KS_OFF_OPS + 8u)
#define KS_OFF_NONCE   (KS_OFF_MEM + 8u)
#define KS_HEADER_LEN  (KS_OFF_NONCE + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define KS_CT_LEN      (crypto_sign_SECRETKEYBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define KS_FILE_LEN    (KS_HEADER_LEN + KS_CT_LEN)

#define KS_KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES

/* The limits are those of the fixed algorithm, Argon2id 1.3 (the same
 * values as crypto_pwhash_*_MIN etc. in libsodium 1.0.18). */
#define KS_OPS_MIN ((uint64_t)crypto_pwhash_argon2id_OPSLIMIT_MIN)
#define KS_MEM_MIN ((uint64_t)crypto_pwhash_argon2id_MEMLIMIT_MIN)
#define KS_OPS_MAX ((uint64_t)crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE)
#define KS_MEM_MAX ((uint64_t)crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE)

_Static_assert(KS_HEADER_LEN == 98, "keystore header layout");
_Static_assert(KS_FILE_LEN == 178, "keystore file layout");
_Static_assert(crypto_sign_PUBLICKEYBYTES == KETEN_KEY_BYTES, "pk size");
_Static_assert(crypto_sign_SECRETKEYBYTES == KETEN_SK_BYTES, "sk size");
_Static_assert(crypto_sign_BYTES == KETEN_SIG_BYTES, "sig size");

/* The fields of a parsed header. */
struct ks_header {
	uint8_t flags;
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t salt[crypto_pwhash_SALTBYTES];
	uint64_t opslimit;
	uint64_t memlimit;
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
};

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xffu);
		v >>= 8;
	}
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static bool no_passphrase(const char *passphrase)
{
	return passphrase == NULL || passphrase[0] == '\0';
}

static bool fast_kdf(void)
{
	const char *v = getenv("KETEN_PWHASH_FAST");
	return v != NULL && strcmp(v, "1") == 0;
}

static keten_err fail_sys(keten_error *err, int sys, const char *what, const char *path)
{
	keten_fail(err, KETEN_EIO, "cannot %s keystore '%s': %s", what, path, strerror(sys));
	if (err)
		err->sys = sys;
	return KETEN_EIO;
}

/* Keep this process's memory out of core dumps and away from other
 * processes of its user, for as long as it lives (both are inherited by
 * children and kept over exec of a program that is not set-id). */
static keten_err no_core_dumps(keten_error *err)
{
	struct rlimit none = {0, 0};
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return keten_fail(err, KETEN_EIO, "cannot keep the key out of core dumps (PR_SET_DUMPABLE): %s",
		                  strerror(errno));
	if (setrlimit(RLIMIT_CORE, &none) != 0)
		return keten_fail(err, KETEN_EIO, "cannot keep the key out of core dumps (RLIMIT_CORE): %s",
		                  strerror(errno));
	return KETEN_OK;
}

static keten_err not_keystore(keten_error *err, const char *path)
{
	return keten_fail(err, KETEN_EMALFORMED, "'%s' is not a keten keystore", path);
}

/*
 * Read the whole file at `path` into buf[KS_FILE_LEN].  A file of any
 * other length is not a keystore.
 */
static keten_err read_file(const char *path, uint8_t buf[KS_FILE_LEN], keten_error *err)
{
	uint8_t tmp[KS_FILE_LEN + 1];
	size_t got = 0;
	keten_err rc = KETEN_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	KETEN_ASSERT(path != NULL && buf != NULL);
	if (fd < 0) {
		if (errno == ENOENT)
			return keten_fail(err, KETEN_ENOTFOUND, "no keystore at '%s'", path);
		return fail_sys(err, errno, "open", path);
	}
	while (got < sizeof tmp) {
		ssize_t n = read(fd, tmp + got, sizeof tmp - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = fail_sys(err, errno, "read", path);
			goto cleanup;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	KETEN_ASSERT(got <= sizeof tmp);
	if (got != KS_FILE_LEN) {
		rc = not_keystore(err, path);
		goto cleanup;
	}
	memcpy(buf, tmp, KS_FILE_LEN);
cleanup:
	close(fd);
	if (rc != KETEN_OK)
		memset(buf, 0, KS_FILE_LEN);
	return rc;
}

/* Check and split the header of a file read by read_file. */
static keten_err parse_header(const uint8_t *buf, struct ks_header *h, const char *path, keten_error *err)
{
	KETEN_ASSERT(buf != NULL && h != NULL);
	memset(h, 0, sizeof *h);
	if (memcmp(buf, KS_MAGIC, KS_MAGIC_LEN) != 0)
		return not_keystore(err, path);
	if (buf[KS_OFF_VERSION] != KS_VERSION)
		return keten_fail(err, KETEN_EMALFORMED, "keystore '%s' has version %u; this keten reads version %u",
		                  path, (unsigned)buf[KS_OFF_VERSION], KS_VERSION);
	h->flags = buf[KS_OFF_FLAGS];
	memcpy(h->pk, buf + KS_OFF_PK, sizeof h->pk);
	memcpy(h->salt, buf + KS_OFF_SALT, sizeof h->salt);
	h->opslimit = get_u64(buf + KS_OFF_OPS);
	h->memlimit = get_u64(buf + KS_OFF_MEM);
	memcpy(h->nonce, buf + KS_OFF_NONCE, sizeof h->nonce);
	if ((h->flags & ~KS_FLAG_UNPROT) != 0 || h->opslimit < KS_OPS_MIN || h->opslimit > KS_OPS_MAX ||
	    h->memlimit < KS_MEM_MIN || h->memlimit > KS_MEM_MAX || !keten_key_valid(h->pk)) {
		memset(h, 0, sizeof *h);
		return not_keystore(err, path);
	}
	return KETEN_OK;
}

/*
 * Fill key[KS_KEY_LEN] (sodium_malloc'd) with the sealing key: zeros for
 * an unprotected store, else Argon2id of the passphrase.
 */
static keten_err sealing_key(uint8_t *key, const struct ks_header *h, const char *passphrase, keten_error *err)
{
	/* a protected store always comes with its passphrase (create and open see to it) */
	KETEN_ASSERT(key != NULL && ((h->flags & KS_FLAG_UNPROT) || passphrase != NULL));
	if (h->flags & KS_FLAG_UNPROT) {
		sodium_memzero(key, KS_KEY_LEN);
		return KETEN_OK;
	}
	if (crypto_pwhash(key, KS_KEY_LEN, passphrase, strlen(passphrase), h->salt, (unsigned long long)h->opslimit,
	                  (size_t)h->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		sodium_memzero(key, KS_KEY_LEN);
		return keten_fail(err, KETEN_ENOMEM, "out of memory deriving the keystore key");
	}
	return KETEN_OK;
}

/* Write all of buf to a new file at path (mode 0600), fsync'd. */
static keten_err write_new_file(const char *path, const uint8_t *buf, size_t len, keten_error *err)
{
	keten_err rc = KETEN_OK;
	size_t done = 0;
	int fd;

	KETEN_ASSERT(len == KS_FILE_LEN);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);

	if (fd < 0) {
		if (errno == EEXIST)
			return keten_fail(err, KETEN_EEXIST, "keystore '%s' already exists", path);
		return fail_sys(err, errno, "create", path);
	}
	/* The umask can only narrow the mode; make sure it is exactly 0600. */
	if (fchmod(fd, 0600) != 0) {
		rc = fail_sys(err, errno, "write", path);
		goto cleanup;
	}
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = fail_sys(err, errno, "write", path);
			goto cleanup;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0) {
		rc = fail_sys(err, errno, "write", path);
		goto cleanup;
	}
cleanup:
	if (close(fd) != 0 && rc == KETEN_OK)
		rc = fail_sys(err, errno, "write", path);
	if (rc != KETEN_OK)
		unlink(path); /* ours: O_EXCL made it */
	return rc;
}

/* The header of a new file for kp: fresh salt and nonce, the KDF limits in use. */
static void new_header(struct ks_header *h, const keten_keypair *kp)
{
	h->flags = kp->unprotected ? KS_FLAG_UNPROT : 0;
	memcpy(h->pk, kp->pk, sizeof h->pk);
	randombytes_buf(h->salt, sizeof h->salt);
	if (fast_kdf()) {
		h->opslimit = KS_OPS_MIN;
		h->memlimit = KS_MEM_MIN;
	} else {
		h->opslimit = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
		h->memlimit = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
	}
	randombytes_buf(h->nonce, sizeof h->nonce);
}

/* Write h as bytes 0..KS_HEADER_LEN of buf, the layout parse_header reads. */
static void put_header(uint8_t buf[KS_FILE_LEN], const struct ks_header *h)
{
	memcpy(buf, KS_MAGIC, KS_MAGIC_LEN);
	buf[KS_OFF_VERSION] = KS_VERSION;
	buf[KS_OFF_FLAGS] = h->flags;
	memcpy(buf + KS_OFF_PK, h->pk, sizeof h->pk);
	memcpy(buf + KS_OFF_SALT, h->salt, sizeof h->salt);
	put_u64(buf + KS_OFF_OPS, h->opslimit);
	put_u64(buf + KS_OFF_MEM, h->memlimit);
	memcpy(buf + KS_OFF_NONCE, h->nonce, sizeof h->nonce);
	KETEN_ASSERT(KS_OFF_NONCE + sizeof h->nonce == KS_HEADER_LEN);
}

int keten_keystore_create(const char *path, const char *passphrase, keten_keypair *out, keten_error *err)
{
	keten_keypair kp = {0};
	uint8_t buf[KS_FILE_LEN];
	struct ks_header h;
	uint8_t *key = NULL, *seed = NULL;
	keten_err rc;

	memset(buf, 0, sizeof buf);
	memset(&h, 0, sizeof h);
	if ((rc = keten_init_crypto()) != KETEN_OK) {
		keten_fail(err, rc, "cannot start libsodium");
		goto cleanup;
	}
	if (!path || !out) {
		rc = keten_fail(err, KETEN_EINVAL, "keystore path and output are required");
		goto cleanup;
	}

	if ((rc = no_core_dumps(err)) != KETEN_OK)
		goto cleanup;
	kp.unprotected = no_passphrase(passphrase);
	kp.sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	key = sodium_malloc(KS_KEY_LEN);
	seed = sodium_malloc(crypto_sign_SEEDBYTES);
	if (!kp.sk || !key || !seed) {
		rc = keten_fail(err, KETEN_ENOMEM, "out of memory creating keystore '%s'", path);
		goto cleanup;
	}
	randombytes_buf(seed, crypto_sign_SEEDBYTES);
	if (crypto_sign_seed_keypair(kp.pk, kp.sk, seed) != 0) {
		rc = keten_fail(err, KETEN_ECRYPTO, "cannot make a key pair for '%s'", path);
		goto cleanup;
	}
	sodium_free(seed); /* wipes */
	seed = NULL;
	/* libsodium makes keys of the prime-order group: what open and the ledger accept */
	KETEN_ASSERT(keten_key_valid(kp.pk));

	new_header(&h, &kp);
	put_header(buf, &h);

	if ((rc = sealing_key(key, &h, passphrase, err)) != KETEN_OK)
		goto cleanup;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(buf + KS_HEADER_LEN, NULL, kp.sk, crypto_sign_SECRETKEYBYTES,
	                                               buf, KS_HEADER_LEN, NULL, h.nonce, key) != 0) {
		rc = keten_fail(err, KETEN_ECRYPTO, "cannot seal keystore '%s'", path);
		goto cleanup;
	}
	if (sodium_mprotect_readonly(kp.sk) != 0) {
		rc = keten_fail(err, KETEN_ECRYPTO, "cannot protect the secret key of '%s'", path);
		goto cleanup;
	}
	if ((rc = write_new_file(path, buf, sizeof buf, err)) != KETEN_OK)
		goto cleanup;

	*out = kp;
	memset(&kp, 0, sizeof kp);
	rc = KETEN_OK;
cleanup:
	sodium_free(seed); /* wipes; NULL is fine */
	sodium_free(key);
	keten_keypair_release(&kp);
	sodium_memzero(buf, sizeof buf);
	if (rc != KETEN_OK && out)
		memset(out, 0, sizeof *out);
	return rc;
}

int keten_keystore_open(const char *path, const char *passphrase, keten_keypair *out, keten_error *err)
{
	keten_keypair kp = {0};
	uint8_t buf[KS_FILE_LEN];
	struct ks_header h;
	uint8_t *key = NULL;
	keten_err rc;

	memset(buf, 0, sizeof buf);
	memset(&h, 0, sizeof h);
	if ((rc = keten_init_crypto()) != KETEN_OK) {
		keten_fail(err, rc, "cannot start libsodium");
		goto cleanup;
	}
	if (!path || !out) {
		rc = keten_fail(err, KETEN_EINVAL, "keystore path and output are required");
		goto cleanup;
	}
	if ((rc = no_core_dumps(err)) != KETEN_OK)
		goto cleanup;
	if ((rc = read_file(path, buf, err)) != KETEN_OK)
		goto cleanup;
	if ((rc = parse_header(buf, &h, path, err)) != KETEN_OK)
		goto cleanup;
	kp.unprotected = (h.flags & KS_FLAG_UNPROT) != 0;
	memcpy(kp.pk, h.pk, sizeof kp.pk);
	if (!kp.unprotected && no_passphrase(passphrase)) {
		/* No protected store is sealed under an empty passphrase. */
		rc = keten_fail(err, KETEN_EPASS, "wrong passphrase for keystore '%s'", path);
		goto cleanup;
	}

	kp.sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	key = sodium_malloc(KS_KEY_LEN);
	if (!kp.sk || !key) {
		rc = keten_fail(err, KETEN_ENOMEM, "out of memory opening keystore '%s'", path);
		goto cleanup;
	}
	if ((rc = sealing_key(key, &h, passphrase, err)) != KETEN_OK)
		goto cleanup;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(kp.sk, NULL, NULL, buf + KS_HEADER_LEN, KS_CT_LEN, buf,
	                                               KS_HEADER_LEN, h.nonce, key) != 0) {
		if (kp.unprotected)
			rc = keten_fail(err, KETEN_EPASS, "keystore '%s' is damaged", path);
		else
			rc = keten_fail(err, KETEN_EPASS, "wrong passphrase for keystore '%s'", path);
		goto cleanup;
	}
	if (sodium_mprotect_readonly(kp.sk) != 0) {
		rc = keten_fail(err, KETEN_ECRYPTO, "cannot protect the secret key of '%s'", path);
		goto cleanup;
	}
	/* libsodium's secret key is seed || public key. */
	if (sodium_memcmp(kp.sk + crypto_sign_SECRETKEYBYTES - crypto_sign_PUBLICKEYBYTES, kp.pk, sizeof kp.pk) != 0) {
		rc = keten_fail(err, KETEN_EPASS,
		                "keystore '%s' is damaged: its secret key does not match its public key", path);
		goto cleanup;
	}

	KETEN_ASSERT(kp.sk != NULL && memcmp(kp.pk, h.pk, sizeof kp.pk) == 0);
	*out = kp;
	memset(&kp, 0, sizeof kp);
	rc = KETEN_OK;
cleanup:
	sodium_free(key);
	keten_keypair_release(&kp);
	sodium_memzero(buf, sizeof buf);
	if (rc != KETEN_OK && out)
		memset(out, 0, sizeof *out);
	return rc;
}

int keten_keystore_peek(const char *path, uint8_t pk[32], bool *unprotected, keten_error *err)
{
	uint8_t buf[KS_FILE_LEN];
	struct ks_header h;
	keten_err rc;

	memset(&h, 0, sizeof h);
	if ((rc = keten_init_crypto()) != KETEN_OK) {
		keten_fail(err, rc, "cannot start libsodium");
		goto cleanup;
	}
	if (!path || !pk) {
		rc = keten_fail(err, KETEN_EINVAL, "keystore path and output are required");
		goto cleanup;
	}
	if ((rc = read_file(path, buf, err)) != KETEN_OK)
		goto cleanup;
	if ((rc = parse_header(buf, &h, path, err)) != KETEN_OK)
		goto cleanup;
	KETEN_ASSERT(h.flags == (h.flags & KS_FLAG_UNPROT)); /* parse_header refuses other flags */
	memcpy(pk, h.pk, sizeof h.pk);
	if (unprotected)
		*unprotected = (h.flags & KS_FLAG_UNPROT) != 0;
	rc = KETEN_OK;
cleanup:
	if (rc != KETEN_OK) {
		if (pk)
			memset(pk, 0, crypto_sign_PUBLICKEYBYTES);
		if (unprotected)
			*unprotected = false;
	}
	return rc;
}

void keten_keypair_release(keten_keypair *kp)
{
	(void)keten_init_crypto();
	if (!kp)
		return;
	sodium_free(kp->sk); /* makes it writable, wipes, unmaps; NULL is fine */
	kp->sk = NULL;
	sodium_memzero(kp, sizeof *kp);
}

int keten_keypair_sign(const keten_keypair *kp, uint8_t sig[64], const uint8_t *msg, size_t len)
{
	keten_err rc;

	if ((rc = keten_init_crypto()) != KETEN_OK)
		goto cleanup;
	if (!kp || !kp->sk || !sig || (!msg && len > 0)) {
		rc = KETEN_EINVAL;
		goto cleanup;
	}
	/* crypto_sign_detached only reads the (read-only) secret key. */
	if (crypto_sign_detached(sig, NULL, msg, len, kp->sk) != 0) {
		rc = KETEN_ECRYPTO;
		goto cleanup;
	}
	rc = KETEN_OK;
cleanup:
	if (rc != KETEN_OK && sig)
		memset(sig, 0, crypto_sign_BYTES);
	return rc;
}
