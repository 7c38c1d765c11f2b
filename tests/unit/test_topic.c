/*
 * test_topic.c - unit tests of fs/local/logtopic.c: creating a topic, local appends
 * across segment rolls, reads at every byte position of the topic file,
 * stat, reopen, batch reads with origin identity, replicated appends and
 * their exactly-once high-water marks (across reopen, with and without the
 * checkpoint), checksum failures on read, owner changes, and -EEXIST.
 *
 * Each test gets a fresh mkdtemp directory used as the stream directory.
 * Segments are small (4096 bytes) so that a few hundred messages roll
 * through several of them; checkpoints come every 100 messages.
 */
#define _GNU_SOURCE	/* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "tests/unit/scratch.h"
#include "fs/metafile.h"
#include "fs/local/record.h"
#include "fs/local/segment.h"
#include "fs/local/logtopic.h"
#include "fs/util/byteorder.h"
#include "fs/util/clock.h"

static char tmpdir[1024];
static int sdir = -1;		/* the stream directory */

/* Not const: each group of tests sets the segment format (main). */
static struct topic_opts opts = {
	.segment_bytes = 4096,
	.fsync = SFS_FSYNC_OS,
	.fsync_interval_ms = 1000,
	.checkpoint_every = 100,
};

/* The "records" group: every topic made writes the old format. */
static int records_setup(void **state)
{
	(void)state;
	opts.segment_version = SEG_FORMAT_RECORDS;
	return 0;
}

static int records_teardown(void **state)
{
	(void)state;
	opts.segment_version = 0;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	return scratch_make("topic", tmpdir, sizeof(tmpdir), &sdir);
}

static int teardown(void **state)
{
	(void)state;
	return scratch_remove(tmpdir, &sdir);
}

/* ---- messages ------------------------------------------------------------ */

/*
 * Message I of series SALT: every 9th (4, 13, 22, ...) is empty, the others
 * 1 to 150 bytes of letters, distinct per series and index, into BUF[200].
 * (Message 0 is not empty, and no test but test_read_batch_empty_first
 * starts a fresh batch at an empty message: see that test.)
 */
static uint32_t msg_make(char salt, uint64_t i, char *buf)
{
	uint32_t len = i % 9 == 4 ? 0 : (uint32_t)((i * 37) % 150) + 1;
	for (uint32_t k = 0; k < len; k++)
		buf[k] = (char)('a' + (i * 3 + k + (uint64_t)salt) % 26);
	if (len >= 6) {	/* a readable prefix: salt and index */
		char p[16];
		snprintf(p, sizeof(p), "%c%05u", salt, (unsigned)(i % 100000));
		memcpy(buf, p, 6);
	}
	return len;
}

/* The expected bytes of a topic: a list of (salt, index) messages, each
 * followed by '\n'. */
struct expect {
	char *data;
	size_t len, cap;
	uint64_t *vpos;		/* start of message k */
	uint32_t *mlen;
	size_t n, ncap;
};

static void expect_add(struct expect *e, char salt, uint64_t i)
{
	char buf[200];
	uint32_t len = msg_make(salt, i, buf);
	if (e->len + len + 1 > e->cap) {
		e->cap = (e->len + len + 1) * 2;
		e->data = realloc(e->data, e->cap);
		assert_non_null(e->data);
	}
	if (e->n == e->ncap) {
		e->ncap = e->ncap ? e->ncap * 2 : 64;
		e->vpos = realloc(e->vpos, e->ncap * sizeof(*e->vpos));
		e->mlen = realloc(e->mlen, e->ncap * sizeof(*e->mlen));
		assert_non_null(e->vpos);
		assert_non_null(e->mlen);
	}
	e->vpos[e->n] = e->len;
	e->mlen[e->n] = len;
	e->n++;
	memcpy(e->data + e->len, buf, len);
	e->len += len;
	e->data[e->len++] = '\n';
}

static void expect_free(struct expect *e)
{
	free(e->data);
	free(e->vpos);
	free(e->mlen);
	memset(e, 0, sizeof(*e));
}

/* Append messages [FROM, FROM+COUNT) of series SALT locally, in batches of
 * 1 to 7, and add them to E (may be NULL). */
static void append_local(struct topic *t, char salt, uint64_t from, uint64_t count,
			 struct expect *e)
{
	static char bufs[7][200];
	uint64_t i = from, end = from + count;
	while (i < end) {
		struct iovec iov[7];
		size_t n = 1 + (size_t)(i % 7);
		if (n > end - i)
			n = end - i;
		for (size_t k = 0; k < n; k++) {
			iov[k].iov_base = bufs[k];
			iov[k].iov_len = msg_make(salt, i + k, bufs[k]);
			if (e)
				expect_add(e, salt, i + k);
		}
		int rc = topic_append_local(t, iov, n);
		if (rc != 0)
			fail_msg("topic_append_local of %zu messages at %" PRIu64 ": %d",
				 n, i, rc);
		i += n;
	}
}

/* Make directory NAME under the test directory and open it. */
static int make_dir(const char *name)
{
	assert_int_equal(mkdirat(sdir, name, 0750), 0);
	int fd = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static struct topic *create(int dirfd, const char *name, const uuid_t stream)
{
	struct topic *t = NULL;
	int rc = log_topic_create(dirfd, name, stream, 1000, 1000, 0640, &opts, &t);
	if (rc != 0)
		fail_msg("log_topic_create(%s): %d", name, rc);
	assert_non_null(t);
	return t;
}

static struct topic *reopen(int dirfd, const char *name, const uuid_t stream)
{
	struct topic *t = NULL;
	int rc = log_topic_open(dirfd, name, stream, &opts, &t);
	if (rc != 0)
		fail_msg("log_topic_open(%s): %d", name, rc);
	assert_non_null(t);
	return t;
}

/* Read the whole topic file and compare it with E. */
static void check_content(struct topic *t, const struct expect *e)
{
	uint64_t msgs, bytes;
	topic_stat(t, &msgs, &bytes, NULL);
	assert_true(msgs == e->n);
	assert_true(bytes == e->len);
	char *buf = malloc(e->len + 100);
	assert_non_null(buf);
	ssize_t got = topic_read(t, 0, buf, e->len + 100, NULL);
	if (got != (ssize_t)e->len)
		fail_msg("topic_read(0, %zu) = %zd, expected %zu", e->len + 100, got, e->len);
	if (memcmp(buf, e->data, e->len) != 0)
		fail_msg("topic content differs from the messages appended");
	assert_int_equal(topic_read(t, e->len, buf, 10, NULL), 0);
	free(buf);
}

/* Check topic_read at every byte position VPOS (0 .. len+2) with reads of
 * SIZE bytes, or of everything to the end (plus some) if SIZE is 0. */
static void check_every_position(struct topic *t, const struct expect *e, size_t size)
{
	char *buf = malloc(e->len + 64);
	assert_non_null(buf);
	for (uint64_t v = 0; v <= e->len + 2; v++) {
		size_t want = size ? size : e->len - (v < e->len ? v : e->len) + 17;
		size_t expect_n = v >= e->len ? 0 :
			(e->len - v < want ? e->len - v : want);
		ssize_t got = topic_read(t, v, buf, want, NULL);
		if (got != (ssize_t)expect_n)
			fail_msg("topic_read(vpos %" PRIu64 ", %zu) = %zd, expected %zu",
				 v, want, got, expect_n);
		if (memcmp(buf, e->data + v, expect_n) != 0)
			fail_msg("topic_read(vpos %" PRIu64 ", %zu): wrong bytes", v, want);
	}
	free(buf);
}

/* Read the topic sequentially in SIZE-byte reads with one read hint, as a
 * `cat` does through the daemon, and compare with E; also jump around. */
static void check_hinted_reads(struct topic *t, const struct expect *e, size_t size)
{
	char *buf = malloc(size);
	assert_non_null(buf);
	struct topic_read_hint hint = { 0 };
	uint64_t v = 0;
	while (v < e->len) {
		ssize_t got = topic_read(t, v, buf, size, &hint);
		size_t expect_n = e->len - v < size ? e->len - v : size;
		if (got != (ssize_t)expect_n || memcmp(buf, e->data + v, expect_n) != 0)
			fail_msg("hinted read at %" PRIu64 " of %zu: got %zd", v, size, got);
		v += got;
	}
	assert_int_equal(topic_read(t, e->len, buf, size, &hint), 0);
	/* At the end of the topic the bytes read ahead are let go. */
	assert_null(hint.ahead);
	/* A hint past the wanted byte, or from another spot, is not followed. */
	for (uint64_t w = e->len; w-- > 0;) {
		ssize_t got = topic_read(t, w, buf, 1, &hint);
		assert_int_equal(got, 1);
		assert_int_equal(buf[0], e->data[w]);
		if (w > 97)
			w -= 97;
	}
	topic_read_hint_free(&hint);
	assert_null(hint.ahead);
	free(buf);
}

static bool dir_has_prefix(int dirfd, const char *prefix)
{
	int fd = dup(dirfd);
	assert_true(fd >= 0);
	DIR *d = fdopendir(fd);
	assert_non_null(d);
	rewinddir(d);
	struct dirent *de;
	bool found = false;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			found = true;
	closedir(d);
	return found;
}

/* ---- local appends and reads -------------------------------------------- */

static void test_create_empty(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "empty", su);
	uint64_t msgs = 99, bytes = 99, mt = 0;
	topic_stat(t, &msgs, &bytes, &mt);
	assert_true(msgs == 0);
	assert_true(bytes == 0);
	assert_true(mt > 0);
	assert_true(topic_end(t) == 0);
	assert_int_equal(t->uid, 1000);
	assert_int_equal(t->gid, 1000);
	assert_int_equal(t->mode, 0640);
	assert_int_equal(uuid_compare(t->stream_uuid, su), 0);
	assert_false(uuid_is_null(t->uuid));
	char buf[16];
	assert_int_equal(topic_read(t, 0, buf, sizeof(buf), NULL), 0);
	assert_int_equal(topic_read(t, 5, buf, sizeof(buf), NULL), 0);
	struct topic_batch b = { 0 };
	assert_int_equal(topic_read_batch(t, 0, 10, 1000, &b), 0);
	assert_int_equal(b.n, 0);
	assert_true(b.next_offset == 0);
	assert_int_equal(topic_append_local(t, NULL, 0), 0);
	assert_true(topic_end(t) == 0);
	uuid_t u;
	uuid_copy(u, t->uuid);
	topic_put(t);
	assert_false(dir_has_prefix(sdir, ".new-"));

	t = reopen(sdir, "empty", su);
	assert_int_equal(uuid_compare(t->uuid, u), 0);
	assert_true(topic_end(t) == 0);
	assert_int_equal(topic_read(t, 0, buf, sizeof(buf), NULL), 0);
	assert_int_equal(topic_read_batch(t, 0, 10, 1000, &b), 0);
	assert_int_equal(b.n, 0);
	topic_batch_free(&b);
	topic_put(t);

	/* A topic that does not exist. */
	struct topic *t2 = NULL;
	assert_int_equal(log_topic_open(sdir, "nope", su, &opts, &t2), -ENOENT);
}

