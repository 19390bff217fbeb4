/*
 * contract.h — framework contracts (raamcontracten) as a node holds them:
 * finding one by what a person types, and reading its terms as plain
 * values for `keten contract show|list` and the dashboard.
 *
 * A contract is a FrameworkContract entry of a municipality or region
 * (see keten/record.h to write one) with the indexations applied to it
 * since.  Its derived record holds the reference, validity, payment term,
 * subcontract rule and indexations; the tariffs, components, municipalities,
 * early-stop rules, the final part due per stop code and the subcontract
 * tariffs are read from the signed body.
 */
#ifndef KETEN_CONTRACT_H
#define KETEN_CONTRACT_H

#include "keten/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keten/tariffs.h"

struct keten_error;
struct keten_txn;

/* The subcontract rule of a contract (the values of the ledger's
 * SubcontractRule). */
typedef enum keten_subcontract_rule {
	KETEN_SUB_FREE = 0,  /* any price */
	KETEN_SUB_FIXED = 1, /* the subcontract price equals the framework tariff */
	KETEN_SUB_MAX = 2,   /* at most the framework tariff */
} keten_subcontract_rule;

/*
 * The contract a person names: its reference (exactly), else an id or a
 * unique id prefix of at least KETEN_MIN_PREFIX hex digits.
 *   id  out: the contract's entry id.
 * Errors: KETEN_ENOTFOUND ("no framework contract 'WHAT' is known here"),
 * those of the store.
 */
KETEN_API int keten_contract_find(struct keten_txn *t, const char *what, uint8_t id[32], struct keten_error *err);

typedef struct keten_contract_tariff {
	const char *profile, *intensity;
	keten_kind kind; /* KETEN_KIND_HERSTEL or KETEN_KIND_DUURZAAM */
	int64_t cents;   /* as signed */
	bool has_cents_now;
	int64_t cents_now; /* indexed to this year (false on overflow) */
} keten_contract_tariff;

typedef struct keten_contract_component {
	const char *code, *unit;
	int64_t cents_per_unit;
} keten_contract_component;

typedef struct keten_contract_stop_rule {
	const char *stop_code;
	uint32_t reclaim_bp;       /* share of the up-front part reclaimed */
	bool subcontractor_shares; /* passed on to subcontractors pro rata */
} keten_contract_stop_rule;

/* The share of the final part due after a stop with one code: every
 * code of the domain's list but 20 (a pause, which ends nothing). */
typedef struct keten_contract_stop_final {
	const char *stop_code;
	const char *label;  /* the list's name of the code */
	uint32_t final_bp;  /* basis points of the final part still due */
	bool from_contract; /* signed in the contract; false: keten's default */
} keten_contract_stop_final;

typedef struct keten_contract_indexation {
	uint32_t year; /* from 1 January */
	int32_t bp;
} keten_contract_indexation;

/* A line of the subcontract tariffs (see keten/tariffs.h). */
typedef struct keten_contract_sub_tariff {
	const char *service, *name; /* name "" when none */
	const char *unit;           /* per unit: a WJ756 word; NULL when share-priced */
	int64_t cents;              /* per unit, as signed (never indexed); 0 when share-priced */
	uint32_t share_bp;          /* share-priced: of the arrangement; 0 per unit */
} keten_contract_sub_tariff;

/* A contract's terms.  Every pointer is owned by the view (free it with
 * keten_contract_view_release). */
typedef struct keten_contract_view {
	uint8_t id[32];
	uint8_t author[32];
	const char *ref;
	const char *domain; /* jeugd | wmo */
	uint32_t valid_from, valid_until;
	uint32_t payment_term_days;
	keten_subcontract_rule subcontract_rule;
	uint32_t max_margin_bp; /* 0: unbounded */
	bool sub_subcontracting;
	size_t n_indexations;
	keten_contract_indexation *indexations;
	/* From the signed body; has_body false (and the lists empty) when
	 * this node holds only the derived record. */
	bool has_body;
	size_t n_municipalities;
	const char *const *municipalities; /* CBS codes */
	size_t n_tariffs;
	keten_contract_tariff *tariffs;
	size_t n_components;
	keten_contract_component *components;
	size_t n_early_stop;
	keten_contract_stop_rule *early_stop;
	size_t n_stop_final;
	keten_contract_stop_final *stop_final;
	size_t n_sub_tariffs; /* the subcontract tariff table, in signed order */
	keten_contract_sub_tariff *sub_tariffs;
	/* The terms of a change and of volumes (the defaults when the
	 * contract names none: 42 and 84 days, 8000 bp; docs/money.md). */
	uint32_t change_window_days, heavy_window_days;
	size_t n_heavy_intensities;
	const char *const *heavy_intensities;
	uint32_t delivered_below_bp;
	void *priv; /* the decoded records the strings point into */
} keten_contract_view;

/*
 * The terms of the contract with entry id `id`, applied here.
 *   out  cleared on failure.
 * Errors: KETEN_ENOTFOUND (no contract with that id is applied here),
 * KETEN_ENOMEM, those of the store.
 */
KETEN_API int keten_contract_get(struct keten_txn *t, const uint8_t id[32], keten_contract_view *out,
                                 struct keten_error *err);

/* Free what a view owns and clear it; safe on a cleared view and on NULL. */
KETEN_API void keten_contract_view_release(keten_contract_view *v);

/* Return 0 to go on, > 0 to stop (the walk then returns 0), < 0 to stop
 * with an error (KETEN_EINVAL).  The view is valid only during the call. */
typedef int (*keten_contract_fn)(const keten_contract_view *c, void *ctx);

/* Call fn for every contract applied here, in id order.  Errors: those
 * of the store, KETEN_ENOMEM, KETEN_EINVAL when fn stops with an error. */
KETEN_API int keten_contract_each(struct keten_txn *t, keten_contract_fn fn, void *ctx, struct keten_error *err);

#endif
