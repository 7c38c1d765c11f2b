/*
 * logtopic.h - the local message log's topic (the "local" home of
 * fs/topic.h): an append-only log of messages kept in segments
 * (segment.h), its origin table, the per-origin high-water marks that make
 * replication exactly-once, and its owner and mode.
 *
 * On disk, a topic is a directory <stream>/<topic>/ holding:
 *   .topic.json     incarnation UUID, owner, group, mode (metafile.c)
 *   .origins        the origin table: (stream UUID, topic incarnation UUID)
 *   .checkpoint     high-water marks as of some offset (start-up shortcut)
 *   NNN.seg/NNN.idx segments, named by their first offset
 * Byte layouts in docs/storage.md.
 *
 * Locking: each topic has one rwlock. Appends hold it exclusively; reads
 * share it. No function here takes another topic's lock or any lock of the
 * stream layer, so the stream layer may call in while holding its own.
 *
 * Only the local home (fs/local/), the stream store that makes its topics
 * and the daemon's wiring include this header; everyone else uses
 * fs/topic.h.
 */
#ifndef STREAMFS_LOGTOPIC_H
#define STREAMFS_LOGTOPIC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uuid/uuid.h>

#include "config.h"
#include "fdbudget.h"
#include "marks.h"
#include "segment.h"
#include "topic.h"

/* Settings shared by all topics of a daemon (from mount.conf). */
struct topic_opts {
	uint64_t segment_bytes;		/* roll a segment past this size */
	enum sfs_fsync_policy fsync;
	uint64_t fsync_interval_ms;
	uint64_t checkpoint_every;	/* messages between checkpoints */
	/* The namespace's descriptor budget (borrowed), or NULL: no bound. */
	struct fd_budget *fds;
	/* The most origins a topic may learn through replication (0: the
	 * default, TOPIC_MAX_ORIGINS). */
	uint32_t max_origins;
	/* Topics alive with these settings (or NULL: not counted): the
	 * settings and FDS must outlive them (localcluster.c's teardown). */
	atomic_long *live;
	/* The segment format new segments are written in (0: the newest,
	 * SEG_FORMAT_VERSION; SEG_FORMAT_RECORDS only for tests of reading
	 * old logs). A topic whose last segment is of another format starts a
	 * new segment when it is loaded. */
	uint32_t segment_version;
};






/* A topic of the local log: the common part first (fs/topic.h). */
struct log_topic {
	struct topic base;
	uint64_t ctime_ns;	/* created (ns since the epoch) */
	uint64_t change_ns;	/* last chmod/chown, or 0 (under lock) */

	pthread_rwlock_t lock;	/* protects everything below */
	/*
	 * The topic's directory is opened only for the operation that needs
	 * it (a new segment, a checkpoint, metadata, a new origin), through
	 * the stream's directory PARENT_FD (borrowed: the stream outlives its
	 * topics): an idle topic holds just its current segment's two files,
	 * so the number of topics is not capped by a third of the fd limit.
	 * DIRFD and ORIGINS_FD are open only while the topic is being created
	 * or loaded.
	 */
	int parent_fd;
	int dirfd;
	const struct topic_opts *opts;
	struct segment *segs;
	size_t nsegs, segcap;
	struct topic_origin *origins;
	size_t norigins, origcap;
	int origins_fd;
	int local_idx;		/* origin-table index of this topic, or -1 */
	uint64_t mtime_ns;	/* time of the last append */
	uint64_t since_checkpoint;
	/* Group commit (fsync = always): sync_mu is taken without the topic
	 * lock held; one fdatasync covers every append before it started. */
	pthread_mutex_t sync_mu;
	uint64_t synced_upto;	/* messages known durable (under sync_mu) */
	bool deleted;		/* removed: appends fail with -ENOENT */

	/*
	 * Segment files are opened on first use and may be closed again by
	 * the descriptor budget (fs/fdbudget.h) when many topics are in use:
	 * FDS_OPEN says whether they are open (changed only under open_mu
	 * with the lock held, or under the lock held exclusively); FDU is how
	 * the budget counts them (under the budget's mutex).
	 */
	pthread_mutex_t open_mu;
	bool fds_open;
	/* Serialises checks of version-2 segments (segment_check) by readers
	 * holding the lock shared. Lock order: lock, then check_mu. */
	pthread_mutex_t check_mu;
	struct fd_user fdu;
};

/* log_topic_of - the local topic whose common part is T (a topic of this
 * home: T->ops is the local log's). */
struct log_topic *log_topic_of(struct topic *t);

/*
 * log_topic_create - make topic NAME in the stream directory STREAM_DIRFD,
 * owned by UID/GID with MODE, with a new incarnation UUID. The directory is
 * built under a temporary name and renamed into place, so a crash leaves
 * either no topic or a whole one. Returns 0 and a topic with one reference
 * in *OUT, -EEXIST, or another negative errno (nothing left on disk).
 */
int log_topic_create(int stream_dirfd, const char *name, const uuid_t stream_uuid,
		 uid_t uid, gid_t gid, mode_t mode,
		 const struct topic_opts *opts, struct topic **out);

/*
 * log_topic_open - load topic NAME from STREAM_DIRFD: metadata, origin table,
 * segments (repairing a torn tail, segment.h), high-water marks (from the
 * checkpoint plus a scan of the messages after it). Start-up work is bounded
 * by the checkpoint interval, not by the size of the log.
 * Returns 0 and a topic with one reference in *OUT, or a negative errno
 * (-EPROTO for a newer on-disk format, logged).
 */
int log_topic_open(int stream_dirfd, const char *name, const uuid_t stream_uuid,
	       const struct topic_opts *opts, struct topic **out);

/*
 * log_topic_fds_evict - the descriptor budget's eviction callback for topics
 * (fd_budget_init): closes the segment files of the topic whose fd_user is
 * U if it is not in use right now (trylocks only). True if closed.
 */
bool log_topic_fds_evict(struct fd_user *u, void *arg);

#endif