/* A small topic: every byte position, reads of several sizes. */
static void test_read_every_position(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "small", su);
	struct expect e = { 0 };
	append_local(t, 'S', 0, 200, &e);
	assert_true(log_topic_of(t)->nsegs >= 3);	/* rolled through several segments */
	check_content(t, &e);
	check_every_position(t, &e, 0);
	check_every_position(t, &e, 1);
	check_every_position(t, &e, 2);
	check_every_position(t, &e, 7);
	check_every_position(t, &e, 150);
	check_every_position(t, &e, 5000);
	check_hinted_reads(t, &e, 1);
	check_hinted_reads(t, &e, 3);
	check_hinted_reads(t, &e, 100);
	check_hinted_reads(t, &e, 4096);
	check_hinted_reads(t, &e, 131072);

	/* Known values: message 0 is 1 byte, message 1 is 38 bytes, message 4
	 * is empty: the file starts "x\nS00001...\n" with '\n' at 1 and 40. */
	char buf[64];
	assert_int_equal(e.mlen[0], 1);
	assert_int_equal(e.mlen[1], 38);
	assert_int_equal(e.mlen[4], 0);
	assert_int_equal(topic_read(t, 0, buf, 2, NULL), 2);
	assert_int_equal(buf[0], e.data[0]);
	assert_int_equal(buf[1], '\n');
	assert_int_equal(topic_read(t, 2, buf, 6, NULL), 6);
	assert_memory_equal(buf, "S00001", 6);
	assert_int_equal(topic_read(t, 39, buf, 3, NULL), 3);
	assert_int_equal(buf[1], '\n');	/* vpos 40 ends message 1 */
	/* Message 4 is an empty line: its '\n' follows message 3's. */
	assert_int_equal(topic_read(t, e.vpos[4] - 1, buf, 2, NULL), 2);
	assert_memory_equal(buf, "\n\n", 2);
	expect_free(&e);
	topic_put(t);
}

static void test_read_spanning_segments(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "span", su);
	struct expect e = { 0 };
	append_local(t, 'P', 0, 400, &e);
	assert_true(log_topic_of(t)->nsegs >= 5);
	char *buf = malloc(e.len + 1);
	assert_non_null(buf);
	for (size_t i = 0; i < log_topic_of(t)->nsegs; i++) {
		const struct segment *s = &log_topic_of(t)->segs[i];
		/* Segments are named by first offset; their base vpos agrees. */
		assert_true(s->base_offset < e.n);
		assert_true(s->base_vpos == e.vpos[s->base_offset]);
		/* No segment holding more than one batch passes segment_bytes. */
		if (i + 1 < log_topic_of(t)->nsegs)
			assert_true(s->end_offset == log_topic_of(t)->segs[i + 1].base_offset);
		if (s->end_offset - s->base_offset > 7)
			assert_true(s->size <= opts.segment_bytes);
		if (i == 0)
			continue;
		/* Windows around the boundary, and from one segment to the next. */
		static const uint64_t before[] = { 1, 3, 50, 1000 };
		static const uint64_t span[] = { 1, 2, 6, 100, 3000, 6000 };
		for (size_t a = 0; a < 4; a++) {
			for (size_t b = 0; b < 6; b++) {
				if (s->base_vpos < before[a])
					continue;
				uint64_t v = s->base_vpos - before[a];
				size_t want = span[b];
				size_t exp = e.len - v < want ? e.len - v : want;
				ssize_t got = topic_read(t, v, buf, want, NULL);
				if (got != (ssize_t)exp)
					fail_msg("read(%" PRIu64 ", %zu) across segment %zu: %zd, expected %zu",
						 v, want, i, got, exp);
				assert_memory_equal(buf, e.data + v, exp);
			}
		}
	}
	/* One read spanning every segment. */
	assert_int_equal(topic_read(t, 3, buf, e.len - 5, NULL), (ssize_t)(e.len - 5));
	assert_memory_equal(buf, e.data + 3, e.len - 5);
	free(buf);
	expect_free(&e);
	topic_put(t);
}

/* A message larger than segment_bytes gets a segment to itself. */
static void test_big_message(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "big", su);
	struct expect e = { 0 };
	append_local(t, 'G', 0, 30, &e);
	size_t blen = 10000;
	char *big = malloc(blen);
	assert_non_null(big);
	for (size_t i = 0; i < blen; i++)
		big[i] = (char)('A' + i % 26);
	struct iovec iov = { big, blen };
	assert_int_equal(topic_append_local(t, &iov, 1), 0);
	/* Add it to the expectation by hand. */
	e.data = realloc(e.data, e.len + blen + 1 + 1);
	assert_non_null(e.data);
	memcpy(e.data + e.len, big, blen);
	e.len += blen;
	e.data[e.len++] = '\n';
	e.cap = e.len;
	e.n++;
	struct expect tail = { 0 };
	append_local(t, 'G', 31, 30, &tail);
	e.data = realloc(e.data, e.len + tail.len);
	assert_non_null(e.data);
	memcpy(e.data + e.len, tail.data, tail.len);
	e.len += tail.len;
	e.n += tail.n;
	expect_free(&tail);
	check_content(t, &e);
	check_every_position(t, &e, 4097);
	topic_put(t);
	t = reopen(sdir, "big", su);
	check_content(t, &e);
	struct topic_batch b = { 0 };
	assert_int_equal(topic_read_batch(t, 30, 1, 1, &b), 0);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.msgs[0].len, blen);
	assert_memory_equal(b.msgs[0].payload, big, blen);
	topic_batch_free(&b);
	free(big);
	expect_free(&e);
	topic_put(t);
}

static void test_stat_and_reopen(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	uint64_t t0 = now_ns();
	struct topic *t = create(sdir, "reo", su);
	struct expect e = { 0 };
	append_local(t, 'R', 0, 333, &e);
	uint64_t t1 = now_ns();
	uint64_t msgs, bytes, mt;
	topic_stat(t, &msgs, &bytes, &mt);
	assert_true(msgs == 333);
	assert_true(bytes == e.len);
	assert_true(mt >= t0 && mt <= t1);
	assert_true(topic_end(t) == 333);
	check_content(t, &e);
	size_t nsegs = log_topic_of(t)->nsegs;
	uuid_t u;
	uuid_copy(u, t->uuid);
	topic_put(t);

	t = reopen(sdir, "reo", su);
	assert_int_equal(uuid_compare(t->uuid, u), 0);
	assert_int_equal(log_topic_of(t)->nsegs, nsegs);
	topic_stat(t, &msgs, &bytes, NULL);
	assert_true(msgs == 333);
	assert_true(bytes == e.len);
	check_content(t, &e);
	check_every_position(t, &e, 333);

	/* Appends continue where the log ended. */
	append_local(t, 'R', 333, 100, &e);
	check_content(t, &e);
	struct topic_batch b = { 0 };
	assert_int_equal(topic_read_batch(t, 333, 1, 0, &b), 0);
	assert_int_equal(b.n, 1);
	assert_true(b.msgs[0].offset == 333 && b.msgs[0].origin_offset == 333);
	topic_batch_free(&b);
	topic_put(t);

	t = reopen(sdir, "reo", su);
	check_content(t, &e);
	expect_free(&e);
	topic_put(t);
}

/* Check a batch read from FROM against local series E of topic T. */
static void check_local_batch(struct topic *t, const struct expect *e, char salt,
			      uint64_t from, size_t max_msgs, size_t max_bytes,
			      uint64_t ts_lo, uint64_t ts_hi, struct topic_batch *b)
{
	assert_int_equal(topic_read_batch(t, from, max_msgs, max_bytes, b), 0);
	size_t avail = from < e->n ? e->n - from : 0;
	assert_true(b->n <= max_msgs && b->n <= avail);
	if (avail && max_msgs)
		assert_true(b->n >= 1);
	uint64_t sum = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct topic_msg *m = &b->msgs[i];
		uint64_t off = from + i;
		char buf[200];
		uint32_t len = msg_make(salt, off, buf);
		if (m->offset != off || m->len != len)
			fail_msg("batch from %" PRIu64 ": message %zu has offset %" PRIu64
				 " len %u; expected %" PRIu64 " %u",
				 from, i, m->offset, m->len, off, len);
		assert_memory_equal(m->payload, buf, len);
		assert_true(m->origin_offset == off);
		assert_int_equal(uuid_compare(m->origin_stream, t->stream_uuid), 0);
		assert_int_equal(uuid_compare(m->origin_topic, t->uuid), 0);
		assert_true(m->timestamp_ns >= ts_lo && m->timestamp_ns <= ts_hi);
		/* "After the first, about MAX_BYTES": no message is added once the
		 * bytes before it reach MAX_BYTES. */
		if (i > 0)
			assert_true(sum < max_bytes);
		sum += len;
	}
	assert_true(b->bytes == sum);
	assert_true(b->next_offset == from + b->n);
	/* Stopped for a reason: the end, MAX_MSGS or MAX_BYTES. */
	if (b->n < avail && b->n < max_msgs)
		assert_true(b->n >= 1 && sum >= max_bytes);
}

