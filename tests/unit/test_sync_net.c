/*
 * test_sync_net.c — ledger/io/net.c and node.c over real nng on
 * tcp://127.0.0.1, in one process: a node serving a feed of N entries
 * (KETEN_SYNC_NET_N, default 20000) pulled by a peer, timed against raw
 * libsodium verify of as many signatures (received runs are verified by
 * hash links and one signature); an in-sync round's bytes on the wire;
 * three peers pulling at once (the server's contexts, and the store's map
 * gate with no lock of net.c's own); a server restarted on the same port
 * (the peer authenticates again on the new connection); hostile raw
 * sockets (garbage until the pipe is dropped, a message over the size
 * limit) while a certified peer keeps syncing; keten_node_run (a node that
 * serves and checkpoints, one that pulls from the peer kept in its home,
 * each stopped by a flag as a signal handler sets it, and one that stops
 * after its rounds), and the peers and TLS files kept in a home; the
 * listener's bounds (a connection cap, connections that do not
 * authenticate in time or stay idle closed, a peer whose idle connection
 * was closed syncing again on a new one) and the server keys kept per URL
 * (recorded on first use, pinned, a node with another key refused).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>

#include "keten/keten.h"
#include "keten/net.h"
#include "keten/node.h"
#include "proto/keten.pb-c.h"
#include "keten/sync.h"
#include "proto/sync.pb-c.h"
#include "test_util.h"

#define NPEERS 4 /* the server's home, then three pulling homes */

struct fx {
	char base[96];
	char dir[NPEERS][160];
	keten_ledger *L[NPEERS];
	size_t n;
	char url[64];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM, 0), port;
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &al))
		return -1;
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

static void cert(keten_ledger *by, const uint8_t key[32], const char *name, uint32_t role)
{
	Keten__PartyCertificate pc = KETEN__PARTY_CERTIFICATE__INIT;
	uint32_t r[1] = {role};
	keten_append a = {.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE};
	keten_error err = {0};
	uint8_t buf[256];
	pc.key.data = (uint8_t *)key;
	pc.key.len = 32;
	pc.name = (char *)name;
	pc.n_roles = 1;
	pc.roles = r;
	a.body = buf;
	a.body_len = keten__party_certificate__pack(&pc, buf);
	if (keten_ledger_append(by, &a, 1, NULL, &err))
		fail_msg("certify: %s", err.msg);
}

/* n public entries by the server's key, signed in a chain and stored in
 * batches of 1000 through ingest. */
static void fill(keten_ledger *Lg, size_t n)
{
	const keten_keypair *kp = keten_ledger_keypair(Lg);
	keten_txn *t;
	uint64_t seq;
	uint8_t prev[32], body[64];
	keten_entry *e = calloc(1000, sizeof *e);
	keten_blob *b = calloc(1000, sizeof *b);
	keten_error err = {0};
	size_t blen;
	Keten__Dispute d = KETEN__DISPUTE__INIT;

	assert_non_null(e);
	assert_non_null(b);
	d.text = "a public note of about this size, as most entries are short";
	blen = keten__dispute__pack(&d, body);
	assert_int_equal(keten_store_read(keten_ledger_store(Lg), &t, &err), KETEN_OK);
	assert_int_equal(keten_store_head(t, kp->pk, &seq, prev, &err), KETEN_OK);
	keten_txn_end(t);
	for (size_t done = 0; done < n;) {
		size_t k = n - done < 1000 ? n - done : 1000;
		keten_ingest_stats st;
		for (size_t i = 0; i < k; i++) {
			keten_entry_draft dr = {.seq = seq + 1,
			                        .prev = seq ? prev : NULL,
			                        .timestamp_ms = 1764000000000 + (int64_t)seq,
			                        .body_type = KETEN__BODY_TYPE__DISPUTE,
			                        .body = body,
			                        .body_len = blen};
			assert_int_equal(keten_entry_sign(kp, &dr, &e[i], &err), KETEN_OK);
			b[i].data = e[i].raw;
			b[i].len = e[i].raw_len;
			memcpy(prev, e[i].id, 32);
			seq++;
		}
		if (keten_ledger_ingest(Lg, b, k, true, &st, &err))
			fail_msg("fill: %s", err.msg);
		for (size_t i = 0; i < k; i++)
			keten_entry_release(&e[i]);
		done += k;
	}
	free(e);
	free(b);
}

