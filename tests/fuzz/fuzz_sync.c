/*
 * fuzz_sync.c — libFuzzer target for the sync protocol (ledger/sync/),
 * both sides, sealed frames included.
 *
 * Two homes are made once, in a temporary directory: a municipality (the
 * server, its own trust anchor) and a lead provider it certified, which
 * trusts it and holds the certificates.  The first byte of each input
 * picks what the rest is:
 *
 *   0  a request to the server on a new session
 *   1  a request to the server on a session that has just authenticated
 *   2  the inner request of a Sealed frame, sealed under that session's
 *      key at its next counter (so the inner decoding and every handler
 *      see it)
 *   3  the reply to the client's Hello (where a Challenge belongs)
 *   4  the raw reply to an authenticated client's first request
 *   5  the inner reply to that request, sealed under the session's key
 *      as the server would (so the client's handling of Heads, Entries,
 *      Errors and AuthOk sees it)
 *
 * The server must always answer with a reply that decodes; the client
 * must end the step with a next request of at most KETEN_SYNC_MAX_REQUEST
 * bytes or none; nothing may crash or leak.  Seeds: tests/fuzz/corpus/
 * sync/ (each message of a real round, in every mode); run with
 * KETEN_FUZZ_SYNC_SEEDS=DIR to write them again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keten/keten.h"
#include "proto/keten.pb-c.h"
#include "sync/sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[128];
static keten_ledger *srv, *cli;
static keten_sync_limits lim;

static void cleanup(void)
{
	char cmd[200];
	keten_ledger_close(srv);
	keten_ledger_close(cli);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_sync: could not remove %s\n", base);
}

static keten_ledger *home(const char *name, const char *role)
{
	keten_home_info in = {0};
	keten_error err = {0};
	keten_ledger *L;
	char dir[200];
	snprintf(dir, sizeof dir, "%s/%s", base, name);
	snprintf(in.name, sizeof in.name, "%s", name);
	snprintf(in.role, sizeof in.role, "%s", role);
	if (keten_home_create(dir, NULL, &in, &err) || keten_ledger_open(dir, &L, &err) ||
	    keten_ledger_unlock(L, NULL, &err)) {
		fprintf(stderr, "fuzz_sync: home %s: %s\n", name, err.msg);
		abort();
	}
	return L;
}

/* One request served; the reply must decode. */
static void serve(keten_sync_session *s, const uint8_t *req, size_t len, uint8_t **rep, size_t *rl)
{
	keten_error note = {0};
	char what[300];
	int code;
	keten_sync_serve(srv, s, &lim, 0, req, len, rep, rl, &note);
	if (!*rep || keten_sync_describe_reply(*rep, *rl, &code, what, sizeof what) == 0)
		abort();
}

/* A client authenticated with session s (the handshake in memory); the
 * client's first request after it into *req. */
static keten_sync_client *authed(keten_sync_session *s, uint8_t **req, size_t *rl)
{
	keten_sync_client *c;
	keten_error err = {0};
	uint8_t *rep;
	size_t pl;
	if (keten_sync_client_new(cli, &c, &err))
		abort();
	keten_sync_session_init(s, &lim, 0);
	if (keten_sync_client_begin(c, req, rl, &err))
		abort();
	for (int step = 0; step < 2; step++) {
		serve(s, *req, *rl, &rep, &pl);
		free(*req);
		if (keten_sync_client_reply(c, rep, pl, req, rl, &err) || !*req)
			abort();
		free(rep);
	}
	if (s->state != KETEN_SYNC_AUTHED || !keten_sync_client_authed(c))
		abort();
	return c;
}

