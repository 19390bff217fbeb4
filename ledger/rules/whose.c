/*
 * whose.c — the municipality an entry is about (rules.h,
 * kt_entry_municipalities): an allocation's own CBS code, a framework
 * contract's scope (and an indexation's, through its contract), and for
 * everything that belongs to an allocation (offers, answers, deliveries,
 * claims, payments, receipts, results and stops, resumes, clawbacks,
 * corrections) the municipality of that allocation; a dispute's is that
 * of the entries it is about, a response's or ruling's that of its
 * dispute.  The one rule for who beyond an entry's audience may read it
 * (auditors, sync/know.c) and which authorities a dispute is addressed
 * to (dispute.c).
 *
 * The derived state is read first (an offer's record names its root
 * allocation, a claim's its allocation), the signed bodies of what an
 * entry refers to when there is no record (an entry still pending, or
 * one the rules rejected).  A subcontractor holds the allocation only as
 * a stub: for it an offer's municipality is the scope of the framework
 * contract the offer names.  What cannot be traced here (a reference held
 * only as a stub, or not at all) adds nothing: an entry whose
 * municipality is not known is nobody's beyond its audience.
 */
#include <stdio.h>
#include <string.h>

#include "rules/dispute.h"
#include "rules/flow.h"
#include "state/state.h"
#include "base/base.h"

/* Deep enough for a receipt of a payment of a claim on an offer passed
 * on under an offer of an allocation; references never form a cycle
 * (an entry names only entries before it), the bound is for safety. */
#define MAX_DEPTH 8

static void add_code(kt_municipalities *m, const char *code)
{
	if (!code || !*code || strlen(code) >= sizeof m->code[0])
		return;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->code[i], code) == 0)
			return;
	if (m->n < KT_MAX_MUNICIPALITIES)
		snprintf(m->code[m->n++], sizeof m->code[0], "%s", code);
}

static void of_id(keten_txn *t, const ProtobufCBinaryData *id, kt_municipalities *m, int depth);
static void of_body(keten_txn *t, const keten_entry *e, kt_municipalities *m, int depth);

/* From the record an applied entry left; false when id has none. */
static bool of_state(keten_txn *t, const uint8_t id[32], kt_municipalities *m, int depth)
{
	void *r = NULL;
	bool hit = true;

	if (kt_state_get(t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, &r, NULL) == 0)
		add_code(m, ((Keten__State__AllocationState *)r)->municipality);
	else if (kt_state_get(t, DK_OFFER, id, &keten__state__offer_state__descriptor, &r, NULL) == 0) {
		Keten__State__OfferState *o = r;
		size_t was = m->n;
		of_id(t, &o->allocation, m, depth);
		if (m->n == was && o->has_contract)
			of_id(t, &o->contract, m, depth); /* the allocation is a stub here */
	} else if (kt_state_get(t, DK_CLAIM, id, &keten__state__claim_state__descriptor, &r, NULL) == 0) {
		Keten__State__ClaimState *k = r;
		of_id(t, k->has_allocation ? &k->allocation : &k->target, m, depth);
	} else if (kt_state_get(t, DK_DELIVERY, id, &keten__state__delivery_state__descriptor, &r, NULL) == 0)
		of_id(t, &((Keten__State__DeliveryState *)r)->target, m, depth);
	else if (kt_state_get(t, DK_CLAWBACK, id, &keten__state__clawback_state__descriptor, &r, NULL) == 0)
		of_id(t, &((Keten__State__ClawbackState *)r)->allocation, m, depth);
	else if (kt_state_get(t, DK_RECEIPT, id, &keten__state__receipt_state__descriptor, &r, NULL) == 0)
		of_id(t, &((Keten__State__ReceiptState *)r)->payment, m, depth);
	else if (kt_state_get(t, DK_PAYMENT, id, &keten__state__payment_state__descriptor, &r, NULL) == 0) {
		Keten__State__PaymentState *p = r;
		for (size_t i = 0; i < p->n_parts; i++)
			of_id(t, &p->parts[i]->claim, m, depth);
	} else
		hit = false;
	kt_state_free(r);
	return hit;
}

static void of_id(keten_txn *t, const ProtobufCBinaryData *id, kt_municipalities *m, int depth)
{
	keten_entry e;

	if (id->len != 32 || depth >= MAX_DEPTH || of_state(t, id->data, m, depth + 1))
		return;
	if (keten_store_get_entry(t, id->data, &e, NULL) != KETEN_OK)
		return;
	if (e.has_body)
		of_body(t, &e, m, depth + 1);
	keten_entry_release(&e);
}

