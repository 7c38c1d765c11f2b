/*
 * readahead.h - the kernel read-ahead of this mount: how many bytes of a
 * topic the kernel asks for ahead of a reader that goes through the page
 * cache (topics opened read-only, fs/fuse_ops.c).
 */
#ifndef STREAMFS_READAHEAD_H
#define STREAMFS_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

/*
 * mount_set_readahead - set the read-ahead of the FUSE mount at MOUNTPOINT
 * (absolute, as mounted) to BYTES, rounded down to whole KiB, by writing
 * /sys/class/bdi/MAJ:MIN/read_ahead_kb of the device /proc/self/mountinfo
 * gives for it. *OLD_KIB and *NEW_KIB (if not NULL) get the value it
 * replaced and the one the kernel holds after the write, read back.
 *
 * Call it only after the kernel's FUSE INIT has been answered: INIT sets
 * the read-ahead to the smaller of the current one and the daemon's answer,
 * which libfuse caps at the kernel's proposal (128 KiB), so a value set
 * earlier is undone. Does not touch the mount itself (no FUSE request), so
 * it is safe inside a FUSE handler.
 *
 * Returns 0, -ENOENT when the mount is not in mountinfo, or the negative
 * errno of the sysfs write (-EACCES for a daemon not run as root). WHY gets
 * a one-line reason on error (WHYLEN bytes, may be truncated).
 * Source: Linux Documentation/ABI/stable/sysfs-class-bdi (read_ahead_kb);
 * gcsfuse and other FUSE filesystems document the same tuning.
 */
int mount_set_readahead(const char *mountpoint, uint64_t bytes, unsigned long *old_kib,
			unsigned long *new_kib, char *why, size_t whylen);

#endif
