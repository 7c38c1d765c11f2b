/*
 * namespace.h - the tree under the mountpoint: clusters, their streams, and
 * path resolution. One sfs_namespace per daemon.
 *
 * A local cluster's streams are the directories of its data directory,
 * loaded at start-up. Remote clusters (a gateway address, docs/gateway.md) are
 * known by name only, for the gateway to use.
 *
 * Locking: ns->lock (rwlock) protects each cluster's stream list. It is the
 * outermost lock of the daemon (see stream.h for the whole order).
 */
#ifndef STREAMFS_NAMESPACE_H
#define STREAMFS_NAMESPACE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "fdbudget.h"
#include "replhooks.h"
#include "stream.h"
#include "topic.h"
#include "local/logtopic.h"	/* topic_opts: until the local home owns its streams */

struct cluster {
	char name[256];
	bool remote;
	char *data;		/* local: data directory (config's string) */
	int dirfd;		/* local: open data directory */
	uid_t uid;
	gid_t gid;
	mode_t mode;		/* of /<cluster>; kept in .cluster.json */
	struct stream **streams;	/* under ns->lock */
	size_t nstreams, cap;
	struct sfs_namespace *ns;
};

struct sfs_namespace {
	pthread_rwlock_t lock;
	const struct sfs_config *cfg;	/* borrowed, outlives the namespace */
	struct topic_opts topic_opts;
	struct fd_budget fds;		/* topics' open segment files */
	struct cluster *clusters;
	int nclusters;
	uint64_t mount_ns;		/* mount time, for the times of / */
	/* Replication, as the daemon's wiring installed it (fs/replhooks.h;
	 * NULL: the defaults). Called through the repl_* functions. */
	const struct repl_hooks *hooks;
	void *hooks_arg;
	/* Moves when every stream's replicas must be looked at again (a
	 * stream made or removed may be some stream's replica); see
	 * stream.h, repl_gen. */
	atomic_uint_fast64_t repl_gen_all;
	/* Moves after any stream's .upstreams may have changed (a write of
	 * it, a stream removed): who may look once at every stream's
	 * upstreams (the gateway's list of peers that are some stream's
	 * upstream) knows when to look again. */
	atomic_uint_fast64_t upstreams_gen;
};

/*
 * ns_open - build the namespace from CFG: create missing data directories
 * (mkdir -p), take an exclusive lock on each (a second daemon on the same
 * data is refused), load every stream and topic. HOOKS (may be NULL) with
 * HOOKS_ARG is how the namespace reaches replication (fs/replhooks.h):
 * installed before any stream loads, borrowed, outliving the namespace.
 * On error returns a negative errno and
 * writes one line into ERR naming the cluster and directory.
 */
int ns_open(struct sfs_namespace *ns, const struct sfs_config *cfg,
	    const struct repl_hooks *hooks, void *hooks_arg, char *err, size_t errlen);

/* ns_close - drop every stream and topic (checkpointing them) and unlock. */
void ns_close(struct sfs_namespace *ns);

/* ns_cluster - the cluster NAME (local or remote) or NULL. Borrowed. */
struct cluster *ns_cluster(struct sfs_namespace *ns, const char *name);

/*
 * ns_stream - stream NAME of cluster CLUSTER with a new reference
 * (stream_put it), or NULL if either does not exist or is remote.
 */
struct stream *ns_stream(struct sfs_namespace *ns, const char *cluster,
			 const char *name);

/*
 * ns_create_stream - mkdir of /<cluster>/<name>. Returns 0 and a new
 * reference in *OUT (may be NULL), -EINVAL for a bad name, -EEXIST,
 * -ENOENT for an unknown or remote cluster, or a negative errno.
 */
int ns_create_stream(struct sfs_namespace *ns, struct cluster *cl,
		     const char *name, uid_t uid, gid_t gid, mode_t mode,
		     struct stream **out);

/*
 * ns_delete_stream - rmdir of a stream: -ENOTEMPTY while it has topics,
 * -ENOENT if missing. Its data directory is removed, and replication is
 * woken, so sources that named it as a replica show the error at once.
 */
int ns_delete_stream(struct sfs_namespace *ns, struct cluster *cl,
		     const char *name);

/*
 * ns_streams_snapshot - references to every stream of every local cluster
 * (caller stream_puts each and frees the array). Returns count or -ENOMEM.
 */
int ns_streams_snapshot(struct sfs_namespace *ns, struct stream ***out);

/*
 * ns_sync_all - topic_sync every topic of every local cluster (the
 * fsync = interval policy calls this periodically). Errors are logged;
 * returns the first negative errno seen, or 0.
 */
int ns_sync_all(struct sfs_namespace *ns);

/*
 * ns_cluster_names / ns_stream_names - name lists for readdir (malloc'd,
 * free with free_names). Return count or -ENOMEM.
 */
int ns_cluster_names(struct sfs_namespace *ns, char ***out);
int ns_stream_names(struct sfs_namespace *ns, struct cluster *cl, char ***out);

/*
 * ns_cluster_set_owner - chown/chmod of /<cluster>, persisted in
 * .cluster.json. Returns 0 or a negative errno.
 */
int ns_cluster_set_owner(struct sfs_namespace *ns, struct cluster *cl,
			 uid_t uid, gid_t gid, mode_t mode);

#endif
