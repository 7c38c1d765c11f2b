/*
 * gen_seeds.c - writes the binary seed inputs of fuzz/corpus/record,
 * fuzz/corpus/recovery and fuzz/corpus/frame (the text seeds of control and
 * config are plain files kept as they are). Run again when the on-disk
 * format or the gateway's wire format changes:
 *
 *   clang -I. -Ifs -Ireplication fuzz/gen_seeds.c fs/local/record.c fs/names.c \
 *       replication/frame.c -lxxhash -llz4 -lzstd -luuid -o build/gen_seeds
 *   build/gen_seeds fuzz/corpus
 *
 * Input layouts: the header comment of each target and docs/fuzzing.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lz4.h>
#include <zstd.h>

#include "frame.h"
#include "local/record.h"
#include "local/segment.h"
#include "fs/util/byteorder.h"

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
	put_le32(h + 8, SEG_FORMAT_RECORDS);
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

/* Frame-target input modes (fuzz_frame.c): byte 0. */
#define FR_RAW 0x00
#define FR_BODY(type, comp) (0x01 | (type) << 1 | (comp) << 4)

/* One encoded frame (rc checked) as a gw_buf. */
static void frame_ok(int rc, const char *what)
{
	if (rc != 0) {
		fprintf(stderr, "gen_seeds: encoding %s: %d\n", what, rc);
		exit(1);
	}
}

/* A raw-mode input: FR_RAW, then the whole frame. */
static void save_raw(const char *name, struct gw_buf *g)
{
	struct buf b = { .n = 0 };
	u8(&b, FR_RAW);
	put(&b, g->p, g->len);
	save("frame", name, &b);
	g->len = 0;
}

/* A body-mode input: the body of the frame in G compressed by COMP
 * (lz4 or zstd, whatever its size), under a header the harness builds. */
static void save_body_compressed(const char *name, struct gw_buf *g,
				 enum gw_compression comp)
{
	struct buf b = { .n = 0 };
	const uint8_t *body = g->p + GW_FRAME_HEADER;
	size_t len = g->len - GW_FRAME_HEADER;
	uint8_t z[4096];
	size_t n;
	if (comp == GW_COMP_LZ4) {
		int r = LZ4_compress_default((const char *)body, (char *)z,
					     (int)len, (int)sizeof(z));
		n = r > 0 ? (size_t)r : 0;
	} else {
		n = ZSTD_compress(z, sizeof(z), body, len, 1);
		n = ZSTD_isError(n) ? 0 : n;
	}
	if (!n) {
		fprintf(stderr, "gen_seeds: cannot compress %s\n", name);
		exit(1);
	}
	u8(&b, FR_BODY(g->p[4], comp));
	uint8_t prefix[4];
	put_le32(prefix, (uint32_t)len);
	put(&b, prefix, 4);
	put(&b, z, n);
	save("frame", name, &b);
	g->len = 0;
}

static void frame_seeds(void)
{
	struct gw_buf g = { 0 };
	struct topic_msg m[3] = {
		{ .payload = (const uint8_t *)"hello", .len = 5,
		  .origin_offset = 0, .timestamp_ns = 1700000000000000000ull },
		{ .payload = (const uint8_t *)"", .len = 0,
		  .origin_offset = 1, .timestamp_ns = 1700000000000000001ull },
		{ .payload = (const uint8_t *)"a message with a\nnewline inside",
		  .len = 31, .origin_offset = 7,
		  .timestamp_ns = 1700000000000000002ull },
	};
	for (int i = 0; i < 3; i++) {
		memcpy(m[i].origin_stream, a_stream, 16);
		memcpy(m[i].origin_topic, a_topic, 16);
	}

	frame_ok(gw_encode_hello(&g, "newyork"), "hello");
	save_raw("seed-hello", &g);
	frame_ok(gw_encode_open(&g, "sanfrancisco", "activity", "activity"),
		 "open");
	save_raw("seed-open", &g);
	frame_ok(gw_encode_topic(&g, "sanfrancisco", "activity", "activity",
				 topic_uuid, "logins", 1000, 1000, 0100644),
		 "topic");
	save_raw("seed-topic", &g);
	frame_ok(gw_encode_append(&g, GW_COMP_NONE, "sanfrancisco", "activity",
				  "activity", topic_uuid, "logins", 1000, 1000,
				  0100644, m, 3), "append");
	save_raw("seed-append", &g);
	frame_ok(gw_encode_result(&g, -EACCES, 0, stream_uuid,
				  "sanfrancisco/activity is not an upstream"),
		 "result");
	save_raw("seed-result", &g);

	/* Compressible appends: 20 copies of the messages, so that lz4 and
	 * zstd do shrink them (else the encoder sends them plain). */
	struct topic_msg many[60];
	for (int i = 0; i < 60; i++) {
		many[i] = m[i % 3];
		many[i].origin_offset = (uint64_t)i;
	}
	frame_ok(gw_encode_append(&g, GW_COMP_LZ4, "sf", "s", "d", topic_uuid,
				  "t", 0, 0, 0600, many, 60), "append lz4");
	if (g.p[5] != GW_COMP_LZ4) {
		fprintf(stderr, "gen_seeds: seed-append-lz4 is not compressed\n");
		exit(1);
	}
	save_raw("seed-append-lz4", &g);
	frame_ok(gw_encode_append(&g, GW_COMP_ZSTD, "sf", "s", "d", topic_uuid,
				  "t", 0, 0, 0600, many, 60), "append zstd");
	if (g.p[5] != GW_COMP_ZSTD) {
		fprintf(stderr, "gen_seeds: seed-append-zstd is not compressed\n");
		exit(1);
	}
	save_raw("seed-append-zstd", &g);

	/* Body mode: plain, and compressed bodies of other types. */
	struct buf b = { .n = 0 };
	frame_ok(gw_encode_topic(&g, "sf", "s", "d", topic_uuid, "t", 1, 2, 3),
		 "topic");
	u8(&b, FR_BODY(GW_TOPIC, GW_COMP_NONE));
	put(&b, g.p + GW_FRAME_HEADER, g.len - GW_FRAME_HEADER);
	save("frame", "seed-body-topic", &b);
	g.len = 0;
	frame_ok(gw_encode_open(&g, "sf", "activity", "activity"), "open");
	save_body_compressed("seed-body-open-lz4", &g, GW_COMP_LZ4);
	frame_ok(gw_encode_result(&g, 0, 3, stream_uuid, ""), "result");
	save_body_compressed("seed-body-result-zstd", &g, GW_COMP_ZSTD);
	gw_buf_free(&g);
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
	frame_seeds();
	return 0;
}
