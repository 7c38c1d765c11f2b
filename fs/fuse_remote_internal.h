/*
 * fuse_remote_internal.h - what the two files of the FUSE layer's remote
 * handlers share: fs/fuse_remote.c (paths, topics) and
 * fs/fuse_remote_ctl.c (control files). Not for use outside them.
 */
#ifndef STREAMFS_FUSE_REMOTE_INTERNAL_H
#define STREAMFS_FUSE_REMOTE_INTERNAL_H

#include <stdbool.h>

#include "fuse_remote.h"

/* remote_req_init - Q for operation OP on CL/STREAM/FILE (NULL: none) as
 * WHO, owner and group "unchanged". */
void remote_req_init(struct fs_req *q, enum fs_op op, const struct cluster *cl,
		     const char *stream, const char *file, const struct fs_caller *who);

/*
 * remote_call_op - send Q to CL's serving daemon and wait (a signal to the
 * caller, or this daemon stopping, ends the wait): its status (a count, 0
 * or a negative errno), or the connection's error (*DOWN, may be NULL,
 * set then). REP is filled (fs_rep_free it). A refusal with a reason is
 * logged here too, as a local one would be.
 */
int remote_call_op(struct cluster *cl, const struct fs_req *q, struct fs_rep *rep, bool *down);

/*
 * Control files (fs/fuse_remote_ctl.c), RF's h.mu held for the last two:
 * remote_ctl_snapshot - its text as the serving daemon renders it now,
 * whole, into RF->snap, counted in the opener's share of READING (0,
 * -EFBIG from FS_CTL_READ_MAX bytes on, -ENOBUFS, or the request's error);
 * remote_ctl_write - one write(2): its complete lines sent at once (SIZE,
 * or the serving daemon's refusal of them); remote_ctl_finish - a close
 * (FINAL: the release): a last line without '\n' is a line, and a replace
 * nothing was written to empties the set at the release.
 */
int remote_ctl_snapshot(struct remote_fh *rf, struct hold_budget *reading);
int remote_ctl_write(struct remote_fh *rf, const char *buf, size_t size);
int remote_ctl_finish(struct remote_fh *rf, bool final);

#endif
