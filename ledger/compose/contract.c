/*
 * contract.c — composing framework contracts (from a tariff table read
 * by formats/tariffs.c), indexations and allocations, and reading a
 * contract's terms as plain values (keten/contract.h).  An allocation's
 * amount is the contract's tariff indexed to its start year, computed by
 * rules/terms.h as the ledger's rules compute it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "base/base.h"
#include "rules/change.h"
#include "rules/terms.h"

#define SAME(a, b) ((int)(a) == (int)(b)) /* one value in two enums */

_Static_assert(SAME(KETEN_KIND_HERSTEL, KETEN__KIND__HERSTEL) && SAME(KETEN_KIND_DUURZAAM, KETEN__KIND__DUURZAAM) &&
                       SAME(KETEN_KIND_COMPONENT, KETEN__KIND__COMPONENT),
               "keten_kind follows the ledger's Kind");
_Static_assert(SAME(KETEN_SUB_FREE, KETEN__SUBCONTRACT_RULE__SUB_FREE) &&
                       SAME(KETEN_SUB_FIXED, KETEN__SUBCONTRACT_RULE__SUB_FIXED) &&
                       SAME(KETEN_SUB_MAX, KETEN__SUBCONTRACT_RULE__SUB_MAX),
               "keten_subcontract_rule follows the ledger's SubcontractRule");
_Static_assert(SAME(KETEN_PRICING_FIXED_AMOUNT, KETEN__PRICING__FIXED_AMOUNT) &&
                       SAME(KETEN_PRICING_PER_UNIT, KETEN__PRICING__PER_UNIT) &&
                       SAME(KETEN_PRICING_MONTHLY, KETEN__PRICING__MONTHLY),
               "keten_pricing follows the ledger's Pricing");
_Static_assert(SAME(KETEN_OUTCOME_ACHIEVED, KETEN__OUTCOME__ACHIEVED) &&
                       SAME(KETEN_OUTCOME_STOPPED, KETEN__OUTCOME__STOPPED),
               "keten_outcome follows the ledger's Outcome");

#define MAX_LIST 32 /* municipalities, early-stop rules, final-part shares, eligible providers of one contract */

/* contract ---------------------------------------------------------------------------- */

/* The table's lines as protobuf messages pointing into it (arrays malloc'd). */
static int tariff_messages(const keten_draft_contract *d, Keten__FrameworkContract *fc, keten_error *err)
{
	const keten_tariffs *tt = d->tariffs;
	Keten__Tariff *t = calloc(tt->n_tariffs ? tt->n_tariffs : 1, sizeof *t);
	Keten__Component *k = calloc(tt->n_components ? tt->n_components : 1, sizeof *k);
	Keten__Tariff **tp = calloc(tt->n_tariffs ? tt->n_tariffs : 1, sizeof *tp);
	Keten__Component **kp = calloc(tt->n_components ? tt->n_components : 1, sizeof *kp);

	fc->tariffs = tp;
	fc->components = kp;
	if (!t || !k || !tp || !kp) {
		free(t);
		free(k);
		return keten_fail(err, KETEN_ENOMEM, "out of memory composing a contract");
	}
	for (size_t i = 0; i < tt->n_tariffs; i++) {
		const keten_tariff_line *l = &tt->tariffs[i];
		keten__tariff__init(&t[i]);
		t[i].domain = (char *)d->domain;
		t[i].profile = l->profile;
		t[i].name = l->name;
		t[i].intensity = l->intensity;
		t[i].kind = (uint32_t)l->kind;
		t[i].cents = l->cents;
		t[i].per = l->kind == KETEN_KIND_HERSTEL ? "traject" : "maand";
		tp[i] = &t[i];
	}
	for (size_t i = 0; i < tt->n_components; i++) {
		const keten_tariff_component *l = &tt->components[i];
		keten__component__init(&k[i]);
		k[i].code = l->code;
		k[i].name = l->name;
		k[i].cents_per_unit = l->cents_per_unit;
		k[i].unit = (char *)l->unit;
		kp[i] = &k[i];
	}
	fc->n_tariffs = tt->n_tariffs;
	fc->n_components = tt->n_components;
	return KETEN_OK;
}

