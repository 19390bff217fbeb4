/*
 * cmd_serve.c — keten serve: the read-only audit dashboard of this home in
 * a browser (ledger/io/http.c does the serving; web/ is the page).  Opens the
 * home without unlocking its key, serves until SIGINT or SIGTERM, and
 * logs one line per request on stderr unless --quiet.  Only loopback
 * addresses are served, unless the viewers are told apart (--https with
 * --client-ca or --tokens), or --public is given, and then with a
 * warning: without those the dashboard has no login.  With --bank the
 * reconciliation it shows has a camt.053 statement matched in, as
 * reconcile --bank does.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keten/camt.h"
#include "keten/http.h"

static const char serve_usage[] = "usage: keten serve [--http ADDR] [--public] [--bank FILE]\n"
				  "       keten serve --https ADDR --cert FILE --key FILE [--client-ca FILE]\n"
				  "                   [--tokens FILE] [--bank FILE]\n"
				  "\n"
				  "Serve this home's audit dashboard, read-only: balances, reconciliation\n"
				  "findings with their evidence, disputes with evidence (signatures checked),\n"
				  "responses and rulings, the regional monitor with a chart, and the newest\n"
				  "entries; and the JSON API behind it (GET /api/whoami, /api/balance,\n"
				  "/api/reconcile, /api/report, /api/disputes, /api/disputes/ID, /api/log).\n"
				  "Nothing served can change the ledger.  Stops on Ctrl-C (SIGINT) or SIGTERM.\n"
				  "\n"
				  "--http ADDR  HOST:PORT to listen on (default " KETEN_HTTP_DEFAULT_ADDR "; IPv6 as\n"
				  "             [::1]:PORT; :PORT means 127.0.0.1:PORT)\n"
				  "--public     allow an address that is not loopback (127.0.0.0/8, ::1,\n"
				  "             localhost).  The dashboard has no login: anyone who reaches\n"
				  "             the address reads every amount, party and dispute held here.\n"
				  "--bank FILE  match this camt.053 statement to the payments in the\n"
				  "             reconciliation, as 'keten reconcile --bank FILE' does: its\n"
				  "             bank findings are shown with the others (read once, at start)\n"
				  "--https ADDR  serve over HTTPS on HOST:PORT, with the certificate --cert\n"
				  "             and its key --key (PEM files).  Off loopback it needs a way to\n"
				  "             tell viewers apart: --client-ca, --tokens, or both\n"
				  "--client-ca FILE  only a browser with a client certificate signed by this\n"
				  "             CA (PEM) gets through the TLS handshake\n"
				  "--tokens FILE  one token per line (16 to 256 characters of A-Z a-z 0-9\n"
				  "             . _ ~ + / = -; blank lines and # comments skipped): a request\n"
				  "             needs 'Authorization: Bearer TOKEN' or the cookie the login\n"
				  "             page /login sets (a link /login#token=TOKEN signs in at\n"
				  "             once); anything else is answered 401\n"
				  "\n"
				  "See docs/dashboard.md.\n";

static void log_line(void *ctx CLI_UNUSED, const char *line)
{
	fprintf(stderr, "keten serve: %s\n", line);
}

/* Read and parse the statement at path into *st; an exit code on failure. */
static int read_statement(const char *path, keten_camt_statement *st)
{
	keten_error err = {0};
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = cli_read_file(path, KETEN_CAMT_MAX_BYTES, &buf, &len)))
		return rc;
	rc = keten_camt_parse(buf, len, st, &err);
	free(buf);
	if (rc) {
		fprintf(stderr, "keten: bank statement '%s': %s\n", path, err.msg);
		return cli_exit_code(err.code);
	}
	return 0;
}

/* Refuse an address that is not loopback unless the viewers are told apart
 * (HTTPS with client certificates or tokens) or --public is given; warn
 * with --public alone. */
static int check_addr(const char *addr, const keten_http_opts *ho)
{
	keten_error err = {0};
	char url[300];
	bool loopback, guarded = ho->tls_cert && (ho->client_ca || ho->n_tokens);

	if (keten_http_parse_addr(addr, url, sizeof url, &loopback, &err))
		return cli_usage_error("serve", "%s", err.msg);
	if (!loopback && !ho->allow_public && !guarded) {
		fprintf(stderr,
		        "keten serve: refusing to serve on '%s': it is not a loopback address.\n"
		        "keten serve: the dashboard has no login there: serve it with --https and --client-ca or\n"
		        "keten serve: --tokens, or give --public to serve it without one anyway.\n",
		        addr);
		return EX_NOPERM_;
	}
	if (!loopback && !guarded)
		fprintf(stderr,
		        "keten serve: WARNING: %s/ is reachable from other machines, and the dashboard has no\n"
		        "keten serve: WARNING: login: whoever reaches it reads every amount, party and dispute held here.\n"
		        "keten serve: WARNING: put an authenticating proxy in front, or serve on 127.0.0.1.\n",
		        url);
	return 0;
}

