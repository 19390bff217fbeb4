/*
 * ijw.c — this home's claims as JW323 prestatie lines (keten_ijw_claims,
 * see keten/ijw.h), so that a lead provider's administration can check
 * keten's claims against the declarations it sent.  Each line takes its
 * numbers from the claim's number (DeclaratieNummer/ReferentieNummer, as
 * an iJw import writes it), its ToewijzingNummer from the allocation (the
 * first of its chain of changes), its product from the contract's
 * mapping of the allocation's arrangement (ijw_category, ijw_code), and
 * its volume where the arrangement gives one: a trajectory or a month is
 * one piece (82) at the claimed amount, a component its units at the
 * unit tariff when they divide the amount.  Nothing about the client is
 * written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keten.h"
#include "base/base.h"
#include "rules/terms.h"
#include "rules/volume.h"

#define MAX_CHAIN 64

struct lines {
	keten_txn *t;
	const uint8_t *me;
	uint32_t ym; /* 0: every month */
	keten_ijw_line *l;
	size_t n, cap;
	bool oom;
};

/* The ToewijzingNummer of the allocation or of the first of the chain it replaces. */
static void number_of(keten_txn *t, const uint8_t id[32], char *buf, size_t cap)
{
	uint8_t cur[32];

	memcpy(cur, id, 32);
	buf[0] = '\0';
	for (int i = 0; i < MAX_CHAIN && !buf[0]; i++) {
		keten_entry e;
		Keten__Allocation *al = NULL;
		bool more = false;
		if (keten_store_get_entry(t, cur, &e, NULL))
			return;
		if (e.has_body && (al = keten__allocation__unpack(NULL, e.body_len, e.body))) {
			snprintf(buf, cap, "%s", al->number ? al->number : "");
			if ((more = al->has_replaces && al->replaces.len == 32))
				memcpy(cur, al->replaces.data, 32);
			keten__allocation__free_unpacked(al, NULL);
		}
		keten_entry_release(&e);
		if (!more)
			return;
	}
}

/* The product of the allocation's arrangement; for a component also its
 * unit (WJ756 code) and unit tariff indexed to the allocation's start year. */
static void product_of(struct lines *x, const Keten__State__AllocationState *as, keten_ijw_line *l, int64_t *unit_cents)
{
	Keten__State__ContractState *cs = NULL;
	Keten__FrameworkContract *fc = NULL;
	const char *cat = NULL, *code = NULL;

	*unit_cents = 0;
	if (as->contract.len != 32 || kt_contract_body(x->t, as->contract.data, &fc, NULL))
		return;
	if (as->kind == KETEN__KIND__COMPONENT) {
		const Keten__Component *c = kt_component(fc, as->component);
		const char *u = c ? kt_unit_code(c->unit) : NULL;
		if (c) {
			cat = c->ijw_category;
			code = c->ijw_code;
		}
		if (u &&
		    kt_state_get(x->t, DK_CONTRACT, as->contract.data, &keten__state__contract_state__descriptor,
		                 (void **)&cs, NULL) == KETEN_OK &&
		    kt_tariff_indexed(cs, c->cents_per_unit, 0, as->start / 10000, unit_cents))
			snprintf(l->unit, sizeof l->unit, "%s", u);
		else
			*unit_cents = 0;
		kt_state_free(cs);
	} else {
		const Keten__Tariff *tf = kt_tariff(fc, as->profile, as->intensity, as->kind);
		if (tf) {
			cat = tf->ijw_category;
			code = tf->ijw_code;
		}
	}
	snprintf(l->category, sizeof l->category, "%s", cat ? cat : "");
	snprintf(l->code, sizeof l->code, "%s", code ? code : "");
	keten__framework_contract__free_unpacked(fc, NULL);
}

/* GeleverdVolume, Eenheid and ProductTarief, where the arrangement gives them. */
static void volume_of(const Keten__State__AllocationState *as, int64_t unit_cents, keten_ijw_line *l)
{
	if (as->kind != KETEN__KIND__COMPONENT) {
		l->has_volume = true;
		l->volume = 1;
		snprintf(l->unit, sizeof l->unit, "82");
		l->tariff_cents = l->amount_cents;
	} else if (unit_cents > 0 && l->amount_cents % unit_cents == 0) {
		l->has_volume = true;
		l->volume = l->amount_cents / unit_cents;
		l->tariff_cents = unit_cents;
	} else {
		l->unit[0] = '\0';
	}
}

/* The claim's product period: its own, else the month it claims. */
static void period_of(const Keten__State__ClaimState *ks, keten_ijw_line *l)
{
	uint32_t ym;

	if (ks->period_from && ks->period_until) {
		l->period_from = ks->period_from;
		l->period_until = ks->period_until;
	} else if (ks->installment && keten_parse_period(ks->installment, &ym) == 0) {
		l->period_from = ym * 100 + 1;
		l->period_until = ym * 100 + (uint32_t)keten_days_in_month((int)(ym / 100), (int)(ym % 100));
	}
}

