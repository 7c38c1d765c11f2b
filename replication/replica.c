/*
 * replica.c - owns the life of a replica object (replica.h) and
 * replication's answers to the filesystem's hooks (fs/replhooks.h): making
 * and freeing replicas, their state after a .replicas change, their status,
 * a deleted topic's positions, and the synchronous wait.
 */
#include "replica.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fs/config.h"
#include "../fs/namespace.h"
#include "../fs/stream.h"
#include "gwclient.h"
#include "positions.h"
#include "replicator.h"
#include "syncwait.h"
#include "../fs/util/lockcheck.h"
#include "../fs/util/safetext.h"
#include "../fs/logging.h"
#include "util/clock.h"

const char *replica_state_name(enum replica_state st)
{
	switch (st) {
	case REPLICA_STATE_COPY_IN_PROGRESS:
		return "REPLICA_STATE_COPY_IN_PROGRESS";
	case REPLICA_STATE_REPLICATING:
		return "REPLICA_STATE_REPLICATING";
	case REPLICA_STATE_PAUSED:
		return "REPLICA_STATE_PAUSED";
	case REPLICA_STATE_UNEXPECTED:
		return "REPLICA_STATE_UNEXPECTED";
	}
	return "REPLICA_STATE_UNEXPECTED";
}

struct replica *replica_by_name(struct stream *s, const char *cluster, const char *stream)
{
	LOCK_ASSERT_HELD(&s->lock);
	for (int i = 0; i < s->nreplicas; i++)
		if (!strcmp(s->replicas[i]->cluster, cluster) &&
		    !strcmp(s->replicas[i]->stream, stream))
			return replica_of(s->replicas[i]);
	return NULL;
}

struct replica *replica_new(void)
{
	_Static_assert(offsetof(struct replica, conf) == 0, "replica_of needs conf first");
	struct replica *r = calloc(1, sizeof(*r));
	if (r)
		r->state = REPLICA_STATE_COPY_IN_PROGRESS;
	return r;
}

void replica_free(struct replica *r)
{
	if (!r)
		return;
	free(r->pos);
	free(r->pidx);
	free(r);
}

static struct replica_conf *hook_replica_new(void *arg)
{
	(void)arg;
	struct replica *r = replica_new();
	return r ? &r->conf : NULL;
}

static void hook_replica_free(void *arg, struct replica_conf *rc)
{
	(void)arg;
	if (rc)
		replica_free(replica_of(rc));
}

void replica_set_healthy(struct replica *r)
{
	r->state = r->copied ? REPLICA_STATE_REPLICATING : REPLICA_STATE_COPY_IN_PROGRESS;
	r->last_error[0] = 0;
	r->last_error_ns = 0;
}

void replica_fail(struct stream *s, struct replica *r, const char *text)
{
	char msg[sizeof(r->last_error)];
	safetext(msg, sizeof(msg), text);
	if (r->state != REPLICA_STATE_UNEXPECTED || strcmp(r->last_error, msg))
		log_warn("/%s/%s: replica /%s/%s: %s", s->cluster->name, s->name,
			 r->conf.cluster, r->conf.stream, msg);
	snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
	r->last_error_ns = now_ns();
	r->state = REPLICA_STATE_UNEXPECTED;
}

/* Paused shows as PAUSED; resumed, it goes back to where it was. */
static void hook_replica_configured(void *arg, struct replica_conf *rc)
{
	(void)arg;
	struct replica *r = replica_of(rc);
	/* A naming made while paused takes nothing: the stream under the
	 * name can change before the resume (docs/security.md). A new
	 * replica (pinned to nothing yet) keeps the stream its line named. */
	if (rc->paused && !uuid_is_null(r->target_uuid)) {
		rc->repin = false;
		uuid_clear(rc->repin_uuid);
	}
	if (rc->paused)
		r->state = REPLICA_STATE_PAUSED;
	else if (r->state == REPLICA_STATE_PAUSED)
		r->state = r->copied ? REPLICA_STATE_REPLICATING : REPLICA_STATE_COPY_IN_PROGRESS;
}

static void hook_replica_status(void *arg, struct stream *s, struct replica_conf *rc,
				struct topic **topics, int nt, struct replica_status *out)
{
	LOCK_ASSERT_HELD(&s->lock);
	(void)arg;
	struct replica *r = replica_of(rc);
	/* Another daemon runs the lanes: what it published (replstatus.c). */
	if (!r->imported || positions_lanes_here(s, false))
		positions_pending(r, topics, nt);
	out->state = replica_state_name(r->state);
	out->uptodate = r->pending_msgs == 0 && r->state != REPLICA_STATE_UNEXPECTED;
	out->degraded = r->degraded;
	out->pending_msgs = r->pending_msgs;
	out->pending_bytes = r->pending_bytes;
	out->oldest_pending_ns = r->oldest_pending_ns;
	out->last_error = r->last_error;
	out->last_error_ns = r->last_error_ns;
}

