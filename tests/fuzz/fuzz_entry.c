/*
 * fuzz_entry.c — libFuzzer target for the entry envelope (ledger/entry.c).
 *
 * Any input goes through keten_entry_parse; what parses is verified (the
 * result does not matter, only that nothing crashes or leaks), its views
 * are checked to lie inside its own copy of the bytes, and its stub is
 * made and parsed again, which must succeed with the same id and header;
 * and re-framing its parts must give back the input byte for byte.
 * Seeds: tests/fuzz/corpus/entry/ (real entries, stubs and malformed ones).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keten.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	keten_entry e, s;
	keten_error err = {0};
	uint8_t *stub = NULL;
	size_t stub_len = 0;

	if (keten_init_crypto() != KETEN_OK)
		abort();
	if (keten_entry_parse(data, size, &e, &err) != KETEN_OK) {
		if (e.raw || err.code == KETEN_OK)
			abort(); /* failure must clear the output and say why */
		return 0;
	}
	if (e.raw_len != size || memcmp(e.raw, data, size) != 0)
		abort();
	if (e.header < e.raw || e.header + e.header_len > e.raw + e.raw_len || e.sig < e.raw ||
	    e.sig + KETEN_SIG_BYTES > e.raw + e.raw_len ||
	    (e.has_body && (e.body < e.raw || e.body + e.body_len > e.raw + e.raw_len)) || e.seq < 1 ||
	    e.n_audience > KETEN_MAX_AUDIENCE || !keten_body_type_name(e.body_type) ||
	    (e.salt &&
	     (!e.has_body || e.version != 2 || e.salt < e.raw || e.salt + KETEN_SALT_BYTES > e.raw + e.raw_len)) ||
	    (e.has_body && (e.version == 2) != (e.salt != NULL)))
		abort(); /* a salt only with a version 2 body, always with one */
	(void)keten_entry_verify(&e);
	if (keten_entry_stub_bytes(&e, &stub, &stub_len) != KETEN_OK)
		abort();
	if (keten_entry_parse(stub, stub_len, &s, &err) != KETEN_OK)
		abort(); /* the stub of a parsed entry always parses */
	if (s.has_body || s.salt || memcmp(s.id, e.id, 32) != 0 || s.header_len != e.header_len ||
	    memcmp(s.header, e.header, e.header_len) != 0 || keten_entry_verify(&s) != keten_entry_verify(&e))
		abort();
	/* the framing is canonical: what parses is exactly its own re-framing */
	{
		uint8_t *re = NULL;
		size_t re_len = 0;
		if (keten_entry_frame(e.header, e.header_len, e.sig, e.body, e.body_len, e.has_body, e.salt, &re,
		                      &re_len) != KETEN_OK)
			abort();
		if (re_len != size || memcmp(re, data, size) != 0)
			abort();
		free(re);
	}
	keten_entry_release(&s);
	free(stub);
	keten_entry_release(&e);
	return 0;
}
