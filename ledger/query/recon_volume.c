/*
 * recon_volume.c — the volume findings of reconciliation (see recon.h):
 * the deliveries on an allocation with a volume (omvang), month by month,
 * against what the volume allows (rules/volume.h, kt_volume_month):
 *
 *   delivered-above-volume  a month's units (frequency week or month), or
 *                           all of them (frequency total), exceed it;
 *   delivered-below-volume  a duurzaam month in hours that is over and
 *                           claimed delivered less than the contract's
 *                           share of it (delivered_below_bp, default 80%).
 *
 * Only deliveries on the allocation itself count: they are the lead
 * provider's account to the municipality (a subcontractor's deliveries on
 * its subcontract are its account to the lead provider, and counting both
 * would count the same care twice).  The scan keeps the deliveries
 * (kt_recon_vol_delivery); the claims are the context's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/recon.h"
#include "rules/change.h"
#include "rules/volume.h"
#include "base/base.h"

#define MAX_EVIDENCE 12

static bool has_volume(const struct subj *s)
{
	return s->as && !s->as->voided && s->as->has_volume && s->as->volume > 0 && s->as->volume_unit &&
		s->as->frequency;
}

static int vol_push(struct recon_ctx *x, size_t subj, uint32_t ym, int64_t units, bool claim, const uint8_t id[32])
{
	struct vol *v;
	if (kt_grow((void **)&x->vol, &x->cap_vol, x->n_vol, sizeof *x->vol))
		return keten_fail(x->err, KETEN_ENOMEM, NULL);
	v = &x->vol[x->n_vol++];
	v->subj = subj;
	v->ym = ym;
	v->units = units;
	v->claim = claim;
	memcpy(v->id, id, 32);
	return 0;
}

int kt_recon_vol_delivery(struct recon_ctx *x, size_t i, uint32_t ym, int64_t units, const uint8_t id[32])
{
	KETEN_ASSERT(i < x->n_s);
	return has_volume(&x->s[i]) ? vol_push(x, i, ym, units, false, id) : 0;
}

static int cmp_vol(const void *a, const void *b)
{
	const struct vol *p = a, *q = b;
	if (p->subj != q->subj)
		return p->subj < q->subj ? -1 : 1;
	if (p->ym != q->ym)
		return p->ym < q->ym ? -1 : 1;
	if (p->claim != q->claim)
		return p->claim ? 1 : -1;
	return memcmp(p->id, q->id, 32);
}

/* The claimed months of duurzaam allocations in hours, judged for below. */
static int vol_claims(struct recon_ctx *x)
{
	for (size_t i = 0; i < x->n_c; i++) {
		const struct claim *c = &x->c[i];
		const struct subj *s = &x->s[c->subj];
		uint32_t ym;
		if (!has_volume(s) || s->as->kind != KETEN__KIND__DUURZAAM || strcmp(s->as->volume_unit, "hour") != 0 ||
		    !c->cs->installment || keten_parse_period(c->cs->installment, &ym) != 0 || c->cs->date > x->as_of)
			continue;
		if (vol_push(x, c->subj, ym, 0, true, c->cs->id.data))
			return -1;
	}
	return 0;
}

/* One group of x->vol: subject s, and with ym != 0 one month. */
struct group {
	struct subj *s;
	uint32_t ym;
	int64_t units;
	const uint8_t *ids[MAX_EVIDENCE];
	size_t n;
	const uint8_t *claim;
};

static void group_add(struct group *g, const struct vol *v)
{
	if (v->claim) {
		g->claim = g->claim ? g->claim : v->id;
		return;
	}
	keten_add_cents(g->units, v->units, &g->units);
	if (g->n < MAX_EVIDENCE)
		g->ids[g->n++] = v->id;
}

static void fmt_units(char *buf, size_t len, __int128 num, int64_t den)
{
	int64_t h = (int64_t)(num / den); /* hundredths, floor */
	snprintf(buf, len, "%lld.%02lld", (long long)(h / 100), (long long)(h % 100));
}

