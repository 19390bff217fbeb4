/*
 * join.c — joining a region in one step (include/keten/join.h): the
 * authority's invite (the certificate through keten_record, then the
 * join file: its feed up to the certificate, its nodes, the TLS CA,
 * signed), and the party's join (join_read.c checks the file; then the
 * entries go in through keten_ledger_ingest, the anchor is trusted, the
 * nodes kept and pinned through keten/node.h and the CA kept in the home).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "keten/keten.h"
#include "keten/join.h"
#include "io/join.h"
#include "proto/join.pb-c.h"
#include "proto/keten.pb-c.h"
#include "rules/rules.h"

/* A small file's bytes, NUL-terminated; NULL when it cannot be read or
 * holds more than max bytes. */
static char *read_small(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n = 0;
	if (!f)
		return NULL;
	if ((buf = malloc(max + 2)))
		n = fread(buf, 1, max + 1, f);
	if (buf && (ferror(f) || n > max)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

static bool has_role(const char *roles, const char *role)
{
	char buf[64], *save, *tok;
	snprintf(buf, sizeof buf, "%s", roles);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, role) == 0)
			return true;
	return false;
}

/* Is this home an authority: its own trust anchor, a municipality or region? */
static int authority(keten_ledger *L, keten_error *err)
{
	const keten_home_info *hi = keten_ledger_info(L);
	keten_txn *t;
	bool anchor;
	int rc;

	if ((rc = keten_store_read(keten_ledger_store(L), &t, err)))
		return rc;
	anchor = kt_is_anchor(t, hi->key);
	keten_txn_end(t);
	if (!has_role(hi->role, "municipality") && !has_role(hi->role, "region"))
		return keten_refuse(err, "invite-not-authority",
		                    "only an authority invites: this home's role is '%s', not municipality or region",
		                    hi->role);
	if (!anchor)
		return keten_refuse(err, "invite-not-authority",
		                    "only an authority invites: this home is not its own trust anchor "
		                    "('keten init --anchor')");
	return KETEN_OK;
}

/* The CA to put in the file: in->tls_ca, else the home's; NULL when none. */
static int invite_ca(keten_ledger *L, const keten_invite *in, char **ca, keten_error *err)
{
	keten_tls_config cfg;
	const char *path = in->tls_ca;
	size_t n;
	int rc;

	*ca = NULL;
	if (!path) {
		if ((rc = keten_node_tls(L, NULL, &cfg, err)))
			return rc;
		if (!cfg.files.ca)
			return KETEN_OK;
		path = cfg.ca;
	}
	if (!(*ca = read_small(path, KETEN_JOIN_MAX_CA, &n)))
		return keten_fail(err, KETEN_ENOTFOUND, "cannot read the TLS CA '%s'", path);
	if (!strstr(*ca, "-----BEGIN CERTIFICATE-----") || strlen(*ca) != n) {
		free(*ca);
		*ca = NULL;
		return keten_fail(err, KETEN_EINVAL, "the TLS CA '%s' is not a PEM certificate", path);
	}
	return KETEN_OK;
}

static void free_entries(ProtobufCBinaryData *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].data);
	free(v);
}

/* This home's feed 1..seq: stubs, but certificates and revocations in full. */
static int feed_entries(keten_ledger *L, uint64_t seq, ProtobufCBinaryData **out, keten_error *err)
{
	const uint8_t *self = keten_ledger_info(L)->key;
	ProtobufCBinaryData *v = calloc(seq ? seq : 1, sizeof *v);
	keten_txn *t;
	int rc;

	*out = NULL;
	if (!v)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	if ((rc = keten_store_read(keten_ledger_store(L), &t, err))) {
		free(v);
		return rc;
	}
	for (uint64_t s = 1; rc == KETEN_OK && s <= seq; s++) {
		uint8_t id[32];
		keten_entry e;
		if ((rc = keten_store_feed_id(t, self, s, id, err)) || (rc = keten_store_get_entry(t, id, &e, err)))
			break;
		if (e.has_body &&
		    (e.body_type == KETEN__BODY_TYPE__PARTY_CERTIFICATE ||
		     e.body_type == KETEN__BODY_TYPE__REVOCATION)) {
			if ((v[s - 1].data = malloc(e.raw_len))) {
				memcpy(v[s - 1].data, e.raw, e.raw_len);
				v[s - 1].len = e.raw_len;
			}
		} else {
			keten_entry_stub_bytes(&e, &v[s - 1].data, &v[s - 1].len);
		}
		keten_entry_release(&e);
		if (!v[s - 1].data)
			rc = keten_fail(err, KETEN_ENOMEM, NULL);
	}
	keten_txn_end(t);
	if (rc) {
		free_entries(v, seq);
		return rc;
	}
	*out = v;
	return KETEN_OK;
}

