/*
 * segment.c - one segment's data file and index (segment.h): creating and
 * opening either format, and the version-1 format of records with its
 * sparse index (version 2, batches, is fs/local/segment_batch.c).
 *
 * Appends write the data first and the index after: a crash between the two
 * leaves index entries missing, never pointing past the data, and
 * segment_open rebuilds them. An index entry that does point at garbage (the
 * OS lost data under it) is dropped on open for the same reason.
 */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logging.h"
#include "util/byteorder.h"
#include "util/fileio.h"

const uint8_t seg_magic[8] = { 'S', 'F', 'S', 'S', 'E', 'G', 0, 0 };
const uint8_t idx_magic[8] = { 'S', 'F', 'S', 'I', 'D', 'X', 0, 0 };

void segment_name(char *out, uint64_t base, bool idx)
{
	snprintf(out, 32, "%020" PRIu64 ".%s", base, idx ? "idx" : "seg");
}

int segment_create(int dirfd, uint64_t base_offset, uint64_t base_vpos,
		   uint32_t version, struct segment *out)
{
	char name[32], iname[32];
	uint8_t hdr[SEG_HDR_SIZE] = { 0 }, ihdr[IDX_HDR_SIZE] = { 0 };
	int rc;

	segment_name(name, base_offset, false);
	segment_name(iname, base_offset, true);
	memset(out, 0, sizeof(*out));
	out->fd = out->idx_fd = -1;
	if (version != SEG_FORMAT_RECORDS && version != SEG_FORMAT_BATCHES)
		return -EINVAL;

	memcpy(hdr, seg_magic, 8);
	put_le32(hdr + 8, version);
	put_le32(hdr + 12, SEG_HDR_SIZE);
	put_le64(hdr + 16, base_offset);
	put_le64(hdr + 24, base_vpos);
	memcpy(ihdr, idx_magic, 8);
	put_le32(ihdr + 8, version);
	put_le32(ihdr + 12, version == SEG_FORMAT_BATCHES ? BATCH_ENTRY_SIZE : IDX_ENTRY_SIZE);

	out->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (out->fd < 0) {
		rc = -errno;
		goto fail;
	}
	out->idx_fd = openat(dirfd, iname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (out->idx_fd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = pwrite_full(out->fd, hdr, sizeof(hdr), 0)) < 0 ||
	    (rc = pwrite_full(out->idx_fd, ihdr, sizeof(ihdr), 0)) < 0)
		goto fail;
	out->base_offset = out->end_offset = base_offset;
	out->base_vpos = out->end_vpos = base_vpos;
	out->size = SEG_HDR_SIZE;
	out->idx_count = 0;
	out->last_idx_filepos = 0;
	out->version = version;
	out->verified = SEG_HDR_SIZE;
	out->verified_off = base_offset;
	return 0;
fail:
	/* Remove only what this call created: never an existing segment. */
	if (out->fd >= 0)
		unlinkat(dirfd, name, 0);
	if (out->idx_fd >= 0)
		unlinkat(dirfd, iname, 0);
	segment_close(out);
	return rc;
}

void segment_close(struct segment *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->idx_fd >= 0)
		close(s->idx_fd);
	s->fd = s->idx_fd = -1;
}

static int idx_read(const struct segment *s, uint64_t i, struct seg_pos *e)
{
	uint8_t b[IDX_ENTRY_SIZE];
	int rc = pread_full(s->idx_fd, b, sizeof(b), IDX_HDR_SIZE + i * IDX_ENTRY_SIZE);
	if (rc < 0)
		return rc;
	e->offset = get_le64(b);
	e->vpos = get_le64(b + 8);
	e->filepos = get_le64(b + 16);
	return 0;
}

/*
 * Index the records of BUF (written at file position FILEPOS, first record
 * at offset OFFSET / vpos VPOS). Entries are batched into one pwrite. A
 * failure here is logged and otherwise ignored: the data is safe and the
 * next segment_open rebuilds what is missing.
 */
