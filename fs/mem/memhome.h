/*
 * memhome.h - a home of clusters kept in memory only (fs/cluster.h): every
 * stream and topic lives in the daemon's memory and is gone when it stops.
 * It exists for unit tests of what runs above the cluster interface (the
 * replicator's lanes, echo suppression, positions) without a disk, and as
 * the smallest complete example of a home. Not wired into the daemon
 * (fs/main.c); tests list it in the homes they pass to ns_open.
 *
 * It serves every section of mount.conf that has a data = key (the
 * directory is never touched). Topics keep the exactly-once rules of
 * fs/marks.h like every home.
 */
#ifndef STREAMFS_MEMHOME_H
#define STREAMFS_MEMHOME_H

#include "cluster.h"

/* The in-memory home, for a test's table of homes. */
extern const struct cluster_home mem_home;

#endif
