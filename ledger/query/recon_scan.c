/*
 * recon_scan.c — the reading half of reconciliation (see recon.h): the id
 * maps and growable arrays the context is made of, a look into encoded
 * state records, who this home is, and the scans that fill the context.
 *
 * One read transaction, a handful of prefix scans (allocations, offers,
 * deliveries, claims, payments, clawbacks) and point lookups for
 * contracts and indices (and for the receipts of payment records written
 * before they carried their receipt's date).  With --with, and for a
 * provider's own view, the scans read the copies of one party's records
 * under 'P' || party || kind in the index table (kept by kt_state_put), so
 * the work is linear in that party's records; a municipality's whole view
 * scans the `state` table.  The scans build in-memory maps from entry id
 * to record.
 */
#include <stdlib.h>
#include <string.h>

#include "query/recon.h"
#include "base/base.h"

/* An id -> index map ------------------------------------------------------ */

uint64_t kt_id_hash(const uint8_t id[32])
{
	uint64_t h;
	memcpy(&h, id, 8);
	return h;
}

size_t kt_idmap_get(const struct idmap *m, const uint8_t id[32])
{
	if (!m->cap)
		return SIZE_MAX;
	for (size_t i = kt_id_hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->used[i])
			return SIZE_MAX;
		if (memcmp(m->k[i], id, 32) == 0)
			return m->v[i];
	}
}

int kt_idmap_put(struct idmap *m, const uint8_t id[32], size_t v)
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
				kt_idmap_put(&g, m->k[i], m->v[i]);
		free(m->k);
		free(m->v);
		free(m->used);
		*m = g;
	}
	for (size_t i = kt_id_hash(id) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
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

void kt_idmap_free(struct idmap *m)
{
	free(m->k);
	free(m->v);
	free(m->used);
	memset(m, 0, sizeof *m);
}

/* Growable arrays. */
int kt_grow(void **arr, size_t *cap, size_t n, size_t size)
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
bool kt_pb_next(const uint8_t **p, const uint8_t *end, uint32_t *field, const uint8_t **val, size_t *len, uint64_t *num)
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
void kt_pb_keys(const uint8_t *v, size_t vl, const uint32_t *fields, size_t nf, const uint8_t **out)
{
	const uint8_t *p = v, *end = v + vl, *val;
	uint32_t f;
	size_t len;
	uint64_t num;
	for (size_t i = 0; i < nf; i++)
		out[i] = NULL;
	size_t found = 0;
	while (found < nf && kt_pb_next(&p, end, &f, &val, &len, &num))
		for (size_t i = 0; i < nf; i++)
			if (f == fields[i] && len == 32 && !out[i]) {
				out[i] = val;
				found++;
			}
}

/* Contracts and who this home is ------------------------------------------------ */

void kt_recon_contract(struct recon_ctx *x, const ProtobufCBinaryData *id, Keten__State__ContractState **cs,
                       Keten__FrameworkContract **fc)
{
	size_t i;
	*cs = NULL;
	*fc = NULL;
	if (id->len != 32)
		return;
	i = kt_idmap_get(&x->contracts, id->data);
	if (i == SIZE_MAX) {
		Keten__State__ContractState *st = NULL;
		Keten__FrameworkContract *b = NULL;
		if (kt_grow((void **)&x->cstate, &x->cap_cstate, x->n_cstate, sizeof *x->cstate))
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
		if (kt_idmap_put(&x->contracts, id->data, i))
			return;
	}
	*cs = x->cstate[i];
	*fc = x->cbody[i];
}

/* Who am I: roles and municipalities. */
void kt_recon_whoami(struct recon_ctx *x)
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

/* Scans ------------------------------------------------------------------- */

static bool muni_mine(const struct recon_ctx *x, const char *code)
{
	if (!x->n_munis)
		return true;
	return code && kt_strs_has(x->munis, x->n_munis, code);
}

static int alloc_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	static const uint32_t fields[2] = {2, 3}; /* author, provider */
	struct recon_ctx *x = p;
	Keten__State__AllocationState *as;
	const uint8_t *key[2];
	struct subj *s;
	bool mine;

	if (kl != 33)
		return 0;
	kt_pb_keys(v, vl, fields, 2, key);
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
	if (kt_idmap_put(&x->scope, k + 1, 1)) {
		kt_state_free(as);
		return -1;
	}
	if ((x->o->with && !key_is(&as->author, x->o->with) && !key_is(&as->provider, x->o->with)) ||
	    kt_grow((void **)&x->s, &x->cap_s, x->n_s, sizeof *x->s)) {
		kt_state_free(as);
		return 0;
	}
	s = &x->s[x->n_s];
	memset(s, 0, sizeof *s);
	s->as = as;
	if (kt_idmap_put(&x->s_map, k + 1, x->n_s)) {
		kt_state_free(as);
		return -1;
	}
	x->n_s++;
	return 0;
}

/* Is the allocation in this home's view?  A full scan has met them all in
 * alloc_cb; reading by a party's index meets only that party's, so the
 * root allocation of another party's subcontract is looked up here. */