/* Pack b, sign it and frame it as a JoinFile. */
static int sign_file(keten_ledger *L, const Keten__Join__JoinBody *b, uint8_t **out, size_t *out_len, keten_error *err)
{
	Keten__Join__JoinFile f = KETEN__JOIN__JOIN_FILE__INIT;
	size_t bl = keten__join__join_body__get_packed_size(b);
	uint8_t *body = malloc(bl ? bl : 1), *msg = malloc(KT_JOIN_SIG_CONTEXT_LEN + bl), sig[64];
	int rc = KETEN_OK;

	if (!body || !msg) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	keten__join__join_body__pack(b, body);
	kt_join_sig_msg(body, bl, msg);
	if (keten_keypair_sign(keten_ledger_keypair(L), sig, msg, KT_JOIN_SIG_CONTEXT_LEN + bl)) {
		rc = keten_fail(err, KETEN_ECRYPTO, "cannot sign the join file");
		goto out;
	}
	f.body.data = body;
	f.body.len = bl;
	f.signature.data = sig;
	f.signature.len = 64;
	*out_len = keten__join__join_file__get_packed_size(&f);
	if (!(*out = malloc(*out_len))) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	keten__join__join_file__pack(&f, *out);
out:
	free(body);
	free(msg);
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The join file of the certificate cert_id (this home's head). */
static int write_file(keten_ledger *L, const keten_invite *in, const uint8_t cert_id[32], char *ca, uint8_t **out,
                      size_t *out_len, keten_error *err)
{
	const keten_home_info *hi = keten_ledger_info(L);
	Keten__Join__JoinBody b = KETEN__JOIN__JOIN_BODY__INIT;
	Keten__Join__JoinNode nodes[KETEN_JOIN_MAX_NODES], *np[KETEN_JOIN_MAX_NODES];
	ProtobufCBinaryData *v = NULL;
	keten_entry e;
	keten_txn *t;
	uint64_t seq;
	int rc;

	if ((rc = keten_store_read(keten_ledger_store(L), &t, err)))
		return rc;
	rc = keten_store_get_entry(t, cert_id, &e, err);
	keten_txn_end(t);
	if (rc)
		return rc;
	seq = e.seq;
	keten_entry_release(&e);
	if ((rc = feed_entries(L, seq, &v, err)))
		return rc;
	b.version = KETEN_JOIN_VERSION;
	b.anchor.data = (uint8_t *)hi->key;
	b.anchor.len = 32;
	b.anchor_name = (char *)hi->name;
	b.key.data = (uint8_t *)in->cert.key;
	b.key.len = 32;
	b.made_ms = now_ms();
	b.entry = v;
	b.n_entry = seq;
	for (size_t i = 0; i < in->n_nodes; i++) {
		keten__join__join_node__init(&nodes[i]);
		nodes[i].url = (char *)in->nodes[i];
		nodes[i].key.data = (uint8_t *)hi->key;
		nodes[i].key.len = 32;
		np[i] = &nodes[i];
	}
	b.node = np;
	b.n_node = in->n_nodes;
	b.tls_ca = ca;
	rc = sign_file(L, &b, out, out_len, err);
	free_entries(v, seq);
	return rc;
}

int keten_join_invite(keten_ledger *L, const keten_invite *in, uint8_t **out, size_t *out_len, keten_join_info *info,
                      keten_error *err)
{
	keten_draft d = {.kind = KETEN_DRAFT_CERTIFICATE};
	keten_join_info mine;
	keten_recorded r;
	char *ca = NULL;
	int rc;

	if (!L || !in || !out || !out_len)
		return keten_fail(err, KETEN_EINVAL, "keten_join_invite: NULL argument");
	*out = NULL;
	*out_len = 0;
	if (in->n_nodes > KETEN_JOIN_MAX_NODES)
		return keten_fail(err, KETEN_EINVAL, "at most %u node URLs", KETEN_JOIN_MAX_NODES);
	for (size_t i = 0; i < in->n_nodes; i++)
		if (!keten_node_url_ok(in->nodes[i]))
			return keten_fail(err, KETEN_EINVAL, "'%s' is not a tcp://, tls+tcp:// or ipc:// URL",
			                  in->nodes[i] ? in->nodes[i] : "");
	if ((rc = authority(L, err)) || (rc = invite_ca(L, in, &ca, err)))
		return rc;
	d.certificate = in->cert;
	if ((rc = keten_record(L, &d, 1, &r, NULL, err)) == KETEN_OK &&
	    (rc = write_file(L, in, r.id, ca, out, out_len, err)) == KETEN_OK)
		rc = keten_join_read(*out, *out_len, info ? info : &mine, err);
	free(ca);
	if (rc) {
		free(*out);
		*out = NULL;
		*out_len = 0;
	}
	return rc;
}

/* Joining ---------------------------------------------------------------------- */

/* Write len bytes to path through a temporary file and a rename. */
static int write_atomic(const char *path, const char *a, size_t al, const char *b, size_t bl, keten_error *err)
{
	char tmp[600];
	FILE *f;
	bool ok;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (!(f = fopen(tmp, "wb")))
		return keten_fail(err, KETEN_EIO, "cannot write '%s': %s", tmp, strerror(errno));
	ok = fwrite(a, 1, al, f) == al && fwrite(b, 1, bl, f) == bl;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;
		remove(tmp);
		return keten_fail(err, KETEN_EIO, "cannot write '%s': %s", path, strerror(e));
	}
	return KETEN_OK;
}

/* Keep the CA as HOME/tls/ca.pem, after the CA kept before unless that
 * holds it already. */
static int keep_ca(keten_ledger *L, const char *pem, keten_join_info *info, keten_error *err)
{
	keten_tls_config cfg;
	keten_tls_files set = {0};
	char dir[512], path[512], *old = NULL;
	size_t ol = 0;
	int rc;

	if ((rc = keten_node_tls(L, NULL, &cfg, err)))
		return rc;
	if (cfg.files.ca && (old = read_small(cfg.ca, 4 * KETEN_JOIN_MAX_CA, &ol)) && strstr(old, pem)) {
		snprintf(info->ca_path, sizeof info->ca_path, "%s", cfg.ca);
		free(old);
		return KETEN_OK;
	}
	snprintf(dir, sizeof dir, "%s/tls", keten_ledger_dir(L));
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		free(old);
		return keten_fail(err, KETEN_EIO, "cannot make '%s': %s", dir, strerror(errno));
	}
	if (old && ol && old[ol - 1] != '\n')
		old[ol++] = '\n'; /* read_small leaves room for it */
	rc = write_atomic(path, old ? old : "", old ? ol : 0, pem, strlen(pem), err);
	free(old);
	set.ca = path;
	if (rc == KETEN_OK && (rc = keten_node_tls_set(L, &set, err)) == KETEN_OK)
		snprintf(info->ca_path, sizeof info->ca_path, "%s", path);
	return rc;
}

