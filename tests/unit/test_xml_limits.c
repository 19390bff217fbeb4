/*
 * test_xml_limits.c — the limits the XML readers share (formats/xml.c,
 * keten/limits.h), through the camt.053 and iJw readers and the pass
 * itself.  The memory test runs first, so that the process's peak RSS
 * (getrusage) is that of the refusal: 32 MiB of <a/> in a camt.053
 * Document is refused without a tree (the whole tree took 1.1 GB); 80,000
 * attributes on one element are refused in well under a second (libxml2
 * checks them against each other: 25 s); deep nesting and too many
 * elements are refused naming the limit, the value and the line; markup
 * the pass must skip (comments, CDATA, processing instructions, quoted
 * '=' and '>') does not count; the example statements still read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "keten/keten.h"
#include "keten/camt.h"
#include "keten/ijw.h"
#include "formats/xml.h"
#include "test_util.h"

#define CAMT_OPEN  "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">"
#define CAMT_CLOSE "</Document>"

static long peak_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A camt.053 Document around `n` copies of `unit`, at most cap bytes. */
static uint8_t *camt_of(const char *unit, size_t n, size_t *len)
{
	size_t u = strlen(unit), head = strlen(CAMT_OPEN), tail = strlen(CAMT_CLOSE);
	uint8_t *b = malloc(head + u * n + tail);

	assert_non_null(b);
	memcpy(b, CAMT_OPEN, head);
	for (size_t i = 0; i < n; i++)
		memcpy(b + head + u * i, unit, u);
	memcpy(b + head + u * n, CAMT_CLOSE, tail);
	*len = head + u * n + tail;
	return b;
}

static void camt_refused(const uint8_t *b, size_t len, const char *needle)
{
	keten_camt_statement s;
	keten_error err = {0};

	assert_int_equal(keten_camt_parse(b, len, &s, &err), KETEN_EMALFORMED);
	assert_null(s.entries);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' does not hold '%s'", err.msg, needle);
}

/* 32 MiB of <a/>: refused at the element limit, the peak RSS not far
 * above the buffer itself. */
static void test_elements_memory(void **state)
{
	long base = peak_rss_kib(), after;
	size_t n = (KETEN_CAMT_MAX_BYTES - 200) / 4, len;
	uint8_t *b = camt_of("<a/>", n, &len);
	char needle[120];

	(void)state;
	assert_true(len <= KETEN_CAMT_MAX_BYTES && len > 32u * 1000u * 1000u);
	snprintf(needle, sizeof needle, "more than the limit of %u elements (element %u is at line 1)",
	         KETEN_CAMT_MAX_ELEMENTS, KETEN_CAMT_MAX_ELEMENTS + 1u);
	camt_refused(b, len, needle);
	after = peak_rss_kib();
	print_message("# 32 MiB of <a/>: peak RSS %ld KiB at the start, %ld KiB after the refusal\n", base, after);
	/* a tree of 8 million elements takes over a gigabyte; the refusal
	 * adds less than 32 MiB to the 32 MiB buffer */
	assert_true(after - base < 64 * 1024);
	free(b);
}

/* 80,000 attributes on one element: refused fast, naming the count. */
static void test_attributes_fast(void **state)
{
	size_t n = 80000, len, k = 0;
	char *b = malloc(n * 12 + 200);
	double t0, dt;

	(void)state;
	assert_non_null(b);
	k += (size_t)sprintf(b, CAMT_OPEN "<a");
	for (size_t i = 0; i < n; i++)
		k += (size_t)sprintf(b + k, " a%zu='1'", i);
	k += (size_t)sprintf(b + k, "/>" CAMT_CLOSE);
	len = k;
	t0 = now_s();
	camt_refused((uint8_t *)b, len, "an element with 80000 attributes at line 1, more than the limit of 16");
	dt = now_s() - t0;
	print_message("# 80000 attributes on one element: refused in %.3f s\n", dt);
	assert_true(dt < 1.0);
	free(b);
}

static void test_depth(void **state)
{
	size_t len;
	uint8_t *deep = camt_of("<a>", KETEN_CAMT_MAX_DEPTH, &len), *ok;
	keten_camt_statement s;
	keten_error err = {0};

	(void)state;
	/* the Document and 24 levels under it: level 25 is refused */
	camt_refused(deep, len,
	             "elements nest 25 levels deep at line 1 of the camt.053 file, deeper than the limit of 24");
	free(deep);
	/* 100,000 levels: refused at the first excess all the same */
	deep = camt_of("\n<a>", 100000, &len);
	camt_refused(deep, len, "elements nest 25 levels deep at line 25 of the camt.053 file");
	free(deep);
	/* siblings do not nest: 23 levels and closed ones beside them pass the
	 * pass (and are then no statement) */
	ok = camt_of("<b><c/></b>", 1000, &len);
	assert_int_equal(keten_camt_parse(ok, len, &s, &err), KETEN_EMALFORMED);
	assert_null(strstr(err.msg, "limit"));
	free(ok);
}

