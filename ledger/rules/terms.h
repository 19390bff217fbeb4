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
/* The i-th stop code of the domain's list (0-based) with its label; NULL past the end. */
const char *kt_stop_code_at(const char *domain, size_t i, const char **label);

/* Stop code 20 (tijdelijk beeindigd, in both lists) pauses an allocation
 * instead of ending it: a Resume entry ends the pause. */
#define KT_STOP_PAUSE "20"
bool kt_stop_is_pause(const char *code);

/*
 * The share in basis points of the final part still due after a stop
 * with `code` in `domain`: the contract's StopFinal line for the code
 * (fc NULL: none), else keten's default (docs/money.md): 10000 after a
 * stop according to plan (jeugd 31, wmo 19), 0 after every other stop.
 * code NULL (no stop): 10000.
 */
uint32_t kt_final_bp(const Keten__FrameworkContract *fc, const char *domain, const char *code);

/*
 * The final part of herstel allocation `as` that is due: the rest after
 * floor(2/3) of its amount, and once it is closed (a pause is no close)
 * that rest x kt_final_bp of its stop code, rounded half away from zero
 * (keten_apply_bp); what is not due is the rest of the rest, so the two
 * add up to the final part.  fc: its contract's body (NULL: read here;
 * not held: the defaults).  *bp (may be NULL) receives the share.
 * false on overflow.
 */
bool kt_final_due(keten_txn *t, const Keten__State__AllocationState *as, const Keten__FrameworkContract *fc,
                  int64_t *due, uint32_t *bp);

/* Pauses ---------------------------------------------------------------- */

/*
 * The paused day ranges of allocation `as`, from its pause and resume
 * events (kept sorted, see state.proto AllocationPause): a pause on day D
 * pauses from D + 1 (D is the last day of care), a resume on day R ends
 * it on R - 1; a pause while paused and a resume while not paused change
 * nothing.  Calls fn(from, until, ctx) per range, until 0 for a pause
 * that is still open; fn returns false to stop.
 */
typedef bool (*kt_span_fn)(uint32_t from, uint32_t until, void *ctx);
void kt_pause_spans(const Keten__State__AllocationState *as, kt_span_fn fn, void *ctx);

/* Is `as` paused now (its last pause not resumed)?  *since (may be NULL)
 * receives that pause's date. */
bool kt_paused(const Keten__State__AllocationState *as, uint32_t *since);

/* Insert a pause or resume event into as->pauses in its sorted place.
 * 0, or -1 without memory. */
int kt_pause_add(Keten__State__AllocationState *as, const uint8_t entry[32], const uint8_t author[32], uint32_t date,
                 bool resume);

/* The last date of the pause and resume events of `as` (0: none). */
uint32_t kt_pause_last(const Keten__State__AllocationState *as);

/*
 * The days of month ym (YYYYMM) that [start, end] (end 0: open) covers,
 * less those after the close date of allocation `as` (when closed) and
 * those it was paused (as NULL: neither).  *dim (may be NULL) receives
 * the days of the month.
 */
int kt_month_days(uint32_t ym, uint32_t start, uint32_t end, const Keten__State__AllocationState *as, int *dim);

/*
 * What a month of `monthly` is worth over kt_month_days: all of it for a
 * whole month, else monthly x days / days in month rounded half away from
 * zero (one rounding per month, as keten_prorata_month does it), 0 for
 * none.  What a pause or the close takes off a month is monthly minus
 * this: the two add up to the monthly amount.
 */
int64_t kt_month_value(int64_t monthly, uint32_t ym, uint32_t start, uint32_t end,
                       const Keten__State__AllocationState *as);

/* Does month ym start after the close date of `as` (closed; not a pause)? */
bool kt_month_after_close(const Keten__State__AllocationState *as, uint32_t ym);
/* Is every day of month ym that [start, end] covers paused in `as`? */
bool kt_month_paused(const Keten__State__AllocationState *as, uint32_t ym, uint32_t start, uint32_t end);

/* Amount indexed by every step with from_year < year <= to_year, compounding. */
bool kt_tariff_indexed(const Keten__State__ContractState *cs, int64_t cents, uint32_t from_year, uint32_t to_year,
                       int64_t *out);

/*
 * The value of allocation `as` in month ym (YYYYMM): its monthly amount
 * indexed by the contract's steps from its start year to ym's year (cs
 * NULL: not indexed), pro rata over the days of the month it covers, not
 * paused and not after its close date (kt_month_value), 0 for a month
 * outside it.  The one place that prices a month of an allocation:
 * expected claims, reconcile's agreed amounts and the report's allocated
 * costs all ask here.  false (and *out untouched) when indexing overflows.
 */
bool kt_alloc_month(const Keten__State__AllocationState *as, const Keten__State__ContractState *cs, uint32_t ym,
                    int64_t *out);

/* The framework tariff line; NULL when the table has none. */
const Keten__Tariff *kt_tariff(const Keten__FrameworkContract *fc, const char *profile, const char *intensity,
                               uint32_t kind);
const Keten__Component *kt_component(const Keten__FrameworkContract *fc, const char *code);
/* The subcontract tariff line of service; NULL when the table has none (or fc is NULL). */
const Keten__SubTariff *kt_sub_tariff(const Keten__FrameworkContract *fc, const char *service);

/*
 * The price of a share-priced subcontract: share_bp of what it subcontracts
 * (the subcontract passed on when parent is set, else the allocation as),
 * rounded half away from zero to the cent: round(amount x share_bp / 10000).
 * The amount is the allocation's as allocated: a herstel trajectory's
 * whole price, a duurzaam month, a component's P x Q; or the parent
 * subcontract's fixed, monthly or units x tariff total.  *monthly says
 * whether that is a monthly amount (a duurzaam allocation, a monthly
 * subcontract): the subcontract is then offered per month.  false when
 * share_bp is not 1..10000 or the share rounds to nothing.
 */
bool kt_share_of(const Keten__State__AllocationState *as, const Keten__State__OfferState *parent, uint32_t share_bp,
                 int64_t *cents, bool *monthly);

/*
 * What a claim for `installment` on target (allocation or offer) amounts to
 * by the agreement: herstel / fixed upfront = 2/3 (floor; on a replacement
 * less what was paid up front under what it replaces, rules/change.h),
 * final = the rest (on a closed herstel allocation the part of it due
 * after the stop, kt_final_due); a month = the (indexed) monthly amount
 * pro rata (kt_month_value: a monthly subcontract with its root
 * allocation's close and pauses when that is held here); "units" = the referenced
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
 * parties/shares hold up to max entries (at most KT_CLAWBACK_MAX_SHARES
 * count); *n receives the count.  More accepted subcontracts than that
 * are refused ("too-many-shares"), never split among some of them.
 * Refused ("clawback-exists") when live clawbacks on the allocation already
 * stand: the rule asks for its share once, and adding it again would double
 * it (void the earlier clawback with a correction first).
 */
/* The rule text of a clawback computed by kt_clawback_auto starts
 * with this: kt_rule_clawback tells an automatic clawback by it (the body has
 * no other mark), so that a second one is refused ("clawback-exists"). */
#define KT_CLAWBACK_AUTO_PREFIX "early-stop "
/* The passed-on shares a clawback carries at most, on every node alike. */
#define KT_CLAWBACK_MAX_SHARES  64
int kt_clawback_auto(keten_txn *t, const uint8_t alloc[32], int64_t *amount, uint8_t (*parties)[32], int64_t *shares,
                     size_t max, size_t *n, char *rule, size_t rule_len, keten_error *err);

#endif
