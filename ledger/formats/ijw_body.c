/*
 * ijw_body.c — the bodies of the iJw / iWmo 3.2 messages (see
 * keten/ijw.h, formats/ijw.h): the client and its allocated products
 * (301), started or stopped products (305, 307), and the declaration
 * with its clients' prestaties (323).  Every element is checked against
 * the children its schema type allows; personal elements are required
 * where the schema requires them and never read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/ijw.h"
#include "base/base.h"

/* WJ756 eenheid, WMO757 frequentie, JZ002 / WMO002 reden wijziging (01 is withdrawn). */
const char *const kt_ijw_units[] = {"01", "04", "14", "16", "82", "83", "84"};
const size_t kt_ijw_n_units = KT_COUNT(kt_ijw_units);
static const char *const frequencies[] = {"1", "2", "4", "6"};
static const char *const change_reasons[] = {"02", "03", "04", "05", "06", "07", "08",
                                             "09", "10", "11", "12", "13", "14"};
static const char *const statuses[] = {"1", "2", "3"}; /* COD467 */

static int grow(kt_ijw *x, const xmlNode *n, void **arr, size_t *count, size_t size)
{
	void *p;

	if (*count >= KETEN_IJW_MAX_ITEMS)
		return kt_ijw_bad(x, n, "more than %u products or prestaties in one message", KETEN_IJW_MAX_ITEMS);
	if (!(p = realloc(*arr, (*count + 1) * size)))
		return kt_ijw_oom(x);
	memset((char *)p + *count * size, 0, size);
	*arr = p;
	(*count)++;
	return KETEN_OK;
}

/* The repeated children `name` of a list element, each handed to fn. */
typedef int (*item_fn)(kt_ijw *x, const xmlNode *item, keten_ijw_message *m);

static int each_item(kt_ijw *x, const xmlNode *list, const char *name, item_fn fn, keten_ijw_message *m)
{
	kt_ijw_spec s[] = {{name, KT_IJW_MSG, 1, 0}};
	const xmlNode *first;
	int rc;

	if ((rc = kt_ijw_children(x, list, s, 1, &first)))
		return rc;
	for (const xmlNode *c = list->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && (rc = fn(x, c, m)))
			return rc;
	return KETEN_OK;
}

/* 301: toewijzing --------------------------------------------------------------------- */

static int read_omvang(kt_ijw *x, const xmlNode *n, keten_ijw_product *p)
{
	static const kt_ijw_spec s[] = {
		{"Volume", KT_IJW_BASE, 1, 1}, {"Eenheid", KT_IJW_BASE, 1, 1}, {"Frequentie", KT_IJW_BASE, 1, 1}};
	const xmlNode *f[3];
	int rc;

	p->has_volume = true;
	if ((rc = kt_ijw_children(x, n, s, 3, f)) || (rc = kt_ijw_count(x, f[0], "Omvang Volume", 8, &p->volume)) ||
	    (rc = kt_ijw_code(x, f[1], "Omvang Eenheid (WJ756)", kt_ijw_units, kt_ijw_n_units, p->unit,
	                      sizeof p->unit)) ||
	    (rc = kt_ijw_code(x, f[2], "Omvang Frequentie (WMO757)", frequencies, KT_COUNT(frequencies), p->frequency,
	                      sizeof p->frequency)))
		return rc;
	if (p->volume <= 0)
		return kt_ijw_bad(x, f[0], "Omvang Volume is 0");
	return KETEN_OK;
}

/* Toewijzingstijd: hh:mm:ss (xs:time; fractions and a zone may follow). */
static int read_time(kt_ijw *x, const xmlNode *n)
{
	char buf[40], q[KT_IJW_QUOTE];
	int rc = kt_ijw_text(x, n, "Toewijzingstijd", buf, sizeof buf);
	bool ok = strlen(buf) >= 8 && buf[2] == ':' && buf[5] == ':';

	for (int i = 0; ok && i < 8; i++)
		ok = i == 2 || i == 5 || (buf[i] >= '0' && buf[i] <= '9');
	if (rc == KETEN_OK && !ok)
		rc = kt_ijw_bad(x, n, "Toewijzingstijd '%s' is not a time (hh:mm:ss)", kt_ijw_quote(q, buf));
	return rc;
}

