/*
 * json.c — the stable --json shapes (include/keten/json.h), built once
 * for the `keten` commands and the dashboard's JSON API alike: balance
 * rows, reconciliation lines, pairs, findings and bank matches, the
 * regional report, dispute summaries and the dispute with its evidence
 * chain, and entries (the export object and a body decoded by walking
 * protobuf-c's descriptors, so every body type prints without a
 * hand-written printer).  Each builder reads through the caller's read
 * transaction and returns a new reference; nothing here prints.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/json.h"
#include "rules/dispute.h"
#include "proto/keten.pb-c.h"
#include "rules/rules.h"

static const uint8_t zero32[32];

/* Building blocks ----------------------------------------------------------- */

const char *keten_json_party_name(keten_txn *t, const uint8_t key[32], char *buf, size_t len)
{
	Keten__State__PartyState *ps = NULL;
	const void *v;
	size_t n;
	buf[0] = 0;
	if (kt_party_load(t, key, &ps, NULL) == 0 && ps->name)
		snprintf(buf, len, "%s", ps->name);
	else if (kt_kv_get(t, KT_TRUST, key, 32, &v, &n, NULL) == 0)
		snprintf(buf, len, "%.*s", (int)strnlen(v, n), (const char *)v);
	keten__state__party_state__free_unpacked(ps, NULL);
	return buf;
}

/* One cached label; each is its own allocation, so a returned name stays put. */
struct keten_json_label {
	uint8_t key[32];
	char name[128];
};

const char *keten_json_label(keten_json_labels *lb, const uint8_t key[32])
{
	struct keten_json_label *e;
	void *p;

	if (memcmp(key, zero32, 32) == 0)
		return "";
	for (size_t i = 0; i < lb->n; i++)
		if (memcmp(lb->v[i]->key, key, 32) == 0)
			return lb->v[i]->name;
	if (!(p = realloc(lb->v, (lb->n + 1) * sizeof *lb->v)))
		return "";
	lb->v = p;
	if (!(e = calloc(1, sizeof *e)))
		return "";
	memcpy(e->key, key, 32);
	if (!keten_json_party_name(lb->t, key, e->name, sizeof e->name)[0])
		keten_hex(e->name, key, 8);
	lb->v[lb->n++] = e;
	return e->name;
}

void keten_json_labels_release(keten_json_labels *lb)
{
	for (size_t i = 0; i < lb->n; i++)
		free(lb->v[i]);
	free(lb->v);
	lb->v = NULL;
	lb->n = 0;
}

const char *keten_json_status_name(keten_status st)
{
	switch (st) {
	case KS_APPLIED: return "applied";
	case KS_PENDING: return "pending";
	case KS_REJECTED: return "rejected";
	case KS_STUB: return "stub";
	default: return "unknown";
	}
}

const char *keten_json_entry_type(keten_txn *t, const uint8_t id[32])
{
	keten_entry e;
	const char *name = NULL;
	if (keten_store_get_entry(t, id, &e, NULL) == 0) {
		name = keten_body_type_name(e.body_type);
		keten_entry_release(&e);
	}
	return name ? name : "entry";
}

json_t *keten_json_hex(const uint8_t *b, size_t n)
{
	char hex[65];
	keten_hex(hex, b, n);
	return json_string(hex);
}

json_t *keten_json_date(uint32_t ymd)
{
	char d[16];
	keten_format_date(d, sizeof d, ymd);
	return json_string(d);
}

void keten_json_set_party(keten_txn *t, json_t *o, const char *field, const uint8_t key[32])
{
	char name[128], nfield[64];
	json_object_set_new(o, field, keten_json_hex(key, 32));
	snprintf(nfield, sizeof nfield, "%s_name", field);
	json_object_set_new(o, nfield, json_string(keten_json_party_name(t, key, name, sizeof name)));
}

/* A key, or null for the all-zero key. */
static json_t *key_or_null(const uint8_t key[32])
{
	return memcmp(key, zero32, 32) == 0 ? json_null() : keten_json_hex(key, 32);
}

/* Entries --------------------------------------------------------------------- */

