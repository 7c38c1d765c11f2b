/*
 * fuzz_batch.c - libFuzzer target: opening, recovering, checking and
 * iterating a segment of format 2 (batches, fs/local/segment_batch.c) made of
 * arbitrary bytes, then appending to it.
 *
 * Input layout (docs/fuzzing.md):
 *   byte 0   options: bit 0 give every entry its right entry_sum and every
 *            batch that lies in the data its right checksum (so the fuzzer
 *            gets past XXH3), bit 1 open it as an earlier segment (not the
 *            last), bit 2 leave a torn piece (the input's last byte, mod 64,
 *            bytes of one more entry) at the end of the index
 *   byte 1   number of entries (0-255)
 *   then per entry: u16 len, u8 count, u8 origin offset, u8 origin index,
 *            u8 "skew" (added to the entry's filepos and offset, so that
 *            entries can fail to follow each other)
 *   rest     the data after the 32-byte header
 *
 * Checked beyond "no crash, leak or hang": after an open as the last
 * segment, its end lies inside the file and its byte count matches its
 * position count; every message the iterator yields is in offset order,
 * inside the segment, holds no '\n'; segment_check never reports more good
 * bytes than exist, and the bytes it copies are the file's; a second open
 * cuts nothing more (recovery is idempotent); an append after it reads
 * back as written, when the entries follow each other (no skew).
 */
#include "fuzz_common.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "local/segment.h"
#include "fs/util/byteorder.h"

