/*
 * fields.c — an entry body as JSON, by walking protobuf-c's descriptors,
 * so every body type prints without a hand-written printer.  32-byte
 * fields (keys, ids, hashes) print as hex; dates (uint32 fields whose name
 * is a date) as YYYY-MM-DD; enums by their name.
 */
#include <string.h>

#include "cli.h"
#include "fields.h"
#include "keten.pb-c.h"

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
};

static bool is_date_field(const char *name)
{
	return strcmp(name, "date") == 0 || strcmp(name, "start") == 0 || strcmp(name, "end") == 0 ||
	       strncmp(name, "valid_", 6) == 0;
}

static json_t *message_json(const ProtobufCMessage *m);

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	char buf[80];
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: {
		uint32_t v = *(const uint32_t *)p;
		if (is_date_field(f->name) && v) {
			keten_format_date(buf, sizeof buf, v);
			return json_string(buf);
		}
		return json_integer(v);
	}
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		return json_integer((json_int_t) * (const uint64_t *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
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
	case PROTOBUF_C_TYPE_MESSAGE:
		return message_json(*(ProtobufCMessage *const *)p);
	default:
		return json_null();
	}
}

static size_t field_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
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

json_t *cli_body_json(uint32_t type, const uint8_t *body, size_t len)
{
	ProtobufCMessage *m;
	json_t *o;
	if (type >= sizeof descs / sizeof *descs || !descs[type])
		return json_null();
	m = protobuf_c_message_unpack(descs[type], NULL, len, body);
	if (!m)
		return json_null();
	o = message_json(m);
	protobuf_c_message_free_unpacked(m, NULL);
	return o;
}
