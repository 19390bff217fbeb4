/*
 * subtariffs.c — the subcontract tariff table reader (see keten/tariffs.h),
 * beside the tariff-table reader of tariffs.c and read the same way:
 * libcsv in strict mode, fed one physical line at a time so that a '#'
 * line between records is skipped as a comment, the header row naming
 * the columns, the first bad record stopping the reading with a message
 * naming its row.  Every later record becomes one line, priced per WJ756
 * unit or as a share of the arrangement.  The contract draft
 * (ledger/compose/) signs the table in the FrameworkContract body, and the
 * ledger's contract rule checks it again (rules/contract.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "keten/keten.h"
#include "keten/tariffs.h"
#include "base/base.h"

/* libcsv's parser state between rows (ROW_NOT_BEGUN in libcsv.c). */
#define LIBCSV_ROW_NOT_BEGUN 0
#define MAX_FIELDS           32
#define MAX_SERVICE          64 /* characters of a service name */

enum { COL_SERVICE, COL_UNIT, COL_CENTS, COL_NAME, COL_SHARE, NCOL };
static const char *const col_names[NCOL] = {"service", "unit", "tariff_cents", "name", "share_pct"};

struct reader {
	int col[NCOL];
	char *field[MAX_FIELDS];
	size_t nfield;
	size_t row;
	bool bad, oom;
	char msg[200];
	keten_sub_tariffs *out;
};

static void on_field(void *s, size_t len, void *p)
{
	struct reader *x = p;
	if (x->nfield < MAX_FIELDS) {
		char *f = malloc(len + 1);
		if (f) {
			memcpy(f, s, len);
			f[len] = 0;
		} else {
			x->oom = true;
		}
		x->field[x->nfield] = f;
	}
	x->nfield++;
}

/* The WJ756 unit word, as a static string, or NULL. */
static const char *unit_of(const char *u)
{
	static const char *const units[] = {"minute",       "hour",         "etmaal", "dagdeel",
	                                    "piece-output", "piece-effort", "euro"};
	for (size_t i = 0; i < KT_COUNT(units); i++)
		if (strcmp(units[i], u) == 0)
			return units[i];
	return NULL;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static void fail(struct reader *x, const char *fmt, const char *a)
{
	char what[160];
	x->bad = true;
	snprintf(what, sizeof what, fmt, a);
	snprintf(x->msg, sizeof x->msg, "row %zu: %s", x->row, what);
}

static void header(struct reader *x, size_t n)
{
	for (int k = 0; k < NCOL; k++) {
		x->col[k] = -1;
		for (size_t i = 0; i < n && i < MAX_FIELDS; i++)
			if (x->field[i] && strcmp(x->field[i], col_names[k]) == 0)
				x->col[k] = (int)i;
		if (x->col[k] < 0 && k != COL_NAME && k != COL_SHARE && !x->bad) {
			x->bad = true;
			snprintf(x->msg, sizeof x->msg, "the header has no column '%s'", col_names[k]);
		}
	}
}

/* The price of a row: per unit, or a share; false (x->bad) when it is neither. */
static bool price(struct reader *x, const char *const *f, keten_sub_tariff *l)
{
	if (f[COL_SHARE][0]) {
		int32_t bp;
		if (keten_parse_pct_bp(f[COL_SHARE], &bp) != 0 || bp < 1 || bp > 10000) {
			fail(x, "share_pct '%s' is not a percentage above 0 and at most 100", f[COL_SHARE]);
			return false;
		}
		if (f[COL_UNIT][0] || f[COL_CENTS][0]) {
			fail(x, "service '%s' is priced as a share: its unit and tariff_cents stay empty",
			     f[COL_SERVICE]);
			return false;
		}
		l->share_bp = (uint32_t)bp;
		return true;
	}
	if (!(l->unit = unit_of(f[COL_UNIT]))) {
		fail(x,
		     "unit '%s' is not a WJ756 unit (minute, hour, etmaal, dagdeel, piece-output, piece-effort, euro)",
		     f[COL_UNIT]);
		return false;
	}
	if (!all_digits(f[COL_CENTS]) || strlen(f[COL_CENTS]) > 13 || strtoll(f[COL_CENTS], NULL, 10) <= 0) {
		fail(x, "tariff_cents '%s' is not a whole number of cents above zero", f[COL_CENTS]);
		return false;
	}
	l->cents = strtoll(f[COL_CENTS], NULL, 10);
	return true;
}

static void add_line(struct reader *x, const char *const *f)
{
	keten_sub_tariffs *o = x->out;
	keten_sub_tariff l = {0}, *arr;

	if (!f[COL_SERVICE][0] || strlen(f[COL_SERVICE]) > MAX_SERVICE) {
		fail(x, "service '%s' is not a name of 1 to 64 characters", f[COL_SERVICE]);
		return;
	}
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->lines[i].service, f[COL_SERVICE]) == 0) {
			fail(x, "service '%s' appears twice", f[COL_SERVICE]);
			return;
		}
	if (!price(x, f, &l))
		return;
	if (!(arr = realloc(o->lines, (o->n + 1) * sizeof *arr))) {
		x->oom = true;
		return;
	}
	o->lines = arr;
	l.service = strdup(f[COL_SERVICE]);
	l.name = strdup(f[COL_NAME]);
	if (!l.service || !l.name)
		x->oom = true;
	arr[o->n++] = l;
}

