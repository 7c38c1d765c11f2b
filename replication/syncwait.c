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

/* TS plus MS milliseconds. */
static struct timespec ts_add_ms(struct timespec ts, uint64_t ms)
{
	uint64_t ns = ts.tv_nsec + (ms % 1000) * 1000000ull;
	ts.tv_sec += ms / 1000 + ns / 1000000000ull;
	ts.tv_nsec = ns % 1000000000ull;
	return ts;
}

static bool ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

int sync_wait(struct stream *s, struct topic *t, uint64_t upto, uint64_t timeout_ms,
	      bool (*interrupted)(void *arg), void *arg)
{
	struct timespec now, deadline;
	clock_gettime(CLOCK_REALTIME, &now);
	deadline = ts_add_ms(now, timeout_ms);
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		bool waiting = false;
		/* A deleted stream or topic has nothing left to wait for. */
		for (int i = 0; i < (s->deleted || t->deleted ? 0 : s->nreplicas) && !waiting; i++)
			waiting = behind(s->replicas[i], t, upto);
		if (!waiting)
			break;
		if (interrupted && interrupted(arg)) {
			rc = -EINTR;
			break;
		}
		/* Wake up every SYNC_WAIT_POLL_MS to ask again. */
		clock_gettime(CLOCK_REALTIME, &now);
		struct timespec until = ts_add_ms(now, SYNC_WAIT_POLL_MS);
		bool last = !ts_before(until, deadline);
		if (pthread_cond_timedwait(&s->applied, &s->lock, last ? &deadline : &until) !=
			    ETIMEDOUT ||
		    !last)
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
	return rc;
}
