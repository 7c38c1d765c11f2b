/*
 * segment.h - one segment of a topic's log: a data file
 * (NNNNNNNNNNNNNNNNNNNN.seg, named by its first offset) and its index (same
 * name, .idx). Two formats, byte layouts in docs/storage.md:
 *
 *  - version 2 (batches, written now; fs/local/segment_batch.c): the data file
 *    holds the topic file's bytes exactly as readers see them (every
 *    message and its '\n'), and the index one 64-byte entry per batch (the
 *    messages of one write() or one replicated run): offsets, origin,
 *    timestamp and the batch's checksum. A read of the topic file is one
 *    pread of the data file; the index is part of the data (it alone holds
 *    origins and checksums).
 *  - version 1 (records, read and recovered, written only when a test asks;
 *    fs/local/segment.c): records of a 28-byte header and the payload
 *    (fs/local/record.h); the index is sparse and derived: an entry for the first
 *    record and then for the first record at or after every
 *    SEG_INDEX_INTERVAL bytes, rebuilt from the records when missing.
 *
 * A segment does no locking: its topic (fs/local/logtopic.c) serialises appends and
 * excludes them from reads, and serialises segment_verify calls.
 */
#ifndef STREAMFS_SEGMENT_H
#define STREAMFS_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* The newest segment format this streamfs reads and the one it writes. */
#define SEG_FORMAT_VERSION 2
#define SEG_FORMAT_RECORDS 1	/* version 1: records */
#define SEG_FORMAT_BATCHES 2	/* version 2: batches */
#define SEG_HDR_SIZE 32
#define IDX_HDR_SIZE 16
#define IDX_ENTRY_SIZE 24	/* version 1 */
#define SEG_INDEX_INTERVAL 4096	/* version 1 */
#define BATCH_ENTRY_SIZE 64	/* version 2 */
/* A batch ends before the message that would take it past this many bytes
 * (one longer message is a batch of its own): what one check of a batch
 * reads is bounded by this or by one message. */
#define SEG_BATCH_BYTES (1u << 20)

/* The magic numbers that start a data file and an index (fs/local/segment.c). */
extern const uint8_t seg_magic[8];
extern const uint8_t idx_magic[8];

struct segment {
	uint64_t base_offset;	/* offset of the first record */
	uint64_t base_vpos;	/* byte position of that record in the topic file */
	uint64_t end_offset;	/* offset after the last record */
	uint64_t end_vpos;	/* topic-file byte position after the last record */
	uint64_t size;		/* bytes of the data file in use (header included) */
	int fd, idx_fd;
	uint64_t idx_count;	/* index entries on disk */
	uint64_t last_idx_filepos; /* v1: data-file position of the last entry */
	uint32_t version;	/* SEG_FORMAT_RECORDS or SEG_FORMAT_BATCHES */
	/*
	 * Version 2: every batch wholly before data-file position VERIFIED
	 * was checked against its checksum by this process, or written by it
	 * (a damaged batch stops it). VERIFIED is read without a lock
	 * (__atomic) on the read path and changed only by segment_check
	 * (serialised by the topic) or segment_append_batches (topic lock held
	 * exclusively). VERIFIED_IDX is the index entry that starts there.
	 */
	uint64_t verified;
	uint64_t verified_idx;
	uint64_t verified_off;	/* the offset that starts there */
	/* Past a damage: the last run of batches segment_check found good one
	 * by one, data-file positions [CHECKED_FROM, CHECKED_TO), so that a
	 * reader going through a long batch does not check it once per read.
	 * Under the same serialisation as segment_check. */
	uint64_t checked_from, checked_to;
	/* Its batches do not fit where the next segment starts (found at
	 * load, fs/local/logtopic.c): reads of it fail with EIO. */
	bool broken;
};

/* One index entry of a version-2 segment: a batch of COUNT messages. */
struct seg_batch {
	uint64_t offset;	/* topic offset of its first message */
	uint64_t filepos;	/* data-file position of its first byte */
	uint32_t len;		/* bytes: its messages, each with its '\n' */
	uint32_t count;		/* messages */
	uint64_t origin_offset;	/* of its first message; message k has + k */
	uint64_t timestamp_ns;	/* append time at the origin, every message */
	uint16_t origin_idx;	/* index into the topic's origin table */
	uint64_t checksum;	/* XXH3-64 of the LEN data bytes */
};

/* A record's place: its offset, its topic-file position, its file position. */
struct seg_pos {
	uint64_t offset, vpos, filepos;
};

/*
 * segment_create - create the data and index files of a new, empty segment
 * of format VERSION (SEG_FORMAT_BATCHES, or SEG_FORMAT_RECORDS for tests of
 * the old format) in directory DIRFD starting at BASE_OFFSET / BASE_VPOS.
 * Files are created with O_EXCL. Returns 0 or a negative errno (-EEXIST,
 * -ENOSPC, -EINVAL for an unknown version, ...); on error nothing is left
 * on disk.
 */
