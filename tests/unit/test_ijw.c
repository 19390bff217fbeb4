/*
 * test_ijw.c — unit tests for the iJw / iWmo 3.2 reader
 * (ledger/formats/ijw.c, ijw_body.c): the synthetic messages in
 * examples/ijw/ are read and every field checked; the client pseudonym is
 * the documented keyed hash, stable per key and different across keys;
 * the digest ignores layout and the message's identification but not its
 * content; no BSN digit string is left anywhere in what the reader
 * returns; and every refusal (hostile XML before the tree is built,
 * structure, patterns, code lists, sums) names its part without quoting
 * personal data.  Messages are made by editing the examples' text.  Paths
 * are relative to the repository root, where tests/run.sh runs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keten/keten.h"
#include "keten/ijw.h"
#include "test_util.h"

#define DATA "examples/ijw/"
#define BSN  "111222333"

static const uint8_t key1[32] = {1, 2, 3};
static const uint8_t key2[32] = {9, 8, 7};

/* The example `name` as a NUL-terminated string (free it). */
static char *load(const char *name)
{
	size_t len;
	uint8_t *b = test_load(DATA, name, &len);
	char *s = malloc(len + 1);
	assert_non_null(s);
	memcpy(s, b, len);
	s[len] = '\0';
	free(b);
	return s;
}

/* src with the first `from` replaced by `to` (free it); fails when absent. */
static char *subst(const char *src, const char *from, const char *to)
{
	const char *at = strstr(src, from);
	size_t a, f = strlen(from), t = strlen(to);
	char *out;

	if (!at)
		fail_msg("'%s' is not in the message", from);
	a = (size_t)(at - src);
	out = malloc(strlen(src) - f + t + 1);
	assert_non_null(out);
	memcpy(out, src, a);
	memcpy(out + a, to, t);
	strcpy(out + a + t, at + f);
	return out;
}

static int parse(const char *xml, keten_ijw_message *m, keten_error *e)
{
	return keten_ijw_parse((const uint8_t *)xml, strlen(xml), key1, m, e);
}

/* A refusal: KETEN_EMALFORMED, the message cleared, the error holding needle and no BSN. */
static void refused(const char *xml, const char *needle)
{
	keten_ijw_message m;
	keten_error e = {0};

	assert_int_equal(parse(xml, &m, &e), KETEN_EMALFORMED);
	assert_int_equal(m.n_products + m.n_prestaties, 0);
	assert_null(m.products);
	if (!strstr(e.msg, needle))
		fail_msg("'%s' does not hold '%s'", e.msg, needle);
	assert_null(strstr(e.msg, BSN));
	assert_null(strstr(e.msg, "Zeevalkink"));
}

/* The example with one edit, refused with needle. */
static void refused_edit(const char *name, const char *from, const char *to, const char *needle)
{
	char *src = load(name), *x = subst(src, from, to);
	refused(x, needle);
	free(x);
	free(src);
}

static void test_allocation(void **state)
{
	char *x = load("jw301.xml");
	keten_ijw_message m;
	keten_error e = {0};

	(void)state;
	assert_int_equal(parse(x, &m, &e), KETEN_OK);
	assert_int_equal(m.kind, KETEN_IJW_ALLOCATION);
	assert_string_equal(m.name, "JW301");
	assert_string_equal(m.domain, "jeugd");
	assert_int_equal(m.code, 436);
	assert_string_equal(m.sender, "0405");
	assert_string_equal(m.receiver, "12345678");
	assert_string_equal(m.identification, "HRN2026T0042");
	assert_int_equal(m.dated, 20260102);
	assert_int_equal(strlen(m.client_ref), KETEN_IJW_REF_LEN);
	assert_int_equal(m.n_products, 1);
	assert_string_equal(m.products[0].number, "2026000042");
	assert_string_equal(m.products[0].category, "45");
	assert_string_equal(m.products[0].code, "45C4H");
	assert_int_equal(m.products[0].start, 20260105);
	assert_int_equal(m.products[0].end, 20260930);
	assert_true(m.products[0].has_volume);
	assert_int_equal(m.products[0].volume, 14366);
	assert_string_equal(m.products[0].unit, "83");
	assert_string_equal(m.products[0].frequency, "6");
	assert_false(m.products[0].has_budget);
	assert_string_equal(m.products[0].change_reason, "");
	keten_ijw_release(&m);
	assert_null(m.products);
	free(x);
}

