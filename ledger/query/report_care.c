/*
 * report_care.c — the care side of the regional report (keten/report.h;
 * query/rep.h says how the work is shared with report.c): the volume
 * delivered per unit, and for duurzaam arrangements the months paid set
 * against the months delivered.
 *
 * After report.c's payment scan each counted claim knows whether a
 * payment dated by as_of pays it; the months of duurzaam allocations so
 * paid are collected and sorted.  One scan of the delivery records then
 * adds each live delivery in the period to its group's volume per unit,
 * finds its root allocation (the delivery's target, or the allocation a
 * subcontract falls under) and marks the month paid for it as delivered,
 * with its hours.  A delivery dated in a month counts as that month's.
 */
#include <stdlib.h>
#include <string.h>

#include "query/rep.h"
#include "base/base.h"

static int cmp_oroot(const void *a, const void *b)
{
	return memcmp(((const struct oroot *)a)->id, ((const struct oroot *)b)->id, 32);
}

static int cmp_pmonth(const void *a, const void *b)
{
	const struct pmonth *x = a, *y = b;
	int c = memcmp(x->alloc, y->alloc, 32);
	return c ? c : (x->ym > y->ym) - (x->ym < y->ym);
}

int kt_rep_offer_root(struct rctx *x, const uint8_t id[32], const uint8_t alloc[32])
{
	if (kt_rep_grow((void **)&x->off, &x->cap_off, x->n_off, sizeof *x->off))
		return -1;
	memcpy(x->off[x->n_off].id, id, 32);
	memcpy(x->off[x->n_off].alloc, alloc, 32);
	x->n_off++;
	return 0;
}

void kt_rep_add_volume(keten_report_row *row, const char *unit, int64_t units)
{
	for (size_t i = 0; i < row->n_volumes; i++)
		if (strcmp(row->volumes[i].unit, unit) == 0) {
			keten_add_cents(row->volumes[i].units, units, &row->volumes[i].units);
			return;
		}
	/* the units a delivery may name are a short list (kt_unit_ok) */
	if (row->n_volumes < KETEN_REPORT_MAX_UNITS) {
		snprintf(row->volumes[row->n_volumes].unit, sizeof row->volumes[0].unit, "%s", unit);
		row->volumes[row->n_volumes++].units = units;
	}
}

void kt_rep_care_finish(keten_report_row *row)
{
	int64_t sum = row->duurzaam_hours_per_paid_month, n = (int64_t)row->duurzaam_paid_months;
	row->duurzaam_hours_per_paid_month = n && sum > 0 ? (sum + n / 2) / n : 0;
}

/* Hundredths of an hour in `units` hundredths of unit; -1: not a time. */
static int64_t hours_of(const char *unit, int64_t units)
{
	if (strcmp(unit, "hour") == 0)
		return units;
	if (strcmp(unit, "minute") == 0)
		return (units + 30) / 60;
	return -1;
}

/* Month ym overlaps the period and had begun by as_of. */
static bool month_counts(const struct rctx *x, uint32_t ym)
{
	uint32_t first = ym * 100 + 1,
		 last = ym * 100 + (uint32_t)keten_days_in_month((int)(ym / 100), (int)(ym % 100));
	return (!x->o->from || last >= x->o->from) && (!x->o->until || first <= x->o->until) && first <= x->cut;
}

/* The row of group g, or of month ym when the report is by month. */
static size_t row_for(struct rctx *x, size_t g, uint32_t ym)
{
	char key[16];
	if (x->o->by != KETEN_REPORT_MONTH)
		return g;
	kt_rep_month_key(key, sizeof key, ym * 100 + 1);
	return kt_rep_row_of(x, key);
}