static void test_read_batch_local(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	uint64_t t0 = now_ns();
	struct topic *t = create(sdir, "rb", su);
	struct expect e = { 0 };
	append_local(t, 'L', 0, 300, &e);
	uint64_t t1 = now_ns();
	assert_true(log_topic_of(t)->nsegs >= 3);
	struct topic_batch b = { 0 };

	/* Offset 0, 10 messages: 0..9, origin this topic, origin_offset = offset. */
	check_local_batch(t, &e, 'L', 0, 10, 1 << 20, t0, t1, &b);
	assert_int_equal(b.n, 10);
	assert_true(b.next_offset == 10);

	uint64_t froms[] = { 1, 2, 57, 150, 298, 299 };
	for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++)
		check_local_batch(t, &e, 'L', froms[i], 10, 1 << 20, t0, t1, &b);
	/* From every segment boundary, and just before it. */
	for (size_t i = 1; i < log_topic_of(t)->nsegs; i++) {
		check_local_batch(t, &e, 'L', log_topic_of(t)->segs[i].base_offset, 25, 1 << 20, t0, t1, &b);
		assert_int_equal(b.n, log_topic_of(t)->segs[i].base_offset + 25 <= 300 ? 25 :
				 300 - log_topic_of(t)->segs[i].base_offset);
		check_local_batch(t, &e, 'L', log_topic_of(t)->segs[i].base_offset - 1, 3, 1 << 20, t0, t1, &b);
	}
	/* Everything in one batch. */
	check_local_batch(t, &e, 'L', 0, 100000, SIZE_MAX, t0, t1, &b);
	assert_int_equal(b.n, 300);
	assert_true(b.next_offset == 300);
	/* At and past the end: nothing. */
	check_local_batch(t, &e, 'L', 300, 10, 1 << 20, t0, t1, &b);
	assert_int_equal(b.n, 0);
	assert_true(b.next_offset == 300);
	check_local_batch(t, &e, 'L', 305, 10, 1 << 20, t0, t1, &b);
	assert_int_equal(b.n, 0);
	/* Byte limits: message 1 is 38 bytes; max_bytes 1 or 0 still gives one;
	 * an empty message (4) does not count against it. */
	check_local_batch(t, &e, 'L', 1, 10, 1, t0, t1, &b);
	assert_int_equal(b.n, 1);
	check_local_batch(t, &e, 'L', 1, 10, 0, t0, t1, &b);
	assert_int_equal(b.n, 1);
	check_local_batch(t, &e, 'L', 3, 10, 1, t0, t1, &b);
	assert_int_equal(b.n, 1);
	check_local_batch(t, &e, 'L', 4, 10, 1, t0, t1, &b);
	assert_int_equal(b.n, 2);	/* 4 is empty: 0 bytes < 1, so 5 too */
	check_local_batch(t, &e, 'L', 10, 1000, 500, t0, t1, &b);
	assert_true(b.n > 1 && b.n < 290);
	check_local_batch(t, &e, 'L', 0, 0, 1 << 20, t0, t1, &b);
	assert_int_equal(b.n, 0);
	topic_batch_free(&b);
	assert_null(b.msgs);

	/* The same after a reopen. */
	topic_put(t);
	t = reopen(sdir, "rb", su);
	check_local_batch(t, &e, 'L', 0, 100000, SIZE_MAX, t0, t1, &b);
	assert_int_equal(b.n, 300);
	topic_batch_free(&b);
	expect_free(&e);
	topic_put(t);
}

/* ---- replication ---------------------------------------------------------- */

/* Read all of T from FROM into B. */
static void read_all(struct topic *t, uint64_t from, struct topic_batch *b)
{
	assert_int_equal(topic_read_batch(t, from, 1000000, SIZE_MAX, b), 0);
}

static size_t apply(struct topic *t, const struct topic_batch *b)
{
	size_t applied = 12345;
	int rc = topic_append_replicated(t, b->msgs, b->n, &applied, NULL, 0);
	if (rc != 0)
		fail_msg("topic_append_replicated of %zu: %d", b->n, rc);
	return applied;
}

/* Message K of B is message ORIG_OFF of series SALT from origin (SU, TU). */
static void check_msg(const struct topic_batch *b, size_t k, uint64_t offset,
		      char salt, uint64_t orig_off, const uuid_t su, const uuid_t tu)
{
	assert_true(k < b->n);
	const struct topic_msg *m = &b->msgs[k];
	char buf[200];
	uint32_t len = msg_make(salt, orig_off, buf);
	if (m->offset != offset || m->origin_offset != orig_off || m->len != len)
		fail_msg("message %zu: offset %" PRIu64 " origin_offset %" PRIu64
			 " len %u; expected %" PRIu64 " %" PRIu64 " %u",
			 k, m->offset, m->origin_offset, m->len, offset, orig_off, len);
	assert_memory_equal(m->payload, buf, len);
	assert_int_equal(uuid_compare(m->origin_stream, su), 0);
	assert_int_equal(uuid_compare(m->origin_topic, tu), 0);
}

static void test_replicated(void **state)
{
	(void)state;
	uuid_t sa, sb, sc, au, bu;
	uuid_generate(sa);
	uuid_generate(sb);
	uuid_generate(sc);
	int da = make_dir("sA"), db = make_dir("sB"), dc = make_dir("sC");
	struct topic *A = create(da, "t", sa);
	struct topic *B = create(db, "t", sb);
	struct topic *C = create(dc, "t", sc);
	uuid_copy(au, A->uuid);
	uuid_copy(bu, B->uuid);
	assert_int_not_equal(uuid_compare(au, bu), 0);
	append_local(A, 'A', 0, 50, NULL);

	struct topic_batch b1 = { 0 }, b2 = { 0 }, bb = { 0 }, chk = { 0 };
	assert_int_equal(topic_read_batch(A, 0, 30, SIZE_MAX, &b1), 0);
	assert_int_equal(b1.n, 30);
	assert_int_equal(apply(B, &b1), 30);
	assert_true(topic_end(B) == 30);
	/* The same batch again: nothing. */
	assert_int_equal(apply(B, &b1), 0);
	assert_true(topic_end(B) == 30);
	read_all(B, 0, &chk);
	assert_int_equal(chk.n, 30);
	for (size_t k = 0; k < 30; k++) {
		check_msg(&chk, k, k, 'A', k, sa, au);
		assert_true(chk.msgs[k].timestamp_ns == b1.msgs[k].timestamp_ns);
	}

	/* Overlapping the end (20..49 over 0..29): only 30..49 are new. */
	assert_int_equal(topic_read_batch(A, 20, 30, SIZE_MAX, &b2), 0);
	assert_int_equal(b2.n, 30);
	assert_int_equal(apply(B, &b2), 20);
	assert_true(topic_end(B) == 50);
	assert_int_equal(apply(B, &b2), 0);
	assert_int_equal(apply(B, &b1), 0);
	assert_true(topic_end(B) == 50);

	/* B's own messages: origin B, origin offsets dense from 0 (after
	 * the 50 from A, at offsets 50..54 of B). */
	append_local(B, 'B', 0, 5, NULL);
	assert_true(topic_end(B) == 55);
	read_all(B, 0, &bb);
	assert_int_equal(bb.n, 55);
	for (size_t k = 0; k < 50; k++)
		check_msg(&bb, k, k, 'A', k, sa, au);
	for (size_t k = 50; k < 55; k++)
		check_msg(&bb, k, k, 'B', k - 50, sb, bu);

	/* The topic file of B is the 50 from A then the 5 of B. */
	struct expect eb = { 0 };
	for (uint64_t k = 0; k < 50; k++)
		expect_add(&eb, 'A', k);
	for (uint64_t k = 0; k < 5; k++)
		expect_add(&eb, 'B', k);
	check_content(B, &eb);
	expect_free(&eb);

	/* A chain A -> B -> C keeps the origin of every message. */
	assert_int_equal(apply(C, &bb), 55);
	assert_int_equal(apply(C, &bb), 0);
	assert_int_equal(apply(C, &b1), 0);	/* straight from A: known too */
	read_all(C, 0, &chk);
	assert_int_equal(chk.n, 55);
	for (size_t k = 0; k < 50; k++)
		check_msg(&chk, k, k, 'A', k, sa, au);
	for (size_t k = 50; k < 55; k++)
		check_msg(&chk, k, k, 'B', k - 50, sb, bu);
	for (size_t k = 0; k < 55; k++)
		assert_true(chk.msgs[k].timestamp_ns == bb.msgs[k].timestamp_ns);

	/* A's later messages reach C through B only once. */
	append_local(A, 'A', 50, 10, NULL);
	struct topic_batch b3 = { 0 };
	read_all(A, 0, &b3);
	assert_int_equal(b3.n, 60);
	assert_int_equal(apply(B, &b3), 10);
	assert_int_equal(apply(C, &b3), 10);
	read_all(B, 55, &chk);
	assert_int_equal(chk.n, 10);
	for (size_t k = 0; k < 10; k++)
		check_msg(&chk, k, 55 + k, 'A', 50 + k, sa, au);
	read_all(B, 0, &bb);
	assert_int_equal(apply(C, &bb), 0);
	assert_true(topic_end(C) == 65);

	/* A loop back to A: the sender keeps A's own messages back (echo
	 * suppression; a batch with them is refused, test_replicated_refused),
	 * B's 5 are new there; they keep origin B and origin offsets 0..4. */
	read_all(B, 0, &bb);
	assert_int_equal(bb.n, 65);
	struct topic_msg back[65];
	size_t nback = 0;
	for (size_t k = 0; k < bb.n; k++)
		if (uuid_compare(bb.msgs[k].origin_stream, sa))
			back[nback++] = bb.msgs[k];
	assert_int_equal(nback, 5);
	size_t got;
	assert_int_equal(topic_append_replicated(A, back, nback, &got, NULL, 0), 0);
	assert_int_equal(got, 5);
	assert_int_equal(topic_append_replicated(A, back, nback, &got, NULL, 0), 0);
	assert_int_equal(got, 0);
	assert_int_equal(topic_append_replicated(A, bb.msgs, bb.n, &got, NULL, 0), -EPROTO);
	assert_true(topic_end(A) == 65);
	read_all(A, 60, &chk);
	assert_int_equal(chk.n, 5);
	for (size_t k = 0; k < 5; k++)
		check_msg(&chk, k, 60 + k, 'B', k, sb, bu);
	/* A's next local message: origin A, at offset 65, and origin offset
	 * 60: one more than A's last own message (dense per origin). */
	append_local(A, 'A', 60, 1, NULL);
	read_all(A, 65, &chk);
	assert_int_equal(chk.n, 1);
	check_msg(&chk, 0, 65, 'A', 60, sa, au);

	/* No batch, and a NULL APPLIED. */
	size_t applied = 7;
	assert_int_equal(topic_append_replicated(C, NULL, 0, &applied, NULL, 0), 0);
	assert_int_equal(applied, 0);
	assert_int_equal(topic_append_replicated(C, b3.msgs, b3.n, NULL, NULL, 0), 0);
	assert_true(topic_end(C) == 65);

	topic_batch_free(&b1);
	topic_batch_free(&b2);
	topic_batch_free(&b3);
	topic_batch_free(&bb);
	topic_batch_free(&chk);
	topic_put(A);
	topic_put(B);
	topic_put(C);
	close(da);
	close(db);
	close(dc);
}

