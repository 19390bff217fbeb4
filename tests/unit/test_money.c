/*
 * test_money.c — unit tests for ledger/base/money.c: checked cent arithmetic,
 * parsing and formatting of amounts, the herstel and weighted splits,
 * calendar dates and the Amsterdam date of a timestamp, pro rata months,
 * and the BSN and UTF-8 guards on free text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "keten/money.h"

#define DAY_MS 86400000LL
#define MIN_MS 60000LL

#define SENTINEL (-777)

/* Checked arithmetic ---------------------------------------------------- */

static void test_add_sub_mul(void **state)
{
	int64_t r = SENTINEL;

	(void)state;
	assert_true(keten_add_cents(150, -275, &r));
	assert_int_equal(r, -125);
	assert_true(keten_add_cents(INT64_MAX - 1, 1, &r));
	assert_true(r == INT64_MAX);
	r = SENTINEL;
	assert_false(keten_add_cents(INT64_MAX, 1, &r));
	assert_int_equal(r, SENTINEL);
	assert_false(keten_add_cents(INT64_MIN, -1, &r));
	assert_int_equal(r, SENTINEL);

	assert_true(keten_sub_cents(100, 250, &r));
	assert_int_equal(r, -150);
	assert_true(keten_sub_cents(-1, INT64_MAX, &r));
	assert_true(r == INT64_MIN);
	r = SENTINEL;
	assert_false(keten_sub_cents(0, INT64_MIN, &r));
	assert_int_equal(r, SENTINEL);
	assert_false(keten_sub_cents(INT64_MAX, -1, &r));
	assert_int_equal(r, SENTINEL);

	assert_true(keten_mul_cents(-3, 4, &r));
	assert_int_equal(r, -12);
	assert_true(keten_mul_cents(INT64_MAX, 1, &r));
	assert_true(r == INT64_MAX);
	r = SENTINEL;
	assert_false(keten_mul_cents(INT64_MAX, 2, &r));
	assert_int_equal(r, SENTINEL);
	assert_false(keten_mul_cents(INT64_MIN, -1, &r));
	assert_int_equal(r, SENTINEL);
	assert_false(keten_mul_cents(4294967296LL, 4294967296LL, &r));
	assert_int_equal(r, SENTINEL);
}

/* Parsing amounts ------------------------------------------------------- */

static void test_parse_cents_accepts(void **state)
{
	static const struct {
		const char *s;
		int64_t cents;
	} ok[] = {
		{"1234.56", 123456},
		{"1234,56", 123456},
		{"1234", 123400},
		{"0.5", 50},
		{"0,05", 5},
		{"0", 0},
		{"7", 700},
		{"1.234,56", 123456},
		{"1234,5", 123450},
		{"1.234,5", 123450},
		{"12.345.678,90", 1234567890},
		{"999.999,99", 99999999},
		{"1.5", 150},
		{"1.23", 123},
		{"007", 700},
		{"100000000000", KETEN_MAX_CENTS},
		{"100000000000.00", KETEN_MAX_CENTS},
		{"100.000.000.000,00", KETEN_MAX_CENTS},
		{"99999999999.99", KETEN_MAX_CENTS - 1},
	};
	int64_t c;

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		c = SENTINEL;
		if (keten_parse_cents(ok[i].s, false, &c) != 0)
			fail_msg("rejected \"%s\"", ok[i].s);
		assert_true(c == ok[i].cents);
		c = SENTINEL;
		assert_int_equal(keten_parse_cents(ok[i].s, true, &c), 0);
		assert_true(c == ok[i].cents);
	}
}

static void test_parse_cents_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"-",
		"1.234",
		"1,234",
		"12.3.4",
		"1.2.3,45",
		"abc",
		"12a",
		"a12",
		" 12",
		"12 ",
		"12\n",
		"+5",
		"1.",
		"1,",
		".5",
		",5",
		"1.234,",
		"1.234,567",
		"12.34,56",
		"1.2345,67",
		"1.23,45",
		"1,234.56",
		"1,2,3",
		"1..234,56",
		".234,56",
		"0.123,45",
		"1.234.56",
		"1.234.5678,00",
		"1234.567,89",
		"12345.678,00",
		"--5",
		"-+5",
		"€ 5",
		"5€",
		"1e3",
		"100000000000.01",
		"100000000001",
		"100.000.000.000,01",
		"1.000.000.000.000,00",
		"99999999999999999999999999",
		"9223372036854775807",
		"0x10",
		"1_000",
		"½",
	};
	int64_t c = SENTINEL;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (keten_parse_cents(bad[i], true, &c) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(c, SENTINEL);
		assert_int_equal(keten_parse_cents(bad[i], false, &c), -1);
		assert_int_equal(c, SENTINEL);
	}
	assert_int_equal(keten_parse_cents(NULL, true, &c), -1);
}

