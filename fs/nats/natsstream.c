/*
 * natsstream.c - a stream kept in NATS JetStream (natshome.h): its
 * metadata under key s.E(name) of the cluster's bucket, its positions
 * under p.<uuid>, its messages in the data stream SFS-<uuid> (followed by
 * natsfollow.c into the topics' chunk indexes; docs/nats.md); the stream
 * operations of fs/stream.h over them.
 */
#include "natshome.h"
#include "natskvwatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "logging.h"
#include "namespace.h"
#include "util/clock.h"
#include "util/lockcheck.h"

static struct nats_stream *st_of(const struct stream *s)
{
	return s->home;
}

/* ---- the stream operations ------------------------------------------------- */

static int ns_save(struct stream *s, json_t *meta, bool durable)
{
	(void)durable; /* JetStream acknowledges what its servers keep */
	LOCK_ASSERT_HELD(&s->lock);
	struct nats_stream *st = st_of(s);
	if (nats_watch_thread())
		return 0; /* another daemon's change, saved by it */
	uint64_t until = 0;
	int cr = nats_connected(st->nc, "stream metadata", &until);
	if (cr < 0)
		return cr;
	if (st->rev) { /* never over a removal by another daemon */
		json_t *stored = NULL;
		int rc = nats_kv_update_if(st->nc, st->key, s->uuid, st->meta, meta, &st->rev,
					   &stored, until);
		if (rc == 0)
			nats_stream_saved_locked(s, meta, stored);
		json_decref(stored);
		return rc;
	}
	char *txt = json_dumps(meta, JSON_COMPACT);
	if (!txt)
		return -ENOMEM;
	uint64_t rev = 0;
	natsMsg *e = NULL; /* -EEXIST: what is there (ours, changed since?) */
	int rc = nats_kv_create(st->nc, st->key, txt, &rev, &e, until);
	free(txt);
	if (rc == -EEXIST) /* else the name taken by another daemon; E destroyed */
		rc = nats_stream_created_locked(s, meta, e, &rev);
	if (rc == 0 && FAULT_LIE("nats-stream-key-unanswered"))
		rc = -EIO; /* tests: stored, but its answer lost until the deadline */
	if (rc == 0) {
		st->rev = rev;
		if (!st->meta) /* else the value stored (created_locked) */
			nats_stream_base_locked(s, meta);
		/* Named by the bucket from now on: a reconcile that began
		 * before (its replay may not hold the key) keeps it. */
		atomic_store(&st->bucket_seen, atomic_load(&st->nc->bucket_gen));
	}
	return rc;
}

static int ns_topic_create(struct stream *s, const char *name, uid_t uid, gid_t gid,
			   mode_t mode, struct topic **out)
{
	LOCK_ASSERT_HELD(&s->lock);
	struct nats_stream *st = st_of(s);
	char key[NATS_KEY_MAX], us[37];
	if (nats_topic_key(s, name, key) < 0)
		return -ENAMETOOLONG;
	uint64_t until = 0;
	int cr = nats_connected(st->nc, "create", &until);
	if (cr < 0)
		return cr;
	uuid_t u;
	uuid_generate(u);
	uuid_unparse(u, us);
	json_t *meta = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I}", "format", 1, "uuid", us,
				 "uid", (json_int_t)uid, "gid", (json_int_t)gid, "mode",
				 (json_int_t)(mode & 07777), "created_ns", (json_int_t)now_ns(),
				 "changed_ns", (json_int_t)0);
	char *txt = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	if (!txt) {
		json_decref(meta);
		return -ENOMEM;
	}
	uint64_t rev = 0;
	natsMsg *e = NULL;
	int rc = nats_kv_create(st->nc, key, txt, &rev, &e, until);
	free(txt);
	if (rc == 0) {
		rc = nats_topic_make(s, name, meta, rev, out);
		json_decref(meta);
		return rc;
	}
	json_decref(meta);
	if (rc != -EEXIST)
		return rc;
	/* Made at the same moment by another daemon: that topic is the one. */
	meta = json_loadb(natsMsg_GetData(e), (size_t)natsMsg_GetDataLength(e), 0, NULL);
	rc = meta ? nats_topic_make(s, name, meta, natsMsg_GetSequence(e), out) : -EPROTO;
	json_decref(meta);
	natsMsg_Destroy(e);
	return rc;
}

