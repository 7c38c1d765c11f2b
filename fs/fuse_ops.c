/*
 * fuse_ops.c - the FUSE operations table (fuse_ops.h).
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
#define _GNU_SOURCE /* memrchr */
#include "fuse_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <xxhash.h>

#include "ctlfiles.h"
#include "logging.h"
#include "names.h"
#include "../replication/syncwait.h"

/* The largest write the kernel hands over in one request, bytes. */
#define SFS_MAX_WRITE (1u << 20)

enum loc_kind { L_ROOT, L_CLUSTER, L_STREAM, L_TOPIC, L_CTL };

struct loc {
	enum loc_kind kind;
	char c[256], s[256], t[256];
	int ctl;		/* enum ctlfile for L_CTL */
};

enum fh_kind { FH_TOPIC, FH_CTL };

/* An open topic or control file. */
struct fh {
	enum fh_kind kind;
	pthread_mutex_t mu;
	struct stream *stream;
	struct topic *topic;
	int ctl;		/* enum ctlfile */
	/* Bytes after the last '\n' written, waiting for the rest of the line;
	 * its capacity is counted against OWNER's budget (hold_grow). */
	char *pbuf;
	size_t plen, pcap;
	uid_t owner;		/* who opened it */
	/* Control files opened with O_TRUNC: every complete line written. */
	bool truncating, wrote, applied;
	bool refused;		/* a write was refused: the replace is off */
	/* An over-long message was refused and the writer may send more of
	 * it: refuse every write up to and including one with a '\n', so no
	 * tail of it becomes a message (refuse_long). */
	bool discarding;
	/* The bytes of the last refused write, from its start through the
	 * '\n' that ended its over-long message (RLEN bytes, XXH3 RHASH; 0:
	 * none), so that the writer sending them again is recognised. */
	size_t rlen;
	uint64_t rhash;
	/* O_TRUNC: the entries of every line written so far, each line
	 * parsed once; bytes and lines so far (CTL_REPLACE_MAX_*). */
	struct ctl_entry *acc;
	int nacc;
	size_t acc_bytes;
	int acc_lines;
	/* What a reader of a control file sees: rendered at open. */
	char *snap;
	size_t snaplen;
	/* Where the last read stopped (topic_read_hint); under mu. */
	struct topic_read_hint hint;
	/* The lines of the last write, reused by the next (under mu). */
	struct iovec *iov;
	size_t iovcap;
	/* On the pending list (see sfs_flush); under pending_mu. */
	struct fh *pending_next;
	bool is_pending;
};

static const char *fh_path(const struct fh *f, char *buf, size_t len);

static struct sfs_daemon *daemon_of(void)
{
	return fuse_get_context()->private_data;
}

void sfs_hold_limits(struct sfs_daemon *d, uint64_t max_message)
{
	uint64_t user = 16ull << 20, total = 256ull << 20;
	if (4 * max_message > user)
		user = 4 * max_message;
	if (16 * max_message > total)
		total = 16 * max_message;
	hold_budget_init(&d->held, user, total);
}

/*
 * Room for NEED bytes in F's held-back line, its capacity counted against
 * the budget of the user who opened F (fs/holdbudget.h). Returns 0,
 * -ENOBUFS (past the user's or the daemon's bound: logged, PATH names the
 * file) or -ENOMEM. f->mu held.
 */
static int hold_grow(struct sfs_daemon *d, struct fh *f, const char *path, size_t need)
{
	if (need <= f->pcap)
		return 0;
	size_t c = f->pcap ? f->pcap : 256;
	while (c < need)
		c *= 2;
	int rc = hold_charge(&d->held, f->owner, c - f->pcap);
	if (rc == -ENOBUFS) {
		log_warn("write %s: refused: unfinished lines of user %u in all open files would pass %llu bytes (the daemon's: %llu); finish lines with '\\n'",
			 path ? path : "?", (unsigned)f->owner,
			 (unsigned long long)d->held.max_user,
			 (unsigned long long)d->held.max_total);
		return rc;
	}
	if (rc < 0)
		return rc;
	char *b = realloc(f->pbuf, c);
	if (!b) {
		hold_release(&d->held, f->owner, c - f->pcap);
		return -ENOMEM;
	}
	f->pbuf = b;
	f->pcap = c;
	return 0;
}

/* Let go of F's held-back line buffer when it holds nothing and is big
 * (a long line that was finished). f->mu held. */
static void hold_shrink(struct sfs_daemon *d, struct fh *f)
{
	if (f->plen || f->pcap <= 65536)
		return;
	hold_release(&d->held, f->owner, f->pcap);
	free(f->pbuf);
	f->pbuf = NULL;
	f->pcap = 0;
}