/* The body types that refer to one entry through their first field. */
static const ProtobufCMessageDescriptor *one_ref(uint32_t type)
{
	switch (type) {
	case KETEN__BODY_TYPE__INDEXATION: return &keten__indexation__descriptor;
	case KETEN__BODY_TYPE__OFFER_ANSWER: return &keten__offer_answer__descriptor;
	case KETEN__BODY_TYPE__DELIVERY: return &keten__delivery__descriptor;
	case KETEN__BODY_TYPE__CLAIM: return &keten__claim__descriptor;
	case KETEN__BODY_TYPE__RECEIPT: return &keten__receipt__descriptor;
	case KETEN__BODY_TYPE__RESULT: return &keten__result__descriptor;
	case KETEN__BODY_TYPE__RESUME: return &keten__resume__descriptor;
	case KETEN__BODY_TYPE__CLAWBACK: return &keten__clawback__descriptor;
	case KETEN__BODY_TYPE__RESPONSE: return &keten__response__descriptor;
	case KETEN__BODY_TYPE__RULING: return &keten__ruling__descriptor;
	case KETEN__BODY_TYPE__CORRECTION: return &keten__correction__descriptor;
	default: return NULL;
	}
}

/* The first field of a one_ref body (contract, allocation, offer, target,
 * payment, dispute or entry: each is field 1, of bytes). */
static void of_first_field(keten_txn *t, const ProtobufCMessageDescriptor *d, const keten_entry *e,
                           kt_municipalities *m, int depth)
{
	ProtobufCMessage *msg = protobuf_c_message_unpack(d, NULL, e->body_len, e->body);
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, 1);

	if (msg && f && f->type == PROTOBUF_C_TYPE_BYTES && f->label != PROTOBUF_C_LABEL_REPEATED)
		of_id(t, (const ProtobufCBinaryData *)((const char *)msg + f->offset), m, depth);
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

static void of_body(keten_txn *t, const keten_entry *e, kt_municipalities *m, int depth)
{
	const ProtobufCMessageDescriptor *d = one_ref(e->body_type);

	if (e->body_type == KETEN__BODY_TYPE__SUBCONTRACT_OFFER) {
		Keten__SubcontractOffer *o = keten__subcontract_offer__unpack(NULL, e->body_len, e->body);
		size_t was = m->n;
		if (o)
			of_id(t, &o->allocation, m, depth);
		if (o && m->n == was && o->has_contract)
			of_id(t, &o->contract, m, depth); /* the allocation is a stub here */
		keten__subcontract_offer__free_unpacked(o, NULL);
	} else if (d) {
		of_first_field(t, d, e, m, depth);
	} else if (e->body_type == KETEN__BODY_TYPE__ALLOCATION) {
		Keten__Allocation *a = keten__allocation__unpack(NULL, e->body_len, e->body);
		if (a)
			add_code(m, a->municipality);
		keten__allocation__free_unpacked(a, NULL);
	} else if (e->body_type == KETEN__BODY_TYPE__FRAMEWORK_CONTRACT) {
		Keten__FrameworkContract *c = keten__framework_contract__unpack(NULL, e->body_len, e->body);
		for (size_t i = 0; c && i < c->n_municipalities; i++)
			add_code(m, c->municipalities[i]);
		keten__framework_contract__free_unpacked(c, NULL);
	} else if (e->body_type == KETEN__BODY_TYPE__PAYMENT) {
		Keten__Payment *p = keten__payment__unpack(NULL, e->body_len, e->body);
		for (size_t i = 0; p && i < p->n_claims; i++)
			of_id(t, &p->claims[i], m, depth);
		keten__payment__free_unpacked(p, NULL);
	} else if (e->body_type == KETEN__BODY_TYPE__DISPUTE) {
		Keten__Dispute *k = keten__dispute__unpack(NULL, e->body_len, e->body);
		for (size_t i = 0; k && i < k->n_entries; i++)
			of_id(t, &k->entries[i], m, depth);
		keten__dispute__free_unpacked(k, NULL);
	}
}

void kt_entry_municipalities(keten_txn *t, const keten_entry *e, kt_municipalities *m)
{
	m->n = 0;
	if (e->has_body)
		of_body(t, e, m, 0);
	else
		of_state(t, e->id, m, 1);
}

bool kt_municipalities_has(const kt_municipalities *m, const char *code)
{
	for (size_t i = 0; code && i < m->n; i++)
		if (strcmp(m->code[i], code) == 0)
			return true;
	return false;
}
