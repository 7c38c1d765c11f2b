/*
 * scratch.h - a scratch directory for a unit test (tests/unit/scratch.c,
 * linked into every unit test by the Makefile).
 */
#ifndef STREAMFS_TEST_SCRATCH_H
#define STREAMFS_TEST_SCRATCH_H

#include <stddef.h>

/*
 * scratch_make - create /tmp/sfs-test-NAME.XXXXXX; its real path (no
 * symlinks) goes into DIR (LEN bytes). If DIRFD is not NULL, the directory
 * is opened there (O_DIRECTORY). Returns 0 or -1 (for cmocka's setup).
 */
int scratch_make(const char *name, char *dir, size_t len, int *dirfd);

/*
 * scratch_remove - close *DIRFD (if not NULL and open; set to -1) and
 * remove DIR and everything below it. Returns 0 or -1.
 */
int scratch_remove(const char *dir, int *dirfd);

#endif
