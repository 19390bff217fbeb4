/*
 * common.c — shared CLI plumbing: errors and exit codes, opening a home,
 * passphrases, id and party resolution, recording drafts and printing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "keten/json.h"

int cli_exit_code(keten_err code)
{
	switch (code) {
	case KETEN_OK: return 0;
	case KETEN_EINVAL:
	case KETEN_EAMBIGUOUS: return EX_USAGE_;
	case KETEN_EMALFORMED:
	case KETEN_ESIG:
	case KETEN_EHASH:
	case KETEN_ECHAIN:
	case KETEN_EAUTHOR:
	case KETEN_ERULE:
	case KETEN_EFORK:
	case KETEN_EPENDING: return EX_DATAERR_;
	case KETEN_ENOTFOUND: return EX_NOINPUT_;
	case KETEN_EEXIST: return EX_CANTCREAT_;
	case KETEN_EIO:
	case KETEN_ESTORE: return EX_IOERR_;
	case KETEN_EPASS:
	case KETEN_EPERM: return EX_NOPERM_;
	case KETEN_EPROTO: return EX_PROTOCOL_;
	default: return EX_SOFTWARE_;
	}
}

int cli_error(const keten_error *err)
{
	if (err->code == KETEN_ERULE && err->rule[0])
		fprintf(stderr, "keten: refused by rule '%s': %s\n", err->rule, err->msg);
	else
		fprintf(stderr, "keten: %s\n", err->msg[0] ? err->msg : keten_strerror(err->code));
	return cli_exit_code(err->code);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "keten %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'keten %s --help')\n", cmd);
	return EX_USAGE_;
}

int cli_help(const char *text)
{
	fputs(text, stdout);
	return 0;
}

const char *cli_passphrase(const char *prompt, bool confirm)
{
	static char buf[256], again[256];
	const char *env = getenv("KETEN_PASSPHRASE");
	struct termios old, quiet;
	FILE *tty;

	if (env)
		return env;
	tty = fopen("/dev/tty", "r+");
	if (!tty)
		return NULL;
	for (int round = 0; round < (confirm ? 2 : 1); round++) {
		char *dst = round ? again : buf;
		fprintf(tty, "%s", round ? "again: " : prompt);
		fflush(tty);
		tcgetattr(fileno(tty), &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
		if (!fgets(dst, sizeof buf, tty))
			dst[0] = 0;
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fprintf(tty, "\n");
		dst[strcspn(dst, "\r\n")] = 0;
	}
	fclose(tty);
	if (confirm && strcmp(buf, again) != 0) {
		fprintf(stderr, "keten: the passphrases differ\n");
		return NULL;
	}
	return buf;
}

int cli_open(cli *c, bool unlock)
{
	keten_error err = {0};
	if (!c->L && keten_ledger_open(c->home, &c->L, &err))
		return cli_error(&err);
	if (unlock && !keten_ledger_unlocked(c->L)) {
		const char *pass = NULL;
		if (!keten_ledger_info(c->L)->unprotected) {
			pass = cli_passphrase("passphrase: ", false);
			if (!pass) {
				fprintf(stderr,
				        "keten: the key of '%s' needs a passphrase: set KETEN_PASSPHRASE or run on a terminal\n",
				        c->home);
				return EX_NOPERM_;
			}
		}
		if (keten_ledger_unlock(c->L, pass, &err))
			return cli_error(&err);
	}
	return 0;
}

void cli_close(cli *c)
{
	keten_ledger_close(c->L);
	c->L = NULL;
}

int cli_resolve_id(cli *c, const char *hex, uint8_t id[32])
{
	keten_error err = {0};
	keten_txn *t;
	int rc = keten_store_read(keten_ledger_store(c->L), &t, &err);
	if (rc == 0) {
		rc = keten_store_resolve(t, hex, id, &err);
		keten_txn_end(t);
	}
	return rc ? cli_error(&err) : 0;
}

int cli_resolve_party(cli *c, const char *what, uint8_t key[32])
{
	keten_error err = {0};
	keten_txn *t;
	char names[256];
	int found, rc;

	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_party_find(t, what, keten_ledger_info(c->L)->key, key, &found, names, sizeof names, &err);
	keten_txn_end(t);
	if (rc)
		return cli_error(&err);
	if (found == 0) {
		fprintf(stderr, "keten: no party '%s' is known here (name, key or key prefix)\n", what);
		return EX_NOINPUT_;
	}
	if (found > 1) {
		fprintf(stderr, "keten: party '%s' is ambiguous: %s\n", what, names);
		return EX_USAGE_;
	}
	return 0;
}

int cli_ref_id(cli *c, const char *hex, uint8_t id[32])
{
	keten_error err = {0};
	keten_txn *t;
	int rc = cli_open(c, false);
	if (rc)
		return rc;
	if ((rc = keten_store_read(keten_ledger_store(c->L), &t, &err)) == 0) {
		rc = keten_ref_resolve(t, hex, id, &err);
		keten_txn_end(t);
	}
	return rc ? cli_error(&err) : 0;
}

const char *cli_party_name(cli *c, const uint8_t key[32], char *buf, size_t len)
{
	keten_txn *t;
	buf[0] = 0;
	if (keten_store_read(keten_ledger_store(c->L), &t, NULL))
		return buf;
	keten_json_party_name(t, key, buf, len);
	keten_txn_end(t);
	return buf;
}

void cli_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
	if (s) {
		puts(s);
		free(s);
	}
	json_decref(v);
}

/* Print what was recorded: the id, or with --json {"id","type"[,"amount_cents"]}. */
static void print_recorded(const cli *c, const uint8_t id[32], uint32_t type, int64_t amount)
{
	char hex[65];
	keten_hex(hex, id, 32);
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(hex));
		json_object_set_new(o, "type", json_string(keten_body_type_name(type)));
		if (amount >= 0)
			json_object_set_new(o, "amount_cents", json_integer(amount));
		cli_print_json(o);
	} else {
		puts(hex);
	}
}

