/*
 * datadir.h - whether a data directory is safe to keep a cluster in: no
 * one but root and the daemon's own user can change it, or the directories
 * above it, or a symlink on the way to it (sshd's StrictModes, applied to
 * the message log; docs/security.md, "The data directory").
 */
#ifndef STREAMFS_DATADIR_H
#define STREAMFS_DATADIR_H

#include <stddef.h>
#include <sys/types.h>

/*
 * datadir_check - check directory DIR (absolute or relative to the working
 * directory; it must exist) for a daemon running as SELF. Refused when DIR
 * or a directory above it is owned by a user other than root and SELF, or
 * is writable by group or others without the sticky bit (as /tmp has);
 * or when a symlink on the way (DIR itself included) is owned by such a
 * user. Returns 0, or -EPERM with one line in ERR (ERRLEN bytes) naming
 * the path and why, or the negative errno of lstat/realpath.
 */
int datadir_check(const char *dir, uid_t self, char *err, size_t errlen);

#endif
