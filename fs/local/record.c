/*
 * record.c - encoding and checking of stored messages (record.h).
 * The checksum is xxHash's XXH3 (XXH32 for records written before it): a
 * library checksum, fast enough that every read verifies what it serves.
 * XXH_INLINE_ALL compiles the Debian header's code into this file, so the
 * short inputs of typical messages skip the call through the PLT.
 */
#include "record.h"
#include "util/byteorder.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Records are always contiguous (header then payload), so one call sums both;
 * FLAGS (as stored in the header) chooses the algorithm. */
static uint32_t record_sum(const uint8_t *rec, uint32_t len, uint16_t flags)
{
	size_t n = RECORD_HDR_SIZE - 4 + (size_t)len;
	if (flags & RECORD_F_XXH3)
		return (uint32_t)XXH3_64bits(rec + 4, n);
	return XXH32(rec + 4, n, 0);
}

void record_encode(uint8_t *out, struct record_hdr *h)
{
	put_le32(out + 4, h->len);
	put_le64(out + 8, h->origin_offset);
	put_le64(out + 16, h->timestamp_ns);
	put_le16(out + 24, h->origin_idx);
	h->flags |= RECORD_F_XXH3;
	put_le16(out + 26, h->flags);
	h->checksum = record_sum(out, h->len, h->flags);
	put_le32(out, h->checksum);
}

void record_decode(const uint8_t *in, struct record_hdr *h)
{
	h->checksum = get_le32(in);
	h->len = get_le32(in + 4);
	h->origin_offset = get_le64(in + 8);
	h->timestamp_ns = get_le64(in + 16);
	h->origin_idx = get_le16(in + 24);
	h->flags = get_le16(in + 26);
}

bool record_verify(const uint8_t *rec, uint32_t len)
{
	return get_le32(rec) == record_sum(rec, len, get_le16(rec + 26));
}
