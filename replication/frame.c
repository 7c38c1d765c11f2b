/*
 * frame.c - the gateway's wire format (frame.h): encoding frames into a
 * gw_buf and decoding untrusted bytes back into a gw_frame, with the
 * optional lz4/zstd compression of a body. No I/O and no shared state:
 * the decoder is fuzzed on its own (fuzz/fuzz_frame.c).
 *
 * The decoder checks every length against what remains before it reads,
 * every name with name_valid, a message count against the bytes left
 * before it allocates, and refuses trailing bytes. Encoders check their
 * arguments first and leave OUT as it was on error. All integers go
 * through the byte-shift helpers of fs/util/byteorder.h, never through
 * host memory.
 */
#include "frame.h"

#include <errno.h>
#include <lz4.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "frame_internal.h"
#include "names.h"
#include "util/byteorder.h"

/* A compressed body: the u32 uncompressed length, then the data. */
#define GW_COMP_PREFIX 4
/* An APPEND message without payload: two UUIDs, two u64, the u32 len. */
#define GW_MSG_FIXED (16 + 16 + 8 + 8 + 4)

void gw_buf_free(struct gw_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static bool type_known(uint8_t type)
{
	return type >= GW_HELLO && type <= GW_FSREPLY;
}

static bool comp_known(uint8_t comp)
{
	return comp == GW_COMP_NONE || comp == GW_COMP_LZ4 || comp == GW_COMP_ZSTD;
}

/* A string field: its u16 length and at most 255 bytes. */
#define STR_MAX (2 + 255)
/* Room for a compressed small body: its prefix and the codec's frame. */
#define COMP_SLACK 64

size_t gw_body_max(uint8_t type)
{
	switch (type) {
	case GW_HELLO:
		return 2 + STR_MAX + COMP_SLACK;
	case GW_OPEN:
		return 3 * STR_MAX + COMP_SLACK;
	case GW_TOPIC:
		return 3 * STR_MAX + 16 + STR_MAX + 3 * 4 + COMP_SLACK;
	case GW_RESULT:
		return 4 + 4 + 16 + 2 + 1023 + COMP_SLACK;
	case GW_APPEND:
	case GW_FS:
		return GW_FRAME_MAX_BODY;
	case GW_FSREPLY:
		return GW_FSREPLY_FIXED + 2 + GW_MESSAGE_MAX + FS_DATA_MAX + COMP_SLACK;
	default:
		return 0;
	}
}

int gw_header_decode(const uint8_t p[GW_FRAME_HEADER], struct gw_header *h)
{
	if (memcmp(p, GW_MAGIC, 4) != 0 || !type_known(p[4]) ||
	    !comp_known(p[5]) || p[6] != 0 || p[7] != 0)
		return -EPROTO;
	uint32_t length = get_le32(p + 8);
	if (length > gw_body_max(p[4]))
		return -EMSGSIZE;
	h->type = p[4];
	h->compression = p[5];
	h->length = length;
	return 0;
}

/* ---- decoding ------------------------------------------------------------ */

static int dec_hello(struct rd *r, struct gw_frame *f)
{
	if (rd_u16(r, &f->version) < 0)
		return -EPROTO;
	return rd_name(r, f->dst_cluster);
}

static int dec_open(struct rd *r, struct gw_frame *f)
{
	if (rd_name(r, f->src_cluster) < 0 || rd_name(r, f->src_stream) < 0)
		return -EPROTO;
	return rd_name(r, f->dst_stream);
}

static int dec_topic(struct rd *r, struct gw_frame *f)
{
	if (dec_open(r, f) < 0 || rd_uuid(r, f->uuid) < 0 ||
	    rd_name(r, f->topic) < 0 || rd_u32(r, &f->uid) < 0 ||
	    rd_u32(r, &f->gid) < 0)
		return -EPROTO;
	return rd_u32(r, &f->mode);
}

static int dec_msg(struct rd *r, struct topic_msg *m)
{
	if (rd_uuid(r, m->origin_stream) < 0 || rd_uuid(r, m->origin_topic) < 0 ||
	    rd_u64(r, &m->origin_offset) < 0 || rd_u64(r, &m->timestamp_ns) < 0 ||
	    rd_u32(r, &m->len) < 0)
		return -EPROTO;
	m->payload = rd_take(r, m->len);
	m->offset = 0;
	return m->payload ? 0 : -EPROTO;
}

static int dec_append(struct rd *r, struct gw_frame *f)
{
	uint32_t count;
	if (dec_topic(r, f) < 0 || rd_u32(r, &count) < 0)
		return -EPROTO;
	/* Each message takes at least GW_MSG_FIXED bytes: check before the
	 * count decides the size of an allocation. */
	if ((uint64_t)count * GW_MSG_FIXED > r->n)
		return -EPROTO;
	if (!count)
		return 0;
	f->msgs = calloc(count, sizeof(*f->msgs));
	if (!f->msgs)
		return -ENOMEM;
	f->nmsgs = count;
	for (uint32_t i = 0; i < count; i++)
		if (dec_msg(r, &f->msgs[i]) < 0)
			return -EPROTO;
	return 0;
}

static int dec_result(struct rd *r, struct gw_frame *f)
{
	uint32_t status;
	size_t n;
	if (rd_u32(r, &status) < 0 || rd_u32(r, &f->applied) < 0 ||
	    rd_uuid(r, f->uuid) < 0)
		return -EPROTO;
	f->status = (int32_t)status;
	if (f->status > 0 || f->status < GW_STATUS_MIN)
		return -EPROTO;
	return rd_bytes(r, f->message, GW_MESSAGE_MAX, &n);
}

/* decompress_lz4 - LEN bytes at SRC into exactly ULEN bytes at DST. */
static int decompress_lz4(const uint8_t *src, size_t len, uint8_t *dst,
			  uint32_t ulen)
{
	int n = LZ4_decompress_safe((const char *)src, (char *)dst, (int)len,
				    (int)ulen);
	return n >= 0 && (uint32_t)n == ulen ? 0 : -EPROTO;
}

/* decompress_zstd - as decompress_lz4; a frame that states its content
 * size must not state more than ULEN. */
static int decompress_zstd(const uint8_t *src, size_t len, uint8_t *dst,
			   uint32_t ulen)
{
	unsigned long long fcs = ZSTD_getFrameContentSize(src, len);
	if (fcs == ZSTD_CONTENTSIZE_ERROR ||
	    (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs > ulen))
		return -EPROTO;
	size_t n = ZSTD_decompress(dst, ulen, src, len);
	return !ZSTD_isError(n) && n == ulen ? 0 : -EPROTO;
}

/* decompress - a compressed body (prefix and data) into SCRATCH, which
 * then holds exactly the uncompressed body. */
static int decompress(uint8_t type, uint8_t comp, const uint8_t *body, size_t len,
		      struct gw_buf *scratch)
{
	if (len < GW_COMP_PREFIX)
		return -EPROTO;
	/* Bounded by what the frame's type can hold: a few bytes that claim
	 * a big body get no big buffer. */
	uint32_t ulen = get_le32(body);
	if (ulen > gw_body_max(type))
		return -EMSGSIZE;
	scratch->len = 0;
	/* At least one byte, so that DST is never NULL. */
	if (gw_buf_reserve(scratch, ulen ? ulen : 1) < 0)
		return -ENOMEM;
	body += GW_COMP_PREFIX;
	len -= GW_COMP_PREFIX;
	int rc = comp == GW_COMP_LZ4 ? decompress_lz4(body, len, scratch->p, ulen)
				     : decompress_zstd(body, len, scratch->p, ulen);
	if (rc == 0)
		scratch->len = ulen;
	return rc;
}

static int dec_fields(uint8_t type, struct rd *r, struct gw_frame *f)
{
	switch (type) {
	case GW_HELLO:
		return dec_hello(r, f);
	case GW_OPEN:
		return dec_open(r, f);
	case GW_TOPIC:
		return dec_topic(r, f);
	case GW_APPEND:
		return dec_append(r, f);
	case GW_RESULT:
		return dec_result(r, f);
	case GW_FS:
		return gw_dec_fs(r, f);
	case GW_FSREPLY:
		return gw_dec_fsreply(r, f);
	}
	return -EPROTO;
}

int gw_body_decode(const struct gw_header *h, const uint8_t *body, size_t len,
		   struct gw_buf *scratch, struct gw_frame *f)
{
	struct rd r;
	int rc;
	memset(f, 0, sizeof(*f));
	if (!type_known(h->type) || !comp_known(h->compression) ||
	    len != h->length)
		return -EPROTO;
	if (len > GW_FRAME_MAX_BODY)
		return -EMSGSIZE;
	if (h->compression != GW_COMP_NONE) {
		rc = decompress(h->type, h->compression, body, len, scratch);
		if (rc < 0)
			goto out;
		body = scratch->p;
		len = scratch->len;
	}
	r = (struct rd){ .p = body, .n = len };
	f->type = h->type;
	rc = dec_fields(h->type, &r, f);
	if (rc == 0 && r.n != 0)
		rc = -EPROTO;
out:
	if (rc < 0)
		gw_frame_free(f);
	return rc;
}

void gw_frame_free(struct gw_frame *f)
{
	free(f->msgs);
	f->msgs = NULL;
	f->nmsgs = 0;
}

/* ---- encoding ------------------------------------------------------------ */

/* The fields GW_TOPIC and GW_APPEND share (GW_OPEN's are the first three). */
struct topic_fields {
	const char *src_cluster, *src_stream, *dst_stream;
	const uint8_t *expect;
	const char *topic;
	uint32_t uid, gid, mode;
};

/* name_check - 0 if S is a valid name (at most GW_STR_MAX bytes), else
 * -EINVAL. */
static int name_check(const char *s)
{
	if (!s || strnlen(s, GW_STR_MAX + 1) > GW_STR_MAX || !name_valid(s))
		return -EINVAL;
	return 0;
}

static int open_check(const struct topic_fields *t)
{
	if (name_check(t->src_cluster) < 0 || name_check(t->src_stream) < 0)
		return -EINVAL;
	return name_check(t->dst_stream);
}

static int topic_check(const struct topic_fields *t)
{
	if (open_check(t) < 0 || !t->expect)
		return -EINVAL;
	return name_check(t->topic);
}

static size_t str_size(const char *s)
{
	return 2 + strlen(s);
}

static size_t open_size(const struct topic_fields *t)
{
	return str_size(t->src_cluster) + str_size(t->src_stream) +
	       str_size(t->dst_stream);
}

static size_t topic_size(const struct topic_fields *t)
{
	return open_size(t) + 16 + str_size(t->topic) + 3 * 4;
}

static uint8_t *put_open(uint8_t *p, const struct topic_fields *t)
{
	p = put_name(p, t->src_cluster);
	p = put_name(p, t->src_stream);
	return put_name(p, t->dst_stream);
}

static uint8_t *put_topic(uint8_t *p, const struct topic_fields *t)
{
	p = put_raw(put_open(p, t), t->expect, 16);
	p = put_name(p, t->topic);
	p = put_u32(p, t->uid);
	p = put_u32(p, t->gid);
	return put_u32(p, t->mode);
}

static void put_header(uint8_t *p, uint8_t type, uint8_t comp, uint32_t len)
{
	memcpy(p, GW_MAGIC, 4);
	p[4] = type;
	p[5] = comp;
	p[6] = p[7] = 0;
	put_le32(p + 8, len);
}

uint8_t *gw_frame_begin(struct gw_buf *out, uint8_t type, size_t body)
{
	if (gw_buf_reserve(out, GW_FRAME_HEADER + body) < 0)
		return NULL;
	uint8_t *p = out->p + out->len;
	put_header(p, type, GW_COMP_NONE, (uint32_t)body);
	return p + GW_FRAME_HEADER;
}

void gw_frame_end(struct gw_buf *out, size_t body)
{
	out->len += GW_FRAME_HEADER + body;
}

int gw_encode_hello(struct gw_buf *out, const char *dst_cluster)
{
	if (name_check(dst_cluster) < 0)
		return -EINVAL;
	size_t body = 2 + str_size(dst_cluster);
	uint8_t *p = gw_frame_begin(out, GW_HELLO, body);
	if (!p)
		return -ENOMEM;
	put_name(put_u16(p, GW_VERSION), dst_cluster);
	gw_frame_end(out, body);
	return 0;
}

int gw_encode_open(struct gw_buf *out, const char *src_cluster,
		   const char *src_stream, const char *dst_stream)
{
	struct topic_fields t = { .src_cluster = src_cluster,
				  .src_stream = src_stream,
				  .dst_stream = dst_stream };
	if (open_check(&t) < 0)
		return -EINVAL;
	size_t body = open_size(&t);
	uint8_t *p = gw_frame_begin(out, GW_OPEN, body);
	if (!p)
		return -ENOMEM;
	put_open(p, &t);
	gw_frame_end(out, body);
	return 0;
}

int gw_encode_topic(struct gw_buf *out, const char *src_cluster,
		    const char *src_stream, const char *dst_stream,
		    const uuid_t expect, const char *topic, uint32_t uid,
		    uint32_t gid, uint32_t mode)
{
	struct topic_fields t = { src_cluster, src_stream, dst_stream, expect,
				  topic, uid, gid, mode };
	if (topic_check(&t) < 0)
		return -EINVAL;
	size_t body = topic_size(&t);
	uint8_t *p = gw_frame_begin(out, GW_TOPIC, body);
	if (!p)
		return -ENOMEM;
	put_topic(p, &t);
	gw_frame_end(out, body);
	return 0;
}

/* append_size - the plain APPEND body in *SIZE; -EMSGSIZE past the max. */
static int append_size(const struct topic_fields *t,
		       const struct topic_msg *msgs, size_t n, size_t *size)
{
	uint64_t total = topic_size(t) + 4;
	for (size_t i = 0; i < n && total <= GW_FRAME_MAX_BODY; i++)
		total += GW_MSG_FIXED + (uint64_t)msgs[i].len;
	if (total > GW_FRAME_MAX_BODY)
		return -EMSGSIZE;
	*size = (size_t)total;
	return 0;
}

static int append_check(const struct topic_fields *t,
			const struct topic_msg *msgs, size_t n)
{
	if (topic_check(t) < 0 || (n && !msgs))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (msgs[i].len && !msgs[i].payload)
			return -EINVAL;
	return 0;
}

static uint8_t *put_msg(uint8_t *p, const struct topic_msg *m)
{
	p = put_raw(p, m->origin_stream, 16);
	p = put_raw(p, m->origin_topic, 16);
	p = put_u64(p, m->origin_offset);
	p = put_u64(p, m->timestamp_ns);
	p = put_u32(p, m->len);
	return put_raw(p, m->payload, m->len);
}

/* compress_into - LEN bytes at SRC compressed into at most CAP bytes at
 * DST; the compressed size, or 0 if it does not fit (or fails). */
static size_t compress_into(enum gw_compression comp, const uint8_t *src,
			    size_t len, uint8_t *dst, size_t cap)
{
	if (comp == GW_COMP_LZ4) {
		int n = LZ4_compress_default((const char *)src, (char *)dst,
					     (int)len, (int)cap);
		return n > 0 ? (size_t)n : 0;
	}
	size_t n = ZSTD_compress(dst, cap, src, len, 1);
	return ZSTD_isError(n) ? 0 : n;
}

/*
 * compress_frame - compress the LEN-byte plain body of the frame at HDR
 * in place when that makes it smaller (prefix included); otherwise the
 * frame stays as it is, uncompressed. -ENOMEM if no room to try.
 */
static int compress_frame(enum gw_compression comp, uint8_t *hdr, size_t len,
			  size_t *sent)
{
	*sent = len;
	if (comp == GW_COMP_NONE || len <= GW_COMP_PREFIX + 1)
		return 0;
	/* Room for a result strictly smaller than the plain body. */
	size_t cap = len - GW_COMP_PREFIX - 1;
	uint8_t *tmp = malloc(GW_COMP_PREFIX + cap);
	if (!tmp)
		return -ENOMEM;
	uint8_t *body = hdr + GW_FRAME_HEADER;
	size_t n = compress_into(comp, body, len, tmp + GW_COMP_PREFIX, cap);
	if (n) {
		put_le32(tmp, (uint32_t)len);
		memcpy(body, tmp, GW_COMP_PREFIX + n);
		*sent = GW_COMP_PREFIX + n;
		put_header(hdr, GW_APPEND, comp, (uint32_t)*sent);
	}
	free(tmp);
	return 0;
}

int gw_encode_append(struct gw_buf *out, enum gw_compression comp,
		     const char *src_cluster, const char *src_stream,
		     const char *dst_stream, const uuid_t expect,
		     const char *topic, uint32_t uid, uint32_t gid,
		     uint32_t mode, const struct topic_msg *msgs, size_t n)
{
	struct topic_fields t = { src_cluster, src_stream, dst_stream, expect,
				  topic, uid, gid, mode };
	size_t body, sent;
	if (!comp_known(comp) || append_check(&t, msgs, n) < 0)
		return -EINVAL;
	if (n > UINT32_MAX || append_size(&t, msgs, n, &body) < 0)
		return -EMSGSIZE;
	uint8_t *p = gw_frame_begin(out, GW_APPEND, body);
	if (!p)
		return -ENOMEM;
	uint8_t *hdr = p - GW_FRAME_HEADER;
	p = put_u32(put_topic(p, &t), (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		p = put_msg(p, &msgs[i]);
	/* Nothing is counted in OUT->len before this succeeds. */
	int rc = compress_frame(comp, hdr, body, &sent);
	if (rc < 0)
		return rc;
	gw_frame_end(out, sent);
	return 0;
}

int gw_encode_result(struct gw_buf *out, int32_t status, uint32_t applied,
		     const uuid_t uuid, const char *message)
{
	static const uuid_t zero;
	if (status > 0 || status < GW_STATUS_MIN)
		return -EINVAL;
	if (!message)
		message = "";
	size_t mlen = strnlen(message, GW_MESSAGE_MAX);
	size_t body = 4 + 4 + 16 + 2 + mlen;
	uint8_t *p = gw_frame_begin(out, GW_RESULT, body);
	if (!p)
		return -ENOMEM;
	p = put_u32(p, (uint32_t)status);
	p = put_u32(p, applied);
	p = put_raw(p, uuid ? uuid : zero, 16);
	put_str(p, message, mlen);
	gw_frame_end(out, body);
	return 0;
}
