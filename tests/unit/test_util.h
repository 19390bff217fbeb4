/*
 * test_util.h — helpers the cmocka suites in tests/unit/ share: reading a
 * data file whole and removing a scratch directory.  Static inline, so a
 * suite that uses only some of them builds without warnings; include it
 * after <cmocka.h> (it fails tests with cmocka's assertions).
 */
#ifndef KETEN_TEST_UTIL_H
#define KETEN_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * The whole file dir/name (dir ends in '/', relative to the repository
 * root, where tests/run.sh runs) in a malloc'd buffer the caller frees;
 * its size in *len.  Fails the test when the file cannot be read or is
 * empty.
 */
static inline uint8_t *test_load(const char *dir, const char *name, size_t *len)
{
	char p[256];
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(p, sizeof p, "%s%s", dir, name);
	f = fopen(p, "rb");
	if (!f)
		fail_msg("cannot open %s (run from the repository root)", p);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Remove dir and everything below it (rm -rf); system()'s result. */
static inline int test_rm_rf(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

#endif
