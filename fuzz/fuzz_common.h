/*
 * fuzz_common.h - helpers shared by the libFuzzer targets in fuzz/ (see
 * docs/fuzzing.md): a reader of the fuzz input, a scratch directory made
 * with mkdtemp and removed at exit, file writing, and FUZZ_CHECK for the
 * invariants a target asserts beyond "no crash, no leak, no hang".
 *
 * Header-only (static functions) so each target is one .c file.
 */
#ifndef STREAMFS_FUZZ_COMMON_H
#define STREAMFS_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fuzz_scratch_cleanup(void);

/*
 * FUZZ_CHECK - an invariant of the code under test. A violation prints the
 * condition and aborts, which libFuzzer reports as a crash (with a stack
 * and the input saved as crash-<sha1>). The scratch directory is removed
 * first (the saved input reproduces it).
 */
#define FUZZ_CHECK(cond)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",      \
				__FILE__, __LINE__, #cond);                   \
			fuzz_scratch_cleanup();                               \
			abort();                                              \
		}                                                             \
	} while (0)

/* A cursor over the fuzz input: take bytes from the front. */
struct fz {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fz_u8(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t lo = fz_u8(f);
	return (uint16_t)(lo | (uint16_t)fz_u8(f) << 8);
}

/* Up to N bytes (fewer at the end of the input); *LEN gets the count. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t n, size_t *len)
{
	if (n > f->n)
		n = f->n;
	const uint8_t *p = f->p;
	f->p += n;
	f->n -= n;
	*len = n;
	return p;
}

/*
 * fuzz_scratch - the target's scratch directory, made once with mkdtemp
 * under $TMPDIR (else /dev/shm if writable, else /tmp) and removed at exit
 * and at a FUZZ_CHECK failure. A sanitizer report or a timeout leaves it
 * behind (libFuzzer owns the death callback and ends with _Exit); fuzz/run.sh
 * points TMPDIR at a directory it removes. Inputs make their files below
 * it and remove them before returning.
 */
static char fuzz_scratch_dir[4096];

static int fuzz_rm_tree_at(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return unlinkat(parent, name, 0);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		fuzz_rm_tree_at(dirfd(d), de->d_name);
	}
	closedir(d);
	return unlinkat(parent, name, AT_REMOVEDIR);
}

/* fuzz_rm_tree - remove PATH and everything below it. */
static inline void fuzz_rm_tree(const char *path)
{
	fuzz_rm_tree_at(AT_FDCWD, path);
}

static void fuzz_scratch_cleanup(void)
{
	if (fuzz_scratch_dir[0])
		fuzz_rm_tree(fuzz_scratch_dir);
	fuzz_scratch_dir[0] = '\0';
}

static inline const char *fuzz_scratch(void)
{
	if (fuzz_scratch_dir[0])
		return fuzz_scratch_dir;
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fuzz_scratch_dir, sizeof(fuzz_scratch_dir),
		 "%s/streamfs-fuzz.XXXXXX", base);
	if (!mkdtemp(fuzz_scratch_dir)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(fuzz_scratch_cleanup);
	return fuzz_scratch_dir;
}

/* fuzz_write_at - create (or truncate) NAME in PARENT holding LEN bytes. */
static inline void fuzz_write_at(int parent, const char *name, const void *buf,
				 size_t len)
{
	int fd = openat(parent, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror("fuzz: create");
		abort();
	}
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w <= 0) {
			perror("fuzz: write");
			abort();
		}
		p += w;
		len -= (size_t)w;
	}
	close(fd);
}

#endif
