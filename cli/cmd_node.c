/*
 * cmd_node.c — keten node (keten_node_run: serve this ledger over nng,
 * pull from peers on an interval, append checkpoints), keten sync URL
 * (pull once and say what arrived), keten peer add|remove|list|tls (the
 * peers and TLS files kept in the home, keten/node.h), and keten
 * checkpoint (record the heads seen here, or --check the checkpoints of
 * others).  Each parses its options, calls the library and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "keten/node.h"

#define MAX_URLS        KETEN_NODE_MAX_URLS
#define STOP_WATCHDOG_S 5

/* nng_close was seen to hang after a peer dropped a connection: a thread
 * that ends the process with this code if closing takes too long. */
static int watchdog_rc;
static void watchdog_start(bool node, int rc);

static bool url_ok(const char *u)
{
	return keten_node_url_ok(u);
}

/* Exit code of a sync failure: the network is "unavailable". */
static int sync_exit(const keten_error *err)
{
	cli_error(err);
	switch (err->code) {
	case KETEN_EIO: return EX_UNAVAILABLE_;
	case KETEN_ESIG:
	case KETEN_EAUTHOR: return EX_NOPERM_;
	default: return cli_exit_code(err->code);
	}
}

static json_t *stats_json(const char *url, const uint8_t *server, const char *name, const keten_sync_stats *st)
{
	json_t *o = json_object();
	char hex[65];
	json_object_set_new(o, "url", json_string(url));
	if (server) {
		keten_hex(hex, server, 32);
		json_object_set_new(o, "peer", json_string(hex));
		json_object_set_new(o, "peer_name", json_string(name));
	}
	json_object_set_new(o, "entries", json_integer((json_int_t)st->entries));
	json_object_set_new(o, "stubs", json_integer((json_int_t)st->stubs));
	json_object_set_new(o, "bodies", json_integer((json_int_t)st->bodies));
	json_object_set_new(o, "known", json_integer((json_int_t)st->known));
	json_object_set_new(o, "forks", json_integer((json_int_t)st->forks));
	json_object_set_new(o, "pending", json_integer((json_int_t)st->pending));
	json_object_set_new(o, "rejected", json_integer((json_int_t)st->rejected));
	json_object_set_new(o, "dropped", json_integer((json_int_t)st->dropped));
	json_object_set_new(o, "feeds", json_integer((json_int_t)st->feeds));
	json_object_set_new(o, "in_sync", json_boolean(st->same));
	json_object_set_new(o, "round_trips", json_integer((json_int_t)st->requests));
	json_object_set_new(o, "bytes_sent", json_integer((json_int_t)st->bytes_out));
	json_object_set_new(o, "bytes_received", json_integer((json_int_t)st->bytes_in));
	return o;
}

/* Take a --tls-* option into t; true when it was one.  The files not
 * given come from the home's config ('keten peer tls'). */
static bool tls_option(int o, const char *arg, keten_tls_files *t)
{
	switch (o) {
	case 'C': t->cert = arg; return true;
	case 'K': t->key = arg; return true;
	case 'A': t->ca = arg; return true;
	default: return false;
	}
}

#define TLS_LONGOPTS                                     \
	{"tls-cert", 1, 0, 'C'}, {"tls-key", 1, 0, 'K'}, \
	{                                                \
		"tls-ca", 1, 0, 'A'                      \
	}

static const char sync_usage[] =
	"usage: keten sync URL [--timeout SECONDS] [--tls-ca FILE] [--tls-cert FILE --tls-key FILE]\n"
	"\n"
	"Pull once from the node at URL (tcp://HOST:PORT, ipc:///PATH): authenticate\n"
	"with this home's key, compare heads, fetch what is new, verify and store it.\n"
	"Bodies come only for entries this party may read; others arrive as stubs.\n"
	"tls+tcp://HOST:PORT checks the node's certificate against --tls-ca (default:\n"
	"the home's config, 'keten peer tls'); HOST must be the name in it.\n"
	"The node must hold the key kept for URL: pinned ('keten peer add URL --key\n"
	"KEY') or recorded at the first sync with URL ('keten peer list').  Every\n"
	"request after the handshake is sealed with a key of this session alone.\n"
	"Prints \"synced from URL: N entries (M stubs), F forks, P pending\".\n"
	"Exit 69 when the node does not answer, 76 on a protocol error, 77 when\n"
	"the node does not know this home's key (or no longer: revoked, expired)\n"
	"or is not the key kept for URL.\n";

