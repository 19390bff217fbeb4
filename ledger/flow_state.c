/*
 * flow_state.c — derived state of the settlement domain: generic load and
 * save of state records, balances per pair and day, indices, the stop-code
 * lists, tariff lookup with compounding indexation, and the amounts keten
 * computes (expected claims, automatic clawbacks).  Used by the body
 * handlers (flow_*.c) inside the append transaction and by the commands in
 * read transactions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"

int dom_get(keten_txn *t, uint8_t kind, const uint8_t id[32], const ProtobufCMessageDescriptor *d,
            void **out, keten_error *err)
{
	uint8_t k[33];
	const void *v;
	size_t n;
	int rc;

	*out = NULL;
	k[0] = kind;
	memcpy(k + 1, id, 32);
	rc = keten_kv_get(t, KT_STATE, k, 33, &v, &n, err);
	if (rc)
		return rc;
	*out = protobuf_c_message_unpack(d, NULL, n, v);
	return *out ? KETEN_OK : keten_fail(err, KETEN_ESTORE, "ledger store: damaged %s record", d->short_name);
}

static const uint8_t no_key[32];

/* The party keys a record concerns, in *out (malloc'd; NULL when the kind
 * is not indexed by party).  Returns the count, or -1 without memory. */
static long record_parties(uint8_t kind, const void *msg, const ProtobufCBinaryData ***out)
{
	const ProtobufCBinaryData **p;
	size_t n = 0, max = 4;

	*out = NULL;
	if (kind == DK_CLAWBACK)
		max = 1 + 2 * ((const Keten__State__ClawbackState *)msg)->n_debts;
	else if (kind == DK_DELIVERY)
		max = 1 + ((const Keten__State__DeliveryState *)msg)->n_parties;
	else if (kind != DK_ALLOCATION && kind != DK_OFFER && kind != DK_CLAIM && kind != DK_PAYMENT)
		return 0;
	if (!(p = malloc(max * sizeof *p)))
		return -1;
	switch (kind) {
	case DK_ALLOCATION: {
		const Keten__State__AllocationState *m = msg;
		p[n++] = &m->author;
		p[n++] = &m->provider;
		break;
	}
	case DK_OFFER: {
		const Keten__State__OfferState *m = msg;
		p[n++] = &m->author;
		p[n++] = &m->subcontractor;
		p[n++] = &m->municipality_key;
		break;
	}
	case DK_DELIVERY: {
		const Keten__State__DeliveryState *m = msg;
		p[n++] = &m->author;
		for (size_t i = 0; i < m->n_parties; i++)
			p[n++] = &m->parties[i];
		break;
	}
	case DK_CLAIM: {
		const Keten__State__ClaimState *m = msg;
		p[n++] = &m->author;
		p[n++] = &m->payer;
		p[n++] = &m->municipality_key;
		break;
	}
	case DK_PAYMENT: {
		const Keten__State__PaymentState *m = msg;
		p[n++] = &m->author;
		p[n++] = &m->payee;
		p[n++] = &m->municipality_key;
		break;
	}
	default: {
		const Keten__State__ClawbackState *m = msg;
		p[n++] = &m->author;
		for (size_t i = 0; i < m->n_debts; i++) {
			p[n++] = &m->debts[i]->debtor;
			p[n++] = &m->debts[i]->creditor;
		}
		break;
	}
	}
	*out = p;
	return (long)n;
}

/* Write 'P' || party || kind || id for each of the record's parties (a
 * party named twice, or an absent key, once or not at all).  Claims,
 * payments, deliveries and clawbacks are many and change a few times, so
 * the value is a copy of the record and a party's reader scans them
 * without a lookup each.  Allocations and offers are few per party but
 * rewritten on every claim and payment on them (their totals), so their
 * value is "" and the reader looks them up: copying them would double the
 * writes of every append for little gain. */