/* The checks that need the home; nothing is changed by them. */
static int join_checks(keten_ledger *L, const keten_join_info *info, const uint8_t *expect, keten_error *err)
{
	char hex[65], want[65];
	if (memcmp(info->key, keten_ledger_info(L)->key, 32) != 0) {
		keten_hex(hex, info->key, 32);
		return keten_refuse(err, "join-other-key",
		                    "the join file invites key %.16s, not this home's: it is for another party", hex);
	}
	if (expect && memcmp(expect, info->anchor, 32) != 0) {
		keten_hex(hex, info->anchor, 32);
		keten_hex(want, expect, 32);
		return keten_refuse(err, "join-anchor",
		                    "the join file's anchor is %.16s (%s), not the expected %.16s: do not trust it",
		                    hex, info->anchor_name, want);
	}
	return KETEN_OK;
}

static int join_store(keten_ledger *L, const Keten__Join__JoinBody *b, keten_join_info *info, keten_error *err)
{
	keten_blob *bl = calloc(b->n_entry ? b->n_entry : 1, sizeof *bl);
	keten_ingest_stats st = {0};
	keten_txn *t;
	int rc;

	if (!bl)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	for (size_t i = 0; i < b->n_entry; i++) {
		bl[i].data = b->entry[i].data;
		bl[i].len = b->entry[i].len;
	}
	if ((rc = keten_store_read(keten_ledger_store(L), &t, err)) == KETEN_OK) {
		info->anchor_was_known = kt_is_anchor(t, info->anchor);
		keten_txn_end(t);
		rc = keten_ledger_ingest(L, bl, b->n_entry, true, &st, err);
	}
	free(bl);
	info->added = st.added;
	if (rc == KETEN_OK && !info->anchor_was_known)
		rc = keten_ledger_trust_add(L, info->anchor, info->anchor_name, err);
	return rc;
}

int keten_join_apply(keten_ledger *L, const uint8_t *data, size_t len, const uint8_t *expect_anchor,
                     keten_join_info *info, keten_error *err)
{
	Keten__Join__JoinBody *b;
	int rc;

	if (!L || !info)
		return keten_fail(err, KETEN_EINVAL, "keten_join_apply: NULL argument");
	if ((rc = kt_join_decode(data, len, info, &b, err)))
		return rc;
	if ((rc = join_checks(L, info, expect_anchor, err)) == KETEN_OK)
		rc = join_store(L, b, info, err);
	for (size_t i = 0; rc == KETEN_OK && i < info->n_nodes; i++)
		if ((rc = keten_node_peer_add(L, info->nodes[i], err)) == KETEN_OK &&
		    (rc = keten_node_pin_set(L, info->nodes[i], info->node_keys[i], false, err)) == KETEN_OK)
			info->peers_added++;
	if (rc == KETEN_OK && b->tls_ca)
		rc = keep_ca(L, b->tls_ca, info, err);
	keten__join__join_body__free_unpacked(b, NULL);
	return rc;
}