static int read_toegewezen(kt_ijw *x, const xmlNode *n, keten_ijw_message *m)
{
	static const kt_ijw_spec s[] = {
		{"ToewijzingNummer", KT_IJW_MSG, 1, 1}, {"ReferentieAanbieder", KT_IJW_MSG, 0, 1},
		{"Product", KT_IJW_MSG, 0, 1},          {"Toewijzingsdatum", KT_IJW_MSG, 1, 1},
		{"Toewijzingstijd", KT_IJW_MSG, 1, 1},  {"Ingangsdatum", KT_IJW_MSG, 1, 1},
		{"Einddatum", KT_IJW_MSG, 0, 1},        {"RedenWijziging", KT_IJW_MSG, 0, 1},
		{"Omvang", KT_IJW_MSG, 0, 1},           {"Budget", KT_IJW_MSG, 0, 1},
		{"Commentaar", KT_IJW_MSG, 0, 1},
	};
	const xmlNode *f[KT_COUNT(s)];
	keten_ijw_product *p;
	uint32_t granted;
	int rc;

	if ((rc = grow(x, n, (void **)&m->products, &m->n_products, sizeof *p)))
		return rc;
	p = &m->products[m->n_products - 1];
	p->line = (size_t)xmlGetLineNo(n);
	snprintf(x->part, sizeof x->part, "ToegewezenProduct %zu", m->n_products);
	/* ReferentieAanbieder and Commentaar are free text: dropped unread */
	if ((rc = kt_ijw_children(x, n, s, KT_COUNT(s), f)) ||
	    (rc = kt_ijw_alnum(x, f[0], "ToewijzingNummer", 20, p->number, sizeof p->number)) ||
	    (f[2] && (rc = kt_ijw_product(x, f[2], p->category, p->code))) ||
	    (rc = kt_ijw_date(x, f[3], "Toewijzingsdatum", &granted)) || (rc = read_time(x, f[4])) ||
	    (rc = kt_ijw_date(x, f[5], "Ingangsdatum", &p->start)) ||
	    (f[6] && (rc = kt_ijw_date(x, f[6], "Einddatum", &p->end))) ||
	    (f[7] &&
	     (rc = kt_ijw_code(x, f[7], "RedenWijziging (JZ002)", change_reasons, KT_COUNT(change_reasons),
	                       p->change_reason, sizeof p->change_reason))) ||
	    (f[8] && (rc = read_omvang(x, f[8], p))))
		return rc;
	if (f[9]) {
		p->has_budget = true;
		if ((rc = kt_ijw_count(x, f[9], "Budget", 10, &p->budget_cents)))
			return rc;
	}
	if (p->end && p->end < p->start)
		return kt_ijw_bad(x, f[6], "Einddatum lies before Ingangsdatum");
	for (size_t i = 0; i + 1 < m->n_products; i++)
		if (strcmp(m->products[i].number, p->number) == 0)
			return kt_ijw_bad(
				x, f[0],
				"ToewijzingNummer '%s' is given twice in this message (also ToegewezenProduct %zu)",
				p->number, i + 1);
	return KETEN_OK;
}

int kt_ijw_read_allocation(kt_ijw *x, const xmlNode *client, keten_ijw_message *m)
{
	static const kt_ijw_spec s[] = {
		{"Bsn", KT_IJW_MSG, 1, 1},
		{"Geboortedatum", KT_IJW_MSG, 1, 1},
		{"Geslacht", KT_IJW_MSG, 1, 1},
		{"Naam", KT_IJW_MSG, 1, 1},
		{"Communicatie", KT_IJW_MSG, 0, 1},
		{"JuridischeStatus", KT_IJW_MSG, 0, 1},
		{"WettelijkeVertegenwoordiging", KT_IJW_MSG, 0, 1},
		{"Commentaar", KT_IJW_MSG, 0, 1},
		{"Relaties", KT_IJW_MSG, 0, 1},
		{"Contactgegevens", KT_IJW_MSG, 1, 1},
		{"ToegewezenProducten", KT_IJW_MSG, 1, 1},
	};
	const xmlNode *f[KT_COUNT(s)];
	int rc;

	snprintf(x->part, sizeof x->part, "Client");
	/* everything but the Bsn and the products is personal: present as required, never read */
	if ((rc = kt_ijw_children(x, client, s, KT_COUNT(s), f)) || (rc = kt_ijw_bsn(x, f[0], m->client_ref)))
		return rc;
	m->n_clients = 1;
	return each_item(x, f[10], "ToegewezenProduct", read_toegewezen, m);
}

