/*
 * frame.h - the gateway's wire format: frames exchanged between a
 * replication client (the source daemon) and a gateway (the replica's
 * daemon) inside a TLS connection. Encoding and decoding only: no I/O, no
 * locks, so the decoder can be fuzzed on its own (fuzz/fuzz_frame.c).
 *
 * A frame is a 12-byte header and a body:
 *
 *   offset size  field
 *   0      4     magic "SFG1" (0x53 0x46 0x47 0x31)
 *   4      1     type (enum gw_type)
 *   5      1     compression of the body (enum gw_compression)
 *   6      2     reserved, 0
 *   8      4     body length in bytes as sent (little-endian),
 *                at most GW_FRAME_MAX_BODY
 *
 * A compressed body is a u32 length of the uncompressed body (at most
 * GW_FRAME_MAX_BODY) followed by the lz4 block or zstd frame. Integers are
 * little-endian; a string is a u16 length (0-255) and that many bytes, no
 * NUL; a UUID is 16 raw bytes.
 *
 * Bodies by type (client -> gateway, each answered by one GW_RESULT):
 *   GW_HELLO   u16 version (GW_VERSION), str dst_cluster
 *   GW_OPEN    str src_cluster, str src_stream, str dst_stream
 *   GW_TOPIC   str src_cluster, str src_stream, str dst_stream,
 *              uuid expect, str topic, u32 uid, u32 gid, u32 mode
 *   GW_APPEND  the GW_TOPIC fields, then u32 count, then count messages:
 *              uuid origin_stream, uuid origin_topic, u64 origin_offset,
 *              u64 timestamp_ns, u32 len, len bytes of payload
 *   GW_FS      a file operation of the global namespace (fs/fsreq.h):
 *              u8 op, u32 uid, u32 gid, u8 ngroups (at most
 *              FS_MAX_GROUPS), ngroups u32 gids, str cluster, str stream
 *              ("" or a name), str name ("", a name or a control file's
 *              name, as the operation allows), u64 offset, u32 size (at
 *              most FS_READ_MAX, FS_CTL_READ_MAX for a control file),
 *              u32 mode, u32 owner, u32 group, u32 flags (FS_O_* for
 *              FS_OPEN, FS_CTL_REPLACE for FS_WRITECTL), uuid expect
 *              (the incarnation an open file holds, or zeros), u32 len
 *              and len bytes of data
 *              (FS_APPEND and FS_WRITECTL only); answered by GW_FSREPLY
 * gateway -> client:
 *   GW_FSREPLY i32 status (a byte count, 0 or a negative errno), the
 *              attributes (u32 mode, uid, gid, nlink; u64 size, atime,
 *              mtime, ctime in ns), uuid topic (the incarnation opened,
 *              or zeros), the statvfs (8 u64: bsize, frsize, blocks,
 *              bfree, bavail, files, ffree, namemax), u32 len and len
 *              bytes of data (at most FS_CTL_READ_MAX), str message
 *              (0-1023 bytes)
 *   GW_RESULT  i32 status (0 or a negative errno), u32 applied (messages
 *              appended, GW_APPEND only), uuid (the replica stream's UUID
 *              for GW_OPEN, zeros otherwise), u16 length (0-1023) and
 *              that many bytes: the message (why, on error)
 *
 * Names in strings are checked with name_valid (fs/names.h); a decoded
 * message count must fit in the body. Anything else is -EPROTO.
 */
#ifndef STREAMFS_FRAME_H
#define STREAMFS_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

#include "../fs/fsreq.h"
#include "../fs/topic.h"

#define GW_VERSION 1
#define GW_FRAME_HEADER 12
/* A batch is at most REPLICATOR_BATCH_BYTES after its first message, which
 * may be a whole max_message (64 MiB): 80 MiB holds both with headers. */
#define GW_FRAME_MAX_BODY (80u << 20)

enum gw_type {
	GW_HELLO = 1,
	GW_OPEN = 2,
	GW_TOPIC = 3,
	GW_APPEND = 4,
	GW_RESULT = 5,
	GW_FS = 6,
	GW_FSREPLY = 7,
};

/* Same values as enum ctl_compression (fs/control.h). */
enum gw_compression { GW_COMP_NONE = 0, GW_COMP_LZ4 = 1, GW_COMP_ZSTD = 2 };

struct gw_header {
	uint8_t type;		/* enum gw_type */
	uint8_t compression;	/* enum gw_compression */
	uint32_t length;	/* body bytes as sent */
};

/* A decoded frame. Strings are NUL-terminated copies; msgs (GW_APPEND)
 * is malloc'd and its payloads point into the body passed to gw_decode,
 * which must outlive it. Release with gw_frame_free. */
