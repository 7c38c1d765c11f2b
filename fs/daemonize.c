/*
 * daemonize.c - going to the background before any thread exists.
 *
 * libfuse's fuse_daemonize forks where it is called: after the mount.
 * By then the clusters are open, and a home that runs threads of its own
 * from the start (NATS: libnats' reader, flusher and timers, the bucket's
 * watcher, docs/nats.md) would lose them in the child, which keeps only
 * the forking thread: every request to NATS would wait out its timeout.
 * So the daemon forks first, before the clusters open; the parent waits
 * until the child tells it the mount is up (one byte on a pipe) and exits
 * 0, or until the child dies or gives up, and exits with its status. The
 * child keeps the caller's stderr until then, so every start-up error is
 * printed where the command was typed, as in the foreground; once
 * mounted, its stdio goes to /dev/null, as libfuse's would.
 */
#define _GNU_SOURCE /* pipe2 */
#include "daemonize.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* The write end of the pipe to the waiting parent, in the child; -1. */
static int ready_fd = -1;

int sfs_daemon_fork(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid > 0) {
		/* The parent: the child's verdict is its own. */
		close(p[1]);
		char c;
		ssize_t r;
		do
			r = read(p[0], &c, 1);
		while (r < 0 && errno == EINTR);
		if (r == 1)
			_exit(0); /* mounted: the child runs on */
		int status = 0;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
	}
	close(p[0]);
	ready_fd = p[1];
	/* Out of the terminal's session: its Ctrl-C and hang-up are not
	 * the daemon's any more. */
	setsid();
	return 0;
}

void sfs_daemon_ready(void)
{
	if (ready_fd < 0)
		return;
	if (chdir("/") < 0) {
		/* "/" is always there; nothing to do if not */
	}
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	char c = 0;
	ssize_t r;
	do
		r = write(ready_fd, &c, 1);
	while (r < 0 && errno == EINTR);
	close(ready_fd);
	ready_fd = -1;
}
