/*
 * topic.c - a topic's log, origin table and high-water marks (topic.h).
 *
 * Why the high-water marks live here and not in replication/: they must be
 * exactly as durable as the messages they describe. They are derived from
 * the log itself (the highest origin offset stored per origin), checkpointed
 * now and then so start-up does not scan the whole log.
 */
#define _GNU_SOURCE /* renameat2 */
#include "topic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

#define ORIGINS_FILE ".origins"
#define CHECKPOINT_FILE ".checkpoint"
#define TOPIC_META ".topic.json"
#define ORIGINS_HDR 16
#define ORIGIN_ENTRY 32
#define TOPIC_FORMAT_VERSION 1
/* The origin index is 16 bits in a record. */
#define MAX_ORIGINS 65535

static const uint8_t origins_magic[8] = { 'S', 'F', 'S', 'O', 'R', 'G', 0, 0 };
static const uint8_t ckpt_magic[8] = { 'S', 'F', 'S', 'C', 'K', 'P', 0, 0 };

/* ---- descriptor budget ------------------------------------------------

 * Every idle topic would hold two descriptors per segment; with thousands
 * of topics that passes the process limit. So a topic's segment files are
 * opened when it is used and counted here; past the budget (the limit less
 * a reserve for FUSE, sockets and metadata files), the files of topics
 * opened longest ago are closed again. Closing takes the victim's lock
 * exclusively with a trylock, so no use of its files is in flight and no
 * lock is ever waited for in the wrong order.
 */
static pthread_mutex_t lru_mu = PTHREAD_MUTEX_INITIALIZER;
static struct topic *lru_head, *lru_tail;
static long lru_fds, lru_budget;

static long fd_budget(void)
{
	if (!lru_budget) {
		struct rlimit rl;
		long lim = 1024;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			lim = (long)rl.rlim_cur;
		lru_budget = lim > 2048 ? lim - 512 : lim / 2;
	}
	return lru_budget;
}

static void lru_unlink_locked(struct topic *t)
{
	if (t->lru_prev)
		t->lru_prev->lru_next = t->lru_next;
	else
		lru_head = t->lru_next;
	if (t->lru_next)
		t->lru_next->lru_prev = t->lru_prev;
	else
		lru_tail = t->lru_prev;
	t->lru_prev = t->lru_next = NULL;
	lru_fds -= t->fds_count;
	t->fds_count = 0;
}

/* Close segment files of other topics until under the budget; lru_mu held. */
static void lru_evict_locked(struct topic *self)
{
	LOCK_ASSERT_HELD(&lru_mu);
	long target = fd_budget() - fd_budget() / 10;
	struct topic *x = lru_tail;
	while (x && lru_fds > target) {
		struct topic *prev = x->lru_prev;
		if (x != self && pthread_rwlock_trywrlock(&x->lock) == 0) {
			if (pthread_mutex_trylock(&x->open_mu) == 0) {
				for (size_t i = 0; i < x->nsegs; i++)
					segment_close(&x->segs[i]);
				x->fds_open = false;
				lru_unlink_locked(x);
				pthread_mutex_unlock(&x->open_mu);
			}
			pthread_rwlock_unlock(&x->lock);
		}
		x = prev;
	}
}

/* Count N more open descriptors for T (linking it), then keep the budget. */
static void lru_add(struct topic *t, long n)
{
	pthread_mutex_lock(&lru_mu);
	if (!t->fds_count && !t->lru_prev && lru_head != t) {
		t->lru_next = lru_head;
		if (lru_head)
			lru_head->lru_prev = t;
		lru_head = t;
		if (!lru_tail)
			lru_tail = t;
	}
	t->fds_count += n;
	lru_fds += n;
	if (lru_fds > fd_budget())
		lru_evict_locked(t);
	pthread_mutex_unlock(&lru_mu);
}

static void lru_remove(struct topic *t)
{
	pthread_mutex_lock(&lru_mu);
	if (t->fds_count || t->lru_prev || lru_head == t)
		lru_unlink_locked(t);
	pthread_mutex_unlock(&lru_mu);
}

static int dir_get(struct topic *t);
static void dir_put(struct topic *t, int fd);

/*
 * Make sure T's segment files are open. Called with T's lock held (shared
 * or exclusive); concurrent readers are serialised by open_mu. Returns 0
 * or a negative errno.
 */
static int open_fds(struct topic *t)
{
	LOCK_ASSERT_RWLOCK_HELD(&t->lock);
	int rc = 0;
	pthread_mutex_lock(&t->open_mu);
	if (t->fds_open)
		goto out;
	int dfd = dir_get(t);
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
	dir_put(t, dfd);
	if (rc < 0) {
		for (size_t k = 0; k <= i && k < t->nsegs; k++)
			segment_close(&t->segs[k]);
		log_warn("topic %s: cannot open its segment files: %s", t->name, strerror(-rc));
		goto out;
	}
	t->fds_open = true;
	lru_add(t, (long)t->nsegs * 2);
out:
	pthread_mutex_unlock(&t->open_mu);
	return rc;
}

static void free_topic(struct topic *t)
{
	lru_remove(t);
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
	free(t);
}

static struct topic *alloc_topic(const char *name, const uuid_t stream_uuid,
				 const struct topic_opts *opts)
{
	struct topic *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	uuid_copy(t->stream_uuid, stream_uuid);
	t->dirfd = t->origins_fd = -1;
	t->local_idx = -1;
	t->opts = opts;
	pthread_rwlock_init(&t->lock, NULL);
	pthread_mutex_init(&t->sync_mu, NULL);
	pthread_mutex_init(&t->open_mu, NULL);
	atomic_init(&t->damaged_offset, -1);
	atomic_init(&t->refs, 1);
	return t;
}

