/*
 * fsreq.h - a file operation on a cluster that another daemon serves (the
 * global namespace, docs/global-namespace.md): what this daemon's FUSE
 * layer asks (struct fs_req) and what the serving daemon answers (struct
 * fs_rep). Plain data, no I/O: the remote home (fs/remote/) hands a
 * request to the gateway's client through the fs_call hook
 * (fs/replhooks.h); the gateway's wire format (replication/frame.h,
 * GW_FS and GW_FSREPLY) carries both; the serving gateway carries the
 * operation out on its own mount as the caller (replication/gwfs.c).
 *
 * A request names its target by parts, never by a path: CLUSTER (always),
 * STREAM and NAME (a topic or a control file), each "" when absent, each a
 * single valid name (fs/names.h) or a control file's name, so no request
 * can reach outside /<cluster>/<stream>/<name>.
 */
#ifndef STREAMFS_FSREQ_H
#define STREAMFS_FSREQ_H

#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

/* The operations, as the serving daemon carries them out on its mount. */
enum fs_op {
	FS_GETATTR = 1,	/* stat */
	FS_READDIR = 2,	/* the names of a cluster or stream, NUL after each */
	FS_READ = 3,	/* pread of SIZE bytes at OFFSET (topic, control file) */
	FS_APPEND = 4,	/* complete lines appended to a topic (one write()) */
	FS_CREATE = 5,	/* a topic, MODE */
	FS_UNLINK = 6,	/* a topic */
	FS_MKDIR = 7,	/* a stream, MODE */
	FS_RMDIR = 8,	/* a stream */
	FS_CHMOD = 9,	/* MODE of a cluster, stream or topic */
	FS_CHOWN = 10,	/* OWNER/GROUP of a cluster, stream or topic */
	FS_WRITECTL = 11, /* the whole new content of a control file */
	FS_STATFS = 12,	/* statvfs of the cluster */
	FS_OPEN = 13,	/* may the caller open it so (FLAGS: FS_O_*)? */
};
#define FS_OP_MAX FS_OPEN

/* Supplementary groups that travel with a request (more are cut). */
#define FS_MAX_GROUPS 32
/* The most bytes one FS_READ of a topic may ask for (the kernel asks for
 * less); of a control file, FS_CTL_READ_MAX: its whole text in one
 * request, one rendering. */
#define FS_READ_MAX (1u << 20)
#define FS_CTL_READ_MAX FS_DATA_MAX
/* The most bytes of data one answer holds; so the most names one
 * FS_READDIR answer holds, bytes with their NULs. */
#define FS_DATA_MAX (16u << 20)
#define FS_READDIR_MAX FS_DATA_MAX

/* FS_OPEN's flags: opened for reading, writing, with O_TRUNC. */
#define FS_O_READ 2u
#define FS_O_WRITE 4u
#define FS_O_TRUNC 8u

/* FS_WRITECTL: the data replaces the file's set ("> file"), as an
 * open with O_TRUNC does; without it the lines are added (">> file"). */
#define FS_CTL_REPLACE 1u

/* Who asks: as the kernel gave the caller to this daemon. */
struct fs_caller {
	uint32_t uid, gid;
	uint32_t ngroups;
	uint32_t groups[FS_MAX_GROUPS];
};

struct fs_req {
	enum fs_op op;
	struct fs_caller who;
	char cluster[256], stream[256], name[256];	/* "" when absent */
	uint64_t offset;	/* FS_READ: byte position */
	uint32_t size;		/* FS_READ: bytes wanted, at most FS_READ_MAX
				 * (FS_CTL_READ_MAX for a control file) */
	uint32_t mode;		/* FS_CREATE, FS_MKDIR, FS_CHMOD: 07777 bits */
	uint32_t owner, group;	/* FS_CHOWN: (uint32_t)-1 leaves one as is */
	uint32_t flags;		/* FS_WRITECTL: FS_CTL_REPLACE or 0 (add lines);
				 * FS_OPEN: FS_O_* */
	/* FS_READ, FS_GETATTR of a topic an open file holds: the topic's
	 * incarnation that file opened (null: any). Another one under the
	 * name now (removed and made again) is -ENOENT: an open file never
	 * reads a topic it did not open. */
	uuid_t expect;
	const uint8_t *data;	/* FS_APPEND, FS_WRITECTL; borrowed */
	size_t len;
};

/* Attributes as the serving daemon's stat gave them. */
struct fs_attr {
	uint32_t mode, uid, gid, nlink;	/* mode: type and permission bits */
	uint64_t size;
	uint64_t atime_ns, mtime_ns, ctime_ns;	/* since the epoch */
};

/* statvfs of a cluster, the fields statfs(2) callers look at. */
struct fs_statvfs {
	uint64_t bsize, frsize, blocks, bfree, bavail, files, ffree, namemax;
};

struct fs_rep {
	int32_t status;		/* bytes (FS_READ, FS_APPEND), 0, or -errno */
	struct fs_attr attr;	/* FS_GETATTR, FS_CREATE, FS_MKDIR, FS_OPEN */
	uuid_t topic;		/* FS_OPEN, FS_CREATE of a topic: its
				 * incarnation (null otherwise) */
	struct fs_statvfs sv;	/* FS_STATFS */
	uint8_t *data;		/* FS_READ bytes, FS_READDIR names; malloc'd,
				 * owned by the reply: fs_rep_free */
	size_t len;
	char message[1024];	/* why, on error (may be "") */
};

/* fs_rep_free - free what REP owns (its data) and zero it. */
void fs_rep_free(struct fs_rep *rep);

/*
 * fs_op_name - the operation's name for logs ("getattr", "append", ...);
 * "?" for an unknown one. Static string.
 */
const char *fs_op_name(int op);

#endif
