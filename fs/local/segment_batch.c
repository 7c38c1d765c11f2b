/*
 * segment_batch.c - the version-2 segment format (segment.h): batches, and
 * the message iterator over either format.
 *
 * Design. A reader of a topic wants the topic file's bytes: every message
 * followed by '\n'. Version 1 stored records (header, payload) and built
 * those bytes on every read; version 2 stores them as they are, so a read
 * is one pread of the data file, and keeps what readers do not see
 * (offsets, origins, timestamps, checksums) in the index, one entry per
 * batch: the messages of one write(), or a run of a replicated batch with
 * one origin, consecutive origin offsets and one timestamp. Kafka keeps one
 * header per record batch for the same reason (docs/storage.md).
 *
 * Layout (integers little-endian):
 *   NNN.seg  32-byte header (magic "SFSSEG\0\0", version 2, header size,
 *            base offset, base position in the topic file), then the
 *            batches' bytes back to back: the topic file's bytes from the
 *            base position on.
 *   NNN.idx  16-byte header (magic "SFSIDX\0\0", version 2, entry size 64),
 *            then one entry per batch, in offset order:
 *     off size field
 *       0    8 offset         topic offset of the batch's first message
 *       8    8 filepos        data-file position of its first byte
 *      16    4 len            bytes (its messages, each with its '\n')
 *      20    4 count          messages
 *      24    8 origin_offset  origin offset of the first; message k: + k
 *      32    8 timestamp_ns   append time at the origin, ns since the epoch
 *      40    2 origin_idx     index into the topic's .origins
 *      42    6 reserved       zero
 *      48    8 checksum       XXH3-64 (seed 0) of the batch's LEN bytes
 *      56    8 entry_sum      XXH3-64 (seed 0) of bytes 0..55 of the entry
 *
 * Invariants (checked at open for the last segment, asserted on append):
 *  - entry i+1 starts where entry i ends (filepos + len, offset + count);
 *    entry 0 starts at SEG_HDR_SIZE and the segment's base offset;
 *  - a batch holds exactly COUNT '\n' bytes and ends with one (the iterator
 *    checks it; a batch that breaks it is damaged);
 *  - an append writes the data, then the entries: a crash leaves data
 *    without an entry (cut at the next open), never an entry without data.
 *
 * Unlike version 1, the index cannot be rebuilt from the data: it alone
 * holds origins and checksums. A segment with data and no valid index
 * header refuses its topic (-EPROTO, logged) rather than serve messages
 * without origins.
 *
 * Checks. A batch is checked against its checksum before this process
 * first serves it (segment_check) and whenever the iterator reads it for
 * replication; batches this process appended count as checked. So a warm
 * reader costs one pread, and damage on disk is found by the first read of
 * each daemon run.
 */
#include "segment.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "logging.h"
#include "util/byteorder.h"
#include "util/fileio.h"

/* The buffer a check reads data through, bytes. */
#define CHECK_BUF (256u << 10)

static void entry_encode(uint8_t *e, const struct seg_batch *b)
{
	memset(e, 0, BATCH_ENTRY_SIZE);
	put_le64(e, b->offset);
	put_le64(e + 8, b->filepos);
	put_le32(e + 16, b->len);
	put_le32(e + 20, b->count);
	put_le64(e + 24, b->origin_offset);
	put_le64(e + 32, b->timestamp_ns);
	put_le16(e + 40, b->origin_idx);
	put_le64(e + 48, b->checksum);
	put_le64(e + 56, XXH3_64bits(e, 56));
}

/* Decode entry E into *B; false if it fails its own checksum. */
static bool entry_decode(const uint8_t *e, struct seg_batch *b)
{
	b->offset = get_le64(e);
	b->filepos = get_le64(e + 8);
	b->len = get_le32(e + 16);
	b->count = get_le32(e + 20);
	b->origin_offset = get_le64(e + 24);
	b->timestamp_ns = get_le64(e + 32);
	b->origin_idx = get_le16(e + 40);
	b->checksum = get_le64(e + 48);
	return get_le64(e + 56) == XXH3_64bits(e, 56);
}

