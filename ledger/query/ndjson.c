/*
 * ndjson.c — one line of NDJSON at a time, bounded (see keten/json.h):
 * a line longer than the limit is refused as soon as the limit is passed,
 * so a hostile file never has its whole line in memory.
 */
#include <stdio.h>
#include <stdlib.h>

#include "keten/keten.h"
#include "keten/json.h"
#include "base/base.h"

static int too_long(size_t max, keten_error *err)
{
	return keten_fail(err, KETEN_EMALFORMED, "the line is longer than the limit of %zu bytes", max);
}

int keten_json_read_line(FILE *in, size_t max, char **buf, size_t *cap, size_t *len, keten_error *err)
{
	size_t n = 0;
	int c;

	KETEN_ASSERT(in && buf && cap && len && max > 0);
	*len = 0;
	while ((c = getc_unlocked(in)) != EOF) {
		if (n + 1 >= *cap) {
			/* room for max bytes, the newline and a NUL; no more */
			size_t want = *cap ? *cap * 2 : 4096;
			char *p;
			if (want > max + 2)
				want = max + 2;
			if (want <= *cap)
				return too_long(max, err);
			if (!(p = realloc(*buf, want)))
				return keten_fail(err, KETEN_ENOMEM, NULL);
			*buf = p;
			*cap = want;
		}
		(*buf)[n++] = (char)c;
		if (c == '\n')
			break;
		if (n > max)
			return too_long(max, err);
	}
	if (c == EOF && ferror(in))
		return keten_fail(err, KETEN_EIO, "reading a line failed");
	if (n == 0)
		return 1;
	(*buf)[n] = '\0';
	*len = n;
	return KETEN_OK;
}
