/*
 * fileio.c - owns the pwrite/pread retry loops (fileio.h).
 */
#include "fileio.h"

#include <errno.h>
#include <unistd.h>

int pwrite_full(int fd, const void *buf, size_t len, uint64_t pos)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)pos);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -ENOSPC;
		p += w;
		len -= (size_t)w;
		pos += (uint64_t)w;
	}
	return 0;
}

int pread_full(int fd, void *buf, size_t len, uint64_t pos)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)pos);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ENODATA;
		p += r;
		len -= (size_t)r;
		pos += (uint64_t)r;
	}
	return 0;
}