static void on_record(int term KT_UNUSED, void *p)
{
	struct reader *x = p;
	const char *f[NCOL];
	size_t n = x->nfield;

	x->row++;
	if (x->bad || x->oom || n == 0)
		goto done;
	if (x->row == 1) {
		header(x, n);
		goto done;
	}
	for (int k = 0; k < NCOL; k++)
		f[k] = x->col[k] >= 0 && (size_t)x->col[k] < n && x->col[k] < MAX_FIELDS && x->field[x->col[k]]
			? x->field[x->col[k]]
			: "";
	add_line(x, f);
done:
	for (size_t i = 0; i < n && i < MAX_FIELDS; i++)
		free(x->field[i]);
	x->nfield = 0;
}

/* Feed the CSV line by line, skipping comment lines between records. */
static void feed(struct reader *x, struct csv_parser *p, const uint8_t *data, size_t len)
{
	size_t pos = 0;
	while (pos < len && !x->bad && !x->oom) {
		const uint8_t *nl = memchr(data + pos, '\n', len - pos);
		size_t seg = nl ? (size_t)(nl - (data + pos)) + 1 : len - pos;
		bool comment = p->pstate == LIBCSV_ROW_NOT_BEGUN && data[pos] == '#';
		if (!comment && csv_parse(p, data + pos, seg, on_field, on_record, x) != seg) {
			x->bad = true;
			snprintf(x->msg, sizeof x->msg, "%s", csv_strerror(csv_error(p)));
		}
		pos += seg;
	}
	if (!x->bad && !x->oom)
		csv_fini(p, on_field, on_record, x);
}

int keten_sub_tariffs_parse(const uint8_t *data, size_t len, keten_sub_tariffs *out, keten_error *err)
{
	struct reader x = {.out = out};
	struct csv_parser p;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "no table to read into");
	memset(out, 0, sizeof *out);
	if (!data && len)
		return keten_fail(err, KETEN_EINVAL, "no subcontract tariff data");
	if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL) != 0)
		return keten_fail(err, KETEN_ENOMEM, "out of memory reading a subcontract tariff table");
	feed(&x, &p, data ? data : (const uint8_t *)"", len);
	for (size_t i = 0; i < x.nfield && i < MAX_FIELDS; i++)
		free(x.field[i]);
	csv_free(&p);
	if (!x.bad && !x.oom && out->n == 0) {
		x.bad = true;
		snprintf(x.msg, sizeof x.msg, "no subcontract tariff lines");
	}
	if (x.bad || x.oom) {
		keten_sub_tariffs_release(out);
		return x.oom ? keten_fail(err, KETEN_ENOMEM, "out of memory reading a subcontract tariff table")
			     : keten_fail(err, KETEN_EMALFORMED, "%s", x.msg);
	}
	KETEN_ASSERT(out->n > 0 && out->lines != NULL);
	return KETEN_OK;
}

int keten_sub_tariffs_read(const char *path, keten_sub_tariffs *out, keten_error *err)
{
	FILE *f;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!path)
		return keten_fail(err, KETEN_EINVAL, "no subcontract tariff file");
	if (!(f = fopen(path, "rb")))
		return keten_fail(err, KETEN_ENOTFOUND, "cannot read '%s': %s", path, strerror(errno));
	for (;;) {
		size_t got;
		if (n == cap) {
			uint8_t *p = realloc(buf, cap ? cap * 2 : 16384);
			if (!p) {
				free(buf);
				fclose(f);
				return keten_fail(err, KETEN_ENOMEM, "out of memory reading '%s'", path);
			}
			buf = p;
			cap = cap ? cap * 2 : 16384;
		}
		if ((got = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += got;
	}
	rc = ferror(f);
	fclose(f);
	if (rc) {
		free(buf);
		return keten_fail(err, KETEN_ENOTFOUND, "cannot read '%s': %s", path, strerror(EIO));
	}
	rc = keten_sub_tariffs_parse(buf, n, out, err);
	free(buf);
	return rc;
}

void keten_sub_tariffs_release(keten_sub_tariffs *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->lines[i].service);
		free(t->lines[i].name);
	}
	free(t->lines);
	memset(t, 0, sizeof *t);
}
