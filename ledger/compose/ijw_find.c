/*
 * ijw_find.c — what an iJw message names, found in this node's state
 * (see compose/ijw.h): the lead provider by its AGB code, the contract
 * line that maps a product (the tariff table's ijw_category and
 * ijw_code), the allocations that carry a ToewijzingNummer, and a claim
 * by its prestatie reference.  Lookups read through the job's read
 * transaction; decoded contract bodies are kept by the job, since the
 * drafts point into them.
 */
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/ijw.h"
#include "base/base.h"
#include "rules/terms.h"

/* The lead provider --------------------------------------------------------------------- */

struct provider_find {
	const char *agb;
	uint8_t key[32];
	int found;
};

static int provider_cb(const keten_party_view *p, void *ctx)
{
	struct provider_find *f = ctx;
	if (!p->agb || strcmp(p->agb, f->agb) != 0 || strcmp(p->status, "valid") != 0 ||
	    !strstr(p->roles, "lead-provider"))
		return 0;
	if (f->found++ == 0)
		memcpy(f->key, p->key, 32);
	return 0;
}

int kt_ijw_provider(kt_ijw_job *j, const char *agb, uint8_t key[32], keten_error *err)
{
	struct provider_find f = {.agb = agb};
	int rc = keten_party_each(j->t, provider_cb, &f, err);

	if (rc)
		return rc;
	if (f.found == 0)
		return keten_fail(err, KETEN_ENOTFOUND,
		                  "AGB code %s is the code of no certified lead provider known here", agb);
	if (f.found > 1)
		return keten_fail(err, KETEN_EAMBIGUOUS, "AGB code %s is the code of %d certified lead providers", agb,
		                  f.found);
	memcpy(key, f.key, 32);
	return KETEN_OK;
}

/* Contracts and their product mapping ------------------------------------------------------- */

/* The contract's body, decoded once per job. */
static const Keten__FrameworkContract *body_of(kt_ijw_job *j, const uint8_t id[32])
{
	Keten__FrameworkContract *fc = NULL, **fcs;
	uint8_t(*ids)[32];

	for (size_t i = 0; i < j->n_fcs; i++)
		if (memcmp(j->fc_ids[i], id, 32) == 0)
			return j->fcs[i];
	if (kt_contract_body(j->t, id, &fc, NULL))
		return NULL;
	fcs = realloc(j->fcs, (j->n_fcs + 1) * sizeof *fcs);
	if (fcs)
		j->fcs = fcs;
	ids = fcs ? realloc(j->fc_ids, (j->n_fcs + 1) * sizeof *ids) : NULL;
	if (!ids) {
		keten__framework_contract__free_unpacked(fc, NULL);
		return NULL;
	}
	j->fc_ids = ids;
	j->fcs[j->n_fcs] = fc;
	memcpy(j->fc_ids[j->n_fcs++], id, 32);
	return fc;
}

static bool same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The line of fc that maps (category, code), into l (tariff or component). */
static bool line_of(const Keten__FrameworkContract *fc, const char *category, const char *code, kt_ijw_line *l)
{
	l->tariff = NULL;
	l->component = NULL;
	for (size_t i = 0; i < fc->n_tariffs; i++)
		if (same(fc->tariffs[i]->ijw_category, category) && same(fc->tariffs[i]->ijw_code, code))
			l->tariff = fc->tariffs[i];
	for (size_t i = 0; !l->tariff && i < fc->n_components; i++)
		if (same(fc->components[i]->ijw_category, category) && same(fc->components[i]->ijw_code, code))
			l->component = fc->components[i];
	return l->tariff || l->component;
}

struct mapping_find {
	kt_ijw_job *j;
	const char *cbs, *category, *code;
	uint32_t date;
	int found;
	kt_ijw_line line;
	char refs[160];
};

static int mapping_cb(const keten_contract_view *v, void *ctx)
{
	struct mapping_find *f = ctx;
	const Keten__FrameworkContract *fc;
	kt_ijw_line l;
	bool covers = false;

	if (!v->has_body || strcmp(v->domain, f->j->m->domain) != 0 || (v->valid_from && f->date < v->valid_from) ||
	    (v->valid_until && f->date > v->valid_until))
		return 0;
	for (size_t i = 0; i < v->n_municipalities; i++)
		covers = covers || strcmp(v->municipalities[i], f->cbs) == 0;
	if (!covers || !(fc = body_of(f->j, v->id)) || !line_of(fc, f->category, f->code, &l))
		return 0;
	memcpy(l.contract, v->id, 32);
	l.fc = fc;
	if (f->found++ == 0)
		f->line = l;
	size_t k = strlen(f->refs);
	snprintf(f->refs + k, sizeof f->refs - k, "%s'%s'", k ? ", " : "", v->ref);
	return 0;
}

int kt_ijw_mapping(kt_ijw_job *j, const char *cbs, uint32_t date, const char *category, const char *code,
                   kt_ijw_line *out, keten_error *err)
{
	struct mapping_find f = {.j = j, .cbs = cbs, .category = category, .code = code, .date = date};
	char d[16];
	int rc = keten_contract_each(j->t, mapping_cb, &f, err);

	memset(out, 0, sizeof *out);
	if (rc)
		return rc;
	keten_format_date(d, sizeof d, date);
	if (f.found == 0)
		return keten_fail(
			err, KETEN_ENOTFOUND,
			"Product %s/%s maps to no arrangement of a %s contract of municipality %s valid on %s "
			"(the tariff table's ijw_category and ijw_code)",
			category, code, j->m->domain, cbs, d);
	if (f.found > 1)
		return keten_fail(err, KETEN_EAMBIGUOUS, "Product %s/%s maps to arrangements of %d contracts (%s)",
		                  category, code, f.found, f.refs);
	*out = f.line;
	return KETEN_OK;
}

