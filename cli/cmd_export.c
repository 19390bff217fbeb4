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

#include <sodium.h>

#include "cli.h"
#include "keten/json.h"

static const char export_usage[] =
	"usage: keten export [--format ndjson|csv] [--separator ,|;] [--type TYPE] [-o FILE]\n"
	"\n"
	"Write every entry held here, feed by feed, one JSON object per line:\n"
	"id, author, prev, seq, timestamp_ms, type, audience, header, signature\n"
	"(base64 of the signed bytes), body (base64, or null for a stub) and\n"
	"fields (the decoded body).  'keten import' reads it back.\n"
	"\n"
	"--format csv writes one row per entry for spreadsheets (RFC 4180, UTF-8,\n"
	"CRLF line ends) under the header row\n"
	"id,author,seq,prev,timestamp_ms,type,audience_count,body_present\n"
	"(prev is empty at seq 1; body_present is true, or false for a stub).\n"
	"--separator ';' is for Dutch Excel.  CSV cannot be imported.\n";

struct export_ctx {
	keten_txn *t;
	FILE *out;
	uint32_t type;
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

static int export_cb(const uint8_t *k CLI_UNUSED, size_t kl CLI_UNUSED, const uint8_t *v, size_t vl, void *p)
{
	struct export_ctx *x = p;
	keten_entry e;
	char *s;
	if (vl != 32 || keten_store_get_entry(x->t, v, &e, NULL))
		return 0;
	if (x->sep && (!x->type || e.body_type == x->type)) {
		if (export_csv_entry(x, &e)) {
			keten_entry_release(&e);
			return -1;
		}
		x->n++;
	} else if (!x->type || e.body_type == x->type) {
		json_t *o = keten_json_entry(&e);
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (!s || fprintf(x->out, "%s\n", s) < 0) {
			free(s);
			keten_entry_release(&e);
			return -1;
		}
		free(s);
		x->n++;
	}
	keten_entry_release(&e);
	return 0;
}

int cmd_export(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", 1, 0, 'f'},    {"type", 1, 0, 't'}, {"output", 1, 0, 'o'},
	                                     {"separator", 1, 0, 's'}, {"help", 0, 0, 'h'}, {0}};
	struct export_ctx x = {.out = stdout};
	const char *path = NULL, *format = "ndjson", *separator = NULL;
	keten_error err = {0};
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (o) {
		case 'f': format = optarg; break;
		case 't':
			if (!(x.type = keten_body_type_from_name(optarg)))
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
	if (keten_store_read(keten_ledger_store(c->L), &x.t, &err))
		return cli_error(&err);
	rc = 0;
	if (x.sep) {
		static const char *const head[8] = {"id",   "author",         "seq",         "prev", "timestamp_ms",
		                                    "type", "audience_count", "body_present"};
		rc = csv_row(x.out, x.sep, head, 8);
	}
	if (rc == 0)
		rc = keten_kv_scan(x.t, KT_FEEDS, NULL, 0, export_cb, &x, &err);
	keten_txn_end(x.t);
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

static int b64field(json_t *o, const char *name, uint8_t **out, size_t *len, bool *present)
{
	json_t *v = json_object_get(o, name);
	const char *s;
	size_t n;
	*out = NULL;
	*len = 0;
	if (present)
		*present = false;
	if (!v || json_is_null(v))
		return present ? 0 : -1;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = strlen(s);
	*out = malloc(n ? n : 1);
	if (!*out)
		return -1;
	if (sodium_base642bin(*out, n ? n : 1, s, n, NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	if (present)
		*present = true;
	return 0;
}

int cmd_import(cli *c, int argc, char **argv)
{
	keten_error err = {0};
	keten_ingest_stats st;
	keten_blob *blobs = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t got;
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
	while ((got = getline(&line, &lcap, in)) > 0) {
		json_error_t jerr;
		json_t *o;
		uint8_t *h = NULL, *s = NULL, *b = NULL, *raw = NULL;
		size_t hl, sl, bl, rl;
		bool hasb;
		lineno++;
		if (got == 1 && line[0] == '\n')
			continue;
		o = json_loadb(line, (size_t)got, 0, &jerr);
		if (!o || !json_is_object(o)) {
			fprintf(stderr, "keten: '%s' line %zu: not a JSON object: %s\n", argv[1], lineno, jerr.text);
			json_decref(o);
			rc = EX_DATAERR_;
			break;
		}
		if (b64field(o, "header", &h, &hl, NULL) || b64field(o, "signature", &s, &sl, NULL) ||
		    b64field(o, "body", &b, &bl, &hasb) || sl != 64 ||
		    keten_entry_frame(h, hl, s, b, bl, hasb, &raw, &rl)) {
			fprintf(stderr, "keten: '%s' line %zu: header, signature or body is missing or not base64\n",
			        argv[1], lineno);
			rc = EX_DATAERR_;
		}
		free(h);
		free(s);
		free(b);
		json_decref(o);
		if (rc)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			keten_blob *nb = realloc(blobs, cap * sizeof *nb);
			if (!nb) {
				free(raw);
				rc = EX_SOFTWARE_;
				break;
			}
			blobs = nb;
		}
		blobs[n].data = raw;
		blobs[n].len = rl;
		n++;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	if (rc == 0) {
		if (keten_ledger_ingest(c->L, blobs, n, true, &st, &err))
			rc = cli_error(&err);
		else if (c->json) {
			json_t *j = json_object();
			json_object_set_new(j, "received", json_integer((json_int_t)st.received));
			json_object_set_new(j, "added", json_integer((json_int_t)st.added));
			json_object_set_new(j, "known", json_integer((json_int_t)st.known));
			json_object_set_new(j, "applied", json_integer((json_int_t)st.applied));
			json_object_set_new(j, "pending", json_integer((json_int_t)st.pending));
			json_object_set_new(j, "rejected", json_integer((json_int_t)st.rejected));
			json_object_set_new(j, "stubs", json_integer((json_int_t)st.stubs));
			json_object_set_new(j, "forks", json_integer((json_int_t)st.forks));
			cli_print_json(j);
		} else {
			printf("imported %zu entries: %zu new, %zu already held, %zu applied, %zu pending, "
			       "%zu rejected, %zu forks\n",
			       st.received, st.added, st.known, st.applied, st.pending, st.rejected, st.forks);
		}
	}
	for (size_t i = 0; i < n; i++)
		free((void *)blobs[i].data);
	free(blobs);
	return rc;
}
