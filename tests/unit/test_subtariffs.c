/*
 * test_subtariffs.c — unit tests for the subcontract tariff table: the
 * reader (keten_sub_tariffs_parse) row by row, the contract rule's checks
 * of a signed table that no reader saw (unique services, WJ756 units,
 * cents above zero, shares of 1 to 100 %), and offers that arrive by
 * import from the lead provider: one off the table under rule fixed is
 * kept as rejected with its rule, as is a share-priced offer whose amount
 * is not its share; one above the table under max is applied with the
 * finding above-subcontract-tariff.  tests/cli/t_subtariffs.sh covers the
 * same through the keten binary.
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
#include "keten/reconcile.h"

struct fx {
	char dir[64], mdir[96];
	keten_ledger *M;
	keten_keypair lead, sub;
	uint64_t lead_seq;
	uint8_t lead_prev[32];
	uint8_t fixed[32], max[32];             /* contracts */
	uint8_t alloc_fixed[32], alloc_max[32]; /* J03/4 herstel, 1436600 */
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

/* Sign m by the lead provider as the next entry of its feed and ingest it into M. */
static int ingest_lead(struct fx *f, uint32_t type, const ProtobufCMessage *m, uint8_t id[32])
{
	uint8_t buf[8192];
	size_t len = protobuf_c_message_get_packed_size(m);
	keten_entry_draft d = {.seq = f->lead_seq + 1,
	                       .prev = f->lead_seq ? f->lead_prev : NULL,
	                       .timestamp_ms = 1764000000000LL,
	                       .body_type = type,
	                       .body = buf,
	                       .body_len = len};
	keten_entry e;
	keten_blob b;
	keten_ingest_stats st;
	keten_error err = {0};
	int rc;

	protobuf_c_message_pack(m, buf);
	if ((rc = keten_entry_sign(&f->lead, &d, &e, &err)))
		return rc;
	b.data = e.raw;
	b.len = e.raw_len;
	rc = keten_ledger_ingest(f->M, &b, 1, true, &st, &err);
	if (rc == 0) {
		f->lead_seq++;
		memcpy(f->lead_prev, e.id, 32);
		memcpy(id, e.id, 32);
	}
	keten_entry_release(&e);
	return rc;
}

static keten_status status_of(struct fx *f, const uint8_t id[32], char *rule)
{
	keten_txn *t;
	keten_status st = 0;
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, NULL), 0);
	keten_store_status(t, id, &st, rule, 48, NULL);
	keten_txn_end(t);
	return st;
}

static Keten__State__OfferState *offer_state(struct fx *f, const uint8_t id[32])
{
	keten_txn *t;
	void *m = NULL;
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, NULL), 0);
	kt_state_get(t, DK_OFFER, id, &keten__state__offer_state__descriptor, &m, NULL);
	keten_txn_end(t);
	return m;
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

/* A jeugd contract with one tariff and the given subcontract tariffs. */
static int contract(struct fx *f, const char *ref, uint32_t rule, Keten__SubTariff **st, size_t n, uint8_t id[32],
                    keten_error *err)
{
	Keten__FrameworkContract fc = KETEN__FRAMEWORK_CONTRACT__INIT;
	Keten__Tariff *tp = &tariff_j03;
	char *mun = "0405";
	fc.ref = (char *)ref;
	fc.domain = "jeugd";
	fc.n_municipalities = 1;
	fc.municipalities = &mun;
	fc.valid_from = 20260101;
	fc.valid_until = 20281231;
	fc.n_tariffs = 1;
	fc.tariffs = &tp;
	fc.has_subcontract_rule = 1;
	fc.subcontract_rule = rule;
	fc.has_max_margin_bp = 1;
	fc.max_margin_bp = 1000;
	fc.n_sub_tariffs = n;
	fc.sub_tariffs = st;
	return append(f, KETEN__BODY_TYPE__FRAMEWORK_CONTRACT, &fc.base, id, err);
}

static void allocate(struct fx *f, const uint8_t contract_id[32], uint8_t id[32])
{
	Keten__Allocation al = KETEN__ALLOCATION__INIT;
	keten_error err = {0};
	al.contract.data = (uint8_t *)contract_id;
	al.contract.len = 32;
	al.client_ref = "HRN-1";
	al.provider.data = f->lead.pk;
	al.provider.len = 32;
	al.domain = "jeugd";
	al.profile = "J03";
	al.intensity = "4";
	al.kind = KETEN__KIND__HERSTEL;
	al.start = 20260101;
	al.has_end = 1;
	al.end = 20261231;
	al.amount_cents = 1436600;
	al.municipality = "0405";
	assert_int_equal(append(f, KETEN__BODY_TYPE__ALLOCATION, &al.base, id, &err), 0);
}