static void test_start_stop_claim(void **state)
{
	char *s = load("jw305.xml"), *t = load("jw307.xml"), *c = load("jw323-upfront.xml");
	keten_ijw_message m;
	keten_error e = {0};

	(void)state;
	assert_int_equal(parse(s, &m, &e), KETEN_OK);
	assert_int_equal(m.kind, KETEN_IJW_START);
	assert_string_equal(m.sender, "12345678");
	assert_int_equal(m.products[0].start, 20260106);
	assert_int_equal(m.products[0].allocation_start, 20260105);
	assert_string_equal(m.products[0].status, "1");
	keten_ijw_release(&m);
	assert_int_equal(parse(t, &m, &e), KETEN_OK);
	assert_int_equal(m.kind, KETEN_IJW_STOP);
	assert_string_equal(m.products[0].stop_code, "31");
	assert_int_equal(m.products[0].end, 20260930);
	keten_ijw_release(&m);
	assert_int_equal(parse(c, &m, &e), KETEN_OK);
	assert_int_equal(m.kind, KETEN_IJW_CLAIM);
	assert_string_equal(m.claim_number, "D2026010042");
	assert_int_equal(m.claim_date, 20260115);
	assert_int_equal(m.total_cents, 957733);
	assert_int_equal(m.n_prestaties, 1);
	assert_string_equal(m.prestaties[0].reference, "P2026000042A");
	assert_string_equal(m.prestaties[0].number, "2026000042");
	assert_int_equal(m.prestaties[0].period_from, 20260105);
	assert_int_equal(m.prestaties[0].amount_cents, 957733);
	assert_false(m.prestaties[0].credit);
	assert_int_equal(strlen(m.prestaties[0].client_ref), KETEN_IJW_REF_LEN);
	keten_ijw_release(&m);
	free(s);
	free(t);
	free(c);
}

/* The documented construction: "ijw-" and 24 letters a..p of BLAKE2b-256(key, tag || BSN). */
static void test_pseudonym(void **state)
{
	static const char tag[] = "keten/ijw/client/v1";
	uint8_t msg[64], h[32];
	char a[KETEN_IJW_REF_LEN + 1], b[KETEN_IJW_REF_LEN + 1], want[KETEN_IJW_REF_LEN + 1];
	char *x = load("jw301.xml");
	keten_ijw_message m;
	keten_error e = {0};

	(void)state;
	memcpy(msg, tag, sizeof tag - 1);
	memcpy(msg + sizeof tag - 1, BSN, 9);
	crypto_generichash(h, 32, msg, sizeof tag - 1 + 9, key1, 32);
	memcpy(want, "ijw-", 4);
	for (int i = 0; i < 12; i++) {
		want[4 + 2 * i] = (char)('a' + (h[i] >> 4));
		want[5 + 2 * i] = (char)('a' + (h[i] & 15));
	}
	want[KETEN_IJW_REF_LEN] = '\0';
	keten_ijw_pseudonym(key1, BSN, a);
	assert_string_equal(a, want);
	keten_ijw_pseudonym(key2, BSN, b);
	assert_string_not_equal(a, b);
	for (const char *p = a + 4; *p; p++)
		assert_true(*p >= 'a' && *p <= 'p');
	assert_false(keten_text_has_bsn(a));
	/* the reader gives the client that reference, and none without a key */
	assert_int_equal(parse(x, &m, &e), KETEN_OK);
	assert_string_equal(m.client_ref, a);
	keten_ijw_release(&m);
	assert_int_equal(keten_ijw_parse((const uint8_t *)x, strlen(x), NULL, &m, &e), KETEN_OK);
	assert_string_equal(m.client_ref, "");
	keten_ijw_release(&m);
	free(x);
}

