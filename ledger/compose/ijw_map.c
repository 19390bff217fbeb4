/*
 * ijw_map.c — each product and prestatie of an iJw message as a draft
 * (see compose/ijw.h, and docs/ijw.md for the whole mapping):
 *
 *   ToegewezenProduct  an allocation of the contract line its Product
 *                      maps; Omvang and Budget give its amount or volume;
 *                      a RedenWijziging changes the allocation with its
 *                      ToewijzingNummer (13, verwijderd: voids it)
 *   StartProduct       a resume when the allocation is paused, else
 *                      nothing (keten has no entry for a start)
 *   StopProduct        a close with the RedenBeeindiging as stop code
 *   Prestatie          a claim (debet), or the void of the claim it
 *                      credits (credit)
 *
 * Every part is checked before any draft is composed, and every part
 * that fails is reported (the job's faults), so that one message gives
 * all its refusals at once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/ijw.h"
#include "base/base.h"
#include "rules/change.h"
#include "rules/terms.h"

#define MAX_SAME 16 /* allocations one ToewijzingNummer may name here (voided ones, changes) */

static bool has_role(const kt_ijw_job *j, const char *role)
{
	return strstr(j->info->role, role) != NULL;
}

/* The WJ756 word of a unit code (as the ledger's units name them). */
static const char *unit_word(const char *code)
{
	static const char *const map[][2] = {{"01", "minute"},      {"04", "hour"},         {"14", "etmaal"},
	                                     {"16", "dagdeel"},     {"82", "piece-output"}, {"83", "euro"},
	                                     {"84", "piece-effort"}};
	for (size_t i = 0; i < KT_COUNT(map); i++)
		if (strcmp(map[i][0], code) == 0)
			return map[i][1];
	return NULL;
}

/* Does a component priced per `unit` (as signed) count in WJ756 `code`?
 * Contracts signed before the WJ756 words wrote "piece" for 82 and 84. */
static bool unit_fits(const char *unit, const char *code)
{
	const char *w = unit_word(code);
	return w && unit &&
		(strcmp(unit, w) == 0 || (strcmp(unit, "piece") == 0 && (!strcmp(code, "82") || !strcmp(code, "84"))));
}

/* The allocation a product or prestatie names ----------------------------------------------------- */

int kt_ijw_named(kt_ijw_job *j, const char *part, const char *cbs, const char *number, bool municipality,
                 uint8_t id[32], Keten__State__AllocationState **as)
{
	uint8_t ids[MAX_SAME][32];
	keten_error e = {0};
	size_t n;
	int rc;

	*as = NULL;
	if (!number[0])
		return kt_ijw_refuse(j, part, "ijw-allocation",
		                     "ToewijzingNummer is absent: keten finds the allocation by it");
	if ((rc = kt_ijw_by_number(j, cbs, number, municipality, ids, MAX_SAME, &n, &e)))
		return kt_ijw_fault(j, part, "ijw-allocation", &e);
	for (size_t i = 0; i < n && i < MAX_SAME; i++) {
		Keten__State__AllocationState *s = NULL;
		if (kt_ijw_allocation(j, ids[i], &s, NULL) == KETEN_OK && !s->voided) {
			memcpy(id, ids[i], 32);
			*as = s;
			return KETEN_OK;
		}
		kt_state_free(s);
	}
	return kt_ijw_refuse(j, part, "ijw-allocation",
	                     "ToewijzingNummer '%s' names no live allocation %s of municipality %s", number,
	                     municipality ? "this home made" : "this home holds", cbs);
}

/* 301: allocations ---------------------------------------------------------------------- */

/* The contract's amount for the draft: the tariff indexed to its start
 * year (units x unit tariff for a component); false on overflow. */
