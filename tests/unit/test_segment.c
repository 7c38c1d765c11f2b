/*
 * test_segment.c - unit tests of fs/local/segment.c: creating a segment, appending
 * batches of records, the sparse index (spacing, find by offset and by
 * vpos), the sequential reader, reopening, torn-tail repair, index rebuild
 * and header checks. Each test works in a fresh mkdtemp directory.
 *
 * A "model" in this file is the test's own account of what was appended:
 * every record's offset, vpos (topic-file position, each message followed
 * by '\n'), file position and fields, against which the segment is checked.
 */
#define _GNU_SOURCE	/* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/scratch.h"
#include "fs/local/record.h"
#include "fs/local/segment.h"
#include "fs/util/byteorder.h"

static char tmpdir[1024];
static int dirfd_ = -1;

static int setup(void **state)
{
	(void)state;
	return scratch_make("segment", tmpdir, sizeof(tmpdir), &dirfd_);
}

static int teardown(void **state)
{
	(void)state;
	return scratch_remove(tmpdir, &dirfd_);
}

/* ---- the model ---------------------------------------------------------- */

struct rec_info {
	uint64_t offset, vpos, filepos;
	uint32_t len;
};

struct model {
	uint64_t base_offset, base_vpos;
	uint64_t end_offset, end_vpos, size;
	struct rec_info *r;
	size_t n, cap;
	uint32_t maxlen;
};

static void model_init(struct model *m, uint64_t base_offset, uint64_t base_vpos)
{
	memset(m, 0, sizeof(*m));
	m->base_offset = m->end_offset = base_offset;
	m->base_vpos = m->end_vpos = base_vpos;
	m->size = SEG_HDR_SIZE;
}

static void model_free(struct model *m)
{
	free(m->r);
	memset(m, 0, sizeof(*m));
}

/* Fields of the record at OFFSET, so that every record is distinct. */
static uint64_t rec_origin_offset(uint64_t off) { return off * 3 + 11; }
static uint64_t rec_ts(uint64_t off) { return 1700000000000000000ull + off * 1000; }
static uint16_t rec_idx(uint64_t off) { return (uint16_t)(off % 7); }
static uint8_t rec_byte(uint64_t off, size_t i) { return (uint8_t)(off * 31 + i * 7 + 1); }

/* A varied length for the K-th record: some empty, most a few hundred bytes. */
static uint32_t vary_len(uint64_t k)
{
	if (k % 11 == 0)
		return 0;
	return (uint32_t)((k * 7919) % 700);
}

/*
 * Build a batch of N records (lengths LENS) that starts at the model's end,
 * append it with segment_append and record it in the model.
 */
static void append_batch(struct segment *s, struct model *m,
			 const uint32_t *lens, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += RECORD_HDR_SIZE + lens[i];
	uint8_t *buf = malloc(total ? total : 1);
	assert_non_null(buf);
	size_t pos = 0;
	if (m->n + n > m->cap) {
		m->cap = (m->n + n) * 2;
		m->r = realloc(m->r, m->cap * sizeof(*m->r));
		assert_non_null(m->r);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t off = m->end_offset;
		for (uint32_t k = 0; k < lens[i]; k++)
			buf[pos + RECORD_HDR_SIZE + k] = rec_byte(off, k);
		struct record_hdr h = {
			.len = lens[i],
			.origin_offset = rec_origin_offset(off),
			.timestamp_ns = rec_ts(off),
			.origin_idx = rec_idx(off),
		};
		record_encode(buf + pos, &h);
		m->r[m->n++] = (struct rec_info){ off, m->end_vpos, m->size, lens[i] };
		if (lens[i] > m->maxlen)
			m->maxlen = lens[i];
		m->end_offset++;
		m->end_vpos += (uint64_t)lens[i] + 1;
		m->size += RECORD_HDR_SIZE + lens[i];
		pos += RECORD_HDR_SIZE + lens[i];
	}
	assert_int_equal(segment_append(s, buf, total, n), 0);
	free(buf);
}

/* Check the segment's end fields against the model. */
static void check_ends(const struct segment *s, const struct model *m)
{
	assert_true(s->base_offset == m->base_offset);
	assert_true(s->base_vpos == m->base_vpos);
	if (s->end_offset != m->end_offset || s->end_vpos != m->end_vpos ||
	    s->size != m->size)
		fail_msg("segment end: offset %" PRIu64 " vpos %" PRIu64 " size %" PRIu64
			 "; expected %" PRIu64 " %" PRIu64 " %" PRIu64,
			 s->end_offset, s->end_vpos, s->size, m->end_offset,
			 m->end_vpos, m->size);
}

static off_t file_size(const char *name)
{
	struct stat st;
	assert_int_equal(fstatat(dirfd_, name, &st, 0), 0);
	return st.st_size;
}

/* Read all of file NAME in the test directory; *LEN gets its size. */
static uint8_t *read_file(const char *name, size_t *len)
{
	int fd = openat(dirfd_, name, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *b = malloc(st.st_size ? st.st_size : 1);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, st.st_size, 0), st.st_size);
	close(fd);
	*len = st.st_size;
	return b;
}

/* ---- the index, read from its file and checked against the model -------- */

struct idx {
	struct seg_pos *e;
	size_t n;
};

