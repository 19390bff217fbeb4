/*
 * bench_sync.c — `make bench` for sync between nodes, over real nng on
 * tcp://127.0.0.1 in one process (the server is keten_node_start on nng's
 * threads, the client is keten_peer_open + keten_peer_sync, as `keten
 * sync` does).  In one run:
 *
 *   1. one writer home appends N entries (checkpoints of about 300 bytes,
 *      1000 per call), and an empty home pulls them all in one sync
 *      round; entries/s, compared with raw single-core libsodium
 *      crypto_sign_verify_detached sampled just before and after it;
 *      then the same pull with no sockets (keten_sync_serve and the sync
 *      client called in turn), timing the server's and the client's side;
 *   2. the bytes of an in-sync round with 100 feeds, counted on the wire
 *      by a TCP relay between client and server (request and reply,
 *      including nng's framing), and the round trips it took;
 *   3. the same append-and-replicate workload on Hypercore (npm hypercore,
 *      tests/bench/hypercore/bench.js run with node: N blocks of the same
 *      size as the keten bodies appended 1000 per call, replicated to an
 *      empty reader over a TCP loopback socket), as a ratio.
 *
 * Each figure is the median of a few runs, keten and Hypercore taking
 * turns.  It asserts nothing: it prints a table.  When node or Hypercore
 * cannot be used, the Hypercore rows say why and are left out.
 *
 * Environment: KETEN_BENCH_N (entries, default 100000), KETEN_BENCH_REPS
 * (runs, default 3), KETEN_BENCH_DIR (scratch directory, default a new one
 * under $TMPDIR or /tmp, removed at the end), KETEN_BENCH_NODE (node
 * binary, default node), KETEN_BENCH_HYPERCORE (the script, default
 * tests/bench/hypercore/bench.js), KETEN_BENCH_HYPERCORE_SKIP (a reason
 * not to run it, set by run.sh when the npm install failed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keten/keten.h"

#define BENCH_NAME "bench_sync"
#include "bench_util.h"
#include "keten/net.h"
#include "keten/sync.h"

extern char **environ;

#define BODY_CERTIFICATE  1u  /* keten.BodyType.PARTY_CERTIFICATE */
#define BODY_CHECKPOINT   18u /* keten.BodyType.CHECKPOINT */
#define ROLE_MUNICIPALITY 2u
#define ROLE_LEAD         3u
#define BODY_MAX          320u
#define MSG_LEN           300u
#define MAX_REPS          9
#define FEEDS             100 /* feeds in the in-sync round */
#define INSYNC_ROUNDS     5

static char workdir[4096];
static size_t N = 100000;
static int reps = 3;

static void loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double a = 0, b = 0, c = 0;
	if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	else
		snprintf(buf, len, "unknown");
	if (f)
		fclose(f);
}

/* Checkpoint { 4 x FeedHead { author, seq, id } }: about 296 bytes. */
static size_t checkpoint_body(uint8_t *out, uint64_t seq)
{
	uint8_t fh[128], *p = out;
	for (int h = 0; h < 4; h++) {
		uint8_t key[32], id[32], *q = fh;
		randombytes_buf(key, 32);
		randombytes_buf(id, 32);
		q = put_bytes(q, 0x0a, key, 32);
		*q++ = 0x10;
		q = put_varint(q, seq * 4 + (uint64_t)h);
		q = put_bytes(q, 0x1a, id, 32);
		p = put_bytes(p, 0x0a, fh, (size_t)(q - fh));
	}
	return (size_t)(p - out);
}

static void certify(keten_ledger *by, const uint8_t key[32], const char *name, uint32_t role)
{
	keten_error err = {0};
	uint8_t body[128];
	keten_append a = {.body_type = BODY_CERTIFICATE, .body = body};
	a.body_len = certificate_body(body, key, name, role);
	if (keten_ledger_append(by, &a, 1, NULL, &err))
		die("certificate", &err);
}

/* A municipality home that trusts and certifies itself. */
static keten_ledger *make_anchor(const char *dir, const char *name)
{
	keten_ledger *L = make_home(dir, name, "municipality");
	const uint8_t *key = keten_ledger_info(L)->key;
	trust(L, key, "self");
	certify(L, key, name, ROLE_MUNICIPALITY);
	return L;
}