static void numbers_of(const Keten__State__ClaimState *ks, keten_ijw_line *l)
{
	const char *n = ks->number ? ks->number : "", *slash = strchr(n, '/');

	if (slash) {
		snprintf(l->declaratie, sizeof l->declaratie, "%.*s", (int)(slash - n), n);
		snprintf(l->referentie, sizeof l->referentie, "%s", slash + 1);
	} else {
		snprintf(l->declaratie, sizeof l->declaratie, "%s", n);
	}
}

static keten_ijw_line *line_add(struct lines *x)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 32;
		keten_ijw_line *l = realloc(x->l, cap * sizeof *l);
		if (!l) {
			x->oom = true;
			return NULL;
		}
		x->l = l;
		x->cap = cap;
	}
	memset(&x->l[x->n], 0, sizeof *x->l);
	return &x->l[x->n++];
}

/* One claim of this home on an allocation: its line (and a credit line when voided). */
static void claim_line(struct lines *x, const uint8_t id[32], const Keten__State__ClaimState *ks,
                       const Keten__State__AllocationState *as)
{
	keten_ijw_line *l = line_add(x);
	int64_t unit_cents;
	uint32_t month;

	if (!l)
		return;
	numbers_of(ks, l);
	number_of(x->t, ks->target.data, l->toewijzing, sizeof l->toewijzing);
	snprintf(l->municipality, sizeof l->municipality, "%s", as->municipality ? as->municipality : "");
	product_of(x, as, l, &unit_cents);
	period_of(ks, l);
	l->date = ks->date;
	l->amount_cents = ks->amount_cents;
	volume_of(as, unit_cents, l);
	memcpy(l->claim, id, 32);
	snprintf(l->installment, sizeof l->installment, "%s", ks->installment ? ks->installment : "");
	month = (l->period_from ? l->period_from : l->date) / 100;
	if (x->ym && month != x->ym) {
		x->n--;
		return;
	}
	if (ks->voided) {
		keten_ijw_line *c = line_add(x);
		if (c) {
			*c = x->l[x->n - 2];
			c->credit = true;
		}
	}
}

static int claim_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct lines *x = p;
	Keten__State__ClaimState *ks;
	Keten__State__AllocationState *as = NULL;

	if (kl != 33 || k[0] != DK_CLAIM || !(ks = keten__state__claim_state__unpack(NULL, vl, v)))
		return 0;
	if (ks->author.len == 32 && memcmp(ks->author.data, x->me, 32) == 0 && ks->target.len == 32 &&
	    kt_state_get(x->t, DK_ALLOCATION, ks->target.data, &keten__state__allocation_state__descriptor,
	                 (void **)&as, NULL) == KETEN_OK)
		claim_line(x, k + 1, ks, as);
	kt_state_free(as);
	kt_state_free(ks);
	return x->oom ? -1 : 0;
}

static int party_claim_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	return kl == 66 ? claim_cb(k + 33, 33, v, vl, p) : 0;
}

static int by_date(const void *a, const void *b)
{
	const keten_ijw_line *x = a, *y = b;
	int c = memcmp(x->claim, y->claim, 32);
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return c ? c : (int)x->credit - (int)y->credit;
}

int keten_ijw_claims(keten_txn *t, const uint8_t me[32], const char *period, keten_ijw_line **out, size_t *n,
                     keten_error *err)
{
	struct lines x = {.t = t, .me = me};
	uint8_t pre[34], kind = DK_CLAIM;
	int rc;

	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!t || !me || !out || !n)
		return keten_fail(err, KETEN_EINVAL, "keten_ijw_claims needs a transaction, a key and outputs");
	if (period && keten_parse_period(period, &x.ym))
		return keten_fail(err, KETEN_EINVAL, "--period '%s' is not a month (YYYY-MM)", period);
	pre[0] = DX_PARTY;
	memcpy(pre + 1, me, 32);
	pre[33] = DK_CLAIM;
	if (kt_state_indexed(t))
		rc = kt_kv_scan(t, KT_INDEX, pre, sizeof pre, party_claim_cb, &x, err);
	else
		rc = kt_kv_scan(t, KT_STATE, &kind, 1, claim_cb, &x, err);
	if (rc || x.oom) {
		free(x.l);
		return x.oom ? (int)keten_fail(err, KETEN_ENOMEM, "out of memory listing claims") : rc;
	}
	if (x.n)
		qsort(x.l, x.n, sizeof *x.l, by_date);
	*out = x.l;
	*n = x.n;
	return KETEN_OK;
}
