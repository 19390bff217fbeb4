/*
 * ijw.c — importing an iJw / iWmo message (keten_ijw_import, see
 * keten/ijw.h): read it with this home's pseudonym key, recognise a
 * message imported before by its digest, turn its parts into drafts
 * (ijw_map.c, ijw_claim.c), compose them and append them in one
 * transaction that also records the digest.
 *
 * The pseudonym key is derived from the home's signing key, inside its
 * keystore, with crypto_kdf (BLAKE2b; subkey 1 of context "ketenijw"):
 * the keystore file keeps its format, every home has its own key, the
 * same home always derives the same one, and nobody without the
 * keystore (and its passphrase) can compute or reverse a reference.
 * A municipality's references are therefore stable across all its
 * allocations; another home's are not comparable with them, by design.
 *
 * The digest is kept in the node's meta table under "ijw.msg." and the
 * 32 bytes, with the message name and the ids of the entries it made:
 * node-local bookkeeping, written in the append's own transaction, so
 * that a message is either recorded with its entries or not at all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "compose/compose.h"
#include "compose/ijw.h"
#include "base/base.h"

#define META_PREFIX     "ijw.msg."
#define META_PREFIX_LEN 8u

/* Faults, notes, drafts ---------------------------------------------------------------------- */

static int add_fault(kt_ijw_job *j, const keten_error *e)
{
	keten_error *f = realloc(j->out->faults, (j->out->n_faults + 1) * sizeof *f);
	if (!f)
		return KETEN_ENOMEM;
	j->out->faults = f;
	f[j->out->n_faults++] = *e;
	return e->code;
}

int kt_ijw_refuse(kt_ijw_job *j, const char *part, const char *rule, const char *fmt, ...)
{
	keten_error e = {.code = KETEN_ERULE};
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(e.rule, sizeof e.rule, "%s", rule);
	snprintf(e.msg, sizeof e.msg, "%s: %s", part, msg);
	return add_fault(j, &e);
}

int kt_ijw_fault(kt_ijw_job *j, const char *part, const char *rule, const keten_error *err)
{
	keten_error e = *err;

	if (e.code != KETEN_ENOMEM && e.code != KETEN_ESTORE && e.code != KETEN_EIO) {
		e.code = KETEN_ERULE;
		snprintf(e.rule, sizeof e.rule, "%s", rule);
	}
	snprintf(e.msg, sizeof e.msg, "%s: %s", part, err->msg);
	return add_fault(j, &e);
}

int kt_ijw_note(kt_ijw_job *j, const char *part, const char *fmt, ...)
{
	keten_ijw_note *n = realloc(j->out->notes, (j->out->n_notes + 1) * sizeof *n);
	va_list ap;

	if (!n)
		return KETEN_ENOMEM;
	j->out->notes = n;
	n += j->out->n_notes++;
	snprintf(n->part, sizeof n->part, "%s", part);
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof n->text, fmt, ap);
	va_end(ap);
	return KETEN_OK;
}

keten_draft *kt_ijw_draft(kt_ijw_job *j, const char *part, keten_draft_kind kind)
{
	if (j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 16;
		keten_draft *d = realloc(j->drafts, cap * sizeof *d);
		char(*p)[40] = d ? realloc(j->parts, cap * sizeof *p) : NULL;
		if (d)
			j->drafts = d;
		if (!p)
			return NULL;
		j->parts = p;
		j->cap = cap;
	}
	memset(&j->drafts[j->n], 0, sizeof *j->drafts);
	j->drafts[j->n].kind = kind;
	snprintf(j->parts[j->n], sizeof j->parts[j->n], "%s", part);
	return &j->drafts[j->n++];
}

char *kt_ijw_keep(kt_ijw_job *j, char *p)
{
	void **o;

	if (!p)
		return NULL;
	if (j->n_owned == j->cap_owned) {
		size_t cap = j->cap_owned ? 2 * j->cap_owned : 16;
		if (!(o = realloc(j->owned, cap * sizeof *o))) {
			free(p);
			return NULL;
		}
		j->owned = o;
		j->cap_owned = cap;
	}
	j->owned[j->n_owned++] = p;
	return p;
}

static void job_end(kt_ijw_job *j)
{
	for (size_t i = 0; i < j->n_owned; i++)
		free(j->owned[i]);
	for (size_t i = 0; i < j->n_fcs; i++)
		keten__framework_contract__free_unpacked(j->fcs[i], NULL);
	free(j->owned);
	free(j->fcs);
	free(j->fc_ids);
	free(j->drafts);
	free(j->parts);
	if (j->t)
		keten_txn_end(j->t);
	memset(j, 0, sizeof *j);
}

