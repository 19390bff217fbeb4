/*
 * batch.c — the batch file reader (see keten/batch.h).
 *
 * CSV is split by libcsv in strict mode (RFC 4180 quoting; a quote error
 * stops reading) with the delimiter taken from the header line; the input
 * is fed to libcsv one physical line at a time so that each record's
 * first line is known: a record starts on the line being fed while the
 * parser is between rows.  NDJSON is read line by line with jansson.
 * Both produce the same raw rows (one optional string per known column),
 * which one validator turns into keten_batch_row values or into one error
 * message per bad row.  Amounts and units go through keten_parse_cents,
 * dates and periods through keten_parse_date / keten_parse_period, and
 * free text through keten_text_ok and keten_text_has_bsn.  A BSN is never
 * echoed in a message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <csv.h>
#include <jansson.h>

#include "keten/keten.h"
#include "keten/batch.h"
#include "base/base.h"

/* libcsv's parser state between rows (ROW_NOT_BEGUN in libcsv.c). */
#define LIBCSV_ROW_NOT_BEGUN 0

#define MAX_HEADER_COLS 64
#define ROW_MSG_MAX     1024
#define QUOTE_MAX       64

enum col {
	C_TYPE,
	C_SUBCONTRACT,
	C_ALLOCATION,
	C_PERIOD,
	C_UNITS,
	C_UNIT,
	C_AMOUNT,
	C_INSTALLMENT,
	C_CLAIM,
	C_PAYMENT,
	C_DATE,
	C_REFERENCE,
	C_NOTE,
	C_DELIVERIES,
	C_NUMBER,
	N_COLS
};

static const char *const col_names[N_COLS] = {
	[C_TYPE] = "type",
	[C_SUBCONTRACT] = "subcontract",
	[C_ALLOCATION] = "allocation",
	[C_PERIOD] = "period",
	[C_UNITS] = "units",
	[C_UNIT] = "unit",
	[C_AMOUNT] = "amount",
	[C_INSTALLMENT] = "installment",
	[C_CLAIM] = "claim",
	[C_PAYMENT] = "payment",
	[C_DATE] = "date",
	[C_REFERENCE] = "reference",
	[C_NOTE] = "note",
	[C_DELIVERIES] = "deliveries",
	[C_NUMBER] = "number",
};

static const char *const type_names[] = {
	[KETEN_BATCH_DELIVERY] = "delivery",
	[KETEN_BATCH_CLAIM] = "claim",
	[KETEN_BATCH_PAYMENT] = "payment",
	[KETEN_BATCH_RECEIPT] = "receipt",
};

const char *keten_batch_type_name(keten_batch_type t)
{
	if (t <= KETEN_BATCH_NONE || t > KETEN_BATCH_RECEIPT)
		return NULL;
	return type_names[t];
}

static int col_from_name(const char *s, size_t len)
{
	for (int c = 0; c < N_COLS; c++)
		if (strlen(col_names[c]) == len && strncasecmp(col_names[c], s, len) == 0)
			return c;
	return -1;
}

/* One row before validation: its first line, the text of each known
 * column, and the problems found while reading it. */
typedef struct raw_row {
	size_t line;
	char *v[N_COLS];
	bool any;        /* some field is not empty */
	bool unreadable; /* the row itself could not be read */
	char msg[ROW_MSG_MAX];
	size_t msg_len;
} raw_row;

typedef struct bctx {
	keten_batch *out;
	size_t cap_rows, cap_errors;
	size_t n_seen; /* data rows read, good or bad */
	bool oom;
	bool stop; /* a problem that ends reading */
	raw_row row;
	/* CSV */
	size_t cur_line; /* the physical line being fed to libcsv */
	size_t n_header;
	int map[MAX_HEADER_COLS]; /* header position -> column, -1 unknown */
	bool header_done;
	size_t field_i;
} bctx;

/* Messages ------------------------------------------------------------------ */

/* A printable rendering of a user's value for a message; a value holding
 * a BSN-like number is not shown. */