static Keten__SubTariff line_hour = {.base = PROTOBUF_C_MESSAGE_INIT(&keten__sub_tariff__descriptor),
                                     .service = "gezinsbegeleiding",
                                     .unit = "hour",
                                     .has_cents = 1,
                                     .cents = 9850};
static Keten__SubTariff line_share = {.base = PROTOBUF_C_MESSAGE_INIT(&keten__sub_tariff__descriptor),
                                      .service = "traject-deel",
                                      .has_share_bp = 1,
                                      .share_bp = 6667};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	keten_home_info info = {0};
	keten_error err = {0};
	Keten__SubTariff *lines[2] = {&line_hour, &line_share};

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/keten-sub-XXXXXX");
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
	f->sub.sk = sodium_malloc(64);
	crypto_sign_keypair(f->sub.pk, f->sub.sk);
	*state = f;
	certify(f, keten_ledger_info(f->M)->key, "Gemeente Hoorn", KETEN__ROLE__MUNICIPALITY);
	certify(f, f->lead.pk, "Zorg Hoofd BV", KETEN__ROLE__LEAD_PROVIDER);
	certify(f, f->sub.pk, "Hulp Onder VOF", KETEN__ROLE__SUBCONTRACTOR);
	if (contract(f, "RC-F", KETEN__SUBCONTRACT_RULE__SUB_FIXED, lines, 2, f->fixed, &err) ||
	    contract(f, "RC-M", KETEN__SUBCONTRACT_RULE__SUB_MAX, lines, 2, f->max, &err)) {
		fprintf(stderr, "setup contract: %s\n", err.msg);
		return -1;
	}
	allocate(f, f->fixed, f->alloc_fixed);
	allocate(f, f->max, f->alloc_max);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	keten_ledger_close(f->M);
	keten_keypair_release(&f->lead);
	keten_keypair_release(&f->sub);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* The reader ------------------------------------------------------------------------ */

static int parse(const char *csv, keten_sub_tariffs *t, keten_error *err)
{
	return keten_sub_tariffs_parse((const uint8_t *)csv, strlen(csv), t, err);
}

static void test_reader(void **state)
{
	keten_sub_tariffs t;
	keten_error err = {0};
	static const struct {
		const char *csv, *msg;
	} bad[] = {
		{"service,unit,tariff_cents\na,hour,1\na,hour,2\n", "row 3: service 'a' appears twice"},
		{"service,unit,tariff_cents\na,piece,1\n", "row 2: unit 'piece' is not a WJ756 unit"},
		{"service,unit,tariff_cents\na,week,1\n", "unit 'week' is not a WJ756 unit"},
		{"service,unit,tariff_cents\na,hour,0\n", "tariff_cents '0' is not a whole number of cents above zero"},
		{"service,unit,tariff_cents\na,hour,-5\n", "tariff_cents '-5'"},
		{"service,unit,tariff_cents,share_pct\na,,,0\n", "share_pct '0' is not a percentage"},
		{"service,unit,tariff_cents,share_pct\na,,,100.5\n", "share_pct '100.5'"},
		{"service,unit,tariff_cents,share_pct\na,,100,50\n", "service 'a' is priced as a share"},
		{"service,tariff_cents\na,1\n", "the header has no column 'unit'"},
		{"# only a comment\nservice,unit,tariff_cents\n", "no subcontract tariff lines"},
		{"service,unit,tariff_cents\n\"a,hour,1\n", NULL}, /* a quote left open */
	};

	(void)state;
	assert_int_equal(parse("# SYNTHETIC\nunit,share_pct,service,tariff_cents,name\n"
	                       "hour,,b,9850,Begeleiding\n# between records\n,62.5,c,,\n,\"0,01\",d,,\n"
	                       "piece-output,,e,2175,\"Vervoer, per rit\"\n",
	                       &t, &err),
	                 KETEN_OK);
	assert_int_equal(t.n, 4);
	assert_string_equal(t.lines[0].service, "b");
	assert_string_equal(t.lines[0].name, "Begeleiding");
	assert_string_equal(t.lines[0].unit, "hour");
	assert_int_equal(t.lines[0].cents, 9850);
	assert_int_equal(t.lines[0].share_bp, 0);
	assert_null(t.lines[1].unit);
	assert_int_equal(t.lines[1].share_bp, 6250);
	assert_int_equal(t.lines[1].cents, 0);
	assert_string_equal(t.lines[1].name, "");
	assert_int_equal(t.lines[2].share_bp, 1);
	assert_string_equal(t.lines[3].name, "Vervoer, per rit");
	keten_sub_tariffs_release(&t);
	keten_sub_tariffs_release(&t); /* twice, and NULL: safe */
	keten_sub_tariffs_release(NULL);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		memset(&err, 0, sizeof err);
		assert_int_equal(parse(bad[i].csv, &t, &err), KETEN_EMALFORMED);
		assert_int_equal(t.n, 0);
		assert_null(t.lines);
		if (bad[i].msg && !strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: '%s' does not say '%s'", i, err.msg, bad[i].msg);
	}
	assert_int_equal(keten_sub_tariffs_parse(NULL, 3, &t, &err), KETEN_EINVAL);
	assert_int_equal(keten_sub_tariffs_read("/nonexistent/x.csv", &t, &err), KETEN_ENOTFOUND);
	assert_non_null(keten_recon_kind_meaning("above-subcontract-tariff"));
}

