/*
 * test_change.c — unit tests for the arithmetic and the word lists of a
 * change and of volumes (ledger/rules/change.c, ledger/rules/volume.c):
 * the up-front part left due after what was paid under a replaced
 * allocation, the JZ002 reasons and the stop codes they close with, the
 * change windows of a contract, what a weekly or monthly volume allows in
 * a month (to the hundredth, in part months), and which unit words a local
 * entry and a received one may carry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rules/change.h"
#include "rules/volume.h"

static void test_upfront_due(void **state)
{
	(void)state;
	/* 2/3 of 14366.00 is 9577.33 (floor) */
	assert_int_equal(kt_upfront_due(1436600, 0), 957733);
	assert_int_equal(kt_upfront_due(1436600, -5), 957733);
	/* J03/5 after 6178.66 paid under J03/3: 14845.33 - 6178.66 */
	assert_int_equal(kt_upfront_due(2226800, 617866), 866667);
	/* never negative: more was paid than the new 2/3 */
	assert_int_equal(kt_upfront_due(597900, 957733), 0);
	assert_int_equal(kt_upfront_due(597900, 398600), 0);
	assert_int_equal(kt_upfront_due(597900, 398599), 1);
	/* the up-front part due plus what was carried plus the final part is the whole */
	for (int64_t amount = 1; amount < 2000; amount += 7)
		for (int64_t carried = 0; carried <= amount; carried += 13) {
			int64_t up, fin, due = kt_upfront_due(amount, carried);
			keten_split_herstel(amount, &up, &fin);
			assert_true(due >= 0 && due <= up);
			if (carried <= up)
				assert_int_equal(due + carried + fin, amount);
		}
}

static void test_change_reasons(void **state)
{
	bool known, obsolete;
	static const char *const to36[] = {"03", "05", "08", "10", "11"};
	static const char *const none[] = {"02", "04", "06", "07", "09", "13", "14"};

	(void)state;
	assert_string_equal(kt_change_stop("12", &known, &obsolete), "37");
	assert_true(known && !obsolete);
	for (size_t i = 0; i < sizeof to36 / sizeof *to36; i++) {
		assert_string_equal(kt_change_stop(to36[i], &known, &obsolete), "36");
		assert_true(known && !obsolete);
	}
	for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
		assert_null(kt_change_stop(none[i], &known, &obsolete));
		assert_true(known && !obsolete);
	}
	assert_null(kt_change_stop("01", &known, &obsolete));
	assert_true(known && obsolete);
	assert_null(kt_change_stop("15", &known, &obsolete));
	assert_false(known);
	assert_null(kt_change_stop(NULL, &known, &obsolete));
	assert_false(known);
}

static void test_change_window(void **state)
{
	Keten__FrameworkContract fc = KETEN__FRAMEWORK_CONTRACT__INIT;
	char *heavy[] = {"6", "7"};

	(void)state;
	assert_int_equal(kt_change_window(NULL, "4"), 42);
	assert_int_equal(kt_change_window(&fc, "6"), 42); /* nothing marked heavy */
	fc.heavy_intensities = heavy;
	fc.n_heavy_intensities = 2;
	assert_int_equal(kt_change_window(&fc, "6"), 84);
	assert_int_equal(kt_change_window(&fc, "4"), 42);
	fc.has_change_window_days = fc.has_heavy_window_days = 1;
	fc.change_window_days = 45;
	fc.heavy_window_days = 90;
	assert_int_equal(kt_change_window(&fc, "7"), 90);
	assert_int_equal(kt_change_window(&fc, "B"), 45);
	assert_int_equal(kt_change_window(&fc, NULL), 45);
}

/* The allowance of month ym as hundredths, rounded down, or -1. */
static int64_t allows(Keten__State__AllocationState *as, uint32_t ym)
{
	int64_t num, den;
	return kt_volume_month(as, ym, &num, &den) ? num / den : -1;
}

static void test_volume_month(void **state)
{
	Keten__State__AllocationState as = KETEN__STATE__ALLOCATION_STATE__INIT;
	int64_t num, den;

	(void)state;
	as.start = 20260101;
	as.end = 20261231;
	assert_false(kt_volume_month(&as, 202603, &num, &den)); /* no volume */
	as.has_volume = 1;
	as.volume = 200; /* 2 hours */
	as.volume_unit = "hour";
	as.frequency = "week";
	/* per month: volume x days / 7 */
	assert_int_equal(allows(&as, 202604), 857); /* 2 x 30 / 7 = 8.571 */
	assert_true(kt_volume_month(&as, 202604, &num, &den));
	assert_true(857 * den <= num && 858 * den > num);
	assert_int_equal(allows(&as, 202602), 800); /* 28 days: 8 hours exactly */
	assert_int_equal(allows(&as, 202603), 885); /* 31 days: 8.857 */
	as.frequency = "month";
	as.volume = 800;
	assert_int_equal(allows(&as, 202604), 800);
	/* a month in part: the days inside the allocation */
	as.start = 20260116;
	assert_int_equal(allows(&as, 202601), 412); /* 8 x 16 / 31 = 4.129 */
	as.frequency = "week";
	as.volume = 700; /* 7 hours a week: one an hour a day */
	assert_int_equal(allows(&as, 202601), 1600);
	as.end = 20260131;
	assert_int_equal(allows(&as, 202602), -1); /* after its end */
	assert_int_equal(allows(&as, 202512), -1); /* before its start */
	as.frequency = "total";
	assert_int_equal(allows(&as, 202601), -1); /* judged over the whole */
}

