/*
 * bench_reconcile.c — `make bench` for reconciliation: a generated region
 * ledger (a region of 7 municipalities, 60 providers, KETEN_BENCH_CLIENTS
 * clients over two years: herstel and duurzaam allocations, a fifth of
 * them partly subcontracted to another provider, claims, payments,
 * receipts and results; every entry composed from a draft by the library
 * (keten/record.h), signed by its real author and appended or ingested
 * through the ledger's one path, rules and derived state included), then,
 * for one provider seen from the region's node:
 *
 *   - the whole commands: `keten reconcile --with P --as-of 2027-12-31
 *     --format csv` and `keten balance --with P` (the real binary), against
 *     the sqlite3 command line answering the same questions over the same
 *     data exported to one table with indices on payer, payee and target
 *     (per agreement of P: agreed, claimed, paid, received, outstanding;
 *     per pair of P: claimed, paid, received); wall time per run, process
 *     start included, median of KETEN_BENCH_REPS after one warm-up;
 *   - in process, like for like: keten_reconcile() (its read transaction,
 *     lines, sums and findings) against the SQLite C API in this process
 *     (the same table opened once, the same query prepared once, each run
 *     stepping over and copying out every result row; SQLite's default
 *     2 MB page cache, and for reference a 256 MiB one and a prepare in
 *     each run), median of 3 x KETEN_BENCH_REPS runs after one warm-up; and
 *     keten_recon_balance(): the region's balance with P, with every
 *     counterparty, and with P --as-of the last day (which sums the pair's
 *     daily records).
 *
 * Every fact is dated by the end of 2027, so as of 2027-12-31 keten's
 * answer is the plain sums of the exported facts: the bench compares the
 * two answers agreement by agreement and in total and prints the check.
 *
 * It prints both pairs of times and their ratios (keten / sqlite).  It
 * asserts nothing.  Environment: KETEN_BENCH_KETEN (binary, default build/keten),
 * KETEN_BENCH_CLIENTS (default 2000, about 39,000 entries; 50000 makes
 * the target of a million entries), KETEN_BENCH_REPS (default 5), KETEN_BENCH_DIR (scratch
 * directory, default a new one under /tmp, removed at the end),
 * KETEN_BENCH_KEEP=1 (keep it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "keten/keten.h"
#include "keten/reconcile.h"

#define N_MUNI   7
#define N_PROV   60
#define MONTHS   24
#define MAX_REPS 15
#define CHUNK    4000

static const char *const munis[N_MUNI] = {"0405", "0498", "0532", "0420", "0385", "0448", "0416"};

static const char *keten_bin = "build/keten";
static char workdir[4096], home[4200], csv_path[4200], db_path[4200];
static int made_workdir;
static size_t n_clients = 2000;
static int reps = 5;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const keten_error *err)
{
	fprintf(stderr, "bench_reconcile: %s: %s%s%s\n", what, err && err->rule[0] ? err->rule : "",
	        err && err->rule[0] ? ": " : "", err ? err->msg : "");
	exit(1);
}

/* Authors ----------------------------------------------------------------------- */

typedef struct author {
	keten_keypair kp;
	uint64_t seq;
	uint8_t prev[32];
	char hex[65];
} author;

static author prov[N_PROV];
static uint8_t region_key[32];
static char region_hex[65];
static keten_ledger *L;
static size_t total_entries;

/* Drafts waiting to be recorded --------------------------------------------------- */

/*
 * The generator queues drafts (keten/record.h) and records them in calls
 * of up to CHUNK: the region's own by keten_record (composed and appended
 * by its key, timestamped now; an allocation gets the composer's defaults,
 * the tariff and the region's CBS code), a provider's by keten_compose at
 * the region's node, signed by the provider's key with the generator's
 * timestamp (keten_entry_sign) and ingested as from the provider's node
 * (keten_ledger_ingest, all or nothing).  The composer reads the state
 * earlier entries left, so a draft that needs one (an answer its offer, a
 * receipt its payment) is queued after the flush that recorded it.  What
 * a draft points at stays put until the flush.
 */
typedef struct queued {
	author *by;      /* NULL: the region */
	int64_t ts;      /* a provider's entry: its timestamp */
	uint8_t *id;     /* receives the entry's id (may be NULL) */
	int64_t *amount; /* receives the amount it carries (may be NULL) */
} queued;

static keten_draft *qd;
static queued *qm;
static size_t n_q, cap_q;

static void flush(void);

/* A new draft of this kind by `by` (NULL: the region), cleared; the caller fills it in. */
static keten_draft *queue(keten_draft_kind kind, author *by, int64_t ts, uint8_t *id, int64_t *amount)
{
	if (n_q >= CHUNK)
		flush();
	if (n_q == cap_q) {
		cap_q = cap_q ? cap_q * 2 : 1024;
		qd = realloc(qd, cap_q * sizeof *qd);
		qm = realloc(qm, cap_q * sizeof *qm);
		if (!qd || !qm)
			exit(1);
	}
	memset(&qd[n_q], 0, sizeof *qd);
	qd[n_q].kind = kind;
	qm[n_q] = (queued){.by = by, .ts = ts, .id = id, .amount = amount};
	return &qd[n_q++];
}

