/*
 * test_metafile.c - unit tests of fs/metafile.c's two ways of replacing a
 * JSON metadata file: metafile_write (a new temporary file renamed over the
 * old one) and metafile_replace (a scratch file written in place and
 * exchanged with the old one, for .positions.json): after each, the file
 * holds the whole new version, and a failure leaves the old one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/metafile.h"
#include "scratch.h"

struct fixture {
	char dir[PATH_MAX];
	int dirfd;
};

static int setup(void **state)
{
	static struct fixture f;
	*state = &f;
	return scratch_make("metafile", f.dir, sizeof(f.dir), &f.dirfd);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	return scratch_remove(f->dir, &f->dirfd);
}

/* The integer member "n" of file NAME, or -1 if it cannot be read. */
static long long read_n(int dirfd, const char *name)
{
	json_t *j = NULL;
	if (metafile_read(dirfd, name, &j) < 0)
		return -1;
	long long n = meta_int(j, "n", -1);
	json_decref(j);
	return n;
}

static ino_t inode_of(int dirfd, const char *name)
{
	struct stat st;
	assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_ino;
}

static int put_n(int dirfd, const char *name, long long n, bool replace, bool durable)
{
	json_t *j = json_pack("{s:I, s:s}", "n", (json_int_t)n, "pad",
			      n % 2 ? "a longer value, so versions differ in size" : "x");
	assert_non_null(j);
	int rc = replace ? metafile_replace(dirfd, name, j, durable) :
			   metafile_write(dirfd, name, j, durable);
	json_decref(j);
	return rc;
}

/* The first replace creates the file; each later one exchanges it with the
 * scratch file, which then holds the version before. */
static void test_replace_versions(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(read_n(f->dirfd, "p.json"), -1);
	assert_int_equal(put_n(f->dirfd, "p.json", 1, true, false), 0);
	assert_int_equal(read_n(f->dirfd, "p.json"), 1);
	for (long long n = 2; n <= 6; n++) {
		assert_int_equal(put_n(f->dirfd, "p.json", n, true, n == 4), 0);
		assert_int_equal(read_n(f->dirfd, "p.json"), n);
		assert_int_equal(read_n(f->dirfd, ".tmp.p.json"), n - 1);
	}
}

/* No inode is created or freed once both files exist: the same two swap. */
static void test_replace_reuses_inodes(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(put_n(f->dirfd, "q.json", 1, true, false), 0);
	assert_int_equal(put_n(f->dirfd, "q.json", 2, true, false), 0);
	ino_t a = inode_of(f->dirfd, "q.json"), b = inode_of(f->dirfd, ".tmp.q.json");
	assert_true(a != b);
	for (long long n = 3; n <= 8; n++) {
		assert_int_equal(put_n(f->dirfd, "q.json", n, true, false), 0);
		ino_t x = inode_of(f->dirfd, "q.json"), y = inode_of(f->dirfd, ".tmp.q.json");
		assert_true((x == a && y == b) || (x == b && y == a));
		assert_true(x != a || n % 2 == 0);	/* they alternate */
	}
}

/* A failed replace (the scratch file cannot be opened) leaves the old
 * version, whole. */
static void test_replace_failure_keeps_old(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(put_n(f->dirfd, "r.json", 7, true, false), 0);
	assert_int_equal(unlinkat(f->dirfd, ".tmp.r.json", 0) == 0 ||
			 errno == ENOENT, 1);
	assert_int_equal(mkdirat(f->dirfd, ".tmp.r.json", 0700), 0);
	assert_int_equal(put_n(f->dirfd, "r.json", 8, true, false), -EISDIR);
	assert_int_equal(read_n(f->dirfd, "r.json"), 7);
	assert_int_equal(unlinkat(f->dirfd, ".tmp.r.json", AT_REMOVEDIR), 0);
	assert_int_equal(put_n(-1, "r.json", 9, true, false), -EBADF);
}

/* metafile_write leaves no temporary file behind, and replaces too. */
static void test_write_no_leftover(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(put_n(f->dirfd, "w.json", 1, false, true), 0);
	assert_int_equal(put_n(f->dirfd, "w.json", 2, false, false), 0);
	assert_int_equal(read_n(f->dirfd, "w.json"), 2);
	assert_int_equal(faccessat(f->dirfd, ".tmp.w.json", F_OK, 0), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace_versions),
		cmocka_unit_test(test_replace_reuses_inodes),
		cmocka_unit_test(test_replace_failure_keeps_old),
		cmocka_unit_test(test_write_no_leftover),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
