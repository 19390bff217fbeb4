/*
 * refs.c — checks every body rule shares: a reference to another entry
 * (applied, of the right type, or a stub where the rule allows it), clean
 * text without a BSN, the entry's date, the author's roles (and the refusal
 * that names a missing certificate) and whether a month overlaps a period.
 */
#include <string.h>

#include "rules/rules.h"
#include "base/base.h"

int kt_ref_stub(kt_apply *a, const uint8_t *id, size_t len, uint32_t mask, uint32_t *type, bool *stub, keten_error *err)
{
	keten_status st;
	keten_entry e;
	const char *name;
	int rc;

	if (stub)
		*stub = false;
	if (!id || len != 32)
		return keten_refuse(err, "malformed-body", "a reference is not a 32-byte entry id");
	if (keten_store_status(a->txn, id, &st, NULL, 0, NULL) != 0 || st == KS_PENDING ||
	    (st == KS_STUB && !stub && !a->local)) {
		memcpy(a->missing, id, 32);
		return KETEN_EPENDING;
	}
	if ((rc = keten_store_get_entry(a->txn, id, &e, err)))
		return rc;
	*type = e.body_type;
	keten_entry_release(&e);
	name = keten_body_type_name(*type) ? keten_body_type_name(*type) : "entry";
	if (st == KS_REJECTED)
		return keten_refuse(err, "reference-rejected", "the referenced %s was rejected here", name);
	if (!(mask & TYPE_BIT(*type)))
		return keten_refuse(err, "wrong-reference-type",
		                    "the referenced entry is a %s, not what this entry needs", name);
	KETEN_ASSERT(st == KS_APPLIED || st == KS_STUB);
	if (st == KS_STUB) {
		if (!stub)
			return keten_refuse(
				err, "reference-withheld",
				"only the signed header of the referenced %s is held here: its body is not ours to see",
				name);
		*stub = true;
	}
	return KETEN_OK;
}

int kt_ref(kt_apply *a, const uint8_t *id, size_t len, uint32_t mask, uint32_t *type, keten_error *err)
{
	return kt_ref_stub(a, id, len, mask, type, NULL, err);
}

int kt_text(const char *field, const char *s, keten_error *err)
{
	if (!s)
		return KETEN_OK;
	if (!keten_text_ok(s, strlen(s)))
		return keten_refuse(err, "invalid-text", "%s is not clean UTF-8 text", field);
	if (keten_text_has_bsn(s))
		return keten_refuse(err, "bsn-in-text", "%s holds a number that passes the BSN 11-test", field);
	return KETEN_OK;
}

uint32_t kt_entry_date(const kt_apply *a)
{
	return keten_date_of_ms(a->e->timestamp_ms);
}

uint32_t kt_roles(const kt_apply *a)
{
	return a->roles;
}

int kt_refuse_role(const kt_apply *a, const char *rule, const char *role, const char *what, keten_error *err)
{
	char hex[65];

	if (a->roles)
		return keten_refuse(err, rule, "%s", what);
	/* no certificate at all: name the one that is missing and how it is made */
	keten_hex(hex, a->e->author, 32);
	return keten_refuse(err, rule,
	                    "%s: key '%.16s'%s has no certificate; it needs one with role %s: run 'keten party "
	                    "certify %s --name NAME --role %s%s'",
	                    what, hex, a->anchor ? " is a trust anchor here but" : "", role, hex, role,
	                    strcmp(role, "municipality") == 0 ? " --municipality CBS" : "");
}

bool kt_month_in(uint32_t ym, uint32_t start, uint32_t end)
{
	int y = (int)(ym / 100), m = (int)(ym % 100);
	uint32_t first, last;
	if (m < 1 || m > 12)
		return false;
	first = ym * 100 + 1;
	last = ym * 100 + (uint32_t)keten_days_in_month(y, m);
	KETEN_ASSERT(first < last);
	return last >= start && (end == 0 || first <= end);
}