static uint64_t head_of(keten_ledger *Lg, const uint8_t author[32])
{
	keten_txn *t;
	uint64_t seq;
	assert_int_equal(keten_store_read(keten_ledger_store(Lg), &t, NULL), KETEN_OK);
	assert_int_equal(keten_store_head(t, author, &seq, NULL, NULL), KETEN_OK);
	keten_txn_end(t);
	return seq;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct stat st;
	const char *env = getenv("KETEN_SYNC_NET_N");
	keten_error err = {0};
	static const char *const nm[NPEERS] = {"Gemeente", "Hoofd", "Een", "Twee"};
	static const char *const rl[NPEERS] = {"municipality", "lead-provider", "subcontractor", "subcontractor"};
	if (!f)
		return -1;
	f->n = env ? strtoul(env, NULL, 10) : 20000;
	snprintf(f->base, sizeof f->base, "%s/keten-net-XXXXXX", stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(f->base))
		return -1;
	for (int i = 0; i < NPEERS; i++) {
		keten_home_info in = {0};
		snprintf(f->dir[i], sizeof f->dir[i], "%s/h%d", f->base, i);
		snprintf(in.name, sizeof in.name, "%s", nm[i]);
		snprintf(in.role, sizeof in.role, "%s", rl[i]);
		if (keten_home_create(f->dir[i], NULL, &in, &err) || keten_ledger_open(f->dir[i], &f->L[i], &err) ||
		    keten_ledger_unlock(f->L[i], NULL, &err))
			return -1;
	}
	for (int i = 0; i < NPEERS; i++)
		if (keten_ledger_trust_add(f->L[i], keten_ledger_info(f->L[0])->key, "Gemeente", &err))
			return -1;
	for (int i = 1; i < NPEERS; i++)
		cert(f->L[0], keten_ledger_info(f->L[i])->key, nm[i], KETEN__ROLE__SUBCONTRACTOR);
	snprintf(f->url, sizeof f->url, "tcp://127.0.0.1:%d", free_port());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < NPEERS; i++)
		keten_ledger_close(f->L[i]);
	test_rm_rf(f->base);
	free(f);
	return 0;
}

static void test_pull_figures(void **state)
{
	struct fx *f = *state;
	const char *urls[1] = {f->url};
	const uint8_t *mk = keten_ledger_info(f->L[0])->key;
	keten_node *node;
	keten_peer *p;
	keten_sync_stats st;
	keten_error err = {0};
	double t0, t_sync, t_verify;
	uint64_t head;

	fill(f->L[0], f->n);
	head = head_of(f->L[0], mk);
	/* the port was free when picked; another process may have taken it since */
	for (int tries = 0; keten_node_start(f->L[0], urls, 1, NULL, NULL, NULL, NULL, &node, &err); tries++) {
		if (tries == 5)
			fail_msg("cannot listen: %s", err.msg);
		snprintf(f->url, sizeof f->url, "tcp://127.0.0.1:%d", free_port());
	}
	assert_int_equal(keten_peer_open(f->L[1], f->url, true, 20000, NULL, &p, &err), KETEN_OK);
	t0 = now_s();
	if (keten_peer_sync(p, &st, &err))
		fail_msg("sync: %s", err.msg);
	t_sync = now_s() - t0;
	assert_int_equal(head_of(f->L[1], mk), head);
	/* raw libsodium: verify as many signatures, one by one, on one core */
	{
		uint8_t pk[32], sk[64], msg[300], sig[64];
		size_t n = f->n < 20000 ? f->n : 20000, okc = 0;
		crypto_sign_keypair(pk, sk);
		randombytes_buf(msg, sizeof msg);
		crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
		t0 = now_s();
		for (size_t i = 0; i < n; i++)
			okc += crypto_sign_verify_detached(sig, msg, sizeof msg, pk) == 0;
		t_verify = (now_s() - t0) * (double)head / (double)n;
		assert_int_equal(okc, n);
	}
	print_message("sync of %llu entries over tcp loopback: %.2f s, %.0f entries/s, %zu round trips, "
	              "%.1f MB received; raw verify of as many: %.2f s (%.0f/s): ratio %.1fx\n",
	              (unsigned long long)head, t_sync, head / t_sync, st.requests, st.bytes_in / 1e6, t_verify,
	              head / t_verify, t_verify / t_sync);
	/* in sync: one round trip, a few dozen bytes */
	assert_int_equal(keten_peer_sync(p, &st, &err), KETEN_OK);
	assert_true(st.same);
	assert_int_equal(st.requests, 1);
	print_message("in-sync round over tcp: %zu round trip, %zu + %zu bytes\n", st.requests, st.bytes_out,
	              st.bytes_in);
	assert_true(st.bytes_out + st.bytes_in <= 512);
	keten_peer_close(p);
	keten_node_stop(node);
}