bool kt_ijw_maps_to(kt_ijw_job *j, const Keten__State__AllocationState *as, const char *category, const char *code)
{
	const Keten__FrameworkContract *fc = as->contract.len == 32 ? body_of(j, as->contract.data) : NULL;
	kt_ijw_line l;

	if (!fc || !line_of(fc, category, code, &l))
		return false;
	if (l.component)
		return as->kind == KETEN__KIND__COMPONENT && same(l.component->code, as->component);
	return as->kind == l.tariff->kind && same(l.tariff->profile, as->profile) &&
		same(l.tariff->intensity, as->intensity);
}

/* Allocations by number --------------------------------------------------------------------- */

int kt_ijw_allocation(kt_ijw_job *j, const uint8_t id[32], Keten__State__AllocationState **as, keten_error *err)
{
	return kt_state_get(j->t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, (void **)as, err);
}

struct number_find {
	kt_ijw_job *j;
	bool municipality;
	size_t plen;
	uint8_t (*ids)[32];
	size_t max, n;
};

static int number_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct number_find *f = p;
	const uint8_t *me = f->j->info->key;
	Keten__State__AllocationState *as = NULL;
	bool mine;

	if (kl != f->plen + 32 || kt_ijw_allocation(f->j, k + f->plen, &as, NULL) != KETEN_OK)
		return 0;
	mine = f->municipality ? as->author.len == 32 && memcmp(as->author.data, me, 32) == 0
			       : as->provider.len == 32 && memcmp(as->provider.data, me, 32) == 0;
	if (mine && f->n < f->max)
		memcpy(f->ids[f->n], k + f->plen, 32);
	f->n += mine;
	kt_state_free(as);
	return 0;
}

int kt_ijw_by_number(kt_ijw_job *j, const char *cbs, const char *number, bool as_municipality, uint8_t (*ids)[32],
                     size_t max, size_t *n, keten_error *err)
{
	struct number_find f = {.j = j, .municipality = as_municipality, .ids = ids, .max = max};
	uint8_t k[200];
	int len, rc;

	/* the allocation rule's index of numbers: CBS || 0 || domain || 0 || number || 0 || allocation */
	*n = 0;
	k[0] = DX_ALLOC_NUMBER;
	len = snprintf((char *)k + 1, sizeof k - 1, "%s%c%s%c%s%c", cbs, 0, j->m->domain, 0, number, 0);
	if (len <= 0 || (size_t)len >= sizeof k - 1)
		return keten_fail(err, KETEN_EINVAL, "an allocation number too long to look up");
	f.plen = (size_t)len + 1;
	rc = kt_kv_scan(j->t, KT_INDEX, k, f.plen, number_cb, &f, err);
	*n = f.n;
	return rc;
}

/* Claims by reference ------------------------------------------------------------------------ */

struct claim_find {
	const uint8_t *me;
	const char *reference;
	int found;
	uint8_t id[32];
	int64_t amount;
};

static int claim_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct claim_find *f = p;
	Keten__State__ClaimState *cs;
	const char *slash;

	if (kl != 33 || k[0] != DK_CLAIM || !(cs = keten__state__claim_state__unpack(NULL, vl, v)))
		return 0;
	slash = cs->number ? strrchr(cs->number, '/') : NULL;
	if (!cs->voided && slash && strcmp(slash + 1, f->reference) == 0 && cs->author.len == 32 &&
	    memcmp(cs->author.data, f->me, 32) == 0 && f->found++ == 0) {
		memcpy(f->id, k + 1, 32);
		f->amount = cs->amount_cents;
	}
	kt_state_free(cs);
	return 0;
}

/* The party index holds a copy of each claim record. */
static int party_claim_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	return kl == 66 ? claim_cb(k + 33, 33, v, vl, p) : 0;
}

int kt_ijw_claim_by_reference(kt_ijw_job *j, const char *reference, uint8_t id[32], int64_t *amount_cents,
                              keten_error *err)
{
	struct claim_find f = {.me = j->info->key, .reference = reference};
	uint8_t pre[34], kind = DK_CLAIM;
	int rc;

	pre[0] = DX_PARTY;
	memcpy(pre + 1, j->info->key, 32);
	pre[33] = DK_CLAIM;
	if (kt_state_indexed(j->t))
		rc = kt_kv_scan(j->t, KT_INDEX, pre, sizeof pre, party_claim_cb, &f, err);
	else
		rc = kt_kv_scan(j->t, KT_STATE, &kind, 1, claim_cb, &f, err);
	if (rc)
		return rc;
	if (!f.found)
		return keten_fail(err, KETEN_ENOTFOUND, "no live claim of this home carries ReferentieNummer '%s'",
		                  reference);
	memcpy(id, f.id, 32);
	*amount_cents = f.amount;
	return KETEN_OK;
}
