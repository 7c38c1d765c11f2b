/*
 * fuse_files.c - the FUSE handlers of open files (fuse_internal.h): open,
 * create, read, write, flush, release, fsync, and what truncate, fallocate
 * and chmod do to an open file. The open-file state is fs/openfile.h's,
 * line assembly fs/lines.h's, the control-file write path fs/ctlwrite.h's.
 *
 * Every handler returns 0 (or a byte count) or a negative errno, as libfuse
 * expects. Control files and topics are direct_io (see the top of
 * fs/fuse_ops.c): the offset the kernel passes for a write is ignored,
 * because data always goes at the topic's real end (docs/filesystem.md).
 *
 * Lock order here: pending_list.mu, then fh.mu, then the stream's and
 * topic's locks (docs/architecture.md).
 */
#define _GNU_SOURCE
#include "fuse_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callersig.h"
#include "fuse_remote.h"
#include "logging.h"
#include "names.h"
#include "rootinfo.h"
#include "stats.h"

/* Has the kernel asked to interrupt the request this thread serves
 * (a signal to the process that made it, not one of those ignored by
 * default: callersig.h)? */
static bool request_interrupted(void *arg)
{
	(void)arg;
	return fuse_caller_signalled();
}

/*
 * After an append through TF: wait for synchronous replicas
 * (docs/replication.md, "Synchronous mode"). A stream without replicas,
 * the usual case, costs one atomic load here rather than the stream lock
 * and a topic lock on every write. A signal to the writer ends the wait
 * (one log line naming WHAT): the messages are appended, so the write
 * returns their count, as POSIX has an interrupted write() that moved
 * data do; EINTR would make writers that retry on it (Python, dd on
 * SIGUSR1) append them twice.
 */
static void wait_synchronous(struct sfs_daemon *d, struct topic_fh *tf, const char *what)
{
	if (!atomic_load(&tf->h.stream->has_replicas))
		return;
	if (repl_sync_wait(&d->ns, tf->h.stream, tf->topic, topic_end(tf->topic),
			   d->cfg->sync_timeout_ms, request_interrupted, NULL) == -EINTR)
		log_info("write %s: interrupted while waiting for a synchronous replica; the messages are appended and replicate later",
			 what);
}

/* What lines_write's append does for a topic file: append, then wait for
 * synchronous replicas. */
struct topic_append {
	struct sfs_daemon *d;
	struct topic_fh *tf;
	const char *what;
};

static int append_lines(void *arg, const struct iovec *iov, size_t n)
{
	struct topic_append *a = arg;
	int rc = topic_append_local(a->tf->topic, iov, n);
	if (rc == 0) {
		stats_appended(iov, n);
		wait_synchronous(a->d, a->tf, a->what);
	}
	return rc;
}

/*
 * Store the waiting last line of TF (h.mu held). It does not wait for
 * synchronous replicas: it runs at the release, which close() does not
 * wait for, or for someone else's stat, open or read, who must not wait
 * on the writer's behalf (docs/replication.md).
 */
static int store_partial(struct topic_fh *tf, const char *path)
{
	struct line_asm *la = &tf->h.lines;
	if (!la->len)
		return 0;
	struct iovec iov = { la->buf, la->len };
	int rc = topic_append_local(tf->topic, &iov, 1);
	if (rc == 0)
		stats_appended(&iov, 1);
	lines_drop(la);
	if (rc < 0) {
		log_warn("close %s: the last line could not be appended: %s",
			 path ? path : fh_path(&tf->h), strerror(-rc));
	}
	return rc;
}

/* pending_commit's STORE: the open file's waiting line, as its close
 * would store it. */
static void store_pending(struct pending_line *pn, void *arg)
{
	(void)arg;
	store_partial((struct topic_fh *)((char *)pn - offsetof(struct topic_fh, pending)), NULL);
}

/* pending_commit's INTERRUPTED: the request this thread serves. */
static bool caller_interrupted(void)
{
	return request_interrupted(NULL);
}

void commit_pending(struct sfs_daemon *d, struct topic *t)
{
	/* Each file's line is stored with its lock held, so its release
	 * waits for the store; the list's mutex is not held while storing,
	 * which appends and may fsync (or be a round trip). */
	pending_commit(&d->pending, t, store_pending, NULL, caller_interrupted);
}

