/*
 * test_compose.c — unit tests for the composer (ledger/compose/,
 * keten/record.h) and the tariff reader (formats/tariffs.c), through the
 * public API: one municipality home that is its own trust anchor records
 * certificates, a contract read from CSV, an indexation and allocations
 * by drafts, and composes claims and receipts without appending them.
 * Checked: comment lines and bad rows of a tariff table; the allocation's
 * amount (the tariff indexed to its start year, units x unit tariff for a
 * component) and its municipality and audience; the default installment
 * ("upfront", then "final" for a later draft of the same call or once a
 * live claim exists) and the computed claim amount; what a draft lacks
 * (an installment, an amount, a contract held here); that a dry run
 * appends nothing; that keten_record is all or none and names the failing
 * draft; that batch rows get the same defaults and report bad rows by line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/keten.h"
#include "keten/record.h"
#include "keten/batch.h"
#include "keten/json.h"
#include "test_util.h"
#include "store/kv.h"

static const char tariff_csv[] = "# SYNTHETIC: invented amounts\n"
				 "domain,profile,profile_name,intensity,kind,tariff_cents,per\n"
				 "jeugd,J03,Gedrag,4,herstel,1436600,traject\n"
				 "jeugd,J03,Gedrag,4,duurzaam,45200,maand\n"
				 "# a comment between rows\n"
				 "wmo,W02,Begeleiding,B,duurzaam,45200,maand\n"
				 "component,K01,\"Vervoer\n#rit\",,,1250,rit\n";

struct fx {
	char dir[64], mdir[96];
	keten_ledger *M;
	uint8_t lead[32];
	uint8_t contract[32], herstel[32], duurzaam[32];
};

static size_t entries(struct fx *f)
{
	keten_txn *t;
	size_t n;
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, NULL), 0);
	n = kt_kv_count(t, KT_STATUS);
	keten_txn_end(t);
	return n;
}

static void record(struct fx *f, const keten_draft *d, keten_recorded *out)
{
	keten_error err = {0};
	keten_draft_need need = KETEN_NEED_NONE;
	int rc = keten_record(f->M, d, 1, out, &need, &err);
	if (rc)
		fail_msg("record: %s (%s)", err.msg, err.rule);
}

static void certify(struct fx *f, const uint8_t key[32], const char *name, uint32_t role)
{
	static const char *const mun[] = {"0405"};
	keten_draft d = {.kind = KETEN_DRAFT_CERTIFICATE};
	keten_recorded r;
	memcpy(d.certificate.key, key, 32);
	d.certificate.name = name;
	d.certificate.roles = &role;
	d.certificate.n_roles = 1;
	if (role == KETEN_ROLE_MUNICIPALITY) {
		d.certificate.municipalities = mun;
		d.certificate.n_municipalities = 1;
	}
	record(f, &d, &r);
}

static void allocate(struct fx *f, keten_kind kind, uint32_t start, uint8_t id[32], int64_t *amount)
{
	keten_draft d = {.kind = KETEN_DRAFT_ALLOCATION};
	keten_recorded r;
	memcpy(d.allocation.contract, f->contract, 32);
	memcpy(d.allocation.provider, f->lead, 32);
	d.allocation.client_ref = "HRN-1";
	d.allocation.kind = kind;
	d.allocation.profile = "J03";
	d.allocation.intensity = "4";
	d.allocation.start = start;
	d.allocation.end = start / 10000 * 10000 + 1231; /* to the end of its year */
	record(f, &d, &r);
	memcpy(id, r.id, 32);
	*amount = r.amount_cents;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	keten_home_info info = {0};
	keten_error err = {0};
	keten_tariffs tt;
	static const char *const mun[] = {"0498", "0405"};
	keten_draft d = {.kind = KETEN_DRAFT_CONTRACT};
	keten_recorded r;
	int64_t amount;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/keten-compose-XXXXXX");
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
	*state = f;
	{
		uint8_t sk[64];
		crypto_sign_keypair(f->lead, sk);
	}
	certify(f, keten_ledger_info(f->M)->key, "Gemeente Hoorn", KETEN_ROLE_MUNICIPALITY);
	certify(f, f->lead, "Zorg Hoofd BV", KETEN_ROLE_LEAD_PROVIDER);
	if (keten_tariffs_parse((const uint8_t *)tariff_csv, strlen(tariff_csv), "jeugd", &tt, &err)) {
		fprintf(stderr, "setup tariffs: %s\n", err.msg);
		return -1;
	}
	d.contract.ref = "RGW-T";
	d.contract.domain = "jeugd";
	d.contract.municipalities = mun;
	d.contract.n_municipalities = 2;
	d.contract.valid_from = 20260101;
	d.contract.valid_until = 20281231;
	d.contract.tariffs = &tt;
	record(f, &d, &r);
	keten_tariffs_release(&tt);
	memcpy(f->contract, r.id, 32);
	allocate(f, KETEN_KIND_HERSTEL, 20260201, f->herstel, &amount);
	allocate(f, KETEN_KIND_DUURZAAM, 20260201, f->duurzaam, &amount);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	keten_ledger_close(f->M);
	if (test_rm_rf(f->dir) != 0)
		return -1;
	free(f);
	return 0;
}

