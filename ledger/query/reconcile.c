/*
 * reconcile.c — reconciliation from derived state (see keten/reconcile.h).
 *
 * One read transaction, a handful of prefix scans (allocations, offers,
 * deliveries, claims, payments, clawbacks) and point lookups for
 * contracts and indices (and for the receipts of payment records written
 * before they carried their receipt's date); nothing walks the entries
 * themselves except to read a payment's bank reference for --bank.
 * With --with, and for a provider's own view, the scans read the copies
 * of one party's records under 'P' || party || kind in the index table
 * (kept by kt_state_put), so the work is linear in that party's records; a
 * municipality's whole view scans the `state` table.  The scans build
 * in-memory maps from entry id to record (open addressing on the first
 * bytes of the BLAKE2b id, which are uniform).  Findings are computed
 * here from the records; the soft-rule marks that the body handlers
 * leave on the records (offers, allocations, claims, payments) are read
 * too and mapped onto the stable kinds, so a finding is reported once
 * whichever side spotted it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/terms.h"
#include "rules/dispute.h"
#include "keten/camt.h"
#include "keten/reconcile.h"
#include "base/base.h"

/* Kinds ------------------------------------------------------------------ */

static const char *const kinds[] = {
	"payment-unconfirmed",
	"receipt-mismatch",
	"overdue",
	"paid-late",
	"claim-above-agreed",
	"over-allocation",
	"above-framework-tariff",
	"tariff-differs-from-framework",
	"margin-above-maximum",
	"final-without-result",
	"stop-without-clawback",
	"rijgen",
	"open-dispute",
	"bank-only",
	"ledger-only",
	"bank-amount-differs",
	"bank-duplicate",
	"bank-balance-mismatch",
};

static const char *const meanings[] = {
	"a payment was recorded by the payer but the payee has not confirmed receipt",
	"the payee confirmed a different amount than the payer paid, or that nothing arrived",
	"a claim is (partly) unpaid past its payment term",
	"a claim was paid after its payment term",
	"a claim asks more than the allocation or subcontract agreed",
	"the subcontracted total exceeds the allocation amount",
	"a subcontract price is above the framework tariff (contract rule: maximum)",
	"a subcontract price differs from the framework tariff (contract rule: fixed)",
	"the lead provider keeps a larger share than the contract's maximum margin",
	"the final part was paid but no result entry closes the allocation",
	"a trajectory stopped early after the up-front part was paid, without a clawback",
	"the same herstel arrangement was allocated to the same client back to back",
	"a dispute over entries is not yet ruled",
	"a bank statement line has no payment entry",
	"a payment entry has no line on the bank statement",
	"a bank line matched a payment by reference but the amounts differ (partial payment)",
	"a payment appears twice on the bank statement",
	"the statement's opening balance plus its bookings does not give its closing balance",
};

const char *const *keten_recon_kinds(size_t *n)
{
	if (n)
		*n = sizeof kinds / sizeof *kinds;
	return kinds;
}

const char *keten_recon_kind_meaning(const char *kind)
{
	for (size_t i = 0; kind && i < sizeof kinds / sizeof *kinds; i++)
		if (strcmp(kinds[i], kind) == 0)
			return meanings[i];
	return "";
}

static size_t kind_rank(const char *kind)
{
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (strcmp(kinds[i], kind) == 0)
			return i;
	return sizeof kinds / sizeof *kinds;
}

/* The stable kind of a mark left on a state record by a body handler;
 * NULL when reconcile computes that kind itself (so it is not doubled). */
static const char *mark_kind(const char *mark)
{
	static const struct {
		const char *mark, *kind;
	} alias[] = {
		{"over-allocation", "over-allocation"},
		{"above-framework-tariff", "above-framework-tariff"},
		{"differs-from-framework-tariff", "tariff-differs-from-framework"},
		{"tariff-differs-from-framework", "tariff-differs-from-framework"},
		{"margin-above-max", "margin-above-maximum"},
		{"margin-above-maximum", "margin-above-maximum"},
	};
	static const char *const computed[] = {
		"rijgen",
		"claim-above-agreed",
		"claims-above-agreed",
		"above-agreed",
		"overdue",
		"paid-late",
		"late-payment",
		"payment-late",
		"receipt-mismatch",
		"payment-unconfirmed",
		"payment-without-receipt",
		"final-without-result",
		"stop-without-clawback",
	};
	for (size_t i = 0; i < sizeof alias / sizeof *alias; i++)
		if (strcmp(alias[i].mark, mark) == 0)
			return alias[i].kind;
	for (size_t i = 0; i < sizeof computed / sizeof *computed; i++)
		if (strcmp(computed[i], mark) == 0)
			return NULL;
	return mark;
}

/* Periods ---------------------------------------------------------------- */

int keten_recon_period(const char *s, uint32_t *from, uint32_t *until)
{
	unsigned y = 0, m = 0, q = 0;
	char tail;

	if (!s)
		return -1;
	if (strlen(s) == 4 && sscanf(s, "%4u%c", &y, &tail) == 1 && y >= 1900 && y <= 2999) {
		*from = y * 10000 + 101;
		*until = y * 10000 + 1231;
		return 0;
	}
	if (strlen(s) == 7 && (s[5] == 'Q' || s[5] == 'q') && s[4] == '-' &&
	    sscanf(s, "%4u-%*c%1u%c", &y, &q, &tail) == 2 && y >= 1900 && y <= 2999 && q >= 1 && q <= 4) {
		*from = y * 10000 + (q * 3 - 2) * 100 + 1;
		*until = y * 10000 + q * 3 * 100 + (uint32_t)keten_days_in_month((int)y, (int)q * 3);
		return 0;
	}
	{
		uint32_t ym;
		if (keten_parse_period(s, &ym) == 0) {
			y = ym / 100;
			m = ym % 100;
			*from = ym * 100 + 1;
			*until = ym * 100 + (uint32_t)keten_days_in_month((int)y, (int)m);
			return 0;
		}
	}
	return -1;
}

/* An id -> index map ------------------------------------------------------ */

struct idmap {
	size_t cap, n;
	uint8_t (*k)[32];
	size_t *v;
	bool *used;
};

static uint64_t id_hash(const uint8_t id[32])
{
	uint64_t h;
	memcpy(&h, id, 8);
	return h;
}

static size_t idmap_get(const struct idmap *m, const uint8_t id[32])
{
	if (!m->cap)
		return SIZE_MAX;
	for (size_t i = id_hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->used[i])
			return SIZE_MAX;
		if (memcmp(m->k[i], id, 32) == 0)
			return m->v[i];
	}
}

static int idmap_put(struct idmap *m, const uint8_t id[32], size_t v)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct idmap g = {.cap = m->cap ? m->cap * 2 : 64};
		g.k = malloc(g.cap * sizeof *g.k);
		g.v = malloc(g.cap * sizeof *g.v);
		g.used = calloc(g.cap, sizeof *g.used);
		if (!g.k || !g.v || !g.used) {
			free(g.k);
			free(g.v);
			free(g.used);
			return -1;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->used[i])
				idmap_put(&g, m->k[i], m->v[i]);
		free(m->k);
		free(m->v);
		free(m->used);
		*m = g;
	}
	for (size_t i = id_hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->used[i]) {
			m->used[i] = true;
			memcpy(m->k[i], id, 32);
			m->v[i] = v;
			m->n++;
			return 0;
		}
		if (memcmp(m->k[i], id, 32) == 0) {
			m->v[i] = v;
			return 0;
		}
	}
}

static void idmap_free(struct idmap *m)
{
	free(m->k);
	free(m->v);
	free(m->used);
	memset(m, 0, sizeof *m);
}

/* Growable arrays. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, c * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = c;
	return 0;
}

/* Context ------------------------------------------------------------------ */

struct subj {
	Keten__State__AllocationState *as; /* one of the two */
	Keten__State__OfferState *os;
	uint32_t term; /* payment term in days */
	bool line;     /* shown as a line (accepted offer, live allocation) */
	bool above;    /* a claim-above-agreed finding was made for one of its claims */
	keten_recon_line l;
};

struct claim {
	Keten__State__ClaimState *cs;
	size_t subj;
	int64_t paid;
	uint32_t due;
	uint32_t last_paid;
	size_t n_pay;
	uint8_t (*pay)[32];
};

struct pay {
	Keten__State__PaymentState *ps;
	bool receipt_known; /* a receipt dated by as_of */
	bool received;
	int64_t received_cents;
};

struct ctx {
	keten_txn *t;
	const keten_recon_opts *o;
	uint32_t as_of;
	bool as_of_given;
	/* who I am */
	uint32_t roles;
	bool authority;
	char **munis;
	size_t n_munis;
	/* records */
	struct subj *s;
	size_t n_s, cap_s;
	struct idmap s_map;
	struct idmap scope;   /* every allocation in this home's view, before --with */
	struct idmap noscope; /* allocations looked up and found outside it */
	const uint8_t *via;   /* read only the records indexed under this party; NULL: scan all */
	struct claim *c;
	size_t n_c, cap_c;
	struct idmap c_map;
	struct pay *p;
	size_t n_p, cap_p;
	struct idmap clawed;    /* allocation -> 1: a clawback exists */
	struct idmap contracts; /* contract id -> index into cstate */
	Keten__State__ContractState **cstate;
	Keten__FrameworkContract **cbody;
	size_t n_cstate, cap_cstate;
	/* out */
	keten_recon *r;
	size_t cap_f, cap_k, cap_l;
	bool all_parties;    /* the caller filtered by party already */
	struct idmap f_seen; /* (kind rank, first id) hash -> 1 */
	int rc;
	keten_error *err;
};

