/*
 * topic.h - a topic as the FUSE layer, the control files and replication
 * see it, whatever home keeps it: one table of operations (struct
 * topic_ops), each home a static instance, callers written once against
 * the topic_* calls below, in the style of Redis's rio.h. The local
 * message log is one home (fs/local/logtopic.h); docs/architecture.md,
 * "The cluster interface", has the layout.
 *
 * The topic file that readers see is the concatenation of every message
 * followed by '\n'; a "vpos" is a byte position in that file. Offsets are
 * dense from 0 per topic; a message's origin (stream UUID, topic
 * incarnation UUID, origin offset, timestamp) is its identity across
 * streams (docs/replication.md).
 *
 * Locking: each home guards its own state. No operation takes another
 * topic's lock or any lock of the stream layer, so the stream layer may
 * call in while holding its own.
 */
#ifndef STREAMFS_TOPIC_H
#define STREAMFS_TOPIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uuid/uuid.h>

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

/*
 * Where a reader stopped, kept per open file (one read at a time) for a
 * home that can serve the next read faster from it: the local log's
 * segments of the old format use it to continue where the last read
 * stopped and keep the bytes read ahead. Owned by the caller; zero it to
 * start, topic_read_hint_free it at the end.
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
	/* The home's generation of what this open file read (NATS: its
	 * topic's index, read again when its stream went back,
	 * fs/nats/natsseq.c); UINT64_MAX once the reader was told. */
	uint64_t epoch;
	/* NATS: the chunk holding the last byte this open file read (its
	 * stream sequence, Sfs-Ts time, byte position) and the byte after
	 * that byte: a rebuild that kept that chunk took nothing it read. */
	uint64_t last_seq, last_ts, last_pos, last_end;
};

struct topic;

/*
 * What a home does for a topic. Every operation is called with a reference
 * held; the errors are those documented at the topic_* call of the same
 * name below.
 */
struct topic_ops {
	const char *home;	/* "local", ... (for .info and logs) */
	/* The last reference is gone: write what must last, free T. */
	void (*destroy)(struct topic *t);
	int (*append_local)(struct topic *t, const struct iovec *msgs, size_t n);
	int (*append_replicated)(struct topic *t, const struct topic_msg *msgs,
				 size_t n, size_t *applied, char *err, size_t errlen);
	ssize_t (*read)(struct topic *t, uint64_t vpos, char *buf, size_t size,
			struct topic_read_hint *hint);
	int (*read_batch)(struct topic *t, uint64_t from, size_t max_msgs,
			  size_t max_bytes, struct topic_batch *b);
	void (*stat)(struct topic *t, uint64_t *messages, uint64_t *bytes,
		     uint64_t *mtime_ns);
	uint64_t (*ctime)(struct topic *t);
	int (*set_owner)(struct topic *t, uid_t uid, gid_t gid, mode_t mode);
	void (*mark_deleted)(struct topic *t);
	bool (*deleted)(struct topic *t);
	int (*sync)(struct topic *t);
};

/*
 * What every home's topic carries; a home embeds it first in its own
 * struct (container_of). NAME, UUID and STREAM_UUID never change; UID, GID
 * and MODE change only through set_owner and are read without a lock (an
 * aligned word: a stat racing a chmod sees the old or the new value).
 */
struct topic {
	const struct topic_ops *ops;
	char name[256];
	uuid_t uuid;		/* incarnation: new each time the topic is made */
	uuid_t stream_uuid;	/* the stream it belongs to (local origin) */
	uid_t uid;
	gid_t gid;
	mode_t mode;		/* permission bits only */

	/* Called after every append, outside the home's locks (replication
	 * wake-up). Set once, before the topic is shared. */
	void (*on_append)(void *arg);
	void *on_append_arg;

	/* Offset of a message found failing its checksum (reads of it give
	 * EIO, replication stops before it), or -1; shown in .info. */
	atomic_llong damaged_offset;

	/* Files open on the topic through the mount (fs/openfile.c). */
	atomic_int open_files;

	atomic_int refs;
};

/*
 * topic_init - set the common part of a home's new topic: OPS, NAME (1-255
 * bytes, already checked), STREAM_UUID, one reference, no damage. The home
 * sets the rest.
 */
void topic_init(struct topic *t, const struct topic_ops *ops, const char *name,
		const uuid_t stream_uuid);

/* topic_get / topic_put - take / drop a reference; the last put destroys. */
void topic_get(struct topic *t);
void topic_put(struct topic *t);

/*
 * topic_append_local - append N messages (payloads without '\n', as IOV) as
 * one contiguous run, with this topic as their origin. All or nothing.
 * Returns 0, -ENOENT if the topic was deleted, -ENOSPC, -EIO, -ENOMEM,
 * -EOVERFLOW when its own origin offsets would pass 2^63 - 1 (a damaged
 * log only; logged).
 */
static inline int topic_append_local(struct topic *t, const struct iovec *msgs, size_t n)
{
	return t->ops->append_local(t, msgs, n);
}

/* The most origins one replicated batch may bring that the topic has not
 * seen yet (a bound on the work and the origin-table writes of a batch). */
#define TOPIC_BATCH_NEW_ORIGINS 1024