static uint64_t head_of(keten_ledger *L, const uint8_t author[32])
{
	keten_txn *t;
	keten_error err = {0};
	uint64_t seq = 0;
	if (keten_store_read(keten_ledger_store(L), &t, &err))
		die("keten_store_read", &err);
	if (keten_store_head(t, author, &seq, NULL, &err))
		seq = 0;
	keten_txn_end(t);
	return seq;
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;
	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(s);
	return port;
}

/* Serve L on a free loopback port; *url receives it. */
static keten_node *serve(keten_ledger *L, char *url, size_t len)
{
	keten_node *node = NULL;
	keten_error err = {0};
	for (int tries = 0;; tries++) {
		const char *urls[1] = {url};
		snprintf(url, len, "tcp://127.0.0.1:%d", free_port());
		if (keten_node_start(L, urls, 1, NULL, NULL, NULL, NULL, &node, &err) == 0)
			return node;
		if (tries == 5)
			die("keten_node_start", &err);
	}
}

/* A TCP relay that counts the bytes each way -------------------------------- */

struct relay {
	int lfd, port, to_port, stop[2];
	uint64_t up, down; /* client to server, server to client (atomic) */
	pthread_t th;
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Forward between one accepted client and the server until either ends. */
static void relay_pair(struct relay *r, int cfd)
{
	static uint8_t buf[1 << 16];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int sfd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons((uint16_t)r->to_port);
	if (sfd < 0 || connect(sfd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (sfd >= 0)
			close(sfd);
		return;
	}
	for (;;) {
		struct pollfd pf[3] = {{cfd, POLLIN, 0}, {sfd, POLLIN, 0}, {r->stop[0], POLLIN, 0}};
		if (poll(pf, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[2].revents)
			break;
		if (pf[0].revents) {
			ssize_t n = read(cfd, buf, sizeof buf);
			if (n <= 0)
				break;
			__atomic_add_fetch(&r->up, (uint64_t)n, __ATOMIC_SEQ_CST);
			if (write_all(sfd, buf, (size_t)n))
				break;
		}
		if (pf[1].revents) {
			ssize_t n = read(sfd, buf, sizeof buf);
			if (n <= 0)
				break;
			__atomic_add_fetch(&r->down, (uint64_t)n, __ATOMIC_SEQ_CST);
			if (write_all(cfd, buf, (size_t)n))
				break;
		}
	}
	close(sfd);
}

static void *relay_thread(void *arg)
{
	struct relay *r = arg;
	for (;;) {
		struct pollfd pf[2] = {{r->lfd, POLLIN, 0}, {r->stop[0], POLLIN, 0}};
		int cfd;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		if ((cfd = accept(r->lfd, NULL, NULL)) < 0)
			continue;
		relay_pair(r, cfd);
		close(cfd);
	}
	return NULL;
}

static void relay_start(struct relay *r, int to_port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	memset(r, 0, sizeof *r);
	r->to_port = to_port;
	r->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(r->lfd, 4) != 0 ||
	    getsockname(r->lfd, (struct sockaddr *)&a, &al) != 0 || pipe(r->stop) != 0)
		die("relay socket", NULL);
	r->port = ntohs(a.sin_port);
	if (pthread_create(&r->th, NULL, relay_thread, r) != 0)
		die("relay thread", NULL);
}

static void relay_stop(struct relay *r)
{
	if (write(r->stop[1], "x", 1) != 1)
		die("relay stop", NULL);
	pthread_join(r->th, NULL);
	close(r->lfd);
	close(r->stop[0]);
	close(r->stop[1]);
}

/* The table ---------------------------------------------------------------- */

enum goal_kind { GOAL_NONE, GOAL_RATIO_AT_LEAST, GOAL_FIGURE_AT_MOST };

struct row {
	char name[64];
	double figure;
	const char *unit;
	double ratio; /* < 0: none */
	const char *ratio_of;
	enum goal_kind goal_kind;
	double goal;
	int skipped; /* no figure */
	char note[160];
};

static struct row rows[24];
static int nrows;

static struct row *add_row(const char *name, double figure, const char *unit)
{
	struct row *r = &rows[nrows++];
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "%s", name);
	r->figure = figure;
	r->unit = unit;
	r->ratio = -1;
	return r;
}

static void print_table(void)
{
	int missed = 0;
	printf("\n%-44s %12s  %-10s %-18s %-9s %s\n", "name", "figure", "unit", "ratio", "goal", "");
	printf("%-44s %12s  %-10s %-18s %-9s %s\n", "----", "------", "----", "-----", "----", "");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		char fig[32], ratio[40] = "", goal[24] = "", verdict[64] = "";
		if (r->skipped)
			snprintf(fig, sizeof fig, "-");
		else if (r->figure >= 100)
			snprintf(fig, sizeof fig, "%.0f", r->figure);
		else
			snprintf(fig, sizeof fig, "%.2f", r->figure);
		if (r->ratio >= 0)
			snprintf(ratio, sizeof ratio, "%.2fx %s", r->ratio, r->ratio_of);
		if (r->goal_kind == GOAL_RATIO_AT_LEAST) {
			snprintf(goal, sizeof goal, ">= %.2gx", r->goal);
			if (r->ratio >= r->goal) {
				snprintf(verdict, sizeof verdict, "met");
			} else {
				double pct = 100.0 * (r->goal - r->ratio) / r->goal;
				snprintf(verdict, sizeof verdict,
				         pct < 1 ? "MISSED by %.2f%% (%.3fx short)" : "MISSED by %.0f%% (%.2fx short)",
				         pct, r->goal - r->ratio);
				missed++;
			}
		} else if (r->goal_kind == GOAL_FIGURE_AT_MOST) {
			snprintf(goal, sizeof goal, "<= %.0f", r->goal);
			if (r->figure <= r->goal) {
				snprintf(verdict, sizeof verdict, "met");
			} else {
				snprintf(verdict, sizeof verdict, "MISSED by %.0f%%",
				         100.0 * (r->figure - r->goal) / r->goal);
				missed++;
			}
		}
		printf("%-44s %12s  %-10s %-18s %-9s %s%s%s\n", r->name, fig, r->unit, ratio, goal, verdict,
		       r->note[0] ? (verdict[0] ? "; " : "") : "", r->note);
	}
	printf("\nfigure: median over the runs; a ratio to raw verify is the median of each run's ratio to\n"
	       "the raw rate sampled just before and after it (single core); the ratio to Hypercore is\n"
	       "the median of each run's ratio.  %d goal%s missed.\n",
	       missed, missed == 1 ? "" : "s");
}

