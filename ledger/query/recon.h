/*
 * recon.h — (internal) what the files of reconciliation share (see
 * keten/reconcile.h for what it answers):
 *
 *   reconcile.c   finding kinds, periods, the lines and their sums per
 *                 pair, and keten_reconcile, which runs the steps below
 *   recon_scan.c  the id maps, a look into encoded state records, who
 *                 this home is, and the scans that fill the context
 *   recon_find.c  the findings, from each kind of record
 *   balance.c     keten_recon_balance, from the balance records
 *   bank.c        a camt.053 statement matched to the payments, and the
 *                 findings that follow from it
 *
 * One struct recon_ctx carries a reconciliation from the scans to the
 * result: the records read (allocations and offers as subjects, claims,
 * payments), the maps from entry id to record, and the result being built.
 */
#ifndef KETEN_QUERY_RECON_H
#define KETEN_QUERY_RECON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "keten/camt.h"
#include "keten/reconcile.h"
#include "rules/terms.h"

/* An id -> index map: open addressing on the first bytes of the BLAKE2b
 * id, which are uniform. ------------------------------------------------ */

struct idmap {
	size_t cap, n;
	uint8_t (*k)[32];
	size_t *v;
	bool *used;
};

/* The first 8 bytes of an id, as the hash of the map. */
uint64_t kt_id_hash(const uint8_t id[32]);
/* The value of id; SIZE_MAX when absent. */
size_t kt_idmap_get(const struct idmap *m, const uint8_t id[32]);
/* Set id -> v (replacing); -1 when out of memory. */
int kt_idmap_put(struct idmap *m, const uint8_t id[32], size_t v);
void kt_idmap_free(struct idmap *m);

/* Grow *arr (of *cap elements of size bytes) to hold n + 1; -1 when out of memory. */
int kt_grow(void **arr, size_t *cap, size_t n, size_t size);

/* A look into encoded state records: the first 32-byte value of each of
 * fields[0..nf) (NULL when absent), read straight from the protobuf
 * encoding so that only the records that matter are decoded in full. */
void kt_pb_keys(const uint8_t *v, size_t vl, const uint32_t *fields, size_t nf, const uint8_t **out);
/* The next field at *p: its number, and its bytes (length-delimited) or
 * value (varint).  false at the end or on a malformed record. */
bool kt_pb_next(const uint8_t **p, const uint8_t *end, uint32_t *field, const uint8_t **val, size_t *len,
                uint64_t *num);

/* Call fn for each record of state kind `kind` indexed under party
 * ('P' || party || kind || id: a copy of the record, or "" to look up),
 * with the key and value a scan of the state table would give. */
int kt_scan_party(keten_txn *t, const uint8_t party[32], uint8_t kind, kt_scan_fn fn, void *ctx, keten_error *err);

/* The context ------------------------------------------------------------- */

