/*
 * fuse_remote.c - the FUSE handlers for paths under a cluster another
 * daemon serves (the global namespace, docs/global-namespace.md): each
 * turns the path and the caller into a request (fs/fsreq.h) for the
 * cluster's home (cluster_ops.call), which the serving daemon carries out
 * on its own mount as that caller. So every rule of a topic, a stream and
 * a control file is the serving daemon's, applied once, there.
 *
 * What stays here is what belongs to an open file: line assembly of a
 * topic's writes (fs/lines.h, with this daemon's max_message; the serving
 * daemon applies its own), the complete lines of one write() sent as one
 * append; a topic's read-ahead; and, for a reader at the end of a topic,
 * the last size seen, so that `tail -f` waits out a lost link instead of
 * failing or starting over. Control files are fs/fuse_remote_ctl.c's.
 *
 * Lock order: pending_list.mu, then fh.mu (as fs/fuse_files.c). No lock is
 * held while a request waits on the network, except the open file's own
 * (one request at a time per open file, as local writes).
 */
#define _GNU_SOURCE
#include "fuse_remote.h"
#include "fuse_remote_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <xxhash.h>

#include "callersig.h"
#include "logging.h"
#include "names.h"

/* The least a read of a remote topic asks of its serving daemon, bytes:
 * one round trip brings what the next reads of a cat want (the kernel
 * asks 128 KiB at a time). */
#define REMOTE_READ_AHEAD (1u << 20)


/* Has the kernel asked to interrupt the request this thread serves (a
 * signal to its caller, not one of those ignored by default:
 * callersig.h), or is the daemon stopping (SIGTERM: the FUSE loop waits
 * for this request before it can end)? */
static bool request_interrupted(void *arg)
{
	(void)arg;
	struct fuse_context *ctx = fuse_get_context();
	return fuse_caller_signalled() ||
	       (ctx && ctx->fuse && fuse_session_exited(fuse_get_session(ctx->fuse)));
}

bool fuse_request_interrupted(void)
{
	return request_interrupted(NULL);
}

/*
 * Does L name something a serving daemon could have (its parts valid
 * names, the last one a control file's name where a control file goes)?
 * A name no daemon takes (empty, too long, a dot file, a control
 * character) names nothing: ENOENT here, as a local cluster answers,
 * without a request.
 */
static bool loc_ok(const struct loc *l)
{
	if (l->kind >= L_STREAM && !name_valid(l->s))
		return false;
	if (l->kind == L_TOPIC && !name_valid(l->t))
		return false;
	return true;
}

/* The caller of the current request, as a request carries it. */
static void caller_of(struct fs_caller *who)
{
	struct fuse_context *ctx = fuse_get_context();
	gid_t groups[FS_MAX_GROUPS];
	memset(who, 0, sizeof(*who));
	who->uid = ctx->uid;
	who->gid = ctx->gid;
	int k = fuse_getgroups(FS_MAX_GROUPS, groups);
	if (k > FS_MAX_GROUPS)
		k = FS_MAX_GROUPS;	/* more are cut: they travel as a hint */
	for (int i = 0; i < k; i++)
		who->groups[i] = groups[i];
	who->ngroups = k < 0 ? 0 : (uint32_t)k;
}

void remote_req_init(struct fs_req *q, enum fs_op op, const struct cluster *cl,
		     const char *stream, const char *file, const struct fs_caller *who)
{
	memset(q, 0, sizeof(*q));
	q->op = op;
	q->who = *who;
	snprintf(q->cluster, sizeof(q->cluster), "%s", cl->name);
	snprintf(q->stream, sizeof(q->stream), "%s", stream ? stream : "");
	snprintf(q->name, sizeof(q->name), "%s", file ? file : "");
	q->owner = q->group = (uint32_t)-1;
}

/*
 * Send Q to CL's serving daemon and wait: its status (a count, 0 or a
 * negative errno), or the connection's error (*DOWN set then). REP is
 * filled (fs_rep_free it). A refusal with a reason is logged here too,
 * as a local one would be.
 */
int remote_call_op(struct cluster *cl, const struct fs_req *q, struct fs_rep *rep, bool *down)
{
	int rc = cl->ops->call(cl, q, rep, request_interrupted, NULL);
	if (down)
		*down = rc < 0 && rc != -EINTR;
	if (rc < 0)
		return rc;
	if (rep->status < 0 && rep->message[0])
		log_warn("%s /%s/%s%s%s: refused by the daemon serving %s: %s", fs_op_name(q->op),
			 q->cluster, q->stream, *q->name ? "/" : "", q->name, q->cluster,
			 rep->message);
	return rep->status;
}