static bool tariff_of(kt_ijw_job *j, const kt_ijw_line *l, const keten_draft_allocation *a, int64_t *out)
{
	Keten__State__ContractState *cs = NULL;
	int64_t per;
	bool ok;

	if (kt_state_get(j->t, DK_CONTRACT, l->contract, &keten__state__contract_state__descriptor, (void **)&cs, NULL))
		return false;
	if (l->component)
		ok = kt_tariff_indexed(cs, l->component->cents_per_unit, 0, a->start / 10000, &per) &&
			keten_apply_bp(per, a->units * 100, out);
	else
		ok = kt_tariff_indexed(cs, l->tariff->cents, 0, a->start / 10000, out);
	kt_state_free(cs);
	return ok;
}

/* Omvang of a component: its units, in the component's unit, in total. */
static int component_units(kt_ijw_job *j, const char *part, const keten_ijw_product *p, const kt_ijw_line *l,
                           keten_draft_allocation *a)
{
	if (!p->has_volume)
		return kt_ijw_refuse(j, part, "ijw-product", "a component is allocated with an Omvang (its units)");
	if (!unit_fits(l->component->unit, p->unit))
		return kt_ijw_refuse(j, part, "ijw-product", "Omvang Eenheid %s is not the unit of component %s (%s)",
		                     p->unit, l->component->code, l->component->unit);
	if (strcmp(p->frequency, "6") != 0)
		return kt_ijw_refuse(j, part, "ijw-product",
		                     "a component is allocated as a total: Omvang Frequentie 6, not %s", p->frequency);
	a->has_units = true;
	a->units = p->volume * 100;
	return KETEN_OK;
}

/* The amount the product names (a euro Omvang or a Budget), if any. */
static int named_amount(kt_ijw_job *j, const char *part, const keten_ijw_product *p, keten_kind kind, bool *has,
                        int64_t *cents)
{
	bool euro = p->has_volume && strcmp(p->unit, "83") == 0;

	*has = false;
	if (euro && kind == KETEN_KIND_COMPONENT)
		return kt_ijw_refuse(j, part, "ijw-product", "a component is allocated in its own unit, not in euro");
	if (euro && kind == KETEN_KIND_HERSTEL && strcmp(p->frequency, "6") != 0)
		return kt_ijw_refuse(
			j, part, "ijw-product",
			"a euro Omvang of a herstel arrangement is its trajectory price: Frequentie 6, not %s",
			p->frequency);
	if (euro && kind == KETEN_KIND_DUURZAAM && strcmp(p->frequency, "4") != 0)
		return kt_ijw_refuse(
			j, part, "ijw-product",
			"a euro Omvang of a duurzaam arrangement is its monthly price: Frequentie 4, not %s",
			p->frequency);
	if (p->has_budget && kind == KETEN_KIND_DUURZAAM)
		return kt_ijw_refuse(j, part, "ijw-product",
		                     "a Budget is a total; a duurzaam arrangement is priced per month (a euro Omvang, "
		                     "Frequentie 4)");
	if (euro && p->has_budget && p->volume * 100 != p->budget_cents)
		return kt_ijw_refuse(j, part, "ijw-product", "Omvang %lld euro and Budget %lld cents disagree",
		                     (long long)p->volume, (long long)p->budget_cents);
	*has = euro || p->has_budget;
	*cents = euro ? p->volume * 100 : p->budget_cents;
	return KETEN_OK;
}

/* Omvang and Budget: the amount (maatwerk when it is not the tariff) or the volume. */
static int amount_and_volume(kt_ijw_job *j, const char *part, const keten_ijw_product *p, const kt_ijw_line *l,
                             keten_draft_allocation *a)
{
	int64_t cents = 0, tariff;
	bool has;
	int rc;

	if (a->kind == KETEN_KIND_COMPONENT && (rc = component_units(j, part, p, l, a)))
		return rc;
	if ((rc = named_amount(j, part, p, a->kind, &has, &cents)))
		return rc;
	if (!tariff_of(j, l, a, &tariff))
		return kt_ijw_refuse(j, part, "amount-overflow", "the contract's tariff overflows for this product");
	if (has && cents != tariff) {
		a->has_amount = true;
		a->amount_cents = cents;
		a->maatwerk = "iJw budget";
	}
	if (p->has_volume && strcmp(p->unit, "83") != 0 && a->kind != KETEN_KIND_COMPONENT)
		return kt_ijw_volume(j, part, p, a);
	return KETEN_OK;
}

