/*
 * namespace.c - clusters, their stream lists and path-level operations on
 * them (namespace.h). Owns the data-directory locks that keep two daemons
 * off the same data.
 */
#include "namespace.h"

#include "datadir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#define CLUSTER_META ".cluster.json"
#define LOCK_FILE ".lock"

/* mkdir -p PATH with mode 0755. Returns 0 or a negative errno. */
static int mkdir_p(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int cluster_save(struct cluster *cl)
{
	json_t *j = json_pack("{s:I, s:I, s:I}", "uid", (json_int_t)cl->uid, "gid",
			      (json_int_t)cl->gid, "mode", (json_int_t)cl->mode);
	if (!j)
		return -ENOMEM;
	int rc = metafile_write(cl->dirfd, CLUSTER_META, j, true);
	json_decref(j);
	return rc;
}

static int cluster_add_stream(struct cluster *cl, struct stream *s)
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

/*
 * Can directory PATH be used or made? Checked for every cluster before any
 * is created, so that a bad one leaves nothing behind. Returns 0 or a
 * negative errno (-ENOTDIR when PATH or an ancestor is not a directory).
 */
static int check_data_dir(const char *path)
{
	char buf[4096];
	struct stat st;
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (;;) {
		if (stat(buf, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
			return access(buf, W_OK | X_OK) < 0 ? -errno : 0;
		}
		if (errno != ENOENT)
			return -errno;
		char *slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return 0; /* up to "/": mkdir will tell */
		*slash = 0;
	}
}

static int cluster_load(struct sfs_namespace *ns, struct cluster *cl, int line,
			char *err, size_t errlen)
{
	char why[1200], up[PATH_MAX];
	/* The way there first, as far as it exists: nothing is made under a
	 * directory others control (docs/security.md). */
	snprintf(up, sizeof(up), "%s", cl->data);
	struct stat st;
	while (stat(up, &st) < 0 && errno == ENOENT) {
		char *slash = strrchr(up, '/');
		if (!slash) {
			snprintf(up, sizeof(up), ".");
			break;
		}
		if (slash == up) {
			up[1] = 0;
			break;
		}
		*slash = 0;
	}
	int rc = datadir_check(up, geteuid(), why, sizeof(why));
	if (rc == 0)
		rc = mkdir_p(cl->data);
	else
		goto unsafe;
	if (rc < 0) {
		snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s cannot be created: %s",
			 ns->cfg->path, line, cl->name, cl->data, strerror(-rc));
		return rc;
	}
	if ((rc = datadir_check(cl->data, geteuid(), why, sizeof(why))) < 0) {
unsafe:
		snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s is not safe: %s",
			 ns->cfg->path, line, cl->name, cl->data, why);
		return rc;
	}
	cl->dirfd = open(cl->data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cl->dirfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s: %s",
			 ns->cfg->path, line, cl->name, cl->data, strerror(errno));
		return rc;
	}
	int lfd = openat(cl->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s is in use by another streamfs (or not writable: %s)",
			 ns->cfg->path, line, cl->name, cl->data, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return rc;
	}
	/* The lock lives as long as the descriptor: kept open until exit. */
	cl->uid = getuid();
	cl->gid = getgid();
	cl->mode = 0755;
	json_t *j;
	if (metafile_read(cl->dirfd, CLUSTER_META, &j) == 0) {
		cl->uid = meta_int(j, "uid", cl->uid);
		cl->gid = meta_int(j, "gid", cl->gid);
		cl->mode = meta_int(j, "mode", 0755) & 07777;
		json_decref(j);
	}
	int fd = dup(cl->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s:%d: [cluster %s]: cannot list %s: %s", ns->cfg->path,
			 line, cl->name, cl->data, strerror(errno));
		return -EIO;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type == DT_DIR && (!strncmp(de->d_name, ".new-", 5) ||
					     !strncmp(de->d_name, ".deleted-", 9))) {
			/* A stream whose creation or deletion was cut short. */
			log_warn("cluster %s: removing leftover stream directory %s",
				 cl->name, de->d_name);
			remove_tree(cl->dirfd, de->d_name);
			continue;
		}
		if (!name_valid(de->d_name) || de->d_type != DT_DIR)
			continue;
		struct stream *s;
		rc = stream_open(cl, cl->dirfd, de->d_name, &ns->topic_opts, &s);
		if (rc < 0) {
			log_error("cluster %s: stream %s cannot be loaded (%s); it is not served",
				  cl->name, de->d_name, strerror(-rc));
			continue;
		}
		if (cluster_add_stream(cl, s) < 0) {
			stream_put(s);
			closedir(d);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	closedir(d);
	return 0;
}

