/*
 * replicator.h - the replication threads: they copy new messages of every
 * stream to each of its replicas (docs/replication.md). One thread (a "lane") serves
 * replicas in this daemon's own clusters; each remote cluster has its own
 * lane, sending through the gateway (gwclient.h).
 *
 * Wake-up: every append calls replicator_wake (through the topic's
 * on_append hook), so a message starts moving at once; there is no polling
 * interval in that path (docs/replication.md). Only replicas in an error state are retried
 * on a timer (REPLICATOR_RETRY_MS), since nothing else would wake them.
 */
#ifndef STREAMFS_REPLICATOR_H
#define STREAMFS_REPLICATOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../fs/namespace.h"
#include "gwpool.h"

#define REPLICATOR_RETRY_MS 1000
/* A remote replica is asked whether it is still there (and the same
 * stream) at least this often, even while nothing is sent to it. */
#define REPLICATOR_PROBE_MS REPLICATOR_RETRY_MS
/* At most this many batches per replica and topic in one round, so one busy
 * topic cannot starve the others. */
#define REPLICATOR_BATCHES_PER_ROUND 16
#define REPLICATOR_BATCH_BYTES (4u << 20)

struct replicator;
struct gwclient;
typedef struct ssl_ctx_st SSL_CTX;

/* One replication thread and the replicas it serves. */
struct replicator_lane {
	struct replicator *rp;
	const char *cluster;	/* remote cluster served; NULL: the local lane */
	struct gwclient *gc;	/* remote lanes: the gateway client */
	uint64_t seen_all;	/* ns->repl_gen_all at its last whole round */
	/* A .replicas line is asking the remote's gateway which stream has a
	 * replica's name (replica.c): one at a time per remote cluster, so
	 * writers cannot use up this daemon's connections there. */
	atomic_bool looking;
	pthread_t thread;
	bool started;
};

struct replicator {
	struct sfs_namespace *ns;
	uint32_t batch_messages;
	uint32_t positions_interval_ms;	/* see replicator_init */
	SSL_CTX *ctx;		/* borrowed; NULL: no remote lanes */
	int gw_timeout_ms;
	struct replicator_lane lanes[1 + SFS_MAX_CLUSTERS];
	int nlanes;
	/* The connections of users' file operations on remote clusters
	 * (the global namespace; gwpool.h), the fs_call hook's. */
	struct gwpool *fspool;
	pthread_mutex_t mu;
	pthread_cond_t cv;	/* broadcast by every wake */
	uint64_t gen;		/* bumped by every wake */
	bool stop;
};

/*
 * replicator_init - prepare R (before ns_open, whose topics call
 * replicator_wake). BATCH_MESSAGES: messages per batch read from a source
 * topic (0: 4096). POSITIONS_INTERVAL_MS: while a stream's positions keep
 * moving, its .positions.json is saved at most this often (0: after every
 * round); positions that stopped moving are saved within that time, and
 * all of them at replicator_stop. Positions only bound what is sent again
 * after a crash, and the replica's high-water marks drop what it already
 * has, so a longer interval costs re-sending, never a duplicate (as Kafka
 * Connect's offset.flush.interval.ms). Returns 0.
 */
int replicator_init(struct replicator *r, uint32_t batch_messages,
		    uint32_t positions_interval_ms);

/*
 * replicator_set_gateway - before replicator_start: remote clusters are
 * reached with TLS context CTX (borrowed, outlives R), each read or write
 * bounded by TIMEOUT_MS.
 */
void replicator_set_gateway(struct replicator *r, SSL_CTX *ctx, int timeout_ms);

/*
 * replicator_start - start the lanes for namespace NS: the local lane and,
 * when a gateway context was set, one per remote cluster. Returns 0,
 * -ENOMEM, or a negative errno from pthread_create (nothing left running).
 */
int replicator_start(struct replicator *r, struct sfs_namespace *ns);

/*
 * replicator_stop - stop every lane after its current round (a request to a
 * gateway in progress is cut short), then save the positions of every
 * stream whose positions moved since their last save. Safe if never
 * started.
 */
void replicator_stop(struct replicator *r);

/* replicator_wake - there is new work (ARG is the struct replicator). */
void replicator_wake(void *arg);

#endif
