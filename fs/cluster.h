/*
 * cluster.h - a cluster as the daemon serves it, whatever home keeps it:
 * one table of operations per home (struct cluster_ops, a static instance
 * each, in the style of Redis's rio.h), and the table of homes the daemon
 * is wired with (struct cluster_home). The local message log is the first
 * home (fs/local/); docs/architecture.md, "The cluster interface", has the
 * layout. Streams and topics have tables of their own (fs/stream.h,
 * fs/topic.h); a home fills all three.
 *
 * A cluster's name, owner, group and mode and its list of streams are the
 * daemon's (fs/namespace.c, under the namespace lock); where they are kept
 * is the home's.
 */
#ifndef STREAMFS_CLUSTER_H
#define STREAMFS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/statvfs.h>
#include <sys/types.h>

struct cluster;
struct fs_req;
struct fs_rep;
struct stream;
struct sfs_namespace;
struct sfs_config;
struct sfs_cluster_conf;

/* What a home does for one of its clusters. */
struct cluster_ops {
	/*
	 * open - make the cluster ready and load its streams at start-up
	 * (cluster_add_stream for each; one that cannot be loaded is logged
	 * and left out). LINE is its section's line in mount.conf, for the
	 * one line put in ERR (ERRLEN bytes) on failure. Returns 0 or a
	 * negative errno.
	 */
	int (*open)(struct cluster *cl, int line, char *err, size_t errlen);
	/* stop - end what the home runs by itself that may add or remove
	 * streams (a thread following other daemons' changes), before the
	 * streams are put at the stop. May be NULL. */
	void (*stop)(struct cluster *cl);
	/* close - release what open took (after every stream is put). */
	void (*close)(struct cluster *cl);
	/* save - keep the cluster's owner, group and mode (durably). 0 or a
	 * negative errno (nothing changed). */
	int (*save)(struct cluster *cl);
	/*
	 * stream_create - make stream NAME with a new UUID, owned by UID/GID
	 * with MODE, all or nothing. Returns 0 and a stream with one
	 * reference in *OUT, -EEXIST (something of that name is there), or
	 * another negative errno.
	 */
	int (*stream_create)(struct cluster *cl, const char *name, uid_t uid, gid_t gid,
			     mode_t mode, struct stream **out);
	/*
	 * stream_remove - remove the data of stream S, which holds no topic
	 * the daemon serves (and is marked deleted). Returns 0, -ENOTEMPTY
	 * when the home still holds topic data the daemon could not load
	 * (never deleted behind the user's back), or a negative errno.
	 */
	int (*stream_remove)(struct cluster *cl, struct stream *s);
	/* statfs - the space of the cluster's storage (statfs of /<cluster>). */
	int (*statfs)(struct cluster *cl, struct statvfs *sv);
	/* reachable - 1 the storage is there, 0 not (WHY, N bytes, says why),
	 * -1 not known. Must not block on the network. */
	int (*reachable)(struct cluster *cl, char *why, size_t n);
	/*
	 * call - for a home whose streams another daemon holds (a remote
	 * daemon, the global namespace): carry out file operation Q there,
	 * as Q's caller, the answer in *REP (fs_rep_free it); asks
	 * INTERRUPTED (IARG) now and then while it waits. The FUSE layer
	 * hands every operation under /<cluster> of such a home to it
	 * (fs/fuse_remote.c). Returns 0 when REP holds the serving daemon's
	 * answer (its status may be an error), or -EHOSTDOWN, -ETIMEDOUT,
	 * -EINTR, -EHOSTUNREACH, -ENOMEM. NULL for homes whose streams this
	 * daemon holds.
	 */
	int (*call)(struct cluster *cl, const struct fs_req *q, struct fs_rep *rep,
		    bool (*interrupted)(void *iarg), void *iarg);
};

/* A cluster of mount.conf. */
struct cluster {
	/* NULL for a remote cluster no home serves (unit tests without the
	 * remote home: known by name only) */
	const struct cluster_ops *ops;
	void *home;			/* the home's own state (ops' business) */
	const char *home_name;		/* "local", "remote" */
	/* Where it is kept, for /.info: WHERE_KEY "data" and the directory,
	 * "gateway" and HOST:PORT, ... (borrowed from the configuration). */
	const char *where_key, *where;
	char name[256];
	bool remote;		/* another daemon holds its streams */
	uid_t uid;
	gid_t gid;
	mode_t mode;		/* of /<cluster> */
	struct stream **streams;	/* under ns->lock */
	size_t nstreams, cap;
	struct sfs_namespace *ns;
};

/*
 * A kind of home the daemon is wired with (fs/main.c lists them; adding a
 * home is a folder and one line there).
 */
struct cluster_home {
	const char *name;
	/* Does this home serve the section CC (e.g. it has data =)? */
	bool (*serves)(const struct sfs_cluster_conf *cc);
	/* Once per daemon, before any of its clusters: state shared by them
	 * (*STATE), from CFG. 0 or a negative errno with one line in ERR. */
	int (*setup)(const struct sfs_config *cfg, void **state, char *err, size_t errlen);
	/* Undo setup (after every cluster of the home is closed). */
	void (*teardown)(void *state);
	/* Set CL's ops and home state for section CC (CL's name and ns are
	 * set), before any cluster is opened: a section that cannot be served
	 * is refused before anything is made for another. 0 or a negative
	 * errno with one line in ERR naming the file, line and key. */
	int (*cluster_init)(struct cluster *cl, const struct sfs_cluster_conf *cc, void *state,
			    char *err, size_t errlen);
};

/*
 * cluster_add_stream - add S (its reference is taken over) to CL's list:
 * for a home's open. The namespace lock is held by the caller, or nobody
 * else sees CL yet. Returns 0 or -ENOMEM.
 */
int cluster_add_stream(struct cluster *cl, struct stream *s);

/*
 * cluster_interrupted - has the file-system request the calling thread
 * serves been interrupted (a signal to its caller, or the daemon
 * stopping)? A home polls it while it waits on its store for a request,
 * so that a signal ends the wait (-EINTR; fs/nats/, docs/nats.md). False
 * outside a request, and before cluster_set_interrupt_hook.
 */
bool cluster_interrupted(void);

/* cluster_set_interrupt_hook - the function cluster_interrupted asks (the
 * FUSE layer's; set once at start-up, before any request; NULL: none). */
void cluster_set_interrupt_hook(bool (*fn)(void));

#endif
