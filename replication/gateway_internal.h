/*
 * gateway_internal.h - what the gateway's listener (gateway.c) and its
 * connections (gwconn.c) share. Not for use outside them.
 */
#ifndef STREAMFS_GATEWAY_INTERNAL_H
#define STREAMFS_GATEWAY_INTERNAL_H

#include <stdbool.h>

#include "../fs/config.h"
#include "frame.h"
#include "gateway.h"

/* One authenticated connection: made by gateway.c (conn_start), served by
 * its thread (gw_conn_main), freed by gateway.c (gw_conn_free). */
struct gateway_conn {
	struct gateway *g;
	int fd;				/* owned by tc once the handshake ran */
	struct tls_conn *tc;
	pthread_t thread;
	bool done;			/* under g->mu: the thread has ended */
	int share;			/* its peer's entry in g->shares (gws_join) */
	char peer[80];			/* ADDR:PORT, for log lines */
	char cluster[256];		/* from GW_HELLO: the local cluster addressed */
	/* Reasons already logged on this connection (hashes): a source
	 * retries every second, and its own status shows the error. */
	uint32_t logged[GATEWAY_LOGGED_REASONS];
	int nlogged;
	struct gw_buf in, scratch, out;
};

/*
 * gw_log_quiet - has something of KEY been logged for PEER's address within
 * the last minute? If not, it is noted as logged now (one line a minute per
 * address and reason). Takes g->mu.
 */
bool gw_log_quiet(struct gateway *g, const char *peer, const char *key);

/*
 * gw_peer_upstream - is any of NAMES (tls_peer_clusters) some local
 * stream's upstream? A lookup in a set rebuilt only after .upstreams
 * changed. The caller holds no lock.
 */
bool gw_peer_upstream(struct gateway *g, const char *names);

/*
 * gw_peer_access - the most any of NAMES (tls_peer_clusters) may do here:
 * the access of its [cluster] section in this daemon's mount.conf (a
 * remote cluster's), SFS_ACCESS_REPLICATE for a cluster not declared.
 * Reads the configuration only; any thread.
 */
enum sfs_access gw_peer_access(struct gateway *g, const char *names);

/* gw_stopping - is the gateway stopping? Takes g->mu. */
bool gw_stopping(struct gateway *g);

/* gw_conn_main - a connection's thread (ARG: the struct gateway_conn):
 * requests until the peer goes; then it gives up its share and is marked
 * done for gateway.c to reap. */
void *gw_conn_main(void *arg);

/* gw_conn_free - join C's thread (ended or ending) and free C. */
void gw_conn_free(struct gateway_conn *c);

#endif