/* RedenWijziging: 13 voids the allocation; every other reason changes it.
 * own_number: a is a product of its own (a ToewijzingNummer of its own). */
static int change(kt_ijw_job *j, const char *part, const keten_ijw_product *p, keten_draft_allocation *a,
                  bool own_number)
{
	Keten__State__AllocationState *as;
	uint8_t id[32];
	keten_draft *d;
	int rc;

	if ((rc = kt_ijw_named(j, part, j->m->sender, p->number, true, id, &as)))
		return rc;
	rc = kt_ijw_current(j, id, &as);
	kt_state_free(as);
	if (rc)
		return rc;
	if (strcmp(p->change_reason, "13") == 0) {
		if (!(d = kt_ijw_draft(j, part, KETEN_DRAFT_CORRECTION)))
			return KETEN_ENOMEM;
		memcpy(d->correction.entry, id, 32);
		d->correction.reason = "iJw RedenWijziging 13 (verwijderd)";
		return KETEN_OK;
	}
	return kt_ijw_replaces(j, part, p, id, a, own_number);
}

/*
 * The product that takes over from changed product i in this message, as
 * iJw sends a change of product or volume: the old ToewijzingNummer with a
 * RedenWijziging that replaces and an Einddatum, and a new one, without a
 * reason, from the day after.  The index, or SIZE_MAX when none.
 */
static size_t successor(const keten_ijw_message *m, size_t i)
{
	const keten_ijw_product *p = &m->products[i];
	bool known, obsolete;

	if (!p->change_reason[0] || !p->end || !kt_change_stop(p->change_reason, &known, &obsolete))
		return SIZE_MAX;
	for (size_t k = 0; k < m->n_products; k++)
		if (k != i && !m->products[k].change_reason[0] &&
		    m->products[k].start == keten_date_add_days(p->end, 1))
			return k;
	return SIZE_MAX;
}

static bool is_successor(const keten_ijw_message *m, size_t k)
{
	for (size_t i = 0; i < m->n_products; i++)
		if (successor(m, i) == k)
			return true;
	return false;
}

/* The allocation product p means: its contract line, dates, amount, volume. */
static int build(kt_ijw_job *j, const char *part, const keten_ijw_product *p, const uint8_t provider[32],
                 keten_draft_allocation *a)
{
	keten_error e = {0};
	kt_ijw_line l;

	if (!p->code[0])
		return kt_ijw_refuse(
			j, part, "ijw-product",
			"Product %s has no Code: keten maps a product (Categorie and Code) to a contract line",
			p->category[0] ? p->category : "(absent)");
	if (kt_ijw_mapping(j, j->m->sender, p->start, p->category, p->code, &l, &e))
		return kt_ijw_fault(j, part, "ijw-product", &e);
	memcpy(a->contract, l.contract, 32);
	a->client_ref = j->m->client_ref;
	memcpy(a->provider, provider, 32);
	a->kind = l.component ? KETEN_KIND_COMPONENT : (keten_kind)l.tariff->kind;
	a->profile = l.tariff ? l.tariff->profile : NULL;
	a->intensity = l.tariff ? l.tariff->intensity : NULL;
	a->component = l.component ? l.component->code : NULL;
	a->start = p->start;
	a->end = p->end;
	a->number = p->number;
	return amount_and_volume(j, part, p, &l, a);
}