static void free_tariff_messages(Keten__FrameworkContract *fc)
{
	if (fc->tariffs)
		free(fc->n_tariffs ? fc->tariffs[0] : NULL);
	if (fc->components)
		free(fc->n_components ? fc->components[0] : NULL);
	free(fc->tariffs);
	free(fc->components);
}

/* The subcontract tariffs as protobuf messages pointing into the table (arrays malloc'd). */
static int sub_tariff_messages(const keten_draft_contract *d, Keten__FrameworkContract *fc, keten_error *err)
{
	const keten_sub_tariffs *st = d->sub_tariffs;
	Keten__SubTariff *l, **lp;

	if (!st || st->n == 0)
		return KETEN_OK;
	l = calloc(st->n, sizeof *l);
	lp = calloc(st->n, sizeof *lp);
	if (!l || !lp) {
		free(l);
		free(lp);
		return keten_fail(err, KETEN_ENOMEM, "out of memory composing a contract");
	}
	for (size_t i = 0; i < st->n; i++) {
		const keten_sub_tariff *s = &st->lines[i];
		keten__sub_tariff__init(&l[i]);
		l[i].service = s->service;
		l[i].name = s->name && s->name[0] ? s->name : NULL;
		if (s->share_bp) {
			l[i].has_share_bp = 1;
			l[i].share_bp = s->share_bp;
		} else {
			l[i].unit = (char *)s->unit;
			l[i].has_cents = 1;
			l[i].cents = s->cents;
		}
		lp[i] = &l[i];
	}
	fc->sub_tariffs = lp;
	fc->n_sub_tariffs = st->n;
	return KETEN_OK;
}

static void free_sub_tariff_messages(Keten__FrameworkContract *fc)
{
	if (fc->sub_tariffs)
		free(fc->sub_tariffs[0]);
	free(fc->sub_tariffs);
}

int kt_compose_contract(kt_compose *x KT_UNUSED, const keten_draft_contract *d, keten_composed *c, keten_error *err)
{
	Keten__FrameworkContract fc = KETEN__FRAMEWORK_CONTRACT__INIT;
	Keten__EarlyStopRule rules[MAX_LIST], *rp[MAX_LIST];
	Keten__StopFinal finals[MAX_LIST], *fp[MAX_LIST];
	ProtobufCBinaryData elig[MAX_LIST];
	int rc;

	if (!d->tariffs)
		return keten_fail(err, KETEN_EINVAL, "a contract draft carries its tariff table");
	if (d->n_municipalities > MAX_LIST || d->n_early_stop > MAX_LIST || d->n_eligible > MAX_LIST ||
	    d->n_stop_final > MAX_LIST)
		return keten_fail(err, KETEN_EINVAL,
		                  "a contract names at most %d municipalities, early-stop rules, final-part "
		                  "shares and eligible providers",
		                  MAX_LIST);
	fc.ref = (char *)d->ref;
	fc.domain = (char *)d->domain;
	fc.n_municipalities = d->n_municipalities;
	fc.municipalities = (char **)d->municipalities;
	fc.valid_from = d->valid_from;
	fc.valid_until = d->valid_until;
	fc.has_payment_term_days = d->payment_term_days != 0;
	fc.payment_term_days = d->payment_term_days ? d->payment_term_days : fc.payment_term_days;
	fc.has_subcontract_rule = d->has_subcontract_rule;
	fc.subcontract_rule = (uint32_t)d->subcontract_rule;
	fc.has_max_margin_bp = d->has_max_margin;
	fc.max_margin_bp = d->max_margin_bp;
	for (size_t i = 0; i < d->n_early_stop; i++) {
		keten__early_stop_rule__init(&rules[i]);
		rules[i].stop_code = (char *)d->early_stop[i].stop_code;
		rules[i].reclaim_bp = d->early_stop[i].reclaim_bp;
		rules[i].has_subcontractor_shares = rules[i].subcontractor_shares =
			d->early_stop[i].subcontractor_shares;
		rp[i] = &rules[i];
	}
	fc.n_early_stop = d->n_early_stop;
	fc.early_stop = rp;
	for (size_t i = 0; i < d->n_stop_final; i++) {
		keten__stop_final__init(&finals[i]);
		finals[i].stop_code = (char *)d->stop_final[i].stop_code;
		finals[i].final_bp = d->stop_final[i].final_bp;
		fp[i] = &finals[i];
	}
	fc.n_stop_final = d->n_stop_final;
	fc.stop_final = fp;
	for (size_t i = 0; i < d->n_eligible; i++)
		elig[i] = kt_bin32(d->eligible[i]);
	fc.n_eligible = d->n_eligible;
	fc.eligible = elig;
	fc.has_sub_subcontracting = fc.sub_subcontracting = d->sub_subcontracting;
	fc.quality = (char *)d->quality;
	fc.dispute_route = (char *)d->dispute_route;
	fc.has_change_window_days = d->change_window_days != 0;
	fc.change_window_days = d->change_window_days;
	fc.has_heavy_window_days = d->heavy_window_days != 0;
	fc.heavy_window_days = d->heavy_window_days;
	fc.n_heavy_intensities = d->n_heavy_intensities;
	fc.heavy_intensities = (char **)d->heavy_intensities;
	fc.has_delivered_below_bp = d->has_delivered_below;
	fc.delivered_below_bp = d->delivered_below_bp;
	if ((rc = tariff_messages(d, &fc, err)) == KETEN_OK && (rc = sub_tariff_messages(d, &fc, err)) == KETEN_OK)
		rc = kt_compose_pack(c, KETEN__BODY_TYPE__FRAMEWORK_CONTRACT, &fc.base, err);
	free_tariff_messages(&fc);
	free_sub_tariff_messages(&fc);
	return rc; /* a framework contract is published: no audience */
}

