/*
 * change.h — (internal) the change of a running arrangement: an
 * allocation that replaces another (iJw: a new toewijzing, the old one
 * ended with a reden wijziging), the stop code the JZ002 reason closes the
 * old one with, what was paid up front under the old one and carries over,
 * and the change window of the contract.  Used by the allocation rule
 * (contract.c), the claim, payment and correction rules, and reconcile.
 */
#ifndef KETEN_RULES_CHANGE_H
#define KETEN_RULES_CHANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "rules/rules.h"

/* Defaults of a contract without the terms (docs/money.md). */
#define KT_CHANGE_WINDOW_DAYS 42   /* 6 weeks */
#define KT_HEAVY_WINDOW_DAYS  84   /* 12 weeks */
#define KT_DELIVERED_BELOW_BP 8000 /* 80 % */
#define KT_AFTER_CLOSE_DAYS   31   /* "right after a close", as for rijgen */

/*
 * JZ002 (reden wijziging toewijzing): the stop code (JZ588) a change for
 * `reason` closes the replaced allocation with, or NULL when the reason
 * does not replace one (it ends or corrects an allocation).  *known: the
 * code is in JZ002; *obsolete: it is marked obsolete (01).
 */
const char *kt_change_stop(const char *reason, bool *known, bool *obsolete);

/* The days after an allocation's start within which replacing it is
 * normal: the contract's heavy window for an intensity it marks heavy,
 * else its change window (defaults above). */
uint32_t kt_change_window(const Keten__FrameworkContract *fc, const char *intensity);

/* A replacement being applied. */
typedef struct kt_change {
	Keten__State__AllocationState *old; /* what it replaces */
	const char *stop;                   /* the stop code old closes with */
	uint32_t close_date;                /* the day before the replacement starts (not before old's start) */
	int64_t carried;                    /* paid up front under old, credited to the replacement */
	int64_t owed;                       /* of that, above the replacement's 2/3: owed back */
	bool outside_window;                /* replaced later than the contract's window */
} kt_change;

/*
 * The hard rules of a replacement (al->replaces set) and what it carries
 * over, into ch (free with kt_change_free).  KETEN_OK with ch->old NULL
 * when al replaces nothing.  Rules: "change-reason-required",
 * "unknown-change-reason", "obsolete-change-reason",
 * "not-a-replacement-reason", "wrong-role" (another municipality's
 * allocation), "allocation-closed", "entry-void", "replacement-differs"
 * (another client, provider, domain or kind), "invalid-date".
 */
int kt_change_check(kt_apply *a, const Keten__Allocation *al, kt_change *ch, keten_error *err);
void kt_change_free(kt_change *ch);

/*
 * After the replacement's record `as` is stored: close the replaced
 * allocation (stop code, close date, replaced_by) and book what is owed
 * back as a debt of the lead provider to the municipality, kept as a
 * clawback record under the replacement's id (repaid by a payment naming
 * the replacement).  as gets the carried and owed amounts and its marks
 * before it is stored: call kt_change_fill first.
 */
void kt_change_fill(const kt_apply *a, const Keten__Allocation *al, const kt_change *ch,
                    Keten__State__AllocationState *as);
int kt_change_apply(kt_apply *a, const kt_change *ch, const Keten__State__AllocationState *as, keten_error *err);

/* A correction voids replacement `as`: the replaced allocation is open
 * again (unless a result closed it) and the debt is taken off the
 * balance ("clawback-has-repayments" locally when it was repaid). */
int kt_change_void(kt_apply *a, const Keten__State__AllocationState *as, keten_error *err);

/* Was the allocation replaced (its up-front and final parts are then the
 * replacement's)? */
bool kt_replaced(const Keten__State__AllocationState *as);

/* Is claim ks the up-front part of an allocation a change replaced?  Its
 * payment (or the voiding of one) would then change what was carried
 * over: refused ("allocation-replaced") by the payment and correction
 * rules, whose author made the change earlier in its own feed. */
bool kt_upfront_replaced(keten_txn *t, const Keten__State__ClaimState *ks);

/* The up-front part of a herstel amount still due after `carried` was
 * paid up front under what it replaces: 2/3 (floor) - carried, never
 * negative. */
int64_t kt_upfront_due(int64_t amount, int64_t carried);

#endif
