/*
 * gwclient.h - the sending side of the gateway: one client per remote
 * cluster, used by that cluster's replication lane (replicator.c). It keeps
 * one TLS connection to the remote daemon's gateway, reconnects with
 * exponential backoff after a failure (GWCLIENT_BACKOFF_MIN_MS doubling to
 * GWCLIENT_BACKOFF_MAX_MS), and turns each call into one request frame and
 * its GW_RESULT (frame.h). Requests are idempotent (appends are dropped
 * below the replica's high-water marks), so a request whose answer was lost
 * is simply sent again.
 *
 * Threads: every call but gwclient_interrupt comes from the one lane thread.
 */
#ifndef STREAMFS_GWCLIENT_H
#define STREAMFS_GWCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uuid/uuid.h>

#include "frame.h"
#include "tls.h"

#define GWCLIENT_BACKOFF_MIN_MS 100
#define GWCLIENT_BACKOFF_MAX_MS 3200

struct gwclient;

/*
 * gwclient_new - a client for remote cluster CLUSTER at HOSTPORT. CTX is
 * borrowed (outlives the client). TIMEOUT_MS bounds connect and each read
 * or write. Nothing connects until the first request. Returns NULL on
 * out-of-memory.
 */
struct gwclient *gwclient_new(SSL_CTX *ctx, const char *cluster,
			      const char *hostport, int timeout_ms);

/* gwclient_free - close the connection and free GC (NULL is fine). */
void gwclient_free(struct gwclient *gc);

/*
 * gwclient_interrupt - from another thread: make a request in progress
 * fail at once (for shutdown). Later requests fail with -ESHUTDOWN.
 */
void gwclient_interrupt(struct gwclient *gc);

/*
 * gwclient_open - ask the gateway whether replica stream DST_STREAM of the
 * remote cluster accepts SRC_CLUSTER/SRC_STREAM; its UUID in UUID.
 * Returns 0, the gateway's negative errno (-ENOENT, -EACCES, ...) or a
 * connection error (-ETIMEDOUT, -ECONNREFUSED, -ECONNRESET, -EPROTO, or
 * -EAGAIN while waiting out the backoff), always with a line in ERR.
 */
int gwclient_open(struct gwclient *gc, const char *src_cluster,
		  const char *src_stream, const char *dst_stream, uuid_t uuid,
		  char *err, size_t errlen);

/*
 * gwclient_topic - make sure topic TOPIC exists on the replica whose UUID
 * is EXPECT (-ESTALE if the replica was re-created since gwclient_open).
 * Errors as gwclient_open.
 */
int gwclient_topic(struct gwclient *gc, const char *src_cluster,
		   const char *src_stream, const char *dst_stream,
		   const uuid_t expect, const char *topic, uint32_t uid,
		   uint32_t gid, uint32_t mode, char *err, size_t errlen);

/*
 * gwclient_append - send N messages of topic TOPIC, compressed with COMP,
 * and wait until the replica has applied them (*APPLIED, may be NULL: how
 * many were new there). Errors as gwclient_topic.
 */
int gwclient_append(struct gwclient *gc, enum gw_compression comp,
		    const char *src_cluster, const char *src_stream,
		    const char *dst_stream, const uuid_t expect,
		    const char *topic, uint32_t uid, uint32_t gid,
		    uint32_t mode, const struct topic_msg *msgs, size_t n,
		    size_t *applied, char *err, size_t errlen);

/*
 * gwclient_fs - send file operation Q of the global namespace (GW_FS) and
 * wait for its answer into *REP (its data malloc'd, owned by REP:
 * fs_rep_free), at most the client's timeout, asking INTERRUPTED (IARG,
 * may be NULL) every 100 ms. Returns 0 when REP holds the serving
 * daemon's answer (whose status may be an error), or a connection error
 * as gwclient_open's, or -EINTR (the connection is dropped: its answer
 * would come late), always with a line in ERR. Only a request that
 * changes nothing (getattr, readdir, read, statfs) is sent again, once,
 * when the connection it went on was found closed; one that changes
 * something is never sent twice (it goes on a new connection when the
 * old one sat idle for half the gateway's idle time), so an append is
 * never made twice by this client: a lost answer is an error.
 * Threads: like every call, one at a time per client.
 */
int gwclient_fs(struct gwclient *gc, const struct fs_req *q, struct fs_rep *rep,
		bool (*interrupted)(void *), void *iarg, char *err, size_t errlen);

/*
 * gwclient_last_failure - the negative errno of GC's last failure to
 * reach its gateway (-ETIMEDOUT, -ECONNREFUSED, ...), the one its backoff
 * waits out; 0 if it never failed. Same thread as the requests.
 */
int gwclient_last_failure(struct gwclient *gc);

/*
 * gwclient_backoff_ms - milliseconds until the next connection attempt
 * while the gateway is unreachable and the client is backing off; 0 when
 * connected or free to try. Lets the lane sleep instead of spinning.
 */
int gwclient_backoff_ms(struct gwclient *gc);

/*
 * gwclient_reachable - is the remote gateway reachable, as far as GC
 * knows? 1: connected; 0: the last attempt failed (WHY, N bytes, gets its
 * reason); -1: never tried (nothing was sent there yet). Any thread.
 */
int gwclient_reachable(struct gwclient *gc, char *why, size_t n);

#endif
