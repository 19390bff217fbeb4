/*
 * money.c — exact money, calendar dates and the checks on free text.
 *
 * Amounts are int64 euro cents and never pass through floating point:
 * sums use the compiler's checked builtins, shares and pro rata amounts
 * are computed in __int128 and rounded half away from zero.  Dates are
 * uint32 YYYYMMDD on the proleptic Gregorian calendar; the Amsterdam
 * date of a timestamp follows the EU summer-time rule without the TZ
 * database.  The BSN 11-test and the UTF-8 check guard every free-text
 * field before it enters the ledger.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "keten/money.h"
#include "base/base.h"

#define DAY_MS    86400000LL
#define HOUR_MS   3600000LL
#define MAX_EUROS (KETEN_MAX_CENTS / 100)
#define MAX_BP    10000

/* The date range keten accepts, and the range keten_days_date can name. */
#define YEAR_MIN        1900
#define YEAR_MAX        2999
#define DAYS_0001_01_01 (-719162LL)
#define DAYS_9999_12_31 2932896LL

/* Small helpers --------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

/* num / den rounded half away from zero (den > 0); false if not an int64. */
static bool div_round(__int128 num, __int128 den, int64_t *out)
{
	__int128 q, r;

	KETEN_ASSERT(den > 0);
	q = num / den;
	r = num % den;

	if (r < 0)
		r = -r;
	if (r * 2 >= den)
		q += num < 0 ? -1 : 1;
	if (q > INT64_MAX || q < INT64_MIN)
		return false;
	*out = (int64_t)q;
	return true;
}

/* The value of the n digits at s, or -1 when one of them is not a digit. */
static int fixed_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Checked arithmetic ---------------------------------------------------- */

bool keten_add_cents(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

bool keten_sub_cents(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

bool keten_mul_cents(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

/* Parsing amounts ------------------------------------------------------- */

/* Append one digit to *euros; false once the amount passes the limit. */
static bool push_digit(int64_t *euros, char c)
{
	*euros = *euros * 10 + (c - '0');
	return *euros <= MAX_EUROS;
}

/*
 * Read ",d" / ",dd" (or ".d" / ".dd" when dot_ok) at p as cents and
 * require the end of the string after it.  No separator at all is 0 cents.
 */
static bool parse_decimals(const char *p, bool dot_ok, int64_t *cents)
{
	*cents = 0;
	if (*p == '\0')
		return true;
	if (*p != ',' && !(dot_ok && *p == '.'))
		return false;
	p++;
	if (!is_digit(p[0]))
		return false;
	*cents = (p[0] - '0') * 10;
	if (p[1] == '\0')
		return true;
	if (!is_digit(p[1]) || p[2] != '\0')
		return false;
	*cents += p[1] - '0';
	return true;
}

/* "1234" followed by an optional ".dd" or ",dd". */
static bool parse_plain(const char *p, int64_t *euros, int64_t *cents)
{
	if (!is_digit(*p))
		return false;
	for (*euros = 0; is_digit(*p); p++)
		if (!push_digit(euros, *p))
			return false;
	return parse_decimals(p, true, cents);
}

/* "1.234.567,dd": groups of exactly three digits, comma decimal required. */
static bool parse_grouped(const char *p, int64_t *euros, int64_t *cents)
{
	int lead = 0;

	if (*p == '0')
		return false;
	for (*euros = 0; is_digit(*p); p++, lead++)
		if (!push_digit(euros, *p))
			return false;
	if (lead < 1 || lead > 3 || *p != '.')
		return false;
	while (*p == '.') {
		p++;
		for (int i = 0; i < 3; i++, p++)
			if (!is_digit(*p) || !push_digit(euros, *p))
				return false;
	}
	if (*p != ',')
		return false;
	return parse_decimals(p, false, cents);
}

/* Thousands dots are only read as such when a comma decimal follows. */
static bool looks_grouped(const char *p)
{
	const char *dot = strchr(p, '.');

	return dot && strchr(dot, ',');
}

int keten_parse_cents(const char *s, bool allow_negative, int64_t *cents)
{
	int64_t euros, frac, value;
	bool neg = false;
	bool ok;

	if (!s || !cents)
		return -1;
	if (*s == '-') {
		if (!allow_negative)
			return -1;
		neg = true;
		s++;
	}
	if (looks_grouped(s))
		ok = parse_grouped(s, &euros, &frac);
	else
		ok = parse_plain(s, &euros, &frac);
	if (!ok)
		return -1;
	value = euros * 100 + frac;
	if (value > KETEN_MAX_CENTS)
		return -1;
	KETEN_ASSERT(value >= 0 && frac >= 0 && frac < 100);
	*cents = neg ? -value : value;
	return 0;
}

/* Formatting amounts ---------------------------------------------------- */

static uint64_t magnitude(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

void keten_format_cents(char *buf, size_t len, int64_t cents)
{
	uint64_t m = magnitude(cents);

	if (!buf || len == 0)
		return;
	snprintf(buf, len, "%s%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long)(m / 100),
	         (unsigned long long)(m % 100));
}

/* Whole euros with Dutch thousands dots into out (at least 32 bytes). */
static void group_thousands(char *out, uint64_t euros)
{
	char digits[24];
	int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)euros);
	int o = 0;

	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = '.';
		out[o++] = digits[i];
	}
	KETEN_ASSERT(o < 32);
	out[o] = '\0';
}

void keten_format_cents_human(char *buf, size_t len, int64_t cents)
{
	uint64_t m = magnitude(cents);
	char euros[32];

	if (!buf || len == 0)
		return;
	group_thousands(euros, m / 100);
	snprintf(buf, len, "%s\xe2\x82\xac %s,%02llu", cents < 0 ? "-" : "", euros, (unsigned long long)(m % 100));
}

/* Shares ---------------------------------------------------------------- */

void keten_split_herstel(int64_t total, int64_t *upfront, int64_t *final_part)
{
	int64_t up = total / 3 * 2 + total % 3 * 2 / 3;

	/* two thirds (rounded towards zero) and the rest: together the whole */
	KETEN_ASSERT(total < 0 || (up >= 0 && up <= total));
	*upfront = up;
	*final_part = total - up;
	KETEN_ASSERT(*upfront + *final_part == total);
}

bool keten_apply_bp(int64_t amount, int64_t bp, int64_t *out)
{
	return div_round((__int128)amount * bp, 10000, out);
}

bool keten_index_cents(int64_t amount, int32_t bp, int64_t *out)
{
	return div_round((__int128)amount * (10000 + (int64_t)bp), 10000, out);
}

/* Sum of the weights; false when one is negative or the sum overflows. */
static bool weight_sum(const int64_t *weights, size_t n, int64_t *sum)
{
	*sum = 0;
	for (size_t i = 0; i < n; i++)
		if (weights[i] < 0 || __builtin_add_overflow(*sum, weights[i], sum))
			return false;
	return true;
}

/* The part of total * w / sum that floor division drops. */
static int64_t share_rest(int64_t total, int64_t w, int64_t sum)
{
	return (int64_t)((__int128)total * w % sum);
}

/* Number of parts whose rest exceeds t. */
static size_t rests_above(int64_t total, const int64_t *weights, size_t n, int64_t sum, int64_t t)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (share_rest(total, weights[i], sum) > t)
			count++;
	return count;
}