static void idx_load(uint64_t base, struct idx *x)
{
	char iname[32];
	size_t len;
	segment_name(iname, base, true);
	uint8_t *b = read_file(iname, &len);
	assert_true(len >= IDX_HDR_SIZE);
	assert_memory_equal(b, "SFSIDX\0\0", 8);
	assert_int_equal(get_le32(b + 8), SEG_FORMAT_RECORDS);
	assert_int_equal(get_le32(b + 12), IDX_ENTRY_SIZE);
	assert_int_equal((len - IDX_HDR_SIZE) % IDX_ENTRY_SIZE, 0);
	x->n = (len - IDX_HDR_SIZE) / IDX_ENTRY_SIZE;
	x->e = calloc(x->n ? x->n : 1, sizeof(*x->e));
	assert_non_null(x->e);
	for (size_t i = 0; i < x->n; i++) {
		const uint8_t *p = b + IDX_HDR_SIZE + i * IDX_ENTRY_SIZE;
		x->e[i].offset = get_le64(p);
		x->e[i].vpos = get_le64(p + 8);
		x->e[i].filepos = get_le64(p + 16);
	}
	free(b);
}

static const struct rec_info *model_rec(const struct model *m, uint64_t offset)
{
	assert_true(offset >= m->base_offset && offset < m->end_offset);
	return &m->r[offset - m->base_offset];
}

/*
 * The index on disk: one entry for the first record, then one for the first
 * record at least SEG_INDEX_INTERVAL file bytes after the previous entry;
 * each entry names a real record (offset, vpos, file position agree).
 */
static void check_index(const struct segment *s, const struct model *m,
			struct idx *x)
{
	idx_load(m->base_offset, x);
	assert_int_equal(x->n, s->idx_count);
	if (m->n == 0) {
		assert_int_equal(x->n, 0);
		return;
	}
	assert_true(x->n >= 1);
	assert_true(x->e[0].offset == m->base_offset);
	assert_true(x->e[0].vpos == m->base_vpos);
	assert_true(x->e[0].filepos == SEG_HDR_SIZE);
	for (size_t i = 0; i < x->n; i++) {
		const struct rec_info *r = model_rec(m, x->e[i].offset);
		if (r->vpos != x->e[i].vpos || r->filepos != x->e[i].filepos)
			fail_msg("index entry %zu (offset %" PRIu64 ") has vpos %" PRIu64
				 " filepos %" PRIu64 "; record is at %" PRIu64 " %" PRIu64,
				 i, x->e[i].offset, x->e[i].vpos, x->e[i].filepos,
				 r->vpos, r->filepos);
		if (i > 0) {
			assert_true(x->e[i].offset > x->e[i - 1].offset);
			if (x->e[i].filepos - x->e[i - 1].filepos < SEG_INDEX_INTERVAL)
				fail_msg("index entries %zu and %zu only %" PRIu64 " bytes apart",
					 i - 1, i, x->e[i].filepos - x->e[i - 1].filepos);
		}
	}
	/* No record that should have had an entry lacks one. */
	size_t k = 0;
	for (size_t j = 0; j < m->n; j++) {
		if (k + 1 < x->n && m->r[j].offset == x->e[k + 1].offset) {
			k++;
			continue;
		}
		if (m->r[j].offset == x->e[k].offset)
			continue;
		if (m->r[j].filepos - x->e[k].filepos >= SEG_INDEX_INTERVAL)
			fail_msg("record %" PRIu64 " at filepos %" PRIu64 " is %" PRIu64
				 " bytes after index entry %zu but has no entry",
				 m->r[j].offset, m->r[j].filepos,
				 m->r[j].filepos - x->e[k].filepos, k);
	}
	assert_int_equal(k, x->n - 1);
}

/* segment_find_* must give the last index entry whose key <= target. */
static void check_find(const struct segment *s, const struct model *m,
		       const struct idx *x)
{
	struct seg_pos p;
	if (m->n == 0) {
		assert_int_equal(segment_find_offset(s, m->base_offset, &p), 0);
		assert_true(p.offset == m->base_offset && p.vpos == m->base_vpos &&
			    p.filepos == SEG_HDR_SIZE);
		assert_int_equal(segment_find_vpos(s, m->base_vpos, &p), 0);
		assert_true(p.offset == m->base_offset && p.vpos == m->base_vpos &&
			    p.filepos == SEG_HDR_SIZE);
		return;
	}
	/* By offset: every offset, and a few past the end. */
	size_t k = 0;
	for (uint64_t off = m->base_offset; off < m->end_offset + 3; off++) {
		while (k + 1 < x->n && x->e[k + 1].offset <= off)
			k++;
		assert_int_equal(segment_find_offset(s, off, &p), 0);
		if (p.offset != x->e[k].offset || p.vpos != x->e[k].vpos ||
		    p.filepos != x->e[k].filepos)
			fail_msg("find_offset(%" PRIu64 ") = {%" PRIu64 ", %" PRIu64 ", %" PRIu64
				 "}, expected index entry %zu {%" PRIu64 ", %" PRIu64 ", %" PRIu64 "}",
				 off, p.offset, p.vpos, p.filepos, k, x->e[k].offset,
				 x->e[k].vpos, x->e[k].filepos);
		assert_true(p.offset <= off);
	}
	/*
	 * By vpos: every byte position of a small segment; of a large one, the
	 * first, second and last byte of every message (its '\n') and every
	 * 13th byte. Plus a few past the end.
	 */
	bool every = m->end_vpos - m->base_vpos <= 200000;
	k = 0;
	size_t j = 0;
	for (uint64_t v = m->base_vpos; v < m->end_vpos + 3; v++) {
		while (j + 1 < m->n && m->r[j + 1].vpos <= v)
			j++;
		if (!every && v < m->end_vpos && v != m->r[j].vpos &&
		    v != m->r[j].vpos + 1 && v != m->r[j].vpos + m->r[j].len &&
		    v % 13 != 0)
			continue;
		while (k + 1 < x->n && x->e[k + 1].vpos <= v)
			k++;
		assert_int_equal(segment_find_vpos(s, v, &p), 0);
		if (p.offset != x->e[k].offset || p.vpos != x->e[k].vpos ||
		    p.filepos != x->e[k].filepos)
			fail_msg("find_vpos(%" PRIu64 ") = {%" PRIu64 ", %" PRIu64 ", %" PRIu64
				 "}, expected index entry %zu {%" PRIu64 ", %" PRIu64 ", %" PRIu64 "}",
				 v, p.offset, p.vpos, p.filepos, k, x->e[k].offset,
				 x->e[k].vpos, x->e[k].filepos);
		assert_true(p.vpos <= v);
		/* The scan from there is bounded: at most one interval plus a record. */
		uint64_t target_fp = v < m->end_vpos ? m->r[j].filepos : m->size;
		assert_true(target_fp >= p.filepos);
		assert_true(target_fp - p.filepos <
			    SEG_INDEX_INTERVAL + RECORD_HDR_SIZE + (uint64_t)m->maxlen);
	}
}

