/*
 * replicator.c - the replication thread (replicator.h).
 *
 * One round walks every stream and, for each replica, every topic: it reads
 * a batch from the replica's position, drops messages whose origin is the
 * replica itself (echo suppression, §5.2), hands the rest to the replica's
 * topic, which drops what it already has (exactly once, §5.3), and only then
 * advances and saves the position (§5.7). The replica's .upstreams is
 * checked before anything is sent (§5.5).
 *
 * Locks: the thread holds at most one stream lock at a time and never while
 * reading or appending a topic (see fs/stream.h for the order).
 */
#include "replicator.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../fs/fault.h"
#include "../fs/logging.h"
#include "positions.h"

int replicator_init(struct replicator *r, uint32_t batch_messages)
{
	memset(r, 0, sizeof(*r));
	r->batch_messages = batch_messages ? batch_messages : 4096;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

void replicator_wake(void *arg)
{
	struct replicator *r = arg;
	pthread_mutex_lock(&r->mu);
	r->gen++;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* The replica of S named CLUSTER/STREAM; S->lock held. */
static struct replica *replica_by_name(struct stream *s, const char *cluster,
				       const char *stream)
{
	for (int i = 0; i < s->nreplicas; i++)
		if (!strcmp(s->replicas[i]->cluster, cluster) &&
		    !strcmp(s->replicas[i]->stream, stream))
			return s->replicas[i];
	return NULL;
}

/* Put R in the error state with MSG; logs only when the error changes. */
static void replica_fail(struct stream *s, struct replica *r, const char *msg)
{
	if (r->state != REPLICA_STATE_UNEXPECTED || strcmp(r->last_error, msg))
		log_warn("/%s/%s: replica /%s/%s: %s", s->cluster->name, s->name,
			 r->cluster, r->stream, msg);
	snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
	r->last_error_ns = now_ns();
	r->state = REPLICA_STATE_UNEXPECTED;
}

struct replica_key {
	char cluster[256], stream[256];
};

/* Timestamp of the oldest unsent message of R (0 if none); no locks held. */
static uint64_t oldest_pending(struct topic **topics, int n,
			       const uint64_t *from)
{
	uint64_t oldest = 0;
	struct topic_batch b = { 0 };
	for (int i = 0; i < n; i++) {
		if (topic_read_batch(topics[i], from[i], 1, 1, &b) == 0 && b.n &&
		    (!oldest || b.msgs[0].timestamp_ns < oldest))
			oldest = b.msgs[0].timestamp_ns;
	}
	topic_batch_free(&b);
	return oldest;
}

/*
 * Send what replica KEY of S has pending. Returns 1 if messages moved, 0 if
 * not, -1 if the replica is in an error state (retry on a timer).
 */
static int replicate_one(struct replicator *rp, struct stream *s,
			 const struct replica_key *key, struct topic **topics,
			 int ntopics, struct topic_batch *b, struct topic_msg **keep,
			 size_t *keepcap)
{
	struct sfs_namespace *ns = rp->ns;
	char err[1200] = "";
	int moved = 0;
	uint64_t *from = calloc(ntopics ? ntopics : 1, sizeof(*from));
	if (!from)
		return -1;

	pthread_mutex_lock(&s->lock);
	struct replica *r = replica_by_name(s, key->cluster, key->stream);
	bool paused = r ? r->paused : true;
	pthread_mutex_unlock(&s->lock);
	if (!r)
		goto out;

	struct stream *t = NULL;
	struct cluster *tcl = ns_cluster(ns, key->cluster);
	if (paused) {
		/* Keep the position; only the status moves. */
	} else if (!tcl) {
		snprintf(err, sizeof(err), "cluster %s is not in this daemon's configuration",
			 key->cluster);
	} else if (tcl->remote) {
		snprintf(err, sizeof(err), "cluster %s is remote; replication to it needs the gateway, which this build does not have yet",
			 key->cluster);
	} else if (!(t = ns_stream(ns, key->cluster, key->stream))) {
		snprintf(err, sizeof(err), "replica stream /mapr/%s/%s does not exist",
			 key->cluster, key->stream);
	}
	uuid_t tuuid;
	if (t) {
		bool allowed = false;
		pthread_mutex_lock(&t->lock);
		for (int i = 0; i < t->nupstreams; i++)
			if (!strcmp(t->upstreams[i].cluster, s->cluster->name) &&
			    !strcmp(t->upstreams[i].stream, s->name))
				allowed = true;
		uuid_copy(tuuid, t->uuid);
		pthread_mutex_unlock(&t->lock);
		if (!allowed)
			snprintf(err, sizeof(err), "refused by the replica: /mapr/%s/%s is not in /mapr/%s/%s/.upstreams",
				 s->cluster->name, s->name, key->cluster, key->stream);
	}

	if (t && !err[0]) {
		pthread_mutex_lock(&s->lock);
		r = replica_by_name(s, key->cluster, key->stream);
		if (r && uuid_compare(r->target_uuid, tuuid)) {
			/* A new replica, or one re-created: copy from the start. */
			uuid_copy(r->target_uuid, tuuid);
			r->npos = 0;
			r->copied = false;
			s->positions_dirty = true;
		}
		pthread_mutex_unlock(&s->lock);

		for (int i = 0; i < ntopics && r && !err[0]; i++) {
			struct topic *src = topics[i];
			/*
			 * Every topic reaches the replica, an empty one too (§5.1).
			 * Only before anything was sent: a topic deleted on the
			 * replica after that is not brought back empty (new
			 * messages create it again).
			 */
			pthread_mutex_lock(&s->lock);
			r = replica_by_name(s, key->cluster, key->stream);
			struct replica_position *p0 = r ? position_find(r, src->name, src->uuid) : NULL;
			bool need = p0 && !p0->on_replica && p0->offset == 0 && !r->paused;
			pthread_mutex_unlock(&s->lock);
			if (need) {
				struct topic *dst;
				int rc = stream_topic_get_or_create(t, src->name, src->uid, src->gid,
								    src->mode, false, &ns->topic_opts,
								    &dst, NULL);
				if (rc < 0) {
					snprintf(err, sizeof(err), "topic %s: cannot be created on the replica: %s",
						 src->name, strerror(-rc));
					break;
				}
				topic_put(dst);
				pthread_mutex_lock(&s->lock);
				r = replica_by_name(s, key->cluster, key->stream);
				p0 = r ? position_find(r, src->name, src->uuid) : NULL;
				if (p0)
					p0->on_replica = true;
				pthread_mutex_unlock(&s->lock);
			}
			for (int round = 0; round < REPLICATOR_BATCHES_PER_ROUND; round++) {
				pthread_mutex_lock(&s->lock);
				r = replica_by_name(s, key->cluster, key->stream);
				struct replica_position *p = r ? position_find(r, src->name, src->uuid) : NULL;
				uint64_t pos = p ? p->offset : 0;
				bool stop = !r || r->paused || !p;
				pthread_mutex_unlock(&s->lock);
				if (stop || pos >= topic_end(src))
					break;
				int rc = topic_read_batch(src, pos, rp->batch_messages,
							  REPLICATOR_BATCH_BYTES, b);
				if (rc < 0 && b->n == 0) {
					snprintf(err, sizeof(err), "topic %s: offset %" PRIu64 " cannot be read: %s",
						 src->name, pos, strerror(-rc));
					break;
				}
				if (b->n == 0)
					break;
				if (*keepcap < b->n) {
					struct topic_msg *k = realloc(*keep, b->n * sizeof(*k));
					if (!k) {
						snprintf(err, sizeof(err), "out of memory");
						break;
					}
					*keep = k;
					*keepcap = b->n;
				}
				size_t nk = 0;
				for (size_t m = 0; m < b->n; m++)
					if (uuid_compare(b->msgs[m].origin_stream, tuuid))
						(*keep)[nk++] = b->msgs[m];
				if (nk) {
					struct topic *dst;
					rc = stream_topic_get_or_create(t, src->name, src->uid, src->gid,
									src->mode, false, &ns->topic_opts,
									&dst, NULL);
					if (rc == 0) {
						rc = topic_append_replicated(dst, *keep, nk, NULL);
						topic_put(dst);
					}
					/* Applied, not yet acknowledged: a re-send must be dropped. */
					if (rc == 0)
						FAULT_POINT("repl-after-apply");
					if (rc < 0) {
						snprintf(err, sizeof(err), "topic %s: the replica cannot store messages: %s",
							 src->name, strerror(-rc));
						break;
					}
				}
				pthread_mutex_lock(&s->lock);
				r = replica_by_name(s, key->cluster, key->stream);
				p = r ? position_find(r, src->name, src->uuid) : NULL;
				if (p && p->offset == pos) {
					p->offset = b->next_offset;
					p->vpos += b->bytes + b->n;
					s->positions_dirty = true;
					/* Writers of synchronous replicas wait on this. */
					pthread_cond_broadcast(&s->applied);
				}
				pthread_mutex_unlock(&s->lock);
				/* Acknowledged in memory, not yet saved. */
				FAULT_POINT("repl-after-ack");
				moved = 1;
				if (rc < 0)
					break;
			}
		}
	}
	if (t)
		stream_put(t);

	/* Status, whatever happened above: lag never shows as zero wrongly. */
	pthread_mutex_lock(&s->lock);
	r = replica_by_name(s, key->cluster, key->stream);
	bool done = false;
	if (r) {
		done = positions_pending(r, topics, ntopics) == 0;
		for (int i = 0; i < ntopics; i++) {
			struct replica_position *p = position_find(r, topics[i]->name, topics[i]->uuid);
			from[i] = p ? p->offset : 0;
		}
		if (err[0]) {
			replica_fail(s, r, err);
		} else if (r->paused) {
			r->state = REPLICA_STATE_PAUSED;
		} else {
			if (done && !r->copied) {
				r->copied = true;
				s->positions_dirty = true;
			}
			if (done && r->degraded) {
				r->degraded = false;
				log_info("/%s/%s: synchronous replica /%s/%s has caught up: synchronous again",
					 s->cluster->name, s->name, r->cluster, r->stream);
			}
			r->state = r->copied ? REPLICA_STATE_REPLICATING :
					       REPLICA_STATE_COPY_IN_PROGRESS;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (r && !done) {
		uint64_t oldest = oldest_pending(topics, ntopics, from);
		pthread_mutex_lock(&s->lock);
		r = replica_by_name(s, key->cluster, key->stream);
		if (r)
			r->oldest_pending_ns = oldest;
		pthread_mutex_unlock(&s->lock);
	} else if (r) {
		pthread_mutex_lock(&s->lock);
		r = replica_by_name(s, key->cluster, key->stream);
		if (r)
			r->oldest_pending_ns = 0;
		pthread_mutex_unlock(&s->lock);
	}
out:
	free(from);
	if (err[0])
		return -1;
	return moved;
}

/* One pass over every stream. Sets *ERRORS if some replica is failing. */
static bool round_all(struct replicator *rp, bool *errors)
{
	struct stream **streams;
	bool moved = false;
	struct topic_batch b = { 0 };
	struct topic_msg *keep = NULL;
	size_t keepcap = 0;
	int ns = ns_streams_snapshot(rp->ns, &streams);
	if (ns < 0)
		return false;
	for (int i = 0; i < ns; i++) {
		struct stream *s = streams[i];
		pthread_mutex_lock(&s->lock);
		int nr = s->deleted ? 0 : s->nreplicas;
		struct replica_key keys[STREAM_MAX_REPLICAS];
		for (int k = 0; k < nr; k++) {
			memcpy(keys[k].cluster, s->replicas[k]->cluster, 256);
			memcpy(keys[k].stream, s->replicas[k]->stream, 256);
		}
		pthread_mutex_unlock(&s->lock);
		if (nr) {
			struct topic **topics;
			int nt = stream_topics_snapshot(s, &topics);
			if (nt >= 0) {
				for (int k = 0; k < nr; k++) {
					int rc = replicate_one(rp, s, &keys[k], topics, nt, &b,
							       &keep, &keepcap);
					if (rc > 0)
						moved = true;
					if (rc < 0)
						*errors = true;
				}
				for (int k = 0; k < nt; k++)
					topic_put(topics[k]);
				free(topics);
			}
		}
		pthread_mutex_lock(&s->lock);
		/* A deleted stream's directory is gone: nothing to save. */
		bool saved = s->positions_dirty && !s->deleted;
		if (saved)
			positions_save_locked(s, rp->ns->topic_opts.fsync == SFS_FSYNC_ALWAYS);
		pthread_mutex_unlock(&s->lock);
		if (saved)
			FAULT_POINT("repl-after-save");
		stream_put(s);
	}
	free(streams);
	free(keep);
	topic_batch_free(&b);
	return moved;
}

static void *replicator_main(void *arg)
{
	struct replicator *rp = arg;
	pthread_mutex_lock(&rp->mu);
	while (!rp->stop) {
		uint64_t seen = rp->gen;
		pthread_mutex_unlock(&rp->mu);
		bool errors = false;
		bool moved = round_all(rp, &errors);
		pthread_mutex_lock(&rp->mu);
		if (moved || rp->gen != seen || rp->stop)
			continue;
		if (errors) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += REPLICATOR_RETRY_MS / 1000;
			ts.tv_nsec += (REPLICATOR_RETRY_MS % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rp->cv, &rp->mu, &ts);
		} else {
			pthread_cond_wait(&rp->cv, &rp->mu);
		}
	}
	pthread_mutex_unlock(&rp->mu);
	return NULL;
}

int replicator_start(struct replicator *r, struct sfs_namespace *ns)
{
	r->ns = ns;
	int rc = pthread_create(&r->thread, NULL, replicator_main, r);
	if (rc)
		return -rc;
	r->started = true;
	return 0;
}

void replicator_stop(struct replicator *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	r->started = false;
}
