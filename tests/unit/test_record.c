/*
 * test_record.c - unit tests of fs/local/record.c: the 28-byte record header
 * (layout in record.h), its encode/decode round trip, and the checksum
 * that record_verify checks over header and payload: XXH3 for every record
 * written now, XXH32 for records written before RECORD_F_XXH3 existed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "fs/local/record.h"
#include "fs/util/byteorder.h"

/* Encode H with payload P (LEN bytes) into a fresh malloc'd record. */
static uint8_t *make_record(struct record_hdr *h, const void *p, uint32_t len)
{
	uint8_t *rec = malloc(RECORD_HDR_SIZE + (size_t)len + 1);
	assert_non_null(rec);
	memset(rec, 0xEE, RECORD_HDR_SIZE); /* encode must overwrite all of it */
	if (len)
		memcpy(rec + RECORD_HDR_SIZE, p, len);
	h->len = len;
	record_encode(rec, h);
	return rec;
}

static void test_header_size(void **state)
{
	(void)state;
	assert_int_equal(RECORD_HDR_SIZE, 28);
}

/* Every field comes back from decode, and lands where record.h says. */
static void test_round_trip_fields(void **state)
{
	(void)state;
	const char *payload = "hello, streamfs";
	struct record_hdr h = {
		.origin_offset = 0x0102030405060708ull,
		.timestamp_ns = 0x1122334455667788ull,
		.origin_idx = 0xA1B2,
		.flags = 0,
	};
	uint8_t *rec = make_record(&h, payload, (uint32_t)strlen(payload));

	/* The byte layout, little-endian. */
	assert_int_equal(get_le32(rec + 4), 15);
	const uint8_t off_bytes[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	assert_memory_equal(rec + 8, off_bytes, 8);
	const uint8_t ts_bytes[8] = { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
	assert_memory_equal(rec + 16, ts_bytes, 8);
	assert_int_equal(rec[24], 0xB2);
	assert_int_equal(rec[25], 0xA1);
	assert_int_equal(rec[26], RECORD_F_XXH3);
	assert_int_equal(rec[27], 0);
	/* The checksum: XXH3-64's low half, seed 0, of bytes 4 .. 28+len. */
	uint32_t want = (uint32_t)XXH3_64bits(rec + 4, RECORD_HDR_SIZE - 4 + 15);
	assert_int_equal(h.checksum, want);
	assert_int_equal(get_le32(rec), want);
	/* The payload is untouched. */
	assert_memory_equal(rec + RECORD_HDR_SIZE, payload, 15);

	struct record_hdr d;
	memset(&d, 0x5A, sizeof(d));
	record_decode(rec, &d);
	assert_int_equal(d.checksum, want);
	assert_int_equal(d.len, 15);
	assert_true(d.origin_offset == 0x0102030405060708ull);
	assert_true(d.timestamp_ns == 0x1122334455667788ull);
	assert_int_equal(d.origin_idx, 0xA1B2);
	assert_int_equal(d.flags, RECORD_F_XXH3);
	assert_true(record_verify(rec, 15));
	free(rec);
}

/* Extreme values survive too (no truncation or sign problems). */
static void test_round_trip_extremes(void **state)
{
	(void)state;
	struct {
		uint64_t off, ts;
		uint16_t idx, flags;
	} cases[] = {
		{ 0, 0, 0, 0 },
		{ UINT64_MAX, UINT64_MAX, UINT16_MAX, UINT16_MAX },
		{ 1ull << 63, 1ull << 62, 0x8000, 0x0001 },
		{ 0x00000000FFFFFFFFull, 0xFFFFFFFF00000000ull, 0x00FF, 0xFF00 },
	};
	uint8_t payload[300];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct record_hdr h = {
			.origin_offset = cases[c].off,
			.timestamp_ns = cases[c].ts,
			.origin_idx = cases[c].idx,
			.flags = cases[c].flags,
		};
		uint32_t len = (uint32_t)(c * 97 % sizeof(payload));
		uint8_t *rec = make_record(&h, payload, len);
		struct record_hdr d;
		record_decode(rec, &d);
		assert_int_equal(d.len, len);
		assert_true(d.origin_offset == cases[c].off);
		assert_true(d.timestamp_ns == cases[c].ts);
		assert_int_equal(d.origin_idx, cases[c].idx);
		assert_int_equal(d.flags, cases[c].flags | RECORD_F_XXH3);
		assert_int_equal(d.checksum, h.checksum);
		assert_true(record_verify(rec, len));
		free(rec);
	}
}

/* Encoding the same record twice gives the same bytes. */
static void test_encode_deterministic(void **state)
{
	(void)state;
	struct record_hdr h1 = { .origin_offset = 5, .timestamp_ns = 6, .origin_idx = 7 };
	struct record_hdr h2 = h1;
	uint8_t *a = make_record(&h1, "abc", 3);
	uint8_t *b = make_record(&h2, "abc", 3);
	assert_memory_equal(a, b, RECORD_HDR_SIZE + 3);
	assert_int_equal(h1.checksum, h2.checksum);
	/* A different payload gives a different checksum. */
	struct record_hdr h3 = h1;
	uint8_t *c = make_record(&h3, "abd", 3);
	assert_int_not_equal(h3.checksum, h1.checksum);
	free(a);
	free(b);
	free(c);
}

/* Flip every single byte of header and payload, by several masks. */
static void check_every_byte_flip(uint8_t *rec, uint32_t len)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xFF, 0x5A };
	size_t total = RECORD_HDR_SIZE + (size_t)len;
	assert_true(record_verify(rec, len));
	for (size_t i = 0; i < total; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			rec[i] ^= masks[m];
			if (record_verify(rec, len))
				fail_msg("record_verify true after flipping byte %zu by 0x%02x "
					 "(record of %u payload bytes)", i, masks[m], len);
			rec[i] ^= masks[m];
		}
		assert_true(record_verify(rec, len));
	}
}