int cli_record(cli *c, const keten_draft *d, cli_need_fn say, void *ctx)
{
	keten_error err = {0};
	keten_draft_need need = KETEN_NEED_NONE;
	keten_recorded r;
	int rc = cli_open(c, true);
	if (rc)
		return rc;
	if (keten_record(c->L, d, 1, &r, &need, &err))
		return need != KETEN_NEED_NONE && say ? say(need, &err, ctx) : cli_error(&err);
	print_recorded(c, r.id, r.body_type, r.amount_cents);
	return 0;
}

int cli_check_text(const char *field, const char *s)
{
	if (!s)
		return 0;
	if (!keten_text_ok(s, strlen(s))) {
		fprintf(stderr, "keten: refused by rule 'invalid-text': %s is not clean UTF-8 text\n", field);
		return EX_DATAERR_;
	}
	if (keten_text_has_bsn(s)) {
		fprintf(stderr,
		        "keten: refused by rule 'bsn-in-text': %s holds a number that passes the BSN 11-test; "
		        "keten never stores a BSN\n",
		        field);
		return EX_DATAERR_;
	}
	return 0;
}

int cli_parse_date(const char *opt, const char *s, uint32_t *ymd)
{
	if (keten_parse_date(s, ymd) != 0) {
		fprintf(stderr, "keten: %s '%s' is not a date (YYYY-MM-DD)\n", opt, s);
		return EX_USAGE_;
	}
	return 0;
}

int cli_parse_amount(const char *opt, const char *s, int64_t *cents)
{
	if (keten_parse_cents(s, false, cents) != 0) {
		fprintf(stderr, "keten: %s '%s' is not an amount in euro (1234.56 or 1234,56)\n", opt, s);
		return EX_USAGE_;
	}
	return 0;
}

bool cli_progress(const cli *c)
{
	return !c->quiet && isatty(2);
}

/* Read a whole file into memory (at most max bytes). */
int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*len = 0;
	if (!f) {
		fprintf(stderr, "keten: cannot open '%s': %s\n", path, strerror(errno));
		return errno == ENOENT ? EX_NOINPUT_ : EX_IOERR_;
	}
	for (;;) {
		if (n == cap) {
			size_t c = cap ? cap * 2 : 65536;
			uint8_t *p;
			if (cap > max) {
				fprintf(stderr, "keten: '%s' is larger than %zu bytes\n", path, max);
				free(buf);
				if (f != stdin)
					fclose(f);
				return EX_DATAERR_;
			}
			if (!(p = realloc(buf, c + 1))) {
				free(buf);
				if (f != stdin)
					fclose(f);
				return EX_SOFTWARE_;
			}
			buf = p;
			cap = c;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "keten: cannot read '%s'\n", path);
		free(buf);
		if (f != stdin)
			fclose(f);
		return EX_IOERR_;
	}
	if (f != stdin)
		fclose(f);
	if (!buf && !(buf = malloc(1)))
		return EX_SOFTWARE_;
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}
