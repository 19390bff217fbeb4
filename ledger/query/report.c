/*
 * report.c — the regional monitor from derived state (see keten/report.h
 * and, for how the work is shared with report_care.c, query/rep.h).
 *
 * Four prefix scans of the `state` table: allocations (each assigned to a
 * group, with its client, amount, maatwerk, close, outcome and stop),
 * offers (subcontracted amounts, added to the group of their root
 * allocation), claims (their own date and the group of the allocation
 * they fall under) and payments (money paid and the delay between a
 * claim's date and each payment on it, for payments not dated before
 * their claim); then report_care.c's scan of the deliveries.  With
 * as_of, what is dated after it does not count.  Groups are few
 * (municipalities, providers, arrangements, months), so they are found
 * by a linear search; claims are found by an id map.  Distinct clients
 * are counted by sorting (group, client) pairs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/rep.h"
#include "base/base.h"

const char *keten_report_by_name(keten_report_by by)
{
	switch (by) {
	case KETEN_REPORT_MUNICIPALITY: return "municipality";
	case KETEN_REPORT_PROVIDER: return "provider";
	case KETEN_REPORT_ARRANGEMENT: return "arrangement";
	case KETEN_REPORT_MONTH: return "month";
	default: return "";
	}
}

keten_report_by keten_report_by_from_name(const char *s)
{
	for (int b = KETEN_REPORT_MUNICIPALITY; s && b <= KETEN_REPORT_MONTH; b++)
		if (strcmp(s, keten_report_by_name((keten_report_by)b)) == 0)
			return (keten_report_by)b;
	return (keten_report_by)0;
}

bool keten_report_planned_stop(const char *domain, const char *code)
{
	if (!code)
		return true;
	if (domain && strcmp(domain, "wmo") == 0)
		return strcmp(code, "19") == 0;
	return strcmp(code, "31") == 0;
}

bool keten_report_dropout(const char *domain, const char *code)
{
	if (!code)
		return false;
	if (domain && strcmp(domain, "wmo") == 0)
		return strcmp(code, "21") == 0;
	return strcmp(code, "32") == 0;
}

/* Claim id -> (group, date, kind) --------------------------------------------- */

static size_t cslot(const struct cmap *m, const uint8_t id[32])
{
	uint64_t h;
	memcpy(&h, id, 8);
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
		if (!m->t[i].used || memcmp(m->t[i].id, id, 32) == 0)
			return i;
}

static int cput(struct cmap *m, const struct cinfo *c)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct cmap g = {.cap = m->cap ? m->cap * 2 : 256};
		if (!(g.t = calloc(g.cap, sizeof *g.t)))
			return -1;
		for (size_t i = 0; i < m->cap; i++)
			if (m->t[i].used)
				g.t[cslot(&g, m->t[i].id)] = m->t[i], g.n++;
		free(m->t);
		*m = g;
	}
	size_t i = cslot(m, c->id);
	if (!m->t[i].used)
		m->n++;
	m->t[i] = *c;
	m->t[i].used = true;
	return 0;
}

static struct cinfo *cget(const struct cmap *m, const uint8_t id[32])
{
	if (!m->cap)
		return NULL;
	size_t i = cslot(m, id);
	return m->t[i].used ? &m->t[i] : NULL;
}

static int cmp_agroup(const void *a, const void *b)
{
	return memcmp(((const struct agroup *)a)->id, ((const struct agroup *)b)->id, 32);
}

/* Context ------------------------------------------------------------------------ */

int kt_rep_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, c * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = c;
	return 0;
}

