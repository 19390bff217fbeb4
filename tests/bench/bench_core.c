/*
 * bench_core.c — `make bench` for the ledger core: raw libsodium sign and
 * verify rates, then what keten makes of them in one run: N signed entries
 * appended by one certified home in batches, the same entries exported
 * from the store and ingested (imported) into a second home, `keten verify`
 * on one and on two cores, and a single durable append as a user makes it
 * (library call and the full `keten party certify`).  Each figure is the
 * median of a few repetitions; the table shows its ratio to the raw rate
 * and the goal.  It asserts nothing: it prints figures.
 *
 * Environment: KETEN_BENCH_KETEN (the keten binary, default build/keten),
 * KETEN_BENCH_DIR (scratch directory, default a new one under $TMPDIR or
 * /tmp, removed at the end), KETEN_BENCH_N (entries, default 100000),
 * KETEN_BENCH_BATCH (entries per append call, default 1000),
 * KETEN_BENCH_REPS (repetitions, default 3), KETEN_BENCH_ONLY=append|import
 * (stop after that part: for `perf record`), KETEN_BENCH_KEEP=1 (keep the
 * appended home, e.g. for `mdb_stat -a`).
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keten/keten.h"

#define BENCH_NAME "bench_core"
#include "bench_util.h"

extern char **environ;

#define BODY_CHECKPOINT  18u /* keten.BodyType.CHECKPOINT */
#define BODY_CERTIFICATE 1u  /* keten.BodyType.PARTY_CERTIFICATE */
#define MSG_LEN          300u
#define MAX_REPS         9

static const char *keten_bin = "build/keten";
static char workdir[4096];
static int made_workdir; /* remove it at the end */
static size_t N = 100000;
static size_t BATCH = 1000; /* entries per keten_ledger_append call */
static int reps = 3;
static const char *only = ""; /* KETEN_BENCH_ONLY */

/* CPU seconds (user + system) of this process so far. */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		ru.ru_stime.tv_usec / 1e6;
}

/* Checkpoint { 3 x FeedHead { author, seq, id }, root }: about 250 bytes. */
static size_t checkpoint_body(uint8_t *out, uint64_t seq)
{
	uint8_t fh[128], *p = out;
	for (int h = 0; h < 3; h++) {
		uint8_t key[32], id[32], *q = fh;
		randombytes_buf(key, 32);
		randombytes_buf(id, 32);
		q = put_bytes(q, 0x0a, key, 32);
		*q++ = 0x10;
		q = put_varint(q, seq * 3 + (uint64_t)h);
		q = put_bytes(q, 0x1a, id, 32);
		p = put_bytes(p, 0x0a, fh, (size_t)(q - fh));
	}
	{
		uint8_t root[32];
		keten_hash(root, out, (size_t)(p - out));
		p = put_bytes(p, 0x12, root, 32);
	}
	return (size_t)(p - out);
}

/* Run keten with argv; the wall time in seconds, or < 0 when it failed.
 * *cpu (may be NULL) receives the child's CPU seconds (user + system). */