/* Record drafts [i, j) of the queue, all by the region, in one call. */
static void record_region(size_t i, size_t j)
{
	keten_error err = {0};
	keten_draft_need need;
	keten_recorded *rec = calloc(j - i, sizeof *rec);
	if (!rec)
		exit(1);
	if (keten_record(L, qd + i, j - i, rec, &need, &err))
		die("keten_record", &err);
	for (size_t k = i; k < j; k++) {
		if (qm[k].id)
			memcpy(qm[k].id, rec[k - i].id, 32);
		if (qm[k].amount)
			*qm[k].amount = rec[k - i].amount_cents;
	}
	free(rec);
	total_entries += j - i;
}

/* Compose drafts [i, j) of the queue, all by providers, sign each by its
 * author and ingest them in one call. */
static void record_providers(size_t i, size_t j)
{
	keten_error err = {0};
	keten_ingest_stats st = {0};
	keten_composition c;
	size_t n = j - i;
	keten_entry *e = calloc(n, sizeof *e);
	keten_blob *b = calloc(n, sizeof *b);
	if (!e || !b)
		exit(1);
	if (keten_compose(L, qd + i, n, &c, &err))
		die("keten_compose", &err);
	for (size_t k = 0; k < n; k++) {
		const keten_composed *x = &c.entries[k];
		author *a = qm[i + k].by;
		uint8_t aud[KETEN_MAX_AUDIENCE][32];
		size_t na = 0;
		/* the author first, as its own node composes it, then the parties the composer chose */
		if (x->n_audience)
			memcpy(aud[na++], a->kp.pk, 32);
		for (size_t y = 0; y < x->n_audience && na < KETEN_MAX_AUDIENCE; y++) {
			bool seen = false;
			for (size_t z = 0; z < na && !seen; z++)
				seen = memcmp(aud[z], x->audience[y], 32) == 0;
			if (!seen)
				memcpy(aud[na++], x->audience[y], 32);
		}
		keten_entry_draft d = {.seq = a->seq + 1,
		                       .prev = a->seq ? a->prev : NULL,
		                       .timestamp_ms = qm[i + k].ts,
		                       .body_type = x->body_type,
		                       .body = x->body,
		                       .body_len = x->body_len,
		                       .audience = (const uint8_t(*)[32])aud,
		                       .n_audience = na};
		if (keten_entry_sign(&a->kp, &d, &e[k], &err))
			die("keten_entry_sign", &err);
		a->seq++;
		memcpy(a->prev, e[k].id, 32);
		b[k] = (keten_blob){e[k].raw, e[k].raw_len};
		if (qm[i + k].id)
			memcpy(qm[i + k].id, e[k].id, 32);
		if (qm[i + k].amount)
			*qm[i + k].amount = x->amount_cents;
	}
	if (keten_ledger_ingest(L, b, n, true, &st, &err))
		die("keten_ledger_ingest", &err);
	if (st.rejected || st.pending)
		fprintf(stderr, "bench_reconcile: %zu rejected, %zu pending of %zu\n", st.rejected, st.pending, n);
	for (size_t k = 0; k < n; k++)
		keten_entry_release(&e[k]);
	keten_composition_release(&c);
	free(e);
	free(b);
	total_entries += n;
}

/* Record the queue in order: each run of the region's drafts, and of
 * providers' drafts, in one call. */
static void flush(void)
{
	for (size_t i = 0, j; i < n_q; i = j) {
		for (j = i; j < n_q && !qm[j].by == !qm[i].by; j++)
			;
		if (qm[i].by)
			record_providers(i, j);
		else
			record_region(i, j);
	}
	n_q = 0;
}

/* The data set ------------------------------------------------------------------------ */

typedef struct client {
	uint8_t alloc[32];
	char ref[16];  /* client_ref */
	int prov, sub; /* sub: subcontractor index, -1 none */
	bool herstel;
	int start;      /* month index 0..23 */
	int64_t amount; /* herstel total or monthly, as recorded */
	uint8_t offer[32];
	int64_t offer_amount; /* fixed total or monthly */
} client;

static client *cl;
static FILE *csv;

static uint32_t month_first(int m)
{
	return (uint32_t)((2025 + m / 12) * 10000 + (m % 12 + 1) * 100 + 1);
}

static uint32_t month_last(int m)
{
	int y = 2025 + m / 12, mo = m % 12 + 1;
	return (uint32_t)(y * 10000 + mo * 100 + keten_days_in_month(y, mo));
}

static int64_t ms_of(uint32_t ymd)
{
	return keten_date_days(ymd) * 86400000LL + 12 * 3600000LL;
}

static void hexid(char out[65], const uint8_t id[32])
{
	keten_hex(out, id, 32);
}

/* One row of the SQLite export: the same facts keten holds. */
static void csv_row(const char *type, const uint8_t id[32], const char *payer, const char *payee,
                    const uint8_t target[32], int64_t amount, uint32_t date, const uint8_t claim[32])
{
	char a[65], b[65], c[65];
	hexid(a, id);
	hexid(b, target);
	if (claim)
		hexid(c, claim);
	else
		c[0] = 0;
	fprintf(csv, "%s,%s,%s,%s,%s,%lld,%u,%s\n", type, a, payer, payee, b, (long long)amount, date, c);
}

/* A claim of the month, and what pays and confirms it. */
struct pending_claim {
	uint8_t id[32];
	int c;    /* client */
	bool sub; /* a subcontractor's claim on the offer */
	int64_t amount;
	uint32_t date;
	uint32_t paid;    /* the payment's date */
	char ref[32];     /* the payment's reference */
	uint8_t pay[32];  /* the payment */
	uint8_t rcpt[32]; /* its receipt, when confirmed */
};