/* The duurzaam months claimed by their lead provider and paid, sorted. */
static int paid_months(struct rctx *x)
{
	for (size_t i = 0; i < x->claims.cap; i++) {
		const struct cinfo *ci = &x->claims.t[i];
		struct pmonth *m;
		size_t g;
		if (!ci->used || !ci->ym || !ci->paid || !month_counts(x, ci->ym))
			continue;
		if ((g = row_for(x, ci->group, ci->ym)) == SIZE_MAX ||
		    kt_rep_grow((void **)&x->pm, &x->cap_pm, x->n_pm, sizeof *x->pm))
			return -1;
		m = &x->pm[x->n_pm++];
		memset(m, 0, sizeof *m);
		memcpy(m->alloc, ci->alloc, 32);
		m->ym = ci->ym;
		m->group = g;
	}
	if (x->n_pm)
		qsort(x->pm, x->n_pm, sizeof *x->pm, cmp_pmonth);
	if (x->n_off)
		qsort(x->off, x->n_off, sizeof *x->off, cmp_oroot);
	return 0;
}

/* The allocation a delivery's target falls under; NULL when not counted. */
static const uint8_t *root_of(const struct rctx *x, const ProtobufCBinaryData *target)
{
	struct oroot key, *hit;
	if (target->len != 32)
		return NULL;
	if (kt_rep_group_of_alloc(x, target->data) != SIZE_MAX)
		return target->data;
	if (!x->n_off)
		return NULL;
	memcpy(key.id, target->data, 32);
	hit = bsearch(&key, x->off, x->n_off, sizeof *x->off, cmp_oroot);
	return hit && kt_rep_group_of_alloc(x, hit->alloc) != SIZE_MAX ? hit->alloc : NULL;
}

/* One delivery: its volume, and the paid month it serves. */
static int delivery_cb(const uint8_t *k KT_UNUSED, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct rctx *x = p;
	Keten__State__DeliveryState *ds;
	const uint8_t *alloc;
	uint32_t ym;
	size_t g;
	int rc = 0;

	if (kl != 33 || !(ds = keten__state__delivery_state__unpack(NULL, vl, v)))
		return 0;
	if (ds->voided || !ds->period || !ds->unit || keten_parse_period(ds->period, &ym) != 0 ||
	    !month_counts(x, ym) || !(alloc = root_of(x, &ds->target)))
		goto out;
	if ((g = row_for(x, kt_rep_group_of_alloc(x, alloc), ym)) == SIZE_MAX) {
		x->fail = KETEN_ENOMEM;
		rc = -1;
		goto out;
	}
	kt_rep_add_volume(&x->r->rows[g], ds->unit, ds->units);
	{
		struct pmonth key, *m;
		memcpy(key.alloc, alloc, 32);
		key.ym = ym;
		m = x->n_pm ? bsearch(&key, x->pm, x->n_pm, sizeof *x->pm, cmp_pmonth) : NULL;
		if (m) {
			int64_t h = hours_of(ds->unit, ds->units);
			m->delivered = true;
			if (h > 0)
				keten_add_cents(m->hours, h, &m->hours);
		}
	}
out:
	kt_state_free(ds);
	return rc;
}

int kt_rep_care(struct rctx *x, keten_error *err)
{
	uint8_t kind = DK_DELIVERY;
	int rc;

	if (paid_months(x)) {
		x->fail = KETEN_ENOMEM;
		return 0;
	}
	if ((rc = kt_kv_scan(x->t, KT_STATE, &kind, 1, delivery_cb, x, err)))
		return rc;
	for (size_t i = 0; i < x->n_pm; i++) {
		const struct pmonth *m = &x->pm[i];
		keten_report_row *row = &x->r->rows[m->group];
		KETEN_ASSERT(m->group < x->r->n_rows);
		row->duurzaam_paid_months++;
		if (!m->delivered)
			row->duurzaam_unserved_months++;
		/* summed here; kt_rep_care_finish makes it the average */
		keten_add_cents(row->duurzaam_hours_per_paid_month, m->hours, &row->duurzaam_hours_per_paid_month);
	}
	return 0;
}
