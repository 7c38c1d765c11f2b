/*
 * test_replicator.c - unit tests of the replication lanes
 * (replication/replicator.c) against clusters kept in memory (the mem home,
 * fs/mem/memhome.h): the real replicator, hooks and control-file
 * application, no disk and no mount. Checked: a one-way replica gets
 * every message once with its origin; in multi-master each side holds both
 * sides' messages exactly once and nothing is sent back to the stream it
 * came from (echo suppression: the counter of messages sent equals what
 * was appended, and no lane meets a refusal); the saved positions advance
 * to the end of each topic; a replica sent everything again keeps each
 * message once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/config.h"
#include "fs/ctlfiles.h"
#include "fs/mem/memhome.h"
#include "fs/metafile.h"
#include "fs/namespace.h"
#include "fs/stats.h"
#include "replication/positions.h"
#include "replication/replica.h"
#include "replication/replicator.h"
#include "tests/unit/scratch.h"

static char dir[1024];
static struct sfs_config cfg;
static struct sfs_namespace ns;
static struct replicator repl;

static int setup(void **state)
{
	(void)state;
	if (scratch_make("replicator", dir, sizeof(dir), NULL) < 0)
		return -1;
	char path[1200], err[512];
	snprintf(path, sizeof(path), "%s/mount.conf", dir);
	FILE *c = fopen(path, "w");
	if (!c)
		return -1;
	/* The mem home serves sections with data =; nothing is written there. */
	fprintf(c, "[mount]\nmountpoint = /mapr\n[cluster a]\ndata = %s/a\n"
		   "[cluster b]\ndata = %s/b\n", dir, dir);
	fclose(c);
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		print_error("config_load: %s\n", err);
		return -1;
	}
	replicator_init(&repl, 64, 20);
	static const struct cluster_home *const homes[] = { &mem_home };
	if (ns_open(&ns, &cfg, homes, 1, &replication_hooks, &repl, err, sizeof(err)) < 0) {
		print_error("ns_open: %s\n", err);
		return -1;
	}
	return replicator_start(&repl, &ns) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	replicator_stop(&repl);
	ns_close(&ns);
	config_free(&cfg);
	return scratch_remove(dir, NULL);
}

/* Stream NAME of cluster CL, made if missing (a new reference). */
static struct stream *stream_of(const char *cl, const char *name)
{
	struct stream *s = ns_stream(&ns, cl, name);
	if (s)
		return s;
	assert_int_equal(ns_create_stream(&ns, ns_cluster(&ns, cl), name, 0, 0, 0755, &s), 0);
	return s;
}

/* Write TEXT to S's .replicas or .upstreams, as `echo TEXT >> file` does. */
static void ctl(struct stream *s, enum ctl_kind kind, const char *text)
{
	struct ctl_entry *e = NULL;
	char err[512];
	int n = ctl_parse(text, strlen(text), kind, "/mapr", &e, err, sizeof(err));
	if (n < 0)
		fail_msg("ctl_parse(%s): %s", text, err);
	int rc = ctlfile_apply(&ns, s, kind, e, n, false, false);
	free(e);
	if (rc < 0)
		fail_msg("ctlfile_apply(%s): %d", text, rc);
}

/* Append COUNT messages "TAG-i" to topic NAME of S. */
static void append(struct stream *s, const char *name, const char *tag, int from, int count)
{
	struct topic *t = NULL;
	assert_int_equal(stream_topic_get_or_create(s, name, 0, 0, 0644, false, &t, NULL), 0);
	for (int i = from; i < from + count; i++) {
		char b[64];
		int n = snprintf(b, sizeof(b), "%s-%d", tag, i);
		struct iovec v = { b, (size_t)n };
		assert_int_equal(topic_append_local(t, &v, 1), 0);
	}
	topic_put(t);
}

/* Messages in topic NAME of S (0 if it does not exist). */
static uint64_t count_of(struct stream *s, const char *name)
{
	struct topic *t = stream_find_topic(s, name);
	if (!t)
		return 0;
	uint64_t n = topic_end(t);
	topic_put(t);
	return n;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Wait (at most 10 s) until topic NAME of S holds N messages. */
static void wait_count(struct stream *s, const char *name, uint64_t n)
{
	for (int i = 0; i < 1000 && count_of(s, name) < n; i++)
		sleep_ms(10);
	if (count_of(s, name) != n)
		fail_msg("topic %s/%s holds %" PRIu64 " messages, expected %" PRIu64,
			 s->name, name, count_of(s, name), n);
}

/* Every message of topic NAME of S: how many have a payload starting with
 * TAG, and that each offset of each origin is there once. */
static int tagged(struct stream *s, const char *name, const char *tag)
{
	struct topic *t = stream_find_topic(s, name);
	assert_non_null(t);
	struct topic_batch b = { 0 };
	assert_int_equal(topic_read_batch(t, 0, 1 << 20, SIZE_MAX, &b), 0);
	int n = 0;
	for (size_t i = 0; i < b.n; i++) {
		if (b.msgs[i].len > strlen(tag) && !memcmp(b.msgs[i].payload, tag, strlen(tag)))
			n++;
		for (size_t k = 0; k < i; k++)
			if (!uuid_compare(b.msgs[k].origin_stream, b.msgs[i].origin_stream) &&
			    b.msgs[k].origin_offset == b.msgs[i].origin_offset)
				fail_msg("offset %zu and %zu of %s/%s are one message twice", k, i,
					 s->name, name);
	}
	topic_batch_free(&b);
	topic_put(t);
	return n;
}

/* The offset S's saved positions hold for replica KEY's topic NAME, or -1. */
static long long saved_position(struct stream *s, const char *key, const char *name)
{
	json_t *j = NULL;
	if (s->ops->positions_read(s, &j) < 0)
		return -1;
	json_t *tp = json_object_get(json_object_get(json_object_get(j, key), "topics"), name);
	long long off = tp ? meta_int(tp, "offset", -1) : -1;
	json_decref(j);
	return off;
}

/* Every replica of S is healthy: no last error (a refused batch shows). */
static void assert_healthy(struct stream *s)
{
	struct topic **topics = NULL;
	int nt = stream_topics_snapshot(s, &topics);
	assert_true(nt >= 0);
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nreplicas; i++) {
		struct replica_status st;
		memset(&st, 0, sizeof(st));
		repl_replica_status(&ns, s, s->replicas[i], topics, nt, &st);
		if (st.last_error && st.last_error[0]) {
			char e[600];
			snprintf(e, sizeof(e), "%s", st.last_error);
			pthread_mutex_unlock(&s->lock);
			fail_msg("%s's replica %s/%s: %s", s->name, s->replicas[i]->cluster,
				 s->replicas[i]->stream, e);
		}
	}
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < nt; i++)
		topic_put(topics[i]);
	free(topics);
}

