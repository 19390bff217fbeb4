/*
 * party.h — the parties a node knows: role names, finding a party by what
 * a person types, and a plain listing of every certified party.
 *
 * A party is an Ed25519 key that a trust anchor of this node certified
 * (certificate entries, see keten/record.h to write one).  Its derived
 * record holds its name, roles, AGB code, CBS municipality codes and
 * validity, and whether it was revoked or signed two entries at one
 * sequence number (forked).
 */
#ifndef KETEN_PARTY_H
#define KETEN_PARTY_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_txn;

/* Roles (the values of the ledger's Role). */
typedef enum keten_role {
	KETEN_ROLE_NONE = 0,
	KETEN_ROLE_REGION = 1,
	KETEN_ROLE_MUNICIPALITY = 2,
	KETEN_ROLE_LEAD_PROVIDER = 3,
	KETEN_ROLE_SUBCONTRACTOR = 4,
	KETEN_ROLE_AUDITOR = 5,
} keten_role;

/* "region", "municipality", "lead-provider", "subcontractor", "auditor"
 * for a role value (a static string); NULL for any other value. */
KETEN_API const char *keten_role_name(uint32_t role);

/* The role value of a name as keten_role_name writes it; 0 when unknown. */
KETEN_API uint32_t keten_role_from_name(const char *name);

/*
 * A party as a person names it, the one way the commands and the
 * dashboard read a party parameter: a full key (64 hex), a key prefix
 * (>= KETEN_MIN_PREFIX hex digits, case-insensitive) of a certified party
 * or else of self, or a certified name (case-insensitive).
 *   t      a read (or write) transaction.
 *   what   the text typed.
 *   self   this home's key (a prefix of it is accepted too).
 *   key    out: the first match (set when *found > 0).
 *   found  out: the number of matches (0: none, > 1: ambiguous).
 *   names  out, may be NULL: the matches as "HEX16 (name)" separated by
 *          ", ", cut at nlen bytes.
 * Errors: those of the store.
 */
KETEN_API int keten_party_find(struct keten_txn *t, const char *what, const uint8_t self[32], uint8_t key[32],
                               int *found, char *names, size_t nlen, struct keten_error *err);

/* One party as `keten party list` shows it.  Strings are valid only
 * during the callback. */
typedef struct keten_party_view {
	uint8_t key[32];
	const char *name;         /* "" when the certificate has none */
	char roles[128];          /* role names joined by ',' ("?" for an unknown role) */
	const char *status;       /* "valid", "revoked", "forked" or "expired" (valid_until before today) */
	bool anchor;              /* a trust anchor of this node */
	const char *agb;          /* NULL when none */
	const char *municipality; /* the first CBS code, NULL when none */
	uint32_t valid_from;      /* YYYYMMDD, 0 when not set */
	uint32_t valid_until;     /* YYYYMMDD, 0 when open */
} keten_party_view;

/* Return 0 to go on, > 0 to stop (the walk then returns 0), < 0 to stop
 * with an error (KETEN_EINVAL). */
typedef int (*keten_party_fn)(const keten_party_view *p, void *ctx);

/*
 * Call fn for every party certified here, in key order.
 * Errors: those of the store; KETEN_EINVAL when fn stops with an error.
 */
KETEN_API int keten_party_each(struct keten_txn *t, keten_party_fn fn, void *ctx, struct keten_error *err);

#endif
