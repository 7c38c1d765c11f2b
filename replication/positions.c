/*
 * positions.c - load and save replication positions (positions.h).
 */
#include "positions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fs/logging.h"
#include "../fs/metafile.h"
#include "../fs/namespace.h"

#define POSITIONS_FILE ".positions.json"

struct replica_position *position_find(struct replica *r, const char *topic,
				       const uuid_t incarnation)
{
	for (size_t i = 0; i < r->npos; i++) {
		struct replica_position *p = &r->pos[i];
		if (strcmp(p->topic, topic))
			continue;
		if (uuid_compare(p->incarnation, incarnation)) {
			uuid_copy(p->incarnation, incarnation);
			p->offset = p->vpos = 0;
			p->on_replica = false;
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
	return p;
}

static struct replica *find_replica(struct stream *s, const char *key)
{
	for (int i = 0; i < s->nreplicas; i++) {
		char k[520];
		snprintf(k, sizeof(k), "%s/%s", s->replicas[i]->cluster,
			 s->replicas[i]->stream);
		if (!strcmp(k, key))
			return s->replicas[i];
	}
	return NULL;
}

int positions_load(struct stream *s)
{
	json_t *j;
	int rc = metafile_read(s->dirfd, POSITIONS_FILE, &j);
	if (rc == -ENOENT)
		return 0;
	if (rc == -EINVAL)	/* metafile_read logged what is wrong with it */
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
		r->repin = meta_bool(v, "repin", false);
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
		if (!r->paused)
			r->state = r->copied ? REPLICA_STATE_REPLICATING :
					       REPLICA_STATE_COPY_IN_PROGRESS;
	}
	pthread_mutex_unlock(&s->lock);
	json_decref(j);
	return rc;
}

json_t *positions_snapshot_locked(struct stream *s, uint64_t *gen)
{
	if (!s->positions_dirty || s->deleted)
		return NULL;
	json_t *root = json_object();
	if (!root)
		return NULL;
	for (int i = 0; i < s->nreplicas; i++) {
		struct replica *r = s->replicas[i];
		char key[520], u[37];
		snprintf(key, sizeof(key), "%s/%s", r->cluster, r->stream);
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
		json_object_set_new(root, key, json_pack("{s:s, s:b, s:b, s:o}", "uuid", u,
							 "copied", r->copied, "repin", r->repin,
							 "topics", topics));
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
		rc = metafile_replace(s->dirfd, POSITIONS_FILE, snap, durable);
	if (rc == 0 && gen > s->positions_written)
		s->positions_written = gen;
	pthread_mutex_unlock(&s->positions_mu);
	json_decref(snap);
	if (rc < 0) {
		pthread_mutex_lock(&s->lock);
		deleted = s->deleted;
		if (!deleted)
			s->positions_dirty = true;	/* the next round tries again */
		pthread_mutex_unlock(&s->lock);
		/* A stream deleted meanwhile has no directory to write to. */
		if (!deleted)
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