static bool is_me(const struct ctx *x, const ProtobufCBinaryData *k)
{
	return k->len == 32 && memcmp(k->data, x->o->me, 32) == 0;
}

static bool key_is(const ProtobufCBinaryData *k, const uint8_t *key)
{
	return key && k->len == 32 && memcmp(k->data, key, 32) == 0;
}

static void copy_key(uint8_t out[32], const ProtobufCBinaryData *k)
{
	if (k->len == 32)
		memcpy(out, k->data, 32);
	else
		memset(out, 0, 32);
}

static bool in_period(const struct ctx *x, uint32_t date)
{
	return (!x->o->from || date >= x->o->from) && (!x->o->until || date <= x->o->until) && date <= x->as_of;
}

/* The contract state and body (body may be NULL when not held here). */
static void contract_of(struct ctx *x, const ProtobufCBinaryData *id, Keten__State__ContractState **cs,
                        Keten__FrameworkContract **fc)
{
	size_t i;
	*cs = NULL;
	*fc = NULL;
	if (id->len != 32)
		return;
	i = idmap_get(&x->contracts, id->data);
	if (i == SIZE_MAX) {
		Keten__State__ContractState *st = NULL;
		Keten__FrameworkContract *b = NULL;
		if (grow((void **)&x->cstate, &x->cap_cstate, x->n_cstate, sizeof *x->cstate))
			return;
		{
			void *p = realloc(x->cbody, x->cap_cstate * sizeof *x->cbody);
			if (!p)
				return;
			x->cbody = p;
		}
		kt_state_get(x->t, DK_CONTRACT, id->data, &keten__state__contract_state__descriptor, (void **)&st,
		             NULL);
		kt_contract_body(x->t, id->data, &b, NULL);
		i = x->n_cstate++;
		x->cstate[i] = st;
		x->cbody[i] = b;
		if (idmap_put(&x->contracts, id->data, i))
			return;
	}
	*cs = x->cstate[i];
	*fc = x->cbody[i];
}

/* Findings ------------------------------------------------------------------ */

static uint8_t zero_key[32];

/* Add a finding; ids is n ids (NULL entries skipped).  Deduplicated by
 * kind and first id. */
static int add_finding(struct ctx *x, const char *kind, const uint8_t *subject, const uint8_t *payer,
                       const uint8_t *payee, int64_t amount, const uint8_t *const *ids, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 9, 10)));

static int add_finding(struct ctx *x, const char *kind, const uint8_t *subject, const uint8_t *payer,
                       const uint8_t *payee, int64_t amount, const uint8_t *const *ids, size_t n, const char *fmt, ...)
{
	keten_recon *r = x->r;
	keten_recon_finding *f;
	uint8_t key[32];
	va_list ap;
	size_t m = 0;

	if (x->o->with && !x->all_parties && !(payer && memcmp(payer, x->o->with, 32) == 0) &&
	    !(payee && memcmp(payee, x->o->with, 32) == 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ids[i])
			m++;
	if (!m)
		return 0;
	/* dedup key: the first id, mixed with the kind's rank */
	for (size_t i = 0; i < n; i++)
		if (ids[i]) {
			memcpy(key, ids[i], 32);
			break;
		}
	{
		size_t rank = kind_rank(kind);
		uint64_t h = id_hash(key) ^ ((uint64_t)(rank + 1) * 0x9E3779B97F4A7C15ull);
		memcpy(key, &h, 8);
		key[31] ^= (uint8_t)rank;
		for (size_t i = 0; i < strlen(kind); i++)
			key[8 + i % 23] ^= (uint8_t)kind[i];
	}
	if (idmap_get(&x->f_seen, key) != SIZE_MAX)
		return 0;
	if (idmap_put(&x->f_seen, key, 1) || grow((void **)&r->findings, &x->cap_f, r->n_findings, sizeof *r->findings))
		return keten_fail(x->err, KETEN_ENOMEM, NULL);
	f = &r->findings[r->n_findings];
	memset(f, 0, sizeof *f);
	f->ids = malloc(m * sizeof *f->ids);
	if (!f->ids)
		return keten_fail(x->err, KETEN_ENOMEM, NULL);
	r->n_findings++;
	f->kind = kind;
	memcpy(f->subject, subject ? subject : zero_key, 32);
	memcpy(f->payer, payer ? payer : zero_key, 32);
	memcpy(f->payee, payee ? payee : zero_key, 32);
	f->amount_cents = amount;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		if (!ids[i])
			continue;
		for (size_t j = 0; j < f->n_ids && !dup; j++)
			dup = memcmp(f->ids[j], ids[i], 32) == 0;
		if (!dup)
			memcpy(f->ids[f->n_ids++], ids[i], 32);
	}
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof f->detail, fmt, ap);
	va_end(ap);
	return 0;
}

/* A kind named by a mark that reconcile does not compute itself: kept as
 * given, owned by the result. */
static const char *intern_kind(struct ctx *x, const char *mark)
{
	keten_recon *r = x->r;
	size_t rank = kind_rank(mark);
	if (rank < sizeof kinds / sizeof *kinds)
		return kinds[rank];
	for (size_t i = 0; i < r->n_extra_kinds; i++)
		if (strcmp(r->extra_kinds[i], mark) == 0)
			return r->extra_kinds[i];
	if (grow((void **)&r->extra_kinds, &x->cap_k, r->n_extra_kinds, sizeof *r->extra_kinds))
		return NULL;
	if (!(r->extra_kinds[r->n_extra_kinds] = strdup(mark)))
		return NULL;
	return r->extra_kinds[r->n_extra_kinds++];
}

/* A look into encoded state records ------------------------------------------
 * Most records a scan meets concern other parties.  Their few key fields
 * are read straight from the protobuf encoding (a tag, a length, the
 * bytes), so that only the records that matter are decoded in full. */

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return true;
		}
	}
	return false;
}

/* The next field at *p: its number, and its bytes (length-delimited) or
 * value (varint).  false at the end or on a malformed record. */
static bool pb_next(const uint8_t **p, const uint8_t *end, uint32_t *field, const uint8_t **val, size_t *len,
                    uint64_t *num)
{
	uint64_t tag, n;
	if (*p >= end || !pb_varint(p, end, &tag))
		return false;
	*field = (uint32_t)(tag >> 3);
	*val = NULL;
	*len = 0;
	*num = 0;
	switch (tag & 7) {
	case 0: return pb_varint(p, end, num);
	case 1:
		if (end - *p < 8)
			return false;
		*p += 8;
		return true;
	case 5:
		if (end - *p < 4)
			return false;
		*p += 4;
		return true;
	case 2:
		if (!pb_varint(p, end, &n) || n > (uint64_t)(end - *p))
			return false;
		*val = *p;
		*len = (size_t)n;
		*p += n;
		return true;
	default: return false;
	}
}

/* The first 32-byte value of each of up to four fields (NULL when absent). */
static void pb_keys(const uint8_t *v, size_t vl, const uint32_t *fields, size_t nf, const uint8_t **out)
{
	const uint8_t *p = v, *end = v + vl, *val;
	uint32_t f;
	size_t len;
	uint64_t num;
	for (size_t i = 0; i < nf; i++)
		out[i] = NULL;
	size_t found = 0;
	while (found < nf && pb_next(&p, end, &f, &val, &len, &num))
		for (size_t i = 0; i < nf; i++)
			if (f == fields[i] && len == 32 && !out[i]) {
				out[i] = val;
				found++;
			}
}

static bool key_eq(const uint8_t *a, const uint8_t *b)
{
	return a && b && memcmp(a, b, 32) == 0;
}

/* Scans ------------------------------------------------------------------- */

static bool muni_mine(const struct ctx *x, const char *code)
{
	if (!x->n_munis)
		return true;
	return code && kt_strs_has(x->munis, x->n_munis, code);
}

static int alloc_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	static const uint32_t fields[2] = {2, 3}; /* author, provider */
	struct ctx *x = p;
	Keten__State__AllocationState *as;
	const uint8_t *key[2];
	struct subj *s;
	bool mine;

	if (kl != 33)
		return 0;
	pb_keys(v, vl, fields, 2, key);
	mine = key_eq(key[0], x->o->me) || key_eq(key[1], x->o->me);
	if (!mine && !x->authority)
		return 0;
	if (x->o->with && !key_eq(key[0], x->o->with) && !key_eq(key[1], x->o->with) && !x->authority)
		return 0;
	as = keten__state__allocation_state__unpack(NULL, vl, v);
	if (!as)
		return 0;
	mine = mine || (x->authority && muni_mine(x, as->municipality));
	if (!mine || as->voided) {
		kt_state_free(as);
		return 0;
	}
	if (idmap_put(&x->scope, k + 1, 1)) {
		kt_state_free(as);
		return -1;
	}
	if ((x->o->with && !key_is(&as->author, x->o->with) && !key_is(&as->provider, x->o->with)) ||
	    grow((void **)&x->s, &x->cap_s, x->n_s, sizeof *x->s)) {
		kt_state_free(as);
		return 0;
	}
	s = &x->s[x->n_s];
	memset(s, 0, sizeof *s);
	s->as = as;
	if (idmap_put(&x->s_map, k + 1, x->n_s)) {
		kt_state_free(as);
		return -1;
	}
	x->n_s++;
	return 0;
}

/* Is the allocation in this home's view?  A full scan has met them all in
 * alloc_cb; reading by a party's index meets only that party's, so the
 * root allocation of another party's subcontract is looked up here. */
