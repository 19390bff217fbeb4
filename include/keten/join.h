/*
 * join.h — joining a region in one step.
 *
 * An authority (a municipality or region whose home is its own trust
 * anchor) invites a party: keten_join_invite certifies the party's key
 * (the certificate entry keten_record appends for `keten party certify`)
 * and makes a join file.  The file holds the anchor's key and name, the
 * anchor's feed up to the new certificate (stubs, but certificates and
 * revocations in full: what makes the key valid, as signed entries), the
 * authority's node URLs with the key each answers with, and the CA of the
 * region's TLS certificates when there is one; all of it signed by the
 * anchor (proto/join.proto).
 *
 * The party's home takes the file with keten_join_apply: it checks every
 * part first (the file's signature by the anchor it names, every entry's
 * signature and link, a certificate by that anchor for this home's key)
 * and changes nothing when one fails; then it stores the entries as any
 * received ones (keten_ledger_ingest), trusts the anchor, keeps the
 * authority's nodes as peers with their keys pinned (keten_node_peer_add,
 * keten_node_pin_set) and the CA in the home (keten_node_tls_set).
 *
 * Refusals name their rule (KETEN_ERULE):
 *   invite-not-authority  the inviting home is not its own trust anchor
 *                         with role municipality or region;
 *   join-file             the bytes are not a join file of a known version
 *                         (damaged, cut, or a framing byte changed);
 *   join-signature        the anchor's signature over the file does not
 *                         verify: the file was changed after signing;
 *   join-chain            the entries are not the anchor's own feed, link
 *                         by link and signed, with a certificate by the
 *                         anchor for the invited key that is not revoked;
 *   join-other-key        the file invites another key than this home's;
 *   join-anchor           the file's anchor is not the one expected.
 */
#ifndef KETEN_JOIN_H
#define KETEN_JOIN_H

#include "keten/export.h"
#include "keten/record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_ledger;

#define KETEN_JOIN_VERSION   1u
#define KETEN_JOIN_MAX_NODES 16u
#define KETEN_JOIN_MAX_BYTES (16u * 1024u * 1024u) /* a larger file is refused unread */
#define KETEN_JOIN_MAX_CA    (256u * 1024u)        /* PEM bytes */

/* What keten_join_invite certifies and writes. */
typedef struct keten_invite {
	keten_draft_certificate cert; /* the key, name, roles, AGB, CBS codes, dates */
	const char *const *nodes;     /* the authority's node URLs (keten_node_url_ok) */
	size_t n_nodes;               /* at most KETEN_JOIN_MAX_NODES */
	const char *tls_ca;           /* a PEM file; NULL: the home's (keten_node_tls), if any */
} keten_invite;

/* What a join file says, and what keten_join_apply did with it. */
typedef struct keten_join_info {
	uint32_t version;
	uint8_t anchor[32];
	char anchor_name[256];
	uint8_t key[32];         /* the key invited */
	char name[256];          /* as certified */
	char roles[128];         /* role names joined by ',' */
	uint8_t certificate[32]; /* the certificate's entry id */
	int64_t made_ms;
	size_t n_entries; /* of the anchor's feed, 1 .. the certificate */
	size_t n_nodes;
	char nodes[KETEN_JOIN_MAX_NODES][400];
	uint8_t node_keys[KETEN_JOIN_MAX_NODES][32];
	bool has_ca;
	/* Set by keten_join_apply. */
	size_t added;          /* entries new to the home */
	size_t peers_added;    /* node URLs kept as peers and pinned */
	char ca_path[512];     /* where the CA was kept; "" when none came */
	bool anchor_was_known; /* the anchor was trusted here before */
} keten_join_info;

/*
 * Certify in->cert.key by this home (L open and unlocked) and make its
 * join file: *out (malloc'd, *out_len bytes) to hand to the party, and
 * *info (may be NULL) what it says.  The home must be an authority: its
 * own trust anchor with role municipality or region.  Errors: KETEN_ERULE
 * (invite-not-authority, or a rule of the certificate), KETEN_EINVAL (a
 * bad node URL, too many nodes, a CA file that is not PEM), KETEN_ENOTFOUND
 * (the CA file cannot be read), those of keten_record, KETEN_ENOMEM.
 */
KETEN_API int keten_join_invite(struct keten_ledger *L, const keten_invite *in, uint8_t **out, size_t *out_len,
                                keten_join_info *info, struct keten_error *err);

/*
 * Read and check a join file without a home: its framing, its signature
 * by the anchor it names and its entries (the rules join-file,
 * join-signature and join-chain above).  *info receives what it says.
 * Pure; for any input it returns an error or fills *info.
 */
KETEN_API int keten_join_read(const uint8_t *data, size_t len, keten_join_info *info, struct keten_error *err);

/*
 * Join the region of a join file (keten_join_read) with the home of L:
 * refused when the file invites another key (join-other-key) or, with
 * expect_anchor not NULL, when its anchor is another (join-anchor); then
 * the entries are stored, the anchor trusted, the nodes kept and pinned
 * and the CA kept as HOME/tls/ca.pem (the CA kept before, if any, and
 * this one).  A refusal changes nothing in the home.  Errors: those of
 * keten_join_read, KETEN_ERULE as said, those of keten_ledger_ingest
 * (all or nothing), store errors, KETEN_EIO (the CA file cannot be
 * written).
 */
KETEN_API int keten_join_apply(struct keten_ledger *L, const uint8_t *data, size_t len, const uint8_t *expect_anchor,
                               keten_join_info *info, struct keten_error *err);

#endif
