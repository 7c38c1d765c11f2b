/*
 * syncwait.h - synchronous replication (docs/replication.md, MapR's
 * "-synchronous true"): a write on the source returns only once every
 * synchronous replica has applied it, or after a timeout, after which that
 * replica is "degraded" and replicated asynchronously until it has caught
 * up. A producer is never blocked longer than the timeout.
 */
#ifndef STREAMFS_SYNCWAIT_H
#define STREAMFS_SYNCWAIT_H

#include <stdint.h>

#include "../fs/stream.h"

/* How often, while waiting, sync_wait asks whether the wait was
 * interrupted (milliseconds). */
#define SYNC_WAIT_POLL_MS 10

/*
 * sync_wait - wait until every synchronous, unpaused, undegraded replica
 * of S has applied topic T up to offset UPTO (messages), at most
 * TIMEOUT_MS milliseconds. Replicas still behind then are marked degraded
 * (one "warn" log line each). INTERRUPTED (may be NULL) is asked with ARG
 * every SYNC_WAIT_POLL_MS while waiting: true ends the wait at once (the
 * FUSE layer passes fuse_interrupted, so a signal to the writer ends it:
 * its messages are appended and replicate later; nobody is marked
 * degraded). A removed stream or topic ends the wait too (nothing is left
 * to wait for). Takes S->lock; call with no lock held.
 * Returns 0 (applied, or timed out), or -EINTR.
 */
int sync_wait(struct stream *s, struct topic *t, uint64_t upto, uint64_t timeout_ms,
	      bool (*interrupted)(void *arg), void *arg);

#endif