/* The tokens of FILE, one a line, into ho (pointers into *buf, which the
 * caller frees).  Returns the exit code. */
static int read_tokens(const char *path, keten_http_opts *ho, char **buf, const char ***list)
{
	uint8_t *data;
	size_t len, n = 0, cap = 16;
	char *save, *line;
	const char **t;
	int rc;

	if ((rc = cli_read_file(path, 1024 * 1024, &data, &len)))
		return rc;
	*buf = (char *)data;
	if (memchr(data, 0, len) || !(t = *list = malloc(cap * sizeof *t)))
		return cli_usage_error("serve", "--tokens '%s' is not a text file", path);
	for (line = strtok_r(*buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t l = strlen(line);
		while (l && strchr(" \t\r", line[l - 1]))
			line[--l] = 0;
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		if (n == cap) {
			const char **g = realloc(t, (cap *= 2) * sizeof *t);
			if (!g)
				return EX_SOFTWARE_;
			t = *list = g;
		}
		t[n++] = line;
	}
	if (n == 0)
		return cli_usage_error("serve", "--tokens '%s' holds no token", path);
	ho->tokens = t;
	ho->n_tokens = n;
	return 0;
}

/* Serve until SIGINT, SIGTERM or SIGHUP. */
static int serve(cli *c, const char *addr, const keten_http_opts *ho)
{
	keten_http_server *srv = NULL;
	keten_error err = {0};
	sigset_t set;
	int sig = 0;

	/* Block the stop signals before nng starts its threads, so that they
	 * inherit the mask and sigwait below receives them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (keten_http_start(c->L, addr, ho, &srv, &err))
		return cli_error(&err);
	fprintf(stderr, "keten serve: dashboard of '%s' at %s/ (read-only; Ctrl-C stops)\n",
	        keten_ledger_info(c->L)->name, keten_http_url(srv));
	fflush(stderr);
	while (sigwait(&set, &sig) != 0)
		;
	if (!c->quiet)
		fprintf(stderr, "keten serve: stopping (%s)\n", strsignal(sig));
	keten_http_stop(srv);
	return 0;
}

int cmd_serve(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"http", 1, 0, 'H'},      {"public", 0, 0, 'p'},
	                                     {"bank", 1, 0, 'b'},      {"https", 1, 0, 'S'},
	                                     {"cert", 1, 0, 'c'},      {"key", 1, 0, 'k'},
	                                     {"client-ca", 1, 0, 'C'}, {"tokens", 1, 0, 't'},
	                                     {"help", 0, 0, 'h'},      {0}};
	keten_http_opts ho = {0};
	keten_camt_statement st = {0};
	const char *addr = NULL, *bank = NULL, *https = NULL, *tokens = NULL, **list = NULL;
	char *tokbuf = NULL;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'H': addr = optarg; break;
		case 'p': ho.allow_public = true; break;
		case 'b': bank = optarg; break;
		case 'S': https = optarg; break;
		case 'c': ho.tls_cert = optarg; break;
		case 'k': ho.tls_key = optarg; break;
		case 'C': ho.client_ca = optarg; break;
		case 't': tokens = optarg; break;
		case 'h': return cli_help(serve_usage);
		default: return cli_usage_error("serve", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
	if (https && addr)
		return cli_usage_error("serve", "give --http or --https, not both");
	if (!https && (ho.tls_cert || ho.tls_key || ho.client_ca))
		return cli_usage_error("serve", "--cert, --key and --client-ca go with --https");
	if (https && (!ho.tls_cert || !ho.tls_key))
		return cli_usage_error("serve", "--https needs --cert FILE and --key FILE");
	if (!addr)
		addr = https ? https : KETEN_HTTP_DEFAULT_ADDR;
	if (tokens && (rc = read_tokens(tokens, &ho, &tokbuf, &list)))
		goto out;
	if ((rc = check_addr(addr, &ho)))
		goto out;
	if (!c->quiet)
		ho.log = log_line;
	if (bank) {
		if ((rc = read_statement(bank, &st)))
			goto out;
		ho.bank = &st;
	}
	if ((rc = cli_open(c, false)) == 0)
		rc = serve(c, addr, &ho);
out:
	keten_camt_release(&st);
	if (tokbuf)
		memset(tokbuf, 0, strlen(tokbuf));
	free(tokbuf);
	free(list);
	return rc;
}
