/*
 * frame_fs.c - the file-operation frames of the global namespace (GW_FS,
 * GW_FSREPLY; layouts in frame.h): their encoders and the decoders of
 * their untrusted bodies. Like frame.c: no I/O, no shared state, every
 * length checked against what remains before it is read, names checked
 * with name_valid, trailing bytes refused (by gw_body_decode).
 */
#include "frame_internal.h"

#include <stdbool.h>

#include "../fs/ctlfiles.h"

/* The fixed part of a GW_FS body, without groups, names and data. */
#define FS_FIXED (1 + 4 + 4 + 1 + 8 + 4 + 4 + 4 + 4 + 4 + 16 + 4)

/* A request's stream: "" or a name. Its name: "", a name, or a control
 * file's (".replicas", ".upstreams", ".info"). Never a hidden name of
 * libfuse's or a path. */
static bool stream_ok(const char *s)
{
	return !*s || name_valid(s);
}

static bool leaf_ok(const char *s)
{
	return !*s || name_valid(s) || ctlfile_by_name(s) >= 0;
}

/*
 * What each operation may name last: a topic (append, create, unlink,
 * chmod, chown), a control file (writectl), either (getattr, read, open),
 * nothing (readdir and statfs of a cluster or stream; mkdir and rmdir of
 * a stream). A control file is never appended to, made, removed or
 * given an owner through a request: its rules are one write path's.
 */
static bool target_ok(const struct fs_req *q)
{
	bool ctl = q->name[0] && ctlfile_by_name(q->name) >= 0;
	switch (q->op) {
	case FS_APPEND:
	case FS_CREATE:
	case FS_UNLINK:
		return q->name[0] && !ctl;
	case FS_CHMOD:
	case FS_CHOWN:
		return !ctl;
	case FS_WRITECTL:
		return ctl;
	case FS_GETATTR:
	case FS_READ:
	case FS_OPEN:
		return q->op == FS_GETATTR || q->name[0];
	default:
		return !q->name[0];
	}
}

/* The most an FS_READ of Q's file may ask for. */
static uint32_t read_max(const struct fs_req *q)
{
	return q->name[0] == '.' ? FS_CTL_READ_MAX : FS_READ_MAX;
}

/* The flags an operation may carry: FS_OPEN's, FS_WRITECTL's, none. */
static bool flags_ok(const struct fs_req *q)
{
	uint32_t allowed = q->op == FS_OPEN ? FS_O_READ | FS_O_WRITE | FS_O_TRUNC :
			   q->op == FS_WRITECTL ? FS_CTL_REPLACE : 0;
	return !(q->flags & ~allowed);
}

/* rd_str - a string of at most 255 bytes with no NUL inside. */
static int rd_str(struct rd *r, char out[GW_STR_MAX + 1])
{
	size_t n;
	if (rd_bytes(r, out, GW_STR_MAX, &n) < 0 || strlen(out) != n)
		return -EPROTO;
	return 0;
}

int gw_dec_fs(struct rd *r, struct gw_frame *f)
{
	struct fs_req *q = &f->fs;
	const uint8_t *p = rd_take(r, 1);
	uint8_t ng;
	uint32_t len;
	if (!p || *p < 1 || *p > FS_OP_MAX)
		return -EPROTO;
	q->op = (enum fs_op)*p;
	if (rd_u32(r, &q->who.uid) < 0 || rd_u32(r, &q->who.gid) < 0)
		return -EPROTO;
	if (!(p = rd_take(r, 1)) || (ng = *p) > FS_MAX_GROUPS)
		return -EPROTO;
	q->who.ngroups = ng;
	for (uint8_t i = 0; i < ng; i++)
		if (rd_u32(r, &q->who.groups[i]) < 0)
			return -EPROTO;
	if (rd_name(r, q->cluster) < 0 || rd_str(r, q->stream) < 0 || rd_str(r, q->name) < 0 ||
	    !stream_ok(q->stream) || !leaf_ok(q->name) || (!*q->stream && *q->name))
		return -EPROTO;
	if (rd_u64(r, &q->offset) < 0 || rd_u32(r, &q->size) < 0 || rd_u32(r, &q->mode) < 0 ||
	    rd_u32(r, &q->owner) < 0 || rd_u32(r, &q->group) < 0 || rd_u32(r, &q->flags) < 0 ||
	    rd_uuid(r, q->expect) < 0 || rd_u32(r, &len) < 0)
		return -EPROTO;
	if (!target_ok(q))
		return -EPROTO;
	if (!flags_ok(q))
		return -EPROTO;
	if (q->size > read_max(q) || q->offset > INT64_MAX || q->mode > 07777)
		return -EPROTO;
	if (len && q->op != FS_APPEND && q->op != FS_WRITECTL)
		return -EPROTO;
	if (!(q->data = rd_take(r, len)))
		return -EPROTO;
	q->len = len;
	return 0;
}