size_t kt_rep_row_of(struct rctx *x, const char *key)
{
	keten_report *r = x->r;
	size_t old = x->cap_rows;
	for (size_t i = 0; i < r->n_rows; i++)
		if (strcmp(r->rows[i].key, key) == 0)
			return i;
	if (kt_rep_grow((void **)&r->rows, &x->cap_rows, r->n_rows, sizeof *r->rows))
		return SIZE_MAX;
	if (x->cap_rows != old) {
		void *a = realloc(x->dl, x->cap_rows * sizeof *x->dl), *b;
		if (!a)
			return SIZE_MAX;
		x->dl = a;
		b = realloc(x->traj_days, x->cap_rows * sizeof *x->traj_days);
		if (!b)
			return SIZE_MAX;
		x->traj_days = b;
	}
	memset(&r->rows[r->n_rows], 0, sizeof *r->rows);
	memset(&x->dl[r->n_rows], 0, sizeof *x->dl);
	x->traj_days[r->n_rows] = 0;
	snprintf(r->rows[r->n_rows].key, sizeof r->rows[r->n_rows].key, "%s", key);
	x->n_made = r->n_rows + 1;
	return r->n_rows++;
}

void kt_rep_month_key(char *buf, size_t len, uint32_t ymd)
{
	snprintf(buf, len, "%04u-%02u", ymd / 10000, ymd / 100 % 100);
}

static const char *kind_name(uint32_t k)
{
	switch (k) {
	case KETEN__KIND__HERSTEL: return "herstel";
	case KETEN__KIND__DUURZAAM: return "duurzaam";
	case KETEN__KIND__COMPONENT: return "component";
	default: return "";
	}
}

static void group_key(const struct rctx *x, const Keten__State__AllocationState *as, char *buf, size_t len)
{
	switch (x->o->by) {
	case KETEN_REPORT_MUNICIPALITY: snprintf(buf, len, "%s", as->municipality ? as->municipality : "-"); break;
	case KETEN_REPORT_PROVIDER:
		if (as->provider.len == 32)
			keten_hex(buf, as->provider.data, 32);
		else
			snprintf(buf, len, "-");
		break;
	case KETEN_REPORT_ARRANGEMENT:
		if (as->kind == KETEN__KIND__COMPONENT)
			snprintf(buf, len, "%s component", as->component ? as->component : "-");
		else
			snprintf(buf, len, "%s/%s %s", as->profile ? as->profile : "-",
			         as->intensity ? as->intensity : "-", kind_name(as->kind));
		break;
	default: kt_rep_month_key(buf, len, as->start); break;
	}
}

static bool in_period(const struct rctx *x, uint32_t d)
{
	return (!x->o->from || d >= x->o->from) && (!x->o->until || d <= x->o->until) && d <= x->cut;
}

static const Keten__State__ContractState *contract(struct rctx *x, const ProtobufCBinaryData *id)
{
	Keten__State__ContractState *cs = NULL;
	void *a, *b;
	if (id->len != 32)
		return NULL;
	for (size_t i = 0; i < x->n_cs; i++)
		if (memcmp(x->ck[i], id->data, 32) == 0)
			return x->cs[i];
	if (!(a = realloc(x->ck, (x->n_cs + 1) * sizeof *x->ck)))
		return NULL;
	x->ck = a;
	if (!(b = realloc(x->cs, (x->n_cs + 1) * sizeof *x->cs)))
		return NULL;
	x->cs = b;
	kt_state_get(x->t, DK_CONTRACT, id->data, &keten__state__contract_state__descriptor, (void **)&cs, NULL);
	memcpy(x->ck[x->n_cs], id->data, 32);
	x->cs[x->n_cs++] = cs;
	return cs;
}

/* Allocated amount of a duurzaam arrangement: its months within the period
 * and up to today (or as_of), pro rata, indexed. */
static int64_t duurzaam_total(struct rctx *x, const Keten__State__AllocationState *as)
{
	const Keten__State__ContractState *cs = contract(x, &as->contract);
	uint32_t lo = as->start, hi = as->end ? as->end : x->today;
	int64_t sum = 0;
	if (x->o->from && lo < x->o->from)
		lo = x->o->from;
	if (x->o->until && hi > x->o->until)
		hi = x->o->until;
	if (hi > x->cut)
		hi = x->cut;
	if (!lo || hi < lo)
		return 0;
	for (uint32_t ym = lo / 100; ym <= hi / 100; ym = (ym % 100 == 12) ? ym + 89 : ym + 1) {
		int64_t month;
		if (!kt_alloc_month(as, cs, ym, &month) || !keten_add_cents(sum, month, &sum))
			break;
	}
	return sum;
}