struct puller {
	keten_ledger *L;
	const char *url;
	int rc;
	keten_error err;
};

static void *pull_thread(void *arg)
{
	struct puller *pl = arg;
	keten_peer *p;
	keten_sync_stats st;
	pl->rc = keten_peer_open(pl->L, pl->url, true, 20000, NULL, &p, &pl->err);
	if (pl->rc == 0) {
		pl->rc = keten_peer_sync(p, &st, &pl->err);
		keten_peer_close(p);
	}
	return NULL;
}

static void test_concurrent_and_restart(void **state)
{
	struct fx *f = *state;
	const char *urls[1] = {f->url};
	const uint8_t *mk = keten_ledger_info(f->L[0])->key;
	struct puller pl[3];
	pthread_t th[3];
	keten_node *node;
	keten_peer *p;
	keten_sync_stats st;
	keten_error err = {0};
	uint64_t head = head_of(f->L[0], mk);

	/* the previous test filled the server's feed; three peers pull at once */
	assert_int_equal(keten_node_start(f->L[0], urls, 1, NULL, NULL, NULL, NULL, &node, &err), KETEN_OK);
	for (int i = 0; i < 3; i++) {
		pl[i] = (struct puller){.L = f->L[1 + i], .url = f->url};
		assert_int_equal(pthread_create(&th[i], NULL, pull_thread, &pl[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		if (pl[i].rc)
			fail_msg("peer %d: %s", i, pl[i].err.msg);
		assert_int_equal(head_of(f->L[1 + i], mk), head);
	}
	/* a peer stays connected; the server restarts on the same port; the
	 * peer's next round meets a new connection and authenticates again */
	assert_int_equal(keten_peer_open(f->L[1], f->url, true, 5000, NULL, &p, &err), KETEN_OK);
	assert_int_equal(keten_peer_sync(p, &st, &err), KETEN_OK);
	keten_node_stop(node);
	fill(f->L[0], 3);
	assert_int_equal(keten_node_start(f->L[0], urls, 1, NULL, NULL, NULL, NULL, &node, &err), KETEN_OK);
	{
		int rc = KETEN_EIO;
		for (int tries = 0; tries < 20 && rc; tries++) {
			rc = keten_peer_sync(p, &st, &err);
			if (rc)
				usleep(100 * 1000);
		}
		if (rc)
			fail_msg("after restart: %s", err.msg);
	}
	assert_int_equal(head_of(f->L[1], mk), head + 3);
	keten_peer_close(p);
	keten_node_stop(node);
}

static void log_line(void *ctx, const char *line)
{
	int *lines = ctx;
	__atomic_add_fetch(lines, 1, __ATOMIC_SEQ_CST);
	(void)line;
}

static void test_hostile_sockets(void **state)
{
	struct fx *f = *state;
	const char *urls[1] = {f->url};
	keten_node *node;
	keten_peer *p;
	keten_sync_stats st;
	keten_error err = {0};
	nng_socket s;
	uint8_t junk[100];
	int errors = 0, lines = 0;

	assert_int_equal(keten_node_start(f->L[0], urls, 1, NULL, NULL, log_line, &lines, &node, &err), KETEN_OK);
	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1000);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, 60000);
	assert_int_equal(nng_dial(s, f->url, NULL, 0), 0);
	memset(junk, 0xee, sizeof junk);
	/* garbage: an Error each time, until the server drops the pipe */
	for (int i = 0; i < (int)KETEN_SYNC_MAX_STRIKES + 2; i++) {
		void *buf;
		size_t len;
		char what[256];
		int code;
		if (nng_send(s, junk, sizeof junk, 0) != 0 || nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) != 0)
			continue;
		if (keten_sync_describe_reply(buf, len, &code, what, sizeof what) == KETEN__SYNC__REPLY__MSG_ERROR)
			errors++;
		nng_free(buf, len);
	}
	assert_true(errors >= (int)KETEN_SYNC_MAX_STRIKES);
	assert_true(keten_node_dropped(node) >= 1);
	/* a message over the server's size limit: the connection goes, no reply */
	{
		size_t big = 2u * 1024u * 1024u;
		uint8_t *b = calloc(1, big);
		void *buf;
		size_t len;
		assert_non_null(b);
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 500);
		if (nng_send(s, b, big, 0) == 0)
			assert_int_not_equal(nng_recv(s, &buf, &len, NNG_FLAG_ALLOC), 0);
		free(b);
	}
	nng_close(s);
	/* meanwhile a certified peer syncs as ever */
	assert_int_equal(keten_peer_open(f->L[2], f->url, true, 5000, NULL, &p, &err), KETEN_OK);
	if (keten_peer_sync(p, &st, &err))
		fail_msg("sync after hostile sockets: %s", err.msg);
	keten_peer_close(p);
	keten_node_stop(node);
	assert_true(lines >= 2);
}

