/*
 * tariffs.c — the tariff-table reader (see keten/tariffs.h).
 *
 * libcsv splits the CSV in strict mode; the input is fed one physical
 * line at a time so that a line starting with '#' while the parser is
 * between records can be skipped as a comment (a '#' inside a quoted
 * field that spans lines is data).  The header row names the columns;
 * every later record becomes a tariff line, a component, or nothing (a
 * row of another domain).  The first bad record stops the reading with a
 * message naming its row.  The contract draft (ledger/compose/) turns the
 * table into the FrameworkContract body.
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

enum { COL_DOMAIN, COL_PROFILE, COL_NAME, COL_INTENSITY, COL_KIND, COL_CENTS, COL_PER, NCOL };
static const char *const col_names[NCOL] = {"domain", "profile",      "profile_name", "intensity",
                                            "kind",   "tariff_cents", "per"};

struct reader {
	const char *domain;
	int col[NCOL];
	char *field[MAX_FIELDS];
	size_t nfield;
	size_t row;
	bool bad, oom;
	char msg[200];
	keten_tariffs *out;
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

/* The WJ756 unit word of a component's `per` (Dutch or the word itself), or
 * NULL.  A ride and a consultation are pieces of effort (84: stuks
 * inspanning, the P x Q of loose components); a bare "stuk" names no
 * WJ756 unit (82 or 84), and day, week and month are not WJ756 units. */
static const char *unit_of(const char *per)
{
	static const struct {
		const char *nl, *unit;
	} map[] = {
		{"rit", "piece-effort"},
		{"consult", "piece-effort"},
		{"stuks-inspanning", "piece-effort"},
		{"piece-effort", "piece-effort"},
		{"stuks-output", "piece-output"},
		{"piece-output", "piece-output"},
		{"uur", "hour"},
		{"hour", "hour"},
		{"minuut", "minute"},
		{"minute", "minute"},
		{"dagdeel", "dagdeel"},
		{"etmaal", "etmaal"},
		{"euro", "euro"},
	};
	for (size_t i = 0; i < KT_COUNT(map); i++)
		if (strcmp(map[i].nl, per) == 0)
			return map[i].unit;
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

static void header(struct reader *x, size_t n)
{
	for (int k = 0; k < NCOL; k++) {
		x->col[k] = -1;
		for (size_t i = 0; i < n && i < MAX_FIELDS; i++)
			if (x->field[i] && strcmp(x->field[i], col_names[k]) == 0)
				x->col[k] = (int)i;
		if (x->col[k] < 0 && k != COL_NAME) { /* the last column missing is named */
			x->bad = true;
			snprintf(x->msg, sizeof x->msg, "the header has no column '%s'", col_names[k]);
		}
	}
}

static char *dup(struct reader *x, const char *s)
{
	char *d = strdup(s);
	if (!d)
		x->oom = true;
	return d;
}

static void add_component(struct reader *x, const char *const *f)
{
	keten_tariffs *o = x->out;
	const char *unit = unit_of(f[COL_PER]);
	keten_tariff_component *arr, *k;

	if (!unit) {
		x->bad = true;
		snprintf(x->msg, sizeof x->msg, "row %zu: unit '%s' is not known", x->row, f[COL_PER]);
		return;
	}
	if (!(arr = realloc(o->components, (o->n_components + 1) * sizeof *arr))) {
		x->oom = true;
		return;
	}
	o->components = arr;
	k = &arr[o->n_components++];
	k->code = dup(x, f[COL_PROFILE]);
	k->name = dup(x, f[COL_NAME]);
	k->unit = unit;
	k->cents_per_unit = strtoll(f[COL_CENTS], NULL, 10);
}

static void add_tariff(struct reader *x, const char *const *f)
{
	keten_tariffs *o = x->out;
	keten_kind kind = strcmp(f[COL_KIND], "herstel") == 0 ? KETEN_KIND_HERSTEL
		: strcmp(f[COL_KIND], "duurzaam") == 0        ? KETEN_KIND_DUURZAAM
							      : KETEN_KIND_NONE;
	const char *want = kind == KETEN_KIND_HERSTEL ? "traject" : "maand";
	keten_tariff_line *arr, *t;

	if (kind == KETEN_KIND_NONE || strcmp(f[COL_PER], want) != 0) {
		x->bad = true;
		snprintf(x->msg, sizeof x->msg, "row %zu: kind '%s' per '%s' is not herstel/traject or duurzaam/maand",
		         x->row, f[COL_KIND], f[COL_PER]);
		return;
	}
	if (!(arr = realloc(o->tariffs, (o->n_tariffs + 1) * sizeof *arr))) {
		x->oom = true;
		return;
	}
	o->tariffs = arr;
	t = &arr[o->n_tariffs++];
	t->profile = dup(x, f[COL_PROFILE]);
	t->name = dup(x, f[COL_NAME]);
	t->intensity = dup(x, f[COL_INTENSITY]);
	t->kind = kind;
	t->cents = strtoll(f[COL_CENTS], NULL, 10);
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
	if (!all_digits(f[COL_CENTS]) || strlen(f[COL_CENTS]) > 13) {
		x->bad = true;
		snprintf(x->msg, sizeof x->msg, "row %zu: tariff_cents '%s' is not a whole number of cents", x->row,
		         f[COL_CENTS]);
	} else if (strcmp(f[COL_DOMAIN], "component") == 0) {
		add_component(x, f);
	} else if (strcmp(f[COL_DOMAIN], x->domain) == 0) {
		add_tariff(x, f);
	}
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

int keten_tariffs_parse(const uint8_t *data, size_t len, const char *domain, keten_tariffs *out, keten_error *err)
{
	struct reader x = {.domain = domain, .out = out};
	struct csv_parser p;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "no table to read into");
	memset(out, 0, sizeof *out);
	if ((!data && len) || !domain)
		return keten_fail(err, KETEN_EINVAL, "no tariff data or domain");
	if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL) != 0)
		return keten_fail(err, KETEN_ENOMEM, "out of memory reading a tariff table");
	feed(&x, &p, data, len);
	for (size_t i = 0; i < x.nfield && i < MAX_FIELDS; i++)
		free(x.field[i]);
	csv_free(&p);
	if (!x.bad && !x.oom && out->n_tariffs + out->n_components == 0) {
		x.bad = true;
		snprintf(x.msg, sizeof x.msg, "no tariff lines for domain %s", domain);
	}
	if (x.bad || x.oom) {
		keten_tariffs_release(out);
		return x.oom ? keten_fail(err, KETEN_ENOMEM, "out of memory reading a tariff table")
			     : keten_fail(err, KETEN_EMALFORMED, "%s", x.msg);
	}
	return KETEN_OK;
}