/* A request of a path's caller, with nothing to send and no data back. */
static int call_simple(struct cluster *cl, enum fs_op op, const struct loc *l, uint32_t mode,
		       uint32_t owner, uint32_t group)
{
	struct fs_caller who;
	struct fs_req q;
	struct fs_rep rep;
	caller_of(&who);
	remote_req_init(&q, op, cl, l->s, l->kind >= L_TOPIC ? l->t : "", &who);
	q.mode = mode & 07777;
	q.owner = owner;
	q.group = group;
	int rc = remote_call_op(cl, &q, &rep, NULL);
	fs_rep_free(&rep);
	return rc < 0 ? rc : 0;
}

/*
 * The attributes A as stat gives them, their type what KIND of path it
 * is (a directory for a cluster or stream, a regular file below), only
 * the permission bits from the serving daemon: whatever it says, nothing
 * here becomes a device, a symlink or a directory where a topic is
 * (and nosuid holds on the mount).
 */
static void stat_of(const struct fs_attr *a, enum loc_kind kind, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = (kind >= L_TOPIC ? S_IFREG : S_IFDIR) | (a->mode & 07777);
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_nlink = a->nlink;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_blksize = 4096;
	set_time(&st->st_atim, a->atime_ns);
	set_time(&st->st_mtim, a->mtime_ns);
	set_time(&st->st_ctim, a->ctime_ns);
}

struct cluster *remote_cluster(struct sfs_daemon *d, const struct loc *l)
{
	if (l->kind == L_ROOT)
		return NULL;
	struct cluster *cl = ns_cluster(&d->ns, l->c);
	return cl && cl->remote && cl->ops && cl->ops->call ? cl : NULL;
}

/* The key of remote topic CL/STREAM/FILE on the pending list: odd, so
 * never the address of a local topic (fs/lines.h keys those). */
static const void *pending_key(const struct cluster *cl, const char *stream, const char *file)
{
	char path[3 * 256 + 4];
	int n = snprintf(path, sizeof(path), "%s/%s/%s", cl->name, stream, file);
	uint64_t h = XXH3_64bits(path, n > 0 ? (size_t)n : 0) | 1;
	return (const void *)(uintptr_t)h;
}

/* Send RF's held last line (h.mu held). 0 or a negative errno. */
static int send_partial(struct remote_fh *rf)
{
	struct line_asm *la = &rf->h.lines;
	if (!la->len)
		return 0;
	struct fs_req q;
	struct fs_rep rep;
	remote_req_init(&q, FS_APPEND, rf->cl, rf->stream, rf->file, &rf->who);
	q.data = (const uint8_t *)la->buf;
	q.len = la->len;
	int rc = remote_call_op(rf->cl, &q, &rep, NULL);
	fs_rep_free(&rep);
	lines_drop(la);
	if (rc < 0)
		log_warn("close %s: the last line could not be appended: %s", fh_path(&rf->h),
			 strerror(-rc));
	return rc < 0 ? rc : 0;
}

/* pending_commit's STORE: a remote open file's waiting line, sent as its
 * close would send it. */
static void store_pending(struct pending_line *pn, void *arg)
{
	(void)arg;
	send_partial((struct remote_fh *)((char *)pn - offsetof(struct remote_fh, pending)));
}

/* pending_commit's INTERRUPTED: the request this thread serves. */
static bool caller_interrupted(void)
{
	return request_interrupted(NULL);
}

/* Store every waiting last line of remote topic CL/STREAM/FILE before
 * someone here looks at it (as commit_pending for a local topic). */
static void remote_commit(struct sfs_daemon *d, struct cluster *cl, const char *stream,
			  const char *file)
{
	pending_commit(&d->pending, pending_key(cl, stream, file), store_pending, NULL,
		       caller_interrupted);
}

/* List RF among the open remote topics of D (at its open). */
static void open_list_add(struct sfs_daemon *d, struct remote_fh *rf)
{
	pthread_mutex_lock(&d->remote_mu);
	rf->next_open = d->remote_open;
	d->remote_open = rf;
	rf->listed = true;
	pthread_mutex_unlock(&d->remote_mu);
}

