/*
 * flow.h — (internal) what the rules of the money flow share: claims
 * (claim.c), payments (payment.c), receipts (receipt.c), results and stops
 * (result.c), resumes after a pause (resume.c), clawbacks (clawback.c)
 * and corrections (correction.c).
 *
 * Every amount of the flow moves the balance of its pair of parties
 * (payer, payee) on its day and the counters of the allocation or
 * subcontract it is about; a correction voids its author's own entry and
 * takes it out of every count, the original stays.  The helpers here are
 * the ones more than one of those files needs: loading the records a
 * flow entry refers to, moving a target's counters, and the few facts
 * about a record that two rules must read the same way.
 */
#ifndef KETEN_RULES_FLOW_H
#define KETEN_RULES_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "rules/terms.h"

#define KT_ALLOC_BIT TYPE_BIT(KETEN__BODY_TYPE__ALLOCATION)
#define KT_OFFER_BIT TYPE_BIT(KETEN__BODY_TYPE__SUBCONTRACT_OFFER)

/* The state record of an allocation, offer, claim or clawback (free with
 * kt_state_free); KETEN_ENOTFOUND when there is none. */
int kt_load_allocation(keten_txn *t, const uint8_t id[32], Keten__State__AllocationState **as, keten_error *err);
int kt_load_offer(keten_txn *t, const uint8_t id[32], Keten__State__OfferState **os, keten_error *err);
int kt_load_claim(keten_txn *t, const uint8_t id[32], Keten__State__ClaimState **ks, keten_error *err);
int kt_load_clawback(keten_txn *t, const uint8_t id[32], Keten__State__ClawbackState **cb, keten_error *err);

/* Move the claimed / paid / up-front-paid counters of a claim's target
 * (allocation or offer) by the given amounts; "amount-overflow" when a
 * total would overflow. */
int kt_adjust_target(keten_txn *t, const uint8_t target[32], int64_t claimed, int64_t paid, int64_t upfront,
                     keten_error *err);

/* The part of an amount paid on claim ks that counts as paid up front:
 * all of it for an "upfront" claim on an allocation, else nothing.  The
 * clawback limit of a herstel allocation is that total. */
int64_t kt_upfront_part(const Keten__State__ClaimState *ks, int64_t amount);

/* The first debt of cb whose debtor is key, or NULL.  A debtor may owe
 * several (a subcontractor with two subcontracts under the allocation
 * has two shares), all to the same creditor. */
Keten__State__Debt *kt_debt_of(const Keten__State__ClawbackState *cb, const uint8_t key[32]);

/* What key still owes on cb: its debts less what it repaid, together. */
int64_t kt_debt_open(const Keten__State__ClawbackState *cb, const uint8_t key[32]);

/* Book a repayment of part (at most kt_debt_open) on key's debts in
 * their order, each up to what is open on it; unbook takes part (at most
 * what key repaid) off them from the last one back. */
void kt_debt_repay(Keten__State__ClawbackState *cb, const uint8_t key[32], int64_t part);
void kt_debt_unrepay(Keten__State__ClawbackState *cb, const uint8_t key[32], int64_t part);

/* Set or clear the "receipt-mismatch" finding of a payment record.
 * 0, or -1 without memory. */
int kt_receipt_mismatch(Keten__State__PaymentState *ps, bool on);

/* Does the payment record name receipt id as its live receipt? (NULL: any) */
bool kt_payment_has_receipt(const Keten__State__PaymentState *ps, const uint8_t *id);

#endif