static void add_stop(keten_report_row *row, const char *code)
{
	row->early_stops++;
	for (size_t i = 0; i < row->n_stops; i++)
		if (strcmp(row->stops[i].code, code) == 0) {
			row->stops[i].n++;
			return;
		}
	if (row->n_stops < KETEN_REPORT_MAX_STOPS) {
		snprintf(row->stops[row->n_stops].code, sizeof row->stops[0].code, "%s", code);
		row->stops[row->n_stops++].n = 1;
	}
}

/* An allocation counted in row g: its amount, maatwerk, rijgen and client.
 * -1 without memory. */
static int alloc_counted(struct rctx *x, const Keten__State__AllocationState *as, keten_report_row *row, size_t g)
{
	int64_t amount = as->kind == KETEN__KIND__DUURZAAM ? duurzaam_total(x, as) : as->amount_cents;

	row->allocations++;
	keten_add_cents(row->allocated_cents, amount, &row->allocated_cents);
	if (as->maatwerk) {
		row->maatwerk++;
		keten_add_cents(row->maatwerk_cents, amount, &row->maatwerk_cents);
	}
	if (kt_strs_has(as->findings, as->n_findings, "rijgen"))
		row->rijgen++;
	if (!as->client_ref)
		return 0;
	if (kt_rep_grow((void **)&x->cl, &x->cap_cl, x->n_cl, sizeof *x->cl))
		return -1;
	x->cl[x->n_cl].group = g;
	if (!(x->cl[x->n_cl].ref = strdup(as->client_ref)))
		return -1;
	x->n_cl++;
	return 0;
}

/* An allocation closed in the period: its trajectory, outcome and stop. */
static void alloc_closed(struct rctx *x, const Keten__State__AllocationState *as, keten_report_row *row, size_t g)
{
	if (as->kind == KETEN__KIND__HERSTEL && as->close_date >= as->start) {
		row->closed_herstel++;
		x->traj_days[g] += keten_date_days(as->close_date) - keten_date_days(as->start) + 1;
	}
	switch (as->outcome) {
	case KETEN__OUTCOME__ACHIEVED: row->achieved++; break;
	case KETEN__OUTCOME__PARTIAL: row->partial++; break;
	case KETEN__OUTCOME__NOT_ACHIEVED: row->not_achieved++; break;
	case KETEN__OUTCOME__STOPPED: row->stopped++; break;
	default: break;
	}
	if (!as->stop_code || keten_report_planned_stop(as->domain, as->stop_code))
		return;
	add_stop(row, as->stop_code);
	if (keten_report_dropout(as->domain, as->stop_code))
		row->dropouts++;
	else
		row->other_stops++;
}

static int alloc_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct rctx *x = p;
	Keten__State__AllocationState *as;
	keten_report_row *row;
	char key[72];
	size_t g;

	if (kl != 33)
		return 0;
	if (!(as = keten__state__allocation_state__unpack(NULL, vl, v)))
		return 0;
	if (as->voided) {
		kt_state_free(as);
		return 0;
	}
	group_key(x, as, key, sizeof key);
	if ((g = kt_rep_row_of(x, key)) == SIZE_MAX || kt_rep_grow((void **)&x->ag, &x->cap_ag, x->n_ag, sizeof *x->ag))
		goto oom;
	memcpy(x->ag[x->n_ag].id, k + 1, 32);
	x->ag[x->n_ag].duurzaam = as->kind == KETEN__KIND__DUURZAAM;
	x->ag[x->n_ag++].group = g;
	row = &x->r->rows[g];
	/* counted when it overlaps the period and had started by as_of */
	if ((!x->o->until || as->start <= x->o->until) && (!x->o->from || !as->end || as->end >= x->o->from) &&
	    as->start <= x->cut && alloc_counted(x, as, row, g))
		goto oom;
	if (as->closed && as->close_date && in_period(x, as->close_date))
		alloc_closed(x, as, row, g);
	kt_state_free(as);
	return 0;
oom:
	kt_state_free(as);
	x->fail = KETEN_ENOMEM;
	return -1;
}

