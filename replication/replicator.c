/*
 * replicator.c - the replication thread (replicator.h).
 *
 * One round walks every stream and, for each replica, every topic: it reads
 * a batch from the replica's position, drops messages whose origin is the
 * replica itself (echo suppression, docs/replication.md), hands the rest to the replica's
 * topic, which drops what it already has (exactly once, docs/replication.md), and only then
 * advances and saves the position (docs/replication.md). The replica's .upstreams is
 * checked before anything is sent (docs/replication.md).
 *
 * Lanes: one thread (lane) serves the replicas in this daemon's own
 * clusters; each remote cluster has a lane of its own, which sends through
 * a gateway client (gwclient.c). A stalled or unreachable remote host thus
 * holds up only its own lane, never local replicas or other hosts.
 * Where the messages go is behind a small "target" (local: apply.c
 * directly; remote: the same apply.c, through the gateway), so the loop
 * below is the same for both.
 *
 * Locks: a lane holds at most one stream lock at a time and never while
 * reading or appending a topic or talking to a gateway (see fs/stream.h for
 * the order).
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
#include "../fs/stats.h"
#include "apply.h"
#include "gwclient.h"
#include "positions.h"
#include "util/clock.h"
#include "../fs/util/lockcheck.h"

int replicator_init(struct replicator *r, uint32_t batch_messages,
		    uint32_t positions_interval_ms)
{
	memset(r, 0, sizeof(*r));
	r->batch_messages = batch_messages ? batch_messages : 4096;
	r->positions_interval_ms = positions_interval_ms;
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
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void replicator_set_gateway(struct replicator *r, SSL_CTX *ctx, int timeout_ms)
{
	r->ctx = ctx;
	r->gw_timeout_ms = timeout_ms;
}

struct replica_key {
	char cluster[256], stream[256];
};

/*
 * Timestamp of the oldest unsent message of R (0 if none); no locks held.
 * TS[i] holds the timestamp of the message at FROM[i] where it is known
 * (the position's cache), else 0: only those are read, and filled in.
 */
static uint64_t oldest_pending(struct topic **topics, int n, const uint64_t *from,
			       uint64_t *ts)
{
	uint64_t oldest = 0;
	struct topic_batch b = { 0 };
	for (int i = 0; i < n; i++) {
		if (!ts[i] && from[i] < topic_end(topics[i]) &&
		    topic_read_batch(topics[i], from[i], 1, 1, &b) == 0 && b.n)
			ts[i] = b.msgs[0].timestamp_ns;
		if (ts[i] && (!oldest || ts[i] < oldest))
			oldest = ts[i];
	}
	topic_batch_free(&b);
	return oldest;
}

#define REPLICATOR_FRAME_MESSAGES 65536

/* Where one replica's messages go during one round. */
struct target {
	struct replicator_lane *lane;
	struct stream *t;	/* local replica (lane->gc == NULL), a reference */
	uuid_t uuid;		/* the replica stream's UUID */
	bool asked;		/* the replica was asked this round (not KNOWN) */
};

/*
 * Find the replica KEY of source S and check that it accepts S. Returns 0,
 * or a negative errno with ERR set.
 */
static int target_open(struct replicator_lane *lane, struct stream *s,
		       const struct replica_key *key, const uuid_t known,
		       struct target *tg, char *err, size_t errlen)
{
	struct sfs_namespace *ns = lane->rp->ns;
	memset(tg, 0, sizeof(*tg));
	tg->lane = lane;
	tg->asked = true;
	if (lane->gc && !uuid_is_null(known)) {
		tg->asked = false;
		/* No round trip: the gateway checks the allow-list and this
		 * UUID with every request (-ESTALE if the replica was
		 * re-created, after which KNOWN is not trusted again). */
		uuid_copy(tg->uuid, known);
		return 0;
	}
	if (lane->gc)
		return gwclient_open(lane->gc, s->cluster->name, s->name, key->stream,
				     tg->uuid, err, errlen);
	if (!ns_cluster(ns, key->cluster)) {
		snprintf(err, errlen, "cluster %.255s is not in this daemon's configuration",
			 key->cluster);
		return -ENOENT;
	}
	return apply_open(ns, s->cluster->name, s->name, key->cluster, key->stream,
			  &tg->t, tg->uuid, err, errlen);
}