/* Walk every record with seg_reader and compare with the model. */
static void check_reader(const struct segment *s, const struct model *m)
{
	struct seg_reader r;
	struct record_hdr h;
	const uint8_t *hb, *pl;
	seg_reader_init(&r, s, SEG_HDR_SIZE, s->size);
	for (size_t j = 0; j < m->n; j++) {
		const struct rec_info *ri = &m->r[j];
		assert_true(r.filepos == ri->filepos);
		int rc = seg_reader_next(&r, &h, &hb, &pl, true);
		if (rc != 1)
			fail_msg("seg_reader_next at record %" PRIu64 ": %d", ri->offset, rc);
		assert_int_equal(h.len, ri->len);
		assert_true(h.origin_offset == rec_origin_offset(ri->offset));
		assert_true(h.timestamp_ns == rec_ts(ri->offset));
		assert_int_equal(h.origin_idx, rec_idx(ri->offset));
		assert_int_equal(h.flags, RECORD_F_XXH3);
		assert_true(pl == hb + RECORD_HDR_SIZE);
		assert_true(record_verify(hb, h.len));
		for (uint32_t k = 0; k < h.len; k++)
			if (pl[k] != rec_byte(ri->offset, k))
				fail_msg("record %" PRIu64 " payload byte %u differs",
					 ri->offset, k);
	}
	assert_true(r.filepos == m->size);
	assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, true), 0);
	assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, true), 0);
	seg_reader_free(&r);
}

static void check_all(const struct segment *s, const struct model *m)
{
	struct idx x;
	check_ends(s, m);
	check_index(s, m, &x);
	check_find(s, m, &x);
	check_reader(s, m);
	free(x.e);
	char name[32];
	segment_name(name, m->base_offset, false);
	assert_true((uint64_t)file_size(name) == m->size);
}

/* Append NB batches of varied sizes (1 to 9 records each). */
static void fill(struct segment *s, struct model *m, size_t nb)
{
	for (size_t b = 0; b < nb; b++) {
		uint32_t lens[9];
		size_t n = 1 + (b * 5) % 9;
		for (size_t i = 0; i < n; i++)
			lens[i] = vary_len(m->end_offset + i);
		append_batch(s, m, lens, n);
		check_ends(s, m);
	}
}

/* ---- tests -------------------------------------------------------------- */

static void test_segment_name(void **state)
{
	(void)state;
	char out[32];
	segment_name(out, 0, false);
	assert_string_equal(out, "00000000000000000000.seg");
	segment_name(out, 42, true);
	assert_string_equal(out, "00000000000000000042.idx");
	segment_name(out, UINT64_MAX, false);
	assert_string_equal(out, "18446744073709551615.seg");
}

static void test_create_empty(void **state)
{
	(void)state;
	struct segment s;
	assert_int_equal(segment_create(dirfd_, 1000, 5000, SEG_FORMAT_RECORDS, &s), 0);
	assert_true(s.base_offset == 1000 && s.end_offset == 1000);
	assert_true(s.base_vpos == 5000 && s.end_vpos == 5000);
	assert_true(s.size == SEG_HDR_SIZE);
	assert_true(s.idx_count == 0);
	assert_true(s.fd >= 0 && s.idx_fd >= 0);

	size_t len;
	uint8_t *b = read_file("00000000000000001000.seg", &len);
	assert_int_equal(len, SEG_HDR_SIZE);
	assert_memory_equal(b, "SFSSEG\0\0", 8);
	assert_int_equal(get_le32(b + 8), SEG_FORMAT_RECORDS);
	assert_int_equal(get_le32(b + 12), SEG_HDR_SIZE);
	assert_true(get_le64(b + 16) == 1000);
	assert_true(get_le64(b + 24) == 5000);
	free(b);
	assert_int_equal(file_size("00000000000000001000.idx"), IDX_HDR_SIZE);

	struct model m;
	model_init(&m, 1000, 5000);
	check_all(&s, &m);
	segment_close(&s);
	assert_int_equal(s.fd, -1);
	assert_int_equal(s.idx_fd, -1);
	segment_close(&s); /* twice is safe */

	/* Reopened empty, as the last segment. */
	assert_int_equal(segment_open(dirfd_, "00000000000000001000.seg", true, "t", &s), 0);
	check_all(&s, &m);
	segment_close(&s);
	model_free(&m);
}