int kt_compose_indexation(kt_compose *x KT_UNUSED, const keten_draft_indexation *d, keten_composed *c, keten_error *err)
{
	Keten__Indexation ix = KETEN__INDEXATION__INIT;
	ix.contract = kt_bin32(d->contract);
	ix.year = d->year;
	ix.bp = d->bp;
	return kt_compose_pack(c, KETEN__BODY_TYPE__INDEXATION, &ix.base, err);
}

/* allocation ---------------------------------------------------------------------------- */

/* The contract's tariff for the allocation, indexed to its start year:
 * the whole trajectory, a month, or units x unit tariff; 0 when the table
 * has no such line (the ledger's rule then names it). */
static int64_t tariff_amount(const Keten__State__ContractState *cs, const Keten__FrameworkContract *fc,
                             const keten_draft_allocation *d)
{
	int64_t base = 0, per;
	if (d->kind == KETEN_KIND_COMPONENT) {
		const Keten__Component *k = kt_component(fc, d->component);
		if (k && kt_tariff_indexed(cs, k->cents_per_unit, 0, d->start / 10000, &per) &&
		    !keten_apply_bp(per, d->units * 100, &base))
			base = 0;
	} else {
		const Keten__Tariff *tf = kt_tariff(fc, d->profile, d->intensity, (uint32_t)d->kind);
		if (tf && !kt_tariff_indexed(cs, tf->cents, 0, d->start / 10000, &base))
			base = 0;
	}
	return base;
}

