/*
 * metafile.c - atomic JSON metadata files (metafile.h), on jansson.
 */
#define _GNU_SOURCE /* renameat2, RENAME_EXCHANGE */
#include "metafile.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logging.h"
#include "util/fileio.h"

int metafile_write(int dirfd, const char *name, json_t *root, bool durable)
{
	char tmp[300];
	int rc = 0;
	snprintf(tmp, sizeof(tmp), ".tmp.%s", name);
	char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = pwrite_full(fd, text, len, 0)) < 0)
		goto out_unlink;
	if (durable && fsync(fd) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto out_unlink;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	if (durable)
		fsync(dirfd);
	goto out;
out_unlink:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
out:
	free(text);
	return rc;
}

int metafile_replace(int dirfd, const char *name, json_t *root, bool durable)
{
	char tmp[300];
	int rc = 0, fd = -1;
	snprintf(tmp, sizeof(tmp), ".tmp.%s", name);
	char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	/* No O_TRUNC: the scratch file's blocks are reused, none freed. */
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if ((rc = pwrite_full(fd, text, len, 0)) < 0)
		goto out;
	if (ftruncate(fd, (off_t)len) < 0 || (durable && fsync(fd) < 0)) {
		rc = -errno;
		goto out;
	}
	if (renameat2(dirfd, tmp, dirfd, name, RENAME_EXCHANGE) < 0) {
		/* ENOENT: the first version of NAME. EINVAL: no exchange here. */
		if ((errno != ENOENT && errno != EINVAL) ||
		    renameat(dirfd, tmp, dirfd, name) < 0) {
			rc = -errno;
			goto out;
		}
	}
	if (durable)
		fsync(dirfd);
out:
	if (fd >= 0)
		close(fd);
	free(text);
	return rc;
}

int metafile_read(int dirfd, const char *name, json_t **out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	json_error_t jerr;
	json_t *root = json_loadfd(fd, 0, &jerr);
	close(fd);
	if (!root || !json_is_object(root)) {
		log_warn("metadata file %s: %s (line %d)", name,
			 root ? "not a JSON object" : jerr.text, jerr.line);
		json_decref(root);
		return -EINVAL;
	}
	*out = root;
	return 0;
}

long long meta_int(json_t *obj, const char *key, long long def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

const char *meta_str(json_t *obj, const char *key, const char *def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : def;
}

bool meta_bool(json_t *obj, const char *key, bool def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

int remove_tree(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0 && (errno == EISDIR || errno == EPERM))
			remove_tree(fd, de->d_name);
	}
	closedir(d);
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}
