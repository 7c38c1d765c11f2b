/*
 * logtopic_append.c - the two ways messages enter a local log topic (the
 * append_local and append_replicated operations of fs/topic.h): local
 * appends (this topic as their origin, origin offsets dense from 0) and
 * replicated batches (applied under the per-origin high-water marks,
 * exactly once, after topic_check_batch), both all or nothing, with group
 * commit for the fsync = always policy. Appends hold the topic's lock
 * exclusively; the sync runs under sync_mu without it.
 */
#define _GNU_SOURCE
#include "logtopic_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "logging.h"
#include "record.h"
#include "util/clock.h"
#include "util/lockcheck.h"

/* ---- appends ---------------------------------------------------------- */

/*
 * An append being built, in the format of the topic's segments
 * (topic_segment_version): version 1 records, or version 2 data with the
 * batches that cut it. Sized for every message up front.
 */
struct pending {
	uint32_t version;
	uint8_t *buf;		/* records, or data */
	size_t len;
	struct seg_batch *b;	/* version 2 */
	size_t nb;
	size_t nmsgs;
};

/* Room for N messages of PAYLOAD_BYTES in all. 0 or -ENOMEM. */
static int pending_init(struct pending *p, uint32_t version, size_t n, size_t payload_bytes)
{
	memset(p, 0, sizeof(*p));
	p->version = version;
	size_t cap = payload_bytes + n * (version == SEG_FORMAT_BATCHES ? 1 : RECORD_HDR_SIZE);
	p->buf = malloc(cap ? cap : 1);
	if (version == SEG_FORMAT_BATCHES)
		p->b = malloc((n ? n : 1) * sizeof(*p->b));
	if (!p->buf || (version == SEG_FORMAT_BATCHES && !p->b)) {
		free(p->buf);
		free(p->b);
		return -ENOMEM;
	}
	return 0;
}

static void pending_free(struct pending *p)
{
	free(p->buf);
	free(p->b);
}

/* Add one message. Version 2 extends the last batch when the message
 * follows it: same origin, the next origin offset, the same time, room. */
static void pending_add(struct pending *p, const void *payload, uint32_t len,
			uint16_t origin_idx, uint64_t origin_offset, uint64_t ts)
{
	p->nmsgs++;
	if (p->version != SEG_FORMAT_BATCHES) {
		struct record_hdr h = {
			.len = len,
			.origin_offset = origin_offset,
			.timestamp_ns = ts,
			.origin_idx = origin_idx,
		};
		if (len)
			memcpy(p->buf + p->len + RECORD_HDR_SIZE, payload, len);
		record_encode(p->buf + p->len, &h);
		p->len += RECORD_HDR_SIZE + (size_t)len;
		return;
	}
	if (len)
		memcpy(p->buf + p->len, payload, len);
	p->buf[p->len + len] = '\n';
	p->len += (size_t)len + 1;
	struct seg_batch *last = p->nb ? &p->b[p->nb - 1] : NULL;
	if (last && last->origin_idx == origin_idx && last->timestamp_ns == ts &&
	    last->origin_offset + last->count == origin_offset &&
	    (uint64_t)last->len + len + 1 <= SEG_BATCH_BYTES) {
		last->len += len + 1;
		last->count++;
		return;
	}
	p->b[p->nb++] = (struct seg_batch){
		.len = len + 1,
		.count = 1,
		.origin_offset = origin_offset,
		.timestamp_ns = ts,
		.origin_idx = origin_idx,
	};
}

/*
 * Write append P at the end of the log, rolling to a new segment first if
 * the last one is full. Lock held exclusively.
 */
