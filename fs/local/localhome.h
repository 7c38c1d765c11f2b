/*
 * localhome.h - the local message log as a home of clusters (fs/cluster.h):
 * a data directory per cluster on this host, a directory per stream, a
 * directory per topic (fs/local/logtopic.h). Byte layouts in
 * docs/storage.md.
 *
 * Only fs/local/ and the file that wires the daemon (fs/main.c) include
 * this header; tests of the local log may too.
 */
#ifndef STREAMFS_LOCALHOME_H
#define STREAMFS_LOCALHOME_H

#include "cluster.h"
#include "fdbudget.h"
#include "logtopic.h"
#include "stream.h"

/* The local home, for the daemon's table of homes (fs/main.c). */
extern const struct cluster_home local_home;

/*
 * What the local clusters of one daemon share (local_home.setup): the
 * topics' storage settings and the descriptor budget of their segment
 * files. Owned by the namespace's home state.
 */
struct local_shared {
	struct topic_opts topic_opts;
	struct fd_budget fds;
	atomic_long live_topics;	/* topic_opts.live */
};

/* One local cluster: its data directory. */
struct local_cluster {
	const char *data;	/* mount.conf's string (the config outlives it) */
	int dirfd;		/* the open data directory, -1 */
	int lockfd;		/* its .lock, flock()ed while served, -1 */
	struct local_shared *shared;
};

/* One local stream: its directory in the cluster's data directory. */
struct local_stream {
	int dirfd;
	const struct topic_opts *opts;	/* the cluster's (shared) */
};

/*
 * local_stream_create - make stream NAME in the cluster data directory
 * CLUSTER_DIRFD (built under a temporary name, then renamed into place,
 * synced). 0 and a stream with one reference in *OUT, -EEXIST, or a
 * negative errno with nothing left on disk.
 */
int local_stream_create(struct cluster *cl, int cluster_dirfd, const struct topic_opts *opts,
			const char *name, uid_t uid, gid_t gid, mode_t mode,
			struct stream **out);

/*
 * local_stream_open - load stream NAME from CLUSTER_DIRFD with all its
 * topics (a topic that fails to load is logged and left out; leftovers of
 * cut-short creations and deletions are removed). 0 and a stream with one
 * reference in *OUT, or a negative errno.
 */
int local_stream_open(struct cluster *cl, int cluster_dirfd, const struct topic_opts *opts,
		      const char *name, struct stream **out);

#endif
