/*
 * contract.c — body rules and derived state of framework contracts
 * (raamcontracten), their yearly indexation, and allocations
 * (toewijzingen).  Only a municipality or region publishes a contract or
 * allocates; an allocation's arrangement or component must be in the
 * contract's tariff table, its dates inside the contract's validity, and
 * its amount the (indexed) tariff unless it is marked maatwerk.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/change.h"
#include "rules/terms.h"
#include "rules/volume.h"
#include "base/base.h"

static bool digits(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool blank(const char *s)
{
	for (; s && *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n')
			return false;
	return true;
}

static bool domain_ok(const char *d)
{
	return d && (strcmp(d, "jeugd") == 0 || strcmp(d, "wmo") == 0);
}

/* Who publishes it, its reference, domain, municipalities and validity. */
static int contract_header(kt_apply *a, const Keten__FrameworkContract *c, keten_error *err)
{
	int rc;

	if (!(kt_roles(a) & ROLE_AUTHORITY))
		return kt_refuse_role(a, "wrong-role", "municipality",
		                      "only a municipality or region publishes a framework contract", err);
	if (!c->ref[0] || strlen(c->ref) > 64)
		return keten_refuse(err, "invalid-reference", "a contract reference has 1 to 64 characters");
	if ((rc = kt_text("contract reference", c->ref, err)) || (rc = kt_text("quality", c->quality, err)) ||
	    (rc = kt_text("dispute route", c->dispute_route, err)))
		return rc;
	if (!domain_ok(c->domain))
		return keten_refuse(err, "invalid-domain", "domain '%s' is not jeugd or wmo", c->domain);
	if (c->n_municipalities == 0)
		return keten_refuse(err, "invalid-code", "a contract names at least one municipality (CBS code)");
	for (size_t i = 0; i < c->n_municipalities; i++)
		if (!digits(c->municipalities[i], 4))
			return keten_refuse(err, "invalid-code", "CBS municipality code '%s' is not 4 digits",
			                    c->municipalities[i]);
	if (!keten_date_valid(c->valid_from) || !keten_date_valid(c->valid_until) || c->valid_until < c->valid_from)
		return keten_refuse(err, "invalid-date", "contract validity is not a valid period");
	return KETEN_OK;
}

/* The tariff table: herstel and duurzaam lines of the contract's domain, and components. */
static int contract_tariffs(const kt_apply *a, const Keten__FrameworkContract *c, keten_error *err)
{
	int rc;

	if (c->n_tariffs + c->n_components == 0)
		return keten_refuse(err, "empty-tariff-table", "a contract has at least one tariff line");
	for (size_t i = 0; i < c->n_tariffs; i++) {
		const Keten__Tariff *t = c->tariffs[i];
		if (strcmp(t->domain, c->domain) != 0)
			return keten_refuse(err, "invalid-tariff", "tariff %s/%s is for domain %s, the contract for %s",
			                    t->profile, t->intensity, t->domain, c->domain);
		if (t->kind != KETEN__KIND__HERSTEL && t->kind != KETEN__KIND__DUURZAAM)
			return keten_refuse(err, "invalid-tariff", "tariff %s/%s is neither herstel nor duurzaam",
			                    t->profile, t->intensity);
		if (t->cents <= 0 || t->cents > KETEN_MAX_CENTS)
			return keten_refuse(err, "invalid-amount", "tariff %s/%s is not a positive amount", t->profile,
			                    t->intensity);
		if (!t->profile[0] || !t->intensity[0] || (rc = kt_text("tariff profile", t->profile, err)) ||
		    (rc = kt_text("tariff intensity", t->intensity, err)) ||
		    (rc = kt_text("tariff name", t->name, err)))
			return rc ? rc
				  : (int)keten_refuse(err, "invalid-tariff",
			                              "a tariff line needs a profile and intensity");
	}
	for (size_t i = 0; i < c->n_components; i++) {
		const Keten__Component *k = c->components[i];
		if (!k->code[0] || (rc = kt_text("component code", k->code, err)) ||
		    (rc = kt_text("component name", k->name, err)))
			return rc ? rc : (int)keten_refuse(err, "invalid-tariff", "a component needs a code");
		if (k->cents_per_unit <= 0 || k->cents_per_unit > KETEN_MAX_CENTS)
			return keten_refuse(err, "invalid-amount", "component %s is not a positive amount", k->code);
		if ((rc = kt_unit_check(a, "component unit", k->unit, NULL, err)))
			return rc;
	}
	return KETEN_OK;
}

