/*
 * record.h — composing entries from what a person means, and recording
 * them: the one place that turns a draft (a claim on this allocation, a
 * payment of that claim, ...) into an entry body, chooses who may read it
 * (its audience) and fills in every default, for the single commands and
 * for `keten batch` alike.
 *
 * A keten_draft holds plain values: ids and keys as 32 bytes (resolve
 * what a person typed with keten_ref_resolve, keten_party_find or
 * keten_contract_find first), dates as YYYYMMDD, amounts in cents, units
 * in hundredths.  Strings and arrays are borrowed for the call.  The
 * composer reads derived state through one read transaction and fills in:
 *
 *   audience   this home first, then the parties of the agreement: for
 *              an allocation or subcontract target its payer and payee
 *              (and the municipality of a subcontract); a new subcontract
 *              goes to the subcontractor and the allocation's municipality
 *              (or the parent subcontract's municipality and lead
 *              provider); a payment to its claim's author and municipality
 *              (a clawback's repayment to its author and the creditors of
 *              this home's debt); a receipt to its payment's author and
 *              municipality; a clawback also to the parties its shares are
 *              passed on to; a correction to the corrected entry's
 *              audience; a dispute to its opener, the authors and
 *              readers of the disputed entries and their municipalities;
 *              a response or ruling to the dispute's audience (without
 *              this home unless it is in it); an allocation to its
 *              provider; a close or resume to the allocation's
 *              municipality and lead provider.  Certificates, revocations, contracts and
 *              indexations are public (no audience).
 *   defaults   a claim's installment: "units" on per-unit work (a per-unit
 *              subcontract, a component allocation); on herstel or a
 *              fixed-amount subcontract "upfront", then "final" once a live
 *              claim for upfront exists or an earlier draft of the same
 *              call claims it, or when a change carried the whole up-front
 *              part over; none otherwise (KETEN_NEED_INSTALLMENT).
 *              A claim's amount: what the agreement says for that
 *              installment (2/3 and 1/3 of herstel, on a replacement the
 *              2/3 less what was paid up front under what it replaces;
 *              after a stop the part of the 1/3 the contract keeps due
 *              for its stop code; the indexed month pro rata over the days
 *              not paused and not after the close date; units x tariff).
 *              A claim's date, number and period: none in the body unless
 *              given (the ledger then counts the entry's date as the
 *              claim's date).  A receipt's amount: the payment's.
 *              A subcontract's end: the end of what it subcontracts; its
 *              contract: the allocation's (or parent subcontract's).  A
 *              subcontract that names a service with pricing
 *              KETEN_PRICING_NONE is priced from the contract's
 *              subcontract tariffs: a per-unit service as units x its
 *              tariff (as signed: not indexed), in its unit; a
 *              share-priced one as its share of what is subcontracted
 *              (rules in docs/money.md), a fixed amount, or per month on
 *              a duurzaam allocation or a monthly subcontract.  An
 *              allocation's amount: the contract's tariff indexed to its
 *              start year (units x unit tariff for a component; 0 when the
 *              table has no such line, which the ledger then refuses) and
 *              its domain and municipality (this home's CBS code when the
 *              contract covers it, else the contract's first).  An
 *              automatic clawback: the contract's early-stop share, its
 *              rule text and the shares passed on.  A revocation without a
 *              date: now.
 *
 * The hard rules are not here: the ledger checks every entry when it is
 * appended (keten/ledger.h), whoever composed it.
 */
#ifndef KETEN_RECORD_H
#define KETEN_RECORD_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keten/keten.h"
#include "keten/batch.h"
#include "keten/contract.h"
#include "keten/entry.h"
#include "keten/party.h"
#include "keten/tariffs.h"

/* Drafts ---------------------------------------------------------------------- */

