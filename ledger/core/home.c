/*
 * home.c — a node's home: HOME/key (the keystore) and HOME/ledger (the
 * LMDB store) with the identity record in its meta table.  Creating a
 * home makes the key pair and the record; opening one checks that the key
 * file and the ledger belong together; unlocking opens the keystore so
 * that appends can sign (append.c).  See core/core.h for the other files
 * of the core.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "base/base.h"

/* Home info lives in the meta table as one record of NUL-separated fields. */
static int save_info(keten_txn *t, const keten_home_info *in, keten_error *err)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "%s%c%s%c%s%c%s", in->name, 0, in->role, 0, in->agb, 0, in->municipality);
	int rc;

	/* the four fields of keten_home_info fit, with their separators */
	KETEN_ASSERT(n > 0 && (size_t)n < sizeof buf);
	rc = kt_kv_put(t, KT_META, "self.info", 9, buf, (size_t)n + 1, err);
	return rc ? rc : kt_kv_put(t, KT_META, "self.key", 8, in->key, 32, err);
}

static int load_info(keten_txn *t, keten_home_info *out, keten_error *err)
{
	const void *v;
	size_t n;
	const char *f[4] = {0};
	int rc = kt_kv_get(t, KT_META, "self.info", 9, &v, &n, err);
	if (rc)
		return rc == KETEN_ENOTFOUND ? keten_fail(err, KETEN_ESTORE, "home has no identity record")
					     : (keten_err)rc;
	const char *p = v, *end = p + n;
	for (int i = 0; i < 4 && p < end; i++) {
		f[i] = p;
		p += strnlen(p, (size_t)(end - p)) + 1;
	}
	if (!f[3])
		return keten_fail(err, KETEN_ESTORE, "home identity record is damaged");
	KETEN_ASSERT(f[0] && f[1] && f[2] && f[3] < end);
	snprintf(out->name, sizeof out->name, "%s", f[0]);
	snprintf(out->role, sizeof out->role, "%s", f[1]);
	snprintf(out->agb, sizeof out->agb, "%s", f[2]);
	snprintf(out->municipality, sizeof out->municipality, "%s", f[3]);
	rc = kt_kv_get(t, KT_META, "self.key", 8, &v, &n, err);
	if (rc || n != 32)
		return keten_fail(err, KETEN_ESTORE, "home key record is damaged");
	memcpy(out->key, v, 32);
	return KETEN_OK;
}

/* mkdir -p: the home and any missing parents (0700). */
static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int info_fn(keten_txn *t, void *ctx, keten_error *err)
{
	return save_info(t, ctx, err);
}

int keten_home_create(const char *dir, const char *passphrase, const keten_home_info *info, keten_error *err)
{
	char path[PATH_MAX];
	keten_home_info in = *info;
	keten_keypair kp = {0};
	keten_store *s = NULL;
	struct stat st;
	int rc;

	if ((rc = keten_init_crypto()))
		return keten_fail(err, rc, NULL);
	snprintf(path, sizeof path, "%s/key", dir);
	if (stat(path, &st) == 0)
		return keten_fail(err, KETEN_EEXIST, "'%s' already holds a keten home", dir);
	if (mkdir_p(dir) != 0) {
		rc = keten_fail(err, KETEN_EIO, "cannot create '%s': %s", dir, strerror(errno));
		if (err)
			err->sys = errno;
		return rc;
	}
	if ((rc = keten_keystore_create(path, passphrase, &kp, err)))
		return rc;
	KETEN_ASSERT(keten_key_valid(kp.pk));
	memcpy(in.key, kp.pk, 32);
	keten_keypair_release(&kp);
	snprintf(path, sizeof path, "%s/ledger", dir);
	if ((rc = kt_store_open(path, true, 0, &s, err)))
		return rc;
	rc = kt_store_write(s, info_fn, &in, err);
	kt_store_close(s);
	return rc;
}

int keten_ledger_open(const char *dir, keten_ledger **out, keten_error *err)
{
	keten_ledger *L;
	keten_txn *t = NULL;
	char path[PATH_MAX];
	int rc;

	*out = NULL;
	if ((rc = keten_init_crypto()))
		return keten_fail(err, rc, NULL);
	L = calloc(1, sizeof *L);
	if (!L)
		return keten_fail(err, KETEN_ENOMEM, NULL);
	snprintf(L->dir, sizeof L->dir, "%s", dir);
	snprintf(path, sizeof path, "%s/ledger", dir);
	rc = kt_store_open(path, false, 0, &L->store, err);
	if (rc == KETEN_ENOTFOUND)
		keten_fail(err, rc, "no keten home in '%s' (run 'keten init')", dir);
	if (rc)
		goto fail;
	KETEN_ASSERT(L->store != NULL);
	if ((rc = keten_store_read(L->store, &t, err)))
		goto fail;
	rc = load_info(t, &L->info, err);
	keten_txn_end(t);
	if (rc)
		goto fail;
	snprintf(path, sizeof path, "%s/key", dir);
	{
		uint8_t pk[32];
		if (keten_keystore_peek(path, pk, &L->info.unprotected, NULL) == 0 &&
		    memcmp(pk, L->info.key, 32) != 0) {
			rc = keten_fail(err, KETEN_ESTORE, "key file of '%s' does not match its ledger", dir);
			goto fail;
		}
	}
	*out = L;
	return KETEN_OK;
fail:
	kt_store_close(L->store);
	free(L);
	return rc;
}

void keten_ledger_close(keten_ledger *L)
{
	if (!L)
		return;
	keten_keypair_release(&L->kp);
	kt_store_close(L->store);
	kt_pipeline_free(L->pipe);
	free(L);
}

keten_store *keten_ledger_store(keten_ledger *L)
{
	return L->store;
}
const keten_home_info *keten_ledger_info(keten_ledger *L)
{
	return &L->info;
}
const char *keten_ledger_dir(keten_ledger *L)
{
	return L->dir;
}
bool keten_ledger_unlocked(keten_ledger *L)
{
	return L->unlocked;
}
const keten_keypair *keten_ledger_keypair(keten_ledger *L)
{
	return L->unlocked ? &L->kp : NULL;
}

int keten_ledger_unlock(keten_ledger *L, const char *passphrase, keten_error *err)
{
	char path[PATH_MAX];
	int rc;
	if (L->unlocked)
		return KETEN_OK;
	snprintf(path, sizeof path, "%s/key", L->dir);
	rc = keten_keystore_open(path, passphrase, &L->kp, err);
	if (rc)
		return rc;
	KETEN_ASSERT(L->kp.sk != NULL);
	L->unlocked = true;
	return KETEN_OK;
}
