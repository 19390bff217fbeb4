/*
 * domain.h — (internal) the derived state of the settlement domain and the
 * helpers that the body handlers (flow_*.c) and the commands share.
 *
 * State records live in the `state` table under a one-byte kind followed by
 * the 32-byte id of the entry they derive from; each record is a message of
 * proto/state.proto.  Secondary indices live in the `index` table.
 * Balances are kept per pair of parties and per day, and as a running total
 * per pair, so that `balance` reads one record per counterparty and
 * --as-of sums the days of one pair instead of scanning the ledger.
 */
#ifndef KETEN_DOMAIN_H
#define KETEN_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"
#include "keten.pb-c.h"

/* Kinds in KT_STATE: kind || id (32). */
enum {
	DK_CONTRACT = 'c',    /* ContractState */
	DK_ALLOCATION = 'a',  /* AllocationState */
	DK_OFFER = 'o',       /* OfferState */
	DK_DELIVERY = 'l',    /* DeliveryState */
	DK_CLAIM = 'k',       /* ClaimState */
	DK_PAYMENT = 'p',     /* PaymentState, with its live receipt's date and flag (no lookup for --as-of) */
	DK_RECEIPT = 'q',     /* ReceiptState */
	DK_CLAWBACK = 'w',    /* ClawbackState */
	DK_BALANCE = 'b',     /* BalanceDay: 'b' || payer || payee || date (4 BE) */
	DK_TOTAL = 'T',       /* BalanceDay as a running total: 'T' || payer || payee */
	DK_MARK = 'V',        /* the one-byte key 'V' -> "": the per-party indices below are complete */
};

/* Kinds in KT_INDEX (value "" unless said otherwise). */
enum {
	DX_CONTRACT_REF = 'C',  /* 'C' || ref || 0 || contract id */
	DX_OFFERS = 'O',        /* 'O' || allocation || offer: offers under a root allocation */
	DX_INSTALLMENT = 'I',   /* 'I' || target || installment: a live claim for it exists */
	DX_CLIENT = 'L',        /* 'L' || client ref || 0 || allocation: for rijgen */
	DX_PARTY = 'P',         /* 'P' || party || state kind || id -> a copy of the record, or "" (dom_put) */
	DX_PAIR = 'B',          /* 'B' || party || payer || payee: the pairs with a total that a party is in */
};

/*
 * The per-party indices (DX_PARTY, DX_PAIR and the DK_TOTAL records) are
 * kept by dom_put and dom_balance_add in the append transaction; they are
 * complete on a ledger that had them from its first domain record.
 * A ledger that held domain records before they existed has no DK_MARK;
 * readers then scan the state table as before instead of trusting an
 * index that lacks the older records.
 */
bool dom_indexed(keten_txn *t);
/* Called before an allocation or offer record is first written: marks a
 * ledger with no domain records yet as indexed from the start. */
int dom_index_begin(keten_txn *t, keten_error *err);

/* Balance fields of a BalanceDay. */
typedef enum { BAL_CLAIMED, BAL_PAID, BAL_RECEIVED, BAL_CLAWBACK, BAL_REPAID } dom_bal_field;

/* Generic access to a state record; *out is freed with dom_free.  dom_put
 * of an allocation, offer, delivery, claim, payment or clawback also
 * indexes it under DX_PARTY for each party it concerns (payer, payee,
 * municipality; a clawback's debtors and creditors; a delivery's target's
 * parties): claims, payments, deliveries and clawbacks with a copy of the
 * record, so that one party's are read in one sequential scan instead of a
 * lookup each in the whole state table; allocations and offers, rewritten
 * on every claim and payment, with "" (looked up).  Those party fields
 * never change after the first put. */
int dom_get(keten_txn *t, uint8_t kind, const uint8_t id[32], const ProtobufCMessageDescriptor *d,
            void **out, keten_error *err);
int dom_put(keten_txn *t, uint8_t kind, const uint8_t id[32], const void *msg, keten_error *err);
void dom_free(void *msg);

/* Add delta to one field of the pair's record for `date`, and to the pair's
 * running total (DK_TOTAL, indexed under both parties by DX_PAIR). */
int dom_balance_add(keten_txn *t, const uint8_t payer[32], const uint8_t payee[32], uint32_t date,
                    dom_bal_field f, int64_t delta, keten_error *err);

/* Helpers on unpacked (malloc-owned) state messages. */
int dom_set_bytes(ProtobufCBinaryData *b, const uint8_t *data, size_t len);
int dom_add_string(char ***arr, size_t *n, const char *s);
bool dom_has_string(char *const *arr, size_t n, const char *s);

/* Index helpers. */
int dom_index_put(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2,
                  keten_error *err);
int dom_index_del(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2,
                  keten_error *err);
bool dom_index_has(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2);

/* The id of the contract with this reference; KETEN_ENOTFOUND when none. */
int keten_dom_contract_by_ref(keten_txn *t, const char *ref, uint8_t id[32], keten_error *err);
/* The contract's body, decoded from its entry. */
int keten_dom_contract_body(keten_txn *t, const uint8_t id[32], Keten__FrameworkContract **out,
                            keten_error *err);

