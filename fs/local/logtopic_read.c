/*
 * logtopic_read.c - reading a local log topic (the read and read_batch
 * operations of fs/topic.h): the bytes of the topic file (one pread per
 * segment of format 2; records walked, with the read hint, in format 1)
 * and batches of messages with their origins for replication. Readers
 * hold the topic's lock shared; a segment's bytes never change once
 * written.
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

/* ---- reads ------------------------------------------------------------ */

/* A hint is worth following only this close before the wanted byte. */
#define HINT_REACH (256u << 10)

/*
 * The segment bytes to read ahead for the next BYTES of the topic file: that
 * many scaled by the segment's ratio of file bytes to topic-file bytes (the
 * record headers), plus a page of slack. A fixed 256 KiB window read 1.56x
 * the data a 128 KiB page-cache read needs (measured with /proc/PID/io).
 */
static size_t read_window(const struct segment *s, uint64_t bytes)
{
	uint64_t vspan = s->end_vpos - s->base_vpos;
	uint64_t fspan = s->size > SEG_HDR_SIZE ? s->size - SEG_HDR_SIZE : 0;
	uint64_t w = vspan ? bytes * fspan / vspan : bytes;
	w += RECORD_HDR_SIZE + 4096;
	return w > SEG_READER_WINDOW * 4 ? SEG_READER_WINDOW * 4 : (size_t)w;
}

/* With a hint, what a read leaves unused is kept for the next one: reads
 * of at least this much, so small read()s (wc reads 16 KiB) cost one
 * pread per this many bytes, not one each. */
#define HINT_MIN_WINDOW (128u << 10)

/* Lend the hint's buffer to reader R of segment S: its bytes if they are
 * of S, else only its memory. */
static void hint_lend(struct topic_read_hint *hint, struct seg_reader *r,
		      const struct segment *s)
{
	if (!hint || !hint->ahead)
		return;
	r->buf = hint->ahead;
	r->cap = hint->ahead_cap;
	if (hint->ahead_seg == s->base_offset) {
		r->buf_filepos = hint->ahead_filepos;
		r->buf_len = hint->ahead_len;
	}
	hint->ahead = NULL;
	hint->ahead_cap = hint->ahead_len = 0;
}

/* Take the reader's buffer back into the hint (or free it). */
static void hint_keep(struct topic_read_hint *hint, struct seg_reader *r,
		      const struct segment *s)
{
	if (!hint) {
		seg_reader_free(r);
		return;
	}
	free(hint->ahead);
	hint->ahead = r->buf;
	hint->ahead_cap = r->cap;
	hint->ahead_len = r->buf ? r->buf_len : 0;
	hint->ahead_filepos = r->buf_filepos;
	hint->ahead_seg = s->base_offset;
	r->buf = NULL;
	r->cap = 0;
}

/*
 * Bytes of the topic file from WANT out of version-2 segment S into BUF
 * (at most SIZE): one pread, after the batches they touch are known good.
 * Lock held shared. Returns the count (0 at the segment's end), -EIO for
 * a damaged batch at WANT (noted for .info), or a negative errno.
 */
static ssize_t read_batches(struct log_topic *t, struct segment *s, uint64_t want,
			    char *buf, size_t size)
{
	LOCK_ASSERT_RWLOCK_HELD(&t->lock);
	uint64_t from = SEG_HDR_SIZE + (want - s->base_vpos);
	if (from >= s->size)
		return 0;
	if (s->broken) {
		topic_note_damage(t, s->base_offset);
		return -EIO;
	}
	uint64_t to = s->size - from < size ? s->size : from + size;
	uint64_t copied = 0;
	if (__atomic_load_n(&s->verified, __ATOMIC_ACQUIRE) < to) {
		uint64_t good, bad;
		pthread_mutex_lock(&t->check_mu);
		int rc = segment_check(s, from, to, (uint8_t *)buf, &copied, &good, &bad);
		pthread_mutex_unlock(&t->check_mu);
		if (rc < 0)
			return rc;
		if (bad != UINT64_MAX && good == from) {
			log_warn("topic %s: the batch at offset %" PRIu64
				 " fails its checksum; read refused", t->base.name, bad);
			topic_note_damage(t, bad);
			return -EIO;
		}
		to = good;
		if (copied > to - from)
			copied = to - from;
	}
	/* What the check did not copy, read now. */
	int rc = pread_full(s->fd, buf + copied, (size_t)(to - from - copied), from + copied);
	return rc < 0 ? rc : (ssize_t)(to - from);
}

