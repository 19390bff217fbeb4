/*
 * test_stops.c — unit tests of what a stop and a pause do to the money
 * (ledger/rules/terms.c): the share of the final part due per stop code
 * (the contract's StopFinal lines, else the defaults of docs/money.md)
 * and its rounding, the days of a month a pause or the close date takes
 * off and the pro rata amount of what is left, with odd cents, several
 * pauses in one month, and pause events that arrive in any order giving
 * the same days; and through a ledger, entries received from elsewhere:
 * a final claim after its author's own stop is rejected (final-not-due),
 * after the municipality's stop and in a pause it applies, as it must
 * whatever order the feeds arrive in.  The flows through the command line
 * are in tests/cli/t_stops.sh.
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

/* An allocation record of amount cents from start (end 0: open). */
static Keten__State__AllocationState *alloc(const char *domain, int64_t amount, uint32_t start, uint32_t end)
{
	Keten__State__AllocationState *as = calloc(1, sizeof *as);
	assert_non_null(as);
	keten__state__allocation_state__init(as);
	as->domain = strdup(domain);
	as->amount_cents = amount;
	as->start = start;
	as->end = end;
	return as;
}

static void close_it(Keten__State__AllocationState *as, const char *code, uint32_t date)
{
	as->closed = as->has_closed = 1;
	free(as->stop_code);
	as->stop_code = strdup(code);
	as->close_date = date;
}

static void event(Keten__State__AllocationState *as, uint8_t id, uint32_t date, bool resume)
{
	uint8_t entry[32] = {id}, author[32] = {1};
	assert_int_equal(kt_pause_add(as, entry, author, date, resume), 0);
}

static void test_final_bp_defaults(void **state)
{
	Keten__StopFinal f32 = KETEN__STOP_FINAL__INIT, f31 = KETEN__STOP_FINAL__INIT, *fl[2] = {&f32, &f31};
	Keten__FrameworkContract fc = KETEN__FRAMEWORK_CONTRACT__INIT;
	const char *code, *label;

	(void)state;
	/* according to plan keeps the whole final part; death, early stops and a move keep none */
	assert_int_equal(kt_final_bp(NULL, "jeugd", "31"), 10000);
	assert_int_equal(kt_final_bp(NULL, "wmo", "19"), 10000);
	assert_int_equal(kt_final_bp(NULL, "jeugd", "02"), 0);
	assert_int_equal(kt_final_bp(NULL, "jeugd", "32"), 0);
	assert_int_equal(kt_final_bp(NULL, "jeugd", "33"), 0);
	assert_int_equal(kt_final_bp(NULL, "wmo", "21"), 0);
	assert_int_equal(kt_final_bp(NULL, "wmo", "22"), 0);
	assert_int_equal(kt_final_bp(NULL, "wmo", "31"), 0); /* Wmo 31 is a move, not according to plan */
	assert_int_equal(kt_final_bp(NULL, "jeugd", "19"), 0);
	assert_int_equal(kt_final_bp(NULL, "jeugd", NULL), 10000); /* no stop yet */
	/* every code of both lists has a default of 0 or 100 % */
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; (code = kt_stop_code_at(d ? "wmo" : "jeugd", i, &label)); i++) {
			uint32_t bp = kt_final_bp(NULL, d ? "wmo" : "jeugd", code);
			assert_non_null(label);
			assert_true(bp == 0 || bp == 10000);
		}
	assert_null(kt_stop_code_at("jeugd", 11, NULL));
	assert_string_equal(kt_stop_code_at("wmo", 0, NULL), "02");
	/* the contract's lines come first */
	f32.stop_code = "32";
	f32.final_bp = 5000;
	f31.stop_code = "31";
	f31.final_bp = 9000;
	fc.n_stop_final = 2;
	fc.stop_final = fl;
	assert_int_equal(kt_final_bp(&fc, "jeugd", "32"), 5000);
	assert_int_equal(kt_final_bp(&fc, "jeugd", "31"), 9000);
	assert_int_equal(kt_final_bp(&fc, "jeugd", "33"), 0);
	assert_true(kt_stop_is_pause("20"));
	assert_false(kt_stop_is_pause("31"));
	assert_false(kt_stop_is_pause(NULL));
}

