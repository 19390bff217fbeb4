/*
 * result.c — body rules and derived state of results and stops: the entry
 * that closes an allocation with its outcome and stop code (reden
 * beeindiging).  The lead provider or the allocating municipality closes
 * it, once; the other side may countersign the same result.  A closed
 * allocation is never reopened; the early-stop clawback (clawback.c,
 * kt_clawback_auto) reads its stop code.  Part of the money flow
 * (rules/flow.h): it moves no amounts itself.
 *
 * Stop code 20 (tijdelijk beeindigd) does not close: it pauses the
 * allocation from the day after its date until a Resume entry
 * (resume.c), and the allocation can still be closed with any code.  A
 * pause is kept as an event in the allocation's record (kt_pause_add);
 * the paused days follow from the set of events, so a pause received
 * from elsewhere is kept whatever its order against the resumes and the
 * close, and only a local pause is refused when the allocation is closed
 * or already paused.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/flow.h"
#include "base/base.h"

static int result_checks(const kt_apply *a, const Keten__Result *r, const Keten__State__AllocationState *as,
                         keten_error *err)
{
	bool muni = memcmp(as->author.data, a->e->author, 32) == 0;

	KETEN_ASSERT(as->provider.len == 32 && as->author.len == 32);
	if (memcmp(as->provider.data, a->e->author, 32) != 0 && !muni)
		return keten_refuse(err, "wrong-role",
		                    "only the lead provider (or the allocating municipality) closes an allocation");
	if (as->voided && a->local)
		return keten_refuse(err, "entry-void", "the allocation was voided");
	if (r->outcome < KETEN__OUTCOME__ACHIEVED || r->outcome > KETEN__OUTCOME__STOPPED)
		return keten_refuse(err, "invalid-outcome",
		                    "outcome %u is not achieved, partial, not-achieved or stopped", r->outcome);
	if (!r->stop_code || !kt_stop_label(as->domain, r->stop_code))
		return keten_refuse(err, "unknown-stop-code",
		                    "stop code '%s' is not in the %s list (reden beeindiging)",
		                    r->stop_code ? r->stop_code : "", as->domain ? as->domain : "");
	if (!keten_date_valid(r->date))
		return keten_refuse(err, "invalid-date", "result date is not a date");
	if (r->date < as->start)
		return keten_refuse(err, "date-outside-validity", "result date lies before the allocation starts");
	return KETEN_OK;
}

/*
 * A result on an allocation already closed.  The other side (lead provider
 * or municipality, whichever closed it first) may countersign the same
 * result once.  A different result from elsewhere is kept as a
 * disagreement; here, refused.
 */
static int result_on_closed(const kt_apply *a, const Keten__Result *r, Keten__State__AllocationState *as,
                            keten_error *err)
{
	bool same = as->outcome == r->outcome && as->stop_code && strcmp(as->stop_code, r->stop_code) == 0;
	bool other = as->closed_by.len == 32 && memcmp(as->closed_by.data, a->e->author, 32) != 0;

	KETEN_ASSERT(as->closed);
	if (same && other && !as->countersigned) {
		as->countersigned = as->has_countersigned = 1;
		return kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
	}
	if (!a->local && !same && other) {
		if (!kt_strs_has(as->findings, as->n_findings, "result-disagrees") &&
		    kt_strs_add(&as->findings, &as->n_findings, "result-disagrees"))
			return keten_fail(err, KETEN_ENOMEM, NULL);
		return kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
	}
	return keten_refuse(err, "allocation-closed", "the allocation is already closed; it is not reopened");
}

/* Has another party than `author` paused the allocation on `date`, and
 * `author` not?  Then a local pause of that day countersigns it. */
static bool countersigns_pause(const Keten__State__AllocationState *as, const uint8_t *author, uint32_t date)
{
	bool other = false;
	for (size_t i = 0; i < as->n_pauses; i++) {
		const Keten__State__AllocationPause *p = as->pauses[i];
		if (p->resume || p->date != date || p->author.len != 32)
			continue;
		if (memcmp(p->author.data, author, 32) == 0)
			return false;
		other = true;
	}
	return other;
}

/* Stop code 20: a pause from the day after r->date. */
static int result_pause(const kt_apply *a, const Keten__Result *r, Keten__State__AllocationState *as, keten_error *err)
{
	KETEN_ASSERT(kt_stop_is_pause(r->stop_code));
	if (a->local && as->closed)
		return keten_refuse(err, "allocation-closed",
		                    "the allocation is closed; a closed allocation is not paused");
	if (a->local && kt_paused(as, NULL) && !countersigns_pause(as, a->e->author, r->date))
		return keten_refuse(err, "already-paused", "the allocation is paused already: 'keten resume' it first");
	if (a->local && r->date < kt_pause_last(as))
		return keten_refuse(err, "invalid-date", "the pause date lies before the allocation's last resume");
	if (kt_pause_add(as, a->e->id, a->e->author, r->date, false))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	return kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
}

static int result_close(const kt_apply *a, const Keten__Result *r, Keten__State__AllocationState *as, keten_error *err)
{
	KETEN_ASSERT(!as->closed && r->stop_code);
	if (a->local && r->date < kt_pause_last(as))
		return keten_refuse(err, "invalid-date",
		                    "the close date lies before the allocation's last pause or resume");
	if (kt_set_bytes(&as->closed_by, a->e->author, 32))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	as->has_closed_by = 1;
	as->closed = as->has_closed = 1;
	as->outcome = r->outcome;
	as->has_outcome = as->has_close_date = as->has_result = 1;
	free(as->stop_code);
	as->stop_code = strdup(r->stop_code);
	as->close_date = r->date;
	if (!as->stop_code || kt_set_bytes(&as->result, a->e->id, 32))
		return keten_fail(err, KETEN_ENOMEM, NULL);
	return kt_state_put(a->txn, DK_ALLOCATION, as->id.data, as, err);
}

int kt_rule_result(kt_apply *a, keten_error *err)
{
	Keten__Result *r = keten__result__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__AllocationState *as = NULL;
	uint32_t type;
	int rc;

	if (!r)
		return keten_refuse(err, "malformed-body", "result body does not decode");
	if ((rc = kt_ref(a, r->allocation.data, r->allocation.len, KT_ALLOC_BIT, &type, err)))
		goto out;
	if ((rc = kt_load_allocation(a->txn, r->allocation.data, &as, err)))
		goto out;
	if ((rc = result_checks(a, r, as, err)))
		goto out;
	if (kt_stop_is_pause(r->stop_code))
		rc = result_pause(a, r, as, err);
	else
		rc = as->closed ? result_on_closed(a, r, as, err) : result_close(a, r, as, err);
	KETEN_ASSERT(rc != 0 || as->closed || kt_stop_is_pause(r->stop_code));
out:
	kt_state_free(as);
	keten__result__free_unpacked(r, NULL);
	return rc;
}
