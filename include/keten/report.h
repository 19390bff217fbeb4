/*
 * report.h — the regional monitor: per municipality, provider, arrangement
 * or month, how many allocations and clients, what was allocated and paid,
 * what share of the care was subcontracted, how long herstel trajectories
 * ran, how many stopped early (by stop code), how often an arrangement was
 * chained (rijgen), and how long payers took to pay (median and 90th
 * percentile days from claim to payment).
 *
 * Only what this node holds bodies of counts: the derived state records of
 * allocations, subcontract offers, claims and payments (stubs never reach
 * derived state).  Nothing walks the ledger's entries.
 */
#ifndef KETEN_REPORT_H
#define KETEN_REPORT_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_txn;

typedef enum keten_report_by {
	KETEN_REPORT_MUNICIPALITY = 1, /* the allocation's CBS code */
	KETEN_REPORT_PROVIDER,         /* the lead provider (key, hex) */
	KETEN_REPORT_ARRANGEMENT,      /* "J03/4 herstel", "W02/B duurzaam", "C01 component" */
	KETEN_REPORT_MONTH,            /* allocations by start month; money and delays by payment month */
} keten_report_by;

typedef struct keten_report_opts {
	keten_report_by by;
	uint32_t from, until; /* period, YYYYMMDD inclusive; 0: open on that side */
	uint32_t today;       /* end of open-ended duurzaam arrangements; 0: today */
} keten_report_opts;

#define KETEN_REPORT_MAX_STOPS 24

typedef struct keten_report_stop {
	char code[8]; /* reden beeindiging */
	size_t n;
} keten_report_stop;

/* One group.  Amounts in cents; days rounded half up. */
typedef struct keten_report_row {
	char key[72];
	size_t allocations;
	size_t clients;              /* distinct client references */
	int64_t allocated_cents;     /* herstel/component amounts; duurzaam months in the period */
	int64_t paid_cents;          /* paid on claims of allocations (to lead providers) */
	int64_t subcontracted_cents; /* accepted subcontracts on those allocations */
	int64_t sub_paid_cents;      /* paid on claims of subcontracts (to subcontractors) */
	uint32_t subcontracted_bp;   /* subcontracted / allocated, basis points */
	size_t closed_herstel;       /* closed herstel allocations (trajectories) */
	int64_t avg_trajectory_days; /* their average length, start to close, inclusive */
	size_t early_stops;          /* closed with a stop code other than "according to plan" */
	size_t n_stops;
	keten_report_stop stops[KETEN_REPORT_MAX_STOPS]; /* early stops by code, by code */
	size_t rijgen;
	size_t payments; /* claim-payment pairs measured */
	int64_t delay_median_days;
	int64_t delay_p90_days;
} keten_report_row;

typedef struct keten_report {
	size_t n_rows;
	keten_report_row *rows; /* by key */
	keten_report_row total; /* key "total" */
} keten_report;

/*
 * Build the report in one read transaction.
 * Errors: KETEN_EINVAL (bad options), KETEN_ENOMEM, KETEN_ESTORE.
 */
KETEN_API int keten_report_build(struct keten_txn *t, const keten_report_opts *o, keten_report *out,
                                 struct keten_error *err);

/* Free a report and clear it; safe on a cleared one and on NULL. */
KETEN_API void keten_report_release(keten_report *r);

/* "municipality", "provider", "arrangement", "month" and back (0: unknown). */
KETEN_API const char *keten_report_by_name(keten_report_by by);
KETEN_API keten_report_by keten_report_by_from_name(const char *s);

/* Is stop code `code` of domain ("jeugd" or "wmo") an end according to plan? */
KETEN_API bool keten_report_planned_stop(const char *domain, const char *code);

#endif
