/*
 * test_frame.c - unit tests of replication/frame.c, the gateway's wire
 * format (layout in frame.h): the exact bytes of a frame, the round trip
 * of every frame type under every compression, the header's and the
 * body's rejects (truncation at every length, trailing bytes, bad names,
 * impossible counts, corrupt compression), the size gain of compression
 * and the fall back to a plain body, and encoders that leave their output
 * as it was on error.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <zstd.h>

#include "fs/util/byteorder.h"
#include "replication/frame.h"
#include "fs/util/byteorder.h"

static const uuid_t U1 = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
			   0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };
static const uuid_t U2 = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
			   0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf };
static const uuid_t U3 = { 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
			   0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f };

static const enum gw_compression comps[] = { GW_COMP_NONE, GW_COMP_LZ4,
					     GW_COMP_ZSTD };

/* ---- the largest single allocation, seen through ASan's malloc hook ---- */

#ifdef __SANITIZE_ADDRESS__
#define HAVE_MALLOC_HOOK 1
int __sanitizer_install_malloc_and_free_hooks(
	void (*malloc_hook)(const volatile void *, size_t),
	void (*free_hook)(const volatile void *));
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_MALLOC_HOOK 1
int __sanitizer_install_malloc_and_free_hooks(
	void (*malloc_hook)(const volatile void *, size_t),
	void (*free_hook)(const volatile void *));
#endif
#endif

static bool hook_on;
static size_t hook_max;

#ifdef HAVE_MALLOC_HOOK
static void on_malloc(const volatile void *p, size_t size)
{
	(void)p;
	if (hook_on && size > hook_max)
		hook_max = size;
}

static void on_free(const volatile void *p)
{
	(void)p;
}
#endif

/* ---- helpers ------------------------------------------------------------- */

/*
 * decode_frame - decode the whole frame at P (LEN bytes): its header, then
 * its body when the header's length is what follows it.
 */
static int decode_frame(const uint8_t *p, size_t len, struct gw_buf *scratch,
			struct gw_frame *f)
{
	struct gw_header h;
	assert_true(len >= GW_FRAME_HEADER);
	int rc = gw_header_decode(p, &h);
	if (rc < 0)
		return rc;
	assert_int_equal(h.length, len - GW_FRAME_HEADER);
	return gw_body_decode(&h, p + GW_FRAME_HEADER, len - GW_FRAME_HEADER,
			      scratch, f);
}

/* body_decode_as - decode LEN body bytes as a frame of TYPE/COMP. */
static int body_decode_as(uint8_t type, uint8_t comp, const uint8_t *body,
			  size_t len, struct gw_buf *scratch, struct gw_frame *f)
{
	struct gw_header h = { .type = type, .compression = comp,
			       .length = (uint32_t)len };
	return gw_body_decode(&h, body, len, scratch, f);
}

/*
 * recompress - the frame at IN (uncompressed) rewritten into OUT with its
 * body compressed by COMP, whether or not that makes it smaller: the
 * decoder must take a compressed body of any type.
 */
static void recompress(const struct gw_buf *in, enum gw_compression comp,
		       struct gw_buf *out)
{
	assert_int_equal(in->p[5], GW_COMP_NONE);
	size_t plain = in->len - GW_FRAME_HEADER;
	const uint8_t *body = in->p + GW_FRAME_HEADER;
	size_t cap = comp == GW_COMP_LZ4 ? (size_t)LZ4_compressBound((int)plain)
					 : ZSTD_compressBound(plain);
	out->len = 0;
	out->cap = GW_FRAME_HEADER + 4 + cap;
	out->p = realloc(out->p, out->cap);
	assert_non_null(out->p);
	uint8_t *dst = out->p + GW_FRAME_HEADER + 4;
	size_t n;
	if (comp == GW_COMP_LZ4) {
		int r = LZ4_compress_default((const char *)body, (char *)dst,
					     (int)plain, (int)cap);
		assert_true(r > 0);
		n = (size_t)r;
	} else {
		n = ZSTD_compress(dst, cap, body, plain, 1);
		assert_false(ZSTD_isError(n));
	}
	memcpy(out->p, in->p, GW_FRAME_HEADER);
	out->p[5] = (uint8_t)comp;
	put_le32(out->p + 8, (uint32_t)(4 + n));
	put_le32(out->p + GW_FRAME_HEADER, (uint32_t)plain);
	out->len = GW_FRAME_HEADER + 4 + n;
}

/* A few messages of different sizes, origins and offsets. */
#define NMSGS 4
static struct topic_msg sample[NMSGS];
static uint8_t sample_data[300];

static void make_sample(void)
{
	for (size_t i = 0; i < sizeof(sample_data); i++)
		sample_data[i] = (uint8_t)(i * 31 + 7);
	static const uint32_t lens[NMSGS] = { 5, 0, 300, 1 };
	static const uint64_t offs[NMSGS] = { 0, 1, UINT64_MAX >> 1, 42 };
	for (int i = 0; i < NMSGS; i++) {
		memset(&sample[i], 0, sizeof(sample[i]));
		sample[i].payload = sample_data;
		sample[i].len = lens[i];
		sample[i].offset = 1000 + (uint64_t)i; /* not sent */
		sample[i].origin_offset = offs[i];
		sample[i].timestamp_ns = 1700000000000000000ull + (uint64_t)i;
		memcpy(sample[i].origin_stream, i & 1 ? U1 : U2, 16);
		memcpy(sample[i].origin_topic, i & 2 ? U3 : U1, 16);
	}
}

static int encode_sample_append(struct gw_buf *out, enum gw_compression comp)
{
	return gw_encode_append(out, comp, "sanfrancisco", "activity",
				"activity-copy", U3, "logins", 1000, 1001,
				0644, sample, NMSGS);
}

static void check_sample_append(const struct gw_frame *f)
{
	assert_int_equal(f->type, GW_APPEND);
	assert_string_equal(f->src_cluster, "sanfrancisco");
	assert_string_equal(f->src_stream, "activity");
	assert_string_equal(f->dst_stream, "activity-copy");
	assert_memory_equal(f->uuid, U3, 16);
	assert_string_equal(f->topic, "logins");
	assert_int_equal(f->uid, 1000);
	assert_int_equal(f->gid, 1001);
	assert_int_equal(f->mode, 0644);
	assert_int_equal(f->nmsgs, NMSGS);
	assert_non_null(f->msgs);
	for (int i = 0; i < NMSGS; i++) {
		const struct topic_msg *m = &f->msgs[i];
		assert_int_equal(m->len, sample[i].len);
		assert_memory_equal(m->payload, sample_data, m->len);
		assert_true(m->offset == 0);
		assert_true(m->origin_offset == sample[i].origin_offset);
		assert_true(m->timestamp_ns == sample[i].timestamp_ns);
		assert_memory_equal(m->origin_stream, sample[i].origin_stream, 16);
		assert_memory_equal(m->origin_topic, sample[i].origin_topic, 16);
	}
}

/* A long name of N valid characters. */
static char *long_name(size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, 'n', n);
	s[n] = '\0';
	return s;
}

