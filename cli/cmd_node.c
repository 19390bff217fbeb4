/*
 * cmd_node.c — keten node (serve this ledger over nng, pull from peers on
 * an interval, append checkpoints), keten sync URL (pull once and say what
 * arrived), keten peer add|remove|list|tls (peers kept in the home's meta
 * table under "peer.<url>", TLS files under "tls.*"), and keten checkpoint
 * (record the heads seen here, or --check the checkpoints of others).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "keten/net.h"
#include "proto/keten.pb-c.h"
#include "sync/sync.h"

#define PEER_PREFIX     "peer."
#define MAX_URLS        64
#define STOP_WATCHDOG_S 5

/* nng_close was seen to hang after a peer dropped a connection: a thread
 * that ends the process with this code if closing takes too long. */
static int watchdog_rc;
static void watchdog_start(bool node, int rc);

static bool url_ok(const char *u)
{
	return (strncmp(u, "tcp://", 6) == 0 || strncmp(u, "ipc://", 6) == 0 || strncmp(u, "tls+tcp://", 10) == 0) &&
		strlen(u) < 400;
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

/* "N entries (M stubs), F forks, P pending" and what else happened. */
static void stats_text(char *buf, size_t len, const keten_sync_stats *st)
{
	size_t u;
	snprintf(buf, len, "%zu entries (%zu stubs), %zu forks, %zu pending", st->entries, st->stubs, st->forks,
	         st->pending);
	u = strlen(buf);
	if (st->bodies)
		u += (size_t)snprintf(buf + u, len > u ? len - u : 0, ", %zu bodies", st->bodies);
	if (st->rejected)
		u += (size_t)snprintf(buf + u, len > u ? len - u : 0, ", %zu rejected", st->rejected);
	if (st->dropped)
		u += (size_t)snprintf(buf + u, len > u ? len - u : 0, ", %zu dropped", st->dropped);
	if (st->same && u < len)
		snprintf(buf + u, len - u, " (in sync)");
}

/* TLS files: options, else the home's config (meta "tls.cert", "tls.key",
 * "tls.ca", set by 'keten peer tls'). */
struct tls_opts {
	char cert[512], key[512], ca[512];
	keten_tls_files files;
};

static void tls_meta(keten_txn *t, const char *name, char *dst, size_t len)
{
	const void *v;
	size_t n;
	if (!dst[0] && keten_kv_get(t, KT_META, name, strlen(name), &v, &n, NULL) == KETEN_OK)
		snprintf(dst, len, "%.*s", (int)strnlen(v, n), (const char *)v);
}

static void tls_resolve(cli *c, struct tls_opts *o)
{
	keten_txn *t;
	if (keten_store_read(keten_ledger_store(c->L), &t, NULL) == KETEN_OK) {
		tls_meta(t, "tls.cert", o->cert, sizeof o->cert);
		tls_meta(t, "tls.key", o->key, sizeof o->key);
		tls_meta(t, "tls.ca", o->ca, sizeof o->ca);
		keten_txn_end(t);
	}
	o->files.cert = o->cert[0] ? o->cert : NULL;
	o->files.key = o->key[0] ? o->key : NULL;
	o->files.ca = o->ca[0] ? o->ca : NULL;
}

/* Take a --tls-* option; true when it was one. */
static bool tls_option(int o, const char *arg, struct tls_opts *t)
{
	switch (o) {
	case 'C': snprintf(t->cert, sizeof t->cert, "%s", arg); return true;
	case 'K': snprintf(t->key, sizeof t->key, "%s", arg); return true;
	case 'A': snprintf(t->ca, sizeof t->ca, "%s", arg); return true;
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
	"Prints \"synced from URL: N entries (M stubs), F forks, P pending\".\n"
	"Exit 69 when the node does not answer, 76 on a protocol error, 77 when\n"
	"the node does not know this home's key.\n";

static int parse_seconds(const char *cmd, const char *opt, const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	if (errno || *end || !isfinite(*out) || *out <= 0 || *out > 86400)
		return cli_usage_error(cmd, "%s '%s' is not a number of seconds", opt, s);
	return 0;
}

int cmd_sync(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"timeout", 1, 0, 't'}, TLS_LONGOPTS, {"help", 0, 0, 'h'}, {0}};
	static struct tls_opts tls;
	keten_error err = {0};
	keten_peer *p = NULL;
	keten_sync_stats st = {0};
	double timeout = 10;
	uint8_t key[32];
	bool have_key = false;
	char name[128] = "", line[256];
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
	signal(SIGPIPE, SIG_IGN);
	tls_resolve(c, &tls);
	if (keten_peer_open(c->L, argv[optind], true, (int)(timeout * 1000), &tls.files, &p, &err))
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
		cli_print_json(stats_json(argv[optind], have_key ? key : NULL, name, &st));
	} else {
		stats_text(line, sizeof line, &st);
		printf("synced from %s: %s\n", argv[optind], line);
	}
	fflush(stdout);
	watchdog_start(false, 0);
	keten_peer_close(p);
	return 0;
}

