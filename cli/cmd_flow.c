/*
 * cmd_flow.c — the everyday commands of the money flow: keten subcontract,
 * accept, refuse, deliver, claim, pay, receipt, close, resume, clawback
 * and correct.  Each reads its arguments into one draft and records it with
 * keten_record (cli_record): the library composes the body, chooses its
 * audience (the parties of the agreement it belongs to) and fills in every
 * default, exactly as for the rows of `keten batch`; the hard rules live
 * in the ledger, so an entry imported from another home passes exactly
 * the same checks.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
	"                         [--service NAME] [--scope TEXT] [--payment-term DAYS]\n"
	"       keten subcontract ALLOCATION --to PARTY --service NAME [--units N] --from DATE ...\n"
	"\n"
	"The lead provider offers part of an allocation to a subcontractor: a fixed\n"
	"amount, a monthly amount, or units x unit tariff (unit: minute, hour, day,\n"
	"dagdeel, etmaal, piece, piece-output, piece-effort, euro).  With --service\n"
	"alone (and --units for a service priced per unit) the price comes from the\n"
	"contract's subcontract tariffs (contract add --sub-tariffs): units x the\n"
	"service's tariff in its unit, or the service's share of the allocation\n"
	"(herstel: of the trajectory, a fixed amount; duurzaam: of a month, per\n"
	"month; rounded half away from zero to the cent).  A price of its own with\n"
	"--service is judged against that line: under --subcontract fixed an offer\n"
	"off the table is refused (rule not-subcontract-tariff), under max a price\n"
	"above it is the finding above-subcontract-tariff.  ALLOCATION may be an\n"
	"accepted subcontract when the contract allows sub-subcontracting.  --until\n"
	"defaults to the end of what is subcontracted; the payment term to the\n"
	"contract's.  A price above or beside the framework tariff of the same work\n"
	"(a month of duurzaam, a unit of a component) is recorded as a finding, not\n"
	"refused.  Prints the new offer's id.\n";

struct sub_args {
	const char *to, *amount, *monthly, *tariff;
	bool has_units;
	int prices; /* how many of --amount, --monthly and the per-unit flags */
};

/* The options of subcontract into s and d; an exit code on a bad one. */
static int subcontract_opts(int argc, char **argv, struct sub_args *s, keten_draft_subcontract *d)
{
	static const struct option opts[] = {{"to", 1, 0, 't'},
	                                     {"amount", 1, 0, 'a'},
	                                     {"monthly", 1, 0, 'm'},
	                                     {"units", 1, 0, 'U'},
	                                     {"unit-tariff", 1, 0, 'T'},
	                                     {"unit", 1, 0, 'u'},
	                                     {"from", 1, 0, 'f'},
	                                     {"until", 1, 0, 'e'},
	                                     {"scope", 1, 0, 's'},
	                                     {"payment-term", 1, 0, 'p'},
	                                     {"help", 0, 0, 'h'},
	                                     {"service", 1, 0, 'S'},
	                                     {0}};
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't': s->to = optarg; break;
		case 'a':
			s->amount = optarg;
			s->prices++;
			break;
		case 'm':
			s->monthly = optarg;
			s->prices++;
			break;
		case 'U':
			if ((rc = parse_units("subcontract", optarg, &d->units)))
				return rc;
			s->has_units = true;
			break;
		case 'T': s->tariff = optarg; break;
		case 'u': d->unit = optarg; break;
		case 'f':
			if ((rc = cli_parse_date("--from", optarg, &d->start)))
				return rc;
			break;
		case 'e':
			if ((rc = cli_parse_date("--until", optarg, &d->end)))
				return rc;
			break;
		case 's': d->scope = optarg; break;
		case 'S': d->service = optarg; break;
		case 'p': {
			char *end;
			long days = strtol(optarg, &end, 10);
			if (*end || days < 1 || days > 365)
				return cli_usage_error("subcontract", "--payment-term '%s' is not 1 to 365 days",
				                       optarg);
			d->payment_term_days = (uint32_t)days;
			break;
		}
		default: return cli_usage_error("subcontract", "unknown option");
		}
	}
	if (s->has_units || s->tariff || d->unit)
		s->prices++;
	return 0;
}

