/*
 * terms.c — what a framework contract's signed terms say: the contract of a
 * reference, its body, the stop-code lists, tariff lookup with compounding
 * indexation, and the amounts keten computes from them (expected claims,
 * the final part due after a stop, months cut by a pause or the close,
 * automatic clawbacks).  Used by the body rules inside the append
 * transaction, and by composing and reconciling in read transactions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/change.h"
#include "rules/terms.h"
#include "base/base.h"

struct ref_find {
	size_t plen;
	uint8_t id[32];
	int found;
};

static int ref_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct ref_find *f = p;
	if (kl != f->plen + 32)
		return 0;
	memcpy(f->id, k + f->plen, 32);
	f->found++;
	return 1;
}

int kt_contract_by_ref(keten_txn *t, const char *ref, uint8_t id[32], keten_error *err)
{
	uint8_t k[300];
	size_t n = strlen(ref);
	struct ref_find f = {0};
	int rc;

	if (n + 2 > sizeof k)
		return keten_fail(err, KETEN_ENOTFOUND, "no contract '%s'", ref);
	k[0] = DX_CONTRACT_REF;
	memcpy(k + 1, ref, n);
	k[n + 1] = 0;
	f.plen = n + 2;
	if ((rc = kt_kv_scan(t, KT_INDEX, k, n + 2, ref_cb, &f, err)))
		return rc;
	if (!f.found)
		return keten_fail(err, KETEN_ENOTFOUND, "no framework contract with reference '%s'", ref);
	memcpy(id, f.id, 32);
	return KETEN_OK;
}

int kt_contract_body(keten_txn *t, const uint8_t id[32], Keten__FrameworkContract **out, keten_error *err)
{
	keten_entry e;
	int rc = keten_store_get_entry(t, id, &e, err);
	*out = NULL;
	if (rc)
		return rc;
	if (e.body_type != KETEN__BODY_TYPE__FRAMEWORK_CONTRACT || !e.has_body)
		rc = keten_fail(err, KETEN_ENOTFOUND, "entry is not a framework contract held here");
	else if (!(*out = keten__framework_contract__unpack(NULL, e.body_len, e.body)))
		rc = keten_fail(err, KETEN_EMALFORMED, "framework contract body does not decode");
	keten_entry_release(&e);
	return rc;
}

/* Reden beeindiging: iJw JZ588 (jeugd) and iWmo WMO588 (wmo), release 3.2. */
static const struct {
	const char *domain, *code, *label;
} stop_codes[] = {
	{"jeugd", "02", "Overlijden"},
	{"jeugd", "20", "Tijdelijk beeindigd"},
	{"jeugd", "31", "Beeindigd volgens plan"},
	{"jeugd", "32", "Voortijdig eenzijdig beeindigd door client"},
	{"jeugd", "33", "Voortijdig eenzijdig beeindigd door aanbieder"},
	{"jeugd", "34", "Voortijdig beeindigd in overeenstemming"},
	{"jeugd", "35", "Voortijdig beeindigd door externe omstandigheden"},
	{"jeugd", "36", "Beeindiging geinitieerd door gemeente"},
	{"jeugd", "37", "Beeindigd in verband met wijzigingsverzoek"},
	{"jeugd", "38", "Overstap naar andere aanbieder"},
	{"jeugd", "39", "Uitstroom naar ander domein"},
	{"wmo", "02", "Overlijden"},
	{"wmo", "19", "Beeindigd volgens plan"},
	{"wmo", "20", "Tijdelijk beeindigd"},
	{"wmo", "21", "Eenzijdig beeindigd door client"},
	{"wmo", "22", "Eenzijdig beeindigd door aanbieder"},
	{"wmo", "23", "In overeenstemming voortijdig beeindigd"},
	{"wmo", "31", "Verhuizing"},
	{"wmo", "36", "Beeindiging geinitieerd door gemeente"},
	{"wmo", "37", "Beeindigd in verband met wijzigingsverzoek"},
	{"wmo", "38", "Overstap naar andere aanbieder"},
	{"wmo", "39", "Uitstroom naar ander domein"},
};

