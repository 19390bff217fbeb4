/*
 * cmd_flow.c — the everyday commands of the money flow: keten subcontract,
 * accept, refuse, deliver, claim, pay, receipt, close, clawback and
 * correct.  Each builds one entry body, sends it to the parties of the
 * agreement it belongs to (its audience) and appends it; the hard rules
 * live in the ledger (ledger/rules/), so an entry imported from another
 * home passes exactly the same checks.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rules/terms.h"

/* An entry id: a full 64-hex id is taken as is (the ledger then says
 * whether it is known), a shorter prefix must resolve here. */
static int ref_id(cli *c, const char *hex, uint8_t id[32])
{
	int rc = cli_open(c, false);
	if (rc)
		return rc;
	if (strlen(hex) == 64 && keten_unhex(id, 32, hex) == 0)
		return 0;
	return cli_resolve_id(c, hex, id);
}

/* A state record, or NULL when this home holds none. */
static void *state(cli *c, uint8_t kind, const uint8_t id[32], const ProtobufCMessageDescriptor *d)
{
	keten_txn *t;
	void *m = NULL;
	if (keten_store_read(keten_ledger_store(c->L), &t, NULL))
		return NULL;
	kt_state_get(t, kind, id, d, &m, NULL);
	keten_txn_end(t);
	return m;
}

#define ALLOC_STATE(c, id) \
	((Keten__State__AllocationState *)state(c, DK_ALLOCATION, id, &keten__state__allocation_state__descriptor))
#define OFFER_STATE(c, id) ((Keten__State__OfferState *)state(c, DK_OFFER, id, &keten__state__offer_state__descriptor))
#define CLAIM_STATE(c, id) ((Keten__State__ClaimState *)state(c, DK_CLAIM, id, &keten__state__claim_state__descriptor))
#define PAYMENT_STATE(c, id) \
	((Keten__State__PaymentState *)state(c, DK_PAYMENT, id, &keten__state__payment_state__descriptor))
#define CLAWBACK_STATE(c, id) \
	((Keten__State__ClawbackState *)state(c, DK_CLAWBACK, id, &keten__state__clawback_state__descriptor))

/* Audience: this home plus the parties added, without duplicates. */
typedef struct {
	uint8_t k[KETEN_MAX_AUDIENCE][32];
	size_t n;
} audience;

static void aud_add(audience *a, const uint8_t *key, size_t len)
{
	if (!key || len != 32 || a->n >= KETEN_MAX_AUDIENCE)
		return;
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(a->k[i], key, 32) == 0)
			return;
	memcpy(a->k[a->n++], key, 32);
}

static void aud_self(cli *c, audience *a)
{
	a->n = 0;
	aud_add(a, keten_ledger_info(c->L)->key, 32);
}

/* The parties of an allocation or offer: payer, payee and municipality. */
static void aud_target(cli *c, audience *a, const uint8_t id[32])
{
	Keten__State__AllocationState *as = ALLOC_STATE(c, id);
	Keten__State__OfferState *os;
	if (as) {
		aud_add(a, as->author.data, as->author.len);
		aud_add(a, as->provider.data, as->provider.len);
		kt_state_free(as);
		return;
	}
	if ((os = OFFER_STATE(c, id))) {
		aud_add(a, os->author.data, os->author.len);
		aud_add(a, os->subcontractor.data, os->subcontractor.len);
		aud_add(a, os->municipality_key.data, os->municipality_key.len);
		kt_state_free(os);
	}
}

static int append(cli *c, uint32_t type, const ProtobufCMessage *m, const audience *a, int64_t amount)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	int rc;
	if (!buf)
		return EX_SOFTWARE_;
	protobuf_c_message_pack(m, buf);
	rc = cli_append(c, type, buf, len, (const uint8_t(*)[32])a->k, a->n, amount);
	free(buf);
	return rc;
}