static bool in_scope(struct ctx *x, const uint8_t id[32])
{
	Keten__State__AllocationState *as = NULL;
	bool mine;

	if (idmap_get(&x->scope, id) != SIZE_MAX)
		return true;
	if (!x->via || idmap_get(&x->noscope, id) != SIZE_MAX)
		return false;
	if (kt_state_get(x->t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, (void **)&as, NULL))
		return false;
	mine = !as->voided &&
		(is_me(x, &as->author) || is_me(x, &as->provider) || (x->authority && muni_mine(x, as->municipality)));
	kt_state_free(as);
	idmap_put(mine ? &x->scope : &x->noscope, id, 1);
	return mine;
}

static int offer_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	static const uint32_t fields[4] = {2, 3, 4, 6}; /* author, subcontractor, allocation, municipality */
	struct ctx *x = p;
	Keten__State__OfferState *os;
	const uint8_t *key[4];
	struct subj *s;
	bool mine;

	if (kl != 33)
		return 0;
	pb_keys(v, vl, fields, 4, key);
	if (x->o->with && !key_eq(key[0], x->o->with) && !key_eq(key[1], x->o->with))
		return 0;
	mine = key_eq(key[0], x->o->me) || key_eq(key[1], x->o->me) || key_eq(key[3], x->o->me) ||
		(x->authority && key[2] && in_scope(x, key[2]));
	if (!mine)
		return 0;
	os = keten__state__offer_state__unpack(NULL, vl, v);
	if (!os)
		return 0;
	if (os->voided || (os->answered && !os->accepted) || grow((void **)&x->s, &x->cap_s, x->n_s, sizeof *x->s)) {
		kt_state_free(os);
		return 0;
	}
	s = &x->s[x->n_s];
	memset(s, 0, sizeof *s);
	s->os = os;
	if (idmap_put(&x->s_map, k + 1, x->n_s)) {
		kt_state_free(os);
		return -1;
	}
	x->n_s++;
	return 0;
}

static int delivery_cb(const uint8_t *k KT_UNUSED, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct ctx *x = p;
	Keten__State__DeliveryState *d;
	size_t i;
	uint32_t ym;

	if (kl != 33)
		return 0;
	{
		static const uint32_t fields[1] = {2};
		const uint8_t *key[1];
		pb_keys(v, vl, fields, 1, key);
		if (!key[0] || idmap_get(&x->s_map, key[0]) == SIZE_MAX)
			return 0;
	}
	d = keten__state__delivery_state__unpack(NULL, vl, v);
	if (!d)
		return 0;
	if (!d->voided && d->target.len == 32 && (i = idmap_get(&x->s_map, d->target.data)) != SIZE_MAX && d->period &&
	    keten_parse_period(d->period, &ym) == 0) {
		uint32_t first = ym * 100 + 1, last = ym * 100 + 31;
		bool in = first <= x->as_of && (!x->o->until || first <= x->o->until) &&
			(!x->o->from || last >= x->o->from);
		if (in)
			keten_add_cents(x->s[i].l.delivered_units, d->units, &x->s[i].l.delivered_units);
	}
	kt_state_free(d);
	return 0;
}

static int claim_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct ctx *x = p;
	Keten__State__ClaimState *cs;
	size_t i;

	if (kl != 33)
		return 0;
	{
		static const uint32_t fields[1] = {4};
		const uint8_t *key[1];
		pb_keys(v, vl, fields, 1, key);
		if (!key[0] || idmap_get(&x->s_map, key[0]) == SIZE_MAX)
			return 0;
	}
	cs = keten__state__claim_state__unpack(NULL, vl, v);
	if (!cs)
		return 0;
	if (cs->voided || cs->target.len != 32 || (i = idmap_get(&x->s_map, cs->target.data)) == SIZE_MAX ||
	    !in_period(x, cs->date) || grow((void **)&x->c, &x->cap_c, x->n_c, sizeof *x->c)) {
		kt_state_free(cs);
		return 0;
	}
	memset(&x->c[x->n_c], 0, sizeof *x->c);
	x->c[x->n_c].cs = cs;
	x->c[x->n_c].subj = i;
	if (idmap_put(&x->c_map, k + 1, x->n_c)) {
		kt_state_free(cs);
		return -1;
	}
	x->n_c++;
	return 0;
}

static int payment_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct ctx *x = p;
	Keten__State__PaymentState *ps;
	bool touches = false;

	if (kl != 33)
		return 0;
	{
		/* parts (6) name claims (1 inside); repayment (12); author (2), payee (3) */
		const uint8_t *q = v, *end = v + vl, *val, *author = NULL, *payee = NULL;
		bool hit = false, repayment = false;
		uint32_t f;
		size_t len;
		uint64_t num;
		while (!hit && pb_next(&q, end, &f, &val, &len, &num)) {
			if (f == 6 && val) {
				const uint8_t *r = val, *rend = val + len, *cv;
				uint32_t g;
				size_t cl;
				uint64_t cn;
				while (pb_next(&r, rend, &g, &cv, &cl, &cn))
					if (g == 1 && cl == 32 && idmap_get(&x->c_map, cv) != SIZE_MAX)
						hit = true;
			} else if (f == 12) {
				repayment = num != 0;
			} else if (f == 2 && len == 32) {
				author = val;
			} else if (f == 3 && len == 32) {
				payee = val;
			}
		}
		if (!hit && !(repayment && (key_eq(author, x->o->me) || key_eq(payee, x->o->me))))
			return 0;
	}
	ps = keten__state__payment_state__unpack(NULL, vl, v);
	if (!ps)
		return 0;
	if (ps->voided || ps->date > x->as_of) {
		kt_state_free(ps);
		return 0;
	}
	for (size_t j = 0; j < ps->n_parts; j++) {
		size_t ci;
		const Keten__State__ClaimPart *cp = ps->parts[j];
		if (cp->claim.len != 32 || (ci = idmap_get(&x->c_map, cp->claim.data)) == SIZE_MAX)
			continue;
		struct claim *c = &x->c[ci];
		touches = true;
		keten_add_cents(c->paid, cp->amount_cents, &c->paid);
		if (ps->date > c->last_paid)
			c->last_paid = ps->date;
		{
			void *q = realloc(c->pay, (c->n_pay + 1) * sizeof *c->pay);
			if (!q) {
				kt_state_free(ps);
				return -1;
			}
			c->pay = q;
			memcpy(c->pay[c->n_pay++], k + 1, 32);
		}
	}
	if (!touches && !(ps->repayment && (is_me(x, &ps->author) || is_me(x, &ps->payee)))) {
		kt_state_free(ps);
		return 0;
	}
	if (grow((void **)&x->p, &x->cap_p, x->n_p, sizeof *x->p)) {
		kt_state_free(ps);
		return -1;
	}
	memset(&x->p[x->n_p], 0, sizeof *x->p);
	x->p[x->n_p++].ps = ps;
	return 0;
}

static int clawback_cb(const uint8_t *k KT_UNUSED, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct ctx *x = p;
	Keten__State__ClawbackState *cb;
	if (kl != 33)
		return 0;
	cb = keten__state__clawback_state__unpack(NULL, vl, v);
	if (!cb)
		return 0;
	if (!cb->voided && cb->allocation.len == 32 && (!cb->date || cb->date <= x->as_of))
		idmap_put(&x->clawed, cb->allocation.data, 1);
	kt_state_free(cb);
	return 0;
}

/* Reading by the party index: 'P' || party || kind || id holds a copy of
 * the record kind || id (claims, payments, deliveries, clawbacks: the many
 * records, so that one party's lie together and are read in a few
 * sequential pages) or "" (allocations and offers: looked up), handed to
 * the same callback a full scan uses, in the same (id) order, so both ways
 * give the same result. */
struct via_scan {
	void *ctx;
	keten_txn *t;
	keten_scan_fn fn;
};

static int via_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct via_scan *s = p;
	const void *val = v;
	size_t n = vl;
	if (kl != 66)
		return 0;
	if (!vl && keten_kv_get(s->t, KT_STATE, k + 33, 33, &val, &n, NULL) != 0)
		return 0;
	return s->fn(k + 33, 33, val, n, s->ctx);
}

static int scan_kind(struct ctx *x, uint8_t kind, keten_scan_fn fn)
{
	int rc;
	if (x->via) {
		struct via_scan s = {x, x->t, fn};
		uint8_t pre[34];
		pre[0] = DX_PARTY;
		memcpy(pre + 1, x->via, 32);
		pre[33] = kind;
		rc = keten_kv_scan(x->t, KT_INDEX, pre, sizeof pre, via_cb, &s, x->err);
	} else {
		rc = keten_kv_scan(x->t, KT_STATE, &kind, 1, fn, x, x->err);
	}
	if (rc && x->err && !x->err->msg[0])
		keten_fail(x->err, KETEN_ENOMEM, "out of memory while reading derived state");
	return rc;
}

/* Lines ----------------------------------------------------------------------- */

static const char *kind_name(uint32_t k)
{
	switch (k) {
	case KETEN__KIND__HERSTEL: return "herstel";
	case KETEN__KIND__DUURZAAM: return "duurzaam";
	case KETEN__KIND__COMPONENT: return "component";
	default: return "";
	}
}

/* The months of [start, end] that fall in the period and up to as_of, each
 * priced by price(ym), summed. */