const char *kt_stop_label(const char *domain, const char *code)
{
	if (!domain || !code)
		return NULL;
	for (size_t i = 0; i < sizeof stop_codes / sizeof *stop_codes; i++)
		if (strcmp(stop_codes[i].domain, domain) == 0 && strcmp(stop_codes[i].code, code) == 0)
			return stop_codes[i].label;
	return NULL;
}

const char *kt_stop_code_at(const char *domain, size_t i, const char **label)
{
	for (size_t j = 0; domain && j < sizeof stop_codes / sizeof *stop_codes; j++)
		if (strcmp(stop_codes[j].domain, domain) == 0 && i-- == 0) {
			if (label)
				*label = stop_codes[j].label;
			return stop_codes[j].code;
		}
	return NULL;
}

bool kt_stop_is_pause(const char *code)
{
	return code && strcmp(code, KT_STOP_PAUSE) == 0;
}

/* Stops according to plan: the only ones after which the whole final part
 * is due when the contract says nothing (docs/money.md has the table). */
static bool stop_by_plan(const char *domain, const char *code)
{
	return domain && code &&
		((strcmp(domain, "jeugd") == 0 && strcmp(code, "31") == 0) ||
	         (strcmp(domain, "wmo") == 0 && strcmp(code, "19") == 0));
}

uint32_t kt_final_bp(const Keten__FrameworkContract *fc, const char *domain, const char *code)
{
	if (!code)
		return 10000;
	for (size_t i = 0; fc && i < fc->n_stop_final; i++)
		if (strcmp(fc->stop_final[i]->stop_code, code) == 0)
			return fc->stop_final[i]->final_bp > 10000 ? 10000 : fc->stop_final[i]->final_bp;
	return stop_by_plan(domain, code) ? 10000 : 0;
}

bool kt_final_due(keten_txn *t, const Keten__State__AllocationState *as, const Keten__FrameworkContract *fc,
                  int64_t *due, uint32_t *bp)
{
	Keten__FrameworkContract *own = NULL;
	int64_t up, fin;
	uint32_t share = 10000;

	keten_split_herstel(as->amount_cents, &up, &fin);
	if (as->closed && as->stop_code && !kt_stop_is_pause(as->stop_code)) {
		if (!fc && t && as->contract.len == 32 && kt_contract_body(t, as->contract.data, &own, NULL) == 0)
			fc = own;
		share = kt_final_bp(fc, as->domain, as->stop_code);
		if (own)
			keten__framework_contract__free_unpacked(own, NULL);
	}
	KETEN_ASSERT(share <= 10000);
	if (bp)
		*bp = share;
	return keten_apply_bp(fin, share, due);
}

/* Pauses --------------------------------------------------------------------- */

void kt_pause_spans(const Keten__State__AllocationState *as, kt_span_fn fn, void *ctx)
{
	bool paused = false;
	uint32_t from = 0;

	for (size_t i = 0; i < as->n_pauses; i++) {
		const Keten__State__AllocationPause *p = as->pauses[i];
		if (!p->resume && !paused) {
			paused = true;
			from = keten_date_add_days(p->date, 1);
		} else if (p->resume && paused) {
			uint32_t until = keten_date_add_days(p->date, -1);
			paused = false;
			if (until >= from && !fn(from, until, ctx))
				return;
		}
	}
	if (paused)
		fn(from, 0, ctx);
}

bool kt_paused(const Keten__State__AllocationState *as, uint32_t *since)
{
	bool paused = false;
	uint32_t at = 0;

	for (size_t i = 0; i < as->n_pauses; i++) {
		const Keten__State__AllocationPause *p = as->pauses[i];
		if (!p->resume && !paused) {
			paused = true;
			at = p->date;
		} else if (p->resume && paused) {
			paused = false;
		}
	}
	if (paused && since)
		*since = at;
	return paused;
}

/* The order of pause events: by date, a resume before a pause of the same
 * day (it ends the pause before; a pause and its resume never share a
 * day), then by entry id. */