static int parse_units(const char *cmd, const char *s, int64_t *units)
{
	if (keten_parse_cents(s, false, units) != 0)
		return cli_usage_error(cmd, "--units '%s' is not a number (up to 2 decimals)", s);
	return 0;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

/* subcontract ------------------------------------------------------------------- */

static const char subcontract_usage[] =
	"usage: keten subcontract ALLOCATION --to PARTY (--amount EUR | --monthly EUR |\n"
	"                         --units N --unit-tariff EUR --unit U) --from DATE [--until DATE]\n"
	"                         [--scope TEXT] [--payment-term DAYS]\n"
	"\n"
	"The lead provider offers part of an allocation to a subcontractor: a fixed\n"
	"amount, a monthly amount, or units x unit tariff (unit: minute, hour, day,\n"
	"dagdeel, etmaal, piece).  ALLOCATION may be an accepted subcontract when the\n"
	"contract allows sub-subcontracting.  --until defaults to the end of what\n"
	"is subcontracted; the payment term to the contract's.  A price above or\n"
	"beside the framework tariff is recorded as a finding, not refused.\n"
	"Prints the new offer's id.\n";

int cmd_subcontract(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"to", 1, 0, 't'},          {"amount", 1, 0, 'a'},       {"monthly", 1, 0, 'm'}, {"units", 1, 0, 'U'},
		{"unit-tariff", 1, 0, 'T'}, {"unit", 1, 0, 'u'},         {"from", 1, 0, 'f'},    {"until", 1, 0, 'e'},
		{"scope", 1, 0, 's'},       {"payment-term", 1, 0, 'p'}, {"help", 0, 0, 'h'},    {0}};
	Keten__SubcontractOffer o = KETEN__SUBCONTRACT_OFFER__INIT;
	const char *to = NULL, *amount = NULL, *monthly = NULL, *tariff = NULL;
	uint8_t target[32], sub[32], contract[32];
	audience a;
	int opt, rc, n = 0;

	if (wants_help(argc, argv))
		return cli_help(subcontract_usage);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't': to = optarg; break;
		case 'a':
			amount = optarg;
			n++;
			break;
		case 'm':
			monthly = optarg;
			n++;
			break;
		case 'U':
			if ((rc = parse_units("subcontract", optarg, &o.units)))
				return rc;
			o.has_units = 1;
			break;
		case 'T': tariff = optarg; break;
		case 'u': o.unit = optarg; break;
		case 'f':
			if ((rc = cli_parse_date("--from", optarg, &o.start)))
				return rc;
			break;
		case 'e':
			if ((rc = cli_parse_date("--until", optarg, &o.end)))
				return rc;
			o.has_end = 1;
			break;
		case 's': o.scope = optarg; break;
		case 'p': {
			char *end;
			long d = strtol(optarg, &end, 10);
			if (*end || d < 1 || d > 365)
				return cli_usage_error("subcontract", "--payment-term '%s' is not 1 to 365 days",
				                       optarg);
			o.has_payment_term_days = 1;
			o.payment_term_days = (uint32_t)d;
			break;
		}
		default: return cli_usage_error("subcontract", "unknown option");
		}
	}
	if (o.has_units || tariff || o.unit)
		n++;
	if (optind != argc - 1 || !to || !o.start)
		return cli_usage_error("subcontract", "takes one ALLOCATION, --to and --from");
	if (n != 1)
		return cli_usage_error("subcontract",
		                       "give one of --amount, --monthly, or --units with --unit-tariff and --unit");
	if ((rc = cli_check_text("--scope", o.scope)))
		return rc;
	if (amount || monthly) {
		o.pricing = amount ? KETEN__PRICING__FIXED_AMOUNT : KETEN__PRICING__MONTHLY;
		o.has_amount_cents = 1;
		if ((rc = cli_parse_amount(amount ? "--amount" : "--monthly", amount ? amount : monthly,
		                           &o.amount_cents)))
			return rc;
	} else {
		if (!o.has_units || !tariff || !o.unit)
			return cli_usage_error("subcontract",
			                       "per-unit pricing needs --units, --unit-tariff and --unit");
		o.pricing = KETEN__PRICING__PER_UNIT;
		o.has_unit_tariff_cents = 1;
		if ((rc = cli_parse_amount("--unit-tariff", tariff, &o.unit_tariff_cents)))
			return rc;
	}
	if ((rc = ref_id(c, argv[optind], target)) || (rc = cli_resolve_party(c, to, sub)))
		return rc;
	aud_self(c, &a);
	aud_add(&a, sub, 32);
	{
		Keten__State__AllocationState *as = ALLOC_STATE(c, target);
		Keten__State__OfferState *os = as ? NULL : OFFER_STATE(c, target);
		if (as) {
			aud_add(&a, as->author.data, 32);
			memcpy(contract, as->contract.data, 32);
			o.has_contract = 1;
			if (!o.has_end && as->end) {
				o.has_end = 1;
				o.end = as->end;
			}
		} else if (os) {
			aud_add(&a, os->municipality_key.data, os->municipality_key.len);
			aud_add(&a, os->author.data, 32);
			if (os->has_contract && os->contract.len == 32) {
				memcpy(contract, os->contract.data, 32);
				o.has_contract = 1;
			}
			if (!o.has_end && os->end) {
				o.has_end = 1;
				o.end = os->end;
			}
		}
		kt_state_free(as);
		kt_state_free(os);
	}
	o.allocation.data = target;
	o.allocation.len = 32;
	o.subcontractor.data = sub;
	o.subcontractor.len = 32;
	o.contract.data = contract;
	o.contract.len = 32;
	return append(c, KETEN__BODY_TYPE__SUBCONTRACT_OFFER, &o.base, &a,
	              o.pricing == KETEN__PRICING__PER_UNIT ? -1 : o.amount_cents);
}

