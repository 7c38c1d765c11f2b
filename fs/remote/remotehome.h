/*
 * remotehome.h - a remote daemon as a home of clusters (fs/cluster.h): a
 * cluster another streamfs daemon serves, reached through its gateway
 * ([cluster] gateway = HOST:PORT). Nothing of it is kept here: every file
 * operation under /<cluster> is carried out by the serving daemon, as the
 * caller (the global namespace, docs/global-namespace.md).
 *
 * Only fs/remote/ and the file that wires the daemon (fs/main.c) include
 * this header.
 */
#ifndef STREAMFS_REMOTEHOME_H
#define STREAMFS_REMOTEHOME_H

#include "cluster.h"

/* The remote home, for the daemon's table of homes (fs/main.c). */
extern const struct cluster_home remote_home;

#endif