/* The subcontract tariff table: unique services, each priced per WJ756
 * unit (cents above zero) or as a share of the arrangement (1..100 %). */
static int contract_sub_tariffs(const Keten__FrameworkContract *c, keten_error *err)
{
	int rc;

	for (size_t i = 0; i < c->n_sub_tariffs; i++) {
		const Keten__SubTariff *l = c->sub_tariffs[i];
		if (!l->service[0] || strlen(l->service) > 64 || (rc = kt_text("service", l->service, err)) ||
		    (rc = kt_text("service name", l->name, err)))
			return rc ? rc
				  : (int)keten_refuse(err, "invalid-tariff",
			                              "a subcontract tariff names a service of 1 to 64 characters");
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->sub_tariffs[j]->service, l->service) == 0)
				return keten_refuse(err, "invalid-tariff",
				                    "service '%s' appears twice in the subcontract tariffs",
				                    l->service);
		if (l->has_share_bp) {
			if (l->share_bp < 1 || l->share_bp > 10000)
				return keten_refuse(err, "invalid-share", "service '%s': share is not 1 to 100%%",
				                    l->service);
			if ((l->unit && l->unit[0]) || l->cents)
				return keten_refuse(err, "invalid-tariff",
				                    "service '%s' is priced as a share and has no unit or cents",
				                    l->service);
			continue;
		}
		if (!kt_sub_unit(l->unit))
			return keten_refuse(err, "invalid-unit", "service '%s' has unit '%s', not a WJ756 unit",
			                    l->service, l->unit ? l->unit : "");
		if (l->cents <= 0 || l->cents > KETEN_MAX_CENTS)
			return keten_refuse(err, "invalid-amount", "service '%s' is not a positive amount", l->service);
	}
	return KETEN_OK;
}

/* The terms of a change and of volumes: windows in days, heavy
 * intensities, the delivered-below share. */
static int contract_change_terms(const Keten__FrameworkContract *c, keten_error *err)
{
	int rc;

	if ((c->has_change_window_days && (c->change_window_days == 0 || c->change_window_days > 3650)) ||
	    (c->has_heavy_window_days && (c->heavy_window_days == 0 || c->heavy_window_days > 3650)))
		return keten_refuse(err, "invalid-window", "a change window is 1 to 3650 days");
	if (c->has_delivered_below_bp && c->delivered_below_bp > 10000)
		return keten_refuse(err, "invalid-share", "delivered-below share above 100%%");
	for (size_t i = 0; i < c->n_heavy_intensities; i++)
		if (!c->heavy_intensities[i][0] || (rc = kt_text("heavy intensity", c->heavy_intensities[i], err)))
			return rc ? rc : (int)keten_refuse(err, "invalid-tariff", "a heavy intensity is not empty");
	return KETEN_OK;
}

/* The terms: subcontracting, margin, payment term, early-stop rules, the
 * final part due per stop code, eligible parties. */