static const struct agroup *alloc_of(const struct rctx *x, const uint8_t id[32])
{
	struct agroup key;
	if (!x->n_ag)
		return NULL;
	memcpy(key.id, id, 32);
	return bsearch(&key, x->ag, x->n_ag, sizeof *x->ag, cmp_agroup);
}

size_t kt_rep_group_of_alloc(const struct rctx *x, const uint8_t id[32])
{
	const struct agroup *hit = alloc_of(x, id);
	return hit ? hit->group : SIZE_MAX;
}

static int offer_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct rctx *x = p;
	Keten__State__OfferState *os;
	size_t g;
	if (kl != 33)
		return 0;
	if (!(os = keten__state__offer_state__unpack(NULL, vl, v)))
		return 0;
	/* every live offer leads its deliveries to its root allocation (report_care.c) */
	if (!os->voided && os->allocation.len == 32 && kt_rep_offer_root(x, k + 1, os->allocation.data)) {
		kt_state_free(os);
		x->fail = KETEN_ENOMEM;
		return -1;
	}
	/* accepted first-level subcontracts, overlapping the period, started by as_of */
	if (!os->voided && os->accepted && os->parent.len == 32 && os->allocation.len == 32 &&
	    memcmp(os->parent.data, os->allocation.data, 32) == 0 &&
	    (g = kt_rep_group_of_alloc(x, os->allocation.data)) != SIZE_MAX &&
	    (!x->o->until || os->start <= x->o->until) && (!x->o->from || !os->end || os->end >= x->o->from) &&
	    os->start <= x->cut) {
		int64_t amount = os->amount_cents;
		if (os->pricing == KETEN__PRICING__MONTHLY) {
			uint32_t lo = os->start, hi = os->end ? os->end : x->today;
			amount = 0;
			if (x->o->from && lo < x->o->from)
				lo = x->o->from;
			if (x->o->until && hi > x->o->until)
				hi = x->o->until;
			if (hi > x->cut)
				hi = x->cut;
			for (uint32_t ym = lo / 100; lo && ym <= hi / 100; ym = (ym % 100 == 12) ? ym + 89 : ym + 1)
				keten_add_cents(amount, keten_prorata_month(os->amount_cents, ym, os->start, os->end),
				                &amount);
		}
		keten_add_cents(x->r->rows[g].subcontracted_cents, amount, &x->r->rows[g].subcontracted_cents);
	}
	kt_state_free(os);
	return 0;
}

static int claim_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct rctx *x = p;
	Keten__State__ClaimState *cs;
	struct cinfo ci = {0};
	if (kl != 33)
		return 0;
	if (!(cs = keten__state__claim_state__unpack(NULL, vl, v)))
		return 0;
	/* a claim counts by its own date (the entry's when it gives none) */
	if (!cs->voided && cs->date <= x->cut) {
		const ProtobufCBinaryData *root = cs->allocation.len == 32 ? &cs->allocation : &cs->target;
		const struct agroup *ag = root->len == 32 ? alloc_of(x, root->data) : NULL;
		uint32_t ym;
		ci.group = ag ? ag->group : SIZE_MAX;
		ci.sub = !(cs->target.len == 32 && root->len == 32 && memcmp(cs->target.data, root->data, 32) == 0);
		ci.date = cs->date;
		/* a month of a duurzaam allocation claimed by its lead provider */
		if (ag && ag->duurzaam && !ci.sub && cs->installment && keten_parse_period(cs->installment, &ym) == 0) {
			ci.ym = ym;
			memcpy(ci.alloc, root->data, 32);
		}
		memcpy(ci.id, k + 1, 32);
		if (ci.group != SIZE_MAX && cput(&x->claims, &ci)) {
			kt_state_free(cs);
			x->fail = KETEN_ENOMEM;
			return -1;
		}
	}
	kt_state_free(cs);
	return 0;
}

static int push_delay(struct delays *d, int64_t v)
{
	if (kt_rep_grow((void **)&d->d, &d->cap, d->n, sizeof *d->d))
		return -1;
	d->d[d->n++] = v;
	return 0;
}