int segment_batch_read(const struct segment *s, uint64_t i, struct seg_batch *out)
{
	uint8_t e[BATCH_ENTRY_SIZE];
	int rc = pread_full(s->idx_fd, e, sizeof(e), IDX_HDR_SIZE + i * BATCH_ENTRY_SIZE);
	if (rc < 0)
		return rc;
	return entry_decode(e, out) ? 0 : -EBADMSG;
}

int64_t segment_batch_find(const struct segment *s, int key, uint64_t v)
{
	uint64_t lo = 0, hi = s->idx_count; /* answer in [lo, hi) */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2, j = mid;
		struct seg_batch e;
		int rc;
		/* The first intact entry from MID on, before HI. */
		while ((rc = segment_batch_read(s, j, &e)) == -EBADMSG && j + 1 < hi)
			j++;
		if (rc == -EBADMSG)
			rc = 0, j = hi; /* none: the answer is before MID */
		if (rc < 0)
			return rc;
		if (j < hi && (key ? e.filepos : e.offset) <= v)
			lo = j;
		else
			hi = mid;
	}
	return (int64_t)lo;
}

/* Where a check copies the bytes of [FROM, TO) it reads (segment_check):
 * DST[0 .. FILLED) holds [FROM, FROM + FILLED). */
struct copy_out {
	uint8_t *dst;
	uint64_t from, to, filled;
};

/* XXH3-64 of the LEN data bytes at POS, read through BUF (CHECK_BUF),
 * copying what falls in C's range (C may be NULL). */
static int data_sum(const struct segment *s, uint64_t pos, uint64_t len,
		    uint8_t *buf, uint64_t *sum, struct copy_out *c)
{
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	while (len) {
		size_t n = len < CHECK_BUF ? (size_t)len : CHECK_BUF;
		int rc = pread_full(s->fd, buf, n, pos);
		if (rc < 0)
			return rc;
		XXH3_64bits_update(&st, buf, n);
		if (c) {
			uint64_t lo = pos > c->from ? pos : c->from;
			uint64_t hi = pos + n < c->to ? pos + n : c->to;
			if (lo < hi && lo == c->from + c->filled) {
				memcpy(c->dst + (lo - c->from), buf + (lo - pos), hi - lo);
				c->filled = hi - c->from;
			}
		}
		pos += n;
		len -= n;
	}
	*sum = XXH3_64bits_digest(&st);
	return 0;
}

/* Does batch E lie wholly inside S's data (DATA_END bytes)? */
static bool batch_in_file(const struct seg_batch *e, uint64_t data_end)
{
	return e->len > 0 && e->count > 0 && e->count <= e->len &&
	       e->filepos >= SEG_HDR_SIZE && e->filepos <= data_end &&
	       e->len <= data_end - e->filepos;
}

/* Does batch E lie inside S's data and match its checksum? 1, 0 or -errno.
 * Bytes in C's range are copied there (C may be NULL). */
static int batch_ok(const struct segment *s, const struct seg_batch *e,
		    uint64_t data_end, uint8_t *buf, struct copy_out *c)
{
	if (!batch_in_file(e, data_end))
		return 0;
	uint64_t sum;
	int rc = data_sum(s, e->filepos, e->len, buf, &sum, c);
	if (rc == -ENODATA)
		return 0;
	if (rc < 0)
		return rc;
	return sum == e->checksum;
}

/* XXH3-64 of the LEN data bytes at POS (read through BUF) and the number
 * of '\n' in them; 0 with *LINES 0 unless they end with one. */
