/*
 * report.h — the regional monitor: per municipality, provider, arrangement
 * or month, how many allocations and clients, what was allocated and paid,
 * what share of the care was subcontracted, how long herstel trajectories
 * ran, how many stopped early (by stop code), how often an arrangement was
 * chained (rijgen), and how long payers took to pay (median and 90th
 * percentile days from a claim's date to each payment on it).  Beside
 * those: the outcomes (doelrealisatie) of the allocations closed, dropout
 * (the client ended the care early: jeugd stop code 32, wmo 21) apart from
 * the other early stops, maatwerk allocations and their amount, the care
 * delivered per unit, the paid amount per client, and for duurzaam the
 * delivered-versus-paid signal: months paid, of those the months with no
 * delivery on the arrangement, and the hours delivered per paid month.
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
	uint32_t today;       /* end of open-ended duurzaam arrangements; 0: as_of, else today */
	/* What was known on this day (0: everything): allocations and
	 * subcontracts started by it, closes, payments and claims dated by
	 * it (a claim by its own date), deliveries for months begun by it. */
	uint32_t as_of;
} keten_report_opts;

#define KETEN_REPORT_MAX_STOPS 24
#define KETEN_REPORT_MAX_UNITS 16

/* Care delivered in one unit (iJw/iWmo unit name as the deliveries give it). */
typedef struct keten_report_volume {
	char unit[16];
	int64_t units; /* hundredths */
} keten_report_volume;

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
	/* outcomes of the allocations closed in the period (any kind), by outcome */
	size_t achieved, partial, not_achieved, stopped;
	size_t dropouts;               /* early stops ended by the client (keten_report_dropout) */
	size_t other_stops;            /* the other early stops: early_stops - dropouts */
	size_t maatwerk;               /* allocations counted with a maatwerk amount */
	int64_t maatwerk_cents;        /* their allocated amount (as allocated_cents) */
	int64_t cost_per_client_cents; /* paid_cents / clients, rounded half up; 0 without clients */
	size_t n_volumes;
	keten_report_volume volumes[KETEN_REPORT_MAX_UNITS]; /* delivered in the period, by unit */
	size_t duurzaam_paid_months;                         /* months of duurzaam allocations claimed and paid */
	size_t duurzaam_unserved_months;                     /* of those, months with no delivery on the arrangement */
	int64_t duurzaam_hours_per_paid_month; /* hours delivered in those months / their count, hundredths */
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

/* Is stop code `code` of domain a dropout: the client ended the care
 * early (jeugd 32, wmo 21, "eenzijdig beeindigd door client")? */
KETEN_API bool keten_report_dropout(const char *domain, const char *code);

#endif
