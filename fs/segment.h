/*
 * segment.h - one segment of a topic's log: the data file of records
 * (NNNNNNNNNNNNNNNNNNNN.seg, named by its first offset) and its sparse index
 * (same name, .idx). Byte layout in docs/storage.md.
 *
 * A segment does no locking: its topic (fs/topic.c) serialises appends and
 * excludes them from reads.
 *
 * The index holds an entry for the first record and then for the first
 * record at or after every SEG_INDEX_INTERVAL bytes of data, so any offset or
 * read position is found by a binary search of the index plus a scan of at
 * most SEG_INDEX_INTERVAL bytes (plus one record).
 */
#ifndef STREAMFS_SEGMENT_H
#define STREAMFS_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define SEG_FORMAT_VERSION 1
#define SEG_HDR_SIZE 32
#define IDX_HDR_SIZE 16
#define IDX_ENTRY_SIZE 24
#define SEG_INDEX_INTERVAL 4096

struct segment {
	uint64_t base_offset;	/* offset of the first record */
	uint64_t base_vpos;	/* byte position of that record in the topic file */
	uint64_t end_offset;	/* offset after the last record */
	uint64_t end_vpos;	/* topic-file byte position after the last record */
	uint64_t size;		/* bytes of the data file in use (header included) */
	int fd, idx_fd;
	uint64_t idx_count;	/* index entries on disk */
	uint64_t last_idx_filepos; /* data-file position of the last entry */
};

/* A record's place: its offset, its topic-file position, its file position. */
struct seg_pos {
	uint64_t offset, vpos, filepos;
};

/*
 * segment_create - create the data and index files of a new, empty segment
 * in directory DIRFD starting at BASE_OFFSET / BASE_VPOS. Files are created
 * with O_EXCL. Returns 0 or a negative errno (-EEXIST, -ENOSPC, ...); on
 * error nothing is left on disk.
 */
int segment_create(int dirfd, uint64_t base_offset, uint64_t base_vpos,
		   struct segment *out);

/*
 * segment_open - open the segment whose data file is NAME in DIRFD.
 * If LAST, the tail is checked record by record from the last valid index
 * entry: a torn or corrupt tail is cut off (one "warn" log line naming
 * TOPIC_NAME) and missing index entries are rebuilt; end_* are then exact.
 * If not LAST, end_* are left for the caller (taken from the next segment).
 * Returns 0, -EPROTO for a newer format version or a bad magic number
 * (logged), -ENODATA for a file shorter than its header (a segment whose
 * creation was cut short), or another negative errno.
 */
int segment_open(int dirfd, const char *name, bool last,
		 const char *topic_name, struct segment *out);

/* segment_close - close both files. Safe on a zeroed/closed segment. */
void segment_close(struct segment *s);

/*
 * segment_append - append LEN bytes of NRECS encoded records (BUF) at the end
 * of the data file, then index them. All or nothing: on a failed or short
 * write the file is cut back and a negative errno (-ENOSPC, -EIO, ...) is
 * returned with the segment unchanged.
 */
int segment_append(struct segment *s, const uint8_t *buf, size_t len,
		   size_t nrecs);

/*
 * segment_find_vpos / segment_find_offset - the indexed record at or before
 * topic-file position VPOS (or offset OFFSET) in this segment, by binary
 * search of the index. The caller scans forward from *OUT. Returns 0 or a
 * negative errno from pread.
 */
int segment_find_vpos(const struct segment *s, uint64_t vpos, struct seg_pos *out);
int segment_find_offset(const struct segment *s, uint64_t offset,
			struct seg_pos *out);

/*
 * A buffered sequential reader of records in one segment, used by reads,
 * replication and recovery. The payload pointer it yields is valid until the
 * next call. Owns its buffer: call seg_reader_free.
 */
struct seg_reader {
	const struct segment *s;
	uint64_t filepos;	/* file position of the next record */
	uint64_t limit;		/* stop at this file position */
	uint8_t *buf;
	size_t cap;
	uint64_t buf_filepos;	/* file position of buf[0] */
	size_t buf_len;
	size_t window;		/* bytes to read ahead per refill (SEG_READER_WINDOW) */
};

/* The default read-ahead of a seg_reader: big reads suit scans (recovery,
 * replication batches); topic_read narrows it to what one request needs. */
#define SEG_READER_WINDOW (256u * 1024)

/* seg_reader_init - start reading S at FILEPOS, up to LIMIT (file bytes). */
void seg_reader_init(struct seg_reader *r, const struct segment *s,
		     uint64_t filepos, uint64_t limit);

/*
 * seg_reader_next - the next record: header into *H, raw header bytes into
 * *HDR_BYTES and payload into *PAYLOAD (both borrowed). Returns 1 for a
 * record, 0 at LIMIT, -ENODATA for a record cut short by LIMIT or the end of
 * file, -EBADMSG for a checksum mismatch or an impossible length, -ENOMEM,
 * or the negative errno of pread. VERIFY false skips the checksum (used only
 * where the caller checks it itself).
 */
int seg_reader_next(struct seg_reader *r, struct record_hdr *h,
		    const uint8_t **hdr_bytes, const uint8_t **payload,
		    bool verify);

/* seg_reader_free - release the reader's buffer. */
void seg_reader_free(struct seg_reader *r);

/* segment_name - write "%020llu.seg" (or .idx if IDX) of BASE into OUT[32]. */
void segment_name(char *out, uint64_t base, bool idx);

/* Largest record payload a reader accepts, bytes: a sanity bound (64 MiB). */
#define SEG_MAX_RECORD (64u << 20)

#endif