/* accept / refuse -------------------------------------------------------------------- */

static const char accept_usage[] = "usage: keten accept OFFER\n"
				   "       keten refuse OFFER --reason TEXT\n"
				   "\n"
				   "The offered subcontractor accepts or refuses a subcontract offer, once.\n"
				   "Prints the answer's id.\n";

static int answer(cli *c, int argc, char **argv, bool accept)
{
	static const struct option opts[] = {{"reason", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0}};
	Keten__OfferAnswer an = KETEN__OFFER_ANSWER__INIT;
	const char *cmd = accept ? "accept" : "refuse";
	uint8_t id[32];
	audience a;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(accept_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': an.reason = optarg; break;
		default: return cli_usage_error(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(cmd, "takes one OFFER");
	if (!accept && !an.reason)
		return cli_usage_error(cmd, "a refusal needs --reason TEXT");
	if ((rc = cli_check_text("--reason", an.reason)) || (rc = ref_id(c, argv[optind], id)))
		return rc;
	aud_self(c, &a);
	aud_target(c, &a, id);
	an.offer.data = id;
	an.offer.len = 32;
	an.accept = accept;
	return append(c, KETEN__BODY_TYPE__OFFER_ANSWER, &an.base, &a, -1);
}

int cmd_accept(cli *c, int argc, char **argv)
{
	return answer(c, argc, argv, true);
}
int cmd_refuse(cli *c, int argc, char **argv)
{
	return answer(c, argc, argv, false);
}

/* deliver ---------------------------------------------------------------------------- */

static const char deliver_usage[] = "usage: keten deliver SUBCONTRACT|ALLOCATION --period YYYY-MM --units N\n"
				    "                     --unit minute|hour|day|dagdeel|etmaal|piece [--note TEXT]\n"
				    "\n"
				    "Record care delivered (prestatie) in a month: units with up to 2 decimals.\n"
				    "Wmo deliveries are indicated in hours.  The note is free text: never a BSN,\n"
				    "diagnosis or medical detail.  Prints the delivery's id.\n";

int cmd_deliver(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"period", 1, 0, 'p'}, {"units", 1, 0, 'U'}, {"unit", 1, 0, 'u'},
	                                     {"note", 1, 0, 'n'},   {"help", 0, 0, 'h'},  {0}};
	Keten__Delivery d = KETEN__DELIVERY__INIT;
	uint8_t id[32];
	uint32_t ym;
	audience a;
	bool units = false;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(deliver_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': d.period = optarg; break;
		case 'U':
			if ((rc = parse_units("deliver", optarg, &d.units)))
				return rc;
			units = true;
			break;
		case 'u': d.unit = optarg; break;
		case 'n': d.note = optarg; break;
		default: return cli_usage_error("deliver", "unknown option");
		}
	}
	if (optind != argc - 1 || !d.period || !units || !d.unit)
		return cli_usage_error("deliver", "takes one SUBCONTRACT or ALLOCATION, --period, --units and --unit");
	if (keten_parse_period(d.period, &ym) != 0)
		return cli_usage_error("deliver", "--period '%s' is not YYYY-MM", d.period);
	if ((rc = cli_check_text("--note", d.note)) || (rc = ref_id(c, argv[optind], id)))
		return rc;
	aud_self(c, &a);
	aud_target(c, &a, id);
	d.target.data = id;
	d.target.len = 32;
	return append(c, KETEN__BODY_TYPE__DELIVERY, &d.base, &a, -1);
}

