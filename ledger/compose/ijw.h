/*
 * ijw.h — (internal) importing an iJw / iWmo message (see keten/ijw.h):
 * ijw.c drives it (the pseudonym key, the digest, recording), ijw_find.c
 * finds what a message names in this node's state (the provider by its
 * AGB code, the contract line that maps a product, the allocation by its
 * ToewijzingNummer, a claim by its reference), ijw_map.c turns each
 * product and prestatie into a draft.
 */
#ifndef KETEN_COMPOSE_IJW_H
#define KETEN_COMPOSE_IJW_H

#include <stdbool.h>
#include <stdint.h>

#include "keten/keten.h"
#include "state/state.h"

/* One import in progress: the drafts it means, each with its part. */
typedef struct kt_ijw_job {
	keten_txn *t; /* a read transaction for the lookups */
	const keten_home_info *info;
	const keten_ijw_message *m;
	keten_draft *drafts;
	char (*parts)[40];
	size_t n, cap;
	keten_ijw_result *out; /* notes and faults go here */
	void **owned;          /* decoded contracts and strings the drafts point into */
	size_t n_owned, cap_owned;
	Keten__FrameworkContract **fcs; /* decoded contract bodies, by fc_ids */
	uint8_t (*fc_ids)[32];
	size_t n_fcs;
} kt_ijw_job;

/* Faults and notes ------------------------------------------------------------------ */

/* Record a refusal of `part` under `rule` (printf message); returns KETEN_ERULE,
 * or KETEN_ENOMEM when it could not be kept. */
int kt_ijw_refuse(kt_ijw_job *j, const char *part, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Keep err (from a lookup) as the fault of `part`: refused by `rule`, unless it is out of memory or the store's. */
int kt_ijw_fault(kt_ijw_job *j, const char *part, const char *rule, const keten_error *err);
int kt_ijw_note(kt_ijw_job *j, const char *part, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A new draft for part (zeroed, kind set); NULL without memory. */
keten_draft *kt_ijw_draft(kt_ijw_job *j, const char *part, keten_draft_kind kind);
/* Keep p (malloc'd, or a decoded contract when fc) until the job ends; returns p, NULL when p is NULL. */
char *kt_ijw_keep(kt_ijw_job *j, char *p);

/* Lookups (ijw_find.c) -------------------------------------------------------------- */

/* The one certified lead provider with this AGB code.  ENOTFOUND / EAMBIGUOUS with a message. */
int kt_ijw_provider(kt_ijw_job *j, const char *agb, uint8_t key[32], keten_error *err);

/* A contract line the product (category, code) maps to. */
typedef struct kt_ijw_line {
	uint8_t contract[32];
	const Keten__FrameworkContract *fc; /* kept by the job */
	const Keten__Tariff *tariff;        /* or */
	const Keten__Component *component;
} kt_ijw_line;

/* The line of a contract of the message's domain that covers municipality
 * cbs on `date` and maps (category, code).  ENOTFOUND / EAMBIGUOUS. */
int kt_ijw_mapping(kt_ijw_job *j, const char *cbs, uint32_t date, const char *category, const char *code,
                   kt_ijw_line *out, keten_error *err);
/* Does (category, code) map, in the allocation's contract, to its arrangement? */
bool kt_ijw_maps_to(kt_ijw_job *j, const Keten__State__AllocationState *as, const char *category, const char *code);

/*
 * The allocations of the message's domain that carry ToewijzingNummer
 * `number` in municipality cbs and that this home allocated (mine_as
 * municipality) or holds as their lead provider: up to max ids, in
 * id order (voided ones too); *n how many there are.
 */
int kt_ijw_by_number(kt_ijw_job *j, const char *cbs, const char *number, bool as_municipality, uint8_t (*ids)[32],
                     size_t max, size_t *n, keten_error *err);

/* The live claim of this home whose number ends in "/" reference.  ENOTFOUND. */
int kt_ijw_claim_by_reference(kt_ijw_job *j, const char *reference, uint8_t id[32], int64_t *amount_cents,
                              keten_error *err);

/* The allocation's derived record and its number; free with kt_state_free. */
int kt_ijw_allocation(kt_ijw_job *j, const uint8_t id[32], Keten__State__AllocationState **as, keten_error *err);

/* Changes and volumes (ijw_change.c) ---------------------------------------------------- */

/* A non-euro Omvang as the draft's volume (unit word, week | month | total). */
int kt_ijw_volume(kt_ijw_job *j, const char *part, const keten_ijw_product *p, keten_draft_allocation *a);
/* Along the chain of replacements from *as (id): the last one that starts
 * on or before day (0: the last one); id and *as follow. */
int kt_ijw_current_on(kt_ijw_job *j, uint8_t id[32], uint32_t day, Keten__State__AllocationState **as);
int kt_ijw_current(kt_ijw_job *j, uint8_t id[32], Keten__State__AllocationState **as);
/* A RedenWijziging on allocation old: a replacement draft (a becomes it,
 * with its own number when own_number, else none), or a close for a
 * reason that only ends it. */
int kt_ijw_replaces(kt_ijw_job *j, const char *part, const keten_ijw_product *p, const uint8_t old[32],
                    keten_draft_allocation *a, bool own_number);

/* Drafts per kind (ijw_map.c, ijw_claim.c) ------------------------------------------------ */

/* The first live allocation with ToewijzingNummer `number` in municipality
 * cbs that this home made (municipality) or holds as lead provider; *as
 * its record (free it).  Otherwise a refusal of part ("ijw-allocation"). */
int kt_ijw_named(kt_ijw_job *j, const char *part, const char *cbs, const char *number, bool municipality,
                 uint8_t id[32], Keten__State__AllocationState **as);
/* The message is the lead provider's: this home's AGB code is its Afzender ("ijw-sender"). */
int kt_ijw_lead_sends(kt_ijw_job *j);

int kt_ijw_map_allocation(kt_ijw_job *j);
int kt_ijw_map_start_stop(kt_ijw_job *j);
int kt_ijw_map_claim(kt_ijw_job *j);

#endif