/* ---- layout -------------------------------------------------------------- */

/* A HELLO frame, byte by byte. */
static void test_hello_bytes(void **state)
{
	(void)state;
	struct gw_buf out = { 0 };
	assert_int_equal(gw_encode_hello(&out, "newyork"), 0);
	static const uint8_t want[] = {
		'S', 'F', 'G', '1', GW_HELLO, GW_COMP_NONE, 0, 0, 11, 0, 0, 0,
		GW_VERSION, 0, 7, 0, 'n', 'e', 'w', 'y', 'o', 'r', 'k',
	};
	assert_int_equal(out.len, sizeof(want));
	assert_memory_equal(out.p, want, sizeof(want));
	gw_buf_free(&out);
	assert_null(out.p);
	assert_int_equal(out.len, 0);
	assert_int_equal(out.cap, 0);
}

/* A RESULT frame, byte by byte: status -2 as a little-endian i32. */
static void test_result_bytes(void **state)
{
	(void)state;
	struct gw_buf out = { 0 };
	assert_int_equal(gw_encode_result(&out, -ENOENT, 0x01020304, U1, "no"), 0);
	uint8_t want[GW_FRAME_HEADER + 28] = {
		'S', 'F', 'G', '1', GW_RESULT, GW_COMP_NONE, 0, 0, 28, 0, 0, 0,
		0xfe, 0xff, 0xff, 0xff, 0x04, 0x03, 0x02, 0x01,
	};
	memcpy(want + 20, U1, 16);
	want[36] = 2;
	want[37] = 0;
	want[38] = 'n';
	want[39] = 'o';
	assert_int_equal(out.len, sizeof(want));
	assert_memory_equal(out.p, want, sizeof(want));
	gw_buf_free(&out);
}

/* Frames appended to one buffer follow each other. */
static void test_frames_back_to_back(void **state)
{
	(void)state;
	struct gw_buf out = { 0 }, scratch = { 0 };
	struct gw_frame f;
	assert_int_equal(gw_encode_hello(&out, "a"), 0);
	size_t first = out.len;
	assert_int_equal(first, GW_FRAME_HEADER + 5);
	assert_int_equal(gw_encode_open(&out, "b", "c", "d"), 0);
	assert_int_equal(out.len, first + GW_FRAME_HEADER + 9);
	assert_int_equal(decode_frame(out.p, first, &scratch, &f), 0);
	assert_string_equal(f.dst_cluster, "a");
	assert_int_equal(decode_frame(out.p + first, out.len - first, &scratch, &f), 0);
	assert_string_equal(f.dst_stream, "d");
	gw_buf_free(&out);
	gw_buf_free(&scratch);
}

/* ---- round trips --------------------------------------------------------- */

/*
 * roundtrip - decode the frame in OUT as encoded, then with its body
 * compressed by lz4 and by zstd; CHECK checks each decoded frame.
 */
static void roundtrip(struct gw_buf *out, void (*check)(const struct gw_frame *))
{
	struct gw_buf scratch = { 0 }, z = { 0 };
	struct gw_frame f;
	assert_int_equal(decode_frame(out->p, out->len, &scratch, &f), 0);
	check(&f);
	gw_frame_free(&f);
	for (int c = 1; c < 3; c++) {
		recompress(out, comps[c], &z);
		assert_int_equal(z.p[5], comps[c]);
		memset(&f, 0x5a, sizeof(f));
		assert_int_equal(decode_frame(z.p, z.len, &scratch, &f), 0);
		check(&f);
		gw_frame_free(&f);
	}
	gw_buf_free(&z);
	gw_buf_free(&scratch);
}

static void check_hello(const struct gw_frame *f)
{
	assert_int_equal(f->type, GW_HELLO);
	assert_int_equal(f->version, GW_VERSION);
	assert_string_equal(f->dst_cluster, "newyork");
	assert_null(f->msgs);
	assert_int_equal(f->nmsgs, 0);
}

static void check_open(const struct gw_frame *f)
{
	assert_int_equal(f->type, GW_OPEN);
	assert_string_equal(f->src_cluster, "sanfrancisco");
	assert_string_equal(f->src_stream, "activity");
	assert_string_equal(f->dst_stream, "Activity_2.b-c");
	assert_string_equal(f->topic, "");
	assert_null(f->msgs);
}

static void check_topic(const struct gw_frame *f)
{
	assert_int_equal(f->type, GW_TOPIC);
	assert_string_equal(f->src_cluster, "sf");
	assert_string_equal(f->src_stream, "s1");
	assert_string_equal(f->dst_stream, "s2");
	assert_memory_equal(f->uuid, U2, 16);
	assert_string_equal(f->topic, "t.1");
	assert_int_equal(f->uid, UINT32_MAX);
	assert_int_equal(f->gid, 0);
	assert_int_equal(f->mode, 0100600);
	assert_null(f->msgs);
}

static void check_result(const struct gw_frame *f)
{
	assert_int_equal(f->type, GW_RESULT);
	assert_int_equal(f->status, -EACCES);
	assert_int_equal(f->applied, 77);
	assert_memory_equal(f->uuid, U1, 16);
	assert_string_equal(f->message, "sf/activity is not an upstream");
}

static void check_result_ok(const struct gw_frame *f)
{
	static const uuid_t zero;
	assert_int_equal(f->type, GW_RESULT);
	assert_int_equal(f->status, 0);
	assert_int_equal(f->applied, 0);
	assert_memory_equal(f->uuid, zero, 16);
	assert_string_equal(f->message, "");
}

static void test_roundtrip_hello(void **state)
{
	(void)state;
	struct gw_buf out = { 0 };
	assert_int_equal(gw_encode_hello(&out, "newyork"), 0);
	roundtrip(&out, check_hello);
	gw_buf_free(&out);
}

static void test_roundtrip_open(void **state)
{
	(void)state;
	struct gw_buf out = { 0 };
	assert_int_equal(gw_encode_open(&out, "sanfrancisco", "activity",
					"Activity_2.b-c"), 0);
	roundtrip(&out, check_open);
	gw_buf_free(&out);
}

static void test_roundtrip_topic(void **state)
{
	(void)state;
	struct gw_buf out = { 0 };
	assert_int_equal(gw_encode_topic(&out, "sf", "s1", "s2", U2, "t.1",
					 UINT32_MAX, 0, 0100600), 0);
	roundtrip(&out, check_topic);
	gw_buf_free(&out);
}

static void test_roundtrip_result(void **state)
{
	(void)state;
	struct gw_buf out = { 0 };
	assert_int_equal(gw_encode_result(&out, -EACCES, 77, U1,
					  "sf/activity is not an upstream"), 0);
	roundtrip(&out, check_result);
	gw_buf_free(&out);
	/* NULL uuid and message: zeros and "". */
	assert_int_equal(gw_encode_result(&out, 0, 0, NULL, NULL), 0);
	assert_int_equal(out.len, GW_FRAME_HEADER + 26);
	roundtrip(&out, check_result_ok);
	gw_buf_free(&out);
}