#define BASE 1000
#define BASE_VPOS 7777

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint8_t opt = fz_u8(&f);
	uint8_t ne = fz_u8(&f);
	uint8_t *idx = calloc(1, IDX_HDR_SIZE + (size_t)(ne + 1) * BATCH_ENTRY_SIZE);
	FUZZ_CHECK(idx);
	memcpy(idx, "SFSIDX\0\0", 8);
	put_le32(idx + 8, SEG_FORMAT_BATCHES);
	put_le32(idx + 12, BATCH_ENTRY_SIZE);
	uint8_t raw[6 * 255];
	size_t rl;
	const uint8_t *r = fz_bytes(&f, (size_t)ne * 6, &rl);
	memcpy(raw, r, rl);
	memset(raw + rl, 0, sizeof(raw) - rl);
	size_t dlen;
	const uint8_t *d = fz_bytes(&f, f.n, &dlen);

	uint8_t *seg = malloc(SEG_HDR_SIZE + dlen + 1);
	FUZZ_CHECK(seg);
	memset(seg, 0, SEG_HDR_SIZE);
	memcpy(seg, "SFSSEG\0\0", 8);
	put_le32(seg + 8, SEG_FORMAT_BATCHES);
	put_le32(seg + 12, SEG_HDR_SIZE);
	put_le64(seg + 16, BASE);
	put_le64(seg + 24, BASE_VPOS);
	memcpy(seg + SEG_HDR_SIZE, d, dlen);
	uint64_t fsize = SEG_HDR_SIZE + dlen;

	uint64_t pos = SEG_HDR_SIZE, off = BASE;
	bool skewed = false;	/* an entry that does not follow the one before */
	for (size_t i = 0; i < ne; i++) {
		const uint8_t *q = raw + i * 6;
		skewed = skewed || q[5];
		uint8_t *e = idx + IDX_HDR_SIZE + i * BATCH_ENTRY_SIZE;
		uint32_t len = get_le16(q), count = q[2];
		put_le64(e, off + q[5]);
		put_le64(e + 8, pos + q[5]);
		put_le32(e + 16, len);
		put_le32(e + 20, count);
		put_le64(e + 24, q[3]);
		put_le64(e + 32, 12345);
		put_le16(e + 40, q[4]);
		if ((opt & 1) && pos + q[5] + len <= fsize)
			put_le64(e + 48, XXH3_64bits(seg + pos + q[5], len));
		if (opt & 1)
			put_le64(e + 56, XXH3_64bits(e, 56));
		pos += len;
		off += count;
	}
	size_t ilen = IDX_HDR_SIZE + (size_t)ne * BATCH_ENTRY_SIZE;
	if ((opt & 4) && size)
		ilen += data[size - 1] % BATCH_ENTRY_SIZE;

	const char *dir = fuzz_scratch();
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(dirfd >= 0);
	char name[32], iname[32];
	segment_name(name, BASE, false);
	segment_name(iname, BASE, true);
	fuzz_write_at(dirfd, name, seg, fsize);
	fuzz_write_at(dirfd, iname, idx, ilen);

	bool last = !(opt & 2);
	struct segment s;
	int rc = segment_open(dirfd, name, last, "fuzz", &s);
	if (rc == 0 && !last) {
		/* An earlier segment: its end comes from the next one. */
		s.end_offset = s.base_offset;
		s.end_vpos = s.base_vpos;
		segment_close(&s);
	} else if (rc == 0) {
		FUZZ_CHECK(s.version == SEG_FORMAT_BATCHES);
		FUZZ_CHECK(s.size >= SEG_HDR_SIZE && s.size <= fsize);
		FUZZ_CHECK(s.end_vpos - s.base_vpos == s.size - SEG_HDR_SIZE);
		FUZZ_CHECK(s.end_offset >= s.base_offset);
		/* Every message the iterator yields. */
		struct seg_iter it;
		struct seg_msg m;
		uint64_t next = BASE;
		seg_iter_init(&it, &s, BASE);
		for (int k = 0; k < 100000 && (rc = seg_iter_next(&it, &m)) != 0; k++) {
			if (rc < 0)
				continue;
			FUZZ_CHECK(m.offset >= next && m.offset < s.end_offset);
			next = m.offset + 1;
			FUZZ_CHECK(m.payload >= it.data && m.payload + m.len < it.data + it.b.len + 1);
			FUZZ_CHECK(!memchr(m.payload, '\n', m.len));
		}
		seg_iter_free(&it);
		/* A check of the whole segment. */
		uint64_t good, bad, copied;
		uint8_t *copy = malloc(s.size - SEG_HDR_SIZE + 1);
		FUZZ_CHECK(copy);
		rc = segment_check(&s, SEG_HDR_SIZE, s.size, copy, &copied, &good, &bad);
		FUZZ_CHECK(rc == 0);
		FUZZ_CHECK(good >= SEG_HDR_SIZE && good <= s.size);
		FUZZ_CHECK(copied <= s.size - SEG_HDR_SIZE);
		FUZZ_CHECK(memcmp(copy, seg + SEG_HDR_SIZE, copied) == 0);
		free(copy);
		uint64_t end = s.end_offset, sz = s.size;
		segment_close(&s);
		/* Recovery is idempotent. */
		FUZZ_CHECK(segment_open(dirfd, name, true, "fuzz", &s) == 0);
		FUZZ_CHECK(s.end_offset == end && s.size == sz);
		/* An append reads back as written. */
		static const uint8_t more[] = "appended\nx\n";
		struct seg_batch b = { .len = sizeof(more) - 1, .count = 2, .origin_offset = 5 };
		/* (Entries whose sums hold but that do not follow each other
		 * are damage the index cannot be searched around: an iterator
		 * may meet them first. Then only "no crash" is asked.) */
		if (!skewed && segment_append_batches(&s, more, sizeof(more) - 1, &b, 1) == 0) {
			FUZZ_CHECK(s.end_offset == end + 2);
			seg_iter_init(&it, &s, end);
			FUZZ_CHECK(seg_iter_next(&it, &m) == 1);
			FUZZ_CHECK(m.offset == end && m.len == 8 && !memcmp(m.payload, "appended", 8));
			FUZZ_CHECK(m.origin_offset == 5);
			FUZZ_CHECK(seg_iter_next(&it, &m) == 1);
			FUZZ_CHECK(m.offset == end + 1 && m.len == 1 && m.origin_offset == 6);
			FUZZ_CHECK(seg_iter_next(&it, &m) == 0);
			seg_iter_free(&it);
		}
		segment_close(&s);
	}
	unlinkat(dirfd, name, 0);
	unlinkat(dirfd, iname, 0);
	close(dirfd);
	free(seg);
	free(idx);
	return 0;
}