static int ns_topic_detach(struct stream *s, const char *name, struct topic *t)
{
	(void)name;
	LOCK_ASSERT_HELD(&s->lock);
	struct nats_topic *nt = nats_topic_of(t);
	if (atomic_load(&nt->gone))
		return 0;
	uint64_t until = 0;
	int cr = nats_connected(st_of(s)->nc, "rm", &until);
	if (cr < 0)
		return cr;
	return nats_kv_delete_if(st_of(s)->nc, nt->key, t->uuid, until);
}

static void ns_topic_purge(struct stream *s, struct topic *t)
{
	struct nats_topic *nt = nats_topic_of(t);
	struct nats_cluster *nc = st_of(s)->nc;
	/* Its index goes (open readers of it read nothing more); what of it
	 * is kept, its UUID, tells a late chunk of it from a new topic's. */
	struct nats_tdata *td = nt->td;
	bool raft = atomic_load(&st_of(s)->raft) && !atomic_load(&nt->gone);
	uint64_t *seqs = NULL;
	size_t nseq = 0;
	pthread_mutex_lock(&td->mu);
	/* On a JetStream cluster, removed one by one (a purge is unsafe). */
	if (raft)
		seqs = nats_chunks_seqs(td->c, td->n, &nseq);
	nats_chunks_free_parts(td->c, td->n);
	free(td->c);
	td->c = NULL;
	td->n = td->cap = 0;
	td->purged = true;
	pthread_cond_broadcast(&td->cv); /* a writer waiting for its chunk */
	pthread_mutex_unlock(&td->mu);
	if (atomic_load(&nt->gone))
		return; /* the daemon that removed it purges */
	if (raft) {
		uint64_t deadline = mono_ns() + (uint64_t)nc->timeout_ms * 1000000;
		size_t left = seqs ? nats_seqs_delete(nc, nt->jsname, seqs, nseq, deadline) : nseq;
		if (left)
			log_warn("/%s/%s: topic %s: %zu of its %zu messages are left in %s (removed "
				 "one by one on a JetStream cluster, docs/nats.md, Limits)",
				 s->cluster->name, s->name, t->name, left, nseq, nt->jsname);
		free(seqs);
		return;
	}
	int rc = nats_subject_purge(nc, nt->jsname, nt->subject);
	if (rc < 0)
		log_warn("/%s/%s: topic %s: its messages are left in %s (subject %s): %s",
			 s->cluster->name, s->name, t->name, nt->jsname, nt->subject,
			 strerror(-rc));
	/* Then its chunks' parts, the orphans of writers that died before
	 * their head among them (docs/nats.md). */
	rc = nats_subject_purge(nc, nt->jsname, nt->psubject);
	if (rc < 0)
		log_warn("/%s/%s: topic %s: its parts are left in %s (subject %s): %s",
			 s->cluster->name, s->name, t->name, nt->jsname, nt->psubject,
			 strerror(-rc));
}

/* A topic of S in the bucket (another daemon's, not seen here yet)? When
 * it cannot tell: yes, so nothing is removed. */
