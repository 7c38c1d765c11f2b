/*
 * fuse_ops.h - the FUSE layer: one operations table (libfuse's high-level,
 * path-based API, run by the multi-threaded loop) mapping file operations
 * on /<cluster>/<stream>/<topic> to the namespace, topics and control files.
 */
#ifndef STREAMFS_FUSE_OPS_H
#define STREAMFS_FUSE_OPS_H

/* 3.12: fuse_loop_mt takes a struct fuse_loop_config (idle threads kept). */
#define FUSE_USE_VERSION 312
#include <stdatomic.h>
#include <fuse.h>

#include "holdbudget.h"
#include "lines.h"
#include "namespace.h"

/* What every handler reaches through fuse_get_context()->private_data. */
struct remote_fh;

struct sfs_daemon {
	struct sfs_namespace ns;
	const struct sfs_config *cfg;
	const char *mountpoint;		/* absolute */
	unsigned max_read;		/* -o max_read=N, bytes; 0: none given */
	/* Unfinished lines held for users between writes (per user and in
	 * all); set up with sfs_hold_limits. */
	struct hold_budget held;
	/* What open files hold for their readers (a control file's text, a
	 * topic reader's read-ahead), per user and in all; set up with the
	 * same bounds as HELD by sfs_daemon_init. */
	struct hold_budget reading;
	/* Open topic files whose unfinished last line waits (fs/lines.h). */
	struct pending_list pending;
	/* Open topics of remote clusters (fs/fuse_remote.c): what they saw
	 * last answers a stat of their path while the serving daemon cannot
	 * be reached. REMOTE_MU guards the list (struct remote_fh.next_open);
	 * taken with no open file's lock held, before a listed file's
	 * fh.mu (docs/architecture.md, "Locks"). */
	pthread_mutex_t remote_mu;
	struct remote_fh *remote_open;
};

/*
 * sfs_daemon_init - set up D's own state (not D->ns) for a daemon whose
 * messages are at most MAX_MESSAGE bytes: an empty pending list, and the
 * budget of unfinished lines: each user may have 16 MiB (or 4 messages, if
 * more) in all its open files, the daemon 256 MiB (or 16 messages) in all
 * (docs/security.md, "Bounds"); the same bounds, apart, for what open
 * files hold for readers. sfs_daemon_destroy - free it, after the
 * FUSE loop has ended.
 */
void sfs_daemon_init(struct sfs_daemon *d, uint64_t max_message);
void sfs_daemon_destroy(struct sfs_daemon *d);

/* sfs_fuse_ops - the operations table; private data is a struct sfs_daemon. */
extern const struct fuse_operations sfs_fuse_ops;

#endif