static const uint32_t region_roles[1] = {KETEN_ROLE_MUNICIPALITY};
static const uint32_t prov_roles[2] = {KETEN_ROLE_LEAD_PROVIDER, KETEN_ROLE_SUBCONTRACTOR};
static const char tariff_csv[] = "domain,profile,intensity,kind,tariff_cents,per\n"
				 "jeugd,J03,4,herstel,1436600,traject\n"
				 "jeugd,J03,4,duurzaam,159600,maand\n";

/* The home, its parties and the framework contract; *contract receives its id. */
static void generate_parties(uint8_t contract[32])
{
	static char names[N_PROV][32];
	keten_error err = {0};
	keten_home_info info = {0};
	keten_tariffs tariffs;
	keten_draft *d;

	snprintf(info.name, sizeof info.name, "Regio West-Friesland");
	snprintf(info.role, sizeof info.role, "municipality");
	snprintf(info.municipality, sizeof info.municipality, "0405");
	if (keten_home_create(home, NULL, &info, &err) || keten_ledger_open(home, &L, &err) ||
	    keten_ledger_unlock(L, NULL, &err))
		die("home", &err);
	memcpy(region_key, keten_ledger_info(L)->key, 32);
	hexid(region_hex, region_key);
	if (keten_ledger_trust_add(L, region_key, "Regio West-Friesland", &err))
		die("trust", &err);
	d = queue(KETEN_DRAFT_CERTIFICATE, NULL, 0, NULL, NULL);
	d->certificate = (keten_draft_certificate){.name = "Regio West-Friesland",
	                                           .roles = region_roles,
	                                           .n_roles = 1,
	                                           .municipalities = munis,
	                                           .n_municipalities = N_MUNI,
	                                           .valid_from = 20240101};
	memcpy(d->certificate.key, region_key, 32);
	for (int p = 0; p < N_PROV; p++) {
		prov[p].kp.sk = sodium_malloc(64);
		if (!prov[p].kp.sk)
			exit(1);
		crypto_sign_keypair(prov[p].kp.pk, prov[p].kp.sk);
		hexid(prov[p].hex, prov[p].kp.pk);
		snprintf(names[p], sizeof names[p], "Zorgaanbieder %02d", p + 1);
		d = queue(KETEN_DRAFT_CERTIFICATE, NULL, 0, NULL, NULL);
		d->certificate = (keten_draft_certificate){
			.name = names[p], .roles = prov_roles, .n_roles = 2, .valid_from = 20240101};
		memcpy(d->certificate.key, prov[p].kp.pk, 32);
	}
	if (keten_tariffs_parse((const uint8_t *)tariff_csv, sizeof tariff_csv - 1, "jeugd", &tariffs, &err))
		die("tariffs", &err);
	d = queue(KETEN_DRAFT_CONTRACT, NULL, 0, contract, NULL);
	d->contract = (keten_draft_contract){.ref = "RWF-J-2025",
	                                     .domain = "jeugd",
	                                     .municipalities = munis,
	                                     .n_municipalities = N_MUNI,
	                                     .valid_from = 20250101,
	                                     .valid_until = 20271231,
	                                     .tariffs = &tariffs,
	                                     .payment_term_days = 30};
	flush();
	keten_tariffs_release(&tariffs);
}

/* Month m, steps 1 and 2: the allocations that start in it, their offers
 * to subcontractors and the answers. */
static void generate_agreements(int m, const uint8_t contract[32])
{
	uint32_t d1 = month_first(m);
	keten_draft *d;

	for (size_t c = 0; c < n_clients; c++) {
		if (cl[c].start != m)
			continue;
		d = queue(KETEN_DRAFT_ALLOCATION, NULL, 0, cl[c].alloc, &cl[c].amount);
		d->allocation = (keten_draft_allocation){.client_ref = cl[c].ref,
		                                         .kind = cl[c].herstel ? KETEN_KIND_HERSTEL
		                                                               : KETEN_KIND_DUURZAAM,
		                                         .profile = "J03",
		                                         .intensity = "4",
		                                         .start = d1,
		                                         .end = month_last(m + (cl[c].herstel ? 5 : 11))};
		memcpy(d->allocation.contract, contract, 32);
		memcpy(d->allocation.provider, prov[cl[c].prov].kp.pk, 32);
	}
	flush();
	for (size_t c = 0; c < n_clients; c++) {
		if (cl[c].start != m)
			continue;
		csv_row("agreement", cl[c].alloc, region_hex, prov[cl[c].prov].hex, cl[c].alloc,
		        cl[c].herstel ? cl[c].amount : cl[c].amount * 12, d1, NULL);
	}
	for (size_t c = 0; c < n_clients; c++) {
		if (cl[c].start != m || cl[c].sub < 0)
			continue;
		d = queue(KETEN_DRAFT_SUBCONTRACT, &prov[cl[c].prov], ms_of(d1) + 1000, cl[c].offer, NULL);
		d->subcontract = (keten_draft_subcontract){.pricing = cl[c].herstel ? KETEN_PRICING_FIXED_AMOUNT
		                                                                    : KETEN_PRICING_MONTHLY,
		                                           .amount_cents = cl[c].offer_amount,
		                                           .start = d1,
		                                           .end = month_last(m + (cl[c].herstel ? 5 : 11))};
		memcpy(d->subcontract.target, cl[c].alloc, 32);
		memcpy(d->subcontract.subcontractor, prov[cl[c].sub].kp.pk, 32);
	}
	flush();
	for (size_t c = 0; c < n_clients; c++) {
		if (cl[c].start != m || cl[c].sub < 0)
			continue;
		d = queue(KETEN_DRAFT_ANSWER, &prov[cl[c].sub], ms_of(d1) + 2000, NULL, NULL);
		memcpy(d->answer.offer, cl[c].offer, 32);
		d->answer.accept = true;
		csv_row("agreement", cl[c].offer, prov[cl[c].prov].hex, prov[cl[c].sub].hex, cl[c].offer,
		        cl[c].herstel ? cl[c].offer_amount : cl[c].offer_amount * 12, d1, NULL);
	}
	flush();
}