/* Take RF off the list (at its release). */
static void open_list_remove(struct sfs_daemon *d, struct remote_fh *rf)
{
	pthread_mutex_lock(&d->remote_mu);
	for (struct remote_fh **pp = &d->remote_open; rf->listed && *pp; pp = &(*pp)->next_open)
		if (*pp == rf) {
			*pp = rf->next_open;
			rf->listed = false;
			break;
		}
	pthread_mutex_unlock(&d->remote_mu);
}

/*
 * What an open file of remote topic CL/STREAM/FILE saw last, into *A:
 * the largest size any of them saw (a topic only grows). False if no
 * open file of it has seen it.
 */
static bool open_list_seen(struct sfs_daemon *d, const struct cluster *cl, const char *stream,
			   const char *file, struct fs_attr *a)
{
	bool found = false;
	pthread_mutex_lock(&d->remote_mu);
	for (struct remote_fh *rf = d->remote_open; rf; rf = rf->next_open) {
		if (rf->cl != cl || strcmp(rf->stream, stream) || strcmp(rf->file, file))
			continue;
		/* Its own fields are under its h.mu, taken after remote_mu
		 * nowhere else: a leaf here. */
		pthread_mutex_lock(&rf->h.mu);
		if (rf->known && (!found || rf->attr.size > a->size)) {
			*a = rf->attr;
			if (rf->seen_end > a->size)
				a->size = rf->seen_end;
			found = true;
		}
		pthread_mutex_unlock(&rf->h.mu);
	}
	pthread_mutex_unlock(&d->remote_mu);
	return found;
}

int remote_getattr(struct sfs_daemon *d, struct cluster *cl, const struct loc *l,
		   struct stat *st)
{
	struct fs_caller who;
	struct fs_req q;
	struct fs_rep rep;
	bool down;
	if (!loc_ok(l))
		return -ENOENT;
	if (l->kind == L_TOPIC)
		remote_commit(d, cl, l->s, l->t);
	caller_of(&who);
	remote_req_init(&q, FS_GETATTR, cl, l->s, l->kind >= L_TOPIC ? l->t : "", &who);
	int rc = remote_call_op(cl, &q, &rep, &down);
	if (rc == 0)
		stat_of(&rep.attr, l->kind, st);
	fs_rep_free(&rep);
	struct fs_attr seen;
	if (down && l->kind == L_TOPIC && open_list_seen(d, cl, l->s, l->t, &seen)) {
		/* A reader here follows it (tail -f polls its size with
		 * fstat, which reaches here by path): what it saw, so that
		 * it waits out the outage and never sees the topic shrink. */
		stat_of(&seen, L_TOPIC, st);
		return 0;
	}
	if (down && l->kind == L_CLUSTER) {
		/* /<cluster> stays a directory while its daemon is away, so
		 * that ls -l /mapr lists it; what is under it fails. */
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFDIR | cl->mode;
		st->st_nlink = 2;
		set_time(&st->st_mtim, d->ns.mount_ns);
		st->st_ctim = st->st_atim = st->st_mtim;
		return 0;
	}
	return rc;
}

int remote_fgetattr(struct sfs_daemon *d, struct remote_fh *rf, struct stat *st)
{
	struct fs_req q;
	struct fs_rep rep;
	bool down;
	if (!rf->ctl)
		remote_commit(d, rf->cl, rf->stream, rf->file);
	remote_req_init(&q, FS_GETATTR, rf->cl, rf->stream, rf->file, &rf->who);
	uuid_copy(q.expect, rf->incarnation);
	int rc = remote_call_op(rf->cl, &q, &rep, &down);
	pthread_mutex_lock(&rf->h.mu);
	if (rc == 0) {
		rf->attr = rep.attr;
		rf->known = true;
		if (rep.attr.size > rf->seen_end)
			rf->seen_end = rep.attr.size;
	} else if (down && rf->known) {
		/* What was seen last: a reader polling the size (tail -f)
		 * waits for the link, and never sees the topic shrink. */
		rc = 0;
	}
	struct fs_attr a = rf->attr;
	pthread_mutex_unlock(&rf->h.mu);
	fs_rep_free(&rep);
	if (rc == 0)
		stat_of(&a, L_TOPIC, st);
	return rc;
}

