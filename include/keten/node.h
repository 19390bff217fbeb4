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
} keten_node_opts;

/*
 * Run a node of L (unlocked: it signs challenges, auths and checkpoints)
 * as o says, until *o->stop is set or o->rounds rounds have run; the last
 * round still announces and checkpoints.  Logs "serving as NAME on URL,
 * ...; pulling from N peers" (or "not serving as NAME; ..."), "peer URL:
 * why" for a peer that cannot be opened, "round N: URL: FIGURES; ..." per
 * round with peers (keten_sync_stats_text, or "error: why"), "announced
 * seq N to K of M peers", "checkpoint ID over N feeds" (or "checkpoint
 * failed: why"), "stopping (SIGINT|SIGTERM|done)" and "stopped".  The
 * process should ignore SIGPIPE.  Returns KETEN_OK once stopped, or an
 * error from starting: KETEN_EINVAL (not unlocked; no URL to listen on and
 * no peer given or kept; a bad URL; TLS files missing), KETEN_EIO (cannot
 * listen; a TLS file cannot be read), KETEN_ENOMEM.
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