static const kt_xml_limits small = {
	.what = "test file", .max_bytes = 4096, .max_depth = 3, .max_attrs = 2, .max_elements = 5};

static int scan(const char *s, keten_error *err)
{
	return kt_xml_scan((const uint8_t *)s, strlen(s), &small, err);
}

/* What the pass counts and what it skips. */
static void test_pass(void **state)
{
	keten_error err = {0};

	(void)state;
	assert_int_equal(scan("<r a='1' b=\"2\"><s/><s/></r>", &err), 0);
	/* '=' and '>' in quoted values, and markup in comments, CDATA and PIs */
	assert_int_equal(scan("<r a='x=y>z' b=\"'=\"><!-- <a b='1' c='2' d='3'> --><![CDATA[<x><x><x><x>]]>"
	                      "<?pi <y><y><y><y> ?></r>",
	                      &err),
	                 0);
	assert_int_equal(scan("<r a='1' b='2' c='3'/>", &err), KETEN_EMALFORMED);
	assert_string_equal(err.msg,
	                    "the test file has an element with 3 attributes at line 1, more than the limit of 2");
	assert_int_equal(scan("<r>\n<s>\n<t>\n<u>", &err), KETEN_EMALFORMED);
	assert_string_equal(err.msg,
	                    "elements nest 4 levels deep at line 4 of the test file, deeper than the limit of 3");
	assert_int_equal(scan("<r>\n<s/><s/><s/>\n<s/>\n<s/></r>", &err), KETEN_EMALFORMED);
	assert_string_equal(err.msg, "the test file has more than the limit of 5 elements (element 6 is at line 4)");
	assert_int_equal(scan("<r/>\n<!ENTITY x 'y'>", &err), KETEN_EMALFORMED);
	assert_non_null(strstr(err.msg, "markup declaration is not allowed in the test file (line 2)"));
	/* a namespace declaration is an attribute */
	assert_int_equal(scan("<r xmlns='u' xmlns:a='v' a:b='1'/>", &err), KETEN_EMALFORMED);
	/* an unterminated tag or comment ends the pass; libxml2 refuses it */
	assert_int_equal(scan("<r a='1", &err), 0);
	assert_int_equal(scan("<r><!-- <a><a><a><a>", &err), 0);
	{
		char big[4098];
		memset(big, ' ', sizeof big);
		big[0] = '<';
		assert_int_equal(kt_xml_scan((const uint8_t *)big, sizeof big, &small, &err), KETEN_EMALFORMED);
		assert_string_equal(err.msg, "the test file of 4098 bytes is larger than the limit of 4096 bytes");
	}
}

/* The iJw reader shares the pass with its own limits. */
static void test_ijw(void **state)
{
	keten_ijw_message m;
	keten_error err = {0};
	uint8_t key[32] = {1};
	size_t n = 80000, k = 0;
	char *b = malloc(n * 12 + 100);

	(void)state;
	assert_non_null(b);
	k += (size_t)sprintf(b, "<Bericht");
	for (size_t i = 0; i < n; i++)
		k += (size_t)sprintf(b + k, " a%zu='1'", i);
	k += (size_t)sprintf(b + k, "/>");
	assert_int_equal(keten_ijw_parse((uint8_t *)b, k, key, &m, &err), KETEN_EMALFORMED);
	assert_non_null(strstr(err.msg,
	                       "the message has an element with 80000 attributes at line 1, more than the limit of 8"));
	free(b);
}

/* Statements within the limits read as before. */
static void test_normal_files(void **state)
{
	static const char *const files[] = {"ok-simple.xml", "ok-batch.xml", "recon-lead-2026-03.xml"};
	(void)state;
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		keten_camt_statement s;
		keten_error err = {0};
		size_t len;
		uint8_t *buf = test_load("tests/data/camt/", files[i], &len);
		if (keten_camt_parse(buf, len, &s, &err))
			fail_msg("%s: %s", files[i], err.msg);
		assert_true(s.n_entries > 0);
		keten_camt_release(&s);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elements_memory), /* first: the peak RSS is its own */
		cmocka_unit_test(test_attributes_fast),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_ijw),
		cmocka_unit_test(test_normal_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