static void init(void)
{
	Keten__PartyCertificate pc = KETEN__PARTY_CERTIFICATE__INIT;
	keten_append a = {.body_type = KETEN__BODY_TYPE__PARTY_CERTIFICATE};
	keten_error err = {0};
	keten_sync_session s;
	keten_sync_client *c;
	uint32_t roles[1] = {KETEN__ROLE__LEAD_PROVIDER};
	uint8_t buf[256], *req, *rep;
	size_t rl, pl;
	struct stat st;
	int rc;

	setenv("KETEN_PWHASH_FAST", "1", 1);
	if (keten_init_crypto() != KETEN_OK)
		abort();
	snprintf(base, sizeof base, "%s/keten-fuzz-sync-XXXXXX",
	         stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp");
	if (!mkdtemp(base))
		abort();
	atexit(cleanup);
	srv = home("Gemeente", "municipality");
	cli = home("Hoofd", "lead-provider");
	if (keten_ledger_trust_add(srv, keten_ledger_info(srv)->key, "Gemeente", &err) ||
	    keten_ledger_trust_add(cli, keten_ledger_info(srv)->key, "Gemeente", &err))
		abort();
	pc.key.data = (uint8_t *)keten_ledger_info(cli)->key;
	pc.key.len = 32;
	pc.name = "Hoofd";
	pc.n_roles = 1;
	pc.roles = roles;
	a.body = buf;
	a.body_len = keten__party_certificate__pack(&pc, buf);
	if (keten_ledger_append(srv, &a, 1, NULL, &err))
		abort();
	keten_sync_limits_default(&lim);
	lim.rate_per_s = lim.burst = 1000000;
	/* the client takes the certificates: a whole round */
	c = authed(&s, &req, &rl);
	do {
		serve(&s, req, rl, &rep, &pl);
		free(req);
		rc = keten_sync_client_reply(c, rep, pl, &req, &rl, &err);
		free(rep);
	} while (rc == 0 && req);
	free(req);
	keten_sync_client_free(c);
	if (rc)
		abort();
}

/* The client's step with reply (rep, pl): its next request, if any, is small. */
static void client_step(keten_sync_client *c, const uint8_t *rep, size_t pl)
{
	keten_error err = {0};
	uint8_t *req = NULL;
	size_t rl = 0;
	int rc = keten_sync_client_reply(c, rep, pl, &req, &rl, &err);
	if ((rc && req) || (req && rl > KETEN_SYNC_MAX_REQUEST))
		abort();
	free(req);
}

static void seeds(const char *dir);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	keten_sync_session s;
	keten_sync_client *c;
	uint8_t *req = NULL, *rep = NULL;
	size_t rl = 0, pl = 0;
	keten_error err = {0};

	if (!ready) {
		init();
		ready = 1;
		if (getenv("KETEN_FUZZ_SYNC_SEEDS"))
			seeds(getenv("KETEN_FUZZ_SYNC_SEEDS"));
	}
	if (size < 1 || size > KETEN_SYNC_MAX_REQUEST + 1024)
		return 0;
	switch (data[0] % 6) {
	case 0:
		keten_sync_session_init(&s, &lim, 0);
		serve(&s, data + 1, size - 1, &rep, &pl);
		break;
	case 1:
	case 2:
		c = authed(&s, &req, &rl);
		free(req);
		req = NULL;
		if (data[0] % 6 == 1) {
			serve(&s, data + 1, size - 1, &rep, &pl);
		} else {
			uint8_t *box = NULL;
			size_t bl = 0;
			Keten__Sync__Request r = KETEN__SYNC__REQUEST__INIT;
			Keten__Sync__Sealed sl = KETEN__SYNC__SEALED__INIT;
			uint8_t *frame;
			size_t fl;
			if (kt_seal(s.k_rx, 'c', s.rx_ctr + 1, 0, data + 1, size - 1, &box, &bl))
				abort();
			sl.counter = s.rx_ctr + 1;
			sl.box.data = box;
			sl.box.len = bl;
			r.msg_case = KETEN__SYNC__REQUEST__MSG_SEALED;
			r.sealed = &sl;
			fl = keten__sync__request__get_packed_size(&r);
			if (!(frame = malloc(fl)))
				abort();
			keten__sync__request__pack(&r, frame);
			serve(&s, frame, fl, &rep, &pl);
			free(frame);
			free(box);
		}
		keten_sync_client_free(c);
		break;
	case 3:
		if (keten_sync_client_new(cli, &c, &err) || keten_sync_client_begin(c, &req, &rl, &err))
			abort();
		client_step(c, data + 1, size - 1);
		keten_sync_client_free(c);
		break;
	default:
		c = authed(&s, &req, &rl);
		serve(&s, req, rl, &rep, &pl); /* the server's real answer, unused */
		free(rep);
		rep = NULL;
		if (data[0] % 6 == 4) {
			client_step(c, data + 1, size - 1);
		} else {
			if (kt_seal_reply(s.k_tx, s.tx_ctr + 1, s.rx_ctr, data + 1, size - 1, &rep, &pl))
				abort();
			client_step(c, rep, pl);
		}
		keten_sync_client_free(c);
		break;
	}
	free(req);
	free(rep);
	keten_sync_session_end(&s);
	return 0;
}

