/*
 * party.c — who may write: trust anchors, party certificates and
 * revocations, and the authority check every entry passes before its
 * body rules run.
 *
 * A trust anchor is this node's own choice (keten trust add); an anchor
 * is valid for itself.  Any other key counts only while a certificate by
 * an anchor covers the entry's date and no revocation precedes its time.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keten/party.h"
#include "rules/rules.h"
#include "proto/keten.pb-c.h"
#include "base/base.h"

static const char *const role_names[] = {
	[KETEN__ROLE__REGION] = "region",
	[KETEN__ROLE__MUNICIPALITY] = "municipality",
	[KETEN__ROLE__LEAD_PROVIDER] = "lead-provider",
	[KETEN__ROLE__SUBCONTRACTOR] = "subcontractor",
	[KETEN__ROLE__AUDITOR] = "auditor",
};

const char *keten_role_name(uint32_t r)
{
	return r < sizeof role_names / sizeof *role_names && role_names[r] ? role_names[r] : NULL;
}

uint32_t keten_role_from_name(const char *name)
{
	for (uint32_t r = 1; r < sizeof role_names / sizeof *role_names; r++)
		if (strcmp(role_names[r], name) == 0)
			return r;
	return 0;
}

bool kt_is_anchor(keten_txn *t, const uint8_t key[32])
{
	return kt_kv_get(t, KT_TRUST, key, 32, NULL, NULL, NULL) == KETEN_OK;
}

struct party_find {
	const char *what;
	size_t len;
	bool by_name;
	int found;
	uint8_t key[32];
	char *names;
	size_t nlen;
};

static int find_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct party_find *f = p;
	Keten__State__PartyState *ps;
	char hex[65];
	bool hit;

	if (kl != 32 || !(ps = keten__state__party_state__unpack(NULL, vl, v)))
		return 0;
	keten_hex(hex, k, 32);
	hit = f->by_name ? (ps->name && strcasecmp(ps->name, f->what) == 0) : strncasecmp(hex, f->what, f->len) == 0;
	if (hit) {
		if (f->found++ == 0)
			memcpy(f->key, k, 32);
		if (f->names) {
			size_t u = strlen(f->names);
			snprintf(f->names + u, f->nlen - u, "%s%.16s (%s)", u ? ", " : "", hex,
			         ps->name ? ps->name : "");
		}
	}
	keten__state__party_state__free_unpacked(ps, NULL);
	return 0;
}

int keten_party_find(keten_txn *t, const char *what, const uint8_t self[32], uint8_t key[32], int *found, char *names,
                     size_t nlen, keten_error *err)
{
	struct party_find f = {.what = what, .len = strlen(what), .names = nlen ? names : NULL, .nlen = nlen};
	bool hex = f.len >= KETEN_MIN_PREFIX;
	int rc;

	*found = 0;
	if (f.names)
		f.names[0] = 0;
	if (f.len == 64 && keten_unhex(key, 32, what) == 0) {
		*found = 1;
		return KETEN_OK;
	}
	for (size_t i = 0; i < f.len && hex; i++)
		hex = isxdigit((unsigned char)what[i]);
	f.by_name = !hex;
	if ((rc = kt_kv_scan(t, KT_PARTIES, NULL, 0, find_cb, &f, err)))
		return rc;
	if (!f.found && hex) {
		/* a key prefix of a trust anchor or of this home itself */
		char me[65];
		keten_hex(me, self, 32);
		if (strncasecmp(me, what, f.len) == 0) {
			memcpy(f.key, self, 32);
			f.found = 1;
		}
	}
	if (f.found)
		memcpy(key, f.key, 32);
	*found = f.found;
	return KETEN_OK;
}

int kt_party_load(keten_txn *t, const uint8_t key[32], Keten__State__PartyState **out, keten_error *err)
{
	const void *v;
	size_t n;
	int rc = kt_kv_get(t, KT_PARTIES, key, 32, &v, &n, err);
	*out = NULL;
	if (rc)
		return rc;
	*out = keten__state__party_state__unpack(NULL, n, v);
	return *out ? KETEN_OK : keten_fail(err, KETEN_ESTORE, "ledger store: damaged party record");
}

int kt_party_save(keten_txn *t, const Keten__State__PartyState *p, keten_error *err)
{
	size_t n = keten__state__party_state__get_packed_size(p);
	uint8_t *buf = malloc(n ? n : 1);
	int rc;

	KETEN_ASSERT(p->key.len == 32);
	if (!buf)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	keten__state__party_state__pack(p, buf);
	rc = kt_kv_put(t, KT_PARTIES, p->key.data, 32, buf, n, err);
	free(buf);
	return rc;
}

