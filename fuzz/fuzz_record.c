/*
 * fuzz_record.c - libFuzzer target: the record codec (fs/local/record.c) and the
 * sequential segment reader (seg_reader_*, fs/local/segment.c) on arbitrary bytes.
 *
 * Input layout (docs/fuzzing.md):
 *   byte 0   options: bit 0 reader verifies checksums, bit 1 fix the
 *            checksum of every whole record first (so the fuzzer gets past
 *            XXH32), bit 2 repeat the data to at least 300 KiB (past the
 *            reader's 256 KiB buffer), bits 3-7 start file position (0-31)
 *   byte 1   reader limit: file size minus this, or no limit for 255
 *   rest     the bytes: decoded as a record, then read as a segment file
 *            (written to a memfd)
 *
 * Checked beyond "no crash, leak or hang": encode(decode(x)) round-trips
 * and verifies; the reader advances by exactly one record per call, never
 * past its limit, hands out the bytes of the file, and with verification on
 * never yields a record whose checksum fails.
 */
#include "fuzz_common.h"

#include <sys/mman.h>

#include "local/record.h"
#include "local/segment.h"
#include "fs/util/byteorder.h"

#define BIG_FILE (300u * 1024)

static int memfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz_record", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("fuzz_record: memfd_create");
		abort();
	}
	return 0;
}

/* record_decode / record_verify / record_encode straight on the input. */
static void fuzz_codec(const uint8_t *data, size_t size)
{
	if (size < RECORD_HDR_SIZE)
		return;
	struct record_hdr h;
	record_decode(data, &h);
	size_t avail = size - RECORD_HDR_SIZE;
	if (avail > UINT32_MAX)
		avail = UINT32_MAX;
	(void)record_verify(data, (uint32_t)avail);
	if (h.len > avail)
		return;
	bool ok = record_verify(data, h.len);

	/* Re-encode the decoded header over the same payload. */
	size_t n = RECORD_HDR_SIZE + (size_t)h.len;
	uint8_t *copy = malloc(n);
	FUZZ_CHECK(copy);
	memcpy(copy, data, n);
	struct record_hdr e = h;
	record_encode(copy, &e);
	FUZZ_CHECK(record_verify(copy, h.len));
	struct record_hdr d;
	record_decode(copy, &d);
	FUZZ_CHECK(d.checksum == e.checksum && d.len == h.len &&
		   d.origin_offset == h.origin_offset &&
		   d.timestamp_ns == h.timestamp_ns &&
		   d.origin_idx == h.origin_idx &&
		   d.flags == (h.flags | RECORD_F_XXH3));
	/* A record that verified is exactly what encoding produces; one of the
	 * older XXH32 kind differs only in its checksum and flags bit 0. */
	if (ok && (h.flags & RECORD_F_XXH3)) {
		FUZZ_CHECK(memcmp(copy, data, n) == 0);
	} else if (ok) {
		FUZZ_CHECK(memcmp(copy + 4, data + 4, 22) == 0 && copy[26] == (data[26] | 1) &&
			   copy[27] == data[27] && memcmp(copy + 28, data + 28, n - 28) == 0);
	}
	free(copy);
}

/* Give every whole record in BUF[0..LEN) a correct checksum. */
static void fix_sums(uint8_t *buf, size_t len)
{
	size_t pos = 0;
	while (len - pos >= RECORD_HDR_SIZE) {
		uint32_t plen = get_le32(buf + pos + 4);
		if (plen > len - pos - RECORD_HDR_SIZE)
			break;
		struct record_hdr h;
		record_decode(buf + pos, &h);
		record_encode(buf + pos, &h);
		pos += RECORD_HDR_SIZE + (size_t)plen;
	}
}

/* Read FILE (LEN bytes, in the memfd) from START to LIMIT; return records. */
static size_t read_all(const uint8_t *file, size_t len, uint64_t start,
		       uint64_t limit, bool verify)
{
	struct segment s;
	memset(&s, 0, sizeof(s));
	s.fd = memfd;
	s.idx_fd = -1;
	s.size = len;
	struct seg_reader r;
	seg_reader_init(&r, &s, start, limit);
	size_t n = 0;
	for (;;) {
		struct record_hdr h;
		const uint8_t *hb = NULL, *pl = NULL;
		uint64_t at = r.filepos;
		int rc = seg_reader_next(&r, &h, &hb, &pl, verify);
		if (rc == 0) {
			FUZZ_CHECK(at >= limit);
			break;
		}
		if (rc < 0) {
			FUZZ_CHECK(rc == -ENODATA || rc == -EBADMSG);
			break;
		}
		FUZZ_CHECK(rc == 1);
		n++;
		/* One record further, within the limit and the file. */
		FUZZ_CHECK(r.filepos == at + RECORD_HDR_SIZE + (uint64_t)h.len);
		FUZZ_CHECK(r.filepos <= limit && r.filepos <= len);
		FUZZ_CHECK(pl == hb + RECORD_HDR_SIZE);
		/* What it hands out is the file's bytes at that position. */
		FUZZ_CHECK(memcmp(hb, file + at, RECORD_HDR_SIZE + (size_t)h.len) == 0);
		struct record_hdr d;
		record_decode(hb, &d);
		FUZZ_CHECK(d.len == h.len && d.checksum == h.checksum &&
			   d.origin_offset == h.origin_offset);
		FUZZ_CHECK(h.len <= SEG_MAX_RECORD);
		if (verify)
			FUZZ_CHECK(record_verify(hb, h.len));
	}
	seg_reader_free(&r);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_codec(data, size);

	struct fz f = { data, size };
	uint8_t opt = fz_u8(&f), cut = fz_u8(&f);
	size_t len = f.n;
	size_t flen = len;
	if ((opt & 4) && len)
		while (flen < BIG_FILE)
			flen += len;
	uint8_t *file = malloc(flen ? flen : 1);
	FUZZ_CHECK(file);
	for (size_t o = 0; o < flen; o += len)
		memcpy(file + o, f.p, len);
	if (opt & 2)
		fix_sums(file, flen);

	FUZZ_CHECK(ftruncate(memfd, 0) == 0);
	size_t done = 0;
	while (done < flen) {
		ssize_t w = pwrite(memfd, file + done, flen - done, (off_t)done);
		FUZZ_CHECK(w > 0);
		done += (size_t)w;
	}

	bool verify = opt & 1;
	uint64_t start = opt >> 3;
	uint64_t limit = cut == 255 ? UINT64_MAX : (flen > cut ? flen - cut : 0);
	size_t nv = read_all(file, flen, start, limit, verify);
	/* Verification can only stop a walk earlier, never extend it. */
	size_t nr = read_all(file, flen, start, limit, false);
	FUZZ_CHECK(nv <= nr);
	free(file);
	return 0;
}
