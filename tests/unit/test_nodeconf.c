/*
 * test_nodeconf.c — unit tests for the node's config file
 * (ledger/formats/nodeconf.c, ledger/io/nodeconf.c): the annotated example
 * dist/keten-node.conf.example parses to exactly the settings it names;
 * every kind of bad line fails with its line number in out->line and in
 * the message; the edit behind `keten peer add|remove --config` adds,
 * re-keys and removes a [peer URL] section leaving every other byte as it
 * was; and the file functions replace the file whole.  Run from the
 * repository root (tests/run.sh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keten/keten.h"
#include "keten/node.h"
#include "formats/nodeconf.h"
#include "test_util.h"

#define ZORG "33f46ba741de83a8784f3f649e2391dae5fddcece90fd09a3904952fca88d668"
#define HULP "a8e804678031f0c60280b37d9bf507d462a12862a69dbfda58112b2ab5d3bc9a"

static keten_node_conf *C;

static int setup(void **state)
{
	(void)state;
	C = malloc(sizeof *C);
	return C ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(C);
	return 0;
}

static int parse(const char *s, keten_error *err)
{
	return keten_node_conf_parse(s, strlen(s), "t.conf", C, err);
}

static void example_parses(void **state)
{
	keten_error err = {0};
	size_t len;
	uint8_t *buf = test_load("dist/", "keten-node.conf.example", &len), zorg[32];
	(void)state;

	assert_int_equal(keten_node_conf_parse((const char *)buf, len, "example", C, &err), KETEN_OK);
	free(buf);
	assert_int_equal(C->n_listen, 1);
	assert_string_equal(C->listen[0], "tls+tcp://0.0.0.0:7400");
	assert_true(C->interval_s == 30 && C->timeout_s == 5 && C->checkpoint_s == 3600);
	assert_string_equal(C->tls_cert, "/etc/keten/hoorn.pem");
	assert_string_equal(C->tls_key, "/etc/keten/hoorn.key");
	assert_string_equal(C->tls_ca, "/etc/keten/region-ca.pem");
	assert_int_equal(C->n_peers, 2);
	assert_string_equal(C->peers[0].url, "tls+tcp://zorg-hoofd.example.nl:7400");
	assert_true(C->peers[0].has_key);
	assert_int_equal(keten_unhex(zorg, 32, ZORG), KETEN_OK);
	assert_memory_equal(C->peers[0].key, zorg, 32);
	assert_string_equal(C->peers[1].url, "tls+tcp://hulp-een.example.nl:7400");
	assert_false(C->peers[1].has_key);
	assert_string_equal(C->dashboard.listen, "0.0.0.0:8443");
	assert_string_equal(C->dashboard.cert, "/etc/keten/web.pem");
	assert_string_equal(C->dashboard.key, "/etc/keten/web.key");
	assert_string_equal(C->dashboard.client_ca, "/etc/keten/viewers-ca.pem");
	assert_string_equal(C->dashboard.tokens, "/etc/keten/viewers");
	assert_false(C->dashboard.public_);
	assert_int_equal(C->line, 0);
}

static void details(void **state)
{
	keten_error err = {0};
	(void)state;
	/* CRLF, tabs, ; comments, # after a space ends a value, # inside stays */
	assert_int_equal(parse("; x\r\n[node]\r\n\tlisten=ipc:///tmp/a#b  # the socket\r\n"
	                       "listen = tcp://h:1\n interval = 0.25 \n[dashboard]\nlisten = :8080\npublic = on",
	                       &err),
	                 KETEN_OK);
	assert_int_equal(C->n_listen, 2);
	assert_string_equal(C->listen[0], "ipc:///tmp/a#b");
	assert_string_equal(C->listen[1], "tcp://h:1");
	assert_true(C->interval_s == 0.25 && C->timeout_s == 0 && C->checkpoint_s == 0);
	assert_true(C->dashboard.public_);
	assert_int_equal(parse("", &err), KETEN_OK);
	assert_int_equal(C->n_listen + C->n_peers, 0);
}

/* text fails at line with a message holding want. */
static void bad(const char *text, unsigned line, const char *want)
{
	keten_error err = {0};
	char at[32];
	int rc = parse(text, &err);
	if (rc != KETEN_EMALFORMED || C->line != line || !strstr(err.msg, want)) {
		print_error("'%s': rc %d line %u msg '%s' (want line %u, '%s')\n", text, rc, C->line, err.msg, line,
		            want);
		fail();
	}
	snprintf(at, sizeof at, "t.conf:%u: ", line);
	assert_true(strncmp(err.msg, at, strlen(at)) == 0);
	assert_int_equal(C->n_listen + C->n_peers, 0); /* nothing kept */
}