/* --- keten_node_run and the node's configuration ---------------------------- */

struct node_log {
	pthread_mutex_t mu;
	char lines[128][300];
	int n, stopping;
};

static void node_log_cb(void *ctx, const char *line)
{
	struct node_log *lg = ctx;
	pthread_mutex_lock(&lg->mu);
	if (lg->n < 128)
		snprintf(lg->lines[lg->n++], sizeof lg->lines[0], "%s", line);
	pthread_mutex_unlock(&lg->mu);
}

static void node_stopping_cb(void *ctx)
{
	struct node_log *lg = ctx;
	pthread_mutex_lock(&lg->mu);
	lg->stopping++;
	pthread_mutex_unlock(&lg->mu);
}

/* The first line that starts with `start` and holds `part` (NULL: none). */
static const char *logged(struct node_log *lg, const char *start, const char *part)
{
	const char *hit = NULL;
	pthread_mutex_lock(&lg->mu);
	for (int i = 0; i < lg->n && !hit; i++)
		if (strncmp(lg->lines[i], start, strlen(start)) == 0 && (!part || strstr(lg->lines[i], part)))
			hit = lg->lines[i];
	pthread_mutex_unlock(&lg->mu);
	return hit;
}

struct runner {
	keten_ledger *L;
	keten_node_opts o;
	struct node_log log;
	volatile sig_atomic_t stop;
	pthread_t th;
	int rc;
	keten_error err;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;
	r->rc = keten_node_run(r->L, &r->o, &r->err);
	return NULL;
}

static void runner_start(struct runner *r, keten_ledger *Lg)
{
	r->L = Lg;
	pthread_mutex_init(&r->log.mu, NULL);
	r->o.stop = &r->stop;
	r->o.log = node_log_cb;
	r->o.log_ctx = &r->log;
	r->o.stopping = node_stopping_cb;
	r->o.stopping_ctx = &r->log;
	assert_int_equal(pthread_create(&r->th, NULL, run_thread, r), 0);
}