static void index_records(struct segment *s, const uint8_t *buf, size_t len,
			  uint64_t filepos, uint64_t offset, uint64_t vpos)
{
	uint8_t entries[64 * IDX_ENTRY_SIZE];
	size_t n = 0;
	uint64_t pos = 0;

	while (pos + RECORD_HDR_SIZE <= len) {
		uint32_t plen = get_le32(buf + pos + 4);
		uint64_t fp = filepos + pos;
		if (s->idx_count + n == 0 ||
		    fp - s->last_idx_filepos >= SEG_INDEX_INTERVAL) {
			uint8_t *e = entries + n * IDX_ENTRY_SIZE;
			put_le64(e, offset);
			put_le64(e + 8, vpos);
			put_le64(e + 16, fp);
			s->last_idx_filepos = fp;
			if (++n == 64) {
				if (pwrite_full(s->idx_fd, entries, n * IDX_ENTRY_SIZE,
					       IDX_HDR_SIZE + s->idx_count * IDX_ENTRY_SIZE) < 0)
					goto fail;
				s->idx_count += n;
				n = 0;
			}
		}
		offset++;
		vpos += (uint64_t)plen + 1;
		pos += RECORD_HDR_SIZE + (uint64_t)plen;
	}
	if (n) {
		if (pwrite_full(s->idx_fd, entries, n * IDX_ENTRY_SIZE,
			       IDX_HDR_SIZE + s->idx_count * IDX_ENTRY_SIZE) < 0)
			goto fail;
		s->idx_count += n;
	}
	return;
fail:
	/* Drop the in-memory view back to what is surely on disk. */
	log_warn("segment %020" PRIu64 ": index write failed (%s); it is rebuilt at next start",
		 s->base_offset, strerror(errno));
	if (s->idx_count) {
		struct seg_pos last;
		if (idx_read(s, s->idx_count - 1, &last) == 0)
			s->last_idx_filepos = last.filepos;
	}
}

int segment_append(struct segment *s, const uint8_t *buf, size_t len,
		   size_t nrecs)
{
	int rc = pwrite_full(s->fd, buf, len, s->size);
	if (rc < 0) {
		/* All or nothing: cut back whatever part reached the file. */
		if (ftruncate(s->fd, s->size) < 0)
			log_error("segment %020" PRIu64 ": cannot cut back a failed append: %s",
				  s->base_offset, strerror(errno));
		return rc;
	}
	uint64_t vlen = 0, pos = 0;
	for (size_t i = 0; i < nrecs; i++) {
		uint32_t plen = get_le32(buf + pos + 4);
		vlen += (uint64_t)plen + 1;
		pos += RECORD_HDR_SIZE + (uint64_t)plen;
	}
	index_records(s, buf, len, s->size, s->end_offset, s->end_vpos);
	s->size += len;
	s->end_offset += nrecs;
	s->end_vpos += vlen;
	return 0;
}

/* Binary search for the last entry whose KEY (0 offset, 1 vpos) <= V. */
static int idx_search(const struct segment *s, int key, uint64_t v,
		      struct seg_pos *out)
{
	out->offset = s->base_offset;
	out->vpos = s->base_vpos;
	out->filepos = SEG_HDR_SIZE;
	uint64_t lo = 0, hi = s->idx_count; /* answer in [lo, hi) */
	if (hi == 0)
		return 0;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		struct seg_pos e;
		int rc = idx_read(s, mid, &e);
		if (rc < 0)
			return rc;
		if ((key ? e.vpos : e.offset) <= v)
			lo = mid;
		else
			hi = mid;
	}
	return idx_read(s, lo, out);
}

int segment_find_vpos(const struct segment *s, uint64_t vpos, struct seg_pos *out)
{
	return idx_search(s, 1, vpos, out);
}

int segment_find_offset(const struct segment *s, uint64_t offset,
			struct seg_pos *out)
{
	return idx_search(s, 0, offset, out);
}

void seg_reader_init(struct seg_reader *r, const struct segment *s,
		     uint64_t filepos, uint64_t limit)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->filepos = filepos;
	r->limit = limit;
	r->window = SEG_READER_WINDOW;
}

void seg_reader_free(struct seg_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

/* Make bytes [pos, pos+len) of the file available in r->buf. */
static int reader_fill(struct seg_reader *r, uint64_t pos, size_t len,
		       const uint8_t **out)
{
	if (r->buf && pos >= r->buf_filepos &&
	    pos + len <= r->buf_filepos + r->buf_len) {
		*out = r->buf + (pos - r->buf_filepos);
		return 0;
	}
	size_t want = len < r->window ? r->window : len;
	if (pos + want > r->limit)
		want = r->limit > pos ? r->limit - pos : 0;
	if (want < len)
		return -ENODATA;
	if (r->cap < want) {
		uint8_t *nb = realloc(r->buf, want);
		if (!nb)
			return -ENOMEM;
		r->buf = nb;
		r->cap = want;
	}
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(r->s->fd, r->buf + got, want - got, pos + got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r->buf_len = 0;
			return -errno;
		}
		if (n == 0)
			break;
		got += n;
	}
	r->buf_filepos = pos;
	r->buf_len = got;
	if (got < len)
		return -ENODATA;
	*out = r->buf;
	return 0;
}