/*
 * Append the complete lines of BUF (with what the handle held back before
 * them) as one run of messages. The bytes after the last '\n' stay in the
 * handle. f->mu held.
 */

/* Has the kernel asked to interrupt the request this thread serves
 * (a signal to the process that made it)? */
static bool request_interrupted(void *arg)
{
	(void)arg;
	return fuse_interrupted();
}

/*
 * After an append through F: wait for synchronous replicas
 * (docs/replication.md, "Synchronous mode"). A stream without replicas,
 * the usual case, costs one atomic load here rather than the stream lock
 * and a topic lock on every write. A signal to the writer ends the wait
 * (one log line naming PATH): the messages are appended, so the write
 * returns their count, as POSIX has an interrupted write() that moved
 * data do; EINTR would make writers that retry on it (Python, dd on
 * SIGUSR1) append them twice.
 */
static void wait_synchronous(struct fh *f, const char *path)
{
	if (!atomic_load(&f->stream->has_replicas))
		return;
	if (sync_wait(f->stream, f->topic, topic_end(f->topic),
		      daemon_of()->cfg->sync_timeout_ms, request_interrupted, NULL) == -EINTR) {
		char where[800];
		log_info("write %s: interrupted while waiting for a synchronous replica; the messages are appended and replicate later",
			 path ? path : fh_path(f, where, sizeof(where)));
	}
}

/*
 * Topic handles whose unfinished last line waits after a flush. A shell
 * that runs `printf ab >&3` duplicates fd 3 and closes the duplicate, and
 * each close is a FLUSH: storing the partial line then would cut "ab" off
 * from the "c\n" of the next printf. So a flush only lists the handle; the
 * line is stored at the release, or as soon as anyone looks at the topic
 * (stat, open, read), so `printf abc >> t; cat t` shows "abc" at once.
 * Lock order: pending_mu, then fh.mu, then the topic's locks.
 */
static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fh *pending_head;
static atomic_int pending_count;

static void pending_add(struct fh *f)
{
	pthread_mutex_lock(&pending_mu);
	if (!f->is_pending) {
		f->pending_next = pending_head;
		pending_head = f;
		f->is_pending = true;
		atomic_fetch_add(&pending_count, 1);
	}
	pthread_mutex_unlock(&pending_mu);
}

/* Unlink F; pending_mu held. */
static void pending_unlink_locked(struct fh *f)
{
	for (struct fh **pp = &pending_head; *pp; pp = &(*pp)->pending_next)
		if (*pp == f) {
			*pp = f->pending_next;
			f->is_pending = false;
			atomic_fetch_sub(&pending_count, 1);
			return;
		}
}

static void pending_remove(struct fh *f)
{
	pthread_mutex_lock(&pending_mu);
	if (f->is_pending)
		pending_unlink_locked(f);
	pthread_mutex_unlock(&pending_mu);
}

/*
 * Store the waiting last line of handle F (f->mu held). It does not wait
 * for synchronous replicas: it runs at the release, which close() does
 * not wait for, or for someone else's stat, open or read, who must not
 * wait on the writer's behalf (docs/replication.md).
 */
static int store_partial(struct fh *f, const char *path)
{
	if (!f->plen)
		return 0;
	struct iovec iov = { f->pbuf, f->plen };
	int rc = topic_append_local(f->topic, &iov, 1);
	f->plen = 0;
	hold_shrink(daemon_of(), f);
	if (rc < 0) {
		char where[800];
		log_warn("close %s: the last line could not be appended: %s",
			 path ? path : fh_path(f, where, sizeof(where)), strerror(-rc));
	}
	return rc;
}

/*
 * Store every waiting last line of topic T before someone looks at it.
 * The handles are taken off the list under pending_mu and their lines
 * stored after it is let go: a store appends, may fsync and may wait for
 * a synchronous replica, and every getattr, open and read of any topic
 * takes pending_mu. Each handle taken off is locked (f->mu) before
 * pending_mu is let go, so its release, which takes it off the list under
 * pending_mu and then locks f->mu, waits for the store before freeing it.
 */
static void commit_pending(struct topic *t)
{
	if (atomic_load(&pending_count) == 0)
		return;
	struct fh *mine = NULL;
	pthread_mutex_lock(&pending_mu);
	struct fh **pp = &pending_head;
	while (*pp) {
		struct fh *f = *pp;
		if (f->topic != t) {
			pp = &f->pending_next;
			continue;
		}
		pending_unlink_locked(f);
		pthread_mutex_lock(&f->mu);
		f->pending_next = mine;
		mine = f;
	}
	pthread_mutex_unlock(&pending_mu);
	while (mine) {
		struct fh *f = mine;
		mine = f->pending_next;
		f->pending_next = NULL;
		store_partial(f, NULL);
		pthread_mutex_unlock(&f->mu);
	}
}

