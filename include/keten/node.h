/*
 * node.h — a keten node as one library call, and the node's configuration
 * kept in its home.
 *
 * keten_node_run serves a ledger on some URLs (keten_node_start, net.h)
 * and pulls from its peers (keten_peer_*, net.h) in one loop until it is
 * stopped: a sync round with every peer each interval, or at once when a
 * peer announces a change; an announce to every peer when this home's own
 * feed grew (by the node or by a command on the same home); a checkpoint
 * of the heads held here when one is due and the heads changed.  A peer
 * that does not answer fails its part of the round; the others go on.
 * Every line of its log goes to the caller's log function.
 *
 * The home keeps the peers a node pulls from besides those the caller
 * names (meta "peer.<url>"), the server key expected at each URL it
 * dials (meta "pin.<url>": pinned, or recorded on first use), and the PEM
 * files for tls+tcp:// URLs (meta "tls.cert", "tls.key", "tls.ca"): the
 * functions below read and change them, so no caller writes those records
 * itself.
 */
#ifndef KETEN_NODE_H
#define KETEN_NODE_H

#include "keten/keten.h"
#include "keten/net.h"
#include "keten/sync.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KETEN_NODE_MAX_URLS 64u  /* listen URLs, and peers (given and kept) */
#define KETEN_NODE_URL_MAX  400u /* a URL is shorter than this */

/* Is url one a node can listen on or dial: tcp://, ipc:// or tls+tcp://,
 * shorter than KETEN_NODE_URL_MAX? */
KETEN_API bool keten_node_url_ok(const char *url);

/* What keten_node_run does; zero fields take the defaults. */
typedef struct keten_node_opts {
	const char *const *listen; /* URLs to serve on (none: pull only) */
	size_t n_listen;
	const char *const *peers; /* peers to pull from, before the home's */
	size_t n_peers;
	double interval_s;                      /* between rounds (0: 10 seconds) */
	double timeout_s;                       /* per round trip with a peer (0: 5 seconds) */
	double checkpoint_s;                    /* a checkpoint this often when the heads changed (0: none) */
	long rounds;                            /* stop after this many rounds, counted every interval
	                        with or without peers (0: until stopped) */
	keten_tls_files tls;                    /* PEM files; a NULL field: the home's (keten_node_tls) */
	const struct keten_sync_limits *limits; /* what the server allows (NULL: the defaults) */
	/* Stop when *stop becomes nonzero (may be NULL), seen within 50 ms: a
	 * signal handler may store its signal number there (the object is a
	 * `volatile sig_atomic_t`, which is int; SIGINT and SIGTERM are named
	 * in the log line "stopping (...)"). */
	const volatile int *stop;
	keten_log_fn log; /* each line of the log (may be NULL); from any thread */
	void *log_ctx;
	/* Called once when the loop has ended, before the connections close
	 * (closing may block inside nng: a program that must exit may start a
	 * watchdog here); may be NULL. */
	void (*stopping)(void *ctx);
	void *stopping_ctx;
	/* A config file (keten_node_conf_read; NULL: none).  Its settings
	 * apply where the fields above leave them unset: its listen URLs when
	 * n_listen is 0, its peers besides those given (their keys pinned in
	 * the home, keten_node_pin_set), its intervals where the fields are 0,
	 * its TLS files field by field; its [dashboard] serves the dashboard
	 * (keten/http.h) beside the node.  A config error at start fails the
	 * run with KETEN_EMALFORMED ("FILE:LINE: why"). */
	const char *config;
	/* Reread the config and the home's peers and TLS files when *reload
	 * becomes nonzero (a SIGHUP handler sets it; the node sets it back to
	 * 0); may be NULL.  Peers, intervals and the TLS files used to dial
	 * change at once; a new peer's round is due at once; listen URLs, the
	 * server's TLS files and the dashboard only at a restart (the log
	 * says so).  A config with an error is refused and the one in use
	 * kept ("reload refused: FILE:LINE: why; ..."). */
	volatile int *reload;
} keten_node_opts;

/* The config file ---------------------------------------------------------- */

#define KETEN_NODE_PATH_MAX 512u /* a file name in a config is shorter than this */
#define KETEN_NODE_ADDR_MAX 300u /* so is the dashboard's address */

