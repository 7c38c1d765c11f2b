/*
 * natswatch.c - what one daemon knows of a NATS-backed cluster's
 * namespace (natshome.h): at start-up every key of the cluster's bucket
 * (the owner of /<cluster>, the streams, their topics), then each change
 * another daemon makes to it, as the bucket's thread (natsbucket.c)
 * delivers it: streams and topics made, changed (owner, mode, control
 * files) and removed appear, change and go here (docs/nats.md, "What
 * each daemon caches"). Each stream and topic keeps the bucket revision
 * it was made or changed at; an older event is one this daemon has
 * already gone past.
 */
#include "natshome.h"
#include "natskvwatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "logging.h"
#include "metafile.h"
#include "namespace.h"
#include "util/clock.h"
#include "util/lockcheck.h"

struct stream *nats_stream_by_uuid(struct cluster *cl, const uuid_t u, bool locked)
{
	struct stream *s = NULL;
	if (!locked)
		pthread_rwlock_rdlock(&cl->ns->lock);
	for (size_t i = 0; i < cl->nstreams && !s; i++)
		if (!uuid_compare(cl->streams[i]->uuid, u)) {
			s = cl->streams[i];
			stream_get(s);
		}
	if (!locked)
		pthread_rwlock_unlock(&cl->ns->lock);
	return s;
}

struct stream **nats_streams_all(struct cluster *cl, size_t *n)
{
	pthread_rwlock_rdlock(&cl->ns->lock);
	*n = cl->nstreams;
	struct stream **v = *n ? malloc(*n * sizeof(*v)) : NULL;
	for (size_t i = 0; v && i < *n; i++) {
		v[i] = cl->streams[i];
		stream_get(v[i]);
	}
	pthread_rwlock_unlock(&cl->ns->lock);
	return v;
}

/* The topic NAME of S (s->lock held), borrowed, or NULL. */
static struct topic *topic_locked(struct stream *s, const char *name)
{
	for (size_t i = 0; i < s->ntopics; i++)
		if (!strcmp(s->topics[i]->name, name))
			return s->topics[i];
	return NULL;
}

/* Split a topic key "t.<uuid>.E(name)" into U and NAME (256 bytes). */
static int topic_key_split(const char *key, uuid_t u, char *name)
{
	char us[37];
	if (strncmp(key, "t.", 2) != 0 || strlen(key) < 2 + 36 + 2 || key[38] != '.')
		return -EINVAL;
	memcpy(us, key + 2, 36);
	us[36] = 0;
	if (uuid_parse(us, u) < 0)
		return -EINVAL;
	return nats_decode(key + 39, name, 256);
}

int nats_stream_load(struct cluster *cl, const char *key, const void *val, int len,
		     uint64_t rev, struct stream **out)
{
	char name[256];
	if (strncmp(key, "s.", 2) != 0 || nats_decode(key + 2, name, sizeof(name)) < 0)
		return -EINVAL;
	json_t *meta = json_loadb(val, (size_t)len, 0, NULL);
	if (!meta)
		return -EPROTO;
	int rc = nats_stream_new(cl, name, meta, rev, false, out);
	json_decref(meta);
	return rc;
}

void nats_cluster_meta_locked(struct cluster *cl, json_t *meta, uint64_t rev)
{
	struct nats_cluster *nc = cl->home;
	cl->uid = (uid_t)meta_int(meta, "uid", cl->uid);
	cl->gid = (gid_t)meta_int(meta, "gid", cl->gid);
	cl->mode = (mode_t)meta_int(meta, "mode", cl->mode) & 07777;
	json_decref(nc->c_meta);
	nc->c_meta = json_deep_copy(meta);
	nc->c_rev = nc->c_meta ? rev : 0; /* without a base: written whole */
}

void nats_watch_cluster_meta(struct cluster *cl, struct nats_kventry *e, bool force)
{
	struct nats_cluster *nc = cl->home;
	json_t *j = json_loadb(e->val, (size_t)e->len, 0, NULL);
	/* Older than what this daemon stored (its own, or merged over), or,
	 * in tests, not here yet when this daemon saves. */
	if (j && (force || e->rev > nc->c_rev) && (!nc->c_rev || !FAULT_LIE("nats-watch-late-c")))
		nats_cluster_meta_locked(cl, j, e->rev);
	json_decref(j);
}

