/*
 * fuzz_batch.c — libFuzzer target for the batch reader: any bytes go to
 * keten_batch_parse (CSV or NDJSON by the first character), and the result
 * is released in every case, as the API requires.  Every error must carry
 * a line-numbered message.  Seeds: tests/fuzz/corpus/batch/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "keten/keten.h"
#include "keten/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	keten_batch b;
	keten_error err;
	int rc = keten_batch_parse(data, size, &b, &err);

	if (rc == 0 && (b.n_errors != 0 || b.n_rows == 0))
		abort();
	if (rc == KETEN_EMALFORMED && (b.n_errors == 0 || b.n_rows != 0))
		abort();
	for (size_t i = 0; i < b.n_errors; i++)
		if (!b.errors[i].msg || !b.errors[i].msg[0])
			abort();
	keten_batch_release(&b);
	return 0;
}
