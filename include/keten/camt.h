/*
 * camt.h — reading ISO 20022 camt.053 bank statements (BankToCustomer
 * Statement), as Dutch banks deliver them under the Betaalvereniging
 * implementation guide, so that reconciliation can match bank lines to
 * payment entries.
 *
 * One file holds one statement (one Stmt) of one EUR account.  Any
 * camt.053.001.* namespace is accepted; elements are matched on their
 * local names.  Amounts are read exactly from their decimal text into
 * int64 cents; dates become uint32 YYYYMMDD.  The reader never touches the
 * network or the file system: a DOCTYPE (and so any entity declaration)
 * is refused before libxml2 sees the bytes.
 */
#ifndef KETEN_CAMT_H
#define KETEN_CAMT_H

#include "keten/export.h"
#include "keten/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;

/* Input limits (KETEN_CAMT_MAX_*): keten/limits.h. */

/* One transaction inside an entry (Ntry/NtryDtls/TxDtls).  Every string is
 * owned by the statement, NUL-terminated, trimmed, and NULL when absent. */
typedef struct keten_camt_tx {
	char *end_to_end_id;     /* Refs/EndToEndId; NULL also for "NOTPROVIDED" */
	char *remittance;        /* RmtInf/Ustrd, several joined by one space */
	char *structured_ref;    /* RmtInf/Strd/CdtrRefInf/Ref (betalingskenmerk) */
	char *counterparty_name; /* Dbtr for a credit entry, Cdtr for a debit */
	char *counterparty_iban; /* DbtrAcct or CdtrAcct /Id/IBAN likewise */
	int64_t amount_cents;    /* TxDtls/Amt or AmtDtls/TxAmt/Amt; -1 when absent */
} keten_camt_tx;

/* One booked or pending line of the statement (Ntry). */
typedef struct keten_camt_entry {
	int64_t amount_cents;  /* Amt, >= 0; the direction is in `credit` */
	bool credit;           /* CdtDbtInd: CRDT true, DBIT false */
	bool reversal;         /* RvslInd true */
	uint32_t booking_date; /* BookgDt/Dt (or the date of BookgDt/DtTm); 0 when absent */
	uint32_t value_date;   /* ValDt likewise; 0 when absent */
	char status[8];        /* Sts (or Sts/Cd): "BOOK", "PDNG", "INFO" */
	char *entry_ref;       /* NtryRef, owned, NULL when absent */
	char *info;            /* AddtlNtryInf, owned, NULL when absent */
	size_t line;           /* line of the Ntry element in the file */
	size_t n_tx;
	keten_camt_tx *tx; /* owned array of n_tx */
} keten_camt_entry;

/* A whole statement.  Balances are signed cents: CRDT positive, DBIT
 * negative.  Opening is OPBD, or PRCD when there is no OPBD. */
typedef struct keten_camt_statement {
	char *ns;   /* the document's namespace URI, owned */
	char *id;   /* Stmt/Id, owned */
	char *iban; /* Stmt/Acct/Id/IBAN, owned */
	bool has_opening;
	int64_t opening_cents;
	uint32_t opening_date; /* Bal/Dt/Dt of the opening balance, 0 when absent */
	bool has_closing;
	int64_t closing_cents; /* CLBD */
	uint32_t closing_date;
	size_t n_entries;
	keten_camt_entry *entries; /* owned array of n_entries, in file order */
} keten_camt_statement;

/*
 * Parse a camt.053 statement from len bytes at xml: UTF-8 (a byte order
 * mark is allowed), or US-ASCII, ISO-8859-1, ISO-8859-15 or windows-1252
 * when the XML declaration names it.
 *   xml, len  the file's bytes; they are not kept.
 *   out       receives the statement; on success the caller owns it and
 *             frees it with keten_camt_release.  Cleared on failure.
 *   err       optional; receives a message naming what is wrong and,
 *             where known, the line.
 * Errors: KETEN_EINVAL (NULL xml or out), KETEN_ENOMEM, and
 * KETEN_EMALFORMED for: input over KETEN_CAMT_MAX_BYTES, not XML (also
 * NUL bytes, or another declared encoding), a DOCTYPE, a root that is not a camt.053 Document, no Stmt or more than
 * one, a missing Acct IBAN or statement Id, a missing or bad amount
 * (more than two decimals, a sign, not a number), a currency other than
 * EUR, a missing or bad CdtDbtInd, a bad date, a booked entry without a
 * booking date, a balance type given twice, and more entries or
 * transactions than the limits above.
 */
KETEN_API int keten_camt_parse(const uint8_t *xml, size_t len, keten_camt_statement *out, struct keten_error *err);

/* Free everything a statement owns and clear it; safe on a cleared one
 * and on NULL. */
KETEN_API void keten_camt_release(keten_camt_statement *s);

/*
 * Check that opening + booked credits - booked debits = closing.  Only
 * entries with status "BOOK" count; reversal entries count in the
 * direction their CdtDbtInd gives, as the bank booked them.
 *   s         a parsed statement (not modified).
 *   computed  optional; receives opening + credits - debits when the sum
 *             could be made (also on a mismatch).
 *   err       optional; on a mismatch the message gives all four figures.
 * Returns 0 when the balances agree.  Errors: KETEN_EINVAL (NULL s),
 * KETEN_ENOTFOUND (no opening or no closing balance), KETEN_EMALFORMED
 * (the balances disagree, or the sum overflows int64).
 */
KETEN_API int keten_camt_check_balance(const keten_camt_statement *s, int64_t *computed, struct keten_error *err);

#endif