/*
 * Hand out the `left` cents that floor division dropped, one each to the
 * largest rests, lower index first among equal rests.  The cut-off rest
 * is found by bisection, so no sorting and no allocation is needed.
 */
static void hand_out(int64_t total, const int64_t *weights, size_t n, int64_t sum, int64_t left, int64_t *parts)
{
	int64_t lo = 0, hi = sum - 1;

	KETEN_ASSERT(left > 0 && (size_t)left <= n);
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (rests_above(total, weights, n, sum, mid) <= (size_t)left)
			hi = mid;
		else
			lo = mid + 1;
	}
	for (size_t i = 0; i < n; i++)
		if (share_rest(total, weights[i], sum) > lo) {
			parts[i]++;
			left--;
		}
	for (size_t i = 0; i < n && left > 0; i++)
		if (share_rest(total, weights[i], sum) == lo) {
			parts[i]++;
			left--;
		}
	/* every cent floor division dropped went to a part */
	KETEN_ASSERT(left == 0);
}

/* Largest-remainder split of a total >= 0. */
static void split_nonnegative(int64_t total, const int64_t *weights, size_t n, int64_t sum, int64_t *parts)
{
	int64_t given = 0;

	for (size_t i = 0; i < n; i++) {
		parts[i] = (int64_t)((__int128)total * weights[i] / sum);
		given += parts[i];
	}
	KETEN_ASSERT(given <= total);
	if (total > given)
		hand_out(total, weights, n, sum, total - given, parts);
}

/* Do parts[0..n) add up to total? */
static bool adds_up(int64_t total, const int64_t *parts, size_t n)
{
	__int128 s = 0;

	for (size_t i = 0; i < n; i++)
		s += parts[i];
	return s == total;
}