/* Raw libsodium -------------------------------------------------------------- */

static uint8_t pk_raw[32], sk_raw[64];
static uint8_t msgs[256][MSG_LEN], sigs[256][64];
static double verify_s[128];
static int n_verify_s;

static double verify_now(void)
{
	size_t ok = 0, n = 3000;
	double t = now_s(), r;
	for (size_t i = 0; i < n; i++)
		ok += crypto_sign_verify_detached(sigs[i & 255], msgs[i & 255], MSG_LEN, pk_raw) == 0;
	r = (double)n / (now_s() - t);
	if (ok != n)
		die("raw verify", NULL);
	if (n_verify_s < 128)
		verify_s[n_verify_s++] = r;
	return r;
}

/* Keten: append, then sync to an empty home ---------------------------------- */

static uint8_t *bodies;
static size_t *body_len;

static double memory_sync(keten_ledger *W, keten_ledger *R, double *srv, double *cli, size_t *entries);

struct keten_run {
	double append_s, sync_s, raw_verify;
	size_t entries, requests, bytes;
	double mem_s, mem_srv, mem_cli, mem_raw;
	size_t mem_entries;
};

static void keten_run(int rep, struct keten_run *out)
{
	char wdir[4400], rdir[4400], mdir[4400], url[64];
	keten_ledger *W, *R, *M;
	keten_append *batch = calloc(1000, sizeof *batch);
	keten_node *node;
	keten_peer *p;
	keten_sync_stats st = {0};
	keten_error err = {0};
	const uint8_t *wkey;
	double t, v0, v1;

	snprintf(wdir, sizeof wdir, "%s/writer%d", workdir, rep);
	snprintf(rdir, sizeof rdir, "%s/reader%d", workdir, rep);
	snprintf(mdir, sizeof mdir, "%s/memory%d", workdir, rep);
	W = make_anchor(wdir, "Bench Gemeente");
	wkey = keten_ledger_info(W)->key;
	R = make_home(rdir, "Bench Aanbieder", "lead-provider");
	trust(R, wkey, "Bench Gemeente");
	certify(W, keten_ledger_info(R)->key, "Bench Aanbieder", ROLE_LEAD);
	M = make_home(mdir, "Bench Aanbieder", "lead-provider");
	trust(M, wkey, "Bench Gemeente");
	certify(W, keten_ledger_info(M)->key, "Bench Aanbieder", ROLE_LEAD);

	t = now_s();
	for (size_t i = 0; i < N; i += 1000) {
		size_t k = N - i < 1000 ? N - i : 1000;
		for (size_t j = 0; j < k; j++)
			batch[j] = (keten_append){.body_type = BODY_CHECKPOINT,
			                          .body = bodies + (i + j) * BODY_MAX,
			                          .body_len = body_len[i + j]};
		if (keten_ledger_append(W, batch, k, NULL, &err))
			die("keten_ledger_append", &err);
	}
	out->append_s = now_s() - t;
	free(batch);

	node = serve(W, url, sizeof url);
	if (keten_peer_open(R, url, true, 60000, NULL, &p, &err))
		die("keten_peer_open", &err);
	v0 = verify_now();
	t = now_s();
	if (keten_peer_sync(p, &st, &err))
		die("keten_peer_sync", &err);
	out->sync_s = now_s() - t;
	v1 = verify_now();
	out->raw_verify = (v0 + v1) / 2;
	out->entries = st.entries;
	out->requests = st.requests;
	out->bytes = st.bytes_in + st.bytes_out;
	if (head_of(R, wkey) != head_of(W, wkey) || st.entries < N || st.dropped || st.rejected || st.pending ||
	    st.stubs)
		fprintf(stderr,
		        "bench_sync: sync run %d: reader at seq %llu of %llu; %zu entries, %zu stubs, "
		        "%zu pending, %zu rejected, %zu dropped\n",
		        rep + 1, (unsigned long long)head_of(R, wkey), (unsigned long long)head_of(W, wkey), st.entries,
		        st.stubs, st.pending, st.rejected, st.dropped);
	keten_peer_close(p);
	keten_node_stop(node);

	/* the same pull in memory, into a third home */
	v0 = verify_now();
	out->mem_s = memory_sync(W, M, &out->mem_srv, &out->mem_cli, &out->mem_entries);
	out->mem_raw = (v0 + verify_now()) / 2;
	if (head_of(M, wkey) != head_of(W, wkey))
		fprintf(stderr, "bench_sync: memory sync run %d: reader at seq %llu of %llu\n", rep + 1,
		        (unsigned long long)head_of(M, wkey), (unsigned long long)head_of(W, wkey));
	keten_ledger_close(M);
	keten_ledger_close(R);
	keten_ledger_close(W);
	rm_rf(wdir);
	rm_rf(rdir);
	rm_rf(mdir);
}