static int pause_cmp(const Keten__State__AllocationPause *a, uint32_t date, bool resume, const uint8_t entry[32])
{
	if (a->date != date)
		return a->date < date ? -1 : 1;
	if (a->resume != resume)
		return a->resume ? -1 : 1;
	return memcmp(a->entry.data, entry, 32);
}

int kt_pause_add(Keten__State__AllocationState *as, const uint8_t entry[32], const uint8_t author[32], uint32_t date,
                 bool resume)
{
	Keten__State__AllocationPause *p = malloc(sizeof *p), **arr;
	size_t pos = 0;

	if (!p)
		return -1;
	keten__state__allocation_pause__init(p);
	if (kt_set_bytes(&p->entry, entry, 32) || kt_set_bytes(&p->author, author, 32) ||
	    !(arr = realloc(as->pauses, (as->n_pauses + 1) * sizeof *arr))) {
		free(p->entry.data);
		free(p->author.data);
		free(p);
		return -1;
	}
	as->pauses = arr;
	p->date = date;
	p->has_resume = 1;
	p->resume = resume;
	while (pos < as->n_pauses && pause_cmp(arr[pos], date, resume, entry) < 0)
		pos++;
	memmove(arr + pos + 1, arr + pos, (as->n_pauses - pos) * sizeof *arr);
	arr[pos] = p;
	as->n_pauses++;
	KETEN_ASSERT(pos == 0 || pause_cmp(arr[pos - 1], date, resume, entry) <= 0);
	return 0;
}

uint32_t kt_pause_last(const Keten__State__AllocationState *as)
{
	return as->n_pauses ? as->pauses[as->n_pauses - 1]->date : 0;
}

/* Paused days inside [lo, hi], counted span by span. */
struct paused_count {
	int64_t lo, hi, n;
};

static bool count_cb(uint32_t from, uint32_t until, void *ctx)
{
	struct paused_count *c = ctx;
	int64_t a = keten_date_days(from), b = until ? keten_date_days(until) : c->hi;
	if (a < c->lo)
		a = c->lo;
	if (b > c->hi)
		b = c->hi;
	if (a <= b)
		c->n += b - a + 1;
	return true;
}

/* The days of ym covered by [start, end], less (as given) those after the
 * close date (cut_close) and those paused (cut_pause). */
static int month_days(uint32_t ym, uint32_t start, uint32_t end, const Keten__State__AllocationState *as,
                      bool cut_close, bool cut_pause, int *dim)
{
	int y = (int)(ym / 100), m = (int)(ym % 100), days;
	uint32_t first, last, lo, hi;
	struct paused_count c;

	if (dim)
		*dim = 0;
	if (m < 1 || m > 12 || y < 1900 || y > 2999 || !keten_date_valid(start) || (end && !keten_date_valid(end)))
		return 0;
	days = keten_days_in_month(y, m);
	if (dim)
		*dim = days;
	first = ym * 100 + 1;
	last = ym * 100 + (uint32_t)days;
	lo = start > first ? start : first;
	hi = end && end < last ? end : last;
	if (as && cut_close && as->closed && as->close_date && !kt_stop_is_pause(as->stop_code) && as->close_date < hi)
		hi = as->close_date;
	if (lo > hi)
		return 0;
	c.lo = keten_date_days(lo);
	c.hi = keten_date_days(hi);
	c.n = 0;
	if (as && cut_pause)
		kt_pause_spans(as, count_cb, &c);
	KETEN_ASSERT(c.n >= 0 && c.n <= c.hi - c.lo + 1 && c.hi - c.lo + 1 <= days);
	return (int)(c.hi - c.lo + 1 - c.n);
}

int kt_month_days(uint32_t ym, uint32_t start, uint32_t end, const Keten__State__AllocationState *as, int *dim)
{
	return month_days(ym, start, end, as, true, true, dim);
}

int64_t kt_month_value(int64_t monthly, uint32_t ym, uint32_t start, uint32_t end,
                       const Keten__State__AllocationState *as)
{
	int dim, days = kt_month_days(ym, start, end, as, &dim);
	if (days <= 0)
		return 0;
	if (days == dim)
		return monthly;
	/* the days counted as one stretch from the 1st: keten_prorata_month's
	 * single rounding of monthly x days / days in month */
	return keten_prorata_month(monthly, ym, ym * 100 + 1, ym * 100 + (uint32_t)days);
}

