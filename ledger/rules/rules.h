/*
 * rules.h — (internal) the business rules and derived state of each body
 * type.  The core (core/pending.c) calls kt_rules_apply for every entry
 * that passed authenticity, inside the append's write transaction; a handler decodes
 * the body, checks the hard rules against derived state, and updates that
 * state through the same transaction.  Nothing is written when it refuses.
 */
#ifndef KETEN_RULES_H
#define KETEN_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "keten/keten.h"
#include "keten/ledger.h"
#include "keten/party.h"
#include "store/kv.h"
#include "proto/keten.pb-c.h"
#include "proto/state.pb-c.h"

typedef struct kt_apply {
	keten_txn *txn;
	const keten_entry *e;
	bool local;     /* made here now, not received */
	uint32_t roles; /* author's roles at the entry's time (bit per Role) */
	bool anchor;    /* author is one of this node's trust anchors */
	/* out */
	uint8_t missing[32]; /* for KETEN_EPENDING: what it waits for */
	uint8_t wake[32];    /* a key whose pending entries may now apply */
	bool has_wake;
} kt_apply;

#define ROLE_BIT(r) (1u << (r))

/*
 * Check and apply e's body.  Returns KETEN_OK (applied), KETEN_ERULE
 * (refused; err->rule set), KETEN_EPENDING (a->missing set), or a store
 * error.  Must not write anything before deciding to accept.
 */
int kt_rules_apply(kt_apply *a, keten_error *err);

/* Parties ---------------------------------------------------------------- */

/* Load a party's derived state (free with keten__state__party_state__free_unpacked).
 * KETEN_ENOTFOUND when the key was never certified here. */
int kt_party_load(keten_txn *t, const uint8_t key[32], Keten__State__PartyState **out, keten_error *err);
int kt_party_save(keten_txn *t, const Keten__State__PartyState *p, keten_error *err);

/*
 * May key author an entry at ts_ms?  KETEN_OK with *roles set; KETEN_EAUTHOR
 * when nothing certifies it (yet); KETEN_ERULE when its certificate is
 * revoked or not valid at that time (err->rule says which).
 */
int kt_party_authorized(keten_txn *t, const uint8_t key[32], int64_t ts_ms, uint32_t *roles, bool *anchor,
                        keten_error *err);

bool kt_is_anchor(keten_txn *t, const uint8_t key[32]);

/* May an entry at ts_ms still name key as its `what` (an offer's
 * subcontractor, a payment's payee, a ruling's debtor or creditor)?
 * KETEN_OK unless the key's certificate was revoked before ts_ms
 * (KETEN_ERULE "party-revoked") or does not cover its date
 * ("party-not-valid"); a key not certified here is other rules' to judge. */
int kt_party_valid_at(keten_txn *t, const uint8_t key[32], int64_t ts_ms, const char *what, keten_error *err);

/* keten_party_find and the role names (keten_role_name,
 * keten_role_from_name) are public: keten/party.h. */

/* Shared reference check for handlers: the entry `id` must be applied and of
 * one of the types in `mask` (bit per BodyType).  KETEN_EPENDING (a->missing
 * set) when it is not here yet; rule "wrong-reference-type" otherwise. */
int kt_ref(kt_apply *a, const uint8_t *id, size_t len, uint32_t mask, uint32_t *type, keten_error *err);
/* As kt_ref, but a reference this node holds only as a stub (its body is
 * withheld: this party is not in its audience) is accepted with *stub set,
 * its type taken from the signed header.  The handler then checks what it
 * can without that body. */
int kt_ref_stub(kt_apply *a, const uint8_t *id, size_t len, uint32_t mask, uint32_t *type, bool *stub,
                keten_error *err);
#define TYPE_BIT(t) (1u << (t))

/* Text field check: clean UTF-8 and no BSN ("bsn-in-text"). */
int kt_text(const char *field, const char *s, keten_error *err);

/* The author's roles: those its certificate names.  A trust anchor without
 * a certificate of its own may certify others but holds no role: an
 * authority certifies itself (keten init --anchor does). */
uint32_t kt_roles(const kt_apply *a);
/* Refuse an entry (rule `rule`, message `what`) whose author lacks `role`
 * ("municipality", ...).  An author with no certificate at all is told
 * which certificate is missing and the command that makes it. */
int kt_refuse_role(const kt_apply *a, const char *rule, const char *role, const char *what, keten_error *err);
#define ROLE_AUTHORITY (ROLE_BIT(KETEN__ROLE__REGION) | ROLE_BIT(KETEN__ROLE__MUNICIPALITY))

/* A WJ756 unit word (minute, hour, etmaal, dagdeel, piece-output, euro,
 * piece-effort); rules/volume.h for the old words and the checks. */
bool kt_unit_ok(const char *u);
/* The WJ756 unit word u of the subcontract tariff table (minute, hour,
 * etmaal, dagdeel, piece-output, piece-effort, euro) as a static string;
 * NULL when u is none of them. */
const char *kt_sub_unit(const char *u);

/* Does month ym (YYYYMM) overlap [start, end] (end 0: open)? */
bool kt_month_in(uint32_t ym, uint32_t start, uint32_t end);

/* Entry date of the entry being applied. */
uint32_t kt_entry_date(const kt_apply *a);

/* The municipality an entry is about (whose.c): an allocation's CBS code,
 * a framework contract's scope (an indexation's through its contract),
 * for what belongs to an allocation (offer, answer, delivery, claim,
 * payment, receipt, result, resume, clawback, correction) that
 * allocation's, for a dispute that of its entries, for a response or
 * ruling that of its dispute.  Certificates, revocations and checkpoints
 * have none.  What t cannot trace (a reference held here only as a stub,
 * or not at all) adds none.  Who may read a body beyond its audience
 * (auditors) and which authorities a dispute goes to follow this alone. */
#define KT_MAX_MUNICIPALITIES 16
typedef struct kt_municipalities {
	size_t n;
	char code[KT_MAX_MUNICIPALITIES][8];
} kt_municipalities;
void kt_entry_municipalities(keten_txn *t, const keten_entry *e, kt_municipalities *m);
/* Is code one of m's? */
bool kt_municipalities_has(const kt_municipalities *m, const char *code);

/* Body handlers, one per body type (party.c, contract.c, offer.c, the
 * money flow of rules/flow.h, dispute.c), called by kt_rules_apply
 * (apply.c) alone. */
int kt_rule_certificate(kt_apply *a, keten_error *err);
int kt_rule_revocation(kt_apply *a, keten_error *err);
int kt_rule_contract(kt_apply *a, keten_error *err);
int kt_rule_indexation(kt_apply *a, keten_error *err);
int kt_rule_allocation(kt_apply *a, keten_error *err);
int kt_rule_offer(kt_apply *a, keten_error *err);
int kt_rule_answer(kt_apply *a, keten_error *err);
int kt_rule_delivery(kt_apply *a, keten_error *err);
int kt_rule_claim(kt_apply *a, keten_error *err);
int kt_rule_payment(kt_apply *a, keten_error *err);
int kt_rule_receipt(kt_apply *a, keten_error *err);
int kt_rule_result(kt_apply *a, keten_error *err);
int kt_rule_resume(kt_apply *a, keten_error *err);
int kt_rule_clawback(kt_apply *a, keten_error *err);
int kt_rule_correction(kt_apply *a, keten_error *err);

#endif
