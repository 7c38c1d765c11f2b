/*
 * fileio.h - whole-buffer positioned I/O: pwrite(2) and pread(2) loops that
 * retry EINTR and short transfers, so no caller writes that loop again.
 */
#ifndef STREAMFS_FILEIO_H
#define STREAMFS_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/*
 * pwrite_full - write all LEN bytes of BUF at byte offset POS of FD.
 * Returns 0, or a negative errno of pwrite(2); a write that stores nothing
 * (returns 0) is reported as -ENOSPC. Bytes before the failure may have
 * been written.
 */
int pwrite_full(int fd, const void *buf, size_t len, uint64_t pos);

/*
 * pread_full - read exactly LEN bytes at byte offset POS of FD into BUF.
 * Returns 0, -ENODATA if the file ends first, or a negative errno of
 * pread(2).
 */
int pread_full(int fd, void *buf, size_t len, uint64_t pos);

#endif
