/*
 * rootinfo.c - the mount's status (rootinfo.h): gathers what /.info and
 * the metrics endpoint show from the namespace, the replication hooks and
 * the daemon's counters.
 */
#include "rootinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "ctlfiles.h"
#include "logging.h"
#include "replhooks.h"
#include "stats.h"
#include "stream.h"
#include "topic.h"
#include "util/clock.h"
#include "util/safetext.h"

/* NS nanoseconds since the epoch as ISO 8601 UTC into OUT, or "none" for 0. */
static void iso_time(char *out, size_t n, uint64_t ns)
{
	if (!ns) {
		snprintf(out, n, "none");
		return;
	}
	time_t sec = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&sec, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ERR as READER may see it (UUIDs hidden from all but root), into OUT. */
static const char *shown(const struct ctl_reader *reader, const char *err, char *out, size_t n)
{
	if (!reader || reader->uid == 0)
		snprintf(out, n, "%s", err);
	else
		ctl_hide_uuids(err, out, n);
	return out;
}

/* Cluster CL: its home, where it is, and whether it can be reached now. */
static json_t *cluster_json(struct sfs_namespace *ns, const struct cluster *cl)
{
	char why[1400] = "";
	int up;
	json_t *j;
	if (cl->remote) {
		const struct sfs_cluster_conf *cc = config_find_cluster(ns->cfg, cl->name);
		/* HOST:PORT as configured: its host may hold any byte but a
		 * space (hostport_split), shown as \xNN (safetext.h). */
		char gw[600];
		up = repl_cluster_reachable(ns, cl->name, why, sizeof(why));
		j = json_pack("{s:s, s:s, s:s}", "name", cl->name, "home", "remote", "gateway",
			      safetext(gw, sizeof(gw), cc && cc->gateway ? cc->gateway : ""));
	} else {
		/* A path or a URL may hold bytes that are not UTF-8, which
		 * jansson refuses: shown as \xNN (safetext.h). */
		char where[1400];
		up = cl->ops->reachable((struct cluster *)cl, why, sizeof(why));
		j = json_pack("{s:s, s:s, s:s}", "name", cl->name, "home", cl->home_name,
			      cl->where_key, safetext(where, sizeof(where), cl->where ? cl->where : ""));
	}
	if (j) {
		char safe[sizeof(why)];
		json_object_set_new(j, "reachable", up < 0 ? json_null() : json_boolean(up));
		json_object_set_new(j, "error", json_string(safetext(safe, sizeof(safe), why)));
	}
	return j;
}

static json_t *counters_json(void)
{
	struct sfs_stats *c = &sfs_stats;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "messagesAppended", (json_int_t)stats_get(&c->appended_msgs),
			 "bytesAppended", (json_int_t)stats_get(&c->appended_bytes),
			 "messagesRead", (json_int_t)stats_get(&c->read_msgs),
			 "bytesRead", (json_int_t)stats_get(&c->read_bytes),
			 "replicationMessagesSent", (json_int_t)stats_get(&c->repl_sent_msgs),
			 "replicationBytesSent", (json_int_t)stats_get(&c->repl_sent_bytes),
			 "replicationMessagesApplied", (json_int_t)stats_get(&c->repl_applied_msgs),
			 "warnings", (json_int_t)stats_get(&c->warnings),
			 "errors", (json_int_t)stats_get(&c->errors));
}

/* One replica RC of S; S->lock held. */
static json_t *replica_json(struct sfs_namespace *ns, struct stream *s, struct replica_conf *rc,
			    struct topic **topics, int nt, const struct ctl_reader *reader,
			    uint64_t now)
{
	struct replica_status st;
	repl_replica_status(ns, s, rc, topics, nt, &st);
	char path[600], et[32], e[1400];
	snprintf(path, sizeof(path), "/mapr/%s/%s", rc->cluster, rc->stream);
	iso_time(et, sizeof(et), st.last_error_ns);
	double lag = st.oldest_pending_ns && now > st.oldest_pending_ns ?
		(double)(now - st.oldest_pending_ns) / 1e9 : 0.0;
	return json_pack("{s:s, s:s, s:b, s:I, s:I, s:f, s:s, s:s, s:I}",
			 "replicaPath", path, "replicaState", st.state, "isUptodate", st.uptodate,
			 "putsPending", (json_int_t)st.pending_msgs,
			 "bytesPending", (json_int_t)st.pending_bytes, "lagSeconds", lag,
			 "lastError", shown(reader, st.last_error, e, sizeof(e)),
			 "lastErrorTime", et,
			 "lastErrorEpoch", (json_int_t)(st.last_error_ns / 1000000000ull));
}