static void runner_join(struct runner *r)
{
	pthread_join(r->th, NULL);
	if (r->rc)
		fail_msg("keten_node_run: %s", r->err.msg);
	assert_int_equal(r->log.stopping, 1);
	assert_non_null(logged(&r->log, "stopped", NULL));
}

/* Wait until cond holds (at most 30 s). */
#define WAIT_FOR(cond)                                               \
	do {                                                         \
		for (int w_ = 0; w_ < 3000 && !(cond); w_++)         \
			usleep(10000);                               \
		if (!(cond))                                         \
			fail_msg("timed out waiting for %s", #cond); \
	} while (0)

/* A node that serves and checkpoints, and one that pulls from the peer
 * kept in its home, each stopped by its flag as a signal handler would;
 * a node that stops by itself after its rounds. */
static void test_node_run(void **state)
{
	struct fx *f = *state;
	const uint8_t *mk = keten_ledger_info(f->L[0])->key;
	static struct runner a, b, c;
	const char *listen[1];
	const char *nowhere[1] = {"ipc:///nonexistent/keten-none.ipc"};
	char **urls;
	size_t n;
	uint64_t head0 = head_of(f->L[0], mk);
	keten_error err = {0};

	snprintf(f->url, sizeof f->url, "tcp://127.0.0.1:%d", free_port());
	listen[0] = f->url;
	a.o.listen = listen;
	a.o.n_listen = 1;
	a.o.checkpoint_s = 0.1;
	runner_start(&a, f->L[0]);
	/* the serving node checkpoints the heads it holds at once */
	WAIT_FOR(head_of(f->L[0], mk) > head0);
	assert_int_equal(keten_node_peer_add(f->L[2], f->url, &err), KETEN_OK);
	b.o.interval_s = 0.1;
	b.o.timeout_s = 2;
	runner_start(&b, f->L[2]);
	WAIT_FOR(head_of(f->L[2], mk) == head_of(f->L[0], mk));
	WAIT_FOR(logged(&b.log, "round 2: ", NULL) != NULL);
	b.stop = SIGTERM;
	runner_join(&b);
	assert_non_null(logged(&b.log, "not serving as Een; pulling from 1 peers", NULL));
	assert_non_null(logged(&b.log, "round 1: ", f->url));
	assert_non_null(logged(&b.log, "round 2: ", "(in sync)"));
	assert_non_null(logged(&b.log, "stopping (SIGTERM)", NULL));
	a.stop = SIGINT;
	runner_join(&a);
	assert_non_null(logged(&a.log, "serving as Gemeente on ", f->url));
	assert_non_null(logged(&a.log, "checkpoint ", " feeds"));
	assert_non_null(logged(&a.log, "stopping (SIGINT)", NULL));
	assert_null(logged(&a.log, "round ", NULL)); /* no peers: nothing logged per round */
	assert_int_equal(keten_node_peer_remove(f->L[2], f->url, &err), KETEN_OK);

	/* --rounds: two rounds with a peer that never answers, then it stops */
	c.o.peers = nowhere;
	c.o.n_peers = 1;
	c.o.interval_s = 0.05;
	c.o.timeout_s = 0.2;
	c.o.rounds = 2;
	runner_start(&c, f->L[3]);
	runner_join(&c);
	assert_non_null(logged(&c.log, "round 1: ", "error: "));
	assert_non_null(logged(&c.log, "round 2: ", "error: "));
	assert_null(logged(&c.log, "round 3: ", NULL));
	assert_non_null(logged(&c.log, "stopping (done)", NULL));

	/* nothing to do, or a bad peer: refused before anything starts */
	{
		keten_node_opts o = {0};
		const char *bad[1] = {"ftp://x"};
		assert_int_equal(keten_node_peers(f->L[1], &urls, &n, &err), KETEN_OK);
		assert_int_equal(n, 0);
		keten_node_peers_free(urls, n);
		assert_int_equal(keten_node_run(f->L[1], &o, &err), KETEN_EINVAL);
		o.peers = bad;
		o.n_peers = 1;
		assert_int_equal(keten_node_run(f->L[1], &o, &err), KETEN_EINVAL);
		assert_non_null(strstr(err.msg, "ftp://x"));
	}
}

/* Peers and TLS files kept in the home. */
static void test_node_config(void **state)
{
	struct fx *f = *state;
	keten_ledger *Lg = f->L[1];
	keten_tls_config cfg;
	keten_error err = {0};
	char **urls, path[200], abs[PATH_MAX];
	size_t n;
	FILE *fp;

	assert_true(keten_node_url_ok("tcp://127.0.0.1:1"));
	assert_true(keten_node_url_ok("tls+tcp://h:1"));
	assert_true(keten_node_url_ok("ipc:///x"));
	assert_false(keten_node_url_ok("http://x"));
	assert_false(keten_node_url_ok(NULL));
	assert_int_equal(keten_node_peer_add(Lg, "tcp://127.0.0.1:2", &err), KETEN_OK);
	assert_int_equal(keten_node_peer_add(Lg, "ipc:///b", &err), KETEN_OK);
	assert_int_equal(keten_node_peer_add(Lg, "tcp://127.0.0.1:2", &err), KETEN_OK);
	assert_int_equal(keten_node_peer_add(Lg, "ftp://x", &err), KETEN_EINVAL);
	assert_int_equal(keten_node_peers(Lg, &urls, &n, &err), KETEN_OK);
	assert_int_equal(n, 2);
	assert_string_equal(urls[0], "ipc:///b"); /* in URL order */
	assert_string_equal(urls[1], "tcp://127.0.0.1:2");
	keten_node_peers_free(urls, n);
	assert_int_equal(keten_node_peer_remove(Lg, "ipc:///b", &err), KETEN_OK);
	assert_int_equal(keten_node_peer_remove(Lg, "ipc:///never", &err), KETEN_OK);
	assert_int_equal(keten_node_peers(Lg, &urls, &n, &err), KETEN_OK);
	assert_int_equal(n, 1);
	assert_string_equal(urls[0], "tcp://127.0.0.1:2");
	keten_node_peers_free(urls, n);
	assert_int_equal(keten_node_peer_remove(Lg, "tcp://127.0.0.1:2", &err), KETEN_OK);
	keten_node_peers_free(NULL, 0);

	/* TLS: kept as absolute paths, given names win, "" forgets, a file
	 * that does not resolve changes nothing */
	snprintf(path, sizeof path, "%s/ca.pem", f->base);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_non_null(realpath(path, abs));
	assert_int_equal(keten_node_tls_set(Lg, &(keten_tls_files){.ca = path, .cert = ""}, &err), KETEN_OK);
	assert_int_equal(keten_node_tls(Lg, NULL, &cfg, &err), KETEN_OK);
	assert_string_equal(cfg.ca, abs);
	assert_ptr_equal(cfg.files.ca, cfg.ca);
	assert_null(cfg.files.cert);
	assert_null(cfg.files.key);
	assert_int_equal(keten_node_tls(Lg, &(keten_tls_files){.ca = "/given/ca.pem", .key = "k.pem"}, &cfg, &err),
	                 KETEN_OK);
	assert_string_equal(cfg.files.ca, "/given/ca.pem");
	assert_string_equal(cfg.files.key, "k.pem");
	assert_int_equal(keten_node_tls_set(Lg, &(keten_tls_files){.key = path, .cert = "/no/such/file"}, &err),
	                 KETEN_ENOTFOUND);
	assert_non_null(strstr(err.msg, "cannot read '/no/such/file'"));
	assert_int_equal(keten_node_tls(Lg, NULL, &cfg, &err), KETEN_OK);
	assert_null(cfg.files.key); /* all or nothing */
	assert_int_equal(keten_node_tls_set(Lg, &(keten_tls_files){.ca = ""}, &err), KETEN_OK);
	assert_int_equal(keten_node_tls(Lg, NULL, &cfg, &err), KETEN_OK);
	assert_null(cfg.files.ca);
}

/* --- bounded listeners and pinned keys ----------------------------------------- */

/* A raw TCP connection that completes nng's SP handshake as a req0 peer
 * and then says nothing; -1 when it cannot connect. */
static int sp_hold(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const uint8_t hdr[8] = {0x00, 'S', 'P', 0x00, 0x00, 0x30, 0x00, 0x00};
	uint8_t got[8];
	struct timeval tv = {2, 0};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons((uint16_t)port);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) || write(s, hdr, 8) != 8) {
		if (s >= 0)
			close(s);
		return -1;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (recv(s, got, 8, MSG_WAITALL) != 8) {
		close(s);
		return -1;
	}
	return s;
}