static int payment_cb(const uint8_t *k KT_UNUSED, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct rctx *x = p;
	Keten__State__PaymentState *ps;
	if (kl != 33)
		return 0;
	if (!(ps = keten__state__payment_state__unpack(NULL, vl, v)))
		return 0;
	if (!ps->voided && !ps->repayment && ps->date <= x->cut) {
		for (size_t i = 0; i < ps->n_parts; i++) {
			const Keten__State__ClaimPart *cp = ps->parts[i];
			struct cinfo *ci = cp->claim.len == 32 ? cget(&x->claims, cp->claim.data) : NULL;
			size_t g;
			if (!ci || cp->amount_cents <= 0)
				continue;
			/* a duurzaam month is paid when a payment by as_of pays its claim */
			ci->paid = true;
			if (!in_period(x, ps->date))
				continue;
			g = ci->group;
			if (x->o->by == KETEN_REPORT_MONTH) {
				char key[16];
				kt_rep_month_key(key, sizeof key, ps->date);
				if ((g = kt_rep_row_of(x, key)) == SIZE_MAX)
					goto oom;
			}
			keten_report_row *row = &x->r->rows[g];
			if (ci->sub)
				keten_add_cents(row->sub_paid_cents, cp->amount_cents, &row->sub_paid_cents);
			else
				keten_add_cents(row->paid_cents, cp->amount_cents, &row->paid_cents);
			/* A claim is dated by its own date (its entry's when it gives
			 * none), a payment by its own date: a payment dated before its
			 * claim (an advance, or paperwork recorded after the fact) has
			 * no delay to measure and is left out of the delay figures
			 * (its money still counts), instead of pulling the median
			 * below zero. */
			if (ci->date && ps->date && ps->date >= ci->date) {
				int64_t days = keten_date_days(ps->date) - keten_date_days(ci->date);
				if (push_delay(&x->dl[g], days) || push_delay(&x->dl_total, days))
					goto oom;
			}
		}
	}
	kt_state_free(ps);
	return 0;
oom:
	kt_state_free(ps);
	x->fail = KETEN_ENOMEM;
	return -1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile (pct of 100) of sorted values. */
static int64_t percentile(const int64_t *v, size_t n, unsigned pct)
{
	size_t rank;
	if (!n)
		return 0;
	rank = (pct * n + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

static void finish_delays(keten_report_row *row, struct delays *d)
{
	if (d->n)
		qsort(d->d, d->n, sizeof *d->d, cmp_i64);
	row->payments = d->n;
	if (!d->n)
		return;
	/* the median of an even count is the mean of the middle two, rounded down */
	row->delay_median_days = d->n % 2 ? d->d[d->n / 2] : (d->d[d->n / 2 - 1] + d->d[d->n / 2]) / 2;
	row->delay_p90_days = percentile(d->d, d->n, 90);
}

static int cmp_client(const void *a, const void *b)
{
	const struct client *x = a, *y = b;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return strcmp(x->ref, y->ref);
}

static int cmp_client_ref(const void *a, const void *b)
{
	return strcmp(((const struct client *)a)->ref, ((const struct client *)b)->ref);
}

static int cmp_stop(const void *a, const void *b)
{
	return strcmp(((const keten_report_stop *)a)->code, ((const keten_report_stop *)b)->code);
}

static int cmp_volume(const void *a, const void *b)
{
	return strcmp(((const keten_report_volume *)a)->unit, ((const keten_report_volume *)b)->unit);
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const keten_report_row *)a)->key, ((const keten_report_row *)b)->key);
}

static uint32_t share_bp(int64_t part, int64_t whole)
{
	if (whole <= 0 || part <= 0)
		return 0;
	return (uint32_t)(((__int128)part * 10000 + whole / 2) / whole);
}

static int64_t avg_days(int64_t sum, size_t n)
{
	return n ? (sum + (int64_t)n / 2) / (int64_t)n : 0;
}

/* The scans, in order: allocations make the groups the others join; the
 * deliveries come last, to meet the duurzaam months paid. */
