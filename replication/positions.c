/*
 * positions.c - load and save replication positions (positions.h).
 */
#include "positions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "../fs/logging.h"
#include "../fs/metafile.h"
#include "../fs/namespace.h"
#include "../fs/util/lockcheck.h"
#include "util/clock.h"


/*
 * The positions of a replica are found by topic name through an
 * open-addressing hash index (r->pidx, a power of two of slots, at most
 * half full), so that a round over many topics costs one probe each, not
 * a search of every position (11,850 topics took a lane 3.7 s a round).
 */
static size_t name_slot(const char *topic, size_t cap)
{
	return XXH32(topic, strlen(topic), 0) & (cap - 1);
}

/* Build R's index for its NPOS positions. Returns 0 or -ENOMEM. */
static int index_build(struct replica *r)
{
	size_t cap = 16;
	while (cap < 2 * r->npos + 2)
		cap *= 2;
	uint32_t *v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < r->npos; i++) {
		size_t k = name_slot(r->pos[i].topic, cap);
		while (v[k])
			k = (k + 1) & (cap - 1);
		v[k] = (uint32_t)i + 1;
	}
	free(r->pidx);
	r->pidx = v;
	r->pidx_cap = cap;
	r->pidx_n = r->npos;
	return 0;
}

struct replica_position *position_find(struct replica *r, const char *topic,
				       const uuid_t incarnation)
{
	if ((!r->pidx || r->pidx_n != r->npos) && index_build(r) < 0)
		return NULL;
	size_t k = name_slot(topic, r->pidx_cap);
	for (; r->pidx[k]; k = (k + 1) & (r->pidx_cap - 1)) {
		struct replica_position *p = &r->pos[r->pidx[k] - 1];
		if (strcmp(p->topic, topic))
			continue;
		if (uuid_compare(p->incarnation, incarnation)) {
			uuid_copy(p->incarnation, incarnation);
			p->offset = p->vpos = 0;
			p->on_replica = false;
			p->oldest_ns = 0;
			p->restart_at = 0;
		}
		return p;
	}
	if (r->npos == r->poscap) {
		size_t cap = r->poscap ? r->poscap * 2 : 8;
		struct replica_position *v = realloc(r->pos, cap * sizeof(*v));
		if (!v)
			return NULL;
		r->pos = v;
		r->poscap = cap;
	}
	struct replica_position *p = &r->pos[r->npos++];
	memset(p, 0, sizeof(*p));
	snprintf(p->topic, sizeof(p->topic), "%s", topic);
	uuid_copy(p->incarnation, incarnation);
	/* Into the index: K is the empty slot the search ended on. */
	if (2 * r->npos + 2 > r->pidx_cap) {
		if (index_build(r) < 0)
			r->pidx_n = (size_t)-1; /* found by a build at the next call */
	} else {
		r->pidx[k] = (uint32_t)(r->npos - 1) + 1;
		r->pidx_n = r->npos;
	}
	return p;
}

bool position_restart(struct replica_position *p, uint64_t pos)
{
	/* Once per position: a second such answer at or before the one that
	 * moved it (the source itself lacks the start) is not another round. */
	if (p->offset != pos || pos <= p->restart_at)
		return false;
	p->restart_at = pos;
	p->offset = 0;
	p->vpos = 0;
	p->oldest_at = p->oldest_ns = 0;
	p->moved_ns = mono_ns();
	return true;
}

void position_acked(struct replica_position *p, uint64_t next, uint64_t bytes)
{
	p->offset = next;
	p->vpos += bytes;
	p->moved_ns = mono_ns();
	if (p->restart_at && p->offset > p->restart_at)
		p->restart_at = 0;	/* got past it */
}

static struct replica *find_replica(struct stream *s, const char *key)
{
	for (int i = 0; i < s->nreplicas; i++) {
		char k[520];
		snprintf(k, sizeof(k), "%s/%s", s->replicas[i]->cluster,
			 s->replicas[i]->stream);
		if (!strcmp(k, key))
			return replica_of(s->replicas[i]);
	}
	return NULL;
}

int positions_load(struct stream *s)
{
	json_t *j;
	int rc = s->ops->positions_read(s, &j);
	if (rc == -ENOENT)
		return 0;
	if (rc == -EINVAL)	/* the home logged what is wrong with it */
		log_warn("/%s/%s: replication positions unreadable: its replicas are sent everything again (what they have is dropped)",
			 s->cluster->name, s->name);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v) {
		struct replica *r = find_replica(s, key);
		if (!r)
			continue;
		if (uuid_parse(meta_str(v, "uuid", ""), r->target_uuid) < 0)
			uuid_clear(r->target_uuid);
		r->copied = meta_bool(v, "copied", false);
		/* A pin to take names its stream (an older version left it
		 * null for a remote replica: the next one found; not now). */
		if (uuid_parse(meta_str(v, "repin_uuid", ""), r->conf.repin_uuid) < 0)
			uuid_clear(r->conf.repin_uuid);
		r->conf.repin = meta_bool(v, "repin", false) &&
				!uuid_is_null(r->conf.repin_uuid);
		const char *tname;
		json_t *tv;
		json_object_foreach(json_object_get(v, "topics"), tname, tv) {
			uuid_t inc;
			if (uuid_parse(meta_str(tv, "incarnation", ""), inc) < 0)
				continue;
			struct replica_position *p = position_find(r, tname, inc);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			p->offset = meta_int(tv, "offset", 0);
			p->vpos = meta_int(tv, "vpos", 0);
		}
		/* A state another daemon published stays (replstatus.c):
		 * the lanes here set their own at their first pass. */
		if (!r->conf.paused && !r->imported)
			r->state = r->copied ? REPLICA_STATE_REPLICATING :
					       REPLICA_STATE_COPY_IN_PROGRESS;
	}
	pthread_mutex_unlock(&s->lock);
	json_decref(j);
	return rc;
}

