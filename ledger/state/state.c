/*
 * state.c — derived state of the settlement domain: generic load and
 * save of state records, balances per pair and day, indices, the stop-code
 * lists, tariff lookup with compounding indexation, and the amounts keten
 * computes (expected claims, automatic clawbacks).  Used by the body
 * rules (rules/) inside the append transaction and by the commands in
 * read transactions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"
#include "base/base.h"

/* The message a record of kind is (NULL: not a kind kt_state_get and
 * kt_state_put read or write; balances and the mark have their own). */
static const ProtobufCMessageDescriptor *record_descriptor(uint8_t kind)
{
	switch (kind) {
	case DK_CONTRACT: return &keten__state__contract_state__descriptor;
	case DK_ALLOCATION: return &keten__state__allocation_state__descriptor;
	case DK_OFFER: return &keten__state__offer_state__descriptor;
	case DK_DELIVERY: return &keten__state__delivery_state__descriptor;
	case DK_CLAIM: return &keten__state__claim_state__descriptor;
	case DK_PAYMENT: return &keten__state__payment_state__descriptor;
	case DK_RECEIPT: return &keten__state__receipt_state__descriptor;
	case DK_CLAWBACK: return &keten__state__clawback_state__descriptor;
	default: return NULL;
	}
}

/* Every record's first field is the 32-byte id of the entry it derives
 * from, the id it is stored under. */
static bool record_id_ok(const ProtobufCMessage *m, const uint8_t id[32])
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
	const ProtobufCBinaryData *b;

	if (!f || f->type != PROTOBUF_C_TYPE_BYTES || strcmp(f->name, "id") != 0)
		return false;
	b = (const ProtobufCBinaryData *)((const char *)m + f->offset);
	return b->len == 32 && b->data && memcmp(b->data, id, 32) == 0;
}

int kt_state_get(keten_txn *t, uint8_t kind, const uint8_t id[32], const ProtobufCMessageDescriptor *d, void **out,
                 keten_error *err)
{
	uint8_t k[33];
	const void *v;
	size_t n;
	int rc;

	KETEN_ASSERT(record_descriptor(kind) == d && id != NULL);
	*out = NULL;
	k[0] = kind;
	memcpy(k + 1, id, 32);
	rc = kt_kv_get(t, KT_STATE, k, 33, &v, &n, err);
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

	KETEN_ASSERT(record_descriptor(kind) == ((const ProtobufCMessage *)msg)->descriptor);
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
	KETEN_ASSERT(n <= max);
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
static int party_copies(keten_txn *t, uint8_t kind, const uint8_t id[32], const void *msg, const uint8_t *buf, size_t n,
                        keten_error *err)
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
			if (kt_kv_get(t, KT_INDEX, k, sizeof k, NULL, NULL, NULL) == 0) {
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
		rc = kt_kv_put(t, KT_INDEX, k, sizeof k, buf, n, err);
	}
	free(p);
	return rc;
}

int kt_state_put(keten_txn *t, uint8_t kind, const uint8_t id[32], const void *msg, keten_error *err)
{
	const ProtobufCMessage *m = msg;
	uint8_t k[33], *buf;
	size_t n;
	int rc;

	/* a record of a known kind, under the id of the entry it derives from */
	KETEN_ASSERT(record_descriptor(kind) != NULL && record_descriptor(kind) == m->descriptor);
	KETEN_ASSERT(record_id_ok(m, id));
	n = protobuf_c_message_get_packed_size(m);
	buf = malloc(n ? n : 1);
	if (!buf)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	protobuf_c_message_pack(m, buf);
	k[0] = kind;
	memcpy(k + 1, id, 32);
	rc = kt_kv_put(t, KT_STATE, k, 33, buf, n, err);
	if (rc == 0)
		rc = party_copies(t, kind, id, msg, buf, n, err);
	free(buf);
	return rc;
}