int cmd_subcontract(cli *c, int argc, char **argv)
{
	keten_draft d = {.kind = KETEN_DRAFT_SUBCONTRACT};
	keten_draft_subcontract *o = &d.subcontract;
	struct sub_args s = {0};
	int rc;

	if (wants_help(argc, argv))
		return cli_help(subcontract_usage);
	if ((rc = subcontract_opts(argc, argv, &s, o)))
		return rc;
	if (optind != argc - 1 || !s.to || !o->start)
		return cli_usage_error("subcontract", "takes one ALLOCATION, --to and --from");
	if (s.prices != 1 && !(o->service && s.prices == 0))
		return cli_usage_error("subcontract",
		                       "give one of --amount, --monthly, or --units with --unit-tariff and --unit");
	if ((rc = cli_check_text("--scope", o->scope)) || (rc = cli_check_text("--service", o->service)))
		return rc;
	if (o->service && !s.amount && !s.monthly && !s.tariff && !o->unit) {
		o->pricing = KETEN_PRICING_NONE; /* from the contract's subcontract tariffs */
	} else if (s.amount || s.monthly) {
		o->pricing = s.amount ? KETEN_PRICING_FIXED_AMOUNT : KETEN_PRICING_MONTHLY;
		if ((rc = cli_parse_amount(s.amount ? "--amount" : "--monthly", s.amount ? s.amount : s.monthly,
		                           &o->amount_cents)))
			return rc;
	} else {
		if (!s.has_units || !s.tariff || !o->unit)
			return cli_usage_error("subcontract",
			                       "per-unit pricing needs --units, --unit-tariff and --unit");
		o->pricing = KETEN_PRICING_PER_UNIT;
		if ((rc = cli_parse_amount("--unit-tariff", s.tariff, &o->unit_tariff_cents)))
			return rc;
	}
	if ((rc = cli_ref_id(c, argv[optind], o->target)) || (rc = cli_resolve_party(c, s.to, o->subcontractor)))
		return rc;
	return cli_record(c, &d, NULL, NULL);
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
	keten_draft d = {.kind = KETEN_DRAFT_ANSWER};
	const char *cmd = accept ? "accept" : "refuse";
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(accept_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': d.answer.reason = optarg; break;
		default: return cli_usage_error(cmd, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(cmd, "takes one OFFER");
	if (!accept && !d.answer.reason)
		return cli_usage_error(cmd, "a refusal needs --reason TEXT");
	if ((rc = cli_check_text("--reason", d.answer.reason)) || (rc = cli_ref_id(c, argv[optind], d.answer.offer)))
		return rc;
	d.answer.accept = accept;
	return cli_record(c, &d, NULL, NULL);
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
	keten_draft d = {.kind = KETEN_DRAFT_DELIVERY};
	keten_draft_delivery *dl = &d.delivery;
	uint32_t ym;
	bool units = false;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(deliver_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p': dl->period = optarg; break;
		case 'U':
			if ((rc = parse_units("deliver", optarg, &dl->units)))
				return rc;
			units = true;
			break;
		case 'u': dl->unit = optarg; break;
		case 'n': dl->note = optarg; break;
		default: return cli_usage_error("deliver", "unknown option");
		}
	}
	if (optind != argc - 1 || !dl->period || !units || !dl->unit)
		return cli_usage_error("deliver", "takes one SUBCONTRACT or ALLOCATION, --period, --units and --unit");
	if (keten_parse_period(dl->period, &ym) != 0)
		return cli_usage_error("deliver", "--period '%s' is not YYYY-MM", dl->period);
	if ((rc = cli_check_text("--note", dl->note)) || (rc = cli_ref_id(c, argv[optind], dl->target)))
		return rc;
	return cli_record(c, &d, NULL, NULL);
}

/* claim ------------------------------------------------------------------------------ */

static const char claim_usage[] =
	"usage: keten claim SUBCONTRACT|ALLOCATION [--amount EUR] [--installment upfront|final|YYYY-MM|units]\n"
	"                   [--deliveries ID,...] [--number INVOICE] [--date DATE]\n"
	"                   [--period YYYY-MM|FROM..UNTIL]\n"
	"\n"
	"The payee claims (declaratie) on an allocation or subcontract.  Without\n"
	"--amount keten computes it: herstel (and a fixed-amount subcontract) is\n"
	"claimed 2/3 'upfront' and the rest as 'final'; duurzaam (and a monthly\n"
	"subcontract) per month YYYY-MM, pro rata for partial months, at the tariff\n"
	"indexed for that year; per-unit work as 'units' from the deliveries named.\n"
	"Each installment is claimed once.  Without --installment: 'units' for\n"
	"per-unit work, else 'upfront' and, once that is claimed, 'final'.\n"
	"After a stop the final part is what the contract keeps due for the stop\n"
	"code (more is refused: final-not-due); a month after the close date\n"
	"(month-after-close) or wholly paused (month-paused) is refused, a month\n"
	"cut by either claimed pro rata.\n"
	"--number is the invoice number (factuurnummer): unique among this payee's\n"
	"live claims (duplicate-invoice-number).  --date is the claim's date\n"
	"(declaratiedatum; default the day it is recorded), not after today; the\n"
	"payment term, --as-of and the balance count by it.\n"
	"--period is what the claim covers (productperiode): a month, or two dates\n"
	"YYYY-MM-DD..YYYY-MM-DD, inside the agreement (and inside the month\n"
	"claimed).  Prints the claim's id.\n";

/* What a claim lacks, in the words of `keten claim`. */
static int claim_needs(keten_draft_need need, const keten_error *err, void *ctx CLI_UNUSED)
{
	if (need == KETEN_NEED_INSTALLMENT)
		return cli_usage_error("claim", "give --installment YYYY-MM (or upfront, final, units)");
	fprintf(stderr, "keten: cannot compute the amount: %s; give --amount\n", err->msg);
	return err->code == KETEN_ENOTFOUND ? EX_NOINPUT_ : EX_USAGE_;
}

int cmd_claim(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"amount", 1, 0, 'a'}, {"installment", 1, 0, 'i'}, {"deliveries", 1, 0, 'd'}, {"number", 1, 0, 'n'},
		{"date", 1, 0, 'D'},   {"period", 1, 0, 'p'},      {"help", 0, 0, 'h'},       {0}};
	keten_draft d = {.kind = KETEN_DRAFT_CLAIM};
	keten_draft_claim *k = &d.claim;
	const char *amount = NULL;
	char *dels = NULL;
	uint8_t dids[64][32];
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(claim_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': amount = optarg; break;
		case 'i': k->installment = optarg; break;
		case 'd': dels = optarg; break;
		case 'n': k->number = optarg; break;
		case 'D':
			if ((rc = cli_parse_date("--date", optarg, &k->date)))
				return rc;
			break;
		case 'p':
			if (keten_parse_date_range(optarg, &k->period_from, &k->period_until))
				return cli_usage_error(
					"claim", "--period '%s' is not YYYY-MM or YYYY-MM-DD..YYYY-MM-DD", optarg);
			break;
		default: return cli_usage_error("claim", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("claim", "takes one SUBCONTRACT or ALLOCATION");
	if ((rc = cli_check_text("--number", k->number)) || (rc = cli_ref_id(c, argv[optind], k->target)))
		return rc;
	if (dels) {
		char *save, *tok;
		for (tok = strtok_r(dels, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (k->n_deliveries >= 64)
				return cli_usage_error("claim", "at most 64 deliveries");
			if ((rc = cli_ref_id(c, tok, dids[k->n_deliveries])))
				return rc;
			k->n_deliveries++;
		}
		k->deliveries = (const uint8_t(*)[32])dids;
	}
	if (amount && (rc = cli_parse_amount("--amount", amount, &k->amount_cents)))
		return rc;
	k->has_amount = amount != NULL;
	return cli_record(c, &d, claim_needs, NULL);
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
	keten_draft d = {.kind = KETEN_DRAFT_PAYMENT};
	keten_draft_payment *p = &d.payment;
	const char *amount = NULL;
	uint8_t id[1][32];
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(pay_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': amount = optarg; break;
		case 'd':
			if ((rc = cli_parse_date("--date", optarg, &p->date)))
				return rc;
			break;
		case 'r': p->reference = optarg; break;
		default: return cli_usage_error("pay", "unknown option");
		}
	}
	if (optind != argc - 1 || !amount || !p->date)
		return cli_usage_error("pay", "takes one CLAIM, --amount and --date");
	if ((rc = cli_parse_amount("--amount", amount, &p->amount_cents)) ||
	    (rc = cli_check_text("--reference", p->reference)) || (rc = cli_ref_id(c, argv[optind], id[0])))
		return rc;
	p->claims = (const uint8_t(*)[32])id;
	p->n_claims = 1;
	return cli_record(c, &d, NULL, NULL);
}

/* receipt ------------------------------------------------------------------------------ */

static const char receipt_usage[] = "usage: keten receipt PAYMENT [--amount EUR] [--date DATE] [--not-received]\n"
				    "\n"
				    "The payee confirms what arrived of a payment: by default the payment's\n"
				    "amount; another amount is recorded as a receipt-mismatch finding;\n"
				    "--not-received says nothing arrived.  Prints the receipt's id.\n";

/* A receipt of a payment not held here needs its amount. */
static int receipt_needs(keten_draft_need need CLI_UNUSED, const keten_error *err CLI_UNUSED, void *ctx)
{
	fprintf(stderr, "keten: payment '%s' is not held here: give --amount\n", (const char *)ctx);
	return EX_NOINPUT_;
}

int cmd_receipt(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"amount", 1, 0, 'a'}, {"date", 1, 0, 'd'}, {"not-received", 0, 0, 'N'}, {"help", 0, 0, 'h'}, {0}};
	keten_draft d = {.kind = KETEN_DRAFT_RECEIPT};
	keten_draft_receipt *r = &d.receipt;
	const char *amount = NULL;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(receipt_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': amount = optarg; break;
		case 'd':
			if ((rc = cli_parse_date("--date", optarg, &r->date)))
				return rc;
			break;
		case 'N': r->not_received = true; break;
		default: return cli_usage_error("receipt", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("receipt", "takes one PAYMENT");
	if (amount && r->not_received)
		return cli_usage_error("receipt", "--amount and --not-received exclude each other");
	if (amount && (rc = cli_parse_amount("--amount", amount, &r->amount_cents)))
		return rc;
	r->has_amount = amount != NULL;
	if ((rc = cli_ref_id(c, argv[optind], r->payment)))
		return rc;
	return cli_record(c, &d, receipt_needs, argv[optind]);
}

/* close ------------------------------------------------------------------------------ */

static const char close_usage[] =
	"usage: keten close ALLOCATION --outcome achieved|partial|not-achieved|stopped --stop-code CODE --date DATE\n"
	"\n"
	"The lead provider records the end of a trajectory: the result and the\n"
	"stop code (reden beeindiging: iJw JZ588 for jeugd, e.g. 31 according to\n"
	"plan, 32 early stop by the client; iWmo WMO588 for wmo, e.g. 19 according\n"
	"to plan, 31 a move).  DATE is the last day of care.  The allocating\n"
	"municipality may countersign the same result once.  A closed allocation\n"
	"is never reopened: months that start after DATE are not claimed, the\n"
	"month of DATE pro rata, and of a herstel final 1/3 only the percentage\n"
	"the contract keeps for the code (default 100 after a stop according to\n"
	"plan, 0 after any other; see 'keten contract show').\n"
	"Stop code 20 (tijdelijk beeindigd) pauses instead: no month wholly in the\n"
	"pause is claimed, a month cut by it pro rata over the days not paused,\n"
	"until 'keten resume'; a paused allocation may still be closed with any\n"
	"code.  Prints the result's id.\n";

static const char resume_usage[] = "usage: keten resume ALLOCATION --date DATE\n"
				   "\n"
				   "The lead provider (or the allocating municipality) resumes an allocation\n"
				   "paused by 'keten close --stop-code 20' (hervatting).  DATE is the first\n"
				   "day of care again, after the pause's date: the days between are not\n"
				   "paid, the months around them pro rata.  An allocation may be paused and\n"
				   "resumed more than once.  Prints the resume's id.\n";

int cmd_resume(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"date", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0}};
	keten_draft d = {.kind = KETEN_DRAFT_RESUME};
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(resume_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			if ((rc = cli_parse_date("--date", optarg, &d.resume.date)))
				return rc;
			break;
		default: return cli_usage_error("resume", "unknown option");
		}
	}
	if (optind != argc - 1 || !d.resume.date)
		return cli_usage_error("resume", "takes one ALLOCATION and --date");
	if ((rc = cli_ref_id(c, argv[optind], d.resume.allocation)))
		return rc;
	return cli_record(c, &d, NULL, NULL);
}