/* Make sure topic SRC exists on the replica (an empty one too, docs/replication.md). */
static int target_topic(struct target *tg, struct stream *s,
			const struct replica_key *key, struct topic *src, char *err,
			size_t errlen)
{
	if (tg->lane->gc)
		return gwclient_topic(tg->lane->gc, s->cluster->name, s->name, key->stream,
				      tg->uuid, src->name, src->uid, src->gid, src->mode,
				      err, errlen);
	return apply_topic(tg->lane->rp->ns, tg->t, src->name, src->uid, src->gid,
			   src->mode, err, errlen);
}

/* Hand N messages of topic SRC to the replica, which drops what it has. */
static int target_append(struct target *tg, struct stream *s,
			 const struct replica_key *key, struct topic *src,
			 enum ctl_compression comp, const struct topic_msg *msgs,
			 size_t n, char *err, size_t errlen)
{
	/* At most REPLICATOR_FRAME_MESSAGES per frame: with the batch's bytes
	 * and one max_message, a frame stays under GW_FRAME_MAX_BODY whatever
	 * batch_messages is. */
	for (size_t at = 0; tg->lane->gc && at < n; at += REPLICATOR_FRAME_MESSAGES) {
		size_t k = n - at < REPLICATOR_FRAME_MESSAGES ? n - at : REPLICATOR_FRAME_MESSAGES;
		int rc = gwclient_append(tg->lane->gc, (enum gw_compression)comp,
					 s->cluster->name, s->name, key->stream, tg->uuid,
					 src->name, src->uid, src->gid, src->mode, msgs + at, k,
					 NULL, err, errlen);
		if (rc < 0 || at + k == n)
			return rc;
	}
	return apply_append(tg->lane->rp->ns, tg->t, src->name, src->uid, src->gid,
			    src->mode, msgs, n, NULL, err, errlen);
}

static void target_close(struct target *tg)
{
	if (tg->t)
		stream_put(tg->t);
	tg->t = NULL;
}

/*
 * Move KEY's position in topic SRC of S back to its start after the
 * replica answered -ENODATA to the batch sent from POS: at most once per
 * position (position_restart), so a source that lacks an origin's start
 * itself gets an error that shows, not a loop. Logged. True if moved.
 */
