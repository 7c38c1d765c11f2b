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

/* Is R one the writer waits for, and is it still behind UPTO? */
static bool behind(struct replica *r, struct topic *t, uint64_t upto)
{
	if (!r->synchronous || r->paused || r->degraded)
		return false;
	struct replica_position *p = position_find(r, t->name, t->uuid);
	return !p || p->offset < upto;
}

void sync_wait(struct stream *s, struct topic *t, uint64_t upto,
	       uint64_t timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	uint64_t ns = deadline.tv_nsec + (timeout_ms % 1000) * 1000000ull;
	deadline.tv_sec += timeout_ms / 1000 + ns / 1000000000ull;
	deadline.tv_nsec = ns % 1000000000ull;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		bool waiting = false;
		for (int i = 0; i < s->nreplicas && !waiting; i++)
			waiting = behind(s->replicas[i], t, upto);
		if (!waiting)
			break;
		if (pthread_cond_timedwait(&s->applied, &s->lock, &deadline) != ETIMEDOUT)
			continue;
		for (int i = 0; i < s->nreplicas; i++) {
			struct replica *r = s->replicas[i];
			if (!behind(r, t, upto))
				continue;
			r->degraded = true;
			log_warn("/%s/%s: synchronous replica /%s/%s did not apply topic %s within %llu ms: degraded, replicating asynchronously until it catches up",
				 s->cluster->name, s->name, r->cluster, r->stream, t->name,
				 (unsigned long long)timeout_ms);
		}
		break;
	}
	pthread_mutex_unlock(&s->lock);
}
