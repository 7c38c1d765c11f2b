/*
 * fuse_ops.c - the FUSE operations table (fuse_ops.h) and the handlers of
 * the tree: getattr, readdir, mkdir, rmdir, unlink, rename, chmod, chown,
 * utimens, statfs. The handlers of open files are fs/fuse_files.c's.
 *
 * Every handler returns 0 (or a byte count) or a negative errno, as libfuse
 * expects, and takes its references through cleanup attributes, so no
 * early return leaks one. Control files, and topics opened for writing,
 * are direct_io: the offset the kernel passes for a write is ignored
 * because data always goes at the topic's real end (docs/filesystem.md), so no
 * page of the kernel's cache may stand for what was written.
 *
 * Topics are direct_io for readers too: the kernel's page cache cannot
 * hold a file that grows behind its back without serving zeros. A cached
 * read of the last page leaves it cached with zeros after the last byte;
 * when the size then grows (a getattr, or the answer to a write), a
 * reader that took that page before the daemon could drop it copies the
 * zeros up to the new size (Linux mm/filemap.c, filemap_read, reads
 * i_size after taking the pages; fs/fuse/inode.c, fuse_change_attributes,
 * stores the size before it drops the pages). No order of notifications
 * from the daemon closes that window, so every read of a topic reaches
 * the daemon, which serves only bytes it holds (docs/filesystem.md,
 * "Reading"; tests/e2e/25-readers.bats).
 *
 * Paths have at most three parts: /<cluster>/<stream>/<topic or dot file>.
 */
#define _GNU_SOURCE
#include "fuse_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "logging.h"
#include "names.h"
#include "fuse_remote.h"
#include "rootinfo.h"
#include "util/clock.h"

/* The largest write the kernel hands over in one request, bytes. */
#define SFS_MAX_WRITE (1u << 20)

void sfs_daemon_init(struct sfs_daemon *d, uint64_t max_message)
{
	uint64_t user = 16ull << 20, total = 256ull << 20;
	if (4 * max_message > user)
		user = 4 * max_message;
	if (16 * max_message > total)
		total = 16 * max_message;
	hold_budget_init(&d->held, user, total);
	hold_budget_init(&d->reading, user, total);
	pending_init(&d->pending);
	pthread_mutex_init(&d->remote_mu, NULL);
	d->remote_open = NULL;
}

void sfs_daemon_destroy(struct sfs_daemon *d)
{
	pthread_mutex_destroy(&d->remote_mu);
	pending_destroy(&d->pending);
	hold_budget_destroy(&d->reading);
	hold_budget_destroy(&d->held);
}

/*
 * A part longer than 255 bytes is left empty: it names nothing (lookups
 * give ENOENT) and is no valid name (mkdir and create give EINVAL, as the
 * naming rule says, rather than ENAMETOOLONG).
 */
static void copy_part(char *dst, const char *src, size_t n)
{
	if (n > 255)
		n = 0;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* Split PATH into its parts. -ENOENT for more than three parts. */
int parse_path(const char *path, struct loc *l)
{
	const char *p = path;
	char *parts[3] = { l->c, l->s, l->t };
	int depth = 0;
	memset(l, 0, sizeof(*l));
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (depth == 3)
			return -ENOENT;
		copy_part(parts[depth], p, n);
		depth++;
		p += n;
	}
	l->kind = (enum loc_kind)depth;
	if (depth == 3 && (l->ctl = ctlfile_by_name(l->t)) >= 0)
		l->kind = L_CTL;
	return 0;
}

/* A name libfuse gives a file removed while open (see sfs_rename):
 * ".fuse_hidden" and 16 hex digits, as its hide_node makes them. */
