/*
 * test_dated.c — unit tests for dated, numbered claims (ledger/rules/
 * claim.c) as they arrive from another home: one municipality home that
 * is its own trust anchor holds a contract and a herstel allocation; the
 * lead provider's claims are signed here with its own key (dated
 * 2026-12-01 by their entries) and arrive by keten_ledger_ingest, as an
 * import would bring them.  Checked: a claim's own date is what its
 * record and the balance records are kept under (the entry's date when
 * it gives none); a second claim with one invoice number in the payee's
 * feed is kept as rejected ("duplicate-invoice-number") whatever order
 * the entries arrive in, and a voided claim frees its number; a date
 * after the claim was signed, a date that is no date and a period
 * outside the agreement are rejected with their rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "rules/terms.h"

/* 2026-12-01 12:00 UTC: the day the lead provider's entries are signed */
#define SIGNED_MS  1796126400000LL
#define SIGNED_DAY 20261201u

struct fx {
	char dir[64], mdir[96];
	keten_ledger *M;
	keten_keypair lead;
	uint64_t seq;
	uint8_t prev[32];
	uint8_t contract[32], alloc[32];
};

static int append(struct fx *f, uint32_t type, const ProtobufCMessage *m, uint8_t id[32], keten_error *err)
{
	uint8_t buf[8192];
	size_t len = protobuf_c_message_get_packed_size(m);
	keten_append a = {.body_type = type, .body = buf, .body_len = len};
	uint8_t ids[1][32];
	int rc;
	protobuf_c_message_pack(m, buf);
	rc = keten_ledger_append(f->M, &a, 1, ids, err);
	if (rc == 0 && id)
		memcpy(id, ids[0], 32);
	return rc;
}

/* Sign m as the lead provider's next entry, without ingesting it. */
static void sign(struct fx *f, uint32_t type, const ProtobufCMessage *m, keten_entry *e)
{
	uint8_t buf[8192];
	size_t len = protobuf_c_message_get_packed_size(m);
	keten_entry_draft d = {.seq = f->seq + 1,
	                       .prev = f->seq ? f->prev : NULL,
	                       .timestamp_ms = SIGNED_MS,
	                       .body_type = type,
	                       .body = buf,
	                       .body_len = len};
	keten_error err = {0};

	protobuf_c_message_pack(m, buf);
	assert_int_equal(keten_entry_sign(&f->lead, &d, e, &err), 0);
	f->seq++;
	memcpy(f->prev, e->id, 32);
}

/* Ingest entries e[0..n) in that order, in one call. */
static void ingest(struct fx *f, keten_entry *e, size_t n)
{
	keten_blob b[4];
	keten_ingest_stats st;
	keten_error err = {0};
	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++) {
		b[i].data = e[i].raw;
		b[i].len = e[i].raw_len;
	}
	assert_int_equal(keten_ledger_ingest(f->M, b, n, true, &st, &err), 0);
}

/* Sign and ingest one claim; its id in id. */
static void claim(struct fx *f, const Keten__Claim *k, uint8_t id[32])
{
	keten_entry e;
	sign(f, KETEN__BODY_TYPE__CLAIM, &k->base, &e);
	ingest(f, &e, 1);
	memcpy(id, e.id, 32);
	keten_entry_release(&e);
}

static keten_status status_of(struct fx *f, const uint8_t id[32], char *rule)
{
	keten_txn *t;
	keten_status st = 0;
	rule[0] = 0;
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, NULL), 0);
	keten_store_status(t, id, &st, rule, 48, NULL);
	keten_txn_end(t);
	return st;
}

static Keten__State__ClaimState *claim_state(struct fx *f, const uint8_t id[32])
{
	keten_txn *t;
	void *m = NULL;
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, NULL), 0);
	kt_state_get(t, DK_CLAIM, id, &keten__state__claim_state__descriptor, &m, NULL);
	keten_txn_end(t);
	return m;
}

/* The claimed cents on the balance record of (municipality, lead, day). */
static int64_t claimed_on(struct fx *f, uint32_t day)
{
	keten_txn *t;
	uint8_t k[69];
	const void *v;
	size_t n;
	int64_t c = 0;
	k[0] = DK_BALANCE;
	memcpy(k + 1, keten_ledger_info(f->M)->key, 32);
	memcpy(k + 33, f->lead.pk, 32);
	k[65] = (uint8_t)(day >> 24);
	k[66] = (uint8_t)(day >> 16);
	k[67] = (uint8_t)(day >> 8);
	k[68] = (uint8_t)day;
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, NULL), 0);
	if (kt_kv_get(t, KT_STATE, k, sizeof k, &v, &n, NULL) == 0) {
		Keten__State__BalanceDay *d = keten__state__balance_day__unpack(NULL, n, v);
		assert_non_null(d);
		c = d->claimed_cents;
		keten__state__balance_day__free_unpacked(d, NULL);
	}
	keten_txn_end(t);
	return c;
}