/* The digest ------------------------------------------------------------------------------------ */

static void meta_key(uint8_t k[META_PREFIX_LEN + 32], const uint8_t digest[32])
{
	memcpy(k, META_PREFIX, META_PREFIX_LEN);
	memcpy(k + META_PREFIX_LEN, digest, 32);
}

/* A message recorded before: its entries into out (already). */
static int recorded_before(keten_txn *t, const keten_ijw_message *m, keten_ijw_result *out, bool *found)
{
	uint8_t k[META_PREFIX_LEN + 32];
	const uint8_t *v;
	size_t vl, name;

	*found = false;
	meta_key(k, m->digest);
	if (kt_kv_get(t, KT_META, k, sizeof k, (const void **)&v, &vl, NULL) != KETEN_OK)
		return KETEN_OK;
	*found = out->already = true;
	name = strnlen((const char *)v, vl);
	if (name >= vl || (vl - name - 1) % 32)
		return KETEN_OK; /* not ours to read: nothing to list */
	out->n_entries = (vl - name - 1) / 32;
	if (out->n_entries && !(out->entries = calloc(out->n_entries, sizeof *out->entries)))
		return KETEN_ENOMEM;
	for (size_t i = 0; i < out->n_entries; i++) {
		keten_entry e;
		memcpy(out->entries[i].id, v + name + 1 + 32 * i, 32);
		out->entries[i].amount_cents = -1;
		if (keten_store_get_entry(t, out->entries[i].id, &e, NULL) == KETEN_OK) {
			out->entries[i].body_type = e.body_type;
			keten_entry_release(&e);
		}
	}
	return KETEN_OK;
}

struct digest_put {
	const keten_ijw_message *m;
};

static int record_digest(keten_txn *t, const uint8_t (*ids)[32], size_t n, void *ctx, keten_error *err)
{
	const keten_ijw_message *m = ((struct digest_put *)ctx)->m;
	size_t name = strlen(m->name) + 1, vl = name + 32 * n;
	uint8_t k[META_PREFIX_LEN + 32], *v = malloc(vl);
	int rc;

	meta_key(k, m->digest);
	/* another import of the same message may have committed since it was looked up */
	if (kt_kv_get(t, KT_META, k, sizeof k, NULL, NULL, NULL) == KETEN_OK) {
		free(v);
		return keten_fail(err, KETEN_EEXIST, "the %s was imported meanwhile: nothing added", m->name);
	}
	if (!v)
		return keten_fail(err, KETEN_ENOMEM, "out of memory recording an iJw message");
	memcpy(v, m->name, name);
	for (size_t i = 0; i < n; i++)
		memcpy(v + name + 32 * i, ids[i], 32);
	rc = kt_kv_put(t, KT_META, k, sizeof k, v, vl, err);
	free(v);
	return rc;
}

/* Importing ------------------------------------------------------------------------------------- */

static int pseudonym_key(keten_ledger *L, uint8_t key[32], keten_error *err)
{
	const keten_keypair *kp = keten_ledger_keypair(L);

	if (!kp || !kp->sk)
		return keten_fail(err, KETEN_EPERM, "the home's key is not unlocked");
	/* the master key is the Ed25519 seed, the first half of the secret key */
	if (crypto_kdf_derive_from_key(key, 32, 1, "ketenijw", kp->sk) != 0)
		return keten_fail(err, KETEN_ECRYPTO, "the pseudonym key could not be derived");
	return KETEN_OK;
}

/* The first fault as err, and its code. */
static int first_fault(const keten_ijw_result *out, keten_error *err)
{
	KETEN_ASSERT(out->n_faults > 0);
	if (err)
		*err = out->faults[0];
	return out->faults[0].code;
}

/* Compose the drafts; each draft that fails is a fault of its part. */
static int compose_all(keten_ledger *L, kt_ijw_job *j, keten_composition *c, keten_error *err)
{
	int rc = keten_compose(L, j->drafts, j->n, c, err);

	if (rc == KETEN_OK || !c->n_faults)
		return rc;
	for (size_t i = 0; i < c->n_faults; i++) {
		keten_draft_fault *f = &c->faults[i];
		keten_error e = f->err;
		KETEN_ASSERT(f->item >= 1 && f->item <= j->n);
		snprintf(e.msg, sizeof e.msg, "%s: %s", j->parts[f->item - 1], f->err.msg);
		if (add_fault(j, &e) == KETEN_ENOMEM)
			return keten_fail(err, KETEN_ENOMEM, "out of memory importing an iJw message");
	}
	return first_fault(j->out, err);
}

