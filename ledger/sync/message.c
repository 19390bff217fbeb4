/*
 * message.c — the messages of the sync protocol as bytes: decoding with a
 * capped allocator (protobuf-c allocates many times its input, so every
 * message is size-checked before it is decoded and decoded on a budget),
 * packing replies and requests, Error replies, and the descriptions of
 * replies and round figures for logs.  The
 * server (server.c) and the client (client.c) build on these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync.h"
#include "base/base.h"

#define CAP_HDR 16u

void *kt_capped_alloc(void *data, size_t size)
{
	struct kt_capped *c = data;
	uint8_t *p;
	if (size > c->cap - c->used)
		return NULL;
	p = malloc(size + CAP_HDR);
	if (!p)
		return NULL;
	memcpy(p, &size, sizeof size);
	c->used += size;
	return p + CAP_HDR;
}

void kt_capped_free(void *data, void *ptr)
{
	struct kt_capped *c = data;
	size_t size;
	uint8_t *p = ptr;
	if (!p)
		return;
	p -= CAP_HDR;
	memcpy(&size, p, sizeof size);
	c->used -= size;
	free(p);
}
int kt_sync_pack_reply(const Keten__Sync__Reply *r, uint8_t **out, size_t *len)
{
	size_t n = keten__sync__reply__get_packed_size(r);
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		return KETEN_ENOMEM;
	keten__sync__reply__pack(r, b);
	*out = b;
	*len = n;
	return KETEN_OK;
}

int kt_sync_pack_request(const Keten__Sync__Request *r, uint8_t **out, size_t *len)
{
	size_t n = keten__sync__request__get_packed_size(r);
	uint8_t *b;
	KETEN_ASSERT(n <= KETEN_SYNC_MAX_REQUEST); /* what a client asks is small */
	if (!(b = malloc(n ? n : 1)))
		return KETEN_ENOMEM;
	keten__sync__request__pack(r, b);
	*out = b;
	*len = n;
	return KETEN_OK;
}

const char *kt_sync_code_name(int code)
{
	switch (code) {
	case KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED: return "unauthenticated";
	case KETEN__SYNC__ERROR_CODE__MALFORMED: return "malformed";
	case KETEN__SYNC__ERROR_CODE__TOO_LARGE: return "too-large";
	case KETEN__SYNC__ERROR_CODE__RATE_LIMITED: return "rate-limited";
	case KETEN__SYNC__ERROR_CODE__UNKNOWN_TYPE: return "unknown-type";
	case KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED: return "not-certified";
	case KETEN__SYNC__ERROR_CODE__BAD_SIGNATURE: return "bad-signature";
	case KETEN__SYNC__ERROR_CODE__INTERNAL: return "internal";
	case KETEN__SYNC__ERROR_CODE__VERSION: return "version";
	case KETEN__SYNC__ERROR_CODE__WRONG_SERVER: return "wrong-server";
	default: return "unknown-error";
	}
}

/* Send an Error reply, note why, and return `ret`. */
int kt_sync_error_reply(Keten__Sync__ErrorCode code, const char *text, int ret, uint8_t **out, size_t *len,
                        keten_error *note)
{
	Keten__Sync__Reply r = KETEN__SYNC__REPLY__INIT;
	Keten__Sync__Error e = KETEN__SYNC__ERROR__INIT;
	e.code = code;
	e.text = (char *)text;
	r.msg_case = KETEN__SYNC__REPLY__MSG_ERROR;
	r.error = &e;
	if (kt_sync_pack_reply(&r, out, len))
		return keten_fail(note, KETEN_ENOMEM, NULL);
	keten_fail(note, ret, "%s: %s", kt_sync_code_name(code), text);
	return ret;
}

/* Copy printable ASCII of a peer's text, for logs. */
void kt_sync_clean_text(char *dst, size_t n, const char *src)
{
	size_t j = 0;
	for (size_t i = 0; src && src[i] && j + 1 < n; i++)
		dst[j++] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[j] = 0;
}