bool is_hidden_name(const char *name)
{
	if (strncmp(name, ".fuse_hidden", 12) || strlen(name) != 28)
		return false;
	for (int i = 12; i < 28; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	return true;
}

/* Topic NAME of S, or the topic removed while open that has that hidden
 * name: a new reference, or NULL. */
struct topic *find_topic(struct stream *s, const char *name)
{
	return is_hidden_name(name) ? stream_find_hidden(s, name) : stream_find_topic(s, name);
}

/* The caller of the current request as a reader of control files; its
 * supplementary groups go into GROUPS (room for N). */
const struct ctl_reader *reader_of(struct ctl_reader *who, gid_t *groups, int n)
{
	struct fuse_context *ctx = fuse_get_context();
	who->uid = ctx->uid;
	who->gid = ctx->gid;
	int k = fuse_getgroups(n, groups);
	who->groups = groups;
	who->ngroups = k < 0 ? 0 : (k > n ? n : k);
	return who;
}

struct cluster *local_cluster(struct sfs_daemon *d, const char *name)
{
	struct cluster *cl = ns_cluster(&d->ns, name);
	return cl && !cl->remote ? cl : NULL;
}

void set_time(struct timespec *ts, uint64_t ns)
{
	ts->tv_sec = ns / 1000000000ull;
	ts->tv_nsec = ns % 1000000000ull;
}

/* The attributes of topic T (its waiting last lines stored first). */
void topic_attr(struct sfs_daemon *d, struct topic *t, struct stat *st)
{
	commit_pending(d, t);
	uint64_t msgs, bytes, mtime;
	topic_stat(t, &msgs, &bytes, &mtime);
	st->st_mode = S_IFREG | t->mode;
	st->st_nlink = 1;
	st->st_uid = t->uid;
	st->st_gid = t->gid;
	st->st_size = bytes;
	st->st_blocks = (bytes + 511) / 512;
	set_time(&st->st_mtim, mtime);
	st->st_atim = st->st_mtim;
	set_time(&st->st_ctim, topic_ctime(t));
}

/* The times and owner of a stream's entries (the stream, its control
 * files) into ST. */
static void stream_attr(struct stream *s, struct stat *st)
{
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	uint64_t smtime, sctime;
	stream_times(s, &smtime, &sctime);
	set_time(&st->st_mtim, smtime);
	st->st_atim = st->st_mtim;
	set_time(&st->st_ctim, sctime);
}

/* Attributes of control file CTL of S: its size is the length of what the
 * caller would read now. */
int ctl_attr(struct sfs_daemon *d, struct stream *s, int ctl, struct stat *st)
{
	char *text;
	size_t len;
	struct ctl_reader who;
	gid_t groups[64];
	int rc = ctlfile_render(&d->ns, s, reader_of(&who, groups, 64), ctl, &text, &len);
	if (rc < 0)
		return rc;
	free(text);
	stream_attr(s, st);
	st->st_mode = S_IFREG | (s->mode & (ctl == CTLFILE_INFO ? 0444 : 0666));
	st->st_nlink = 1;
	st->st_size = len;
	return 0;
}

int rootinfo_attr(struct sfs_daemon *d, struct stat *st)
{
	char *text;
	size_t len;
	struct ctl_reader who;
	gid_t groups[64];
	int rc = rootinfo_render(&d->ns, reader_of(&who, groups, 64), &text, &len);
	if (rc < 0)
		return rc;
	free(text);
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = len;
	set_time(&st->st_mtim, now_ns());
	st->st_atim = st->st_mtim;
	set_time(&st->st_ctim, d->ns.mount_ns);
	return 0;
}

int sfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct sfs_daemon *d = daemon_of();
	/* fstat, and the kernel's check before every page-cache read: the
	 * open file knows its topic, no path to resolve (with nullpath_ok
	 * there is none). */
	struct fh *f = fh_of(fi);
	if (f) {
		memset(st, 0, sizeof(*st));
		st->st_blksize = 4096;
		if (f->kind == FH_CTL)
			return ctl_attr(d, f->stream, ctl_fh_of(f)->txn.which, st);
		if (f->kind == FH_ROOTINFO)
			return rootinfo_attr(d, st);
		if (f->kind == FH_REMOTE)
			return remote_fgetattr(d, remote_fh_of(f), st);
		struct topic *t = topic_fh_of(f)->topic;
		topic_attr(d, t, st);
		if (topic_deleted(t))
			st->st_nlink = 0;	/* removed, still open */
		return 0;
	}
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	st->st_blksize = 4096;
	if (l.kind == L_ROOT) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_uid = getuid();
		st->st_gid = getgid();
		set_time(&st->st_mtim, d->ns.mount_ns);
		st->st_ctim = st->st_atim = st->st_mtim;
		return 0;
	}
	if (is_rootinfo(&l))
		return rootinfo_attr(d, st);
	struct cluster *rcl = remote_cluster(d, &l);
	if (rcl)
		return remote_getattr(d, rcl, &l, st);
	struct cluster *cl = local_cluster(d, l.c);
	if (!cl)
		return -ENOENT;
	if (l.kind == L_CLUSTER) {
		st->st_mode = S_IFDIR | cl->mode;
		st->st_nlink = 2;
		st->st_uid = cl->uid;
		st->st_gid = cl->gid;
		set_time(&st->st_mtim, d->ns.mount_ns);
		st->st_ctim = st->st_atim = st->st_mtim;
		return 0;
	}
	AUTO_STREAM *s = ns_stream(&d->ns, l.c, l.s);
	if (!s)
		return -ENOENT;
	stream_attr(s, st);
	if (l.kind == L_STREAM) {
		st->st_mode = S_IFDIR | s->mode;
		st->st_nlink = 2;
		return 0;
	}
	if (l.kind == L_CTL)
		return ctl_attr(d, s, l.ctl, st);
	AUTO_TOPIC *t = find_topic(s, l.t);
	if (!t)
		return -ENOENT;
	topic_attr(d, t, st);
	if (is_hidden_name(l.t))
		st->st_nlink = 0;	/* removed, still open */
	return 0;
}