static int contract_terms(const Keten__FrameworkContract *c, keten_error *err)
{
	if (c->subcontract_rule > KETEN__SUBCONTRACT_RULE__SUB_MAX)
		return keten_refuse(err, "invalid-rule", "subcontract rule %u is unknown", c->subcontract_rule);
	if (c->max_margin_bp > 10000)
		return keten_refuse(err, "invalid-share", "maximum margin above 100%%");
	if (c->has_payment_term_days && (c->payment_term_days == 0 || c->payment_term_days > 365))
		return keten_refuse(err, "invalid-payment-term", "payment term must be 1 to 365 days");
	for (size_t i = 0; i < c->n_early_stop; i++) {
		if (!kt_stop_label(c->domain, c->early_stop[i]->stop_code))
			return keten_refuse(err, "unknown-stop-code",
			                    "stop code '%s' is not in the %s list (reden beeindiging)",
			                    c->early_stop[i]->stop_code, c->domain);
		if (c->early_stop[i]->reclaim_bp > 10000)
			return keten_refuse(err, "invalid-share", "early-stop share above 100%%");
	}
	for (size_t i = 0; i < c->n_stop_final; i++) {
		const char *code = c->stop_final[i]->stop_code;
		if (!kt_stop_label(c->domain, code))
			return keten_refuse(err, "unknown-stop-code",
			                    "stop code '%s' is not in the %s list (reden beeindiging)", code,
			                    c->domain);
		if (kt_stop_is_pause(code))
			return keten_refuse(
				err, "invalid-stop-final",
				"stop code 20 pauses an allocation: the stop that ends it decides the final part");
		if (c->stop_final[i]->final_bp > 10000)
			return keten_refuse(err, "invalid-share", "final part due after stop code %s above 100%%",
			                    code);
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->stop_final[j]->stop_code, code) == 0)
				return keten_refuse(err, "invalid-stop-final", "stop code %s has two final-part shares",
				                    code);
	}
	for (size_t i = 0; i < c->n_eligible; i++)
		if (c->eligible[i].len != 32)
			return keten_refuse(err, "malformed-body", "an eligible party is not a 32-byte key");
	return contract_change_terms(c, err);
}

/* A reference is unique per author; another author's contract with the
 * same reference, received from elsewhere, is kept beside it. */
static int contract_unique(kt_apply *a, const Keten__FrameworkContract *c, keten_error *err)
{
	uint8_t id[32];
	Keten__State__ContractState *old = NULL;
	bool mine = false;

	if (kt_contract_by_ref(a->txn, c->ref, id, NULL) != 0)
		return KETEN_OK;
	if (kt_state_get(a->txn, DK_CONTRACT, id, &keten__state__contract_state__descriptor, (void **)&old, NULL) == 0)
		mine = memcmp(old->author.data, a->e->author, 32) == 0;
	kt_state_free(old);
	if (mine || a->local)
		return keten_refuse(err, "duplicate-reference", "a framework contract '%s' already exists", c->ref);
	return KETEN_OK;
}

static int check_contract(kt_apply *a, const Keten__FrameworkContract *c, keten_error *err)
{
	int rc;

	if ((rc = contract_header(a, c, err)) || (rc = contract_tariffs(a, c, err)) ||
	    (rc = contract_sub_tariffs(c, err)) || (rc = contract_terms(c, err)))
		return rc;
	KETEN_ASSERT(c->ref[0] && domain_ok(c->domain) && c->n_tariffs + c->n_components > 0);
	return contract_unique(a, c, err);
}

int kt_rule_contract(kt_apply *a, keten_error *err)
{
	Keten__FrameworkContract *c = keten__framework_contract__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__ContractState cs = KETEN__STATE__CONTRACT_STATE__INIT;
	int rc;

	if (!c)
		return keten_refuse(err, "malformed-body", "framework contract body does not decode");
	if ((rc = check_contract(a, c, err)))
		goto out;
	cs.id.data = (uint8_t *)a->e->id;
	cs.id.len = 32;
	cs.ref = c->ref;
	cs.author.data = (uint8_t *)a->e->author;
	cs.author.len = 32;
	cs.domain = c->domain;
	cs.has_valid_from = cs.has_valid_until = 1;
	cs.valid_from = c->valid_from;
	cs.valid_until = c->valid_until;
	cs.has_subcontract_rule = cs.has_max_margin_bp = cs.has_sub_subcontracting = cs.has_payment_term_days = 1;
	cs.subcontract_rule = c->subcontract_rule;
	cs.max_margin_bp = c->max_margin_bp;
	cs.sub_subcontracting = c->sub_subcontracting;
	cs.payment_term_days = c->has_payment_term_days ? c->payment_term_days : 30;
	if ((rc = kt_state_put(a->txn, DK_CONTRACT, a->e->id, &cs, err)))
		goto out;
	{
		size_t n = strlen(c->ref);
		uint8_t k[80];
		memcpy(k, c->ref, n);
		k[n] = 0;
		rc = kt_index_put(a->txn, DX_CONTRACT_REF, k, n + 1, a->e->id, 32, err);
	}
out:
	keten__framework_contract__free_unpacked(c, NULL);
	return rc;
}