/* The number is not on a live allocation of this municipality yet. */
static int number_free(kt_ijw_job *j, const char *part, const char *number)
{
	uint8_t ids[MAX_SAME][32];
	keten_error e = {0};
	size_t n;

	if (kt_ijw_by_number(j, j->m->sender, number, true, ids, MAX_SAME, &n, &e))
		return kt_ijw_fault(j, part, "ijw-allocation", &e);
	for (size_t k = 0; k < n && k < MAX_SAME; k++) {
		Keten__State__AllocationState *as = NULL;
		bool live = kt_ijw_allocation(j, ids[k], &as, NULL) == KETEN_OK && !as->voided;
		kt_state_free(as);
		if (live)
			return kt_ijw_refuse(j, part, "duplicate-allocation-number",
			                     "ToewijzingNummer '%s' already allocated", number);
	}
	return KETEN_OK;
}

static int map_toegewezen(kt_ijw_job *j, size_t i, const uint8_t provider[32])
{
	const keten_ijw_message *m = j->m;
	const keten_ijw_product *p = &m->products[i];
	size_t k = successor(m, i);
	keten_draft_allocation a = {0};
	char part[40], spart[40];
	keten_draft *d;
	int rc;

	if (is_successor(m, i))
		return KETEN_OK; /* the change it follows records it */
	snprintf(part, sizeof part, "ToegewezenProduct %zu", i + 1);
	snprintf(spart, sizeof spart, "ToegewezenProduct %zu", (k == SIZE_MAX ? i : k) + 1);
	if ((rc = build(j, spart, k == SIZE_MAX ? p : &m->products[k], provider, &a)))
		return rc;
	if (k != SIZE_MAX && (rc = number_free(j, spart, m->products[k].number)))
		return rc;
	if (p->change_reason[0])
		return change(j, part, p, &a, k != SIZE_MAX);
	if ((rc = number_free(j, part, p->number)))
		return rc;
	if (!(d = kt_ijw_draft(j, part, KETEN_DRAFT_ALLOCATION)))
		return KETEN_ENOMEM;
	d->allocation = a;
	return KETEN_OK;
}

int kt_ijw_map_allocation(kt_ijw_job *j)
{
	const keten_ijw_message *m = j->m;
	keten_error e = {0};
	uint8_t provider[32];
	int rc = KETEN_OK;

	if (!has_role(j, "municipality") || strcmp(j->info->municipality, m->sender) != 0)
		return kt_ijw_refuse(
			j, "Header", "ijw-sender",
			"Afzender %s is not this home's CBS code (%s): a %s is imported by the municipality "
			"that sends it",
			m->sender, j->info->municipality[0] ? j->info->municipality : "none", m->name);
	if (kt_ijw_provider(j, m->receiver, provider, &e))
		return kt_ijw_fault(j, "Header", "ijw-receiver", &e);
	for (size_t i = 0; i < m->n_products; i++) {
		int r = map_toegewezen(j, i, provider);
		if (r == KETEN_ENOMEM)
			return r;
		rc = rc ? rc : r;
	}
	return rc;
}

/* 305, 307: start and stop ----------------------------------------------------------------- */

int kt_ijw_lead_sends(kt_ijw_job *j)
{
	if (!has_role(j, "lead-provider") || strcmp(j->info->agb, j->m->sender) != 0)
		return kt_ijw_refuse(
			j, "Header", "ijw-sender",
			"Afzender %s is not this home's AGB code (%s): a %s is imported by the lead provider "
			"that sends it",
			j->m->sender, j->info->agb[0] ? j->info->agb : "none", j->m->name);
	return KETEN_OK;
}