/* An allocation or subcontract offer, and its line. */
struct subj {
	Keten__State__AllocationState *as; /* one of the two */
	Keten__State__OfferState *os;
	uint32_t term; /* payment term in days */
	bool line;     /* shown as a line (accepted offer, live allocation) */
	bool above;    /* a claim-above-agreed finding was made for one of its claims */
	bool inexact;  /* a sum of its line left the range of cents (then its checks are off) */
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

/* A delivery on an allocation with a volume, or a claim for one of its
 * months (recon_volume.c): the volume findings' material. */
struct vol {
	size_t subj;
	uint32_t ym;
	int64_t units; /* hundredths; 0 for a claim */
	bool claim;
	uint8_t id[32]; /* the delivery's or the claim's */
};

struct pay {
	Keten__State__PaymentState *ps;
	bool receipt_known; /* a receipt dated by as_of */
	bool received;
	int64_t received_cents;
};

struct recon_ctx {
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
	struct idmap clawed; /* allocation -> 1: a clawback exists */
	struct vol *vol;     /* deliveries on allocations with a volume (recon_volume.c) */
	size_t n_vol, cap_vol;
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

static inline bool is_me(const struct recon_ctx *x, const ProtobufCBinaryData *k)
{
	return k->len == 32 && memcmp(k->data, x->o->me, 32) == 0;
}

static inline bool key_is(const ProtobufCBinaryData *k, const uint8_t *key)
{
	return key && k->len == 32 && memcmp(k->data, key, 32) == 0;
}

static inline bool key_eq(const uint8_t *a, const uint8_t *b)
{
	return a && b && memcmp(a, b, 32) == 0;
}

static inline void copy_key(uint8_t out[32], const ProtobufCBinaryData *k)
{
	if (k->len == 32)
		memcpy(out, k->data, 32);
	else
		memset(out, 0, 32);
}

/* A 32-byte id, or NULL. */
static inline const uint8_t *bin(const ProtobufCBinaryData *b)
{
	return b->len == 32 ? b->data : NULL;
}

/* Dated in the period and by as_of. */
static inline bool in_period(const struct recon_ctx *x, uint32_t date)
{
	return (!x->o->from || date >= x->o->from) && (!x->o->until || date <= x->o->until) && date <= x->as_of;
}

/* The steps (recon_scan.c) ------------------------------------------------- */

/* Who this home is: its roles and municipalities. */
void kt_recon_whoami(struct recon_ctx *x);
/* The contract state and body (body NULL when not held here; both NULL
 * when the contract is not known), cached in the context. */
void kt_recon_contract(struct recon_ctx *x, const ProtobufCBinaryData *id, Keten__State__ContractState **cs,
                       Keten__FrameworkContract **fc);
/* The allocations and offers in this home's view: the subjects. */
int kt_recon_scan_subjects(struct recon_ctx *x);
/* Deliveries, claims, payments and clawbacks on the subjects. */
int kt_recon_scan_records(struct recon_ctx *x);
/* Free what the context holds (not the result). */
void kt_recon_ctx_free(struct recon_ctx *x);

/* The rank of a kind in keten_recon_kinds(); its count for another kind
 * (reconcile.c). */
size_t kt_recon_kind_rank(const char *kind);

/* The findings (recon_find.c) ------------------------------------------------ */

/* The findings of one claim (sets c->due) and of one payment (sets the
 * receipt fields of p). */
int kt_recon_claim_findings(struct recon_ctx *x, struct claim *c);
int kt_recon_payment_findings(struct recon_ctx *x, struct pay *p);
/* The findings of a subject: its marks, rijgen, an early stop without a
 * clawback, claims above the whole agreed total. */
int kt_recon_subject_findings(struct recon_ctx *x, struct subj *s);
/* Disputes open at as_of. */
int kt_recon_dispute_findings(struct recon_ctx *x);

/* Add a finding (deduplicated by kind and first id; ids NULL entries
 * skipped; none: not made), as the finding functions do. */
int kt_recon_add(struct recon_ctx *x, const char *kind, const uint8_t *subject, const uint8_t *payer,
                 const uint8_t *payee, int64_t amount, const uint8_t *const *ids, size_t n, const char *detail);

/* A change's or number's mark on allocation s (recon_change.c): true
 * when mark is one (its finding made, *rc its result). */
bool kt_recon_change_mark(struct recon_ctx *x, const struct subj *s, const char *mark, int *rc);

/* Volume findings (recon_volume.c) ---------------------------------------------- */

/* Keep a delivery of the scan (on subject i, month ym) when its allocation has a volume. */
int kt_recon_vol_delivery(struct recon_ctx *x, size_t i, uint32_t ym, int64_t units, const uint8_t id[32]);
/* delivered-above-volume and delivered-below-volume, from what was kept
 * and the claims of the context. */
int kt_recon_volume_findings(struct recon_ctx *x);

/* Bank findings (bank.c) ------------------------------------------------------ */

/*
 * Append to r the findings a bank comparison makes: one per bank-only,
 * ledger-only, amount-differs and duplicate line (in the order of b's
 * lines), then bank-balance-mismatch when the balances are there and do
 * not agree.  They follow the sorted findings of the ledger.
 * Errors: KETEN_ENOMEM.
 */
int kt_recon_bank_findings(keten_recon *r, const keten_bank_result *b, keten_error *err);

#endif