static bool in_scope(struct recon_ctx *x, const uint8_t id[32])
{
	Keten__State__AllocationState *as = NULL;
	bool mine;

	if (kt_idmap_get(&x->scope, id) != SIZE_MAX)
		return true;
	if (!x->via || kt_idmap_get(&x->noscope, id) != SIZE_MAX)
		return false;
	if (kt_state_get(x->t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, (void **)&as, NULL))
		return false;
	mine = !as->voided &&
		(is_me(x, &as->author) || is_me(x, &as->provider) || (x->authority && muni_mine(x, as->municipality)));
	kt_state_free(as);
	kt_idmap_put(mine ? &x->scope : &x->noscope, id, 1);
	return mine;
}

static int offer_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	static const uint32_t fields[4] = {2, 3, 4, 6}; /* author, subcontractor, allocation, municipality */
	struct recon_ctx *x = p;
	Keten__State__OfferState *os;
	const uint8_t *key[4];
	struct subj *s;
	bool mine;

	if (kl != 33)
		return 0;
	kt_pb_keys(v, vl, fields, 4, key);
	if (x->o->with && !key_eq(key[0], x->o->with) && !key_eq(key[1], x->o->with))
		return 0;
	mine = key_eq(key[0], x->o->me) || key_eq(key[1], x->o->me) || key_eq(key[3], x->o->me) ||
		(x->authority && key[2] && in_scope(x, key[2]));
	if (!mine)
		return 0;
	os = keten__state__offer_state__unpack(NULL, vl, v);
	if (!os)
		return 0;
	if (os->voided || (os->answered && !os->accepted) || kt_grow((void **)&x->s, &x->cap_s, x->n_s, sizeof *x->s)) {
		kt_state_free(os);
		return 0;
	}
	s = &x->s[x->n_s];
	memset(s, 0, sizeof *s);
	s->os = os;
	if (kt_idmap_put(&x->s_map, k + 1, x->n_s)) {
		kt_state_free(os);
		return -1;
	}
	x->n_s++;
	return 0;
}

static int delivery_cb(const uint8_t *k KT_UNUSED, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct recon_ctx *x = p;
	Keten__State__DeliveryState *d;
	size_t i;
	uint32_t ym;

	if (kl != 33)
		return 0;
	{
		static const uint32_t fields[1] = {2};
		const uint8_t *key[1];
		kt_pb_keys(v, vl, fields, 1, key);
		if (!key[0] || kt_idmap_get(&x->s_map, key[0]) == SIZE_MAX)
			return 0;
	}
	d = keten__state__delivery_state__unpack(NULL, vl, v);
	if (!d)
		return 0;
	if (!d->voided && d->target.len == 32 && (i = kt_idmap_get(&x->s_map, d->target.data)) != SIZE_MAX &&
	    d->period && keten_parse_period(d->period, &ym) == 0) {
		uint32_t first = ym * 100 + 1, last = ym * 100 + 31;
		bool in = first <= x->as_of && (!x->o->until || first <= x->o->until) &&
			(!x->o->from || last >= x->o->from);
		if (in)
			keten_add_cents(x->s[i].l.delivered_units, d->units, &x->s[i].l.delivered_units);
		if (in && kt_recon_vol_delivery(x, i, ym, d->units, k + 1)) {
			kt_state_free(d);
			return -1;
		}
	}
	kt_state_free(d);
	return 0;
}

static int claim_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct recon_ctx *x = p;
	Keten__State__ClaimState *cs;
	size_t i;

	if (kl != 33)
		return 0;
	{
		static const uint32_t fields[1] = {4};
		const uint8_t *key[1];
		kt_pb_keys(v, vl, fields, 1, key);
		if (!key[0] || kt_idmap_get(&x->s_map, key[0]) == SIZE_MAX)
			return 0;
	}
	cs = keten__state__claim_state__unpack(NULL, vl, v);
	if (!cs)
		return 0;
	if (cs->voided || cs->target.len != 32 || (i = kt_idmap_get(&x->s_map, cs->target.data)) == SIZE_MAX ||
	    !in_period(x, cs->date) || kt_grow((void **)&x->c, &x->cap_c, x->n_c, sizeof *x->c)) {
		kt_state_free(cs);
		return 0;
	}
	memset(&x->c[x->n_c], 0, sizeof *x->c);
	x->c[x->n_c].cs = cs;
	x->c[x->n_c].subj = i;
	if (kt_idmap_put(&x->c_map, k + 1, x->n_c)) {
		kt_state_free(cs);
		return -1;
	}
	x->n_c++;
	return 0;
}

/* Does the encoded payment settle a claim read, or is it a repayment of
 * mine?  Its parts (6) name claims (1 inside); repayment (12); author
 * (2), payee (3). */