/*
 * A second create of an existing base fails with -EEXIST and must leave the
 * existing segment (data and index, with their records) alone: "on error
 * nothing is left on disk" is about what the failed call made.
 */
static void test_create_existing_kept(void **state)
{
	(void)state;
	struct segment s, s2;
	struct model m;
	assert_int_equal(segment_create(dirfd_, 1000, 5000, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 1000, 5000);
	fill(&s, &m, 10);
	check_all(&s, &m);
	size_t len0, ilen0, len1 = 0, ilen1 = 0;
	uint8_t *d0 = read_file("00000000000000001000.seg", &len0);
	uint8_t *i0 = read_file("00000000000000001000.idx", &ilen0);

	int rc = segment_create(dirfd_, 1000, 5000, SEG_FORMAT_RECORDS, &s2);
	struct stat st;
	bool seg_there = fstatat(dirfd_, "00000000000000001000.seg", &st, 0) == 0;
	bool idx_there = fstatat(dirfd_, "00000000000000001000.idx", &st, 0) == 0;
	bool same = false;
	if (seg_there && idx_there) {
		uint8_t *d1 = read_file("00000000000000001000.seg", &len1);
		uint8_t *i1 = read_file("00000000000000001000.idx", &ilen1);
		same = len0 == len1 && ilen0 == ilen1 && !memcmp(d0, d1, len0) &&
		       !memcmp(i0, i1, ilen0);
		free(d1);
		free(i1);
	}
	free(d0);
	free(i0);
	segment_close(&s);
	model_free(&m);
	/* Cleaned up first, so that a failure leaks nothing. */
	assert_int_equal(rc, -EEXIST);
	if (!seg_there)
		fail_msg("segment_create of an existing base returned %d and removed "
			 "the existing data file 00000000000000001000.seg (%zu bytes)",
			 rc, len0);
	if (!idx_there)
		fail_msg("segment_create of an existing base removed the existing index file");
	assert_true(same);
}

static void test_append_and_find(void **state)
{
	(void)state;
	struct segment s;
	struct model m;
	assert_int_equal(segment_create(dirfd_, 100, 7000, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 100, 7000);
	fill(&s, &m, 60);
	/* Single records too, and an empty one at the very end. */
	uint32_t one = 4500, zero = 0;
	append_batch(&s, &m, &one, 1);
	append_batch(&s, &m, &zero, 1);
	assert_true(m.n > 250);
	assert_true(m.size > 20 * SEG_INDEX_INTERVAL);
	check_all(&s, &m);

	/* Spot checks with the values written down: offset 100 is the first
	 * record, at vpos 7000 and file position 32. */
	struct seg_pos p;
	assert_int_equal(segment_find_offset(&s, 100, &p), 0);
	assert_true(p.offset == 100 && p.vpos == 7000 && p.filepos == 32);
	assert_int_equal(segment_find_vpos(&s, 7000, &p), 0);
	assert_true(p.offset == 100 && p.vpos == 7000 && p.filepos == 32);
	assert_int_equal(segment_find_vpos(&s, 7001, &p), 0);
	assert_true(p.offset == 100);
	/* The empty record after the 4500-byte one starts more than an
	 * interval after any earlier record, so it is indexed: finding it (by
	 * offset, or by its vpos, its '\n') lands exactly on it. */
	const struct rec_info *big = &m.r[m.n - 2], *last = &m.r[m.n - 1];
	assert_int_equal(big->len, 4500);
	assert_int_equal(last->len, 0);
	assert_true(last->vpos == big->vpos + 4501);
	assert_true(last->filepos == big->filepos + RECORD_HDR_SIZE + 4500);
	assert_int_equal(segment_find_offset(&s, last->offset, &p), 0);
	assert_true(p.offset == last->offset && p.filepos == last->filepos);
	assert_int_equal(segment_find_vpos(&s, last->vpos, &p), 0);
	assert_true(p.offset == last->offset && p.vpos == last->vpos);
	/* A byte inside the big record: an entry at or before it. */
	assert_int_equal(segment_find_vpos(&s, big->vpos + 4000, &p), 0);
	assert_true(p.offset <= big->offset && p.vpos <= big->vpos);
	/* Past the end: the last entry. */
	assert_int_equal(segment_find_offset(&s, m.end_offset + 100, &p), 0);
	assert_true(p.offset == last->offset);
	/* The middle. */
	const struct rec_info *mid = &m.r[m.n / 2];
	assert_int_equal(segment_find_offset(&s, mid->offset, &p), 0);
	assert_true(p.offset <= mid->offset && mid->filepos - p.filepos <
		    SEG_INDEX_INTERVAL + RECORD_HDR_SIZE + m.maxlen);
	segment_close(&s);
	model_free(&m);
}

/* One segment_append of many records: more than 64 index entries at once. */
static void test_append_large_batch(void **state)
{
	(void)state;
	struct segment s;
	struct model m;
	assert_int_equal(segment_create(dirfd_, 0, 0, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 0, 0);
	uint32_t lens[200];
	for (size_t i = 0; i < 200; i++)
		lens[i] = 2000 + (uint32_t)(i % 3) * 500;
	append_batch(&s, &m, lens, 200);
	assert_true(s.idx_count > 64);
	check_all(&s, &m);
	/* And a second large batch after it. */
	append_batch(&s, &m, lens, 150);
	assert_true(s.idx_count > 128);
	check_all(&s, &m);
	segment_close(&s);
	model_free(&m);
}

static void test_reader(void **state)
{
	(void)state;
	struct segment s;
	struct model m;
	assert_int_equal(segment_create(dirfd_, 7, 70, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 7, 70);
	fill(&s, &m, 10);
	/* A record bigger than the reader's 256 KiB buffer. */
	uint32_t huge = 300000;
	append_batch(&s, &m, &huge, 1);
	fill(&s, &m, 5);
	check_reader(&s, &m);

	struct seg_reader r;
	struct record_hdr h;
	const uint8_t *hb, *pl;

	/* Starting at an index entry in the middle. */
	struct seg_pos p;
	const struct rec_info *ri = &m.r[m.n - 3];
	assert_int_equal(segment_find_offset(&s, ri->offset, &p), 0);
	seg_reader_init(&r, &s, p.filepos, s.size);
	uint64_t off = p.offset;
	int rc;
	while ((rc = seg_reader_next(&r, &h, &hb, &pl, true)) == 1) {
		const struct rec_info *q = model_rec(&m, off);
		assert_int_equal(h.len, q->len);
		assert_true(h.origin_offset == rec_origin_offset(off));
		off++;
	}
	assert_int_equal(rc, 0);
	assert_true(off == m.end_offset);
	seg_reader_free(&r);

	/* A limit inside a record: -ENODATA for that record. */
	const struct rec_info *q = &m.r[3];
	seg_reader_init(&r, &s, SEG_HDR_SIZE, q->filepos + RECORD_HDR_SIZE + q->len / 2);
	for (int i = 0; i < 3; i++)
		assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, true), 1);
	assert_true(r.filepos == q->filepos);
	assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, true), -ENODATA);
	seg_reader_free(&r);
	/* A limit inside a header too. */
	seg_reader_init(&r, &s, q->filepos, q->filepos + 10);
	assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, true), -ENODATA);
	seg_reader_free(&r);
	/* A limit exactly at a record boundary: 0. */
	seg_reader_init(&r, &s, q->filepos, q->filepos);
	assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, true), 0);
	seg_reader_free(&r);

	/* A flipped payload byte: -EBADMSG when verifying, the record without. */
	const struct rec_info *c = NULL;
	for (size_t j = 5; j < m.n; j++)
		if (m.r[j].len > 10) {
			c = &m.r[j];
			break;
		}
	assert_non_null(c);
	uint8_t byte;
	uint64_t where = c->filepos + RECORD_HDR_SIZE + 5;
	assert_int_equal(pread(s.fd, &byte, 1, where), 1);
	byte ^= 0x10;
	assert_int_equal(pwrite(s.fd, &byte, 1, where), 1);
	seg_reader_init(&r, &s, c->filepos, s.size);
	assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, true), -EBADMSG);
	seg_reader_free(&r);
	seg_reader_init(&r, &s, c->filepos, s.size);
	assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, false), 1);
	assert_int_equal(h.len, c->len);
	assert_false(record_verify(hb, h.len));
	seg_reader_free(&r);

	/* An impossible length: -EBADMSG. */
	uint8_t lenbytes[4];
	put_le32(lenbytes, SEG_MAX_RECORD + 1);
	assert_int_equal(pwrite(s.fd, lenbytes, 4, m.r[1].filepos + 4), 4);
	seg_reader_init(&r, &s, m.r[1].filepos, s.size);
	assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, false), -EBADMSG);
	seg_reader_free(&r);

	segment_close(&s);
	model_free(&m);
}