/* A [peer URL] section: the URL and the key pinned for it, if any. */
typedef struct keten_node_conf_peer {
	char url[KETEN_NODE_URL_MAX];
	uint8_t key[32];
	bool has_key;
	unsigned line; /* of its [peer URL] line */
} keten_node_conf_peer;

/* What a config file says (docs/service.md); "" and 0: not set. */
typedef struct keten_node_conf {
	char listen[KETEN_NODE_MAX_URLS][KETEN_NODE_URL_MAX]; /* [node] listen, in order */
	size_t n_listen;
	keten_node_conf_peer peers[KETEN_NODE_MAX_URLS]; /* the [peer URL] sections, in order */
	size_t n_peers;
	double interval_s, timeout_s, checkpoint_s; /* [node] interval, timeout, checkpoint */
	char tls_cert[KETEN_NODE_PATH_MAX], tls_key[KETEN_NODE_PATH_MAX], tls_ca[KETEN_NODE_PATH_MAX]; /* [tls] */
	struct {
		char listen[KETEN_NODE_ADDR_MAX];                         /* HOST:PORT ("": no dashboard) */
		char cert[KETEN_NODE_PATH_MAX], key[KETEN_NODE_PATH_MAX]; /* HTTPS */
		char client_ca[KETEN_NODE_PATH_MAX], tokens[KETEN_NODE_PATH_MAX];
		bool public_; /* public = yes */
	} dashboard;
	unsigned line; /* after an error: the line it is on (0: none) */
} keten_node_conf;

/*
 * Parse the text of a config file (len bytes; name, for messages, may be
 * NULL) into *out (about 60 KiB: callers allocate it).  Errors:
 * KETEN_EMALFORMED, the message "NAME:LINE: why" and out->line the line:
 * a line that is not a [section], a key = value or a # comment; an unknown
 * section or key; a key outside a section; a missing value; a bad URL,
 * number, key (64 hex) or yes/no; a duplicate key, section or peer;
 * dashboard cert without key, or client-ca or tokens without cert; more
 * than KETEN_NODE_MAX_URLS URLs; a line of 1024 bytes or more; a NUL.
 */
KETEN_API int keten_node_conf_parse(const char *text, size_t len, const char *name, keten_node_conf *out,
                                    keten_error *err);
/* Read and parse the file at path.  Errors: KETEN_ENOTFOUND (no such
 * file), KETEN_EIO (cannot read it; over 1 MiB), KETEN_EMALFORMED. */
KETEN_API int keten_node_conf_read(const char *path, keten_node_conf *out, keten_error *err);
/*
 * Keep url as a peer in the config file at path (created, mode 0640, when
 * missing) with key pinned (NULL: none; an existing section keeps the key
 * it has); adding it again with the same key changes nothing.  The file is
 * rewritten whole, its other lines and comments as they were, into a
 * temporary file beside it that replaces it (rename).  Errors: KETEN_EINVAL
 * (a bad URL; key not a valid Ed25519 public key), KETEN_EMALFORMED (the file does not parse: not changed),
 * KETEN_EIO.
 */
KETEN_API int keten_node_conf_peer_add(const char *path, const char *url, const uint8_t *key, keten_error *err);
/* Remove url's [peer URL] section from the file at path (its header and
 * key lines; comments after them stay), as keten_node_conf_peer_add
 * rewrites; one not there is not an error.  Errors: as
 * keten_node_conf_peer_add, KETEN_ENOTFOUND (no such file). */
KETEN_API int keten_node_conf_peer_remove(const char *path, const char *url, keten_error *err);

/*
 * Run a node of L (unlocked: it signs challenges, auths and checkpoints)
 * as o says, until *o->stop is set or o->rounds rounds have run; the last
 * round still announces and checkpoints.  Logs "serving as NAME on URL,
 * ...; pulling from N peers" (or "not serving as NAME; ..."), "peer URL:
 * why" for a peer that cannot be opened, "round N: URL: FIGURES; ...; ok=N
 * failed=N entries=N stubs=N forks=N pending=N ms=N" per round with peers
 * (keten_sync_stats_text, or "error: why"; then the totals), "dashboard at
 * URL/", the reload's lines (keten_node_opts.reload), "announced
 * seq N to K of M peers", "checkpoint ID over N feeds" (or "checkpoint
 * failed: why"), "stopping (SIGINT|SIGTERM|done)" and "stopped".  The
 * process should ignore SIGPIPE.  Returns KETEN_OK once stopped, or an
 * error from starting: KETEN_EINVAL (not unlocked; no URL to listen on and
 * no peer given or kept; a bad URL; TLS files missing), KETEN_EIO (cannot
 * listen; a TLS file cannot be read), KETEN_EMALFORMED (a config error),
 * KETEN_ENOTFOUND (no config file), the dashboard's errors
 * (keten_http_start), KETEN_ENOMEM.
 */