static void test_verify_detects_any_byte(void **state)
{
	(void)state;
	uint8_t payload[200];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i ^ 0x3C);
	struct record_hdr h = {
		.origin_offset = 123456789,
		.timestamp_ns = 1700000000123456789ull,
		.origin_idx = 3,
	};
	uint8_t *rec = make_record(&h, payload, sizeof(payload));
	check_every_byte_flip(rec, sizeof(payload));
	free(rec);

	/* A one-byte payload too. */
	struct record_hdr h1 = { .origin_offset = 1 };
	rec = make_record(&h1, "x", 1);
	check_every_byte_flip(rec, 1);
	free(rec);
}

/* A long payload takes XXH3's vectorised path: every byte still counts. */
static void test_verify_long_payload(void **state)
{
	(void)state;
	enum { LEN = 4099 };
	uint8_t *payload = malloc(LEN);
	assert_non_null(payload);
	for (size_t i = 0; i < LEN; i++)
		payload[i] = (uint8_t)(i * 31 + 7);
	struct record_hdr h = { .origin_offset = 9, .timestamp_ns = 10, .origin_idx = 2 };
	uint8_t *rec = make_record(&h, payload, LEN);
	assert_int_equal(h.checksum, (uint32_t)XXH3_64bits(rec + 4, RECORD_HDR_SIZE - 4 + LEN));
	check_every_byte_flip(rec, LEN);
	free(rec);
	free(payload);
}

/*
 * A record written before RECORD_F_XXH3 (flags 0, XXH32 seed 0 over bytes
 * 4 .. 28+len), built here byte by byte as such a segment holds it, still
 * verifies, and any damage to it, its flags included, is still caught.
 */
static void test_verify_legacy_xxh32(void **state)
{
	(void)state;
	const char *payload = "written by streamfs before XXH3";
	uint32_t len = (uint32_t)strlen(payload);
	uint8_t *rec = malloc(RECORD_HDR_SIZE + len);
	assert_non_null(rec);
	put_le32(rec + 4, len);
	put_le64(rec + 8, 77);
	put_le64(rec + 16, 1700000000000000000ull);
	put_le16(rec + 24, 0);
	put_le16(rec + 26, 0);
	memcpy(rec + RECORD_HDR_SIZE, payload, len);
	put_le32(rec, XXH32(rec + 4, RECORD_HDR_SIZE - 4 + len, 0));
	assert_true(record_verify(rec, len));
	struct record_hdr d;
	record_decode(rec, &d);
	assert_int_equal(d.flags, 0);
	assert_true(d.origin_offset == 77);
	check_every_byte_flip(rec, len);
	/* The same bytes claiming XXH3 do not verify. */
	put_le16(rec + 26, RECORD_F_XXH3);
	assert_false(record_verify(rec, len));
	free(rec);
}