static void test_reopen(void **state)
{
	(void)state;
	struct segment s;
	struct model m;
	assert_int_equal(segment_create(dirfd_, 500, 123456, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 500, 123456);
	fill(&s, &m, 40);
	uint64_t idx_count = s.idx_count;
	size_t ilen0, ilen1;
	uint8_t *idx0 = read_file("00000000000000000500.idx", &ilen0);
	segment_close(&s);

	/* As the last segment: exact end, index untouched. */
	assert_int_equal(segment_open(dirfd_, "00000000000000000500.seg", true, "t", &s), 0);
	check_ends(&s, &m);
	assert_true(s.idx_count == idx_count);
	uint8_t *idx1 = read_file("00000000000000000500.idx", &ilen1);
	assert_int_equal(ilen0, ilen1);
	assert_memory_equal(idx0, idx1, ilen0);
	free(idx1);
	check_all(&s, &m);

	/* Appending after a reopen continues the index correctly. */
	fill(&s, &m, 30);
	check_all(&s, &m);
	segment_close(&s);

	/* Not last: base fields and size; the caller sets end_*. */
	assert_int_equal(segment_open(dirfd_, "00000000000000000500.seg", false, "t", &s), 0);
	assert_true(s.base_offset == 500);
	assert_true(s.base_vpos == 123456);
	assert_true(s.size == m.size);
	struct idx x;
	idx_load(500, &x);
	assert_true(s.idx_count == x.n);
	s.end_offset = m.end_offset;
	s.end_vpos = m.end_vpos;
	check_find(&s, &m, &x);
	check_reader(&s, &m);
	free(x.e);
	segment_close(&s);

	/* And last again: same. */
	assert_int_equal(segment_open(dirfd_, "00000000000000000500.seg", true, "t", &s), 0);
	check_all(&s, &m);
	segment_close(&s);
	free(idx0);
	model_free(&m);
}

/*
 * A failed write appends nothing: the file is cut back and the segment is
 * unchanged (segment.h: "All or nothing"). The failure is made with a file
 * size limit (RLIMIT_FSIZE, SIGXFSZ ignored) just past the current end, so
 * the write is partly done before it fails.
 */
static void test_append_all_or_nothing(void **state)
{
	(void)state;
	struct segment s;
	struct model m;
	assert_int_equal(segment_create(dirfd_, 0, 0, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 0, 0);
	fill(&s, &m, 20);
	struct idx x;
	idx_load(0, &x);
	uint64_t idx_count = s.idx_count;
	free(x.e);

	/* Three records of 200 bytes, built as append_batch would. */
	uint8_t buf[3 * (RECORD_HDR_SIZE + 200)];
	for (size_t i = 0; i < 3; i++) {
		uint8_t *r = buf + i * (RECORD_HDR_SIZE + 200);
		memset(r + RECORD_HDR_SIZE, 'q', 200);
		struct record_hdr h = { .len = 200, .origin_offset = i };
		record_encode(r, &h);
	}
	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = m.size + 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = segment_append(&s, buf, sizeof(buf), 3);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);

	assert_true(rc < 0);
	check_ends(&s, &m);
	assert_true(s.idx_count == idx_count);
	check_all(&s, &m);	/* file cut back to m.size, index as before */

	/* And the segment goes on. */
	fill(&s, &m, 5);
	check_all(&s, &m);
	segment_close(&s);
	assert_int_equal(segment_open(dirfd_, "00000000000000000000.seg", true, "t", &s), 0);
	check_all(&s, &m);
	segment_close(&s);
	model_free(&m);
}

/* Cut the data file to LEN bytes and append GARBAGE_LEN bytes of garbage. */
static void mangle_tail(const char *name, uint64_t len, size_t garbage_len)
{
	int fd = openat(dirfd_, name, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, len), 0);
	if (garbage_len) {
		uint8_t *g = malloc(garbage_len);
		assert_non_null(g);
		for (size_t i = 0; i < garbage_len; i++)
			g[i] = (uint8_t)(0xA5 ^ (i * 13));
		assert_int_equal(pwrite(fd, g, garbage_len, len), (ssize_t)garbage_len);
		free(g);
	}
	close(fd);
}

