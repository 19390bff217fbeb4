/*
 * nodeconf.c — the node's config file on disk (keten/node.h): read and
 * parse it (formats/nodeconf.c), and add or remove a [peer URL] section by
 * writing the whole text to a temporary file beside it, flushing it and
 * renaming it over the old one, so that a node rereading it (SIGHUP) sees
 * the old file or the new one, never half of one.  Also the dashboard's
 * token file, one token a line, as 'keten serve --tokens' reads it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keten/keten.h"
#include "keten/entry.h"
#include "keten/node.h"
#include "base/base.h"
#include "formats/nodeconf.h"
#include "io/io.h"

#define CONF_MAX (1024u * 1024u)

/* The bytes of path (at most max, NUL-terminated) into *out; *st (may
 * be NULL) its stat.  KETEN_ENOTFOUND when there is no such file. */
static int slurp(const char *path, size_t max, char **out, size_t *len, struct stat *st, keten_error *err)
{
	struct stat s;
	char *b = NULL;
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*out = NULL;
	if (fd < 0)
		return keten_fail(err, errno == ENOENT ? KETEN_ENOTFOUND : KETEN_EIO, "cannot read '%s': %s", path,
		                  strerror(errno));
	if (fstat(fd, &s) || !S_ISREG(s.st_mode) || (size_t)s.st_size > max || !(b = malloc((size_t)s.st_size + 1))) {
		int e = errno;
		close(fd);
		free(b);
		return keten_fail(err, KETEN_EIO, "cannot read '%s': %s", path,
		                  S_ISREG(s.st_mode) ? (size_t)s.st_size > max ? "too large" : strerror(e)
		                                     : "not a file");
	}
	while (n < (size_t)s.st_size && (r = read(fd, b + n, (size_t)s.st_size - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			free(b);
			return keten_fail(err, KETEN_EIO, "cannot read '%s': %s", path, strerror(e));
		}
		n += (size_t)r;
	}
	close(fd);
	b[n] = 0;
	*out = b;
	*len = n;
	if (st)
		*st = s;
	return KETEN_OK;
}

int keten_node_conf_read(const char *path, keten_node_conf *out, keten_error *err)
{
	char *text;
	size_t len;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = slurp(path, CONF_MAX, &text, &len, NULL, err)))
		return rc;
	rc = keten_node_conf_parse(text, len, path, out, err);
	free(text);
	return rc;
}

/* Write len bytes to fd, all of them. */
static bool write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

/* Replace path by text: a temporary file beside it, with the old file's
 * mode and (when allowed) owner, flushed, then renamed over it. */
static int replace_file(const char *path, const char *text, size_t len, const struct stat *old, keten_error *err)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, e, dfd;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= sizeof tmp)
		return keten_fail(err, KETEN_EIO, "cannot write '%s': name too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return keten_fail(err, KETEN_EIO, "cannot write '%s': %s", tmp, strerror(errno));
	if (old && fchown(fd, old->st_uid, old->st_gid) != 0) {
		/* not root: the file stays this user's */
	}
	if (fchmod(fd, old ? old->st_mode & 07777 : 0640) != 0 || !write_all(fd, text, len) || fsync(fd) != 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		return keten_fail(err, KETEN_EIO, "cannot write '%s': %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		return keten_fail(err, KETEN_EIO, "cannot replace '%s': %s", path, strerror(e));
	}
	snprintf(dir, sizeof dir, "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return KETEN_OK;
}

static int conf_edit(const char *path, const char *url, const uint8_t *key, bool add, keten_error *err)
{
	keten_node_conf *c = NULL;
	struct stat st;
	char *text = NULL, *out = NULL;
	size_t len = 0, out_len = 0;
	bool exists = true, changed = false;
	int rc;

	if (!kt_nodeconf_url_ok(url))
		return keten_fail(err, KETEN_EINVAL, "'%s' is not a tcp://, tls+tcp:// or ipc:// URL", url ? url : "");
	if (key && !keten_key_valid(key))
		return keten_fail(err, KETEN_EINVAL, "not a valid Ed25519 public key");
	rc = slurp(path, CONF_MAX, &text, &len, &st, err);
	if (rc == KETEN_ENOTFOUND && add) {
		exists = false;
		rc = (text = strdup("")) ? KETEN_OK : keten_fail(err, KETEN_ENOMEM, NULL);
	}
	if (rc)
		return rc;
	if (!(c = malloc(sizeof *c)))
		rc = keten_fail(err, KETEN_ENOMEM, NULL);
	if (rc == 0)
		rc = keten_node_conf_parse(text, len, path, c, err);
	if (rc == 0)
		rc = kt_nodeconf_edit(text, len, url, key, add, &out, &out_len, &changed, err);
	/* what is written parses: a slip here must not break the node's file */
	if (rc == 0 && changed && keten_node_conf_parse(out, out_len, path, c, err))
		rc = keten_fail(err, KETEN_EMALFORMED, "the edit of '%s' would not parse: not written", path);
	if (rc == 0 && changed)
		rc = replace_file(path, out, out_len, exists ? &st : NULL, err);
	free(c);
	free(text);
	free(out);
	return rc;
}

int keten_node_conf_peer_add(const char *path, const char *url, const uint8_t *key, keten_error *err)
{
	return conf_edit(path, url, key, true, err);
}

int keten_node_conf_peer_remove(const char *path, const char *url, keten_error *err)
{
	return conf_edit(path, url, NULL, false, err);
}

int kt_tokens_read(const char *path, char **buf, const char ***list, size_t *n, keten_error *err)
{
	const char **t = NULL;
	size_t len, cap = 0;
	char *save, *line;
	int rc;

	*list = NULL;
	*n = 0;
	if ((rc = slurp(path, CONF_MAX, buf, &len, NULL, err)))
		return rc;
	if (memchr(*buf, 0, len))
		return keten_fail(err, KETEN_EMALFORMED, "tokens '%s' is not a text file", path);
	for (line = strtok_r(*buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t l = strlen(line);
		while (l && strchr(" \t\r", line[l - 1]))
			line[--l] = 0;
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		if (*n == cap) {
			const char **g = realloc(t, (cap = cap ? cap * 2 : 16) * sizeof *t);
			if (!g) {
				free(t);
				return keten_fail(err, KETEN_ENOMEM, NULL);
			}
			t = g;
		}
		t[(*n)++] = line;
	}
	*list = t;
	if (*n == 0)
		return keten_fail(err, KETEN_EMALFORMED, "tokens '%s' holds no token", path);
	return KETEN_OK;
}
