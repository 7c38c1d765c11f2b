/*
 * ctlfiles.c - rendering and applying a stream's control files
 * (ctlfiles.h).
 *
 * Applying works on a copy of the set: each line edits the copy, the copy
 * is checked whole, and only then is it swapped in and saved, so a write
 * that fails changes nothing (docs/control-files.md).
 */
#include "ctlfiles.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logging.h"
#include "util/lockcheck.h"

int ctlfile_by_name(const char *name)
{
	if (!strcmp(name, ".replicas"))
		return CTLFILE_REPLICAS;
	if (!strcmp(name, ".upstreams"))
		return CTLFILE_UPSTREAMS;
	if (!strcmp(name, ".info"))
		return CTLFILE_INFO;
	return -1;
}

/* A growing text buffer; on allocation failure it records the error. */
struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void tprintf(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tprintf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0 || t->oom)
			return;
		if ((size_t)n < room) {
			t->len += n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 1024;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *b = realloc(t->buf, cap);
		if (!b) {
			t->oom = true;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

/* "REPLICATING" of "REPLICA_STATE_REPLICATING". */
static const char *short_state(const char *state)
{
	size_t n = strlen("REPLICA_STATE_");
	return strncmp(state, "REPLICA_STATE_", n) ? state : state + n;
}

static void iso_time(char *out, size_t n, uint64_t ns)
{
	if (!ns) {
		snprintf(out, n, "none");
		return;
	}
	time_t sec = ns / 1000000000ull;
	struct tm tm;
	gmtime_r(&sec, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * ERR as READER may see it, into OUT (N bytes): an error may name the
 * UUIDs of other streams (the origins of refused messages), which only
 * root sees here; others get "hidden" in their place, as .upstreams does
 * for streams they may not read (docs/security.md). Returns OUT.
 */
static const char *error_for(const struct ctl_reader *reader, const char *err, char *out,
			     size_t n)
{
	if (!reader || reader->uid == 0) {
		snprintf(out, n, "%s", err);
		return out;
	}
	ctl_hide_uuids(err, out, n);
	return out;
}

/* S's .replicas, its status as comments, as READER sees it. S->lock held. */
static void render_replicas(struct sfs_namespace *ns, struct stream *s, struct topic **topics,
			    int nt, const struct ctl_reader *reader, struct text *t)
{
	LOCK_ASSERT_HELD(&s->lock);
	for (int i = 0; i < s->nreplicas; i++) {
		struct replica_conf *r = s->replicas[i];
		struct replica_status st;
		repl_replica_status(ns, s, r, topics, nt, &st);
		tprintf(t, "/mapr/%s/%s synchronous=%s paused=%s", r->cluster, r->stream,
			r->synchronous ? "true" : "false", r->paused ? "true" : "false");
		if (r->compression != CTL_COMP_OFF)
			tprintf(t, " networkcompression=%s", ctl_compression_name(r->compression));
		tprintf(t, " # state=%s pending=%" PRIu64 " uptodate=%s bytes=%" PRIu64,
			short_state(st.state), st.pending_msgs, st.uptodate ? "true" : "false",
			st.pending_bytes);
		if (st.degraded)
			tprintf(t, " degraded=true");
		char e[1200];
		if (!strcmp(st.state, "REPLICA_STATE_UNEXPECTED") && st.last_error[0])
			tprintf(t, " error=\"%s\"", error_for(reader, st.last_error, e, sizeof(e)));
		tprintf(t, "\n");
	}
}

/* Upstreams copied out of a stream with their UUIDs resolved (or "unknown"). */
struct upstream_view {
	struct upstream up[STREAM_MAX_UPSTREAMS];
	char uuid[STREAM_MAX_UPSTREAMS][37];
	int n;
};

/*
 * Naming other streams takes the namespace lock, which ranks above a
 * stream's lock: so upstreams are copied and resolved before s->lock is
 * taken for the rest of the rendering.
 */
/* May R read stream US's directory (its owner, group and mode)? */
static bool may_read(const struct ctl_reader *r, struct stream *us)
{
	if (!r || r->uid == 0)
		return true;
	pthread_mutex_lock(&us->lock);
	uid_t uid = us->uid;
	gid_t gid = us->gid;
	mode_t mode = us->mode;
	pthread_mutex_unlock(&us->lock);
	return ctl_reader_allows(r, uid, gid, mode, 4);
}

bool ctl_reader_allows(const struct ctl_reader *r, uid_t uid, gid_t gid, mode_t mode,
		       int want)
{
	if (!r || r->uid == 0)
		return true;
	int bits;
	if (r->uid == uid) {
		bits = (mode >> 6) & 7;
	} else {
		bool member = r->gid == gid;
		for (int i = 0; i < r->ngroups && !member; i++)
			member = r->groups[i] == gid;
		bits = member ? (mode >> 3) & 7 : mode & 7;
	}
	return (bits & want) == want;
}

static void resolve_upstreams(struct sfs_namespace *ns, struct stream *s,
			      const struct ctl_reader *reader, struct upstream_view *v)
{
	pthread_mutex_lock(&s->lock);
	v->n = s->nupstreams;
	memcpy(v->up, s->upstreams, v->n * sizeof(v->up[0]));
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < v->n; i++) {
		struct stream *us = ns_stream(ns, v->up[i].cluster, v->up[i].stream);
		snprintf(v->uuid[i], 37, "unknown");
		if (us) {
			if (may_read(reader, us))
				uuid_unparse(us->uuid, v->uuid[i]);
			else
				snprintf(v->uuid[i], 37, "hidden");
			stream_put(us);
		}
	}
}

static void render_upstreams(const struct upstream_view *v, struct text *t)
{
	for (int i = 0; i < v->n; i++)
		tprintf(t, "/mapr/%s/%s # uuid=%s\n", v->up[i].cluster, v->up[i].stream,
			v->uuid[i]);
}

/* .info as JSON, as READER sees it; caller holds s->lock. */
static json_t *render_info(struct stream *s, struct topic **topics, int nt,
			   const struct upstream_view *v, const struct ctl_reader *reader)
{
	LOCK_ASSERT_HELD(&s->lock);
	char u[37], when[32], mode[8];
	uuid_unparse(s->uuid, u);
	snprintf(mode, sizeof(mode), "0%03o", s->mode & 0777);
	json_t *jt = json_array(), *jr = json_array(), *ju = json_array();
	for (int i = 0; i < nt; i++) {
		uint64_t msgs, bytes;
		char tu[37];
		topic_stat(topics[i], &msgs, &bytes, NULL);
		uuid_unparse(topics[i]->uuid, tu);
		json_t *jti = json_pack("{s:s, s:I, s:I, s:s}", "name",
			topics[i]->name, "messages", (json_int_t)msgs, "bytes",
			(json_int_t)bytes, "uuid", tu);
		long long dmg = atomic_load(&topics[i]->damaged_offset);
		if (jti && dmg >= 0)
			json_object_set_new(jti, "damagedOffset", json_integer(dmg));
		json_array_append_new(jt, jti);
	}
	for (int i = 0; i < s->nreplicas; i++) {
		struct replica_conf *r = s->replicas[i];
		struct replica_status st;
		repl_replica_status(s->cluster->ns, s, r, topics, nt, &st);
		char path[600], et[32], e[1200];
		snprintf(path, sizeof(path), "/mapr/%s/%s", r->cluster, r->stream);
		iso_time(when, sizeof(when), st.oldest_pending_ns);
		iso_time(et, sizeof(et), st.last_error_ns);
		json_array_append_new(jr, json_pack(
			"{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:b, s:I, s:I, s:s, s:s, s:s}",
			"cluster", r->cluster, "stream", r->stream, "replicaPath", path,
			"replicaState", st.state, "paused", r->paused,
			"synchronous", r->synchronous, "degraded", st.degraded,
			"networkcompression",
			ctl_compression_name(r->compression), "isUptodate", st.uptodate,
			"putsPending", (json_int_t)st.pending_msgs, "bytesPending",
			(json_int_t)st.pending_bytes, "oldestPendingTime", when,
			"lastError", error_for(reader, st.last_error, e, sizeof(e)),
			"lastErrorTime", et));
	}
	for (int i = 0; i < v->n; i++)
		json_array_append_new(ju, json_pack("{s:s, s:s, s:s}", "cluster",
			v->up[i].cluster, "stream", v->up[i].stream, "uuid", v->uuid[i]));
	iso_time(when, sizeof(when), s->last_error_ns);
	char path[600], serr[600];
	snprintf(path, sizeof(path), "/mapr/%s/%s", s->cluster->name, s->name);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:i, s:o, s:o, s:o, s:s, s:s, s:I}",
			 "path", path, "cluster", s->cluster->name, "stream", s->name,
			 "uuid", u, "uid", (json_int_t)s->uid, "gid", (json_int_t)s->gid,
			 "mode", mode, "numtopics", nt, "topics", jt, "replicas", jr,
			 "upstreams", ju, "lastError",
			 error_for(reader, s->last_error, serr, sizeof(serr)),
			 "lastErrorTime", when, "replicationRounds",
			 (json_int_t)atomic_load(&s->repl_rounds));
}

int ctlfile_render(struct sfs_namespace *ns, struct stream *s, const struct ctl_reader *reader,
		   enum ctlfile which, char **out, size_t *len)
{
	struct text t = { 0 };
	struct topic **topics = NULL;
	int nt = stream_topics_snapshot(s, &topics);
	if (nt < 0)
		return -ENOMEM;
	struct upstream_view *v = NULL;
	if (which != CTLFILE_REPLICAS) {
		v = malloc(sizeof(*v));
		if (!v) {
			t.oom = true;
			goto done;
		}
		resolve_upstreams(ns, s, reader, v);
	}
	if (which == CTLFILE_UPSTREAMS) {
		render_upstreams(v, &t);
	} else if (which == CTLFILE_REPLICAS) {
		pthread_mutex_lock(&s->lock);
		render_replicas(ns, s, topics, nt, reader, &t);
		pthread_mutex_unlock(&s->lock);
	} else {
		pthread_mutex_lock(&s->lock);
		json_t *j = render_info(s, topics, nt, v, reader);
		pthread_mutex_unlock(&s->lock);
		char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(j);
		if (txt) {
			tprintf(&t, "%s\n", txt);
			free(txt);
		} else {
			t.oom = true;
		}
	}
done:
	free(v);
	for (int i = 0; i < nt; i++)
		topic_put(topics[i]);
	free(topics);
	if (t.oom) {
		free(t.buf);
		return -ENOMEM;
	}
	if (!t.buf) {
		t.buf = strdup("");
		if (!t.buf)
			return -ENOMEM;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}

/* One entry of the working copy of a set. */
struct work {
	char cluster[256], stream[256];
	bool synchronous, paused;
	enum ctl_compression compression;
	struct replica_conf *existing;	/* kept replica, or NULL */
	/* A line names it, not a replace, and not to pause or resume it:
	 * that accepts a replica stream made again under its name. */
	bool repin;
	uuid_t repin_uuid;	/* the stream named then */
	bool repin_none;	/* no such stream then (or none to take): nothing */
	uuid_t named;		/* a local stream a line named, as it was then */
};

static int find_work(struct work *w, int n, const char *cluster, const char *stream)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(w[i].cluster, cluster) && !strcmp(w[i].stream, stream))
			return i;
	return -1;
}

