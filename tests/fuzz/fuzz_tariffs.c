/*
 * fuzz_tariffs.c — libFuzzer target for the tariff-table reader: any bytes
 * go to keten_tariffs_parse for the jeugd domain, and the table is released
 * in every case.  A table read without error has at least one line, every
 * line a profile and a positive kind, every component a unit; a refusal
 * carries a message and leaves the table empty.  Seeds:
 * tests/fuzz/corpus/tariffs/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "keten/keten.h"
#include "keten/tariffs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	keten_tariffs t;
	keten_error err = {0};
	int rc = keten_tariffs_parse(data, size, "jeugd", &t, &err);

	if (rc == 0 && t.n_tariffs + t.n_components == 0)
		abort();
	if (rc != 0 && (t.n_tariffs + t.n_components != 0 || !err.msg[0]))
		abort();
	for (size_t i = 0; i < t.n_tariffs; i++)
		if (!t.tariffs[i].profile || !t.tariffs[i].intensity || t.tariffs[i].kind == KETEN_KIND_NONE)
			abort();
	for (size_t i = 0; i < t.n_components; i++)
		if (!t.components[i].code || !t.components[i].unit)
			abort();
	keten_tariffs_release(&t);
	return 0;
}
