/*
 * gen_seeds.c - writes the binary seed inputs of fuzz/corpus/record and
 * fuzz/corpus/recovery (the text seeds of control and config are plain
 * files kept as they are). Run again when the on-disk format changes:
 *
 *   clang -I. -Ifs fuzz/gen_seeds.c fs/record.c -lxxhash -o build/gen_seeds
 *   build/gen_seeds fuzz/corpus
 *
 * Input layouts: the header comment of each target and docs/fuzzing.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "record.h"
#include "segment.h"

/* Recovery-target flags (fuzz_recovery.c). */
#define F_TOPIC 0x01
#define F_SEGHDR 0x02
#define F_FIXSUM 0x04
#define F_IDX 0x08
#define F_IDXHDR 0x10
#define F_CKPT 0x20
#define F_RAWORIG 0x40
#define F_APPEND 0x80

/* fuzz_recovery.c's fixed UUIDs, as bytes. */
static const uint8_t stream_uuid[16] = { 0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a,
	0x49, 0x08, 0x87, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x00 };
static const uint8_t topic_uuid[16] = { 0x5b, 0x1b, 0x4b, 0x64, 0x8a, 0x3c,
	0x4b, 0xf4, 0x9d, 0x0e, 0x2f, 0x8f, 0x5a, 0x3b, 0x9c, 0x01 };

/* Origin A of the replicated appends (fuzz_recovery.c). */
static const uint8_t a_stream[16] = { 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0,
	0x4a, 0x0a, 0x8a, 0x0a, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0 };
static const uint8_t a_topic[16] = { 0xb1, 0xb1, 0xb1, 0xb1, 0xb1, 0xb1,
	0x4b, 0x1b, 0x9b, 0x1b, 0xb1, 0xb1, 0xb1, 0xb1, 0xb1, 0xb1 };

struct buf {
	uint8_t b[65536];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->n + n > sizeof(b->b)) {
		fprintf(stderr, "gen_seeds: buffer full\n");
		exit(1);
	}
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void u8(struct buf *b, uint8_t v) { put(b, &v, 1); }

static void u16(struct buf *b, uint16_t v)
{
	uint8_t x[2];
	put_le16(x, v);
	put(b, x, 2);
}

/* One record of PAYLOAD, valid checksum, origin ORIGIN_IDX / OFFSET. */
static void rec(struct buf *b, const char *payload, uint64_t offset,
		uint16_t origin_idx)
{
	uint8_t r[RECORD_HDR_SIZE + 512];
	size_t len = strlen(payload);
	memcpy(r + RECORD_HDR_SIZE, payload, len);
	struct record_hdr h = { .len = (uint32_t)len, .origin_offset = offset,
				.timestamp_ns = 1700000000000000000ull + offset,
				.origin_idx = origin_idx };
	record_encode(r, &h);
	put(b, r, RECORD_HDR_SIZE + len);
}

static void seg_hdr(struct buf *b, uint64_t base_offset, uint64_t base_vpos)
{
	uint8_t h[SEG_HDR_SIZE] = { 0 };
	memcpy(h, "SFSSEG\0\0", 8);
	put_le32(h + 8, SEG_FORMAT_VERSION);
	put_le32(h + 12, SEG_HDR_SIZE);
	put_le64(h + 16, base_offset);
	put_le64(h + 24, base_vpos);
	put(b, h, sizeof(h));
}

static const char *outdir;

