/*
 * test_sync_net.c — ledger/net.c over real nng on tcp://127.0.0.1, in one
 * process: a node serving a feed of N entries (KETEN_SYNC_NET_N, default
 * 20000) pulled by a peer, timed against raw libsodium verify of as many
 * signatures (received runs are verified by hash links and one signature);
 * an in-sync round's bytes on the wire; three peers pulling at once (the
 * server's contexts and the ledger lock); a server restarted on the same
 * port (the peer authenticates again on the new connection); and hostile
 * raw sockets (garbage until the pipe is dropped, a message over the size
 * limit) while a certified peer keeps syncing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>

#include "keten/keten.h"
#include "keten/net.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pull_figures),
		cmocka_unit_test(test_concurrent_and_restart),
		cmocka_unit_test(test_hostile_sockets),
	};
	setenv("KETEN_PWHASH_FAST", "1", 1);
	return cmocka_run_group_tests(tests, setup, teardown);
}