/*
 * Bytes of the topic file from WANT out of version-1 segment S into BUF (at
 * most SIZE), each record checked, with the read HINT (NULL: none). Lock
 * held shared. Returns the count, -EIO for a damaged record at WANT, or a
 * negative errno.
 */
static ssize_t read_records(struct log_topic *t, struct segment *s, uint64_t want,
			    char *buf, size_t size, struct topic_read_hint *hint)
{
	size_t done = 0;
	int rc = 0;
	struct seg_pos p;
	if (hint && hint->valid && hint->seg_base == s->base_offset &&
	    hint->vpos <= want && want - hint->vpos < HINT_REACH &&
	    hint->filepos <= s->size) {
		p.vpos = hint->vpos;
		p.filepos = hint->filepos;
		p.offset = hint->offset;
	} else if ((rc = segment_find_vpos(s, want, &p)) < 0) {
		return rc;
	}
	struct seg_reader r;
	struct record_hdr h;
	const uint8_t *hb, *pl;
	seg_reader_init(&r, s, p.filepos, s->size);
	hint_lend(hint, &r, s);
	uint64_t rv = p.vpos, off = p.offset, at = want;
	/* Sized once: a refill (an uneven estimate) reads that much more;
	 * with a hint, the rest is kept for the next read. */
	r.window = read_window(s, want - rv + size);
	if (hint && r.window < HINT_MIN_WINDOW)
		r.window = HINT_MIN_WINDOW;
	/* Records before WANT are only walked over: a bad one there is
	 * not this read's business (its own read reports it). */
	for (;;) {
		uint64_t fp = r.filepos;
		if (done >= size || (rc = seg_reader_next(&r, &h, &hb, &pl, false)) != 1)
			break;
		uint64_t rend = rv + h.len + 1;
		if (rend > want) {
			if (!record_verify(hb, h.len)) {
				rc = -EBADMSG;
				break;
			}
			uint64_t from = want - rv;
			while (from <= h.len && done < size) {
				size_t take = h.len - from;
				if (take > size - done)
					take = size - done;
				memcpy(buf + done, pl + from, take);
				done += take;
				from += take;
				if (from == h.len && done < size) {
					buf[done++] = '\n';
					from++;
				}
			}
			want = at + done;
			if (hint) {
				/* Stopped inside this record, or just after it. */
				bool inside = want < rend;
				hint->valid = true;
				hint->seg_base = s->base_offset;
				hint->vpos = inside ? rv : rend;
				hint->filepos = inside ? fp : r.filepos;
				hint->offset = inside ? off : off + 1;
			}
		}
		rv = rend;
		off++;
	}
	hint_keep(hint, &r, s);
	if (rc == -EBADMSG || rc == -ENODATA) {
		log_warn("topic %s: message at offset %" PRIu64
			 " fails its checksum; read refused",
			 t->base.name, off);
		topic_note_damage(t, off);
		rc = -EIO;
	}
	/* Bytes already copied are good; report the error on the next call. */
	if (rc < 0 && done == 0)
		return rc;
	return (ssize_t)done;
}