/* Check that E names a stream that can be used (not for removals). */
static int check_target(struct sfs_namespace *ns, struct stream *s,
			const struct ctl_entry *e, const char *file)
{
	struct cluster *cl = ns_cluster(ns, e->cluster);
	if (!cl) {
		stream_refuse(s, "%s line %d: unknown cluster '%s'", file, e->line, e->cluster);
		return -ENOENT;
	}
	/* A remote stream cannot be looked at from here: its existence (and,
	 * for a replica, whether it accepts us) shows in the replica's status
	 * once the gateway is asked (docs/control-files.md). */
	if (cl->remote)
		return 0;
	if (!strcmp(e->cluster, s->cluster->name) && !strcmp(e->stream, s->name)) {
		stream_refuse(s, "%s line %d: /mapr/%s/%s names this stream itself", file,
			      e->line, e->cluster, e->stream);
		return -EINVAL;
	}
	struct stream *t = ns_stream(ns, e->cluster, e->stream);
	if (!t) {
		stream_refuse(s, "%s line %d: stream /mapr/%s/%s does not exist", file,
			      e->line, e->cluster, e->stream);
		return -ENOENT;
	}
	stream_put(t);
	return 0;
}

/* Is E's stream already in S's replicas (or upstreams)? Takes s->lock. */
static bool listed(struct stream *s, enum ctl_kind kind, const struct ctl_entry *e)
{
	bool found = false;
	pthread_mutex_lock(&s->lock);
	int n = kind == CTL_REPLICAS ? s->nreplicas : s->nupstreams;
	for (int i = 0; i < n && !found; i++) {
		const char *c = kind == CTL_REPLICAS ? s->replicas[i]->cluster : s->upstreams[i].cluster;
		const char *st = kind == CTL_REPLICAS ? s->replicas[i]->stream : s->upstreams[i].stream;
		found = !strcmp(c, e->cluster) && !strcmp(st, e->stream);
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

/*
 * The stream that has E's name now, for a line of .replicas that may name
 * a pinned replica again (docs/security.md): its UUID in PIN, or null when
 * there is none to take. A local stream is looked up; a remote one only
 * when ASK (a listed replica named in a line that is not a replace and
 * does not pause or resume it), through replication, which asks its
 * gateway if the replica is refused for its pin. Returns 0, or the
 * lookup's negative errno (the write is refused: logged, in .info).
 */
static int pin_now(struct sfs_namespace *ns, struct stream *s, const struct ctl_entry *e,
		   bool ask, uuid_t pin)
{
	struct cluster *cl = ns_cluster(ns, e->cluster);
	uuid_clear(pin);
	if (cl && !cl->remote) {
		struct stream *t = ns_stream(ns, e->cluster, e->stream);
		if (t) {
			uuid_copy(pin, t->uuid);
			stream_put(t);
		}
		return 0;
	}
	if (!cl || !ask || e->has_paused)
		return 0;
	char why[1024] = "";
	int rc = repl_replica_lookup(ns, s, e->cluster, e->stream, pin, why, sizeof(why));
	if (rc == -EALREADY)
		rc = 0;
	if (rc < 0) {
		uuid_clear(pin);
		stream_refuse(s, ".replicas line %d: /mapr/%s/%s: the stream under its name cannot be taken as the replica: %s",
			      e->line, e->cluster, e->stream, why);
	}
	return rc;
}

int ctlfile_apply(struct sfs_namespace *ns, struct stream *s,
		  enum ctl_kind kind, const struct ctl_entry *e, int n,
		  bool replace, bool dry_run)
{
	const char *file = kind == CTL_REPLICAS ? ".replicas" : ".upstreams";
	int max = kind == CTL_REPLICAS ? STREAM_MAX_REPLICAS : STREAM_MAX_UPSTREAMS;
	int rc = 0;

	/*
	 * Existence checks first, without s->lock (they take ns->lock). An
	 * entry already listed is not checked again: its stream may be gone,
	 * and writing back what was read, or pausing it, must still work.
	 * A line naming a replica records which stream it names now (PIN,
	 * pin_now): only that one may be taken if it is not the pinned one.
	 */
	uuid_t *pin = kind == CTL_REPLICAS ? calloc(n ? n : 1, sizeof(*pin)) : NULL;
	if (kind == CTL_REPLICAS && !pin)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		bool is_listed = !e[i].remove && listed(s, kind, &e[i]);
		if (pin && !e[i].remove && (rc = pin_now(ns, s, &e[i], is_listed && !replace,
							 pin[i])) < 0) {
			free(pin);
			return rc;
		}
		if (e[i].remove || is_listed)
			continue;
		if ((rc = check_target(ns, s, &e[i], file)) < 0) {
			free(pin);
			return rc;
		}
	}

	/* Room for the current set plus every line, in the worst case. */
	struct work *w = calloc(max + n + 1, sizeof(*w));
	if (!w) {
		free(pin);
		return -ENOMEM;
	}
	int nw = 0;
	pthread_mutex_lock(&s->lock);
	int ncur = kind == CTL_REPLICAS ? s->nreplicas : s->nupstreams;
	struct work *cur = calloc(ncur + 1, sizeof(*cur));
	if (!cur) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < ncur; i++) {
		if (kind == CTL_REPLICAS) {
			struct replica_conf *r = s->replicas[i];
			memcpy(cur[i].cluster, r->cluster, 256);
			memcpy(cur[i].stream, r->stream, 256);
			cur[i].synchronous = r->synchronous;
			cur[i].paused = r->paused;
			cur[i].compression = r->compression;
			cur[i].existing = r;
		} else {
			memcpy(cur[i].cluster, s->upstreams[i].cluster, 256);
			memcpy(cur[i].stream, s->upstreams[i].stream, 256);
		}
	}
	if (!replace) {
		memcpy(w, cur, ncur * sizeof(*w));
		nw = ncur;
	}
	for (int i = 0; i < n; i++) {
		int k = find_work(w, nw, e[i].cluster, e[i].stream);
		if (e[i].remove) {
			if (k < 0 && !replace) {
				pthread_mutex_unlock(&s->lock);
				stream_refuse(s, "%s line %d: /mapr/%s/%s is not listed", file,
					      e[i].line, e[i].cluster, e[i].stream);
				rc = -ENOENT;
				free(cur);
				free(w);
				free(pin);
				return rc;
			}
			if (k >= 0) {
				memmove(&w[k], &w[k + 1], (nw - k - 1) * sizeof(*w));
				nw--;
			}
			continue;
		}
		if (k < 0) {
			k = nw++;
			memset(&w[k], 0, sizeof(w[k]));
			snprintf(w[k].cluster, 256, "%s", e[i].cluster);
			snprintf(w[k].stream, 256, "%s", e[i].stream);
			/* Entries kept across a replace keep their settings. */
			int c = find_work(cur, ncur, e[i].cluster, e[i].stream);
			if (c >= 0)
				w[k] = cur[c];
		}
		if (pin)
			uuid_copy(w[k].named, pin[i]);
		/* Pausing is what one does on seeing the replica refused; it
		 * must not be what hands the new stream everything. */
		if (pin && !replace && !e[i].has_paused) {
			w[k].repin = true;
			uuid_copy(w[k].repin_uuid, pin[i]);
			w[k].repin_none = uuid_is_null(pin[i]);
		}
		if (e[i].has_synchronous)
			w[k].synchronous = e[i].synchronous;
		if (e[i].has_paused)
			w[k].paused = e[i].paused;
		if (e[i].has_compression)
			w[k].compression = e[i].compression;
		if (nw > max) {
			pthread_mutex_unlock(&s->lock);
			stream_refuse(s, "%s line %d: more than %d %s", file, e[i].line, max,
				      kind == CTL_REPLICAS ? "replicas" : "upstreams");
			free(cur);
			free(w);
			free(pin);
			return -ENOSPC;
		}
	}
	if (dry_run)
		goto out;

	/* Commit: build the new set, keeping replica objects (positions). */
	if (kind == CTL_REPLICAS) {
		struct replica_conf *old[STREAM_MAX_REPLICAS];
		int nold = s->nreplicas;
		memcpy(old, s->replicas, sizeof(old));
		struct replica_conf *nr[STREAM_MAX_REPLICAS];
		struct replica_conf saved[STREAM_MAX_REPLICAS];
		for (int i = 0; i < nw; i++) {
			struct replica_conf *r = w[i].existing;
			if (!r) {
				r = repl_replica_new(ns);
				if (!r) {
					for (int k = 0; k < i; k++)
						if (!w[k].existing)
							repl_replica_free(ns, nr[k]);
					rc = -ENOMEM;
					goto out;
				}
				memcpy(r->cluster, w[i].cluster, 256);
				memcpy(r->stream, w[i].stream, 256);
			}
			saved[i] = *r;
			/* Named again: a replica stream made again under its
			 * name may be taken (replication/replicator.c). */
			if (w[i].repin && w[i].existing && !w[i].repin_none) {
				r->repin = true;
				uuid_copy(r->repin_uuid, w[i].repin_uuid);
			}
			/* A new local replica takes the stream its line named,
			 * not one made under the name before replication looks
			 * (a paused one may wait long). */
			if (!w[i].existing && !uuid_is_null(w[i].named)) {
				r->repin = true;
				uuid_copy(r->repin_uuid, w[i].named);
			}
			r->synchronous = w[i].synchronous;
			r->paused = w[i].paused;
			r->compression = w[i].compression;
			nr[i] = r;
		}
		/* Which of the old ones the new list drops, decided before the
		 * save: applying what the bucket holds may free some of nr[]. */
		bool dropped[STREAM_MAX_REPLICAS];
		for (int i = 0; i < nold; i++) {
			dropped[i] = true;
			for (int k = 0; k < nw; k++)
				dropped[i] &= nr[k] != old[i];
		}
		memcpy(s->replicas, nr, nw * sizeof(nr[0]));
		s->nreplicas = nw;
		rc = stream_save_locked(s);
		if (rc < 0) {
			/* Put everything back as it was. */
			for (int i = 0; i < nw; i++) {
				if (w[i].existing)
					*w[i].existing = saved[i];
				else
					repl_replica_free(ns, nr[i]);
			}
			memcpy(s->replicas, old, sizeof(old));
			s->nreplicas = nold;
			goto out;
		}
		/* What the bucket holds now: another daemon's list if this
		 * write changed nothing of it (fs/nats/natsmerge.h), whose
		 * application freed the replicas it does not name: nr[] is
		 * not looked at again. */
		for (int i = 0; i < s->nreplicas; i++)
			repl_replica_configured(ns, s->replicas[i]);
		atomic_store(&s->has_replicas, s->nreplicas > 0);
		for (int i = 0; i < nold; i++)
			if (dropped[i])
				repl_replica_free(ns, old[i]);
		s->positions_dirty = true;
	} else {
		struct upstream old[STREAM_MAX_UPSTREAMS];
		int nold = s->nupstreams;
		memcpy(old, s->upstreams, sizeof(old));
		for (int i = 0; i < nw; i++) {
			memcpy(s->upstreams[i].cluster, w[i].cluster, 256);
			memcpy(s->upstreams[i].stream, w[i].stream, 256);
		}
		s->nupstreams = nw;
		rc = stream_save_locked(s);
		if (rc < 0) {
			memcpy(s->upstreams, old, sizeof(old));
			s->nupstreams = nold;
		}
	}
out:
	pthread_mutex_unlock(&s->lock);
	if (rc < 0 && rc != -ENOMEM && !dry_run)
		stream_refuse(s, "%s: cannot save the stream's settings: %s", file, strerror(-rc));
	free(cur);
	free(w);
	free(pin);
	if (rc == 0 && !dry_run && kind == CTL_UPSTREAMS)
		atomic_fetch_add(&ns->upstreams_gen, 1);
	if (rc == 0 && !dry_run)
		stream_touch_replication(s);
	return rc;
}
