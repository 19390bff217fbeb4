/*
 * keten.h — the public API of libketen, the settlement ledger for
 * subcontracting in Dutch youth care (Jeugdwet) and social support (Wmo).
 *
 * This header holds what every module shares: sizes, the error enum and
 * the error record.  Each module has its own header beside this one;
 * including <keten/keten.h> is enough to get all of them.
 *
 * Conventions kept by every function of the library:
 *   - the return value is a keten_err: 0 (KETEN_OK) is success;
 *   - an optional `keten_error *err` receives a one-line message (lowercase,
 *     no full stop, the subject in quotes) and, for refused entries, the
 *     name of the rule that refused it;
 *   - outputs are cleared on failure; ownership passes only on success.
 */
#ifndef KETEN_KETEN_H
#define KETEN_KETEN_H

#include "keten/export.h"

#include <stddef.h>
#include <stdint.h>

#define KETEN_KEY_BYTES  32u /* Ed25519 public key */
#define KETEN_SK_BYTES   64u /* Ed25519 secret key (seed || public key) */
#define KETEN_SIG_BYTES  64u /* Ed25519 signature */
#define KETEN_ID_BYTES   32u /* BLAKE2b-256 entry id */
#define KETEN_HASH_BYTES 32u /* BLAKE2b-256 */
#define KETEN_HEX_ID_LEN 64u /* hex digits of an id or key */
#define KETEN_MIN_PREFIX 8u  /* shortest accepted id prefix */

/* The most bytes one encoded entry may have; larger input is refused
 * before it is decoded (protobuf-c allocates many times its input). */
#define KETEN_MAX_ENTRY_BYTES (256u * 1024u)

typedef enum keten_err {
	KETEN_OK = 0,
	KETEN_EINVAL,     /* bad argument from the caller (usage) */
	KETEN_EMALFORMED, /* bytes that do not decode, or fields out of range */
	KETEN_ESIG,       /* signature does not verify */
	KETEN_EHASH,      /* body does not match body_hash */
	KETEN_ECHAIN,     /* seq or prev does not continue the author's feed */
	KETEN_EAUTHOR,    /* author unknown, not certified or revoked */
	KETEN_ERULE,      /* a hard rule refused the entry; err->rule names it */
	KETEN_ENOTFOUND,  /* no such entry, party or key */
	KETEN_EAMBIGUOUS, /* an id prefix matches more than one entry */
	KETEN_EEXIST,     /* already there */
	KETEN_EFORK,      /* two entries by one author at one seq */
	KETEN_EPENDING,   /* waits for entries it refers to */
	KETEN_ENOMEM,     /* out of memory */
	KETEN_EIO,        /* file system error (errno in err->sys) */
	KETEN_ESTORE,     /* LMDB error (code in err->sys) */
	KETEN_EPASS,      /* wrong passphrase or damaged keystore */
	KETEN_EPROTO,     /* sync protocol violation by a peer */
	KETEN_EPERM,      /* not allowed for this party */
	KETEN_ECRYPTO,    /* libsodium failed to initialise */
	KETEN_ERR_COUNT
} keten_err;

typedef struct keten_error {
	keten_err code;
	int sys;       /* errno or LMDB code for KETEN_EIO / KETEN_ESTORE */
	char rule[48]; /* for KETEN_ERULE: the rule's stable name */
	char msg[400]; /* one line, no trailing newline */
	size_t item;   /* 1-based index of the entry of a keten_ledger_append call that
	                     failed (so a batch can name its row), 0 = none */
} keten_error;

/* The fixed text for a code ("signature does not verify", ...).  Never NULL. */
KETEN_API const char *keten_strerror(keten_err code);

/* Fill `err` (may be NULL) and return `code`.  printf-style message. */
KETEN_API keten_err keten_fail(keten_error *err, keten_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like keten_fail for KETEN_ERULE, with the rule's name. */
KETEN_API keten_err keten_refuse(keten_error *err, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clear an error record. */
KETEN_API void keten_error_clear(keten_error *err);

/* Initialise libsodium once; every entry point calls it.  0 on success. */
KETEN_API keten_err keten_init_crypto(void);

/* Hex helpers.  `out` must hold 2*len+1 bytes; it is NUL-terminated. */
KETEN_API void keten_hex(char *out, const uint8_t *in, size_t len);
/* Parse exactly 2*len hex digits; KETEN_EINVAL otherwise. */
KETEN_API keten_err keten_unhex(uint8_t *out, size_t len, const char *hex);

#include "keten/limits.h"
#include "keten/money.h"
#include "keten/entry.h"
#include "keten/store.h"
#include "keten/keystore.h"
#include "keten/ledger.h"
#include "keten/entries.h"
#include "keten/camt.h"
#include "keten/reconcile.h"
#include "keten/report.h"
#include "keten/json.h"
#include "keten/http.h"
#include "keten/tariffs.h"
#include "keten/party.h"
#include "keten/contract.h"
#include "keten/record.h"
#include "keten/sync.h"
#include "keten/net.h"
#include "keten/node.h"
#include "keten/join.h"
#include "keten/verify.h"
#include "keten/ijw.h"

#endif