/* 305, 307: start and stop ------------------------------------------------------------- */

static int read_start_stop_product(kt_ijw *x, const xmlNode *n, keten_ijw_message *m)
{
	static const kt_ijw_spec start[] = {
		{"ToewijzingNummer", KT_IJW_MSG, 0, 1},       {"Product", KT_IJW_MSG, 0, 1},
		{"ToewijzingIngangsdatum", KT_IJW_MSG, 0, 1}, {"Begindatum", KT_IJW_MSG, 1, 1},
		{"StatusAanlevering", KT_IJW_MSG, 1, 1},
	};
	static const kt_ijw_spec stop[] = {
		{"ToewijzingNummer", KT_IJW_MSG, 0, 1},       {"Product", KT_IJW_MSG, 0, 1},
		{"ToewijzingIngangsdatum", KT_IJW_MSG, 0, 1}, {"Begindatum", KT_IJW_MSG, 1, 1},
		{"RedenBeeindiging", KT_IJW_MSG, 1, 1},       {"Einddatum", KT_IJW_MSG, 1, 1},
		{"StatusAanlevering", KT_IJW_MSG, 1, 1},
	};
	bool is_stop = m->kind == KETEN_IJW_STOP;
	const xmlNode *f[7];
	keten_ijw_product *p;
	int rc;

	if ((rc = grow(x, n, (void **)&m->products, &m->n_products, sizeof *p)))
		return rc;
	p = &m->products[m->n_products - 1];
	p->line = (size_t)xmlGetLineNo(n);
	snprintf(x->part, sizeof x->part, "%s %zu", is_stop ? "StopProduct" : "StartProduct", m->n_products);
	if ((rc = kt_ijw_children(x, n, is_stop ? stop : start, is_stop ? KT_COUNT(stop) : KT_COUNT(start), f)) ||
	    (f[0] && (rc = kt_ijw_alnum(x, f[0], "ToewijzingNummer", 20, p->number, sizeof p->number))) ||
	    (f[1] && (rc = kt_ijw_product(x, f[1], p->category, p->code))) ||
	    (f[2] && (rc = kt_ijw_date(x, f[2], "ToewijzingIngangsdatum", &p->allocation_start))) ||
	    (rc = kt_ijw_date(x, f[3], "Begindatum", &p->start)))
		return rc;
	if (is_stop &&
	    ((rc = kt_ijw_digits(x, f[4], "RedenBeeindiging", 2, true, p->stop_code, sizeof p->stop_code)) ||
	     (rc = kt_ijw_date(x, f[5], "Einddatum", &p->end))))
		return rc;
	if ((rc = kt_ijw_code(x, f[is_stop ? 6 : 4], "StatusAanlevering (COD467)", statuses, KT_COUNT(statuses),
	                      p->status, sizeof p->status)))
		return rc;
	if (is_stop && p->end < p->start)
		return kt_ijw_bad(x, f[5], "Einddatum lies before Begindatum");
	return KETEN_OK;
}

int kt_ijw_read_start_stop(kt_ijw *x, const xmlNode *client, keten_ijw_message *m)
{
	bool is_stop = m->kind == KETEN_IJW_STOP;
	const kt_ijw_spec s[] = {
		{"Bsn", KT_IJW_MSG, 1, 1},
		{"Geboortedatum", KT_IJW_MSG, 1, 1},
		{"Geslacht", KT_IJW_MSG, 1, 1},
		{"Naam", KT_IJW_MSG, 1, 1},
		{is_stop ? "StopProducten" : "StartProducten", KT_IJW_MSG, 1, 1},
	};
	const xmlNode *f[KT_COUNT(s)];
	int rc;

	snprintf(x->part, sizeof x->part, "Client");
	if ((rc = kt_ijw_children(x, client, s, KT_COUNT(s), f)) || (rc = kt_ijw_bsn(x, f[0], m->client_ref)))
		return rc;
	m->n_clients = 1;
	return each_item(x, f[4], is_stop ? "StopProduct" : "StartProduct", read_start_stop_product, m);
}