static void put_stream_p(struct stream **s)
{
	if (*s)
		stream_put(*s);
}

static void put_topic_p(struct topic **t)
{
	if (*t)
		topic_put(*t);
}

#define AUTO_STREAM __attribute__((cleanup(put_stream_p))) struct stream
#define AUTO_TOPIC __attribute__((cleanup(put_topic_p))) struct topic

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
static int parse_path(const char *path, struct loc *l)
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
static bool is_hidden_name(const char *name)
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
static struct topic *find_topic(struct stream *s, const char *name)
{
	return is_hidden_name(name) ? stream_find_hidden(s, name) : stream_find_topic(s, name);
}

/* The caller of the current request as a reader of control files; its
 * supplementary groups go into GROUPS (room for N). */
static const struct ctl_reader *reader_of(struct ctl_reader *who, gid_t *groups, int n)
{
	struct fuse_context *ctx = fuse_get_context();
	who->uid = ctx->uid;
	who->gid = ctx->gid;
	int k = fuse_getgroups(n, groups);
	who->groups = groups;
	who->ngroups = k < 0 ? 0 : (k > n ? n : k);
	return who;
}

static struct cluster *local_cluster(struct sfs_daemon *d, const char *name)
{
	struct cluster *cl = ns_cluster(&d->ns, name);
	return cl && !cl->remote ? cl : NULL;
}

static void set_time(struct timespec *ts, uint64_t ns)
{
	ts->tv_sec = ns / 1000000000ull;
	ts->tv_nsec = ns % 1000000000ull;
}

