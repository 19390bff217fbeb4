/*
 * net.h — keten nodes over nng: a server that answers the sync protocol
 * on one or more URLs (rep0 with several contexts, so it serves many
 * peers at once), and a peer connection that pulls from one node in
 * rounds (req0).  The protocol itself lives in keten/sync.h; this module
 * only moves its messages and keeps one session per nng pipe.
 *
 * URLs: tcp://HOST:PORT, ipc:///path, tls+tcp://HOST:PORT (nng's TLS 1.2,
 * mbedTLS underneath; PEM files named by the caller: a server needs its
 * certificate and key, a client the CA that signed the server's and dials
 * by the host name in that certificate; a server given a CA requires
 * client certificates too).  Every socket caps the size of what
 * it receives (NNG_OPT_RECVMAXSZ: 1 MiB for requests, 4 MiB + margin for
 * replies).  A peer that keeps sending bad requests is dropped; its key's
 * strikes and request bucket outlive the connection (keten_sync_guard).
 * The server takes at most lim->max_conns connections at once (one more
 * is closed as it arrives), and closes one that has not authenticated
 * lim->handshake_ms after it opened or has sent nothing for lim->idle_ms.
 *
 * A peer connection expects the server key kept for its URL in the home
 * (keten_node_pin_get: pinned by 'keten peer add URL --key KEY', or
 * recorded at the first handshake with that URL): a node at that URL
 * with another key is refused (KETEN_EAUTHOR).  The session is bound to
 * the transport (TLS or plain), so a relay cannot strip TLS unseen; nng
 * exposes no TLS channel binding beyond that (docs/sync-protocol.md).
 *
 * The server reads the ledger from nng's threads while a pull writes to it
 * from the caller's thread (and the sync client's own, which stores a
 * full batch while the next replies arrive).  They need no lock of their
 * own: the store's map gate (store.h) lets readers run at once and keeps
 * them out only while LMDB's map grows, so a node serves while it pulls
 * into the same ledger or another, and the caller may append (a
 * checkpoint, say) or read from any thread meanwhile.
 */
#ifndef KETEN_NET_H
#define KETEN_NET_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_ledger;
struct keten_sync_limits;
struct keten_sync_stats;

/* A line for the log (no newline); called from any thread. */
typedef void (*keten_log_fn)(void *ctx, const char *line);

typedef struct keten_node keten_node;

/* PEM files for tls+tcp:// URLs; NULL fields are not used. */
typedef struct keten_tls_files {
	const char *cert;
	const char *key;
	const char *ca;
} keten_tls_files;

/*
 * Serve L (unlocked: it signs challenges) on every URL.  lim NULL: the
 * defaults; tls may be NULL when no URL is tls+tcp://.  Errors:
 * KETEN_EINVAL (bad URL, TLS files missing), KETEN_EIO (cannot listen,
 * cannot read a TLS file; the message names it), KETEN_ENOMEM.
 */
KETEN_API int keten_node_start(struct keten_ledger *L, const char *const *urls, size_t n_urls,
                               const struct keten_sync_limits *lim, const keten_tls_files *tls, keten_log_fn log,
                               void *log_ctx, keten_node **out, struct keten_error *err);
/* Stop serving and free; NULL does nothing.  May block inside nng: callers
 * that must exit keep a watchdog. */
KETEN_API void keten_node_stop(keten_node *n);
/* Requests answered so far, peers dropped for misbehaving, and
 * connections refused over the cap or closed by the reaper (no handshake
 * in time, or idle). */
KETEN_API uint64_t keten_node_requests(const keten_node *n);
KETEN_API uint64_t keten_node_dropped(const keten_node *n);
KETEN_API uint64_t keten_node_refused(const keten_node *n);
/* Keys of peers that announced a change since the last call (at most
 * max): a node pulling from them starts a round now. */
KETEN_API size_t keten_node_take_announced(keten_node *n, uint8_t (*keys)[32], size_t max);

typedef struct keten_peer keten_peer;

/*
 * Connect to the node at url to pull from it into L (unlocked), expecting
 * the key kept for url in L's home (if any).  With
 * wait, the dial happens now and fails when nobody listens (KETEN_EIO);
 * without, nng keeps dialling in the background.  timeout_ms bounds
 * each round trip.  tls as for keten_node_start (a CA is needed for
 * tls+tcp://).
 */
KETEN_API int keten_peer_open(struct keten_ledger *L, const char *url, bool wait, int timeout_ms,
                              const keten_tls_files *tls, keten_peer **out, struct keten_error *err);
/*
 * One sync round: authenticate if needed, compare heads, fetch and ingest
 * what is new.  *st receives the round's figures.  Errors: KETEN_EIO (no
 * answer in time, connection lost), KETEN_EPROTO (the peer broke the
 * protocol or answered with an error), KETEN_ESIG, KETEN_EAUTHOR (the
 * handshake failed, we are not certified there, or the node is not the
 * key expected at its URL), store errors.  The first handshake with a URL
 * that has no key kept records the key that answered (first use).
 */
KETEN_API int keten_peer_sync(keten_peer *p, struct keten_sync_stats *st, struct keten_error *err);
/* Tell the node at the other end that this ledger changed (the optional
 * push), on a connection that has authenticated in an earlier round;
 * KETEN_EINVAL before that. */
KETEN_API int keten_peer_announce(keten_peer *p, struct keten_error *err);
KETEN_API const char *keten_peer_url(const keten_peer *p);
/* The key that answered the last handshake; false before one. */
KETEN_API bool keten_peer_key(const keten_peer *p, uint8_t key[32]);
KETEN_API void keten_peer_close(keten_peer *p);

#endif