static const ProtobufCMessageDescriptor *descs[] = {
	[KETEN__BODY_TYPE__PARTY_CERTIFICATE] = &keten__party_certificate__descriptor,
	[KETEN__BODY_TYPE__REVOCATION] = &keten__revocation__descriptor,
	[KETEN__BODY_TYPE__FRAMEWORK_CONTRACT] = &keten__framework_contract__descriptor,
	[KETEN__BODY_TYPE__INDEXATION] = &keten__indexation__descriptor,
	[KETEN__BODY_TYPE__ALLOCATION] = &keten__allocation__descriptor,
	[KETEN__BODY_TYPE__SUBCONTRACT_OFFER] = &keten__subcontract_offer__descriptor,
	[KETEN__BODY_TYPE__OFFER_ANSWER] = &keten__offer_answer__descriptor,
	[KETEN__BODY_TYPE__DELIVERY] = &keten__delivery__descriptor,
	[KETEN__BODY_TYPE__CLAIM] = &keten__claim__descriptor,
	[KETEN__BODY_TYPE__PAYMENT] = &keten__payment__descriptor,
	[KETEN__BODY_TYPE__RECEIPT] = &keten__receipt__descriptor,
	[KETEN__BODY_TYPE__RESULT] = &keten__result__descriptor,
	[KETEN__BODY_TYPE__CLAWBACK] = &keten__clawback__descriptor,
	[KETEN__BODY_TYPE__DISPUTE] = &keten__dispute__descriptor,
	[KETEN__BODY_TYPE__RESPONSE] = &keten__response__descriptor,
	[KETEN__BODY_TYPE__RULING] = &keten__ruling__descriptor,
	[KETEN__BODY_TYPE__CORRECTION] = &keten__correction__descriptor,
	[KETEN__BODY_TYPE__CHECKPOINT] = &keten__checkpoint__descriptor,
	[KETEN__BODY_TYPE__RESUME] = &keten__resume__descriptor,
};

static bool is_date_field(const char *name)
{
	return strcmp(name, "date") == 0 || strcmp(name, "start") == 0 || strcmp(name, "end") == 0 ||
		strncmp(name, "valid_", 6) == 0 || strncmp(name, "period_", 7) == 0;
}

static json_t *message_json(const ProtobufCMessage *m);

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	char buf[80];
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: {
		uint32_t v = *(const uint32_t *)p;
		if (is_date_field(f->name) && v) {
			keten_format_date(buf, sizeof buf, v);
			return json_string(buf);
		}
		return json_integer(v);
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return json_integer((json_int_t) * (const uint64_t *)p);
	case PROTOBUF_C_TYPE_BOOL: return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
		return ev ? json_string(ev->name) : json_integer(*(const int *)p);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return s ? json_string(s) : json_null();
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		if (b->len <= 32) {
			char hex[65];
			keten_hex(hex, b->data, b->len);
			return json_string(hex);
		}
		return json_stringn((const char *)b->data, 0);
	}
	case PROTOBUF_C_TYPE_MESSAGE: return message_json(*(ProtobufCMessage *const *)p);
	default: return json_null();
	}
}

static size_t field_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE: return 8;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	default: return 4;
	}
}

static json_t *message_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *o = json_object();
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;
		const void *p = base + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(char *const *)p;
			json_t *a = json_array();
			for (size_t k = 0; k < n; k++)
				json_array_append_new(a, value_json(f, arr + k * field_size(f)));
			json_object_set_new(o, f->name, a);
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
			if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
				if (!*(void *const *)p)
					continue;
			} else if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset)) {
				continue;
			}
		}
		json_object_set_new(o, f->name, value_json(f, p));
	}
	return o;
}

json_t *keten_json_body(uint32_t body_type, const uint8_t *body, size_t len)
{
	ProtobufCMessage *m;
	json_t *o;
	if (body_type >= sizeof descs / sizeof *descs || !descs[body_type])
		return json_null();
	m = protobuf_c_message_unpack(descs[body_type], NULL, len, body);
	if (!m)
		return json_null();
	o = message_json(m);
	protobuf_c_message_free_unpacked(m, NULL);
	return o;
}