bool keten_split_weighted(int64_t total, const int64_t *weights, size_t n, int64_t *parts)
{
	int64_t sum;

	if (!weights || !parts || n == 0 || total == INT64_MIN)
		return false;
	if (!weight_sum(weights, n, &sum) || sum == 0)
		return false;
	if (total >= 0) {
		split_nonnegative(total, weights, n, sum, parts);
	} else {
		split_nonnegative(-total, weights, n, sum, parts);
		for (size_t i = 0; i < n; i++)
			parts[i] = -parts[i];
	}
	/* a split hands out the whole, not a cent more or less */
	KETEN_ASSERT(adds_up(total, parts, n));
	return true;
}

int keten_parse_pct_bp(const char *s, int32_t *bp)
{
	int64_t whole = 0, frac;
	const char *p = s;

	if (!s || !bp || !is_digit(*p))
		return -1;
	for (; is_digit(*p); p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > MAX_BP / 100)
			return -1;
	}
	if (!parse_decimals(p, true, &frac))
		return -1;
	whole = whole * 100 + frac;
	if (whole > MAX_BP)
		return -1;
	*bp = (int32_t)whole;
	return 0;
}

/* Dates ----------------------------------------------------------------- */

static bool is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int keten_days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && is_leap(year))
		return 29;
	return days[month - 1];
}

bool keten_date_valid(uint32_t ymd)
{
	int year = (int)(ymd / 10000);
	int month = (int)(ymd / 100 % 100);
	int day = (int)(ymd % 100);

	if (year < YEAR_MIN || year > YEAR_MAX)
		return false;
	return day >= 1 && day <= keten_days_in_month(year, month);
}

static bool period_valid(uint32_t ym)
{
	uint32_t year = ym / 100, month = ym % 100;

	return year >= YEAR_MIN && year <= YEAR_MAX && month >= 1 && month <= 12;
}

int keten_parse_date(const char *s, uint32_t *ymd)
{
	int year, month, day;
	uint32_t v;

	if (!s || !ymd || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	year = fixed_digits(s, 4);
	month = fixed_digits(s + 5, 2);
	day = fixed_digits(s + 8, 2);
	if (year < 0 || month < 0 || day < 0)
		return -1;
	v = (uint32_t)(year * 10000 + month * 100 + day);
	if (!keten_date_valid(v))
		return -1;
	*ymd = v;
	return 0;
}

void keten_format_date(char *buf, size_t len, uint32_t ymd)
{
	if (!buf || len == 0)
		return;
	if (ymd == 0) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, len, "%04u-%02u-%02u", (unsigned)(ymd / 10000), (unsigned)(ymd / 100 % 100),
	         (unsigned)(ymd % 100));
}

int keten_parse_period(const char *s, uint32_t *ym)
{
	int year, month;
	uint32_t v;

	if (!s || !ym || strlen(s) != 7 || s[4] != '-')
		return -1;
	year = fixed_digits(s, 4);
	month = fixed_digits(s + 5, 2);
	if (year < 0 || month < 0)
		return -1;
	v = (uint32_t)(year * 100 + month);
	if (!period_valid(v))
		return -1;
	*ym = v;
	return 0;
}

int keten_parse_date_range(const char *s, uint32_t *from, uint32_t *until)
{
	char a[11], b[11];
	uint32_t ym, f, u;

	if (!s || !from || !until)
		return -1;
	if (keten_parse_period(s, &ym) == 0) {
		*from = ym * 100 + 1;
		*until = ym * 100 + (uint32_t)keten_days_in_month((int)(ym / 100), (int)(ym % 100));
		return 0;
	}
	if (strlen(s) != 22 || s[10] != '.' || s[11] != '.')
		return -1;
	memcpy(a, s, 10);
	a[10] = 0;
	memcpy(b, s + 12, 10);
	b[10] = 0;
	if (keten_parse_date(a, &f) || keten_parse_date(b, &u) || f > u)
		return -1;
	*from = f;
	*until = u;
	return 0;
}