int gw_dec_fsreply(struct rd *r, struct gw_frame *f)
{
	struct fs_rep *a = &f->fsrep;
	uint32_t status, len;
	size_t n;
	if (rd_u32(r, &status) < 0)
		return -EPROTO;
	a->status = (int32_t)status;
	if (a->status < GW_STATUS_MIN)
		return -EPROTO;
	if (rd_u32(r, &a->attr.mode) < 0 || rd_u32(r, &a->attr.uid) < 0 ||
	    rd_u32(r, &a->attr.gid) < 0 || rd_u32(r, &a->attr.nlink) < 0 ||
	    rd_u64(r, &a->attr.size) < 0 || rd_u64(r, &a->attr.atime_ns) < 0 ||
	    rd_u64(r, &a->attr.mtime_ns) < 0 || rd_u64(r, &a->attr.ctime_ns) < 0 ||
	    rd_uuid(r, a->topic) < 0)
		return -EPROTO;
	uint64_t *sv[] = { &a->sv.bsize, &a->sv.frsize, &a->sv.blocks, &a->sv.bfree,
			   &a->sv.bavail, &a->sv.files, &a->sv.ffree, &a->sv.namemax };
	for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
		if (rd_u64(r, sv[i]) < 0)
			return -EPROTO;
	if (a->attr.size > INT64_MAX || rd_u32(r, &len) < 0 || len > FS_DATA_MAX)
		return -EPROTO;
	/* A byte count is what came with it, never more. */
	if (a->status > 0 && (uint32_t)a->status > len && len)
		return -EPROTO;
	const uint8_t *d = rd_take(r, len);
	if (!d)
		return -EPROTO;
	/* Points into the body: gw_frame_free must not free it. */
	a->data = (uint8_t *)(uintptr_t)d;
	a->len = len;
	return rd_bytes(r, a->message, GW_MESSAGE_MAX, &n);
}

int gw_encode_fs(struct gw_buf *out, const struct fs_req *q)
{
	if (q->op < 1 || q->op > FS_OP_MAX || q->who.ngroups > FS_MAX_GROUPS ||
	    strnlen(q->cluster, 256) > GW_STR_MAX || !name_valid(q->cluster) ||
	    strnlen(q->stream, 256) > GW_STR_MAX || !stream_ok(q->stream) ||
	    strnlen(q->name, 256) > GW_STR_MAX || !leaf_ok(q->name) ||
	    (!*q->stream && *q->name) || !target_ok(q) || q->size > read_max(q) ||
	    q->offset > INT64_MAX ||
	    q->mode > 07777 || !flags_ok(q) || (q->len && (q->op != FS_APPEND && q->op != FS_WRITECTL)) ||
	    (q->len && !q->data))
		return -EINVAL;
	uint64_t body = FS_FIXED + 4ull * q->who.ngroups + 6 + strlen(q->cluster) +
			strlen(q->stream) + strlen(q->name) + q->len;
	if (body > GW_FRAME_MAX_BODY || q->len > UINT32_MAX)
		return -EMSGSIZE;
	uint8_t *p = gw_frame_begin(out, GW_FS, (size_t)body);
	if (!p)
		return -ENOMEM;
	*p++ = (uint8_t)q->op;
	p = put_u32(p, q->who.uid);
	p = put_u32(p, q->who.gid);
	*p++ = (uint8_t)q->who.ngroups;
	for (uint32_t i = 0; i < q->who.ngroups; i++)
		p = put_u32(p, q->who.groups[i]);
	p = put_name(p, q->cluster);
	p = put_name(p, q->stream);
	p = put_name(p, q->name);
	p = put_u64(p, q->offset);
	p = put_u32(p, q->size);
	p = put_u32(p, q->mode);
	p = put_u32(p, q->owner);
	p = put_u32(p, q->group);
	p = put_u32(p, q->flags);
	p = put_raw(p, q->expect, 16);
	p = put_u32(p, (uint32_t)q->len);
	put_raw(p, q->data, q->len);
	gw_frame_end(out, (size_t)body);
	return 0;
}

int gw_encode_fsreply(struct gw_buf *out, const struct fs_rep *a)
{
	if (a->status < GW_STATUS_MIN || (a->len && !a->data))
		return -EINVAL;
	if (a->len > FS_DATA_MAX)
		return -EMSGSIZE;
	size_t mlen = strnlen(a->message, GW_MESSAGE_MAX);
	size_t body = GW_FSREPLY_FIXED + a->len + 2 + mlen;
	uint8_t *p = gw_frame_begin(out, GW_FSREPLY, body);
	if (!p)
		return -ENOMEM;
	p = put_u32(p, (uint32_t)a->status);
	p = put_u32(p, a->attr.mode);
	p = put_u32(p, a->attr.uid);
	p = put_u32(p, a->attr.gid);
	p = put_u32(p, a->attr.nlink);
	p = put_u64(p, a->attr.size);
	p = put_u64(p, a->attr.atime_ns);
	p = put_u64(p, a->attr.mtime_ns);
	p = put_u64(p, a->attr.ctime_ns);
	p = put_raw(p, a->topic, 16);
	const uint64_t sv[] = { a->sv.bsize, a->sv.frsize, a->sv.blocks, a->sv.bfree,
				a->sv.bavail, a->sv.files, a->sv.ffree, a->sv.namemax };
	for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
		p = put_u64(p, sv[i]);
	p = put_u32(p, (uint32_t)a->len);
	p = put_raw(p, a->data, a->len);
	put_str(p, a->message, mlen);
	gw_frame_end(out, body);
	return 0;
}
