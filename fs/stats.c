/*
 * stats.c - the daemon's counters (stats.h). Owns the one struct sfs_stats.
 */
#include "stats.h"

#include <string.h>

#include "topic.h"
#include "util/clock.h"

struct sfs_stats sfs_stats;

void stats_start(void)
{
	sfs_stats.start_ns = now_ns();
	sfs_stats.start_mono_ns = mono_ns();
}

double stats_uptime_s(void)
{
	return (double)(mono_ns() - sfs_stats.start_mono_ns) / 1e9;
}

void stats_appended(const struct iovec *iov, size_t n)
{
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += iov[i].iov_len + 1;	/* as a topic's size counts it */
	stats_add(&sfs_stats.appended_msgs, n);
	stats_add(&sfs_stats.appended_bytes, bytes);
}

void stats_read(const char *buf, size_t len)
{
	uint64_t lines = 0;
	const char *p = buf, *end = buf + len;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p++;
	}
	stats_add(&sfs_stats.read_msgs, lines);
	stats_add(&sfs_stats.read_bytes, len);
}

void stats_sent(const struct topic_msg *msgs, size_t n)
{
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += (uint64_t)msgs[i].len + 1;
	stats_add(&sfs_stats.repl_sent_msgs, n);
	stats_add(&sfs_stats.repl_sent_bytes, bytes);
}