static int fill_names(void *buf, fuse_fill_dir_t filler, char **names, int n)
{
	for (int i = 0; i < n; i++)
		filler(buf, names[i], NULL, 0, 0);
	free_names(names, n);
	return 0;
}

/*
 * An open directory keeps the path it was opened by (fi->fh, a string
 * this owns): with nullpath_ok libfuse passes readdir no path.
 */
static int sfs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	if (l.kind >= L_TOPIC)
		return -ENOTDIR;
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	fi->fh = (uintptr_t)p;
	return 0;
}

static int sfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	free((char *)(uintptr_t)fi->fh);
	return 0;
}

static int sfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		       off_t off, struct fuse_file_info *fi,
		       enum fuse_readdir_flags flags)
{
	(void)off;
	(void)flags;
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	char **names;
	if (!path)
		path = fi ? (const char *)(uintptr_t)fi->fh : NULL;
	if (!path)
		return -EBADF;
	int n, rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	if (l.kind >= L_TOPIC)
		return -ENOTDIR;
	if (l.kind == L_ROOT) {
		filler(buf, ".", NULL, 0, 0);
		filler(buf, "..", NULL, 0, 0);
		filler(buf, ".info", NULL, 0, 0);
		if ((n = ns_cluster_names(&d->ns, &names)) < 0)
			return n;
		return fill_names(buf, filler, names, n);
	}
	struct cluster *rcl = remote_cluster(d, &l);
	if (rcl)
		return remote_readdir(d, rcl, &l, buf, filler);
	struct cluster *cl = local_cluster(d, l.c);
	if (!cl)
		return -ENOENT;
	if (l.kind == L_CLUSTER) {
		filler(buf, ".", NULL, 0, 0);
		filler(buf, "..", NULL, 0, 0);
		if ((n = ns_stream_names(&d->ns, cl, &names)) < 0)
			return n;
		return fill_names(buf, filler, names, n);
	}
	AUTO_STREAM *s = ns_stream(&d->ns, l.c, l.s);
	if (!s)
		return -ENOENT;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	filler(buf, ".replicas", NULL, 0, 0);
	filler(buf, ".upstreams", NULL, 0, 0);
	filler(buf, ".info", NULL, 0, 0);
	if ((n = stream_topic_names(s, &names)) < 0)
		return n;
	return fill_names(buf, filler, names, n);
}

