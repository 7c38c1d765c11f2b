/*
 * replica.h - what replication knows about one replica of a stream: its
 * state (MapR's replicaState), its positions (one per topic), its last
 * error and pending counts. The settings its owner wrote in .replicas are
 * the embedded struct replica_conf (fs/replhooks.h), which fs/ sees and
 * stores in the stream; replica_of() gets from one to the other.
 *
 * Every field is read and written under the owning stream's lock.
 */
#ifndef STREAMFS_REPLICA_H
#define STREAMFS_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

#include <jansson.h>

#include "../fs/replhooks.h"

/* MapR's replicaState values (stream replica list), plus PAUSED. */
enum replica_state {
	REPLICA_STATE_COPY_IN_PROGRESS,	/* initial copy not yet caught up */
	REPLICA_STATE_REPLICATING,	/* caught up once; sending new messages */
	REPLICA_STATE_PAUSED,		/* paused=true (streamfs addition) */
	REPLICA_STATE_UNEXPECTED,	/* an error; see last_error */
};

/* How far one replica has acknowledged one topic of the source. */
struct replica_position {
	char topic[256];
	uuid_t incarnation;	/* of the source topic when the position was taken */
	uint64_t offset;	/* next source offset to send */
	uint64_t vpos;		/* topic-file byte position of that offset */
	bool on_replica;	/* the topic is known to exist on the replica
				 * (not saved: checked once after a start) */
	/* The origin timestamp of the message at OLDEST_AT (the oldest not
	 * sent, when OLDEST_AT == OFFSET), so that status does not read it
	 * again every round; 0 when not known. */
	uint64_t oldest_at, oldest_ns;
	/* The position at which the replica last answered that its topic
	 * lacks an origin's start, sending the topic again from 0; 0 when
	 * none or passed since. A second such answer at or before it is an
	 * error, not another round (replicator.c, restart_topic). */
	uint64_t restart_at;
	/* When it last moved (mono_ns), 0 never: a synchronous replica's
	 * positions that moved lately go with its published status
	 * (replstatus.c). */
	uint64_t moved_ns;
};

struct replica {
	struct replica_conf conf;	/* first: fs/ holds &conf */

	uuid_t target_uuid;	/* replica stream UUID the positions refer to:
				 * the replica is pinned to that stream */
	uint64_t checked_ns;	/* when the replica last confirmed it (now_ns) */
	bool copied;		/* initial copy has caught up once */
	struct replica_position *pos;
	size_t npos, poscap;
	/* Index of POS by topic name (replication/positions.c): slots hold
	 * a position's index + 1, 0 empty; PIDX_N is how many positions it
	 * indexes, -1 when it must be built again (positions removed). */
	uint32_t *pidx;
	size_t pidx_cap, pidx_n;
	enum replica_state state;
	char last_error[1200];
	uint64_t last_error_ns;
	uint64_t pending_msgs, pending_bytes;
	uint64_t oldest_pending_ns;	/* timestamp of the oldest unsent message */
	/* synchronous=true but a write timed out waiting for it: replicated
	 * asynchronously until it has caught up (docs/replication.md). */
	bool degraded;
	/* Refused at its last open: another stream than TARGET_UUID has its
	 * name (pinned, docs/security.md), until .replicas names it again. */
	bool pin_refused;
	/* State, counts, error and degraded were set from the status the
	 * daemon running the stream's lanes published (replstatus.c): shown
	 * as they are while another daemon runs them, instead of counting
	 * pending messages from this daemon's positions. */
	bool imported;
};

/* replica_of - the replica whose settings are RC (made by replica_new). */
static inline struct replica *replica_of(struct replica_conf *rc)
{
	return (struct replica *)rc;
}

/*
 * replica_by_name - the replica of S whose replica stream is
 * /mapr/CLUSTER/STREAM, or NULL. Caller holds S->lock; the replica is S's
 * (valid while the lock is held).
 */
struct replica *replica_by_name(struct stream *s, const char *cluster, const char *stream);

/*
 * replica_new - a replica with no settings (cluster and stream empty),
 * state COPY_IN_PROGRESS, no positions; the caller frees it with
 * replica_free. NULL when out of memory.
 */
struct replica *replica_new(void);

/* replica_free - free R and its positions (NULL is ignored). */
void replica_free(struct replica *r);

/*
 * replica_set_healthy - a round went well: state REPLICATING (or
 * COPY_IN_PROGRESS until the first copy caught up) and the last error,
 * with its time, cleared (docs/replication.md, "Status"). Caller holds
 * the owning stream's lock.
 */
void replica_set_healthy(struct replica *r);

/*
 * replica_fail - R of stream S goes into the error state with TEXT as its
 * last error (and now as its time); logged (warn) only when the error
 * changes. TEXT may be a peer's words: kept and logged through safetext
 * (fs/util/safetext.h), so the log line stays one line and .info renders.
 * Caller holds S's lock.
 */
void replica_fail(struct stream *s, struct replica *r, const char *text);

/* replica_state_name - "REPLICA_STATE_REPLICATING" etc. Static string. */
const char *replica_state_name(enum replica_state st);

/*
 * replstatus_export, replstatus_import - the status_export and
 * status_import hooks (fs/replhooks.h): the status of S's replicas as
 * JSON, a new reference or NULL (out of memory); and such a status,
 * published by the daemon that runs S's lanes, applied here (positions
 * only move where its incarnation says; waiting writers woken); or, when
 * it says "notice", another daemon's status after a write there timed
 * out: the replicas it names degraded are degraded here. Caller holds
 * S's lock. replication/replstatus.c, docs/nats.md.
 */
json_t *replstatus_export(struct stream *s);
void replstatus_import(struct stream *s, json_t *status);

/*
 * replication_hooks - replication's side of fs/replhooks.h, for the file
 * that wires the daemon to hand to ns_open with the struct replicator as
 * its argument.
 */
extern const struct repl_hooks replication_hooks;

#endif