/* Within one batch, marks move as the batch goes: out-of-order and repeated
 * origin offsets are dropped; origins are kept apart. */
static void test_replicated_order_within_batch(void **state)
{
	(void)state;
	uuid_t su, xs, xt, ys, yt;
	uuid_generate(su);
	uuid_generate(xs);
	uuid_generate(xt);
	uuid_generate(ys);
	uuid_generate(yt);
	struct topic *t = create(sdir, "ord", su);
	struct {
		int who;	/* 0: origin X, 1: origin Y */
		uint64_t off;
		bool kept;
	} in[] = {
		{ 0, 0, true }, { 0, 0, false }, { 0, 1, true }, { 1, 0, true },
		{ 0, 1, false }, { 0, 2, true }, { 1, 0, false }, { 1, 1, true },
		{ 0, 0, false }, { 1, 2, true },
	};
	size_t n = sizeof(in) / sizeof(in[0]);
	struct topic_msg msgs[10];
	char bufs[10][200];
	size_t want = 0;
	for (size_t i = 0; i < n; i++) {
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].len = msg_make(in[i].who ? 'Y' : 'X', in[i].off, bufs[i]);
		msgs[i].payload = (const uint8_t *)bufs[i];
		msgs[i].origin_offset = in[i].off;
		msgs[i].timestamp_ns = 1000 + i;
		msgs[i].offset = 999; /* ignored */
		uuid_copy(msgs[i].origin_stream, in[i].who ? ys : xs);
		uuid_copy(msgs[i].origin_topic, in[i].who ? yt : xt);
		want += in[i].kept;
	}
	size_t applied;
	assert_int_equal(topic_append_replicated(t, msgs, n, &applied, NULL, 0), 0);
	assert_int_equal(applied, want);
	assert_int_equal(applied, 6);
	struct topic_batch b = { 0 };
	read_all(t, 0, &b);
	assert_int_equal(b.n, 6);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!in[i].kept)
			continue;
		check_msg(&b, k, k, in[i].who ? 'Y' : 'X', in[i].off,
			  in[i].who ? ys : xs, in[i].who ? yt : xt);
		assert_true(b.msgs[k].timestamp_ns == 1000 + i);
		k++;
	}
	/* Marks now: X 2, Y 2. Offsets 1..12 of X: 3 to 12 are new. */
	struct topic_msg more[12];
	char mb[12][200];
	for (size_t i = 0; i < 12; i++) {
		memset(&more[i], 0, sizeof(more[i]));
		more[i].len = msg_make('X', i + 1, mb[i]);
		more[i].payload = (const uint8_t *)mb[i];
		more[i].origin_offset = i + 1;
		uuid_copy(more[i].origin_stream, xs);
		uuid_copy(more[i].origin_topic, xt);
	}
	assert_int_equal(topic_append_replicated(t, more, 12, &applied, NULL, 0), 0);
	assert_int_equal(applied, 10);
	read_all(t, 6, &b);
	assert_int_equal(b.n, 10);
	for (size_t i = 0; i < 10; i++)
		check_msg(&b, i, 6 + i, 'X', 3 + i, xs, xt);
	/* The same stream with another topic incarnation is another origin:
	 * new here, so its first message must be its first (offset 0). */
	uuid_t xt2;
	uuid_generate(xt2);
	for (size_t i = 0; i < 12; i++)
		uuid_copy(more[i].origin_topic, xt2);
	assert_int_equal(topic_append_replicated(t, more, 12, &applied, NULL, 0), -ENODATA);
	assert_int_equal(applied, 0);
	struct topic_msg first = msgs[0];	/* X 0's payload */
	uuid_copy(first.origin_topic, xt2);
	assert_int_equal(topic_append_replicated(t, &first, 1, &applied, NULL, 0), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(topic_append_replicated(t, more, 12, &applied, NULL, 0), 0);
	assert_int_equal(applied, 12);
	assert_int_equal(topic_append_replicated(t, more, 12, &applied, NULL, 0), 0);
	assert_int_equal(applied, 0);
	topic_batch_free(&b);
	topic_put(t);

	/* All of it survives a reopen. */
	t = reopen(sdir, "ord", su);
	assert_int_equal(topic_append_replicated(t, msgs, n, &applied, NULL, 0), 0);
	assert_int_equal(applied, 0);
	assert_int_equal(topic_append_replicated(t, more, 12, &applied, NULL, 0), 0);
	assert_int_equal(applied, 0);
	assert_true(topic_end(t) == 29);
	topic_put(t);
}

/* An upstream cannot fill a topic's origin table: past max_origins a batch
 * bringing a new origin is refused whole; known origins and the topic's
 * own appends go on. */
static void test_origin_bound(void **state)
{
	(void)state;
	static const struct topic_opts few = {
		.segment_bytes = 4096,
		.fsync = SFS_FSYNC_OS,
		.fsync_interval_ms = 1000,
		.checkpoint_every = 100,
		.max_origins = 4,
	};
	uuid_t su;
	uuid_generate(su);
	struct topic *t = NULL;
	assert_int_equal(log_topic_create(sdir, "bounded", su, 1000, 1000, 0640, &few, &t), 0);
	char mb[200];
	struct topic_msg m;
	memset(&m, 0, sizeof(m));
	m.len = msg_make('O', 0, mb);
	m.payload = (const uint8_t *)mb;
	size_t applied;
	char err[512] = "";
	uuid_t first_s, first_t;
	for (int i = 0; i < 4; i++) {
		uuid_generate(m.origin_stream);
		uuid_generate(m.origin_topic);
		if (i == 0) {
			uuid_copy(first_s, m.origin_stream);
			uuid_copy(first_t, m.origin_topic);
		}
		assert_int_equal(topic_append_replicated(t, &m, 1, &applied, err, sizeof(err)), 0);
		assert_int_equal(applied, 1);
	}
	assert_int_equal(log_topic_of(t)->norigins, 4);
	/* a fifth origin: refused, nothing applied, nothing added */
	uuid_generate(m.origin_stream);
	assert_int_equal(topic_append_replicated(t, &m, 1, &applied, err, sizeof(err)), -EPROTO);
	assert_int_equal(applied, 0);
	assert_non_null(strstr(err, "more than 4 origins"));
	assert_int_equal(log_topic_of(t)->norigins, 4);
	assert_true(topic_end(t) == 4);
	/* a known origin goes on */
	uuid_copy(m.origin_stream, first_s);
	uuid_copy(m.origin_topic, first_t);
	m.origin_offset = 1;
	assert_int_equal(topic_append_replicated(t, &m, 1, &applied, err, sizeof(err)), 0);
	assert_int_equal(applied, 1);
	/* and the topic's own appends, whose origin is new too */
	struct iovec v = { "mine", 4 };
	assert_int_equal(topic_append_local(t, &v, 1), 0);
	assert_true(topic_end(t) == 6);
	topic_put(t);
}

/* A batch that cannot be true is refused whole (docs/security.md): a
 * message claiming this stream as its origin, a jump over offsets of an
 * origin seen here, or an origin new here that starts past its first
 * message; nothing of it applies, marks and origins unchanged. */