/* Month m, step 3: the claims of the month (into pc, which holds two per
 * client) and the herstel results; returns how many claims. */
static size_t generate_claims(int m, struct pending_claim *pc)
{
	static const char *const inst_h[2] = {"upfront", "final"};
	uint32_t d1 = month_first(m);
	char month[8];
	size_t n_pc = 0;
	keten_draft *d;

	snprintf(month, sizeof month, "%04u-%02u", d1 / 10000, d1 / 100 % 100);
	for (size_t c = 0; c < n_clients; c++) {
		int age = m - cl[c].start;
		int64_t up, fin;
		if (age < 0 || (cl[c].herstel && age != 0 && age != 6) || (!cl[c].herstel && age > 11))
			continue;
		for (int who = 0; who < 2; who++) {
			struct pending_claim *k = &pc[n_pc];
			if (who == 1 && cl[c].sub < 0)
				break;
			memset(k, 0, sizeof *k);
			k->c = (int)c;
			k->sub = who == 1;
			k->date = d1 + 4;
			if (cl[c].herstel) {
				keten_split_herstel(who == 0 ? cl[c].amount : cl[c].offer_amount, &up, &fin);
				k->amount = age == 0 ? up : fin;
			} else
				k->amount = who == 0 ? cl[c].amount : cl[c].offer_amount;
			d = queue(KETEN_DRAFT_CLAIM, who == 0 ? &prov[cl[c].prov] : &prov[cl[c].sub], ms_of(k->date),
			          k->id, NULL);
			memcpy(d->claim.target, who == 0 ? cl[c].alloc : cl[c].offer, 32);
			d->claim.installment = cl[c].herstel ? inst_h[age != 0] : month;
			d->claim.has_amount = true;
			d->claim.amount_cents = k->amount;
			n_pc++;
		}
		if (cl[c].herstel && age == 6) {
			d = queue(KETEN_DRAFT_CLOSE, &prov[cl[c].prov], ms_of(d1 + 3), NULL, NULL);
			memcpy(d->close.allocation, cl[c].alloc, 32);
			d->close.outcome = (c % 10 == 0) ? KETEN_OUTCOME_STOPPED : KETEN_OUTCOME_ACHIEVED;
			d->close.stop_code = (c % 10 == 0) ? "32" : "31";
			d->close.date = d1;
		}
	}
	flush();
	for (size_t i = 0; i < n_pc; i++) {
		const client *x = &cl[pc[i].c];
		csv_row("claim", pc[i].id, pc[i].sub ? prov[x->prov].hex : region_hex,
		        pc[i].sub ? prov[x->sub].hex : prov[x->prov].hex, pc[i].sub ? x->offer : x->alloc, pc[i].amount,
		        pc[i].date, NULL);
	}
	return n_pc;
}

/* Month m, steps 4 and 5: the region pays the lead providers, the lead
 * providers pay the subcontractors, and confirm 9 in 10 of the region's
 * payments. */
static void generate_payments(int m, struct pending_claim *pc, size_t n_pc)
{
	uint32_t d1 = month_first(m);
	keten_draft *d;

	/* the subcontractors' payments first, then the region's: one call each */
	for (int region = 0; region < 2; region++) {
		for (size_t i = 0; i < n_pc; i++) {
			const client *x = &cl[pc[i].c];
			if (pc[i].sub == (region == 1))
				continue;
			pc[i].paid = keten_date_add_days(pc[i].date, 5 + (int32_t)(i % 37));
			snprintf(pc[i].ref, sizeof pc[i].ref, "E2E-%d-%zu", m, i);
			d = queue(KETEN_DRAFT_PAYMENT, region ? NULL : &prov[x->prov], ms_of(d1 + 20), pc[i].pay, NULL);
			d->payment = (keten_draft_payment){.claims = (const uint8_t(*)[32])pc[i].id,
			                                   .n_claims = 1,
			                                   .amount_cents = pc[i].amount,
			                                   .date = pc[i].paid,
			                                   .reference = pc[i].ref};
		}
	}
	flush();
	for (size_t i = 0; i < n_pc; i++) {
		const client *x = &cl[pc[i].c];
		if (pc[i].sub)
			csv_row("payment", pc[i].pay, prov[x->prov].hex, prov[x->sub].hex, x->offer, pc[i].amount,
			        pc[i].paid, pc[i].id);
		else
			csv_row("payment", pc[i].pay, region_hex, prov[x->prov].hex, x->alloc, pc[i].amount, pc[i].paid,
			        pc[i].id);
	}
	for (size_t i = 0; i < n_pc; i++) {
		if (pc[i].sub || i % 10 == 9)
			continue;
		d = queue(KETEN_DRAFT_RECEIPT, &prov[cl[pc[i].c].prov], ms_of(d1 + 25), pc[i].rcpt, NULL);
		memcpy(d->receipt.payment, pc[i].pay, 32);
		d->receipt.has_amount = true;
		d->receipt.amount_cents = pc[i].amount;
		d->receipt.date = pc[i].paid;
	}
	flush();
	for (size_t i = 0; i < n_pc; i++) {
		const client *x = &cl[pc[i].c];
		if (pc[i].sub || i % 10 == 9)
			continue;
		csv_row("receipt", pc[i].rcpt, region_hex, prov[x->prov].hex, x->alloc, pc[i].amount, pc[i].paid,
		        pc[i].id);
	}
}

