/*
 * replhooks.h - how the filesystem side reaches replication without
 * knowing it: a table of hooks (libfuse's ops table, Redis's rio are the
 * models) that the file wiring the daemon (fs/main.c) fills with
 * replication/'s functions and hands to ns_open. fs/ never includes a
 * header of replication/; replication/ includes fs/ headers freely.
 *
 * What crosses: the .replicas settings of a stream live here in fs/ as
 * struct replica_conf (the control files own them, .stream.json keeps
 * them); everything replication knows about a replica (state, positions,
 * errors) lives in replication/replica.h, in an object that embeds the
 * replica_conf and is made and freed only through these hooks.
 *
 * Without hooks (unit tests of fs/ alone) every hook has a default:
 * a bare replica_conf, status "copy in progress", nothing to wait for.
 */
#ifndef STREAMFS_REPLHOOKS_H
#define STREAMFS_REPLHOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

#include <jansson.h>

#include "control.h"
#include "fsreq.h"

struct stream;
struct topic;

/* One line of a stream's .replicas: what its owner configured. */
struct replica_conf {
	char cluster[256], stream[256];
	bool paused, synchronous;
	enum ctl_compression compression;
	/* .replicas named the replica again (not in a replace, not to pause
	 * or resume it): the stream under its name at that moment may be
	 * taken as the replica (docs/security.md): REPIN_UUID, the stream
	 * that had the name when the line was written (seen in the
	 * namespace, or for a remote cluster asked of its gateway through
	 * the replica_lookup hook). Also set for a new local replica: the
	 * stream its line named. Cleared by replication once it has pinned
	 * the new stream, and while a replica already pinned is paused. */
	bool repin;
	uuid_t repin_uuid;	/* never null while REPIN */
};

/* What status shows of one replica (.replicas comments, .info). */
struct replica_status {
	const char *state;	/* MapR's name, "REPLICA_STATE_REPLICATING"...; static */
	bool uptodate, degraded;
	uint64_t pending_msgs, pending_bytes;
	uint64_t oldest_pending_ns;	/* origin time of the oldest unsent, or 0 */
	const char *last_error;	/* "" when none; valid while the stream lock is held */
	uint64_t last_error_ns;
};

