/*
 * stats.h - the timing and percentile helpers shared by the benchmark's C
 * tools (bench/latency.c, bench/natspeer.c), so both report latencies the
 * same way bench/run.py does. Header-only: each tool is one .c file.
 */
#ifndef STREAMFS_BENCH_STATS_H
#define STREAMFS_BENCH_STATS_H

#include <time.h>

/* Monotonic time in microseconds. */
static inline double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* qsort comparison of two doubles, ascending. */
static inline int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The P-th percentile (0-100) of the N sorted values V, nearest rank (as
 * bench/run.py computes it). */
static inline double pct(const double *v, int n, double p)
{
	int i = (int)(p / 100.0 * n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

#endif
