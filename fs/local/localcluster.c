/*
 * localcluster.c - a cluster of the local log (localhome.h): its data
 * directory on this host (made if missing, checked like sshd's StrictModes,
 * locked so that a second daemon is refused), .cluster.json (the owner and
 * mode of /<cluster>), and a directory per stream (localstream.c); the
 * cluster operations of fs/cluster.h, and the local home itself.
 */
#include "localhome.h"

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

#include "config.h"
#include "datadir.h"
#include "logging.h"
#include "metafile.h"
#include "names.h"
#include "namespace.h"

#define CLUSTER_META ".cluster.json"
#define LOCK_FILE ".lock"

static struct local_cluster *lc_of(const struct cluster *cl)
{
	return cl->home;
}

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

/*
 * Can directory PATH be used or made? Checked for every cluster before any
 * is created (cluster_init, before any open), so that a bad one leaves
 * nothing behind. Returns 0 or a negative errno (-ENOTDIR when PATH or an
 * ancestor is not a directory).
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

static int lc_save(struct cluster *cl)
{
	json_t *j = json_pack("{s:I, s:I, s:I}", "uid", (json_int_t)cl->uid, "gid",
			      (json_int_t)cl->gid, "mode", (json_int_t)cl->mode);
	if (!j)
		return -ENOMEM;
	int rc = metafile_write(lc_of(cl)->dirfd, CLUSTER_META, j, true);
	json_decref(j);
	return rc;
}

static int lc_open(struct cluster *cl, int line, char *err, size_t errlen)
{
	struct local_cluster *lc = lc_of(cl);
	const char *cfgpath = cl->ns->cfg->path;
	char why[1200], up[PATH_MAX];
	/* The way there first, as far as it exists: nothing is made under a
	 * directory others control (docs/security.md). */
	snprintf(up, sizeof(up), "%s", lc->data);
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
		rc = mkdir_p(lc->data);
	else
		goto unsafe;
	if (rc < 0) {
		snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s cannot be created: %s",
			 cfgpath, line, cl->name, lc->data, strerror(-rc));
		return rc;
	}
	if ((rc = datadir_check(lc->data, geteuid(), why, sizeof(why))) < 0) {
unsafe:
		snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s is not safe: %s",
			 cfgpath, line, cl->name, lc->data, why);
		return rc;
	}
	lc->dirfd = open(lc->data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lc->dirfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s: %s",
			 cfgpath, line, cl->name, lc->data, strerror(errno));
		return rc;
	}
	lc->lockfd = openat(lc->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (lc->lockfd < 0 || flock(lc->lockfd, LOCK_EX | LOCK_NB) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s is in use by another streamfs (or not writable: %s)",
			 cfgpath, line, cl->name, lc->data, strerror(errno));
		return rc;
	}
	/* The lock lives as long as the descriptor: kept open until close. */
	cl->uid = getuid();
	cl->gid = getgid();
	cl->mode = 0755;
	json_t *j;
	if (metafile_read(lc->dirfd, CLUSTER_META, &j) == 0) {
		cl->uid = meta_int(j, "uid", cl->uid);
		cl->gid = meta_int(j, "gid", cl->gid);
		cl->mode = meta_int(j, "mode", 0755) & 07777;
		json_decref(j);
	}
	int fd = dup(lc->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s:%d: [cluster %s]: cannot list %s: %s", cfgpath,
			 line, cl->name, lc->data, strerror(errno));
		return -EIO;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_type == DT_DIR && (!strncmp(de->d_name, ".new-", 5) ||
					     !strncmp(de->d_name, ".deleted-", 9))) {
			/* A stream whose creation or deletion was cut short. */
			log_warn("cluster %s: removing leftover stream directory %s",
				 cl->name, de->d_name);
			remove_tree(lc->dirfd, de->d_name);
			continue;
		}
		if (!name_valid(de->d_name) || de->d_type != DT_DIR)
			continue;
		struct stream *s;
		rc = local_stream_open(cl, lc->dirfd, &lc->shared->topic_opts, de->d_name, &s);
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

static void lc_close(struct cluster *cl)
{
	struct local_cluster *lc = lc_of(cl);
	if (!lc)
		return;
	if (lc->dirfd >= 0)
		close(lc->dirfd);
	if (lc->lockfd >= 0)
		close(lc->lockfd);
	free(lc);
	cl->home = NULL;
}

static int lc_stream_create(struct cluster *cl, const char *name, uid_t uid, gid_t gid,
			    mode_t mode, struct stream **out)
{
	struct local_cluster *lc = lc_of(cl);
	return local_stream_create(cl, lc->dirfd, &lc->shared->topic_opts, name, uid, gid,
				   mode, out);
}