int remote_readdir(struct sfs_daemon *d, struct cluster *cl, const struct loc *l, void *buf,
		   fuse_fill_dir_t filler)
{
	(void)d;
	struct fs_caller who;
	struct fs_req q;
	struct fs_rep rep;
	if (!loc_ok(l))
		return -ENOENT;
	caller_of(&who);
	remote_req_init(&q, FS_READDIR, cl, l->s, "", &who);
	int rc = remote_call_op(cl, &q, &rep, NULL);
	if (rc == 0) {
		filler(buf, ".", NULL, 0, 0);
		filler(buf, "..", NULL, 0, 0);
		/* Names as the serving daemon's decoder would take them back:
		 * anything else is not passed on. */
		for (size_t i = 0; i < rep.len;) {
			const char *name = (const char *)rep.data + i;
			size_t n = strnlen(name, rep.len - i);
			if (n == rep.len - i)
				break;	/* no NUL: cut off */
			if (n <= 255 && (name_valid(name) || ctlfile_by_name(name) >= 0))
				filler(buf, name, NULL, 0, 0);
			i += n + 1;
		}
	}
	fs_rep_free(&rep);
	return rc < 0 ? rc : 0;
}

int remote_mkdir(struct cluster *cl, const struct loc *l, mode_t mode)
{
	if (l->kind != L_STREAM) {
		log_warn("mkdir /%s/%s/%s: refused: only streams (/<cluster>/<stream>) are directories",
			 l->c, l->s, l->t);
		return -EPERM;
	}
	if (!name_valid(l->s)) {
		log_warn("mkdir /%s/%s: refused: invalid stream name (1-255 of A-Z a-z 0-9 . _ -, not starting with '.')",
			 l->c, l->s);
		return -EINVAL;
	}
	return call_simple(cl, FS_MKDIR, l, mode, 0, 0);
}

int remote_rmdir(struct cluster *cl, const struct loc *l)
{
	if (!loc_ok(l))
		return -ENOENT;
	if (l->kind == L_TOPIC || l->kind == L_CTL)
		return -ENOTDIR;
	if (l->kind != L_STREAM)
		return -EPERM;
	return call_simple(cl, FS_RMDIR, l, 0, 0, 0);
}

int remote_unlink(struct cluster *cl, const struct loc *l)
{
	if (l->kind == L_CTL) {
		log_warn("rm /%s/%s/%s: refused: control files cannot be removed", l->c, l->s, l->t);
		return -EPERM;
	}
	if (l->kind != L_TOPIC)
		return -EISDIR;
	/* libfuse removing the hidden name it gave a topic removed while
	 * open (remote_hide): that topic went at the rename. */
	if (is_hidden_name(l->t))
		return 0;
	if (!loc_ok(l))
		return -ENOENT;
	return call_simple(cl, FS_UNLINK, l, 0, 0, 0);
}

int remote_hide(struct cluster *cl, const struct loc *from)
{
	/* The rm of an open file, as libfuse makes it (a rename to a hidden
	 * name; see sfs_rename): the topic is removed there at once, as rm
	 * does; the open files here read on until they find it gone. */
	return remote_unlink(cl, from);
}

int remote_set_owner(struct cluster *cl, const struct loc *l, uid_t uid, gid_t gid,
		     mode_t mode)
{
	if (l->kind == L_CTL) {
		log_warn("chmod/chown /%s/%s/%s: refused: follows its stream", l->c, l->s, l->t);
		return -EPERM;
	}
	if (!loc_ok(l))
		return -ENOENT;
	if (mode != (mode_t)-1)
		return call_simple(cl, FS_CHMOD, l, mode, 0, 0);
	return call_simple(cl, FS_CHOWN, l, 0, (uint32_t)uid, (uint32_t)gid);
}

/* Open L (a topic or control file of CL) for FI: asked of the serving
 * daemon first (FS_OPEN, or FS_CREATE with MODE when CREATE). */
