/*
 * memhome.c - the in-memory home (memhome.h): clusters, streams and topics
 * that live in memory, behind the same three tables of operations as the
 * local log (fs/cluster.h, fs/stream.h, fs/topic.h).
 *
 * A topic is an array of messages with their origins, a prefix sum of
 * their byte positions (so a read at any position is a binary search) and
 * an origin table with the marks of fs/marks.h. One mutex per topic
 * guards it; appends call on_append after letting it go, as fs/topic.h
 * asks.
 */
#include "memhome.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "marks.h"
#include "stream.h"
#include "topic.h"
#include "util/clock.h"

/* ---- topics ---------------------------------------------------------- */

struct mem_msg {
	uint8_t *payload;
	uint32_t len;
	uint16_t origin_idx;
	uint64_t origin_offset, timestamp_ns;
};

struct mem_topic {
	struct topic base;
	pthread_mutex_t mu;	/* everything below */
	struct mem_msg *m;
	uint64_t *vpos;		/* vpos[i]: byte position of message i; vpos[n]: the size */
	size_t n, cap;
	struct topic_origin *origins;
	size_t norigins, ocap;
	uint64_t ctime_ns, mtime_ns, change_ns;	/* made, last append, last chmod/chown */
	bool deleted;
};

static struct mem_topic *mt_of(struct topic *t)
{
	return (struct mem_topic *)((char *)t - offsetof(struct mem_topic, base));
}