int kt_rule_indexation(kt_apply *a, keten_error *err)
{
	Keten__Indexation *x = keten__indexation__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__ContractState *cs = NULL;
	Keten__State__IndexStep *step, **arr;
	uint32_t type;
	size_t pos;
	int rc;

	if (!x)
		return keten_refuse(err, "malformed-body", "indexation body does not decode");
	if ((rc = kt_ref(a, x->contract.data, x->contract.len, TYPE_BIT(KETEN__BODY_TYPE__FRAMEWORK_CONTRACT), &type,
	                 err)))
		goto out;
	if ((rc = kt_state_get(a->txn, DK_CONTRACT, x->contract.data, &keten__state__contract_state__descriptor,
	                       (void **)&cs, err)))
		goto out;
	if (memcmp(cs->author.data, a->e->author, 32) != 0) {
		rc = keten_refuse(err, "wrong-role", "only the author of contract '%s' indexes it", cs->ref);
		goto out;
	}
	if (x->year < 1900 || x->year > 2999 || x->bp <= -10000 || x->bp > 10000) {
		rc = keten_refuse(err, "invalid-indexation", "indexation year or percentage out of range");
		goto out;
	}
	if (x->rounding != 0) {
		rc = keten_refuse(err, "invalid-indexation", "rounding rule %u is unknown (0: half away from zero)",
		                  x->rounding);
		goto out;
	}
	for (pos = 0; pos < cs->n_indexations; pos++) {
		if (cs->indexations[pos]->year == x->year) {
			rc = keten_refuse(err, "duplicate-indexation", "contract '%s' is already indexed for %u",
			                  cs->ref, x->year);
			goto out;
		}
		if (cs->indexations[pos]->year > x->year)
			break;
	}
	arr = realloc(cs->indexations, (cs->n_indexations + 1) * sizeof *arr);
	step = malloc(sizeof *step);
	if (!arr || !step) {
		free(step);
		if (arr)
			cs->indexations = arr;
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	cs->indexations = arr;
	/* steps stay sorted by year, one per year */
	KETEN_ASSERT(pos <= cs->n_indexations && (pos == 0 || arr[pos - 1]->year < x->year) &&
	             (pos == cs->n_indexations || arr[pos]->year > x->year));
	keten__state__index_step__init(step);
	step->year = x->year;
	step->bp = x->bp;
	if (kt_set_bytes(&step->entry, a->e->id, 32) == 0)
		step->has_entry = 1;
	memmove(arr + pos + 1, arr + pos, (cs->n_indexations - pos) * sizeof *arr);
	arr[pos] = step;
	cs->n_indexations++;
	rc = kt_state_put(a->txn, DK_CONTRACT, cs->id.data, cs, err);
out:
	kt_state_free(cs);
	keten__indexation__free_unpacked(x, NULL);
	return rc;
}

/* rijgen: an earlier herstel allocation of the same arrangement for the same
 * client that ended at most 31 days before this one starts.
 * allocation-after-close: an earlier allocation of the same profile for
 * the same client closed (by a result, not by a change) at most 31 days
 * before this one starts, when this one replaces nothing. */
struct rijgen_scan {
	keten_txn *t;
	const Keten__Allocation *al;
	size_t plen;
	bool hit, after_close;
};

static bool right_after(uint32_t ended, uint32_t start)
{
	return ended && ended <= start && keten_date_days(start) - keten_date_days(ended) <= KT_AFTER_CLOSE_DAYS;
}

static int rijgen_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct rijgen_scan *s = p;
	const Keten__Allocation *al = s->al;
	Keten__State__AllocationState *o = NULL;
	if (kl != s->plen + 32)
		return 0;
	if (kt_state_get(s->t, DK_ALLOCATION, k + s->plen, &keten__state__allocation_state__descriptor, (void **)&o,
	                 NULL))
		return 0;
	if (!o->voided && al->kind == KETEN__KIND__HERSTEL && o->kind == KETEN__KIND__HERSTEL && o->profile &&
	    o->intensity && al->profile && al->intensity && strcmp(o->profile, al->profile) == 0 &&
	    strcmp(o->intensity, al->intensity) == 0) {
		uint32_t ended = o->close_date ? o->close_date : o->end;
		if (ended && ended <= al->start && keten_date_days(al->start) - keten_date_days(ended) <= 31)
			s->hit = true;
	}
	if (!o->voided && !al->has_replaces && o->closed && !kt_replaced(o) && o->result.len == 32 && o->profile &&
	    al->profile && strcmp(o->profile, al->profile) == 0 && right_after(o->close_date, al->start))
		s->after_close = true;
	kt_state_free(o);
	return 0;
}

