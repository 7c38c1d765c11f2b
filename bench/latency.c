/*
 * latency.c - live replication latency for `make bench`: append one
 * message at a time to SOURCE (a topic on cluster A) and time how long it
 * takes to become readable in REPLICA (the same topic on cluster B). The
 * replica is polled with pread() at the offset where the message must
 * appear (a FUSE read each time, no page cache: topics are direct_io),
 * with POLL_US microseconds between polls (default 0: back to back).
 *
 *   latency [-n SAMPLES] [-m BYTES] [-p POLL_US] [-g GAP_US] SOURCE REPLICA
 *
 * Each sample: t0 just before write(), t1 when the message's '\n' has been
 * read back from REPLICA; a sample is t1 - t0 and so includes the write on
 * A. GAP_US (default 1000) pauses between samples, so that each message is
 * replicated alone rather than riding in the previous one's batch.
 *
 * Output: samples=N p50_us= p90_us= p99_us= max_us= mean_us= write_p50_us=
 * write_p99_us= (write_*: the write() on SOURCE alone, t0 to its return)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stats.h"


int main(int argc, char **argv)
{
	int n = 1000, opt;
	size_t mlen = 100;
	long poll_us = 0, gap_us = 1000;
	while ((opt = getopt(argc, argv, "n:m:p:g:")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'm': mlen = strtoull(optarg, NULL, 10); break;
		case 'p': poll_us = atol(optarg); break;
		case 'g': gap_us = atol(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind != 2 || n < 1 || mlen < 24)
		goto usage;
	const char *src = argv[optind], *rep = argv[optind + 1];
	int wfd = open(src, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (wfd < 0) {
		fprintf(stderr, "latency: %s: %s\n", src, strerror(errno));
		return 1;
	}
	/* The replica's topic appears with the first replicated message. */
	int rfd = -1;
	double give_up = now_us() + 10e6;
	while ((rfd = open(rep, O_RDONLY | O_CLOEXEC)) < 0 && now_us() < give_up)
		usleep(1000);
	if (rfd < 0) {
		fprintf(stderr, "latency: %s: %s\n", rep, strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(rfd, &st) < 0)
		return 1;
	off_t pos = st.st_size;
	double *lat = calloc(n, sizeof(*lat)), *wlat = calloc(n, sizeof(*wlat));
	char *msg = malloc(mlen + 1), *buf = malloc(mlen + 4096);
	if (!lat || !wlat || !msg || !buf)
		return 1;
	for (int i = 0; i < n; i++) {
		int h = snprintf(msg, mlen + 1, "latency %08d ", i);
		memset(msg + h, 'x', mlen - h);
		msg[mlen] = '\n';
		double t0 = now_us();
		if (write(wfd, msg, mlen + 1) != (ssize_t)(mlen + 1)) {
			fprintf(stderr, "latency: write %s: %s\n", src, strerror(errno));
			return 1;
		}
		double tw = now_us();
		size_t got = 0;
		/* Other writers do not exist: the next mlen+1 bytes are ours. */
		for (;;) {
			ssize_t r = pread(rfd, buf + got, mlen + 1 - got, pos + got);
			if (r < 0) {
				fprintf(stderr, "latency: read %s: %s\n", rep, strerror(errno));
				return 1;
			}
			got += r;
			if (got == mlen + 1)
				break;
			if (now_us() - t0 > 10e6) {
				fprintf(stderr, "latency: message %d not on the replica after 10 s\n", i);
				return 1;
			}
			if (poll_us)
				usleep(poll_us);
		}
		double t1 = now_us();
		if (memcmp(buf, msg, mlen + 1)) {
			fprintf(stderr, "latency: message %d: the replica shows other bytes\n", i);
			return 1;
		}
		pos += mlen + 1;
		lat[i] = t1 - t0;
		wlat[i] = tw - t0;
		if (gap_us)
			usleep(gap_us);
	}
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, n, sizeof(*lat), cmp_d);
	qsort(wlat, n, sizeof(*wlat), cmp_d);
	printf("samples=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f "
	       "write_p50_us=%.1f write_p99_us=%.1f\n",
	       n, pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99), lat[n - 1], sum / n,
	       pct(wlat, n, 50), pct(wlat, n, 99));
	return 0;
usage:
	fprintf(stderr, "usage: latency [-n SAMPLES] [-m BYTES] [-p POLL_US] [-g GAP_US] SOURCE REPLICA\n");
	return 2;
}
