/*
 * fuzz_camt.c — libFuzzer target for the camt.053 reader: any bytes go to
 * keten_camt_parse; a statement that parses also goes through the balance
 * check, and everything is released (leaks count as failures under ASan).
 * Seeds: tests/fuzz/corpus/camt/.
 */
#include <stddef.h>
#include <stdint.h>

#include "keten/keten.h"
#include "keten/camt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	keten_camt_statement s;
	keten_error err;
	int64_t sum;

	if (keten_camt_parse(data, size, &s, &err) == 0) {
		(void)keten_camt_check_balance(&s, &sum, &err);
		keten_camt_release(&s);
	}
	return 0;
}