static bool restart_topic(struct stream *s, const struct replica_key *key, struct topic *src,
			  uint64_t pos)
{
	bool moved = false;
	pthread_mutex_lock(&s->lock);
	struct replica *r = replica_by_name(s, key->cluster, key->stream);
	struct replica_position *p = r ? position_find(r, src->name, src->uuid) : NULL;
	if (p && position_restart(p, pos)) {
		s->positions_dirty = true;
		moved = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (moved)
		log_info("/%s/%s: replica /%s/%s lacks the start of topic %s, or messages before "
			 "what was sent (made again there, or lost there?): sending it again from "
			 "its start", s->cluster->name, s->name, key->cluster, key->stream, src->name);
	return moved;
}

/* trc of a topic whose own source could not be read (a damaged message). */
#define TOPIC_SOURCE_ERROR 1
/* Topics refused in one round before the round stops (a replica refusing
 * every topic, out of space say, costs this many requests a round, not
 * one per topic of the stream). */
#define TOPIC_REFUSALS_PER_ROUND 16

/*
 * Is RC (a topic's request, or TOPIC_SOURCE_ERROR) about that topic alone:
 * the replica refused it (its mode, a batch that cannot be true, no room
 * for a topic) or its own log could not be read? Then ERR is kept in HELD
 * (the first one), cleared, and true returned, so the round goes on with
 * the other topics; a connection's failure, or too many refusals in one
 * round (*REFUSALS counts them), stops the round (false, ERR kept).
 */
static bool hold_refusal(int rc, char *err, char *held, size_t heldlen, int *refusals)
{
	bool topic_only = rc == TOPIC_SOURCE_ERROR || rc == -EACCES || rc == -EPROTO ||
			  rc == -ENODATA || rc == -ENOSPC;
	if (!topic_only || ++*refusals > TOPIC_REFUSALS_PER_ROUND)
		return false;
	if (!held[0])
		snprintf(held, heldlen, "%s", err);
	err[0] = 0;
	return true;
}

/*
 * Send what replica KEY of S has pending. Returns 1 if messages moved, 0 if
 * not, -1 if the replica is in an error state (retry on a timer).
 */
static int replicate_one(struct replicator_lane *lane, struct stream *s,
			 const struct replica_key *key, struct topic **topics,
			 int ntopics, struct topic_batch *b, struct topic_msg **keep,
			 size_t *keepcap)
{
	struct replicator *rp = lane->rp;
	char err[1200] = "";
	/* The first refusal of one topic: the round goes on with the others
	 * (a refused topic does not hold up the stream), and it shows at the
	 * end. Past TOPIC_REFUSALS_PER_ROUND of them the round stops. */
	char held[1200] = "";
	int refusals = 0;
	int moved = 0;
	uint64_t *from = calloc(ntopics ? ntopics : 1, sizeof(*from));
	uint64_t *ts = calloc(ntopics ? ntopics : 1, sizeof(*ts));
	if (!from || !ts) {
		free(from);
		free(ts);
		return -1;
	}

	pthread_mutex_lock(&s->lock);
	struct replica *r = replica_by_name(s, key->cluster, key->stream);
	bool paused = r ? r->conf.paused : true;
	enum ctl_compression comp = r ? r->conf.compression : CTL_COMP_OFF;
	/* The replica's UUID as last seen, trusted while it replicates well
	 * and for REPLICATOR_PROBE_MS: then it is asked again, so a remote
	 * replica deleted or re-created shows even while nothing is sent. */
	uuid_t known;
	uuid_clear(known);
	if (r && r->state != REPLICA_STATE_UNEXPECTED &&
	    now_ns() - r->checked_ns < REPLICATOR_PROBE_MS * 1000000ull)
		uuid_copy(known, r->target_uuid);
	pthread_mutex_unlock(&s->lock);
	if (!r)
		goto out;

	/* Paused: keep the position; only the status moves. */
	struct target tg = { 0 };
	bool open = !paused && target_open(lane, s, key, known, &tg, err, sizeof(err)) == 0;

	if (open) {
		pthread_mutex_lock(&s->lock);
		r = replica_by_name(s, key->cluster, key->stream);
		if (r && tg.asked)
			r->checked_ns = now_ns();
		/* Another stream than the pinned one (or, new, than the one
		 * its line named) may be taken only if a line named it. */
		bool pinned = r && uuid_compare(r->target_uuid, tg.uuid) &&
			      (r->conf.repin ? uuid_compare(r->conf.repin_uuid, tg.uuid) != 0
					     : !uuid_is_null(r->target_uuid));
		if (r)
			r->pin_refused = pinned;
		if (pinned) {
			/*
			 * Pinned: another stream now has the replica's name (it
			 * was removed and made again, maybe by someone else).
			 * Nothing goes to it until .replicas names it again:
			 * whoever can make a stream of that name must not get
			 * this stream's messages (docs/security.md).
			 */
			snprintf(err, sizeof(err),
				 "replica stream /mapr/%.255s/%.255s is not the stream this replica was set up with (it was removed and made again): nothing is sent to it until .replicas names it again",
				 key->cluster, key->stream);
		} else if (r && uuid_compare(r->target_uuid, tg.uuid)) {
			/* A new replica, or one named again: copy from the start. */
			uuid_copy(r->target_uuid, tg.uuid);
			r->npos = 0;
			r->pidx_n = (size_t)-1;
			r->copied = false;
			s->positions_dirty = true;
		}
		if (r && !err[0] && r->conf.repin) {
			r->conf.repin = false;
			uuid_clear(r->conf.repin_uuid);
			s->positions_dirty = true;
		}
		pthread_mutex_unlock(&s->lock);

		/* Each round starts TOPIC_REFUSALS_PER_ROUND topics further on:
		 * a round stopped by refused topics leaves the rest a turn in
		 * the next ones, so no set of refused topics starves the others. */
		int first = ntopics ? (int)((atomic_load(&s->repl_rounds) * TOPIC_REFUSALS_PER_ROUND) %
					    (uint64_t)ntopics) : 0;
		for (int i = 0; i < ntopics && r && !err[0]; i++) {
			struct topic *src = topics[(i + first) % ntopics];
			int trc = 0;	/* why this topic stopped, if it did */
			/*
			 * Every topic reaches the replica, an empty one too (docs/replication.md).
			 * Only before anything was sent: a topic deleted on the
			 * replica after that is not brought back empty (new
			 * messages create it again).
			 */
			pthread_mutex_lock(&s->lock);
			r = replica_by_name(s, key->cluster, key->stream);
			struct replica_position *p0 = r ? position_find(r, src->name, src->uuid) : NULL;
			bool need = p0 && !p0->on_replica && p0->offset == 0 && !r->conf.paused;
			pthread_mutex_unlock(&s->lock);
			if (need) {
				if ((trc = target_topic(&tg, s, key, src, err, sizeof(err))) < 0) {
					if (hold_refusal(trc, err, held, sizeof(held), &refusals))
						continue;
					break;
				}
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
				bool stop = !r || r->conf.paused || !p;
				pthread_mutex_unlock(&s->lock);
				if (stop || pos >= topic_end(src))
					break;
				int rc = topic_read_batch(src, pos, rp->batch_messages,
							  REPLICATOR_BATCH_BYTES, b);
				if (rc < 0 && b->n == 0) {
					snprintf(err, sizeof(err), "topic %s: offset %" PRIu64 " cannot be read: %s",
						 src->name, pos, strerror(-rc));
					trc = TOPIC_SOURCE_ERROR;
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
				/* Echo suppression (docs/replication.md): never back to the origin. */
				size_t nk = 0;
				for (size_t m = 0; m < b->n; m++)
					if (uuid_compare(b->msgs[m].origin_stream, tg.uuid))
						(*keep)[nk++] = b->msgs[m];
				if (nk) {
					int arc = target_append(&tg, s, key, src, comp, *keep, nk, err,
								sizeof(err));
					if (arc == -ENODATA && pos > 0 && restart_topic(s, key, src, pos)) {
						/* The replica's topic lacks an origin's start
						 * or messages before the batch (made again,
						 * lost there): the whole topic again, from 0. */
						err[0] = 0;
						continue;
					}
					if (arc < 0) {
						trc = arc;
						break;
					}
					stats_sent(*keep, nk);
					/* Applied, not yet acknowledged: a re-send must be dropped. */
					FAULT_POINT("repl-after-apply");
				}
				pthread_mutex_lock(&s->lock);
				r = replica_by_name(s, key->cluster, key->stream);
				p = r ? position_find(r, src->name, src->uuid) : NULL;
				if (p && p->offset == pos) {
					position_acked(p, b->next_offset, b->bytes + b->n);
					s->positions_dirty = true;
					/* Writers of synchronous replicas wait on this,
					 * on other daemons of its home too. */
					pthread_cond_broadcast(&s->applied);
					stream_status_changed(s, r->conf.synchronous);
				}
				pthread_mutex_unlock(&s->lock);
				/* Acknowledged in memory, not yet saved. */
				FAULT_POINT("repl-after-ack");
				moved = 1;
				/* A read error after some good messages: those went;
				 * the next round stops at the bad record. */
				if (rc < 0)
					break;
			}
			if (err[0])
				hold_refusal(trc, err, held, sizeof(held), &refusals);
		}
	}
	target_close(&tg);
	if (!err[0] && held[0])
		snprintf(err, sizeof(err), "%s", held);

	/* Status, whatever happened above: lag never shows as zero wrongly. */
	pthread_mutex_lock(&s->lock);
	r = replica_by_name(s, key->cluster, key->stream);
	bool done = false;
	if (r) {
		done = positions_pending(r, topics, ntopics) == 0;
		for (int i = 0; i < ntopics; i++) {
			struct replica_position *p = position_find(r, topics[i]->name, topics[i]->uuid);
			from[i] = p ? p->offset : 0;
			ts[i] = p && p->oldest_at == p->offset ? p->oldest_ns : 0;
		}
		if (err[0]) {
			replica_fail(s, r, err);
		} else if (r->conf.paused) {
			r->state = REPLICA_STATE_PAUSED;
		} else {
			if (done && !r->copied) {
				r->copied = true;
				s->positions_dirty = true;
			}
			if (done && r->degraded) {
				r->degraded = false;
				log_info("/%s/%s: synchronous replica /%s/%s has caught up: synchronous again",
					 s->cluster->name, s->name, r->conf.cluster, r->conf.stream);
			}
			replica_set_healthy(r);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (r && !done) {
		uint64_t oldest = oldest_pending(topics, ntopics, from, ts);
		pthread_mutex_lock(&s->lock);
		r = replica_by_name(s, key->cluster, key->stream);
		if (r) {
			r->oldest_pending_ns = oldest;
			/* Remember what was read, where the position has not moved. */
			for (int i = 0; i < ntopics; i++) {
				struct replica_position *p =
					position_find(r, topics[i]->name, topics[i]->uuid);
				if (p && p->offset == from[i] && ts[i]) {
					p->oldest_at = from[i];
					p->oldest_ns = ts[i];
				}
			}
		}
		pthread_mutex_unlock(&s->lock);
	} else if (r) {
		pthread_mutex_lock(&s->lock);
		r = replica_by_name(s, key->cluster, key->stream);
		if (r)
			r->oldest_pending_ns = 0;
		pthread_mutex_unlock(&s->lock);
	}
	stream_status_changed(s, false);
out:
	free(from);
	free(ts);
	if (err[0])
		return -1;
	return moved;
}

/* Is replica cluster CLUSTER this lane's? Remote clusters have their own
 * lane; the local lane takes the rest (unknown names too, to report them). */
static bool lane_serves(const struct replicator_lane *lane, const char *cluster)
{
	if (lane->cluster)
		return !strcmp(lane->cluster, cluster);
	struct cluster *cl = ns_cluster(lane->rp->ns, cluster);
	return !cl || !cl->remote;
}

/*
 * Save S's positions if they moved and, unless FORCE, the last save is at
 * least positions_interval_ms old: saving after every batch replaced a file
 * per message in live replication, and that cost the source's writers more
 * than the replication itself (docs/performance.md). Returns true if
 * positions were left unsaved for later.
 */
static bool save_positions(struct replicator *rp, struct stream *s, bool force)
{
	uint64_t gen, now = now_ns();
	json_t *snap = NULL;
	bool later = false;
	/* Only the daemon that runs the lanes writes the positions. */
	if (!positions_lanes_here(s, false))
		return false;
	pthread_mutex_lock(&s->lock);
	/* A deleted stream's directory is gone: nothing to save. */
	if (s->positions_dirty && !s->deleted && !force &&
	    now - s->positions_taken_ns < (uint64_t)rp->positions_interval_ms * 1000000)
		later = true;
	else if ((snap = positions_snapshot_locked(s, &gen)))
		s->positions_taken_ns = now;
	pthread_mutex_unlock(&s->lock);
	if (snap) {
		positions_write(s, snap, gen, rp->ns->cfg->fsync == SFS_FSYNC_ALWAYS);
		FAULT_POINT("repl-after-save");
	}
	return later;
}

/*
 * One pass over the streams this lane has something to do for: those whose
 * repl_gen moved since it last looked (an append, a topic made or removed,
 * a control-file write), all of them when the namespace's repl_gen_all
 * moved, and those whose time came (a retry, a probe, a positions save).
 * Streams with nothing to do cost two loads. Sets *NEXT_NS to the soonest
 * time a stream must be looked at again (UINT64_MAX: none).
 */
static bool round_all(struct replicator_lane *lane, uint64_t *next_ns)
{
	struct replicator *rp = lane->rp;
	struct stream **streams;
	bool moved = false;
	struct topic_batch b = { 0 };
	struct topic_msg *keep = NULL;
	size_t keepcap = 0;
	int li = (int)(lane - rp->lanes);
	uint64_t all = atomic_load(&rp->ns->repl_gen_all);
	bool every = all != lane->seen_all;
	*next_ns = UINT64_MAX;
	int ns = ns_streams_snapshot(rp->ns, &streams);
	if (ns < 0) {
		*next_ns = now_ns() + REPLICATOR_RETRY_MS * 1000000ull;
		return false;
	}
	for (int i = 0; i < ns; i++) {
		struct stream *s = streams[i];
		uint64_t gen = atomic_load(&s->repl_gen), now = now_ns();
		if (!every && gen == s->lane_gen[li] && now < s->lane_due_ns[li]) {
			if (s->lane_due_ns[li] < *next_ns)
				*next_ns = s->lane_due_ns[li];
			stream_put(s);
			continue;
		}
		s->lane_gen[li] = gen;
		if (!positions_lanes_here(s, true)) {
			/* Another daemon runs them: the lease's takeover wakes
			 * the lanes (repl_gen_all). */
			s->lane_due_ns[li] = UINT64_MAX;
			stream_put(s);
			continue;
		}
		bool errors = false, smoved = false;
		pthread_mutex_lock(&s->lock);
		int nr = 0;
		struct replica_key keys[STREAM_MAX_REPLICAS];
		for (int k = 0; k < (s->deleted ? 0 : s->nreplicas); k++) {
			if (!lane_serves(lane, s->replicas[k]->cluster))
				continue;
			memcpy(keys[nr].cluster, s->replicas[k]->cluster, 256);
			memcpy(keys[nr].stream, s->replicas[k]->stream, 256);
			nr++;
		}
		pthread_mutex_unlock(&s->lock);
		if (nr) {
			struct topic **topics;
			int nt = stream_topics_snapshot(s, &topics);
			if (nt >= 0) {
				for (int k = 0; k < nr; k++) {
					int rc = replicate_one(lane, s, &keys[k], topics, nt, &b,
							       &keep, &keepcap);
					if (rc > 0)
						smoved = true;
					if (rc < 0)
						errors = true;
				}
				for (int k = 0; k < nt; k++)
					topic_put(topics[k]);
				free(topics);
			} else {
				errors = true;	/* out of memory: again soon */
			}
			atomic_fetch_add(&s->repl_rounds, 1);
		}
		bool unsaved = save_positions(rp, s, false);
		/* When to look again without being told: at once while there is
		 * more to send (a round sends at most a few batches per topic),
		 * after the retry interval while a replica fails, after the probe
		 * interval for a remote one, when the positions are due to be
		 * saved; never otherwise. */
		now = now_ns();
		uint64_t due = UINT64_MAX;
		if (smoved)
			due = now;
		if (errors && now + REPLICATOR_RETRY_MS * 1000000ull < due)
			due = now + REPLICATOR_RETRY_MS * 1000000ull;
		if (nr && lane->gc && now + REPLICATOR_PROBE_MS * 1000000ull < due)
			due = now + REPLICATOR_PROBE_MS * 1000000ull;
		if (unsaved && now + (uint64_t)rp->positions_interval_ms * 1000000ull < due)
			due = now + (uint64_t)rp->positions_interval_ms * 1000000ull;
		s->lane_due_ns[li] = due;
		if (due < *next_ns)
			*next_ns = due;
		moved |= smoved;
		stream_put(s);
	}
	lane->seen_all = all;
	free(streams);
	free(keep);
	topic_batch_free(&b);
	return moved;
}

/* Wait on rp->cv (rp->mu held) for at most MS milliseconds. */
static void wait_ms(struct replicator *rp, int ms)
{
	LOCK_ASSERT_HELD(&rp->mu);
	struct timespec ts = clock_deadline(CLOCK_MONOTONIC, (uint64_t)(ms > 0 ? ms : 0));
	pthread_cond_timedwait(&rp->cv, &rp->mu, &ts);
}

static void *lane_main(void *arg)
{
	struct replicator_lane *lane = arg;
	struct replicator *rp = lane->rp;
	pthread_mutex_lock(&rp->mu);
	while (!rp->stop) {
		uint64_t seen = rp->gen;
		pthread_mutex_unlock(&rp->mu);
		uint64_t next_ns;
		bool moved = round_all(lane, &next_ns);
		int down_ms = lane->gc && !moved ? gwclient_backoff_ms(lane->gc) : 0;
		pthread_mutex_lock(&rp->mu);
		if (rp->stop)
			break;
		if (down_ms) {
			/* The gateway is unreachable: new appends cannot go
			 * anywhere either, so sleep out the backoff. */
			wait_ms(rp, down_ms);
			continue;
		}
		if (moved || rp->gen != seen)
			continue;
		/* Idle: sleep until woken, or until a stream is due (a retry, a
		 * probe, a positions save), whichever comes first. */
		if (next_ns == UINT64_MAX) {
			pthread_cond_wait(&rp->cv, &rp->mu);
		} else {
			uint64_t now = now_ns();
			int ms = next_ns <= now ? 0 : (int)((next_ns - now + 999999) / 1000000);
			if (ms > 0)
				wait_ms(rp, ms);
		}
	}
	pthread_mutex_unlock(&rp->mu);
	return NULL;
}

int replicator_start(struct replicator *r, struct sfs_namespace *ns)
{
	r->ns = ns;
	r->nlanes = 0;
	if (!(r->fspool = gwpool_new(ns->cfg, r->ctx, r->gw_timeout_ms)))
		return -ENOMEM;
	r->lanes[r->nlanes++] = (struct replicator_lane){ .rp = r };
	for (int i = 0; i < ns->nclusters; i++) {
		struct cluster *cl = &ns->clusters[i];
		const struct sfs_cluster_conf *cc = config_find_cluster(ns->cfg, cl->name);
		if (!cl->remote || !cc || !cc->gateway || !r->ctx)
			continue;
		struct replicator_lane *lane = &r->lanes[r->nlanes];
		*lane = (struct replicator_lane){ .rp = r, .cluster = cl->name };
		lane->gc = gwclient_new(r->ctx, cl->name, cc->gateway, r->gw_timeout_ms);
		if (!lane->gc) {
			replicator_stop(r);
			return -ENOMEM;
		}
		r->nlanes++;
	}
	for (int i = 0; i < r->nlanes; i++) {
		int rc = pthread_create(&r->lanes[i].thread, NULL, lane_main, &r->lanes[i]);
		if (rc) {
			replicator_stop(r);
			return -rc;
		}
		r->lanes[i].started = true;
	}
	return 0;
}

void replicator_stop(struct replicator *r)
{
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	/* A lane waiting on a stalled gateway gives up at once. */
	for (int i = 0; i < r->nlanes; i++)
		if (r->lanes[i].gc)
			gwclient_interrupt(r->lanes[i].gc);
	for (int i = 0; i < r->nlanes; i++) {
		if (r->lanes[i].started)
			pthread_join(r->lanes[i].thread, NULL);
		r->lanes[i].started = false;
		gwclient_free(r->lanes[i].gc);
		r->lanes[i].gc = NULL;
	}
	r->nlanes = 0;
	/* No user's file operation runs any more (the FUSE loop has ended). */
	gwpool_interrupt(r->fspool);
	gwpool_free(r->fspool);
	r->fspool = NULL;
	/* The lanes are gone: save what they left for later. */
	struct stream **streams;
	int n = r->ns ? ns_streams_snapshot(r->ns, &streams) : -1;
	for (int i = 0; i < n; i++) {
		save_positions(r, streams[i], true);
		stream_put(streams[i]);
	}
	if (n >= 0)
		free(streams);
}