static int sfs_mkdir(const char *path, mode_t mode)
{
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	struct cluster *rcl = remote_cluster(d, &l);
	if (rcl)
		return remote_mkdir(rcl, &l, mode);
	if (l.kind != L_STREAM) {
		log_warn("mkdir %s: refused: only streams (/<cluster>/<stream>) are directories", path);
		return -EPERM;
	}
	struct cluster *cl = local_cluster(d, l.c);
	if (!cl)
		return -ENOENT;
	if (!name_valid(l.s)) {
		log_warn("mkdir %s: refused: invalid stream name (1-255 of A-Z a-z 0-9 . _ -, not starting with '.')", path);
		return -EINVAL;
	}
	struct fuse_context *ctx = fuse_get_context();
	/* In a setgid cluster a stream takes its group and the setgid bit, as
	 * a directory does in a setgid directory (POSIX; Linux inode_init_owner). */
	gid_t gid = ctx->gid;
	mode &= 07777;
	if (cl->mode & S_ISGID) {
		gid = cl->gid;
		mode |= S_ISGID;
	}
	rc = ns_create_stream(&d->ns, cl, l.s, ctx->uid, gid, mode, NULL);
	if (rc == 0) {
		/* It may be a replica someone waits for. */
		atomic_fetch_add(&d->ns.repl_gen_all, 1);
		repl_wake(&d->ns);
	}
	return rc;
}

static int sfs_rmdir(const char *path)
{
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	struct cluster *rcl = remote_cluster(d, &l);
	if (rcl)
		return remote_rmdir(rcl, &l);
	if (l.kind == L_TOPIC || l.kind == L_CTL)
		return -ENOTDIR;
	if (l.kind != L_STREAM) {
		log_warn("rmdir %s: refused: only streams can be removed", path);
		return -EPERM;
	}
	return ns_delete_stream(&d->ns, local_cluster(d, l.c), l.s);
}

static int sfs_unlink(const char *path)
{
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	struct cluster *rcl = remote_cluster(d, &l);
	if (rcl)
		return remote_unlink(rcl, &l);
	if (l.kind == L_CTL) {
		log_warn("rm %s: refused: control files cannot be removed", path);
		return -EPERM;
	}
	if (l.kind != L_TOPIC)
		return -EISDIR;
	AUTO_STREAM *s = ns_stream(&d->ns, l.c, l.s);
	if (!s)
		return -ENOENT;
	/* libfuse removing the hidden name of a topic removed while open, at
	 * its last close (see sfs_rename): usually already gone. */
	if (is_hidden_name(l.t))
		return stream_forget_hidden(s, l.t, NULL);
	return stream_delete_topic(s, l.t);
}

/*
 * Nothing is renamed, with one exception that libfuse makes itself: the
 * rm of an open file is a rename to a ".fuse_hidden..." name of the same
 * directory, then an unlink of that name at the last close (libfuse's
 * hide_node, used without hard_remove). For an open topic that rename
 * removes the topic at once, as rm does, and keeps it findable under the
 * hidden name, so that what its open files ask by path (fstat) is still
 * answered; the name goes when the last of them closes (fh_free).
 */
static int sfs_rename(const char *from, const char *to, unsigned int flags)
{
	struct sfs_daemon *d = daemon_of();
	struct loc lf, lt;
	if (!flags && parse_path(from, &lf) == 0 && parse_path(to, &lt) == 0 &&
	    lf.kind == L_TOPIC && lt.kind == L_TOPIC && is_hidden_name(lt.t) &&
	    !strcmp(lf.c, lt.c) && !strcmp(lf.s, lt.s) && !is_hidden_name(lf.t)) {
		struct cluster *rcl = remote_cluster(d, &lf);
		if (rcl)
			return remote_hide(rcl, &lf);
		AUTO_STREAM *s = ns_stream(&d->ns, lf.c, lf.s);
		AUTO_TOPIC *t = s ? stream_find_topic(s, lf.t) : NULL;
		/* Only while it is open: that is when libfuse hides, and every
		 * name made here goes again at the last close. */
		if (t && atomic_load(&t->open_files) > 0)
			return stream_hide_topic(s, lf.t, lt.t);
	}
	log_warn("rename %s to %s: refused: streams and topics cannot be renamed", from, to);
	return -EPERM;
}

