/*
 * stream.c - a stream and its topic table (stream.h), whatever its home:
 * its metadata as JSON, topic lookup, creation and deletion through the
 * home's stream_ops (the local log's: fs/local/localstream.c).
 * What the control files do to a stream is fs/ctlfiles.c's; how far each
 * replica has got is replication/positions.c's.
 */
#define _GNU_SOURCE /* renameat2 */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logging.h"
#include "metafile.h"
#include "names.h"
#include "namespace.h"
#include "util/clock.h"
#include "util/lockcheck.h"
#include "util/safetext.h"

#define STREAM_FORMAT_VERSION 1

struct stream *stream_alloc(struct cluster *cl, const char *name,
			    const struct stream_ops *ops, void *home)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ops = ops;
	s->home = home;
	s->cluster = cl;
	snprintf(s->name, sizeof(s->name), "%s", name);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->positions_mu, NULL);
	pthread_cond_init(&s->applied, NULL);
	atomic_init(&s->refs, 1);
	return s;
}

static void free_stream(struct stream *s)
{
	for (size_t i = 0; i < s->ntopics; i++)
		topic_put(s->topics[i]);
	free(s->topics);
	for (size_t i = 0; i < s->nhidden; i++)
		topic_put(s->hidden[i].t);
	free(s->hidden);
	for (int i = 0; i < s->nreplicas; i++)
		repl_replica_free(s->cluster->ns, s->replicas[i]);
	if (s->ops && s->ops->destroy)
		s->ops->destroy(s);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->positions_mu);
	pthread_cond_destroy(&s->applied);
	free(s);
}

void stream_get(struct stream *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void stream_put(struct stream *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		free_stream(s);
}

/* Keep the metadata through the home; DURABLE: synced. s->lock held. */
static int save_locked(struct stream *s, bool durable)
{
	LOCK_ASSERT_HELD(&s->lock);
	char u[37];
	uuid_unparse(s->uuid, u);
	json_t *reps = json_array(), *ups = json_array();
	for (int i = 0; i < s->nreplicas; i++) {
		struct replica_conf *r = s->replicas[i];
		json_array_append_new(reps, json_pack("{s:s, s:s, s:b, s:b, s:s}",
			"cluster", r->cluster, "stream", r->stream,
			"synchronous", r->synchronous, "paused", r->paused,
			"networkcompression", ctl_compression_name(r->compression)));
	}
	for (int i = 0; i < s->nupstreams; i++)
		json_array_append_new(ups, json_pack("{s:s, s:s}", "cluster",
			s->upstreams[i].cluster, "stream", s->upstreams[i].stream));
	json_t *j = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
			      "format", STREAM_FORMAT_VERSION, "uuid", u,
			      "uid", (json_int_t)s->uid, "gid", (json_int_t)s->gid,
			      "mode", (json_int_t)s->mode,
			      "created_ns", (json_int_t)s->ctime_ns,
			      "modified_ns", (json_int_t)s->mtime_ns,
			      "changed_ns", (json_int_t)s->change_ns,
			      "replicas", reps, "upstreams", ups);
	if (!j)
		return -ENOMEM;
	int rc = s->ops->save(s, j, durable);
	json_decref(j);
	return rc;
}

int stream_save_locked(struct stream *s)
{
	LOCK_ASSERT_HELD(&s->lock);
	return save_locked(s, true);
}

/* A topic of S was created or removed (s->lock held): the directory's
 * mtime moves. Saved without a sync: a time, not data. */
static void touched_locked(struct stream *s)
{
	LOCK_ASSERT_HELD(&s->lock);
	/* Replication looks at the stream again (a new topic goes to the
	 * replicas, a removed one's positions are saved). */
	stream_touch_replication(s);
	s->mtime_ns = now_ns();
	int rc = save_locked(s, false);
	if (rc < 0)
		log_warn("stream %s/%s: cannot save its times: %s", s->cluster->name, s->name,
			 strerror(-rc));
}