/* claim ------------------------------------------------------------------------------ */

static const char claim_usage[] =
	"usage: keten claim SUBCONTRACT|ALLOCATION [--amount EUR] [--installment upfront|final|YYYY-MM|units]\n"
	"                   [--deliveries ID,...]\n"
	"\n"
	"The payee claims (declaratie) on an allocation or subcontract.  Without\n"
	"--amount keten computes it: herstel (and a fixed-amount subcontract) is\n"
	"claimed 2/3 'upfront' and the rest as 'final'; duurzaam (and a monthly\n"
	"subcontract) per month YYYY-MM, pro rata for partial months, at the tariff\n"
	"indexed for that year; per-unit work as 'units' from the deliveries named.\n"
	"Each installment is claimed once.  Without --installment: 'units' for\n"
	"per-unit work, else 'upfront' and, once that is claimed, 'final'.\n"
	"Prints the claim's id.\n";

int cmd_claim(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"amount", 1, 0, 'a'}, {"installment", 1, 0, 'i'}, {"deliveries", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0}};
	Keten__Claim k = KETEN__CLAIM__INIT;
	const char *amount = NULL;
	char *dels = NULL;
	uint8_t id[32], dids[64][32];
	ProtobufCBinaryData dbin[64];
	audience a;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(claim_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': amount = optarg; break;
		case 'i': k.installment = optarg; break;
		case 'd': dels = optarg; break;
		default: return cli_usage_error("claim", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("claim", "takes one SUBCONTRACT or ALLOCATION");
	if ((rc = ref_id(c, argv[optind], id)))
		return rc;
	if (dels) {
		char *save, *tok;
		for (tok = strtok_r(dels, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (k.n_deliveries >= 64)
				return cli_usage_error("claim", "at most 64 deliveries");
			if ((rc = ref_id(c, tok, dids[k.n_deliveries])))
				return rc;
			dbin[k.n_deliveries].data = dids[k.n_deliveries];
			dbin[k.n_deliveries].len = 32;
			k.n_deliveries++;
		}
		k.deliveries = dbin;
	}
	if (!k.installment) {
		Keten__State__OfferState *os = OFFER_STATE(c, id);
		Keten__State__AllocationState *as = ALLOC_STATE(c, id);
		if ((os && os->pricing == KETEN__PRICING__PER_UNIT) || (as && as->kind == KETEN__KIND__COMPONENT)) {
			k.installment = "units";
		} else if ((os && os->pricing == KETEN__PRICING__FIXED_AMOUNT) ||
		           (as && as->kind == KETEN__KIND__HERSTEL)) {
			/* the up-front part first, then the final part */
			keten_txn *t;
			k.installment = "upfront";
			if (keten_store_read(keten_ledger_store(c->L), &t, NULL) == 0) {
				if (kt_index_has(t, DX_INSTALLMENT, id, 32, "upfront", 7))
					k.installment = "final";
				keten_txn_end(t);
			}
		}
		kt_state_free(os);
		kt_state_free(as);
		if (!k.installment)
			return cli_usage_error("claim", "give --installment YYYY-MM (or upfront, final, units)");
	}
	if (amount) {
		if ((rc = cli_parse_amount("--amount", amount, &k.amount_cents)))
			return rc;
	} else {
		keten_error err = {0};
		keten_txn *t;
		if (keten_store_read(keten_ledger_store(c->L), &t, &err))
			return cli_error(&err);
		rc = kt_expected_claim(t, id, k.installment, (const uint8_t(*)[32])dids, k.n_deliveries,
		                       &k.amount_cents, &err);
		keten_txn_end(t);
		if (rc) {
			fprintf(stderr, "keten: cannot compute the amount: %s; give --amount\n", err.msg);
			return rc == KETEN_ENOTFOUND ? EX_NOINPUT_ : EX_USAGE_;
		}
	}
	aud_self(c, &a);
	aud_target(c, &a, id);
	k.target.data = id;
	k.target.len = 32;
	return append(c, KETEN__BODY_TYPE__CLAIM, &k.base, &a, k.amount_cents);
}

/* pay -------------------------------------------------------------------------------- */

static const char pay_usage[] = "usage: keten pay CLAIM --amount EUR --date DATE [--reference E2E-REF]\n"
				"\n"
				"The payer records a payment of a claim (or the repayment of a clawback by\n"
				"its debtor), with the bank's end-to-end reference.  Payments on one claim\n"
				"never add up to more than the claim.  Prints the payment's id.\n";

int cmd_pay(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"amount", 1, 0, 'a'}, {"date", 1, 0, 'd'}, {"reference", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0}};
	Keten__Payment p = KETEN__PAYMENT__INIT;
	ProtobufCBinaryData cl;
	const char *amount = NULL;
	uint8_t id[32];
	audience a;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(pay_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': amount = optarg; break;
		case 'd':
			if ((rc = cli_parse_date("--date", optarg, &p.date)))
				return rc;
			break;
		case 'r': p.reference = optarg; break;
		default: return cli_usage_error("pay", "unknown option");
		}
	}
	if (optind != argc - 1 || !amount || !p.date)
		return cli_usage_error("pay", "takes one CLAIM, --amount and --date");
	if ((rc = cli_parse_amount("--amount", amount, &p.amount_cents)) ||
	    (rc = cli_check_text("--reference", p.reference)) || (rc = ref_id(c, argv[optind], id)))
		return rc;
	aud_self(c, &a);
	{
		Keten__State__ClaimState *ks = CLAIM_STATE(c, id);
		Keten__State__ClawbackState *cb = ks ? NULL : CLAWBACK_STATE(c, id);
		if (ks) {
			aud_add(&a, ks->author.data, 32);
			aud_add(&a, ks->municipality_key.data, ks->municipality_key.len);
		} else if (cb) {
			aud_add(&a, cb->author.data, 32);
			for (size_t i = 0; i < cb->n_debts; i++)
				if (memcmp(cb->debts[i]->debtor.data, keten_ledger_info(c->L)->key, 32) == 0)
					aud_add(&a, cb->debts[i]->creditor.data, 32);
		}
		kt_state_free(ks);
		kt_state_free(cb);
	}
	cl.data = id;
	cl.len = 32;
	p.n_claims = 1;
	p.claims = &cl;
	return append(c, KETEN__BODY_TYPE__PAYMENT, &p.base, &a, p.amount_cents);
}