static bool ns_holds_unserved(struct stream *s)
{
	struct nats_stream *st = st_of(s);
	char filter[64], u[37];
	uuid_unparse(s->uuid, u);
	snprintf(filter, sizeof(filter), "t.%s.>", u);
	/* Its consumer made in tries of NATS_CONSUMER_WAIT_MS at most until
	 * nats_timeout_ms: a request JetStream's metadata leader, just lost,
	 * never answers (one try of nats_timeout_ms made rmdir ENOTEMPTY
	 * then); a signal ends the tries. */
	uint64_t deadline = mono_ns() + (uint64_t)st->nc->timeout_ms * 1000000;
	struct nats_kvwatch *w = NULL;
	for (;;) {
		uint64_t now = mono_ns(), left = deadline > now ? (deadline - now) / 1000000 : 1;
		struct nats_kvw_opts wo = { .headers_only = true,
					    .wait_ms = (int64_t)(left < NATS_CONSUMER_WAIT_MS ?
								 left : NATS_CONSUMER_WAIT_MS) };
		int r = nats_kvwatch_open(&w, st->nc, filter, &wo);
		if (r == 0)
			break;
		if (r != -ETIMEDOUT && r != -EIO)
			return true;
		if (mono_ns() + 100000000 >= deadline || cluster_interrupted() ||
		    natsConnection_Status(st->nc->conn) != NATS_CONN_STATUS_CONNECTED) {
			log_warn("cluster %s: stream %s: rmdir: NATS did not tell whether it holds "
				 "topics (%s)", s->cluster->name, s->name, strerror(-r));
			return true;
		}
		struct timespec pause = { 0, 100 * 1000000 };
		nanosleep(&pause, NULL);
	}
	/* Until the marker (every current value read) or a put: deletes of
	 * topics removed are not topics. */
	bool found = false;
	for (;;) {
		struct nats_kventry *e = NULL;
		uint64_t now = mono_ns();
		if (now >= deadline ||
		    nats_kvwatch_next(w, &e, (int64_t)((deadline - now) / 1000000) + 1) < 0) {
			found = true; /* cannot tell */
			break;
		}
		if (!e)
			break;
		found = e->op == NATS_KV_PUT;
		nats_kventry_free(e);
		if (found)
			break;
	}
	nats_kvwatch_close(w);
	return found;
}

static int ns_positions_read(struct stream *s, json_t **out)
{
	struct nats_stream *st = st_of(s);
	char key[64], u[37];
	uuid_unparse(s->uuid, u);
	snprintf(key, sizeof(key), "p.%s", u);
	/* As the bucket's leader holds them: a replica behind would give a
	 * new lease holder older positions (sent again, then dropped). */
	natsMsg *e = NULL;
	uint64_t rev = 0;
	int r = nats_kv_last(st->nc, key, &rev, &e);
	if (r <= 0)
		return r == 0 ? -ENOENT : r;
	json_error_t je;
	json_t *j = json_loadb(natsMsg_GetData(e), (size_t)natsMsg_GetDataLength(e), 0, &je);
	natsMsg_Destroy(e);
	if (!j || !json_is_object(j)) {
		/* As the local home's metafile_read: the caller warns once
		 * more, naming the stream, and sends everything again. */
		log_warn("cluster %s: key %s of bucket %s: %s", s->cluster->name, key,
			 st->nc->bucket, j ? "not a JSON object" : je.text);
		json_decref(j);
		return -EINVAL;
	}
	*out = j;
	return 0;
}