bool kt_month_after_close(const Keten__State__AllocationState *as, uint32_t ym)
{
	return as && as->closed && as->close_date && !kt_stop_is_pause(as->stop_code) && ym * 100 + 1 > as->close_date;
}

bool kt_month_paused(const Keten__State__AllocationState *as, uint32_t ym, uint32_t start, uint32_t end)
{
	return as && as->n_pauses && month_days(ym, start, end, as, false, false, NULL) > 0 &&
		month_days(ym, start, end, as, false, true, NULL) == 0;
}

bool kt_tariff_indexed(const Keten__State__ContractState *cs, int64_t cents, uint32_t from_year, uint32_t to_year,
                       int64_t *out)
{
	int64_t v = cents;
	for (size_t i = 0; i < cs->n_indexations; i++) {
		const Keten__State__IndexStep *s = cs->indexations[i];
		if (s->year > from_year && s->year <= to_year && !keten_index_cents(v, s->bp, &v))
			return false;
	}
	*out = v;
	return true;
}

bool kt_alloc_month(const Keten__State__AllocationState *as, const Keten__State__ContractState *cs, uint32_t ym,
                    int64_t *out)
{
	int64_t monthly = as->amount_cents;
	if (cs && !kt_tariff_indexed(cs, monthly, as->start / 10000, ym / 100, &monthly))
		return false;
	*out = kt_month_value(monthly, ym, as->start, as->end, as);
	return true;
}

const Keten__Tariff *kt_tariff(const Keten__FrameworkContract *fc, const char *profile, const char *intensity,
                               uint32_t kind)
{
	if (!profile || !intensity)
		return NULL;
	for (size_t i = 0; i < fc->n_tariffs; i++) {
		const Keten__Tariff *t = fc->tariffs[i];
		if (t->kind == kind && strcmp(t->profile, profile) == 0 && strcmp(t->intensity, intensity) == 0)
			return t;
	}
	return NULL;
}

const Keten__Component *kt_component(const Keten__FrameworkContract *fc, const char *code)
{
	if (!code)
		return NULL;
	for (size_t i = 0; i < fc->n_components; i++)
		if (strcmp(fc->components[i]->code, code) == 0)
			return fc->components[i];
	return NULL;
}

const Keten__SubTariff *kt_sub_tariff(const Keten__FrameworkContract *fc, const char *service)
{
	if (!fc || !service)
		return NULL;
	for (size_t i = 0; i < fc->n_sub_tariffs; i++)
		if (strcmp(fc->sub_tariffs[i]->service, service) == 0)
			return fc->sub_tariffs[i];
	return NULL;
}

bool kt_share_of(const Keten__State__AllocationState *as, const Keten__State__OfferState *parent, uint32_t share_bp,
                 int64_t *cents, bool *monthly)
{
	int64_t base;

	KETEN_ASSERT(as != NULL || parent != NULL);
	if (parent) {
		base = parent->amount_cents;
		*monthly = parent->pricing == KETEN__PRICING__MONTHLY;
	} else {
		base = as->amount_cents;
		*monthly = as->kind == KETEN__KIND__DUURZAAM;
	}
	return share_bp >= 1 && share_bp <= 10000 && keten_apply_bp(base, share_bp, cents) && *cents > 0;
}

/* Sum of the units of deliveries (hundredths); -1 on a bad reference. */
static int64_t delivery_units(keten_txn *t, const uint8_t (*d)[32], size_t n)
{
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		Keten__State__DeliveryState *ds = NULL;
		if (kt_state_get(t, DK_DELIVERY, d[i], &keten__state__delivery_state__descriptor, (void **)&ds, NULL))
			return -1;
		if (!ds->voided && !keten_add_cents(sum, ds->units, &sum)) {
			kt_state_free(ds);
			return -1;
		}
		kt_state_free(ds);
	}
	return sum;
}