/* The attributes of topic T (its waiting last lines stored first). */
static void topic_attr(struct topic *t, struct stat *st)
{
	commit_pending(t);
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
static int ctl_attr(struct sfs_daemon *d, struct stream *s, int ctl, struct stat *st)
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

static int sfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct sfs_daemon *d = daemon_of();
	/* fstat, and the kernel's check before every page-cache read: the
	 * open file knows its topic, no path to resolve (with nullpath_ok
	 * there is none). */
	struct fh *f = fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
	if (f) {
		memset(st, 0, sizeof(*st));
		st->st_blksize = 4096;
		if (f->kind == FH_CTL)
			return ctl_attr(d, f->stream, f->ctl, st);
		topic_attr(f->topic, st);
		if (topic_deleted(f->topic))
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
	topic_attr(t, st);
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
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	if (l.kind == L_ROOT) {
		if ((n = ns_cluster_names(&d->ns, &names)) < 0)
			return n;
		return fill_names(buf, filler, names, n);
	}
	struct cluster *cl = local_cluster(d, l.c);
	if (!cl)
		return -ENOENT;
	if (l.kind == L_CLUSTER) {
		if ((n = ns_stream_names(&d->ns, cl, &names)) < 0)
			return n;
		return fill_names(buf, filler, names, n);
	}
	AUTO_STREAM *s = ns_stream(&d->ns, l.c, l.s);
	if (!s)
		return -ENOENT;
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
		if (d->ns.wake)
			d->ns.wake(d->ns.wake_arg);
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

static void fh_free(struct fh *f)
{
	if (!f)
		return;
	/* The last file of a topic: a hidden name it has (removed while
	 * open, see sfs_rename) goes. */
	if (f->topic && atomic_fetch_sub(&f->topic->open_files, 1) == 1)
		stream_forget_hidden(f->stream, NULL, f->topic);
	if (f->topic)
		topic_put(f->topic);
	if (f->stream)
		stream_put(f->stream);
	topic_read_hint_free(&f->hint);
	if (f->pcap)
		hold_release(&daemon_of()->held, f->owner, f->pcap);
	free(f->pbuf);
	free(f->iov);
	free(f->acc);
	free(f->snap);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/*
 * fh_path - "/<cluster>/<stream>/<name>" of what F has open, for log
 * lines: libfuse passes no path to the handlers of an open file
 * (nullpath_ok). Written into BUF (LEN bytes), which it returns.
 */
static const char *fh_path(const struct fh *f, char *buf, size_t len)
{
	static const char *const ctl[] = { ".replicas", ".upstreams", ".info" };
	snprintf(buf, len, "/%s/%s/%s", f->stream->cluster->name, f->stream->name,
		 f->kind == FH_TOPIC ? f->topic->name : ctl[f->ctl]);
	return buf;
}

static struct fh *fh_new(enum fh_kind kind, struct stream *s)
{
	struct fh *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->kind = kind;
	f->owner = fuse_get_context()->uid;
	pthread_mutex_init(&f->mu, NULL);
	stream_get(s);
	f->stream = s;
	return f;
}

static int open_ctl(struct sfs_daemon *d, const char *path, struct stream *s,
		    int which, struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	if (which == CTLFILE_INFO && acc != O_RDONLY) {
		log_warn("open %s: refused: .info is read only", path);
		return -EACCES;
	}
	struct fh *f = fh_new(FH_CTL, s);
	if (!f)
		return -ENOMEM;
	f->ctl = which;
	f->truncating = (fi->flags & O_TRUNC) && acc != O_RDONLY;
	if (acc != O_WRONLY) {
		struct ctl_reader who;
		gid_t groups[64];
		int rc = ctlfile_render(&d->ns, s, reader_of(&who, groups, 64), which, &f->snap,
					&f->snaplen);
		if (rc < 0) {
			fh_free(f);
			return rc;
		}
	}
	fi->direct_io = 1;
	fi->fh = (uintptr_t)f;
	return 0;
}

static int sfs_open(const char *path, struct fuse_file_info *fi)
{
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	if (l.kind < L_TOPIC)
		return -EISDIR;
	AUTO_STREAM *s = ns_stream(&d->ns, l.c, l.s);
	if (!s)
		return -ENOENT;
	if (l.kind == L_CTL)
		return open_ctl(d, path, s, l.ctl, fi);
	AUTO_TOPIC *t = stream_find_topic(s, l.t);
	if (!t)
		/* The kernel found it a moment ago (an open follows a lookup):
		 * removed since. ESTALE makes the kernel look the name up again
		 * and, for O_CREAT, create it, as an open racing rm on a local
		 * file system would (namei.c, LOOKUP_REVAL). */
		return -ESTALE;
	commit_pending(t);
	uint64_t bytes;
	topic_stat(t, NULL, &bytes, NULL);
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY && bytes) {
		log_warn("open %s: refused: topics are append-only, truncation is not allowed (use >>)", path);
		return -EPERM;
	}
	struct fh *f = fh_new(FH_TOPIC, s);
	if (!f)
		return -ENOMEM;
	topic_get(t);
	f->topic = t;
	atomic_fetch_add(&t->open_files, 1);
	fi->direct_io = 1;	/* never the page cache: see the top of this file */
	fi->fh = (uintptr_t)f;
	return 0;
}

static int sfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	if (l.kind == L_CTL)
		return sfs_open(path, fi);
	if (l.kind != L_TOPIC) {
		log_warn("create %s: refused: files live in streams (/<cluster>/<stream>/<topic>)", path);
		return -EPERM;
	}
	AUTO_STREAM *s = ns_stream(&d->ns, l.c, l.s);
	if (!s)
		return -ENOENT;
	if (!name_valid(l.t)) {
		log_warn("create %s: refused: invalid topic name (1-255 of A-Z a-z 0-9 . _ -, not starting with '.')", path);
		return -EINVAL;
	}
	struct fuse_context *ctx = fuse_get_context();
	AUTO_TOPIC *t = NULL;
	bool created = false;
	/* In a setgid stream a topic takes the stream's group (POSIX). */
	gid_t gid = (s->mode & S_ISGID) ? s->gid : ctx->gid;
	rc = stream_topic_get_or_create(s, l.t, ctx->uid, gid, mode & 07777,
					fi->flags & O_EXCL, &d->ns.topic_opts, &t, &created);
	if (rc < 0)
		return rc;
	/* A new topic, empty as it is, goes to the replicas too (docs/replication.md). */
	if (created && d->ns.wake)
		d->ns.wake(d->ns.wake_arg);
	struct fh *f = fh_new(FH_TOPIC, s);
	if (!f)
		return -ENOMEM;
	topic_get(t);
	f->topic = t;
	atomic_fetch_add(&t->open_files, 1);
	fi->direct_io = 1;
	fi->fh = (uintptr_t)f;
	return 0;
}

static int sfs_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	struct fh *f = (struct fh *)(uintptr_t)fi->fh;
	if (off < 0)
		return -EINVAL;
	if (f->kind == FH_TOPIC) {
		commit_pending(f->topic);
		/* One read at a time per open file: the hint holds the bytes
		 * read ahead (fh.mu, then the topic's lock). */
		pthread_mutex_lock(&f->mu);
		ssize_t n = topic_read(f->topic, off, buf, size, &f->hint);
		pthread_mutex_unlock(&f->mu);
		return (int)n;
	}
	if ((uint64_t)off >= f->snaplen)
		return 0;
	size_t n = f->snaplen - off < size ? f->snaplen - off : size;
	memcpy(buf, f->snap + off, n);
	return (int)n;
}

