/*
 * verify.h — the auditor's full check of a ledger: every stored entry is
 * re-parsed from its bytes (framing, body hash), its id recomputed and
 * compared with the id stored beside it (and the id index leading back to
 * it), its signature checked — on several threads — and then, feed by
 * feed, every chain link and the author's certificate at the entry's
 * time.  The fork proofs held are listed, and every other node's
 * checkpoint held here is compared with this node's feeds (as
 * keten_checkpoints_check does): a head that names another entry at a seq
 * than this node's feed holds is an equivocation on one side, a problem
 * as a fork proof is.  `keten verify` prints the report; the dashboard
 * can offer the same check through the same call.
 */
#ifndef KETEN_VERIFY_H
#define KETEN_VERIFY_H

#include "keten/keten.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KETEN_VERIFY_MAX_JOBS 256u

typedef struct keten_verify_opts {
	unsigned jobs; /* threads that check signatures (0: one per core), at most KETEN_VERIFY_MAX_JOBS */
	/* Called once, before the signatures are checked, with the number of
	 * entries and threads (for a progress line); may be NULL. */
	void (*progress)(void *ctx, size_t entries, unsigned jobs);
	void *progress_ctx;
} keten_verify_opts;

/* An entry that fails the check, at its place in its feed. */
typedef struct keten_verify_bad {
	uint8_t id[32]; /* the id stored with it (zero when its record is too short to hold one) */
	uint8_t author[32];
	uint64_t seq;
	const char *problem; /* a fixed text ("signature does not verify", ...) */
} keten_verify_bad;

/* A fork proof held here: author signed id at seq besides its feed's entry. */
typedef struct keten_verify_fork {
	uint8_t author[32];
	uint64_t seq;
	uint8_t id[32];
} keten_verify_fork;

/* Another node's checkpoint that conflicts with this node's feeds. */
typedef struct keten_verify_conflict {
	uint8_t id[32];     /* the checkpoint entry */
	uint8_t author[32]; /* the node that signed it */
	bool malformed;     /* it does not check at all; problem says why */
	size_t differ;      /* heads that name another entry than our feed holds */
	uint8_t feed[32];   /* the first of them: its feed and seq */
	uint64_t seq;
	char problem[400];
} keten_verify_conflict;

typedef struct keten_verify_report {
	size_t entries;        /* stored entries (log records) */
	size_t feeds;          /* feeds they are in */
	size_t signatures;     /* entries whose bytes, id and signature checked */
	keten_verify_bad *bad; /* in feed order (author, seq) */
	size_t n_bad;
	keten_verify_fork *forks; /* in (author, seq, id) order */
	size_t n_forks;
	size_t checkpoints;               /* other nodes' checkpoints compared */
	keten_verify_conflict *conflicts; /* in time order */
	size_t n_conflicts;
} keten_verify_report;

/*
 * Check every entry, fork proof and checkpoint of L (which need not be
 * unlocked) as above, in one read transaction, into *out (owned by the
 * caller: keten_verify_report_release; cleared on failure).  Findings are
 * not errors: the ledger verifies when out->n_bad, out->n_forks and
 * out->n_conflicts are all 0.  opts may be NULL (all cores, no progress).
 * Errors: KETEN_EINVAL (more than KETEN_VERIFY_MAX_JOBS jobs), store
 * errors, KETEN_ENOMEM.
 */
KETEN_API int keten_ledger_verify(keten_ledger *L, const keten_verify_opts *opts, keten_verify_report *out,
                                  keten_error *err);

/* Free what a report holds and clear it; NULL does nothing. */
KETEN_API void keten_verify_report_release(keten_verify_report *r);

#endif
