/*
 * resume.c — body rules of a resume (hervatting): the end of a pause
 * that a result with stop code 20 (tijdelijk beeindigd, result.c) began.
 * The lead provider or the allocating municipality resumes, as either
 * closes; the resume's date is the first day of care again.  It is kept
 * as an event beside the pauses in the allocation's record
 * (kt_pause_add), from which the paused days follow (rules/terms.h:
 * kt_pause_spans): a resume received from elsewhere is kept whatever the
 * order it arrives in against the pause it ends, and only a local resume
 * is refused when the allocation is closed or not paused.  Part of the
 * money flow (rules/flow.h): it moves no amounts itself.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/flow.h"
#include "base/base.h"

static int resume_checks(const kt_apply *a, const Keten__Resume *r, const Keten__State__AllocationState *as,
                         keten_error *err)
{
	uint32_t since = 0;

	KETEN_ASSERT(as->provider.len == 32 && as->author.len == 32);
	if (memcmp(as->provider.data, a->e->author, 32) != 0 && memcmp(as->author.data, a->e->author, 32) != 0)
		return keten_refuse(err, "wrong-role",
		                    "only the lead provider (or the allocating municipality) resumes an allocation");
	if (as->voided && a->local)
		return keten_refuse(err, "entry-void", "the allocation was voided");
	if (!keten_date_valid(r->date))
		return keten_refuse(err, "invalid-date", "resume date is not a date");
	if (!a->local)
		return KETEN_OK;
	if (as->closed)
		return keten_refuse(err, "allocation-closed", "the allocation is closed; it is not resumed");
	if (!kt_paused(as, &since))
		return keten_refuse(err, "not-paused", "the allocation is not paused (stop code 20)");
	if (r->date <= since)
		return keten_refuse(err, "invalid-date", "the resume date lies on or before the pause date");
	return KETEN_OK;
}

int kt_rule_resume(kt_apply *a, keten_error *err)
{
	Keten__Resume *r = keten__resume__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__AllocationState *as = NULL;
	uint32_t type;
	int rc;

	if (!r)
		return keten_refuse(err, "malformed-body", "resume body does not decode");
	if ((rc = kt_ref(a, r->allocation.data, r->allocation.len, KT_ALLOC_BIT, &type, err)) ||
	    (rc = kt_load_allocation(a->txn, r->allocation.data, &as, err)) || (rc = resume_checks(a, r, as, err)))
		goto out;
	if (kt_pause_add(as, a->e->id, a->e->author, r->date, true)) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	rc = kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
	KETEN_ASSERT(rc != 0 || as->n_pauses > 0);
out:
	kt_state_free(as);
	keten__resume__free_unpacked(r, NULL);
	return rc;
}