static int report_scans(struct rctx *x, keten_error *err)
{
	uint8_t kind = DK_ALLOCATION;
	int rc;

	if ((rc = kt_kv_scan(x->t, KT_STATE, &kind, 1, alloc_cb, x, err)))
		return rc;
	if (x->n_ag)
		qsort(x->ag, x->n_ag, sizeof *x->ag, cmp_agroup);
	kind = DK_OFFER;
	if ((rc = kt_kv_scan(x->t, KT_STATE, &kind, 1, offer_cb, x, err)))
		return rc;
	kind = DK_CLAIM;
	if ((rc = kt_kv_scan(x->t, KT_STATE, &kind, 1, claim_cb, x, err)))
		return rc;
	kind = DK_PAYMENT;
	if ((rc = kt_kv_scan(x->t, KT_STATE, &kind, 1, payment_cb, x, err)))
		return rc;
	return kt_rep_care(x, err);
}

/* Distinct clients per group, and over all. */
static void count_clients(struct rctx *x)
{
	keten_report *r = x->r;
	if (x->n_cl)
		qsort(x->cl, x->n_cl, sizeof *x->cl, cmp_client);
	for (size_t i = 0; i < x->n_cl; i++)
		if (i == 0 || x->cl[i].group != x->cl[i - 1].group || strcmp(x->cl[i].ref, x->cl[i - 1].ref) != 0)
			r->rows[x->cl[i].group].clients++;
	if (x->n_cl)
		qsort(x->cl, x->n_cl, sizeof *x->cl, cmp_client_ref);
	for (size_t i = 0; i < x->n_cl; i++)
		if (i == 0 || strcmp(x->cl[i].ref, x->cl[i - 1].ref) != 0)
			r->total.clients++;
}

/* An amount over n, rounded half up; 0 for n = 0. */
static int64_t avg_cents(int64_t sum, size_t n)
{
	if (!n || sum < 0)
		return 0;
	return (int64_t)(((__int128)sum + (int64_t)n / 2) / (int64_t)n);
}

/* The outcomes, stops, maatwerk and care of row added to the total. */
static void sum_outcomes(keten_report_row *tot, const keten_report_row *row)
{
	tot->achieved += row->achieved;
	tot->partial += row->partial;
	tot->not_achieved += row->not_achieved;
	tot->stopped += row->stopped;
	tot->dropouts += row->dropouts;
	tot->other_stops += row->other_stops;
	tot->maatwerk += row->maatwerk;
	keten_add_cents(tot->maatwerk_cents, row->maatwerk_cents, &tot->maatwerk_cents);
	for (size_t v = 0; v < row->n_volumes; v++)
		kt_rep_add_volume(tot, row->volumes[v].unit, row->volumes[v].units);
	tot->duurzaam_paid_months += row->duurzaam_paid_months;
	tot->duurzaam_unserved_months += row->duurzaam_unserved_months;
	/* still the sum of hours here (kt_rep_care_finish makes it the average) */
	keten_add_cents(tot->duurzaam_hours_per_paid_month, row->duurzaam_hours_per_paid_month,
	                &tot->duurzaam_hours_per_paid_month);
}

/* Each row finished (delays, shares, averages) and added to the total. */
static void sum_rows(struct rctx *x)
{
	keten_report *r = x->r;
	keten_report_row *tot = &r->total;
	int64_t traj_total = 0;

	for (size_t i = 0; i < r->n_rows; i++) {
		keten_report_row *row = &r->rows[i];
		finish_delays(row, &x->dl[i]);
		row->subcontracted_bp = share_bp(row->subcontracted_cents, row->allocated_cents);
		row->avg_trajectory_days = avg_days(x->traj_days[i], row->closed_herstel);
		tot->allocations += row->allocations;
		keten_add_cents(tot->allocated_cents, row->allocated_cents, &tot->allocated_cents);
		keten_add_cents(tot->paid_cents, row->paid_cents, &tot->paid_cents);
		keten_add_cents(tot->subcontracted_cents, row->subcontracted_cents, &tot->subcontracted_cents);
		keten_add_cents(tot->sub_paid_cents, row->sub_paid_cents, &tot->sub_paid_cents);
		tot->closed_herstel += row->closed_herstel;
		traj_total += x->traj_days[i];
		tot->rijgen += row->rijgen;
		for (size_t s = 0; s < row->n_stops; s++)
			for (size_t n = 0; n < row->stops[s].n; n++)
				add_stop(tot, row->stops[s].code);
		sum_outcomes(tot, row);
	}
	tot->subcontracted_bp = share_bp(tot->subcontracted_cents, tot->allocated_cents);
	tot->avg_trajectory_days = avg_days(traj_total, tot->closed_herstel);
	finish_delays(tot, &x->dl_total);
	for (size_t i = 0; i <= r->n_rows; i++) {
		keten_report_row *row = i < r->n_rows ? &r->rows[i] : tot;
		row->cost_per_client_cents = avg_cents(row->paid_cents, row->clients);
		kt_rep_care_finish(row);
	}
}