static int data_lines(const struct segment *s, uint64_t pos, uint64_t len,
		      uint8_t *buf, uint64_t *sum, uint64_t *lines)
{
	XXH3_state_t st;
	XXH3_64bits_reset(&st);
	uint8_t last = 0;
	*lines = 0;
	while (len) {
		size_t n = len < CHECK_BUF ? (size_t)len : CHECK_BUF;
		int rc = pread_full(s->fd, buf, n, pos);
		if (rc < 0)
			return rc;
		XXH3_64bits_update(&st, buf, n);
		for (const uint8_t *p = buf; (p = memchr(p, '\n', buf + n - p)); p++)
			(*lines)++;
		last = buf[n - 1];
		pos += n;
		len -= n;
	}
	if (last != '\n')
		*lines = 0;
	*sum = XXH3_64bits_digest(&st);
	return 0;
}

int segment_open_batches(int dirfd, const char *name, bool last,
			 const char *topic_name, struct segment *out)
{
	uint8_t ihdr[IDX_HDR_SIZE];
	char iname[32];
	struct stat st, ist;
	uint8_t *buf = NULL;
	int rc;

	segment_name(iname, out->base_offset, true);
	out->idx_fd = openat(dirfd, iname, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (out->idx_fd < 0)
		return -errno;
	if (fstat(out->fd, &st) < 0 || fstat(out->idx_fd, &ist) < 0)
		return -errno;
	if (pread_full(out->idx_fd, ihdr, sizeof(ihdr), 0) < 0 ||
	    memcmp(ihdr, idx_magic, 8) != 0 || get_le32(ihdr + 8) != SEG_FORMAT_BATCHES ||
	    get_le32(ihdr + 12) != BATCH_ENTRY_SIZE) {
		if ((uint64_t)st.st_size > SEG_HDR_SIZE) {
			log_error("topic %s: segment %s holds messages but its index %s is missing or damaged; refusing to serve them without their origins",
				  topic_name, name, iname);
			return -EPROTO;
		}
		/* Created, the index header not yet written: start it again. */
		memset(ihdr, 0, sizeof(ihdr));
		memcpy(ihdr, idx_magic, 8);
		put_le32(ihdr + 8, SEG_FORMAT_BATCHES);
		put_le32(ihdr + 12, BATCH_ENTRY_SIZE);
		if (ftruncate(out->idx_fd, 0) < 0)
			return -errno;
		if ((rc = pwrite_full(out->idx_fd, ihdr, sizeof(ihdr), 0)) < 0)
			return rc;
		ist.st_size = IDX_HDR_SIZE;
	}
	uint64_t n = (uint64_t)ist.st_size > IDX_HDR_SIZE ?
		((uint64_t)ist.st_size - IDX_HDR_SIZE) / BATCH_ENTRY_SIZE : 0;
	out->idx_count = n;
	out->size = st.st_size;
	out->verified = SEG_HDR_SIZE;
	out->verified_idx = 0;
	out->verified_off = out->base_offset;
	if (!last)
		return 0; /* end_* come from the next segment (fs/local/logtopic.c) */

	/* The last segment: keep the longest run of entries whose last one
	 * follows its predecessor and holds its batch; the rest is torn. */
	if (!(buf = malloc(CHECK_BUF)))
		return -ENOMEM;
	struct seg_batch e = { 0 };
	uint64_t dropped = 0; /* torn entries, or entries past the data */
	uint64_t end = SEG_HDR_SIZE, end_off = out->base_offset;
	while (n) {
		/* Where the entry before this one ends (all of it intact). */
		struct seg_batch prev;
		uint64_t prev_end = SEG_HDR_SIZE, prev_off = out->base_offset;
		int prc = n == 1 ? 0 : segment_batch_read(out, n - 2, &prev);
		if (prc < 0 && prc != -EBADMSG && prc != -ENODATA) {
			rc = prc;
			goto out;
		}
		if (n > 1 && prc == 0) {
			prev_end = prev.filepos + prev.len;
			prev_off = prev.offset + prev.count;
		}
		rc = segment_batch_read(out, n - 1, &e);
		if (rc < 0 && rc != -EBADMSG && rc != -ENODATA)
			goto out;
		if (rc == 0 && batch_in_file(&e, st.st_size) &&
		    (prc == 0 ? e.filepos == prev_end && e.offset == prev_off : true)) {
			/*
			 * The data is written before its entry: a whole entry
			 * over whole data is no torn write. If the batch fails
			 * its checksum it was damaged in place: keep it (reads
			 * of it fail with EIO) rather than cut acknowledged
			 * messages. After an entry damaged in place (PRC), the
			 * batch's own checksum must vouch for it.
			 */
			rc = batch_ok(out, &e, st.st_size, buf, NULL);
			if (rc < 0)
				goto out;
			if (rc == 1 || prc == 0) {
				if (rc == 0)
					log_warn("topic %s: segment %s: the batch at offset %" PRIu64
						 " fails its checksum; kept, reads of it fail with EIO",
						 topic_name, name, e.offset);
				end = e.filepos + e.len;
				end_off = e.offset + e.count;
				break;
			}
		} else if (rc == -EBADMSG && prc == 0 &&
			   (uint64_t)st.st_size > prev_end) {
			/*
			 * A whole entry that fails its own sum: torn by a power
			 * cut, or damaged in place. In place if the checksum it
			 * holds still matches everything after the entry before
			 * it, lines ending in '\n': then it was written whole,
			 * after its data. Keep both (reads of the batch fail
			 * with EIO); its messages are the lines.
			 */
			uint64_t sum, lines = 0;
			int drc = data_lines(out, prev_end, st.st_size - prev_end, buf, &sum, &lines);
			if (drc < 0 && drc != -ENODATA) {
				rc = drc;
				goto out;
			}
			if (drc == 0 && lines && sum == e.checksum) {
				log_warn("topic %s: segment %s: the index entry of the batch at offset %" PRIu64
					 " is damaged; kept, reads of the batch fail with EIO",
					 topic_name, name, prev_off);
				end = st.st_size;
				end_off = prev_off + lines;
				break;
			}
		}
		dropped++;
		n--;
	}
	rc = 0;
	if ((uint64_t)ist.st_size != IDX_HDR_SIZE + n * BATCH_ENTRY_SIZE &&
	    ftruncate(out->idx_fd, IDX_HDR_SIZE + n * BATCH_ENTRY_SIZE) < 0) {
		rc = -errno;
		goto out;
	}
	out->idx_count = n;
	if ((uint64_t)st.st_size > end || dropped ||
	    (uint64_t)ist.st_size != IDX_HDR_SIZE + n * BATCH_ENTRY_SIZE) {
		log_warn("topic %s: segment %s: cut a torn tail of %" PRIu64
			 " bytes and %" PRIu64 " index entries (%" PRIu64 " index bytes) at file position %" PRIu64
			 " (offset %" PRIu64 ")", topic_name, name,
			 (uint64_t)st.st_size > end ? (uint64_t)st.st_size - end : 0,
			 dropped, (uint64_t)ist.st_size - (IDX_HDR_SIZE + n * BATCH_ENTRY_SIZE),
			 end, end_off);
	}
	if ((uint64_t)st.st_size > end) {
		if (ftruncate(out->fd, end) < 0) {
			rc = -errno;
			goto out;
		}
	}
	out->size = end;
	out->end_offset = end_off;
	out->end_vpos = out->base_vpos + (end - SEG_HDR_SIZE);
out:
	free(buf);
	return rc;
}

int segment_append_batches(struct segment *s, const uint8_t *data, size_t len,
			   struct seg_batch *b, size_t nb)
{
	assert(s->version == SEG_FORMAT_BATCHES);
	uint8_t *ents = malloc(nb ? nb * BATCH_ENTRY_SIZE : 1);
	if (!ents)
		return -ENOMEM;
	uint64_t pos = 0, off = s->end_offset;
	for (size_t i = 0; i < nb; i++) {
		assert(b[i].len > 0 && b[i].count > 0 && pos + b[i].len <= len);
		assert(data[pos + b[i].len - 1] == '\n');
		b[i].offset = off;
		b[i].filepos = s->size + pos;
		b[i].checksum = XXH3_64bits(data + pos, b[i].len);
		entry_encode(ents + i * BATCH_ENTRY_SIZE, &b[i]);
		off += b[i].count;
		pos += b[i].len;
	}
	assert(pos == len);
	int rc = pwrite_full(s->fd, data, len, s->size);
	if (rc == 0)
		rc = pwrite_full(s->idx_fd, ents, nb * BATCH_ENTRY_SIZE,
				 IDX_HDR_SIZE + s->idx_count * BATCH_ENTRY_SIZE);
	free(ents);
	if (rc < 0) {
		/* All or nothing: cut back whatever part reached the files. */
		if (ftruncate(s->fd, s->size) < 0 ||
		    ftruncate(s->idx_fd, IDX_HDR_SIZE + s->idx_count * BATCH_ENTRY_SIZE) < 0)
			log_error("segment %020" PRIu64 ": cannot cut back a failed append: %s",
				  s->base_offset, strerror(errno));
		return rc;
	}
	/* Written from our own checked buffer: as good as checked. */
	bool all_checked = __atomic_load_n(&s->verified, __ATOMIC_ACQUIRE) == s->size;
	s->idx_count += nb;
	s->size += len;
	s->end_offset = off;
	s->end_vpos += len;
	if (all_checked) {
		s->verified_idx = s->idx_count;
		s->verified_off = s->end_offset;
		__atomic_store_n(&s->verified, s->size, __ATOMIC_RELEASE);
	}
	return 0;
}

int segment_check(struct segment *s, uint64_t from, uint64_t to, uint8_t *copy,
		  uint64_t *copied, uint64_t *good_end, uint64_t *bad_offset)
{
	uint8_t *buf = NULL;
	struct seg_batch e;
	int rc = 0;
	*good_end = to;
	*bad_offset = UINT64_MAX;
	if (to > s->size)
		to = *good_end = s->size;
	struct copy_out c = { copy, from, to, 0 }, *cp = copy ? &c : NULL;
	*copied = 0;
	/* Advance the checked prefix as far as TO, stopping at a damage. */
	while (s->verified < to && s->verified_idx < s->idx_count) {
		if (!buf && !(buf = malloc(CHECK_BUF)))
			return -ENOMEM;
		rc = segment_batch_read(s, s->verified_idx, &e);
		if (rc == -EBADMSG || rc == -ENODATA) {
			rc = 0;
			break; /* the entry itself is damaged */
		}
		if (rc < 0)
			goto out;
		if (e.filepos != s->verified || e.offset != s->verified_off)
			break;
		rc = batch_ok(s, &e, s->size, buf, cp);
		if (rc < 0)
			goto out;
		if (rc == 0)
			break;
		rc = 0;
		*copied = c.filled;
		s->verified_idx++;
		s->verified_off = e.offset + e.count;
		__atomic_store_n(&s->verified, e.filepos + e.len, __ATOMIC_RELEASE);
	}
	if (s->verified >= to)
		goto out;
	if (from < s->verified) {
		*good_end = s->verified;
		*bad_offset = s->verified_off;
		goto out;
	}
	if (from >= s->checked_from && to <= s->checked_to)
		goto out; /* checked one by one before */
	/* Past a damage: check the batches of [from, to) one by one. */
	if (!buf && !(buf = malloc(CHECK_BUF)))
		return -ENOMEM;
	int64_t i = segment_batch_find(s, 1, from);
	if (i < 0) {
		rc = (int)i;
		goto out;
	}
	/* Where the batches found so far end: FROM must lie in the first. */
	uint64_t pos = UINT64_MAX, off = s->verified_off;
	for (uint64_t k = (uint64_t)i; k < s->idx_count; k++) {
		rc = segment_batch_read(s, k, &e);
		if (rc == -EBADMSG || rc == -ENODATA) {
			/* A damaged entry: its batch cannot be vouched for. */
			rc = 0;
			*good_end = pos != UINT64_MAX && pos > from ? pos : from;
			*bad_offset = off;
			goto out;
		}
		if (rc < 0)
			goto out;
		if (e.filepos >= to)
			break;
		if ((pos != UINT64_MAX && e.filepos != pos) ||
		    (pos == UINT64_MAX && e.filepos + e.len <= from)) {
			/* A gap: FROM (or what follows) lies in a batch whose
			 * entry is damaged. */
			*good_end = pos != UINT64_MAX && pos > from ? pos : from;
			*bad_offset = pos == UINT64_MAX ? e.offset + e.count : off;
			goto out;
		}
		rc = batch_ok(s, &e, s->size, buf, NULL);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			*good_end = e.filepos > from ? e.filepos : from;
			*bad_offset = e.offset;
			rc = 0;
			goto out;
		}
		rc = 0;
		if (e.filepos == s->checked_to)
			s->checked_to = e.filepos + e.len;
		else
			s->checked_from = e.filepos, s->checked_to = e.filepos + e.len;
		pos = e.filepos + e.len;
		off = e.offset + e.count;
	}
	if (pos != UINT64_MAX && pos < to) {
		/* The data goes on past the last intact entry: the batch of
		 * a damaged last entry. */
		*good_end = pos > from ? pos : from;
		*bad_offset = off;
	}
out:
	free(buf);
	return rc;
}