struct repl_hooks {
	/*
	 * wake - a topic gained messages or replication settings changed:
	 * the replication thread should look. Any thread, no lock held or
	 * any; must not block.
	 */
	void (*wake)(void *arg);
	/*
	 * replica_new - a new replica object, its conf zeroed, state "copy in
	 * progress". Owned by the caller until stored in a stream (then the
	 * stream frees it with replica_free). NULL when out of memory.
	 */
	struct replica_conf *(*replica_new)(void *arg);
	/* replica_free - free what replica_new made (NULL is ignored). */
	void (*replica_free)(void *arg, struct replica_conf *rc);
	/*
	 * replica_configured - RC's settings changed and were saved (paused,
	 * synchronous, compression, repin): replication updates its state.
	 * Caller holds the stream lock.
	 */
	void (*replica_configured)(void *arg, struct replica_conf *rc);
	/*
	 * replica_status - fill OUT for replica RC of stream S, whose topics
	 * are TOPICS[0..NT) (pending counts are taken against them). Caller
	 * holds S's lock; OUT's strings are valid while it does.
	 */
	void (*replica_status)(void *arg, struct stream *s, struct replica_conf *rc,
			       struct topic **topics, int nt, struct replica_status *out);
	/*
	 * topic_deleted - topic NAME of S was deleted: its replication
	 * positions mean nothing to a next topic of that name. Caller holds
	 * S's lock.
	 */
	void (*topic_deleted)(void *arg, struct stream *s, const char *name);
	/*
	 * sync_wait - after an append to T of S up to offset UPTO: wait for
	 * S's synchronous replicas, at most TIMEOUT_MS, asking INTERRUPTED
	 * (IARG) now and then (replication/syncwait.h). No lock held.
	 * Returns 0 or -EINTR.
	 */
	int (*sync_wait)(void *arg, struct stream *s, struct topic *t, uint64_t upto,
			 uint64_t timeout_ms, bool (*interrupted)(void *iarg), void *iarg);
	/*
	 * cluster_reachable - can remote cluster NAME's gateway be reached?
	 * 1 yes (connected), 0 no (WHY, N bytes, says why), -1 not known
	 * (never contacted). Any thread, no lock held; must not block on the
	 * network.
	 */
	int (*cluster_reachable)(void *arg, const char *name, char *why, size_t n);
	/*
	 * replica_lookup - a line of .replicas names S's replica
	 * /mapr/CLUSTER/STREAM, on a remote cluster, again. If replication
	 * refuses that replica because another stream than the pinned one
	 * has its name now: ask CLUSTER's gateway at once which stream that
	 * is and whether it accepts S, its UUID in OUT (16 bytes). Blocks
	 * the caller for the connection and one request, each bounded by
	 * [gateway] timeout_ms. No lock held. Returns 0; -EALREADY when the
	 * replica is not refused for its pin (or is paused): nothing to
	 * take; or, with one line in ERR (ERRLEN bytes), the gateway's
	 * refusal (-EACCES: no such stream, or it does not list S), the
	 * connection's error (-ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, ...),
	 * or -EBUSY: another line is asking that cluster's gateway now (one
	 * at a time per remote cluster, so that writers cannot use up the
	 * daemon's connections there).
	 */
	int (*replica_lookup)(void *arg, struct stream *s, const char *cluster,
			      const char *stream, uuid_t out, char *err, size_t errlen);
	/*
	 * fs_call - carry out file operation Q on remote cluster Q->cluster
	 * through its gateway (the global namespace, fs/fsreq.h): the
	 * serving daemon's answer in *REP (fs_rep_free it). Waits at most
	 * [gateway] timeout_ms for a connection and as long for the answer,
	 * asking INTERRUPTED (IARG, may be NULL) every 100 ms. Any thread,
	 * no lock held. Returns 0 (REP's status says how it went there), or
	 * with one line in ERR: -EHOSTDOWN, -ETIMEDOUT, -EINTR, -ESHUTDOWN,
	 * -EHOSTUNREACH, -ENOMEM (replication/gwpool.h).
	 */
	int (*fs_call)(void *arg, const struct fs_req *q, struct fs_rep *rep,
		       bool (*interrupted)(void *iarg), void *iarg, char *err, size_t errlen);
	/*
	 * status_export - the status of S's replicas as the lanes keep it
	 * (state, counts, errors, degraded, and where a synchronous
	 * replica's positions moved lately), as JSON: a new reference, or
	 * NULL (out of memory). For a home served by several daemons, whose
	 * daemon running S's lanes publishes it to the others (docs/nats.md,
	 * "Replication status on every daemon"). Caller holds S's lock.
	 */
	json_t *(*status_export)(void *arg, struct stream *s);
	/*
	 * status_import - STATUS (status_export's, on the daemon that runs
	 * S's lanes) is what S's replicas show here; the positions it names
	 * move, and writers waiting for a synchronous replica are woken.
	 * With "notice": true, STATUS is another daemon's after a write there
	 * timed out, sent to the daemon that runs the lanes: only the
	 * replicas it names degraded become so here. Replicas it does not
	 * name, and a STATUS that is not one, are left alone. Caller holds
	 * S's lock.
	 */
	void (*status_import)(void *arg, struct stream *s, json_t *status);
};

struct sfs_namespace;

/*
 * The filesystem's calls of the hooks installed in NS (ns_open), each
 * falling back to the default named above when none is installed. Same
 * contracts as the hooks.
 */
void repl_wake(struct sfs_namespace *ns);
struct replica_conf *repl_replica_new(struct sfs_namespace *ns);
void repl_replica_free(struct sfs_namespace *ns, struct replica_conf *rc);
void repl_replica_configured(struct sfs_namespace *ns, struct replica_conf *rc);
void repl_replica_status(struct sfs_namespace *ns, struct stream *s, struct replica_conf *rc,
			 struct topic **topics, int nt, struct replica_status *out);
void repl_topic_deleted(struct sfs_namespace *ns, struct stream *s, const char *name);
int repl_sync_wait(struct sfs_namespace *ns, struct stream *s, struct topic *t, uint64_t upto,
		   uint64_t timeout_ms, bool (*interrupted)(void *iarg), void *iarg);
int repl_cluster_reachable(struct sfs_namespace *ns, const char *name, char *why, size_t n);
/* Without a hook: -EALREADY (nothing to take). */
int repl_replica_lookup(struct sfs_namespace *ns, struct stream *s, const char *cluster,
			const char *stream, uuid_t out, char *err, size_t errlen);
/* Without a hook: NULL (nothing to publish). */
json_t *repl_status_export(struct sfs_namespace *ns, struct stream *s);
/* Without a hook: nothing. */
void repl_status_import(struct sfs_namespace *ns, struct stream *s, json_t *status);
/* Without a hook: -EHOSTUNREACH (no gateway). */
int repl_fs_call(struct sfs_namespace *ns, const struct fs_req *q, struct fs_rep *rep,
		 bool (*interrupted)(void *iarg), void *iarg, char *err, size_t errlen);

#endif
