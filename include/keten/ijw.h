/*
 * ijw.h — the region's own messages: iJw and iWmo release 3.2 XML (the
 * standard municipalities and providers already exchange), read into
 * keten entries without any personal data, for `keten ijw import` and
 * `keten ijw export --claims`.
 *
 * Eight messages are read, told apart by the namespace of their root
 * element (which must match their BerichtCode):
 *
 *   JW301 / WMO301  toewijzing (436 / 414), by a municipality
 *   JW305 / WMO305  start zorg (438 / 418), by the lead provider
 *   JW307 / WMO307  stop zorg  (440 / 420), by the lead provider
 *   JW323 / WMO323  declaratie (490 / 484), by the lead provider
 *
 * The reader (keten_ijw_parse) checks a message as a whole against the
 * 3.2 structure: the namespaces, every element in its place and order,
 * the required ones present, patterns and code lists (WJ756 units,
 * WMO757 frequencies, JZ002 change reasons, the stop codes' shape), the
 * BSN's 11-test, the declaration's sums (rule 9346: GeleverdVolume x
 * ProductTarief = IngediendBedrag; the lines add up to
 * TotaalIngediendBedrag).  It refuses a DOCTYPE and any entity
 * declaration before libxml2 sees the bytes, never touches the network,
 * and counts depth, attributes and elements in a pass over the bytes
 * before a tree is built (the limits below).
 *
 * Personal data never leaves the reader: Naam, Geboortedatum, Geslacht,
 * Contactgegevens, Relaties, Communicatie, JuridischeStatus,
 * WettelijkeVertegenwoordiging, Commentaar and every other free text are
 * checked to be present where the schema requires them and not read at
 * all.  The Bsn is read into a local buffer, checked, turned into a keyed
 * pseudonym (keten_ijw_pseudonym) and wiped; the message struct holds
 * the pseudonym only.  docs/ijw.md lists which field maps to which entry
 * field and what is dropped.
 */
#ifndef KETEN_IJW_H
#define KETEN_IJW_H

#include "keten/export.h"
#include "keten/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keten_error;
struct keten_ledger;
struct keten_txn;

/* Input limits (KETEN_IJW_MAX_*), checked on the bytes before a tree is
 * built: keten/limits.h. */

/* A client reference: "ijw-" and 24 letters a..p, the first 96 bits of
 * the keyed hash (see keten_ijw_pseudonym). */
#define KETEN_IJW_REF_LEN 28u

typedef enum keten_ijw_kind {
	KETEN_IJW_NONE = 0,
	KETEN_IJW_ALLOCATION, /* JW301 / WMO301 */
	KETEN_IJW_START,      /* JW305 / WMO305 */
	KETEN_IJW_STOP,       /* JW307 / WMO307 */
	KETEN_IJW_CLAIM,      /* JW323 / WMO323 */
} keten_ijw_kind;

/* A ToegewezenProduct (301), StartProduct (305) or StopProduct (307).
 * Codes are kept as the message writes them ("04", "45A03"); "" when
 * the element is absent. */
typedef struct keten_ijw_product {
	size_t line;               /* of the product element */
	char number[24];           /* ToewijzingNummer */
	char category[4], code[8]; /* Product/Categorie, Product/Code */
	uint32_t start;            /* 301 Ingangsdatum; 305/307 Begindatum */
	uint32_t end;              /* 301 Einddatum (0: open); 307 Einddatum */
	uint32_t allocation_start; /* 305/307 ToewijzingIngangsdatum (0: absent) */
	char change_reason[4];     /* 301 RedenWijziging (JZ002 / WMO002) */
	bool has_volume;           /* 301 Omvang */
	int64_t volume;            /* Omvang/Volume, a whole number of units */
	char unit[4];              /* Omvang/Eenheid, WJ756 code */
	char frequency[4];         /* Omvang/Frequentie, WMO757 code */
	bool has_budget;           /* 301 Budget */
	int64_t budget_cents;
	char stop_code[4]; /* 307 RedenBeeindiging */
	char status[4];    /* 305/307 StatusAanlevering (COD467) */
} keten_ijw_product;

/* A Prestatie of a declaration (323), numbered across its clients. */
typedef struct keten_ijw_prestatie {
	size_t line;
	size_t client;                          /* 1-based Client it belongs to */
	char client_ref[KETEN_IJW_REF_LEN + 1]; /* that client's pseudonym ("" without a key) */
	char reference[24];                     /* ProductReferentie/ReferentieNummer */
	char previous[24];                      /* ProductReferentie/VorigReferentieNummer ("" absent) */
	char number[24];                        /* ToewijzingNummer */
	char category[4], code[8];              /* ProductCategorie, ProductCode */
	uint32_t period_from, period_until;     /* ProductPeriode */
	int64_t volume;                         /* GeleverdVolume */
	char unit[4];                           /* Eenheid (WJ756) */
	bool has_tariff;
	int64_t tariff_cents; /* ProductTarief */
	int64_t amount_cents; /* IngediendBedrag/Bedrag, >= 0 */
	bool credit;          /* IngediendBedrag/DebetCredit C */
} keten_ijw_prestatie;