/* The product's own checks against the allocation it names. */
static int product_fits(kt_ijw_job *j, const char *part, const keten_ijw_product *p,
                        const Keten__State__AllocationState *as)
{
	char d[16];

	if (strcmp(p->status, "1") != 0)
		return kt_ijw_refuse(
			j, part, "ijw-status",
			"StatusAanlevering %s (a changed or withdrawn report) is not read: void the entry it "
			"changes with keten correct",
			p->status);
	if (p->code[0] && !kt_ijw_maps_to(j, as, p->category, p->code))
		return kt_ijw_refuse(j, part, "ijw-product",
		                     "Product %s/%s is not the arrangement of ToewijzingNummer '%s'", p->category,
		                     p->code, p->number);
	keten_format_date(d, sizeof d, as->start);
	if (p->allocation_start && p->allocation_start != as->start)
		return kt_ijw_refuse(j, part, "ijw-allocation",
		                     "ToewijzingIngangsdatum is not the allocation's start %s", d);
	if (p->start < as->start || (as->end && p->start > as->end))
		return kt_ijw_refuse(j, part, "date-outside-validity",
		                     "Begindatum lies outside the allocation's period");
	return KETEN_OK;
}

static int map_start(kt_ijw_job *j, const char *part, const keten_ijw_product *p,
                     const Keten__State__AllocationState *as, const uint8_t id[32])
{
	uint32_t since = 0;
	keten_draft *d;
	char day[16];

	keten_format_date(day, sizeof day, p->start);
	if (as->closed)
		return kt_ijw_refuse(j, part, "allocation-closed",
		                     "the allocation is closed; care does not start on %s", day);
	if (kt_paused(as, &since) && p->start > since) {
		if (!(d = kt_ijw_draft(j, part, KETEN_DRAFT_RESUME)))
			return KETEN_ENOMEM;
		memcpy(d->resume.allocation, id, 32);
		d->resume.date = p->start;
		return KETEN_OK;
	}
	return kt_ijw_note(j, part, "care starts on %s: nothing to record (the allocation is not paused)", day);
}

static int map_stop(kt_ijw_job *j, const char *part, const keten_ijw_product *p,
                    const Keten__State__AllocationState *as, const uint8_t id[32])
{
	bool plan = (!strcmp(as->domain, "jeugd") && !strcmp(p->stop_code, "31")) ||
		(!strcmp(as->domain, "wmo") && !strcmp(p->stop_code, "19"));
	keten_draft *d;

	if (!kt_stop_label(as->domain, p->stop_code))
		return kt_ijw_refuse(j, part, "unknown-stop-code", "RedenBeeindiging '%s' is not in the %s list",
		                     p->stop_code, as->domain);
	if (!(d = kt_ijw_draft(j, part, KETEN_DRAFT_CLOSE)))
		return KETEN_ENOMEM;
	memcpy(d->close.allocation, id, 32);
	d->close.stop_code = p->stop_code;
	d->close.date = p->end;
	/* JW307 carries no outcome (doelrealisatie): see docs/ijw.md */
	d->close.outcome = plan                  ? KETEN_OUTCOME_ACHIEVED
		: kt_stop_is_pause(p->stop_code) ? KETEN_OUTCOME_PARTIAL
						 : KETEN_OUTCOME_STOPPED;
	return KETEN_OK;
}

int kt_ijw_map_start_stop(kt_ijw_job *j)
{
	const keten_ijw_message *m = j->m;
	int rc;

	if ((rc = kt_ijw_lead_sends(j)))
		return rc;
	for (size_t i = 0; i < m->n_products; i++) {
		const keten_ijw_product *p = &m->products[i];
		Keten__State__AllocationState *as = NULL;
		uint8_t id[32];
		char part[40];
		int r;
		snprintf(part, sizeof part, "%s %zu", m->kind == KETEN_IJW_STOP ? "StopProduct" : "StartProduct",
		         i + 1);
		r = kt_ijw_named(j, part, m->receiver, p->number, false, id, &as);
		if (r == KETEN_OK)
			r = kt_ijw_current_on(j, id, m->kind == KETEN_IJW_STOP ? p->end : p->start, &as);
		if (r == KETEN_OK && (r = product_fits(j, part, p, as)) == KETEN_OK)
			r = m->kind == KETEN_IJW_STOP ? map_stop(j, part, p, as, id) : map_start(j, part, p, as, id);
		kt_state_free(as);
		if (r == KETEN_ENOMEM)
			return r;
		rc = rc ? rc : r;
	}
	return rc;
}
