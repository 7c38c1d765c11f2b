/*
 * localstream.c - a stream of the local log (localhome.h): a directory in
 * its cluster's data directory holding .stream.json (the metadata,
 * replaced atomically and synced), .positions.json (replication positions,
 * replication/positions.c) and a directory per topic (logtopic.h); the
 * stream operations of fs/stream.h over them. Byte layouts in
 * docs/storage.md.
 */
#define _GNU_SOURCE /* renameat2 */
#include "localhome.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logging.h"
#include "metafile.h"
#include "names.h"
#include "util/clock.h"
#include "util/lockcheck.h"

#define STREAM_META ".stream.json"
#define POSITIONS_FILE ".positions.json"

static struct local_stream *ls_of(const struct stream *s)
{
	return s->home;
}

static int ls_save(struct stream *s, json_t *meta, bool durable)
{
	LOCK_ASSERT_HELD(&s->lock);
	return metafile_write(ls_of(s)->dirfd, STREAM_META, meta, durable);
}

static int ls_topic_create(struct stream *s, const char *name, uid_t uid, gid_t gid,
			   mode_t mode, struct topic **out)
{
	LOCK_ASSERT_HELD(&s->lock);
	struct local_stream *ls = ls_of(s);
	return log_topic_create(ls->dirfd, name, s->uuid, uid, gid, mode, ls->opts, out);
}

/* Where topic T's directory goes when it is deleted, into OUT[64]. */
static void trash_name(char *out, const struct topic *t)
{
	char u[37];
	uuid_unparse(t->uuid, u);
	snprintf(out, 64, ".deleted-%s", u);
}

static int ls_topic_detach(struct stream *s, const char *name, struct topic *t)
{
	LOCK_ASSERT_HELD(&s->lock);
	char trash[64];
	trash_name(trash, t);
	int dfd = ls_of(s)->dirfd;
	return renameat(dfd, name, dfd, trash) < 0 ? -errno : 0;
}

static void ls_topic_purge(struct stream *s, struct topic *t)
{
	char trash[64];
	trash_name(trash, t);
	remove_tree(ls_of(s)->dirfd, trash);
}

/* Does the stream's directory hold any topic directory, loaded or not? */
static bool ls_holds_unserved(struct stream *s)
{
	int fd = dup(ls_of(s)->dirfd);
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

static int ls_positions_read(struct stream *s, json_t **out)
{
	return metafile_read(ls_of(s)->dirfd, POSITIONS_FILE, out);
}

static int ls_positions_replace(struct stream *s, json_t *snap, bool durable)
{
	return metafile_replace(ls_of(s)->dirfd, POSITIONS_FILE, snap, durable);
}

static void ls_destroy(struct stream *s)
{
	struct local_stream *ls = ls_of(s);
	if (!ls)
		return;
	if (ls->dirfd >= 0)
		close(ls->dirfd);
	free(ls);
	s->home = NULL;
}

static const struct stream_ops local_stream_ops = {
	.save = ls_save,
	.topic_create = ls_topic_create,
	.topic_detach = ls_topic_detach,
	.topic_purge = ls_topic_purge,
	.holds_unserved = ls_holds_unserved,
	.positions_read = ls_positions_read,
	.positions_replace = ls_positions_replace,
	.destroy = ls_destroy,
};

/* A stream NAME of CL with a local home whose directory is not open yet. */
static struct stream *new_local(struct cluster *cl, const char *name,
				const struct topic_opts *opts)
{
	struct local_stream *ls = calloc(1, sizeof(*ls));
	if (!ls)
		return NULL;
	ls->dirfd = -1;
	ls->opts = opts;
	struct stream *s = stream_alloc(cl, name, &local_stream_ops, ls);
	if (!s)
		free(ls);
	return s;
}

int local_stream_create(struct cluster *cl, int cluster_dirfd, const struct topic_opts *opts,
			const char *name, uid_t uid, gid_t gid, mode_t mode,
			struct stream **out)
{
	char tmp[64], u[37];
	struct stat st;
	int rc;
	if (fstatat(cluster_dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	struct stream *s = new_local(cl, name, opts);
	if (!s)
		return -ENOMEM;
	struct local_stream *ls = ls_of(s);
	uuid_generate(s->uuid);
	uuid_unparse(s->uuid, u);
	s->uid = uid;
	s->gid = gid;
	s->mode = mode & 07777;
	s->ctime_ns = now_ns();
	snprintf(tmp, sizeof(tmp), ".new-%s", u);
	if (mkdirat(cluster_dirfd, tmp, 0750) < 0) {
		rc = -errno;
		goto fail;
	}
	ls->dirfd = openat(cluster_dirfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (ls->dirfd < 0) {
		rc = -errno;
		goto fail_dir;
	}
	/* Nobody else sees S yet; the lock is taken for the contract. */
	pthread_mutex_lock(&s->lock);
	rc = stream_save_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		goto fail_dir;
	if (renameat2(cluster_dirfd, tmp, cluster_dirfd, name, RENAME_NOREPLACE) < 0) {
		rc = -errno;
		goto fail_dir;
	}
	fsync(cluster_dirfd);
	*out = s;
	return 0;
fail_dir:
	remove_tree(cluster_dirfd, tmp);
fail:
	stream_put(s);
	return rc;
}

int local_stream_open(struct cluster *cl, int cluster_dirfd, const struct topic_opts *opts,
		      const char *name, struct stream **out)
{
	int rc;
	struct stream *s = new_local(cl, name, opts);
	if (!s)
		return -ENOMEM;
	struct local_stream *ls = ls_of(s);
	ls->dirfd = openat(cluster_dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (ls->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	json_t *meta = NULL;
	if ((rc = metafile_read(ls->dirfd, STREAM_META, &meta)) < 0)
		goto fail;
	rc = stream_load_meta(s, meta);
	json_decref(meta);
	if (rc < 0)
		goto fail;
	int fd = dup(ls->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, ".new-", 5) ||
		    !strncmp(de->d_name, ".deleted-", 9)) {
			/* A topic whose creation or deletion was cut short. */
			log_warn("stream %s/%s: removing leftover topic directory %s",
				 cl->name, name, de->d_name);
			remove_tree(ls->dirfd, de->d_name);
			continue;
		}
		if (!name_valid(de->d_name) || de->d_type != DT_DIR)
			continue;
		struct topic *t;
		rc = log_topic_open(ls->dirfd, de->d_name, s->uuid, opts, &t);
		if (rc < 0) {
			log_error("stream %s/%s: topic %s cannot be loaded (%s); it is not served",
				  cl->name, name, de->d_name, strerror(-rc));
			continue;
		}
		if ((rc = stream_adopt_topic(s, t)) < 0) {
			topic_put(t);
			closedir(d);
			goto fail;
		}
	}
	closedir(d);
	*out = s;
	return 0;
fail:
	stream_put(s);
	return rc;
}