/* receipt ------------------------------------------------------------------------------ */

static const char receipt_usage[] = "usage: keten receipt PAYMENT [--amount EUR] [--date DATE] [--not-received]\n"
				    "\n"
				    "The payee confirms what arrived of a payment: by default the payment's\n"
				    "amount; another amount is recorded as a receipt-mismatch finding;\n"
				    "--not-received says nothing arrived.  Prints the receipt's id.\n";

int cmd_receipt(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"amount", 1, 0, 'a'}, {"date", 1, 0, 'd'}, {"not-received", 0, 0, 'N'}, {"help", 0, 0, 'h'}, {0}};
	Keten__Receipt r = KETEN__RECEIPT__INIT;
	Keten__State__PaymentState *ps;
	const char *amount = NULL;
	bool not_received = false;
	uint8_t id[32];
	audience a;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(receipt_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': amount = optarg; break;
		case 'd':
			if ((rc = cli_parse_date("--date", optarg, &r.date)))
				return rc;
			r.has_date = 1;
			break;
		case 'N': not_received = true; break;
		default: return cli_usage_error("receipt", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("receipt", "takes one PAYMENT");
	if (amount && not_received)
		return cli_usage_error("receipt", "--amount and --not-received exclude each other");
	if (amount && (rc = cli_parse_amount("--amount", amount, &r.amount_cents)))
		return rc;
	if ((rc = ref_id(c, argv[optind], id)))
		return rc;
	aud_self(c, &a);
	ps = PAYMENT_STATE(c, id);
	if (ps) {
		aud_add(&a, ps->author.data, 32);
		aud_add(&a, ps->municipality_key.data, ps->municipality_key.len);
		if (!amount && !not_received)
			r.amount_cents = ps->amount_cents;
		kt_state_free(ps);
	} else if (!amount && !not_received) {
		fprintf(stderr, "keten: payment '%s' is not held here: give --amount\n", argv[optind]);
		return EX_NOINPUT_;
	}
	r.received = !not_received;
	if (not_received)
		r.amount_cents = 0;
	r.payment.data = id;
	r.payment.len = 32;
	return append(c, KETEN__BODY_TYPE__RECEIPT, &r.base, &a, r.amount_cents);
}

/* close ------------------------------------------------------------------------------ */

static const char close_usage[] =
	"usage: keten close ALLOCATION --outcome achieved|partial|not-achieved|stopped --stop-code CODE --date DATE\n"
	"\n"
	"The lead provider records the end of a trajectory: the result and the\n"
	"stop code (reden beeindiging: iJw JZ588 for jeugd, e.g. 31 according to\n"
	"plan, 32 early stop by the client; iWmo WMO588 for wmo, e.g. 19).  The\n"
	"allocating municipality may countersign the same result once.  A closed\n"
	"allocation is never reopened.  Prints the result's id.\n";

int cmd_close(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"outcome", 1, 0, 'o'}, {"stop-code", 1, 0, 's'}, {"date", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0}};
	static const char *const outcomes[] = {"", "achieved", "partial", "not-achieved", "stopped"};
	Keten__Result r = KETEN__RESULT__INIT;
	const char *outcome = NULL;
	uint8_t id[32];
	audience a;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(close_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'o': outcome = optarg; break;
		case 's': r.stop_code = optarg; break;
		case 'd':
			if ((rc = cli_parse_date("--date", optarg, &r.date)))
				return rc;
			break;
		default: return cli_usage_error("close", "unknown option");
		}
	}
	if (optind != argc - 1 || !outcome || !r.stop_code || !r.date)
		return cli_usage_error("close", "takes one ALLOCATION, --outcome, --stop-code and --date");
	for (uint32_t i = 1; i < 5; i++)
		if (strcmp(outcomes[i], outcome) == 0)
			r.outcome = i;
	if (!r.outcome)
		return cli_usage_error("close", "--outcome is achieved, partial, not-achieved or stopped");
	if ((rc = cli_check_text("--stop-code", r.stop_code)) || (rc = ref_id(c, argv[optind], id)))
		return rc;
	aud_self(c, &a);
	aud_target(c, &a, id);
	r.allocation.data = id;
	r.allocation.len = 32;
	return append(c, KETEN__BODY_TYPE__RESULT, &r.base, &a, -1);
}