/* The provider: a 32-byte key certified here as lead provider. */
static int allocation_provider(kt_apply *a, const Keten__Allocation *al, keten_error *err)
{
	Keten__State__PartyState *ps = NULL;
	bool lead = false;
	int rc;

	if (al->provider.len != 32)
		return keten_refuse(err, "malformed-body", "provider is not a 32-byte key");
	rc = kt_party_load(a->txn, al->provider.data, &ps, NULL);
	if (rc == KETEN_ENOTFOUND) {
		memcpy(a->missing, al->provider.data, 32);
		return KETEN_EPENDING;
	}
	if (rc)
		return keten_fail(err, rc, "cannot read the provider's certificate");
	for (size_t i = 0; i < ps->n_roles; i++)
		if (ps->roles[i] == KETEN__ROLE__LEAD_PROVIDER)
			lead = true;
	keten__state__party_state__free_unpacked(ps, NULL);
	if (!lead)
		return keten_refuse(err, "provider-not-lead-provider",
		                    "the provider is not certified as lead provider");
	return KETEN_OK;
}

/* What the (indexed) tariff table says the allocation amounts to, in *expected. */
static int allocation_tariff(const Keten__Allocation *al, const Keten__FrameworkContract *fc,
                             const Keten__State__ContractState *cs, int64_t *expected, keten_error *err)
{
	if (al->kind == KETEN__KIND__HERSTEL || al->kind == KETEN__KIND__DUURZAAM) {
		const Keten__Tariff *t = kt_tariff(fc, al->profile, al->intensity, al->kind);
		if (!t)
			return keten_refuse(err, "not-in-tariff-table",
			                    "arrangement %s/%s %s is not in the tariff table of '%s'",
			                    al->profile ? al->profile : "-", al->intensity ? al->intensity : "-",
			                    al->kind == KETEN__KIND__HERSTEL ? "herstel" : "duurzaam", fc->ref);
		if (!kt_tariff_indexed(cs, t->cents, 0, al->start / 10000, expected))
			return keten_refuse(err, "amount-overflow", "indexed tariff overflows");
	} else if (al->kind == KETEN__KIND__COMPONENT) {
		const Keten__Component *k = kt_component(fc, al->component);
		int64_t per;
		if (!k)
			return keten_refuse(err, "not-in-tariff-table",
			                    "component %s is not in the tariff table of '%s'",
			                    al->component ? al->component : "-", fc->ref);
		if (!al->has_units || al->units <= 0 || al->units > KETEN_MAX_CENTS / 100)
			return keten_refuse(err, "invalid-amount",
			                    "a component allocation needs a positive number of units");
		if (!kt_tariff_indexed(cs, k->cents_per_unit, 0, al->start / 10000, &per) ||
		    !keten_apply_bp(per, al->units * 100, expected))
			return keten_refuse(err, "amount-overflow", "units x tariff overflows");
	} else {
		return keten_refuse(err, "invalid-kind", "kind %u is not herstel, duurzaam or component", al->kind);
	}
	return KETEN_OK;
}

