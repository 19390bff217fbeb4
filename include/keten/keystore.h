/*
 * keystore.h — a party's Ed25519 key in an encrypted file.
 *
 * The file (mode 0600) holds the public key in clear and the secret key
 * sealed with XChaCha20-Poly1305 under a key derived from the passphrase
 * by Argon2id (crypto_pwhash).  A home made with --no-passphrase keeps
 * the secret key sealed under an all-zero key and is marked "unprotected"
 * in the file, so nobody mistakes it for a protected one.
 *
 * The secret key lives only in sodium_malloc'd memory, locked and wiped on
 * release.
 */
#ifndef KETEN_KEYSTORE_H
#define KETEN_KEYSTORE_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;

typedef struct keten_keypair {
	uint8_t pk[32];
	uint8_t *sk;      /* 64 bytes in sodium_malloc memory, read-only when not signing */
	bool unprotected; /* made with --no-passphrase */
} keten_keypair;

/*
 * Make a new key pair and write it to `path` (which must not exist).
 * passphrase NULL or "" makes an unprotected keystore.
 * On success *out owns the secret; release it with keten_keypair_release.
 * Errors: KETEN_EEXIST, KETEN_EIO, KETEN_ENOMEM, KETEN_ECRYPTO.
 */
KETEN_API int keten_keystore_create(const char *path, const char *passphrase, keten_keypair *out,
                                    struct keten_error *err);

/*
 * Open the keystore at `path`.  passphrase is ignored for an unprotected
 * store.  Errors: KETEN_ENOTFOUND (no file), KETEN_EPASS (wrong passphrase
 * or damaged file), KETEN_EMALFORMED (not a keystore: wrong size, magic,
 * version, flags or KDF limits, or a public key keten_key_valid refuses),
 * KETEN_EIO, KETEN_ENOMEM.
 */
KETEN_API int keten_keystore_open(const char *path, const char *passphrase, keten_keypair *out,
                                  struct keten_error *err);

/* Read only the public key and the protection flag, without a passphrase.
 * Errors as keten_keystore_open, but no KETEN_EPASS; pk is cleared on failure. */
KETEN_API int keten_keystore_peek(const char *path, uint8_t pk[32], bool *unprotected, struct keten_error *err);

/* Wipe and free the secret key; safe on a zeroed or released keypair. */
KETEN_API void keten_keypair_release(keten_keypair *kp);

/* Sign msg with the pair's secret key into sig[64].  0 on success. */
KETEN_API int keten_keypair_sign(const keten_keypair *kp, uint8_t sig[64], const uint8_t *msg, size_t len);

#endif
