/*
 * namespace.h - the tree under the mountpoint: clusters, their streams, and
 * path resolution. One sfs_namespace per daemon.
 *
 * A cluster's streams are loaded at start-up by its home (fs/cluster.h;
 * the local log: the directories of its data directory). Remote clusters
 * (a gateway address, docs/gateway.md) are known by name only, for the
 * gateway to use.
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

#include "cluster.h"
#include "config.h"
#include "replhooks.h"
#include "stream.h"
#include "topic.h"

/* Kinds of home one daemon may be wired with (fs/main.c). */
#define SFS_MAX_HOMES 8

struct sfs_namespace {
	pthread_rwlock_t lock;
	const struct sfs_config *cfg;	/* borrowed, outlives the namespace */
	/* The homes the daemon is wired with, and the state each keeps for
	 * all its clusters (cluster_home.setup). */
	const struct cluster_home *const *homes;
	int nhomes;
	void *home_state[SFS_MAX_HOMES];
	/* The most topics a stream may hold for replication to make one more
	 * (0: TOPIC_MAX_REPLICATED; replication/apply.c). */
	uint32_t max_replicated_topics;
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
 * ns_open - build the namespace from CFG: each cluster section is served by
 * the first of the NHOMES HOMES that serves it (fs/cluster.h; the local
 * log makes missing data directories, locks each so that a second daemon
 * on the same data is refused, and loads every stream and topic); a section
 * none serves is a remote cluster, known by name. HOMES (borrowed, static)
 * is how the daemon is wired (fs/main.c). HOOKS (may be NULL) with
 * HOOKS_ARG is how the namespace reaches replication (fs/replhooks.h):
 * installed before any stream loads, borrowed, outliving the namespace.
 * On error returns a negative errno and writes one line into ERR naming
 * the cluster and what is wrong.
 */
int ns_open(struct sfs_namespace *ns, const struct sfs_config *cfg,
	    const struct cluster_home *const *homes, int nhomes,
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