int cmd_close(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"outcome", 1, 0, 'o'}, {"stop-code", 1, 0, 's'}, {"date", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0}};
	static const char *const outcomes[] = {"", "achieved", "partial", "not-achieved", "stopped"};
	keten_draft d = {.kind = KETEN_DRAFT_CLOSE};
	keten_draft_close *r = &d.close;
	const char *outcome = NULL;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(close_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'o': outcome = optarg; break;
		case 's': r->stop_code = optarg; break;
		case 'd':
			if ((rc = cli_parse_date("--date", optarg, &r->date)))
				return rc;
			break;
		default: return cli_usage_error("close", "unknown option");
		}
	}
	if (optind != argc - 1 || !outcome || !r->stop_code || !r->date)
		return cli_usage_error("close", "takes one ALLOCATION, --outcome, --stop-code and --date");
	for (int i = KETEN_OUTCOME_ACHIEVED; i <= KETEN_OUTCOME_STOPPED; i++)
		if (strcmp(outcomes[i], outcome) == 0)
			r->outcome = (keten_outcome)i;
	if (!r->outcome)
		return cli_usage_error("close", "--outcome is achieved, partial, not-achieved or stopped");
	if ((rc = cli_check_text("--stop-code", r->stop_code)) || (rc = cli_ref_id(c, argv[optind], r->allocation)))
		return rc;
	return cli_record(c, &d, NULL, NULL);
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

