/*
 * test_util.c - unit tests of the shared pieces in fs/util/: the HOST:PORT
 * parser (every form mount.conf accepts and the ones it refuses), the mount
 * table reader (escaped paths, the type filter, a callback that stops the
 * walk), the whole-buffer pread/pwrite loops and the clock deadlines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/scratch.h"
#include "fs/util/byteorder.h"
#include "fs/util/clock.h"
#include "fs/util/fileio.h"
#include "fs/util/hostport.h"
#include "fs/util/lockcheck.h"
#include "fs/util/mountinfo.h"
#include "fs/util/safetext.h"

static void test_hostport_accepted(void **state)
{
	(void)state;
	char host[64], port[8];
	assert_int_equal(hostport_split("198.18.0.1:5660", host, sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "198.18.0.1");
	assert_string_equal(port, "5660");
	assert_int_equal(hostport_split("[::1]:1", host, sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "1");
	assert_int_equal(hostport_split("gw.example:65535", host, sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "gw.example");
	assert_string_equal(port, "65535");
	assert_int_equal(hostport_split("localhost:80", NULL, 0, NULL, 0), 0);
}

static void test_hostport_refused(void **state)
{
	(void)state;
	const char *bad[] = { "", ":5660", "host", "host:", "host:0", "host:65536",
			      "host:99999", "host:+80", "host: 80", "host:80x", "ho st:80",
			      "::1:80", "[::1:80", "[]:80", "host:123456" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char host[64], port[8];
		if (hostport_split(bad[i], host, sizeof(host), port, sizeof(port)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
	char small[4], port[8];
	assert_int_equal(hostport_split("longhost:80", small, sizeof(small), port, sizeof(port)),
			 -ENAMETOOLONG);
}

struct seen {
	char paths[8][128];
	int n, stop_at;
};

static int collect_fuse(const char *mp, const char *type, void *arg)
{
	struct seen *s = arg;
	if (strncmp(type, "fuse", 4))
		return 0;
	snprintf(s->paths[s->n++], sizeof(s->paths[0]), "%s", mp);
	return s->n == s->stop_at ? 7 : 0;
}

static void test_mount_table(void **state)
{
	(void)state;
	char dir[512], file[600];
	assert_int_equal(scratch_make("util", dir, sizeof(dir), NULL), 0);
	snprintf(file, sizeof(file), "%s/mounts", dir);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fputs("proc /proc proc rw 0 0\n"
	      "streamfs /tmp/with\\040space fuse.streamfs rw 0 0\n"
	      "broken-line\n"
	      "streamfs /tmp/back\\134slash\\011tab fuse.streamfs rw 0 0\n"
	      "other /mnt ext4 rw 0 0\n", f);
	fclose(f);
	struct seen s = { .stop_at = 0 };
	assert_int_equal(mountinfo_foreach(file, collect_fuse, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.paths[0], "/tmp/with space");
	assert_string_equal(s.paths[1], "/tmp/back\\slash\ttab");
	/* a non-zero return stops the walk and is returned */
	struct seen one = { .stop_at = 1 };
	assert_int_equal(mountinfo_foreach(file, collect_fuse, &one), 7);
	assert_int_equal(one.n, 1);
	snprintf(file, sizeof(file), "%s/absent", dir);
	assert_int_equal(mountinfo_foreach(file, collect_fuse, &s), -ENOENT);
	/* "/" is a mount point in every mount namespace; the scratch dir is not */
	assert_int_equal(mountinfo_is_mountpoint("/"), 1);
	assert_int_equal(mountinfo_is_mountpoint(dir), 0);
	assert_int_equal(scratch_remove(dir, NULL), 0);
}

static void test_fileio(void **state)
{
	(void)state;
	char dir[512], file[600];
	assert_int_equal(scratch_make("util", dir, sizeof(dir), NULL), 0);
	snprintf(file, sizeof(file), "%s/f", dir);
	int fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite_full(fd, "hello", 5, 3), 0);
	char buf[8] = { 0 };
	assert_int_equal(pread_full(fd, buf, 5, 3), 0);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(pread_full(fd, buf, 3, 0), 0);
	assert_memory_equal(buf, "\0\0\0", 3);	/* the hole reads as zeros */
	/* the file ends first */
	assert_int_equal(pread_full(fd, buf, 6, 3), -ENODATA);
	close(fd);
	assert_int_equal(pwrite_full(fd, "x", 1, 0), -EBADF);
	assert_int_equal(scratch_remove(dir, NULL), 0);
}

