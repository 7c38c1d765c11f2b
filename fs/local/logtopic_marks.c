/*
 * logtopic_marks.c - a local topic's exactly-once state (logtopic_internal.h): the
 * origin table (.origins: every stream and topic incarnation whose
 * messages the topic holds), the per-origin high-water marks, their
 * checkpoint (.checkpoint) and the scan that rebuilds them from the log,
 * and the checks a replicated batch must pass before any of it applies.
 *
 * Why the marks live with the log and not in replication/: they must be
 * exactly as durable as the messages they describe (docs/replication.md,
 * "Exactly once"; docs/storage.md for the file layouts).
 */
#define _GNU_SOURCE
#include "logtopic_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "logging.h"
#include "metafile.h"
#include "util/byteorder.h"
#include "util/fileio.h"
#include "util/clock.h"
#include "util/lockcheck.h"

/* ---- origin table ------------------------------------------------------ */

static int origins_grow(struct log_topic *t)
{
	if (t->norigins < t->origcap)
		return 0;
	size_t cap = t->origcap ? t->origcap * 2 : 4;
	struct topic_origin *o = realloc(t->origins, cap * sizeof(*o));
	if (!o)
		return -ENOMEM;
	t->origins = o;
	t->origcap = cap;
	return 0;
}

/*
 * The index of origin (STREAM, TOPIC), adding it if new. A new entry is
 * synced before any record can name it: a record must never refer to an
 * origin that a crash could forget. Called with the lock held exclusively.
 */