/* Positions of a deleted topic mean nothing to its next incarnation. */
static void hook_topic_deleted(void *arg, struct stream *s, const char *name)
{
	LOCK_ASSERT_HELD(&s->lock);
	(void)arg;
	for (int i = 0; i < s->nreplicas; i++) {
		struct replica *r = replica_of(s->replicas[i]);
		for (size_t p = 0; p < r->npos; p++)
			if (!strcmp(r->pos[p].topic, name)) {
				r->pos[p] = r->pos[--r->npos];
				r->pidx_n = (size_t)-1;	/* the index is built again */
				s->positions_dirty = true;
				break;
			}
	}
}

/*
 * Which stream has the name of remote replica CLUSTER/STREAM of S now, and
 * does it accept S: asked on a connection of its own (the lane's may be
 * busy with a batch, or backing off), only while the replica is refused
 * for its pin, so that a line naming it takes that stream and no later one
 * (docs/security.md).
 */
static int hook_replica_lookup(void *arg, struct stream *s, const char *cluster,
			       const char *stream, uuid_t out, char *err, size_t errlen)
{
	struct replicator *rp = arg;
	pthread_mutex_lock(&s->lock);
	struct replica *r = replica_by_name(s, cluster, stream);
	bool refused = r && r->pin_refused && !r->conf.paused;
	pthread_mutex_unlock(&s->lock);
	if (!refused)
		return -EALREADY;
	const struct sfs_cluster_conf *cc = rp->ns ? config_find_cluster(rp->ns->cfg, cluster)
						   : NULL;
	if (!rp->ctx || !cc || !cc->gateway) {
		snprintf(err, errlen, "cluster %s has no gateway this daemon can reach", cluster);
		return -EHOSTUNREACH;
	}
	struct replicator_lane *lane = NULL;
	for (int i = 0; i < rp->nlanes && !lane; i++)
		if (rp->lanes[i].cluster && !strcmp(rp->lanes[i].cluster, cluster))
			lane = &rp->lanes[i];
	if (!lane) {
		snprintf(err, errlen, "cluster %s has no gateway this daemon can reach", cluster);
		return -EHOSTUNREACH;
	}
	if (atomic_exchange(&lane->looking, true)) {
		snprintf(err, errlen, "its gateway is being asked for another line: write it again");
		return -EBUSY;
	}
	int rc = -ENOMEM;
	struct gwclient *gc = gwclient_new(rp->ctx, cluster, cc->gateway, rp->gw_timeout_ms);
	if (gc)
		rc = gwclient_open(gc, s->cluster->name, s->name, stream, out, err, errlen);
	else
		snprintf(err, errlen, "out of memory");
	gwclient_free(gc);
	atomic_store(&lane->looking, false);
	return rc;
}

static int hook_sync_wait(void *arg, struct stream *s, struct topic *t, uint64_t upto,
			  uint64_t timeout_ms, bool (*interrupted)(void *iarg), void *iarg)
{
	(void)arg;
	return sync_wait(s, t, upto, timeout_ms, interrupted, iarg);
}

/* A remote cluster is reachable when its lane's gateway client is
 * connected, or, when the lane never tried, the connections of its users'
 * file operations (gwpool.h) say so. */
static int hook_cluster_reachable(void *arg, const char *name, char *why, size_t n)
{
	struct replicator *rp = arg;
	int r = -1;
	for (int i = 0; rp && i < rp->nlanes; i++)
		if (rp->lanes[i].gc && rp->lanes[i].cluster && !strcmp(rp->lanes[i].cluster, name))
			r = gwclient_reachable(rp->lanes[i].gc, why, n);
	if (r < 0 && rp)
		r = gwpool_reachable(rp->fspool, name, why, n);
	return r;
}

/* A user's file operation on a remote cluster: one of the pool's
 * connections (gwpool.h). */
static int hook_fs_call(void *arg, const struct fs_req *q, struct fs_rep *rep,
			bool (*interrupted)(void *), void *iarg, char *err, size_t errlen)
{
	struct replicator *rp = arg;
	return gwpool_call(rp->fspool, q, rep, interrupted, iarg, err, errlen);
}

static json_t *hook_status_export(void *arg, struct stream *s)
{
	(void)arg;
	return replstatus_export(s);
}

static void hook_status_import(void *arg, struct stream *s, json_t *status)
{
	(void)arg;
	replstatus_import(s, status);
}

const struct repl_hooks replication_hooks = {
	.wake = replicator_wake,
	.replica_new = hook_replica_new,
	.replica_free = hook_replica_free,
	.replica_configured = hook_replica_configured,
	.replica_status = hook_replica_status,
	.topic_deleted = hook_topic_deleted,
	.sync_wait = hook_sync_wait,
	.cluster_reachable = hook_cluster_reachable,
	.replica_lookup = hook_replica_lookup,
	.fs_call = hook_fs_call,
	.status_export = hook_status_export,
	.status_import = hook_status_import,
};