/* clawback ---------------------------------------------------------------------------- */

static const char clawback_usage[] = "usage: keten clawback ALLOCATION (--amount EUR | --auto) [--reason TEXT]\n"
				     "\n"
				     "The allocating municipality reclaims money after an early stop\n"
				     "(terugvordering).  --auto computes it from the contract's early-stop rule\n"
				     "for the allocation's stop code: that share of the up-front part paid\n"
				     "(basis points, half away from zero); when the rule says subcontractors\n"
				     "share it, their parts follow pro rata to the subcontracted amounts\n"
				     "(largest remainder) and are recorded as owed to the lead provider.\n"
				     "Prints the clawback's id.\n";

int cmd_clawback(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"amount", 1, 0, 'a'}, {"auto", 0, 0, 'A'}, {"reason", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0}};
	Keten__Clawback k = KETEN__CLAWBACK__INIT;
	Keten__Share shares[16], *sp[16];
	uint8_t parties[16][32], id[32];
	int64_t amounts[16];
	const char *amount = NULL, *reason = NULL;
	char rule[300] = "";
	bool automatic = false;
	size_t n = 0;
	audience a;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(clawback_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': amount = optarg; break;
		case 'A': automatic = true; break;
		case 'r': reason = optarg; break;
		default: return cli_usage_error("clawback", "unknown option");
		}
	}
	if (optind != argc - 1 || (!amount) == (!automatic))
		return cli_usage_error("clawback", "takes one ALLOCATION and either --amount or --auto");
	if ((rc = cli_check_text("--reason", reason)) || (rc = ref_id(c, argv[optind], id)))
		return rc;
	if (amount && (rc = cli_parse_amount("--amount", amount, &k.amount_cents)))
		return rc;
	if (automatic) {
		keten_error err = {0};
		keten_txn *t;
		if (keten_store_read(keten_ledger_store(c->L), &t, &err))
			return cli_error(&err);
		rc = kt_clawback_auto(t, id, &k.amount_cents, parties, amounts, 16, &n, rule, sizeof rule, &err);
		keten_txn_end(t);
		if (rc == KETEN_ERULE)
			return cli_error(&err); /* names the rule, e.g. clawback-exists */
		if (rc) {
			fprintf(stderr, "keten: cannot compute the clawback: %s\n", err.msg);
			return rc == KETEN_ENOTFOUND ? EX_NOINPUT_ : EX_DATAERR_;
		}
		for (size_t i = 0; i < n; i++) {
			keten__share__init(&shares[i]);
			shares[i].party.data = parties[i];
			shares[i].party.len = 32;
			shares[i].amount_cents = amounts[i];
			sp[i] = &shares[i];
		}
		k.n_passed_on = n;
		k.passed_on = sp;
	}
	if (reason) {
		size_t u = strlen(rule);
		snprintf(rule + u, sizeof rule - u, "%s%s", u ? "; " : "", reason);
	}
	k.rule = rule[0] ? rule : NULL;
	aud_self(c, &a);
	aud_target(c, &a, id);
	for (size_t i = 0; i < n; i++)
		aud_add(&a, parties[i], 32);
	k.allocation.data = id;
	k.allocation.len = 32;
	return append(c, KETEN__BODY_TYPE__CLAWBACK, &k.base, &a, k.amount_cents);
}