static int parse_seconds(const char *cmd, const char *opt, const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || !isfinite(*out) || *out <= 0 || *out > 86400)
		return cli_usage_error(cmd, "%s '%s' is not a number of seconds", opt, s);
	return 0;
}

/* Pull once from url and print what arrived. */
static int sync_once(cli *c, const char *url, double timeout, const keten_tls_files *given)
{
	keten_tls_config tls;
	keten_error err = {0};
	keten_peer *p = NULL;
	keten_sync_stats st = {0};
	uint8_t key[32];
	bool have_key;
	char name[128] = "", line[256];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (keten_node_tls(c->L, given, &tls, &err) ||
	    keten_peer_open(c->L, url, true, (int)(timeout * 1000), &tls.files, &p, &err))
		return sync_exit(&err);
	rc = keten_peer_sync(p, &st, &err);
	if ((have_key = keten_peer_key(p, key)))
		cli_party_name(c, key, name, sizeof name);
	fflush(stdout);
	if (rc) {
		rc = sync_exit(&err);
		watchdog_start(false, rc);
		keten_peer_close(p);
		return rc;
	}
	if (c->json) {
		cli_print_json(stats_json(url, have_key ? key : NULL, name, &st));
	} else {
		keten_sync_stats_text(&st, line, sizeof line);
		printf("synced from %s: %s\n", url, line);
	}
	fflush(stdout);
	watchdog_start(false, 0);
	keten_peer_close(p);
	return 0;
}

int cmd_sync(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"timeout", 1, 0, 't'}, TLS_LONGOPTS, {"help", 0, 0, 'h'}, {0}};
	keten_tls_files tls = {0};
	double timeout = 10;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			if ((rc = parse_seconds("sync", "--timeout", optarg, &timeout)))
				return rc;
			break;
		case 'h': return cli_help(sync_usage);
		default:
			if (tls_option(o, optarg, &tls))
				break;
			return cli_usage_error("sync", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("sync", "takes one URL");
	if (!url_ok(argv[optind]))
		return cli_usage_error("sync", "'%s' is not a tcp://, tls+tcp:// or ipc:// URL", argv[optind]);
	if ((rc = cli_open(c, true)))
		return rc;
	return sync_once(c, argv[optind], timeout, &tls);
}

/* Peers and TLS files kept in the home ------------------------------------- */

static const char peer_usage[] = "usage: keten peer add URL [--key KEY] [--config FILE]\n"
				 "       keten peer remove URL [--config FILE]\n"
				 "       keten peer list\n"
				 "       keten peer tls [--cert FILE] [--key FILE] [--ca FILE]\n"
				 "\n"
				 "The nodes 'keten node' pulls from besides its --peer options, kept in\n"
				 "this home.  --key names the node's ledger key (64 hex, a key prefix or\n"
				 "a certified party's name): a node at URL with another key is refused.\n"
				 "Without it, the key that answers the first sync with URL is recorded\n"
				 "and expected from then on (first use), for 'keten sync URL' too.\n"
				 "'list' shows each peer with the key expected there and how it came to\n"
				 "be kept (pinned, first use), then other URLs a key is kept for.\n"
				 "'remove' forgets the URL's key too (a node's key changed: remove, or\n"
				 "add --key the new one).\n"
				 "'tls' names the PEM files used for tls+tcp:// URLs when no\n"
				 "--tls-* option is given: this node's certificate and key (needed to\n"
				 "listen; with a CA, clients must present a certificate too) and the CA\n"
				 "that signed the other nodes' certificates (needed to dial).  An empty\n"
				 "FILE forgets the setting.\n"
				 "With --config FILE, 'add' and 'remove' change the [peer URL] sections of\n"
				 "that node config file instead of the home ('keten node --config FILE'):\n"
				 "the file is rewritten whole (a new file renamed over it), its comments\n"
				 "and other lines as they were, and created when missing; a running node\n"
				 "takes it up on SIGHUP (systemctl reload).  A config that does not parse\n"
				 "is left alone: exit 78 with its line.\n";