/* tariffs ---------------------------------------------------------------------------- */

static void expect_bad(const char *csv, const char *domain, const char *msg)
{
	keten_tariffs tt;
	keten_error err = {0};
	assert_int_equal(keten_tariffs_parse((const uint8_t *)csv, strlen(csv), domain, &tt, &err), KETEN_EMALFORMED);
	assert_string_equal(err.msg, msg);
	assert_int_equal(tt.n_tariffs + tt.n_components, 0);
}

static void test_tariffs(void **state)
{
	keten_tariffs tt;
	keten_error err = {0};

	(void)state;
	assert_int_equal(keten_tariffs_parse((const uint8_t *)tariff_csv, strlen(tariff_csv), "jeugd", &tt, &err), 0);
	assert_int_equal(tt.n_tariffs, 2); /* the wmo row is skipped, the comments too */
	assert_string_equal(tt.tariffs[0].profile, "J03");
	assert_int_equal(tt.tariffs[0].kind, KETEN_KIND_HERSTEL);
	assert_int_equal(tt.tariffs[0].cents, 1436600);
	assert_int_equal(tt.tariffs[1].kind, KETEN_KIND_DUURZAAM);
	assert_int_equal(tt.n_components, 1);
	assert_string_equal(tt.components[0].unit, "piece-effort"); /* a ride: WJ756 84 */
	/* a '#' at the start of a line inside a quoted field is data */
	assert_string_equal(tt.components[0].name, "Vervoer\n#rit");
	keten_tariffs_release(&tt);
	keten_tariffs_release(&tt); /* safe twice */
	assert_int_equal(keten_tariffs_parse((const uint8_t *)tariff_csv, strlen(tariff_csv), "wmo", &tt, &err), 0);
	assert_int_equal(tt.n_tariffs, 1);
	keten_tariffs_release(&tt);

	expect_bad("domain,profile,intensity,tariff_cents,per\njeugd,J03,4,1,traject\n", "jeugd",
	           "the header has no column 'kind'");
	expect_bad("# comment\ndomain,profile,intensity,kind,tariff_cents,per\njeugd,J03,4,herstel,12.50,traject\n",
	           "jeugd", "row 2: tariff_cents '12.50' is not a whole number of cents");
	expect_bad("domain,profile,intensity,kind,tariff_cents,per\njeugd,J03,4,herstel,100,maand\n", "jeugd",
	           "row 2: kind 'herstel' per 'maand' is not herstel/traject or duurzaam/maand");
	expect_bad("domain,profile,intensity,kind,tariff_cents,per\ncomponent,K9,,,100,lichtjaar\n", "jeugd",
	           "row 2: unit 'lichtjaar' is not known");
	expect_bad("domain,profile,intensity,kind,tariff_cents,per\njeugd,J03,4,herstel,100,traject\n", "wmo",
	           "no tariff lines for domain wmo");
	assert_int_equal(keten_tariffs_read("/nonexistent/tarieven.csv", "jeugd", &tt, &err), KETEN_ENOTFOUND);
}