/* Nothing the reader returns holds the BSN's digits. */
static void test_no_bsn_kept(void **state)
{
	const char *names[] = {"jw301.xml", "jw305.xml", "jw307.xml", "jw323-upfront.xml"};

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char *x = load(names[i]);
		keten_ijw_message m;
		keten_error e = {0};
		assert_int_equal(parse(x, &m, &e), KETEN_OK);
		assert_null(memmem(&m, sizeof m, BSN, 9));
		assert_null(memmem(&m, sizeof m, "Zeevalkink", 10));
		if (m.n_products)
			assert_null(memmem(m.products, m.n_products * sizeof *m.products, BSN, 9));
		if (m.n_prestaties)
			assert_null(memmem(m.prestaties, m.n_prestaties * sizeof *m.prestaties, BSN, 9));
		keten_ijw_release(&m);
		free(x);
	}
}

static void digest_of(const char *xml, uint8_t d[32])
{
	keten_ijw_message m;
	keten_error e = {0};
	assert_int_equal(parse(xml, &m, &e), KETEN_OK);
	memcpy(d, m.digest, 32);
	keten_ijw_release(&m);
}

static void test_digest(void **state)
{
	char *x = load("jw301.xml");
	char *relaid = subst(x, "<jw301:Afzender>0405</jw301:Afzender>",
	                     "<!-- a comment -->\n\n    <jw301:Afzender>  0405 </jw301:Afzender>");
	char *renamed = subst(x, "<ijw:Identificatie>HRN2026T0042</ijw:Identificatie>",
	                      "<ijw:Identificatie>HRN2026T0043</ijw:Identificatie>");
	char *changed = subst(x, "<jw301:Einddatum>2026-09-30", "<jw301:Einddatum>2026-09-29");
	uint8_t a[32], b[32], c[32], d[32];

	(void)state;
	digest_of(x, a);
	digest_of(relaid, b);
	digest_of(renamed, c);
	digest_of(changed, d);
	assert_memory_equal(a, b, 32);
	assert_memory_equal(a, c, 32);
	assert_memory_not_equal(a, d, 32);
	free(x);
	free(relaid);
	free(renamed);
	free(changed);
}

/* Hostile input is refused before a tree is built. */
static void test_hostile(void **state)
{
	char *x = load("jw301.xml"), *deep, *big;
	size_t n;

	(void)state;
	refused("<?xml version=\"1.0\"?>\n<!DOCTYPE lol [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
	        "<Bericht>&b;</Bericht>",
	        "DOCTYPE or entity");
	refused("<?xml version=\"1.0\"?><!DOCTYPE b SYSTEM \"file:///etc/passwd\"><Bericht/>", "DOCTYPE");
	refused("<Bericht>&xxe;</Bericht>", "not well-formed");
	refused("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Bericht/>", "encoding other than UTF-8");
	refused("  hello", "does not start with '<'");
	refused("<Bericht><Header/></Bericht>", "not an iJw or iWmo 3.2 message");
	refused("<a b='1' c='2' d='3' e='4' f='5' g='6' h='7' i='8' j='9'/>",
	        "attributes at line 1, more than the limit of 8");
	/* nesting deeper than the limit */
	deep = calloc(1, 40 * 8 + 1);
	assert_non_null(deep);
	for (int i = 0; i < 40; i++)
		strcat(deep, "<a>");
	refused(deep, "deeper than the limit of 16");
	free(deep);
	/* more elements than the limit, and more bytes than the limit */
	n = (size_t)KETEN_IJW_MAX_ELEMENTS + 2;
	big = malloc(n * 4 + 16);
	assert_non_null(big);
	strcpy(big, "<r>");
	for (size_t i = 0; i < n; i++)
		memcpy(big + 3 + 4 * i, "<a/>", 4);
	strcpy(big + 3 + 4 * n, "</r>");
	refused(big, "more than the limit of 400000 elements");
	free(big);
	big = malloc((size_t)KETEN_IJW_MAX_BYTES + 2);
	assert_non_null(big);
	memset(big, ' ', (size_t)KETEN_IJW_MAX_BYTES + 1);
	big[0] = '<';
	big[KETEN_IJW_MAX_BYTES + 1] = '\0';
	refused(big, "larger than");
	free(big);
	{
		uint8_t nul[] = "<a>\0</a>";
		keten_ijw_message m;
		keten_error e = {0};
		assert_int_equal(keten_ijw_parse(nul, sizeof nul - 1, key1, &m, &e), KETEN_EMALFORMED);
		assert_non_null(strstr(e.msg, "NUL"));
	}
	free(x);
}