/* Civil-date arithmetic after H. Hinnant's days_from_civil / civil_from_days. */
int64_t keten_date_days(uint32_t ymd)
{
	int64_t y = ymd / 10000, m = ymd / 100 % 100, d = ymd % 100;
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The date `days` after 1970-01-01; 0 outside years 1..9999. */
uint32_t keten_days_date(int64_t days)
{
	int64_t z, era, doe, yoe, y, doy, mp, d, m;

	if (days < DAYS_0001_01_01 || days > DAYS_9999_12_31)
		return 0;
	z = days + 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	return (uint32_t)(y * 10000 + m * 100 + d);
}

/* ymd + n days; 0 when ymd or the result is not a valid keten date. */
uint32_t keten_date_add_days(uint32_t ymd, int32_t n)
{
	uint32_t r;

	if (!keten_date_valid(ymd))
		return 0;
	r = keten_days_date(keten_date_days(ymd) + n);
	return keten_date_valid(r) ? r : 0;
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int64_t weekday(int64_t days)
{
	return ((days % 7) + 7 + 4) % 7;
}

/* Day number of the last Sunday of a 31-day month. */
static int64_t last_sunday(int64_t year, int month)
{
	int64_t last = keten_date_days((uint32_t)(year * 10000 + month * 100 + 31));

	return last - weekday(last);
}

/* Summer time runs from the last Sunday of March to the last Sunday of
 * October, switching at 01:00 UTC both times. */
static bool amsterdam_summer(int64_t ms, int64_t year)
{
	int64_t start = last_sunday(year, 3) * DAY_MS + HOUR_MS;
	int64_t end = last_sunday(year, 10) * DAY_MS + HOUR_MS;

	return ms >= start && ms < end;
}

/* 0 when the instant falls outside years 1..9999. */
uint32_t keten_date_of_ms(int64_t ms)
{
	uint32_t utc = keten_days_date(floor_div(ms, DAY_MS));
	int64_t offset;

	if (utc == 0)
		return 0;
	offset = amsterdam_summer(ms, utc / 10000) ? 2 * HOUR_MS : HOUR_MS;
	return keten_days_date(floor_div(ms + offset, DAY_MS));
}

uint32_t keten_today(void)
{
	struct timespec ts;
	int64_t ms;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	else
		ms = (int64_t)time(NULL) * 1000;
	return keten_date_of_ms(ms);
}

/* 0 also for a bad month, start or end: nothing is covered then. */
int64_t keten_prorata_month(int64_t monthly, uint32_t ym, uint32_t start, uint32_t end)
{
	uint32_t first, last, from, to;
	int64_t covered, out = 0;
	int dim;

	if (!period_valid(ym) || !keten_date_valid(start))
		return 0;
	if (end != 0 && !keten_date_valid(end))
		return 0;
	dim = keten_days_in_month((int)(ym / 100), (int)(ym % 100));
	first = ym * 100 + 1;
	last = ym * 100 + (uint32_t)dim;
	from = start > first ? start : first;
	to = end != 0 && end < last ? end : last;
	if (from > to)
		return 0;
	covered = (int64_t)(to - from) + 1;
	KETEN_ASSERT(covered >= 1 && covered <= dim);
	if (covered == dim)
		return monthly;
	div_round((__int128)monthly * covered, dim, &out);
	return out;
}

/* Privacy --------------------------------------------------------------- */

bool keten_is_bsn(const char *nine_digits)
{
	int sum = 0, d;
	bool any = false;

	if (!nine_digits)
		return false;
	for (int i = 0; i < 9; i++) {
		if (!is_digit(nine_digits[i]))
			return false;
		d = nine_digits[i] - '0';
		sum += (i < 8 ? 9 - i : -1) * d;
		any = any || d != 0;
	}
	return any && sum % 11 == 0;
}

static bool is_bsn_sep(char c)
{
	return c == ' ' || c == '.' || c == '-';
}

/*
 * Scan the run of digits at *pp (one ' ', '.' or '-' allowed between two
 * digits) and leave *pp after it.  True when the whole run, or a block of
 * digits in it that no other digit touches directly, has exactly 9
 * digits passing the 11-test: "12 111222333" still holds a BSN.
 */
static bool run_has_bsn(const char **pp)
{
	const char *p = *pp;
	const char *block = p;
	char digits[9];
	size_t count = 0;
	bool hit = false;

	for (;;) {
		if (is_digit(*p)) {
			if (count < sizeof digits)
				digits[count] = *p;
			count++;
			p++;
			continue;
		}
		if (p - block == 9 && keten_is_bsn(block))
			hit = true;
		if (!is_bsn_sep(*p) || !is_digit(p[1]))
			break;
		block = ++p;
	}
	*pp = p;
	return hit || (count == 9 && keten_is_bsn(digits));
}

bool keten_text_has_bsn(const char *text)
{
	const char *p = text;

	if (!text)
		return false;
	while (*p) {
		if (!is_digit(*p))
			p++;
		else if (run_has_bsn(&p))
			return true;
	}
	return false;
}

/* Length of the valid UTF-8 sequence at s (at most len bytes), 0 if none:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	uint32_t cp, min;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool control_char(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
}

bool keten_text_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (!s)
		return len == 0;
	while (i < len) {
		size_t n = utf8_seq(p + i, len - i);

		if (n == 0 || (n == 1 && control_char(p[i])))
			return false;
		i += n;
	}
	return true;
}