/* Every compression asked of the encoder, each also recompressed. */
static void test_roundtrip_append(void **state)
{
	(void)state;
	make_sample();
	for (int c = 0; c < 3; c++) {
		struct gw_buf out = { 0 }, plain = { 0 }, scratch = { 0 };
		struct gw_frame f;
		assert_int_equal(encode_sample_append(&out, comps[c]), 0);
		assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
		check_sample_append(&f);
		gw_frame_free(&f);
		assert_null(f.msgs);
		assert_int_equal(f.nmsgs, 0);
		/* Forced compression of the plain frame, whatever the gain. */
		assert_int_equal(encode_sample_append(&plain, GW_COMP_NONE), 0);
		roundtrip(&plain, check_sample_append);
		gw_buf_free(&plain);
		gw_buf_free(&out);
		gw_buf_free(&scratch);
	}
}

/* Payloads point into the body, or into SCRATCH when decompressed. */
static void test_append_payload_pointers(void **state)
{
	(void)state;
	make_sample();
	struct gw_buf out = { 0 }, z = { 0 }, scratch = { 0 };
	struct gw_frame f;
	assert_int_equal(encode_sample_append(&out, GW_COMP_NONE), 0);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
	const uint8_t *p = f.msgs[2].payload;
	assert_true(p > out.p && p + 300 <= out.p + out.len);
	assert_int_equal(scratch.len, 0);
	gw_frame_free(&f);

	recompress(&out, GW_COMP_ZSTD, &z);
	assert_int_equal(decode_frame(z.p, z.len, &scratch, &f), 0);
	p = f.msgs[2].payload;
	assert_int_equal(scratch.len, out.len - GW_FRAME_HEADER);
	assert_true(p > scratch.p && p + 300 <= scratch.p + scratch.len);
	assert_memory_equal(scratch.p, out.p + GW_FRAME_HEADER, scratch.len);
	gw_frame_free(&f);
	gw_buf_free(&out);
	gw_buf_free(&z);
	gw_buf_free(&scratch);
}

/* An APPEND of no message is a valid frame with msgs NULL. */
static void test_append_empty(void **state)
{
	(void)state;
	struct gw_buf out = { 0 }, scratch = { 0 };
	struct gw_frame f;
	assert_int_equal(gw_encode_append(&out, GW_COMP_ZSTD, "a", "b", "c", U1,
					  "t", 1, 2, 3, NULL, 0), 0);
	assert_int_equal(out.p[5], GW_COMP_NONE);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
	assert_int_equal(f.nmsgs, 0);
	assert_null(f.msgs);
	assert_string_equal(f.topic, "t");
	gw_buf_free(&out);
	gw_buf_free(&scratch);
}

/* Names of 1 and 255 bytes and a message cut at 1023 bytes. */
static void test_limits(void **state)
{
	(void)state;
	struct gw_buf out = { 0 }, scratch = { 0 };
	struct gw_frame f;
	char *n255 = long_name(255);
	assert_int_equal(gw_encode_open(&out, n255, "x", n255), 0);
	assert_int_equal(out.len, GW_FRAME_HEADER + 3 * 2 + 255 + 1 + 255);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
	assert_string_equal(f.src_cluster, n255);
	assert_string_equal(f.src_stream, "x");
	assert_string_equal(f.dst_stream, n255);

	char *m = long_name(2000);
	out.len = 0;
	assert_int_equal(gw_encode_result(&out, -4095, UINT32_MAX, U1, m), 0);
	assert_int_equal(out.len, GW_FRAME_HEADER + 26 + 1023);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
	assert_int_equal(strlen(f.message), 1023);
	assert_memory_equal(f.message, m, 1023);
	assert_int_equal(f.status, -4095);
	assert_int_equal(f.applied, UINT32_MAX);
	free(m);
	free(n255);
	gw_buf_free(&out);
	gw_buf_free(&scratch);
}

/* HELLO decodes whatever version it carries (the gateway decides). */
static void test_hello_any_version(void **state)
{
	(void)state;
	struct gw_buf out = { 0 }, scratch = { 0 };
	struct gw_frame f;
	assert_int_equal(gw_encode_hello(&out, "ny"), 0);
	put_le16(out.p + GW_FRAME_HEADER, 0xBEEF);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
	assert_int_equal(f.version, 0xBEEF);
	assert_string_equal(f.dst_cluster, "ny");
	gw_buf_free(&out);
	gw_buf_free(&scratch);
}

/* ---- header rejects ------------------------------------------------------ */

static void test_header_rejects(void **state)
{
	(void)state;
	uint8_t ok[GW_FRAME_HEADER] = { 'S', 'F', 'G', '1', GW_APPEND, GW_COMP_ZSTD,
					0, 0, 0x01, 0x02, 0x03, 0x04 };
	uint8_t p[GW_FRAME_HEADER];
	struct gw_header h = { 0 };
	assert_int_equal(gw_header_decode(ok, &h), 0);
	assert_int_equal(h.type, GW_APPEND);
	assert_int_equal(h.compression, GW_COMP_ZSTD);
	assert_int_equal(h.length, 0x04030201);

	/* Magic: each byte wrong, and the lower-case one. */
	for (int i = 0; i < 4; i++) {
		memcpy(p, ok, sizeof(p));
		p[i] ^= 0x20;
		assert_int_equal(gw_header_decode(p, &h), -EPROTO);
	}
	static const uint8_t bad_types[] = { 0, 8, 9, 0x80, 0xff };
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		memcpy(p, ok, sizeof(p));
		p[4] = bad_types[i];
		assert_int_equal(gw_header_decode(p, &h), -EPROTO);
	}
	for (int t = GW_HELLO; t <= GW_FSREPLY; t++) {
		memcpy(p, ok, sizeof(p));
		p[4] = (uint8_t)t;
		/* each type has a bound of its own: at it fine, past it not */
		size_t max = gw_body_max((uint8_t)t);
		assert_true(max > 0);
		if (t == GW_APPEND || t == GW_FS)
			assert_true(max == GW_FRAME_MAX_BODY);
		else if (t == GW_FSREPLY)
			assert_true(max > FS_DATA_MAX && max < FS_DATA_MAX + 2048);
		else
			assert_true(max < 2048);
		p[8] = max & 0xff;
		p[9] = (max >> 8) & 0xff;
		p[10] = (max >> 16) & 0xff;
		p[11] = (max >> 24) & 0xff;
		assert_int_equal(gw_header_decode(p, &h), 0);
		assert_int_equal(h.type, t);
		assert_int_equal(h.length, max);
		p[8] = (max + 1) & 0xff;
		p[9] = ((max + 1) >> 8) & 0xff;
		p[10] = ((max + 1) >> 16) & 0xff;
		p[11] = ((max + 1) >> 24) & 0xff;
		assert_int_equal(gw_header_decode(p, &h), -EMSGSIZE);
	}
	static const uint8_t bad_comps[] = { 3, 4, 0xff };
	for (size_t i = 0; i < sizeof(bad_comps); i++) {
		memcpy(p, ok, sizeof(p));
		p[5] = bad_comps[i];
		assert_int_equal(gw_header_decode(p, &h), -EPROTO);
	}
	for (int i = 6; i < 8; i++) {
		memcpy(p, ok, sizeof(p));
		p[i] = 1;
		assert_int_equal(gw_header_decode(p, &h), -EPROTO);
	}
	/* Length: the maximum is fine, one more is -EMSGSIZE. */
	memcpy(p, ok, sizeof(p));
	put_le32(p + 8, GW_FRAME_MAX_BODY);
	assert_int_equal(gw_header_decode(p, &h), 0);
	assert_int_equal(h.length, GW_FRAME_MAX_BODY);
	put_le32(p + 8, GW_FRAME_MAX_BODY + 1);
	memset(&h, 0, sizeof(h));
	assert_int_equal(gw_header_decode(p, &h), -EMSGSIZE);
	put_le32(p + 8, UINT32_MAX);
	assert_int_equal(gw_header_decode(p, &h), -EMSGSIZE);
	/* *H is not written on error. */
	assert_int_equal(h.type, 0);
	assert_int_equal(h.length, 0);
}