int segment_create(int dirfd, uint64_t base_offset, uint64_t base_vpos,
		   uint32_t version, struct segment *out);

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
 * segment_append - (version 1) append LEN bytes of NRECS encoded records
 * (BUF) at the end of the data file, then index them. All or nothing: on a failed or short
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

/* ---- version 2: batches (fs/local/segment_batch.c) ---------------------------- */

/*
 * segment_open_batches - the rest of segment_open for a version-2 data file
 * (FD open, header read into OUT). Opens the index; with LAST, drops index
 * entries that are torn, do not follow their predecessor, or whose batch
 * fails its checksum, then cuts data past the last batch (one "warn" line
 * each, naming TOPIC_NAME). Returns 0, -EPROTO for a damaged or missing
 * index of a segment holding data (logged: its origins cannot be rebuilt),
 * or another negative errno; on error the caller closes OUT.
 */
int segment_open_batches(int dirfd, const char *name, bool last,
			 const char *topic_name, struct segment *out);

/*
 * segment_append_batches - append LEN data bytes (DATA: messages, each
 * ending in '\n') and the NB batches that cut them (B: len, count and
 * origin fields set; offset, filepos and checksum are filled in here) at
 * the end of a version-2 segment: the data first, then the entries. All or
 * nothing: on failure both files are cut back and a negative errno
 * (-ENOSPC, -EIO, ...) returned with the segment unchanged.
 */
int segment_append_batches(struct segment *s, const uint8_t *data, size_t len,
			   struct seg_batch *b, size_t nb);

/*
 * segment_batch_read - entry I (0-based, < s->idx_count) of a version-2
 * index into *OUT. Returns 0, -EBADMSG if the entry fails its own checksum,
 * or the negative errno of pread.
 */
int segment_batch_read(const struct segment *s, uint64_t i, struct seg_batch *out);

/*
 * segment_batch_find - the index of the last intact entry whose first
 * offset (KEY 0) or data-file position (KEY 1) is at or before V (0 if
 * none), by binary search. An entry that fails its own checksum is passed
 * over (the search goes on with its intact neighbours), so one damaged
 * entry costs only its own batch. Returns it (>= 0) or a negative errno of
 * pread.
 */
int64_t segment_batch_find(const struct segment *s, int key, uint64_t v);

/*
 * segment_check - make sure the data-file bytes [FROM, TO) of a version-2
 * segment may be served: every batch they touch matches its checksum.
 * Advances s->verified as far as TO (it stops at a damaged batch), and
 * past a damage checks the batches of the range one by one. Sets *GOOD_END
 * to the end of the servable bytes from FROM (TO when all are, FROM when
 * the batch at FROM is damaged) and *BAD_OFFSET to the first offset of the
 * damaged batch that ends them (UINT64_MAX if none). With COPY (room for
 * TO - FROM bytes), the bytes of [FROM, FROM + *COPIED) that the check read
 * are copied there, so the caller need not read them again (a cold
 * sequential read reads the disk once). The caller holds the topic's lock
 * (shared) and serialises calls for one segment. Memory: a 256 KiB
 * buffer, freed. Returns 0 or a negative errno (-ENOMEM, pread's).
 */
int segment_check(struct segment *s, uint64_t from, uint64_t to, uint8_t *copy,
		  uint64_t *copied, uint64_t *good_end, uint64_t *bad_offset);

/*
 * A sequential reader of the messages of one segment, either format, with
 * their origins: for replication and for rebuilding high-water marks.
 * Owns its buffers: call seg_iter_free.
 */
struct seg_msg {
	uint64_t offset, origin_offset, timestamp_ns;
	uint16_t origin_idx;
	const uint8_t *payload;	/* borrowed until the next call */
	uint32_t len;
};

struct seg_iter {
	const struct segment *s;
	uint64_t next;		/* offset of the next message to yield */
	bool done;
	/* version 1 */
	struct seg_reader r;
	uint64_t roff;		/* offset of the record at r.filepos */
	/* version 2 */
	uint64_t bi;		/* next entry to load */
	uint64_t prev_end;	/* offset after the last entry read, */
	bool prev_known;	/* if one was read (or the segment's base) */
	struct seg_batch b;	/* the loaded batch (b.count 0: none) */
	uint8_t *data;
	size_t cap, pos;
	uint32_t k;		/* messages of b already yielded or skipped */
};

/* seg_iter_init - read S from message FROM (at or after its base). */
void seg_iter_init(struct seg_iter *it, const struct segment *s, uint64_t from);

/*
 * seg_iter_next - the next message into *M. Returns 1, 0 at the end of the
 * segment, -EBADMSG for a damaged message or batch (M->offset names its
 * first offset; the next call goes on after it where the format allows, and
 * returns 0 where it does not), -ENOMEM, or the negative errno of pread.
 */
int seg_iter_next(struct seg_iter *it, struct seg_msg *m);

/* seg_iter_free - release the iterator's buffers. */
void seg_iter_free(struct seg_iter *it);

#endif