/* Peers in the meta table -------------------------------------------------- */

struct peer_put {
	const char *url;
	bool del;
};

static int peer_put_fn(keten_txn *t, void *ctx, keten_error *err)
{
	struct peer_put *pp = ctx;
	char key[512];
	int n = snprintf(key, sizeof key, PEER_PREFIX "%s", pp->url);
	if (pp->del)
		return keten_kv_del(t, KT_META, key, (size_t)n, err);
	return keten_kv_put(t, KT_META, key, (size_t)n, "", 0, err);
}

struct peer_list {
	char *urls[MAX_URLS];
	size_t n;
};

static int peer_list_cb(const uint8_t *k, size_t kl, const uint8_t *v CLI_UNUSED, size_t vl CLI_UNUSED, void *ctx)
{
	struct peer_list *pl = ctx;
	size_t pre = sizeof PEER_PREFIX - 1;
	if (kl <= pre || pl->n >= MAX_URLS)
		return 0;
	pl->urls[pl->n] = strndup((const char *)k + pre, kl - pre);
	if (!pl->urls[pl->n])
		return -1;
	pl->n++;
	return 0;
}

static int peers_load(cli *c, struct peer_list *pl, keten_error *err)
{
	keten_txn *t;
	int rc = keten_store_read(keten_ledger_store(c->L), &t, err);
	if (rc)
		return rc;
	rc = keten_kv_scan(t, KT_META, PEER_PREFIX, sizeof PEER_PREFIX - 1, peer_list_cb, pl, err);
	keten_txn_end(t);
	return rc;
}

static void peers_free(struct peer_list *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->urls[i]);
	pl->n = 0;
}

static const char peer_usage[] = "usage: keten peer add URL\n"
				 "       keten peer remove URL\n"
				 "       keten peer list\n"
				 "       keten peer tls [--cert FILE] [--key FILE] [--ca FILE]\n"
				 "\n"
				 "The nodes 'keten node' pulls from besides its --peer options, kept in\n"
				 "this home.  'tls' names the PEM files used for tls+tcp:// URLs when no\n"
				 "--tls-* option is given: this node's certificate and key (needed to\n"
				 "listen; with a CA, clients must present a certificate too) and the CA\n"
				 "that signed the other nodes' certificates (needed to dial).  An empty\n"
				 "FILE forgets the setting.\n";

struct meta_put {
	const char *name, *value;
};

static int meta_put_fn(keten_txn *t, void *ctx, keten_error *err)
{
	struct meta_put *m = ctx;
	if (!m->value[0])
		return keten_kv_del(t, KT_META, m->name, strlen(m->name), err);
	return keten_kv_put(t, KT_META, m->name, strlen(m->name), m->value, strlen(m->value) + 1, err);
}