KETEN_API int keten_node_run(keten_ledger *L, const keten_node_opts *o, keten_error *err);

/* Peers kept in the home -------------------------------------------------- */

/* Keep url (keten_node_url_ok) as a peer of this home; adding it again
 * changes nothing.  Errors: KETEN_EINVAL (not such a URL), store errors. */
KETEN_API int keten_node_peer_add(keten_ledger *L, const char *url, keten_error *err);
/* Forget peer url and the key kept for it; one not kept is not an error.
 * Errors: KETEN_EINVAL, store errors. */
KETEN_API int keten_node_peer_remove(keten_ledger *L, const char *url, keten_error *err);

/* How the server key expected at a URL came to be kept. */
typedef enum keten_pin_kind {
	KETEN_PIN_NONE = 0,
	KETEN_PIN_SET = 1,       /* named: keten peer add URL --key KEY */
	KETEN_PIN_FIRST_USE = 2, /* the key that answered the first handshake */
} keten_pin_kind;

/* Expect key at url (keten_node_url_ok) from now on: a handshake with
 * another key there is refused.  first_use: recorded by a handshake
 * (keten_peer_sync does so), kept only when no key is kept for url yet;
 * otherwise a pin that replaces any kept before.  Errors: KETEN_EINVAL
 * (not such a URL, not a valid key), store errors. */
KETEN_API int keten_node_pin_set(keten_ledger *L, const char *url, const uint8_t key[32], bool first_use,
                                 keten_error *err);
/* The key kept for url into key (out) and how into *kind (out).  Errors:
 * KETEN_ENOTFOUND (none kept; *kind KETEN_PIN_NONE), store errors. */
KETEN_API int keten_node_pin_get(keten_ledger *L, const char *url, uint8_t key[32], keten_pin_kind *kind,
                                 keten_error *err);
/* The peers kept, in URL order, at most KETEN_NODE_MAX_URLS: *urls (out)
 * is an array of *n strings, all owned by the caller (free them with
 * keten_node_peers_free); NULL and 0 on failure.  Errors: store errors,
 * KETEN_ENOMEM. */
KETEN_API int keten_node_peers(keten_ledger *L, char ***urls, size_t *n, keten_error *err);
/* Free what keten_node_peers or keten_node_pinned gave (NULL does nothing). */
KETEN_API void keten_node_peers_free(char **urls, size_t n);
/* The URLs a server key is kept for (keten_node_pin_get), kept as peers
 * or not (a URL synced from once), as keten_node_peers. */
KETEN_API int keten_node_pinned(keten_ledger *L, char ***urls, size_t *n, keten_error *err);

/* TLS files kept in the home ---------------------------------------------- */

/* TLS file names, with the files view pointing into them (NULL where a
 * name is empty). */
typedef struct keten_tls_config {
	char cert[512];
	char key[512];
	char ca[512];
	keten_tls_files files;
} keten_tls_config;

/*
 * Keep the TLS files of set in the home: for each field that is not NULL,
 * "" forgets the setting, anything else is kept as the file's absolute
 * path.  All or nothing.  Errors: KETEN_ENOTFOUND ("cannot read 'FILE':
 * why": a name that does not resolve to a file), store errors.
 */
KETEN_API int keten_node_tls_set(keten_ledger *L, const keten_tls_files *set, keten_error *err);
/*
 * The TLS files to use into *out: each field of given (may be NULL) that
 * is set, else the one kept in the home (none when it cannot be read).
 * Errors: KETEN_EINVAL (a given name of 512 bytes or more).
 */
KETEN_API int keten_node_tls(keten_ledger *L, const keten_tls_files *given, keten_tls_config *out, keten_error *err);

#endif
