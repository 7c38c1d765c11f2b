/*
 * gwfs.c - the serving side of the global namespace (gwfs.h): a peer's
 * file operation carried out on this daemon's own mount, as the peer's
 * user.
 *
 * Why on the mount, and not on the namespace's objects: the kernel checks
 * permissions (default_permissions) and the FUSE layer applies every rule
 * of a topic, a stream and a control file; going through the mount, a
 * remote user meets exactly those, with no second copy of them to drift.
 *
 * Acting as the user: setfsuid/setfsgid and setgroups as raw system calls
 * change only the calling thread's credentials (glibc's setgroups would
 * change every thread's), and a non-zero fsuid drops the thread's
 * filesystem capabilities (capabilities(7)), so the kernel decides as for
 * that user; the FUSE layer sees the user's uid and gid in the request.
 * Everything is restored before gwfs_serve returns.
 *
 * The mount is reached through a descriptor of its root, opened at the
 * first request and checked to be a FUSE root (statfs magic, inode 1):
 * every path is made relative to it from checked name parts, so a
 * request can reach nothing outside /<cluster>/<stream>/<name>, and
 * nothing under the mountpoint's own directory if the mount is gone.
 */
#define _GNU_SOURCE
#include "gwfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../fs/logging.h"
#include "../fs/namespace.h"
#include "../fs/stream.h"
#include "../fs/topic.h"

/* The daemon's own supplementary groups, restored after each request. */
#define GWFS_MAX_OWN_GROUPS 256

struct gwfs {
	const char *mountpoint;
	struct sfs_namespace *ns;	/* for topics' incarnations */
	pthread_mutex_t mu;	/* root */
	int root;		/* O_PATH descriptor of the mount's root, or -1 */
	int ngroups;
	gid_t groups[GWFS_MAX_OWN_GROUPS];
};

struct gwfs *gwfs_new(const char *mountpoint, struct sfs_namespace *ns)
{
	struct gwfs *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->mountpoint = mountpoint;
	fs->ns = ns;
	fs->root = -1;
	pthread_mutex_init(&fs->mu, NULL);
	int n = getgroups(GWFS_MAX_OWN_GROUPS, fs->groups);
	fs->ngroups = n < 0 ? 0 : n;
	return fs;
}

void gwfs_free(struct gwfs *fs)
{
	if (!fs)
		return;
	if (fs->root >= 0)
		close(fs->root);
	pthread_mutex_destroy(&fs->mu);
	free(fs);
}

/* The level each operation needs (docs/global-namespace.md). */
static enum sfs_access level_of(const struct fs_req *q)
{
	/* Whatever writes a control file is admin's, however it is asked
	 * (the decoder lets only FS_WRITECTL and FS_OPEN name one). */
	bool ctl = q->name[0] == '.';
	switch (q->op) {
	case FS_OPEN:
		if (!(q->flags & (FS_O_WRITE | FS_O_TRUNC)))
			return SFS_ACCESS_READ;
		return ctl ? SFS_ACCESS_ADMIN : SFS_ACCESS_WRITE;
	case FS_GETATTR:
	case FS_READDIR:
	case FS_READ:
	case FS_STATFS:
		return SFS_ACCESS_READ;
	case FS_APPEND:
	case FS_CREATE:
	case FS_UNLINK:
		return ctl ? SFS_ACCESS_ADMIN : SFS_ACCESS_WRITE;
	default:
		return SFS_ACCESS_ADMIN;
	}
}

int gwfs_allowed(enum sfs_access access, const struct fs_req *q, char *why, size_t n)
{
	static const char *const names[] = { "replicate", "read", "write", "admin" };
	enum sfs_access need = level_of(q);
	if (access >= need)
		return 0;
	snprintf(why, n, "%s%s needs access = %s for this cluster here; it has access = %s",
		 fs_op_name(q->op), q->op == FS_OPEN && need > SFS_ACCESS_READ ? " for writing" : "",
		 names[need], names[access]);
	return -EACCES;
}

/* The root of the mount, opened at first use and checked to be FUSE's.
 * Returns the descriptor or -ENOTCONN. fs->mu taken. */