static uint32_t role_mask(const Keten__State__PartyState *p)
{
	uint32_t m = 0;
	for (size_t i = 0; i < p->n_roles; i++)
		if (p->roles[i] < 32)
			m |= ROLE_BIT(p->roles[i]);
	return m;
}

int kt_party_authorized(keten_txn *t, const uint8_t key[32], int64_t ts_ms, uint32_t *roles, bool *anchor,
                        keten_error *err)
{
	Keten__State__PartyState *p = NULL;
	bool is_anchor = kt_is_anchor(t, key);
	char hex[65];
	int rc = kt_party_load(t, key, &p, err);

	*roles = 0;
	*anchor = is_anchor;
	if (rc == KETEN_ENOTFOUND) {
		keten_error_clear(err);
		if (is_anchor)
			return KETEN_OK;
		keten_hex(hex, key, 32);
		return keten_fail(
			err, KETEN_EAUTHOR,
			"key '%.16s' is not certified by a trust anchor here: it needs a certificate "
			"with its role, made by an anchor with 'keten party certify %s --name NAME --role ROLE'",
			hex, hex);
	}
	if (rc)
		return rc;
	*roles = role_mask(p);
	if (!is_anchor) {
		uint32_t day = keten_date_of_ms(ts_ms);
		keten_hex(hex, key, 32);
		if (p->revoked_ms && ts_ms >= p->revoked_ms)
			rc = keten_refuse(err, "author-revoked", "key '%.16s' (%s) was revoked before this entry", hex,
			                  p->name ? p->name : "");
		else if ((p->valid_from && day < p->valid_from) || (p->valid_until && day > p->valid_until))
			rc = keten_refuse(err, "certificate-not-valid",
			                  "certificate of '%s' does not cover the entry's date",
			                  p->name ? p->name : hex);
	}
	keten__state__party_state__free_unpacked(p, NULL);
	return rc;
}

int kt_party_valid_at(keten_txn *t, const uint8_t key[32], int64_t ts_ms, const char *what, keten_error *err)
{
	keten_error perr = {0};
	uint32_t roles;
	bool anchor;
	int rc = kt_party_authorized(t, key, ts_ms, &roles, &anchor, &perr);

	if (rc != KETEN_ERULE)
		return rc == KETEN_EAUTHOR ? KETEN_OK : rc; /* not known: other rules decide */
	if (strcmp(perr.rule, "author-revoked") == 0)
		return keten_refuse(err, "party-revoked", "the %s was revoked before this entry (%s)", what, perr.msg);
	return keten_refuse(err, "party-not-valid", "the %s's certificate does not cover this entry's date (%s)", what,
	                    perr.msg);
}