static void test_replicated_refused(void **state)
{
	(void)state;
	uuid_t su, xs, xt;
	uuid_generate(su);
	uuid_generate(xs);
	uuid_generate(xt);
	struct topic *t = create(sdir, "forged", su);
	struct topic_msg m[4];
	char mb[4][200];
	for (size_t i = 0; i < 4; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].len = msg_make('X', i, mb[i]);
		m[i].payload = (const uint8_t *)mb[i];
		m[i].origin_offset = i;
		uuid_copy(m[i].origin_stream, xs);
		uuid_copy(m[i].origin_topic, xt);
	}
	size_t applied = 99;
	char err[512] = "";
	assert_int_equal(topic_append_replicated(t, m, 3, &applied, err, sizeof(err)), 0);
	assert_int_equal(applied, 3);	/* X 0..2 */
	size_t norigins = log_topic_of(t)->norigins;

	/* a jump: X 2 then X 2^62 (as a forger would, to hide the rest) */
	m[3].origin_offset = 1ull << 62;
	assert_int_equal(topic_append_replicated(t, &m[2], 2, &applied, err, sizeof(err)), -ENODATA);
	assert_int_equal(applied, 0);
	assert_non_null(strstr(err, "jump from offset 2 to 4611686018427387904"));
	/* a jump inside one batch of an origin new here: refused too */
	uuid_t ys, yt;
	uuid_generate(ys);
	uuid_generate(yt);
	struct topic_msg y[2] = { m[0], m[1] };
	uuid_copy(y[0].origin_stream, ys);
	uuid_copy(y[0].origin_topic, yt);
	uuid_copy(y[1].origin_stream, ys);
	uuid_copy(y[1].origin_topic, yt);
	y[0].origin_offset = 0;
	y[1].origin_offset = 2;
	assert_int_equal(topic_append_replicated(t, y, 2, &applied, err, sizeof(err)), -ENODATA);
	/* an origin new here that starts past its first message: planted at
	 * 2^62, it would make every real message of it look old */
	y[0].origin_offset = 1ull << 62;
	assert_int_equal(topic_append_replicated(t, y, 1, &applied, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "start at offset 4611686018427387904 here, not at its first"));
	y[0].origin_offset = 40;
	assert_int_equal(topic_append_replicated(t, y, 1, &applied, err, sizeof(err)), -ENODATA);
	y[0].origin_offset = 0;
	/* this stream as origin, even at a small offset */
	m[3].origin_offset = 0;
	uuid_copy(m[3].origin_stream, su);
	assert_int_equal(topic_append_replicated(t, &m[3], 1, &applied, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "claims this stream as its origin"));
	/* nothing applied, no origin added */
	assert_true(topic_end(t) == 3);
	assert_int_equal(log_topic_of(t)->norigins, norigins);
	/* the real next one still goes in, and a new origin from its start */
	m[3].origin_offset = 3;
	uuid_copy(m[3].origin_stream, xs);
	y[1].origin_offset = 1;
	assert_int_equal(topic_append_replicated(t, &m[3], 1, &applied, err, sizeof(err)), 0);
	assert_int_equal(applied, 1);
	assert_int_equal(topic_append_replicated(t, y, 2, &applied, err, sizeof(err)), 0);
	assert_int_equal(applied, 2);
	assert_true(topic_end(t) == 6);
	topic_put(t);
}

/* Copy file PATH (relative to the stream dir) into memory. */
static uint8_t *slurp(int dirfd, const char *path, size_t *len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *b = malloc(st.st_size ? st.st_size : 1);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, st.st_size, 0), st.st_size);
	close(fd);
	*len = st.st_size;
	return b;
}

static void spit(int dirfd, const char *path, const uint8_t *b, size_t len)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	close(fd);
}

/*
 * High-water marks survive a reopen: with the checkpoint written at close,
 * without any checkpoint, with an older checkpoint (as a crash leaves it),
 * and with a garbage checkpoint.
 */
static void test_hwm_survive_reopen(void **state)
{
	(void)state;
	uuid_t sa, sb;
	uuid_generate(sa);
	uuid_generate(sb);
	int da = make_dir("sA"), db = make_dir("sB");
	struct topic *A = create(da, "t", sa);
	struct topic *B = create(db, "t", sb);
	append_local(A, 'A', 0, 400, NULL);
	struct topic_batch all = { 0 }, part = { 0 };
	read_all(A, 0, &all);
	assert_int_equal(all.n, 400);

	/* Apply in overlapping batches of 37 (stride 30). */
	uint8_t *old_ckpt = NULL;
	size_t old_len = 0;
	uint64_t old_at = 0;
	for (uint64_t from = 0; from < 400; from += 30) {
		assert_int_equal(topic_read_batch(A, from, 37, SIZE_MAX, &part), 0);
		size_t want = from == 0 ? 37 : (from + 37 <= 400 ? 30 : 400 - from - 7);
		assert_int_equal(apply(B, &part), want);
		/* Keep the first checkpoint written past 100 messages. */
		if (!old_ckpt && topic_end(B) >= 150) {
			old_ckpt = slurp(db, "t/.checkpoint", &old_len);
			old_at = topic_end(B);
		}
	}
	assert_non_null(old_ckpt);
	assert_true(old_len >= 24);
	/* It is a real checkpoint, covering something short of the whole log. */
	uint64_t covered = get_le64(old_ckpt + 16);
	assert_true(covered >= 100 && covered <= old_at && covered < 400);
	assert_true(topic_end(B) == 400);
	assert_int_equal(apply(B, &all), 0);
	append_local(B, 'B', 0, 3, NULL);	/* B's own: origin offsets 0..2 */

	/* 1. Plain reopen. */
	topic_put(B);
	B = reopen(db, "t", sb);
	assert_true(topic_end(B) == 403);
	assert_int_equal(apply(B, &all), 0);
	assert_int_equal(apply(B, &part), 0);
	assert_true(topic_end(B) == 403);

	/* 2. No checkpoint at all. */
	topic_put(B);
	assert_int_equal(unlinkat(db, "t/.checkpoint", 0), 0);
	B = reopen(db, "t", sb);
	assert_int_equal(apply(B, &all), 0);
	assert_true(topic_end(B) == 403);

	/* 3. An older checkpoint, as a crash would leave it. */
	topic_put(B);
	spit(db, "t/.checkpoint", old_ckpt, old_len);
	B = reopen(db, "t", sb);
	assert_int_equal(apply(B, &all), 0);
	assert_true(topic_end(B) == 403);

	/* 4. Garbage in the checkpoint. */
	topic_put(B);
	uint8_t junk[64];
	memset(junk, 0x7B, sizeof(junk));
	spit(db, "t/.checkpoint", junk, sizeof(junk));
	B = reopen(db, "t", sb);
	assert_int_equal(apply(B, &all), 0);
	assert_true(topic_end(B) == 403);

	/* 5. A truncated checkpoint (header, no marks). */
	topic_put(B);
	spit(db, "t/.checkpoint", old_ckpt, 24);
	B = reopen(db, "t", sb);
	assert_int_equal(apply(B, &all), 0);

	/* New messages from A still get through after all that. */
	append_local(A, 'A', 400, 5, NULL);
	read_all(A, 395, &part);
	assert_int_equal(part.n, 10);
	assert_int_equal(apply(B, &part), 5);
	assert_true(topic_end(B) == 408);
	struct topic_batch chk = { 0 };
	/* (A first read that allocates: messages 400 of A and B are empty.) */
	read_all(B, 0, &chk);
	assert_int_equal(chk.n, 408);
	/* B's own messages keep their identity. */
	read_all(B, 400, &chk);
	assert_int_equal(chk.n, 8);
	for (size_t k = 0; k < 3; k++)
		check_msg(&chk, k, 400 + k, 'B', k, sb, B->uuid);
	read_all(B, 403, &chk);
	assert_int_equal(chk.n, 5);
	for (size_t k = 0; k < 5; k++)
		check_msg(&chk, k, 403 + k, 'A', 400 + k, sa, A->uuid);

	free(old_ckpt);
	topic_batch_free(&all);
	topic_batch_free(&part);
	topic_batch_free(&chk);
	topic_put(A);
	topic_put(B);
	close(da);
	close(db);
}

/* Without any close in between (the checkpoint only from appends). */
static void test_hwm_checkpoint_deleted_small(void **state)
{
	(void)state;
	uuid_t sa, sb;
	uuid_generate(sa);
	uuid_generate(sb);
	int da = make_dir("sA"), db = make_dir("sB");
	struct topic *A = create(da, "t", sa);
	struct topic *B = create(db, "t", sb);
	append_local(A, 'A', 0, 20, NULL);
	struct topic_batch b = { 0 };
	read_all(A, 0, &b);
	assert_int_equal(apply(B, &b), 20);
	topic_put(B);
	assert_int_equal(unlinkat(db, "t/.checkpoint", 0), 0);
	B = reopen(db, "t", sb);
	assert_int_equal(apply(B, &b), 0);
	assert_true(topic_end(B) == 20);
	topic_batch_free(&b);
	topic_put(A);
	topic_put(B);
	close(da);
	close(db);
}

/* ---- corruption ------------------------------------------------------------ */

/* File position of the record at OFFSET in segment SI of T. */
static uint64_t record_filepos(struct topic *t, size_t si, uint64_t offset)
{
	const struct segment *s = &log_topic_of(t)->segs[si];
	struct seg_pos p;
	assert_int_equal(segment_find_offset(s, offset, &p), 0);
	struct seg_reader r;
	struct record_hdr h;
	const uint8_t *hb, *pl;
	seg_reader_init(&r, s, p.filepos, s->size);
	uint64_t off = p.offset;
	while (off < offset) {
		assert_int_equal(seg_reader_next(&r, &h, &hb, &pl, true), 1);
		off++;
	}
	uint64_t fp = r.filepos;
	seg_reader_free(&r);
	return fp;
}

static size_t seg_of(struct topic *t, uint64_t offset)
{
	for (size_t i = log_topic_of(t)->nsegs; i-- > 0;)
		if (log_topic_of(t)->segs[i].base_offset <= offset)
			return i;
	return 0;
}

/* Flip byte AT (from the record's start) of the record at OFFSET. */
static void corrupt(struct topic *t, const char *tname, uint64_t offset, uint64_t at)
{
	size_t si = seg_of(t, offset);
	uint64_t fp = record_filepos(t, si, offset);
	char path[300], name[32];
	segment_name(name, log_topic_of(t)->segs[si].base_offset, false);
	snprintf(path, sizeof(path), "%s/%s", tname, name);
	int fd = openat(sdir, path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, fp + at), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, fp + at), 1);
	close(fd);
}