static void errors(void **state)
{
	char big[1200];
	(void)state;
	bad("[node]\nlisten = tcp://a:1\nport = 5\n", 3, "unknown key 'port' in [node]");
	bad("[tls]\nca = x\n[node]\nca = y\n", 4, "unknown key 'ca' in [node]");
	bad("listen = tcp://a:1\n", 1, "outside a section");
	bad("[nodes]\n", 1, "unknown section '[nodes]'");
	bad("[node\n", 1, "ends with ']'");
	bad("[node]\n\n# c\njust words\n", 4, "expected 'key = value'");
	bad("[node]\n = 5\n", 2, "key is missing");
	bad("[node]\ninterval =\n", 2, "missing value for 'interval'");
	bad("[node]\ninterval = # none\n", 2, "missing value for 'interval'");
	bad("[node]\ninterval = 10\ninterval = 20\n", 3, "duplicate key 'interval' (first on line 2)");
	bad("[node]\ninterval = soon\n", 2, "bad number of seconds 'soon'");
	bad("[node]\ntimeout = 0\n", 2, "bad number of seconds '0'");
	bad("[node]\ncheckpoint = 1e9\n", 2, "bad number of seconds");
	bad("[node]\nlisten = http://a:1\n", 2, "bad URL 'http://a:1'");
	bad("[node]\nlisten = tcp://\n", 2, "bad URL");
	bad("[node]\nlisten = tcp://a:1\nlisten = tcp://a:1\n", 3, "duplicate listen");
	bad("[node]\n[tls]\n[node]\n", 3, "duplicate section [node] (first on line 1)");
	bad("[peer ftp://a]\n", 1, "bad URL 'ftp://a'");
	bad("[peer]\n", 1, "needs the peer's URL");
	bad("[peer tcp://a:1]\n\n[peer tcp://a:1]\n", 3, "duplicate section [peer tcp://a:1] (first on line 1)");
	bad("[peer tcp://a:1]\nkey = abc\n", 2, "bad key 'abc': 64 hex");
	bad("[peer tcp://a:1]\nkey = " ZORG "\nkey = " ZORG "\n", 3, "duplicate key 'key' (first on line 2)");
	bad("[peer tcp://a:1]\nkey = " ZORG "x\n", 2, "bad key");
	bad("[peer tcp://a:1]\nurl = tcp://b:1\n", 2, "unknown key 'url' in [peer]");
	bad("[dashboard]\npublic = maybe\n", 2, "bad value 'maybe' for 'public' (yes or no)");
	bad("[dashboard]\nlisten = a b:1\n", 2, "bad address");
	bad("[node]\n[dashboard]\npublic = yes\n", 2, "[dashboard] needs 'listen");
	bad("[dashboard]\nlisten = :1\ncert = c\n", 1, "needs both 'cert' and 'key'");
	bad("[dashboard]\nlisten = :1\ntokens = t\n", 1, "go with HTTPS");
	{
		static const char nul[] = "[node]\nlisten = tcp://a:1\0\n";
		keten_error err = {0};
		assert_int_equal(keten_node_conf_parse(nul, sizeof nul - 1, "t.conf", C, &err), KETEN_EMALFORMED);
		assert_int_equal(C->line, 2);
		assert_string_equal(err.msg, "t.conf:2: a NUL byte: not a text file");
	}
	memset(big, 'a', sizeof big);
	memcpy(big, "[tls]\nca = ", 11);
	big[sizeof big - 1] = 0;
	bad(big, 2, "line too long");
	memset(big, 'a', 600);
	memcpy(big, "[tls]\nca = ", 11);
	big[600] = 0;
	bad(big, 2, "'ca' is too long");
}

static void too_many(void **state)
{
	char *s = malloc(70 * 40), *p = s;
	(void)state;
	p += sprintf(p, "[node]\n");
	for (int i = 0; i <= (int)KETEN_NODE_MAX_URLS; i++)
		p += sprintf(p, "listen = tcp://h:%d\n", i + 1);
	bad(s, KETEN_NODE_MAX_URLS + 2, "more than 64 listen URLs");
	p = s;
	for (int i = 0; i <= (int)KETEN_NODE_MAX_URLS; i++)
		p += sprintf(p, "[peer tcp://h:%d]\n", i + 1);
	bad(s, KETEN_NODE_MAX_URLS + 1, "more than 64 peers");
	free(s);
}

/* The edit of text for url gives want. */
static void edit(const char *text, const char *url, const char *key_hex, bool add, const char *want)
{
	keten_error err = {0};
	uint8_t key[32];
	char *out;
	size_t n;
	bool changed;

	if (key_hex)
		assert_int_equal(keten_unhex(key, 32, key_hex), KETEN_OK);
	assert_int_equal(kt_nodeconf_edit(text, strlen(text), url, key_hex ? key : NULL, add, &out, &n, &changed, &err),
	                 KETEN_OK);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	assert_int_equal(changed, strcmp(text, want) != 0);
	assert_int_equal(parse(out, &err), KETEN_OK);
	free(out);
}