/* The contract rule ------------------------------------------------------------------- */

static void test_contract_rule(void **state)
{
	struct fx *f = *state;
	Keten__SubTariff a = line_hour, b = line_hour, *two[2] = {&a, &b};
	keten_error err = {0};
	uint8_t id[32];
	static const struct {
		const char *unit;
		int64_t cents;
		bool has_share;
		uint32_t share_bp;
		const char *rule;
	} bad[] = {
		{"piece", 100, false, 0, "invalid-unit"},  {"day", 100, false, 0, "invalid-unit"},
		{NULL, 100, false, 0, "invalid-unit"},     {"hour", 0, false, 0, "invalid-amount"},
		{"hour", -1, false, 0, "invalid-amount"},  {NULL, 0, true, 0, "invalid-share"},
		{NULL, 0, true, 10001, "invalid-share"},   {"hour", 0, true, 5000, "invalid-tariff"},
		{NULL, 100, true, 5000, "invalid-tariff"},
	};

	b.service = "ander";
	assert_int_equal(contract(f, "RC-OK", KETEN__SUBCONTRACT_RULE__SUB_FIXED, two, 2, id, &err), KETEN_OK);
	b.service = a.service; /* the same service twice */
	assert_int_equal(contract(f, "RC-D", KETEN__SUBCONTRACT_RULE__SUB_FIXED, two, 2, id, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "invalid-tariff");
	assert_non_null(strstr(err.msg, "appears twice"));
	b.service = "";
	assert_int_equal(contract(f, "RC-E", KETEN__SUBCONTRACT_RULE__SUB_FIXED, two, 2, id, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "invalid-tariff");
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		Keten__SubTariff l = line_hour, *one = &l;
		l.unit = (char *)bad[i].unit;
		l.has_cents = bad[i].cents != 0;
		l.cents = bad[i].cents;
		l.has_share_bp = bad[i].has_share;
		l.share_bp = bad[i].share_bp;
		memset(&err, 0, sizeof err);
		assert_int_equal(contract(f, "RC-X", KETEN__SUBCONTRACT_RULE__SUB_FIXED, &one, 1, id, &err),
		                 KETEN_ERULE);
		if (strcmp(err.rule, bad[i].rule) != 0)
			fail_msg("case %zu: rule %s, not %s (%s)", i, err.rule, bad[i].rule, err.msg);
	}
}

/* Offers that arrive by import ------------------------------------------------------------- */

static void offer_init(struct fx *f, Keten__SubcontractOffer *o, const uint8_t alloc[32], const uint8_t contract_id[32])
{
	keten__subcontract_offer__init(o);
	o->allocation.data = (uint8_t *)alloc;
	o->allocation.len = 32;
	o->subcontractor.data = f->sub.pk;
	o->subcontractor.len = 32;
	o->has_contract = 1;
	o->contract.data = (uint8_t *)contract_id;
	o->contract.len = 32;
	o->start = 20260101;
	o->has_end = 1;
	o->end = 20261231;
}

static void per_hour(Keten__SubcontractOffer *o, int64_t units, int64_t tariff)
{
	o->pricing = KETEN__PRICING__PER_UNIT;
	o->has_units = o->has_unit_tariff_cents = 1;
	o->units = units;
	o->unit_tariff_cents = tariff;
	o->unit = "hour";
	o->service = "gezinsbegeleiding";
}

static void expect(struct fx *f, const Keten__SubcontractOffer *o, keten_status want, const char *rule)
{
	uint8_t id[32];
	char got[48] = "";
	assert_int_equal(ingest_lead(f, KETEN__BODY_TYPE__SUBCONTRACT_OFFER, &o->base, id), 0);
	assert_int_equal(status_of(f, id, got), want);
	if (rule)
		assert_string_equal(got, rule);
}

static void test_offers_by_import(void **state)
{
	struct fx *f = *state;
	Keten__SubcontractOffer o;
	Keten__State__OfferState *os;
	uint8_t id[32];

	/* fixed: the table's own price applies; off it, kept as rejected */
	offer_init(f, &o, f->alloc_fixed, f->fixed);
	per_hour(&o, 1250, 9850);
	expect(f, &o, KS_APPLIED, NULL);
	per_hour(&o, 1250, 9851);
	expect(f, &o, KS_REJECTED, "not-subcontract-tariff");
	per_hour(&o, 1250, 9850);
	o.unit = "minute";
	expect(f, &o, KS_REJECTED, "not-subcontract-tariff");
	per_hour(&o, 1250, 9850);
	o.service = "onbekend";
	expect(f, &o, KS_REJECTED, "not-subcontract-tariff");

	/* a share: its amount is the share of the trajectory, 957781, whatever the rule */
	offer_init(f, &o, f->alloc_fixed, f->fixed);
	o.pricing = KETEN__PRICING__FIXED_AMOUNT;
	o.has_amount_cents = o.has_share_bp = 1;
	o.share_bp = 6667;
	o.amount_cents = 957782;
	o.service = "traject-deel";
	expect(f, &o, KS_REJECTED, "share-amount-mismatch");
	o.amount_cents = 957781;
	o.share_bp = 7000; /* another share than the table's, under fixed */
	expect(f, &o, KS_REJECTED, "share-amount-mismatch");
	o.share_bp = 6667;
	assert_int_equal(ingest_lead(f, KETEN__BODY_TYPE__SUBCONTRACT_OFFER, &o.base, id), 0);
	os = offer_state(f, id);
	assert_non_null(os);
	assert_string_equal(os->service, "traject-deel");
	assert_int_equal(os->share_bp, 6667);
	assert_int_equal(os->amount_cents, 957781);
	/* a margin of 33.33% above the contract's 10% */
	assert_true(kt_strs_has(os->findings, os->n_findings, "margin-above-max"));
	assert_false(kt_strs_has(os->findings, os->n_findings, "differs-from-framework-tariff"));
	kt_state_free(os);

	/* max: above the table is applied with a finding */
	offer_init(f, &o, f->alloc_max, f->max);
	per_hour(&o, 1000, 10501);
	assert_int_equal(ingest_lead(f, KETEN__BODY_TYPE__SUBCONTRACT_OFFER, &o.base, id), 0);
	assert_int_equal(status_of(f, id, NULL), KS_APPLIED);
	os = offer_state(f, id);
	assert_non_null(os);
	assert_true(kt_strs_has(os->findings, os->n_findings, "above-subcontract-tariff"));
	assert_int_equal(os->amount_cents, 105010);
	kt_state_free(os);
	per_hour(&o, 1000, 9850);
	assert_int_equal(ingest_lead(f, KETEN__BODY_TYPE__SUBCONTRACT_OFFER, &o.base, id), 0);
	os = offer_state(f, id);
	assert_int_equal(os->n_findings, 0);
	kt_state_free(os);
	o.unit = "minute"; /* another unit cannot be judged: refused under max too */
	expect(f, &o, KS_REJECTED, "not-subcontract-tariff");
	/* a fixed amount without a service, a part of the trajectory: no framework finding */
	offer_init(f, &o, f->alloc_max, f->max);
	o.pricing = KETEN__PRICING__FIXED_AMOUNT;
	o.has_amount_cents = 1;
	o.amount_cents = 480000;
	assert_int_equal(ingest_lead(f, KETEN__BODY_TYPE__SUBCONTRACT_OFFER, &o.base, id), 0);
	os = offer_state(f, id);
	assert_int_equal(os->n_findings, 0);
	kt_state_free(os);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader),
		T(test_contract_rule),
		T(test_offers_by_import),
	};

	setenv("KETEN_PWHASH_FAST", "1", 1);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
