/*
 * natsread.c - reads of a topic kept in NATS JetStream (natshome.h): a
 * byte position or an offset found in the chunk index this daemon keeps,
 * the bytes from the open file's last piece, the cluster's cache
 * (natscache.h) or a fetch by stream sequence (natsparts.c); the read and
 * read_batch operations of fs/topic.h (docs/nats.md, "What each daemon
 * caches").
 */
#include "natshome.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "logging.h"



/* The chunk holding byte VPOS (FIELD pos) or offset (FIELD off): the last
 * whose start is at or before it. mu held; TD->n > 0. */
static size_t find_chunk(const struct nats_tdata *td, uint64_t at, bool by_pos)
{
	size_t lo = 0, hi = td->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if ((by_pos ? td->c[mid].pos : td->c[mid].off) <= at)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Whether the open file of HINT, reading on at byte AT, read nothing a
 * rebuild of TD's index took away: the chunk holding its last byte read
 * is in the index read again, the same (sequence, time, position). A
 * loss takes the stream's last sequences only, so every chunk before it
 * is kept too. mu held; AT < TD->next_pos. */
static bool read_still_there(const struct nats_tdata *td, const struct topic_read_hint *hint,
			     uint64_t at)
{
	if (hint->epoch == UINT64_MAX || at == 0 || hint->last_end != at)
		return false;
	const struct nats_chunk *ch = &td->c[find_chunk(td, at - 1, true)];
	return ch->seq == hint->last_seq && ch->ts == hint->last_ts && ch->pos == hint->last_pos;
}

ssize_t nats_topic_read(struct topic *t, uint64_t vpos, char *buf, size_t size,
			struct topic_read_hint *hint)
{
	struct nats_topic *nt = nats_topic_of(t);
	struct nats_tdata *td = nt->td;
	size_t done = 0;
	while (done < size) {
		uint64_t at = vpos + done;
		pthread_mutex_lock(&td->mu);
		if (td->n == 0 || at >= td->next_pos) {
			pthread_mutex_unlock(&td->mu);
			break;
		}
		/* An open file that read what a rebuild then took away (its
		 * stream went back, natsseq.c) is told, not left reading on
		 * from its byte position into other lines: ESTALE, as NFS
		 * says of a file that is not the one opened any more. */
		if (hint && hint->valid && hint->epoch != td->gen &&
		    read_still_there(td, hint, at)) {
			/* Its stream lost other lines: it reads on. The piece
			 * it kept may be a lost one of a sequence given again. */
			hint->epoch = td->gen;
			topic_read_hint_free(hint);
		}
		if (hint && hint->valid && hint->epoch != td->gen) {
			pthread_mutex_unlock(&td->mu);
			if (hint->epoch != UINT64_MAX)
				log_warn("%s: an open file read lines its stream lost since "
					 "(docs/nats.md, Durability); it reads ESTALE", nats_topic_of(t)->path);
			hint->epoch = UINT64_MAX;
			topic_read_hint_free(hint);
			return done ? (ssize_t)done : -ESTALE;
		}
		if (hint && !hint->valid) {
			hint->valid = true; /* from now on, its reads are of TD->gen */
			hint->epoch = td->gen;
		}
		/* The chunk, or the part of it, that holds AT (natsparts.c). */
		struct nats_piece c;
		const struct nats_chunk *ch = &td->c[find_chunk(td, at, true)];
		nats_piece_at(ch, at, &c);
		size_t from = (size_t)(at - c.pos), k = c.len - from;
		if (k > size - done)
			k = size - done;
		if (hint) {
			hint->last_seq = ch->seq;
			hint->last_ts = ch->ts;
			hint->last_pos = ch->pos;
			hint->last_end = at + k;
		}
		pthread_mutex_unlock(&td->mu);
		/* The hint keeps the last piece read by this open file; the
		 * cluster's cache, pieces any reader fetched (natscache.h). */
		uint8_t *data = NULL;
		bool cached = hint && hint->valid && hint->ahead && hint->ahead_seg == c.seq;
		if (!cached &&
		    nats_cache_read(&nt->nc->cache, t->stream_uuid, c.seq, c.len, from, buf + done, k)) {
			done += k;
			continue;
		}
		if (cached) {
			data = hint->ahead;
		} else {
			if (!(data = malloc(c.len ? c.len : 1)))
				return done ? (ssize_t)done : -ENOMEM;
			int rc = nats_piece_fetch(nt, &c, data);
			if (rc < 0) {
				free(data);
				return done ? (ssize_t)done : rc == -ENOENT ? 0 : rc;
			}
			nats_cache_put(&nt->nc->cache, t->stream_uuid, c.seq, data, c.len);
			if (hint) {
				free(hint->ahead);
				hint->ahead = data;
				hint->ahead_cap = hint->ahead_len = c.len;
				hint->ahead_seg = c.seq;
				hint->ahead_filepos = c.pos;
				hint->valid = true;
			}
		}
		memcpy(buf + done, data + from, k);
		done += k;
		if (!hint)
			free(data);
	}
	return (ssize_t)done;
}

int nats_topic_read_batch(struct topic *t, uint64_t from, size_t max_msgs, size_t max_bytes,
			  struct topic_batch *b)
{
	struct nats_topic *nt = nats_topic_of(t);
	struct nats_tdata *td = nt->td;
	int rc = 0;
	b->n = 0;
	b->data_len = 0;
	b->bytes = 0;
	b->next_offset = from;
	while (b->n < max_msgs && (b->n == 0 || b->bytes < max_bytes)) {
		uint64_t at = b->next_offset;
		pthread_mutex_lock(&td->mu);
		if (td->n == 0 || at >= td->next_off) {
			pthread_mutex_unlock(&td->mu);
			break;
		}
		struct nats_chunk c = td->c[find_chunk(td, at, false)];
		struct nats_origin o = td->origins[c.origin];
		/* Its parts may go with the index (a removal) once unlocked. */
		bool nomem = c.parts && !(c.parts = nats_parts_dup(c.parts));
		pthread_mutex_unlock(&td->mu);
		uint8_t *data = NULL;
		if (nomem) {
			rc = -ENOMEM;
		} else if (!c.parts && (data = malloc(c.len ? c.len : 1)) &&
			   nats_cache_read(&nt->nc->cache, t->stream_uuid, c.seq, c.len, 0, data,
					   c.len)) {
			rc = 0; /* kept by the cache (natscache.h) */
		} else {
			free(data);
			data = NULL;
			rc = nats_chunk_fetch(nt, &c, &data);
			if (rc == 0 && !c.parts)
				nats_cache_put(&nt->nc->cache, t->stream_uuid, c.seq, data, c.len);
		}
		free(c.parts);
		if (rc < 0) {
			rc = rc == -ENOENT ? 0 : rc; /* the topic removed */
			break;
		}
		/* Its lines, from the one at offset AT. */
		const uint8_t *p = data, *end = data + c.len;
		for (uint64_t off = c.off; p < end && rc == 0; off++) {
			const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				rc = -EIO;
				break;
			}
			if (off >= at && b->n < max_msgs && (b->n == 0 || b->bytes < max_bytes)) {
				size_t len = (size_t)(nl - p);
				if ((rc = topic_batch_reserve(b, len)) < 0)
					break;
				struct topic_msg *tm = &b->msgs[b->n++];
				memcpy(b->data + b->data_len, p, len);
				tm->payload = (const uint8_t *)(uintptr_t)b->data_len;
				tm->len = (uint32_t)len;
				tm->offset = off;
				tm->origin_offset = c.origin_off + (off - c.off);
				tm->timestamp_ns = c.ts;
				uuid_copy(tm->origin_stream, o.stream);
				uuid_copy(tm->origin_topic, o.topic);
				b->data_len += len;
				b->bytes += len;
				b->next_offset = off + 1;
			}
			p = nl + 1;
		}
		free(data);
		if (rc < 0 || b->next_offset == at)
			break;
	}
	for (size_t i = 0; i < b->n; i++)
		b->msgs[i].payload = b->data + (uintptr_t)b->msgs[i].payload;
	return rc;
}