static int64_t monthly_total(const struct ctx *x, uint32_t start, uint32_t end,
                             int64_t (*price)(const struct ctx *, const void *, uint32_t), const void *arg)
{
	uint32_t lo = start, hi = end ? end : x->as_of;
	int64_t sum = 0;
	if (x->o->from && lo < x->o->from)
		lo = x->o->from;
	if (x->o->until && hi > x->o->until)
		hi = x->o->until;
	if (hi > x->as_of)
		hi = x->as_of;
	if (!lo || hi < lo)
		return 0;
	for (uint32_t ym = lo / 100; ym <= hi / 100; ym = (ym % 100 == 12) ? ym + 89 : ym + 1)
		if (!keten_add_cents(sum, price(x, arg, ym), &sum))
			break;
	return sum;
}

struct alloc_price {
	const Keten__State__AllocationState *as;
	const Keten__State__ContractState *cs;
};

static int64_t alloc_month(const struct ctx *x KT_UNUSED, const void *arg, uint32_t ym)
{
	const struct alloc_price *ap = arg;
	int64_t monthly = ap->as->amount_cents;
	if (ap->cs && !kt_tariff_indexed(ap->cs, monthly, ap->as->start / 10000, ym / 100, &monthly))
		return 0;
	return keten_prorata_month(monthly, ym, ap->as->start, ap->as->end);
}

static int64_t offer_month(const struct ctx *x KT_UNUSED, const void *arg, uint32_t ym)
{
	const Keten__State__OfferState *os = arg;
	return keten_prorata_month(os->amount_cents, ym, os->start, os->end);
}

static bool overlaps(const struct ctx *x, uint32_t start, uint32_t end)
{
	if (start > x->as_of)
		return false;
	if (x->o->until && start > x->o->until)
		return false;
	if (x->o->from && end && end < x->o->from)
		return false;
	return true;
}

static void build_line(struct ctx *x, struct subj *s, const uint8_t id[32])
{
	keten_recon_line *l = &s->l;
	Keten__State__ContractState *cs = NULL;
	Keten__FrameworkContract *fc = NULL;

	memcpy(l->subject, id, 32);
	if (s->as) {
		const Keten__State__AllocationState *as = s->as;
		copy_key(l->payer, &as->author);
		copy_key(l->payee, &as->provider);
		l->start = as->start;
		l->end = as->end;
		contract_of(x, &as->contract, &cs, &fc);
		s->term = cs && cs->payment_term_days ? cs->payment_term_days : 30;
		if (as->kind == KETEN__KIND__COMPONENT)
			snprintf(l->what, sizeof l->what, "%s component", as->component ? as->component : "-");
		else
			snprintf(l->what, sizeof l->what, "%s/%s %s", as->profile ? as->profile : "-",
			         as->intensity ? as->intensity : "-", kind_name(as->kind));
		if (as->kind == KETEN__KIND__DUURZAAM) {
			struct alloc_price ap = {as, cs};
			l->agreed_cents = monthly_total(x, as->start, as->end, alloc_month, &ap);
		} else {
			l->agreed_cents = as->amount_cents;
		}
		s->line = overlaps(x, as->start, as->end);
	} else {
		const Keten__State__OfferState *os = s->os;
		l->subcontract = true;
		copy_key(l->payer, &os->author);
		copy_key(l->payee, &os->subcontractor);
		l->start = os->start;
		l->end = os->end;
		s->term = os->payment_term_days ? os->payment_term_days : 30;
		switch (os->pricing) {
		case KETEN__PRICING__MONTHLY:
			snprintf(l->what, sizeof l->what, "monthly");
			l->agreed_cents = monthly_total(x, os->start, os->end, offer_month, os);
			break;
		case KETEN__PRICING__PER_UNIT:
			snprintf(l->what, sizeof l->what, "per %s", os->unit ? os->unit : "unit");
			l->agreed_cents = os->amount_cents;
			break;
		default:
			snprintf(l->what, sizeof l->what, "fixed");
			l->agreed_cents = os->amount_cents;
			break;
		}
		s->line = os->accepted && overlaps(x, os->start, os->end);
	}
}

static bool line_wanted(const struct ctx *x, const keten_recon_line *l)
{
	return !x->o->with || memcmp(l->payer, x->o->with, 32) == 0 || memcmp(l->payee, x->o->with, 32) == 0;
}

/* Findings from each kind of record ---------------------------------------------- */

static const uint8_t *bin(const ProtobufCBinaryData *b)
{
	return b->len == 32 ? b->data : NULL;
}

/* The allocations of the same client that this one follows back to back. */
struct rijgen_find {
	struct ctx *x;
	const Keten__State__AllocationState *as;
	size_t plen;
	uint8_t ids[8][32];
	size_t n;
};

static int rijgen_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct rijgen_find *f = p;
	Keten__State__AllocationState *o = NULL;
	if (kl != f->plen + 32 || f->n == 8 || memcmp(k + f->plen, f->as->id.data, 32) == 0)
		return 0;
	if (kt_state_get(f->x->t, DK_ALLOCATION, k + f->plen, &keten__state__allocation_state__descriptor, (void **)&o,
	                 NULL))
		return 0;
	if (!o->voided && o->kind == KETEN__KIND__HERSTEL && o->profile && o->intensity && f->as->profile &&
	    f->as->intensity && strcmp(o->profile, f->as->profile) == 0 &&
	    strcmp(o->intensity, f->as->intensity) == 0) {
		uint32_t ended = o->close_date ? o->close_date : o->end;
		if (ended && ended <= f->as->start && keten_date_days(f->as->start) - keten_date_days(ended) <= 31)
			memcpy(f->ids[f->n++], k + f->plen, 32);
	}
	kt_state_free(o);
	return 0;
}

static int alloc_findings(struct ctx *x, struct subj *s)
{
	const Keten__State__AllocationState *as = s->as;
	const keten_recon_line *l = &s->l;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < as->n_findings; i++) {
		const char *mark = as->findings[i];
		if (strcmp(mark, "rijgen") == 0 && as->client_ref && as->start <= x->as_of) {
			struct rijgen_find f = {.x = x, .as = as};
			uint8_t pre[300];
			size_t n = strlen(as->client_ref);
			const uint8_t *ids[9];
			if (n + 2 > sizeof pre)
				continue;
			pre[0] = DX_CLIENT;
			memcpy(pre + 1, as->client_ref, n);
			pre[n + 1] = 0;
			f.plen = n + 2;
			keten_kv_scan(x->t, KT_INDEX, pre, f.plen, rijgen_cb, &f, NULL);
			ids[0] = as->id.data;
			for (size_t j = 0; j < f.n; j++)
				ids[j + 1] = f.ids[j];
			char d[11];
			keten_format_date(d, sizeof d, as->start);
			rc = add_finding(x, "rijgen", as->id.data, l->payer, l->payee, as->amount_cents, ids, f.n + 1,
			                 "%s/%s herstel for client %s starts on %s, right after an earlier one ended",
			                 as->profile ? as->profile : "-", as->intensity ? as->intensity : "-",
			                 as->client_ref, d);
		} else if (mark_kind(mark)) {
			const char *kind = intern_kind(x, mark_kind(mark));
			const uint8_t *ids[1] = {as->id.data};
			if (kind)
				rc = add_finding(x, kind, as->id.data, l->payer, l->payee, 0, ids, 1,
				                 "marked on the allocation");
		}
	}
	if (rc)
		return rc;
	/* an early stop after the up-front part was paid, without a clawback */
	if (as->closed && as->close_date <= x->as_of && as->upfront_paid_cents > 0 && as->stop_code &&
	    idmap_get(&x->clawed, as->id.data) == SIZE_MAX && as->clawback_cents == 0) {
		Keten__State__ContractState *cs;
		Keten__FrameworkContract *fc;
		bool early = as->outcome == KETEN__OUTCOME__STOPPED;
		uint32_t reclaim = 0;
		contract_of(x, &as->contract, &cs, &fc);
		if (fc) {
			early = false;
			for (size_t i = 0; i < fc->n_early_stop; i++)
				if (strcmp(fc->early_stop[i]->stop_code, as->stop_code) == 0 &&
				    fc->early_stop[i]->reclaim_bp > 0) {
					early = true;
					reclaim = fc->early_stop[i]->reclaim_bp;
				}
		}
		if (early) {
			const uint8_t *ids[10] = {as->id.data, bin(&as->result)};
			size_t n = 2;
			int64_t due = 0;
			for (size_t ci = 0; ci < x->n_c && n < 10; ci++)
				if (x->c[ci].subj == (size_t)(s - x->s) && x->c[ci].cs->installment &&
				    strcmp(x->c[ci].cs->installment, "upfront") == 0)
					ids[n++] = x->c[ci].cs->id.data;
			if (reclaim)
				keten_apply_bp(as->upfront_paid_cents, reclaim, &due);
			rc = add_finding(x, "stop-without-clawback", as->id.data, l->payer, l->payee, due, ids, n,
			                 "stopped early (stop code %s) after %lld cents up front, no clawback",
			                 as->stop_code, (long long)as->upfront_paid_cents);
		}
	}
	return rc;
}

struct offers_find {
	uint8_t ids[16][32];
	size_t n;
	keten_txn *t;
};

static int offers_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	struct offers_find *f = p;
	Keten__State__OfferState *os = NULL;
	if (kl != 65 || f->n == 16)
		return 0;
	if (kt_state_get(f->t, DK_OFFER, k + 33, &keten__state__offer_state__descriptor, (void **)&os, NULL))
		return 0;
	if (!os->voided && !(os->answered && !os->accepted))
		memcpy(f->ids[f->n++], k + 33, 32);
	kt_state_free(os);
	return 0;
}