/*
 * The same pull with no sockets: keten_sync_serve and the sync client
 * called in turn in this thread, timing each side, to show where the time
 * of the loopback sync goes.  *srv and *cli receive the seconds of each.
 */
static double memory_sync(keten_ledger *W, keten_ledger *R, double *srv, double *cli, size_t *entries)
{
	keten_sync_limits lim;
	keten_sync_session s;
	keten_sync_client *c;
	keten_error err = {0};
	uint8_t *req = NULL, *rep = NULL;
	size_t req_len = 0, rep_len = 0;
	double t0 = now_s(), t;

	*srv = *cli = 0;
	keten_sync_limits_default(&lim);
	lim.rate_per_s = 1000000;
	lim.burst = 1000000;
	keten_sync_session_init(&s, &lim, (int64_t)(t0 * 1000));
	if (keten_sync_client_new(R, &c, &err) || keten_sync_client_begin(c, &req, &req_len, &err))
		die("sync client", &err);
	while (req) {
		uint8_t *next = NULL;
		size_t next_len = 0;
		keten_error note = {0};
		t = now_s();
		if (keten_sync_serve(W, &s, &lim, (int64_t)(t * 1000), req, req_len, &rep, &rep_len, &note))
			die("keten_sync_serve", &note);
		*srv += now_s() - t;
		t = now_s();
		if (keten_sync_client_reply(c, rep, rep_len, &next, &next_len, &err))
			die("keten_sync_client_reply", &err);
		*cli += now_s() - t;
		free(req);
		free(rep);
		rep = NULL;
		req = next;
		req_len = next_len;
	}
	*entries = keten_sync_client_stats(c)->entries;
	keten_sync_client_free(c);
	return now_s() - t0;
}

/* Keten: an in-sync round with FEEDS feeds ------------------------------------ */

struct insync {
	size_t wire, msg_out, msg_in, requests, feeds;
	double ms;
	int same;
};