/* Topic from entry E (key KEY) into its stream S (s->lock held). */
static int add_topic_locked(struct stream *s, const char *name, struct nats_kventry *e)
{
	json_t *meta = json_loadb(e->val, (size_t)e->len, 0, NULL);
	struct topic *t;
	int rc = meta ? nats_topic_make(s, name, meta, e->rev, &t) : -EPROTO;
	json_decref(meta);
	if (rc == 0 && (rc = stream_adopt_topic(s, t)) < 0)
		topic_put(t);
	if (rc < 0)
		log_error("/%s/%s: topic %s cannot be loaded (%s); it is not served",
			  s->cluster->name, s->name, name, strerror(-rc));
	return rc;
}

int nats_watch_open(struct nats_cluster *nc, char *err, size_t errlen)
{
	struct cluster *cl = nc->cl;
	struct nats_kventry **topics = NULL;
	size_t ntopics = 0, cap = 0;
	int rc = 0;
	/* The watcher's requests (its consumer made, removed at the stop)
	 * wait NATS_STOP_WAIT_MS at most. */
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = nc->timeout_ms < NATS_STOP_WAIT_MS ? nc->timeout_ms : NATS_STOP_WAIT_MS;
	natsStatus s = natsConnection_JetStream(&nc->wjs, nc->conn, &jo);
	if (s == NATS_OK)
		s = js_KeyValue(&nc->wkv, nc->wjs, nc->bucket);
	struct nats_kvw_opts wo = { .wait_ms = jo.Wait };
	int wr = s == NATS_OK ? nats_kvwatch_open(&nc->watcher, nc, ">", &wo) : -EIO;
	/* Refused for the account's max_consumers: this daemon killed and
	 * started again at once? The servers remove what it left in 5 s. */
	uint64_t gone = mono_ns() + (uint64_t)NATS_CONSUMER_GONE_MS * 1000000;
	if (wr == -EDQUOT)
		log_info("cluster %s: the bucket's watcher is refused for the account's "
			 "max_consumers; waiting up to %d s for the servers to remove the "
			 "consumers of a daemon that died (docs/nats.md)", cl->name,
			 NATS_CONSUMER_GONE_MS / 1000);
	while (wr == -EDQUOT && mono_ns() < gone) {
		struct timespec pause = { 0, 250 * 1000000 };
		nanosleep(&pause, NULL);
		wr = nats_kvwatch_open(&nc->watcher, nc, ">", &wo);
	}
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	while (wr == 0) {
		struct nats_kventry *e = NULL;
		uint64_t now = mono_ns();
		wr = nats_kvwatch_next(nc->watcher, &e,
				       now < deadline ? (int64_t)((deadline - now) / 1000000) + 1 : 1);
		if (wr < 0 || !e)
			break; /* NULL: every value there was is read */
		if (e->rev > nc->watch_rev) {
			nc->watch_rev = e->rev;
			nc->watch_time = e->time;
		}
		const char *key = e->key;
		if (e->op != NATS_KV_PUT) {
			nats_kventry_free(e);
		} else if (!strcmp(key, "c")) {
			nats_watch_cluster_meta(cl, e, false);
			nats_kventry_free(e);
		} else if (!strncmp(key, "s.", 2)) {
			struct stream *st;
			int r = nats_stream_load(cl, key, e->val, e->len, e->rev, &st);
			/* -ENOENT: no data stream; removed meanwhile (its key
			 * gone too: an info line) or not (an error line), as
			 * nats_stream_follow told. */
			if (r == -ENOENT)
				;
			else if (r < 0)
				log_error("cluster %s: stream of key %s cannot be loaded (%s); it is "
					  "not served", cl->name, key, strerror(-r));
			else if (cluster_add_stream(cl, st) < 0)
				stream_put(st), rc = -ENOMEM;
			nats_kventry_free(e);
		} else if ((!strncmp(key, "t.", 2) || !strncmp(key, "r.", 2)) && ntopics < cap) {
			topics[ntopics++] = e;
		} else if (!strncmp(key, "t.", 2) || !strncmp(key, "r.", 2)) {
			size_t nc2 = cap ? cap * 2 : 64;
			struct nats_kventry **v = realloc(topics, nc2 * sizeof(*v));
			if (!v) {
				nats_kventry_free(e);
				rc = -ENOMEM;
				break;
			}
			topics = v;
			cap = nc2;
			topics[ntopics++] = e;
		} else {
			nats_kventry_free(e);
		}
	}
	if (wr < 0 && !rc) {
		/* libnats' own text says why ("maximum consumers limit
		 * reached"); its status alone only "Error". */
		const char *why = nats_GetLastError(NULL), *cut;
		if (why && *why == '(' && (cut = strstr(why, "): ")))
			why = cut + 3; /* its "(file.c:line): " */
		snprintf(err, errlen, "%s:%d: [cluster %s]: nats: cannot read bucket %s: %s",
			 cl->ns->cfg->path, nc->cc->nats_lines[0], cl->name, nc->bucket,
			 why && *why ? why : strerror(-wr));
		rc = -EIO;
	}
	/* Topics once every stream is there (a stream's key may be newer),
	 * and the replication status once its replicas are. */
	for (size_t i = 0; i < ntopics; i++) {
		uuid_t u;
		char name[256];
		if (rc == 0 && !strncmp(topics[i]->key, "r.", 2))
			nats_status_event(nc, topics[i], true);
		else if (rc == 0 && topic_key_split(topics[i]->key, u, name) == 0) {
			struct stream *st = nats_stream_by_uuid(cl, u, true);
			if (st) {
				add_topic_locked(st, name, topics[i]);
				stream_put(st);
			}
		}
		nats_kventry_free(topics[i]);
	}
	free(topics);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < cl->nstreams; i++)
		if (nats_stream_wait_caught_up(cl->streams[i], deadline) < 0)
			log_warn("cluster %s: stream %s: its messages are still being read from "
				 "NATS; sizes grow until they are", cl->name, cl->streams[i]->name);
	if ((rc = nats_bucket_follow_start(nc)) < 0)
		snprintf(err, errlen, "cluster %s: cannot start a thread: %s", cl->name,
			 strerror(-rc));
	return rc;
}