static const char *quote(char buf[QUOTE_MAX], const char *s)
{
	bool utf8 = keten_text_ok(s, strlen(s));
	size_t i = 0;

	if (keten_text_has_bsn(s)) {
		snprintf(buf, QUOTE_MAX, "(not shown)");
		return buf;
	}
	for (; *s && i + 4 < QUOTE_MAX; s++) {
		unsigned char c = (unsigned char)*s;
		buf[i++] = (c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80)) ? '?' : *s;
	}
	if (*s) {
		/* do not cut a UTF-8 sequence in two */
		while (i > 0 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80)
			i--;
		if (i > 0 && (unsigned char)buf[i - 1] >= 0xc0)
			i--;
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static void problem(raw_row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Add one problem to a row's message ("a; b; c"). */
static void problem(raw_row *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->msg_len + 3 >= sizeof r->msg)
		return;
	if (r->msg_len) {
		memcpy(r->msg + r->msg_len, "; ", 3);
		r->msg_len += 2;
	}
	va_start(ap, fmt);
	n = vsnprintf(r->msg + r->msg_len, sizeof r->msg - r->msg_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->msg_len += (size_t)n;
	if (r->msg_len >= sizeof r->msg)
		r->msg_len = sizeof r->msg - 1;
}

static void add_error(bctx *x, size_t line, const char *msg)
{
	keten_batch *b = x->out;
	char *m;

	if (b->n_errors == x->cap_errors) {
		size_t cap = x->cap_errors ? x->cap_errors * 2 : 16;
		keten_batch_error *grown = realloc(b->errors, cap * sizeof *grown);
		if (!grown) {
			x->oom = true;
			return;
		}
		b->errors = grown;
		x->cap_errors = cap;
	}
	m = strdup(msg);
	if (!m) {
		x->oom = true;
		return;
	}
	b->errors[b->n_errors].line = line;
	b->errors[b->n_errors].msg = m;
	b->n_errors++;
}

static void fatal(bctx *x, size_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A problem that ends reading the file. */
static void fatal(bctx *x, size_t line, const char *fmt, ...)
{
	char msg[ROW_MSG_MAX];
	va_list ap;

	if (x->stop)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	add_error(x, line, msg);
	x->stop = true;
}

/* Values -------------------------------------------------------------------- */

/*
 * Store the text s (len bytes) as column c of the row, normalising CRLF
 * inside a field to LF.  Empty text leaves the column absent.  A repeated
 * column, an over-long field or text that is not clean UTF-8 is a problem
 * of the row.
 */
static void set_value(bctx *x, raw_row *r, int c, const char *s, size_t len)
{
	char *v;
	size_t o = 0;

	if (len == 0)
		return;
	r->any = true;
	if (r->v[c]) {
		problem(r, "%s is given twice", col_names[c]);
		return;
	}
	if (len > KETEN_BATCH_MAX_FIELD) {
		problem(r, "%s is longer than %u bytes", col_names[c], KETEN_BATCH_MAX_FIELD);
		return;
	}
	v = malloc(len + 1);
	if (!v) {
		x->oom = true;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
			continue;
		v[o++] = s[i];
	}
	v[o] = '\0';
	if (!keten_text_ok(v, o)) {
		problem(r, "%s is not clean UTF-8 text", col_names[c]);
		free(v);
		return;
	}
	r->v[c] = v;
}

static void clear_row(raw_row *r)
{
	for (int c = 0; c < N_COLS; c++)
		free(r->v[c]);
	memset(r, 0, sizeof *r);
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * The BSN test for a field that holds entry ids: runs of ten or more hex
 * digits are ids (a 64-digit id holds nine-digit runs by chance), so they
 * are masked before the test; everything else is tested as text.
 */
static bool ids_have_bsn(const char *s, bool *oom)
{
	size_t len = strlen(s);
	char *m = malloc(len + 1);
	bool hit;

	if (!m) {
		*oom = true;
		return false;
	}
	memcpy(m, s, len + 1);
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && is_hex(m[j]))
			j++;
		if (j - i >= 10)
			memset(m + i, 'x', j - i);
		i = j > i ? j : i + 1;
	}
	hit = keten_text_has_bsn(m);
	free(m);
	return hit;
}

static bool installment_ok(const char *s)
{
	uint32_t ym;

	return strcmp(s, "upfront") == 0 || strcmp(s, "final") == 0 || strcmp(s, "units") == 0 ||
		keten_parse_period(s, &ym) == 0;
}

static char **row_field(keten_batch_row *o, int c)
{
	switch (c) {
	case C_SUBCONTRACT: return &o->subcontract;
	case C_ALLOCATION: return &o->allocation;
	case C_PERIOD: return &o->period;
	case C_UNITS: return &o->units;
	case C_UNIT: return &o->unit;
	case C_AMOUNT: return &o->amount;
	case C_INSTALLMENT: return &o->installment;
	case C_CLAIM: return &o->claim;
	case C_PAYMENT: return &o->payment;
	case C_DATE: return &o->date;
	case C_REFERENCE: return &o->reference;
	case C_NOTE: return &o->note;
	case C_DELIVERIES: return &o->deliveries;
	case C_NUMBER: return &o->number;
	default: return NULL;
	}
}

static void need(raw_row *r, const char *type, int c)
{
	if (!r->v[c])
		problem(r, "a %s needs %s", type, col_names[c]);
}

/* The row's type, from the type column (KETEN_BATCH_NONE when missing or unknown: a problem). */
static keten_batch_type row_type(raw_row *r)
{
	const char *tn = r->v[C_TYPE];
	keten_batch_type type = KETEN_BATCH_NONE;
	char q[QUOTE_MAX];

	if (!tn) {
		problem(r, "missing type (delivery, claim, payment or receipt)");
		return KETEN_BATCH_NONE;
	}
	for (keten_batch_type t = KETEN_BATCH_DELIVERY; t <= KETEN_BATCH_RECEIPT; t++)
		if (strcasecmp(tn, type_names[t]) == 0)
			type = t;
	if (!type)
		problem(r, "unknown type '%s' (delivery, claim, payment or receipt)", quote(q, tn));
	return type;
}

/* The columns a row of its type needs. */
static void row_needs(raw_row *r, keten_batch_type type)
{
	switch (type) {
	case KETEN_BATCH_DELIVERY:
	case KETEN_BATCH_CLAIM:
		if (!r->v[C_SUBCONTRACT] && !r->v[C_ALLOCATION])
			problem(r, "a %s needs subcontract or allocation", type_names[type]);
		if (type == KETEN_BATCH_DELIVERY) {
			need(r, "delivery", C_PERIOD);
			need(r, "delivery", C_UNITS);
			need(r, "delivery", C_UNIT);
		} else if (!r->v[C_AMOUNT] && !r->v[C_INSTALLMENT]) {
			problem(r, "a claim needs amount or installment");
		}
		break;
	case KETEN_BATCH_PAYMENT:
		need(r, "payment", C_CLAIM);
		need(r, "payment", C_AMOUNT);
		need(r, "payment", C_DATE);
		break;
	case KETEN_BATCH_RECEIPT: need(r, "receipt", C_PAYMENT); break;
	default: break;
	}
	if (r->v[C_SUBCONTRACT] && r->v[C_ALLOCATION])
		problem(r, "give subcontract or allocation, not both");
}

/* Amounts, units, dates, periods and installments, parsed into o. */
static void row_values(raw_row *r, keten_batch_row *o)
{
	char q[QUOTE_MAX];

	if (r->v[C_AMOUNT] && keten_parse_cents(r->v[C_AMOUNT], false, &o->amount_cents) != 0)
		problem(r, "bad amount '%s' (like 1234.56 or 1234,56: at most two decimals, not negative)",
		        quote(q, r->v[C_AMOUNT]));
	if (r->v[C_UNITS] && keten_parse_cents(r->v[C_UNITS], false, &o->units_hundredths) != 0)
		problem(r, "bad units '%s' (like 1.5 or 1,5: at most two decimals, not negative)",
		        quote(q, r->v[C_UNITS]));
	if (r->v[C_DATE] && keten_parse_date(r->v[C_DATE], &o->date_ymd) != 0)
		problem(r, "bad date '%s' (YYYY-MM-DD)", quote(q, r->v[C_DATE]));
	/* a claim's period is a month or two dates (its productperiode) */
	if (r->v[C_PERIOD] && o->type == KETEN_BATCH_CLAIM) {
		if (keten_parse_date_range(r->v[C_PERIOD], &o->period_from, &o->period_until) != 0)
			problem(r, "bad period '%s' (YYYY-MM or YYYY-MM-DD..YYYY-MM-DD)", quote(q, r->v[C_PERIOD]));
	} else if (r->v[C_PERIOD] && keten_parse_period(r->v[C_PERIOD], &o->period_ym) != 0) {
		problem(r, "bad period '%s' (YYYY-MM)", quote(q, r->v[C_PERIOD]));
	}
	if (r->v[C_INSTALLMENT] && !installment_ok(r->v[C_INSTALLMENT]))
		problem(r, "bad installment '%s' (upfront, final, units or YYYY-MM)", quote(q, r->v[C_INSTALLMENT]));
}

/* No text column (ids included) holds a number that passes the BSN 11-test. */
static void row_no_bsn(bctx *x, raw_row *r)
{
	for (int c = C_SUBCONTRACT; c < N_COLS; c++) {
		const char *s = r->v[c];
		bool ids = c == C_SUBCONTRACT || c == C_ALLOCATION || c == C_CLAIM || c == C_PAYMENT ||
			c == C_DELIVERIES;
		if (!s || c == C_AMOUNT || c == C_UNITS || c == C_DATE || c == C_PERIOD || c == C_INSTALLMENT)
			continue;
		if (ids ? ids_have_bsn(s, &x->oom) : keten_text_has_bsn(s))
			problem(r, "%s holds a number that passes the BSN 11-test; keten never stores a BSN",
			        col_names[c]);
	}
}

/* Append o to the batch, taking the row's strings; false without memory. */
static bool row_append(bctx *x, raw_row *r, keten_batch_row *o)
{
	if (x->out->n_rows == x->cap_rows) {
		size_t cap = x->cap_rows ? x->cap_rows * 2 : 64;
		keten_batch_row *grown = realloc(x->out->rows, cap * sizeof *grown);
		if (!grown)
			return false;
		x->out->rows = grown;
		x->cap_rows = cap;
	}
	KETEN_ASSERT(x->out->n_rows < x->cap_rows);
	for (int c = C_SUBCONTRACT; c < N_COLS; c++) {
		*row_field(o, c) = r->v[c];
		r->v[c] = NULL;
	}
	x->out->rows[x->out->n_rows++] = *o;
	return true;
}

/*
 * Validate a raw row and either append it to the batch (taking its
 * strings) or record its problems as one error.  Rows with no text at all
 * (a line of empty CSV fields) are skipped.
 */
static void finish_row(bctx *x)
{
	raw_row *r = &x->row;
	keten_batch_row o = {.line = r->line};

	if (!r->any && r->msg_len == 0) {
		clear_row(r);
		return;
	}
	if (++x->n_seen > KETEN_BATCH_MAX_ROWS) {
		fatal(x, r->line, "more than %u rows in one batch", KETEN_BATCH_MAX_ROWS);
		clear_row(r);
		return;
	}
	if (r->unreadable) {
		add_error(x, r->line, r->msg);
		clear_row(r);
		return;
	}
	o.type = row_type(r);
	row_needs(r, o.type);
	row_values(r, &o);
	row_no_bsn(x, r);
	if (r->msg_len)
		add_error(x, r->line, r->msg);
	else if (!row_append(x, r, &o))
		x->oom = true;
	else
		KETEN_ASSERT(o.type >= KETEN_BATCH_DELIVERY && o.type <= KETEN_BATCH_RECEIPT);
	clear_row(r);
}

/* CSV ----------------------------------------------------------------------- */

static void csv_field(void *s, size_t len, void *data)
{
	bctx *x = data;
	const char *f = s ? s : "";
	raw_row *r = &x->row;
	size_t i = x->field_i++;

	if (x->stop)
		return;
	if (!x->header_done) {
		char q[QUOTE_MAX], name[QUOTE_MAX];
		int c;
		if (i >= MAX_HEADER_COLS) {
			fatal(x, r->line, "the header has more than %d columns", MAX_HEADER_COLS);
			return;
		}
		snprintf(name, sizeof name, "%.*s", (int)(len < QUOTE_MAX - 1 ? len : QUOTE_MAX - 1), f);
		c = col_from_name(f, len);
		if (len > 0 && c < 0)
			fatal(x, r->line,
			      "unknown column '%s' in the header (type, subcontract, allocation, period, "
			      "units, unit, amount, installment, claim, payment, date, reference, note, deliveries, number)",
			      quote(q, name));
		for (size_t k = 0; k < i && c >= 0; k++)
			if (x->map[k] == c)
				fatal(x, r->line, "column '%s' appears twice in the header", col_names[c]);
		x->map[i] = c;
		x->n_header = i + 1;
		return;
	}
	if (i < x->n_header && x->map[i] >= 0) {
		set_value(x, r, x->map[i], f, len);
	} else if (len) {
		r->any = true;
		if (i < x->n_header)
			problem(r, "a value in column %zu, which has no name in the header", i + 1);
	}
}

static void csv_record(int term KT_UNUSED, void *data)
{
	bctx *x = data;
	raw_row *r = &x->row;
	size_t n = x->field_i;

	x->field_i = 0;
	if (x->stop)
		return;
	if (!x->header_done) {
		bool has_type = false;
		for (size_t k = 0; k < x->n_header; k++)
			has_type |= x->map[k] == C_TYPE;
		if (!has_type)
			fatal(x, r->line, "the header has no 'type' column");
		x->header_done = true;
		clear_row(r);
		r->line = x->cur_line;
		return;
	}
	if (n != x->n_header && (r->any || r->msg_len))
		problem(r, "the row has %zu fields, the header %zu", n, x->n_header);
	finish_row(x);
	x->row.line = x->cur_line; /* a record after a lone CR starts on this line */
}

/* The delimiter: ',' or ';', whichever the header line holds more of
 * outside quotes (',' when it holds neither, as a lone 'type' column). */
static int detect_delimiter(const char *s, size_t len, char *delim)
{
	size_t commas = 0, semis = 0;
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && (s[i] == '\n' || s[i] == '\r'))
			break;
		else if (!quoted && s[i] == ',')
			commas++;
		else if (!quoted && s[i] == ';')
			semis++;
	}
	if (commas && commas == semis)
		return -1;
	*delim = semis > commas ? ';' : ',';
	return 0;
}