json_t *keten_json_entry(const keten_entry *e)
{
	json_t *o = json_object(), *aud = json_array();
	char *b64;
	size_t b64len;

	json_object_set_new(o, "id", keten_json_hex(e->id, 32));
	json_object_set_new(o, "author", keten_json_hex(e->author, 32));
	json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
	json_object_set_new(o, "prev", e->seq > 1 ? keten_json_hex(e->prev, 32) : json_null());
	json_object_set_new(o, "timestamp_ms", json_integer(e->timestamp_ms));
	json_object_set_new(o, "type", json_string(keten_body_type_name(e->body_type)));
	json_object_set_new(o, "version", json_integer((json_int_t)e->version));
	for (size_t i = 0; i < e->n_audience; i++)
		json_array_append_new(aud, keten_json_hex(e->audience[i], 32));
	json_object_set_new(o, "audience", aud);
	b64len = sodium_base64_ENCODED_LEN(e->header_len + e->body_len + 64, sodium_base64_VARIANT_ORIGINAL);
	b64 = malloc(b64len);
	if (b64) {
		sodium_bin2base64(b64, b64len, e->header, e->header_len, sodium_base64_VARIANT_ORIGINAL);
		json_object_set_new(o, "header", json_string(b64));
		sodium_bin2base64(b64, b64len, e->sig, 64, sodium_base64_VARIANT_ORIGINAL);
		json_object_set_new(o, "signature", json_string(b64));
		if (e->has_body) {
			sodium_bin2base64(b64, b64len, e->body, e->body_len, sodium_base64_VARIANT_ORIGINAL);
			json_object_set_new(o, "body", json_string(b64));
			/* the salt goes with the body only: a stub's line has none */
			if (e->salt) {
				sodium_bin2base64(b64, b64len, e->salt, KETEN_SALT_BYTES,
				                  sodium_base64_VARIANT_ORIGINAL);
				json_object_set_new(o, "salt", json_string(b64));
			}
		} else {
			json_object_set_new(o, "body", json_null());
		}
		free(b64);
	}
	json_object_set_new(o, "fields",
	                    e->has_body ? keten_json_body(e->body_type, e->body, e->body_len) : json_null());
	return o;
}

json_t *keten_json_entry_status(const keten_entry *e, const keten_entry_status *st, bool withheld_note)
{
	json_t *j = keten_json_entry(e);
	json_object_set_new(j, "status", json_string(st->voided ? "void" : keten_json_status_name(st->status)));
	if (st->voided)
		json_object_set_new(j, "voided_by", keten_json_hex(st->voided_by, 32));
	if (st->rule[0])
		json_object_set_new(j, "rule", json_string(st->rule));
	if (withheld_note && !e->has_body)
		json_object_set_new(j, "withheld",
		                    json_string("this node holds only the signed header: the body goes only to the "
		                                "entry's audience and to auditors of its municipality"));
	return j;
}

/* The bytes of base64 member `name` of o: absent or null is a stub's
 * body when present is given, an error otherwise. */
static int b64field(json_t *o, const char *name, uint8_t **out, size_t *len, bool *present)
{
	json_t *v = json_object_get(o, name);
	const char *s;
	size_t n;
	*out = NULL;
	*len = 0;
	if (present)
		*present = false;
	if (!v || json_is_null(v))
		return present ? 0 : -1;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = strlen(s);
	*out = malloc(n ? n : 1);
	if (!*out)
		return -1;
	if (sodium_base642bin(*out, n ? n : 1, s, n, NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	if (present)
		*present = true;
	return 0;
}

int keten_json_entry_parse(const char *text, size_t len, uint8_t **out, size_t *out_len, keten_error *err)
{
	json_error_t jerr;
	json_t *o;
	uint8_t *h = NULL, *s = NULL, *b = NULL, *salt = NULL;
	size_t hl, sl = 0, bl, saltl = 0;
	bool hasb, hass;
	int rc = KETEN_OK;

	*out = NULL;
	*out_len = 0;
	o = json_loadb(text, len, 0, &jerr);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return keten_fail(err, KETEN_EMALFORMED, "%s", o ? "the line is JSON but not an object" : jerr.text);
	}
	if (b64field(o, "header", &h, &hl, NULL) || b64field(o, "signature", &s, &sl, NULL) ||
	    b64field(o, "body", &b, &bl, &hasb) || b64field(o, "salt", &salt, &saltl, &hass) || sl != 64)
		rc = keten_fail(err, KETEN_EINVAL, "header, signature, body or salt is missing or not base64");
	else if (hass && (!hasb || saltl != KETEN_SALT_BYTES))
		rc = keten_fail(err, KETEN_EINVAL, "a salt is 16 bytes (base64) and comes with a body only");
	else if (keten_entry_frame(h, hl, s, b, bl, hasb, hass ? salt : NULL, out, out_len))
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
	free(h);
	free(s);
	free(b);
	free(salt);
	json_decref(o);
	return rc;
}

json_t *keten_json_ingest(const keten_ingest_stats *st)
{
	json_t *j = json_object();
	json_object_set_new(j, "received", json_integer((json_int_t)st->received));
	json_object_set_new(j, "added", json_integer((json_int_t)st->added));
	json_object_set_new(j, "known", json_integer((json_int_t)st->known));
	json_object_set_new(j, "applied", json_integer((json_int_t)st->applied));
	json_object_set_new(j, "pending", json_integer((json_int_t)st->pending));
	json_object_set_new(j, "rejected", json_integer((json_int_t)st->rejected));
	json_object_set_new(j, "stubs", json_integer((json_int_t)st->stubs));
	json_object_set_new(j, "forks", json_integer((json_int_t)st->forks));
	return j;
}

/* Balance, reconcile, report ------------------------------------------------ */

json_t *keten_json_balance(keten_txn *t, const keten_balance *b)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < b->n_rows; i++) {
		const keten_balance_row *r = &b->rows[i];
		int64_t out = r->outstanding_cents;
		char name[128];
		json_t *j = json_object();
		json_object_set_new(j, "party", keten_json_hex(r->party, 32));
		json_object_set_new(j, "name", json_string(keten_json_party_name(t, r->party, name, sizeof name)));
		json_object_set_new(j, "role", json_string(r->payee ? "payee" : "payer"));
		json_object_set_new(j, "claimed_cents", json_integer(r->claimed_cents));
		json_object_set_new(j, "paid_cents", json_integer(r->paid_cents));
		json_object_set_new(j, "received_cents", json_integer(r->received_cents));
		json_object_set_new(j, "clawback_cents", json_integer(r->clawback_cents));
		json_object_set_new(j, "repaid_cents", json_integer(r->repaid_cents));
		json_object_set_new(j, "outstanding_cents", json_integer(out));
		json_object_set_new(j, "net_cents", json_integer(r->payee ? out : -out));
		json_array_append_new(arr, j);
	}
	return arr;
}

