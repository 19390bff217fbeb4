/*
 * join_read.c — reading a join file (include/keten/join.h,
 * proto/join.proto): the framing, which must be the one canonical
 * encoding; the anchor's signature over the body; and the entries, which
 * must be the anchor's own feed from seq 1, each one signed and linked to
 * the one before, with a certificate by the anchor for the invited key
 * that no revocation in the file takes back.  Nothing here touches a home.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keten/keten.h"
#include "keten/join.h"
#include "io/join.h"
#include "proto/join.pb-c.h"
#include "proto/keten.pb-c.h"

#define FILE_RULE  "join-file"
#define SIG_RULE   "join-signature"
#define CHAIN_RULE "join-chain"

void kt_join_sig_msg(const uint8_t *body, size_t len, uint8_t *msg)
{
	memcpy(msg, KT_JOIN_SIG_CONTEXT, KT_JOIN_SIG_CONTEXT_LEN);
	memcpy(msg + KT_JOIN_SIG_CONTEXT_LEN, body, len);
}

/* The outer JoinFile, checked to be encoded the one way it is written. */
static int read_frame(const uint8_t *data, size_t len, Keten__Join__JoinFile **out, keten_error *err)
{
	Keten__Join__JoinFile *f;
	uint8_t *again;
	size_t n;
	bool same;

	*out = NULL;
	if (!data || len == 0 || len > KETEN_JOIN_MAX_BYTES)
		return keten_refuse(err, FILE_RULE, "not a join file: %zu bytes", len);
	if (!(f = keten__join__join_file__unpack(NULL, len, data)))
		return keten_refuse(err, FILE_RULE, "not a join file, or one changed or damaged: it does not decode");
	n = keten__join__join_file__get_packed_size(f);
	if (!(again = malloc(n ? n : 1))) {
		keten__join__join_file__free_unpacked(f, NULL);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	keten__join__join_file__pack(f, again);
	same = n == len && memcmp(again, data, len) == 0 && f->signature.len == KETEN_SIG_BYTES;
	free(again);
	if (!same) {
		keten__join__join_file__free_unpacked(f, NULL);
		return keten_refuse(err, FILE_RULE,
		                    "the join file was changed or damaged: it is not framed as keten writes it");
	}
	*out = f;
	return KETEN_OK;
}

static void copy_text(char *dst, size_t cap, const char *s)
{
	snprintf(dst, cap, "%s", s ? s : "");
}

/* The body's own fields into info; the signature is checked by then. */
static int read_head(const Keten__Join__JoinBody *b, keten_join_info *info, keten_error *err)
{
	if (b->version != KETEN_JOIN_VERSION)
		return keten_refuse(err, FILE_RULE, "join file version %u: this keten reads version %u", b->version,
		                    KETEN_JOIN_VERSION);
	if (b->key.len != 32 || !keten_key_valid(b->key.data))
		return keten_refuse(err, FILE_RULE, "the join file names no valid key to join with");
	if (b->n_node > KETEN_JOIN_MAX_NODES)
		return keten_refuse(err, FILE_RULE, "the join file names %zu nodes, more than %u", b->n_node,
		                    KETEN_JOIN_MAX_NODES);
	if (b->tls_ca && (strlen(b->tls_ca) > KETEN_JOIN_MAX_CA || !strstr(b->tls_ca, "-----BEGIN ")))
		return keten_refuse(err, FILE_RULE, "the join file's TLS CA is not a PEM certificate");
	info->version = b->version;
	copy_text(info->anchor_name, sizeof info->anchor_name, b->anchor_name);
	memcpy(info->key, b->key.data, 32);
	info->made_ms = b->made_ms;
	info->has_ca = b->tls_ca != NULL;
	for (size_t i = 0; i < b->n_node; i++) {
		const Keten__Join__JoinNode *nd = b->node[i];
		if (!keten_node_url_ok(nd->url) || nd->key.len != 32 || !keten_key_valid(nd->key.data))
			return keten_refuse(err, FILE_RULE, "the join file's node %zu is not a URL with a valid key",
			                    i + 1);
		copy_text(info->nodes[i], sizeof info->nodes[i], nd->url);
		memcpy(info->node_keys[i], nd->key.data, 32);
	}
	info->n_nodes = b->n_node;
	return KETEN_OK;
}

/* What the entries said of the invited key so far. */
struct chain {
	const uint8_t *anchor, *key;
	uint8_t prev[32];
	uint64_t seq;
	bool certified, revoked;
	keten_join_info *info;
};

static void roles_text(const Keten__PartyCertificate *c, char *dst, size_t cap)
{
	size_t at = 0;
	dst[0] = '\0';
	for (size_t i = 0; i < c->n_roles && at + 1 < cap; i++) {
		const char *r = keten_role_name(c->roles[i]);
		int w = snprintf(dst + at, cap - at, "%s%s", i ? "," : "", r ? r : "?");
		if (w < 0 || (size_t)w >= cap - at)
			break;
		at += (size_t)w;
	}
}

/* A certificate or revocation of the invited key: note it. */
static int note_body(struct chain *c, const keten_entry *e, keten_error *err)
{
	if (e->body_type == KETEN__BODY_TYPE__PARTY_CERTIFICATE) {
		Keten__PartyCertificate *pc = keten__party_certificate__unpack(NULL, e->body_len, e->body);
		if (!pc)
			return keten_refuse(err, CHAIN_RULE, "entry %llu of the join file is not a certificate",
			                    (unsigned long long)e->seq);
		if (pc->key.len == 32 && memcmp(pc->key.data, c->key, 32) == 0) {
			c->certified = true;
			c->revoked = false;
			memcpy(c->info->certificate, e->id, 32);
			copy_text(c->info->name, sizeof c->info->name, pc->name);
			roles_text(pc, c->info->roles, sizeof c->info->roles);
		}
		keten__party_certificate__free_unpacked(pc, NULL);
	} else if (e->body_type == KETEN__BODY_TYPE__REVOCATION) {
		Keten__Revocation *rv = keten__revocation__unpack(NULL, e->body_len, e->body);
		if (!rv)
			return keten_refuse(err, CHAIN_RULE, "entry %llu of the join file is not a revocation",
			                    (unsigned long long)e->seq);
		if (rv->key.len == 32 && memcmp(rv->key.data, c->key, 32) == 0)
			c->revoked = true;
		keten__revocation__free_unpacked(rv, NULL);
	}
	return KETEN_OK;
}

/* One entry: by the anchor, the next of its feed, signed. */
static int read_entry(struct chain *c, const ProtobufCBinaryData *raw, keten_error *err)
{
	keten_entry e;
	int rc;

	if (raw->len > KETEN_MAX_ENTRY_BYTES || keten_entry_parse(raw->data, raw->len, &e, NULL))
		return keten_refuse(err, CHAIN_RULE, "entry %llu of the join file does not decode",
		                    (unsigned long long)c->seq + 1);
	if (memcmp(e.author, c->anchor, 32) != 0)
		rc = keten_refuse(err, CHAIN_RULE,
		                  "entry %llu of the join file was written by another key than its anchor: "
		                  "only the anchor's own certificates count",
		                  (unsigned long long)c->seq + 1);
	else if (e.seq != c->seq + 1 || (e.seq > 1 && memcmp(e.prev, c->prev, 32) != 0))
		rc = keten_refuse(err, CHAIN_RULE, "entry %llu of the join file does not continue the anchor's feed",
		                  (unsigned long long)c->seq + 1);
	else if (keten_entry_verify(&e) != 0)
		rc = keten_refuse(err, CHAIN_RULE, "entry %llu of the join file is not signed by the anchor",
		                  (unsigned long long)e.seq);
	else if (e.has_body)
		rc = note_body(c, &e, err);
	else
		rc = KETEN_OK;
	if (rc == KETEN_OK) {
		c->seq = e.seq;
		memcpy(c->prev, e.id, 32);
	}
	keten_entry_release(&e);
	return rc;
}

static int read_chain(const Keten__Join__JoinBody *b, keten_join_info *info, keten_error *err)
{
	struct chain c = {.anchor = info->anchor, .key = info->key, .info = info};
	int rc;

	for (size_t i = 0; i < b->n_entry; i++)
		if ((rc = read_entry(&c, &b->entry[i], err)))
			return rc;
	if (!c.certified)
		return keten_refuse(err, CHAIN_RULE,
		                    "the join file holds no certificate by its anchor for the key it names");
	if (c.revoked)
		return keten_refuse(err, CHAIN_RULE, "the join file's anchor has revoked the key it names");
	info->n_entries = b->n_entry;
	return KETEN_OK;
}

int kt_join_decode(const uint8_t *data, size_t len, keten_join_info *info, Keten__Join__JoinBody **body,
                   keten_error *err)
{
	Keten__Join__JoinFile *f;
	Keten__Join__JoinBody *b = NULL;
	uint8_t *msg;
	int rc;

	memset(info, 0, sizeof *info);
	*body = NULL;
	if ((rc = keten_init_crypto()))
		return keten_fail(err, KETEN_ECRYPTO, NULL);
	if ((rc = read_frame(data, len, &f, err)))
		return rc;
	if (!(b = keten__join__join_body__unpack(NULL, f->body.len, f->body.data)) || b->anchor.len != 32 ||
	    !keten_key_valid(b->anchor.data)) {
		rc = keten_refuse(err, FILE_RULE, "the join file was changed or damaged: its body does not decode");
		goto out;
	}
	memcpy(info->anchor, b->anchor.data, 32);
	if (!(msg = malloc(KT_JOIN_SIG_CONTEXT_LEN + f->body.len))) {
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
		goto out;
	}
	kt_join_sig_msg(f->body.data, f->body.len, msg);
	rc = keten_sig_verify(f->signature.data, msg, KT_JOIN_SIG_CONTEXT_LEN + f->body.len, b->anchor.data);
	free(msg);
	if (rc) {
		char hex[65];
		keten_hex(hex, b->anchor.data, 32);
		rc = keten_refuse(err, SIG_RULE,
		                  "the join file was changed after it was signed: the signature of its anchor "
		                  "%.16s does not verify; ask the authority for a new one",
		                  hex);
		goto out;
	}
	if ((rc = read_head(b, info, err)) == KETEN_OK)
		rc = read_chain(b, info, err);
out:
	keten__join__join_file__free_unpacked(f, NULL);
	if (rc) {
		if (b)
			keten__join__join_body__free_unpacked(b, NULL);
		memset(info, 0, sizeof *info);
		return rc;
	}
	*body = b;
	return KETEN_OK;
}

int keten_join_read(const uint8_t *data, size_t len, keten_join_info *info, keten_error *err)
{
	Keten__Join__JoinBody *b;
	int rc = kt_join_decode(data, len, info, &b, err);
	if (rc == KETEN_OK)
		keten__join__join_body__free_unpacked(b, NULL);
	return rc;
}