int kt_compose_allocation(kt_compose *x, const keten_draft_allocation *d, keten_composed *c, keten_draft_need *need,
                          keten_error *err)
{
	Keten__Allocation al = KETEN__ALLOCATION__INIT;
	Keten__State__ContractState *cs = NULL;
	Keten__FrameworkContract *fc = NULL;
	char mun[16] = "";
	int rc;

	if (kt_state_get(x->t, DK_CONTRACT, d->contract, &keten__state__contract_state__descriptor, (void **)&cs,
	                 NULL) ||
	    kt_contract_body(x->t, d->contract, &fc, NULL)) {
		kt_state_free(cs);
		*need = KETEN_NEED_HELD;
		return keten_fail(err, KETEN_ENOTFOUND,
		                  "the allocation's contract is not a framework contract applied here");
	}
	/* the municipality: this home's CBS code when the contract covers it, else the contract's first */
	snprintf(mun, sizeof mun, "%s", fc->n_municipalities ? fc->municipalities[0] : "");
	for (size_t i = 0; i < fc->n_municipalities; i++)
		if (strcmp(fc->municipalities[i], x->info->municipality) == 0)
			snprintf(mun, sizeof mun, "%s", fc->municipalities[i]);
	al.contract = kt_bin32(d->contract);
	al.client_ref = (char *)(d->client_ref ? d->client_ref : "");
	al.provider = kt_bin32(d->provider);
	al.domain = fc->domain;
	al.profile = (char *)d->profile;
	al.intensity = (char *)d->intensity;
	al.component = (char *)d->component;
	al.has_units = d->has_units;
	al.units = d->units;
	al.kind = (uint32_t)d->kind;
	al.start = d->start;
	al.has_end = d->end != 0;
	al.end = d->end;
	al.amount_cents = d->has_amount ? d->amount_cents : tariff_amount(cs, fc, d);
	al.maatwerk = (char *)d->maatwerk;
	al.number = (char *)d->number;
	al.municipality = mun;
	al.has_replaces = d->has_replaces;
	al.replaces = d->has_replaces ? kt_bin32(d->replaces) : al.replaces;
	al.change_reason = (char *)d->change_reason;
	al.has_volume = d->has_volume;
	al.volume = d->volume;
	al.volume_unit = (char *)d->volume_unit;
	al.frequency = (char *)d->frequency;
	kt_aud_self(x, c);
	kt_aud_add(c, d->provider, 32);
	rc = kt_compose_pack(c, KETEN__BODY_TYPE__ALLOCATION, &al.base, err);
	c->amount_cents = al.amount_cents;
	kt_state_free(cs);
	keten__framework_contract__free_unpacked(fc, NULL);
	return rc;
}

/* Reading a contract --------------------------------------------------------------------- */

int keten_contract_find(keten_txn *t, const char *what, uint8_t id[32], keten_error *err)
{
	if (!t || !what)
		return keten_fail(err, KETEN_EINVAL, "no contract named");
	if (kt_contract_by_ref(t, what, id, NULL) == KETEN_OK)
		return KETEN_OK;
	if (strlen(what) >= KETEN_MIN_PREFIX && keten_store_resolve(t, what, id, NULL) == KETEN_OK)
		return KETEN_OK;
	return keten_fail(err, KETEN_ENOTFOUND, "no framework contract '%s' is known here", what);
}

struct view_priv {
	Keten__State__ContractState *cs;
	Keten__FrameworkContract *fc;
};

void keten_contract_view_release(keten_contract_view *v)
{
	struct view_priv *p;
	if (!v)
		return;
	if ((p = v->priv)) {
		kt_state_free(p->cs);
		if (p->fc)
			keten__framework_contract__free_unpacked(p->fc, NULL);
		free(p);
	}
	free(v->indexations);
	free(v->tariffs);
	free(v->components);
	free(v->early_stop);
	free(v->stop_final);
	free(v->sub_tariffs);
	memset(v, 0, sizeof *v);
}

/* The final part due per stop code: signed, or keten's default. */
static int view_stop_final(keten_contract_view *v, const Keten__FrameworkContract *fc)
{
	const char *code, *label;
	size_t n = 0;

	while (kt_stop_code_at(fc->domain, n, NULL))
		n++;
	if (!(v->stop_final = calloc(n ? n : 1, sizeof *v->stop_final)))
		return KETEN_ENOMEM;
	for (size_t i = 0; (code = kt_stop_code_at(fc->domain, i, &label)); i++) {
		keten_contract_stop_final *f = &v->stop_final[v->n_stop_final];
		if (kt_stop_is_pause(code))
			continue;
		f->stop_code = code;
		f->label = label;
		f->final_bp = kt_final_bp(fc, fc->domain, code);
		for (size_t j = 0; j < fc->n_stop_final; j++)
			f->from_contract = f->from_contract || strcmp(fc->stop_final[j]->stop_code, code) == 0;
		v->n_stop_final++;
	}
	KETEN_ASSERT(v->n_stop_final < n || n == 0);
	return KETEN_OK;
}

