/*
 * cmd_export.c — keten export (NDJSON, one signed entry per line, or CSV
 * for spreadsheets: RFC 4180, UTF-8, CRLF, ',' or ';' between fields) and
 * keten import (append what another home exported, verified exactly as a
 * received entry; all or nothing; entries already held are skipped).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keten/entries.h"
#include "keten/json.h"

static const char export_usage[] =
	"usage: keten export [--format ndjson|csv] [--separator ,|;] [--type TYPE] [-o FILE]\n"
	"\n"
	"Write every entry held here, feed by feed, one JSON object per line:\n"
	"id, author, prev, seq, timestamp_ms, type, version, audience, header,\n"
	"signature (base64 of the signed bytes), body (base64, or null for a\n"
	"stub), salt (base64, beside the body of a version 2 entry; never in a\n"
	"stub) and fields (the decoded body).  'keten import' reads it back.\n"
	"\n"
	"--format csv writes one row per entry for spreadsheets (RFC 4180, UTF-8,\n"
	"CRLF line ends) under the header row\n"
	"id,author,seq,prev,timestamp_ms,type,audience_count,body_present\n"
	"(prev is empty at seq 1; body_present is true, or false for a stub).\n"
	"--separator ';' is for Dutch Excel.  CSV cannot be imported.\n";

struct export_ctx {
	FILE *out;
	size_t n;
	char sep;
};

/* One CSV field: quoted when it holds the separator, a quote, CR or LF. */
static int csv_put(FILE *out, const char *s, char sep, bool last)
{
	if (strchr(s, sep) || strpbrk(s, "\"\r\n")) {
		if (fputc('"', out) == EOF)
			return -1;
		for (; *s; s++)
			if ((*s == '"' && fputc('"', out) == EOF) || fputc(*s, out) == EOF)
				return -1;
		if (fputc('"', out) == EOF)
			return -1;
	} else if (fputs(s, out) == EOF) {
		return -1;
	}
	return last ? (fputs("\r\n", out) == EOF ? -1 : 0) : (fputc(sep, out) == EOF ? -1 : 0);
}

static int csv_row(FILE *out, char sep, const char *const *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (csv_put(out, f[i], sep, i + 1 == n))
			return -1;
	return 0;
}

static int export_csv_entry(struct export_ctx *x, const keten_entry *e)
{
	static const uint8_t zero[32];
	char id[65], author[65], prev[65], seq[24], ts[24], naud[24];
	const char *type = keten_body_type_name(e->body_type);
	const char *f[8] = {id, author, seq, prev, ts, type ? type : "", naud, e->has_body ? "true" : "false"};

	keten_hex(id, e->id, 32);
	keten_hex(author, e->author, 32);
	if (memcmp(e->prev, zero, 32) == 0)
		prev[0] = 0;
	else
		keten_hex(prev, e->prev, 32);
	snprintf(seq, sizeof seq, "%llu", (unsigned long long)e->seq);
	snprintf(ts, sizeof ts, "%lld", (long long)e->timestamp_ms);
	snprintf(naud, sizeof naud, "%zu", e->n_audience);
	return csv_row(x->out, x->sep, f, 8);
}

static int export_cb(const keten_entry *e, const keten_entry_status *st CLI_UNUSED, void *p)
{
	struct export_ctx *x = p;
	char *s;
	if (x->sep) {
		if (export_csv_entry(x, e))
			return -1;
	} else {
		json_t *o = keten_json_entry(e);
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (!s || fprintf(x->out, "%s\n", s) < 0) {
			free(s);
			return -1;
		}
		free(s);
	}
	x->n++;
	return 0;
}