int topic_origin_index(struct log_topic *t, const uuid_t stream, const uuid_t topic)
{
	LOCK_ASSERT_WRLOCKED(&t->lock);
	for (size_t i = t->norigins; i-- > 0;)
		if (!uuid_compare(t->origins[i].stream, stream) &&
		    !uuid_compare(t->origins[i].topic, topic))
			return (int)i;
	if (t->norigins >= MAX_ORIGINS)
		return -EOVERFLOW;
	int rc = origins_grow(t);
	if (rc < 0)
		return rc;
	uint8_t e[ORIGIN_ENTRY];
	memcpy(e, stream, 16);
	memcpy(e + 16, topic, 16);
	off_t pos = ORIGINS_HDR + (off_t)t->norigins * ORIGIN_ENTRY;
	int ofd = t->origins_fd;
	if (ofd < 0) {
		int dfd = topic_dir_get(t);
		if (dfd < 0)
			return dfd;
		ofd = openat(dfd, ORIGINS_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		rc = -errno;
		topic_dir_put(t, dfd);
		if (ofd < 0)
			return rc;
	}
	rc = pwrite_full(ofd, e, sizeof(e), pos);
	if (rc < 0) {
		if (ftruncate(ofd, pos) < 0)
			log_error("topic %s: cannot cut back the origin table: %s",
				  t->base.name, strerror(errno));
	} else if (fdatasync(ofd) < 0) {
		rc = -errno;
	}
	if (ofd != t->origins_fd)
		close(ofd);
	if (rc < 0)
		return rc;
	struct topic_origin *o = &t->origins[t->norigins];
	memset(o, 0, sizeof(*o));
	uuid_copy(o->stream, stream);
	uuid_copy(o->topic, topic);
	return (int)t->norigins++;
}

int topic_origins_load(struct log_topic *t)
{
	struct stat st;
	uint8_t hdr[ORIGINS_HDR];
	if (fstat(t->origins_fd, &st) < 0)
		return -errno;
	if (st.st_size < ORIGINS_HDR ||
	    pread_full(t->origins_fd, hdr, sizeof(hdr), 0) < 0 ||
	    memcmp(hdr, origins_magic, 8) != 0) {
		log_error("topic %s: origin table has a bad header", t->base.name);
		return -EPROTO;
	}
	if (get_le32(hdr + 8) > TOPIC_FORMAT_VERSION) {
		log_error("topic %s: origin table has format version %u, newer than this streamfs (%u)",
			  t->base.name, get_le32(hdr + 8), TOPIC_FORMAT_VERSION);
		return -EPROTO;
	}
	size_t n = (st.st_size - ORIGINS_HDR) / ORIGIN_ENTRY;
	for (size_t i = 0; i < n; i++) {
		uint8_t e[ORIGIN_ENTRY];
		if (pread_full(t->origins_fd, e, sizeof(e), ORIGINS_HDR + i * ORIGIN_ENTRY) < 0)
			return -EIO;
		int rc = origins_grow(t);
		if (rc < 0)
			return rc;
		struct topic_origin *o = &t->origins[t->norigins++];
		memset(o, 0, sizeof(*o));
		memcpy(o->stream, e, 16);
		memcpy(o->topic, e + 16, 16);
		if (!uuid_compare(o->stream, t->base.stream_uuid) &&
		    !uuid_compare(o->topic, t->base.uuid))
			t->local_idx = (int)i;
	}
	/* A torn trailing entry was never referenced (it is synced first). */
	if ((off_t)(ORIGINS_HDR + n * ORIGIN_ENTRY) != st.st_size &&
	    ftruncate(t->origins_fd, ORIGINS_HDR + n * ORIGIN_ENTRY) < 0)
		return -errno;
	return 0;
}

/* ---- checkpoint of high-water marks ----------------------------------- */

/*
 * Layout: magic[8] version u32, count u32, end_offset u64, then per origin
 * u64 (hwm + 1, 0 = none). Written with metafile semantics (tmp + rename).
 */
int topic_checkpoint_write(struct log_topic *t)
{
	uint64_t end = t->nsegs ? t->segs[t->nsegs - 1].end_offset : 0;
	size_t len = 24 + t->norigins * 8;
	uint8_t *b = malloc(len);
	if (!b)
		return -ENOMEM;
	memcpy(b, ckpt_magic, 8);
	put_le32(b + 8, TOPIC_FORMAT_VERSION);
	put_le32(b + 12, (uint32_t)t->norigins);
	put_le64(b + 16, end);
	for (size_t i = 0; i < t->norigins; i++)
		put_le64(b + 24 + i * 8, t->origins[i].seen ? t->origins[i].hwm + 1 : 0);
	int rc = 0;
	int dfd = topic_dir_get(t);
	if (dfd < 0) {
		rc = dfd;
		goto out;
	}
	int fd = openat(dfd, ".tmp" CHECKPOINT_FILE,
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (write(fd, b, len) != (ssize_t)len) {
		rc = -ENOSPC;
		close(fd);
		unlinkat(dfd, ".tmp" CHECKPOINT_FILE, 0);
		goto out;
	}
	close(fd);
	if (renameat(dfd, ".tmp" CHECKPOINT_FILE, dfd, CHECKPOINT_FILE) < 0)
		rc = -errno;
	t->since_checkpoint = 0;
out:
	topic_dir_put(t, dfd);
	free(b);
	return rc;
}

/* The offset the checkpoint covers up to, after loading its marks; 0 if none. */
uint64_t topic_checkpoint_load(struct log_topic *t, uint64_t log_end)
{
	int fd = openat(t->dirfd, CHECKPOINT_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	uint8_t hdr[24];
	uint64_t covered = 0;
	if (read(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    memcmp(hdr, ckpt_magic, 8) != 0)
		goto out;
	uint32_t n = get_le32(hdr + 12);
	uint64_t end = get_le64(hdr + 16);
	/* A newer checkpoint is not understood: rebuild the marks instead. */
	if (get_le32(hdr + 8) > TOPIC_FORMAT_VERSION)
		goto out;
	/* A checkpoint past the log (the log lost its tail) is useless. */
	if (n > t->norigins || end > log_end)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t v[8];
		if (read(fd, v, 8) != 8) {
			for (uint32_t k = 0; k < n; k++)
				t->origins[k].seen = false;
			goto out;
		}
		uint64_t h = get_le64(v);
		/* No real origin offset passes 2^63 - 1 (the scan ignores
		 * such records): a checkpoint saying so is corrupt. */
		if (h - 1 > INT64_MAX && h != 0) {
			for (uint32_t k = 0; k < n; k++)
				t->origins[k].seen = false;
			goto out;
		}
		t->origins[i].seen = h != 0;
		t->origins[i].hwm = h ? h - 1 : 0;
	}
	covered = end;
out:
	close(fd);
	return covered;
}


/* Update high-water marks from the messages at offsets [FROM, end). */
int topic_scan_hwm(struct log_topic *t, uint64_t from)
{
	for (size_t si = topic_seg_for_offset(t, from); si < t->nsegs; si++) {
		struct segment *s = &t->segs[si];
		struct seg_iter it;
		struct seg_msg m;
		int rc;
		seg_iter_init(&it, s, from);
		while ((rc = seg_iter_next(&it, &m)) != 0) {
			/*
			 * Only an intact message may raise a mark: one flipped
			 * bit in an origin offset would otherwise make every
			 * later message of that origin look old (silent loss).
			 * Offsets past INT64_MAX cannot be real ones.
			 */
			if (rc == -EBADMSG) {
				topic_note_damage(t, m.offset);
				log_warn("topic %s: segment %020" PRIu64 " is damaged at offset %" PRIu64
					 "; the messages there read as EIO", t->base.name, s->base_offset, m.offset);
				continue;
			}
			if (rc < 0) {
				seg_iter_free(&it);
				return rc;
			}
			if (m.origin_offset > INT64_MAX)
				continue;
			if (m.origin_idx < t->norigins) {
				struct topic_origin *o = &t->origins[m.origin_idx];
				if (!o->seen || m.origin_offset > o->hwm) {
					o->hwm = m.origin_offset;
					o->seen = true;
				}
			}
		}
		seg_iter_free(&it);
	}
	return 0;
}

/* The index of origin (STREAM, TOPIC) in T's table, or -1; lock held.
 * HINT is tried first (consecutive messages share their origin). */
int topic_origin_find(const struct log_topic *t, const uuid_t stream, const uuid_t topic, int hint)
{
	LOCK_ASSERT_RWLOCK_HELD(&t->lock);
	return marks_find(t->origins, t->norigins, stream, topic, hint);
}

/* The batch checks of fs/marks.h against T's table. Lock held. */
int topic_check_batch(const struct log_topic *t, const struct topic_msg *msgs, size_t n,
		      char *err, size_t errlen)
{
	LOCK_ASSERT_RWLOCK_HELD(&t->lock);
	return marks_check_batch(t->origins, t->norigins, t->base.name, t->base.stream_uuid,
				 t->opts->max_origins, msgs, n, err, errlen);
}