static void check_corrupt_reads(struct topic *t, const struct expect *e, uint64_t k)
{
	char *buf = malloc(e->len + 10);
	assert_non_null(buf);
	uint64_t vk = e->vpos[k], vn = e->vpos[k + 1];
	/* In the record: -EIO, wherever the read starts in it. */
	assert_int_equal(topic_read(t, vk, buf, 10, NULL), -EIO);
	assert_int_equal(topic_read(t, vk + 3, buf, 1, NULL), -EIO);
	assert_int_equal(topic_read(t, vn - 1, buf, 100, NULL), -EIO);	/* its '\n' */
	/* Before it: up to it, nothing of it. */
	assert_true(vk >= 20);
	assert_int_equal(topic_read(t, vk - 20, buf, 100, NULL), 20);
	assert_memory_equal(buf, e->data + vk - 20, 20);
	assert_int_equal(topic_read(t, 0, buf, vk, NULL), (ssize_t)vk);
	assert_memory_equal(buf, e->data, vk);
	/* From the next segment on: fine. */
	const struct segment *next = &log_topic_of(t)->segs[seg_of(t, k) + 1];
	uint64_t vs = next->base_vpos;
	uint64_t ve = next->end_vpos;	/* that segment only */
	assert_true(vs >= vn && ve > vs);
	assert_int_equal(topic_read(t, vs, buf, ve - vs, NULL), (ssize_t)(ve - vs));
	assert_memory_equal(buf, e->data + vs, ve - vs);
	free(buf);

	/* Batches: -EIO at K, with the messages before it. */
	struct topic_batch b = { 0 };
	assert_int_equal(topic_read_batch(t, k, 10, SIZE_MAX, &b), -EIO);
	assert_int_equal(b.n, 0);
	assert_true(b.next_offset == k);
	assert_int_equal(topic_read_batch(t, k - 3, 10, SIZE_MAX, &b), -EIO);
	assert_int_equal(b.n, 3);
	assert_true(b.next_offset == k);
	assert_true(b.msgs[2].offset == k - 1);
	assert_int_equal(topic_read_batch(t, next->base_offset, 10, SIZE_MAX, &b), 0);
	assert_int_equal(b.n, 10);
	assert_true(b.msgs[0].offset == next->base_offset);
	topic_batch_free(&b);
}

static void test_corrupt_read_eio(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "bad", su);
	struct expect e = { 0 };
	append_local(t, 'C', 0, 300, &e);
	assert_true(log_topic_of(t)->nsegs >= 4);
	/* A message with a payload, in the middle of the second segment. */
	uint64_t k = (log_topic_of(t)->segs[1].base_offset + log_topic_of(t)->segs[1].end_offset) / 2;
	while (e.mlen[k] < 10)
		k++;
	assert_true(k < log_topic_of(t)->segs[1].end_offset);
	corrupt(t, "bad", k, RECORD_HDR_SIZE + 4);
	check_corrupt_reads(t, &e, k);

	/* A header byte (the timestamp) of another, in the fourth segment. */
	assert_true(log_topic_of(t)->nsegs >= 5);
	uint64_t k2 = log_topic_of(t)->segs[3].base_offset + 2;
	corrupt(t, "bad", k2, 18);
	assert_int_equal(topic_read(t, e.vpos[k2], (char[8]){ 0 }, 8, NULL), -EIO);
	struct topic_batch b = { 0 };
	assert_int_equal(topic_read_batch(t, k2, 5, SIZE_MAX, &b), -EIO);
	assert_int_equal(b.n, 0);
	topic_batch_free(&b);

	/* Still so after a reopen (neither is in the last segment). */
	topic_put(t);
	t = reopen(sdir, "bad", su);
	assert_true(topic_end(t) == 300);
	check_corrupt_reads(t, &e, k);
	assert_int_equal(topic_read(t, e.vpos[k2], (char[8]){ 0 }, 8, NULL), -EIO);
	expect_free(&e);
	topic_put(t);
}

/*
 * A corrupt record spoils only reads that include it (topic.h: "-EIO when a
 * record in range fails its checksum"): a read that starts after it, in the
 * same segment, returns the right bytes, and a batch read from the next
 * offset returns the next messages.
 */
static void test_corrupt_does_not_spread(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "spread", su);
	struct expect e = { 0 };
	append_local(t, 'C', 0, 300, &e);
	assert_true(log_topic_of(t)->nsegs >= 4);
	uint64_t k = log_topic_of(t)->segs[1].base_offset + 1;
	while (e.mlen[k] < 10)
		k++;
	assert_true(k + 3 < log_topic_of(t)->segs[1].end_offset);
	corrupt(t, "spread", k, RECORD_HDR_SIZE + 4);
	assert_int_equal(topic_read(t, e.vpos[k], (char[8]){ 0 }, 8, NULL), -EIO);

	/* Message k+1 onwards, by byte position. */
	uint64_t vn = e.vpos[k + 1];
	char *buf = malloc(e.len);
	assert_non_null(buf);
	size_t want = e.len - vn;
	ssize_t got = topic_read(t, vn, buf, want, NULL);
	bool same = got == (ssize_t)want && !memcmp(buf, e.data + vn, want);
	free(buf);

	/* Message k+1 onwards, by offset. */
	struct topic_batch b = { 0 };
	int rc = topic_read_batch(t, k + 1, 3, SIZE_MAX, &b);
	size_t n = b.n;
	bool right = n == 3 && b.msgs[0].offset == k + 1;
	topic_batch_free(&b);
	uint64_t vk = e.vpos[k];
	expect_free(&e);
	topic_put(t);
	/* (Everything is released before any failure.) */
	if (got != (ssize_t)want)
		fail_msg("topic_read(vpos %" PRIu64 ", %zu) starting just after the "
			 "corrupt message %" PRIu64 " (vpos %" PRIu64 ") = %zd, expected %zu",
			 vn, want, k, vk, got, want);
	assert_true(same);
	if (rc != 0 || n != 3)
		fail_msg("topic_read_batch(from %" PRIu64 ", 3) just after the corrupt "
			 "message %" PRIu64 " = %d with %zu messages, expected 0 with 3",
			 k + 1, k, rc, n);
	assert_true(right);
}

/* A torn last record is cut at open and never served; appends reuse it. */
static void test_torn_tail_cut(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "torn", su);
	struct expect e = { 0 };
	append_local(t, 'T', 0, 100, &e);
	uint64_t last = 99;
	while (e.mlen[last] < 10)	/* make the last message a long one */
		append_local(t, 'T', ++last, 1, &e);
	size_t si = log_topic_of(t)->nsegs - 1;
	uint64_t fp = record_filepos(t, si, last);
	char path[300], name[32];
	segment_name(name, log_topic_of(t)->segs[si].base_offset, false);
	snprintf(path, sizeof(path), "torn/%s", name);
	topic_put(t);
	int fd = openat(sdir, path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, fp + RECORD_HDR_SIZE + e.mlen[last] / 2), 0);
	assert_int_equal(pwrite(fd, "garbage!", 8, fp + RECORD_HDR_SIZE + e.mlen[last] / 2), 8);
	close(fd);

	t = reopen(sdir, "torn", su);
	assert_true(topic_end(t) == last);
	/* The expectation without the torn message. */
	struct expect e2 = { 0 };
	for (uint64_t i = 0; i < last; i++)
		expect_add(&e2, 'T', i);
	check_content(t, &e2);
	append_local(t, 'T', last, 5, &e2);
	check_content(t, &e2);
	struct topic_batch b = { 0 };
	assert_int_equal(topic_read_batch(t, last, 1, 0, &b), 0);
	assert_true(b.msgs[0].offset == last && b.msgs[0].origin_offset == last);
	topic_batch_free(&b);
	topic_put(t);
	expect_free(&e);
	expect_free(&e2);
}

/* ---- corruption, version 2 (batches) ------------------------------------- */

/* Flip byte FP of the data file of segment BASE of topic TNAME. */
static void flip_at(const char *tname, uint64_t base, uint64_t fp)
{
	char path[300], name[32];
	segment_name(name, base, false);
	snprintf(path, sizeof(path), "%s/%s", tname, name);
	int fd = openat(sdir, path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, fp), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, fp), 1);
	close(fd);
}

/*
 * A damaged batch (a byte flipped on disk, found after a restart): reads
 * that touch it fail with -EIO, reads before and after it are served, the
 * batch reader stops before it and goes on after it, and once the byte is
 * put back it is served again (damage is not remembered).
 */
static void test_corrupt_batch_eio(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "badb", su);
	struct expect e = { 0 };
	append_local(t, 'B', 0, 300, &e);
	assert_true(log_topic_of(t)->nsegs >= 4);
	/* A message with a payload in the middle of the second segment, and
	 * the batch that holds it. */
	uint64_t k = (log_topic_of(t)->segs[1].base_offset + log_topic_of(t)->segs[1].end_offset) / 2;
	while (e.mlen[k] < 10)
		k++;
	struct seg_batch bt;
	assert_int_equal(log_topic_of(t)->segs[1].version, SEG_FORMAT_BATCHES);
	int64_t bi = segment_batch_find(&log_topic_of(t)->segs[1], 0, k);
	assert_true(bi >= 0);
	assert_int_equal(segment_batch_read(&log_topic_of(t)->segs[1], (uint64_t)bi, &bt), 0);
	uint64_t b0 = bt.offset, b1 = bt.offset + bt.count;
	assert_true(b0 <= k && k < b1 && b1 < log_topic_of(t)->segs[1].end_offset && b0 >= 3);
	/* A payload byte of message k, in the data file as readers see it. */
	uint64_t base = log_topic_of(t)->segs[1].base_offset;
	uint64_t fp = SEG_HDR_SIZE + (e.vpos[k] + 2 - log_topic_of(t)->segs[1].base_vpos);
	topic_put(t);
	flip_at("badb", base, fp);
	t = reopen(sdir, "badb", su);

	char *buf = malloc(e.len + 10);
	assert_non_null(buf);
	assert_int_equal(topic_read(t, e.vpos[b0], buf, 10, NULL), -EIO);
	assert_int_equal(topic_read(t, e.vpos[k] + 3, buf, 1, NULL), -EIO);
	assert_int_equal(topic_read(t, e.vpos[b1] - 1, buf, 100, NULL), -EIO);
	assert_true(atomic_load(&t->damaged_offset) == (long long)b0);
	/* Before it: up to it, nothing of it. */
	assert_int_equal(topic_read(t, 0, buf, e.len, NULL), (ssize_t)e.vpos[b0]);
	assert_memory_equal(buf, e.data, e.vpos[b0]);
	/* After it, in the same segment and on. */
	size_t rest = e.len - e.vpos[b1];
	assert_int_equal(topic_read(t, e.vpos[b1], buf, rest, NULL), (ssize_t)rest);
	assert_memory_equal(buf, e.data + e.vpos[b1], rest);
	/* Batches: -EIO at the batch, with the messages before it. */
	struct topic_batch b = { 0 };
	assert_int_equal(topic_read_batch(t, b0 - 3, 10, SIZE_MAX, &b), -EIO);
	assert_int_equal(b.n, 3);
	assert_true(b.next_offset == b0);
	assert_int_equal(topic_read_batch(t, k, 10, SIZE_MAX, &b), -EIO);
	assert_int_equal(b.n, 0);
	assert_int_equal(topic_read_batch(t, b1, 10, SIZE_MAX, &b), 0);
	assert_int_equal(b.n, 10);
	assert_true(b.msgs[0].offset == b1 && b.msgs[0].origin_offset == b1);
	topic_batch_free(&b);

	/* Put back: served again, whole. */
	flip_at("badb", base, fp);
	check_content(t, &e);
	free(buf);
	expect_free(&e);
	topic_put(t);
}

