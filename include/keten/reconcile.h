/*
 * reconcile.h — what the parties asserted, set side by side: per pair of
 * parties and per allocation or subcontract, the agreed amount, the units
 * delivered, what was claimed, paid and confirmed received, what is still
 * outstanding and what of that is overdue; and the soft-rule findings, each
 * with a stable kind and the ids of the entries that prove it.  Also the
 * matching of an ISO 20022 camt.053 bank statement to payment entries.
 *
 * Everything is read from the derived state kept beside the entries (the
 * `state` and `index` tables), never by walking the whole ledger; one
 * party's question (--with, or a provider's own view) reads only the
 * records indexed under that party; a node
 * sees only what it holds bodies of, so each party reconciles from its own
 * point of view:
 *   - a subcontractor: the subcontracts it holds, i.e. what each lead
 *     provider owes it (and what it owes its own subcontractors);
 *   - a lead provider: its allocations (owed by the municipality) and the
 *     subcontracts it gave (owed by it);
 *   - a municipality, region or auditor (or a trust anchor): every
 *     allocation in its municipalities (CBS codes) and the subcontracts
 *     under them.
 */
#ifndef KETEN_RECONCILE_H
#define KETEN_RECONCILE_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_txn;
struct keten_camt_statement;

/* What to reconcile. */
typedef struct keten_recon_opts {
	const uint8_t *me;    /* this home's key (32 bytes); required */
	const uint8_t *with;  /* only lines and findings concerning this party; NULL: all */
	uint32_t from, until; /* period, YYYYMMDD inclusive; 0: open on that side */
	uint32_t as_of;       /* YYYYMMDD: what was known on that day; 0: today */
	/* A parsed camt.053 statement (keten_camt_parse) to match to this
	 * home's payments as keten_recon_bank does, its unmatched lines and a
	 * balance that does not add up becoming findings; NULL: none.  The
	 * comparison is of the whole statement: --with does not narrow it. */
	const struct keten_camt_statement *bank;
} keten_recon_opts;

/* One allocation (municipality -> lead provider) or subcontract (lead
 * provider -> subcontractor).  Amounts in cents; units in hundredths. */
typedef struct keten_recon_line {
	uint8_t subject[32];  /* the allocation or subcontract offer */
	bool subcontract;     /* true: a subcontract offer */
	uint8_t payer[32];    /* municipality, or the lead provider of a subcontract */
	uint8_t payee[32];    /* lead provider, or the subcontractor */
	char what[48];        /* "J03/4 herstel", "W02/B duurzaam", "fixed", "monthly", ... */
	uint32_t start, end;  /* agreed period; end 0: open */
	int64_t agreed_cents; /* total agreed, in the period and up to as_of for monthly terms */
	int64_t delivered_units;
	int64_t claimed_cents;
	int64_t paid_cents;        /* paid on those claims by as_of */
	int64_t received_cents;    /* confirmed received by the payee */
	int64_t outstanding_cents; /* claimed - paid */
	int64_t overdue_cents;     /* unpaid parts of claims past their payment term at as_of */
	size_t n_claims;
} keten_recon_line;

/* The lines of one pair of parties, summed. */
typedef struct keten_recon_pair {
	uint8_t payer[32], payee[32];
	size_t n_lines;
	int64_t agreed_cents, delivered_units, claimed_cents, paid_cents, received_cents, outstanding_cents,
		overdue_cents;
} keten_recon_pair;

/* One soft-rule finding.  kind is one of keten_recon_kinds() (a static
 * string); ids[0] is the entry the finding is about, the others prove it. */
typedef struct keten_recon_finding {
	const char *kind;
	uint8_t subject[32]; /* the allocation or subcontract concerned; zero when none */
	uint8_t payer[32];   /* the parties concerned; zero when not one pair */
	uint8_t payee[32];
	int64_t amount_cents; /* the amount at stake; 0 when none */
	char detail[160];     /* one line, English */
	size_t n_ids;
	uint8_t (*ids)[32]; /* owned */
} keten_recon_finding;

typedef struct keten_recon {
	uint32_t as_of;
	size_t n_lines;
	keten_recon_line *lines; /* by payer, payee, start, subject */
	size_t n_pairs;
	keten_recon_pair *pairs; /* by payer, payee */
	size_t n_findings;
	/* by kind, then first id; then, with a statement, the bank findings
	 * (bank-only, ledger-only, bank-amount-differs, bank-duplicate) in
	 * the order of bank->lines, and bank-balance-mismatch last */
	keten_recon_finding *findings;
	size_t n_extra_kinds;
	char **extra_kinds;             /* owned: kinds marked by body handlers beyond keten_recon_kinds() */
	struct keten_bank_result *bank; /* owned: the statement's comparison when opts->bank was given; else NULL */
} keten_recon;

/*
 * Reconcile from the derived state in one read (or write) transaction.
 *   t    an open transaction of the home's store.
 *   o    options; o->me is required; with o->bank the result also holds
 *        the statement's comparison (out->bank) and its findings.
 *   out  receives the result (free with keten_recon_release); cleared on failure.
 * Errors: KETEN_EINVAL (no me, a bad period), KETEN_ENOMEM, KETEN_ESTORE.
 */
