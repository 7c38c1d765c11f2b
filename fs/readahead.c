/*
 * readahead.c - owns the kernel read-ahead of this mount (readahead.h).
 *
 * Why it matters: a cold `cat` of a topic is fed by the kernel's read-ahead
 * requests. A FUSE mount starts at 128 KiB, so the daemon decodes one small
 * piece while cat waits, then cat copies it while the daemon waits. With
 * 1 MiB the next pieces are being decoded while cat copies: figure 3 of
 * `make bench` went from about 0.5x to about 0.75x of the passthrough's cold
 * read with it (docs/performance.md).
 */
#include "readahead.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mountinfo.h"

/* The "MAJ:MIN" of the last (topmost) mount at MOUNTPOINT into DEV[32]. */
static int mount_dev(const char *mountpoint, char dev[32])
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ..." (proc(5)) */
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *field[5];
		int n = 0;
		for (char *tok = strtok_r(line, " ", &save); tok && n < 5;
		     tok = strtok_r(NULL, " ", &save))
			field[n++] = tok;
		if (n < 5)
			continue;
		mountinfo_unescape(field[4]);
		if (strcmp(field[4], mountpoint) == 0 && strlen(field[2]) < 32) {
			strcpy(dev, field[2]);
			rc = 0;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

/* The decimal number in the first bytes of FD (from offset 0), or 0. */
static unsigned long read_kib(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoul(buf, NULL, 10);
}

int mount_set_readahead(const char *mountpoint, uint64_t bytes, unsigned long *old_kib,
			unsigned long *new_kib, char *why, size_t whylen)
{
	char dev[32], path[96], cur[32];
	int rc = mount_dev(mountpoint, dev);
	if (rc < 0) {
		snprintf(why, whylen, "%s not found in /proc/self/mountinfo: %s",
			 mountpoint, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	if (old_kib)
		*old_kib = read_kib(fd);
	int len = snprintf(cur, sizeof(cur), "%" PRIu64 "\n", bytes / 1024);
	if (pwrite(fd, cur, (size_t)len, 0) != len) {
		rc = -errno;
		snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
	}
	if (new_kib)
		*new_kib = read_kib(fd);
	close(fd);
	return rc;
}