json_t *positions_snapshot_locked(struct stream *s, uint64_t *gen)
{
	LOCK_ASSERT_HELD(&s->lock);
	if (!s->positions_dirty || s->deleted)
		return NULL;
	json_t *root = json_object();
	if (!root)
		return NULL;
	for (int i = 0; i < s->nreplicas; i++) {
		struct replica *r = replica_of(s->replicas[i]);
		char key[520], u[37];
		snprintf(key, sizeof(key), "%s/%s", r->conf.cluster, r->conf.stream);
		uuid_unparse(r->target_uuid, u);
		json_t *topics = json_object();
		for (size_t k = 0; k < r->npos; k++) {
			char inc[37];
			uuid_unparse(r->pos[k].incarnation, inc);
			json_object_set_new(topics, r->pos[k].topic,
				json_pack("{s:s, s:I, s:I}", "incarnation", inc,
					  "offset", (json_int_t)r->pos[k].offset,
					  "vpos", (json_int_t)r->pos[k].vpos));
		}
		char ru[37] = "";
		if (!uuid_is_null(r->conf.repin_uuid))
			uuid_unparse(r->conf.repin_uuid, ru);
		json_object_set_new(root, key, json_pack("{s:s, s:b, s:b, s:s, s:o}", "uuid", u,
							 "copied", r->copied, "repin", r->conf.repin,
							 "repin_uuid", ru, "topics", topics));
	}
	s->positions_dirty = false;
	*gen = ++s->positions_gen;
	return root;
}

int positions_write(struct stream *s, json_t *snap, uint64_t gen, bool durable)
{
	int rc = 0;
	pthread_mutex_lock(&s->positions_mu);
	/* Two lanes may save one stream: never put an older picture over a
	 * newer one. */
	/* s->deleted is set under positions_mu too: read safely here. */
	bool deleted = s->deleted;
	if (gen > s->positions_written && !deleted)
		rc = s->ops->positions_replace(s, snap, durable);
	if (rc == 0 && gen > s->positions_written)
		s->positions_written = gen;
	/* A home away (NATS, docs/nats.md "When NATS is away") is told once
	 * per outage, as a warning: nothing is lost, the next round saves. */
	bool was_away = s->positions_away;
	if (rc == 0 || rc == -EAGAIN)
		s->positions_away = rc == -EAGAIN;
	pthread_mutex_unlock(&s->positions_mu);
	json_decref(snap);
	if (rc == 0 && was_away)
		log_info("/%s/%s: replication positions saved again", s->cluster->name,
			 s->name);
	if (rc < 0) {
		pthread_mutex_lock(&s->lock);
		deleted = s->deleted;
		if (!deleted)
			s->positions_dirty = true;	/* the next round tries again */
		pthread_mutex_unlock(&s->lock);
		/* A stream deleted meanwhile has no directory to write to. */
		if (!deleted && rc == -EAGAIN && !was_away)
			log_warn("/%s/%s: replication positions not saved: its cluster's store "
				 "cannot be reached now; tried again every positions_interval_ms "
				 "(a stop before then: replication resumes from the last save, "
				 "and the replicas drop what they hold already)",
				 s->cluster->name, s->name);
		else if (!deleted && rc != -EAGAIN)
			log_error("/%s/%s: cannot save replication positions: %s",
				  s->cluster->name, s->name, strerror(-rc));
	}
	return rc;
}

uint64_t positions_pending(struct replica *r, struct topic **topics, int n)
{
	uint64_t msgs = 0, bytes = 0;
	for (int i = 0; i < n; i++) {
		uint64_t end, vend;
		topic_stat(topics[i], &end, &vend, NULL);
		struct replica_position *p = position_find(r, topics[i]->name,
							   topics[i]->uuid);
		if (p && end > p->offset) {
			msgs += end - p->offset;
			bytes += vend - p->vpos;
		}
	}
	r->pending_msgs = msgs;
	r->pending_bytes = bytes;
	return msgs;
}

bool positions_lanes_here(struct stream *s, bool load)
{
	if (!s->ops->lanes_epoch)
		return true;
	uint64_t ep = s->ops->lanes_epoch(s);
	if (!ep)
		return false;
	if (load && atomic_exchange(&s->lanes_epoch_seen, ep) != ep) {
		int rc = positions_load(s);
		if (rc < 0)
			log_warn("/%s/%s: replication positions not loaded after a takeover: %s",
				 s->cluster->name, s->name, strerror(-rc));
	}
	return true;
}