static void test_structure(void **state)
{
	(void)state;
	refused_edit("jw301.xml", "<jw301:BerichtCode>436<", "<jw301:BerichtCode>438<", "BerichtCode 438 is not 436");
	refused_edit("jw301.xml", "<jw301:BerichtSubversie>2<", "<jw301:BerichtSubversie>1<", "not 2 (release 3.2)");
	refused_edit("jw301.xml", "<jw301:Ingangsdatum>2026-01-05</jw301:Ingangsdatum>", "",
	             "ToegewezenProduct 1: ToegewezenProduct lacks its required element Ingangsdatum");
	refused_edit("jw301.xml", "<jw301:Toewijzingsdatum>",
	             "<jw301:Onbekend>x</jw301:Onbekend><jw301:Toewijzingsdatum>", "unknown element 'Onbekend'");
	refused_edit("jw301.xml", "<ijw:Categorie>45</ijw:Categorie>", "<jw301:Categorie>45</jw301:Categorie>",
	             "wrong namespace");
	refused_edit("jw301.xml", "<jw301:Toewijzingstijd>09:30:00</jw301:Toewijzingstijd>\n", "",
	             "lacks its required element Toewijzingstijd");
	refused_edit("jw301.xml", "<jw301:ToewijzingNummer>2026000042", "<jw301:ToewijzingNummer a=\"1\">2026000042",
	             "carries an attribute");
	refused_edit("jw301.xml", "<jw301:Contactgegevens>", "stray text<jw301:Contactgegevens>", "text inside Client");
	refused_edit("jw301.xml", "<jw301:Ingangsdatum>2026-01-05", "<jw301:Ingangsdatum>2026-02-30",
	             "ToegewezenProduct 1: Ingangsdatum '2026-02-30' is not a date");
	refused_edit("jw301.xml", "<jw301:Einddatum>2026-09-30", "<jw301:Einddatum>2025-09-30",
	             "Einddatum lies before Ingangsdatum");
	refused_edit("jw301.xml", "<jw301:Bsn>111222333", "<jw301:Bsn>111222334",
	             "Client: Bsn is not nine digits passing");
	refused_edit("jw301.xml", "<ijw:Eenheid>83", "<ijw:Eenheid>05",
	             "Omvang Eenheid (WJ756) '05' is not in its code list");
	refused_edit("jw301.xml", "<ijw:Frequentie>6", "<ijw:Frequentie>3", "Frequentie (WMO757) '3'");
	refused_edit("jw301.xml", "<jw301:Omvang>", "<jw301:RedenWijziging>01</jw301:RedenWijziging><jw301:Omvang>",
	             "RedenWijziging (JZ002) '01'");
	refused_edit("jw301.xml", "<ijw:Code>45C4H", "<ijw:Code>45C4", "Product Code '45C4' is not 5 characters");
}

static void test_claim_sums(void **state)
{
	char *x = load("jw323-upfront.xml"), *two, *dup;

	(void)state;
	refused_edit("jw323-upfront.xml", "<jw323:ProductTarief>957733", "<jw323:ProductTarief>957734",
	             "Prestatie 1: GeleverdVolume 1 x ProductTarief 957734 is not IngediendBedrag 957733 (rule 9346)");
	refused_edit("jw323-upfront.xml", "<ijw:TotaalBedrag>957733", "<ijw:TotaalBedrag>957700",
	             "Declaratie: TotaalIngediendBedrag 957700 D is not the prestaties' sum 957733");
	refused_edit("jw323-upfront.xml", "<ijw:Begindatum>2026-01-05", "<ijw:Begindatum>2025-12-31",
	             "ProductPeriode lies outside the DeclaratiePeriode");
	refused_edit("jw323-upfront.xml", "<ijw:DebetCredit>D</ijw:DebetCredit>\n            </jw323:IngediendBedrag>",
	             "<ijw:DebetCredit>X</ijw:DebetCredit></jw323:IngediendBedrag>", "DebetCredit 'X'");
	/* the same prestatie twice: its reference is given twice, and the total is then twice */
	{
		const char *a = strstr(x, "<jw323:Prestatie>"), *b = strstr(x, "</jw323:Prestatie>");
		char *p = strndup(a, (size_t)(b - a) + strlen("</jw323:Prestatie>"));
		size_t need = strlen(x) + strlen(p) + 1;
		two = malloc(need);
		assert_non_null(two);
		snprintf(two, need, "%.*s%s%s", (int)(b + strlen("</jw323:Prestatie>") - x), x, p,
		         b + strlen("</jw323:Prestatie>"));
		dup = subst(two, "<ijw:TotaalBedrag>957733", "<ijw:TotaalBedrag>1915466");
		refused(dup, "Prestatie 2: ReferentieNummer 'P2026000042A' is given twice");
		free(p);
		free(two);
		free(dup);
	}
	free(x);
}