/* The subcontract tariffs into v, as signed. */
static int view_sub_tariffs(keten_contract_view *v, const Keten__FrameworkContract *fc)
{
	if (!(v->sub_tariffs = calloc(fc->n_sub_tariffs ? fc->n_sub_tariffs : 1, sizeof *v->sub_tariffs)))
		return KETEN_ENOMEM;
	for (size_t i = 0; i < fc->n_sub_tariffs; i++) {
		const Keten__SubTariff *l = fc->sub_tariffs[i];
		keten_contract_sub_tariff *t = &v->sub_tariffs[i];
		t->service = l->service;
		t->name = l->name ? l->name : "";
		if (l->has_share_bp) {
			t->share_bp = l->share_bp;
			continue;
		}
		t->unit = l->unit;
		t->cents = l->cents;
	}
	v->n_sub_tariffs = fc->n_sub_tariffs;
	return KETEN_OK;
}

/* The signed body's terms into v (when this node holds the body). */
static int view_body(keten_contract_view *v, const Keten__State__ContractState *cs, const Keten__FrameworkContract *fc)
{
	uint32_t year = keten_today() / 10000;

	v->has_body = true;
	v->n_municipalities = fc->n_municipalities;
	v->municipalities = (const char *const *)fc->municipalities;
	v->tariffs = calloc(fc->n_tariffs ? fc->n_tariffs : 1, sizeof *v->tariffs);
	v->components = calloc(fc->n_components ? fc->n_components : 1, sizeof *v->components);
	v->early_stop = calloc(fc->n_early_stop ? fc->n_early_stop : 1, sizeof *v->early_stop);
	if (!v->tariffs || !v->components || !v->early_stop)
		return KETEN_ENOMEM;
	for (size_t i = 0; i < fc->n_tariffs; i++) {
		keten_contract_tariff *t = &v->tariffs[i];
		t->profile = fc->tariffs[i]->profile;
		t->intensity = fc->tariffs[i]->intensity;
		t->kind = fc->tariffs[i]->kind == KETEN__KIND__HERSTEL ? KETEN_KIND_HERSTEL : KETEN_KIND_DUURZAAM;
		t->cents = fc->tariffs[i]->cents;
		t->has_cents_now = kt_tariff_indexed(cs, t->cents, 0, year, &t->cents_now);
	}
	for (size_t i = 0; i < fc->n_components; i++) {
		v->components[i].code = fc->components[i]->code;
		v->components[i].unit = fc->components[i]->unit;
		v->components[i].cents_per_unit = fc->components[i]->cents_per_unit;
	}
	for (size_t i = 0; i < fc->n_early_stop; i++) {
		v->early_stop[i].stop_code = fc->early_stop[i]->stop_code;
		v->early_stop[i].reclaim_bp = fc->early_stop[i]->reclaim_bp;
		v->early_stop[i].subcontractor_shares = fc->early_stop[i]->subcontractor_shares;
	}
	v->n_tariffs = fc->n_tariffs;
	v->n_components = fc->n_components;
	v->n_early_stop = fc->n_early_stop;
	v->change_window_days = fc->change_window_days ? fc->change_window_days : KT_CHANGE_WINDOW_DAYS;
	v->heavy_window_days = fc->heavy_window_days ? fc->heavy_window_days : KT_HEAVY_WINDOW_DAYS;
	v->n_heavy_intensities = fc->n_heavy_intensities;
	v->heavy_intensities = (const char *const *)fc->heavy_intensities;
	v->delivered_below_bp = fc->has_delivered_below_bp ? fc->delivered_below_bp : KT_DELIVERED_BELOW_BP;
	int rc = view_stop_final(v, fc);
	return rc ? rc : view_sub_tariffs(v, fc);
}