static void test_parse_cents_negative(void **state)
{
	int64_t c = SENTINEL;

	(void)state;
	assert_int_equal(keten_parse_cents("-5", false, &c), -1);
	assert_int_equal(keten_parse_cents("-0,05", false, &c), -1);
	assert_int_equal(c, SENTINEL);
	assert_int_equal(keten_parse_cents("-5", true, &c), 0);
	assert_int_equal(c, -500);
	assert_int_equal(keten_parse_cents("-0,05", true, &c), 0);
	assert_int_equal(c, -5);
	assert_int_equal(keten_parse_cents("-1.234,56", true, &c), 0);
	assert_int_equal(c, -123456);
	assert_int_equal(keten_parse_cents("-100000000000", true, &c), 0);
	assert_true(c == -KETEN_MAX_CENTS);
	c = SENTINEL;
	assert_int_equal(keten_parse_cents("-100000000000.01", true, &c), -1);
	assert_int_equal(keten_parse_cents("- 5", true, &c), -1);
	assert_int_equal(c, SENTINEL);
}

/* Formatting amounts ---------------------------------------------------- */

static void test_format_cents(void **state)
{
	static const struct {
		int64_t cents;
		const char *s;
	} cases[] = {
		{123456, "1234.56"},
		{-5, "-0.05"},
		{0, "0.00"},
		{7, "0.07"},
		{100, "1.00"},
		{-123456, "-1234.56"},
		{10, "0.10"},
		{INT64_MAX, "92233720368547758.07"},
		{INT64_MIN, "-92233720368547758.08"},
	};
	static const int64_t round_trip[] = {
		0, 1, -1, 99, -99, 100, 123456, -123456, KETEN_MAX_CENTS, -KETEN_MAX_CENTS, 4294967296LL,
	};
	char buf[32];
	int64_t back;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		keten_format_cents(buf, sizeof buf, cases[i].cents);
		assert_string_equal(buf, cases[i].s);
	}
	for (size_t i = 0; i < sizeof round_trip / sizeof round_trip[0]; i++) {
		keten_format_cents(buf, sizeof buf, round_trip[i]);
		assert_int_equal(keten_parse_cents(buf, true, &back), 0);
		assert_true(back == round_trip[i]);
	}
	memset(buf, 'x', sizeof buf);
	keten_format_cents(buf, 4, 123456);
	assert_string_equal(buf, "123");
}

static void test_format_cents_human(void **state)
{
	static const struct {
		int64_t cents;
		const char *s;
	} cases[] = {
		{123456, "\xe2\x82\xac 1.234,56"},
		{-123456, "-\xe2\x82\xac 1.234,56"},
		{-5, "-\xe2\x82\xac 0,05"},
		{0, "\xe2\x82\xac 0,00"},
		{100, "\xe2\x82\xac 1,00"},
		{99999, "\xe2\x82\xac 999,99"},
		{100000, "\xe2\x82\xac 1.000,00"},
		{10000000, "\xe2\x82\xac 100.000,00"},
		{123456789012, "\xe2\x82\xac 1.234.567.890,12"},
		{INT64_MAX, "\xe2\x82\xac 92.233.720.368.547.758,07"},
		{INT64_MIN, "-\xe2\x82\xac 92.233.720.368.547.758,08"},
	};
	char buf[40];
	int64_t back;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		keten_format_cents_human(buf, sizeof buf, cases[i].cents);
		assert_string_equal(buf, cases[i].s);
	}
	/* The part after "€ " reads back as the same amount. */
	keten_format_cents_human(buf, sizeof buf, 123456789012);
	assert_int_equal(keten_parse_cents(buf + 4, false, &back), 0);
	assert_true(back == 123456789012);
	memset(buf, 'x', sizeof buf);
	keten_format_cents_human(buf, 6, 123456);
	assert_true(strlen(buf) < 6);
}

/* Shares ---------------------------------------------------------------- */

static void check_herstel(int64_t total)
{
	int64_t up = -1, fin = -1;
	int64_t want = (int64_t)((__int128)total * 2 / 3);

	keten_split_herstel(total, &up, &fin);
	if (up != want || (__int128)up + fin != total)
		fail_msg("herstel %lld -> %lld + %lld", (long long)total, (long long)up, (long long)fin);
}