static int check_allocation(kt_apply *a, const Keten__Allocation *al, const Keten__FrameworkContract *fc,
                            const Keten__State__ContractState *cs, keten_error *err)
{
	bool found = false;
	int64_t expected = 0;
	int rc;

	if (!(kt_roles(a) & ROLE_AUTHORITY))
		return kt_refuse_role(a, "wrong-role", "municipality", "only a municipality or region allocates", err);
	if (!al->client_ref[0] || strlen(al->client_ref) > 64)
		return keten_refuse(err, "invalid-reference", "a client reference has 1 to 64 characters");
	if ((rc = kt_text("client reference", al->client_ref, err)) || (rc = kt_text("number", al->number, err)) ||
	    (rc = kt_text("maatwerk reason", al->maatwerk, err)))
		return rc;
	for (size_t i = 0; i < fc->n_municipalities; i++)
		if (strcmp(fc->municipalities[i], al->municipality) == 0)
			found = true;
	if (!found)
		return keten_refuse(err, "municipality-not-in-contract", "municipality %s is not in contract '%s'",
		                    al->municipality, fc->ref);
	if (strcmp(al->domain, fc->domain) != 0)
		return keten_refuse(err, "domain-mismatch", "allocation domain %s differs from contract domain %s",
		                    al->domain, fc->domain);
	if ((rc = allocation_provider(a, al, err)))
		return rc;
	if (fc->n_eligible) {
		found = false;
		for (size_t i = 0; i < fc->n_eligible; i++)
			found = found ||
				(fc->eligible[i].len == 32 && memcmp(fc->eligible[i].data, al->provider.data, 32) == 0);
		if (!found)
			return keten_refuse(err, "party-not-eligible",
			                    "the lead provider is not eligible under contract '%s'", fc->ref);
	}
	if (!keten_date_valid(al->start) || (al->end && (!keten_date_valid(al->end) || al->end < al->start)))
		return keten_refuse(err, "invalid-date", "allocation period is not a valid period");
	if (al->start < fc->valid_from || al->start > fc->valid_until || (al->end && al->end > fc->valid_until))
		return keten_refuse(err, "date-outside-validity",
		                    "allocation period is outside the validity of contract '%s'", fc->ref);
	if ((rc = allocation_tariff(al, fc, cs, &expected, err)))
		return rc;
	KETEN_ASSERT(expected >= 0);
	if (al->amount_cents <= 0)
		return keten_refuse(err, "invalid-amount", "an allocation amount must be above zero");
	if (al->amount_cents > KETEN_MAX_CENTS)
		return keten_refuse(err, "amount-overflow", "amount above the largest keten accepts");
	if (blank(al->maatwerk) && al->amount_cents != expected)
		return keten_refuse(err, "amount-not-tariff",
		                    "amount %lld differs from the tariff %lld: mark it maatwerk with a reason",
		                    (long long)al->amount_cents, (long long)expected);
	return KETEN_OK;
}

/* Allocation numbers (toewijzingnummer) are unique per municipality and
 * domain (iJw TR332, retourcode 9332), over every allocation it ever made:
 * a replacement is a new toegewezen product and has a number of its own.
 * The index key: CBS code || 0 || domain || 0 || number || 0. */
