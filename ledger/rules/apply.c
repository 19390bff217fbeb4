/*
 * apply.c — the one dispatch of body rules by body type: party.c
 * (certificates, revocations), contract.c (contracts, indexation,
 * allocations), offer.c (subcontract offers, answers, deliveries), the
 * money flow (rules/flow.h: claim.c, payment.c, receipt.c, result.c,
 * resume.c, clawback.c, correction.c) and dispute.c.  Body types nobody handles apply without domain state.
 * The handlers never reach each other through here: this file is the top
 * of the rules layer, and core/ calls it alone.
 */
#include "rules/rules.h"
#include "base/base.h"
#include "proto/keten.pb-c.h"
#include "rules/terms.h"
#include "rules/dispute.h"

int kt_rules_apply(kt_apply *a, keten_error *err)
{
	/* only an entry with its body reaches the rules (core/pending.c) */
	KETEN_ASSERT(a->txn != NULL && a->e != NULL && a->e->has_body);
	switch (a->e->body_type) {
	case KETEN__BODY_TYPE__PARTY_CERTIFICATE: return kt_rule_certificate(a, err);
	case KETEN__BODY_TYPE__REVOCATION: return kt_rule_revocation(a, err);
	case KETEN__BODY_TYPE__FRAMEWORK_CONTRACT: return kt_rule_contract(a, err);
	case KETEN__BODY_TYPE__INDEXATION: return kt_rule_indexation(a, err);
	case KETEN__BODY_TYPE__ALLOCATION: return kt_rule_allocation(a, err);
	case KETEN__BODY_TYPE__SUBCONTRACT_OFFER: return kt_rule_offer(a, err);
	case KETEN__BODY_TYPE__OFFER_ANSWER: return kt_rule_answer(a, err);
	case KETEN__BODY_TYPE__DELIVERY: return kt_rule_delivery(a, err);
	case KETEN__BODY_TYPE__CLAIM: return kt_rule_claim(a, err);
	case KETEN__BODY_TYPE__PAYMENT: return kt_rule_payment(a, err);
	case KETEN__BODY_TYPE__RECEIPT: return kt_rule_receipt(a, err);
	case KETEN__BODY_TYPE__RESULT: return kt_rule_result(a, err);
	case KETEN__BODY_TYPE__RESUME: return kt_rule_resume(a, err);
	case KETEN__BODY_TYPE__CLAWBACK: return kt_rule_clawback(a, err);
	case KETEN__BODY_TYPE__CORRECTION: return kt_rule_correction(a, err);
	case KETEN__BODY_TYPE__DISPUTE:
	case KETEN__BODY_TYPE__RESPONSE:
	case KETEN__BODY_TYPE__RULING: return kt_dispute_apply(a, err);
	default: return KETEN_OK;
	}
}