/* ---- later changes ---------------------------------------------------------------- */

/* Is the value of KEY still the one of revision REV? An event the thread
 * gets late (it waited for the namespace lock while this daemon removed
 * what the event made) must not bring the removed thing back. Asked of
 * the bucket's leader (nats_kv_last): a replica behind said "none" for a
 * stream just made, under load after a server was lost, and the event
 * was dropped for good (87-nats-cluster, "one NATS server of three
 * killed"). 1 yes, 0 no (a later value, or removed since), -EIO: NATS did
 * not answer, or its leader has not got to REV yet, or holds nothing of
 * KEY (the event is then applied by the next replay, see watch_main). */
static int still_current(struct nats_cluster *nc, const char *key, uint64_t rev)
{
	uint64_t at = 0;
	int r = nats_kv_last(nc, key, &at, NULL);
	if (r < 0 || at < rev) /* none at all: not there yet, as behind */
		return -EIO;
	return r == 1 && at == rev ? 1 : 0;
}

/* A failure to apply an event that a replay may not meet again: NATS did
 * not answer, or memory ran out. A refusal for good (a data stream that is
 * not there, a value that is not JSON) is logged where it happens. */
static bool transient(int rc)
{
	return rc == -EIO || rc == -ETIMEDOUT || rc == -EAGAIN || rc == -ENOMEM ||
	       rc == -ENOTCONN;
}

/* Take stream I of CL out (removed by another daemon); ns->lock held for
 * writing. Not while it still holds topics here (false then). */
static bool drop_stream_locked(struct cluster *cl, size_t i)
{
	struct stream *s = cl->streams[i];
	pthread_mutex_lock(&s->lock);
	if (s->ntopics) {
		pthread_mutex_unlock(&s->lock);
		log_warn("/%s/%s: removed by another daemon while it holds topics here; kept",
			 cl->name, s->name);
		return false;
	}
	pthread_mutex_lock(&s->positions_mu);
	s->deleted = true;
	pthread_mutex_unlock(&s->positions_mu);
	((struct nats_stream *)s->home)->gone = true;
	pthread_mutex_unlock(&s->lock);
	cl->streams[i] = cl->streams[--cl->nstreams];
	stream_put(s);
	atomic_fetch_add(&cl->ns->repl_gen_all, 1);
	atomic_fetch_add(&cl->ns->upstreams_gen, 1);
	return true;
}