static void certify(struct fx *f, const uint8_t key[32], const char *name, uint32_t role)
{
	Keten__PartyCertificate pc = KETEN__PARTY_CERTIFICATE__INIT;
	char *mun = "0405";
	keten_error err = {0};
	pc.key.data = (uint8_t *)key;
	pc.key.len = 32;
	pc.name = (char *)name;
	pc.n_roles = 1;
	pc.roles = &role;
	if (role == KETEN__ROLE__MUNICIPALITY) {
		pc.n_municipality = 1;
		pc.municipality = &mun;
	}
	assert_int_equal(append(f, KETEN__BODY_TYPE__PARTY_CERTIFICATE, &pc.base, NULL, &err), 0);
}

static Keten__Tariff tariff_j03 = {PROTOBUF_C_MESSAGE_INIT(&keten__tariff__descriptor),
                                   "jeugd",
                                   "J03",
                                   "Gedrag",
                                   "4",
                                   KETEN__KIND__HERSTEL,
                                   1436600,
                                   "traject"};

static int contract_and_allocation(struct fx *f, keten_error *err)
{
	Keten__FrameworkContract fc = KETEN__FRAMEWORK_CONTRACT__INIT;
	Keten__Allocation al = KETEN__ALLOCATION__INIT;
	Keten__Tariff *tp = &tariff_j03;
	char *mun = "0405";

	fc.ref = "RGW-D";
	fc.domain = "jeugd";
	fc.n_municipalities = 1;
	fc.municipalities = &mun;
	fc.valid_from = 20260101;
	fc.valid_until = 20281231;
	fc.n_tariffs = 1;
	fc.tariffs = &tp;
	if (append(f, KETEN__BODY_TYPE__FRAMEWORK_CONTRACT, &fc.base, f->contract, err))
		return -1;
	al.contract.data = f->contract;
	al.contract.len = 32;
	al.client_ref = "HRN-7";
	al.provider.data = f->lead.pk;
	al.provider.len = 32;
	al.domain = "jeugd";
	al.profile = "J03";
	al.intensity = "4";
	al.kind = KETEN__KIND__HERSTEL;
	al.start = 20260105;
	al.has_end = 1;
	al.end = 20260930;
	al.amount_cents = 1436600;
	al.municipality = "0405";
	return append(f, KETEN__BODY_TYPE__ALLOCATION, &al.base, f->alloc, err);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	keten_home_info info = {0};
	keten_error err = {0};

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/keten-dated-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->mdir, sizeof f->mdir, "%s/m", f->dir);
	snprintf(info.name, sizeof info.name, "Gemeente Hoorn");
	snprintf(info.role, sizeof info.role, "municipality");
	snprintf(info.municipality, sizeof info.municipality, "0405");
	if (keten_home_create(f->mdir, NULL, &info, &err) || keten_ledger_open(f->mdir, &f->M, &err) ||
	    keten_ledger_unlock(f->M, NULL, &err) ||
	    keten_ledger_trust_add(f->M, keten_ledger_info(f->M)->key, "Gemeente Hoorn", &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	f->lead.sk = sodium_malloc(64);
	crypto_sign_keypair(f->lead.pk, f->lead.sk);
	*state = f;
	certify(f, keten_ledger_info(f->M)->key, "Gemeente Hoorn", KETEN__ROLE__MUNICIPALITY);
	certify(f, f->lead.pk, "Zorg Hoofd BV", KETEN__ROLE__LEAD_PROVIDER);
	if (contract_and_allocation(f, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	keten_ledger_close(f->M);
	keten_keypair_release(&f->lead);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void claim_init(struct fx *f, Keten__Claim *k, const char *installment, int64_t cents)
{
	keten__claim__init(k);
	k->target.data = f->alloc;
	k->target.len = 32;
	k->installment = (char *)installment;
	k->amount_cents = cents;
}

/* The claim's own date keys its record and its balance; none: the entry's. */
static void test_claim_books_by_its_date(void **state)
{
	struct fx *f = *state;
	Keten__Claim k;
	Keten__State__ClaimState *ks;
	uint8_t k1[32], k2[32];
	char rule[48];

	claim_init(f, &k, "upfront", 957733);
	k.number = "F-2026-001";
	k.has_date = 1;
	k.date = 20260115;
	k.has_period_from = k.has_period_until = 1;
	k.period_from = 20260105;
	k.period_until = 20260930;
	claim(f, &k, k1);
	assert_int_equal(status_of(f, k1, rule), KS_APPLIED);
	ks = claim_state(f, k1);
	assert_non_null(ks);
	assert_int_equal(ks->date, 20260115);
	assert_int_equal(ks->recorded, SIGNED_DAY);
	assert_string_equal(ks->number, "F-2026-001");
	assert_int_equal(ks->period_from, 20260105);
	assert_int_equal(ks->period_until, 20260930);
	kt_state_free(ks);
	assert_int_equal(claimed_on(f, 20260115), 957733);
	assert_int_equal(claimed_on(f, SIGNED_DAY), 0);

	claim_init(f, &k, "final", 478867);
	claim(f, &k, k2);
	assert_int_equal(status_of(f, k2, rule), KS_APPLIED);
	ks = claim_state(f, k2);
	assert_int_equal(ks->date, SIGNED_DAY);
	assert_null(ks->number);
	kt_state_free(ks);
	assert_int_equal(claimed_on(f, SIGNED_DAY), 478867);
}

/* One number twice in the payee's feed: the later is rejected, in
 * whichever order the two arrive; voiding the first frees the number. */
static void test_duplicate_number_by_feed_order(void **state)
{
	struct fx *f = *state;
	Keten__Claim k;
	Keten__Correction c = KETEN__CORRECTION__INIT;
	keten_entry e[2];
	uint8_t k1[32], k2[32], k3[32];
	char rule[48];

	claim_init(f, &k, "upfront", 957733);
	k.number = "F-7";
	sign(f, KETEN__BODY_TYPE__CLAIM, &k.base, &e[0]);
	claim_init(f, &k, "final", 478867);
	k.number = "F-7";
	sign(f, KETEN__BODY_TYPE__CLAIM, &k.base, &e[1]);
	memcpy(k1, e[0].id, 32);
	memcpy(k2, e[1].id, 32);
	/* the later one first in what arrives: applied in feed order all the same */
	{
		keten_entry swapped[2] = {e[1], e[0]};
		ingest(f, swapped, 2);
	}
	assert_int_equal(status_of(f, k1, rule), KS_APPLIED);
	assert_int_equal(status_of(f, k2, rule), KS_REJECTED);
	assert_string_equal(rule, "duplicate-invoice-number");
	keten_entry_release(&e[0]);
	keten_entry_release(&e[1]);
	assert_int_equal(claimed_on(f, SIGNED_DAY), 957733);

	/* the payee voids the first claim: the number is free again */
	c.entry.data = k1;
	c.entry.len = 32;
	c.reason = "verkeerd bedrag";
	sign(f, KETEN__BODY_TYPE__CORRECTION, &c.base, &e[0]);
	claim_init(f, &k, "upfront", 957733);
	k.number = "F-7";
	sign(f, KETEN__BODY_TYPE__CLAIM, &k.base, &e[1]);
	memcpy(k3, e[1].id, 32);
	/* both in one call, the claim before the correction: applied in feed order */
	{
		keten_entry swapped[2] = {e[1], e[0]};
		ingest(f, swapped, 2);
	}
	assert_int_equal(status_of(f, e[0].id, rule), KS_APPLIED);
	assert_int_equal(status_of(f, k3, rule), KS_APPLIED);
	keten_entry_release(&e[0]);
	keten_entry_release(&e[1]);
	assert_int_equal(claimed_on(f, SIGNED_DAY), 957733);
}

/* A claim's date, period and number that break the rules are rejected. */
static void test_bad_dates_rejected(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint32_t date, from, until;
		const char *number, *rule;
	} bad[] = {
		{SIGNED_DAY + 1, 0, 0, NULL, "date-in-future"},
		{20260230, 0, 0, NULL, "invalid-date"},
		{20260115, 20251201, 20260131, NULL, "date-outside-validity"},
		{20260115, 20260201, 20261031, NULL, "date-outside-validity"},
		{20260115, 20260301, 20260201, NULL, "invalid-period"},
		{20260115, 20260301, 0, NULL, "invalid-period"},
		{20260115, 0, 0, "", "invalid-number"},
		{20260115, 0, 0, "123456782", "bsn-in-text"},
	};
	Keten__Claim k;
	uint8_t id[32];
	char rule[48];

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		claim_init(f, &k, "upfront", 957733);
		k.has_date = 1;
		k.date = bad[i].date;
		k.has_period_from = bad[i].from != 0;
		k.period_from = bad[i].from;
		k.has_period_until = bad[i].until != 0;
		k.period_until = bad[i].until;
		k.number = (char *)bad[i].number;
		claim(f, &k, id);
		assert_int_equal(status_of(f, id, rule), KS_REJECTED);
		assert_string_equal(rule, bad[i].rule);
	}
	/* the same day as signed, a period inside the agreement: applied */
	claim_init(f, &k, "upfront", 957733);
	k.has_date = 1;
	k.date = SIGNED_DAY;
	k.has_period_from = k.has_period_until = 1;
	k.period_from = 20260105;
	k.period_until = 20260131;
	claim(f, &k, id);
	assert_int_equal(status_of(f, id, rule), KS_APPLIED);
	assert_int_equal(claimed_on(f, SIGNED_DAY), 957733);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_claim_books_by_its_date),
		T(test_duplicate_number_by_feed_order),
		T(test_bad_dates_rejected),
	};

	setenv("KETEN_PWHASH_FAST", "1", 1);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