static bool code_ok(const char *s, size_t digits)
{
	if (!s)
		return true;
	if (strlen(s) != digits)
		return false;
	for (size_t i = 0; i < digits; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* What a certificate says of the party: a valid key, a clean name, known
 * roles, well-formed codes and a validity period. */
static int certificate_checks(const Keten__PartyCertificate *c, keten_error *err)
{
	if (c->key.len != 32 || !keten_key_valid(c->key.data))
		return keten_refuse(err, "invalid-key", "certified key is not a valid Ed25519 public key");
	if (!c->name[0] || !keten_text_ok(c->name, strlen(c->name)) || keten_text_has_bsn(c->name))
		return keten_refuse(err, "invalid-name", "party name is empty or not clean text");
	if (c->n_roles == 0)
		return keten_refuse(err, "invalid-role", "a certificate names at least one role");
	for (size_t i = 0; i < c->n_roles; i++)
		if (!keten_role_name(c->roles[i]))
			return keten_refuse(err, "invalid-role", "role %u is unknown", c->roles[i]);
	if (!code_ok(c->agb, 8) || !code_ok(c->kvk, 8))
		return keten_refuse(err, "invalid-code", "AGB and KvK codes have 8 digits");
	for (size_t i = 0; i < c->n_municipality; i++)
		if (!code_ok(c->municipality[i], 4))
			return keten_refuse(err, "invalid-code", "CBS municipality code '%s' is not 4 digits",
			                    c->municipality[i]);
	if ((c->has_valid_from && c->valid_from && !keten_date_valid(c->valid_from)) ||
	    (c->has_valid_until && c->valid_until && !keten_date_valid(c->valid_until)) ||
	    (c->valid_from && c->valid_until && c->valid_until < c->valid_from))
		return keten_refuse(err, "invalid-date", "certificate validity dates are not a valid period");
	return KETEN_OK;
}

/* The party's record as the certificate says, keeping a fork mark of the old one. */
static int certificate_save(kt_apply *a, const Keten__PartyCertificate *c, const Keten__State__PartyState *old,
                            keten_error *err)
{
	Keten__State__PartyState ps = KETEN__STATE__PARTY_STATE__INIT;
	ProtobufCBinaryData certid = {32, (uint8_t *)a->e->id}, by = {32, (uint8_t *)a->e->author};

	KETEN_ASSERT(keten_key_valid(c->key.data));
	ps.key = c->key;
	ps.name = c->name;
	ps.n_roles = c->n_roles;
	ps.roles = c->roles;
	ps.agb = c->agb;
	ps.kvk = c->kvk;
	ps.n_municipality = c->n_municipality;
	ps.municipality = c->municipality;
	ps.has_valid_from = ps.has_valid_until = 1;
	ps.valid_from = c->valid_from;
	ps.valid_until = c->valid_until;
	ps.has_certificate = ps.has_certified_by = 1;
	ps.certificate = certid;
	ps.certified_by = by;
	if (old && old->forked)
		ps.has_forked = ps.forked = 1;
	/* A new certificate after a revocation re-admits the key only for
	 * entries after this certificate's time: no revocation is carried over. */
	KETEN_ASSERT(!ps.has_revoked_ms);
	return kt_party_save(a->txn, &ps, err);
}

int kt_rule_certificate(kt_apply *a, keten_error *err)
{
	Keten__PartyCertificate *c = keten__party_certificate__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__PartyState *old = NULL;
	int rc;

	if (!c)
		return keten_refuse(err, "malformed-body", "certificate body does not decode");
	if (!a->anchor) {
		rc = keten_refuse(err, "certifier-not-anchor", "only a trust anchor may certify parties");
		goto out;
	}
	if ((rc = certificate_checks(c, err)))
		goto out;
	rc = kt_party_load(a->txn, c->key.data, &old, err);
	if (rc && rc != KETEN_ENOTFOUND)
		goto out;
	keten_error_clear(err);
	rc = certificate_save(a, c, old, err);
	if (rc == 0) {
		memcpy(a->wake, c->key.data, 32);
		a->has_wake = true;
	}
out:
	keten__state__party_state__free_unpacked(old, NULL);
	keten__party_certificate__free_unpacked(c, NULL);
	return rc;
}

int kt_rule_revocation(kt_apply *a, keten_error *err)
{
	Keten__Revocation *r = keten__revocation__unpack(NULL, a->e->body_len, a->e->body);
	Keten__State__PartyState *p = NULL;
	int rc;

	if (!r)
		return keten_refuse(err, "malformed-body", "revocation body does not decode");
	if (r->key.len != 32) {
		rc = keten_refuse(err, "invalid-key", "revoked key is not 32 bytes");
		goto out;
	}
	if (!keten_text_ok(r->reason, strlen(r->reason)) || keten_text_has_bsn(r->reason)) {
		rc = keten_refuse(err, "bsn-in-text", "revocation reason is not clean text");
		goto out;
	}
	rc = kt_party_load(a->txn, r->key.data, &p, err);
	if (rc == KETEN_ENOTFOUND) {
		memcpy(a->missing, r->key.data, 32);
		rc = KETEN_EPENDING;
		goto out;
	}
	if (rc)
		goto out;
	if (!p->has_certified_by || p->certified_by.len != 32 || memcmp(p->certified_by.data, a->e->author, 32) != 0) {
		rc = keten_refuse(err, "revoker-not-certifier", "only the certifying authority may revoke '%s'",
		                  p->name ? p->name : "");
		goto out;
	}
	p->has_revoked_ms = 1;
	p->revoked_ms = r->effective_ms > 0 ? r->effective_ms : a->e->timestamp_ms;
	{
		char *own = p->revoke_reason; /* owned by p; r->reason by r */
		p->revoke_reason = r->reason;
		rc = kt_party_save(a->txn, p, err);
		p->revoke_reason = own;
	}
out:
	keten__state__party_state__free_unpacked(p, NULL);
	keten__revocation__free_unpacked(r, NULL);
	return rc;
}