static int peer_tls(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"cert", 1, 0, 'C'}, {"key", 1, 0, 'K'}, {"ca", 1, 0, 'A'}, {"help", 0, 0, 'h'}, {0}};
	static const char *const names[] = {"tls.cert", "tls.key", "tls.ca"};
	const char *val[3] = {NULL, NULL, NULL};
	keten_error err = {0};
	int o, rc;

	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'C': val[0] = optarg; break;
		case 'K': val[1] = optarg; break;
		case 'A': val[2] = optarg; break;
		case 'h': return cli_help(peer_usage);
		default: return cli_usage_error("peer", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage_error("peer", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open(c, false)))
		return rc;
	for (int i = 0; i < 3; i++) {
		char abs[4096];
		struct meta_put m = {names[i], val[i]};
		if (!val[i])
			continue;
		if (val[i][0]) {
			if (!realpath(val[i], abs)) {
				fprintf(stderr, "keten: cannot read '%s': %s\n", val[i], strerror(errno));
				return EX_NOINPUT_;
			}
			m.value = abs;
		}
		if (keten_store_write(keten_ledger_store(c->L), meta_put_fn, &m, &err))
			return cli_error(&err);
	}
	{
		struct tls_opts t = {0};
		tls_resolve(c, &t);
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
	return 0;
}

int cmd_peer(cli *c, int argc, char **argv)
{
	keten_error err = {0};
	int rc;

	if (argc < 2)
		return cli_usage_error("peer", "needs add, remove, list or tls");
	if (strcmp(argv[1], "--help") == 0)
		return cli_help(peer_usage);
	if (strcmp(argv[1], "tls") == 0)
		return peer_tls(c, argc, argv);
	if (strcmp(argv[1], "add") == 0 || strcmp(argv[1], "remove") == 0) {
		struct peer_put pp = {.del = argv[1][0] == 'r'};
		if (argc != 3)
			return cli_usage_error("peer", "%s takes one URL", argv[1]);
		if (!url_ok(argv[2]))
			return cli_usage_error("peer", "'%s' is not a tcp://, tls+tcp:// or ipc:// URL", argv[2]);
		pp.url = argv[2];
		if ((rc = cli_open(c, false)))
			return rc;
		if (keten_store_write(keten_ledger_store(c->L), peer_put_fn, &pp, &err))
			return cli_error(&err);
		return 0;
	}
	if (strcmp(argv[1], "list") == 0) {
		struct peer_list pl = {0};
		json_t *arr = c->json ? json_array() : NULL;
		if (argc != 2)
			return cli_usage_error("peer", "list takes no arguments");
		if ((rc = cli_open(c, false)))
			return rc;
		rc = peers_load(c, &pl, &err);
		for (size_t i = 0; i < pl.n; i++) {
			if (arr)
				json_array_append_new(arr, json_string(pl.urls[i]));
			else
				puts(pl.urls[i]);
		}
		peers_free(&pl);
		if (arr)
			cli_print_json(arr);
		return rc ? cli_error(&err) : 0;
	}
	return cli_usage_error("peer", "'%s' is not a peer command", argv[1]);
}

/* Checkpoints ------------------------------------------------------------------ */

/* Append a checkpoint of the heads here unless they are those of *last
 * (then *id_out stays zero); *last becomes the heads digest after it. */
static int checkpoint_append(cli *c, uint8_t last[32], bool have_last, uint8_t id_out[32], size_t *feeds,
                             keten_error *err)
{
	keten_append a = {.body_type = KETEN__BODY_TYPE__CHECKPOINT};
	uint8_t digest[32], *body = NULL, ids[1][32];
	size_t len = 0;
	keten_txn *t;
	int rc;

	memset(id_out, 0, 32);
	if ((rc = keten_store_read(keten_ledger_store(c->L), &t, err)))
		return rc;
	rc = keten_sync_checkpoint_body(t, &body, &len, digest, err);
	if (rc == 0 && feeds)
		keten_sync_heads_digest(t, digest, feeds, NULL);
	keten_txn_end(t);
	if (rc)
		return rc;
	if (have_last && memcmp(last, digest, 32) == 0) {
		free(body);
		return KETEN_OK;
	}
	a.body = body;
	a.body_len = len;
	rc = keten_ledger_append(c->L, &a, 1, ids, err);
	free(body);
	if (rc)
		return rc;
	memcpy(id_out, ids[0], 32);
	if ((rc = keten_store_read(keten_ledger_store(c->L), &t, err)))
		return rc;
	rc = keten_sync_heads_digest(t, last, NULL, err);
	keten_txn_end(t);
	return rc;
}

struct cp_scan {
	keten_txn *t;
	const uint8_t *self;
	cli *c;
	json_t *arr;
	size_t n, differ;
};