static int ns_positions_replace(struct stream *s, json_t *snap, bool durable)
{
	(void)durable;
	struct nats_stream *st = st_of(s);
	char key[64], u[37];
	uuid_unparse(s->uuid, u);
	snprintf(key, sizeof(key), "p.%s", u);
	/* NATS away: not even tried (positions_write warns, once). */
	if (!st->nc->conn || natsConnection_Status(st->nc->conn) != NATS_CONN_STATUS_CONNECTED)
		return -EAGAIN;
	char *txt = json_dumps(snap, JSON_COMPACT);
	if (!txt)
		return -ENOMEM;
	/* Tried again while a leader is elected, within nats_timeout_ms. */
	uint64_t deadline = mono_ns() + (uint64_t)st->nc->timeout_ms * 1000000;
	natsStatus ns;
	uint64_t rev = 0;
	while ((ns = kvStore_PutString(&rev, st->nc->kv, key, txt)) != NATS_OK &&
	       mono_ns() < deadline &&
	       natsConnection_Status(st->nc->conn) == NATS_CONN_STATUS_CONNECTED)
		nats_pause();
	free(txt);
	if (ns == NATS_OK)
		nats_kv_wrote(st->nc, key, rev);
	/* No answer in time, no stream leader, or the connection lost
	 * meanwhile: NATS away (a refusal the servers answered stays an
	 * error). */
	if (ns == NATS_TIMEOUT || ns == NATS_NO_RESPONDERS ||
	    (ns != NATS_OK && natsConnection_Status(st->nc->conn) != NATS_CONN_STATUS_CONNECTED))
		return -EAGAIN;
	return nats_status_errno(ns, 0);
}

/* The lanes of every stream of a cluster go with its lease (natslease.c). */
static uint64_t ns_lanes_epoch(struct stream *s)
{
	return nats_lease_epoch(st_of(s)->nc);
}

/* Free ST and its indexes (its consumer closed, or never made). */
static void free_follow(struct nats_follow *fol)
{
	nats_follow_close(fol);
	free(fol);
}

/* Every subscription of ST closed (or never made)? st->mu held. */
static bool all_completed(struct nats_stream *st)
{
	if (st->fol && !st->fol->completed)
		return false;
	for (struct nats_follow *f = st->retired; f; f = f->next)
		if (!f->completed)
			return false;
	return true;
}

static void free_stream_home(struct nats_stream *st)
{
	if (st->fol)
		free_follow(st->fol);
	for (struct nats_follow *f = st->retired, *next; f; f = next) {
		next = f->next;
		free_follow(f);
	}
	for (size_t i = 0; i < st->ntdata; i++)
		nats_tdata_put(st->tdata[i]);
	free(st->tdata);
	json_decref(st->meta);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	free(st);
}

void nats_stream_free_graves(struct nats_cluster *nc)
{
	pthread_mutex_lock(&nc->grave_mu);
	for (size_t i = 0; i < nc->ngrave; i++) {
		struct nats_stream *st = nc->grave[i];
		pthread_mutex_lock(&st->mu);
		bool done = all_completed(st);
		pthread_mutex_unlock(&st->mu);
		if (done)
			free_stream_home(st);
		else /* a callback may still come: left to it (a leak, not a crash) */
			log_warn("%s: its consumer never closed", st->jsname);
	}
	free(nc->grave);
	nc->grave = NULL;
	nc->ngrave = nc->gcap = 0;
	pthread_mutex_unlock(&nc->grave_mu);
}

static void ns_destroy(struct stream *s)
{
	struct nats_stream *st = st_of(s);
	if (!st)
		return;
	nats_status_forget(st);
	s->home = NULL;
	if (!st->fol) {
		pthread_mutex_lock(&st->mu);
		bool done = all_completed(st);
		pthread_mutex_unlock(&st->mu);
		if (done) {
			free_stream_home(st);
			return;
		}
	}
	/* Every callback done before ST goes: its close reported. With NATS
	 * away the close may only come with the connection's: ST waits for it
	 * among the cluster's graves. */
	bool up = natsConnection_Status(st->nc->conn) == NATS_CONN_STATUS_CONNECTED;
	if (st->fol)
		nats_follow_close(st->fol);
	uint64_t wait_ms = (uint64_t)st->nc->timeout_ms < NATS_STOP_WAIT_MS ?
			   (uint64_t)st->nc->timeout_ms : NATS_STOP_WAIT_MS;
	uint64_t deadline = mono_ns() + (up ? wait_ms * 1000000 : 100000000);
	struct timespec ts = { (time_t)(deadline / 1000000000), (long)(deadline % 1000000000) };
	pthread_mutex_lock(&st->mu);
	while (!all_completed(st))
		if (pthread_cond_timedwait(&st->cv, &st->mu, &ts))
			break;
	bool done = all_completed(st);
	pthread_mutex_unlock(&st->mu);
	if (done) {
		free_stream_home(st);
		return;
	}
	struct nats_cluster *nc = st->nc;
	pthread_mutex_lock(&nc->grave_mu);
	if (nc->ngrave == nc->gcap) {
		size_t cap = nc->gcap ? nc->gcap * 2 : 8;
		struct nats_stream **v = realloc(nc->grave, cap * sizeof(*v));
		if (v) {
			nc->grave = v;
			nc->gcap = cap;
		}
	}
	if (nc->ngrave < nc->gcap)
		nc->grave[nc->ngrave++] = st;
	else
		log_warn("%s: its consumer did not close; out of memory to wait for it", st->jsname);
	pthread_mutex_unlock(&nc->grave_mu);
}

