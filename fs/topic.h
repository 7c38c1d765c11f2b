/*
 * topic.h - a topic: an append-only log of messages kept in segments
 * (fs/segment.c), its origin table, the per-origin high-water marks that
 * make replication exactly-once, and its owner and mode.
 *
 * On disk, a topic is a directory <stream>/<topic>/ holding:
 *   .topic.json     incarnation UUID, owner, group, mode (metafile.c)
 *   .origins        the origin table: (stream UUID, topic incarnation UUID)
 *   .checkpoint     high-water marks as of some offset (start-up shortcut)
 *   NNN.seg/NNN.idx segments, named by their first offset
 * Byte layouts in docs/storage.md.
 *
 * The topic file that readers see is the concatenation of every message
 * followed by '\n'; a "vpos" is a byte position in that file.
 *
 * Locking: each topic has one rwlock. Appends hold it exclusively; reads
 * share it. No function here takes another topic's lock or any lock of the
 * stream layer, so the stream layer may call in while holding its own.
 */
#ifndef STREAMFS_TOPIC_H
#define STREAMFS_TOPIC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uuid/uuid.h>

#include "config.h"
#include "fdbudget.h"
#include "segment.h"

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
	/* The most topics a stream may hold for replication to make one more
	 * (0: the default, TOPIC_MAX_REPLICATED, replication/apply.c). */
	uint32_t max_replicated_topics;
	/* The segment format new segments are written in (0: the newest,
	 * SEG_FORMAT_VERSION; SEG_FORMAT_RECORDS only for tests of reading
	 * old logs). A topic whose last segment is of another format starts a
	 * new segment when it is loaded. */
	uint32_t segment_version;
};

/*
 * The most origins (stream and topic incarnation that first appended a
 * message) a topic may learn through replication. A mesh has one per
 * stream that writes the topic, and one more per re-creation of such a
 * topic: thousands are already far past any real topology. Without this
 * bound an upstream could fill the table (65,535 entries, the record's
 * 16-bit index) with invented origins, after which the topic could take
 * no local append nor any new real origin (docs/security.md, "Bounds").
 * The topic's own origin is never refused for it: the table has room
 * left past this bound.
 */
#define TOPIC_MAX_ORIGINS 4096

/*
 * The most topics a replica stream may hold for replication to make one
 * more there: a bound on what an upstream can make a daemon hold (each
 * topic costs memory, and a directory of files). Far above any real
 * stream (the benchmarks use 10,000); local users make topics as they
 * make files, without it (docs/security.md, "Bounds").
 */
#define TOPIC_MAX_REPLICATED 65536

/* One entry of the origin table: where a message was first appended. */
struct topic_origin {
	uuid_t stream;		/* origin stream UUID */
	uuid_t topic;		/* incarnation UUID of the topic there */
	uint64_t hwm;		/* highest origin offset applied here */
	bool seen;		/* hwm is valid */
};

/* A message with its full identity, as replication moves it. */
struct topic_msg {
	const uint8_t *payload;	/* borrowed from the batch that holds it */
	uint32_t len;		/* payload bytes */
	uint64_t offset;	/* offset in the topic it was read from */
	uint64_t origin_offset;
	uint64_t timestamp_ns;
	uuid_t origin_stream, origin_topic;
};

/* Messages read in one go; owns the memory their payloads point into. */
struct topic_batch {
	struct topic_msg *msgs;
	size_t n, cap;
	uint8_t *data;
	size_t data_len, data_cap;
	uint64_t next_offset;	/* offset after the last message read */
	uint64_t bytes;		/* sum of payload bytes */
};

struct topic {
	char name[256];
	uuid_t uuid;		/* incarnation: new each time the topic is made */
	uuid_t stream_uuid;	/* the stream it belongs to (local origin) */
	uid_t uid;
	gid_t gid;
	mode_t mode;		/* permission bits only */
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

	/* Called after every append, outside the lock (replication wake-up). */
	void (*on_append)(void *arg);
	void *on_append_arg;

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

	/* Offset of a message found failing its checksum (reads of it give
	 * EIO, replication stops before it), or -1; shown in .info. */
	atomic_llong damaged_offset;

	/* Files open on the topic through the mount (fs/openfile.c). */
	atomic_int open_files;

	atomic_int refs;
};

/*
 * topic_create - make topic NAME in the stream directory STREAM_DIRFD,
 * owned by UID/GID with MODE, with a new incarnation UUID. The directory is
 * built under a temporary name and renamed into place, so a crash leaves
 * either no topic or a whole one. Returns 0 and a topic with one reference
 * in *OUT, -EEXIST, or another negative errno (nothing left on disk).
 */
int topic_create(int stream_dirfd, const char *name, const uuid_t stream_uuid,
		 uid_t uid, gid_t gid, mode_t mode,
		 const struct topic_opts *opts, struct topic **out);

/*
 * topic_open - load topic NAME from STREAM_DIRFD: metadata, origin table,
 * segments (repairing a torn tail, segment.h), high-water marks (from the
 * checkpoint plus a scan of the messages after it). Start-up work is bounded
 * by the checkpoint interval, not by the size of the log.
 * Returns 0 and a topic with one reference in *OUT, or a negative errno
 * (-EPROTO for a newer on-disk format, logged).
 */
int topic_open(int stream_dirfd, const char *name, const uuid_t stream_uuid,
	       const struct topic_opts *opts, struct topic **out);

/* topic_get / topic_put - take / drop a reference; the last put closes. */
void topic_get(struct topic *t);
void topic_put(struct topic *t);