int seg_reader_next(struct seg_reader *r, struct record_hdr *h,
		    const uint8_t **hdr_bytes, const uint8_t **payload,
		    bool verify)
{
	const uint8_t *p;
	if (r->filepos >= r->limit)
		return 0;
	int rc = reader_fill(r, r->filepos, RECORD_HDR_SIZE, &p);
	if (rc < 0)
		return rc;
	record_decode(p, h);
	if (h->len > SEG_MAX_RECORD)
		return -EBADMSG;
	rc = reader_fill(r, r->filepos, RECORD_HDR_SIZE + (size_t)h->len, &p);
	if (rc < 0)
		return rc;
	if (verify && !record_verify(p, h->len))
		return -EBADMSG;
	*hdr_bytes = p;
	*payload = p + RECORD_HDR_SIZE;
	r->filepos += RECORD_HDR_SIZE + (uint64_t)h->len;
	return 1;
}

/* Is the record at FILEPOS whole and intact (reading no further than END)? */
static bool record_ok_at(const struct segment *s, uint64_t filepos, uint64_t end)
{
	struct seg_reader r;
	struct record_hdr h;
	const uint8_t *hb, *pl;
	seg_reader_init(&r, s, filepos, end);
	int rc = seg_reader_next(&r, &h, &hb, &pl, true);
	seg_reader_free(&r);
	return rc == 1;
}

