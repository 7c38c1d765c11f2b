/*
 * gateway.h - this daemon's gateway (docs/gateway.md): a TLS listener that
 * accepts replication from upstream streams on other hosts and applies it
 * to local replica streams through apply.c, the same path local replicas
 * use. One thread accepts and drives every TLS handshake at once, without
 * blocking, each bounded by timeout_ms as a whole (at most
 * GATEWAY_MAX_HANDSHAKES at a time, GATEWAY_MAX_HANDSHAKES_PER_ADDR of
 * them from one address, the oldest dropped for a new one);
 * each authenticated connection gets its own thread (at most
 * GATEWAY_MAX_CONNS), so a slow or stalled peer holds up only itself, and
 * unauthenticated clients never hold a slot a peer needs.
 *
 * Shares (gwshares.h): connection slots and frame-buffer bytes are shared
 * out per peer, a peer being the clusters its certificate names; a peer
 * that is no local stream's upstream gets one connection and small frames
 * only. Each frame must be whole by a deadline that grows with its size
 * (gws_frame_deadline_ns): a peer trickling a frame holds its buffer for
 * that long at most. A connection refused for its share is told why (a
 * GW_RESULT answering its hello) before it is closed.
 *
 * Security: the TLS handshake requires a client certificate chaining to
 * [gateway] ca; every request must name a source cluster that the peer's
 * certificate names, a local replica stream, and a source listed in that
 * stream's .upstreams. A peer that fails any of this is refused and logged
 * (warn), and nothing it sent applies. A malformed or oversized frame
 * closes that connection only.
 */
#ifndef STREAMFS_GATEWAY_H
#define STREAMFS_GATEWAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../fs/namespace.h"
#include "gwshares.h"
#include "tls.h"

#define GATEWAY_MAX_CONNS GWS_MAX_PEERS
/* TLS handshakes in progress at once (unauthenticated clients), and
 * connections being told why they are refused. */
#define GATEWAY_MAX_HANDSHAKES 256
/* Of those, from one address at once: past it, a new connection from
 * that address is closed before any TLS (no key exchange), so one host
 * flooding the port neither fills the table nor pushes a real peer's
 * handshake out of it (docs/security.md, "The gateway's listener"). */
#define GATEWAY_MAX_HANDSHAKES_PER_ADDR 16
/* Frame buffers (bodies as read, and their decompressed copies) are
 * counted in the gateway's shares (gwshares.h: 64 MiB a peer, 256 MiB in
 * all with the default max_message): a connection that would take more is
 * closed, its source retries later. Buffers over GATEWAY_FRAME_KEEP are
 * let go after their frame. */
#define GATEWAY_FRAME_KEEP (1u << 20)
/* A connection without a request for this long is closed. Sources probe
 * their replicas every few seconds, so only a forgotten one goes idle. */
#define GATEWAY_IDLE_NS (60ull * 1000000000ull)
/* Refusal reasons remembered per connection, not to log them twice. */
#define GATEWAY_LOGGED_REASONS 32
/* Refused connections: one log line per address and reason per minute. */
#define GATEWAY_REFUSALS 32
#define GATEWAY_REFUSAL_QUIET_NS (60ull * 1000000000ull)

struct gateway_conn;
struct gwfs;

struct gateway {
	struct sfs_namespace *ns;
	SSL_CTX *ctx;			/* borrowed */
	struct gwfs *fs;		/* peers' file operations (gwfs.h) */
	int timeout_ms;
	int lfd;			/* listening socket, -1 if none */
	char listen[300];
	pthread_t accept_thread;
	bool started;

	pthread_mutex_t mu;		/* the fields below */
	bool stop;
	struct gateway_conn *conns[GATEWAY_MAX_CONNS];
	struct gw_shares shares;	/* connections and frame bytes per peer */
	/* Clusters some local stream has in .upstreams, as of
	 * ns->upstreams_gen == up_gen (built again when it moves). */
	struct gws_names up;
	uint64_t up_gen;
	bool up_valid;
	struct {
		uint32_t hash;		/* of the peer address and the reason */
		uint64_t when_ns;	/* last logged */
	} refusals[GATEWAY_REFUSALS];
};

/*
 * gateway_bind - bind and listen on LISTEN ("ADDR:PORT") before the daemon
 * forks, so that a port in use is reported and nothing is mounted.
 * Returns 0 or a negative errno with one line in ERR.
 */
int gateway_bind(struct gateway *g, const char *listen, char *err,
		 size_t errlen);

/*
 * gateway_start - start accepting for namespace NS with TLS context CTX
 * (borrowed; both outlive the gateway). TIMEOUT_MS bounds a whole
 * handshake, each wait for a peer, and with the frame's size a frame
 * (gws_frame_deadline_ns); MAX_MESSAGE (bytes, [mount] max_message) sizes
 * each peer's share of frame buffers (gws_init). MOUNTPOINT (absolute,
 * borrowed, outlives the gateway) is where peers' file operations are
 * carried out (gwfs.h). Returns 0 or a negative errno (pthread_create,
 * -ENOMEM).
 *
 * Stop it (gateway_stop) only after the mount is gone (fuse_unmount):
 * until then a peer's file operation may wait on this daemon's own FUSE
 * loop.
 */
int gateway_start(struct gateway *g, struct sfs_namespace *ns, SSL_CTX *ctx,
		  int timeout_ms, uint64_t max_message, const char *mountpoint);

/*
 * gateway_stop - stop accepting, close every connection and join every
 * thread. Safe if never bound or started.
 */
void gateway_stop(struct gateway *g);

#endif