/* contract, allocation ------------------------------------------------------------------ */

static void test_allocation_defaults(void **state)
{
	struct fx *f = *state;
	keten_draft ix = {.kind = KETEN_DRAFT_INDEXATION}, d = {.kind = KETEN_DRAFT_ALLOCATION};
	keten_composition c;
	keten_contract_view v;
	keten_error err = {0};
	keten_recorded r;
	keten_txn *t;
	uint8_t id[32];
	int64_t amount;

	/* the herstel allocation of setup: the whole tariff */
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, NULL), 0);
	assert_int_equal(keten_contract_find(t, "RGW-T", id, &err), 0);
	assert_memory_equal(id, f->contract, 32);
	assert_int_equal(keten_contract_find(t, "RGW-NONE", id, &err), KETEN_ENOTFOUND);
	assert_string_equal(err.msg, "no framework contract 'RGW-NONE' is known here");
	assert_int_equal(keten_contract_get(t, f->contract, &v, &err), 0);
	keten_txn_end(t);
	assert_true(v.has_body);
	assert_int_equal(v.n_tariffs, 2);
	assert_int_equal(v.n_components, 1);
	assert_int_equal(v.payment_term_days, 30);
	keten_contract_view_release(&v);

	/* indexed by 2.5% from 2027: an allocation starting in 2027 is priced at the indexed tariff */
	memcpy(ix.indexation.contract, f->contract, 32);
	ix.indexation.year = 2027;
	ix.indexation.bp = 250;
	record(f, &ix, &r);
	allocate(f, KETEN_KIND_HERSTEL, 20270101, id, &amount);
	assert_int_equal(amount, 1472515); /* 1436600 x 1.025 */
	allocate(f, KETEN_KIND_HERSTEL, 20261201, id, &amount);
	assert_int_equal(amount, 1436600);

	/* a component: units x the unit tariff, to this home's municipality, for the provider */
	memcpy(d.allocation.contract, f->contract, 32);
	memcpy(d.allocation.provider, f->lead, 32);
	d.allocation.client_ref = "HRN-2";
	d.allocation.kind = KETEN_KIND_COMPONENT;
	d.allocation.component = "K01";
	d.allocation.has_units = true;
	d.allocation.units = 1050; /* 10.5 rides */
	d.allocation.start = 20260301;
	assert_int_equal(keten_compose(f->M, &d, 1, &c, &err), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.entries[0].amount_cents, 13125);
	assert_int_equal(c.entries[0].n_audience, 2);
	assert_memory_equal(c.entries[0].audience[0], keten_ledger_info(f->M)->key, 32);
	assert_memory_equal(c.entries[0].audience[1], f->lead, 32);
	assert_string_equal(keten_body_type_name(c.entries[0].body_type), "allocation");
	{
		/* the municipality is this home's code (the contract's second), not the first */
		json_t *j = keten_json_body(c.entries[0].body_type, c.entries[0].body, c.entries[0].body_len);
		assert_string_equal(json_string_value(json_object_get(j, "municipality")), "0405");
		assert_string_equal(json_string_value(json_object_get(j, "domain")), "jeugd");
		json_decref(j);
	}
	keten_composition_release(&c);

	/* a contract not held here: the draft needs one */
	memset(d.allocation.contract, 0xab, 32);
	{
		keten_draft_need need = KETEN_NEED_NONE;
		size_t before = entries(f);
		assert_int_equal(keten_record(f->M, &d, 1, &r, &need, &err), KETEN_ENOTFOUND);
		assert_int_equal(need, KETEN_NEED_HELD);
		assert_int_equal(err.item, 1);
		assert_int_equal(entries(f), before);
	}
}

/* claims ------------------------------------------------------------------------------ */