static void test_split_herstel_examples(void **state)
{
	int64_t up, fin;

	(void)state;
	keten_split_herstel(100, &up, &fin);
	assert_int_equal(up, 66);
	assert_int_equal(fin, 34);
	keten_split_herstel(228700, &up, &fin);
	assert_int_equal(up, 152466);
	assert_int_equal(fin, 76234);
	keten_split_herstel(0, &up, &fin);
	assert_int_equal(up, 0);
	assert_int_equal(fin, 0);
	keten_split_herstel(1, &up, &fin);
	assert_int_equal(up, 0);
	assert_int_equal(fin, 1);
	keten_split_herstel(2, &up, &fin);
	assert_int_equal(up, 1);
	assert_int_equal(fin, 1);
	keten_split_herstel(3, &up, &fin);
	assert_int_equal(up, 2);
	assert_int_equal(fin, 1);
	keten_split_herstel(INT64_MAX, &up, &fin);
	assert_true(up == 6148914691236517204LL);
	assert_true(fin == 3074457345618258603LL);
}

static void test_split_herstel_identity(void **state)
{
	static const int64_t big[] = {
		KETEN_MAX_CENTS,       KETEN_MAX_CENTS - 1,   KETEN_MAX_CENTS + 1,  INT64_MAX,
		INT64_MAX - 1,         INT64_MAX - 2,         INT64_MAX / 2,        INT64_MAX / 3,
		3074457345618258602LL, 4611686018427387904LL, 999999999999999999LL,
	};

	(void)state;
	for (int64_t t = 0; t <= 100000; t += 7)
		check_herstel(t);
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
		check_herstel(big[i]);
}

static void test_apply_bp(void **state)
{
	int64_t r = SENTINEL;

	(void)state;
	assert_true(keten_apply_bp(10000, 660, &r));
	assert_int_equal(r, 660);
	assert_true(keten_apply_bp(1000, 660, &r));
	assert_int_equal(r, 66);
	assert_true(keten_apply_bp(15, 3333, &r)); /* 4.9995 */
	assert_int_equal(r, 5);
	assert_true(keten_apply_bp(1, 5000, &r)); /* 0.5 */
	assert_int_equal(r, 1);
	assert_true(keten_apply_bp(-1, 5000, &r));
	assert_int_equal(r, -1);
	assert_true(keten_apply_bp(3, 5000, &r)); /* 1.5 */
	assert_int_equal(r, 2);
	assert_true(keten_apply_bp(-3, 5000, &r));
	assert_int_equal(r, -2);
	assert_true(keten_apply_bp(1, 4999, &r));
	assert_int_equal(r, 0);
	assert_true(keten_apply_bp(-1, 4999, &r));
	assert_int_equal(r, 0);
	assert_true(keten_apply_bp(123456, 0, &r));
	assert_int_equal(r, 0);
	assert_true(keten_apply_bp(INT64_MAX, 10000, &r));
	assert_true(r == INT64_MAX);
	assert_true(keten_apply_bp(INT64_MIN, 10000, &r));
	assert_true(r == INT64_MIN);
	assert_true(keten_apply_bp(INT64_MAX, INT64_MAX, &r) == false);
	r = SENTINEL;
	assert_false(keten_apply_bp(INT64_MAX, 10001, &r));
	assert_int_equal(r, SENTINEL);
	assert_false(keten_apply_bp(INT64_MIN, INT64_MIN, &r));
	assert_int_equal(r, SENTINEL);
}

static void test_index_cents(void **state)
{
	int64_t r = SENTINEL;

	(void)state;
	assert_true(keten_index_cents(10000, 250, &r));
	assert_int_equal(r, 10250);
	assert_true(keten_index_cents(12345, 330, &r)); /* 12752.385 */
	assert_int_equal(r, 12752);
	assert_true(keten_index_cents(12355, 250, &r)); /* 12663.875 */
	assert_int_equal(r, 12664);
	assert_true(keten_index_cents(-12355, 250, &r));
	assert_int_equal(r, -12664);
	assert_true(keten_index_cents(2, 2500, &r)); /* 2.5 */
	assert_int_equal(r, 3);
	assert_true(keten_index_cents(10000, -150, &r));
	assert_int_equal(r, 9850);
	assert_true(keten_index_cents(200, -10000, &r));
	assert_int_equal(r, 0);
	assert_true(keten_index_cents(INT64_MAX, 0, &r));
	assert_true(r == INT64_MAX);
	r = SENTINEL;
	assert_false(keten_index_cents(INT64_MAX, 1, &r));
	assert_int_equal(r, SENTINEL);
	assert_false(keten_index_cents(INT64_MIN, 1, &r));
	assert_int_equal(r, SENTINEL);
}