void stream_times(struct stream *s, uint64_t *mtime_ns, uint64_t *ctime_ns)
{
	pthread_mutex_lock(&s->lock);
	uint64_t m = s->mtime_ns > s->ctime_ns ? s->mtime_ns : s->ctime_ns;
	uint64_t c = s->change_ns > m ? s->change_ns : m;
	pthread_mutex_unlock(&s->lock);
	*mtime_ns = m;
	*ctime_ns = c;
}

int stream_load_meta(struct stream *s, json_t *j)
{
	int rc = 0;
	if (meta_int(j, "format", 1) > STREAM_FORMAT_VERSION) {
		log_error("stream %s/%s: metadata format %lld is newer than this streamfs (%d)",
			  s->cluster->name, s->name, meta_int(j, "format", 1),
			  STREAM_FORMAT_VERSION);
		rc = -EPROTO;
		goto out;
	}
	if (uuid_parse(meta_str(j, "uuid", ""), s->uuid) < 0) {
		log_error("stream %s/%s: metadata has no valid uuid", s->cluster->name, s->name);
		rc = -EPROTO;
		goto out;
	}
	s->uid = meta_int(j, "uid", 0);
	s->gid = meta_int(j, "gid", 0);
	s->mode = meta_int(j, "mode", 0755) & 07777;
	s->ctime_ns = meta_int(j, "created_ns", 0);
	s->mtime_ns = meta_int(j, "modified_ns", 0);
	s->change_ns = meta_int(j, "changed_ns", 0);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(j, "replicas"), i, v) {
		if (s->nreplicas >= STREAM_MAX_REPLICAS)
			break;
		struct replica_conf *r = repl_replica_new(s->cluster->ns);
		if (!r) {
			rc = -ENOMEM;
			goto out;
		}
		snprintf(r->cluster, sizeof(r->cluster), "%s", meta_str(v, "cluster", ""));
		snprintf(r->stream, sizeof(r->stream), "%s", meta_str(v, "stream", ""));
		r->synchronous = meta_bool(v, "synchronous", false);
		r->paused = meta_bool(v, "paused", false);
		const char *c = meta_str(v, "networkcompression", "off");
		r->compression = !strcmp(c, "lz4") ? CTL_COMP_LZ4 :
				 !strcmp(c, "zstd") ? CTL_COMP_ZSTD : CTL_COMP_OFF;
		repl_replica_configured(s->cluster->ns, r);
		s->replicas[s->nreplicas++] = r;
	}
	atomic_store(&s->has_replicas, s->nreplicas > 0);
	json_array_foreach(json_object_get(j, "upstreams"), i, v) {
		if (s->nupstreams >= STREAM_MAX_UPSTREAMS)
			break;
		struct upstream *u = &s->upstreams[s->nupstreams++];
		snprintf(u->cluster, sizeof(u->cluster), "%s", meta_str(v, "cluster", ""));
		snprintf(u->stream, sizeof(u->stream), "%s", meta_str(v, "stream", ""));
	}
out:
	return rc;
}

/*
 * A topic of S gained messages. Only a stream with replicas has anything
 * for the replication thread to do: skipping the wake-up otherwise saves a
 * context switch per append. (Topics hold no reference on S; every holder
 * of a topic reference holds one on its stream.)
 */
void stream_touch_replication(struct stream *s)
{
	struct sfs_namespace *ns = s->cluster->ns;
	atomic_fetch_add(&s->repl_gen, 1);
	repl_wake(ns);
}

void stream_status_changed(struct stream *s, bool now)
{
	if (s->ops && s->ops->status_changed)
		s->ops->status_changed(s, now);
}

static void stream_appended(void *arg)
{
	struct stream *s = arg;
	if (atomic_load(&s->has_replicas))
		stream_touch_replication(s);
}

