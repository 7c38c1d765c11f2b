/*
 * lockcheck.h - assertions that the calling thread holds a lock, for the
 * functions documented "caller holds ..." (the lock table is in
 * docs/architecture.md). Compiled in the sanitizer build (SFS_LOCK_CHECKS,
 * set by the Makefile with the other test-only checks), nothing otherwise.
 *
 * glibc records the owner of a locked mutex (the owner's thread id, in
 * __data.__owner, for every mutex type) and the writer of a write-locked
 * rwlock (__data.__cur_writer), which is what these read: no wrapper
 * around pthread_mutex_lock is needed, and a pthread_cond_wait that gives
 * the mutex back and takes it again keeps the record right. A shared
 * (read) hold of an rwlock has no owner: LOCK_ASSERT_RWLOCK_HELD accepts
 * any reader (glibc's reader count, __readers >> 3) or this thread as the
 * writer. Debian's glibc only, as the rest of the daemon.
 */
#ifndef STREAMFS_LOCKCHECK_H
#define STREAMFS_LOCKCHECK_H

#ifdef SFS_LOCK_CHECKS
#include <assert.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* The calling thread's id, as glibc records lock owners (gettid(2)). */
static inline pid_t lockcheck_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* The calling thread holds mutex M. */
#define LOCK_ASSERT_HELD(m) assert((m)->__data.__owner == lockcheck_tid())
/* The calling thread holds rwlock L for writing. */
#define LOCK_ASSERT_WRLOCKED(l) assert((int)(l)->__data.__cur_writer == lockcheck_tid())
/* Rwlock L is held: for writing by the calling thread, or for reading. */
#define LOCK_ASSERT_RWLOCK_HELD(l)                                   \
	assert((int)(l)->__data.__cur_writer == lockcheck_tid() || \
	       ((l)->__data.__readers >> 3) != 0)
#else
#define LOCK_ASSERT_HELD(m) ((void)0)
#define LOCK_ASSERT_WRLOCKED(l) ((void)0)
#define LOCK_ASSERT_RWLOCK_HELD(l) ((void)0)
#endif

#endif