/* Has the server closed connection s (EOF within wait_ms)? */
static bool sp_closed(int s, int wait_ms)
{
	struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
	uint8_t b;
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return recv(s, &b, 1, 0) == 0;
}

static int url_port(const char *url)
{
	const char *c = strrchr(url, ':');
	return c ? atoi(c + 1) : 0;
}

/*
 * The listener's bounds: at most max_conns connections (one more is
 * closed as it arrives), a connection that has not authenticated within
 * handshake_ms is closed, and one idle for idle_ms too; a certified peer
 * whose connection was closed for idling authenticates again on the next
 * round and syncs as ever.
 */
static void test_limits(void **state)
{
	struct fx *f = *state;
	const char *urls[1];
	keten_sync_limits lim;
	keten_node *node;
	keten_peer *p;
	keten_sync_stats st;
	keten_error err = {0};
	int held[6], closed_at_once = 0, closed_later = 0, port;
	bool gone[6];

	keten_sync_limits_default(&lim);
	lim.max_conns = 4;
	lim.handshake_ms = 1500;
	lim.idle_ms = 700;
	snprintf(f->url, sizeof f->url, "tcp://127.0.0.1:%d", free_port());
	urls[0] = f->url;
	port = url_port(f->url);
	assert_int_equal(keten_node_start(f->L[0], urls, 1, &lim, NULL, NULL, NULL, &node, &err), KETEN_OK);
	for (int i = 0; i < 6; i++)
		held[i] = sp_hold(port);
	for (int i = 0; i < 6; i++)
		closed_at_once += gone[i] = held[i] < 0 || sp_closed(held[i], 100);
	print_message("6 held connections with a cap of 4: %d closed at once\n", closed_at_once);
	assert_int_equal(closed_at_once, 2);
	/* the ones under the cap go when they have not authenticated in time */
	for (int i = 0; i < 6; i++) {
		if (!gone[i])
			closed_later += sp_closed(held[i], 2500);
		if (held[i] >= 0)
			close(held[i]);
	}
	assert_int_equal(closed_later, 4);
	assert_true(keten_node_refused(node) >= 6);
	/* a certified peer syncs; idle past idle_ms, its connection is closed,
	 * and the next round authenticates again on a new one */
	assert_int_equal(keten_peer_open(f->L[1], f->url, true, 5000, NULL, &p, &err), KETEN_OK);
	if (keten_peer_sync(p, &st, &err))
		fail_msg("sync: %s", err.msg);
	{
		uint64_t before = keten_node_refused(node);
		usleep(1300 * 1000);
		assert_true(keten_node_refused(node) > before);
	}
	fill(f->L[0], 2);
	{
		int rc = KETEN_EIO;
		for (int tries = 0; tries < 20 && rc; tries++)
			if ((rc = keten_peer_sync(p, &st, &err)))
				usleep(100 * 1000);
		if (rc)
			fail_msg("after the idle close: %s", err.msg);
	}
	assert_int_equal(head_of(f->L[1], keten_ledger_info(f->L[0])->key),
	                 head_of(f->L[0], keten_ledger_info(f->L[0])->key));
	keten_peer_close(p);
	keten_node_stop(node);
}

