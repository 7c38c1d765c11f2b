/*
 * record.h - one message as stored in a segment file: a fixed 28-byte header
 * followed by the payload. Byte layout in docs/storage.md.
 *
 *   off  size  field
 *     0     4  checksum   XXH32 (seed 0) of bytes 4 .. 28+len
 *     4     4  len        payload bytes (the message without its '\n')
 *     8     8  origin_offset   offset of the message in its origin stream
 *    16     8  timestamp_ns    append time at the origin, ns since the epoch
 *    24     2  origin_idx      index into the topic's origin table
 *    26     2  flags           0 (reserved)
 *
 * All integers little-endian. The origin's stream UUID lives in the topic's
 * origin table rather than in every record: it keeps the per-message
 * overhead at 28 bytes instead of 44 (issue 7 asks for under 32).
 */
#ifndef STREAMFS_RECORD_H
#define STREAMFS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORD_HDR_SIZE 28

struct record_hdr {
	uint32_t checksum;
	uint32_t len;
	uint64_t origin_offset;
	uint64_t timestamp_ns;
	uint16_t origin_idx;
	uint16_t flags;
};

/*
 * record_encode - write the header into OUT (RECORD_HDR_SIZE bytes), where
 * the H->len payload bytes must already follow at OUT + RECORD_HDR_SIZE,
 * and compute the checksum over both; H->checksum is set to it.
 */
void record_encode(uint8_t *out, struct record_hdr *h);

/* record_decode - parse the RECORD_HDR_SIZE bytes at IN into *H (no check). */
void record_decode(const uint8_t *in, struct record_hdr *h);

/*
 * record_verify - true if the checksum stored at REC matches the header and
 * the LEN payload bytes that follow it (a record is always contiguous).
 */
bool record_verify(const uint8_t *rec, uint32_t len);

/* Little-endian helpers shared by the on-disk formats. */
static inline void put_le16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}
static inline uint16_t get_le16(const uint8_t *p) { return p[0] | (uint16_t)p[1] << 8; }
static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#endif
