/*
 * daemonize.h - going to the background before any thread exists
 * (fs/daemonize.c; docs/operating.md, "Running in the background").
 */
#ifndef STREAMFS_DAEMONIZE_H
#define STREAMFS_DAEMONIZE_H

/*
 * sfs_daemon_fork - fork into the background, before any thread starts
 * (a fork keeps only the calling thread). The parent does not return: it
 * waits for the child's sfs_daemon_ready and exits 0, or for the child's
 * end and exits with its status (1 when it had none). The child returns
 * 0, out of the caller's session (setsid), its stdio still the caller's.
 * A negative errno when the pipe or the fork cannot be made (nothing
 * changed). Replaces libfuse's fuse_daemonize, which forks after the
 * mount (libfuse 3, fuse_daemonize(3)).
 */
int sfs_daemon_fork(void);

/*
 * sfs_daemon_ready - in the child, once mounted: chdir("/"), stdio to
 * /dev/null, and the waiting parent told to exit 0. Does nothing in a
 * daemon that did not fork (the foreground).
 */
void sfs_daemon_ready(void);

#endif
