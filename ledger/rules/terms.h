/*
 * terms.h — (internal) what a framework contract's signed terms say, and
 * the amounts keten computes from them.  Every amount here follows from a
 * term of a signed contract (or a default written in docs/money.md).
 */
#ifndef KETEN_RULES_TERMS_H
#define KETEN_RULES_TERMS_H

#include <stdbool.h>
#include <stdint.h>

#include "state/state.h"
#include "rules/rules.h"

/* The id of the contract with this reference; KETEN_ENOTFOUND when none. */
int kt_contract_by_ref(keten_txn *t, const char *ref, uint8_t id[32], keten_error *err);
/* The contract's body, decoded from its entry. */
int kt_contract_body(keten_txn *t, const uint8_t id[32], Keten__FrameworkContract **out, keten_error *err);

/* Stop codes (reden beeindiging, JZ588 / WMO588) per domain: label or NULL. */
const char *kt_stop_label(const char *domain, const char *code);

/* Amount indexed by every step with from_year < year <= to_year, compounding. */
bool kt_tariff_indexed(const Keten__State__ContractState *cs, int64_t cents, uint32_t from_year, uint32_t to_year,
                       int64_t *out);

/*
 * The value of allocation `as` in month ym (YYYYMM): its monthly amount
 * indexed by the contract's steps from its start year to ym's year (cs
 * NULL: not indexed), pro rata for a month it covers in part, 0 for a
 * month outside it.  The one place that prices a month of an allocation:
 * expected claims, reconcile's agreed amounts and the report's allocated
 * costs all ask here.  false (and *out untouched) when indexing overflows.
 */
bool kt_alloc_month(const Keten__State__AllocationState *as, const Keten__State__ContractState *cs, uint32_t ym,
                    int64_t *out);

/* The framework tariff line; NULL when the table has none. */
const Keten__Tariff *kt_tariff(const Keten__FrameworkContract *fc, const char *profile, const char *intensity,
                               uint32_t kind);
const Keten__Component *kt_component(const Keten__FrameworkContract *fc, const char *code);

/*
 * What a claim for `installment` on target (allocation or offer) amounts to
 * by the agreement: herstel / fixed upfront = 2/3 (floor; on a replacement
 * less what was paid up front under what it replaces, rules/change.h),
 * final = the rest;
 * a month = the (indexed) monthly amount pro rata; "units" = the referenced
 * deliveries' units x unit tariff (or the whole P x Q amount without any).
 * KETEN_EINVAL when the installment does not fit the target.
 */
int kt_expected_claim(keten_txn *t, const uint8_t target[32], const char *installment, const uint8_t (*deliveries)[32],
                      size_t n_deliveries, int64_t *cents, keten_error *err);

/* As kt_expected_claim without deliveries, for a target already
 * decoded (as or os) and, for an allocation, its contract state when known
 * (NULL: read it): reconcile computes it for every claim it shows. */
int kt_expected_for(keten_txn *t, const Keten__State__AllocationState *as, const Keten__State__OfferState *os,
                    const Keten__State__ContractState *cs, const char *installment, int64_t *cents, keten_error *err);

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
/* The rule text of a clawback computed by kt_clawback_auto starts
 * with this: kt_rule_clawback tells an automatic clawback by it (the body has
 * no other mark), so that a second one is refused ("clawback-exists"). */
#define KT_CLAWBACK_AUTO_PREFIX "early-stop "
int kt_clawback_auto(keten_txn *t, const uint8_t alloc[32], int64_t *amount, uint8_t (*parties)[32], int64_t *shares,
                     size_t max, size_t *n, char *rule, size_t rule_len, keten_error *err);

#endif