static void tls_print(cli *c)
{
	keten_tls_config t;
	if (keten_node_tls(c->L, NULL, &t, NULL))
		memset(&t, 0, sizeof t);
	if (c->json) {
		json_t *j = json_object();
		json_object_set_new(j, "cert", t.files.cert ? json_string(t.files.cert) : json_null());
		json_object_set_new(j, "key", t.files.key ? json_string(t.files.key) : json_null());
		json_object_set_new(j, "ca", t.files.ca ? json_string(t.files.ca) : json_null());
		cli_print_json(j);
	} else {
		printf("cert %s\nkey  %s\nca   %s\n", t.cert[0] ? t.cert : "-", t.key[0] ? t.key : "-",
		       t.ca[0] ? t.ca : "-");
	}
}

static int peer_tls(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"cert", 1, 0, 'C'}, {"key", 1, 0, 'K'}, {"ca", 1, 0, 'A'}, {"help", 0, 0, 'h'}, {0}};
	keten_tls_files set = {0};
	keten_error err = {0};
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'C': set.cert = optarg; break;
		case 'K': set.key = optarg; break;
		case 'A': set.ca = optarg; break;
		case 'h': return cli_help(peer_usage);
		default: return cli_usage_error("peer", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("peer", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open(c, false)))
		return rc;
	if (keten_node_tls_set(c->L, &set, &err))
		return cli_error(&err);
	tls_print(c);
	return 0;
}

/* One line (or object) of peer list: url, the key kept for it, whether
 * it is kept as a peer. */
static void peer_line(cli *c, json_t *arr, const char *url, bool peer)
{
	uint8_t key[32];
	keten_pin_kind kind = KETEN_PIN_NONE;
	char hex[65] = "", who[128] = "";
	const char *how;
	if (keten_node_pin_get(c->L, url, key, &kind, NULL) == KETEN_OK) {
		keten_hex(hex, key, 32);
		cli_party_name(c, key, who, sizeof who);
	}
	how = kind == KETEN_PIN_SET ? "pinned" : kind == KETEN_PIN_FIRST_USE ? "first use" : NULL;
	if (arr) {
		json_t *o = json_object();
		json_object_set_new(o, "url", json_string(url));
		json_object_set_new(o, "key", hex[0] ? json_string(hex) : json_null());
		json_object_set_new(o, "name", who[0] ? json_string(who) : json_null());
		json_object_set_new(o, "kept", how ? json_string(how) : json_null());
		json_object_set_new(o, "peer", json_boolean(peer));
		json_array_append_new(arr, o);
	} else if (how) {
		printf("%s  %.16s  %s%s%s%s%s\n", url, hex, how, who[0] ? " (" : "", who, who[0] ? ")" : "",
		       peer ? "" : ", not a peer");
	} else {
		puts(url);
	}
}