static int open_ctl(struct sfs_daemon *d, const char *path, struct stream *s, int which,
		    struct fuse_file_info *fi)
{
	int acc = fi->flags & O_ACCMODE;
	if (which == CTLFILE_INFO && acc != O_RDONLY) {
		log_warn("open %s: refused: .info is read only", path);
		return -EACCES;
	}
	struct ctl_fh *cf = ctl_fh_new(&d->ns, s, d->mountpoint, which,
				       (fi->flags & O_TRUNC) && acc != O_RDONLY,
				       fuse_get_context()->uid, &d->held, &d->reading);
	if (!cf)
		return -ENOMEM;
	if (acc != O_WRONLY) {
		struct ctl_reader who;
		gid_t groups[64];
		char *text;
		size_t len;
		int rc = ctlfile_render(&d->ns, s, reader_of(&who, groups, 64), which, &text, &len);
		if (rc == 0 && (rc = ctl_fh_keep_text(cf, text, len)) == -ENOBUFS)
			log_warn("open %s: refused: the open control files of user %u would hold more than %llu bytes for reading",
				 path, (unsigned)fuse_get_context()->uid,
				 (unsigned long long)d->reading.max_user);
		if (rc < 0) {
			fh_free(&cf->h);
			return rc;
		}
	}
	fi->direct_io = 1;
	fi->fh = (uintptr_t)&cf->h;
	return 0;
}

/* Open topic T of S for FI: never the page cache (fs/fuse_ops.c). */
static int open_topic(struct sfs_daemon *d, struct stream *s, struct topic *t,
		      struct fuse_file_info *fi)
{
	struct topic_fh *tf = topic_fh_new(s, t, fuse_get_context()->uid, &d->held, &d->reading);
	if (!tf)
		return -ENOMEM;
	fi->direct_io = 1;
	fi->fh = (uintptr_t)&tf->h;
	return 0;
}

/*
 * The stream of file PATH (a topic or control file) into *OUT, a new
 * reference, its parts into L. 0, -EISDIR (not a file), or -ENOENT.
 */
static int file_stream(struct sfs_daemon *d, const char *path, struct loc *l,
		       struct stream **out)
{
	int rc = parse_path(path, l);
	if (rc < 0)
		return rc;
	if (l->kind < L_TOPIC)
		return -EISDIR;
	*out = ns_stream(&d->ns, l->c, l->s);
	return *out ? 0 : -ENOENT;
}

/* Open the mount's /.info: read only, its text made now. */
static int open_rootinfo(struct sfs_daemon *d, struct fuse_file_info *fi)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		log_warn("open /.info: refused: .info is read only");
		return -EACCES;
	}
	uid_t uid = fuse_get_context()->uid;
	struct ctl_reader who;
	gid_t groups[64];
	char *text;
	size_t len;
	int rc = rootinfo_render(&d->ns, reader_of(&who, groups, 64), &text, &len);
	if (rc < 0)
		return rc;
	struct ctl_fh *cf = rootinfo_fh_new(uid, &d->reading);
	if (!cf) {
		free(text);
		return -ENOMEM;
	}
	if ((rc = ctl_fh_keep_text(cf, text, len)) < 0) {
		log_warn("open /.info: refused: the open control files of user %u would hold more than %llu bytes for reading",
			 (unsigned)uid, (unsigned long long)d->reading.max_user);
		fh_free(&cf->h);
		return rc;
	}
	fi->direct_io = 1;
	fi->fh = (uintptr_t)&cf->h;
	return 0;
}

int sfs_open(const char *path, struct fuse_file_info *fi)
{
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	AUTO_STREAM *s = NULL;
	if (parse_path(path, &l) == 0 && is_rootinfo(&l))
		return open_rootinfo(d, fi);
	struct cluster *rcl = remote_cluster(d, &l);
	if (rcl)
		return remote_open(d, rcl, &l, fi);
	int rc = file_stream(d, path, &l, &s);
	if (rc < 0)
		return rc;
	if (l.kind == L_CTL)
		return open_ctl(d, path, s, l.ctl, fi);
	AUTO_TOPIC *t = stream_find_topic(s, l.t);
	if (!t)
		/* The kernel found it a moment ago (an open follows a lookup):
		 * removed since. ESTALE makes the kernel look the name up again
		 * and, for O_CREAT, create it, as an open racing rm on a local
		 * file system would (namei.c, LOOKUP_REVAL). */
		return -ESTALE;
	commit_pending(d, t);
	uint64_t bytes;
	topic_stat(t, NULL, &bytes, NULL);
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY && bytes) {
		log_warn("open %s: refused: topics are append-only, truncation is not allowed (use >>)", path);
		return -EPERM;
	}
	return open_topic(d, s, t, fi);
}

int sfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct sfs_daemon *d = daemon_of();
	struct loc l;
	int rc = parse_path(path, &l);
	if (rc < 0)
		return rc;
	struct cluster *rcl = remote_cluster(d, &l);
	if (rcl)
		return remote_create(d, rcl, &l, mode, fi);
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
					fi->flags & O_EXCL, &t, &created);
	if (rc < 0)
		return rc;
	/* A new topic, empty as it is, goes to the replicas too (docs/replication.md). */
	if (created)
		repl_wake(&d->ns);
	return open_topic(d, s, t, fi);
}

int sfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	struct fh *f = fh_of(fi);
	if (off < 0)
		return -EINVAL;
	if (f->kind == FH_REMOTE)
		return remote_read(daemon_of(), remote_fh_of(f), buf, size, off);
	if (f->kind == FH_TOPIC) {
		struct topic_fh *tf = topic_fh_of(f);
		commit_pending(daemon_of(), tf->topic);
		/* One read at a time per open file: the hint holds the bytes
		 * read ahead (fh.mu, then the topic's lock). */
		pthread_mutex_lock(&f->mu);
		ssize_t n = topic_read(tf->topic, off, buf, size, &tf->hint);
		topic_fh_count_readahead(tf);
		pthread_mutex_unlock(&f->mu);
		if (n > 0)
			stats_read(buf, (size_t)n);
		return (int)n;
	}
	struct ctl_fh *cf = ctl_fh_of(f);
	if ((uint64_t)off >= cf->snaplen)
		return 0;
	size_t n = cf->snaplen - off < size ? cf->snaplen - off : size;
	memcpy(buf, cf->snap + off, n);
	return (int)n;
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