static keten_draft claim(const uint8_t target[32], const char *installment)
{
	keten_draft d = {.kind = KETEN_DRAFT_CLAIM};
	memcpy(d.claim.target, target, 32);
	d.claim.installment = installment;
	return d;
}

static void test_claim_defaults(void **state)
{
	struct fx *f = *state;
	keten_draft d[3] = {claim(f->herstel, NULL), claim(f->herstel, NULL), claim(f->duurzaam, "2026-03")};
	keten_composition c;
	keten_error err = {0};
	size_t before = entries(f);

	/* one call: the second claim sees the first; a dry run appends nothing */
	assert_int_equal(keten_compose(f->M, d, 3, &c, &err), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.n_faults, 0);
	assert_string_equal(c.entries[0].installment, "upfront");
	assert_int_equal(c.entries[0].amount_cents, 957733); /* floor(1436600 x 2 / 3) */
	assert_string_equal(c.entries[1].installment, "final");
	assert_int_equal(c.entries[1].amount_cents, 478867);
	assert_string_equal(c.entries[2].installment, "2026-03");
	assert_int_equal(c.entries[2].amount_cents, 45200);
	/* a claim goes to this home and the allocation's payer and payee */
	assert_int_equal(c.entries[0].n_audience, 2);
	assert_memory_equal(c.entries[0].audience[1], f->lead, 32);
	keten_composition_release(&c);
	assert_int_equal(entries(f), before);

	/* each call starts afresh: upfront again */
	assert_int_equal(keten_compose(f->M, d, 1, &c, &err), 0);
	assert_string_equal(c.entries[0].installment, "upfront");
	keten_composition_release(&c);
}

static void test_claim_refusals(void **state)
{
	struct fx *f = *state;
	keten_draft d[3] = {claim(f->herstel, NULL), claim(f->duurzaam, NULL), claim(f->duurzaam, "upfront")};
	keten_composition c;
	keten_recorded r[3];
	keten_draft_need need;
	keten_error err = {0};
	size_t before = entries(f);

	/* every draft that fails is named, with what it lacks */
	assert_int_equal(keten_compose(f->M, d, 3, &c, &err), KETEN_EINVAL);
	assert_int_equal(err.item, 2);
	assert_int_equal(c.n, 0);
	assert_null(c.entries);
	assert_int_equal(c.n_faults, 2);
	assert_int_equal(c.faults[0].item, 2);
	assert_int_equal(c.faults[0].need, KETEN_NEED_INSTALLMENT);
	assert_int_equal(c.faults[1].item, 3);
	assert_int_equal(c.faults[1].need, KETEN_NEED_AMOUNT); /* upfront of a duurzaam: nothing to compute */
	assert_int_equal(c.faults[1].err.code, KETEN_EINVAL);
	keten_composition_release(&c);

	/* composed, but refused by the ledger: all or none, the draft named */
	d[1] = claim(f->duurzaam, "2026-03");
	assert_int_equal(keten_record(f->M, d, 2, r, &need, &err), KETEN_ERULE);
	assert_string_equal(err.rule, "not-payee"); /* the municipality is not the payee */
	assert_int_equal(err.item, 1);
	assert_int_equal(need, KETEN_NEED_NONE);
	assert_int_equal(entries(f), before);

	/* an unknown kind */
	d[0].kind = (keten_draft_kind)99;
	assert_int_equal(keten_record(f->M, d, 1, r, &need, &err), KETEN_EINVAL);
	assert_int_equal(entries(f), before);
}

