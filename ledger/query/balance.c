/*
 * balance.c — keten_recon_balance (keten/reconcile.h): what passed between
 * this home and each counterparty, from the balance records the body
 * handlers keep (ledger/state): one running total per pair this home is
 * in, found by the pair index, or with as_of the pair's daily records up
 * to the date.  A ledger whose derived state predates those indices is
 * summed from every daily record.  Never a scan of the entries.
 */
#include <stdlib.h>
#include <string.h>

#include "query/recon.h"
#include "base/base.h"

struct bal_ctx {
	const uint8_t *me, *with;
	uint32_t as_of;
	keten_balance *b;
	size_t cap;
	keten_txn *t;
	keten_error *err;
};

/* Add one BalanceDay of the pair payer -> payee to the rows of `me`. */
static int bal_add(struct bal_ctx *c, const uint8_t *payer, const uint8_t *payee, const uint8_t *v, size_t vl)
{
	keten_balance *b = c->b;
	Keten__State__BalanceDay *d;
	const uint8_t *other;
	keten_balance_row *r = NULL;
	bool me_payee;

	if (memcmp(payer, c->me, 32) == 0) {
		me_payee = false;
		other = payee;
	} else if (memcmp(payee, c->me, 32) == 0) {
		me_payee = true;
		other = payer;
	} else {
		return 0;
	}
	if (c->with && memcmp(other, c->with, 32) != 0)
		return 0;
	if (!(d = keten__state__balance_day__unpack(NULL, vl, v)))
		return keten_fail(c->err, KETEN_ESTORE, "ledger store: damaged balance record");
	/* rows come in key order, so a pair's days are together: the last row */
	if (b->n_rows && b->rows[b->n_rows - 1].payee == me_payee &&
	    memcmp(b->rows[b->n_rows - 1].party, other, 32) == 0)
		r = &b->rows[b->n_rows - 1];
	for (size_t i = 0; !r && i < b->n_rows; i++)
		if (b->rows[i].payee == me_payee && memcmp(b->rows[i].party, other, 32) == 0)
			r = &b->rows[i];
	if (!r) {
		if (kt_grow((void **)&b->rows, &c->cap, b->n_rows, sizeof *b->rows)) {
			keten__state__balance_day__free_unpacked(d, NULL);
			return keten_fail(c->err, KETEN_ENOMEM, NULL);
		}
		r = &b->rows[b->n_rows++];
		memset(r, 0, sizeof *r);
		memcpy(r->party, other, 32);
		r->payee = me_payee;
	}
	if (!keten_add_cents(r->claimed_cents, d->claimed_cents, &r->claimed_cents) ||
	    !keten_add_cents(r->paid_cents, d->paid_cents, &r->paid_cents) ||
	    !keten_add_cents(r->received_cents, d->received_cents, &r->received_cents) ||
	    !keten_add_cents(r->clawback_cents, d->clawback_cents, &r->clawback_cents) ||
	    !keten_add_cents(r->repaid_cents, d->repaid_cents, &r->repaid_cents))
		b->overflow = true;
	keten__state__balance_day__free_unpacked(d, NULL);
	return 0;
}

/* A daily record 'b' || payer || payee || date. */
static int bal_day_cb(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *p)
{
	struct bal_ctx *c = p;
	if (kl != 69 || (c->as_of && kt_get_be32(k + 65) > c->as_of))
		return 0;
	return bal_add(c, k + 1, k + 33, v, vl) ? -1 : 0;
}

/* One pair: its running total, or its days up to as_of. */
static int bal_pair(struct bal_ctx *c, const uint8_t *payer, const uint8_t *payee)
{
	uint8_t k[65];
	const void *v;
	size_t n;
	int rc;

	memcpy(k + 1, payer, 32);
	memcpy(k + 33, payee, 32);
	if (c->as_of) {
		k[0] = DK_BALANCE;
		return kt_kv_scan(c->t, KT_STATE, k, 65, bal_day_cb, c, c->err);
	}
	k[0] = DK_TOTAL;
	rc = kt_kv_get(c->t, KT_STATE, k, 65, &v, &n, NULL);
	if (rc == KETEN_ENOTFOUND)
		return 0;
	if (rc)
		return keten_fail(c->err, rc, "ledger store: cannot read a balance");
	return bal_add(c, payer, payee, v, n);
}

/* An index key 'B' || me || payer || payee. */
static int bal_pair_cb(const uint8_t *k, size_t kl, const uint8_t *v KT_UNUSED, size_t vl KT_UNUSED, void *p)
{
	if (kl != 97)
		return 0;
	return bal_pair(p, k + 33, k + 65) ? -1 : 0;
}

int keten_recon_balance(keten_txn *t, const uint8_t me[32], const uint8_t *with, uint32_t as_of, keten_balance *out,
                        keten_error *err)
{
	struct bal_ctx c = {.me = me, .with = with, .as_of = as_of, .b = out, .t = t, .err = err};
	int rc;

	if (!out)
		return keten_fail(err, KETEN_EINVAL, "balance: no result");
	memset(out, 0, sizeof *out);
	if (!t || !me)
		return keten_fail(err, KETEN_EINVAL, "balance: no home key");
	if (!kt_state_indexed(t)) {
		uint8_t pre = DK_BALANCE;
		rc = kt_kv_scan(t, KT_STATE, &pre, 1, bal_day_cb, &c, err);
	} else if (with) {
		/* the two directions, in key order like the scans */
		const uint8_t *first = memcmp(me, with, 32) <= 0 ? me : with, *second = first == me ? with : me;
		rc = bal_pair(&c, first, second);
		if (rc == 0 && memcmp(me, with, 32) != 0)
			rc = bal_pair(&c, second, first);
	} else {
		uint8_t pre[33];
		pre[0] = DX_PAIR;
		memcpy(pre + 1, me, 32);
		rc = kt_kv_scan(t, KT_INDEX, pre, 33, bal_pair_cb, &c, err);
	}
	if (rc) {
		if (err && !err->msg[0])
			keten_fail(err, KETEN_ESTORE, "ledger store: cannot read the balances");
		keten_balance_release(out);
		return rc;
	}
	for (size_t i = 0; i < out->n_rows; i++) {
		keten_balance_row *r = &out->rows[i];
		if (!keten_sub_cents(r->claimed_cents, r->paid_cents, &r->outstanding_cents) ||
		    !keten_sub_cents(r->outstanding_cents, r->clawback_cents, &r->outstanding_cents) ||
		    !keten_add_cents(r->outstanding_cents, r->repaid_cents, &r->outstanding_cents))
			out->overflow = true;
	}
	return 0;
}

void keten_balance_release(keten_balance *b)
{
	if (!b)
		return;
	free(b->rows);
	memset(b, 0, sizeof *b);
}