static void test_final_due_rounding(void **state)
{
	Keten__StopFinal f = KETEN__STOP_FINAL__INIT, *fl[1] = {&f};
	Keten__FrameworkContract fc = KETEN__FRAMEWORK_CONTRACT__INIT;
	Keten__State__AllocationState *as = alloc("jeugd", 1436600, 20270101, 20271231);
	int64_t due, up, fin;
	uint32_t bp;

	(void)state;
	keten_split_herstel(as->amount_cents, &up, &fin);
	assert_int_equal(fin, 478867);
	/* open, and paused (a pause is no close): the whole final part */
	assert_true(kt_final_due(NULL, as, NULL, &due, &bp));
	assert_int_equal(due, 478867);
	assert_int_equal(bp, 10000);
	event(as, 1, 20270301, false);
	assert_true(kt_final_due(NULL, as, NULL, &due, NULL));
	assert_int_equal(due, 478867);
	/* 50 % of 478867 = 239433.5: half away from zero gives 239434 due,
	 * the 239433 not due make up the rest */
	close_it(as, "32", 20270615);
	f.stop_code = "32";
	f.final_bp = 5000;
	fc.n_stop_final = 1;
	fc.stop_final = fl;
	assert_true(kt_final_due(NULL, as, &fc, &due, &bp));
	assert_int_equal(due, 239434);
	assert_int_equal(bp, 5000);
	assert_int_equal(due + (fin - due), 478867);
	assert_int_equal(fin - due, 239433);
	/* 33.33 %: 159606.37 -> 159606 */
	f.final_bp = 3333;
	assert_true(kt_final_due(NULL, as, &fc, &due, NULL));
	assert_int_equal(due, 159606);
	/* the defaults: 32 keeps nothing, 31 everything */
	assert_true(kt_final_due(NULL, as, NULL, &due, &bp));
	assert_int_equal(due, 0);
	assert_int_equal(bp, 0);
	close_it(as, "31", 20270615);
	assert_true(kt_final_due(NULL, as, NULL, &due, NULL));
	assert_int_equal(due, 478867);
	keten__state__allocation_state__free_unpacked(as, NULL);
}

static void test_month_cut_by_pause(void **state)
{
	Keten__State__AllocationState *as = alloc("wmo", 46330, 20270101, 0);
	int dim;

	(void)state;
	/* paused after 10 March (the last day of care), resumed on 21 April */
	event(as, 1, 20270310, false);
	event(as, 2, 20270421, true);
	assert_int_equal(kt_month_days(202703, as->start, as->end, as, &dim), 10);
	assert_int_equal(dim, 31);
	/* 46330 x 10 / 31 = 14945.16 */
	assert_int_equal(kt_month_value(46330, 202703, as->start, as->end, as), 14945);
	/* 46330 x 10 / 30 = 15443.33 */
	assert_int_equal(kt_month_value(46330, 202704, as->start, as->end, as), 15443);
	assert_int_equal(kt_month_value(46330, 202702, as->start, as->end, as), 46330);
	assert_int_equal(kt_month_value(46330, 202705, as->start, as->end, as), 46330);
	assert_false(kt_month_paused(as, 202703, as->start, as->end));
	/* two pauses in one month: 6-9 and 21-24 August, 23 of 31 days left:
	 * 46330 x 23 / 31 = 34373.87 */
	event(as, 3, 20270805, false);
	event(as, 4, 20270810, true);
	event(as, 5, 20270820, false);
	event(as, 6, 20270825, true);
	assert_int_equal(kt_month_days(202708, as->start, as->end, as, NULL), 23);
	assert_int_equal(kt_month_value(46330, 202708, as->start, as->end, as), 34374);
	/* a month wholly paused: after 30 September until 1 November */
	event(as, 7, 20270930, false);
	event(as, 8, 20271101, true);
	assert_true(kt_month_paused(as, 202710, as->start, as->end));
	assert_int_equal(kt_month_value(46330, 202710, as->start, as->end, as), 0);
	assert_int_equal(kt_month_value(46330, 202709, as->start, as->end, as), 46330);
	assert_int_equal(kt_month_value(46330, 202711, as->start, as->end, as), 46330);
	assert_false(kt_month_paused(as, 202709, as->start, as->end));
	/* still paused: every month after the pause date */
	event(as, 9, 20271215, false);
	assert_true(kt_paused(as, NULL));
	assert_true(kt_month_paused(as, 202801, as->start, as->end));
	/* 46330 x 15 / 31 = 22417.74 */
	assert_int_equal(kt_month_value(46330, 202712, as->start, as->end, as), 22418);
	keten__state__allocation_state__free_unpacked(as, NULL);
}