static int offer_findings(struct ctx *x, struct subj *s)
{
	const Keten__State__OfferState *os = s->os;
	const keten_recon_line *l = &s->l;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < os->n_findings; i++) {
		const char *kind = mark_kind(os->findings[i]);
		if (!kind)
			continue;
		kind = intern_kind(x, kind);
		if (!kind)
			return keten_fail(x->err, KETEN_ENOMEM, NULL);
		if (strcmp(kind, "over-allocation") == 0) {
			struct offers_find f = {.t = x->t};
			uint8_t pre[33];
			const uint8_t *ids[18] = {os->id.data, bin(&os->allocation)};
			pre[0] = DX_OFFERS;
			if (os->allocation.len == 32) {
				memcpy(pre + 1, os->allocation.data, 32);
				keten_kv_scan(x->t, KT_INDEX, pre, 33, offers_cb, &f, NULL);
			}
			for (size_t j = 0; j < f.n; j++)
				ids[j + 2] = f.ids[j];
			rc = add_finding(x, kind, os->id.data, l->payer, l->payee, os->amount_cents, ids, f.n + 2,
			                 "subcontracts on the allocation add up to more than its amount");
		} else {
			const uint8_t *ids[2] = {os->id.data, bin(&os->allocation)};
			const char *why = strcmp(kind, "above-framework-tariff") == 0
				? "price above the framework tariff"
				: strcmp(kind, "tariff-differs-from-framework") == 0
				? "price differs from the framework tariff"
				: strcmp(kind, "margin-above-maximum") == 0 ? "margin kept above the contract maximum"
									    : "marked on the subcontract";
			rc = add_finding(x, kind, os->id.data, l->payer, l->payee, os->amount_cents, ids, 2,
			                 "%s (%s, %lld cents)", why, l->what, (long long)os->amount_cents);
		}
	}
	return rc;
}

/* The root allocation's result was there by as_of. */
static bool has_result(struct ctx *x, const struct subj *s)
{
	const Keten__State__AllocationState *as = s->as;
	Keten__State__AllocationState *loaded = NULL;
	bool ok;
	if (!as) {
		size_t i = s->os->allocation.len == 32 ? idmap_get(&x->s_map, s->os->allocation.data) : SIZE_MAX;
		if (i != SIZE_MAX && x->s[i].as)
			as = x->s[i].as;
		else if (s->os->allocation.len != 32 ||
		         kt_state_get(x->t, DK_ALLOCATION, s->os->allocation.data,
		                      &keten__state__allocation_state__descriptor, (void **)&loaded, NULL))
			return true; /* not ours to see: no finding */
		else
			as = loaded;
	}
	ok = as->closed && as->outcome != KETEN__OUTCOME__OUTCOME_NONE &&
		(!as->close_date || as->close_date <= x->as_of);
	kt_state_free(loaded);
	return ok;
}

static int claim_findings(struct ctx *x, struct claim *c)
{
	const Keten__State__ClaimState *cs = c->cs;
	struct subj *s = &x->s[c->subj];
	const keten_recon_line *l = &s->l;
	uint32_t term = cs->has_payment_term_days && cs->payment_term_days ? cs->payment_term_days : s->term;
	int64_t unpaid = cs->amount_cents - c->paid;
	const uint8_t *ids[12];
	size_t n;
	int rc = 0;

	c->due = keten_date_add_days(cs->date, (int32_t)term);
	ids[0] = cs->id.data;
	n = 1;
	for (size_t j = 0; j < c->n_pay && n < 12; j++)
		ids[n++] = c->pay[j];
	if (unpaid > 0 && x->as_of > c->due) {
		char d[11];
		keten_format_date(d, sizeof d, c->due);
		rc = add_finding(x, "overdue", l->subject, l->payer, l->payee, unpaid, ids, n,
		                 "%lld cents unpaid, due %s (%u days), %lld days late", (long long)unpaid, d, term,
		                 (long long)(keten_date_days(x->as_of) - keten_date_days(c->due)));
	}
	if (rc == 0 && c->last_paid > c->due) {
		char d[11];
		keten_format_date(d, sizeof d, c->due);
		rc = add_finding(x, "paid-late", l->subject, l->payer, l->payee, cs->amount_cents, ids, n,
		                 "paid %lld days after the term (due %s)",
		                 (long long)(keten_date_days(c->last_paid) - keten_date_days(c->due)), d);
	}
	/* more than agreed for the installment */
	if (rc == 0 && cs->installment && strcmp(cs->installment, "units") != 0) {
		Keten__State__ContractState *ks = NULL;
		Keten__FrameworkContract *fc;
		int64_t expected;
		/* the target and its contract are in memory already */
		if (s->as)
			contract_of(x, &s->as->contract, &ks, &fc);
		if (kt_expected_for(x->t, s->as, s->os, ks, cs->installment, &expected, NULL) == 0 &&
		    cs->amount_cents > expected) {
			const uint8_t *ev[2] = {cs->id.data, l->subject};
			s->above = true;
			rc = add_finding(x, "claim-above-agreed", l->subject, l->payer, l->payee,
			                 cs->amount_cents - expected, ev, 2,
			                 "installment %s claims %lld cents, agreed %lld", cs->installment,
			                 (long long)cs->amount_cents, (long long)expected);
		}
	}
	/* the final part paid without a result */
	if (rc == 0 && c->paid > 0 && cs->installment && strcmp(cs->installment, "final") == 0 && !has_result(x, s)) {
		const uint8_t *root = s->as ? s->as->id.data : bin(&s->os->allocation);
		ids[n < 12 ? n++ : 11] = root;
		rc = add_finding(x, "final-without-result", l->subject, l->payer, l->payee, c->paid, ids, n,
		                 "final part paid (%lld cents) but the allocation has no result entry",
		                 (long long)c->paid);
	}
	for (size_t i = 0; rc == 0 && i < cs->n_findings; i++) {
		const char *kind = mark_kind(cs->findings[i]);
		const uint8_t *ev[1] = {cs->id.data};
		if (kind && (kind = intern_kind(x, kind)))
			rc = add_finding(x, kind, l->subject, l->payer, l->payee, cs->amount_cents, ev, 1,
			                 "marked on the claim");
	}
	return rc;
}

/* Claims above the whole agreed total, for the installments not checked one by one. */
static int line_findings(struct ctx *x, struct subj *s)
{
	const keten_recon_line *l = &s->l;
	bool monthly = (s->as && s->as->kind == KETEN__KIND__DUURZAAM) ||
		(s->os && s->os->pricing == KETEN__PRICING__MONTHLY);
	if (monthly || s->above || x->o->from || x->o->until || l->claimed_cents <= l->agreed_cents)
		return 0;
	{
		const uint8_t *ids[16] = {l->subject};
		size_t n = 1;
		for (size_t ci = 0; ci < x->n_c && n < 16; ci++)
			if (x->c[ci].subj == (size_t)(s - x->s))
				ids[n++] = x->c[ci].cs->id.data;
		return add_finding(x, "claim-above-agreed", l->subject, l->payer, l->payee,
		                   l->claimed_cents - l->agreed_cents, ids, n,
		                   "claims add up to %lld cents, agreed %lld", (long long)l->claimed_cents,
		                   (long long)l->agreed_cents);
	}
}

static int payment_findings(struct ctx *x, struct pay *p)
{
	const Keten__State__PaymentState *ps = p->ps;
	const uint8_t *ids[10] = {ps->id.data};
	size_t n = 1;
	const uint8_t *subject = NULL;
	int rc = 0;

	for (size_t j = 0; j < ps->n_parts && n < 9; j++) {
		size_t ci = ps->parts[j]->claim.len == 32 ? idmap_get(&x->c_map, ps->parts[j]->claim.data) : SIZE_MAX;
		if (ps->parts[j]->claim.len == 32)
			ids[n++] = ps->parts[j]->claim.data;
		if (ci != SIZE_MAX && !subject)
			subject = x->s[x->c[ci].subj].l.subject;
	}
	if (!x->as_of_given) {
		/* every live receipt counts, and the payment record names the
		 * current one (a voided receipt is taken off it) with its amount,
		 * above zero exactly when something arrived */
		if (ps->has_receipt && ps->receipt.len == 32) {
			p->receipt_known = true;
			p->received = ps->received_cents > 0;
			p->received_cents = ps->received_cents;
		}
	} else if (ps->receipt.len == 32 && ps->has_receipt_date) {
		/* kt_rule_receipt copies the receipt's date and flag into the
		 * payment record and a voided receipt is taken off it, so
		 * nothing needs looking up: scattered over the state table,
		 * that lookup per payment made about a third of the page
		 * faults of a fresh process */
		if (!ps->receipt_date || ps->receipt_date <= x->as_of) {
			p->receipt_known = true;
			p->received = ps->receipt_received;
			p->received_cents = ps->receipt_received ? ps->received_cents : 0;
		}
	} else if (ps->receipt.len == 32) {
		/* a record from before the copy (no receipt_date): look the
		 * receipt up, which also tells whether it was voided since */
		Keten__State__ReceiptState *rs = NULL;
		if (kt_state_get(x->t, DK_RECEIPT, ps->receipt.data, &keten__state__receipt_state__descriptor,
		                 (void **)&rs, NULL) == 0 &&
		    !rs->voided && (!rs->date || rs->date <= x->as_of || !x->as_of_given)) {
			p->receipt_known = true;
			p->received = rs->received;
			p->received_cents = rs->received ? rs->amount_cents : 0;
		}
		kt_state_free(rs);
	}
	if (!p->receipt_known) {
		char d[11];
		keten_format_date(d, sizeof d, ps->date);
		rc = add_finding(x, "payment-unconfirmed", subject, ps->author.data, ps->payee.data, ps->amount_cents,
		                 ids, n, "paid %lld cents on %s; no receipt from the payee",
		                 (long long)ps->amount_cents, d);
	} else if (!p->received || p->received_cents != ps->amount_cents) {
		ids[n++] = ps->receipt.data;
		rc = add_finding(x, "receipt-mismatch", subject, ps->author.data, ps->payee.data,
		                 ps->amount_cents - p->received_cents, ids, n,
		                 p->received ? "paid %lld cents, receipt confirms %lld"
		                             : "paid %lld cents, receipt says nothing arrived (%lld)",
		                 (long long)ps->amount_cents, (long long)p->received_cents);
	}
	for (size_t i = 0; rc == 0 && i < ps->n_findings; i++) {
		const char *kind = mark_kind(ps->findings[i]);
		if (kind && (kind = intern_kind(x, kind)))
			rc = add_finding(x, kind, subject, ps->author.data, ps->payee.data, ps->amount_cents, ids, 1,
			                 "marked on the payment");
	}
	return rc;
}