static int lc_stream_remove(struct cluster *cl, struct stream *s)
{
	int dfd = lc_of(cl)->dirfd;
	char trash[64], u[37];
	uuid_unparse(s->uuid, u);
	snprintf(trash, sizeof(trash), ".deleted-%s", u);
	if (renameat(dfd, s->name, dfd, trash) < 0) {
		int rc = -errno;
		log_error("cluster %s: stream %s: cannot remove its directory: %s",
			  cl->name, s->name, strerror(errno));
		return rc;
	}
	remove_tree(dfd, trash);
	return 0;
}

static int lc_statfs(struct cluster *cl, struct statvfs *sv)
{
	return fstatvfs(lc_of(cl)->dirfd, sv) < 0 ? -errno : 0;
}

/* Its data directory still there, searchable, and still the one its
 * configured path names: one moved or replaced (mv, a restore beside it)
 * is served through the descriptor opened at start-up, but a restart
 * would open what the path names now, so it is not reachable as
 * configured (docs/operating.md, ".info"). */
static int lc_reachable(struct cluster *cl, char *why, size_t n)
{
	struct local_cluster *lc = lc_of(cl);
	struct stat st, at;
	errno = 0;
	bool up = fstatat(lc->dirfd, ".", &st, 0) == 0 && S_ISDIR(st.st_mode) && st.st_nlink > 0;
	if (!up) {
		snprintf(why, n, "data directory %s: %s", lc->data, strerror(errno ? errno : ENOENT));
		return 0;
	}
	if (stat(lc->data, &at) < 0) {
		snprintf(why, n, "data directory %s: %s (moved away while mounted? this daemon "
			 "still serves it where it went)", lc->data, strerror(errno));
		return 0;
	}
	if (at.st_dev != st.st_dev || at.st_ino != st.st_ino) {
		snprintf(why, n, "data directory %s is not the one mounted (moved or replaced "
			 "while mounted; this daemon still serves the one it opened)", lc->data);
		return 0;
	}
	return 1;
}

static const struct cluster_ops local_cluster_ops = {
	.open = lc_open,
	.close = lc_close,
	.save = lc_save,
	.stream_create = lc_stream_create,
	.stream_remove = lc_stream_remove,
	.statfs = lc_statfs,
	.reachable = lc_reachable,
};

/* ---- the home ------------------------------------------------------------ */

static bool local_serves(const struct sfs_cluster_conf *cc)
{
	return cc->data != NULL;
}

static int local_setup(const struct sfs_config *cfg, void **state, char *err, size_t errlen)
{
	struct local_shared *sh = calloc(1, sizeof(*sh));
	if (!sh) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sh->topic_opts.segment_bytes = cfg->segment_bytes;
	sh->topic_opts.fsync = cfg->fsync;
	sh->topic_opts.fsync_interval_ms = cfg->fsync_interval_ms;
	sh->topic_opts.checkpoint_every = 65536;
	/* The limit as it is now: fs/main.c raised the soft limit first. */
	fd_budget_init(&sh->fds, 0, log_topic_fds_evict, NULL);
	sh->topic_opts.fds = &sh->fds;
	atomic_init(&sh->live_topics, 0);
	sh->topic_opts.live = &sh->live_topics;
	*state = sh;
	return 0;
}

static void local_teardown(void *state)
{
	struct local_shared *sh = state;
	/* Every topic points at these settings and this budget: they go only
	 * when no topic is left. One still referenced at the stop (a file
	 * libfuse never released) keeps them, for the few moments the
	 * process has left. */
	long live = atomic_load(&sh->live_topics);
	if (live) {
		log_warn("%ld topic(s) still referenced at the stop; their settings are kept", live);
		return;
	}
	fd_budget_destroy(&sh->fds);
	free(sh);
}

static int local_cluster_init(struct cluster *cl, const struct sfs_cluster_conf *cc,
			      void *state, char *err, size_t errlen)
{
	int rc = check_data_dir(cc->data);
	if (rc < 0) {
		snprintf(err, errlen, "%s:%d: [cluster %s]: data directory %s cannot be used: %s",
			 cl->ns->cfg->path, cc->line, cc->name, cc->data, strerror(-rc));
		return rc;
	}
	struct local_cluster *lc = calloc(1, sizeof(*lc));
	if (!lc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	lc->data = cc->data;
	lc->dirfd = lc->lockfd = -1;
	lc->shared = state;
	cl->ops = &local_cluster_ops;
	cl->home = lc;
	cl->home_name = "local";
	cl->where_key = "data";
	cl->where = cc->data;
	return 0;
}

const struct cluster_home local_home = {
	.name = "local",
	.serves = local_serves,
	.setup = local_setup,
	.teardown = local_teardown,
	.cluster_init = local_cluster_init,
};