int nats_watch_forget_topic(struct stream *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	struct topic *t = s->deleted ? NULL : topic_locked(s, name);
	if (t) /* nothing asked of NATS (ns_topic_detach, ns_topic_purge) */
		atomic_store(&nats_topic_of(t)->gone, true);
	pthread_mutex_unlock(&s->lock);
	int rc = t ? stream_delete_topic(s, name) : 0;
	return rc == -ENOENT ? 0 : rc;
}

int nats_watch_forget_stream(struct nats_cluster *nc, struct stream *s)
{
	struct cluster *cl = nc->cl;
	pthread_mutex_lock(&s->lock);
	size_t left = s->ntopics;
	pthread_mutex_unlock(&s->lock);
	/* Its topics first: a stream is only dropped empty. Bounded by the
	 * count seen: a topic made meanwhile (another daemon's, delivered by
	 * the watcher this thread runs: none) would keep the stream. */
	for (; left > 0; left--) {
		char name[sizeof(((struct topic *)0)->name)];
		pthread_mutex_lock(&s->lock);
		bool any = s->ntopics > 0;
		if (any)
			snprintf(name, sizeof(name), "%s", s->topics[0]->name);
		pthread_mutex_unlock(&s->lock);
		if (!any)
			break;
		if (nats_watch_forget_topic(s, name) < 0)
			return -EBUSY;
	}
	bool dropped = false;
	pthread_rwlock_wrlock(&cl->ns->lock);
	for (size_t i = 0; i < cl->nstreams; i++)
		if (cl->streams[i] == s) {
			dropped = drop_stream_locked(cl, i);
			break;
		}
	pthread_rwlock_unlock(&cl->ns->lock);
	return dropped ? 0 : -EBUSY;
}

/*
 * S's replicas and upstreams as META (another daemon's control-file
 * write) says, s->lock held: a replica named before keeps its object (and
 * so its positions), a new one is made, one no longer named is freed, as
 * a control-file write here does (fs/ctlfiles.c).
 */
static void apply_settings_locked(struct stream *s, json_t *meta)
{
	struct sfs_namespace *ns = s->cluster->ns;
	struct replica_conf *nr[STREAM_MAX_REPLICAS];
	bool used[STREAM_MAX_REPLICAS] = { false };
	int n = 0;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(meta, "replicas"), i, v) {
		if (n >= STREAM_MAX_REPLICAS)
			break;
		const char *c = meta_str(v, "cluster", ""), *name = meta_str(v, "stream", "");
		struct replica_conf *r = NULL;
		for (int k = 0; k < s->nreplicas && !r; k++)
			if (!used[k] && !strcmp(s->replicas[k]->cluster, c) &&
			    !strcmp(s->replicas[k]->stream, name)) {
				r = s->replicas[k];
				used[k] = true;
			}
		if (!r && !(r = repl_replica_new(ns))) {
			log_error("/%s/%s: out of memory for another daemon's replica %s/%s",
				  s->cluster->name, s->name, c, name);
			continue;
		}
		snprintf(r->cluster, sizeof(r->cluster), "%s", c);
		snprintf(r->stream, sizeof(r->stream), "%s", name);
		r->synchronous = meta_bool(v, "synchronous", false);
		r->paused = meta_bool(v, "paused", false);
		const char *comp = meta_str(v, "networkcompression", "off");
		r->compression = !strcmp(comp, "lz4") ? CTL_COMP_LZ4 :
				 !strcmp(comp, "zstd") ? CTL_COMP_ZSTD : CTL_COMP_OFF;
		nr[n++] = r;
	}
	for (int k = 0; k < s->nreplicas; k++)
		if (!used[k])
			repl_replica_free(ns, s->replicas[k]);
	memcpy(s->replicas, nr, (size_t)n * sizeof(nr[0]));
	s->nreplicas = n;
	for (int k = 0; k < n; k++)
		repl_replica_configured(ns, nr[k]);
	atomic_store(&s->has_replicas, n > 0);
	s->positions_dirty = true;
	s->nupstreams = 0;
	json_array_foreach(json_object_get(meta, "upstreams"), i, v) {
		if (s->nupstreams >= STREAM_MAX_UPSTREAMS)
			break;
		struct upstream *u = &s->upstreams[s->nupstreams++];
		snprintf(u->cluster, sizeof(u->cluster), "%s", meta_str(v, "cluster", ""));
		snprintf(u->stream, sizeof(u->stream), "%s", meta_str(v, "stream", ""));
	}
	atomic_fetch_add(&ns->upstreams_gen, 1);
}

