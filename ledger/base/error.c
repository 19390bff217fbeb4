/*
 * error.c — error texts, the error record, hex helpers and the one-time
 * libsodium initialisation shared by every module.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/keten.h"
#include "base/base.h"

static const char *const texts[KETEN_ERR_COUNT] = {
	[KETEN_OK] = "success",
	[KETEN_EINVAL] = "invalid argument",
	[KETEN_EMALFORMED] = "malformed data",
	[KETEN_ESIG] = "signature does not verify",
	[KETEN_EHASH] = "body does not match its hash",
	[KETEN_ECHAIN] = "entry does not continue its author's feed",
	[KETEN_EAUTHOR] = "author is not a certified party",
	[KETEN_ERULE] = "refused by a rule",
	[KETEN_ENOTFOUND] = "not found",
	[KETEN_EAMBIGUOUS] = "ambiguous id prefix",
	[KETEN_EEXIST] = "already exists",
	[KETEN_EFORK] = "two entries by one author at one seq",
	[KETEN_EPENDING] = "waiting for referenced entries",
	[KETEN_ENOMEM] = "out of memory",
	[KETEN_EIO] = "input/output error",
	[KETEN_ESTORE] = "ledger store error",
	[KETEN_EPASS] = "wrong passphrase or damaged keystore",
	[KETEN_EPROTO] = "sync protocol violation",
	[KETEN_EPERM] = "not permitted",
	[KETEN_ECRYPTO] = "cryptography library failed to start",
};

const char *keten_strerror(keten_err code)
{
	if ((unsigned)code >= KETEN_ERR_COUNT || !texts[code])
		return "unknown error";
	return texts[code];
}

void keten_error_clear(keten_error *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}

static void vset(keten_error *err, keten_err code, const char *fmt, va_list ap)
{
	err->code = code;
	err->item = 0; /* a new error is about no batch item until the append path says so */
	if (fmt)
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	else
		snprintf(err->msg, sizeof err->msg, "%s", keten_strerror(code));
}

keten_err keten_fail(keten_error *err, keten_err code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->rule[0] = 0;
		vset(err, code, fmt, ap);
		va_end(ap);
	}
	return code;
}

keten_err keten_refuse(keten_error *err, const char *rule, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		snprintf(err->rule, sizeof err->rule, "%s", rule);
		vset(err, KETEN_ERULE, fmt, ap);
		va_end(ap);
	}
	return KETEN_ERULE;
}

keten_err keten_init_crypto(void)
{
	return sodium_init() < 0 ? KETEN_ECRYPTO : KETEN_OK;
}

void keten_hex(char *out, const uint8_t *in, size_t len)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * len] = 0;
}

static int nib(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

keten_err keten_unhex(uint8_t *out, size_t len, const char *hex)
{
	if (!hex || strlen(hex) != 2 * len)
		return KETEN_EINVAL;
	for (size_t i = 0; i < len; i++) {
		int h = nib(hex[2 * i]), l = nib(hex[2 * i + 1]);
		if (h < 0 || l < 0)
			return KETEN_EINVAL;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return KETEN_OK;
}

void kt_assert_fail(const char *cond, const char *file, int line, const char *func)
{
	fprintf(stderr, "keten: assertion failed: %s (%s:%d, %s)\n", cond, file, line, func);
	fflush(stderr);
	abort();
}