static void expect_split(int64_t total, const int64_t *w, size_t n, const int64_t *want)
{
	int64_t parts[8];

	assert_true(n <= 8);
	assert_true(keten_split_weighted(total, w, n, parts));
	for (size_t i = 0; i < n; i++)
		if (parts[i] != want[i])
			fail_msg("split %lld part %zu: %lld, want %lld", (long long)total, i, (long long)parts[i],
			         (long long)want[i]);
}

static void test_split_weighted_examples(void **state)
{
	(void)state;
	expect_split(100, (int64_t[]){1, 1, 1}, 3, (int64_t[]){34, 33, 33});
	expect_split(2, (int64_t[]){1, 1, 1}, 3, (int64_t[]){1, 1, 0});
	expect_split(-100, (int64_t[]){1, 1, 1}, 3, (int64_t[]){-34, -33, -33});
	expect_split(100, (int64_t[]){0, 1, 0}, 3, (int64_t[]){0, 100, 0});
	expect_split(7, (int64_t[]){1, 2, 4}, 3, (int64_t[]){1, 2, 4});
	expect_split(101, (int64_t[]){2, 1}, 2, (int64_t[]){67, 34});
	/* 10 over 1:1:1:1:0:2 -> 1.67 x4, 0, 3.33: rests 2,2,2,2,0,1 of 3. */
	expect_split(10, (int64_t[]){1, 1, 1, 1, 0, 2}, 6, (int64_t[]){2, 2, 2, 1, 0, 3});
	/* Largest rest wins even at a higher index: 10 over 3:3:4 exact,
	 * 11 over 3:3:4 -> 3.3, 3.3, 4.4 -> the 4.4 part gets the cent. */
	expect_split(11, (int64_t[]){3, 3, 4}, 3, (int64_t[]){3, 3, 5});
	expect_split(0, (int64_t[]){5, 7}, 2, (int64_t[]){0, 0});
	expect_split(5, (int64_t[]){42}, 1, (int64_t[]){5});
	expect_split(INT64_MAX, (int64_t[]){INT64_MAX / 2, INT64_MAX / 2}, 2,
	             (int64_t[]){INT64_MAX / 2 + 1, INT64_MAX / 2});
	expect_split(INT64_MAX, (int64_t[]){1, INT64_MAX - 1}, 2, (int64_t[]){1, INT64_MAX - 1});
}