/* Read CSV from s; the header starts at s + start (after blank lines). */
static void read_csv(bctx *x, const char *s, size_t len, size_t start)
{
	struct csv_parser p;
	size_t pos = 0;
	char delim;

	if (detect_delimiter(s + start, len - start, &delim)) {
		fatal(x, 1, "the header line holds as many ',' as ';': cannot tell the delimiter");
		return;
	}
	x->out->format = KETEN_BATCH_CSV;
	x->out->delimiter = delim;
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
		x->oom = true;
		return;
	}
	csv_set_delim(&p, (unsigned char)delim);
	x->cur_line = 1;
	while (pos < len && !x->stop && !x->oom) {
		const char *nl = memchr(s + pos, '\n', len - pos);
		size_t seg = nl ? (size_t)(nl - (s + pos)) + 1 : len - pos;
		if (p.pstate == LIBCSV_ROW_NOT_BEGUN)
			x->row.line = x->cur_line;
		if (seg - (nl != NULL) > KETEN_BATCH_MAX_LINE) {
			fatal(x, x->cur_line, "line %zu is longer than the limit of %u bytes", x->cur_line,
			      KETEN_BATCH_MAX_LINE);
			break;
		}
		if (csv_parse(&p, s + pos, seg, csv_field, csv_record, x) != seg) {
			if (csv_error(&p) == CSV_EPARSE)
				fatal(x, x->cur_line,
				      "CSV quoting is broken: a quote inside an unquoted field, "
				      "or text after a closing quote");
			else
				x->oom = true;
		}
		pos += seg;
		x->cur_line++;
	}
	if (!x->stop && !x->oom && csv_fini(&p, csv_field, csv_record, x) != 0)
		fatal(x, x->row.line, "a quoted field that starts here is never closed");
	csv_free(&p);
	if (!x->stop && !x->header_done)
		fatal(x, 1, "the CSV has no header row");
	clear_row(&x->row);
}