static int log_write(struct log_topic *t, struct pending *p)
{
	LOCK_ASSERT_WRLOCKED(&t->lock);
	int orc = topic_open_fds(t);
	if (orc < 0)
		return orc;
	struct segment *s = &t->segs[t->nsegs - 1];
	if (s->size > SEG_HDR_SIZE && s->size + p->len > t->opts->segment_bytes) {
		/* topic_sync only syncs the current segment: finish this one. */
		if (t->opts->fsync != SFS_FSYNC_OS &&
		    (fdatasync(s->fd) < 0 || fdatasync(s->idx_fd) < 0))
			return -errno;
		int rc = topic_add_segment(t, s->end_offset, s->end_vpos);
		if (rc < 0)
			return rc;
		s = &t->segs[t->nsegs - 1];
	}
	/* Segments are made in the topic's format (start_current_format). */
	assert(s->version == p->version);
	int rc = p->version == SEG_FORMAT_BATCHES ?
		segment_append_batches(s, p->buf, p->len, p->b, p->nb) :
		segment_append(s, p->buf, p->len, p->nmsgs);
	if (rc < 0)
		return rc;
	/* Stored and indexed; marks, checkpoint and acknowledgement to come. */
	FAULT_POINT("append-after-write");
	t->mtime_ns = now_ns();
	t->since_checkpoint += p->nmsgs;
	return 0;
}

/*
 * Write a checkpoint when due. Called after the marks of the messages just
 * written are raised: a checkpoint must never cover messages whose marks
 * it does not hold, or a crash would let them be applied twice.
 */
static void maybe_checkpoint(struct log_topic *t)
{
	if (t->since_checkpoint >= t->opts->checkpoint_every)
		topic_checkpoint_write(t);
}

int lt_sync(struct topic *g)
{
	struct log_topic *t = log_topic_of(g);
	int rc = 0;
	pthread_mutex_lock(&t->sync_mu);
	/* The lock is held across the sync so the descriptor budget cannot
	 * close the file under it; appenders wait and share the next sync. */
	pthread_rwlock_rdlock(&t->lock);
	uint64_t end = t->segs[t->nsegs - 1].end_offset;
	if (t->synced_upto < end) {
		rc = topic_open_fds(t);
		/* Version 2: the index holds the origins, it must last too. */
		const struct segment *s = &t->segs[t->nsegs - 1];
		if (rc == 0 && (fdatasync(s->fd) < 0 ||
				(s->version == SEG_FORMAT_BATCHES && fdatasync(s->idx_fd) < 0)))
			rc = -errno;
		if (rc == 0)
			t->synced_upto = end;
	}
	pthread_rwlock_unlock(&t->lock);
	pthread_mutex_unlock(&t->sync_mu);
	return rc;
}

/* After an append of messages up to UPTO: wake replication, and with the
 * strict policy return only once they are durable. */
static int appended(struct log_topic *t, uint64_t upto)
{
	int rc = 0;
	if (t->opts->fsync == SFS_FSYNC_ALWAYS) {
		pthread_mutex_lock(&t->sync_mu);
		bool done = t->synced_upto >= upto;
		pthread_mutex_unlock(&t->sync_mu);
		if (!done)
			rc = lt_sync(&t->base);
	}
	if (t->base.on_append)
		t->base.on_append(t->base.on_append_arg);
	return rc;
}

int lt_append_local(struct topic *g, const struct iovec *msgs, size_t n)
{
	struct log_topic *t = log_topic_of(g);
	if (n == 0)
		return 0;
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += msgs[i].iov_len;
	struct pending p;
	int rc = pending_init(&p, topic_segment_version(t), n, len);
	if (rc < 0)
		return rc;
	uint64_t offset = 0;
	pthread_rwlock_wrlock(&t->lock);
	if (t->deleted) {
		rc = -ENOENT;
		goto out;
	}
	if (t->local_idx < 0) {
		rc = topic_origin_index(t, t->base.stream_uuid, t->base.uuid);
		if (rc == -EOVERFLOW)
			log_warn("topic %s: its origin table is full (%d origins): append refused",
				 t->base.name, MAX_ORIGINS);
		if (rc < 0)
			goto out;
		t->local_idx = rc;
	}
	offset = t->segs[t->nsegs - 1].end_offset;
	/* Origin offsets of this topic's own messages are dense from 0: one
	 * more than the last one's, so that a receiver can tell a jump or a
	 * late start (a forgery, topic_check_batch). */
	struct topic_origin *lo = &t->origins[t->local_idx];
	uint64_t seq = lo->seen ? lo->hwm + 1 : 0;
	/* Origin offsets stay at or below 2^63 - 1 (what start-up believes
	 * of a record): past that, refuse rather than store marks that a
	 * restart would forget. 2^63 messages are never reached by counting;
	 * only a damaged log gets here. */
	if (seq > (uint64_t)INT64_MAX || n - 1 > (uint64_t)INT64_MAX - seq) {
		log_warn("topic %s: its own origin offsets are exhausted (next %" PRIu64 "): append refused",
			 t->base.name, seq);
		rc = -EOVERFLOW;
		goto out;
	}
	uint64_t ts = now_ns();
	for (size_t i = 0; i < n; i++)
		pending_add(&p, msgs[i].iov_base, (uint32_t)msgs[i].iov_len,
			    (uint16_t)t->local_idx, seq + i, ts);
	rc = log_write(t, &p);
	if (rc == 0) {
		struct topic_origin *o = &t->origins[t->local_idx];
		o->hwm = seq + n - 1;
		o->seen = true;
		maybe_checkpoint(t);
	}
out:
	pthread_rwlock_unlock(&t->lock);
	pending_free(&p);
	if (rc == 0)
		rc = appended(t, offset + n);
	return rc;
}