void nats_stream_apply_locked(struct stream *s, json_t *meta)
{
	LOCK_ASSERT_HELD(&s->lock);
	apply_settings_locked(s, meta);
	s->uid = (uid_t)meta_int(meta, "uid", s->uid);
	s->gid = (gid_t)meta_int(meta, "gid", s->gid);
	s->mode = (mode_t)meta_int(meta, "mode", s->mode) & 07777;
	s->mtime_ns = (uint64_t)meta_int(meta, "modified_ns", (long long)s->mtime_ns);
	s->change_ns = (uint64_t)meta_int(meta, "changed_ns", (long long)s->change_ns);
}

void nats_stream_base_locked(struct stream *s, const json_t *meta)
{
	LOCK_ASSERT_HELD(&s->lock);
	struct nats_stream *st = s->home;
	json_decref(st->meta);
	st->meta = json_deep_copy((json_t *)meta);
}

void nats_stream_saved_locked(struct stream *s, json_t *ours, json_t *stored)
{
	nats_stream_base_locked(s, stored);
	if (json_equal(ours, stored))
		return;
	log_info("cluster %s: stream %s: its metadata was changed by another daemon "
		 "meanwhile: this daemon's change made over it", s->cluster->name, s->name);
	nats_stream_apply_locked(s, stored);
	stream_touch_replication(s);
}

int nats_stream_created_locked(struct stream *s, json_t *ours, natsMsg *e, uint64_t *rev)
{
	LOCK_ASSERT_HELD(&s->lock);
	json_t *j = e ? nats_kv_incarnation(e, s->uuid) : NULL;
	int rc = -EEXIST;
	if (j) {
		*rev = natsMsg_GetSequence(e);
		nats_stream_saved_locked(s, ours, j);
		rc = 0;
	}
	json_decref(j);
	natsMsg_Destroy(e);
	return rc;
}

/*
 * The topics the bucket holds for stream S, just made here from an event
 * (ns->lock held for writing): its topics' own events may have come
 * before, and been dropped for want of their stream. That happens when
 * the stream's key was written again (a topic made there touches it)
 * before this thread read its first value: that event is not the key's
 * current value any more, so it makes nothing, and the stream is made
 * only from the later one. 0, or -EAGAIN (NATS did not answer: a replay
 * applies them).
 */
static int load_topics(struct nats_cluster *nc, struct stream *s)
{
	char filter[64], u[37], name[256];
	uuid_unparse(s->uuid, u);
	snprintf(filter, sizeof(filter), "t.%s.>", u);
	struct nats_kvwatch *w = NULL;
	if (nats_kvwatch_open(&w, nc, filter, NULL) < 0)
		return -EAGAIN;
	int rc = 0;
	uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
	for (;;) {
		struct nats_kventry *e = NULL;
		uint64_t now = mono_ns();
		if (nats_kvwatch_next(w, &e, now < deadline ?
				      (int64_t)((deadline - now) / 1000000) + 1 : 1) < 0) {
			rc = -EAGAIN;
			break;
		}
		if (!e)
			break; /* every current value read */
		uuid_t su;
		if (e->op == NATS_KV_PUT && topic_key_split(e->key, su, name) == 0) {
			pthread_mutex_lock(&s->lock);
			if (!s->deleted && !topic_locked(s, name) &&
			    add_topic_locked(s, name, e) == -ENOMEM)
				rc = -EAGAIN;
			pthread_mutex_unlock(&s->lock);
		}
		nats_kventry_free(e);
	}
	nats_kvwatch_close(w);
	return rc;
}

