/*
 * json_alloc.c — keten_json_allocation_state (keten/json.h): the derived
 * record of an allocation as `keten show` prints it under "state", so that
 * what the rules made of it (a close by a result or by a change, what a
 * change carried over, its volume, its marks) can be read beside the
 * signed body.
 */
#include <stdlib.h>
#include <string.h>

#include "keten/json.h"
#include "rules/change.h"
#include "state/state.h"

/* A change: what it replaces or what replaced it, and what carried over. */
static void change_json(json_t *o, const Keten__State__AllocationState *as)
{
	if (as->replaced_by.len == 32)
		json_object_set_new(o, "replaced_by", keten_json_hex(as->replaced_by.data, 32));
	if (as->replaces.len == 32) {
		json_object_set_new(o, "replaces", keten_json_hex(as->replaces.data, 32));
		json_object_set_new(o, "carried_cents", json_integer(as->carried_cents));
		json_object_set_new(o, "owed_back_cents", json_integer(as->owed_back_cents));
		if (as->kind == KETEN__KIND__HERSTEL)
			json_object_set_new(o, "upfront_due_cents",
			                    json_integer(kt_upfront_due(as->amount_cents, as->carried_cents)));
	}
	if (as->change_reason && (as->replaces.len == 32 || as->replaced_by.len == 32))
		json_object_set_new(o, "change_reason", json_string(as->change_reason));
}

json_t *keten_json_allocation_state(keten_txn *t, const uint8_t id[32])
{
	Keten__State__AllocationState *as = NULL;
	json_t *o, *f;

	if (!t || !id ||
	    kt_state_get(t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, (void **)&as, NULL))
		return NULL;
	o = json_object();
	f = json_array();
	json_object_set_new(o, "closed", json_boolean(as->closed));
	if (as->closed) {
		if (as->stop_code)
			json_object_set_new(o, "stop_code", json_string(as->stop_code));
		json_object_set_new(o, "close_date", keten_json_date(as->close_date));
		if (as->outcome)
			json_object_set_new(o, "outcome", json_integer(as->outcome));
	}
	change_json(o, as);
	if (as->has_volume && as->volume_unit) {
		json_object_set_new(o, "volume", json_integer(as->volume));
		json_object_set_new(o, "volume_unit", json_string(as->volume_unit));
		json_object_set_new(o, "frequency", json_string(as->frequency ? as->frequency : ""));
	}
	json_object_set_new(o, "claimed_cents", json_integer(as->claimed_cents));
	json_object_set_new(o, "paid_cents", json_integer(as->paid_cents));
	json_object_set_new(o, "upfront_paid_cents", json_integer(as->upfront_paid_cents));
	for (size_t i = 0; i < as->n_findings; i++)
		json_array_append_new(f, json_string(as->findings[i]));
	json_object_set_new(o, "findings", f);
	kt_state_free(as);
	return o;
}