static void test_arguments(void **state)
{
	keten_ijw_message m;
	keten_error e = {0};

	(void)state;
	assert_int_equal(keten_ijw_parse(NULL, 0, key1, &m, &e), KETEN_EINVAL);
	assert_int_equal(keten_ijw_parse((const uint8_t *)"<a/>", 4, key1, NULL, &e), KETEN_EINVAL);
	keten_ijw_release(NULL);
	assert_string_equal(keten_ijw_name(KETEN_IJW_CLAIM, "wmo"), "WMO323");
	assert_string_equal(keten_ijw_name(KETEN_IJW_ALLOCATION, "jeugd"), "JW301");
	assert_string_equal(keten_ijw_name(KETEN_IJW_NONE, "jeugd"), "");
}

/* The tariff table's mapping columns: read from the example, refused when malformed or twice. */
static void test_tariff_mapping(void **state)
{
	static const char head[] = "domain,profile,intensity,kind,tariff_cents,per,ijw_category,ijw_code\n";
	keten_tariffs t;
	keten_error e = {0};
	char buf[400];
	bool seen = false;

	(void)state;
	assert_int_equal(keten_tariffs_read("examples/tarieven-voorbeeld-2026.csv", "jeugd", &t, &e), KETEN_OK);
	for (size_t i = 0; i < t.n_tariffs; i++)
		if (!strcmp(t.tariffs[i].profile, "J03") && !strcmp(t.tariffs[i].intensity, "4") &&
		    t.tariffs[i].kind == KETEN_KIND_HERSTEL) {
			assert_string_equal(t.tariffs[i].ijw_category, "45");
			assert_string_equal(t.tariffs[i].ijw_code, "45C4H");
			seen = true;
		}
	assert_true(seen);
	assert_string_equal(t.components[2].ijw_code, "45X01");
	keten_tariffs_release(&t);
	/* without the columns: empty mappings */
	snprintf(buf, sizeof buf, "domain,profile,intensity,kind,tariff_cents,per\njeugd,J01,1,herstel,100,traject\n");
	assert_int_equal(keten_tariffs_parse((const uint8_t *)buf, strlen(buf), "jeugd", &t, &e), KETEN_OK);
	assert_string_equal(t.tariffs[0].ijw_code, "");
	keten_tariffs_release(&t);
	snprintf(buf, sizeof buf,
	         "%sjeugd,J01,1,herstel,100,traject,45,45A1H\njeugd,J01,2,herstel,200,traject,45,45A1H\n", head);
	assert_int_equal(keten_tariffs_parse((const uint8_t *)buf, strlen(buf), "jeugd", &t, &e), KETEN_EMALFORMED);
	assert_non_null(strstr(e.msg, "row 3: ijw product 45/45A1H is mapped twice"));
	snprintf(buf, sizeof buf, "%sjeugd,J01,1,herstel,100,traject,45,\n", head);
	assert_int_equal(keten_tariffs_parse((const uint8_t *)buf, strlen(buf), "jeugd", &t, &e), KETEN_EMALFORMED);
	assert_non_null(strstr(e.msg, "row 2: ijw_category '45' and ijw_code '' are not two digits"));
	snprintf(buf, sizeof buf, "%sjeugd,J01,1,herstel,100,traject,4x,45A1H\n", head);
	assert_int_equal(keten_tariffs_parse((const uint8_t *)buf, strlen(buf), "jeugd", &t, &e), KETEN_EMALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocation), cmocka_unit_test(test_start_stop_claim),
		cmocka_unit_test(test_pseudonym),  cmocka_unit_test(test_no_bsn_kept),
		cmocka_unit_test(test_digest),     cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_structure),  cmocka_unit_test(test_claim_sums),
		cmocka_unit_test(test_arguments),  cmocka_unit_test(test_tariff_mapping),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
