/*
 * callersig.c - whether the caller of a FUSE request was signalled in a
 * way that ends a wait (callersig.h): the kernel's interruption, less
 * the signals whose default action is to be ignored and the stops the
 * caller does not handle.
 *
 * Why /proc: FUSE tells the daemon that the caller was interrupted, not
 * by which signal. The caller sits in the kernel, in the request's
 * killable wait, until the daemon answers, so its signal is still pending
 * (SigPnd for the thread, ShdPnd for the process) while the daemon looks.
 */
#include "callersig.h"

#include "fuse_ops.h"	/* FUSE_USE_VERSION, <fuse.h> */

#include <signal.h>
#include <stdio.h>

/* Bit of signal N in a /proc/<pid>/status set. */
#define SIGBIT(n) (1ULL << ((n) - 1))

bool callersig_matters(uint64_t pending, uint64_t blocked, uint64_t caught)
{
	/* Ignored by default; SIGSTOP, and a job-control stop the caller
	 * does not handle itself (Ctrl-Z, a background read or write of the
	 * terminal): the kernel stops the caller on its way out of the
	 * request, and its SIGCONT goes on with it, so neither is the
	 * caller's to see. */
	const uint64_t stops = SIGBIT(SIGTSTP) | SIGBIT(SIGTTIN) | SIGBIT(SIGTTOU);
	const uint64_t benign = SIGBIT(SIGCHLD) | SIGBIT(SIGCONT) | SIGBIT(SIGURG) |
				SIGBIT(SIGWINCH) | SIGBIT(SIGSTOP) | (stops & ~caught);
	return (pending & ~blocked & ~benign) != 0;
}

/* Does thread TID have a pending signal that matters? True when its
 * status cannot be read (gone, another pid namespace): the interruption
 * then counts, as it always did. */
static bool pending_matters(pid_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	FILE *f = fopen(path, "re");
	if (!f)
		return true;
	unsigned long long pnd = 0, shd = 0, blk = 0, cgt = 0, v;
	int got = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SigPnd: %llx", &v) == 1)
			pnd = v, got |= 1;
		else if (sscanf(line, "ShdPnd: %llx", &v) == 1)
			shd = v, got |= 2;
		else if (sscanf(line, "SigBlk: %llx", &v) == 1)
			blk = v, got |= 4;
		else if (sscanf(line, "SigCgt: %llx", &v) == 1)
			cgt = v, got |= 8;
	}
	fclose(f);
	if (got != 15)
		return true;
	return callersig_matters(pnd | shd, blk, cgt);
}

bool fuse_caller_signalled(void)
{
	if (!fuse_interrupted())
		return false;
	struct fuse_context *ctx = fuse_get_context();
	if (!ctx || ctx->pid <= 0)
		return true;
	return pending_matters(ctx->pid);
}
