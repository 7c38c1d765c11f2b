/*
 * replicator.h - the replication thread: it copies new messages of every
 * stream to each of its replicas (DESIGN §5), for replicas in local
 * clusters of this daemon.
 *
 * Wake-up: every append calls replicator_wake (through the topic's
 * on_append hook), so a message starts moving at once; there is no polling
 * interval in that path (§5.6). Only replicas in an error state are retried
 * on a timer (REPLICATOR_RETRY_MS), since nothing else would wake them.
 */
#ifndef STREAMFS_REPLICATOR_H
#define STREAMFS_REPLICATOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../fs/namespace.h"

#define REPLICATOR_RETRY_MS 1000
/* At most this many batches per replica and topic in one round, so one busy
 * topic cannot starve the others. */
#define REPLICATOR_BATCHES_PER_ROUND 16
#define REPLICATOR_BATCH_BYTES (4u << 20)

struct replicator {
	struct sfs_namespace *ns;
	uint32_t batch_messages;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t gen;		/* bumped by every wake */
	bool stop, started;
};

/*
 * replicator_init - prepare R (before ns_open, whose topics call
 * replicator_wake). Returns 0.
 */
int replicator_init(struct replicator *r, uint32_t batch_messages);

/*
 * replicator_start - start the thread for namespace NS. Returns 0 or a
 * negative errno from pthread_create.
 */
int replicator_start(struct replicator *r, struct sfs_namespace *ns);

/*
 * replicator_stop - stop the thread after its current round (each round
 * ends by saving the positions of every stream it touched). Safe if never
 * started.
 */
void replicator_stop(struct replicator *r);

/* replicator_wake - there is new work (ARG is the struct replicator). */
void replicator_wake(void *arg);

#endif
