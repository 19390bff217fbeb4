/*
 * entry.h — the signed envelope of every fact in the ledger.
 *
 *   Entry     { header bytes, signature, body bytes, salt (body and salt
 *               absent in a stub) }
 *   signature = Ed25519(author, "keten/entry/v1" || header bytes)
 *   id        = BLAKE2b-256(header bytes || signature)
 *   body_hash = BLAKE2b-256(body bytes)                   format version 1
 *             = BLAKE2b-256 keyed by the salt (body bytes)  format version 2
 *
 * The header says its format version (absent: 1).  Every new entry is
 * version 2, with a fresh random 16-byte salt that travels with the body
 * and never with the stub: a stub's body_hash cannot be matched against
 * guessed bodies.  Version 1 entries (signed before) still parse and
 * verify; they carry no salt.
 *
 * A keten_entry is a parsed view of the stored bytes: the header, signature,
 * body and salt pointers point into `raw`, which the entry owns.  Nothing
 * that was signed is ever re-encoded; a stub is made by dropping the body
 * and salt fields from the Entry message, leaving the signed header bytes
 * as they were.
 */
#ifndef KETEN_ENTRY_H
#define KETEN_ENTRY_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_keypair;

#define KETEN_SIG_CONTEXT     "keten/entry/v1"
#define KETEN_SIG_CONTEXT_LEN 14u
#define KETEN_MAX_AUDIENCE    64u
#define KETEN_SALT_BYTES      16u
#define KETEN_ENTRY_VERSION   2u /* the format version of every new entry */

typedef struct keten_entry {
	uint8_t *raw; /* the encoded Entry, owned */
	size_t raw_len;
	const uint8_t *header; /* into raw */
	size_t header_len;
	const uint8_t *sig;  /* into raw, KETEN_SIG_BYTES */
	const uint8_t *body; /* into raw, NULL in a stub */
	size_t body_len;
	bool has_body;
	const uint8_t *salt; /* into raw, KETEN_SALT_BYTES: a version 2 entry with its body; else NULL */

	uint8_t id[32];
	uint8_t author[32];
	uint64_t seq;
	uint8_t prev[32]; /* all zero at seq 1 */
	int64_t timestamp_ms;
	uint32_t body_type;
	uint32_t version; /* entry format: 1 (unsalted) or 2 (salted) */
	uint8_t body_hash[32];
	size_t n_audience;
	uint8_t audience[KETEN_MAX_AUDIENCE][32]; /* only [0, n_audience) is set */
} keten_entry;

/*
 * Parse encoded Entry bytes into *out (copying them).  Checks the framing,
 * every header field's size and range (author 32 bytes, seq >= 1, prev
 * present iff seq > 1, known body type, audience size, format version 1
 * or 2), computes the id, and — when the body is present — checks
 * body_hash: a version 2 body must come with its salt (KETEN_EHASH when it
 * does not, or when the salt or body was altered), a version 1 body
 * without one; a salt without a body is malformed.  It does NOT
 * check the signature (keten_entry_verify), nor that the author is a valid
 * key (keten_key_valid): the ledger checks that once per author, when its
 * feed first appears, and libsodium's verify refuses such keys anyway.
 * Errors: KETEN_EMALFORMED, KETEN_EHASH, KETEN_ENOMEM.
 */
KETEN_API int keten_entry_parse(const uint8_t *bytes, size_t len, keten_entry *out, struct keten_error *err);

/* Check the author's signature over the header.  0 or KETEN_ESIG. */
__attribute__((warn_unused_result)) KETEN_API int keten_entry_verify(const keten_entry *e);

/* What a new entry says; the body is the encoded body message. */
typedef struct keten_entry_draft {
	uint64_t seq;
	const uint8_t *prev; /* NULL at seq 1 */
	int64_t timestamp_ms;
	uint32_t body_type;
	const uint8_t *body;
	size_t body_len;
	const uint8_t (*audience)[32];
	size_t n_audience;
} keten_entry_draft;

/*
 * Encode, hash and sign a new entry by kp, format version 2: a fresh
 * random salt (libsodium's randombytes_buf) keys the body hash; *out
 * receives it parsed.  Errors: KETEN_EINVAL (bad draft), KETEN_ENOMEM.
 */
KETEN_API int keten_entry_sign(const struct keten_keypair *kp, const keten_entry_draft *d, keten_entry *out,
                               struct keten_error *err);

/* The stub of an entry: the same header and signature, no body and no
 * salt.  *out owns malloc'd bytes.  Errors: KETEN_ENOMEM. */
KETEN_API int keten_entry_stub_bytes(const keten_entry *e, uint8_t **out, size_t *out_len);

/* Frame header, signature and (when has_body) body and (when salt is not
 * NULL, with a body only) its KETEN_SALT_BYTES salt as Entry bytes, the
 * canonical way keten_entry_parse accepts.  *out is malloc'd.
 * Errors: KETEN_EINVAL (a salt without a body), KETEN_ENOMEM. */
KETEN_API int keten_entry_frame(const uint8_t *header, size_t header_len, const uint8_t sig[64], const uint8_t *body,
                                size_t body_len, bool has_body, const uint8_t *salt, uint8_t **out, size_t *out_len);

/*
 * Check a detached Ed25519 signature over msg by key — for signed messages
 * other than entries (the sync handshake).  0 or KETEN_ESIG.  Every
 * signature check of keten goes through this module.
 */
__attribute__((warn_unused_result)) KETEN_API int keten_sig_verify(const uint8_t sig[64], const uint8_t *msg,
                                                                   size_t len, const uint8_t key[32]);

/*
 * Is key a valid Ed25519 public key for keten: the canonical encoding of a
 * point on the curve, in the prime-order subgroup, not of small order (so
 * not the identity, nor a point that mixes in a torsion component).  The
 * one key check of keten: every place that takes a key to trust, certify,
 * owe or sign with asks this.  false for NULL.  Pure; no errors.
 */
KETEN_API bool keten_key_valid(const uint8_t key[32]);

/* Is key in the entry's audience? */
KETEN_API bool keten_entry_has_audience(const keten_entry *e, const uint8_t key[32]);

/* Free the raw bytes and clear the view; safe on a cleared entry. */
KETEN_API void keten_entry_release(keten_entry *e);

/* Name of a body type ("allocation", "claim", ...) or NULL if unknown;
 * and back (0 if unknown). */
KETEN_API const char *keten_body_type_name(uint32_t body_type);
KETEN_API uint32_t keten_body_type_from_name(const char *name);

/* BLAKE2b-256 helper. */
KETEN_API void keten_hash(uint8_t out[32], const uint8_t *in, size_t len);

/* The body_hash of a body: BLAKE2b-256 keyed by salt (KETEN_SALT_BYTES,
 * format version 2), or unkeyed when salt is NULL (version 1). */
KETEN_API void keten_body_hash(uint8_t out[32], const uint8_t *salt, const uint8_t *body, size_t len);

#endif