/* Drop the model's last record. */
static void model_pop(struct model *m)
{
	const struct rec_info *r = &m->r[m->n - 1];
	m->end_offset--;
	m->end_vpos = r->vpos;
	m->size = r->filepos;
	m->n--;
}

/*
 * A torn last record: CUT is how many bytes of it survive (from its start),
 * GARBAGE how many bytes of garbage follow. BIG_TAIL makes the last records
 * large, so the torn one has an index entry of its own.
 */
static void torn_tail_case(uint64_t base, size_t cut_mode, size_t garbage, bool big_tail)
{
	char name[32];
	struct segment s;
	struct model m;
	segment_name(name, base, false);
	assert_int_equal(segment_create(dirfd_, base, base * 10, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, base, base * 10);
	fill(&s, &m, 25);
	if (big_tail) {
		uint32_t lens[3] = { 5000, 5000, 5000 };
		append_batch(&s, &m, lens, 3);
	} else {
		uint32_t len = 333;
		append_batch(&s, &m, &len, 1);
	}
	check_all(&s, &m);
	uint64_t idx_before = s.idx_count;
	const struct rec_info last = m.r[m.n - 1];
	struct idx x;
	idx_load(base, &x);
	bool last_indexed = x.e[x.n - 1].offset == last.offset;
	free(x.e);
	if (big_tail)
		assert_true(last_indexed);
	segment_close(&s);

	uint64_t keep;
	switch (cut_mode) {
	case 0: keep = RECORD_HDR_SIZE + last.len / 2; break;	/* mid payload */
	case 1: keep = 10; break;				/* mid header */
	case 2: keep = 1; break;				/* one byte */
	case 3: keep = RECORD_HDR_SIZE + last.len - 1; break;	/* one byte short */
	default: keep = RECORD_HDR_SIZE + last.len; break;	/* whole: garbage only */
	}
	mangle_tail(name, last.filepos + keep, garbage);
	bool torn = cut_mode <= 3;

	assert_int_equal(segment_open(dirfd_, name, true, "torn", &s), 0);
	if (torn)
		model_pop(&m);
	/* end_offset dropped by one (if torn); the file is cut at the good end. */
	assert_true(s.end_offset == (torn ? last.offset : last.offset + 1));
	check_all(&s, &m);
	/* The torn record's index entry, if it had one, is gone. */
	assert_true(s.idx_count == idx_before - (torn && last_indexed ? 1 : 0));

	/* The repaired segment takes new appends, and reopens the same. */
	fill(&s, &m, 3);
	check_all(&s, &m);
	segment_close(&s);
	assert_int_equal(segment_open(dirfd_, name, true, "torn", &s), 0);
	check_all(&s, &m);
	segment_close(&s);
	model_free(&m);
}

static void test_torn_tail(void **state)
{
	(void)state;
	/* The brief's case: cut in the middle of the last record, plus garbage. */
	torn_tail_case(1000, 0, 100, false);
	torn_tail_case(2000, 0, 0, false);
	torn_tail_case(3000, 1, 57, false);
	torn_tail_case(4000, 2, 0, false);
	torn_tail_case(5000, 3, 0, false);
	torn_tail_case(6000, 3, 5000, false);
	torn_tail_case(7000, 4, 200, false);	/* garbage after a whole record */
	torn_tail_case(8000, 0, 100, true);
	torn_tail_case(9000, 1, 0, true);
	torn_tail_case(10000, 0, 9000, true);
}

/* Flip one payload byte of record R in segment S's data file. */
static void flip_payload_byte(const struct segment *s, const struct rec_info *r)
{
	uint8_t b;
	uint64_t where = r->filepos + RECORD_HDR_SIZE + r->len / 2;
	assert_int_equal(pread(s->fd, &b, 1, where), 1);
	b ^= 1;
	assert_int_equal(pwrite(s->fd, &b, 1, where), 1);
}

/*
 * In the tail that segment_open(last) checks, a whole record that fails its
 * checksum but is followed by a good record was damaged in place: it is
 * kept (end_* unchanged; reads report it). A bad record at the very end is
 * what a torn write leaves: it is cut.
 */
static void test_corrupt_tail_cut(void **state)
{
	(void)state;
	struct segment s;
	struct model m;
	assert_int_equal(segment_create(dirfd_, 0, 0, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 0, 0);
	fill(&s, &m, 40);
	struct idx x;
	idx_load(0, &x);
	uint64_t last_entry = x.e[x.n - 1].offset;
	free(x.e);
	/* A non-empty record after the last entry, with records after it. */
	size_t bad = last_entry + 1;
	while (bad < m.n && m.r[bad].len == 0)
		bad++;
	if (bad + 1 >= m.n) {	/* make room: more small records */
		uint32_t lens[6] = { 10, 20, 30, 40, 50, 60 };
		append_batch(&s, &m, lens, 6);
		bad = m.n - 4;
	}
	assert_true(m.r[bad].len > 0);
	const struct rec_info r = m.r[bad];
	flip_payload_byte(&s, &r);
	uint64_t end_offset = s.end_offset, end_vpos = s.end_vpos, size = s.size;
	segment_close(&s);
	assert_int_equal(segment_open(dirfd_, "00000000000000000000.seg", true, "t", &s), 0);
	assert_true(s.end_offset == end_offset);
	assert_true(s.end_vpos == end_vpos);
	assert_true(s.size == size);

	/* Now damage the last record: that one is cut. */
	while (m.r[m.n - 1].len == 0)
		model_pop(&m);
	const struct rec_info last = m.r[m.n - 1];
	flip_payload_byte(&s, &last);
	segment_close(&s);
	assert_int_equal(segment_open(dirfd_, "00000000000000000000.seg", true, "t", &s), 0);
	assert_true(s.end_offset == last.offset);
	assert_true(s.end_vpos == last.vpos);
	assert_true(s.size == last.filepos);
	segment_close(&s);
	model_free(&m);
}

/*
 * A corrupt record before the last index entry is not part of the tail:
 * segment_open(last) keeps the segment whole (end_* unchanged), and the
 * reader reports the record as -EBADMSG.
 */
static void test_corrupt_middle_kept(void **state)
{
	(void)state;
	struct segment s;
	struct model m;
	assert_int_equal(segment_create(dirfd_, 0, 0, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 0, 0);
	fill(&s, &m, 40);
	struct idx x;
	idx_load(0, &x);
	assert_true(x.n > 3);
	uint64_t before_entry = x.e[x.n - 2].offset;
	free(x.e);
	size_t bad = before_entry + 1;
	while (m.r[bad].len == 0)
		bad++;
	const struct rec_info r = m.r[bad];
	flip_payload_byte(&s, &r);
	segment_close(&s);
	assert_int_equal(segment_open(dirfd_, "00000000000000000000.seg", true, "t", &s), 0);
	check_ends(&s, &m);
	check_index(&s, &m, &x);
	check_find(&s, &m, &x);
	free(x.e);
	struct seg_reader rd;
	struct record_hdr h;
	const uint8_t *hb, *pl;
	seg_reader_init(&rd, &s, SEG_HDR_SIZE, s.size);
	for (size_t j = 0; j < bad; j++)
		assert_int_equal(seg_reader_next(&rd, &h, &hb, &pl, true), 1);
	assert_int_equal(seg_reader_next(&rd, &h, &hb, &pl, true), -EBADMSG);
	seg_reader_free(&rd);
	segment_close(&s);
	model_free(&m);
}

static void test_missing_index_rebuilt(void **state)
{
	(void)state;
	struct segment s;
	struct model m;
	assert_int_equal(segment_create(dirfd_, 77, 770, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 77, 770);
	fill(&s, &m, 50);
	uint64_t count = s.idx_count;
	assert_true(count > 3);
	size_t ilen0, ilen1;
	uint8_t *idx0 = read_file("00000000000000000077.idx", &ilen0);
	segment_close(&s);

	/* Missing: rebuilt, identical. */
	assert_int_equal(unlinkat(dirfd_, "00000000000000000077.idx", 0), 0);
	assert_int_equal(segment_open(dirfd_, "00000000000000000077.seg", true, "t", &s), 0);
	assert_true(s.idx_count == count);
	check_all(&s, &m);
	segment_close(&s);
	uint8_t *idx1 = read_file("00000000000000000077.idx", &ilen1);
	assert_int_equal(ilen0, ilen1);
	assert_memory_equal(idx0, idx1, ilen0);
	free(idx1);

	/* Lost entries (cut in the middle of an entry): rebuilt. */
	int fd = openat(dirfd_, "00000000000000000077.idx", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IDX_HDR_SIZE + 2 * IDX_ENTRY_SIZE + 7), 0);
	close(fd);
	assert_int_equal(segment_open(dirfd_, "00000000000000000077.seg", true, "t", &s), 0);
	assert_true(s.idx_count == count);
	check_all(&s, &m);
	segment_close(&s);
	idx1 = read_file("00000000000000000077.idx", &ilen1);
	assert_int_equal(ilen0, ilen1);
	assert_memory_equal(idx0, idx1, ilen0);
	free(idx1);

	/* An entry pointing past the data (the OS lost data under it): dropped. */
	fd = openat(dirfd_, "00000000000000000077.idx", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	uint8_t e[IDX_ENTRY_SIZE];
	put_le64(e, m.end_offset + 5);
	put_le64(e + 8, m.end_vpos + 500);
	put_le64(e + 16, m.size + 4096);
	assert_int_equal(pwrite(fd, e, sizeof(e), ilen0), (ssize_t)sizeof(e));
	close(fd);
	assert_int_equal(segment_open(dirfd_, "00000000000000000077.seg", true, "t", &s), 0);
	assert_true(s.idx_count == count);
	check_all(&s, &m);
	segment_close(&s);

	/* Only the header left: rebuilt. */
	fd = openat(dirfd_, "00000000000000000077.idx", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IDX_HDR_SIZE), 0);
	close(fd);
	assert_int_equal(segment_open(dirfd_, "00000000000000000077.seg", true, "t", &s), 0);
	check_all(&s, &m);
	segment_close(&s);
	idx1 = read_file("00000000000000000077.idx", &ilen1);
	assert_int_equal(ilen0, ilen1);
	assert_memory_equal(idx0, idx1, ilen0);
	free(idx1);
	free(idx0);
	model_free(&m);
}

/* Write LEN bytes of BUF as file NAME (replacing it). */
static void write_file(const char *name, const void *buf, size_t len)
{
	int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	if (len)
		assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void test_bad_header(void **state)
{
	(void)state;
	struct segment s;
	struct model m;
	const char *name = "00000000000000000000.seg";
	assert_int_equal(segment_create(dirfd_, 0, 0, SEG_FORMAT_RECORDS, &s), 0);
	model_init(&m, 0, 0);
	fill(&s, &m, 5);
	segment_close(&s);
	size_t len;
	uint8_t *orig = read_file(name, &len);

	for (int last = 0; last <= 1; last++) {
		/* Bad magic. */
		uint8_t *b = malloc(len);
		assert_non_null(b);
		memcpy(b, orig, len);
		b[3] = 'X';
		write_file(name, b, len);
		memset(&s, 0x55, sizeof(s));
		assert_int_equal(segment_open(dirfd_, name, last, "t", &s), -EPROTO);
		assert_int_equal(s.fd, -1);
		assert_int_equal(s.idx_fd, -1);
		segment_close(&s);

		/* Newer version. */
		memcpy(b, orig, len);
		put_le32(b + 8, SEG_FORMAT_VERSION + 1);
		write_file(name, b, len);
		assert_int_equal(segment_open(dirfd_, name, last, "t", &s), -EPROTO);
		assert_int_equal(s.fd, -1);
		memcpy(b, orig, len);
		put_le32(b + 8, 0xFFFFFFFFu);
		write_file(name, b, len);
		assert_int_equal(segment_open(dirfd_, name, last, "t", &s), -EPROTO);
		assert_int_equal(s.fd, -1);

		/* Shorter than the header: -ENODATA. */
		static const size_t shorts[] = { 0, 1, 8, 16, SEG_HDR_SIZE - 1 };
		for (size_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++) {
			write_file(name, orig, shorts[i]);
			assert_int_equal(segment_open(dirfd_, name, last, "t", &s), -ENODATA);
			assert_int_equal(s.fd, -1);
			assert_int_equal(s.idx_fd, -1);
		}

		/* The original opens fine. */
		write_file(name, orig, len);
		assert_int_equal(segment_open(dirfd_, name, last, "t", &s), 0);
		if (last)
			check_all(&s, &m);
		segment_close(&s);
		free(b);
	}

	/* A missing data file: -ENOENT. */
	assert_int_equal(segment_open(dirfd_, "00000000000000000999.seg", true, "t", &s),
			 -ENOENT);
	free(orig);
	model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segment_name),
		cmocka_unit_test_setup_teardown(test_create_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_existing_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_and_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_large_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_tail_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_middle_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_index_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