static bool payment_wanted(const struct recon_ctx *x, const uint8_t *v, size_t vl)
{
	const uint8_t *q = v, *end = v + vl, *val, *author = NULL, *payee = NULL;
	bool hit = false, repayment = false;
	uint32_t f;
	size_t len;
	uint64_t num;
	while (!hit && kt_pb_next(&q, end, &f, &val, &len, &num)) {
		if (f == 6 && val) {
			const uint8_t *r = val, *rend = val + len, *cv;
			uint32_t g;
			size_t cl;
			uint64_t cn;
			while (kt_pb_next(&r, rend, &g, &cv, &cl, &cn))
				if (g == 1 && cl == 32 && kt_idmap_get(&x->c_map, cv) != SIZE_MAX)
					hit = true;
		} else if (f == 12) {
			repayment = num != 0;
		} else if (f == 2 && len == 32) {
			author = val;
		} else if (f == 3 && len == 32) {
			payee = val;
		}
	}
	return hit || (repayment && (key_eq(author, x->o->me) || key_eq(payee, x->o->me)));
}

static int payment_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct recon_ctx *x = p;
	Keten__State__PaymentState *ps;
	bool touches = false;

	if (kl != 33 || !payment_wanted(x, v, vl))
		return 0;
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
		if (cp->claim.len != 32 || (ci = kt_idmap_get(&x->c_map, cp->claim.data)) == SIZE_MAX)
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
	if (kt_grow((void **)&x->p, &x->cap_p, x->n_p, sizeof *x->p)) {
		kt_state_free(ps);
		return -1;
	}
	memset(&x->p[x->n_p], 0, sizeof *x->p);
	x->p[x->n_p++].ps = ps;
	return 0;
}

static int clawback_cb(const uint8_t *k KT_UNUSED, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct recon_ctx *x = p;
	Keten__State__ClawbackState *cb;
	if (kl != 33)
		return 0;
	cb = keten__state__clawback_state__unpack(NULL, vl, v);
	if (!cb)
		return 0;
	if (!cb->voided && cb->allocation.len == 32 && (!cb->date || cb->date <= x->as_of))
		kt_idmap_put(&x->clawed, cb->allocation.data, 1);
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
	kt_scan_fn fn;
};

static int via_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct via_scan *s = p;
	const void *val = v;
	size_t n = vl;
	if (kl != 66)
		return 0;
	if (!vl && kt_kv_get(s->t, KT_STATE, k + 33, 33, &val, &n, NULL) != 0)
		return 0;
	return s->fn(k + 33, 33, val, n, s->ctx);
}

int kt_scan_party(keten_txn *t, const uint8_t party[32], uint8_t kind, kt_scan_fn fn, void *ctx, keten_error *err)
{
	struct via_scan s = {ctx, t, fn};
	uint8_t pre[34];
	pre[0] = DX_PARTY;
	memcpy(pre + 1, party, 32);
	pre[33] = kind;
	return kt_kv_scan(t, KT_INDEX, pre, sizeof pre, via_cb, &s, err);
}

static int scan_kind(struct recon_ctx *x, uint8_t kind, kt_scan_fn fn)
{
	int rc;
	if (x->via)
		rc = kt_scan_party(x->t, x->via, kind, fn, x, x->err);
	else
		rc = kt_kv_scan(x->t, KT_STATE, &kind, 1, fn, x, x->err);
	if (rc && x->err && !x->err->msg[0])
		keten_fail(x->err, KETEN_ENOMEM, "out of memory while reading derived state");
	return rc;
}

int kt_recon_scan_subjects(struct recon_ctx *x)
{
	int rc;
	if ((rc = scan_kind(x, DK_ALLOCATION, alloc_cb)) == 0)
		rc = scan_kind(x, DK_OFFER, offer_cb);
	return rc;
}

int kt_recon_scan_records(struct recon_ctx *x)
{
	int rc;
	if ((rc = scan_kind(x, DK_DELIVERY, delivery_cb)) == 0 && (rc = scan_kind(x, DK_CLAIM, claim_cb)) == 0 &&
	    (rc = scan_kind(x, DK_PAYMENT, payment_cb)) == 0)
		rc = scan_kind(x, DK_CLAWBACK, clawback_cb);
	return rc;
}

void kt_recon_ctx_free(struct recon_ctx *x)
{
	for (size_t i = 0; i < x->n_s; i++) {
		kt_state_free(x->s[i].as);
		kt_state_free(x->s[i].os);
	}
	for (size_t i = 0; i < x->n_c; i++) {
		kt_state_free(x->c[i].cs);
		free(x->c[i].pay);
	}
	for (size_t i = 0; i < x->n_p; i++)
		kt_state_free(x->p[i].ps);
	free(x->vol);
	for (size_t i = 0; i < x->n_cstate; i++) {
		kt_state_free(x->cstate[i]);
		if (x->cbody[i])
			keten__framework_contract__free_unpacked(x->cbody[i], NULL);
	}
	for (size_t i = 0; i < x->n_munis; i++)
		free(x->munis[i]);
	free(x->munis);
	free(x->cstate);
	free(x->cbody);
	free(x->s);
	free(x->c);
	free(x->p);
	kt_idmap_free(&x->s_map);
	kt_idmap_free(&x->scope);
	kt_idmap_free(&x->noscope);
	kt_idmap_free(&x->c_map);
	kt_idmap_free(&x->clawed);
	kt_idmap_free(&x->contracts);
	kt_idmap_free(&x->f_seen);
}
