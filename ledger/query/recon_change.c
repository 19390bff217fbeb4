/*
 * recon_change.c — the findings of reconciliation about changes and
 * numbers of allocations (see recon.h), from the marks the allocation
 * rule (rules/contract.c, rules/change.c) left on the record, each with
 * the entries that prove it:
 *
 *   allocation-after-close       the allocation, the one closed right
 *                                before it and that one's result;
 *   replacement-outside-window   the replacement and what it replaced;
 *   duplicate-allocation-number  the allocation and the others with its
 *                                number in the municipality.
 */
#include <stdio.h>
#include <string.h>

#include "query/recon.h"
#include "rules/change.h"
#include "base/base.h"

#define MAX_IDS 9

struct client_find {
	struct recon_ctx *x;
	const Keten__State__AllocationState *as;
	size_t plen;
	const uint8_t *ids[MAX_IDS];
	uint8_t buf[MAX_IDS][32];
	size_t n;
};

/* An allocation of the client closed by a result right before as starts. */
static int closed_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct client_find *f = p;
	const Keten__State__AllocationState *as = f->as;
	Keten__State__AllocationState *o = NULL;

	if (kl != f->plen + 32 || f->n + 2 > MAX_IDS || memcmp(k + f->plen, as->id.data, 32) == 0 ||
	    kt_state_get(f->x->t, DK_ALLOCATION, k + f->plen, &keten__state__allocation_state__descriptor, (void **)&o,
	                 NULL))
		return 0;
	if (!o->voided && o->closed && !kt_replaced(o) && o->result.len == 32 && o->profile && as->profile &&
	    strcmp(o->profile, as->profile) == 0 && o->close_date && o->close_date <= as->start &&
	    keten_date_days(as->start) - keten_date_days(o->close_date) <= KT_AFTER_CLOSE_DAYS) {
		memcpy(f->buf[f->n], o->id.data, 32);
		f->ids[f->n] = f->buf[f->n];
		f->n++;
		memcpy(f->buf[f->n], o->result.data, 32);
		f->ids[f->n] = f->buf[f->n];
		f->n++;
	}
	kt_state_free(o);
	return 0;
}

static int after_close(struct recon_ctx *x, const struct subj *s)
{
	const Keten__State__AllocationState *as = s->as;
	struct client_find f = {.x = x, .as = as, .n = 1};
	uint8_t pre[80];
	size_t n = as->client_ref ? strlen(as->client_ref) : 0;
	char d[160], day[11];

	if (!n || n + 2 > sizeof pre || as->start > x->as_of)
		return 0;
	f.ids[0] = as->id.data;
	pre[0] = DX_CLIENT;
	memcpy(pre + 1, as->client_ref, n);
	pre[n + 1] = 0;
	f.plen = n + 2;
	kt_kv_scan(x->t, KT_INDEX, pre, f.plen, closed_cb, &f, NULL);
	keten_format_date(day, sizeof day, as->start);
	snprintf(d, sizeof d, "%s for client %s starts on %s, right after one was closed, without --replaces",
	         as->profile ? as->profile : "-", as->client_ref, day);
	return kt_recon_add(x, "allocation-after-close", as->id.data, s->l.payer, s->l.payee, as->amount_cents, f.ids,
	                    f.n, d);
}

static int outside_window(struct recon_ctx *x, const struct subj *s)
{
	const Keten__State__AllocationState *as = s->as;
	Keten__State__AllocationState *o = NULL;
	Keten__State__ContractState *cs;
	Keten__FrameworkContract *fc;
	const uint8_t *ids[2] = {as->id.data, bin(&as->replaces)};
	char d[160];
	int rc;

	if (as->replaces.len != 32 ||
	    kt_state_get(x->t, DK_ALLOCATION, as->replaces.data, &keten__state__allocation_state__descriptor,
	                 (void **)&o, NULL))
		return 0;
	kt_recon_contract(x, &o->contract, &cs, &fc);
	snprintf(d, sizeof d, "replaced %lld days after the start of what it replaces (%s/%s); the window is %u days",
	         (long long)(keten_date_days(as->start) - keten_date_days(o->start)), o->profile ? o->profile : "-",
	         o->intensity ? o->intensity : "-", kt_change_window(fc, o->intensity));
	rc = kt_recon_add(x, "replacement-outside-window", as->id.data, s->l.payer, s->l.payee, as->amount_cents, ids,
	                  2, d);
	kt_state_free(o);
	return rc;
}

/* The allocation number of allocation id, read from its body (NULL: none); free with the entry. */
static char *number_of(keten_txn *t, const uint8_t id[32], Keten__Allocation **al)
{
	keten_entry e;
	*al = NULL;
	if (keten_store_get_entry(t, id, &e, NULL))
		return NULL;
	if (e.has_body)
		*al = keten__allocation__unpack(NULL, e.body_len, e.body);
	keten_entry_release(&e);
	return *al && (*al)->number && (*al)->number[0] ? (*al)->number : NULL;
}

struct number_find {
	const uint8_t *ids[MAX_IDS];
	uint8_t buf[MAX_IDS][32];
	size_t n, plen;
};

static int number_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct number_find *f = p;
	if (kl != f->plen + 32 || f->n == MAX_IDS || memcmp(k + f->plen, f->ids[0], 32) == 0)
		return 0;
	memcpy(f->buf[f->n], k + f->plen, 32);
	f->ids[f->n] = f->buf[f->n];
	f->n++;
	return 0;
}

static int duplicate_number(struct recon_ctx *x, const struct subj *s)
{
	const Keten__State__AllocationState *as = s->as;
	struct number_find f = {.ids = {as->id.data}, .n = 1};
	Keten__Allocation *al;
	const char *nr = number_of(x->t, as->id.data, &al);
	uint8_t k[200];
	char d[160];
	int n, rc;

	if (!nr) {
		if (al)
			keten__allocation__free_unpacked(al, NULL);
		return 0;
	}
	n = snprintf((char *)k + 1, sizeof k - 1, "%s%c%s%c%s", al->municipality, 0, al->domain, 0, nr);
	if (n > 0 && (size_t)n + 2 < sizeof k) {
		k[0] = DX_ALLOC_NUMBER;
		f.plen = (size_t)n + 2;
		kt_kv_scan(x->t, KT_INDEX, k, f.plen, number_cb, &f, NULL);
	}
	snprintf(d, sizeof d, "allocation number '%.40s' of municipality %s (%s) is used by another allocation", nr,
	         al->municipality, al->domain);
	rc = kt_recon_add(x, "duplicate-allocation-number", as->id.data, s->l.payer, s->l.payee, as->amount_cents,
	                  f.ids, f.n, d);
	keten__allocation__free_unpacked(al, NULL);
	return rc;
}

bool kt_recon_change_mark(struct recon_ctx *x, const struct subj *s, const char *mark, int *rc)
{
	if (strcmp(mark, "allocation-after-close") == 0)
		*rc = after_close(x, s);
	else if (strcmp(mark, "replacement-outside-window") == 0)
		*rc = outside_window(x, s);
	else if (strcmp(mark, "duplicate-allocation-number") == 0)
		*rc = duplicate_number(x, s);
	else
		return false;
	return true;
}