/* Seeds --------------------------------------------------------------------------- */

static void seed(const char *dir, const char *name, uint8_t mode, const uint8_t *b, size_t n)
{
	char path[400];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")))
		abort();
	fputc(mode, f);
	fwrite(b, 1, n, f);
	fclose(f);
}

/* Each message of a real round in the mode it belongs to: the Hello and
 * Auth (0), the sealed Heads and Fetch frames (1), their inner requests
 * (2), the Challenge (3), the sealed replies (4) and their inner replies
 * (5). */
static void seeds(const char *dir)
{
	keten_sync_session s;
	keten_sync_client *c;
	keten_error err = {0};
	uint8_t *req, *rep;
	size_t rl, pl;
	char name[64];
	int k = 0, rc;

	/* something new at the server, so that the round fetches */
	if (keten_checkpoint_append(srv, (uint8_t[32]){0}, NULL, &err))
		abort();
	{
		const uint8_t plain_heads[2] = {0x1a, 0x00};
		seed(dir, "plain-heads", 0, plain_heads, sizeof plain_heads);
	}
	if (keten_sync_client_new(cli, &c, &err) || keten_sync_client_begin(c, &req, &rl, &err))
		abort();
	keten_sync_session_init(&s, &lim, 0);
	do {
		Keten__Sync__Request *q = keten__sync__request__unpack(NULL, rl, req);
		serve(&s, req, rl, &rep, &pl);
		snprintf(name, sizeof name, "request-%d", k);
		seed(dir, name, q && q->msg_case == KETEN__SYNC__REQUEST__MSG_SEALED ? 1 : 0, req, rl);
		if (q && q->msg_case == KETEN__SYNC__REQUEST__MSG_SEALED) {
			uint8_t *m;
			size_t ml;
			if (kt_open(s.k_rx, 'c', q->sealed->counter, 0, q->sealed->box.data, q->sealed->box.len, &m,
			            &ml) == KETEN_OK) {
				snprintf(name, sizeof name, "inner-request-%d", k);
				seed(dir, name, 2, m, ml);
				free(m);
			}
		}
		keten__sync__request__free_unpacked(q, NULL);
		{
			Keten__Sync__Reply *r = keten__sync__reply__unpack(NULL, pl, rep);
			snprintf(name, sizeof name, "reply-%d", k);
			seed(dir, name, r && r->msg_case == KETEN__SYNC__REPLY__MSG_CHALLENGE ? 3 : 4, rep, pl);
			if (r && r->msg_case == KETEN__SYNC__REPLY__MSG_SEALED) {
				uint8_t *m;
				size_t ml;
				if (kt_open(s.k_tx, 's', r->sealed->counter, r->sealed->reply_to, r->sealed->box.data,
				            r->sealed->box.len, &m, &ml) == KETEN_OK) {
					snprintf(name, sizeof name, "inner-reply-%d", k);
					seed(dir, name, 5, m, ml);
					free(m);
				}
			}
			keten__sync__reply__free_unpacked(r, NULL);
		}
		free(req);
		rc = keten_sync_client_reply(c, rep, pl, &req, &rl, &err);
		free(rep);
		k++;
	} while (rc == 0 && req);
	free(req);
	keten_sync_client_free(c);
	keten_sync_session_end(&s);
}