/*
 * Refuse a write that holds (part of) a message longer than max_message
 * (LEN bytes so far; f->mu held): docs/filesystem.md, "Writing". Nothing
 * of the write is stored, nor the line the handle held back, which could
 * only ever be stored cut short. When the message goes on past this write
 * (UNFINISHED), later writes are refused too, up to and including one
 * with a '\n'. When the message began this write (or continued held
 * bytes) and ended in it, THROUGH is the length of BUF up to and
 * including its '\n': those bytes are remembered (refused_again).
 */
static int refuse_long(const char *path, struct fh *f, size_t len, size_t max,
		       bool unfinished, const char *buf, size_t through)
{
	log_warn("write %s: refused: a message of %s%zu bytes is longer than max_message (%zu bytes)",
		 path, unfinished ? "at least " : "", len, max);
	f->discarding = unfinished;
	f->rlen = through;
	f->rhash = through ? XXH3_64bits(buf, through) : 0;
	f->plen = 0;
	return -EMSGSIZE;
}

/*
 * Does BUF/SIZE begin with the bytes of the last refused write (f->rlen)?
 * A writer sends refused bytes again: when a write() over max_write (1
 * MiB) comes in pieces and a later piece is refused, the writer gets the
 * count of the pieces before it and sends the rest again (dd, Python);
 * Python's buffered files also keep bytes a failed write() refused and
 * send them with the next. Those bytes are the tail of a refused message,
 * and must neither become a message nor take a new one with them.
 */
static bool refused_again(const struct fh *f, const char *buf, size_t size)
{
	return f->rlen && size >= f->rlen && XXH3_64bits(buf, f->rlen) == f->rhash;
}

static int topic_write_lines(struct sfs_daemon *d, const char *path, struct fh *f,
			     const char *buf, size_t size);

/*
 * A write through topic handle F (f->mu held): the refused-message rules
 * first (refuse_long, refused_again), then topic_write_lines. Returns
 * SIZE or a negative errno, never a short count.
 */
static int topic_write(struct sfs_daemon *d, const char *path, struct fh *f,
		       const char *buf, size_t size)
{
	/* No path with nullpath_ok: name the topic for the log. */
	char where[800];
	if (!path)
		path = fh_path(f, where, sizeof(where));
	if (f->discarding) {
		/* The rest of a refused message: refuse it too, up to its end. */
		const char *nl = memchr(buf, '\n', size);
		if (nl) {
			f->discarding = false;
			f->rlen = nl + 1 - buf;
			f->rhash = XXH3_64bits(buf, f->rlen);
		}
		log_warn("write %s: refused: the rest of a message refused as longer than max_message",
			 path);
		return -EMSGSIZE;
	}
	if (!refused_again(f, buf, size)) {
		f->rlen = 0;
		return topic_write_lines(d, path, f, buf, size);
	}
	size_t old = f->rlen;
	if (size == old) {
		log_warn("write %s: refused: the end of a message refused as longer than max_message, sent again",
			 path);
		return -EMSGSIZE;
	}
	/* Skip what was sent again; the rest is a write of its own. */
	f->rlen = 0;
	int rc = topic_write_lines(d, path, f, buf + old, size - old);
	if (rc >= 0)
		return (int)size;
	if (f->rlen) {
		/* Refused again at once: a resend holds both refusals. */
		f->rlen += old;
		f->rhash = XXH3_64bits(buf, f->rlen);
	} else if (!f->discarding) {
		f->rlen = old;
		f->rhash = XXH3_64bits(buf, old);
	}
	return rc;
}