int lt_append_replicated(struct topic *g, const struct topic_msg *msgs,
			    size_t n, size_t *applied, char *err, size_t errlen)
{
	struct log_topic *t = log_topic_of(g);
	size_t len = 0, kept = 0;
	uint64_t upto = 0;
	for (size_t i = 0; i < n; i++)
		len += msgs[i].len;
	struct pending p;
	/* Marks as they would be after this batch; committed only on success. */
	uint64_t *newhwm = NULL;
	bool *touched = NULL;
	if (applied)
		*applied = 0;
	int rc = pending_init(&p, topic_segment_version(t), n, len);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&t->lock);
	if (t->deleted) {
		rc = -ENOENT;
		goto out;
	}
	/* Nothing of a batch that cannot be true, not even its origins. */
	char why[512];
	if ((rc = topic_check_batch(t, msgs, n, why, sizeof(why))) < 0) {
		if (err)
			snprintf(err, errlen, "%s",
				 rc == -EPROTO || rc == -ENODATA ? why : strerror(-rc));
		goto out;
	}
	/* Resolve origins first: adding one may fail, and must precede use. */
	int *idx = NULL;
	idx = malloc((n ? n : 1) * sizeof(*idx));
	if (!idx) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		/* Real offsets stay below 2^63; the checkpoint relies on it. */
		if (msgs[i].origin_offset > INT64_MAX) {
			free(idx);
			rc = -EINVAL;
			goto out;
		}
		rc = topic_origin_index(t, msgs[i].origin_stream, msgs[i].origin_topic);
		if (rc < 0) {
			free(idx);
			goto out;
		}
		idx[i] = rc;
	}
	rc = 0;
	newhwm = malloc((t->norigins ? t->norigins : 1) * sizeof(*newhwm));
	touched = calloc(t->norigins ? t->norigins : 1, sizeof(*touched));
	if (!newhwm || !touched) {
		free(idx);
		rc = -ENOMEM;
		goto out;
	}
	bool *keep = malloc((n ? n : 1) * sizeof(*keep));
	if (!keep) {
		free(idx);
		rc = -ENOMEM;
		goto out;
	}
	/* Only what is new here: exactly once (fs/marks.h). */
	kept = marks_select(t->origins, t->norigins, idx, msgs, n, keep, newhwm, touched);
	for (size_t i = 0; i < n; i++)
		if (keep[i])
			pending_add(&p, msgs[i].payload, msgs[i].len, (uint16_t)idx[i],
				    msgs[i].origin_offset, msgs[i].timestamp_ns);
	free(keep);
	free(idx);
	upto = t->segs[t->nsegs - 1].end_offset + kept;
	if (kept) {
		rc = log_write(t, &p);
		if (rc == 0) {
			for (size_t i = 0; i < t->norigins; i++)
				if (touched[i]) {
					t->origins[i].hwm = newhwm[i];
					t->origins[i].seen = true;
				}
			maybe_checkpoint(t);
		}
	}
	if (rc == 0 && applied)
		*applied = kept;
out:
	pthread_rwlock_unlock(&t->lock);
	pending_free(&p);
	free(newhwm);
	free(touched);
	if (rc == 0 && kept)
		rc = appended(t, upto);
	return rc;
}