static int open_file(struct sfs_daemon *d, struct cluster *cl, const struct loc *l,
		     struct fuse_file_info *fi, bool create, mode_t mode)
{
	if (l->kind < L_TOPIC)
		return -EISDIR;
	if (l->kind == L_TOPIC && !name_valid(l->t)) {
		if (create) {
			log_warn("create /%s/%s/%s: refused: invalid topic name (1-255 of A-Z a-z 0-9 . _ -, not starting with '.')",
				 l->c, l->s, l->t);
			return -EINVAL;
		}
		return -ENOENT;
	}
	if (!name_valid(l->s))
		return -ENOENT;
	bool ctl = l->kind == L_CTL;
	int acc = fi->flags & O_ACCMODE;
	struct fs_caller who;
	struct fs_req q;
	struct fs_rep rep;
	caller_of(&who);
	if (!ctl)
		remote_commit(d, cl, l->s, l->t);
	remote_req_init(&q, create && !ctl ? FS_CREATE : FS_OPEN, cl, l->s, l->t, &who);
	q.mode = mode & 07777;
	q.flags = (acc != O_WRONLY ? FS_O_READ : 0) | (acc != O_RDONLY ? FS_O_WRITE : 0) |
		  ((fi->flags & O_TRUNC) ? FS_O_TRUNC : 0);
	if (q.op == FS_CREATE)
		q.flags = 0;
	int rc = remote_call_op(cl, &q, &rep, NULL);
	struct fs_attr attr = rep.attr;
	uuid_t incarnation;
	uuid_copy(incarnation, rep.topic);
	fs_rep_free(&rep);
	if (rc < 0)
		return rc;
	struct remote_fh *rf = remote_fh_new(cl, l->s, l->t, ctl, &who, &d->held);
	if (!rf)
		return -ENOMEM;
	rf->replacing = ctl && (fi->flags & O_TRUNC) && acc != O_RDONLY;
	uuid_copy(rf->incarnation, incarnation);
	rf->pending.key = pending_key(cl, l->s, l->t);
	if (attr.mode) {
		rf->attr = attr;
		rf->known = true;
		rf->seen_end = attr.size;
	}
	if (ctl && acc != O_WRONLY && (rc = remote_ctl_snapshot(rf, &d->reading)) < 0) {
		fh_free(&rf->h);
		return rc;
	}
	if (!ctl)
		open_list_add(d, rf);
	fi->direct_io = 1;
	fi->fh = (uintptr_t)&rf->h;
	return 0;
}

int remote_open(struct sfs_daemon *d, struct cluster *cl, const struct loc *l,
		struct fuse_file_info *fi)
{
	return open_file(d, cl, l, fi, false, 0);
}

int remote_create(struct sfs_daemon *d, struct cluster *cl, const struct loc *l, mode_t mode,
		  struct fuse_file_info *fi)
{
	if (l->kind != L_TOPIC && l->kind != L_CTL) {
		log_warn("create /%s/%s: refused: files live in streams (/<cluster>/<stream>/<topic>)",
			 l->c, l->s);
		return -EPERM;
	}
	return open_file(d, cl, l, fi, true, mode);
}

/*
 * Bytes of RF's topic at OFF from what an earlier read brought (h.mu
 * held): up to SIZE into BUF. The count, or -1 if OFF is not in it. A
 * topic's bytes never change once they are there (docs/filesystem.md),
 * and these were checked to be its incarnation's when they came, so
 * keeping them serves nothing stale.
 */
static int from_read_ahead(struct remote_fh *rf, char *buf, size_t size, uint64_t off)
{
	if (!rf->ra || off < rf->ra_off || off >= rf->ra_off + rf->ra_len)
		return -1;
	size_t at = (size_t)(off - rf->ra_off);
	size_t n = rf->ra_len - at < size ? rf->ra_len - at : size;
	memcpy(buf, rf->ra + at, n);
	return (int)n;
}

/* Keep the LEN bytes at DATA (malloc'd, taken over) that start at OFF as
 * RF's read-ahead (h.mu held), counted in the opener's share of READING;
 * past the share they are dropped. */
static void keep_read_ahead(struct remote_fh *rf, struct hold_budget *reading, uint8_t *data,
			    size_t len, uint64_t off)
{
	if (rf->ra) {
		hold_release(reading, rf->who.uid, rf->ra_cap);
		free(rf->ra);
		rf->ra = NULL;
		rf->ra_cap = rf->ra_len = 0;
	}
	if (hold_charge(reading, rf->who.uid, len) < 0) {
		free(data);
		return;
	}
	rf->ra = data;
	rf->ra_cap = rf->ra_len = len;
	rf->ra_off = off;
	rf->reading = reading;
}