static int append_all(keten_ledger *L, kt_ijw_job *j, const keten_composition *c, keten_error *err)
{
	struct digest_put dp = {.m = j->m};
	keten_recorded *rec = calloc(c->n ? c->n : 1, sizeof *rec);
	keten_ijw_result *out = j->out;
	keten_error e = {0};
	int rc;

	if (!rec || !(out->entries = calloc(c->n ? c->n : 1, sizeof *out->entries))) {
		free(rec);
		return keten_fail(err, KETEN_ENOMEM, "out of memory importing an iJw message");
	}
	if ((rc = kt_compose_append_also(L, c, rec, record_digest, &dp, &e))) {
		if (e.item >= 1 && e.item <= j->n) {
			char msg[sizeof e.msg];
			snprintf(msg, sizeof msg, "%s", e.msg[0] ? e.msg : keten_strerror(e.code));
			snprintf(e.msg, sizeof e.msg, "%s: %s", j->parts[e.item - 1], msg);
		}
		free(rec);
		free(out->entries);
		out->entries = NULL;
		if (add_fault(j, &e) == KETEN_ENOMEM)
			return keten_fail(err, KETEN_ENOMEM, "out of memory importing an iJw message");
		return first_fault(out, err);
	}
	out->n_entries = c->n;
	for (size_t i = 0; i < c->n; i++) {
		keten_ijw_entry *x = &out->entries[i];
		memcpy(x->id, rec[i].id, 32);
		x->body_type = rec[i].body_type;
		x->amount_cents = rec[i].amount_cents;
		snprintf(x->part, sizeof x->part, "%s", j->parts[i]);
		snprintf(x->installment, sizeof x->installment, "%s", rec[i].installment);
	}
	free(rec);
	return KETEN_OK;
}

/* Map the message's parts into drafts (j->t is open). */
static int map_all(kt_ijw_job *j)
{
	switch (j->m->kind) {
	case KETEN_IJW_ALLOCATION: return kt_ijw_map_allocation(j);
	case KETEN_IJW_START:
	case KETEN_IJW_STOP: return kt_ijw_map_start_stop(j);
	case KETEN_IJW_CLAIM: return kt_ijw_map_claim(j);
	default: return KETEN_EINVAL;
	}
}

static int import_message(keten_ledger *L, const keten_ijw_message *m, keten_ijw_result *out, keten_error *err)
{
	kt_ijw_job j = {.info = keten_ledger_info(L), .m = m, .out = out};
	keten_composition c = {0};
	bool found;
	int rc;

	if ((rc = keten_store_read(keten_ledger_store(L), &j.t, err)))
		return rc;
	if ((rc = recorded_before(j.t, m, out, &found)) || found) {
		job_end(&j);
		return rc ? keten_fail(err, rc, "out of memory importing an iJw message") : KETEN_OK;
	}
	rc = map_all(&j);
	keten_txn_end(j.t);
	j.t = NULL;
	if (rc == KETEN_ENOMEM)
		rc = keten_fail(err, rc, "out of memory importing an iJw message");
	else if (rc || out->n_faults)
		rc = first_fault(out, err);
	else if ((rc = compose_all(L, &j, &c, err)) == KETEN_OK)
		rc = append_all(L, &j, &c, err);
	keten_composition_release(&c);
	job_end(&j);
	return rc;
}

int keten_ijw_import(keten_ledger *L, const uint8_t *xml, size_t len, keten_ijw_result *out, keten_error *err)
{
	keten_ijw_message m;
	uint8_t *key;
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!L || !xml || !out)
		return keten_fail(err, KETEN_EINVAL, "keten_ijw_import needs a ledger, bytes and a result");
	if (!keten_ledger_unlocked(L))
		return keten_fail(err, KETEN_EPERM, "the home's key is not unlocked");
	/* the pseudonym key is a secret: in guarded, locked memory, wiped */
	if (!(key = sodium_malloc(32)))
		return keten_fail(err, KETEN_ENOMEM, "no memory for the pseudonym key");
	if ((rc = pseudonym_key(L, key, err)) == KETEN_OK)
		rc = keten_ijw_parse(xml, len, key, &m, err);
	sodium_free(key); /* wipes */
	if (rc) {
		if (err && (out->faults = malloc(sizeof *out->faults))) {
			out->faults[0] = *err;
			out->n_faults = 1;
		}
		return rc;
	}
	out->kind = m.kind;
	snprintf(out->name, sizeof out->name, "%s", m.name);
	rc = import_message(L, &m, out, err);
	keten_ijw_release(&m);
	return rc;
}

void keten_ijw_result_release(keten_ijw_result *r)
{
	if (!r)
		return;
	free(r->entries);
	free(r->notes);
	free(r->faults);
	memset(r, 0, sizeof *r);
}
