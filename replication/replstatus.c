/*
 * replstatus.c - owns the status of a stream's replicas as JSON, for a
 * home that several daemons serve (replica.h, replstatus_export and
 * replstatus_import; the hooks status_export and status_import of
 * fs/replhooks.h). The daemon that runs the stream's lanes exports it;
 * its home publishes it, and every other daemon imports it, so that
 * .replicas, .info and maprcli show the same state, counts, error and
 * degraded flag everywhere, and a write there that waits for a
 * synchronous replica sees that replica's positions move (docs/nats.md,
 * "Replication status on every daemon").
 *
 * What goes: per replica (by cluster and stream name) its pinned UUID,
 * state, copied, degraded, last error and its time, the oldest pending
 * time, the pending counts as the lanes last computed them, and, for a
 * synchronous replica that is not paused, the positions that moved in
 * the last REPLSTATUS_RECENT_MS (at most REPLSTATUS_MAX_TOPICS of them):
 * a writer waits for a topic it has just written, whose position is
 * moving. A status lost on its way is made good by the next one, which
 * names the same positions.
 *
 * A daemon whose write timed out waiting for a synchronous replica
 * sends its status the other way, as a notice ("notice": true): the
 * daemon that runs the lanes takes only the degraded flags from it, so
 * that the replica is degraded on every daemon, as it is cleared on
 * every daemon once the lanes have caught up.
 *
 * Why importing positions is safe: a position only says how far the
 * replica has applied; the exporter's are never ahead of what the
 * replica holds, so neither are the ones taken from it. When this
 * daemon takes the lanes over it loads the saved positions anyway
 * (positions_lanes_here).
 */
#include "replica.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../fs/logging.h"
#include "../fs/metafile.h"
#include "../fs/namespace.h"
#include "../fs/stream.h"
#include "../fs/util/lockcheck.h"
#include "../fs/util/safetext.h"
#include "positions.h"
#include "util/clock.h"

/* A synchronous replica's positions that moved this lately go along (ms),
 * at most this many per replica. */
#define REPLSTATUS_RECENT_MS 3000
#define REPLSTATUS_MAX_TOPICS 512

/* The replicaState NAME stands for, or -1. */
static int state_parse(const char *name)
{
	for (int st = REPLICA_STATE_COPY_IN_PROGRESS; st <= REPLICA_STATE_UNEXPECTED; st++)
		if (name && !strcmp(name, replica_state_name((enum replica_state)st)))
			return st;
	return -1;
}

/* R's recently moved positions, as {topic: [incarnation, offset, vpos]}. */
static json_t *recent_positions(const struct replica *r, uint64_t now)
{
	json_t *t = json_object();
	size_t n = 0;
	for (size_t k = 0; t && k < r->npos && n < REPLSTATUS_MAX_TOPICS; k++) {
		const struct replica_position *p = &r->pos[k];
		if (!p->moved_ns || now - p->moved_ns > (uint64_t)REPLSTATUS_RECENT_MS * 1000000)
			continue;
		char inc[37];
		uuid_unparse(p->incarnation, inc);
		json_object_set_new(t, p->topic, json_pack("[s, I, I]", inc, (json_int_t)p->offset,
							   (json_int_t)p->vpos));
		n++;
	}
	return t;
}

json_t *replstatus_export(struct stream *s)
{
	LOCK_ASSERT_HELD(&s->lock);
	json_t *reps = json_array();
	uint64_t now = mono_ns();
	for (int i = 0; reps && i < s->nreplicas; i++) {
		const struct replica *r = replica_of(s->replicas[i]);
		char u[37];
		uuid_unparse(r->target_uuid, u);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:I, s:I, s:I, s:I}",
				      "cluster", r->conf.cluster, "stream", r->conf.stream,
				      "uuid", u, "state", replica_state_name(r->state),
				      "copied", r->copied, "degraded", r->degraded,
				      "error", r->last_error,
				      "errorNs", (json_int_t)r->last_error_ns,
				      "oldestNs", (json_int_t)r->oldest_pending_ns,
				      "pending", (json_int_t)r->pending_msgs,
				      "bytes", (json_int_t)r->pending_bytes);
		if (o && r->conf.synchronous && !r->conf.paused)
			json_object_set_new(o, "topics", recent_positions(r, now));
		if (!o || json_array_append_new(reps, o) < 0) {
			json_decref(reps);
			return NULL;
		}
	}
	return reps ? json_pack("{s:i, s:o}", "format", 1, "replicas", reps) : NULL;
}