static int expected_alloc(keten_txn *t, const Keten__State__AllocationState *as,
                          const Keten__State__ContractState *known, const char *inst, const uint8_t (*d)[32], size_t nd,
                          int64_t *cents, keten_error *err)
{
	int64_t up, fin;
	uint32_t ym;
	int rc = KETEN_OK;

	if (as->kind == KETEN__KIND__HERSTEL) {
		keten_split_herstel(as->amount_cents, &up, &fin);
		if (strcmp(inst, "upfront") == 0)
			*cents = kt_upfront_due(as->amount_cents,
			                        as->carried_cents); /* 2/3 less what a change carried */
		else if (strcmp(inst, "final") == 0 && !kt_final_due(t, as, NULL, cents, NULL))
			return keten_fail(err, KETEN_EINVAL, "the final part due overflows");
		else if (strcmp(inst, "final") != 0)
			return keten_fail(err, KETEN_EINVAL,
			                  "a herstel arrangement is claimed as 'upfront' and 'final'");
		return KETEN_OK;
	}
	if (as->kind == KETEN__KIND__DUURZAAM) {
		Keten__State__ContractState *cs = NULL;
		int64_t monthly;
		if (keten_parse_period(inst, &ym) != 0)
			return keten_fail(err, KETEN_EINVAL, "a duurzaam arrangement is claimed per month (YYYY-MM)");
		if (!known &&
		    (rc = kt_state_get(t, DK_CONTRACT, as->contract.data, &keten__state__contract_state__descriptor,
		                       (void **)&cs, err)))
			return rc;
		if (!kt_alloc_month(as, known ? known : cs, ym, &monthly))
			rc = keten_fail(err, KETEN_EINVAL, "indexed tariff overflows");
		else
			*cents = monthly;
		kt_state_free(cs);
		return rc;
	}
	/* component: P x Q */
	if (strcmp(inst, "units") != 0)
		return keten_fail(err, KETEN_EINVAL, "a component is claimed as 'units'");
	if (nd == 0) {
		*cents = as->amount_cents;
		return KETEN_OK;
	}
	{
		int64_t units = delivery_units(t, d, nd), per;
		if (units < 0 || as->units <= 0)
			return keten_fail(err, KETEN_EINVAL, "deliveries cannot be counted");
		/* price per hundredth unit as allocated: amount / units, applied to the units delivered */
		per = as->amount_cents;
		if ((__int128)per * units / as->units > KETEN_MAX_CENTS)
			return keten_fail(err, KETEN_EINVAL, "amount overflows");
		*cents = (int64_t)(((__int128)per * units * 2 + as->units) / (2 * (__int128)as->units));
	}
	return KETEN_OK;
}

static int expected_offer(keten_txn *t, const Keten__State__OfferState *os, const char *inst, const uint8_t (*d)[32],
                          size_t nd, int64_t *cents, keten_error *err)
{
	int64_t up, fin;
	uint32_t ym;

	switch (os->pricing) {
	case KETEN__PRICING__FIXED_AMOUNT:
		keten_split_herstel(os->amount_cents, &up, &fin);
		if (strcmp(inst, "upfront") == 0)
			*cents = up;
		else if (strcmp(inst, "final") == 0)
			*cents = fin;
		else
			return keten_fail(
				err, KETEN_EINVAL,
				"a fixed-amount subcontract computes only 'upfront' and 'final': give --amount");
		return KETEN_OK;
	case KETEN__PRICING__MONTHLY: {
		/* the root allocation's close and pauses, when it is held here */
		Keten__State__AllocationState *root = NULL;
		if (keten_parse_period(inst, &ym) != 0)
			return keten_fail(err, KETEN_EINVAL, "a monthly subcontract is claimed per month (YYYY-MM)");
		if (os->allocation.len == 32)
			kt_state_get(t, DK_ALLOCATION, os->allocation.data, &keten__state__allocation_state__descriptor,
			             (void **)&root, NULL);
		*cents = kt_month_value(os->amount_cents, ym, os->start, os->end, root);
		kt_state_free(root);
		return KETEN_OK;
	}
	default: {
		int64_t units = nd ? delivery_units(t, d, nd) : os->units;
		if (units < 0)
			return keten_fail(err, KETEN_EINVAL, "deliveries cannot be counted");
		if (!keten_apply_bp(os->unit_tariff_cents, units * 100, cents))
			return keten_fail(err, KETEN_EINVAL, "amount overflows");
		return KETEN_OK;
	}
	}
}

