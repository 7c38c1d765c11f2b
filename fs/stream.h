/*
 * stream.h - a stream: a directory of topics with a UUID, an owner, and its
 * replication settings (replicas it sends to, upstreams it accepts from),
 * whatever home keeps it. What is kept where (its metadata, its topics'
 * data, the replication positions) is the home's, through struct
 * stream_ops (the local log's: fs/local/localstream.c, a directory per
 * stream with .stream.json and .positions.json).
 *
 * Lock order (the one order in the daemon, outermost first):
 *   namespace lock (fs/namespace.h)  ->  stream.lock  ->  topic.lock
 * and stream.positions_mu, taken alone to write .positions.json, or inside
 * stream.lock by a stream's deletion (never the other way round).
 * A thread never holds two stream locks or two topic locks at once; the
 * replication thread copies what it needs out of one stream before it
 * touches another.
 */
#ifndef STREAMFS_STREAM_H
#define STREAMFS_STREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uuid/uuid.h>

#include <jansson.h>

#include "cluster.h"
#include "config.h"
#include "control.h"
#include "replhooks.h"
#include "topic.h"

#define STREAM_MAX_REPLICAS 64
#define STREAM_MAX_UPSTREAMS 64

struct cluster;

struct upstream {
	char cluster[256], stream[256];
};

/*
 * A topic removed while open (rm of an open file): libfuse renames it to
 * a ".fuse_hidden..." name first (fs/fuse_ops.c), under which the open
 * handles' path-based calls (fstat) still find it until their last close.
 */
struct hidden_topic {
	char name[64];
	struct topic *t;	/* a reference */
};

struct stream;

/*
 * What a home does for one of its streams. Called with a reference held;
 * those marked "s->lock held" under the stream's lock (so they must not
 * take it, nor wait on anything that does).
 */
struct stream_ops {
	/* save - keep META (the stream's metadata as JSON, made by
	 * stream_save_locked) atomically; DURABLE: synced before it returns.
	 * s->lock held. 0 or a negative errno (the old one kept). */
	int (*save)(struct stream *s, json_t *meta, bool durable);
	/* topic_create - make topic NAME (new incarnation UUID) owned by
	 * UID/GID with MODE, all or nothing. s->lock held. 0 and a topic with
	 * one reference in *OUT, -EEXIST, or a negative errno. */
	int (*topic_create)(struct stream *s, const char *name, uid_t uid, gid_t gid,
			    mode_t mode, struct topic **out);
	/* topic_detach - topic T (named NAME) is to be deleted: free its name
	 * at once, so a new topic of that name can be made. s->lock held. 0,
	 * or a negative errno: then the removal is refused (logged by the
	 * caller) and the topic stays as it was. */
	int (*topic_detach)(struct stream *s, const char *name, struct topic *t);
	/* topic_purge - remove what topic_detach set aside. No lock held. */
	void (*topic_purge)(struct stream *s, struct topic *t);
	/* holds_unserved - does the home hold topic data the daemon did not
	 * load (a topic that failed to load)? Such data is never removed. */
	bool (*holds_unserved)(struct stream *s);
	/* positions_read - the replication positions kept, *OUT a new JSON
	 * reference; -ENOENT when none. Other negative errnos: unreadable. */
	int (*positions_read)(struct stream *s, json_t **out);
	/* positions_replace - keep SNAP as the replication positions;
	 * DURABLE: synced. 0 or a negative errno; -EAGAIN: the home's store
	 * cannot be reached now (NATS away or not answering, docs/nats.md,
	 * "When NATS is away"): nothing kept, the caller tries again later. */
	int (*positions_replace)(struct stream *s, json_t *snap, bool durable);
	/* destroy - the last reference is gone: release the home's state. */
	void (*destroy)(struct stream *s);
	/* lanes_epoch - may this daemon run S's replication lanes now? NULL:
	 * always (a home no other daemon serves). 0: no, another daemon
	 * serving the same home does (the NATS home's lease, docs/nats.md,
	 * "The replication lease"); else a number that changes each time
	 * this daemon takes them over, after which the lanes load the
	 * positions again (the other daemon moved them). No lock held. */
	uint64_t (*lanes_epoch)(struct stream *s);
	/* status_changed - the replication lanes (or a synchronous write
	 * that timed out) changed the status of S's replicas: state,
	 * positions, errors, degraded. NOW: a synchronous replica's position
	 * moved, someone may wait for it. NULL: nobody else shows S's status
	 * (a home only this daemon serves). Any thread, S's lock held or
	 * not; takes only the home's innermost locks, never blocks. The NATS
	 * home publishes the status for its other daemons (docs/nats.md,
	 * "Replication status on every daemon"). */
	void (*status_changed)(struct stream *s, bool now);
};