/* The lines of a write: complete ones appended, the rest held. */
static int topic_write_lines(struct sfs_daemon *d, const char *path, struct fh *f,
			     const char *buf, size_t size)
{
	size_t max = d->cfg->max_message;
	const char *last = memrchr(buf, '\n', size);
	if (!last) {
		if (f->plen + size > max)
			return refuse_long(path, f, f->plen + size, max, true, NULL, 0);
		int hrc = hold_grow(d, f, path, f->plen + size);
		if (hrc < 0)
			return hrc;
		memcpy(f->pbuf + f->plen, buf, size);
		f->plen += size;
		return (int)size;
	}
	size_t rest = buf + size - (last + 1);
	if (rest > max)
		return refuse_long(path, f, rest, max, true, NULL, 0);
	/* One pass over the data: each line becomes an iovec of the handle's
	 * array, which is kept for the next write. */
	char *first = NULL;
	int rc = 0;
	size_t nlines = 0;
	const char *p = buf;
	for (size_t i = 0; p <= last; i++) {
		if (i == f->iovcap) {
			size_t cap = f->iovcap ? f->iovcap * 2 : 64;
			struct iovec *v = realloc(f->iov, cap * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				goto out;
			}
			f->iov = v;
			f->iovcap = cap;
		}
		struct iovec *iov = f->iov;
		const char *nl = memchr(p, '\n', last + 1 - p);
		size_t len = nl - p;
		nlines++;
		iov[i].iov_base = (void *)p;
		iov[i].iov_len = len;
		if (i == 0 && f->plen) {
			first = malloc(f->plen + len + 1);
			if (!first) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(first, f->pbuf, f->plen);
			memcpy(first + f->plen, p, len);
			iov[0].iov_base = first;
			iov[0].iov_len = f->plen + len;
		}
		if (iov[i].iov_len > max) {
			rc = refuse_long(path, f, iov[i].iov_len, max, false, buf,
					 i == 0 ? (size_t)(nl + 1 - buf) : 0);
			goto out;
		}
		p = nl + 1;
	}
	/* Room for the rest first: after the append nothing may fail. */
	if ((rc = hold_grow(d, f, path, rest)) < 0)
		goto out;
	rc = topic_append_local(f->topic, f->iov, nlines);
	if (rc < 0) {
		log_warn("write %s: append failed: %s", path, strerror(-rc));
		goto out;
	}
	if (rest)
		memcpy(f->pbuf, last + 1, rest);
	f->plen = rest;
	hold_shrink(d, f);
	wait_synchronous(f, path);
	rc = (int)size;
out:
	free(first);
	return rc;
}

/* What one '>' (O_TRUNC) write of a control file may hold in all: the
 * set it replaces has at most 64 entries, so this is room for comments
 * and repeats, and a bound on what the transaction holds. */
#define CTL_REPLACE_MAX_BYTES (1u << 20)
#define CTL_REPLACE_MAX_ENTRIES 4096

/*
 * Handle complete control lines BUF/LEN: apply them at once, or, for a
 * handle opened with O_TRUNC, check them together with every entry written
 * so far and keep them for the replace at close. Each line is parsed once
 * (line numbers in errors count from the first line of the file). f->mu
 * held.
 */
static int ctl_lines(struct sfs_daemon *d, struct fh *f, const char *buf, size_t len)
{
	enum ctl_kind kind = f->ctl == CTLFILE_REPLICAS ? CTL_REPLICAS : CTL_UPSTREAMS;
	const char *file = kind == CTL_REPLICAS ? ".replicas" : ".upstreams";
	char err[512];
	struct ctl_entry *e = NULL;
	if (f->truncating && f->acc_bytes + len > CTL_REPLACE_MAX_BYTES) {
		stream_refuse(f->stream, "%s: a '>' write of more than %u bytes", file,
			      CTL_REPLACE_MAX_BYTES);
		f->refused = true;
		return -EFBIG;
	}
	int n = ctl_parse(buf, len, kind, d->mountpoint, &e, err, sizeof(err));
	if (n < 0) {
		if (f->truncating && f->acc_lines) {
			/* ctl_parse counts from this write's first line. */
			int line = 0, k = 0;
			char fixed[sizeof(err)];
			if (sscanf(err, "line %d:%n", &line, &k) == 1 && k > 0) {
				snprintf(fixed, sizeof(fixed), "line %d:%s", line + f->acc_lines,
					 err + k);
				memcpy(err, fixed, sizeof(err));
			}
		}
		stream_refuse(f->stream, "%s: %s", file, err);
		f->refused = true;
		return n;
	}
	if (!f->truncating) {
		int rc = ctlfile_apply(&d->ns, f->stream, kind, e, n, false, false);
		free(e);
		if (rc < 0)
			f->refused = true;
		return rc;
	}
	if (f->nacc + n > CTL_REPLACE_MAX_ENTRIES) {
		free(e);
		stream_refuse(f->stream, "%s: a '>' write of more than %d lines naming streams", file,
			      CTL_REPLACE_MAX_ENTRIES);
		f->refused = true;
		return -EFBIG;
	}
	struct ctl_entry *all = realloc(f->acc, (f->nacc + n + 1) * sizeof(*all));
	if (!all) {
		free(e);
		return -ENOMEM;
	}
	f->acc = all;
	for (int i = 0; i < n; i++) {
		e[i].line += f->acc_lines;
		all[f->nacc + i] = e[i];
	}
	free(e);
	int rc = ctlfile_apply(&d->ns, f->stream, kind, all, f->nacc + n, true, true);
	if (rc < 0) {
		f->refused = true;
		return rc;
	}
	f->nacc += n;
	f->acc_bytes += len;
	for (size_t i = 0; i < len; i++)
		f->acc_lines += buf[i] == '\n';
	f->wrote = true;
	return 0;
}