static int party_copies(keten_txn *t, uint8_t kind, const uint8_t id[32], const void *msg, const uint8_t *buf,
                        size_t n, keten_error *err)
{
	const ProtobufCBinaryData **p;
	long np = record_parties(kind, msg, &p);
	bool copy = kind != DK_ALLOCATION && kind != DK_OFFER;
	uint8_t k[66];
	int rc = KETEN_OK;

	if (np < 0)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if (!copy) {
		/* the key does not change when the record does: written once */
		const uint8_t *first = NULL;
		for (long i = 0; i < np && !first; i++)
			if (p[i]->len == 32)
				first = p[i]->data;
		k[0] = DX_PARTY;
		if (first) {
			memcpy(k + 1, first, 32);
			k[33] = kind;
			memcpy(k + 34, id, 32);
			if (keten_kv_get(t, KT_INDEX, k, sizeof k, NULL, NULL, NULL) == 0) {
				free(p);
				return KETEN_OK;
			}
		}
		buf = (const uint8_t *)"";
		n = 0;
	}
	k[0] = DX_PARTY;
	k[33] = kind;
	memcpy(k + 34, id, 32);
	for (long i = 0; i < np && rc == 0; i++) {
		bool seen = p[i]->len != 32 || memcmp(p[i]->data, no_key, 32) == 0;
		for (long j = 0; j < i && !seen; j++)
			seen = p[j]->len == 32 && memcmp(p[j]->data, p[i]->data, 32) == 0;
		if (seen)
			continue;
		memcpy(k + 1, p[i]->data, 32);
		rc = keten_kv_put(t, KT_INDEX, k, sizeof k, buf, n, err);
	}
	free(p);
	return rc;
}

int dom_put(keten_txn *t, uint8_t kind, const uint8_t id[32], const void *msg, keten_error *err)
{
	const ProtobufCMessage *m = msg;
	uint8_t k[33], *buf;
	size_t n = protobuf_c_message_get_packed_size(m);
	int rc;

	buf = malloc(n ? n : 1);
	if (!buf)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	protobuf_c_message_pack(m, buf);
	k[0] = kind;
	memcpy(k + 1, id, 32);
	rc = keten_kv_put(t, KT_STATE, k, 33, buf, n, err);
	if (rc == 0)
		rc = party_copies(t, kind, id, msg, buf, n, err);
	free(buf);
	return rc;
}

