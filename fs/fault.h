/*
 * fault.h - test-only fault points: named places where a test can make the
 * daemon die as if killed -9, to prove that no moment loses or duplicates
 * a message (issue 5, item 7). Compiled in only when SFS_FAULT_HOOKS is
 * defined (the sanitizer build that `make test` uses); in normal builds
 * FAULT_POINT is nothing at all.
 *
 * Use: STREAMFS_FAULT=NAME[:N] in the daemon's environment kills it with
 * SIGKILL the Nth time (default 1st) execution reaches FAULT_POINT(NAME).
 * STREAMFS_FAULT_STALL=NAME stops for good the thread that reaches
 * FAULT_STALL(NAME).
 * Points are listed in docs/testing.md.
 */
#ifndef STREAMFS_FAULT_H
#define STREAMFS_FAULT_H

#ifdef SFS_FAULT_HOOKS
/* fault_point - die by SIGKILL if STREAMFS_FAULT names NAME and its count
 * is reached. Thread-safe. */
void fault_point(const char *name);
#define FAULT_POINT(name) fault_point(name)
/* fault_stall - if STREAMFS_FAULT_STALL names NAME, the calling thread
 * never returns from here (as a library call that hangs for good: one
 * info line, then it sleeps until the process exits). Thread-safe. */
void fault_stall(const char *name);
#define FAULT_STALL(name) fault_stall(name)
#else
#define FAULT_POINT(name) ((void)0)
#define FAULT_STALL(name) ((void)0)
#endif

#endif
