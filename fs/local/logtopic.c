/*
 * logtopic.c - a local log topic's life (logtopic.h) and its table of
 * operations (fs/topic.h): create, open (segments found, torn tails cut,
 * marks loaded), destruction, deletion, owners and times. Its appends are
 * logtopic_append.c's, its exactly-once state logtopic_marks.c's, its
 * readers logtopic_read.c's; what they share is logtopic_internal.h.
 */
#define _GNU_SOURCE /* renameat2 */
#include "logtopic_internal.h"

#include <dirent.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "logging.h"
#include "metafile.h"
#include "util/byteorder.h"
#include "util/fileio.h"
#include "util/clock.h"
#include "util/lockcheck.h"

const uint8_t origins_magic[8] = { 'S', 'F', 'S', 'O', 'R', 'G', 0, 0 };
const uint8_t ckpt_magic[8] = { 'S', 'F', 'S', 'C', 'K', 'P', 0, 0 };

/* ---- descriptor budget (fs/fdbudget.h) -------------------------------- */

bool log_topic_fds_evict(struct fd_user *u, void *arg)
{
	(void)arg;
	struct log_topic *x = (struct log_topic *)((char *)u - offsetof(struct log_topic, fdu));
	bool closed = false;
	/* Exclusively, by trylock: no use of its files is in flight, and no
	 * lock is ever waited for in the wrong order (the caller holds the
	 * budget's mutex inside another topic's open_mu). */
	if (pthread_rwlock_trywrlock(&x->lock) == 0) {
		if (pthread_mutex_trylock(&x->open_mu) == 0) {
			for (size_t i = 0; i < x->nsegs; i++)
				segment_close(&x->segs[i]);
			x->fds_open = false;
			closed = true;
			pthread_mutex_unlock(&x->open_mu);
		}
		pthread_rwlock_unlock(&x->lock);
	}
	return closed;
}

/* The namespace's descriptor budget, or NULL (topics made without one). */
static struct fd_budget *fds_of(const struct log_topic *t)
{
	return t->opts ? t->opts->fds : NULL;
}


/*
 * Make sure T's segment files are open. Called with T's lock held (shared
 * or exclusive); concurrent readers are serialised by open_mu. Returns 0
 * or a negative errno.
 */
