/*
 * syncwait.h - synchronous replication (DESIGN §5.9, MapR's
 * "-synchronous true"): a write on the source returns only once every
 * synchronous replica has applied it, or after a timeout, after which that
 * replica is "degraded" and replicated asynchronously until it has caught
 * up. A producer is never blocked longer than the timeout.
 */
#ifndef STREAMFS_SYNCWAIT_H
#define STREAMFS_SYNCWAIT_H

#include <stdint.h>

#include "../fs/stream.h"

/*
 * sync_wait - wait until every synchronous, unpaused, undegraded replica
 * of S has applied topic T up to offset UPTO (messages), at most
 * TIMEOUT_MS milliseconds. Replicas still behind then are marked degraded
 * (one "warn" log line each). Takes S->lock; call with no lock held.
 * Returns 0 at once when S has no synchronous replica.
 */
void sync_wait(struct stream *s, struct topic *t, uint64_t upto,
	       uint64_t timeout_ms);

#endif