int kt_expected_claim(keten_txn *t, const uint8_t target[32], const char *installment, const uint8_t (*deliveries)[32],
                      size_t n_deliveries, int64_t *cents, keten_error *err)
{
	void *m = NULL;
	int rc;

	if (kt_state_get(t, DK_ALLOCATION, target, &keten__state__allocation_state__descriptor, &m, NULL) == 0) {
		rc = expected_alloc(t, m, NULL, installment, deliveries, n_deliveries, cents, err);
		kt_state_free(m);
		return rc;
	}
	if (kt_state_get(t, DK_OFFER, target, &keten__state__offer_state__descriptor, &m, NULL) == 0) {
		rc = expected_offer(t, m, installment, deliveries, n_deliveries, cents, err);
		kt_state_free(m);
		return rc;
	}
	return keten_fail(err, KETEN_ENOTFOUND, "the claim's target is not an allocation or subcontract held here");
}

int kt_expected_for(keten_txn *t, const Keten__State__AllocationState *as, const Keten__State__OfferState *os,
                    const Keten__State__ContractState *cs, const char *installment, int64_t *cents, keten_error *err)
{
	if (as)
		return expected_alloc(t, as, cs, installment, NULL, 0, cents, err);
	if (os)
		return expected_offer(t, os, installment, NULL, 0, cents, err);
	return keten_fail(err, KETEN_EINVAL, "no allocation or subcontract");
}

struct offer_scan {
	keten_txn *t;
	const Keten__State__AllocationState *as; /* the allocation clawed back */
	const uint8_t *provider;
	uint8_t (*parties)[32];
	int64_t *weights;
	size_t n, max;
	int64_t total;
	bool over; /* more subcontracts share than max */
};

/*
 * What a subcontract is worth over its period, its weight in a clawback's
 * split: the amount of a fixed or per-unit subcontract; for a monthly one
 * every month of its period pro rata (an amount a month is not the
 * subcontract's size: six months of 600 weigh 3600, not 600).  An
 * open-ended monthly subcontract runs until the allocation ends or was
 * closed, whichever is first.  false on overflow or with no end at all.
 */
static bool offer_weight(const Keten__State__OfferState *os, const Keten__State__AllocationState *as, int64_t *w)
{
	uint32_t end = os->end, ym, last;

	if (os->pricing != KETEN__PRICING__MONTHLY) {
		*w = os->amount_cents;
		return true;
	}
	if (!end) {
		end = as->end;
		if (as->closed && as->close_date && (!end || as->close_date < end))
			end = as->close_date;
	}
	if (!end || end < os->start)
		return false;
	*w = 0;
	last = end / 100;
	for (ym = os->start / 100; ym <= last; ym = ym % 100 == 12 ? (ym / 100 + 1) * 100 + 1 : ym + 1)
		if (!keten_add_cents(*w, keten_prorata_month(os->amount_cents, ym, os->start, end), w))
			return false;
	return true;
}

static int offer_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct offer_scan *s = p;
	int64_t w;
	Keten__State__OfferState *os = NULL;
	if (kl != 65)
		return 0;
	if (kt_state_get(s->t, DK_OFFER, k + 33, &keten__state__offer_state__descriptor, (void **)&os, NULL))
		return 0;
	if (os->accepted && !os->voided && memcmp(os->author.data, s->provider, 32) == 0 &&
	    offer_weight(os, s->as, &w)) {
		if (s->n == s->max) {
			s->over = true;
			kt_state_free(os);
			return 1;
		}
		memcpy(s->parties[s->n], os->subcontractor.data, 32);
		s->weights[s->n++] = w;
		keten_add_cents(s->total, w, &s->total);
	}
	kt_state_free(os);
	return 0;
}