/* v from a contract's derived record (taken over by v) and its body. */
static int view_of(keten_txn *t, Keten__State__ContractState *cs, keten_contract_view *v, keten_error *err)
{
	struct view_priv *p = calloc(1, sizeof *p);

	memset(v, 0, sizeof *v);
	if (!p) {
		kt_state_free(cs);
		return keten_fail(err, KETEN_ENOMEM, "out of memory reading a contract");
	}
	p->cs = cs;
	v->priv = p;
	if (cs->id.len == 32)
		memcpy(v->id, cs->id.data, 32);
	if (cs->author.len == 32)
		memcpy(v->author, cs->author.data, 32);
	v->ref = cs->ref;
	v->domain = cs->domain;
	v->valid_from = cs->valid_from;
	v->valid_until = cs->valid_until;
	v->payment_term_days = cs->payment_term_days;
	v->subcontract_rule = cs->subcontract_rule == KETEN__SUBCONTRACT_RULE__SUB_FIXED ? KETEN_SUB_FIXED
		: cs->subcontract_rule == KETEN__SUBCONTRACT_RULE__SUB_MAX               ? KETEN_SUB_MAX
											 : KETEN_SUB_FREE;
	v->max_margin_bp = cs->max_margin_bp;
	v->sub_subcontracting = cs->sub_subcontracting;
	if (!(v->indexations = calloc(cs->n_indexations ? cs->n_indexations : 1, sizeof *v->indexations)))
		goto oom;
	for (size_t i = 0; i < cs->n_indexations; i++) {
		v->indexations[i].year = cs->indexations[i]->year;
		v->indexations[i].bp = cs->indexations[i]->bp;
	}
	v->n_indexations = cs->n_indexations;
	if (cs->id.len == 32 && kt_contract_body(t, cs->id.data, &p->fc, NULL) == KETEN_OK &&
	    view_body(v, cs, p->fc) != KETEN_OK)
		goto oom;
	return KETEN_OK;
oom:
	keten_contract_view_release(v);
	return keten_fail(err, KETEN_ENOMEM, "out of memory reading a contract");
}

int keten_contract_get(keten_txn *t, const uint8_t id[32], keten_contract_view *out, keten_error *err)
{
	Keten__State__ContractState *cs = NULL;
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "no view to fill");
	memset(out, 0, sizeof *out);
	rc = kt_state_get(t, DK_CONTRACT, id, &keten__state__contract_state__descriptor, (void **)&cs, err);
	if (rc == KETEN_ENOTFOUND)
		return keten_fail(err, KETEN_ENOTFOUND, "no framework contract with that id is applied here");
	if (rc)
		return rc;
	return view_of(t, cs, out, err);
}

struct each_ctx {
	keten_txn *t;
	keten_contract_fn fn;
	void *ctx;
	keten_error *err;
	int rc;
};

static int each_cb(const uint8_t *k KT_UNUSED, size_t kl KT_UNUSED, const uint8_t *v, size_t vl, void *p)
{
	struct each_ctx *e = p;
	Keten__State__ContractState *cs = keten__state__contract_state__unpack(NULL, vl, v);
	keten_contract_view view;
	int r;

	if (!cs)
		return 0;
	if ((e->rc = view_of(e->t, cs, &view, e->err)))
		return -1;
	r = e->fn(&view, e->ctx);
	keten_contract_view_release(&view);
	if (r < 0)
		e->rc = keten_fail(e->err, KETEN_EINVAL, "the contract walk was stopped");
	return r;
}

int keten_contract_each(keten_txn *t, keten_contract_fn fn, void *ctx, keten_error *err)
{
	struct each_ctx e = {.t = t, .fn = fn, .ctx = ctx, .err = err};
	uint8_t pre = DK_CONTRACT;
	int rc;

	if (!t || !fn)
		return keten_fail(err, KETEN_EINVAL, "no transaction or callback");
	rc = kt_kv_scan(t, KT_STATE, &pre, 1, each_cb, &e, err);
	return e.rc ? e.rc : rc;
}