static int cp_cb(const uint8_t *k, size_t kl, const uint8_t *v CLI_UNUSED, size_t vl CLI_UNUSED, void *ctx)
{
	struct cp_scan *x = ctx;
	keten_checkpoint_check ck;
	keten_error err = {0};
	keten_entry e;
	char hex[65], who[128];
	int rc;
	if (kl < 44 || keten_store_get_entry(x->t, k + 12, &e, NULL))
		return 0;
	if (!e.has_body || memcmp(e.author, x->self, 32) == 0) {
		keten_entry_release(&e);
		return 0;
	}
	rc = keten_sync_checkpoint_check(x->t, &e, &ck, &err);
	keten_hex(hex, e.id, 32);
	cli_party_name(x->c, e.author, who, sizeof who);
	x->n++;
	x->differ += rc ? 1 : ck.differ > 0;
	if (x->arr) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_string(hex));
		json_object_set_new(o, "author", json_string(who));
		if (rc) {
			json_object_set_new(o, "error", json_string(err.msg));
		} else {
			json_object_set_new(o, "heads", json_integer((json_int_t)ck.heads));
			json_object_set_new(o, "agree", json_integer((json_int_t)ck.agree));
			json_object_set_new(o, "behind", json_integer((json_int_t)ck.behind));
			json_object_set_new(o, "differ", json_integer((json_int_t)ck.differ));
		}
		json_array_append_new(x->arr, o);
	} else if (rc) {
		printf("%.16s  %-24s malformed: %s\n", hex, who, err.msg);
	} else {
		char fh[65] = "";
		if (ck.first_differ_set)
			keten_hex(fh, ck.first_differ, 32);
		printf("%.16s  %-24s %zu feeds: %zu agree, %zu not seen here yet, %zu differ%s%.16s%s\n", hex, who,
		       ck.heads, ck.agree, ck.behind, ck.differ, ck.differ ? " (first: " : "", fh,
		       ck.differ ? ")" : "");
	}
	keten_entry_release(&e);
	return 0;
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
	int rc;
	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return cli_help(checkpoint_usage);
	if (argc == 2 && strcmp(argv[1], "--check") == 0) {
		struct cp_scan x = {.c = c};
		uint8_t prefix[4];
		if ((rc = cli_open(c, false)))
			return rc;
		x.self = keten_ledger_info(c->L)->key;
		x.arr = c->json ? json_array() : NULL;
		if (keten_store_read(keten_ledger_store(c->L), &x.t, &err))
			return cli_error(&err);
		keten_be32(prefix, KETEN__BODY_TYPE__CHECKPOINT);
		rc = keten_kv_scan(x.t, KT_BY_TYPE, prefix, 4, cp_cb, &x, &err);
		keten_txn_end(x.t);
		if (x.arr)
			cli_print_json(x.arr);
		if (rc)
			return cli_error(&err);
		return x.differ ? EX_FINDING : 0;
	}
	if (argc != 1)
		return cli_usage_error("checkpoint", "takes no argument but --check");
	{
		uint8_t last[32] = {0}, id[32];
		char hex[65];
		size_t feeds = 0;
		if ((rc = cli_open(c, true)))
			return rc;
		if (checkpoint_append(c, last, false, id, &feeds, &err))
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
	}
	return 0;
}

/* The node -------------------------------------------------------------------- */

static volatile sig_atomic_t stop_signal;