/* correct ------------------------------------------------------------------------------ */

static const char correct_usage[] = "usage: keten correct ENTRY --reason TEXT\n"
				    "\n"
				    "The author of an entry voids it (a claim, payment, receipt, delivery,\n"
				    "subcontract offer, allocation or clawback).  The original stays in the\n"
				    "ledger, marked void; balances and reports no longer count it.  A paid\n"
				    "claim is voided after its payments.  Record the corrected entry anew.\n"
				    "Prints the correction's id.\n";

int cmd_correct(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"reason", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0}};
	Keten__Correction k = KETEN__CORRECTION__INIT;
	uint8_t id[32];
	audience a;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(correct_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': k.reason = optarg; break;
		default: return cli_usage_error("correct", "unknown option");
		}
	}
	if (optind != argc - 1 || !k.reason)
		return cli_usage_error("correct", "takes one ENTRY and --reason TEXT");
	if ((rc = cli_check_text("--reason", k.reason)) || (rc = ref_id(c, argv[optind], id)))
		return rc;
	aud_self(c, &a);
	{
		keten_txn *t;
		keten_entry e;
		if (keten_store_read(keten_ledger_store(c->L), &t, NULL) == 0) {
			if (keten_store_get_entry(t, id, &e, NULL) == 0) {
				for (size_t i = 0; i < e.n_audience; i++)
					aud_add(&a, e.audience[i], 32);
				keten_entry_release(&e);
			}
			keten_txn_end(t);
		}
	}
	k.entry.data = id;
	k.entry.len = 32;
	return append(c, KETEN__BODY_TYPE__CORRECTION, &k.base, &a, -1);
}
