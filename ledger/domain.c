/*
 * domain.c — the settlement domain's body rules: dispatch by body type to
 * the handlers of flow_contract.c (contracts, indexation, allocations),
 * flow_offer.c (subcontract offers, answers, deliveries), flow_money.c
 * (claims, payments, receipts, results, clawbacks, corrections) and
 * dispute.c.  Body types nobody handles apply without domain state.
 */
#include "rules.h"
#include "keten.pb-c.h"
#include "domain.h"
#include "dispute.h"

int keten_domain_apply(keten_apply *a, keten_error *err)
{
	(void)err;
	switch (a->e->body_type) {
	case KETEN__BODY_TYPE__FRAMEWORK_CONTRACT: return flow_contract(a, err);
	case KETEN__BODY_TYPE__INDEXATION: return flow_indexation(a, err);
	case KETEN__BODY_TYPE__ALLOCATION: return flow_allocation(a, err);
	case KETEN__BODY_TYPE__SUBCONTRACT_OFFER: return flow_offer(a, err);
	case KETEN__BODY_TYPE__OFFER_ANSWER: return flow_answer(a, err);
	case KETEN__BODY_TYPE__DELIVERY: return flow_delivery(a, err);
	case KETEN__BODY_TYPE__CLAIM: return flow_claim(a, err);
	case KETEN__BODY_TYPE__PAYMENT: return flow_payment(a, err);
	case KETEN__BODY_TYPE__RECEIPT: return flow_receipt(a, err);
	case KETEN__BODY_TYPE__RESULT: return flow_result(a, err);
	case KETEN__BODY_TYPE__CLAWBACK: return flow_clawback(a, err);
	case KETEN__BODY_TYPE__CORRECTION: return flow_correction(a, err);
	case KETEN__BODY_TYPE__DISPUTE:
	case KETEN__BODY_TYPE__RESPONSE:
	case KETEN__BODY_TYPE__RULING:
		return keten_dispute_apply(a, err);
	default:
		return KETEN_OK;
	}
}
