/*
 * domain.c — the settlement domain's body rules: dispatch by body type.
 */
#include "rules.h"
#include "keten.pb-c.h"

int keten_domain_apply(keten_apply *a, keten_error *err)
{
	(void)err;
	switch (a->e->body_type) {
	default:
		return KETEN_OK;
	}
}