static void edits(void **state)
{
	const char *base = "# top\n[node]\nlisten = tcp://a:1 # me\n";
	(void)state;
	edit(base, "tcp://b:2", NULL, true, "# top\n[node]\nlisten = tcp://a:1 # me\n\n[peer tcp://b:2]\n");
	edit(base, "tcp://b:2", ZORG, true,
	     "# top\n[node]\nlisten = tcp://a:1 # me\n\n[peer tcp://b:2]\nkey = " ZORG "\n");
	edit("[node]", "tcp://b:2", NULL, true, "[node]\n\n[peer tcp://b:2]\n");
	edit("", "tcp://b:2", NULL, true, "[peer tcp://b:2]\n");
	/* there already: the same again changes nothing; a key is put in or replaced */
	edit("[peer tcp://b:2]\n# k\nkey = " ZORG "\n", "tcp://b:2", NULL, true,
	     "[peer tcp://b:2]\n# k\nkey = " ZORG "\n");
	edit("[peer tcp://b:2]\n# k\nkey = " ZORG "\n", "tcp://b:2", ZORG, true,
	     "[peer tcp://b:2]\n# k\nkey = " ZORG "\n");
	edit("[peer  tcp://b:2 ]  # z\n[node]\n", "tcp://b:2", ZORG, true,
	     "[peer  tcp://b:2 ]  # z\nkey = " ZORG "\n[node]\n");
	edit("[peer tcp://b:2]", "tcp://b:2", ZORG, true, "[peer tcp://b:2]\nkey = " ZORG "\n");
	edit("[peer tcp://b:2]\nkey = " ZORG " # old\n# after\n", "tcp://b:2", HULP, true,
	     "[peer tcp://b:2]\nkey = " HULP "\n# after\n");
	/* remove: its header and key lines and a blank line before it; the rest stays */
	edit("[node]\n\n[peer tcp://b:2]\nkey = " ZORG "\n# about c\n[peer tcp://c:3]\n", "tcp://b:2", NULL, false,
	     "[node]\n# about c\n[peer tcp://c:3]\n");
	edit("[node]\n[peer tcp://b:2]", "tcp://b:2", NULL, false, "[node]\n");
	edit(base, "tcp://b:2", NULL, false, base);
}

static void files(void **state)
{
	char dir[] = "/tmp/test_nodeconf.XXXXXX", path[64], got[512];
	const char *text = "# mine\n[node]\nlisten = tcp://a:1\n";
	keten_error err = {0};
	uint8_t key[32];
	struct stat st;
	FILE *f;
	size_t n;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/n.conf", dir);
	assert_int_equal(keten_node_conf_read(path, C, &err), KETEN_ENOTFOUND);
	assert_int_equal(keten_node_conf_peer_remove(path, "tcp://b:2", &err), KETEN_ENOTFOUND);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, 0604);
	assert_int_equal(keten_unhex(key, 32, ZORG), KETEN_OK);
	assert_int_equal(keten_node_conf_peer_add(path, "tcp://b:2", key, &err), KETEN_OK);
	assert_int_equal(keten_node_conf_read(path, C, &err), KETEN_OK);
	assert_int_equal(C->n_peers, 1);
	assert_true(C->peers[0].has_key && memcmp(C->peers[0].key, key, 32) == 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0604); /* the mode kept across the rename */
	f = fopen(path, "r");
	n = fread(got, 1, sizeof got - 1, f);
	fclose(f);
	got[n] = 0;
	assert_true(strncmp(got, text, strlen(text)) == 0);
	/* a key that is no Ed25519 point, a bad URL, a broken file: refused, file as it was */
	memset(key, 0xab, 32);
	key[31] = 0x7f;
	assert_int_equal(keten_node_conf_peer_add(path, "tcp://c:3", key, &err), KETEN_EINVAL);
	assert_int_equal(keten_node_conf_peer_add(path, "http://c:3", NULL, &err), KETEN_EINVAL);
	assert_int_equal(keten_node_conf_peer_remove(path, "tcp://b:2", &err), KETEN_OK);
	assert_int_equal(keten_node_conf_read(path, C, &err), KETEN_OK);
	assert_int_equal(C->n_peers, 0);
	f = fopen(path, "a");
	fputs("oops\n", f);
	fclose(f);
	assert_int_equal(keten_node_conf_peer_add(path, "tcp://c:3", NULL, &err), KETEN_EMALFORMED);
	assert_non_null(strstr(err.msg, ":4: expected"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((size_t)st.st_size, strlen(text) + 5);
	unlink(path);
	/* a missing file is made by add */
	assert_int_equal(keten_node_conf_peer_add(path, "tcp://c:3", NULL, &err), KETEN_OK);
	assert_int_equal(keten_node_conf_read(path, C, &err), KETEN_OK);
	assert_int_equal(C->n_peers, 1);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(example_parses), cmocka_unit_test(details), cmocka_unit_test(errors),
		cmocka_unit_test(too_many),       cmocka_unit_test(edits),   cmocka_unit_test(files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
