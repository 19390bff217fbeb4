/*
 * volume.c — units and volumes (rules/volume.h): the WJ756 unit words
 * (iJw/iWmo eenheid) and the old words entries signed before may carry,
 * an allocation's volume (omvang) and frequency, the unit a delivery must
 * use, and what a volume allows in a month.  The allocation rule
 * (contract.c), the offer and delivery rules (offer.c) and reconcile's
 * volume findings ask here, so that all read a volume the same way.
 */
#include <string.h>

#include "rules/volume.h"
#include "base/base.h"

/* WJ756 Eenheid, iJw / iWmo release 3.2. */
static const struct {
	const char *word, *code;
} wj756[] = {
	{"minute", "01"},       {"hour", "04"}, {"etmaal", "14"},       {"dagdeel", "16"},
	{"piece-output", "82"}, {"euro", "83"}, {"piece-effort", "84"},
};

bool kt_unit_ok(const char *u)
{
	return kt_unit_code(u) != NULL;
}

const char *kt_unit_code(const char *u)
{
	if (!u)
		return NULL;
	for (size_t i = 0; i < KT_COUNT(wj756); i++)
		if (strcmp(u, wj756[i].word) == 0)
			return wj756[i].code;
	return NULL;
}

const char *kt_sub_unit(const char *u)
{
	for (size_t i = 0; u && i < KT_COUNT(wj756); i++)
		if (strcmp(u, wj756[i].word) == 0)
			return wj756[i].word;
	return NULL;
}

bool kt_unit_legacy(const char *u)
{
	static const char *const old[] = {"day", "week", "month", "piece"};
	for (size_t i = 0; u && i < KT_COUNT(old); i++)
		if (strcmp(u, old[i]) == 0)
			return true;
	return false;
}

int kt_unit_check(const kt_apply *a, const char *field, const char *u, const char *signed_unit, keten_error *err)
{
	if (kt_unit_ok(u))
		return KETEN_OK;
	if (kt_unit_legacy(u) && (!a->local || (signed_unit && strcmp(u, signed_unit) == 0)))
		return KETEN_OK;
	if (u && strcmp(u, "piece") == 0)
		return keten_refuse(err, "invalid-unit",
		                    "%s 'piece' is no longer a unit: piece-output (WJ756 82) or piece-effort (84)",
		                    field);
	return keten_refuse(err, "invalid-unit",
	                    "%s '%s' is not a WJ756 unit (minute, hour, etmaal, dagdeel, piece-output, euro, "
	                    "piece-effort)",
	                    field, u ? u : "");
}

static bool frequency_ok(const char *f)
{
	return f && (strcmp(f, "week") == 0 || strcmp(f, "month") == 0 || strcmp(f, "total") == 0);
}

int kt_volume_check(const kt_apply *a, const Keten__Allocation *al, const Keten__Component *k,
                    Keten__State__AllocationState *as, keten_error *err)
{
	bool given = al->has_volume || al->volume_unit || al->frequency;
	int rc;

	if (!given) {
		if (k && al->has_units) {
			/* a component's units are its volume, in its own unit */
			as->has_volume = 1;
			as->volume = al->units;
			as->volume_unit = k->unit;
			as->frequency = "total";
			return KETEN_OK;
		}
		if (a->local && strcmp(al->domain, "wmo") == 0)
			return keten_refuse(err, "wmo-needs-volume",
			                    "a Wmo allocation names its volume: --volume N --unit UNIT --frequency "
			                    "week|month|total");
		return KETEN_OK;
	}
	if (!al->has_volume || al->volume <= 0 || al->volume > KETEN_MAX_CENTS / 100 || !al->volume_unit)
		return keten_refuse(err, "invalid-volume", "a volume is a positive number with a unit and a frequency");
	if ((rc = kt_unit_check(a, "volume unit", al->volume_unit, NULL, err)))
		return rc;
	if (!frequency_ok(al->frequency))
		return keten_refuse(err, "invalid-frequency", "frequency '%s' is not week, month or total",
		                    al->frequency ? al->frequency : "");
	if (k && strcmp(k->unit, al->volume_unit) != 0)
		return keten_refuse(err, "invalid-unit", "component %s is counted in %s, not %s", k->code, k->unit,
		                    al->volume_unit);
	KETEN_ASSERT(al->volume > 0 && al->volume_unit && al->frequency);
	as->has_volume = as->has_volume_signed = as->volume_signed = 1;
	as->volume = al->volume;
	as->volume_unit = al->volume_unit;
	as->frequency = al->frequency;
	return KETEN_OK;
}

int kt_delivery_unit(const kt_apply *a, const Keten__State__AllocationState *as, const char *unit, keten_error *err)
{
	bool wmo = as->domain && strcmp(as->domain, "wmo") == 0;

	if (!as->volume_unit) {
		/* an allocation without a volume, signed before volumes */
		if (wmo && strcmp(unit, "hour") != 0)
			return keten_refuse(err, "wmo-needs-hours", "Wmo deliveries are indicated in hours");
		return KETEN_OK;
	}
	if (strcmp(unit, as->volume_unit) == 0 || (!a->local && !as->volume_signed))
		return KETEN_OK;
	if (wmo && strcmp(as->volume_unit, "hour") == 0)
		return keten_refuse(err, "wmo-needs-hours", "the Wmo allocation is in hours: deliveries are too");
	return keten_refuse(err, "unit-not-allocated", "unit '%s' is not the allocation's unit '%s'", unit,
	                    as->volume_unit);
}

bool kt_volume_month(const Keten__State__AllocationState *as, uint32_t ym, int64_t *num, int64_t *den)
{
	uint32_t first = ym * 100 + 1, last;
	int dim = keten_days_in_month((int)(ym / 100), (int)(ym % 100));
	int64_t days;

	if (!as->has_volume || as->volume <= 0 || !as->frequency || dim <= 0)
		return false;
	last = ym * 100 + (uint32_t)dim;
	if (as->start > first)
		first = as->start;
	if (as->end && as->end < last)
		last = as->end;
	if (last < first)
		return false;
	days = keten_date_days(last) - keten_date_days(first) + 1;
	KETEN_ASSERT(days >= 1 && days <= dim);
	if (strcmp(as->frequency, "month") == 0) {
		*num = as->volume * days;
		*den = dim;
	} else if (strcmp(as->frequency, "week") == 0) {
		*num = as->volume * days;
		*den = 7;
	} else {
		return false;
	}
	return true;
}