/* ---- the message iterator (either format) ------------------------------ */

void seg_iter_init(struct seg_iter *it, const struct segment *s, uint64_t from)
{
	memset(it, 0, sizeof(*it));
	it->s = s;
	it->next = from < s->base_offset ? s->base_offset : from;
	if (s->version == SEG_FORMAT_BATCHES) {
		int64_t i = segment_batch_find(s, 0, it->next);
		it->bi = i < 0 ? 0 : (uint64_t)i;
		if (it->bi == 0) {
			it->prev_end = s->base_offset;
			it->prev_known = true;
		}
	} else {
		struct seg_pos p;
		if (segment_find_offset(s, it->next, &p) < 0)
			p = (struct seg_pos){ s->base_offset, s->base_vpos, SEG_HDR_SIZE };
		seg_reader_init(&it->r, s, p.filepos, s->size);
		it->roff = p.offset;
	}
}

void seg_iter_free(struct seg_iter *it)
{
	seg_reader_free(&it->r);
	free(it->data);
	it->data = NULL;
	it->cap = 0;
}

static int iter_next_records(struct seg_iter *it, struct seg_msg *m)
{
	struct record_hdr h;
	const uint8_t *hb, *pl;
	for (;;) {
		int rc = seg_reader_next(&it->r, &h, &hb, &pl, false);
		if (rc <= 0) {
			it->done = true;
			m->offset = it->roff;
			return rc == -ENODATA ? -EBADMSG : rc;
		}
		uint64_t off = it->roff++;
		if (off < it->next)
			continue;
		it->next = off + 1;
		m->offset = off;
		if (!record_verify(hb, h.len))
			return -EBADMSG;
		m->origin_offset = h.origin_offset;
		m->timestamp_ns = h.timestamp_ns;
		m->origin_idx = h.origin_idx;
		m->payload = pl;
		m->len = h.len;
		return 1;
	}
}