static json_t *amounts_json(json_t *o, int64_t agreed, int64_t delivered, int64_t claimed, int64_t paid,
                            int64_t received, int64_t outstanding, int64_t overdue)
{
	json_object_set_new(o, "agreed_cents", json_integer(agreed));
	json_object_set_new(o, "delivered_units",
	                    delivered % 100 ? json_real((double)delivered / 100.0) : json_integer(delivered / 100));
	json_object_set_new(o, "claimed_cents", json_integer(claimed));
	json_object_set_new(o, "paid_cents", json_integer(paid));
	json_object_set_new(o, "received_cents", json_integer(received));
	json_object_set_new(o, "outstanding_cents", json_integer(outstanding));
	json_object_set_new(o, "overdue_cents", json_integer(overdue));
	return o;
}

static void pair_names(keten_json_labels *lb, json_t *o, const uint8_t payer[32], const uint8_t payee[32])
{
	json_object_set_new(o, "payer", key_or_null(payer));
	json_object_set_new(o, "payer_name", json_string(keten_json_label(lb, payer)));
	json_object_set_new(o, "payee", key_or_null(payee));
	json_object_set_new(o, "payee_name", json_string(keten_json_label(lb, payee)));
}

json_t *keten_json_reconcile(keten_txn *t, const keten_recon *r, bool meanings)
{
	json_t *root = json_object(), *lines = json_array(), *pairs = json_array(), *fs = json_array();
	keten_json_labels lb = {.t = t};

	json_object_set_new(root, "as_of", keten_json_date(r->as_of));
	for (size_t i = 0; i < r->n_lines; i++) {
		const keten_recon_line *l = &r->lines[i];
		json_t *o = json_object();
		json_object_set_new(o, "subject", key_or_null(l->subject));
		json_object_set_new(o, "kind", json_string(l->subcontract ? "subcontract" : "allocation"));
		pair_names(&lb, o, l->payer, l->payee);
		json_object_set_new(o, "what", json_string(l->what));
		json_object_set_new(o, "start", keten_json_date(l->start));
		json_object_set_new(o, "end", l->end ? keten_json_date(l->end) : json_null());
		json_object_set_new(o, "claims", json_integer((json_int_t)l->n_claims));
		json_array_append_new(lines,
		                      amounts_json(o, l->agreed_cents, l->delivered_units, l->claimed_cents,
		                                   l->paid_cents, l->received_cents, l->outstanding_cents,
		                                   l->overdue_cents));
	}
	for (size_t i = 0; i < r->n_pairs; i++) {
		const keten_recon_pair *p = &r->pairs[i];
		json_t *o = json_object();
		pair_names(&lb, o, p->payer, p->payee);
		json_object_set_new(o, "lines", json_integer((json_int_t)p->n_lines));
		json_array_append_new(pairs,
		                      amounts_json(o, p->agreed_cents, p->delivered_units, p->claimed_cents,
		                                   p->paid_cents, p->received_cents, p->outstanding_cents,
		                                   p->overdue_cents));
	}
	for (size_t i = 0; i < r->n_findings; i++) {
		const keten_recon_finding *f = &r->findings[i];
		json_t *o = json_object(), *ev = json_array();
		json_object_set_new(o, "kind", json_string(f->kind));
		if (meanings)
			json_object_set_new(o, "meaning", json_string(keten_recon_kind_meaning(f->kind)));
		json_object_set_new(o, "subject", key_or_null(f->subject));
		pair_names(&lb, o, f->payer, f->payee);
		json_object_set_new(o, "amount_cents", json_integer(f->amount_cents));
		for (size_t j = 0; j < f->n_ids; j++) {
			json_t *e = json_object();
			json_object_set_new(e, "id", keten_json_hex(f->ids[j], 32));
			json_object_set_new(e, "type", json_string(keten_json_entry_type(t, f->ids[j])));
			json_array_append_new(ev, e);
		}
		json_object_set_new(o, "evidence", ev);
		json_object_set_new(o, "detail", json_string(f->detail));
		json_array_append_new(fs, o);
	}
	json_object_set_new(root, "lines", lines);
	json_object_set_new(root, "pairs", pairs);
	json_object_set_new(root, "findings", fs);
	if (r->bank)
		json_object_set_new(root, "bank", keten_json_bank(r->bank));
	keten_json_labels_release(&lb);
	return root;
}

