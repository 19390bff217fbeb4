/*
 * rep.h — (internal) what the two files of the regional report share
 * (see keten/report.h for what it answers):
 *
 *   report.c       the groups and their rows: allocations, subcontracts,
 *                  claims and payments, the sums and the total
 *   report_care.c  the care delivered per unit, and for duurzaam the
 *                  months paid against the months delivered
 *
 * One struct rctx carries a report from the first scan to the result.
 */
#ifndef KETEN_QUERY_REP_H
#define KETEN_QUERY_REP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keten/report.h"
#include "rules/terms.h"

/* A claim counted: its group, date and what it claims. */
struct cinfo {
	uint8_t id[32];
	size_t group;
	uint32_t date;     /* the claim's own date */
	uint32_t ym;       /* a duurzaam month claimed by the lead provider (YYYYMM); 0: other */
	uint8_t alloc[32]; /* with ym: the allocation */
	bool sub;          /* a claim on a subcontract */
	bool paid;         /* some payment dated by as_of pays it */
	bool used;
};

/* Claim id -> cinfo: open addressing on the id's first bytes. */
struct cmap {
	struct cinfo *t;
	size_t cap, n;
};

/* Allocation id -> group: a sorted array after the allocation scan. */
struct agroup {
	uint8_t id[32];
	size_t group;
	bool duurzaam;
};

/* Subcontract id -> its root allocation (for the deliveries on it). */
struct oroot {
	uint8_t id[32];
	uint8_t alloc[32];
};

/* A duurzaam month paid, and what was delivered in it. */
struct pmonth {
	uint8_t alloc[32];
	uint32_t ym;
	size_t group;
	bool delivered;
	int64_t hours; /* hundredths of an hour */
};

struct client {
	size_t group;
	char *ref;
};

struct delays {
	int64_t *d;
	size_t n, cap;
};

struct rctx {
	keten_txn *t;
	const keten_report_opts *o;
	uint32_t today;
	uint32_t cut; /* as_of, or UINT32_MAX: what is dated after it does not count */
	keten_report *r;
	size_t cap_rows;
	struct delays *dl; /* per row, parallel to r->rows */
	struct delays dl_total;
	int64_t *traj_days; /* per row: sum of trajectory days */
	struct client *cl;
	size_t n_cl, cap_cl;
	struct agroup *ag;
	size_t n_ag, cap_ag;
	struct oroot *off;
	size_t n_off, cap_off;
	struct pmonth *pm;
	size_t n_pm, cap_pm;
	struct cmap claims;
	/* contract state cache (few contracts) */
	uint8_t (*ck)[32];
	Keten__State__ContractState **cs;
	size_t n_cs;
	size_t n_made; /* rows made (dl and traj_days are indexed by them) */
	int fail;
};

/* Grow *arr (of *cap elements of size bytes) to hold n + 1; -1 without memory. */
int kt_rep_grow(void **arr, size_t *cap, size_t n, size_t size);
/* The row with this key, made when new; SIZE_MAX without memory. */
size_t kt_rep_row_of(struct rctx *x, const char *key);
/* "YYYY-MM" of a date (or of YYYYMM00). */
void kt_rep_month_key(char *buf, size_t len, uint32_t ymd);
/* The group of an allocation counted; SIZE_MAX when not. */
size_t kt_rep_group_of_alloc(const struct rctx *x, const uint8_t id[32]);

/* report_care.c ---------------------------------------------------------------- */

/* Remember that subcontract `id` falls under allocation `alloc`; -1 without memory. */
int kt_rep_offer_root(struct rctx *x, const uint8_t id[32], const uint8_t alloc[32]);
/* After the payments: the duurzaam months paid, then the scan of the
 * deliveries (volumes per unit; the months delivered). */
int kt_rep_care(struct rctx *x, keten_error *err);
/* Add units (hundredths) of unit to the row's volumes. */
void kt_rep_add_volume(keten_report_row *row, const char *unit, int64_t units);
/* The row's duurzaam hours, summed so far, made the average per paid month. */
void kt_rep_care_finish(keten_report_row *row);

#endif