/* chmod/chown of a cluster, stream or topic. */
static int set_owner(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	if (l.kind == L_ROOT || l.kind == L_CTL) {
		log_warn("chmod/chown %s: refused: follows its stream", path);
		return -EPERM;
	}
	struct cluster *rcl = remote_cluster(d, &l);
	if (rcl)
		return remote_set_owner(rcl, &l, uid, gid, mode);
	struct cluster *cl = local_cluster(d, l.c);
	if (!cl)
		return -ENOENT;
	if (l.kind == L_CLUSTER)
		return ns_cluster_set_owner(&d->ns, cl, uid, gid, mode);
	AUTO_STREAM *s = ns_stream(&d->ns, l.c, l.s);
	if (!s)
		return -ENOENT;
	if (l.kind == L_STREAM)
		return stream_set_owner(s, uid, gid, mode);
	AUTO_TOPIC *t = find_topic(s, l.t);
	if (!t)
		return -ENOENT;
	return topic_set_owner(t, uid, gid, mode);
}

static int sfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (fi)
		return sfs_set_owner_fh(fh_of(fi), (uid_t)-1, (gid_t)-1,
				    mode & 07777);
	return set_owner(path, (uid_t)-1, (gid_t)-1, mode & 07777);
}

static int sfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	if (fi)
		return sfs_set_owner_fh(fh_of(fi), uid, gid, (mode_t)-1);
	return set_owner(path, uid, gid, (mode_t)-1);
}

static int sfs_utimens(const char *path, const struct timespec tv[2],
		       struct fuse_file_info *fi)
{
	(void)tv;
	/* Times come from the data (last append); touch is accepted as is. */
	struct stat st;
	return sfs_getattr(path, &st, fi);
}

static int sfs_statfs(const char *path, struct statvfs *sv)
{
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	bool named = path && parse_path(path, &l) == 0 && l.kind != L_ROOT;
	struct cluster *rcl = named ? remote_cluster(d, &l) : NULL;
	if (rcl)
		return rcl->ops->statfs(rcl, sv);
	/* df of a path in a cluster: that cluster's own figures (a NATS one's
	 * JetStream account, a local one's disk); of the root: the first
	 * cluster served here. */
	struct cluster *cl = named ? ns_cluster(&d->ns, l.c) : NULL;
	if (cl && !cl->remote && cl->ops && cl->ops->statfs)
		return cl->ops->statfs(cl, sv);
	for (int i = 0; i < d->ns.nclusters; i++)
		if (!d->ns.clusters[i].remote)
			return d->ns.clusters[i].ops->statfs(&d->ns.clusters[i], sv);
	memset(sv, 0, sizeof(*sv));
	return 0;
}

static void *sfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* open(O_TRUNC) must reach open(), where control files tell it apart
	 * from appends and topics refuse it. */
	conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->max_write = SFS_MAX_WRITE;
	/* -o max_read: libfuse ends the session unless init() asks for the
	 * same (fuse_lowlevel.c, do_init). */
	struct sfs_daemon *d = fuse_get_context()->private_data;
	if (d && d->max_read)
		conn->max_read = d->max_read;
	/* Sizes change behind the kernel's back (replication): never cache. */
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	/* Without hard_remove: rm of an open topic is a rename libfuse makes
	 * to a hidden name (sfs_rename), so fstat still finds it. */
	cfg->hard_remove = 0;
	/* The handlers of an open file work from its handle: libfuse then
	 * passes no path and takes no lock on the tree for them, so a write
	 * that waits (a synchronous replica) holds up no rm, rmdir or
	 * lookup of its topic or stream. */
	cfg->nullpath_ok = 1;
	cfg->use_ino = 0;
	return d;
}

const struct fuse_operations sfs_fuse_ops = {
	.init = sfs_init,
	.getattr = sfs_getattr,
	.opendir = sfs_opendir,
	.readdir = sfs_readdir,
	.releasedir = sfs_releasedir,
	.mkdir = sfs_mkdir,
	.rmdir = sfs_rmdir,
	.unlink = sfs_unlink,
	.rename = sfs_rename,
	.open = sfs_open,
	.create = sfs_create,
	.read = sfs_read,
	.write = sfs_write,
	.flush = sfs_flush,
	.release = sfs_release,
	.fsync = sfs_fsync,
	.truncate = sfs_truncate,
	.chmod = sfs_chmod,
	.chown = sfs_chown,
	.utimens = sfs_utimens,
	.statfs = sfs_statfs,
	.fallocate = sfs_fallocate,
};