/* 323: declaratie ------------------------------------------------------------------------ */

/* ReferentieNummer: letters, digits, '-', '_' and '.', 1..20. */
static int read_reference(kt_ijw *x, const xmlNode *n, const char *what, char *buf, size_t cap)
{
	char q[KT_IJW_QUOTE];
	int rc = kt_ijw_text(x, n, what, buf, cap);

	for (const char *p = buf; rc == KETEN_OK && *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
		      *p == '_' || *p == '.'))
			rc = kt_ijw_bad(x, n, "%s '%s' holds characters other than letters, digits, '-', '_', '.'",
			                what, kt_ijw_quote(q, buf));
	if (rc == KETEN_OK && strlen(buf) > 20)
		rc = kt_ijw_bad(x, n, "%s is longer than 20 characters", what);
	return rc;
}

/* The checks of one prestatie against its own fields and its declaration. */
static int prestatie_checks(kt_ijw *x, const xmlNode *n, const keten_ijw_message *m, const keten_ijw_prestatie *p)
{
	int64_t product;

	if (p->period_from < m->claim_from || p->period_until > m->claim_until)
		return kt_ijw_bad(x, n, "ProductPeriode lies outside the DeclaratiePeriode");
	if (p->has_tariff && (!keten_mul_cents(p->volume, p->tariff_cents, &product) || product != p->amount_cents))
		return kt_ijw_bad(x, n,
		                  "GeleverdVolume %lld x ProductTarief %lld is not IngediendBedrag %lld (rule 9346)",
		                  (long long)p->volume, (long long)p->tariff_cents, (long long)p->amount_cents);
	for (size_t i = 0; i + 1 < m->n_prestaties; i++)
		if (strcmp(m->prestaties[i].reference, p->reference) == 0)
			return kt_ijw_bad(x, n,
			                  "ReferentieNummer '%s' is given twice in this message (also Prestatie %zu)",
			                  p->reference, i + 1);
	return KETEN_OK;
}

static int read_prestatie(kt_ijw *x, const xmlNode *n, keten_ijw_message *m)
{
	static const kt_ijw_spec s[] = {
		{"ProductReferentie", KT_IJW_MSG, 1, 1}, {"ToewijzingNummer", KT_IJW_MSG, 1, 1},
		{"ProductCategorie", KT_IJW_MSG, 1, 1},  {"ProductCode", KT_IJW_MSG, 1, 1},
		{"ProductPeriode", KT_IJW_MSG, 1, 1},    {"GeleverdVolume", KT_IJW_MSG, 1, 1},
		{"Eenheid", KT_IJW_MSG, 1, 1},           {"ProductTarief", KT_IJW_MSG, 0, 1},
		{"IngediendBedrag", KT_IJW_MSG, 1, 1},
	};
	static const kt_ijw_spec ref[] = {{"ReferentieNummer", KT_IJW_BASE, 1, 1},
	                                  {"VorigReferentieNummer", KT_IJW_BASE, 0, 1}};
	const xmlNode *f[KT_COUNT(s)], *r[2];
	keten_ijw_prestatie *p;
	int rc;

	if ((rc = grow(x, n, (void **)&m->prestaties, &m->n_prestaties, sizeof *p)))
		return rc;
	p = &m->prestaties[m->n_prestaties - 1];
	p->line = (size_t)xmlGetLineNo(n);
	p->client = m->n_clients;
	snprintf(p->client_ref, sizeof p->client_ref, "%s", m->client_ref);
	snprintf(x->part, sizeof x->part, "Prestatie %zu", m->n_prestaties);
	if ((rc = kt_ijw_children(x, n, s, KT_COUNT(s), f)) || (rc = kt_ijw_children(x, f[0], ref, 2, r)) ||
	    (rc = read_reference(x, r[0], "ReferentieNummer", p->reference, sizeof p->reference)) ||
	    (r[1] && (rc = read_reference(x, r[1], "VorigReferentieNummer", p->previous, sizeof p->previous))) ||
	    (rc = kt_ijw_alnum(x, f[1], "ToewijzingNummer", 20, p->number, sizeof p->number)) ||
	    (rc = kt_ijw_digits(x, f[2], "ProductCategorie", 2, true, p->category, sizeof p->category)) ||
	    (rc = kt_ijw_alnum(x, f[3], "ProductCode", 5, p->code, sizeof p->code)) ||
	    (rc = kt_ijw_period(x, f[4], "ProductPeriode", false, &p->period_from, &p->period_until)) ||
	    (rc = kt_ijw_count(x, f[5], "GeleverdVolume", 8, &p->volume)) ||
	    (rc = kt_ijw_code(x, f[6], "Eenheid (WJ756)", kt_ijw_units, kt_ijw_n_units, p->unit, sizeof p->unit)) ||
	    (f[7] && (rc = kt_ijw_count(x, f[7], "ProductTarief", 10, &p->tariff_cents))) ||
	    (rc = kt_ijw_amount_dc(x, f[8], "Bedrag", &p->amount_cents, &p->credit)))
		return rc;
	p->has_tariff = f[7] != NULL;
	if (strlen(p->code) != 5)
		return kt_ijw_bad(x, f[3], "ProductCode '%s' is not 5 characters", p->code);
	return prestatie_checks(x, n, m, p);
}

