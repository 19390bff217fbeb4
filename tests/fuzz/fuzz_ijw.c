/*
 * fuzz_ijw.c — libFuzzer target for the iJw / iWmo 3.2 reader: any bytes
 * go to keten_ijw_parse with a fixed pseudonym key; a message that
 * parses is checked for the invariants the reader promises (every
 * product or prestatie within the item limit, references of the
 * documented shape, sums that add up) and released (leaks count as
 * failures under ASan).  Seeds: tests/fuzz/corpus/ijw/ (the synthetic
 * examples of every kind and hostile inputs).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keten.h"
#include "keten/ijw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const keten_ijw_message *m)
{
	int64_t sum = 0;

	if (m->n_products > KETEN_IJW_MAX_ITEMS || m->n_prestaties > KETEN_IJW_MAX_ITEMS)
		abort();
	if (m->client_ref[0] && (strlen(m->client_ref) != KETEN_IJW_REF_LEN || keten_text_has_bsn(m->client_ref)))
		abort();
	for (size_t i = 0; i < m->n_prestaties; i++) {
		const keten_ijw_prestatie *p = &m->prestaties[i];
		if (p->period_until < p->period_from || p->amount_cents < 0)
			abort();
		sum += p->credit ? -p->amount_cents : p->amount_cents;
	}
	if (m->kind == KETEN_IJW_CLAIM && sum != m->total_cents)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = {42};
	keten_ijw_message m;
	keten_error err;

	if (keten_ijw_parse(data, size, key, &m, &err) == 0) {
		check(&m);
		keten_ijw_release(&m);
	}
	return 0;
}