static int root_fd(struct gwfs *fs)
{
	pthread_mutex_lock(&fs->mu);
	if (fs->root < 0) {
		int fd = open(fs->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct statfs sf;
		struct stat st;
		if (fd >= 0 && (fstatfs(fd, &sf) < 0 || sf.f_type != FUSE_SUPER_MAGIC ||
				fstat(fd, &st) < 0 || st.st_ino != 1)) {
			close(fd);
			fd = -1;
		}
		fs->root = fd;
	}
	int fd = fs->root;
	pthread_mutex_unlock(&fs->mu);
	return fd >= 0 ? fd : -ENOTCONN;
}

/* Act as WHO in this thread (uid 0 squashed unless SQUASH is false).
 * 0, or -EPERM when the thread cannot take those credentials. */
static int become(const struct fs_caller *who, bool squash)
{
	uid_t uid = who->uid;
	gid_t gid = who->gid;
	gid_t groups[FS_MAX_GROUPS];
	size_t ng = 0;
	/* As knfsd's root_squash: uid 0 and gid 0 (and group 0 among the
	 * supplementary ones) become nobody's. */
	if (squash && uid == 0)
		uid = GWFS_NOBODY;
	if (squash && gid == 0)
		gid = GWFS_NOBODY;
	for (size_t i = 0; i < who->ngroups; i++)
		if (!squash || who->groups[i] != 0)
			groups[ng++] = who->groups[i];
	if (syscall(SYS_setgroups, ng, groups) < 0)
		return -EPERM;
	setfsgid(gid);
	setfsuid(uid);
	/* Each returns the previous value: asked again, the new one. */
	if ((uid_t)setfsuid((uid_t)-1) != uid || (gid_t)setfsgid((gid_t)-1) != gid)
		return -EPERM;
	return 0;
}

/* Back to the daemon's own credentials. */
static void restore(struct gwfs *fs)
{
	setfsuid(geteuid());
	setfsgid(getegid());
	syscall(SYS_setgroups, (size_t)fs->ngroups, fs->groups);
}

static void attr_of(const struct stat *st, struct fs_attr *a)
{
	a->mode = st->st_mode;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->nlink = (uint32_t)st->st_nlink;
	a->size = st->st_size < 0 ? 0 : (uint64_t)st->st_size;
	a->atime_ns = (uint64_t)st->st_atim.tv_sec * 1000000000ull + (uint64_t)st->st_atim.tv_nsec;
	a->mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
	a->ctime_ns = (uint64_t)st->st_ctim.tv_sec * 1000000000ull + (uint64_t)st->st_ctim.tv_nsec;
}

/* Write all LEN bytes at P to FD: 0 or -errno. A short count goes on. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The names of directory REL, each followed by a NUL, into REP. */
static int list_dir(int root, const char *rel, struct fs_rep *rep)
{
	int fd = openat(root, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *dir = fdopendir(fd);
	if (!dir) {
		int e = errno;
		close(fd);
		return -e;
	}
	size_t cap = 0, len = 0;
	uint8_t *buf = NULL;
	int rc = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t n = strlen(de->d_name) + 1;
		if (len + n > FS_READDIR_MAX) {
			rc = -EFBIG;
			break;
		}
		if (len + n > cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			while (ncap < len + n)
				ncap *= 2;
			uint8_t *p = realloc(buf, ncap);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			buf = p;
			cap = ncap;
		}
		memcpy(buf + len, de->d_name, n);
		len += n;
	}
	if (rc == 0 && errno)
		rc = -errno;
	closedir(dir);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	rep->data = buf;
	rep->len = len;
	return 0;
}

/*
 * The incarnation of topic Q->name of Q's stream into OUT, from the
 * namespace (a topic is made anew under a name with a new UUID). 0, or
 * -ENOENT when there is no such topic now.
 */
static int incarnation(struct gwfs *fs, const struct fs_req *q, uuid_t out)
{
	if (!fs->ns || !q->name[0] || q->name[0] == '.')
		return -ENOENT;
	struct stream *s = ns_stream(fs->ns, q->cluster, q->stream);
	struct topic *t = s ? stream_find_topic(s, q->name) : NULL;
	if (t) {
		uuid_copy(out, t->uuid);
		topic_put(t);
	}
	if (s)
		stream_put(s);
	return t ? 0 : -ENOENT;
}

/* Is the topic under Q's name the incarnation Q expects (any, if Q
 * expects none)? */
static bool is_expected(struct gwfs *fs, const struct fs_req *q)
{
	uuid_t now;
	return uuid_is_null(q->expect) ||
	       (incarnation(fs, q, now) == 0 && uuid_compare(now, q->expect) == 0);
}

/* Carry out Q on ROOT at REL (the caller's credentials taken). */
static int run_op(int root, const char *rel, const struct fs_req *q, struct fs_rep *rep);

static int run(struct gwfs *fs, int root, const char *rel, const struct fs_req *q,
	       struct fs_rep *rep)
{
	/* An open file's topic must be the one it opened: checked before
	 * and after, since an incarnation never comes back under a name,
	 * the same one both times means the bytes between were its. */
	bool checked = (q->op == FS_GETATTR || q->op == FS_READ) && !uuid_is_null(q->expect);
	if (checked && !is_expected(fs, q))
		return -ENOENT;
	int rc = run_op(root, rel, q, rep);
	if (checked && rc >= 0 && !is_expected(fs, q)) {
		fs_rep_free(rep);
		return -ENOENT;
	}
	if (rc >= 0 && (q->op == FS_OPEN || q->op == FS_CREATE))
		incarnation(fs, q, rep->topic);
	return rc;
}

/* One operation Q on ROOT at REL. */
static int run_op(int root, const char *rel, const struct fs_req *q, struct fs_rep *rep)
{
	struct stat st;
	int fd, rc = 0;
	switch (q->op) {
	case FS_GETATTR:
		if (fstatat(root, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		attr_of(&st, &rep->attr);
		return 0;
	case FS_READDIR:
		return list_dir(root, rel, rep);
	case FS_OPEN: {
		int flags = O_CLOEXEC;
		flags |= (q->flags & FS_O_READ) && (q->flags & FS_O_WRITE) ? O_RDWR :
			 (q->flags & FS_O_WRITE) ? O_WRONLY : O_RDONLY;
		/* A control file's O_TRUNC is carried out by the write that
		 * follows (FS_WRITECTL, FS_CTL_REPLACE): here it would empty
		 * its set at this close. A topic's is refused as it is here. */
		if ((q->flags & FS_O_TRUNC) && q->name[0] != '.')
			flags |= O_TRUNC;
		if ((flags & O_ACCMODE) != O_RDONLY && !(flags & O_TRUNC))
			flags |= O_APPEND;
		if ((fd = openat(root, rel, flags)) < 0)
			return -errno;
		if (fstat(fd, &st) == 0)
			attr_of(&st, &rep->attr);
		close(fd);
		return 0;
	}
	case FS_STATFS: {
		struct statvfs sv;
		if (fstatvfs(root, &sv) < 0)
			return -errno;
		rep->sv = (struct fs_statvfs){ sv.f_bsize, sv.f_frsize, sv.f_blocks, sv.f_bfree,
					       sv.f_bavail, sv.f_files, sv.f_ffree, sv.f_namemax };
		return 0;
	}
	case FS_READ: {
		if ((fd = openat(root, rel, O_RDONLY | O_CLOEXEC)) < 0)
			return -errno;
		uint8_t *buf = malloc(q->size ? q->size : 1);
		ssize_t n = buf ? pread(fd, buf, q->size, (off_t)q->offset) : -1;
		rc = n < 0 ? (buf ? -errno : -ENOMEM) : (int)n;
		close(fd);
		if (rc <= 0) {
			free(buf);
			return rc;
		}
		rep->data = buf;
		rep->len = (size_t)n;
		return rc;
	}
	case FS_APPEND:
	case FS_WRITECTL: {
		int flags = O_WRONLY | O_CLOEXEC;
		flags |= q->op == FS_WRITECTL && (q->flags & FS_CTL_REPLACE) ? O_TRUNC : O_APPEND;
		if ((fd = openat(root, rel, flags)) < 0)
			return -errno;
		rc = write_all(fd, q->data, q->len);
		/* The last line and a control file's change are stored at
		 * close: its error is the request's. */
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
		if (rc == 0 && q->op == FS_APPEND)
			rc = (int)q->len;
		return rc;
	}
	case FS_CREATE:
		if ((fd = openat(root, rel, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				 (mode_t)q->mode)) < 0)
			return -errno;
		if (fstat(fd, &st) < 0)
			rc = -errno;
		else
			attr_of(&st, &rep->attr);
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
		return rc;
	case FS_UNLINK:
		return unlinkat(root, rel, 0) < 0 ? -errno : 0;
	case FS_MKDIR:
		if (mkdirat(root, rel, (mode_t)q->mode) < 0)
			return -errno;
		if (fstatat(root, rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
			attr_of(&st, &rep->attr);
		return 0;
	case FS_RMDIR:
		return unlinkat(root, rel, AT_REMOVEDIR) < 0 ? -errno : 0;
	case FS_CHMOD:
		return fchmodat(root, rel, (mode_t)q->mode, 0) < 0 ? -errno : 0;
	case FS_CHOWN:
		return fchownat(root, rel, (uid_t)q->owner, (gid_t)q->group,
				AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	}
	return -EINVAL;
}

int gwfs_serve(struct gwfs *fs, enum sfs_access access, const struct fs_req *q,
	       struct fs_rep *rep)
{
	memset(rep, 0, sizeof(*rep));
	if (geteuid() != 0) {
		snprintf(rep->message, sizeof(rep->message),
			 "this daemon does not run as root: it cannot act for a peer's users");
		return -EPERM;
	}
	int root = root_fd(fs);
	if (root < 0) {
		snprintf(rep->message, sizeof(rep->message), "%s is not mounted by this daemon",
			 fs->mountpoint);
		return root;
	}
	/* Parts checked by the decoder: names, or a control file's name. */
	char rel[3 * 256 + 3];
	snprintf(rel, sizeof(rel), "%s%s%s%s%s", q->cluster, *q->stream ? "/" : "", q->stream,
		 *q->name ? "/" : "", q->name);
	int rc = become(&q->who, access < SFS_ACCESS_ADMIN);
	bool became = rc == 0;
	if (became)
		rc = run(fs, root, rel, q, rep);
	restore(fs);
	if (rc < 0)
		fs_rep_free(rep);	/* nothing of a failed operation goes back */
	if (!became)
		snprintf(rep->message, sizeof(rep->message), "cannot act as uid %u here",
			 q->who.uid);
	rep->status = rc;
	return 0;
}
