/*
 * frame_internal.h - what the two halves of the gateway's codec share:
 * frame.c (the replication frames) and frame_fs.c (the file-operation
 * frames of the global namespace). The bounded reader of untrusted bytes
 * (struct rd: every read checks what remains first) and the writers of
 * little-endian fields. Not for use outside the codec.
 */
#ifndef STREAMFS_FRAME_INTERNAL_H
#define STREAMFS_FRAME_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "names.h"
#include "util/byteorder.h"

#define GW_MAGIC "SFG1"
#define GW_STR_MAX 255
#define GW_MESSAGE_MAX 1023
#define GW_STATUS_MIN (-4095)
/* A GW_FSREPLY before its data and message: status, attributes, the
 * topic's incarnation, statvfs, the data's length. */
#define GW_FSREPLY_FIXED (4 + 4 * 4 + 4 * 8 + 16 + 8 * 8 + 4)

/* gw_buf_reserve - make room for EXTRA more bytes after B->len. 0 or
 * -ENOMEM. */
static inline int gw_buf_reserve(struct gw_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len)
		return -ENOMEM;
	size_t need = b->len + extra;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* A cursor over the bytes of a body not read yet. */
struct rd {
	const uint8_t *p;
	size_t n;
};

/* rd_take - the next LEN bytes, or NULL (and nothing taken) if short. */
static inline const uint8_t *rd_take(struct rd *r, size_t len)
{
	if (len > r->n)
		return NULL;
	const uint8_t *p = r->p;
	r->p += len;
	r->n -= len;
	return p;
}

static inline int rd_u16(struct rd *r, uint16_t *v)
{
	const uint8_t *p = rd_take(r, 2);
	if (!p)
		return -EPROTO;
	*v = get_le16(p);
	return 0;
}

static inline int rd_u32(struct rd *r, uint32_t *v)
{
	const uint8_t *p = rd_take(r, 4);
	if (!p)
		return -EPROTO;
	*v = get_le32(p);
	return 0;
}

static inline int rd_u64(struct rd *r, uint64_t *v)
{
	const uint8_t *p = rd_take(r, 8);
	if (!p)
		return -EPROTO;
	*v = get_le64(p);
	return 0;
}

static inline int rd_uuid(struct rd *r, uuid_t u)
{
	const uint8_t *p = rd_take(r, 16);
	if (!p)
		return -EPROTO;
	memcpy(u, p, 16);
	return 0;
}

/* rd_bytes - a u16 length (at most MAX) and that many bytes, copied to
 * OUT (MAX + 1 bytes) and NUL-terminated; *LEN gets the length. */
static inline int rd_bytes(struct rd *r, char *out, size_t max, size_t *len)
{
	uint16_t n;
	if (rd_u16(r, &n) < 0 || n > max)
		return -EPROTO;
	const uint8_t *p = rd_take(r, n);
	if (!p)
		return -EPROTO;
	if (n)
		memcpy(out, p, n);
	out[n] = '\0';
	*len = n;
	return 0;
}

/* rd_name - a string that is a valid name (no NUL inside it either). */
static inline int rd_name(struct rd *r, char out[GW_STR_MAX + 1])
{
	size_t n;
	if (rd_bytes(r, out, GW_STR_MAX, &n) < 0)
		return -EPROTO;
	if (strlen(out) != n || !name_valid(out))
		return -EPROTO;
	return 0;
}

static inline uint8_t *put_u16(uint8_t *p, uint16_t v)
{
	put_le16(p, v);
	return p + 2;
}

static inline uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	put_le32(p, v);
	return p + 4;
}

static inline uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	put_le64(p, v);
	return p + 8;
}

static inline uint8_t *put_raw(uint8_t *p, const void *src, size_t len)
{
	if (len)
		memcpy(p, src, len);
	return p + len;
}

/* put_str - a u16 length and the bytes; the caller checked LEN fits. */
static inline uint8_t *put_str(uint8_t *p, const char *s, size_t len)
{
	return put_raw(put_u16(p, (uint16_t)len), s, len);
}

static inline uint8_t *put_name(uint8_t *p, const char *s)
{
	return put_str(p, s, strlen(s));
}


/*
 * gw_frame_begin - room for a frame of BODY bytes at the end of OUT, its
 * header written (uncompressed); returns where the body goes, or NULL
 * (-ENOMEM). OUT->len is moved past the frame by gw_frame_end.
 */
uint8_t *gw_frame_begin(struct gw_buf *out, uint8_t type, size_t body);
void gw_frame_end(struct gw_buf *out, size_t body);

/* The bodies of GW_FS and GW_FSREPLY (frame_fs.c): decode from R into F
 * (0 or -EPROTO). */
int gw_dec_fs(struct rd *r, struct gw_frame *f);
int gw_dec_fsreply(struct rd *r, struct gw_frame *f);

#endif