int keten_sync_describe_reply(const uint8_t *reply, size_t len, int *error_code, char *buf, size_t buflen)
{
	struct kt_capped cap = {0, KT_SYNC_REPLY_CAP};
	ProtobufCAllocator a = {kt_capped_alloc, kt_capped_free, &cap};
	Keten__Sync__Reply *r;
	int kind;
	char text[200];

	*error_code = 0;
	if (len > KETEN_SYNC_MAX_REPLY + KT_SYNC_FRAME_SLACK || !(r = keten__sync__reply__unpack(&a, len, reply))) {
		snprintf(buf, buflen, "undecodable reply (%zu bytes)", len);
		return 0;
	}
	kind = (int)r->msg_case;
	switch (r->msg_case) {
	case KETEN__SYNC__REPLY__MSG_CHALLENGE: snprintf(buf, buflen, "challenge"); break;
	case KETEN__SYNC__REPLY__MSG_AUTH_OK: snprintf(buf, buflen, "auth-ok"); break;
	case KETEN__SYNC__REPLY__MSG_ACK: snprintf(buf, buflen, "ack"); break;
	case KETEN__SYNC__REPLY__MSG_HEADS: snprintf(buf, buflen, "heads (%zu feeds)", r->heads->n_heads); break;
	case KETEN__SYNC__REPLY__MSG_ENTRIES: snprintf(buf, buflen, "entries (%zu)", r->entries->n_entry); break;
	case KETEN__SYNC__REPLY__MSG_SEALED: snprintf(buf, buflen, "sealed (%zu bytes)", r->sealed->box.len); break;
	case KETEN__SYNC__REPLY__MSG_ERROR:
		*error_code = (int)r->error->code;
		kt_sync_clean_text(text, sizeof text, r->error->text);
		snprintf(buf, buflen, "error %s: %s", kt_sync_code_name(r->error->code), text);
		break;
	default:
		snprintf(buf, buflen, "empty reply");
		kind = 0;
		break;
	}
	keten__sync__reply__free_unpacked(r, &a);
	return kind;
}

/* The public kinds and codes are the wire's numbers. */
#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " follows sync.proto")
SAME(KETEN_SYNC_REPLY_CHALLENGE, KETEN__SYNC__REPLY__MSG_CHALLENGE);
SAME(KETEN_SYNC_REPLY_AUTH_OK, KETEN__SYNC__REPLY__MSG_AUTH_OK);
SAME(KETEN_SYNC_REPLY_HEADS, KETEN__SYNC__REPLY__MSG_HEADS);
SAME(KETEN_SYNC_REPLY_ENTRIES, KETEN__SYNC__REPLY__MSG_ENTRIES);
SAME(KETEN_SYNC_REPLY_ERROR, KETEN__SYNC__REPLY__MSG_ERROR);
SAME(KETEN_SYNC_REPLY_ACK, KETEN__SYNC__REPLY__MSG_ACK);
SAME(KETEN_SYNC_REPLY_SEALED, KETEN__SYNC__REPLY__MSG_SEALED);
SAME(KETEN_SYNC_ERROR_UNAUTHENTICATED, KETEN__SYNC__ERROR_CODE__UNAUTHENTICATED);
SAME(KETEN_SYNC_ERROR_MALFORMED, KETEN__SYNC__ERROR_CODE__MALFORMED);
SAME(KETEN_SYNC_ERROR_TOO_LARGE, KETEN__SYNC__ERROR_CODE__TOO_LARGE);
SAME(KETEN_SYNC_ERROR_RATE_LIMITED, KETEN__SYNC__ERROR_CODE__RATE_LIMITED);
SAME(KETEN_SYNC_ERROR_UNKNOWN_TYPE, KETEN__SYNC__ERROR_CODE__UNKNOWN_TYPE);
SAME(KETEN_SYNC_ERROR_NOT_CERTIFIED, KETEN__SYNC__ERROR_CODE__NOT_CERTIFIED);
SAME(KETEN_SYNC_ERROR_BAD_SIGNATURE, KETEN__SYNC__ERROR_CODE__BAD_SIGNATURE);
SAME(KETEN_SYNC_ERROR_INTERNAL, KETEN__SYNC__ERROR_CODE__INTERNAL);
SAME(KETEN_SYNC_ERROR_VERSION, KETEN__SYNC__ERROR_CODE__VERSION);
SAME(KETEN_SYNC_ERROR_WRONG_SERVER, KETEN__SYNC__ERROR_CODE__WRONG_SERVER);
#undef SAME

void keten_sync_stats_text(const keten_sync_stats *st, char *buf, size_t len)
{
	size_t u;
	KETEN_ASSERT(st && buf && len > 0);
	snprintf(buf, len, "%zu entries (%zu stubs), %zu forks, %zu pending", st->entries, st->stubs, st->forks,
	         st->pending);
	u = strlen(buf);
	if (st->bodies)
		u += (size_t)snprintf(buf + u, len > u ? len - u : 0, ", %zu bodies", st->bodies);
	if (st->rejected)
		u += (size_t)snprintf(buf + u, len > u ? len - u : 0, ", %zu rejected", st->rejected);
	if (st->dropped)
		u += (size_t)snprintf(buf + u, len > u ? len - u : 0, ", %zu dropped", st->dropped);
	if (st->same && u < len)
		snprintf(buf + u, len - u, " (in sync)");
}