typedef enum keten_draft_kind {
	KETEN_DRAFT_NONE = 0,
	KETEN_DRAFT_CERTIFICATE, /* a trust anchor certifies a party */
	KETEN_DRAFT_REVOCATION,  /* its certifier revokes it */
	KETEN_DRAFT_CONTRACT,    /* a framework contract with its tariff table */
	KETEN_DRAFT_INDEXATION,  /* a contract's tariffs raised from a year on */
	KETEN_DRAFT_ALLOCATION,  /* a municipality allocates an arrangement */
	KETEN_DRAFT_SUBCONTRACT, /* the lead provider offers part of it */
	KETEN_DRAFT_ANSWER,      /* the subcontractor accepts or refuses */
	KETEN_DRAFT_DELIVERY,    /* care delivered in a month */
	KETEN_DRAFT_CLAIM,       /* an installment, month or units claimed */
	KETEN_DRAFT_PAYMENT,     /* claims (or a clawback) paid */
	KETEN_DRAFT_RECEIPT,     /* what arrived of a payment */
	KETEN_DRAFT_CLOSE,       /* the result or stop of an allocation */
	KETEN_DRAFT_CLAWBACK,    /* money reclaimed after an early stop */
	KETEN_DRAFT_DISPUTE,     /* entries contested */
	KETEN_DRAFT_RESPONSE,    /* a side added to a dispute */
	KETEN_DRAFT_RULING,      /* a dispute decided */
	KETEN_DRAFT_CORRECTION,  /* one of this home's entries voided */
	KETEN_DRAFT_RESUME,      /* a paused allocation resumed */
} keten_draft_kind;

/* Pricing of a subcontract (the values of the ledger's Pricing). */
typedef enum keten_pricing {
	KETEN_PRICING_NONE = 0,
	KETEN_PRICING_FIXED_AMOUNT = 1,
	KETEN_PRICING_PER_UNIT = 2,
	KETEN_PRICING_MONTHLY = 3,
} keten_pricing;

/* Outcome of a trajectory (the values of the ledger's Outcome). */
typedef enum keten_outcome {
	KETEN_OUTCOME_NONE = 0,
	KETEN_OUTCOME_ACHIEVED = 1,
	KETEN_OUTCOME_PARTIAL = 2,
	KETEN_OUTCOME_NOT_ACHIEVED = 3,
	KETEN_OUTCOME_STOPPED = 4,
} keten_outcome;

typedef struct keten_draft_certificate {
	uint8_t key[32];
	const char *name;
	const uint32_t *roles; /* keten_role values */
	size_t n_roles;
	const char *agb, *kvk;             /* NULL: none */
	const char *const *municipalities; /* CBS codes */
	size_t n_municipalities;
	uint32_t valid_from, valid_until; /* 0: not given */
} keten_draft_certificate;

typedef struct keten_draft_revocation {
	uint8_t key[32];
	const char *reason;
	uint32_t at; /* from midnight of this day (Amsterdam, taken as CET); 0: now */
} keten_draft_revocation;

typedef struct keten_draft_stop_rule {
	const char *stop_code;
	uint32_t reclaim_bp;
	bool subcontractor_shares;
} keten_draft_stop_rule;

/* The share of the final part (herstel: the rest after the up-front 2/3)
 * still due after a stop with this code; a code not named keeps keten's
 * default (docs/money.md: 100 % after a stop according to plan, else 0). */
typedef struct keten_draft_stop_final {
	const char *stop_code; /* of the contract's domain list, not 20 (a pause) */
	uint32_t final_bp;     /* 0..10000 */
} keten_draft_stop_final;

typedef struct keten_draft_contract {
	const char *ref;
	const char *domain; /* jeugd | wmo */
	const char *const *municipalities;
	size_t n_municipalities;
	uint32_t valid_from, valid_until;
	const keten_tariffs *tariffs; /* keten_tariffs_parse for this domain */
	uint32_t payment_term_days;   /* 0: the default (30) */
	bool has_subcontract_rule;
	keten_subcontract_rule subcontract_rule;
	bool has_max_margin;
	uint32_t max_margin_bp;
	const keten_draft_stop_rule *early_stop;
	size_t n_early_stop;
	const keten_draft_stop_final *stop_final; /* empty: the defaults */
	size_t n_stop_final;
	const uint8_t (*eligible)[32]; /* empty: any certified provider */
	size_t n_eligible;
	bool sub_subcontracting;
	const char *quality, *dispute_route;  /* NULL: none */
	const keten_sub_tariffs *sub_tariffs; /* keten_sub_tariffs_parse; NULL: no subcontract tariffs */
	uint32_t change_window_days;          /* 0: not named (42 days) */
	uint32_t heavy_window_days;           /* 0: not named (84 days) */
	const char *const *heavy_intensities;
	size_t n_heavy_intensities;
	bool has_delivered_below;
	uint32_t delivered_below_bp; /* not named: 8000 */
} keten_draft_contract;

