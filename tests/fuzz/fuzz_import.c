/*
 * fuzz_import.c — libFuzzer target for the lines `keten import` reads:
 * any bytes are read line by line by keten_json_read_line (with a small
 * limit, so that long lines are exercised), each line made Entry bytes by
 * keten_json_entry_parse and those parsed by keten_entry_parse, as import
 * does before it verifies.  No line handed out is longer than the limit
 * and its newline; a refused line carries a message; made bytes are never
 * empty.  Seeds: tests/fuzz/corpus/import/ (exports of a small arrangement
 * and damaged lines).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "keten/keten.h"
#include "keten/entry.h"
#include "keten/json.h"

#define LINE_MAX_FUZZ 65536u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *in = fmemopen((void *)data, size ? size : 1, "rb");
	keten_error err = {0};
	char *line = NULL;
	size_t cap = 0, len;
	int rc;

	if (!in)
		abort();
	if (size == 0)
		(void)fgetc(in); /* fmemopen needs a byte: an empty stream */
	while ((rc = keten_json_read_line(in, LINE_MAX_FUZZ, &line, &cap, &len, &err)) == 0) {
		uint8_t *raw;
		size_t rl;
		keten_entry e;

		if (len == 0 || len > LINE_MAX_FUZZ + 1 || line[len] != '\0')
			abort();
		if (keten_json_entry_parse(line, len, &raw, &rl, &err) != 0) {
			if (!err.msg[0] || raw)
				abort();
			continue;
		}
		if (!raw || rl == 0)
			abort();
		if (keten_entry_parse(raw, rl, &e, &err) == 0)
			keten_entry_release(&e);
		free(raw);
	}
	if (rc != 1 && !err.msg[0])
		abort();
	free(line);
	fclose(in);
	return 0;
}