static void insync_rounds(struct insync *res, int rounds)
{
	char sdir[4400], cdir[4400], url[64], rurl[64];
	keten_ledger *S, *C;
	keten_node *node;
	keten_peer *p;
	keten_sync_stats st = {0};
	keten_error err = {0};
	keten_entry *e = calloc(FEEDS, sizeof *e);
	keten_blob *b = calloc(FEEDS, sizeof *b);
	keten_append *certs = calloc(FEEDS, sizeof *certs);
	uint8_t(*cbody)[128] = calloc(FEEDS, sizeof *cbody);
	keten_ingest_stats ist;
	struct relay rl;
	int port;

	snprintf(sdir, sizeof sdir, "%s/feeds-server", workdir);
	snprintf(cdir, sizeof cdir, "%s/feeds-client", workdir);
	S = make_anchor(sdir, "Bench Gemeente");
	C = make_home(cdir, "Bench Aanbieder", "lead-provider");
	trust(C, keten_ledger_info(S)->key, "Bench Gemeente");
	certify(S, keten_ledger_info(C)->key, "Bench Aanbieder", ROLE_LEAD);
	/* FEEDS - 1 more authors, certified by S, one checkpoint each */
	for (int i = 0; i < FEEDS - 1; i++) {
		uint8_t pk[32], sk[64];
		keten_keypair kp = {.sk = sk};
		keten_entry_draft d = {.seq = 1,
		                       .timestamp_ms = 1764000000000,
		                       .body_type = BODY_CHECKPOINT,
		                       .body = bodies + (size_t)i * BODY_MAX,
		                       .body_len = body_len[i]};
		char name[32];
		crypto_sign_keypair(pk, sk);
		memcpy(kp.pk, pk, 32);
		snprintf(name, sizeof name, "Bench Gemeente %d", i + 2);
		certs[i] = (keten_append){.body_type = BODY_CERTIFICATE,
		                          .body = cbody[i],
		                          .body_len = certificate_body(cbody[i], pk, name, ROLE_MUNICIPALITY)};
		if (keten_entry_sign(&kp, &d, &e[i], &err))
			die("keten_entry_sign", &err);
		b[i] = (keten_blob){e[i].raw, e[i].raw_len};
		sodium_memzero(sk, sizeof sk);
	}
	if (keten_ledger_append(S, certs, FEEDS - 1, NULL, &err))
		die("certificates", &err);
	if (keten_ledger_ingest(S, b, FEEDS - 1, true, &ist, &err))
		die("keten_ledger_ingest", &err);
	if (ist.applied != FEEDS - 1)
		fprintf(stderr, "bench_sync: feeds: %zu applied, %zu pending, %zu rejected of %d\n", ist.applied,
		        ist.pending, ist.rejected, FEEDS - 1);
	for (int i = 0; i < FEEDS - 1; i++)
		keten_entry_release(&e[i]);
	free(e);
	free(b);
	free(certs);
	free(cbody);

	node = serve(S, url, sizeof url);
	port = atoi(strrchr(url, ':') + 1);
	relay_start(&rl, port);
	snprintf(rurl, sizeof rurl, "tcp://127.0.0.1:%d", rl.port);
	if (keten_peer_open(C, rurl, true, 20000, NULL, &p, &err))
		die("keten_peer_open", &err);
	/* the first round authenticates and fetches everything */
	if (keten_peer_sync(p, &st, &err))
		die("first sync", &err);
	res->feeds = st.feeds;
	for (int i = 0; i < rounds; i++) {
		uint64_t up = __atomic_load_n(&rl.up, __ATOMIC_SEQ_CST);
		uint64_t down = __atomic_load_n(&rl.down, __ATOMIC_SEQ_CST);
		double t = now_s();
		if (keten_peer_sync(p, &st, &err))
			die("in-sync round", &err);
		res[i].ms = (now_s() - t) * 1000;
		/* the reply has reached the client, so the relay has counted it */
		res[i].wire = (size_t)(__atomic_load_n(&rl.up, __ATOMIC_SEQ_CST) - up +
		                       __atomic_load_n(&rl.down, __ATOMIC_SEQ_CST) - down);
		res[i].msg_out = st.bytes_out;
		res[i].msg_in = st.bytes_in;
		res[i].requests = st.requests;
		res[i].same = st.same;
		res[i].feeds = res->feeds;
	}
	keten_peer_close(p);
	keten_node_stop(node);
	relay_stop(&rl);
	keten_ledger_close(C);
	keten_ledger_close(S);
	rm_rf(sdir);
	rm_rf(cdir);
}