int cmd_export(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", 1, 0, 'f'},    {"type", 1, 0, 't'}, {"output", 1, 0, 'o'},
	                                     {"separator", 1, 0, 's'}, {"help", 0, 0, 'h'}, {0}};
	struct export_ctx x = {.out = stdout};
	keten_entry_filter f = {.order = KETEN_BY_FEED};
	keten_txn *t;
	const char *path = NULL, *format = "ndjson", *separator = NULL;
	keten_error err = {0};
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (o) {
		case 'f': format = optarg; break;
		case 't':
			if (!(f.body_type = keten_body_type_from_name(optarg)))
				return cli_usage_error("export", "'%s' is not an entry type", optarg);
			break;
		case 'o': path = optarg; break;
		case 's': separator = optarg; break;
		case 'h': return cli_help(export_usage);
		default: return cli_usage_error("export", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
	if (strcmp(format, "csv") == 0) {
		if (separator && strcmp(separator, ",") != 0 && strcmp(separator, ";") != 0)
			return cli_usage_error("export", "separator '%s' is not ',' or ';'", separator);
		x.sep = separator ? separator[0] : ',';
	} else if (strcmp(format, "ndjson") != 0) {
		return cli_usage_error("export", "format '%s' is not known (ndjson, csv)", format);
	} else if (separator) {
		return cli_usage_error("export", "--separator goes with --format csv");
	}
	if ((rc = cli_open(c, false)))
		return rc;
	if (path && !(x.out = fopen(path, "w"))) {
		fprintf(stderr, "keten: cannot write '%s': %s\n", path, strerror(errno));
		return EX_CANTCREAT_;
	}
	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = 0;
	if (x.sep) {
		static const char *const head[8] = {"id",   "author",         "seq",         "prev", "timestamp_ms",
		                                    "type", "audience_count", "body_present"};
		rc = csv_row(x.out, x.sep, head, 8);
	}
	if (rc == 0)
		rc = keten_entries_each(t, &f, export_cb, &x, &err);
	keten_txn_end(t);
	if (path && fclose(x.out) != 0)
		rc = -1;
	if (rc) {
		fprintf(stderr, "keten: export failed: %s\n", err.msg[0] ? err.msg : strerror(errno));
		return EX_IOERR_;
	}
	if (cli_progress(c))
		fprintf(stderr, "exported %zu entries\n", x.n);
	return 0;
}

static const char import_usage[] = "usage: keten import FILE\n"
				   "\n"
				   "Append the signed entries in FILE (NDJSON from 'keten export', or - for\n"
				   "stdin).  Each is verified as a received entry: framing, body hash, chain\n"
				   "links and one signature per run of an author's entries.  All or nothing:\n"
				   "one bad entry refuses the whole file.  Entries already held are skipped.\n";

struct blobs {
	keten_blob *b;
	size_t n, cap;
};

static void blobs_free(struct blobs *bs)
{
	for (size_t i = 0; i < bs->n; i++)
		free((void *)bs->b[i].data);
	free(bs->b);
}

/* Every line of in (named path) as Entry bytes; an exit code on the first bad line. */
static int read_blobs(FILE *in, const char *path, struct blobs *bs)
{
	keten_error err = {0};
	char *line = NULL;
	size_t lcap = 0, lineno = 0, rl, got;
	uint8_t *raw;
	int rc = 0, r;

	while (rc == 0 && (r = keten_json_read_line(in, KETEN_IMPORT_MAX_LINE, &line, &lcap, &got, &err)) != 1) {
		lineno++;
		if (r) {
			fprintf(stderr, "keten: '%s' line %zu: %s\n", path, lineno, err.msg);
			rc = cli_exit_code(err.code);
			break;
		}
		if (got == 1 && line[0] == '\n')
			continue;
		if (keten_json_entry_parse(line, got, &raw, &rl, &err)) {
			if (err.code == KETEN_EMALFORMED)
				fprintf(stderr, "keten: '%s' line %zu: not a JSON object: %s\n", path, lineno, err.msg);
			else
				fprintf(stderr, "keten: '%s' line %zu: %s\n", path, lineno, err.msg);
			rc = EX_DATAERR_;
			break;
		}
		if (bs->n == bs->cap) {
			size_t cap = bs->cap ? bs->cap * 2 : 256;
			keten_blob *nb = realloc(bs->b, cap * sizeof *nb);
			if (!nb) {
				free(raw);
				rc = EX_SOFTWARE_;
				break;
			}
			bs->b = nb;
			bs->cap = cap;
		}
		bs->b[bs->n].data = raw;
		bs->b[bs->n].len = rl;
		bs->n++;
	}
	free(line);
	return rc;
}

int cmd_import(cli *c, int argc, char **argv)
{
	keten_error err = {0};
	keten_ingest_stats st;
	struct blobs bs = {0};
	FILE *in;
	int rc = 0;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return cli_help(import_usage);
	if (argc != 2)
		return cli_usage_error("import", "takes one FILE");
	if ((rc = cli_open(c, false)))
		return rc;
	in = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
	if (!in) {
		fprintf(stderr, "keten: cannot read '%s': %s\n", argv[1], strerror(errno));
		return EX_NOINPUT_;
	}
	rc = read_blobs(in, argv[1], &bs);
	if (in != stdin)
		fclose(in);
	if (rc == 0 && keten_ledger_ingest(c->L, bs.b, bs.n, true, &st, &err))
		rc = cli_error(&err);
	else if (rc == 0 && c->json)
		cli_print_json(keten_json_ingest(&st));
	else if (rc == 0)
		printf("imported %zu entries: %zu new, %zu already held, %zu applied, %zu pending, "
		       "%zu rejected, %zu forks\n",
		       st.received, st.added, st.known, st.applied, st.pending, st.rejected, st.forks);
	blobs_free(&bs);
	return rc;
}
