/*
 * clock.h - the daemon's clocks, in one place: wall time for what users
 * see (st_mtime, .info times), monotonic time for deadlines and intervals
 * (immune to the wall clock being set), and the absolute timespec that
 * pthread_cond_timedwait wants.
 */
#ifndef STREAMFS_CLOCK_H
#define STREAMFS_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall-clock time now, in ns since the epoch (CLOCK_REALTIME). */
uint64_t now_ns(void);

/* Monotonic time now, in ns since an arbitrary start (CLOCK_MONOTONIC). */
uint64_t mono_ns(void);

/*
 * clock_deadline - the absolute time MS milliseconds from now on clock CLK
 * (CLOCK_REALTIME, or CLOCK_MONOTONIC for a condition variable made with
 * pthread_condattr_setclock), normalised (tv_nsec < 10^9), for
 * pthread_cond_timedwait.
 */
struct timespec clock_deadline(clockid_t clk, uint64_t ms);

/* Is A earlier than B? */
static inline int timespec_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

#endif