json_t *keten_json_bank(const keten_bank_result *b)
{
	json_t *bo = json_object(), *bl = json_array();

	json_object_set_new(bo, "from", keten_json_date(b->from));
	json_object_set_new(bo, "until", keten_json_date(b->until));
	json_object_set_new(bo, "matched", json_integer((json_int_t)b->matched));
	json_object_set_new(bo, "amount_differs", json_integer((json_int_t)b->amount_differs));
	json_object_set_new(bo, "duplicates", json_integer((json_int_t)b->duplicates));
	json_object_set_new(bo, "bank_only", json_integer((json_int_t)b->bank_only));
	json_object_set_new(bo, "ledger_only", json_integer((json_int_t)b->ledger_only));
	json_object_set_new(bo, "balances",
	                    json_string(!b->has_balances        ? "incomplete"
	                                        : b->balance_ok ? "agree"
	                                                        : "differ"));
	json_object_set_new(bo, "opening_cents", json_integer(b->opening_cents));
	json_object_set_new(bo, "closing_cents", json_integer(b->closing_cents));
	json_object_set_new(bo, "computed_cents", json_integer(b->computed_cents));
	for (size_t i = 0; i < b->n_lines; i++) {
		const keten_bank_line *l = &b->lines[i];
		json_t *o = json_object();
		json_object_set_new(o, "status", json_string(keten_bank_status_name(l->status)));
		json_object_set_new(o, "how", json_string(l->how));
		json_object_set_new(o, "line", l->file_line ? json_integer((json_int_t)l->file_line) : json_null());
		json_object_set_new(o, "bank_cents",
		                    l->status == KETEN_LEDGER_ONLY ? json_null() : json_integer(l->bank_cents));
		json_object_set_new(o, "booked", l->bank_date ? keten_json_date(l->bank_date) : json_null());
		json_object_set_new(o, "bank_ref", json_string(l->bank_ref));
		json_object_set_new(o, "payment", l->has_payment ? key_or_null(l->payment) : json_null());
		json_object_set_new(o, "ledger_cents", l->has_payment ? json_integer(l->ledger_cents) : json_null());
		json_object_set_new(o, "paid_on", l->has_payment ? keten_json_date(l->ledger_date) : json_null());
		json_object_set_new(o, "ledger_ref", json_string(l->ledger_ref));
		json_array_append_new(bl, o);
	}
	json_object_set_new(bo, "lines", bl);
	return bo;
}

