/*
 * batch.h — reading a batch file of deliveries, claims, payments and
 * receipts, as a provider's own administration exports them, for
 * `keten batch FILE`.
 *
 * A batch is CSV (RFC 4180, a header row, ',' or ';' between fields, an
 * optional UTF-8 byte order mark, LF or CRLF) or NDJSON (one JSON object
 * per line).  It is NDJSON when its first character other than white
 * space (after a BOM) is '{'.  Every row has a `type` (delivery, claim,
 * payment or receipt); the other columns, or keys, are named after the
 * flags of the matching command.  Every row is validated before anything
 * is returned, and every bad row is reported with its line number, so
 * that a caller can append all rows in one transaction or none.
 */
#ifndef KETEN_BATCH_H
#define KETEN_BATCH_H

#include "keten/export.h"
#include "keten/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;

/* Input limits (KETEN_BATCH_MAX_*): keten/limits.h.  Larger batches are
 * refused as malformed. */

typedef enum keten_batch_type {
	KETEN_BATCH_NONE = 0,
	KETEN_BATCH_DELIVERY,
	KETEN_BATCH_CLAIM,
	KETEN_BATCH_PAYMENT,
	KETEN_BATCH_RECEIPT,
} keten_batch_type;

typedef enum keten_batch_format {
	KETEN_BATCH_CSV = 1,
	KETEN_BATCH_NDJSON,
} keten_batch_format;

/*
 * One row.  Each string is the column's text as given (CSV fields with
 * the spaces around unquoted fields removed; JSON strings, or integers and
 * reals written out as decimals), owned by the batch, NUL-terminated; NULL
 * when the column is absent or empty.  A parsed value is valid exactly
 * when its string is not NULL.
 *
 * Required per type: delivery: subcontract or allocation, period, units,
 * unit.  claim: subcontract or allocation, and amount or installment.
 * payment: claim, amount, date.  receipt: payment.  subcontract and
 * allocation are never both given.  A claim may also give number (its
 * factuurnummer), date (its declaratiedatum) and period, which for a
 * claim is YYYY-MM or YYYY-MM-DD..YYYY-MM-DD (keten_parse_date_range).  claim (in a payment) and deliveries
 * (in a claim) may list several ids separated by spaces, ',' or ';'.
 */
typedef struct keten_batch_row {
	size_t line; /* line in the file where the row starts (1-based) */
	keten_batch_type type;
	char *subcontract;
	char *allocation;
	char *period; /* YYYY-MM */
	char *units;  /* "1.5" or "1,5" */
	char *unit;
	char *amount;      /* "1234.56" or "1234,56" */
	char *installment; /* upfront | final | units | YYYY-MM */
	char *claim;
	char *payment;
	char *date; /* YYYY-MM-DD */
	char *reference;
	char *note;
	char *deliveries;
	char *number;             /* a claim's factuurnummer */
	int64_t amount_cents;     /* from amount, >= 0 */
	int64_t units_hundredths; /* from units, >= 0: "1.5" is 150 */
	uint32_t date_ymd;        /* from date: YYYYMMDD */
	uint32_t period_ym;       /* from period: YYYYMM (not for a claim) */
	uint32_t period_from;     /* a claim's period: its first day, YYYYMMDD */
	uint32_t period_until;    /* and its last */
} keten_batch_row;

/* One refusal: the line it concerns (0 for the file as a whole) and a
 * message naming every problem of that row, owned by the batch. */
typedef struct keten_batch_error {
	size_t line;
	char *msg;
} keten_batch_error;

typedef struct keten_batch {
	keten_batch_format format;
	char delimiter; /* ',' or ';' for CSV; 0 for NDJSON */
	size_t n_rows;
	keten_batch_row *rows; /* owned; only after success */
	size_t n_errors;
	keten_batch_error *errors; /* owned; one per bad row, in file order */
} keten_batch;

/*
 * Read and validate a whole batch.
 *   data, len  the file's bytes; they are not kept.
 *   out        receives the result.  On success it holds every row and no
 *              errors.  On KETEN_EMALFORMED it holds no rows and, in
 *              out->errors, one (line, message) per bad row: every bad row
 *              of the file, and last the problem that stopped reading it
 *              early, if one did (a bad header, a CSV quote error, a size
 *              limit).  In every case the caller frees it with
 *              keten_batch_release.
 *   err        optional; on KETEN_EMALFORMED it says how many rows are bad
 *              and quotes the first.
 * Errors: KETEN_EINVAL (NULL data with len > 0, or NULL out),
 * KETEN_ENOMEM, KETEN_EMALFORMED (see above; also an empty batch, more
 * than KETEN_BATCH_MAX_BYTES or KETEN_BATCH_MAX_ROWS, a field longer than
 * KETEN_BATCH_MAX_FIELD, unknown or repeated columns, a CSV quote error,
 * a line that is not a JSON object).
 */
KETEN_API int keten_batch_parse(const uint8_t *data, size_t len, keten_batch *out, struct keten_error *err);

/* Free everything a batch owns and clear it; safe on a cleared batch and
 * on NULL. */
KETEN_API void keten_batch_release(keten_batch *b);

/* "delivery", "claim", "payment", "receipt"; NULL for anything else. */
KETEN_API const char *keten_batch_type_name(keten_batch_type t);

#endif