int keten_tariffs_read(const char *path, const char *domain, keten_tariffs *out, keten_error *err)
{
	FILE *f;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!path)
		return keten_fail(err, KETEN_EINVAL, "no tariff file");
	if (!(f = fopen(path, "rb")))
		return keten_fail(err, KETEN_ENOTFOUND, "cannot read '%s': %s", path, strerror(errno));
	for (;;) {
		size_t got;
		if (n == cap) {
			uint8_t *p = realloc(buf, cap ? cap * 2 : 65536);
			if (!p) {
				free(buf);
				fclose(f);
				return keten_fail(err, KETEN_ENOMEM, "out of memory reading '%s'", path);
			}
			buf = p;
			cap = cap ? cap * 2 : 65536;
		}
		if ((got = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += got;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return keten_fail(err, KETEN_ENOTFOUND, "cannot read '%s': %s", path, strerror(EIO));
	}
	fclose(f);
	rc = keten_tariffs_parse(buf, n, domain, out, err);
	free(buf);
	return rc;
}

void keten_tariffs_release(keten_tariffs *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_tariffs; i++) {
		free(t->tariffs[i].profile);
		free(t->tariffs[i].name);
		free(t->tariffs[i].intensity);
	}
	for (size_t i = 0; i < t->n_components; i++) {
		free(t->components[i].code);
		free(t->components[i].name);
	}
	free(t->tariffs);
	free(t->components);
	memset(t, 0, sizeof *t);
}