/* Hundredths as a number: an integer when whole, else a real. */
static json_t *units_json(int64_t u)
{
	return u % 100 ? json_real((double)u / 100.0) : json_integer(u / 100);
}

/* A report row's outcomes, stops, maatwerk and care. */
static void report_care_json(json_t *o, const keten_report_row *row)
{
	json_t *out = json_object(), *vol = json_object();

	json_object_set_new(out, "achieved", json_integer((json_int_t)row->achieved));
	json_object_set_new(out, "partial", json_integer((json_int_t)row->partial));
	json_object_set_new(out, "not_achieved", json_integer((json_int_t)row->not_achieved));
	json_object_set_new(out, "stopped", json_integer((json_int_t)row->stopped));
	json_object_set_new(o, "outcomes", out);
	json_object_set_new(o, "dropouts", json_integer((json_int_t)row->dropouts));
	json_object_set_new(o, "other_stops", json_integer((json_int_t)row->other_stops));
	json_object_set_new(o, "maatwerk", json_integer((json_int_t)row->maatwerk));
	json_object_set_new(o, "maatwerk_cents", json_integer(row->maatwerk_cents));
	json_object_set_new(o, "cost_per_client_cents", json_integer(row->cost_per_client_cents));
	for (size_t v = 0; v < row->n_volumes; v++)
		json_object_set_new(vol, row->volumes[v].unit, units_json(row->volumes[v].units));
	json_object_set_new(o, "delivered_by_unit", vol);
	json_object_set_new(o, "duurzaam_paid_months", json_integer((json_int_t)row->duurzaam_paid_months));
	json_object_set_new(o, "duurzaam_unserved_months", json_integer((json_int_t)row->duurzaam_unserved_months));
	json_object_set_new(o, "duurzaam_hours_per_paid_month", units_json(row->duurzaam_hours_per_paid_month));
}

json_t *keten_json_report(keten_txn *t, const keten_report *rep, keten_report_by by)
{
	json_t *root = json_object(), *rows = json_array();
	keten_json_labels lb = {.t = t};

	json_object_set_new(root, "by", json_string(keten_report_by_name(by)));
	for (size_t i = 0; i <= rep->n_rows; i++) {
		const keten_report_row *row = i < rep->n_rows ? &rep->rows[i] : &rep->total;
		json_t *o = json_object(), *stops = json_object();
		uint8_t k[32];
		json_object_set_new(o, "group", json_string(row->key));
		if (by == KETEN_REPORT_PROVIDER && strlen(row->key) == 64 && keten_unhex(k, 32, row->key) == 0)
			json_object_set_new(o, "label", json_string(keten_json_label(&lb, k)));
		else
			json_object_set_new(o, "label", json_string(row->key));
		json_object_set_new(o, "allocations", json_integer((json_int_t)row->allocations));
		json_object_set_new(o, "clients", json_integer((json_int_t)row->clients));
		json_object_set_new(o, "allocated_cents", json_integer(row->allocated_cents));
		json_object_set_new(o, "paid_cents", json_integer(row->paid_cents));
		json_object_set_new(o, "subcontracted_cents", json_integer(row->subcontracted_cents));
		json_object_set_new(o, "subcontract_paid_cents", json_integer(row->sub_paid_cents));
		json_object_set_new(o, "subcontracted_bp", json_integer(row->subcontracted_bp));
		json_object_set_new(o, "closed_herstel", json_integer((json_int_t)row->closed_herstel));
		json_object_set_new(o, "avg_trajectory_days", json_integer(row->avg_trajectory_days));
		json_object_set_new(o, "early_stops", json_integer((json_int_t)row->early_stops));
		for (size_t s = 0; s < row->n_stops; s++)
			json_object_set_new(stops, row->stops[s].code, json_integer((json_int_t)row->stops[s].n));
		json_object_set_new(o, "early_stops_by_code", stops);
		json_object_set_new(o, "rijgen", json_integer((json_int_t)row->rijgen));
		json_object_set_new(o, "payments", json_integer((json_int_t)row->payments));
		json_object_set_new(o, "delay_median_days", json_integer(row->delay_median_days));
		json_object_set_new(o, "delay_p90_days", json_integer(row->delay_p90_days));
		report_care_json(o, row);
		if (i < rep->n_rows)
			json_array_append_new(rows, o);
		else
			json_object_set_new(root, "total", o);
	}
	json_object_set_new(root, "rows", rows);
	keten_json_labels_release(&lb);
	return root;
}