typedef struct keten_draft_indexation {
	uint8_t contract[32];
	uint32_t year;
	int32_t bp;
} keten_draft_indexation;

typedef struct keten_draft_allocation {
	uint8_t contract[32];
	const char *client_ref; /* pseudonymous: never a BSN */
	uint8_t provider[32];
	keten_kind kind;
	const char *profile, *intensity; /* herstel and duurzaam */
	const char *component;           /* KETEN_KIND_COMPONENT */
	bool has_units;
	int64_t units;        /* hundredths, for a component */
	uint32_t start, end;  /* end 0: open */
	const char *number;   /* toewijzingnummer, NULL: none */
	bool has_amount;      /* false: the indexed tariff */
	int64_t amount_cents; /* with maatwerk */
	const char *maatwerk; /* why the amount is not the tariff */
	bool has_replaces;    /* a change: the allocation it replaces */
	uint8_t replaces[32];
	const char *change_reason; /* JZ002, with replaces */
	bool has_volume;           /* omvang: volume per frequency in volume_unit */
	int64_t volume;            /* hundredths */
	const char *volume_unit;   /* WJ756 word */
	const char *frequency;     /* week | month | total */
} keten_draft_allocation;

typedef struct keten_draft_subcontract {
	uint8_t target[32]; /* an allocation, or an accepted subcontract */
	uint8_t subcontractor[32];
	keten_pricing pricing;
	int64_t amount_cents;       /* fixed amount or per month */
	int64_t units;              /* hundredths, per-unit pricing */
	int64_t unit_tariff_cents;  /* per-unit pricing */
	const char *unit;           /* per-unit pricing */
	uint32_t start, end;        /* end 0: the end of what is subcontracted */
	const char *scope;          /* NULL: none */
	uint32_t payment_term_days; /* 0: the contract's */
	const char *service;        /* a line of the contract's subcontract tariffs; NULL: none */
} keten_draft_subcontract;

typedef struct keten_draft_answer {
	uint8_t offer[32];
	bool accept;
	const char *reason; /* a refusal's reason */
} keten_draft_answer;

typedef struct keten_draft_delivery {
	uint8_t target[32]; /* subcontract or allocation */
	const char *period; /* YYYY-MM */
	int64_t units;      /* hundredths */
	const char *unit;
	const char *note; /* NULL or "": none */
} keten_draft_delivery;

typedef struct keten_draft_claim {
	uint8_t target[32];
	const char *installment; /* upfront | final | YYYY-MM | units; NULL: the default */
	bool has_amount;         /* false: computed */
	int64_t amount_cents;
	const uint8_t (*deliveries)[32];
	size_t n_deliveries;
	const char *number;    /* factuurnummer, unique per payee; NULL or "": none */
	uint32_t date;         /* declaratiedatum; 0: none (the entry's date counts) */
	uint32_t period_from;  /* productperiode (both or neither); 0: none */
	uint32_t period_until; /* inclusive */
} keten_draft_claim;

typedef struct keten_draft_payment {
	const uint8_t (*claims)[32]; /* claims, or the clawback repaid */
	size_t n_claims;
	int64_t amount_cents;
	uint32_t date;
	const char *reference; /* bank end-to-end reference, NULL or "": none */
} keten_draft_payment;

typedef struct keten_draft_receipt {
	uint8_t payment[32];
	bool has_amount; /* false: the payment's amount */
	int64_t amount_cents;
	uint32_t date;     /* 0: none */
	bool not_received; /* nothing arrived (amount 0) */
} keten_draft_receipt;