/* The peers kept, then the other URLs a key is kept for. */
static int peer_list(cli *c)
{
	keten_error err = {0};
	char **urls = NULL, **pins = NULL;
	size_t n = 0, np = 0;
	json_t *arr = c->json ? json_array() : NULL;
	int rc = keten_node_peers(c->L, &urls, &n, &err);

	if (rc == 0)
		rc = keten_node_pinned(c->L, &pins, &np, &err);
	for (size_t i = 0; i < n; i++)
		peer_line(c, arr, urls[i], true);
	for (size_t i = 0; i < np; i++) {
		bool kept = false;
		for (size_t j = 0; j < n && !kept; j++)
			kept = strcmp(urls[j], pins[i]) == 0;
		if (!kept)
			peer_line(c, arr, pins[i], false);
	}
	keten_node_peers_free(urls, n);
	keten_node_peers_free(pins, np);
	if (arr)
		cli_print_json(arr);
	return rc ? cli_error(&err) : 0;
}

/* Exit code of a config file's error: 78 for what is in it. */
static int config_exit(const keten_error *err)
{
	cli_error(err);
	return err->code == KETEN_EMALFORMED ? EX_CONFIG_ : cli_exit_code(err->code);
}

/* Take --NAME VALUE or --NAME=VALUE at argv[*i] into *val. */
static bool take_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);
	if (strcmp(argv[*i], name) == 0 && *i + 1 < argc) {
		*val = argv[++*i];
		return true;
	}
	if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return true;
	}
	return false;
}

/* keten peer add URL [--key KEY] [--config FILE]: keep the peer, and pin
 * its key, in the home or the config file. */
static int peer_add(cli *c, int argc, char **argv)
{
	keten_error err = {0};
	const char *key_arg = NULL, *url = NULL, *config = NULL;
	uint8_t key[32];
	int rc;

	for (int i = 2; i < argc; i++) {
		if (take_opt(argc, argv, &i, "--key", &key_arg) || take_opt(argc, argv, &i, "--config", &config))
			continue;
		if (argv[i][0] == '-' || url)
			return cli_usage_error("peer", "add takes one URL, --key KEY and --config FILE");
		url = argv[i];
	}
	if (!url)
		return cli_usage_error("peer", "add takes one URL");
	if (!url_ok(url))
		return cli_usage_error("peer", "'%s' is not a tcp://, tls+tcp:// or ipc:// URL", url);
	/* a key in hex needs no home: root may edit /etc/keten without one */
	if (config && key_arg && strlen(key_arg) == 64 && keten_unhex(key, 32, key_arg) == KETEN_OK)
		return keten_node_conf_peer_add(config, url, key, &err) ? config_exit(&err) : 0;
	if ((rc = cli_open(c, false)))
		return rc;
	if (key_arg && (rc = cli_resolve_party(c, key_arg, key)))
		return rc;
	if (config)
		return keten_node_conf_peer_add(config, url, key_arg ? key : NULL, &err) ? config_exit(&err) : 0;
	if (keten_node_peer_add(c->L, url, &err) || (key_arg && keten_node_pin_set(c->L, url, key, false, &err)))
		return cli_error(&err);
	return 0;
}

/* keten peer remove URL [--config FILE]. */
static int peer_remove(cli *c, int argc, char **argv)
{
	keten_error err = {0};
	const char *url = NULL, *config = NULL;
	int rc;

	for (int i = 2; i < argc; i++) {
		if (take_opt(argc, argv, &i, "--config", &config))
			continue;
		if (argv[i][0] == '-' || url)
			return cli_usage_error("peer", "remove takes one URL and --config FILE");
		url = argv[i];
	}
	if (!url)
		return cli_usage_error("peer", "remove takes one URL");
	if (!url_ok(url))
		return cli_usage_error("peer", "'%s' is not a tcp://, tls+tcp:// or ipc:// URL", url);
	if (config)
		return keten_node_conf_peer_remove(config, url, &err) ? config_exit(&err) : 0;
	if ((rc = cli_open(c, false)))
		return rc;
	return keten_node_peer_remove(c->L, url, &err) ? cli_error(&err) : 0;
}