static int read_claim_client(kt_ijw *x, const xmlNode *n, keten_ijw_message *m)
{
	static const kt_ijw_spec s[] = {{"Bsn", KT_IJW_MSG, 1, 1}, {"Prestaties", KT_IJW_MSG, 1, 1}};
	const xmlNode *f[2];
	int rc;

	m->n_clients++;
	snprintf(x->part, sizeof x->part, "Client %zu", m->n_clients);
	if ((rc = kt_ijw_children(x, n, s, 2, f)) || (rc = kt_ijw_bsn(x, f[0], m->client_ref)))
		return rc;
	rc = each_item(x, f[1], "Prestatie", read_prestatie, m);
	m->client_ref[0] = '\0'; /* per prestatie; the message has several clients */
	return rc;
}

int kt_ijw_read_claim(kt_ijw *x, const xmlNode *decl, keten_ijw_message *m)
{
	static const kt_ijw_spec s[] = {
		{"DeclaratieNummer", KT_IJW_MSG, 1, 1},
		{"DeclaratiePeriode", KT_IJW_MSG, 1, 1},
		{"DeclaratieDagtekening", KT_IJW_MSG, 1, 1},
		{"TotaalIngediendBedrag", KT_IJW_MSG, 1, 1},
		{"Clienten", KT_IJW_MSG, 1, 1},
	};
	const xmlNode *f[KT_COUNT(s)];
	int64_t total = 0, sum = 0;
	bool credit;
	int rc;

	snprintf(x->part, sizeof x->part, "Declaratie");
	if ((rc = kt_ijw_children(x, decl, s, KT_COUNT(s), f)) ||
	    (rc = kt_ijw_alnum(x, f[0], "DeclaratieNummer", 12, m->claim_number, sizeof m->claim_number)) ||
	    (rc = kt_ijw_period(x, f[1], "DeclaratiePeriode", false, &m->claim_from, &m->claim_until)) ||
	    (rc = kt_ijw_date(x, f[2], "DeclaratieDagtekening", &m->claim_date)) ||
	    (rc = kt_ijw_amount_dc(x, f[3], "TotaalBedrag", &total, &credit)) ||
	    (rc = each_item(x, f[4], "Client", read_claim_client, m)))
		return rc;
	m->total_cents = credit ? -total : total;
	for (size_t i = 0; i < m->n_prestaties; i++) {
		const keten_ijw_prestatie *p = &m->prestaties[i];
		if (!keten_add_cents(sum, p->credit ? -p->amount_cents : p->amount_cents, &sum))
			return kt_ijw_bad(x, f[3], "the prestaties' amounts overflow a sum of cents");
	}
	snprintf(x->part, sizeof x->part, "Declaratie");
	if (sum != m->total_cents)
		return kt_ijw_bad(x, f[3], "TotaalIngediendBedrag %lld %s is not the prestaties' sum %lld",
		                  (long long)total, credit ? "C" : "D", (long long)sum);
	return KETEN_OK;
}
