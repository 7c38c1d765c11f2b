/*
 * streamio.c - reading .info and writing control files for maprcli
 * (streamio.h).
 */
#include "streamio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Read all of PATH into a malloc'd buffer. Returns 0 or -errno. */
static int slurp(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (n == cap) {
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t k = read(fd, buf + n, cap - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			return -e;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	*out = buf;
	*len = n;
	return 0;
}

int sio_info(const struct stream_ref *s, json_t **out, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	char *buf = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/.info", s->dir);
	int rc = slurp(path, &buf, &len);
	if (rc < 0) {
		if (rc == -ENOENT)
			snprintf(err, errlen, "stream %s does not exist", s->global);
		else
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	json_error_t je;
	json_t *j = json_loadb(buf, len, 0, &je);
	free(buf);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "%s: not the JSON expected (%s)", path,
			 j ? "not an object" : je.text);
		return -EIO;
	}
	*out = j;
	return 0;
}

/* Now as .info writes times: ISO 8601 UTC to the second. */
static void iso_now(char *out, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int sio_append(const struct stream_ref *s, const char *file, const char *text,
	       char *err, size_t errlen)
{
	char path[PATH_MAX + 16], start[32];
	snprintf(path, sizeof(path), "%s/%s", s->dir, file);
	iso_now(start, sizeof(start));
	int e = 0;
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	size_t len = strlen(text);
	ssize_t k;
	do
		k = write(fd, text, len);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		e = errno;
	else if ((size_t)k != len)
		e = EIO;	/* the daemon never writes short; be safe */
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e)
		return 0;

	/* The daemon explains a refusal in .info's lastError. */
	int k2 = snprintf(err, errlen, "%s", strerror(e));
	json_t *info = NULL;
	char ignore[256];
	if (sio_info(s, &info, ignore, sizeof(ignore)) == 0) {
		const char *why = sio_str(info, "lastError");
		const char *when = sio_str(info, "lastErrorTime");
		if (*why && strcmp(when, "none") && strcmp(when, start) >= 0 && k2 >= 0 &&
		    (size_t)k2 < errlen)
			snprintf(err + k2, errlen - (size_t)k2, " (streamfs: %s)", why);
		json_decref(info);
	}
	return -e;
}

json_t *sio_entry(json_t *info, const char *list, const struct stream_ref *who)
{
	json_t *arr = json_object_get(info, list), *e;
	size_t i;
	json_array_foreach(arr, i, e) {
		if (!strcmp(sio_str(e, "cluster"), who->cluster) &&
		    !strcmp(sio_str(e, "stream"), who->stream))
			return e;
	}
	return NULL;
}

long long sio_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

const char *sio_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* Unlink every topic of S (no dot files). Returns 0 or -errno. */
static int remove_topics(const struct stream_ref *s, char *err, size_t errlen)
{
	DIR *d = opendir(s->dir);
	if (!d) {
		int e = errno;
		snprintf(err, errlen, "%s", strerror(e));
		return -e;
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			rc = -errno;
			snprintf(err, errlen, "removing topic '%s': %s", de->d_name, strerror(-rc));
			break;
		}
	}
	closedir(d);
	return rc;
}

int sio_remove_stream(const struct stream_ref *s, char *err, size_t errlen)
{
	/* A message in flight may still create a topic: retry a little. */
	for (int tries = 0;; tries++) {
		int rc = remove_topics(s, err, errlen);
		if (rc < 0)
			return rc;
		if (rmdir(s->dir) == 0)
			return 0;
		int e = errno;
		if (e != ENOTEMPTY || tries == 40) {
			snprintf(err, errlen, "rmdir %s: %s", s->dir, strerror(e));
			return -e;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
	}
}
