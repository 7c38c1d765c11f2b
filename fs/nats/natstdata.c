/*
 * natstdata.c - the topics' chunk indexes of a NATS-backed stream
 * (natshome.h): each topic incarnation's index (struct nats_tdata), kept
 * by its stream and found by the incarnation's UUID, made when its first
 * chunk or its topic shows up, whichever comes first; a chunk added to
 * it; the lookup of a chunk by its stream sequence; and a writer's wait
 * for its chunk to be indexed (docs/nats.md, "Appends are linearizable").
 */
#include "natshome.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fs/cluster.h"
#include "logging.h"
#include "util/clock.h"

void nats_cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
}

void nats_tdata_put(struct nats_tdata *td)
{
	if (!td || atomic_fetch_sub(&td->refs, 1) != 1)
		return;
	nats_chunks_free_parts(td->c, td->n);
	free(td->c);
	free(td->origins);
	pthread_mutex_destroy(&td->mu);
	pthread_cond_destroy(&td->cv);
	free(td);
}

struct nats_tdata *nats_stream_tdata(struct nats_stream *st, const uuid_t uuid)
{
	struct nats_tdata *td = NULL;
	pthread_mutex_lock(&st->mu);
	size_t lo = 0, hi = st->ntdata;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = uuid_compare(st->tdata[mid]->uuid, uuid);
		if (c == 0) {
			td = st->tdata[mid];
			atomic_fetch_add(&td->refs, 1);
			goto out;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (st->ntdata == st->tcap) {
		size_t cap = st->tcap ? st->tcap * 2 : 8;
		struct nats_tdata **v = realloc(st->tdata, cap * sizeof(*v));
		if (!v)
			goto out;
		st->tdata = v;
		st->tcap = cap;
	}
	if (!(td = calloc(1, sizeof(*td))))
		goto out;
	uuid_copy(td->uuid, uuid);
	uuid_copy(td->own_key, uuid); /* the first epoch's (natsepoch.c) */
	atomic_init(&td->refs, 2); /* the table's and the caller's */
	pthread_mutex_init(&td->mu, NULL);
	nats_cond_init_mono(&td->cv);
	memmove(&st->tdata[lo + 1], &st->tdata[lo], (st->ntdata - lo) * sizeof(*st->tdata));
	st->tdata[lo] = td;
	st->ntdata++;
out:
	pthread_mutex_unlock(&st->mu);
	return td;
}

const struct nats_chunk *nats_chunk_find(const struct nats_tdata *td, uint64_t seq)
{
	size_t lo = 0, hi = td->n; /* the index is in sequence order */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (td->c[mid].seq == seq)
			return &td->c[mid];
		if (td->c[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int nats_chunk_settle(struct nats_tdata *td, uint64_t seq, uint64_t deadline)
{
	for (;;) { /* in slices: a signal ends the wait */
		nats_wait_indexed(td, seq, nats_slice(deadline));
		pthread_mutex_lock(&td->mu);
		bool there = td->last_seq >= seq || td->purged;
		pthread_mutex_unlock(&td->mu);
		if (there || mono_ns() >= deadline)
			break;
		if (cluster_interrupted())
			return -EINTR;
	}
	int rc = -EAGAIN;
	pthread_mutex_lock(&td->mu);
	if (td->purged) {
		/* Removed since (here, or another daemon's rm applied by the
		 * watcher): the append was stored before; nothing to publish
		 * again, nothing of the topic served any more. */
		rc = 0;
	} else if (td->last_seq < seq) {
		rc = -ETIMEDOUT;
	} else if (nats_chunk_find(td, seq)) {
		rc = 0; /* indexed */
	}
	pthread_mutex_unlock(&td->mu);
	return rc;
}

/* ---- a chunk added to an index ------------------------------------------ */

/* The index of origin O in TD, added if new; -1 when out of memory. mu held. */
static int origin_index(struct nats_tdata *td, const struct nats_origin *o)
{
	for (size_t i = td->norigins; i-- > 0;)
		if (!uuid_compare(td->origins[i].stream, o->stream) &&
		    !uuid_compare(td->origins[i].topic, o->topic))
			return (int)i;
	if (td->norigins == td->ocap) {
		size_t cap = td->ocap ? td->ocap * 2 : 2;
		struct nats_origin *v = realloc(td->origins, cap * sizeof(*v));
		if (!v)
			return -1;
		td->origins = v;
		td->ocap = cap;
	}
	td->origins[td->norigins] = *o;
	td->origins[td->norigins].next = 0;
	return (int)td->norigins++;
}

void nats_tdata_add(struct nats_tdata *td, const struct nats_chunk *c,
		    const struct nats_origin *origin)
{
	void (*fn)(void *) = NULL;
	void *arg = NULL;
	bool kept = false;	/* c->parts: the index's */
	pthread_mutex_lock(&td->mu);
	if (c->seq <= td->last_seq)
		goto out; /* delivered again (an ordered consumer made anew) */
	td->last_seq = c->seq;
	if (td->purged)
		goto wake;
	int k = -1;
	if (c->off != td->next_off || c->pos != td->next_pos) {
		/* It does not follow the chunk before it: the loser of a race
		 * that JetStream let through (a clustered stream only pre-checks
		 * the expected last subject sequence), or not published by the
		 * protocol of docs/nats.md. Every daemon skips it alike; its
		 * writer publishes its lines again (nats_chunk_settle). */
		if (!td->damaged_logged) {
			char u[37];
			uuid_unparse(td->uuid, u);
			log_info("topic %s: chunk at sequence %" PRIu64 " claims offset %" PRIu64
				 " and position %" PRIu64 " where %" PRIu64 " and %" PRIu64
				 " follow; skipped (logged once per topic, docs/nats.md)", u, c->seq,
				 c->off, c->pos, td->next_off, td->next_pos);
			td->damaged_logged = true;
		}
		goto wake;
	}
	if (td->n == td->cap) {
		size_t cap = td->cap ? td->cap * 2 : 16;
		struct nats_chunk *v = realloc(td->c, cap * sizeof(*v));
		if (!v)
			goto nomem;
		td->c = v;
		td->cap = cap;
	}
	if ((k = origin_index(td, origin)) < 0)
		goto nomem;
	td->c[td->n] = *c;
	td->c[td->n].origin = (uint32_t)k;
	td->n++;
	kept = true;
	td->next_off += c->n;
	td->next_pos += c->len;
	nats_epoch_index(td, c, origin); /* this topic's own lines */
	/* The origin's mark (docs/nats.md, "Replication into NATS"). */
	if (c->origin_off + c->n > td->origins[k].next)
		td->origins[k].next = c->origin_off + c->n;
	td->mtime_ns = c->ts;
	/* The topic's on_append is set once before it is shared; the topic
	 * stays while attached (nt_destroy detaches it under mu), and its
	 * stream, the argument, until this callback is over (ns_destroy). */
	if (td->topic) {
		fn = td->topic->on_append;
		arg = td->topic->on_append_arg;
	}
	goto wake;
nomem:
	log_error("topic index: out of memory; chunk %" PRIu64 " not served", c->seq);
wake:
	pthread_cond_broadcast(&td->cv);
out:
	pthread_mutex_unlock(&td->mu);
	if (!kept)
		free(c->parts);
	if (fn)
		fn(arg);
}