int cmd_peer(cli *c, int argc, char **argv)
{
	int rc;

	if (argc < 2)
		return cli_usage_error("peer", "needs add, remove, list or tls");
	if (strcmp(argv[1], "--help") == 0)
		return cli_help(peer_usage);
	if (strcmp(argv[1], "tls") == 0)
		return peer_tls(c, argc, argv);
	if (strcmp(argv[1], "add") == 0)
		return peer_add(c, argc, argv);
	if (strcmp(argv[1], "remove") == 0)
		return peer_remove(c, argc, argv);
	if (strcmp(argv[1], "list") == 0) {
		if (argc != 2)
			return cli_usage_error("peer", "list takes no arguments");
		if ((rc = cli_open(c, false)))
			return rc;
		return peer_list(c);
	}
	return cli_usage_error("peer", "'%s' is not a peer command", argv[1]);
}

/* Checkpoints ------------------------------------------------------------------ */

struct cp_print {
	cli *c;
	json_t *arr;
	size_t differ;
};

static int cp_print(void *ctx, const keten_checkpoint_seen *cp)
{
	struct cp_print *x = ctx;
	const keten_checkpoint_check *ck = &cp->check;
	char hex[65], who[128];

	keten_hex(hex, cp->id, 32);
	cli_party_name(x->c, cp->author, who, sizeof who);
	x->differ += cp->rc ? 1 : ck->differ > 0;
	if (x->arr) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(hex));
		json_object_set_new(o, "author", json_string(who));
		if (cp->rc) {
			json_object_set_new(o, "error", json_string(cp->problem));
		} else {
			json_object_set_new(o, "heads", json_integer((json_int_t)ck->heads));
			json_object_set_new(o, "agree", json_integer((json_int_t)ck->agree));
			json_object_set_new(o, "behind", json_integer((json_int_t)ck->behind));
			json_object_set_new(o, "differ", json_integer((json_int_t)ck->differ));
		}
		json_array_append_new(x->arr, o);
	} else if (cp->rc) {
		printf("%.16s  %-24s malformed: %s\n", hex, who, cp->problem);
	} else {
		char fh[65] = "";
		if (ck->first_differ_set)
			keten_hex(fh, ck->first_differ, 32);
		printf("%.16s  %-24s %zu feeds: %zu agree, %zu not seen here yet, %zu differ%s%.16s%s\n", hex, who,
		       ck->heads, ck->agree, ck->behind, ck->differ, ck->differ ? " (first: " : "", fh,
		       ck->differ ? ")" : "");
	}
	return 0;
}

static int checkpoint_check(cli *c)
{
	struct cp_print x = {.c = c, .arr = c->json ? json_array() : NULL};
	keten_error err = {0};
	keten_txn *t;
	int rc;

	if (keten_store_read(keten_ledger_store(c->L), &t, &err))
		return cli_error(&err);
	rc = keten_checkpoints_check(t, keten_ledger_info(c->L)->key, cp_print, &x, &err);
	keten_txn_end(t);
	if (x.arr)
		cli_print_json(x.arr);
	if (rc)
		return cli_error(&err);
	return x.differ ? EX_FINDING : 0;
}

static const char checkpoint_usage[] = "usage: keten checkpoint\n"
				       "       keten checkpoint --check\n"
				       "\n"
				       "Append a checkpoint entry: every feed head this node holds and their\n"
				       "BLAKE2b root ('keten node --checkpoint SECONDS' does so on an interval\n"
				       "when the heads changed).  --check compares every other node's checkpoint\n"
				       "held here with this ledger's feeds: a head that names another entry at a\n"
				       "seq than ours is an equivocation on one side, and exits 1.\n";