/*
 * topic_append_local - append N messages (payloads without '\n', as IOV) as
 * one contiguous run, with this topic as their origin. All or nothing.
 * Returns 0, -ENOENT if the topic was deleted, -ENOSPC, -EIO, -ENOMEM,
 * -EOVERFLOW when its own origin offsets would pass 2^63 - 1 (a damaged
 * log only; logged).
 */
int topic_append_local(struct topic *t, const struct iovec *msgs, size_t n);

/* The most origins one replicated batch may bring that the topic has not
 * seen yet (a bound on the work and the origin-table writes of a batch). */
#define TOPIC_BATCH_NEW_ORIGINS 1024

/*
 * topic_append_replicated - append those of the N messages that are new
 * here: a message whose origin offset is at or below the high-water mark of
 * its origin is dropped (docs/replication.md, exactly once). Order is kept.
 * A batch that cannot be true is refused whole, nothing of it applied: a
 * message whose origin is this topic's own stream, or one that skips
 * offsets of an origin already seen here, or one whose new origins would
 * take the topic past its bound of origins (TOPIC_MAX_ORIGINS;
 * docs/security.md) (-EPROTO); one that brings an origin not seen here
 * at an origin offset other than 0, its first (-ENODATA). *APPLIED (may
 * be NULL) gets the number appended. All or nothing on error; ERR (may be
 * NULL, ERRLEN bytes) gets one line for -EPROTO.
 * Returns 0, -EPROTO or -ENODATA (refused), -ENOENT (deleted), -ENOSPC,
 * -EIO, -ENOMEM, -EOVERFLOW (the origin table is full).
 */
int topic_append_replicated(struct topic *t, const struct topic_msg *msgs,
			    size_t n, size_t *applied, char *err, size_t errlen);

/*
 * Where a reader stopped: the record holding the next byte it will likely
 * ask for, and the segment bytes read ahead of it. A sequential reader
 * (cat, wc, tail -f) passes it back so the next read starts there instead
 * of searching the index, and is served from the bytes already read (a
 * segment's bytes never change once written), so each byte of a segment is
 * read from the file once whatever the size of the reader's read(). Owned
 * by the caller (one per open file, used by one read at a time); zero it to
 * start, topic_read_hint_free it at the end. The bytes read ahead are let
 * go whenever a read reaches the end of the topic, so an idle follower
 * holds no buffer.
 */
struct topic_read_hint {
	bool valid;
	uint64_t seg_base;	/* base offset of the segment it points into */
	uint64_t vpos, filepos, offset;	/* the record's start */
	/* Bytes [ahead_filepos, +ahead_len) of segment ahead_seg (malloc'd,
	 * AHEAD_CAP bytes; NULL when none). */
	uint8_t *ahead;
	size_t ahead_cap, ahead_len;
	uint64_t ahead_seg, ahead_filepos;
};

/* topic_read_hint_free - release what HINT holds (it can be used again). */
void topic_read_hint_free(struct topic_read_hint *hint);

/*
 * topic_read - copy up to SIZE bytes of the topic file from byte position
 * VPOS into BUF. HINT (may be NULL) is used when it points at or before
 * VPOS in the right segment, and updated. Returns the byte count (0 at the
 * end), or -EIO when a record in range fails its checksum (logged with
 * topic and offset; nothing of it is returned), or another negative errno.
 */
ssize_t topic_read(struct topic *t, uint64_t vpos, char *buf, size_t size,
		   struct topic_read_hint *hint);

/*
 * topic_read_batch - read messages from offset FROM, at most MAX_MSGS and
 * (after the first) about MAX_BYTES payload bytes, into B (reset first).
 * Returns 0 (B->n may be 0 at the end), -EIO on a checksum failure at
 * B->next_offset (messages before it are returned), or a negative errno.
 */
int topic_read_batch(struct topic *t, uint64_t from, size_t max_msgs,
		     size_t max_bytes, struct topic_batch *b);

/* topic_batch_free - release a batch's memory (B itself is not freed). */
void topic_batch_free(struct topic_batch *b);

/* topic_stat - message count (= next offset), file size in bytes, mtime. */
void topic_stat(struct topic *t, uint64_t *messages, uint64_t *bytes,
		uint64_t *mtime_ns);

/*
 * topic_ctime - the topic file's status-change time for stat (ns since the
 * epoch): the latest of its creation, its last append and its last
 * chmod/chown, as POSIX's ctime.
 */
uint64_t topic_ctime(struct topic *t);

/* topic_end - next offset (messages so far), read under the lock. */
uint64_t topic_end(struct topic *t);

/*
 * topic_set_owner - change owner/group/mode (UID -1 / GID -1 / MODE
 * (mode_t)-1 keep the current value) and persist them atomically.
 * Returns 0 or a negative errno (nothing changed).
 */
int topic_set_owner(struct topic *t, uid_t uid, gid_t gid, mode_t mode);

/*
 * topic_mark_deleted - make later appends fail with -ENOENT. The caller
 * removes the directory; open readers keep their file descriptors.
 */
void topic_mark_deleted(struct topic *t);

/* topic_deleted - has T been removed (topic_mark_deleted)? Takes its lock. */
bool topic_deleted(struct topic *t);

/*
 * topic_sync - make every message appended so far durable (fdatasync of
 * the current segment; earlier segments were synced when they rolled).
 * Concurrent callers share one sync (group commit). Returns 0 or a
 * negative errno from fdatasync.
 */
int topic_sync(struct topic *t);

/*
 * topic_fds_evict - the descriptor budget's eviction callback for topics
 * (fd_budget_init): closes the segment files of the topic whose fd_user is
 * U if it is not in use right now (trylocks only). True if closed.
 */
bool topic_fds_evict(struct fd_user *u, void *arg);

#endif