/* Room for N more messages. 0 or -ENOMEM. mu held. */
static int mt_reserve(struct mem_topic *t, size_t more)
{
	if (t->n + more <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap * 2 : 64;
	while (cap < t->n + more)
		cap *= 2;
	struct mem_msg *m = realloc(t->m, cap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	t->m = m;
	uint64_t *v = realloc(t->vpos, (cap + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->vpos = v;
	t->cap = cap;
	return 0;
}

/* The index of origin (STREAM, TOPIC), added if new. mu held. */
static int mt_origin(struct mem_topic *t, const uuid_t stream, const uuid_t topic)
{
	int k = marks_find(t->origins, t->norigins, stream, topic, -1);
	if (k >= 0)
		return k;
	if (t->norigins == t->ocap) {
		size_t cap = t->ocap ? t->ocap * 2 : 4;
		struct topic_origin *v = realloc(t->origins, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->origins = v;
		t->ocap = cap;
	}
	struct topic_origin *o = &t->origins[t->norigins];
	memset(o, 0, sizeof(*o));
	uuid_copy(o->stream, stream);
	uuid_copy(o->topic, topic);
	return (int)t->norigins++;
}

/* Append one message (room reserved). mu held. */
static int mt_push(struct mem_topic *t, const void *payload, uint32_t len, int origin,
		   uint64_t origin_offset, uint64_t ts)
{
	struct mem_msg *m = &t->m[t->n];
	m->payload = malloc(len ? len : 1);
	if (!m->payload)
		return -ENOMEM;
	if (len)
		memcpy(m->payload, payload, len);
	m->len = len;
	m->origin_idx = (uint16_t)origin;
	m->origin_offset = origin_offset;
	m->timestamp_ns = ts;
	t->vpos[t->n + 1] = t->vpos[t->n] + len + 1;
	t->n++;
	return 0;
}

/* Drop the messages pushed after the first N0 (a failed append). mu held. */
static void mt_unpush(struct mem_topic *t, size_t n0)
{
	while (t->n > n0)
		free(t->m[--t->n].payload);
}

static void appended(struct mem_topic *t)
{
	if (t->base.on_append)
		t->base.on_append(t->base.on_append_arg);
}

static int mt_append_local(struct topic *g, const struct iovec *msgs, size_t n)
{
	struct mem_topic *t = mt_of(g);
	int rc = 0;
	pthread_mutex_lock(&t->mu);
	if (t->deleted) {
		rc = -ENOENT;
		goto out;
	}
	int k = mt_origin(t, g->stream_uuid, g->uuid);
	if (k < 0 || (rc = mt_reserve(t, n)) < 0) {
		rc = k < 0 ? k : rc;
		goto out;
	}
	struct topic_origin *o = &t->origins[k];
	uint64_t seq = o->seen ? o->hwm + 1 : 0, ts = now_ns();
	size_t n0 = t->n;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = mt_push(t, msgs[i].iov_base, (uint32_t)msgs[i].iov_len, k, seq + i, ts);
	if (rc < 0)
		mt_unpush(t, n0); /* all or nothing */
	if (rc == 0 && n) {
		o->hwm = seq + n - 1;
		o->seen = true;
		t->mtime_ns = ts;
	}
out:
	pthread_mutex_unlock(&t->mu);
	if (rc == 0 && n)
		appended(t);
	return rc;
}

static int mt_append_replicated(struct topic *g, const struct topic_msg *msgs, size_t n,
				size_t *applied, char *err, size_t errlen)
{
	struct mem_topic *t = mt_of(g);
	char why[512];
	int rc, *idx = NULL;
	bool *keep = NULL, *touched = NULL;
	uint64_t *newhwm = NULL;
	size_t kept = 0;
	if (applied)
		*applied = 0;
	pthread_mutex_lock(&t->mu);
	if (t->deleted) {
		rc = -ENOENT;
		goto out;
	}
	rc = marks_check_batch(t->origins, t->norigins, g->name, g->stream_uuid, 0, msgs, n,
			       why, sizeof(why));
	if (rc < 0) {
		if (err)
			snprintf(err, errlen, "%s", rc == -ENOMEM ? strerror(ENOMEM) : why);
		goto out;
	}
	idx = malloc((n ? n : 1) * sizeof(*idx));
	keep = malloc((n ? n : 1) * sizeof(*keep));
	if (!idx || !keep) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((idx[i] = mt_origin(t, msgs[i].origin_stream, msgs[i].origin_topic)) < 0) {
			rc = idx[i];
			goto out;
		}
	newhwm = malloc((t->norigins ? t->norigins : 1) * sizeof(*newhwm));
	touched = malloc((t->norigins ? t->norigins : 1) * sizeof(*touched));
	if (!newhwm || !touched || mt_reserve(t, n) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	kept = marks_select(t->origins, t->norigins, idx, msgs, n, keep, newhwm, touched);
	size_t n0 = t->n;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (keep[i])
			rc = mt_push(t, msgs[i].payload, msgs[i].len, idx[i], msgs[i].origin_offset,
				     msgs[i].timestamp_ns);
	if (rc < 0)
		mt_unpush(t, n0); /* all or nothing: the marks are not raised */
	if (rc == 0) {
		for (size_t k = 0; k < t->norigins; k++)
			if (touched[k]) {
				t->origins[k].hwm = newhwm[k];
				t->origins[k].seen = true;
			}
		if (kept)
			t->mtime_ns = now_ns();
		if (applied)
			*applied = kept;
	}
out:
	pthread_mutex_unlock(&t->mu);
	free(idx);
	free(keep);
	free(newhwm);
	free(touched);
	if (rc == 0 && kept)
		appended(t);
	return rc;
}

static ssize_t mt_read(struct topic *g, uint64_t vpos, char *buf, size_t size,
		       struct topic_read_hint *hint)
{
	(void)hint;
	struct mem_topic *t = mt_of(g);
	size_t done = 0;
	pthread_mutex_lock(&t->mu);
	/* The message holding VPOS: the last whose position is at or before it. */
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->vpos[mid + 1] <= vpos)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < t->n && done < size; i++) {
		uint64_t at = vpos + done - t->vpos[i]; /* within message i and its '\n' */
		while (at <= t->m[i].len && done < size) {
			buf[done++] = at < t->m[i].len ? (char)t->m[i].payload[at] : '\n';
			at++;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return (ssize_t)done;
}

static int mt_read_batch(struct topic *g, uint64_t from, size_t max_msgs, size_t max_bytes,
			 struct topic_batch *b)
{
	struct mem_topic *t = mt_of(g);
	int rc = 0;
	b->n = 0;
	b->data_len = 0;
	b->bytes = 0;
	b->next_offset = from;
	pthread_mutex_lock(&t->mu);
	for (uint64_t i = from; i < t->n && b->n < max_msgs && (b->n == 0 || b->bytes < max_bytes);
	     i++) {
		const struct mem_msg *m = &t->m[i];
		if ((rc = topic_batch_reserve(b, m->len)) < 0)
			break;
		struct topic_msg *tm = &b->msgs[b->n++];
		if (m->len)
			memcpy(b->data + b->data_len, m->payload, m->len);
		tm->payload = (const uint8_t *)(uintptr_t)b->data_len;
		tm->len = m->len;
		tm->offset = i;
		tm->origin_offset = m->origin_offset;
		tm->timestamp_ns = m->timestamp_ns;
		uuid_copy(tm->origin_stream, t->origins[m->origin_idx].stream);
		uuid_copy(tm->origin_topic, t->origins[m->origin_idx].topic);
		b->data_len += m->len;
		b->bytes += m->len;
		b->next_offset = i + 1;
	}
	pthread_mutex_unlock(&t->mu);
	for (size_t i = 0; i < b->n; i++)
		b->msgs[i].payload = b->data + (uintptr_t)b->msgs[i].payload;
	return rc;
}

static void mt_stat(struct topic *g, uint64_t *messages, uint64_t *bytes, uint64_t *mtime_ns)
{
	struct mem_topic *t = mt_of(g);
	pthread_mutex_lock(&t->mu);
	if (messages)
		*messages = t->n;
	if (bytes)
		*bytes = t->vpos[t->n];
	if (mtime_ns)
		*mtime_ns = t->mtime_ns ? t->mtime_ns : t->ctime_ns;
	pthread_mutex_unlock(&t->mu);
}

static uint64_t mt_ctime(struct topic *g)
{
	struct mem_topic *t = mt_of(g);
	pthread_mutex_lock(&t->mu);
	uint64_t c = t->mtime_ns > t->ctime_ns ? t->mtime_ns : t->ctime_ns;
	if (t->change_ns > c)
		c = t->change_ns;
	pthread_mutex_unlock(&t->mu);
	return c;
}

static int mt_set_owner(struct topic *g, uid_t uid, gid_t gid, mode_t mode)
{
	struct mem_topic *t = mt_of(g);
	pthread_mutex_lock(&t->mu);
	if (uid != (uid_t)-1)
		g->uid = uid;
	if (gid != (gid_t)-1)
		g->gid = gid;
	if (mode != (mode_t)-1)
		g->mode = mode & 07777;
	t->change_ns = now_ns();
	pthread_mutex_unlock(&t->mu);
	return 0;
}

static void mt_mark_deleted(struct topic *g)
{
	struct mem_topic *t = mt_of(g);
	pthread_mutex_lock(&t->mu);
	t->deleted = true;
	pthread_mutex_unlock(&t->mu);
}

static bool mt_deleted(struct topic *g)
{
	struct mem_topic *t = mt_of(g);
	pthread_mutex_lock(&t->mu);
	bool d = t->deleted;
	pthread_mutex_unlock(&t->mu);
	return d;
}

static int mt_sync(struct topic *g)
{
	(void)g;
	return 0; /* nothing lasts: nothing to sync */
}

static void mt_destroy(struct topic *g)
{
	struct mem_topic *t = mt_of(g);
	for (size_t i = 0; i < t->n; i++)
		free(t->m[i].payload);
	free(t->m);
	free(t->vpos);
	free(t->origins);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static const struct topic_ops mem_topic_ops = {
	.home = "memory",
	.destroy = mt_destroy,
	.append_local = mt_append_local,
	.append_replicated = mt_append_replicated,
	.read = mt_read,
	.read_batch = mt_read_batch,
	.stat = mt_stat,
	.ctime = mt_ctime,
	.set_owner = mt_set_owner,
	.mark_deleted = mt_mark_deleted,
	.deleted = mt_deleted,
	.sync = mt_sync,
};

/* ---- streams ----------------------------------------------------------- */

/* What a stream keeps: its metadata and positions as JSON. POSITIONS is
 * replaced by a lane while others read it: under MU. */
struct mem_stream {
	json_t *meta;
	pthread_mutex_t mu;
	json_t *positions;
};

static int ms_save(struct stream *s, json_t *meta, bool durable)
{
	(void)durable;
	struct mem_stream *ms = s->home;
	json_t *c = json_deep_copy(meta);
	if (!c)
		return -ENOMEM; /* the old one kept */
	json_decref(ms->meta);
	ms->meta = c;
	return 0;
}

static int ms_topic_create(struct stream *s, const char *name, uid_t uid, gid_t gid,
			   mode_t mode, struct topic **out)
{
	struct mem_topic *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->vpos = calloc(1, sizeof(*t->vpos));
	if (!t->vpos) {
		free(t);
		return -ENOMEM;
	}
	topic_init(&t->base, &mem_topic_ops, name, s->uuid);
	uuid_generate(t->base.uuid);
	t->base.uid = uid;
	t->base.gid = gid;
	t->base.mode = mode & 07777;
	t->ctime_ns = now_ns();
	pthread_mutex_init(&t->mu, NULL);
	*out = &t->base;
	return 0;
}

static int ms_topic_detach(struct stream *s, const char *name, struct topic *t)
{
	(void)s;
	(void)name;
	(void)t;
	return 0; /* the name is free once the stream's table lets it go */
}

static void ms_topic_purge(struct stream *s, struct topic *t)
{
	(void)s;
	(void)t; /* its memory goes with its last reference */
}

static bool ms_holds_unserved(struct stream *s)
{
	(void)s;
	return false;
}

static int ms_positions_read(struct stream *s, json_t **out)
{
	struct mem_stream *ms = s->home;
	pthread_mutex_lock(&ms->mu);
	json_t *c = ms->positions ? json_deep_copy(ms->positions) : NULL;
	int rc = !ms->positions ? -ENOENT : c ? 0 : -ENOMEM;
	pthread_mutex_unlock(&ms->mu);
	*out = c;
	return rc;
}

static int ms_positions_replace(struct stream *s, json_t *snap, bool durable)
{
	(void)durable;
	struct mem_stream *ms = s->home;
	json_t *c = json_deep_copy(snap);
	if (!c)
		return -ENOMEM;
	pthread_mutex_lock(&ms->mu);
	json_t *old = ms->positions;
	ms->positions = c;
	pthread_mutex_unlock(&ms->mu);
	json_decref(old);
	return 0;
}

static void ms_destroy(struct stream *s)
{
	struct mem_stream *ms = s->home;
	if (!ms)
		return;
	json_decref(ms->meta);
	json_decref(ms->positions);
	pthread_mutex_destroy(&ms->mu);
	free(ms);
	s->home = NULL;
}

static const struct stream_ops mem_stream_ops = {
	.save = ms_save,
	.topic_create = ms_topic_create,
	.topic_detach = ms_topic_detach,
	.topic_purge = ms_topic_purge,
	.holds_unserved = ms_holds_unserved,
	.positions_read = ms_positions_read,
	.positions_replace = ms_positions_replace,
	.destroy = ms_destroy,
};

/* ---- clusters and the home ---------------------------------------------- */

static int mc_open(struct cluster *cl, int line, char *err, size_t errlen)
{
	(void)line;
	(void)err;
	(void)errlen;
	cl->uid = getuid();
	cl->gid = getgid();
	cl->mode = 0755;
	return 0; /* nothing kept from before */
}

static void mc_close(struct cluster *cl)
{
	(void)cl;
}

static int mc_save(struct cluster *cl)
{
	(void)cl;
	return 0;
}

static int mc_stream_create(struct cluster *cl, const char *name, uid_t uid, gid_t gid,
			    mode_t mode, struct stream **out)
{
	struct mem_stream *ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	pthread_mutex_init(&ms->mu, NULL);
	struct stream *s = stream_alloc(cl, name, &mem_stream_ops, ms);
	if (!s) {
		pthread_mutex_destroy(&ms->mu);
		free(ms);
		return -ENOMEM;
	}
	uuid_generate(s->uuid);
	s->uid = uid;
	s->gid = gid;
	s->mode = mode & 07777;
	s->ctime_ns = now_ns();
	pthread_mutex_lock(&s->lock);
	int rc = stream_save_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0) {
		stream_put(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int mc_stream_remove(struct cluster *cl, struct stream *s)
{
	(void)cl;
	(void)s;
	return 0;
}

static int mc_statfs(struct cluster *cl, struct statvfs *sv)
{
	(void)cl;
	memset(sv, 0, sizeof(*sv));
	return 0;
}

static int mc_reachable(struct cluster *cl, char *why, size_t n)
{
	(void)cl;
	(void)why;
	(void)n;
	return 1;
}

static const struct cluster_ops mem_cluster_ops = {
	.open = mc_open,
	.close = mc_close,
	.save = mc_save,
	.stream_create = mc_stream_create,
	.stream_remove = mc_stream_remove,
	.statfs = mc_statfs,
	.reachable = mc_reachable,
};

static bool mem_serves(const struct sfs_cluster_conf *cc)
{
	return cc->data != NULL;
}

static int mem_setup(const struct sfs_config *cfg, void **state, char *err, size_t errlen)
{
	(void)cfg;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static void mem_teardown(void *state)
{
	(void)state;
}

static int mem_cluster_init(struct cluster *cl, const struct sfs_cluster_conf *cc, void *state,
			    char *err, size_t errlen)
{
	(void)cc;
	(void)state;
	(void)err;
	(void)errlen;
	cl->ops = &mem_cluster_ops;
	cl->home = NULL;
	cl->home_name = "memory";
	cl->where_key = "data";
	cl->where = "(memory)";
	return 0;
}

const struct cluster_home mem_home = {
	.name = "memory",
	.serves = mem_serves,
	.setup = mem_setup,
	.teardown = mem_teardown,
	.cluster_init = mem_cluster_init,
};