static void generate(void)
{
	uint8_t contract[32];
	uint64_t rng = 0x9E3779B97F4A7C15ull;
	struct pending_claim *pc;
	double t0 = now_s();

	generate_parties(contract);
	cl = calloc(n_clients, sizeof *cl);
	pc = calloc(2 * n_clients + 1, sizeof *pc); /* at most two claims per client and month */
	if (!cl || !pc)
		exit(1);
	for (size_t c = 0; c < n_clients; c++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		cl[c].prov = (int)((rng >> 33) % N_PROV);
		cl[c].herstel = (rng >> 20) & 1;
		cl[c].start = (int)((rng >> 40) % MONTHS);
		cl[c].sub = ((rng >> 50) % 5 == 0) ? (cl[c].prov + 1 + (int)((rng >> 24) % (N_PROV - 1))) % N_PROV : -1;
		cl[c].amount = cl[c].herstel ? 1436600 : 159600;
		cl[c].offer_amount = cl[c].herstel ? 480000 : 60000;
		snprintf(cl[c].ref, sizeof cl[c].ref, "RWF-%06zu", c);
	}
	for (int m = 0; m < MONTHS; m++) {
		size_t n_pc;
		generate_agreements(m, contract);
		n_pc = generate_claims(m, pc);
		generate_payments(m, pc, n_pc);
		if (isatty(2))
			fprintf(stderr, "\rgenerating: month %d/%d, %zu entries", m + 1, MONTHS, total_entries);
	}
	if (isatty(2))
		fprintf(stderr, "\n");
	free(pc);
	printf("generated: %zu clients, %d providers, %d municipalities, %zu entries in %.1f s\n", n_clients, N_PROV,
	       N_MUNI, total_entries, now_s() - t0);
	{
		/* the price of the derived state and its indices, for the record */
		char path[4300];
		struct stat sb;
		snprintf(path, sizeof path, "%s/ledger/data.mdb", home);
		if (stat(path, &sb) == 0)
			printf("ledger file: %.0f MB\n", (double)sb.st_size / 1e6);
	}
}

/* Timing ------------------------------------------------------------------------------- */

static int run_quiet(char *const argv[])
{
	pid_t pid;
	int st;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median wall time of running argv reps times (one warm-up run first). */
static double time_cmd(char *const argv[])
{
	double t[MAX_REPS];
	int rc = run_quiet(argv);
	if (rc != 0 && rc != 1) {
		fprintf(stderr, "bench_reconcile: %s %s exited %d\n", argv[0], argv[1], rc);
		return -1;
	}
	for (int i = 0; i < reps; i++) {
		double t0 = now_s();
		run_quiet(argv);
		t[i] = now_s() - t0;
	}
	qsort(t, (size_t)reps, sizeof *t, cmp_d);
	return t[reps / 2];
}

static void rmtree(const char *dir)
{
	char *argv[] = {"rm", "-rf", (char *)dir, NULL};
	run_quiet(argv);
}
/* SQLite in process -------------------------------------------------------------------- */

/* One row of the reconcile question: one agreement of P, with its sums. */
typedef struct qrow {
	char target[65], payer[65], payee[65];
	int64_t agreed, claimed, paid, received, outstanding;
} qrow;

static qrow *sql_rows;
static size_t n_sql_rows, cap_sql_rows;

static void copy_text(char out[65], sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);
	if (!t || n < 0)
		n = 0;
	if (n > 64)
		n = 64;
	memcpy(out, t ? (const char *)t : "", (size_t)n);
	out[n] = 0;
}

/* Step a prepared statement over all its result rows, copying each row
 * out as a caller would, then reset it.  Returns 0, or -1 on an error. */