static void test_pieces_add_up(void **state)
{
	Keten__State__AllocationState *as = alloc("wmo", 46331, 20270101, 0);
	int64_t due, odd_total = 0, total = 0;

	(void)state;
	/* paused from 16 June: 15 of 30 days left, 46331 x 15 / 30 = 23165.5 ->
	 * 23166 due; the paused piece is the rest, 23165, never rounded apart */
	event(as, 1, 20270615, false);
	due = kt_month_value(46331, 202706, as->start, as->end, as);
	assert_int_equal(due, 23166);
	assert_int_equal(46331 - due, 23165);
	/* resumed on 17 July: what is due in the two cut months and their
	 * paused pieces make the monthly amounts exactly */
	event(as, 2, 20270717, true);
	for (uint32_t ym = 202706; ym <= 202707; ym++) {
		int64_t v = kt_month_value(46331, ym, as->start, as->end, as);
		assert_true(v > 0 && v < 46331);
		total += v;
		odd_total += 46331 - v;
	}
	assert_int_equal(total + odd_total, 2 * 46331);
	/* 17 July .. 31 July: 46331 x 15 / 31 = 22418.23 */
	assert_int_equal(kt_month_value(46331, 202707, as->start, as->end, as), 22418);
	keten__state__allocation_state__free_unpacked(as, NULL);
}

static void test_close_cuts_months(void **state)
{
	Keten__State__AllocationState *as = alloc("wmo", 46330, 20261116, 20280115);

	(void)state;
	/* without pauses and close: exactly keten_prorata_month */
	for (uint32_t ym = 202611; ym <= 202802; ym = ym % 100 == 12 ? ym + 89 : ym + 1)
		assert_int_equal(kt_month_value(46330, ym, as->start, as->end, as),
		                 keten_prorata_month(46330, ym, as->start, as->end));
	/* closed on 15 June 2027 (the last day of care): June 15/30, July none */
	close_it(as, "23", 20270615);
	assert_int_equal(kt_month_value(46330, 202706, as->start, as->end, as), 23165);
	assert_false(kt_month_after_close(as, 202706));
	assert_true(kt_month_after_close(as, 202707));
	assert_int_equal(kt_month_value(46330, 202707, as->start, as->end, as), 0);
	/* a close on the last day of a month leaves the next one after it */
	close_it(as, "19", 20270630);
	assert_int_equal(kt_month_value(46330, 202706, as->start, as->end, as), 46330);
	assert_true(kt_month_after_close(as, 202707));
	/* a closed pause record from before (stop code 20 closed) does not cut */
	close_it(as, "20", 20270630);
	assert_false(kt_month_after_close(as, 202707));
	assert_false(kt_month_after_close(NULL, 202707));
	keten__state__allocation_state__free_unpacked(as, NULL);
}

static void test_events_in_any_order(void **state)
{
	/* the same four events added in two orders: the same record, the same days */
	static const struct {
		uint8_t id;
		uint32_t date;
		bool resume;
	} ev[] = {{1, 20270310, false}, {2, 20270421, true}, {3, 20270421, false}, {4, 20270501, true}};
	static const int order[2][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}};
	int days[2][3];

	(void)state;
	for (int o = 0; o < 2; o++) {
		Keten__State__AllocationState *as = alloc("jeugd", 45200, 20270101, 0);
		for (int i = 0; i < 4; i++)
			event(as, ev[order[o][i]].id, ev[order[o][i]].date, ev[order[o][i]].resume);
		/* sorted: by date, a resume before a pause of its day */
		assert_int_equal(as->pauses[1]->entry.data[0], 2);
		assert_int_equal(as->pauses[2]->entry.data[0], 3);
		assert_int_equal(kt_pause_last(as), 20270501);
		days[o][0] = kt_month_days(202703, as->start, 0, as, NULL);
		days[o][1] = kt_month_days(202704, as->start, 0, as, NULL);
		days[o][2] = kt_month_days(202705, as->start, 0, as, NULL);
		assert_false(kt_paused(as, NULL));
		keten__state__allocation_state__free_unpacked(as, NULL);
	}
	assert_memory_equal(days[0], days[1], sizeof days[0]);
	/* March 1-10; April: 21 (resumed, paused again after it); May whole */
	assert_int_equal(days[0][0], 10);
	assert_int_equal(days[0][1], 1);
	assert_int_equal(days[0][2], 31);
}