typedef struct keten_draft_close {
	uint8_t allocation[32];
	keten_outcome outcome;
	const char *stop_code;
	uint32_t date;
} keten_draft_close;

/* A close with stop code 20 (tijdelijk beeindigd) pauses the allocation
 * from the day after its date; a resume ends the pause. */
typedef struct keten_draft_resume {
	uint8_t allocation[32];
	uint32_t date; /* the first day of care again, after the pause's date */
} keten_draft_resume;

typedef struct keten_draft_clawback {
	uint8_t allocation[32];
	bool automatic;       /* computed from the contract's early-stop rule */
	int64_t amount_cents; /* when not automatic */
	const char *reason;   /* NULL: none; follows the computed rule text */
} keten_draft_clawback;

/* The most entries a dispute or response names, and adjustments a ruling carries. */
#define KETEN_DRAFT_MAX_DISPUTED 64u
#define KETEN_DRAFT_MAX_OWES     64u

typedef struct keten_draft_dispute {
	const uint8_t (*entries)[32];
	size_t n_entries;
	const char *text;
	bool has_amount;
	int64_t amount_cents;
} keten_draft_dispute;

typedef struct keten_draft_response {
	uint8_t dispute[32];
	const char *text;
	const uint8_t (*entries)[32]; /* further evidence */
	size_t n_entries;
} keten_draft_response;

typedef struct keten_draft_owes {
	uint8_t debtor[32], creditor[32];
	int64_t amount_cents;
} keten_draft_owes;

typedef struct keten_draft_ruling {
	uint8_t dispute[32];
	const char *decision;
	const keten_draft_owes *owes;
	size_t n_owes;
} keten_draft_ruling;

typedef struct keten_draft_correction {
	uint8_t entry[32];
	const char *reason;
} keten_draft_correction;

/* What to record: `kind` says which member holds the values. */
typedef struct keten_draft {
	keten_draft_kind kind;
	union {
		keten_draft_certificate certificate;
		keten_draft_revocation revocation;
		keten_draft_contract contract;
		keten_draft_indexation indexation;
		keten_draft_allocation allocation;
		keten_draft_subcontract subcontract;
		keten_draft_answer answer;
		keten_draft_delivery delivery;
		keten_draft_claim claim;
		keten_draft_payment payment;
		keten_draft_receipt receipt;
		keten_draft_close close;
		keten_draft_clawback clawback;
		keten_draft_dispute dispute;
		keten_draft_response response;
		keten_draft_ruling ruling;
		keten_draft_correction correction;
		keten_draft_resume resume;
	};
} keten_draft;

/* What a draft that cannot be composed lacks, so that a caller can ask
 * for it in its own words (a flag, a column). */
typedef enum keten_draft_need {
	KETEN_NEED_NONE = 0,    /* nothing a caller can add: see the error */
	KETEN_NEED_INSTALLMENT, /* a claim whose installment has no default here */
	KETEN_NEED_AMOUNT,      /* an amount keten cannot compute (err->msg says why) */
	KETEN_NEED_HELD,        /* an entry it needs is not held here (a contract, a payment) */
} keten_draft_need;

/* Composing ------------------------------------------------------------------- */

/* One composed entry, not yet signed. */
typedef struct keten_composed {
	uint32_t body_type; /* keten_body_type_name() names it */
	uint8_t *body;      /* the encoded body, owned */
	size_t body_len;
	uint8_t audience[KETEN_MAX_AUDIENCE][32]; /* [0, n_audience) is set */
	size_t n_audience;
	int64_t amount_cents; /* the amount the entry carries, -1 when none */
	char installment[16]; /* a claim's installment (the default when chosen), else "" */
} keten_composed;

/* One draft that could not be composed. */
typedef struct keten_draft_fault {
	size_t item; /* 1-based index of the draft */
	keten_draft_need need;
	keten_error err; /* code, message (and rule) */
} keten_draft_fault;

typedef struct keten_composition {
	size_t n;
	keten_composed *entries; /* n, owned; only when every draft composed */
	size_t n_faults;
	keten_draft_fault *faults; /* one per draft that failed, in order */
} keten_composition;