/* gw_body_decode checks the header it is given too. */
static void test_body_header_mismatch(void **state)
{
	(void)state;
	struct gw_buf out = { 0 }, scratch = { 0 };
	struct gw_frame f;
	assert_int_equal(gw_encode_hello(&out, "ny"), 0);
	const uint8_t *body = out.p + GW_FRAME_HEADER;
	size_t len = out.len - GW_FRAME_HEADER;
	struct gw_header h = { .type = GW_HELLO, .compression = GW_COMP_NONE,
			       .length = (uint32_t)len + 1 };
	assert_int_equal(gw_body_decode(&h, body, len, &scratch, &f), -EPROTO);
	h.length = (uint32_t)len;
	h.type = 9;
	assert_int_equal(gw_body_decode(&h, body, len, &scratch, &f), -EPROTO);
	h.type = GW_HELLO;
	h.compression = 7;
	assert_int_equal(gw_body_decode(&h, body, len, &scratch, &f), -EPROTO);
	h.compression = GW_COMP_NONE;
	assert_int_equal(gw_body_decode(&h, body, len, &scratch, &f), 0);
	/* A HELLO body read as any other type does not parse. */
	for (int t = GW_OPEN; t <= GW_RESULT; t++)
		assert_int_equal(body_decode_as((uint8_t)t, GW_COMP_NONE, body,
						len, &scratch, &f), -EPROTO);
	gw_buf_free(&out);
}

/* ---- body rejects -------------------------------------------------------- */

/* Every cut of an APPEND body, plain or compressed, is -EPROTO. */
static void test_truncated_append(void **state)
{
	(void)state;
	make_sample();
	for (int c = 0; c < 3; c++) {
		struct gw_buf out = { 0 }, z = { 0 }, scratch = { 0 };
		struct gw_frame f;
		assert_int_equal(encode_sample_append(&out, GW_COMP_NONE), 0);
		if (c) {
			recompress(&out, comps[c], &z);
			gw_buf_free(&out);
			out = z;
		}
		const uint8_t *body = out.p + GW_FRAME_HEADER;
		size_t len = out.len - GW_FRAME_HEADER;
		for (size_t cut = 0; cut < len; cut++) {
			memset(&f, 0x5a, sizeof(f));
			int rc = body_decode_as(GW_APPEND, comps[c], body, cut,
						&scratch, &f);
			if (rc != -EPROTO)
				fail_msg("cut %zu of %zu (comp %d): %d", cut, len, c, rc);
			assert_null(f.msgs);
			assert_int_equal(f.nmsgs, 0);
		}
		assert_int_equal(body_decode_as(GW_APPEND, comps[c], body, len,
						&scratch, &f), 0);
		check_sample_append(&f);
		gw_frame_free(&f);
		gw_buf_free(&out);
		gw_buf_free(&scratch);
	}
}

/* One byte more after any valid body is -EPROTO, also inside a
 * compressed body. */
static void test_trailing_byte(void **state)
{
	(void)state;
	make_sample();
	struct gw_buf fr[5] = { 0 }, scratch = { 0 }, z = { 0 };
	struct gw_frame f;
	assert_int_equal(gw_encode_hello(&fr[0], "ny"), 0);
	assert_int_equal(gw_encode_open(&fr[1], "a", "b", "c"), 0);
	assert_int_equal(gw_encode_topic(&fr[2], "a", "b", "c", U1, "t", 0, 0, 0), 0);
	assert_int_equal(encode_sample_append(&fr[3], GW_COMP_NONE), 0);
	assert_int_equal(gw_encode_result(&fr[4], 0, 1, U1, "ok"), 0);
	for (int i = 0; i < 5; i++) {
		struct gw_buf *b = &fr[i];
		uint8_t type = b->p[4];
		size_t len = b->len - GW_FRAME_HEADER;
		b->p = realloc(b->p, b->len + 1);
		assert_non_null(b->p);
		b->p[b->len] = 0;
		const uint8_t *body = b->p + GW_FRAME_HEADER;
		assert_int_equal(body_decode_as(type, 0, body, len, &scratch, &f), 0);
		gw_frame_free(&f);
		assert_int_equal(body_decode_as(type, 0, body, len + 1, &scratch, &f),
				 -EPROTO);
		assert_null(f.msgs);
		/* The same inside a compressed body. */
		put_le32(b->p + 8, (uint32_t)len + 1);
		b->len++;
		for (int c = 1; c < 3; c++) {
			recompress(b, comps[c], &z);
			assert_int_equal(decode_frame(z.p, z.len, &scratch, &f), -EPROTO);
			assert_null(f.msgs);
		}
		gw_buf_free(b);
	}
	gw_buf_free(&z);
	gw_buf_free(&scratch);
}

/*
 * A body of an OPEN frame whose src_stream is the LEN bytes at S (the
 * other names fine), in BUF; returns its size.
 */
static size_t open_body(uint8_t *buf, const void *s, size_t len)
{
	size_t n = 0;
	put_le16(buf, 2);
	memcpy(buf + 2, "sf", 2);
	n = 4;
	put_le16(buf + n, (uint16_t)len);
	memcpy(buf + n + 2, s, len);
	n += 2 + len;
	put_le16(buf + n, 1);
	buf[n + 2] = 'x';
	return n + 3;
}