int cmd_checkpoint(cli *c, int argc, char **argv)
{
	keten_error err = {0};
	uint8_t id[32];
	char hex[65];
	size_t feeds = 0;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return cli_help(checkpoint_usage);
	if (argc == 2 && strcmp(argv[1], "--check") == 0) {
		if ((rc = cli_open(c, false)))
			return rc;
		return checkpoint_check(c);
	}
	if (argc != 1)
		return cli_usage_error("checkpoint", "takes no argument but --check");
	if ((rc = cli_open(c, true)))
		return rc;
	if (keten_checkpoint_append(c->L, id, &feeds, &err))
		return cli_error(&err);
	keten_hex(hex, id, 32);
	if (c->json) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(hex));
		json_object_set_new(o, "type", json_string("checkpoint"));
		json_object_set_new(o, "feeds", json_integer((json_int_t)feeds));
		cli_print_json(o);
	} else {
		puts(hex);
	}
	return 0;
}

/* The node -------------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal, reload_signal;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_signal = 1;
	else
		stop_signal = sig;
}

/* Is stderr the journal's stream (JOURNAL_STREAM names its device and
 * inode)?  Then the journal stamps each line and names the unit. */
static bool to_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
		(unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static bool journal;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void node_log(void *ctx CLI_UNUSED, const char *line)
{
	char when[16];
	time_t now = time(NULL);
	struct tm tm;
	pthread_mutex_lock(&log_mu);
	if (journal) {
		fprintf(stderr, "%s\n", line);
	} else {
		gmtime_r(&now, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		fprintf(stderr, "keten node %s %s\n", when, line);
	}
	pthread_mutex_unlock(&log_mu);
}

static void *watchdog(void *arg)
{
	sleep(STOP_WATCHDOG_S);
	if (arg)
		node_log(NULL, "shutdown took too long; exiting");
	fflush(stdout);
	_exit(watchdog_rc);
	return NULL;
}

/* Start the watchdog; node says whether to log as the node. */
static void watchdog_start(bool node, int rc)
{
	pthread_t wd;
	watchdog_rc = rc;
	if (pthread_create(&wd, NULL, watchdog, node ? (void *)1 : NULL) == 0)
		pthread_detach(wd);
}

/* keten_node_opts.stopping: closing may hang inside nng. */
static void node_stopping(void *ctx CLI_UNUSED)
{
	watchdog_start(true, 0);
}

static const char node_usage[] =
	"usage: keten node [--config FILE] [--listen URL]... [--peer URL]... [--interval SECONDS]\n"
	"                  [--rounds N] [--timeout SECONDS] [--checkpoint SECONDS]\n"
	"                  [--tls-cert FILE --tls-key FILE] [--tls-ca FILE]\n"
	"\n"
	"Serve this ledger on each --listen URL (tcp://HOST:PORT, ipc:///PATH) to\n"
	"certified parties, and pull from each peer (--peer and 'keten peer add')\n"
	"every --interval seconds (default 10).  One line per sync round goes to\n"
	"stderr.  Stops cleanly on SIGINT or SIGTERM, or after --rounds rounds\n"
	"(counted every --interval, with or without peers).\n"
	"A peer that does not answer within --timeout seconds (default 5) fails\n"
	"its part of the round; the others go on.\n"
	"When this home's own feed grows, the node announces it to its peers, and\n"
	"a peer that announces starts a round at once (the push).\n"
	"--checkpoint appends a checkpoint entry (the heads seen here) every\n"
	"SECONDS when they changed; 'keten checkpoint --check' compares them.\n"
	"tls+tcp:// URLs use the --tls-* PEM files, else those of 'keten peer tls'.\n"
	"Every session is sealed with a key of its own (keten/sync/v2); a peer's key\n"
	"is checked against the one kept for its URL ('keten peer list').  The node\n"
	"takes at most 256 connections, closes one that has not authenticated in\n"
	"10 seconds or is idle 5 minutes, and keeps each key's strikes and request\n"
	"rate across its connections; a key revoked meanwhile is refused at once.\n"
	"--config FILE reads the node's settings from FILE ([node] listen, interval,\n"
	"timeout, checkpoint; [peer URL] key; [tls] cert, key, ca; [dashboard] listen,\n"
	"cert, key, client-ca, tokens, public; see docs/service.md): the options\n"
	"given override it.  SIGHUP rereads it, and the home's peers and TLS files:\n"
	"peers and intervals change at once, listen URLs and the dashboard at a\n"
	"restart; a file with an error is refused and the one in use kept.  A bad\n"
	"config at start exits 78 naming FILE:LINE (66 when FILE is missing).\n"
	"Under systemd (JOURNAL_STREAM) the log lines carry no time of their own.\n";

/* The options of keten node into o (listen and peers: argv's strings). */
struct node_args {
	keten_node_opts o;
	const char *listen[MAX_URLS], *peers[MAX_URLS];
};

#define NODE_HELP (-1) /* --help was printed: exit 0 */

/* One option into a; 0, NODE_HELP or the exit code of a usage error. */
static int node_option(int opt, struct node_args *a)
{
	switch (opt) {
	case 'l':
		if (a->o.n_listen == MAX_URLS || !url_ok(optarg))
			return cli_usage_error("node", "--listen '%s' is not a tcp://, tls+tcp:// or ipc:// URL",
			                       optarg);
		a->listen[a->o.n_listen++] = optarg;
		return 0;
	case 'p':
		if (a->o.n_peers == MAX_URLS || !url_ok(optarg))
			return cli_usage_error("node", "--peer '%s' is not a tcp://, tls+tcp:// or ipc:// URL", optarg);
		a->peers[a->o.n_peers++] = optarg;
		return 0;
	case 'i': return parse_seconds("node", "--interval", optarg, &a->o.interval_s);
	case 'c': return parse_seconds("node", "--checkpoint", optarg, &a->o.checkpoint_s);
	case 't': return parse_seconds("node", "--timeout", optarg, &a->o.timeout_s);
	case 'r': {
		char *end;
		a->o.rounds = strtol(optarg, &end, 10);
		if (*end || a->o.rounds < 1)
			return cli_usage_error("node", "--rounds '%s' is not a positive number", optarg);
		return 0;
	}
	case 'f': a->o.config = optarg; return 0;
	case 'h': cli_help(node_usage); return NODE_HELP;
	default:
		if (tls_option(opt, optarg, &a->o.tls))
			return 0;
		return cli_usage_error("node", "unknown option");
	}
}

/* Something to do: a URL to listen on, or a peer given or kept here. */
static bool node_has_work(cli *c, const keten_node_opts *o)
{
	char **kept = NULL;
	size_t n = 0;
	if (o->n_listen || o->n_peers || o->config)
		return true;
	keten_node_peers(c->L, &kept, &n, NULL);
	keten_node_peers_free(kept, n);
	return n > 0;
}

int cmd_node(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"listen", 1, 0, 'l'},     {"peer", 1, 0, 'p'},
	                                     {"interval", 1, 0, 'i'},   {"rounds", 1, 0, 'r'},
	                                     {"checkpoint", 1, 0, 'c'}, {"timeout", 1, 0, 't'},
	                                     {"config", 1, 0, 'f'},     TLS_LONGOPTS,
	                                     {"help", 0, 0, 'h'},       {0}};
	static struct node_args a;
	keten_error err = {0};
	struct sigaction sa;
	int o, rc;

	memset(&a, 0, sizeof a); /* intervals 0: the config's, else 10 and 5 seconds */
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if ((rc = node_option(o, &a)))
			return rc == NODE_HELP ? 0 : rc;
	if (optind != argc)
		return cli_usage_error("node", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open(c, true)))
		return rc;
	if (!node_has_work(c, &a.o))
		return cli_usage_error("node", "needs --listen or a peer to pull from");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	journal = to_journal();

	a.o.listen = a.listen;
	a.o.peers = a.peers;
	a.o.stop = &stop_signal;
	a.o.log = node_log;
	a.o.stopping = node_stopping;
	a.o.reload = &reload_signal;
	if (keten_node_run(c->L, &a.o, &err))
		return err.code == KETEN_EMALFORMED ? config_exit(&err) : sync_exit(&err);
	return 0;
}
