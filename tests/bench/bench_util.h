/*
 * bench_util.h — helpers the benchmarks in tests/bench/ share: a monotonic
 * clock, medians, dying with a message, removing the scratch directory,
 * entry bodies written as protobuf by hand (proto2 wire format, so a bench
 * needs no generated header), a new unlocked home that trusts keys, and
 * BENCH_UNUSED for callback parameters a bench does not read.
 * Define BENCH_NAME ("bench_core") before including it: messages start
 * with it.  Static inline, so a bench that uses only some of them builds
 * without warnings.
 */
#ifndef KETEN_BENCH_UTIL_H
#define KETEN_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keten/keten.h"

/* An unused callback parameter: put after its name. */
#define BENCH_UNUSED __attribute__((unused))

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (at most the first 128); 0 when n < 1.  v is not reordered. */
static inline double median(const double *v, int n)
{
	double s[128];
	if (n > 128)
		n = 128;
	if (n < 1)
		return 0;
	memcpy(s, v, (size_t)n * sizeof *v);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Print "BENCH_NAME: what: message" and exit 70 (EX_SOFTWARE). */
static inline void die(const char *what, const keten_error *err)
{
	fprintf(stderr, BENCH_NAME ": %s: %s\n", what, err && err->msg[0] ? err->msg : "failed");
	exit(70);
}

/* Remove dir and everything below it; a message when that fails. */
static inline void rm_rf(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, BENCH_NAME ": could not remove '%s'\n", dir);
}

/* v as a protobuf varint at p; returns the byte after it. */
static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		*p++ = b | (v ? 0x80 : 0);
	} while (v);
	return p;
}

/* A length-delimited field (tag byte, length, n bytes of d) at p; returns the byte after it. */
static inline uint8_t *put_bytes(uint8_t *p, uint8_t tag, const void *d, size_t n)
{
	*p++ = tag;
	p = put_varint(p, n);
	memcpy(p, d, n);
	return p + n;
}

/* PartyCertificate { key, name, roles: [role] } at out; its length. */
static inline size_t certificate_body(uint8_t *out, const uint8_t key[32], const char *name, uint32_t role)
{
	uint8_t *p = out;
	p = put_bytes(p, 0x0a, key, 32);
	p = put_bytes(p, 0x12, name, strlen(name));
	*p++ = 0x18;
	p = put_varint(p, role);
	return (size_t)(p - out);
}

/* A new home in dir (no passphrase, municipality 0363), opened and unlocked; dies on failure. */
static inline keten_ledger *make_home(const char *dir, const char *name, const char *role)
{
	keten_home_info info = {0};
	keten_error err = {0};
	keten_ledger *L;
	snprintf(info.name, sizeof info.name, "%s", name);
	snprintf(info.role, sizeof info.role, "%s", role);
	snprintf(info.municipality, sizeof info.municipality, "0363");
	if (keten_home_create(dir, NULL, &info, &err))
		die("keten_home_create", &err);
	if (keten_ledger_open(dir, &L, &err))
		die("keten_ledger_open", &err);
	if (keten_ledger_unlock(L, NULL, &err))
		die("keten_ledger_unlock", &err);
	return L;
}

/* Make key a trust anchor of L under name; dies on failure. */
static inline void trust(keten_ledger *L, const uint8_t key[32], const char *name)
{
	keten_error err = {0};
	if (keten_ledger_trust_add(L, key, name, &err))
		die("keten_ledger_trust_add", &err);
}

#endif
