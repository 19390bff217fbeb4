/*
 * money.h — exact money, calendar dates and the checks on free text.
 *
 * Money is int64 euro cents everywhere; every sum is checked for
 * overflow.  Dates are uint32 YYYYMMDD (a calendar date in
 * Europe/Amsterdam); periods are "YYYY-MM".  The BSN test lives here
 * because it guards every free-text field before it enters the ledger.
 */
#ifndef KETEN_MONEY_H
#define KETEN_MONEY_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest amount keten accepts in one field: 10^13 cents (100 billion euro). */
#define KETEN_MAX_CENTS 10000000000000LL

/* Checked arithmetic: false on overflow (then *out is unchanged). */
KETEN_API bool keten_add_cents(int64_t a, int64_t b, int64_t *out);
KETEN_API bool keten_sub_cents(int64_t a, int64_t b, int64_t *out);
KETEN_API bool keten_mul_cents(int64_t a, int64_t b, int64_t *out);

/*
 * Parse an amount typed by a person: "1234.56", "1234,56", "1234", "0.5",
 * "1.234,56" (Dutch thousands dots when a comma decimal is present),
 * optional leading '-' only when allow_negative.  At most two decimals.
 * Returns 0 and sets *cents, or -1 for anything else (never partial).
 */
KETEN_API int keten_parse_cents(const char *s, bool allow_negative, int64_t *cents);

/* Machine format: "1234.56", "-0.05".  buf of at least 32 bytes. */
KETEN_API void keten_format_cents(char *buf, size_t len, int64_t cents);
/* Human format: "€ 1.234,56", "-€ 0,05".  buf of at least 40 bytes. */
KETEN_API void keten_format_cents_human(char *buf, size_t len, int64_t cents);

/*
 * Herstel split: the up-front part is floor(total * 2 / 3), the final part
 * total - upfront, so the two always add up to total.  The odd cent goes
 * to the final part (paid after results).  total must be >= 0.
 */
KETEN_API void keten_split_herstel(int64_t total, int64_t *upfront, int64_t *final_part);

/*
 * Share in basis points of an amount, rounded half away from zero:
 * round(amount * bp / 10000).  false on overflow.
 */
KETEN_API bool keten_apply_bp(int64_t amount, int64_t bp, int64_t *out);

/* Indexation: amount * (10000 + bp) / 10000, rounded half away from zero. */
KETEN_API bool keten_index_cents(int64_t amount, int32_t bp, int64_t *out);

/*
 * Split `total` over n parts pro rata to weights (largest-remainder
 * method), so the parts add up to total exactly.  weights must be >= 0
 * with a positive sum.  false on overflow or bad input.
 */
KETEN_API bool keten_split_weighted(int64_t total, const int64_t *weights, size_t n, int64_t *parts);

/* Parse a percentage "6.6" / "6,6" / "10" into basis points (660). -1 on error. */
KETEN_API int keten_parse_pct_bp(const char *s, int32_t *bp);

/* Dates ------------------------------------------------------------- */

/* Parse "YYYY-MM-DD" (a real calendar date, year 1900..2999) into YYYYMMDD. */
KETEN_API int keten_parse_date(const char *s, uint32_t *ymd);
/* "YYYY-MM-DD"; buf of at least 11 bytes.  0 prints as "". */
KETEN_API void keten_format_date(char *buf, size_t len, uint32_t ymd);
KETEN_API bool keten_date_valid(uint32_t ymd);
/* Days since 1970-01-01 and back (proleptic Gregorian). */
KETEN_API int64_t keten_date_days(uint32_t ymd);
KETEN_API uint32_t keten_days_date(int64_t days);
/* ymd + n days. */
KETEN_API uint32_t keten_date_add_days(uint32_t ymd, int32_t n);
/* The calendar date in Europe/Amsterdam of a UTC millisecond timestamp
 * (CET/CEST by the EU rule: last Sunday of March/October, 01:00 UTC). */
KETEN_API uint32_t keten_date_of_ms(int64_t ms);
/* Today in Europe/Amsterdam. */
KETEN_API uint32_t keten_today(void);
KETEN_API int keten_days_in_month(int year, int month);

/* Parse "YYYY-MM" into year*100+month (202601).  -1 on error. */
KETEN_API int keten_parse_period(const char *s, uint32_t *ym);

/*
 * Parse a period of days, as a claim's --period and a batch's period
 * column give it: "YYYY-MM" (the month's first and last day) or
 * "YYYY-MM-DD..YYYY-MM-DD" (inclusive; the first not after the second).
 * 0 with *from and *until set; -1 on error (both untouched).
 */
KETEN_API int keten_parse_date_range(const char *s, uint32_t *from, uint32_t *until);

/*
 * Pro rata amount for month `ym` (YYYYMM) of a monthly arrangement
 * running from `start` to `end` (YYYYMMDD, end 0 = open, inclusive):
 * monthly * covered_days / days_in_month, rounded half away from zero.
 * A full month gives exactly `monthly`.  0 when the month is not covered.
 */
KETEN_API int64_t keten_prorata_month(int64_t monthly, uint32_t ym, uint32_t start, uint32_t end);

/* Privacy ------------------------------------------------------------ */

/* True when the 9 digits at s pass the BSN 11-test
 * (9a+8b+7c+6d+5e+4f+3g+2h-1i divisible by 11, not all zero). */
KETEN_API bool keten_is_bsn(const char *nine_digits);

/*
 * True when text holds a run of exactly 9 digits (digits not adjoined by
 * other digits; separators ' ', '.', '-' inside the run are allowed, as in
 * "1234.56.782") that passes the 11-test.  Used on every free-text field.
 */
KETEN_API bool keten_text_has_bsn(const char *text);

/* True when s is valid UTF-8 without NUL or other C0 control characters
 * except tab and newline. */
KETEN_API bool keten_text_ok(const char *s, size_t len);

#endif