/* A month's units above what the volume allows, or a claimed month over below the contract's share. */
static int month_findings(struct recon_ctx *x, const struct group *g)
{
	const Keten__State__AllocationState *as = g->s->as;
	const keten_recon_line *l = &g->s->l;
	/* the first id is what the finding is about (findings are told apart
	 * by kind and first id): the month's first delivery, or its claim */
	const uint8_t *ids[MAX_EVIDENCE + 2] = {NULL, as->id.data};
	Keten__State__ContractState *cs;
	Keten__FrameworkContract *fc;
	int64_t num, den, bp = KT_DELIVERED_BELOW_BP;
	uint32_t last = g->ym * 100 + (uint32_t)keten_days_in_month((int)(g->ym / 100), (int)(g->ym % 100));
	char d[160], got[32], allowed[32];
	size_t n = 2;

	if (!kt_volume_month(as, g->ym, &num, &den))
		return 0;
	for (size_t i = 0; i < g->n; i++)
		ids[n++] = g->ids[i];
	ids[0] = g->n ? g->ids[0] : g->claim;
	fmt_units(got, sizeof got, (__int128)g->units * den, den);
	fmt_units(allowed, sizeof allowed, num, den);
	if ((__int128)g->units * den > (__int128)num) {
		snprintf(d, sizeof d, "%04u-%02u: %s %s delivered, the volume allows %s (%s)", g->ym / 100, g->ym % 100,
		         got, as->volume_unit, allowed, as->frequency);
		return kt_recon_add(x, "delivered-above-volume", as->id.data, l->payer, l->payee, 0, ids, n, d);
	}
	if (!g->claim || as->kind != KETEN__KIND__DUURZAAM || strcmp(as->volume_unit, "hour") != 0 || last >= x->as_of)
		return 0;
	kt_recon_contract(x, &as->contract, &cs, &fc);
	if (fc && fc->has_delivered_below_bp)
		bp = fc->delivered_below_bp;
	/* below: units / (num / den) < bp / 10000 */
	if ((__int128)g->units * den * 10000 >= (__int128)bp * num)
		return 0;
	ids[0] = g->claim; /* (each id is listed once: add_finding drops repeats) */
	snprintf(d, sizeof d, "%04u-%02u claimed: %s hours delivered of %s (under %lld.%02lld%%)", g->ym / 100,
	         g->ym % 100, got, allowed, (long long)(bp / 100), (long long)(bp % 100));
	return kt_recon_add(x, "delivered-below-volume", as->id.data, l->payer, l->payee, 0, ids, n, d);
}

/* All of a subject's units above a volume in total. */
static int total_finding(struct recon_ctx *x, const struct group *g)
{
	const Keten__State__AllocationState *as = g->s->as;
	const uint8_t *ids[MAX_EVIDENCE + 1] = {as->id.data};
	char d[160], got[32], allowed[32];
	size_t n = 1;

	if (strcmp(as->frequency, "total") != 0 || g->units <= as->volume)
		return 0;
	for (size_t i = 0; i < g->n; i++)
		ids[n++] = g->ids[i];
	fmt_units(got, sizeof got, g->units, 1);
	fmt_units(allowed, sizeof allowed, as->volume, 1);
	snprintf(d, sizeof d, "%s %s delivered in all, the volume is %s in total", got, as->volume_unit, allowed);
	return kt_recon_add(x, "delivered-above-volume", as->id.data, g->s->l.payer, g->s->l.payee, 0, ids, n, d);
}

int kt_recon_volume_findings(struct recon_ctx *x)
{
	int rc = 0;

	if (vol_claims(x))
		return -1;
	if (x->n_vol)
		qsort(x->vol, x->n_vol, sizeof *x->vol, cmp_vol);
	for (size_t i = 0; rc == 0 && i < x->n_vol;) {
		struct group all = {.s = &x->s[x->vol[i].subj]};
		size_t j = i;
		while (rc == 0 && j < x->n_vol && x->vol[j].subj == x->vol[i].subj) {
			struct group m = {.s = all.s, .ym = x->vol[j].ym};
			size_t k = j;
			for (; k < x->n_vol && x->vol[k].subj == x->vol[j].subj && x->vol[k].ym == x->vol[j].ym; k++) {
				group_add(&m, &x->vol[k]);
				group_add(&all, &x->vol[k]);
			}
			KETEN_ASSERT(k > j);
			rc = month_findings(x, &m);
			j = k;
		}
		if (rc == 0)
			rc = total_finding(x, &all);
		i = j;
	}
	return rc;
}
