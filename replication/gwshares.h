/*
 * gwshares.h - what one peer of the gateway may hold (docs/security.md,
 * "Bounds"): its connection slots and its frame-buffer bytes, shared out
 * per peer so that no peer, and no stolen certificate, can take all of
 * them; and the deadline of one frame. A peer is the set of clusters its
 * certificate names (tls_peer_clusters: "paris tokyo"), so a daemon
 * serving several clusters is one peer, and every connection made with
 * one certificate counts against the same share.
 *
 * A peer that is no stream's upstream here (none of its clusters is in a
 * local stream's .upstreams) is a stranger: it gets GWS_STRANGER_CONNS
 * connection and no frame over GWS_STRANGER_BODY (gateway.c applies that
 * bound before any buffer is taken); an upstream gets GWS_UPSTREAM_CONNS.
 *
 * Pure bookkeeping: no I/O, no clock, no locks. The gateway calls every
 * function under its mutex (gateway.mu), so this is unit tested on its own
 * (tests/unit/test_gwshares.c).
 */
#ifndef STREAMFS_GWSHARES_H
#define STREAMFS_GWSHARES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Peers with a connection at once: at most one per connection slot
 * (GATEWAY_MAX_CONNS). */
#define GWS_MAX_PEERS 64
/* Connections of one peer: an upstream of some stream here, a stranger. */
#define GWS_UPSTREAM_CONNS 8
#define GWS_STRANGER_CONNS 1
/* A peer granted access here (the global namespace, [cluster] access):
 * an upstream's and its users' file operations, up to 4 connections for
 * each of up to 4 clusters this daemon serves (replication/gwpool.h). */
#define GWS_ACCESS_CONNS (GWS_UPSTREAM_CONNS + 16)
/* A stranger's frames: as sent and decompressed, at most what a hello,
 * open, topic or result can take (gw_body_max, under 2 KiB). */
#define GWS_STRANGER_BODY 2048u
/* Frame buffers of all connections together, bytes, at the least; one
 * peer's share is a GWS_SHARE_PART-th of it, and at least what its
 * largest frame needs (gws_init). */
#define GWS_BUDGET_MIN (256ull << 20)
#define GWS_SHARE_PART 4
/* Around a batch's largest message, the rest of its frame: up to
 * REPLICATOR_BATCH_BYTES (4 MiB) of other messages and 52 bytes of header
 * for each of up to 65,536 messages (replicator.c), with the topic's
 * fields. */
#define GWS_BATCH_OVER (8ull << 20)
/* The slowest a frame may arrive, bytes per second, after timeout_ms. */
#define GWS_FRAME_MIN_RATE (1ull << 20)

struct gws_peer {
	char *names;		/* tls_peer_clusters; NULL: the entry is free */
	int conns;		/* connections it has */
	uint64_t bytes;		/* frame-buffer bytes its connections hold */
};

struct gw_shares {
	uint64_t budget;	/* bytes, all peers together */
	uint64_t share;		/* bytes, one peer */
	uint64_t bytes;		/* held, all peers */
	struct gws_peer peers[GWS_MAX_PEERS];
};

/*
 * gws_init - empty shares for a daemon whose max_message is MAX_MESSAGE
 * bytes. One peer's share is GWS_BUDGET_MIN / GWS_SHARE_PART (64 MiB), or
 * what its largest batch frame and that frame decompressed need if more
 * (2 x (MAX_MESSAGE + GWS_BATCH_OVER), at most 2 x GW_FRAME_MAX_BODY);
 * the budget of all is GWS_BUDGET_MIN, or GWS_SHARE_PART shares if more.
 * With the default max_message (1 MiB): 64 MiB and 256 MiB.
 */
void gws_init(struct gw_shares *s, uint64_t max_message);

/* gws_free - release what S holds (peer names); S is then empty. */
void gws_free(struct gw_shares *s);

/*
 * gws_join - one more connection of the peer NAMES (copied), which may
 * have MAX_CONNS at once (GWS_STRANGER_CONNS, GWS_UPSTREAM_CONNS or
 * GWS_ACCESS_CONNS). Returns the peer's index (for gws_leave,
 * gws_reserve, gws_release), -EUSERS when the peer already has that many,
 * -EMFILE when GWS_MAX_PEERS other peers have connections, or -ENOMEM.
 * Nothing changes on error.
 */
int gws_join(struct gw_shares *s, const char *names, int max_conns);

/* gws_conns - connections the peer NAMES has now (0 if none). */
int gws_conns(const struct gw_shares *s, const char *names);

/*
 * gws_leave - a connection of peer PEER (from gws_join) has ended, its
 * buffers released; the entry is freed with the peer's last connection.
 */
void gws_leave(struct gw_shares *s, int peer);

/*
 * gws_reserve - MORE bytes of frame buffer for a connection of PEER.
 * Returns 0 (counted), -EDQUOT (the peer's share would be passed) or
 * -ENOBUFS (the budget of all would be); nothing is counted on error.
 */
int gws_reserve(struct gw_shares *s, int peer, uint64_t more);

/* gws_release - N bytes reserved for PEER are let go (at most what it
 * holds). */
void gws_release(struct gw_shares *s, int peer, uint64_t n);

/*
 * gws_frame_deadline_ns - when a frame of LENGTH body bytes whose first
 * byte came at START_NS (ns, any clock) must be whole: TIMEOUT_MS, and
 * the body at GWS_FRAME_MIN_RATE (80 MiB: 80 s more). Saturates at
 * UINT64_MAX - 1.
 */
uint64_t gws_frame_deadline_ns(uint64_t start_ns, uint64_t length, int timeout_ms);

/*
 * Cluster names that are some local stream's upstream: a sorted set,
 * built anew when .upstreams change (the gateway's cache), asked per
 * connection and per big frame.
 */
struct gws_names {
	char **v;		/* sorted, no duplicates, each malloc'd */
	size_t n;
};

/*
 * gws_names_build - the set of the N names NAMES (any order, duplicates
 * allowed; copied) into *OUT. Returns 0 or -ENOMEM (*OUT empty).
 */
int gws_names_build(struct gws_names *out, const char *const *names, size_t n);

/* gws_names_any - is any name of LIST (names separated by spaces, as
 * tls_peer_clusters gives them) in SET? */
bool gws_names_any(const struct gws_names *set, const char *list);

/* gws_names_free - empty SET. */
void gws_names_free(struct gws_names *set);

#endif