static int ctl_write_lines(struct sfs_daemon *d, struct fh *f, const char *buf,
			   size_t size);

/* Any refused control write also cancels a pending replace ('>'). */
static int ctl_write(struct sfs_daemon *d, struct fh *f, const char *buf, size_t size)
{
	int rc = ctl_write_lines(d, f, buf, size);
	if (rc < 0)
		f->refused = true;
	return rc;
}

static int ctl_write_lines(struct sfs_daemon *d, struct fh *f, const char *buf,
			   size_t size)
{
	if (f->ctl == CTLFILE_INFO)
		return -EACCES;
	const char *last = memrchr(buf, '\n', size);
	if (!last) {
		if (f->plen + size > 65536) {
			stream_refuse(f->stream, "%s: a line longer than 64 KiB",
				      f->ctl == CTLFILE_REPLICAS ? ".replicas" : ".upstreams");
			return -EINVAL;
		}
		int hrc = hold_grow(d, f, NULL, f->plen + size);
		if (hrc < 0)
			return hrc;
		memcpy(f->pbuf + f->plen, buf, size);
		f->plen += size;
		return (int)size;
	}
	size_t head = last + 1 - buf;
	char *lines = malloc(f->plen + head);
	if (!lines)
		return -ENOMEM;
	if (f->plen)
		memcpy(lines, f->pbuf, f->plen);
	memcpy(lines + f->plen, buf, head);
	int rc = ctl_lines(d, f, lines, f->plen + head);
	free(lines);
	if (rc < 0)
		return rc;
	size_t rest = size - head;
	int hrc = hold_grow(d, f, NULL, rest);
	if (hrc < 0)
		return hrc;
	if (rest)
		memcpy(f->pbuf, last + 1, rest);
	f->plen = rest;
	return (int)size;
}

/*
 * A write by anyone but root clears a topic's setuid bit, and its setgid
 * bit when group-execute is set, as a write to a file does on ext4 (Linux
 * file_remove_privs, should_remove_suid: writers without CAP_FSETID; root
 * stands for CAP_FSETID here, the daemon cannot see the writer's
 * capabilities).
 */
static void kill_suid(const char *path, struct topic *t)
{
	if (fuse_get_context()->uid == 0)
		return;
	mode_t m = t->mode, kill = m & S_ISUID;
	if ((m & S_ISGID) && (m & S_IXGRP))
		kill |= S_ISGID;
	if (!kill)
		return;
	int rc = topic_set_owner(t, (uid_t)-1, (gid_t)-1, m & ~kill);
	if (rc < 0)
		log_warn("write %s: cannot clear the setuid/setgid bits: %s", path ? path : t->name,
			 strerror(-rc));
}

static int sfs_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)off; /* appends go at the real end, whatever the kernel thinks */
	struct sfs_daemon *d = daemon_of();
	struct fh *f = (struct fh *)(uintptr_t)fi->fh;
	if (size == 0)
		return 0;
	if (f->kind == FH_TOPIC)
		kill_suid(path, f->topic);
	pthread_mutex_lock(&f->mu);
	int rc = f->kind == FH_TOPIC ? topic_write(d, path, f, buf, size) :
				       ctl_write(d, f, buf, size);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

/*
 * Finish what a close finishes: a last line without '\n' becomes a message
 * (or a control line), and a truncating control write replaces the set.
 * FINAL is the release, after which nothing more can come.
 */