static int step_rows(sqlite3_stmt *st)
{
	int rc;
	n_sql_rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		qrow *w;
		if (n_sql_rows == cap_sql_rows) {
			cap_sql_rows = cap_sql_rows ? cap_sql_rows * 2 : 256;
			if (!(sql_rows = realloc(sql_rows, cap_sql_rows * sizeof *sql_rows)))
				exit(1);
		}
		w = &sql_rows[n_sql_rows++];
		copy_text(w->target, st, 0);
		copy_text(w->payer, st, 1);
		copy_text(w->payee, st, 2);
		w->agreed = sqlite3_column_int64(st, 3);
		w->claimed = sqlite3_column_int64(st, 4);
		w->paid = sqlite3_column_int64(st, 5);
		w->received = sqlite3_column_int64(st, 6);
		w->outstanding = sqlite3_column_int64(st, 7);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int cmp_qrow(const void *a, const void *b)
{
	return strcmp(((const qrow *)a)->target, ((const qrow *)b)->target);
}

static void sum_rows(const qrow *r, size_t n, int64_t s[5])
{
	memset(s, 0, 5 * sizeof *s);
	for (size_t i = 0; i < n; i++) {
		s[0] += r[i].agreed;
		s[1] += r[i].claimed;
		s[2] += r[i].paid;
		s[3] += r[i].received;
		s[4] += r[i].outstanding;
	}
}

/* Compare keten_reconcile()'s lines with SQLite's rows, agreement by
 * agreement and in total; print the check.  Returns true when they agree. */
static bool check_same(const keten_recon *r)
{
	qrow *k = calloc(r->n_lines ? r->n_lines : 1, sizeof *k), *q = sql_rows;
	size_t same = 0, nk = r->n_lines, nq = n_sql_rows, i = 0, j = 0;
	int64_t sk[5], sq[5];
	bool ok;
	if (!k)
		exit(1);
	for (size_t x = 0; x < nk; x++) {
		const keten_recon_line *l = &r->lines[x];
		hexid(k[x].target, l->subject);
		hexid(k[x].payer, l->payer);
		hexid(k[x].payee, l->payee);
		k[x].agreed = l->agreed_cents;
		k[x].claimed = l->claimed_cents;
		k[x].paid = l->paid_cents;
		k[x].received = l->received_cents;
		k[x].outstanding = l->outstanding_cents;
	}
	qsort(k, nk, sizeof *k, cmp_qrow);
	qsort(q, nq, sizeof *q, cmp_qrow);
	while (i < nk && j < nq) {
		int c = strcmp(k[i].target, q[j].target);
		if (c == 0) {
			if (!strcmp(k[i].payer, q[j].payer) && !strcmp(k[i].payee, q[j].payee) &&
			    k[i].agreed == q[j].agreed && k[i].claimed == q[j].claimed && k[i].paid == q[j].paid &&
			    k[i].received == q[j].received && k[i].outstanding == q[j].outstanding)
				same++;
			i++, j++;
		} else if (c < 0)
			i++;
		else
			j++;
	}
	sum_rows(k, nk, sk);
	sum_rows(q, nq, sq);
	ok = nk == nq && same == nk && !memcmp(sk, sq, sizeof sk);
	printf("check: keten_reconcile() %zu agreements, SQLite %zu rows, %zu equal row by row (payer, payee, agreed,\n"
	       "       claimed, paid, received, outstanding): %s\n",
	       nk, nq, same, ok ? "the same answer" : "DIFFERENT");
	printf("%-8s %16s %16s %16s %16s %16s\n", "cents", "agreed", "claimed", "paid", "received", "outstanding");
	printf("%-8s %16lld %16lld %16lld %16lld %16lld\n", "keten", (long long)sk[0], (long long)sk[1],
	       (long long)sk[2], (long long)sk[3], (long long)sk[4]);
	printf("%-8s %16lld %16lld %16lld %16lld %16lld\n", "sqlite", (long long)sq[0], (long long)sq[1],
	       (long long)sq[2], (long long)sq[3], (long long)sq[4]);
	free(k);
	return ok;
}

/* Every fact of the data set is dated by the end of 2027 (the last
 * payments fall in January 2027): as of this day keten counts all of them,
 * and its answer is the plain sums SQLite gives, whatever day the bench
 * runs on. */
#define AS_OF     20271231
#define AS_OF_ARG "2027-12-31"

/* Time keten_reconcile() for one party in process, n runs after one
 * warm-up, each with its own read transaction; *out keeps the last answer;
 * t receives the sorted times. */
static void time_reconcile(const uint8_t *with, uint32_t as_of, int n, keten_recon *out, double *t)
{
	keten_error err = {0};
	keten_recon_opts o = {.me = region_key, .with = with, .as_of = as_of};
	for (int i = -1; i < n; i++) {
		keten_txn *txn;
		double t0;
		keten_recon_release(out);
		t0 = now_s();
		if (keten_store_read(keten_ledger_store(L), &txn, &err) || keten_reconcile(txn, &o, out, &err))
			die("reconcile", &err);
		keten_txn_end(txn);
		if (i >= 0)
			t[i] = now_s() - t0;
	}
	qsort(t, (size_t)n, sizeof *t, cmp_d);
}

int main(void)
{
	const char *s;
	char sql_recon[1024], sql_bal[1024], sql_load[9000];
	double t_kr, t_kb, t_sr, t_sb, t_lib[MAX_REPS], t_today[MAX_REPS], t_bal[3][MAX_REPS];
	double t_sq[MAX_REPS], t_sqp[MAX_REPS], t_sqc[MAX_REPS];
	size_t bal_rows[3] = {0};
	keten_recon res = {0};
	bool same;
	int p = 7, n_in;

	if ((s = getenv("KETEN_BENCH_KETEN")) && *s)
		keten_bin = s;
	if ((s = getenv("KETEN_BENCH_CLIENTS")) && atol(s) > 0)
		n_clients = (size_t)atol(s);
	if ((s = getenv("KETEN_BENCH_REPS")) && atoi(s) > 0)
		reps = atoi(s) < MAX_REPS ? atoi(s) : MAX_REPS;
	/* in-process runs are cheap: three times as many, for a steadier median */
	n_in = reps * 3 < MAX_REPS ? reps * 3 : MAX_REPS;
	if (keten_init_crypto())
		return 1;
	setenv("KETEN_PWHASH_FAST", "1", 1);
	if ((s = getenv("KETEN_BENCH_DIR")) && *s) {
		snprintf(workdir, sizeof workdir, "%s", s);
		mkdir(workdir, 0700);
	} else {
		snprintf(workdir, sizeof workdir, "/tmp/keten-bench-reconcile-XXXXXX");
		if (!mkdtemp(workdir)) {
			perror("mkdtemp");
			return 1;
		}
		made_workdir = 1;
	}
	snprintf(home, sizeof home, "%s/region", workdir);
	snprintf(csv_path, sizeof csv_path, "%s/facts.csv", workdir);
	snprintf(db_path, sizeof db_path, "%s/facts.sqlite", workdir);
	if (!(csv = fopen(csv_path, "w"))) {
		perror(csv_path);
		return 1;
	}
	generate();
	fclose(csv);

	/* the question, in keten, in process: as of AS_OF (the answer kept for
	 * the check), and as of today for reference (what the command does
	 * without --as-of: later facts do not count, the answer differs) */
	time_reconcile(prov[p].kp.pk, AS_OF, n_in, &res, t_lib);
	{
		keten_recon ref = {0};
		time_reconcile(prov[p].kp.pk, 0, n_in, &ref, t_today);
		keten_recon_release(&ref);
	}
	printf("party: Zorgaanbieder %02d (%s...): %zu agreements, %zu findings as of %s\n", p + 1, prov[p].hex,
	       res.n_lines, res.n_findings, AS_OF_ARG);
	/* balance in process: the read transaction and the sums, no process start-up */
	for (int q = 0; q < 3; q++) {
		keten_error err = {0};
		keten_balance b = {0};
		for (int i = 0; i < n_in; i++) {
			keten_txn *t;
			double t0 = now_s();
			if (keten_store_read(keten_ledger_store(L), &t, &err) ||
			    keten_recon_balance(t, region_key, q == 1 ? NULL : prov[p].kp.pk, q == 2 ? 20261231 : 0, &b,
			                        &err))
				die("balance", &err);
			keten_txn_end(t);
			t_bal[q][i] = now_s() - t0;
			bal_rows[q] = b.n_rows;
			keten_balance_release(&b);
		}
		qsort(t_bal[q], (size_t)n_in, sizeof *t_bal[q], cmp_d);
	}
	keten_ledger_close(L);

	/* the same data in SQLite, one table with indices */
	snprintf(
		sql_load, sizeof sql_load,
		"CREATE TABLE f(type TEXT, id TEXT, payer TEXT, payee TEXT, target TEXT, amount INTEGER, date INTEGER, claim TEXT);\n"
		".mode csv\n.import %s f\n"
		"CREATE INDEX f_payer ON f(payer);\nCREATE INDEX f_payee ON f(payee);\nCREATE INDEX f_target ON f(target);\n"
		"ANALYZE;\n",
		csv_path);
	{
		char cmd[9500];
		FILE *pp;
		struct stat sb;
		double t0 = now_s();
		snprintf(cmd, sizeof cmd, "sqlite3 %s", db_path);
		if (!(pp = popen(cmd, "w"))) {
			perror("sqlite3");
			return 1;
		}
		fputs(sql_load, pp);
		if (pclose(pp) != 0) {
			fprintf(stderr, "bench_reconcile: sqlite3 failed to load the data\n");
			return 1;
		}
		printf("sqlite3: loaded the same facts into one indexed table in %.1f s", now_s() - t0);
		if (stat(db_path, &sb) == 0)
			printf(" (%.0f MB)", (double)sb.st_size / 1e6);
		printf("\n");
	}
	/* P's agreements: per allocation of P and per subcontract P gave or
	 * took, agreed, claimed, paid, received and outstanding (claimed - paid),
	 * as keten's lines; the same text for the sqlite3 command and the C API */
	snprintf(sql_recon, sizeof sql_recon,
	         "SELECT target, payer, payee,"
	         " SUM(CASE type WHEN 'agreement' THEN amount ELSE 0 END),"
	         " SUM(CASE type WHEN 'claim' THEN amount ELSE 0 END),"
	         " SUM(CASE type WHEN 'payment' THEN amount ELSE 0 END),"
	         " SUM(CASE type WHEN 'receipt' THEN amount ELSE 0 END),"
	         " SUM(CASE type WHEN 'claim' THEN amount WHEN 'payment' THEN -amount ELSE 0 END)"
	         " FROM f WHERE payer = '%s' OR payee = '%s' GROUP BY target ORDER BY payer, payee, target;",
	         prov[p].hex, prov[p].hex);
	snprintf(sql_bal, sizeof sql_bal,
	         "SELECT payer, payee,"
	         " SUM(CASE type WHEN 'claim' THEN amount ELSE 0 END),"
	         " SUM(CASE type WHEN 'payment' THEN amount ELSE 0 END),"
	         " SUM(CASE type WHEN 'receipt' THEN amount ELSE 0 END)"
	         " FROM f WHERE payer = '%s' OR payee = '%s' GROUP BY payer, payee;",
	         prov[p].hex, prov[p].hex);

	/* the same question through the SQLite C API in this process: the
	 * database opened once, the query prepared once; each run steps over
	 * every result row (and copies it out), then resets */
	{
		sqlite3 *db;
		sqlite3_stmt *st;
		if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, sql_recon, -1, &st, NULL) != SQLITE_OK) {
			fprintf(stderr, "bench_reconcile: sqlite: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		for (int i = -1; i < n_in; i++) {
			double t0 = now_s();
			if (step_rows(st)) {
				fprintf(stderr, "bench_reconcile: sqlite: %s\n", sqlite3_errmsg(db));
				return 1;
			}
			if (i >= 0)
				t_sq[i] = now_s() - t0;
		}
		qsort(t_sq, (size_t)n_in, sizeof *t_sq, cmp_d);
		sqlite3_finalize(st);
		/* for reference: with sqlite3_prepare_v2 and sqlite3_finalize in each run */
		for (int i = -1; i < n_in; i++) {
			double t0 = now_s();
			if (sqlite3_prepare_v2(db, sql_recon, -1, &st, NULL) != SQLITE_OK || step_rows(st)) {
				fprintf(stderr, "bench_reconcile: sqlite: %s\n", sqlite3_errmsg(db));
				return 1;
			}
			sqlite3_finalize(st);
			if (i >= 0)
				t_sqp[i] = now_s() - t0;
		}
		qsort(t_sqp, (size_t)n_in, sizeof *t_sqp, cmp_d);
		/* for reference: with a page cache that holds the whole file (the
		 * default is 2 MB, so each run reads pages again from the OS's
		 * cache, where keten reads its memory map) */
		if (sqlite3_exec(db, "PRAGMA cache_size = -262144", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, sql_recon, -1, &st, NULL) != SQLITE_OK) {
			fprintf(stderr, "bench_reconcile: sqlite: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		for (int i = -1; i < n_in; i++) {
			double t0 = now_s();
			if (step_rows(st)) {
				fprintf(stderr, "bench_reconcile: sqlite: %s\n", sqlite3_errmsg(db));
				return 1;
			}
			if (i >= 0)
				t_sqc[i] = now_s() - t0;
		}
		qsort(t_sqc, (size_t)n_in, sizeof *t_sqc, cmp_d);
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	same = check_same(&res);

	{
		char *kr[] = {(char *)keten_bin, "--home",  home,       "reconcile", "--with", prov[p].hex,
		              "--as-of",         AS_OF_ARG, "--format", "csv",       NULL};
		char *kb[] = {(char *)keten_bin, "--home", home, "balance", "--with", prov[p].hex, NULL};
		char *sr[] = {"sqlite3", db_path, sql_recon, NULL};
		char *sb[] = {"sqlite3", db_path, sql_bal, NULL};
		t_kr = time_cmd(kr);
		t_kb = time_cmd(kb);
		t_sr = time_cmd(sr);
		t_sb = time_cmd(sb);
	}
	{
		FILE *la = fopen("/proc/loadavg", "r");
		char buf[64] = "?";
		if (la) {
			if (!fgets(buf, sizeof buf, la))
				buf[0] = 0;
			fclose(la);
		}
		printf("\nload after the runs: %.*s\n", (int)strcspn(buf, "\n"), buf);
	}
	printf("%-50s %11s %11s %7s\n", "question (one provider, region's node)", "keten ms", "sqlite ms", "ratio");
	printf("%-50s %11.2f %11.2f %7.2f   goal <= 0.50\n", "reconcile --with P: whole command (process)", t_kr * 1e3,
	       t_sr * 1e3, t_kr / t_sr);
	printf("%-50s %11.3f %11.3f %7.2f   goal <= 0.50\n", "reconcile --with P: in process (library)",
	       t_lib[n_in / 2] * 1e3, t_sq[n_in / 2] * 1e3, t_lib[n_in / 2] / t_sq[n_in / 2]);
	printf("%-50s %11s %11.3f %7.2f\n", "  sqlite, prepare + step + finalize each run", "", t_sqp[n_in / 2] * 1e3,
	       t_lib[n_in / 2] / t_sqp[n_in / 2]);
	printf("%-50s %11s %11.3f %7.2f\n", "  sqlite, 256 MiB page cache (PRAGMA cache_size)", "",
	       t_sqc[n_in / 2] * 1e3, t_lib[n_in / 2] / t_sqc[n_in / 2]);
	printf("%-50s %11.3f %11s\n", "  keten_reconcile() as of today (reference)", t_today[n_in / 2] * 1e3, "-");
	printf("%-50s %11.2f %11.2f %7.2f\n", "balance --with P: whole command (process)", t_kb * 1e3, t_sb * 1e3,
	       t_kb / t_sb);
	printf("%-50s %11.3f %11s %7s   goal < 1 ms\n", "keten_recon_balance() --with P (in process)",
	       t_bal[0][n_in / 2] * 1e3, "-", "");
	printf("%-50s %11.3f %11s %7s   %zu pairs\n", "keten_recon_balance() all pairs (in process)",
	       t_bal[1][n_in / 2] * 1e3, "-", "", bal_rows[1]);
	printf("%-50s %11.3f %11s\n", "keten_recon_balance() --with P --as-of (in process)", t_bal[2][n_in / 2] * 1e3,
	       "-");
	printf("whole command: `keten reconcile --with P --as-of %s --format csv` against the sqlite3 command line\n"
	       "  with the same query, wall time including process start, median of %d runs after one warm-up;\n"
	       "in process: keten_reconcile() (read transaction, lines, sums and findings) against sqlite3_step() over\n"
	       "  the rows of the query prepared once on a connection opened once, median of %d runs after one warm-up.\n"
	       "The two answers are %s.\n",
	       AS_OF_ARG, reps, n_in, same ? "the same (see the check above)" : "NOT the same (see the check above)");

	keten_recon_release(&res);
	free(sql_rows);
	for (int i = 0; i < N_PROV; i++)
		keten_keypair_release(&prov[i].kp);
	free(cl);
	free(qd);
	free(qm);
	if (made_workdir && !getenv("KETEN_BENCH_KEEP"))
		rmtree(workdir);
	else
		printf("kept %s\n", workdir);
	return 0;
}
