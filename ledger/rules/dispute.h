/*
 * dispute.h — (internal) disputes, responses and rulings: their hard rules,
 * their derived state, and what reconciliation asks of them.
 *
 * Derived state, written in the same transaction as the entry:
 *   state  'D' || dispute id                      -> DisputeState
 *   index  'd' || disputed entry id || dispute id -> ""
 *   refs   disputed entry -> dispute, dispute -> response, dispute -> ruling
 *
 * A dispute names at least one stored entry; a response comes from a party
 * to the dispute (its opener, an author of a disputed entry, or a key in a
 * disputed entry's audience); a ruling comes from a municipality or
 * region, once per dispute, and may carry adjustments (who owes whom how
 * much).  A dispute is open until it is ruled.
 */
#ifndef KETEN_DISPUTE_H
#define KETEN_DISPUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/rules.h"

#define KETEN_STATE_DISPUTE   'D' /* state kind byte */
#define KETEN_INDEX_DISPUTED  'd' /* index kind byte */
#define KETEN_MAX_DISPUTED    64u /* entries one dispute or response may name */
#define KETEN_MAX_ADJUSTMENTS 64u /* adjustments one ruling may carry */

/* Rules and state of DISPUTE, RESPONSE and RULING bodies (called by apply.c). */
int kt_dispute_apply(kt_apply *a, keten_error *err);

/* The derived state of dispute id (free with
 * keten__state__dispute_state__free_unpacked).  KETEN_ENOTFOUND when no
 * dispute with that id is applied here. */
int kt_dispute_load(keten_txn *t, const uint8_t id[32], Keten__State__DisputeState **out, keten_error *err);

/* Is the dispute ruled? */
bool kt_dispute_ruled(const Keten__State__DisputeState *d);

/*
 * Call fn for every dispute applied here (only the open ones when
 * open_only), in id order.  fn returns 0 to go on, > 0 to stop (then the
 * walk returns 0), < 0 to stop with an error.  d is valid only during the
 * call; fn may read through t.
 */
typedef int (*kt_dispute_fn)(keten_txn *t, const Keten__State__DisputeState *d, void *ctx);
int kt_dispute_each(keten_txn *t, bool open_only, kt_dispute_fn fn, void *ctx, keten_error *err);

/* Iterate the open disputes: kt_dispute_each(t, true, ...). */
int kt_dispute_each_open(keten_txn *t, kt_dispute_fn fn, void *ctx, keten_error *err);

/* Is entry named by a dispute that is still open?  (false on store errors) */
bool kt_entry_under_open_dispute(keten_txn *t, const uint8_t entry[32]);

/*
 * The audience of a new dispute by `opener` over entries[0..n): the
 * opener; the author of each entry and the keys of its audience; then the
 * authorities of the entries' own municipality (kt_entry_municipalities,
 * not the municipalities their parties work in): each of those parties'
 * certifier and every municipality or region party not revoked that is
 * certified for one of those CBS codes.  When no entry's municipality can
 * be traced here, only the certifiers that are a municipality, region or
 * trust anchor.  Deduplicated, in
 * that order, at most KETEN_MAX_AUDIENCE keys; later ones are dropped.
 * out holds KETEN_MAX_AUDIENCE keys.  KETEN_ENOTFOUND when an entry is
 * not stored here.
 */
int kt_dispute_audience(keten_txn *t, const uint8_t opener[32], const uint8_t (*entries)[32], size_t n,
                        uint8_t (*out)[32], size_t *n_out, keten_error *err);

/* Is key a party to the dispute (opener, author of a disputed entry, or
 * in a disputed entry's audience)?  The rule 'not-a-party' of responses. */
bool kt_dispute_is_party(keten_txn *t, const Keten__State__DisputeState *d, const uint8_t key[32]);

#endif