int remote_read(struct sfs_daemon *d, struct remote_fh *rf, char *buf, size_t size, off_t off)
{
	if (rf->ctl) {
		/* What the open saw, as a local control file */
		if ((uint64_t)off >= rf->snaplen)
			return 0;
		size_t n = rf->snaplen - (size_t)off < size ? rf->snaplen - (size_t)off : size;
		memcpy(buf, rf->snap + off, n);
		return (int)n;
	}
	remote_commit(d, rf->cl, rf->stream, rf->file);
	/* One read at a time per open file: its read-ahead (h.mu). */
	pthread_mutex_lock(&rf->h.mu);
	int rc = from_read_ahead(rf, buf, size, (uint64_t)off);
	if (rc > 0) {
		pthread_mutex_unlock(&rf->h.mu);
		return rc;
	}
	struct fs_req q;
	struct fs_rep rep;
	bool down;
	remote_req_init(&q, FS_READ, rf->cl, rf->stream, rf->file, &rf->who);
	uuid_copy(q.expect, rf->incarnation);
	q.offset = (uint64_t)off;
	/* A request costs a round trip: ask for REMOTE_READ_AHEAD at least,
	 * and keep what the reader did not ask for yet. */
	q.size = size > FS_READ_MAX ? FS_READ_MAX : (uint32_t)size;
	if (q.size < REMOTE_READ_AHEAD)
		q.size = REMOTE_READ_AHEAD;
	rc = remote_call_op(rf->cl, &q, &rep, &down);
	if (rc > 0 && ((size_t)rc > q.size || (size_t)rc != rep.len))
		rc = -EIO;	/* never more than asked for, or than came */
	if (rc > 0) {
		size_t n = (size_t)rc < size ? (size_t)rc : size;
		memcpy(buf, rep.data, n);
		if ((size_t)rc > n) {
			keep_read_ahead(rf, &d->reading, rep.data, (size_t)rc, (uint64_t)off);
			rep.data = NULL;
			rep.len = 0;
		}
		rc = (int)n;
	}
	fs_rep_free(&rep);
	if (rc >= 0 && (uint64_t)off + (uint64_t)rc > rf->seen_end)
		rf->seen_end = (uint64_t)off + (uint64_t)rc;
	/* A reader at the end of what it has seen, while the serving daemon
	 * is away, finds nothing new yet (tail -f waits); below it, the
	 * error. */
	if (rc < 0 && down && (uint64_t)off >= rf->seen_end)
		rc = 0;
	pthread_mutex_unlock(&rf->h.mu);
	return rc;
}

/* lines_write's append for a remote topic: the messages of one write()
 * sent as one append, each with its '\n' again. */
static int append_remote(void *arg, const struct iovec *iov, size_t n)
{
	struct remote_fh *rf = arg;
	size_t total;
	char *buf = lines_join(iov, n, &total);
	if (!buf)
		return -ENOMEM;
	struct fs_req q;
	struct fs_rep rep;
	remote_req_init(&q, FS_APPEND, rf->cl, rf->stream, rf->file, &rf->who);
	q.data = (const uint8_t *)buf;
	q.len = total;
	int rc = remote_call_op(rf->cl, &q, &rep, NULL);
	fs_rep_free(&rep);
	free(buf);
	if (rc >= 0 && (size_t)rc != total)
		rc = -EIO;	/* the serving daemon appends all or nothing */
	return rc < 0 ? rc : 0;
}

int remote_write(struct sfs_daemon *d, struct remote_fh *rf, const char *buf, size_t size)
{
	int rc;
	pthread_mutex_lock(&rf->h.mu);
	if (rf->ctl)
		rc = remote_ctl_write(rf, buf, size);
	else
		rc = lines_write(&rf->h.lines, fh_path(&rf->h), buf, size, d->cfg->max_message,
				 append_remote, rf);
	pthread_mutex_unlock(&rf->h.mu);
	return rc;
}

int remote_flush(struct sfs_daemon *d, struct remote_fh *rf, bool final)
{
	int rc = 0;
	pthread_mutex_lock(&rf->h.mu);
	if (rf->ctl) {
		rc = remote_ctl_finish(rf, final);
	} else if (rf->h.lines.len && !final) {
		/* Not yet: see the pending list (fs/lines.h). */
		pthread_mutex_unlock(&rf->h.mu);
		pending_add(&d->pending, &rf->pending);
		return 0;
	} else {
		/* At the release, while still listed (see sfs_release). */
		rc = send_partial(rf);
	}
	pthread_mutex_unlock(&rf->h.mu);
	if (final && !rf->ctl) {
		pending_remove(&d->pending, &rf->pending);
		open_list_remove(d, rf);
	}
	return rc;
}