/*
 * The most origins (stream and topic incarnation that first appended a
 * message) a topic may learn through replication. A mesh has one per
 * stream that writes the topic, and one more per re-creation of such a
 * topic: thousands are already far past any real topology. Without this
 * bound an upstream could fill a home's origin table with invented
 * origins, after which the topic could take no local append nor any new
 * real origin (docs/security.md, "Bounds"). The topic's own origin is
 * never refused for it.
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

/*
 * topic_append_replicated - append those of the N messages that are new
 * here: a message whose origin offset is at or below the high-water mark of
 * its origin is dropped (docs/replication.md, exactly once). Order is kept.
 * A batch that cannot be true is refused whole, nothing of it applied: a
 * message whose origin is this topic's own stream, or that holds a '\n',
 * or one that skips offsets of an origin already seen here, or one whose
 * new origins would take the topic past its bound of origins
 * (TOPIC_MAX_ORIGINS; docs/security.md) (-EPROTO); one that brings an
 * origin not seen here at an origin offset other than 0, its first
 * (-ENODATA). *APPLIED (may be NULL) gets the number appended. All or
 * nothing on error; ERR (may be NULL, ERRLEN bytes) gets one line for
 * -EPROTO. Returns 0, -EPROTO or -ENODATA (refused), -ENOENT (deleted),
 * -ENOSPC, -EIO, -ENOMEM, -EOVERFLOW (the origin table is full).
 */
static inline int topic_append_replicated(struct topic *t, const struct topic_msg *msgs,
					  size_t n, size_t *applied, char *err,
					  size_t errlen)
{
	return t->ops->append_replicated(t, msgs, n, applied, err, errlen);
}

/* topic_read_hint_free - release what HINT holds (it can be used again). */
void topic_read_hint_free(struct topic_read_hint *hint);

/*
 * topic_read - copy up to SIZE bytes of the topic file from byte position
 * VPOS into BUF. HINT (may be NULL) is the caller's per-open-file hint.
 * Returns the byte count (0 at the end; fewer than SIZE only at the end or
 * before damaged data), or -EIO when the data at VPOS fails its checksum
 * (logged with topic and offset; nothing of it is returned), or another
 * negative errno.
 */
static inline ssize_t topic_read(struct topic *t, uint64_t vpos, char *buf, size_t size,
				 struct topic_read_hint *hint)
{
	return t->ops->read(t, vpos, buf, size, hint);
}

/*
 * topic_read_batch - read messages from offset FROM, at most MAX_MSGS and
 * (after the first) about MAX_BYTES payload bytes, into B (reset first).
 * Returns 0 (B->n may be 0 at the end), -EIO on a checksum failure at
 * B->next_offset (messages before it are returned), or a negative errno.
 */
static inline int topic_read_batch(struct topic *t, uint64_t from, size_t max_msgs,
				   size_t max_bytes, struct topic_batch *b)
{
	return t->ops->read_batch(t, from, max_msgs, max_bytes, b);
}

/*
 * topic_batch_reserve - room in B for one more message of BYTES payload
 * bytes (for a home's read_batch; payload pointers into B->data are fixed
 * up by the caller once the batch is full, since the data may move).
 * Returns 0 or -ENOMEM (B unchanged).
 */
int topic_batch_reserve(struct topic_batch *b, size_t bytes);

/* topic_batch_free - release a batch's memory (B itself is not freed). */
void topic_batch_free(struct topic_batch *b);

/* topic_stat - message count (= next offset), file size in bytes, mtime
 * (ns since the epoch); each pointer may be NULL. */
static inline void topic_stat(struct topic *t, uint64_t *messages, uint64_t *bytes,
			      uint64_t *mtime_ns)
{
	t->ops->stat(t, messages, bytes, mtime_ns);
}

/*
 * topic_ctime - the topic file's status-change time for stat (ns since the
 * epoch): the latest of its creation, its last append and its last
 * chmod/chown, as POSIX's ctime.
 */
static inline uint64_t topic_ctime(struct topic *t)
{
	return t->ops->ctime(t);
}

/* topic_end - next offset (messages so far). */
uint64_t topic_end(struct topic *t);

/*
 * topic_set_owner - change owner/group/mode (UID -1 / GID -1 / MODE
 * (mode_t)-1 keep the current value) and persist them atomically.
 * Returns 0 or a negative errno (nothing changed).
 */
static inline int topic_set_owner(struct topic *t, uid_t uid, gid_t gid, mode_t mode)
{
	return t->ops->set_owner(t, uid, gid, mode);
}

/*
 * topic_mark_deleted - make later appends fail with -ENOENT. The stream
 * removes the topic from its home; open readers keep reading what they
 * can.
 */
static inline void topic_mark_deleted(struct topic *t)
{
	t->ops->mark_deleted(t);
}

/* topic_deleted - has T been removed (topic_mark_deleted)? */
static inline bool topic_deleted(struct topic *t)
{
	return t->ops->deleted(t);
}

/*
 * topic_sync - make every message appended so far durable. Concurrent
 * callers share one sync (group commit). Returns 0 or a negative errno.
 */
static inline int topic_sync(struct topic *t)
{
	return t->ops->sync(t);
}

#endif