static void test_zero_length_payload(void **state)
{
	(void)state;
	struct record_hdr h = {
		.origin_offset = 42,
		.timestamp_ns = 99,
		.origin_idx = 1,
	};
	uint8_t *rec = make_record(&h, NULL, 0);
	assert_int_equal(get_le32(rec + 4), 0);
	assert_int_equal(h.checksum, (uint32_t)XXH3_64bits(rec + 4, RECORD_HDR_SIZE - 4));
	struct record_hdr d;
	record_decode(rec, &d);
	assert_int_equal(d.len, 0);
	assert_true(d.origin_offset == 42);
	assert_true(d.timestamp_ns == 99);
	assert_int_equal(d.origin_idx, 1);
	assert_int_equal(d.flags, RECORD_F_XXH3);
	assert_int_equal(d.checksum, h.checksum);
	check_every_byte_flip(rec, 0);
	free(rec);
}

/* Verifying with the wrong length fails (the length is part of the sum). */
static void test_verify_wrong_length(void **state)
{
	(void)state;
	uint8_t buf[RECORD_HDR_SIZE + 16] = { 0 };
	memcpy(buf + RECORD_HDR_SIZE, "0123456789abcdef", 16);
	struct record_hdr h = { .len = 10, .origin_offset = 9 };
	record_encode(buf, &h);
	assert_true(record_verify(buf, 10));
	assert_false(record_verify(buf, 9));
	assert_false(record_verify(buf, 11));
	assert_false(record_verify(buf, 0));
}

/* Records laid out back to back each verify on their own. */
static void test_contiguous_records(void **state)
{
	(void)state;
	uint8_t buf[3 * RECORD_HDR_SIZE + 10];
	size_t pos = 0;
	const char *msgs[] = { "abcd", "", "efghij" };
	for (int i = 0; i < 3; i++) {
		uint32_t len = (uint32_t)strlen(msgs[i]);
		memcpy(buf + pos + RECORD_HDR_SIZE, msgs[i], len);
		struct record_hdr h = { .len = len, .origin_offset = (uint64_t)i };
		record_encode(buf + pos, &h);
		pos += RECORD_HDR_SIZE + len;
	}
	assert_int_equal(pos, sizeof(buf));
	pos = 0;
	for (int i = 0; i < 3; i++) {
		struct record_hdr d;
		record_decode(buf + pos, &d);
		assert_int_equal(d.len, strlen(msgs[i]));
		assert_true(d.origin_offset == (uint64_t)i);
		assert_true(record_verify(buf + pos, d.len));
		assert_memory_equal(buf + pos + RECORD_HDR_SIZE, msgs[i], d.len);
		pos += RECORD_HDR_SIZE + d.len;
	}
}

static void test_le_helpers(void **state)
{
	(void)state;
	uint8_t b[8];
	put_le16(b, 0xBEEF);
	assert_int_equal(b[0], 0xEF);
	assert_int_equal(b[1], 0xBE);
	assert_int_equal(get_le16(b), 0xBEEF);
	put_le32(b, 0xDEADBEEF);
	assert_int_equal(b[0], 0xEF);
	assert_int_equal(b[3], 0xDE);
	assert_int_equal(get_le32(b), 0xDEADBEEF);
	put_le64(b, 0xFEDCBA9876543210ull);
	assert_int_equal(b[0], 0x10);
	assert_int_equal(b[7], 0xFE);
	assert_true(get_le64(b) == 0xFEDCBA9876543210ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_size),
		cmocka_unit_test(test_round_trip_fields),
		cmocka_unit_test(test_round_trip_extremes),
		cmocka_unit_test(test_encode_deterministic),
		cmocka_unit_test(test_verify_detects_any_byte),
		cmocka_unit_test(test_zero_length_payload),
		cmocka_unit_test(test_verify_long_payload),
		cmocka_unit_test(test_verify_legacy_xxh32),
		cmocka_unit_test(test_verify_wrong_length),
		cmocka_unit_test(test_contiguous_records),
		cmocka_unit_test(test_le_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
