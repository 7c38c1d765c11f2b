/*
 * logtopic_internal.h - what the files of the local log's topic share
 * (fs/local/logtopic.c, logtopic_append.c, logtopic_marks.c,
 * logtopic_read.c): the names and layouts of a topic's files, and the
 * functions one of them offers the others. Not for use outside them;
 * the rest of the local home uses logtopic.h, everyone else fs/topic.h.
 *
 * On disk, <stream>/<topic>/ holds .topic.json (UUID, owner, mode), the
 * segments (fs/local/segment.h), .origins (a 16-byte header: magic "SFSORG",
 * format version, entry size; then 32-byte entries: origin stream UUID,
 * origin topic UUID; a record names its origin by index) and .checkpoint
 * (the high-water marks as of some log offset; docs/storage.md).
 */
#ifndef STREAMFS_LOGTOPIC_INTERNAL_H
#define STREAMFS_LOGTOPIC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "logtopic.h"

#define ORIGINS_FILE ".origins"
#define CHECKPOINT_FILE ".checkpoint"
#define TOPIC_META ".topic.json"
#define ORIGINS_HDR 16
#define ORIGIN_ENTRY 32
#define TOPIC_FORMAT_VERSION 1
/* The origin index is 16 bits in a record. */
#define MAX_ORIGINS 65535

/* The magic bytes of .origins and .checkpoint (fs/local/logtopic.c). */
extern const uint8_t origins_magic[8];
extern const uint8_t ckpt_magic[8];

/* ---- the operations of fs/topic.h (struct topic_ops), local log ---- */

void lt_mark_deleted(struct topic *g);
bool lt_deleted(struct topic *g);
void lt_stat(struct topic *g, uint64_t *messages, uint64_t *bytes, uint64_t *mtime_ns);
uint64_t lt_ctime(struct topic *g);
int lt_set_owner(struct topic *g, uid_t uid, gid_t gid, mode_t mode);
int lt_sync(struct topic *g);			/* logtopic_append.c */
int lt_append_local(struct topic *g, const struct iovec *msgs, size_t n);
int lt_append_replicated(struct topic *g, const struct topic_msg *msgs,
			 size_t n, size_t *applied, char *err, size_t errlen);
ssize_t lt_read(struct topic *g, uint64_t vpos, char *buf, size_t size,
		struct topic_read_hint *hint);	/* logtopic_read.c */
int lt_read_batch(struct topic *g, uint64_t from, size_t max_msgs,
		  size_t max_bytes, struct topic_batch *b);

/* ---- fs/local/logtopic.c ---- */

/*
 * topic_dir_get / topic_dir_put - the topic's directory, opened for one
 * operation (or the one kept open while it is created or loaded); put
 * closes what get opened. get returns an fd or a negative errno.
 */
int topic_dir_get(struct log_topic *t);
void topic_dir_put(struct log_topic *t, int fd);

/* topic_open_fds - make sure T's segment files are open (counted in the
 * descriptor budget). T's lock held, shared or exclusive. 0 or -errno. */
int topic_open_fds(struct log_topic *t);

/* topic_seg_for_offset / topic_seg_for_vpos - index of the segment holding
 * message OFFSET / topic-file byte VPOS (or the last one). Lock held. */
size_t topic_seg_for_offset(const struct log_topic *t, uint64_t offset);
size_t topic_seg_for_vpos(const struct log_topic *t, uint64_t vpos);

/* topic_note_damage - remember the first damaged message seen (.info). */
void topic_note_damage(struct log_topic *t, uint64_t offset);

/* topic_segment_version - the format T writes new segments in. */
uint32_t topic_segment_version(const struct log_topic *t);

/* topic_add_segment - make the next segment (BASE_OFFSET, BASE_VPOS) and
 * count its files. Lock held exclusively. 0 or a negative errno. */
int topic_add_segment(struct log_topic *t, uint64_t base_offset, uint64_t base_vpos);

/* ---- fs/local/logtopic_marks.c ---- */

/*
 * topic_origin_index - the index of origin (STREAM, TOPIC), added (and
 * synced) if new. Lock held exclusively. Returns it, or -EOVERFLOW (table
 * full), -ENOMEM or the errno of writing .origins.
 */
int topic_origin_index(struct log_topic *t, const uuid_t stream, const uuid_t topic);

/* topic_origins_load - read .origins (t->origins_fd). 0 or -EPROTO (a bad
 * header, logged), -EIO, -ENOMEM. */
int topic_origins_load(struct log_topic *t);

/* topic_checkpoint_write - write .checkpoint for the log as it is. Lock
 * held exclusively. 0 or a negative errno. */
int topic_checkpoint_write(struct log_topic *t);

/* topic_checkpoint_load - load the marks of .checkpoint if it is valid for
 * a log ending at LOG_END; returns the offset the log must be scanned from
 * (topic_scan_hwm) for the rest. */
uint64_t topic_checkpoint_load(struct log_topic *t, uint64_t log_end);

/* topic_scan_hwm - raise the marks from the records at offsets [FROM,
 * end). 0 or a negative errno. */
int topic_scan_hwm(struct log_topic *t, uint64_t from);

/* topic_origin_find - the index of origin (STREAM, TOPIC), or -1; HINT is
 * tried first. Lock held. */
int topic_origin_find(const struct log_topic *t, const uuid_t stream, const uuid_t topic, int hint);

/*
 * topic_check_batch - may the N replicated messages MSGS be applied to T as
 * a whole (topic_append_replicated's rules)? Lock held. 0, -EPROTO or
 * -ENODATA with one line in ERR (ERRLEN bytes), or -ENOMEM.
 */
int topic_check_batch(const struct log_topic *t, const struct topic_msg *msgs, size_t n,
		      char *err, size_t errlen);

#endif
