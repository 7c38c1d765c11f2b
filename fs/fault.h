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
 * FAULT_STALL(NAME). STREAMFS_FAULT_LIE=NAME[:N] makes FAULT_LIE(NAME)
 * true the first N times (default 1) it is reached: a false answer, as a
 * server that had not caught up gives.
 * Points are listed in docs/testing.md.
 */
#ifndef STREAMFS_FAULT_H
#define STREAMFS_FAULT_H

#include <stdbool.h>

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
/* fault_lie - true if STREAMFS_FAULT_LIE names NAME and it was reached
 * fewer than N times before (one info line each time). Several lies:
 * NAME[:N],NAME2[:N2] (up to 8), each counted apart. Thread-safe. */
bool fault_lie(const char *name);
#define FAULT_LIE(name) fault_lie(name)
#else
#define FAULT_POINT(name) ((void)0)
#define FAULT_STALL(name) ((void)0)
#define FAULT_LIE(name) false
#endif

#endif