static const struct stream_ops nats_stream_ops = {
	.save = ns_save,
	.topic_create = ns_topic_create,
	.topic_detach = ns_topic_detach,
	.topic_purge = ns_topic_purge,
	.holds_unserved = ns_holds_unserved,
	.positions_read = ns_positions_read,
	.positions_replace = ns_positions_replace,
	.lanes_epoch = ns_lanes_epoch,
	.status_changed = nats_status_changed,
	.destroy = ns_destroy,
};

int nats_stream_new(struct cluster *cl, const char *name, json_t *meta, uint64_t rev,
		    bool create, struct stream **out)
{
	struct nats_stream *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	char enc[600];
	if (nats_encode(name, enc, sizeof(enc)) < 0) {
		free(st);
		return -ENAMETOOLONG;
	}
	st->nc = cl->home;
	st->rev = rev;
	atomic_init(&st->bucket_seen, atomic_load(&st->nc->bucket_gen));
	snprintf(st->key, sizeof(st->key), "s.%s", enc);
	pthread_mutex_init(&st->mu, NULL);
	nats_cond_init_mono(&st->cv);
	struct stream *s = stream_alloc(cl, name, &nats_stream_ops, st);
	if (!s) {
		pthread_mutex_destroy(&st->mu);
		pthread_cond_destroy(&st->cv);
		free(st);
		return -ENOMEM;
	}
	int rc = stream_load_meta(s, meta);
	if (rc < 0)
		goto fail;
	if (!create)
		st->meta = json_deep_copy(meta); /* the value at REV */
	char u[37];
	uuid_unparse(s->uuid, u);
	snprintf(st->jsname, sizeof(st->jsname), "SFS-%s", u);
	snprintf(st->subject, sizeof(st->subject), "sfs.%s.>", u);
	if ((rc = nats_stream_follow(s, create)) < 0)
		goto fail;
	if (create) {
		pthread_mutex_lock(&s->lock); /* the name taken by the bucket's create */
		rc = stream_save_locked(s);
		pthread_mutex_unlock(&s->lock);
		/* Unless refused (EEXIST, ENOSPC, EDQUOT), a try may have stored
		 * the key: removed first, else the data stream it names stays. */
		if (rc < 0 && rc != -EEXIST && rc != -ENOSPC && rc != -EDQUOT &&
		    nats_kv_delete_if(st->nc, st->key, s->uuid, 0) < 0) {
			log_warn("cluster %s: stream %s: mkdir failed, but the bucket may hold its "
				 "key: its data stream %s is kept", cl->name, name, st->jsname);
			goto fail;
		}
		if (rc < 0) {
			jsOptions jo;
			nats_jsopts(&jo, mono_ns() + (uint64_t)st->nc->timeout_ms * 1000000);
			js_DeleteStream(st->nc->js, st->jsname, &jo, NULL);
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	stream_put(s);
	return rc;
}