/* Groups that only exist through periods outside the report are dropped;
 * rows by key, stops by code. */
static void tidy_rows(keten_report *r)
{
	size_t j = 0;
	for (size_t i = 0; i < r->n_rows; i++) {
		const keten_report_row *row = &r->rows[i];
		if (row->allocations || row->paid_cents || row->sub_paid_cents || row->closed_herstel ||
		    row->early_stops || row->payments || row->n_volumes || row->duurzaam_paid_months || row->achieved ||
		    row->partial || row->not_achieved || row->stopped)
			r->rows[j++] = *row;
	}
	r->n_rows = j;
	if (r->n_rows)
		qsort(r->rows, r->n_rows, sizeof *r->rows, cmp_row);
	for (size_t i = 0; i < r->n_rows; i++)
		if (r->rows[i].n_stops)
			qsort(r->rows[i].stops, r->rows[i].n_stops, sizeof r->rows[i].stops[0], cmp_stop);
	if (r->total.n_stops)
		qsort(r->total.stops, r->total.n_stops, sizeof r->total.stops[0], cmp_stop);
	for (size_t i = 0; i <= r->n_rows; i++) {
		keten_report_row *row = i < r->n_rows ? &r->rows[i] : &r->total;
		if (row->n_volumes)
			qsort(row->volumes, row->n_volumes, sizeof row->volumes[0], cmp_volume);
	}
}

static void rctx_free(struct rctx *x)
{
	for (size_t i = 0; i < x->n_cl; i++)
		free(x->cl[i].ref);
	free(x->cl);
	for (size_t i = 0; i < x->n_made; i++)
		free(x->dl[i].d);
	free(x->dl);
	for (size_t i = 0; i < x->n_cs; i++)
		kt_state_free(x->cs[i]);
	free(x->cs);
	free(x->ck);
	free(x->ag);
	free(x->off);
	free(x->pm);
	free(x->claims.t);
	free(x->dl_total.d);
	free(x->traj_days);
}

int keten_report_build(keten_txn *t, const keten_report_opts *o, keten_report *out, keten_error *err)
{
	struct rctx x = {.t = t, .o = o};
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "report: no result");
	memset(out, 0, sizeof *out);
	if (!t || !o || o->by < KETEN_REPORT_MUNICIPALITY || o->by > KETEN_REPORT_MONTH)
		return keten_fail(err, KETEN_EINVAL, "report: --by is municipality, provider, arrangement or month");
	x.r = out;
	x.cut = o->as_of ? o->as_of : UINT32_MAX;
	x.today = o->today ? o->today : o->as_of ? o->as_of : keten_today();
	if ((rc = report_scans(&x, err)) == 0) {
		snprintf(out->total.key, sizeof out->total.key, "total");
		count_clients(&x);
		sum_rows(&x);
		tidy_rows(out);
	}
	if (rc == 0 && x.fail)
		rc = keten_fail(err, x.fail, "report: out of memory");
	rctx_free(&x);
	if (rc)
		keten_report_release(out);
	return rc;
}

void keten_report_release(keten_report *r)
{
	if (!r)
		return;
	free(r->rows);
	memset(r, 0, sizeof *r);
}