/*
 * A crash mid-append leaves data without its index entry, or an entry cut
 * short: the open cuts both back to the last whole batch, never serves the
 * rest, and appends go on from there.
 */
static void test_torn_tail_batches(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	for (int how = 0; how < 3; how++) {
		char tname[32];
		snprintf(tname, sizeof(tname), "tornb%d", how);
		struct topic *t = create(sdir, tname, su);
		struct expect e = { 0 };
		append_local(t, 'T', 0, 40, &e);
		size_t si = log_topic_of(t)->nsegs - 1;
		char path[300], iname[300], name[32];
		segment_name(name, log_topic_of(t)->segs[si].base_offset, false);
		snprintf(path, sizeof(path), "%s/%s", tname, name);
		segment_name(name, log_topic_of(t)->segs[si].base_offset, true);
		snprintf(iname, sizeof(iname), "%s/%s", tname, name);
		uint64_t before = log_topic_of(t)->segs[si].idx_count;
		assert_true(before >= 2);
		topic_put(t);
		int fd = openat(sdir, path, O_RDWR | O_CLOEXEC);
		int ifd = openat(sdir, iname, O_RDWR | O_CLOEXEC);
		assert_true(fd >= 0 && ifd >= 0);
		struct stat st, ist;
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(fstat(ifd, &ist), 0);
		uint64_t keep = 40;
		if (how == 0) {
			/* data written, no entry: garbage after the last batch */
			assert_int_equal(pwrite(fd, "half a line", 11, st.st_size), 11);
		} else if (how == 1) {
			/* the last entry cut short: its batch goes too */
			assert_int_equal(ftruncate(ifd, ist.st_size - 10), 0);
			struct expect e2 = { 0 };
			keep = 0;
			/* what the entries before it cover */
			struct segment seg = { .fd = fd, .idx_fd = ifd, .idx_count = before };
			struct seg_batch lb;
			assert_int_equal(segment_batch_read(&seg, before - 2, &lb), 0);
			keep = lb.offset + lb.count;
			expect_free(&e2);
		} else {
			/* the last batch damaged in place (entry and data whole):
			 * not a torn write, so kept; reads of it fail with EIO */
			struct segment seg = { .fd = fd, .idx_fd = ifd, .idx_count = before };
			struct seg_batch lb;
			assert_int_equal(segment_batch_read(&seg, before - 1, &lb), 0);
			uint8_t c = 'X';
			assert_int_equal(pwrite(fd, &c, 1, lb.filepos), 1);
			keep = lb.offset;
		}
		close(fd);
		close(ifd);
		t = reopen(sdir, tname, su);
		if (how == 2) {
			char buf[1024];
			assert_true(topic_end(t) == 40);
			assert_int_equal(topic_read(t, e.vpos[keep], buf, 10, NULL), -EIO);
			assert_int_equal(topic_read(t, 0, buf, 0 + (e.vpos[keep] < 64 ? e.vpos[keep] : 64), NULL),
					 (ssize_t)(e.vpos[keep] < 64 ? e.vpos[keep] : 64));
			append_local(t, 'T', 40, 5, &e);
			size_t n = e.len - e.vpos[40];
			assert_true(n < sizeof(buf));
			assert_int_equal(topic_read(t, e.vpos[40], buf, n, NULL), (ssize_t)n);
			assert_memory_equal(buf, e.data + e.vpos[40], n);
			topic_put(t);
			expect_free(&e);
			continue;
		}
		assert_true(topic_end(t) == keep);
		struct expect e2 = { 0 };
		for (uint64_t i = 0; i < keep; i++)
			expect_add(&e2, 'T', i);
		check_content(t, &e2);
		append_local(t, 'T', keep, 5, &e2);
		check_content(t, &e2);
		struct topic_batch b = { 0 };
		assert_int_equal(topic_read_batch(t, keep, 1, 0, &b), 0);
		assert_true(b.msgs[0].offset == keep && b.msgs[0].origin_offset == keep);
		topic_batch_free(&b);
		topic_put(t);
		t = reopen(sdir, tname, su);
		check_content(t, &e2);
		topic_put(t);
		expect_free(&e);
		expect_free(&e2);
	}
}

/* Flip byte AT of the index of segment BASE of topic TNAME. */
static void flip_idx(const char *tname, uint64_t base, uint64_t at)
{
	char path[300], name[32];
	segment_name(name, base, true);
	snprintf(path, sizeof(path), "%s/%s", tname, name);
	int fd = openat(sdir, path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, at), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, at), 1);
	close(fd);
}

/* Entry I of the last segment of T. */
static struct seg_batch entry_of(struct topic *t, uint64_t i)
{
	struct log_topic *lt = log_topic_of(t);
	struct seg_batch e;
	assert_int_equal(segment_batch_read(&lt->segs[lt->nsegs - 1], i, &e), 0);
	return e;
}

/*
 * An index entry damaged in place (a flipped bit in its time): only its
 * batch is refused; reads, batch reads and the marks go on after it; and
 * start-up cuts nothing, whether the entry is in the middle, next to last
 * or last.
 */
static void test_damaged_entries(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	static const struct topic_opts big = {
		.segment_bytes = 1 << 20,
		.fsync = SFS_FSYNC_OS,
		.checkpoint_every = 100000,
	};
	for (int where = 0; where < 3; where++) {
		char tname[32];
		snprintf(tname, sizeof(tname), "dent%d", where);
		struct topic *t = NULL;
		assert_int_equal(log_topic_create(sdir, tname, su, 1000, 1000, 0640, &big, &t), 0);
		struct expect e = { 0 };
		append_local(t, 'D', 0, 400, &e);
		struct log_topic *lt = log_topic_of(t);
		assert_int_equal(lt->nsegs, 1);
		uint64_t n = lt->segs[0].idx_count;
		assert_true(n > 60);
		uint64_t k = where == 0 ? n / 2 : where == 1 ? n - 2 : n - 1;
		struct seg_batch d = entry_of(t, k);
		uint64_t base = lt->segs[0].base_offset;
		topic_put(t);
		flip_idx(tname, base, IDX_HDR_SIZE + k * BATCH_ENTRY_SIZE + 33);
		assert_int_equal(log_topic_open(sdir, tname, su, &big, &t), 0);
		/* nothing cut */
		assert_true(topic_end(t) == 400);
		assert_true(log_topic_of(t)->segs[0].idx_count == n);
		char *buf = malloc(e.len + 1);
		assert_non_null(buf);
		/* its batch: EIO, named by its first offset */
		assert_int_equal(topic_read(t, e.vpos[d.offset], buf, 5, NULL), -EIO);
		assert_true(atomic_load(&t->damaged_offset) == (long long)d.offset);
		/* before it: up to it */
		assert_int_equal(topic_read(t, 0, buf, e.len, NULL), (ssize_t)e.vpos[d.offset]);
		assert_memory_equal(buf, e.data, e.vpos[d.offset]);
		/* after it: served */
		uint64_t after = d.offset + d.count;
		if (after < 400) {
			size_t rest = e.len - e.vpos[after];
			assert_int_equal(topic_read(t, e.vpos[after], buf, rest, NULL), (ssize_t)rest);
			assert_memory_equal(buf, e.data + e.vpos[after], rest);
			struct topic_batch b = { 0 };
			assert_int_equal(topic_read_batch(t, after, 5, SIZE_MAX, &b), 0);
			assert_true(b.n >= 1 && b.msgs[0].offset == after && b.msgs[0].origin_offset == after);
			topic_batch_free(&b);
		}
		/* the marks were rebuilt past it: the next own message follows on */
		append_local(t, 'D', 400, 1, &e);
		struct topic_batch b = { 0 };
		assert_int_equal(topic_read_batch(t, 400, 1, 0, &b), 0);
		assert_true(b.n == 1 && b.msgs[0].origin_offset == 400);
		topic_batch_free(&b);
		size_t one = e.len - e.vpos[400];
		assert_int_equal(topic_read(t, e.vpos[400], buf, one, NULL), (ssize_t)one);
		assert_memory_equal(buf, e.data + e.vpos[400], one);
		free(buf);
		expect_free(&e);
		topic_put(t);
	}
}

/*
 * A segment header whose topic-file position was damaged: the position
 * follows from the segment before it (its data is the topic's bytes), so
 * the topic reads right.
 */
