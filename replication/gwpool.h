/*
 * gwpool.h - the gateway connections that carry this daemon's users' file
 * operations on remote clusters (the global namespace,
 * docs/global-namespace.md): up to GWPOOL_CONNS clients (gwclient.h) per
 * remote cluster, each carrying one request at a time, so that many
 * readers and writers run at once and none waits behind replication's
 * lane, which has its own connection.
 */
#ifndef STREAMFS_GWPOOL_H
#define STREAMFS_GWPOOL_H

#include <stdbool.h>

#include "../fs/config.h"
#include "../fs/fsreq.h"
#include "tls.h"

/* Connections per remote cluster; the gateway there grants a peer 8
 * (gwshares.h), and replication takes one or two of them. */
#define GWPOOL_CONNS 4

struct gwpool;

/*
 * gwpool_new - a pool for the remote clusters of CFG (borrowed, outlives
 * it), reached with TLS context CTX (borrowed; NULL: no gateway, every
 * call fails with -EHOSTUNREACH), each wait bounded by TIMEOUT_MS.
 * Nothing connects before the first call. NULL when out of memory.
 */
struct gwpool *gwpool_new(const struct sfs_config *cfg, SSL_CTX *ctx, int timeout_ms);

/* gwpool_interrupt - make calls in progress fail at once and later ones
 * fail with -ESHUTDOWN (the daemon stops). Any thread. */
void gwpool_interrupt(struct gwpool *p);

/* gwpool_free - close every connection and free P (NULL is fine); no call
 * may be in progress. */
void gwpool_free(struct gwpool *p);

/*
 * gwpool_reachable - what CLUSTER's file-operation connections know of its
 * gateway: 1 one is connected, 0 the last attempts failed (WHY, N bytes,
 * says why), -1 none was tried (or no such cluster). Any thread; does not
 * block on the network.
 */
int gwpool_reachable(struct gwpool *p, const char *cluster, char *why, size_t n);

/*
 * gwpool_call - carry out Q on remote cluster Q->cluster: take a free
 * connection (waiting at most the timeout for one), send Q, and wait for
 * the answer into *REP (fs_rep_free it), asking INTERRUPTED (IARG) every
 * 100 ms. Returns 0 when REP holds the serving daemon's answer (its
 * status may be an error, its message why), or, with one line in ERR
 * (ERRLEN bytes): -EHOSTDOWN (the gateway cannot be reached or refused
 * this daemon, or the client backs off after such a failure),
 * -ETIMEDOUT (no answer, or no free connection, within the timeout, or
 * the client backs off after that), -EINTR, -ESHUTDOWN, -EHOSTUNREACH
 * (no such remote cluster or no gateway configured), -EINVAL or
 * -EMSGSIZE (Q cannot be sent), -ENOMEM.
 */
int gwpool_call(struct gwpool *p, const struct fs_req *q, struct fs_rep *rep,
		bool (*interrupted)(void *), void *iarg, char *err, size_t errlen);

#endif
