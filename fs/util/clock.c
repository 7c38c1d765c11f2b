/*
 * clock.c - owns the daemon's reading of the clocks (clock.h).
 */
#include "clock.h"

static uint64_t read_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t now_ns(void)
{
	return read_ns(CLOCK_REALTIME);
}

uint64_t mono_ns(void)
{
	return read_ns(CLOCK_MONOTONIC);
}

struct timespec clock_deadline(clockid_t clk, uint64_t ms)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + (ms % 1000) * 1000000ull;
	ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	return ts;
}
