/*
 * syncwait.c - the writer's side of synchronous replication (syncwait.h).
 * The replication thread's side is a broadcast of stream->applied each time
 * it moves a position (replicator.c).
 */
#include "syncwait.h"

#include <errno.h>
#include <time.h>

#include "../fs/logging.h"
#include "../fs/namespace.h"
#include "positions.h"
#include "util/clock.h"

/* Is R one the writer waits for, and is it still behind UPTO? */
static bool behind(struct replica *r, struct topic *t, uint64_t upto)
{
	if (!r->conf.synchronous || r->conf.paused || r->degraded)
		return false;
	struct replica_position *p = position_find(r, t->name, t->uuid);
	return !p || p->offset < upto;
}

int sync_wait(struct stream *s, struct topic *t, uint64_t upto, uint64_t timeout_ms,
	      bool (*interrupted)(void *arg), void *arg)
{
	struct timespec deadline = clock_deadline(CLOCK_REALTIME, timeout_ms);
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		bool waiting = false;
		/* A deleted stream or topic has nothing left to wait for. */
		for (int i = 0; i < (s->deleted || topic_deleted(t) ? 0 : s->nreplicas) && !waiting; i++)
			waiting = behind(replica_of(s->replicas[i]), t, upto);
		if (!waiting)
			break;
		if (interrupted && interrupted(arg)) {
			rc = -EINTR;
			break;
		}
		/* Wake up every SYNC_WAIT_POLL_MS to ask again. */
		struct timespec until = clock_deadline(CLOCK_REALTIME, SYNC_WAIT_POLL_MS);
		bool last = !timespec_before(until, deadline);
		if (pthread_cond_timedwait(&s->applied, &s->lock, last ? &deadline : &until) !=
			    ETIMEDOUT ||
		    !last)
			continue;
		for (int i = 0; i < s->nreplicas; i++) {
			struct replica *r = replica_of(s->replicas[i]);
			if (!behind(r, t, upto))
				continue;
			r->degraded = true;
			log_warn("/%s/%s: synchronous replica /%s/%s did not apply topic %s within %llu ms: degraded, replicating asynchronously until it catches up",
				 s->cluster->name, s->name, r->conf.cluster, r->conf.stream, t->name,
				 (unsigned long long)timeout_ms);
			/* Shown by the other daemons of its home too. */
			stream_status_changed(s, false);
		}
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