ssize_t lt_read(struct topic *g, uint64_t vpos, char *buf, size_t size,
		   struct topic_read_hint *hint)
{
	struct log_topic *t = log_topic_of(g);
	size_t done = 0;
	ssize_t rc = 0;
	pthread_rwlock_rdlock(&t->lock);
	uint64_t end = t->segs[t->nsegs - 1].end_vpos;
	if (vpos >= end || size == 0)
		goto out;
	if ((rc = topic_open_fds(t)) < 0)
		goto out;
	for (size_t si = topic_seg_for_vpos(t, vpos); si < t->nsegs && done < size; si++) {
		struct segment *s = &t->segs[si];
		uint64_t want = vpos + done;
		if (want >= s->end_vpos)
			continue;
		size_t room = size - done;
		if (s->end_vpos - want < room)
			room = (size_t)(s->end_vpos - want);
		if (s->version == SEG_FORMAT_BATCHES)
			rc = read_batches(t, s, want, buf + done, room);
		else
			rc = read_records(t, s, want, buf + done, room, hint);
		if (rc < 0)
			break;
		done += (size_t)rc;
		if ((size_t)rc < room)
			break; /* a damage ends what may be served */
	}
out:
	pthread_rwlock_unlock(&t->lock);
	/* At the end of the topic (or an error): nothing worth keeping. */
	if (hint && done < size)
		topic_read_hint_free(hint);
	/* Bytes already copied are good; report the error on the next call. */
	if (rc < 0 && done == 0)
		return rc;
	return (ssize_t)done;
}

int lt_read_batch(struct topic *g, uint64_t from, size_t max_msgs,
		     size_t max_bytes, struct topic_batch *b)
{
	struct log_topic *t = log_topic_of(g);
	int rc = 0;
	b->n = 0;
	b->data_len = 0;
	b->bytes = 0;
	b->next_offset = from;
	pthread_rwlock_rdlock(&t->lock);
	uint64_t end = t->segs[t->nsegs - 1].end_offset;
	if (from < end && (rc = topic_open_fds(t)) < 0)
		end = from; /* nothing read: rc tells why */
	for (size_t si = topic_seg_for_offset(t, from);
	     si < t->nsegs && b->next_offset < end && b->n < max_msgs &&
	     (b->n == 0 || b->bytes < max_bytes);
	     si++) {
		struct seg_iter it;
		struct seg_msg m;
		seg_iter_init(&it, &t->segs[si], b->next_offset);
		while (b->n < max_msgs && (b->n == 0 || b->bytes < max_bytes) &&
		       (rc = seg_iter_next(&it, &m)) == 1) {
			if ((rc = topic_batch_reserve(b, m.len)) < 0)
				break;
			struct topic_msg *tm = &b->msgs[b->n++];
			if (m.len)
				memcpy(b->data + b->data_len, m.payload, m.len);
			/* Payload pointers are fixed up below: data may move. */
			tm->payload = (const uint8_t *)(uintptr_t)b->data_len;
			tm->len = m.len;
			tm->offset = m.offset;
			tm->origin_offset = m.origin_offset;
			tm->timestamp_ns = m.timestamp_ns;
			if (m.origin_idx < t->norigins) {
				uuid_copy(tm->origin_stream, t->origins[m.origin_idx].stream);
				uuid_copy(tm->origin_topic, t->origins[m.origin_idx].topic);
			} else {
				uuid_clear(tm->origin_stream);
				uuid_clear(tm->origin_topic);
			}
			b->data_len += m.len;
			b->bytes += m.len;
			b->next_offset = m.offset + 1;
		}
		seg_iter_free(&it);
		if (rc == -EBADMSG) {
			log_warn("topic %s: message at offset %" PRIu64
				 " fails its checksum; not replicated",
				 t->base.name, m.offset);
			topic_note_damage(t, m.offset);
			rc = -EIO;
		}
		if (rc < 0)
			break;
		rc = 0;
	}
	pthread_rwlock_unlock(&t->lock);
	for (size_t i = 0; i < b->n; i++)
		b->msgs[i].payload = b->data + (uintptr_t)b->msgs[i].payload;
	return rc;
}