/* Local stream S: totals of its topics and its replicas. */
static json_t *stream_json(struct sfs_namespace *ns, struct stream *s,
			   const struct ctl_reader *reader, uint64_t now)
{
	struct topic **topics = NULL;
	int nt = stream_topics_snapshot(s, &topics);
	if (nt < 0)
		return NULL;
	uint64_t msgs = 0, bytes = 0;
	for (int i = 0; i < nt; i++) {
		uint64_t m, b;
		topic_stat(topics[i], &m, &b, NULL);
		msgs += m;
		bytes += b;
	}
	json_t *jr = json_array();
	char path[600], et[32], e[600];
	snprintf(path, sizeof(path), "/mapr/%s/%s", s->cluster->name, s->name);
	pthread_mutex_lock(&s->lock);
	for (int i = 0; jr && i < s->nreplicas; i++)
		json_array_append_new(jr, replica_json(ns, s, s->replicas[i], topics, nt, reader, now));
	iso_time(et, sizeof(et), s->last_error_ns);
	json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:o*, s:s, s:s, s:I}",
			      "path", path, "cluster", s->cluster->name, "stream", s->name,
			      "numtopics", nt, "messages", (json_int_t)msgs,
			      "bytes", (json_int_t)bytes, "replicas", jr,
			      "lastError", shown(reader, s->last_error, e, sizeof(e)),
			      "lastErrorTime", et,
			      "lastErrorEpoch", (json_int_t)(s->last_error_ns / 1000000000ull));
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < nt; i++)
		topic_put(topics[i]);
	free(topics);
	return j;
}

json_t *rootinfo_json(struct sfs_namespace *ns, const struct ctl_reader *reader)
{
	char started[32], logto[PATH_MAX + 64];
	iso_time(started, sizeof(started), sfs_stats.start_ns);
	/* -l or [mount] log: a path, any bytes (safetext.h) */
	safetext(logto, sizeof(logto), sfs_log_target());
	json_t *jc = json_array(), *js = json_array();
	for (int i = 0; jc && i < ns->nclusters; i++)
		json_array_append_new(jc, cluster_json(ns, &ns->clusters[i]));
	struct stream **streams = NULL;
	int n = ns_streams_snapshot(ns, &streams);
	uint64_t now = now_ns();
	for (int i = 0; i < n; i++) {
		/* Only the streams READER could list and read itself: its
		 * cluster's directory readable and searchable, the stream's
		 * readable (docs/security.md, "Nothing leaks"). */
		struct stream *s = streams[i];
		struct cluster *cl = s->cluster;
		pthread_mutex_lock(&s->lock);
		bool shown = ctl_reader_allows(reader, s->uid, s->gid, s->mode, 4);
		pthread_mutex_unlock(&s->lock);
		pthread_rwlock_rdlock(&ns->lock);
		shown = shown && ctl_reader_allows(reader, cl->uid, cl->gid, cl->mode, 5);
		pthread_rwlock_unlock(&ns->lock);
		if (js && shown)
			json_array_append_new(js, stream_json(ns, s, reader, now));
		stream_put(s);
	}
	free(streams);
	if (n < 0) {
		json_decref(jc);
		json_decref(js);
		return NULL;
	}
	return json_pack("{s:s, s:i, s:s, s:I, s:s, s:o*, s:o*, s:o*}",
			 "version", SFS_VERSION, "pid", (int)getpid(), "startTime", started,
			 "uptimeSeconds", (json_int_t)stats_uptime_s(), "log", logto,
			 "clusters", jc, "counters", counters_json(), "streams", js);
}

int rootinfo_render(struct sfs_namespace *ns, const struct ctl_reader *reader, char **out,
		    size_t *len)
{
	json_t *j = rootinfo_json(ns, reader);
	char *txt = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (!txt)
		return -ENOMEM;
	size_t n = strlen(txt);
	char *t = realloc(txt, n + 2);
	if (!t) {
		free(txt);
		return -ENOMEM;
	}
	t[n] = '\n';
	t[n + 1] = 0;
	*out = t;
	*len = n + 1;
	return 0;
}
