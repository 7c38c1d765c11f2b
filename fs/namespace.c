/*
 * namespace.c - clusters, their stream lists and path-level operations on
 * them (namespace.h), whatever home serves each (fs/cluster.h).
 */
#include "namespace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logging.h"
#include "metafile.h"
#include "names.h"
#include "util/clock.h"

static bool (*_Atomic interrupt_hook)(void);

void cluster_set_interrupt_hook(bool (*fn)(void))
{
	atomic_store(&interrupt_hook, fn);
}

bool cluster_interrupted(void)
{
	bool (*fn)(void) = atomic_load(&interrupt_hook);
	return fn && fn();
}

int cluster_add_stream(struct cluster *cl, struct stream *s)
{
	if (cl->nstreams == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 8;
		struct stream **v = realloc(cl->streams, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		cl->streams = v;
		cl->cap = cap;
	}
	cl->streams[cl->nstreams++] = s;
	return 0;
}

int ns_open(struct sfs_namespace *ns, const struct sfs_config *cfg,
	    const struct cluster_home *const *homes, int nhomes,
	    const struct repl_hooks *hooks, void *hooks_arg, char *err, size_t errlen)
{
	memset(ns, 0, sizeof(*ns));
	pthread_rwlock_init(&ns->lock, NULL);
	ns->cfg = cfg;
	ns->hooks = hooks;
	ns->hooks_arg = hooks_arg;
	ns->mount_ns = now_ns();
	ns->homes = homes;
	ns->nhomes = nhomes < SFS_MAX_HOMES ? nhomes : SFS_MAX_HOMES;
	ns->clusters = calloc(cfg->nclusters ? cfg->nclusters : 1, sizeof(*ns->clusters));
	if (!ns->clusters) {
		snprintf(err, errlen, "out of memory");
		pthread_rwlock_destroy(&ns->lock);
		return -ENOMEM;
	}
	int rc = 0;
	for (int h = 0; h < ns->nhomes; h++)
		if ((rc = homes[h]->setup(cfg, &ns->home_state[h], err, errlen)) < 0)
			goto fail;
	/* Every section is given its home first: one that cannot be served
	 * is refused before anything is made for another. */
	for (int i = 0; i < cfg->nclusters; i++) {
		struct cluster *cl = &ns->clusters[i];
		const struct sfs_cluster_conf *cc = &cfg->clusters[i];
		snprintf(cl->name, sizeof(cl->name), "%s", cc->name);
		cl->ns = ns;
		ns->nclusters++;
		int h = 0;
		while (h < ns->nhomes && !homes[h]->serves(cc))
			h++;
		if (h == ns->nhomes) {
			/* Served by another daemon, through its gateway. */
			cl->remote = true;
			cl->home_name = "remote";
			cl->where_key = "gateway";
			cl->where = cc->gateway ? cc->gateway : "";
			continue;
		}
		if ((rc = homes[h]->cluster_init(cl, cc, ns->home_state[h], err, errlen)) < 0)
			goto fail;
	}
	for (int i = 0; i < ns->nclusters; i++) {
		struct cluster *cl = &ns->clusters[i];
		if (cl->ops && (rc = cl->ops->open(cl, cfg->clusters[i].line, err, errlen)) < 0)
			goto fail;
	}
	return 0;
fail:
	ns_close(ns);
	return rc;
}

void ns_close(struct sfs_namespace *ns)
{
	for (int i = 0; i < ns->nclusters; i++)
		if (ns->clusters[i].ops && ns->clusters[i].ops->stop)
			ns->clusters[i].ops->stop(&ns->clusters[i]);
	for (int i = 0; i < ns->nclusters; i++) {
		struct cluster *cl = &ns->clusters[i];
		for (size_t k = 0; k < cl->nstreams; k++)
			stream_put(cl->streams[k]);
		free(cl->streams);
		if (cl->ops)
			cl->ops->close(cl);
	}
	for (int h = 0; h < ns->nhomes; h++)
		if (ns->home_state[h])
			ns->homes[h]->teardown(ns->home_state[h]);
	free(ns->clusters);
	ns->clusters = NULL;
	ns->nclusters = 0;
	pthread_rwlock_destroy(&ns->lock);
}

struct cluster *ns_cluster(struct sfs_namespace *ns, const char *name)
{
	for (int i = 0; i < ns->nclusters; i++)
		if (!strcmp(ns->clusters[i].name, name))
			return &ns->clusters[i];
	return NULL;
}

static ssize_t find_stream_locked(struct cluster *cl, const char *name)
{
	for (size_t i = 0; i < cl->nstreams; i++)
		if (!strcmp(cl->streams[i]->name, name))
			return (ssize_t)i;
	return -1;
}

struct stream *ns_stream(struct sfs_namespace *ns, const char *cluster,
			 const char *name)
{
	struct cluster *cl = ns_cluster(ns, cluster);
	if (!cl || cl->remote)
		return NULL;
	struct stream *s = NULL;
	pthread_rwlock_rdlock(&ns->lock);
	ssize_t i = find_stream_locked(cl, name);
	if (i >= 0) {
		s = cl->streams[i];
		stream_get(s);
	}
	pthread_rwlock_unlock(&ns->lock);
	return s;
}

int ns_create_stream(struct sfs_namespace *ns, struct cluster *cl,
		     const char *name, uid_t uid, gid_t gid, mode_t mode,
		     struct stream **out)
{
	if (!cl || cl->remote)
		return -ENOENT;
	if (!name_valid(name))
		return -EINVAL;
	int rc;
	struct stream *s;
	pthread_rwlock_wrlock(&ns->lock);
	if (find_stream_locked(cl, name) >= 0) {
		rc = -EEXIST;
		goto out;
	}
	if ((rc = cl->ops->stream_create(cl, name, uid, gid, mode, &s)) < 0)
		goto out;
	if ((rc = cluster_add_stream(cl, s)) < 0) {
		stream_put(s);
		goto out;
	}
	if (out) {
		stream_get(s);
		*out = s;
	}
out:
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

int ns_delete_stream(struct sfs_namespace *ns, struct cluster *cl,
		     const char *name)
{
	if (!cl || cl->remote)
		return -ENOENT;
	int rc = 0;
	pthread_rwlock_wrlock(&ns->lock);
	ssize_t i = find_stream_locked(cl, name);
	if (i < 0) {
		rc = -ENOENT;
		goto out;
	}
	struct stream *s = cl->streams[i];
	pthread_mutex_lock(&s->lock);
	/* A topic that failed to load is data too: never delete it. */
	if (s->ntopics || s->ops->holds_unserved(s)) {
		pthread_mutex_unlock(&s->lock);
		rc = -ENOTEMPTY;
		goto out;
	}
	/* Also under positions_mu: a positions file being written waits,
	 * and none is started after this (replication/positions.c). */
	pthread_mutex_lock(&s->positions_mu);
	s->deleted = true;
	pthread_mutex_unlock(&s->positions_mu);
	pthread_mutex_unlock(&s->lock);
	if ((rc = cl->ops->stream_remove(cl, s)) < 0)
		goto out;
	cl->streams[i] = cl->streams[--cl->nstreams];
	stream_put(s);
out:
	pthread_rwlock_unlock(&ns->lock);
	/* It may be some source's replica: let replication look now, so the
	 * source's status says so without waiting for its next append. */
	if (rc == 0) {
		atomic_fetch_add(&ns->repl_gen_all, 1);
		atomic_fetch_add(&ns->upstreams_gen, 1);	/* its upstreams went with it */
		repl_wake(ns);
	}
	return rc;
}

int ns_streams_snapshot(struct sfs_namespace *ns, struct stream ***out)
{
	pthread_rwlock_rdlock(&ns->lock);
	size_t n = 0;
	for (int i = 0; i < ns->nclusters; i++)
		n += ns->clusters[i].nstreams;
	struct stream **v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;
	for (int i = 0; v && i < ns->nclusters; i++)
		for (size_t j = 0; j < ns->clusters[i].nstreams; j++) {
			v[k] = ns->clusters[i].streams[j];
			stream_get(v[k++]);
		}
	pthread_rwlock_unlock(&ns->lock);
	if (!v)
		return -ENOMEM;
	*out = v;
	return (int)n;
}

int ns_cluster_names(struct sfs_namespace *ns, char ***out)
{
	char **v = calloc(ns->nclusters ? ns->nclusters : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	int n = 0;
	for (int i = 0; i < ns->nclusters; i++) {
		if (!(v[n] = strdup(ns->clusters[i].name))) {
			free_names(v, n);
			return -ENOMEM;
		}
		n++;
	}
	*out = v;
	return n;
}

int ns_stream_names(struct sfs_namespace *ns, struct cluster *cl, char ***out)
{
	pthread_rwlock_rdlock(&ns->lock);
	int n = (int)cl->nstreams;
	char **v = calloc(n ? n : 1, sizeof(*v));
	for (int i = 0; v && i < n; i++)
		if (!(v[i] = strdup(cl->streams[i]->name))) {
			free_names(v, i);
			v = NULL;
		}
	pthread_rwlock_unlock(&ns->lock);
	if (!v)
		return -ENOMEM;
	*out = v;
	return n;
}

int ns_cluster_set_owner(struct sfs_namespace *ns, struct cluster *cl,
			 uid_t uid, gid_t gid, mode_t mode)
{
	pthread_rwlock_wrlock(&ns->lock);
	uid_t ou = cl->uid;
	gid_t og = cl->gid;
	mode_t om = cl->mode;
	if (uid != (uid_t)-1)
		cl->uid = uid;
	if (gid != (gid_t)-1)
		cl->gid = gid;
	if (mode != (mode_t)-1)
		cl->mode = mode & 07777;
	int rc = cl->ops ? cl->ops->save(cl) : -ENOENT;
	if (rc < 0) {
		cl->uid = ou;
		cl->gid = og;
		cl->mode = om;
	}
	pthread_rwlock_unlock(&ns->lock);
	return rc;
}

int ns_sync_all(struct sfs_namespace *ns)
{
	struct stream **streams;
	int first = 0;
	int n = ns_streams_snapshot(ns, &streams);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct topic **topics;
		int nt = stream_topics_snapshot(streams[i], &topics);
		for (int k = 0; k < nt; k++) {
			int rc = topic_sync(topics[k]);
			if (rc < 0) {
				log_error("/%s/%s/%s: sync failed: %s", streams[i]->cluster->name,
					  streams[i]->name, topics[k]->name, strerror(-rc));
				if (!first)
					first = rc;
			}
			topic_put(topics[k]);
		}
		if (nt >= 0)
			free(topics);
		stream_put(streams[i]);
	}
	free(streams);
	return first;
}
