/*
 * passthrough.c - the FUSE floor for `make bench`: a minimal passthrough of
 * one directory, set up the way streamfs sets itself up (fs/main.c,
 * fs/fuse_ops.c), so that the ratio streamfs / passthrough measures
 * streamfs's own work and nothing the kernel or libfuse would charge any
 * filesystem with the same contract:
 *
 *   - libfuse 3 high-level API, multi-threaded loop (16 threads, no
 *     clone_fd), the same mount options (default_permissions, allow_other
 *     as root);
 *   - direct_io on every open file: no page cache, so reads and writes
 *     reach the daemon with the application's request sizes (the cheapest
 *     way through FUSE for a cold read);
 *     `--cache` instead opens files the way streamfs opens topics: read-only
 *     opens through the page cache (keep_cache, FUSE_CAP_AUTO_INVAL_DATA),
 *     opens for writing direct_io; `make bench` also gives such a mount the
 *     read-ahead streamfs sets ([mount] read_ahead);
 *   - max_write 1 MiB, attr/entry/negative timeouts 0 (sizes change behind
 *     the kernel's back in streamfs, so it cannot cache them either).
 *
 * Each operation is one system call on the backing directory.
 *
 *   passthrough [--cache] [-d] SOURCE_DIR MOUNTPOINT     (stays in the foreground)
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int src_fd = -1;
static int cache_reads;	/* --cache */

/* "/a/b" -> "a/b", "/" -> "." (relative to src_fd). */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static int pt_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int rc = fi ? fstat((int)fi->fh, st) : fstatat(src_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);
	return rc < 0 ? -errno : 0;
}

static int pt_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off, (void)fi, (void)flags;
	int fd = openat(src_fd, rel(path), O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (fill(buf, de->d_name, NULL, 0, 0))
			break;
	closedir(d);
	return 0;
}

static int pt_mkdir(const char *path, mode_t mode)
{
	return mkdirat(src_fd, rel(path), mode) < 0 ? -errno : 0;
}

static int pt_rmdir(const char *path)
{
	return unlinkat(src_fd, rel(path), AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int pt_unlink(const char *path)
{
	return unlinkat(src_fd, rel(path), 0) < 0 ? -errno : 0;
}

static int pt_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(src_fd, rel(path), fi->flags & ~O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->keep_cache = cache_reads && (fi->flags & O_ACCMODE) == O_RDONLY;
	fi->direct_io = !fi->keep_cache;
	return 0;
}

static int pt_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int fd = openat(src_fd, rel(path), fi->flags | O_CREAT, mode);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int pt_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pread((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

/* An O_APPEND descriptor makes pwrite append (Linux), as streamfs ignores
 * the offset and appends. */
static int pt_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pwrite((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int pt_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int pt_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	int rc = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
	return rc < 0 ? -errno : 0;
}

static int pt_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int rc;
	if (fi)
		rc = ftruncate((int)fi->fh, size);
	else {
		int fd = openat(src_fd, rel(path), O_WRONLY);
		if (fd < 0)
			return -errno;
		rc = ftruncate(fd, size);
		close(fd);
	}
	return rc < 0 ? -errno : 0;
}

static int pt_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	int rc = fi ? futimens((int)fi->fh, tv) : utimensat(src_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW);
	return rc < 0 ? -errno : 0;
}

static int pt_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	return fstatvfs(src_fd, sv) < 0 ? -errno : 0;
}

static void *pt_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	conn->max_write = 1u << 20;
	conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->use_ino = 0;
	return NULL;
}

static const struct fuse_operations pt_ops = {
	.init = pt_init,
	.getattr = pt_getattr,
	.readdir = pt_readdir,
	.mkdir = pt_mkdir,
	.rmdir = pt_rmdir,
	.unlink = pt_unlink,
	.open = pt_open,
	.create = pt_create,
	.read = pt_read,
	.write = pt_write,
	.release = pt_release,
	.fsync = pt_fsync,
	.truncate = pt_truncate,
	.utimens = pt_utimens,
	.statfs = pt_statfs,
};

int main(int argc, char **argv)
{
	int debug = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--cache"))
			cache_reads = 1;
		else if (!strcmp(argv[i], "-d"))
			debug = 1;
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: passthrough [--cache] [-d] SOURCE_DIR MOUNTPOINT\n");
		return 2;
	}
	src_fd = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src_fd < 0) {
		perror(argv[i]);
		return 1;
	}
	char opts[128];
	snprintf(opts, sizeof(opts), "fsname=passthrough,subtype=passthrough,default_permissions%s",
		 getuid() == 0 ? ",allow_other" : "");
	char *fargv[] = { argv[0], "-o", opts, debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, fargv);
	struct fuse *fuse = fuse_new(&args, &pt_ops, sizeof(pt_ops), NULL);
	if (!fuse)
		return 1;
	int status = 1;
	if (fuse_mount(fuse, argv[i + 1]) != 0)
		goto out;
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out_unmount;
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_max_threads(lc, 16);
	/* 0, or the number of the signal that ended it: a clean stop. */
	status = fuse_loop_mt(fuse, lc) < 0;
	fuse_loop_cfg_destroy(lc);
	fuse_remove_signal_handlers(fuse_get_session(fuse));
out_unmount:
	fuse_unmount(fuse);
out:
	fuse_destroy(fuse);
	fuse_opt_free_args(&args);
	return status;
}
