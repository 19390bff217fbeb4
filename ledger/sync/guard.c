/*
 * guard.c — limits a server keeps per ledger key rather than per
 * connection (keten_sync_guard, keten/sync.h): a token bucket and a count
 * of strikes for each key that proved it holds its secret (a Hello whose
 * signature verified), so that reconnecting resets neither; and one
 * bucket shared by every first contact (a key this server does not know
 * yet, which makes it sign a Challenge before any certificate is there).
 * The table holds at most max_keys keys; when full, the one seen least
 * recently makes room.  One mutex: sessions of many connections use it at
 * once.  The server (server.c, handshake.c) consults it when a session
 * has one.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync.h"
#include "base/base.h"

#define STRIKE_DECAY_MS 30000 /* one strike forgiven every 30 s */
#define FIRST_PER_S     2.0   /* first contacts per second, ... */
#define FIRST_BURST     16.0  /* ... in bursts of this many */

struct gkey {
	uint8_t key[32];
	double tokens;
	int64_t last_ms;
	uint32_t strikes;
	int64_t strike_ms;
	int64_t seen_ms;
};

struct keten_sync_guard {
	pthread_mutex_t mu;
	keten_sync_limits lim;
	struct gkey *v;
	size_t n, cap;
	double first_tokens;
	int64_t first_ms;
	bool first_set;
};

int keten_sync_guard_new(const keten_sync_limits *lim, size_t max_keys, keten_sync_guard **out, keten_error *err)
{
	keten_sync_guard *g;
	*out = NULL;
	if (max_keys == 0)
		max_keys = 4096;
	if (!(g = calloc(1, sizeof *g)) || !(g->v = calloc(max_keys, sizeof *g->v))) {
		free(g);
		return keten_fail(err, KETEN_ENOMEM, NULL);
	}
	if (lim)
		g->lim = *lim;
	else
		keten_sync_limits_default(&g->lim);
	g->cap = max_keys;
	g->first_tokens = FIRST_BURST;
	pthread_mutex_init(&g->mu, NULL);
	*out = g;
	return KETEN_OK;
}

void keten_sync_guard_free(keten_sync_guard *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g->v);
	free(g);
}

/* The record of key (made, or the oldest replaced); g->mu held. */
static struct gkey *find(keten_sync_guard *g, const uint8_t key[32], int64_t now)
{
	struct gkey *k = NULL;
	size_t oldest = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (memcmp(g->v[i].key, key, 32) == 0) {
			k = &g->v[i];
			break;
		}
		if (g->v[i].seen_ms < g->v[oldest].seen_ms)
			oldest = i;
	}
	if (!k) {
		k = g->n < g->cap ? &g->v[g->n++] : &g->v[oldest];
		memset(k, 0, sizeof *k);
		memcpy(k->key, key, 32);
		k->tokens = g->lim.burst;
		k->last_ms = k->strike_ms = now;
	}
	KETEN_ASSERT(g->n <= g->cap);
	k->seen_ms = now;
	if (now > k->last_ms) {
		k->tokens += (double)(now - k->last_ms) * g->lim.rate_per_s / 1000.0;
		if (k->tokens > g->lim.burst)
			k->tokens = g->lim.burst;
		k->last_ms = now;
	}
	while (k->strikes && now - k->strike_ms >= STRIKE_DECAY_MS) {
		k->strikes--;
		k->strike_ms += STRIKE_DECAY_MS;
	}
	if (!k->strikes)
		k->strike_ms = now;
	return k;
}

int kt_guard_take(keten_sync_guard *g, const uint8_t key[32], int64_t now)
{
	struct gkey *k;
	int rc = 0;
	if (!g)
		return 0;
	pthread_mutex_lock(&g->mu);
	k = find(g, key, now);
	if (k->strikes >= KETEN_SYNC_MAX_STRIKES)
		rc = 2;
	else if (k->tokens < 1.0)
		rc = 1;
	else
		k->tokens -= 1.0;
	pthread_mutex_unlock(&g->mu);
	return rc;
}

void kt_guard_strike(keten_sync_guard *g, const uint8_t key[32], int64_t now)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	find(g, key, now)->strikes++;
	pthread_mutex_unlock(&g->mu);
}

bool kt_guard_first_contact(keten_sync_guard *g, int64_t now)
{
	bool ok;
	if (!g)
		return true;
	pthread_mutex_lock(&g->mu);
	if (g->first_set && now > g->first_ms) {
		g->first_tokens += (double)(now - g->first_ms) * FIRST_PER_S / 1000.0;
		if (g->first_tokens > FIRST_BURST)
			g->first_tokens = FIRST_BURST;
	}
	g->first_ms = now;
	g->first_set = true;
	ok = g->first_tokens >= 1.0;
	if (ok)
		g->first_tokens -= 1.0;
	pthread_mutex_unlock(&g->mu);
	return ok;
}

uint32_t keten_sync_guard_strikes(keten_sync_guard *g, const uint8_t key[32], int64_t now_ms)
{
	uint32_t n;
	pthread_mutex_lock(&g->mu);
	n = find(g, key, now_ms)->strikes;
	pthread_mutex_unlock(&g->mu);
	return n;
}