static int dispute_cb(keten_txn *t, const Keten__State__DisputeState *d, void *p)
{
	struct ctx *x = p;
	const uint8_t *ids[KETEN_MAX_DISPUTED + 1];
	size_t n = 0;
	bool open = !d->ruling.len || (d->ruled_ms && keten_date_of_ms(d->ruled_ms) > x->as_of);

	if (!open || (d->opened_ms && keten_date_of_ms(d->opened_ms) > x->as_of))
		return 0;
	if (x->o->with) {
		if (!(key_is(&d->opener, x->o->with) || kt_dispute_is_party(t, d, x->o->with)))
			return 0;
	}
	ids[n++] = d->id.data;
	for (size_t i = 0; i < d->n_entries && n < KETEN_MAX_DISPUTED + 1; i++)
		if (d->entries[i].len == 32)
			ids[n++] = d->entries[i].data;
	x->all_parties = true;
	x->rc = add_finding(x, "open-dispute", NULL, bin(&d->opener), NULL, d->amount_cents, ids, n, "%.100s%s",
	                    d->text ? d->text : "", d->text && strlen(d->text) > 100 ? "..." : "");
	x->all_parties = false;
	return x->rc ? -1 : 0;
}

/* Sorting --------------------------------------------------------------------- */

static int cmp_line(const void *a, const void *b)
{
	const keten_recon_line *x = a, *y = b;
	int c = memcmp(x->payer, y->payer, 32);
	if (!c)
		c = memcmp(x->payee, y->payee, 32);
	if (!c)
		c = (x->start > y->start) - (x->start < y->start);
	if (!c)
		c = memcmp(x->subject, y->subject, 32);
	return c;
}

static int cmp_finding(const void *a, const void *b)
{
	const keten_recon_finding *x = a, *y = b;
	size_t rx = kind_rank(x->kind), ry = kind_rank(y->kind);
	int c = (rx > ry) - (rx < ry);
	if (!c)
		c = strcmp(x->kind, y->kind);
	if (!c)
		c = memcmp(x->ids[0], y->ids[0], 32);
	return c;
}

/* Who am I: roles and municipalities. */
static void whoami(struct ctx *x)
{
	Keten__State__PartyState *ps = NULL;
	if (kt_party_load(x->t, x->o->me, &ps, NULL) != 0) {
		x->authority = true; /* an uncertified authority sees what it holds */
		return;
	}
	for (size_t i = 0; i < ps->n_roles; i++)
		if (ps->roles[i] < 32)
			x->roles |= ROLE_BIT(ps->roles[i]);
	x->authority = (x->roles &
	                (ROLE_BIT(KETEN__ROLE__REGION) | ROLE_BIT(KETEN__ROLE__MUNICIPALITY) |
	                 ROLE_BIT(KETEN__ROLE__AUDITOR))) != 0 ||
		ps->anchor;
	if (x->roles & ROLE_BIT(KETEN__ROLE__REGION))
		x->n_munis = 0;
	else
		for (size_t i = 0; i < ps->n_municipality; i++)
			kt_strs_add(&x->munis, &x->n_munis, ps->municipality[i]);
	kt_state_free(ps);
}

int keten_reconcile(keten_txn *t, const keten_recon_opts *o, keten_recon *out, keten_error *err)
{
	struct ctx x = {.t = t, .o = o, .err = err};
	keten_recon *r = out;
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "reconcile: no result");
	memset(out, 0, sizeof *out);
	if (!t || !o || !o->me)
		return keten_fail(err, KETEN_EINVAL, "reconcile: no home key");
	x.r = r;
	x.as_of_given = o->as_of != 0;
	x.as_of = o->as_of ? o->as_of : keten_today();
	r->as_of = x.as_of;
	whoami(&x);
	/* --with, and a provider's own view, concern one party: read only the
	 * records indexed under it.  A municipality's whole view is most of
	 * what it holds, so it scans. */
	if (kt_state_indexed(t))
		x.via = o->with ? o->with : !x.authority ? o->me : NULL;

	if ((rc = scan_kind(&x, DK_ALLOCATION, alloc_cb)) || (rc = scan_kind(&x, DK_OFFER, offer_cb)))
		goto out;
	for (size_t i = 0; i < x.n_s; i++) {
		struct subj *s = &x.s[i];
		build_line(&x, s, s->as ? s->as->id.data : s->os->id.data);
	}
	if ((rc = scan_kind(&x, DK_DELIVERY, delivery_cb)) || (rc = scan_kind(&x, DK_CLAIM, claim_cb)) ||
	    (rc = scan_kind(&x, DK_PAYMENT, payment_cb)) || (rc = scan_kind(&x, DK_CLAWBACK, clawback_cb)))
		goto out;

	/* sums per line */
	for (size_t ci = 0; ci < x.n_c; ci++) {
		struct claim *c = &x.c[ci];
		keten_recon_line *l = &x.s[c->subj].l;
		l->n_claims++;
		keten_add_cents(l->claimed_cents, c->cs->amount_cents, &l->claimed_cents);
		keten_add_cents(l->paid_cents, c->paid, &l->paid_cents);
		if ((rc = claim_findings(&x, c)))
			goto out;
		if (c->cs->amount_cents > c->paid && x.as_of > c->due)
			keten_add_cents(l->overdue_cents, c->cs->amount_cents - c->paid, &l->overdue_cents);
	}
	for (size_t pi = 0; pi < x.n_p; pi++) {
		struct pay *p = &x.p[pi];
		if ((rc = payment_findings(&x, p)))
			goto out;
		if (!p->receipt_known || !p->received)
			continue;
		for (size_t j = 0; j < p->ps->n_parts; j++) {
			const Keten__State__ClaimPart *cp = p->ps->parts[j];
			size_t ci = cp->claim.len == 32 ? idmap_get(&x.c_map, cp->claim.data) : SIZE_MAX;
			int64_t share;
			if (ci == SIZE_MAX)
				continue;
			share = p->received_cents >= p->ps->amount_cents || p->ps->amount_cents <= 0
				? cp->amount_cents
				: (int64_t)((__int128)cp->amount_cents * p->received_cents / p->ps->amount_cents);
			keten_add_cents(x.s[x.c[ci].subj].l.received_cents, share, &x.s[x.c[ci].subj].l.received_cents);
		}
	}
	for (size_t i = 0; i < x.n_s; i++) {
		struct subj *s = &x.s[i];
		keten_recon_line *l = &s->l;
		l->outstanding_cents = l->claimed_cents - l->paid_cents;
		if (overlaps(&x, l->start, l->end) &&
		    ((rc = s->as ? alloc_findings(&x, s) : offer_findings(&x, s)) || (rc = line_findings(&x, s))))
			goto out;
		if (!s->line || !line_wanted(&x, l))
			continue;
		if (grow((void **)&r->lines, &x.cap_l, r->n_lines, sizeof *r->lines)) {
			rc = keten_fail(err, KETEN_ENOMEM, NULL);
			goto out;
		}
		r->lines[r->n_lines++] = *l;
	}
	if ((rc = kt_dispute_each(t, false, dispute_cb, &x, err)))
		goto out;

	if (r->n_lines)
		qsort(r->lines, r->n_lines, sizeof *r->lines, cmp_line);
	if (r->n_findings)
		qsort(r->findings, r->n_findings, sizeof *r->findings, cmp_finding);
	for (size_t i = 0; i < r->n_lines; i++) {
		const keten_recon_line *l = &r->lines[i];
		keten_recon_pair *pr;
		if (!r->n_pairs || memcmp(r->pairs[r->n_pairs - 1].payer, l->payer, 32) ||
		    memcmp(r->pairs[r->n_pairs - 1].payee, l->payee, 32)) {
			void *q = realloc(r->pairs, (r->n_pairs + 1) * sizeof *r->pairs);
			if (!q) {
				rc = keten_fail(err, KETEN_ENOMEM, NULL);
				goto out;
			}
			r->pairs = q;
			memset(&r->pairs[r->n_pairs], 0, sizeof *r->pairs);
			memcpy(r->pairs[r->n_pairs].payer, l->payer, 32);
			memcpy(r->pairs[r->n_pairs].payee, l->payee, 32);
			r->n_pairs++;
		}
		pr = &r->pairs[r->n_pairs - 1];
		pr->n_lines++;
		keten_add_cents(pr->agreed_cents, l->agreed_cents, &pr->agreed_cents);
		keten_add_cents(pr->delivered_units, l->delivered_units, &pr->delivered_units);
		keten_add_cents(pr->claimed_cents, l->claimed_cents, &pr->claimed_cents);
		keten_add_cents(pr->paid_cents, l->paid_cents, &pr->paid_cents);
		keten_add_cents(pr->received_cents, l->received_cents, &pr->received_cents);
		keten_add_cents(pr->outstanding_cents, l->outstanding_cents, &pr->outstanding_cents);
		keten_add_cents(pr->overdue_cents, l->overdue_cents, &pr->overdue_cents);
	}
