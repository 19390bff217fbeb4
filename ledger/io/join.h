/*
 * join.h — (internal) what the two halves of the join file share: the
 * signature's context, and the reader that keeps the decoded body for
 * keten_join_apply (join_read.c; join.c writes and applies).
 */
#ifndef KETEN_IO_JOIN_H
#define KETEN_IO_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "keten/keten.h"
#include "keten/join.h"
#include "proto/join.pb-c.h"

#define KT_JOIN_SIG_CONTEXT     "keten/join/v1"
#define KT_JOIN_SIG_CONTEXT_LEN 13u

/* msg (KT_JOIN_SIG_CONTEXT_LEN + len bytes) = context || body: what the
 * anchor signs. */
void kt_join_sig_msg(const uint8_t *body, size_t len, uint8_t *msg);

/* keten_join_read, keeping the checked body in *body for the caller to
 * free (keten__join__join_body__free_unpacked); NULL on failure. */
int kt_join_decode(const uint8_t *data, size_t len, keten_join_info *info, Keten__Join__JoinBody **body,
                   keten_error *err);

#endif