/* Hypercore: the same workload in node ---------------------------------------- */

static const char *node_bin = "node";
static const char *hc_script = "tests/bench/hypercore/bench.js";
static char hc_skip[512];

struct hc_run {
	double append_s, replicate_s;
	size_t length, wire;
};

static char hc_version[32], hc_node[32]; /* as bench.js reports them */

/* One run of bench.js; 0 when it printed its RESULT line. */
static int hypercore_run(int rep, size_t block, struct hc_run *out)
{
	char dir[4400], n_s[32], size_s[32], buf[4096];
	char *argv[] = {(char *)node_bin, (char *)hc_script, n_s, size_s, dir, NULL};
	posix_spawn_file_actions_t fa;
	int fds[2], status;
	size_t used = 0;
	pid_t pid;
	const char *res;

	snprintf(dir, sizeof dir, "%s/hypercore%d", workdir, rep);
	snprintf(n_s, sizeof n_s, "%zu", N);
	snprintf(size_s, sizeof size_s, "%zu", block);
	if (pipe(fds) != 0)
		die("pipe", NULL);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawnp(&pid, node_bin, &fa, NULL, argv, environ) != 0) {
		snprintf(hc_skip, sizeof hc_skip, "cannot run '%s': %s", node_bin, strerror(errno));
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], buf + used, sizeof buf - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == sizeof buf - 1)
			used = 0; /* keep reading; RESULT is the last line */
	}
	buf[used] = 0;
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rm_rf(dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !(res = strstr(buf, "RESULT ")) ||
	    sscanf(res, "RESULT append_s=%lf replicate_s=%lf length=%zu wire_bytes=%zu hypercore=%31s node=%31s",
	           &out->append_s, &out->replicate_s, &out->length, &out->wire, hc_version, hc_node) != 6) {
		snprintf(hc_skip, sizeof hc_skip, "'%s %s' failed (exit %d; its message is above)", node_bin, hc_script,
		         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return 0;
}

int main(void)
{
	const char *e;
	char load0[64], load1[64];
	double app_r[MAX_REPS], sync_r[MAX_REPS], sync_q[MAX_REPS], hca_r[MAX_REPS], hcr_r[MAX_REPS];
	double hc_q[MAX_REPS], hcw_r[MAX_REPS], kw_r[MAX_REPS], req_r[MAX_REPS];
	double mem_r[MAX_REPS], mem_q[MAX_REPS], msrv_r[MAX_REPS], mcli_r[MAX_REPS];
	double ins_wire[INSYNC_ROUNDS], ins_ms[INSYNC_ROUNDS], ins_msg[INSYNC_ROUNDS], ins_req[INSYNC_ROUNDS];
	struct insync ins[INSYNC_ROUNDS];
	size_t avg_body = 0, entry_len = 0;
	int hc_ok = 1, hc_n = 0, all_same = 1;
	double t_all = now_s();
	struct row *r;

	if ((e = getenv("KETEN_BENCH_N")) && atol(e) >= 1000)
		N = (size_t)atol(e);
	if ((e = getenv("KETEN_BENCH_REPS")) && atoi(e) >= 1)
		reps = atoi(e) > MAX_REPS ? MAX_REPS : atoi(e);
	if ((e = getenv("KETEN_BENCH_NODE")) && *e)
		node_bin = e;
	if ((e = getenv("KETEN_BENCH_HYPERCORE")) && *e)
		hc_script = e;
	if ((e = getenv("KETEN_BENCH_HYPERCORE_SKIP")) && *e) {
		snprintf(hc_skip, sizeof hc_skip, "%s", e);
		hc_ok = 0;
	} else if (access(hc_script, R_OK) != 0) {
		snprintf(hc_skip, sizeof hc_skip, "no script at '%s'", hc_script);
		hc_ok = 0;
	} else {
		char mod[4200];
		const char *slash = strrchr(hc_script, '/');
		snprintf(mod, sizeof mod, "%.*s/node_modules/hypercore/package.json",
		         slash ? (int)(slash - hc_script) : 1, slash ? hc_script : ".");
		if (access(mod, R_OK) != 0) {
			snprintf(hc_skip, sizeof hc_skip, "hypercore is not installed (no %s; run.sh installs it)",
			         mod);
			hc_ok = 0;
		}
	}
	if ((e = getenv("KETEN_BENCH_DIR")) && *e) {
		snprintf(workdir, sizeof workdir, "%s/sync", e);
		mkdir(e, 0700);
		mkdir(workdir, 0700);
	} else {
		snprintf(workdir, sizeof workdir, "%s/keten-bench-sync.XXXXXX",
		         getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(workdir)) {
			perror("bench_sync: mkdtemp");
			return 73;
		}
	}
	if (keten_init_crypto() != 0)
		die("sodium_init", NULL);
	loadavg(load0, sizeof load0);
	printf("bench_sync: N=%zu, median of %d runs, libsodium %s, scratch %s, load %s\n", N, reps,
	       sodium_version_string(), workdir, load0);
	fflush(stdout);

	crypto_sign_keypair(pk_raw, sk_raw);
	for (int i = 0; i < 256; i++) {
		randombytes_buf(msgs[i], MSG_LEN);
		crypto_sign_detached(sigs[i], NULL, msgs[i], MSG_LEN, sk_raw);
	}
	for (int i = 0; i < 3; i++)
		verify_now();
	add_row("raw crypto_sign_verify_detached, 300 B", 0, "verify/s");

	bodies = malloc(N * BODY_MAX);
	body_len = malloc(N * sizeof *body_len);
	if (!bodies || !body_len)
		die("out of memory", NULL);
	for (size_t i = 0; i < N; i++)
		avg_body += body_len[i] = checkpoint_body(bodies + i * BODY_MAX, i + 1);
	avg_body /= N;
	{
		uint8_t pk[32], sk[64];
		keten_keypair kp = {.sk = sk};
		keten_entry_draft d = {.seq = 2,
		                       .prev = pk,
		                       .timestamp_ms = 1764000000000,
		                       .body_type = BODY_CHECKPOINT,
		                       .body = bodies,
		                       .body_len = body_len[0]};
		keten_entry en;
		keten_error err = {0};
		crypto_sign_keypair(pk, sk);
		memcpy(kp.pk, pk, 32);
		if (keten_entry_sign(&kp, &d, &en, &err))
			die("keten_entry_sign", &err);
		entry_len = en.raw_len;
		keten_entry_release(&en);
	}
	printf("workload: %zu entries by one writer, 1000 per append call; keten bodies are checkpoints of "
	       "%zu bytes on average (signed entries about %zu bytes); Hypercore blocks are %zu random "
	       "bytes\n",
	       N, avg_body, entry_len, avg_body);
	if (!hc_ok)
		printf("hypercore: skipped: %s\n", hc_skip);
	fflush(stdout);

	for (int i = 0; i < reps; i++) {
		struct keten_run k = {0};
		struct hc_run h = {0};
		keten_run(i, &k);
		app_r[i] = (double)N / k.append_s;
		sync_r[i] = (double)k.entries / k.sync_s;
		sync_q[i] = sync_r[i] / k.raw_verify;
		kw_r[i] = (double)k.bytes / (double)k.entries;
		req_r[i] = (double)k.requests;
		printf("  run %d: keten append %.0f entries/s; sync %zu entries in %.2f s = %.0f entries/s = "
		       "%.2fx raw verify %.0f/s (%zu round trips, %.1f MB)\n",
		       i + 1, app_r[i], k.entries, k.sync_s, sync_r[i], sync_q[i], k.raw_verify, k.requests,
		       k.bytes / 1e6);
		mem_r[i] = (double)k.mem_entries / k.mem_s;
		mem_q[i] = mem_r[i] / k.mem_raw;
		msrv_r[i] = k.mem_srv;
		mcli_r[i] = k.mem_cli;
		printf("  run %d: the same pull in memory: %.2f s = %.0f entries/s = %.2fx raw verify (server "
		       "%.2f s, client %.2f s)\n",
		       i + 1, k.mem_s, mem_r[i], mem_q[i], k.mem_srv, k.mem_cli);
		fflush(stdout);
		if (hc_ok) {
			if (hypercore_run(i, avg_body, &h) == 0 && h.length == N) {
				hca_r[hc_n] = (double)N / h.append_s;
				hcr_r[hc_n] = (double)N / h.replicate_s;
				hcw_r[hc_n] = (double)h.wire / (double)N;
				hc_q[hc_n] = sync_r[i] / hcr_r[hc_n];
				printf("  run %d: hypercore append %.0f blocks/s; replicate %zu blocks in %.2f s = "
				       "%.0f blocks/s (%.1f MB on the socket); keten/hypercore %.1fx\n",
				       i + 1, hca_r[hc_n], h.length, h.replicate_s, hcr_r[hc_n], h.wire / 1e6,
				       hc_q[hc_n]);
				hc_n++;
			} else {
				hc_ok = 0;
				printf("hypercore: skipped: %s\n", hc_skip);
			}
			fflush(stdout);
		}
	}

	insync_rounds(ins, INSYNC_ROUNDS);
	for (int i = 0; i < INSYNC_ROUNDS; i++) {
		ins_wire[i] = (double)ins[i].wire;
		ins_ms[i] = ins[i].ms;
		ins_msg[i] = (double)(ins[i].msg_out + ins[i].msg_in);
		ins_req[i] = (double)ins[i].requests;
		all_same &= ins[i].same;
	}
	printf("  in-sync rounds with %zu feeds: %zu + %zu message bytes, %zu bytes on the wire, %zu round "
	       "trip(s), %s\n",
	       ins[0].feeds, ins[0].msg_out, ins[0].msg_in, ins[0].wire, ins[0].requests,
	       all_same ? "heads unchanged" : "heads CHANGED");

	r = add_row("keten append 1000 per call (N entries)", median(app_r, reps), "entries/s");
	snprintf(r->note, sizeof r->note, "the writer's side of the workload");
	r = add_row("sync N entries to an empty node, tcp", median(sync_r, reps), "entries/s");
	r->ratio = median(sync_q, reps);
	r->ratio_of = "raw verify";
	r->goal_kind = GOAL_RATIO_AT_LEAST;
	r->goal = 5;
	snprintf(r->note, sizeof r->note, "%.0f round trips, %.0f B per entry of messages", median(req_r, reps),
	         median(kw_r, reps));
	r = add_row("  the same pull in memory (no sockets)", median(mem_r, reps), "entries/s");
	r->ratio = median(mem_q, reps);
	r->ratio_of = "raw verify";
	snprintf(r->note, sizeof r->note, "server replies %.2f s, client ingest %.2f s", median(msrv_r, reps),
	         median(mcli_r, reps));
	r = add_row("in-sync round, 100 feeds: bytes on the wire", median(ins_wire, INSYNC_ROUNDS), "bytes");
	r->goal_kind = GOAL_FIGURE_AT_MOST;
	r->goal = 512;
	snprintf(r->note, sizeof r->note,
	         "request + reply incl. nng framing; %.0f B of messages; "
	         "%.0f round trip",
	         median(ins_msg, INSYNC_ROUNDS), median(ins_req, INSYNC_ROUNDS));
	r = add_row("in-sync round, 100 feeds: time", median(ins_ms, INSYNC_ROUNDS), "ms");
	snprintf(r->note, sizeof r->note, "median of %d rounds", INSYNC_ROUNDS);
	if (hc_n > 0) {
		r = add_row("hypercore append 1000 per call", median(hca_r, hc_n), "blocks/s");
		r = add_row("hypercore replicate N, tcp", median(hcr_r, hc_n), "blocks/s");
		snprintf(r->note, sizeof r->note, "%.0f B per block on the socket (Noise-encrypted)",
		         median(hcw_r, hc_n));
		r = add_row("keten sync / hypercore replicate", median(sync_r, reps), "entries/s");
		r->ratio = median(hc_q, hc_n);
		r->ratio_of = "hypercore";
		r->goal_kind = GOAL_RATIO_AT_LEAST;
		r->goal = 10;
		snprintf(r->note, sizeof r->note, "hypercore %s under node %s, %d run(s)", hc_version, hc_node, hc_n);
	} else {
		r = add_row("keten sync / hypercore replicate", 0, "");
		r->skipped = 1;
		snprintf(r->note, sizeof r->note, "skipped: %s", hc_skip);
	}
	rows[0].figure = median(verify_s, n_verify_s);
	snprintf(rows[0].note, sizeof rows[0].note, "median of %d samples taken around the runs", n_verify_s);
	print_table();
	loadavg(load1, sizeof load1);
	printf("load average: %s at the start, %s at the end\n", load0, load1);
	free(bodies);
	free(body_len);
	rm_rf(workdir); /* made here, or our own subdirectory of KETEN_BENCH_DIR */
	printf("bench_sync took %.0f s\n", now_s() - t_all);
	return 0;
}
