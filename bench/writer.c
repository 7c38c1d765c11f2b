/*
 * writer.c - the appender of `make bench`: writes 100-byte messages (plus
 * their '\n') to FILE, opened O_WRONLY|O_APPEND|O_CREAT, and prints how
 * long it took. The same program writes to a streamfs topic, to a file
 * through the passthrough and to a plain file, so the three differ only in
 * what is under the path.
 *
 *   writer [-m BYTES] [-n MESSAGES | -t SECONDS] [-b BLOCK] [-j THREADS] [-S] FILE
 *
 *   -m BYTES    message payload (default 100); each line is BYTES + '\n'
 *   -n N        messages in all (split between the threads)
 *   -t SECONDS  instead of -n: write until SECONDS have passed
 *   -b BLOCK    write() BLOCK bytes at a time from a continuous stream of
 *               lines (a write may end inside a line); default: one line
 *               per write()
 *   -j THREADS  concurrent writers, each with its own descriptor (default 1)
 *   -S          fdatasync() after every write() (reference for fsync=always)
 *
 * Output, one line: messages=M bytes=B seconds=S msgs_per_s=R mb_per_s=R
 * (seconds from the first write to the last close, MB = 10^6 bytes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t msg_len = 100, block;
static uint64_t total_msgs;
static double duration;
static int nthreads = 1, sync_each;
static const char *path;
static pthread_barrier_t start_barrier;

struct worker {
	pthread_t th;
	int id;
	uint64_t msgs, bytes;
	int err;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Line I of writer W: "wW-IIIIIIIIII xxxx...\n", msg_len bytes before '\n'. */
static void make_line(char *p, int w, uint64_t i)
{
	char head[48];
	int n = snprintf(head, sizeof(head), "w%d-%010llu ", w, (unsigned long long)i);
	for (size_t k = 0; k < msg_len; k++)
		p[k] = k < (size_t)n ? head[k] : (char)('a' + (i + k) % 26);
	p[msg_len] = '\n';
}

static int write_all(int fd, const char *buf, size_t len)
{
	/* streamfs never returns a short count; a plain file might. */
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return sync_each && fdatasync(fd) < 0 ? -errno : 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	size_t line = msg_len + 1;
	uint64_t quota = total_msgs / nthreads + ((uint64_t)w->id < total_msgs % nthreads);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		w->err = errno;
		pthread_barrier_wait(&start_barrier);
		return NULL;
	}
	/* Block mode: a ring of 65536 lines is exactly LINE blocks of 64 KiB
	 * when BLOCK is 64 KiB; any BLOCK works, wrapping around. */
	size_t nlines = block ? 65536 : 1024;
	char *ring = malloc(nlines * line + (block ? block : 0));
	if (!ring) {
		w->err = ENOMEM;
		close(fd);
		pthread_barrier_wait(&start_barrier);
		return NULL;
	}
	for (size_t i = 0; i < nlines; i++)
		make_line(ring + i * line, w->id, i);
	size_t ringlen = nlines * line;
	if (block)
		memcpy(ring + ringlen, ring, block); /* so a block never wraps */
	pthread_barrier_wait(&start_barrier);
	double end = duration > 0 ? now() + duration : 0;
	int rc = 0;
	if (!block) {
		for (uint64_t i = 0; duration > 0 || i < quota; i++) {
			if (duration > 0 && (i & 63) == 0 && now() >= end)
				break;
			if ((rc = write_all(fd, ring + (i % nlines) * line, line)) < 0)
				break;
			w->msgs++;
			w->bytes += line;
		}
	} else {
		uint64_t want = quota * line, done = 0;
		size_t pos = 0;
		while (duration > 0 ? now() < end : done < want) {
			size_t n = block;
			if (duration <= 0 && want - done < n)
				n = want - done;
			if ((rc = write_all(fd, ring + pos, n)) < 0)
				break;
			done += n;
			pos = (pos + n) % ringlen;
		}
		w->bytes = done;
		w->msgs = done / line;
	}
	if (rc < 0)
		w->err = -rc;
	if (close(fd) < 0 && !w->err)
		w->err = errno;
	free(ring);
	return NULL;
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "m:n:t:b:j:S")) != -1) {
		switch (opt) {
		case 'm': msg_len = strtoull(optarg, NULL, 10); break;
		case 'n': total_msgs = strtoull(optarg, NULL, 10); break;
		case 't': duration = strtod(optarg, NULL); break;
		case 'b': block = strtoull(optarg, NULL, 10); break;
		case 'j': nthreads = atoi(optarg); break;
		case 'S': sync_each = 1; break;
		default: goto usage;
		}
	}
	if (argc - optind != 1 || nthreads < 1 || msg_len < 1 ||
	    (!total_msgs && duration <= 0))
		goto usage;
	path = argv[optind];
	struct worker *ws = calloc(nthreads, sizeof(*ws));
	if (!ws)
		return 1;
	pthread_barrier_init(&start_barrier, NULL, nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		ws[i].id = i;
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i])) {
			fprintf(stderr, "writer: cannot start a thread\n");
			return 1;
		}
	}
	pthread_barrier_wait(&start_barrier);
	double t0 = now();
	uint64_t msgs = 0, bytes = 0;
	int err = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(ws[i].th, NULL);
		msgs += ws[i].msgs;
		bytes += ws[i].bytes;
		if (ws[i].err)
			err = ws[i].err;
	}
	double secs = now() - t0;
	if (err) {
		fprintf(stderr, "writer: %s: %s\n", path, strerror(err));
		return 1;
	}
	printf("messages=%llu bytes=%llu seconds=%.6f msgs_per_s=%.1f mb_per_s=%.2f\n",
	       (unsigned long long)msgs, (unsigned long long)bytes, secs, msgs / secs,
	       bytes / secs / 1e6);
	return 0;
usage:
	fprintf(stderr, "usage: writer [-m BYTES] [-n MESSAGES | -t SECONDS] [-b BLOCK] [-j THREADS] [-S] FILE\n");
	return 2;
}