KETEN_API int keten_reconcile(struct keten_txn *t, const keten_recon_opts *o, keten_recon *out,
                              struct keten_error *err);

/* Free what a result owns and clear it; safe on a cleared one and on NULL. */
KETEN_API void keten_recon_release(keten_recon *r);

/* Every finding kind reconcile reports, in a stable order; *n receives the count. */
KETEN_API const char *const *keten_recon_kinds(size_t *n);

/* A one-line meaning of a finding kind ("" for an unknown kind). */
KETEN_API const char *keten_recon_kind_meaning(const char *kind);

/*
 * Parse a period "YYYY-MM", "YYYY-Qn" or "YYYY" into the first and last
 * day (YYYYMMDD).  Returns 0, or -1 for anything else.
 */
KETEN_API int keten_recon_period(const char *s, uint32_t *from, uint32_t *until);

/* Balances ---------------------------------------------------------------- */

/* What passed between this home and one counterparty in one direction. */
typedef struct keten_balance_row {
	uint8_t party[32]; /* the counterparty */
	bool payee;        /* this home is the payee */
	int64_t claimed_cents, paid_cents, received_cents, clawback_cents, repaid_cents;
	/* claimed - paid - clawed back + repaid: what the payer still owes the
	 * payee (negative: the payee owes money back) */
	int64_t outstanding_cents;
} keten_balance_row;

typedef struct keten_balance {
	size_t n_rows;
	keten_balance_row *rows; /* by payer, then payee */
	bool overflow;           /* a sum left the range of cents: the rows are not to be shown */
} keten_balance;

/*
 * The balance of `me` with every counterparty (with NULL) or with one.
 * Without as_of it reads the running total of each pair this home is in
 * (one record per pair, found by the pair index); with as_of (YYYYMMDD)
 * it sums that pair's daily records up to and including the date.  A
 * ledger whose derived state predates those indices is summed from every
 * daily record, as before.  Free with keten_balance_release.
 * Errors: KETEN_EINVAL, KETEN_ENOMEM, KETEN_ESTORE.
 */
KETEN_API int keten_recon_balance(struct keten_txn *t, const uint8_t me[32], const uint8_t *with, uint32_t as_of,
                                  keten_balance *out, struct keten_error *err);
KETEN_API void keten_balance_release(keten_balance *b);

/* Bank statements ------------------------------------------------------- */

typedef enum keten_bank_status {
	KETEN_BANK_MATCHED = 1,    /* bank line and payment agree */
	KETEN_BANK_AMOUNT_DIFFERS, /* matched by reference, but the amounts differ (a partial payment) */
	KETEN_BANK_DUPLICATE,      /* a second bank line for a payment already matched */
	KETEN_BANK_ONLY,           /* a bank line with no payment entry */
	KETEN_LEDGER_ONLY,         /* a payment entry with no bank line */
} keten_bank_status;

/* One line of the comparison. */
typedef struct keten_bank_line {
	keten_bank_status status;
	const char *how;    /* "end-to-end", "remittance", "amount-date", or "" */
	size_t entry;       /* index into the statement's entries; SIZE_MAX: none */
	size_t tx;          /* index into that entry's tx; SIZE_MAX: the entry as a whole */
	size_t file_line;   /* line of the Ntry in the file; 0: none */
	int64_t bank_cents; /* signed: credit positive, debit negative; 0 when none */
	uint32_t bank_date;
	char bank_ref[64]; /* end-to-end id or remittance, cut; "" when none */
	bool has_payment;
	uint8_t payment[32];
	uint8_t payer[32], payee[32];
	int64_t ledger_cents; /* signed from this home's side: received positive, paid negative */
	uint32_t ledger_date;
	char ledger_ref[64];
} keten_bank_line;

typedef struct keten_bank_result {
	size_t n_lines;
	keten_bank_line *lines; /* bank lines in file order, then ledger-only lines by date */
	size_t matched, amount_differs, duplicates, bank_only, ledger_only;
	bool has_balances; /* opening and closing present */
	bool balance_ok;   /* opening + booked credits - debits = closing */
	int64_t opening_cents, closing_cents, computed_cents;
	uint32_t from, until; /* the statement's dates that bound ledger-only lines */
} keten_bank_result;

/* Days either side of a bank booking date within which an amount match counts. */
#define KETEN_BANK_DATE_WINDOW 5

/*
 * Match a parsed statement to the payments this home made or received:
 * first by reference (the payment's end-to-end reference against the bank
 * line's EndToEndId, then its structured or free remittance text), then by
 * equal amount and direction within KETEN_BANK_DATE_WINDOW days, closest
 * date first.  Payments dated within the statement's period (widened by
 * the window) and not matched are reported as ledger-only.
 * Errors: KETEN_EINVAL, KETEN_ENOMEM, KETEN_ESTORE.
 */
KETEN_API int keten_recon_bank(struct keten_txn *t, const uint8_t me[32], const struct keten_camt_statement *s,
                               keten_bank_result *out, struct keten_error *err);

/* Free a bank result and clear it; safe on NULL. */
KETEN_API void keten_bank_release(keten_bank_result *r);

/* "matched", "amount-differs", "duplicate", "bank-only", "ledger-only". */
KETEN_API const char *keten_bank_status_name(keten_bank_status s);

#endif