/* Load entry it->bi and its data, checked, into the iterator. */
static int iter_load_batch(struct seg_iter *it, struct seg_msg *m)
{
	const struct segment *s = it->s;
	struct seg_batch e;
	/* No batch loaded until this one is: a failure below leaves none. */
	it->b.count = 0;
	it->k = 0;
	int rc = segment_batch_read(s, it->bi, &e);
	if (rc < 0 && rc != -EBADMSG && rc != -ENODATA)
		return rc;
	/* An intact entry that does not start where the one before it ended
	 * was damaged in place all the same (its checksum covers what it
	 * says, not that it says the right thing). */
	if (rc == 0 && it->prev_known && e.offset != it->prev_end)
		rc = -EBADMSG;
	if (rc < 0) {
		/* A damaged entry: its batch is lost to the reader. It starts
		 * where the batch before it ended (PREV_END); the next entry
		 * that follows on says where the messages go on. One that ends
		 * at or before NEXT is none of this reader's business. */
		uint64_t j = it->bi + 1, resume = s->end_offset;
		struct seg_batch nx;
		int nrc;
		while (j < s->idx_count && (nrc = segment_batch_read(s, j, &nx)) != 0) {
			if (nrc != -EBADMSG && nrc != -ENODATA)
				return nrc;
			j++;
		}
		if (j < s->idx_count)
			resume = nx.offset;
		it->bi = j;
		it->prev_known = false;
		if (resume <= it->next)
			return 0; /* before where this reader starts: skip it */
		m->offset = it->prev_end > it->next ? it->prev_end : it->next;
		it->next = resume;
		return -EBADMSG;
	}
	it->bi++;
	it->prev_end = e.offset + e.count;
	it->prev_known = true;
	if (e.offset + e.count <= it->next)
		return 0; /* wholly before where this reader is: skip it unread */
	m->offset = e.offset;
	if (!batch_in_file(&e, s->size)) {
		it->next = e.offset + e.count;
		return -EBADMSG;
	}
	if (it->cap < e.len) {
		uint8_t *d = realloc(it->data, e.len);
		if (!d)
			return -ENOMEM;
		it->data = d;
		it->cap = e.len;
	}
	rc = pread_full(s->fd, it->data, e.len, e.filepos);
	if (rc == -ENODATA)
		rc = -EBADMSG;
	if (rc == 0 && e.filepos + e.len > __atomic_load_n(&s->verified, __ATOMIC_ACQUIRE) &&
	    XXH3_64bits(it->data, e.len) != e.checksum)
		rc = -EBADMSG;
	/* The batch's lines must be exactly its messages. */
	if (rc == 0 && it->data[e.len - 1] != '\n')
		rc = -EBADMSG;
	if (rc < 0) {
		it->next = e.offset + e.count;
		return rc;
	}
	it->b = e;
	it->pos = 0;
	it->k = 0;
	return 0;
}

