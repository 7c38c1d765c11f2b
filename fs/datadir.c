/*
 * datadir.c - the StrictModes check of a data directory (datadir.h).
 */
#define _GNU_SOURCE
#include "datadir.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* May only root and SELF change what ST describes? WHY gets the reason. */
static bool owner_ok(const struct stat *st, uid_t self)
{
	return st->st_uid == 0 || st->st_uid == self;
}

/* Check one path P (lstat'ed): see check_path. */
static int check_one(const char *p, uid_t self, bool dirs, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(p, &st) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", p, strerror(e));
		return -e;
	}
	if (S_ISLNK(st.st_mode)) {
		if (owner_ok(&st, self))
			return 0;
		snprintf(err, errlen, "%s is a symlink owned by uid %u (only root or uid %u may own what leads to the data)",
			 p, (unsigned)st.st_uid, (unsigned)self);
		return -EPERM;
	}
	if (!dirs || !S_ISDIR(st.st_mode))
		return 0;
	if (!owner_ok(&st, self)) {
		snprintf(err, errlen, "%s is owned by uid %u (only root or uid %u may own the directories that hold the data)",
			 p, (unsigned)st.st_uid, (unsigned)self);
		return -EPERM;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "%s is writable by %s (mode %04o) without the sticky bit: anyone could replace what is below it",
			 p, (st.st_mode & S_IWOTH) ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/*
 * "/" and each prefix of absolute path PATH ("/a", "/a/b", ...): symlinks
 * must belong to root or SELF (the check goes on along the path as given;
 * realpath is checked on its own afterwards); with DIRS, directories too,
 * and no one else may write them unless they are sticky.
 */
static int check_path(const char *path, uid_t self, bool dirs, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf) || path[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return -EINVAL;
	}
	int rc = check_one("/", self, dirs, err, errlen);
	for (size_t i = 1; rc == 0 && i <= n; i++) {
		if ((i < n && path[i] != '/') || path[i - 1] == '/')
			continue;
		memcpy(buf, path, i);
		buf[i] = 0;
		rc = check_one(buf, self, dirs, err, errlen);
	}
	return rc;
}

int datadir_check(const char *dir, uid_t self, char *err, size_t errlen)
{
	char abs[PATH_MAX], real[PATH_MAX];
	if (dir[0] == '/') {
		snprintf(abs, sizeof(abs), "%s", dir);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd))) {
			int e = errno;
			snprintf(err, errlen, "%s: %s", dir, strerror(e));
			return -e;
		}
		if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, dir) >= sizeof(abs)) {
			snprintf(err, errlen, "%s: path too long", dir);
			return -ENAMETOOLONG;
		}
	}
	/* The path as written: its symlinks (and directories, where it has
	 * no symlink: the same as below then). */
	int rc = check_path(abs, self, false, err, errlen);
	if (rc < 0)
		return rc;
	if (!realpath(abs, real)) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", abs, strerror(e));
		return -e;
	}
	/* Where it really is: every directory on the way. */
	return check_path(real, self, true, err, errlen);
}