static void test_bad_names(void **state)
{
	(void)state;
	struct gw_buf scratch = { 0 };
	struct gw_frame f;
	uint8_t body[600];
	static const struct {
		const char *s;
		size_t len;
	} bad[] = {
		{ "", 0 },
		{ ".hidden", 7 },
		{ "a/b", 3 },
		{ "..", 2 },
		{ "sp ace", 6 },
		{ "nul\0in", 6 },
		{ "ends\0", 5 },
		{ "tab\t", 4 },
		{ "caf\xc3\xa9", 5 },
	};
	size_t n = open_body(body, "good.name_1-2", 13);
	assert_int_equal(body_decode_as(GW_OPEN, 0, body, n, &scratch, &f), 0);
	assert_string_equal(f.src_stream, "good.name_1-2");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = open_body(body, bad[i].s, bad[i].len);
		int rc = body_decode_as(GW_OPEN, 0, body, n, &scratch, &f);
		if (rc != -EPROTO)
			fail_msg("bad name %zu (\"%s\"): %d", i, bad[i].s, rc);
	}
	/* 255 bytes is a name, 256 is not (over the string limit). */
	char *s = long_name(256);
	n = open_body(body, s, 255);
	assert_int_equal(body_decode_as(GW_OPEN, 0, body, n, &scratch, &f), 0);
	assert_int_equal(strlen(f.src_stream), 255);
	n = open_body(body, s, 256);
	assert_int_equal(body_decode_as(GW_OPEN, 0, body, n, &scratch, &f), -EPROTO);
	free(s);
	/* A bad topic name in a TOPIC frame, and a bad HELLO cluster. */
	struct gw_buf out = { 0 };
	assert_int_equal(gw_encode_topic(&out, "a", "b", "c", U1, "topic", 0, 0, 0), 0);
	uint8_t *t = memmem(out.p + GW_FRAME_HEADER, out.len - GW_FRAME_HEADER,
			    "topic", 5);
	assert_non_null(t);
	t[0] = '.';
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), -EPROTO);
	out.len = 0;
	assert_int_equal(gw_encode_hello(&out, "ny"), 0);
	out.p[out.len - 1] = '/';
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), -EPROTO);
	gw_buf_free(&out);
}

/* RESULT: status within 0 .. -4095, a message of at most 1023 bytes. */
static void test_result_rejects(void **state)
{
	(void)state;
	struct gw_buf out = { 0 }, scratch = { 0 };
	struct gw_frame f;
	static const int32_t bad[] = { 1, 4096 * 2, INT32_MAX, -4096, INT32_MIN };
	assert_int_equal(gw_encode_result(&out, -1, 0, NULL, "x"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_le32(out.p + GW_FRAME_HEADER, (uint32_t)bad[i]);
		assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), -EPROTO);
	}
	put_le32(out.p + GW_FRAME_HEADER, (uint32_t)-4095);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
	assert_int_equal(f.status, -4095);
	assert_string_equal(f.message, "x");

	/* A message of 1024 bytes on the wire. */
	uint8_t body[26 + 1024];
	memset(body, 0, sizeof(body));
	put_le16(body + 24, 1024);
	memset(body + 26, 'm', 1024);
	assert_int_equal(body_decode_as(GW_RESULT, 0, body, sizeof(body), &scratch,
					&f), -EPROTO);
	put_le16(body + 24, 1023);
	assert_int_equal(body_decode_as(GW_RESULT, 0, body, sizeof(body) - 1,
					&scratch, &f), 0);
	assert_int_equal(strlen(f.message), 1023);
	gw_buf_free(&out);
	gw_buf_free(&scratch);
}

/*
 * A count that cannot fit in the body is refused before it sizes an
 * allocation: the decoder never allocates more than the body could hold.
 */
static void test_huge_count(void **state)
{
	(void)state;
	struct gw_buf out = { 0 }, scratch = { 0 };
	struct gw_frame f;
	assert_int_equal(gw_encode_append(&out, GW_COMP_NONE, "a", "b", "c", U1,
					  "t", 0, 0, 0, NULL, 0), 0);
	/* Room for the count and 100 bytes of "messages". */
	size_t at = out.len - 4;
	out.p = realloc(out.p, out.len + 100);
	assert_non_null(out.p);
	memset(out.p + out.len, 0, 100);
	out.len += 100;
	put_le32(out.p + 8, (uint32_t)(out.len - GW_FRAME_HEADER));
	static const uint32_t counts[] = { UINT32_MAX, 1u << 31, 1000000, 3, 2 };
#ifdef HAVE_MALLOC_HOOK
	assert_int_equal(__sanitizer_install_malloc_and_free_hooks(on_malloc,
								   on_free), 1);
#endif
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		put_le32(out.p + at, counts[i]);
		hook_max = 0;
		hook_on = true;
		int rc = decode_frame(out.p, out.len, &scratch, &f);
		hook_on = false;
		assert_int_equal(rc, -EPROTO);
		assert_null(f.msgs);
		/* 2 * 52 > 100 is caught by the count check; the rest too. */
		assert_true(hook_max <= 2 * sizeof(struct topic_msg));
	}
	/* One zero-length message of 52 bytes, then 48 trailing: -EPROTO
	 * after allocating one entry; with the body cut to it, fine. */
	put_le32(out.p + at, 1);
	hook_max = 0;
	hook_on = true;
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), -EPROTO);
	hook_on = false;
#ifdef HAVE_MALLOC_HOOK
	assert_int_equal(hook_max, sizeof(struct topic_msg));
#endif
	out.len -= 48;
	put_le32(out.p + 8, (uint32_t)(out.len - GW_FRAME_HEADER));
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
	assert_int_equal(f.nmsgs, 1);
	assert_int_equal(f.msgs[0].len, 0);
	gw_frame_free(&f);
	/* A message whose len runs past the body. */
	put_le32(out.p + out.len - 4, 1);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), -EPROTO);
	put_le32(out.p + out.len - 4, UINT32_MAX);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), -EPROTO);
	assert_null(f.msgs);
	gw_buf_free(&out);
	gw_buf_free(&scratch);
}

/* A compressed body whose length prefix lies, or whose data is corrupt. */
static void test_bad_compression(void **state)
{
	(void)state;
	make_sample();
	struct gw_buf plain = { 0 }, z = { 0 }, scratch = { 0 };
	struct gw_frame f;
	assert_int_equal(encode_sample_append(&plain, GW_COMP_NONE), 0);
	uint32_t ulen = (uint32_t)(plain.len - GW_FRAME_HEADER);
	for (int c = 1; c < 3; c++) {
		uint8_t comp = (uint8_t)comps[c];
		recompress(&plain, comps[c], &z);
		uint8_t *body = z.p + GW_FRAME_HEADER;
		size_t len = z.len - GW_FRAME_HEADER;
		assert_int_equal(body_decode_as(GW_APPEND, comp, body, len, &scratch,
						&f), 0);
		gw_frame_free(&f);
		static const int32_t deltas[] = { -1, 1, -100, 1000 };
		for (size_t d = 0; d < 4; d++) {
			put_le32(body, ulen + (uint32_t)deltas[d]);
			assert_int_equal(body_decode_as(GW_APPEND, comp, body, len,
							&scratch, &f), -EPROTO);
		}
		put_le32(body, 0);
		assert_int_equal(body_decode_as(GW_APPEND, comp, body, len, &scratch,
						&f), -EPROTO);
		put_le32(body, GW_FRAME_MAX_BODY + 1);
		assert_int_equal(body_decode_as(GW_APPEND, comp, body, len, &scratch,
						&f), -EMSGSIZE);
		put_le32(body, ulen);
		/* Shorter than the prefix. */
		for (size_t n = 0; n < 4; n++)
			assert_int_equal(body_decode_as(GW_APPEND, comp, body, n,
							&scratch, &f), -EPROTO);
		/* The compressed data: cut, garbage, or of the other kind. */
		assert_int_equal(body_decode_as(GW_APPEND, comp, body, len - 1,
						&scratch, &f), -EPROTO);
		memset(body + 4, 0xff, len - 4);
		assert_int_equal(body_decode_as(GW_APPEND, comp, body, len, &scratch,
						&f), -EPROTO);
		memset(body + 4, 0x00, len - 4);
		assert_int_equal(body_decode_as(GW_APPEND, comp, body, len, &scratch,
						&f), -EPROTO);
		recompress(&plain, comps[3 - c], &z);
		body = z.p + GW_FRAME_HEADER;
		len = z.len - GW_FRAME_HEADER;
		assert_int_equal(body_decode_as(GW_APPEND, comp, body, len, &scratch,
						&f), -EPROTO);
		assert_null(f.msgs);
	}
	gw_buf_free(&plain);
	gw_buf_free(&z);
	gw_buf_free(&scratch);
}