/* NDJSON -------------------------------------------------------------------- */

/* A JSON real as the shortest decimal with at most two decimals that
 * reads back as the same double; otherwise the shortest %g text that does
 * (which the amount and units checks then refuse, quoting it). */
static void real_text(double d, char *buf, size_t len)
{
	for (int dec = 0; dec <= 2; dec++) {
		snprintf(buf, len, "%.*f", dec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static void json_row(bctx *x, json_t *o)
{
	raw_row *r = &x->row;
	const char *key;
	json_t *v;
	char q[QUOTE_MAX], num[64];

	json_object_foreach(o, key, v)
	{
		int c = col_from_name(key, strlen(key));
		if (c < 0) {
			problem(r, "unknown key '%s'", quote(q, key));
			r->any = true;
			continue;
		}
		if (json_is_string(v)) {
			set_value(x, r, c, json_string_value(v), json_string_length(v));
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			set_value(x, r, c, num, strlen(num));
		} else if (json_is_real(v)) {
			real_text(json_real_value(v), num, sizeof num);
			set_value(x, r, c, num, strlen(num));
		} else if (!json_is_null(v)) {
			problem(r, "%s must be a string or a number", col_names[c]);
			r->any = true;
		}
	}
	r->any = true; /* an object, even {}, is a row */
}

static void read_ndjson(bctx *x, const char *s, size_t len)
{
	size_t pos = 0, line = 0;

	x->out->format = KETEN_BATCH_NDJSON;
	while (pos < len && !x->stop && !x->oom) {
		const char *nl = memchr(s + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (s + pos)) : len - pos;
		const char *l = s + pos;
		size_t k = 0;
		json_error_t jerr;
		json_t *o;

		line++;
		pos += n + (nl ? 1 : 0);
		if (n > KETEN_BATCH_MAX_LINE) {
			fatal(x, line, "line %zu is longer than the limit of %u bytes", line, KETEN_BATCH_MAX_LINE);
			break;
		}
		while (k < n && (l[k] == ' ' || l[k] == '\t' || l[k] == '\r'))
			k++;
		if (k == n)
			continue;
		x->row.line = line;
		o = json_loadb(l, n, JSON_REJECT_DUPLICATES, &jerr);
		if (!o) {
			problem(&x->row, "not JSON: %s", jerr.text);
			x->row.unreadable = true;
		} else if (!json_is_object(o)) {
			problem(&x->row, "not a JSON object");
			x->row.unreadable = true;
		} else {
			json_row(x, o);
		}
		json_decref(o);
		finish_row(x);
	}
	clear_row(&x->row);
}

/* The whole batch ----------------------------------------------------------- */

static void release_row(keten_batch_row *r)
{
	for (int c = C_SUBCONTRACT; c < N_COLS; c++)
		free(*row_field(r, c));
}

void keten_batch_release(keten_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_rows; i++)
		release_row(&b->rows[i]);
	free(b->rows);
	for (size_t i = 0; i < b->n_errors; i++)
		free(b->errors[i].msg);
	free(b->errors);
	memset(b, 0, sizeof *b);
}

static void drop_rows(keten_batch *b)
{
	for (size_t i = 0; i < b->n_rows; i++)
		release_row(&b->rows[i]);
	free(b->rows);
	b->rows = NULL;
	b->n_rows = 0;
}

int keten_batch_parse(const uint8_t *data, size_t len, keten_batch *out, keten_error *err)
{
	bctx x = {0};
	const char *s = (const char *)data;
	size_t i = 0;

	if (out)
		memset(out, 0, sizeof *out);
	if (!out || (!data && len))
		return keten_fail(err, KETEN_EINVAL, "keten_batch_parse needs bytes and a batch");
	x.out = out;
	if (len > KETEN_BATCH_MAX_BYTES) {
		fatal(&x, 0, "the batch of %zu bytes is larger than the limit of %u bytes", len, KETEN_BATCH_MAX_BYTES);
	} else {
		if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			len -= 3;
		}
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		if (i == len)
			fatal(&x, 0, "the batch is empty");
		else if (s[i] == '{')
			read_ndjson(&x, s, len);
		else
			read_csv(&x, s, len, i);
		if (!x.stop && !x.oom && out->n_rows == 0 && out->n_errors == 0)
			fatal(&x, 0, "the batch holds no rows");
	}
	if (x.oom) {
		keten_batch_release(out);
		return keten_fail(err, KETEN_ENOMEM, "out of memory reading a batch");
	}
	if (out->n_errors) {
		const keten_batch_error *e = &out->errors[0];
		drop_rows(out);
		if (e->line)
			return keten_fail(err, KETEN_EMALFORMED, "batch refused: %zu bad row%s; first: line %zu: %s",
			                  out->n_errors, out->n_errors == 1 ? "" : "s", e->line, e->msg);
		return keten_fail(err, KETEN_EMALFORMED, "batch refused: %s", e->msg);
	}
	return 0;
}