typedef struct keten_ijw_message {
	keten_ijw_kind kind;
	char name[8];            /* "JW301", "WMO323", ... */
	const char *domain;      /* "jeugd" or "wmo" (static) */
	uint32_t code;           /* BerichtCode */
	char sender[12];         /* Afzender: CBS code (301) or AGB code */
	char receiver[12];       /* Ontvanger */
	char identification[24]; /* BerichtIdentificatie/Identificatie */
	uint32_t dated;          /* BerichtIdentificatie/Dagtekening */
	/* 301, 305, 307: the one client's pseudonym ("" without a key) */
	char client_ref[KETEN_IJW_REF_LEN + 1];
	/* 323 */
	char claim_number[16];            /* DeclaratieNummer */
	uint32_t claim_from, claim_until; /* DeclaratiePeriode */
	uint32_t claim_date;              /* DeclaratieDagtekening */
	int64_t total_cents;              /* TotaalIngediendBedrag, signed: credit negative */
	size_t n_clients;
	size_t n_products;
	keten_ijw_product *products; /* owned, in message order */
	size_t n_prestaties;
	keten_ijw_prestatie *prestaties; /* owned, in message order */
	/* BLAKE2b-256 over the message's content as read (kind, sender,
	 * receiver and every field above but the BerichtIdentificatie): the
	 * same message, however it is laid out, has the same digest. */
	uint8_t digest[32];
} keten_ijw_message;

/*
 * Read one iJw or iWmo 3.2 message from len bytes at xml (UTF-8; a byte
 * order mark is allowed; an XML declaration may name UTF-8 only).
 *   key  32 bytes that key the client pseudonyms; NULL leaves every
 *        client_ref "" (a dry reading).
 *   out  receives the message; the caller frees it with
 *        keten_ijw_release.  Cleared on failure.
 *   err  the message names the part of the message, the rule broken and
 *        where known the line: "ToegewezenProduct 2: Ingangsdatum
 *        '2026-13-01' is not a date (line 41)".  It never quotes a BSN
 *        or the contents of a personal element.
 * Errors: KETEN_EINVAL (NULL xml or out), KETEN_ENOMEM, KETEN_EMALFORMED
 * for input over the limits above, NUL bytes, an encoding other than
 * UTF-8, a DOCTYPE or entity declaration, XML that is not well-formed,
 * a root that is none of the eight messages, a BerichtCode or version
 * that does not fit its namespace, an element missing, unknown, out of
 * order or in the wrong namespace, an attribute, text where the schema
 * has none, a value that breaks its pattern or code list, a Bsn that
 * fails the 11-test, a ToewijzingNummer (301) or ReferentieNummer (323)
 * given twice, an end before its start, a prestatie outside the
 * declaration period, and sums that do not add up.
 */
KETEN_API int keten_ijw_parse(const uint8_t *xml, size_t len, const uint8_t key[32], keten_ijw_message *out,
                              struct keten_error *err);

/* Free what a message owns and clear it; safe on a cleared one and on NULL. */
KETEN_API void keten_ijw_release(keten_ijw_message *m);

/*
 * The client reference of a BSN under a municipality's key: "ijw-" and
 * the first 96 bits of BLAKE2b-256 keyed with key over
 * "keten/ijw/client/v1" || the nine digits, written as 24 letters a..p
 * (one per four bits: no digits, so that no reference can look like a
 * BSN to the ledger's text checks).  The same BSN under the same key
 * always gives the same reference; without the key it cannot be turned
 * back.
 *   bsn  nine digits (not checked here).
 *   out  KETEN_IJW_REF_LEN + 1 bytes.
 */
KETEN_API void keten_ijw_pseudonym(const uint8_t key[32], const char *bsn, char out[KETEN_IJW_REF_LEN + 1]);

/* Importing ------------------------------------------------------------------------ */

/* One entry an import recorded (or, when already imported, had recorded). */
typedef struct keten_ijw_entry {
	uint8_t id[32];
	uint32_t body_type;   /* keten_body_type_name() names it */
	char part[40];        /* "ToegewezenProduct 2", "Prestatie 3", ... */
	int64_t amount_cents; /* -1: none */
	char installment[16]; /* a claim's, else "" */
} keten_ijw_entry;