int segment_open(int dirfd, const char *name, bool last,
		 const char *topic_name, struct segment *out)
{
	uint8_t hdr[SEG_HDR_SIZE], ihdr[IDX_HDR_SIZE];
	char iname[32];
	struct stat st, ist;
	int rc;

	memset(out, 0, sizeof(*out));
	out->fd = out->idx_fd = -1;
	out->fd = openat(dirfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (out->fd < 0)
		return -errno;
	if ((rc = pread_full(out->fd, hdr, sizeof(hdr), 0)) == -ENODATA)
		goto fail; /* created but never written: the caller decides */
	if (rc < 0)
		goto fail;
	if (memcmp(hdr, seg_magic, 8) != 0)
		goto bad_header;
	if (get_le32(hdr + 8) > SEG_FORMAT_VERSION) {
		log_error("topic %s: segment %s has format version %u, newer than this streamfs (%u); refusing to read it",
			  topic_name, name, get_le32(hdr + 8), SEG_FORMAT_VERSION);
		rc = -EPROTO;
		goto fail;
	}
	out->base_offset = get_le64(hdr + 16);
	out->base_vpos = get_le64(hdr + 24);
	out->version = get_le32(hdr + 8);
	/* No topic reaches 2^63 messages or bytes: a header that says so is
	 * damaged, and offsets counted from it would wrap. */
	if (out->base_offset > INT64_MAX || out->base_vpos > INT64_MAX) {
		log_error("topic %s: segment %s starts at offset %" PRIu64 ", byte %" PRIu64
			  ": impossible, its header is damaged; refusing to read it",
			  topic_name, name, out->base_offset, out->base_vpos);
		rc = -EPROTO;
		goto fail;
	}
	if (out->version == SEG_FORMAT_BATCHES) {
		if ((rc = segment_open_batches(dirfd, name, last, topic_name, out)) < 0)
			goto fail;
		return 0;
	}
	out->version = SEG_FORMAT_RECORDS; /* 0 and 1: records */

	segment_name(iname, out->base_offset, true);
	out->idx_fd = openat(dirfd, iname, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (out->idx_fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (fstat(out->fd, &st) < 0 || fstat(out->idx_fd, &ist) < 0) {
		rc = -errno;
		goto fail;
	}
	/*
	 * The index is derived data. One that is missing, or whose header a
	 * crash cut short (segment_create writes it just after creating the
	 * file), or that is unreadable, is started again and rebuilt from the
	 * records below: never a reason to stop serving the topic.
	 */
	bool rebuilt = false;
	if (pread_full(out->idx_fd, ihdr, sizeof(ihdr), 0) < 0 ||
	    memcmp(ihdr, idx_magic, 8) != 0 || get_le32(ihdr + 12) != IDX_ENTRY_SIZE ||
	    get_le32(ihdr + 8) > SEG_FORMAT_RECORDS) {
		if (ist.st_size)
			log_warn("topic %s: index %s has a bad header; rebuilding it",
				 topic_name, iname);
		memset(ihdr, 0, sizeof(ihdr));
		memcpy(ihdr, idx_magic, 8);
		put_le32(ihdr + 8, SEG_FORMAT_RECORDS);
		put_le32(ihdr + 12, IDX_ENTRY_SIZE);
		if (ftruncate(out->idx_fd, 0) < 0) {
			rc = -errno;
			goto fail;
		}
		if ((rc = pwrite_full(out->idx_fd, ihdr, sizeof(ihdr), 0)) < 0)
			goto fail;
		ist.st_size = IDX_HDR_SIZE;
		rebuilt = true;
	}
	out->idx_count = ist.st_size > IDX_HDR_SIZE ?
		(ist.st_size - IDX_HDR_SIZE) / IDX_ENTRY_SIZE : 0;
	out->size = st.st_size;

	if (!last && !(rebuilt && out->size > SEG_HDR_SIZE)) {
		struct seg_pos e;
		if (out->idx_count && idx_read(out, out->idx_count - 1, &e) == 0)
			out->last_idx_filepos = e.filepos;
		return 0;
	}
	/* From here: the last segment, or an earlier one whose index is
	 * rebuilt (the walk below indexes it; only the last one is cut). */

	/* Last segment: trust no index entry that does not point at a record. */
	struct seg_pos start = { out->base_offset, out->base_vpos, SEG_HDR_SIZE };
	while (out->idx_count) {
		struct seg_pos e;
		if ((rc = idx_read(out, out->idx_count - 1, &e)) < 0)
			goto fail;
		if (e.filepos >= SEG_HDR_SIZE && e.filepos < (uint64_t)st.st_size &&
		    e.offset >= out->base_offset && e.vpos >= out->base_vpos &&
		    record_ok_at(out, e.filepos, st.st_size)) {
			start = e;
			break;
		}
		out->idx_count--;
	}
	if (ftruncate(out->idx_fd, IDX_HDR_SIZE + out->idx_count * IDX_ENTRY_SIZE) < 0) {
		rc = -errno;
		goto fail;
	}
	out->last_idx_filepos = out->idx_count ? start.filepos : 0;

	/* Walk the tail, re-indexing as append would have. */
	struct seg_reader r;
	struct record_hdr h;
	const uint8_t *hb, *pl;
	uint64_t offset = start.offset, vpos = start.vpos;
	seg_reader_init(&r, out, start.filepos, st.st_size);
	bool first = true;
	uint64_t good = start.filepos;
	for (;;) {
		uint64_t fp = r.filepos;
		rc = seg_reader_next(&r, &h, &hb, &pl, false);
		if (rc <= 0)
			break;
		if (!record_verify(hb, h.len)) {
			/*
			 * A torn write leaves garbage only at the very end. A
			 * whole record followed by a good one was damaged in
			 * place: keep it (reads of it fail with EIO) rather
			 * than cut the good messages after it.
			 */
			if (r.filepos >= (uint64_t)st.st_size ||
			    !record_ok_at(out, r.filepos, st.st_size)) {
				rc = -EBADMSG;
				break;
			}
			log_warn("topic %s: segment %s: message at offset %" PRIu64
				 " fails its checksum; kept, reads of it fail with EIO",
				 topic_name, name, offset);
		}
		/* The record at START is indexed already; index the rest. */
		if (!(first && out->idx_count))
			index_records(out, hb, RECORD_HDR_SIZE + h.len, fp, offset, vpos);
		first = false;
		offset++;
		vpos += (uint64_t)h.len + 1;
		good = r.filepos;
	}
	seg_reader_free(&r);
	if (rc < 0 && rc != -ENODATA && rc != -EBADMSG)
		goto fail;
	if (!last) {
		/* Re-indexed; its end comes from the next segment (topic.c). */
		out->size = st.st_size;
		return 0;
	}
	if (good < (uint64_t)st.st_size) {
		log_warn("topic %s: segment %s: cut a torn or corrupt tail of %" PRIu64
			 " bytes at file position %" PRIu64 " (offset %" PRIu64 ")",
			 topic_name, name, (uint64_t)st.st_size - good, good, offset);
		if (ftruncate(out->fd, good) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	out->size = good;
	out->end_offset = offset;
	out->end_vpos = vpos;
	return 0;

bad_header:
	log_error("topic %s: segment %s has no valid header; refusing to read it",
		  topic_name, name);
	rc = -EPROTO;
fail:
	segment_close(out);
	return rc;
}