static size_t number_key(const Keten__Allocation *al, uint8_t *k, size_t cap)
{
	int n = snprintf((char *)k, cap, "%s%c%s%c%s", al->municipality, 0, al->domain, 0, al->number);
	return n > 0 && (size_t)n + 1 < cap ? (size_t)n + 1 : 0;
}

struct number_find {
	keten_txn *t;
	size_t plen;
	const uint8_t *author;
	bool any, mine;
};

static int number_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct number_find *f = p;
	Keten__State__AllocationState *o = NULL;
	if (kl != f->plen + 32)
		return 0;
	f->any = true;
	if (kt_state_get(f->t, DK_ALLOCATION, k + f->plen, &keten__state__allocation_state__descriptor, (void **)&o,
	                 NULL) == 0 &&
	    memcmp(o->author.data, f->author, 32) == 0)
		f->mine = true;
	kt_state_free(o);
	return 0;
}

/* A number used before: refused for the same author (and locally);
 * another author's, received, is kept and marked (*dup). */
static int allocation_number(kt_apply *a, const Keten__Allocation *al, bool *dup, keten_error *err)
{
	uint8_t k[200];
	size_t n;
	struct number_find f = {.t = a->txn, .author = a->e->author};
	int rc;

	*dup = false;
	if (!al->number || !al->number[0])
		return KETEN_OK;
	if (strlen(al->number) > 64 || !(n = number_key(al, k + 1, sizeof k - 1)))
		return keten_refuse(err, "invalid-reference", "an allocation number has 1 to 64 characters");
	k[0] = DX_ALLOC_NUMBER;
	f.plen = n + 1;
	if ((rc = kt_kv_scan(a->txn, KT_INDEX, k, n + 1, number_cb, &f, err)))
		return rc;
	if (f.mine || (f.any && a->local))
		return keten_refuse(err, "duplicate-allocation-number",
		                    "allocation number '%s' is already used in municipality %s (%s)%s", al->number,
		                    al->municipality, al->domain,
		                    al->has_replaces ? ": a replacement has a number of its own" : "");
	*dup = f.any;
	return KETEN_OK;
}

static int number_record(kt_apply *a, const Keten__Allocation *al, keten_error *err)
{
	uint8_t k[200];
	size_t n;

	if (!al->number || !al->number[0])
		return KETEN_OK;
	n = number_key(al, k, sizeof k);
	KETEN_ASSERT(n > 0); /* allocation_number held it to the key's size */
	return kt_index_put(a->txn, DX_ALLOC_NUMBER, k, n, a->e->id, 32, err);
}

/* The rules beyond the tariff: volume, number, and a change. */
static int allocation_more(kt_apply *a, const Keten__Allocation *al, const Keten__FrameworkContract *fc,
                           Keten__State__AllocationState *as, kt_change *ch, bool *dup, keten_error *err)
{
	const Keten__Component *k = al->kind == KETEN__KIND__COMPONENT ? kt_component(fc, al->component) : NULL;
	int rc;

	KETEN_ASSERT(al->kind != KETEN__KIND__COMPONENT || k != NULL); /* allocation_tariff found it */
	if ((rc = kt_text("change reason", al->change_reason, err)) ||
	    (rc = kt_text("volume unit", al->volume_unit, err)) || (rc = kt_text("frequency", al->frequency, err)))
		return rc;
	if ((rc = kt_volume_check(a, al, k, as, err)) || (rc = allocation_number(a, al, dup, err)))
		return rc;
	return kt_change_check(a, al, ch, err);
}

/* Store the allocation's record (marked "rijgen" when it follows an earlier
 * herstel allocation for the client, and with the marks of a change) and
 * index it under its client and its number. */