int topic_open_fds(struct log_topic *t)
{
	LOCK_ASSERT_RWLOCK_HELD(&t->lock);
	int rc = 0;
	pthread_mutex_lock(&t->open_mu);
	if (t->fds_open)
		goto out;
	int dfd = topic_dir_get(t);
	if (dfd < 0) {
		rc = dfd;
		goto out;
	}
	size_t i;
	for (i = 0; i < t->nsegs; i++) {
		char name[32], iname[32];
		struct segment *s = &t->segs[i];
		segment_name(name, s->base_offset, false);
		segment_name(iname, s->base_offset, true);
		s->fd = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		s->idx_fd = s->fd < 0 ? -1 : openat(dfd, iname, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (s->fd < 0 || s->idx_fd < 0) {
			rc = -errno;
			break;
		}
	}
	topic_dir_put(t, dfd);
	if (rc < 0) {
		for (size_t k = 0; k <= i && k < t->nsegs; k++)
			segment_close(&t->segs[k]);
		log_warn("topic %s: cannot open its segment files: %s", t->base.name, strerror(-rc));
		goto out;
	}
	t->fds_open = true;
	fd_budget_add(fds_of(t), &t->fdu, (long)t->nsegs * 2);
out:
	pthread_mutex_unlock(&t->open_mu);
	return rc;
}

static void free_topic(struct log_topic *t)
{
	fd_budget_remove(fds_of(t), &t->fdu);
	if (t->opts && t->opts->live)
		atomic_fetch_sub(t->opts->live, 1);
	for (size_t i = 0; i < t->nsegs; i++)
		segment_close(&t->segs[i]);
	free(t->segs);
	free(t->origins);
	if (t->origins_fd >= 0)
		close(t->origins_fd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	pthread_rwlock_destroy(&t->lock);
	pthread_mutex_destroy(&t->sync_mu);
	pthread_mutex_destroy(&t->open_mu);
	pthread_mutex_destroy(&t->check_mu);
	free(t);
}

/* The local log's topic operations (fs/topic.h); the functions are in
 * this file and logtopic_append.c, logtopic_read.c. */
static void lt_destroy(struct topic *g);
static const struct topic_ops log_topic_ops = {
	.home = "local",
	.destroy = lt_destroy,
	.append_local = lt_append_local,
	.append_replicated = lt_append_replicated,
	.read = lt_read,
	.read_batch = lt_read_batch,
	.stat = lt_stat,
	.ctime = lt_ctime,
	.set_owner = lt_set_owner,
	.mark_deleted = lt_mark_deleted,
	.deleted = lt_deleted,
	.sync = lt_sync,
};

struct log_topic *log_topic_of(struct topic *t)
{
	assert(t->ops == &log_topic_ops);
	return (struct log_topic *)((char *)t - offsetof(struct log_topic, base));
}

static struct log_topic *alloc_topic(const char *name, const uuid_t stream_uuid,
				 const struct topic_opts *opts)
{
	struct log_topic *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	topic_init(&t->base, &log_topic_ops, name, stream_uuid);
	if (opts && opts->live)
		atomic_fetch_add(opts->live, 1);
	t->dirfd = t->origins_fd = -1;
	t->local_idx = -1;
	t->opts = opts;
	pthread_rwlock_init(&t->lock, NULL);
	pthread_mutex_init(&t->sync_mu, NULL);
	pthread_mutex_init(&t->open_mu, NULL);
	pthread_mutex_init(&t->check_mu, NULL);
	return t;
}

/* The topic's directory for one operation: release with dir_put. */
int topic_dir_get(struct log_topic *t)
{
	if (t->dirfd >= 0)
		return t->dirfd;
	int fd = openat(t->parent_fd, t->base.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

void topic_dir_put(struct log_topic *t, int fd)
{
	if (fd >= 0 && fd != t->dirfd)
		close(fd);
}

/* Creation or loading is over: keep no descriptor but the segments'. */
static void settle(struct log_topic *t, int parent_fd)
{
	t->parent_fd = parent_fd;
	for (size_t i = 0; i < t->nsegs; i++)
		segment_close(&t->segs[i]);
	t->fds_open = false;
	if (t->origins_fd >= 0)
		close(t->origins_fd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	t->origins_fd = t->dirfd = -1;
}

static int write_meta(struct log_topic *t, int dirfd)
{
	char u[37];
	uuid_unparse(t->base.uuid, u);
	json_t *j = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I}", "format",
			      TOPIC_FORMAT_VERSION, "uuid", u, "uid",
			      (json_int_t)t->base.uid, "gid", (json_int_t)t->base.gid, "mode",
			      (json_int_t)t->base.mode, "created_ns",
			      (json_int_t)t->ctime_ns, "changed_ns",
			      (json_int_t)t->change_ns);
	if (!j)
		return -ENOMEM;
	int rc = metafile_write(dirfd, TOPIC_META, j, true);
	json_decref(j);
	return rc;
}

/* ---- locating records -------------------------------------------------- */

/* Index of the segment holding offset OFFSET (or the last one). */
size_t topic_seg_for_offset(const struct log_topic *t, uint64_t offset)
{
	size_t lo = 0, hi = t->nsegs;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->segs[mid].base_offset <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

size_t topic_seg_for_vpos(const struct log_topic *t, uint64_t vpos)
{
	size_t lo = 0, hi = t->nsegs;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->segs[mid].base_vpos <= vpos)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Remember the first damaged message seen (for .info). */
void topic_note_damage(struct log_topic *t, uint64_t offset)
{
	long long none = -1;
	atomic_compare_exchange_strong(&t->base.damaged_offset, &none, (long long)offset);
}

/* ---- create / open / close -------------------------------------------- */

uint32_t topic_segment_version(const struct log_topic *t)
{
	return t->opts && t->opts->segment_version ? t->opts->segment_version
						   : SEG_FORMAT_VERSION;
}

/*
 * A segment of format 2 holds its topic bytes as they are, so where the
 * next segment starts in the topic file is known from its size: a header
 * saying otherwise was damaged (a reader would get bytes at the wrong
 * place), and the chain wins, with a log line. Its batches must also end
 * at the offset the next segment starts at; one whose do not is marked
 * broken (its reads fail with EIO). Format 1 segments are taken as their
 * headers say. 0 or a negative errno of pread.
 */
static int check_segment_chain(struct log_topic *t)
{
	for (size_t i = 0; i + 1 < t->nsegs; i++) {
		struct segment *a = &t->segs[i], *b = &t->segs[i + 1];
		if (a->version != SEG_FORMAT_BATCHES)
			continue;
		uint64_t want = a->base_vpos + (a->size - SEG_HDR_SIZE);
		if (b->base_vpos != want) {
			log_warn("topic %s: segment %020" PRIu64 " says it starts at byte %" PRIu64
				 " of the topic, but the segment before it ends at %" PRIu64
				 ": its header is damaged; using %" PRIu64, t->base.name,
				 b->base_offset, b->base_vpos, want, want);
			if (b->version == SEG_FORMAT_BATCHES && i + 2 == t->nsegs)
				b->end_vpos = want + (b->size - SEG_HDR_SIZE);
			b->base_vpos = want;
		}
		struct seg_batch last;
		if (a->idx_count) {
			int rc = segment_batch_read(a, a->idx_count - 1, &last);
			if (rc < 0 && rc != -EBADMSG)
				return rc;
			if (rc == 0 && last.offset + last.count != b->base_offset) {
				log_warn("topic %s: segment %020" PRIu64 " holds messages up to offset %" PRIu64
					 " but the next one starts at %" PRIu64 "; its reads fail with EIO",
					 t->base.name, a->base_offset, last.offset + last.count,
					 b->base_offset);
				a->broken = true;
			}
		}
	}
	return 0;
}

/*
 * Appends go to a segment of the format this streamfs writes: a loaded
 * topic whose last segment is of another format (an older streamfs wrote
 * it) starts a new one, and an empty one is replaced. Older segments stay
 * as they are and are read as they are. 0 or a negative errno.
 */
static int start_current_format(struct log_topic *t)
{
	struct segment *s = &t->segs[t->nsegs - 1];
	if (s->version == topic_segment_version(t))
		return 0;
	if (s->size <= SEG_HDR_SIZE) {
		char name[32], iname[32];
		uint64_t base = s->base_offset, vpos = s->base_vpos;
		segment_name(name, base, false);
		segment_name(iname, base, true);
		segment_close(s);
		t->nsegs--;
		if (unlinkat(t->dirfd, name, 0) < 0 || unlinkat(t->dirfd, iname, 0) < 0)
			return -errno;
		return topic_add_segment(t, base, vpos);
	}
	log_info("topic %s: its last segment has format %u; new messages go to a segment of format %u",
		 t->base.name, s->version, topic_segment_version(t));
	return topic_add_segment(t, s->end_offset, s->end_vpos);
}

int topic_add_segment(struct log_topic *t, uint64_t base_offset, uint64_t base_vpos)
{
	if (t->nsegs == t->segcap) {
		size_t cap = t->segcap ? t->segcap * 2 : 4;
		struct segment *s = realloc(t->segs, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		t->segs = s;
		t->segcap = cap;
	}
	int dfd = topic_dir_get(t);
	if (dfd < 0)
		return dfd;
	int rc = segment_create(dfd, base_offset, base_vpos, topic_segment_version(t),
				&t->segs[t->nsegs]);
	if (rc == 0) {
		t->nsegs++;
		if (t->fds_open)
			fd_budget_add(fds_of(t), &t->fdu, 2);
		/* Under a syncing policy the new file's name must survive too. */
		if (t->opts && t->opts->fsync != SFS_FSYNC_OS)
			fsync(dfd);
	}
	topic_dir_put(t, dfd);
	return rc;
}

int log_topic_create(int stream_dirfd, const char *name, const uuid_t stream_uuid,
		 uid_t uid, gid_t gid, mode_t mode,
		 const struct topic_opts *opts, struct topic **out)
{
	char tmpname[64], u[37];
	struct stat st;
	int rc;

	if (fstatat(stream_dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	struct log_topic *t = alloc_topic(name, stream_uuid, opts);
	if (!t)
		return -ENOMEM;
	uuid_generate(t->base.uuid);
	uuid_unparse(t->base.uuid, u);
	t->base.uid = uid;
	t->base.gid = gid;
	t->base.mode = mode & 07777;
	t->ctime_ns = t->mtime_ns = now_ns();
	snprintf(tmpname, sizeof(tmpname), ".new-%s", u);

	if (mkdirat(stream_dirfd, tmpname, 0750) < 0) {
		rc = -errno;
		goto fail;
	}
	t->dirfd = openat(stream_dirfd, tmpname, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (t->dirfd < 0) {
		rc = -errno;
		goto fail_dir;
	}
	if ((rc = write_meta(t, t->dirfd)) < 0)
		goto fail_dir;
	t->origins_fd = openat(t->dirfd, ORIGINS_FILE,
			       O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (t->origins_fd < 0) {
		rc = -errno;
		goto fail_dir;
	}
	uint8_t oh[ORIGINS_HDR] = { 0 };
	memcpy(oh, origins_magic, 8);
	put_le32(oh + 8, TOPIC_FORMAT_VERSION);
	put_le32(oh + 12, ORIGIN_ENTRY);
	if ((rc = pwrite_full(t->origins_fd, oh, sizeof(oh), 0)) < 0)
		goto fail_dir;
	if ((rc = topic_add_segment(t, 0, 0)) < 0 || (rc = topic_checkpoint_write(t)) < 0)
		goto fail_dir;
	if (fsync(t->dirfd) < 0) {
		rc = -errno;
		goto fail_dir;
	}
	/* The rename is what makes the topic exist. */
	if (renameat2(stream_dirfd, tmpname, stream_dirfd, name, RENAME_NOREPLACE) < 0) {
		rc = -errno;
		goto fail_dir;
	}
	fsync(stream_dirfd);
	settle(t, stream_dirfd);
	*out = &t->base;
	return 0;
fail_dir:
	remove_tree(stream_dirfd, tmpname);
fail:
	free_topic(t);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorted base offsets of the segment files in DIRFD, malloc'd into *OUT. */
static int list_segments(int dirfd, uint64_t **out, size_t *n)
{
	int fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	uint64_t *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len != 24 || strcmp(de->d_name + 20, ".seg") != 0)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			uint64_t *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[cnt++] = strtoull(de->d_name, NULL, 10);
	}
	closedir(d);
	if (rc < 0) {
		free(v);
		return rc;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_u64);
	*out = v;
	*n = cnt;
	return 0;
}

int log_topic_open(int stream_dirfd, const char *name, const uuid_t stream_uuid,
	       const struct topic_opts *opts, struct topic **out)
{
	json_t *meta = NULL;
	uint64_t *bases = NULL;
	size_t nbases = 0;
	int rc;
	struct log_topic *t = alloc_topic(name, stream_uuid, opts);
	if (!t)
		return -ENOMEM;
	t->dirfd = openat(stream_dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (t->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = metafile_read(t->dirfd, TOPIC_META, &meta)) < 0)
		goto fail;
	if (meta_int(meta, "format", 1) > TOPIC_FORMAT_VERSION) {
		log_error("topic %s: metadata format %lld is newer than this streamfs (%d)",
			  name, meta_int(meta, "format", 1), TOPIC_FORMAT_VERSION);
		rc = -EPROTO;
		goto fail;
	}
	if (uuid_parse(meta_str(meta, "uuid", ""), t->base.uuid) < 0) {
		log_error("topic %s: metadata has no valid uuid", name);
		rc = -EPROTO;
		goto fail;
	}
	t->base.uid = meta_int(meta, "uid", 0);
	t->base.gid = meta_int(meta, "gid", 0);
	t->base.mode = meta_int(meta, "mode", 0644) & 07777;
	t->ctime_ns = meta_int(meta, "created_ns", 0);
	t->change_ns = meta_int(meta, "changed_ns", 0);
	t->mtime_ns = t->ctime_ns;

	t->origins_fd = openat(t->dirfd, ORIGINS_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (t->origins_fd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = topic_origins_load(t)) < 0)
		goto fail;

	if ((rc = list_segments(t->dirfd, &bases, &nbases)) < 0)
		goto fail;
	/* A last segment cut short while being created holds nothing: drop it. */
	while (nbases) {
		char sname[32];
		segment_name(sname, bases[nbases - 1], false);
		struct segment s;
		rc = segment_open(t->dirfd, sname, true, name, &s);
		if (rc == -ENODATA && nbases > 1) {
			char iname[32];
			segment_name(iname, bases[nbases - 1], true);
			log_warn("topic %s: removing segment %s whose creation was cut short",
				 name, sname);
			unlinkat(t->dirfd, sname, 0);
			unlinkat(t->dirfd, iname, 0);
			nbases--;
			continue;
		}
		if (rc < 0)
			goto fail;
		segment_close(&s);
		break;
	}
	if (nbases == 0) {
		if ((rc = topic_add_segment(t, 0, 0)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < nbases; i++) {
		char sname[32];
		segment_name(sname, bases[i], false);
		if (t->nsegs == t->segcap) {
			size_t cap = t->segcap ? t->segcap * 2 : nbases;
			struct segment *s = realloc(t->segs, cap * sizeof(*s));
			if (!s) {
				rc = -ENOMEM;
				goto fail;
			}
			t->segs = s;
			t->segcap = cap;
		}
		bool last = i + 1 == nbases;
		rc = segment_open(t->dirfd, sname, last, name, &t->segs[t->nsegs]);
		if (rc < 0)
			goto fail;
		t->nsegs++;
	}
	if ((rc = check_segment_chain(t)) < 0)
		goto fail;
	for (size_t i = 0; i + 1 < t->nsegs; i++) {
		t->segs[i].end_offset = t->segs[i + 1].base_offset;
		t->segs[i].end_vpos = t->segs[i + 1].base_vpos;
	}
	if ((rc = start_current_format(t)) < 0)
		goto fail;
	uint64_t end = t->segs[t->nsegs - 1].end_offset;
	uint64_t covered = topic_checkpoint_load(t, end);
	if ((rc = topic_scan_hwm(t, covered)) < 0)
		goto fail;
	t->since_checkpoint = end - covered;
	struct stat st;
	if (fstat(t->segs[t->nsegs - 1].fd, &st) == 0)
		t->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec;
	free(bases);
	json_decref(meta);
	settle(t, stream_dirfd);
	*out = &t->base;
	return 0;
fail:
	free(bases);
	json_decref(meta);
	free_topic(t);
	return rc;
}

static void lt_destroy(struct topic *g)
{
	struct log_topic *t = log_topic_of(g);
	if (!t->deleted && t->since_checkpoint)
		topic_checkpoint_write(t);
	free_topic(t);
}

void lt_mark_deleted(struct topic *g)
{
	struct log_topic *t = log_topic_of(g);
	pthread_rwlock_wrlock(&t->lock);
	t->deleted = true;
	pthread_rwlock_unlock(&t->lock);
}

bool lt_deleted(struct topic *g)
{
	struct log_topic *t = log_topic_of(g);
	pthread_rwlock_rdlock(&t->lock);
	bool d = t->deleted;
	pthread_rwlock_unlock(&t->lock);
	return d;
}

void lt_stat(struct topic *g, uint64_t *messages, uint64_t *bytes,
		uint64_t *mtime_ns)
{
	struct log_topic *t = log_topic_of(g);
	pthread_rwlock_rdlock(&t->lock);
	const struct segment *s = &t->segs[t->nsegs - 1];
	if (messages)
		*messages = s->end_offset;
	if (bytes)
		*bytes = s->end_vpos;
	if (mtime_ns)
		*mtime_ns = t->mtime_ns;
	pthread_rwlock_unlock(&t->lock);
}

uint64_t lt_ctime(struct topic *g)
{
	struct log_topic *t = log_topic_of(g);
	pthread_rwlock_rdlock(&t->lock);
	uint64_t c = t->mtime_ns > t->ctime_ns ? t->mtime_ns : t->ctime_ns;
	if (t->change_ns > c)
		c = t->change_ns;
	pthread_rwlock_unlock(&t->lock);
	return c;
}

int lt_set_owner(struct topic *g, uid_t uid, gid_t gid, mode_t mode)
{
	struct log_topic *t = log_topic_of(g);
	pthread_rwlock_wrlock(&t->lock);
	uid_t ou = t->base.uid;
	gid_t og = t->base.gid;
	mode_t om = t->base.mode;
	if (uid != (uid_t)-1)
		t->base.uid = uid;
	if (gid != (gid_t)-1)
		t->base.gid = gid;
	if (mode != (mode_t)-1)
		t->base.mode = mode & 07777;
	uint64_t oc = t->change_ns;
	t->change_ns = now_ns();
	int dfd = topic_dir_get(t);
	int rc = dfd < 0 ? dfd : write_meta(t, dfd);
	topic_dir_put(t, dfd);
	if (rc < 0) {
		t->base.uid = ou;
		t->base.gid = og;
		t->base.mode = om;
		t->change_ns = oc;
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}