out:
	for (size_t i = 0; i < x.n_s; i++) {
		kt_state_free(x.s[i].as);
		kt_state_free(x.s[i].os);
	}
	for (size_t i = 0; i < x.n_c; i++) {
		kt_state_free(x.c[i].cs);
		free(x.c[i].pay);
	}
	for (size_t i = 0; i < x.n_p; i++)
		kt_state_free(x.p[i].ps);
	for (size_t i = 0; i < x.n_cstate; i++) {
		kt_state_free(x.cstate[i]);
		if (x.cbody[i])
			keten__framework_contract__free_unpacked(x.cbody[i], NULL);
	}
	for (size_t i = 0; i < x.n_munis; i++)
		free(x.munis[i]);
	free(x.munis);
	free(x.cstate);
	free(x.cbody);
	free(x.s);
	free(x.c);
	free(x.p);
	idmap_free(&x.s_map);
	idmap_free(&x.scope);
	idmap_free(&x.noscope);
	idmap_free(&x.c_map);
	idmap_free(&x.clawed);
	idmap_free(&x.contracts);
	idmap_free(&x.f_seen);
	if (rc)
		keten_recon_release(r);
	return rc;
}

void keten_recon_release(keten_recon *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_findings; i++)
		free(r->findings[i].ids);
	for (size_t i = 0; i < r->n_extra_kinds; i++)
		free(r->extra_kinds[i]);
	free(r->extra_kinds);
	free(r->findings);
	free(r->lines);
	free(r->pairs);
	memset(r, 0, sizeof *r);
}

/* Balances -------------------------------------------------------------------- */

struct bal_ctx {
	const uint8_t *me, *with;
	uint32_t as_of;
	keten_balance *b;
	size_t cap;
	keten_txn *t;
	keten_error *err;
};

/* Add one BalanceDay of the pair payer -> payee to the rows of `me`. */
static int bal_add(struct bal_ctx *c, const uint8_t *payer, const uint8_t *payee, const uint8_t *v, size_t vl)
{
	keten_balance *b = c->b;
	Keten__State__BalanceDay *d;
	const uint8_t *other;
	keten_balance_row *r = NULL;
	bool me_payee;

	if (memcmp(payer, c->me, 32) == 0) {
		me_payee = false;
		other = payee;
	} else if (memcmp(payee, c->me, 32) == 0) {
		me_payee = true;
		other = payer;
	} else {
		return 0;
	}
	if (c->with && memcmp(other, c->with, 32) != 0)
		return 0;
	if (!(d = keten__state__balance_day__unpack(NULL, vl, v)))
		return keten_fail(c->err, KETEN_ESTORE, "ledger store: damaged balance record");
	/* rows come in key order, so a pair's days are together: the last row */
	if (b->n_rows && b->rows[b->n_rows - 1].payee == me_payee &&
	    memcmp(b->rows[b->n_rows - 1].party, other, 32) == 0)
		r = &b->rows[b->n_rows - 1];
	for (size_t i = 0; !r && i < b->n_rows; i++)
		if (b->rows[i].payee == me_payee && memcmp(b->rows[i].party, other, 32) == 0)
			r = &b->rows[i];
	if (!r) {
		if (grow((void **)&b->rows, &c->cap, b->n_rows, sizeof *b->rows)) {
			keten__state__balance_day__free_unpacked(d, NULL);
			return keten_fail(c->err, KETEN_ENOMEM, NULL);
		}
		r = &b->rows[b->n_rows++];
		memset(r, 0, sizeof *r);
		memcpy(r->party, other, 32);
		r->payee = me_payee;
	}
	if (!keten_add_cents(r->claimed_cents, d->claimed_cents, &r->claimed_cents) ||
	    !keten_add_cents(r->paid_cents, d->paid_cents, &r->paid_cents) ||
	    !keten_add_cents(r->received_cents, d->received_cents, &r->received_cents) ||
	    !keten_add_cents(r->clawback_cents, d->clawback_cents, &r->clawback_cents) ||
	    !keten_add_cents(r->repaid_cents, d->repaid_cents, &r->repaid_cents))
		b->overflow = true;
	keten__state__balance_day__free_unpacked(d, NULL);
	return 0;
}

/* A daily record 'b' || payer || payee || date. */
static int bal_day_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct bal_ctx *c = p;
	if (kl != 69 || (c->as_of && keten_get_be32(k + 65) > c->as_of))
		return 0;
	return bal_add(c, k + 1, k + 33, v, vl) ? -1 : 0;
}

/* One pair: its running total, or its days up to as_of. */
static int bal_pair(struct bal_ctx *c, const uint8_t *payer, const uint8_t *payee)
{
	uint8_t k[65];
	const void *v;
	size_t n;
	int rc;

	memcpy(k + 1, payer, 32);
	memcpy(k + 33, payee, 32);
	if (c->as_of) {
		k[0] = DK_BALANCE;
		return keten_kv_scan(c->t, KT_STATE, k, 65, bal_day_cb, c, c->err);
	}
	k[0] = DK_TOTAL;
	rc = keten_kv_get(c->t, KT_STATE, k, 65, &v, &n, NULL);
	if (rc == KETEN_ENOTFOUND)
		return 0;
	if (rc)
		return keten_fail(c->err, rc, "ledger store: cannot read a balance");
	return bal_add(c, payer, payee, v, n);
}

/* An index key 'B' || me || payer || payee. */
static int bal_pair_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	if (kl != 97)
		return 0;
	return bal_pair(p, k + 33, k + 65) ? -1 : 0;
}

int keten_recon_balance(keten_txn *t, const uint8_t me[32], const uint8_t *with, uint32_t as_of, keten_balance *out,
                        keten_error *err)
{
	struct bal_ctx c = {.me = me, .with = with, .as_of = as_of, .b = out, .t = t, .err = err};
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "balance: no result");
	memset(out, 0, sizeof *out);
	if (!t || !me)
		return keten_fail(err, KETEN_EINVAL, "balance: no home key");
	if (!kt_state_indexed(t)) {
		uint8_t pre = DK_BALANCE;
		rc = keten_kv_scan(t, KT_STATE, &pre, 1, bal_day_cb, &c, err);
	} else if (with) {
		/* the two directions, in key order like the scans */
		const uint8_t *first = memcmp(me, with, 32) <= 0 ? me : with, *second = first == me ? with : me;
		rc = bal_pair(&c, first, second);
		if (rc == 0 && memcmp(me, with, 32) != 0)
			rc = bal_pair(&c, second, first);
	} else {
		uint8_t pre[33];
		pre[0] = DX_PAIR;
		memcpy(pre + 1, me, 32);
		rc = keten_kv_scan(t, KT_INDEX, pre, 33, bal_pair_cb, &c, err);
	}
	if (rc) {
		if (err && !err->msg[0])
			keten_fail(err, KETEN_ESTORE, "ledger store: cannot read the balances");
		keten_balance_release(out);
	}
	return rc;
}

void keten_balance_release(keten_balance *b)
{
	if (!b)
		return;
	free(b->rows);
	memset(b, 0, sizeof *b);
}

/* Bank statements ------------------------------------------------------------ */

const char *keten_bank_status_name(keten_bank_status s)
{
	switch (s) {
	case KETEN_BANK_MATCHED: return "matched";
	case KETEN_BANK_AMOUNT_DIFFERS: return "amount-differs";
	case KETEN_BANK_DUPLICATE: return "duplicate";
	case KETEN_BANK_ONLY: return "bank-only";
	case KETEN_LEDGER_ONLY: return "ledger-only";
	default: return "";
	}
}

struct bpay {
	uint8_t id[32], payer[32], payee[32];
	int64_t cents; /* signed from my side */
	uint32_t date;
	char ref[64];
	bool matched;
};

struct bank_ctx {
	keten_txn *t;
	const uint8_t *me;
	uint32_t lo, hi;
	struct bpay *p;
	size_t n, cap;
};

static int bank_pay_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
	struct bank_ctx *b = arg;
	Keten__State__PaymentState *ps;
	bool out_, in_;
	if (kl != 33)
		return 0;
	ps = keten__state__payment_state__unpack(NULL, vl, v);
	if (!ps)
		return 0;
	out_ = key_is(&ps->author, b->me);
	in_ = key_is(&ps->payee, b->me);
	if (!ps->voided && (out_ || in_) && (!b->lo || ps->date >= b->lo) && (!b->hi || ps->date <= b->hi)) {
		if (grow((void **)&b->p, &b->cap, b->n, sizeof *b->p)) {
			kt_state_free(ps);
			return -1;
		}
		struct bpay *p = &b->p[b->n++];
		memset(p, 0, sizeof *p);
		memcpy(p->id, k + 1, 32);
		copy_key(p->payer, &ps->author);
		copy_key(p->payee, &ps->payee);
		p->cents = in_ ? ps->amount_cents : -ps->amount_cents;
		p->date = ps->date;
		{
			keten_entry e;
			if (keten_store_get_entry(b->t, k + 1, &e, NULL) == 0) {
				Keten__Payment *pb = e.has_body ? keten__payment__unpack(NULL, e.body_len, e.body)
								: NULL;
				if (pb && pb->reference)
					snprintf(p->ref, sizeof p->ref, "%s", pb->reference);
				if (pb)
					keten__payment__free_unpacked(pb, NULL);
				keten_entry_release(&e);
			}
		}
	}
	kt_state_free(ps);
	return 0;
}