static void test_clock_and_byteorder(void **state)
{
	(void)state;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct timespec d = clock_deadline(CLOCK_MONOTONIC, 1999);
	assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
	int64_t diff = (int64_t)(d.tv_sec - now.tv_sec) * 1000000000 + (d.tv_nsec - now.tv_nsec);
	assert_true(diff >= 1999000000LL && diff < 2999000000LL);
	assert_true(timespec_before(now, d));
	assert_false(timespec_before(d, now));
	uint64_t a = mono_ns(), b = mono_ns();
	assert_true(b >= a);
	assert_true(now_ns() > 1700000000ull * 1000000000ull);	/* after 2023 */

	uint8_t p[8];
	put_le64(p, 0x0102030405060708ull);
	assert_int_equal(p[0], 8);
	assert_int_equal(p[7], 1);
	assert_true(get_le64(p) == 0x0102030405060708ull);
	put_le32(p, 0xa1b2c3d4u);
	assert_int_equal(p[0], 0xd4);
	assert_int_equal(get_le32(p), 0xa1b2c3d4u);
	put_le16(p + 1, 0x1234);
	assert_int_equal(p[1], 0x34);
	assert_int_equal(get_le16(p + 1), 0x1234);
}

/* Does FN(ARG) abort (a failed assertion) in a child process? */
static bool aborts(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* No core file, no report on stderr for the expected abort. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		fn(arg);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void check_mutex(void *arg)
{
	(void)arg;
	LOCK_ASSERT_HELD((pthread_mutex_t *)arg);
}

static void check_wrlock(void *arg)
{
	LOCK_ASSERT_WRLOCKED((pthread_rwlock_t *)arg);
}

static void check_rwlock(void *arg)
{
	LOCK_ASSERT_RWLOCK_HELD((pthread_rwlock_t *)arg);
}

/* safetext: valid UTF-8 kept; bad bytes, controls (C0, DEL, C1),
 * overlongs, surrogates and code points past U+10FFFF as \xNN; cut at a
 * character's end whatever the room. */
static void test_safetext(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(safetext(b, sizeof(b), "plain /mapr/c/s"), "plain /mapr/c/s");
	assert_string_equal(safetext(b, sizeof(b), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
			    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	assert_string_equal(safetext(b, sizeof(b), "a\xff" "b"), "a\\xFFb");
	assert_string_equal(safetext(b, sizeof(b), "\x1b[31mred\ttab\x7f"),
			    "\\x1B[31mred\\x09tab\\x7F");
	assert_string_equal(safetext(b, sizeof(b), "\xc2\x85"), "\\xC2\\x85");	/* C1 NEL */
	assert_string_equal(safetext(b, sizeof(b), "\xc0\xaf"), "\\xC0\\xAF");	/* overlong '/' */
	assert_string_equal(safetext(b, sizeof(b), "\xed\xa0\x80"), "\\xED\\xA0\\x80"); /* surrogate */
	assert_string_equal(safetext(b, sizeof(b), "\xf4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");
	assert_string_equal(safetext(b, sizeof(b), "\xe2\x82"), "\\xE2\\x82");	/* cut short */
	/* room for "ab" and not the whole "\xFF" nor the whole euro sign */
	assert_string_equal(safetext(b, 5, "ab\xff"), "ab");
	assert_string_equal(safetext(b, 5, "ab\xe2\x82\xac"), "ab");
	assert_string_equal(safetext(b, 6, "ab\xe2\x82\xac"), "ab\xe2\x82\xac");
	assert_string_equal(safetext(b, 1, "abc"), "");
	assert_string_equal(safetext(b, sizeof(b), ""), "");
}

static void test_lock_assertions(void **state)
{
	(void)state;
#ifndef SFS_LOCK_CHECKS
	skip();
#endif
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	assert_true(aborts(check_mutex, &m));	/* not held */
	pthread_mutex_lock(&m);
	check_mutex(&m);			/* held by this thread: passes */
	assert_true(aborts(check_mutex, &m));	/* another thread (the child's) */
	pthread_mutex_unlock(&m);
	assert_true(aborts(check_mutex, &m));

	pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
	assert_true(aborts(check_rwlock, &l));
	pthread_rwlock_rdlock(&l);
	check_rwlock(&l);			/* shared: any reader counts */
	assert_true(aborts(check_wrlock, &l));	/* but it is no write lock */
	pthread_rwlock_unlock(&l);
	pthread_rwlock_wrlock(&l);
	check_wrlock(&l);
	check_rwlock(&l);
	pthread_rwlock_unlock(&l);
	assert_true(aborts(check_wrlock, &l));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostport_accepted),
		cmocka_unit_test(test_safetext),
		cmocka_unit_test(test_hostport_refused),
		cmocka_unit_test(test_mount_table),
		cmocka_unit_test(test_fileio),
		cmocka_unit_test(test_clock_and_byteorder),
		cmocka_unit_test(test_lock_assertions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