/* Wait (at most 10 s) until the replication sent counter passes N. */
static void wait_sent(uint64_t n)
{
	for (int i = 0; i < 1000 && stats_get(&sfs_stats.repl_sent_msgs) < n; i++)
		sleep_ms(10);
	assert_true(stats_get(&sfs_stats.repl_sent_msgs) >= n);
}

static void test_one_way(void **state)
{
	(void)state;
	struct stream *a = stream_of("a", "one"), *b = stream_of("b", "one");
	append(a, "t", "before", 0, 50);
	ctl(b, CTL_UPSTREAMS, "/mapr/a/one\n");
	ctl(a, CTL_REPLICAS, "/mapr/b/one\n");
	wait_count(b, "t", 50);	/* the initial copy */
	append(a, "t", "after", 50, 30);
	append(a, "u", "new-topic", 0, 5);	/* a topic made later follows */
	wait_count(b, "t", 80);
	wait_count(b, "u", 5);
	assert_int_equal(tagged(b, "t", "before-"), 50);
	assert_int_equal(tagged(b, "t", "after-"), 30);
	/* the origin is a's stream, at its own offsets */
	struct topic *t = stream_find_topic(b, "t");
	struct topic_batch bt = { 0 };
	assert_int_equal(topic_read_batch(t, 0, 100, SIZE_MAX, &bt), 0);
	for (size_t i = 0; i < bt.n; i++) {
		assert_int_equal(uuid_compare(bt.msgs[i].origin_stream, a->uuid), 0);
		assert_true(bt.msgs[i].origin_offset == i);
	}
	topic_batch_free(&bt);
	topic_put(t);
	/* the saved position reaches the end of each topic */
	for (int i = 0; i < 500 && (saved_position(a, "b/one", "t") != 80 ||
				   saved_position(a, "b/one", "u") != 5); i++)
		sleep_ms(10);
	assert_int_equal(saved_position(a, "b/one", "t"), 80);
	assert_int_equal(saved_position(a, "b/one", "u"), 5);
	assert_healthy(a);
	/* Exactly once: removed and named again, the replica is sent
	 * everything again (a new entry copies from the start), and keeps
	 * each message once. */
	uint64_t sent = stats_get(&sfs_stats.repl_sent_msgs);
	ctl(a, CTL_REPLICAS, "-/mapr/b/one\n");
	ctl(a, CTL_REPLICAS, "/mapr/b/one\n");
	wait_sent(sent + 85);
	for (int i = 0; i < 500 && saved_position(a, "b/one", "t") != 80; i++)
		sleep_ms(10);
	assert_int_equal(count_of(b, "t"), 80);
	assert_int_equal(count_of(b, "u"), 5);
	assert_int_equal(tagged(b, "t", "before-"), 50);
	assert_healthy(a);
	stream_put(a);
	stream_put(b);
}

static void test_multi_master_no_echo(void **state)
{
	(void)state;
	struct stream *a = stream_of("a", "mm"), *b = stream_of("b", "mm");
	ctl(a, CTL_UPSTREAMS, "/mapr/b/mm\n");
	ctl(b, CTL_UPSTREAMS, "/mapr/a/mm\n");
	ctl(a, CTL_REPLICAS, "/mapr/b/mm\n");
	ctl(b, CTL_REPLICAS, "/mapr/a/mm\n");
	uint64_t sent0 = stats_get(&sfs_stats.repl_sent_msgs);
	/* both masters write the same topic: a first, then b, so that a holds
	 * b's messages after its own and would send them back without echo
	 * suppression (b then refuses them: a batch claiming b's own origin) */
	append(a, "t", "from-a", 0, 40);
	wait_count(b, "t", 40);
	append(b, "t", "from-b", 0, 60);
	wait_count(a, "t", 100);
	wait_count(b, "t", 100);
	/* nothing more comes: no echo makes a copy grow */
	for (int i = 0; i < 30; i++) {
		sleep_ms(10);
		assert_true(count_of(a, "t") == 100 && count_of(b, "t") == 100);
	}
	for (int side = 0; side < 2; side++) {
		struct stream *s = side ? b : a;
		assert_int_equal(tagged(s, "t", "from-a-"), 40);
		assert_int_equal(tagged(s, "t", "from-b-"), 60);
	}
	/* each message crossed once: a message is never sent back to the
	 * stream it came from */
	assert_true(stats_get(&sfs_stats.repl_sent_msgs) - sent0 == 100);
	/* and no lane met a refusal */
	for (int i = 0; i < 20; i++)
		sleep_ms(10);
	assert_healthy(a);
	assert_healthy(b);
	stream_put(a);
	stream_put(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_way),
		cmocka_unit_test(test_multi_master_no_echo),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
