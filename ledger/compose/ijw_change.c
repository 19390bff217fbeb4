/*
 * ijw_change.c — the parts of an iJw allocation that follow the
 * arrangement's life (see compose/ijw.h, rules/change.h, rules/volume.h):
 * an Omvang in hours (or another unit) as the allocation's volume, a
 * RedenWijziging as a change of the allocation with the same
 * ToewijzingNummer, and, after changes, the allocation of a number that
 * is current on a day.
 *
 * iJw sends a change of product or volume as the old ToewijzingNummer
 * with a RedenWijziging and an Einddatum, and a new ToegewezenProduct
 * from the day after (ijw_map.c pairs the two): the new one, with its own
 * number, is the replacement.  A RedenWijziging without such a new
 * product changes the product in place under its old number; keten keeps
 * numbers unique (a replacement has a number of its own), so that
 * replacement is recorded without a number, and the number names the
 * first allocation of its chain of replacements; the allocation it means
 * on a day is found along the chain (replaced_by).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/ijw.h"
#include "base/base.h"
#include "rules/change.h"
#include "rules/terms.h"

#define MAX_CHAIN 64 /* changes of one allocation followed at most */

int kt_ijw_volume(kt_ijw_job *j, const char *part, const keten_ijw_product *p, keten_draft_allocation *a)
{
	static const char *const words[][2] = {{"01", "minute"},  {"04", "hour"},         {"14", "etmaal"},
	                                       {"16", "dagdeel"}, {"82", "piece-output"}, {"84", "piece-effort"}};
	static const char *const freq[][2] = {{"2", "week"}, {"4", "month"}, {"6", "total"}};

	a->volume_unit = NULL;
	a->frequency = NULL;
	for (size_t i = 0; i < KT_COUNT(words); i++)
		if (strcmp(words[i][0], p->unit) == 0)
			a->volume_unit = words[i][1];
	for (size_t i = 0; i < KT_COUNT(freq); i++)
		if (strcmp(freq[i][0], p->frequency) == 0)
			a->frequency = freq[i][1];
	KETEN_ASSERT(a->volume_unit != NULL); /* the reader held Eenheid to WJ756; 83 is an amount */
	if (!a->frequency)
		return kt_ijw_refuse(
			j, part, "ijw-product",
			"Omvang Frequentie %s (per dag) has no keten frequency: per week (2), per month (4) "
			"or in total (6)",
			p->frequency);
	a->has_volume = true;
	a->volume = p->volume * 100;
	return KETEN_OK;
}

int kt_ijw_current_on(kt_ijw_job *j, uint8_t id[32], uint32_t day, Keten__State__AllocationState **as)
{
	for (int i = 0; i < MAX_CHAIN && kt_replaced(*as); i++) {
		Keten__State__AllocationState *next = NULL;
		if (kt_ijw_allocation(j, (*as)->replaced_by.data, &next, NULL) != KETEN_OK)
			break;
		if (day && next->start > day) {
			kt_state_free(next);
			break;
		}
		memcpy(id, (*as)->replaced_by.data, 32);
		kt_state_free(*as);
		*as = next;
	}
	return KETEN_OK;
}

int kt_ijw_current(kt_ijw_job *j, uint8_t id[32], Keten__State__AllocationState **as)
{
	return kt_ijw_current_on(j, id, 0, as);
}

/* The stop code a reason that ends an allocation without replacing it
 * closes it with (JZ002 to JZ588 / WMO588); NULL for the others. */
static const char *ending_stop(const char *domain, const char *reason)
{
	bool wmo = strcmp(domain, "wmo") == 0;

	if (!strcmp(reason, "02"))
		return "02";
	if (!strcmp(reason, "06"))
		return "39";
	if (!strcmp(reason, "07"))
		return wmo ? "31" : "35";
	if (!strcmp(reason, "09"))
		return "38";
	return NULL;
}

/* A reason that ends the allocation: the municipality closes it on the product's Einddatum. */
static int end_allocation(kt_ijw_job *j, const char *part, const keten_ijw_product *p, const uint8_t old[32],
                          const char *stop)
{
	keten_draft *d;

	if (!p->end)
		return kt_ijw_refuse(j, part, "ijw-product",
		                     "RedenWijziging %s ends the allocation: give its Einddatum", p->change_reason);
	if (!(d = kt_ijw_draft(j, part, KETEN_DRAFT_CLOSE)))
		return KETEN_ENOMEM;
	memcpy(d->close.allocation, old, 32);
	d->close.outcome = KETEN_OUTCOME_STOPPED;
	d->close.stop_code = stop;
	d->close.date = p->end;
	return KETEN_OK;
}

int kt_ijw_replaces(kt_ijw_job *j, const char *part, const keten_ijw_product *p, const uint8_t old[32],
                    keten_draft_allocation *a, bool own_number)
{
	const char *stop = ending_stop(j->m->domain, p->change_reason);
	bool known, obsolete;
	keten_draft *d;

	if (stop)
		return end_allocation(j, part, p, old, stop);
	if (!kt_change_stop(p->change_reason, &known, &obsolete)) {
		if (!strcmp(p->change_reason, "04"))
			return kt_ijw_refuse(
				j, part, "not-a-replacement-reason",
				"RedenWijziging 04 (verlenging) extends care: keten records an extension as a "
				"new allocation with a ToewijzingNummer of its own");
		return kt_ijw_refuse(
			j, part, "not-a-replacement-reason",
			"RedenWijziging %s (administratieve correctie) voids and allocates anew: void the "
			"allocation (keten correct) and send the product with a ToewijzingNummer of its own",
			p->change_reason);
	}
	a->has_replaces = true;
	memcpy(a->replaces, old, 32);
	a->change_reason = p->change_reason;
	if (!own_number)
		a->number = NULL; /* the changed product's number stays on what it replaces: see the top */
	if (!(d = kt_ijw_draft(j, part, KETEN_DRAFT_ALLOCATION)))
		return KETEN_ENOMEM;
	d->allocation = *a;
	return KETEN_OK;
}
