/*
 * scratch.c - the scratch directory of a unit test (scratch.h): made with
 * mkdtemp, removed with everything in it at teardown.
 */
#define _GNU_SOURCE
#include "scratch.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int scratch_make(const char *name, char *dir, size_t len, int *dirfd)
{
	char tmpl[256];
	snprintf(tmpl, sizeof(tmpl), "/tmp/sfs-test-%s.XXXXXX", name);
	if (!mkdtemp(tmpl))
		return -1;
	/* The real path: tests compare paths the code resolved itself. */
	char *real = realpath(tmpl, NULL);
	if (!real || strlen(real) >= len) {
		free(real);
		rmdir(tmpl);
		return -1;
	}
	strcpy(dir, real);
	free(real);
	if (dirfd) {
		*dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*dirfd < 0)
			return -1;
	}
	return 0;
}

int scratch_remove(const char *dir, int *dirfd)
{
	if (dirfd && *dirfd >= 0)
		close(*dirfd);
	if (dirfd)
		*dirfd = -1;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
