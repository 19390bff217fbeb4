/*
 * compose.c — the composer's frame (see keten/record.h): one read
 * transaction per call, the audience helpers, packing, the dispatch to
 * one function per draft kind (flow.c, contract.c, party.c, dispute.c),
 * and recording: the composed bodies go to keten_ledger_append in one
 * write transaction, so that the ledger checks them exactly as it checks
 * every other entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "base/base.h"
#include "state/state.h"

/* Context ------------------------------------------------------------------------ */

void kt_compose_begin(kt_compose *x, keten_txn *t, const keten_home_info *info)
{
	memset(x, 0, sizeof *x);
	x->t = t;
	x->info = info;
}

void kt_compose_end(kt_compose *x)
{
	free(x->claimed);
	memset(x, 0, sizeof *x);
}

bool kt_compose_claimed(const kt_compose *x, const uint8_t target[32], const char *installment)
{
	for (size_t i = 0; i < x->n_claimed; i++)
		if (memcmp(x->claimed[i].target, target, 32) == 0 &&
		    strcmp(x->claimed[i].installment, installment) == 0)
			return true;
	return false;
}

/* Remember a composed claim for the drafts after it. */
static int remember_claim(kt_compose *x, const uint8_t target[32], const char *installment, keten_error *err)
{
	if (x->n_claimed == x->cap_claimed) {
		size_t cap = x->cap_claimed ? x->cap_claimed * 2 : 8;
		kt_claimed *p = realloc(x->claimed, cap * sizeof *p);
		if (!p)
			return keten_fail(err, KETEN_ENOMEM, "out of memory composing entries");
		x->claimed = p;
		x->cap_claimed = cap;
	}
	memcpy(x->claimed[x->n_claimed].target, target, 32);
	snprintf(x->claimed[x->n_claimed].installment, sizeof x->claimed[0].installment, "%s", installment);
	x->n_claimed++;
	return KETEN_OK;
}

/* Audience ----------------------------------------------------------------------- */

void kt_aud_add(keten_composed *c, const uint8_t *key, size_t len)
{
	if (!key || len != 32 || c->n_audience >= KETEN_MAX_AUDIENCE)
		return;
	for (size_t i = 0; i < c->n_audience; i++)
		if (memcmp(c->audience[i], key, 32) == 0)
			return;
	memcpy(c->audience[c->n_audience++], key, 32);
}

void kt_aud_self(const kt_compose *x, keten_composed *c)
{
	c->n_audience = 0;
	kt_aud_add(c, x->info->key, 32);
}

void kt_aud_target(const kt_compose *x, keten_composed *c, const uint8_t id[32])
{
	Keten__State__AllocationState *as = NULL;
	Keten__State__OfferState *os = NULL;

	if (kt_state_get(x->t, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor, (void **)&as, NULL) ==
	    0) {
		kt_aud_add(c, as->author.data, as->author.len);
		kt_aud_add(c, as->provider.data, as->provider.len);
	} else if (kt_state_get(x->t, DK_OFFER, id, &keten__state__offer_state__descriptor, (void **)&os, NULL) == 0) {
		kt_aud_add(c, os->author.data, os->author.len);
		kt_aud_add(c, os->subcontractor.data, os->subcontractor.len);
		kt_aud_add(c, os->municipality_key.data, os->municipality_key.len);
	}
	kt_state_free(as);
	kt_state_free(os);
}

/* Bodies ------------------------------------------------------------------------- */

int kt_compose_pack(keten_composed *c, uint32_t type, const ProtobufCMessage *m, keten_error *err)
{
	size_t len = protobuf_c_message_get_packed_size(m), packed;
	if (len > KETEN_MAX_ENTRY_BYTES)
		return keten_fail(err, KETEN_EINVAL, "the %s body would be %zu bytes, more than %u",
		                  keten_body_type_name(type), len, KETEN_MAX_ENTRY_BYTES);
	if (!(c->body = malloc(len ? len : 1)))
		return keten_fail(err, KETEN_ENOMEM, "out of memory composing an entry");
	packed = protobuf_c_message_pack(m, c->body);
	KETEN_ASSERT(packed == len);
	(void)packed;
	c->body_len = len;
	c->body_type = type;
	return KETEN_OK;
}