/* The topic's directory for one operation: release with dir_put. */
static int dir_get(struct topic *t)
{
	if (t->dirfd >= 0)
		return t->dirfd;
	int fd = openat(t->parent_fd, t->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

static void dir_put(struct topic *t, int fd)
{
	if (fd >= 0 && fd != t->dirfd)
		close(fd);
}

/* Creation or loading is over: keep no descriptor but the segments'. */
static void settle(struct topic *t, int parent_fd)
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

static int write_meta(struct topic *t, int dirfd)
{
	char u[37];
	uuid_unparse(t->uuid, u);
	json_t *j = json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:I}", "format",
			      TOPIC_FORMAT_VERSION, "uuid", u, "uid",
			      (json_int_t)t->uid, "gid", (json_int_t)t->gid, "mode",
			      (json_int_t)t->mode, "created_ns",
			      (json_int_t)t->ctime_ns, "changed_ns",
			      (json_int_t)t->change_ns);
	if (!j)
		return -ENOMEM;
	int rc = metafile_write(dirfd, TOPIC_META, j, true);
	json_decref(j);
	return rc;
}

/* ---- origin table ------------------------------------------------------ */

static int origins_grow(struct topic *t)
{
	if (t->norigins < t->origcap)
		return 0;
	size_t cap = t->origcap ? t->origcap * 2 : 4;
	struct topic_origin *o = realloc(t->origins, cap * sizeof(*o));
	if (!o)
		return -ENOMEM;
	t->origins = o;
	t->origcap = cap;
	return 0;
}

/*
 * The index of origin (STREAM, TOPIC), adding it if new. A new entry is
 * synced before any record can name it: a record must never refer to an
 * origin that a crash could forget. Called with the lock held exclusively.
 */