static int allocation_record(kt_apply *a, const Keten__Allocation *al, Keten__State__AllocationState *as,
                             const kt_change *ch, bool dup, keten_error *err)
{
	struct rijgen_scan s = {.t = a->txn, .al = al};
	char *marks[4];
	uint8_t pre[80];
	size_t n = strlen(al->client_ref), nm = 0;
	int rc;

	/* check_allocation held the client reference to 64 characters */
	KETEN_ASSERT(n >= 1 && n + 2 <= sizeof pre);
	pre[0] = DX_CLIENT;
	memcpy(pre + 1, al->client_ref, n);
	pre[n + 1] = 0;
	s.plen = n + 2;
	if ((rc = kt_kv_scan(a->txn, KT_INDEX, pre, n + 2, rijgen_cb, &s, err)))
		return rc;
	if (s.hit)
		marks[nm++] = "rijgen";
	if (s.after_close)
		marks[nm++] = "allocation-after-close";
	if (ch->outside_window)
		marks[nm++] = "replacement-outside-window";
	if (dup)
		marks[nm++] = "duplicate-allocation-number";
	KETEN_ASSERT(nm <= KT_COUNT(marks));
	as->n_findings = nm;
	as->findings = marks;
	if ((rc = kt_state_index_begin(a->txn, err)) || (rc = kt_state_put(a->txn, DK_ALLOCATION, a->e->id, as, err)))
		return rc;
	if ((rc = kt_index_put(a->txn, DX_CLIENT, pre + 1, n + 1, a->e->id, 32, err)))
		return rc;
	return number_record(a, al, err);
}

int kt_rule_allocation(kt_apply *a, keten_error *err)
{
	Keten__Allocation *al = keten__allocation__unpack(NULL, a->e->body_len, a->e->body);
	Keten__FrameworkContract *fc = NULL;
	Keten__State__ContractState *cs = NULL;
	Keten__State__AllocationState as = KETEN__STATE__ALLOCATION_STATE__INIT;
	kt_change ch = {0};
	uint32_t type;
	bool dup = false;
	int rc;

	if (!al)
		return keten_refuse(err, "malformed-body", "allocation body does not decode");
	if (!(kt_roles(a) & ROLE_AUTHORITY)) {
		rc = kt_refuse_role(a, "wrong-role", "municipality", "only a municipality or region allocates", err);
		goto out;
	}
	if ((rc = kt_ref(a, al->contract.data, al->contract.len, TYPE_BIT(KETEN__BODY_TYPE__FRAMEWORK_CONTRACT), &type,
	                 err)))
		goto out;
	if ((rc = kt_state_get(a->txn, DK_CONTRACT, al->contract.data, &keten__state__contract_state__descriptor,
	                       (void **)&cs, err)) ||
	    (rc = kt_contract_body(a->txn, al->contract.data, &fc, err)))
		goto out;
	if ((rc = check_allocation(a, al, fc, cs, err)) || (rc = allocation_more(a, al, fc, &as, &ch, &dup, err)))
		goto out;
	as.id.data = (uint8_t *)a->e->id;
	as.id.len = 32;
	as.author.data = (uint8_t *)a->e->author;
	as.author.len = 32;
	as.provider = al->provider;
	as.contract = al->contract;
	as.municipality = al->municipality;
	as.domain = al->domain;
	as.has_kind = as.has_amount_cents = as.has_start = as.has_end = 1;
	as.kind = al->kind;
	as.profile = al->profile;
	as.intensity = al->intensity;
	as.component = al->component;
	as.has_units = al->has_units;
	as.units = al->units;
	as.amount_cents = al->amount_cents;
	as.start = al->start;
	as.end = al->end;
	as.client_ref = al->client_ref;
	as.has_maatwerk = 1;
	as.maatwerk = !blank(al->maatwerk);
	kt_change_fill(a, al, &ch, &as);
	if ((rc = allocation_record(a, al, &as, &ch, dup, err)) == 0)
		rc = kt_change_apply(a, &ch, &as, err);
out:
	kt_change_free(&ch);
	if (fc)
		keten__framework_contract__free_unpacked(fc, NULL);
	kt_state_free(cs);
	keten__allocation__free_unpacked(al, NULL);
	return rc;
}