static void test_split_weighted_bad(void **state)
{
	int64_t parts[3] = {SENTINEL, SENTINEL, SENTINEL};
	int64_t w[3] = {1, 2, 3};

	(void)state;
	assert_false(keten_split_weighted(100, w, 0, parts));
	assert_false(keten_split_weighted(100, NULL, 3, parts));
	assert_false(keten_split_weighted(100, w, 3, NULL));
	assert_false(keten_split_weighted(100, (int64_t[]){1, -1, 3}, 3, parts));
	assert_false(keten_split_weighted(100, (int64_t[]){0, 0, 0}, 3, parts));
	assert_false(keten_split_weighted(100, (int64_t[]){INT64_MAX, 1, 0}, 3, parts));
	assert_false(keten_split_weighted(INT64_MIN, w, 3, parts));
	for (int i = 0; i < 3; i++)
		assert_int_equal(parts[i], SENTINEL);
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

/* Every part lies within one cent of its exact share; zero weight gets 0. */
static void check_split(int64_t total, const int64_t *w, size_t n)
{
	int64_t parts[16], sum = 0, wsum = 0;
	__int128 acc = 0;

	for (size_t i = 0; i < n; i++)
		wsum += w[i];
	assert_true(keten_split_weighted(total, w, n, parts));
	for (size_t i = 0; i < n; i++) {
		__int128 exact = (__int128)total * w[i];
		__int128 lo = exact / wsum;

		acc += parts[i];
		sum += parts[i];
		if (w[i] == 0)
			assert_int_equal(parts[i], 0);
		if (total >= 0)
			assert_true(parts[i] == lo || parts[i] == lo + 1);
		else
			assert_true(parts[i] == lo || parts[i] == lo - 1);
	}
	assert_true(acc == total);
	assert_true(sum == total);
}

static void test_split_weighted_sums(void **state)
{
	uint64_t seed = 42;
	int64_t w[16];

	(void)state;
	for (int round = 0; round < 3000; round++) {
		size_t n = 1 + lcg(&seed) % 16;
		int64_t total = (int64_t)(lcg(&seed) % 10000000) - 1000000;

		for (size_t i = 0; i < n; i++)
			w[i] = round % 3 == 0 ? (int64_t)(lcg(&seed) % 4) : (int64_t)(lcg(&seed) % 100000);
		w[lcg(&seed) % n] += 1;
		check_split(total, w, n);
	}
	for (int round = 0; round < 200; round++) {
		size_t n = 1 + lcg(&seed) % 16;

		for (size_t i = 0; i < n; i++)
			w[i] = (int64_t)(lcg(&seed) << 27) + 1;
		check_split(KETEN_MAX_CENTS - round, w, n);
		check_split(INT64_MAX - round, w, n);
		check_split(-INT64_MAX + round, w, n);
	}
}

static void test_parse_pct_bp(void **state)
{
	static const struct {
		const char *s;
		int32_t bp;
	} ok[] = {
		{"6.6", 660},   {"6,6", 660},      {"10", 1000},    {"0.25", 25},  {"0,25", 25}, {"0", 0},
		{"100", 10000}, {"100.00", 10000}, {"99.99", 9999}, {"2.05", 205}, {"0.01", 1},  {"007", 700},
	};
	static const char *const bad[] = {
		"",
		"-1",
		"-0.5",
		"+5",
		"6.666",
		"6,666",
		"100.01",
		"101",
		"1000",
		"6.",
		".5",
		"6%",
		" 6",
		"6 ",
		"abc",
		"6.6.6",
		"6,6,6",
		"1.000,5",
		"99999999999999999999",
		"0x10",
	};
	int32_t bp;

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		bp = -1;
		if (keten_parse_pct_bp(ok[i].s, &bp) != 0)
			fail_msg("rejected \"%s\"", ok[i].s);
		assert_int_equal(bp, ok[i].bp);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bp = SENTINEL;
		if (keten_parse_pct_bp(bad[i], &bp) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(bp, SENTINEL);
	}
}

/* Dates ----------------------------------------------------------------- */

static void test_parse_date(void **state)
{
	static const struct {
		const char *s;
		uint32_t ymd;
	} ok[] = {
		{"2026-01-05", 20260105}, {"2024-02-29", 20240229}, {"2000-02-29", 20000229}, {"1900-01-01", 19000101},
		{"2999-12-31", 29991231}, {"2026-12-31", 20261231}, {"2026-04-30", 20260430},
	};
	static const char *const bad[] = {
		"",           "2026-02-29",  "1900-02-29",  "2100-02-29",    "2026-04-31", "2026-01-32",
		"2026-00-10", "2026-13-01",  "2026-01-00",  "2026-1-05",     "2026-01-5",  "26-01-05",
		"2026/01/05", "2026-01-05 ", " 2026-01-05", "2026-01-05T00", "20260105",   "1899-12-31",
		"3000-01-01", "2026-0a-05",  "+026-01-05",  "2026--1-05",
	};
	uint32_t ymd;

	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ymd = 0;
		if (keten_parse_date(ok[i].s, &ymd) != 0)
			fail_msg("rejected \"%s\"", ok[i].s);
		assert_int_equal(ymd, ok[i].ymd);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ymd = 12345;
		if (keten_parse_date(bad[i], &ymd) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(ymd, 12345);
	}
}

static void test_format_date(void **state)
{
	char buf[11];
	uint32_t back;

	(void)state;
	keten_format_date(buf, sizeof buf, 20260105);
	assert_string_equal(buf, "2026-01-05");
	keten_format_date(buf, sizeof buf, 19000101);
	assert_string_equal(buf, "1900-01-01");
	memset(buf, 'x', sizeof buf);
	keten_format_date(buf, sizeof buf, 0);
	assert_string_equal(buf, "");
	keten_format_date(buf, sizeof buf, 20240229);
	assert_int_equal(keten_parse_date(buf, &back), 0);
	assert_int_equal(back, 20240229);
}

static void test_date_valid_and_month_length(void **state)
{
	(void)state;
	assert_true(keten_date_valid(20240229));
	assert_false(keten_date_valid(20260229));
	assert_false(keten_date_valid(0));
	assert_false(keten_date_valid(20261301));
	assert_false(keten_date_valid(20260100));
	assert_false(keten_date_valid(18991231));
	assert_int_equal(keten_days_in_month(2024, 2), 29);
	assert_int_equal(keten_days_in_month(2026, 2), 28);
	assert_int_equal(keten_days_in_month(1900, 2), 28);
	assert_int_equal(keten_days_in_month(2000, 2), 29);
	assert_int_equal(keten_days_in_month(2026, 1), 31);
	assert_int_equal(keten_days_in_month(2026, 4), 30);
	assert_int_equal(keten_days_in_month(2026, 12), 31);
	assert_int_equal(keten_days_in_month(2026, 0), 0);
	assert_int_equal(keten_days_in_month(2026, 13), 0);
}

static void test_date_days(void **state)
{
	int64_t d, first, last;
	uint32_t prev, cur;

	(void)state;
	assert_int_equal(keten_date_days(19700101), 0);
	assert_int_equal(keten_date_days(19700102), 1);
	assert_int_equal(keten_date_days(19691231), -1);
	assert_int_equal(keten_date_days(20260101), 20454);
	assert_int_equal(keten_date_days(20000301), 11017);
	assert_int_equal(keten_date_days(19000101), -25567);
	assert_int_equal(keten_days_date(0), 19700101);
	assert_int_equal(keten_days_date(-1), 19691231);
	assert_int_equal(keten_days_date(20454), 20260101);
	assert_int_equal(keten_days_date(11016), 20000229);
	assert_int_equal(keten_days_date(INT64_MAX), 0);
	assert_int_equal(keten_days_date(INT64_MIN), 0);

	/* Every day from 1900 to 2999 round-trips and follows its predecessor. */
	first = keten_date_days(19000101);
	last = keten_date_days(29991231);
	prev = 0;
	for (d = first; d <= last; d++) {
		cur = keten_days_date(d);
		if (!keten_date_valid(cur) || keten_date_days(cur) != d)
			fail_msg("day %lld -> %u", (long long)d, cur);
		if (prev)
			assert_int_equal(keten_date_add_days(prev, 1), cur);
		prev = cur;
	}
	assert_int_equal(prev, 29991231);
}

static void test_date_add_days(void **state)
{
	(void)state;
	assert_int_equal(keten_date_add_days(20260131, 1), 20260201);
	assert_int_equal(keten_date_add_days(20240228, 1), 20240229);
	assert_int_equal(keten_date_add_days(20260228, 1), 20260301);
	assert_int_equal(keten_date_add_days(20241231, 1), 20250101);
	assert_int_equal(keten_date_add_days(20260301, -1), 20260228);
	assert_int_equal(keten_date_add_days(20260115, 0), 20260115);
	assert_int_equal(keten_date_add_days(20260101, 365), 20270101);
	assert_int_equal(keten_date_add_days(20240101, 366), 20250101);
	assert_int_equal(keten_date_add_days(20260230, 1), 0);
	assert_int_equal(keten_date_add_days(29991231, 1), 0);
	assert_int_equal(keten_date_add_days(19000101, -1), 0);
	assert_int_equal(keten_date_add_days(20260101, INT32_MAX), 0);
	assert_int_equal(keten_date_add_days(20260101, INT32_MIN), 0);
}

static void test_parse_period(void **state)
{
	static const char *const bad[] = {
		"",        "2026-00",  "2026-13",  "2026-1",  "2026-001", "202601", "2026/01",
		"2026-1a", " 2026-01", "2026-01 ", "1899-12", "3000-01",  "26-01",
	};
	uint32_t ym = 0;

	(void)state;
	assert_int_equal(keten_parse_period("2026-01", &ym), 0);
	assert_int_equal(ym, 202601);
	assert_int_equal(keten_parse_period("2026-12", &ym), 0);
	assert_int_equal(ym, 202612);
	assert_int_equal(keten_parse_period("1900-01", &ym), 0);
	assert_int_equal(ym, 190001);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ym = 7;
		if (keten_parse_period(bad[i], &ym) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(ym, 7);
	}
}

/* A UTC instant as milliseconds since the epoch. */
static int64_t utc_ms(uint32_t ymd, int hour, int minute)
{
	return keten_date_days(ymd) * DAY_MS + (hour * 60 + minute) * MIN_MS;
}

static void test_date_of_ms(void **state)
{
	static const struct {
		uint32_t ymd;
		int h, m;
		uint32_t want;
	} cases[] = {
		/* Winter (CET, +1). */
		{20260328, 22, 59, 20260328},
		{20260328, 23, 0, 20260329},
		{20260328, 23, 30, 20260329},
		{20261231, 22, 59, 20261231},
		{20261231, 23, 0, 20270101},
		{20260115, 12, 0, 20260115},
		/* Summer (CEST, +2). */
		{20260630, 21, 59, 20260630},
		{20260630, 22, 30, 20260701},
		/* 2026: summer time from Sun 29 March to Sun 25 October. */
		{20260329, 22, 30, 20260330},
		{20260329, 21, 59, 20260329},
		{20261024, 22, 30, 20261025},
		{20261025, 22, 30, 20261025},
		{20261025, 23, 0, 20261026},
		/* 2024: summer time from Sun 31 March to Sun 27 October. */
		{20240330, 22, 30, 20240330},
		{20240331, 22, 30, 20240401},
		{20241026, 22, 30, 20241027},
		{20241027, 22, 30, 20241027},
		/* Late March in a year whose last Sunday is the 25th: 2029. */
		{20290324, 22, 30, 20290324},
		{20290325, 22, 30, 20290326},
		{20290331, 22, 30, 20290401},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint32_t got = keten_date_of_ms(utc_ms(cases[i].ymd, cases[i].h, cases[i].m));

		if (got != cases[i].want)
			fail_msg("%u %02d:%02dZ -> %u, want %u", cases[i].ymd, cases[i].h, cases[i].m, got,
			         cases[i].want);
	}
	/* Around the epoch, with negative milliseconds rounding down. */
	assert_int_equal(keten_date_of_ms(0), 19700101);
	assert_int_equal(keten_date_of_ms(-1), 19700101);
	assert_int_equal(keten_date_of_ms(-3600000), 19700101);
	assert_int_equal(keten_date_of_ms(-3600001), 19691231);
	assert_int_equal(keten_date_of_ms(INT64_MAX), 0);
	assert_int_equal(keten_date_of_ms(INT64_MIN), 0);
}

static void test_today(void **state)
{
	uint32_t today = keten_today();
	uint32_t ref = keten_date_of_ms((int64_t)time(NULL) * 1000);

	(void)state;
	assert_true(keten_date_valid(today));
	assert_true(today >= 20250101);
	assert_true(today == ref || keten_date_add_days(ref, -1) == today || keten_date_add_days(ref, 1) == today);
}

static void test_prorata_month(void **state)
{
	int64_t want;

	(void)state;
	assert_int_equal(keten_prorata_month(310000, 202601, 20260101, 0), 310000);
	assert_int_equal(keten_prorata_month(123457, 202601, 20251201, 20261231), 123457);
	assert_int_equal(keten_prorata_month(123457, 202602, 20260201, 20260228), 123457);
	assert_int_equal(keten_prorata_month(123457, 202402, 20240101, 20240229), 123457);
	assert_int_equal(keten_prorata_month(-99, 202604, 20260101, 0), -99);
	/* Start on the 16th: 16 of 31 days. */
	assert_int_equal(keten_prorata_month(310000, 202601, 20260116, 0), 160000);
	assert_int_equal(keten_prorata_month(100000, 202601, 20260116, 0), 51613);
	/* End on the 10th: 10 of 31. */
	assert_int_equal(keten_prorata_month(100000, 202601, 20251101, 20260110), 32258);
	assert_int_equal(keten_prorata_month(100000, 202601, 20260131, 20260131), 3226);
	/* Half a February, rounded half away from zero. */
	assert_int_equal(keten_prorata_month(100001, 202602, 20260215, 0), 50001);
	assert_int_equal(keten_prorata_month(-100001, 202602, 20260215, 0), -50001);
	assert_int_equal(keten_prorata_month(100001, 202602, 20260201, 20260214), 50001);
	/* 2024 February has 29 days: 14 of 29. */
	assert_int_equal(keten_prorata_month(29000, 202402, 20240216, 0), 14000);
	/* Not covered. */
	assert_int_equal(keten_prorata_month(100000, 202601, 20260201, 0), 0);
	assert_int_equal(keten_prorata_month(100000, 202601, 20250101, 20251231), 0);
	assert_int_equal(keten_prorata_month(100000, 202601, 20260120, 20260110), 0);
	/* Bad input covers nothing. */
	assert_int_equal(keten_prorata_month(100000, 202613, 20260101, 0), 0);
	assert_int_equal(keten_prorata_month(100000, 202601, 0, 0), 0);
	assert_int_equal(keten_prorata_month(100000, 202601, 20260101, 20260132), 0);
	/* No overflow at the edge. */
	assert_true(keten_prorata_month(INT64_MAX, 202601, 20260101, 0) == INT64_MAX);
	want = (int64_t)(((__int128)INT64_MAX * 30 + 15) / 31);
	assert_true(keten_prorata_month(INT64_MAX, 202601, 20260102, 0) == want);
}

/* Privacy --------------------------------------------------------------- */

static void test_is_bsn(void **state)
{
	char buf[10];
	int passing = 0;

	(void)state;
	assert_true(keten_is_bsn("111222333"));
	assert_true(keten_is_bsn("123456782"));
	assert_false(keten_is_bsn("123456789"));
	assert_false(keten_is_bsn("000000000"));
	assert_false(keten_is_bsn("12345678"));
	assert_false(keten_is_bsn("12345678a"));
	assert_false(keten_is_bsn("1234 5678"));
	assert_false(keten_is_bsn(""));
	assert_false(keten_is_bsn(NULL));
	/* Only the nine digits at s count. */
	assert_true(keten_is_bsn("111222333xyz"));
	assert_true(keten_is_bsn("1234567820"));
	/* Of the ten last digits for one prefix, only the right one passes. */
	memcpy(buf, "11122233?", 10);
	for (char c = '0'; c <= '9'; c++) {
		buf[8] = c;
		if (keten_is_bsn(buf)) {
			passing++;
			assert_int_equal(c, '3');
		}
	}
	assert_int_equal(passing, 1);
}

static void test_text_has_bsn(void **state)
{
	static const char *const yes[] = {
		"BSN 1112.22.333 staat hier",
		"111222333",
		"111 222 333",
		"111-222-333",
		"client 123456782.",
		"x111222333y",
		"(123456782)",
		"1234.56.782",
		"datum 2026-01-15 111222333",
		"12 111222333",
		"nummers 123456789 en 111222333",
		"11122-2333 en 4",
		"111222333 4",
	};
	static const char *const no[] = {
		"order 1112223330",
		"123456789",
		"",
		"abc",
		"11122233",
		"1111222333",
		"tel 0612345678",
		"bedrag 1.234,56",
		"NL91 ABNA 0417 1643 00",
		"NL91ABNA0417164300",
		"1112-22-3330",
		"111..222.333",
		"11122-2333 4",
		"000000000",
		"000 000 000",
	};

	(void)state;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!keten_text_has_bsn(yes[i]))
			fail_msg("missed BSN in \"%s\"", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (keten_text_has_bsn(no[i]))
			fail_msg("false BSN in \"%s\"", no[i]);
	assert_false(keten_text_has_bsn(NULL));
}

static bool text_ok(const char *s)
{
	return keten_text_ok(s, strlen(s));
}

static void test_text_ok(void **state)
{
	static const char *const good[] = {
		"",
		"hallo",
		"tab\there\nnieuwe regel",
		"caf\xc3\xa9",
		"\xe2\x82\xac 5",
		"\xf0\x9f\x98\x80",
		"\xf4\x8f\xbf\xbf",
		"\xef\xbf\xbf",
		"\xed\x9f\xbf",
		"\xee\x80\x80",
		"\xc2\x80",
		"\xe0\xa0\x80",
		"\xf0\x90\x80\x80",
		"~",
	};
	static const char *const bad[] = {
		"\r",
		"a\rb",
		"\x01",
		"\x1b[0m",
		"\x7f",
		"\x1f",
		"\xc0\xaf",
		"\xc1\xbf",
		"\xe0\x80\xaf",
		"\xe0\x9f\xbf",
		"\xf0\x80\x80\xaf",
		"\xf0\x8f\xbf\xbf",
		"\xed\xa0\x80",
		"\xed\xbf\xbf",
		"\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80",
		"\xf8\x88\x80\x80\x80",
		"\xff",
		"\xfe",
		"\x80",
		"a\xbf",
		"\xe2\x82",
		"\xc3",
		"\xf0\x9f\x98",
		"\xc3\x28",
		"\xe2\x28\xa1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!text_ok(good[i]))
			fail_msg("rejected good text %zu", i);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (text_ok(bad[i]))
			fail_msg("accepted bad text %zu", i);
	/* NUL inside the length is refused; len bounds the check. */
	assert_false(keten_text_ok("ab\0cd", 5));
	assert_true(keten_text_ok("abc\x01", 3));
	assert_false(keten_text_ok("\xe2\x82\xac", 2));
	assert_true(keten_text_ok(NULL, 0));
	assert_false(keten_text_ok(NULL, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_sub_mul),
		cmocka_unit_test(test_parse_cents_accepts),
		cmocka_unit_test(test_parse_cents_rejects),
		cmocka_unit_test(test_parse_cents_negative),
		cmocka_unit_test(test_format_cents),
		cmocka_unit_test(test_format_cents_human),
		cmocka_unit_test(test_split_herstel_examples),
		cmocka_unit_test(test_split_herstel_identity),
		cmocka_unit_test(test_apply_bp),
		cmocka_unit_test(test_index_cents),
		cmocka_unit_test(test_split_weighted_examples),
		cmocka_unit_test(test_split_weighted_bad),
		cmocka_unit_test(test_split_weighted_sums),
		cmocka_unit_test(test_parse_pct_bp),
		cmocka_unit_test(test_parse_date),
		cmocka_unit_test(test_format_date),
		cmocka_unit_test(test_date_valid_and_month_length),
		cmocka_unit_test(test_date_days),
		cmocka_unit_test(test_date_add_days),
		cmocka_unit_test(test_parse_period),
		cmocka_unit_test(test_date_of_ms),
		cmocka_unit_test(test_today),
		cmocka_unit_test(test_prorata_month),
		cmocka_unit_test(test_is_bsn),
		cmocka_unit_test(test_text_has_bsn),
		cmocka_unit_test(test_text_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