int ns_open(struct sfs_namespace *ns, const struct sfs_config *cfg,
	    const struct repl_hooks *hooks, void *hooks_arg, char *err, size_t errlen)
{
	memset(ns, 0, sizeof(*ns));
	pthread_rwlock_init(&ns->lock, NULL);
	ns->cfg = cfg;
	ns->hooks = hooks;
	ns->hooks_arg = hooks_arg;
	ns->mount_ns = now_ns();
	ns->topic_opts.segment_bytes = cfg->segment_bytes;
	ns->topic_opts.fsync = cfg->fsync;
	ns->topic_opts.fsync_interval_ms = cfg->fsync_interval_ms;
	ns->topic_opts.checkpoint_every = 65536;
	/* The limit as it is now: fs/main.c raised the soft limit first. */
	fd_budget_init(&ns->fds, 0, log_topic_fds_evict, NULL);
	ns->topic_opts.fds = &ns->fds;
	ns->clusters = calloc(cfg->nclusters ? cfg->nclusters : 1, sizeof(*ns->clusters));
	if (!ns->clusters) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < cfg->nclusters; i++) {
		const struct sfs_cluster_conf *cc = &cfg->clusters[i];
		int rc = cc->data ? check_data_dir(cc->data) : 0;
		if (rc < 0) {
			snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s cannot be used: %s",
				 cfg->path, cc->line, cc->name, cc->data, strerror(-rc));
			free(ns->clusters);
			ns->clusters = NULL;
			pthread_rwlock_destroy(&ns->lock);
			return rc;
		}
	}
	for (int i = 0; i < cfg->nclusters; i++) {
		struct cluster *cl = &ns->clusters[i];
		const struct sfs_cluster_conf *cc = &cfg->clusters[i];
		snprintf(cl->name, sizeof(cl->name), "%s", cc->name);
		cl->ns = ns;
		cl->dirfd = -1;
		cl->remote = cc->data == NULL;
		cl->data = cc->data;
		ns->nclusters++;
		if (cl->remote)
			continue;
		int rc = cluster_load(ns, cl, cc->line, err, errlen);
		if (rc < 0) {
			ns_close(ns);
			return rc;
		}
	}
	return 0;
}

void ns_close(struct sfs_namespace *ns)
{
	for (int i = 0; i < ns->nclusters; i++) {
		struct cluster *cl = &ns->clusters[i];
		for (size_t k = 0; k < cl->nstreams; k++)
			stream_put(cl->streams[k]);
		free(cl->streams);
		if (cl->dirfd >= 0)
			close(cl->dirfd);
	}
	free(ns->clusters);
	ns->clusters = NULL;
	ns->nclusters = 0;
	pthread_rwlock_destroy(&ns->lock);
	/* ns->fds stays usable: a topic still referenced (there should be
	 * none) counts itself out of it when its last reference goes. */
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
	if ((rc = stream_create(cl, cl->dirfd, name, uid, gid, mode, &s)) < 0)
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

/* Does directory DIRFD hold any topic directory, loaded or not? */
static bool has_topic_dirs(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return true; /* cannot tell: keep the data */
	}
	rewinddir(d);
	bool found = false;
	struct dirent *de;
	while (!found && (de = readdir(d)))
		found = name_valid(de->d_name);
	closedir(d);
	return found;
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
	/* A topic directory that failed to load is data too: never delete it. */
	if (s->ntopics || has_topic_dirs(s->dirfd)) {
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
	char trash[64], u[37];
	uuid_unparse(s->uuid, u);
	snprintf(trash, sizeof(trash), ".deleted-%s", u);
	if (renameat(cl->dirfd, name, cl->dirfd, trash) < 0) {
		rc = -errno;
		log_error("cluster %s: stream %s: cannot remove its directory: %s",
			  cl->name, name, strerror(errno));
		goto out;
	}
	remove_tree(cl->dirfd, trash);
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
		if (ns->clusters[i].remote)
			continue; /* browsing remote clusters comes with the gateway */
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
	int rc = cluster_save(cl);
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
