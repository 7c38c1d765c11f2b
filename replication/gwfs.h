/*
 * gwfs.h - the serving side of the global namespace (docs/global-namespace.md):
 * a file operation a peer daemon sends on behalf of one of its users
 * (GW_FS, fs/fsreq.h) is carried out on this daemon's own mount, by the
 * gateway connection's thread acting as that user (setfsuid, setfsgid and
 * the thread's own supplementary groups), so that the kernel's permission
 * checks (default_permissions) and every handler of the FUSE layer decide
 * it exactly as they would for a local user: same results, same errors.
 *
 * What the peer's cluster may ask at all is its access level in this
 * daemon's mount.conf (enum sfs_access): a request above it is refused
 * before anything is touched; root on a peer acts as nobody below admin.
 */
#ifndef STREAMFS_GWFS_H
#define STREAMFS_GWFS_H

#include <stddef.h>

#include "../fs/config.h"
#include "../fs/fsreq.h"

/* The uid and gid a squashed root acts as (nobody, nogroup). */
#define GWFS_NOBODY 65534u

struct gwfs;

struct sfs_namespace;

/*
 * gwfs_new - the file service of the mount at MOUNTPOINT (absolute;
 * borrowed, outlives it), whose namespace NS (borrowed) tells a topic's
 * incarnation. Nothing is opened until the first request. NULL when out
 * of memory.
 */
struct gwfs *gwfs_new(const char *mountpoint, struct sfs_namespace *ns);

/* gwfs_free - close what it opened and free it (NULL is fine). */
void gwfs_free(struct gwfs *fs);

/*
 * gwfs_allowed - may a peer with ACCESS ask Q? 0, or -EACCES with the
 * reason (naming the level the operation needs) in WHY (N bytes). Read:
 * getattr, readdir, read, statfs, open for reading; write: append,
 * create, unlink, open a topic for writing; admin: everything else.
 */
int gwfs_allowed(enum sfs_access access, const struct fs_req *q, char *why, size_t n);

/*
 * gwfs_serve - carry out request Q, from a peer with ACCESS (already
 * checked with gwfs_allowed), on the mount, in the calling thread, as
 * Q's caller (uid 0, gid 0 and group 0 squashed to GWFS_NOBODY below
 * admin). A read or stat that expects a topic's incarnation (Q->expect)
 * answers -ENOENT when another one has the name. Fills REP (for FS_OPEN
 * and FS_CREATE of a topic, REP->topic is its incarnation):
 * status (0, a byte count for FS_READ and FS_APPEND, or the negative
 * errno the operation met), attributes, statvfs, data (malloc'd, owned
 * by REP: fs_rep_free) and, on error, the message. The thread's
 * credentials are restored before it returns.
 * Returns 0 when REP holds the answer (whatever its status), or a
 * negative errno when none can be given: -EPERM (this daemon cannot act
 * as another user: not running as root), -ENOTCONN (the mount is not
 * there, or not this daemon's), -ENOMEM; REP's message says why.
 */
int gwfs_serve(struct gwfs *fs, enum sfs_access access, const struct fs_req *q,
	       struct fs_rep *rep);

#endif
