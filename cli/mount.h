/*
 * mount.h - which streamfs mount a maprcli path refers to, and the stream
 * it names.
 *
 * Paths are written the MapR way, /mapr/<cluster>/<stream>, or under the
 * real mountpoint (MOUNTPOINT/<cluster>/<stream>). The mountpoint is:
 *   1. -mount DIR, else the environment variable STREAMFS_MOUNT (it must be
 *      a streamfs mount: type fuse.streamfs in /proc/mounts);
 *   2. else, for a path under a streamfs mountpoint, that mount;
 *   3. else, for a /mapr/... path: /mapr if it is a streamfs mount, else the
 *      only streamfs mount if there is exactly one;
 *   4. else an error that says why (none, or several to choose from).
 * MAPRCLI_MOUNTS_FILE, if set, is read instead of /proc/mounts (tests).
 */
#ifndef MAPRCLI_MOUNT_H
#define MAPRCLI_MOUNT_H

#include <limits.h>
#include <stddef.h>

struct mount_ctx {
	const char *given;	/* -mount DIR or $STREAMFS_MOUNT, or NULL */
	const char *given_by;	/* "-mount" or "STREAMFS_MOUNT" */
	char **mounts;		/* fuse.streamfs mountpoints, once loaded */
	int nmounts;
	int loaded;		/* 0 not yet, 1 loaded, -errno failed */
};

/* A stream named by a path. */
struct stream_ref {
	char mount[PATH_MAX];	/* the real mountpoint */
	char cluster[256];
	char stream[256];
	char dir[PATH_MAX];	/* MOUNT/CLUSTER/STREAM: where it is here */
	char global[600];	/* /mapr/CLUSTER/STREAM: how control files name it */
};

/*
 * mount_init - a context for one command. GIVEN is the -mount option or
 * NULL (then $STREAMFS_MOUNT applies, if set and not empty).
 */
void mount_init(struct mount_ctx *m, const char *given);

/* mount_free - release what M holds. */
void mount_free(struct mount_ctx *m);

/*
 * mount_stream - resolve PATH, given as option OPT (e.g. "-path"), to the
 * stream it names. It need not exist. Returns 0, or a negative errno with
 * a one-line message in ERR: -EINVAL (not a /mapr/<cluster>/<stream> path,
 * an invalid name, a path outside the streamfs mount), -ENODEV (no streamfs
 * mount, or several and none chosen; a -mount DIR that is not one).
 */
int mount_stream(struct mount_ctx *m, const char *opt, const char *path,
		 struct stream_ref *out, char *err, size_t errlen);

/*
 * mount_check_stream - does the stream of S exist? Returns 0, or -ENOENT
 * with a message in ERR saying whether the cluster or the stream is
 * missing, or another negative errno (stat failed).
 */
int mount_check_stream(const struct stream_ref *s, char *err, size_t errlen);

#endif