/*
 * The decompressed size must be exactly the prefix: a short body claiming
 * the full length must not be completed by what SCRATCH held before.
 */
static void test_stale_scratch(void **state)
{
	(void)state;
	make_sample();
	struct gw_buf plain = { 0 }, cut = { 0 }, z = { 0 }, scratch = { 0 };
	struct gw_frame f;
	assert_int_equal(encode_sample_append(&plain, GW_COMP_NONE), 0);
	uint32_t ulen = (uint32_t)(plain.len - GW_FRAME_HEADER);
	for (int c = 1; c < 3; c++) {
		/* SCRATCH now holds the whole plain body. */
		recompress(&plain, comps[c], &z);
		assert_int_equal(decode_frame(z.p, z.len, &scratch, &f), 0);
		gw_frame_free(&f);
		/* The same body without its last 10 bytes, the prefix saying
		 * the full length. */
		cut.len = 0;
		cut.p = realloc(cut.p, plain.len);
		assert_non_null(cut.p);
		memcpy(cut.p, plain.p, plain.len - 10);
		cut.len = plain.len - 10;
		put_le32(cut.p + 8, ulen - 10);
		recompress(&cut, comps[c], &z);
		put_le32(z.p + GW_FRAME_HEADER, ulen);
		assert_int_equal(decode_frame(z.p, z.len, &scratch, &f), -EPROTO);
		assert_null(f.msgs);
	}
	gw_buf_free(&plain);
	gw_buf_free(&cut);
	gw_buf_free(&z);
	gw_buf_free(&scratch);
}

/* ---- compression on the encoder's side ------------------------------------ */

/* 1000 messages of 100 'a': lz4 and zstd at least 4 times smaller. */
static void test_compressible_append(void **state)
{
	(void)state;
	static uint8_t a[100];
	memset(a, 'a', sizeof(a));
	struct topic_msg *m = calloc(1000, sizeof(*m));
	assert_non_null(m);
	for (int i = 0; i < 1000; i++) {
		m[i].payload = a;
		m[i].len = sizeof(a);
		m[i].origin_offset = (uint64_t)i;
		m[i].timestamp_ns = 1700000000000000000ull + (uint64_t)i * 1000;
		memcpy(m[i].origin_stream, U1, 16);
		memcpy(m[i].origin_topic, U2, 16);
	}
	size_t sizes[3];
	struct gw_buf scratch = { 0 };
	for (int c = 0; c < 3; c++) {
		struct gw_buf out = { 0 };
		struct gw_frame f;
		assert_int_equal(gw_encode_append(&out, comps[c], "sf", "s", "d", U3,
						  "t", 1, 2, 3, m, 1000), 0);
		assert_int_equal(out.p[5], comps[c]);
		assert_int_equal(get_le32(out.p + 8), out.len - GW_FRAME_HEADER);
		sizes[c] = out.len;
		assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
		assert_int_equal(f.nmsgs, 1000);
		assert_int_equal(f.msgs[999].len, 100);
		assert_memory_equal(f.msgs[999].payload, a, 100);
		assert_true(f.msgs[999].origin_offset == 999);
		gw_frame_free(&f);
		gw_buf_free(&out);
	}
	/* 12 + 2+2 + 2+1 + 2+1 + 16 + 2+1 + 12 + 4 + 1000 * 152 */
	assert_int_equal(sizes[0], 152057);
	assert_true(sizes[1] * 4 <= sizes[0]);
	assert_true(sizes[2] * 4 <= sizes[0]);
	free(m);
	gw_buf_free(&scratch);
}

/* Random payloads do not shrink: sent uncompressed, the same bytes as
 * with GW_COMP_NONE. */
static void test_incompressible_append(void **state)
{
	(void)state;
	static uint8_t rnd[4000];
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		rnd[i] = (uint8_t)(x >> 32);
	}
	/* The message's other fields random too: zeros would compress. */
	struct topic_msg m = { .payload = rnd + 64, .len = sizeof(rnd) - 64,
			       .origin_offset = get_le64(rnd + 32),
			       .timestamp_ns = get_le64(rnd + 40) };
	memcpy(m.origin_stream, rnd, 16);
	memcpy(m.origin_topic, rnd + 16, 16);
	uint32_t uid = get_le32(rnd + 48), gid = get_le32(rnd + 52);
	uint32_t mode = get_le32(rnd + 56);
	struct gw_buf none = { 0 }, scratch = { 0 };
	assert_int_equal(gw_encode_append(&none, GW_COMP_NONE, "sf", "s", "d", U3,
					  "t", uid, gid, mode, &m, 1), 0);
	for (int c = 1; c < 3; c++) {
		struct gw_buf out = { 0 };
		struct gw_frame f;
		assert_int_equal(gw_encode_append(&out, comps[c], "sf", "s", "d", U3,
						  "t", uid, gid, mode, &m, 1), 0);
		assert_int_equal(out.p[5], GW_COMP_NONE);
		assert_int_equal(out.len, none.len);
		assert_memory_equal(out.p, none.p, none.len);
		assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
		assert_int_equal(f.msgs[0].len, sizeof(rnd) - 64);
		assert_memory_equal(f.msgs[0].payload, rnd + 64, sizeof(rnd) - 64);
		assert_memory_equal(f.msgs[0].origin_topic, rnd + 16, 16);
		assert_int_equal(f.mode, mode);
		gw_frame_free(&f);
		gw_buf_free(&out);
	}
	gw_buf_free(&none);
	gw_buf_free(&scratch);
}

/* ---- encoder errors ------------------------------------------------------ */

/* OUT holds one frame; every failing call leaves exactly that. */
static void check_unchanged(const struct gw_buf *out, const uint8_t *was,
			    size_t len, int rc, int want)
{
	assert_int_equal(rc, want);
	assert_int_equal(out->len, len);
	assert_memory_equal(out->p, was, len);
}