static void test_header_position_healed(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "hdr", su);
	struct expect e = { 0 };
	append_local(t, 'H', 0, 300, &e);
	struct log_topic *lt = log_topic_of(t);
	assert_true(lt->nsegs >= 4);
	uint64_t base = lt->segs[2].base_offset, vpos = lt->segs[2].base_vpos;
	topic_put(t);
	for (int delta = -16; delta <= 16; delta += 32) {
		char path[300], name[32];
		segment_name(name, base, false);
		snprintf(path, sizeof(path), "hdr/%s", name);
		int fd = openat(sdir, path, O_RDWR | O_CLOEXEC);
		assert_true(fd >= 0);
		uint8_t b[8];
		put_le64(b, vpos + (uint64_t)(int64_t)delta);
		assert_int_equal(pwrite(fd, b, 8, 24), 8);
		close(fd);
		t = reopen(sdir, "hdr", su);
		check_content(t, &e);
		check_every_position(t, &e, 100);
		topic_put(t);
	}
	expect_free(&e);
}

/*
 * A log written in the old format (version 1, records) is read as it is
 * after an upgrade: new messages go to a new segment of the current
 * format, and reads, batch reads and marks span both.
 */
static void test_old_format_upgrade(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	opts.segment_version = SEG_FORMAT_RECORDS;
	struct topic *t = create(sdir, "old", su);
	struct expect e = { 0 };
	append_local(t, 'O', 0, 150, &e);
	size_t old_segs = log_topic_of(t)->nsegs;
	assert_true(old_segs >= 2);
	topic_put(t);
	opts.segment_version = 0;
	t = reopen(sdir, "old", su);
	check_content(t, &e);
	assert_int_equal(log_topic_of(t)->segs[0].version, SEG_FORMAT_RECORDS);
	assert_int_equal(log_topic_of(t)->segs[log_topic_of(t)->nsegs - 1].version, SEG_FORMAT_BATCHES);
	append_local(t, 'O', 150, 150, &e);
	check_content(t, &e);
	check_every_position(t, &e, 37);
	struct topic_batch b = { 0 };
	assert_int_equal(topic_read_batch(t, 140, 20, SIZE_MAX, &b), 0);
	assert_int_equal(b.n, 20);
	for (size_t i = 0; i < 20; i++)
		assert_true(b.msgs[i].offset == 140 + i && b.msgs[i].origin_offset == 140 + i);
	topic_batch_free(&b);
	topic_put(t);
	/* Marks rebuilt from both formats: the next own offset follows on. */
	t = reopen(sdir, "old", su);
	append_local(t, 'O', 300, 1, &e);
	assert_int_equal(topic_read_batch(t, 300, 1, 0, &b), 0);
	assert_true(b.msgs[0].origin_offset == 300);
	topic_batch_free(&b);
	check_content(t, &e);
	expect_free(&e);
	topic_put(t);
}

/* ---- metadata ---------------------------------------------------------- */

static void test_set_owner(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = NULL;
	assert_int_equal(log_topic_create(sdir, "own", su, 1000, 1001, S_IFREG | 0640,
				      &opts, &t), 0);
	assert_int_equal(t->uid, 1000);
	assert_int_equal(t->gid, 1001);
	assert_int_equal(t->mode, 0640);	/* permission bits only */
	uint64_t ctime = log_topic_of(t)->ctime_ns;
	assert_true(ctime > 0);

	assert_int_equal(topic_set_owner(t, 2000, (gid_t)-1, (mode_t)-1), 0);
	assert_int_equal(t->uid, 2000);
	assert_int_equal(t->gid, 1001);
	assert_int_equal(t->mode, 0640);
	assert_int_equal(topic_set_owner(t, (uid_t)-1, 3000, 0600), 0);
	assert_int_equal(t->uid, 2000);
	assert_int_equal(t->gid, 3000);
	assert_int_equal(t->mode, 0600);
	topic_put(t);

	t = reopen(sdir, "own", su);
	assert_int_equal(t->uid, 2000);
	assert_int_equal(t->gid, 3000);
	assert_int_equal(t->mode, 0600);
	assert_true(log_topic_of(t)->ctime_ns == ctime);
	assert_int_equal(topic_set_owner(t, (uid_t)-1, (gid_t)-1, S_IFDIR | 04755), 0);
	assert_int_equal(t->mode, 04755);
	topic_put(t);

	t = reopen(sdir, "own", su);
	assert_int_equal(t->uid, 2000);
	assert_int_equal(t->gid, 3000);
	assert_int_equal(t->mode, 04755);
	topic_put(t);

	/* The metadata file says so too. */
	int td = openat(sdir, "own", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(td >= 0);
	json_t *j = NULL;
	assert_int_equal(metafile_read(td, ".topic.json", &j), 0);
	assert_int_equal(meta_int(j, "uid", -1), 2000);
	assert_int_equal(meta_int(j, "gid", -1), 3000);
	assert_int_equal(meta_int(j, "mode", -1), 04755);
	json_decref(j);
	assert_false(dir_has_prefix(td, ".tmp"));
	close(td);
}

static void test_create_existing(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "dup", su);
	append_local(t, 'D', 0, 10, NULL);
	uuid_t u;
	uuid_copy(u, t->uuid);
	struct topic *t2 = NULL;
	assert_int_equal(log_topic_create(sdir, "dup", su, 0, 0, 0644, &opts, &t2), -EEXIST);
	assert_null(t2);
	topic_put(t);
	assert_int_equal(log_topic_create(sdir, "dup", su, 0, 0, 0644, &opts, &t2), -EEXIST);
	assert_null(t2);
	/* The existing topic is untouched. */
	t = reopen(sdir, "dup", su);
	assert_int_equal(uuid_compare(t->uuid, u), 0);
	assert_true(topic_end(t) == 10);
	assert_int_equal(t->uid, 1000);
	topic_put(t);
	/* A plain file of that name blocks creation too. */
	int fd = openat(sdir, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(log_topic_create(sdir, "file", su, 0, 0, 0644, &opts, &t2), -EEXIST);
	assert_false(dir_has_prefix(sdir, ".new-"));
}

static void test_mark_deleted(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "del", su);
	struct expect e = { 0 };
	append_local(t, 'E', 0, 10, &e);
	struct topic_batch b = { 0 };
	read_all(t, 0, &b);
	topic_mark_deleted(t);
	char m[] = "x";
	struct iovec iov = { m, 1 };
	assert_int_equal(topic_append_local(t, &iov, 1), -ENOENT);
	size_t applied = 5;
	assert_int_equal(topic_append_replicated(t, b.msgs, b.n, &applied, NULL, 0), -ENOENT);
	assert_int_equal(applied, 0);
	/* Reads still work. */
	check_content(t, &e);
	topic_batch_free(&b);
	expect_free(&e);
	topic_put(t);
}

/*
 * A fresh (zeroed) batch whose first message read is empty: nothing has
 * allocated b->data yet, so a zero-byte payload must still be handled
 * (no memcpy to a NULL pointer). Expected: one message of length 0.
 * The reads run in a child process, so that a sanitizer abort there fails
 * this test only.
 */
static int empty_first_child(struct topic *t)
{
	struct topic_batch b = { 0 };
	/* Message 4 is empty; one message from it. */
	if (topic_read_batch(t, 4, 1, 0, &b) != 0 || b.n != 1 ||
	    b.msgs[0].offset != 4 || b.msgs[0].len != 0 ||
	    b.msgs[0].origin_offset != 4 || b.next_offset != 5)
		return 2;
	topic_batch_free(&b);
	/* Only empty messages (10..12), to a fresh batch. */
	if (topic_read_batch(t, 10, 10, SIZE_MAX, &b) != 0 || b.n != 3 || b.bytes != 0)
		return 3;
	for (size_t i = 0; i < 3; i++)
		if (b.msgs[i].len != 0 || b.msgs[i].offset != 10 + i)
			return 4;
	topic_batch_free(&b);
	return 0;
}

static void test_read_batch_empty_first(void **state)
{
	(void)state;
	uuid_t su;
	uuid_generate(su);
	struct topic *t = create(sdir, "emp", su);
	append_local(t, 'Z', 0, 10, NULL);
	char nothing[1] = "";
	struct iovec none[3] = { { nothing, 0 }, { nothing, 0 }, { nothing, 0 } };
	assert_int_equal(topic_append_local(t, none, 3), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(empty_first_child(t));
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	topic_put(t);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("topic_read_batch into a fresh batch from an empty message "
			 "(offset 4, max_msgs 1, max_bytes 0) %s %d (expected: 0, one "
			 "message of length 0; status 1 is a sanitizer report, 2-4 a wrong result)",
			 WIFEXITED(st) ? "gave child exit status" : "killed by signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_empty),
		T(test_read_every_position),
		T(test_read_spanning_segments),
		T(test_big_message),
		T(test_stat_and_reopen),
		T(test_read_batch_local),
		T(test_replicated),
		T(test_replicated_order_within_batch),
		T(test_replicated_refused),
		T(test_origin_bound),
		T(test_hwm_survive_reopen),
		T(test_hwm_checkpoint_deleted_small),
		T(test_set_owner),
		T(test_create_existing),
		T(test_mark_deleted),
		T(test_read_batch_empty_first),
		T(test_corrupt_batch_eio),
		T(test_torn_tail_batches),
		T(test_old_format_upgrade),
		T(test_damaged_entries),
		T(test_header_position_healed),
	};
	/* The same cases on logs of the old format, and its own damage cases. */
	const struct CMUnitTest records[] = {
		T(test_create_empty),
		T(test_read_every_position),
		T(test_read_spanning_segments),
		T(test_big_message),
		T(test_stat_and_reopen),
		T(test_read_batch_local),
		T(test_replicated),
		T(test_replicated_order_within_batch),
		T(test_hwm_survive_reopen),
		T(test_hwm_checkpoint_deleted_small),
		T(test_corrupt_read_eio),
		T(test_corrupt_does_not_spread),
		T(test_torn_tail_cut),
	};
#undef T
	int failed = cmocka_run_group_tests_name("batches", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("records", records, records_setup, records_teardown);
	return failed;
}
