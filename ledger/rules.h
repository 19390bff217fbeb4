/*
 * rules.h — (internal) the business rules and derived state of each body
 * type.  ledger.c calls keten_rules_apply for every entry that passed
 * authenticity, inside the append's write transaction; a handler decodes
 * the body, checks the hard rules against derived state, and updates that
 * state through the same transaction.  Nothing is written when it refuses.
 */
#ifndef KETEN_RULES_H
#define KETEN_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "keten/keten.h"
#include "keten/ledger.h"
#include "state.pb-c.h"

typedef struct keten_apply {
	keten_txn *txn;
	const keten_entry *e;
	bool local;                /* made here now, not received */
	uint32_t roles;            /* author's roles at the entry's time (bit per Role) */
	bool anchor;               /* author is one of this node's trust anchors */
	/* out */
	uint8_t missing[32];       /* for KETEN_EPENDING: what it waits for */
	uint8_t wake[32];          /* a key whose pending entries may now apply */
	bool has_wake;
} keten_apply;

#define ROLE_BIT(r) (1u << (r))

/*
 * Check and apply e's body.  Returns KETEN_OK (applied), KETEN_ERULE
 * (refused; err->rule set), KETEN_EPENDING (a->missing set), or a store
 * error.  Must not write anything before deciding to accept.
 */
int keten_rules_apply(keten_apply *a, keten_error *err);

/* Parties ---------------------------------------------------------------- */

/* Load a party's derived state (free with keten__state__party_state__free_unpacked).
 * KETEN_ENOTFOUND when the key was never certified here. */
int keten_party_load(keten_txn *t, const uint8_t key[32], Keten__State__PartyState **out,
                     keten_error *err);
int keten_party_save(keten_txn *t, const Keten__State__PartyState *p, keten_error *err);

/*
 * May key author an entry at ts_ms?  KETEN_OK with *roles set; KETEN_EAUTHOR
 * when nothing certifies it (yet); KETEN_ERULE when its certificate is
 * revoked or not valid at that time (err->rule says which).
 */
int keten_party_authorized(keten_txn *t, const uint8_t key[32], int64_t ts_ms,
                           uint32_t *roles, bool *anchor, keten_error *err);

bool keten_is_anchor(keten_txn *t, const uint8_t key[32]);

/*
 * A party as a person names it, the one way the commands and the
 * dashboard read a party parameter: a full key (64 hex), a key prefix
 * (>= KETEN_MIN_PREFIX hex digits, case-insensitive) of a certified party
 * or else of self, or a certified name (case-insensitive).  *found
 * receives the number of matches and key the first; names (may be NULL)
 * lists the matches as "HEX16 (name)", separated by ", ", cut at nlen.
 * Errors: those of the store.
 */
int keten_party_find(keten_txn *t, const char *what, const uint8_t self[32], uint8_t key[32], int *found,
                     char *names, size_t nlen, keten_error *err);

/* Role names: "municipality" <-> KETEN__ROLE__MUNICIPALITY. */
const char *keten_role_name(uint32_t role);
uint32_t keten_role_from_name(const char *name);

/* Body handlers of the settlement domain (domain.c). */
int keten_domain_apply(keten_apply *a, keten_error *err);

#endif