int sfs_write(const char *path, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	(void)off; /* appends go at the real end, whatever the kernel thinks */
	struct sfs_daemon *d = daemon_of();
	struct fh *f = fh_of(fi);
	if (size == 0)
		return 0;
	if (f->kind == FH_ROOTINFO)
		return -EBADF;	/* opened read only */
	if (f->kind == FH_REMOTE)
		return remote_write(d, remote_fh_of(f), buf, size);
	int rc;
	if (f->kind == FH_TOPIC) {
		struct topic_fh *tf = topic_fh_of(f);
		kill_suid(path, tf->topic);
		/* No path with nullpath_ok: the open file names the topic. */
		struct topic_append a = { d, tf, path ? path : fh_path(f) };
		pthread_mutex_lock(&f->mu);
		rc = lines_write(&f->lines, a.what, buf, size, d->cfg->max_message, append_lines,
				 &a);
		pthread_mutex_unlock(&f->mu);
	} else {
		pthread_mutex_lock(&f->mu);
		rc = ctl_write(&ctl_fh_of(f)->txn, &f->lines, buf, size);
		pthread_mutex_unlock(&f->mu);
	}
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
	if (f->kind == FH_ROOTINFO)
		return 0;
	if (f->kind == FH_REMOTE)
		return remote_flush(d, remote_fh_of(f), final);
	pthread_mutex_lock(&f->mu);
	if (f->kind == FH_TOPIC) {
		struct topic_fh *tf = topic_fh_of(f);
		if (f->lines.len && !final) {
			/* Not yet: see the pending list (fs/lines.h). */
			pthread_mutex_unlock(&f->mu);
			pending_add(&d->pending, &tf->pending);
			return 0;
		}
		rc = store_partial(tf, path);
	} else {
		rc = ctl_finish(&ctl_fh_of(f)->txn, &f->lines, final);
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

int sfs_flush(const char *path, struct fuse_file_info *fi)
{
	return finish(daemon_of(), path, fh_of(fi), false);
}

int sfs_release(const char *path, struct fuse_file_info *fi)
{
	struct sfs_daemon *d = daemon_of();
	struct fh *f = fh_of(fi);
	/* The last line is stored while the file is still on the pending
	 * list: a reader that looks at the topic meanwhile takes it off the
	 * list, which waits for this file's lock, so it reads after the
	 * store. Off the list first, a reader would find nothing to wait for
	 * and read before the line is there (a slow home: NATS, a remote
	 * daemon). */
	finish(d, path, f, true);
	if (f->kind == FH_TOPIC)
		pending_remove(&d->pending, &topic_fh_of(f)->pending);
	/* A reader that took it off the list may still be unlocking it. */
	pthread_mutex_lock(&f->mu);
	pthread_mutex_unlock(&f->mu);
	fh_free(f);
	return 0;
}

int sfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	struct fh *f = fh_of(fi);
	/* fsync(2) on a topic makes what was appended so far durable, whatever
	 * the policy; control-file changes are synced when applied. A remote
	 * topic's appends were acknowledged by the daemon serving it, durable
	 * as its fsync policy makes them (docs/global-namespace.md). */
	return f && f->kind == FH_TOPIC ? topic_sync(topic_fh_of(f)->topic) : 0;
}

int sfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct sfs_daemon *d = daemon_of();
	struct fh *f = fh_of(fi);
	if (f) {
		/* ftruncate: the open file knows what it is. */
		uint64_t bytes = 0;
		if (f->kind == FH_REMOTE && !remote_fh_of(f)->ctl) {
			struct stat st;
			if (remote_fgetattr(d, remote_fh_of(f), &st) == 0 && st.st_size == size)
				return 0;
		}
		if (f->kind == FH_TOPIC) {
			topic_stat(topic_fh_of(f)->topic, NULL, &bytes, NULL);
			if ((uint64_t)size == bytes)
				return 0;
		}
		log_warn("truncate %s: refused: topics are append-only and control files are replaced with '>'",
			 fh_path(f));
		return -EPERM;
	}
	struct loc l;
	AUTO_STREAM *s = NULL;
	struct cluster *rcl = parse_path(path, &l) == 0 ? remote_cluster(d, &l) : NULL;
	if (rcl) {
		struct stat st;
		int rc = remote_getattr(d, rcl, &l, &st);
		if (rc < 0)
			return rc;
		if (l.kind == L_TOPIC && st.st_size == size)
			return 0;
		log_warn("truncate %s: refused: topics are append-only and control files are replaced with '>'",
			 path);
		return -EPERM;
	}
	int rc = file_stream(d, path, &l, &s);
	if (rc < 0)
		return rc;
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
int sfs_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	struct fh *f = fh_of(fi);
	if (!path)
		path = f ? fh_path(f) : "?";
	if (f && f->kind == FH_REMOTE && !remote_fh_of(f)->ctl) {
		if (off < 0 || len <= 0)
			return -EINVAL;
		struct stat st;
		int rc = remote_fgetattr(daemon_of(), remote_fh_of(f), &st);
		if (rc < 0)
			return rc;
		if ((mode & ~FALLOC_FL_KEEP_SIZE) == 0 &&
		    ((mode & FALLOC_FL_KEEP_SIZE) || off + len <= st.st_size))
			return 0;
		log_warn("fallocate %s: refused: topics are append-only", path);
		return mode & ~FALLOC_FL_KEEP_SIZE ? -EOPNOTSUPP : -EPERM;
	}
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
	topic_stat(topic_fh_of(f)->topic, NULL, &bytes, NULL);
	if ((mode & FALLOC_FL_KEEP_SIZE) || (uint64_t)off + (uint64_t)len <= bytes)
		return 0;
	log_warn("fallocate %s: refused: topics are append-only; %lld bytes from %lld would grow it",
		 path, (long long)len, (long long)off);
	return -EPERM;
}

int sfs_set_owner_fh(struct fh *f, uid_t uid, gid_t gid, mode_t mode)
{
	if (f->kind == FH_REMOTE && !remote_fh_of(f)->ctl) {
		struct remote_fh *rf = remote_fh_of(f);
		struct loc l = { .kind = L_TOPIC };
		snprintf(l.c, sizeof(l.c), "%s", rf->cl->name);
		snprintf(l.s, sizeof(l.s), "%s", rf->stream);
		snprintf(l.t, sizeof(l.t), "%s", rf->file);
		return remote_set_owner(rf->cl, &l, uid, gid, mode);
	}
	if (f->kind == FH_TOPIC)
		return topic_set_owner(topic_fh_of(f)->topic, uid, gid, mode);
	log_warn("chmod/chown %s: refused: follows its stream", fh_path(f));
	return -EPERM;
}
