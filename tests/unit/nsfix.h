/*
 * nsfix.h - a real namespace for a unit test, without a mount
 * (tests/unit/nsfix.c, linked into every unit test): a scratch directory,
 * a mount.conf with local clusters sanfrancisco and newyork there (and,
 * with WITH_REMOTE, a remote cluster london, never connected to), loaded
 * and opened with no replication hooks.
 */
#ifndef STREAMFS_TEST_NSFIX_H
#define STREAMFS_TEST_NSFIX_H

#include <stdbool.h>

#include "fs/config.h"
#include "fs/namespace.h"

struct nsfix {
	char dir[512];
	struct sfs_config cfg;
	struct sfs_namespace ns;
};

/* nsfix_open - set up F in /tmp/sfs-test-NAME.XXXXXX. 0 or -1 (the
 * reason printed), as cmocka's setup wants. */
int nsfix_open(struct nsfix *f, const char *name, bool with_remote);

/* nsfix_close - close the namespace, free the config, remove the
 * directory. 0 or -1. */
int nsfix_close(struct nsfix *f);

#endif