int nats_watch_stream_event(struct nats_cluster *nc, struct nats_kventry *e, bool force)
{
	struct cluster *cl = nc->cl;
	const char *key = e->key;
	uint64_t rev = e->rev;
	char name[256];
	int rc = 0;
	if (nats_decode(key + 2, name, sizeof(name)) < 0)
		return 0;
	json_t *meta = e->op == NATS_KV_PUT ?
		       json_loadb(e->val, (size_t)e->len, 0, NULL) : NULL;
	uuid_t u;
	const char *us = json_string_value(json_object_get(meta, "uuid"));
	bool put = us && uuid_parse(us, u) == 0;
	pthread_rwlock_wrlock(&cl->ns->lock);
	size_t i = 0;
	while (i < cl->nstreams && strcmp(cl->streams[i]->name, name) != 0)
		i++;
	if (i < cl->nstreams) {
		struct stream *s = cl->streams[i];
		struct nats_stream *st = s->home;
		if (put && !uuid_compare(u, s->uuid))
			atomic_store(&st->bucket_seen, atomic_load(&nc->bucket_gen));
		/* Under s->lock: a save here (ns_save) sets the revision it
		 * stored under it, maybe after this entry was delivered. */
		bool same = put && !uuid_compare(u, s->uuid), applied = false;
		pthread_mutex_lock(&s->lock);
		bool older = rev <= st->rev && !force;
		/* Changed there: owner, mode, times, control files (in tests,
		 * maybe not here yet when this daemon saves: natsmerge.h). */
		if (!older && same && !FAULT_LIE("nats-watch-late")) {
			nats_stream_apply_locked(s, meta);
			st->rev = rev;
			nats_stream_base_locked(s, meta);
			applied = true;
		}
		pthread_mutex_unlock(&s->lock);
		if (applied)
			stream_touch_replication(s);
		if (older || same)
			goto out; /* this daemon's own change, or older; or applied */
		if (!drop_stream_locked(cl, i))
			goto out; /* kept */
	}
	int cur = put ? still_current(nc, key, rev) : 0;
	if (cur < 0)
		rc = -EAGAIN;
	if (cur > 0) {
		struct stream *s;
		int r = nats_stream_new(cl, name, meta, rev, false, &s);
		if (r == 0 && cluster_add_stream(cl, s) < 0) {
			stream_put(s);
			r = -ENOMEM;
		}
		if (r == 0) {
			atomic_fetch_add(&cl->ns->repl_gen_all, 1);
			rc = load_topics(nc, s);
		} else if (transient(r)) {
			rc = -EAGAIN;
		}
	}
out:
	pthread_rwlock_unlock(&cl->ns->lock);
	json_decref(meta);
	return rc;
}

int nats_watch_topic_event(struct nats_cluster *nc, struct nats_kventry *e, bool force)
{
	uuid_t su, tu;
	char name[256];
	int rc = 0;
	if (topic_key_split(e->key, su, name) < 0)
		return 0;
	struct stream *s = nats_stream_by_uuid(nc->cl, su, false);
	if (!s) /* its stream is gone, or not known yet */
		return e->op == NATS_KV_PUT ? 1 : 0;
	uint64_t rev = e->rev;
	json_t *meta = e->op == NATS_KV_PUT ?
		       json_loadb(e->val, (size_t)e->len, 0, NULL) : NULL;
	const char *us = json_string_value(json_object_get(meta, "uuid"));
	bool put = us && uuid_parse(us, tu) == 0;
	pthread_mutex_lock(&s->lock);
	struct topic *t = s->deleted ? NULL : topic_locked(s, name);
	if (t) {
		struct nats_topic *nt = nats_topic_of(t);
		pthread_mutex_lock(&nt->mu);
		bool older = rev <= nt->rev && !force;
		if (put && !uuid_compare(tu, t->uuid))
			atomic_store(&nt->bucket_seen, atomic_load(&nc->bucket_gen));
		if (!older && put && !uuid_compare(tu, t->uuid) && FAULT_LIE("nats-watch-late"))
			older = true; /* tests: not here yet when this daemon saves */
		if (!older && put && !uuid_compare(tu, t->uuid)) {
			nats_topic_apply_locked(nt, meta);
			nt->rev = rev;
			older = true; /* nothing more to do */
		}
		pthread_mutex_unlock(&nt->mu);
		if (older)
			goto out;
		/* Removed (or made anew) by another daemon. */
		atomic_store(&nt->gone, true);
		pthread_mutex_unlock(&s->lock);
		stream_delete_topic(s, name);
		pthread_mutex_lock(&s->lock);
		if (topic_locked(s, name))
			goto out;
	}
	int cur = put && !s->deleted ? still_current(nc, e->key, rev) : 0;
	if (cur < 0)
		rc = -EAGAIN;
	if (cur > 0) {
		int r = add_topic_locked(s, name, e);
		if (r == 0) {
			s->mtime_ns = now_ns();
			stream_touch_replication(s);
		} else if (transient(r)) {
			rc = -EAGAIN;
		}
	}
out:
	pthread_mutex_unlock(&s->lock);
	json_decref(meta);
	stream_put(s);
	return rc;
}