/* The seq of this home's own feed head (0 when empty or unreadable). */
static uint64_t own_head(cli *c)
{
	keten_txn *t;
	uint64_t seq = 0;
	if (keten_store_read(keten_ledger_store(c->L), &t, NULL) == KETEN_OK) {
		keten_store_head(t, keten_ledger_info(c->L)->key, &seq, NULL, NULL);
		keten_txn_end(t);
	}
	return seq;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void node_log(void *ctx, const char *line)
{
	char when[16];
	time_t now = time(NULL);
	struct tm tm;
	(void)ctx;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%H:%M:%S", &tm);
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "keten node %s %s\n", when, line);
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

static const char node_usage[] =
	"usage: keten node [--listen URL]... [--peer URL]... [--interval SECONDS] [--rounds N]\n"
	"                  [--timeout SECONDS] [--checkpoint SECONDS]\n"
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
	"tls+tcp:// URLs use the --tls-* PEM files, else those of 'keten peer tls'.\n";

int cmd_node(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"listen", 1, 0, 'l'}, {"peer", 1, 0, 'p'},       {"interval", 1, 0, 'i'},
	                                     {"rounds", 1, 0, 'r'}, {"checkpoint", 1, 0, 'c'}, {"timeout", 1, 0, 't'},
	                                     TLS_LONGOPTS,          {"help", 0, 0, 'h'},       {0}};
	static struct tls_opts tls;
	const char *listen[MAX_URLS];
	struct peer_list pl = {0};
	keten_peer *peers[2 * MAX_URLS];
	size_t n_listen = 0, n_peers = 0;
	keten_error err = {0};
	keten_node *node = NULL;
	double interval = 10, cp_every = 0, cp_due = 0, next_round = 0, timeout = 5;
	uint64_t own_seq = 0;
	uint8_t cp_last[32] = {0};
	bool cp_have = false;
	long rounds = 0;
	bool done = false; /* the last of --rounds ran: stop after this pass */
	struct sigaction sa;
	int o, rc;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			if (n_listen == MAX_URLS || !url_ok(optarg))
				return cli_usage_error(
					"node", "--listen '%s' is not a tcp://, tls+tcp:// or ipc:// URL", optarg);
			listen[n_listen++] = optarg;
			break;
		case 'p':
			if (pl.n == MAX_URLS || !url_ok(optarg))
				return cli_usage_error("node", "--peer '%s' is not a tcp://, tls+tcp:// or ipc:// URL",
				                       optarg);
			if (!(pl.urls[pl.n++] = strdup(optarg)))
				return EX_SOFTWARE_;
			break;
		case 'i':
			if ((rc = parse_seconds("node", "--interval", optarg, &interval)))
				return rc;
			break;
		case 'c':
			if ((rc = parse_seconds("node", "--checkpoint", optarg, &cp_every)))
				return rc;
			break;
		case 't':
			if ((rc = parse_seconds("node", "--timeout", optarg, &timeout)))
				return rc;
			break;
		case 'r': {
			char *end;
			rounds = strtol(optarg, &end, 10);
			if (*end || rounds < 1)
				return cli_usage_error("node", "--rounds '%s' is not a positive number", optarg);
			break;
		}
		case 'h': return cli_help(node_usage);
		default:
			if (tls_option(o, optarg, &tls))
				break;
			return cli_usage_error("node", "unknown option");
		}
	}
	if (optind != argc) {
		peers_free(&pl);
		return cli_usage_error("node", "unexpected argument '%s'", argv[optind]);
	}
	if ((rc = cli_open(c, true))) {
		peers_free(&pl);
		return rc;
	}
	{
		struct peer_list stored = {0};
		if (peers_load(c, &stored, &err) == 0)
			for (size_t i = 0; i < stored.n && pl.n < MAX_URLS; i++) {
				bool dup = false;
				for (size_t j = 0; j < pl.n; j++)
					dup = dup || strcmp(pl.urls[j], stored.urls[i]) == 0;
				if (!dup) {
					pl.urls[pl.n++] = stored.urls[i];
					stored.urls[i] = NULL;
				}
			}
		peers_free(&stored);
	}
	if (!n_listen && !pl.n) {
		peers_free(&pl);
		return cli_usage_error("node", "needs --listen or a peer to pull from");
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	tls_resolve(c, &tls);
	if (n_listen && keten_node_start(c->L, listen, n_listen, NULL, &tls.files, node_log, NULL, &node, &err)) {
		peers_free(&pl);
		return sync_exit(&err);
	}
	{
		char line[600];
		size_t u = (size_t)snprintf(line, sizeof line, "%s as %s", n_listen ? "serving" : "not serving",
		                            keten_ledger_info(c->L)->name);
		for (size_t i = 0; i < n_listen; i++)
			u += (size_t)snprintf(line + u, u < sizeof line ? sizeof line - u : 0, "%s %s", i ? "," : " on",
			                      listen[i]);
		if (u < sizeof line)
			snprintf(line + u, sizeof line - u, "; pulling from %zu peers", pl.n);
		node_log(NULL, line);
	}
	for (size_t i = 0; i < pl.n; i++) {
		if (keten_peer_open(c->L, pl.urls[i], false, (int)(timeout * 1000), &tls.files, &peers[n_peers],
		                    &err)) {
			char line[600];
			snprintf(line, sizeof line, "peer %s: %s", pl.urls[i], err.msg);
			node_log(NULL, line);
			continue;
		}
		n_peers++;
	}
	/* One loop: a sync round every interval (when there are peers) or at
	 * once when one of them announces a change, an announce to the peers
	 * when this ledger's own feed grew, a checkpoint when due, and a stop
	 * signal seen within 50 ms. */
	own_seq = own_head(c);
	for (long round = 1; !stop_signal && !done;) {
		double now = mono_s();
		if (node && n_peers) {
			uint8_t keys[8][32];
			size_t k = keten_node_take_announced(node, keys, 8);
			for (size_t i = 0; i < k; i++)
				for (size_t j = 0; j < n_peers; j++) {
					uint8_t pk[32];
					if (keten_peer_key(peers[j], pk) && memcmp(pk, keys[i], 32) == 0)
						next_round = now;
				}
		}
		/* A round falls due every interval with or without peers: --rounds
		 * counts them, so a node that only serves (and checkpoints) stops
		 * too; with no peers there is nothing to pull and nothing logged. */
		if (now >= next_round) {
			char line[2048];
			size_t u = (size_t)snprintf(line, sizeof line, "round %ld:", round);
			for (size_t i = 0; i < n_peers && !stop_signal; i++) {
				keten_sync_stats st = {0};
				char what[256];
				keten_error e = {0};
				if (keten_peer_sync(peers[i], &st, &e))
					snprintf(what, sizeof what, "error: %s", e.msg);
				else
					stats_text(what, sizeof what, &st);
				if (u < sizeof line)
					u += (size_t)snprintf(line + u, sizeof line - u, "%s %s: %s", i ? ";" : "",
					                      keten_peer_url(peers[i]), what);
			}
			if (n_peers)
				node_log(NULL, line);
			/* the last round still announces and checkpoints below */
			if (rounds && round >= rounds)
				done = true;
			round++;
			next_round = mono_s() + interval;
		}
		if (n_peers && own_head(c) != own_seq) {
			/* Written here (by this node or a command on this home): tell
			 * the peers, so those that pull from us need not wait. */
			size_t told = 0;
			char line[128];
			own_seq = own_head(c);
			for (size_t i = 0; i < n_peers && !stop_signal; i++) {
				keten_error e = {0};
				told += keten_peer_announce(peers[i], &e) == KETEN_OK;
			}
			snprintf(line, sizeof line, "announced seq %llu to %zu of %zu peers",
			         (unsigned long long)own_seq, told, n_peers);
			node_log(NULL, line);
		}
		if (cp_every > 0 && now >= cp_due) {
			uint8_t id[32], zero[32] = {0};
			keten_error e = {0};
			char line[256], hex[65];
			size_t feeds = 0;
			if (checkpoint_append(c, cp_last, cp_have, id, &feeds, &e)) {
				snprintf(line, sizeof line, "checkpoint failed: %s", e.msg);
				node_log(NULL, line);
			} else if (memcmp(id, zero, 32) != 0) {
				keten_hex(hex, id, 32);
				snprintf(line, sizeof line, "checkpoint %.16s over %zu feeds", hex, feeds);
				node_log(NULL, line);
				cp_have = true;
			}
			cp_due = mono_s() + cp_every;
		}
		if (!done) {
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	{
		char line[64];
		snprintf(line, sizeof line, "stopping (%s)",
		         stop_signal == SIGINT            ? "SIGINT"
		                 : stop_signal == SIGTERM ? "SIGTERM"
		                                          : "done");
		node_log(NULL, line);
		watchdog_start(true, 0);
	}
	for (size_t i = 0; i < n_peers; i++)
		keten_peer_close(peers[i]);
	keten_node_stop(node);
	peers_free(&pl);
	node_log(NULL, "stopped");
	return 0;
}