ProtobufCBinaryData kt_bin32(const uint8_t *b)
{
	ProtobufCBinaryData d = {32, (uint8_t *)b};
	return d;
}

ProtobufCBinaryData *kt_bins(const uint8_t (*ids)[32], size_t n)
{
	ProtobufCBinaryData *b = calloc(n ? n : 1, sizeof *b);
	for (size_t i = 0; b && i < n; i++)
		b[i] = kt_bin32(ids[i]);
	return b;
}

/* Dispatch ----------------------------------------------------------------------- */

int kt_compose_one(kt_compose *x, const keten_draft *d, keten_composed *c, keten_draft_need *need, keten_error *err)
{
	int rc;

	memset(c, 0, sizeof *c);
	c->amount_cents = -1;
	*need = KETEN_NEED_NONE;
	switch (d->kind) {
	case KETEN_DRAFT_CERTIFICATE: rc = kt_compose_certificate(x, &d->certificate, c, err); break;
	case KETEN_DRAFT_REVOCATION: rc = kt_compose_revocation(x, &d->revocation, c, err); break;
	case KETEN_DRAFT_CONTRACT: rc = kt_compose_contract(x, &d->contract, c, err); break;
	case KETEN_DRAFT_INDEXATION: rc = kt_compose_indexation(x, &d->indexation, c, err); break;
	case KETEN_DRAFT_ALLOCATION: rc = kt_compose_allocation(x, &d->allocation, c, need, err); break;
	case KETEN_DRAFT_SUBCONTRACT: rc = kt_compose_subcontract(x, &d->subcontract, c, err); break;
	case KETEN_DRAFT_ANSWER: rc = kt_compose_answer(x, &d->answer, c, err); break;
	case KETEN_DRAFT_DELIVERY: rc = kt_compose_delivery(x, &d->delivery, c, err); break;
	case KETEN_DRAFT_CLAIM: rc = kt_compose_claim(x, &d->claim, c, need, err); break;
	case KETEN_DRAFT_PAYMENT: rc = kt_compose_payment(x, &d->payment, c, err); break;
	case KETEN_DRAFT_RECEIPT: rc = kt_compose_receipt(x, &d->receipt, c, need, err); break;
	case KETEN_DRAFT_CLOSE: rc = kt_compose_close(x, &d->close, c, err); break;
	case KETEN_DRAFT_CLAWBACK: rc = kt_compose_clawback(x, &d->clawback, c, need, err); break;
	case KETEN_DRAFT_DISPUTE: rc = kt_compose_dispute(x, &d->dispute, c, err); break;
	case KETEN_DRAFT_RESPONSE: rc = kt_compose_response(x, &d->response, c, err); break;
	case KETEN_DRAFT_RULING: rc = kt_compose_ruling(x, &d->ruling, c, err); break;
	case KETEN_DRAFT_CORRECTION: rc = kt_compose_correction(x, &d->correction, c, err); break;
	case KETEN_DRAFT_RESUME: rc = kt_compose_resume(x, &d->resume, c, err); break;
	default: rc = keten_fail(err, KETEN_EINVAL, "draft kind %d is not known", (int)d->kind); break;
	}
	if (rc == KETEN_OK && d->kind == KETEN_DRAFT_CLAIM)
		rc = remember_claim(x, d->claim.target, c->installment, err);
	if (rc) {
		free(c->body);
		memset(c, 0, sizeof *c);
		c->amount_cents = -1;
	}
	return rc;
}

/* Composing ---------------------------------------------------------------------- */

void keten_composition_release(keten_composition *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->entries[i].body);
	free(c->entries);
	free(c->faults);
	memset(c, 0, sizeof *c);
}

/* Add a fault for draft item (1-based). */
static int add_fault(keten_composition *out, size_t item, keten_draft_need need, const keten_error *e)
{
	keten_draft_fault *f = realloc(out->faults, (out->n_faults + 1) * sizeof *f);
	if (!f)
		return KETEN_ENOMEM;
	out->faults = f;
	f[out->n_faults].item = item;
	f[out->n_faults].need = need;
	f[out->n_faults].err = *e;
	f[out->n_faults].err.item = item;
	out->n_faults++;
	return KETEN_OK;
}