struct stream {
	const struct stream_ops *ops;
	void *home;			/* the home's own state (ops' business) */
	struct cluster *cluster;	/* borrowed; clusters outlive streams */
	char name[256];
	uuid_t uuid;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	uint64_t ctime_ns;		/* created (ns since the epoch) */

	pthread_mutex_t lock;		/* everything below */
	uint64_t mtime_ns;		/* a topic created or removed, or 0 */
	uint64_t change_ns;		/* chmod/chown, or 0 */
	pthread_cond_t applied;		/* a replica's position moved */
	struct topic **topics;
	size_t ntopics, topcap;
	struct hidden_topic *hidden;	/* topics removed while open */
	size_t nhidden, hidcap;
	/* .replicas; each the conf of a replication/ replica object, made and
	 * freed through the namespace's hooks (fs/replhooks.h). */
	struct replica_conf *replicas[STREAM_MAX_REPLICAS];
	int nreplicas;
	struct upstream upstreams[STREAM_MAX_UPSTREAMS];
	int nupstreams;
	char last_error[512];		/* last refused control-file write */
	uint64_t last_error_ns;
	bool positions_dirty;
	uint64_t positions_gen;		/* of the last snapshot taken */
	uint64_t positions_taken_ns;	/* when it was taken (now_ns) */
	/* Held while .positions.json is written (no other lock held then),
	 * and with lock when deleted is set. */
	pthread_mutex_t positions_mu;
	uint64_t positions_written;	/* generation on disk; under positions_mu */
	/* The last save found the home unreachable (-EAGAIN): warned once
	 * until a save succeeds; under positions_mu. */
	bool positions_away;
	bool deleted;
	/* nreplicas > 0, readable without the lock: an append to a stream
	 * that replicates nowhere does not wake the replication thread. */
	atomic_bool has_replicas;
	/* Passes a replication lane has made over this stream's replicas
	 * (.info replicationRounds): a pass that began after an append has
	 * sent everything it could of it. */
	atomic_uint_fast64_t repl_rounds;
	/* Work for replication (replication/replicator.c): REPL_GEN moves
	 * with every change a lane must look at (an append, a topic made or
	 * removed, a control-file write: stream_touch_replication). Each lane
	 * keeps in its own slot the generation it last looked at and when it
	 * must look again anyway (a retry, a probe, a positions save), so a
	 * round passes over the streams with nothing to do. */
	atomic_uint_fast64_t repl_gen;
	uint64_t lane_gen[SFS_MAX_CLUSTERS + 1];
	/* The lanes_epoch the positions were last loaded at (replicator.c). */
	atomic_uint_fast64_t lanes_epoch_seen;
	uint64_t lane_due_ns[SFS_MAX_CLUSTERS + 1];

	atomic_int refs;
};

struct sfs_namespace;

/*
 * stream_alloc - a new stream NAME of cluster CL kept by a home (OPS, HOME
 * its state), one reference, nothing else set: for a home making or
 * loading a stream. NULL when out of memory.
 */
struct stream *stream_alloc(struct cluster *cl, const char *name,
			    const struct stream_ops *ops, void *home);

/*
 * stream_load_meta - set S's UUID, owner, times, replicas and upstreams from
 * META, as stream_save_locked made it (a home loading a stream). Returns 0,
 * -EPROTO for a newer format or no valid UUID (logged), -ENOMEM.
 */
int stream_load_meta(struct stream *s, json_t *meta);

/*
 * stream_adopt_topic - add topic T (its reference is taken over) to S while
 * S is being loaded (nobody else sees S yet). 0 or -ENOMEM.
 */
