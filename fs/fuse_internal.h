/*
 * fuse_internal.h - what the two halves of the FUSE layer share: the
 * namespace handlers (fs/fuse_ops.c, which also holds the operations
 * table) and the open-file handlers (fs/fuse_files.c). Not for use outside
 * the FUSE layer.
 */
#ifndef STREAMFS_FUSE_INTERNAL_H
#define STREAMFS_FUSE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "ctlfiles.h"
#include "fuse_ops.h"
#include "openfile.h"

/* The daemon this request is served for (libfuse's private data). */
static inline struct sfs_daemon *daemon_of(void)
{
	return fuse_get_context()->private_data;
}

/* The open file of FI (NULL for none). */
static inline struct fh *fh_of(const struct fuse_file_info *fi)
{
	return fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
}

static inline void put_stream_p(struct stream **s)
{
	if (*s)
		stream_put(*s);
}

static inline void put_topic_p(struct topic **t)
{
	if (*t)
		topic_put(*t);
}

/* References dropped on every return (fuse-overlayfs' cleanup style). */
#define AUTO_STREAM __attribute__((cleanup(put_stream_p))) struct stream
#define AUTO_TOPIC __attribute__((cleanup(put_topic_p))) struct topic

/* What a path names. Paths have at most three parts. */
enum loc_kind { L_ROOT, L_CLUSTER, L_STREAM, L_TOPIC, L_CTL };

struct loc {
	enum loc_kind kind;
	char c[256], s[256], t[256];
	int ctl;		/* enum ctlfile for L_CTL */
};

/* is_rootinfo - does L name the mount's /.info (docs/operating.md)? */
static inline bool is_rootinfo(const struct loc *l)
{
	return l->kind == L_CLUSTER && !strcmp(l->c, ".info");
}

/* rootinfo_attr - the attributes of /.info into ST: read only, its size
 * the length of what the caller would read now. 0 or -ENOMEM. */
int rootinfo_attr(struct sfs_daemon *d, struct stat *st);

/* parse_path - split PATH into L's parts. 0, or -ENOENT for more than
 * three parts. A part longer than 255 bytes is left empty. */
int parse_path(const char *path, struct loc *l);

/* is_hidden_name - a name libfuse gives a file removed while open:
 * ".fuse_hidden" and 16 hex digits, as its hide_node makes them. */
bool is_hidden_name(const char *name);

/* find_topic - topic NAME of S, or the topic removed while open that has
 * that hidden name: a new reference, or NULL. */
struct topic *find_topic(struct stream *s, const char *name);

/* reader_of - the caller of the current request as a reader of control
 * files; its supplementary groups go into GROUPS (room for N). */
const struct ctl_reader *reader_of(struct ctl_reader *who, gid_t *groups, int n);

/* local_cluster - the local cluster NAME of D, or NULL. Borrowed. */
struct cluster *local_cluster(struct sfs_daemon *d, const char *name);

/* set_time - TS from NS nanoseconds since the epoch. */
void set_time(struct timespec *ts, uint64_t ns);

/* topic_attr - the attributes of topic T into ST, its waiting last lines
 * stored first (commit_pending). */
void topic_attr(struct sfs_daemon *d, struct topic *t, struct stat *st);

/* ctl_attr - the attributes of control file CTL of S: its size is the
 * length of what the caller would read now. 0 or -ENOMEM. */
int ctl_attr(struct sfs_daemon *d, struct stream *s, int ctl, struct stat *st);

/*
 * commit_pending - store every waiting last line of topic T (fs/lines.h,
 * the pending list) before someone looks at it. Takes pending_list.mu,
 * then each open file's fh.mu; call with no lock held.
 */
void commit_pending(struct sfs_daemon *d, struct topic *t);

/* The handlers of fs/fuse_files.c and fs/fuse_ops.c, as libfuse calls
 * them (struct fuse_operations). */
int sfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi);
int sfs_open(const char *path, struct fuse_file_info *fi);
int sfs_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int sfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int sfs_write(const char *path, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi);
int sfs_flush(const char *path, struct fuse_file_info *fi);
int sfs_release(const char *path, struct fuse_file_info *fi);
int sfs_fsync(const char *path, int datasync, struct fuse_file_info *fi);
int sfs_truncate(const char *path, off_t size, struct fuse_file_info *fi);
int sfs_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi);
int sfs_set_owner_fh(struct fh *f, uid_t uid, gid_t gid, mode_t mode);

#endif
