/*
 * stats.h - the daemon's counters since it started: messages and bytes
 * appended and read through the mount, replication sent and applied, and
 * warn/error log lines. Shown in /.info and by the metrics endpoint
 * (docs/operating.md, "Monitoring").
 *
 * One set per process (like the log): any thread adds with stats_add,
 * lock-free (relaxed atomics: each counter is exact, a reader may see
 * one counter a moment ahead of another).
 */
#ifndef STREAMFS_STATS_H
#define STREAMFS_STATS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

struct sfs_stats {
	atomic_uint_fast64_t appended_msgs, appended_bytes;	/* by writers of the mount */
	atomic_uint_fast64_t read_msgs, read_bytes;	/* topic bytes read; messages = '\n's */
	atomic_uint_fast64_t repl_sent_msgs, repl_sent_bytes;	/* to replicas, local or remote */
	atomic_uint_fast64_t repl_applied_msgs;	/* stored here from sources (new ones) */
	atomic_uint_fast64_t warnings, errors;	/* log lines at warn / error level */
	uint64_t start_ns;	/* wall time of stats_start, ns since the epoch */
	uint64_t start_mono_ns;	/* CLOCK_MONOTONIC then, for the uptime */
};

extern struct sfs_stats sfs_stats;

/* stats_add - add N to counter C (a field of sfs_stats). Any thread. */
static inline void stats_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* stats_get - the value of counter C. Any thread. */
static inline uint64_t stats_get(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* stats_start - note the daemon's start time (for the uptime). Once, at start. */
void stats_start(void);

/* stats_uptime_s - seconds since stats_start (monotonic clock). */
double stats_uptime_s(void);

/* stats_appended - count N messages of IOV (no '\n' in them) appended:
 * their bytes and a '\n' each, as a topic's size counts them. */
void stats_appended(const struct iovec *iov, size_t n);

/* stats_read - count BUF's LEN bytes read from a topic, and its '\n's
 * as messages. */
void stats_read(const char *buf, size_t len);

struct topic_msg;

/* stats_sent - count the N messages of MSGS sent to a replica (their
 * bytes and a '\n' each). */
void stats_sent(const struct topic_msg *msgs, size_t n);

#endif