static void test_encoder_errors(void **state)
{
	(void)state;
	make_sample();
	struct gw_buf out = { 0 };
	assert_int_equal(gw_encode_hello(&out, "first"), 0);
	uint8_t was[64];
	size_t len = out.len;
	memcpy(was, out.p, len);
	char *n256 = long_name(256);
	const char *bad[] = { n256, "", ".x", "a/b", "a b", NULL };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *b = bad[i];
		check_unchanged(&out, was, len, gw_encode_hello(&out, b), -EINVAL);
		check_unchanged(&out, was, len, gw_encode_open(&out, b, "s", "d"),
				-EINVAL);
		check_unchanged(&out, was, len, gw_encode_open(&out, "c", b, "d"),
				-EINVAL);
		check_unchanged(&out, was, len, gw_encode_open(&out, "c", "s", b),
				-EINVAL);
		check_unchanged(&out, was, len,
				gw_encode_topic(&out, "c", "s", "d", U1, b, 0, 0, 0),
				-EINVAL);
		check_unchanged(&out, was, len,
				gw_encode_topic(&out, b, "s", "d", U1, "t", 0, 0, 0),
				-EINVAL);
		for (int c = 0; c < 3; c++)
			check_unchanged(&out, was, len,
					gw_encode_append(&out, comps[c], "c", "s", "d",
							 U1, b, 0, 0, 0, sample,
							 NMSGS), -EINVAL);
	}
	/* No expected UUID, a bad compression, messages NULL, a payload
	 * NULL with a length. */
	check_unchanged(&out, was, len,
			gw_encode_topic(&out, "c", "s", "d", NULL, "t", 0, 0, 0),
			-EINVAL);
	check_unchanged(&out, was, len,
			gw_encode_append(&out, (enum gw_compression)3, "c", "s", "d",
					 U1, "t", 0, 0, 0, sample, NMSGS), -EINVAL);
	check_unchanged(&out, was, len,
			gw_encode_append(&out, GW_COMP_NONE, "c", "s", "d", U1, "t",
					 0, 0, 0, NULL, 1), -EINVAL);
	struct topic_msg nul = { .payload = NULL, .len = 1 };
	check_unchanged(&out, was, len,
			gw_encode_append(&out, GW_COMP_LZ4, "c", "s", "d", U1, "t",
					 0, 0, 0, &nul, 1), -EINVAL);
	/* Status out of range. */
	check_unchanged(&out, was, len, gw_encode_result(&out, 1, 0, U1, "x"),
			-EINVAL);
	check_unchanged(&out, was, len, gw_encode_result(&out, -4096, 0, U1, "x"),
			-EINVAL);
	/* Over GW_FRAME_MAX_BODY: one payload of the maximum (not read, the
	 * size is checked first), or two of half of it. */
	struct topic_msg big[2] = {
		{ .payload = sample_data, .len = GW_FRAME_MAX_BODY },
		{ .payload = sample_data, .len = GW_FRAME_MAX_BODY / 2 },
	};
	check_unchanged(&out, was, len,
			gw_encode_append(&out, GW_COMP_ZSTD, "c", "s", "d", U1, "t",
					 0, 0, 0, big, 1), -EMSGSIZE);
	big[0].len = GW_FRAME_MAX_BODY / 2;
	check_unchanged(&out, was, len,
			gw_encode_append(&out, GW_COMP_NONE, "c", "s", "d", U1, "t",
					 0, 0, 0, big, 2), -EMSGSIZE);
	big[0].len = UINT32_MAX;
	check_unchanged(&out, was, len,
			gw_encode_append(&out, GW_COMP_LZ4, "c", "s", "d", U1, "t",
					 0, 0, 0, big, 2), -EMSGSIZE);
	/* And it still works after all that. */
	assert_int_equal(gw_encode_open(&out, "c", "s", "d"), 0);
	assert_int_equal(out.len, len + GW_FRAME_HEADER + 9);
	assert_memory_equal(out.p, was, len);
	free(n256);
	gw_buf_free(&out);
}


/* ---- the global namespace's frames (GW_FS, GW_FSREPLY; frame_fs.c) ---- */

static struct fs_req sample_fs(void)
{
	static const uint8_t data[] = "one\ntwo\n";
	struct fs_req q = { .op = FS_APPEND };
	q.who.uid = 1000;
	q.who.gid = 1001;
	q.who.ngroups = 3;
	q.who.groups[0] = 4;
	q.who.groups[1] = 27;
	q.who.groups[2] = UINT32_MAX;
	strcpy(q.cluster, "london");
	strcpy(q.stream, "activity");
	strcpy(q.name, "clicks");
	q.offset = 0;
	q.owner = q.group = UINT32_MAX;
	q.data = data;
	q.len = sizeof(data) - 1;
	memcpy(q.expect, U3, 16);
	return q;
}

static void check_fs(const struct gw_frame *f)
{
	assert_int_equal(f->type, GW_FS);
	const struct fs_req *q = &f->fs;
	assert_int_equal(q->op, FS_APPEND);
	assert_int_equal(q->who.uid, 1000);
	assert_int_equal(q->who.gid, 1001);
	assert_int_equal(q->who.ngroups, 3);
	assert_int_equal(q->who.groups[1], 27);
	assert_int_equal(q->who.groups[2], UINT32_MAX);
	assert_string_equal(q->cluster, "london");
	assert_string_equal(q->stream, "activity");
	assert_string_equal(q->name, "clicks");
	assert_int_equal(q->owner, UINT32_MAX);
	assert_int_equal(q->len, 8);
	assert_memory_equal(q->data, "one\ntwo\n", 8);
	assert_memory_equal(q->expect, U3, 16);
}

static void test_roundtrip_fs(void **state)
{
	(void)state;
	struct gw_buf out = { 0 };
	struct fs_req q = sample_fs();
	assert_int_equal(gw_encode_fs(&out, &q), 0);
	roundtrip(&out, check_fs);
	gw_buf_free(&out);
	/* a control file's name, a read with its offset and size */
	struct gw_buf scratch = { 0 };
	struct gw_frame f;
	q = (struct fs_req){ .op = FS_READ, .offset = 1ull << 40, .size = FS_READ_MAX };
	strcpy(q.cluster, "c");
	strcpy(q.stream, "s");
	strcpy(q.name, ".upstreams");
	assert_int_equal(gw_encode_fs(&out, &q), 0);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), 0);
	assert_int_equal(f.fs.op, FS_READ);
	assert_int_equal(f.fs.offset, 1ull << 40);
	assert_int_equal(f.fs.size, FS_READ_MAX);
	assert_string_equal(f.fs.name, ".upstreams");
	assert_int_equal(f.fs.len, 0);
	gw_frame_free(&f);
	gw_buf_free(&out);
	gw_buf_free(&scratch);
}