/* Positions of R from TOPICS ({topic: [incarnation, offset, vpos]}). */
static void import_positions(struct replica *r, json_t *topics)
{
	const char *name;
	json_t *v;
	json_object_foreach(topics, name, v) {
		uuid_t inc;
		const char *is = json_string_value(json_array_get(v, 0));
		if (!is || uuid_parse(is, inc) < 0 || !json_is_integer(json_array_get(v, 1)))
			continue;
		/* A position of another incarnation starts again at it. */
		struct replica_position *p = position_find(r, name, inc);
		if (!p)
			continue;
		p->offset = (uint64_t)json_integer_value(json_array_get(v, 1));
		p->vpos = (uint64_t)json_integer_value(json_array_get(v, 2));
	}
}

/* Replica R's status from V (one entry of an exported status). */
static void import_one(struct stream *s, struct replica *r, json_t *v)
{
	uuid_t u;
	const char *us = meta_str(v, "uuid", "");
	if (uuid_parse(us, u) == 0 && !uuid_is_null(u) && uuid_compare(u, r->target_uuid)) {
		/* Pinned to another stream there: positions here mean nothing. */
		uuid_copy(r->target_uuid, u);
		r->npos = 0;
		r->pidx_n = (size_t)-1;
	}
	r->copied = meta_bool(v, "copied", r->copied);
	int st = state_parse(meta_str(v, "state", ""));
	/* This daemon's own settings first: a pause written here shows at
	 * once, as replica_configured makes it. */
	if (r->conf.paused)
		r->state = REPLICA_STATE_PAUSED;
	else if (st == REPLICA_STATE_PAUSED || st < 0)
		r->state = r->copied ? REPLICA_STATE_REPLICATING : REPLICA_STATE_COPY_IN_PROGRESS;
	else
		r->state = (enum replica_state)st;
	/* another daemon's words: .info must render them */
	safetext(r->last_error, sizeof(r->last_error), meta_str(v, "error", ""));
	r->last_error_ns = (uint64_t)meta_int(v, "errorNs", 0);
	r->oldest_pending_ns = (uint64_t)meta_int(v, "oldestNs", 0);
	r->pending_msgs = (uint64_t)meta_int(v, "pending", 0);
	r->pending_bytes = (uint64_t)meta_int(v, "bytes", 0);
	import_positions(r, json_object_get(v, "topics"));
	/* Degraded there: degraded here. Degraded here (a write here timed
	 * out): until the lanes have caught up, as they clear it there. */
	if (meta_bool(v, "degraded", false)) {
		r->degraded = true;
	} else if (r->degraded && r->pending_msgs == 0 && r->state != REPLICA_STATE_UNEXPECTED) {
		r->degraded = false;
		log_info("/%s/%s: synchronous replica /%s/%s has caught up: synchronous again",
			 s->cluster->name, s->name, r->conf.cluster, r->conf.stream);
	}
	r->imported = true;
}

/* A notice from a daemon whose write timed out (NOTICE of the status):
 * the replicas it names degraded are degraded here, the lanes' daemon,
 * and so everywhere; the lanes look at once, to clear it if they have
 * caught up meanwhile. */
static void import_notice(struct stream *s, json_t *status)
{
	size_t i;
	json_t *v;
	bool any = false;
	json_array_foreach(json_object_get(status, "replicas"), i, v) {
		struct replica *r = replica_by_name(s, meta_str(v, "cluster", ""),
						    meta_str(v, "stream", ""));
		if (!r || r->degraded || !r->conf.synchronous || !meta_bool(v, "degraded", false))
			continue;
		r->degraded = true;
		any = true;
		log_warn("/%s/%s: synchronous replica /%s/%s: a write on another daemon timed out waiting for it: degraded, replicating asynchronously until it catches up",
			 s->cluster->name, s->name, r->conf.cluster, r->conf.stream);
	}
	if (any) {
		stream_status_changed(s, false);
		stream_touch_replication(s);
	}
}

void replstatus_import(struct stream *s, json_t *status)
{
	LOCK_ASSERT_HELD(&s->lock);
	if (meta_int(status, "format", 0) != 1)
		return;
	if (meta_bool(status, "notice", false)) {
		import_notice(s, status);
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(status, "replicas"), i, v) {
		struct replica *r = replica_by_name(s, meta_str(v, "cluster", ""),
						    meta_str(v, "stream", ""));
		if (r)
			import_one(s, r, v);
	}
	/* Writers of synchronous replicas wait on this. */
	pthread_cond_broadcast(&s->applied);
}