static void save(const char *target, const char *name, const struct buf *b)
{
	char path[4096];
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		perror(outdir);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(b->b, 1, b->n, f) != b->n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* The fixed part of a recovery input. */
static void rhead(struct buf *b, uint8_t flags, uint8_t skip, uint8_t rep,
		  uint8_t split, uint8_t chunk, uint16_t idxsel, uint8_t orglen,
		  uint8_t ckptlen)
{
	u8(b, flags);
	u8(b, skip);
	u8(b, rep);
	u8(b, split);
	u8(b, chunk);
	u16(b, idxsel);
	u8(b, orglen);
	u8(b, ckptlen);
}

static void record_seeds(void)
{
	struct buf b = { .n = 0 };

	/* Three good records, verified. */
	u8(&b, 0x01);
	u8(&b, 0);
	rec(&b, "hello", 0, 0);
	rec(&b, "", 1, 0);
	rec(&b, "a message with a\nnewline inside", 2, 1);
	save("record", "seed-valid", &b);

	/* A good record, then one cut short; limit 3 bytes short. */
	b.n = 0;
	u8(&b, 0x01);
	u8(&b, 3);
	rec(&b, "first", 0, 0);
	rec(&b, "second, torn", 1, 0);
	b.n -= 5;
	save("record", "seed-torn", &b);

	/* A record with a flipped payload bit between two good ones. */
	b.n = 0;
	u8(&b, 0x01);
	u8(&b, 0);
	rec(&b, "good", 0, 0);
	size_t at = b.n;
	rec(&b, "flipped", 1, 0);
	b.b[at + RECORD_HDR_SIZE + 2] ^= 0x10;
	rec(&b, "good again", 2, 0);
	save("record", "seed-corrupt", &b);

	/* Checksums fixed by the harness, repeated past the reader buffer,
	 * start at position 8 (bits 3-7 = 1), no limit. */
	b.n = 0;
	u8(&b, 0x07 | 1 << 3);
	u8(&b, 255);
	for (int i = 0; i < 8; i++)
		u8(&b, 0);
	char p[300];
	memset(p, 'x', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	rec(&b, p, 0, 0);
	rec(&b, "short", 1, 0);
	save("record", "seed-big", &b);
}

static void recovery_seeds(void)
{
	struct buf b = { .n = 0 };

	/* One segment, three records, harness header and checksums. */
	rhead(&b, F_SEGHDR | F_FIXSUM, 0, 0, 0, 0, 0, 0, 0);
	rec(&b, "one", 0, 0);
	rec(&b, "two", 1, 0);
	rec(&b, "three", 2, 0);
	save("recovery", "seed-segment", &b);

	/* A torn tail, then an append. */
	b.n = 0;
	rhead(&b, F_SEGHDR | F_FIXSUM | F_APPEND, 0, 0, 0, 0, 0, 0, 0);
	rec(&b, "kept", 0, 0);
	rec(&b, "torn at the tail", 1, 0);
	b.n -= 4;
	save("recovery", "seed-torn", &b);

	/* Record 1 keeps a bad checksum between good ones (kept, EIO). */
	b.n = 0;
	rhead(&b, F_SEGHDR | F_FIXSUM, 0x02, 0, 0, 0, 0, 0, 0);
	rec(&b, "good", 0, 0);
	rec(&b, "corrupt", 1, 0);
	b.b[b.n - 1] ^= 1;
	rec(&b, "good after", 2, 0);
	save("recovery", "seed-corrupt-mid", &b);

	/* Repeated 16 times: 16 KiB over several index intervals. */
	b.n = 0;
	rhead(&b, F_SEGHDR | F_FIXSUM | F_APPEND, 0, 15, 0, 7, 0, 0, 0);
	char p[480];
	memset(p, 'm', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	rec(&b, p, 0, 0);
	rec(&b, p + 100, 1, 0);
	save("recovery", "seed-intervals", &b);

	/* A whole segment file as input, with an index of one entry. */
	b.n = 0;
	rhead(&b, F_IDX | F_IDXHDR, 0, 0, 0, 0, 24, 0, 0);
	uint8_t e[24];
	put_le64(e, 0);
	put_le64(e + 8, 0);
	put_le64(e + 16, SEG_HDR_SIZE);
	put(&b, e, sizeof(e));
	seg_hdr(&b, 0, 0);
	rec(&b, "raw one", 0, 0);
	rec(&b, "raw two", 1, 0);
	save("recovery", "seed-raw-idx", &b);

	/* A topic: three segments, the local origin, an append. */
	b.n = 0;
	rhead(&b, F_TOPIC | F_SEGHDR | F_FIXSUM | F_APPEND, 0, 0, 2, 0, 0, 32, 0);
	put(&b, stream_uuid, 16);
	put(&b, topic_uuid, 16);
	for (int i = 0; i < 6; i++) {
		char m[16];
		snprintf(m, sizeof(m), "message %d", i);
		rec(&b, m, (uint64_t)i, 0);
	}
	save("recovery", "seed-topic", &b);

	/* One segment over 4 KiB (16 repeats), so the append rolls; origin A
	 * replicated up to offset 6, then A's offsets 6, 6, 7 sent (chunk 6):
	 * only 7 is applied. */
	b.n = 0;
	rhead(&b, F_TOPIC | F_SEGHDR | F_FIXSUM | F_APPEND, 0, 15, 0, 6, 0, 64, 0);
	put(&b, stream_uuid, 16);
	put(&b, topic_uuid, 16);
	put(&b, a_stream, 16);
	put(&b, a_topic, 16);
	char big[200];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rec(&b, big, 0, 0);
	rec(&b, "from A", 5, 1);
	rec(&b, "from A again", 6, 1);
	save("recovery", "seed-topic-roll", &b);

	/* A topic of two segments with a replicated origin and a checkpoint
	 * (version 1, 2 origins, end offset 2, origin 0 at hwm 1). */
	b.n = 0;
	rhead(&b, F_TOPIC | F_SEGHDR | F_FIXSUM | F_CKPT, 0, 0, 1, 3, 0, 64, 32);
	put(&b, stream_uuid, 16);
	put(&b, topic_uuid, 16);
	for (int i = 0; i < 32; i++)
		u8(&b, (uint8_t)(0x40 + i));
	uint8_t c[32] = { 0 };
	put_le32(c, 1);
	put_le32(c + 4, 2);
	put_le64(c + 8, 2);
	put_le64(c + 16, 2);
	put_le64(c + 24, 0);
	put(&b, c, sizeof(c));
	rec(&b, "local 0", 0, 0);
	rec(&b, "local 1", 1, 0);
	rec(&b, "from elsewhere", 7, 1);
	rec(&b, "local 2", 2, 0);
	save("recovery", "seed-topic-ckpt", &b);

	/* A topic from two whole segment files (no harness headers). With
	 * split = 127 (2 files) the cut is at 127/256 of the body: the second
	 * file is padded with zeros (a torn tail) to put it at the border. */
	b.n = 0;
	rhead(&b, F_TOPIC, 0, 0, 127, 0, 0, 0, 0);
	size_t body = b.n;
	seg_hdr(&b, 0, 0);
	rec(&b, "seg0 a", 0, 0);
	rec(&b, "seg0 b", 1, 0);
	size_t len0 = b.n - body;
	seg_hdr(&b, 2, 14);
	rec(&b, "seg1 a", 2, 0);
	while ((b.n - body) * 127 / 256 < len0)
		u8(&b, 0);
	if ((b.n - body) * 127 / 256 != len0) {
		fprintf(stderr, "gen_seeds: cannot align seed-topic-raw\n");
		exit(1);
	}
	save("recovery", "seed-topic-raw", &b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	record_seeds();
	recovery_seeds();
	return 0;
}
