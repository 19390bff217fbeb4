/*
 * compose.h — (internal) the composer's parts (see keten/record.h): one
 * context per call, the audience helpers, packing a body, and one
 * function per draft kind (flow.c, contract.c, party.c, dispute.c) that
 * compose.c dispatches to and batch.c reuses for the rows of a batch.
 */
#ifndef KETEN_COMPOSE_COMPOSE_H
#define KETEN_COMPOSE_COMPOSE_H

#include <stdbool.h>
#include <stdint.h>

#include "keten/keten.h"
#include "keten/record.h"
#include "proto/keten.pb-c.h"

/* A claim composed earlier in the same call, so that a later draft's
 * default installment sees it. */
typedef struct kt_claimed {
	uint8_t target[32];
	char installment[16];
} kt_claimed;

/* One call of the composer: its read transaction and this home. */
typedef struct kt_compose {
	keten_txn *t;
	const keten_home_info *info; /* key: self; municipality: this home's CBS code */
	kt_claimed *claimed;
	size_t n_claimed, cap_claimed;
} kt_compose;

/* Start a context over t for this home; kt_compose_end frees what it holds. */
void kt_compose_begin(kt_compose *x, keten_txn *t, const keten_home_info *info);
void kt_compose_end(kt_compose *x);

/*
 * Compose one draft into out (cleared first; out->body owned on success).
 * need is set when the draft lacks something a caller may add.  A claim
 * composed is remembered in x for the drafts after it.
 */
int kt_compose_one(kt_compose *x, const keten_draft *d, keten_composed *out, keten_draft_need *need, keten_error *err);

/* Did an earlier draft of this call claim installment on target? */
bool kt_compose_claimed(const kt_compose *x, const uint8_t target[32], const char *installment);

/* Audience: add a 32-byte key once (other lengths and a full list are
 * ignored); self first; the parties of an allocation or offer. */
void kt_aud_add(keten_composed *c, const uint8_t *key, size_t len);
void kt_aud_self(const kt_compose *x, keten_composed *c);
void kt_aud_target(const kt_compose *x, keten_composed *c, const uint8_t id[32]);

/* Encode m as the body of c, of body type `type`. */
int kt_compose_pack(keten_composed *c, uint32_t type, const ProtobufCMessage *m, keten_error *err);

/* Point a protobuf bytes field at 32 bytes. */
ProtobufCBinaryData kt_bin32(const uint8_t *b);
/* n ids as protobuf bytes fields, in a malloc'd array (NULL: out of memory). */
ProtobufCBinaryData *kt_bins(const uint8_t (*ids)[32], size_t n);

/* Per kind: flow.c */
int kt_compose_subcontract(kt_compose *x, const keten_draft_subcontract *d, keten_composed *c, keten_error *err);
int kt_compose_answer(kt_compose *x, const keten_draft_answer *d, keten_composed *c, keten_error *err);
int kt_compose_delivery(kt_compose *x, const keten_draft_delivery *d, keten_composed *c, keten_error *err);
int kt_compose_claim(kt_compose *x, const keten_draft_claim *d, keten_composed *c, keten_draft_need *need,
                     keten_error *err);
int kt_compose_payment(kt_compose *x, const keten_draft_payment *d, keten_composed *c, keten_error *err);
int kt_compose_receipt(kt_compose *x, const keten_draft_receipt *d, keten_composed *c, keten_draft_need *need,
                       keten_error *err);
int kt_compose_close(kt_compose *x, const keten_draft_close *d, keten_composed *c, keten_error *err);
int kt_compose_resume(kt_compose *x, const keten_draft_resume *d, keten_composed *c, keten_error *err);
int kt_compose_clawback(kt_compose *x, const keten_draft_clawback *d, keten_composed *c, keten_draft_need *need,
                        keten_error *err);
int kt_compose_correction(kt_compose *x, const keten_draft_correction *d, keten_composed *c, keten_error *err);

/* contract.c */
int kt_compose_contract(kt_compose *x, const keten_draft_contract *d, keten_composed *c, keten_error *err);
int kt_compose_indexation(kt_compose *x, const keten_draft_indexation *d, keten_composed *c, keten_error *err);
int kt_compose_allocation(kt_compose *x, const keten_draft_allocation *d, keten_composed *c, keten_draft_need *need,
                          keten_error *err);

/* party.c */
int kt_compose_certificate(kt_compose *x, const keten_draft_certificate *d, keten_composed *c, keten_error *err);
int kt_compose_revocation(kt_compose *x, const keten_draft_revocation *d, keten_composed *c, keten_error *err);

/* dispute.c */
int kt_compose_dispute(kt_compose *x, const keten_draft_dispute *d, keten_composed *c, keten_error *err);
int kt_compose_response(kt_compose *x, const keten_draft_response *d, keten_composed *c, keten_error *err);
int kt_compose_ruling(kt_compose *x, const keten_draft_ruling *d, keten_composed *c, keten_error *err);

/* Append composed entries by L's key in one transaction (compose.c);
 * out (may be NULL) receives one record each. */
int kt_compose_append(keten_ledger *L, const keten_composition *c, keten_recorded *out, keten_error *err);

#endif
