/*
 * fuzz_keystore.c — libFuzzer target for the keystore file reader
 * (ledger/crypto/keystore.c): any bytes are written to a file, which
 * keten_keystore_peek and then keten_keystore_open read as a home's key
 * file.  Peek and open agree on the public key; an open that succeeds
 * gives a key pair that signs and verifies.  Open is tried only where the
 * file asks for the least Argon2id work (or none: unprotected), so a
 * mutated limit does not make one input cost a second; the limit check
 * itself is in peek.  Seeds: tests/fuzz/corpus/keystore/ (an unprotected
 * file, one sealed under the passphrase "fuzz" with the least work, and
 * damaged ones).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keten/keten.h"
#include "keten/keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	keten_error err = {0};
	keten_keypair kp = {0};
	uint8_t pk[32], sig[64];
	bool unprot = false;
	FILE *f;
	int rc;

	if (!path[0])
		snprintf(path, sizeof path, "/tmp/keten-fuzz-keystore-%ld", (long)getpid());
	if (!(f = fopen(path, "wb")) || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	rc = keten_keystore_peek(path, pk, &unprot, &err);
	if (rc != 0 && !err.msg[0])
		abort();
	/* the least work: opslimit and memlimit (offsets 58 and 66) at libsodium's minimum */
	if (rc == 0 &&
	    (unprot ||
	     (size >= 74 && be64(data + 58) == crypto_pwhash_argon2id_OPSLIMIT_MIN &&
	      be64(data + 66) == crypto_pwhash_argon2id_MEMLIMIT_MIN))) {
		if (keten_keystore_open(path, "fuzz", &kp, &err) == 0) {
			if (memcmp(kp.pk, pk, 32) != 0 || !kp.sk)
				abort();
			if (keten_keypair_sign(&kp, sig, data, size) != 0 ||
			    crypto_sign_verify_detached(sig, data, size, kp.pk) != 0)
				abort();
			keten_keypair_release(&kp);
		} else if (!err.msg[0] || kp.sk) {
			abort();
		}
	}
	unlink(path);
	return 0;
}