int kt_clawback_auto(keten_txn *t, const uint8_t alloc[32], int64_t *amount, uint8_t (*parties)[32], int64_t *shares,
                     size_t max, size_t *n, char *rule, size_t rule_len, keten_error *err)
{
	Keten__State__AllocationState *as = NULL;
	Keten__FrameworkContract *fc = NULL;
	const Keten__EarlyStopRule *r = NULL;
	int rc;

	*n = 0;
	*amount = 0;
	if ((rc = kt_state_get(t, DK_ALLOCATION, alloc, &keten__state__allocation_state__descriptor, (void **)&as,
	                       err)))
		return rc == KETEN_ENOTFOUND
			? (int)keten_fail(err, KETEN_ENOTFOUND, "no allocation held here with that id")
			: rc;
	if (as->clawback_cents > 0) {
		/* what the early-stop rule asks is claimed once: a second --auto would double it */
		rc = keten_refuse(err, "clawback-exists",
		                  "the allocation already has clawbacks of %lld cents: "
		                  "void them (keten correct) before computing it again",
		                  (long long)as->clawback_cents);
		goto out;
	}
	if (!as->closed || !as->stop_code) {
		rc = keten_fail(err, KETEN_EINVAL, "the allocation has no stop entry yet: 'keten close' comes first");
		goto out;
	}
	if ((rc = kt_contract_body(t, as->contract.data, &fc, err)))
		goto out;
	for (size_t i = 0; i < fc->n_early_stop; i++)
		if (strcmp(fc->early_stop[i]->stop_code, as->stop_code) == 0)
			r = fc->early_stop[i];
	if (!r) {
		rc = keten_fail(err, KETEN_EINVAL, "the contract has no early-stop rule for stop code %s",
		                as->stop_code);
		goto out;
	}
	if (!keten_apply_bp(as->upfront_paid_cents, r->reclaim_bp, amount)) {
		rc = keten_fail(err, KETEN_EINVAL, "clawback amount overflows");
		goto out;
	}
	if (*amount <= 0) {
		rc = keten_fail(err, KETEN_EINVAL, "nothing to claw back: no up-front payment counted, or a 0%% share");
		goto out;
	}
	snprintf(rule, rule_len, KT_CLAWBACK_AUTO_PREFIX "%s: %u.%02u%% of up-front paid %lld.%02lld%s", as->stop_code,
	         r->reclaim_bp / 100, r->reclaim_bp % 100, (long long)(as->upfront_paid_cents / 100),
	         (long long)(as->upfront_paid_cents % 100), r->subcontractor_shares ? ", shared pro rata" : "");
	if (r->subcontractor_shares && max > 1) {
		int64_t w[KT_CLAWBACK_MAX_SHARES + 1], parts[KT_CLAWBACK_MAX_SHARES + 1];
		uint8_t ps[KT_CLAWBACK_MAX_SHARES][32];
		struct offer_scan s = {.t = t,
		                       .as = as,
		                       .provider = as->provider.data,
		                       .parties = ps,
		                       .weights = w + 1,
		                       .max = max < KT_CLAWBACK_MAX_SHARES ? max : KT_CLAWBACK_MAX_SHARES};
		uint8_t pre[33];
		pre[0] = DX_OFFERS;
		memcpy(pre + 1, alloc, 32);
		if ((rc = kt_kv_scan(t, KT_INDEX, pre, 33, offer_cb, &s, err)))
			goto out;
		if (s.over) {
			rc = keten_refuse(
				err, "too-many-shares",
				"more than %zu accepted subcontracts under this allocation share the "
				"clawback: record it with --amount (owed by the lead provider alone, who settles "
				"with its subcontractors)",
				s.max);
			goto out;
		}
		if (s.n) {
			w[0] = as->amount_cents > s.total ? as->amount_cents - s.total : 0;
			if (!keten_split_weighted(*amount, w, s.n + 1, parts)) {
				rc = keten_fail(err, KETEN_EINVAL, "cannot split the clawback");
				goto out;
			}
			for (size_t i = 0; i < s.n; i++) {
				memcpy(parties[i], ps[i], 32);
				shares[i] = parts[i + 1];
			}
			*n = s.n;
		}
	}
out:
	if (fc)
		keten__framework_contract__free_unpacked(fc, NULL);
	kt_state_free(as);
	return rc;
}
