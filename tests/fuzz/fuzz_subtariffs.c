/*
 * fuzz_subtariffs.c — libFuzzer target for the subcontract tariff reader:
 * any bytes go to keten_sub_tariffs_parse, and the table is released in
 * every case.  A table read without error has at least one line, every
 * line a service and either a WJ756 unit with cents above zero or a share
 * of 1 to 10000 basis points, and no service twice; a refusal carries a
 * message and leaves the table empty.  Seeds: tests/fuzz/corpus/subtariffs/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keten.h"
#include "keten/tariffs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	keten_sub_tariffs t;
	keten_error err = {0};
	int rc = keten_sub_tariffs_parse(data, size, &t, &err);

	if (rc == 0 && t.n == 0)
		abort();
	if (rc != 0 && (t.n != 0 || t.lines || !err.msg[0]))
		abort();
	for (size_t i = 0; i < t.n; i++) {
		const keten_sub_tariff *l = &t.lines[i];
		if (!l->service || !l->service[0] || !l->name)
			abort();
		if (l->unit ? l->cents <= 0 || l->share_bp : l->cents || l->share_bp < 1 || l->share_bp > 10000)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(t.lines[j].service, l->service) == 0)
				abort();
	}
	keten_sub_tariffs_release(&t);
	return 0;
}