void kt_state_free(void *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

/* Add delta to one field of the BalanceDay stored under key k (klen bytes);
 * *created tells whether the record is new. */
static int balance_bump(keten_txn *t, const uint8_t *k, size_t klen, kt_bal_field f, int64_t delta, bool *created,
                        keten_error *err)
{
	uint8_t *buf;
	const void *v;
	size_t n;
	Keten__State__BalanceDay *d = NULL, fresh = KETEN__STATE__BALANCE_DAY__INIT, *b = &fresh;
	int64_t *field;
	protobuf_c_boolean *has;
	int rc;

	/* 'b' || payer || payee || date, or 'T' || payer || payee */
	KETEN_ASSERT((klen == 69 && k[0] == DK_BALANCE) || (klen == 65 && k[0] == DK_TOTAL));
	rc = kt_kv_get(t, KT_STATE, k, klen, &v, &n, NULL);
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
	case BAL_CLAIMED:
		field = &b->claimed_cents;
		has = &b->has_claimed_cents;
		break;
	case BAL_PAID:
		field = &b->paid_cents;
		has = &b->has_paid_cents;
		break;
	case BAL_RECEIVED:
		field = &b->received_cents;
		has = &b->has_received_cents;
		break;
	case BAL_CLAWBACK:
		field = &b->clawback_cents;
		has = &b->has_clawback_cents;
		break;
	default:
		KETEN_ASSERT(f == BAL_REPAID);
		field = &b->repaid_cents;
		has = &b->has_repaid_cents;
		break;
	}
	if (!keten_add_cents(*field, delta, field)) {
		kt_state_free(d);
		return keten_refuse(err, "amount-overflow", "a balance would overflow");
	}
	*has = 1;
	n = keten__state__balance_day__get_packed_size(b);
	buf = malloc(n ? n : 1);
	if (!buf) {
		kt_state_free(d);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	keten__state__balance_day__pack(b, buf);
	rc = kt_kv_put(t, KT_STATE, k, klen, buf, n, err);
	free(buf);
	kt_state_free(d);
	return rc;
}

int kt_balance_add(keten_txn *t, const uint8_t payer[32], const uint8_t payee[32], uint32_t date, kt_bal_field f,
                   int64_t delta, keten_error *err)
{
	uint8_t k[69];
	bool created;
	int rc;

	KETEN_ASSERT(payer != NULL && payee != NULL && f <= BAL_REPAID);
	k[0] = DK_BALANCE;
	memcpy(k + 1, payer, 32);
	memcpy(k + 33, payee, 32);
	kt_be32(k + 65, date);
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
		if ((rc = kt_index_put(t, DX_PAIR, payer, 32, pair, 64, err)))
			return rc;
		return memcmp(payer, payee, 32) == 0 ? KETEN_OK : kt_index_put(t, DX_PAIR, payee, 32, pair, 64, err);
	}
}

static const uint8_t mark_key[1] = {DK_MARK};

bool kt_state_indexed(keten_txn *t)
{
	return kt_kv_get(t, KT_STATE, mark_key, 1, NULL, NULL, NULL) == 0;
}

static int any_cb(const uint8_t *k KT_UNUSED, size_t kl KT_UNUSED, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED,
                  void *p)
{
	*(bool *)p = true;
	return 1;
}

int kt_state_index_begin(keten_txn *t, keten_error *err)
{
	static const uint8_t first[4] = {DK_ALLOCATION, DK_OFFER, DK_BALANCE, DK_CLAWBACK};
	bool any = false;
	int rc;

	if (kt_state_indexed(t))
		return KETEN_OK;
	/* Every other indexed record hangs off an allocation or offer (a
	 * clawback on a withheld allocation, and its balances, aside), so a
	 * ledger without these has nothing the indices could lack. */
	for (size_t i = 0; i < sizeof first && !any; i++)
		if ((rc = kt_kv_scan(t, KT_STATE, &first[i], 1, any_cb, &any, err)))
			return rc;
	return any ? KETEN_OK : kt_kv_put(t, KT_STATE, mark_key, 1, "", 0, err);
}

int kt_set_bytes(ProtobufCBinaryData *b, const uint8_t *data, size_t len)
{
	uint8_t *p;

	KETEN_ASSERT(data != NULL || len == 0);
	p = malloc(len ? len : 1);
	if (!p)
		return -1;
	memcpy(p, data, len);
	free(b->data);
	b->data = p;
	b->len = len;
	return 0;
}

int kt_strs_add(char ***arr, size_t *n, const char *s)
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

bool kt_strs_has(char *const *arr, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(arr[i], s) == 0)
			return true;
	return false;
}

static bool index_kind_ok(uint8_t kind)
{
	return kind == DX_CONTRACT_REF || kind == DX_OFFERS || kind == DX_INSTALLMENT || kind == DX_CLIENT ||
		kind == DX_PARTY || kind == DX_PAIR || kind == DX_INVOICE || kind == DX_ALLOC_NUMBER;
}

/* kind || k1 || k2 into k (which holds at least 1 + l1 + l2 bytes). */
static size_t index_key(uint8_t *k, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2)
{
	KETEN_ASSERT(index_kind_ok(kind));
	k[0] = kind;
	memcpy(k + 1, k1, l1);
	memcpy(k + 1 + l1, k2, l2);
	return 1 + l1 + l2;
}

int kt_index_put(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2, keten_error *err)
{
	uint8_t k[400];
	if (l1 + l2 + 1 > sizeof k)
		return keten_refuse(err, "field-too-long", "a reference or code is too long");
	return kt_kv_put(t, KT_INDEX, k, index_key(k, kind, k1, l1, k2, l2), "", 0, err);
}

int kt_index_del(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2, keten_error *err)
{
	uint8_t k[400];
	if (l1 + l2 + 1 > sizeof k)
		return KETEN_OK;
	return kt_kv_del(t, KT_INDEX, k, index_key(k, kind, k1, l1, k2, l2), err);
}

bool kt_index_has(keten_txn *t, uint8_t kind, const void *k1, size_t l1, const void *k2, size_t l2)
{
	uint8_t k[400];
	if (l1 + l2 + 1 > sizeof k)
		return false;
	return kt_kv_get(t, KT_INDEX, k, index_key(k, kind, k1, l1, k2, l2), NULL, NULL, NULL) == 0;
}