static int iter_next_batches(struct seg_iter *it, struct seg_msg *m)
{
	for (;;) {
		if (it->k == it->b.count) {
			if (it->bi >= it->s->idx_count) {
				it->done = true;
				return 0;
			}
			int rc = iter_load_batch(it, m);
			if (rc < 0)
				return rc;
			continue;
		}
		const uint8_t *p = it->data + it->pos;
		const uint8_t *nl = memchr(p, '\n', it->b.len - it->pos);
		uint64_t off = it->b.offset + it->k;
		bool last = it->k + 1 == it->b.count;
		if (!nl || (last && (size_t)(nl - it->data) + 1 != it->b.len)) {
			/* Fewer or more lines than the entry says. */
			m->offset = it->b.offset;
			it->next = it->b.offset + it->b.count;
			it->b.count = 0;
			it->k = 0; /* nothing of it is left to yield */
			return -EBADMSG;
		}
		it->pos = (size_t)(nl - it->data) + 1;
		it->k++;
		if (off < it->next)
			continue;
		if (off >= it->s->end_offset) {
			/* Past the segment's end: an index entry that says so was
			 * damaged; nothing past the end is ever yielded. */
			it->done = true;
			return 0;
		}
		it->next = off + 1;
		m->offset = off;
		m->origin_offset = it->b.origin_offset + (it->k - 1);
		m->timestamp_ns = it->b.timestamp_ns;
		m->origin_idx = it->b.origin_idx;
		m->payload = p;
		m->len = (uint32_t)(nl - p);
		return 1;
	}
}

int seg_iter_next(struct seg_iter *it, struct seg_msg *m)
{
	/* The segment's own end (its records, its index) stops the walk, not
	 * end_offset: offsets of a damaged log may wrap (a base near 2^64),
	 * and the marks must still be rebuilt from every intact message. */
	if (it->done)
		return 0;
	if (it->s->broken) {
		it->done = true;
		m->offset = it->next;
		return -EBADMSG;
	}
	if (it->s->version == SEG_FORMAT_BATCHES)
		return iter_next_batches(it, m);
	return iter_next_records(it, m);
}