/* The server key expected at a URL: recorded on first use, kept over
 * later ones, replaced by a pin, forgotten with the peer; a peer pinned to
 * another key than the node's is refused (KETEN_EAUTHOR) and takes
 * nothing. */
static void test_pins(void **state)
{
	struct fx *f = *state;
	const uint8_t *mk = keten_ledger_info(f->L[0])->key, *other = keten_ledger_info(f->L[2])->key;
	const char *urls[1];
	keten_node *node;
	keten_peer *p;
	keten_sync_stats st;
	keten_error err = {0};
	keten_pin_kind kind;
	uint8_t key[32];
	uint64_t head;

	snprintf(f->url, sizeof f->url, "tcp://127.0.0.1:%d", free_port());
	urls[0] = f->url;
	assert_int_equal(keten_node_pin_get(f->L[3], f->url, key, &kind, &err), KETEN_ENOTFOUND);
	assert_int_equal(kind, KETEN_PIN_NONE);
	assert_int_equal(keten_node_start(f->L[0], urls, 1, NULL, NULL, NULL, NULL, &node, &err), KETEN_OK);
	/* first use: the key that answered is recorded */
	assert_int_equal(keten_peer_open(f->L[3], f->url, true, 5000, NULL, &p, &err), KETEN_OK);
	if (keten_peer_sync(p, &st, &err))
		fail_msg("sync: %s", err.msg);
	keten_peer_close(p);
	assert_int_equal(keten_node_pin_get(f->L[3], f->url, key, &kind, &err), KETEN_OK);
	assert_int_equal(kind, KETEN_PIN_FIRST_USE);
	assert_memory_equal(key, mk, 32);
	/* a later first use does not replace it; a pin does */
	assert_int_equal(keten_node_pin_set(f->L[3], f->url, other, true, &err), KETEN_OK);
	assert_int_equal(keten_node_pin_get(f->L[3], f->url, key, &kind, &err), KETEN_OK);
	assert_memory_equal(key, mk, 32);
	assert_int_equal(keten_node_pin_set(f->L[3], f->url, other, false, &err), KETEN_OK);
	assert_int_equal(keten_node_pin_get(f->L[3], f->url, key, &kind, &err), KETEN_OK);
	assert_int_equal(kind, KETEN_PIN_SET);
	assert_memory_equal(key, other, 32);
	assert_int_equal(keten_node_pin_set(f->L[3], "ftp://x", other, false, &err), KETEN_EINVAL);
	/* pinned to another key: refused, nothing taken */
	fill(f->L[0], 1);
	head = head_of(f->L[3], mk);
	assert_int_equal(keten_peer_open(f->L[3], f->url, true, 5000, NULL, &p, &err), KETEN_OK);
	assert_int_equal(keten_peer_sync(p, &st, &err), KETEN_EAUTHOR);
	assert_non_null(strstr(err.msg, "does not hold the key expected"));
	assert_false(keten_peer_key(p, key));
	keten_peer_close(p);
	assert_int_equal(head_of(f->L[3], mk), head);
	/* the peer kept and removed: its key goes with it */
	assert_int_equal(keten_node_peer_add(f->L[3], f->url, &err), KETEN_OK);
	assert_int_equal(keten_node_peer_remove(f->L[3], f->url, &err), KETEN_OK);
	assert_int_equal(keten_node_pin_get(f->L[3], f->url, key, &kind, &err), KETEN_ENOTFOUND);
	/* first use again: it syncs */
	assert_int_equal(keten_peer_open(f->L[3], f->url, true, 5000, NULL, &p, &err), KETEN_OK);
	assert_int_equal(keten_peer_sync(p, &st, &err), KETEN_OK);
	keten_peer_close(p);
	assert_int_equal(head_of(f->L[3], mk), head_of(f->L[0], mk));
	keten_node_stop(node);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pull_figures),
		cmocka_unit_test(test_concurrent_and_restart),
		cmocka_unit_test(test_hostile_sockets),
		cmocka_unit_test(test_node_run),
		cmocka_unit_test(test_node_config),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_pins),
	};
	setenv("KETEN_PWHASH_FAST", "1", 1);
	return cmocka_run_group_tests(tests, setup, teardown);
}