/* Through a ledger ------------------------------------------------------------------ */

struct fx {
	char dir[64], mdir[96];
	keten_ledger *M;
	keten_keypair lead;
	uint64_t seq;
	uint8_t prev[32], contract[32];
};

static int append(struct fx *f, uint32_t type, const ProtobufCMessage *m, uint8_t id[32])
{
	uint8_t buf[4096], ids[1][32];
	keten_append a = {.body_type = type, .body = buf, .body_len = protobuf_c_message_get_packed_size(m)};
	keten_error err = {0};
	int rc;
	protobuf_c_message_pack(m, buf);
	rc = keten_ledger_append(f->M, &a, 1, ids, &err);
	if (rc == 0 && id)
		memcpy(id, ids[0], 32);
	return rc;
}

/* Sign m by the lead provider as the next entry of its feed and ingest it. */
static void ingest(struct fx *f, uint32_t type, const ProtobufCMessage *m, uint8_t id[32])
{
	uint8_t buf[4096];
	keten_entry_draft d = {.seq = f->seq + 1,
	                       .prev = f->seq ? f->prev : NULL,
	                       .timestamp_ms = 1764000000000LL,
	                       .body_type = type,
	                       .body = buf,
	                       .body_len = protobuf_c_message_get_packed_size(m)};
	keten_entry e;
	keten_blob b;
	keten_ingest_stats st;
	keten_error err = {0};

	protobuf_c_message_pack(m, buf);
	assert_int_equal(keten_entry_sign(&f->lead, &d, &e, &err), 0);
	b.data = e.raw;
	b.len = e.raw_len;
	assert_int_equal(keten_ledger_ingest(f->M, &b, 1, true, &st, &err), 0);
	f->seq++;
	memcpy(f->prev, e.id, 32);
	memcpy(id, e.id, 32);
	keten_entry_release(&e);
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

static void certify(struct fx *f, const uint8_t key[32], const char *name, uint32_t role)
{
	Keten__PartyCertificate pc = KETEN__PARTY_CERTIFICATE__INIT;
	char *mun = "0405";
	pc.key.data = (uint8_t *)key;
	pc.key.len = 32;
	pc.name = (char *)name;
	pc.n_roles = 1;
	pc.roles = &role;
	pc.n_municipality = role == KETEN__ROLE__MUNICIPALITY;
	pc.municipality = &mun;
	assert_int_equal(append(f, KETEN__BODY_TYPE__PARTY_CERTIFICATE, &pc.base, NULL), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	keten_home_info info = {0};
	keten_error err = {0};
	Keten__FrameworkContract fc = KETEN__FRAMEWORK_CONTRACT__INIT;
	Keten__Tariff h = KETEN__TARIFF__INIT, dz = KETEN__TARIFF__INIT, *tp[2] = {&h, &dz};
	char *mun = "0405";

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/keten-stops-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->mdir, sizeof f->mdir, "%s/m", f->dir);
	snprintf(info.name, sizeof info.name, "Gemeente Hoorn");
	snprintf(info.role, sizeof info.role, "municipality");
	snprintf(info.municipality, sizeof info.municipality, "0405");
	if (keten_home_create(f->mdir, NULL, &info, &err) || keten_ledger_open(f->mdir, &f->M, &err) ||
	    keten_ledger_unlock(f->M, NULL, &err) ||
	    keten_ledger_trust_add(f->M, keten_ledger_info(f->M)->key, "Gemeente Hoorn", &err))
		return -1;
	f->lead.sk = sodium_malloc(64);
	crypto_sign_keypair(f->lead.pk, f->lead.sk);
	*state = f;
	certify(f, keten_ledger_info(f->M)->key, "Gemeente Hoorn", KETEN__ROLE__MUNICIPALITY);
	certify(f, f->lead.pk, "Zorg Hoofd BV", KETEN__ROLE__LEAD_PROVIDER);
	h.domain = dz.domain = "jeugd";
	h.profile = dz.profile = "J03";
	h.intensity = dz.intensity = "4";
	h.kind = KETEN__KIND__HERSTEL;
	h.cents = 1436600;
	h.per = "traject";
	dz.kind = KETEN__KIND__DUURZAAM;
	dz.cents = 45200;
	dz.per = "maand";
	fc.ref = "RGW-S";
	fc.domain = "jeugd";
	fc.n_municipalities = 1;
	fc.municipalities = &mun;
	fc.valid_from = 20260101;
	fc.valid_until = 20281231;
	fc.n_tariffs = 2;
	fc.tariffs = tp;
	return append(f, KETEN__BODY_TYPE__FRAMEWORK_CONTRACT, &fc.base, f->contract) ? -1 : 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	keten_ledger_close(f->M);
	keten_keypair_release(&f->lead);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	free(f);
	return system(cmd) == 0 ? 0 : -1;
}

static void allocate(struct fx *f, uint32_t kind, int64_t amount, uint8_t id[32])
{
	Keten__Allocation al = KETEN__ALLOCATION__INIT;
	al.contract.data = f->contract;
	al.contract.len = 32;
	al.client_ref = "HRN-S";
	al.provider.data = f->lead.pk;
	al.provider.len = 32;
	al.domain = "jeugd";
	al.profile = "J03";
	al.intensity = "4";
	al.kind = kind;
	al.start = 20270101;
	al.has_end = 1;
	al.end = 20271231;
	al.amount_cents = amount;
	al.municipality = "0405";
	assert_int_equal(append(f, KETEN__BODY_TYPE__ALLOCATION, &al.base, id), 0);
}

static void result_of(Keten__Result *r, const uint8_t alloc[32], const char *code, uint32_t date)
{
	keten__result__init(r);
	r->allocation.data = (uint8_t *)alloc;
	r->allocation.len = 32;
	r->outcome = KETEN__OUTCOME__STOPPED;
	r->stop_code = (char *)code;
	r->date = date;
}

static void claim_of(Keten__Claim *k, const uint8_t target[32], const char *inst, int64_t amount)
{
	keten__claim__init(k);
	k->target.data = (uint8_t *)target;
	k->target.len = 32;
	k->installment = (char *)inst;
	k->amount_cents = amount;
}

static void test_received_after_stop(void **state)
{
	struct fx *f = *state;
	uint8_t a1[32], a2[32], a3[32], id[32];
	Keten__Result r;
	Keten__Claim k;
	char rule[48] = "";
	keten_error err = {0};
	Keten__State__ClaimState *ks = NULL;
	keten_txn *t;

	allocate(f, KETEN__KIND__HERSTEL, 1436600, a1);
	allocate(f, KETEN__KIND__HERSTEL, 1436600, a2);
	allocate(f, KETEN__KIND__DUURZAAM, 45200, a3);
	/* the lead provider's own stop precedes its claim in its feed: rejected */
	result_of(&r, a1, "32", 20270315);
	ingest(f, KETEN__BODY_TYPE__RESULT, &r.base, id);
	assert_int_equal(status_of(f, id, NULL), KS_APPLIED);
	claim_of(&k, a1, "final", 478867);
	ingest(f, KETEN__BODY_TYPE__CLAIM, &k.base, id);
	assert_int_equal(status_of(f, id, rule), KS_REJECTED);
	assert_string_equal(rule, "final-not-due");
	/* the municipality's stop: the claim may have been signed before the
	 * lead provider knew of it, so it applies, marked above agreed */
	result_of(&r, a2, "32", 20270315);
	assert_int_equal(append(f, KETEN__BODY_TYPE__RESULT, &r.base, NULL), 0);
	claim_of(&k, a2, "final", 478867);
	ingest(f, KETEN__BODY_TYPE__CLAIM, &k.base, id);
	assert_int_equal(status_of(f, id, NULL), KS_APPLIED);
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, &err), 0);
	assert_int_equal(kt_state_get(t, DK_CLAIM, id, &keten__state__claim_state__descriptor, (void **)&ks, NULL), 0);
	keten_txn_end(t);
	assert_true(ks->n_findings >= 1);
	assert_string_equal(ks->findings[0], "claim-above-agreed");
	kt_state_free(ks);
	/* a month wholly paused, received: applies (a resume may still come) */
	result_of(&r, a3, "20", 20270131);
	ingest(f, KETEN__BODY_TYPE__RESULT, &r.base, id);
	claim_of(&k, a3, "2027-02", 45200);
	ingest(f, KETEN__BODY_TYPE__CLAIM, &k.base, id);
	assert_int_equal(status_of(f, id, NULL), KS_APPLIED);
	/* a month after a close the lead provider signed itself, received:
	 * rejected, as the final part after its own stop is */
	result_of(&r, a3, "31", 20270315);
	ingest(f, KETEN__BODY_TYPE__RESULT, &r.base, id);
	claim_of(&k, a3, "2027-04", 45200);
	ingest(f, KETEN__BODY_TYPE__CLAIM, &k.base, id);
	assert_int_equal(status_of(f, id, rule), KS_REJECTED);
	assert_string_equal(rule, "month-after-close");
}