/* Disputes -------------------------------------------------------------------- */

static int summary_cb(keten_txn *t, const Keten__State__DisputeState *d, void *p)
{
	json_t *arr = p, *o = json_object(), *ents = json_array();
	char name[128];
	bool ruled = kt_dispute_ruled(d);

	json_object_set_new(o, "id", keten_json_hex(d->id.data, 32));
	json_object_set_new(o, "status", json_string(ruled ? "ruled" : "open"));
	json_object_set_new(o, "opener", keten_json_hex(d->opener.data, 32));
	if (!keten_json_party_name(t, d->opener.data, name, sizeof name)[0])
		keten_hex(name, d->opener.data, 8);
	json_object_set_new(o, "opener_name", json_string(name));
	json_object_set_new(o, "opened", keten_json_date(keten_date_of_ms(d->opened_ms)));
	json_object_set_new(o, "opened_ms", json_integer(d->opened_ms));
	for (size_t i = 0; i < d->n_entries; i++)
		json_array_append_new(ents, keten_json_hex(d->entries[i].data, 32));
	json_object_set_new(o, "entries", ents);
	if (d->amount_cents > 0)
		json_object_set_new(o, "amount_cents", json_integer(d->amount_cents));
	json_object_set_new(o, "text", json_string(d->text ? d->text : ""));
	json_object_set_new(o, "responses", json_integer((json_int_t)d->n_responses));
	if (ruled)
		json_object_set_new(o, "ruling", keten_json_hex(d->ruling.data, 32));
	json_array_append_new(arr, o);
	return 0;
}

int keten_json_disputes(keten_txn *t, bool open_only, json_t **out, keten_error *err)
{
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if ((rc = kt_dispute_each(t, open_only, summary_cb, arr, err))) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return KETEN_OK;
}

/* One disputed entry as evidence. */
static json_t *evidence_json(keten_txn *t, const uint8_t id[32])
{
	json_t *o = json_object();
	keten_entry e;
	keten_status st = 0;
	char rule[48] = "";

	json_object_set_new(o, "id", keten_json_hex(id, 32));
	if (keten_store_get_entry(t, id, &e, NULL)) {
		json_object_set_new(o, "status", json_string("missing"));
		return o;
	}
	keten_store_status(t, id, &st, rule, sizeof rule, NULL);
	json_object_set_new(o, "type", json_string(keten_body_type_name(e.body_type)));
	keten_json_set_party(t, o, "author", e.author);
	json_object_set_new(o, "seq", json_integer((json_int_t)e.seq));
	json_object_set_new(o, "timestamp_ms", json_integer(e.timestamp_ms));
	json_object_set_new(o, "status", json_string(keten_json_status_name(st)));
	if (rule[0])
		json_object_set_new(o, "rule", json_string(rule));
	json_object_set_new(o, "signature_ok", json_boolean(keten_entry_verify(&e) == KETEN_OK));
	json_object_set_new(o, "under_open_dispute", json_boolean(kt_entry_under_open_dispute(t, id)));
	json_object_set_new(o, "fields", e.has_body ? keten_json_body(e.body_type, e.body, e.body_len) : json_null());
	if (!e.has_body)
		json_object_set_new(o, "withheld", json_true());
	keten_entry_release(&e);
	return o;
}

struct timed {
	int64_t ms;
	json_t *o;
};

static int cmp_timed(const void *x, const void *y)
{
	const struct timed *a = x, *b = y;
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	return strcmp(json_string_value(json_object_get(a->o, "id")), json_string_value(json_object_get(b->o, "id")));
}

static json_t *response_json(keten_txn *t, const uint8_t id[32], int64_t *ms)
{
	json_t *o = json_object();
	keten_entry e;

	json_object_set_new(o, "id", keten_json_hex(id, 32));
	*ms = 0;
	if (keten_store_get_entry(t, id, &e, NULL))
		return o;
	*ms = e.timestamp_ms;
	keten_json_set_party(t, o, "author", e.author);
	json_object_set_new(o, "timestamp_ms", json_integer(e.timestamp_ms));
	json_object_set_new(o, "signature_ok", json_boolean(keten_entry_verify(&e) == KETEN_OK));
	if (e.has_body) {
		Keten__Response *r = keten__response__unpack(NULL, e.body_len, e.body);
		if (r) {
			json_t *ents = json_array();
			json_object_set_new(o, "text", json_string(r->text ? r->text : ""));
			for (size_t i = 0; i < r->n_entries; i++)
				if (r->entries[i].len == 32)
					json_array_append_new(ents, keten_json_hex(r->entries[i].data, 32));
			json_object_set_new(o, "entries", ents);
			keten__response__free_unpacked(r, NULL);
		}
	}
	keten_entry_release(&e);
	return o;
}