static void test_units(void **state)
{
	kt_apply local = {.local = true}, received = {.local = false};
	keten_error err = {0};
	static const char *const words[] = {"minute",       "hour", "etmaal",      "dagdeel",
	                                    "piece-output", "euro", "piece-effort"};
	static const char *const codes[] = {"01", "04", "14", "16", "82", "83", "84"};

	(void)state;
	for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
		assert_string_equal(kt_unit_code(words[i]), codes[i]);
		assert_int_equal(kt_unit_check(&local, "unit", words[i], NULL, &err), KETEN_OK);
	}
	/* the old words: refused locally, kept when received or signed so */
	for (const char *const *u = (const char *const[]){"day", "week", "month", "piece", NULL}; *u; u++) {
		assert_null(kt_unit_code(*u));
		assert_true(kt_unit_legacy(*u));
		assert_int_equal(kt_unit_check(&local, "unit", *u, NULL, &err), KETEN_ERULE);
		assert_string_equal(err.rule, "invalid-unit");
		assert_int_equal(kt_unit_check(&received, "unit", *u, NULL, &err), KETEN_OK);
		assert_int_equal(kt_unit_check(&local, "unit", *u, *u, &err), KETEN_OK);
	}
	assert_int_equal(kt_unit_check(&local, "unit", "piece", NULL, &err), KETEN_ERULE);
	assert_non_null(strstr(err.msg, "piece-output"));
	assert_int_equal(kt_unit_check(&received, "unit", "lichtjaar", NULL, &err), KETEN_ERULE);
	assert_int_equal(kt_unit_check(&local, "unit", NULL, NULL, &err), KETEN_ERULE);
}

static void test_delivery_unit(void **state)
{
	Keten__State__AllocationState as = KETEN__STATE__ALLOCATION_STATE__INIT;
	kt_apply local = {.local = true}, received = {.local = false};
	keten_error err = {0};

	(void)state;
	as.domain = "wmo";
	/* no volume (signed before volumes): Wmo in hours, as it was */
	assert_int_equal(kt_delivery_unit(&local, &as, "hour", &err), KETEN_OK);
	assert_int_equal(kt_delivery_unit(&received, &as, "minute", &err), KETEN_ERULE);
	assert_string_equal(err.rule, "wmo-needs-hours");
	/* a transport component: its rides */
	as.has_volume = 1;
	as.volume = 1000;
	as.volume_unit = "piece-effort";
	as.frequency = "total";
	assert_int_equal(kt_delivery_unit(&local, &as, "piece-effort", &err), KETEN_OK);
	assert_int_equal(kt_delivery_unit(&local, &as, "hour", &err), KETEN_ERULE);
	assert_string_equal(err.rule, "unit-not-allocated");
	/* received, the volume not in the signed body: kept */
	assert_int_equal(kt_delivery_unit(&received, &as, "hour", &err), KETEN_OK);
	as.volume_signed = as.has_volume_signed = 1;
	assert_int_equal(kt_delivery_unit(&received, &as, "hour", &err), KETEN_ERULE);
	/* a Wmo volume in hours */
	as.volume_unit = "hour";
	assert_int_equal(kt_delivery_unit(&local, &as, "minute", &err), KETEN_ERULE);
	assert_string_equal(err.rule, "wmo-needs-hours");
	/* Jeugd: the volume's unit */
	as.domain = "jeugd";
	assert_int_equal(kt_delivery_unit(&local, &as, "minute", &err), KETEN_ERULE);
	assert_string_equal(err.rule, "unit-not-allocated");
	as.volume_unit = NULL;
	assert_int_equal(kt_delivery_unit(&local, &as, "minute", &err), KETEN_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upfront_due),   cmocka_unit_test(test_change_reasons),
		cmocka_unit_test(test_change_window), cmocka_unit_test(test_volume_month),
		cmocka_unit_test(test_units),         cmocka_unit_test(test_delivery_unit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
