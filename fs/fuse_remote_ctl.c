/*
 * fuse_remote_ctl.c - the control files of a cluster another daemon
 * serves, as this daemon's FUSE layer keeps them open
 * (fuse_remote_internal.h): the text read whole at the open, the lines of
 * each write(2) sent at once (FS_WRITECTL), and what a close finishes.
 * The rest of the remote handlers are fs/fuse_remote.c's.
 */
#include "fuse_remote_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A control file's lines held between flushes, at most (its lines are
 * 64 KiB at most, and a set is a few of them). */
#define REMOTE_CTL_MAX (1u << 20)

/*
 * The text of control file RF as the serving daemon renders it now, into
 * RF->snap, in one request (one rendering there: two would not fit each
 * other), counted in the opener's share of READING. 0 or a negative errno
 * (-EFBIG for a text of FS_CTL_READ_MAX bytes or more, -ENOBUFS past the
 * share).
 */
int remote_ctl_snapshot(struct remote_fh *rf, struct hold_budget *reading)
{
	struct fs_req q;
	struct fs_rep rep;
	remote_req_init(&q, FS_READ, rf->cl, rf->stream, rf->file, &rf->who);
	q.size = FS_CTL_READ_MAX;
	int rc = remote_call_op(rf->cl, &q, &rep, NULL);
	if (rc >= 0 && ((size_t)rc != rep.len || (size_t)rc >= q.size))
		rc = (size_t)rc == q.size ? -EFBIG : -EIO;
	if (rc >= 0 && reading && hold_charge(reading, rf->who.uid, rep.len) < 0)
		rc = -ENOBUFS;
	if (rc < 0) {
		fs_rep_free(&rep);
		return rc;
	}
	rf->snap = (char *)rep.data;	/* taken over from the answer */
	rf->snaplen = rep.len;
	rf->reading = reading;
	return 0;
}

/* lines_collect's text for a remote control file: kept until the flush. */
static int collect_ctl(void *arg, const char *text, size_t len)
{
	struct remote_fh *rf = arg;
	if (rf->textlen + len > REMOTE_CTL_MAX)
		return -EFBIG;
	if (rf->textlen + len > rf->textcap) {
		size_t cap = rf->textcap ? rf->textcap : 4096;
		while (cap < rf->textlen + len)
			cap *= 2;
		struct line_asm *la = &rf->h.lines;
		if (la->budget && hold_charge(la->budget, la->owner, cap - rf->textcap) < 0)
			return -ENOBUFS;
		char *p = realloc(rf->text, cap);
		if (!p) {
			if (la->budget)
				hold_release(la->budget, la->owner, cap - rf->textcap);
			return -ENOMEM;
		}
		rf->text = p;
		rf->textcap = cap;
	}
	memcpy(rf->text + rf->textlen, text, len);
	rf->textlen += len;
	return 0;
}

/*
 * Send a control file's lines (h.mu held), as a write(2) to it does there:
 * added at once (">> file"); or, for a replace ("> file", O_TRUNC), the
 * whole set written so far as the new set, again after each write, so
 * that the set there ends as the last write left it. FINAL (the release):
 * a replace nothing was written to empties the set, as "> file" does.
 */
static int send_ctl(struct remote_fh *rf, bool final)
{
	if (rf->replacing && rf->refused)
		return 0;	/* a refused write cancelled the replace */
	bool replace = rf->replacing;
	if (!rf->textlen && !(replace && final && !rf->replaced))
		return 0;
	struct fs_req q;
	struct fs_rep rep;
	remote_req_init(&q, FS_WRITECTL, rf->cl, rf->stream, rf->file, &rf->who);
	q.flags = replace ? FS_CTL_REPLACE : 0;
	q.data = (const uint8_t *)rf->text;
	q.len = rf->textlen;
	int rc = remote_call_op(rf->cl, &q, &rep, NULL);
	fs_rep_free(&rep);
	if (replace)
		rf->replaced = true;
	else
		rf->textlen = 0;	/* added: the next write's lines are new */
	if (rc < 0)
		rf->refused = true;
	return rc < 0 ? rc : 0;
}

int remote_ctl_write(struct remote_fh *rf, const char *buf, size_t size)
{
	size_t before = rf->textlen;
	int rc = lines_collect(&rf->h.lines, fh_path(&rf->h), buf, size, 64 * 1024, collect_ctl, rf);
	if (rc == -E2BIG)
		rc = -EINVAL;	/* a line over 64 KiB, as on its host */
	/* Complete lines go now, so that a refusal is this write's error,
	 * as it is there. */
	if (rc >= 0 && rf->textlen != before) {
		int src = send_ctl(rf, false);
		if (src < 0)
			rc = src;
	}
	/* A refused write leaves nothing held: no piece of its lines may be
	 * sent at the close (as for a local control file, fs/ctlwrite.c;
	 * but for a signal, whose write comes again with the same bytes). */
	if (rc < 0 && rc != -EINTR)
		lines_drop(&rf->h.lines);
	return rc;
}

/* A control file's close (h.mu held): its last line without '\n' is a
 * line; at the release, a replace nothing was written to is sent. */
int remote_ctl_finish(struct remote_fh *rf, bool final)
{
	struct line_asm *la = &rf->h.lines;
	if (la->len) {
		size_t before = rf->textlen;
		int rc = collect_ctl(rf, la->buf, la->len);
		lines_drop(la);
		if (rc < 0)
			return rc;
		if (rf->textlen != before && (rc = send_ctl(rf, false)) < 0)
			return rc;
	}
	return final ? send_ctl(rf, true) : 0;
}

