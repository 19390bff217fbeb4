/*
 * state.h — (internal) the derived state of the settlement domain: the
 * records each applied entry leaves in LMDB, their secondary indices and
 * the balances per pair of parties.
 *
 * State records live in the `state` table under a one-byte kind followed by
 * the 32-byte id of the entry they derive from; each record is a message of
 * proto/state.proto.  Secondary indices live in the `index` table.
 * Balances are kept per pair of parties and per day, and as a running total
 * per pair, so that `balance` reads one record per counterparty and
 * --as-of sums the days of one pair instead of scanning the ledger.
 *
 * This layer knows records and keys, not rules: the body rules (rules/)
 * decide what to write, the queries (query/) read it.
 */
#ifndef KETEN_STATE_STATE_H
#define KETEN_STATE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "keten/keten.h"
#include "store/kv.h"
#include "proto/keten.pb-c.h"
#include "proto/state.pb-c.h"

/* Kinds in KT_STATE: kind || id (32). */
enum {
	DK_CONTRACT = 'c',   /* ContractState */
	DK_ALLOCATION = 'a', /* AllocationState */
	DK_OFFER = 'o',      /* OfferState */
	DK_DELIVERY = 'l',   /* DeliveryState */
	DK_CLAIM = 'k',      /* ClaimState */
	DK_PAYMENT = 'p',    /* PaymentState, with its live receipt's date and flag (no lookup for --as-of) */
	DK_RECEIPT = 'q',    /* ReceiptState */
	DK_CLAWBACK = 'w',   /* ClawbackState */
	DK_BALANCE = 'b',    /* BalanceDay: 'b' || payer || payee || date (4 BE) */
	DK_TOTAL = 'T',      /* BalanceDay as a running total: 'T' || payer || payee */
	DK_MARK = 'V',       /* the one-byte key 'V' -> "": the per-party indices below are complete */
};

/* Kinds in KT_INDEX (value "" unless said otherwise). */
enum {
	DX_CONTRACT_REF = 'C', /* 'C' || ref || 0 || contract id */
	DX_OFFERS = 'O',       /* 'O' || allocation || offer: offers under a root allocation */
	DX_INSTALLMENT = 'I',  /* 'I' || target || installment: a live claim for it exists */
	DX_CLIENT = 'L',       /* 'L' || client ref || 0 || allocation: for rijgen */
	DX_ALLOC_NUMBER = 'W', /* 'W' || CBS || 0 || domain || 0 || toewijzingnummer || 0 || allocation */
	DX_PARTY = 'P',        /* 'P' || party || state kind || id -> a copy of the record, or "" (kt_state_put) */
	DX_PAIR = 'B',         /* 'B' || party || payer || payee: the pairs with a total that a party is in */
	DX_INVOICE = 'F',      /* 'F' || payee || number: a live claim of the payee carries this factuurnummer */
};

/*
 * The per-party indices (DX_PARTY, DX_PAIR and the DK_TOTAL records) are
 * kept by kt_state_put and kt_balance_add in the append transaction; they are
 * complete on a ledger that had them from its first domain record.
 * A ledger that held domain records before they existed has no DK_MARK;
 * readers then scan the state table as before instead of trusting an
 * index that lacks the older records.
 */
bool kt_state_indexed(keten_txn *t);
/* Called before an allocation or offer record is first written: marks a
 * ledger with no domain records yet as indexed from the start. */
int kt_state_index_begin(keten_txn *t, keten_error *err);

/* Balance fields of a BalanceDay. */
typedef enum { BAL_CLAIMED, BAL_PAID, BAL_RECEIVED, BAL_CLAWBACK, BAL_REPAID } kt_bal_field;

/* Generic access to a state record; *out is freed with kt_state_free.  kt_state_put
 * of an allocation, offer, delivery, claim, payment or clawback also
 * indexes it under DX_PARTY for each party it concerns (payer, payee,
 * municipality; a clawback's debtors and creditors; a delivery's target's
 * parties): claims, payments, deliveries and clawbacks with a copy of the
 * record, so that one party's are read in one sequential scan instead of a
 * lookup each in the whole state table; allocations and offers, rewritten
 * on every claim and payment, with "" (looked up).  Those party fields
 * never change after the first put. */
int kt_state_get(keten_txn *t, uint8_t kind, const uint8_t id[32], const ProtobufCMessageDescriptor *d, void **out,
                 keten_error *err);
int kt_state_put(keten_txn *t, uint8_t kind, const uint8_t id[32], const void *msg, keten_error *err);
void kt_state_free(void *msg);

/* Add delta to one field of the pair's record for `date`, and to the pair's
 * running total (DK_TOTAL, indexed under both parties by DX_PAIR). */
int kt_balance_add(keten_txn *t, const uint8_t payer[32], const uint8_t payee[32], uint32_t date, kt_bal_field f,
                   int64_t delta, keten_error *err);

/* Helpers on unpacked (malloc-owned) state messages. */
int kt_set_bytes(ProtobufCBinaryData *b, const uint8_t *data, size_t len);
int kt_strs_add(char ***arr, size_t *n, const char *s);
bool kt_strs_has(char *const *arr, size_t n, const char *s);

/* Index helpers. */
int kt_index_put(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2, keten_error *err);
int kt_index_del(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2, keten_error *err);
bool kt_index_has(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2);

#endif