/* A product that asks for nothing to be recorded (a start of care). */
typedef struct keten_ijw_note {
	char part[40];
	char text[160];
} keten_ijw_note;

typedef struct keten_ijw_result {
	keten_ijw_kind kind;
	char name[8]; /* the message, "JW301" */
	bool already; /* imported before: nothing was added */
	size_t n_entries;
	keten_ijw_entry *entries; /* owned */
	size_t n_notes;
	keten_ijw_note *notes; /* owned */
	size_t n_faults;
	struct keten_error *faults; /* owned: every part that failed, msg starting with the part */
} keten_ijw_result;

/*
 * Read one message and append the entries it means by this home's key,
 * in one write transaction: all of them or none.  The message's digest
 * is recorded in the same transaction; a message whose digest is
 * recorded already adds nothing (out->already, with the entries it
 * recorded then).
 *   L     an open, unlocked ledger.
 *   xml   the file's bytes (not kept).
 *   out   the result; free it with keten_ijw_result_release in every
 *         case (on failure it holds the faults: every part refused,
 *         each message starting with the part, in message order).
 *   err   the first fault.
 * Who imports what: a 301 by the municipality whose CBS code is its
 * Afzender, to a certified lead provider whose AGB code is its
 * Ontvanger; a 305, 307 or 323 by the lead provider whose AGB code is
 * its Afzender, on allocations it holds of the municipality that is its
 * Ontvanger.  docs/ijw.md says what each product and prestatie becomes.
 * Errors: KETEN_EINVAL (NULL arguments), KETEN_EPERM (locked),
 * KETEN_ENOMEM, those of keten_ijw_parse, KETEN_ERULE for a part keten
 * refuses (err->rule: "ijw-sender", "ijw-receiver", "ijw-product",
 * "ijw-allocation", "ijw-claim", "ijw-status", "duplicate-allocation-number",
 * "not-a-replacement-reason", or a ledger rule), KETEN_EEXIST when another
 * import of the same message committed meanwhile, those of keten_record.
 */
KETEN_API int keten_ijw_import(struct keten_ledger *L, const uint8_t *xml, size_t len, keten_ijw_result *out,
                               struct keten_error *err);

/* Free what a result owns and clear it; safe on a cleared one and on NULL. */
KETEN_API void keten_ijw_result_release(keten_ijw_result *r);

/* The message's name for a kind and domain: "JW301", "WMO323", ... ("" for none). */
KETEN_API const char *keten_ijw_name(keten_ijw_kind kind, const char *domain);

/* Exporting ------------------------------------------------------------------------ */

/* One JW323-shaped prestatie line of a keten claim (no client data). */
typedef struct keten_ijw_line {
	char declaratie[24];       /* DeclaratieNummer: the claim number before '/', else the number */
	char referentie[48];       /* ReferentieNummer: after '/', else "" */
	char toewijzing[24];       /* ToewijzingNummer: the allocation's number ("" none) */
	char category[4], code[8]; /* ProductCategorie, ProductCode by the contract's mapping ("" none) */
	uint32_t period_from;      /* ProductPeriode: the claim's, else its month's (0: none) */
	uint32_t period_until;
	uint32_t date;        /* DeclaratieDagtekening: the claim's date */
	bool has_volume;      /* GeleverdVolume, Eenheid and ProductTarief where they follow */
	int64_t volume;       /* whole units */
	char unit[4];         /* WJ756 */
	int64_t tariff_cents; /* ProductTarief */
	int64_t amount_cents; /* IngediendBedrag */
	bool credit;          /* DebetCredit C: the credit line of a voided claim */
	uint8_t claim[32];    /* the keten claim */
	char installment[16]; /* keten's installment */
	char municipality[8]; /* Ontvanger: the allocation's CBS code */
} keten_ijw_line;

/*
 * The claims this home made on allocations (as their lead provider), as
 * JW323 prestatie lines, by claim date then id; a voided claim gives its
 * debit line and a credit line.
 *   t       a read transaction.
 *   me      this home's key.
 *   period  "YYYY-MM" or NULL: only claims whose product period (else
 *           the month claimed, else the claim date) lies in that month.
 *   out, n  a malloc'd array (free()); NULL and 0 when none.
 * Errors: KETEN_EINVAL (NULL arguments, a bad period), KETEN_ENOMEM,
 * those of the store.
 */
KETEN_API int keten_ijw_claims(struct keten_txn *t, const uint8_t me[32], const char *period, keten_ijw_line **out,
                               size_t *n, struct keten_error *err);

#endif
