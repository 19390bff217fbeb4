/*
 * cli.h — what the keten subcommands share: the global options, opening
 * the home, resolving ids and parties, printing results and errors, and
 * mapping library errors to sysexits.h exit codes.
 */
#ifndef KETEN_CLI_H
#define KETEN_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "keten/keten.h"

/* A parameter that a callback's signature forces on a function that does
 * not use it. */
#define CLI_UNUSED __attribute__((unused))

/* Exit codes (sysexits.h), published in docs/exit-codes.md. */
enum {
	EX_FINDING = 1, /* reconcile --check found something; verify found a bad entry */
	EX_USAGE_ = 64,
	EX_DATAERR_ = 65,
	EX_NOINPUT_ = 66,
	EX_UNAVAILABLE_ = 69,
	EX_SOFTWARE_ = 70,
	EX_CANTCREAT_ = 73,
	EX_IOERR_ = 74,
	EX_PROTOCOL_ = 76,
	EX_NOPERM_ = 77,
	EX_CONFIG_ = 78,
};

typedef struct cli {
	const char *home; /* --home, $KETEN_HOME, ~/.keten */
	bool json;        /* --json */
	bool quiet;       /* --quiet: no progress */
	keten_ledger *L;  /* after cli_open */
} cli;

typedef int (*cli_fn)(cli *c, int argc, char **argv);

typedef struct cli_command {
	const char *name;
	cli_fn fn;
	const char *summary;
} cli_command;

/* Print "keten: <msg>" (and the rule) on stderr; return the exit code. */
int cli_error(const keten_error *err);
/* Print a one-line usage error and return 64. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print usage text for --help to stdout; return 0. */
int cli_help(const char *text);
/* Exit code of a library error code. */
int cli_exit_code(keten_err code);

/* Open the home's ledger; with unlock, also unlock its key (passphrase
 * from KETEN_PASSPHRASE, else asked on the terminal). Returns exit code. */
int cli_open(cli *c, bool unlock);
void cli_close(cli *c);

/* The passphrase for a new or existing home; NULL when none can be had. */
const char *cli_passphrase(const char *prompt, bool confirm);

/* Resolve an entry id prefix; on error prints and returns exit code. */
int cli_resolve_id(cli *c, const char *hex, uint8_t id[32]);
/* An entry that a new entry refers to (keten_ref_resolve): a full id is
 * taken as it is, a shorter prefix must resolve here.  Opens the home;
 * on error prints and returns exit code. */
int cli_ref_id(cli *c, const char *hex, uint8_t id[32]);
/*
 * Resolve a party by full key (64 hex), key prefix (>= 8 hex) or certified
 * name (case-insensitive).  On error prints and returns exit code.
 */
int cli_resolve_party(cli *c, const char *what, uint8_t key[32]);
/* Name of a party key ("" when unknown); buf >= 128. */
const char *cli_party_name(cli *c, const uint8_t key[32], char *buf, size_t len);

/*
 * Record one draft by this home's key (keten_record; the key is unlocked
 * first) and print the result: the id alone, or with --json
 * {"id","type"[,"amount_cents"]}.  When the library says
 * what the draft lacks (need != KETEN_NEED_NONE) and say is not NULL,
 * say(need, err, ctx) words it for the command and returns the exit code;
 * every other failure is printed by cli_error.
 */
typedef int (*cli_need_fn)(keten_draft_need need, const keten_error *err, void *ctx);
int cli_record(cli *c, const keten_draft *d, cli_need_fn say, void *ctx);

/* Print a JSON value to stdout (compact, newline) and free it. */
void cli_print_json(json_t *v);

/* Text checks for fields typed by users: clean UTF-8, no BSN. Returns exit code. */
int cli_check_text(const char *field, const char *s);

/* Parse helpers; on error print and return exit code (64). */
int cli_parse_date(const char *opt, const char *s, uint32_t *ymd);
int cli_parse_amount(const char *opt, const char *s, int64_t *cents);

/* Read a whole file ("-": stdin) into memory, at most max bytes; *out is
 * malloc'd.  On error prints and returns the exit code. */
int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len);

/* stderr is a terminal and progress is wanted. */
bool cli_progress(const cli *c);

/* Command groups (one file each). */
int cmd_init(cli *c, int argc, char **argv);
int cmd_whoami(cli *c, int argc, char **argv);
int cmd_trust(cli *c, int argc, char **argv);
int cmd_party(cli *c, int argc, char **argv);
int cmd_invite(cli *c, int argc, char **argv);
int cmd_join(cli *c, int argc, char **argv);
int cmd_log(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_verify(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_import(cli *c, int argc, char **argv);
int cmd_node(cli *c, int argc, char **argv);
int cmd_sync(cli *c, int argc, char **argv);
int cmd_peer(cli *c, int argc, char **argv);
int cmd_checkpoint(cli *c, int argc, char **argv);
int cmd_dispute(cli *c, int argc, char **argv);
int cmd_contract(cli *c, int argc, char **argv);
int cmd_allocate(cli *c, int argc, char **argv);
int cmd_subcontract(cli *c, int argc, char **argv);
int cmd_accept(cli *c, int argc, char **argv);
int cmd_refuse(cli *c, int argc, char **argv);
int cmd_deliver(cli *c, int argc, char **argv);
int cmd_claim(cli *c, int argc, char **argv);
int cmd_pay(cli *c, int argc, char **argv);
int cmd_receipt(cli *c, int argc, char **argv);
int cmd_close(cli *c, int argc, char **argv);
int cmd_resume(cli *c, int argc, char **argv);
int cmd_clawback(cli *c, int argc, char **argv);
int cmd_correct(cli *c, int argc, char **argv);
int cmd_balance(cli *c, int argc, char **argv);
int cmd_reconcile(cli *c, int argc, char **argv);
int cmd_report(cli *c, int argc, char **argv);
int cmd_batch(cli *c, int argc, char **argv);
int cmd_ijw(cli *c, int argc, char **argv);
int cmd_serve(cli *c, int argc, char **argv);

#endif
