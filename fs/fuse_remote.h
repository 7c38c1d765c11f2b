/*
 * fuse_remote.h - the FUSE layer's handlers for paths under a cluster
 * another daemon serves (fs/fuse_remote.c; docs/global-namespace.md).
 * fs/fuse_ops.c and fs/fuse_files.c hand a path over when remote_cluster
 * finds its cluster remote, and an open file when its kind is FH_REMOTE.
 *
 * Every handler returns what the FUSE handler it stands for returns: 0 or
 * a byte count, or a negative errno: the serving daemon's (-ENOENT,
 * -EACCES, -EPERM, ... as it would answer its own users), or -EHOSTDOWN
 * (its gateway cannot be reached or refused this daemon), -ETIMEDOUT (no
 * answer within [gateway] timeout_ms), -EINTR (a signal to the caller).
 */
#ifndef STREAMFS_FUSE_REMOTE_H
#define STREAMFS_FUSE_REMOTE_H

#include "fuse_internal.h"

/* remote_cluster - the cluster of L when another daemon serves it (its
 * home carries operations out there), else NULL. Borrowed. */
struct cluster *remote_cluster(struct sfs_daemon *d, const struct loc *l);

/* fuse_request_interrupted - has the kernel asked to interrupt the FUSE
 * request the calling thread serves (a signal to its caller), or is the
 * daemon stopping? False outside a request thread. The daemon's hook for
 * cluster_interrupted (fs/cluster.h). */
bool fuse_request_interrupted(void);

/* stat of L under remote cluster CL into ST. /<cluster> itself stays a
 * directory while its daemon cannot be reached. */
int remote_getattr(struct sfs_daemon *d, struct cluster *cl, const struct loc *l,
		   struct stat *st);
/* fstat of RF: while the serving daemon cannot be reached, what was seen
 * last (so the size a reader polls never goes back). */
int remote_fgetattr(struct sfs_daemon *d, struct remote_fh *rf, struct stat *st);
/* The names of a remote cluster or stream, through FILLER into BUF. */
int remote_readdir(struct sfs_daemon *d, struct cluster *cl, const struct loc *l, void *buf,
		   fuse_fill_dir_t filler);
int remote_mkdir(struct cluster *cl, const struct loc *l, mode_t mode);
int remote_rmdir(struct cluster *cl, const struct loc *l);
int remote_unlink(struct cluster *cl, const struct loc *l);
/* The rm of an open remote topic, as libfuse makes it (a rename of FROM to
 * a hidden name): the topic is removed at once. */
int remote_hide(struct cluster *cl, const struct loc *from);
/* chmod (MODE, else (mode_t)-1) or chown (UID, GID; -1 leaves one). */
int remote_set_owner(struct cluster *cl, const struct loc *l, uid_t uid, gid_t gid,
		     mode_t mode);
/* Open (or create, with MODE) topic or control file L for FI: the serving
 * daemon decides first; then FI->fh is a struct remote_fh (fh_free). */
int remote_open(struct sfs_daemon *d, struct cluster *cl, const struct loc *l,
		struct fuse_file_info *fi);
int remote_create(struct sfs_daemon *d, struct cluster *cl, const struct loc *l, mode_t mode,
		  struct fuse_file_info *fi);
/* pread of SIZE bytes at OFF through RF. A reader at or past the end it
 * has seen gets 0 while the serving daemon cannot be reached. */
int remote_read(struct sfs_daemon *d, struct remote_fh *rf, char *buf, size_t size, off_t off);
/* write(2) through RF: a topic's complete lines appended there as one
 * write (SIZE returned, never a short count), a control file's collected
 * until the flush. */
int remote_write(struct sfs_daemon *d, struct remote_fh *rf, const char *buf, size_t size);
/* flush (FINAL: the release): a control file's lines are sent, and its
 * replace; a topic's last line without '\n' at the release, or when
 * someone here looks at the topic (fs/lines.h, the pending list). At the
 * release RF leaves the daemon's lists; the caller then frees it. */
int remote_flush(struct sfs_daemon *d, struct remote_fh *rf, bool final);

#endif