/* An automatic clawback keten cannot compute. */
static int clawback_needs(keten_draft_need need CLI_UNUSED, const keten_error *err, void *ctx CLI_UNUSED)
{
	fprintf(stderr, "keten: cannot compute the clawback: %s\n", err->msg);
	return err->code == KETEN_ENOTFOUND ? EX_NOINPUT_ : EX_DATAERR_;
}

int cmd_clawback(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"amount", 1, 0, 'a'}, {"auto", 0, 0, 'A'}, {"reason", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0}};
	keten_draft d = {.kind = KETEN_DRAFT_CLAWBACK};
	keten_draft_clawback *k = &d.clawback;
	const char *amount = NULL;
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(clawback_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a': amount = optarg; break;
		case 'A': k->automatic = true; break;
		case 'r': k->reason = optarg; break;
		default: return cli_usage_error("clawback", "unknown option");
		}
	}
	if (optind != argc - 1 || (!amount) == (!k->automatic))
		return cli_usage_error("clawback", "takes one ALLOCATION and either --amount or --auto");
	if ((rc = cli_check_text("--reason", k->reason)) || (rc = cli_ref_id(c, argv[optind], k->allocation)))
		return rc;
	if (amount && (rc = cli_parse_amount("--amount", amount, &k->amount_cents)))
		return rc;
	return cli_record(c, &d, clawback_needs, NULL);
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
	keten_draft d = {.kind = KETEN_DRAFT_CORRECTION};
	int o, rc;

	if (wants_help(argc, argv))
		return cli_help(correct_usage);
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': d.correction.reason = optarg; break;
		default: return cli_usage_error("correct", "unknown option");
		}
	}
	if (optind != argc - 1 || !d.correction.reason)
		return cli_usage_error("correct", "takes one ENTRY and --reason TEXT");
	if ((rc = cli_check_text("--reason", d.correction.reason)) ||
	    (rc = cli_ref_id(c, argv[optind], d.correction.entry)))
		return rc;
	return cli_record(c, &d, NULL, NULL);
}