void dom_free(void *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/* Add delta to one field of the BalanceDay stored under key k (klen bytes);
 * *created tells whether the record is new. */
static int balance_bump(keten_txn *t, const uint8_t *k, size_t klen, dom_bal_field f, int64_t delta, bool *created,
                        keten_error *err)
{
	uint8_t *buf;
	const void *v;
	size_t n;
	Keten__State__BalanceDay *d = NULL, fresh = KETEN__STATE__BALANCE_DAY__INIT, *b = &fresh;
	int64_t *field;
	protobuf_c_boolean *has;
	int rc;

	rc = keten_kv_get(t, KT_STATE, k, klen, &v, &n, NULL);
	*created = rc == KETEN_ENOTFOUND;
	if (rc == 0) {
		d = keten__state__balance_day__unpack(NULL, n, v);
		if (!d)
			return keten_fail(err, KETEN_ESTORE, "ledger store: damaged balance record");
		b = d;
	} else if (rc != KETEN_ENOTFOUND) {
		return keten_fail(err, rc, "ledger store: cannot read a balance");
	}
	switch (f) {
	case BAL_CLAIMED: field = &b->claimed_cents; has = &b->has_claimed_cents; break;
	case BAL_PAID: field = &b->paid_cents; has = &b->has_paid_cents; break;
	case BAL_RECEIVED: field = &b->received_cents; has = &b->has_received_cents; break;
	case BAL_CLAWBACK: field = &b->clawback_cents; has = &b->has_clawback_cents; break;
	default: field = &b->repaid_cents; has = &b->has_repaid_cents; break;
	}
	if (!keten_add_cents(*field, delta, field)) {
		dom_free(d);
		return keten_refuse(err, "amount-overflow", "a balance would overflow");
	}
	*has = 1;
	n = keten__state__balance_day__get_packed_size(b);
	buf = malloc(n ? n : 1);
	if (!buf) {
		dom_free(d);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	keten__state__balance_day__pack(b, buf);
	rc = keten_kv_put(t, KT_STATE, k, klen, buf, n, err);
	free(buf);
	dom_free(d);
	return rc;
}

int dom_balance_add(keten_txn *t, const uint8_t payer[32], const uint8_t payee[32], uint32_t date,
                    dom_bal_field f, int64_t delta, keten_error *err)
{
	uint8_t k[69];
	bool created;
	int rc;

	k[0] = DK_BALANCE;
	memcpy(k + 1, payer, 32);
	memcpy(k + 33, payee, 32);
	keten_be32(k + 65, date);
	if ((rc = balance_bump(t, k, 69, f, delta, &created, err)))
		return rc;
	/* The running total lets `balance` read one record per pair instead
	 * of every day; --as-of still sums the days. */
	k[0] = DK_TOTAL;
	if ((rc = balance_bump(t, k, 65, f, delta, &created, err)) || !created)
		return rc;
	{
		uint8_t pair[64];
		memcpy(pair, payer, 32);
		memcpy(pair + 32, payee, 32);
		if ((rc = dom_index_put(t, DX_PAIR, payer, 32, pair, 64, err)))
			return rc;
		return memcmp(payer, payee, 32) == 0 ? KETEN_OK : dom_index_put(t, DX_PAIR, payee, 32, pair, 64, err);
	}
}

static const uint8_t mark_key[1] = {DK_MARK};

bool dom_indexed(keten_txn *t)
{
	return keten_kv_get(t, KT_STATE, mark_key, 1, NULL, NULL, NULL) == 0;
}

static int any_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	*(bool *)p = true;
	return 1;
}

int dom_index_begin(keten_txn *t, keten_error *err)
{
	static const uint8_t first[4] = {DK_ALLOCATION, DK_OFFER, DK_BALANCE, DK_CLAWBACK};
	bool any = false;
	int rc;

	if (dom_indexed(t))
		return KETEN_OK;
	/* Every other indexed record hangs off an allocation or offer (a
	 * clawback on a withheld allocation, and its balances, aside), so a
	 * ledger without these has nothing the indices could lack. */
	for (size_t i = 0; i < sizeof first && !any; i++)
		if ((rc = keten_kv_scan(t, KT_STATE, &first[i], 1, any_cb, &any, err)))
			return rc;
	return any ? KETEN_OK : keten_kv_put(t, KT_STATE, mark_key, 1, "", 0, err);
}

int dom_set_bytes(ProtobufCBinaryData *b, const uint8_t *data, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	if (!p)
		return -1;
	memcpy(p, data, len);
	free(b->data);
	b->data = p;
	b->len = len;
	return 0;
}

int dom_add_string(char ***arr, size_t *n, const char *s)
{
	char **p = realloc(*arr, (*n + 1) * sizeof *p);
	if (!p)
		return -1;
	*arr = p;
	if (!(p[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

bool dom_has_string(char *const *arr, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(arr[i], s) == 0)
			return true;
	return false;
}

static size_t index_key(uint8_t *k, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2)
{
	k[0] = kind;
	memcpy(k + 1, k1, l1);
	memcpy(k + 1 + l1, k2, l2);
	return 1 + l1 + l2;
}

int dom_index_put(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2,
                  keten_error *err)
{
	uint8_t k[400];
	if (l1 + l2 + 1 > sizeof k)
		return keten_refuse(err, "field-too-long", "a reference or code is too long");
	return keten_kv_put(t, KT_INDEX, k, index_key(k, kind, k1, l1, k2, l2), "", 0, err);
}

int dom_index_del(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2,
                  keten_error *err)
{
	uint8_t k[400];
	if (l1 + l2 + 1 > sizeof k)
		return KETEN_OK;
	return keten_kv_del(t, KT_INDEX, k, index_key(k, kind, k1, l1, k2, l2), err);
}

bool dom_index_has(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2)
{
	uint8_t k[400];
	if (l1 + l2 + 1 > sizeof k)
		return false;
	return keten_kv_get(t, KT_INDEX, k, index_key(k, kind, k1, l1, k2, l2), NULL, NULL, NULL) == 0;
}

struct ref_find { size_t plen; uint8_t id[32]; int found; };

static int ref_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct ref_find *f = p;
	if (kl != f->plen + 32)
		return 0;
	memcpy(f->id, k + f->plen, 32);
	f->found++;
	return 1;
}

int keten_dom_contract_by_ref(keten_txn *t, const char *ref, uint8_t id[32], keten_error *err)
{
	uint8_t k[300];
	size_t n = strlen(ref);
	struct ref_find f = {0};
	int rc;

	if (n + 2 > sizeof k)
		return keten_fail(err, KETEN_ENOTFOUND, "no contract '%s'", ref);
	k[0] = DX_CONTRACT_REF;
	memcpy(k + 1, ref, n);
	k[n + 1] = 0;
	f.plen = n + 2;
	if ((rc = keten_kv_scan(t, KT_INDEX, k, n + 2, ref_cb, &f, err)))
		return rc;
	if (!f.found)
		return keten_fail(err, KETEN_ENOTFOUND, "no framework contract with reference '%s'", ref);
	memcpy(id, f.id, 32);
	return KETEN_OK;
}

int keten_dom_contract_body(keten_txn *t, const uint8_t id[32], Keten__FrameworkContract **out,
                            keten_error *err)
{
	keten_entry e;
	int rc = keten_store_get_entry(t, id, &e, err);
	*out = NULL;
	if (rc)
		return rc;
	if (e.body_type != KETEN__BODY_TYPE__FRAMEWORK_CONTRACT || !e.has_body)
		rc = keten_fail(err, KETEN_ENOTFOUND, "entry is not a framework contract held here");
	else if (!(*out = keten__framework_contract__unpack(NULL, e.body_len, e.body)))
		rc = keten_fail(err, KETEN_EMALFORMED, "framework contract body does not decode");
	keten_entry_release(&e);
	return rc;
}

/* Reden beeindiging: iJw JZ588 (jeugd) and iWmo WMO588 (wmo), release 3.2. */
static const struct { const char *domain, *code, *label; } stop_codes[] = {
	{"jeugd", "02", "Overlijden"},
	{"jeugd", "20", "Tijdelijk beeindigd"},
	{"jeugd", "31", "Beeindigd volgens plan"},
	{"jeugd", "32", "Voortijdig eenzijdig beeindigd door client"},
	{"jeugd", "33", "Voortijdig eenzijdig beeindigd door aanbieder"},
	{"jeugd", "34", "Voortijdig beeindigd in overeenstemming"},
	{"jeugd", "35", "Voortijdig beeindigd door externe omstandigheden"},
	{"jeugd", "36", "Beeindiging geinitieerd door gemeente"},
	{"jeugd", "37", "Beeindigd in verband met wijzigingsverzoek"},
	{"jeugd", "38", "Overstap naar andere aanbieder"},
	{"jeugd", "39", "Uitstroom naar ander domein"},
	{"wmo", "02", "Overlijden"},
	{"wmo", "19", "Beeindigd volgens plan"},
	{"wmo", "20", "Tijdelijk beeindigd"},
	{"wmo", "21", "Eenzijdig beeindigd door client"},
	{"wmo", "22", "Eenzijdig beeindigd door aanbieder"},
	{"wmo", "23", "In overeenstemming voortijdig beeindigd"},
	{"wmo", "31", "Verhuizing"},
	{"wmo", "36", "Beeindiging geinitieerd door gemeente"},
	{"wmo", "37", "Beeindigd in verband met wijzigingsverzoek"},
	{"wmo", "38", "Overstap naar andere aanbieder"},
	{"wmo", "39", "Uitstroom naar ander domein"},
};

const char *keten_dom_stop_label(const char *domain, const char *code)
{
	if (!domain || !code)
		return NULL;
	for (size_t i = 0; i < sizeof stop_codes / sizeof *stop_codes; i++)
		if (strcmp(stop_codes[i].domain, domain) == 0 && strcmp(stop_codes[i].code, code) == 0)
			return stop_codes[i].label;
	return NULL;
}

bool keten_dom_indexed(const Keten__State__ContractState *cs, int64_t cents, uint32_t from_year,
                       uint32_t to_year, int64_t *out)
{
	int64_t v = cents;
	for (size_t i = 0; i < cs->n_indexations; i++) {
		const Keten__State__IndexStep *s = cs->indexations[i];
		if (s->year > from_year && s->year <= to_year && !keten_index_cents(v, s->bp, &v))
			return false;
	}
	*out = v;
	return true;
}

const Keten__Tariff *keten_dom_tariff(const Keten__FrameworkContract *fc, const char *profile,
                                      const char *intensity, uint32_t kind)
{
	if (!profile || !intensity)
		return NULL;
	for (size_t i = 0; i < fc->n_tariffs; i++) {
		const Keten__Tariff *t = fc->tariffs[i];
		if (t->kind == kind && strcmp(t->profile, profile) == 0 && strcmp(t->intensity, intensity) == 0)
			return t;
	}
	return NULL;
}

const Keten__Component *keten_dom_component(const Keten__FrameworkContract *fc, const char *code)
{
	if (!code)
		return NULL;
	for (size_t i = 0; i < fc->n_components; i++)
		if (strcmp(fc->components[i]->code, code) == 0)
			return fc->components[i];
	return NULL;
}

/* Sum of the units of deliveries (hundredths); -1 on a bad reference. */
static int64_t delivery_units(keten_txn *t, const uint8_t (*d)[32], size_t n)
{
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		Keten__State__DeliveryState *ds = NULL;
		if (dom_get(t, DK_DELIVERY, d[i], &keten__state__delivery_state__descriptor, (void **)&ds, NULL))
			return -1;
		if (!ds->voided && !keten_add_cents(sum, ds->units, &sum)) {
			dom_free(ds);
			return -1;
		}
		dom_free(ds);
	}
	return sum;
}

static int expected_alloc(keten_txn *t, const Keten__State__AllocationState *as,
                          const Keten__State__ContractState *known, const char *inst,
                          const uint8_t (*d)[32], size_t nd, int64_t *cents, keten_error *err)
{
	int64_t up, fin;
	uint32_t ym;
	int rc = KETEN_OK;

	if (as->kind == KETEN__KIND__HERSTEL) {
		keten_split_herstel(as->amount_cents, &up, &fin);
		if (strcmp(inst, "upfront") == 0)
			*cents = up;
		else if (strcmp(inst, "final") == 0)
			*cents = fin;
		else
			return keten_fail(err, KETEN_EINVAL, "a herstel arrangement is claimed as 'upfront' and 'final'");
		return KETEN_OK;
	}
	if (as->kind == KETEN__KIND__DUURZAAM) {
		Keten__State__ContractState *cs = NULL;
		int64_t monthly;
		if (keten_parse_period(inst, &ym) != 0)
			return keten_fail(err, KETEN_EINVAL, "a duurzaam arrangement is claimed per month (YYYY-MM)");
		if (!known && (rc = dom_get(t, DK_CONTRACT, as->contract.data, &keten__state__contract_state__descriptor,
		                            (void **)&cs, err)))
			return rc;
		if (!keten_dom_indexed(known ? known : cs, as->amount_cents, as->start / 10000, ym / 100, &monthly))
			rc = keten_fail(err, KETEN_EINVAL, "indexed tariff overflows");
		else
			*cents = keten_prorata_month(monthly, ym, as->start, as->end);
		dom_free(cs);
		return rc;
	}
	/* component: P x Q */
	if (strcmp(inst, "units") != 0)
		return keten_fail(err, KETEN_EINVAL, "a component is claimed as 'units'");
	if (nd == 0) {
		*cents = as->amount_cents;
		return KETEN_OK;
	}
	{
		int64_t units = delivery_units(t, d, nd), per;
		if (units < 0 || as->units <= 0)
			return keten_fail(err, KETEN_EINVAL, "deliveries cannot be counted");
		/* price per hundredth unit as allocated: amount / units, applied to the units delivered */
		per = as->amount_cents;
		if ((__int128)per * units / as->units > KETEN_MAX_CENTS)
			return keten_fail(err, KETEN_EINVAL, "amount overflows");
		*cents = (int64_t)(((__int128)per * units * 2 + as->units) / (2 * (__int128)as->units));
	}
	return KETEN_OK;
}

static int expected_offer(keten_txn *t, const Keten__State__OfferState *os, const char *inst,
                          const uint8_t (*d)[32], size_t nd, int64_t *cents, keten_error *err)
{
	int64_t up, fin;
	uint32_t ym;

	switch (os->pricing) {
	case KETEN__PRICING__FIXED_AMOUNT:
		keten_split_herstel(os->amount_cents, &up, &fin);
		if (strcmp(inst, "upfront") == 0)
			*cents = up;
		else if (strcmp(inst, "final") == 0)
			*cents = fin;
		else
			return keten_fail(err, KETEN_EINVAL,
			                  "a fixed-amount subcontract computes only 'upfront' and 'final': give --amount");
		return KETEN_OK;
	case KETEN__PRICING__MONTHLY:
		if (keten_parse_period(inst, &ym) != 0)
			return keten_fail(err, KETEN_EINVAL, "a monthly subcontract is claimed per month (YYYY-MM)");
		*cents = keten_prorata_month(os->amount_cents, ym, os->start, os->end);
		return KETEN_OK;
	default: {
		int64_t units = nd ? delivery_units(t, d, nd) : os->units;
		if (units < 0)
			return keten_fail(err, KETEN_EINVAL, "deliveries cannot be counted");
		if (!keten_apply_bp(os->unit_tariff_cents, units * 100, cents))
			return keten_fail(err, KETEN_EINVAL, "amount overflows");
		return KETEN_OK;
	}
	}
}

int keten_dom_expected_claim(keten_txn *t, const uint8_t target[32], const char *installment,
                             const uint8_t (*deliveries)[32], size_t n_deliveries, int64_t *cents,
                             keten_error *err)
{
	void *m = NULL;
	int rc;

	if (dom_get(t, DK_ALLOCATION, target, &keten__state__allocation_state__descriptor, &m, NULL) == 0) {
		rc = expected_alloc(t, m, NULL, installment, deliveries, n_deliveries, cents, err);
		dom_free(m);
		return rc;
	}
	if (dom_get(t, DK_OFFER, target, &keten__state__offer_state__descriptor, &m, NULL) == 0) {
		rc = expected_offer(t, m, installment, deliveries, n_deliveries, cents, err);
		dom_free(m);
		return rc;
	}
	return keten_fail(err, KETEN_ENOTFOUND, "the claim's target is not an allocation or subcontract held here");
}

int keten_dom_expected_for(keten_txn *t, const Keten__State__AllocationState *as,
                           const Keten__State__OfferState *os, const Keten__State__ContractState *cs,
                           const char *installment, int64_t *cents, keten_error *err)
{
	if (as)
		return expected_alloc(t, as, cs, installment, NULL, 0, cents, err);
	if (os)
		return expected_offer(t, os, installment, NULL, 0, cents, err);
	return keten_fail(err, KETEN_EINVAL, "no allocation or subcontract");
}

struct offer_scan {
	keten_txn *t;
	const Keten__State__AllocationState *as;   /* the allocation clawed back */
	const uint8_t *provider;
	uint8_t (*parties)[32];
	int64_t *weights;
	size_t n, max;
	int64_t total;
};

/*
 * What a subcontract is worth over its period, its weight in a clawback's
 * split: the amount of a fixed or per-unit subcontract; for a monthly one
 * every month of its period pro rata (an amount a month is not the
 * subcontract's size: six months of 600 weigh 3600, not 600).  An
 * open-ended monthly subcontract runs until the allocation ends or was
 * closed, whichever is first.  false on overflow or with no end at all.
 */
static bool offer_weight(const Keten__State__OfferState *os, const Keten__State__AllocationState *as, int64_t *w)
{
	uint32_t end = os->end, ym, last;

	if (os->pricing != KETEN__PRICING__MONTHLY) {
		*w = os->amount_cents;
		return true;
	}
	if (!end) {
		end = as->end;
		if (as->closed && as->close_date && (!end || as->close_date < end))
			end = as->close_date;
	}
	if (!end || end < os->start)
		return false;
	*w = 0;
	last = end / 100;
	for (ym = os->start / 100; ym <= last; ym = ym % 100 == 12 ? (ym / 100 + 1) * 100 + 1 : ym + 1)
		if (!keten_add_cents(*w, keten_prorata_month(os->amount_cents, ym, os->start, end), w))
			return false;
	return true;
}

static int offer_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct offer_scan *s = p;
	int64_t w;
	Keten__State__OfferState *os = NULL;
	if (kl != 65)
		return 0;
	if (dom_get(s->t, DK_OFFER, k + 33, &keten__state__offer_state__descriptor, (void **)&os, NULL))
		return 0;
	if (os->accepted && !os->voided && memcmp(os->author.data, s->provider, 32) == 0 && s->n < s->max &&
	    offer_weight(os, s->as, &w)) {
		memcpy(s->parties[s->n], os->subcontractor.data, 32);
		s->weights[s->n++] = w;
		keten_add_cents(s->total, w, &s->total);
	}
	dom_free(os);
	return 0;
}

int keten_dom_clawback_auto(keten_txn *t, const uint8_t alloc[32], int64_t *amount,
                            uint8_t (*parties)[32], int64_t *shares, size_t max, size_t *n,
                            char *rule, size_t rule_len, keten_error *err)
{
	Keten__State__AllocationState *as = NULL;
	Keten__FrameworkContract *fc = NULL;
	const Keten__EarlyStopRule *r = NULL;
	int rc;

	*n = 0;
	*amount = 0;
	if ((rc = dom_get(t, DK_ALLOCATION, alloc, &keten__state__allocation_state__descriptor, (void **)&as, err)))
		return rc == KETEN_ENOTFOUND ? (int)keten_fail(err, KETEN_ENOTFOUND, "no allocation held here with that id") : rc;
	if (as->clawback_cents > 0) {
		/* what the early-stop rule asks is claimed once: a second --auto would double it */
		rc = keten_refuse(err, "clawback-exists", "the allocation already has clawbacks of %lld cents: "
		                  "void them (keten correct) before computing it again", (long long)as->clawback_cents);
		goto out;
	}
	if (!as->closed || !as->stop_code) {
		rc = keten_fail(err, KETEN_EINVAL, "the allocation has no stop entry yet: 'keten close' comes first");
		goto out;
	}
	if ((rc = keten_dom_contract_body(t, as->contract.data, &fc, err)))
		goto out;
	for (size_t i = 0; i < fc->n_early_stop; i++)
		if (strcmp(fc->early_stop[i]->stop_code, as->stop_code) == 0)
			r = fc->early_stop[i];
	if (!r) {
		rc = keten_fail(err, KETEN_EINVAL, "the contract has no early-stop rule for stop code %s", as->stop_code);
		goto out;
	}
	if (!keten_apply_bp(as->upfront_paid_cents, r->reclaim_bp, amount)) {
		rc = keten_fail(err, KETEN_EINVAL, "clawback amount overflows");
		goto out;
	}
	if (*amount <= 0) {
		rc = keten_fail(err, KETEN_EINVAL, "nothing to claw back: no up-front payment counted, or a 0%% share");
		goto out;
	}
	snprintf(rule, rule_len, DOM_CLAWBACK_AUTO_PREFIX "%s: %u.%02u%% of up-front paid %lld.%02lld%s", as->stop_code,
	         r->reclaim_bp / 100, r->reclaim_bp % 100, (long long)(as->upfront_paid_cents / 100),
	         (long long)(as->upfront_paid_cents % 100), r->subcontractor_shares ? ", shared pro rata" : "");
	if (r->subcontractor_shares && max > 1) {
		int64_t w[65], parts[65];
		uint8_t ps[64][32];
		struct offer_scan s = {.t = t, .as = as, .provider = as->provider.data, .parties = ps, .weights = w + 1,
		                       .max = max < 64 ? max : 64};
		uint8_t pre[33];
		pre[0] = DX_OFFERS;
		memcpy(pre + 1, alloc, 32);
		if ((rc = keten_kv_scan(t, KT_INDEX, pre, 33, offer_cb, &s, err)))
			goto out;
		if (s.n) {
			w[0] = as->amount_cents > s.total ? as->amount_cents - s.total : 0;
			if (!keten_split_weighted(*amount, w, s.n + 1, parts)) {
				rc = keten_fail(err, KETEN_EINVAL, "cannot split the clawback");
				goto out;
			}
			for (size_t i = 0; i < s.n; i++) {
				memcpy(parties[i], ps[i], 32);
				shares[i] = parts[i + 1];
			}
			*n = s.n;
		}
	}
out:
	if (fc)
		keten__framework_contract__free_unpacked(fc, NULL);
	dom_free(as);
	return rc;
}

int dom_ref_stub(keten_apply *a, const uint8_t *id, size_t len, uint32_t mask, uint32_t *type,
                 bool *stub, keten_error *err)
{
	keten_status st;
	keten_entry e;
	const char *name;
	int rc;

	if (stub)
		*stub = false;
	if (!id || len != 32)
		return keten_refuse(err, "malformed-body", "a reference is not a 32-byte entry id");
	if (keten_store_status(a->txn, id, &st, NULL, 0, NULL) != 0 || st == KS_PENDING ||
	    (st == KS_STUB && !stub && !a->local)) {
		memcpy(a->missing, id, 32);
		return KETEN_EPENDING;
	}
	if ((rc = keten_store_get_entry(a->txn, id, &e, err)))
		return rc;
	*type = e.body_type;
	keten_entry_release(&e);
	name = keten_body_type_name(*type) ? keten_body_type_name(*type) : "entry";
	if (st == KS_REJECTED)
		return keten_refuse(err, "reference-rejected", "the referenced %s was rejected here", name);
	if (!(mask & TYPE_BIT(*type)))
		return keten_refuse(err, "wrong-reference-type", "the referenced entry is a %s, not what this entry needs", name);
	if (st == KS_STUB) {
		if (!stub)
			return keten_refuse(err, "reference-withheld",
			                    "only the signed header of the referenced %s is held here: its body is not ours to see", name);
		*stub = true;
	}
	return KETEN_OK;
}

int dom_ref(keten_apply *a, const uint8_t *id, size_t len, uint32_t mask, uint32_t *type,
            keten_error *err)
{
	return dom_ref_stub(a, id, len, mask, type, NULL, err);
}

int dom_text(const char *field, const char *s, keten_error *err)
{
	if (!s)
		return KETEN_OK;
	if (!keten_text_ok(s, strlen(s)))
		return keten_refuse(err, "invalid-text", "%s is not clean UTF-8 text", field);
	if (keten_text_has_bsn(s))
		return keten_refuse(err, "bsn-in-text", "%s holds a number that passes the BSN 11-test", field);
	return KETEN_OK;
}

uint32_t dom_entry_date(const keten_apply *a)
{
	return keten_date_of_ms(a->e->timestamp_ms);
}

uint32_t dom_roles(const keten_apply *a)
{
	return a->roles ? a->roles : a->anchor ? ROLE_AUTHORITY : 0;
}

bool dom_month_in(uint32_t ym, uint32_t start, uint32_t end)
{
	int y = (int)(ym / 100), m = (int)(ym % 100);
	uint32_t first, last;
	if (m < 1 || m > 12)
		return false;
	first = ym * 100 + 1;
	last = ym * 100 + (uint32_t)keten_days_in_month(y, m);
	return last >= start && (end == 0 || first <= end);
}