static double run_keten(char *const argv[], double *cpu)
{
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	pid_t pid;
	int status;
	double t0;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	t0 = now_s();
	if (posix_spawn(&pid, keten_bin, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		fprintf(stderr, "bench_core: cannot run '%s': %s\n", keten_bin, strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (wait4(pid, &status, 0, &ru) < 0)
		return -1;
	t0 = now_s() - t0;
	if (cpu)
		*cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
			ru.ru_stime.tv_usec / 1e6;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_core: '%s %s' exited %d\n", argv[3], argv[4],
		        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return t0;
}

/* The table ---------------------------------------------------------------- */

struct row {
	char name[64];
	double figure;
	const char *unit;
	double ratio; /* < 0: none */
	const char *ratio_of;
	double goal; /* <= 0: none */
	char note[96];
};

static struct row rows[32];
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
	printf("\n%-40s %12s  %-10s %-16s %-8s %s\n", "name", "figure", "unit", "ratio", "goal", "");
	printf("%-40s %12s  %-10s %-16s %-8s %s\n", "----", "------", "----", "-----", "----", "");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		char fig[32], ratio[32] = "", goal[16] = "", verdict[64] = "";
		if (r->figure >= 100)
			snprintf(fig, sizeof fig, "%.0f", r->figure);
		else
			snprintf(fig, sizeof fig, "%.2f", r->figure);
		if (r->ratio >= 0)
			snprintf(ratio, sizeof ratio, "%.2fx %s", r->ratio, r->ratio_of);
		if (r->goal > 0) {
			snprintf(goal, sizeof goal, ">= %.2fx", r->goal);
			if (r->ratio >= r->goal)
				snprintf(verdict, sizeof verdict, "met");
			else {
				snprintf(verdict, sizeof verdict, "MISSED by %.0f%% (%.2fx short)",
				         100.0 * (r->goal - r->ratio) / r->goal, r->goal - r->ratio);
				missed++;
			}
		}
		printf("%-40s %12s  %-10s %-16s %-8s %s%s%s\n", r->name, fig, r->unit, ratio, goal, verdict,
		       r->note[0] ? (verdict[0] ? "; " : "") : "", r->note);
	}
	printf("\nfigure: median over the runs; ratio: median of each run's ratio to the raw rate sampled\n"
	       "just before and after it (single core).  %d goal%s missed.\n",
	       missed, missed == 1 ? "" : "s");
}

/* Raw libsodium -------------------------------------------------------------- */

static uint8_t pk_raw[32], sk_raw[64];
static uint8_t msgs[256][MSG_LEN], sigs[256][64];

static double raw_sign_rate(size_t n)
{
	uint8_t sig[64];
	double t = now_s();
	for (size_t i = 0; i < n; i++)
		crypto_sign_detached(sig, NULL, msgs[i & 255], MSG_LEN, sk_raw);
	return (double)n / (now_s() - t);
}

static double raw_verify_rate(size_t n)
{
	size_t ok = 0;
	double t = now_s();
	for (size_t i = 0; i < n; i++)
		ok += crypto_sign_verify_detached(sigs[i & 255], msgs[i & 255], MSG_LEN, pk_raw) == 0;
	t = now_s() - t;
	if (ok != n)
		die("raw verify", NULL);
	return (double)n / t;
}

static double blake2b_rate(size_t n)
{
	uint8_t h[32];
	double t = now_s();
	for (size_t i = 0; i < n; i++)
		keten_hash(h, msgs[i & 255], MSG_LEN);
	return (double)n / (now_s() - t);
}

/*
 * Raw rates measured next to each keten run (other work on the machine
 * comes and goes): each run's ratio is taken against the raw rate measured
 * just before and just after it, and every sample also feeds the raw rows.
 */
static double sign_s[128], verify_s[128];
static int n_sign_s, n_verify_s;

static double sign_now(void)
{
	double r = raw_sign_rate(8000);
	if (n_sign_s < 128)
		sign_s[n_sign_s++] = r;
	return r;
}

static double verify_now(void)
{
	double r = raw_verify_rate(3000);
	if (n_verify_s < 128)
		verify_s[n_verify_s++] = r;
	return r;
}

/* Append ------------------------------------------------------------------ */

static uint8_t *bodies; /* N bodies of at most 320 bytes each */
static size_t *body_len;

/* A fresh certified home with N checkpoint entries; the seconds the bulk took. */
static double append_home(const char *dir, keten_ledger **out, double *batch_median, double *first10, double *last10,
                          double *cpu_share)
{
	keten_error err = {0};
	keten_ledger *L = make_home(dir, "Bench Gemeente", "municipality");
	const keten_home_info *info = keten_ledger_info(L);
	uint8_t cert[128];
	keten_append a = {.body_type = BODY_CERTIFICATE, .body = cert};
	keten_append *batch = calloc(BATCH, sizeof *batch);
	double *bt = calloc(N / BATCH + 1, sizeof *bt), total, cpu;
	size_t nb = 0;

	trust(L, info->key, "self");
	a.body_len = certificate_body(cert, info->key, "Bench Gemeente", 2 /* MUNICIPALITY */);
	if (keten_ledger_append(L, &a, 1, NULL, &err))
		die("self-certificate", &err);
	cpu = cpu_s();
	total = now_s();
	for (size_t i = 0; i < N; i += BATCH) {
		size_t k = N - i < BATCH ? N - i : BATCH;
		double t;
		for (size_t j = 0; j < k; j++)
			batch[j] = (keten_append){.body_type = BODY_CHECKPOINT,
			                          .body = bodies + (i + j) * 320,
			                          .body_len = body_len[i + j]};
		t = now_s();
		if (keten_ledger_append(L, batch, k, NULL, &err))
			die("keten_ledger_append", &err);
		bt[nb++] = (double)k / (now_s() - t);
	}
	total = now_s() - total;
	*cpu_share = (cpu_s() - cpu) / total;
	*batch_median = median(bt, (int)nb);
	*first10 = median(bt, nb < 10 ? (int)nb : 10);
	*last10 = median(bt + (nb < 10 ? 0 : nb - 10), nb < 10 ? (int)nb : 10);
	free(bt);
	free(batch);
	*out = L;
	return total;
}

/* Export: every stored entry's bytes, feed by feed ------------------------- */

struct export_ctx {
	keten_txn *t;
	uint8_t *buf;
	size_t used, cap;
	size_t *off, *len, n, ncap;
};

/* One stored entry: its encoded bytes, as export writes them. */
static int export_cb(const keten_entry *e, const keten_entry_status *st BENCH_UNUSED, void *p)
{
	struct export_ctx *x = p;
	const uint8_t *raw = e->raw;
	size_t n = e->raw_len;
	if (x->used + n > x->cap) {
		size_t cap = x->cap ? x->cap * 2 : (size_t)64 << 20;
		uint8_t *nb;
		while (cap < x->used + n)
			cap *= 2;
		if (!(nb = realloc(x->buf, cap)))
			return -1;
		x->buf = nb;
		x->cap = cap;
	}
	if (x->n == x->ncap) {
		size_t cap = x->ncap ? x->ncap * 2 : 1024;
		size_t *o = realloc(x->off, cap * sizeof *o), *l;
		if (!o)
			return -1;
		x->off = o;
		if (!(l = realloc(x->len, cap * sizeof *l)))
			return -1;
		x->len = l;
		x->ncap = cap;
	}
	memcpy(x->buf + x->used, raw, n);
	x->off[x->n] = x->used;
	x->len[x->n++] = n;
	x->used += n;
	return 0;
}

static keten_blob *export_all(keten_ledger *L, size_t *n, uint8_t **arena, double *secs)
{
	static const keten_entry_filter by_feed = {.order = KETEN_BY_FEED};
	struct export_ctx x = {0};
	keten_error err = {0};
	keten_blob *b;
	double t = now_s();
	if (keten_store_read(keten_ledger_store(L), &x.t, &err))
		die("keten_store_read", &err);
	if (keten_entries_each(x.t, &by_feed, export_cb, &x, &err))
		die("keten_entries_each", &err);
	keten_txn_end(x.t);
	b = calloc(x.n, sizeof *b);
	for (size_t i = 0; i < x.n; i++)
		b[i] = (keten_blob){x.buf + x.off[i], x.len[i]};
	*secs = now_s() - t;
	free(x.off);
	free(x.len);
	*n = x.n;
	*arena = x.buf;
	return b;
}

/* Ingest blobs into a fresh home trusting `anchor`, chunk per call. */
static double ingest_home(const char *dir, const uint8_t anchor[32], const keten_blob *b, size_t n, size_t chunk,
                          double *cpu_share)
{
	keten_error err = {0};
	keten_ingest_stats st, sum = {0};
	keten_ledger *L = make_home(dir, "Bench Aanbieder", "municipality");
	double t, cpu;
	trust(L, anchor, "bench author");
	cpu = cpu_s();
	t = now_s();
	for (size_t i = 0; i < n; i += chunk) {
		size_t k = n - i < chunk ? n - i : chunk;
		if (keten_ledger_ingest(L, b + i, k, true, &st, &err))
			die("keten_ledger_ingest", &err);
		sum.added += st.added;
		sum.applied += st.applied;
		sum.pending += st.pending;
		sum.rejected += st.rejected;
	}
	t = now_s() - t;
	*cpu_share = (cpu_s() - cpu) / t;
	if (sum.added != n || sum.applied != n || sum.pending || sum.rejected)
		fprintf(stderr, "bench_core: ingest: %zu added, %zu applied, %zu pending, %zu rejected of %zu\n",
		        sum.added, sum.applied, sum.pending, sum.rejected, n);
	keten_ledger_close(L);
	return t;
}

int main(void)
{
	const char *e;
	char dir[4400], hex[65];
	double b2_r[MAX_REPS + 2], app_r[MAX_REPS], appb_r[MAX_REPS];
	double imp_r[MAX_REPS], imp1_r[MAX_REPS], v2_r[MAX_REPS], v1_r[MAX_REPS], exp_r[MAX_REPS];
	double one_ms[50], cli_ms[10], f10_r[MAX_REPS], l10_r[MAX_REPS], cpu_r[MAX_REPS], es_r[MAX_REPS],
		ep_r[MAX_REPS];
	double cores_r[MAX_REPS], app_q[MAX_REPS], es_q[MAX_REPS], imp_q[MAX_REPS], imp1_q[MAX_REPS], v2_q[MAX_REPS],
		v1_q[MAX_REPS];
	keten_ledger *A = NULL;
	keten_blob *blobs = NULL;
	uint8_t *arena = NULL, a_key[32];
	size_t nblobs = 0;
	double t_all = now_s();
	struct row *r;

	if ((e = getenv("KETEN_BENCH_KETEN")) && *e)
		keten_bin = e;
	if ((e = getenv("KETEN_BENCH_N")) && atol(e) >= 1000)
		N = (size_t)atol(e);
	if ((e = getenv("KETEN_BENCH_BATCH")) && atol(e) >= 1)
		BATCH = (size_t)atol(e);
	if ((e = getenv("KETEN_BENCH_REPS")) && atoi(e) >= 1)
		reps = atoi(e) > MAX_REPS ? MAX_REPS : atoi(e);
	if ((e = getenv("KETEN_BENCH_ONLY")))
		only = e;
	if ((e = getenv("KETEN_BENCH_DIR")) && *e) {
		snprintf(workdir, sizeof workdir, "%s", e);
		mkdir(workdir, 0700);
	} else {
		snprintf(workdir, sizeof workdir, "%s/keten-bench.XXXXXX",
		         getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(workdir)) {
			perror("bench_core: mkdtemp");
			return 73;
		}
		made_workdir = 1;
	}
	if (access(keten_bin, X_OK) != 0) {
		fprintf(stderr, "bench_core: no keten binary at '%s' (set KETEN_BENCH_KETEN)\n", keten_bin);
		return 69;
	}
	if (keten_init_crypto() != 0)
		die("sodium_init", NULL);
	printf("bench_core: N=%zu, median of %d runs, libsodium %s, scratch %s\n", N, reps, sodium_version_string(),
	       workdir);
	fflush(stdout);

	/* Raw libsodium, single core, 300-byte messages. */
	crypto_sign_keypair(pk_raw, sk_raw);
	for (int i = 0; i < 256; i++) {
		randombytes_buf(msgs[i], MSG_LEN);
		crypto_sign_detached(sigs[i], NULL, msgs[i], MSG_LEN, sk_raw);
	}
	for (int i = 0; i < reps + 2; i++) {
		sign_now();
		verify_now();
		b2_r[i] = blake2b_rate(400000);
	}
	/* the raw rows: filled in at the end, from every sample */
	add_row("raw crypto_sign_detached, 300 B", 0, "sign/s");
	add_row("raw crypto_sign_verify_detached, 300 B", 0, "verify/s");
	add_row("raw BLAKE2b-256, 300 B", median(b2_r, reps + 2), "hash/s");

	/* Bodies for the bulk: about 250-byte checkpoints. */
	bodies = malloc(N * 320);
	body_len = malloc(N * sizeof *body_len);
	if (!bodies || !body_len)
		die("out of memory", NULL);
	{
		size_t total = 0;
		for (size_t i = 0; i < N; i++)
			total += body_len[i] = checkpoint_body(bodies + i * 320, i + 1);
		printf("bodies: checkpoints of 3 feed heads and a root, %zu bytes on average\n", total / N);
	}

	/* Append: one home per run; the last one is kept for the rest. */
	for (int i = 0; i < reps; i++) {
		keten_ledger *L;
		double secs, raw = sign_now();
		snprintf(dir, sizeof dir, "%s/append%d", workdir, i);
		secs = append_home(dir, &L, &appb_r[i], &f10_r[i], &l10_r[i], &cpu_r[i]);
		app_r[i] = (double)N / secs;
		raw = (raw + sign_now()) / 2;
		app_q[i] = app_r[i] / raw;
		printf("  append run %d: %.0f entries/s = %.2fx raw sign %.0f/s (median batch %.0f/s, "
		       "on CPU %.0f%% of the time)\n",
		       i + 1, app_r[i], app_q[i], raw, appb_r[i], 100 * cpu_r[i]);
		fflush(stdout);
		if (i + 1 < reps) {
			keten_ledger_close(L);
			rm_rf(dir);
		} else {
			A = L;
		}
	}
	{
		static char label[64];
		snprintf(label, sizeof label, "append %zu per call (N entries)", BATCH);
		r = add_row(label, median(app_r, reps), "entries/s");
	}
	r->ratio = median(app_q, reps);
	r->ratio_of = "raw sign";
	r->goal = 0.85;
	snprintf(r->note, sizeof r->note, "batches: median %.0f/s, first 10 %.0f/s, last 10 %.0f/s",
	         median(appb_r, reps), median(f10_r, reps), median(l10_r, reps));
	memcpy(a_key, keten_ledger_info(A)->key, 32);
	char *a_dir = strdup(keten_ledger_dir(A));
	if (strcmp(only, "append") == 0)
		goto done;

	/* Export the kept home's entries (store bytes, feed order). */
	for (int i = 0; i < reps; i++) {
		double secs;
		if (blobs) {
			free(blobs);
			free(arena);
		}
		blobs = export_all(A, &nblobs, &arena, &secs);
		exp_r[i] = (double)nblobs / secs;
	}
	add_row("export: read entries from the store", median(exp_r, reps), "entries/s");
	{
		size_t total = 0;
		for (size_t i = 0; i < nblobs; i++)
			total += blobs[i].len;
		printf("entries: %zu stored, %zu bytes on average (header, signature, body)\n", nblobs, total / nblobs);
	}

	/* The envelope alone: encode, hash and sign; parse and hash. */
	for (int i = 0; i < reps; i++) {
		const keten_keypair *kp = keten_ledger_keypair(A);
		keten_error err = {0};
		uint8_t prev[32];
		size_t k = nblobs < 20000 ? nblobs : 20000;
		double raw = sign_now(), t = now_s();
		for (size_t j = 0; j < k; j++) {
			keten_entry_draft d = {.seq = j + 1,
			                       .prev = j ? prev : NULL,
			                       .timestamp_ms = 1,
			                       .body_type = BODY_CHECKPOINT,
			                       .body = bodies + j * 320,
			                       .body_len = body_len[j]};
			keten_entry en;
			if (keten_entry_sign(kp, &d, &en, &err))
				die("keten_entry_sign", &err);
			memcpy(prev, en.id, 32);
			keten_entry_release(&en);
		}
		es_r[i] = (double)k / (now_s() - t);
		es_q[i] = es_r[i] / ((raw + sign_now()) / 2);
		t = now_s();
		for (size_t j = 0; j < nblobs; j++) {
			keten_entry en;
			if (keten_entry_parse(blobs[j].data, blobs[j].len, &en, &err))
				die("keten_entry_parse", &err);
			keten_entry_release(&en);
		}
		ep_r[i] = (double)nblobs / (now_s() - t);
	}
	r = add_row("keten_entry_sign alone (no store)", median(es_r, reps), "entries/s");
	r->ratio = median(es_q, reps);
	r->ratio_of = "raw sign";
	add_row("keten_entry_parse alone (no verify)", median(ep_r, reps), "entries/s");

	/* Import: chunks of 10,000 per call, and everything in one call. */
	for (int i = 0; i < reps; i++) {
		snprintf(dir, sizeof dir, "%s/import%d", workdir, i);
		double c10, c1, v0 = verify_now(), v1, v2;
		imp_r[i] = (double)nblobs / ingest_home(dir, a_key, blobs, nblobs, 10000, &c10);
		rm_rf(dir);
		v1 = verify_now();
		snprintf(dir, sizeof dir, "%s/import1_%d", workdir, i);
		imp1_r[i] = (double)nblobs / ingest_home(dir, a_key, blobs, nblobs, nblobs, &c1);
		rm_rf(dir);
		v2 = verify_now();
		imp_q[i] = imp_r[i] / ((v0 + v1) / 2);
		imp1_q[i] = imp1_r[i] / ((v1 + v2) / 2);
		printf("  import run %d: %.0f entries/s = %.2fx raw verify in chunks of 10000, %.0f = %.2fx "
		       "in one call (raw verify %.0f/s; on CPU %.0f%%, %.0f%% of the time)\n",
		       i + 1, imp_r[i], imp_q[i], imp1_r[i], imp1_q[i], v1, 100 * c10, 100 * c1);
		fflush(stdout);
	}
	r = add_row("import 10,000 per call (all-or-nothing)", median(imp_r, reps), "entries/s");
	r->ratio = median(imp_q, reps);
	r->ratio_of = "raw verify";
	r->goal = 5;
	r = add_row("import all in one call", median(imp1_r, reps), "entries/s");
	r->ratio = median(imp1_q, reps);
	r->ratio_of = "raw verify";
	r->goal = 5;
	free(blobs);
	free(arena);
	if (strcmp(only, "import") == 0)
		goto done;

	/* Verify: the CLI on the kept home, both cores and one. */
	keten_ledger_close(A);
	A = NULL;
	for (int i = 0; i < reps; i++) {
		char *v2[] = {"keten", "--home", a_dir, "--quiet", "verify", "--jobs", "2", NULL};
		char *v1[] = {"keten", "--home", a_dir, "--quiet", "verify", "--jobs", "1", NULL};
		double c2 = 0, c1 = 0;
		double r0 = verify_now(), t2 = run_keten(v2, &c2), r1 = verify_now(), t1 = run_keten(v1, &c1);
		double r2 = verify_now();
		v2_r[i] = t2 > 0 ? (double)nblobs / t2 : 0;
		v1_r[i] = t1 > 0 ? (double)nblobs / t1 : 0;
		v2_q[i] = v2_r[i] / ((r0 + r1) / 2);
		v1_q[i] = v1_r[i] / ((r1 + r2) / 2);
		cores_r[i] = t2 > 0 ? c2 / t2 : 0;
		printf("  verify run %d: %.0f entries/s = %.2fx raw verify with 2 jobs (on %.2f cores), "
		       "%.0f = %.2fx with 1 (on %.2f)\n",
		       i + 1, v2_r[i], v2_q[i], cores_r[i], v1_r[i], v1_q[i], t1 > 0 ? c1 / t1 : 0);
		fflush(stdout);
	}
	r = add_row("keten verify --jobs 2", median(v2_r, reps), "entries/s");
	r->ratio = median(v2_q, reps);
	r->ratio_of = "raw verify";
	r->goal = 1.6;
	snprintf(r->note, sizeof r->note, "it had %.2f cores of CPU time per second (median)", median(cores_r, reps));
	r = add_row("keten verify --jobs 1", median(v1_r, reps), "entries/s");
	r->ratio = median(v1_q, reps);
	r->ratio_of = "raw verify";

	/* One durable append (n = 1, synced commit), as a user makes it. */
	{
		keten_error err = {0};
		if (keten_ledger_open(a_dir, &A, &err) || keten_ledger_unlock(A, NULL, &err))
			die("reopen", &err);
		for (int i = 0; i < 50; i++) {
			keten_append a = {.body_type = BODY_CHECKPOINT,
			                  .body = bodies + (size_t)i * 320,
			                  .body_len = body_len[i]};
			double t = now_s();
			if (keten_ledger_append(A, &a, 1, NULL, &err))
				die("durable append", &err);
			one_ms[i] = (now_s() - t) * 1000;
		}
		keten_ledger_close(A);
		A = NULL;
		r = add_row("one durable append (n=1, fsync)", median(one_ms, 50), "ms");
		qsort(one_ms, 50, sizeof *one_ms, cmp_double);
		snprintf(r->note, sizeof r->note, "median of 50; min %.2f, max %.2f", one_ms[0], one_ms[49]);
	}
	for (int i = 0; i < 10; i++) {
		uint8_t pk[32], sk[64];
		char name[32];
		crypto_sign_keypair(pk, sk);
		keten_hex(hex, pk, 32);
		snprintf(name, sizeof name, "Bench Partij %d", i + 1);
		char *argv[] = {"keten",  "--home", a_dir,    "party",         "certify", hex,
		                "--name", name,     "--role", "subcontractor", NULL};
		cli_ms[i] = run_keten(argv, NULL) * 1000;
	}
	r = add_row("keten party certify (process, wall)", median(cli_ms, 10), "ms");
	snprintf(r->note, sizeof r->note, "median of 10: start + open + unlock + append");

done:
	keten_ledger_close(A);
	rows[0].figure = median(sign_s, n_sign_s);
	rows[1].figure = median(verify_s, n_verify_s);
	snprintf(rows[0].note, sizeof rows[0].note, "median of %d samples taken around the runs", n_sign_s);
	snprintf(rows[1].note, sizeof rows[1].note, "median of %d samples taken around the runs", n_verify_s);
	print_table();
	free(bodies);
	free(body_len);
	if (getenv("KETEN_BENCH_KEEP"))
		printf("kept the appended home in %s\n", a_dir);
	else if (made_workdir)
		rm_rf(workdir);
	else
		rm_rf(a_dir);
	free(a_dir);
	printf("bench_core took %.0f s\n", now_s() - t_all);
	return 0;
}
