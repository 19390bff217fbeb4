/*
 * volume.h — (internal) units and volumes: the WJ756 unit words (eenheid),
 * an allocation's volume (omvang: volume, unit, frequency) and how a
 * month's deliveries compare with it.  The rules (contract.c for
 * allocations and components, offer.c for offers and deliveries) check
 * with it; reconcile (query/recon_volume.c) compares deliveries with it.
 */
#ifndef KETEN_RULES_VOLUME_H
#define KETEN_RULES_VOLUME_H

#include <stdbool.h>
#include <stdint.h>

#include "rules/rules.h"

/* A word of the old list (day, week, month, piece) that entries signed
 * before WJ756 words were required may carry. */
bool kt_unit_legacy(const char *u);

/* The WJ756 code of a unit word ("04" for hour), or NULL. */
const char *kt_unit_code(const char *u);

/*
 * A unit named in `field` of the entry being applied: a WJ756 word; an
 * old word only in an entry received from elsewhere, or when it is the
 * very unit the signed agreement names (signed_unit, NULL: none).
 * Refused "invalid-unit" (with the WJ756 words as a hint) otherwise.
 */
int kt_unit_check(const kt_apply *a, const char *field, const char *u, const char *signed_unit, keten_error *err);

/*
 * An allocation's volume: when given, a positive volume with a unit and a
 * frequency (week, month, total); required for a Wmo arrangement
 * ("wmo-needs-volume", local entries: received ones signed before keep
 * applying); a component's volume is in the component's unit, and without
 * one its units are its volume (frequency total).  Fills the volume
 * fields of as (pointing into al and k).
 */
int kt_volume_check(const kt_apply *a, const Keten__Allocation *al, const Keten__Component *k,
                    Keten__State__AllocationState *as, keten_error *err);

/*
 * The unit of a delivery on (a subcontract of) allocation as: the
 * allocation's volume unit when it has one (the component's unit for a
 * component), hours on a Wmo allocation in hours ("wmo-needs-hours"),
 * else "unit-not-allocated".  Received deliveries are held to it when the
 * allocation's volume is signed; a Wmo allocation without a volume (signed
 * before volumes) asks hours as before.
 */
int kt_delivery_unit(const kt_apply *a, const Keten__State__AllocationState *as, const char *unit, keten_error *err);

/*
 * What the volume allows in month ym (YYYYMM), as the fraction *num / *den
 * of hundredths of the volume unit: for frequency "month" the volume for
 * the days of the month inside [start, end] (volume x days / days in the
 * month), for "week" volume x days / 7.  false for "total" (judged over
 * the whole allocation), without a volume, or for a month outside it.
 */
bool kt_volume_month(const Keten__State__AllocationState *as, uint32_t ym, int64_t *num, int64_t *den);

#endif