static void check_fsreply(const struct gw_frame *f)
{
	assert_int_equal(f->type, GW_FSREPLY);
	const struct fs_rep *a = &f->fsrep;
	assert_int_equal(a->status, 5);
	assert_int_equal(a->attr.mode, 0100640);
	assert_int_equal(a->attr.uid, 7);
	assert_int_equal(a->attr.size, 1ull << 33);
	assert_int_equal(a->attr.mtime_ns, 1234567890123456789ull);
	assert_int_equal(a->sv.namemax, 255);
	assert_memory_equal(a->topic, U2, 16);
	assert_int_equal(a->len, 5);
	assert_memory_equal(a->data, "hello", 5);
	assert_string_equal(a->message, "why not");
}

static void test_roundtrip_fsreply(void **state)
{
	(void)state;
	struct gw_buf out = { 0 };
	struct fs_rep a = { .status = 5 };
	a.attr = (struct fs_attr){ .mode = 0100640, .uid = 7, .size = 1ull << 33,
				   .mtime_ns = 1234567890123456789ull };
	a.sv.namemax = 255;
	memcpy(a.topic, U2, 16);
	a.data = (uint8_t *)"hello";
	a.len = 5;
	strcpy(a.message, "why not");
	assert_int_equal(gw_encode_fsreply(&out, &a), 0);
	roundtrip(&out, check_fsreply);
	gw_buf_free(&out);
}

/* Every prefix of a good body is refused, and so is each bad field. */
static void test_fs_rejects(void **state)
{
	(void)state;
	struct gw_buf out = { 0 }, scratch = { 0 };
	struct gw_frame f;
	struct fs_req q = sample_fs();
	assert_int_equal(gw_encode_fs(&out, &q), 0);
	size_t len = out.len - GW_FRAME_HEADER;
	for (size_t n = 0; n < len; n++)
		assert_int_equal(body_decode_as(GW_FS, 0, out.p + GW_FRAME_HEADER, n, &scratch, &f),
				 -EPROTO);
	/* the op byte: 0 and past the last */
	uint8_t *body = out.p + GW_FRAME_HEADER;
	body[0] = 0;
	assert_int_equal(body_decode_as(GW_FS, 0, body, len, &scratch, &f), -EPROTO);
	body[0] = FS_OP_MAX + 1;
	assert_int_equal(body_decode_as(GW_FS, 0, body, len, &scratch, &f), -EPROTO);
	body[0] = FS_APPEND;
	/* more groups than a request may carry */
	body[9] = FS_MAX_GROUPS + 1;
	assert_int_equal(body_decode_as(GW_FS, 0, body, len, &scratch, &f), -EPROTO);
	gw_buf_free(&out);
	/* what the encoder refuses, the decoder would too */
	static const char *const bad_names[] = { "..", ".", "a/b", ".fuse_hidden0123456789abcdef",
						 "" };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		q = sample_fs();
		strcpy(q.name, bad_names[i]);
		if (!*bad_names[i])
			strcpy(q.stream, "");	/* a stream-less name is fine if empty */
		int rc = gw_encode_fs(&out, &q);
		if (*bad_names[i])
			assert_int_equal(rc, -EINVAL);
		gw_buf_free(&out);
	}
	q = sample_fs();
	strcpy(q.stream, "");	/* a name without its stream */
	assert_int_equal(gw_encode_fs(&out, &q), -EINVAL);
	q = sample_fs();
	q.op = FS_GETATTR;	/* data on what takes none */
	assert_int_equal(gw_encode_fs(&out, &q), -EINVAL);
	/* a control file appended to, made, removed or given an owner; a
	 * topic written as a control file: no request names them so */
	static const enum fs_op not_ctl[] = { FS_APPEND, FS_CREATE, FS_UNLINK, FS_CHMOD,
					      FS_CHOWN };
	for (size_t i = 0; i < sizeof(not_ctl) / sizeof(not_ctl[0]); i++) {
		q = sample_fs();
		q.op = not_ctl[i];
		if (q.op != FS_APPEND)
			q.len = 0;
		strcpy(q.name, ".upstreams");
		assert_int_equal(gw_encode_fs(&out, &q), -EINVAL);
	}
	q = sample_fs();
	q.op = FS_WRITECTL;	/* a topic's name */
	assert_int_equal(gw_encode_fs(&out, &q), -EINVAL);
	q = sample_fs();
	q.op = FS_MKDIR;	/* a stream's operation naming a file */
	q.len = 0;
	assert_int_equal(gw_encode_fs(&out, &q), -EINVAL);
	/* a control file's whole text may be asked for at once, a topic's
	 * at most FS_READ_MAX */
	q = sample_fs();
	q.op = FS_READ;
	q.len = 0;
	strcpy(q.name, ".info");
	q.size = FS_CTL_READ_MAX;
	assert_int_equal(gw_encode_fs(&out, &q), 0);
	gw_buf_free(&out);
	strcpy(q.name, "t");
	assert_int_equal(gw_encode_fs(&out, &q), -EINVAL);
	q = sample_fs();
	q.flags = FS_CTL_REPLACE;	/* a flag of another operation */
	assert_int_equal(gw_encode_fs(&out, &q), -EINVAL);
	q = sample_fs();
	q.op = FS_READ;
	q.len = 0;
	q.size = FS_READ_MAX + 1;
	assert_int_equal(gw_encode_fs(&out, &q), -EINVAL);
	assert_int_equal(out.len, 0);
	/* a reply claiming more bytes read than it carries */
	struct fs_rep a = { .status = 9, .data = (uint8_t *)"abc", .len = 3 };
	assert_int_equal(gw_encode_fsreply(&out, &a), 0);
	assert_int_equal(decode_frame(out.p, out.len, &scratch, &f), -EPROTO);
	gw_buf_free(&out);
	/* and a status past the errno range */
	a = (struct fs_rep){ .status = -5000 };
	assert_int_equal(gw_encode_fsreply(&out, &a), -EINVAL);
	gw_buf_free(&out);
	gw_buf_free(&scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_bytes),
		cmocka_unit_test(test_roundtrip_fs),
		cmocka_unit_test(test_roundtrip_fsreply),
		cmocka_unit_test(test_fs_rejects),
		cmocka_unit_test(test_result_bytes),
		cmocka_unit_test(test_frames_back_to_back),
		cmocka_unit_test(test_roundtrip_hello),
		cmocka_unit_test(test_roundtrip_open),
		cmocka_unit_test(test_roundtrip_topic),
		cmocka_unit_test(test_roundtrip_result),
		cmocka_unit_test(test_roundtrip_append),
		cmocka_unit_test(test_append_payload_pointers),
		cmocka_unit_test(test_append_empty),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_hello_any_version),
		cmocka_unit_test(test_header_rejects),
		cmocka_unit_test(test_body_header_mismatch),
		cmocka_unit_test(test_truncated_append),
		cmocka_unit_test(test_trailing_byte),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_result_rejects),
		cmocka_unit_test(test_huge_count),
		cmocka_unit_test(test_bad_compression),
		cmocka_unit_test(test_stale_scratch),
		cmocka_unit_test(test_compressible_append),
		cmocka_unit_test(test_incompressible_append),
		cmocka_unit_test(test_encoder_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