static int add_topic_locked(struct stream *s, struct topic *t)
{
	if (s->ntopics == s->topcap) {
		size_t cap = s->topcap ? s->topcap * 2 : 8;
		struct topic **v = realloc(s->topics, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->topics = v;
		s->topcap = cap;
	}
	t->on_append = stream_appended;
	t->on_append_arg = s;
	s->topics[s->ntopics++] = t;
	return 0;
}

int stream_adopt_topic(struct stream *s, struct topic *t)
{
	return add_topic_locked(s, t);
}

static ssize_t find_locked(struct stream *s, const char *name)
{
	for (size_t i = 0; i < s->ntopics; i++)
		if (!strcmp(s->topics[i]->name, name))
			return (ssize_t)i;
	return -1;
}

struct topic *stream_find_topic(struct stream *s, const char *name)
{
	struct topic *t = NULL;
	pthread_mutex_lock(&s->lock);
	ssize_t i = find_locked(s, name);
	if (i >= 0) {
		t = s->topics[i];
		topic_get(t);
	}
	pthread_mutex_unlock(&s->lock);
	return t;
}

int stream_topic_get_or_create(struct stream *s, const char *name, uid_t uid,
			       gid_t gid, mode_t mode, bool excl,
			       struct topic **out, bool *created)
{
	int rc = 0;
	if (created)
		*created = false;
	if (!name_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (s->deleted) {
		rc = -ENOENT;
		goto out;
	}
	ssize_t i = find_locked(s, name);
	if (i >= 0) {
		if (excl) {
			rc = -EEXIST;
			goto out;
		}
		*out = s->topics[i];
		topic_get(*out);
		goto out;
	}
	struct topic *t;
	rc = s->ops->topic_create(s, name, uid, gid, mode, &t);
	if (rc < 0)
		goto out;
	if ((rc = add_topic_locked(s, t)) < 0) {
		topic_put(t);
		goto out;
	}
	topic_get(t);
	*out = t;
	if (created)
		*created = true;
	touched_locked(s);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static ssize_t find_hidden_locked(struct stream *s, const char *name)
{
	for (size_t i = 0; i < s->nhidden; i++)
		if (!strcmp(s->hidden[i].name, name))
			return (ssize_t)i;
	return -1;
}

/*
 * Delete topic NAME; with HIDDEN, keep it under that name (see
 * stream_hide_topic). The directory is renamed under s->lock, so that a
 * new topic of that name can be made at once, and removed after it.
 */
static int delete_topic(struct stream *s, const char *name, const char *hidden)
{
	if (hidden && strlen(hidden) >= sizeof(s->hidden[0].name))
		return -ENAMETOOLONG;
	pthread_mutex_lock(&s->lock);
	ssize_t i = find_locked(s, name);
	if (i < 0) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	struct topic *t = s->topics[i];
	if (hidden) {
		if (find_hidden_locked(s, hidden) >= 0 || find_locked(s, hidden) >= 0) {
			pthread_mutex_unlock(&s->lock);
			return -EEXIST;
		}
		if (s->nhidden == s->hidcap) {
			size_t cap = s->hidcap ? s->hidcap * 2 : 4;
			struct hidden_topic *v = realloc(s->hidden, cap * sizeof(*v));
			if (!v) {
				pthread_mutex_unlock(&s->lock);
				return -ENOMEM;
			}
			s->hidden = v;
			s->hidcap = cap;
		}
	}
	/* Its name is freed first, so a new topic of that name can be made at
	 * once; its data is removed after the lock is let go. A home that
	 * cannot free it (NATS away: its key is every daemon's) refuses the
	 * removal, and nothing changes here either. */
	int rc = s->ops->topic_detach(s, name, t);
	if (rc < 0) {
		pthread_mutex_unlock(&s->lock);
		log_warn("stream %s/%s: topic %s: not removed: %s", s->cluster->name, s->name,
			 name, strerror(-rc));
		return rc;
	}
	if (hidden) {
		struct hidden_topic *h = &s->hidden[s->nhidden++];
		snprintf(h->name, sizeof(h->name), "%s", hidden);
		h->t = t;
		topic_get(t);
	}
	s->topics[i] = s->topics[--s->ntopics];
	/* Positions of a deleted topic mean nothing to its next incarnation. */
	repl_topic_deleted(s->cluster->ns, s, name);
	topic_mark_deleted(t);
	touched_locked(s);
	/* The stream holds its home's state for the removal. */
	stream_get(s);
	pthread_mutex_unlock(&s->lock);
	s->ops->topic_purge(s, t);
	stream_put(s);
	topic_put(t);
	return 0;
}

int stream_delete_topic(struct stream *s, const char *name)
{
	return delete_topic(s, name, NULL);
}

int stream_hide_topic(struct stream *s, const char *name, const char *hidden)
{
	return delete_topic(s, name, hidden);
}

struct topic *stream_find_hidden(struct stream *s, const char *name)
{
	struct topic *t = NULL;
	pthread_mutex_lock(&s->lock);
	ssize_t i = find_hidden_locked(s, name);
	if (i >= 0) {
		t = s->hidden[i].t;
		topic_get(t);
	}
	pthread_mutex_unlock(&s->lock);
	return t;
}

int stream_forget_hidden(struct stream *s, const char *name, struct topic *t)
{
	struct topic *drop = NULL;
	int rc = -ENOENT;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nhidden;) {
		struct hidden_topic *h = &s->hidden[i];
		if (name ? strcmp(h->name, name) != 0 : h->t != t) {
			i++;
			continue;
		}
		/* By name: at most one, put after the lock (it may be the last
		 * reference). By topic: the caller holds T, so this put is not. */
		if (name)
			drop = h->t;
		else
			topic_put(h->t);
		*h = s->hidden[--s->nhidden];
		rc = 0;
		if (name)
			break;
	}
	pthread_mutex_unlock(&s->lock);
	if (drop)
		topic_put(drop);
	return rc;
}

void free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int stream_topic_names(struct stream *s, char ***out)
{
	pthread_mutex_lock(&s->lock);
	int n = (int)s->ntopics;
	char **v = calloc(n ? n : 1, sizeof(*v));
	for (int i = 0; v && i < n; i++)
		if (!(v[i] = strdup(s->topics[i]->name))) {
			free_names(v, i);
			v = NULL;
		}
	pthread_mutex_unlock(&s->lock);
	if (!v)
		return -ENOMEM;
	*out = v;
	return n;
}

int stream_topics_snapshot(struct stream *s, struct topic ***out)
{
	pthread_mutex_lock(&s->lock);
	int n = (int)s->ntopics;
	struct topic **v = calloc(n ? n : 1, sizeof(*v));
	for (int i = 0; v && i < n; i++) {
		v[i] = s->topics[i];
		topic_get(v[i]);
	}
	pthread_mutex_unlock(&s->lock);
	if (!v)
		return -ENOMEM;
	*out = v;
	return n;
}

int stream_set_owner(struct stream *s, uid_t uid, gid_t gid, mode_t mode)
{
	pthread_mutex_lock(&s->lock);
	uid_t ou = s->uid;
	gid_t og = s->gid;
	mode_t om = s->mode;
	if (uid != (uid_t)-1)
		s->uid = uid;
	if (gid != (gid_t)-1)
		s->gid = gid;
	if (mode != (mode_t)-1)
		s->mode = mode & 07777;
	uint64_t oc = s->change_ns;
	s->change_ns = now_ns();
	int rc = stream_save_locked(s);
	if (rc < 0) {
		s->uid = ou;
		s->gid = og;
		s->mode = om;
		s->change_ns = oc;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void stream_refuse(struct stream *s, const char *fmt, ...)
{
	char raw[512], msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* The refused text is the user's: one log line, and .info renders
	 * (jansson refuses bytes that are not UTF-8). */
	safetext(msg, sizeof(msg), raw);
	log_warn("/%s/%s: refused: %s", s->cluster->name, s->name, msg);
	pthread_mutex_lock(&s->lock);
	snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
	s->last_error_ns = now_ns();
	pthread_mutex_unlock(&s->lock);
}