static int finish(struct sfs_daemon *d, const char *path, struct fh *f, bool final)
{
	int rc = 0;
	pthread_mutex_lock(&f->mu);
	if (f->kind == FH_TOPIC && f->plen && !final) {
		/* Not yet: see pending_head. */
		pthread_mutex_unlock(&f->mu);
		pending_add(f);
		return 0;
	}
	if (f->kind == FH_TOPIC) {
		rc = store_partial(f, path);
	} else if (f->plen) {
		rc = ctl_lines(d, f, f->pbuf, f->plen);
		f->plen = 0;
	}
	/*
	 * A shell's "> file" closes a duplicate of the descriptor before any
	 * write; replacing then would empty the set, so the replace waits for
	 * a write, or for the release when nothing was written at all.
	 */
	/* A refused write cancels the replace: "> file" then changes nothing. */
	if (f->kind == FH_CTL && f->truncating && rc == 0 && !f->refused &&
	    (f->wrote || (final && !f->applied))) {
		enum ctl_kind kind = f->ctl == CTLFILE_REPLICAS ? CTL_REPLICAS : CTL_UPSTREAMS;
		rc = ctlfile_apply(&d->ns, f->stream, kind, f->acc, f->nacc, true, false);
		f->wrote = false;
		f->applied = true;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int sfs_flush(const char *path, struct fuse_file_info *fi)
{
	return finish(daemon_of(), path, (struct fh *)(uintptr_t)fi->fh, false);
}

static int sfs_release(const char *path, struct fuse_file_info *fi)
{
	struct fh *f = (struct fh *)(uintptr_t)fi->fh;
	pending_remove(f);
	finish(daemon_of(), path, f, true);
	fh_free(f);
	return 0;
}

static int sfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	struct fh *f = (struct fh *)(uintptr_t)fi->fh;
	/* fsync(2) on a topic makes what was appended so far durable, whatever
	 * the policy; control-file changes are synced when applied. */
	return f && f->kind == FH_TOPIC ? topic_sync(f->topic) : 0;
}

static int sfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct sfs_daemon *d = daemon_of();
	struct fh *f = fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
	if (f) {
		/* ftruncate: the open file knows what it is. */
		uint64_t bytes = 0;
		if (f->kind == FH_TOPIC) {
			topic_stat(f->topic, NULL, &bytes, NULL);
			if ((uint64_t)size == bytes)
				return 0;
		}
		char where[800];
		log_warn("truncate %s: refused: topics are append-only and control files are replaced with '>'",
			 fh_path(f, where, sizeof(where)));
		return -EPERM;
	}
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	if (l.kind < L_TOPIC)
		return -EISDIR;
	AUTO_STREAM *s = ns_stream(&d->ns, l.c, l.s);
	if (!s)
		return -ENOENT;
	if (l.kind == L_TOPIC) {
		AUTO_TOPIC *t = find_topic(s, l.t);
		if (!t)
			return -ENOENT;
		uint64_t bytes;
		topic_stat(t, NULL, &bytes, NULL);
		if ((uint64_t)size == bytes)
			return 0;
	}
	log_warn("truncate %s: refused: topics are append-only and control files are replaced with '>'",
		 path);
	return -EPERM;
}

/*
 * fallocate (posix_fallocate, fallocate(1)) on a topic stores nothing.
 * Space inside the topic is there already, and FALLOC_FL_KEEP_SIZE changes
 * nothing: 0. A range past the end would grow the file, which only an
 * append may do: EPERM, as Linux answers for an append-only file. Other
 * modes (punching holes): EOPNOTSUPP. Never EOPNOTSUPP for mode 0: glibc's
 * posix_fallocate would then write a zero byte into every block, and each
 * would become a message.
 */
static int sfs_fallocate(const char *path, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct fh *f = fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
	char where[800];
	if (!path)
		path = f ? fh_path(f, where, sizeof(where)) : "?";
	if (!f || f->kind != FH_TOPIC) {
		log_warn("fallocate %s: refused: control files hold no data", path);
		return -EPERM;
	}
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (mode & ~FALLOC_FL_KEEP_SIZE) {
		log_warn("fallocate %s: refused: mode %#x is not supported on topics", path, mode);
		return -EOPNOTSUPP;
	}
	uint64_t bytes;
	topic_stat(f->topic, NULL, &bytes, NULL);
	if ((mode & FALLOC_FL_KEEP_SIZE) || (uint64_t)off + (uint64_t)len <= bytes)
		return 0;
	log_warn("fallocate %s: refused: topics are append-only; %lld bytes from %lld would grow it",
		 path, (long long)len, (long long)off);
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

/* chmod/chown through an open file (no path with nullpath_ok). */
static int set_owner_fh(struct fh *f, uid_t uid, gid_t gid, mode_t mode)
{
	if (f->kind == FH_TOPIC)
		return topic_set_owner(f->topic, uid, gid, mode);
	char where[800];
	log_warn("chmod/chown %s: refused: follows its stream", fh_path(f, where, sizeof(where)));
	return -EPERM;
}

static int sfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (fi)
		return set_owner_fh((struct fh *)(uintptr_t)fi->fh, (uid_t)-1, (gid_t)-1,
				    mode & 07777);
	return set_owner(path, (uid_t)-1, (gid_t)-1, mode & 07777);
}

static int sfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	if (fi)
		return set_owner_fh((struct fh *)(uintptr_t)fi->fh, uid, gid, (mode_t)-1);
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
	(void)path;
	struct sfs_daemon *d = daemon_of();
	for (int i = 0; i < d->ns.nclusters; i++)
		if (!d->ns.clusters[i].remote)
			return fstatvfs(d->ns.clusters[i].dirfd, sv) < 0 ? -errno : 0;
	memset(sv, 0, sizeof(*sv));
	return 0;
}

static void *sfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* open(O_TRUNC) must reach open(), where control files tell it apart
	 * from appends and topics refuse it. */
	conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->max_write = SFS_MAX_WRITE;
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
	return fuse_get_context()->private_data;
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