static json_t *ruling_json(keten_txn *t, const Keten__State__DisputeState *d)
{
	json_t *o = json_object(), *adj = json_array();
	keten_entry e;

	json_object_set_new(o, "id", keten_json_hex(d->ruling.data, 32));
	if (d->has_ruler && d->ruler.len == 32)
		keten_json_set_party(t, o, "ruler", d->ruler.data);
	json_object_set_new(o, "timestamp_ms", json_integer(d->ruled_ms));
	if (keten_store_get_entry(t, d->ruling.data, &e, NULL) == 0) {
		json_object_set_new(o, "signature_ok", json_boolean(keten_entry_verify(&e) == KETEN_OK));
		if (e.has_body) {
			Keten__Ruling *r = keten__ruling__unpack(NULL, e.body_len, e.body);
			if (r) {
				json_object_set_new(o, "decision", json_string(r->decision ? r->decision : ""));
				keten__ruling__free_unpacked(r, NULL);
			}
		}
		keten_entry_release(&e);
	}
	for (size_t i = 0; i < d->n_adjustments; i++) {
		const Keten__State__DisputeAdjustment *x = d->adjustments[i];
		json_t *a = json_object();
		keten_json_set_party(t, a, "debtor", x->debtor.data);
		keten_json_set_party(t, a, "creditor", x->creditor.data);
		json_object_set_new(a, "amount_cents", json_integer(x->amount_cents));
		json_array_append_new(adj, a);
	}
	json_object_set_new(o, "adjustments", adj);
	return o;
}

int keten_json_dispute(keten_txn *t, const uint8_t id[32], json_t **out, keten_error *err)
{
	Keten__State__DisputeState *d = NULL;
	json_t *o, *ev, *resp, *aud;
	struct timed *tr;
	keten_entry e;
	int rc;

	*out = NULL;
	if ((rc = kt_dispute_load(t, id, &d, err)))
		return rc;
	if (!(tr = calloc(d->n_responses ? d->n_responses : 1, sizeof *tr))) {
		keten__state__dispute_state__free_unpacked(d, NULL);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	o = json_object();
	ev = json_array();
	resp = json_array();
	aud = json_array();
	json_object_set_new(o, "id", keten_json_hex(d->id.data, 32));
	json_object_set_new(o, "status", json_string(kt_dispute_ruled(d) ? "ruled" : "open"));
	keten_json_set_party(t, o, "opener", d->opener.data);
	json_object_set_new(o, "opened", keten_json_date(keten_date_of_ms(d->opened_ms)));
	json_object_set_new(o, "opened_ms", json_integer(d->opened_ms));
	json_object_set_new(o, "text", json_string(d->text ? d->text : ""));
	if (d->amount_cents > 0)
		json_object_set_new(o, "amount_cents", json_integer(d->amount_cents));
	if (keten_store_get_entry(t, d->id.data, &e, NULL) == 0) {
		json_object_set_new(o, "signature_ok", json_boolean(keten_entry_verify(&e) == KETEN_OK));
		for (size_t i = 0; i < e.n_audience; i++)
			json_array_append_new(aud, keten_json_hex(e.audience[i], 32));
		keten_entry_release(&e);
	}
	json_object_set_new(o, "audience", aud);
	for (size_t i = 0; i < d->n_entries; i++)
		json_array_append_new(ev, evidence_json(t, d->entries[i].data));
	json_object_set_new(o, "evidence", ev);
	for (size_t i = 0; i < d->n_responses; i++)
		tr[i].o = response_json(t, d->responses[i].data, &tr[i].ms);
	qsort(tr, d->n_responses, sizeof *tr, cmp_timed);
	for (size_t i = 0; i < d->n_responses; i++)
		json_array_append_new(resp, tr[i].o);
	free(tr);
	json_object_set_new(o, "responses", resp);
	json_object_set_new(o, "ruling", kt_dispute_ruled(d) ? ruling_json(t, d) : json_null());
	keten__state__dispute_state__free_unpacked(d, NULL);
	*out = o;
	return KETEN_OK;
}