struct gw_frame {
	enum gw_type type;
	uint16_t version;			/* GW_HELLO */
	char dst_cluster[256];			/* GW_HELLO */
	char src_cluster[256], src_stream[256], dst_stream[256];
	uuid_t uuid;				/* expect (TOPIC/APPEND), RESULT */
	char topic[256];
	uint32_t uid, gid, mode;
	struct topic_msg *msgs;			/* GW_APPEND */
	size_t nmsgs;
	int32_t status;				/* GW_RESULT */
	uint32_t applied;			/* GW_RESULT */
	char message[1024];			/* GW_RESULT, may be cut */
	struct fs_req fs;	/* GW_FS; data points into the body */
	struct fs_rep fsrep;	/* GW_FSREPLY; data points into the body
				 * (not to be freed), message as above */
};

/* A growable output buffer; owns P. Zero it to start, gw_buf_free after. */
struct gw_buf {
	uint8_t *p;
	size_t len, cap;
};

void gw_buf_free(struct gw_buf *b);

/*
 * gw_body_max - the largest body a frame of TYPE may have, bytes, as sent
 * and uncompressed: what its fields can take for HELLO, OPEN, TOPIC and
 * RESULT (under 2 KiB, with room for compression), GW_FRAME_MAX_BODY for
 * APPEND and FS, FS_CTL_READ_MAX and the fixed fields for FSREPLY, 0 for
 * an unknown type. A receiver refuses a header announcing
 * more before reading the body.
 */
size_t gw_body_max(uint8_t type);

/*
 * gw_header_decode - parse the 12 header bytes at P into *H.
 * Returns 0, -EPROTO (bad magic, unknown type or compression, reserved not
 * 0) or -EMSGSIZE (length over gw_body_max of its type).
 */
int gw_header_decode(const uint8_t p[GW_FRAME_HEADER], struct gw_header *h);

/*
 * gw_body_decode - decode the body (LEN bytes at BODY, as sent) of a frame
 * with header H into *F (zeroed first). A compressed body is decompressed
 * into *SCRATCH (reused across calls; the caller frees it with gw_buf_free),
 * and F's payloads then point into SCRATCH. Returns 0, -EPROTO (malformed:
 * short, trailing bytes, bad name, bad count, corrupt compression),
 * -EMSGSIZE (uncompressed size over GW_FRAME_MAX_BODY) or -ENOMEM.
 * On error *F holds nothing to free.
 */
int gw_body_decode(const struct gw_header *h, const uint8_t *body, size_t len,
		   struct gw_buf *scratch, struct gw_frame *f);

/* gw_frame_free - release what gw_body_decode allocated in F. */
void gw_frame_free(struct gw_frame *f);

/*
 * Encoders: each appends one whole frame (header and body) to OUT, the
 * body compressed with COMP where it takes one (only GW_APPEND does; a
 * body that does not shrink is sent uncompressed). Names must be valid
 * and at most 255 bytes. Return 0, -EINVAL (a name too long), -EMSGSIZE
 * (body over GW_FRAME_MAX_BODY) or -ENOMEM; on error OUT is as it was.
 */
int gw_encode_hello(struct gw_buf *out, const char *dst_cluster);
int gw_encode_open(struct gw_buf *out, const char *src_cluster,
		   const char *src_stream, const char *dst_stream);
int gw_encode_topic(struct gw_buf *out, const char *src_cluster,
		    const char *src_stream, const char *dst_stream,
		    const uuid_t expect, const char *topic, uint32_t uid,
		    uint32_t gid, uint32_t mode);
int gw_encode_append(struct gw_buf *out, enum gw_compression comp,
		     const char *src_cluster, const char *src_stream,
		     const char *dst_stream, const uuid_t expect,
		     const char *topic, uint32_t uid, uint32_t gid,
		     uint32_t mode, const struct topic_msg *msgs, size_t n);
int gw_encode_result(struct gw_buf *out, int32_t status, uint32_t applied,
		     const uuid_t uuid, const char *message);
/* GW_FS: REQ's names are checked as the decoder checks them (-EINVAL),
 * its data only for FS_APPEND and FS_WRITECTL. Never compressed. */
int gw_encode_fs(struct gw_buf *out, const struct fs_req *req);
/* GW_FSREPLY: REP's status, attributes, topic, statvfs, data and message
 * (cut at 1,023 bytes). -EMSGSIZE for data over FS_CTL_READ_MAX. */
int gw_encode_fsreply(struct gw_buf *out, const struct fs_rep *rep);

#endif