/*
 * Compose n drafts by this home's key without appending them (a dry run,
 * and what keten_record appends).  Each draft sees the drafts before it
 * (a default installment counts the claims composed before it).
 *   L    an open ledger (it need not be unlocked).
 *   d    n drafts.
 *   out  receives the entries when every draft composes; otherwise no
 *        entries and one fault per draft that failed.  Free it with
 *        keten_composition_release in every case.
 *   err  the first fault (err->item its draft).
 * Errors: KETEN_EINVAL (NULL arguments, an unknown kind, a list too long),
 * KETEN_ENOMEM, the first fault's code (KETEN_ENOTFOUND, KETEN_EINVAL,
 * KETEN_ERULE for an automatic clawback refused, ...), those of the store.
 */
KETEN_API int keten_compose(keten_ledger *L, const keten_draft *d, size_t n, keten_composition *out, keten_error *err);

/* Free what a composition owns and clear it; safe on a cleared one and on NULL. */
KETEN_API void keten_composition_release(keten_composition *c);

/* Recording ------------------------------------------------------------------- */

/* One recorded entry. */
typedef struct keten_recorded {
	uint8_t id[32];
	uint32_t body_type;
	int64_t amount_cents; /* -1: none */
	char installment[16]; /* a claim's installment, else "" */
} keten_recorded;

/*
 * Compose n drafts and append them by this home's key in one write
 * transaction, in order: all or none.
 *   L     an open, unlocked ledger.
 *   out   n records (may be NULL): each entry's id, type and amount.
 *   need  may be NULL: what the failing draft lacks (KETEN_NEED_NONE
 *         unless a draft could not be composed).
 *   err   err->item is the 1-based draft that failed, whether it could
 *         not be composed or the ledger refused it; 0 for the whole.
 * Errors: those of keten_compose and of keten_ledger_append (KETEN_ERULE
 * with err->rule, KETEN_EPERM when locked, ...).
 */
KETEN_API int keten_record(keten_ledger *L, const keten_draft *d, size_t n, keten_recorded *out, keten_draft_need *need,
                           keten_error *err);

/*
 * An entry id as a person types it: a full id (64 hex) is taken as it is
 * (the ledger says whether it is known when an entry refers to it), a
 * shorter one is a unique prefix of at least KETEN_MIN_PREFIX digits of a
 * stored entry.  Errors: those of keten_store_resolve.
 */
KETEN_API int keten_ref_resolve(keten_txn *t, const char *hex, uint8_t id[32], keten_error *err);

/* Batches ---------------------------------------------------------------------- */

/*
 * The rows of a parsed batch (keten_batch_parse) as drafts, recorded in one
 * transaction: all or none.  Each row's ids are resolved with
 * keten_ref_resolve; a delivery or claim row names its target by
 * `subcontract` or `allocation`; a payment may list several claims.  Rows
 * get the defaults of the single commands, and each row sees the rows
 * before it (two claim rows on one herstel allocation without an
 * installment claim "upfront", then "final").
 *   L    an open, unlocked ledger.
 *   b    a batch parsed without errors.  When rows cannot be composed,
 *        b->errors receives one (line, message) per such row, in file order
 *        (freed by keten_batch_release), and nothing is appended.
 *   out  b->n_rows records (may be NULL).
 *   err  for a refusal by the ledger err->item is the 1-based row.
 * Errors: KETEN_EINVAL (NULL arguments, a batch with errors),
 * KETEN_EMALFORMED (rows that cannot be composed; see b->errors),
 * KETEN_ENOMEM, those of keten_record.
 */
KETEN_API int keten_batch_record(keten_ledger *L, keten_batch *b, keten_recorded *out, keten_error *err);

/*
 * As keten_batch_record without appending (a dry run): out receives one
 * composed entry per row when every row composes (free it with
 * keten_composition_release); otherwise no entries, and b->errors one
 * (line, message) per row that cannot be composed (out->faults stays
 * empty).  Errors: as keten_batch_record, without the ledger's.
 */
KETEN_API int keten_batch_compose(keten_ledger *L, keten_batch *b, keten_composition *out, keten_error *err);

#endif