static void test_receipt(void **state)
{
	struct fx *f = *state;
	keten_draft d = {.kind = KETEN_DRAFT_RECEIPT};
	keten_composition c;
	keten_error err = {0};

	memset(d.receipt.payment, 0x5a, 32);
	assert_int_equal(keten_compose(f->M, &d, 1, &c, &err), KETEN_ENOTFOUND);
	assert_int_equal(c.faults[0].need, KETEN_NEED_AMOUNT);
	keten_composition_release(&c);
	d.receipt.has_amount = true;
	d.receipt.amount_cents = 1200;
	assert_int_equal(keten_compose(f->M, &d, 1, &c, &err), 0);
	assert_int_equal(c.entries[0].amount_cents, 1200);
	assert_int_equal(c.entries[0].n_audience, 1); /* only this home: the payment is not held */
	keten_composition_release(&c);
	d.receipt.has_amount = false;
	d.receipt.not_received = true;
	assert_int_equal(keten_compose(f->M, &d, 1, &c, &err), 0);
	assert_int_equal(c.entries[0].amount_cents, 0);
	keten_composition_release(&c);
}

/* batch ---------------------------------------------------------------------------------- */

static void test_batch_rows(void **state)
{
	struct fx *f = *state;
	char hex[65], csv[1024];
	keten_batch b = {0};
	keten_composition c;
	keten_error err = {0};
	size_t before = entries(f);

	keten_hex(hex, f->herstel, 32);
	snprintf(csv, sizeof csv, "type,allocation,amount\nclaim,%.12s,9577.33\nclaim,%s,4788.67\n", hex, hex);
	assert_int_equal(keten_batch_parse((const uint8_t *)csv, strlen(csv), &b, &err), 0);
	assert_int_equal(keten_batch_compose(f->M, &b, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.entries[0].installment, "upfront");
	assert_string_equal(c.entries[1].installment, "final");
	assert_int_equal(c.entries[1].amount_cents, 478867);
	keten_composition_release(&c);
	keten_batch_release(&b);

	/* bad rows: each one named by its line, nothing appended */
	keten_hex(hex, f->duurzaam, 32);
	snprintf(csv, sizeof csv,
	         "type,allocation,amount,installment\nclaim,%s,100,\nclaim,deadbeefdeadbeef,100,\nclaim,%s,,2026-02\n",
	         hex, hex);
	assert_int_equal(keten_batch_parse((const uint8_t *)csv, strlen(csv), &b, &err), 0);
	assert_int_equal(keten_batch_record(f->M, &b, NULL, &err), KETEN_EMALFORMED);
	assert_int_equal(b.n_errors, 2);
	assert_int_equal(b.errors[0].line, 2);
	assert_string_equal(b.errors[0].msg, "give an installment (upfront, final or YYYY-MM)");
	assert_int_equal(b.errors[1].line, 3);
	assert_non_null(strstr(b.errors[1].msg, "allocation 'deadbeefdeadbeef': "));
	assert_int_equal(entries(f), before);
	keten_batch_release(&b);
}

/* parties -------------------------------------------------------------------------------- */

static int count_cb(const keten_party_view *p, void *ctx)
{
	int *n = ctx;
	if (p->anchor)
		assert_string_equal(p->roles, "municipality");
	assert_string_equal(p->status, "valid");
	(*n)++;
	return 0;
}

static void test_parties(void **state)
{
	struct fx *f = *state;
	keten_txn *t;
	uint8_t key[32];
	char names[256];
	int found = 0, n = 0;

	assert_string_equal(keten_role_name(KETEN_ROLE_LEAD_PROVIDER), "lead-provider");
	assert_null(keten_role_name(99));
	assert_int_equal(keten_role_from_name("auditor"), KETEN_ROLE_AUDITOR);
	assert_int_equal(keten_role_from_name("boss"), 0);
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, NULL), 0);
	assert_int_equal(keten_party_find(t, "zorg hoofd bv", keten_ledger_info(f->M)->key, key, &found, names,
	                                  sizeof names, NULL),
	                 0);
	assert_int_equal(found, 1);
	assert_memory_equal(key, f->lead, 32);
	assert_int_equal(keten_party_each(t, count_cb, &n, NULL), 0);
	keten_txn_end(t);
	assert_int_equal(n, 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tariffs),
		T(test_allocation_defaults),
		T(test_claim_defaults),
		T(test_claim_refusals),
		T(test_receipt),
		T(test_batch_rows),
		T(test_parties),
	};

	setenv("KETEN_PWHASH_FAST", "1", 1);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
