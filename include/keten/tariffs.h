/*
 * tariffs.h — reading a framework contract's tariff table from CSV, for
 * `keten contract add --tariffs FILE` (see keten/record.h: the contract
 * draft carries the table this reader returns).
 *
 * The CSV (RFC 4180, ',' between fields) has a header row naming the
 * columns domain, profile, profile_name (optional), intensity, kind,
 * tariff_cents and per, in any order.  A line that starts with '#'
 * between records is a comment and is skipped.  Rows of the contract's
 * domain become tariff lines: kind herstel per traject (a price per
 * trajectory) or duurzaam per maand (a price per month).  Rows of domain
 * "component" become P x Q components, priced per unit; `per` names the
 * unit in Dutch or English (uur/hour, minuut/minute, dag/day, dagdeel,
 * etmaal, week, rit/consult/stuk(s)/piece).  Rows of other domains are
 * skipped.  tariff_cents is a whole number of euro cents.  The
 * subcontract tariff table (keten_sub_tariffs_read, below) is a table of
 * its own.
 */
#ifndef KETEN_TARIFFS_H
#define KETEN_TARIFFS_H

#include "keten/export.h"

#include <stddef.h>
#include <stdint.h>

struct keten_error;

/* Kinds of arrangement (the values of the ledger's Kind). */
typedef enum keten_kind {
	KETEN_KIND_NONE = 0,
	KETEN_KIND_HERSTEL = 1,   /* recovery: a fixed price per trajectory, 2/3 + 1/3 */
	KETEN_KIND_DUURZAAM = 2,  /* sustained: a fixed amount per month */
	KETEN_KIND_COMPONENT = 3, /* a loose component, P x Q */
} keten_kind;

/* One tariff line.  Strings owned by the table. */
typedef struct keten_tariff_line {
	char *profile;   /* e.g. J03 */
	char *name;      /* profile_name, "" when the column is absent */
	char *intensity; /* e.g. 4, B, B+ */
	keten_kind kind; /* KETEN_KIND_HERSTEL or KETEN_KIND_DUURZAAM */
	int64_t cents;   /* per trajectory (herstel) or per month (duurzaam) */
} keten_tariff_line;

/* One component.  Strings owned by the table; unit is a static string. */
typedef struct keten_tariff_component {
	char *code;
	char *name;
	const char *unit; /* iJw unit: minute, hour, day, dagdeel, etmaal, week, piece */
	int64_t cents_per_unit;
} keten_tariff_component;

typedef struct keten_tariffs {
	size_t n_tariffs;
	keten_tariff_line *tariffs;
	size_t n_components;
	keten_tariff_component *components;
} keten_tariffs;

/*
 * Read a tariff table for a contract of `domain` ("jeugd" or "wmo").
 *   data, len  the CSV bytes (not kept).
 *   domain     the rows of this domain become tariff lines.
 *   out        receives the table on success; cleared on failure.  Free
 *              it with keten_tariffs_release.
 * Errors: KETEN_EINVAL (NULL arguments), KETEN_ENOMEM, KETEN_EMALFORMED
 * with err->msg saying what: a missing column ("the header has no column
 * 'kind'"), a bad row ("row 3: tariff_cents 'x' is not a whole number of
 * cents"; rows counted from the header as row 1, comments not counted),
 * a CSV quote error, or no tariff line at all ("no tariff lines for
 * domain wmo").
 */
KETEN_API int keten_tariffs_parse(const uint8_t *data, size_t len, const char *domain, keten_tariffs *out,
                                  struct keten_error *err);

/*
 * keten_tariffs_parse of the file at path.  Errors: those of
 * keten_tariffs_parse, and KETEN_ENOTFOUND when the file cannot be opened
 * or read ("cannot read 'PATH': REASON").
 */
KETEN_API int keten_tariffs_read(const char *path, const char *domain, keten_tariffs *out, struct keten_error *err);

/* Free what a table owns and clear it; safe on a cleared table and on NULL. */
KETEN_API void keten_tariffs_release(keten_tariffs *t);

/* Subcontract tariffs ----------------------------------------------------------
 *
 * The subcontract tariff table (onderaannemerstarieven) of a framework
 * contract, for `keten contract add --sub-tariffs FILE`: what a lead
 * provider pays a subcontractor per service, signed in the contract
 * beside the arrangement tariffs (which are the municipality's prices to
 * the lead provider).  The CSV has a header row naming the columns
 * service, unit and tariff_cents, and optionally name and share_pct, in
 * any order; '#' lines between records are comments, as in the tariff
 * table.  A row is either
 *   - per unit: unit one of the WJ756 words minute, hour, etmaal, dagdeel,
 *     piece-output (stuks, output), piece-effort (stuks, inspanning) or
 *     euro, and tariff_cents a whole number of cents above zero; or
 *   - share-priced: share_pct a percentage above 0 and at most 100 (up to
 *     two decimals, "62.5" or "62,5"), unit and tariff_cents empty: the
 *     subcontractor is paid that share of what is subcontracted (herstel:
 *     of the trajectory; duurzaam: of the month).
 * Services are unique within a table.
 */

/* One line.  Strings owned by the table; unit is a static string. */
typedef struct keten_sub_tariff {
	char *service;
	char *name;        /* "" when the column is absent or empty */
	const char *unit;  /* per unit: a WJ756 word; NULL when share-priced */
	int64_t cents;     /* per unit; 0 when share-priced */
	uint32_t share_bp; /* share-priced: 1..10000 basis points; 0 per unit */
} keten_sub_tariff;

typedef struct keten_sub_tariffs {
	size_t n;
	keten_sub_tariff *lines;
} keten_sub_tariffs;

/*
 * Read a subcontract tariff table.
 *   data, len  the CSV bytes (not kept).
 *   out        receives the table on success; cleared on failure.  Free
 *              it with keten_sub_tariffs_release.
 * Errors: KETEN_EINVAL (NULL arguments), KETEN_ENOMEM, KETEN_EMALFORMED
 * with err->msg saying what: a missing column ("the header has no column
 * 'unit'"), a bad row ("row 3: unit 'piece' is not a WJ756 unit (minute,
 * hour, etmaal, dagdeel, piece-output, piece-effort, euro)", "row 4:
 * service 'x' appears twice", ...; rows counted from the header as row 1,
 * comments not counted), a CSV quote error, or no line at all ("no
 * subcontract tariff lines").
 */
KETEN_API int keten_sub_tariffs_parse(const uint8_t *data, size_t len, keten_sub_tariffs *out, struct keten_error *err);

/*
 * keten_sub_tariffs_parse of the file at path.  Errors: those of
 * keten_sub_tariffs_parse, and KETEN_ENOTFOUND when the file cannot be
 * opened or read ("cannot read 'PATH': REASON").
 */
KETEN_API int keten_sub_tariffs_read(const char *path, keten_sub_tariffs *out, struct keten_error *err);

/* Free what a table owns and clear it; safe on a cleared table and on NULL. */
KETEN_API void keten_sub_tariffs_release(keten_sub_tariffs *t);

#endif