static bool marked(struct fx *f, const uint8_t id[32], const char *kind)
{
	Keten__State__ClaimState *ks = NULL;
	keten_txn *t;
	bool has = false;
	assert_int_equal(keten_store_read(keten_ledger_store(f->M), &t, NULL), 0);
	assert_int_equal(kt_state_get(t, DK_CLAIM, id, &keten__state__claim_state__descriptor, (void **)&ks, NULL), 0);
	keten_txn_end(t);
	for (size_t i = 0; i < ks->n_findings; i++)
		has = has || strcmp(ks->findings[i], kind) == 0;
	kt_state_free(ks);
	return has;
}

/* A duurzaam allocation's amount is a month's: the months claimed one by
 * one add up to more than it without being above what was agreed; a
 * herstel allocation's claims above its whole price are marked. */
static void test_months_add_up_past_one(void **state)
{
	struct fx *f = *state;
	uint8_t a1[32], a2[32], id[32];
	Keten__Claim k;
	static const char *const months[] = {"2027-01", "2027-02", "2027-03"};

	allocate(f, KETEN__KIND__DUURZAAM, 45200, a1);
	for (size_t i = 0; i < 3; i++) {
		claim_of(&k, a1, months[i], 45200);
		ingest(f, KETEN__BODY_TYPE__CLAIM, &k.base, id);
		assert_int_equal(status_of(f, id, NULL), KS_APPLIED);
		assert_false(marked(f, id, "claims-above-agreed"));
		assert_false(marked(f, id, "claim-above-agreed"));
	}
	allocate(f, KETEN__KIND__HERSTEL, 1436600, a2);
	claim_of(&k, a2, "upfront", 957733);
	ingest(f, KETEN__BODY_TYPE__CLAIM, &k.base, id);
	assert_false(marked(f, id, "claims-above-agreed"));
	claim_of(&k, a2, "final", 478868);
	ingest(f, KETEN__BODY_TYPE__CLAIM, &k.base, id);
	assert_int_equal(status_of(f, id, NULL), KS_APPLIED);
	assert_true(marked(f, id, "claims-above-agreed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_final_bp_defaults),
		cmocka_unit_test(test_final_due_rounding),
		cmocka_unit_test(test_month_cut_by_pause),
		cmocka_unit_test(test_pieces_add_up),
		cmocka_unit_test(test_close_cuts_months),
		cmocka_unit_test(test_events_in_any_order),
		cmocka_unit_test_setup_teardown(test_received_after_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_months_add_up_past_one, setup, teardown),
	};
	setenv("KETEN_PWHASH_FAST", "1", 1);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