int stream_adopt_topic(struct stream *s, struct topic *t);

/* stream_get / stream_put - take / drop a reference; the last put frees. */
void stream_get(struct stream *s);
void stream_put(struct stream *s);

/*
 * stream_find_topic - the topic NAME with a new reference (topic_put it),
 * or NULL.
 */
struct topic *stream_find_topic(struct stream *s, const char *name);

/*
 * stream_topic_get_or_create - the topic NAME, created with UID/GID/MODE if
 * missing. *CREATED (may be NULL) tells which. EXCL makes an existing topic
 * an error (-EEXIST). Returns 0 and a new reference in *OUT, -EINVAL for a
 * bad name, or a negative errno from the home's topic_create.
 */
int stream_topic_get_or_create(struct stream *s, const char *name, uid_t uid,
			       gid_t gid, mode_t mode, bool excl,
			       struct topic **out, bool *created);

/*
 * stream_delete_topic - delete topic NAME: later appends to open handles
 * fail, its directory is removed, replication positions for it are
 * dropped. Returns 0, -ENOENT, or the home's errno when it cannot free
 * the name (-EIO: NATS away; nothing changed, logged).
 */
int stream_delete_topic(struct stream *s, const char *name);

/*
 * stream_hide_topic - delete topic NAME as stream_delete_topic does, but
 * keep it findable as HIDDEN (stream_find_hidden) until
 * stream_forget_hidden: the rm of an open file, which libfuse makes a
 * rename to a hidden name (fs/fuse_ops.c). Returns 0, -ENOENT, -EEXIST
 * (HIDDEN in use), -ENAMETOOLONG or -ENOMEM (nothing changed).
 */
int stream_hide_topic(struct stream *s, const char *name, const char *hidden);

/* stream_find_hidden - the topic hidden as NAME, a new reference, or NULL. */
struct topic *stream_find_hidden(struct stream *s, const char *name);

/*
 * stream_forget_hidden - drop the hidden name NAME, or every hidden name
 * of topic T when NAME is NULL. Returns 0, or -ENOENT if there was none.
 */
int stream_forget_hidden(struct stream *s, const char *name, struct topic *t);

/*
 * stream_topic_names - a snapshot of topic names (malloc'd array of
 * malloc'd strings, caller frees with free_names). Returns count or -ENOMEM.
 */
int stream_topic_names(struct stream *s, char ***out);
void free_names(char **names, int n);

/*
 * stream_topics_snapshot - references to every topic (caller topic_puts
 * each and frees the array). Returns count or -ENOMEM.
 */
int stream_topics_snapshot(struct stream *s, struct topic ***out);

/*
 * stream_set_owner - chown/chmod the stream (-1 keeps a value); persisted
 * atomically. Returns 0 or a negative errno (nothing changed).
 */
int stream_set_owner(struct stream *s, uid_t uid, gid_t gid, mode_t mode);

/*
 * stream_save_locked - keep the stream's metadata (UUID, owner, times,
 * replicas, upstreams) atomically and durably, through its home. Caller
 * holds s->lock. Returns 0 or a negative errno.
 */
int stream_save_locked(struct stream *s);

/*
 * stream_times - the stream directory's times for stat, ns since the
 * epoch: MTIME moves when a topic is created or removed, CTIME also with
 * chmod/chown (POSIX's directory times).
 */
void stream_times(struct stream *s, uint64_t *mtime_ns, uint64_t *ctime_ns);

/*
 * stream_refuse - record a refused control-file write: one "warn" log line
 * and the stream's last error (shown in .info). FMT as printf.
 */
void stream_refuse(struct stream *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * stream_touch_replication - S changed in a way replication must look at
 * (see repl_gen): bumps it and wakes the replication thread. No lock
 * needed.
 */
void stream_touch_replication(struct stream *s);

/*
 * stream_status_changed - tell S's home that the status of its replicas
 * changed (struct stream_ops, status_changed; NOW: a synchronous replica's
 * position moved). Nothing when the home does not ask. Any thread, S's
 * lock held or not; never blocks.
 */
void stream_status_changed(struct stream *s, bool now);

#endif