/* Stop codes (reden beeindiging, JZ588 / WMO588) per domain: label or NULL. */
const char *keten_dom_stop_label(const char *domain, const char *code);

/* Amount indexed by every step with from_year < year <= to_year, compounding. */
bool keten_dom_indexed(const Keten__State__ContractState *cs, int64_t cents, uint32_t from_year,
                       uint32_t to_year, int64_t *out);

/* The framework tariff line; NULL when the table has none. */
const Keten__Tariff *keten_dom_tariff(const Keten__FrameworkContract *fc, const char *profile,
                                      const char *intensity, uint32_t kind);
const Keten__Component *keten_dom_component(const Keten__FrameworkContract *fc, const char *code);

/*
 * What a claim for `installment` on target (allocation or offer) amounts to
 * by the agreement: herstel / fixed upfront = 2/3 (floor), final = the rest;
 * a month = the (indexed) monthly amount pro rata; "units" = the referenced
 * deliveries' units x unit tariff (or the whole P x Q amount without any).
 * KETEN_EINVAL when the installment does not fit the target.
 */
int keten_dom_expected_claim(keten_txn *t, const uint8_t target[32], const char *installment,
                             const uint8_t (*deliveries)[32], size_t n_deliveries, int64_t *cents,
                             keten_error *err);

/* As keten_dom_expected_claim without deliveries, for a target already
 * decoded (as or os) and, for an allocation, its contract state when known
 * (NULL: read it): reconcile computes it for every claim it shows. */
int keten_dom_expected_for(keten_txn *t, const Keten__State__AllocationState *as,
                           const Keten__State__OfferState *os, const Keten__State__ContractState *cs,
                           const char *installment, int64_t *cents, keten_error *err);

/*
 * The clawback the contract's early-stop rule asks for: reclaim_bp of the
 * up-front part paid; when the rule says the subcontractors share it, their
 * parts pro rata to the subcontracted amounts (weights: the lead provider's
 * own part = allocation - subcontracted, and each accepted offer's amount).
 * parties/shares hold up to max entries; *n receives the count.
 * Refused ("clawback-exists") when live clawbacks on the allocation already
 * stand: the rule asks for its share once, and adding it again would double
 * it (void the earlier clawback with a correction first).
 */
/* The rule text of a clawback computed by keten_dom_clawback_auto starts
 * with this: flow_clawback tells an automatic clawback by it (the body has
 * no other mark), so that a second one is refused ("clawback-exists"). */
#define DOM_CLAWBACK_AUTO_PREFIX "early-stop "
int keten_dom_clawback_auto(keten_txn *t, const uint8_t alloc[32], int64_t *amount,
                            uint8_t (*parties)[32], int64_t *shares, size_t max, size_t *n,
                            char *rule, size_t rule_len, keten_error *err);

/* Shared reference check for handlers: the entry `id` must be applied and of
 * one of the types in `mask` (bit per BodyType).  KETEN_EPENDING (a->missing
 * set) when it is not here yet; rule "wrong-reference-type" otherwise. */
int dom_ref(keten_apply *a, const uint8_t *id, size_t len, uint32_t mask, uint32_t *type,
            keten_error *err);
/* As dom_ref, but a reference this node holds only as a stub (its body is
 * withheld: this party is not in its audience) is accepted with *stub set,
 * its type taken from the signed header.  The handler then checks what it
 * can without that body. */
int dom_ref_stub(keten_apply *a, const uint8_t *id, size_t len, uint32_t mask, uint32_t *type,
                 bool *stub, keten_error *err);
#define TYPE_BIT(t) (1u << (t))

/* Text field check: clean UTF-8 and no BSN ("bsn-in-text"). */
int dom_text(const char *field, const char *s, keten_error *err);

/* The author's roles; a trust anchor with no certificate of its own counts
 * as region and municipality (the certifying authority). */
uint32_t dom_roles(const keten_apply *a);
#define ROLE_AUTHORITY (ROLE_BIT(KETEN__ROLE__REGION) | ROLE_BIT(KETEN__ROLE__MUNICIPALITY))

/* An iJw/iWmo unit name keten knows (minute, hour, day, dagdeel, etmaal, piece, ...). */
bool flow_unit_ok(const char *u);

/* Does month ym (YYYYMM) overlap [start, end] (end 0: open)? */
bool dom_month_in(uint32_t ym, uint32_t start, uint32_t end);

/* Entry date of the entry being applied. */
uint32_t dom_entry_date(const keten_apply *a);

/* Handlers (flow_contract.c, flow_offer.c, flow_money.c). */
int flow_contract(keten_apply *a, keten_error *err);
int flow_indexation(keten_apply *a, keten_error *err);
int flow_allocation(keten_apply *a, keten_error *err);
int flow_offer(keten_apply *a, keten_error *err);
int flow_answer(keten_apply *a, keten_error *err);
int flow_delivery(keten_apply *a, keten_error *err);
int flow_claim(keten_apply *a, keten_error *err);
int flow_payment(keten_apply *a, keten_error *err);
int flow_receipt(keten_apply *a, keten_error *err);
int flow_result(keten_apply *a, keten_error *err);
int flow_clawback(keten_apply *a, keten_error *err);
int flow_correction(keten_apply *a, keten_error *err);

#endif