int keten_compose(keten_ledger *L, const keten_draft *d, size_t n, keten_composition *out, keten_error *err)
{
	keten_composed *entries;
	keten_txn *t;
	kt_compose x;
	int rc = KETEN_OK;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "no composition to fill");
	memset(out, 0, sizeof *out);
	if (!L || (!d && n))
		return keten_fail(err, KETEN_EINVAL, "no ledger or no drafts");
	if (!(entries = calloc(n ? n : 1, sizeof *entries)))
		return keten_fail(err, KETEN_ENOMEM, "out of memory composing entries");
	if ((rc = keten_store_read(keten_ledger_store(L), &t, err))) {
		free(entries);
		return rc;
	}
	kt_compose_begin(&x, t, keten_ledger_info(L));
	for (size_t i = 0; i < n; i++) {
		keten_error e = {0};
		keten_draft_need need = KETEN_NEED_NONE;
		int r = kt_compose_one(&x, &d[i], &entries[i], &need, &e);
		if (r == KETEN_OK)
			continue;
		if (r == KETEN_ENOMEM || add_fault(out, i + 1, need, &e)) {
			rc = keten_fail(err, KETEN_ENOMEM, "out of memory composing entries");
			break;
		}
	}
	kt_compose_end(&x);
	keten_txn_end(t);
	if (rc == KETEN_OK && out->n_faults) {
		rc = out->faults[0].err.code;
		if (err)
			*err = out->faults[0].err;
	}
	if (rc) {
		for (size_t i = 0; i < n; i++)
			free(entries[i].body);
		free(entries);
		return rc;
	}
	out->n = n;
	out->entries = entries;
	return KETEN_OK;
}

/* Recording ---------------------------------------------------------------------- */

int kt_compose_append(keten_ledger *L, const keten_composition *c, keten_recorded *out, keten_error *err)
{
	keten_append *a = calloc(c->n ? c->n : 1, sizeof *a);
	uint8_t(*ids)[32] = calloc(c->n ? c->n : 1, sizeof *ids);
	int rc;

	if (!a || !ids) {
		free(a);
		free(ids);
		return keten_fail(err, KETEN_ENOMEM, "out of memory recording entries");
	}
	for (size_t i = 0; i < c->n; i++) {
		const keten_composed *e = &c->entries[i];
		a[i].body_type = e->body_type;
		a[i].body = e->body;
		a[i].body_len = e->body_len;
		a[i].audience = e->n_audience ? (const uint8_t(*)[32])e->audience : NULL;
		a[i].n_audience = e->n_audience;
	}
	rc = keten_ledger_append(L, a, c->n, ids, err);
	for (size_t i = 0; rc == KETEN_OK && out && i < c->n; i++) {
		memcpy(out[i].id, ids[i], 32);
		out[i].body_type = c->entries[i].body_type;
		out[i].amount_cents = c->entries[i].amount_cents;
		memcpy(out[i].installment, c->entries[i].installment, sizeof out[i].installment);
	}
	free(a);
	free(ids);
	return rc;
}

int keten_record(keten_ledger *L, const keten_draft *d, size_t n, keten_recorded *out, keten_draft_need *need,
                 keten_error *err)
{
	keten_composition c;
	int rc;

	if (need)
		*need = KETEN_NEED_NONE;
	if (out && n)
		memset(out, 0, n * sizeof *out);
	rc = keten_compose(L, d, n, &c, err);
	if (rc) {
		if (need && c.n_faults)
			*need = c.faults[0].need;
		keten_composition_release(&c);
		return rc;
	}
	rc = kt_compose_append(L, &c, out, err);
	keten_composition_release(&c);
	if (rc && out && n)
		memset(out, 0, n * sizeof *out);
	return rc;
}

int keten_ref_resolve(keten_txn *t, const char *hex, uint8_t id[32], keten_error *err)
{
	if (!hex)
		return keten_fail(err, KETEN_EINVAL, "no id given");
	if (strlen(hex) == 64 && keten_unhex(id, 32, hex) == 0)
		return KETEN_OK;
	return keten_store_resolve(t, hex, id, err);
}
