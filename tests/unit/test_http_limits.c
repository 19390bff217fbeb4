/*
 * test_http_limits.c — the dashboard's bounds (ledger/io/httpd.c) over
 * real TCP on 127.0.0.1: a connection cap (one more is closed as it
 * arrives), a request that has not arrived in time closed (a client that
 * says nothing, and one that sends its head a byte at a time), a head
 * over 16 KiB answered 431, one request per connection, and after all of
 * it an ordinary request served as ever.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "keten/keten.h"
#include "keten/http.h"
#include "test_util.h"

struct fx {
	char base[96];
	keten_ledger *L;
	keten_http_server *srv;
	int port;
};

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	int s = socket(AF_INET, SOCK_STREAM, 0), port;
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &al))
		return -1;
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

static int dial(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_port = htons((uint16_t)port);
	if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0)
		return s;
	if (s >= 0)
		close(s);
	return -1;
}

/* Read what comes within wait_ms into buf (NUL-terminated); the bytes,
 * and *eof when the server closed. */
static size_t take(int s, int wait_ms, char *buf, size_t len, bool *eof)
{
	struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
	size_t got = 0;
	ssize_t n;
	*eof = false;
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (got + 1 < len && (n = recv(s, buf + got, len - 1 - got, 0)) > 0)
		got += (size_t)n;
	*eof = n == 0;
	buf[got] = 0;
	return got;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct stat st;
	keten_home_info in = {0};
	keten_error err = {0};
	keten_http_opts o = {.max_conns = 4, .header_ms = 600};
	char dir[160], addr[64];
	if (!f)
		return -1;
	snprintf(f->base, sizeof f->base, "%s/keten-http-XXXXXX", stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(f->base))
		return -1;
	snprintf(dir, sizeof dir, "%s/h", f->base);
	snprintf(in.name, sizeof in.name, "Gemeente");
	snprintf(in.role, sizeof in.role, "municipality");
	if (keten_home_create(dir, NULL, &in, &err) || keten_ledger_open(dir, &f->L, &err))
		return -1;
	for (int tries = 0; tries < 5; tries++) {
		f->port = free_port();
		snprintf(addr, sizeof addr, "127.0.0.1:%d", f->port);
		if (keten_http_start(f->L, addr, &o, &f->srv, &err) == KETEN_OK)
			break;
	}
	if (!f->srv)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	keten_http_stop(f->srv);
	keten_ledger_close(f->L);
	test_rm_rf(f->base);
	free(f);
	return 0;
}

static void get_ok(struct fx *f)
{
	char req[128], buf[8192];
	bool eof;
	int s = dial(f->port);
	assert_true(s >= 0);
	snprintf(req, sizeof req, "GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", f->port);
	assert_int_equal(write(s, req, strlen(req)), (ssize_t)strlen(req));
	take(s, 3000, buf, sizeof buf, &eof);
	close(s);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	assert_non_null(strstr(buf, "X-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(buf, "\"name\":\"Gemeente\""));
	assert_true(eof); /* one request per connection */
}

static void test_cap_and_silence(void **state)
{
	struct fx *f = *state;
	int held[6], at_once = 0, later = 0;
	bool gone[6], eof;
	char buf[256];
	double t0;

	get_ok(f);
	for (int i = 0; i < 6; i++)
		held[i] = dial(f->port);
	t0 = now_s();
	for (int i = 0; i < 6; i++) {
		gone[i] = held[i] < 0 || (take(held[i], 80, buf, sizeof buf, &eof) == 0 && eof);
		at_once += gone[i];
	}
	print_message("6 silent connections with a cap of 4: %d closed at once\n", at_once);
	assert_int_equal(at_once, 2);
	for (int i = 0; i < 6; i++) {
		if (!gone[i]) {
			assert_int_equal(take(held[i], 3000, buf, sizeof buf, &eof), 0); /* closed, no answer */
			later += eof;
		}
		if (held[i] >= 0)
			close(held[i]);
	}
	assert_int_equal(later, 4);
	print_message("the other 4 closed, unanswered, %.2f s after they opened (limit 0.6 s)\n", now_s() - t0);
	assert_true(now_s() - t0 < 3.0);
	get_ok(f);
}

/* A head sent a byte every 100 ms: the connection goes at the deadline,
 * not when the client pleases. */
static void test_slow_head(void **state)
{
	struct fx *f = *state;
	const char *head = "GET /api/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
	char buf[256];
	bool eof = false;
	double t0 = now_s();
	int s = dial(f->port);
	size_t i;
	assert_true(s >= 0);
	for (i = 0; head[i] && now_s() - t0 < 4.0; i++) {
		if (send(s, head + i, 1, MSG_NOSIGNAL) != 1)
			break;
		if (take(s, 100, buf, sizeof buf, &eof) > 0 || eof)
			break;
	}
	close(s);
	print_message("a head a byte at a time: closed after %zu bytes, %.2f s\n", i, now_s() - t0);
	assert_true(eof);
	assert_true(head[i] != 0); /* it never got to finish its head */
	assert_true(now_s() - t0 < 2.0);
	get_ok(f);
}

static void test_large_head(void **state)
{
	struct fx *f = *state;
	size_t n = 20 * 1024;
	char *req = malloc(n + 64), buf[512];
	bool eof;
	int s = dial(f->port);
	assert_true(s >= 0);
	assert_non_null(req);
	snprintf(req, n + 64, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ");
	memset(req + strlen(req), 'a', n);
	req[n] = 0;
	if (send(s, req, strlen(req), MSG_NOSIGNAL) < 0) {
		/* the server may close before all of it is sent */
	}
	take(s, 3000, buf, sizeof buf, &eof);
	close(s);
	free(req);
	assert_non_null(strstr(buf, "HTTP/1.1 431 "));
	get_ok(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_and_silence),
		cmocka_unit_test(test_slow_head),
		cmocka_unit_test(test_large_head),
	};
	setenv("KETEN_PWHASH_FAST", "1", 1);
	return cmocka_run_group_tests(tests, setup, teardown);
}