static bool ref_hit(const struct bpay *p, const keten_camt_tx *tx, const char **how)
{
	if (!p->ref[0] || !tx)
		return false;
	if (tx->end_to_end_id && strcmp(tx->end_to_end_id, p->ref) == 0) {
		*how = "end-to-end";
		return true;
	}
	if (tx->structured_ref && strcmp(tx->structured_ref, p->ref) == 0) {
		*how = "remittance";
		return true;
	}
	if (tx->remittance && strlen(p->ref) >= 6 && strstr(tx->remittance, p->ref)) {
		*how = "remittance";
		return true;
	}
	return false;
}

int keten_recon_bank(keten_txn *t, const uint8_t me[32], const keten_camt_statement *s, keten_bank_result *out,
                     keten_error *err)
{
	struct bank_ctx b = {.t = t, .me = me};
	uint32_t lo = 0, hi = 0;
	size_t cap = 0;
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "bank: no result");
	memset(out, 0, sizeof *out);
	if (!t || !me || !s)
		return keten_fail(err, KETEN_EINVAL, "bank: no statement");
	for (size_t i = 0; i < s->n_entries; i++) {
		uint32_t d = s->entries[i].booking_date ? s->entries[i].booking_date : s->entries[i].value_date;
		if (d && (!lo || d < lo))
			lo = d;
		if (d > hi)
			hi = d;
	}
	if (s->opening_date && (!lo || s->opening_date < lo))
		lo = s->opening_date;
	if (s->closing_date > hi)
		hi = s->closing_date;
	out->from = lo;
	out->until = hi;
	b.lo = lo ? keten_date_add_days(lo, -KETEN_BANK_DATE_WINDOW) : 0;
	b.hi = hi ? keten_date_add_days(hi, KETEN_BANK_DATE_WINDOW) : 0;
	if (kt_state_indexed(t)) {
		/* the payments this home made or received are indexed under it */
		struct via_scan v = {&b, t, bank_pay_cb};
		uint8_t pre[34];
		pre[0] = DX_PARTY;
		memcpy(pre + 1, me, 32);
		pre[33] = DK_PAYMENT;
		if ((rc = keten_kv_scan(t, KT_INDEX, pre, sizeof pre, via_cb, &v, err)))
			goto fail;
	} else {
		uint8_t kind = DK_PAYMENT;
		if ((rc = keten_kv_scan(t, KT_STATE, &kind, 1, bank_pay_cb, &b, err)))
			goto fail;
	}

	/* the bank lines: one per transaction detail, or per entry without details */
	for (size_t i = 0; i < s->n_entries; i++) {
		const keten_camt_entry *e = &s->entries[i];
		size_t ntx = e->n_tx ? e->n_tx : 1;
		if (strcmp(e->status, "BOOK") != 0 && e->status[0])
			continue;
		for (size_t j = 0; j < ntx; j++) {
			const keten_camt_tx *tx = e->n_tx ? &e->tx[j] : NULL;
			keten_bank_line *l;
			int64_t amt = tx && tx->amount_cents >= 0 ? tx->amount_cents : e->amount_cents;
			if (grow((void **)&out->lines, &cap, out->n_lines, sizeof *out->lines)) {
				rc = keten_fail(err, KETEN_ENOMEM, NULL);
				goto fail;
			}
			l = &out->lines[out->n_lines++];
			memset(l, 0, sizeof *l);
			l->how = "";
			l->entry = i;
			l->tx = e->n_tx ? j : SIZE_MAX;
			l->file_line = e->line;
			l->bank_cents = e->credit ? amt : -amt;
			l->bank_date = e->booking_date ? e->booking_date : e->value_date;
			if (tx && tx->end_to_end_id)
				snprintf(l->bank_ref, sizeof l->bank_ref, "%s", tx->end_to_end_id);
			else if (tx && tx->structured_ref)
				snprintf(l->bank_ref, sizeof l->bank_ref, "%s", tx->structured_ref);
			else if (tx && tx->remittance)
				snprintf(l->bank_ref, sizeof l->bank_ref, "%s", tx->remittance);
			else if (e->info)
				snprintf(l->bank_ref, sizeof l->bank_ref, "%s", e->info);
		}
	}
	/* pass 1: by reference (an unmatched payment first, else a duplicate) */
	for (size_t i = 0; i < out->n_lines; i++) {
		keten_bank_line *l = &out->lines[i];
		const keten_camt_entry *e = &s->entries[l->entry];
		const keten_camt_tx *tx = l->tx != SIZE_MAX ? &e->tx[l->tx] : NULL;
		struct bpay *hit = NULL, *dup = NULL;
		const char *how = "";
		for (size_t k = 0; k < b.n && !hit; k++) {
			const char *h;
			if ((b.p[k].cents > 0) != (l->bank_cents > 0) || !ref_hit(&b.p[k], tx, &h))
				continue;
			if (!b.p[k].matched) {
				hit = &b.p[k];
				how = h;
			} else if (!dup) {
				dup = &b.p[k];
				how = h;
			}
		}
		if (!hit && !dup)
			continue;
		if (!hit) {
			hit = dup;
			l->status = KETEN_BANK_DUPLICATE;
		} else {
			hit->matched = true;
			l->status = hit->cents == l->bank_cents ? KETEN_BANK_MATCHED : KETEN_BANK_AMOUNT_DIFFERS;
		}
		l->how = how;
		l->has_payment = true;
		memcpy(l->payment, hit->id, 32);
		memcpy(l->payer, hit->payer, 32);
		memcpy(l->payee, hit->payee, 32);
		l->ledger_cents = hit->cents;
		l->ledger_date = hit->date;
		memcpy(l->ledger_ref, hit->ref, sizeof l->ledger_ref);
	}
	/* pass 2: by amount and direction within the date window, closest first */
	for (size_t i = 0; i < out->n_lines; i++) {
		keten_bank_line *l = &out->lines[i];
		struct bpay *best = NULL;
		int64_t best_d = 0;
		if (l->status)
			continue;
		for (size_t k = 0; k < b.n; k++) {
			int64_t d;
			if (b.p[k].matched || b.p[k].cents != l->bank_cents)
				continue;
			d = keten_date_days(b.p[k].date) - keten_date_days(l->bank_date);
			if (d < 0)
				d = -d;
			if (d <= KETEN_BANK_DATE_WINDOW && (!best || d < best_d)) {
				best = &b.p[k];
				best_d = d;
			}
		}
		if (!best) {
			l->status = KETEN_BANK_ONLY;
			continue;
		}
		best->matched = true;
		l->status = KETEN_BANK_MATCHED;
		l->how = "amount-date";
		l->has_payment = true;
		memcpy(l->payment, best->id, 32);
		memcpy(l->payer, best->payer, 32);
		memcpy(l->payee, best->payee, 32);
		l->ledger_cents = best->cents;
		l->ledger_date = best->date;
		memcpy(l->ledger_ref, best->ref, sizeof l->ledger_ref);
	}
	/* ledger-only: payments within the statement's own dates */
	for (size_t k = 0; k < b.n; k++) {
		keten_bank_line *l;
		if (b.p[k].matched || (lo && b.p[k].date < lo) || (hi && b.p[k].date > hi))
			continue;
		if (grow((void **)&out->lines, &cap, out->n_lines, sizeof *out->lines)) {
			rc = keten_fail(err, KETEN_ENOMEM, NULL);
			goto fail;
		}
		l = &out->lines[out->n_lines++];
		memset(l, 0, sizeof *l);
		l->status = KETEN_LEDGER_ONLY;
		l->how = "";
		l->entry = l->tx = SIZE_MAX;
		l->has_payment = true;
		memcpy(l->payment, b.p[k].id, 32);
		memcpy(l->payer, b.p[k].payer, 32);
		memcpy(l->payee, b.p[k].payee, 32);
		l->ledger_cents = b.p[k].cents;
		l->ledger_date = b.p[k].date;
		memcpy(l->ledger_ref, b.p[k].ref, sizeof l->ledger_ref);
	}
	for (size_t i = 0; i < out->n_lines; i++) {
		switch (out->lines[i].status) {
		case KETEN_BANK_MATCHED: out->matched++; break;
		case KETEN_BANK_AMOUNT_DIFFERS: out->amount_differs++; break;
		case KETEN_BANK_DUPLICATE: out->duplicates++; break;
		case KETEN_BANK_ONLY: out->bank_only++; break;
		default: out->ledger_only++; break;
		}
	}
	out->has_balances = s->has_opening && s->has_closing;
	out->opening_cents = s->opening_cents;
	out->closing_cents = s->closing_cents;
	if (out->has_balances)
		out->balance_ok = keten_camt_check_balance(s, &out->computed_cents, NULL) == 0;
	free(b.p);
	return 0;
fail:
	free(b.p);
	keten_bank_release(out);
	return rc;
}

void keten_bank_release(keten_bank_result *r)
{
	if (!r)
		return;
	free(r->lines);
	memset(r, 0, sizeof *r);
}