static int origin_index(struct topic *t, const uuid_t stream, const uuid_t topic)
{
	LOCK_ASSERT_WRLOCKED(&t->lock);
	for (size_t i = t->norigins; i-- > 0;)
		if (!uuid_compare(t->origins[i].stream, stream) &&
		    !uuid_compare(t->origins[i].topic, topic))
			return (int)i;
	if (t->norigins >= MAX_ORIGINS)
		return -EOVERFLOW;
	int rc = origins_grow(t);
	if (rc < 0)
		return rc;
	uint8_t e[ORIGIN_ENTRY];
	memcpy(e, stream, 16);
	memcpy(e + 16, topic, 16);
	off_t pos = ORIGINS_HDR + (off_t)t->norigins * ORIGIN_ENTRY;
	int ofd = t->origins_fd;
	if (ofd < 0) {
		int dfd = dir_get(t);
		if (dfd < 0)
			return dfd;
		ofd = openat(dfd, ORIGINS_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		rc = -errno;
		dir_put(t, dfd);
		if (ofd < 0)
			return rc;
	}
	rc = pwrite_full(ofd, e, sizeof(e), pos);
	if (rc < 0) {
		if (ftruncate(ofd, pos) < 0)
			log_error("topic %s: cannot cut back the origin table: %s",
				  t->name, strerror(errno));
	} else if (fdatasync(ofd) < 0) {
		rc = -errno;
	}
	if (ofd != t->origins_fd)
		close(ofd);
	if (rc < 0)
		return rc;
	struct topic_origin *o = &t->origins[t->norigins];
	memset(o, 0, sizeof(*o));
	uuid_copy(o->stream, stream);
	uuid_copy(o->topic, topic);
	return (int)t->norigins++;
}

static int origins_load(struct topic *t)
{
	struct stat st;
	uint8_t hdr[ORIGINS_HDR];
	if (fstat(t->origins_fd, &st) < 0)
		return -errno;
	if (st.st_size < ORIGINS_HDR ||
	    pread_full(t->origins_fd, hdr, sizeof(hdr), 0) < 0 ||
	    memcmp(hdr, origins_magic, 8) != 0) {
		log_error("topic %s: origin table has a bad header", t->name);
		return -EPROTO;
	}
	if (get_le32(hdr + 8) > TOPIC_FORMAT_VERSION) {
		log_error("topic %s: origin table has format version %u, newer than this streamfs (%u)",
			  t->name, get_le32(hdr + 8), TOPIC_FORMAT_VERSION);
		return -EPROTO;
	}
	size_t n = (st.st_size - ORIGINS_HDR) / ORIGIN_ENTRY;
	for (size_t i = 0; i < n; i++) {
		uint8_t e[ORIGIN_ENTRY];
		if (pread_full(t->origins_fd, e, sizeof(e), ORIGINS_HDR + i * ORIGIN_ENTRY) < 0)
			return -EIO;
		int rc = origins_grow(t);
		if (rc < 0)
			return rc;
		struct topic_origin *o = &t->origins[t->norigins++];
		memset(o, 0, sizeof(*o));
		memcpy(o->stream, e, 16);
		memcpy(o->topic, e + 16, 16);
		if (!uuid_compare(o->stream, t->stream_uuid) &&
		    !uuid_compare(o->topic, t->uuid))
			t->local_idx = (int)i;
	}
	/* A torn trailing entry was never referenced (it is synced first). */
	if ((off_t)(ORIGINS_HDR + n * ORIGIN_ENTRY) != st.st_size &&
	    ftruncate(t->origins_fd, ORIGINS_HDR + n * ORIGIN_ENTRY) < 0)
		return -errno;
	return 0;
}

/* ---- checkpoint of high-water marks ----------------------------------- */

/*
 * Layout: magic[8] version u32, count u32, end_offset u64, then per origin
 * u64 (hwm + 1, 0 = none). Written with metafile semantics (tmp + rename).
 */
static int checkpoint_write(struct topic *t)
{
	uint64_t end = t->nsegs ? t->segs[t->nsegs - 1].end_offset : 0;
	size_t len = 24 + t->norigins * 8;
	uint8_t *b = malloc(len);
	if (!b)
		return -ENOMEM;
	memcpy(b, ckpt_magic, 8);
	put_le32(b + 8, TOPIC_FORMAT_VERSION);
	put_le32(b + 12, (uint32_t)t->norigins);
	put_le64(b + 16, end);
	for (size_t i = 0; i < t->norigins; i++)
		put_le64(b + 24 + i * 8, t->origins[i].seen ? t->origins[i].hwm + 1 : 0);
	int rc = 0;
	int dfd = dir_get(t);
	if (dfd < 0) {
		rc = dfd;
		goto out;
	}
	int fd = openat(dfd, ".tmp" CHECKPOINT_FILE,
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (write(fd, b, len) != (ssize_t)len) {
		rc = -ENOSPC;
		close(fd);
		unlinkat(dfd, ".tmp" CHECKPOINT_FILE, 0);
		goto out;
	}
	close(fd);
	if (renameat(dfd, ".tmp" CHECKPOINT_FILE, dfd, CHECKPOINT_FILE) < 0)
		rc = -errno;
	t->since_checkpoint = 0;
out:
	dir_put(t, dfd);
	free(b);
	return rc;
}

/* The offset the checkpoint covers up to, after loading its marks; 0 if none. */
static uint64_t checkpoint_load(struct topic *t, uint64_t log_end)
{
	int fd = openat(t->dirfd, CHECKPOINT_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	uint8_t hdr[24];
	uint64_t covered = 0;
	if (read(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    memcmp(hdr, ckpt_magic, 8) != 0)
		goto out;
	uint32_t n = get_le32(hdr + 12);
	uint64_t end = get_le64(hdr + 16);
	/* A newer checkpoint is not understood: rebuild the marks instead. */
	if (get_le32(hdr + 8) > TOPIC_FORMAT_VERSION)
		goto out;
	/* A checkpoint past the log (the log lost its tail) is useless. */
	if (n > t->norigins || end > log_end)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t v[8];
		if (read(fd, v, 8) != 8) {
			for (uint32_t k = 0; k < n; k++)
				t->origins[k].seen = false;
			goto out;
		}
		uint64_t h = get_le64(v);
		/* No real origin offset passes 2^63 - 1 (the scan ignores
		 * such records): a checkpoint saying so is corrupt. */
		if (h - 1 > INT64_MAX && h != 0) {
			for (uint32_t k = 0; k < n; k++)
				t->origins[k].seen = false;
			goto out;
		}
		t->origins[i].seen = h != 0;
		t->origins[i].hwm = h ? h - 1 : 0;
	}
	covered = end;
out:
	close(fd);
	return covered;
}

/* ---- locating records -------------------------------------------------- */

/* Index of the segment holding offset OFFSET (or the last one). */
static size_t seg_for_offset(const struct topic *t, uint64_t offset)
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

static size_t seg_for_vpos(const struct topic *t, uint64_t vpos)
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
static void note_damage(struct topic *t, uint64_t offset)
{
	long long none = -1;
	atomic_compare_exchange_strong(&t->damaged_offset, &none, (long long)offset);
}

/* Update high-water marks from the records at offsets [FROM, end). */
static int scan_hwm(struct topic *t, uint64_t from)
{
	for (size_t si = seg_for_offset(t, from); si < t->nsegs; si++) {
		struct segment *s = &t->segs[si];
		struct seg_pos p;
		int rc = segment_find_offset(s, from < s->base_offset ? s->base_offset : from, &p);
		if (rc < 0)
			return rc;
		struct seg_reader r;
		struct record_hdr h;
		const uint8_t *hb, *pl;
		seg_reader_init(&r, s, p.filepos, s->size);
		uint64_t off = p.offset;
		while ((rc = seg_reader_next(&r, &h, &hb, &pl, false)) == 1) {
			if (off++ < from)
				continue;
			/*
			 * Only an intact record may raise a mark: one flipped
			 * bit in an origin offset would otherwise make every
			 * later message of that origin look old (silent loss).
			 * Offsets past INT64_MAX cannot be real ones.
			 */
			if (!record_verify(hb, h.len)) {
				note_damage(t, off - 1);
				continue;
			}
			if (h.origin_offset > INT64_MAX)
				continue;
			if (h.origin_idx < t->norigins) {
				struct topic_origin *o = &t->origins[h.origin_idx];
				if (!o->seen || h.origin_offset > o->hwm) {
					o->hwm = h.origin_offset;
					o->seen = true;
				}
			}
		}
		seg_reader_free(&r);
		/* A damaged end of an earlier segment (its reads fail with EIO)
		 * must not take the whole topic down: go on with the next. */
		if (rc == -ENODATA || rc == -EBADMSG) {
			log_warn("topic %s: segment %020" PRIu64 " is damaged after offset %" PRIu64
				 "; the messages there read as EIO", t->name, s->base_offset, off);
			continue;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- create / open / close -------------------------------------------- */

static int add_segment(struct topic *t, uint64_t base_offset, uint64_t base_vpos)
{
	if (t->nsegs == t->segcap) {
		size_t cap = t->segcap ? t->segcap * 2 : 4;
		struct segment *s = realloc(t->segs, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		t->segs = s;
		t->segcap = cap;
	}
	int dfd = dir_get(t);
	if (dfd < 0)
		return dfd;
	int rc = segment_create(dfd, base_offset, base_vpos, &t->segs[t->nsegs]);
	if (rc == 0) {
		t->nsegs++;
		if (t->fds_open)
			lru_add(t, 2);
		/* Under a syncing policy the new file's name must survive too. */
		if (t->opts && t->opts->fsync != SFS_FSYNC_OS)
			fsync(dfd);
	}
	dir_put(t, dfd);
	return rc;
}

int topic_create(int stream_dirfd, const char *name, const uuid_t stream_uuid,
		 uid_t uid, gid_t gid, mode_t mode,
		 const struct topic_opts *opts, struct topic **out)
{
	char tmpname[64], u[37];
	struct stat st;
	int rc;

	if (fstatat(stream_dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	struct topic *t = alloc_topic(name, stream_uuid, opts);
	if (!t)
		return -ENOMEM;
	uuid_generate(t->uuid);
	uuid_unparse(t->uuid, u);
	t->uid = uid;
	t->gid = gid;
	t->mode = mode & 07777;
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
	if ((rc = add_segment(t, 0, 0)) < 0 || (rc = checkpoint_write(t)) < 0)
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
	*out = t;
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

int topic_open(int stream_dirfd, const char *name, const uuid_t stream_uuid,
	       const struct topic_opts *opts, struct topic **out)
{
	json_t *meta = NULL;
	uint64_t *bases = NULL;
	size_t nbases = 0;
	int rc;
	struct topic *t = alloc_topic(name, stream_uuid, opts);
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
	if (uuid_parse(meta_str(meta, "uuid", ""), t->uuid) < 0) {
		log_error("topic %s: metadata has no valid uuid", name);
		rc = -EPROTO;
		goto fail;
	}
	t->uid = meta_int(meta, "uid", 0);
	t->gid = meta_int(meta, "gid", 0);
	t->mode = meta_int(meta, "mode", 0644) & 07777;
	t->ctime_ns = meta_int(meta, "created_ns", 0);
	t->change_ns = meta_int(meta, "changed_ns", 0);
	t->mtime_ns = t->ctime_ns;

	t->origins_fd = openat(t->dirfd, ORIGINS_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (t->origins_fd < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = origins_load(t)) < 0)
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
		if ((rc = add_segment(t, 0, 0)) < 0)
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
	for (size_t i = 0; i + 1 < t->nsegs; i++) {
		t->segs[i].end_offset = t->segs[i + 1].base_offset;
		t->segs[i].end_vpos = t->segs[i + 1].base_vpos;
	}
	uint64_t end = t->segs[t->nsegs - 1].end_offset;
	uint64_t covered = checkpoint_load(t, end);
	if ((rc = scan_hwm(t, covered)) < 0)
		goto fail;
	t->since_checkpoint = end - covered;
	struct stat st;
	if (fstat(t->segs[t->nsegs - 1].fd, &st) == 0)
		t->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec;
	free(bases);
	json_decref(meta);
	settle(t, stream_dirfd);
	*out = t;
	return 0;
fail:
	free(bases);
	json_decref(meta);
	free_topic(t);
	return rc;
}

void topic_get(struct topic *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void topic_put(struct topic *t)
{
	if (atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	if (!t->deleted && t->since_checkpoint)
		checkpoint_write(t);
	free_topic(t);
}

void topic_mark_deleted(struct topic *t)
{
	pthread_rwlock_wrlock(&t->lock);
	t->deleted = true;
	pthread_rwlock_unlock(&t->lock);
}

bool topic_deleted(struct topic *t)
{
	pthread_rwlock_rdlock(&t->lock);
	bool d = t->deleted;
	pthread_rwlock_unlock(&t->lock);
	return d;
}

/* ---- appends ---------------------------------------------------------- */

/*
 * Write LEN bytes of NRECS encoded records at the end of the log, rolling
 * to a new segment first if the last one is full. Lock held exclusively.
 */
static int log_write(struct topic *t, const uint8_t *buf, size_t len, size_t nrecs)
{
	LOCK_ASSERT_WRLOCKED(&t->lock);
	int orc = open_fds(t);
	if (orc < 0)
		return orc;
	struct segment *s = &t->segs[t->nsegs - 1];
	if (s->size > SEG_HDR_SIZE && s->size + len > t->opts->segment_bytes) {
		/* topic_sync only syncs the current segment: finish this one. */
		if (t->opts->fsync != SFS_FSYNC_OS && fdatasync(s->fd) < 0)
			return -errno;
		int rc = add_segment(t, s->end_offset, s->end_vpos);
		if (rc < 0)
			return rc;
		s = &t->segs[t->nsegs - 1];
	}
	int rc = segment_append(s, buf, len, nrecs);
	if (rc < 0)
		return rc;
	/* Stored and indexed; marks, checkpoint and acknowledgement to come. */
	FAULT_POINT("append-after-write");
	t->mtime_ns = now_ns();
	t->since_checkpoint += nrecs;
	return 0;
}

/*
 * Write a checkpoint when due. Called after the marks of the messages just
 * written are raised: a checkpoint must never cover messages whose marks
 * it does not hold, or a crash would let them be applied twice.
 */
static void maybe_checkpoint(struct topic *t)
{
	if (t->since_checkpoint >= t->opts->checkpoint_every)
		checkpoint_write(t);
}

int topic_sync(struct topic *t)
{
	int rc = 0;
	pthread_mutex_lock(&t->sync_mu);
	/* The lock is held across the sync so the descriptor budget cannot
	 * close the file under it; appenders wait and share the next sync. */
	pthread_rwlock_rdlock(&t->lock);
	uint64_t end = t->segs[t->nsegs - 1].end_offset;
	if (t->synced_upto < end) {
		rc = open_fds(t);
		if (rc == 0 && fdatasync(t->segs[t->nsegs - 1].fd) < 0)
			rc = -errno;
		if (rc == 0)
			t->synced_upto = end;
	}
	pthread_rwlock_unlock(&t->lock);
	pthread_mutex_unlock(&t->sync_mu);
	return rc;
}

/* After an append of messages up to UPTO: wake replication, and with the
 * strict policy return only once they are durable. */
static int appended(struct topic *t, uint64_t upto)
{
	int rc = 0;
	if (t->opts->fsync == SFS_FSYNC_ALWAYS) {
		pthread_mutex_lock(&t->sync_mu);
		bool done = t->synced_upto >= upto;
		pthread_mutex_unlock(&t->sync_mu);
		if (!done)
			rc = topic_sync(t);
	}
	if (t->on_append)
		t->on_append(t->on_append_arg);
	return rc;
}

int topic_append_local(struct topic *t, const struct iovec *msgs, size_t n)
{
	if (n == 0)
		return 0;
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += RECORD_HDR_SIZE + msgs[i].iov_len;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	int rc;
	pthread_rwlock_wrlock(&t->lock);
	if (t->deleted) {
		rc = -ENOENT;
		goto out;
	}
	if (t->local_idx < 0) {
		rc = origin_index(t, t->stream_uuid, t->uuid);
		if (rc < 0)
			goto out;
		t->local_idx = rc;
	}
	uint64_t offset = t->segs[t->nsegs - 1].end_offset;
	/* Origin offsets of this topic's own messages are dense: one more
	 * than the last one's, so that a receiver can tell a jump (a forgery,
	 * check_batch). The first one is its offset in the topic. */
	struct topic_origin *lo = &t->origins[t->local_idx];
	uint64_t seq = lo->seen ? lo->hwm + 1 : offset;
	/* Origin offsets stay at or below 2^63 - 1 (what start-up believes
	 * of a record): past that, refuse rather than store marks that a
	 * restart would forget. 2^63 messages are never reached by counting;
	 * only a damaged log gets here. */
	if (seq > (uint64_t)INT64_MAX || n - 1 > (uint64_t)INT64_MAX - seq) {
		log_warn("topic %s: its own origin offsets are exhausted (next %" PRIu64 "): append refused",
			 t->name, seq);
		rc = -EOVERFLOW;
		goto out;
	}
	uint64_t ts = now_ns();
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		struct record_hdr h = {
			.len = msgs[i].iov_len,
			.origin_offset = seq + i,
			.timestamp_ns = ts,
			.origin_idx = (uint16_t)t->local_idx,
		};
		if (msgs[i].iov_len)
			memcpy(buf + pos + RECORD_HDR_SIZE, msgs[i].iov_base, msgs[i].iov_len);
		record_encode(buf + pos, &h);
		pos += RECORD_HDR_SIZE + msgs[i].iov_len;
	}
	rc = log_write(t, buf, len, n);
	if (rc == 0) {
		struct topic_origin *o = &t->origins[t->local_idx];
		o->hwm = seq + n - 1;
		o->seen = true;
		maybe_checkpoint(t);
	}
out:
	pthread_rwlock_unlock(&t->lock);
	free(buf);
	if (rc == 0)
		rc = appended(t, offset + n);
	return rc;
}

/* The index of origin (STREAM, TOPIC) in T's table, or -1; lock held.
 * HINT is tried first (consecutive messages share their origin). */
static int origin_find(const struct topic *t, const uuid_t stream, const uuid_t topic, int hint)
{
	LOCK_ASSERT_RWLOCK_HELD(&t->lock);
	if (hint >= 0 && (size_t)hint < t->norigins &&
	    !uuid_compare(t->origins[hint].stream, stream) &&
	    !uuid_compare(t->origins[hint].topic, topic))
		return hint;
	for (size_t i = t->norigins; i-- > 0;)
		if (!uuid_compare(t->origins[i].stream, stream) &&
		    !uuid_compare(t->origins[i].topic, topic))
			return (int)i;
	return -1;
}

/* An origin first met in the batch being checked, and its mark. */
struct new_origin {
	uuid_t stream, topic;
	uint64_t mark;
};

/*
 * Refuse a replicated batch that cannot be true (docs/security.md): a
 * message whose origin is this topic's own stream (those are appended
 * here, never received: echo suppression keeps them from coming back), or
 * one that skips offsets of an origin (every path delivers an origin's
 * messages in order and complete: a sender sends its topic in offset order
 * from where the replica stands, and every copy of an origin's messages
 * holds a complete prefix of them, so a jump is a forgery or a bug, and
 * applying it would hide the skipped messages for ever). Duplicates (at or
 * below the mark) are fine: they are dropped. An origin not seen here yet
 * may start anywhere (a replica topic made after its first messages).
 * At most TOPIC_BATCH_NEW_ORIGINS origins may be new in one batch.
 * Lock held. Returns 0, or -EPROTO with one line in ERR.
 */
static int check_batch(const struct topic *t, const struct topic_msg *msgs, size_t n,
		       char *err, size_t errlen)
{
	LOCK_ASSERT_RWLOCK_HELD(&t->lock);
	int rc = 0, hint = -1;
	uint64_t *mark = calloc(t->norigins ? t->norigins : 1, sizeof(*mark));
	bool *touched = calloc(t->norigins ? t->norigins : 1, sizeof(*touched));
	struct new_origin *nw = NULL;
	size_t nnew = 0, newcap = 0;
	if (!mark || !touched) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct topic_msg *m = &msgs[i];
		char u[37];
		if (!uuid_compare(m->origin_stream, t->stream_uuid)) {
			snprintf(err, errlen, "topic %s: a message claims this stream as its origin (offset %" PRIu64 "): refused",
				 t->name, m->origin_offset);
			rc = -EPROTO;
			goto out;
		}
		int k = origin_find(t, m->origin_stream, m->origin_topic, hint);
		bool seen;
		uint64_t *mk;
		if (k >= 0) {
			hint = k;
			seen = touched[k] || t->origins[k].seen;
			if (!touched[k])
				mark[k] = t->origins[k].hwm;
			mk = &mark[k];
			touched[k] = true;
		} else {
			size_t j = 0;
			while (j < nnew && (uuid_compare(nw[j].stream, m->origin_stream) ||
					    uuid_compare(nw[j].topic, m->origin_topic)))
				j++;
			if (j == nnew) {
				if (nnew == TOPIC_BATCH_NEW_ORIGINS) {
					snprintf(err, errlen, "topic %s: a batch brings more than %d new origins: refused",
						 t->name, TOPIC_BATCH_NEW_ORIGINS);
					rc = -EPROTO;
					goto out;
				}
				if (nnew == newcap) {
					size_t cap = newcap ? newcap * 2 : 8;
					struct new_origin *v = realloc(nw, cap * sizeof(*v));
					if (!v) {
						rc = -ENOMEM;
						goto out;
					}
					nw = v;
					newcap = cap;
				}
				uuid_copy(nw[j].stream, m->origin_stream);
				uuid_copy(nw[j].topic, m->origin_topic);
				nw[j].mark = m->origin_offset;
				nnew++;
				continue;
			}
			seen = true;
			mk = &nw[j].mark;
		}
		if (!seen) {
			*mk = m->origin_offset;
			continue;
		}
		if (m->origin_offset <= *mk)
			continue; /* a duplicate: dropped */
		if (m->origin_offset > *mk + 1) {
			uuid_unparse(m->origin_stream, u);
			snprintf(err, errlen, "topic %s: messages of origin %s jump from offset %" PRIu64
				 " to %" PRIu64 " (%" PRIu64 " never arrived): refused",
				 t->name, u, *mk, m->origin_offset, m->origin_offset - *mk - 1);
			rc = -EPROTO;
			goto out;
		}
		*mk = m->origin_offset;
	}
out:
	free(mark);
	free(touched);
	free(nw);
	return rc;
}

int topic_append_replicated(struct topic *t, const struct topic_msg *msgs,
			    size_t n, size_t *applied, char *err, size_t errlen)
{
	size_t len = 0, kept = 0;
	uint64_t upto = 0;
	for (size_t i = 0; i < n; i++)
		len += RECORD_HDR_SIZE + msgs[i].len;
	uint8_t *buf = malloc(len ? len : 1);
	/* Marks as they would be after this batch; committed only on success. */
	uint64_t *newhwm = NULL;
	bool *touched = NULL;
	int rc = 0;
	if (applied)
		*applied = 0;
	if (!buf)
		return -ENOMEM;
	pthread_rwlock_wrlock(&t->lock);
	if (t->deleted) {
		rc = -ENOENT;
		goto out;
	}
	/* Nothing of a batch that cannot be true, not even its origins. */
	char why[512];
	if ((rc = check_batch(t, msgs, n, why, sizeof(why))) < 0) {
		if (err)
			snprintf(err, errlen, "%s", rc == -EPROTO ? why : strerror(-rc));
		goto out;
	}
	/* Resolve origins first: adding one may fail, and must precede use. */
	int *idx = NULL;
	idx = malloc((n ? n : 1) * sizeof(*idx));
	if (!idx) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		/* Real offsets stay below 2^63; the checkpoint relies on it. */
		if (msgs[i].origin_offset > INT64_MAX) {
			free(idx);
			rc = -EINVAL;
			goto out;
		}
		rc = origin_index(t, msgs[i].origin_stream, msgs[i].origin_topic);
		if (rc < 0) {
			free(idx);
			goto out;
		}
		idx[i] = rc;
	}
	rc = 0;
	newhwm = malloc((t->norigins ? t->norigins : 1) * sizeof(*newhwm));
	touched = calloc(t->norigins ? t->norigins : 1, sizeof(*touched));
	if (!newhwm || !touched) {
		free(idx);
		rc = -ENOMEM;
		goto out;
	}
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		struct topic_origin *o = &t->origins[idx[i]];
		bool seen = touched[idx[i]] || o->seen;
		uint64_t mark = touched[idx[i]] ? newhwm[idx[i]] : o->hwm;
		if (seen && msgs[i].origin_offset <= mark)
			continue; /* already here: exactly once */
		newhwm[idx[i]] = msgs[i].origin_offset;
		touched[idx[i]] = true;
		struct record_hdr h = {
			.len = msgs[i].len,
			.origin_offset = msgs[i].origin_offset,
			.timestamp_ns = msgs[i].timestamp_ns,
			.origin_idx = (uint16_t)idx[i],
		};
		if (msgs[i].len)
			memcpy(buf + pos + RECORD_HDR_SIZE, msgs[i].payload, msgs[i].len);
		record_encode(buf + pos, &h);
		pos += RECORD_HDR_SIZE + msgs[i].len;
		kept++;
	}
	free(idx);
	upto = t->segs[t->nsegs - 1].end_offset + kept;
	if (kept) {
		rc = log_write(t, buf, pos, kept);
		if (rc == 0) {
			for (size_t i = 0; i < t->norigins; i++)
				if (touched[i]) {
					t->origins[i].hwm = newhwm[i];
					t->origins[i].seen = true;
				}
			maybe_checkpoint(t);
		}
	}
	if (rc == 0 && applied)
		*applied = kept;
out:
	pthread_rwlock_unlock(&t->lock);
	free(buf);
	free(newhwm);
	free(touched);
	if (rc == 0 && kept)
		rc = appended(t, upto);
	return rc;
}

/* ---- reads ------------------------------------------------------------ */

/* A hint is worth following only this close before the wanted byte. */
#define HINT_REACH (256u << 10)

/*
 * The segment bytes to read ahead for the next BYTES of the topic file: that
 * many scaled by the segment's ratio of file bytes to topic-file bytes (the
 * record headers), plus a page of slack. A fixed 256 KiB window read 1.56x
 * the data a 128 KiB page-cache read needs (measured with /proc/PID/io).
 */
static size_t read_window(const struct segment *s, uint64_t bytes)
{
	uint64_t vspan = s->end_vpos - s->base_vpos;
	uint64_t fspan = s->size > SEG_HDR_SIZE ? s->size - SEG_HDR_SIZE : 0;
	uint64_t w = vspan ? bytes * fspan / vspan : bytes;
	w += RECORD_HDR_SIZE + 4096;
	return w > SEG_READER_WINDOW * 4 ? SEG_READER_WINDOW * 4 : (size_t)w;
}

/* With a hint, what a read leaves unused is kept for the next one: reads
 * of at least this much, so small read()s (wc reads 16 KiB) cost one
 * pread per this many bytes, not one each. */
#define HINT_MIN_WINDOW (128u << 10)

void topic_read_hint_free(struct topic_read_hint *hint)
{
	free(hint->ahead);
	hint->ahead = NULL;
	hint->ahead_cap = hint->ahead_len = 0;
}

/* Lend the hint's buffer to reader R of segment S: its bytes if they are
 * of S, else only its memory. */
static void hint_lend(struct topic_read_hint *hint, struct seg_reader *r,
		      const struct segment *s)
{
	if (!hint || !hint->ahead)
		return;
	r->buf = hint->ahead;
	r->cap = hint->ahead_cap;
	if (hint->ahead_seg == s->base_offset) {
		r->buf_filepos = hint->ahead_filepos;
		r->buf_len = hint->ahead_len;
	}
	hint->ahead = NULL;
	hint->ahead_cap = hint->ahead_len = 0;
}

/* Take the reader's buffer back into the hint (or free it). */
static void hint_keep(struct topic_read_hint *hint, struct seg_reader *r,
		      const struct segment *s)
{
	if (!hint) {
		seg_reader_free(r);
		return;
	}
	free(hint->ahead);
	hint->ahead = r->buf;
	hint->ahead_cap = r->cap;
	hint->ahead_len = r->buf ? r->buf_len : 0;
	hint->ahead_filepos = r->buf_filepos;
	hint->ahead_seg = s->base_offset;
	r->buf = NULL;
	r->cap = 0;
}

ssize_t topic_read(struct topic *t, uint64_t vpos, char *buf, size_t size,
		   struct topic_read_hint *hint)
{
	size_t done = 0;
	int rc = 0;
	pthread_rwlock_rdlock(&t->lock);
	uint64_t end = t->segs[t->nsegs - 1].end_vpos;
	if (vpos >= end || size == 0)
		goto out;
	if ((rc = open_fds(t)) < 0)
		goto out;
	for (size_t si = seg_for_vpos(t, vpos); si < t->nsegs && done < size; si++) {
		struct segment *s = &t->segs[si];
		struct seg_pos p;
		uint64_t want = vpos + done;
		if (hint && hint->valid && hint->seg_base == s->base_offset &&
		    hint->vpos <= want && want - hint->vpos < HINT_REACH &&
		    hint->filepos <= s->size) {
			p.vpos = hint->vpos;
			p.filepos = hint->filepos;
			p.offset = hint->offset;
		} else if ((rc = segment_find_vpos(s, want, &p)) < 0) {
			goto out;
		}
		struct seg_reader r;
		struct record_hdr h;
		const uint8_t *hb, *pl;
		seg_reader_init(&r, s, p.filepos, s->size);
		hint_lend(hint, &r, s);
		uint64_t rv = p.vpos, off = p.offset;
		/* Sized once: a refill (an uneven estimate) reads that much more;
		 * with a hint, the rest is kept for the next read. */
		r.window = read_window(s, want - rv + size - done);
		if (hint && r.window < HINT_MIN_WINDOW)
			r.window = HINT_MIN_WINDOW;
		/* Records before WANT are only walked over: a bad one there is
		 * not this read's business (its own read reports it). */
		for (;;) {
			uint64_t fp = r.filepos;
			if (done >= size || (rc = seg_reader_next(&r, &h, &hb, &pl, false)) != 1)
				break;
			uint64_t rend = rv + h.len + 1;
			if (rend > want) {
				if (!record_verify(hb, h.len)) {
					rc = -EBADMSG;
					break;
				}
				uint64_t from = want - rv;
				while (from <= h.len && done < size) {
					size_t take = h.len - from;
					if (take > size - done)
						take = size - done;
					memcpy(buf + done, pl + from, take);
					done += take;
					from += take;
					if (from == h.len && done < size) {
						buf[done++] = '\n';
						from++;
					}
				}
				want = vpos + done;
				if (hint) {
					/* Stopped inside this record, or just after it. */
					bool inside = want < rend;
					hint->valid = true;
					hint->seg_base = s->base_offset;
					hint->vpos = inside ? rv : rend;
					hint->filepos = inside ? fp : r.filepos;
					hint->offset = inside ? off : off + 1;
				}
			}
			rv = rend;
			off++;
		}
		hint_keep(hint, &r, s);
		if (rc == -EBADMSG || rc == -ENODATA) {
			log_warn("topic %s: message at offset %" PRIu64
				 " fails its checksum; read refused",
				 t->name, off);
			note_damage(t, off);
			rc = -EIO;
		}
		if (rc < 0)
			goto out;
	}
out:
	pthread_rwlock_unlock(&t->lock);
	/* At the end of the topic (or an error): nothing worth keeping. */
	if (hint && done < size)
		topic_read_hint_free(hint);
	/* Bytes already copied are good; report the error on the next call. */
	if (rc < 0 && done == 0)
		return rc;
	return (ssize_t)done;
}

static int batch_reserve(struct topic_batch *b, size_t bytes)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct topic_msg *m = realloc(b->msgs, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		b->msgs = m;
		b->cap = cap;
	}
	if (!b->data || b->data_len + bytes > b->data_cap) {
		size_t cap = b->data_cap ? b->data_cap : 65536;
		while (cap < b->data_len + bytes)
			cap *= 2;
		uint8_t *d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->data_cap = cap;
	}
	return 0;
}

int topic_read_batch(struct topic *t, uint64_t from, size_t max_msgs,
		     size_t max_bytes, struct topic_batch *b)
{
	int rc = 0;
	b->n = 0;
	b->data_len = 0;
	b->bytes = 0;
	b->next_offset = from;
	pthread_rwlock_rdlock(&t->lock);
	uint64_t end = t->segs[t->nsegs - 1].end_offset;
	if (from < end && (rc = open_fds(t)) < 0)
		end = from; /* nothing read: rc tells why */
	for (size_t si = seg_for_offset(t, from);
	     si < t->nsegs && b->next_offset < end && b->n < max_msgs &&
	     (b->n == 0 || b->bytes < max_bytes);
	     si++) {
		struct segment *s = &t->segs[si];
		struct seg_pos p;
		if ((rc = segment_find_offset(s, b->next_offset, &p)) < 0)
			break;
		struct seg_reader r;
		struct record_hdr h;
		const uint8_t *hb, *pl;
		seg_reader_init(&r, s, p.filepos, s->size);
		uint64_t off = p.offset;
		while (b->n < max_msgs && (b->n == 0 || b->bytes < max_bytes) &&
		       (rc = seg_reader_next(&r, &h, &hb, &pl, false)) == 1) {
			if (off < b->next_offset) {
				off++;
				continue;
			}
			if (!record_verify(hb, h.len)) {
				rc = -EBADMSG;
				break;
			}
			if ((rc = batch_reserve(b, h.len)) < 0)
				break;
			struct topic_msg *m = &b->msgs[b->n++];
			if (h.len)
				memcpy(b->data + b->data_len, pl, h.len);
			/* Payload pointers are fixed up below: data may move. */
			m->payload = (const uint8_t *)(uintptr_t)b->data_len;
			m->len = h.len;
			m->offset = off;
			m->origin_offset = h.origin_offset;
			m->timestamp_ns = h.timestamp_ns;
			if (h.origin_idx < t->norigins) {
				uuid_copy(m->origin_stream, t->origins[h.origin_idx].stream);
				uuid_copy(m->origin_topic, t->origins[h.origin_idx].topic);
			} else {
				uuid_clear(m->origin_stream);
				uuid_clear(m->origin_topic);
			}
			b->data_len += h.len;
			b->bytes += h.len;
			b->next_offset = ++off;
		}
		seg_reader_free(&r);
		if (rc == -EBADMSG || rc == -ENODATA) {
			log_warn("topic %s: message at offset %" PRIu64
				 " fails its checksum; not replicated",
				 t->name, b->next_offset);
			note_damage(t, b->next_offset);
			rc = -EIO;
		}
		if (rc < 0)
			break;
		rc = 0;
	}
	pthread_rwlock_unlock(&t->lock);
	for (size_t i = 0; i < b->n; i++)
		b->msgs[i].payload = b->data + (uintptr_t)b->msgs[i].payload;
	return rc;
}

void topic_batch_free(struct topic_batch *b)
{
	free(b->msgs);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void topic_stat(struct topic *t, uint64_t *messages, uint64_t *bytes,
		uint64_t *mtime_ns)
{
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

uint64_t topic_ctime(struct topic *t)
{
	pthread_rwlock_rdlock(&t->lock);
	uint64_t c = t->mtime_ns > t->ctime_ns ? t->mtime_ns : t->ctime_ns;
	if (t->change_ns > c)
		c = t->change_ns;
	pthread_rwlock_unlock(&t->lock);
	return c;
}

uint64_t topic_end(struct topic *t)
{
	uint64_t n;
	topic_stat(t, &n, NULL, NULL);
	return n;
}

int topic_set_owner(struct topic *t, uid_t uid, gid_t gid, mode_t mode)
{
	pthread_rwlock_wrlock(&t->lock);
	uid_t ou = t->uid;
	gid_t og = t->gid;
	mode_t om = t->mode;
	if (uid != (uid_t)-1)
		t->uid = uid;
	if (gid != (gid_t)-1)
		t->gid = gid;
	if (mode != (mode_t)-1)
		t->mode = mode & 07777;
	uint64_t oc = t->change_ns;
	t->change_ns = now_ns();
	int dfd = dir_get(t);
	int rc = dfd < 0 ? dfd : write_meta(t, dfd);
	dir_put(t, dfd);
	if (rc < 0) {
		t->uid = ou;
		t->gid = og;
		t->mode = om;
		t->change_ns = oc;
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}
